/* The exposure report: where the book's risk concentrates.
 *
 * Per asset, over all accounts (USD at current prices):
 *  - collateral = Σ positive net holdings, borrowed = Σ negative ones (net
 *    holdings include PnL settled in the asset, as in spec §2);
 *  - price exposure: each account's delta ∂equity/∂ln P_a (a central
 *    difference of the one margin evaluator with the asset bumped ±0.01 %,
 *    so options, inverse contracts and collateral all count); long = Σ of
 *    positive deltas, short = Σ of negative ones, gross = long − short,
 *    net = long + short;
 *  - concentration of holders: HHI = Σ_i (h_i / Σ h)² over accounts with a
 *    positive holding (1 = one holder; 1/HHI = the "effective number" of
 *    holders), and the share of the top N holders;
 *  - collateral against market depth: the USD that can be sold before the
 *    price falls 10 % under the asset's liquidity model (spec §1.1), the
 *    ratio of collateral to it, and the move if all of it were sold.
 * Book: HHI of collateral across assets.
 * Recursive leverage ("looping"): an asset family borrowed and held as
 * collateral by one account — a token and what it wraps or stakes (WETH,
 * stETH, wstETH → ETH), stablecoins against stablecoins, or the account's
 * lending e-mode category — flagged when collateral / (collateral − debt),
 * the leverage of the loop, reaches a threshold (2 by default: at least one
 * full re-deposit at 50 % LTV; k rounds at LTV l reach Σ l^i).  The same test
 * across the accounts of one entity catches loops split over accounts.
 * The pass is sequential in account order, so the report is deterministic. */
#include "stress.h"

#include <stdlib.h>
#include <string.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")
#define BUMP 1e-4

/* The liquidity models (xcr_liquidity_impact / _depth) live with the
 * cascade's impact state in src/cascade/impact.c: one implementation. */

/* MARK: the computation --------------------------------------------------------------------- */

typedef struct holder {
    double usd;
    size_t acct;
} holder;

typedef struct loop_rec {
    xcr_loop l;
    char family[48];
    size_t accounts; /* entity loops: accounts involved */
} loop_rec;

struct xcr_exposure {
    const xcr_market *m;
    size_t na, top;
    xcr_asset_exposure *a;
    holder *tops;      /* na × top, descending                           */
    size_t *ntop;
    double coll_hhi;
    loop_rec *loops;
    size_t nloops, caploops;
    double loop_leverage;
};

void xcr_exposure_free(xcr_exposure *e)
{
    if (!e)
        return;
    free(e->a);
    free(e->tops);
    free(e->ntop);
    free(e->loops);
    free(e);
}

/* The family of an asset for loop detection (written into buf). */
static void family_of(const xcr_book *b, size_t asset, int emode, char *buf,
                      size_t n)
{
    const xcr__asset *as = &b->assets[asset];
    if (emode && as->emode == emode) {
        snprintf(buf, n, "e-mode %d", emode);
        return;
    }
    if (as->stable) {
        snprintf(buf, n, "stablecoins");
        return;
    }
    const char *root = as->symbol;
    for (int d = 0; d < 8; d++) {
        const char *nx = xcr_asset_base(root);
        if (!nx)
            break;
        root = nx;
    }
    char up[24];
    size_t k = 0;
    for (; root[k] && k + 1 < sizeof up; k++)
        up[k] = (char)(root[k] >= 'a' && root[k] <= 'z' ? root[k] - 32
                                                         : root[k]);
    up[k] = '\0';
    snprintf(buf, n, "%.24s (wrapped/staked)", up);
}

static bool push_loop(xcr_exposure *e, const loop_rec *r)
{
    if (e->nloops == e->caploops) {
        size_t nc = e->caploops ? e->caploops * 2 : 16;
        loop_rec *p = realloc(e->loops, nc * sizeof *p);
        if (!p)
            return false;
        e->loops = p;
        e->caploops = nc;
    }
    e->loops[e->nloops++] = *r;
    return true;
}

/* One account's family totals (for entity loops). */
typedef struct fam_rec {
    const char *entity;
    char family[48];
    size_t acct;
    double coll, debt;
    uint32_t coll_asset, debt_asset;
    double coll_max, debt_max;
} fam_rec;

static int cmp_fam(const void *x, const void *y)
{
    const fam_rec *a = x, *b = y;
    int c = strcmp(a->entity, b->entity);
    if (c)
        return c;
    c = strcmp(a->family, b->family);
    if (c)
        return c;
    return (a->acct > b->acct) - (a->acct < b->acct);
}

xcr_status xcr_exposure_compute(const xcr_market *m,
                                const xcr_exposure_opts *o,
                                xcr_exposure **out, xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "market and output are required");
    const xcr_book *b = m->book;
    size_t na = b->n_assets, top = o && o->top ? o->top : 5;
    double thr = o && o->loop_leverage > 1 ? o->loop_leverage : 2.0;
    if (top > 1000)
        top = 1000;
    xcr_exposure *e = calloc(1, sizeof *e);
    if (!e)
        return NOMEM(err);
    e->m = m;
    e->na = na;
    e->top = top;
    e->loop_leverage = thr;
    size_t na1 = na ? na : 1;
    e->a = calloc(na1, sizeof *e->a);
    e->tops = calloc(na1 * top, sizeof *e->tops);
    e->ntop = calloc(na1, sizeof *e->ntop);
    double *sumsq = calloc(na1, sizeof *sumsq);
    size_t *exp = malloc(na1 * sizeof *exp);
    /* per account: family slots */
    char (*fam)[48] = malloc(na1 * sizeof *fam);
    fam_rec *frs = NULL;
    size_t nfr = 0, capfr = 0;
    xcr__ws ws;
    bool ws_ok = false;
    xcr_status st = XCR_OK;
    if (!e->a || !e->tops || !e->ntop || !sumsq || !exp || !fam) {
        st = NOMEM(err);
        goto done;
    }
    if (xcr__ws_init(&ws, b) != XCR_OK) {
        st = NOMEM(err);
        goto done;
    }
    ws_ok = true;
    for (size_t i = 0; i < b->n_accts; i++) {
        xcr_account_result r;
        ws.keep_net = true;
        xcr__eval_account(m, NULL, i, &ws, &r, NULL, NULL);
        ws.keep_net = false;
        if (!isfinite(r.equity)) {
            st = xcr__fail(err, XCR_ERANGE,
                           "account \"%s\": equity is not a finite number",
                           b->acct_id[i]);
            goto done;
        }
        size_t nk = ws.n_kept;
        /* holdings */
        int emode = b->acct_mode[i] == XCR_MODE_LENDING ? b->acct_emode[i]
                                                        : 0;
        for (size_t k = 0; k < nk; k++) {
            uint32_t a = ws.kept_asset[k];
            double v = ws.kept_net[k] * m->price[a];
            xcr_asset_exposure *x = &e->a[a];
            if (v > 0) {
                x->collateral += v;
                x->holders++;
                sumsq[a] += v * v;
                holder *t = e->tops + (size_t)a * top;
                size_t n = e->ntop[a];
                if (n < top || v > t[n - 1].usd) {
                    size_t p = n < top ? n : top - 1;
                    while (p > 0 && t[p - 1].usd < v) {
                        t[p] = t[p - 1];
                        p--;
                    }
                    t[p] = (holder){v, i};
                    if (n < top)
                        e->ntop[a]++;
                }
            } else if (v < 0) {
                x->borrowed -= v;
            }
            family_of(b, a, emode, fam[k], sizeof fam[k]);
        }
        /* loops: per family, collateral and debt of this account */
        for (size_t k = 0; k < nk; k++) {
            bool seen = false;
            for (size_t q = 0; q < k; q++)
                if (strcmp(fam[q], fam[k]) == 0)
                    seen = true;
            if (seen)
                continue;
            fam_rec fr;
            memset(&fr, 0, sizeof fr);
            fr.entity = b->acct_entity[i];
            fr.acct = i;
            snprintf(fr.family, sizeof fr.family, "%s", fam[k]);
            for (size_t q = k; q < nk; q++) {
                if (strcmp(fam[q], fam[k]) != 0)
                    continue;
                uint32_t a = ws.kept_asset[q];
                double v = ws.kept_net[q] * m->price[a];
                if (v > 0) {
                    fr.coll += v;
                    if (v > fr.coll_max) {
                        fr.coll_max = v;
                        fr.coll_asset = a;
                    }
                } else if (v < 0) {
                    fr.debt -= v;
                    if (-v > fr.debt_max) {
                        fr.debt_max = -v;
                        fr.debt_asset = a;
                    }
                }
            }
            if (!(fr.coll > 0) && !(fr.debt > 0))
                continue;
            if (fr.coll > 0 && fr.debt > 0) {
                double lev = fr.coll > fr.debt ? fr.coll / (fr.coll - fr.debt)
                                               : INFINITY;
                if (lev >= thr) {
                    loop_rec lr;
                    memset(&lr, 0, sizeof lr);
                    snprintf(lr.family, sizeof lr.family, "%s", fr.family);
                    lr.l = (xcr_loop){i,        fr.entity,
                                      fr.coll_asset, fr.debt_asset,
                                      fr.coll,  fr.debt,
                                      lev,      NULL};
                    lr.accounts = 1;
                    if (!push_loop(e, &lr)) {
                        st = NOMEM(err);
                        goto done;
                    }
                }
            }
            if (fr.entity) {
                if (nfr == capfr) {
                    capfr = capfr ? capfr * 2 : 64;
                    fam_rec *p = realloc(frs, capfr * sizeof *p);
                    if (!p) {
                        st = NOMEM(err);
                        goto done;
                    }
                    frs = p;
                }
                frs[nfr++] = fr;
            }
        }
        /* deltas */
        size_t ne = xcr_account_exposed_assets(b, i, exp, na1);
        if (ne > na1)
            ne = na1;
        for (size_t j = 0; j < ne; j++) {
            xcr__override up = {XCR__OV_ASSET, (uint32_t)exp[j], 1 + BUMP};
            xcr__override dn = {XCR__OV_ASSET, (uint32_t)exp[j], 1 - BUMP};
            xcr_account_result ru, rd;
            xcr__eval_account(m, &up, i, &ws, &ru, NULL, NULL);
            xcr__eval_account(m, &dn, i, &ws, &rd, NULL, NULL);
            double d = (ru.equity - rd.equity) / (2 * BUMP);
            if (!isfinite(d))
                continue;
            if (d > 0)
                e->a[exp[j]].delta_long += d;
            else
                e->a[exp[j]].delta_short += d;
        }
    }
    /* entity-level loops: a family borrowed in one account of an entity
     * and held in another */
    if (nfr > 1)
        qsort(frs, nfr, sizeof *frs, cmp_fam);
    for (size_t i = 0; i < nfr;) {
        size_t j = i;
        double c = 0, d = 0, cm = 0, dm = 0;
        uint32_t ca = 0, da = 0;
        bool has_c = false, has_d = false;
        size_t c_acct = 0, d_acct = 0;
        bool split = false;
        while (j < nfr && strcmp(frs[j].entity, frs[i].entity) == 0 &&
               strcmp(frs[j].family, frs[i].family) == 0) {
            c += frs[j].coll;
            d += frs[j].debt;
            if (frs[j].coll > 0) {
                if (has_d && d_acct != frs[j].acct)
                    split = true;
                has_c = true;
                c_acct = frs[j].acct;
            }
            if (frs[j].debt > 0) {
                if (has_c && c_acct != frs[j].acct)
                    split = true;
                has_d = true;
                d_acct = frs[j].acct;
            }
            if (frs[j].coll_max > cm) {
                cm = frs[j].coll_max;
                ca = frs[j].coll_asset;
            }
            if (frs[j].debt_max > dm) {
                dm = frs[j].debt_max;
                da = frs[j].debt_asset;
            }
            j++;
        }
        double lev = c > d ? c / (c - d) : INFINITY;
        if (split && c > 0 && d > 0 && lev >= thr) {
            loop_rec lr;
            memset(&lr, 0, sizeof lr);
            snprintf(lr.family, sizeof lr.family, "%s", frs[i].family);
            lr.l = (xcr_loop){(size_t)-1, frs[i].entity, ca, da, c, d, lev,
                              NULL};
            lr.accounts = j - i;
            if (!push_loop(e, &lr)) {
                st = NOMEM(err);
                goto done;
            }
        }
        i = j;
    }
    /* per-asset summaries */
    double total_c = 0, hh = 0;
    for (size_t a = 0; a < na; a++)
        total_c += e->a[a].collateral;
    for (size_t a = 0; a < na; a++) {
        xcr_asset_exposure *x = &e->a[a];
        x->gross = x->delta_long - x->delta_short;
        x->net = x->delta_long + x->delta_short;
        x->hhi = x->collateral > 0
                     ? sumsq[a] / (x->collateral * x->collateral)
                     : NAN;
        double ts = 0;
        for (size_t k = 0; k < e->ntop[a]; k++)
            ts += e->tops[a * top + k].usd;
        x->top_share = x->collateral > 0 ? ts / x->collateral : NAN;
        x->depth_10pct = xcr_liquidity_depth(b, a, -0.10, 1.0);
        x->impact_all = xcr_liquidity_impact(b, a, x->collateral, 1.0);
        if (total_c > 0)
            hh += (x->collateral / total_c) * (x->collateral / total_c);
    }
    e->coll_hhi = total_c > 0 ? hh : NAN;
    for (size_t k = 0; k < e->nloops; k++)
        e->loops[k].l.family = e->loops[k].family;
done:
    if (ws_ok)
        xcr__ws_free(&ws, b);
    free(sumsq);
    free(exp);
    free(fam);
    free(frs);
    if (st != XCR_OK) {
        xcr_exposure_free(e);
        return st;
    }
    *out = e;
    return XCR_OK;
}

xcr_status xcr_exposure_asset(const xcr_exposure *e, size_t asset,
                              xcr_asset_exposure *out)
{
    if (!e || !out || asset >= e->na)
        return XCR_EINVAL;
    *out = e->a[asset];
    return XCR_OK;
}

size_t xcr_exposure_loop_count(const xcr_exposure *e)
{
    return e ? e->nloops : 0;
}

xcr_status xcr_exposure_loop(const xcr_exposure *e, size_t k, xcr_loop *out)
{
    if (!e || !out || k >= e->nloops)
        return XCR_EINVAL;
    *out = e->loops[k].l;
    return XCR_OK;
}

double xcr_exposure_collateral_hhi(const xcr_exposure *e)
{
    return e ? e->coll_hhi : NAN;
}

/* Internal for the writer. */
size_t xcr__exposure_top(const xcr_exposure *e, size_t asset,
                         size_t *accts, double *usd, size_t cap)
{
    size_t n = e->ntop[asset] < cap ? e->ntop[asset] : cap;
    for (size_t k = 0; k < n; k++) {
        accts[k] = e->tops[asset * e->top + k].acct;
        usd[k] = e->tops[asset * e->top + k].usd;
    }
    return n;
}

size_t xcr__exposure_loop_accounts(const xcr_exposure *e, size_t k)
{
    return e->loops[k].accounts;
}

const xcr_market *xcr__exposure_market(const xcr_exposure *e)
{
    return e->m;
}

double xcr__exposure_threshold(const xcr_exposure *e)
{
    return e->loop_leverage;
}

/* MARK: writer --------------------------------------------------------------------------------- */

static const char *liq_model_name(const xcr_book *b, size_t a)
{
    return xcr_liq_model_name(b->assets[a].liq.model);
}

xcr_status xcr_exposure_report(const xcr_exposure *e, xcr_out_format format,
                               FILE *f, xcr_error *err)
{
    if (!e || !f)
        return xcr__fail(err, XCR_EINVAL, "exposure and output are required");
    const xcr_market *m = e->m;
    const xcr_book *b = m->book;
    size_t *ta = malloc((e->top ? e->top : 1) * sizeof *ta);
    double *tu = malloc((e->top ? e->top : 1) * sizeof *tu);
    if (!ta || !tu) {
        free(ta);
        free(tu);
        return NOMEM(err);
    }
    if (format == XCR_OUT_JSON) {
        fprintf(f, "{\"accounts\": %zu, \"top_n\": %zu, \"collateral_hhi\": ",
                b->n_accts, e->top);
        xcr__put_num(f, e->coll_hhi);
        fputs(",\n \"assets\": [", f);
        for (size_t a = 0; a < e->na; a++) {
            const xcr_asset_exposure *x = &e->a[a];
            fputs(a ? ",\n  {\"symbol\": " : "\n  {\"symbol\": ", f);
            xcr__put_str(f, b->assets[a].symbol);
            fputs(", \"price\": ", f);
            xcr__put_num(f, m->price[a]);
            fprintf(f, ", \"stable\": %s", b->assets[a].stable ? "true"
                                                                : "false");
            const double v[] = {x->collateral, x->borrowed, x->delta_long,
                                x->delta_short, x->gross, x->net};
            const char *k[] = {"collateral_usd", "borrowed_usd",
                               "delta_long_usd", "delta_short_usd",
                               "gross_usd", "net_usd"};
            for (int q = 0; q < 6; q++) {
                fprintf(f, ", \"%s\": ", k[q]);
                xcr__put_num(f, v[q]);
            }
            fprintf(f, ", \"holders\": %zu, \"hhi\": ", x->holders);
            xcr__put_num(f, x->hhi);
            fputs(", \"top_share\": ", f);
            xcr__put_num(f, x->top_share);
            fputs(", \"top\": [", f);
            size_t n = xcr__exposure_top(e, a, ta, tu, e->top);
            for (size_t j = 0; j < n; j++) {
                fputs(j ? ", {\"id\": " : "{\"id\": ", f);
                xcr__put_str(f, b->acct_id[ta[j]]);
                fputs(", \"usd\": ", f);
                xcr__put_num(f, tu[j]);
                fputs(", \"share\": ", f);
                xcr__put_num(f, x->collateral > 0 ? tu[j] / x->collateral
                                                  : NAN);
                fputs("}", f);
            }
            fprintf(f, "], \"liquidity_model\": \"%s\"",
                    liq_model_name(b, a));
            fputs(", \"depth_10pct_usd\": ", f);
            xcr__put_num(f, x->depth_10pct);
            fputs(", \"collateral_to_depth\": ", f);
            xcr__put_num(f, x->depth_10pct > 0 ? x->collateral / x->depth_10pct
                                               : NAN);
            fputs(", \"impact_all\": ", f);
            xcr__put_num(f, x->impact_all);
            fputs("}", f);
        }
        fputs("\n ],\n \"loop_leverage_threshold\": ", f);
        xcr__put_num(f, e->loop_leverage);
        fputs(",\n \"loops\": [", f);
        for (size_t k = 0; k < e->nloops; k++) {
            const xcr_loop *l = &e->loops[k].l;
            fputs(k ? ",\n  {" : "\n  {", f);
            if (l->account == (size_t)-1) {
                fputs("\"kind\": \"entity\", \"account\": null", f);
                fprintf(f, ", \"accounts\": %zu",
                        xcr__exposure_loop_accounts(e, k));
            } else {
                fputs("\"kind\": \"account\", \"account\": ", f);
                xcr__put_str(f, b->acct_id[l->account]);
            }
            fputs(", \"entity\": ", f);
            if (l->entity)
                xcr__put_str(f, l->entity);
            else
                fputs("null", f);
            fputs(", \"family\": ", f);
            xcr__put_str(f, l->family);
            fputs(", \"collateral\": ", f);
            xcr__put_str(f, b->assets[l->collateral_asset].symbol);
            fputs(", \"debt\": ", f);
            xcr__put_str(f, b->assets[l->debt_asset].symbol);
            fputs(", \"collateral_usd\": ", f);
            xcr__put_num(f, l->collateral);
            fputs(", \"debt_usd\": ", f);
            xcr__put_num(f, l->debt);
            fputs(", \"leverage\": ", f);
            xcr__put_num(f, l->leverage);
            fputs("}", f);
        }
        fputs(e->nloops ? "\n ]\n}\n" : "]\n}\n", f);
    } else if (format == XCR_OUT_CSV) {
        fputs("symbol,price,collateral_usd,borrowed_usd,delta_long_usd,"
              "delta_short_usd,gross_usd,net_usd,holders,hhi,top_share,"
              "liquidity_model,depth_10pct_usd,collateral_to_depth,"
              "impact_all\r\n",
              f);
        for (size_t a = 0; a < e->na; a++) {
            const xcr_asset_exposure *x = &e->a[a];
            fprintf(f, "%s,", b->assets[a].symbol);
            const double v[] = {m->price[a], x->collateral, x->borrowed,
                                x->delta_long, x->delta_short, x->gross,
                                x->net};
            for (int q = 0; q < 7; q++) {
                xcr__put_csv_num(f, v[q]);
                fputc(',', f);
            }
            fprintf(f, "%zu,", x->holders);
            xcr__put_csv_num(f, x->hhi);
            fputc(',', f);
            xcr__put_csv_num(f, x->top_share);
            fprintf(f, ",%s,", liq_model_name(b, a));
            xcr__put_csv_num(f, x->depth_10pct);
            fputc(',', f);
            xcr__put_csv_num(f, x->depth_10pct > 0
                                    ? x->collateral / x->depth_10pct
                                    : NAN);
            fputc(',', f);
            xcr__put_csv_num(f, x->impact_all);
            fputs("\r\n", f);
        }
    } else {
        char m1[40], m2[40], m3[40], m4[40], m5[40];
        fprintf(f, "exposure of %zu accounts (USD at current prices)\n\n",
                b->n_accts);
        fprintf(f, "%-8s %18s %18s %18s %18s %8s %6s %7s %18s %8s %9s\n",
                "asset", "collateral", "borrowed", "delta long",
                "delta short", "holders", "HHI", "top-N", "depth at -10%",
                "coll/dep", "sell-all");
        for (size_t a = 0; a < e->na; a++) {
            const xcr_asset_exposure *x = &e->a[a];
            char p[32];
            xcr__fmt_money(x->collateral, m1, sizeof m1);
            xcr__fmt_money(x->borrowed, m2, sizeof m2);
            xcr__fmt_money(x->delta_long, m3, sizeof m3);
            xcr__fmt_money(x->delta_short, m4, sizeof m4);
            xcr__fmt_money(x->depth_10pct, m5, sizeof m5);
            xcr__fmt_pct(x->impact_all, p, sizeof p);
            fprintf(f, "%-8s %18s %18s %18s %18s %8zu %6.3f %6.1f%% %18s "
                       "%8.3g %9s\n",
                    b->assets[a].symbol, m1, m2, m3, m4, x->holders,
                    isfinite(x->hhi) ? x->hhi : 0.0,
                    isfinite(x->top_share) ? 100 * x->top_share : 0.0, m5,
                    x->depth_10pct > 0 ? x->collateral / x->depth_10pct : 0.0,
                    p);
        }
        fprintf(f, "\ncollateral HHI across assets: %.4f (top-N = top %zu "
                   "holders)\n",
                isfinite(e->coll_hhi) ? e->coll_hhi : 0.0, e->top);
        fprintf(f, "\nrecursive-leverage loops (leverage >= %g): %zu\n",
                e->loop_leverage, e->nloops);
        size_t shown = e->nloops < 20 ? e->nloops : 20;
        for (size_t k = 0; k < shown; k++) {
            const xcr_loop *l = &e->loops[k].l;
            xcr__fmt_money(l->collateral, m1, sizeof m1);
            xcr__fmt_money(l->debt, m2, sizeof m2);
            fprintf(f, "  %-18.64s %-24s %6s / %-6s coll %16s debt %16s "
                       "leverage %.2f\n",
                    l->account == (size_t)-1 ? (l->entity ? l->entity : "-")
                                             : b->acct_id[l->account],
                    l->family, b->assets[l->collateral_asset].symbol,
                    b->assets[l->debt_asset].symbol, m1, m2, l->leverage);
        }
        if (shown < e->nloops)
            fprintf(f, "  ... %zu more (--format json lists all)\n",
                    e->nloops - shown);
    }
    free(ta);
    free(tu);
    return XCR_OK;
}
