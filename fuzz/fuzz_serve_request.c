/* libFuzzer harness: the request-body parsers of `xcr serve` (src/monitor/):
 * the first byte picks the parser, the rest is the body or query string.
 *   0: account upsert (POST/PUT /v1/accounts) — one that parses and is
 *      accepted evaluates to finite numbers; one that is rejected changes
 *      nothing;
 *   1: GET /v1/accounts query string — a query that parses has a limit in
 *      1..10000 and a known status/sort, and its view is valid;
 *   2: tick batch — see fuzz_ticks.c;
 *   3: alerts cursor (since/limit). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xcr_monitor *mon;

static char *state_text(void)
{
    char *s = NULL;
    FUZZ_CHECK(xcr_monitor_summary_json(mon, &s, NULL) == XCR_OK, "summary");
    return s;
}

static void fuzz_upsert(const xcr_book *b, const char *text, size_t len)
{
    xcr_account_upsert *u = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_account_upsert_parse(b, text, len, NULL, &u, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        return;
    }
    char *before = state_text();
    xcr_update_result r;
    s = xcr_monitor_upsert(mon, u, 1.7e9, &r, &err);
    char *after = state_text();
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        FUZZ_CHECK(strcmp(before, after) == 0,
                   "a rejected upsert changed the state");
    } else {
        xcr_account_result res;
        FUZZ_CHECK(xcr_monitor_account_result(mon, xcr_account_upsert_id(u),
                                              &res) == XCR_OK,
                   "upserted account missing");
        FUZZ_CHECK(isfinite(res.equity) && isfinite(res.collateral) &&
                       isfinite(res.maintenance_margin) &&
                       !isnan(res.initial_margin) && !isnan(res.health),
                   "non-finite result of an accepted upsert");
        char *j = NULL;
        FUZZ_CHECK(xcr_monitor_account_json(mon, xcr_account_upsert_id(u), &j,
                                            &err) == XCR_OK,
                   "account view: %s", err.msg);
        free(j);
        /* keep the fuzzed state small: delete it again */
        FUZZ_CHECK(xcr_monitor_delete(mon, xcr_account_upsert_id(u), 1.7e9,
                                      &r, &err) == XCR_OK,
                   "delete: %s", err.msg);
    }
    free(before);
    free(after);
    xcr_account_upsert_free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mon) {
        xcr_demo_opts d = {40, 7, 3};
        xcr_book *b = NULL;
        xcr_monitor_opts o;
        xcr_monitor_opts_init(&o);
        o.threads = 1;
        o.overlay_max = 4;
        FUZZ_CHECK(xcr_demo_book(&d, NULL, &b, NULL) == XCR_OK, "demo");
        FUZZ_CHECK(xcr_monitor_new(b, &o, &mon, NULL) == XCR_OK, "monitor");
    }
    if (size < 1 || size > 65536)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t len = size - 1;
    const xcr_book *snap = xcr_monitor_book(mon);
    xcr_error err = {0};
    switch (data[0] % 4) {
    case 0:
        fuzz_upsert(snap, text, len);
        break;
    case 1: {
        xcr_account_query q;
        xcr_status s = xcr_account_query_parse(text, &q, &err);
        if (s != XCR_OK) {
            fuzz_check_error(s, &err);
            break;
        }
        FUZZ_CHECK(q.limit >= 1 && q.limit <= 10000, "limit %zu", q.limit);
        FUZZ_CHECK(q.status >= -1 && q.status < 4 && q.sort >= 0 && q.sort < 3,
                   "status/sort");
        char *j = NULL;
        FUZZ_CHECK(xcr_monitor_accounts_json(mon, &q, &j, &err) == XCR_OK,
                   "accounts view");
        free(j);
        break;
    }
    case 2: {
        xcr_tick *t = NULL;
        size_t n = 0;
        xcr_status s = xcr_ticks_parse(snap, text, len, &t, &n, &err);
        if (s != XCR_OK)
            fuzz_check_error(s, &err);
        for (size_t k = 0; k < n; k++)
            FUZZ_CHECK(t[k].asset < xcr_book_asset_count(snap) &&
                           isfinite(t[k].price) && t[k].price > 0,
                       "tick %zu", k);
        free(t);
        break;
    }
    default: {
        uint64_t since = 0;
        int r = xcr_query_u64(text, "since", &since);
        FUZZ_CHECK(r >= -1 && r <= 1, "query_u64");
        char *j = NULL;
        FUZZ_CHECK(xcr_monitor_alerts_json(mon, since, 100, &j, &err) ==
                       XCR_OK,
                   "alerts view");
        free(j);
        break;
    }
    }
    free(text);
    return 0;
}
