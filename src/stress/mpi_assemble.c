/* Assembling the result of a whole scenario set from shards (ranges of
 * scenarios evaluated separately, e.g. by MPI ranks: cli/mpi_stress.c).
 * No MPI here: the library never depends on it.
 *
 * Per-scenario results of a shard are final (each scenario's totals are
 * sums over accounts only), so they are concatenated.  Per-account results
 * run over scenarios in order (floating-point sums, the first maximum,
 * VaR/ES over the whole loss row), so they are recomputed here from every
 * cell's equity and status with exactly the engine's arithmetic
 * (engine.c book_cell): the assembled result is bit-identical to a
 * one-process run. */
#include "fast.h"

#include <stdlib.h>
#include <string.h>

xcr_status xcr__stress_result_new(const xcr_market *m, const xcr_scenarios *s,
                                  bool quant, bool detail,
                                  xcr_stress_result **out)
{
    return xcr__stress_result_alloc(m, s, s->n, quant, detail, out);
}

void xcr__stress_assemble_accounts(xcr_stress_result *r, size_t a0,
                                   size_t a1, size_t nshards,
                                   const size_t *shard_n,
                                   const double *const *eq,
                                   const uint8_t *const *st, double *scratch)
{
    const size_t ns = r->n_scen;
    double *buf = scratch, *heap = scratch + ns;
    for (size_t a = a0; a < a1; a++) {
        double sum_loss = 0, sum_short = 0, max_loss = -INFINITY;
        uint32_t n_liq = 0, n_bank = 0, worst = 0;
        size_t g = 0;
        for (size_t q = 0; q < nshards; q++) {
            const size_t n = shard_n[q];
            const double *e = eq[q] + (a - a0) * n;
            const uint8_t *t = st[q] + (a - a0) * n;
            for (size_t k = 0; k < n; k++, g++) {
                /* engine.c book_cell, statement for statement */
                const double loss = r->eq0[a] - e[k];
                const double sf = e[k] < 0 ? -e[k] : 0.0;
                sum_loss += loss;
                sum_short += sf;
                if (t[k] >= XCR_LIQUIDATABLE)
                    n_liq++;
                if (t[k] == XCR_BANKRUPT)
                    n_bank++;
                if (loss > max_loss) {
                    max_loss = loss;
                    worst = (uint32_t)g;
                }
                buf[g] = loss;
                if (r->eq1) {
                    r->eq1[a] = e[k];
                    r->st1[a] = t[k];
                }
            }
        }
        r->sum_loss[a] = sum_loss;
        r->sum_short[a] = sum_short;
        r->max_loss[a] = max_loss;
        r->n_liq[a] = n_liq;
        r->n_bank[a] = n_bank;
        r->worst[a] = worst;
        if (r->acc_var)
            xcr__fast_var_es3(buf, ns, heap,
                              r->acc_var + a * XCR_STRESS_LEVELS,
                              r->acc_es + a * XCR_STRESS_LEVELS);
    }
}
