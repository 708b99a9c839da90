/* bench/portfolio: how fast is risk-matrix portfolio margin?
 *
 * Builds a book of N portfolio accounts, each holding P option positions
 * (default 100,000 × 20) on BTC and ETH: BTC options settled in BTC
 * (Deribit-style, 1 BTC per contract), ETH options settled in USDC, over 6
 * expiries × 21 strikes × call/put.  Every account evaluation fully revalues
 * each option at the (2·4+1)·3 = 27 standard scenarios plus 8 extended ones
 * with the vectorised Black-76 kernel (src/portfolio/pm_kernel.c), without
 * allocating.
 *
 * Measurements, each one line of key=value fields on stdout:
 *  - pm_1thread / pm_threads: xcr_margin_all over the book on one thread
 *    (the baseline, measured in the same run) and on T threads; account
 *    evaluations/s, positions/s and option scenario revaluations/s;
 *  - speedup, with a bit-identical check of both runs;
 *  - kernel_vectorised / kernel_scalar: 35-scenario revaluations of one
 *    option by the kernel against a loop of xcr_black76 (libm erfc), the
 *    other baseline.
 *
 * Usage: portfolio [--accounts N] [--positions P] [--threads T] [--reps R]
 *                  [--seed S]
 */
#include "portfolio/pm.h"
#include "xcr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: portfolio [--accounts N] [--positions P] [--threads T] "
               "[--reps R] [--seed S]\n"
               "  --accounts N   portfolio accounts (default 100000)\n"
               "  --positions P  option positions per account (default 20)\n"
               "  --threads T    threads for the timed run; 0 = all cores "
               "(default 0)\n"
               "  --reps R       repetitions per measurement (default 3)\n"
               "  --seed S       book seed (default 1)\n");
}

static uint64_t rng;
static double unif(void) { return bench_unif(&rng); }

#define NEXP 6
#define NSTRIKE 21

static int fail(const char *what, const xcr_error *err)
{
    fprintf(stderr, "portfolio: %s: %s\n", what, err->msg);
    return 1;
}

/* The book, through the builder API. */
static int build_book(size_t n, size_t per, xcr_book **out)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    if (xcr_book_new(NULL, &b) != XCR_OK)
        return 1;
    xcr_book_set_as_of(b, "2024-06-17T08:00:00Z", NULL, &err);
    const char *sym[3] = {"USDC", "BTC", "ETH"};
    const double px[3] = {1, 64000, 3400};
    for (int a = 0; a < 3; a++) {
        xcr_asset_def d;
        xcr_asset_def_init(&d);
        d.symbol = sym[a];
        d.price = px[a];
        d.stable = a == 0;
        if (xcr_book_add_asset(b, &d, NULL, &err) != XCR_OK)
            return fail("asset", &err);
    }
    static const char *const exp_iso[NEXP] = {
        "2024-06-21T08:00:00Z", "2024-06-28T08:00:00Z",
        "2024-07-26T08:00:00Z", "2024-09-27T08:00:00Z",
        "2024-12-27T08:00:00Z", "2025-03-28T08:00:00Z"};
    char id[64];
    for (int u = 1; u <= 2; u++)
        for (int e = 0; e < NEXP; e++)
            for (int k = 0; k < NSTRIKE; k++)
                for (int c = 0; c < 2; c++) {
                    xcr_instrument_def d;
                    xcr_instrument_def_init(&d);
                    snprintf(id, sizeof id, "%s-%d-%d-%c", sym[u], e, k,
                             c ? 'C' : 'P');
                    d.id = id;
                    d.type = XCR_OPTION;
                    d.underlying = sym[u];
                    d.settle = u == 1 ? "BTC" : "USDC";
                    d.expiry = exp_iso[e];
                    d.strike = px[u] * (0.5 + 0.05 * k);
                    d.is_call = c;
                    d.iv = 0.45 + 0.3 * fabs(0.05 * k - 0.5) + 0.02 * e;
                    if (xcr_book_add_instrument(b, &d, NULL, &err) != XCR_OK)
                        return fail("instrument", &err);
                }
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "pm-%07zu", i);
        xcr_account_def ad = {id, XCR_MODE_PORTFOLIO, 0, NULL};
        if (xcr_book_add_account(b, &ad, NULL, &err) != XCR_OK ||
            xcr_book_add_balance(b, id, "BTC", 1 + 5 * unif(), NULL, &err) !=
                XCR_OK ||
            xcr_book_add_balance(b, id, "USDC", 1e5 * unif(), NULL, &err) !=
                XCR_OK)
            return fail("account", &err);
        for (size_t k = 0; k < per; k++) {
            int u = unif() < 0.6 ? 1 : 2;
            int e = (int)(unif() * NEXP), s = 4 + (int)(unif() * 13);
            int c = unif() < 0.5;
            char iid[64];
            snprintf(iid, sizeof iid, "%s-%d-%d-%c", sym[u], e, s,
                     c ? 'C' : 'P');
            double size = (unif() - 0.6) * (u == 1 ? 2 : 30);
            if (xcr_book_add_position(b, id, iid, size, NAN, 0, NULL, &err) !=
                XCR_OK)
                return fail("position", &err);
        }
    }
    if (xcr_book_finalize(b, &err) != XCR_OK)
        return fail("finalize", &err);
    *out = b;
    return 0;
}

typedef struct timing {
    double best, median;
} timing;

static int time_all(const xcr_market *m, int threads, int reps,
                    xcr_account_result *out, timing *t)
{
    double dt[64];
    if (reps > 64)
        reps = 64;
    for (int k = 0; k < reps; k++) {
        xcr_error err = {0};
        double t0 = now_s();
        xcr_status s = xcr_margin_all(m, threads, out, &err);
        dt[k] = now_s() - t0;
        if (s != XCR_OK)
            return fail("xcr_margin_all", &err);
    }
    qsort(dt, (size_t)reps, sizeof *dt, cmp_double);
    t->best = dt[0];
    t->median = reps % 2 ? dt[reps / 2]
                         : 0.5 * (dt[reps / 2 - 1] + dt[reps / 2]);
    return 0;
}

static void print_timing(const char *label, int threads, int reps, size_t n,
                         size_t npos, const timing *t)
{
    printf("%s: threads=%d reps=%d best_s=%.6f median_s=%.6f "
           "account_evals_per_s=%.4g positions_per_s=%.4g "
           "scenario_revals_per_s=%.4g\n",
           label, threads, reps, t->best, t->median, (double)n / t->best,
           (double)npos / t->best, (double)npos * 35.0 / t->best);
}

/* Kernel against a scalar loop of xcr_black76: options × 35 scenarios. */
static void bench_kernel(void)
{
    enum { NS = 35, NOPT = 200000 };
    double mult[NS], lnm[NS], sig[NS], out[NS];
    for (int s = 0; s < NS; s++) {
        mult[s] = 0.5 + (double)s / NS * 1.5;
        lnm[s] = log(mult[s]);
        sig[s] = 0.4 + 0.2 * (s % 3);
    }
    double sink = 0;
    double t0 = now_s();
    for (int k = 0; k < NOPT; k++) {
        xcr__pm_b76_batch(k & 1, 64000 + k, 66000, 0.3, mult, lnm, sig, NS,
                          out);
        sink += out[k % NS];
    }
    double tv = now_s() - t0;
    t0 = now_s();
    for (int k = 0; k < NOPT; k++) {
        for (int s = 0; s < NS; s++) {
            xcr_greeks g;
            xcr_black76(k & 1, (64000 + k) * mult[s], 66000, 0.09, sig[s],
                        &g);
            out[s] = g.value;
        }
        sink += out[k % NS];
    }
    double ts = now_s() - t0;
    printf("kernel_vectorised: options=%d scenarios=%d time_s=%.4f "
           "revals_per_s=%.4g\n",
           NOPT, NS, tv, (double)NOPT * NS / tv);
    printf("kernel_scalar: options=%d scenarios=%d time_s=%.4f "
           "revals_per_s=%.4g speedup=%.2fx (checksum %.3g)\n",
           NOPT, NS, ts, (double)NOPT * NS / ts, ts / tv, sink);
}

int main(int argc, char **argv)
{
    size_t accounts = 100000, per = 20;
    long threads = 0;
    int reps = 3;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--accounts") == 0) {
            accounts = (size_t)bench_parse_uint("portfolio", usage, a, v);
            i++;
        } else if (strcmp(a, "--positions") == 0) {
            per = (size_t)bench_parse_uint("portfolio", usage, a, v);
            i++;
        } else if (strcmp(a, "--threads") == 0) {
            unsigned long long t = bench_parse_uint("portfolio", usage, a, v);
            threads = t > 4096 ? 4097 : (long)t;
            i++;
        } else if (strcmp(a, "--reps") == 0) {
            unsigned long long r = bench_parse_uint("portfolio", usage, a, v);
            reps = r > 64 ? 65 : (int)r;
            i++;
        } else if (strcmp(a, "--seed") == 0) {
            seed = bench_parse_uint("portfolio", usage, a, v);
            i++;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "portfolio: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (accounts == 0 || per == 0 || per > 1000 || reps <= 0 || reps > 64 ||
        threads > 4096) {
        fprintf(stderr, "portfolio: --accounts and --positions (≤ 1000) must "
                        "be > 0, --reps in 1..64, --threads at most 4096\n");
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    int nthreads = threads > 0 ? (int)threads : (int)cores;
    rng = seed;

    double t0 = now_s();
    xcr_book *b = NULL;
    if (build_book(accounts, per, &b) != 0)
        return 1;
    double build_s = now_s() - t0;
    size_t n = xcr_book_account_count(b), npos = xcr_book_position_count(b);
    printf("build: accounts=%zu positions=%zu instruments=%zu seed=%llu "
           "time_s=%.3f\n",
           n, npos, xcr_book_instrument_count(b), seed, build_s);

    xcr_market *m = NULL;
    xcr_account_result *r1 = malloc(n * sizeof *r1);
    xcr_account_result *rn = malloc(n * sizeof *rn);
    if (!r1 || !rn || xcr_market_new(b, &m) != XCR_OK) {
        fprintf(stderr, "portfolio: out of memory\n");
        return 1;
    }
    timing t1, tn;
    if (time_all(m, 1, reps, r1, &t1) != 0)
        return 1;
    print_timing("pm_1thread", 1, reps, n, npos, &t1);
    if (time_all(m, nthreads, reps, rn, &tn) != 0)
        return 1;
    print_timing("pm_threads", nthreads, reps, n, npos, &tn);
    int identical = 1;
    for (size_t i = 0; i < n && identical; i++)
        identical = memcmp(&r1[i].maintenance_margin, &rn[i].maintenance_margin,
                           sizeof(double)) == 0 &&
                    memcmp(&r1[i].initial_margin, &rn[i].initial_margin,
                           sizeof(double)) == 0 &&
                    r1[i].status == rn[i].status;
    printf("speedup: threads=%d vs_1thread_best=%.2fx vs_1thread_median=%.2fx "
           "cores=%ld identical=%s\n",
           nthreads, t1.best / tn.best, t1.median / tn.median, cores,
           identical ? "yes" : "NO");
    size_t st[4] = {0};
    double mm = 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)rn[i].status < 4)
            st[rn[i].status]++;
        mm += rn[i].maintenance_margin;
    }
    printf("status: healthy=%zu margin_call=%zu liquidatable=%zu "
           "bankrupt=%zu total_mm_usd=%.6g\n",
           st[0], st[1], st[2], st[3], mm);
    bench_kernel();
    printf("memory: peak_rss_mib=%.1f\n", peak_rss_mib());
    xcr_market_free(m);
    xcr_book_free(b);
    free(r1);
    free(rn);
    return identical ? 0 : 1;
}
