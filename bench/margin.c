/* bench/margin: how fast is a full revaluation of a large book?
 *
 * Builds a demo book (xcr_demo_book) of N accounts, then times
 * xcr_margin_all over it: first single-threaded (the baseline, measured in
 * the same run so the comparison is on the same machine, book and memory
 * layout), then with the requested number of threads.  Every measurement
 * prints one line to stdout; see bench/README.md for the fields.
 *
 * The streaming fast path (src/margin/fast_margin.c) is then compared,
 * in the same run and with the same threads, with the evaluator it must
 * match bit for bit (the reference path, what xcr_margin_all ran before the
 * fast path) and with its own baseline (non-AVX2) kernel.  --old times the
 * reference path in the first two measurements instead.  Last, the
 * layout's floor (margin_floor.h): the same bytes with no margin
 * arithmetic, whose fraction of the copy bandwidth bounds the kernel's.
 *
 * Usage: margin [--accounts N] [--positions P] [--threads T] [--reps R]
 *               [--seed S] [--old]
 */
#include "xcr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "book/book.h" /* the arrays a revaluation reads (bandwidth) */
#include "margin/fast_margin.h" /* the path switch (xcr__margin_all_path) */
#include "margin_floor.h"
#include "stream.h"

/* Peak resident set size in MiB (Linux reports ru_maxrss in KiB). */
static void usage(FILE *f)
{
    fprintf(f, "usage: margin [--accounts N] [--positions P] [--threads T] "
               "[--reps R] [--seed S] [--old]\n"
               "  --accounts N   accounts in the demo book (default "
               "1000000)\n"
               "  --positions P  mean positions per account (default 8)\n"
               "  --threads T    threads for the timed run; 0 = all cores "
               "(default 0)\n"
               "  --reps R       repetitions per measurement (default 5)\n"
               "  --seed S       demo book seed (default 1)\n"
               "  --old          time the reference evaluator (no fast "
               "path)\n");
}

/* Parse a non-negative integer option value; exits with status 2 on junk. */
typedef struct timing {
    double best, median;
} timing;

/* Time `reps` runs of xcr_margin_all; returns 0 on success. */
static int time_margin(const xcr_market *m, int threads, int reps,
                       xcr__mpath path, xcr_account_result *out, timing *t)
{
    double *dt = malloc((size_t)reps * sizeof *dt);
    if (!dt)
        return -1;
    for (int k = 0; k < reps; k++) {
        xcr_error err = {0};
        double t0 = now_s();
        xcr_status s = xcr__margin_all_path(m, threads, out, path, &err);
        dt[k] = now_s() - t0;
        if (s != XCR_OK) {
            fprintf(stderr, "margin: xcr_margin_all failed: %s\n", err.msg);
            free(dt);
            return -1;
        }
    }
    qsort(dt, (size_t)reps, sizeof *dt, cmp_double);
    t->best = dt[0];
    t->median = reps % 2 ? dt[reps / 2]
                         : 0.5 * (dt[reps / 2 - 1] + dt[reps / 2]);
    free(dt);
    return 0;
}

/* Bitwise equality of two results, field by field (not memcmp of the
 * structs: their padding is not part of the result). */
static int same_result(const xcr_account_result *a,
                       const xcr_account_result *b)
{
    const double x[7] = {a->equity, a->collateral, a->initial_margin,
                         a->maintenance_margin, a->health, a->health_factor,
                         a->borrow_capacity};
    const double y[7] = {b->equity, b->collateral, b->initial_margin,
                         b->maintenance_margin, b->health, b->health_factor,
                         b->borrow_capacity};
    return memcmp(x, y, sizeof x) == 0 && a->status == b->status;
}

static void print_timing(const char *label, int threads, int reps,
                         size_t accounts, size_t positions, const timing *t)
{
    printf("%s: threads=%d reps=%d best_s=%.6f median_s=%.6f "
           "positions_per_s=%.4g accounts_per_s=%.4g\n",
           label, threads, reps, t->best, t->median,
           (double)positions / t->best, (double)accounts / t->best);
}

int main(int argc, char **argv)
{
    size_t accounts = 1000000;
    double positions = 8;
    long threads = 0;
    int reps = 5;
    unsigned long long seed = 1;
    xcr__mpath main_path = XCR__MPATH_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--accounts") == 0) {
            accounts = (size_t)bench_parse_uint("margin", usage, a, v);
            i++;
        } else if (strcmp(a, "--positions") == 0) {
            char *end;
            positions = v ? strtod(v, &end) : -1;
            if (!v || *end != '\0' || !(positions > 0)) {
                fprintf(stderr, "margin: --positions needs a number > 0\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--threads") == 0) {
            unsigned long long t = bench_parse_uint("margin", usage, a, v);
            threads = t > 4096 ? 4097 : (long)t;
            i++;
        } else if (strcmp(a, "--reps") == 0) {
            unsigned long long r = bench_parse_uint("margin", usage, a, v);
            reps = r > 100000 ? 100001 : (int)r;
            i++;
        } else if (strcmp(a, "--seed") == 0) {
            seed = bench_parse_uint("margin", usage, a, v);
            i++;
        } else if (strcmp(a, "--old") == 0) {
            main_path = XCR__MPATH_REFERENCE;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "margin: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (accounts == 0 || reps <= 0 || reps > 100000 || threads > 4096) {
        fprintf(stderr, "margin: --accounts must be > 0, --reps in "
                        "1..100000 and --threads at most 4096\n");
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    int nthreads = threads > 0 ? (int)threads : (int)cores;

    /* 1. build */
    xcr_demo_opts o = {accounts, seed ? seed : 1, positions};
    xcr_book *b = NULL;
    xcr_error err = {0};
    double t0 = now_s();
    if (xcr_demo_book(&o, NULL, &b, &err) != XCR_OK) {
        fprintf(stderr, "margin: demo book failed: %s\n", err.msg);
        return 1;
    }
    double build_s = now_s() - t0;
    size_t n = xcr_book_account_count(b);
    size_t npos = xcr_book_position_count(b);
    printf("build: accounts=%zu positions=%zu instruments=%zu seed=%llu "
           "time_s=%.3f accounts_per_s=%.4g\n",
           n, npos, xcr_book_instrument_count(b),
           (unsigned long long)o.seed, build_s, (double)n / build_s);

    xcr_market *m = NULL;
    xcr_account_result *base = malloc((n ? n : 1) * sizeof *base);
    xcr_account_result *res = malloc((n ? n : 1) * sizeof *res);
    if (!base || !res || xcr_market_new(b, &m) != XCR_OK) {
        fprintf(stderr, "margin: out of memory\n");
        return 1;
    }

    /* 2. baseline: one thread */
    timing t1, tn;
    if (time_margin(m, 1, reps, main_path, base, &t1) != 0)
        return 1;
    print_timing("margin_1thread", 1, reps, n, npos, &t1);

    /* 3. the requested thread count */
    if (time_margin(m, nthreads, reps, main_path, res, &tn) != 0)
        return 1;
    print_timing("margin_threads", nthreads, reps, n, npos, &tn);
    /* The engine promises bit-identical results for any thread count. */
    int identical = 1;
    for (size_t i = 0; i < n && identical; i++)
        identical = same_result(&base[i], &res[i]);
    printf("speedup: threads=%d vs_1thread_best=%.2fx "
           "vs_1thread_median=%.2fx cores=%ld identical=%s\n",
           nthreads, t1.best / tn.best, t1.median / tn.median, cores,
           identical ? "yes" : "NO");

    /* 3b. same run, same threads: the reference evaluator and the fast
     * path's baseline kernel, each checked bit for bit against `base`. */
    xcr_account_result *alt = malloc((n ? n : 1) * sizeof *alt);
    if (!alt) {
        fprintf(stderr, "margin: out of memory\n");
        return 1;
    }
    const struct {
        const char *label;
        xcr__mpath path;
    } others[2] = {{"margin_reference", XCR__MPATH_REFERENCE},
                   {"margin_fast_scalar", XCR__MPATH_SCALAR}};
    for (int k = 0; k < 2; k++) {
        timing to;
        if (time_margin(m, nthreads, reps, others[k].path, alt, &to) != 0)
            return 1;
        print_timing(others[k].label, nthreads, reps, n, npos, &to);
        int same = 1;
        for (size_t i = 0; i < n && same; i++)
            same = same_result(&base[i], &alt[i]);
        identical = identical && same;
        printf("ratio: %s_best_s=%.6f margin_threads_best_s=%.6f "
               "speedup_vs_%s=%.2fx identical=%s\n",
               others[k].label, to.best, tn.best, others[k].label,
               to.best / tn.best, same ? "yes" : "NO");
    }
    free(alt);

    size_t st[4] = {0};
    for (size_t i = 0; i < n; i++)
        if ((unsigned)res[i].status < 4)
            st[res[i].status]++;
    printf("status: healthy=%zu margin_call=%zu liquidatable=%zu "
           "bankrupt=%zu\n",
           st[XCR_HEALTHY], st[XCR_MARGIN_CALL], st[XCR_LIQUIDATABLE],
           st[XCR_BANKRUPT]);
    double rss = peak_rss_mib();
    printf("memory: peak_rss_mib=%.1f peak_rss_bytes_per_position=%.1f\n",
           rss, npos ? rss * 1048576.0 / (double)npos : 0.0);

    /* Bytes a revaluation must move at the least: every array of the book
     * it reads once (per account: two CSR offsets, mode, e-mode; per
     * balance: asset and amount; per position: instrument, size, entry,
     * and the isolated margin of isolated accounts' positions) plus the
     * results it writes.  Per-asset and per-instrument tables are a few KiB
     * and stay in cache: not counted.  Fraction of the ceiling = those
     * bytes / best time / STREAM copy bandwidth measured just after, in
     * the same run (after the memory line: its arrays are not the book's), with the same threads (bench/stream.h). */
    double bytes = (double)n * (2 * sizeof(uint32_t) + sizeof(uint8_t) +
                                sizeof(int32_t) + sizeof(xcr_account_result)) +
                   (double)b->n_bals * (sizeof(uint32_t) + sizeof(double)) +
                   (double)npos * (sizeof(uint32_t) + 2 * sizeof(double));
    for (size_t i = 0; i < n; i++)
        if (b->acct_mode[i] == XCR_MODE_ISOLATED)
            bytes += (double)(b->pos_off[i + 1] - b->pos_off[i]) *
                     sizeof(double);
    double copy = stream_gbs((size_t)32 << 20, nthreads, 3, 0);
    double gbs = bytes / tn.best / 1e9;
    printf("bandwidth: threads=%d bytes_per_revaluation=%.0f gb_per_s=%.2f "
           "stream_copy_gb_per_s=%.2f fraction_of_copy=%.3f\n",
           nthreads, bytes, gbs, copy, copy > 0 ? gbs / copy : 0.0);
    /* The layout's floor (margin_floor.h): the same bytes read and
     * written with no margin arithmetic, same threads, same run. */
    double fl = floor_best_s(b, nthreads, reps, res);
    if (fl > 0) {
        double fgbs = bytes / fl / 1e9;
        printf("floor: threads=%d reps=%d best_s=%.6f gb_per_s=%.2f "
               "fraction_of_copy=%.3f margin_vs_floor=%.2fx\n",
               nthreads, reps, fl, fgbs, copy > 0 ? fgbs / copy : 0.0,
               tn.best / fl);
    }


    xcr_market_free(m);
    xcr_book_free(b);
    free(base);
    free(res);
    return identical ? 0 : 1;
}
