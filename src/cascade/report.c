/* The `xcr cascade` report: spec §5 JSON, a CSV table (one row per round
 * and asset) or an aligned text table. */
#include "cascade.h"

#include <string.h>

static void put_key(FILE *f, const char *k)
{
    fprintf(f, "\"%s\": ", k);
}

static void put_kv(FILE *f, const char *k, double v, bool comma)
{
    put_key(f, k);
    xcr__put_num(f, v);
    if (comma)
        fputs(", ", f);
}

/* {"SYM": v, ...}: every asset, or only the non-zero ones. */
static void put_assets(FILE *f, const xcr_cascade *c, const double *v,
                       bool nonzero_only)
{
    fputc('{', f);
    bool first = true;
    for (size_t a = 0; a < c->na; a++) {
        if (nonzero_only && v[a] == 0)
            continue;
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", c->book->assets[a].symbol);
        xcr__put_num(f, v[a]);
        first = false;
    }
    fputc('}', f);
}

/* The segmentation what-if beside the cascade: "cross" is this run,
 * "isolated" the same shock on the segmented book, "difference" = cross −
 * isolated. */
static void write_segmentation_json(const xcr_cascade *c,
                                    const xcr_cascade *g, FILE *f)
{
    xcr_cascade_summary a, b;
    xcr_cascade_summary_get(c, &a);
    xcr_cascade_summary_get(g, &b);
    const char *side[] = {"cross", "isolated", "difference"};
    fputs("\"segmentation\": {", f);
    for (int k = 0; k < 3; k++) {
        double la = (double)a.liquidated_accounts,
               lb = (double)b.liquidated_accounts;
        fprintf(f, "%s\"%s\": {", k ? ", " : "", side[k]);
        put_kv(f, "liquidated_accounts", k == 0 ? la : k == 1 ? lb : la - lb,
               true);
        put_kv(f, "liquidated_usd",
               k == 0   ? a.liquidated_usd
               : k == 1 ? b.liquidated_usd
                        : a.liquidated_usd - b.liquidated_usd,
               true);
        put_kv(f, "bad_debt",
               k == 0   ? a.bad_debt
               : k == 1 ? b.bad_debt
                        : a.bad_debt - b.bad_debt,
               true);
        put_kv(f, "insurance_drawdown",
               k == 0   ? a.insurance_drawdown
               : k == 1 ? b.insurance_drawdown
                        : a.insurance_drawdown - b.insurance_drawdown,
               true);
        fputs("\"amplification\": {", f);
        bool first = true;
        for (size_t x = 0; x < c->na; x++) {
            if (c->shock[x] == 0)
                continue;
            double va = xcr_cascade_amplification(c, x),
                   vb = xcr_cascade_amplification(g, x);
            fprintf(f, "%s\"%s\": ", first ? "" : ", ",
                    c->book->assets[x].symbol);
            xcr__put_num(f, k == 0 ? va : k == 1 ? vb : va - vb);
            first = false;
        }
        fputs("}}", f);
    }
    fputs("}, ", f);
}

static void write_json(const xcr_cascade *c, const xcr_cascade_report_opts *o,
                       FILE *f)
{
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    fputs("{", f);
    if (o->book_name)
        fprintf(f, "\"book\": \"%s\", ", o->book_name);
    if (o->shock_name)
        fprintf(f, "\"shock\": \"%s\", ", o->shock_name);
    fprintf(f, "\"policy\": \"%s\", \"lending_policy\": \"%s\", ",
            c->margin_pol->name, c->lending_pol->name);
    fprintf(f, "\"mode\": \"%s\", ", c->o.sequential ? "sequential"
                                                      : "simultaneous");
    fprintf(f, "\"rounds\": %zu, \"rounds_simulated\": %zu, "
               "\"converged\": %s, ",
            s.rounds, s.rounds_simulated, s.converged ? "true" : "false");
    put_key(f, "book_prices");
    put_assets(f, c, c->book_price, false);
    fputs(", ", f);
    put_key(f, "shock");
    put_assets(f, c, c->shock, true);
    fputs(", ", f);
    put_key(f, "initial_prices");
    put_assets(f, c, c->init_price, false);
    fputs(", ", f);
    put_key(f, "final_prices");
    put_assets(f, c, c->price, false);
    fputs(", ", f);
    {
        fputs("\"amplification\": {", f);
        bool first = true;
        for (size_t a = 0; a < c->na; a++) {
            if (c->shock[a] == 0)
                continue;
            fprintf(f, "%s\"%s\": ", first ? "" : ", ",
                    c->book->assets[a].symbol);
            xcr__put_num(f, xcr_cascade_amplification(c, a));
            first = false;
        }
        fputs("}, ", f);
    }
    put_kv(f, "bad_debt", s.bad_debt, true);
    put_key(f, "bad_debt_by_asset");
    put_assets(f, c, c->bad_by_asset, true);
    fputs(", ", f);
    put_kv(f, "socialised_loss", s.socialised, false);
    fprintf(f, ", \"liquidated_accounts\": %zu, \"liquidations\": %zu, "
               "\"bankruptcies\": %zu, ",
            s.liquidated_accounts, s.liquidations, s.bankruptcies);
    put_kv(f, "liquidated_usd", s.liquidated_usd, true);
    put_key(f, "sold");
    put_assets(f, c, c->sold_total, true);
    fputs(", \"insurance_fund\": {", f);
    put_kv(f, "start", s.insurance_start, true);
    put_kv(f, "end", s.insurance_end, true);
    put_kv(f, "drawdown", s.insurance_drawdown, true);
    put_kv(f, "penalties", s.penalties, false);
    fputs("}, \"adl\": {", f);
    put_kv(f, "volume", s.adl_volume, true);
    put_kv(f, "loss", s.adl_loss, false);
    fputs("}, ", f);
    put_kv(f, "liquidator_gains", s.liquidator_gains, true);
    put_kv(f, "protocol_fees", s.protocol_fees, true);
    fputs("\"equity\": {", f);
    put_kv(f, "start", s.equity_start, true);
    put_kv(f, "end", s.equity_end, false);
    fputs("}, ", f);
    put_kv(f, "max_conservation_error", s.max_conservation_error, true);
    if (o->segmented)
        write_segmentation_json(c, o->segmented, f);
    fputs("\"trace\": [", f);
    for (size_t i = 0; i < c->nrounds; i++) {
        const xcr_cascade_round *r = &c->rounds[i].pub;
        fprintf(f, "%s\n  {\"round\": %zu, \"prices\": ", i ? "," : "",
                r->round);
        put_assets(f, c, r->prices, false);
        fprintf(f, ", \"liquidations\": %zu, \"sold\": ", r->liquidations);
        put_assets(f, c, r->sold, true);
        fputs(", \"sold_usd\": ", f);
        put_assets(f, c, r->sold_usd, true);
        fprintf(f, ", \"halted\": %zu, \"deferred\": %zu, ", r->halted,
                r->deferred);
        put_kv(f, "insurance_fund", r->insurance_fund, true);
        put_kv(f, "insurance_draw", r->insurance_draw, true);
        put_kv(f, "penalties", r->penalties, true);
        put_kv(f, "adl_volume", r->adl_volume, true);
        put_kv(f, "adl_loss", r->adl_loss, true);
        put_kv(f, "bad_debt", r->bad_debt, true);
        put_kv(f, "bad_debt_total", r->bad_debt_total, true);
        put_kv(f, "socialised_loss", r->socialised, true);
        put_kv(f, "liquidator_gains", r->liquidator_gains, true);
        put_kv(f, "protocol_fees", r->protocol_fees, true);
        put_kv(f, "equity", r->equity, true);
        put_kv(f, "mtm", r->mtm, true);
        put_kv(f, "conservation_error", r->conservation_error, false);
        fputc('}', f);
    }
    fputs("\n]", f);
    if (o->events) {
        fputs(", \"events\": [", f);
        for (size_t i = 0; i < c->nevents; i++) {
            const xcr_cascade_event *e = &c->events[i];
            fprintf(f,
                    "%s\n  {\"round\": %zu, \"account\": \"%s\", "
                    "\"action\": \"%s\", \"policy\": \"%s\", ",
                    i ? "," : "", e->round, c->book->acct_id[e->account],
                    xcr_liq_action_name(e->action), e->policy);
            put_kv(f, "health_before", e->health_before, true);
            put_kv(f, "equity_before", e->equity_before, true);
            put_kv(f, "equity_after", e->equity_after, true);
            put_kv(f, "fraction", e->fraction, true);
            put_kv(f, "volume_usd", e->volume_usd, true);
            put_kv(f, "shortfall", e->shortfall, true);
            put_kv(f, "insurance_draw", e->insurance_draw, true);
            put_kv(f, "adl", e->adl, true);
            put_kv(f, "bad_debt", e->bad_debt, false);
            fputc('}', f);
        }
        fputs("\n]", f);
    }
    fputs("}\n", f);
}

static void write_csv(const xcr_cascade *c, const xcr_cascade_report_opts *o,
                      FILE *f)
{
    if (o->events) {
        fputs("round,account,action,policy,health_before,equity_before,"
              "equity_after,fraction,volume_usd,shortfall,insurance_draw,"
              "adl,bad_debt\n",
              f);
        for (size_t i = 0; i < c->nevents; i++) {
            const xcr_cascade_event *e = &c->events[i];
            fprintf(f, "%zu,%s,%s,%s,", e->round,
                    c->book->acct_id[e->account],
                    xcr_liq_action_name(e->action), e->policy);
            const double v[] = {e->health_before, e->equity_before,
                                e->equity_after,  e->fraction,
                                e->volume_usd,    e->shortfall,
                                e->insurance_draw, e->adl, e->bad_debt};
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                if (k)
                    fputc(',', f);
                xcr__put_csv_num(f, v[k]);
            }
            fputc('\n', f);
        }
        return;
    }
    fputs("round,asset,price,sold,sold_usd,liquidations,insurance_fund,"
          "adl_volume,bad_debt_total,conservation_error\n",
          f);
    for (size_t i = 0; i < c->nrounds; i++) {
        const xcr_cascade_round *r = &c->rounds[i].pub;
        for (size_t a = 0; a < c->na; a++) {
            fprintf(f, "%zu,%s,", r->round, c->book->assets[a].symbol);
            const double v[] = {r->prices[a], r->sold[a], r->sold_usd[a]};
            for (size_t k = 0; k < 3; k++) {
                xcr__put_csv_num(f, v[k]);
                fputc(',', f);
            }
            fprintf(f, "%zu,", r->liquidations);
            xcr__put_csv_num(f, r->insurance_fund);
            fputc(',', f);
            xcr__put_csv_num(f, r->adl_volume);
            fputc(',', f);
            xcr__put_csv_num(f, r->bad_debt_total);
            fputc(',', f);
            xcr__put_csv_num(f, r->conservation_error);
            fputc('\n', f);
        }
    }
    /* the final prices as round "final" */
    for (size_t a = 0; a < c->na; a++) {
        fprintf(f, "final,%s,", c->book->assets[a].symbol);
        xcr__put_csv_num(f, c->price[a]);
        fputs(",", f);
        xcr__put_csv_num(f, c->sold_total[a]);
        fputs(",,,", f);
        xcr__put_csv_num(f, c->fund);
        fputs(",", f);
        xcr__put_csv_num(f, c->adl_vol);
        fputs(",", f);
        xcr__put_csv_num(f, c->bad);
        fputs(",\n", f);
    }
}

static const char *money(double v, char *buf, size_t n)
{
    xcr__fmt_money(v, buf, n);
    return buf;
}

static void write_table(const xcr_cascade *c,
                        const xcr_cascade_report_opts *o, FILE *f)
{
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    char b1[64], b2[64], b3[64], b4[64], b5[64];
    fprintf(f, "liquidation cascade%s%s%s%s\n",
            o->book_name ? " on " : "", o->book_name ? o->book_name : "",
            o->shock_name ? ", shock " : "",
            o->shock_name ? o->shock_name : "");
    fprintf(f, "policy %s (lending accounts: %s), %s rounds\n\n",
            c->margin_pol->name, c->lending_pol->name,
            c->o.sequential ? "sequential" : "simultaneous");
    fprintf(f, "%-6s %8s %18s %18s %16s %16s %8s\n", "round", "liquid.",
            "sold (USD)", "insurance fund", "ADL (USD)", "bad debt", "halted");
    for (size_t i = 0; i < c->nrounds; i++) {
        const xcr_cascade_round *r = &c->rounds[i].pub;
        double sold = 0;
        for (size_t a = 0; a < c->na; a++)
            sold += r->sold_usd[a] > 0 ? r->sold_usd[a] : -r->sold_usd[a];
        fprintf(f, "%-6zu %8zu %18s %18s %16s %16s %8zu\n", r->round,
                r->liquidations, money(sold, b1, sizeof b1),
                money(r->insurance_fund, b2, sizeof b2),
                money(r->adl_volume, b3, sizeof b3),
                money(r->bad_debt_total, b4, sizeof b4), r->halted);
    }
    fprintf(f, "\n%-10s %16s %16s %16s %10s %10s %16s\n", "asset",
            "book price", "after shock", "final", "shock", "amplif.",
            "bad debt");
    for (size_t a = 0; a < c->na; a++) {
        double amp = xcr_cascade_amplification(c, a);
        char sh[32], am[32];
        snprintf(sh, sizeof sh, "%+.2f%%", 100 * c->shock[a]);
        if (isnan(amp))
            snprintf(am, sizeof am, "-");
        else
            snprintf(am, sizeof am, "%.4f", amp);
        fprintf(f, "%-10s %16.6g %16.6g %16.6g %10s %10s %16s\n",
                c->book->assets[a].symbol, c->book_price[a],
                c->init_price[a], c->price[a], sh, am,
                money(c->bad_by_asset[a], b5, sizeof b5));
    }
    fprintf(f,
            "\nrounds with liquidations %zu (simulated %zu, %s)\n"
            "liquidated accounts %zu (events %zu, bankrupt %zu), volume "
            "%s USD\n",
            s.rounds, s.rounds_simulated,
            s.converged ? "fixed point" : "stopped at max rounds",
            s.liquidated_accounts, s.liquidations, s.bankruptcies,
            money(s.liquidated_usd, b1, sizeof b1));
    fprintf(f, "insurance fund %s → %s (drawn %s, penalties in %s)\n",
            money(s.insurance_start, b1, sizeof b1),
            money(s.insurance_end, b2, sizeof b2),
            money(s.insurance_drawdown, b3, sizeof b3),
            money(s.penalties, b4, sizeof b4));
    fprintf(f, "ADL %s USD closed, %s USD taken; bad debt %s (socialised "
               "%s)\n",
            money(s.adl_volume, b1, sizeof b1), money(s.adl_loss, b2, sizeof b2),
            money(s.bad_debt, b3, sizeof b3), money(s.socialised, b4, sizeof b4));
    fprintf(f, "liquidator gains %s, protocol fees %s; conservation error "
               "%.2e\n",
            money(s.liquidator_gains, b1, sizeof b1),
            money(s.protocol_fees, b2, sizeof b2), s.max_conservation_error);
    if (o->segmented) {
        xcr_cascade_summary g;
        xcr_cascade_summary_get(o->segmented, &g);
        fprintf(f,
                "\nsegmentation what-if (cross accounts split into isolated "
                "sub-accounts)\n%-22s %16s %16s %16s\n",
                "", "cross", "isolated", "difference");
        fprintf(f, "%-22s %16zu %16zu %16.0f\n", "liquidated accounts",
                s.liquidated_accounts, g.liquidated_accounts,
                (double)s.liquidated_accounts - (double)g.liquidated_accounts);
        fprintf(f, "%-22s %16s %16s %16s\n", "liquidated USD",
                money(s.liquidated_usd, b1, sizeof b1),
                money(g.liquidated_usd, b2, sizeof b2),
                money(s.liquidated_usd - g.liquidated_usd, b3, sizeof b3));
        fprintf(f, "%-22s %16s %16s %16s\n", "bad debt",
                money(s.bad_debt, b1, sizeof b1),
                money(g.bad_debt, b2, sizeof b2),
                money(s.bad_debt - g.bad_debt, b3, sizeof b3));
        for (size_t a = 0; a < c->na; a++) {
            if (c->shock[a] == 0)
                continue;
            double va = xcr_cascade_amplification(c, a),
                   vb = xcr_cascade_amplification(o->segmented, a);
            char lab[64];
            snprintf(lab, sizeof lab, "amplification %s",
                     c->book->assets[a].symbol);
            fprintf(f, "%-22s %16.4f %16.4f %16.4f\n", lab, va, vb, va - vb);
        }
    }
    if (o->events && c->nevents) {
        fprintf(f, "\n%-6s %-24s %-9s %-12s %10s %16s %16s %14s\n", "round",
                "account", "action", "policy", "health", "equity before",
                "equity after", "shortfall");
        for (size_t i = 0; i < c->nevents; i++) {
            const xcr_cascade_event *e = &c->events[i];
            fprintf(f, "%-6zu %-24s %-9s %-12s %10.4f %16s %16s %14s\n",
                    e->round, c->book->acct_id[e->account],
                    xcr_liq_action_name(e->action), e->policy,
                    e->health_before, money(e->equity_before, b1, sizeof b1),
                    money(e->equity_after, b2, sizeof b2),
                    money(e->shortfall, b3, sizeof b3));
        }
    }
}

xcr_status xcr_cascade_report(const xcr_cascade *c,
                              const xcr_cascade_report_opts *o, FILE *out,
                              xcr_error *err)
{
    if (!c || !out)
        return xcr__fail(err, XCR_EINVAL, "cascade and output are required");
    xcr_cascade_report_opts def = {XCR_OUT_TABLE, NULL, NULL, 0, NULL};
    if (!o)
        o = &def;
    switch (o->format) {
    case XCR_OUT_JSON:
        write_json(c, o, out);
        break;
    case XCR_OUT_CSV:
        write_csv(c, o, out);
        break;
    default:
        write_table(c, o, out);
        break;
    }
    if (ferror(out))
        return xcr__fail(err, XCR_EIO, "write error");
    return XCR_OK;
}
