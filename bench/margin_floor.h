/* The floor of a full revaluation for the book's layout: one pass that
 * reads exactly the bytes bench/margin counts (per account the two CSR
 * offsets, mode and e-mode; per balance asset and amount; per position
 * instrument, size and entry, and the isolated margin of isolated
 * accounts' positions) and writes one xcr_account_result per account, with
 * one addition per value read and no margin arithmetic at all.
 *
 * No revaluation can beat it on this layout: it is the margin kernel with
 * the margin taken out.  Its fraction of the STREAM copy bandwidth is
 * therefore the ceiling for the kernel's own fraction on this machine, and
 * "kernel time / floor time" says how far the margin arithmetic (not the
 * memory traffic) keeps the kernel from it (docs/performance.md).
 * Threads split the accounts evenly, like xcr_margin_all. */
#ifndef XCR_BENCH_MARGIN_FLOOR_H
#define XCR_BENCH_MARGIN_FLOOR_H

#include <pthread.h>
#include <stdlib.h>

#include "bench_util.h"
#include "book/book.h"
#include "xcr.h"

typedef struct floor_job {
    const xcr_book *b;
    xcr_account_result *out;
    size_t lo, hi;
} floor_job;

static void *floor_worker(void *arg)
{
    const floor_job *j = arg;
    const xcr_book *b = j->b;
    for (size_t i = j->lo; i < j->hi; i++) {
        double bal = 0, pos = 0;
        for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++)
            bal += b->bal_amt[k] + (double)b->bal_asset[k];
        const bool iso = b->acct_mode[i] == XCR_MODE_ISOLATED;
        for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
            pos += b->pos_size[p] + b->pos_entry[p] + (double)b->pos_inst[p] +
                   (iso ? b->pos_iso[p] : 0.0);
        xcr_account_result *r = &j->out[i];
        r->equity = bal;
        r->collateral = pos;
        r->initial_margin = bal + pos;
        r->maintenance_margin = bal - pos;
        r->health = (double)b->acct_emode[i];
        r->health_factor = (double)b->acct_mode[i];
        r->borrow_capacity = bal * pos;
        r->status = XCR_HEALTHY;
    }
    return NULL;
}

/* Best of `reps` floor passes over b into out with `threads` threads;
 * returns the best time in seconds, or -1 when a thread cannot start. */
static inline double floor_best_s(const xcr_book *b, int threads, int reps,
                                  xcr_account_result *out)
{
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    floor_job jobs[64];
    pthread_t tid[64];
    const size_t n = b->n_accts;
    for (int t = 0; t < threads; t++)
        jobs[t] = (floor_job){b, out, n * (size_t)t / (size_t)threads,
                              n * (size_t)(t + 1) / (size_t)threads};
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        int started = 1;
        while (started < threads &&
               pthread_create(&tid[started], NULL, floor_worker,
                              &jobs[started]) == 0)
            started++;
        floor_worker(&jobs[0]);
        for (int t = 1; t < started; t++)
            pthread_join(tid[t], NULL);
        if (started < threads)
            return -1;
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

#endif
