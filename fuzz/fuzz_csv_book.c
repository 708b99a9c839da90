/* libFuzzer harness: a book as a folder of CSV tables.  The input is split
 * at lines "%%" into the tables in this order: assets, accounts, balances,
 * instruments, positions, asset_tiers, margin_tiers, liquidity, settings.
 * A book that loads must evaluate and round-trip through CSV and SQLite. */
#include "fuzz_common.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tables[] = {
    "assets",    "accounts",     "balances",  "instruments", "positions",
    "asset_tiers", "margin_tiers", "liquidity", "settings"};
#define NT (sizeof tables / sizeof tables[0])

static char dir[64], out_dir[80], out_db[80];

static void setup(void)
{
    if (dir[0])
        return;
    char tmpl[] = "/tmp/xcrfuzzXXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(dir, sizeof dir, "%s", tmpl);
    snprintf(out_dir, sizeof out_dir, "%s.out", dir);
    snprintf(out_db, sizeof out_db, "%s.db", dir);
}

static void rm_out(void)
{
    char p[160];
    for (size_t i = 0; i < NT; i++) {
        snprintf(p, sizeof p, "%s/%s.csv", out_dir, tables[i]);
        unlink(p);
    }
    rmdir(out_dir);
    unlink(out_db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const uint8_t *p = data, *end = data + size;
    for (size_t t = 0; t < NT; t++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s.csv", dir, tables[t]);
        unlink(path);
        if (p > end)
            continue;
        const uint8_t *q = p;
        while (q + 3 <= end && !(q[0] == '%' && q[1] == '%' && q[2] == '\n'))
            q++;
        if (q + 3 > end)
            q = end;
        FILE *f = fopen(path, "wb");
        if (!f)
            abort();
        fwrite(p, 1, (size_t)(q - p), f);
        fclose(f);
        p = q + 3;
    }
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_book_load(dir, XCR_FORMAT_CSV, NULL, &b, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        return 0;
    }
    fuzz_check_margin(b);
    fuzz_check_json_round_trip(b);
    /* CSV and SQLite round trips */
    rm_out();
    char why[256];
    if (xcr_book_save(b, out_dir, XCR_FORMAT_CSV, &err) == XCR_OK) {
        xcr_book *b2 = NULL;
        s = xcr_book_load(out_dir, XCR_FORMAT_CSV, NULL, &b2, &err);
        FUZZ_CHECK(s == XCR_OK, "written CSV does not reload: %s", err.msg);
        FUZZ_CHECK(xcr__book_equal(b, b2, why, sizeof why),
                   "CSV round trip differs: %s", why);
        xcr_book_free(b2);
    }
    if (xcr_book_save(b, out_db, XCR_FORMAT_SQLITE, &err) == XCR_OK) {
        xcr_book *b3 = NULL;
        s = xcr_book_load(out_db, XCR_FORMAT_SQLITE, NULL, &b3, &err);
        FUZZ_CHECK(s == XCR_OK, "written SQLite does not reload: %s",
                   err.msg);
        FUZZ_CHECK(xcr__book_equal(b, b3, why, sizeof why),
                   "SQLite round trip differs: %s", why);
        xcr_book_free(b3);
    }
    rm_out();
    xcr_book_free(b);
    return 0;
}
