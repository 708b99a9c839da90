/* MPI scenario sharding of `xcr stress` (docs/performance.md).
 *
 * Every rank loads the book and builds the same scenario set (Monte Carlo
 * draws are keyed by (seed, scenario, asset), so the set is identical on
 * every rank); rank q evaluates only scenarios [N·q/K, N·(q+1)/K) with the
 * engine (xcr__stress_run_ex, scenario range, each cell's equity and
 * status kept).  Rank 0 gathers the per-scenario totals (final: they are
 * sums over accounts) and, block by block of accounts, every cell, and
 * recomputes the per-account figures (sums in scenario order, worst
 * scenario, VaR/ES) with the engine's arithmetic
 * (src/stress/mpi_assemble.c), so its report is byte-identical to a
 * one-process run.  The fast path's products are the same bits for any
 * range (src/stress/engine.c aligns them on the whole set). */
#include "mpi_stress.h"

#ifdef XCR_HAVE_MPI

#include "stress/fast.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_size = 1, g_active;

static void mpi_end(void)
{
    if (g_active)
        MPI_Finalize();
    g_active = 0;
}

bool cli_mpi_begin(void)
{
    if (g_active || !(getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") ||
                      getenv("PMIX_RANK")))
        return true;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return false;
    g_active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    atexit(mpi_end);
    if (g_rank != 0 && !freopen("/dev/null", "w", stdout))
        return false;
    return true;
}

bool cli_mpi_sharding(void)
{
    return g_active && g_size > 1;
}

/* First scenario of rank q: N·q/K, or one scenario per rank when N < K. */
static size_t range_start(size_t n, int q)
{
    size_t k = (size_t)g_size;
    if (n >= k)
        return n * (size_t)q / k;
    return (size_t)q < n ? (size_t)q : n;
}

xcr_status cli_mpi_stress_run(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o,
                              xcr_stress_result **out, xcr_error *err)
{
    *out = NULL;
    if (!cli_mpi_sharding())
        return xcr_stress_run(m, s, o, out, err);
    const xcr_book *b = m->book;
    const size_t N = xcr_scenarios_count(s);
    const size_t nacc = xcr_book_account_count(b);
    const size_t na = xcr_book_asset_count(b);
    const int K = g_size;
    xcr_stress_opts dflt;
    xcr_stress_opts_init(&dflt);
    if (!o)
        o = &dflt;
    /* the choices a one-process run of all N scenarios would make */
    const bool quant = o->account_quantiles > 0 ||
                       (o->account_quantiles < 0 &&
                        xcr__stress_quant_auto(nacc, N));
    const bool detail = o->asset_detail > 0 ||
                        (o->asset_detail < 0 &&
                         xcr__stress_detail_auto(na, N));
    xcr_stress_opts so = *o;
    so.account_quantiles = 0; /* rank 0 recomputes them over all N */
    so.asset_detail = detail;
    if (g_rank != 0)
        so.progress = NULL;

    int *cnt = calloc((size_t)K, sizeof *cnt);
    int *dsp = calloc((size_t)K, sizeof *dsp);
    size_t *shard_n = calloc((size_t)K, sizeof *shard_n);
    const size_t lo = range_start(N, g_rank), hi = range_start(N, g_rank + 1);
    const size_t n = hi - lo;
    double *eq = malloc((nacc ? nacc : 1) * (n ? n : 1) * sizeof *eq);
    uint8_t *st = malloc((nacc ? nacc : 1) * (n ? n : 1));
    xcr_stress_result *part = NULL, *full = NULL;
    xcr_status rc = XCR_OK;
    if (!cnt || !dsp || !shard_n || !eq || !st)
        rc = xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (rc == XCR_OK && n > 0) {
        xcr__stress_ex ex;
        memset(&ex, 0, sizeof ex);
        ex.fast = N >= XCR__FAST_MIN_SCEN ? 1 : -1;
        ex.s_lo = lo;
        ex.s_hi = hi;
        ex.cell_eq = eq;
        ex.cell_st = st;
        rc = xcr__stress_run_ex(m, s, &so, &ex, &part, err);
    }
    if (rc == XCR_OK && n * na > (size_t)INT_MAX / 8)
        rc = xcr__fail(err, XCR_EINVAL, "too many scenarios per rank for "
                                        "MPI sharding; use more ranks");

    /* agree on failure: the first failing rank's message wins */
    int mine = rc == XCR_OK ? INT_MAX : g_rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first != INT_MAX) {
        char msg[sizeof err->msg];
        int code = (int)rc;
        if (g_rank == first && err)
            memcpy(msg, err->msg, sizeof msg);
        MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
        MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD);
        msg[sizeof msg - 1] = '\0';
        rc = xcr__fail(err, (xcr_status)code, "rank %d: %s", first, msg);
        goto done;
    }

    if (g_rank == 0) {
        rc = xcr__stress_result_new(m, s, quant, detail, &full);
        if (rc == XCR_OK) {
            memcpy(full->eq0, part->eq0, nacc * sizeof(double));
            memcpy(full->st0, part->st0, nacc);
        }
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != XCR_OK) {
        rc = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    for (int q = 0; q < K; q++) {
        shard_n[q] = range_start(N, q + 1) - range_start(N, q);
        cnt[q] = (int)shard_n[q];
        dsp[q] = (int)range_start(N, q);
    }
    /* per scenario: concatenate (ranges are consecutive) */
    double *const vecs[4] = {part ? part->loss : NULL,
                             part ? part->shortfall : NULL,
                             part ? part->liq_coll : NULL,
                             part ? part->liq_notional : NULL};
    double *const dst[4] = {full ? full->loss : NULL,
                            full ? full->shortfall : NULL,
                            full ? full->liq_coll : NULL,
                            full ? full->liq_notional : NULL};
    for (int v = 0; v < 4; v++)
        MPI_Gatherv(vecs[v], (int)n, MPI_DOUBLE, dst[v], cnt, dsp, MPI_DOUBLE,
                    0, MPI_COMM_WORLD);
    int *cnt2 = malloc((size_t)K * sizeof *cnt2);
    int *dsp2 = malloc((size_t)K * sizeof *dsp2);
    if (!cnt2 || !dsp2) {
        free(cnt2);
        free(dsp2);
        rc = xcr__fail(err, XCR_ENOMEM, "out of memory");
        MPI_Abort(MPI_COMM_WORLD, 1);
        goto done;
    }
    for (int q = 0; q < K; q++) {
        cnt2[q] = cnt[q] * 5;
        dsp2[q] = dsp[q] * 5;
    }
    MPI_Gatherv(part ? part->status_count : NULL, (int)n * 5, MPI_UINT32_T,
                full ? full->status_count : NULL, cnt2, dsp2, MPI_UINT32_T, 0,
                MPI_COMM_WORLD);
    if (detail) {
        for (int q = 0; q < K; q++) {
            cnt2[q] = cnt[q] * (int)na;
            dsp2[q] = dsp[q] * (int)na;
        }
        MPI_Gatherv(part ? part->asset_loss : NULL, (int)(n * na), MPI_DOUBLE,
                    full ? full->asset_loss : NULL, cnt2, dsp2, MPI_DOUBLE, 0,
                    MPI_COMM_WORLD);
        MPI_Gatherv(part ? part->asset_liq : NULL, (int)(n * na), MPI_DOUBLE,
                    full ? full->asset_liq : NULL, cnt2, dsp2, MPI_DOUBLE, 0,
                    MPI_COMM_WORLD);
    }

    /* per account: every cell, in blocks of accounts (rank 0 holds one
     * block of N scenarios at a time, at most 2^23 cells) */
    size_t blk = ((size_t)1 << 23) / (N ? N : 1);
    if (blk < 1)
        blk = 1;
    if (blk > nacc)
        blk = nacc ? nacc : 1;
    double *ebuf = NULL, *scratch = NULL;
    uint8_t *sbuf = NULL;
    const double **ep = calloc((size_t)K, sizeof *ep);
    const uint8_t **sp = calloc((size_t)K, sizeof *sp);
    int ok = ep && sp;
    if (g_rank == 0) {
        ebuf = malloc(blk * N * sizeof *ebuf);
        sbuf = malloc(blk * N);
        scratch = malloc(2 * N * sizeof *scratch);
        ok = ok && ebuf && sbuf && scratch;
    }
    int all_ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all_ok) {
        for (size_t a0 = 0; a0 < nacc; a0 += blk) {
            const size_t a1 = a0 + blk < nacc ? a0 + blk : nacc;
            const int w = (int)(a1 - a0);
            for (int q = 0; q < K; q++) {
                cnt2[q] = cnt[q] * w;
                dsp2[q] = dsp[q] * w;
            }
            MPI_Gatherv(eq + a0 * n, (int)n * w, MPI_DOUBLE, ebuf, cnt2, dsp2,
                        MPI_DOUBLE, 0, MPI_COMM_WORLD);
            MPI_Gatherv(st + a0 * n, (int)n * w, MPI_UINT8_T, sbuf, cnt2,
                        dsp2, MPI_UINT8_T, 0, MPI_COMM_WORLD);
            if (g_rank == 0) {
                for (int q = 0; q < K; q++) {
                    ep[q] = ebuf + dsp2[q];
                    sp[q] = sbuf + dsp2[q];
                }
                xcr__stress_assemble_accounts(full, a0, a1, (size_t)K,
                                              shard_n, ep, sp, scratch);
            }
        }
    } else {
        rc = xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    free(ebuf);
    free(sbuf);
    free(scratch);
    free(ep);
    free(sp);
    free(cnt2);
    free(dsp2);
    if (rc == XCR_OK && g_rank == 0) {
        *out = full;
        full = NULL;
    }
done:
    xcr_stress_result_free(full);
    xcr_stress_result_free(part);
    free(eq);
    free(st);
    free(cnt);
    free(dsp);
    free(shard_n);
    return rc;
}

#else /* no MPI: the ordinary run */

bool cli_mpi_begin(void)
{
    return true;
}

bool cli_mpi_sharding(void)
{
    return false;
}

xcr_status cli_mpi_stress_run(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o,
                              xcr_stress_result **out, xcr_error *err)
{
    return xcr_stress_run(m, s, o, out, err);
}

#endif
