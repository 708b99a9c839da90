/* libFuzzer harness: a SQLite book file (corrupt files, wrong schemas, wrong
 * cell types).  A book that loads must evaluate and round-trip. */
#include "fuzz_common.h"

#include <stdint.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/xcrfuzz-%ld.db", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_book_load(path, XCR_FORMAT_SQLITE, NULL, &b, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        return 0;
    }
    fuzz_check_margin(b);
    fuzz_check_json_round_trip(b);
    xcr_book_free(b);
    return 0;
}
