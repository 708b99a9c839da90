/* The stress fast path (src/stress/fast.h, fast_linear.c): affine account
 * models × scenario factors against the full evaluator, cell by cell;
 * bit-identical results for 1, 2 and 3 threads and for any cut of the
 * scenarios into ranges (what MPI sharding relies on); the heap-based
 * VaR/ES against stats.c's selection.  Random books and scenarios are
 * seeded; the seed is printed on failure and XCR_TEST_SEED replays it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stress/fast.h"
#include "test_support.h"
#include "xcr.h"

static uint64_t test_seed(void)
{
    const char *s = getenv("XCR_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 10);
    return (uint64_t)time(NULL);
}

static size_t xcr_scenarios_book_accounts(const xcr_scenarios *s)
{
    return ((const struct xcr_scenarios *)s)->book->n_accts;
}

typedef struct cells {
    xcr_stress_result *r;
    double *eq;
    uint8_t *st;
} cells;

static cells run_cells(const xcr_market *m, const xcr_scenarios *s,
                       int threads, int fast, size_t lo, size_t hi)
{
    size_t nacc = xcr_scenarios_book_accounts(s);
    size_t ns = hi > lo ? hi - lo : xcr_scenarios_count(s);
    cells c;
    c.eq = malloc((nacc ? nacc : 1) * ns * sizeof *c.eq);
    c.st = malloc((nacc ? nacc : 1) * ns);
    cr_assert(c.eq && c.st);
    xcr_stress_opts o;
    xcr_stress_opts_init(&o);
    o.threads = threads;
    xcr__stress_ex ex;
    memset(&ex, 0, sizeof ex);
    ex.fast = fast;
    ex.s_lo = lo;
    ex.s_hi = hi;
    ex.cell_eq = c.eq;
    ex.cell_st = c.st;
    xcr_error err = {0};
    c.r = NULL;
    cr_assert_eq(xcr__stress_run_ex(m, s, &o, &ex, &c.r, &err), XCR_OK, "%s",
                 err.msg);
    return c;
}

static void free_cells(cells *c)
{
    xcr_stress_result_free(c->r);
    free(c->eq);
    free(c->st);
}

/* Scenarios that reach the non-linear regions: Monte Carlo over a long
 * horizon (moves of tens of percent, tiers and brackets crossed, signs
 * flipped) plus uniform shocks from −60 % to +40 % and vol shifts. */
static xcr_scenarios *wild_scenarios(const xcr_book *b, uint64_t seed,
                                     size_t n_mc)
{
    xcr_scenarios *s = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xt_add_mc(s, n_mc, seed, XCR_MC_T, 3, 30);
    cr_assert_eq(xcr_scenarios_add_uniform(s, 0.4, -0.6, -0.1, &err), XCR_OK,
                 "%s", err.msg);
    cr_assert_eq(xcr_scenarios_add_builtin(s, "all", NULL, &err), XCR_OK,
                 "%s", err.msg);
    return s;
}

/* Whether account a under scenario k sits on a status threshold: one of
 * the quantities its status compares with zero (equity, collateral − MM,
 * collateral − IM, borrow capacity; per isolated position pm, pm − MM,
 * pm − IM) is zero to 1e-9 of the account's size, per the evaluator at the
 * moved prices (the demo generator places some isolated margins exactly
 * on a round move). */
static bool on_threshold(const xcr_book *b, const xcr_scenarios *s, size_t k,
                         size_t a)
{
    size_t na = xcr_book_asset_count(b);
    xcr_market *m = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    double *px = malloc(na * sizeof *px);
    for (size_t i = 0; i < na; i++) {
        px[i] = xcr_book_asset_price(b, i) * (1.0 + xcr_scenarios_move(s, k, i));
        double v = xcr_scenarios_vol_shift(s, k, i);
        if (v != 0)
            cr_assert_eq(xcr_market_set_vol_shift(m, i, v, &err), XCR_OK);
    }
    cr_assert_eq(xcr_market_set_prices(m, px, &err), XCR_OK, "%s", err.msg);
    xcr_account_result r;
    xcr_position_result pos[64];
    cr_assert_eq(xcr_margin_account(m, a, &r, pos, &err), XCR_OK);
    const double scale = fmax(1.0, fmax(fabs(r.equity), fabs(r.collateral)));
    const double tol = 1e-9 * scale;
    bool tie = fabs(r.equity) <= tol ||
               fabs(r.collateral - r.maintenance_margin) <= tol ||
               fabs(r.collateral - r.initial_margin) <= tol ||
               (isfinite(r.borrow_capacity) && fabs(r.borrow_capacity) <= tol);
    const uint32_t p0 = b->pos_off[a], np = b->pos_off[a + 1] - p0;
    for (uint32_t j = 0; j < np && j < 64 &&
                         xcr_book_account_mode(b, a) == XCR_MODE_ISOLATED;
         j++) {
        const double pm = b->pos_iso[p0 + j] + pos[j].upnl;
        tie = tie || fabs(pm) <= tol ||
              fabs(pm - pos[j].maintenance_margin) <= tol ||
              fabs(pm - pos[j].initial_margin) <= tol;
    }
    free(px);
    xcr_market_free(m);
    return tie;
}

/* Every cell of the fast path against the full evaluator: equity to 1e-9
 * relative (of the larger of the equity before and after, at least 1 USD),
 * and the same status unless the account sits on a status threshold. */
Test(fast, cells_equal_full_evaluator_on_random_books)
{
    const uint64_t seed = test_seed();
    for (int round = 0; round < 3; round++) {
        const uint64_t bs = seed * 3 + (uint64_t)round;
        const double ppa = 1.0 + (double)((bs >> 3) % 8);
        xcr_book *b = xt_demo_book(1500, bs, ppa);
        xcr_market *m = NULL;
        cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
        xcr_scenarios *s = wild_scenarios(b, bs + 17, 120);
        const size_t ns = xcr_scenarios_count(s);
        const size_t nacc = xcr_book_account_count(b);
        cells f = run_cells(m, s, 2, 1, 0, 0);
        cells x = run_cells(m, s, 2, -1, 0, 0);
        size_t status_diff = 0;
        size_t *ties = calloc(ns, sizeof *ties);
        for (size_t a = 0; a < nacc; a++) {
            xcr_account_stress as;
            xcr_stress_account(x.r, a, &as);
            for (size_t k = 0; k < ns; k++) {
                const double ef = f.eq[a * ns + k], ex = x.eq[a * ns + k];
                const double scale =
                    fmax(1.0, fmax(fabs(ex), fabs(as.equity_before)));
                cr_assert(fabs(ef - ex) <= 1e-9 * scale,
                          "seed %llu round %d: account %zu scenario %zu: "
                          "fast equity %.17g, evaluator %.17g",
                          (unsigned long long)seed, round, a, k, ef, ex);
                if (f.st[a * ns + k] != x.st[a * ns + k]) {
                    cr_assert(on_threshold(b, s, k, a),
                              "seed %llu round %d: account %zu scenario "
                              "%zu: status %d, evaluator %d",
                              (unsigned long long)seed, round, a, k,
                              f.st[a * ns + k], x.st[a * ns + k]);
                    status_diff++;
                    ties[k]++;
                }
            }
        }
        /* ties are rare */
        cr_assert_lt(status_diff, nacc * ns / 1000,
                     "seed %llu round %d: %zu statuses differ",
                     (unsigned long long)seed, round, status_diff);
        for (size_t k = 0; k < ns; k++) {
            xcr_scenario_outcome p, q;
            xcr_stress_outcome(f.r, k, &p);
            xcr_stress_outcome(x.r, k, &q);
            cr_assert(fabs(p.loss - q.loss) <=
                          1e-9 * fmax(1.0, fabs(q.loss)) + 1e-6,
                      "seed %llu: scenario %zu loss %.17g vs %.17g",
                      (unsigned long long)seed, k, p.loss, q.loss);
            /* (a tie may move one account between margin call and
             * liquidatable, and its collateral with it) */
            cr_assert(ties[k] > 0 ||
                      fabs(p.liquidatable_collateral -
                           q.liquidatable_collateral) <=
                          1e-9 * fmax(1.0, q.liquidatable_collateral));
            size_t dc = 0;
            for (int st = 0; st < 4; st++)
                dc += p.by_status[st] > q.by_status[st]
                          ? p.by_status[st] - q.by_status[st]
                          : q.by_status[st] - p.by_status[st];
            cr_assert_leq(dc, 2 * ties[k], "seed %llu: scenario %zu",
                          (unsigned long long)seed, k);
            const double *la = xcr_stress_loss_by_asset(f.r, k);
            const double *lb = xcr_stress_loss_by_asset(x.r, k);
            cr_assert(la && lb);
            for (size_t as = 0; as < xcr_book_asset_count(b); as++)
                cr_assert(fabs(la[as] - lb[as]) <=
                              1e-9 * fmax(1.0, fabs(q.loss)),
                          "seed %llu: scenario %zu asset %zu: %.17g vs "
                          "%.17g",
                          (unsigned long long)seed, k, as, la[as], lb[as]);
        }
        free(ties);
        free_cells(&f);
        free_cells(&x);
        xcr_scenarios_free(s);
        xcr_market_free(m);
        xcr_book_free(b);
    }
}

/* The fast path must actually carry most of a demo book: cross, lending
 * and isolated accounts get models. */
Test(fast, most_demo_accounts_have_models)
{
    xcr_book *b = xt_demo_book(4000, 5, 3);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr__fast_ctx c;
    bool usable = false;
    cr_assert_eq(xcr__fast_ctx_init(&c, m, &usable), XCR_OK);
    cr_assert(usable);
    xcr__fast_ws w;
    cr_assert_eq(xcr__fast_ws_init(&w, &c), XCR_OK);
    double *rows = malloc(XCR__FAST_ROWS * c.K * sizeof *rows);
    xcr__fast_model fa;
    size_t nf = 0, iso_fast = 0, iso = 0;
    for (size_t a = 0; a < xcr_book_account_count(b); a++) {
        bool ok = xcr__fast_build(&c, &w, a, rows, &fa);
        nf += ok;
        iso += xcr_book_account_mode(b, a) == XCR_MODE_ISOLATED;
        iso_fast += ok && xcr_book_account_mode(b, a) == XCR_MODE_ISOLATED;
    }
    cr_assert_gt(nf, 3600, "only %zu of 4000 accounts have models", nf);
    cr_assert_gt(iso, 300);
    cr_assert_gt(iso_fast, iso * 9 / 10, "%zu of %zu isolated", iso_fast,
                 iso);
    free(rows);
    xcr__fast_ws_free(&w);
    xcr__fast_ctx_free(&c);
    xcr_market_free(m);
    xcr_book_free(b);
}

static void assert_same_result(const cells *a, const cells *b, size_t nacc,
                               size_t ns, const char *what)
{
    cr_assert(memcmp(a->eq, b->eq, nacc * ns * sizeof *a->eq) == 0,
              "%s: cell equities differ", what);
    cr_assert(memcmp(a->st, b->st, nacc * ns) == 0, "%s: statuses differ",
              what);
    for (size_t k = 0; k < ns; k++) {
        xcr_scenario_outcome p, q;
        xcr_stress_outcome(a->r, k, &p);
        xcr_stress_outcome(b->r, k, &q);
        cr_assert(memcmp(&p, &q, sizeof p) == 0, "%s: scenario %zu", what,
                  k);
    }
}

/* Bit-identical for 1, 2 and 3 threads, per cell, per scenario and per
 * account (VaR/ES included). */
Test(fast, bit_identical_for_1_2_3_threads)
{
    const uint64_t seed = test_seed();
    xcr_book *b = xt_demo_book(3000, seed, 4);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = wild_scenarios(b, seed, 90);
    const size_t ns = xcr_scenarios_count(s), nacc = 3000;
    cells one = run_cells(m, s, 1, 1, 0, 0);
    for (int t = 2; t <= 3; t++) {
        cells c = run_cells(m, s, t, 1, 0, 0);
        char what[64];
        snprintf(what, sizeof what, "seed %llu, %d threads",
                 (unsigned long long)seed, t);
        assert_same_result(&one, &c, nacc, ns, what);
        for (size_t a = 0; a < nacc; a++) {
            xcr_account_stress p, q;
            xcr_stress_account(one.r, a, &p);
            xcr_stress_account(c.r, a, &q);
            cr_assert(memcmp(&p, &q, sizeof p) == 0, "%s: account %zu", what,
                      a);
        }
        free_cells(&c);
    }
    free_cells(&one);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* A range of scenarios gives bit for bit the cells and totals of the same
 * scenarios in a whole run, however the range is cut (the products do not
 * depend on the blocking). */
Test(fast, scenario_ranges_match_the_whole_run)
{
    const uint64_t seed = test_seed();
    xcr_book *b = xt_demo_book(2000, seed + 1, 3);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = wild_scenarios(b, seed, 150);
    const size_t ns = xcr_scenarios_count(s), nacc = 2000;
    cells all = run_cells(m, s, 2, 1, 0, 0);
    const size_t cuts[][2] = {{0, 77}, {77, ns}, {13, 14}, {64, 129}};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        const size_t lo = cuts[c][0], hi = cuts[c][1], n = hi - lo;
        cells part = run_cells(m, s, 2, 1, lo, hi);
        for (size_t a = 0; a < nacc; a++)
            cr_assert(memcmp(part.eq + a * n, all.eq + a * ns + lo,
                             n * sizeof(double)) == 0,
                      "seed %llu: range %zu..%zu account %zu",
                      (unsigned long long)seed, lo, hi, a);
        for (size_t k = 0; k < n; k++) {
            xcr_scenario_outcome p, q;
            xcr_stress_outcome(part.r, k, &p);
            xcr_stress_outcome(all.r, lo + k, &q);
            cr_assert(memcmp(&p, &q, sizeof p) == 0,
                      "seed %llu: scenario %zu", (unsigned long long)seed,
                      lo + k);
        }
        free_cells(&part);
    }
    free_cells(&all);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Hand-derived (spec §2): 10,000 USDT and a long 2-BTC linear perp entered
 * at 60,000, mark 60,000; BTC −10 % → uPnL = 2·(54,000 − 60,000) =
 * −12,000, equity −2,000 (bankrupt); BTC +5 % → equity 16,000.  Bracket
 * 0.5 % MMR (notional 126,000 stays in [0, 250,000)): MM = 630.  An
 * inverse perp of 1,000 USD contracts × 3 settled in BTC: 3·1000·(1/60000
 * − 1/63000) BTC at 63,000 = 150 USD = 3000·0.05 (fast.h). */
Test(fast, hand_derived_linear_and_inverse)
{
    const char *json =
        "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
        "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":60000,\"vol\":0.6}],"
        "\"instruments\":[{\"id\":\"P\",\"type\":\"perp\","
        "\"underlying\":\"BTC\",\"mark_price\":60000,\"margin_tiers\":["
        "{\"notional_max\":250000,\"imr\":0.01,\"mmr\":0.005},"
        "{\"notional_max\":null,\"imr\":0.02,\"mmr\":0.01}]},"
        "{\"id\":\"I\",\"type\":\"perp\",\"underlying\":\"BTC\","
        "\"inverse\":true,\"settle\":\"BTC\",\"contract_size\":1000,"
        "\"mark_price\":60000}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
        "{\"USDT\":10000},\"positions\":[{\"instrument\":\"P\",\"size\":2,"
        "\"entry_price\":60000}]},"
        "{\"id\":\"b\",\"mode\":\"cross\",\"balances\":{\"BTC\":0.1},"
        "\"positions\":[{\"instrument\":\"I\",\"size\":3,"
        "\"entry_price\":60000}]}]}";
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_error err = {0};
    const double down[2] = {0, -0.1}, up[2] = {0, 0.05};
    cr_assert_eq(xcr_scenarios_add_moves(s, "down", down, NULL, NULL, &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_add_moves(s, "up", up, NULL, NULL, &err),
                 XCR_OK, "%s", err.msg);
    cells f = run_cells(m, s, 1, 1, 0, 0);
    cr_assert(fabs(f.eq[0] - -2000.0) <= 1e-9 * 12000);
    cr_assert_eq(f.st[0], XCR_BANKRUPT);
    cr_assert(fabs(f.eq[1] - 16000.0) <= 1e-9 * 16000);
    cr_assert_eq(f.st[1], XCR_HEALTHY);
    /* account b at +5 %: 0.1 BTC at 63,000 plus the inverse perp's 150 */
    cr_assert(fabs(f.eq[2 + 1] - (6300.0 + 150.0)) <= 1e-9 * 6450,
              "%.17g", f.eq[3]);
    /* the model itself: MM 630 at the base (0.5 % of 126,000 at +5 %) */
    xcr__fast_ctx c;
    bool usable;
    cr_assert_eq(xcr__fast_ctx_init(&c, m, &usable), XCR_OK);
    xcr__fast_ws w;
    cr_assert_eq(xcr__fast_ws_init(&w, &c), XCR_OK);
    double rows[XCR__FAST_ROWS * 2];
    xcr__fast_model fa;
    cr_assert(xcr__fast_build(&c, &w, 0, rows, &fa));
    /* equity = 10,000 + 120,000·r_BTC; coll − MM = equity − 600·(1+r) */
    cr_assert(fabs(fa.c[0] - 10000) < 1e-9 && fabs(rows[1] - 120000) < 1e-6);
    cr_assert(fabs(fa.c[1] - (10000 - 600)) < 1e-9);
    cr_assert(fabs(rows[2 + 1] - (120000 - 600)) < 1e-6);
    xcr__fast_ws_free(&w);
    xcr__fast_ctx_free(&c);
    free_cells(&f);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* The heap-based VaR/ES gives stats.c's numbers bit for bit (VAR-2 of
 * scenarios-and-data.md §9 included: losses 1…100 → VaR95 95, ES95 98). */
Test(fast, var_es_matches_selection)
{
    const uint64_t seed = test_seed();
    srand((unsigned)seed);
    const size_t sizes[] = {1, 2, 3, 19, 20, 21, 100, 999, 1000, 1001, 4096};
    double *x = malloc(4096 * sizeof *x), *y = malloc(4096 * sizeof *y),
           *h = malloc(4096 * sizeof *h);
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        const size_t n = sizes[z];
        for (int rep = 0; rep < 20; rep++) {
            for (size_t i = 0; i < n; i++) {
                double u = (double)rand() / RAND_MAX;
                /* ties on purpose: a third of the values are rounded */
                x[i] = rep % 3 == 0 ? floor(u * 10) : (u - 0.5) * 1e6;
            }
            memcpy(y, x, n * sizeof *x);
            double v1[3], e1[3], v2[3], e2[3];
            xcr__var_es3(x, n, v1, e1);
            xcr__fast_var_es3(y, n, h, v2, e2);
            cr_assert(memcmp(v1, v2, sizeof v1) == 0 &&
                          memcmp(e1, e2, sizeof e1) == 0,
                      "seed %llu: n %zu rep %d", (unsigned long long)seed, n,
                      rep);
        }
    }
    /* a sample (every 8th value) that holds all the large values: the
     * sampled threshold lets too few through and the general pass runs */
    for (size_t n = 800; n <= 4096; n += 1648) {
        for (size_t i = 0; i < n; i++)
            x[i] = i % 8 == 0 ? 1000.0 + (double)i : (double)i * 1e-3;
        memcpy(y, x, n * sizeof *x);
        double v1[3], e1[3], v2[3], e2[3];
        xcr__var_es3(x, n, v1, e1);
        xcr__fast_var_es3(y, n, h, v2, e2);
        cr_assert(memcmp(v1, v2, sizeof v1) == 0 &&
                      memcmp(e1, e2, sizeof e1) == 0,
                  "adversarial sample, n %zu", n);
    }
    for (size_t i = 0; i < 100; i++)
        x[i] = (double)(100 - i);
    double v[3], e[3];
    xcr__fast_var_es3(x, 100, h, v, e);
    cr_assert_eq(v[0], 95.0);
    cr_assert_eq(e[0], 98.0);
    free(x);
    free(y);
    free(h);
}
