/* The per-position and per-asset arithmetic of the margin evaluator (spec
 * §2), as inline functions usable from C (src/margin/eval.c) and from CUDA
 * (src/cuda/stress_kernels.cu).  There is one definition of margin: the GPU
 * kernels call exactly these functions, in the same order of operations as
 * eval.c, so both back ends produce the same doubles (the CUDA sources are
 * compiled with -fmad=false, so no multiply-add is contracted on either
 * side, and + − × ÷ are correctly rounded IEEE operations on both).
 *
 * Formulas (spec §1–§2; margin-models.md):
 *  - tiered collateral: progressive slices, tiered(v) = base + (v − lo)·w in
 *    the slice [lo, hi) holding v (margin-models.md §2.1);
 *  - bracket margin: MM = N·mmr − cum_mm, IM = N·imr − cum_im (Binance's
 *    maintenance-amount recursion, margin-models.md §3.1);
 *  - uPnL: linear size·cs·(mark − entry) USD; inverse (coin-margined)
 *    size·cs·(1/entry − 1/mark) coins of the settlement asset; options
 *    size·value-per-contract (Black-76 at the mark, src/margin/black76.c);
 *  - notional: linear |size|·cs·mark, inverse |size|·cs (USD face). */
#ifndef XCR_MARGIN_EVAL_MATH_H
#define XCR_MARGIN_EVAL_MATH_H

#include "../book/book.h"

#if defined(__CUDACC__)
#define XCR_HD __host__ __device__
#else
#define XCR_HD
#endif

/* Tiered collateral of a positive USD value over the asset's n >= 1 slices
 * (progressive: each slice counts at its own weight). */
XCR_HD static inline double xcr__em_tiered(const xcr__tier *t, uint32_t n,
                                           double v)
{
    for (uint32_t k = 0; k < n; k++)
        if (v < t[k].hi)
            return t[k].base + (v - t[k].lo) * t[k].weight;
    /* above the last finite cap: that slice counts at 0 */
    return t[n - 1].base + (t[n - 1].hi - t[n - 1].lo) * t[n - 1].weight;
}

/* Bracket of a notional among n >= 1 brackets; the last extends beyond its
 * cap. */
XCR_HD static inline uint32_t xcr__em_bracket(const xcr__mtier *t, uint32_t n,
                                              double notional)
{
    uint32_t k = 0;
    while (k + 1 < n && notional >= t[k].hi)
        k++;
    return k;
}

/* Maintenance and initial margin of a notional in bracket t. */
XCR_HD static inline void xcr__em_bracket_margin(const xcr__mtier *t,
                                                 double notional, double *im,
                                                 double *mm)
{
    *mm = notional * t->mmr - t->cum_mm;
    *im = notional * t->imr - t->cum_im;
}

/* Unrealised PnL of a position in USD; *contrib receives the amount of the
 * settlement asset it adds to the account (sp = settlement asset price).
 * `uv` is the option value per contract (options only). */
XCR_HD static inline double xcr__em_upnl(bool option, bool inverse,
                                         double size, double cs, double entry,
                                         double mark, double uv, double sp,
                                         double *contrib)
{
    double upnl_usd;
    if (option) {
        upnl_usd = size * uv;
        *contrib = upnl_usd / sp;
    } else if (inverse) {
        /* coin-margined: size·cs·(1/entry − 1/mark) coins (spec §1) */
        *contrib = size * cs * (1.0 / entry - 1.0 / mark);
        upnl_usd = *contrib * sp;
    } else {
        upnl_usd = size * cs * (mark - entry);
        *contrib = upnl_usd / sp;
    }
    return upnl_usd;
}

/* Notional: linear |size|·cs·mark, inverse |size|·cs (USD face). */
XCR_HD static inline double xcr__em_notional(bool inverse, double size,
                                             double cs, double mark)
{
    return inverse ? fabs(size) * cs : fabs(size) * cs * mark;
}

/* Status from equity, collateral and the two requirements. */
XCR_HD static inline xcr_acct_status xcr__em_classify(double equity,
                                                      double coll, double mm,
                                                      double im)
{
    if (equity < 0)
        return XCR_BANKRUPT;
    if (coll < mm)
        return XCR_LIQUIDATABLE;
    if (coll < im)
        return XCR_MARGIN_CALL;
    return XCR_HEALTHY;
}

/* An isolated position with margin pm = isolated margin + uPnL. */
XCR_HD static inline xcr_acct_status xcr__em_iso_status(double pm, double mm,
                                                        double im)
{
    return pm < 0 ? XCR_BANKRUPT : xcr__em_classify(0, pm, mm, im);
}

/* One asset of a cross (or portfolio) account worth v USD (net amount ×
 * price): collateral by tiers for v > 0; a liability weighted by
 * liability_weight plus the borrow margins for v < 0. */
XCR_HD static inline void xcr__em_cross_asset(double v, const xcr__tier *t,
                                              uint32_t nt, double lw,
                                              double borrow_mmr,
                                              double borrow_imr, double *coll,
                                              double *mm, double *im)
{
    if (v > 0) {
        *coll += xcr__em_tiered(t, nt, v);
    } else if (v < 0) {
        *coll += v * lw;
        *mm -= v * borrow_mmr;
        *im -= v * borrow_imr;
    }
}

/* One asset of a lending account worth v USD (net amount × price): a
 * positive value is collateral, counted at the liquidation threshold `lt`
 * and at the loan-to-value `ltv` of the asset (or of the account's e-mode
 * category, chosen by the caller); a negative one is debt (Aave,
 * margin-models.md §14.2). */
XCR_HD static inline void xcr__em_lending_asset(double v, double lt,
                                                double ltv, double *c_lt,
                                                double *c_ltv, double *debt)
{
    if (v > 0) {
        *c_lt += v * lt;
        *c_ltv += v * ltv;
    } else {
        *debt -= v;
    }
}

/* The initial requirement of a lending account: the debt scaled by
 * Σ C·LT / Σ C·LTV, so that it is met exactly when the borrowing capacity
 * Σ C·LTV − D is not negative; +inf with debt and no borrowing power. */
XCR_HD static inline double xcr__em_lending_im(double c_lt, double c_ltv,
                                               double debt)
{
    if (debt > 0 && c_ltv == 0)
        return INFINITY;
    return debt > 0 ? debt * (c_lt / c_ltv) : 0;
}

/* Lending (Aave) status: margin_call is decided on the borrowing capacity
 * Σ C·LTV − D itself so that rounding in the IM ratio can never disagree
 * with it (margin-models.md §14.2). */
XCR_HD static inline xcr_acct_status xcr__em_lending_status(double equity,
                                                            double c_lt,
                                                            double c_ltv,
                                                            double debt)
{
    if (equity < 0)
        return XCR_BANKRUPT;
    if (c_lt < debt)
        return XCR_LIQUIDATABLE;
    if (c_ltv - debt < 0)
        return XCR_MARGIN_CALL;
    return XCR_HEALTHY;
}

/* An account's result: health is collateral over maintenance (+inf
 * without a requirement); hf and bc are the lending health factor and
 * borrowing capacity (NaN in the other modes). */
XCR_HD static inline void xcr__em_put_result(xcr_account_result *out,
                                             double equity, double coll,
                                             double im, double mm, double hf,
                                             double bc, xcr_acct_status st)
{
    out->health_factor = hf;
    out->borrow_capacity = bc;
    out->equity = equity;
    out->collateral = coll;
    out->initial_margin = im;
    out->maintenance_margin = mm;
    out->health = mm > 0 ? coll / mm : INFINITY;
    out->status = st;
}

#endif /* XCR_MARGIN_EVAL_MATH_H */
