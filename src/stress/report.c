/* Writers for `xcr stress` and `xcr scenarios` (spec §5): JSON, CSV and an
 * aligned text table.  A run of one deterministic scenario reports numbers;
 * several deterministic scenarios (a list, a grid, the liquidations-at-risk
 * curve) report each scenario plus the worst; Monte Carlo and historical
 * simulation report distributions: mean, VaR and ES at 95 / 99 / 99.9 %
 * (scenarios-and-data.md §9 estimators).  Output depends only on the
 * result, never on the thread count. */
#include "stress.h"

#include <stdlib.h>
#include <string.h>

static const char *const STATUS_KEY[4] = {"healthy", "margin_call",
                                          "liquidatable", "bankrupt"};
static const char *const LEVEL_KEY[XCR_STRESS_LEVELS] = {"95", "99", "99.9"};

static const char *origin_name(int o)
{
    switch (o) {
    case XCR_ORIGIN_LISTED:
        return "listed";
    case XCR_ORIGIN_DEPEG:
        return "depeg";
    case XCR_ORIGIN_BASE:
        return "base";
    case XCR_ORIGIN_RULE:
        return "rule";
    case XCR_ORIGIN_GENERATED:
        return "generated";
    default:
        return "none";
    }
}

typedef struct rctx {
    const xcr_stress_result *r;
    const xcr_scenarios *s;
    const xcr_book *b;
    const xcr_market *m;
    size_t ns, na, nacc;
    bool dist;       /* Monte Carlo / FHS                               */
    size_t before[4];
} rctx;

static void ctx_init(rctx *c, const xcr_stress_result *r)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->s = r->s;
    c->m = r->m;
    c->b = r->m->book;
    c->ns = r->n_scen;
    c->na = r->na;
    c->nacc = r->n_acc;
    c->dist = r->s->gen.used != 0;
    for (size_t a = 0; a < c->nacc; a++)
        c->before[r->st0[a]]++;
}

static size_t liq_count(const xcr_stress_result *r, size_t k)
{
    return r->status_count[k * 5 + XCR_LIQUIDATABLE] +
           r->status_count[k * 5 + XCR_BANKRUPT];
}

/* First-round price impact of selling the liquidatable collateral of asset
 * a in scenario k, with the depth scaled by the scenario's multiplier. */
static double first_round_impact(const rctx *c, size_t k, size_t a)
{
    const double *lq = xcr_stress_liq_collateral_by_asset(c->r, k);
    if (!lq || !(lq[a] > 0))
        return 0;
    return xcr_liquidity_impact(c->b, a, lq[a],
                                xcr_scenarios_liquidity(c->s, k, a));
}

/* MARK: JSON ------------------------------------------------------------------------------ */

static void json_sym_map(FILE *f, const rctx *c, const double *v, bool skip0,
                         double skipv)
{
    fputc('{', f);
    bool first = true;
    for (size_t a = 0; a < c->na; a++) {
        if (skip0 && v[a] == skipv)
            continue;
        fputs(first ? "" : ", ", f);
        first = false;
        xcr__put_str(f, c->b->assets[a].symbol);
        fputs(": ", f);
        xcr__put_num(f, v[a]);
    }
    fputc('}', f);
}

static void json_stats(FILE *f, const xcr_risk_stats *st)
{
    fputs("{\"mean\": ", f);
    xcr__put_num(f, st->mean);
    fputs(", \"stdev\": ", f);
    xcr__put_num(f, st->stdev);
    fputs(", \"min\": ", f);
    xcr__put_num(f, st->min);
    fputs(", \"max\": ", f);
    xcr__put_num(f, st->max);
    fputs(", \"var\": {", f);
    for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
        fprintf(f, "%s\"%s\": ", l ? ", " : "", LEVEL_KEY[l]);
        xcr__put_num(f, st->var[l]);
    }
    fputs("}, \"es\": {", f);
    for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
        fprintf(f, "%s\"%s\": ", l ? ", " : "", LEVEL_KEY[l]);
        xcr__put_num(f, st->es[l]);
    }
    fputs("}}", f);
}

static void json_counts(FILE *f, const rctx *c, size_t k)
{
    fputs("{", f);
    for (int q = 0; q < 4; q++)
        fprintf(f, "%s\"%s\": %u", q ? ", " : "", STATUS_KEY[q],
                c->r->status_count[k * 5 + (size_t)q]);
    fprintf(f, ", \"total\": %zu}", c->nacc);
}

static void json_scenario(FILE *f, const rctx *c, size_t k, bool detail)
{
    const xcr_scenarios *s = c->s;
    const xcr__smeta *me = &s->meta[k];
    const xcr_stress_result *r = c->r;
    fputs("{\"name\": ", f);
    xcr__put_str(f, me->name ? me->name : "");
    const char *txt[5] = {me->title, me->date, me->variant, me->source,
                          me->events};
    const char *tkey[5] = {"title", "date", "variant", "source", "events"};
    for (int q = 0; q < 5; q++) {
        if (!txt[q])
            continue;
        fprintf(f, ", \"%s\": ", tkey[q]);
        xcr__put_str(f, txt[q]);
    }
    if (me->kind == XCR__SK_DEF && me->window_days)
        fprintf(f, ", \"window_days\": %d", me->window_days);
    if (me->kind == XCR__SK_UNIFORM) {
        fputs(", \"uniform_shock\": ", f);
        xcr__put_num(f, me->uniform);
    }
    fputs(", \"moves\": ", f);
    json_sym_map(f, c, s->moves + k * c->na, false, 0);
    if (detail) {
        fputs(", \"origins\": {", f);
        bool first = true;
        for (size_t a = 0; a < c->na; a++) {
            int o = s->origin[k * c->na + a];
            if (o == XCR_ORIGIN_NONE)
                continue;
            fputs(first ? "" : ", ", f);
            first = false;
            xcr__put_str(f, c->b->assets[a].symbol);
            fprintf(f, ": \"%s\"", origin_name(o));
        }
        fputs("}", f);
        fputs(", \"unlisted_rule\": ", f);
        if (me->rule)
            xcr__put_str(f, me->rule);
        else
            fputs("null", f);
        if (!isnan(me->beta)) {
            fputs(", \"beta\": ", f);
            xcr__put_num(f, me->beta);
        }
        if (me->unmatched) {
            fputs(", \"not_in_book\": ", f);
            xcr__put_str(f, me->unmatched);
        }
    }
    if (s->vol) {
        bool any = false;
        for (size_t a = 0; a < c->na; a++)
            any = any || s->vol[k * c->na + a] != 0;
        if (any) {
            fputs(", \"vol_shifts\": ", f);
            json_sym_map(f, c, s->vol + k * c->na, true, 0);
        }
    }
    if (s->liq) {
        bool any = false;
        for (size_t a = 0; a < c->na; a++)
            any = any || s->liq[k * c->na + a] != 1;
        if (any) {
            fputs(", \"liquidity\": ", f);
            json_sym_map(f, c, s->liq + k * c->na, true, 1);
        }
    }
    fputs(", \"loss\": ", f);
    xcr__put_num(f, r->loss[k]);
    fputs(", \"shortfall\": ", f);
    xcr__put_num(f, r->shortfall[k]);
    fputs(", \"accounts\": ", f);
    json_counts(f, c, k);
    fprintf(f, ", \"liquidated_accounts\": %zu, \"newly_liquidatable\": %u",
            liq_count(r, k), r->status_count[k * 5 + 4]);
    fputs(", \"liquidatable_collateral\": ", f);
    xcr__put_num(f, r->liq_coll[k]);
    fputs(", \"liquidatable_notional\": ", f);
    xcr__put_num(f, r->liq_notional[k]);
    const double *la = xcr_stress_loss_by_asset(r, k);
    const double *lq = xcr_stress_liq_collateral_by_asset(r, k);
    if (detail && la && lq) {
        fputs(", \"loss_by_asset\": ", f);
        json_sym_map(f, c, la, true, 0);
        fputs(", \"liquidatable_collateral_by_asset\": ", f);
        json_sym_map(f, c, lq, true, 0);
        fputs(", \"first_round_impact\": {", f);
        bool first = true;
        for (size_t a = 0; a < c->na; a++) {
            if (!(lq[a] > 0))
                continue;
            fputs(first ? "" : ", ", f);
            first = false;
            xcr__put_str(f, c->b->assets[a].symbol);
            fputs(": ", f);
            xcr__put_num(f, first_round_impact(c, k, a));
        }
        fputs("}", f);
    }
    fputs("}", f);
}

/* Accounts ordered for the per-account lists. */
typedef struct arank {
    double k1, k2;
    size_t i;
} arank;

static int cmp_arank(const void *x, const void *y)
{
    const arank *a = x, *b = y;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? 1 : -1;
    if (a->k2 != b->k2)
        return a->k2 < b->k2 ? 1 : -1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Accounts to list: single scenario → liquidatable/bankrupt after, by
 * loss; otherwise by probability of liquidation then mean loss. */
static arank *rank_accounts(const rctx *c, size_t limit, size_t *n)
{
    const xcr_stress_result *r = c->r;
    arank *v = malloc((c->nacc ? c->nacc : 1) * sizeof *v);
    if (!v) {
        *n = 0;
        return NULL;
    }
    size_t m = 0;
    for (size_t a = 0; a < c->nacc; a++) {
        if (r->eq1) {
            if (r->st1[a] < XCR_LIQUIDATABLE && limit == (size_t)-1)
                continue;
            v[m++] = (arank){r->st1[a] >= XCR_LIQUIDATABLE ? 1.0 : 0.0,
                             r->eq0[a] - r->eq1[a], a};
        } else {
            v[m++] = (arank){(double)r->n_liq[a], r->sum_loss[a], a};
        }
    }
    qsort(v, m, sizeof *v, cmp_arank);
    *n = limit < m ? limit : m;
    return v;
}

static void json_accounts(FILE *f, const rctx *c, size_t limit)
{
    const xcr_stress_result *r = c->r;
    size_t n;
    arank *v = rank_accounts(c, limit, &n);
    fputs(r->eq1 ? ",\n \"liquidated\": [" : ",\n \"accounts\": [", f);
    for (size_t j = 0; j < n; j++) {
        size_t a = v[j].i;
        xcr_account_stress as;
        xcr_stress_account(r, a, &as);
        fputs(j ? ",\n  {\"id\": " : "\n  {\"id\": ", f);
        xcr__put_str(f, c->b->acct_id[a]);
        fprintf(f, ", \"mode\": \"%s\"", xcr_mode_name(c->b->acct_mode[a]));
        if (r->eq1) {
            fprintf(f, ", \"status_before\": \"%s\", \"status_after\": \"%s\"",
                    STATUS_KEY[as.status_before], STATUS_KEY[as.status_after]);
            fputs(", \"equity_before\": ", f);
            xcr__put_num(f, as.equity_before);
            fputs(", \"equity_after\": ", f);
            xcr__put_num(f, as.equity_after);
            fputs(", \"loss\": ", f);
            xcr__put_num(f, as.equity_before - as.equity_after);
            fputs(", \"shortfall\": ", f);
            xcr__put_num(f, as.equity_after < 0 ? -as.equity_after : 0);
        } else {
            fputs(", \"p_liquidation\": ", f);
            xcr__put_num(f, as.p_liquidatable);
            fputs(", \"p_bankrupt\": ", f);
            xcr__put_num(f, as.p_bankrupt);
            fputs(", \"mean_shortfall\": ", f);
            xcr__put_num(f, as.mean_shortfall);
            fputs(", \"loss\": {\"mean\": ", f);
            xcr__put_num(f, as.mean_loss);
            fputs(", \"max\": ", f);
            xcr__put_num(f, as.max_loss);
            fputs(", \"worst_scenario\": ", f);
            xcr__put_str(f, xcr_scenarios_name(c->s, as.worst_scenario));
            if (r->acc_var) {
                fputs(", \"var\": {", f);
                for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
                    fprintf(f, "%s\"%s\": ", l ? ", " : "", LEVEL_KEY[l]);
                    xcr__put_num(f, as.var[l]);
                }
                fputs("}, \"es\": {", f);
                for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
                    fprintf(f, "%s\"%s\": ", l ? ", " : "", LEVEL_KEY[l]);
                    xcr__put_num(f, as.es[l]);
                }
                fputs("}", f);
            }
            fputs("}", f);
        }
        fputs("}", f);
    }
    fputs(n ? "\n ]" : "]", f);
    free(v);
}

static void json_worst(FILE *f, const rctx *c, const double *x)
{
    size_t w = 0;
    double sum = 0;
    for (size_t k = 0; k < c->ns; k++) {
        sum += x[k];
        if (x[k] > x[w])
            w = k;
    }
    fputs("{\"worst\": ", f);
    xcr__put_num(f, x[w]);
    fputs(", \"worst_scenario\": ", f);
    xcr__put_str(f, xcr_scenarios_name(c->s, w));
    fputs(", \"mean\": ", f);
    xcr__put_num(f, sum / (double)c->ns);
    fputs("}", f);
}

static void json_gen_model(FILE *f, const rctx *c)
{
    const xcr__gen_info *g = &c->s->gen;
    const xcr_book *b = c->b;
    fprintf(f, ",\n \"method\": \"%s\"",
            g->fhs ? "filtered_historical_simulation" : "monte_carlo");
    fputs(",\n \"model\": {", f);
    if (!g->fhs) {
        fprintf(f, "\"dist\": \"%s\"", g->dist == XCR_MC_T ? "t" : "normal");
        fputs(", \"df\": ", f);
        if (g->dist == XCR_MC_T)
            xcr__put_num(f, g->df);
        else
            fputs("null", f);
        fprintf(f, ", \"marginals\": \"%s\"",
                g->dist == XCR_MC_T && !g->normal_marginals ? "t" : "normal");
    } else {
        fputs("\"lambda\": ", f);
        xcr__put_num(f, g->lambda);
        fprintf(f, ", \"history_days\": %zu", g->history_days);
    }
    fputs(", \"horizon_days\": ", f);
    xcr__put_num(f, g->horizon_days);
    fprintf(f, ", \"seed\": %llu", (unsigned long long)g->seed);
    fputs(", \"vols\": {", f);
    for (size_t i = 0; i < g->k; i++) {
        fputs(i ? ", " : "", f);
        xcr__put_str(f, b->assets[g->assets[i]].symbol);
        fputs(": ", f);
        xcr__put_num(f, g->vol[i]);
    }
    fputs("}", f);
    if (g->corr) {
        fputs(", \"correlation\": {\"source\": ", f);
        xcr__put_str(f, g->corr_source ? g->corr_source : "");
        fprintf(f, ", \"repaired\": %s", g->repaired ? "true" : "false");
        if (g->repaired) {
            fputs(", \"max_change\": ", f);
            xcr__put_num(f, g->repair_change);
        }
        fputs(", \"assets\": [", f);
        for (size_t i = 0; i < g->k; i++) {
            fputs(i ? ", " : "", f);
            xcr__put_str(f, b->assets[g->assets[i]].symbol);
        }
        fputs("], \"matrix\": [", f);
        for (size_t i = 0; i < g->k; i++) {
            fputs(i ? ", [" : "[", f);
            for (size_t j = 0; j < g->k; j++) {
                fputs(j ? ", " : "", f);
                xcr__put_num(f, g->corr[i * g->k + j]);
            }
            fputs("]", f);
        }
        fputs("]}", f);
    }
    if (g->note) {
        fputs(", \"note\": ", f);
        xcr__put_str(f, g->note);
    }
    fputs("}", f);
}

static const double QUANT_P[] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99,
                                 0.999};
static const char *const QUANT_K[] = {"0.01", "0.05", "0.25", "0.5",
                                      "0.75", "0.95", "0.99", "0.999"};

static xcr_status json_dist(FILE *f, const rctx *c, size_t accounts)
{
    const xcr_stress_result *r = c->r;
    xcr_risk_stats st[4];
    for (int q = 0; q < 4; q++)
        if (xcr_stress_book_stats(r, (xcr_stress_metric)q, &st[q]) != XCR_OK)
            return XCR_ENOMEM;
    fprintf(f, "{\"scenarios\": %zu, \"accounts_total\": %zu", c->ns,
            c->nacc);
    json_gen_model(f, c);
    fputs(",\n \"loss\": ", f);
    json_stats(f, &st[0]);
    fputs(",\n \"shortfall\": ", f);
    json_stats(f, &st[1]);
    fputs(",\n \"liquidatable_collateral\": ", f);
    json_stats(f, &st[2]);
    fputs(",\n \"liquidated_accounts\": ", f);
    json_stats(f, &st[3]);
    double *x = malloc(c->ns * sizeof *x);
    if (!x)
        return XCR_ENOMEM;
    fputs(",\n \"quantiles\": {", f);
    const double *src[2] = {r->loss, r->shortfall};
    const char *nm[2] = {"loss", "shortfall"};
    for (int q = 0; q < 2; q++) {
        fprintf(f, "%s\"%s\": {", q ? ", " : "", nm[q]);
        for (size_t p = 0; p < sizeof QUANT_P / sizeof QUANT_P[0]; p++) {
            memcpy(x, src[q], c->ns * sizeof *x);
            fprintf(f, "%s\"%s\": ", p ? ", " : "", QUANT_K[p]);
            xcr__put_num(f, xcr__quantile(x, c->ns, QUANT_P[p]));
        }
        fputs("}", f);
    }
    fputs("}", f);
    if (r->asset_loss) {
        /* mean loss by asset and its contribution to the 99 % ES */
        if (xcr__es_weights(r->loss, c->ns, 0.99, x) != XCR_OK) {
            free(x);
            return XCR_ENOMEM;
        }
        fputs(",\n \"loss_by_asset\": {", f);
        bool first = true;
        for (size_t a = 0; a < c->na; a++) {
            double mean = 0, es = 0;
            bool any = false;
            for (size_t k = 0; k < c->ns; k++) {
                double v = r->asset_loss[k * c->na + a];
                mean += v;
                es += x[k] * v;
                any = any || v != 0;
            }
            if (!any)
                continue;
            fputs(first ? "" : ", ", f);
            first = false;
            xcr__put_str(f, c->b->assets[a].symbol);
            fputs(": {\"mean\": ", f);
            xcr__put_num(f, mean / (double)c->ns);
            fputs(", \"es_99\": ", f);
            xcr__put_num(f, es);
            fputs("}", f);
        }
        fputs("}", f);
    }
    free(x);
    json_accounts(f, c, accounts);
    fputs("\n}\n", f);
    return XCR_OK;
}

static void json_grid(FILE *f, const rctx *c)
{
    const xcr__grid_info *g = &c->s->grid;
    if (!c->s->has_grid || g->naxes == 0)
        return;
    fputs(",\n \"grid\": {\"axes\": [", f);
    for (size_t k = 0; k < g->naxes; k++) {
        fputs(k ? ", {\"asset\": " : "{\"asset\": ", f);
        xcr__put_str(f, c->b->assets[g->asset[k]].symbol);
        fputs(", \"moves\": [", f);
        for (size_t j = 0; j < g->len[k]; j++) {
            fputs(j ? ", " : "", f);
            xcr__put_num(f, g->values[k][j]);
        }
        fputs("]}", f);
    }
    fputs("], \"shortfall\": [", f);
    size_t rows = g->naxes == 2 ? g->len[0] : 1;
    size_t cols = g->naxes == 2 ? g->len[1] : g->len[0];
    for (size_t i = 0; i < rows; i++) {
        fputs(i ? ", [" : "[", f);
        for (size_t j = 0; j < cols; j++) {
            fputs(j ? ", " : "", f);
            xcr__put_num(f, c->r->shortfall[g->first + i * cols + j]);
        }
        fputs("]", f);
    }
    fputs("]}", f);
}

static void json_curve(FILE *f, const rctx *c)
{
    const xcr_stress_result *r = c->r;
    fputs(",\n \"curve\": [", f);
    for (size_t k = 0; k < c->ns; k++) {
        fputs(k ? ",\n  {\"shock\": " : "\n  {\"shock\": ", f);
        xcr__put_num(f, c->s->meta[k].uniform);
        fputs(", \"liquidatable_collateral\": ", f);
        xcr__put_num(f, r->liq_coll[k]);
        fputs(", \"liquidatable_notional\": ", f);
        xcr__put_num(f, r->liq_notional[k]);
        fprintf(f, ", \"liquidated_accounts\": %zu, \"bankrupt_accounts\": %u",
                liq_count(r, k), r->status_count[k * 5 + XCR_BANKRUPT]);
        fputs(", \"shortfall\": ", f);
        xcr__put_num(f, r->shortfall[k]);
        fputs(", \"loss\": ", f);
        xcr__put_num(f, r->loss[k]);
        fputs("}", f);
    }
    fputs("\n ]", f);
}

static xcr_status write_json(FILE *f, const rctx *c,
                             const xcr_stress_report_opts *o)
{
    if (c->dist)
        return json_dist(f, c, o->accounts);
    const xcr_stress_result *r = c->r;
    fprintf(f, "{\"scenarios\": %zu", c->ns);
    if (c->ns == 1) {
        fputs(", \"scenario\": ", f);
        xcr__put_str(f, xcr_scenarios_name(c->s, 0));
        fputs(", \"loss\": ", f);
        xcr__put_num(f, r->loss[0]);
        fputs(", \"shortfall\": ", f);
        xcr__put_num(f, r->shortfall[0]);
        fputs(",\n \"accounts_before\": {", f);
        for (int q = 0; q < 4; q++)
            fprintf(f, "%s\"%s\": %zu", q ? ", " : "", STATUS_KEY[q],
                    c->before[q]);
        fprintf(f, ", \"total\": %zu}", c->nacc);
        fputs(", \"accounts\": ", f);
        json_counts(f, c, 0);
        fputs(",\n \"liquidatable_collateral\": ", f);
        xcr__put_num(f, r->liq_coll[0]);
        fputs(", \"liquidatable_notional\": ", f);
        xcr__put_num(f, r->liq_notional[0]);
    } else {
        fputs(",\n \"loss\": ", f);
        json_worst(f, c, r->loss);
        fputs(",\n \"shortfall\": ", f);
        json_worst(f, c, r->shortfall);
        fputs(",\n \"accounts_before\": {", f);
        for (int q = 0; q < 4; q++)
            fprintf(f, "%s\"%s\": %zu", q ? ", " : "", STATUS_KEY[q],
                    c->before[q]);
        fprintf(f, ", \"total\": %zu}", c->nacc);
    }
    bool detail = c->ns <= 1000;
    fputs(",\n \"results\": [", f);
    for (size_t k = 0; k < c->ns; k++) {
        fputs(k ? ",\n  " : "\n  ", f);
        json_scenario(f, c, k, detail);
    }
    fputs("\n ]", f);
    if (o->lar_curve)
        json_curve(f, c);
    json_grid(f, c);
    if (c->ns == 1 || o->accounts)
        json_accounts(f, c, o->accounts);
    fputs("\n}\n", f);
    return XCR_OK;
}

/* MARK: CSV -------------------------------------------------------------------------------- */

static void write_csv(FILE *f, const rctx *c, const xcr_stress_report_opts *o)
{
    const xcr_stress_result *r = c->r;
    if (o->per_account) {
        if (r->eq1) {
            fputs("id,mode,status_before,status_after,equity_before,"
                  "equity_after,loss,shortfall\r\n",
                  f);
        } else {
            fputs("id,mode,p_liquidation,p_bankrupt,mean_loss,max_loss,"
                  "worst_scenario,var_95,var_99,var_99.9,es_95,es_99,"
                  "es_99.9,mean_shortfall\r\n",
                  f);
        }
        for (size_t a = 0; a < c->nacc; a++) {
            xcr_account_stress as;
            xcr_stress_account(r, a, &as);
            xcr__put_csv_str(f, c->b->acct_id[a]);
            fprintf(f, ",%s,", xcr_mode_name(c->b->acct_mode[a]));
            if (r->eq1) {
                fprintf(f, "%s,%s,", STATUS_KEY[as.status_before],
                        STATUS_KEY[as.status_after]);
                const double v[4] = {
                    as.equity_before, as.equity_after,
                    as.equity_before - as.equity_after,
                    as.equity_after < 0 ? -as.equity_after : 0};
                for (int q = 0; q < 4; q++) {
                    fputs(q ? "," : "", f);
                    xcr__put_csv_num(f, v[q]);
                }
            } else {
                xcr__put_csv_num(f, as.p_liquidatable);
                fputc(',', f);
                xcr__put_csv_num(f, as.p_bankrupt);
                fputc(',', f);
                xcr__put_csv_num(f, as.mean_loss);
                fputc(',', f);
                xcr__put_csv_num(f, as.max_loss);
                fputc(',', f);
                xcr__put_csv_str(f, xcr_scenarios_name(c->s,
                                                       as.worst_scenario));
                for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
                    fputc(',', f);
                    xcr__put_csv_num(f, as.var[l]);
                }
                for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
                    fputc(',', f);
                    xcr__put_csv_num(f, as.es[l]);
                }
                fputc(',', f);
                xcr__put_csv_num(f, as.mean_shortfall);
            }
            fputs("\r\n", f);
        }
        return;
    }
    fputs("scenario,loss,shortfall,healthy,margin_call,liquidatable,"
          "bankrupt,newly_liquidatable,liquidatable_collateral,"
          "liquidatable_notional",
          f);
    for (size_t a = 0; a < c->na; a++) {
        fputs(",move_", f);
        fputs(c->b->assets[a].symbol, f);
    }
    fputs("\r\n", f);
    for (size_t k = 0; k < c->ns; k++) {
        xcr__put_csv_str(f, xcr_scenarios_name(c->s, k));
        fputc(',', f);
        xcr__put_csv_num(f, r->loss[k]);
        fputc(',', f);
        xcr__put_csv_num(f, r->shortfall[k]);
        for (int q = 0; q < 5; q++)
            fprintf(f, ",%u", r->status_count[k * 5 + (size_t)q]);
        fputc(',', f);
        xcr__put_csv_num(f, r->liq_coll[k]);
        fputc(',', f);
        xcr__put_csv_num(f, r->liq_notional[k]);
        for (size_t a = 0; a < c->na; a++) {
            fputc(',', f);
            xcr__put_csv_num(f, c->s->moves[k * c->na + a]);
        }
        fputs("\r\n", f);
    }
}

/* MARK: table --------------------------------------------------------------------------------- */

static void table_moves(FILE *f, const rctx *c, size_t k)
{
    const xcr_scenarios *s = c->s;
    fputs("moves:", f);
    int col = 6;
    for (size_t a = 0; a < c->na; a++) {
        char p[32], item[96];
        xcr__fmt_pct(s->moves[k * c->na + a], p, sizeof p);
        int o = s->origin[k * c->na + a];
        const char *mark = o == XCR_ORIGIN_RULE    ? " (rule)"
                           : o == XCR_ORIGIN_BASE  ? " (base)"
                           : o == XCR_ORIGIN_DEPEG ? " (depeg)"
                                                   : "";
        int w = snprintf(item, sizeof item, "  %s %s%s",
                         c->b->assets[a].symbol, p, mark);
        if (col + w > 78) {
            fputs("\n      ", f);
            col = 6;
        }
        fputs(item, f);
        col += w;
    }
    fputc('\n', f);
}

static void table_single(FILE *f, const rctx *c, const char *book)
{
    const xcr_stress_result *r = c->r;
    const xcr__smeta *me = &c->s->meta[0];
    char m1[40], m2[40];
    fprintf(f, "scenario %s", me->name ? me->name : "");
    if (me->title)
        fprintf(f, " — %s", me->title);
    if (me->date)
        fprintf(f, ", %s", me->date);
    if (me->variant)
        fprintf(f, ", %s", me->variant);
    fputc('\n', f);
    if (me->events)
        fprintf(f, "events: %s\n", me->events);
    if (me->source)
        fprintf(f, "source: %s\n", me->source);
    table_moves(f, c, 0);
    if (me->rule)
        fprintf(f, "unlisted assets: %s\n", me->rule);
    if (me->unmatched)
        fprintf(f, "not in the book: %s\n", me->unmatched);
    fprintf(f, "\nbook: %s, %zu accounts\n\n", book ? book : "-", c->nacc);
    fprintf(f, "%-14s %10s %10s\n", "status", "before", "after");
    for (int q = 0; q < 4; q++)
        fprintf(f, "%-14s %10zu %10u\n", STATUS_KEY[q], c->before[q],
                r->status_count[(size_t)q]);
    fprintf(f, "%-14s %10s %10u\n\n", "newly liq.", "", r->status_count[4]);
    xcr__fmt_money(r->loss[0], m1, sizeof m1);
    xcr__fmt_money(r->shortfall[0], m2, sizeof m2);
    fprintf(f, "loss (fall in equity, USD)       %20s\n", m1);
    fprintf(f, "shortfall (bad debt, USD)        %20s\n", m2);
    xcr__fmt_money(r->liq_coll[0], m1, sizeof m1);
    xcr__fmt_money(r->liq_notional[0], m2, sizeof m2);
    fprintf(f, "liquidatable collateral (USD)    %20s\n", m1);
    fprintf(f, "liquidatable notional (USD)      %20s\n", m2);
    const double *la = xcr_stress_loss_by_asset(r, 0);
    const double *lq = xcr_stress_liq_collateral_by_asset(r, 0);
    if (la && lq) {
        fprintf(f, "\n%-10s %20s %22s %12s %9s\n", "asset", "loss (USD)",
                "liquidatable coll.", "1st-round", "depth x");
        for (size_t a = 0; a < c->na; a++) {
            if (la[a] == 0 && lq[a] == 0)
                continue;
            char p[32];
            xcr__fmt_money(la[a], m1, sizeof m1);
            xcr__fmt_money(lq[a], m2, sizeof m2);
            xcr__fmt_pct(first_round_impact(c, 0, a), p, sizeof p);
            fprintf(f, "%-10s %20s %22s %12s %9.3g\n",
                    c->b->assets[a].symbol, m1, m2, p,
                    xcr_scenarios_liquidity(c->s, 0, a));
        }
    }
}

static void table_multi(FILE *f, const rctx *c, const char *book,
                        const xcr_stress_report_opts *o)
{
    const xcr_stress_result *r = c->r;
    fprintf(f, "book: %s, %zu accounts, %zu scenarios\n", book ? book : "-",
            c->nacc, c->ns);
    bool any_rule = false;
    for (size_t k = 0; k < c->ns; k++)
        any_rule = any_rule || c->s->meta[k].rule;
    if (any_rule)
        fputs("unlisted assets follow each scenario's rule (see --format "
              "json: unlisted_rule); marked *\n",
              f);
    fputc('\n', f);
    fprintf(f, "%-34s %20s %20s %9s %7s %20s\n",
            o->lar_curve ? "uniform shock" : "scenario", "loss (USD)",
            "shortfall (USD)", "liq.acct", "new", "liq. collateral");
    for (size_t k = 0; k < c->ns; k++) {
        char m1[40], m2[40], m3[40], nm[72];
        xcr__fmt_money(r->loss[k], m1, sizeof m1);
        xcr__fmt_money(r->shortfall[k], m2, sizeof m2);
        xcr__fmt_money(r->liq_coll[k], m3, sizeof m3);
        if (o->lar_curve)
            xcr__fmt_pct(c->s->meta[k].uniform, nm, sizeof nm);
        else
            snprintf(nm, sizeof nm, "%.32s%s", xcr_scenarios_name(c->s, k),
                     c->s->meta[k].rule ? " *" : "");
        fprintf(f, "%-34s %20s %20s %9zu %7u %20s\n", nm, m1, m2,
                liq_count(r, k), r->status_count[k * 5 + 4], m3);
    }
    const xcr__grid_info *g = &c->s->grid;
    if (c->s->has_grid && g->naxes == 2) {
        fprintf(f, "\nshortfall (USD) by %s (rows) and %s (columns)\n",
                c->b->assets[g->asset[0]].symbol,
                c->b->assets[g->asset[1]].symbol);
        fprintf(f, "%9s", "");
        for (size_t j = 0; j < g->len[1]; j++) {
            char p[32];
            xcr__fmt_pct(g->values[1][j], p, sizeof p);
            fprintf(f, " %14s", p);
        }
        fputc('\n', f);
        for (size_t i = 0; i < g->len[0]; i++) {
            char p[32];
            xcr__fmt_pct(g->values[0][i], p, sizeof p);
            fprintf(f, "%9s", p);
            for (size_t j = 0; j < g->len[1]; j++)
                fprintf(f, " %14.4g",
                        r->shortfall[g->first + i * g->len[1] + j]);
            fputc('\n', f);
        }
    }
}

static xcr_status table_dist(FILE *f, const rctx *c, const char *book,
                             const xcr_stress_report_opts *o)
{
    const xcr_stress_result *r = c->r;
    const xcr__gen_info *g = &c->s->gen;
    fprintf(f, "book: %s, %zu accounts\n", book ? book : "-", c->nacc);
    if (g->fhs)
        fprintf(f,
                "filtered historical simulation: %zu scenarios, horizon %g "
                "day(s), EWMA lambda %g, %zu days of history, seed %llu\n",
                c->ns, g->horizon_days, g->lambda, g->history_days,
                (unsigned long long)g->seed);
    else if (g->dist == XCR_MC_T)
        fprintf(f,
                "Monte Carlo: %zu scenarios, Student-t copula (nu = %g, %s "
                "marginals), horizon %g day(s), seed %llu\n",
                c->ns, g->df, g->normal_marginals ? "normal" : "t",
                g->horizon_days, (unsigned long long)g->seed);
    else
        fprintf(f,
                "Monte Carlo: %zu scenarios, Gaussian copula, horizon %g "
                "day(s), seed %llu\n",
                c->ns, g->horizon_days, (unsigned long long)g->seed);
    if (g->corr_source)
        fprintf(f, "correlation: %s%s\n", g->corr_source,
                g->repaired ? " (repaired to the nearest correlation matrix)"
                            : "");
    if (g->note)
        fprintf(f, "note: %s\n", g->note);
    fprintf(f, "\n%-24s %16s %16s %16s %16s %16s %16s %16s\n", "metric (USD)",
            "mean", "VaR 95%", "VaR 99%", "VaR 99.9%", "ES 95%", "ES 99%",
            "ES 99.9%");
    const char *names[4] = {"loss", "shortfall", "liq. collateral",
                            "liq. accounts (n)"};
    for (int q = 0; q < 4; q++) {
        xcr_risk_stats st;
        if (xcr_stress_book_stats(r, (xcr_stress_metric)q, &st) != XCR_OK)
            return XCR_ENOMEM;
        fprintf(f, "%-24s %16.6g", names[q], st.mean);
        for (int l = 0; l < 3; l++)
            fprintf(f, " %16.6g", st.var[l]);
        for (int l = 0; l < 3; l++)
            fprintf(f, " %16.6g", st.es[l]);
        fputc('\n', f);
    }
    size_t n;
    size_t lim = o->accounts == (size_t)-1 ? 10 : o->accounts ? o->accounts
                                                              : 10;
    arank *v = rank_accounts(c, lim, &n);
    if (v && n) {
        fprintf(f, "\n%-18s %-9s %8s %8s %18s %18s\n", "account", "mode",
                "P(liq)", "P(bkrpt)", "mean loss", "mean shortfall");
        for (size_t j = 0; j < n; j++) {
            xcr_account_stress as;
            xcr_stress_account(r, v[j].i, &as);
            char m1[40], m2[40];
            xcr__fmt_money(as.mean_loss, m1, sizeof m1);
            xcr__fmt_money(as.mean_shortfall, m2, sizeof m2);
            fprintf(f, "%-18.64s %-9s %8.4f %8.4f %18s %18s\n",
                    c->b->acct_id[v[j].i],
                    xcr_mode_name(c->b->acct_mode[v[j].i]), as.p_liquidatable,
                    as.p_bankrupt, m1, m2);
        }
    }
    free(v);
    return XCR_OK;
}

xcr_status xcr_stress_report(const xcr_stress_result *r,
                             const xcr_stress_report_opts *o, FILE *out,
                             xcr_error *err)
{
    if (!r || !o || !out)
        return xcr__fail(err, XCR_EINVAL, "result, options and output are "
                                          "required");
    rctx c;
    ctx_init(&c, r);
    xcr_status st = XCR_OK;
    switch (o->format) {
    case XCR_OUT_JSON:
        st = write_json(out, &c, o);
        break;
    case XCR_OUT_CSV:
        write_csv(out, &c, o);
        break;
    default:
        if (c.dist)
            st = table_dist(out, &c, o->book_name, o);
        else if (c.ns == 1)
            table_single(out, &c, o->book_name);
        else
            table_multi(out, &c, o->book_name, o);
        break;
    }
    if (st != XCR_OK)
        return xcr__fail(err, st, "out of memory writing the report");
    return XCR_OK;
}

/* MARK: the built-in library ------------------------------------------------------------------- */

/* Move of a definition's entry, with a relative depeg composed with its
 * base's listed move. */
static double def_move(const xcr_scenario_def *d, size_t i)
{
    const xcr_scenario_move *e = &d->moves[i];
    if (!e->base)
        return e->move;
    for (size_t j = 0; j < d->nmoves; j++)
        if (xcr__strcasecmp(d->moves[j].symbol, e->base) == 0)
            return (1 + d->moves[j].move) * (1 + e->move) - 1;
    return e->move;
}

/* The crash-day ratio of a definition (docs/stress.md). */
static double def_ratio(const xcr_scenario_def *d)
{
    double btc = NAN, v[64];
    size_t n = 0;
    for (size_t i = 0; i < d->nmoves; i++)
        if (xcr__strcasecmp(d->moves[i].symbol, "BTC") == 0)
            btc = d->moves[i].move;
    if (isnan(btc) || btc == 0)
        return NAN;
    for (size_t i = 0; i < d->nmoves && n < 64; i++) {
        const xcr_scenario_move *e = &d->moves[i];
        if (e->base || e->kind != XCR_MOVE_MARKET ||
            xcr__strcasecmp(e->symbol, "BTC") == 0)
            continue;
        double x = e->move / btc;
        size_t p = n++;
        while (p > 0 && v[p - 1] > x) {
            v[p] = v[p - 1];
            p--;
        }
        v[p] = x;
    }
    if (n == 0)
        return 1;
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

xcr_status xcr_builtin_scenarios_write(xcr_out_format format, FILE *out,
                                       xcr_error *err)
{
    if (!out)
        return xcr__fail(err, XCR_EINVAL, "output is required");
    size_t n = xcr_builtin_scenario_count();
    if (format == XCR_OUT_JSON) {
        fputs("{\"scenarios\": [", out);
        for (size_t i = 0; i < n; i++) {
            const xcr_scenario_def *d = xcr_builtin_scenario(i);
            fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
            xcr__put_str(out, d->name);
            fputs(", \"title\": ", out);
            xcr__put_str(out, d->title);
            fputs(", \"date\": ", out);
            xcr__put_str(out, d->date);
            fputs(", \"variant\": ", out);
            xcr__put_str(out, d->variant);
            fprintf(out, ", \"window_days\": %d", d->window_days);
            fputs(",\n   \"moves\": {", out);
            for (size_t j = 0; j < d->nmoves; j++) {
                fputs(j ? ", " : "", out);
                xcr__put_str(out, d->moves[j].symbol);
                fputs(": ", out);
                xcr__put_num(out, def_move(d, j));
            }
            fputs("},\n   \"depegs\": {", out);
            bool first = true;
            for (size_t j = 0; j < d->nmoves; j++) {
                const xcr_scenario_move *e = &d->moves[j];
                if (e->kind != XCR_MOVE_DEPEG)
                    continue;
                fputs(first ? "" : ", ", out);
                first = false;
                xcr__put_str(out, e->symbol);
                fputs(": {\"move\": ", out);
                xcr__put_num(out, e->move);
                if (e->base) {
                    fputs(", \"base\": ", out);
                    xcr__put_str(out, e->base);
                }
                fputs("}", out);
            }
            fputs("}, \"liquidity\": {", out);
            for (size_t j = 0; j < d->nliquidity; j++) {
                fputs(j ? ", " : "", out);
                xcr__put_str(out, d->liquidity[j].symbol);
                fputs(": ", out);
                xcr__put_num(out, d->liquidity[j].value);
            }
            fputs("},\n   \"notes\": {", out);
            first = true;
            for (size_t j = 0; j < d->nmoves; j++) {
                if (!d->moves[j].note)
                    continue;
                fputs(first ? "" : ", ", out);
                first = false;
                xcr__put_str(out, d->moves[j].symbol);
                fputs(": ", out);
                xcr__put_str(out, d->moves[j].note);
            }
            fputs("}, \"unlisted\": \"crash_ratio\", \"crash_ratio_beta\": ",
                  out);
            xcr__put_num(out, def_ratio(d));
            fputs(",\n   \"events\": [", out);
            for (size_t j = 0; j < d->nevents; j++) {
                fputs(j ? ", " : "", out);
                xcr__put_str(out, d->events[j]);
            }
            fputs("], \"source\": ", out);
            xcr__put_str(out, d->source);
            fputs("}", out);
        }
        fputs("\n]}\n", out);
        return XCR_OK;
    }
    if (format == XCR_OUT_CSV) {
        fputs("scenario,symbol,move,base,kind,liquidity\r\n", out);
        for (size_t i = 0; i < n; i++) {
            const xcr_scenario_def *d = xcr_builtin_scenario(i);
            for (size_t j = 0; j < d->nmoves; j++) {
                const xcr_scenario_move *e = &d->moves[j];
                fprintf(out, "%s,%s,", d->name, e->symbol);
                xcr__put_csv_num(out, e->move);
                fprintf(out, ",%s,%s,\r\n", e->base ? e->base : "",
                        e->kind == XCR_MOVE_DEPEG ? "depeg" : "market");
            }
            for (size_t j = 0; j < d->nliquidity; j++) {
                fprintf(out, "%s,%s,,,,", d->name, d->liquidity[j].symbol);
                xcr__put_csv_num(out, d->liquidity[j].value);
                fputs("\r\n", out);
            }
        }
        return XCR_OK;
    }
    fprintf(out, "%-26s %-22s %-21s %8s %8s %8s %8s %8s %6s\n", "scenario",
            "date", "variant", "BTC", "ETH", "SOL", "BNB", "DOGE", "depth");
    static const char *const SYMS[5] = {"BTC", "ETH", "SOL", "BNB", "DOGE"};
    for (size_t i = 0; i < n; i++) {
        const xcr_scenario_def *d = xcr_builtin_scenario(i);
        fprintf(out, "%-26s %-22s %-21s", d->name, d->date, d->variant);
        for (int k = 0; k < 5; k++) {
            char p[32] = "-";
            for (size_t j = 0; j < d->nmoves; j++)
                if (strcmp(d->moves[j].symbol, SYMS[k]) == 0)
                    snprintf(p, sizeof p, "%.1f%%", 100 * d->moves[j].move);
            fprintf(out, " %8s", p);
        }
        double liq = 1;
        for (size_t j = 0; j < d->nliquidity; j++)
            if (strcmp(d->liquidity[j].symbol, "*") == 0)
                liq = d->liquidity[j].value;
        fprintf(out, " %6.3g\n", liq);
        bool any = false;
        for (size_t j = 0; j < d->nmoves; j++) {
            const xcr_scenario_move *e = &d->moves[j];
            if (e->kind != XCR_MOVE_DEPEG)
                continue;
            fprintf(out, "%s %s %+.4g %%%s%s", any ? "," : "    depegs:",
                    e->symbol, 100 * e->move, e->base ? " vs " : "",
                    e->base ? e->base : "");
            any = true;
        }
        if (any)
            fputc('\n', out);
        for (size_t j = 0; j < d->nevents; j++)
            fprintf(out, "    - %s\n", d->events[j]);
    }
    fputs("\nsource: scenarios-and-data.md §1 (moves: Binance spot candles, "
          "UTC), §3 (depegs and events, as reported), §5 (scenario "
          "definitions).\nAssets a scenario does not name: stablecoins stay "
          "at 1, wrapped/staked tokens follow their base,\nothers move by "
          "the crash-day ratio (beta x BTC's move; docs/stress.md).\n",
          out);
    return XCR_OK;
}
