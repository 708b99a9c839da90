/* Internal portfolio-margin model: parameters (settings.portfolio, spec
 * §1.2), their book-level precomputation, the vectorised scenario kernel
 * and the per-account evaluation.  See docs/portfolio.md. */
#ifndef XCR_PM_H
#define XCR_PM_H

#include "../margin/margin.h"

#define XCR__PM_MAX_BUCKETS 32
#define XCR__PM_MAX_EXT 16
#define XCR__PM_NVOL 3
#define XCR__PM_MAX_STD ((2 * XCR__PM_MAX_BUCKETS + 1) * XCR__PM_NVOL)
#define XCR__PM_MAX_VEC (XCR__PM_MAX_STD + XCR__PM_MAX_EXT)
#define XCR__SPAN_N 16

/* Per underlying asset (settings.portfolio.underlyings.SYM). */
typedef struct xcr__pm_und {
    /* risk matrix (Deribit names) */
    double price_range, vol_up, vol_down, min_vol_up;
    double short_power, long_power, ext_factor;
    double delta_threshold, max_delta_shock, m_inc;
    /* SPAN */
    double psr, vsr, extreme_mult, extreme_cover, intra_charge, som;
} xcr__pm_und;

/* Per settle currency (settings.portfolio.currencies.SYM). */
typedef struct xcr__pm_cur {
    double pnl_offset, max_offsetable_pnl; /* max: USD, INFINITY = none   */
    double annualised_move_risk, min_annualised_move;
    double extended_dampener;              /* USD                          */
} xcr__pm_cur;

/* Per instrument, precomputed at finalize. */
typedef struct xcr__pm_inst {
    double t_years;           /* time to expiry (ACT/365), ≥ 0; 0 for perps */
    double sqrt_t;
    double vmul_up, vmul_dn;  /* risk-matrix vol multipliers (§10.2)        */
    double roll_rate;         /* max(amr·T, min_move) of the settle currency */
    int32_t span_array;       /* index into span_arrays, or -1               */
    uint32_t tier;            /* SPAN intra-commodity tier (expiry rank)     */
} xcr__pm_inst;

typedef struct xcr__pm_extra {
    uint32_t acct, asset;
    double im;                /* currency units                              */
} xcr__pm_extra;

typedef struct xcr__pm_inter {
    uint32_t und[2];
    double ratio[2], credit;
} xcr__pm_inter;

enum { XCR__PM_RISK_MATRIX = 0, XCR__PM_SPAN = 1 };

struct xcr__pm_book {
    int model;
    double mm_factor;
    int buckets;              /* B: 2B+1 price buckets                       */
    int n_std, n_ext, n_vec;  /* (2B+1)·3, extended, their sum               */
    int blend;                /* cross-currency: 0 sum, 1 blend              */
    double decorrelation;
    double span_im_factor;
    double ext_moves[XCR__PM_MAX_EXT];
    xcr__pm_und *und;         /* per asset                                   */
    xcr__pm_cur *cur;         /* per asset                                   */
    /* Per asset and scenario (n_vec each): price multiplier 1+m, its log
     * and the vol scenario (0 up, 1 unchanged, 2 down). */
    double *sc_mult, *sc_lnmult;
    uint8_t *sc_vol;
    /* Per asset, extended entries: F·R/|m|, the coin re-expression factor
     * (1+m)/(1+sign(m)·R), the dampener factor max(|m|/R,1)−1 and the
     * edge multiplier 1+sign(m)·R.  n_ext each. */
    double *ext_frac, *ext_coin, *ext_damp, *ext_edge;
    /* SPAN: per asset, 16 scenarios: multiplier, its log, vol shift sign,
     * weight. */
    double *sp_mult, *sp_lnmult, *sp_volsign, *sp_weight;
    xcr__pm_inst *inst;       /* per instrument                              */
    double *span_arrays;      /* supplied per-contract arrays, 16 each       */
    size_t n_span_arrays;
    xcr__pm_extra *extra;     /* sorted by (acct, asset)                     */
    size_t n_extra;
    xcr__pm_inter *inter;
    size_t n_inter;
};

/* xcr__pm_book_init / xcr__pm_book_free are declared in book.h: finalize
 * builds the model when the book has portfolio accounts or the setting. */

/* Price factor of an asset under a solver override. */
static inline double xcr__pm_ov_factor(const xcr_book *b,
                                       const xcr__override *ov, uint32_t a)
{
    if (!ov || ov->kind == XCR__OV_NONE)
        return 1.0;
    if (ov->kind == XCR__OV_ASSET)
        return ov->asset == a ? ov->factor : 1.0;
    return b->assets[a].stable ? 1.0 : ov->factor;
}

/* MARK: kernel (pm_kernel.c) ----------------------------------------------- */

/* Standard normal CDF, vectorisable (no branches, no libm calls), absolute
 * error < 4e-16. */
double xcr__pm_ncdf(double x);

/* Black-76 value per unit of underlying for n scenarios: forward
 * F0·mult[s] (lnmult[s] = log mult[s]), vol sig[s], time sqrt_t² (sqrt_t =
 * 0: intrinsic).  The loop over s is vectorised. */
void xcr__pm_b76_batch(int is_call, double F0, double K, double sqrt_t,
                       const double *mult, const double *lnmult,
                       const double *sig, size_t n, double *out);

/* Vol multipliers of the DTE-dependent shock (margin-models.md §10.2). */
void xcr__pm_vol_mult(const xcr__pm_und *u, double dte_days, double *up,
                      double *down);

/* MARK: evaluation (pm_eval.c) --------------------------------------------- */

/* xcr__pm_margin (the fast path used by the evaluator) is declared in
 * margin.h. */

/* Allocating detail of one account (xcr_portfolio_detail with override). */
xcr_status xcr__pm_detail(const xcr_market *m, const xcr__override *ov,
                          size_t acct, xcr_pm_detail **out);

/* SPAN (span.c): the account's SPAN requirement in USD; `d` (may be NULL)
 * receives commodities and per-position arrays (already allocated). */
void xcr__span_margin(const xcr_market *m, const xcr__override *ov,
                      size_t acct, double *im_usd, double *mm_usd,
                      xcr_pm_detail *d);

/* Greeks (greeks.c), honouring an override. */
size_t xcr__account_greeks(const xcr_market *m, const xcr__override *ov,
                           size_t acct, xcr_underlying_greeks *out,
                           size_t cap);

/* The ladder with a caller's workspace and greeks scratch (n_assets
 * entries). */
void xcr__ladder_ws(const xcr_market *m, size_t account, xcr__ws *ws,
                    const double *moves, size_t n, xcr_ladder_point *out,
                    xcr_underlying_greeks *g);

#endif
