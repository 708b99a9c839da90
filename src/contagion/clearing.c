/* Eisenberg–Noe clearing by the fictitious default algorithm, and
 * Rogers–Veraart's Greatest Clearing Vector Algorithm with default costs.
 *
 * Eisenberg & Noe, "Systemic risk in financial systems", Management Science
 * 47(2), 2001: p = Φ(p), Φ(p)_i = min(p̄_i, max(0, e_i + Σ_j Π_ji p_j)),
 * Π_ij = L_ij / p̄_i with p̄ including external liabilities (pari passu, as
 * the systemicrisk package; cascades-and-contagion.md §1.1).
 * Rogers & Veraart, "Failure and rescue in an interbank network",
 * Management Science 59(4), 2013: a defaulter pays α·e_i + β·Σ_j Π_ji p_j
 * (§1.2).  α = β = 1 is Eisenberg–Noe.
 *
 * Both run the same loop (FDA / GA): start from p = p̄; the entities whose
 * inflows fall short of p̄ join the default set D; solve D's payments with
 * everyone else paying in full, (I − β·Π_DDᵀ)·p_D = α·e_D + β·Π_NDᵀ·p̄_N;
 * repeat until D stops growing (at most n rounds).  The round in which an
 * entity joins D is its contagion depth.
 *
 * The linear system is solved by dense LU with partial pivoting while D is
 * small (exact up to rounding) and by Gauss–Seidel from the previous round's
 * payments otherwise.  Those payments are an upper solution of the system,
 * so the sweeps decrease monotonically to its greatest solution — the one
 * the greatest clearing vector needs, also when the system is singular (a
 * closed cycle of defaulters without external assets). */
#include "contagion.h"

#include <stdlib.h>
#include <string.h>

#define LU_MAX 256          /* largest default set solved densely          */
#define GS_TOL 1e-15        /* Gauss–Seidel: relative change that stops it */

/* Σ_j Π_ji p_j: what i receives at payments p; inv[j] = 1/p̄_j (0 when
 * p̄_j = 0: such a j owes nothing, so it has no edge anyway). */
static double inflow(const xcr__graph *g, const double *p, const double *inv,
                     size_t i)
{
    double s = 0;
    for (size_t k = g->in_off[i]; k < g->in_off[i + 1]; k++) {
        uint32_t j = g->in_from[k];
        s += g->in_amt[k] * (p[j] * inv[j]);
    }
    return s;
}

/* Dense LU on the default set; false if (numerically) singular. */
static bool solve_lu(const xcr__graph *g, const double *e, double alpha,
                     double beta, const uint32_t *list, size_t nd,
                     const uint8_t *in_d, uint32_t *pos, double *M,
                     double *rhs, double *p)
{
    for (size_t r = 0; r < nd; r++)
        pos[list[r]] = (uint32_t)r;
    memset(M, 0, nd * nd * sizeof *M);
    for (size_t r = 0; r < nd; r++) {
        uint32_t i = list[r];
        M[r * nd + r] = 1;
        double b = alpha * e[i];
        for (size_t k = g->in_off[i]; k < g->in_off[i + 1]; k++) {
            uint32_t j = g->in_from[k];
            if (!(g->pbar[j] > 0))
                continue;
            double pi_ji = g->in_amt[k] / g->pbar[j];
            if (in_d[j])
                M[r * nd + pos[j]] -= beta * pi_ji;
            else
                b += beta * pi_ji * p[j];
        }
        rhs[r] = b;
    }
    /* Gaussian elimination with partial pivoting */
    for (size_t c = 0; c < nd; c++) {
        size_t piv = c;
        double best = fabs(M[c * nd + c]);
        for (size_t r = c + 1; r < nd; r++)
            if (fabs(M[r * nd + c]) > best) {
                best = fabs(M[r * nd + c]);
                piv = r;
            }
        if (!(best > 1e-12))
            return false;
        if (piv != c) {
            for (size_t k = 0; k < nd; k++) {
                double t = M[c * nd + k];
                M[c * nd + k] = M[piv * nd + k];
                M[piv * nd + k] = t;
            }
            double t = rhs[c];
            rhs[c] = rhs[piv];
            rhs[piv] = t;
        }
        for (size_t r = c + 1; r < nd; r++) {
            double f = M[r * nd + c] / M[c * nd + c];
            if (f == 0)
                continue;
            for (size_t k = c; k < nd; k++)
                M[r * nd + k] -= f * M[c * nd + k];
            rhs[r] -= f * rhs[c];
        }
    }
    for (size_t c = nd; c-- > 0;) {
        double s = rhs[c];
        for (size_t k = c + 1; k < nd; k++)
            s -= M[c * nd + k] * rhs[k];
        rhs[c] = s / M[c * nd + c];
    }
    for (size_t r = 0; r < nd; r++) {
        uint32_t i = list[r];
        double v = rhs[r];
        /* clamp rounding: the solution lies in [0, previous payment] */
        p[i] = v < 0 ? 0 : v > p[i] ? p[i] : v;
    }
    return true;
}

/* Gauss–Seidel from above; false if the sweep cap stopped it. */
static bool solve_gs(const xcr__graph *g, const double *e, double alpha,
                     double beta, const uint32_t *list, size_t nd, double *p,
                     const double *inv, size_t max_sweeps)
{
    for (size_t it = 0; it < max_sweeps; it++) {
        double maxd = 0;
        for (size_t r = 0; r < nd; r++) {
            uint32_t i = list[r];
            double v = alpha * e[i] + beta * inflow(g, p, inv, i);
            v = v < 0 ? 0 : v > p[i] ? p[i] : v;
            double d = (p[i] - v) / (g->pbar[i] > 1 ? g->pbar[i] : 1);
            if (d > maxd)
                maxd = d;
            p[i] = v;
        }
        if (maxd <= GS_TOL)
            return true;
    }
    return false;
}

void xcr__clear_en_rv(const xcr__graph *g, const xcr_contagion_opts *o,
                      const uint8_t *forced, xcr__ws_net *w,
                      xcr_entity_result *out, xcr_contagion_summary *sum)
{
    size_t n = g->n;
    bool rv = o->model == XCR_NET_RV;
    double alpha = rv ? o->alpha : 1, beta = rv ? o->beta : 1;
    double tol = o->tol > 0 ? o->tol : XCR__NET_TOL;
    size_t max_sweeps = o->max_rounds ? o->max_rounds : XCR__NET_MAX_ROUNDS;
    xcr_default_rule rule = xcr__net_rule(o);
    double *e = w->h1, *p = w->p, *x = w->x, *inv = w->dh;
    uint8_t *in_d = w->state;
    int *round = w->round;
    uint32_t *list = w->list;
    size_t nd = 0;
    bool converged = true;

    /* A named default loses its external assets and pays what it recovers
     * of its receivables, α·0 + β·inflow, capped at p̄: it joins the solve
     * set only once that falls short of p̄ (the cap is not linear). */
    for (size_t i = 0; i < n; i++) {
        e[i] = g->ext[i] * (1 - o->shock_all);
        p[i] = g->pbar[i];
        /* a subnormal p̄ has no finite inverse; what it owes (< 1e-308)
         * is then left out of its creditors' inflows */
        inv[i] = g->pbar[i] > 0 && isfinite(1 / g->pbar[i]) ? 1 / g->pbar[i]
                                                           : 0;
        in_d[i] = 0;
        round[i] = forced && forced[i] ? 0 : -1;
        if (forced && forced[i])
            e[i] = 0;
    }
    if (!w->lu) {
        w->lu = malloc((LU_MAX * LU_MAX + LU_MAX) * sizeof(double));
        w->lu_cap = w->lu ? LU_MAX : 0;
    }
    int last = 0;
    for (size_t k = 1; k <= n + 1; k++) {
        {
            /* round k: who falls short at the current payments? */
            bool added = false, fresh = false;
            for (size_t i = 0; i < n; i++) {
                if (in_d[i] || !(g->pbar[i] > 0))
                    continue;
                double in = inflow(g, p, inv, i);
                bool named = round[i] == 0;
                bool short_ = named ? alpha * e[i] + beta * in < g->pbar[i]
                                    : xcr__net_defaults(rule,
                                                        e[i] + in - g->pbar[i],
                                                        tol, g->pbar[i]);
                if (short_) {
                    in_d[i] = 1;
                    if (!named) {
                        round[i] = (int)k;
                        fresh = true;
                    }
                    list[nd++] = (uint32_t)i;
                    added = true;
                }
            }
            if (!added)
                break;
            if (fresh)
                last = (int)k;
        }
        if (nd == 0)
            continue;
        bool done = false;
        if (nd <= w->lu_cap)
            done = solve_lu(g, e, alpha, beta, list, nd, in_d, w->list2,
                            w->lu, w->lu + LU_MAX * LU_MAX, p);
        if (!done &&
            !solve_gs(g, e, alpha, beta, list, nd, p, inv, max_sweeps))
            converged = false;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = e[i] + inflow(g, p, inv, i);
        xcr_entity_result *r = &out[i];
        r->payment = p[i];
        r->equity = x[i] - g->pbar[i];
        r->defaulted = in_d[i] || round[i] == 0;
        r->round = round[i];
        r->recovery = g->pbar[i] > 0 ? p[i] / g->pbar[i] : 1;
        if (rv && r->defaulted && x[i] > p[i])
            sum->default_costs += x[i] - p[i];
        sum->external_shortfall += g->el[i] * (1 - r->recovery);
    }
    sum->rounds = (size_t)last;
    if (!converged)
        sum->converged = 0;
}
