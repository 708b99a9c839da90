/* Coupling to the liquidation cascade (include/xcr/cascade.h): the held
 * assets start contagion at the cascade's final prices, and the bad debt the
 * cascade's liquidations leave on the accounts held at an entity (spec §1
 * ACCOUNT `entity`) is that entity's loss — a venue absorbs what its
 * liquidations could not cover — charged to its external assets. */
#include "../book/book.h"
#include "contagion.h"

xcr_status xcr_contagion_cascade_inputs(const xcr_network *net,
                                        const xcr_cascade *c, double *prices,
                                        double *external_loss, xcr_error *err)
{
    if (!net || !c || !prices || !net->book)
        return xcr__fail(err, XCR_EINVAL,
                         "cascade inputs need a network bound to the "
                         "cascade's book");
    const xcr_book *b = net->book;
    xcr_cascade_prices(c, prices);
    for (size_t a = 0; a < b->n_assets; a++)
        if (!(prices[a] > 0) || !isfinite(prices[a]))
            return xcr__fail(err, XCR_ERANGE,
                             "cascade price of %s is not a finite number > 0",
                             b->assets[a].symbol);
    if (!external_loss)
        return XCR_OK;
    for (size_t i = 0; i < net->n; i++)
        external_loss[i] = 0;
    size_t ne = xcr_cascade_event_count(c);
    for (size_t k = 0; k < ne; k++) {
        xcr_cascade_event ev;
        if (xcr_cascade_event_get(c, k, &ev) != XCR_OK ||
            ev.account >= b->n_accts || !b->acct_entity[ev.account])
            continue;
        long e = xcr_network_find_entity(net, b->acct_entity[ev.account]);
        if (e >= 0 && ev.bad_debt > 0)
            external_loss[e] += ev.bad_debt;
    }
    for (size_t i = 0; i < net->n; i++)
        if (external_loss[i] > net->ext[i])
            external_loss[i] = net->ext[i];
    return XCR_OK;
}
