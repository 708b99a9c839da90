/* User scenario files (docs/stress.md has the format).
 *
 * JSON: {"scenarios": [SCENARIO, ...]}, a bare array, or one SCENARIO:
 *   {"name": "alt_crash", "title": "...", "moves": {"BTC": -0.2, ...},
 *    "depegs": {"USDe": -0.35, "stETH": {"base": "ETH", "move": -0.05}},
 *    "vol_shifts": {"*": 0.2, "BTC": 0.3}, "liquidity": {"*": 0.1},
 *    "unlisted": "crash_ratio" | "regression" | "zero" | <fixed beta>,
 *    "events": ["..."], "date": "...", "variant": "...", "window_days": 2,
 *    "source": "..."}
 * A symbol in both "moves" and "depegs" takes the depeg (so the output of
 * `xcr scenarios --format json` reads back to the same scenarios).
 *
 * CSV, long form: scenario,symbol,move[,base][,kind][,vol_shift]
 * [,liquidity] — one row per scenario and asset, "*" as the symbol of a row
 * that sets vol_shift or liquidity for all assets; wide form:
 * scenario,SYM1,SYM2,... with one row of moves per scenario (an empty cell
 * leaves the asset to the unlisted rule).
 *
 * Every error names the file and the JSON path or the CSV line and column;
 * a file with an error adds nothing to the set. */
#include "stress.h"
#include "../io/csv.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

/* One scenario being read: strings are owned copies. */
typedef struct bscen {
    char *name, *title, *date, *variant, *source;
    int window_days;
    xcr_scenario_move *mv;
    size_t nmv, capmv;
    xcr_scenario_value *vol, *liq;
    size_t nvol, capvol, nliq, capliq;
    char **events;
    size_t nev;
    xcr_unlisted unlisted;
    long line;        /* CSV: first line                                */
} bscen;

static char *sd(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void bscen_free(bscen *b)
{
    free(b->name);
    free(b->title);
    free(b->date);
    free(b->variant);
    free(b->source);
    for (size_t i = 0; i < b->nmv; i++) {
        free((char *)(uintptr_t)b->mv[i].symbol);
        free((char *)(uintptr_t)b->mv[i].base);
    }
    free(b->mv);
    for (size_t i = 0; i < b->nvol; i++)
        free((char *)(uintptr_t)b->vol[i].symbol);
    free(b->vol);
    for (size_t i = 0; i < b->nliq; i++)
        free((char *)(uintptr_t)b->liq[i].symbol);
    free(b->liq);
    for (size_t i = 0; i < b->nev; i++)
        free(b->events[i]);
    free(b->events);
    memset(b, 0, sizeof *b);
}

static bool add_move(bscen *b, const char *sym, double mv, const char *base,
                     xcr_move_kind kind)
{
    if (b->nmv == b->capmv) {
        size_t nc = b->capmv ? b->capmv * 2 : 8;
        xcr_scenario_move *p = realloc(b->mv, nc * sizeof *p);
        if (!p)
            return false;
        b->mv = p;
        b->capmv = nc;
    }
    char *s = sd(sym), *bs = base ? sd(base) : NULL;
    if (!s || (base && !bs)) {
        free(s);
        free(bs);
        return false;
    }
    b->mv[b->nmv++] = (xcr_scenario_move){s, mv, bs, kind, NULL};
    return true;
}

static bool add_value(xcr_scenario_value **arr, size_t *n, size_t *cap,
                      const char *sym, double v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        xcr_scenario_value *p = realloc(*arr, nc * sizeof *p);
        if (!p)
            return false;
        *arr = p;
        *cap = nc;
    }
    char *s = sd(sym);
    if (!s)
        return false;
    (*arr)[(*n)++] = (xcr_scenario_value){s, v};
    return true;
}

static long find_move(const bscen *b, const char *sym)
{
    for (size_t i = 0; i < b->nmv; i++)
        if (xcr__strcasecmp(b->mv[i].symbol, sym) == 0)
            return (long)i;
    return -1;
}

static bool valid_sym(const char *s, bool star)
{
    return (star && strcmp(s, "*") == 0) || xcr__valid_id(s);
}

/* Add the scenarios read; all or nothing. */
static xcr_status commit(xcr_scenarios *s, bscen *sc, size_t n,
                         const xcr_unlisted *rule, const char *file,
                         bool json, xcr_error *err)
{
    size_t before = s->n;
    for (size_t i = 0; i < n; i++) {
        const char *ev[64];
        size_t nev = sc[i].nev < 64 ? sc[i].nev : 64;
        for (size_t k = 0; k < nev; k++)
            ev[k] = sc[i].events[k];
        xcr_scenario_def d = {sc[i].name,  sc[i].title,   sc[i].date,
                              sc[i].variant, sc[i].window_days,
                              sc[i].source, sc[i].mv,     sc[i].nmv,
                              sc[i].vol,   sc[i].nvol,    sc[i].liq,
                              sc[i].nliq,  ev,            nev,
                              sc[i].unlisted};
        xcr_status st = xcr_scenarios_add_def(s, &d, rule, err);
        if (st != XCR_OK) {
            char where[300];
            if (json)
                snprintf(where, sizeof where, "%s: $.scenarios[%zu]", file,
                         i);
            else
                snprintf(where, sizeof where, "%s: line %ld", file,
                         sc[i].line);
            xcr__error_prefix(err, where);
            xcr__scen_truncate(s, before);
            return st;
        }
    }
    return XCR_OK;
}

/* MARK: JSON ---------------------------------------------------------------------------- */

#define JFAIL(...)                                                             \
    do {                                                                       \
        st = xcr__fail(err, XCR_EINVAL, __VA_ARGS__);                          \
        goto fail;                                                             \
    } while (0)

static xcr_status read_json_scenario(json_t *o, const char *file,
                                     const char *path, bscen *b,
                                     xcr_error *err)
{
    xcr_status st = XCR_OK;
    if (!json_is_object(o))
        JFAIL("%s: %s: a scenario must be an object", file, path);
    const char *key;
    json_t *v;
    static const char *const KNOWN[] = {
        "name",    "title",     "date",   "variant",  "window_days",
        "source",  "moves",     "depegs", "vol_shifts", "liquidity",
        "events",  "unlisted",  "notes",  "crash_ratio_beta",
        "unlisted_rule", NULL};
    json_object_foreach(o, key, v)
    {
        bool ok = false;
        for (const char *const *k = KNOWN; *k; k++)
            if (strcmp(*k, key) == 0)
                ok = true;
        if (!ok)
            JFAIL("%s: %s.%s: unknown field (expected name, moves, depegs, "
                  "vol_shifts, liquidity, unlisted, title, date, variant, "
                  "window_days, events, source)",
                  file, path, key);
    }
    json_t *name = json_object_get(o, "name");
    if (!json_is_string(name) || !xcr__valid_id(json_string_value(name)))
        JFAIL("%s: %s.name: required, 1-64 characters from "
              "[A-Za-z0-9._:/-]",
              file, path);
    b->name = sd(json_string_value(name));
    static const char *const TEXT[] = {"title", "date", "variant", "source"};
    char **dst[] = {&b->title, &b->date, &b->variant, &b->source};
    for (int k = 0; k < 4; k++) {
        json_t *t = json_object_get(o, TEXT[k]);
        if (!t || json_is_null(t))
            continue;
        if (!json_is_string(t))
            JFAIL("%s: %s.%s: must be a string", file, path, TEXT[k]);
        *dst[k] = sd(json_string_value(t));
        if (!*dst[k])
            return NOMEM(err);
    }
    json_t *wd = json_object_get(o, "window_days");
    if (wd && !json_is_null(wd)) {
        if (!json_is_integer(wd) || json_integer_value(wd) < 0 ||
            json_integer_value(wd) > 36500)
            JFAIL("%s: %s.window_days: must be a whole number of days >= 0",
                  file, path);
        b->window_days = (int)json_integer_value(wd);
    }
    json_t *ev = json_object_get(o, "events");
    if (ev && !json_is_null(ev)) {
        if (!json_is_array(ev))
            JFAIL("%s: %s.events: must be an array of strings", file, path);
        b->events = calloc(json_array_size(ev) + 1, sizeof *b->events);
        if (!b->events)
            return NOMEM(err);
        size_t i;
        json_t *e;
        json_array_foreach(ev, i, e)
        {
            if (!json_is_string(e))
                JFAIL("%s: %s.events[%zu]: must be a string", file, path, i);
            b->events[b->nev] = sd(json_string_value(e));
            if (!b->events[b->nev++])
                return NOMEM(err);
        }
    }
    /* depegs first: they win over moves of the same symbol */
    json_t *dp = json_object_get(o, "depegs");
    if (dp && !json_is_null(dp)) {
        if (!json_is_object(dp))
            JFAIL("%s: %s.depegs: must be an object {symbol: move or "
                  "{\"move\": m, \"base\": symbol}}",
                  file, path);
        json_object_foreach(dp, key, v)
        {
            if (!valid_sym(key, false))
                JFAIL("%s: %s.depegs: \"%s\" is not a valid symbol", file,
                      path, key);
            double m;
            const char *base = NULL;
            if (json_is_number(v)) {
                m = json_number_value(v);
            } else if (json_is_object(v)) {
                json_t *mm = json_object_get(v, "move");
                json_t *bb = json_object_get(v, "base");
                const char *k2;
                json_t *v2;
                json_object_foreach(v, k2, v2)
                {
                    if (strcmp(k2, "move") && strcmp(k2, "base"))
                        JFAIL("%s: %s.depegs.%s.%s: unknown field (expected "
                              "move, base)",
                              file, path, key, k2);
                }
                if (!json_is_number(mm))
                    JFAIL("%s: %s.depegs.%s.move: must be a number", file,
                          path, key);
                m = json_number_value(mm);
                if (bb && !json_is_null(bb)) {
                    if (!json_is_string(bb) ||
                        !xcr__valid_id(json_string_value(bb)))
                        JFAIL("%s: %s.depegs.%s.base: must be an asset "
                              "symbol",
                              file, path, key);
                    base = json_string_value(bb);
                    if (xcr__strcasecmp(base, key) == 0)
                        JFAIL("%s: %s.depegs.%s.base: an asset cannot be "
                              "relative to itself",
                              file, path, key);
                }
            } else {
                JFAIL("%s: %s.depegs.%s: must be a number or {\"move\": m, "
                      "\"base\": symbol}",
                      file, path, key);
            }
            if (!(m > -1) || !isfinite(m))
                JFAIL("%s: %s.depegs.%s: a move must be a finite number > -1 "
                      "(a fraction: -0.35 = a 35 %% fall)",
                      file, path, key);
            if (find_move(b, key) >= 0)
                JFAIL("%s: %s.depegs.%s: listed twice", file, path, key);
            if (!add_move(b, key, m, base, XCR_MOVE_DEPEG))
                return NOMEM(err);
        }
    }
    json_t *mv = json_object_get(o, "moves");
    if (mv && !json_is_null(mv)) {
        if (!json_is_object(mv))
            JFAIL("%s: %s.moves: must be an object {symbol: move}", file,
                  path);
        json_object_foreach(mv, key, v)
        {
            if (!valid_sym(key, false))
                JFAIL("%s: %s.moves: \"%s\" is not a valid symbol", file,
                      path, key);
            if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
                !(json_number_value(v) > -1))
                JFAIL("%s: %s.moves.%s: must be a number > -1 (a fraction: "
                      "-0.2 = a 20 %% fall)",
                      file, path, key);
            long prev = find_move(b, key);
            if (prev >= 0) {
                if (b->mv[prev].kind == XCR_MOVE_DEPEG)
                    continue; /* the depeg wins */
                JFAIL("%s: %s.moves.%s: listed twice (symbols are "
                      "case-insensitive)",
                      file, path, key);
            }
            if (!add_move(b, key, json_number_value(v), NULL,
                          XCR_MOVE_MARKET))
                return NOMEM(err);
        }
    }
    static const char *const TABLES[] = {"vol_shifts", "liquidity"};
    for (int k = 0; k < 2; k++) {
        json_t *t = json_object_get(o, TABLES[k]);
        if (!t || json_is_null(t))
            continue;
        if (!json_is_object(t))
            JFAIL("%s: %s.%s: must be an object {symbol or \"*\": number}",
                  file, path, TABLES[k]);
        json_object_foreach(t, key, v)
        {
            if (!valid_sym(key, true))
                JFAIL("%s: %s.%s: \"%s\" is not a valid symbol", file, path,
                      TABLES[k], key);
            if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
                (k == 1 && json_number_value(v) < 0))
                JFAIL("%s: %s.%s.%s: must be %s", file, path, TABLES[k], key,
                      k == 0 ? "a finite number (absolute vol points)"
                             : "a multiplier >= 0");
            bool ok = k == 0 ? add_value(&b->vol, &b->nvol, &b->capvol, key,
                                         json_number_value(v))
                             : add_value(&b->liq, &b->nliq, &b->capliq, key,
                                         json_number_value(v));
            if (!ok)
                return NOMEM(err);
        }
    }
    json_t *un = json_object_get(o, "unlisted");
    if (un && !json_is_null(un)) {
        if (json_is_number(un)) {
            b->unlisted.rule = XCR_UNLISTED_FIXED;
            b->unlisted.beta = json_number_value(un);
        } else if (json_is_string(un) &&
                   strcmp(json_string_value(un), "crash_ratio") == 0) {
            b->unlisted.rule = XCR_UNLISTED_CRASH_RATIO;
        } else if (json_is_string(un) &&
                   strcmp(json_string_value(un), "regression") == 0) {
            b->unlisted.rule = XCR_UNLISTED_REGRESSION;
        } else if (json_is_string(un) &&
                   strcmp(json_string_value(un), "zero") == 0) {
            b->unlisted.rule = XCR_UNLISTED_ZERO;
        } else {
            JFAIL("%s: %s.unlisted: must be \"crash_ratio\", \"regression\", "
                  "\"zero\" or a number (a fixed beta to BTC)",
                  file, path);
        }
    }
    if (!b->name)
        return NOMEM(err);
    return XCR_OK;
fail:
    return st;
}

static xcr_status load_json(xcr_scenarios *s, const char *text, size_t len,
                            const char *file, const xcr_unlisted *rule,
                            xcr_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__fail(err, XCR_EPARSE, "%s: line %d, column %d: %s", file,
                         je.line, je.column, je.text);
    xcr_status st = XCR_OK;
    json_t *arr = NULL;
    bool wrapped = false;
    if (json_is_array(root)) {
        arr = root;
    } else if (json_is_object(root) && json_object_get(root, "scenarios")) {
        arr = json_object_get(root, "scenarios");
        wrapped = true;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            if (strcmp(key, "scenarios") != 0) {
                /* format before the decref: `key` lives in `root` */
                xcr__fail(err, XCR_EINVAL,
                          "%s: $.%s: unknown field (expected "
                          "\"scenarios\")",
                          file, key);
                json_decref(root);
                return XCR_EINVAL;
            }
        }
        if (!json_is_array(arr)) {
            json_decref(root);
            return xcr__fail(err, XCR_EINVAL,
                             "%s: $.scenarios: must be an array", file);
        }
    } else if (!json_is_object(root)) {
        json_decref(root);
        return xcr__fail(err, XCR_EINVAL,
                         "%s: $: expected {\"scenarios\": [...]}, an array "
                         "or one scenario object",
                         file);
    }
    size_t n = arr ? json_array_size(arr) : 1;
    if (n == 0) {
        json_decref(root);
        return xcr__fail(err, XCR_EINVAL, "%s: %s: no scenarios", file,
                         wrapped ? "$.scenarios" : "$");
    }
    bscen *sc = calloc(n, sizeof *sc);
    if (!sc) {
        json_decref(root);
        return NOMEM(err);
    }
    for (size_t i = 0; i < n && st == XCR_OK; i++) {
        char path[64];
        if (!arr)
            snprintf(path, sizeof path, "$");
        else
            snprintf(path, sizeof path, "%s[%zu]",
                     wrapped ? "$.scenarios" : "$", i);
        st = read_json_scenario(arr ? json_array_get(arr, i) : root, file,
                                path, &sc[i], err);
        for (size_t j = 0; j < i && st == XCR_OK; j++)
            if (strcmp(sc[j].name, sc[i].name) == 0)
                st = xcr__fail(err, XCR_EDUP,
                               "%s: %s.name: \"%s\" is used twice", file,
                               path, sc[i].name);
    }
    json_decref(root);
    if (st == XCR_OK)
        st = commit(s, sc, n, rule, file, true, err);
    for (size_t i = 0; i < n; i++)
        bscen_free(&sc[i]);
    free(sc);
    return st;
}

/* MARK: CSV ---------------------------------------------------------------------------------- */

static long col_of(const xcr__csv_reader *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (xcr__strcasecmp(r->header[i], name) == 0)
            return (long)i;
    return -1;
}

static xcr_status load_csv(xcr_scenarios *s, const char *text, size_t len,
                           const char *file, const xcr_unlisted *rule,
                           xcr_error *err)
{
    xcr__csv_reader r;
    xcr_status st = xcr__csv_open_mem(&r, text, len, file, NULL, err);
    bscen *sc = NULL;
    size_t n = 0, cap = 0;
    if (st != XCR_OK)
        goto done;
    long c_scen = col_of(&r, "scenario");
    if (c_scen < 0)
        c_scen = col_of(&r, "name");
    long c_sym = col_of(&r, "symbol"), c_move = col_of(&r, "move");
    long c_base = col_of(&r, "base"), c_kind = col_of(&r, "kind");
    long c_vol = col_of(&r, "vol_shift"), c_liq = col_of(&r, "liquidity");
    bool wide = c_sym < 0;
    if (c_scen < 0 || (!wide && c_move < 0 && c_vol < 0 && c_liq < 0) ||
        (wide && c_scen != 0)) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s: line 1: expected a header "
                       "scenario,symbol,move[,base][,kind][,vol_shift]"
                       "[,liquidity] (long form) or scenario,SYM1,SYM2,... "
                       "(wide form)",
                       file);
        goto done;
    }
    if (wide)
        for (size_t i = 1; i < r.ncols; i++)
            if (r.header[i][0] && !xcr__valid_id(r.header[i])) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line 1, column %zu: \"%s\" is not a valid "
                               "asset symbol",
                               file, i + 1, r.header[i]);
                goto done;
            }
    for (;;) {
        bool got;
        if ((st = xcr__csv_next(&r, &got, err)) != XCR_OK)
            goto done;
        if (!got)
            break;
        char *nm = xcr__csv_trim(r.fields[c_scen]);
        if (!xcr__valid_id(nm)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column %ld (%s): \"%s\" is not a "
                           "valid scenario name (1-64 characters from "
                           "[A-Za-z0-9._:/-])",
                           file, r.record_line, c_scen + 1, r.header[c_scen],
                           nm);
            goto done;
        }
        bscen *b = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(sc[i].name, nm) == 0)
                b = &sc[i];
        if (b && wide) {
            st = xcr__fail(err, XCR_EDUP,
                           "%s: line %ld, column 1: scenario \"%s\" appears "
                           "twice",
                           file, r.record_line, nm);
            goto done;
        }
        if (!b) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                bscen *p = realloc(sc, cap * sizeof *p);
                if (!p) {
                    st = NOMEM(err);
                    goto done;
                }
                sc = p;
            }
            b = &sc[n++];
            memset(b, 0, sizeof *b);
            b->name = sd(nm);
            b->line = r.record_line;
            if (!b->name) {
                st = NOMEM(err);
                goto done;
            }
        }
        if (wide) {
            for (size_t i = 1; i < r.ncols; i++) {
                if (!r.header[i][0])
                    continue;
                char *f = xcr__csv_trim(r.fields[i]);
                if (!*f)
                    continue;
                double v;
                if (!xcr__parse_double(f, &v) || !(v > -1)) {
                    st = xcr__fail(err, XCR_EINVAL,
                                   "%s: line %ld, column %zu (%s): \"%s\" is "
                                   "not a move > -1 (a fraction: -0.2 = a "
                                   "20 %% fall)",
                                   file, r.record_line, i + 1, r.header[i], f);
                    goto done;
                }
                if (!add_move(b, r.header[i], v, NULL, XCR_MOVE_MARKET)) {
                    st = NOMEM(err);
                    goto done;
                }
            }
            continue;
        }
        char *sym = xcr__csv_trim(r.fields[c_sym]);
        if (!valid_sym(sym, true)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column %ld (symbol): \"%s\" is not "
                           "a valid asset symbol",
                           file, r.record_line, c_sym + 1, sym);
            goto done;
        }
        double v;
        char *f = c_move >= 0 ? xcr__csv_trim(r.fields[c_move]) : NULL;
        if (f && *f) {
            if (strcmp(sym, "*") == 0) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %ld (move): a move needs "
                               "one asset, not \"*\"",
                               file, r.record_line, c_move + 1);
                goto done;
            }
            if (!xcr__parse_double(f, &v) || !(v > -1)) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %ld (move): \"%s\" is not "
                               "a move > -1 (a fraction: -0.2 = a 20 %% "
                               "fall)",
                               file, r.record_line, c_move + 1, f);
                goto done;
            }
            if (find_move(b, sym) >= 0) {
                st = xcr__fail(err, XCR_EDUP,
                               "%s: line %ld, column %ld (symbol): %s is "
                               "listed twice in scenario %s",
                               file, r.record_line, c_sym + 1, sym, b->name);
                goto done;
            }
            const char *base = NULL;
            if (c_base >= 0) {
                char *bf = xcr__csv_trim(r.fields[c_base]);
                if (*bf) {
                    if (!xcr__valid_id(bf) || xcr__strcasecmp(bf, sym) == 0) {
                        st = xcr__fail(err, XCR_EINVAL,
                                       "%s: line %ld, column %ld (base): "
                                       "\"%s\" is not another asset's symbol",
                                       file, r.record_line, c_base + 1, bf);
                        goto done;
                    }
                    base = bf;
                }
            }
            xcr_move_kind kind = base ? XCR_MOVE_DEPEG : XCR_MOVE_MARKET;
            if (c_kind >= 0) {
                char *kf = xcr__csv_trim(r.fields[c_kind]);
                if (strcmp(kf, "depeg") == 0)
                    kind = XCR_MOVE_DEPEG;
                else if (strcmp(kf, "market") == 0)
                    kind = XCR_MOVE_MARKET;
                else if (*kf) {
                    st = xcr__fail(err, XCR_EINVAL,
                                   "%s: line %ld, column %ld (kind): \"%s\" "
                                   "must be market or depeg",
                                   file, r.record_line, c_kind + 1, kf);
                    goto done;
                }
            }
            if (!add_move(b, sym, v, base, kind)) {
                st = NOMEM(err);
                goto done;
            }
        }
        long cols[2] = {c_vol, c_liq};
        for (int k = 0; k < 2; k++) {
            if (cols[k] < 0)
                continue;
            char *g = xcr__csv_trim(r.fields[cols[k]]);
            if (!*g)
                continue;
            if (!xcr__parse_double(g, &v) || (k == 1 && v < 0)) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %ld (%s): \"%s\" is not "
                               "%s",
                               file, r.record_line, cols[k] + 1,
                               r.header[cols[k]], g,
                               k == 0 ? "a number (absolute vol points)"
                                      : "a multiplier >= 0");
                goto done;
            }
            bool ok = k == 0
                          ? add_value(&b->vol, &b->nvol, &b->capvol, sym, v)
                          : add_value(&b->liq, &b->nliq, &b->capliq, sym, v);
            if (!ok) {
                st = NOMEM(err);
                goto done;
            }
        }
    }
    if (n == 0) {
        st = xcr__fail(err, XCR_EINVAL, "%s: no scenarios (only a header)",
                       file);
        goto done;
    }
    st = commit(s, sc, n, rule, file, false, err);
done:
    xcr__csv_close(&r);
    for (size_t i = 0; i < n; i++)
        bscen_free(&sc[i]);
    free(sc);
    return st;
}

/* MARK: entry points -------------------------------------------------------------------------- */

static bool ends_with_ci(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && xcr__strcasecmp(s + n - m, suf) == 0;
}

xcr_status xcr_scenarios_load_text(xcr_scenarios *s, const char *text,
                                   size_t len, const char *name,
                                   const xcr_unlisted *rule, xcr_error *err)
{
    if (!s || !text)
        return xcr__fail(err, XCR_EINVAL, "scenario set and text are "
                                          "required");
    const char *file = name ? name : "<scenarios>";
    if (name && ends_with_ci(name, ".csv"))
        return load_csv(s, text, len, file, rule, err);
    return load_json(s, text, len, file, rule, err);
}

xcr_status xcr_scenarios_load_file(xcr_scenarios *s, const char *path,
                                   const xcr_unlisted *rule, xcr_error *err)
{
    if (!s || !path)
        return xcr__fail(err, XCR_EINVAL, "scenario set and path are "
                                          "required");
    char *buf = NULL;
    size_t len = 0;
    xcr_status rs = xcr__read_file(path, (size_t)256 << 20, &buf, &len, err);
    if (rs != XCR_OK)
        return rs;
    /* a CSV by its name, or by content when the name says nothing */
    bool csv = ends_with_ci(path, ".csv");
    if (!csv && !ends_with_ci(path, ".json")) {
        const char *p = buf;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        csv = *p != '{' && *p != '[';
    }
    xcr_status st = csv ? load_csv(s, buf, len, path, rule, err)
                        : load_json(s, buf, len, path, rule, err);
    free(buf);
    return st;
}
