/* Reading a whole (bounded) file into memory, for the parsers that work on
 * text in memory (scenario files, correlation files). */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>

xcr_status xcr__read_file(const char *path, size_t max_bytes, char **out,
                          size_t *out_len, xcr_error *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return xcr__fail(err, XCR_EIO, "%s: cannot open", path);
    size_t cap = 4096, len = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (len > max_bytes) {
            free(buf);
            fclose(f);
            return xcr__fail(err, XCR_EINVAL, "%s: larger than %zu MiB", path,
                             max_bytes >> 20);
        }
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool rerr = ferror(f) != 0;
    fclose(f);
    if (!buf)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (rerr) {
        free(buf);
        return xcr__fail(err, XCR_EIO, "%s: read error", path);
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return XCR_OK;
}
