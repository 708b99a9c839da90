/* Margin engine: published and hand-derived vectors (cited per test). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book/book.h"
#include "margin/margin.h"
#include "test_support.h"
#include "xcr.h"

static void eval_one(const char *json, const char *acct, xcr_account_result *r,
                     xcr_position_result *pr)
{
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    long i = xcr_book_find_account(b, acct);
    cr_assert(i >= 0);
    xcr_error err = {0};
    cr_assert_eq(xcr_margin_account(m, (size_t)i, r, pr, &err), XCR_OK, "%s",
                 err.msg);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* The historic Binance BTCUSDT USDⓈ-M bracket table (margin-models.md §3.1;
 * test-vectors.md BN-1): caps and MMRs. */
#define BTCUSDT_TIERS                                                          \
    "[{\"notional_max\":50000,\"imr\":0.008,\"mmr\":0.004},"                   \
    "{\"notional_max\":250000,\"imr\":0.01,\"mmr\":0.005},"                    \
    "{\"notional_max\":1000000,\"imr\":0.02,\"mmr\":0.01},"                    \
    "{\"notional_max\":10000000,\"imr\":0.05,\"mmr\":0.025},"                  \
    "{\"notional_max\":20000000,\"imr\":0.1,\"mmr\":0.05},"                    \
    "{\"notional_max\":50000000,\"imr\":0.2,\"mmr\":0.1},"                     \
    "{\"notional_max\":100000000,\"imr\":0.25,\"mmr\":0.125},"                 \
    "{\"notional_max\":200000000,\"imr\":0.3,\"mmr\":0.15},"                   \
    "{\"notional_max\":300000000,\"imr\":0.5,\"mmr\":0.25},"                   \
    "{\"notional_max\":500000000,\"imr\":1,\"mmr\":0.5}]"

static const char *btc_book_head =
    "{\"as_of\":\"2024-06-17T08:00:00Z\","
    "\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"BTC\",\"price\":1}],"
    "\"instruments\":[{\"id\":\"BTCUSDT\",\"type\":\"perp\","
    "\"underlying\":\"BTC\",\"margin_tiers\":" BTCUSDT_TIERS "}],";

/* BN-1: the maintenance-amount recursion reproduces every published `cum`
 * (Binance FAQ b3c689c1f50a44cabb3a84e663b81d93; table reconstructed by public
 * calculators, margin-models.md §3.1). */
Test(brackets, binance_btcusdt_cum)
{
    char json[4096];
    snprintf(json, sizeof json, "%s\"accounts\":[]}", btc_book_head);
    xcr_book *b = xt_load_book(json);
    const xcr__inst *in = &b->insts[0];
    const double cum[] = {0,       50,        1300,      16300,
                          266300,  1266300,   2516300,   5016300,
                          25016300, 100016300};
    cr_assert_eq(in->nmt, 10);
    for (uint32_t k = 0; k < 10; k++)
        XT_REL(b->mtiers[in->mt_off + k].cum_mm, cum[k], 1e-12);
    /* continuity at each floor: both brackets give the same MM (200 at
     * 50,000; 1,200 at 250,000; 8,700 at 1,000,000 ...) */
    for (uint32_t k = 1; k < 10; k++) {
        const xcr__mtier *lo = &b->mtiers[in->mt_off + k - 1];
        const xcr__mtier *hi = &b->mtiers[in->mt_off + k];
        double f = hi->lo;
        XT_REL(f * lo->mmr - lo->cum_mm, f * hi->mmr - hi->cum_mm, 1e-12);
    }
    XT_REL(50000 * 0.004, 200, 1e-12);
    const xcr__mtier *t3 = &b->mtiers[in->mt_off + 3];
    XT_REL(1000000 * t3->mmr - t3->cum_mm, 8700, 1e-12);
    /* a 264,000 USDT position is in the 1 % bracket (published) */
    uint32_t br = xcr__bracket(b, in, 264000);
    cr_assert_eq(br, 2);
    XT_REL(b->mtiers[in->mt_off + br].mmr, 0.01, 0);
    xcr_book_free(b);
}

/* BN-3: Binance's liquidation-price FAQ fragment: BTCUSDT bracket MM
 * 3,500,032.458 × 2.5 % − 16,300 = 71,200.811. */
Test(brackets, binance_fragment_mm)
{
    char json[4096];
    snprintf(json, sizeof json,
             "%s\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\","
             "\"balances\":{\"USDT\":1000000},\"positions\":[{\"instrument\":"
             "\"BTCUSDT\",\"size\":3500032.458,\"entry_price\":1}]}]}",
             btc_book_head);
    xcr_account_result r;
    xcr_position_result pr[1];
    eval_one(json, "a", &r, pr);
    XT_REL(pr[0].notional, 3500032.458, 1e-15);
    /* published to 3 decimals: 87,500.81145 − 16,300 = 71,200.81145 */
    XT_REL(pr[0].maintenance_margin, 71200.811, 1e-8);
    cr_assert_eq(pr[0].bracket, 3);
    XT_REL(r.maintenance_margin, 71200.81145, 1e-12);
}

/* BYB-1 (derived from Bybit's BTC tiers, test-vectors.md): 25 units →
 * 10 × 0.98 + 10 × 0.95 + 5 × 0.90 = 23.8; 60 → 44.8 (above 50 counts 0). */
Test(tiers, bybit_progressive)
{
    const char *fmt =
        "{\"assets\":[{\"symbol\":\"USD\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"X\",\"price\":1,\"collateral_tiers\":[[10,0.98],"
        "[20,0.95],[30,0.9],[40,0.85],[50,0.8],[null,0]]}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
        "{\"X\":%g}}]}";
    char json[1024];
    xcr_account_result r;
    snprintf(json, sizeof json, fmt, 25.0);
    eval_one(json, "a", &r, NULL);
    XT_REL(r.collateral, 23.8, 1e-12);
    XT_REL(r.equity, 25, 0);
    snprintf(json, sizeof json, fmt, 60.0);
    eval_one(json, "a", &r, NULL);
    XT_REL(r.collateral, 44.8, 1e-12);
}

/* Binance Cross Margin BTC tiers (FAQ 4bec9126c021472285b20874f9380dfb,
 * margin-models.md §2.2): 0–100M × 100 %, 100–120M × 97.5 %, 120–150M × 95 %,
 * 150–180M × 90 %, 180–200M × 85 %.  130M USD of BTC → 100M + 20M × 0.975 +
 * 10M × 0.95 = 129M; 250M → 100 + 19.5 + 28.5 + 27 + 17 = 192M (nothing
 * counts above the last 200M cap). */
Test(tiers, binance_btc_table)
{
    const char *fmt =
        "{\"assets\":[{\"symbol\":\"BTC\",\"price\":65000,"
        "\"collateral_tiers\":[[1e8,1],[1.2e8,0.975],[1.5e8,0.95],"
        "[1.8e8,0.9],[2e8,0.85]]}],\"accounts\":[{\"id\":\"a\","
        "\"mode\":\"cross\",\"balances\":{\"BTC\":%.17g}}]}";
    char json[1024];
    xcr_account_result r;
    snprintf(json, sizeof json, fmt, 130e6 / 65000);
    eval_one(json, "a", &r, NULL);
    XT_REL(r.collateral, 129e6, 1e-12);
    snprintf(json, sizeof json, fmt, 250e6 / 65000);
    eval_one(json, "a", &r, NULL);
    XT_REL(r.collateral, 192e6, 1e-12);
    XT_REL(r.equity, 250e6, 1e-12);
}

/* OKX-1 (published by OKX, 2022 tier table): 11M USDT with tiers 0–5M × 1.0,
 * 5–10M × 0.9, > 10M × 0.8 → 10.3M adjusted. */
Test(tiers, okx_discount)
{
    const char *json =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true,"
        "\"collateral_tiers\":[[5e6,1],[1e7,0.9],[null,0.8]]}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
        "{\"USDT\":11000000}}]}";
    xcr_account_result r;
    eval_one(json, "a", &r, NULL);
    XT_REL(r.collateral, 10.3e6, 1e-12);
    cr_assert_eq(r.status, XCR_HEALTHY);
    cr_assert(isinf(r.health));
}

/* Liabilities count at liability_weight and carry borrow margins (spec §2). */
Test(tiers, borrow_liability_weight)
{
    const char *json =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"ETH\",\"price\":2000,\"liability_weight\":1.1,"
        "\"borrow_imr\":0.2,\"borrow_mmr\":0.1}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
        "{\"USDT\":10000,\"ETH\":-2}}]}";
    xcr_account_result r;
    eval_one(json, "a", &r, NULL);
    XT_REL(r.equity, 6000, 1e-15);
    XT_REL(r.collateral, 10000 - 4000 * 1.1, 1e-15);
    XT_REL(r.maintenance_margin, 400, 1e-15);
    XT_REL(r.initial_margin, 800, 1e-15);
    XT_REL(r.health, 5600.0 / 400, 1e-15);
}

/* Linear perp uPnL (spec §1): 2 × (65,000 − 60,000) = 10,000 USD. */
Test(pnl, linear_perp)
{
    char json[4096];
    snprintf(json, sizeof json,
             "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
             "{\"symbol\":\"BTC\",\"price\":65000}],\"instruments\":[{\"id\":"
             "\"P\",\"type\":\"perp\",\"underlying\":\"BTC\"}],\"accounts\":["
             "{\"id\":\"a\",\"mode\":\"cross\",\"balances\":{\"USDT\":5000},"
             "\"positions\":[{\"instrument\":\"P\",\"size\":2,"
             "\"entry_price\":60000}]}]}");
    xcr_account_result r;
    xcr_position_result pr[1];
    eval_one(json, "a", &r, pr);
    XT_REL(pr[0].upnl, 10000, 1e-15);
    XT_REL(pr[0].notional, 130000, 1e-15);
    XT_REL(pr[0].maintenance_margin, 6500, 1e-15); /* default 5 % */
    XT_REL(pr[0].initial_margin, 13000, 1e-15);    /* default 10 % */
    XT_REL(r.equity, 15000, 1e-15);
}

/* BN-4 (derived from Binance's uniMMR example): BTCUSD_PERP, inverse, 10,000
 * USD face long at 50,000 marked at 40,000 → 10,000 × (1/50,000 − 1/40,000)
 * = −0.05 BTC, worth −2,000 USD at 40,000. */
Test(pnl, inverse_perp)
{
    const char *json =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":40000}],\"instruments\":[{\"id\":"
        "\"BTCUSD_PERP\",\"type\":\"perp\",\"underlying\":\"BTC\","
        "\"inverse\":true,\"contract_size\":100}],\"accounts\":[{\"id\":\"a\","
        "\"mode\":\"cross\",\"balances\":{\"BTC\":0.16},\"positions\":[{"
        "\"instrument\":\"BTCUSD_PERP\",\"size\":100,\"entry_price\":50000}]}]}";
    xcr_account_result r;
    xcr_position_result pr[1];
    eval_one(json, "a", &r, pr);
    XT_REL(pr[0].upnl, -0.05 * 40000, 1e-12);
    XT_REL(pr[0].notional, 10000, 0);
    /* net BTC = 0.16 − 0.05 = 0.11 (BN-4's BTC equity) */
    XT_REL(r.equity, 0.11 * 40000, 1e-12);
}

/* Black-76 (Black 1976, J. Financial Economics 3): hand-evaluated values of
 * the closed form, and Hull's futures-option example ("Options, Futures, and
 * Other Derivatives", Black's model: F = K = 20, r = 9 %, T = 4 months,
 * σ = 25 % → put 1.12 after discounting by e^{−rT}). */
Test(black76, values_and_greeks)
{
    xcr_greeks g;
    xcr_black76(1, 100, 100, 1, 0.2, &g);
    XT_REL(g.value, 7.965567455405804, 1e-13);
    XT_REL(g.delta, 0.539827837277029, 1e-13);
    XT_REL(g.gamma, 0.01984762737385059, 1e-12);
    XT_REL(g.vega, 39.69525474770118, 1e-12);
    XT_REL(g.theta, -3.969525474770118, 1e-12);
    XT_REL(g.vanna, 0.19847627373850588, 1e-12);
    XT_REL(g.volga, -1.9847627373850592, 1e-12);
    xcr_black76(0, 65000, 60000, 30.0 / 365, 0.5, &g);
    XT_REL(g.value, 1612.5228037782254, 1e-12);
    XT_REL(g.delta, -0.26432678286832434, 1e-12);
    xcr_black76(1, 65000, 70000, 0.25, 0.6, &g);
    XT_REL(g.value, 5790.746701137945, 1e-12);

    xcr_black76(0, 20, 20, 4.0 / 12, 0.25, &g);
    double hull = exp(-0.09 * 4.0 / 12) * g.value;
    cr_assert(fabs(hull - 1.12) < 0.005, "Hull put %.6f", hull);
}

/* Greeks agree with finite differences of the value; put-call parity holds
 * (C − P = F − K without discounting). */
Test(black76, finite_differences_and_parity)
{
    const double F = 3100, K = 3000, T = 0.3, s = 0.7, h = 1e-3;
    for (int c = 0; c <= 1; c++) {
        xcr_greeks g, up, dn, vu, vd, tu, td;
        xcr_black76(c, F, K, T, s, &g);
        xcr_black76(c, F + h * F, K, T, s, &up);
        xcr_black76(c, F - h * F, K, T, s, &dn);
        XT_REL(g.delta, (up.value - dn.value) / (2 * h * F), 1e-6);
        XT_REL(g.gamma, (up.delta - dn.delta) / (2 * h * F), 1e-6);
        xcr_black76(c, F, K, T, s + h, &vu);
        xcr_black76(c, F, K, T, s - h, &vd);
        XT_REL(g.vega, (vu.value - vd.value) / (2 * h), 1e-5);
        XT_REL(g.vanna, (vu.delta - vd.delta) / (2 * h), 1e-5);
        XT_REL(g.volga, (vu.vega - vd.vega) / (2 * h), 1e-5);
        xcr_black76(c, F, K, T + h, s, &tu);
        xcr_black76(c, F, K, T - h, s, &td);
        XT_REL(g.theta, -(tu.value - td.value) / (2 * h), 1e-5);
    }
    xcr_greeks c, p;
    xcr_black76(1, F, K, T, s, &c);
    xcr_black76(0, F, K, T, s, &p);
    XT_REL(c.value - p.value, F - K, 1e-12);
    /* at expiry: intrinsic */
    xcr_black76(1, F, K, 0, s, &c);
    XT_REL(c.value, 100, 0);
    xcr_black76(0, F, K, -1, s, &p);
    XT_REL(p.value, 0, 0);
}

/* Options in an account: a long option adds size·cs·value to its settle
 * asset and needs no margin; a short one subtracts it and carries bracket
 * margin on the underlying notional (spec §1, §2). */
Test(options, long_and_short)
{
    const char *json =
        "{\"as_of\":\"2024-01-01T00:00:00Z\","
        "\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"ETH\",\"price\":3100}],\"instruments\":[{\"id\":\"C\","
        "\"type\":\"option\",\"underlying\":\"ETH\",\"expiry\":"
        "\"2024-04-20T12:00:00Z\",\"strike\":3000,\"option_type\":\"call\","
        "\"iv\":0.7}],\"accounts\":[{\"id\":\"long\",\"mode\":\"cross\","
        "\"balances\":{\"USDT\":100},\"positions\":[{\"instrument\":\"C\","
        "\"size\":2}]},{\"id\":\"short\",\"mode\":\"cross\",\"balances\":"
        "{\"USDT\":5000},\"positions\":[{\"instrument\":\"C\",\"size\":-1}]}]}";
    double t = 110.5 / 365; /* 2024-01-01 → 2024-04-20 12:00 (leap year) */
    xcr_greeks g;
    xcr_black76(1, 3100, 3000, t, 0.7, &g);
    xcr_account_result r;
    xcr_position_result pr[1];
    eval_one(json, "long", &r, pr);
    XT_REL(pr[0].upnl, 2 * g.value, 1e-13);
    XT_REL(r.equity, 100 + 2 * g.value, 1e-13);
    XT_REL(r.maintenance_margin, 0, 0);
    eval_one(json, "short", &r, pr);
    XT_REL(r.equity, 5000 - g.value, 1e-13);
    XT_REL(pr[0].notional, 3100, 0);
    XT_REL(r.maintenance_margin, 155, 1e-13);
}

/* Aave-style health factor (margin-models.md §14.2; spec §2 lending) and the
 * e-mode switch: LOOP-1 (test-vectors.md) — at maximum leverage HF = LT/LTV,
 * e-mode 93/90 → 1.0333; outside e-mode the same position is liquidatable. */
Test(lending, health_factor_and_emode)
{
    const char *fmt =
        "{\"assets\":[{\"symbol\":\"USDC\",\"price\":1,\"stable\":true,"
        "\"lending\":{\"ltv\":0.77,\"liquidation_threshold\":0.8}},"
        "{\"symbol\":\"ETH\",\"price\":3000,\"lending\":{\"ltv\":0.8,"
        "\"liquidation_threshold\":0.825,\"liquidation_bonus\":0.05,"
        "\"emode_category\":1}},"
        "{\"symbol\":\"stETH\",\"price\":3000,\"lending\":{\"ltv\":0.7,"
        "\"liquidation_threshold\":0.8,\"liquidation_bonus\":0.06,"
        "\"emode_category\":1}}],"
        "\"settings\":{\"emode_categories\":[{\"id\":1,\"ltv\":0.9,"
        "\"liquidation_threshold\":0.93,\"liquidation_bonus\":0.01}]},"
        "\"accounts\":[{\"id\":\"plain\",\"mode\":\"lending\",\"balances\":"
        "{\"ETH\":10,\"USDC\":-20000}},{\"id\":\"loop\",\"mode\":\"lending\","
        "\"emode\":%d,\"balances\":{\"stETH\":10,\"ETH\":-9}},"
        "{\"id\":\"nodebt\",\"mode\":\"lending\",\"balances\":{\"ETH\":1}}]}";
    char json[2048];
    xcr_account_result r;
    snprintf(json, sizeof json, fmt, 1);
    eval_one(json, "plain", &r, NULL);
    XT_REL(r.health_factor, 30000 * 0.825 / 20000, 1e-15);
    XT_REL(r.health, r.health_factor, 1e-15);
    XT_REL(r.borrow_capacity, 30000 * 0.8 - 20000, 1e-12);
    XT_REL(r.maintenance_margin, 20000, 0);
    XT_REL(r.collateral, 24750, 1e-12);
    cr_assert_eq(r.status, XCR_HEALTHY);

    eval_one(json, "loop", &r, NULL);
    XT_REL(r.health_factor, 0.93 / 0.9, 1e-14); /* 1.0333 */
    XT_REL(r.borrow_capacity, 0, 1e-9);
    cr_assert_eq(r.status, XCR_HEALTHY);

    snprintf(json, sizeof json, fmt, 0);
    eval_one(json, "loop", &r, NULL);
    XT_REL(r.health_factor, 0.8 / 0.9, 1e-14);
    cr_assert_eq(r.status, XCR_LIQUIDATABLE);

    eval_one(json, "nodebt", &r, NULL);
    cr_assert(isinf(r.health_factor));
    cr_assert_eq(r.status, XCR_HEALTHY);
}

/* Status ladder (spec §2): healthy → margin_call → liquidatable → bankrupt. */
Test(status, ladder)
{
    const char *fmt =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":%g}],\"instruments\":[{\"id\":\"P\","
        "\"type\":\"perp\",\"underlying\":\"BTC\"}],\"accounts\":[{\"id\":"
        "\"a\",\"mode\":\"cross\",\"balances\":{\"USDT\":1500},\"positions\":"
        "[{\"instrument\":\"P\",\"size\":1,\"entry_price\":10000}]}]}";
    /* equity = 1500 + (P − 10000); MM = 0.05 P; IM = 0.1 P */
    const struct {
        double p;
        xcr_acct_status s;
    } cases[] = {{10000, XCR_HEALTHY},
                 {9300, XCR_MARGIN_CALL},
                 {8800, XCR_LIQUIDATABLE},
                 {8400, XCR_BANKRUPT}};
    for (size_t k = 0; k < 4; k++) {
        char json[1024];
        snprintf(json, sizeof json, fmt, cases[k].p);
        xcr_account_result r;
        eval_one(json, "a", &r, NULL);
        cr_assert_eq(r.status, cases[k].s, "price %g: %s", cases[k].p,
                     xcr_acct_status_name(r.status));
    }
}

/* Isolated mode: HL-1 (derived from Hyperliquid's formula, test-vectors.md):
 * long 1 @ 100,000, isolated margin 5,000, MM rate 1.25 % → liquidation at
 * 100,000 − 3,750/0.9875 = 96,202.53. */
Test(isolated, hyperliquid_liq_price)
{
    const char *json =
        "{\"assets\":[{\"symbol\":\"USDC\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":100000}],\"instruments\":[{\"id\":"
        "\"BTC-PERP\",\"type\":\"perp\",\"underlying\":\"BTC\","
        "\"margin_tiers\":[{\"notional_max\":null,\"imr\":0.025,"
        "\"mmr\":0.0125}]}],\"accounts\":[{\"id\":\"a\",\"mode\":\"isolated\","
        "\"balances\":{\"USDC\":777},\"positions\":[{\"instrument\":"
        "\"BTC-PERP\",\"size\":1,\"entry_price\":100000,\"isolated_margin\":"
        "5000}]}]}";
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result r;
    xcr_position_result pr[1];
    cr_assert_eq(xcr_margin_account(m, 0, &r, pr, NULL), XCR_OK);
    XT_REL(r.equity, 777 + 5000, 1e-15);
    XT_REL(r.collateral, 5000, 0);
    XT_REL(r.maintenance_margin, 1250, 1e-12);
    xcr_liq_price lp;
    cr_assert_eq(xcr_liquidation_price(m, 0, 1, &lp, NULL), XCR_OK);
    XT_REL(lp.down, 95000 / 0.9875, 1e-9);
    cr_assert(isnan(lp.up));
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Lending liquidation price (margin-models.md §6.5, derived from Compound
 * v3's launch parameters): 10 WETH, 24,000 USDC debt, threshold 0.895 →
 * liquidatable below 24,000 / (10 × 0.895) = 2,681.56. */
Test(liquidation, lending_single_collateral)
{
    const char *json =
        "{\"assets\":[{\"symbol\":\"USDC\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"WETH\",\"price\":3500,\"lending\":{\"ltv\":0.83,"
        "\"liquidation_threshold\":0.895}}],\"accounts\":[{\"id\":\"a\","
        "\"mode\":\"lending\",\"balances\":{\"WETH\":10,\"USDC\":-24000}}]}";
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_liq_price lp;
    cr_assert_eq(xcr_liquidation_price(m, 0, 1, &lp, NULL), XCR_OK);
    XT_REL(lp.down, 2681.564245810056, 1e-9);
    cr_assert(isnan(lp.up));
    double d, u;
    cr_assert_eq(xcr_liquidation_shock(m, 0, &d, &u, NULL), XCR_OK);
    XT_REL(d, 2681.564245810056 / 3500 - 1, 1e-9);
    cr_assert(isnan(u));
    xcr_market_free(m);
    xcr_book_free(b);
}

/* A liquidation price that accounts for the rest of the account: a BTC long
 * hedged by an ETH short in one cross account, with BTC collateral.  The
 * returned price is checked by re-evaluating the account on either side. */
static xcr_acct_status status_at(xcr_market *m, size_t acct, size_t asset,
                                 double price)
{
    double keep = xcr_market_price(m, asset);
    cr_assert_eq(xcr_market_set_price(m, asset, price, NULL), XCR_OK);
    xcr_account_result r;
    cr_assert_eq(xcr_margin_account(m, acct, &r, NULL, NULL), XCR_OK);
    cr_assert_eq(xcr_market_set_price(m, asset, keep, NULL), XCR_OK);
    return r.status;
}

static bool liq(xcr_acct_status s) { return s >= XCR_LIQUIDATABLE; }

Test(liquidation, flips_at_returned_price)
{
    char json[8192];
    snprintf(json, sizeof json,
             "{\"as_of\":\"2024-06-17T08:00:00Z\","
             "\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
             "{\"symbol\":\"BTC\",\"price\":65000,\"collateral_tiers\":"
             "[[100000,0.95],[null,0.8]]},{\"symbol\":\"ETH\",\"price\":3500}],"
             "\"instruments\":[{\"id\":\"BTCUSDT\",\"type\":\"perp\","
             "\"underlying\":\"BTC\",\"margin_tiers\":" BTCUSDT_TIERS "},"
             "{\"id\":\"ETHUSDT\",\"type\":\"perp\",\"underlying\":\"ETH\"},"
             "{\"id\":\"ETH-C\",\"type\":\"option\",\"underlying\":\"ETH\","
             "\"expiry\":\"2024-09-27T08:00:00Z\",\"strike\":4000,"
             "\"option_type\":\"call\",\"iv\":0.65}],"
             "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
             "{\"USDT\":-20000,\"BTC\":1.5},\"positions\":["
             "{\"instrument\":\"BTCUSDT\",\"size\":3,\"entry_price\":64000},"
             "{\"instrument\":\"ETHUSDT\",\"size\":-20,\"entry_price\":3600},"
             "{\"instrument\":\"ETH-C\",\"size\":-10}]},"
             "{\"id\":\"b\",\"mode\":\"cross\",\"balances\":{\"USDT\":3000},"
             "\"positions\":[{\"instrument\":\"ETH-C\",\"size\":10},"
             "{\"instrument\":\"ETHUSDT\",\"size\":-30,"
             "\"entry_price\":3500}]}]}");
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    int checked = 0;
    for (size_t acct = 0; acct < 2; acct++) {
        for (size_t a = 1; a <= 2; a++) {
            xcr_liq_price lp;
            cr_assert_eq(xcr_liquidation_price(m, acct, a, &lp, NULL),
                         XCR_OK);
            double px = xcr_market_price(m, a);
            double sides[2] = {lp.down, lp.up};
            for (int k = 0; k < 2; k++) {
                if (isnan(sides[k]))
                    continue;
                double p = sides[k];
                double toward = k == 0 ? 1 + 1e-6 : 1 - 1e-6;
                double away = k == 0 ? 1 - 1e-6 : 1 + 1e-6;
                cr_assert(!liq(status_at(m, acct, a, p * toward)),
                          "acct %zu asset %zu side %d: liquidatable just "
                          "inside %.10g (now %.10g)",
                          acct, a, k, p, px);
                cr_assert(liq(status_at(m, acct, a, p * away)),
                          "acct %zu asset %zu side %d: not liquidatable "
                          "beyond %.10g",
                          acct, a, k, p);
                checked++;
            }
        }
    }
    cr_assert(checked >= 3, "only %d liquidation prices found", checked);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Results are bit-identical for any thread count. */
Test(threads, bit_identical)
{
    xcr_demo_opts o = {20000, 7, 4.0};
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_demo_book(&o, NULL, &b, &err), XCR_OK, "%s", err.msg);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    size_t n = xcr_book_account_count(b);
    xcr_account_result *r1 = calloc(n, sizeof *r1);
    xcr_account_result *r2 = calloc(n, sizeof *r2);
    cr_assert_eq(xcr_margin_all(m, 1, r1, NULL), XCR_OK);
    int counts[] = {2, 3, 7};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(xcr_margin_all(m, counts[k], r2, NULL), XCR_OK);
        cr_assert(memcmp(r1, r2, n * sizeof *r1) == 0, "threads %d differ",
                  counts[k]);
    }
    free(r1);
    free(r2);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Overflowing inputs give a located ERANGE, never a silent inf/NaN. */
Test(errors, overflow_is_reported)
{
    const char *json =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":1e300}],\"instruments\":[{\"id\":\"P\","
        "\"type\":\"perp\",\"underlying\":\"BTC\"}],\"accounts\":[{\"id\":"
        "\"whale\",\"mode\":\"cross\",\"positions\":[{\"instrument\":\"P\","
        "\"size\":1e308,\"entry_price\":1}]}]}";
    xcr_book *b = xt_load_book(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result r;
    xcr_error err = {0};
    cr_assert_eq(xcr_margin_all(m, 0, &r, &err), XCR_ERANGE);
    cr_assert(strstr(err.msg, "whale"), "%s", err.msg);
    xcr_market_free(m);
    xcr_book_free(b);
}
