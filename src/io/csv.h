/* A small RFC 4180 CSV reader and writer.
 *
 * Reader: the whole input is held in memory (files up to XCR__CSV_MAX_FILE)
 * and parsed record by record.  Accepted: a header row, quoted fields with ""
 * escapes and embedded commas / line breaks, CRLF, LF or bare CR line ends,
 * an optional UTF-8 byte-order mark, blank lines (skipped).  Rejected, with
 * "file: line L, column C: ..." (C counts characters from 1): an unterminated
 * quote, a quote inside an unquoted field, text after a closing quote,
 * invalid UTF-8 or a NUL byte, a field over XCR__CSV_MAX_FIELD bytes, a
 * record whose field count differs from the header's, a duplicated header
 * name.  Empty header names are allowed (spreadsheets leave trailing empty
 * columns); callers ignore them.  The reader never reads outside its input, so any
 * byte string is safe to feed it.
 *
 * Writer: fields are quoted only when they contain a comma, a quote, a line
 * break or leading/trailing blanks (readers trim blanks around unquoted
 * fields); records end with CRLF as RFC 4180 says.
 */
#ifndef XCR_CSV_H
#define XCR_CSV_H

#include "../core/core.h"

#include <stdio.h>

#define XCR__CSV_MAX_FILE ((size_t)1 << 30)  /* 1 GiB  */
#define XCR__CSV_MAX_FIELD ((size_t)1 << 20) /* 1 MiB  */

typedef struct xcr__csv_reader {
    const xcr_allocator *alloc;
    const char *name;          /* for messages (borrowed)                    */
    const unsigned char *data; /* input; owned when `owned` is set          */
    unsigned char *owned;
    size_t len, pos;
    long line, col;            /* position of data[pos], 1-based            */

    char **header;             /* ncols trimmed names (one block)           */
    char *header_block;
    size_t ncols;

    /* current record: fields NUL-separated in fbuf, offsets in foff */
    char *fbuf;
    size_t flen, fcap;
    size_t *foff;
    bool *quoted;              /* per field: was it quoted (cap_off long)   */
    size_t nf, cap_off;
    char **fields;             /* ncols pointers into fbuf (after next);
                                  r->quoted[i] tells a quoted field         */
    long record_line;          /* line on which the current record starts  */
} xcr__csv_reader;

/* Read `path` and its header row.  `name` (borrowed, may equal path) is used
 * in messages.  A missing file sets *absent (when absent is non-NULL) and
 * returns XCR_OK without opening anything; otherwise it is an EIO error. */
xcr_status xcr__csv_open_file(xcr__csv_reader *r, const char *path,
                              const char *name, const xcr_allocator *a,
                              bool *absent, xcr_error *err);
/* Parse in-memory text (borrowed; must outlive the reader). */
xcr_status xcr__csv_open_mem(xcr__csv_reader *r, const void *data,
                             size_t len, const char *name,
                             const xcr_allocator *a, xcr_error *err);
/* Next record: *got = false at the end.  On success r->fields holds
 * r->ncols NUL-terminated fields (writable, valid until the next call). */
xcr_status xcr__csv_next(xcr__csv_reader *r, bool *got, xcr_error *err);
/* Release everything; safe on a zeroed or half-opened reader. */
void xcr__csv_close(xcr__csv_reader *r);

/* Strip leading and trailing blanks (space, tab) in place.  Callers trim
 * unquoted fields only: quoting is how a writer keeps blanks. */
char *xcr__csv_trim(char *s);

typedef struct xcr__csv_writer {
    FILE *f;
    bool row_started;
} xcr__csv_writer;

void xcr__csv_writer_init(xcr__csv_writer *w, FILE *f);
/* Append one field (NULL = empty) to the current record. */
void xcr__csv_write_field(xcr__csv_writer *w, const char *s);
/* End the current record. */
void xcr__csv_end_record(xcr__csv_writer *w);

#endif /* XCR_CSV_H */
