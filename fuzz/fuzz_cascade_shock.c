/* libFuzzer harness: the cascade's inputs (src/cascade/state.c) — the
 * `--shock SYM=MOVE,...` parser (xcr_cascade_parse_shock) and the book's
 * settings.liquidation object (xcr_cascade_opts_init, spec §1.3).
 *
 * Input: the shock text, a newline, then the settings.liquidation JSON
 * value, spliced into a tiny book (USDT, BTC and ETH with liquidity
 * models, a BTC perp, cross, isolated and lending accounts).
 * Invariants: every error has a message; a parsed shock has a finite move
 * > −1 for each asset, and only assets named in the text move; a cascade
 * that runs on parsed settings (rounds capped) ends with finite positive
 * prices and conserves money (reference cascades-and-contagion.md §6.5:
 * the largest per-round relative error ≤ 1e-9). */
#include "fuzz_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char BOOK_HEAD[] =
    "{\"assets\":["
    "{\"symbol\":\"USDT\",\"price\":1,\"stable\":true},"
    "{\"symbol\":\"BTC\",\"price\":60000,\"collateral_tiers\":[[null,0.95]],"
    "\"liquidity\":{\"model\":\"linear\",\"depth_usd\":2e6}},"
    "{\"symbol\":\"ETH\",\"price\":3000,\"liability_weight\":1.1,"
    "\"lending\":{\"ltv\":0.8,\"liquidation_threshold\":0.85,"
    "\"liquidation_bonus\":0.05},"
    "\"liquidity\":{\"model\":\"sqrt\",\"daily_volume_usd\":1e7,"
    "\"daily_vol\":0.04,\"coef\":1}}],"
    "\"instruments\":[{\"id\":\"BTC-P\",\"type\":\"perp\",\"underlying\":"
    "\"BTC\",\"settle\":\"USDT\",\"contract_size\":1,\"mark_price\":60000,"
    "\"margin_tiers\":[{\"notional_max\":null,\"imr\":0.02,\"mmr\":0.01}]}],"
    "\"accounts\":["
    "{\"id\":\"a\",\"mode\":\"cross\",\"balances\":{\"USDT\":4000,\"BTC\":0.1},"
    "\"positions\":[{\"instrument\":\"BTC-P\",\"size\":1,"
    "\"entry_price\":60000}]},"
    "{\"id\":\"b\",\"mode\":\"cross\",\"balances\":{\"USDT\":90000},"
    "\"positions\":[{\"instrument\":\"BTC-P\",\"size\":-1,"
    "\"entry_price\":60000}]},"
    "{\"id\":\"c\",\"mode\":\"isolated\",\"balances\":{\"USDT\":100},"
    "\"positions\":[{\"instrument\":\"BTC-P\",\"size\":0.5,"
    "\"entry_price\":60000,\"isolated_margin\":2000}]},"
    "{\"id\":\"d\",\"mode\":\"lending\",\"balances\":{\"ETH\":10,"
    "\"USDT\":-24000}}],"
    "\"settings\":{\"liquidation\":";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    const char *nl = memchr(data, '\n', size);
    size_t ns = nl ? (size_t)(nl - (const char *)data) : size;
    const char *set = nl ? nl + 1 : "{}";
    size_t nset = nl ? size - ns - 1 : 2;
    char *shock = malloc(ns + 1);
    char *json = malloc(sizeof BOOK_HEAD + nset + 4);
    if (!shock || !json)
        abort();
    memcpy(shock, data, ns);
    shock[ns] = '\0';
    memcpy(json, BOOK_HEAD, sizeof BOOK_HEAD - 1);
    memcpy(json + sizeof BOOK_HEAD - 1, set, nset);
    memcpy(json + sizeof BOOK_HEAD - 1 + nset, "}}", 3);
    size_t len = sizeof BOOK_HEAD - 1 + nset + 2;

    xcr_book *b = NULL;
    xcr_cascade *c = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_book_load_json_text(json, len, "fuzz.json", NULL, &b,
                                           &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        goto out;
    }
    size_t na = xcr_book_asset_count(b);
    double moves[8];
    FUZZ_CHECK(na <= 8, "asset count");
    /* the shock parser: a located error, or a finite move > −1 per asset
     * and no move for an asset the text does not name */
    memset(&err, 0, sizeof err);
    s = xcr_cascade_parse_shock(b, shock, moves, &err);
    bool shocked = s == XCR_OK;
    if (s != XCR_OK)
        fuzz_check_error(s, &err);
    else
        for (size_t a = 0; a < na; a++) {
            FUZZ_CHECK(isfinite(moves[a]) && moves[a] > -1,
                       "asset %zu: move %g", a, moves[a]);
            FUZZ_CHECK(moves[a] == 0 ||
                           strstr(shock, xcr_book_asset_symbol(b, a)),
                       "asset %zu moved without being named", a);
        }
    /* settings.liquidation */
    xcr_cascade_opts o;
    memset(&err, 0, sizeof err);
    s = xcr_cascade_opts_init(b, &o, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        goto out;
    }
    if (o.max_rounds > 20)
        o.max_rounds = 20; /* keep each input fast */
    o.threads = 1;
    s = xcr_cascade_new(b, &o, &c, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        goto out;
    }
    if (!shocked)
        for (size_t a = 0; a < na; a++)
            moves[a] = a == 1 ? -0.3 : 0;
    s = xcr_cascade_shock(c, moves, NULL, &err);
    FUZZ_CHECK(s == XCR_OK, "a parsed shock was refused: %s", err.msg);
    s = xcr_cascade_run(c, &err);
    FUZZ_CHECK(s == XCR_OK, "run failed: %s", err.msg);
    xcr_cascade_summary sum;
    FUZZ_CHECK(xcr_cascade_summary_get(c, &sum) == XCR_OK, "summary");
    FUZZ_CHECK(sum.max_conservation_error <= 1e-9,
               "conservation error %g", sum.max_conservation_error);
    for (size_t a = 0; a < na; a++) {
        double p = xcr_cascade_price(c, a);
        FUZZ_CHECK(isfinite(p) && p > 0, "asset %zu: price %g", a, p);
    }
out:
    xcr_cascade_free(c);
    xcr_book_free(b);
    free(json);
    free(shock);
    return 0;
}
