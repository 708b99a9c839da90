/* Internal core utilities: allocation, located errors, string maps, time. */
#ifndef XCR_CORE_H
#define XCR_CORE_H

#include "xcr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* MARK: allocation ---------------------------------------------------------- */

/* The libc allocator used when callers pass NULL. */
extern const xcr_allocator xcr__libc_alloc;

void *xcr__malloc(const xcr_allocator *a, size_t n);
void *xcr__calloc(const xcr_allocator *a, size_t count, size_t size);
void *xcr__realloc(const xcr_allocator *a, void *p, size_t old_n, size_t n);
void xcr__free(const xcr_allocator *a, void *p);
char *xcr__strdup(const xcr_allocator *a, const char *s);

/* Grow a typed array so that it holds at least `need` elements. */
bool xcr__grow(const xcr_allocator *a, void **arr, size_t *cap, size_t need,
               size_t elem);
#define XCR__GROW(a, arr, cap, need) \
    xcr__grow((a), (void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* MARK: errors --------------------------------------------------------------- */

/* Set err (if non-NULL) to code and a printf-style message; returns code. */
xcr_status xcr__fail(xcr_error *err, xcr_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like xcr__fail but prefixes the message with the location of `field` in
 * the item described by loc (JSON path, CSV line/column or SQLite row). */
xcr_status xcr__fail_at(xcr_error *err, xcr_status code, const xcr_loc *loc,
                        const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Prefix an existing error message with "<prefix>: " (truncating). */
void xcr__error_prefix(xcr_error *err, const char *prefix);
/* Write the location prefix "file: $.path.field" etc. into buf. */
void xcr__loc_format(const xcr_loc *loc, const char *field, char *buf,
                     size_t n);

/* MARK: validation helpers ---------------------------------------------------- */

/* Identifiers: 1–64 characters from [A-Za-z0-9._:/-]. */
bool xcr__valid_id(const char *s);

/* MARK: string → index map (open addressing, FNV-1a) ------------------------- */

typedef struct xcr__strmap {
    const xcr_allocator *alloc;
    const char **keys;   /* borrowed; owners keep them alive */
    uint32_t *vals;
    size_t cap, len;
} xcr__strmap;

void xcr__strmap_init(xcr__strmap *m, const xcr_allocator *a);
void xcr__strmap_free(xcr__strmap *m);
/* Insert; returns XCR_OK, XCR_EDUP if present (*existing set), or ENOMEM. */
xcr_status xcr__strmap_put(xcr__strmap *m, const char *key, uint32_t val,
                           uint32_t *existing);
/* Returns -1 if absent. */
long xcr__strmap_get(const xcr__strmap *m, const char *key);

/* MARK: time ---------------------------------------------------------------- */

/* Parse ISO 8601 UTC ("2024-06-17", "2024-06-17T08:00:00Z",
 * "2024-06-17T08:00:00.5+02:00") into seconds since the epoch. */
bool xcr__parse_iso8601(const char *s, double *out_seconds);

#define XCR__SECONDS_PER_YEAR (365.0 * 86400.0) /* ACT/365, spec "General" */

/* MARK: threads ---------------------------------------------------------------- */

#define XCR__MAX_THREADS 256

/* Run fn on each of n jobs (an array of job_size-byte structs): job 0 on the
 * caller, the others on threads (or on the caller if a thread cannot be
 * started).  Returns when all are done. */
void xcr__run_jobs(void *(*fn)(void *), void *jobs, size_t job_size, int n);

/* MARK: files ------------------------------------------------------------------ */

/* Read a whole file (at most max_bytes) into a NUL-terminated buffer from
 * libc malloc (caller frees).  Errors name the path. */
xcr_status xcr__read_file(const char *path, size_t max_bytes, char **out,
                          size_t *out_len, xcr_error *err);

/* MARK: numbers ---------------------------------------------------------------- */

/* Numbers for machine output (shortest round-trip text, no "-0"): JSON
 * writes null and CSV an empty cell for a non-finite value. */
void xcr__put_num(FILE *f, double v);
void xcr__put_csv_num(FILE *f, double v);

/* Money for humans: "-12,345.67" (two decimals, thousands separators). */
void xcr__fmt_money(double v, char *buf, size_t n);

/* Shortest "%.{15,16,17}g" text that reads back to the same double. */
void xcr__fmt_double(double v, char *buf, size_t n);

#endif /* XCR_CORE_H */
