/* Book JSON reader (jansson) and writer (our own emitter, so numbers print in
 * their shortest round-trip form; see c-conventions.md on jansson's 17-digit
 * reals).  Spec §1. */
#include "io.h"

#include "../core/json_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* MARK: reading helpers ---------------------------------------------------------- */

typedef struct rd {
    const char *file;
    xcr_error *err;
} rd;

static xcr_status get_bool(const json_t *o, const char *key,
                           const xcr_loc *loc, int *out, xcr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = 0;
        return XCR_OK;
    }
    if (!json_is_boolean(v))
        return xcr__fail_at(err, XCR_EINVAL, loc, key,
                            "must be true or false");
    *out = json_is_true(v);
    return XCR_OK;
}

static xcr_status get_int(const json_t *o, const char *key,
                          const xcr_loc *loc, int *out, xcr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = 0;
        return XCR_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > 255)
        return xcr__fail_at(err, XCR_EINVAL, loc, key,
                            "must be an integer in 0..255");
    *out = (int)json_integer_value(v);
    return XCR_OK;
}

#define TRY(x) XCR__TRY(x)

/* MARK: assets ---------------------------------------------------------------------- */

static xcr_status read_liquidity(const json_t *q, const xcr_loc *loc,
                                 xcr_asset_def *d, double **levels,
                                 xcr_error *err)
{
    if (!json_is_object(q))
        return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity",
                            "must be an object");
    const char *model = NULL;
    xcr_liquidity_def *l = &d->liquidity;
    TRY(xcr__json_str(q, "model", true, loc, &model, err));
    /* field names are reported as liquidity.<name> */
    char f[3][48];
    const char *names[3] = {NULL, NULL, NULL};
    if (strcmp(model, "linear") == 0) {
        l->model = XCR_LIQ_LINEAR;
        names[0] = "depth_usd";
    } else if (strcmp(model, "sqrt") == 0) {
        l->model = XCR_LIQ_SQRT;
        names[0] = "daily_volume_usd";
        names[1] = "daily_vol";
        names[2] = "coef";
    } else if (strcmp(model, "amm") == 0) {
        l->model = XCR_LIQ_AMM;
        names[0] = "base_reserve";
        names[1] = "quote_reserve";
        names[2] = "fee";
    } else if (strcmp(model, "book") == 0) {
        l->model = XCR_LIQ_BOOK;
    } else {
        return xcr__fail_at(err, XCR_EINVAL, loc, "liquidity.model",
                            "unknown model \"%.40s\" (linear, sqrt, amm, "
                            "book)",
                            model);
    }
    xcr_loc sub = *loc;
    char path[256];
    snprintf(path, sizeof path, "%s.liquidity", loc->path ? loc->path : "$");
    sub.path = path;
    for (int k = 0; k < 3; k++) {
        if (!names[k])
            continue;
        snprintf(f[k], sizeof f[k], "%s", names[k]);
        /* AMM fee defaults to 0; every other parameter is required */
        bool req = !(l->model == XCR_LIQ_AMM && k == 2);
        TRY(xcr__json_num(q, f[k], 0, req, &sub, &l->p[k], err));
    }
    TRY(xcr__json_num(q, "recovery", 0, false, &sub, &l->recovery, err));
    if (l->model == XCR_LIQ_BOOK) {
        const json_t *lv = json_object_get(q, "levels");
        if (!json_is_array(lv) || json_array_size(lv) == 0)
            return xcr__fail_at(err, XCR_EINVAL, &sub, "levels",
                                "must be a non-empty array of [move, "
                                "cumulative_usd]");
        size_t n = json_array_size(lv);
        double *arr = malloc(2 * n * sizeof *arr);
        if (!arr)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const json_t *pair = json_array_get(lv, i);
            if (!json_is_array(pair) || json_array_size(pair) != 2 ||
                !json_is_number(json_array_get(pair, 0)) ||
                !json_is_number(json_array_get(pair, 1))) {
                free(arr);
                char ff[64];
                snprintf(ff, sizeof ff, "levels[%zu]", i);
                return xcr__fail_at(err, XCR_EINVAL, &sub, ff,
                                    "must be [move, cumulative_usd]");
            }
            arr[2 * i] = json_number_value(json_array_get(pair, 0));
            arr[2 * i + 1] = json_number_value(json_array_get(pair, 1));
        }
        l->levels = arr;
        l->nlevels = n;
        *levels = arr;
    }
    return XCR_OK;
}

static xcr_status read_asset(void *book, const json_t *o, const xcr_loc *loc,
                             xcr_error *err)
{
    xcr_book *b = book;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    xcr_asset_def d;
    xcr_asset_def_init(&d);
    TRY(xcr__json_str(o, "symbol", true, loc, &d.symbol, err));
    TRY(xcr__json_num(o, "price", 0, true, loc, &d.price, err));
    TRY(xcr__json_num(o, "vol", 0, false, loc, &d.vol, err));
    TRY(get_bool(o, "stable", loc, &d.stable, err));
    TRY(xcr__json_num(o, "liability_weight", 1, false, loc, &d.liability_weight,
                err));
    TRY(xcr__json_num(o, "borrow_imr", 0, false, loc, &d.borrow_imr, err));
    TRY(xcr__json_num(o, "borrow_mmr", 0, false, loc, &d.borrow_mmr, err));

    xcr_tier_def tiers[64];
    const json_t *ct = json_object_get(o, "collateral_tiers");
    if (ct && !json_is_null(ct)) {
        if (!json_is_array(ct) || json_array_size(ct) == 0)
            return xcr__fail_at(err, XCR_EINVAL, loc, "collateral_tiers",
                                "must be a non-empty array of [upper_usd or "
                                "null, weight]");
        if (json_array_size(ct) > 64)
            return xcr__fail_at(err, XCR_EINVAL, loc, "collateral_tiers",
                                "at most 64 tiers");
        for (size_t i = 0; i < json_array_size(ct); i++) {
            const json_t *t = json_array_get(ct, i);
            char f[48];
            snprintf(f, sizeof f, "collateral_tiers[%zu]", i);
            if (!json_is_array(t) || json_array_size(t) != 2)
                return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                    "must be [upper_usd or null, weight]");
            const json_t *u = json_array_get(t, 0), *w = json_array_get(t, 1);
            if (!(json_is_null(u) || json_is_number(u)) || !json_is_number(w))
                return xcr__fail_at(err, XCR_EINVAL, loc, f,
                                    "must be [upper_usd or null, weight]");
            tiers[i].upper_usd = json_is_null(u) ? INFINITY
                                                 : json_number_value(u);
            tiers[i].weight = json_number_value(w);
        }
        d.tiers = tiers;
        d.ntiers = json_array_size(ct);
    }
    const json_t *lend = json_object_get(o, "lending");
    if (lend && !json_is_null(lend)) {
        if (!json_is_object(lend))
            return xcr__fail_at(err, XCR_EINVAL, loc, "lending",
                                "must be an object");
        char path[256];
        snprintf(path, sizeof path, "%s.lending", loc->path);
        xcr_loc sub = *loc;
        sub.path = path;
        d.has_lending = 1;
        TRY(xcr__json_num(lend, "ltv", 0, false, &sub, &d.ltv, err));
        TRY(xcr__json_num(lend, "liquidation_threshold", 0, false, &sub,
                    &d.liquidation_threshold, err));
        TRY(xcr__json_num(lend, "liquidation_bonus", 0, false, &sub,
                    &d.liquidation_bonus, err));
        TRY(xcr__json_num(lend, "protocol_fee", 0, false, &sub, &d.protocol_fee,
                    err));
        TRY(get_int(lend, "emode_category", &sub, &d.emode_category, err));
    }
    double *levels = NULL;
    const json_t *liq = json_object_get(o, "liquidity");
    if (liq && !json_is_null(liq))
        TRY(read_liquidity(liq, loc, &d, &levels, err));
    xcr_status s = xcr_book_add_asset(b, &d, loc, err);
    free(levels);
    return s;
}

/* MARK: instruments ------------------------------------------------------------------ */

static xcr_status read_instrument(void *book, const json_t *o,
                                  const xcr_loc *loc, xcr_error *err)
{
    xcr_book *b = book;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    xcr_instrument_def d;
    xcr_instrument_def_init(&d);
    const char *type = NULL, *ot = NULL;
    TRY(xcr__json_str(o, "id", true, loc, &d.id, err));
    TRY(xcr__json_str(o, "type", true, loc, &type, err));
    if (strcmp(type, "perp") == 0)
        d.type = XCR_PERP;
    else if (strcmp(type, "future") == 0)
        d.type = XCR_FUTURE;
    else if (strcmp(type, "option") == 0)
        d.type = XCR_OPTION;
    else
        return xcr__fail_at(err, XCR_EINVAL, loc, "type",
                            "must be \"perp\", \"future\" or \"option\"");
    TRY(xcr__json_str(o, "underlying", true, loc, &d.underlying, err));
    TRY(xcr__json_str(o, "settle", false, loc, &d.settle, err));
    TRY(get_bool(o, "inverse", loc, &d.inverse, err));
    TRY(xcr__json_num(o, "contract_size", 1, false, loc, &d.contract_size, err));
    TRY(xcr__json_num(o, "mark_price", 0, false, loc, &d.mark_price, err));
    if (json_object_get(o, "mark_price") &&
        !json_is_null(json_object_get(o, "mark_price")) &&
        !(d.mark_price > 0))
        return xcr__fail_at(err, XCR_EINVAL, loc, "mark_price",
                            "must be a finite number > 0 (got %g)",
                            d.mark_price);
    TRY(xcr__json_str(o, "expiry", false, loc, &d.expiry, err));
    if (d.type == XCR_OPTION) {
        TRY(xcr__json_num(o, "strike", 0, true, loc, &d.strike, err));
        TRY(xcr__json_num(o, "iv", 0, true, loc, &d.iv, err));
        TRY(xcr__json_str(o, "option_type", true, loc, &ot, err));
        if (strcmp(ot, "call") == 0)
            d.is_call = 1;
        else if (strcmp(ot, "put") == 0)
            d.is_call = 0;
        else
            return xcr__fail_at(err, XCR_EINVAL, loc, "option_type",
                                "must be \"call\" or \"put\"");
    }
    xcr_margin_tier_def tiers[64];
    const json_t *mt = json_object_get(o, "margin_tiers");
    if (mt && !json_is_null(mt)) {
        if (!json_is_array(mt) || json_array_size(mt) == 0)
            return xcr__fail_at(err, XCR_EINVAL, loc, "margin_tiers",
                                "must be a non-empty array");
        if (json_array_size(mt) > 64)
            return xcr__fail_at(err, XCR_EINVAL, loc, "margin_tiers",
                                "at most 64 tiers");
        for (size_t i = 0; i < json_array_size(mt); i++) {
            const json_t *t = json_array_get(mt, i);
            char path[256];
            snprintf(path, sizeof path, "%s.margin_tiers[%zu]", loc->path, i);
            xcr_loc sub = *loc;
            sub.path = path;
            if (!json_is_object(t))
                return xcr__fail_at(err, XCR_EINVAL, &sub, NULL,
                                    "must be an object {notional_max, imr, "
                                    "mmr}");
            TRY(xcr__json_num(t, "notional_max", INFINITY, false, &sub,
                        &tiers[i].notional_max, err));
            TRY(xcr__json_num(t, "imr", 0, true, &sub, &tiers[i].imr, err));
            TRY(xcr__json_num(t, "mmr", 0, true, &sub, &tiers[i].mmr, err));
        }
        d.tiers = tiers;
        d.ntiers = json_array_size(mt);
    }
    return xcr_book_add_instrument(b, &d, loc, err);
}

/* MARK: accounts ---------------------------------------------------------------------- */

static xcr_status read_account(void *book, const json_t *o,
                               const xcr_loc *loc, xcr_error *err)
{
    xcr_book *b = book;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    xcr_account_def d = {0};
    const char *mode = NULL;
    TRY(xcr__json_str(o, "id", true, loc, &d.id, err));
    TRY(xcr__json_str(o, "mode", true, loc, &mode, err));
    if (strcmp(mode, "cross") == 0)
        d.mode = XCR_MODE_CROSS;
    else if (strcmp(mode, "isolated") == 0)
        d.mode = XCR_MODE_ISOLATED;
    else if (strcmp(mode, "portfolio") == 0)
        d.mode = XCR_MODE_PORTFOLIO;
    else if (strcmp(mode, "lending") == 0)
        d.mode = XCR_MODE_LENDING;
    else
        return xcr__fail_at(err, XCR_EINVAL, loc, "mode",
                            "must be cross, isolated, portfolio or lending");
    TRY(get_int(o, "emode", loc, &d.emode, err));
    /* settings are read before accounts, so the category must be known */
    if (d.emode != 0 && !xcr__book_emode(b, d.emode))
        return xcr__fail_at(err, XCR_EREF, loc, "emode",
                            "emode %d is not in settings.emode_categories",
                            d.emode);
    TRY(xcr__json_str(o, "entity", false, loc, &d.entity, err));
    TRY(xcr_book_add_account(b, &d, loc, err));

    char path[256];
    xcr_loc sub = *loc;
    sub.path = path;
    const json_t *bal = json_object_get(o, "balances");
    if (bal && !json_is_null(bal)) {
        if (!json_is_object(bal))
            return xcr__fail_at(err, XCR_EINVAL, loc, "balances",
                                "must be an object {symbol: amount}");
        snprintf(path, sizeof path, "%s.balances", loc->path);
        const char *sym;
        const json_t *amt;
        json_object_foreach((json_t *)(uintptr_t)bal, sym, amt)
        {
            if (!json_is_number(amt))
                return xcr__fail_at(err, XCR_EINVAL, &sub, sym,
                                    "must be a number");
            /* the asset symbol is the key: name it as the field */
            xcr_status s = xcr_book_add_balance(
                b, d.id, sym, json_number_value(amt), &sub, err);
            /* name the place as the JSON path of the key itself */
            if (s == XCR_EREF)
                return xcr__fail_at(err, s, &sub, sym, "unknown asset \"%s\"",
                                    sym);
            TRY(s);
        }
    }
    const json_t *pos = json_object_get(o, "positions");
    if (pos && !json_is_null(pos)) {
        if (!json_is_array(pos))
            return xcr__fail_at(err, XCR_EINVAL, loc, "positions",
                                "must be an array");
        for (size_t i = 0; i < json_array_size(pos); i++) {
            const json_t *p = json_array_get(pos, i);
            snprintf(path, sizeof path, "%s.positions[%zu]", loc->path, i);
            if (!json_is_object(p))
                return xcr__fail_at(err, XCR_EINVAL, &sub, NULL,
                                    "must be an object");
            const char *inst = NULL;
            double size = 0, entry = NAN, iso = 0;
            TRY(xcr__json_str(p, "instrument", true, &sub, &inst, err));
            TRY(xcr__json_num(p, "size", 0, true, &sub, &size, err));
            TRY(xcr__json_num(p, "entry_price", NAN, false, &sub, &entry, err));
            TRY(xcr__json_num(p, "isolated_margin", 0, false, &sub, &iso, err));
            TRY(xcr_book_add_position(b, d.id, inst, size, entry, iso, &sub,
                                      err));
        }
    }
    return XCR_OK;
}

/* MARK: the whole book ---------------------------------------------------------------- */

static xcr_status read_root(xcr_book *b, const json_t *root, const char *file,
                            xcr_error *err)
{
    xcr_loc top = {1, file, "$", 0, NULL, NULL, 0};
    if (!json_is_object(root))
        return xcr__fail_at(err, XCR_EINVAL, &top, NULL,
                            "a book must be a JSON object");
    const json_t *asof = json_object_get(root, "as_of");
    if (asof && !json_is_null(asof)) {
        if (!json_is_string(asof))
            return xcr__fail_at(err, XCR_EINVAL, &top, "as_of",
                                "must be an ISO 8601 string");
        TRY(xcr_book_set_as_of(b, json_string_value(asof), &top, err));
    }
    TRY(xcr__json_list(root, "assets", file, true, read_asset, b, err));
    TRY(xcr__json_list(root, "instruments", file, false, read_instrument, b,
                       err));
    /* settings before accounts is not required (e-modes are checked at
     * finalize) but it keeps error order natural */
    const json_t *set = json_object_get(root, "settings");
    if (set && !json_is_null(set)) {
        if (!json_is_object(set))
            return xcr__fail_at(err, XCR_EINVAL, &top, "settings",
                                "must be an object");
        xcr_loc sloc = {1, file, "$.settings", 0, NULL, NULL, 0};
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)(uintptr_t)set, key, v)
        {
            char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                          JSON_REAL_PRECISION(17));
            if (!txt)
                return xcr__fail(err, XCR_ENOMEM, "out of memory");
            xcr_status s = xcr_book_set_setting(b, key, txt, &sloc, err);
            free(txt);
            TRY(s);
        }
    }
    TRY(xcr__json_list(root, "accounts", file, true, read_account, b, err));
    xcr_status s = xcr_book_finalize(b, err);
    if (s != XCR_OK)
        xcr__error_prefix(err, file); /* finalize knows no file: name it */
    return s;
}

static xcr_status load_parsed(json_t *root, const char *name,
                              const xcr_allocator *a, xcr_book **out,
                              xcr_error *err)
{
    xcr_book *b = NULL;
    if (xcr_book_new(a, &b) != XCR_OK) {
        json_decref(root);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    xcr_status s = read_root(b, root, name, err);
    json_decref(root);
    if (s != XCR_OK) {
        xcr_book_free(b);
        return s;
    }
    *out = b;
    return XCR_OK;
}

xcr_status xcr_book_load_json_text(const char *text, size_t len,
                                   const char *name,
                                   const xcr_allocator *alloc, xcr_book **out,
                                   xcr_error *err)
{
    if (!text || !out)
        return xcr__fail(err, XCR_EINVAL, "text and out are required");
    *out = NULL;
    if (!name)
        name = "<json>";
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__json_parse_error(name, &je, err);
    return load_parsed(root, name, alloc, out, err);
}

xcr_status xcr__book_load_json_file(const char *path, const xcr_allocator *a,
                                    xcr_book **out, xcr_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__json_parse_error(path, &je, err);
    return load_parsed(root, path, a, out, err);
}

/* MARK: writing ------------------------------------------------------------------------- */

/* A growable text buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *s, const char *t, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->len + n + 1)
            nc *= 2;
        char *np = realloc(s->p, nc);
        if (!np) {
            s->oom = true;
            return;
        }
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->len, t, n);
    s->len += n;
    s->p[s->len] = '\0';
}
static void sb_str(sbuf *s, const char *t) { sb_put(s, t, strlen(t)); }
static void sb_num(sbuf *s, double v)
{
    char buf[40];
    if (!isfinite(v)) {
        sb_str(s, "null");
        return;
    }
    xcr__fmt_double(v, buf, sizeof buf);
    sb_str(s, buf);
}
/* Identifiers and ISO times never need escapes (validated charsets). */
static void sb_q(sbuf *s, const char *t)
{
    sb_put(s, "\"", 1);
    sb_str(s, t);
    sb_put(s, "\"", 1);
}
static void sb_kv(sbuf *s, const char *k, double v)
{
    sb_str(s, ", \"");
    sb_str(s, k);
    sb_str(s, "\": ");
    sb_num(s, v);
}

static void write_asset(sbuf *s, const xcr_book *b, const xcr__asset *a)
{
    sb_str(s, "    {\"symbol\": ");
    sb_q(s, a->symbol);
    sb_kv(s, "price", a->price);
    sb_kv(s, "vol", a->vol);
    sb_str(s, a->stable ? ", \"stable\": true" : ", \"stable\": false");
    sb_str(s, ",\n     \"collateral_tiers\": [");
    for (uint32_t k = 0; k < a->ntiers; k++) {
        const xcr__tier *t = &b->tiers[a->tier_off + k];
        sb_str(s, k ? ", [" : "[");
        sb_num(s, t->hi);
        sb_str(s, ", ");
        sb_num(s, t->weight);
        sb_str(s, "]");
    }
    sb_str(s, "]");
    sb_kv(s, "liability_weight", a->liability_weight);
    sb_kv(s, "borrow_imr", a->borrow_imr);
    sb_kv(s, "borrow_mmr", a->borrow_mmr);
    if (a->has_lending) {
        sb_str(s, ",\n     \"lending\": {\"ltv\": ");
        sb_num(s, a->ltv);
        sb_kv(s, "liquidation_threshold", a->lt);
        sb_kv(s, "liquidation_bonus", a->lbonus);
        sb_kv(s, "protocol_fee", a->pfee);
        sb_kv(s, "emode_category", a->emode);
        sb_str(s, "}");
    }
    const xcr_liquidity_def *q = &a->liq;
    if (q->model != XCR_LIQ_NONE) {
        sb_str(s, ",\n     \"liquidity\": {\"model\": ");
        sb_q(s, xcr_liq_model_name(q->model));
        switch (q->model) {
        case XCR_LIQ_LINEAR:
            sb_kv(s, "depth_usd", q->p[0]);
            break;
        case XCR_LIQ_SQRT:
            sb_kv(s, "daily_volume_usd", q->p[0]);
            sb_kv(s, "daily_vol", q->p[1]);
            sb_kv(s, "coef", q->p[2]);
            break;
        case XCR_LIQ_AMM:
            sb_kv(s, "base_reserve", q->p[0]);
            sb_kv(s, "quote_reserve", q->p[1]);
            sb_kv(s, "fee", q->p[2]);
            break;
        case XCR_LIQ_BOOK:
            sb_str(s, ", \"levels\": [");
            for (size_t i = 0; i < q->nlevels; i++) {
                sb_str(s, i ? ", [" : "[");
                sb_num(s, q->levels[2 * i]);
                sb_str(s, ", ");
                sb_num(s, q->levels[2 * i + 1]);
                sb_str(s, "]");
            }
            sb_str(s, "]");
            break;
        default:
            break;
        }
        sb_kv(s, "recovery", q->recovery);
        sb_str(s, "}");
    }
    sb_str(s, "}");
}

static void write_instrument(sbuf *s, const xcr_book *b, const xcr__inst *in)
{
    sb_str(s, "    {\"id\": ");
    sb_q(s, in->id);
    sb_str(s, ", \"type\": ");
    sb_q(s, xcr_inst_type_name(in->type));
    sb_str(s, ", \"underlying\": ");
    sb_q(s, b->assets[in->und].symbol);
    if (in->settle_given) { /* a defaulted settle stays defaulted */
        sb_str(s, ", \"settle\": ");
        sb_q(s, b->assets[in->settle].symbol);
    }
    sb_str(s, in->inverse ? ", \"inverse\": true" : ", \"inverse\": false");
    sb_kv(s, "contract_size", in->cs);
    sb_kv(s, "mark_price", in->mark);
    if (in->expiry_str) {
        sb_str(s, ", \"expiry\": ");
        sb_q(s, in->expiry_str);
    }
    if (in->type == XCR_OPTION) {
        sb_kv(s, "strike", in->strike);
        sb_str(s, in->is_call ? ", \"option_type\": \"call\""
                              : ", \"option_type\": \"put\"");
        sb_kv(s, "iv", in->iv);
    }
    sb_str(s, ",\n     \"margin_tiers\": [");
    for (uint32_t k = 0; k < in->nmt; k++) {
        const xcr__mtier *t = &b->mtiers[in->mt_off + k];
        sb_str(s, k ? ", {\"notional_max\": " : "{\"notional_max\": ");
        sb_num(s, t->hi);
        sb_kv(s, "imr", t->imr);
        sb_kv(s, "mmr", t->mmr);
        sb_str(s, "}");
    }
    sb_str(s, "]}");
}

static void write_account(sbuf *s, const xcr_book *b, size_t i)
{
    sb_str(s, "    {\"id\": ");
    sb_q(s, b->acct_id[i]);
    sb_str(s, ", \"mode\": ");
    sb_q(s, xcr_mode_name(b->acct_mode[i]));
    if (b->acct_emode[i])
        sb_kv(s, "emode", b->acct_emode[i]);
    if (b->acct_entity[i]) {
        sb_str(s, ", \"entity\": ");
        sb_q(s, b->acct_entity[i]);
    }
    sb_str(s, ", \"balances\": {");
    for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++) {
        if (k > b->bal_off[i])
            sb_str(s, ", ");
        sb_q(s, b->assets[b->bal_asset[k]].symbol);
        sb_str(s, ": ");
        sb_num(s, b->bal_amt[k]);
    }
    sb_str(s, "}, \"positions\": [");
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
        sb_str(s, p > b->pos_off[i] ? ", {\"instrument\": "
                                    : "{\"instrument\": ");
        sb_q(s, b->insts[b->pos_inst[p]].id);
        sb_kv(s, "size", b->pos_size[p]);
        sb_kv(s, "entry_price", b->pos_entry[p]);
        if (b->acct_mode[i] == XCR_MODE_ISOLATED)
            sb_kv(s, "isolated_margin", b->pos_iso[p]);
        sb_str(s, "}");
    }
    sb_str(s, "]}");
}

xcr_status xcr_book_to_json_text(const xcr_book *b, char **out,
                                 xcr_error *err)
{
    if (!b || !out || !b->finalized)
        return xcr__fail(err, XCR_EINVAL, "a finalized book is required");
    sbuf s = {0};
    sb_str(&s, "{\n  \"as_of\": ");
    if (b->has_as_of)
        sb_q(&s, b->as_of_str);
    else
        sb_str(&s, "null");
    sb_str(&s, ",\n  \"assets\": [\n");
    for (size_t i = 0; i < b->n_assets; i++) {
        write_asset(&s, b, &b->assets[i]);
        sb_str(&s, i + 1 < b->n_assets ? ",\n" : "\n");
    }
    sb_str(&s, "  ],\n  \"instruments\": [\n");
    for (size_t i = 0; i < b->n_insts; i++) {
        write_instrument(&s, b, &b->insts[i]);
        sb_str(&s, i + 1 < b->n_insts ? ",\n" : "\n");
    }
    sb_str(&s, "  ],\n  \"accounts\": [\n");
    for (size_t i = 0; i < b->n_accts; i++) {
        write_account(&s, b, i);
        sb_str(&s, i + 1 < b->n_accts ? ",\n" : "\n");
    }
    sb_str(&s, "  ],\n  \"settings\": {");
    for (size_t i = 0; i < b->n_settings; i++) {
        sb_str(&s, i ? ",\n    " : "\n    ");
        sb_q(&s, b->settings[i].key);
        sb_str(&s, ": ");
        sb_str(&s, b->settings[i].json);
    }
    sb_str(&s, b->n_settings ? "\n  }\n}\n" : "}\n}\n");
    if (s.oom) {
        free(s.p);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    *out = s.p;
    return XCR_OK;
}

xcr_status xcr__book_save_json_file(const xcr_book *b, const char *path,
                                    xcr_error *err)
{
    char *text = NULL;
    xcr_status s = xcr_book_to_json_text(b, &text, err);
    if (s != XCR_OK)
        return s;
    /* Write beside the target and rename, so a failure leaves nothing. */
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        free(text);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    size_t len = strlen(text);
    bool ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return xcr__fail(err, XCR_EIO, "%s: cannot write the book", path);
    }
    free(tmp);
    return XCR_OK;
}
