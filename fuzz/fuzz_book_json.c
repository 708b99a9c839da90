/* libFuzzer harness: book JSON (jansson + the builder's validation). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_book_load_json_text((const char *)data, size,
                                           "fuzz.json", NULL, &b, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        return 0;
    }
    fuzz_check_margin(b);
    fuzz_check_json_round_trip(b);
    xcr_book_free(b);
    return 0;
}
