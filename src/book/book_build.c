/* The book builder: validates each item as it is added (so errors name the
 * item's place in the input) and lays the book out for evaluation. */
#include "book.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MARK: defaults ---------------------------------------------------------------- */

void xcr_asset_def_init(xcr_asset_def *d)
{
    memset(d, 0, sizeof *d);
    d->liability_weight = 1.0;
    d->liquidity.model = XCR_LIQ_NONE;
}

void xcr_instrument_def_init(xcr_instrument_def *d)
{
    memset(d, 0, sizeof *d);
    d->contract_size = 1.0;
    d->is_call = 1;
}

/* MARK: life cycle ---------------------------------------------------------------- */

xcr_status xcr_book_new(const xcr_allocator *alloc, xcr_book **out)
{
    if (!out)
        return XCR_EINVAL;
    *out = NULL;
    if (!alloc)
        alloc = &xcr__libc_alloc;
    xcr_book *b = alloc->malloc_fn(alloc->ctx, sizeof *b);
    if (!b)
        return XCR_ENOMEM;
    memset(b, 0, sizeof *b);
    b->alloc_copy = *alloc;
    b->alloc = &b->alloc_copy;
    xcr__strmap_init(&b->asset_map, b->alloc);
    xcr__strmap_init(&b->inst_map, b->alloc);
    xcr__strmap_init(&b->acct_map, b->alloc);
    *out = b;
    return XCR_OK;
}

void xcr_book_free(xcr_book *b)
{
    if (!b)
        return;
    const xcr_allocator *a = b->alloc;
    xcr__free(a, b->as_of_str);
    for (size_t i = 0; i < b->n_assets; i++) {
        xcr__free(a, b->assets[i].symbol);
        xcr__free(a, b->assets[i].levels_owned);
    }
    xcr__free(a, b->assets);
    xcr__free(a, b->tiers);
    for (size_t i = 0; i < b->n_insts; i++) {
        xcr__free(a, b->insts[i].id);
        xcr__free(a, b->insts[i].expiry_str);
    }
    xcr__free(a, b->insts);
    xcr__free(a, b->mtiers);
    for (size_t i = 0; i < b->n_accts; i++) {
        xcr__free(a, b->acct_id[i]);
        xcr__free(a, b->acct_entity[i]);
    }
    xcr__free(a, b->acct_id);
    xcr__free(a, b->acct_mode);
    xcr__free(a, b->acct_emode);
    xcr__free(a, b->acct_entity);
    xcr__free(a, b->acct_flags);
    xcr__free(a, b->bal_acct);
    xcr__free(a, b->bal_asset);
    xcr__free(a, b->bal_amt);
    xcr__free(a, b->bal_off);
    xcr__free(a, b->pos_acct);
    xcr__free(a, b->pos_inst);
    xcr__free(a, b->pos_size);
    xcr__free(a, b->pos_entry);
    xcr__free(a, b->pos_iso);
    xcr__free(a, b->pos_off);
    for (size_t i = 0; i < b->n_settings; i++) {
        xcr__free(a, b->settings[i].key);
        xcr__free(a, b->settings[i].json);
    }
    xcr__free(a, b->settings);
    xcr__free(a, b->emodes);
    xcr__free(a, b->balset);
    xcr__pm_book_free(b);
    xcr__strmap_free(&b->asset_map);
    xcr__strmap_free(&b->inst_map);
    xcr__strmap_free(&b->acct_map);
    a->free_fn(a->ctx, b);
}

/* MARK: value checks ---------------------------------------------------------------- */

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

static xcr_status check_mutable(const xcr_book *b, xcr_error *err)
{
    if (!b)
        return xcr__fail(err, XCR_EINVAL, "book is NULL");
    if (b->finalized)
        return xcr__fail(err, XCR_EINVAL, "book is finalized (immutable)");
    return XCR_OK;
}

static xcr_status need_finite(double v, const xcr_loc *loc, const char *f,
                              xcr_error *err)
{
    if (!isfinite(v))
        return xcr__fail_at(err, XCR_EINVAL, loc, f,
                            "must be a finite number");
    return XCR_OK;
}

static xcr_status need_pos(double v, const xcr_loc *loc, const char *f,
                           xcr_error *err)
{
    if (!isfinite(v) || !(v > 0))
        return xcr__fail_at(err, XCR_EINVAL, loc, f,
                            "must be a finite number > 0 (got %g)", v);
    return XCR_OK;
}

static xcr_status need_nonneg(double v, const xcr_loc *loc, const char *f,
                              xcr_error *err)
{
    if (!isfinite(v) || v < 0)
        return xcr__fail_at(err, XCR_EINVAL, loc, f,
                            "must be a finite number >= 0 (got %g)", v);
    return XCR_OK;
}

static xcr_status need_unit(double v, const xcr_loc *loc, const char *f,
                            xcr_error *err)
{
    if (!isfinite(v) || v < 0 || v > 1)
        return xcr__fail_at(err, XCR_EINVAL, loc, f,
                            "must be in [0, 1] (got %g)", v);
    return XCR_OK;
}

static xcr_status need_id(const char *s, const xcr_loc *loc, const char *f,
                          xcr_error *err)
{
    if (!s)
        return xcr__fail_at(err, XCR_EINVAL, loc, f, "missing");
    if (!xcr__valid_id(s))
        return xcr__fail_at(err, XCR_EINVAL, loc, f,
                            "invalid identifier \"%.80s\" (1-64 characters "
                            "from [A-Za-z0-9._:/-])",
                            s);
    return XCR_OK;
}

#define TRY(x)                                                                 \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

/* MARK: as_of and settings --------------------------------------------------------------- */

xcr_status xcr_book_set_as_of(xcr_book *b, const char *iso, const xcr_loc *loc,
                              xcr_error *err)
{
    TRY(check_mutable(b, err));
    double t;
    if (!iso || !xcr__parse_iso8601(iso, &t))
        return xcr__fail_at(err, XCR_EINVAL, loc, "as_of",
                            "not an ISO 8601 UTC time (e.g. "
                            "2024-06-17T08:00:00Z)");
    char *s = xcr__strdup(b->alloc, iso);
    if (!s)
        return NOMEM(err);
    xcr__free(b->alloc, b->as_of_str);
    b->as_of_str = s;
    b->as_of = t;
    b->has_as_of = true;
    return XCR_OK;
}

static xcr_status parse_emodes(xcr_book *b, json_t *v, const xcr_loc *loc,
                               xcr_error *err)
{
    if (!json_is_array(v))
        return xcr__fail_at(err, XCR_EINVAL, loc, "emode_categories",
                            "must be an array");
    b->n_emodes = 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char f[96];
        snprintf(f, sizeof f, "emode_categories[%zu]", i);
        if (!json_is_object(e))
            return xcr__fail_at(err, XCR_EINVAL, loc, f, "must be an object");
        json_t *id = json_object_get(e, "id");
        if (!json_is_integer(id) || json_integer_value(id) <= 0 ||
            json_integer_value(id) > 255)
            return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                "id must be an integer in 1..255");
        xcr_emode_def d = {(int)json_integer_value(id), 0, 0, 0};
        const char *names[3] = {"ltv", "liquidation_threshold",
                                "liquidation_bonus"};
        double *dst[3] = {&d.ltv, &d.liquidation_threshold,
                          &d.liquidation_bonus};
        for (int k = 0; k < 3; k++) {
            json_t *x = json_object_get(e, names[k]);
            char ff[140];
            snprintf(ff, sizeof ff, "%s.%s", f, names[k]);
            if (!json_is_number(x))
                return xcr__fail_at(err, XCR_EINVAL, loc, ff,
                                    "must be a number");
            *dst[k] = json_number_value(x);
            TRY(need_unit(*dst[k], loc, ff, err));
        }
        for (size_t j = 0; j < b->n_emodes; j++)
            if (b->emodes[j].id == d.id)
                return xcr__fail_at(err, XCR_EDUP, loc, f,
                                    "duplicate e-mode category id %d", d.id);
        if (!XCR__GROW(b->alloc, b->emodes, b->cap_emodes, b->n_emodes + 1))
            return NOMEM(err);
        b->emodes[b->n_emodes++] = d;
    }
    return XCR_OK;
}

xcr_status xcr_book_set_setting(xcr_book *b, const char *key,
                                const char *json_text, const xcr_loc *loc,
                                xcr_error *err)
{
    TRY(check_mutable(b, err));
    if (!key || !json_text)
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL,
                            "setting key and value are required");
    /* Keys follow the identifier rule, so every form (JSON key, CSV cell,
     * SQLite TEXT) can carry them unescaped. */
    if (!xcr__valid_id(key))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL,
                            "invalid settings key (1-64 characters from "
                            "[A-Za-z0-9._:/-])");
    json_error_t je;
    json_t *v = json_loads(json_text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &je);
    if (!v)
        return xcr__fail_at(err, XCR_EPARSE, loc, key,
                            "invalid JSON value: %s", je.text);
    xcr_status s = XCR_OK;
    if (strcmp(key, "emode_categories") == 0)
        s = parse_emodes(b, v, loc, err);
    else if (strcmp(key, "as_of") == 0) {
        /* The CSV and SQLite forms carry the book's as_of as a setting. */
        if (!json_is_string(v))
            s = xcr__fail_at(err, XCR_EINVAL, loc, key, "must be a string");
        else
            s = xcr_book_set_as_of(b, json_string_value(v), loc, err);
        json_decref(v);
        return s;
    } else if ((strcmp(key, "portfolio") == 0 ||
                strcmp(key, "liquidation") == 0) &&
               !json_is_object(v))
        s = xcr__fail_at(err, XCR_EINVAL, loc, key, "must be an object");
    char *compact = NULL;
    if (s == XCR_OK) {
        compact = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                    JSON_REAL_PRECISION(17));
        if (!compact)
            s = NOMEM(err);
    }
    json_decref(v);
    if (s != XCR_OK)
        return s;
    size_t i;
    for (i = 0; i < b->n_settings; i++)
        if (strcmp(b->settings[i].key, key) == 0)
            break;
    char *j = xcr__strdup(b->alloc, compact);
    free(compact);
    if (!j)
        return NOMEM(err);
    if (i < b->n_settings) {
        xcr__free(b->alloc, b->settings[i].json);
        b->settings[i].json = j;
        return XCR_OK;
    }
    char *k = xcr__strdup(b->alloc, key);
    if (!k || !XCR__GROW(b->alloc, b->settings, b->cap_settings,
                         b->n_settings + 1)) {
        xcr__free(b->alloc, k);
        xcr__free(b->alloc, j);
        return NOMEM(err);
    }
    b->settings[b->n_settings].key = k;
    b->settings[b->n_settings].json = j;
    b->n_settings++;
    return XCR_OK;
}

const char *xcr__book_setting(const xcr_book *b, const char *key)
{
    for (size_t i = 0; i < b->n_settings; i++)
        if (strcmp(b->settings[i].key, key) == 0)
            return b->settings[i].json;
    return NULL;
}

const xcr_emode_def *xcr__book_emode(const xcr_book *b, int id)
{
    for (size_t i = 0; i < b->n_emodes; i++)
        if (b->emodes[i].id == id)
            return &b->emodes[i];
    return NULL;
}

/* MARK: assets ---------------------------------------------------------------------- */

static xcr_status check_liquidity(const xcr_asset_def *d, const xcr_loc *loc,
                                  xcr_error *err)
{
    const xcr_liquidity_def *q = &d->liquidity;
    switch (q->model) {
    case XCR_LIQ_NONE:
        return XCR_OK;
    case XCR_LIQ_LINEAR:
        TRY(need_pos(q->p[0], loc, "liquidity.depth_usd", err));
        break;
    case XCR_LIQ_SQRT:
        TRY(need_pos(q->p[0], loc, "liquidity.daily_volume_usd", err));
        TRY(need_nonneg(q->p[1], loc, "liquidity.daily_vol", err));
        TRY(need_nonneg(q->p[2], loc, "liquidity.coef", err));
        break;
    case XCR_LIQ_AMM: {
        TRY(need_pos(q->p[0], loc, "liquidity.base_reserve", err));
        TRY(need_pos(q->p[1], loc, "liquidity.quote_reserve", err));
        if (!isfinite(q->p[2]) || q->p[2] < 0 || q->p[2] >= 1)
            return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity.fee",
                                "must be in [0, 1)");
        double spot = q->p[1] / q->p[0];
        /* spec §1.1: the pool's spot y/x must equal the asset's price */
        if (fabs(spot - d->price) > 1e-9 * d->price)
            return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity",
                                "pool spot quote_reserve/base_reserve = %.10g "
                                "differs from price %.10g",
                                spot, d->price);
        break;
    }
    case XCR_LIQ_BOOK: {
        if (!q->levels || q->nlevels == 0)
            return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity.levels",
                                "must be a non-empty array of [move, "
                                "cumulative_usd]");
        double pm = 0, pu = 0;
        for (size_t i = 0; i < q->nlevels; i++) {
            double mv = q->levels[2 * i], cu = q->levels[2 * i + 1];
            if (!isfinite(mv) || mv >= 0 || mv <= -1 || !(mv < pm))
                return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity.levels",
                                    "level %zu: move must be in (-1, 0) and "
                                    "strictly decreasing",
                                    i);
            if (!isfinite(cu) || !(cu > pu))
                return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity.levels",
                                    "level %zu: cumulative_usd must be finite "
                                    "and strictly increasing",
                                    i);
            pm = mv;
            pu = cu;
        }
        break;
    }
    default:
        return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity.model",
                            "unknown model");
    }
    TRY(need_unit(q->recovery, loc, "liquidity.recovery", err));
    return XCR_OK;
}

xcr_status xcr_book_add_asset(xcr_book *b, const xcr_asset_def *d,
                              const xcr_loc *loc, xcr_error *err)
{
    TRY(check_mutable(b, err));
    TRY(need_id(d->symbol, loc, "symbol", err));
    TRY(need_pos(d->price, loc, "price", err));
    TRY(need_nonneg(d->vol, loc, "vol", err));
    if (!isfinite(d->liability_weight) || d->liability_weight < 1)
        return xcr__fail_at(err, XCR_EINVAL, loc, "liability_weight",
                            "must be a finite number >= 1 (got %g)",
                            d->liability_weight);
    TRY(need_unit(d->borrow_imr, loc, "borrow_imr", err));
    TRY(need_unit(d->borrow_mmr, loc, "borrow_mmr", err));
    if (d->has_lending) {
        TRY(need_unit(d->ltv, loc, "lending.ltv", err));
        TRY(need_unit(d->liquidation_threshold, loc,
                      "lending.liquidation_threshold", err));
        TRY(need_unit(d->liquidation_bonus, loc, "lending.liquidation_bonus",
                      err));
        TRY(need_unit(d->protocol_fee, loc, "lending.protocol_fee", err));
        if (d->emode_category < 0 || d->emode_category > 255)
            return xcr__fail_at(err, XCR_EINVAL, loc,
                                "lending.emode_category",
                                "must be an integer in 0..255");
    }
    /* tiers: uppers strictly increasing and positive, only the last may be
     * unbounded, weights in [0, 1] */
    xcr_tier_def deflt = {INFINITY, 1.0};
    const xcr_tier_def *td = d->ntiers ? d->tiers : &deflt;
    size_t nt = d->ntiers ? d->ntiers : 1;
    if (d->ntiers && !d->tiers)
        return xcr__fail_at(err, XCR_EINVAL, loc, "collateral_tiers",
                            "missing");
    double prev = 0;
    for (size_t k = 0; k < nt; k++) {
        char f[64];
        snprintf(f, sizeof f, "collateral_tiers[%zu]", k);
        if (isnan(td[k].upper_usd) || !(td[k].upper_usd > prev))
            return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                "upper bounds must be > 0 and strictly "
                                "increasing");
        if (isinf(td[k].upper_usd) && k + 1 != nt)
            return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                "only the last tier may be unbounded (null)");
        TRY(need_unit(td[k].weight, loc, f, err));
        prev = td[k].upper_usd;
    }
    TRY(check_liquidity(d, loc, err));

    if (b->n_assets >= UINT32_MAX - 1)
        return xcr__fail_at(err, XCR_ERANGE, loc, NULL, "too many assets");
    if (xcr__strmap_get(&b->asset_map, d->symbol) >= 0)
        return xcr__fail_at(err, XCR_EDUP, loc, "symbol",
                            "duplicate asset symbol \"%s\"", d->symbol);
    if (!XCR__GROW(b->alloc, b->assets, b->cap_assets, b->n_assets + 1) ||
        !XCR__GROW(b->alloc, b->tiers, b->cap_tiers, b->n_tiers + nt))
        return NOMEM(err);
    xcr__asset *a = &b->assets[b->n_assets];
    memset(a, 0, sizeof *a);
    a->symbol = xcr__strdup(b->alloc, d->symbol);
    if (!a->symbol)
        return NOMEM(err);
    if (d->liquidity.model == XCR_LIQ_BOOK) {
        double *lv = xcr__malloc(b->alloc,
                                 2 * d->liquidity.nlevels * sizeof(double));
        if (!lv) {
            xcr__free(b->alloc, a->symbol);
            return NOMEM(err);
        }
        memcpy(lv, d->liquidity.levels,
               2 * d->liquidity.nlevels * sizeof(double));
        a->liq = d->liquidity;
        a->liq.levels = lv;
        a->levels_owned = lv;
    } else {
        a->liq = d->liquidity;
        a->liq.levels = NULL;
        a->liq.nlevels = 0;
    }
    if (xcr__strmap_put(&b->asset_map, a->symbol, (uint32_t)b->n_assets,
                        NULL) != XCR_OK) {
        xcr__free(b->alloc, a->symbol);
        xcr__free(b->alloc, a->levels_owned);
        return NOMEM(err);
    }
    a->price = d->price;
    a->vol = d->vol;
    a->stable = d->stable != 0;
    a->liability_weight = d->liability_weight;
    a->borrow_imr = d->borrow_imr;
    a->borrow_mmr = d->borrow_mmr;
    a->has_lending = d->has_lending != 0;
    if (a->has_lending) {
        a->ltv = d->ltv;
        a->lt = d->liquidation_threshold;
        a->lbonus = d->liquidation_bonus;
        a->pfee = d->protocol_fee;
        a->emode = d->emode_category;
    }
    a->tier_off = (uint32_t)b->n_tiers;
    a->ntiers = (uint32_t)nt;
    a->tiers_concave = true;
    double lo = 0, base = 0;
    for (size_t k = 0; k < nt; k++) {
        xcr__tier *t = &b->tiers[b->n_tiers + k];
        t->lo = lo;
        t->hi = td[k].upper_usd;
        t->weight = td[k].weight;
        t->base = base;
        if (k > 0 && td[k].weight > td[k - 1].weight)
            a->tiers_concave = false;
        if (isfinite(t->hi))
            base += (t->hi - lo) * t->weight;
        lo = t->hi;
    }
    b->n_tiers += nt;
    b->n_assets++;
    return XCR_OK;
}

/* MARK: instruments ---------------------------------------------------------------- */

static xcr_status resolve_asset(const xcr_book *b, const char *sym,
                                const xcr_loc *loc, const char *field,
                                uint32_t *out, xcr_error *err)
{
    TRY(need_id(sym, loc, field, err));
    long i = xcr__strmap_get(&b->asset_map, sym);
    if (i < 0)
        return xcr__fail_at(err, XCR_EREF, loc, field, "unknown asset \"%s\"",
                            sym);
    *out = (uint32_t)i;
    return XCR_OK;
}

xcr_status xcr_book_add_instrument(xcr_book *b, const xcr_instrument_def *d,
                                   const xcr_loc *loc, xcr_error *err)
{
    TRY(check_mutable(b, err));
    TRY(need_id(d->id, loc, "id", err));
    if ((unsigned)d->type > XCR_OPTION)
        return xcr__fail_at(err, XCR_EINVAL, loc, "type",
                            "must be perp, future or option");
    uint32_t und = 0, settle = 0;
    TRY(resolve_asset(b, d->underlying, loc, "underlying", &und, err));
    if (d->settle) {
        TRY(resolve_asset(b, d->settle, loc, "settle", &settle, err));
    } else if (d->inverse) {
        settle = und;
    } else {
        size_t k;
        for (k = 0; k < b->n_assets; k++)
            if (b->assets[k].stable)
                break;
        if (k == b->n_assets)
            return xcr__fail_at(err, XCR_EREF, loc, "settle",
                                "no settle asset given and the book has no "
                                "stable asset to default to");
        settle = (uint32_t)k;
    }
    TRY(need_pos(d->contract_size, loc, "contract_size", err));
    double mark = d->mark_price;
    if (mark == 0)
        mark = b->assets[und].price;
    TRY(need_pos(mark, loc, "mark_price", err));
    double expiry = 0;
    if (d->expiry) {
        if (!xcr__parse_iso8601(d->expiry, &expiry))
            return xcr__fail_at(err, XCR_EINVAL, loc, "expiry",
                                "not an ISO 8601 UTC time");
    } else if (d->type != XCR_PERP) {
        return xcr__fail_at(err, XCR_EINVAL, loc, "expiry",
                            "required for futures and options");
    }
    if (d->type == XCR_OPTION) {
        TRY(need_pos(d->strike, loc, "strike", err));
        TRY(need_nonneg(d->iv, loc, "iv", err));
    }
    const xcr_margin_tier_def deflt = {INFINITY, 0.1, 0.05};
    const xcr_margin_tier_def *mt = d->ntiers ? d->tiers : &deflt;
    size_t nmt = d->ntiers ? d->ntiers : 1;
    if (d->ntiers && !d->tiers)
        return xcr__fail_at(err, XCR_EINVAL, loc, "margin_tiers", "missing");
    double prev = 0;
    for (size_t k = 0; k < nmt; k++) {
        char f[64];
        snprintf(f, sizeof f, "margin_tiers[%zu].notional_max", k);
        if (isnan(mt[k].notional_max) || !(mt[k].notional_max > prev))
            return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                "must be > 0 and strictly increasing");
        if (isinf(mt[k].notional_max) && k + 1 != nmt)
            return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                "only the last tier may be unbounded (null)");
        snprintf(f, sizeof f, "margin_tiers[%zu].imr", k);
        TRY(need_unit(mt[k].imr, loc, f, err));
        snprintf(f, sizeof f, "margin_tiers[%zu].mmr", k);
        TRY(need_unit(mt[k].mmr, loc, f, err));
        prev = mt[k].notional_max;
    }
    if (xcr__strmap_get(&b->inst_map, d->id) >= 0)
        return xcr__fail_at(err, XCR_EDUP, loc, "id",
                            "duplicate instrument id \"%s\"", d->id);
    if (b->n_insts >= UINT32_MAX - 1)
        return xcr__fail_at(err, XCR_ERANGE, loc, NULL,
                            "too many instruments");
    if (!XCR__GROW(b->alloc, b->insts, b->cap_insts, b->n_insts + 1) ||
        !XCR__GROW(b->alloc, b->mtiers, b->cap_mtiers, b->n_mtiers + nmt))
        return NOMEM(err);
    xcr__inst *in = &b->insts[b->n_insts];
    memset(in, 0, sizeof *in);
    in->id = xcr__strdup(b->alloc, d->id);
    in->expiry_str = d->expiry ? xcr__strdup(b->alloc, d->expiry) : NULL;
    if (!in->id || (d->expiry && !in->expiry_str) ||
        xcr__strmap_put(&b->inst_map, in->id, (uint32_t)b->n_insts, NULL) !=
            XCR_OK) {
        xcr__free(b->alloc, in->id);
        xcr__free(b->alloc, in->expiry_str);
        return NOMEM(err);
    }
    in->type = d->type;
    in->und = und;
    in->settle = settle;
    in->settle_given = d->settle != NULL;
    in->inverse = d->inverse != 0;
    in->cs = d->contract_size;
    in->mark = mark;
    in->expiry = expiry;
    in->strike = d->type == XCR_OPTION ? d->strike : 0;
    in->iv = d->type == XCR_OPTION ? d->iv : 0;
    in->is_call = d->type == XCR_OPTION ? d->is_call != 0 : true;
    in->mt_off = (uint32_t)b->n_mtiers;
    in->nmt = (uint32_t)nmt;
    /* Maintenance-amount recursion (Binance, margin-models.md §3.1):
     * cum_n = cum_{n-1} + floor_n·(rate_n − rate_{n-1}). */
    double lo = 0, cim = 0, cmm = 0;
    for (size_t k = 0; k < nmt; k++) {
        xcr__mtier *t = &b->mtiers[b->n_mtiers + k];
        if (k > 0) {
            cim += lo * (mt[k].imr - mt[k - 1].imr);
            cmm += lo * (mt[k].mmr - mt[k - 1].mmr);
        }
        t->lo = lo;
        t->hi = mt[k].notional_max;
        t->imr = mt[k].imr;
        t->mmr = mt[k].mmr;
        t->cum_im = cim;
        t->cum_mm = cmm;
        lo = t->hi;
    }
    b->n_mtiers += nmt;
    b->n_insts++;
    return XCR_OK;
}

/* MARK: accounts, balances, positions ------------------------------------------------------ */

xcr_status xcr_book_add_account(xcr_book *b, const xcr_account_def *d,
                                const xcr_loc *loc, xcr_error *err)
{
    TRY(check_mutable(b, err));
    TRY(need_id(d->id, loc, "id", err));
    if ((unsigned)d->mode > XCR_MODE_LENDING)
        return xcr__fail_at(err, XCR_EINVAL, loc, "mode",
                            "must be cross, isolated, portfolio or lending");
    if (d->emode < 0 || d->emode > 255)
        return xcr__fail_at(err, XCR_EINVAL, loc, "emode",
                            "must be an integer in 0..255");
    if (d->emode != 0 && d->mode != XCR_MODE_LENDING)
        return xcr__fail_at(err, XCR_EINVAL, loc, "emode",
                            "e-mode applies to lending accounts only");
    if (d->entity)
        TRY(need_id(d->entity, loc, "entity", err));
    if (xcr__strmap_get(&b->acct_map, d->id) >= 0)
        return xcr__fail_at(err, XCR_EDUP, loc, "id",
                            "duplicate account id \"%s\"", d->id);
    if (b->n_accts >= UINT32_MAX - 1)
        return xcr__fail_at(err, XCR_ERANGE, loc, NULL, "too many accounts");
    size_t n = b->n_accts, cap = b->cap_accts;
    if (n + 1 > cap) {
        size_t ncap = cap ? cap * 2 : 64;
        size_t c;
#define GROW_ONE(arr)                                                          \
    c = cap;                                                                   \
    if (!XCR__GROW(b->alloc, arr, c, ncap))                                    \
        return NOMEM(err);
        GROW_ONE(b->acct_id)
        GROW_ONE(b->acct_mode)
        GROW_ONE(b->acct_emode)
        GROW_ONE(b->acct_entity)
#undef GROW_ONE
        b->cap_accts = ncap;
    }
    char *id = xcr__strdup(b->alloc, d->id);
    char *ent = d->entity ? xcr__strdup(b->alloc, d->entity) : NULL;
    if (!id || (d->entity && !ent) ||
        xcr__strmap_put(&b->acct_map, id, (uint32_t)n, NULL) != XCR_OK) {
        xcr__free(b->alloc, id);
        xcr__free(b->alloc, ent);
        return NOMEM(err);
    }
    b->acct_id[n] = id;
    b->acct_mode[n] = (uint8_t)d->mode;
    b->acct_emode[n] = d->emode;
    b->acct_entity[n] = ent;
    b->n_accts++;
    return XCR_OK;
}

static xcr_status resolve_account(const xcr_book *b, const char *id,
                                  const xcr_loc *loc, const char *field,
                                  uint32_t *out, xcr_error *err)
{
    TRY(need_id(id, loc, field, err));
    long i = xcr__strmap_get(&b->acct_map, id);
    if (i < 0)
        return xcr__fail_at(err, XCR_EREF, loc, field,
                            "unknown account \"%s\"", id);
    *out = (uint32_t)i;
    return XCR_OK;
}

/* Full-avalanche mix (splitmix64's finalizer): every key bit reaches the low
 * bits used as the slot, so consecutive account numbers do not collide. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Hash set of (account, asset) pairs; *fresh = false if already present. */
static xcr_status balset_insert(xcr_book *b, uint64_t key, bool *fresh)
{
    if ((b->balset_len + 1) * 2 > b->balset_cap) {
        size_t ncap = b->balset_cap ? b->balset_cap * 2 : 64;
        uint64_t *nt = xcr__malloc(b->alloc, ncap * sizeof *nt);
        if (!nt)
            return XCR_ENOMEM;
        for (size_t i = 0; i < ncap; i++)
            nt[i] = UINT64_MAX;
        for (size_t i = 0; i < b->balset_cap; i++) {
            uint64_t k = b->balset[i];
            if (k == UINT64_MAX)
                continue;
            size_t j = (size_t)mix64(k) & (ncap - 1);
            while (nt[j] != UINT64_MAX)
                j = (j + 1) & (ncap - 1);
            nt[j] = k;
        }
        xcr__free(b->alloc, b->balset);
        b->balset = nt;
        b->balset_cap = ncap;
    }
    size_t j = (size_t)mix64(key) & (b->balset_cap - 1);
    while (b->balset[j] != UINT64_MAX) {
        if (b->balset[j] == key) {
            *fresh = false;
            return XCR_OK;
        }
        j = (j + 1) & (b->balset_cap - 1);
    }
    b->balset[j] = key;
    b->balset_len++;
    *fresh = true;
    return XCR_OK;
}

xcr_status xcr_book_add_balance(xcr_book *b, const char *account,
                                const char *symbol, double amount,
                                const xcr_loc *loc, xcr_error *err)
{
    TRY(check_mutable(b, err));
    uint32_t ai = 0, si = 0;
    TRY(resolve_account(b, account, loc, "account", &ai, err));
    TRY(resolve_asset(b, symbol, loc, "symbol", &si, err));
    TRY(need_finite(amount, loc, "amount", err));
    bool fresh;
    if (balset_insert(b, ((uint64_t)ai << 32) | si, &fresh) != XCR_OK)
        return NOMEM(err);
    if (!fresh)
        return xcr__fail_at(err, XCR_EDUP, loc, "symbol",
                            "duplicate balance of \"%s\" for account \"%s\"",
                            symbol, account);
    size_t n = b->n_bals;
    if (n + 1 > b->cap_bals) {
        size_t ncap = b->cap_bals ? b->cap_bals * 2 : 256, c;
        c = b->cap_bals;
        if (!XCR__GROW(b->alloc, b->bal_acct, c, ncap))
            return NOMEM(err);
        c = b->cap_bals;
        if (!XCR__GROW(b->alloc, b->bal_asset, c, ncap))
            return NOMEM(err);
        c = b->cap_bals;
        if (!XCR__GROW(b->alloc, b->bal_amt, c, ncap))
            return NOMEM(err);
        b->cap_bals = ncap;
    }
    b->bal_acct[n] = ai;
    b->bal_asset[n] = si;
    b->bal_amt[n] = amount;
    b->n_bals++;
    return XCR_OK;
}

xcr_status xcr_book_add_position(xcr_book *b, const char *account,
                                 const char *instrument, double size,
                                 double entry_price, double isolated_margin,
                                 const xcr_loc *loc, xcr_error *err)
{
    TRY(check_mutable(b, err));
    uint32_t ai = 0;
    TRY(resolve_account(b, account, loc, "account", &ai, err));
    TRY(need_id(instrument, loc, "instrument", err));
    long ii = xcr__strmap_get(&b->inst_map, instrument);
    if (ii < 0)
        return xcr__fail_at(err, XCR_EREF, loc, "instrument",
                            "unknown instrument \"%s\"", instrument);
    TRY(need_finite(size, loc, "size", err));
    const xcr__inst *in = &b->insts[ii];
    if (isnan(entry_price))
        entry_price = in->type == XCR_OPTION ? 0 : in->mark;
    if (in->type == XCR_OPTION)
        TRY(need_nonneg(entry_price, loc, "entry_price", err));
    else
        TRY(need_pos(entry_price, loc, "entry_price", err));
    if (isnan(isolated_margin))
        isolated_margin = 0;
    TRY(need_nonneg(isolated_margin, loc, "isolated_margin", err));
    if (isolated_margin != 0 && b->acct_mode[ai] != XCR_MODE_ISOLATED)
        return xcr__fail_at(err, XCR_EINVAL, loc, "isolated_margin",
                            "only isolated accounts hold isolated margin "
                            "(account \"%s\" is %s)",
                            account, xcr_mode_name(b->acct_mode[ai]));
    size_t n = b->n_pos;
    if (n + 1 > b->cap_pos) {
        size_t ncap = b->cap_pos ? b->cap_pos * 2 : 256, c;
#define GROW_P(arr)                                                            \
    c = b->cap_pos;                                                            \
    if (!XCR__GROW(b->alloc, arr, c, ncap))                                    \
        return NOMEM(err);
        GROW_P(b->pos_acct)
        GROW_P(b->pos_inst)
        GROW_P(b->pos_size)
        GROW_P(b->pos_entry)
        GROW_P(b->pos_iso)
#undef GROW_P
        b->cap_pos = ncap;
    }
    b->pos_acct[n] = ai;
    b->pos_inst[n] = (uint32_t)ii;
    b->pos_size[n] = size;
    b->pos_entry[n] = entry_price;
    b->pos_iso[n] = isolated_margin;
    b->n_pos++;
    return XCR_OK;
}
