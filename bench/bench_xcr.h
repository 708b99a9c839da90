/* Helpers shared by the benchmarks that link libxcr (bench_util.h has the
 * rest): the demo book, Monte Carlo scenario sets, the copula option. */
#ifndef XCR_BENCH_XCR_H
#define XCR_BENCH_XCR_H

#include "xcr.h"

#include "bench_util.h"

#include <stdbool.h>

/* "t" or "normal" (--dist); false for anything else. */
static inline bool bench_parse_dist(const char *v, xcr_mc_dist *out)
{
    if (strcmp(v, "t") == 0)
        *out = XCR_MC_T;
    else if (strcmp(v, "normal") == 0)
        *out = XCR_MC_NORMAL;
    else
        return false;
    return true;
}

/* The demo book of `accounts` accounts (xcr_demo_book), with its "build:"
 * line on stdout; NULL (after a message naming prog) on failure. */
static inline xcr_book *bench_demo_book(const char *prog, size_t accounts,
                                        uint64_t seed, double ppa)
{
    xcr_demo_opts dopt = {accounts, seed, ppa};
    xcr_book *b = NULL;
    xcr_error err = {0};
    double t0 = now_s();
    if (xcr_demo_book(&dopt, NULL, &b, &err) != XCR_OK) {
        fprintf(stderr, "%s: demo book failed: %s\n", prog, err.msg);
        return NULL;
    }
    printf("build: accounts=%zu positions=%zu assets=%zu instruments=%zu "
           "seed=%llu time_s=%.3f\n",
           accounts, xcr_book_position_count(b), xcr_book_asset_count(b),
           xcr_book_instrument_count(b), (unsigned long long)seed,
           now_s() - t0);
    return b;
}

/* n Monte Carlo scenarios (df 4 for the t copula, 1-day horizon) of book
 * b; the generation time in *secs.  NULL (after a message naming prog) on
 * failure. */
static inline xcr_scenarios *bench_make_mc(const char *prog,
                                           const xcr_book *b, size_t n,
                                           uint64_t seed, xcr_mc_dist dist,
                                           double *secs)
{
    xcr_scenarios *s = NULL;
    if (xcr_scenarios_new(b, &s) != XCR_OK)
        return NULL;
    xcr_mc_opts o;
    memset(&o, 0, sizeof o);
    o.n = n;
    o.seed = seed;
    o.dist = dist;
    o.df = 4;
    o.horizon_days = 1;
    xcr_error err = {0};
    double t0 = now_s();
    if (xcr_scenarios_add_mc(s, &o, &err) != XCR_OK) {
        fprintf(stderr, "%s: Monte Carlo failed: %s\n", prog, err.msg);
        xcr_scenarios_free(s);
        return NULL;
    }
    *secs = now_s() - t0;
    return s;
}

#endif
