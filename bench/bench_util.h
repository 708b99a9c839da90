/* Small helpers shared by the benchmarks: wall time, peak memory, sorting
 * timings, strict parsing of integer options and a table-driven argument
 * parser.  No libxcr here (bench/ceilings does not link it): helpers that
 * need it are in bench_xcr.h. */
#ifndef XCR_BENCH_UTIL_H
#define XCR_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

/* A uniform in [0, 1) from splitmix64 (Steele, Lea & Flood, "Fast
 * splittable pseudorandom number generators", OOPSLA 2014) advancing
 * *state: the benches' seeded synthetic inputs. */
static inline double bench_unif(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* What a command-line option stores (bench_parse_args). */
typedef enum bench_kind {
    BENCH_SIZE, /* size_t from a non-negative integer                  */
    BENCH_INT,  /* int from a non-negative integer                     */
    BENCH_U64,  /* uint64_t from a non-negative integer                */
    BENCH_DBL,  /* double from a non-negative integer                  */
    BENCH_STR,  /* const char *: the next argument as it is           */
    BENCH_FLAG  /* int set to 1; takes no value                        */
} bench_kind;

typedef struct bench_opt {
    const char *name; /* "--accounts"; NULL ends a table               */
    bench_kind kind;
    void *val;
} bench_opt;

/* Parse argv against a NULL-terminated table: "--name V" stores V in
 * *val; --help or -h prints the usage on stdout and exits 0; an unknown
 * argument or a missing value prints it on stderr and exits 2. */
static inline void bench_parse_args(const char *prog, void (*usage)(FILE *),
                                    int argc, char **argv,
                                    const bench_opt *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        const bench_opt *o = opts;
        while (o->name && strcmp(o->name, a) != 0)
            o++;
        if (!o->name || (o->kind == BENCH_STR && !v)) {
            usage(stderr);
            exit(2);
        }
        switch (o->kind) {
        case BENCH_FLAG:
            *(int *)o->val = 1;
            continue;
        case BENCH_STR:
            *(const char **)o->val = v;
            break;
        case BENCH_SIZE:
            *(size_t *)o->val = (size_t)bench_parse_uint(prog, usage, a, v);
            break;
        case BENCH_INT:
            *(int *)o->val = (int)bench_parse_uint(prog, usage, a, v);
            break;
        case BENCH_U64:
            *(uint64_t *)o->val = bench_parse_uint(prog, usage, a, v);
            break;
        case BENCH_DBL:
            *(double *)o->val = (double)bench_parse_uint(prog, usage, a, v);
            break;
        }
        i++;
    }
}

/* Threads to use: t, or all online cores when t <= 0. */
static inline int bench_threads(int t)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return t > 0 ? t : cores > 0 ? (int)cores : 1;
}

#endif
