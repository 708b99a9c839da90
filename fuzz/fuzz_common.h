/* Shared invariant checks for the libFuzzer harnesses.
 *
 * A harness does not just look for crashes: a book that loads must evaluate
 * to finite numbers or to a located ERANGE error, and must survive a round
 * trip through the writer unchanged. */
#ifndef XCR_FUZZ_COMMON_H
#define XCR_FUZZ_COMMON_H

#include "io/io.h"
#include "xcr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Abort (a finding) with a message. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "invariant failed: " __VA_ARGS__);                 \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Every error message names a place: it is never empty. */
static inline void fuzz_check_error(xcr_status s, const xcr_error *err)
{
    FUZZ_CHECK(s != XCR_OK, "status");
    FUZZ_CHECK(err->msg[0] != '\0', "empty error message for %s",
               xcr_status_name(s));
}

/* Evaluate every account; results are finite or the error is ERANGE. */
static inline void fuzz_check_margin(const xcr_book *b)
{
    xcr_market *m = NULL;
    if (xcr_market_new(b, &m) != XCR_OK)
        return;
    size_t n = xcr_book_account_count(b);
    xcr_account_result *r = calloc(n ? n : 1, sizeof *r);
    xcr_error err = {0};
    xcr_status s = r ? xcr_margin_all(m, 1, r, &err) : XCR_ENOMEM;
    if (s == XCR_OK) {
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(isfinite(r[i].equity) && isfinite(r[i].collateral) &&
                           isfinite(r[i].maintenance_margin) &&
                           !isnan(r[i].initial_margin) &&
                           !isnan(r[i].health),
                       "non-finite margin for account %zu", i);
        }
        /* liquidation prices of the first account: never NaN in a wrong
         * place (NaN only means "none") and within the search range */
        if (n > 0) {
            size_t assets[64];
            size_t k = xcr_account_exposed_assets(b, 0, assets, 64);
            for (size_t j = 0; j < k && j < 64; j++) {
                xcr_liq_price lp;
                if (xcr_liquidation_price(m, 0, assets[j], &lp, &err) !=
                    XCR_OK)
                    continue;
                double px = xcr_market_price(m, assets[j]);
                FUZZ_CHECK(isnan(lp.down) || (lp.down > 0 && lp.down <= px),
                           "liquidation price below out of range");
                FUZZ_CHECK(isnan(lp.up) || (lp.up >= px && lp.up <= 10 * px),
                           "liquidation price above out of range");
            }
        }
    } else {
        fuzz_check_error(s, &err);
        FUZZ_CHECK(s == XCR_ERANGE || s == XCR_ENOMEM, "margin failed: %s",
                   err.msg);
    }
    free(r);
    xcr_market_free(m);
}

/* JSON round trip: written text reloads into an equal book. */
static inline void fuzz_check_json_round_trip(const xcr_book *b)
{
    char *text = NULL;
    xcr_error err = {0};
    if (xcr_book_to_json_text(b, &text, &err) != XCR_OK)
        return;
    xcr_book *b2 = NULL;
    xcr_status s = xcr_book_load_json_text(text, strlen(text), "rt.json",
                                           NULL, &b2, &err);
    FUZZ_CHECK(s == XCR_OK, "written JSON does not reload: %s", err.msg);
    char why[256];
    FUZZ_CHECK(xcr__book_equal(b, b2, why, sizeof why),
               "JSON round trip differs: %s", why);
    xcr_book_free(b2);
    free(text);
}

#endif
