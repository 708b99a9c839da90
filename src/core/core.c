/* Core utilities: allocator plumbing, status names, located errors. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MARK: allocation ------------------------------------------------------------- */

static void *libc_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}
static void *libc_realloc(void *ctx, void *p, size_t old_n, size_t n)
{
    (void)ctx;
    (void)old_n;
    return realloc(p, n);
}
static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

const xcr_allocator xcr__libc_alloc = {libc_malloc, libc_realloc, libc_free,
                                       NULL};

void *xcr__malloc(const xcr_allocator *a, size_t n)
{
    if (n == 0)
        n = 1;
    return a->malloc_fn(a->ctx, n);
}

void *xcr__calloc(const xcr_allocator *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = xcr__malloc(a, count * size);
    if (p)
        memset(p, 0, count * size > 0 ? count * size : 1);
    return p;
}

void *xcr__realloc(const xcr_allocator *a, void *p, size_t old_n, size_t n)
{
    if (n == 0)
        n = 1;
    return a->realloc_fn(a->ctx, p, old_n, n);
}

void xcr__free(const xcr_allocator *a, void *p)
{
    if (p)
        a->free_fn(a->ctx, p);
}

char *xcr__strdup(const xcr_allocator *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xcr__malloc(a, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool xcr__grow(const xcr_allocator *a, void **arr, size_t *cap, size_t need,
               size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return false;
        ncap *= 2;
    }
    void *p = xcr__realloc(a, *arr, *cap * elem, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

/* MARK: status names ------------------------------------------------------------- */

const char *xcr_status_name(xcr_status s)
{
    static const char *const names[] = {
#define XCR__NAME(name, text) #name,
        XCR_STATUS_MAP(XCR__NAME)
#undef XCR__NAME
    };
    if ((unsigned)s >= XCR_STATUS_COUNT)
        return "UNKNOWN";
    return names[s];
}

const char *xcr_strerror(xcr_status s)
{
    static const char *const texts[] = {
#define XCR__TEXT(name, text) text,
        XCR_STATUS_MAP(XCR__TEXT)
#undef XCR__TEXT
    };
    if ((unsigned)s >= XCR_STATUS_COUNT)
        return "unknown status";
    return texts[s];
}

const char *xcr_version_string(void) { return XCR_VERSION_STRING; }

/* MARK: located errors ------------------------------------------------------------ */

void xcr__loc_format(const xcr_loc *loc, const char *field, char *buf,
                     size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    if (!loc) {
        if (field)
            snprintf(buf, n, "%s", field);
        return;
    }
    const char *file = loc->file ? loc->file : "<input>";
    switch (loc->kind) {
    case 1: { /* JSON */
        const char *path = loc->path ? loc->path : "$";
        if (field)
            snprintf(buf, n, "%s: %s.%s", file, path, field);
        else
            snprintf(buf, n, "%s: %s", file, path);
        break;
    }
    case 2: { /* CSV: name the column number when the header has the field */
        long col = 0;
        if (field && loc->columns) {
            for (size_t i = 0; i < loc->ncolumns; i++)
                if (loc->columns[i] && strcmp(loc->columns[i], field) == 0) {
                    col = (long)i + 1;
                    break;
                }
        }
        if (field && col > 0)
            snprintf(buf, n, "%s: line %ld, column %ld (%s)", file, loc->line,
                     col, field);
        else if (field)
            snprintf(buf, n, "%s: line %ld (%s)", file, loc->line, field);
        else
            snprintf(buf, n, "%s: line %ld", file, loc->line);
        break;
    }
    case 3: /* SQLite */
        if (field)
            snprintf(buf, n, "%s: table %s, row %ld, column %s", file,
                     loc->table ? loc->table : "?", loc->line, field);
        else
            snprintf(buf, n, "%s: table %s, row %ld", file,
                     loc->table ? loc->table : "?", loc->line);
        break;
    default:
        snprintf(buf, n, "%s%s%s", file, field ? ": " : "",
                 field ? field : "");
    }
}

static xcr_status vfail(xcr_error *err, xcr_status code, const char *prefix,
                        const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    size_t off = 0;
    if (prefix && prefix[0]) {
        int k = snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
        off = k < 0 ? 0 : (size_t)k;
        if (off >= sizeof err->msg)
            off = sizeof err->msg - 1;
    }
    vsnprintf(err->msg + off, sizeof err->msg - off, fmt, ap);
    return code;
}

void xcr__error_prefix(xcr_error *err, const char *prefix)
{
    if (!err || !prefix)
        return;
    size_t pl = strlen(prefix) + 2, ml = strlen(err->msg);
    if (pl >= sizeof err->msg)
        return;
    if (pl + ml >= sizeof err->msg)
        ml = sizeof err->msg - pl - 1;
    memmove(err->msg + pl, err->msg, ml);
    err->msg[pl + ml] = '\0';
    memcpy(err->msg, prefix, pl - 2);
    err->msg[pl - 2] = ':';
    err->msg[pl - 1] = ' ';
}

xcr_status xcr__fail(xcr_error *err, xcr_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

xcr_status xcr__fail_at(xcr_error *err, xcr_status code, const xcr_loc *loc,
                        const char *field, const char *fmt, ...)
{
    char where[300];
    xcr__loc_format(loc, field, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vfail(err, code, where, fmt, ap);
    va_end(ap);
    return code;
}

/* MARK: identifiers ------------------------------------------------------------------ */

bool xcr__valid_id(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == ':' || c == '/' || c == '-';
        if (!ok || n >= 64)
            return false;
    }
    return n >= 1;
}

/* MARK: numbers ----------------------------------------------------------------------- */

void xcr__fmt_double(double v, char *buf, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}
