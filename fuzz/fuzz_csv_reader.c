/* libFuzzer harness: the RFC 4180 reader on arbitrary bytes.  Invariant:
 * every record it returns has exactly the header's number of fields. */
#include "fuzz_common.h"
#include "io/csv.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xcr__csv_reader r;
    memset(&r, 0, sizeof r);
    xcr_error err = {0};
    xcr_status s = xcr__csv_open_mem(&r, data, size, "fuzz.csv",
                                     &xcr__libc_alloc, &err);
    if (s == XCR_OK) {
        bool got = true;
        while (got) {
            s = xcr__csv_next(&r, &got, &err);
            if (s != XCR_OK) {
                fuzz_check_error(s, &err);
                break;
            }
            if (got)
                for (size_t i = 0; i < r.ncols; i++)
                    FUZZ_CHECK(r.fields[i] != NULL, "missing field %zu", i);
        }
    } else {
        fuzz_check_error(s, &err);
    }
    xcr__csv_close(&r);
    return 0;
}
