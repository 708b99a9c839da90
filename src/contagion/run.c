/* One contagion run: the balance sheets at the book's prices, the shock,
 * the model, and — for networks bound to a book — holdings revalued at the
 * start prices and fire sales iterated jointly with the model to a fixed
 * point (docs/contagion.md, "Fire sales").
 *
 * Fire sales (overlapping portfolios; Cont & Schaanning, "Fire sales,
 * indirect contagion and systemic stress testing", Norges Bank WP 2/2017,
 * and Greenwood, Landier & Thesmar, JFE 115(3), 2015; cascades-and-
 * contagion.md §2): after each model run, an entity whose leverage
 * (assets / equity, assets = equity + p̄) exceeds the target sells holdings
 * pro rata to get back to it, V = min(holdings, assets − λ·equity); a
 * defaulted or insolvent entity sells everything.  Sales are realised at
 * the round's start price and repay external liabilities (the rest is
 * kept as cash); each asset's price is the start price moved by the book's
 * liquidity model (spec §1.1, xcr_liquidity_impact) on the cumulative USD
 * sold, the "cumulative volume from the initial price" convention (§7.5).
 * The model then runs again on the new balance sheets, until no entity
 * sells (or the round cap).
 *
 * Re-pledged collateral (an xcr extension): a link "from re-pledged q units
 * of a to to" gives `to` the units (valued at current prices, as external
 * assets it cannot sell) and a liability to `from` of the same value, so a
 * default of `to` leaves `from` recovering only its clearing share, and a
 * default of `from` passes that on to its own creditors and clients. */
#include "../book/book.h"
#include "contagion.h"

#include <stdlib.h>
#include <string.h>

#define FIRE_MAX_ROUNDS 100
#define PRICE_FLOOR 1e-9 /* share of the start price a price cannot fall below */

typedef struct run_ctx {
    const xcr_network *net;
    size_t n, nb, me;            /* entities, book assets, edges           */
    xcr__graph g;
    xcr__ws_net w;
    uint32_t *ef, *et;           /* edges: liabilities then re-pledges     */
    double *ea;
    uint8_t *forced;
    double *p0, *pstart, *price, *sold; /* per book asset                   */
    double *units, *nonmkt, *cash, *paydown, *held;
    /* the merged edges are kept between runs while nothing changes them
     * (no re-pledge links, whose values move with prices; same firewall) */
    bool built;
    size_t built_skip;
} run_ctx;

static void ctx_edges(run_ctx *c, size_t skip)
{
    if (c->built && c->built_skip == skip && c->net->nr == 0) {
        xcr__graph_pbar(&c->g);
        return;
    }
    xcr__graph_set_edges(&c->g, c->me, c->ef, c->et, c->ea, skip);
    xcr__graph_totals(&c->g);
    c->built = true;
    c->built_skip = skip;
}

static void ctx_free(run_ctx *c)
{
    xcr__graph_free(&c->g);
    xcr__ws_net_free(&c->w);
    free(c->ef);
    free(c->et);
    free(c->ea);
    free(c->forced);
    free(c->p0);
    free(c->pstart);
    free(c->price);
    free(c->sold);
    free(c->units);
    free(c->nonmkt);
    free(c->cash);
    free(c->paydown);
    free(c->held);
}

static xcr_status ctx_init(run_ctx *c, const xcr_network *net)
{
    memset(c, 0, sizeof *c);
    c->net = net;
    c->n = net->n;
    c->nb = net->book ? net->book->n_assets : 0;
    c->me = net->m + net->nr;
    size_t n1 = c->n + 1, m1 = c->me + 1, b1 = c->nb + 1;
    if (xcr__graph_alloc(&c->g, c->n, c->me) != XCR_OK ||
        xcr__ws_net_init(&c->w, c->n) != XCR_OK)
        goto oom;
    c->ef = malloc(m1 * sizeof *c->ef);
    c->et = malloc(m1 * sizeof *c->et);
    c->ea = malloc(m1 * sizeof *c->ea);
    c->forced = calloc(n1, 1);
    c->p0 = calloc(b1, sizeof(double));
    c->pstart = calloc(b1, sizeof(double));
    c->price = calloc(b1, sizeof(double));
    c->sold = calloc(b1, sizeof(double));
    c->units = calloc(net->nh + 1, sizeof(double));
    c->nonmkt = calloc(n1, sizeof(double));
    c->cash = calloc(n1, sizeof(double));
    c->paydown = calloc(n1, sizeof(double));
    c->held = calloc(n1, sizeof(double));
    if (!c->ef || !c->et || !c->ea || !c->forced || !c->p0 || !c->pstart ||
        !c->price || !c->sold || !c->units || !c->nonmkt || !c->cash ||
        !c->paydown || !c->held)
        goto oom;
    if (net->m) {
        memcpy(c->ef, net->lf, net->m * sizeof *c->ef);
        memcpy(c->et, net->lt, net->m * sizeof *c->et);
        memcpy(c->ea, net->la, net->m * sizeof *c->ea);
    }
    /* a re-pledge is a liability of `to` to `from` */
    for (size_t r = 0; r < net->nr; r++) {
        c->ef[net->m + r] = net->r_to[r];
        c->et[net->m + r] = net->r_from[r];
    }
    return XCR_OK;
oom:
    ctx_free(c);
    return XCR_ENOMEM;
}

static double book_price_of(const run_ctx *c, const double *px, uint32_t a)
{
    return px[c->net->asset_book[a]];
}

/* External assets now: the non-marketable part, holdings at `px`, cash from
 * sales, and re-pledged collateral received. */
static void sheets_at(run_ctx *c, const double *px, bool start, size_t skip,
                      const double *ext_loss)
{
    const xcr_network *net = c->net;
    xcr__graph *g = &c->g;
    for (size_t i = 0; i < c->n; i++) {
        g->ext[i] = net->book ? c->nonmkt[i] + c->cash[i] : net->ext[i];
        if (!start && ext_loss)
            g->ext[i] -= ext_loss[i];
        g->el[i] = net->el[i] - (start ? 0 : c->paydown[i]);
    }
    if (net->book) {
        for (size_t h = 0; h < net->nh; h++)
            g->ext[net->h_ent[h]] +=
                (start ? net->h_amt[h] : c->units[h]) *
                book_price_of(c, px, net->h_asset[h]);
    }
    for (size_t r = 0; r < net->nr; r++) {
        double v = net->r_amt[r] * book_price_of(c, px, net->r_asset[r]);
        /* a link cut by the firewall was never re-pledged: the pledger
         * keeps the collateral */
        if (net->r_to[r] != skip && net->r_from[r] != skip)
            g->ext[net->r_to[r]] += v;
        else
            g->ext[net->r_from[r]] += v;
        c->ea[net->m + r] = v;
    }
    /* Segmentation: a liability cut by the firewall stays on both balance
     * sheets but outside the network — the creditor holds a safe claim
     * (external asset) and the debtor owes an outside creditor — so
     * equities before any shock are unchanged and only the contagion
     * channel is removed. */
    if (skip != (size_t)-1)
        for (size_t k = 0; k < net->m; k++)
            if (net->lf[k] == skip || net->lt[k] == skip) {
                g->ext[net->lt[k]] += net->la[k];
                g->el[net->lf[k]] += net->la[k];
            }
    /* an outside loss larger than what is left leaves nothing, not less */
    for (size_t i = 0; i < c->n; i++)
        if (g->ext[i] < 0)
            g->ext[i] = 0;
}

static void run_model(run_ctx *c, const xcr_contagion_opts *o,
                      xcr_entity_result *out, xcr_contagion_summary *sum)
{
    switch (o->model) {
    case XCR_NET_EN:
    case XCR_NET_RV:
        xcr__clear_en_rv(&c->g, o, c->forced, &c->w, out, sum);
        break;
    case XCR_NET_FURFINE:
        xcr__furfine(&c->g, o, c->forced, &c->w, out, sum);
        break;
    case XCR_NET_GK:
        xcr__gai_kapadia(&c->g, o, c->forced, &c->w, out, sum);
        break;
    case XCR_NET_DEBTRANK:
        xcr__debtrank(&c->g, o, c->forced, &c->w, out, sum);
        break;
    }
}

static xcr_status check_opts(const xcr_network *net,
                             const xcr_contagion_opts *o, xcr_error *err)
{
    if (!net || !net->finalized)
        return xcr__fail(err, XCR_EINVAL, "a finalized network is required");
    if ((int)o->model < XCR_NET_EN || o->model > XCR_NET_DEBTRANK)
        return xcr__fail(err, XCR_EINVAL, "unknown model");
    if ((int)o->rule < XCR_RULE_MODEL || o->rule > XCR_RULE_LE ||
        (int)o->variant < XCR_DR_BATTISTON ||
        o->variant > XCR_DR_DIFFERENTIAL)
        return xcr__fail(err, XCR_EINVAL, "unknown rule or variant");
    struct {
        const char *name;
        double v;
    } unit[] = {{"alpha", o->alpha},
                {"beta", o->beta},
                {"recovery", o->recovery},
                {"shock-all", o->shock_all},
                {"shock-external", o->shock_external}};
    for (size_t k = 0; k < sizeof unit / sizeof unit[0]; k++)
        if (!(unit[k].v >= 0 && unit[k].v <= 1))
            return xcr__fail(err, XCR_EINVAL, "%s must be in [0, 1] (got %g)",
                             unit[k].name, unit[k].v);
    if (!(o->gk_fire_sale >= 0 && isfinite(o->gk_fire_sale)))
        return xcr__fail(err, XCR_EINVAL,
                         "the Gai-Kapadia fire-sale exponent must be >= 0");
    if (!(o->tol >= 0 && o->tol < 1))
        return xcr__fail(err, XCR_EINVAL, "tolerance must be in [0, 1)");
    if (!(o->leverage_target == 0 ||
          (o->leverage_target >= 1 && isfinite(o->leverage_target))))
        return xcr__fail(err, XCR_EINVAL,
                         "leverage target must be >= 1 (got %g)",
                         o->leverage_target);
    for (size_t k = 0; k < o->ndefaults; k++)
        if (!o->defaults || o->defaults[k] >= net->n)
            return xcr__fail(err, XCR_ENOTFOUND,
                             "defaulted entity index out of range");
    if (o->firewall >= (long)net->n || o->firewall < -1)
        return xcr__fail(err, XCR_ENOTFOUND,
                         "firewall entity index out of range");
    if (!net->book && net->nr > 0)
        return xcr__fail(err, XCR_EINVAL,
                         "%s: re-pledged collateral is valued at a book's "
                         "prices: bind a book (--book)",
                         net->name ? net->name : "network");
    if (!net->book && o->leverage_target > 0)
        return xcr__fail(err, XCR_EINVAL,
                         "fire sales need a book for the holdings' prices "
                         "and liquidity (--book)");
    if (o->external_loss)
        for (size_t i = 0; i < net->n; i++)
            if (!(o->external_loss[i] >= 0 &&
                  o->external_loss[i] <= net->ext[i] * (1 + 1e-12)))
                return xcr__fail(err, XCR_EINVAL,
                                 "external loss of \"%s\" must be in [0, "
                                 "its external assets] (got %g)",
                                 net->id[i], o->external_loss[i]);
    if (net->book && o->start_prices)
        for (size_t a = 0; a < net->book->n_assets; a++)
            if (!(o->start_prices[a] > 0 && isfinite(o->start_prices[a])))
                return xcr__fail(err, XCR_EINVAL,
                                 "start price of %s must be finite and > 0",
                                 net->book->assets[a].symbol);
    return XCR_OK;
}

/* Prepare the balance sheets at the book's prices (the "before" state). */
static void ctx_start(run_ctx *c, const xcr_contagion_opts *o)
{
    const xcr_network *net = c->net;
    xcr__graph *g = &c->g;
    size_t skip = o->firewall >= 0 ? (size_t)o->firewall : (size_t)-1;
    memset(c->forced, 0, c->n);
    for (size_t k = 0; k < o->ndefaults; k++)
        c->forced[o->defaults[k]] = 1;
    for (size_t a = 0; a < c->nb; a++) {
        c->p0[a] = net->book->assets[a].price;
        c->pstart[a] = o->start_prices ? o->start_prices[a] : c->p0[a];
        c->price[a] = c->pstart[a];
        c->sold[a] = 0;
    }
    for (size_t i = 0; i < c->n; i++) {
        c->nonmkt[i] = net->ext[i];
        c->cash[i] = c->paydown[i] = 0;
    }
    if (net->book)
        for (size_t h = 0; h < net->nh; h++) {
            c->nonmkt[net->h_ent[h]] -=
                net->h_amt[h] * book_price_of(c, c->p0, net->h_asset[h]);
            c->units[h] = net->h_amt[h];
        }
    for (size_t i = 0; i < c->n; i++)
        if (c->nonmkt[i] < 0) /* rounding of the bind check's tolerance */
            c->nonmkt[i] = 0;
    sheets_at(c, c->p0, true, skip, NULL);
    ctx_edges(c, skip);
    double total = 0;
    for (size_t i = 0; i < c->n; i++) {
        g->ext_start[i] = g->ext[i];
        g->el_start[i] = g->el[i];
        g->eq_start[i] = g->ext[i] + g->ib_assets[i] - g->pbar[i];
        bool given = !isnan(net->equity_in[i]) && o->model != XCR_NET_GK;
        g->eq_base[i] = given ? net->equity_in[i] : g->eq_start[i];
        g->v[i] = isnan(net->size_in[i]) ? g->ext[i] + g->ib_assets[i]
                                         : net->size_in[i];
        total += g->v[i];
    }
    for (size_t i = 0; i < c->n; i++)
        g->v[i] = total > 0 ? g->v[i] / total : 1.0 / (double)c->n;
}

/* Sales this round; returns the total USD sold. */
static double fire_sales(run_ctx *c, const xcr_contagion_opts *o,
                         const xcr_entity_result *out)
{
    const xcr_network *net = c->net;
    const xcr__graph *g = &c->g;
    double tol = o->tol > 0 ? o->tol : XCR__NET_TOL;
    memset(c->held, 0, c->n * sizeof *c->held);
    for (size_t h = 0; h < net->nh; h++)
        c->held[net->h_ent[h]] +=
            c->units[h] * book_price_of(c, c->price, net->h_asset[h]);
    double *sell = c->w.dh; /* per entity, USD */
    double total = 0;
    for (size_t i = 0; i < c->n; i++) {
        double H = c->held[i], E = out[i].equity, V = 0;
        if (H > 0) {
            double assets = E + g->pbar[i];
            if (out[i].defaulted || E <= 0)
                V = H;
            else if (assets > o->leverage_target * E * (1 + tol))
                V = fmin(H, assets - o->leverage_target * E);
        }
        sell[i] = V;
        total += V;
    }
    if (total <= 0)
        return 0;
    for (size_t h = 0; h < net->nh; h++) {
        uint32_t i = net->h_ent[h];
        if (!(sell[i] > 0) || !(c->held[i] > 0))
            continue;
        double frac = sell[i] >= c->held[i] ? 1 : sell[i] / c->held[i];
        double u = c->units[h] * frac;
        long a = net->asset_book[net->h_asset[h]];
        c->sold[a] += u * c->price[a];
        c->units[h] -= u;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!(sell[i] > 0))
            continue;
        double owed = net->el[i] - c->paydown[i];
        double pay = sell[i] < owed ? sell[i] : owed;
        c->paydown[i] += pay;
        c->cash[i] += sell[i] - pay;
    }
    for (size_t a = 0; a < c->nb; a++) {
        if (!(c->sold[a] > 0))
            continue;
        double mv = xcr_liquidity_impact(net->book, a, c->sold[a], 1.0);
        double px = c->pstart[a] * (1 + mv);
        c->price[a] = px > c->pstart[a] * PRICE_FLOOR ? px
                                                       : c->pstart[a] *
                                                             PRICE_FLOOR;
    }
    return total;
}

static void finish(run_ctx *c, const xcr_contagion_opts *o,
                   xcr_entity_result *out, xcr_contagion_summary *sum,
                   const xcr_contagion_extra *extra)
{
    const xcr__graph *g = &c->g;
    bool dr = o->model == XCR_NET_DEBTRANK;
    bool own_buffer = dr || o->model == XCR_NET_FURFINE;
    for (size_t i = 0; i < c->n; i++) {
        xcr_entity_result *r = &out[i];
        if (c->paydown[i] > 0) {
            /* debt repaid from fire-sale proceeds is paid too */
            double owed = g->pbar[i] + c->paydown[i];
            if (o->model != XCR_NET_DEBTRANK)
                r->payment += c->paydown[i];
            r->recovery = owed > 0 ? r->payment / owed : 1;
        }
        r->equity_before = own_buffer ? g->eq_base[i] : g->eq_start[i];
        double b = r->equity_before > 0 ? r->equity_before : 0;
        double a = r->equity > 0 ? r->equity : 0;
        r->loss = b > a ? b - a : 0;
        if (!dr)
            r->stress = b > 0 ? (r->loss / b > 1 ? 1 : r->loss / b)
                              : (r->defaulted ? 1 : 0);
        if (r->defaulted)
            sum->defaults++;
        sum->total_loss += r->loss;
        sum->weighted_stress += g->v[i] * r->stress;
    }
    if (!dr)
        sum->debtrank = NAN;
    if (!extra)
        return;
    const xcr_network *net = c->net;
    for (size_t a = 0; a < c->nb; a++) {
        if (extra->final_prices)
            extra->final_prices[a] = c->price[a];
        if (extra->sold_usd)
            extra->sold_usd[a] = c->sold[a];
    }
    for (size_t r = 0; r < net->nr; r++) {
        double v = net->r_amt[r] * book_price_of(c, c->price, net->r_asset[r]);
        bool cut = o->firewall >= 0 && ((long)net->r_from[r] == o->firewall ||
                                        (long)net->r_to[r] == o->firewall);
        if (extra->rehyp_value)
            extra->rehyp_value[r] = v;
        if (extra->rehyp_lost)
            extra->rehyp_lost[r] =
                cut ? 0 : v * (1 - out[net->r_to[r]].recovery);
    }
}

static xcr_status run_ctx_once(run_ctx *c, const xcr_contagion_opts *o,
                               xcr_entity_result *out,
                               xcr_contagion_summary *sum,
                               const xcr_contagion_extra *extra)
{
    memset(sum, 0, sizeof *sum);
    sum->converged = 1;
    memset(out, 0, c->n * sizeof *out);
    ctx_start(c, o);
    size_t skip = o->firewall >= 0 ? (size_t)o->firewall : (size_t)-1;
    size_t cap = o->max_fire_rounds ? o->max_fire_rounds : FIRE_MAX_ROUNDS;
    bool moved = o->external_loss != NULL;
    for (size_t a = 0; a < c->nb; a++)
        moved = moved || c->pstart[a] != c->p0[a];
    for (size_t t = 0;; t++) {
        if (t > 0 || moved) {
            sheets_at(c, c->price, false, skip, o->external_loss);
            ctx_edges(c, skip);
        }
        xcr_contagion_summary s1 = {0};
        s1.converged = 1;
        run_model(c, o, out, &s1);
        sum->rounds = s1.rounds;
        sum->default_costs = s1.default_costs;
        sum->external_shortfall = s1.external_shortfall;
        sum->debtrank = s1.debtrank;
        sum->converged = sum->converged && s1.converged;
        if (!(o->leverage_target > 0) || !c->net->book)
            break;
        if (t >= cap) {
            sum->converged = 0;
            break;
        }
        double v = fire_sales(c, o, out);
        if (!(v > 0))
            break;
        sum->fire_rounds++;
        sum->fire_sold_usd += v;
        moved = true;
    }
    finish(c, o, out, sum, extra);
    return XCR_OK;
}

void xcr_contagion_opts_init(xcr_contagion_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = XCR_NET_EN;
    o->rule = XCR_RULE_MODEL;
    o->alpha = o->beta = 1;
    o->variant = XCR_DR_BATTISTON;
    o->firewall = -1;
}

xcr_status xcr_contagion_run(const xcr_network *net,
                             const xcr_contagion_opts *o,
                             xcr_entity_result *out,
                             xcr_contagion_summary *sum,
                             const xcr_contagion_extra *extra, xcr_error *err)
{
    if (!o || !out || !sum)
        return xcr__fail(err, XCR_EINVAL, "options and outputs are required");
    xcr_status s = check_opts(net, o, err);
    if (s != XCR_OK)
        return s;
    run_ctx c;
    if (ctx_init(&c, net) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    s = run_ctx_once(&c, o, out, sum, extra);
    ctx_free(&c);
    return s;
}

struct xcr_contagion_runner {
    run_ctx c;
    const xcr_book *book; /* the binding the scratch was sized for */
};

xcr_status xcr_contagion_runner_new(const xcr_network *net,
                                    xcr_contagion_runner **out,
                                    xcr_error *err)
{
    if (!net || !net->finalized || !out)
        return xcr__fail(err, XCR_EINVAL, "a finalized network is required");
    xcr_contagion_runner *r = malloc(sizeof *r);
    if (!r || ctx_init(&r->c, net) != XCR_OK) {
        free(r);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    r->book = net->book;
    *out = r;
    return XCR_OK;
}

void xcr_contagion_runner_free(xcr_contagion_runner *r)
{
    if (!r)
        return;
    ctx_free(&r->c);
    free(r);
}

xcr_status xcr_contagion_runner_run(xcr_contagion_runner *r,
                                    const xcr_contagion_opts *o,
                                    xcr_entity_result *out,
                                    xcr_contagion_summary *sum,
                                    const xcr_contagion_extra *extra,
                                    xcr_error *err)
{
    if (!r || !o || !out || !sum)
        return xcr__fail(err, XCR_EINVAL, "runner, options and outputs are "
                                          "required");
    if (r->c.net->book != r->book)
        return xcr__fail(err, XCR_EINVAL,
                         "the network was bound to another book after the "
                         "runner was created");
    xcr_status s = check_opts(r->c.net, o, err);
    if (s != XCR_OK)
        return s;
    return run_ctx_once(&r->c, o, out, sum, extra);
}

/* MARK: rankings --------------------------------------------------------------------- */

/* Mean stress is accumulated in fixed point (2^-40 units): integer sums
 * do not depend on the order in which threads add them. */
#define VULN_ONE 1099511627776.0

typedef struct rank_job {
    const xcr_network *net;
    xcr_contagion_opts o;
    const xcr_entity_result *base;   /* the run without any default */
    const xcr_contagion_summary *base_sum;
    size_t first, step;
    xcr_entity_rank *out;
    uint64_t *vsum, *vcount;
    xcr_status status;
} rank_job;

static void *rank_worker(void *arg)
{
    rank_job *j = arg;
    size_t n = j->net->n;
    run_ctx c;
    xcr_entity_result *res = malloc((n + 1) * sizeof *res);
    if (!res || ctx_init(&c, j->net) != XCR_OK) {
        free(res);
        j->status = XCR_ENOMEM;
        return NULL;
    }
    for (size_t k = j->first; k < n; k += j->step) {
        size_t d = k;
        xcr_contagion_opts o = j->o;
        o.defaults = &d;
        o.ndefaults = 1;
        xcr_contagion_summary s;
        run_ctx_once(&c, &o, res, &s, NULL);
        /* what its default adds to the run without it: others' losses and
         * defaults beyond those that happen anyway */
        const xcr_entity_result *b = j->base;
        j->out[k].loss_caused = (s.total_loss - res[k].loss) -
                                (j->base_sum->total_loss - b[k].loss);
        size_t others = s.defaults - (res[k].defaulted ? 1 : 0);
        size_t others0 = j->base_sum->defaults - (b[k].defaulted ? 1 : 0);
        j->out[k].defaults_caused = others > others0 ? others - others0 : 0;
        for (size_t i = 0; i < n; i++) {
            if (i == k)
                continue;
            j->vsum[i] += (uint64_t)llround(res[i].stress * VULN_ONE);
            j->vcount[i] += res[i].defaulted ? 1 : 0;
        }
    }
    ctx_free(&c);
    free(res);
    return NULL;
}

xcr_status xcr_contagion_rank(const xcr_network *net,
                              const xcr_contagion_opts *o, int threads,
                              xcr_entity_rank *out, xcr_error *err)
{
    if (!o || !out)
        return xcr__fail(err, XCR_EINVAL, "options and outputs are required");
    xcr_contagion_opts bopt = *o;
    bopt.defaults = NULL;
    bopt.ndefaults = 0;
    bopt.shock_all = bopt.shock_external = 0;
    xcr_status s = check_opts(net, &bopt, err);
    if (s != XCR_OK)
        return s;
    size_t n = net->n;
    int t = threads > 0 ? threads : 1;
    if ((size_t)t > n)
        t = (int)n;
    if (t > XCR__MAX_THREADS)
        t = XCR__MAX_THREADS;
    rank_job *jobs = calloc((size_t)t, sizeof *jobs);
    uint64_t *acc = calloc((size_t)t * 2 * (n + 1), sizeof *acc);
    xcr_entity_result *base = malloc((n + 1) * sizeof *base);
    xcr_contagion_summary base_sum;
    s = jobs && acc && base ? xcr_contagion_run(net, &bopt, base, &base_sum,
                                                NULL, err)
                            : xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (s != XCR_OK) {
        free(jobs);
        free(acc);
        free(base);
        return s;
    }
    for (int k = 0; k < t; k++) {
        jobs[k].net = net;
        jobs[k].o = bopt;
        jobs[k].base = base;
        jobs[k].base_sum = &base_sum;
        jobs[k].first = (size_t)k;
        jobs[k].step = (size_t)t;
        jobs[k].out = out;
        jobs[k].vsum = acc + (size_t)k * 2 * (n + 1);
        jobs[k].vcount = jobs[k].vsum + n + 1;
    }
    xcr__run_jobs(rank_worker, jobs, sizeof *jobs, t);
    for (int k = 0; k < t; k++)
        if (jobs[k].status != XCR_OK)
            s = jobs[k].status;
    if (s == XCR_OK)
        for (size_t i = 0; i < n; i++) {
            uint64_t vs = 0, vc = 0;
            for (int k = 0; k < t; k++) {
                vs += jobs[k].vsum[i];
                vc += jobs[k].vcount[i];
            }
            out[i].vulnerability =
                n > 1 ? (double)vs / VULN_ONE / (double)(n - 1) : 0;
            out[i].times_defaulted = (size_t)vc;
        }
    free(jobs);
    free(acc);
    free(base);
    return s == XCR_OK ? XCR_OK
                       : xcr__fail(err, s, "out of memory ranking entities");
}
