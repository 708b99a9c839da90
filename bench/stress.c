/* bench/stress: how fast is a Monte Carlo stress test of a large book?
 *
 * Builds a demo book of N accounts (xcr_demo_book), generates M correlated
 * Monte Carlo scenarios (Student-t copula by default), then times
 * xcr_stress_run — full revaluation of every account under every scenario
 * plus the per-scenario reductions, per-account loss distributions (VaR/ES)
 * and loss attribution by asset.  The baseline is measured in the same run:
 * the first B scenarios on one thread; the timed run uses T threads on all
 * M scenarios.  Both runs share scenario 0..B−1 (counter-based random
 * numbers), so their per-scenario results must be bit-identical, which the
 * bench checks.  One `key=value` line per measurement on stdout.
 *
 * Usage: stress [--accounts N] [--scenarios M] [--baseline-scenarios B]
 *               [--threads T] [--positions P] [--dist normal|t] [--seed S]
 */
#include "xcr.h"
#include "stress/fast.h" /* xcr__stress_run_ex: the full-evaluator path */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_xcr.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stress [--accounts N] [--scenarios M] "
            "[--baseline-scenarios B]\n"
            "              [--threads T] [--positions P] [--dist normal|t] "
            "[--seed S]\n"
            "  --accounts N            demo book size (default 100000)\n"
            "  --scenarios M           Monte Carlo scenarios of the timed "
            "run (default 10000)\n"
            "  --baseline-scenarios B  scenarios of the 1-thread baseline "
            "(default 1000)\n"
            "  --threads T             threads of the timed run; 0 = all "
            "cores (default 2)\n"
            "  --positions P           mean positions per account (default "
            "3)\n"
            "  --dist normal|t         copula (default t, nu = 4)\n"
            "  --seed S                book and scenario seed (default 1)\n"
            "  --no-fast               skip the same-run comparison with "
            "the full-evaluator\n"
            "                          path (B scenarios, T threads)\n");
}

/* fast: 0 automatic (the fast path from 32 scenarios), -1 every cell
 * through the full evaluator (the path before the fast path existed). */
static int run(const xcr_market *m, const xcr_scenarios *s, int threads,
               int fast, xcr_stress_result **r, double *secs)
{
    xcr_stress_opts o;
    xcr_stress_opts_init(&o);
    o.threads = threads;
    xcr_error err = {0};
    xcr__stress_ex ex;
    memset(&ex, 0, sizeof ex);
    ex.fast = fast;
    double t0 = now_s();
    xcr_status st = xcr__stress_run_ex(m, s, &o, &ex, r, &err);
    *secs = now_s() - t0;
    if (st != XCR_OK) {
        fprintf(stderr, "stress: xcr_stress_run failed: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t accounts = 100000, scenarios = 10000, base_n = 1000;
    int threads = 2;
    double ppa = 3;
    uint64_t seed = 1;
    xcr_mc_dist dist = XCR_MC_T;
    int no_fast = 0;
    const char *dist_s = NULL;
    const bench_opt opts[] = {
        {"--accounts", BENCH_SIZE, &accounts},
        {"--scenarios", BENCH_SIZE, &scenarios},
        {"--baseline-scenarios", BENCH_SIZE, &base_n},
        {"--threads", BENCH_INT, &threads},
        {"--positions", BENCH_DBL, &ppa},
        {"--seed", BENCH_U64, &seed},
        {"--dist", BENCH_STR, &dist_s},
        {"--no-fast", BENCH_FLAG, &no_fast},
        {NULL, BENCH_FLAG, NULL}};
    bench_parse_args("stress", usage, argc, argv, opts);
    const int compare_exact = !no_fast;
    if (scenarios == 0 || accounts == 0 ||
        (dist_s && !bench_parse_dist(dist_s, &dist))) {
        usage(stderr);
        return 2;
    }
    if (base_n == 0 || base_n > scenarios)
        base_n = scenarios;
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = bench_threads(threads);

    xcr_book *b = bench_demo_book("stress", accounts, seed, ppa);
    if (!b)
        return 1;
    xcr_market *m = NULL;
    if (xcr_market_new(b, &m) != XCR_OK)
        return 1;
    double gen_base, gen_full;
    xcr_scenarios *sb =
        bench_make_mc("stress", b, base_n, seed, dist, &gen_base);
    xcr_scenarios *sf =
        bench_make_mc("stress", b, scenarios, seed, dist, &gen_full);
    if (!sb || !sf)
        return 1;
    printf("scenarios: n=%zu copula=%s df=4 time_s=%.3f\n", scenarios,
           dist == XCR_MC_T ? "t" : "normal", gen_full);

    xcr_stress_result *rb = NULL, *rf = NULL;
    double tb, tf;
    if (run(m, sb, 1, 0, &rb, &tb) != 0)
        return 1;
    double eb = (double)accounts * (double)base_n;
    printf("stress_1thread: threads=1 scenarios=%zu evals=%.4g time_s=%.3f "
           "evals_per_s=%.4g\n",
           base_n, eb, tb, eb / tb);
    fflush(stdout);
    if (run(m, sf, threads, 0, &rf, &tf) != 0)
        return 1;
    double ef = (double)accounts * (double)scenarios;
    printf("stress_threads: threads=%d scenarios=%zu evals=%.4g time_s=%.3f "
           "evals_per_s=%.4g\n",
           threads, scenarios, ef, tf, ef / tf);
    /* scenarios 0..B−1 are the same in both runs: identical outcomes */
    int identical = 1;
    for (size_t k = 0; k < base_n; k++) {
        xcr_scenario_outcome x, y;
        xcr_stress_outcome(rb, k, &x);
        xcr_stress_outcome(rf, k, &y);
        if (memcmp(&x.loss, &y.loss, sizeof x.loss) != 0 ||
            memcmp(&x.shortfall, &y.shortfall, sizeof x.shortfall) != 0 ||
            memcmp(x.by_status, y.by_status, sizeof x.by_status) != 0 ||
            memcmp(&x.liquidatable_collateral, &y.liquidatable_collateral,
                   sizeof(double)) != 0)
            identical = 0;
    }
    printf("speedup: threads=%d evals_per_s_vs_1thread=%.2fx cores=%ld "
           "identical=%s\n",
           threads, (ef / tf) / (eb / tb), cores, identical ? "yes" : "no");
    int agree = 1;
    if (compare_exact) {
        /* the same B scenarios on T threads with every cell through the
         * full evaluator: the path the fast path replaces */
        xcr_stress_result *rx = NULL;
        double tx;
        if (run(m, sb, threads, -1, &rx, &tx) != 0)
            return 1;
        double max_rel = 0;
        for (size_t k = 0; k < base_n; k++) {
            xcr_scenario_outcome x, y;
            xcr_stress_outcome(rx, k, &x);
            xcr_stress_outcome(rb, k, &y);
            double d = fabs(x.loss - y.loss) /
                       (fabs(x.loss) > 1 ? fabs(x.loss) : 1);
            if (d > max_rel)
                max_rel = d;
            if (d > 1e-9)
                agree = 0;
        }
        printf("stress_exact: threads=%d scenarios=%zu evals=%.4g "
               "time_s=%.3f evals_per_s=%.4g\n",
               threads, base_n, eb, tx, eb / tx);
        printf("fast_vs_exact: threads=%d ratio=%.2fx max_rel_loss_diff=%.2g "
               "agree_1e-9=%s\n",
               threads, (ef / tf) / (eb / tx), max_rel, agree ? "yes" : "no");
        printf("mc_1m_x_1000_estimate: fast_s=%.1f exact_s=%.1f\n",
               1e9 / (ef / tf), 1e9 / (eb / tx));
        xcr_stress_result_free(rx);
    }
    xcr_risk_stats loss, sf_st;
    xcr_stress_book_stats(rf, XCR_METRIC_LOSS, &loss);
    xcr_stress_book_stats(rf, XCR_METRIC_SHORTFALL, &sf_st);
    printf("result: loss_var99=%.6g loss_es99=%.6g shortfall_mean=%.6g "
           "shortfall_es99=%.6g\n",
           loss.var[1], loss.es[1], sf_st.mean, sf_st.es[1]);
    printf("memory: peak_rss_mib=%.1f\n", peak_rss_mib());
    xcr_stress_result_free(rb);
    xcr_stress_result_free(rf);
    xcr_scenarios_free(sb);
    xcr_scenarios_free(sf);
    xcr_market_free(m);
    xcr_book_free(b);
    return identical && agree ? 0 : 1;
}
