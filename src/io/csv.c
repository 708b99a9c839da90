/* RFC 4180 CSV reader and writer (see csv.h for what is accepted). */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A header wider than this is not one of our tables; the cap also bounds
 * the offsets array of a pathological header row of commas. */
#define MAX_HEADER_COLUMNS 1024

/* MARK: errors -------------------------------------------------------------- */

static xcr_status fail_pos(const xcr__csv_reader *r, xcr_error *err,
                           xcr_status code, long line, long col,
                           const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* "name: line L, column C: what" (column left out when col <= 0). */
static xcr_status fail_pos(const xcr__csv_reader *r, xcr_error *err,
                           xcr_status code, long line, long col,
                           const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *name = r->name ? r->name : "<csv>";
    if (col > 0)
        return xcr__fail(err, code, "%s: line %ld, column %ld: %s", name,
                         line, col, what);
    return xcr__fail(err, code, "%s: line %ld: %s", name, line, what);
}

/* MARK: scanning --------------------------------------------------------------- */

static bool is_eol(unsigned char c) { return c == '\n' || c == '\r'; }

/* Step over one byte that is not a line break.  Columns count characters,
 * so UTF-8 continuation bytes do not advance them. */
static void adv(xcr__csv_reader *r)
{
    unsigned char c = r->data[r->pos++];
    if ((c & 0xC0) != 0x80)
        r->col++;
}

/* Step over a line break: CRLF, LF or a bare CR. Returns its length. */
static size_t adv_eol(xcr__csv_reader *r)
{
    size_t n = 1;
    if (r->data[r->pos] == '\r' && r->pos + 1 < r->len &&
        r->data[r->pos + 1] == '\n')
        n = 2;
    r->pos += n;
    r->line++;
    r->col = 1;
    return n;
}

/* Reject NUL bytes and invalid UTF-8 up front, so that field text is always
 * a valid C string and valid UTF-8 (overlong forms, surrogates and code
 * points above U+10FFFF are invalid). */
static xcr_status check_text(const xcr__csv_reader *r, xcr_error *err)
{
    const unsigned char *d = r->data;
    size_t n = r->len, i = r->pos;
    long line = 1, col = 1;
    while (i < n) {
        unsigned c = d[i];
        if (c == 0)
            return fail_pos(r, err, XCR_EPARSE, line, col, "NUL byte");
        if (c < 0x80) {
            if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < n && d[i + 1] == '\n')
                    i++;
                line++;
                col = 1;
            } else {
                col++;
            }
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return fail_pos(r, err, XCR_EPARSE, line, col,
                            "invalid UTF-8 (byte 0x%02X)", c);
        }
        if (len > n - i)
            return fail_pos(r, err, XCR_EPARSE, line, col,
                            "truncated UTF-8 sequence");
        for (size_t k = 1; k < len; k++) {
            unsigned b = d[i + k];
            if ((b & 0xC0) != 0x80)
                return fail_pos(r, err, XCR_EPARSE, line, col,
                                "invalid UTF-8 sequence");
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_pos(r, err, XCR_EPARSE, line, col,
                            "invalid UTF-8 (overlong form, surrogate or "
                            "out of range)");
        i += len;
        col++;
    }
    return XCR_OK;
}

/* Append a byte to the current field, which started at fbuf[fstart]. */
static xcr_status push(xcr__csv_reader *r, unsigned char c, size_t fstart,
                       long fline, long fcol, xcr_error *err)
{
    if (r->flen - fstart >= XCR__CSV_MAX_FIELD)
        return fail_pos(r, err, XCR_EINVAL, fline, fcol,
                        "field longer than %zu bytes",
                        (size_t)XCR__CSV_MAX_FIELD);
    if (r->flen == r->fcap &&
        !XCR__GROW(r->alloc, r->fbuf, r->fcap, r->flen + 1))
        return xcr__fail(err, XCR_ENOMEM, "out of memory reading %s",
                         r->name);
    r->fbuf[r->flen++] = (char)c;
    return XCR_OK;
}

#define TRY(x)                                                                 \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

/* Parse one record into fbuf/foff.  maxf bounds the field count (the
 * header's width for data rows). */
static xcr_status parse_record(xcr__csv_reader *r, size_t maxf, bool *got,
                               xcr_error *err)
{
    *got = false;
    /* Blank lines carry no record (our tables all have several columns, so
     * an empty line is never a row of one empty field). */
    while (r->pos < r->len && is_eol(r->data[r->pos]))
        adv_eol(r);
    if (r->pos >= r->len)
        return XCR_OK;
    r->record_line = r->line;
    r->flen = 0;
    r->nf = 0;
    for (;;) {
        if (r->nf >= maxf) {
            if (maxf == MAX_HEADER_COLUMNS)
                return fail_pos(r, err, XCR_EPARSE, r->line, r->col,
                                "more than %d columns",
                                MAX_HEADER_COLUMNS);
            return fail_pos(r, err, XCR_EPARSE, r->line, r->col,
                            "too many fields: the header has %zu", maxf);
        }
        if (r->nf == r->cap_off) {
            /* quoted and foff share cap_off: XCR__GROW picks the same new
             * capacity for both from the same old one */
            size_t c = r->cap_off;
            if (!XCR__GROW(r->alloc, r->quoted, c, r->nf + 1) ||
                !XCR__GROW(r->alloc, r->foff, r->cap_off, r->nf + 1) ||
                c != r->cap_off)
                return xcr__fail(err, XCR_ENOMEM,
                                 "out of memory reading %s", r->name);
        }
        size_t fstart = r->flen;
        long fline = r->line, fcol = r->col;
        r->quoted[r->nf] = r->pos < r->len && r->data[r->pos] == '"';
        r->foff[r->nf++] = fstart;
        if (r->quoted[r->nf - 1]) {
            adv(r);
            for (;;) {
                if (r->pos >= r->len)
                    return fail_pos(r, err, XCR_EPARSE, fline, fcol,
                                    "unterminated quoted field (the quote "
                                    "opened here is never closed)");
                unsigned char c = r->data[r->pos];
                if (c == '"') {
                    if (r->pos + 1 < r->len && r->data[r->pos + 1] == '"') {
                        TRY(push(r, '"', fstart, fline, fcol, err));
                        adv(r);
                        adv(r);
                        continue;
                    }
                    adv(r);
                    break;
                }
                if (is_eol(c)) {
                    /* a line break inside quotes is data, kept verbatim */
                    size_t at = r->pos, n = adv_eol(r);
                    for (size_t k = 0; k < n; k++)
                        TRY(push(r, r->data[at + k], fstart, fline, fcol,
                                 err));
                    continue;
                }
                TRY(push(r, c, fstart, fline, fcol, err));
                adv(r);
            }
            if (r->pos < r->len && r->data[r->pos] != ',' &&
                !is_eol(r->data[r->pos]))
                return fail_pos(r, err, XCR_EPARSE, r->line, r->col,
                                "unexpected character after a closing "
                                "quote (expected a comma or a line end)");
        } else {
            while (r->pos < r->len && r->data[r->pos] != ',' &&
                   !is_eol(r->data[r->pos])) {
                if (r->data[r->pos] == '"')
                    return fail_pos(r, err, XCR_EPARSE, r->line, r->col,
                                    "quote inside an unquoted field (quote "
                                    "the whole field and double the quote)");
                TRY(push(r, r->data[r->pos], fstart, fline, fcol, err));
                adv(r);
            }
        }
        /* the terminator does not count towards the field's size */
        if (r->flen == r->fcap &&
            !XCR__GROW(r->alloc, r->fbuf, r->fcap, r->flen + 1))
            return xcr__fail(err, XCR_ENOMEM, "out of memory reading %s",
                             r->name);
        r->fbuf[r->flen++] = '\0';
        if (r->pos < r->len && r->data[r->pos] == ',') {
            adv(r);
            continue;
        }
        if (r->pos < r->len)
            adv_eol(r);
        break;
    }
    *got = true;
    return XCR_OK;
}

/* MARK: opening ------------------------------------------------------------------ */

char *xcr__csv_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Skip the BOM, validate the bytes and read the header row. */
static xcr_status open_common(xcr__csv_reader *r, xcr_error *err)
{
    r->pos = 0;
    r->line = 1;
    r->col = 1;
    if (r->len >= 3 && r->data[0] == 0xEF && r->data[1] == 0xBB &&
        r->data[2] == 0xBF)
        r->pos = 3;
    TRY(check_text(r, err));
    bool got;
    TRY(parse_record(r, MAX_HEADER_COLUMNS, &got, err));
    if (!got)
        return xcr__fail(err, XCR_EPARSE, "%s: empty file (no header row)",
                         r->name);
    /* Keep the header in its own block: fbuf is reused for every row. */
    r->ncols = r->nf;
    r->header_block = xcr__malloc(r->alloc, r->flen);
    r->header = xcr__calloc(r->alloc, r->ncols, sizeof *r->header);
    r->fields = xcr__calloc(r->alloc, r->ncols, sizeof *r->fields);
    if (!r->header_block || !r->header || !r->fields)
        return xcr__fail(err, XCR_ENOMEM, "out of memory reading %s",
                         r->name);
    memcpy(r->header_block, r->fbuf, r->flen);
    for (size_t i = 0; i < r->ncols; i++) {
        r->header[i] = r->header_block + r->foff[i];
        if (!r->quoted[i])
            r->header[i] = xcr__csv_trim(r->header[i]);
    }
    for (size_t i = 0; i < r->ncols; i++) {
        if (!r->header[i][0])
            continue;
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->header[i], r->header[j]) == 0)
                return fail_pos(r, err, XCR_EPARSE, r->record_line, 0,
                                "duplicate column name \"%.64s\"",
                                r->header[i]);
    }
    return XCR_OK;
}

xcr_status xcr__csv_open_mem(xcr__csv_reader *r, const void *data,
                             size_t len, const char *name,
                             const xcr_allocator *a, xcr_error *err)
{
    memset(r, 0, sizeof *r);
    r->alloc = a ? a : &xcr__libc_alloc;
    r->name = name ? name : "<csv>";
    r->data = data;
    r->len = data ? len : 0;
    if (r->len > XCR__CSV_MAX_FILE)
        return xcr__fail(err, XCR_EINVAL, "%s: larger than the %zu-byte "
                         "limit for a CSV file", r->name,
                         (size_t)XCR__CSV_MAX_FILE);
    return open_common(r, err);
}

xcr_status xcr__csv_open_file(xcr__csv_reader *r, const char *path,
                              const char *name, const xcr_allocator *a,
                              bool *absent, xcr_error *err)
{
    memset(r, 0, sizeof *r);
    r->alloc = a ? a : &xcr__libc_alloc;
    r->name = name ? name : path;
    if (absent)
        *absent = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && absent) {
            *absent = true;
            return XCR_OK;
        }
        return xcr__fail(err, XCR_EIO, "%s: cannot open: %s", r->name,
                         strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
        fclose(f);
        return xcr__fail(err, XCR_EIO, "%s: not a readable file", r->name);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > XCR__CSV_MAX_FILE) {
        fclose(f);
        return xcr__fail(err, XCR_EINVAL,
                         "%s: larger than the %zu-byte limit for a CSV file",
                         r->name, (size_t)XCR__CSV_MAX_FILE);
    }
    /* st_size is a hint only (pipes report 0, files may grow): read to EOF
     * and re-check the cap. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    if (cap < 4096)
        cap = 4096;
    unsigned char *buf = xcr__malloc(r->alloc, cap);
    xcr_status s = XCR_OK;
    while (buf) {
        if (len == cap) {
            size_t ncap = cap * 2;
            if (ncap > XCR__CSV_MAX_FILE + 1)
                ncap = XCR__CSV_MAX_FILE + 1;
            unsigned char *nb = xcr__realloc(r->alloc, buf, cap, ncap);
            if (!nb) {
                xcr__free(r->alloc, buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (len > XCR__CSV_MAX_FILE) {
            s = xcr__fail(err, XCR_EINVAL,
                          "%s: larger than the %zu-byte limit for a CSV "
                          "file",
                          r->name, (size_t)XCR__CSV_MAX_FILE);
            break;
        }
        if (k == 0) {
            if (ferror(f))
                s = xcr__fail(err, XCR_EIO, "%s: read error", r->name);
            break;
        }
    }
    fclose(f);
    if (!buf)
        return xcr__fail(err, XCR_ENOMEM, "out of memory reading %s",
                         r->name);
    r->owned = buf;
    r->data = buf;
    r->len = len;
    if (s != XCR_OK)
        return s;
    return open_common(r, err);
}

xcr_status xcr__csv_next(xcr__csv_reader *r, bool *got, xcr_error *err)
{
    *got = false;
    if (!r->header)
        return xcr__fail(err, XCR_EINVAL, "CSV reader is not open");
    bool have;
    TRY(parse_record(r, r->ncols, &have, err));
    if (!have)
        return XCR_OK;
    if (r->nf != r->ncols)
        return fail_pos(r, err, XCR_EPARSE, r->record_line, 0,
                        "%zu field%s, but the header has %zu", r->nf,
                        r->nf == 1 ? "" : "s", r->ncols);
    for (size_t i = 0; i < r->ncols; i++)
        r->fields[i] = r->fbuf + r->foff[i];
    *got = true;
    return XCR_OK;
}

void xcr__csv_close(xcr__csv_reader *r)
{
    if (!r || !r->alloc)
        return;
    xcr__free(r->alloc, r->owned);
    xcr__free(r->alloc, r->header_block);
    xcr__free(r->alloc, r->header);
    xcr__free(r->alloc, r->fields);
    xcr__free(r->alloc, r->fbuf);
    xcr__free(r->alloc, r->foff);
    xcr__free(r->alloc, r->quoted);
    memset(r, 0, sizeof *r);
}

/* MARK: writer --------------------------------------------------------------------- */

void xcr__csv_writer_init(xcr__csv_writer *w, FILE *f)
{
    w->f = f;
    w->row_started = false;
}

static bool needs_quotes(const char *s)
{
    if (!*s)
        return false;
    size_t n = strlen(s);
    /* readers (ours included) trim blanks around unquoted fields */
    if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
        return true;
    return strpbrk(s, ",\"\r\n") != NULL;
}

void xcr__csv_write_field(xcr__csv_writer *w, const char *s)
{
    if (w->row_started)
        fputc(',', w->f);
    w->row_started = true;
    if (!s)
        return;
    if (!needs_quotes(s)) {
        fputs(s, w->f);
        return;
    }
    fputc('"', w->f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', w->f);
        fputc(*s, w->f);
    }
    fputc('"', w->f);
}

void xcr__csv_end_record(xcr__csv_writer *w)
{
    fputs("\r\n", w->f);
    w->row_started = false;
}
