/* The `xcr margin` report: spec §2 JSON, a wide CSV table, or an aligned text
 * table.  Accounts are processed in chunks: each chunk is evaluated (margin,
 * liquidation prices, shocks) on worker threads, then written in account
 * order, so memory stays bounded and output never depends on thread count. */
#include "../margin/margin.h"
#include "../portfolio/pm.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 8192

typedef struct acct_out {
    xcr_account_result r;
    double shock_down, shock_up;
    size_t liq_off, n_liq; /* into chunk liq array */
    /* JSON only: the second-order risk ladder, for accounts with options
     * or in portfolio mode (where gamma can eat the buffer) */
    bool has_ladder;
    xcr_ladder_point ladder[XCR_LADDER_DEFAULT_COUNT];
} acct_out;

static bool wants_ladder(const xcr_book *b, size_t i)
{
    if (b->acct_mode[i] == XCR_MODE_PORTFOLIO)
        return true;
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
        if (b->insts[b->pos_inst[p]].type == XCR_OPTION)
            return true;
    return false;
}

typedef struct chunk {
    const xcr_market *m;
    size_t first, count;     /* account range                             */
    const size_t *index;     /* or explicit list (one account)            */
    acct_out *acc;
    xcr_liq_price *liq;      /* count × n_assets slots                    */
    int liquidation;
    size_t n_assets;
    int json;                /* also the ladder and position results     */
    xcr_position_result *pos; /* JSON: results of the chunk's positions,
                                  from book->pos_off[acct_at(0)] on        */
    size_t pos_cap;
} chunk;

typedef struct work {
    chunk *c;
    size_t lo, hi;
    xcr_status status;
    size_t bad;
} work;

static size_t acct_at(const chunk *c, size_t k)
{
    return c->index ? c->index[k] : c->first + k;
}

static bool finite_result(const xcr_book *b, size_t i,
                          const xcr_account_result *r)
{
    return isfinite(r->equity) && isfinite(r->collateral) &&
           isfinite(r->maintenance_margin) &&
           (isfinite(r->initial_margin) ||
            (b->acct_mode[i] == XCR_MODE_LENDING &&
             r->initial_margin == INFINITY));
}

static void *run_work(void *arg)
{
    work *w = arg;
    chunk *c = w->c;
    const xcr_book *b = c->m->book;
    xcr__ws ws;
    if (xcr__ws_init(&ws, b) != XCR_OK) {
        w->status = XCR_ENOMEM;
        return NULL;
    }
    size_t *exp = malloc((c->n_assets + 1) * sizeof *exp);
    xcr_underlying_greeks *g = malloc((c->n_assets + 1) * sizeof *g);
    if (!exp || !g) {
        free(exp);
        free(g);
        xcr__ws_free(&ws, b);
        w->status = XCR_ENOMEM;
        return NULL;
    }
    w->status = XCR_OK;
    for (size_t k = w->lo; k < w->hi; k++) {
        size_t i = acct_at(c, k);
        acct_out *o = &c->acc[k];
        /* positions of the chunk's accounts are contiguous in the book */
        xcr_position_result *pr =
            c->json ? c->pos + (b->pos_off[i] - b->pos_off[acct_at(c, 0)])
                    : NULL;
        xcr__eval_account(c->m, NULL, i, &ws, &o->r, pr, NULL);
        if (!finite_result(b, i, &o->r)) {
            w->status = XCR_ERANGE;
            w->bad = i;
            break;
        }
        o->liq_off = k * c->n_assets;
        o->n_liq = 0;
        o->shock_down = o->shock_up = NAN;
        o->has_ladder = c->json && wants_ladder(b, i);
        if (o->has_ladder)
            xcr__ladder_ws(c->m, i, &ws, xcr_ladder_default_moves(),
                           XCR_LADDER_DEFAULT_COUNT, o->ladder, g);
        if (!c->liquidation)
            continue;
        size_t n = xcr_account_exposed_assets(b, i, exp, c->n_assets);
        for (size_t j = 0; j < n; j++)
            xcr__liq_price_ws(c->m, i, exp[j], &ws, &c->liq[o->liq_off + j]);
        o->n_liq = n;
        if (n)
            xcr__liq_shock_ws(c->m, i, &ws, &o->shock_down, &o->shock_up);
    }
    free(exp);
    free(g);
    xcr__ws_free(&ws, b);
    return NULL;
}

static xcr_status run_chunk(chunk *c, int threads, xcr_error *err)
{
    int nt = xcr__thread_count(threads, c->count * 64);
    work w[XCR__MAX_THREADS];
    for (int t = 0; t < nt; t++)
        w[t] = (work){c, c->count * (size_t)t / (size_t)nt,
                      c->count * (size_t)(t + 1) / (size_t)nt, XCR_OK, 0};
    xcr__run_jobs(run_work, w, sizeof w[0], nt);
    for (int t = 0; t < nt; t++) {
        if (w[t].status == XCR_ENOMEM)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        if (w[t].status == XCR_ERANGE)
            return xcr__fail(err, XCR_ERANGE,
                             "account \"%s\": margin is not a finite number "
                             "(sizes, balances or prices too large)",
                             c->m->book->acct_id[w[t].bad]);
    }
    return XCR_OK;
}

/* MARK: number printing ------------------------------------------------------------ */

/* MARK: writers ---------------------------------------------------------------------- */

typedef struct totals {
    size_t n, by_status[4];
    double equity, collateral, mm;
} totals;

/* A vector as a JSON array; −0 prints as 0. */
static void put_vec(FILE *f, const double *v, size_t n)
{
    fputc('[', f);
    for (size_t k = 0; k < n; k++) {
        if (k)
            fputs(", ", f);
        xcr__put_num(f, v[k] + 0.0);
    }
    fputc(']', f);
}

static const char *const vol_names[3] = {"up", "unchanged", "down"};

/* Worst entry of a risk-matrix vector: index, source, bucket, side, vol. */
static void put_worst(FILE *f, const xcr_pm_detail *d, int index, int ext,
                      double move)
{
    fprintf(f, ", \"worst_index\": %d, \"worst_source\": \"%s\"", index,
            ext ? "extended" : "standard");
    if (!ext) {
        int bucket = index / 3 + 1, mid = d->buckets_count + 1;
        fprintf(f, ", \"worst_bucket\": %d, \"worst_side\": \"%s\", "
                   "\"worst_vol\": \"%s\"",
                bucket, bucket < mid ? "left" : bucket > mid ? "right"
                                                            : "center",
                vol_names[index % 3]);
    } else {
        fputs(", \"worst_vol\": \"up\"", f);
    }
    fputs(", \"worst_move\": ", f);
    xcr__put_num(f, move + 0.0);
}

/* settings.portfolio's block of a portfolio account (spec §1.2). */
static void write_json_portfolio(FILE *f, const xcr_book *b,
                                 const xcr_pm_detail *d)
{
    fputs(",\n   \"portfolio\": {\"model\": ", f);
    if (d->model == XCR_PM_SPAN) {
        fputs("\"span\", \"initial_margin_usd\": ", f);
        xcr__put_num(f, d->initial_margin_usd);
        fputs(", \"maintenance_margin_usd\": ", f);
        xcr__put_num(f, d->maintenance_margin_usd);
        fputs(", \"commodities\": {", f);
        for (size_t k = 0; k < d->n_commodities; k++) {
            const xcr_span_commodity *c = &d->commodities[k];
            fprintf(f, "%s\n    \"%s\": {\"risk_array\": ", k ? "," : "",
                    b->assets[c->underlying].symbol);
            put_vec(f, c->risk_array, 16);
            fputs(", \"scanning_risk\": ", f);
            xcr__put_num(f, c->scanning_risk + 0.0);
            fprintf(f, ", \"worst_scenario\": %d, \"composite_delta\": ",
                    c->worst_scenario);
            xcr__put_num(f, c->composite_delta);
            fputs(", \"intra_spread_charge\": ", f);
            xcr__put_num(f, c->intra_spread_charge);
            fputs(", \"inter_spread_credit\": ", f);
            xcr__put_num(f, c->inter_spread_credit);
            fputs(", \"short_option_minimum\": ", f);
            xcr__put_num(f, c->short_option_minimum);
            fputs(", \"risk\": ", f);
            xcr__put_num(f, c->risk + 0.0);
            fputs("}", f);
        }
        fputs("}}", f);
        return;
    }
    fprintf(f, "\"risk_matrix\", \"buckets_count\": %d, "
               "\"vol_scenarios_count\": %d, \"mm_factor\": ",
            d->buckets_count, d->vol_scenarios_count);
    xcr__put_num(f, d->mm_factor);
    fputs(", \"extended_moves\": ", f);
    put_vec(f, d->extended_moves, d->n_extended);
    fprintf(f, ", \"cross_currency\": \"%s\"",
            d->cross_currency_blend ? "blend" : "sum");
    if (d->cross_currency_blend) {
        fputs(", \"decorrelation_risk\": ", f);
        xcr__put_num(f, d->decorrelation_risk);
        fputs(", \"cross_currency_offset_usd\": ", f);
        xcr__put_num(f, d->cross_currency_offset_usd + 0.0);
    }
    fputs(", \"initial_margin_usd\": ", f);
    xcr__put_num(f, d->initial_margin_usd);
    fputs(", \"maintenance_margin_usd\": ", f);
    xcr__put_num(f, d->maintenance_margin_usd);
    fputs(", \"currencies\": {", f);
    for (size_t k = 0; k < d->n_currencies; k++) {
        const xcr_pm_currency *c = &d->currencies[k];
        fprintf(f, "%s\n    \"%s\": {\"price\": ", k ? "," : "",
                b->assets[c->asset].symbol);
        xcr__put_num(f, c->price);
        fputs(", \"risk_vector\": ", f);
        put_vec(f, c->risk_vector, d->n_risk);
        fputs(", \"extended_vector\": ", f);
        put_vec(f, c->extended, d->n_extended);
        fputs(",\n     \"worst_case\": ", f);
        xcr__put_num(f, c->worst_case + 0.0);
        double move = NAN;
        if (c->n_pairs) {
            /* the move of the largest pair's worst entry */
            const xcr_pm_pair *best = &d->pairs[c->pair_first];
            for (size_t j = 1; j < c->n_pairs; j++)
                if (d->pairs[c->pair_first + j].worst_case > best->worst_case)
                    best = &d->pairs[c->pair_first + j];
            move = best->worst_move;
        }
        put_worst(f, d, c->worst_index, c->worst_extended, move);
        fputs(", \"roll_shock\": ", f);
        xcr__put_num(f, c->roll_shock);
        fputs(", \"delta_shock\": ", f);
        xcr__put_num(f, c->delta_shock);
        fputs(", \"risk_matrix_margin\": ", f);
        xcr__put_num(f, c->risk_matrix_margin + 0.0);
        fputs(", \"extra_im\": ", f);
        xcr__put_num(f, c->extra_im);
        fputs(", \"initial_margin\": ", f);
        xcr__put_num(f, c->initial_margin + 0.0);
        fputs(", \"maintenance_margin\": ", f);
        xcr__put_num(f, c->maintenance_margin + 0.0);
        fputs(",\n     \"underlyings\": {", f);
        for (size_t j = 0; j < c->n_pairs; j++) {
            const xcr_pm_pair *pr = &d->pairs[c->pair_first + j];
            fprintf(f, "%s\"%s\": {\"price_range\": ", j ? ", " : "",
                    b->assets[pr->underlying].symbol);
            xcr__put_num(f, pr->price_range);
            fputs(", \"risk_vector\": ", f);
            put_vec(f, pr->risk_vector, d->n_risk);
            fputs(", \"extended_vector\": ", f);
            put_vec(f, pr->extended, d->n_extended);
            fputs(", \"worst_case\": ", f);
            xcr__put_num(f, pr->worst_case + 0.0);
            put_worst(f, d, pr->worst_index, pr->worst_extended,
                      pr->worst_move);
            fputs(", \"roll_shock\": ", f);
            xcr__put_num(f, pr->roll_shock);
            fputs(", \"delta_shock\": ", f);
            xcr__put_num(f, pr->delta_shock);
            fputs(", \"delta\": ", f);
            xcr__put_num(f, pr->delta + 0.0);
            fputs("}", f);
        }
        fputs("}}", f);
    }
    fputs("}}", f);
}

static void write_json_greeks(FILE *f, const xcr_market *m, size_t i,
                              const acct_out *o, xcr_underlying_greeks *g)
{
    const xcr_book *b = m->book;
    size_t n = xcr__account_greeks(m, NULL, i, g, b->n_assets);
    if (n > b->n_assets)
        n = b->n_assets;
    double t[4] = {0, 0, 0, 0};
    for (size_t k = 0; k < n; k++) {
        t[0] += g[k].delta_usd;
        t[1] += g[k].gamma_usd;
        t[2] += g[k].vega_usd;
        t[3] += g[k].theta_usd;
    }
    fputs(",\n   \"greeks\": {\"delta_usd\": ", f);
    xcr__put_num(f, t[0] + 0.0);
    fputs(", \"gamma_usd\": ", f);
    xcr__put_num(f, t[1] + 0.0);
    fputs(", \"vega_usd\": ", f);
    xcr__put_num(f, t[2] + 0.0);
    fputs(", \"theta_usd\": ", f);
    xcr__put_num(f, t[3] + 0.0);
    fputs(", \"underlyings\": {", f);
    for (size_t k = 0; k < n; k++) {
        const xcr_underlying_greeks *x = &g[k];
        /* coin and USD figures (xcr_underlying_greeks); vanna and volga
         * are in `xcr explain` and the API */
        fprintf(f, "%s\"%s\": {", k ? ", " : "", b->assets[x->asset].symbol);
        const double v[] = {x->delta, x->delta_usd, x->gamma,    x->gamma_usd,
                            x->vega,  x->vega_usd,  x->theta_usd};
        static const char *const names[] = {"delta",    "delta_usd",
                                            "gamma",    "gamma_usd",
                                            "vega",     "vega_usd",
                                            "theta_usd"};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
            fprintf(f, "%s\"%s\": ", j ? ", " : "", names[j]);
            xcr__put_num(f, v[j] + 0.0);
        }
        fputs("}", f);
    }
    fputs("}}", f);
    if (!o->has_ladder)
        return;
    fputs(",\n   \"risk_ladder\": [", f);
    for (size_t k = 0; k < XCR_LADDER_DEFAULT_COUNT; k++) {
        const xcr_ladder_point *l = &o->ladder[k];
        fputs(k ? ", {\"move\": " : "{\"move\": ", f);
        xcr__put_num(f, l->move + 0.0);
        fputs(", \"delta_usd\": ", f);
        xcr__put_num(f, l->delta_usd + 0.0);
        fputs(", \"collateral\": ", f);
        xcr__put_num(f, l->collateral);
        fputs(", \"initial_margin\": ", f);
        xcr__put_num(f, l->initial_margin);
        fputs(", \"maintenance_margin\": ", f);
        xcr__put_num(f, l->maintenance_margin);
        fputs(", \"buffer\": ", f);
        xcr__put_num(f, l->buffer);
        fprintf(f, ", \"status\": \"%s\"}", xcr_acct_status_name(l->status));
    }
    fputs("]", f);
}

/* Returns false when out of memory. */
static bool write_json_account(FILE *f, const xcr_market *m, size_t i,
                               const acct_out *o, const xcr_liq_price *liq,
                               const xcr_position_result *pp, bool first,
                               xcr_underlying_greeks *g)
{
    const xcr_book *b = m->book;
    const xcr_account_result *r = &o->r;
    const bool port = b->acct_mode[i] == XCR_MODE_PORTFOLIO && b->pm;
    xcr_pm_detail *d = NULL;
    if (port && xcr__pm_detail(m, NULL, i, &d) != XCR_OK)
        return false;
    fputs(first ? "\n  {\"id\": \"" : ",\n  {\"id\": \"", f);
    fputs(b->acct_id[i], f);
    fprintf(f, "\", \"mode\": \"%s\", \"equity\": ",
            xcr_mode_name(b->acct_mode[i]));
    xcr__put_num(f, r->equity);
    fputs(", \"collateral\": ", f);
    xcr__put_num(f, r->collateral);
    fputs(", \"initial_margin\": ", f);
    xcr__put_num(f, r->initial_margin);
    fputs(", \"maintenance_margin\": ", f);
    xcr__put_num(f, r->maintenance_margin);
    fputs(", \"health\": ", f);
    xcr__put_num(f, r->health);
    fputs(", \"health_factor\": ", f);
    xcr__put_num(f, r->health_factor);
    if (b->acct_mode[i] == XCR_MODE_LENDING) {
        fputs(", \"borrow_capacity\": ", f);
        xcr__put_num(f, r->borrow_capacity);
    }
    fprintf(f, ", \"status\": \"%s\"", xcr_acct_status_name(r->status));
    if (b->acct_entity[i])
        fprintf(f, ", \"entity\": \"%s\"", b->acct_entity[i]);
    fputs(",\n   \"liquidation_prices\": {", f);
    for (size_t j = 0; j < o->n_liq; j++) {
        const xcr_liq_price *l = &liq[o->liq_off + j];
        fprintf(f, "%s\"%s\": {\"down\": ", j ? ", " : "",
                b->assets[l->asset].symbol);
        xcr__put_num(f, l->down);
        fputs(", \"up\": ", f);
        xcr__put_num(f, l->up);
        fputs("}", f);
    }
    fputs("}, \"liquidation_shock\": {\"down\": ", f);
    xcr__put_num(f, o->shock_down);
    fputs(", \"up\": ", f);
    xcr__put_num(f, o->shock_up);
    fputs("}", f);
    write_json_greeks(f, m, i, o, g);
    if (d)
        write_json_portfolio(f, b, d);
    fputs(",\n   \"positions\": [", f);
    size_t np = b->pos_off[i + 1] - b->pos_off[i];
    for (size_t k = 0; k < np; k++) {
        uint32_t p = b->pos_off[i] + (uint32_t)k;
        fprintf(f, "%s{\"instrument\": \"%s\", \"size\": ",
                k ? ", " : "", b->insts[b->pos_inst[p]].id);
        xcr__put_num(f, b->pos_size[p]);
        fputs(", \"notional\": ", f);
        xcr__put_num(f, pp[k].notional);
        fputs(", \"upnl\": ", f);
        xcr__put_num(f, pp[k].upnl + 0.0);
        fputs(", \"initial_margin\": ", f);
        xcr__put_num(f, pp[k].initial_margin);
        fputs(", \"maintenance_margin\": ", f);
        xcr__put_num(f, pp[k].maintenance_margin);
        if (!port)
            fprintf(f, ", \"bracket\": %d", pp[k].bracket + 1);
        if (b->acct_mode[i] == XCR_MODE_ISOLATED) {
            fputs(", \"isolated_margin\": ", f);
            xcr__put_num(f, b->pos_iso[p]);
            fprintf(f, ", \"status\": \"%s\"",
                    xcr_acct_status_name(pp[k].status));
        }
        if (d && d->model == XCR_PM_RISK_MATRIX) {
            const xcr_pm_position *q = &d->positions[k];
            fprintf(f, ", \"currency\": \"%s\", \"roll_shock\": ",
                    b->assets[q->currency].symbol);
            xcr__put_num(f, q->roll_shock);
            fputs(", \"risk_vector\": ", f);
            put_vec(f, q->risk_vector, d->n_risk);
            fputs(", \"extended_vector\": ", f);
            put_vec(f, q->extended, d->n_extended);
        } else if (d) {
            const xcr_pm_position *q = &d->positions[k];
            fputs(", \"span_array\": ", f);
            put_vec(f, q->span_array, 16);
            fputs(", \"composite_delta\": ", f);
            xcr__put_num(f, q->composite_delta + 0.0);
        }
        fputs("}", f);
    }
    fputs("]}", f);
    xcr_pm_detail_free(d);
    return true;
}

static void write_csv_header(FILE *f, const xcr_book *b, int liquidation)
{
    fputs("id,mode,status,equity,collateral,initial_margin,"
          "maintenance_margin,health,health_factor",
          f);
    if (liquidation) {
        fputs(",liquidation_shock_down,liquidation_shock_up", f);
        for (size_t a = 0; a < b->n_assets; a++)
            if (!b->assets[a].stable)
                fprintf(f, ",liq_down_%s,liq_up_%s", b->assets[a].symbol,
                        b->assets[a].symbol);
    }
    fputc('\n', f);
}

static void write_csv_account(FILE *f, const xcr_book *b, size_t i,
                              const acct_out *o, const xcr_liq_price *liq,
                              int liquidation)
{
    const xcr_account_result *r = &o->r;
    /* ids are from a CSV-safe character set: no quoting needed */
    fprintf(f, "%s,%s,%s,", b->acct_id[i], xcr_mode_name(b->acct_mode[i]),
            xcr_acct_status_name(r->status));
    const double v[] = {r->equity, r->collateral, r->initial_margin,
                        r->maintenance_margin, r->health, r->health_factor};
    for (size_t k = 0; k < 6; k++) {
        if (k)
            fputc(',', f);
        xcr__put_csv_num(f, v[k]);
    }
    if (liquidation) {
        fputc(',', f);
        xcr__put_csv_num(f, o->shock_down);
        fputc(',', f);
        xcr__put_csv_num(f, o->shock_up);
        for (size_t a = 0; a < b->n_assets; a++) {
            if (b->assets[a].stable)
                continue;
            const xcr_liq_price *hit = NULL;
            for (size_t j = 0; j < o->n_liq; j++)
                if (liq[o->liq_off + j].asset == a)
                    hit = &liq[o->liq_off + j];
            fputc(',', f);
            if (hit)
                xcr__put_csv_num(f, hit->down);
            fputc(',', f);
            if (hit)
                xcr__put_csv_num(f, hit->up);
        }
    }
    fputc('\n', f);
}

static void write_table_header(FILE *f)
{
    fprintf(f, "%-16s %-9s %-12s %18s %18s %16s %16s %9s %10s\n", "account",
            "mode", "status", "equity", "collateral", "maint.margin",
            "init.margin", "health", "liq.shock");
}

static void write_table_account(FILE *f, const xcr_book *b, size_t i,
                                const acct_out *o)
{
    char eq[40], co[40], mm[40], im[40], h[24], sh[24];
    xcr__fmt_money(o->r.equity, eq, sizeof eq);
    xcr__fmt_money(o->r.collateral, co, sizeof co);
    xcr__fmt_money(o->r.maintenance_margin, mm, sizeof mm);
    xcr__fmt_money(o->r.initial_margin, im, sizeof im);
    if (isfinite(o->r.health))
        snprintf(h, sizeof h, "%.3f", o->r.health);
    else
        snprintf(h, sizeof h, "%s", o->r.health > 0 ? "inf" : "-inf");
    if (isfinite(o->shock_down))
        snprintf(sh, sizeof sh, "%+.1f%%", 100 * o->shock_down);
    else
        snprintf(sh, sizeof sh, "-");
    fprintf(f, "%-16.64s %-9s %-12s %18s %18s %16s %16s %9s %10s\n",
            b->acct_id[i], xcr_mode_name(b->acct_mode[i]),
            xcr_acct_status_name(o->r.status), eq, co, mm, im, h, sh);
}

xcr_status xcr_margin_report(const xcr_market *m,
                             const xcr_margin_report_opts *o, FILE *out,
                             xcr_error *err)
{
    if (!m || !o || !out)
        return xcr__fail(err, XCR_EINVAL, "market, options and output are "
                                          "required");
    const xcr_book *b = m->book;
    size_t single = 0;
    size_t total = b->n_accts;
    if (o->account >= 0) {
        if ((size_t)o->account >= b->n_accts)
            return xcr__fail(err, XCR_ENOTFOUND,
                             "account index %ld out of range", o->account);
        single = (size_t)o->account;
        total = 1;
    }
    size_t na = b->n_assets ? b->n_assets : 1;
    size_t cap = total < CHUNK ? (total ? total : 1) : CHUNK;
    chunk c = {m, 0, 0, o->account >= 0 ? &single : NULL, NULL, NULL,
               o->liquidation, na, o->format == XCR_OUT_JSON, NULL, 0};
    c.acc = malloc(cap * sizeof *c.acc);
    c.liq = o->liquidation ? malloc(cap * na * sizeof *c.liq) : NULL;
    /* the writer's Greeks scratch (JSON) */
    xcr_underlying_greeks *gw = malloc((na + 1) * sizeof *gw);
    if (!c.acc || (o->liquidation && !c.liq) || !gw) {
        free(c.acc);
        free(c.liq);
        free(gw);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    /* A cheap first pass finds non-finite results (ERANGE) before anything
     * is written: bad input must never leave partial output. */
    c.liquidation = 0;
    c.json = 0;
    for (size_t start = 0; start < total; start += cap) {
        c.first = start;
        c.count = total - start < cap ? total - start : cap;
        xcr_status s0 = run_chunk(&c, o->threads, err);
        if (s0 != XCR_OK) {
            free(c.acc);
            free(c.liq);
            free(gw);
            return s0;
        }
    }
    c.liquidation = o->liquidation;
    c.json = o->format == XCR_OUT_JSON;
    totals t = {0};
    if (o->format == XCR_OUT_JSON) {
        fputs("{\"as_of\": ", out);
        if (b->has_as_of)
            fprintf(out, "\"%s\"", b->as_of_str);
        else
            fputs("null", out);
        fputs(", \"accounts\": [", out);
    } else if (o->format == XCR_OUT_CSV) {
        write_csv_header(out, b, o->liquidation);
    } else {
        write_table_header(out);
    }
    xcr_status s = XCR_OK;
    for (size_t start = 0; start < total && s == XCR_OK; start += cap) {
        c.first = start;
        c.count = total - start < cap ? total - start : cap;
        if (c.json) {
            size_t a0 = acct_at(&c, 0), a1 = acct_at(&c, c.count - 1);
            size_t np = b->pos_off[a1 + 1] - b->pos_off[a0];
            if (np == 0)
                np = 1; /* keep c.pos non-NULL: offsets are added to it */
            if (np > c.pos_cap) {
                xcr_position_result *nb =
                    realloc(c.pos, np * sizeof *c.pos);
                if (!nb) {
                    s = xcr__fail(err, XCR_ENOMEM, "out of memory");
                    break;
                }
                c.pos = nb;
                c.pos_cap = np;
            }
        }
        s = run_chunk(&c, o->threads, err);
        if (s != XCR_OK)
            break;
        for (size_t k = 0; k < c.count; k++) {
            size_t i = acct_at(&c, k);
            const acct_out *ao = &c.acc[k];
            t.n++;
            t.by_status[ao->r.status]++;
            t.equity += ao->r.equity;
            t.collateral += ao->r.collateral;
            t.mm += ao->r.maintenance_margin;
            if (o->format == XCR_OUT_JSON) {
                const xcr_position_result *pp =
                    c.pos + (b->pos_off[i] - b->pos_off[acct_at(&c, 0)]);
                if (!write_json_account(out, m, i, ao, c.liq, pp,
                                        start + k == 0, gw)) {
                    s = xcr__fail(err, XCR_ENOMEM, "out of memory");
                    break;
                }
            } else if (o->format == XCR_OUT_CSV)
                write_csv_account(out, b, i, ao, c.liq, o->liquidation);
            else
                write_table_account(out, b, i, ao);
        }
        if (o->progress)
            o->progress(o->progress_ctx, start + c.count, total);
    }
    free(c.acc);
    free(c.liq);
    free(c.pos);
    free(gw);
    if (s != XCR_OK)
        return s;
    if (o->format == XCR_OUT_JSON) {
        fprintf(out,
                "\n ],\n \"summary\": {\"accounts\": %zu, \"healthy\": %zu, "
                "\"margin_call\": %zu, \"liquidatable\": %zu, \"bankrupt\": "
                "%zu, \"equity\": ",
                t.n, t.by_status[0], t.by_status[1], t.by_status[2],
                t.by_status[3]);
        xcr__put_num(out, t.equity);
        fputs(", \"collateral\": ", out);
        xcr__put_num(out, t.collateral);
        fputs(", \"maintenance_margin\": ", out);
        xcr__put_num(out, t.mm);
        fputs("}}\n", out);
    } else if (o->format == XCR_OUT_TABLE) {
        char eq[40], co[40], mm[40];
        xcr__fmt_money(t.equity, eq, sizeof eq);
        xcr__fmt_money(t.collateral, co, sizeof co);
        xcr__fmt_money(t.mm, mm, sizeof mm);
        fprintf(out,
                "\n%zu accounts: %zu healthy, %zu margin_call, %zu "
                "liquidatable, %zu bankrupt\nequity %s  collateral %s  "
                "maintenance margin %s (USD)\n",
                t.n, t.by_status[0], t.by_status[1], t.by_status[2],
                t.by_status[3], eq, co, mm);
    }
    if (ferror(out))
        return xcr__fail(err, XCR_EIO, "error writing the report");
    return XCR_OK;
}
