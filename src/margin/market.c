/* Market state: prices per asset and the derived per-instrument quantities. */
#include "margin.h"

#include <string.h>

double xcr__option_unit_value(const xcr_book *b, const xcr__inst *in,
                              double mark, double iv)
{
    /* Time to expiry in years, ACT/365 from the book's as_of (spec
     * "General rules"); finalize guarantees as_of exists when options do. */
    double t = (in->expiry - b->as_of) / XCR__SECONDS_PER_YEAR;
    xcr_greeks g;
    xcr_black76(in->is_call, mark, in->strike, t, iv, &g);
    return xcr__option_units(in) * g.value;
}

static void refresh_inst(xcr_market *m, size_t i)
{
    const xcr_book *b = m->book;
    const xcr__inst *in = &b->insts[i];
    /* A price move of the underlying moves the instrument's mark by the
     * same factor (spec §2, first paragraph). */
    m->mark[i] = in->mark * (m->price[in->und] / b->assets[in->und].price);
    m->unit_value[i] = in->type == XCR_OPTION
                           ? xcr__option_unit_value(b, in, m->mark[i], m->iv[i])
                           : 0.0;
}

xcr_status xcr_market_new(const xcr_book *b, xcr_market **out)
{
    if (!b || !out || !b->finalized)
        return XCR_EINVAL;
    const xcr_allocator *a = b->alloc;
    xcr_market *m = xcr__calloc(a, 1, sizeof *m);
    if (!m)
        return XCR_ENOMEM;
    m->book = b;
    m->price = xcr__malloc(a, (b->n_assets + 1) * sizeof(double));
    m->mark = xcr__malloc(a, (b->n_insts + 1) * sizeof(double));
    m->unit_value = xcr__malloc(a, (b->n_insts + 1) * sizeof(double));
    m->iv = xcr__malloc(a, (b->n_insts + 1) * sizeof(double));
    if (!m->price || !m->mark || !m->unit_value || !m->iv) {
        xcr_market_free(m);
        return XCR_ENOMEM;
    }
    for (size_t i = 0; i < b->n_assets; i++)
        m->price[i] = b->assets[i].price;
    for (size_t i = 0; i < b->n_insts; i++) {
        m->iv[i] = b->insts[i].iv;
        refresh_inst(m, i);
    }
    *out = m;
    return XCR_OK;
}

void xcr_market_free(xcr_market *m)
{
    if (!m)
        return;
    const xcr_allocator *a = m->book->alloc;
    xcr__free(a, m->price);
    xcr__free(a, m->mark);
    xcr__free(a, m->unit_value);
    xcr__free(a, m->iv);
    xcr__free(a, m);
}

xcr_status xcr_market_set_price(xcr_market *m, size_t asset, double price,
                                xcr_error *err)
{
    if (!m)
        return xcr__fail(err, XCR_EINVAL, "market is NULL");
    const xcr_book *b = m->book;
    if (asset >= b->n_assets)
        return xcr__fail(err, XCR_ENOTFOUND, "asset index %zu out of range",
                         asset);
    if (!isfinite(price) || !(price > 0))
        return xcr__fail(err, XCR_EINVAL,
                         "price of %s must be a finite number > 0 (got %g)",
                         b->assets[asset].symbol, price);
    m->price[asset] = price;
    for (size_t i = 0; i < b->n_insts; i++)
        if (b->insts[i].und == asset)
            refresh_inst(m, i);
    return XCR_OK;
}

double xcr_market_price(const xcr_market *m, size_t asset)
{
    if (!m || asset >= m->book->n_assets)
        return NAN;
    return m->price[asset];
}

xcr_status xcr__ws_init(xcr__ws *ws, const xcr_book *b)
{
    const xcr_allocator *a = b->alloc;
    size_t n = b->n_assets + 1;
    ws->n_assets = b->n_assets;
    ws->net = xcr__calloc(a, n, sizeof *ws->net);
    ws->touched = xcr__malloc(a, n * sizeof *ws->touched);
    ws->seen = xcr__calloc(a, n, 1);
    ws->keep_net = false;
    ws->n_kept = 0;
    ws->kept_asset = xcr__malloc(a, n * sizeof *ws->kept_asset);
    ws->kept_net = xcr__malloc(a, n * sizeof *ws->kept_net);
    if (!ws->net || !ws->touched || !ws->seen || !ws->kept_asset ||
        !ws->kept_net) {
        xcr__ws_free(ws, b);
        return XCR_ENOMEM;
    }
    return XCR_OK;
}

void xcr__ws_free(xcr__ws *ws, const xcr_book *b)
{
    xcr__free(b->alloc, ws->net);
    xcr__free(b->alloc, ws->touched);
    xcr__free(b->alloc, ws->seen);
    xcr__free(b->alloc, ws->kept_asset);
    xcr__free(b->alloc, ws->kept_net);
    ws->kept_asset = NULL;
    ws->kept_net = NULL;
    ws->net = NULL;
    ws->touched = NULL;
    ws->seen = NULL;
}

xcr_status xcr_market_set_prices(xcr_market *m, const double *prices,
                                 xcr_error *err)
{
    if (!m || !prices)
        return xcr__fail(err, XCR_EINVAL, "market and prices are required");
    const xcr_book *b = m->book;
    for (size_t a = 0; a < b->n_assets; a++)
        if (!isfinite(prices[a]) || !(prices[a] > 0))
            return xcr__fail(err, XCR_EINVAL,
                             "price of %s must be a finite number > 0 (got "
                             "%g)",
                             b->assets[a].symbol, prices[a]);
    memcpy(m->price, prices, b->n_assets * sizeof *prices);
    for (size_t i = 0; i < b->n_insts; i++)
        refresh_inst(m, i);
    return XCR_OK;
}

xcr_status xcr_market_set_vol_shift(xcr_market *m, size_t asset, double shift,
                                    xcr_error *err)
{
    if (!m)
        return xcr__fail(err, XCR_EINVAL, "market is NULL");
    const xcr_book *b = m->book;
    if (asset >= b->n_assets)
        return xcr__fail(err, XCR_ENOTFOUND, "asset index %zu out of range",
                         asset);
    if (!isfinite(shift))
        return xcr__fail(err, XCR_EINVAL, "vol shift of %s must be finite",
                         b->assets[asset].symbol);
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        if (in->und != asset || in->type != XCR_OPTION)
            continue;
        double v = in->iv + shift;
        m->iv[i] = v > 0 ? v : 0;
        refresh_inst(m, i);
    }
    return XCR_OK;
}

void xcr_market_reset(xcr_market *m)
{
    if (!m)
        return;
    const xcr_book *b = m->book;
    for (size_t a = 0; a < b->n_assets; a++)
        m->price[a] = b->assets[a].price;
    for (size_t i = 0; i < b->n_insts; i++) {
        m->iv[i] = b->insts[i].iv;
        refresh_inst(m, i);
    }
}
