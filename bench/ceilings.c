/* bench/ceilings: the machine's own limits, measured in the same run as
 * the kernels they bound (bench/run.sh), so each kernel's throughput can
 * be quoted as a fraction of a physical ceiling:
 *  - memory bandwidth: STREAM-like copy and triad (bench/stream.h) on 1
 *    thread and on all threads;
 *  - peak floating-point rate: OpenBLAS DGEMM (cblas_dgemm, C = A·B,
 *    2·n³ flops) on 1 thread and on all threads, where the build found
 *    OpenBLAS.
 * One `key=value` line per measurement on stdout.
 *
 * Usage: ceilings [--mib M] [--threads T] [--reps R] [--dgemm-n N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "stream.h"

#ifdef XCR_HAVE_OPENBLAS
#include <cblas.h>
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: ceilings [--mib M] [--threads T] [--reps R] "
               "[--dgemm-n N]\n"
               "  --mib M      size of each STREAM array in MiB (default 256)\n"
               "  --threads T  threads of the all-core runs; 0 = all cores "
               "(default 0)\n"
               "  --reps R     repetitions, best kept (default 5)\n"
               "  --dgemm-n N  DGEMM matrix order (default 2048)\n");
}

#ifdef XCR_HAVE_OPENBLAS
static double dgemm_gflops(size_t n, int threads, int reps)
{
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b),
           *c = malloc(n * n * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return -1;
    }
    for (size_t i = 0; i < n * n; i++) {
        a[i] = 1.0 + (double)(i % 7) * 0.125;
        b[i] = 2.0 - (double)(i % 5) * 0.25;
    }
    openblas_set_num_threads(threads);
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n,
                    (blasint)n, (blasint)n, 1.0, a, (blasint)n, b, (blasint)n,
                    0.0, c, (blasint)n);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)n * (double)n * (double)n / best / 1e9;
}
#endif

int main(int argc, char **argv)
{
    size_t mib = 256, dn = 2048;
    int threads = 0, reps = 5;
    const bench_opt opts[] = {{"--mib", BENCH_SIZE, &mib},
                              {"--threads", BENCH_INT, &threads},
                              {"--reps", BENCH_INT, &reps},
                              {"--dgemm-n", BENCH_SIZE, &dn},
                              {NULL, BENCH_FLAG, NULL}};
    bench_parse_args("ceilings", usage, argc, argv, opts);
    if (mib == 0 || reps < 1 || dn == 0) {
        usage(stderr);
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0)
        threads = cores > 0 ? (int)cores : 1;
    size_t n = mib * 1024 * 1024 / sizeof(double);
    double c1 = stream_gbs(n, 1, reps, 0), cT = stream_gbs(n, threads, reps, 0);
    double t1 = stream_gbs(n, 1, reps, 1), tT = stream_gbs(n, threads, reps, 1);
    if (c1 < 0 || cT < 0 || t1 < 0 || tT < 0) {
        fprintf(stderr, "ceilings: out of memory for %zu MiB arrays\n", mib);
        return 1;
    }
    printf("stream_copy: threads=1 array_mib=%zu gb_per_s=%.2f\n", mib, c1);
    printf("stream_copy: threads=%d array_mib=%zu gb_per_s=%.2f\n", threads,
           mib, cT);
    printf("stream_triad: threads=1 array_mib=%zu gb_per_s=%.2f\n", mib, t1);
    printf("stream_triad: threads=%d array_mib=%zu gb_per_s=%.2f\n", threads,
           mib, tT);
#ifdef XCR_HAVE_OPENBLAS
    double g1 = dgemm_gflops(dn, 1, reps), gT = dgemm_gflops(dn, threads, reps);
    printf("dgemm: threads=1 n=%zu gflops=%.2f\n", dn, g1);
    printf("dgemm: threads=%d n=%zu gflops=%.2f\n", threads, dn, gT);
#else
    printf("dgemm: unavailable (built without OpenBLAS)\n");
#endif
    printf("cores: online=%ld\n", cores);
    return 0;
}
