/* Liquidation prices and shocks, solved numerically on the whole account.
 *
 * Users are burned by liquidation prices that freeze the rest of the account
 * (users-and-pain-points.md §1; margin-models.md §6.1), so instead of a closed
 * form we re-evaluate the full account at trial prices and find where the
 * evaluator's surplus s (s < 0 ⇔ liquidatable or bankrupt) changes sign.
 *
 * Bracketing.  Without long options, rising collateral tiers or falling
 * bracket rates, s is concave in every price factor f (collateral is a
 * concave function of each asset's value, which is affine in f; bracket MM
 * is convex in notional, which is affine in f).  Then {s ≥ 0} is an interval
 * and one look at the far end of the search range decides whether a root
 * exists.  Otherwise the range is scanned on a grid that is finest near the
 * current price, and the first sign change found is refined.
 *
 * Refinement.  Illinois regula falsi with a bisection fallback, to a bracket
 * of ~1e-14 relative width.  The returned point is on the liquidatable side:
 * at the returned price the account is liquidatable, and a hair closer to
 * the current price it is not. */
#include "margin.h"

#include <string.h>

#define SCAN_STEPS 256

typedef struct probe {
    const xcr_market *m;
    size_t acct;
    xcr__ws *ws;
    xcr__override ov;
} probe;

static double surplus_at(probe *p, double f)
{
    xcr_account_result r;
    double s;
    p->ov.factor = f;
    xcr__eval_account(p->m, &p->ov, p->acct, p->ws, &r, NULL, &s);
    return s;
}

/* Given ok (s ≥ 0) at f_ok and liquidatable (s < 0) at f_bad, narrow the
 * bracket; returns the liquidatable-side endpoint. */
static double refine(probe *p, double f_ok, double s_ok, double f_bad,
                     double s_bad)
{
    int side = 0;
    for (int it = 0; it < 200; it++) {
        double w = fabs(f_bad - f_ok);
        if (w <= 1e-14 * fmax(fabs(f_ok), fabs(f_bad)))
            break;
        double f;
        /* Illinois step, when it lands strictly inside; else bisect. */
        double denom = s_ok - s_bad;
        f = denom > 0 && isfinite(denom) ? f_ok + (f_bad - f_ok) * s_ok / denom
                                         : 0.5 * (f_ok + f_bad);
        if (!(f > fmin(f_ok, f_bad) && f < fmax(f_ok, f_bad)) ||
            it % 8 == 7)
            f = 0.5 * (f_ok + f_bad);
        double s = surplus_at(p, f);
        if (s < 0) {
            f_bad = f;
            s_bad = s;
            if (side == -1)
                s_ok *= 0.5;
            side = -1;
        } else {
            f_ok = f;
            s_ok = s;
            if (side == 1)
                s_bad *= 0.5;
            side = 1;
        }
    }
    return f_bad;
}

/* Search from f = 1 towards `f_end` for the nearest f where s < 0.  Returns
 * NAN if none. */
static double search(probe *p, double s0, double f_end, bool concave)
{
    if (concave) {
        double s_end = surplus_at(p, f_end);
        if (!(s_end < 0))
            return NAN;
        return refine(p, 1.0, s0, f_end, s_end);
    }
    double f_prev = 1.0, s_prev = s0;
    for (int k = 1; k <= SCAN_STEPS; k++) {
        double u = (double)k / SCAN_STEPS;
        double f = 1.0 + (f_end - 1.0) * u * u; /* finest near f = 1 */
        double s = surplus_at(p, f);
        if (s < 0)
            return refine(p, f_prev, s_prev, f, s);
        f_prev = f;
        s_prev = s;
    }
    return NAN;
}

static xcr_status setup(const xcr_market *m, size_t account, xcr__ws *ws,
                        xcr_error *err)
{
    if (!m)
        return xcr__fail(err, XCR_EINVAL, "market is NULL");
    if (account >= m->book->n_accts)
        return xcr__fail(err, XCR_ENOTFOUND, "account index %zu out of range",
                         account);
    if (xcr__ws_init(ws, m->book) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    return XCR_OK;
}

/* Lowest factor probed downwards: the spec's range is (0, price]; 1e-9 of
 * the price stands for "0+". */
#define F_MIN_DOWN 1e-9

xcr_status xcr__liq_price_ws(const xcr_market *m, size_t account,
                             size_t asset, xcr__ws *ws, xcr_liq_price *out)
{
    const xcr_book *b = m->book;
    probe p = {m, account, ws, {XCR__OV_ASSET, (uint32_t)asset, 1.0}};
    bool concave = !(b->acct_flags[account] & XCR__ACCT_NONCONCAVE);
    double s0 = surplus_at(&p, 1.0);
    double px = m->price[asset];
    out->asset = asset;
    if (s0 < 0) {
        out->down = out->up = px;
        return XCR_OK;
    }
    double fd = search(&p, s0, F_MIN_DOWN, concave);
    double fu = search(&p, s0, 10.0, concave);
    out->down = isnan(fd) ? NAN : px * fd;
    out->up = isnan(fu) ? NAN : px * fu;
    return XCR_OK;
}

xcr_status xcr__liq_shock_ws(const xcr_market *m, size_t account,
                             xcr__ws *ws, double *down, double *up)
{
    const xcr_book *b = m->book;
    probe p = {m, account, ws, {XCR__OV_UNIFORM, 0, 1.0}};
    bool concave = !(b->acct_flags[account] & XCR__ACCT_NONCONCAVE);
    double s0 = surplus_at(&p, 1.0);
    if (s0 < 0) {
        *down = *up = 0;
        return XCR_OK;
    }
    /* spec §2: moves searched in [-0.99, +9] */
    double fd = search(&p, s0, 0.01, concave);
    double fu = search(&p, s0, 10.0, concave);
    *down = isnan(fd) ? NAN : fd - 1.0;
    *up = isnan(fu) ? NAN : fu - 1.0;
    return XCR_OK;
}

xcr_status xcr_liquidation_price(const xcr_market *m, size_t account,
                                 size_t asset, xcr_liq_price *out,
                                 xcr_error *err)
{
    if (!out)
        return xcr__fail(err, XCR_EINVAL, "output is NULL");
    xcr__ws ws;
    xcr_status s = setup(m, account, &ws, err);
    if (s != XCR_OK)
        return s;
    if (asset >= m->book->n_assets) {
        xcr__ws_free(&ws, m->book);
        return xcr__fail(err, XCR_ENOTFOUND, "asset index %zu out of range",
                         asset);
    }
    s = xcr__liq_price_ws(m, account, asset, &ws, out);
    xcr__ws_free(&ws, m->book);
    return s;
}

xcr_status xcr_liquidation_shock(const xcr_market *m, size_t account,
                                 double *down, double *up, xcr_error *err)
{
    if (!down || !up)
        return xcr__fail(err, XCR_EINVAL, "output is NULL");
    xcr__ws ws;
    xcr_status s = setup(m, account, &ws, err);
    if (s != XCR_OK)
        return s;
    s = xcr__liq_shock_ws(m, account, &ws, down, up);
    xcr__ws_free(&ws, m->book);
    return s;
}

size_t xcr_account_exposed_assets(const xcr_book *b, size_t account,
                                  size_t *out, size_t cap)
{
    if (!b || !b->finalized || account >= b->n_accts)
        return 0;
    size_t n = 0;
    /* Small per-account lists: a linear membership check is cheapest. */
#define XCR__ADD(a)                                                            \
    do {                                                                       \
        size_t a_ = (a);                                                       \
        if (b->assets[a_].stable)                                              \
            break;                                                             \
        bool dup_ = false;                                                     \
        for (size_t j_ = 0; j_ < n && j_ < cap; j_++)                          \
            if (out[j_] == a_)                                                 \
                dup_ = true;                                                   \
        if (!dup_) {                                                           \
            if (n < cap)                                                       \
                out[n] = a_;                                                   \
            n++;                                                               \
        }                                                                      \
    } while (0)
    for (uint32_t k = b->bal_off[account]; k < b->bal_off[account + 1]; k++)
        XCR__ADD(b->bal_asset[k]);
    for (uint32_t q = b->pos_off[account]; q < b->pos_off[account + 1]; q++) {
        const xcr__inst *in = &b->insts[b->pos_inst[q]];
        XCR__ADD(in->und);
        XCR__ADD(in->settle);
    }
#undef XCR__ADD
    return n;
}
