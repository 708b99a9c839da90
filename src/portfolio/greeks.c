/* Options analytics: account Greeks per exposed asset and the second-order
 * risk ladder.
 *
 * Greeks are derivatives of the account's equity (spec §2: Σ net amount ×
 * price) with respect to one asset's price S, every mark on the asset moving
 * with it (mark = k·S), and to the implied vols of the options on it.  Per
 * position (q = size × units of underlying per contract):
 *  - option (Black-76, Black 1976; src/margin/black76.c): ∂V/∂S = q·δ·k,
 *    ∂²V/∂S² = q·γ·k², vega q·ν, theta q·θ, vanna q·vanna·k, volga
 *    q·volga.  The USD value of an option does not depend on the asset it
 *    settles in, so linear and coin-settled options have the same USD
 *    Greeks;
 *  - linear perp/future: ∂V/∂S = size·cs·k;
 *  - inverse perp/future settled in its underlying: V = S·size·cs·(1/entry −
 *    1/mark) = size·cs·(S/entry − 1/k), so ∂V/∂S = size·cs/entry (the coin
 *    PnL held in the coin); settled in another asset c: V = P_c·size·cs·
 *    (1/entry − 1/mark), ∂V/∂S = P_c·size·cs/(mark·S), ∂²V/∂S² =
 *    −2·P_c·size·cs/(mark·S²), and ∂V/∂P_c = the coin PnL;
 *  - a balance x of a non-stable asset: ∂/∂S = x. */
#include "pm.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(xcr_underlying_greeks *out, size_t n, size_t cap,
                      size_t a)
{
    size_t lim = n < cap ? n : cap;
    for (size_t k = 0; k < lim; k++)
        if (out[k].asset == a)
            return k;
    return cap;
}

size_t xcr__account_greeks(const xcr_market *m, const xcr__override *ov,
                           size_t acct, xcr_underlying_greeks *out,
                           size_t cap)
{
    const xcr_book *b = m->book;
    size_t n = 0;
    /* the exposed assets, in xcr_account_exposed_assets order */
#define ADD(asset_)                                                            \
    do {                                                                       \
        size_t a_ = (asset_);                                                  \
        if (!b->assets[a_].stable && slot_of(out, n, cap, a_) == cap) {      \
            if (n < cap) {                                                     \
                memset(&out[n], 0, sizeof out[n]);                             \
                out[n].asset = a_;                                             \
                out[n].price = m->price[a_] *                                  \
                               xcr__pm_ov_factor(b, ov, (uint32_t)a_);         \
            }                                                                  \
            n++;                                                               \
        }                                                                      \
    } while (0)
    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++)
        ADD(b->bal_asset[k]);
    for (uint32_t p = b->pos_off[acct]; p < b->pos_off[acct + 1]; p++) {
        ADD(b->insts[b->pos_inst[p]].und);
        ADD(b->insts[b->pos_inst[p]].settle);
    }
#undef ADD
    if (n > cap) {
        /* the caller only wants the count beyond its capacity: count the
         * distinct exposed assets exactly */
        n = xcr_account_exposed_assets(b, acct, NULL, 0);
    }
    if (cap == 0)
        return n;
    /* accumulate raw sensitivities: delta (∂E/∂S), gamma (∂²E/∂S²),
     * vega (per 1.00 vol), theta (per year), vanna, volga */
    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++) {
        size_t s = slot_of(out, n, cap, b->bal_asset[k]);
        if (s < cap)
            out[s].delta += b->bal_amt[k];
    }
    for (uint32_t p = b->pos_off[acct]; p < b->pos_off[acct + 1]; p++) {
        const uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        size_t su = slot_of(out, n, cap, in->und);
        const double fu = xcr__pm_ov_factor(b, ov, in->und);
        const double mark = m->mark[ii] * fu;
        const double s_und = m->price[in->und] * fu;
        const double k = mark / s_und;
        const double size = b->pos_size[p];
        if (in->type == XCR_OPTION) {
            if (su >= cap)
                continue;
            double t = (in->expiry - b->as_of) / XCR__SECONDS_PER_YEAR;
            xcr_greeks g;
            xcr_black76(in->is_call, mark, in->strike, t, m->iv[ii], &g);
            const double q = size * xcr__option_units(in);
            out[su].delta += q * g.delta * k;
            out[su].gamma += q * g.gamma * k * k;
            out[su].vega_usd += q * g.vega;
            out[su].theta_usd += q * g.theta;
            out[su].vanna_usd += q * g.vanna * k;
            out[su].volga_usd += q * g.volga;
        } else if (in->inverse) {
            const double cs = size * in->cs;
            if (in->settle == in->und) {
                if (su < cap)
                    out[su].delta += cs / b->pos_entry[p];
            } else {
                const double pc =
                    m->price[in->settle] *
                    xcr__pm_ov_factor(b, ov, in->settle);
                if (su < cap) {
                    out[su].delta += pc * cs / (mark * s_und);
                    out[su].gamma += -2.0 * pc * cs / (mark * s_und * s_und);
                }
                size_t sc = slot_of(out, n, cap, in->settle);
                if (sc < cap)
                    out[sc].delta += cs * (1.0 / b->pos_entry[p] - 1.0 / mark);
            }
        } else if (su < cap) {
            out[su].delta += size * in->cs * k;
        }
    }
    size_t lim = n < cap ? n : cap;
    for (size_t i = 0; i < lim; i++) {
        xcr_underlying_greeks *g = &out[i];
        const double S = g->price;
        const double d2 = g->gamma, vega = g->vega_usd, theta = g->theta_usd,
                     vanna = g->vanna_usd, volga = g->volga_usd;
        g->delta_usd = g->delta * S;
        g->gamma = 0.01 * S * d2;
        g->gamma_usd = g->gamma * S;
        g->vega_usd = 0.01 * vega;
        g->vega = g->vega_usd / S;
        g->theta_usd = theta / 365.0;
        g->vanna_usd = 0.01 * vanna * S;
        g->volga_usd = 1e-4 * volga;
    }
    return n;
}

xcr_status xcr_account_greeks(const xcr_market *m, size_t account,
                              xcr_underlying_greeks *out, size_t cap,
                              size_t *n, xcr_error *err)
{
    if (!m || !n || (cap && !out))
        return xcr__fail(err, XCR_EINVAL, "market, count and output are "
                                          "required");
    if (account >= m->book->n_accts)
        return xcr__fail(err, XCR_ENOTFOUND, "account index %zu out of range",
                         account);
    *n = xcr__account_greeks(m, NULL, account, out, cap);
    return XCR_OK;
}

static const double ladder_moves[XCR_LADDER_DEFAULT_COUNT] = {
    -0.10, -0.05, -0.01, 0.0, 0.01, 0.05, 0.10};

const double *xcr_ladder_default_moves(void) { return ladder_moves; }

void xcr__ladder_ws(const xcr_market *m, size_t account, xcr__ws *ws,
                    const double *moves, size_t n, xcr_ladder_point *out,
                    xcr_underlying_greeks *g)
{
    const xcr_book *b = m->book;
    for (size_t i = 0; i < n; i++) {
        xcr__override ov = {XCR__OV_UNIFORM, 0, 1.0 + moves[i]};
        const xcr__override *po = moves[i] == 0 ? NULL : &ov;
        xcr_account_result r;
        xcr__eval_account(m, po, account, ws, &r, NULL, NULL);
        size_t ng = xcr__account_greeks(m, po, account, g, b->n_assets);
        xcr_ladder_point *o = &out[i];
        o->move = moves[i];
        o->delta_usd = o->gamma_usd = 0;
        for (size_t k = 0; k < ng && k < b->n_assets; k++) {
            o->delta_usd += g[k].delta_usd;
            o->gamma_usd += g[k].gamma_usd;
        }
        o->equity = r.equity;
        o->collateral = r.collateral;
        o->initial_margin = r.initial_margin;
        o->maintenance_margin = r.maintenance_margin;
        o->buffer = r.collateral - r.maintenance_margin;
        o->status = r.status;
    }
}

xcr_status xcr_risk_ladder(const xcr_market *m, size_t account,
                           const double *moves, size_t n,
                           xcr_ladder_point *out, xcr_error *err)
{
    if (!m || (n && (!moves || !out)))
        return xcr__fail(err, XCR_EINVAL, "market, moves and output are "
                                          "required");
    const xcr_book *b = m->book;
    if (account >= b->n_accts)
        return xcr__fail(err, XCR_ENOTFOUND, "account index %zu out of range",
                         account);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(moves[i]) || !(moves[i] > -1) || moves[i] > 9)
            return xcr__fail(err, XCR_EINVAL,
                             "ladder move %g must be in (-1, 9]", moves[i]);
    xcr__ws ws;
    if (xcr__ws_init(&ws, b) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr_underlying_greeks *g = malloc((b->n_assets + 1) * sizeof *g);
    if (!g) {
        xcr__ws_free(&ws, b);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    xcr__ladder_ws(m, account, &ws, moves, n, out, g);
    free(g);
    xcr__ws_free(&ws, b);
    return XCR_OK;
}
