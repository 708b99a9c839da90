/* STREAM-like memory bandwidth (McCalpin's STREAM, "copy" a[i] = b[i] and
 * "triad" a[i] = b[i] + s·c[i]) on arrays far larger than the caches, with
 * pthreads, each thread on its own contiguous slice.  Bytes are counted as
 * STREAM counts them: copy 16 bytes per element (one read, one write),
 * triad 24 (two reads, one write); write-allocate traffic is not counted.
 * Used by bench/ceilings.c and by bench/margin.c for its same-run
 * "fraction of the bandwidth ceiling". */
#ifndef XCR_BENCH_STREAM_H
#define XCR_BENCH_STREAM_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

typedef struct stream_job {
    double *a, *b, *c;
    size_t lo, hi;
    int triad;
} stream_job;

static void *stream_worker(void *arg)
{
    stream_job *j = arg;
    double *restrict a = j->a;
    const double *restrict b = j->b, *restrict c = j->c;
    if (j->triad)
        for (size_t i = j->lo; i < j->hi; i++)
            a[i] = b[i] + 3.0 * c[i];
    else
        for (size_t i = j->lo; i < j->hi; i++)
            a[i] = b[i];
    return NULL;
}

/* Best of `reps` passes over n doubles per array with `threads` threads;
 * returns GB/s (1e9 bytes), or -1 when memory is short. */
static inline double stream_gbs(size_t n, int threads, int reps, int triad)
{
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b),
           *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return -1;
    }
    stream_job jobs[64];
    pthread_t tid[64];
    /* first touch by the threads that will use each slice */
    for (int t = 0; t < threads; t++) {
        size_t lo = n * (size_t)t / (size_t)threads;
        size_t hi = n * (size_t)(t + 1) / (size_t)threads;
        memset(a + lo, 0, (hi - lo) * sizeof *a);
        for (size_t i = lo; i < hi; i++) {
            b[i] = 1.0;
            c[i] = 2.0;
        }
        jobs[t] = (stream_job){a, b, c, lo, hi, triad};
    }
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int t = 1; t < threads; t++)
            if (pthread_create(&tid[t], NULL, stream_worker, &jobs[t]) != 0)
                stream_worker(&jobs[t]), tid[t] = 0;
        stream_worker(&jobs[0]);
        for (int t = 1; t < threads; t++)
            if (tid[t])
                pthread_join(tid[t], NULL);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    volatile double sink = a[n / 2];
    (void)sink;
    free(a);
    free(b);
    free(c);
    return (double)n * (triad ? 24.0 : 16.0) / best / 1e9;
}

#endif
