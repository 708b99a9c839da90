/* The CUDA back end (include/xcr/gpu.h, docs/gpu.md) against the CPU path.
 *
 * Where no GPU is usable (no CUDA build, no device) the GPU tests skip with
 * the reason, and one test checks that the API says so (XCR_ENODEV, exit 2
 * for `xcr stress --gpu`) instead of failing.  With a device:
 *  - raw Philox4x32-10 blocks from the device equal Random123 on the host,
 *    word for word; Monte Carlo moves drawn on the device equal the host's
 *    to 1e-15 (they differ at most in the last bits of the device's
 *    log/cos/expm1);
 *  - xcr_stress_run_gpu equals xcr_stress_run to 1e-9 relative on random
 *    books covering every account mode (cross, isolated, portfolio,
 *    lending with e-mode), linear/inverse perps, futures and options (vol
 *    shifts included), Gaussian and Student-t Monte Carlo sets: per
 *    scenario (loss, shortfall, liquidatable collateral and notional,
 *    status counts, loss and collateral by asset), per account (sums,
 *    counts, worst scenario, VaR/ES at the three levels) and the book-wide
 *    VaR/ES; the number of results that are the very same double is
 *    printed (the design makes them all equal);
 *  - results do not depend on the host thread count nor on the device
 *    memory limit (which changes the account batches): bit-identical;
 *  - the device evaluator on a list of accounts (the per-round step of the
 *    cascade simulator, src/cascade/eval.c) gives every field of
 *    xcr_account_result and the solver's surplus bit for bit as
 *    xcr__eval_account, at moved prices and shifted vols. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/gpu_iface.h"
#include "stress/rng.h"
#include "stress/stress.h"
#include "test_support.h"
#include "xcr.h"

static char gpu_name[128];

static int have_gpu(void)
{
    return xcr_gpu_available(gpu_name, sizeof gpu_name);
}

#define NEED_GPU()                                                             \
    do {                                                                       \
        if (!have_gpu())                                                       \
            cr_skip("no GPU: %s", gpu_name);                                   \
    } while (0)

/* Assets of the random book of every mode (tests/support xt_random_book). */
#define NA XT_RB_NA

static xcr_scenarios *mc_set(const xcr_book *b, size_t n, uint64_t seed,
                             xcr_mc_dist dist, double vol_shift)
{
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xt_add_mc(s, n, seed, dist, 4, 10);
    xcr_error err = {0};
    if (vol_shift != 0)
        cr_assert_eq(xcr_scenarios_shift_vols(s, vol_shift, &err), XCR_OK,
                     "%s", err.msg);
    return s;
}

/* MARK: comparison ------------------------------------------------------------------ */

typedef struct cmp {
    size_t values, same;
    double worst;
} cmp;

static void near(cmp *c, double gpu, double cpu, const char *what, size_t i)
{
    c->values++;
    if (memcmp(&gpu, &cpu, sizeof gpu) == 0 || (isnan(gpu) && isnan(cpu))) {
        c->same++;
        return;
    }
    double d = fabs(gpu - cpu) / fmax(1.0, fabs(cpu));
    if (d > c->worst)
        c->worst = d;
    cr_assert(d <= 1e-9, "%s[%zu]: GPU %.17g, CPU %.17g", what, i, gpu, cpu);
}

static void compare(const xcr_stress_result *g, const xcr_stress_result *c,
                    const xcr_book *b, const char *label)
{
    cmp k = {0, 0, 0};
    const size_t ns = c->n_scen, nacc = c->n_acc, na = c->na;
    cr_assert_eq(g->n_scen, ns);
    cr_assert_eq(g->n_acc, nacc);
    for (size_t s = 0; s < ns; s++) {
        xcr_scenario_outcome x, y;
        cr_assert_eq(xcr_stress_outcome(g, s, &x), XCR_OK);
        cr_assert_eq(xcr_stress_outcome(c, s, &y), XCR_OK);
        near(&k, x.loss, y.loss, "loss", s);
        near(&k, x.shortfall, y.shortfall, "shortfall", s);
        near(&k, x.liquidatable_collateral, y.liquidatable_collateral,
             "liquidatable_collateral", s);
        near(&k, x.liquidatable_notional, y.liquidatable_notional,
             "liquidatable_notional", s);
        for (int q = 0; q < 4; q++)
            cr_assert_eq(x.by_status[q], y.by_status[q],
                         "scenario %zu status %d: %zu vs %zu", s, q,
                         x.by_status[q], y.by_status[q]);
        cr_assert_eq(x.newly_liquidatable, y.newly_liquidatable);
        const double *gl = xcr_stress_loss_by_asset(g, s),
                     *cl = xcr_stress_loss_by_asset(c, s);
        const double *gq = xcr_stress_liq_collateral_by_asset(g, s),
                     *cq = xcr_stress_liq_collateral_by_asset(c, s);
        cr_assert_eq(gl == NULL, cl == NULL, "asset detail on one side only");
        if (cl)
            for (size_t a = 0; a < na; a++) {
                near(&k, gl[a], cl[a], "loss_by_asset", s * na + a);
                near(&k, gq[a], cq[a], "liq_collateral_by_asset", s * na + a);
            }
    }
    for (size_t a = 0; a < nacc; a++) {
        xcr_account_stress x, y;
        cr_assert_eq(xcr_stress_account(g, a, &x), XCR_OK);
        cr_assert_eq(xcr_stress_account(c, a, &y), XCR_OK);
        near(&k, x.equity_before, y.equity_before, "equity_before", a);
        cr_assert_eq(x.status_before, y.status_before, "account %s",
                     xcr_book_account_id(b, a));
        near(&k, x.p_liquidatable, y.p_liquidatable, "p_liquidatable", a);
        near(&k, x.p_bankrupt, y.p_bankrupt, "p_bankrupt", a);
        near(&k, x.mean_loss, y.mean_loss, "mean_loss", a);
        near(&k, x.max_loss, y.max_loss, "max_loss", a);
        near(&k, x.mean_shortfall, y.mean_shortfall, "mean_shortfall", a);
        cr_assert_eq(x.worst_scenario, y.worst_scenario, "account %s",
                     xcr_book_account_id(b, a));
        for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
            near(&k, x.var[l], y.var[l], "account_var", a);
            near(&k, x.es[l], y.es[l], "account_es", a);
        }
        near(&k, x.equity_after, y.equity_after, "equity_after", a);
        cr_assert_eq(x.status_after, y.status_after);
    }
    for (int mtr = 0; mtr < 4; mtr++) {
        xcr_risk_stats x, y;
        cr_assert_eq(xcr_stress_book_stats(g, (xcr_stress_metric)mtr, &x),
                     XCR_OK);
        cr_assert_eq(xcr_stress_book_stats(c, (xcr_stress_metric)mtr, &y),
                     XCR_OK);
        for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
            near(&k, x.var[l], y.var[l], "book_var", (size_t)mtr);
            near(&k, x.es[l], y.es[l], "book_es", (size_t)mtr);
        }
        near(&k, x.mean, y.mean, "book_mean", (size_t)mtr);
    }
    fprintf(stderr,
            "test_gpu %s (%s): %zu values, %zu the same double, worst "
            "relative difference %.3g\n",
            label, gpu_name, k.values, k.same, k.worst);
}

static xcr_stress_result *run_cpu(const xcr_market *m, const xcr_scenarios *s)
{
    xcr_stress_opts o;
    xcr_stress_opts_init(&o);
    o.account_quantiles = 1;
    o.asset_detail = 1;
    xcr_stress_result *r = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_stress_run(m, s, &o, &r, &err), XCR_OK, "%s", err.msg);
    return r;
}

static xcr_stress_result *run_gpu(const xcr_market *m, const xcr_scenarios *s,
                                  int threads, size_t mem_limit, int on_dev)
{
    xcr_stress_opts o;
    xcr_stress_opts_init(&o);
    o.threads = threads;
    o.account_quantiles = 1;
    o.asset_detail = 1;
    xcr_gpu_opts g;
    xcr_gpu_opts_init(&g);
    g.memory_limit = mem_limit;
    g.mc_on_device = on_dev;
    xcr_stress_result *r = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_stress_run_gpu(m, s, &o, &g, &r, &err), XCR_OK, "%s",
                 err.msg);
    return r;
}

/* MARK: without a GPU ------------------------------------------------------------------- */

Test(gpu, reports_why_it_cannot_run)
{
    char name[128] = "";
    int ok = xcr_gpu_available(name, sizeof name);
    cr_assert(ok == 0 || ok == 1);
    cr_assert(name[0] != '\0', "xcr_gpu_available gives no name or reason");
    if (ok)
        cr_skip("a GPU is present (%s): the no-GPU path is not taken", name);
    xcr_book *b = xt_random_book(50, 3);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = mc_set(b, 4, 1, XCR_MC_NORMAL, 0);
    xcr_stress_result *r = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_stress_run_gpu(m, s, NULL, NULL, &r, &err), XCR_ENODEV);
    cr_assert_null(r);
    cr_assert(err.msg[0] != '\0');
    double mv[4 * NA];
    cr_assert_eq(xcr_gpu_mc_moves(s, 0, 4, mv, &err), XCR_ENODEV);
    uint32_t idx[2] = {0, 1};
    xcr_account_result ar[2];
    cr_assert_eq(xcr__gpu_eval_accounts(m, idx, 2, ar, NULL, &err),
                 XCR_ENODEV);
    /* the CLI: --gpu without a GPU is a usage problem, exit 2 */
    char *out = NULL, *errs = NULL;
    int rc = xt_run(XCR_CLI_PATH " stress --mc 10 --gpu", &out, &errs);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, errs);
    cr_assert(strstr(errs, "GPU") || strstr(errs, "CUDA"), "%s", errs);
    free(out);
    free(errs);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* MARK: random numbers -------------------------------------------------------------------- */

Test(gpu, philox_blocks_identical)
{
    NEED_GPU();
    const size_t n = 4096;
    uint32_t *dev = malloc(4 * n * sizeof *dev);
    char msg[256] = "";
    const uint64_t seeds[3] = {1, 0x123456789abcdefULL, UINT64_MAX};
    for (int q = 0; q < 3; q++)
        for (uint32_t purpose = 0; purpose < 4; purpose++) {
            const size_t j0 = (size_t)1 << 33; /* both counter words */
            cr_assert_eq(xcr__gpu_philox(seeds[q], j0, n, 7 + purpose,
                                         purpose, dev, msg, sizeof msg),
                         XCR_OK, "%s", msg);
            for (size_t j = 0; j < n; j++) {
                philox4x32_ctr_t h =
                    xcr__philox(seeds[q], j0 + j, 7 + purpose, purpose);
                for (int w = 0; w < 4; w++)
                    cr_assert_eq(dev[4 * j + (size_t)w], h.v[w],
                                 "seed %llx scenario %zu word %d",
                                 (unsigned long long)seeds[q], j0 + j, w);
            }
        }
    free(dev);
}

static void check_mc_moves(xcr_mc_dist dist, uint64_t seed)
{
    xcr_book *b = xt_random_book(10, seed);
    const size_t n = 2000, na = xcr_book_asset_count(b);
    xcr_scenarios *s = mc_set(b, n, seed, dist, 0);
    double *dev = malloc(n * na * sizeof *dev);
    xcr_error err = {0};
    /* a window of generator draws that does not start at 0 */
    cr_assert_eq(xcr_gpu_mc_moves(s, 100, n - 100, dev, &err), XCR_OK, "%s",
                 err.msg);
    double worst = 0;
    size_t same = 0;
    for (size_t j = 100; j < n; j++)
        for (size_t a = 0; a < na; a++) {
            double h = xcr_scenarios_move(s, j, a);
            double d = dev[(j - 100) * na + a];
            if (memcmp(&h, &d, sizeof h) == 0)
                same++;
            /* moves are O(0.01–1): 1e-15 is a few dozen ulps at most */
            cr_assert(fabs(d - h) <= 1e-15, "seed %llu scenario %zu asset %zu:"
                      " device %.17g host %.17g",
                      (unsigned long long)seed, j, a, d, h);
            if (fabs(d - h) > worst)
                worst = fabs(d - h);
        }
    fprintf(stderr, "test_gpu mc moves (%s copula): %zu of %zu identical, "
                    "worst |difference| %.3g\n",
            dist == XCR_MC_T ? "t" : "Gaussian", same, (n - 100) * na, worst);
    free(dev);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

Test(gpu, mc_moves_match_host_gaussian)
{
    NEED_GPU();
    check_mc_moves(XCR_MC_NORMAL, xt_seed(11));
}

Test(gpu, mc_moves_match_host_student_t)
{
    NEED_GPU();
    check_mc_moves(XCR_MC_T, xt_seed(12));
}

/* MARK: stress runs ------------------------------------------------------------------------- */

static void equality_case(size_t nacc, size_t ns, uint64_t seed,
                          xcr_mc_dist dist, double vol_shift, int on_dev)
{
    xcr_book *b = xt_random_book(nacc, seed);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = mc_set(b, ns, seed, dist, vol_shift);
    xcr_stress_result *c = run_cpu(m, s);
    xcr_stress_result *g = run_gpu(m, s, 0, 0, on_dev);
    char label[96];
    snprintf(label, sizeof label, "seed %llu, %zu accounts x %zu %s MC%s%s",
             (unsigned long long)seed, nacc, ns,
             dist == XCR_MC_T ? "t" : "Gaussian",
             vol_shift != 0 ? ", vol shift" : "",
             on_dev ? ", moves drawn on the device" : "");
    compare(g, c, b, label);
    xcr_stress_result_free(g);
    xcr_stress_result_free(c);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

Test(gpu, stress_equals_cpu_gaussian)
{
    NEED_GPU();
    equality_case(3000, 200, xt_seed(21), XCR_MC_NORMAL, 0, 0);
}

Test(gpu, stress_equals_cpu_student_t_vol_shift)
{
    NEED_GPU();
    equality_case(2500, 300, xt_seed(22), XCR_MC_T, 0.2, 0);
}

Test(gpu, stress_equals_cpu_small_book_one_scenario)
{
    NEED_GPU();
    /* one chunk of 16 accounts, one scenario (equity_after per account) */
    equality_case(13, 1, xt_seed(23), XCR_MC_NORMAL, 0, 0);
}

Test(gpu, stress_equals_cpu_with_moves_drawn_on_device)
{
    NEED_GPU();
    equality_case(2000, 256, xt_seed(24), XCR_MC_T, 0, 1);
}

Test(gpu, stress_equals_cpu_long_tails_on_host)
{
    NEED_GPU();
    /* 3000 scenarios: a 95 % tail of 151 order statistics is longer than
     * the device keeps (XCR__GPU_TAIL_MAX), so the host takes it */
    cr_assert_gt(3000 - 2850 + 1, XCR__GPU_TAIL_MAX);
    equality_case(400, 3000, xt_seed(25), XCR_MC_NORMAL, 0, 0);
}

Test(gpu, results_independent_of_threads_and_batches)
{
    NEED_GPU();
    uint64_t seed = xt_seed(26);
    xcr_book *b = xt_random_book(5000, seed);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = mc_set(b, 100, seed, XCR_MC_T, 0);
    xcr_stress_result *r1 = run_gpu(m, s, 1, 0, 0);
    /* 16 threads on the host; rows of ~1000 accounts per device batch */
    xcr_stress_result *r2 = run_gpu(m, s, 16, 1000 * 100 * 9, 0);
    const size_t ns = r1->n_scen, nacc = r1->n_acc, na = r1->na;
    cr_assert_eq(memcmp(r1->loss, r2->loss, ns * sizeof(double)), 0);
    cr_assert_eq(memcmp(r1->shortfall, r2->shortfall, ns * sizeof(double)), 0);
    cr_assert_eq(memcmp(r1->liq_coll, r2->liq_coll, ns * sizeof(double)), 0);
    cr_assert_eq(memcmp(r1->liq_notional, r2->liq_notional,
                        ns * sizeof(double)),
                 0);
    cr_assert_eq(memcmp(r1->status_count, r2->status_count,
                        ns * 5 * sizeof(uint32_t)),
                 0);
    cr_assert_eq(memcmp(r1->asset_loss, r2->asset_loss,
                        ns * na * sizeof(double)),
                 0);
    cr_assert_eq(memcmp(r1->sum_loss, r2->sum_loss, nacc * sizeof(double)), 0);
    cr_assert_eq(memcmp(r1->acc_es, r2->acc_es, nacc * 3 * sizeof(double)), 0);
    cr_assert_eq(memcmp(r1->worst, r2->worst, nacc * sizeof(uint32_t)), 0);
    xcr_stress_result_free(r1);
    xcr_stress_result_free(r2);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* MARK: the evaluator on a list of accounts ---------------------------------------------- */

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

Test(gpu, eval_accounts_equal_cpu_evaluator)
{
    NEED_GPU();
    uint64_t seed = xt_seed(27);
    xcr_book *b = xt_random_book(4000, seed);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_error err = {0};
    /* a crash with a vol spike: BTC −35 %, ETH −20 %, SOL +10 % */
    const double f[NA] = {1, 1, 0.65, 0.8, 1.1};
    for (size_t a = 0; a < NA; a++) {
        cr_assert_eq(xcr_market_set_price(m, a, xcr_market_price(m, a) * f[a],
                                          &err),
                     XCR_OK, "%s", err.msg);
        cr_assert_eq(xcr_market_set_vol_shift(m, a, a >= 2 ? 0.25 : 0, &err),
                     XCR_OK, "%s", err.msg);
    }
    /* every other account, in reverse order */
    const size_t nacc = xcr_book_account_count(b), n = nacc / 2;
    uint32_t *idx = malloc(n * sizeof *idx);
    for (size_t k = 0; k < n; k++)
        idx[k] = (uint32_t)(nacc - 1 - 2 * k);
    xcr_account_result *g = malloc(n * sizeof *g);
    double *gs = malloc(n * sizeof *gs);
    cr_assert_eq(xcr__gpu_eval_accounts(m, idx, n, g, gs, &err), XCR_OK, "%s",
                 err.msg);
    xcr__ws ws;
    cr_assert_eq(xcr__ws_init(&ws, b), XCR_OK);
    size_t by_status[4] = {0, 0, 0, 0};
    for (size_t k = 0; k < n; k++) {
        xcr_account_result c;
        double cs;
        xcr__eval_account(m, NULL, idx[k], &ws, &c, NULL, &cs);
        const char *id = xcr_book_account_id(b, idx[k]);
        cr_assert(same_double(g[k].equity, c.equity) &&
                      same_double(g[k].collateral, c.collateral) &&
                      same_double(g[k].initial_margin, c.initial_margin) &&
                      same_double(g[k].maintenance_margin,
                                  c.maintenance_margin) &&
                      same_double(g[k].health, c.health) &&
                      same_double(g[k].health_factor, c.health_factor) &&
                      same_double(g[k].borrow_capacity, c.borrow_capacity) &&
                      same_double(gs[k], cs) && g[k].status == c.status,
                  "seed %llu account %s (%s): GPU eq %.17g coll %.17g im "
                  "%.17g mm %.17g hf %.17g surplus %.17g %s; CPU eq %.17g "
                  "coll %.17g im %.17g mm %.17g hf %.17g surplus %.17g %s",
                  (unsigned long long)seed, id,
                  xcr_mode_name(xcr_book_account_mode(b, idx[k])),
                  g[k].equity, g[k].collateral, g[k].initial_margin,
                  g[k].maintenance_margin, g[k].health_factor, gs[k],
                  xcr_acct_status_name(g[k].status), c.equity, c.collateral,
                  c.initial_margin, c.maintenance_margin, c.health_factor, cs,
                  xcr_acct_status_name(c.status));
        by_status[c.status]++;
    }
    /* the crash leaves accounts in every state, so every branch ran */
    for (int q = 0; q < 4; q++)
        cr_assert_gt(by_status[q], 0, "no account with status %s",
                     xcr_acct_status_name((xcr_acct_status)q));
    xcr__ws_free(&ws, b);
    free(idx);
    free(g);
    free(gs);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* A whole cascade with each round's evaluation on the GPU
 * (xcr_cascade_opts.gpu) against the CPU: every round re-evaluates the
 * accounts the last one changed, so any difference in one evaluation would
 * change the liquidations, prices and ledgers that follow. */
static void cascade_case(int gpu, int full, xcr_cascade_summary *sum,
                         double *prices, uint64_t seed)
{
    xcr_book *b = xt_random_book(3000, seed);
    xcr_cascade_opts o;
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_opts_init(b, &o, &err), XCR_OK, "%s", err.msg);
    o.gpu = gpu;
    o.full_reevaluation = full;
    xcr_cascade *c = NULL;
    cr_assert_eq(xcr_cascade_new(b, &o, &c, &err), XCR_OK, "%s", err.msg);
    const double moves[NA] = {0, 0, -0.3, -0.35, -0.4};
    cr_assert_eq(xcr_cascade_shock(c, moves, NULL, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_cascade_summary_get(c, sum), XCR_OK);
    xcr_cascade_prices(c, prices);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(gpu, cascade_rounds_equal_cpu)
{
    NEED_GPU();
    uint64_t seed = xt_seed(28);
    for (int full = 0; full < 2; full++) {
        xcr_cascade_summary c, g;
        double pc[NA], pg[NA];
        cascade_case(0, full, &c, pc, seed);
        cascade_case(1, full, &g, pg, seed);
        cr_assert_gt(c.liquidations, 0, "the shock liquidates nobody");
        const double dc[] = {c.liquidated_usd, c.bad_debt, c.socialised,
                             c.insurance_end, c.insurance_drawdown,
                             c.penalties, c.adl_volume, c.adl_loss,
                             c.liquidator_gains, c.protocol_fees,
                             c.equity_start, c.equity_end};
        const double dg[] = {g.liquidated_usd, g.bad_debt, g.socialised,
                             g.insurance_end, g.insurance_drawdown,
                             g.penalties, g.adl_volume, g.adl_loss,
                             g.liquidator_gains, g.protocol_fees,
                             g.equity_start, g.equity_end};
        bool same = c.rounds == g.rounds &&
                    c.rounds_simulated == g.rounds_simulated &&
                    c.converged == g.converged &&
                    c.liquidated_accounts == g.liquidated_accounts &&
                    c.liquidations == g.liquidations &&
                    c.bankruptcies == g.bankruptcies;
        for (size_t q = 0; q < sizeof dc / sizeof dc[0]; q++)
            same = same && same_double(dc[q], dg[q]);
        cr_assert(same,
                  "seed %llu%s: GPU cascade differs (rounds %zu/%zu, "
                  "liquidations %zu/%zu, bad debt %.17g/%.17g, equity end "
                  "%.17g/%.17g)",
                  (unsigned long long)seed, full ? ", full re-evaluation" : "",
                  g.rounds, c.rounds, g.liquidations, c.liquidations,
                  g.bad_debt, c.bad_debt, g.equity_end, c.equity_end);
        cr_assert_eq(memcmp(pc, pg, sizeof pc), 0);
        fprintf(stderr,
                "test_gpu cascade%s: %zu rounds, %zu liquidations, "
                "bad debt %.6g USD, identical on GPU and CPU\n",
                full ? " (full re-evaluation)" : "", c.rounds_simulated,
                c.liquidations, c.bad_debt);
    }
}
