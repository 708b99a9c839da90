/* The stress engine: results against a brute-force recomputation with the
 * public market API, bit-identical results for 1, 2 and 8 threads, the
 * loss attribution, the liquidations-at-risk curve, option repricing with
 * shocked vols, liquidity models and the exposure report. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress/stress.h"
#include "test_support.h"
#include "xcr.h"

static xcr_stress_result *run(const xcr_market *m, const xcr_scenarios *s,
                              int threads)
{
    xcr_stress_opts o;
    xcr_stress_opts_init(&o);
    o.threads = threads;
    xcr_stress_result *r = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_stress_run(m, s, &o, &r, &err), XCR_OK, "%s", err.msg);
    return r;
}

/* MARK: brute force ---------------------------------------------------------------------- */

/* Every scenario recomputed the slow, obvious way: a fresh market with
 * xcr_market_set_prices and xcr_market_set_vol_shift, xcr_margin_all, and
 * sums over accounts.  Equity and status must match bit for bit (the
 * engine computes the same numbers), the totals to rounding. */
static void brute_force_check(const xcr_book *b, const xcr_scenarios *s,
                              const xcr_stress_result *r)
{
    size_t na = xcr_book_asset_count(b), nacc = xcr_book_account_count(b);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result *base = calloc(nacc, sizeof *base);
    xcr_account_result *res = calloc(nacc, sizeof *res);
    double *px = malloc(na * sizeof *px);
    xcr_error err = {0};
    cr_assert_eq(xcr_margin_all(m, 1, base, &err), XCR_OK);
    for (size_t k = 0; k < xcr_scenarios_count(s); k++) {
        xcr_market_reset(m);
        for (size_t a = 0; a < na; a++) {
            px[a] = xcr_book_asset_price(b, a) *
                    (1.0 + xcr_scenarios_move(s, k, a));
            double v = xcr_scenarios_vol_shift(s, k, a);
            if (v != 0)
                cr_assert_eq(xcr_market_set_vol_shift(m, a, v, &err), XCR_OK);
        }
        cr_assert_eq(xcr_market_set_prices(m, px, &err), XCR_OK, "%s",
                     err.msg);
        cr_assert_eq(xcr_margin_all(m, 1, res, &err), XCR_OK, "%s", err.msg);
        double shortfall = 0, loss = 0;
        size_t cnt[4] = {0, 0, 0, 0}, newly = 0;
        for (size_t i = 0; i < nacc; i++) {
            shortfall += res[i].equity < 0 ? -res[i].equity : 0;
            loss += base[i].equity - res[i].equity;
            cnt[res[i].status]++;
            newly += res[i].status >= XCR_LIQUIDATABLE &&
                     base[i].status < XCR_LIQUIDATABLE;
        }
        xcr_scenario_outcome o;
        cr_assert_eq(xcr_stress_outcome(r, k, &o), XCR_OK);
        XT_REL(o.shortfall, shortfall, 1e-9);
        XT_REL(o.loss, loss, 1e-9);
        for (int q = 0; q < 4; q++)
            cr_assert_eq(o.by_status[q], cnt[q], "scenario %zu status %d", k,
                         q);
        cr_assert_eq(o.newly_liquidatable, newly);
        if (xcr_scenarios_count(s) == 1)
            for (size_t i = 0; i < nacc; i++) {
                xcr_account_stress as;
                xcr_stress_account(r, i, &as);
                cr_assert(as.equity_after == res[i].equity,
                          "account %zu: %.17g vs %.17g", i, as.equity_after,
                          res[i].equity);
                cr_assert_eq(as.status_after, res[i].status);
                cr_assert(as.equity_before == base[i].equity);
            }
        /* the loss attribution adds up */
        const double *la = xcr_stress_loss_by_asset(r, k);
        cr_assert_not_null(la);
        double sum = 0;
        for (size_t a = 0; a < na; a++)
            sum += la[a];
        XT_REL(sum, o.loss, 1e-7);
    }
    free(base);
    free(res);
    free(px);
    xcr_market_free(m);
}

Test(engine, shortfall_equals_brute_force)
{
    xcr_book *b = xt_demo_book(3000, 11, 3.0);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_builtin(s, "tariff_2025_10_10", NULL, &err),
                 XCR_OK);
    xcr_stress_result *r = run(m, s, 0);
    brute_force_check(b, s, r);
    xcr_stress_result_free(r);
    /* many scenarios at once, options repriced with shocked vols */
    cr_assert_eq(xcr_scenarios_add_builtin(s, "all", NULL, &err), XCR_OK);
    cr_assert_eq(xcr_scenarios_add_grid(s, "BTC=-0.4:0.2:0.2,ETH=-0.5:0:0.25",
                                        &err),
                 XCR_OK);
    const char *js = "{\"name\": \"volspike\", \"moves\": {\"BTC\": -0.15}, "
                     "\"vol_shifts\": {\"*\": 0.3, \"ETH\": 0.5}}";
    cr_assert_eq(xcr_scenarios_load_text(s, js, strlen(js), "v.json", NULL,
                                         &err),
                 XCR_OK, "%s", err.msg);
    xt_add_mc(s, 20, 4, XCR_MC_T, 4, 10);
    r = run(m, s, 2);
    brute_force_check(b, s, r);
    xcr_stress_result_free(r);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* MARK: determinism ---------------------------------------------------------------------- */

static void same_bits(const void *x, const void *y, size_t n, const char *what)
{
    cr_assert(memcmp(x, y, n) == 0, "%s differs between thread counts", what);
}

Test(engine, bit_identical_for_1_2_8_threads)
{
    xcr_book *b = xt_demo_book(2500, 3, 3.0);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xt_add_mc(s, 300, xt_seed(1), XCR_MC_T, 4, 0);
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_shift_vols(s, 0.1, &err), XCR_OK);
    xcr_stress_result *r[3];
    const int th[3] = {1, 2, 8};
    for (int i = 0; i < 3; i++)
        r[i] = run(m, s, th[i]);
    size_t ns = r[0]->n_scen, na = r[0]->na, nacc = r[0]->n_acc;
    for (int i = 1; i < 3; i++) {
        same_bits(r[0]->loss, r[i]->loss, ns * sizeof(double), "loss");
        same_bits(r[0]->shortfall, r[i]->shortfall, ns * sizeof(double),
                  "shortfall");
        same_bits(r[0]->liq_coll, r[i]->liq_coll, ns * sizeof(double),
                  "liquidatable collateral");
        same_bits(r[0]->liq_notional, r[i]->liq_notional, ns * sizeof(double),
                  "liquidatable notional");
        same_bits(r[0]->status_count, r[i]->status_count,
                  ns * 5 * sizeof(uint32_t), "status counts");
        same_bits(r[0]->asset_loss, r[i]->asset_loss,
                  ns * na * sizeof(double), "loss by asset");
        same_bits(r[0]->asset_liq, r[i]->asset_liq, ns * na * sizeof(double),
                  "liquidatable collateral by asset");
        same_bits(r[0]->sum_loss, r[i]->sum_loss, nacc * sizeof(double),
                  "mean loss per account");
        same_bits(r[0]->acc_var, r[i]->acc_var, nacc * 3 * sizeof(double),
                  "VaR per account");
        same_bits(r[0]->acc_es, r[i]->acc_es, nacc * 3 * sizeof(double),
                  "ES per account");
        same_bits(r[0]->n_liq, r[i]->n_liq, nacc * sizeof(uint32_t),
                  "P(liquidation)");
        xcr_risk_stats a, c;
        xcr_stress_book_stats(r[0], XCR_METRIC_SHORTFALL, &a);
        xcr_stress_book_stats(r[i], XCR_METRIC_SHORTFALL, &c);
        same_bits(&a, &c, sizeof a, "shortfall VaR/ES");
    }
    /* the JSON report is byte-identical too */
    char *txt[3];
    for (int i = 0; i < 3; i++) {
        size_t len;
        FILE *f = open_memstream(&txt[i], &len);
        xcr_stress_report_opts ro = {XCR_OUT_JSON, (size_t)-1, 0, 0, NULL};
        cr_assert_eq(xcr_stress_report(r[i], &ro, f, &err), XCR_OK);
        fclose(f);
        if (i)
            cr_assert_str_eq(txt[i], txt[0]);
    }
    for (int i = 0; i < 3; i++) {
        free(txt[i]);
        xcr_stress_result_free(r[i]);
    }
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* MARK: curve, statistics, options -------------------------------------------------------- */

Test(engine, lar_curve_starts_at_the_base_state)
{
    xcr_book *b = xt_demo_book(1500, 2, 3.0);
    xcr_market *m = NULL;
    xcr_market_new(b, &m);
    xcr_scenarios *s = NULL;
    xcr_scenarios_new(b, &s);
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_uniform(s, 0, -0.6, -0.05, &err), XCR_OK);
    cr_assert_eq(xcr_scenarios_count(s), 13);
    xcr_stress_result *r = run(m, s, 0);
    xcr_scenario_outcome o0, o12;
    xcr_stress_outcome(r, 0, &o0);
    xcr_stress_outcome(r, 12, &o12);
    cr_assert_eq(o0.loss, 0);
    cr_assert_eq(o0.newly_liquidatable, 0);
    size_t nacc = xcr_book_account_count(b), before[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < nacc; i++) {
        xcr_account_stress as;
        xcr_stress_account(r, i, &as);
        before[as.status_before]++;
    }
    for (int q = 0; q < 4; q++)
        cr_assert_eq(o0.by_status[q], before[q]);
    cr_assert(o12.shortfall > o0.shortfall);
    cr_assert(o12.by_status[XCR_BANKRUPT] > o0.by_status[XCR_BANKRUPT]);
    cr_assert(o12.liquidatable_collateral > 0);
    cr_assert(!isnan(s->meta[12].uniform));
    XT_REL(s->meta[12].uniform, -0.6, 0);
    /* book statistics over the curve equal those of the raw numbers */
    xcr_risk_stats st;
    xcr_stress_book_stats(r, XCR_METRIC_LOSS, &st);
    double mx = -INFINITY, mean = 0;
    for (size_t k = 0; k < 13; k++) {
        xcr_scenario_outcome o;
        xcr_stress_outcome(r, k, &o);
        mx = fmax(mx, o.loss);
        mean += o.loss / 13;
    }
    XT_REL(st.max, mx, 0);
    XT_REL(st.mean, mean, 1e-12);
    XT_REL(st.var[2], mx, 0); /* ⌈0.999·13⌉ = 13 */
    xcr_stress_result_free(r);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* A long call repriced with a shocked vol: Black-76 by hand. */
Test(engine, options_repriced_with_shocked_vol)
{
    const char *json =
        "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
        "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":60000,\"vol\":0.6}],"
        "\"instruments\":[{\"id\":\"C\",\"type\":\"option\","
        "\"underlying\":\"BTC\",\"expiry\":\"2024-09-27T08:00:00Z\","
        "\"strike\":60000,\"option_type\":\"call\",\"iv\":0.5}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
        "{\"USDT\":1000},\"positions\":[{\"instrument\":\"C\",\"size\":2}]}]}";
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    xcr_market_new(b, &m);
    xcr_scenarios *s = NULL;
    xcr_scenarios_new(b, &s);
    xcr_error err = {0};
    const double mv[2] = {0, -0.1}, vs[2] = {0, 0.3};
    cr_assert_eq(xcr_scenarios_add_moves(s, "crash_volspike", mv, vs, NULL,
                                         &err),
                 XCR_OK, "%s", err.msg);
    xcr_stress_result *r = run(m, s, 1);
    double t = (1727424000.0 - 1718611200.0) / (365 * 86400.0);
    xcr_greeks g0, g1;
    xcr_black76(1, 60000, 60000, t, 0.5, &g0);
    xcr_black76(1, 54000, 60000, t, 0.8, &g1);
    xcr_scenario_outcome o;
    xcr_stress_outcome(r, 0, &o);
    XT_REL(o.loss, 2 * (g0.value - g1.value), 1e-9);
    const double *la = xcr_stress_loss_by_asset(r, 0);
    XT_REL(la[1], o.loss, 1e-12);
    XT_REL(la[0], 0, 0);
    xcr_stress_result_free(r);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* MARK: liquidity and exposure ------------------------------------------------------------------ */

static const char *EXPO_BOOK =
    "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
    "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true,"
    "\"lending\":{\"ltv\":0.75,\"liquidation_threshold\":0.78,"
    "\"liquidation_bonus\":0.05}},"
    "{\"symbol\":\"USDC\",\"price\":1,\"stable\":true,"
    "\"lending\":{\"ltv\":0.77,\"liquidation_threshold\":0.8,"
    "\"liquidation_bonus\":0.05}},"
    "{\"symbol\":\"ETH\",\"price\":100,\"vol\":0.8,"
    "\"lending\":{\"ltv\":0.8,\"liquidation_threshold\":0.83,"
    "\"liquidation_bonus\":0.05,\"emode_category\":1},"
    "\"liquidity\":{\"model\":\"linear\",\"depth_usd\":1000000}},"
    "{\"symbol\":\"WSTETH\",\"price\":110,\"vol\":0.8,"
    "\"lending\":{\"ltv\":0.78,\"liquidation_threshold\":0.81,"
    "\"liquidation_bonus\":0.06,\"emode_category\":1},"
    "\"liquidity\":{\"model\":\"amm\",\"base_reserve\":1000,"
    "\"quote_reserve\":110000,\"fee\":0}},"
    "{\"symbol\":\"BTC\",\"price\":50000,\"vol\":0.6,"
    "\"liquidity\":{\"model\":\"book\",\"levels\":[[-0.01,1000000],"
    "[-0.05,3000000]]}}],"
    "\"instruments\":[{\"id\":\"BTC-PERP\",\"type\":\"perp\","
    "\"underlying\":\"BTC\"}],"
    "\"accounts\":["
    /* an ETH-e-mode loop: 1,100 USD of wstETH against 825 of WETH debt */
    "{\"id\":\"loop\",\"mode\":\"lending\",\"emode\":1,\"balances\":"
    "{\"WSTETH\":10,\"ETH\":-8.25}},"
    /* not a loop: USDC collateral, ETH debt */
    "{\"id\":\"plain\",\"mode\":\"lending\",\"balances\":{\"USDC\":1000,"
    "\"ETH\":-2}},"
    /* an entity loop split over two accounts: USDT borrowed in one,
     * USDC held in the other */
    "{\"id\":\"x1\",\"mode\":\"lending\",\"entity\":\"X\",\"balances\":"
    "{\"ETH\":5,\"USDT\":-300}},"
    "{\"id\":\"x2\",\"mode\":\"lending\",\"entity\":\"X\",\"balances\":"
    "{\"USDC\":400}},"
    /* ETH holders 3 : 2 with the others → HHI check; a long perp */
    "{\"id\":\"t1\",\"mode\":\"cross\",\"balances\":{\"USDT\":5000,"
    "\"ETH\":2},\"positions\":[{\"instrument\":\"BTC-PERP\",\"size\":0.1,"
    "\"entry_price\":50000}]},"
    "{\"id\":\"t2\",\"mode\":\"cross\",\"balances\":{\"USDT\":5000},"
    "\"positions\":[{\"instrument\":\"BTC-PERP\",\"size\":-0.3,"
    "\"entry_price\":50000}]}],"
    "\"settings\":{\"emode_categories\":[{\"id\":1,\"ltv\":0.93,"
    "\"liquidation_threshold\":0.95,\"liquidation_bonus\":0.01}]}}";

Test(exposure, loops_concentration_depth_and_deltas)
{
    xcr_book *b = xt_load_book(EXPO_BOOK);
    xcr_market *m = NULL;
    xcr_market_new(b, &m);
    xcr_exposure *e = NULL;
    xcr_error err = {0};
    xcr_exposure_opts eo = {1, 2, 2.0};
    cr_assert_eq(xcr_exposure_compute(m, &eo, &e, &err), XCR_OK, "%s",
                 err.msg);
    /* loops */
    cr_assert_eq(xcr_exposure_loop_count(e), 2);
    xcr_loop l;
    xcr_exposure_loop(e, 0, &l);
    cr_assert_str_eq(xcr_book_account_id(b, l.account), "loop");
    cr_assert_str_eq(xcr_book_asset_symbol(b, l.collateral_asset), "WSTETH");
    cr_assert_str_eq(xcr_book_asset_symbol(b, l.debt_asset), "ETH");
    XT_REL(l.collateral, 1100, 1e-12);
    XT_REL(l.debt, 825, 1e-12);
    XT_REL(l.leverage, 4, 1e-12);
    cr_assert_str_eq(l.family, "e-mode 1");
    xcr_exposure_loop(e, 1, &l);
    cr_assert_eq(l.account, (size_t)-1);
    cr_assert_str_eq(l.entity, "X");
    cr_assert_str_eq(l.family, "stablecoins");
    XT_REL(l.leverage, 4, 1e-12);
    /* ETH: holders x1 (500 USD) and t1 (200 USD); borrowed 825 + 200 */
    xcr_asset_exposure x;
    xcr_exposure_asset(e, 2, &x);
    XT_REL(x.collateral, 700, 1e-12);
    XT_REL(x.borrowed, 1025, 1e-12);
    cr_assert_eq(x.holders, 2);
    XT_REL(x.hhi, (500.0 * 500 + 200.0 * 200) / (700.0 * 700), 1e-12);
    XT_REL(x.top_share, 1, 1e-12);
    XT_REL(x.depth_10pct, 100000, 1e-12);
    XT_REL(x.impact_all, -700.0 / 1e6, 1e-12);
    /* BTC: deltas of the perps, +5,000 and −15,000 USD */
    xcr_exposure_asset(e, 4, &x);
    XT_REL(x.delta_long, 5000, 1e-6);
    XT_REL(x.delta_short, -15000, 1e-6);
    XT_REL(x.net, -10000, 1e-6);
    XT_REL(x.gross, 20000, 1e-6);
    XT_REL(x.depth_10pct, 3000000 + 2000000.0 / 0.04 * 0.05, 1e-9);
    /* liquidity models: the book's knots and the AMM curve */
    XT_REL(xcr_liquidity_impact(b, 4, 2000000, 1), -0.03, 1e-12);
    XT_REL(xcr_liquidity_impact(b, 4, 500000, 1), -0.005, 1e-12);
    XT_REL(xcr_liquidity_impact(b, 4, 500000, 0.5), -0.01, 1e-12);
    double amm = xcr_liquidity_impact(b, 3, 11000, 1); /* 100 of 1,000 */
    XT_REL(amm, (1000.0 / 1100) * (1000.0 / 1100) - 1, 1e-12);
    XT_REL(xcr_liquidity_depth(b, 3, amm, 1), 11000, 1e-9);
    XT_REL(xcr_liquidity_impact(b, 0, 1e9, 1), 0, 0); /* no model */
    cr_assert(isfinite(xcr_exposure_collateral_hhi(e)));
    char *txt = NULL;
    size_t len;
    FILE *f = open_memstream(&txt, &len);
    cr_assert_eq(xcr_exposure_report(e, XCR_OUT_JSON, f, &err), XCR_OK);
    fclose(f);
    cr_assert(strstr(txt, "\"loops\": [") && strstr(txt, "\"family\": "
                                                         "\"e-mode 1\""),
              "%s", txt);
    free(txt);
    xcr_exposure_free(e);
    xcr_market_free(m);
    xcr_book_free(b);
}

Test(engine, bad_arguments)
{
    xcr_book *b = xt_demo_book(10, 1, 3.0), *b2 = xt_demo_book(10, 2, 3.0);
    xcr_market *m = NULL;
    xcr_market_new(b, &m);
    xcr_scenarios *s = NULL;
    xcr_scenarios_new(b2, &s);
    xcr_stress_result *r = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_stress_run(m, s, NULL, &r, &err), XCR_EINVAL);
    xcr_scenarios_free(s);
    xcr_scenarios_new(b, &s);
    cr_assert_eq(xcr_stress_run(m, s, NULL, &r, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "no scenarios"));
    const double mv[12] = {0};
    cr_assert_eq(xcr_scenarios_add_moves(s, "bad name", mv, NULL, NULL, &err),
                 XCR_EINVAL);
    xcr_scenarios_free(s);
    xcr_market_free(m);
    xcr_book_free(b);
    xcr_book_free(b2);
}
