/* Compound v3 (Comet) absorb for lending accounts.
 *
 * Source: margin-models.md §15 (compound-finance/comet, Comet.sol
 * absorbInternal, buyCollateral, quoteCollateral; test-vectors.md COMET-1 …
 * COMET-5).  A liquidatable account is absorbed whole: all its collateral is
 * seized and Σ value_i × liquidationFactor_i is credited against its debt;
 * a surplus stays with the account as a supply (of the settlement asset
 * here), a shortfall is absorbed by the protocol's reserves.  The protocol
 * then sells the collateral at the storefront discount
 * d = storeFrontPriceFactor × (1 − liquidationFactor); the buyers' discount
 * is the liquidator gain and the protocol keeps (1 − LF)(1 − SFPF) of the
 * value.  Mapping to the book: liquidationFactor = 1 − liquidation_bonus
 * (the e-mode category's inside e-mode), liquidateCF = the liquidation
 * threshold (so "liquidatable" is the evaluator's HF < 1).  A negative net
 * result for the protocol is bad debt, recorded against the debt reserves
 * in proportion to their size. */
#include "cascade.h"

#include <math.h>

static void absorb(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                   const xcr_account_result *r, xcr__liq_out *out)
{
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1], kcash = b0;
    xcr__acct_save(c, x, acct);
    out->eq_before = r->equity;
    out->health_before = r->health_factor;
    double C = 0, credit = 0, disc_usd = 0, D = 0;
    for (uint32_t k = b0; k < b1; k++) {
        uint32_t a = c->bal_asset[k];
        double n = x->save_bal[k - b0], v = n * c->price[a];
        if (a == c->cash)
            kcash = k;
        if (n > 0) {
            double lt, lb;
            xcr__lending_params(c, acct, a, &lt, &lb);
            double lf = 2 - lb; /* 1 − bonus */
            C += v;
            credit += v * lf;
            disc_usd += v * c->o.storefront_factor * (1 - lf);
        } else if (n < 0) {
            D -= v;
        }
    }
    if (!(D > 0))
        return; /* Comet: accounts without debt are never liquidatable */
    double keep = credit > D ? credit - D : 0;
    double net = C - disc_usd - D - keep; /* protocol's result */
    for (uint32_t k = b0; k < b1; k++) {
        uint32_t a = c->bal_asset[k];
        double n = x->save_bal[k - b0];
        if (n > 0)
            c->bal_flow[k] = a == c->cash ? 0 : n; /* resold collateral */
        if (n < 0 && net < 0)
            c->bal_bad[k] = -net * (-n * c->price[a]) / D;
        c->bal_amt[k] = 0;
    }
    c->bal_amt[kcash] = keep / c->price[c->cash];
    out->liq_gain = disc_usd;
    if (net >= 0)
        out->fees = net;
    else
        out->bad_debt = -net;
    out->fraction = 1;
    out->volume_usd = C;
    out->action = XCR_LIQ_ABSORB;
    xcr_account_result rr;
    xcr__acct_eval(c, x, acct, &rr, NULL);
    out->eq_after = rr.equity;
    out->done = 1;
}

const xcr__policy xcr__policy_compound_v3 = {"compound-v3", true, absorb};
