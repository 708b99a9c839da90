/* `xcr stress` and `xcr scenarios` end to end: the spec §5 JSON contract,
 * identical output for any --threads, and the bad-input contract (exit 2,
 * a located one-line message, nothing on stdout). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

static int run(const char *args, char **out, char **err)
{
    size_t n = strlen(XCR_CLI_PATH) + strlen(args) + 8;
    char *cmd = malloc(n);
    snprintf(cmd, n, "'%s' %s", XCR_CLI_PATH, args);
    int st = xt_run(cmd, out, err);
    free(cmd);
    return st;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %.400s", je.text, text);
    return j;
}

/* A small book with vols and a correlation setting. */
static const char *BOOK =
    "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
    "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"BTC\",\"price\":60000,\"vol\":0.6},"
    "{\"symbol\":\"ETH\",\"price\":3000,\"vol\":0.8},"
    "{\"symbol\":\"SOL\",\"price\":150,\"vol\":1.1}],"
    "\"instruments\":[{\"id\":\"BTC-PERP\",\"type\":\"perp\","
    "\"underlying\":\"BTC\"},{\"id\":\"ETH-PERP\",\"type\":\"perp\","
    "\"underlying\":\"ETH\"}],"
    "\"accounts\":["
    "{\"id\":\"a1\",\"mode\":\"cross\",\"balances\":{\"USDT\":10000},"
    "\"positions\":[{\"instrument\":\"BTC-PERP\",\"size\":1,"
    "\"entry_price\":60000}]},"
    "{\"id\":\"a2\",\"mode\":\"cross\",\"balances\":{\"USDT\":2000,"
    "\"ETH\":1},\"positions\":[{\"instrument\":\"ETH-PERP\",\"size\":-3,"
    "\"entry_price\":3000}]},"
    "{\"id\":\"a3\",\"mode\":\"cross\",\"balances\":{\"SOL\":100,"
    "\"USDT\":-9000}}],"
    "\"settings\":{\"correlation\":{\"assets\":[\"BTC\",\"ETH\",\"SOL\"],"
    "\"matrix\":[[1,0.8,0.6],[0.8,1,0.65],[0.6,0.65,1]]}}}";

Test(stress_cli, help_and_usage)
{
    char *out = NULL, *err = NULL;
    cr_assert_eq(run("stress --help", &out, NULL), 0);
    cr_assert(strstr(out, "usage: xcr stress"));
    free(out);
    cr_assert_eq(run("scenarios --help", &out, NULL), 0);
    cr_assert(strstr(out, "usage: xcr scenarios"));
    free(out);
    cr_assert_eq(run("--help", &out, NULL), 0);
    cr_assert(strstr(out, "stress") && strstr(out, "scenarios"));
    free(out);
    /* exactly one mode */
    cr_assert_eq(run("stress", &out, &err), 2);
    cr_assert(strstr(err, "exactly one"), "%s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    cr_assert_eq(run("stress --mc 10 --lar", NULL, NULL), 2);
    cr_assert_eq(run("stress --mc 0", NULL, NULL), 2);
    cr_assert_eq(run("stress --mc 10 --dist cauchy", NULL, NULL), 2);
    cr_assert_eq(run("stress --fhs 10", NULL, NULL), 2);
    cr_assert_eq(run("stress --scenario nosuch", &out, &err), 2);
    cr_assert(strstr(err, "nosuch"), "%s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
}

/* spec §5: {"scenarios": [{"name", "moves": {...}}]} */
Test(stress_cli, scenarios_listing)
{
    char *out = NULL;
    cr_assert_eq(run("scenarios --format json", &out, NULL), 0);
    json_t *j = parse(out);
    json_t *arr = json_object_get(j, "scenarios");
    cr_assert_eq(json_array_size(arr), 15);
    size_t i;
    json_t *sc;
    json_array_foreach(arr, i, sc)
    {
        cr_assert(json_is_string(json_object_get(sc, "name")));
        cr_assert(json_is_object(json_object_get(sc, "moves")));
        cr_assert(json_is_string(json_object_get(sc, "source")));
    }
    json_t *c = json_array_get(arr, 0);
    cr_assert_str_eq(json_string_value(json_object_get(c, "name")),
                     "covid_2020_03_12");
    cr_assert_float_eq(
        json_real_value(json_object_get(json_object_get(c, "moves"), "BTC")),
        -0.446, 1e-15);
    json_decref(j);
    free(out);
    cr_assert_eq(run("scenarios", &out, NULL), 0);
    cr_assert(strstr(out, "tariff_2025_10_10") && strstr(out, "source"));
    free(out);
    cr_assert_eq(run("scenarios --format csv", &out, NULL), 0);
    cr_assert(strncmp(out, "scenario,symbol,move", 20) == 0);
    free(out);
    cr_assert_eq(run("scenarios --format xml", NULL, NULL), 2);
}

/* One scenario: numbers (spec §5). */
Test(stress_cli, one_scenario_json)
{
    char *book = xt_write_temp(".json", BOOK);
    char a[4400], *out = NULL;
    snprintf(a, sizeof a, "stress %s --scenario ftx_2022_11 --format json",
             book);
    cr_assert_eq(run(a, &out, NULL), 0);
    json_t *j = parse(out);
    cr_assert_eq(json_integer_value(json_object_get(j, "scenarios")), 1);
    cr_assert(json_is_number(json_object_get(j, "loss")));
    cr_assert(json_is_number(json_object_get(j, "shortfall")));
    json_t *res = json_array_get(json_object_get(j, "results"), 0);
    cr_assert_float_eq(
        json_number_value(json_object_get(json_object_get(res, "moves"),
                                          "BTC")),
        -0.274, 1e-15);
    /* a3 holds SOL against a USDT loan: SOL −68.1 % → bankrupt */
    json_t *liq = json_object_get(j, "liquidated");
    bool a3 = false;
    size_t i;
    json_t *x;
    json_array_foreach(liq, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "id")), "a3") == 0) {
            a3 = true;
            cr_assert_str_eq(
                json_string_value(json_object_get(x, "status_after")),
                "bankrupt");
            cr_assert_float_eq(
                json_number_value(json_object_get(x, "shortfall")),
                9000 - 100 * 150 * (1 - 0.681), 1e-6);
        }
    }
    cr_assert(a3);
    /* a1 (long 1 BTC on 10,000 USDT) is bankrupt too: −16,440 + 10,000 */
    double total = 0;
    json_array_foreach(liq, i, x)
        total += json_number_value(json_object_get(x, "shortfall"));
    cr_assert_float_eq(json_number_value(json_object_get(j, "shortfall")),
                       total, 1e-6);
    cr_assert_float_eq(total,
                       9000 - 100 * 150 * (1 - 0.681) + 60000 * 0.274 - 10000,
                       1e-6);
    json_decref(j);
    free(out);
    /* table and CSV */
    snprintf(a, sizeof a, "stress %s --scenario ftx_2022_11", book);
    cr_assert_eq(run(a, &out, NULL), 0);
    cr_assert(strstr(out, "shortfall (bad debt, USD)"), "%s", out);
    free(out);
    snprintf(a, sizeof a, "stress %s --scenario ftx_2022_11 --format csv",
             book);
    cr_assert_eq(run(a, &out, NULL), 0);
    cr_assert(strncmp(out, "scenario,loss,shortfall,", 24) == 0, "%s", out);
    free(out);
    snprintf(a, sizeof a,
             "stress %s --scenario ftx_2022_11 --format csv --per-account",
             book);
    cr_assert_eq(run(a, &out, NULL), 0);
    cr_assert(strncmp(out, "id,mode,status_before", 21) == 0, "%s", out);
    free(out);
    unlink(book);
    free(book);
}

static void check_stats(json_t *o, const char *what)
{
    cr_assert(json_is_object(o), "%s is not an object", what);
    cr_assert(json_is_number(json_object_get(o, "mean")), "%s.mean", what);
    const char *lv[3] = {"95", "99", "99.9"};
    for (int k = 0; k < 3; k++) {
        cr_assert(json_is_number(json_object_get(json_object_get(o, "var"),
                                                 lv[k])),
                  "%s.var.%s", what, lv[k]);
        cr_assert(json_is_number(json_object_get(json_object_get(o, "es"),
                                                 lv[k])),
                  "%s.es.%s", what, lv[k]);
    }
    double v99 = json_number_value(json_object_get(json_object_get(o, "var"),
                                                   "99"));
    double e99 = json_number_value(json_object_get(json_object_get(o, "es"),
                                                   "99"));
    cr_assert(e99 >= v99, "%s: ES %g < VaR %g", what, e99, v99);
}

/* Monte Carlo: objects {"mean", "var", "es"} (spec §5); identical output
 * for 1, 2 and 8 threads. */
Test(stress_cli, monte_carlo_json_and_threads)
{
    char *out[3] = {NULL, NULL, NULL};
    const char *th[3] = {"1", "2", "8"};
    for (int i = 0; i < 3; i++) {
        char a[256];
        snprintf(a, sizeof a,
                 "stress --mc 400 --dist t --df 4 --horizon 5 --seed 7 "
                 "--threads %s --format json --accounts all",
                 th[i]);
        cr_assert_eq(run(a, &out[i], NULL), 0, "%s", a);
    }
    cr_assert_str_eq(out[0], out[1]);
    cr_assert_str_eq(out[0], out[2]);
    json_t *j = parse(out[0]);
    cr_assert_eq(json_integer_value(json_object_get(j, "scenarios")), 400);
    check_stats(json_object_get(j, "loss"), "loss");
    check_stats(json_object_get(j, "shortfall"), "shortfall");
    json_t *model = json_object_get(j, "model");
    cr_assert_str_eq(json_string_value(json_object_get(model, "dist")), "t");
    cr_assert_eq(json_number_value(json_object_get(model, "df")), 4);
    cr_assert_eq(json_array_size(json_object_get(j, "accounts")), 1000);
    json_t *a0 = json_array_get(json_object_get(j, "accounts"), 0);
    double p = json_number_value(json_object_get(a0, "p_liquidation"));
    cr_assert(p >= 0 && p <= 1);
    check_stats(json_object_get(a0, "loss"), "account loss");
    json_decref(j);
    for (int i = 0; i < 3; i++)
        free(out[i]);
    /* the grid and the curve are thread-independent too */
    char *g1 = NULL, *g8 = NULL;
    cr_assert_eq(run("stress --grid BTC=-0.5:0.5:0.25,ETH=-0.5:0.5:0.5 "
                     "--threads 1 --format json",
                     &g1, NULL),
                 0);
    cr_assert_eq(run("stress --grid BTC=-0.5:0.5:0.25,ETH=-0.5:0.5:0.5 "
                     "--threads 8 --format json",
                     &g8, NULL),
                 0);
    cr_assert_str_eq(g1, g8);
    j = parse(g1);
    cr_assert_eq(json_integer_value(json_object_get(j, "scenarios")), 15);
    cr_assert(json_is_object(json_object_get(j, "loss")));
    json_t *grid = json_object_get(j, "grid");
    cr_assert_eq(json_array_size(json_object_get(grid, "shortfall")), 5);
    json_decref(j);
    free(g1);
    free(g8);
}

Test(stress_cli, lar_curve_and_exposure)
{
    char *out = NULL;
    cr_assert_eq(run("stress --lar --format json", &out, NULL), 0);
    json_t *j = parse(out);
    json_t *curve = json_object_get(j, "curve");
    cr_assert_eq(json_array_size(curve), 13);
    cr_assert_eq(json_number_value(
                     json_object_get(json_array_get(curve, 0), "shock")),
                 0);
    cr_assert_float_eq(json_number_value(json_object_get(
                           json_array_get(curve, 12), "shock")),
                       -0.6, 1e-15);
    json_decref(j);
    free(out);
    cr_assert_eq(run("stress --lar", &out, NULL), 0);
    cr_assert(strstr(out, "-60.0 %"), "%s", out);
    free(out);
    cr_assert_eq(run("stress --exposure --format json --top 3", &out, NULL),
                 0);
    j = parse(out);
    json_t *assets = json_object_get(j, "assets");
    cr_assert_eq(json_array_size(assets), 12);
    json_t *btc = json_array_get(assets, 2);
    cr_assert_str_eq(json_string_value(json_object_get(btc, "symbol")), "BTC");
    cr_assert(json_array_size(json_object_get(btc, "top")) <= 3);
    cr_assert(json_is_number(json_object_get(btc, "hhi")));
    cr_assert(json_is_number(json_object_get(btc, "depth_10pct_usd")));
    cr_assert(json_is_array(json_object_get(j, "loops")));
    json_decref(j);
    free(out);
    cr_assert_eq(run("stress --exposure", &out, NULL), 0);
    cr_assert(strstr(out, "recursive-leverage loops"), "%s", out);
    free(out);
}

/* Bad scenario files and matrices: exit 2, a located message, no output. */
Test(stress_cli, bad_input_is_located)
{
    char *book = xt_write_temp(".json", BOOK);
    char *f1 = xt_write_temp(".json", "{\"scenarios\": [{\"name\": \"x\", "
                                      "\"moves\": {\"BTC\": -1.5}}]}");
    char *f2 = xt_write_temp(".csv", "scenario,symbol,move\nx,BTC,-0.1\n"
                                     "x,ETH,oops\n");
    char *f3 = xt_write_temp(".csv", ",BTC,ETH,SOL\nBTC,1,0.9,-0.9\n"
                                     "ETH,0.9,1,0.9\nSOL,-0.9,0.9,1\n");
    char *f4 = xt_write_temp(".json", "{\"scenarios\": [{\"name\": \"x\", "
                                      "\"moves\": {\"BTC\": -0.1}");
    const struct {
        const char *args;
        const char *file;
        const char *where;
    } cases[] = {
        {"--scenario %s", f1, "$.scenarios[0].moves.BTC"},
        {"--scenario %s", f2, "line 3, column 3 (move)"},
        {"--scenario %s", f4, "line 1, column"},
        {"--mc 10 --corr %s", f3, "not positive definite"},
        {"--mc 10 --dist t --df 1.5 --corr %s", f3, "degrees of freedom"},
        {"--grid %s", "BTC=-2:0:0.5", "BTC"},
        {"--grid %s", "-0.5:0:0", "STEP"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char a[8800], tail[4300];
        snprintf(tail, sizeof tail, cases[i].args, cases[i].file);
        snprintf(a, sizeof a, "stress %s %s --format json", book, tail);
        char *out = NULL, *err = NULL;
        cr_assert_eq(run(a, &out, &err), 2, "%s", a);
        cr_assert(strstr(err, cases[i].where), "%s: \"%s\" lacks \"%s\"", a,
                  err, cases[i].where);
        if (i < 4)
            cr_assert(strstr(err, cases[i].file), "%s names no file", err);
        cr_assert_str_eq(out, "", "partial output for %s", a);
        cr_assert(strchr(err, '\n') == err + strlen(err) - 1,
                  "not one line: %s", err);
        free(out);
        free(err);
    }
    /* --repair replaces the matrix by the nearest correlation matrix */
    char a[8800], *out = NULL;
    snprintf(a, sizeof a, "stress %s --mc 50 --corr %s --repair --format json",
             book, f3);
    cr_assert_eq(run(a, &out, NULL), 0, "%s", a);
    json_t *j = parse(out);
    json_t *corr = json_object_get(json_object_get(j, "model"),
                                   "correlation");
    cr_assert(json_is_true(json_object_get(corr, "repaired")));
    json_decref(j);
    free(out);
    /* a book whose settings.correlation is not positive definite */
    const char *badbook =
        "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"A\",\"price\":1,\"vol\":0.5},"
        "{\"symbol\":\"B\",\"price\":1,\"vol\":0.5},"
        "{\"symbol\":\"C\",\"price\":1,\"vol\":0.5}],\"accounts\":[],"
        "\"settings\":{\"correlation\":{\"assets\":[\"A\",\"B\",\"C\"],"
        "\"matrix\":[[1,0.9,-0.9],[0.9,1,0.9],[-0.9,0.9,1]]}}}";
    char *bb = xt_write_temp(".json", badbook);
    char *err = NULL;
    snprintf(a, sizeof a, "stress %s --mc 10", bb);
    cr_assert_eq(run(a, &out, &err), 2);
    cr_assert(strstr(err, bb) && strstr(err, "$.settings.correlation") &&
                  strstr(err, "not positive definite"),
              "%s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    char *paths[] = {book, f1, f2, f3, f4, bb};
    for (int i = 0; i < 6; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
}

/* `xcr scenarios --format json` is a valid scenario file: the listing read
 * back runs the same scenario as the built-in name. */
Test(stress_cli, listing_reads_back)
{
    char *list = NULL;
    cr_assert_eq(run("scenarios --format json", &list, NULL), 0);
    char *f = xt_write_temp(".json", list);
    free(list);
    char a[4400];
    char *o1 = NULL, *o2 = NULL;
    snprintf(a, sizeof a, "stress --scenario %s --format csv", f);
    cr_assert_eq(run(a, &o1, NULL), 0);
    cr_assert_eq(run("stress --scenario all --format csv", &o2, NULL), 0);
    cr_assert_str_eq(o1, o2);
    free(o1);
    unlink(f);
    free(f);
    /* the CSV listing too */
    cr_assert_eq(run("scenarios --format csv", &list, NULL), 0);
    f = xt_write_temp(".csv", list);
    free(list);
    snprintf(a, sizeof a, "stress --scenario %s --format csv", f);
    cr_assert_eq(run(a, &o1, NULL), 0);
    cr_assert_str_eq(o1, o2);
    free(o1);
    free(o2);
    unlink(f);
    free(f);
}

/* Real prices: correlation estimated from, and historical simulation
 * driven by, shared/data (skipped when the folder is absent). */
Test(stress_cli, shared_history)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/prices-daily", XCR_SHARED_DIR);
    if (access(dir, R_OK) != 0)
        cr_skip_test("shared data not found at %s: skipping", dir);
    char a[4400], *out = NULL;
    snprintf(a, sizeof a,
             "stress --fhs 300 --history %s --horizon 2 --format json", dir);
    cr_assert_eq(run(a, &out, NULL), 0, "%s", a);
    json_t *j = parse(out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "method")),
                     "filtered_historical_simulation");
    check_stats(json_object_get(j, "loss"), "loss");
    json_decref(j);
    free(out);
    snprintf(a, sizeof a,
             "stress --mc 300 --history %s --window 1000 --vol-source history "
             "--format json",
             dir);
    cr_assert_eq(run(a, &out, NULL), 0, "%s", a);
    j = parse(out);
    json_t *corr = json_object_get(json_object_get(j, "model"),
                                   "correlation");
    cr_assert(strstr(json_string_value(json_object_get(corr, "source")),
                     "daily log returns"),
              "%s", json_string_value(json_object_get(corr, "source")));
    json_decref(j);
    free(out);
}
