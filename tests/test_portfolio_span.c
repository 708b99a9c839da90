/* SPAN-style risk arrays (settings.portfolio.model "span"): McMillan's S&P
 * 500 example (SPAN-1) to the dollar, computed arrays against Black-76, the
 * intra-commodity spread charge, the inter-commodity spread credit and the
 * short option minimum.  Sources: McMillan, Options as a Strategic
 * Investment, ch. 34; CME SPAN (margin-models.md §12; test-vectors.md
 * SPAN-1). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "xcr.h"

#define REL(a, b, tol)                                                         \
    do {                                                                       \
        double a_ = (a), b_ = (b);                                             \
        cr_assert(fabs(a_ - b_) <= (tol) * (b_ != 0 ? fabs(b_) : 1.0),         \
                  "%s = %.17g, expected %.17g", #a, a_, b_);                   \
    } while (0)

/* SPAN-1, published ("+" = profit): per long contract, scenarios 1 … 16. */
static const double mc_future[16] = {0,      0,      3330,   3330,
                                     -3330,  -3330,  6670,   6670,
                                     -6670,  -6670,  10000,  10000,
                                     -10000, -10000, 7000,   -7000};
static const double mc_call[16] = {460,   -610,  2640,  1730,  -1270, -2340,
                                   5210,  4540,  -2540, -3430, 8060,  7640,
                                   -3380, -3990, 3130,  -1500};
static const double mc_covered[16] = {-460,  610,   690,   1600,
                                      -2060, -990,  1460,  2130,
                                      -4130, -3240, 1940,  2360,
                                      -6620, -6010, 3870,  -5500};

/* The scanning arithmetic on the published arrays. */
Test(span1, mcmillan_published_arrays)
{
    double combined[16];
    int worst = -1;
    double q1 = 1;
    /* long call: $3,990, scenario 14 (down 3/3, vol down) */
    cr_assert_eq(xcr_span_scan(mc_call, &q1, 1, combined, &worst), 3990.0);
    cr_assert_eq(worst, 14);
    /* covered write: the published combination, $6,620 at scenario 13 */
    double arrays[32];
    memcpy(arrays, mc_future, sizeof mc_future);
    memcpy(arrays + 16, mc_call, sizeof mc_call);
    double q[2] = {1, -1};
    cr_assert_eq(xcr_span_scan(arrays, q, 2, combined, &worst), 6620.0);
    cr_assert_eq(worst, 13);
    for (int s = 0; s < 16; s++)
        cr_assert_eq(combined[s], mc_covered[s], "scenario %d", s + 1);
    /* the long future alone: the full scan range */
    cr_assert_eq(xcr_span_scan(mc_future, &q1, 1, NULL, &worst), 10000.0);
    /* all gains: nothing at risk */
    double up[16];
    for (int s = 0; s < 16; s++)
        up[s] = 1 + s;
    cr_assert_eq(xcr_span_scan(up, &q1, 1, NULL, &worst), 0.0);
    cr_assert_eq(worst, 0);
    /* the scenario table (CME order, extreme 2 × PSR at 35 %) */
    double pm[16], vm[16], w[16];
    xcr_span_scenarios(2, 0.35, pm, vm, w);
    const double epm[16] = {0,  0,  1.0 / 3,  1.0 / 3,  -1.0 / 3, -1.0 / 3,
                            2.0 / 3, 2.0 / 3, -2.0 / 3, -2.0 / 3, 1,  1,
                            -1, -1, 2,  -2};
    for (int s = 0; s < 16; s++) {
        REL(pm[s], epm[s], 1e-15);
        cr_assert_eq(vm[s], s >= 14 ? 0.0 : (s % 2 ? -1.0 : 1.0));
        cr_assert_eq(w[s], s >= 14 ? 0.35 : 1.0);
    }
}

/* The S&P book: index 400, future of $500 per point (linear, contract size
 * 500), PSR 20 points = 5 % → $10,000; the December 410 call carries
 * McMillan's published array (settings.portfolio.risk_arrays, as SPAN
 * parameter files carry arrays); the future's array is computed. */
static const char *sp_book =
    "{\"as_of\":\"2024-01-02T00:00:00Z\",\"assets\":["
    "{\"symbol\":\"USD\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"SPX\",\"price\":400}],\"instruments\":["
    "{\"id\":\"SP-DEC\",\"type\":\"future\",\"underlying\":\"SPX\","
    "\"contract_size\":500,\"expiry\":\"2024-12-20T00:00:00Z\"},"
    "{\"id\":\"SP-DEC-410C\",\"type\":\"option\",\"underlying\":\"SPX\","
    "\"contract_size\":500,\"expiry\":\"2024-12-20T00:00:00Z\","
    "\"strike\":410,\"option_type\":\"call\",\"iv\":0.2}],"
    "\"accounts\":["
    "{\"id\":\"call\",\"mode\":\"portfolio\",\"balances\":{\"USD\":1e6},"
    "\"positions\":[{\"instrument\":\"SP-DEC-410C\",\"size\":1}]},"
    "{\"id\":\"covered\",\"mode\":\"portfolio\",\"balances\":{\"USD\":1e6},"
    "\"positions\":[{\"instrument\":\"SP-DEC\",\"size\":1},"
    "{\"instrument\":\"SP-DEC-410C\",\"size\":-1}]},"
    "{\"id\":\"ratio\",\"mode\":\"portfolio\",\"balances\":{\"USD\":1e6},"
    "\"positions\":[{\"instrument\":\"SP-DEC\",\"size\":3},"
    "{\"instrument\":\"SP-DEC-410C\",\"size\":-5}]},"
    "{\"id\":\"future\",\"mode\":\"portfolio\",\"balances\":{\"USD\":1e6},"
    "\"positions\":[{\"instrument\":\"SP-DEC\",\"size\":1}]}],"
    "\"settings\":{\"portfolio\":{\"model\":\"span\",\"underlyings\":"
    "{\"SPX\":{\"price_scan_range\":0.05,\"volatility_scan_range\":0.02,"
    "\"extreme_multiplier\":2,\"extreme_cover\":0.35}},"
    "\"risk_arrays\":{\"SP-DEC-410C\":[460,-610,2640,1730,-1270,-2340,"
    "5210,4540,-2540,-3430,8060,7640,-3380,-3990,3130,-1500]}}}}";

static xcr_book *load(const char *json)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_load_json_text(json, strlen(json), "sp.json", NULL,
                                         &b, &err),
                 XCR_OK, "%s", err.msg);
    return b;
}

Test(span1, mcmillan_book_to_the_dollar)
{
    xcr_book *b = load(sp_book);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    const char *ids[4] = {"call", "covered", "ratio", "future"};
    /* call $3,990; covered write $6,620 (published); future $10,000;
     * ratio write 3 × future − 5 × call: worst is scenario 16 (extreme
     * down): 3 × (−7,000) − 5 × (−1,500) = −13,500 (derived) */
    const double want[4] = {3990, 6620, 13500, 10000};
    const int scen[4] = {14, 13, 16, 13};
    for (int k = 0; k < 4; k++) {
        long i = xcr_book_find_account(b, ids[k]);
        cr_assert(i >= 0);
        xcr_account_result r;
        cr_assert_eq(xcr_margin_account(m, (size_t)i, &r, NULL, NULL), XCR_OK);
        cr_assert(fabs(r.maintenance_margin - want[k]) < 0.5,
                  "%s: MM %.6f, expected %.0f", ids[k], r.maintenance_margin,
                  want[k]);
        cr_assert_eq(round(r.maintenance_margin), want[k]);
        REL(r.initial_margin, r.maintenance_margin, 0); /* factor 1 */
        xcr_pm_detail *d = NULL;
        cr_assert_eq(xcr_portfolio_detail(m, (size_t)i, &d, NULL), XCR_OK);
        cr_assert_eq(d->model, XCR_PM_SPAN);
        cr_assert_eq(d->n_commodities, 1);
        cr_assert_eq(d->commodities[0].worst_scenario, scen[k], "%s: %d",
                     ids[k], d->commodities[0].worst_scenario);
        if (k == 3) {
            /* the computed future array against McMillan's (rounded to
             * tens in the book: 3,330 for 10,000/3) */
            for (int s = 0; s < 16; s++)
                cr_assert(fabs(d->commodities[0].risk_array[s] -
                               mc_future[s]) <= 4,
                          "scenario %d: %.6f vs %.0f", s + 1,
                          d->commodities[0].risk_array[s], mc_future[s]);
            REL(d->commodities[0].risk_array[12], -10000, 1e-12);
            REL(d->commodities[0].risk_array[14], 7000, 1e-12);
        }
        xcr_pm_detail_free(d);
    }
    xcr_market_free(m);
    xcr_book_free(b);
}

/* The same through the command line: JSON "portfolio.model" = "span". */
Test(span1, mcmillan_cli)
{
    char *path = xt_write_temp(".json", sp_book);
    char cmd[4200], *out = NULL, *errt = NULL;
    snprintf(cmd, sizeof cmd,
             "%s margin '%s' --account covered --format json --no-liquidation",
             XCR_CLI_PATH, path);
    int rc = xt_run(cmd, &out, &errt);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, errt);
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    cr_assert(root, "%s", je.text);
    json_t *a = json_array_get(json_object_get(root, "accounts"), 0);
    cr_assert_eq(round(json_number_value(
                     json_object_get(a, "maintenance_margin"))),
                 6620.0);
    json_t *pf = json_object_get(a, "portfolio");
    cr_assert_str_eq(json_string_value(json_object_get(pf, "model")), "span");
    json_t *spx = json_object_get(json_object_get(pf, "commodities"), "SPX");
    cr_assert_eq(json_integer_value(json_object_get(spx, "worst_scenario")),
                 13);
    json_decref(root);
    free(out);
    free(errt);
    unlink(path);
    free(path);
}

/* MARK: computed arrays, spreads, SOM ----------------------------------------- */

static const char *crypto_book =
    "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
    "{\"symbol\":\"USDC\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"BTC\",\"price\":60000},"
    "{\"symbol\":\"ETH\",\"price\":3000}],\"instruments\":["
    "{\"id\":\"BTC-P\",\"type\":\"perp\",\"underlying\":\"BTC\","
    "\"settle\":\"USDC\"},"
    "{\"id\":\"BTC-F\",\"type\":\"future\",\"underlying\":\"BTC\","
    "\"settle\":\"USDC\",\"expiry\":\"2024-09-27T08:00:00Z\","
    "\"mark_price\":61000},"
    "{\"id\":\"ETH-P\",\"type\":\"perp\",\"underlying\":\"ETH\","
    "\"settle\":\"USDC\"},"
    "{\"id\":\"BTC-C\",\"type\":\"option\",\"underlying\":\"BTC\","
    "\"settle\":\"USDC\",\"expiry\":\"2024-07-26T08:00:00Z\","
    "\"strike\":66000,\"option_type\":\"call\",\"iv\":0.6},"
    "{\"id\":\"BTC-FARP\",\"type\":\"option\",\"underlying\":\"BTC\","
    "\"settle\":\"USDC\",\"expiry\":\"2024-06-21T08:00:00Z\","
    "\"strike\":20000,\"option_type\":\"put\",\"iv\":0.5}],"
    "\"accounts\":["
    "{\"id\":\"opt\",\"mode\":\"portfolio\",\"balances\":{\"USDC\":1e6},"
    "\"positions\":[{\"instrument\":\"BTC-C\",\"size\":-2}]},"
    "{\"id\":\"cal\",\"mode\":\"portfolio\",\"balances\":{\"USDC\":1e6},"
    "\"positions\":[{\"instrument\":\"BTC-P\",\"size\":2},"
    "{\"instrument\":\"BTC-F\",\"size\":-1.5}]},"
    "{\"id\":\"inter\",\"mode\":\"portfolio\",\"balances\":{\"USDC\":1e6},"
    "\"positions\":[{\"instrument\":\"BTC-P\",\"size\":1},"
    "{\"instrument\":\"ETH-P\",\"size\":-30}]},"
    "{\"id\":\"som\",\"mode\":\"portfolio\",\"balances\":{\"USDC\":1e6},"
    "\"positions\":[{\"instrument\":\"BTC-FARP\",\"size\":-10}]}],"
    "\"settings\":{\"portfolio\":{\"model\":\"span\","
    "\"span_initial_factor\":1.1,\"underlyings\":{"
    "\"BTC\":{\"price_scan_range\":0.12,\"volatility_scan_range\":0.1,"
    "\"intra_spread_charge\":0.01,\"short_option_minimum\":0.005},"
    "\"ETH\":{\"price_scan_range\":0.15}},"
    "\"inter_spreads\":[{\"legs\":{\"BTC\":1,\"ETH\":20},\"credit\":0.5}]}}}";

static xcr_pm_detail *detail_of(const xcr_market *m, const xcr_book *b,
                                const char *id, xcr_account_result *r)
{
    long i = xcr_book_find_account(b, id);
    cr_assert(i >= 0);
    cr_assert_eq(xcr_margin_account(m, (size_t)i, r, NULL, NULL), XCR_OK);
    xcr_pm_detail *d = NULL;
    cr_assert_eq(xcr_portfolio_detail(m, (size_t)i, &d, NULL), XCR_OK);
    return d;
}

Test(span, computed_option_array_against_black76)
{
    xcr_book *b = load(crypto_book);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result r;
    xcr_pm_detail *d = detail_of(m, b, "opt", &r);
    double pm[16], vm[16], w[16];
    xcr_span_scenarios(2, 0.35, pm, vm, w);
    double t = 39.0 / 365;
    xcr_greeks g0;
    xcr_black76(1, 60000, 66000, t, 0.6, &g0);
    double worst = 0;
    for (int s = 0; s < 16; s++) {
        xcr_greeks g;
        xcr_black76(1, 60000 * (1 + 0.12 * pm[s]), 66000, t,
                    fmax(0.6 + 0.1 * vm[s], 0), &g);
        double e = -2 * (g.value - g0.value) * w[s];
        cr_assert(fabs(d->commodities[0].risk_array[s] - e) <= 1e-9,
                  "scenario %d: %.12f vs %.12f", s + 1,
                  d->commodities[0].risk_array[s], e);
        worst = fmin(worst, e);
    }
    REL(d->commodities[0].scanning_risk, -worst, 1e-12);
    /* SOM 0.5 % of 2 × 60,000 = 600 < scan: the scan decides */
    REL(d->commodities[0].short_option_minimum, 600, 1e-12);
    REL(r.maintenance_margin, -worst, 1e-12);
    REL(r.initial_margin, 1.1 * -worst, 1e-12);
    xcr_pm_detail_free(d);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Intra-commodity: +2 BTC perp (tier "perp"), −1.5 BTC Sep future (mark
 * 61,000: delta 1.5·61,000/60,000): spread deltas = min(2, 1.525) = 1.525
 * → charge 1 % × 1.525 × 60,000 = 915. */
Test(span, intra_commodity_charge)
{
    xcr_book *b = load(crypto_book);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result r;
    xcr_pm_detail *d = detail_of(m, b, "cal", &r);
    const xcr_span_commodity *c = &d->commodities[0];
    REL(c->composite_delta, 2 - 1.5 * 61000.0 / 60000, 1e-12);
    REL(c->intra_spread_charge, 0.01 * 1.525 * 60000, 1e-12);
    /* the scan: net linear exposure 2·60,000 − 1.5·61,000 = 28,500 USD per
     * 100 % move; worst at −1 PSR: 28,500 × 0.12 = 3,420 */
    REL(c->scanning_risk, 28500 * 0.12, 1e-9);
    REL(r.maintenance_margin, 3420 + 915, 1e-9);
    xcr_pm_detail_free(d);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Inter-commodity: +1 BTC (delta 1) vs −30 ETH (delta −30), ratio 1:20,
 * credit 50 %: n = min(1/1, 30/20) = 1 spread; BTC credit = 0.5 × 1 ×
 * (scan_BTC / 1); ETH credit = 0.5 × 20 × (scan_ETH / 30). */
Test(span, inter_commodity_credit)
{
    xcr_book *b = load(crypto_book);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result r;
    xcr_pm_detail *d = detail_of(m, b, "inter", &r);
    cr_assert_eq(d->n_commodities, 2);
    const xcr_span_commodity *btc = &d->commodities[0], *eth = &d->commodities[1];
    REL(btc->scanning_risk, 60000 * 0.12, 1e-9);
    REL(eth->scanning_risk, 30 * 3000 * 0.15, 1e-9);
    REL(btc->inter_spread_credit, 0.5 * btc->scanning_risk, 1e-12);
    REL(eth->inter_spread_credit, 0.5 * 20 * eth->scanning_risk / 30, 1e-12);
    REL(r.maintenance_margin,
        0.5 * btc->scanning_risk + eth->scanning_risk * (1 - 10.0 / 30),
        1e-12);
    xcr_pm_detail_free(d);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Short option minimum: 10 short far-OTM puts (strike 20,000, 4 days): the
 * scan is ~0, the SOM 0.5 % × 10 × 60,000 = 3,000 applies. */
Test(span, short_option_minimum)
{
    xcr_book *b = load(crypto_book);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result r;
    xcr_pm_detail *d = detail_of(m, b, "som", &r);
    cr_assert(d->commodities[0].scanning_risk < 1);
    REL(d->commodities[0].short_option_minimum, 3000, 1e-12);
    REL(r.maintenance_margin, 3000, 1e-12);
    xcr_pm_detail_free(d);
    xcr_market_free(m);
    xcr_book_free(b);
}
