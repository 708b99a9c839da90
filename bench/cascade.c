/* bench/cascade: how fast does a large book's liquidation cascade reach its
 * fixed point?
 *
 * Builds a demo book of N accounts (xcr_demo_book, default 1,000,000),
 * shocks it with a built-in scenario (default tariff_2025_10_10, the
 * 10 October 2025 crash, with its liquidity multipliers) and runs the
 * cascade with the book's settings.liquidation.  Baselines measured in the
 * same run: the same cascade on 1 thread, and with every account
 * re-evaluated every round instead of only those whose health may have
 * changed.  All runs must give bit-identical prices and ledgers, which the
 * bench checks.  One `key=value` line per measurement on stdout.
 *
 * Usage: cascade [--accounts N] [--threads T] [--scenario NAME]
 *                [--positions P] [--seed S] [--repeat R]
 */
#include "xcr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cascade [--accounts N] [--threads T] [--scenario NAME]\n"
            "               [--positions P] [--seed S] [--repeat R]\n"
            "  --accounts N    demo book size (default 1000000)\n"
            "  --threads T     threads of the timed run; 0 = all cores "
            "(default 2)\n"
            "  --scenario NAME built-in scenario (default "
            "tariff_2025_10_10)\n"
            "  --positions P   mean positions per account (default 3)\n"
            "  --seed S        book seed (default 1)\n"
            "  --repeat R      timed repetitions, median reported (default "
            "3)\n");
}

/* CPU time of the process: on a loaded machine, less noisy than wall
 * time as a measure of the work done. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct outcome {
    double secs;
    size_t evals, skipped;      /* work: evaluator calls, skipped ones  */
    double cpu;                 /* process CPU seconds (all threads)    */
    xcr_cascade_summary s;
    double *prices;
} outcome;

static int run(const xcr_book *b, const xcr_scenarios *set, int threads,
               int full, outcome *o)
{
    xcr_error err = {0};
    xcr_cascade_opts opt;
    xcr_cascade *c = NULL;
    if (xcr_cascade_opts_init(b, &opt, &err) != XCR_OK)
        goto fail;
    opt.threads = threads;
    opt.full_reevaluation = full;
    double t0 = now_s(), c0 = cpu_s();
    if (xcr_cascade_new(b, &opt, &c, &err) != XCR_OK ||
        xcr_cascade_shock_scenario(c, set, 0, &err) != XCR_OK ||
        xcr_cascade_run(c, &err) != XCR_OK)
        goto fail;
    o->secs = now_s() - t0;
    o->cpu = cpu_s() - c0;
    xcr_cascade_summary_get(c, &o->s);
    xcr_cascade_prices(c, o->prices);
    o->evals = xcr_cascade_evaluations(c, &o->skipped);
    xcr_cascade_free(c);
    return 0;
fail:
    fprintf(stderr, "cascade: %s\n", err.msg);
    xcr_cascade_free(c);
    return -1;
}

static int timed(const xcr_book *b, const xcr_scenarios *set, int threads,
                 int full, int repeat, outcome *o)
{
    double ts[16], cs[16];
    if (repeat > 16)
        repeat = 16;
    for (int r = 0; r < repeat; r++) {
        if (run(b, set, threads, full, o) != 0)
            return -1;
        ts[r] = o->secs;
        cs[r] = o->cpu;
    }
    qsort(ts, (size_t)repeat, sizeof ts[0], cmp_double);
    qsort(cs, (size_t)repeat, sizeof cs[0], cmp_double);
    o->secs = ts[repeat / 2];
    o->cpu = cs[repeat / 2];
    return 0;
}

/* Prices, rounds, liquidations, ledgers and the book's total equity bit
 * for bit (tests/test_cascade.c checks every round and event). */
static int same(const outcome *a, const outcome *b, size_t na)
{
    const xcr_cascade_summary *x = &a->s, *y = &b->s;
    const double dx[] = {x->liquidated_usd, x->bad_debt, x->socialised,
                         x->insurance_end, x->insurance_drawdown,
                         x->penalties, x->adl_volume, x->adl_loss,
                         x->liquidator_gains, x->protocol_fees,
                         x->equity_start, x->equity_end,
                         x->max_conservation_error};
    const double dy[] = {y->liquidated_usd, y->bad_debt, y->socialised,
                         y->insurance_end, y->insurance_drawdown,
                         y->penalties, y->adl_volume, y->adl_loss,
                         y->liquidator_gains, y->protocol_fees,
                         y->equity_start, y->equity_end,
                         y->max_conservation_error};
    return memcmp(a->prices, b->prices, na * sizeof(double)) == 0 &&
           memcmp(dx, dy, sizeof dx) == 0 && x->rounds == y->rounds &&
           x->rounds_simulated == y->rounds_simulated &&
           x->liquidations == y->liquidations &&
           x->liquidated_accounts == y->liquidated_accounts;
}

int main(int argc, char **argv)
{
    unsigned long long accounts = 1000000, threads = 2, seed = 1, repeat = 3;
    double positions = 3;
    const char *scen = "tariff_2025_10_10";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--accounts") == 0)
            accounts = bench_parse_uint("cascade", usage, a, v), i++;
        else if (strcmp(a, "--threads") == 0)
            threads = bench_parse_uint("cascade", usage, a, v), i++;
        else if (strcmp(a, "--seed") == 0)
            seed = bench_parse_uint("cascade", usage, a, v), i++;
        else if (strcmp(a, "--repeat") == 0)
            repeat = bench_parse_uint("cascade", usage, a, v), i++;
        else if (strcmp(a, "--positions") == 0 && v)
            positions = atof(v), i++;
        else if (strcmp(a, "--scenario") == 0 && v)
            scen = v, i++;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (repeat < 1)
        repeat = 1;
    xcr_error err = {0};
    xcr_book *b = NULL;
    xcr_scenarios *set = NULL;
    xcr_demo_opts d = {(size_t)accounts, seed, positions};
    double t0 = now_s();
    if (xcr_demo_book(&d, NULL, &b, &err) != XCR_OK) {
        fprintf(stderr, "cascade: demo book: %s\n", err.msg);
        return 1;
    }
    double t_book = now_s() - t0;
    if (xcr_scenarios_new(b, &set) != XCR_OK ||
        xcr_scenarios_add_builtin(set, scen, NULL, &err) != XCR_OK) {
        fprintf(stderr, "cascade: scenario %s: %s\n", scen, err.msg);
        return 2;
    }
    size_t na = xcr_book_asset_count(b);
    outcome fast = {0}, one = {0}, full = {0};
    fast.prices = calloc(na, sizeof(double));
    one.prices = calloc(na, sizeof(double));
    full.prices = calloc(na, sizeof(double));
    if (!fast.prices || !one.prices || !full.prices)
        return 1;
    if (timed(b, set, (int)threads, 0, (int)repeat, &fast) != 0 ||
        timed(b, set, 1, 0, (int)repeat, &one) != 0 ||
        timed(b, set, (int)threads, 1, (int)repeat, &full) != 0)
        return 1;
    printf("accounts=%llu\n", accounts);
    printf("positions=%zu\n", xcr_book_position_count(b));
    printf("scenario=%s\n", scen);
    printf("book_build_s=%.3f\n", t_book);
    printf("rounds=%zu\n", fast.s.rounds);
    printf("rounds_simulated=%zu\n", fast.s.rounds_simulated);
    printf("converged=%d\n", fast.s.converged);
    printf("liquidated_accounts=%zu\n", fast.s.liquidated_accounts);
    printf("liquidations=%zu\n", fast.s.liquidations);
    printf("bad_debt_usd=%.2f\n", fast.s.bad_debt);
    printf("insurance_drawdown_usd=%.2f\n", fast.s.insurance_drawdown);
    printf("max_conservation_error=%.3g\n", fast.s.max_conservation_error);
    printf("threads=%llu\n", threads);
    printf("evaluations=%zu\n", fast.evals);
    printf("evaluations_skipped=%zu\n", fast.skipped);
    printf("evaluations_full_reevaluation=%zu\n", full.evals);
    printf("work_ratio_vs_full=%.3f\n",
           (double)fast.evals / (double)(full.evals ? full.evals : 1));
    printf("wall_s=%.3f\n", fast.secs);
    printf("baseline_1thread_s=%.3f\n", one.secs);
    printf("speedup_vs_1thread=%.2f\n", one.secs / fast.secs);
    printf("baseline_full_reevaluation_s=%.3f\n", full.secs);
    printf("speedup_vs_full_reevaluation=%.2f\n", full.secs / fast.secs);
    printf("cpu_s=%.3f\n", fast.cpu);
    printf("baseline_1thread_cpu_s=%.3f\n", one.cpu);
    printf("baseline_full_reevaluation_cpu_s=%.3f\n", full.cpu);
    printf("cpu_ratio_vs_full_reevaluation=%.2f\n", full.cpu / fast.cpu);
    int ok = same(&fast, &one, na) && same(&fast, &full, na);
    printf("bit_identical=%d\n", ok);
    free(fast.prices);
    free(one.prices);
    free(full.prices);
    xcr_scenarios_free(set);
    xcr_book_free(b);
    return ok ? 0 : 1;
}
