/* DebtRank (cascades-and-contagion.md §1.5).  h_i ∈ [0, 1] is the relative
 * equity loss of i; Λ_ij = A_ij / E_i the loss to i per unit of j's
 * distress; v_i = size_i / Σ size.  DebtRank = Σ v·h(T) − Σ v·h(1).
 *
 *  - battiston: Battiston, Puliga, Kaushik, Tasca, Caldarelli, "DebtRank:
 *    too central to fail?", Scientific Reports 2, 2012.  W = min(1, Λ); each
 *    entity propagates once, in the round after it first becomes distressed,
 *    h_i(t) = min(1, h_i(t−1) + Σ_{j ∈ D(t−1)} W_ij·h_j(t−1)); inactive
 *    entities still receive stress.
 *  - single-hit: the same one-shot rule with the uncapped Λ
 *    (NetworkRiskMeasures 0.1.4, single.hit = TRUE).
 *  - differential: Bardoscia, Battiston, Caccioli, Caldarelli, "DebtRank: a
 *    microscopic foundation for shock propagation", PLoS ONE 10(6), 2015:
 *    h_i(t+1) = min(1, h_i(t) + Σ_j Λ_ij·(h_j(t) − h_j(t−1))), every new
 *    increment propagates again; stops when the largest increment is below
 *    1e-15 or at the round cap.
 * An entity whose equity is ≤ 0 before any shock starts in default (h = 1).
 * An entity counts as defaulted when h reaches 1 (the rule option does not
 * apply: stress is capped at 1). */
#include "contagion.h"

#include <string.h>

#define DR_EPS 1e-15

void xcr__debtrank(const xcr__graph *g, const xcr_contagion_opts *o,
                   const uint8_t *forced, xcr__ws_net *w,
                   xcr_entity_result *out, xcr_contagion_summary *sum)
{
    size_t n = g->n;
    const double *E = g->eq_base;
    double *h = w->h, *h1 = w->h1, *acc = w->acc, *dh = w->dh;
    uint8_t *st = w->state; /* 0 undistressed, 1 distressed, 2 inactive */
    int *round = w->round;
    size_t max_rounds = o->max_rounds ? o->max_rounds : XCR__NET_MAX_ROUNDS;
    bool capped = o->variant == XCR_DR_BATTISTON;

    for (size_t i = 0; i < n; i++) {
        double s = o->shock_all;
        if (E[i] > 0) {
            /* external-asset losses (a shock, or book prices moving the
             * holdings) as a share of equity */
            double lost = o->shock_external * g->ext[i] +
                          (g->ext_start[i] - g->ext[i]) -
                          (g->el_start[i] - g->el[i]);
            s += lost / E[i];
        } else {
            s = 1;
        }
        if (forced && forced[i])
            s = 1;
        h[i] = s < 0 ? 0 : s > 1 ? 1 : s;
        h1[i] = h[i];
        round[i] = forced && forced[i] ? 0 : h[i] >= 1 ? 1 : -1;
        st[i] = h[i] > 0 ? 1 : 0;
        dh[i] = h[i];
    }
    size_t rounds = 0;
    bool converged = true;
    if (o->variant != XCR_DR_DIFFERENTIAL) {
        for (;;) {
            size_t nd = 0;
            for (size_t j = 0; j < n; j++)
                if (st[j] == 1)
                    w->list[nd++] = (uint32_t)j;
            if (nd == 0)
                break;
            memset(acc, 0, n * sizeof *acc);
            for (size_t c = 0; c < nd; c++) {
                uint32_t j = w->list[c];
                for (size_t k = g->out_off[j]; k < g->out_off[j + 1]; k++) {
                    uint32_t i = g->out_to[k];
                    if (!(E[i] > 0))
                        continue;
                    double lam = g->out_amt[k] / E[i];
                    acc[i] += (capped && lam > 1 ? 1 : lam) * h[j];
                }
                st[j] = 2;
            }
            rounds++;
            for (size_t i = 0; i < n; i++) {
                if (!(acc[i] > 0))
                    continue;
                double v = h[i] + acc[i];
                h[i] = v > 1 ? 1 : v;
                if (h[i] >= 1 && round[i] < 0)
                    round[i] = (int)rounds + 1;
                if (st[i] == 0 && h[i] > 0)
                    st[i] = 1;
            }
        }
    } else {
        for (;;) {
            double maxd = 0;
            for (size_t j = 0; j < n; j++)
                if (dh[j] > maxd)
                    maxd = dh[j];
            if (maxd <= DR_EPS)
                break;
            if (rounds >= max_rounds) {
                converged = false;
                break;
            }
            memset(acc, 0, n * sizeof *acc);
            for (size_t j = 0; j < n; j++) {
                if (!(dh[j] > 0))
                    continue;
                for (size_t k = g->out_off[j]; k < g->out_off[j + 1]; k++) {
                    uint32_t i = g->out_to[k];
                    if (E[i] > 0)
                        acc[i] += g->out_amt[k] / E[i] * dh[j];
                }
            }
            rounds++;
            for (size_t i = 0; i < n; i++) {
                double v = h[i] + acc[i];
                v = v > 1 ? 1 : v;
                dh[i] = v - h[i];
                h[i] = v;
                if (h[i] >= 1 && round[i] < 0)
                    round[i] = (int)rounds + 1;
            }
        }
    }
    double total1 = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        xcr_entity_result *r = &out[i];
        r->stress = h[i];
        r->recovery = 1 - h[i];
        r->payment = g->pbar[i] * (1 - h[i]);
        r->equity = E[i] > 0 ? E[i] * (1 - h[i]) : E[i];
        r->defaulted = h[i] >= 1;
        r->round = r->defaulted ? round[i] : -1;
        total1 += g->v[i] * h1[i];
        total += g->v[i] * h[i];
        sum->external_shortfall += g->el[i] * h[i];
    }
    sum->debtrank = total - total1;
    sum->rounds = rounds;
    if (!converged)
        sum->converged = 0;
}
