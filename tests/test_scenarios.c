/* Scenario definitions and generators: the built-in library against the
 * reference table, resolution rules, user files and their located errors,
 * grids, Cholesky and the nearest correlation matrix, VaR/ES estimators,
 * Monte Carlo statistics and filtered historical simulation.
 *
 * Reference values: scenarios-and-data.md §1, §5 (moves), §7 (copulas,
 * MC-CHOL-1), §9 and test-vectors.md §E (VAR-1, VAR-2). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress/rng.h"
#include "stress/stress.h"
#include "test_support.h"
#include "xcr.h"

/* A book with the five reference assets, an LST, an unlisted alt and two
 * stablecoins (one of them DAI, which some scenarios depeg). */
static const char *BOOK5 =
    "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
    "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"DAI\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"BTC\",\"price\":60000,\"vol\":0.59},"
    "{\"symbol\":\"ETH\",\"price\":3000,\"vol\":0.79},"
    "{\"symbol\":\"stETH\",\"price\":2990,\"vol\":0.8},"
    "{\"symbol\":\"SOL\",\"price\":150,\"vol\":1.14},"
    "{\"symbol\":\"BNB\",\"price\":600,\"vol\":0.82},"
    "{\"symbol\":\"DOGE\",\"price\":0.12,\"vol\":1.41},"
    "{\"symbol\":\"XRP\",\"price\":0.5,\"vol\":0.95}],"
    "\"accounts\":[]}";

static long asset(const xcr_book *b, const char *sym)
{
    long i = xcr_book_find_asset(b, sym);
    cr_assert(i >= 0, "no asset %s", sym);
    return i;
}

/* MARK: the built-in library ------------------------------------------------------------ */

/* scenarios-and-data.md §5, "a / b" = day high-to-low / window peak-to-
 * trough, single numbers = the window (LUNA, stETH/3AC, FTX) or the day
 * (19 May 2021); the _day variants are the §1 single days; _close the §1
 * close-to-close rows.  SOL in 2020: "use ETH × 1.2". */
static const struct {
    const char *name;
    double m[5]; /* BTC ETH SOL BNB DOGE, percent */
    int window_days;
    double liquidity; /* the "*" multiplier, 1 = none */
} REF[] = {
    {"covid_2020_03_12", {-44.6, -48.2, -48.2 * 1.2, -46.4, -35.8}, 0, 1},
    {"covid_2020_03_12_window", {-52.5, -56.0, -56.0 * 1.2, -61.6, -48.0}, 2,
     1},
    {"may_2021_05_19", {-31.2, -45.1, -54.1, -45.8, -56.0}, 0, 1},
    {"may_2021_05_19_close", {-14.4, -27.7, -37.5, -34.1, -30.7}, 0, 1},
    {"luna_2022_05", {-33.0, -39.1, -60.8, -47.1, -50.0}, 8, 1},
    {"luna_2022_05_day", {-11.7, -18.0, -31.2, -23.2, -23.4}, 0, 1},
    {"steth_3ac_2022_06", {-42.0, -51.1, -36.8, -38.6, -38.4}, 9, 1},
    {"steth_3ac_2022_06_day", {-18.5, -19.9, -16.3, -17.3, -21.0}, 0, 1},
    {"ftx_2022_11", {-27.4, -35.6, -68.1, -34.7, -48.1}, 6, 1},
    {"ftx_2022_11_day", {-16.1, -19.7, -49.3, -21.9, -23.5}, 0, 1},
    {"yen_2024_08_05", {-16.0, -21.7, -21.1, -20.0, -22.8}, 0, 1},
    {"yen_2024_08_05_window", {-25.4, -34.9, -36.4, -30.8, -34.6}, 5, 1},
    {"tariff_2025_10_10", {-16.8, -21.8, -24.8, -32.7, -62.6}, 0, 0.1},
    {"tariff_2025_10_10_window", {-19.2, -27.8, -29.0, -36.3, -64.9}, 6,
     0.1},
    {"tariff_2025_10_10_close", {-7.3, -12.3, -14.7, -12.2, -22.1}, 0, 1},
};
static const char *const SYM5[5] = {"BTC", "ETH", "SOL", "BNB", "DOGE"};

static double def_move(const xcr_scenario_def *d, const char *sym)
{
    for (size_t i = 0; i < d->nmoves; i++)
        if (strcmp(d->moves[i].symbol, sym) == 0)
            return d->moves[i].move;
    return NAN;
}

Test(builtin, moves_equal_reference_table)
{
    size_t n = sizeof REF / sizeof REF[0];
    cr_assert_eq(xcr_builtin_scenario_count(), n);
    for (size_t i = 0; i < n; i++) {
        const xcr_scenario_def *d = xcr_builtin_scenario_find(REF[i].name);
        cr_assert_not_null(d, "missing %s", REF[i].name);
        cr_assert_eq(d, xcr_builtin_scenario(i), "order of %s", REF[i].name);
        for (int k = 0; k < 5; k++)
            XT_REL(def_move(d, SYM5[k]), REF[i].m[k] / 100, 1e-12);
        cr_assert_eq(d->window_days, REF[i].window_days, "%s", d->name);
        double liq = 1;
        for (size_t j = 0; j < d->nliquidity; j++)
            if (strcmp(d->liquidity[j].symbol, "*") == 0)
                liq = d->liquidity[j].value;
        XT_REL(liq, REF[i].liquidity, 0);
        cr_assert(d->source && d->date && d->variant && d->title);
    }
    /* depegs and venue events (§5, §3) */
    XT_REL(def_move(xcr_builtin_scenario_find("covid_2020_03_12"), "DAI"), 0.10,
        0);
    XT_REL(def_move(xcr_builtin_scenario_find("luna_2022_05"), "UST"),
        -0.9999, 0);
    XT_REL(def_move(xcr_builtin_scenario_find("luna_2022_05"), "LUNA"),
        -0.9999, 0);
    XT_REL(def_move(xcr_builtin_scenario_find("ftx_2022_11"), "FTT"), -0.90, 0);
    XT_REL(def_move(xcr_builtin_scenario_find("tariff_2025_10_10"), "USDe"),
        -0.35, 0);
    const xcr_scenario_def *st = xcr_builtin_scenario_find("steth_3ac_2022_06");
    bool rel = false;
    for (size_t j = 0; j < st->nmoves; j++)
        if (strcmp(st->moves[j].symbol, "stETH") == 0) {
            rel = st->moves[j].base && strcmp(st->moves[j].base, "ETH") == 0;
            XT_REL(st->moves[j].move, -0.06, 0);
            cr_assert_eq(st->moves[j].kind, XCR_MOVE_DEPEG);
        }
    cr_assert(rel, "stETH depeg is relative to ETH");
    cr_assert_null(xcr_builtin_scenario_find("nope"));
}

/* The day variants against the candles themselves: low/high − 1 of the UTC
 * day in shared/data (Binance daily klines), to the table's 0.1 %. */
Test(builtin, day_moves_match_shared_candles)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/prices-daily", XCR_SHARED_DIR);
    FILE *probe = NULL;
    char p0[4200];
    snprintf(p0, sizeof p0, "%s/BTCUSDT_1d.csv", dir);
    if (!(probe = fopen(p0, "r")))
        cr_skip_test("shared data not found at %s: skipping", dir);
    fclose(probe);
    static const struct {
        const char *scen, *day;
    } DAYS[] = {{"covid_2020_03_12", "2020-03-12"},
                {"may_2021_05_19", "2021-05-19"},
                {"luna_2022_05_day", "2022-05-12"},
                {"steth_3ac_2022_06_day", "2022-06-13"},
                {"ftx_2022_11_day", "2022-11-09"},
                {"yen_2024_08_05", "2024-08-05"},
                {"tariff_2025_10_10", "2025-10-10"}};
    for (int k = 0; k < 5; k++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%sUSDT_1d.csv", dir, SYM5[k]);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        char line[512];
        while (fgets(line, sizeof line, f)) {
            for (size_t d = 0; d < sizeof DAYS / sizeof DAYS[0]; d++) {
                if (strncmp(line, DAYS[d].day, 10) != 0)
                    continue;
                double o, h, l, c;
                cr_assert_eq(sscanf(line + 11, "%lf,%lf,%lf,%lf", &o, &h, &l,
                                    &c),
                             4);
                double mv = def_move(xcr_builtin_scenario_find(DAYS[d].scen),
                                     SYM5[k]);
                cr_assert(fabs((l / h - 1) - mv) <= 0.0006,
                          "%s %s: candles %.4f, scenario %.4f", DAYS[d].scen,
                          SYM5[k], l / h - 1, mv);
            }
        }
        fclose(f);
    }
}

/* Resolution: listed moves, stablecoins, the LST following ETH, and the
 * crash-day ratio for XRP (tariff: ETH 1.30, SOL 1.48, BNB 1.95, DOGE 3.73
 * → median (1.476 + 1.946) / 2 = 1.711). */
Test(builtin, resolution_and_unlisted_rule)
{
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_builtin(s, "tariff_2025_10_10", NULL, &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 1);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "BTC")), -0.168, 0);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "DOGE")), -0.626, 0);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "USDT")), 0, 0);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "DAI")), 0, 0);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "stETH")), -0.218, 0);
    cr_assert_eq(xcr_scenarios_origin(s, 0, (size_t)asset(b, "stETH")),
                 XCR_ORIGIN_BASE);
    double ratios[4] = {0.218 / 0.168, 0.248 / 0.168, 0.327 / 0.168,
                        0.626 / 0.168};
    double beta = (ratios[1] + ratios[2]) / 2;
    size_t xrp = (size_t)asset(b, "XRP");
    cr_assert_eq(xcr_scenarios_origin(s, 0, xrp), XCR_ORIGIN_RULE);
    XT_REL(xcr_scenarios_beta(s, 0, xrp), beta, 1e-12);
    XT_REL(xcr_scenarios_move(s, 0, xrp), -0.168 * beta, 1e-12);
    const char *rule = xcr_scenarios_rule_text(s, 0);
    cr_assert(rule && strstr(rule, "XRP") && strstr(rule, "crash-day ratio") &&
                  strstr(rule, "1.711"),
              "%s", rule ? rule : "(null)");
    XT_REL(xcr_scenarios_liquidity(s, 0, xrp), 0.1, 0);
    XT_REL(xcr_scenarios_liquidity(s, 0, (size_t)asset(b, "USDT")), 0.1, 0);

    /* stETH depeg relative to ETH; DAI depeg on a stablecoin */
    cr_assert_eq(xcr_scenarios_add_builtin(s, "steth_3ac_2022_06", NULL, &err),
                 XCR_OK);
    XT_REL(xcr_scenarios_move(s, 1, (size_t)asset(b, "stETH")),
        (1 - 0.511) * (1 - 0.06) - 1, 1e-15);
    cr_assert_eq(xcr_scenarios_origin(s, 1, (size_t)asset(b, "stETH")),
                 XCR_ORIGIN_DEPEG);
    cr_assert_eq(xcr_scenarios_add_builtin(s, "covid_2020_03_12", NULL, &err),
                 XCR_OK);
    XT_REL(xcr_scenarios_move(s, 2, (size_t)asset(b, "DAI")), 0.10, 0);
    /* "all" adds the whole library */
    cr_assert_eq(xcr_scenarios_add_builtin(s, "all", NULL, &err), XCR_OK);
    cr_assert_eq(xcr_scenarios_count(s), 3 + xcr_builtin_scenario_count());
    cr_assert_eq(xcr_scenarios_add_builtin(s, "bogus", NULL, &err),
                 XCR_ENOTFOUND);
    cr_assert(strstr(err.msg, "bogus"));
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

Test(builtin, other_unlisted_rules)
{
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_error err = {0};
    size_t xrp = (size_t)asset(b, "XRP"), sol = (size_t)asset(b, "SOL");
    xcr_unlisted fixed = {XCR_UNLISTED_FIXED, 2.0};
    cr_assert_eq(xcr_scenarios_add_builtin(s, "yen_2024_08_05", &fixed, &err),
                 XCR_OK);
    XT_REL(xcr_scenarios_move(s, 0, xrp), -0.32, 1e-15);
    xcr_unlisted zero = {XCR_UNLISTED_ZERO, 0};
    cr_assert_eq(xcr_scenarios_add_builtin(s, "yen_2024_08_05", &zero, &err),
                 XCR_OK);
    XT_REL(xcr_scenarios_move(s, 1, xrp), 0, 0);
    cr_assert_eq(xcr_scenarios_origin(s, 1, xrp), XCR_ORIGIN_NONE);
    /* regression beta: ρ(SOL, BTC)·σ_SOL/σ_BTC = 0.615·1.14/0.59 (§2) */
    xcr_scenario_move only_btc[] = {{"BTC", -0.1, NULL, XCR_MOVE_MARKET, NULL}};
    xcr_scenario_def d;
    memset(&d, 0, sizeof d);
    d.name = "btc_only";
    d.moves = only_btc;
    d.nmoves = 1;
    d.unlisted.rule = XCR_UNLISTED_REGRESSION;
    cr_assert_eq(xcr_scenarios_add_def(s, &d, NULL, &err), XCR_OK, "%s",
                 err.msg);
    XT_REL(xcr_scenarios_move(s, 2, sol), -0.1 * 0.615 * 1.14 / 0.59, 1e-12);
    /* crash ratio with only BTC named: β = 1 */
    d.unlisted.rule = XCR_UNLISTED_DEFAULT;
    cr_assert_eq(xcr_scenarios_add_def(s, &d, NULL, &err), XCR_OK);
    XT_REL(xcr_scenarios_move(s, 3, sol), -0.1, 0);
    /* the rule's floor at −99 % */
    xcr_scenario_move big[] = {{"BTC", -0.5, NULL, XCR_MOVE_MARKET, NULL},
                               {"ETH", -0.99, NULL, XCR_MOVE_MARKET, NULL}};
    d.name = "deep";
    d.moves = big;
    d.nmoves = 2;
    cr_assert_eq(xcr_scenarios_add_def(s, &d, NULL, &err), XCR_OK);
    XT_REL(xcr_scenarios_move(s, 4, sol), -0.99, 0);
    /* invalid definitions */
    xcr_scenario_move bad[] = {{"BTC", -1.0, NULL, XCR_MOVE_MARKET, NULL}};
    d.moves = bad;
    d.nmoves = 1;
    cr_assert_eq(xcr_scenarios_add_def(s, &d, NULL, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "BTC"), "%s", err.msg);
    xcr_scenario_move dup[] = {{"BTC", -0.1, NULL, XCR_MOVE_MARKET, NULL},
                               {"btc", -0.2, NULL, XCR_MOVE_MARKET, NULL}};
    d.moves = dup;
    d.nmoves = 2;
    cr_assert_eq(xcr_scenarios_add_def(s, &d, NULL, &err), XCR_EDUP);
    cr_assert_eq(xcr_scenarios_count(s), 5);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* MARK: user files ---------------------------------------------------------------------- */

Test(files, json_and_csv)
{
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_error err = {0};
    const char *js =
        "{\"scenarios\": [{\"name\": \"alt_crash\", \"moves\": {\"BTC\": "
        "-0.2, \"ETH\": -0.3, \"NOTHERE\": -0.5}, \"depegs\": {\"DAI\": "
        "-0.05, \"stETH\": {\"base\": \"ETH\", \"move\": -0.1}}, "
        "\"vol_shifts\": {\"*\": 0.2, \"BTC\": 0.4}, \"liquidity\": "
        "{\"ETH\": 0.5}, \"unlisted\": \"zero\"},"
        "{\"name\": \"b\", \"moves\": {\"BTC\": -0.1}, \"unlisted\": 1.5}]}";
    cr_assert_eq(xcr_scenarios_load_text(s, js, strlen(js), "u.json", NULL,
                                         &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 2);
    cr_assert_str_eq(xcr_scenarios_name(s, 0), "alt_crash");
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "DAI")), -0.05, 0);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "stETH")), 0.7 * 0.9 - 1,
        1e-15);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "SOL")), 0, 0);
    XT_REL(xcr_scenarios_vol_shift(s, 0, (size_t)asset(b, "BTC")), 0.4, 0);
    XT_REL(xcr_scenarios_vol_shift(s, 0, (size_t)asset(b, "SOL")), 0.2, 0);
    XT_REL(xcr_scenarios_vol_shift(s, 0, (size_t)asset(b, "USDT")), 0, 0);
    XT_REL(xcr_scenarios_liquidity(s, 0, (size_t)asset(b, "ETH")), 0.5, 0);
    XT_REL(xcr_scenarios_liquidity(s, 0, (size_t)asset(b, "BTC")), 1, 0);
    XT_REL(xcr_scenarios_move(s, 1, (size_t)asset(b, "SOL")), -0.15, 1e-15);
    const char *csv_long = "scenario,symbol,move,base,vol_shift,liquidity\n"
                           "c1,BTC,-0.3,,,\n"
                           "c1,stETH,-0.05,ETH,,\n"
                           "c1,*,,,0.1,0.2\n"
                           "c2,ETH,-0.4,,,\n";
    cr_assert_eq(xcr_scenarios_load_text(s, csv_long, strlen(csv_long),
                                         "l.csv", NULL, &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 4);
    XT_REL(xcr_scenarios_move(s, 2, (size_t)asset(b, "BTC")), -0.3, 0);
    XT_REL(xcr_scenarios_liquidity(s, 2, (size_t)asset(b, "DOGE")), 0.2, 0);
    XT_REL(xcr_scenarios_vol_shift(s, 2, (size_t)asset(b, "DOGE")), 0.1, 0);
    const char *csv_wide = "scenario,BTC,ETH,SOL\nw1,-0.1,-0.2,\nw2,0.1,,0.3\n";
    cr_assert_eq(xcr_scenarios_load_text(s, csv_wide, strlen(csv_wide),
                                         "w.csv", NULL, &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 6);
    XT_REL(xcr_scenarios_move(s, 5, (size_t)asset(b, "SOL")), 0.3, 0);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* The JSON listing of the built-in library reads back to the same
 * scenarios, bit for bit. */
Test(files, builtin_listing_round_trip)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(xcr_builtin_scenarios_write(XCR_OUT_JSON, f, NULL), XCR_OK);
    fclose(f);
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s1 = NULL, *s2 = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_new(b, &s1), XCR_OK);
    cr_assert_eq(xcr_scenarios_new(b, &s2), XCR_OK);
    cr_assert_eq(xcr_scenarios_add_builtin(s1, "all", NULL, &err), XCR_OK);
    cr_assert_eq(xcr_scenarios_load_text(s2, buf, len, "list.json", NULL,
                                         &err),
                 XCR_OK, "%s", err.msg);
    size_t n = xcr_scenarios_count(s1);
    cr_assert_eq(xcr_scenarios_count(s2), n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(xcr_scenarios_name(s1, i), xcr_scenarios_name(s2, i));
        for (size_t a = 0; a < xcr_book_asset_count(b); a++) {
            double x = xcr_scenarios_move(s1, i, a),
                   y = xcr_scenarios_move(s2, i, a);
            cr_assert(memcmp(&x, &y, sizeof x) == 0, "%s %s: %.17g vs %.17g",
                      xcr_scenarios_name(s1, i), xcr_book_asset_symbol(b, a),
                      x, y);
            cr_assert_eq(xcr_scenarios_liquidity(s1, i, a),
                         xcr_scenarios_liquidity(s2, i, a));
        }
    }
    xcr_scenarios_free(s1);
    xcr_scenarios_free(s2);
    xcr_book_free(b);
    free(buf);
}

static const struct bad_file {
    const char *name, *text, *where;
} BAD_FILES[] = {
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"moves\": {\"BTC\": ",
     "b.json: line 1, column"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"moves\": {\"BTC\": -1.5}}]}",
     "b.json: $.scenarios[0].moves.BTC"},
    {"b.json",
     "{\"scenarios\": [{\"name\": \"x\"}, {\"name\": \"y\", \"movs\": {}}]}",
     "b.json: $.scenarios[1].movs: unknown field"},
    {"b.json", "{\"scenarios\": [{\"moves\": {\"BTC\": -0.1}}]}",
     "b.json: $.scenarios[0].name"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"moves\": {\"BTC\": "
               "\"-0.1\"}}]}",
     "$.scenarios[0].moves.BTC"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"liquidity\": {\"*\": "
               "-1}}]}",
     "$.scenarios[0].liquidity.*"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"moves\": {\"BTC\": "
               "-0.1, \"btc\": -0.2}}]}",
     "$.scenarios[0].moves.btc"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\"}, {\"name\": \"x\"}]}",
     "$.scenarios[1].name"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"depegs\": {\"stETH\": "
               "{\"move\": -0.1, \"base\": \"stETH\"}}}]}",
     "$.scenarios[0].depegs.stETH.base"},
    {"b.json", "{\"scenarios\": [{\"name\": \"x\", \"unlisted\": \"maybe\"}]}",
     "$.scenarios[0].unlisted"},
    {"b.csv", "scenario,symbol,move\nx,BTC,-0.1\nx,ETH,abc\n",
     "b.csv: line 3, column 3 (move)"},
    {"b.csv", "scenario,symbol,move\nx,BTC,-0.1\nx,BTC,-0.2\n",
     "b.csv: line 3, column 2"},
    {"b.csv", "scenario,BTC,ETH\nx,-0.1,-2\n", "b.csv: line 2, column 3 (ETH)"},
    {"b.csv", "scenario,BTC\nbad name,-0.1\n", "b.csv: line 2, column 1"},
    {"b.csv", "foo,bar\n1,2\n", "b.csv: line 1"},
    {"b.csv", "scenario,symbol,move\nx,BTC,-0.1,7\n", "b.csv: line 2"},
};

Test(files, bad_files_are_located_and_add_nothing)
{
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    for (size_t i = 0; i < sizeof BAD_FILES / sizeof BAD_FILES[0]; i++) {
        xcr_error err = {0};
        xcr_status st = xcr_scenarios_load_text(
            s, BAD_FILES[i].text, strlen(BAD_FILES[i].text),
            BAD_FILES[i].name, NULL, &err);
        cr_assert_neq(st, XCR_OK, "case %zu accepted", i);
        cr_assert(strstr(err.msg, BAD_FILES[i].where),
                  "case %zu: \"%s\" does not contain \"%s\"", i, err.msg,
                  BAD_FILES[i].where);
        cr_assert_eq(xcr_scenarios_count(s), 0, "case %zu added scenarios", i);
    }
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* MARK: grids ------------------------------------------------------------------------------ */

Test(grids, uniform_and_two_dimensional)
{
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_grid(s, "-0.6:0.2:0.05", &err), XCR_OK,
                 "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 17);
    size_t btc = (size_t)asset(b, "BTC"), eth = (size_t)asset(b, "ETH");
    XT_REL(xcr_scenarios_move(s, 0, btc), -0.6, 0);
    XT_REL(xcr_scenarios_move(s, 2, eth), -0.5, 0);
    XT_REL(xcr_scenarios_move(s, 16, btc), 0.2, 0);
    XT_REL(xcr_scenarios_move(s, 0, (size_t)asset(b, "USDT")), 0, 0);
    cr_assert_str_eq(xcr_scenarios_name(s, 2), "uniform:-0.5");
    cr_assert_eq(xcr_scenarios_add_grid(s, "BTC=-0.2:0:0.1,ETH=-0.3:0.3:0.3",
                                        &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 17 + 9);
    /* row-major, last axis fastest */
    XT_REL(xcr_scenarios_move(s, 17, btc), -0.2, 0);
    XT_REL(xcr_scenarios_move(s, 17, eth), -0.3, 0);
    XT_REL(xcr_scenarios_move(s, 18, eth), 0, 0);
    XT_REL(xcr_scenarios_move(s, 20, btc), -0.1, 0);
    XT_REL(xcr_scenarios_move(s, 17, (size_t)asset(b, "SOL")), 0, 0);
    cr_assert_str_eq(xcr_scenarios_name(s, 25), "BTC=0,ETH=0.3");
    const char *bad[] = {"-0.6:0:0",  "0:-0.5:0.1", "-1.2:0:0.1", "x",
                         "BTC=-0.1",  "NOPE=-0.1:0:0.1", "BTC=-1:0:0.5",
                         "BTC=0:1:0.1,BTC=0:1:0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_neq(xcr_scenarios_add_grid(s, bad[i], &err), XCR_OK, "%s",
                      bad[i]);
        cr_assert(strlen(err.msg) > 0);
    }
    cr_assert_eq(xcr_scenarios_count(s), 26);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* MARK: linear algebra ---------------------------------------------------------------------- */

/* MC-CHOL-1 (test-vectors.md §E). */
Test(linalg, cholesky_mc_chol_1)
{
    const double r[9] = {1, .8, .7, .8, 1, .75, .7, .75, 1};
    double l[9];
    xcr_error err = {0};
    cr_assert_eq(xcr_cholesky(3, r, l, NULL, &err), XCR_OK, "%s", err.msg);
    const double c[9] = {1, 0, 0, 0.8, 0.6, 0, 0.7, 19.0 / 60, sqrt(59) / 12};
    for (int i = 0; i < 9; i++)
        XT_REL(l[i], c[i], 1e-14);
    XT_REL(l[8], 0.6400954790, 1e-9);
    /* not positive definite: the error names the minor */
    const double bad[9] = {1, .9, -.9, .9, 1, .9, -.9, .9, 1};
    size_t k = 99;
    cr_assert_eq(xcr_cholesky(3, bad, l, &k, &err), XCR_ENOTPD);
    cr_assert_eq(k, 2);
    cr_assert(strstr(err.msg, "not positive definite") &&
                  strstr(err.msg, "order 3"),
              "%s", err.msg);
}

Test(linalg, nearest_correlation)
{
    const double bad[9] = {1, .9, -.9, .9, 1, .9, -.9, .9, 1};
    double out[9], l[9];
    xcr_error err = {0};
    cr_assert_eq(xcr_nearest_correlation(3, bad, 1e-8, out, &err), XCR_OK,
                 "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        XT_REL(out[i * 3 + i], 1, 0);
        for (int j = 0; j < 3; j++)
            XT_REL(out[i * 3 + j], out[j * 3 + i], 0);
    }
    cr_assert_eq(xcr_cholesky(3, out, l, NULL, NULL), XCR_OK);
    /* the repair is close: nearer than simply shrinking the off-diagonal
     * entries until the matrix factors */
    double dn = 0, ds = 0, shrunk[9];
    for (double f = 1; f > 0; f -= 0.01) {
        for (int i = 0; i < 9; i++)
            shrunk[i] = i % 4 == 0 ? 1 : f * bad[i];
        if (xcr_cholesky(3, shrunk, l, NULL, NULL) == XCR_OK)
            break;
    }
    for (int i = 0; i < 9; i++) {
        dn += (out[i] - bad[i]) * (out[i] - bad[i]);
        ds += (shrunk[i] - bad[i]) * (shrunk[i] - bad[i]);
    }
    cr_assert(dn < ds, "nearest %g vs shrunk %g", dn, ds);
    /* a valid matrix is left (almost) unchanged */
    const double ok[9] = {1, .8, .7, .8, 1, .75, .7, .75, 1};
    cr_assert_eq(xcr_nearest_correlation(3, ok, 1e-8, out, &err), XCR_OK);
    for (int i = 0; i < 9; i++)
        XT_REL(out[i], ok[i], 1e-9);
}

Test(linalg, correlation_files)
{
    char *p = xt_write_temp(".csv", ",BTC,ETH\nBTC,1,0.8\nETH,0.8,1\n");
    xcr_corr *c = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_corr_load(p, &c, &err), XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_corr_size(c), 2);
    XT_REL(xcr_corr_get(c, 0, 1), 0.8, 0);
    xcr_corr_free(c);
    unlink(p);
    free(p);
    p = xt_write_temp(".csv", ",BTC,ETH\nBTC,1,0.8\nETH,0.7,1\n");
    cr_assert_eq(xcr_corr_load(p, &c, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "line 3, column 2") &&
                  strstr(err.msg, "symmetric"),
              "%s", err.msg);
    unlink(p);
    free(p);
    p = xt_write_temp(".json",
                      "{\"assets\": [\"BTC\", \"ETH\"], \"matrix\": [[1, 2], "
                      "[2, 1]]}");
    cr_assert_eq(xcr_corr_load(p, &c, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "matrix[0][1]"), "%s", err.msg);
    unlink(p);
    free(p);
}

/* MARK: estimators -------------------------------------------------------------------------------- */

/* VAR-1 (test-vectors.md §E; scenarios-and-data.md §7.2). */
Test(estimators, var_1_parametric)
{
    double v, e;
    const struct {
        double a, var, es;
    } N[] = {{0.95, 1.644854, 2.062713},
             {0.975, 1.959964, 2.337803},
             {0.99, 2.326348, 2.665214}};
    for (int i = 0; i < 3; i++) {
        xcr_var_es_normal(N[i].a, &v, &e);
        XT_REL(v, N[i].var, 1e-6);
        XT_REL(e, N[i].es, 1e-6);
    }
    const struct {
        double nu;
        int unit;
        double var, es;
    } T[] = {{3, 0, 4.540703, 7.003082}, {4, 0, 3.746947, 5.220584},
             {5, 0, 3.364930, 4.452429}, {3, 1, 2.621576, 4.043231},
             {4, 1, 2.649492, 3.691510}, {5, 1, 2.606464, 3.448837}};
    for (int i = 0; i < 6; i++) {
        xcr_var_es_t(0.99, T[i].nu, T[i].unit, &v, &e);
        XT_REL(v, T[i].var, 1e-6);
        XT_REL(e, T[i].es, 1e-6);
    }
    /* the distribution functions invert each other */
    for (double p = 0.001; p < 1; p += 0.0737) {
        XT_REL(xcr_norm_cdf(xcr_norm_quantile(p)), p, 1e-14);
        XT_REL(xcr_t_cdf(xcr_t_quantile(p, 3.5), 3.5), p, 1e-12);
    }
    XT_REL(xcr_norm_quantile(1e-10), -6.361340902404056, 1e-12);
    XT_REL(xcr_t_cdf(-2, 1), 0.5 - atan(2) / 3.141592653589793, 1e-13);
}

/* VAR-2: losses 1…100, α = 0.95 → VaR 95, ES 98. */
Test(estimators, var_2_empirical)
{
    double x[100], w[100], v, e;
    for (int i = 0; i < 100; i++)
        x[99 - i] = i + 1; /* any order */
    cr_assert_eq(xcr_var_es(x, 100, 0.95, w, &v, &e), XCR_OK);
    XT_REL(v, 95, 0);
    XT_REL(e, 98, 1e-15);
    /* the fractional boundary weight: n = 10, α = 0.95 → k = 10 and
     * ES = L_(10) */
    cr_assert_eq(xcr_var_es(x, 10, 0.95, w, &v, &e), XCR_OK);
    XT_REL(v, 100, 0);
    XT_REL(e, 100, 1e-15);
    /* n = 30, α = 0.9 → k = 27, ES = (L28 + L29 + L30)/3 */
    double y[30];
    for (int i = 0; i < 30; i++)
        y[i] = i + 1;
    cr_assert_eq(xcr_var_es(y, 30, 0.9, w, &v, &e), XCR_OK);
    XT_REL(v, 27, 0);
    XT_REL(e, 29, 1e-14);
    /* n = 7, α = 0.9 → nα = 6.3, k = 7, ES = 0.7·L7/0.7 */
    cr_assert_eq(xcr_var_es(y, 7, 0.9, w, &v, &e), XCR_OK);
    XT_REL(v, 7, 0);
    XT_REL(e, 7, 1e-14);
    cr_assert_eq(xcr_var_es(y, 0, 0.9, w, &v, &e), XCR_EINVAL);
}

/* The empirical estimators on a known distribution: a million standard
 * normals from the engine's own Philox stream give VAR-1's values within
 * sampling error (the ES standard error at 99 % is ~0.0038). */
Test(estimators, empirical_on_normal_sample)
{
    size_t n = 1000000;
    double *x = malloc(n * sizeof *x), *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        x[i] = xcr__normal(7, i, 0, XCR__RNG_ASSET);
    double v, e;
    cr_assert_eq(xcr_var_es(x, n, 0.95, w, &v, &e), XCR_OK);
    cr_assert(fabs(v - 1.644854) < 0.01 && fabs(e - 2.062713) < 0.01,
              "%g %g", v, e);
    cr_assert_eq(xcr_var_es(x, n, 0.99, w, &v, &e), XCR_OK);
    cr_assert(fabs(v - 2.326348) < 0.015 && fabs(e - 2.665214) < 0.015,
              "%g %g", v, e);
    free(x);
    free(w);
}

/* MARK: Monte Carlo --------------------------------------------------------------------------------- */

static const char *BOOK2 =
    "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
    "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"AAA\",\"price\":100,\"vol\":0.6},"
    "{\"symbol\":\"BBB\",\"price\":10,\"vol\":0.9}],"
    "\"accounts\":[],\"settings\":{\"correlation\":{\"assets\":[\"AAA\","
    "\"BBB\"],\"matrix\":[[1,0.8],[0.8,1]]}}}";

static void sample_stats(const xcr_scenarios *s, size_t first, size_t n,
                         double *sd1, double *sd2, double *rho)
{
    double s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
    for (size_t k = first; k < first + n; k++) {
        double a = log1p(xcr_scenarios_move(s, k, 1));
        double b = log1p(xcr_scenarios_move(s, k, 2));
        s1 += a;
        s2 += b;
        s11 += a * a;
        s22 += b * b;
        s12 += a * b;
    }
    double dn = (double)n;
    double v1 = s11 / dn - (s1 / dn) * (s1 / dn);
    double v2 = s22 / dn - (s2 / dn) * (s2 / dn);
    *sd1 = sqrt(v1);
    *sd2 = sqrt(v2);
    *rho = (s12 / dn - s1 * s2 / (dn * dn)) / sqrt(v1 * v2);
}

/* A two-asset Gaussian MC reproduces the target correlation (from the
 * book's settings.correlation) and the horizon-scaled vols σ·√(h/365)
 * within sampling error: SE(ρ̂) ≈ (1 − ρ²)/√n, SE(σ̂) ≈ σ/√(2n). */
Test(montecarlo, gaussian_reproduces_correlation_and_vols)
{
    xcr_book *b = xt_load_book(BOOK2);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_mc_opts o;
    memset(&o, 0, sizeof o);
    o.n = 100000;
    o.seed = xt_seed(42);
    o.dist = XCR_MC_NORMAL;
    o.horizon_days = 10;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK, "%s", err.msg);
    double sd1, sd2, rho;
    sample_stats(s, 0, o.n, &sd1, &sd2, &rho);
    double h = sqrt(10.0 / 365), n = (double)o.n;
    cr_assert(fabs(rho - 0.8) < 4 * 0.36 / sqrt(n), "rho %g (seed %llu)", rho,
              (unsigned long long)o.seed);
    cr_assert(fabs(sd1 - 0.6 * h) < 4 * 0.6 * h / sqrt(2 * n), "sd1 %g", sd1);
    cr_assert(fabs(sd2 - 0.9 * h) < 4 * 0.9 * h / sqrt(2 * n), "sd2 %g", sd2);
    cr_assert_eq(xcr_scenarios_move(s, 5, 0), 0); /* the stablecoin */
    cr_assert_eq(xcr_scenarios_origin(s, 5, 1), XCR_ORIGIN_GENERATED);
    /* t marginals scaled to unit variance keep the vols */
    o.dist = XCR_MC_T;
    o.df = 5;
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK);
    sample_stats(s, o.n, o.n, &sd1, &sd2, &rho);
    cr_assert(fabs(sd1 - 0.6 * h) < 0.02 * 0.6 * h, "t sd1 %g", sd1);
    cr_assert(fabs(rho - 0.8) < 0.01, "t rho %g", rho);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* Empirical lower-tail dependence P(U2 < q | U1 < q) at q = 1 %. */
static double tail_dep(const xcr_scenarios *s, size_t first, size_t n)
{
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (size_t k = 0; k < n; k++) {
        a[k] = xcr_scenarios_move(s, first + k, 1);
        b[k] = xcr_scenarios_move(s, first + k, 2);
    }
    double *w = malloc(n * sizeof *w);
    memcpy(w, a, n * sizeof *w);
    double qa = xcr__quantile(w, n, 0.01);
    memcpy(w, b, n * sizeof *w);
    double qb = xcr__quantile(w, n, 0.01);
    size_t both = 0, one = 0;
    for (size_t k = 0; k < n; k++)
        if (a[k] <= qa) {
            one++;
            both += b[k] <= qb;
        }
    free(a);
    free(b);
    free(w);
    return (double)both / (double)one;
}

/* The t copula has tail dependence, the Gaussian has none (§7.2): at the
 * same ρ = 0.5 the conditional 1 % tail co-crash probability is visibly
 * higher.  Theory: λ_t(ν = 3) = 2·T_4(−√(4·0.5/1.5)) ≈ 0.31; the Gaussian's
 * finite-q value at 1 % is ≈ 0.13 and tends to 0. */
Test(montecarlo, t_copula_has_more_tail_dependence)
{
    const char *book =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"AAA\",\"price\":100,\"vol\":0.6},"
        "{\"symbol\":\"BBB\",\"price\":10,\"vol\":0.6}],\"accounts\":[],"
        "\"settings\":{\"correlation\":{\"assets\":[\"AAA\",\"BBB\"],"
        "\"matrix\":[[1,0.5],[0.5,1]]}}}";
    xcr_book *b = xt_load_book(book);
    xcr_scenarios *s = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &s), XCR_OK);
    xcr_mc_opts o;
    memset(&o, 0, sizeof o);
    o.n = 200000;
    o.seed = xt_seed(3);
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK, "%s", err.msg);
    o.dist = XCR_MC_T;
    o.df = 3;
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK, "%s", err.msg);
    double lg = tail_dep(s, 0, o.n), lt = tail_dep(s, o.n, o.n);
    double lambda = 2 * xcr_t_cdf(-sqrt(4 * 0.5 / 1.5), 4);
    cr_assert(lt > 1.5 * lg && lt > 0.25 && lg < 0.2,
              "gaussian %.3f, t %.3f (theory %.3f)", lg, lt, lambda);
    cr_assert(fabs(lambda - 0.3125) < 0.01, "%g", lambda);
    /* normal marginals with the t copula: same dependence, normal tails */
    o.normal_marginals = 1;
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK, "%s", err.msg);
    double ln = tail_dep(s, 2 * o.n, o.n);
    cr_assert(ln > 1.5 * lg, "t copula, normal marginals %.3f", ln);
    cr_log_info("1 %% tail dependence at rho 0.5: gaussian %.3f, t(3) %.3f, "
                "t(3) with normal marginals %.3f; t limit %.3f",
                lg, lt, ln, lambda);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* Scenario k depends on (seed, k, asset) only: a longer run extends a
 * shorter one, and the seed changes everything. */
Test(montecarlo, counter_based_prefix_property)
{
    xcr_book *b = xt_load_book(BOOK5);
    xcr_scenarios *s1 = NULL, *s2 = NULL;
    xcr_scenarios_new(b, &s1);
    xcr_scenarios_new(b, &s2);
    xcr_mc_opts o;
    memset(&o, 0, sizeof o);
    o.n = 50;
    o.seed = 9;
    o.dist = XCR_MC_T;
    o.df = 4;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_mc(s1, &o, &err), XCR_OK, "%s", err.msg);
    o.n = 500;
    cr_assert_eq(xcr_scenarios_add_mc(s2, &o, &err), XCR_OK);
    size_t na = xcr_book_asset_count(b);
    for (size_t k = 0; k < 50; k++)
        for (size_t a = 0; a < na; a++) {
            double x = xcr_scenarios_move(s1, k, a),
                   y = xcr_scenarios_move(s2, k, a);
            cr_assert(memcmp(&x, &y, sizeof x) == 0);
        }
    cr_assert_str_eq(xcr_scenarios_name(s2, 499), "mc-500");
    o.seed = 10;
    o.n = 1;
    cr_assert_eq(xcr_scenarios_add_mc(s1, &o, &err), XCR_OK);
    cr_assert(xcr_scenarios_move(s1, 50, 2) != xcr_scenarios_move(s1, 0, 2));
    xcr_scenarios_free(s1);
    xcr_scenarios_free(s2);
    xcr_book_free(b);
}

Test(montecarlo, not_positive_definite_and_repair)
{
    const char *book =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"A\",\"price\":1,\"vol\":0.5},"
        "{\"symbol\":\"B\",\"price\":1,\"vol\":0.5},"
        "{\"symbol\":\"C\",\"price\":1,\"vol\":0.5}],\"accounts\":[],"
        "\"settings\":{\"correlation\":{\"assets\":[\"A\",\"B\",\"C\"],"
        "\"matrix\":[[1,0.9,-0.9],[0.9,1,0.9],[-0.9,0.9,1]]}}}";
    xcr_book *b = xt_load_book(book);
    xcr_scenarios *s = NULL;
    xcr_scenarios_new(b, &s);
    xcr_mc_opts o;
    memset(&o, 0, sizeof o);
    o.n = 10;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_ENOTPD);
    cr_assert(strstr(err.msg, "$.settings.correlation") &&
                  strstr(err.msg, "not positive definite") &&
                  strstr(err.msg, "order 3"),
              "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 0);
    o.repair = 1;
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_scenarios_count(s), 10);
    cr_assert(s->gen.repaired && s->gen.repair_change > 0.01);
    /* a bad setting is located */
    const char *book2 =
        "{\"assets\":[{\"symbol\":\"A\",\"price\":1,\"vol\":0.5}],"
        "\"accounts\":[],\"settings\":{\"correlation\":{\"assets\":[\"A\"],"
        "\"matrix\":[[1, 2]]}}}";
    xcr_book *b2 = xt_load_book(book2);
    xcr_corr *c = NULL;
    cr_assert_eq(xcr_corr_from_book(b2, "b2.json", &c, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "b2.json: $.settings.correlation.matrix[0]"),
              "%s", err.msg);
    xcr_book_free(b2);
    xcr_scenarios_free(s);
    xcr_book_free(b);
}

/* MARK: history and FHS ------------------------------------------------------------------------------ */

/* A synthetic wide CSV: 400 days, two assets driven by the same seeded
 * shocks (ρ ≈ 0.6). */
static char *synthetic_history(void)
{
    size_t cap = 1 << 16, len = 0;
    char *t = malloc(cap);
    double a = 100, b = 10;
    len += (size_t)snprintf(t + len, cap - len, "date,AAA,BBB\n");
    for (int d = 0; d < 400; d++) {
        double z1 = xcr__normal(5, (uint64_t)d, 0, 0);
        double z2 = 0.6 * z1 + 0.8 * xcr__normal(5, (uint64_t)d, 1, 0);
        a *= exp(0.03 * z1);
        b *= exp(0.05 * z2);
        /* Unix seconds: 2023-01-01 + d days */
        long secs = 1672531200L + 86400L * d;
        len += (size_t)snprintf(t + len, cap - len, "%ld,%.12g,", secs, a);
        if (d != 100) /* one missing day for BBB */
            len += (size_t)snprintf(t + len, cap - len, "%.12g", b);
        len += (size_t)snprintf(t + len, cap - len, "\n");
    }
    return t;
}

Test(history, wide_csv_corr_vol_and_fhs)
{
    char *text = synthetic_history();
    char *p = xt_write_temp(".csv", text);
    free(text);
    xcr_history *h = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_history_load(p, NULL, 0, &h, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_history_days(h), 400);
    cr_assert_eq(xcr_history_assets(h), 2);
    cr_assert(isnan(xcr_history_close(h, 100, 1)));
    xcr_corr *c = NULL;
    cr_assert_eq(xcr_history_corr(h, 0, &c, &err), XCR_OK, "%s", err.msg);
    cr_assert(fabs(xcr_corr_get(c, 0, 1) - 0.6) < 0.12, "%g",
              xcr_corr_get(c, 0, 1));
    cr_assert(fabs(xcr_history_vol(h, 0, 0) - 0.03 * sqrt(365.0)) < 0.1);
    xcr_corr_free(c);
    /* FHS over a book holding both assets */
    xcr_book *b = xt_load_book(BOOK2);
    xcr_scenarios *s1 = NULL, *s2 = NULL;
    xcr_scenarios_new(b, &s1);
    xcr_scenarios_new(b, &s2);
    xcr_fhs_opts fo = {200, 1, 5, 0.94, 0};
    cr_assert_eq(xcr_scenarios_add_fhs(s1, h, &fo, &err), XCR_OK, "%s",
                 err.msg);
    fo.n = 20;
    cr_assert_eq(xcr_scenarios_add_fhs(s2, h, &fo, &err), XCR_OK);
    for (size_t k = 0; k < 20; k++)
        cr_assert_eq(xcr_scenarios_move(s1, k, 1), xcr_scenarios_move(s2, k, 1));
    cr_assert_str_eq(xcr_scenarios_name(s1, 0), "fhs-1");
    /* 5-day moves: a spread of the right order (daily 3 % → ~7 %) */
    double ss = 0;
    for (size_t k = 0; k < 200; k++) {
        double r = log1p(xcr_scenarios_move(s1, k, 1));
        ss += r * r;
    }
    double sd = sqrt(ss / 200);
    cr_assert(sd > 0.03 && sd < 0.15, "%g", sd);
    xcr_scenarios_free(s1);
    xcr_scenarios_free(s2);
    xcr_book_free(b);
    xcr_history_free(h);
    unlink(p);
    free(p);
    /* located errors */
    p = xt_write_temp(".csv", "date,AAA\n2024-01-01,1\n2024-01-02,-3\n");
    cr_assert_eq(xcr_history_load(p, NULL, 0, &h, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "line 3, column 2 (AAA)"), "%s", err.msg);
    unlink(p);
    free(p);
    p = xt_write_temp(".csv", "date,AAA\n2024-01-02,1\n2024-01-01,2\n");
    cr_assert_eq(xcr_history_load(p, NULL, 0, &h, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "line 3, column 1"), "%s", err.msg);
    unlink(p);
    free(p);
}

/* The shipped default against the shared Binance closes, 2021–2025. */
Test(history, shared_data_correlations)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/prices-daily", XCR_SHARED_DIR);
    const char *syms[] = {"BTC", "ETH", "SOL", "BNB", "DOGE"};
    xcr_history *h = NULL;
    xcr_error err = {0};
    FILE *probe;
    char p0[4200];
    snprintf(p0, sizeof p0, "%s/BTCUSDT_1d.csv", dir);
    if (!(probe = fopen(p0, "r")))
        cr_skip_test("shared data not found at %s: skipping", dir);
    fclose(probe);
    cr_assert_eq(xcr_history_load(dir, syms, 5, &h, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_history_assets(h), 5);
    /* the days 2021-01-01 … 2025-12-31 */
    long d0 = 18628, d1 = 20453;
    size_t t0 = 0, t1 = 0;
    for (size_t t = 0; t < xcr_history_days(h); t++) {
        if (xcr_history_day(h, t) <= d0 - 1)
            t0 = t;
        if (xcr_history_day(h, t) <= d1)
            t1 = t;
    }
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < i; j++) {
            double s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
            double n = 0;
            long ki = -1, kj = -1;
            for (size_t k = 0; k < 5; k++) {
                if (strcmp(xcr_history_symbol(h, k), syms[i]) == 0)
                    ki = (long)k;
                if (strcmp(xcr_history_symbol(h, k), syms[j]) == 0)
                    kj = (long)k;
            }
            for (size_t t = t0 + 1; t <= t1; t++) {
                double a = log(xcr_history_close(h, t, (size_t)ki) /
                               xcr_history_close(h, t - 1, (size_t)ki));
                double b = log(xcr_history_close(h, t, (size_t)kj) /
                               xcr_history_close(h, t - 1, (size_t)kj));
                if (isnan(a) || isnan(b))
                    continue;
                s1 += a;
                s2 += b;
                s11 += a * a;
                s22 += b * b;
                s12 += a * b;
                n++;
            }
            double rho = (s12 - s1 * s2 / n) /
                         sqrt((s11 - s1 * s1 / n) * (s22 - s2 * s2 / n));
            double shipped = xcr__default_corr[i * 5 + j];
            cr_assert(fabs(rho - shipped) < 0.006, "%s-%s: data %.4f, shipped "
                                                   "%.3f",
                      syms[i], syms[j], rho, shipped);
        }
    xcr_history_free(h);
}
