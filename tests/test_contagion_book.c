/* Contagion coupled to a book (src/contagion/run.c, venue_failure.c):
 * holdings revalued at book prices, fire sales through the book's liquidity
 * models, re-pledged collateral, accounts at failed venues, the firewall
 * what-if, and the `xcr contagion` command end to end.  The FTX-style
 * example (tests/data/contagion/ftx*.json) is worked by hand in
 * docs/contagion.md. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "xcr.h"

#define DATA XCR_TEST_DATA "/contagion/"

#define NEAR(a, b, tol, ...)                                                   \
    cr_expect(fabs((double)(a) - (double)(b)) <=                           \
                  (tol) * (1 + fabs((double)(b))),                          \
              __VA_ARGS__)

typedef struct fixture {
    xcr_network *net;
    xcr_book *book;
    double *prices, *final, *sold, *rv, *rl;
    xcr_entity_result r[8];
    xcr_contagion_summary s;
} fixture;

static void load_ftx(fixture *f)
{
    xcr_error err = {0};
    memset(f, 0, sizeof *f);
    cr_assert_eq(xcr_network_load(DATA "ftx.json", &f->net, &err), XCR_OK,
                 "%s", err.msg);
    cr_assert_eq(xcr_book_load(DATA "ftx-book.json", XCR_FORMAT_AUTO, NULL,
                               &f->book, &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_network_bind_book(f->net, f->book, &err), XCR_OK, "%s",
                 err.msg);
    size_t nb = xcr_book_asset_count(f->book);
    f->prices = calloc(nb, sizeof(double));
    f->final = calloc(nb, sizeof(double));
    f->sold = calloc(nb, sizeof(double));
    f->rv = calloc(4, sizeof(double));
    f->rl = calloc(4, sizeof(double));
    for (size_t a = 0; a < nb; a++)
        f->prices[a] = xcr_book_asset_price(f->book, a);
    /* ETH −50 % */
    f->prices[xcr_book_find_asset(f->book, "ETH")] *= 0.5;
}

static void free_fixture(fixture *f)
{
    xcr_network_free(f->net);
    xcr_book_free(f->book);
    free(f->prices);
    free(f->final);
    free(f->sold);
    free(f->rv);
    free(f->rl);
}

static void run_ftx(fixture *f, const xcr_contagion_opts *o)
{
    xcr_error err = {0};
    xcr_contagion_extra x = {f->final, f->sold, f->rv, f->rl};
    cr_assert_eq(xcr_contagion_run(f->net, o, f->r, &f->s, &x, &err), XCR_OK,
                 "%s", err.msg);
}

enum { EXCH, LENDER, FUND, MM };

/* FUND's ETH halves: it fails, its lender recovers 1M of 1.9M and fails,
 * and the exchange that lent client money — and re-pledged 10 BTC of client
 * collateral — to the lender fails in turn (hand-derived, EN clearing):
 * LENDER receives 500k + 500k (the BTC) + 1M = 2M on p̄ = 2.8M (1.5M and the
 * 500k BTC to EXCH, 800k outside): recovery 5/7; EXCH receives 5/7 of its
 * 2M claim, 100k + 1.428571M on p̄ = 2M: recovery 0.7642857. */
Test(contagion_book, ftx_chain_rehypothecation_and_accounts)
{
    fixture f;
    load_ftx(&f);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.start_prices = f.prices;
    run_ftx(&f, &o);
    cr_expect(f.r[FUND].defaulted && f.r[LENDER].defaulted &&
              f.r[EXCH].defaulted && !f.r[MM].defaulted);
    cr_expect_eq(f.r[FUND].round, 1);
    cr_expect_eq(f.r[LENDER].round, 2);
    cr_expect_eq(f.r[EXCH].round, 3);
    NEAR(f.r[FUND].payment, 1e6, 1e-12, "FUND pays its ETH");
    NEAR(f.r[LENDER].recovery, 2.0 / 2.8, 1e-12, "%.15g",
         f.r[LENDER].recovery);
    double rexch = (1e5 + 2e6 * 2.0 / 2.8) / 2e6;
    NEAR(f.r[EXCH].recovery, rexch, 1e-12, "%.15g", f.r[EXCH].recovery);
    /* the re-pledged BTC is lost along the chain in the lender's share */
    NEAR(f.rv[0], 500000, 1e-12, "value");
    NEAR(f.rl[0], 500000 * (1 - 2.0 / 2.8), 1e-12, "lost %.15g", f.rl[0]);
    /* EN books balance: external assets after the shock = paid to outside
     * creditors + equity kept */
    double ext = 1e5 + 5e5 + 1e6 + (1.2e6 - 1e5) + 5e5; /* + BTC at LENDER */
    double paid = 0, kept = 0;
    for (int i = 0; i < 4; i++) {
        double el = i == EXCH ? 2e6 : i == LENDER ? 8e5 : i == MM ? 1e6 : 0;
        paid += el * f.r[i].recovery;
        kept += f.r[i].equity > 0 ? f.r[i].equity : 0;
    }
    NEAR(paid + kept, ext, 1e-12, "money: %.17g vs %.17g", paid + kept, ext);

    /* accounts: alice and bob keep 76.4 % of their collateral at EXCH, carol
     * 5/7 at LENDER, dave (no entity) nothing changes */
    size_t na = xcr_book_account_count(f.book);
    xcr_venue_account *acc = calloc(na, sizeof *acc);
    xcr_error err = {0};
    cr_assert_eq(xcr_venue_failure(f.net, f.r, f.final, acc, &err), XCR_OK,
                 "%s", err.msg);
    NEAR(acc[0].collateral_lost, 50000 * (1 - rexch), 1e-12, "alice");
    NEAR(acc[0].after.equity, 50000 * rexch - 20000, 1e-12, "alice equity");
    NEAR(acc[1].collateral_lost, 3000 * (1 - rexch), 1e-12, "bob");
    cr_expect_eq(acc[1].before.status, XCR_MARGIN_CALL);
    cr_expect_eq(acc[1].after.status, XCR_LIQUIDATABLE,
                 "bob: 2,293 of collateral against 2,500 of margin");
    NEAR(acc[2].collateral_lost, 10 * 1000 * (1 - 2.0 / 2.8), 1e-12,
         "carol at the lender, ETH at the shocked price");
    cr_expect_eq(acc[3].entity, -1);
    cr_expect_eq(acc[3].collateral_lost, 0);
    cr_expect(acc[3].before.equity == acc[3].after.equity);
    cr_expect_eq(acc[3].after.status, acc[3].before.status);
    free(acc);
    free_fixture(&f);
}

/* Segmentation: with LENDER's links cut (claims on and by it kept, but
 * outside the network) the exchange is no longer exposed to the lender's
 * failure, and the lender to the fund's: only FUND defaults.  Equities
 * before any shock are the same as without the firewall. */
Test(contagion_book, firewall_saves_defaults)
{
    fixture f;
    load_ftx(&f);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.start_prices = f.prices;
    run_ftx(&f, &o);
    xcr_entity_result base[4];
    memcpy(base, f.r, sizeof base);
    size_t d0 = f.s.defaults;
    o.firewall = LENDER;
    run_ftx(&f, &o);
    for (int i = 0; i < 4; i++)
        NEAR(f.r[i].equity_before, base[i].equity_before, 1e-12,
             "entity %d equity before", i);
    cr_expect(f.r[FUND].defaulted);
    cr_expect(!f.r[LENDER].defaulted && !f.r[EXCH].defaulted);
    cr_expect_eq(d0 - f.s.defaults, 2);
    cr_expect_eq(f.rl[0], 0, "a cut re-pledge loses nothing");
    free_fixture(&f);
}

/* Fire sales (overlapping portfolios), hand-derived: S holds 100 ETH worth
 * 200k against 300k of debt and defaults; it sells all 100 ETH (200k at the
 * start price) into a linear market of depth 1M: ETH falls 20 % to 1,600.
 * H holds 50 ETH and owes nothing to anyone in the network, yet loses
 * 50 × 400 = 20,000 through the common asset.  H's leverage stays far below
 * the target, so nobody sells in round 2. */
Test(contagion_book, fire_sale_common_asset_hand_derived)
{
    const char *book_json =
        "{\"assets\": [{\"symbol\": \"USDT\", \"price\": 1, \"stable\": "
        "true}, {\"symbol\": \"ETH\", \"price\": 2000, \"liquidity\": "
        "{\"model\": \"linear\", \"depth_usd\": 1000000}}], \"accounts\": "
        "[]}";
    const char *net_json =
        "{\"entities\": [{\"id\": \"S\", \"external_assets\": 200000, "
        "\"external_liabilities\": 300000}, {\"id\": \"H\", "
        "\"external_assets\": 1000000}], \"holdings\": [{\"entity\": \"S\", "
        "\"asset\": \"ETH\", \"amount\": 100}, {\"entity\": \"H\", "
        "\"asset\": \"ETH\", \"amount\": 50}]}";
    xcr_error err = {0};
    xcr_book *book = xt_load_book(book_json);
    xcr_network *net = xt_load_network(net_json);
    cr_assert_eq(xcr_network_bind_book(net, book, &err), XCR_OK, "%s",
                 err.msg);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.leverage_target = 20;
    xcr_entity_result r[2];
    xcr_contagion_summary s;
    double final[2], sold[2];
    xcr_contagion_extra x = {final, sold, NULL, NULL};
    cr_assert_eq(xcr_contagion_run(net, &o, r, &s, &x, &err), XCR_OK, "%s",
                 err.msg);
    /* the price: the book's own linear model on the cumulative USD sold */
    NEAR(final[1], 2000 * (1 + xcr_liquidity_impact(book, 1, 200000, 1)),
         1e-15, "same impact law");
    NEAR(final[1], 1600, 1e-12, "price %.15g", final[1]);
    NEAR(sold[1], 200000, 1e-12, "sold");
    cr_expect_eq(s.fire_rounds, 1);
    cr_expect(r[0].defaulted && !r[1].defaulted);
    NEAR(r[1].loss, 20000, 1e-12, "H loss %.15g", r[1].loss);
    NEAR(r[1].equity, 1e6 - 20000, 1e-12, "H equity");
    /* S's sale repaid its outside creditors at the pre-impact price; the
     * rest of its 300k is their shortfall */
    NEAR(r[0].payment, 200000, 1e-12, "S pays %.15g", r[0].payment);
    NEAR(s.external_shortfall, 100000, 1e-12, "shortfall %.15g",
         s.external_shortfall);
    /* without fire sales H loses nothing */
    o.leverage_target = 0;
    cr_assert_eq(xcr_contagion_run(net, &o, r, &s, &x, &err), XCR_OK);
    cr_expect_eq(r[1].loss, 0);
    /* a holding worth more than the entity's external assets is refused
     * at bind time, at its place */
    const char *bad = "{\"entities\": [{\"id\": \"S\", \"external_assets\": "
                      "100}], \"holdings\": [{\"entity\": \"S\", \"asset\": "
                      "\"ETH\", \"amount\": 1}]}";
    xcr_network *n2 = NULL;
    cr_assert_eq(xcr_network_load_json_text(bad, strlen(bad), "bad.json", &n2,
                                            &err),
                 XCR_OK);
    cr_expect_eq(xcr_network_bind_book(n2, book, &err), XCR_EINVAL);
    cr_expect(strstr(err.msg, "bad.json: $.entities[0].external_assets"),
              "%s", err.msg);
    const char *unk = "{\"entities\": [{\"id\": \"S\", \"external_assets\": "
                      "100}], \"holdings\": [{\"entity\": \"S\", \"asset\": "
                      "\"DOGE\", \"amount\": 1}]}";
    xcr_network *n3 = NULL;
    cr_assert_eq(xcr_network_load_json_text(unk, strlen(unk), "unk.json", &n3,
                                            &err),
                 XCR_OK);
    cr_expect_eq(xcr_network_bind_book(n3, book, &err), XCR_EREF);
    cr_expect(strstr(err.msg, "unk.json: $.holdings[0].asset: unknown asset"),
              "%s", err.msg);
    xcr_network_free(n2);
    xcr_network_free(n3);
    xcr_network_free(net);
    xcr_book_free(book);
}

/* Fire sales on the FTX network: every surviving entity ends at or below
 * the leverage target or has nothing left to sell, prices follow the book's
 * impact law on cumulative sales, and losses only grow. */
Test(contagion_book, fire_sale_fixed_point)
{
    fixture f;
    load_ftx(&f);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.start_prices = f.prices;
    run_ftx(&f, &o);
    double loss0 = f.s.total_loss;
    o.leverage_target = 10;
    run_ftx(&f, &o);
    cr_expect(f.s.converged);
    cr_expect(f.s.total_loss >= loss0 - 1e-9, "%g < %g", f.s.total_loss,
              loss0);
    long eth = xcr_book_find_asset(f.book, "ETH");
    NEAR(f.final[eth],
         1000 * (1 + xcr_liquidity_impact(f.book, (size_t)eth,
                                          f.sold[eth], 1)),
         1e-15, "ETH price");
    /* FUND (defaulted) sold all 1,000 ETH and MM (leverage 11 after the
     * shock) sold all of its 100 ETH: 1.1M at 1,000 */
    NEAR(f.sold[eth], 1.1e6, 1e-12, "sold %.15g", f.sold[eth]);
    NEAR(f.s.fire_sold_usd, 1.1e6, 1e-12, "summary");
    free_fixture(&f);
}

/* MARK: the command ------------------------------------------------------------ */

static int cli(const char *args, char **out, char **err)
{
    size_t n = strlen(XCR_CLI_PATH) + strlen(args) + 32;
    char *cmd = malloc(n);
    snprintf(cmd, n, "'%s' contagion %s", XCR_CLI_PATH, args);
    int st = xt_run(cmd, out, err);
    free(cmd);
    return st;
}

Test(contagion_cli, json_contract_and_dot)
{
    char *dir = xt_temp_dir(), args[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args,
             "'%sen1.json' --model en --format json --dot '%s/n.dot'", DATA,
             dir);
    cr_assert_eq(cli(args, &out, &err), 0, "%s", err);
    /* spec §4: model, entities with id/payment/equity/defaulted/stress,
     * defaults, rounds */
    const char *keys[] = {"\"model\": \"en\"", "\"entities\": [",
                          "\"id\": \"1\"", "\"payment\": 24.54545454545454",
                          "\"equity\": ", "\"defaulted\": true",
                          "\"stress\": ", "\"defaults\": 2", "\"rounds\": 2"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_expect(strstr(out, keys[k]), "missing %s in %s", keys[k], out);
    char path[4200];
    snprintf(path, sizeof path, "%s/n.dot", dir);
    char *dot = xt_read_file(path);
    cr_assert(dot);
    cr_expect(strstr(dot, "digraph contagion") &&
                  strstr(dot, "\"1\" [label=\"1\\ndefaulted (round 1)\", "
                              "fillcolor=\"tomato\"]"),
              "%s", dot);
    free(dot);
    free(out);
    free(err);
    /* DebtRank adds "debtrank" */
    snprintf(args, sizeof args,
             "'%sen1.json' --model debtrank --variant differential "
             "--shock-all 0.1 --format json",
             DATA);
    cr_assert_eq(cli(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"debtrank\": ") &&
              strstr(out, "\"variant\": \"differential\""));
    free(out);
    free(err);
    /* CSV: one row per entity */
    snprintf(args, sizeof args, "'%sen1.json' --model furfine --format csv",
             DATA);
    cr_assert_eq(cli(args, &out, &err), 0, "%s", err);
    cr_expect(strncmp(out, "id,payment,equity,defaulted,stress", 34) == 0);
    free(out);
    free(err);
    xt_rm_rf(dir);
    free(dir);
}

Test(contagion_cli, ftx_book_report)
{
    char args[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args,
             "'%sftx.json' --book '%sftx-book.json' --shock ETH=-0.5 "
             "--leverage-target 10 --firewall MM --rank --format json",
             DATA, DATA);
    cr_assert_eq(cli(args, &out, &err), 0, "%s", err);
    const char *keys[] = {"\"fire_sales\": {", "\"rehypothecation\": [",
                          "\"accounts\": {", "\"newly_liquidatable\": 1",
                          "\"firewall\": {\"entity\": \"MM\"",
                          "\"systemic_importance\": [", "\"vulnerability\": [",
                          "\"default_order\": [{\"round\": 1"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_expect(strstr(out, keys[k]), "missing %s in %s", keys[k], out);
    free(out);
    free(err);
}

Test(contagion_cli, usage_and_reference_errors)
{
    struct {
        const char *args, *want;
    } cases[] = {
        {"'" DATA "en1.json' --model xx", "--model must be"},
        {"'" DATA "en1.json' --default Z", "--default: unknown entity \"Z\""},
        {"'" DATA "en1.json' --firewall Z", "--firewall: unknown entity"},
        {"'" DATA "en1.json' --alpha 2 --model rv", "--alpha needs"},
        {"'" DATA "en1.json' --leverage-target 5", "--leverage-target needs "
                                                   "--book"},
        {"'" DATA "ftx.json'", "ftx.json: re-pledged collateral"},
        {"'" DATA "ftx.json' --book '" DATA "ftx-book.json' --shock DOGE=-0.1",
         "--shock: unknown asset \"DOGE\""},
        {"'" DATA "missing.json'", "missing.json: cannot open"},
        {"", "expected one NETWORK"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *out = NULL, *err = NULL;
        int st = cli(cases[k].args, &out, &err);
        cr_expect_eq(st, 2, "%s: exit %d: %s", cases[k].args, st, err);
        cr_expect(out && out[0] == '\0', "%s: stdout not empty",
                  cases[k].args);
        cr_expect(err && strstr(err, cases[k].want), "%s: '%s' lacks '%s'",
                  cases[k].args, err, cases[k].want);
        free(out);
        free(err);
    }
}

/* Generated bad networks (too big to commit): JSON nested 100,000 levels
 * deep and 100 MB that never closes fail at a located place, exit 2. */
Test(contagion_cli, deep_and_huge, .timeout = 120)
{
    char *dir = xt_temp_dir(), path[4200], args[4400];
    snprintf(path, sizeof path, "%s/deep.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"entities\": ", f);
    for (int i = 0; i < 100000; i++)
        fputc('[', f);
    fclose(f);
    char *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "'%s'", path);
    cr_expect_eq(cli(args, &out, &err), 2);
    cr_expect(err && strstr(err, "deep.json: line 1"), "%s", err);
    cr_expect(out && !out[0]);
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/huge.json", dir);
    f = fopen(path, "w");
    fputs("{\"entities\": [", f);
    static char spaces[1 << 16];
    memset(spaces, ' ', sizeof spaces);
    for (int i = 0; i < 100 * 16; i++)
        fwrite(spaces, 1, sizeof spaces, f);
    fclose(f);
    snprintf(args, sizeof args, "'%s'", path);
    cr_expect_eq(cli(args, &out, &err), 2);
    cr_expect(err && strstr(err, "huge.json: line 1"), "%s", err);
    free(out);
    free(err);
    xt_rm_rf(dir);
    free(dir);
}

/* --cascade: the cascade's final prices start the held assets, and the bad
 * debt its liquidations leave on accounts held at an entity is charged to
 * that entity (the sum of the events' bad debt over its accounts). */
Test(contagion_book, cascade_coupling)
{
    fixture f;
    load_ftx(&f);
    xcr_error err = {0};
    xcr_cascade_opts co;
    xcr_cascade *c = NULL;
    cr_assert_eq(xcr_cascade_opts_init(f.book, &co, &err), XCR_OK, "%s",
                 err.msg);
    co.trace_accounts = 1;
    cr_assert_eq(xcr_cascade_new(f.book, &co, &c, &err), XCR_OK, "%s",
                 err.msg);
    size_t nb = xcr_book_asset_count(f.book);
    double *moves = calloc(nb, sizeof *moves);
    cr_assert_eq(xcr_cascade_parse_shock(f.book, "ETH=-0.5,BTC=-0.3", moves,
                                         &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_cascade_shock(c, moves, NULL, &err), XCR_OK);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK, "%s", err.msg);
    double loss[4];
    cr_assert_eq(xcr_contagion_cascade_inputs(f.net, c, f.prices, loss, &err),
                 XCR_OK, "%s", err.msg);
    for (size_t a = 0; a < nb; a++)
        cr_expect_eq(f.prices[a], xcr_cascade_price(c, a));
    double want = 0;
    for (size_t k = 0; k < xcr_cascade_event_count(c); k++) {
        xcr_cascade_event ev;
        cr_assert_eq(xcr_cascade_event_get(c, k, &ev), XCR_OK);
        if (ev.account <= 1) /* alice and bob are held at EXCH */
            want += ev.bad_debt;
    }
    NEAR(loss[EXCH], fmin(want, 100000), 1e-12, "EXCH %g vs %g", loss[EXCH],
         want);
    cr_expect(want > 0, "the shock should leave bad debt at EXCH");
    cr_expect_eq(loss[MM], 0);
    /* the loss comes off EXCH's external assets before contagion */
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.start_prices = f.prices;
    run_ftx(&f, &o);
    double eq0 = f.r[MM].equity, x0 = f.r[EXCH].payment;
    o.external_loss = loss;
    run_ftx(&f, &o);
    cr_expect(f.r[EXCH].payment <= x0 - loss[EXCH] + 1e-6,
              "EXCH pays %g, before %g", f.r[EXCH].payment, x0);
    cr_expect_eq(f.r[MM].equity, eq0);
    xcr_cascade_free(c);
    free(moves);
    free_fixture(&f);
}

Test(contagion_cli, cascade_option)
{
    char args[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args,
             "'%sftx.json' --book '%sftx-book.json' --shock ETH=-0.5,BTC=-0.3 "
             "--cascade --format json",
             DATA, DATA);
    cr_assert_eq(cli(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"external_loss\": {\"EXCH\": "), "%s", out);
    free(out);
    free(err);
    snprintf(args, sizeof args, "'%sftx.json' --cascade", DATA);
    cr_expect_eq(cli(args, &out, &err), 2);
    cr_expect(strstr(err, "--cascade needs --book and --shock"), "%s", err);
    free(out);
    free(err);
}

/* The one-asset leverage spiral (cascades-and-contagion.md §2.1;
 * test-vectors.md FS-SPIRAL-1): 1,000 units at 10, equity 2,000, leverage
 * target 5, linear impact k = 1e-5 per USD (depth 100,000), so
 * r = k·(λ − 1)·x·P = 0.4 and the total fall tends to d0/(1 − r) for small
 * initial moves d0.  xcr's convention (impact on cumulative sales from the
 * start price, sales at the round's price) differs from the vector's
 * per-round one only at second order, so at d0 = 1e-4 both are within 0.1 %
 * of the closed form (the vector's exact mode: ratio 0.99979). */
Test(contagion_book, leverage_spiral_small_shock_limit)
{
    const char *book_json =
        "{\"assets\": [{\"symbol\": \"USD\", \"price\": 1, \"stable\": true}, "
        "{\"symbol\": \"X\", \"price\": 10, \"liquidity\": {\"model\": "
        "\"linear\", \"depth_usd\": 100000}}], \"accounts\": []}";
    const char *net_json =
        "{\"entities\": [{\"id\": \"F\", \"external_assets\": 10000, "
        "\"external_liabilities\": 8000}], \"holdings\": [{\"entity\": "
        "\"F\", \"asset\": \"X\", \"amount\": 1000}]}";
    xcr_error err = {0};
    xcr_book *book = xt_load_book(book_json);
    xcr_network *net = xt_load_network(net_json);
    cr_assert_eq(xcr_network_bind_book(net, book, &err), XCR_OK);
    const double d0 = 1e-4;
    double start[2] = {1, 10 * (1 - d0)}, final[2], sold[2];
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.start_prices = start;
    o.leverage_target = 5;
    xcr_entity_result r[1];
    xcr_contagion_summary s;
    xcr_contagion_extra x = {final, sold, NULL, NULL};
    cr_assert_eq(xcr_contagion_run(net, &o, r, &s, &x, &err), XCR_OK, "%s",
                 err.msg);
    cr_expect(s.converged && s.fire_rounds > 10, "%zu rounds", s.fire_rounds);
    double fall = 1 - final[1] / 10, closed = d0 / (1 - 0.4);
    cr_expect(fabs(fall / closed - 1) < 1e-3, "fall %.9g vs %.9g (ratio %.6f)",
              fall, closed, fall / closed);
    /* first-round sale (λ − 1)·x·ΔP = 4 × 1000 × 0.001 = 4; total sales
     * 4/(1 − r) = 6.667 to first order */
    cr_expect(fabs(sold[1] / (4 / 0.6) - 1) < 1e-3, "sold %.9g", sold[1]);
    /* at the fixed point the entity is back at (or below) its target */
    double assets = r[0].equity + (8000 - sold[1]);
    cr_expect(assets <= 5 * r[0].equity * (1 + 1e-6), "leverage %.9g",
              assets / r[0].equity);
    xcr_network_free(net);
    xcr_book_free(book);
}
