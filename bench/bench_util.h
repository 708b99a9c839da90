/* Small helpers shared by the benchmarks: wall time, peak memory, sorting
 * timings, and strict parsing of integer options. */
#ifndef XCR_BENCH_UTIL_H
#define XCR_BENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

/* Monotonic wall time in seconds. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Peak resident memory of this process in MiB (-1 if unknown). */
static inline double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0;
}

/* qsort comparator for doubles (timings → median). */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A non-negative integer option; on junk prints the usage and exits 2. */
static inline unsigned long long bench_parse_uint(const char *prog,
                                                  void (*usage)(FILE *),
                                                  const char *opt,
                                                  const char *v)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || *v == '\0' || *v == '-' || *end != '\0' || errno) {
        fprintf(stderr, "%s: %s needs a non-negative integer (got %s)\n",
                prog, opt, v ? v : "nothing");
        usage(stderr);
        exit(2);
    }
    return x;
}

#endif
