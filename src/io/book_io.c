/* Choosing a book form by path, and dispatching to its reader or writer. */
#include "io.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    if (k > n)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = s[n - k + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suf[i])
            return false;
    }
    return true;
}

xcr_format xcr_format_for_path(const char *path, int for_reading)
{
    if (!path)
        return XCR_FORMAT_AUTO;
    if (for_reading) {
        struct stat st;
        if (stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                return XCR_FORMAT_CSV;
            /* sniff: SQLite files start with "SQLite format 3\0" */
            FILE *f = fopen(path, "rb");
            if (f) {
                char hdr[16] = {0};
                size_t n = fread(hdr, 1, sizeof hdr, f);
                fclose(f);
                if (n == 16 && memcmp(hdr, "SQLite format 3", 16) == 0)
                    return XCR_FORMAT_SQLITE;
            }
            if (ends_with(path, ".db") || ends_with(path, ".sqlite") ||
                ends_with(path, ".sqlite3"))
                return XCR_FORMAT_SQLITE;
            return XCR_FORMAT_JSON;
        }
    }
    if (ends_with(path, ".json"))
        return XCR_FORMAT_JSON;
    if (ends_with(path, ".db") || ends_with(path, ".sqlite") ||
        ends_with(path, ".sqlite3"))
        return XCR_FORMAT_SQLITE;
    return XCR_FORMAT_CSV;
}

xcr_status xcr_book_load(const char *path, xcr_format fmt,
                         const xcr_allocator *alloc, xcr_book **out,
                         xcr_error *err)
{
    if (!path || !out)
        return xcr__fail(err, XCR_EINVAL, "path and out are required");
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return xcr__fail(err, XCR_EIO, "%s: no such file or directory", path);
    if (fmt == XCR_FORMAT_AUTO)
        fmt = xcr_format_for_path(path, 1);
    switch (fmt) {
    case XCR_FORMAT_JSON:
        return xcr__book_load_json_file(path, alloc, out, err);
    case XCR_FORMAT_CSV:
        return xcr__book_load_csv(path, alloc, out, err);
    case XCR_FORMAT_SQLITE:
        return xcr__book_load_sqlite(path, alloc, out, err);
    default:
        return xcr__fail(err, XCR_EINVAL, "%s: unknown book format", path);
    }
}

xcr_status xcr_book_save(const xcr_book *b, const char *path, xcr_format fmt,
                         xcr_error *err)
{
    if (!b || !path || !b->finalized)
        return xcr__fail(err, XCR_EINVAL, "a finalized book and a path are "
                                          "required");
    if (fmt == XCR_FORMAT_AUTO)
        fmt = xcr_format_for_path(path, 0);
    switch (fmt) {
    case XCR_FORMAT_JSON:
        return xcr__book_save_json_file(b, path, err);
    case XCR_FORMAT_CSV:
        return xcr__book_save_csv(b, path, err);
    case XCR_FORMAT_SQLITE:
        return xcr__book_save_sqlite(b, path, err);
    default:
        return xcr__fail(err, XCR_EINVAL, "%s: unknown book format", path);
    }
}
