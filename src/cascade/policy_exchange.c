/* Exchange liquidation policy (cross, portfolio and isolated accounts).
 *
 * Sources (margin-models.md §7 and §9, the venues' liquidation pages it
 * cites: Binance "liquidation protocols", Bybit and OKX partial
 * liquidation, BitMEX full takeover): the engine first closes the least
 * amount that brings the account back above its maintenance (or initial)
 * margin; when even closing everything cannot, it takes the account over
 * at the bankruptcy price, so the account ends at zero and whatever equity
 * was left goes to the insurance fund; negative equity goes through the
 * waterfall (fund → ADL → socialised, run.c).  A liquidation fee
 * (`penalty` × notional closed, Binance's "liquidation clearance fee") is
 * paid to the insurance fund.
 *
 * "Closing a fraction f" (xcr's uniform rule, docs/cascade.md): every
 * position's size is cut by f at the mark (its PnL realised in the settle
 * asset) and f of every net holding other than the settlement asset is sold
 * (or, for a borrow, bought back) at the round's price, so the account's
 * risk shrinks by f everywhere.  f is the smallest value with
 * collateral ≥ requirement × (1 + liq_buffer) found by the Illinois (regula
 * falsi) method on the one margin evaluator; the bracket end with a
 * non-negative surplus is kept, so the account is never left liquidatable
 * by rounding.
 *
 * Why a buffer and a minimum size (xcr's modelling choice, docs/cascade.md;
 * venues do the same: Drift liquidates until collateral ≥ requirement + 2 %
 * of the liability, margin-models.md §18; dYdX v4 has a minimum notional
 * per liquidation, §19; Drift closes 100 % when the shortage is < $50, §18;
 * Maker liquidates fully rather than leave dust, §16): aiming exactly at
 * the requirement leaves a surplus of ~0, so the next round's price impact
 * makes the account liquidatable again by a hair, and on adversarial books
 * the same accounts were liquidated by ~1e-4 of their size every round
 * without reaching a fixed point.  With the buffer the account ends with a
 * surplus of liq_buffer × the target margin, which the next round's impact
 * must eat first; a partial that would trade less than min_liq_usd (USD of
 * notional closed + value sold) closes the whole account instead (f = 1,
 * the conservative side: the risk is gone, the account keeps what is left
 * after the fee, unlike a takeover).  When even f = 1 cannot reach the
 * buffered target (but can reach the bare one) the account is also closed
 * whole.  liq_buffer 0 and min_liq_usd 0 give the old policy bit for bit.
 * Isolated accounts: each liquidatable position is taken over on its own
 * (its isolated margin plus PnL goes to the fund, or its deficit to the
 * waterfall); the balances are left alone. */
#include "cascade.h"

#include <math.h>

typedef struct frac_ctx {
    xcr_cascade *c;
    xcr__liq_ctx *x;
    size_t acct;
    uint32_t kcash;   /* the account's cash slot                            */
    double contrib_cash; /* Σ contributions settled in cash (cash units)    */
    double notional;  /* Σ position notional (USD)                          */
} frac_ctx;

/* Set the account to "a fraction f closed" from its saved state; returns
 * the penalty charged; *gain receives the concentration haircut kept by the
 * liquidator and *vol the USD traded. */
static double apply_fraction(const frac_ctx *fc, double f, double pen_rate,
                             double *gain, double *vol)
{
    xcr_cascade *c = fc->c;
    xcr__liq_ctx *x = fc->x;
    const xcr_book *b = c->book;
    size_t acct = fc->acct;
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    uint32_t p0 = b->pos_off[acct], p1 = b->pos_off[acct + 1];
    double keep = 1 - f;
    for (uint32_t p = p0; p < p1; p++)
        c->pos_size[p] = f == 1 ? 0 : keep * x->save_size[p - p0];
    double usd = 0, g = 0, v = f * fc->notional, base = fc->notional;
    for (uint32_t k = b0; k < b1; k++) {
        uint32_t a = c->bal_asset[k];
        if (k == fc->kcash)
            continue;
        double n = x->net[k - b0], px = c->price[a];
        c->bal_amt[k] = f == 1 ? 0 : keep * x->save_bal[k - b0];
        double units = f * n;
        double val = units > 0 ? xcr__sale_value(c, a, units) : units * px;
        g += units * px - val;
        usd += val;
        v += fabs(units) * px;
        base += fabs(n) * px;
    }
    double pen = pen_rate * f * base;
    c->bal_amt[fc->kcash] = x->save_bal[fc->kcash - b0] +
                            f * fc->contrib_cash +
                            (usd - pen) / c->price[c->cash];
    *gain = g;
    *vol = v;
    return pen;
}

/* Collateral over the partial target: the maintenance (or initial) margin
 * times 1 + buffer (buffer 0: exactly the requirement, x × 1 == x). */
static double target_surplus(const xcr_cascade *c,
                             const xcr_account_result *r, double buffer)
{
    double req = c->o.target == XCR_TARGET_INITIAL ? r->initial_margin
                                                   : r->maintenance_margin;
    return r->collateral - req * (1 + buffer);
}

static void commit_flows(xcr_cascade *c, const frac_ctx *fc, double f)
{
    xcr__liq_ctx *x = fc->x;
    const xcr_book *b = c->book;
    uint32_t b0 = c->bal_off[fc->acct], b1 = c->bal_off[fc->acct + 1];
    uint32_t p0 = b->pos_off[fc->acct], p1 = b->pos_off[fc->acct + 1];
    for (uint32_t p = p0; p < p1; p++) {
        c->pos_flow[p] = f * x->flow[p - p0];
        c->pos_closed[p] = f * x->save_size[p - p0];
    }
    for (uint32_t k = b0; k < b1; k++)
        c->bal_flow[k] = k == fc->kcash ? 0 : f * x->net[k - b0];
}

/* Close each liquidatable isolated position (all of them when `all`):
 * its margin and PnL leave the position; what is left goes to the fund, a
 * deficit to the waterfall. */
static void isolated_positions(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                               bool all, uint32_t kcash, xcr__liq_out *out)
{
    const xcr_book *b = c->book;
    uint32_t p0 = b->pos_off[acct], p1 = b->pos_off[acct + 1];
    for (uint32_t p = p0; p < p1; p++) {
        const xcr_position_result *pr = &x->pos[p - p0];
        if (x->save_size[p - p0] == 0 ||
            (!all && pr->status < XCR_LIQUIDATABLE))
            continue;
        double pm = x->save_iso[p - p0] + pr->upnl;
        c->pos_size[p] = 0;
        c->pos_iso[p] = 0;
        c->pos_flow[p] = x->flow[p - p0];
        c->pos_closed[p] = x->save_size[p - p0];
        out->volume_usd += pr->notional;
        if (pm >= 0) {
            out->to_fund += pm;
        } else {
            /* the deficit sits in the cash balance until the waterfall
             * covers it */
            c->bal_amt[kcash] += pm / c->price[c->cash];
            out->shortfall -= pm;
        }
    }
}

static void exchange_liquidate(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                               const xcr_account_result *r,
                               xcr__liq_out *out)
{
    const xcr_book *b = c->book;
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    uint32_t p0 = b->pos_off[acct], p1 = b->pos_off[acct + 1];
    frac_ctx fc = {c, x, acct, b0, 0, 0};
    for (uint32_t k = b0; k < b1; k++)
        if (c->bal_asset[k] == c->cash)
            fc.kcash = k;
    xcr__acct_save(c, x, acct);
    xcr__acct_nets(c, x, acct);
    out->eq_before = r->equity;
    out->health_before = r->health;
    xcr_account_result rr;
    bool isolated = b->acct_mode[acct] == XCR_MODE_ISOLATED;

    if (isolated) {
        xcr__acct_eval(c, x, acct, &rr, x->pos);
        bool any = false;
        for (uint32_t p = p0; p < p1; p++)
            any = any || (x->save_size[p - p0] != 0 &&
                          x->pos[p - p0].status >= XCR_LIQUIDATABLE);
        if (any) {
            isolated_positions(c, x, acct, false, fc.kcash, out);
            out->action = XCR_LIQ_ISOLATED;
            out->fraction = NAN;
            out->bankrupt = out->shortfall > 0;
            xcr__acct_eval(c, x, acct, &rr, NULL);
            out->eq_after = rr.equity;
            out->done = 1;
            return;
        }
        if (!(r->equity < 0))
            return; /* nothing this policy can act on */
        /* bankrupt through its balances: take everything over */
        isolated_positions(c, x, acct, true, fc.kcash, out);
        double gain = 0, usd = 0;
        for (uint32_t k = b0; k < b1; k++) {
            uint32_t a = c->bal_asset[k];
            double units = x->save_bal[k - b0];
            if (k == fc.kcash || units == 0)
                continue;
            double val =
                units > 0 ? xcr__sale_value(c, a, units) : units * c->price[a];
            gain += units * c->price[a] - val;
            usd += val;
            out->volume_usd += fabs(units) * c->price[a];
            c->bal_flow[k] = units;
            c->bal_amt[k] = 0;
        }
        c->bal_amt[fc.kcash] += usd / c->price[c->cash];
        /* what is left after the deficits already counted */
        double left = c->bal_amt[fc.kcash] * c->price[c->cash] +
                      out->shortfall;
        if (left >= 0) {
            out->to_fund += left;
            c->bal_amt[fc.kcash] = -out->shortfall / c->price[c->cash];
        } else {
            out->shortfall -= left;
        }
        out->liq_gain = gain;
        out->action = XCR_LIQ_TAKEOVER;
        out->fraction = 1;
        out->bankrupt = out->shortfall > 0;
        xcr__acct_eval(c, x, acct, &rr, NULL);
        out->eq_after = rr.equity;
        out->done = 1;
        return;
    }

    for (uint32_t p = p0; p < p1; p++) {
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        double size = x->save_size[p - p0];
        if (in->settle == c->cash)
            fc.contrib_cash += x->contrib[p - p0];
        if (in->type == XCR_OPTION && size > 0)
            continue; /* long options are sold at their value, no fee */
        fc.notional += in->inverse ? fabs(size) * in->cs
                                   : fabs(size) * in->cs *
                                         c->m->mark[b->pos_inst[p]];
    }
    double gain = 0, vol = 0, pen = 0, f = 1;
    bool takeover = r->equity < 0;
    if (!takeover) {
        pen = apply_fraction(&fc, 1, c->o.penalty, &gain, &vol);
        xcr__acct_eval(c, x, acct, &rr, NULL);
        /* even closing everything leaves the account below its bare
         * requirement: take it over */
        takeover = !(target_surplus(c, &rr, 0) >= 0);
    }
    if (!takeover) {
        double buf = c->o.liq_buffer;
        double s_hi = target_surplus(c, &rr, buf);
        if (s_hi >= 0) {
            /* Illinois on [0, 1]: the smallest f with surplus ≥ 0 */
            double lo = 0, hi = 1, s_lo = target_surplus(c, r, buf);
            int side = 0;
            if (!(s_lo < 0))
                s_lo = -1e-300; /* liquidatable by status, surplus ~0 */
            for (int it = 0; it < 100 && hi - lo > 1e-15; it++) {
                double t = hi - s_hi * (hi - lo) / (s_hi - s_lo);
                if (!(t > lo && t < hi))
                    t = 0.5 * (lo + hi);
                apply_fraction(&fc, t, c->o.penalty, &gain, &vol);
                xcr__acct_eval(c, x, acct, &rr, NULL);
                double s = target_surplus(c, &rr, buf);
                if (s >= 0) {
                    hi = t;
                    s_hi = s;
                    if (side == 1)
                        s_lo *= 0.5;
                    side = 1;
                    if (s == 0)
                        break;
                } else {
                    lo = t;
                    s_lo = s;
                    if (side == -1)
                        s_hi *= 0.5;
                    side = -1;
                }
            }
            f = hi;
        } /* else the buffered target is out of reach: close everything */
        pen = apply_fraction(&fc, f, c->o.penalty, &gain, &vol);
        if (f < 1 && vol < c->o.min_liq_usd) {
            /* below the minimum liquidation size: close the account whole
             * rather than leave a dust position to be nibbled again */
            f = 1;
            pen = apply_fraction(&fc, f, c->o.penalty, &gain, &vol);
        }
        commit_flows(c, &fc, f);
        xcr__acct_eval(c, x, acct, &rr, NULL);
        out->action = XCR_LIQ_PARTIAL;
        out->fraction = f;
        out->to_fund = pen;
        out->liq_gain = gain;
        out->volume_usd = vol;
        out->eq_after = rr.equity;
        out->done = 1;
        return;
    }
    /* full takeover at the bankruptcy price */
    apply_fraction(&fc, 1, 0, &gain, &vol);
    commit_flows(c, &fc, 1);
    double e = c->bal_amt[fc.kcash] * c->price[c->cash];
    if (e >= 0) {
        out->to_fund = e;
        c->bal_amt[fc.kcash] = 0;
    } else {
        out->shortfall = -e;
        out->bankrupt = 1;
    }
    xcr__acct_eval(c, x, acct, &rr, NULL);
    out->action = XCR_LIQ_TAKEOVER;
    out->fraction = 1;
    out->liq_gain = gain;
    out->volume_usd = vol;
    out->eq_after = rr.equity;
    out->done = 1;
}

const xcr__policy xcr__policy_exchange = {"exchange", false,
                                          exchange_liquidate};
