/* The graph the models run on: liabilities merged per (debtor, creditor)
 * pair — DebtRank caps the impact of a pair, min(1, A_ij/E_i), so two
 * entries for one pair must be added before capping — in CSR form both ways
 * (creditors of a debtor to propagate, debtors of a creditor to collect). */
#include "contagion.h"

#include <stdlib.h>
#include <string.h>

xcr_status xcr__graph_alloc(xcr__graph *g, size_t n, size_t m)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->cap_m = m;
    size_t n1 = n + 1, m1 = m + 1;
    g->out_off = calloc(n1 + 1, sizeof(uint32_t));
    g->in_off = calloc(n1 + 1, sizeof(uint32_t));
    g->out_to = malloc(m1 * sizeof(uint32_t));
    g->in_from = malloc(m1 * sizeof(uint32_t));
    g->out_amt = malloc(m1 * sizeof(double));
    g->in_amt = malloc(m1 * sizeof(double));
    g->tmp_u = malloc((2 * m1 + n1 + 1) * sizeof(uint32_t));
    g->tmp_d = malloc(m1 * sizeof(double));
    double **d[] = {&g->ext, &g->el, &g->pbar, &g->ib_assets, &g->ib_liab,
                    &g->eq_base,
                    &g->eq_start, &g->ext_start, &g->el_start, &g->v};
    bool ok = g->out_off && g->in_off && g->out_to && g->in_from &&
              g->out_amt && g->in_amt && g->tmp_u && g->tmp_d;
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
        *d[k] = calloc(n1, sizeof(double));
        ok = ok && *d[k];
    }
    if (!ok) {
        xcr__graph_free(g);
        return XCR_ENOMEM;
    }
    return XCR_OK;
}

void xcr__graph_free(xcr__graph *g)
{
    free(g->out_off);
    free(g->in_off);
    free(g->out_to);
    free(g->in_from);
    free(g->out_amt);
    free(g->in_amt);
    free(g->tmp_u);
    free(g->tmp_d);
    free(g->ext);
    free(g->el);
    free(g->pbar);
    free(g->ib_assets);
    free(g->ib_liab);
    free(g->eq_base);
    free(g->eq_start);
    free(g->ext_start);
    free(g->el_start);
    free(g->v);
    memset(g, 0, sizeof *g);
}

/* Counting sort of edge ids by key into dst (stable). */
static void sort_by(size_t n, size_t m, const uint32_t *key,
                    const uint32_t *ids, uint32_t *off, uint32_t *dst)
{
    memset(off, 0, (n + 2) * sizeof *off);
    for (size_t k = 0; k < m; k++)
        off[key[ids[k]] + 1]++;
    for (size_t i = 0; i < n; i++)
        off[i + 1] += off[i];
    for (size_t k = 0; k < m; k++)
        dst[off[key[ids[k]]]++] = ids[k];
    /* off[i] now holds the end of row i: shift back to starts */
    for (size_t i = n; i > 0; i--)
        off[i] = off[i - 1];
    off[0] = 0;
}

void xcr__graph_set_edges(xcr__graph *g, size_t m, const uint32_t *from,
                          const uint32_t *to, const double *amt, size_t skip)
{
    size_t n = g->n;
    uint32_t *ids = g->tmp_u, *by = g->tmp_u + g->cap_m + 1;
    size_t k2 = 0;
    for (size_t k = 0; k < m; k++)
        if (from[k] != skip && to[k] != skip)
            ids[k2++] = (uint32_t)k;
    /* sort by creditor, then stably by debtor: rows by debtor, columns in
     * creditor order, so duplicates are adjacent */
    sort_by(n, k2, to, ids, g->in_off, by);
    sort_by(n, k2, from, by, g->out_off, ids);
    /* merge adjacent duplicates into the out CSR */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t start = g->out_off[i], end = g->out_off[i + 1];
        g->out_off[i] = (uint32_t)w;
        for (size_t k = start; k < end; k++) {
            uint32_t e = ids[k];
            if (w > g->out_off[i] && g->out_to[w - 1] == to[e]) {
                g->out_amt[w - 1] += amt[e];
            } else {
                g->out_to[w] = to[e];
                g->out_amt[w] = amt[e];
                w++;
            }
        }
    }
    g->out_off[n] = (uint32_t)w;
    g->m = w;
    /* the in CSR is the transpose (rows by creditor, debtors ascending) */
    memset(g->in_off, 0, (n + 2) * sizeof *g->in_off);
    for (size_t k = 0; k < w; k++)
        g->in_off[g->out_to[k] + 1]++;
    for (size_t i = 0; i < n; i++)
        g->in_off[i + 1] += g->in_off[i];
    uint32_t *pos = g->tmp_u + 2 * (g->cap_m + 1); /* next slot per creditor */
    memcpy(pos, g->in_off, (n + 1) * sizeof *pos);
    for (size_t i = 0; i < n; i++)
        for (size_t k = g->out_off[i]; k < g->out_off[i + 1]; k++) {
            uint32_t c = g->out_to[k];
            g->in_from[pos[c]] = (uint32_t)i;
            g->in_amt[pos[c]++] = g->out_amt[k];
        }
}

void xcr__graph_totals(xcr__graph *g)
{
    for (size_t i = 0; i < g->n; i++) {
        double o = 0, in = 0;
        for (size_t k = g->out_off[i]; k < g->out_off[i + 1]; k++)
            o += g->out_amt[k];
        for (size_t k = g->in_off[i]; k < g->in_off[i + 1]; k++)
            in += g->in_amt[k];
        g->ib_liab[i] = o;
        g->ib_assets[i] = in;
    }
    xcr__graph_pbar(g);
}

void xcr__graph_pbar(xcr__graph *g)
{
    for (size_t i = 0; i < g->n; i++)
        g->pbar[i] = g->ib_liab[i] + g->el[i];
}

xcr_status xcr__ws_net_init(xcr__ws_net *w, size_t n)
{
    memset(w, 0, sizeof *w);
    size_t n1 = n + 1;
    double **d[] = {&w->x, &w->p, &w->h, &w->h1, &w->dh, &w->acc};
    bool ok = true;
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
        *d[k] = calloc(n1, sizeof(double));
        ok = ok && *d[k];
    }
    w->list = malloc(n1 * sizeof(uint32_t));
    w->list2 = malloc(n1 * sizeof(uint32_t));
    w->state = calloc(n1, 1);
    w->round = calloc(n1, sizeof(int));
    if (!ok || !w->list || !w->list2 || !w->state || !w->round) {
        xcr__ws_net_free(w);
        return XCR_ENOMEM;
    }
    return XCR_OK;
}

void xcr__ws_net_free(xcr__ws_net *w)
{
    free(w->x);
    free(w->p);
    free(w->h);
    free(w->h1);
    free(w->dh);
    free(w->acc);
    free(w->lu);
    free(w->list);
    free(w->list2);
    free(w->state);
    free(w->round);
    memset(w, 0, sizeof *w);
}

xcr_default_rule xcr__net_rule(const xcr_contagion_opts *o)
{
    if (o->rule != XCR_RULE_MODEL)
        return o->rule;
    return o->model == XCR_NET_EN || o->model == XCR_NET_RV ? XCR_RULE_LT
                                                            : XCR_RULE_LE;
}
