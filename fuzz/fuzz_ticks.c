/* libFuzzer harness: the live monitor's tick parser (`POST /v1/prices`,
 * `xcr serve --ticks -`).  Invariants: a batch that parses holds only
 * finite positive prices of known symbols (and finite vols >= 0); applying
 * it either succeeds or fails without changing the state; a batch that
 * does not parse has a located error message. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xcr_monitor *mon;

static char *state_text(void)
{
    char *s = NULL;
    xcr_error err = {0};
    FUZZ_CHECK(xcr_monitor_summary_json(mon, &s, &err) == XCR_OK,
               "summary: %s", err.msg);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mon) {
        xcr_demo_opts d = {40, 7, 3};
        xcr_book *b = NULL;
        xcr_monitor_opts o;
        xcr_monitor_opts_init(&o);
        o.threads = 1;
        FUZZ_CHECK(xcr_demo_book(&d, NULL, &b, NULL) == XCR_OK, "demo");
        FUZZ_CHECK(xcr_monitor_new(b, &o, &mon, NULL) == XCR_OK, "monitor");
    }
    const xcr_book *book = xcr_monitor_book(mon);
    xcr_tick *t = NULL;
    size_t n = 0;
    xcr_error err = {0};
    xcr_status s = xcr_ticks_parse(book, (const char *)data, size, &t, &n,
                                   &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        FUZZ_CHECK(t == NULL && n == 0, "outputs on failure");
    } else {
        FUZZ_CHECK(n > 0, "empty batch accepted");
        for (size_t k = 0; k < n; k++) {
            FUZZ_CHECK(t[k].asset < xcr_book_asset_count(book), "asset");
            FUZZ_CHECK(isfinite(t[k].price) && t[k].price > 0, "price %g",
                       t[k].price);
            FUZZ_CHECK(isnan(t[k].vol) || (isfinite(t[k].vol) && t[k].vol >= 0),
                       "vol %g", t[k].vol);
        }
        char *before = state_text();
        xcr_update_result r;
        s = xcr_monitor_apply_ticks(mon, t, n, 1.7e9, &r, &err);
        char *after = state_text();
        if (s != XCR_OK) {
            fuzz_check_error(s, &err);
            FUZZ_CHECK(strcmp(before, after) == 0,
                       "a rejected batch changed the state");
        }
        free(before);
        free(after);
    }
    free(t);
    return 0;
}
