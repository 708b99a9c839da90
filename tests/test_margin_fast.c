/* The streaming fast path of xcr_margin_all (src/margin/fast_margin.c)
 * against the one margin evaluator, xcr__eval_account (spec §2), on seeded
 * random books mixing every account kind (cross, isolated, portfolio,
 * lending), every instrument kind (linear and inverse perps and futures,
 * linear and inverse options, long and short), settlement in stables and
 * in coins, bracket tables from 1 to 20 rows (the fast table holds 16 caps;
 * longer ones take the evaluator's search) and accounts with more
 * positions than one fast-path chunk.  The results must be BIT-identical,
 * every field, for the AVX2 kernel (where the CPU has it), the forced
 * baseline kernel and the reference path, with 1 and 3 threads, at the
 * book's prices and after price moves.
 *
 * Formulas are not re-derived here: equality with the evaluator is the
 * property (its formulas are checked by test_margin and
 * test_margin_property against published and hand-derived numbers).
 * Set XCR_TEST_SEED to replay a failure; the seed is printed on failure. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/cascade.h"
#include "margin/fast_margin.h"
#include "test_support.h"
#include "xcr.h"

/* splitmix64: a small deterministic generator for the book. */
static uint64_t rng;
static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }
static int irand(int n) { return (int)(unif() * n); }
/* log-uniform in [lo, hi] */
static double logu(double lo, double hi)
{
    return lo * exp(unif() * log(hi / lo));
}

#define NA 6
static const char *SYM[NA] = {"USDT", "USDC", "BTC", "ETH", "SOL", "XYZ"};
static const double PRICE[NA] = {1.0, 0.9997, 66500.0, 3560.0, 146.5, 0.37};
#define NI 24

/* Build a random book of n accounts; `with_pm` adds portfolio accounts
 * (and so a portfolio model).  Fails the test on any builder error. */
static xcr_book *random_book(uint64_t seed, size_t n, bool with_pm)
{
    rng = seed;
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_new(NULL, &b), XCR_OK);
    cr_assert_eq(xcr_book_set_as_of(b, "2024-06-17T08:00:00Z", NULL, &err),
                 XCR_OK, "%s", err.msg);
    for (int a = 0; a < NA; a++) {
        xcr_asset_def d;
        xcr_asset_def_init(&d);
        d.symbol = SYM[a];
        d.price = PRICE[a];
        d.vol = a < 2 ? 0.01 : 0.5 + unif();
        d.stable = a < 2;
        xcr_tier_def t[4];
        size_t nt = a < 2 ? 1 : (size_t)(1 + irand(4));
        double cap = logu(1e4, 1e7), w = 1.0;
        for (size_t k = 0; k < nt; k++) {
            t[k].upper_usd = k + 1 == nt && irand(2) ? INFINITY : cap;
            t[k].weight = w;
            cap *= 1.5 + unif() * 3;
            w *= 0.5 + 0.5 * unif();
        }
        d.tiers = t;
        d.ntiers = nt;
        d.liability_weight = 1.0 + 0.2 * unif();
        d.borrow_imr = 0.1 + 0.2 * unif();
        d.borrow_mmr = d.borrow_imr * 0.5;
        d.has_lending = 1;
        d.ltv = 0.5 + 0.2 * unif();
        d.liquidation_threshold = d.ltv + 0.05;
        d.liquidation_bonus = 0.05;
        d.protocol_fee = 0.1;
        cr_assert_eq(xcr_book_add_asset(b, &d, NULL, &err), XCR_OK, "%s",
                     err.msg);
    }
    for (int i = 0; i < NI; i++) {
        xcr_instrument_def d;
        xcr_instrument_def_init(&d);
        char id[32];
        snprintf(id, sizeof id, "I%d", i);
        d.id = id;
        const int und = 2 + irand(NA - 2);
        d.underlying = SYM[und];
        const int kind = i % 4; /* perp, future, option, inverse perp */
        d.type = kind == 1 ? XCR_FUTURE : kind == 2 ? XCR_OPTION : XCR_PERP;
        d.inverse = kind == 3 || (kind == 2 && irand(3) == 0);
        d.settle = d.inverse ? SYM[und] : SYM[irand(2) ? 0 : irand(NA)];
        d.contract_size = d.inverse ? 100.0 : logu(0.001, 10);
        d.mark_price = PRICE[und] * (0.98 + 0.04 * unif());
        if (kind == 1 || kind == 2)
            d.expiry = irand(2) ? "2024-09-27T08:00:00Z"
                                : "2024-12-27T08:00:00Z";
        if (kind == 2) {
            d.strike = PRICE[und] * (0.7 + 0.6 * unif());
            d.is_call = irand(2);
            d.iv = 0.3 + 0.6 * unif();
        }
        /* 1..20 brackets: the last rows exceed the 16-cap fast table */
        xcr_margin_tier_def mt[20];
        size_t nmt = i == NI - 1 ? 20 : (size_t)(1 + irand(12));
        double cap = logu(1e3, 1e5), mmr = 0.004 + 0.01 * unif();
        for (size_t k = 0; k < nmt; k++) {
            mt[k].notional_max = k + 1 == nmt && irand(2) ? INFINITY : cap;
            mt[k].mmr = mmr;
            mt[k].imr = fmin(1.0, mmr * (1.5 + unif()));
            cap *= 1.5 + 3 * unif();
            mmr = fmin(0.5, mmr * (1.2 + unif()));
        }
        d.tiers = mt;
        d.ntiers = nmt;
        cr_assert_eq(xcr_book_add_instrument(b, &d, NULL, &err), XCR_OK,
                     "%s: %s", id, err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "a%zu", i);
        const int r = irand(100);
        xcr_mode mode = r < 55   ? XCR_MODE_CROSS
                        : r < 75 ? XCR_MODE_ISOLATED
                        : r < 88 ? XCR_MODE_LENDING
                                 : (with_pm ? XCR_MODE_PORTFOLIO
                                            : XCR_MODE_CROSS);
        xcr_account_def d = {id, mode, 0, NULL};
        cr_assert_eq(xcr_book_add_account(b, &d, NULL, &err), XCR_OK, "%s",
                     err.msg);
        /* balances: distinct assets, either sign (none negative for
         * lending debt-free accounts is not required by the spec) */
        int nb = irand(4);
        int first = irand(NA);
        for (int k = 0; k < nb; k++) {
            const int a = (first + k) % NA;
            double amt = logu(1e-3, 1e6) / PRICE[a];
            if (irand(4) == 0)
                amt = -amt;
            cr_assert_eq(xcr_book_add_balance(b, id, SYM[a], amt, NULL, &err),
                         XCR_OK, "%s", err.msg);
        }
        if (mode == XCR_MODE_LENDING)
            continue;
        /* positions: mostly a few, sometimes none, rarely more than a
         * fast-path chunk (512) */
        int np = irand(10) == 0 ? 0 : 1 + irand(12);
        if (irand(4000) == 0)
            np = 600 + irand(100);
        for (int k = 0; k < np; k++) {
            const int ii = irand(NI);
            char iid[32];
            snprintf(iid, sizeof iid, "I%d", ii);
            double size = logu(1e-3, 1e5);
            if (irand(2))
                size = -size;
            /* options may carry a zero premium; NAN = entry at the mark */
            double entry = irand(6) == 0 ? NAN
                           : ii % 4 == 2 ? (irand(3) ? logu(1, 5000) : 0.0)
                                         : logu(0.01, 1e5);
            double iso = mode == XCR_MODE_ISOLATED ? logu(1, 1e6) : 0.0;
            cr_assert_eq(
                xcr_book_add_position(b, id, iid, size, entry, iso, NULL, &err),
                XCR_OK, "%s", err.msg);
        }
    }
    cr_assert_eq(xcr_book_finalize(b, &err), XCR_OK, "%s", err.msg);
    return b;
}

/* Every field, bit for bit (not memcmp of the structs: padding is not a
 * result). */
static bool same(const xcr_account_result *x, const xcr_account_result *y)
{
    const double a[7] = {x->equity, x->collateral, x->initial_margin,
                         x->maintenance_margin, x->health, x->health_factor,
                         x->borrow_capacity};
    const double c[7] = {y->equity, y->collateral, y->initial_margin,
                         y->maintenance_margin, y->health, y->health_factor,
                         y->borrow_capacity};
    return memcmp(a, c, sizeof a) == 0 && x->status == y->status;
}

/* xcr__fast_eval_range_at (the cascade's entry point, src/cascade/eval.c)
 * over random sub-ranges, both kernels: results relative to lo, and the
 * surplus output bit for bit equal to the evaluator's (margin.h: its sign
 * decides liquidation, so the cascade needs the very same number). */
static void check_ranges(const xcr_market *m, size_t n, uint64_t seed,
                         const char *what, const xcr_account_result *ref)
{
    double *rs = calloc(n, sizeof *rs), *gs = calloc(n, sizeof *gs);
    xcr_account_result *got = calloc(n, sizeof *got);
    cr_assert(rs && gs && got);
    xcr__ws ws;
    cr_assert_eq(xcr__ws_init(&ws, m->book), XCR_OK);
    xcr_account_result r;
    for (size_t i = 0; i < n; i++)
        xcr__eval_account(m, NULL, i, &ws, &r, NULL, &rs[i]);
    const xcr__mpath paths[2] = {XCR__MPATH_AUTO, XCR__MPATH_SCALAR};
    uint64_t keep = rng;
    rng = seed ^ 0xA11CEULL;
    for (int p = 0; p < 2; p++) {
        xcr__fast_tab t;
        cr_assert_eq(xcr__fast_tab_init(&t, m, paths[p]), XCR_OK);
        for (int rep = 0; rep < 40; rep++) {
            /* the whole book once, then random stretches */
            size_t lo = rep ? (size_t)irand((int)n) : 0;
            size_t hi = rep ? lo + 1 + (size_t)irand((int)(n - lo)) : n;
            memset(got, 0xA5, (hi - lo) * sizeof *got);
            memset(gs, 0xA5, (hi - lo) * sizeof *gs);
            xcr__fast_eval_range_at(m, &t, lo, hi, &ws, got,
                                    rep % 5 == 4 ? NULL : gs);
            for (size_t i = lo; i < hi; i++) {
                cr_assert(same(&got[i - lo], &ref[i]),
                          "seed %llu %s: range [%zu,%zu) path %d account "
                          "%zu differs", (unsigned long long)seed, what, lo,
                          hi, p, i);
                if (rep % 5 != 4)
                    cr_assert(memcmp(&gs[i - lo], &rs[i], sizeof rs[i]) == 0,
                              "seed %llu (XCR_TEST_SEED to replay) %s: "
                              "range [%zu,%zu) path %d account %zu surplus "
                              "%.17g vs %.17g", (unsigned long long)seed,
                              what, lo, hi, p, i, gs[i - lo], rs[i]);
            }
        }
        xcr__fast_tab_free(&t, m->book);
    }
    rng = keep;
    xcr__ws_free(&ws, m->book);
    free(rs);
    free(gs);
    free(got);
}

/* All paths and thread counts against per-account xcr__eval_account. */
static void check_market(const xcr_market *m, size_t n, uint64_t seed,
                         const char *what)
{
    xcr_account_result *ref = calloc(n, sizeof *ref);
    xcr_account_result *got = calloc(n, sizeof *got);
    cr_assert(ref && got);
    xcr__ws ws;
    cr_assert_eq(xcr__ws_init(&ws, m->book), XCR_OK);
    for (size_t i = 0; i < n; i++)
        xcr__eval_account(m, NULL, i, &ws, &ref[i], NULL, NULL);
    xcr__ws_free(&ws, m->book);

    const xcr__mpath paths[3] = {XCR__MPATH_AUTO, XCR__MPATH_SCALAR,
                                 XCR__MPATH_REFERENCE};
    const char *names[3] = {"auto", "scalar", "reference"};
    const int threads[2] = {1, 3};
    for (int p = 0; p < 3; p++)
        for (int t = 0; t < 2; t++) {
            memset(got, 0xA5, n * sizeof *got);
            xcr_error err = {0};
            xcr_status s = xcr__margin_all_path(m, threads[t], got,
                                                paths[p], &err);
            cr_assert_eq(s, XCR_OK, "seed %llu %s path %s threads %d: %s",
                         (unsigned long long)seed, what, names[p],
                         threads[t], err.msg);
            for (size_t i = 0; i < n; i++)
                cr_assert(same(&got[i], &ref[i]),
                          "seed %llu (XCR_TEST_SEED to replay) %s: path %s "
                          "threads %d account %zu differs: equity %.17g vs "
                          "%.17g, IM %.17g vs %.17g, MM %.17g vs %.17g, "
                          "status %d vs %d",
                          (unsigned long long)seed, what, names[p],
                          threads[t], i, got[i].equity, ref[i].equity,
                          got[i].initial_margin, ref[i].initial_margin,
                          got[i].maintenance_margin,
                          ref[i].maintenance_margin, (int)got[i].status,
                          (int)ref[i].status);
        }
    check_ranges(m, n, seed, what, ref);
    /* the public entry point is the auto path */
    xcr_error err = {0};
    cr_assert_eq(xcr_margin_all(m, 2, got, &err), XCR_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        cr_assert(same(&got[i], &ref[i]), "seed %llu %s: xcr_margin_all "
                  "account %zu differs", (unsigned long long)seed, what, i);
    free(ref);
    free(got);
}

static void run_seed(uint64_t seed, bool with_pm)
{
    /* 3 threads need at least 2·4096 accounts (xcr__thread_count) */
    const size_t n = 9000;
    xcr_book *b = random_book(seed, n, with_pm);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    check_market(m, n, seed, "book prices");
    /* move every non-stable price: marks, option values and settlement
     * prices of coin-settled contracts all change */
    rng = seed ^ 0x5EEDULL;
    for (size_t a = 2; a < NA; a++) {
        xcr_error err = {0};
        cr_assert_eq(xcr_market_set_price(m, a, PRICE[a] * (0.5 + unif()),
                                          &err),
                     XCR_OK, "%s", err.msg);
    }
    check_market(m, n, seed, "moved prices");
    xcr_market_free(m);
    xcr_book_free(b);
}

Test(margin_fast, bit_identical_without_portfolio_model)
{
    const uint64_t s0 = xt_seed(20261124);
    for (uint64_t k = 0; k < 3; k++)
        run_seed(s0 + k, false);
}

Test(margin_fast, bit_identical_with_portfolio_accounts)
{
    const uint64_t s0 = xt_seed(777);
    for (uint64_t k = 0; k < 2; k++)
        run_seed(s0 + k, true);
}

/* The demo book (the benchmark's book) through every path. */
Test(margin_fast, bit_identical_on_demo_book)
{
    xcr_demo_opts o = {20000, 7, 8};
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_demo_book(&o, NULL, &b, &err), XCR_OK, "%s", err.msg);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    check_market(m, xcr_book_account_count(b), 7, "demo book");
    xcr_market_free(m);
    xcr_book_free(b);
}

/* A non-finite result is reported the same way on every path. */
Test(margin_fast, overflow_reported_on_every_path)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_new(NULL, &b), XCR_OK);
    xcr_asset_def a;
    xcr_asset_def_init(&a);
    a.symbol = "USDT";
    a.price = 1;
    a.stable = 1;
    cr_assert_eq(xcr_book_add_asset(b, &a, NULL, &err), XCR_OK, "%s",
                 err.msg);
    xcr_instrument_def d;
    xcr_instrument_def_init(&d);
    d.id = "P";
    d.type = XCR_PERP;
    d.underlying = "USDT";
    d.mark_price = 1e300;
    cr_assert_eq(xcr_book_add_instrument(b, &d, NULL, &err), XCR_OK, "%s",
                 err.msg);
    xcr_account_def ac = {"big", XCR_MODE_CROSS, 0, NULL};
    cr_assert_eq(xcr_book_add_account(b, &ac, NULL, &err), XCR_OK);
    cr_assert_eq(xcr_book_add_position(b, "big", "P", 1e300, 1.0, 0, NULL,
                                       &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_book_finalize(b, &err), XCR_OK, "%s", err.msg);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    const xcr__mpath paths[3] = {XCR__MPATH_AUTO, XCR__MPATH_SCALAR,
                                 XCR__MPATH_REFERENCE};
    for (int p = 0; p < 3; p++) {
        xcr_account_result r;
        err = (xcr_error){0};
        cr_assert_eq(xcr__margin_all_path(m, 1, &r, paths[p], &err),
                     XCR_ERANGE, "path %d", p);
        cr_assert(strstr(err.msg, "\"big\"") != NULL, "%s", err.msg);
    }
    xcr_market_free(m);
    xcr_book_free(b);
}

/* The cascade's evaluation step (src/cascade/eval.c) takes the fast path
 * over runs of consecutive accounts, through the cascade's own market and
 * shallow book (its liquidated balances and positions).  After a cascade
 * has changed holdings, both its forms — results by list position, and
 * written into the state — must equal xcr__eval_account on that same
 * market bit for bit, surplus included, for the whole book (one run), a
 * list with gaps and short runs, and 1 or 2 threads. */
Test(margin_fast, cascade_eval_equals_evaluator)
{
    xcr_demo_opts o = {12000, 11, 3};
    xcr_book *b = NULL;
    xcr_scenarios *set = NULL;
    xcr_cascade *c = NULL;
    xcr_cascade_opts opt;
    xcr_error err = {0};
    cr_assert_eq(xcr_demo_book(&o, NULL, &b, &err), XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_new(b, &set), XCR_OK);
    cr_assert_eq(xcr_scenarios_add_builtin(set, "tariff_2025_10_10", NULL,
                                           &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_cascade_opts_init(b, &opt, &err), XCR_OK, "%s",
                 err.msg);
    opt.threads = 2;
    cr_assert_eq(xcr_cascade_new(b, &opt, &c, &err), XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_cascade_shock_scenario(c, set, 0, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK, "%s", err.msg);
    xcr_cascade_summary sum;
    xcr_cascade_summary_get(c, &sum);
    cr_assert_gt(sum.liquidated_usd, 0, "the cascade changed no holdings");

    const size_t n = c->nacc;
    xcr_account_result *ref = calloc(n, sizeof *ref);
    xcr_account_result *got = calloc(n, sizeof *got);
    double *rs = calloc(n, sizeof *rs), *gs = calloc(n, sizeof *gs);
    uint32_t *idx = calloc(n, sizeof *idx);
    cr_assert(ref && got && rs && gs && idx);
    xcr__ws ws;
    cr_assert_eq(xcr__ws_init(&ws, &c->sb), XCR_OK);
    for (size_t i = 0; i < n; i++)
        xcr__eval_account(c->m, NULL, i, &ws, &ref[i], NULL, &rs[i]);
    xcr__ws_free(&ws, &c->sb);

    rng = 0xCA5CADEULL;
    for (int form = 0; form < 2; form++) {
        /* the whole book, then runs of 1..40 accounts with gaps */
        size_t m = 0;
        for (size_t i = 0; i < n;) {
            size_t len = form == 0 ? n : 1 + (size_t)irand(40);
            for (size_t k = 0; k < len && i < n; k++)
                idx[m++] = (uint32_t)i++;
            i += form == 0 ? 0 : (size_t)irand(3);
        }
        for (int t = 1; t <= 2; t++) {
            memset(got, 0xA5, m * sizeof *got);
            memset(gs, 0xA5, m * sizeof *gs);
            cr_assert_eq(xcr__cascade_eval(c, idx, m, got, gs, t), XCR_OK);
            for (size_t k = 0; k < m; k++)
                cr_assert(same(&got[k], &ref[idx[k]]) &&
                              memcmp(&gs[k], &rs[idx[k]], sizeof gs[k]) == 0,
                          "form %d threads %d account %u differs", form, t,
                          idx[k]);
        }
        cr_assert_eq(xcr__cascade_eval_state(c, idx, m, 2), XCR_OK);
        for (size_t k = 0; k < m; k++) {
            const uint32_t i = idx[k];
            cr_assert(same(&c->res[i], &ref[i]) &&
                          memcmp(&c->surplus[i], &rs[i], sizeof rs[i]) == 0 &&
                          memcmp(&c->eq[i], &ref[i].equity, sizeof rs[i]) ==
                              0 &&
                          c->st[i] == (uint8_t)ref[i].status,
                      "state form %d account %u differs", form, i);
        }
    }
    free(ref);
    free(got);
    free(rs);
    free(gs);
    free(idx);
    xcr_cascade_free(c);
    xcr_scenarios_free(set);
    xcr_book_free(b);
}
