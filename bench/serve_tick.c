/* In-process cost of the monitor's tick path (bench/serve.sh step 0;
 * docs/serve.md "Benchmark"), without HTTP, and against the batch path.
 *
 *   serve_tick ACCOUNTS THREADS SYMBOL TICKS
 *
 * Opens a monitor on the demo book (xcr_monitor_open, no database), applies
 * TICKS one-tick batches of SYMBOL alternating its price by ±1 % (so
 * accounts near a level cross it on every tick), and prints the recompute
 * time per tick (best, median, p99) and the nanoseconds per re-evaluated
 * account.  Baseline, measured in the same run on the same state: a full
 * xcr_margin_all of the monitor's snapshot with the same thread count
 * (best of 3), per account; the ratio says how much more a re-evaluated
 * account costs on the tick path (scattered accounts, alert detection,
 * commit) than in the batch that streams the book in order.  On a shared
 * machine the best tick is the figure least disturbed by other load.
 * Compiled by bench/serve.sh against the build's libxcr. */
#define _POSIX_C_SOURCE 200809L
#include "xcr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: serve_tick ACCOUNTS THREADS SYMBOL TICKS\n");
        return 2;
    }
    xcr_monitor_opts o;
    xcr_monitor_opts_init(&o);
    o.demo_accounts = strtoul(argv[1], NULL, 10);
    o.threads = atoi(argv[2]);
    int n = atoi(argv[4]);
    if (!o.demo_accounts || n < 1) {
        fprintf(stderr, "serve_tick: ACCOUNTS and TICKS must be > 0\n");
        return 2;
    }
    xcr_monitor *m = NULL;
    xcr_error err = {0};
    if (xcr_monitor_open(&o, &m, NULL, &err) != XCR_OK) {
        fprintf(stderr, "serve_tick: %s\n", err.msg);
        return 1;
    }
    const xcr_book *b = xcr_monitor_book(m);
    long a = xcr_book_find_asset(b, argv[3]);
    if (a < 0) {
        fprintf(stderr, "serve_tick: unknown symbol %s\n", argv[3]);
        return 2;
    }
    double price = xcr_book_asset_price(b, (size_t)a);
    double *ms = malloc((size_t)n * sizeof *ms);
    size_t touched = 0, alerts = 0;
    for (int i = 0; i < n; i++) {
        xcr_tick t = {(size_t)a, price * (i % 2 ? 1.01 : 0.99), NAN};
        xcr_update_result r;
        if (xcr_monitor_apply_ticks(m, &t, 1, 1.7e9 + i, &r, &err) !=
            XCR_OK) {
            fprintf(stderr, "serve_tick: %s\n", err.msg);
            return 1;
        }
        ms[i] = r.recompute_ms;
        touched = r.recomputed;
        alerts += r.alerts;
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp);
    double best = ms[0], med = ms[n / 2];
    double p99 = ms[(size_t)(0.99 * (n - 1) + 0.5)];
    /* the batch baseline on the same state */
    xcr_book *sb = NULL;
    xcr_market *mk = NULL;
    if (xcr_monitor_snapshot(m, &sb, &mk, &err) != XCR_OK) {
        fprintf(stderr, "serve_tick: %s\n", err.msg);
        return 1;
    }
    size_t na = xcr_book_account_count(sb);
    xcr_account_result *out = malloc((na + 1) * sizeof *out);
    double full = INFINITY;
    for (int k = 0; k < 3; k++) {
        double t0 = now_ms();
        if (xcr_margin_all(mk, o.threads, out, &err) != XCR_OK) {
            fprintf(stderr, "serve_tick: %s\n", err.msg);
            return 1;
        }
        double dt = now_ms() - t0;
        if (dt < full)
            full = dt;
    }
    double ns_tick = best * 1e6 / (double)(touched ? touched : 1);
    double ns_full = full * 1e6 / (double)na;
    printf("serve_tick: accounts=%zu threads=%d symbol=%s ticks=%d "
           "reevaluated=%zu alerts_per_tick=%.0f recompute_ms best=%.2f "
           "median=%.2f p99=%.2f ns_per_reevaluated_account best=%.0f "
           "median=%.0f\n",
           na, o.threads, argv[3], n, touched, (double)alerts / n, best, med,
           p99, ns_tick, med * 1e6 / (double)(touched ? touched : 1));
    printf("serve_tick: baseline xcr_margin_all threads=%d best_ms=%.2f "
           "ns_per_account=%.0f ratio_tick_vs_batch=%.2fx\n",
           o.threads, full, ns_full, ns_tick / ns_full);
    free(out);
    free(ms);
    xcr_market_free(mk);
    xcr_book_free(sb);
    xcr_monitor_free(m);
    return 0;
}
