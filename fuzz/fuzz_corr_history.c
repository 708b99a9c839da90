/* libFuzzer harness: correlation-matrix files and price-history CSVs
 * (src/stress).  The first byte picks the parser: 0 correlation CSV,
 * 1 correlation JSON, 2/3 history CSV.  Invariants: errors are located; a
 * loaded matrix is symmetric with a unit diagonal and entries in [-1, 1];
 * a loaded history has positive finite closes (or NaN for missing) and its
 * estimated correlations lie in [-1, 1]. */
#include "fuzz_common.h"

#include <stdint.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_corr(const xcr_corr *c)
{
    size_t n = xcr_corr_size(c);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = xcr_corr_get(c, i, j);
            FUZZ_CHECK(isfinite(v) && v >= -1 && v <= 1, "entry %g", v);
            FUZZ_CHECK(v == xcr_corr_get(c, j, i), "not symmetric");
            if (i == j)
                FUZZ_CHECK(v == 1, "diagonal %g", v);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char base[64];
    if (!base[0])
        snprintf(base, sizeof base, "/tmp/xcrfuzz-%ld", (long)getpid());
    if (size == 0)
        return 0;
    int kind = data[0] & 3;
    char path[96];
    snprintf(path, sizeof path, "%s%s", base, kind == 1 ? ".json" : ".csv");
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    xcr_error err = {0};
    xcr_status s;
    if (kind <= 1) {
        xcr_corr *c = NULL;
        s = xcr_corr_load(path, &c, &err);
        if (s == XCR_OK)
            check_corr(c);
        else
            fuzz_check_error(s, &err);
        xcr_corr_free(c);
    } else {
        xcr_history *h = NULL;
        s = xcr_history_load(path, NULL, 0, &h, &err);
        if (s == XCR_OK) {
            for (size_t t = 0; t < xcr_history_days(h); t++)
                for (size_t k = 0; k < xcr_history_assets(h); k++) {
                    double px = xcr_history_close(h, t, k);
                    FUZZ_CHECK(isnan(px) || (isfinite(px) && px > 0),
                               "close %g", px);
                }
            xcr_corr *c = NULL;
            if (xcr_history_corr(h, 0, &c, &err) == XCR_OK)
                check_corr(c);
            xcr_corr_free(c);
        } else {
            fuzz_check_error(s, &err);
        }
        xcr_history_free(h);
    }
    unlink(path);
    return 0;
}
