/* Scenario sets: symbolic definitions resolved against a book, grids, and
 * the storage every generator appends to.
 *
 * Resolution of a definition, asset by asset (docs/stress.md):
 *  1. an asset the scenario names takes its move; a move with a `base` is
 *     relative to the base's move: (1 + m_base)·(1 + m) − 1;
 *  2. a wrapped or staked token it does not name follows the asset it
 *     wraps (xcr_asset_base);
 *  3. a stablecoin it does not name stays at its price
 *     (scenarios-and-data.md §5: "Stablecoins not named in the depeg column
 *     stay at 1");
 *  4. any other asset moves by the unlisted-asset rule, by default the
 *     crash-day ratio: β·move(BTC) with β the median, over the other assets
 *     the scenario names, of their move divided by BTC's (§2 and §4 say
 *     altcoins fall 1.5–4× BTC on crash days, far more than their
 *     regression beta, and ask that the rule used be stated: it is, in
 *     xcr_scenarios_rule_text and in every report).  Rule moves are floored
 *     at −99 %. */
#include "stress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")
#define MAX_SCENARIOS ((size_t)1 << 28)

static const xcr_allocator *AL(const xcr_scenarios *s)
{
    return s->book->alloc;
}

xcr_status xcr_scenarios_new(const xcr_book *b, xcr_scenarios **out)
{
    if (!b || !out || !b->finalized)
        return XCR_EINVAL;
    xcr_scenarios *s = xcr__calloc(b->alloc, 1, sizeof *s);
    if (!s)
        return XCR_ENOMEM;
    s->book = b;
    s->na = b->n_assets;
    *out = s;
    return XCR_OK;
}

static void free_meta(const xcr_allocator *a, xcr__smeta *m)
{
    xcr__free(a, m->name);
    xcr__free(a, m->rule);
    xcr__free(a, m->title);
    xcr__free(a, m->date);
    xcr__free(a, m->variant);
    xcr__free(a, m->source);
    xcr__free(a, m->events);
    xcr__free(a, m->unmatched);
}

void xcr_scenarios_free(xcr_scenarios *s)
{
    if (!s)
        return;
    const xcr_allocator *a = AL(s);
    for (size_t i = 0; i < s->n; i++)
        free_meta(a, &s->meta[i]);
    xcr__free(a, s->meta);
    xcr__free(a, s->moves);
    xcr__free(a, s->vol);
    xcr__free(a, s->liq);
    xcr__free(a, s->beta);
    xcr__free(a, s->origin);
    xcr__free(a, s->gen.assets);
    xcr__free(a, s->gen.vol);
    xcr__free(a, s->gen.corr);
    xcr__free(a, s->gen.corr_source);
    xcr__free(a, s->gen.note);
    xcr__free(a, s->grid.values[0]);
    xcr__free(a, s->grid.values[1]);
    xcr__free(a, s);
}

size_t xcr_scenarios_count(const xcr_scenarios *s)
{
    return s ? s->n : 0;
}

/* Grow a cap×na array of doubles (or NULL stays NULL). */
static bool grow_rows(const xcr_allocator *a, double **p, size_t old_cap,
                      size_t new_cap, size_t na)
{
    if (!*p)
        return true;
    double *q = xcr__realloc(a, *p, old_cap * na * sizeof *q,
                             new_cap * na * sizeof *q);
    if (!q)
        return false;
    *p = q;
    return true;
}

/* Grow the capacity to at least `need` scenarios. */
static xcr_status grow_to(xcr_scenarios *s, size_t need, xcr_error *err)
{
    const xcr_allocator *a = AL(s);
    size_t na = s->na ? s->na : 1;
    if (need <= s->cap)
        return XCR_OK;
    size_t nc = s->cap ? s->cap : 16;
    while (nc < need)
        nc *= 2;
    if (nc > (SIZE_MAX / 16) / na)
        return NOMEM(err);
    double *mv = xcr__realloc(a, s->moves, s->cap * na * sizeof *mv,
                              nc * na * sizeof *mv);
    if (!mv)
        return NOMEM(err);
    s->moves = mv;
    uint8_t *og = xcr__realloc(a, s->origin, s->cap * na, nc * na);
    if (!og)
        return NOMEM(err);
    s->origin = og;
    xcr__smeta *me = xcr__realloc(a, s->meta, s->cap * sizeof *me,
                                  nc * sizeof *me);
    if (!me)
        return NOMEM(err);
    s->meta = me;
    if (!grow_rows(a, &s->vol, s->cap, nc, na) ||
        !grow_rows(a, &s->liq, s->cap, nc, na) ||
        !grow_rows(a, &s->beta, s->cap, nc, na))
        return NOMEM(err);
    s->cap = nc;
    return XCR_OK;
}

xcr_status xcr__scen_reserve(xcr_scenarios *s, size_t add, size_t *first,
                             xcr_error *err)
{
    size_t na = s->na ? s->na : 1;
    if (add > MAX_SCENARIOS || s->n + add > MAX_SCENARIOS)
        return xcr__fail(err, XCR_EINVAL,
                         "too many scenarios (at most %zu in one set)",
                         MAX_SCENARIOS);
    xcr_status st = grow_to(s, s->n + add, err);
    if (st != XCR_OK)
        return st;
    for (size_t i = s->n; i < s->n + add; i++) {
        for (size_t k = 0; k < na; k++) {
            s->moves[i * na + k] = 0;
            s->origin[i * na + k] = XCR_ORIGIN_NONE;
            if (s->vol)
                s->vol[i * na + k] = 0;
            if (s->liq)
                s->liq[i * na + k] = 1;
            if (s->beta)
                s->beta[i * na + k] = NAN;
        }
        memset(&s->meta[i], 0, sizeof s->meta[i]);
        s->meta[i].beta = NAN;
        s->meta[i].uniform = NAN;
    }
    *first = s->n;
    s->n += add;
    return XCR_OK;
}

/* Undo a reservation (after a failure while filling it). */
void xcr__scen_truncate(xcr_scenarios *s, size_t first)
{
    for (size_t i = first; i < s->n; i++)
        free_meta(AL(s), &s->meta[i]);
    s->n = first;
}

static xcr_status ensure(xcr_scenarios *s, double **p, double fill,
                         xcr_error *err)
{
    if (*p)
        return XCR_OK;
    size_t na = s->na ? s->na : 1;
    xcr_status st = grow_to(s, 1, err);
    if (st != XCR_OK)
        return st;
    size_t cap = s->cap;
    double *q = xcr__malloc(AL(s), cap * na * sizeof *q);
    if (!q)
        return NOMEM(err);
    for (size_t i = 0; i < cap * na; i++)
        q[i] = fill;
    *p = q;
    return XCR_OK;
}

xcr_status xcr__scen_ensure_vol(xcr_scenarios *s, xcr_error *err)
{
    return ensure(s, &s->vol, 0.0, err);
}
xcr_status xcr__scen_ensure_liq(xcr_scenarios *s, xcr_error *err)
{
    return ensure(s, &s->liq, 1.0, err);
}
xcr_status xcr__scen_ensure_beta(xcr_scenarios *s, xcr_error *err)
{
    return ensure(s, &s->beta, NAN, err);
}

/* MARK: small string builder ------------------------------------------------------ */

typedef struct sbuf {
    char buf[2048];
    size_t len;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->len + 1 >= sizeof b->buf)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->buf + b->len, sizeof b->buf - b->len, fmt, ap);
    va_end(ap);
    if (k > 0) {
        b->len += (size_t)k;
        if (b->len >= sizeof b->buf)
            b->len = sizeof b->buf - 1;
    }
}

static char *dup_or_null(const xcr_allocator *a, const char *s)
{
    return s ? xcr__strdup(a, s) : NULL;
}

/* MARK: resolution of definitions -------------------------------------------------- */

typedef struct resolver {
    const xcr_book *b;
    const xcr_scenario_def *d;
    xcr_unlisted rule;
    bool anchor_listed;
    double anchor_move;
    double beta;            /* crash ratio or fixed                         */
    double median_listed;   /* when BTC is not named                        */
    size_t n_listed;        /* named market moves (any asset)               */
    const xcr_corr *bookc;  /* for the regression rule                      */
    double vol_btc;
    bool rule_used;
} resolver;

static long def_find(const xcr_scenario_def *d, const char *sym)
{
    for (size_t i = 0; i < d->nmoves; i++)
        if (d->moves[i].symbol && xcr__strcasecmp(d->moves[i].symbol, sym) == 0)
            return (long)i;
    return -1;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* β of the regression rule for a symbol (book asset or not). */
static double regression_beta(resolver *r, const char *sym)
{
    long a = xcr__find_asset_ci(r->b, sym);
    double vol = a >= 0 ? r->b->assets[a].vol : 0;
    int how;
    double rho = xcr__rho_sym(NULL, r->bookc, sym, "BTC", &how);
    if (!(r->vol_btc > 0))
        return 1;
    return rho * vol / r->vol_btc;
}

static double sym_move(resolver *r, const char *sym, int depth,
                       xcr_move_origin *origin, double *beta)
{
    *beta = NAN;
    if (depth > 8) { /* a cycle through `base` fields: stop */
        *origin = XCR_ORIGIN_NONE;
        return 0;
    }
    long i = def_find(r->d, sym);
    if (i >= 0) {
        const xcr_scenario_move *e = &r->d->moves[i];
        *origin = e->kind == XCR_MOVE_DEPEG ? XCR_ORIGIN_DEPEG
                                            : XCR_ORIGIN_LISTED;
        if (!e->base)
            return e->move;
        xcr_move_origin o2;
        double b2;
        double mb = sym_move(r, e->base, depth + 1, &o2, &b2);
        double m = (1 + mb) * (1 + e->move) - 1;
        return m > -1 ? m : XCR__TO_ZERO;
    }
    const char *base = xcr_asset_base(sym);
    if (base) {
        xcr_move_origin o2;
        double m = sym_move(r, base, depth + 1, &o2, beta);
        *origin = o2 == XCR_ORIGIN_NONE ? XCR_ORIGIN_NONE : XCR_ORIGIN_BASE;
        return m;
    }
    long a = xcr__find_asset_ci(r->b, sym);
    if (a >= 0 && r->b->assets[a].stable) {
        *origin = XCR_ORIGIN_NONE;
        return 0;
    }
    /* the unlisted-asset rule */
    double m = 0;
    switch (r->rule.rule) {
    case XCR_UNLISTED_ZERO:
        *origin = XCR_ORIGIN_NONE;
        return 0;
    case XCR_UNLISTED_REGRESSION:
        if (r->anchor_listed) {
            *beta = regression_beta(r, sym);
            m = *beta * r->anchor_move;
        } else if (r->n_listed) {
            m = r->median_listed;
        }
        break;
    default:
        if (r->anchor_listed) {
            *beta = r->beta;
            m = r->beta * r->anchor_move;
        } else if (r->n_listed) {
            m = r->median_listed;
        }
        break;
    }
    if (m < XCR__RULE_FLOOR)
        m = XCR__RULE_FLOOR;
    *origin = XCR_ORIGIN_RULE;
    r->rule_used = true;
    return m;
}

static xcr_status check_def(const xcr_scenario_def *d, xcr_error *err)
{
    if (!d->name || !xcr__valid_id(d->name))
        return xcr__fail(err, XCR_EINVAL,
                         "scenario name \"%s\" must be 1-64 characters "
                         "from [A-Za-z0-9._:/-]",
                         d->name ? d->name : "");
    for (size_t i = 0; i < d->nmoves; i++) {
        const xcr_scenario_move *e = &d->moves[i];
        if (!e->symbol || !*e->symbol)
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: move %zu has no symbol", d->name, i);
        if (!isfinite(e->move) || !(e->move > -1))
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: move of %s must be a finite "
                             "number > -1 (got %g)",
                             d->name, e->symbol, e->move);
        for (size_t j = 0; j < i; j++)
            if (xcr__strcasecmp(d->moves[j].symbol, e->symbol) == 0)
                return xcr__fail(err, XCR_EDUP,
                                 "scenario %s: %s is listed twice", d->name,
                                 e->symbol);
        if (e->base && xcr__strcasecmp(e->base, e->symbol) == 0)
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: %s cannot be relative to itself",
                             d->name, e->symbol);
    }
    for (size_t i = 0; i < d->nvol_shifts; i++)
        if (!d->vol_shifts[i].symbol || !isfinite(d->vol_shifts[i].value))
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: vol shift %zu must name an asset "
                             "and be finite",
                             d->name, i);
    for (size_t i = 0; i < d->nliquidity; i++)
        if (!d->liquidity[i].symbol || !isfinite(d->liquidity[i].value) ||
            d->liquidity[i].value < 0)
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: liquidity multiplier %zu must "
                             "name an asset and be a finite number >= 0",
                             d->name, i);
    if (d->unlisted.rule == XCR_UNLISTED_FIXED &&
        !isfinite(d->unlisted.beta))
        return xcr__fail(err, XCR_EINVAL, "scenario %s: beta must be finite",
                         d->name);
    return XCR_OK;
}

/* The value a per-asset table gives `sym`: an exact entry, else "*", else
 * `dflt`. */
static double table_value(const xcr_scenario_value *t, size_t n,
                          const char *sym, bool star_ok, double dflt,
                          bool *hit)
{
    double star = dflt;
    bool has_star = false;
    *hit = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].symbol, "*") == 0) {
            star = t[i].value;
            has_star = true;
        } else if (xcr__strcasecmp(t[i].symbol, sym) == 0) {
            *hit = true;
            return t[i].value;
        }
    }
    if (has_star && star_ok) {
        *hit = true;
        return star;
    }
    return dflt;
}

static void fmt_pct(char *buf, size_t n, double x)
{
    snprintf(buf, n, "%+.4g %%", 100 * x);
}

xcr_status xcr_scenarios_add_def(xcr_scenarios *s, const xcr_scenario_def *d,
                                 const xcr_unlisted *rule, xcr_error *err)
{
    if (!s || !d)
        return xcr__fail(err, XCR_EINVAL, "scenario set and definition are "
                                          "required");
    xcr_status st = check_def(d, err);
    if (st != XCR_OK)
        return st;
    const xcr_book *b = s->book;
    const xcr_allocator *a = AL(s);
    resolver r = {0};
    r.b = b;
    r.d = d;
    r.rule = d->unlisted;
    if (r.rule.rule == XCR_UNLISTED_DEFAULT)
        r.rule = rule ? *rule : (xcr_unlisted){XCR_UNLISTED_CRASH_RATIO, 0};
    if (r.rule.rule == XCR_UNLISTED_DEFAULT)
        r.rule.rule = XCR_UNLISTED_CRASH_RATIO;
    if (r.rule.rule == XCR_UNLISTED_FIXED && !isfinite(r.rule.beta))
        return xcr__fail(err, XCR_EINVAL, "the fixed beta must be finite");

    /* The anchor and the crash-day ratio come from the scenario itself. */
    long ia = def_find(d, "BTC");
    r.anchor_listed = ia >= 0 && !d->moves[ia].base &&
                      d->moves[ia].kind == XCR_MOVE_MARKET;
    r.anchor_move = r.anchor_listed ? d->moves[ia].move : 0;
    double *ratios = xcr__malloc(a, (d->nmoves + 1) * sizeof *ratios);
    double *listed = xcr__malloc(a, (d->nmoves + 1) * sizeof *listed);
    if (!ratios || !listed) {
        xcr__free(a, ratios);
        xcr__free(a, listed);
        return NOMEM(err);
    }
    size_t nr = 0;
    sbuf ratio_txt = {{0}, 0};
    for (size_t i = 0; i < d->nmoves; i++) {
        const xcr_scenario_move *e = &d->moves[i];
        if (e->base || e->kind != XCR_MOVE_MARKET)
            continue;
        listed[r.n_listed++] = e->move;
        if ((long)i == ia || !r.anchor_listed || r.anchor_move == 0)
            continue;
        ratios[nr++] = e->move / r.anchor_move;
        sb_add(&ratio_txt, "%s%s %.2f", nr > 1 ? ", " : "", e->symbol,
               e->move / r.anchor_move);
    }
    if (r.n_listed)
        r.median_listed = median(listed, r.n_listed);
    if (r.rule.rule == XCR_UNLISTED_FIXED)
        r.beta = r.rule.beta;
    else
        r.beta = nr ? median(ratios, nr) : 1.0;
    xcr__free(a, ratios);
    xcr__free(a, listed);
    xcr_corr *bookc = NULL;
    if (r.rule.rule == XCR_UNLISTED_REGRESSION) {
        if (xcr_corr_from_book(b, NULL, &bookc, NULL) != XCR_OK)
            bookc = NULL;
        r.bookc = bookc;
        long bi = xcr__find_asset_ci(b, "BTC");
        /* BTC's 2021–2025 daily vol 3.07 % (§2), annualised, when the book
         * has no BTC vol */
        r.vol_btc = bi >= 0 && b->assets[bi].vol > 0 ? b->assets[bi].vol
                                                     : 0.0307 * sqrt(365.0);
    }

    size_t first;
    if ((st = xcr__scen_reserve(s, 1, &first, err)) != XCR_OK) {
        xcr_corr_free(bookc);
        return st;
    }
    size_t na = s->na;
    double *mv = s->moves + first * na;
    uint8_t *og = s->origin + first * na;
    sbuf rule_assets = {{0}, 0};
    bool need_beta = false;
    double *betas = xcr__malloc(a, (na ? na : 1) * sizeof *betas);
    if (!betas) {
        xcr__scen_truncate(s, first);
        xcr_corr_free(bookc);
        return NOMEM(err);
    }
    for (size_t k = 0; k < na; k++) {
        xcr_move_origin o;
        double bt;
        mv[k] = sym_move(&r, b->assets[k].symbol, 0, &o, &bt);
        og[k] = (uint8_t)o;
        betas[k] = o == XCR_ORIGIN_RULE || o == XCR_ORIGIN_BASE ? bt : NAN;
        if (!isnan(betas[k]))
            need_beta = true;
        if (o == XCR_ORIGIN_RULE)
            sb_add(&rule_assets, "%s%s", rule_assets.len ? ", " : "",
                   b->assets[k].symbol);
    }
    xcr_corr_free(bookc);
    st = XCR_OK;
    if (need_beta && (st = xcr__scen_ensure_beta(s, err)) == XCR_OK)
        memcpy(s->beta + first * na, betas, na * sizeof *betas);
    xcr__free(a, betas);
    /* vol shifts and liquidity multipliers */
    bool any_vol = false, any_liq = false;
    for (size_t k = 0; k < na && st == XCR_OK; k++) {
        bool hit;
        double v = table_value(d->vol_shifts, d->nvol_shifts,
                               b->assets[k].symbol, !b->assets[k].stable, 0,
                               &hit);
        if (hit && v != 0)
            any_vol = true;
        double l = table_value(d->liquidity, d->nliquidity,
                               b->assets[k].symbol, true, 1, &hit);
        if (hit && l != 1)
            any_liq = true;
    }
    if (st == XCR_OK && any_vol)
        st = xcr__scen_ensure_vol(s, err);
    if (st == XCR_OK && any_liq)
        st = xcr__scen_ensure_liq(s, err);
    for (size_t k = 0; k < na && st == XCR_OK; k++) {
        bool hit;
        if (s->vol)
            s->vol[first * na + k] = table_value(
                d->vol_shifts, d->nvol_shifts, b->assets[k].symbol,
                !b->assets[k].stable, 0, &hit);
        if (s->liq)
            s->liq[first * na + k] =
                table_value(d->liquidity, d->nliquidity,
                            b->assets[k].symbol, true, 1, &hit);
    }
    if (st != XCR_OK) {
        xcr__scen_truncate(s, first);
        return st;
    }

    /* metadata and the statement of the rule */
    xcr__smeta *me = &s->meta[first];
    me->kind = XCR__SK_DEF;
    me->window_days = d->window_days;
    me->name = xcr__strdup(a, d->name);
    me->title = dup_or_null(a, d->title);
    me->date = dup_or_null(a, d->date);
    me->variant = dup_or_null(a, d->variant);
    me->source = dup_or_null(a, d->source);
    bool oom = !me->name || (d->title && !me->title) ||
               (d->date && !me->date) || (d->variant && !me->variant) ||
               (d->source && !me->source);
    if (d->nevents) {
        sbuf ev = {{0}, 0};
        for (size_t i = 0; i < d->nevents; i++)
            sb_add(&ev, "%s%s", i ? "; " : "", d->events[i]);
        me->events = xcr__strdup(a, ev.buf);
        oom = oom || !me->events;
    }
    sbuf um = {{0}, 0};
    for (size_t i = 0; i < d->nmoves; i++)
        if (xcr__find_asset_ci(b, d->moves[i].symbol) < 0)
            sb_add(&um, "%s%s", um.len ? ", " : "", d->moves[i].symbol);
    if (um.len) {
        me->unmatched = xcr__strdup(a, um.buf);
        oom = oom || !me->unmatched;
    }
    if (r.rule_used) {
        sbuf t = {{0}, 0};
        char p[40];
        fmt_pct(p, sizeof p, r.anchor_move);
        sb_add(&t, "assets the scenario does not name (%s) ", rule_assets.buf);
        if (!r.anchor_listed) {
            if (r.n_listed) {
                fmt_pct(p, sizeof p, r.median_listed);
                sb_add(&t, "move by the median of the named moves (%s), as "
                           "BTC is not named",
                       p);
            } else {
                sb_add(&t, "do not move: the scenario names no market move");
            }
        } else if (r.rule.rule == XCR_UNLISTED_REGRESSION) {
            sb_add(&t,
                   "move by beta x BTC's move (%s), beta = rho(asset, BTC) x "
                   "vol(asset) / vol(BTC), the regression beta from the "
                   "book's vols and correlations (BTC vol %.3g)",
                   p, r.vol_btc);
        } else if (r.rule.rule == XCR_UNLISTED_FIXED) {
            sb_add(&t, "move by beta x BTC's move (%s) with a fixed beta = "
                       "%.4g",
                   p, r.beta);
        } else {
            me->beta = r.beta;
            sb_add(&t,
                   "move by beta x BTC's move (%s) with beta = %.4g, the "
                   "crash-day ratio: the median of the named assets' moves "
                   "over BTC's",
                   p, r.beta);
            if (ratio_txt.len)
                sb_add(&t, " (%s)", ratio_txt.buf);
            else
                sb_add(&t, " (no other asset is named: beta = 1)");
        }
        if (r.rule.rule == XCR_UNLISTED_FIXED)
            me->beta = r.beta;
        sb_add(&t, "; moves floored at -99 %%");
        me->rule = xcr__strdup(a, t.buf);
        oom = oom || !me->rule;
    }
    if (oom) {
        xcr__scen_truncate(s, first);
        return NOMEM(err);
    }
    s->has_def = 1;
    return XCR_OK;
}

xcr_status xcr_scenarios_add_builtin(xcr_scenarios *s, const char *name,
                                     const xcr_unlisted *rule, xcr_error *err)
{
    if (!s || !name)
        return xcr__fail(err, XCR_EINVAL, "scenario set and name are "
                                          "required");
    if (strcmp(name, "all") == 0) {
        for (size_t i = 0; i < xcr_builtin_scenario_count(); i++) {
            xcr_status st =
                xcr_scenarios_add_def(s, xcr_builtin_scenario(i), rule, err);
            if (st != XCR_OK)
                return st;
        }
        return XCR_OK;
    }
    const xcr_scenario_def *d = xcr_builtin_scenario_find(name);
    if (!d)
        return xcr__fail(err, XCR_ENOTFOUND,
                         "unknown scenario \"%s\" (run 'xcr scenarios' for "
                         "the built-in library)",
                         name);
    return xcr_scenarios_add_def(s, d, rule, err);
}

xcr_status xcr_scenarios_add_moves(xcr_scenarios *s, const char *name,
                                   const double *moves,
                                   const double *vol_shifts,
                                   const double *liquidity, xcr_error *err)
{
    if (!s || !moves)
        return xcr__fail(err, XCR_EINVAL, "scenario set and moves are "
                                          "required");
    if (!name || !xcr__valid_id(name))
        return xcr__fail(err, XCR_EINVAL,
                         "scenario name \"%s\" must be 1-64 characters from "
                         "[A-Za-z0-9._:/-]",
                         name ? name : "");
    const xcr_book *b = s->book;
    for (size_t k = 0; k < s->na; k++) {
        if (!isfinite(moves[k]) || !(moves[k] > -1))
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: move of %s must be a finite "
                             "number > -1 (got %g)",
                             name, b->assets[k].symbol, moves[k]);
        if (vol_shifts && !isfinite(vol_shifts[k]))
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: vol shift of %s must be finite",
                             name, b->assets[k].symbol);
        if (liquidity && (!isfinite(liquidity[k]) || liquidity[k] < 0))
            return xcr__fail(err, XCR_EINVAL,
                             "scenario %s: liquidity multiplier of %s must "
                             "be a finite number >= 0",
                             name, b->assets[k].symbol);
    }
    xcr_status st;
    if (vol_shifts && (st = xcr__scen_ensure_vol(s, err)) != XCR_OK)
        return st;
    if (liquidity && (st = xcr__scen_ensure_liq(s, err)) != XCR_OK)
        return st;
    size_t first;
    if ((st = xcr__scen_reserve(s, 1, &first, err)) != XCR_OK)
        return st;
    size_t na = s->na;
    for (size_t k = 0; k < na; k++) {
        s->moves[first * na + k] = moves[k];
        s->origin[first * na + k] =
            moves[k] != 0 ? XCR_ORIGIN_LISTED : XCR_ORIGIN_NONE;
        if (vol_shifts)
            s->vol[first * na + k] = vol_shifts[k];
        if (liquidity)
            s->liq[first * na + k] = liquidity[k];
    }
    s->meta[first].kind = XCR__SK_MOVES;
    s->meta[first].name = xcr__strdup(AL(s), name);
    if (!s->meta[first].name) {
        xcr__scen_truncate(s, first);
        return NOMEM(err);
    }
    s->has_def = 1;
    return XCR_OK;
}

/* MARK: grids ----------------------------------------------------------------------- */

#define MAX_GRID ((size_t)1000000)

/* Round a grid value to 12 decimals so that -0.6 + 2·0.05 prints as -0.5. */
static double grid_round(double v)
{
    double r = round(v * 1e12) / 1e12;
    return r == 0 ? 0.0 : r; /* no -0 */
}

static xcr_status range_count(double from, double to, double step,
                              const char *what, size_t *n, xcr_error *err)
{
    if (!isfinite(from) || !isfinite(to) || !isfinite(step))
        return xcr__fail(err, XCR_EINVAL, "%s: FROM, TO and STEP must be "
                                          "finite numbers",
                         what);
    if (from == to) {
        *n = 1;
        return XCR_OK;
    }
    if (step == 0)
        return xcr__fail(err, XCR_EINVAL, "%s: STEP must not be 0", what);
    double q = (to - from) / step;
    if (q < -1e-9)
        return xcr__fail(err, XCR_EINVAL,
                         "%s: STEP %g walks away from TO (%g → %g)", what,
                         step, from, to);
    double c = floor(q + 1e-9) + 1;
    if (c > (double)MAX_GRID)
        return xcr__fail(err, XCR_EINVAL,
                         "%s: %.0f points (at most %zu)", what, c, MAX_GRID);
    *n = (size_t)c;
    return XCR_OK;
}

xcr_status xcr_scenarios_add_uniform(xcr_scenarios *s, double from, double to,
                                     double step, xcr_error *err)
{
    if (!s)
        return xcr__fail(err, XCR_EINVAL, "scenario set is required");
    size_t n;
    xcr_status st = range_count(from, to, step, "uniform grid", &n, err);
    if (st != XCR_OK)
        return st;
    for (size_t k = 0; k < n; k++) {
        double v = grid_round(from + (double)k * step);
        if (!(v > -1))
            return xcr__fail(err, XCR_EINVAL,
                             "uniform grid: a move of %g would take prices "
                             "to zero or below (moves must be > -1)",
                             v);
    }
    size_t first;
    if ((st = xcr__scen_reserve(s, n, &first, err)) != XCR_OK)
        return st;
    size_t na = s->na;
    const xcr_book *b = s->book;
    for (size_t k = 0; k < n; k++) {
        double v = grid_round(from + (double)k * step);
        size_t i = first + k;
        for (size_t a = 0; a < na; a++)
            if (!b->assets[a].stable) {
                s->moves[i * na + a] = v;
                s->origin[i * na + a] = XCR_ORIGIN_GENERATED;
            }
        char name[64];
        snprintf(name, sizeof name, "uniform:%.10g", v);
        s->meta[i].kind = XCR__SK_UNIFORM;
        s->meta[i].uniform = v;
        s->meta[i].name = xcr__strdup(AL(s), name);
        if (!s->meta[i].name) {
            xcr__scen_truncate(s, first);
            return NOMEM(err);
        }
    }
    s->has_uniform = 1;
    return XCR_OK;
}

/* Parse "FROM:TO:STEP" (whole string). */
static bool parse_range(const char *t, double v[3])
{
    const char *p = t;
    for (int k = 0; k < 3; k++) {
        char *end;
        v[k] = strtod(p, &end);
        if (end == p)
            return false;
        p = end;
        if (k < 2) {
            if (*p != ':')
                return false;
            p++;
        }
    }
    return *p == '\0';
}

xcr_status xcr_scenarios_add_grid(xcr_scenarios *s, const char *spec,
                                  xcr_error *err)
{
    if (!s || !spec)
        return xcr__fail(err, XCR_EINVAL, "scenario set and grid spec are "
                                          "required");
    char buf[1024];
    if (strlen(spec) >= sizeof buf)
        return xcr__fail(err, XCR_EINVAL, "grid spec is too long");
    snprintf(buf, sizeof buf, "%s", spec);
    const char *body = buf;
    if (strncmp(body, "uniform:", 8) == 0)
        body += 8;
    if (!strchr(body, '=')) {
        double v[3];
        if (!parse_range(body, v))
            return xcr__fail(err, XCR_EINVAL,
                             "grid spec \"%s\": expected FROM:TO:STEP "
                             "(fractions, e.g. -0.6:0:0.05) or "
                             "SYM=FROM:TO:STEP[,SYM=FROM:TO:STEP]",
                             spec);
        return xcr_scenarios_add_uniform(s, v[0], v[1], v[2], err);
    }
    /* per-asset axes */
    const xcr_book *b = s->book;
    size_t naxes = 0;
    uint32_t axis_asset[3];
    double axis_v[3][3];
    size_t axis_n[3];
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return xcr__fail(err, XCR_EINVAL,
                             "grid spec \"%s\": axis \"%s\" must be "
                             "SYM=FROM:TO:STEP",
                             spec, tok);
        *eq = '\0';
        if (naxes == 3)
            return xcr__fail(err, XCR_EINVAL,
                             "grid spec \"%s\": at most 3 axes", spec);
        long a = xcr__find_asset_ci(b, tok);
        if (a < 0)
            return xcr__fail(err, XCR_ENOTFOUND,
                             "grid spec \"%s\": the book has no asset \"%s\"",
                             spec, tok);
        for (size_t k = 0; k < naxes; k++)
            if (axis_asset[k] == (uint32_t)a)
                return xcr__fail(err, XCR_EDUP,
                                 "grid spec \"%s\": %s has two axes", spec,
                                 tok);
        if (!parse_range(eq + 1, axis_v[naxes]))
            return xcr__fail(err, XCR_EINVAL,
                             "grid spec \"%s\": axis %s: expected "
                             "FROM:TO:STEP, got \"%s\"",
                             spec, tok, eq + 1);
        char what[128];
        snprintf(what, sizeof what, "grid spec \"%.60s\": axis %s", spec,
                 tok);
        xcr_status st = range_count(axis_v[naxes][0], axis_v[naxes][1],
                                    axis_v[naxes][2], what, &axis_n[naxes],
                                    err);
        if (st != XCR_OK)
            return st;
        for (size_t k = 0; k < axis_n[naxes]; k++) {
            double v = grid_round(axis_v[naxes][0] +
                                  (double)k * axis_v[naxes][2]);
            if (!(v > -1))
                return xcr__fail(err, XCR_EINVAL,
                                 "%s: a move of %g would take the price to "
                                 "zero or below",
                                 what, v);
        }
        axis_asset[naxes++] = (uint32_t)a;
    }
    if (naxes == 0)
        return xcr__fail(err, XCR_EINVAL, "grid spec \"%s\" is empty", spec);
    size_t total = 1;
    for (size_t k = 0; k < naxes; k++) {
        if (total > MAX_GRID / axis_n[k])
            return xcr__fail(err, XCR_EINVAL,
                             "grid spec \"%s\": more than %zu points", spec,
                             MAX_GRID);
        total *= axis_n[k];
    }
    size_t first;
    xcr_status st = xcr__scen_reserve(s, total, &first, err);
    if (st != XCR_OK)
        return st;
    size_t na = s->na;
    for (size_t p = 0; p < total; p++) {
        size_t i = first + p, rem = p;
        size_t idx[3] = {0, 0, 0};
        for (size_t k = naxes; k-- > 0;) {
            idx[k] = rem % axis_n[k];
            rem /= axis_n[k];
        }
        char name[256];
        size_t off = 0;
        for (size_t k = 0; k < naxes; k++) {
            double v = grid_round(axis_v[k][0] + (double)idx[k] * axis_v[k][2]);
            s->moves[i * na + axis_asset[k]] = v;
            s->origin[i * na + axis_asset[k]] = XCR_ORIGIN_GENERATED;
            int w = snprintf(name + off, sizeof name - off, "%s%s=%.10g",
                             k ? "," : "", b->assets[axis_asset[k]].symbol, v);
            if (w > 0 && off + (size_t)w < sizeof name)
                off += (size_t)w;
        }
        s->meta[i].kind = XCR__SK_GRID;
        s->meta[i].name = xcr__strdup(AL(s), name);
        if (!s->meta[i].name) {
            xcr__scen_truncate(s, first);
            return NOMEM(err);
        }
    }
    /* keep the axes of a set's first 1-D/2-D grid for the table layout */
    if (!s->has_grid && naxes <= 2) {
        s->grid.naxes = naxes;
        s->grid.first = first;
        for (size_t k = 0; k < naxes; k++) {
            s->grid.asset[k] = axis_asset[k];
            s->grid.len[k] = axis_n[k];
            s->grid.values[k] =
                xcr__malloc(AL(s), axis_n[k] * sizeof(double));
            if (!s->grid.values[k])
                return NOMEM(err);
            for (size_t j = 0; j < axis_n[k]; j++)
                s->grid.values[k][j] =
                    grid_round(axis_v[k][0] + (double)j * axis_v[k][2]);
        }
    }
    s->has_grid = 1;
    return XCR_OK;
}

xcr_status xcr_scenarios_shift_vols(xcr_scenarios *s, double shift,
                                    xcr_error *err)
{
    if (!s || !isfinite(shift))
        return xcr__fail(err, XCR_EINVAL, "the vol shift must be finite");
    if (shift == 0)
        return XCR_OK;
    xcr_status st = xcr__scen_ensure_vol(s, err);
    if (st != XCR_OK)
        return st;
    for (size_t i = 0; i < s->n; i++)
        for (size_t a = 0; a < s->na; a++)
            if (!s->book->assets[a].stable)
                s->vol[i * s->na + a] += shift;
    return XCR_OK;
}

/* MARK: accessors ------------------------------------------------------------------- */

const char *xcr_scenarios_name(const xcr_scenarios *s, size_t i)
{
    if (!s || i >= s->n)
        return NULL;
    return s->meta[i].name;
}

double xcr_scenarios_move(const xcr_scenarios *s, size_t i, size_t asset)
{
    if (!s || i >= s->n || asset >= s->na)
        return NAN;
    return s->moves[i * s->na + asset];
}

double xcr_scenarios_vol_shift(const xcr_scenarios *s, size_t i, size_t asset)
{
    if (!s || i >= s->n || asset >= s->na)
        return NAN;
    return s->vol ? s->vol[i * s->na + asset] : 0.0;
}

double xcr_scenarios_liquidity(const xcr_scenarios *s, size_t i, size_t asset)
{
    if (!s || i >= s->n || asset >= s->na)
        return NAN;
    return s->liq ? s->liq[i * s->na + asset] : 1.0;
}

xcr_move_origin xcr_scenarios_origin(const xcr_scenarios *s, size_t i,
                                     size_t asset)
{
    if (!s || i >= s->n || asset >= s->na)
        return XCR_ORIGIN_NONE;
    return (xcr_move_origin)s->origin[i * s->na + asset];
}

double xcr_scenarios_beta(const xcr_scenarios *s, size_t i, size_t asset)
{
    if (!s || i >= s->n || asset >= s->na || !s->beta)
        return NAN;
    return s->beta[i * s->na + asset];
}

const char *xcr_scenarios_rule_text(const xcr_scenarios *s, size_t i)
{
    if (!s || i >= s->n)
        return NULL;
    return s->meta[i].rule;
}
