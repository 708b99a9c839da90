/* The tabular book (spec §3): schema, loading rows into the builder and
 * writing a book out as rows.  Used by the CSV folder (book_csv.c) and the
 * SQLite database (book_sqlite.c).
 *
 * Conventions (the spec says "empty cell = default"; these fill its gaps):
 *  - Empty cell (CSV empty or blank, SQLite NULL or '') = the field's
 *    default.
 *    A table may also leave out an optional column entirely.
 *  - Numbers: a whole-cell decimal number ([+-]digits[.digits][e±digits]);
 *    "nan", "inf", hex and trailing text are rejected, as is anything that
 *    overflows to infinity.  SQLite INTEGER/REAL cells are taken as they are,
 *    and TEXT cells (e.g. after `.import`) are parsed like CSV cells.
 *  - Booleans: true/false/1/0 (any letter case); written as true/false
 *    (SQLite: 1/0).
 *  - Integers (emode, emode_category): a number with no fractional part,
 *    so "1.0" from a float column is accepted.
 *  - assets: the asset has a `lending` object iff any of ltv,
 *    liquidation_threshold, liquidation_bonus, protocol_fee, emode_category
 *    is non-empty; the others then default to 0.
 *  - asset_tiers / margin_tiers: rows of one symbol / instrument are its
 *    tiers in table order; an empty upper_usd / notional_max is unbounded
 *    (JSON null) and may only be the last.  An asset or instrument without
 *    rows gets the spec default (which is also not written out).
 *  - liquidity: at most one row per symbol.  linear: p1 = depth_usd;
 *    sqrt: p1 = daily_volume_usd, p2 = daily_vol, p3 = coef;
 *    amm: p1 = base_reserve, p2 = quote_reserve, p3 = fee;
 *    book: p1 = the levels as JSON text [[move, cumulative_usd], ...].
 *    Every parameter of the model is required except the AMM fee (default
 *    0, as in the JSON form); ones the model does not use must be empty.
 *    recovery defaults to 0.
 *  - instruments: empty settle = the spec default; empty mark_price = the
 *    underlying's price; strike, option_type (call/put) and iv are given on
 *    options only, and are then required (as in the JSON form).
 *  - positions: empty entry_price = the mark (no unrealised PnL); empty
 *    isolated_margin = 0.
 *  - settings: one row per key, value = the key's JSON.  The book's as_of
 *    travels as key "as_of" with a JSON string; a bare ISO 8601 time is
 *    accepted too (easier to type into a spreadsheet).  A row with an empty
 *    value is ignored; a key given twice is an error.
 *  - A reference to an unknown asset / instrument / account is an error
 *    located at the referring row, as is a duplicate id.
 *  - Ids and enum names are case-sensitive; column names are matched
 *    exactly; unknown columns are ignored.
 */
#include "book_tables.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MARK: schema ------------------------------------------------------------------- */

enum { AS_SYMBOL, AS_PRICE, AS_VOL, AS_STABLE, AS_LW, AS_BIMR, AS_BMMR,
       AS_LTV, AS_LT, AS_LB, AS_PF, AS_EMODE, AS_N };
static const xcr__column assets_cols[AS_N] = {
    {"symbol", "TEXT NOT NULL PRIMARY KEY", true},
    {"price", "REAL", true},
    {"vol", "REAL", false},
    {"stable", "INTEGER", false},
    {"liability_weight", "REAL", false},
    {"borrow_imr", "REAL", false},
    {"borrow_mmr", "REAL", false},
    {"ltv", "REAL", false},
    {"liquidation_threshold", "REAL", false},
    {"liquidation_bonus", "REAL", false},
    {"protocol_fee", "REAL", false},
    {"emode_category", "INTEGER", false},
};

enum { AT_SYMBOL, AT_UPPER, AT_WEIGHT, AT_N };
static const xcr__column tiers_cols[AT_N] = {
    {"symbol", "TEXT NOT NULL", true},
    {"upper_usd", "REAL", true},
    {"weight", "REAL", true},
};

enum { IN_ID, IN_TYPE, IN_UND, IN_SETTLE, IN_INVERSE, IN_CS, IN_MARK,
       IN_EXPIRY, IN_STRIKE, IN_OTYPE, IN_IV, IN_N };
static const xcr__column inst_cols[IN_N] = {
    {"id", "TEXT NOT NULL PRIMARY KEY", true},
    {"type", "TEXT NOT NULL", true},
    {"underlying", "TEXT NOT NULL", true},
    {"settle", "TEXT", false},
    {"inverse", "INTEGER", false},
    {"contract_size", "REAL", false},
    {"mark_price", "REAL", false},
    {"expiry", "TEXT", false},
    {"strike", "REAL", false},
    {"option_type", "TEXT", false},
    {"iv", "REAL", false},
};

enum { MT_INST, MT_NMAX, MT_IMR, MT_MMR, MT_N };
static const xcr__column mtiers_cols[MT_N] = {
    {"instrument", "TEXT NOT NULL", true},
    {"notional_max", "REAL", true},
    {"imr", "REAL", true},
    {"mmr", "REAL", true},
};

enum { AC_ID, AC_MODE, AC_EMODE, AC_ENTITY, AC_N };
static const xcr__column acct_cols[AC_N] = {
    {"id", "TEXT NOT NULL PRIMARY KEY", true},
    {"mode", "TEXT NOT NULL", true},
    {"emode", "INTEGER", false},
    {"entity", "TEXT", false},
};

enum { BA_ACCT, BA_SYMBOL, BA_AMOUNT, BA_N };
static const xcr__column bal_cols[BA_N] = {
    {"account", "TEXT NOT NULL", true},
    {"symbol", "TEXT NOT NULL", true},
    {"amount", "REAL NOT NULL", true},
};

enum { PO_ACCT, PO_INST, PO_SIZE, PO_ENTRY, PO_ISO, PO_N };
static const xcr__column pos_cols[PO_N] = {
    {"account", "TEXT NOT NULL", true},
    {"instrument", "TEXT NOT NULL", true},
    {"size", "REAL NOT NULL", true},
    {"entry_price", "REAL", false},
    {"isolated_margin", "REAL", false},
};

enum { LQ_SYMBOL, LQ_MODEL, LQ_P1, LQ_P2, LQ_P3, LQ_RECOVERY, LQ_N };
static const xcr__column liq_cols[LQ_N] = {
    {"symbol", "TEXT NOT NULL PRIMARY KEY", true},
    {"model", "TEXT NOT NULL", true},
    {"p1", "REAL", false}, /* TEXT (JSON levels) for the book model */
    {"p2", "REAL", false},
    {"p3", "REAL", false},
    {"recovery", "REAL", false},
};

enum { SE_KEY, SE_VALUE, SE_N };
static const xcr__column set_cols[SE_N] = {
    {"key", "TEXT NOT NULL PRIMARY KEY", true},
    {"value", "TEXT", true},
};

#define TABLE(n, c, req) {n, c, sizeof c / sizeof c[0], req}
const xcr__table xcr__tables[XCR__T_COUNT] = {
    [XCR__T_ASSETS] = TABLE("assets", assets_cols, true),
    [XCR__T_ASSET_TIERS] = TABLE("asset_tiers", tiers_cols, false),
    [XCR__T_INSTRUMENTS] = TABLE("instruments", inst_cols, false),
    [XCR__T_MARGIN_TIERS] = TABLE("margin_tiers", mtiers_cols, false),
    [XCR__T_ACCOUNTS] = TABLE("accounts", acct_cols, true),
    [XCR__T_BALANCES] = TABLE("balances", bal_cols, false),
    [XCR__T_POSITIONS] = TABLE("positions", pos_cols, false),
    [XCR__T_LIQUIDITY] = TABLE("liquidity", liq_cols, false),
    [XCR__T_SETTINGS] = TABLE("settings", set_cols, false),
};
#undef TABLE

#define TRY(x)                                                                 \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

/* MARK: reading cells ------------------------------------------------------------- */

/* One open table with its schema columns mapped to the source's columns. */
typedef struct rd {
    const xcr__tab_src *src;
    void *tab;
    const xcr__table *t;
    long map[XCR__TABLE_MAX_COLS];
} rd;

static const xcr_loc *rd_loc(const rd *r) { return r->src->loc(r->tab); }

static void rd_close(rd *r)
{
    if (r->tab)
        r->src->close(r->tab);
    r->tab = NULL;
}

/* Open a table; r->tab stays NULL when an optional table is absent. */
static xcr_status rd_open(rd *r, const xcr__tab_src *src, int tid,
                          xcr_error *err)
{
    r->src = src;
    r->t = &xcr__tables[tid];
    r->tab = NULL;
    TRY(src->open(src->ctx, r->t->name, r->t->required, &r->tab, err));
    if (!r->tab)
        return XCR_OK;
    size_t n = src->ncols(r->tab);
    for (size_t k = 0; k < r->t->ncols; k++) {
        r->map[k] = -1;
        for (size_t i = 0; i < n && r->map[k] < 0; i++) {
            const char *name = src->colname(r->tab, i);
            if (name && strcmp(name, r->t->cols[k].name) == 0)
                r->map[k] = (long)i;
        }
        if (r->map[k] < 0 && r->t->cols[k].required) {
            const xcr_loc *l = rd_loc(r);
            if (l->kind == 3)
                return xcr__fail(err, XCR_EPARSE,
                                 "%s: table %s: missing column %s", l->file,
                                 r->t->name, r->t->cols[k].name);
            return xcr__fail(err, XCR_EPARSE,
                             "%s: missing required column \"%s\"", l->file,
                             r->t->cols[k].name);
        }
    }
    return XCR_OK;
}

static xcr_status rd_next(rd *r, bool *got, xcr_error *err)
{
    return r->src->next(r->tab, got, err);
}

static void rd_cell(const rd *r, size_t k, xcr__cell *c)
{
    memset(c, 0, sizeof *c);
    if (r->map[k] >= 0)
        r->src->cell(r->tab, (size_t)r->map[k], c);
    if (c->type == XCR__CELL_TEXT && (!c->text || !c->text[0]))
        c->type = XCR__CELL_NULL;
}

static bool rd_has(const rd *r, size_t k)
{
    xcr__cell c;
    rd_cell(r, k, &c);
    return c.type != XCR__CELL_NULL;
}

static xcr_status bad(const rd *r, size_t k, xcr_status code,
                      xcr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A located error about column k of the current row. */
static xcr_status bad(const rd *r, size_t k, xcr_status code, xcr_error *err,
                      const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return xcr__fail_at(err, code, rd_loc(r), r->t->cols[k].name, "%s",
                        what);
}

/* The decimal grammar [+-]digits[.digits][(e|E)[+-]digits] (or .digits),
 * checked before strtod so that nan/inf/hex/blank never get through. */
static bool parse_number(const char *s, double *out)
{
    const char *p = s;
    size_t digits = 0;
    if (*p == '+' || *p == '-')
        p++;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (end != p) /* a locale whose decimal point is not '.' */
        return false;
    *out = v;
    return true;
}

static bool ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return *a == *b;
}

static bool looks_nonfinite(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    return ascii_ieq(s, "nan") || ascii_ieq(s, "inf") ||
           ascii_ieq(s, "infinity");
}

static xcr_status get_num(const rd *r, size_t k, bool required, double dflt,
                          double *out, xcr_error *err)
{
    xcr__cell c;
    rd_cell(r, k, &c);
    double v = 0;
    switch (c.type) {
    case XCR__CELL_NULL:
        if (required)
            return bad(r, k, XCR_EINVAL, err, "missing (required)");
        *out = dflt;
        return XCR_OK;
    case XCR__CELL_INT:
    case XCR__CELL_BOOL:
        *out = (double)c.i;
        return XCR_OK;
    case XCR__CELL_REAL:
        v = c.d;
        break;
    case XCR__CELL_TEXT:
        if (looks_nonfinite(c.text))
            return bad(r, k, XCR_EINVAL, err,
                       "must be a finite number (got \"%.40s\")", c.text);
        if (!parse_number(c.text, &v))
            return bad(r, k, XCR_EINVAL, err, "not a number: \"%.40s\"",
                       c.text);
        break;
    default:
        return bad(r, k, XCR_EINVAL, err, "not a number (binary data)");
    }
    if (!isfinite(v))
        return bad(r, k, XCR_EINVAL, err,
                   "must be a finite number (out of range)");
    *out = v;
    return XCR_OK;
}

static xcr_status get_int(const rd *r, size_t k, int dflt, int *out,
                          xcr_error *err)
{
    double v;
    TRY(get_num(r, k, false, dflt, &v, err));
    if (v != floor(v) || v < INT_MIN || v > INT_MAX)
        return bad(r, k, XCR_EINVAL, err, "must be an integer (got %g)", v);
    *out = (int)v;
    return XCR_OK;
}

static xcr_status get_bool(const rd *r, size_t k, int *out, xcr_error *err)
{
    xcr__cell c;
    rd_cell(r, k, &c);
    switch (c.type) {
    case XCR__CELL_NULL:
        *out = 0;
        return XCR_OK;
    case XCR__CELL_INT:
    case XCR__CELL_BOOL:
        if (c.i == 0 || c.i == 1) {
            *out = (int)c.i;
            return XCR_OK;
        }
        break;
    case XCR__CELL_REAL:
        if (c.d == 0 || c.d == 1) {
            *out = c.d == 1;
            return XCR_OK;
        }
        break;
    case XCR__CELL_TEXT:
        if (ascii_ieq(c.text, "true") || strcmp(c.text, "1") == 0) {
            *out = 1;
            return XCR_OK;
        }
        if (ascii_ieq(c.text, "false") || strcmp(c.text, "0") == 0) {
            *out = 0;
            return XCR_OK;
        }
        break;
    default:
        break;
    }
    return bad(r, k, XCR_EINVAL, err, "must be true or false (or 1 / 0)");
}

/* Text of column k; *out = NULL when empty and not required.  The text is
 * valid until the next row. */
static xcr_status get_text(const rd *r, size_t k, bool required,
                           const char **out, xcr_error *err)
{
    xcr__cell c;
    rd_cell(r, k, &c);
    *out = NULL;
    switch (c.type) {
    case XCR__CELL_NULL:
        if (required)
            return bad(r, k, XCR_EINVAL, err, "missing (required)");
        return XCR_OK;
    case XCR__CELL_TEXT:
    case XCR__CELL_INT: /* integer-looking ids stay strings */
        *out = c.text;
        return XCR_OK;
    default:
        return bad(r, k, XCR_EINVAL, err, "must be text");
    }
}

static xcr_status get_enum(const rd *r, size_t k, const char *const *names,
                           int n, int *out, xcr_error *err)
{
    const char *s;
    TRY(get_text(r, k, true, &s, err));
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return XCR_OK;
        }
    char list[160] = "";
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                 names[i]);
    }
    return bad(r, k, XCR_EINVAL, err, "must be one of %s (got \"%.40s\")",
               list, s);
}

/* MARK: loading --------------------------------------------------------------------- */

/* Strings that must outlive a row (ids of rows kept until all of a table's
 * companion rows are read). */
typedef struct pool {
    const xcr_allocator *a;
    char **s;
    size_t n, cap;
} pool;

static char *pool_dup(pool *p, const char *s)
{
    if (!s)
        return NULL;
    if (!XCR__GROW(p->a, p->s, p->cap, p->n + 1))
        return NULL;
    char *d = xcr__strdup(p->a, s);
    if (d)
        p->s[p->n++] = d;
    return d;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        xcr__free(p->a, p->s[i]);
    xcr__free(p->a, p->s);
    p->s = NULL;
    p->n = p->cap = 0;
}

typedef struct ld {
    const xcr__tab_src *src;
    xcr_book *b;
    const xcr_allocator *a;
    pool strs;
} ld;

/* A tier row waiting for its owner: collateral (upper, weight) or margin
 * (notional_max, imr, mmr). */
typedef struct tier_row {
    uint32_t owner;
    double v[3];
} tier_row;

/* Group tier rows by owner, keeping table order within an owner (stable
 * counting sort).  off gets n_owners + 1 entries. */
static xcr_status group_tiers(const xcr_allocator *a, const tier_row *rows,
                              size_t nrows, size_t n_owners, uint32_t **off,
                              uint32_t **order)
{
    *off = xcr__calloc(a, n_owners + 1, sizeof **off);
    *order = xcr__malloc(a, (nrows ? nrows : 1) * sizeof **order);
    uint32_t *fill = xcr__calloc(a, n_owners + 1, sizeof *fill);
    if (!*off || !*order || !fill) {
        xcr__free(a, fill);
        return XCR_ENOMEM;
    }
    for (size_t i = 0; i < nrows; i++)
        (*off)[rows[i].owner + 1]++;
    for (size_t k = 0; k < n_owners; k++)
        (*off)[k + 1] += (*off)[k];
    memcpy(fill, *off, (n_owners + 1) * sizeof *fill);
    for (size_t i = 0; i < nrows; i++)
        (*order)[fill[rows[i].owner]++] = (uint32_t)i;
    xcr__free(a, fill);
    return XCR_OK;
}

/* Read the rows of an optional tier table: column 0 names the owner (looked
 * up in `owners`), column 1 is the upper bound (empty = unbounded), columns
 * 2.. (nvals - 1 of them) are rates in [0, 1].  Upper bounds must increase
 * per owner and only the last may be unbounded. */
static xcr_status read_tiers(ld *L, int tid, const xcr__strmap *owners,
                             const char *owner_kind, size_t n_owners,
                             tier_row **rows, size_t *nrows, xcr_error *err)
{
    rd T = {0};
    size_t cap = 0;
    double *last = xcr__calloc(L->a, n_owners ? n_owners : 1, sizeof *last);
    if (!last)
        return NOMEM(err);
    xcr_status s = rd_open(&T, L->src, tid, err);
    const size_t nvals = T.t->ncols - 1;
    bool got = true;
    while (s == XCR_OK && T.tab) {
        s = rd_next(&T, &got, err);
        if (s != XCR_OK || !got)
            break;
        const char *name;
        if ((s = get_text(&T, 0, true, &name, err)) != XCR_OK)
            break;
        long o = xcr__strmap_get(owners, name);
        if (o < 0) {
            s = bad(&T, 0, XCR_EREF, err, "unknown %s \"%.64s\"", owner_kind,
                    name);
            break;
        }
        tier_row row = {(uint32_t)o, {INFINITY, 0, 0}};
        if ((s = get_num(&T, 1, false, INFINITY, &row.v[0], err)) != XCR_OK)
            break;
        if (isinf(last[o])) {
            s = bad(&T, 1, XCR_EINVAL, err,
                    "a tier follows the unbounded tier of \"%.64s\" (only "
                    "the last may be unbounded)",
                    name);
            break;
        }
        if (!(row.v[0] > last[o])) {
            s = bad(&T, 1, XCR_EINVAL, err,
                    "must be > 0 and above the previous tier of \"%.64s\" "
                    "(got %g)",
                    name, row.v[0]);
            break;
        }
        last[o] = row.v[0];
        for (size_t k = 2; k <= nvals && s == XCR_OK; k++) {
            double v;
            s = get_num(&T, k, true, 0, &v, err);
            if (s == XCR_OK && (v < 0 || v > 1))
                s = bad(&T, k, XCR_EINVAL, err, "must be in [0, 1] (got %g)",
                        v);
            row.v[k - 1] = v;
        }
        if (s != XCR_OK)
            break;
        if (!XCR__GROW(L->a, *rows, cap, *nrows + 1)) {
            s = NOMEM(err);
            break;
        }
        (*rows)[(*nrows)++] = row;
    }
    rd_close(&T);
    xcr__free(L->a, last);
    return s;
}

/* A book-model depth profile from its JSON text, checked as the builder
 * does but located at the liquidity row. */
static xcr_status parse_levels(const rd *Q, const char *text,
                               const xcr_allocator *a,
                               xcr_liquidity_def *q, double **owned,
                               xcr_error *err)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        return bad(Q, LQ_P1, XCR_EPARSE, err,
                   "book levels are not valid JSON (%s); expected "
                   "[[move, cumulative_usd], ...]",
                   je.text);
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n == 0) {
        json_decref(v);
        return bad(Q, LQ_P1, XCR_EINVAL, err,
                   "book levels must be a non-empty JSON array [[move, "
                   "cumulative_usd], ...]");
    }
    double *lv = xcr__calloc(a, 2 * n, sizeof *lv);
    if (!lv) {
        json_decref(v);
        return NOMEM(err);
    }
    xcr_status s = XCR_OK;
    double pm = 0, pu = 0;
    for (size_t i = 0; i < n && s == XCR_OK; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_array(e) || json_array_size(e) != 2 ||
            !json_is_number(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1))) {
            s = bad(Q, LQ_P1, XCR_EINVAL, err,
                    "book level %zu: expected [move, cumulative_usd]", i);
            break;
        }
        double mv = json_number_value(json_array_get(e, 0));
        double cu = json_number_value(json_array_get(e, 1));
        if (!isfinite(mv) || mv >= 0 || mv <= -1 || !(mv < pm))
            s = bad(Q, LQ_P1, XCR_EINVAL, err,
                    "book level %zu: move must be in (-1, 0) and strictly "
                    "decreasing",
                    i);
        else if (!isfinite(cu) || !(cu > pu))
            s = bad(Q, LQ_P1, XCR_EINVAL, err,
                    "book level %zu: cumulative_usd must be finite and "
                    "strictly increasing",
                    i);
        lv[2 * i] = mv;
        lv[2 * i + 1] = cu;
        pm = mv;
        pu = cu;
    }
    json_decref(v);
    if (s != XCR_OK) {
        xcr__free(a, lv);
        return s;
    }
    q->levels = lv;
    q->nlevels = n;
    *owned = lv;
    return XCR_OK;
}

enum { P_POS, P_NONNEG, P_FEE, P_UNUSED };

/* One liquidity row into q (model and parameters, checked here so that
 * errors point at this row rather than at the asset). */
static xcr_status read_liquidity(const rd *Q, const xcr_allocator *a,
                                 xcr_liquidity_def *q, double **owned,
                                 xcr_error *err)
{
    static const char *const models[] = {"linear", "sqrt", "amm", "book"};
    static const char *const meaning[4][3] = {
        {"depth_usd", NULL, NULL},
        {"daily_volume_usd", "daily_vol", "coef"},
        {"base_reserve", "quote_reserve", "fee"},
        {"levels", NULL, NULL},
    };
    static const int rule[4][3] = {
        {P_POS, P_UNUSED, P_UNUSED},
        {P_POS, P_NONNEG, P_NONNEG},
        {P_POS, P_POS, P_FEE},
        {P_UNUSED /* text, below */, P_UNUSED, P_UNUSED},
    };
    int m;
    TRY(get_enum(Q, LQ_MODEL, models, 4, &m, err));
    q->model = (xcr_liq_model)(m + 1);
    for (int k = 0; k < 3; k++) {
        size_t col = LQ_P1 + (size_t)k;
        if (m == 3 && k == 0)
            continue;
        if (rule[m][k] == P_UNUSED) {
            if (rd_has(Q, col))
                return bad(Q, col, XCR_EINVAL, err,
                           "not used by the %s model (leave it empty)",
                           models[m]);
            continue;
        }
        double v;
        xcr__cell c;
        rd_cell(Q, col, &c);
        if (c.type == XCR__CELL_NULL && rule[m][k] == P_FEE)
            continue; /* the AMM fee defaults to 0 */
        if (c.type == XCR__CELL_NULL)
            return bad(Q, col, XCR_EINVAL, err,
                       "missing: %s of the %s model (required)",
                       meaning[m][k], models[m]);
        TRY(get_num(Q, col, true, 0, &v, err));
        bool ok = rule[m][k] == P_POS      ? v > 0
                  : rule[m][k] == P_NONNEG ? v >= 0
                                           : v >= 0 && v < 1;
        if (!ok)
            return bad(Q, col, XCR_EINVAL, err, "%s must be %s (got %g)",
                       meaning[m][k],
                       rule[m][k] == P_POS      ? "> 0"
                       : rule[m][k] == P_NONNEG ? ">= 0"
                                                : "in [0, 1)",
                       v);
        q->p[k] = v;
    }
    if (m == 3) {
        const char *text;
        xcr__cell c;
        rd_cell(Q, LQ_P1, &c);
        if (c.type != XCR__CELL_TEXT)
            return bad(Q, LQ_P1, XCR_EINVAL, err,
                       "the book model's levels must be JSON text "
                       "[[move, cumulative_usd], ...]");
        TRY(get_text(Q, LQ_P1, true, &text, err));
        TRY(parse_levels(Q, text, a, q, owned, err));
    }
    TRY(get_num(Q, LQ_RECOVERY, false, 0, &q->recovery, err));
    if (q->recovery < 0 || q->recovery > 1)
        return bad(Q, LQ_RECOVERY, XCR_EINVAL, err,
                   "must be in [0, 1] (got %g)", q->recovery);
    return XCR_OK;
}

/* The builder names lending fields "lending.x"; point those at the CSV
 * columns so that its messages still give a column number. */
static const char **asset_alias_columns(const rd *A, const xcr_allocator *a)
{
    const xcr_loc *l = rd_loc(A);
    if (!l->columns || l->ncolumns == 0)
        return NULL;
    const char **c = xcr__calloc(a, l->ncolumns, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < l->ncolumns; i++)
        c[i] = l->columns[i];
    static const struct {
        size_t k;
        const char *name;
    } alias[] = {{AS_LTV, "lending.ltv"},
                 {AS_LT, "lending.liquidation_threshold"},
                 {AS_LB, "lending.liquidation_bonus"},
                 {AS_PF, "lending.protocol_fee"},
                 {AS_EMODE, "lending.emode_category"}};
    for (size_t j = 0; j < sizeof alias / sizeof alias[0]; j++) {
        long i = A->map[alias[j].k];
        if (i >= 0 && (size_t)i < l->ncolumns)
            c[i] = alias[j].name;
    }
    return c;
}

static xcr_status read_asset_row(ld *L, const rd *A, xcr_asset_def *d,
                                 xcr_error *err)
{
    const char *sym;
    TRY(get_text(A, AS_SYMBOL, true, &sym, err));
    if (!(d->symbol = pool_dup(&L->strs, sym)))
        return NOMEM(err);
    TRY(get_num(A, AS_PRICE, true, 0, &d->price, err));
    TRY(get_num(A, AS_VOL, false, 0, &d->vol, err));
    TRY(get_bool(A, AS_STABLE, &d->stable, err));
    TRY(get_num(A, AS_LW, false, 1, &d->liability_weight, err));
    TRY(get_num(A, AS_BIMR, false, 0, &d->borrow_imr, err));
    TRY(get_num(A, AS_BMMR, false, 0, &d->borrow_mmr, err));
    for (size_t k = AS_LTV; k <= AS_EMODE; k++)
        if (rd_has(A, k))
            d->has_lending = 1;
    TRY(get_num(A, AS_LTV, false, 0, &d->ltv, err));
    TRY(get_num(A, AS_LT, false, 0, &d->liquidation_threshold, err));
    TRY(get_num(A, AS_LB, false, 0, &d->liquidation_bonus, err));
    TRY(get_num(A, AS_PF, false, 0, &d->protocol_fee, err));
    TRY(get_int(A, AS_EMODE, 0, &d->emode_category, err));
    return XCR_OK;
}

/* assets + asset_tiers + liquidity.  Assets are read first (they are few)
 * so that tier and liquidity rows naming an unknown symbol are reported at
 * their own row; then each asset is added with its tiers and liquidity. */
static xcr_status load_assets(ld *L, xcr_error *err)
{
    const xcr_allocator *a = L->a;
    rd A = {0}, Q = {0};
    xcr_asset_def *defs = NULL;
    long *lines = NULL;
    double **levels = NULL; /* book-model levels we own, per asset */
    size_t n = 0, cap = 0, capl = 0;
    tier_row *rows = NULL;
    size_t nrows = 0;
    uint32_t *off = NULL, *order = NULL;
    xcr_tier_def *tdefs = NULL;
    const char **alias = NULL;
    xcr__strmap map;
    xcr__strmap_init(&map, a);

    xcr_status s = rd_open(&A, L->src, XCR__T_ASSETS, err);
    bool got = true;
    while (s == XCR_OK) {
        if ((s = rd_next(&A, &got, err)) != XCR_OK || !got)
            break;
        if (!XCR__GROW(a, defs, cap, n + 1) ||
            !XCR__GROW(a, lines, capl, n + 1)) {
            s = NOMEM(err);
            break;
        }
        xcr_asset_def *d = &defs[n];
        xcr_asset_def_init(d);
        if ((s = read_asset_row(L, &A, d, err)) != XCR_OK)
            break;
        uint32_t first = 0;
        xcr_status ps = xcr__strmap_put(&map, d->symbol, (uint32_t)n, &first);
        if (ps == XCR_EDUP) {
            s = bad(&A, AS_SYMBOL, XCR_EDUP, err,
                    "duplicate asset symbol \"%.64s\" (first at %s %ld)",
                    d->symbol, rd_loc(&A)->kind == 3 ? "row" : "line",
                    lines[first]);
            break;
        }
        if (ps != XCR_OK) {
            s = NOMEM(err);
            break;
        }
        lines[n++] = rd_loc(&A)->line;
    }
    if (s == XCR_OK)
        s = read_tiers(L, XCR__T_ASSET_TIERS, &map, "asset", n, &rows,
                       &nrows, err);
    if (s == XCR_OK && group_tiers(a, rows, nrows, n, &off, &order) != XCR_OK)
        s = NOMEM(err);
    if (s == XCR_OK && !(tdefs = xcr__calloc(a, nrows ? nrows : 1,
                                             sizeof *tdefs)))
        s = NOMEM(err);
    for (size_t i = 0; s == XCR_OK && i < nrows; i++) {
        tdefs[i].upper_usd = rows[order[i]].v[0];
        tdefs[i].weight = rows[order[i]].v[1];
    }

    if (s == XCR_OK && !(levels = xcr__calloc(a, n ? n : 1, sizeof *levels)))
        s = NOMEM(err);
    if (s == XCR_OK)
        s = rd_open(&Q, L->src, XCR__T_LIQUIDITY, err);
    while (s == XCR_OK && Q.tab) {
        if ((s = rd_next(&Q, &got, err)) != XCR_OK || !got)
            break;
        const char *sym;
        if ((s = get_text(&Q, LQ_SYMBOL, true, &sym, err)) != XCR_OK)
            break;
        long i = xcr__strmap_get(&map, sym);
        if (i < 0) {
            s = bad(&Q, LQ_SYMBOL, XCR_EREF, err, "unknown asset \"%.64s\"",
                    sym);
            break;
        }
        if (defs[i].liquidity.model != XCR_LIQ_NONE) {
            s = bad(&Q, LQ_SYMBOL, XCR_EDUP, err,
                    "a second liquidity row for \"%.64s\"", sym);
            break;
        }
        s = read_liquidity(&Q, a, &defs[i].liquidity, &levels[i], err);
    }
    rd_close(&Q);

    if (s == XCR_OK)
        alias = asset_alias_columns(&A, a);
    for (size_t i = 0; s == XCR_OK && i < n; i++) {
        defs[i].tiers = tdefs + off[i];
        defs[i].ntiers = off[i + 1] - off[i];
        xcr_loc loc = *rd_loc(&A);
        loc.line = lines[i];
        if (alias)
            loc.columns = alias;
        s = xcr_book_add_asset(L->b, &defs[i], &loc, err);
    }

    rd_close(&A);
    for (size_t i = 0; levels && i < n; i++)
        xcr__free(a, levels[i]);
    xcr__free(a, levels);
    xcr__free(a, defs);
    xcr__free(a, lines);
    xcr__free(a, rows);
    xcr__free(a, off);
    xcr__free(a, order);
    xcr__free(a, tdefs);
    xcr__free(a, (void *)alias);
    xcr__strmap_free(&map);
    return s;
}

static xcr_status read_instrument_row(ld *L, const rd *I,
                                      xcr_instrument_def *d, xcr_error *err)
{
    static const char *const types[] = {"perp", "future", "option"};
    static const char *const otypes[] = {"call", "put"};
    const char *t;
    int ty = 0;
    TRY(get_text(I, IN_ID, true, &t, err));
    if (!(d->id = pool_dup(&L->strs, t)))
        return NOMEM(err);
    TRY(get_enum(I, IN_TYPE, types, 3, &ty, err));
    d->type = (xcr_inst_type)ty;
    TRY(get_text(I, IN_UND, true, &t, err));
    if (!(d->underlying = pool_dup(&L->strs, t)))
        return NOMEM(err);
    TRY(get_text(I, IN_SETTLE, false, &t, err));
    if (t && !(d->settle = pool_dup(&L->strs, t)))
        return NOMEM(err);
    TRY(get_bool(I, IN_INVERSE, &d->inverse, err));
    TRY(get_num(I, IN_CS, false, 1, &d->contract_size, err));
    /* 0 means "the underlying's price" to the builder; an explicit value
     * must be a real price. */
    TRY(get_num(I, IN_MARK, false, 0, &d->mark_price, err));
    if (rd_has(I, IN_MARK) && !(d->mark_price > 0))
        return bad(I, IN_MARK, XCR_EINVAL, err,
                   "must be a finite number > 0 (got %g)", d->mark_price);
    TRY(get_text(I, IN_EXPIRY, false, &t, err));
    if (t && !(d->expiry = pool_dup(&L->strs, t)))
        return NOMEM(err);
    if (d->type != XCR_OPTION) {
        static const size_t opt_only[] = {IN_STRIKE, IN_OTYPE, IN_IV};
        for (size_t j = 0; j < 3; j++)
            if (rd_has(I, opt_only[j]))
                return bad(I, opt_only[j], XCR_EINVAL, err,
                           "only options have %s (leave it empty for a %s)",
                           I->t->cols[opt_only[j]].name, types[ty]);
        return XCR_OK;
    }
    int ot = 0;
    TRY(get_num(I, IN_STRIKE, true, 0, &d->strike, err));
    TRY(get_enum(I, IN_OTYPE, otypes, 2, &ot, err));
    d->is_call = ot == 0;
    TRY(get_num(I, IN_IV, true, 0, &d->iv, err));
    return XCR_OK;
}

/* instruments + margin_tiers, in the same way as assets. */
static xcr_status load_instruments(ld *L, xcr_error *err)
{
    const xcr_allocator *a = L->a;
    rd I = {0};
    xcr_instrument_def *defs = NULL;
    long *lines = NULL;
    size_t n = 0, cap = 0, capl = 0;
    tier_row *rows = NULL;
    size_t nrows = 0;
    uint32_t *off = NULL, *order = NULL;
    xcr_margin_tier_def *tdefs = NULL;
    xcr__strmap map;
    xcr__strmap_init(&map, a);

    xcr_status s = rd_open(&I, L->src, XCR__T_INSTRUMENTS, err);
    bool got = true;
    while (s == XCR_OK && I.tab) {
        if ((s = rd_next(&I, &got, err)) != XCR_OK || !got)
            break;
        if (!XCR__GROW(a, defs, cap, n + 1) ||
            !XCR__GROW(a, lines, capl, n + 1)) {
            s = NOMEM(err);
            break;
        }
        xcr_instrument_def *d = &defs[n];
        xcr_instrument_def_init(d);
        if ((s = read_instrument_row(L, &I, d, err)) != XCR_OK)
            break;
        uint32_t first = 0;
        xcr_status ps = xcr__strmap_put(&map, d->id, (uint32_t)n, &first);
        if (ps == XCR_EDUP) {
            s = bad(&I, IN_ID, XCR_EDUP, err,
                    "duplicate instrument id \"%.64s\" (first at %s %ld)",
                    d->id, rd_loc(&I)->kind == 3 ? "row" : "line",
                    lines[first]);
            break;
        }
        if (ps != XCR_OK) {
            s = NOMEM(err);
            break;
        }
        lines[n++] = rd_loc(&I)->line;
    }
    /* margin tiers are read even without instruments: their rows are then
     * all unknown references */
    if (s == XCR_OK)
        s = read_tiers(L, XCR__T_MARGIN_TIERS, &map, "instrument", n, &rows,
                       &nrows, err);
    if (s == XCR_OK && group_tiers(a, rows, nrows, n, &off, &order) != XCR_OK)
        s = NOMEM(err);
    if (s == XCR_OK && !(tdefs = xcr__calloc(a, nrows ? nrows : 1,
                                             sizeof *tdefs)))
        s = NOMEM(err);
    for (size_t i = 0; s == XCR_OK && i < nrows; i++) {
        tdefs[i].notional_max = rows[order[i]].v[0];
        tdefs[i].imr = rows[order[i]].v[1];
        tdefs[i].mmr = rows[order[i]].v[2];
    }
    for (size_t i = 0; s == XCR_OK && i < n; i++) {
        defs[i].tiers = tdefs + off[i];
        defs[i].ntiers = off[i + 1] - off[i];
        xcr_loc loc = *rd_loc(&I);
        loc.line = lines[i];
        s = xcr_book_add_instrument(L->b, &defs[i], &loc, err);
    }
    rd_close(&I);
    xcr__free(a, defs);
    xcr__free(a, lines);
    xcr__free(a, rows);
    xcr__free(a, off);
    xcr__free(a, order);
    xcr__free(a, tdefs);
    xcr__strmap_free(&map);
    return s;
}

static xcr_status load_settings(ld *L, xcr_error *err)
{
    rd S = {0};
    xcr__strmap seen;
    xcr__strmap_init(&seen, L->a);
    xcr_status s = rd_open(&S, L->src, XCR__T_SETTINGS, err);
    bool got = true;
    while (s == XCR_OK && S.tab) {
        if ((s = rd_next(&S, &got, err)) != XCR_OK || !got)
            break;
        const char *key, *val;
        char num[40];
        if ((s = get_text(&S, SE_KEY, true, &key, err)) != XCR_OK)
            break;
        xcr__cell c;
        rd_cell(&S, SE_VALUE, &c);
        if (c.type == XCR__CELL_NULL)
            continue; /* empty = unset */
        if (c.type == XCR__CELL_REAL) {
            /* a SQLite REAL holding a numeric setting */
            if (!isfinite(c.d)) {
                s = bad(&S, SE_VALUE, XCR_EINVAL, err,
                        "must be a finite number");
                break;
            }
            xcr__fmt_double(c.d, num, sizeof num);
            val = num;
        } else if ((s = get_text(&S, SE_VALUE, true, &val, err)) != XCR_OK) {
            break;
        }
        const char *k = pool_dup(&L->strs, key);
        if (!k) {
            s = NOMEM(err);
            break;
        }
        xcr_status ps = xcr__strmap_put(&seen, k, 0, NULL);
        if (ps == XCR_EDUP) {
            s = bad(&S, SE_KEY, XCR_EDUP, err, "duplicate setting \"%.64s\"",
                    key);
            break;
        }
        if (ps != XCR_OK) {
            s = NOMEM(err);
            break;
        }
        const char *p = val;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (strcmp(key, "as_of") == 0 && *p != '"')
            s = xcr_book_set_as_of(L->b, p, rd_loc(&S), err);
        else
            s = xcr_book_set_setting(L->b, key, val, rd_loc(&S), err);
    }
    rd_close(&S);
    xcr__strmap_free(&seen);
    return s;
}

static xcr_status load_accounts(ld *L, xcr_error *err)
{
    static const char *const modes[] = {"cross", "isolated", "portfolio",
                                        "lending"};
    rd C = {0};
    xcr_status s = rd_open(&C, L->src, XCR__T_ACCOUNTS, err);
    bool got = true;
    while (s == XCR_OK) {
        if ((s = rd_next(&C, &got, err)) != XCR_OK || !got)
            break;
        xcr_account_def d = {0};
        int m = 0;
        if ((s = get_text(&C, AC_ID, true, &d.id, err)) != XCR_OK ||
            (s = get_enum(&C, AC_MODE, modes, 4, &m, err)) != XCR_OK ||
            (s = get_int(&C, AC_EMODE, 0, &d.emode, err)) != XCR_OK ||
            (s = get_text(&C, AC_ENTITY, false, &d.entity, err)) != XCR_OK)
            break;
        d.mode = (xcr_mode)m;
        s = xcr_book_add_account(L->b, &d, rd_loc(&C), err);
    }
    rd_close(&C);
    return s;
}

static xcr_status load_balances(ld *L, xcr_error *err)
{
    rd B = {0};
    xcr_status s = rd_open(&B, L->src, XCR__T_BALANCES, err);
    bool got = true;
    while (s == XCR_OK && B.tab) {
        if ((s = rd_next(&B, &got, err)) != XCR_OK || !got)
            break;
        const char *acct, *sym;
        double amt;
        if ((s = get_text(&B, BA_ACCT, true, &acct, err)) != XCR_OK ||
            (s = get_text(&B, BA_SYMBOL, true, &sym, err)) != XCR_OK ||
            (s = get_num(&B, BA_AMOUNT, true, 0, &amt, err)) != XCR_OK)
            break;
        s = xcr_book_add_balance(L->b, acct, sym, amt, rd_loc(&B), err);
    }
    rd_close(&B);
    return s;
}

static xcr_status load_positions(ld *L, xcr_error *err)
{
    rd P = {0};
    xcr_status s = rd_open(&P, L->src, XCR__T_POSITIONS, err);
    bool got = true;
    while (s == XCR_OK && P.tab) {
        if ((s = rd_next(&P, &got, err)) != XCR_OK || !got)
            break;
        const char *acct, *inst;
        double size, entry, iso;
        if ((s = get_text(&P, PO_ACCT, true, &acct, err)) != XCR_OK ||
            (s = get_text(&P, PO_INST, true, &inst, err)) != XCR_OK ||
            (s = get_num(&P, PO_SIZE, true, 0, &size, err)) != XCR_OK ||
            (s = get_num(&P, PO_ENTRY, false, NAN, &entry, err)) != XCR_OK ||
            (s = get_num(&P, PO_ISO, false, NAN, &iso, err)) != XCR_OK)
            break;
        s = xcr_book_add_position(L->b, acct, inst, size, entry, iso,
                                  rd_loc(&P), err);
    }
    rd_close(&P);
    return s;
}

xcr_status xcr__tables_load(const xcr__tab_src *src, const char *name,
                            const xcr_allocator *a, xcr_book **out,
                            xcr_error *err)
{
    if (!out)
        return xcr__fail(err, XCR_EINVAL, "out is NULL");
    *out = NULL;
    ld L = {src, NULL, NULL, {0}};
    if (xcr_book_new(a, &L.b) != XCR_OK)
        return NOMEM(err);
    L.a = L.b->alloc;
    L.strs.a = L.a;
    /* Order: what is referred to before what refers to it. */
    xcr_status s = load_assets(&L, err);
    if (s == XCR_OK)
        s = load_settings(&L, err);
    if (s == XCR_OK)
        s = load_instruments(&L, err);
    if (s == XCR_OK)
        s = load_accounts(&L, err);
    if (s == XCR_OK)
        s = load_balances(&L, err);
    if (s == XCR_OK)
        s = load_positions(&L, err);
    pool_free(&L.strs);
    /* Say where as_of lives in the tabular forms before finalize would
     * complain about it in JSON terms. */
    for (size_t i = 0; s == XCR_OK && !L.b->has_as_of && i < L.b->n_insts;
         i++)
        if (L.b->insts[i].type == XCR_OPTION)
            s = xcr__fail(err, XCR_EINVAL,
                          "%s: as_of is missing (a settings row with key "
                          "\"as_of\"); it is needed to price option \"%s\"",
                          name, L.b->insts[i].id);
    if (s == XCR_OK && (s = xcr_book_finalize(L.b, err)) != XCR_OK)
        xcr__error_prefix(err, name); /* whole-book errors: name the book */
    if (s != XCR_OK) {
        xcr_book_free(L.b);
        return s;
    }
    *out = L.b;
    return XCR_OK;
}

/* MARK: writing ----------------------------------------------------------------------- */

static void c_null(xcr__cell *c) { memset(c, 0, sizeof *c); }
static void c_text(xcr__cell *c, const char *s)
{
    c_null(c);
    if (s) {
        c->type = XCR__CELL_TEXT;
        c->text = s;
    }
}
/* Non-finite values only occur as unbounded tier caps: written empty. */
static void c_real(xcr__cell *c, double v)
{
    c_null(c);
    if (isfinite(v)) {
        c->type = XCR__CELL_REAL;
        c->d = v;
    }
}
static void c_int(xcr__cell *c, int64_t v)
{
    c_null(c);
    c->type = XCR__CELL_INT;
    c->i = v;
}
static void c_bool(xcr__cell *c, bool v)
{
    c_null(c);
    c->type = XCR__CELL_BOOL;
    c->i = v;
}

static xcr_status save_assets(const xcr_book *b, const xcr__tab_sink *k,
                              xcr_error *err)
{
    xcr__cell c[AS_N];
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_ASSETS], err));
    for (size_t i = 0; i < b->n_assets; i++) {
        const xcr__asset *x = &b->assets[i];
        c_text(&c[AS_SYMBOL], x->symbol);
        c_real(&c[AS_PRICE], x->price);
        c_real(&c[AS_VOL], x->vol);
        c_bool(&c[AS_STABLE], x->stable);
        c_real(&c[AS_LW], x->liability_weight);
        c_real(&c[AS_BIMR], x->borrow_imr);
        c_real(&c[AS_BMMR], x->borrow_mmr);
        for (size_t j = AS_LTV; j <= AS_EMODE; j++)
            c_null(&c[j]);
        if (x->has_lending) {
            c_real(&c[AS_LTV], x->ltv);
            c_real(&c[AS_LT], x->lt);
            c_real(&c[AS_LB], x->lbonus);
            c_real(&c[AS_PF], x->pfee);
            c_int(&c[AS_EMODE], x->emode);
        }
        TRY(k->row(k->ctx, c, err));
    }
    TRY(k->end(k->ctx, err));

    xcr__cell t[AT_N];
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_ASSET_TIERS], err));
    for (size_t i = 0; i < b->n_assets; i++) {
        const xcr__asset *x = &b->assets[i];
        const xcr__tier *tr = b->tiers + x->tier_off;
        if (x->ntiers == 1 && isinf(tr[0].hi) && tr[0].weight == 1.0)
            continue; /* the default [[null, 1]] */
        for (uint32_t j = 0; j < x->ntiers; j++) {
            c_text(&t[AT_SYMBOL], x->symbol);
            c_real(&t[AT_UPPER], tr[j].hi);
            c_real(&t[AT_WEIGHT], tr[j].weight);
            TRY(k->row(k->ctx, t, err));
        }
    }
    return k->end(k->ctx, err);
}

static xcr_status save_instruments(const xcr_book *b, const xcr__tab_sink *k,
                                   xcr_error *err)
{
    xcr__cell c[IN_N];
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_INSTRUMENTS], err));
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        c_text(&c[IN_ID], in->id);
        c_text(&c[IN_TYPE], xcr_inst_type_name(in->type));
        c_text(&c[IN_UND], b->assets[in->und].symbol);
        c_text(&c[IN_SETTLE],
               in->settle_given ? b->assets[in->settle].symbol : NULL);
        c_bool(&c[IN_INVERSE], in->inverse);
        c_real(&c[IN_CS], in->cs);
        c_real(&c[IN_MARK], in->mark);
        c_text(&c[IN_EXPIRY], in->expiry_str);
        c_null(&c[IN_STRIKE]);
        c_null(&c[IN_OTYPE]);
        c_null(&c[IN_IV]);
        if (in->type == XCR_OPTION) {
            c_real(&c[IN_STRIKE], in->strike);
            c_text(&c[IN_OTYPE], in->is_call ? "call" : "put");
            c_real(&c[IN_IV], in->iv);
        }
        TRY(k->row(k->ctx, c, err));
    }
    TRY(k->end(k->ctx, err));

    xcr__cell t[MT_N];
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_MARGIN_TIERS], err));
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        const xcr__mtier *m = b->mtiers + in->mt_off;
        if (in->nmt == 1 && isinf(m[0].hi) && m[0].imr == 0.1 &&
            m[0].mmr == 0.05)
            continue; /* the default [{null, 0.1, 0.05}] */
        for (uint32_t j = 0; j < in->nmt; j++) {
            c_text(&t[MT_INST], in->id);
            c_real(&t[MT_NMAX], m[j].hi);
            c_real(&t[MT_IMR], m[j].imr);
            c_real(&t[MT_MMR], m[j].mmr);
            TRY(k->row(k->ctx, t, err));
        }
    }
    return k->end(k->ctx, err);
}

static xcr_status save_accounts(const xcr_book *b, const xcr__tab_sink *k,
                                xcr_error *err)
{
    xcr__cell c[PO_N]; /* the widest of the three tables */
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_ACCOUNTS], err));
    for (size_t i = 0; i < b->n_accts; i++) {
        c_text(&c[AC_ID], b->acct_id[i]);
        c_text(&c[AC_MODE], xcr_mode_name((xcr_mode)b->acct_mode[i]));
        c_int(&c[AC_EMODE], b->acct_emode[i]);
        c_text(&c[AC_ENTITY], b->acct_entity[i]);
        TRY(k->row(k->ctx, c, err));
    }
    TRY(k->end(k->ctx, err));

    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_BALANCES], err));
    for (size_t i = 0; i < b->n_accts; i++)
        for (uint32_t j = b->bal_off[i]; j < b->bal_off[i + 1]; j++) {
            c_text(&c[BA_ACCT], b->acct_id[i]);
            c_text(&c[BA_SYMBOL], b->assets[b->bal_asset[j]].symbol);
            c_real(&c[BA_AMOUNT], b->bal_amt[j]);
            TRY(k->row(k->ctx, c, err));
        }
    TRY(k->end(k->ctx, err));

    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_POSITIONS], err));
    for (size_t i = 0; i < b->n_accts; i++)
        for (uint32_t j = b->pos_off[i]; j < b->pos_off[i + 1]; j++) {
            c_text(&c[PO_ACCT], b->acct_id[i]);
            c_text(&c[PO_INST], b->insts[b->pos_inst[j]].id);
            c_real(&c[PO_SIZE], b->pos_size[j]);
            c_real(&c[PO_ENTRY], b->pos_entry[j]);
            if (b->acct_mode[i] == XCR_MODE_ISOLATED)
                c_real(&c[PO_ISO], b->pos_iso[j]);
            else
                c_null(&c[PO_ISO]);
            TRY(k->row(k->ctx, c, err));
        }
    return k->end(k->ctx, err);
}

/* Book-model levels as compact JSON [[m,c],...] with round-trip numbers. */
static char *levels_json(const xcr_allocator *a, const xcr_liquidity_def *q)
{
    size_t cap = q->nlevels * 2 * 32 + 4, len = 0;
    char *s = xcr__malloc(a, cap);
    if (!s)
        return NULL;
    s[len++] = '[';
    for (size_t i = 0; i < q->nlevels; i++) {
        char m[32], u[32];
        xcr__fmt_double(q->levels[2 * i], m, sizeof m);
        xcr__fmt_double(q->levels[2 * i + 1], u, sizeof u);
        int w = snprintf(s + len, cap - len, "%s[%s,%s]", i ? "," : "", m, u);
        if (w < 0 || (size_t)w >= cap - len) {
            xcr__free(a, s);
            return NULL;
        }
        len += (size_t)w;
    }
    s[len++] = ']';
    s[len] = '\0';
    return s;
}

static xcr_status save_liquidity(const xcr_book *b, const xcr__tab_sink *k,
                                 xcr_error *err)
{
    xcr__cell c[LQ_N];
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_LIQUIDITY], err));
    for (size_t i = 0; i < b->n_assets; i++) {
        const xcr__asset *x = &b->assets[i];
        const xcr_liquidity_def *q = &x->liq;
        if (q->model == XCR_LIQ_NONE)
            continue;
        c_text(&c[LQ_SYMBOL], x->symbol);
        c_text(&c[LQ_MODEL], xcr_liq_model_name(q->model));
        int used = q->model == XCR_LIQ_LINEAR ? 1
                   : q->model == XCR_LIQ_BOOK ? 0
                                              : 3;
        for (int j = 0; j < 3; j++) {
            if (j < used)
                c_real(&c[LQ_P1 + j], q->p[j]);
            else
                c_null(&c[LQ_P1 + j]);
        }
        char *lv = NULL;
        if (q->model == XCR_LIQ_BOOK) {
            if (!(lv = levels_json(b->alloc, q)))
                return NOMEM(err);
            c_text(&c[LQ_P1], lv);
        }
        c_real(&c[LQ_RECOVERY], q->recovery);
        xcr_status s = k->row(k->ctx, c, err);
        xcr__free(b->alloc, lv);
        TRY(s);
    }
    return k->end(k->ctx, err);
}

static xcr_status save_settings(const xcr_book *b, const xcr__tab_sink *k,
                                xcr_error *err)
{
    xcr__cell c[SE_N];
    TRY(k->begin(k->ctx, &xcr__tables[XCR__T_SETTINGS], err));
    if (b->has_as_of) {
        json_t *js = json_string(b->as_of_str);
        char *txt = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        json_decref(js);
        if (!txt)
            return NOMEM(err);
        c_text(&c[SE_KEY], "as_of");
        c_text(&c[SE_VALUE], txt);
        xcr_status s = k->row(k->ctx, c, err);
        free(txt);
        TRY(s);
    }
    for (size_t i = 0; i < b->n_settings; i++) {
        c_text(&c[SE_KEY], b->settings[i].key);
        c_text(&c[SE_VALUE], b->settings[i].json);
        TRY(k->row(k->ctx, c, err));
    }
    return k->end(k->ctx, err);
}

xcr_status xcr__tables_save(const xcr_book *b, const xcr__tab_sink *k,
                            xcr_error *err)
{
    if (!b || !b->finalized)
        return xcr__fail(err, XCR_EINVAL, "the book must be finalized");
    /* schema order: assets, asset_tiers, instruments, margin_tiers,
     * accounts, balances, positions, liquidity, settings */
    TRY(save_assets(b, k, err));
    TRY(save_instruments(b, k, err));
    TRY(save_accounts(b, k, err));
    TRY(save_liquidity(b, k, err));
    return save_settings(b, k, err);
}
