/* The CLI end to end: commands, output shapes, round trips through the three
 * book forms, and the bad-input contract (exit 2, located one-line message,
 * no partial output). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

Test(cli, version_and_help)
{
    char *out = NULL;
    cr_assert_eq(run("--version", &out, NULL), 0);
    cr_assert(strstr(out, "xcr "), "%s", out);
    free(out);
    cr_assert_eq(run("--help", &out, NULL), 0);
    cr_assert(strstr(out, "margin") && strstr(out, "explain") &&
              strstr(out, "convert") && strstr(out, "demo"));
    free(out);
    const char *cmds[] = {"margin", "explain", "demo", "convert"};
    for (int i = 0; i < 4; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        cr_assert_eq(run(a, &out, NULL), 0, "%s", a);
        cr_assert(strstr(out, "usage: xcr"), "%s", out);
        free(out);
    }
    char *err = NULL;
    cr_assert_eq(run("frobnicate", NULL, &err), 2);
    cr_assert(strstr(err, "unknown command"));
    free(err);
    cr_assert_eq(run("margin --format xml", NULL, NULL), 2);
}

/* `xcr margin` on the built-in demo book, as JSON, follows spec §2. */
Test(cli, margin_demo_json_shape)
{
    char *out = NULL;
    cr_assert_eq(run("margin --format json", &out, NULL), 0);
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    cr_assert(root, "not JSON: %s", je.text);
    json_t *accts = json_object_get(root, "accounts");
    cr_assert_eq(json_array_size(accts), 1000);
    json_t *sum = json_object_get(root, "summary");
    cr_assert_eq(json_integer_value(json_object_get(sum, "accounts")), 1000);
    long total = 0;
    const char *st[] = {"healthy", "margin_call", "liquidatable", "bankrupt"};
    for (int i = 0; i < 4; i++)
        total += (long)json_integer_value(json_object_get(sum, st[i]));
    cr_assert_eq(total, 1000);
    const char *keys[] = {"id", "mode", "equity", "collateral",
                          "initial_margin", "maintenance_margin", "health",
                          "health_factor", "status", "liquidation_prices",
                          "liquidation_shock", "positions"};
    json_t *a0 = json_array_get(accts, 0);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_assert(json_object_get(a0, keys[k]), "missing %s", keys[k]);
    cr_assert(json_is_string(json_object_get(root, "as_of")));
    json_decref(root);
    free(out);

    cr_assert_eq(run("margin", &out, NULL), 0);
    cr_assert(strstr(out, "1000 accounts:"), "%s", out);
    free(out);
    cr_assert_eq(run("margin --format csv --no-liquidation", &out, NULL), 0);
    cr_assert(strncmp(out, "id,mode,status,", 15) == 0);
    free(out);
}

/* demo → JSON → SQLite → CSV → JSON: the margin report is identical from
 * every form, and the final JSON equals the first. */
Test(cli, convert_round_trip)
{
    char *dir = xt_temp_dir();
    char a[4096];
    snprintf(a, sizeof a, "demo --accounts 200 --seed 5 -o %s/b.json", dir);
    cr_assert_eq(run(a, NULL, NULL), 0);
    snprintf(a, sizeof a, "convert %s/b.json %s/b.db", dir, dir);
    cr_assert_eq(run(a, NULL, NULL), 0);
    snprintf(a, sizeof a, "convert %s/b.db %s/csv", dir, dir);
    cr_assert_eq(run(a, NULL, NULL), 0);
    snprintf(a, sizeof a, "convert %s/csv %s/c.json", dir, dir);
    cr_assert_eq(run(a, NULL, NULL), 0);
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/b.json", dir);
    snprintf(p2, sizeof p2, "%s/c.json", dir);
    char *j1 = xt_read_file(p1), *j2 = xt_read_file(p2);
    cr_assert(j1 && j2);
    cr_assert_str_eq(j1, j2);
    free(j1);
    free(j2);
    const char *forms[] = {"b.json", "b.db", "csv"};
    char *first = NULL;
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        snprintf(a, sizeof a, "margin %s/%s --format json", dir, forms[i]);
        cr_assert_eq(run(a, &out, NULL), 0, "%s", a);
        if (!first)
            first = out;
        else {
            cr_assert_str_eq(out, first, "report differs for %s", forms[i]);
            free(out);
        }
    }
    free(first);
    /* one account, and explain */
    char *out = NULL;
    snprintf(a, sizeof a, "margin %s/b.db --account acct-000003 --format json",
             dir);
    cr_assert_eq(run(a, &out, NULL), 0);
    cr_assert(strstr(out, "\"accounts\": 1,"), "%s", out);
    free(out);
    snprintf(a, sizeof a, "explain %s/b.json acct-000003", dir);
    cr_assert_eq(run(a, &out, NULL), 0);
    cr_assert(strstr(out, "Liquidation prices") && strstr(out, "Status:"),
              "%s", out);
    free(out);
    snprintf(a, sizeof a, "explain %s/b.json nobody", dir);
    char *err = NULL;
    cr_assert_eq(run(a, NULL, &err), 2);
    cr_assert(strstr(err, "unknown account"), "%s", err);
    free(err);
    xt_rm_rf(dir);
    free(dir);
}

/* MARK: bad input -------------------------------------------------------------- */

#define HEAD "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
static const struct bad_case {
    const char *name;
    const char *json;
    const char *where; /* must appear in the message */
} bad_cases[] = {
    {"malformed", "{\"assets\": [", "line 1"},
    {"nan", HEAD "{\"symbol\":\"BTC\",\"price\":NaN}],\"accounts\":[]}",
     "line 1, column"},
    {"infinite", HEAD "{\"symbol\":\"BTC\",\"price\":1e999}],\"accounts\":[]}",
     "line 1"},
    {"negative_price",
     HEAD "{\"symbol\":\"BTC\",\"price\":-5}],\"accounts\":[]}",
     "$.assets[1].price"},
    {"zero_price", HEAD "{\"symbol\":\"BTC\",\"price\":0}],\"accounts\":[]}",
     "$.assets[1].price"},
    {"string_price",
     HEAD "{\"symbol\":\"BTC\",\"price\":\"65000\"}],\"accounts\":[]}",
     "$.assets[1].price"},
    {"negative_vol",
     HEAD "{\"symbol\":\"BTC\",\"price\":5,\"vol\":-1}],\"accounts\":[]}",
     "$.assets[1].vol"},
    {"weight_above_one",
     HEAD "{\"symbol\":\"BTC\",\"price\":5,\"collateral_tiers\":[[null,1.5]]}"
          "],\"accounts\":[]}",
     "$.assets[1].collateral_tiers[0]"},
    {"unsorted_tiers",
     HEAD "{\"symbol\":\"BTC\",\"price\":5,\"collateral_tiers\":[[10,1],[5,"
          "0.5]]}],\"accounts\":[]}",
     "$.assets[1].collateral_tiers[1]"},
    {"duplicate_asset", HEAD "{\"symbol\":\"USDT\",\"price\":1}],"
                             "\"accounts\":[]}",
     "$.assets[1].symbol"},
    {"bad_identifier", HEAD "{\"symbol\":\"BT C\",\"price\":1}],"
                            "\"accounts\":[]}",
     "$.assets[1].symbol"},
    {"unknown_underlying",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"instruments\":[{\"id\":\"P\","
          "\"type\":\"perp\",\"underlying\":\"ETH\"}],\"accounts\":[]}",
     "$.instruments[0].underlying"},
    {"unknown_balance_asset",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"accounts\":[{\"id\":\"a\","
          "\"mode\":\"cross\",\"balances\":{\"XYZ\":1}}]}",
     "$.accounts[0].balances.XYZ"},
    {"unknown_instrument",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"accounts\":[{\"id\":\"a\","
          "\"mode\":\"cross\",\"positions\":[{\"instrument\":\"NOPE\","
          "\"size\":1}]}]}",
     "$.accounts[0].positions[0].instrument"},
    {"duplicate_account",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"accounts\":[{\"id\":\"a\","
          "\"mode\":\"cross\"},{\"id\":\"a\",\"mode\":\"lending\"}]}",
     "$.accounts[1].id"},
    {"bad_mode",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"accounts\":[{\"id\":\"a\","
          "\"mode\":\"margin\"}]}",
     "$.accounts[0].mode"},
    {"size_not_number",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"instruments\":[{\"id\":\"P\","
          "\"type\":\"perp\",\"underlying\":\"BTC\"}],\"accounts\":[{\"id\":"
          "\"a\",\"mode\":\"cross\",\"positions\":[{\"instrument\":\"P\","
          "\"size\":true}]}]}",
     "$.accounts[0].positions[0].size"},
    {"unknown_emode",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"accounts\":[{\"id\":\"a\","
          "\"mode\":\"lending\",\"emode\":3}]}",
     "emode 3"},
    {"option_without_expiry",
     HEAD "{\"symbol\":\"BTC\",\"price\":5}],\"instruments\":[{\"id\":\"C\","
          "\"type\":\"option\",\"underlying\":\"BTC\",\"strike\":5,"
          "\"option_type\":\"call\",\"iv\":0.5}],\"accounts\":[]}",
     "$.instruments[0].expiry"},
    {"missing_accounts", HEAD "{\"symbol\":\"BTC\",\"price\":5}]}",
     "$.accounts"},
    {"duplicate_key", "{\"assets\":[{\"symbol\":\"USDT\",\"price\":1,"
                      "\"price\":2}],\"accounts\":[]}",
     "duplicate"},
    {"not_object", "[1,2,3]", "$"},
};

Test(bad_input, json_matrix)
{
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        const struct bad_case *c = &bad_cases[k];
        char *path = xt_write_temp(".json", c->json);
        char args[9000];
        snprintf(args, sizeof args, "margin '%s' --format json", path);
        char *out = NULL, *err = NULL;
        int st = run(args, &out, &err);
        cr_assert_eq(st, 2, "%s: exit %d, stderr %s", c->name, st, err);
        cr_assert(out && out[0] == '\0', "%s: partial output %s", c->name,
                  out);
        cr_assert(strstr(err, path), "%s: message lacks the file: %s",
                  c->name, err);
        cr_assert(strstr(err, c->where), "%s: message lacks '%s': %s",
                  c->name, c->where, err);
        /* one line */
        cr_assert(strchr(err, '\n') == err + strlen(err) - 1,
                  "%s: not one line: %s", c->name, err);
        free(out);
        free(err);
        /* convert writes nothing */
        char dst[4400];
        snprintf(dst, sizeof dst, "%s.out.json", path);
        snprintf(args, sizeof args, "convert '%s' '%s'", path, dst);
        cr_assert_eq(run(args, NULL, NULL), 2, "%s (convert)", c->name);
        struct stat sb;
        cr_assert(stat(dst, &sb) != 0, "%s: convert left %s", c->name, dst);
        unlink(path);
        free(path);
    }
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

Test(bad_input, csv_and_sqlite)
{
    static const struct {
        const char *name, *assets, *where;
    } cases[] = {
        {"unterminated_quote", "symbol,price\n\"USDT,1\n", "assets.csv"},
        {"negative_price", "symbol,price,stable\nUSDT,1,true\nBTC,-3,false\n",
         "line 3, column 2 (price)"},
        {"not_a_number", "symbol,price\nUSDT,abc\n", "line 2, column 2"},
        {"nan", "symbol,price\nUSDT,nan\n", "line 2, column 2"},
        {"missing_column", "symbol\nUSDT\n", "price"},
        {"duplicate", "symbol,price\nUSDT,1\nUSDT,1\n", "line 3"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *dir = xt_temp_dir();
        write_file(dir, "assets.csv", cases[k].assets);
        write_file(dir, "accounts.csv", "id,mode\na,cross\n");
        char args[4400];
        snprintf(args, sizeof args, "margin '%s'", dir);
        char *out = NULL, *err = NULL;
        int st = run(args, &out, &err);
        cr_assert_eq(st, 2, "%s: exit %d: %s", cases[k].name, st, err);
        cr_assert(strstr(err, "assets.csv"), "%s: %s", cases[k].name, err);
        cr_assert(strstr(err, cases[k].where), "%s: lacks '%s': %s",
                  cases[k].name, cases[k].where, err);
        cr_assert(out && !out[0], "%s: partial output", cases[k].name);
        free(out);
        free(err);
        xt_rm_rf(dir);
        free(dir);
    }
    /* a balance naming an unknown account */
    char *dir = xt_temp_dir();
    write_file(dir, "assets.csv", "symbol,price,stable\nUSDT,1,true\n");
    write_file(dir, "accounts.csv", "id,mode\na,cross\n");
    write_file(dir, "balances.csv", "account,symbol,amount\nb,USDT,5\n");
    char args[4400], *err = NULL;
    snprintf(args, sizeof args, "margin '%s'", dir);
    cr_assert_eq(run(args, NULL, &err), 2);
    cr_assert(strstr(err, "balances.csv") && strstr(err, "line 2"), "%s",
              err);
    free(err);
    xt_rm_rf(dir);
    free(dir);

    /* a corrupt SQLite file and a missing file */
    char *db = xt_write_temp(".db", "SQLite format 3\0garbage garbage");
    snprintf(args, sizeof args, "margin '%s'", db);
    err = NULL;
    cr_assert_eq(run(args, NULL, &err), 2);
    cr_assert(strstr(err, db), "%s", err);
    free(err);
    unlink(db);
    free(db);
    err = NULL;
    cr_assert_eq(run("margin /nonexistent/book.json", NULL, &err), 2);
    cr_assert(strstr(err, "/nonexistent/book.json"), "%s", err);
    free(err);
}
