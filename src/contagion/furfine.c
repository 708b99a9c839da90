/* Threshold contagion: Furfine's sequential defaults and Gai–Kapadia.
 *
 * Furfine, "Interbank exposures: quantifying the risk of contagion", JMCB
 * 35(1), 2003 (cascades-and-contagion.md §1.3): capital E_i; creditors of a
 * defaulter lose (1 − R) of their exposure; loss_i^k = (1 − R)·Σ_{j ∈
 * D^{k−1}} A_ij; i defaults when its capital net of losses crosses zero
 * (≤ 0 by default, "loss ≥ E"; < 0 with the lt rule, as systemicrisk's
 * strict test).
 *
 * Gai & Kapadia, "Contagion in financial networks", Proc. R. Soc. A 466,
 * 2010 (§1.4): i is solvent while (1 − φ_i)·A_i^IB + q·A_i^M − L_i^IB − D_i
 * > 0, zero recovery on defaulted debtors.  Here the interbank claims are
 * the network's own (not spread evenly by assumption), and q = exp(−a·x)
 * with x the share of all external assets held by defaulters when a fire-
 * sale exponent a is given (a = −ln(0.9)/0.1 = 1.0536 makes a 10 % dump
 * cost 10 %, §1.4). */
#include "contagion.h"

#include <string.h>

static double scale_of(const xcr__graph *g, size_t i)
{
    return g->ext_start[i] + g->ib_assets[i];
}

void xcr__furfine(const xcr__graph *g, const xcr_contagion_opts *o,
                  const uint8_t *forced, xcr__ws_net *w,
                  xcr_entity_result *out, xcr_contagion_summary *sum)
{
    size_t n = g->n;
    double tol = o->tol > 0 ? o->tol : XCR__NET_TOL;
    double lgd = 1 - o->recovery;
    xcr_default_rule rule = xcr__net_rule(o);
    double *cap = w->h1, *loss = w->acc;
    uint8_t *dead = w->state;
    int *round = w->round;
    uint32_t *cur = w->list, *next = w->list2;
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        /* capital at the book's prices, moved by what changed since */
        cap[i] = g->eq_base[i] + (g->ext[i] - g->ext_start[i]) -
                 (g->el[i] - g->el_start[i]) - o->shock_all * g->ext[i];
        loss[i] = 0;
        dead[i] = forced && forced[i];
        round[i] = dead[i] ? 0 : -1;
        if (dead[i])
            cur[nc++] = (uint32_t)i;
    }
    /* round k: the previous round's defaulters (round 0: the named ones)
     * hit their creditors, then everyone is tested */
    int last = 0;
    for (int k = 1; k <= (int)n + 1; k++) {
        for (size_t c = 0; c < nc; c++) {
            uint32_t j = cur[c];
            for (size_t e = g->out_off[j]; e < g->out_off[j + 1]; e++)
                loss[g->out_to[e]] += lgd * g->out_amt[e];
        }
        size_t nn = 0;
        for (size_t i = 0; i < n; i++)
            if (!dead[i] && xcr__net_defaults(rule, cap[i] - loss[i], tol,
                                              scale_of(g, i)))
                next[nn++] = (uint32_t)i;
        if (nn == 0)
            break;
        for (size_t c = 0; c < nn; c++) {
            dead[next[c]] = 1;
            round[next[c]] = k;
        }
        last = k;
        uint32_t *t = cur;
        cur = next;
        next = t;
        nc = nn;
    }
    for (size_t i = 0; i < n; i++) {
        xcr_entity_result *r = &out[i];
        r->recovery = dead[i] ? o->recovery : 1;
        r->payment = g->pbar[i] * r->recovery;
        r->equity = cap[i] - loss[i];
        r->defaulted = dead[i];
        r->round = round[i];
        sum->external_shortfall += g->el[i] * (1 - r->recovery);
    }
    sum->rounds = (size_t)last;
}

void xcr__gai_kapadia(const xcr__graph *g, const xcr_contagion_opts *o,
                      const uint8_t *forced, xcr__ws_net *w,
                      xcr_entity_result *out, xcr_contagion_summary *sum)
{
    size_t n = g->n;
    double tol = o->tol > 0 ? o->tol : XCR__NET_TOL;
    xcr_default_rule rule = xcr__net_rule(o);
    double *e = w->h1, *lost = w->acc;
    uint8_t *dead = w->state;
    int *round = w->round;
    double e_total = 0;
    for (size_t i = 0; i < n; i++) {
        e[i] = g->ext[i] * (1 - o->shock_all);
        e_total += e[i];
        lost[i] = 0;
        dead[i] = forced && forced[i];
        round[i] = dead[i] ? 0 : -1;
    }
    /* zero recovery: a defaulter's creditors lose the whole claim */
    for (size_t j = 0; j < n; j++)
        if (dead[j])
            for (size_t k = g->out_off[j]; k < g->out_off[j + 1]; k++)
                lost[g->out_to[k]] += g->out_amt[k];
    double q = 1;
    int last = 0;
    for (int k = 1; k <= (int)n + 1; k++) {
        if (o->gk_fire_sale > 0 && e_total > 0) {
            double dumped = 0;
            for (size_t i = 0; i < n; i++)
                if (dead[i])
                    dumped += e[i];
            q = exp(-o->gk_fire_sale * dumped / e_total);
        }
        size_t nn = 0;
        uint32_t *nl = w->list;
        for (size_t i = 0; i < n; i++) {
            if (dead[i])
                continue;
            double k_i = q * e[i] + g->ib_assets[i] - lost[i] - g->pbar[i];
            if (xcr__net_defaults(rule, k_i, tol, scale_of(g, i)))
                nl[nn++] = (uint32_t)i;
        }
        if (nn == 0)
            break;
        for (size_t c = 0; c < nn; c++) {
            uint32_t j = nl[c];
            dead[j] = 1;
            round[j] = k;
            for (size_t t = g->out_off[j]; t < g->out_off[j + 1]; t++)
                lost[g->out_to[t]] += g->out_amt[t];
        }
        last = k;
    }
    for (size_t i = 0; i < n; i++) {
        xcr_entity_result *r = &out[i];
        r->recovery = dead[i] ? 0 : 1;
        r->payment = dead[i] ? 0 : g->pbar[i];
        r->equity = q * e[i] + g->ib_assets[i] - lost[i] - g->pbar[i];
        r->defaulted = dead[i];
        r->round = round[i];
        sum->external_shortfall += g->el[i] * (1 - r->recovery);
    }
    sum->rounds = (size_t)last;
}
