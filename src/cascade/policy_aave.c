/* Aave liquidation policies for lending accounts: v3.0, v3.3 and v4.
 *
 * Sources (margin-models.md §14.4–§14.6 and §14.10; cascades-and-contagion.md
 * §5; aave/aave-v3-core and aave-dao/aave-v3-origin LiquidationLogic.sol,
 * aave/aave-v4 src/spoke/libraries/LiquidationLogic.sol):
 *  - one liquidation per account per round repays debt `x` (USD) of one debt
 *    reserve (the largest) and seizes x·LB of one collateral (the largest
 *    value, or the first in book order by option); LB = 1 + bonus, the
 *    e-mode category's bonus inside e-mode;
 *  - close factor, v3.0–v3.2: 50 % of that reserve's debt if HF > 0.95,
 *    else 100 %; v3.3+: the whole reserve debt unless the reserve's
 *    collateral ≥ $2,000 and the reserve's debt ≥ $2,000 and HF > 0.95, in
 *    which case 50 % of the account's total debt;
 *  - v4: no close factor but the debt that brings HF to the target:
 *    x = D·(THF − HF)/(THF − LB·LT_i) (cascades-and-contagion.md §5.2), capped
 *    by the reserve's debt; the whole reserve when the target is unreachable
 *    (HF < LT·LB, §5.1);
 *  - dust (v3.3, v4): a liquidation that would leave less than $1,000 of
 *    both-uncleared debt or collateral in the reserve clears the reserve
 *    instead (the contracts revert MustNotLeaveDust; a liquidator then
 *    liquidates the whole reserve);
 *  - when the collateral cannot cover x·LB, the liquidator takes all of it
 *    and repays C/LB (§5.3);
 *  - protocol fee: fee = (seized − seized/LB)·protocol_fee, carved out of
 *    the seized collateral for the treasury (§14.6);
 *  - when the account's last collateral is gone, all its remaining debt is
 *    written off into the per-reserve deficit ledger (v3.3 `DeficitCreated`;
 *    xcr records it for every rule).
 * Seized collateral is sold to the market by the liquidator at the round's
 * price; a debt asset other than the settlement asset is bought back. */
#include "cascade.h"

#include <math.h>

enum { RULE_V30 = 0, RULE_V33, RULE_V4 };

#define CF_HF_THRESHOLD 0.95      /* CLOSE_FACTOR_HF_THRESHOLD            */
#define MIN_BASE_MAX_CF 2000.0    /* MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD   */
#define MIN_LEFTOVER_BASE 1000.0  /* MIN_LEFTOVER_BASE, v4 dust threshold */

/* Write off the remaining debt of an account with no collateral left. */
static double write_off(xcr_cascade *c, xcr__liq_ctx *x, size_t acct)
{
    (void)x;
    double bad = 0;
    for (uint32_t k = c->bal_off[acct]; k < c->bal_off[acct + 1]; k++) {
        double n = c->bal_amt[k];
        if (n < 0) {
            double d = -n * c->price[c->bal_asset[k]];
            c->bal_bad[k] = d;
            c->bal_amt[k] = 0;
            bad += d;
        }
    }
    return bad;
}

static bool has_collateral(const xcr_cascade *c, size_t acct)
{
    for (uint32_t k = c->bal_off[acct]; k < c->bal_off[acct + 1]; k++)
        if (c->bal_amt[k] > 0)
            return true;
    return false;
}

static void aave_liquidate(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                           const xcr_account_result *r, xcr__liq_out *out,
                           int rule)
{
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    xcr__acct_save(c, x, acct);
    xcr__acct_nets(c, x, acct);
    out->eq_before = r->equity;
    out->health_before = r->health_factor;
    long kc = -1, kd = -1;
    double best_c = 0, best_d = 0, dtot = 0;
    for (uint32_t k = b0; k < b1; k++) {
        uint32_t a = c->bal_asset[k];
        double n = x->save_bal[k - b0], v = n * c->price[a];
        if (n < 0) {
            dtot -= v;
            if (-v > best_d) {
                best_d = -v;
                kd = k;
            }
        } else if (n > 0) {
            double lt, lb;
            xcr__lending_params(c, acct, a, &lt, &lb);
            if (!(lt > 0))
                continue; /* Aave cannot seize collateral with LT 0 */
            if (c->o.seize_order == XCR_SEIZE_BOOK_ORDER ? kc < 0
                                                         : v > best_c) {
                best_c = v;
                kc = k;
            }
        }
    }
    xcr_account_result rr;
    if (kd < 0)
        return;
    if (kc < 0) {
        if (has_collateral(c, acct))
            return; /* only LT-0 collateral: no liquidation possible */
        out->bad_debt = write_off(c, x, acct);
        out->action = XCR_LIQ_LENDING;
        out->fraction = 0;
        xcr__acct_eval(c, x, acct, &rr, NULL);
        out->eq_after = rr.equity;
        out->done = 1;
        return;
    }
    uint32_t ac = c->bal_asset[kc], ad = c->bal_asset[kd];
    double pc = c->price[ac], pd = c->price[ad];
    double C = best_c, Dj = best_d, hf = r->health_factor;
    double lt, lb;
    xcr__lending_params(c, acct, ac, &lt, &lb);
    double xr; /* debt to repay, USD */
    if (rule == RULE_V30) {
        xr = hf > CF_HF_THRESHOLD ? 0.5 * Dj : Dj;
    } else if (rule == RULE_V33) {
        bool half = C >= MIN_BASE_MAX_CF && Dj >= MIN_BASE_MAX_CF &&
                    hf > CF_HF_THRESHOLD;
        xr = half ? fmin(Dj, 0.5 * dtot) : Dj;
    } else {
        double thf = c->o.target_health_factor, den = thf - lb * lt;
        double t = den > 0 ? dtot * (thf - hf) / den : INFINITY;
        xr = t > 0 && t < Dj ? t : Dj;
    }
    double seized = xr * lb;
    if (seized > C) {
        seized = C;
        xr = C / lb;
    }
    if (rule != RULE_V30 && xr < Dj && seized < C &&
        (Dj - xr < MIN_LEFTOVER_BASE || C - seized < MIN_LEFTOVER_BASE)) {
        xr = Dj;
        seized = xr * lb;
        if (seized > C) {
            seized = C;
            xr = C / lb;
        }
    }
    double fee = (seized - seized / lb) * c->book->assets[ac].pfee;
    double uc = seized == C ? x->save_bal[kc - b0] : seized / pc;
    double ud = xr == Dj ? -x->save_bal[kd - b0] : xr / pd;
    c->bal_amt[kc] -= uc;
    c->bal_amt[kd] += ud;
    if (seized == C)
        c->bal_amt[kc] = 0;
    if (xr == Dj)
        c->bal_amt[kd] = 0;
    c->bal_flow[kc] = ac == c->cash ? 0 : uc;
    c->bal_flow[kd] = ad == c->cash ? 0 : -ud;
    out->liq_gain = seized - fee - xr;
    out->fees = fee;
    out->fraction = dtot > 0 ? xr / dtot : 0;
    out->volume_usd = seized + xr;
    if (!has_collateral(c, acct))
        out->bad_debt = write_off(c, x, acct);
    out->action = XCR_LIQ_LENDING;
    xcr__acct_eval(c, x, acct, &rr, NULL);
    out->eq_after = rr.equity;
    out->done = 1;
}

static void liq_v30(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                    const xcr_account_result *r, xcr__liq_out *out)
{
    aave_liquidate(c, x, acct, r, out, RULE_V30);
}

static void liq_v33(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                    const xcr_account_result *r, xcr__liq_out *out)
{
    aave_liquidate(c, x, acct, r, out, RULE_V33);
}

static void liq_v4(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                   const xcr_account_result *r, xcr__liq_out *out)
{
    aave_liquidate(c, x, acct, r, out, RULE_V4);
}

const xcr__policy xcr__policy_aave_v30 = {"aave-v3.0", true, liq_v30};
const xcr__policy xcr__policy_aave_v33 = {"aave-v3.3", true, liq_v33};
const xcr__policy xcr__policy_aave_v4 = {"aave-v4", true, liq_v4};
