/* Account definitions of the live monitor: parsing an upsert body (spec §1
 * ACCOUNT), its normalised JSON (the logged form), copying a book's
 * definitions into a new builder (overlay and compaction). */
#include "monitor_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* MARK: life cycle ---------------------------------------------------------- */

void xcr_account_upsert_free(xcr_account_upsert *u)
{
    if (!u)
        return;
    free(u->id);
    free(u->entity);
    free(u->bal_asset);
    free(u->bal_amt);
    free(u->pos_inst);
    free(u->pos_size);
    free(u->pos_entry);
    free(u->pos_iso);
    free(u);
}

const char *xcr_account_upsert_id(const xcr_account_upsert *u)
{
    return u ? u->id : NULL;
}

/* Arrays of n (>= 1 slot so that an empty list is still non-NULL). */
static bool def_alloc(acct_def *d, size_t nbal, size_t npos)
{
    d->bal_asset = calloc(nbal + 1, sizeof *d->bal_asset);
    d->bal_amt = calloc(nbal + 1, sizeof *d->bal_amt);
    d->pos_inst = calloc(npos + 1, sizeof *d->pos_inst);
    d->pos_size = calloc(npos + 1, sizeof *d->pos_size);
    d->pos_entry = calloc(npos + 1, sizeof *d->pos_entry);
    d->pos_iso = calloc(npos + 1, sizeof *d->pos_iso);
    return d->bal_asset && d->bal_amt && d->pos_inst && d->pos_size &&
           d->pos_entry && d->pos_iso;
}

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

acct_def *xcr__def_clone(const acct_def *s)
{
    acct_def *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = (acct_def){0};
    d->mode = s->mode;
    d->emode = s->emode;
    d->nbal = s->nbal;
    d->npos = s->npos;
    d->id = dup_or_null(s->id);
    d->entity = dup_or_null(s->entity);
    if (!d->id || (s->entity && !d->entity) || !def_alloc(d, s->nbal, s->npos)) {
        xcr_account_upsert_free(d);
        return NULL;
    }
    memcpy(d->bal_asset, s->bal_asset, s->nbal * sizeof *d->bal_asset);
    memcpy(d->bal_amt, s->bal_amt, s->nbal * sizeof *d->bal_amt);
    memcpy(d->pos_inst, s->pos_inst, s->npos * sizeof *d->pos_inst);
    memcpy(d->pos_size, s->pos_size, s->npos * sizeof *d->pos_size);
    memcpy(d->pos_entry, s->pos_entry, s->npos * sizeof *d->pos_entry);
    memcpy(d->pos_iso, s->pos_iso, s->npos * sizeof *d->pos_iso);
    return d;
}

acct_def *xcr__def_from_book(const xcr_book *b, size_t i)
{
    acct_def *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    size_t nb = b->bal_off[i + 1] - b->bal_off[i];
    size_t np = b->pos_off[i + 1] - b->pos_off[i];
    d->mode = (xcr_mode)b->acct_mode[i];
    d->emode = b->acct_emode[i];
    d->nbal = nb;
    d->npos = np;
    d->id = dup_or_null(b->acct_id[i]);
    d->entity = dup_or_null(b->acct_entity[i]);
    if (!d->id || (b->acct_entity[i] && !d->entity) || !def_alloc(d, nb, np)) {
        xcr_account_upsert_free(d);
        return NULL;
    }
    for (size_t k = 0; k < nb; k++) {
        d->bal_asset[k] = b->bal_asset[b->bal_off[i] + k];
        d->bal_amt[k] = b->bal_amt[b->bal_off[i] + k];
    }
    for (size_t k = 0; k < np; k++) {
        size_t p = b->pos_off[i] + k;
        d->pos_inst[k] = b->pos_inst[p];
        d->pos_size[k] = b->pos_size[p];
        d->pos_entry[k] = b->pos_entry[p];
        d->pos_iso[k] = b->pos_iso[p];
    }
    return d;
}

/* MARK: parsing ------------------------------------------------------------- */

int xcr__json_depth(const char *t, size_t len)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if (c == ']' || c == '}')
            depth--;
    }
    return max;
}

static xcr_status fail_loc(xcr_error *err, xcr_status code, const char *path,
                           const char *fmt, const char *what)
{
    return xcr__fail(err, code, "request: $%s: %s%s", path, fmt,
                     what ? what : "");
}

static xcr_status num_field(const json_t *o, const char *key, bool required,
                            double dflt, const char *path, double *out,
                            xcr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required)
            return xcr__fail(err, XCR_EINVAL, "request: $%s.%s: missing",
                             path, key);
        *out = dflt;
        return XCR_OK;
    }
    if (!json_is_number(v))
        return xcr__fail(err, XCR_EINVAL, "request: $%s.%s: must be a number",
                         path, key);
    *out = json_number_value(v);
    if (!isfinite(*out))
        return xcr__fail(err, XCR_EINVAL, "request: $%s.%s: must be finite",
                         path, key);
    return XCR_OK;
}

static const char *const account_keys[] = {"id", "mode", "balances",
                                           "positions", "emode", "entity"};
static const char *const position_keys[] = {"instrument", "size",
                                            "entry_price", "isolated_margin"};

static xcr_status only_keys(const json_t *o, const char *const *keys,
                            size_t n, const char *path, xcr_error *err)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = strcmp(k, keys[i]) == 0;
        if (!ok)
            return xcr__fail(err, XCR_EINVAL, "request: $%s: unknown field "
                                              "\"%.64s\"",
                             path, k);
    }
    return XCR_OK;
}

static xcr_status parse_account(const xcr_book *b, const json_t *o,
                                const char *path_id, acct_def *d,
                                xcr_error *err)
{
    if (!json_is_object(o))
        return fail_loc(err, XCR_EINVAL, "", "must be an ACCOUNT object", 0);
    TRY(only_keys(o, account_keys, 6, "", err));
    const json_t *id = json_object_get(o, "id");
    const char *ids = path_id;
    if (id) {
        if (!json_is_string(id) || !xcr__valid_id(json_string_value(id)))
            return fail_loc(err, XCR_EINVAL, ".id",
                            "must be 1-64 characters from [A-Za-z0-9._:/-]",
                            0);
        ids = json_string_value(id);
        if (path_id && strcmp(ids, path_id) != 0)
            return fail_loc(err, XCR_EINVAL, ".id",
                            "does not match the id in the URL", 0);
    }
    if (!ids)
        return fail_loc(err, XCR_EINVAL, ".id", "missing", 0);
    if (!xcr__valid_id(ids))
        return fail_loc(err, XCR_EINVAL, ".id",
                        "must be 1-64 characters from [A-Za-z0-9._:/-]", 0);
    const json_t *mode = json_object_get(o, "mode");
    const char *ms = json_is_string(mode) ? json_string_value(mode) : "";
    if (strcmp(ms, "cross") == 0)
        d->mode = XCR_MODE_CROSS;
    else if (strcmp(ms, "isolated") == 0)
        d->mode = XCR_MODE_ISOLATED;
    else if (strcmp(ms, "portfolio") == 0)
        d->mode = XCR_MODE_PORTFOLIO;
    else if (strcmp(ms, "lending") == 0)
        d->mode = XCR_MODE_LENDING;
    else
        return fail_loc(err, XCR_EINVAL, ".mode",
                        mode ? "must be cross, isolated, portfolio or lending"
                             : "missing",
                        0);
    const json_t *em = json_object_get(o, "emode");
    if (em && !json_is_null(em)) {
        if (!json_is_integer(em) || json_integer_value(em) < 0 ||
            json_integer_value(em) > 255)
            return fail_loc(err, XCR_EINVAL, ".emode",
                            "must be an integer in 0..255", 0);
        d->emode = (int)json_integer_value(em);
        if (d->emode && !xcr__book_emode(b, d->emode))
            return fail_loc(err, XCR_EREF, ".emode",
                            "not in settings.emode_categories", 0);
    }
    const json_t *ent = json_object_get(o, "entity");
    if (ent && !json_is_null(ent)) {
        if (!json_is_string(ent) || !xcr__valid_id(json_string_value(ent)))
            return fail_loc(err, XCR_EINVAL, ".entity",
                            "must be 1-64 characters from [A-Za-z0-9._:/-]",
                            0);
        d->entity = dup_or_null(json_string_value(ent));
        if (!d->entity)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    d->id = dup_or_null(ids);
    if (!d->id)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    const json_t *bal = json_object_get(o, "balances");
    const json_t *pos = json_object_get(o, "positions");
    if (bal && !json_is_null(bal) && !json_is_object(bal))
        return fail_loc(err, XCR_EINVAL, ".balances",
                        "must be an object {symbol: amount}", 0);
    if (pos && !json_is_null(pos) && !json_is_array(pos))
        return fail_loc(err, XCR_EINVAL, ".positions", "must be an array", 0);
    size_t nb = json_is_object(bal) ? json_object_size(bal) : 0;
    size_t np = json_is_array(pos) ? json_array_size(pos) : 0;
    if (nb > b->n_assets || np > 100000)
        return fail_loc(err, XCR_EINVAL, "", "too many balances or positions",
                        0);
    if (!def_alloc(d, nb, np))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    const char *sym;
    const json_t *amt;
    size_t k = 0;
    json_object_foreach((json_t *)(uintptr_t)bal, sym, amt)
    {
        long a = xcr_book_find_asset(b, sym);
        if (a < 0)
            return xcr__fail(err, XCR_EREF,
                             "request: $.balances.%.64s: unknown asset", sym);
        if (!json_is_number(amt) || !isfinite(json_number_value(amt)))
            return xcr__fail(err, XCR_EINVAL,
                             "request: $.balances.%.64s: must be a finite "
                             "number",
                             sym);
        d->bal_asset[k] = (uint32_t)a;
        d->bal_amt[k] = json_number_value(amt);
        k++;
    }
    d->nbal = k;
    for (k = 0; k < np; k++) {
        const json_t *p = json_array_get(pos, k);
        char path[64];
        snprintf(path, sizeof path, ".positions[%zu]", k);
        if (!json_is_object(p))
            return fail_loc(err, XCR_EINVAL, path, "must be an object", 0);
        TRY(only_keys(p, position_keys, 4, path, err));
        const json_t *in = json_object_get(p, "instrument");
        long ii = json_is_string(in)
                      ? xcr_book_find_instrument(b, json_string_value(in))
                      : -1;
        if (ii < 0)
            return xcr__fail(err, in ? XCR_EREF : XCR_EINVAL,
                             "request: $%s.instrument: %s", path,
                             in ? "unknown instrument" : "missing");
        d->pos_inst[k] = (uint32_t)ii;
        TRY(num_field(p, "size", true, 0, path, &d->pos_size[k], err));
        TRY(num_field(p, "entry_price", false, NAN, path, &d->pos_entry[k],
                      err));
        TRY(num_field(p, "isolated_margin", false, 0, path, &d->pos_iso[k],
                      err));
    }
    d->npos = np;
    return XCR_OK;
}

xcr_status xcr_account_upsert_parse(const xcr_book *b, const char *text,
                                    size_t len, const char *path_id,
                                    xcr_account_upsert **out, xcr_error *err)
{
    if (!b || !text || !out)
        return xcr__fail(err, XCR_EINVAL, "book, text and output are "
                                          "required");
    *out = NULL;
    if (xcr__json_depth(text, len) > XCR__MAX_JSON_DEPTH)
        return xcr__fail(err, XCR_EPARSE, "request: JSON nested deeper than "
                                          "%d levels",
                         XCR__MAX_JSON_DEPTH);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__fail(err, XCR_EPARSE, "request: line %d column %d: %s",
                         je.line, je.column, je.text);
    acct_def *d = calloc(1, sizeof *d);
    xcr_status s = d ? parse_account(b, root, path_id, d, err)
                     : xcr__fail(err, XCR_ENOMEM, "out of memory");
    json_decref(root);
    if (s != XCR_OK) {
        xcr_account_upsert_free(d);
        return s;
    }
    *out = d;
    return XCR_OK;
}

/* MARK: normalised JSON ---------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *s, const char *t)
{
    size_t n = strlen(t);
    if (s->oom)
        return;
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        while (cap < s->n + n + 1)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (!q) {
            s->oom = true;
            return;
        }
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->n, t, n + 1);
    s->n += n;
}

static void sb_num(sbuf *s, double v)
{
    char buf[40];
    xcr__fmt_double(v, buf, sizeof buf);
    sb_put(s, buf);
}

char *xcr__def_json(const xcr_book *b, const acct_def *d)
{
    sbuf s = {0};
    sb_put(&s, "{\"id\": \"");
    sb_put(&s, d->id);
    sb_put(&s, "\", \"mode\": \"");
    sb_put(&s, xcr_mode_name(d->mode));
    sb_put(&s, "\"");
    if (d->emode) {
        char e[24];
        snprintf(e, sizeof e, ", \"emode\": %d", d->emode);
        sb_put(&s, e);
    }
    if (d->entity) {
        sb_put(&s, ", \"entity\": \"");
        sb_put(&s, d->entity);
        sb_put(&s, "\"");
    }
    sb_put(&s, ", \"balances\": {");
    for (size_t k = 0; k < d->nbal; k++) {
        sb_put(&s, k ? ", \"" : "\"");
        sb_put(&s, b->assets[d->bal_asset[k]].symbol);
        sb_put(&s, "\": ");
        sb_num(&s, d->bal_amt[k]);
    }
    sb_put(&s, "}, \"positions\": [");
    for (size_t k = 0; k < d->npos; k++) {
        sb_put(&s, k ? ", {\"instrument\": \"" : "{\"instrument\": \"");
        sb_put(&s, b->insts[d->pos_inst[k]].id);
        sb_put(&s, "\", \"size\": ");
        sb_num(&s, d->pos_size[k]);
        if (!isnan(d->pos_entry[k])) {
            sb_put(&s, ", \"entry_price\": ");
            sb_num(&s, d->pos_entry[k]);
        }
        if (d->pos_iso[k] != 0) {
            sb_put(&s, ", \"isolated_margin\": ");
            sb_num(&s, d->pos_iso[k]);
        }
        sb_put(&s, "}");
    }
    sb_put(&s, "]}");
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}

/* MARK: building books ------------------------------------------------------ */

xcr_status xcr__book_copy_header(const xcr_book *src, xcr_book **out,
                                 xcr_error *err)
{
    xcr_book *b = NULL;
    if (xcr_book_new(src->alloc, &b) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr_status s = XCR_OK;
    xcr_tier_def *td = NULL;
    xcr_margin_tier_def *mt = NULL;
    if (src->has_as_of)
        s = xcr_book_set_as_of(b, src->as_of_str, NULL, err);
    for (size_t i = 0; i < src->n_assets && s == XCR_OK; i++) {
        const xcr__asset *a = &src->assets[i];
        xcr_asset_def d;
        xcr_asset_def_init(&d);
        d.symbol = a->symbol;
        d.price = a->price;
        d.vol = a->vol;
        d.stable = a->stable;
        free(td);
        td = malloc((a->ntiers + 1) * sizeof *td);
        if (!td) {
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
            break;
        }
        for (uint32_t k = 0; k < a->ntiers; k++) {
            td[k].upper_usd = src->tiers[a->tier_off + k].hi;
            td[k].weight = src->tiers[a->tier_off + k].weight;
        }
        d.tiers = td;
        d.ntiers = a->ntiers;
        d.liability_weight = a->liability_weight;
        d.borrow_imr = a->borrow_imr;
        d.borrow_mmr = a->borrow_mmr;
        d.has_lending = a->has_lending;
        d.ltv = a->ltv;
        d.liquidation_threshold = a->lt;
        d.liquidation_bonus = a->lbonus;
        d.protocol_fee = a->pfee;
        d.emode_category = a->emode;
        d.liquidity = a->liq;
        s = xcr_book_add_asset(b, &d, NULL, err);
    }
    /* settings before instruments: emode categories, portfolio model */
    for (size_t i = 0; i < src->n_settings && s == XCR_OK; i++)
        s = xcr_book_set_setting(b, src->settings[i].key,
                                 src->settings[i].json, NULL, err);
    for (size_t i = 0; i < src->n_insts && s == XCR_OK; i++) {
        const xcr__inst *in = &src->insts[i];
        xcr_instrument_def d;
        xcr_instrument_def_init(&d);
        d.id = in->id;
        d.type = in->type;
        d.underlying = src->assets[in->und].symbol;
        d.settle = in->settle_given ? src->assets[in->settle].symbol : NULL;
        d.inverse = in->inverse;
        d.contract_size = in->cs;
        d.mark_price = in->mark;
        d.expiry = in->expiry_str;
        d.strike = in->strike;
        d.is_call = in->is_call;
        d.iv = in->iv;
        free(mt);
        mt = malloc((in->nmt + 1) * sizeof *mt);
        if (!mt) {
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
            break;
        }
        for (uint32_t k = 0; k < in->nmt; k++) {
            const xcr__mtier *t = &src->mtiers[in->mt_off + k];
            mt[k] = (xcr_margin_tier_def){t->hi, t->imr, t->mmr};
        }
        d.tiers = mt;
        d.ntiers = in->nmt;
        s = xcr_book_add_instrument(b, &d, NULL, err);
    }
    free(td);
    free(mt);
    if (s != XCR_OK) {
        xcr_book_free(b);
        return s;
    }
    *out = b;
    return XCR_OK;
}

xcr_status xcr__book_add_def(xcr_book *b, const acct_def *d, xcr_error *err)
{
    char path[96];
    snprintf(path, sizeof path, "$(account %s)", d->id);
    xcr_loc loc = {1, "request", path, 0, NULL, NULL, 0};
    xcr_account_def ad = {d->id, d->mode, d->emode, d->entity};
    TRY(xcr_book_add_account(b, &ad, &loc, err));
    for (size_t k = 0; k < d->nbal; k++)
        TRY(xcr_book_add_balance(b, d->id, b->assets[d->bal_asset[k]].symbol,
                                 d->bal_amt[k], &loc, err));
    for (size_t k = 0; k < d->npos; k++)
        TRY(xcr_book_add_position(b, d->id, b->insts[d->pos_inst[k]].id,
                                  d->pos_size[k], d->pos_entry[k],
                                  d->pos_iso[k], &loc, err));
    return XCR_OK;
}
