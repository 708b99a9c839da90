/* The `xcr contagion` report: spec §4 JSON (plus the conventions used, the
 * default order, fire sales, re-pledged collateral, accounts at failed
 * venues, the firewall what-if and the rankings), one CSV row per entity, or
 * a text table. */
#include "../book/book.h"
#include "contagion.h"

#include <stdlib.h>
#include <string.h>

static const char *rule_name(xcr_default_rule r)
{
    return r == XCR_RULE_LE ? "le" : "lt";
}

const char *xcr_net_model_name(xcr_net_model m)
{
    switch (m) {
    case XCR_NET_EN:
        return "en";
    case XCR_NET_RV:
        return "rv";
    case XCR_NET_FURFINE:
        return "furfine";
    case XCR_NET_GK:
        return "gk";
    case XCR_NET_DEBTRANK:
        return "debtrank";
    }
    return "?";
}

const char *xcr_dr_variant_name(xcr_dr_variant v)
{
    switch (v) {
    case XCR_DR_BATTISTON:
        return "battiston";
    case XCR_DR_SINGLE_HIT:
        return "single-hit";
    case XCR_DR_DIFFERENTIAL:
        return "differential";
    }
    return "?";
}

/* Sort keys: descending value, then ascending index (stable output). */
typedef struct key {
    double v;
    size_t i;
} key;

static int cmp_key(const void *a, const void *b)
{
    const key *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

static void kv(FILE *f, const char *k, double v)
{
    fprintf(f, ", \"%s\": ", k);
    xcr__put_num(f, v);
}

static bool newly_liquidatable(const xcr_venue_account *a)
{
    return a->before.status < XCR_LIQUIDATABLE &&
           a->after.status >= XCR_LIQUIDATABLE;
}

static void json_fire_sales(const xcr_contagion_report *r, FILE *f)
{
    const xcr_network *net = r->net;
    const xcr_book *b = net->book;
    fprintf(f, ",\n \"fire_sales\": {\"leverage_target\": ");
    xcr__put_num(f, r->opts->leverage_target);
    fprintf(f, ", \"rounds\": %zu", r->sum->fire_rounds);
    kv(f, "sold_usd", r->sum->fire_sold_usd);
    fputs(", \"assets\": [", f);
    for (size_t a = 0; a < net->na; a++) {
        long k = net->asset_book[a];
        double p0 = r->start_prices ? r->start_prices[k] : b->assets[k].price;
        double p1 = r->extra && r->extra->final_prices
                        ? r->extra->final_prices[k]
                        : p0;
        fprintf(f, "%s{\"symbol\": \"%s\"", a ? ", " : "", net->asym[a]);
        kv(f, "book_price", b->assets[k].price);
        kv(f, "start_price", p0);
        kv(f, "final_price", p1);
        kv(f, "move", p1 / p0 - 1);
        kv(f, "sold_usd",
           r->extra && r->extra->sold_usd ? r->extra->sold_usd[k] : 0);
        fputc('}', f);
    }
    fputs("]}", f);
}

static void json_accounts(const xcr_contagion_report *r, FILE *f)
{
    const xcr_book *b = r->net->book;
    size_t affected = 0, newly = 0;
    double lost = 0;
    for (size_t i = 0; i < b->n_accts; i++) {
        const xcr_venue_account *a = &r->accounts[i];
        affected += a->recovery < 1;
        newly += newly_liquidatable(a);
        lost += a->collateral_lost;
    }
    fprintf(f, ",\n \"accounts\": {\"affected\": %zu, \"newly_liquidatable\": "
               "%zu",
            affected, newly);
    kv(f, "collateral_lost", lost);
    fputs(", \"list\": [", f);
    size_t w = 0;
    for (size_t i = 0; i < b->n_accts; i++) {
        const xcr_venue_account *a = &r->accounts[i];
        if (!(a->recovery < 1) && a->before.status == a->after.status)
            continue;
        fprintf(f, "%s\n  {\"id\": \"%s\", \"entity\": ", w++ ? "," : "",
                b->acct_id[i]);
        if (a->entity >= 0)
            fprintf(f, "\"%s\"", r->net->id[a->entity]);
        else
            fputs("null", f);
        kv(f, "recovery", a->recovery);
        kv(f, "collateral_lost", a->collateral_lost);
        kv(f, "equity_before", a->before.equity);
        kv(f, "equity_after", a->after.equity);
        fprintf(f, ", \"status_before\": \"%s\", \"status_after\": \"%s\"}",
                xcr_acct_status_name(a->before.status),
                xcr_acct_status_name(a->after.status));
    }
    fputs("]}", f);
}

static xcr_status json_ranks(const xcr_contagion_report *r, FILE *f)
{
    size_t n = r->net->n;
    key *k = malloc((n + 1) * sizeof *k);
    if (!k)
        return XCR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        k[i] = (key){r->ranks[i].loss_caused, i};
    qsort(k, n, sizeof *k, cmp_key);
    fputs(",\n \"ranking\": {\"systemic_importance\": [", f);
    for (size_t j = 0; j < n; j++) {
        const xcr_entity_rank *e = &r->ranks[k[j].i];
        fprintf(f, "%s\n  {\"id\": \"%s\"", j ? "," : "", r->net->id[k[j].i]);
        kv(f, "loss_caused", e->loss_caused);
        fprintf(f, ", \"defaults_caused\": %zu}", e->defaults_caused);
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (key){r->ranks[i].vulnerability, i};
    qsort(k, n, sizeof *k, cmp_key);
    fputs("],\n \"vulnerability\": [", f);
    for (size_t j = 0; j < n; j++) {
        const xcr_entity_rank *e = &r->ranks[k[j].i];
        fprintf(f, "%s\n  {\"id\": \"%s\"", j ? "," : "", r->net->id[k[j].i]);
        kv(f, "mean_stress", e->vulnerability);
        fprintf(f, ", \"times_defaulted\": %zu}", e->times_defaulted);
    }
    fputs("]}", f);
    free(k);
    return XCR_OK;
}

static xcr_status write_json(const xcr_contagion_report *r, FILE *f)
{
    const xcr_network *net = r->net;
    const xcr_contagion_opts *o = r->opts;
    const xcr_contagion_summary *s = r->sum;
    fprintf(f, "{\"model\": \"%s\"", xcr_net_model_name(o->model));
    if (o->model == XCR_NET_DEBTRANK)
        fprintf(f, ", \"variant\": \"%s\"", xcr_dr_variant_name(o->variant));
    else
        fprintf(f, ", \"default_rule\": \"%s\"",
                rule_name(xcr__net_rule(o)));
    if (o->model == XCR_NET_RV) {
        kv(f, "alpha", o->alpha);
        kv(f, "beta", o->beta);
    }
    if (o->model == XCR_NET_FURFINE)
        kv(f, "recovery", o->recovery);
    if (o->model == XCR_NET_GK)
        kv(f, "fire_sale_exponent", o->gk_fire_sale);
    fputs(",\n \"entities\": [", f);
    for (size_t i = 0; i < net->n; i++) {
        const xcr_entity_result *e = &r->res[i];
        fprintf(f, "%s\n  {\"id\": \"%s\"", i ? "," : "", net->id[i]);
        kv(f, "payment", e->payment);
        kv(f, "equity", e->equity);
        fprintf(f, ", \"defaulted\": %s", e->defaulted ? "true" : "false");
        kv(f, "stress", e->stress);
        kv(f, "loss", e->loss);
        kv(f, "recovery", e->recovery);
        kv(f, "equity_before", e->equity_before);
        if (e->round >= 0)
            fprintf(f, ", \"round\": %d}", e->round);
        else
            fputs(", \"round\": null}", f);
    }
    fprintf(f, "],\n \"defaults\": %zu, \"rounds\": %zu", s->defaults,
            s->rounds);
    /* default order: entities grouped by the round they defaulted in */
    fputs(",\n \"default_order\": [", f);
    int maxr = -1;
    for (size_t i = 0; i < net->n; i++)
        if (r->res[i].defaulted && r->res[i].round > maxr)
            maxr = r->res[i].round;
    bool first_round = true;
    for (int k = 0; k <= maxr; k++) {
        bool any = false;
        for (size_t i = 0; i < net->n; i++) {
            if (!r->res[i].defaulted || r->res[i].round != k)
                continue;
            if (!any)
                fprintf(f, "%s{\"round\": %d, \"entities\": [",
                        first_round ? "" : ", ", k);
            fprintf(f, "%s\"%s\"", any ? ", " : "", net->id[i]);
            any = true;
            first_round = false;
        }
        if (any)
            fputs("]}", f);
    }
    fputc(']', f);
    kv(f, "total_loss", s->total_loss);
    kv(f, "external_shortfall", s->external_shortfall);
    kv(f, "default_costs", s->default_costs);
    kv(f, "weighted_stress", s->weighted_stress);
    if (o->model == XCR_NET_DEBTRANK)
        kv(f, "debtrank", s->debtrank);
    fprintf(f, ", \"converged\": %s", s->converged ? "true" : "false");
    if (r->external_loss) {
        fputs(",\n \"external_loss\": {", f);
        for (size_t i = 0; i < net->n; i++) {
            fprintf(f, "%s\"%s\": ", i ? ", " : "", net->id[i]);
            xcr__put_num(f, r->external_loss[i]);
        }
        fputc('}', f);
    }
    if (net->book && net->na > 0)
        json_fire_sales(r, f);
    if (net->nr > 0) {
        fputs(",\n \"rehypothecation\": [", f);
        for (size_t k = 0; k < net->nr; k++) {
            fprintf(f,
                    "%s\n  {\"from\": \"%s\", \"to\": \"%s\", \"asset\": "
                    "\"%s\"",
                    k ? "," : "", net->id[net->r_from[k]],
                    net->id[net->r_to[k]], net->asym[net->r_asset[k]]);
            kv(f, "amount", net->r_amt[k]);
            kv(f, "value",
               r->extra && r->extra->rehyp_value ? r->extra->rehyp_value[k]
                                                 : NAN);
            kv(f, "lost",
               r->extra && r->extra->rehyp_lost ? r->extra->rehyp_lost[k]
                                                : NAN);
            fputc('}', f);
        }
        fputc(']', f);
    }
    if (r->accounts && net->book)
        json_accounts(r, f);
    if (r->firewall >= 0 && r->fw_base) {
        fprintf(f, ",\n \"firewall\": {\"entity\": \"%s\"",
                net->id[r->firewall]);
        kv(f, "total_loss_without", r->fw_base->total_loss);
        kv(f, "total_loss_with", s->total_loss);
        kv(f, "saved_loss", r->fw_base->total_loss - s->total_loss);
        fprintf(f,
                ", \"defaults_without\": %zu, \"defaults_with\": %zu, "
                "\"saved_defaults\": %ld}",
                r->fw_base->defaults, s->defaults,
                (long)r->fw_base->defaults - (long)s->defaults);
    }
    if (r->ranks && json_ranks(r, f) != XCR_OK)
        return XCR_ENOMEM;
    fputs("}\n", f);
    return XCR_OK;
}

static void write_csv(const xcr_contagion_report *r, FILE *f)
{
    const xcr_network *net = r->net;
    fputs("id,payment,equity,defaulted,stress,loss,recovery,round", f);
    if (r->ranks)
        fputs(",loss_caused,defaults_caused,vulnerability,times_defaulted", f);
    fputc('\n', f);
    for (size_t i = 0; i < net->n; i++) {
        const xcr_entity_result *e = &r->res[i];
        fprintf(f, "%s,", net->id[i]);
        xcr__put_csv_num(f, e->payment);
        fputc(',', f);
        xcr__put_csv_num(f, e->equity);
        fprintf(f, ",%s,", e->defaulted ? "true" : "false");
        xcr__put_csv_num(f, e->stress);
        fputc(',', f);
        xcr__put_csv_num(f, e->loss);
        fputc(',', f);
        xcr__put_csv_num(f, e->recovery);
        fputc(',', f);
        if (e->round >= 0)
            fprintf(f, "%d", e->round);
        if (r->ranks) {
            const xcr_entity_rank *k = &r->ranks[i];
            fputc(',', f);
            xcr__put_csv_num(f, k->loss_caused);
            fprintf(f, ",%zu,", k->defaults_caused);
            xcr__put_csv_num(f, k->vulnerability);
            fprintf(f, ",%zu", k->times_defaulted);
        }
        fputc('\n', f);
    }
}

static void money(FILE *f, const char *label, double v)
{
    char buf[64];
    xcr__fmt_money(v, buf, sizeof buf);
    fprintf(f, "  %-22s %s\n", label, buf);
}

static xcr_status write_table(const xcr_contagion_report *r, FILE *f)
{
    const xcr_network *net = r->net;
    const xcr_contagion_opts *o = r->opts;
    const xcr_contagion_summary *s = r->sum;
    fprintf(f, "contagion: model %s", xcr_net_model_name(o->model));
    if (o->model == XCR_NET_DEBTRANK)
        fprintf(f, " (%s)", xcr_dr_variant_name(o->variant));
    else
        fprintf(f, " (default at equity %s 0)",
                xcr__net_rule(o) == XCR_RULE_LE ? "<=" : "<");
    fprintf(f, ", %zu entities, %zu defaults, %zu rounds\n\n", net->n,
            s->defaults, s->rounds);
    fprintf(f, "%-20s %16s %16s %8s %16s %6s\n", "entity", "payment",
            "equity", "stress", "loss", "round");
    for (size_t i = 0; i < net->n; i++) {
        const xcr_entity_result *e = &r->res[i];
        char p[64], q[64], l[64], rd[16];
        xcr__fmt_money(e->payment, p, sizeof p);
        xcr__fmt_money(e->equity, q, sizeof q);
        xcr__fmt_money(e->loss, l, sizeof l);
        if (e->defaulted)
            snprintf(rd, sizeof rd, "%d", e->round);
        else
            snprintf(rd, sizeof rd, "-");
        fprintf(f, "%-20s %16s %16s %7.2f%% %16s %6s\n", net->id[i], p, q,
                100 * e->stress, l, rd);
    }
    fputs("\nsummary\n", f);
    money(f, "total loss", s->total_loss);
    money(f, "external shortfall", s->external_shortfall);
    if (o->model == XCR_NET_RV)
        money(f, "default costs", s->default_costs);
    fprintf(f, "  %-22s %.4f%%\n", "weighted stress",
            100 * s->weighted_stress);
    if (o->model == XCR_NET_DEBTRANK)
        fprintf(f, "  %-22s %.7f\n", "DebtRank", s->debtrank);
    if (net->book && o->leverage_target > 0) {
        fprintf(f, "  %-22s %zu rounds\n", "fire sales", s->fire_rounds);
        money(f, "sold (USD)", s->fire_sold_usd);
    }
    if (r->accounts && net->book) {
        size_t affected = 0, newly = 0;
        double lost = 0;
        for (size_t i = 0; i < net->book->n_accts; i++) {
            affected += r->accounts[i].recovery < 1;
            newly += newly_liquidatable(&r->accounts[i]);
            lost += r->accounts[i].collateral_lost;
        }
        fprintf(f, "  %-22s %zu (%zu newly liquidatable)\n",
                "accounts at failures", affected, newly);
        money(f, "collateral lost", lost);
    }
    if (r->firewall >= 0 && r->fw_base) {
        fprintf(f, "  firewall %s saves", net->id[r->firewall]);
        char buf[64];
        xcr__fmt_money(r->fw_base->total_loss - s->total_loss, buf,
                       sizeof buf);
        fprintf(f, " %s of loss and %ld defaults\n", buf,
                (long)r->fw_base->defaults - (long)s->defaults);
    }
    if (r->ranks) {
        key *k = malloc((net->n + 1) * sizeof *k);
        if (!k)
            return XCR_ENOMEM;
        for (size_t i = 0; i < net->n; i++)
            k[i] = (key){r->ranks[i].loss_caused, i};
        qsort(k, net->n, sizeof *k, cmp_key);
        fputs("\nsystemic importance (loss caused by its default)\n", f);
        for (size_t j = 0; j < net->n && j < 20; j++) {
            char buf[64];
            xcr__fmt_money(k[j].v, buf, sizeof buf);
            fprintf(f, "  %-20s %16s %6zu defaults\n", net->id[k[j].i], buf,
                    r->ranks[k[j].i].defaults_caused);
        }
        for (size_t i = 0; i < net->n; i++)
            k[i] = (key){r->ranks[i].vulnerability, i};
        qsort(k, net->n, sizeof *k, cmp_key);
        fputs("\nvulnerability (mean stress over the others' defaults)\n", f);
        for (size_t j = 0; j < net->n && j < 20; j++)
            fprintf(f, "  %-20s %7.2f%% %6zu defaults\n", net->id[k[j].i],
                    100 * k[j].v, r->ranks[k[j].i].times_defaulted);
        free(k);
    }
    return XCR_OK;
}

xcr_status xcr_contagion_write(const xcr_contagion_report *r,
                               xcr_out_format format, FILE *out,
                               xcr_error *err)
{
    if (!r || !r->net || !r->opts || !r->res || !r->sum || !out)
        return xcr__fail(err, XCR_EINVAL, "report inputs are required");
    xcr_status s = XCR_OK;
    switch (format) {
    case XCR_OUT_JSON:
        s = write_json(r, out);
        break;
    case XCR_OUT_CSV:
        write_csv(r, out);
        break;
    default:
        s = write_table(r, out);
        break;
    }
    if (s != XCR_OK)
        return xcr__fail(err, s, "out of memory");
    if (ferror(out))
        return xcr__fail(err, XCR_EIO, "write error");
    return XCR_OK;
}
