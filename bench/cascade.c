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

typedef struct outcome {
    double secs;
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
    double t0 = now_s();
    if (xcr_cascade_new(b, &opt, &c, &err) != XCR_OK ||
        xcr_cascade_shock_scenario(c, set, 0, &err) != XCR_OK ||
        xcr_cascade_run(c, &err) != XCR_OK)
        goto fail;
    o->secs = now_s() - t0;
    xcr_cascade_summary_get(c, &o->s);
    xcr_cascade_prices(c, o->prices);
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
    double ts[16];
    if (repeat > 16)
        repeat = 16;
    for (int r = 0; r < repeat; r++) {
        if (run(b, set, threads, full, o) != 0)
            return -1;
        ts[r] = o->secs;
    }
    qsort(ts, (size_t)repeat, sizeof ts[0], cmp_double);
    o->secs = ts[repeat / 2];
    return 0;
}

/* Prices, rounds, liquidations and ledgers bit-identical; the book's total
 * equity to 1e-12 (skipped accounts' equities are updated by the exact
 * linear formula instead of the evaluator's sums, src/cascade/bound.c). */
static int same(const outcome *a, const outcome *b, size_t na)
{
    return memcmp(a->prices, b->prices, na * sizeof(double)) == 0 &&
           a->s.rounds == b->s.rounds &&
           a->s.liquidations == b->s.liquidations &&
           a->s.bad_debt == b->s.bad_debt &&
           a->s.insurance_end == b->s.insurance_end &&
           fabs(a->s.equity_end - b->s.equity_end) <=
               1e-12 * fabs(b->s.equity_end);
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
    printf("wall_s=%.3f\n", fast.secs);
    printf("baseline_1thread_s=%.3f\n", one.secs);
    printf("speedup_vs_1thread=%.2f\n", one.secs / fast.secs);
    printf("baseline_full_reevaluation_s=%.3f\n", full.secs);
    printf("speedup_vs_full_reevaluation=%.2f\n", full.secs / fast.secs);
    int ok = same(&fast, &one, na) && same(&fast, &full, na);
    printf("bit_identical=%d\n", ok);
    free(fast.prices);
    free(one.prices);
    free(full.prices);
    xcr_scenarios_free(set);
    xcr_book_free(b);
    return ok ? 0 : 1;
}
