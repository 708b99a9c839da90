/* libFuzzer harness: user scenario files (JSON and CSV, src/stress).  The
 * first byte picks the form (odd: CSV).  Invariants: an error has a located
 * message; a loaded scenario moves every price by a finite factor > 0, with
 * finite vol shifts and liquidity multipliers. */
#include "fuzz_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xcr_book *book;
    if (!book) {
        xcr_demo_opts o = {20, 1, 2.0};
        if (xcr_demo_book(&o, NULL, &book, NULL) != XCR_OK)
            abort();
    }
    if (size == 0)
        return 0;
    const char *name = (data[0] & 1) ? "fuzz.csv" : "fuzz.json";
    xcr_scenarios *s = NULL;
    if (xcr_scenarios_new(book, &s) != XCR_OK)
        abort();
    xcr_error err = {0};
    xcr_status st = xcr_scenarios_load_text(s, (const char *)data + 1,
                                            size - 1, name, NULL, &err);
    if (st != XCR_OK) {
        fuzz_check_error(st, &err);
        FUZZ_CHECK(xcr_scenarios_count(s) == 0,
                   "a file with an error added scenarios");
    } else {
        size_t na = xcr_book_asset_count(book);
        for (size_t i = 0; i < xcr_scenarios_count(s); i++)
            for (size_t a = 0; a < na; a++) {
                double mv = xcr_scenarios_move(s, i, a);
                FUZZ_CHECK(isfinite(mv) && mv > -1,
                           "scenario %zu asset %zu: move %g", i, a, mv);
                FUZZ_CHECK(isfinite(xcr_scenarios_vol_shift(s, i, a)),
                           "non-finite vol shift");
                double lq = xcr_scenarios_liquidity(s, i, a);
                FUZZ_CHECK(isfinite(lq) && lq >= 0, "liquidity %g", lq);
            }
    }
    xcr_scenarios_free(s);
    return 0;
}
