/* `xcr explain`: a plain-language breakdown of one account — each asset's
 * value and haircut slice by slice, each position's notional, bracket and
 * margin, what drives the requirement, the liquidation prices and which
 * asset or position breaks first. */
#include "../margin/margin.h"
#include "../portfolio/pm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct tb {
    char *p;
    size_t len, cap;
    bool oom;
} tb;

static void put(tb *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(tb *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t nc = t->cap ? t->cap : 4096;
        while (nc < t->len + (size_t)n + 1)
            nc *= 2;
        char *np = realloc(t->p, nc);
        if (!np) {
            t->oom = true;
            va_end(ap2);
            return;
        }
        t->p = np;
        t->cap = nc;
    }
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap2);
    va_end(ap2);
    t->len += (size_t)n;
}

/* "12,345.67" */
static const char *money(double v, char *buf, size_t n)
{
    if (!isfinite(v))
        snprintf(buf, n, "%s", isnan(v) ? "n/a" : v > 0 ? "∞" : "-∞");
    else
        xcr__fmt_money(v, buf, n);
    return buf;
}

static void explain_collateral(tb *t, const xcr_book *b, const xcr_market *m,
                               const xcr__ws *ws, xcr_mode mode, int emode)
{
    char b1[48], b2[48], b3[48];
    put(t, "\nCollateral (net amount per asset = balance + PnL and option "
           "values settled in it):\n");
    if (ws->n_kept == 0)
        put(t, "  (none)\n");
    const xcr_emode_def *em = emode ? xcr__book_emode(b, emode) : NULL;
    for (size_t k = 0; k < ws->n_kept; k++) {
        const xcr__asset *a = &b->assets[ws->kept_asset[k]];
        double x = ws->kept_net[k], px = m->price[ws->kept_asset[k]];
        double v = x * px;
        put(t, "  %-10s %.10g × %s = %s USD\n", a->symbol, x,
            money(px, b1, sizeof b1), money(v, b2, sizeof b2));
        if (mode == XCR_MODE_ISOLATED) {
            put(t, "             counts toward equity only (isolated "
                   "positions are margined by their own isolated margin)\n");
        } else if (mode == XCR_MODE_LENDING) {
            bool in_em = em && a->emode == em->id;
            double lt = in_em ? em->liquidation_threshold : a->lt;
            double ltv = in_em ? em->ltv : a->ltv;
            if (v > 0)
                put(t,
                    "             collateral: × liquidation threshold %.4g = "
                    "%s toward health, × LTV %.4g = %s borrowing power%s\n",
                    lt, money(v * lt, b1, sizeof b1), ltv,
                    money(v * ltv, b2, sizeof b2),
                    in_em ? " (e-mode category)" : "");
            else if (v < 0)
                put(t, "             debt: %s USD\n",
                    money(-v, b1, sizeof b1));
        } else if (v > 0) {
            const xcr__tier *tr = b->tiers + a->tier_off;
            for (uint32_t j = 0; j < a->ntiers && tr[j].lo < v; j++) {
                double hi = v < tr[j].hi ? v : tr[j].hi;
                double slice = hi - tr[j].lo;
                char hs[48];
                if (isinf(tr[j].hi))
                    snprintf(hs, sizeof hs, "∞");
                else
                    money(tr[j].hi, hs, sizeof hs);
                put(t, "             slice %s – %s: %s × %.4g = %s\n",
                    money(tr[j].lo, b1, sizeof b1), hs,
                    money(slice, b2, sizeof b2), tr[j].weight,
                    money(slice * tr[j].weight, b3, sizeof b3));
            }
            double last = tr[a->ntiers - 1].hi;
            if (v > last)
                put(t, "             above %s: counts 0\n",
                    money(last, b1, sizeof b1));
            put(t, "             collateral value %s (haircut %s)\n",
                money(xcr__tiered(b, a, v), b1, sizeof b1),
                money(v - xcr__tiered(b, a, v), b2, sizeof b2));
        } else if (v < 0) {
            put(t,
                "             borrow: counts %s (× liability weight %.4g); "
                "borrow MM %s, IM %s\n",
                money(v * a->liability_weight, b1, sizeof b1),
                a->liability_weight, money(-v * a->borrow_mmr, b2, sizeof b2),
                money(-v * a->borrow_imr, b3, sizeof b3));
        }
    }
}

static void explain_positions(tb *t, const xcr_book *b, const xcr_market *m,
                              size_t acct, const xcr_position_result *pr,
                              double total_mm, const xcr_pm_detail *d)
{
    char b1[48], b2[48], b3[48], b4[48], b5[48];
    uint32_t p0 = b->pos_off[acct], np = b->pos_off[acct + 1] - p0;
    put(t, "\nPositions:\n");
    if (np == 0)
        put(t, "  (none)\n");
    for (uint32_t k = 0; k < np; k++) {
        uint32_t p = p0 + k;
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        const xcr_position_result *r = &pr[k];
        put(t, "  %s (%s%s on %s, settled in %s): size %.10g", in->id,
            in->inverse ? "inverse " : "", xcr_inst_type_name(in->type),
            b->assets[in->und].symbol, b->assets[in->settle].symbol,
            b->pos_size[p]);
        if (in->type == XCR_OPTION)
            put(t, ", %s %s, iv %.4g\n", in->is_call ? "call" : "put",
                money(in->strike, b1, sizeof b1), m->iv[b->pos_inst[p]]);
        else
            put(t, ", entry %s, mark %s\n",
                money(b->pos_entry[p], b1, sizeof b1),
                money(m->mark[b->pos_inst[p]], b2, sizeof b2));
        put(t, "      notional %s USD, %s %s USD\n",
            money(r->notional, b1, sizeof b1),
            in->type == XCR_OPTION ? "value" : "unrealised PnL",
            money(r->upnl, b2, sizeof b2));
        if (d && d->model == XCR_PM_RISK_MATRIX) {
            const xcr_pm_position *q = &d->positions[k];
            double lo = 0;
            for (size_t s = 0; s < d->n_risk; s++)
                lo = fmin(lo, q->risk_vector[s]);
            put(t,
                "      risk matrix: worst standard scenario P&L %.6g %s; "
                "roll shock %.6g %s\n",
                lo + 0.0, b->assets[q->currency].symbol, q->roll_shock,
                b->assets[q->currency].symbol);
        } else if (d) {
            const xcr_pm_position *q = &d->positions[k];
            double lo = 0;
            for (size_t s = 0; s < 16; s++)
                lo = fmin(lo, q->span_array[s]);
            put(t, "      SPAN: worst scenario P&L %s USD; composite delta "
                   "%.6g\n",
                money(lo + 0.0, b1, sizeof b1), q->composite_delta);
        } else if (in->type == XCR_OPTION && b->pos_size[p] > 0) {
            put(t, "      long option: no margin required\n");
        } else {
            const xcr__mtier *mt = &b->mtiers[in->mt_off + (uint32_t)r->bracket];
            char hs[48];
            if (isinf(mt->hi))
                snprintf(hs, sizeof hs, "∞");
            else
                money(mt->hi, hs, sizeof hs);
            put(t,
                "      bracket %d (%s – %s): MM = %s × %.4g%% − %s = %s; IM = "
                "%s",
                r->bracket + 1, money(mt->lo, b1, sizeof b1), hs,
                money(r->notional, b2, sizeof b2), 100 * mt->mmr,
                money(mt->cum_mm, b3, sizeof b3),
                money(r->maintenance_margin, b4, sizeof b4),
                money(r->initial_margin, b5, sizeof b5));
            if (total_mm > 0)
                put(t, " (%.1f%% of the account's MM)",
                    100 * r->maintenance_margin / total_mm);
            put(t, "\n");
        }
        if (b->acct_mode[acct] == XCR_MODE_ISOLATED)
            put(t, "      isolated margin %s + PnL = %s → %s\n",
                money(b->pos_iso[p], b1, sizeof b1),
                money(b->pos_iso[p] + r->upnl, b2, sizeof b2),
                xcr_acct_status_name(r->status));
    }
}

static void explain_liquidation(tb *t, const xcr_book *b, const xcr_market *m,
                                size_t acct, xcr__ws *ws)
{
    char b1[48], b2[48];
    size_t *exp = malloc((b->n_assets + 1) * sizeof *exp);
    if (!exp) {
        t->oom = true;
        return;
    }
    size_t n = xcr_account_exposed_assets(b, acct, exp, b->n_assets);
    put(t, "\nLiquidation prices (each asset alone, everything else fixed; "
           "the whole account is re-evaluated):\n");
    if (n == 0)
        put(t, "  no exposure to non-stable assets\n");
    double nearest = INFINITY;
    const char *nearest_sym = NULL, *nearest_dir = NULL;
    for (size_t j = 0; j < n; j++) {
        xcr_liq_price lp;
        xcr__liq_price_ws(m, acct, exp[j], ws, &lp);
        double px = m->price[exp[j]];
        const char *sym = b->assets[exp[j]].symbol;
        put(t, "  %-10s now %s: ", sym, money(px, b1, sizeof b1));
        if (isnan(lp.down))
            put(t, "no liquidation below");
        else
            put(t, "down at %s (%+.2f%%)", money(lp.down, b2, sizeof b2),
                100 * (lp.down / px - 1));
        if (isnan(lp.up))
            put(t, "; none above (up to 10×)\n");
        else
            put(t, "; up at %s (%+.2f%%)\n", money(lp.up, b2, sizeof b2),
                100 * (lp.up / px - 1));
        double dd = isnan(lp.down) ? INFINITY : 1 - lp.down / px;
        double du = isnan(lp.up) ? INFINITY : lp.up / px - 1;
        if (dd < nearest) {
            nearest = dd;
            nearest_sym = sym;
            nearest_dir = "a fall";
        }
        if (du < nearest) {
            nearest = du;
            nearest_sym = sym;
            nearest_dir = "a rise";
        }
    }
    if (n) {
        double sd, su;
        xcr__liq_shock_ws(m, acct, ws, &sd, &su);
        put(t, "  all non-stable assets together: ");
        if (isnan(sd))
            put(t, "no uniform fall down to -99%% liquidates");
        else
            put(t, "a uniform move of %+.2f%% liquidates", 100 * sd);
        if (isnan(su))
            put(t, "; no uniform rise up to +900%% does\n");
        else
            put(t, "; so does %+.2f%%\n", 100 * su);
    }
    if (nearest_sym)
        put(t, "\nWhat breaks first: %s of %.2f%% in %s.\n", nearest_dir,
            100 * nearest, nearest_sym);
    free(exp);
}

static const char *const vol_word[3] = {"vol up", "vol unchanged",
                                        "vol down"};

static void explain_portfolio(tb *t, const xcr_book *b, size_t acct,
                              const xcr_pm_detail *d)
{
    char b1[48], b2[48];
    const struct xcr__pm_book *pm = b->pm;
    if (d->model == XCR_PM_SPAN) {
        put(t, "\nPortfolio margin — SPAN risk arrays (CME; docs/portfolio.md): "
               "16 scenarios per underlying (price ±1/3, ±2/3, ±1 price scan "
               "range × vol ±1 scan range, extremes covered at a fraction); "
               "requirement = max(scanning risk + intra-commodity charge − "
               "inter-commodity credit, short option minimum).\n");
        if (d->n_commodities == 0)
            put(t, "  (no positions)\n");
        for (size_t k = 0; k < d->n_commodities; k++) {
            const xcr_span_commodity *c = &d->commodities[k];
            const xcr__pm_und *u = &pm->und[c->underlying];
            double pmul[16], vmul[16];
            xcr_span_scenarios(u->extreme_mult, u->extreme_cover, pmul, vmul,
                               NULL);
            put(t, "  %s (PSR %.4g%%, VSR %.4g): scanning risk %s USD",
                b->assets[c->underlying].symbol, 100 * u->psr, u->vsr,
                money(c->scanning_risk + 0.0, b1, sizeof b1));
            if (c->worst_scenario > 0) {
                int w = c->worst_scenario - 1;
                put(t, " (scenario %d: price %+.4g%%, %s)", w + 1,
                    100 * pmul[w] * u->psr,
                    vmul[w] > 0   ? "vol up"
                    : vmul[w] < 0 ? "vol down"
                                  : "vol unchanged");
            }
            char b3[48], b4[48];
            put(t, "; intra-commodity charge %s; inter-commodity credit %s; "
                   "short option minimum %s; composite delta %.6g → "
                   "requirement %s USD\n",
                money(c->intra_spread_charge, b1, sizeof b1),
                money(c->inter_spread_credit, b2, sizeof b2),
                money(c->short_option_minimum, b3, sizeof b3),
                c->composite_delta, money(c->risk + 0.0, b4, sizeof b4));
        }
        put(t, "  Total: maintenance margin %s USD; initial %s USD.\n",
            money(d->maintenance_margin_usd, b1, sizeof b1),
            money(d->initial_margin_usd, b2, sizeof b2));
        return;
    }
    put(t, "\nPortfolio margin — risk matrix (Deribit's model; "
           "docs/portfolio.md): each underlying moved ±R in %d steps each "
           "side × vol up/unchanged/down, plus %zu extended moves (vol up, "
           "scaled and dampened); gains × pnl_offset; MM = %.4g × (worst "
           "case + roll shock + delta shock); IM adds open-order/extra "
           "terms.\n",
        d->buckets_count, d->n_extended, d->mm_factor);
    if (d->n_currencies == 0)
        put(t, "  (no positions)\n");
    for (size_t k = 0; k < d->n_currencies; k++) {
        const xcr_pm_currency *c = &d->currencies[k];
        const char *sym = b->assets[c->asset].symbol;
        put(t, "  %s (at %s USD): worst case %.6g %s; roll shock %.6g; delta "
               "shock %.6g; risk-matrix margin %.6g; extra IM %.6g\n",
            sym, money(c->price, b1, sizeof b1), c->worst_case + 0.0, sym,
            c->roll_shock, c->delta_shock, c->risk_matrix_margin + 0.0,
            c->extra_im);
        put(t, "      IM %.6g %s = %s USD; MM %.6g %s = %s USD\n",
            c->initial_margin + 0.0, sym,
            money(c->initial_margin * c->price, b1, sizeof b1),
            c->maintenance_margin + 0.0, sym,
            money(c->maintenance_margin * c->price, b2, sizeof b2));
        for (size_t j = 0; j < c->n_pairs; j++) {
            const xcr_pm_pair *p = &d->pairs[c->pair_first + j];
            put(t, "      %s positions (R = ±%.4g%%): worst %.6g %s at a "
                   "%+.2f%% move, %s (%s table); net delta %.6g %s\n",
                b->assets[p->underlying].symbol, 100 * p->price_range,
                p->worst_case + 0.0, sym, 100 * p->worst_move,
                p->worst_extended ? "vol up" : vol_word[p->worst_index % 3],
                p->worst_extended ? "extended" : "standard", p->delta,
                b->assets[p->underlying].symbol);
            /* what loses in that scenario */
            if (p->worst_case > 0 && !p->worst_extended) {
                uint32_t p0 = b->pos_off[acct];
                for (size_t q = 0; q < d->n_positions; q++) {
                    const xcr__inst *in = &b->insts[b->pos_inst[p0 + q]];
                    if (in->settle != p->currency ||
                        in->und != p->underlying)
                        continue;
                    put(t, "        %s: %+.6g %s in that scenario\n", in->id,
                        d->positions[q].risk_vector[p->worst_index] + 0.0,
                        sym);
                }
            }
        }
    }
    if (d->cross_currency_blend)
        put(t, "  Cross-currency blend (decorrelation risk %.4g): offset %s "
               "USD.\n",
            d->decorrelation_risk,
            money(d->cross_currency_offset_usd + 0.0, b1, sizeof b1));
    put(t, "  Total: maintenance margin %s USD; initial %s USD (borrow "
           "margins, if any, come on top).\n",
        money(d->maintenance_margin_usd, b1, sizeof b1),
        money(d->initial_margin_usd, b2, sizeof b2));
}

static void explain_greeks(tb *t, const xcr_book *b, const xcr_market *m,
                           size_t acct)
{
    char b1[48], b2[48], b3[48];
    xcr_underlying_greeks *g = malloc((b->n_assets + 1) * sizeof *g);
    xcr_ladder_point lad[XCR_LADDER_DEFAULT_COUNT];
    if (!g) {
        t->oom = true;
        return;
    }
    size_t n = xcr__account_greeks(m, NULL, acct, g, b->n_assets);
    if (n > b->n_assets)
        n = b->n_assets;
    if (n) {
        put(t, "\nGreeks (sensitivities of equity; balances count; coin = "
               "units of the asset):\n");
        for (size_t k = 0; k < n; k++) {
            const xcr_underlying_greeks *x = &g[k];
            const char *sym = b->assets[x->asset].symbol;
            put(t, "  %-10s delta %.6g %s (%s USD); gamma %.6g %s per +1%% "
                   "(%s USD)\n",
                sym, x->delta + 0.0, sym, money(x->delta_usd, b1, sizeof b1),
                x->gamma + 0.0, sym, money(x->gamma_usd, b2, sizeof b2));
            if (x->vega_usd != 0 || x->theta_usd != 0)
            {
                char b4[48];
                put(t, "             vega %s USD per vol point (%.6g %s); "
                       "theta %s USD/day; vanna %s USD of delta and volga "
                       "%s USD of vega per vol point\n",
                    money(x->vega_usd, b1, sizeof b1), x->vega, sym,
                    money(x->theta_usd, b2, sizeof b2),
                    money(x->vanna_usd, b3, sizeof b3),
                    money(x->volga_usd, b4, sizeof b4));
            }
        }
    }
    xcr_error e = {0};
    if (n && xcr_risk_ladder(m, acct, xcr_ladder_default_moves(),
                             XCR_LADDER_DEFAULT_COUNT, lad, &e) == XCR_OK) {
        put(t, "\nSecond-order risk (every non-stable asset moved together; "
               "gamma changes delta and the requirement):\n");
        put(t, "  %7s %16s %16s %16s %16s  %s\n", "move", "delta USD",
            "collateral", "maint. margin", "buffer", "status");
        for (size_t k = 0; k < XCR_LADDER_DEFAULT_COUNT; k++) {
            char c1[48], c2[48], c3[48], c4[48];
            put(t, "  %+6.1f%% %16s %16s %16s %16s  %s\n",
                100 * lad[k].move, money(lad[k].delta_usd, c1, sizeof c1),
                money(lad[k].collateral, c2, sizeof c2),
                money(lad[k].maintenance_margin, c3, sizeof c3),
                money(lad[k].buffer, c4, sizeof c4),
                xcr_acct_status_name(lad[k].status));
        }
    }
    free(g);
}

xcr_status xcr_explain(const xcr_market *m, size_t acct, char **text,
                       xcr_error *err)
{
    if (!m || !text)
        return xcr__fail(err, XCR_EINVAL, "market and text are required");
    const xcr_book *b = m->book;
    if (acct >= b->n_accts)
        return xcr__fail(err, XCR_ENOTFOUND, "account index %zu out of range",
                         acct);
    xcr__ws ws;
    if (xcr__ws_init(&ws, b) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    size_t np = b->pos_off[acct + 1] - b->pos_off[acct];
    xcr_position_result *pr = calloc(np ? np : 1, sizeof *pr);
    if (!pr) {
        xcr__ws_free(&ws, b);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    xcr_account_result r;
    ws.keep_net = true;
    xcr__eval_account(m, NULL, acct, &ws, &r, pr, NULL);
    ws.keep_net = false;

    tb t = {0};
    char b1[48], b2[48], b3[48], b4[48];
    xcr_mode mode = (xcr_mode)b->acct_mode[acct];
    put(&t, "Account %s — %s mode%s%s\n", b->acct_id[acct], xcr_mode_name(mode),
        b->acct_entity[acct] ? ", held at " : "",
        b->acct_entity[acct] ? b->acct_entity[acct] : "");
    xcr_pm_detail *d = NULL;
    if (mode == XCR_MODE_PORTFOLIO && b->pm &&
        xcr__pm_detail(m, NULL, acct, &d) != XCR_OK) {
        free(pr);
        xcr__ws_free(&ws, b);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    if (d)
        put(&t, "(requirement from the %s portfolio model; collateral and "
                "borrows as in cross mode)\n",
            d->model == XCR_PM_SPAN ? "SPAN" : "risk-matrix");
    put(&t, "Status: %s. ", xcr_acct_status_name(r.status));
    if (mode == XCR_MODE_LENDING) {
        if (isfinite(r.health_factor))
            put(&t, "Health factor %.4f (liquidatable below 1); borrow "
                    "capacity %s USD.\n",
                r.health_factor, money(r.borrow_capacity, b1, sizeof b1));
        else
            put(&t, "No debt.\n");
    } else if (isfinite(r.health)) {
        put(&t, "Health %.4f = collateral / maintenance margin "
                "(liquidatable below 1).\n",
            r.health);
    } else {
        put(&t, "No maintenance margin required.\n");
    }
    put(&t, "Equity %s USD; collateral %s; maintenance margin %s; initial "
            "margin %s.\n",
        money(r.equity, b1, sizeof b1), money(r.collateral, b2, sizeof b2),
        money(r.maintenance_margin, b3, sizeof b3),
        money(r.initial_margin, b4, sizeof b4));
    if (mode != XCR_MODE_LENDING)
        put(&t, "Buffer before liquidation: %s USD.\n",
            money(r.collateral - r.maintenance_margin, b1, sizeof b1));

    explain_collateral(&t, b, m, &ws, mode, b->acct_emode[acct]);
    explain_positions(&t, b, m, acct, pr, r.maintenance_margin, d);
    if (d)
        explain_portfolio(&t, b, acct, d);
    explain_greeks(&t, b, m, acct);

    /* the biggest driver of the requirement */
    if (mode != XCR_MODE_LENDING && r.maintenance_margin > 0 && np) {
        size_t top = 0;
        for (size_t k = 1; k < np; k++)
            if (pr[k].maintenance_margin > pr[top].maintenance_margin)
                top = k;
        if (pr[top].maintenance_margin > 0)
            put(&t, "\nLargest requirement: %s with %.1f%% of the "
                    "maintenance margin.\n",
                b->insts[b->pos_inst[b->pos_off[acct] + top]].id,
                100 * pr[top].maintenance_margin / r.maintenance_margin);
    }
    explain_liquidation(&t, b, m, acct, &ws);
    xcr_pm_detail_free(d);
    free(pr);
    xcr__ws_free(&ws, b);
    if (t.oom) {
        free(t.p);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    *text = t.p;
    return XCR_OK;
}
