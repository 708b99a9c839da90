/* The network builder: entities, liabilities, holdings and re-pledge links,
 * each validated where it is added so errors name the input's place (spec
 * "General rules"). */
#include "../book/book.h"
#include "contagion.h"

#include <stdlib.h>
#include <string.h>

static const xcr_allocator *A = &xcr__libc_alloc;

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

/* Grow the array *slot (any element type) to c elements of elem bytes;
 * false, with the array unchanged, when out of memory.  The parallel
 * arrays of a list are grown one after the other and its capacity is
 * raised only when all of them grew. */
static bool grow(void *slot, size_t c, size_t elem)
{
    void *old;
    memcpy(&old, slot, sizeof old);
    void *p = realloc(old, c * elem);
    if (!p)
        return false;
    memcpy(slot, &p, sizeof p);
    return true;
}
#define GROW(arr, c) grow(&(arr), (c), sizeof *(arr))

xcr_status xcr_network_new(xcr_network **out)
{
    if (!out)
        return XCR_EINVAL;
    xcr_network *n = calloc(1, sizeof *n);
    if (!n)
        return XCR_ENOMEM;
    xcr__strmap_init(&n->map, A);
    xcr__strmap_init(&n->amap, A);
    *out = n;
    return XCR_OK;
}

void xcr_network_free(xcr_network *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        free(n->id[i]);
    for (size_t i = 0; i < n->na; i++)
        free(n->asym[i]);
    free(n->id);
    free(n->ext);
    free(n->el);
    free(n->equity_in);
    free(n->size_in);
    free(n->lf);
    free(n->lt);
    free(n->la);
    free(n->asym);
    free(n->afirst_list);
    free(n->afirst_idx);
    free(n->h_ent);
    free(n->h_asset);
    free(n->h_amt);
    free(n->r_from);
    free(n->r_to);
    free(n->r_asset);
    free(n->r_amt);
    free(n->ib_out);
    free(n->ib_in);
    free(n->asset_book);
    free(n->name);
    xcr__strmap_free(&n->map);
    xcr__strmap_free(&n->amap);
    free(n);
}

static xcr_status check_amount(double v, bool allow_nan, const xcr_loc *loc,
                               const char *field, xcr_error *err)
{
    if (allow_nan && isnan(v))
        return XCR_OK;
    if (!isfinite(v) || v < 0)
        return xcr__fail_at(err, XCR_EINVAL, loc, field,
                            "must be a finite number >= 0 (got %g)", v);
    return XCR_OK;
}

static xcr_status mutable_net(xcr_network *n, xcr_error *err)
{
    if (!n)
        return xcr__fail(err, XCR_EINVAL, "network is NULL");
    if (n->finalized)
        return xcr__fail(err, XCR_EINVAL, "network is already finalized");
    return XCR_OK;
}

xcr_status xcr_network_add_entity(xcr_network *n, const char *id, double ext,
                                  double el, double equity, double size,
                                  const xcr_loc *loc, xcr_error *err)
{
    xcr_status s = mutable_net(n, err);
    if (s != XCR_OK)
        return s;
    if (!xcr__valid_id(id))
        return xcr__fail_at(err, XCR_EINVAL, loc, "id",
                            "must be 1-64 characters from [A-Za-z0-9._:/-]");
    if ((s = check_amount(ext, false, loc, "external_assets", err)) ||
        (s = check_amount(el, false, loc, "external_liabilities", err)) ||
        (s = check_amount(size, true, loc, "size", err)))
        return s;
    /* equity may be negative (an entity already insolvent) but finite */
    if (!isnan(equity) && !isfinite(equity))
        return xcr__fail_at(err, XCR_EINVAL, loc, "equity",
                            "must be a finite number");
    if (n->n >= UINT32_MAX - 1)
        return xcr__fail_at(err, XCR_ERANGE, loc, NULL, "too many entities");
    if (n->n == n->cap) {
        size_t c = n->cap ? 2 * n->cap : 16;
        if (!GROW(n->id, c) || !GROW(n->ext, c) || !GROW(n->el, c) ||
            !GROW(n->equity_in, c) || !GROW(n->size_in, c))
            return NOMEM(err);
        n->cap = c;
    }
    char *copy = strdup(id);
    if (!copy)
        return NOMEM(err);
    uint32_t prev;
    s = xcr__strmap_put(&n->map, copy, (uint32_t)n->n, &prev);
    if (s == XCR_EDUP) {
        free(copy);
        return xcr__fail_at(err, XCR_EDUP, loc, "id",
                            "duplicate entity \"%s\" (first at entities[%u])",
                            id, prev);
    }
    if (s != XCR_OK) {
        free(copy);
        return NOMEM(err);
    }
    n->id[n->n] = copy;
    n->ext[n->n] = ext;
    n->el[n->n] = el;
    n->equity_in[n->n] = equity;
    n->size_in[n->n] = size;
    n->n++;
    return XCR_OK;
}

static xcr_status find_entity(const xcr_network *n, const char *id,
                              const xcr_loc *loc, const char *field,
                              uint32_t *out, xcr_error *err)
{
    if (!id)
        return xcr__fail_at(err, XCR_EINVAL, loc, field, "missing");
    long k = xcr__strmap_get(&n->map, id);
    if (k < 0)
        return xcr__fail_at(err, XCR_EREF, loc, field,
                            "unknown entity \"%.64s\"", id);
    *out = (uint32_t)k;
    return XCR_OK;
}

xcr_status xcr_network_add_liability(xcr_network *n, const char *from,
                                     const char *to, double amount,
                                     const xcr_loc *loc, xcr_error *err)
{
    xcr_status s = mutable_net(n, err);
    uint32_t f = 0, t = 0;
    if (s || (s = find_entity(n, from, loc, "from", &f, err)) ||
        (s = find_entity(n, to, loc, "to", &t, err)) ||
        (s = check_amount(amount, false, loc, "amount", err)))
        return s;
    if (f == t)
        return xcr__fail_at(err, XCR_EINVAL, loc, "to",
                            "self-loop: \"%s\" cannot owe itself", to);
    if (n->m == n->cap_m) {
        size_t c = n->cap_m ? 2 * n->cap_m : 32;
        if (!GROW(n->lf, c) || !GROW(n->lt, c) || !GROW(n->la, c))
            return NOMEM(err);
        n->cap_m = c;
    }
    n->lf[n->m] = f;
    n->lt[n->m] = t;
    n->la[n->m] = amount;
    n->m++;
    return XCR_OK;
}

/* Index of an asset symbol, added on first sight. */
static xcr_status asset_index(xcr_network *n, const char *sym, uint8_t list,
                              size_t idx, const xcr_loc *loc, uint32_t *out,
                              xcr_error *err)
{
    if (!xcr__valid_id(sym))
        return xcr__fail_at(err, XCR_EINVAL, loc, "asset",
                            "must be 1-64 characters from [A-Za-z0-9._:/-]");
    long k = xcr__strmap_get(&n->amap, sym);
    if (k >= 0) {
        *out = (uint32_t)k;
        return XCR_OK;
    }
    if (n->na == n->cap_a) {
        size_t c = n->cap_a ? 2 * n->cap_a : 8;
        if (!GROW(n->asym, c) || !GROW(n->afirst_list, c) ||
            !GROW(n->afirst_idx, c))
            return NOMEM(err);
        n->cap_a = c;
    }
    char *copy = strdup(sym);
    if (!copy || xcr__strmap_put(&n->amap, copy, (uint32_t)n->na, NULL)) {
        free(copy);
        return NOMEM(err);
    }
    n->asym[n->na] = copy;
    n->afirst_list[n->na] = list;
    n->afirst_idx[n->na] = idx;
    *out = (uint32_t)n->na++;
    return XCR_OK;
}

xcr_status xcr_network_add_holding(xcr_network *n, const char *entity,
                                   const char *asset, double amount,
                                   const xcr_loc *loc, xcr_error *err)
{
    xcr_status s = mutable_net(n, err);
    uint32_t e = 0, a = 0;
    if (s || (s = find_entity(n, entity, loc, "entity", &e, err)) ||
        (s = check_amount(amount, false, loc, "amount", err)))
        return s;
    if (n->nh == n->cap_h) {
        size_t c = n->cap_h ? 2 * n->cap_h : 16;
        if (!GROW(n->h_ent, c) || !GROW(n->h_asset, c) || !GROW(n->h_amt, c))
            return NOMEM(err);
        n->cap_h = c;
    }
    if ((s = asset_index(n, asset, 0, n->nh, loc, &a, err)))
        return s;
    n->h_ent[n->nh] = e;
    n->h_asset[n->nh] = a;
    n->h_amt[n->nh] = amount;
    n->nh++;
    return XCR_OK;
}

xcr_status xcr_network_add_rehypothecation(xcr_network *n, const char *from,
                                           const char *to, const char *asset,
                                           double amount, const xcr_loc *loc,
                                           xcr_error *err)
{
    xcr_status s = mutable_net(n, err);
    uint32_t f = 0, t = 0, a = 0;
    if (s || (s = find_entity(n, from, loc, "from", &f, err)) ||
        (s = find_entity(n, to, loc, "to", &t, err)) ||
        (s = check_amount(amount, false, loc, "amount", err)))
        return s;
    if (f == t)
        return xcr__fail_at(err, XCR_EINVAL, loc, "to",
                            "self-loop: \"%s\" cannot re-pledge to itself",
                            to);
    if (n->nr == n->cap_r) {
        size_t c = n->cap_r ? 2 * n->cap_r : 8;
        if (!GROW(n->r_from, c) || !GROW(n->r_to, c) ||
            !GROW(n->r_asset, c) || !GROW(n->r_amt, c))
            return NOMEM(err);
        n->cap_r = c;
    }
    if ((s = asset_index(n, asset, 1, n->nr, loc, &a, err)))
        return s;
    n->r_from[n->nr] = f;
    n->r_to[n->nr] = t;
    n->r_asset[n->nr] = a;
    n->r_amt[n->nr] = amount;
    n->nr++;
    return XCR_OK;
}

xcr_status xcr_network_finalize(xcr_network *n, xcr_error *err)
{
    xcr_status s = mutable_net(n, err);
    if (s)
        return s;
    n->ib_out = calloc(n->n + 1, sizeof(double));
    n->ib_in = calloc(n->n + 1, sizeof(double));
    n->asset_book = malloc((n->na + 1) * sizeof(long));
    if (!n->ib_out || !n->ib_in || !n->asset_book)
        return NOMEM(err);
    for (size_t k = 0; k < n->m; k++) {
        n->ib_out[n->lf[k]] += n->la[k];
        n->ib_in[n->lt[k]] += n->la[k];
    }
    for (size_t i = 0; i < n->n; i++) {
        double pbar = n->ib_out[i] + n->el[i];
        double assets = n->ext[i] + n->ib_in[i];
        if (!isfinite(pbar) || !isfinite(assets) ||
            (isnan(n->size_in[i]) && !isfinite(assets)))
            return xcr__fail(err, XCR_ERANGE,
                             "%s: entity \"%s\": totals are not finite",
                             n->name ? n->name : "<network>", n->id[i]);
    }
    for (size_t a = 0; a < n->na; a++)
        n->asset_book[a] = -1;
    n->finalized = true;
    return XCR_OK;
}

/* The place where an asset is first named, for binding errors. */
static void asset_loc(const xcr_network *n, size_t a, char *path, size_t np,
                      xcr_loc *loc)
{
    snprintf(path, np, "$.%s[%zu]",
             n->afirst_list[a] ? "rehypothecation" : "holdings",
             n->afirst_idx[a]);
    xcr_loc l = {1, n->name ? n->name : "<network>", path, 0, NULL, NULL, 0};
    *loc = l;
}

xcr_status xcr_network_bind_book(xcr_network *n, const xcr_book *b,
                                 xcr_error *err)
{
    if (!n || !n->finalized || !b || !b->finalized)
        return xcr__fail(err, XCR_EINVAL,
                         "bind needs a finalized network and book");
    for (size_t a = 0; a < n->na; a++) {
        long k = xcr_book_find_asset(b, n->asym[a]);
        if (k < 0) {
            char path[96];
            xcr_loc loc;
            asset_loc(n, a, path, sizeof path, &loc);
            return xcr__fail_at(err, XCR_EREF, &loc, "asset",
                                "unknown asset \"%s\" (not in the book)",
                                n->asym[a]);
        }
        n->asset_book[a] = k;
    }
    /* holdings are part of external assets at the book's prices */
    double *held = calloc(n->n + 1, sizeof *held);
    if (!held)
        return NOMEM(err);
    for (size_t h = 0; h < n->nh; h++)
        held[n->h_ent[h]] +=
            n->h_amt[h] * b->assets[n->asset_book[n->h_asset[h]]].price;
    for (size_t i = 0; i < n->n; i++) {
        if (!isfinite(held[i]) ||
            held[i] > n->ext[i] * (1 + 1e-12) + 1e-9) {
            char path[64];
            snprintf(path, sizeof path, "$.entities[%zu]", i);
            xcr_loc loc = {1, n->name ? n->name : "<network>", path, 0,
                           NULL, NULL, 0};
            double h = held[i];
            free(held);
            return xcr__fail_at(err, XCR_EINVAL, &loc, "external_assets",
                                "%g is less than the value of \"%s\"'s "
                                "holdings at the book's prices (%g)",
                                n->ext[i], n->id[i], h);
        }
    }
    free(held);
    n->book = b;
    return XCR_OK;
}

size_t xcr_network_entity_count(const xcr_network *n) { return n ? n->n : 0; }

const char *xcr_network_entity_id(const xcr_network *n, size_t i)
{
    return n && i < n->n ? n->id[i] : NULL;
}

long xcr_network_find_entity(const xcr_network *n, const char *id)
{
    return n && id ? xcr__strmap_get(&n->map, id) : -1;
}

double xcr_network_obligation(const xcr_network *n, size_t i)
{
    if (!n || !n->finalized || i >= n->n)
        return NAN;
    return n->ib_out[i] + n->el[i];
}

size_t xcr_network_liability_count(const xcr_network *n)
{
    return n ? n->m : 0;
}

size_t xcr_network_rehypothecation_count(const xcr_network *n)
{
    return n ? n->nr : 0;
}

static bool same_num(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

int xcr_network_equal(const xcr_network *a, const xcr_network *b)
{
    if (!a || !b || a->n != b->n || a->m != b->m || a->nh != b->nh ||
        a->nr != b->nr)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->id[i], b->id[i]) != 0 || a->ext[i] != b->ext[i] ||
            a->el[i] != b->el[i] || !same_num(a->equity_in[i],
                                              b->equity_in[i]) ||
            !same_num(a->size_in[i], b->size_in[i]))
            return 0;
    for (size_t k = 0; k < a->m; k++)
        if (a->lf[k] != b->lf[k] || a->lt[k] != b->lt[k] ||
            a->la[k] != b->la[k])
            return 0;
    for (size_t k = 0; k < a->nh; k++)
        if (a->h_ent[k] != b->h_ent[k] || a->h_amt[k] != b->h_amt[k] ||
            strcmp(a->asym[a->h_asset[k]], b->asym[b->h_asset[k]]) != 0)
            return 0;
    for (size_t k = 0; k < a->nr; k++)
        if (a->r_from[k] != b->r_from[k] || a->r_to[k] != b->r_to[k] ||
            a->r_amt[k] != b->r_amt[k] ||
            strcmp(a->asym[a->r_asset[k]], b->asym[b->r_asset[k]]) != 0)
            return 0;
    return 1;
}
