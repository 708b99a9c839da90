/* bench/stress_gpu: Monte Carlo stress on the GPU against the CPU path.
 *
 * Builds a demo book of N accounts (xcr_demo_book), generates M correlated
 * Monte Carlo scenarios (Student-t copula by default), then times, in the
 * same run and on the same book and scenarios:
 *   - xcr_stress_run_gpu (after one small warm-up run that creates the
 *     CUDA context), with the moves uploaded and again with the moves drawn
 *     on the device;
 *   - xcr_stress_run on T threads (default: all cores), the baseline.
 * Both compute everything a stress report needs (per-scenario totals, per-
 * account statistics with VaR/ES, loss by asset).  The bench then compares
 * the two results (per-scenario loss and shortfall, per-account ES 99 %)
 * and prints the worst relative difference and how many values are the
 * same double.  One `key=value` line per measurement on stdout; exit 1 if
 * the results disagree beyond 1e-9 relative.  Without a usable GPU it says
 * so and exits 0.
 *
 * Usage: stress_gpu [--accounts N] [--scenarios M] [--threads T]
 *                   [--positions P] [--dist normal|t] [--seed S]
 */
#include "xcr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_xcr.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stress_gpu [--accounts N] [--scenarios M] [--threads T]\n"
            "                  [--positions P] [--dist normal|t] [--seed S]\n"
            "  --accounts N     demo book size (default 1000000)\n"
            "  --scenarios M    Monte Carlo scenarios (default 1000)\n"
            "  --threads T      threads of the CPU baseline; 0 = all cores "
            "(default 0)\n"
            "  --positions P    mean positions per account (default 3)\n"
            "  --dist normal|t  copula (default t, nu = 4)\n"
            "  --seed S         book and scenario seed (default 1)\n");
}

/* Per-account VaR/ES and loss by asset on, as the CLI's automatic choice
 * gives for this size, so both back ends do the whole job. */
static void stress_opts(xcr_stress_opts *o, int threads)
{
    xcr_stress_opts_init(o);
    o->threads = threads;
    o->account_quantiles = 1;
    o->asset_detail = 1;
}

typedef struct diff {
    size_t n, same;
    double worst;
} diff;

static void note(diff *d, double a, double b)
{
    d->n++;
    if (memcmp(&a, &b, sizeof a) == 0) {
        d->same++;
        return;
    }
    double r = fabs(a - b) / (fabs(b) > 1 ? fabs(b) : 1);
    if (!(r <= d->worst))
        d->worst = r;
}

int main(int argc, char **argv)
{
    size_t accounts = 1000000, scenarios = 1000;
    int threads = 0;
    double ppa = 3;
    uint64_t seed = 1;
    xcr_mc_dist dist = XCR_MC_T;
    const char *dist_s = NULL;
    const bench_opt opts[] = {{"--accounts", BENCH_SIZE, &accounts},
                              {"--scenarios", BENCH_SIZE, &scenarios},
                              {"--threads", BENCH_INT, &threads},
                              {"--positions", BENCH_DBL, &ppa},
                              {"--seed", BENCH_U64, &seed},
                              {"--dist", BENCH_STR, &dist_s},
                              {NULL, BENCH_FLAG, NULL}};
    bench_parse_args("stress_gpu", usage, argc, argv, opts);
    if (scenarios == 0 || accounts == 0 ||
        (dist_s && !bench_parse_dist(dist_s, &dist))) {
        usage(stderr);
        return 2;
    }
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = bench_threads(threads);
    char dev[128];
    if (!xcr_gpu_available(dev, sizeof dev)) {
        printf("gpu: none (%s); nothing to measure\n", dev);
        return 0;
    }
    printf("gpu: device=\"%s\"\n", dev);

    xcr_book *b = bench_demo_book("stress_gpu", accounts, seed, ppa);
    if (!b)
        return 1;
    xcr_error err = {0};
    double t0;
    xcr_market *m = NULL;
    if (xcr_market_new(b, &m) != XCR_OK)
        return 1;
    double tgen, tw;
    xcr_scenarios *s =
        bench_make_mc("stress_gpu", b, scenarios, seed, dist, &tgen);
    xcr_scenarios *sw = bench_make_mc("stress_gpu", b, 32, seed, dist, &tw);
    if (!s || !sw)
        return 1;
    printf("scenarios: n=%zu copula=%s df=4 time_s=%.3f\n", scenarios,
           dist == XCR_MC_T ? "t" : "normal", tgen);

    xcr_stress_opts o;
    stress_opts(&o, threads);
    xcr_gpu_opts g;
    xcr_gpu_opts_init(&g);
    xcr_stress_result *rw = NULL, *rg = NULL, *rd = NULL, *rc = NULL;
    /* warm-up: CUDA context and module load */
    t0 = now_s();
    if (xcr_stress_run_gpu(m, sw, &o, &g, &rw, &err) != XCR_OK) {
        fprintf(stderr, "stress_gpu: GPU run failed: %s\n", err.msg);
        return 1;
    }
    printf("gpu_warmup: scenarios=32 time_s=%.3f\n", now_s() - t0);
    const double evals = (double)accounts * (double)scenarios;
    t0 = now_s();
    if (xcr_stress_run_gpu(m, s, &o, &g, &rg, &err) != XCR_OK) {
        fprintf(stderr, "stress_gpu: GPU run failed: %s\n", err.msg);
        return 1;
    }
    double tg = now_s() - t0;
    printf("stress_gpu: scenarios=%zu evals=%.4g time_s=%.3f "
           "evals_per_s=%.4g\n",
           scenarios, evals, tg, evals / tg);
    fflush(stdout);
    g.mc_on_device = 1;
    t0 = now_s();
    if (xcr_stress_run_gpu(m, s, &o, &g, &rd, &err) != XCR_OK) {
        fprintf(stderr, "stress_gpu: GPU run failed: %s\n", err.msg);
        return 1;
    }
    double td = now_s() - t0;
    printf("stress_gpu_mc_on_device: scenarios=%zu time_s=%.3f "
           "evals_per_s=%.4g\n",
           scenarios, td, evals / td);
    fflush(stdout);
    t0 = now_s();
    if (xcr_stress_run(m, s, &o, &rc, &err) != XCR_OK) {
        fprintf(stderr, "stress_gpu: CPU run failed: %s\n", err.msg);
        return 1;
    }
    double tc = now_s() - t0;
    printf("stress_cpu: threads=%d scenarios=%zu evals=%.4g time_s=%.3f "
           "evals_per_s=%.4g\n",
           threads, scenarios, evals, tc, evals / tc);
    printf("speedup: gpu_vs_cpu=%.2fx cpu_threads=%d cores=%ld\n", tc / tg,
           threads, cores);

    diff dl = {0, 0, 0}, dsf = {0, 0, 0}, des = {0, 0, 0}, dd = {0, 0, 0};
    for (size_t k = 0; k < scenarios; k++) {
        xcr_scenario_outcome x, y, z;
        xcr_stress_outcome(rg, k, &x);
        xcr_stress_outcome(rc, k, &y);
        xcr_stress_outcome(rd, k, &z);
        note(&dl, x.loss, y.loss);
        note(&dsf, x.shortfall, y.shortfall);
        note(&dd, z.loss, y.loss);
    }
    for (size_t a = 0; a < accounts; a++) {
        xcr_account_stress x, y;
        xcr_stress_account(rg, a, &x);
        xcr_stress_account(rc, a, &y);
        note(&des, x.es[1], y.es[1]);
    }
    int agree = dl.worst <= 1e-9 && dsf.worst <= 1e-9 && des.worst <= 1e-9 &&
                dd.worst <= 1e-9;
    printf("agreement: loss_same=%zu/%zu loss_max_rel=%.3g "
           "shortfall_max_rel=%.3g account_es99_same=%zu/%zu "
           "account_es99_max_rel=%.3g mc_on_device_loss_max_rel=%.3g "
           "within_1e-9=%s\n",
           dl.same, dl.n, dl.worst, dsf.worst, des.same, des.n, des.worst,
           dd.worst, agree ? "yes" : "no");
    xcr_risk_stats lg, lc;
    xcr_stress_book_stats(rg, XCR_METRIC_LOSS, &lg);
    xcr_stress_book_stats(rc, XCR_METRIC_LOSS, &lc);
    printf("result: loss_var99_gpu=%.10g loss_var99_cpu=%.10g "
           "loss_es99_gpu=%.10g loss_es99_cpu=%.10g\n",
           lg.var[1], lc.var[1], lg.es[1], lc.es[1]);
    printf("memory: peak_rss_mib=%.1f\n", peak_rss_mib());
    xcr_stress_result_free(rw);
    xcr_stress_result_free(rg);
    xcr_stress_result_free(rd);
    xcr_stress_result_free(rc);
    xcr_scenarios_free(s);
    xcr_scenarios_free(sw);
    xcr_market_free(m);
    xcr_book_free(b);
    return agree ? 0 : 1;
}
