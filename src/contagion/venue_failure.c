/* Venue failure (FTX, November 2022; cascades-and-contagion.md §1.9): an
 * account held at an entity that defaults keeps only the entity's recovery
 * R of its collateral — its positive balances — while what it owes stays
 * owed in full (the estate collects debts).  Each account is then
 * re-evaluated by the one margin evaluator on a view of the book whose
 * balances are the recovered ones (same layout, only the balance amounts
 * differ), so the report shows which accounts become liquidatable. */
#include "../book/book.h"
#include "contagion.h"

#include <stdlib.h>
#include <string.h>

xcr_status xcr_venue_failure(const xcr_network *net,
                             const xcr_entity_result *res,
                             const double *prices, xcr_venue_account *out,
                             xcr_error *err)
{
    if (!net || !res || !out || !net->book)
        return xcr__fail(err, XCR_EINVAL,
                         "venue failure needs a network bound to a book and "
                         "its results");
    const xcr_book *b = net->book;
    size_t na = b->n_accts;
    double *bal = malloc((b->n_bals + 1) * sizeof *bal);
    xcr_account_result *r0 = malloc((na + 1) * sizeof *r0);
    xcr_account_result *r1 = malloc((na + 1) * sizeof *r1);
    xcr_market *m0 = NULL, *m1 = NULL;
    xcr_status s = XCR_OK;
    if (!bal || !r0 || !r1) {
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    if (b->n_bals)
        memcpy(bal, b->bal_amt, b->n_bals * sizeof *bal);
    for (size_t i = 0; i < na; i++) {
        xcr_venue_account *v = &out[i];
        memset(v, 0, sizeof *v);
        v->entity = b->acct_entity[i]
                        ? xcr_network_find_entity(net, b->acct_entity[i])
                        : -1;
        double rec = 1;
        if (v->entity >= 0 && res[v->entity].defaulted) {
            rec = res[v->entity].recovery;
            rec = rec < 0 ? 0 : rec > 1 ? 1 : rec;
        }
        v->recovery = rec;
        if (rec >= 1)
            continue;
        for (size_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++) {
            if (!(bal[k] > 0))
                continue;
            double px = prices ? prices[b->bal_asset[k]]
                               : b->assets[b->bal_asset[k]].price;
            v->collateral_lost += bal[k] * (1 - rec) * px;
            bal[k] *= rec;
        }
    }
    /* the book with recovered balances: a read-only view */
    struct xcr_book view = *b;
    view.bal_amt = bal;
    if (xcr_market_new(b, &m0) != XCR_OK ||
        xcr_market_new(&view, &m1) != XCR_OK) {
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    if (prices && ((s = xcr_market_set_prices(m0, prices, err)) != XCR_OK ||
                   (s = xcr_market_set_prices(m1, prices, err)) != XCR_OK))
        goto done;
    if ((s = xcr_margin_all(m0, 1, r0, err)) != XCR_OK ||
        (s = xcr_margin_all(m1, 1, r1, err)) != XCR_OK)
        goto done;
    for (size_t i = 0; i < na; i++) {
        out[i].before = r0[i];
        out[i].after = r1[i];
    }
done:
    xcr_market_free(m0);
    xcr_market_free(m1);
    free(bal);
    free(r0);
    free(r1);
    return s;
}
