/* A book as a folder of CSV tables (spec §3): <dir>/<table>.csv.
 *
 * Tables and columns are those of spec §3 (schema in book_tables.c, which
 * also documents the cell conventions).  In short:
 *  - Only assets.csv and accounts.csv are required; a missing optional file
 *    is an empty table (so a folder without instruments.csv has no
 *    instruments).  Columns may come in any order and are found by header
 *    name; unknown columns are ignored; a missing required column is an
 *    error.  Unquoted cells are trimmed of blanks (quoting keeps them);
 *    an empty cell is the default.
 *  - Booleans read true/false/1/0 and are written true/false.
 *  - upper_usd / notional_max: empty = unbounded (null).
 *  - assets: the `lending` object exists iff any of ltv,
 *    liquidation_threshold, liquidation_bonus, protocol_fee, emode_category
 *    is non-empty (the others default to 0).
 *  - liquidity p1..p3: linear p1 = depth_usd; sqrt p1 = daily_volume_usd,
 *    p2 = daily_vol, p3 = coef; amm p1 = base_reserve, p2 = quote_reserve,
 *    p3 = fee; book p1 = the levels as JSON text [[move, cumulative_usd],..].
 *  - settings: key, value = JSON text; the book's as_of is the row
 *    ("as_of", "\"2024-06-17T08:00:00Z\"") (a bare time is accepted).
 *  - Numbers are whole-cell decimals (no nan/inf/hex); they are written in
 *    the shortest form that reads back to the same double.
 * Errors name the file, the line and column (and the column's name).
 *
 * Writing is atomic: the tables are written into the sibling folder
 * <dir>.tmp.<pid>, flushed to disk and renamed to <dir>.  An existing <dir>
 * is replaced only if it is an empty folder; a non-empty one is an error
 * (we never delete a user's files).  On any error the temporary folder is
 * removed, so nothing is left behind.
 */
#include "book_tables.h"
#include "csv.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "<a>/<b><c>" in allocator memory. */
static char *join3(const xcr_allocator *a, const char *x, const char *y,
                   const char *z)
{
    size_t n = strlen(x) + strlen(y) + strlen(z) + 2;
    char *s = xcr__malloc(a, n);
    if (s)
        snprintf(s, n, "%s/%s%s", x, y, z);
    return s;
}

/* MARK: reading ----------------------------------------------------------------- */

typedef struct csv_src {
    const xcr_allocator *alloc;
    const char *dir;
} csv_src;

typedef struct csv_tab {
    const xcr_allocator *alloc;
    xcr__csv_reader rd;
    char *path;
    xcr_loc loc;
} csv_tab;

static void csv_tab_close(void *tab)
{
    csv_tab *t = tab;
    if (!t)
        return;
    const xcr_allocator *a = t->alloc;
    xcr__csv_close(&t->rd);
    xcr__free(a, t->path);
    xcr__free(a, t);
}

static xcr_status csv_tab_open(void *ctx, const char *name, bool required,
                               void **out, xcr_error *err)
{
    csv_src *src = ctx;
    *out = NULL;
    csv_tab *t = xcr__calloc(src->alloc, 1, sizeof *t);
    if (!t)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    t->alloc = src->alloc;
    if (!(t->path = join3(src->alloc, src->dir, name, ".csv"))) {
        csv_tab_close(t);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    bool absent = false;
    xcr_status s = xcr__csv_open_file(&t->rd, t->path, t->path, src->alloc,
                                      &absent, err);
    if (s == XCR_OK && absent) {
        csv_tab_close(t);
        if (required)
            return xcr__fail(err, XCR_ENOTFOUND,
                             "%s: missing required table %s.csv", src->dir,
                             name);
        return XCR_OK;
    }
    if (s != XCR_OK) {
        csv_tab_close(t);
        return s;
    }
    t->loc.kind = 2;
    t->loc.file = t->path;
    t->loc.line = 1; /* the header, until the first row */
    t->loc.columns = (const char *const *)t->rd.header;
    t->loc.ncolumns = t->rd.ncols;
    *out = t;
    return XCR_OK;
}

static size_t csv_tab_ncols(void *tab) { return ((csv_tab *)tab)->rd.ncols; }

static const char *csv_tab_colname(void *tab, size_t i)
{
    return ((csv_tab *)tab)->rd.header[i];
}

static const xcr_loc *csv_tab_loc(void *tab) { return &((csv_tab *)tab)->loc; }

static xcr_status csv_tab_next(void *tab, bool *got, xcr_error *err)
{
    csv_tab *t = tab;
    xcr_status s = xcr__csv_next(&t->rd, got, err);
    if (s == XCR_OK && *got) {
        t->loc.line = t->rd.record_line;
        for (size_t i = 0; i < t->rd.ncols; i++)
            if (!t->rd.quoted[i])
                t->rd.fields[i] = xcr__csv_trim(t->rd.fields[i]);
    }
    return s;
}

static void csv_tab_cell(void *tab, size_t i, xcr__cell *out)
{
    csv_tab *t = tab;
    memset(out, 0, sizeof *out);
    out->text = t->rd.fields[i];
    out->type = out->text[0] ? XCR__CELL_TEXT : XCR__CELL_NULL;
}

xcr_status xcr__book_load_csv(const char *dir, const xcr_allocator *a,
                              xcr_book **out, xcr_error *err)
{
    if (!out || !dir)
        return xcr__fail(err, XCR_EINVAL, "NULL argument");
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0)
        return xcr__fail(err, XCR_EIO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return xcr__fail(err, XCR_EIO,
                         "%s: not a folder of CSV tables", dir);
    csv_src ctx = {a ? a : &xcr__libc_alloc, dir};
    xcr__tab_src src = {&ctx,          csv_tab_open, csv_tab_ncols,
                        csv_tab_colname, csv_tab_loc,  csv_tab_next,
                        csv_tab_cell,  csv_tab_close};
    return xcr__tables_load(&src, dir, a, out, err);
}

/* MARK: writing ----------------------------------------------------------------- */

typedef struct csv_sink {
    const xcr_allocator *alloc;
    const char *tmp;            /* the temporary folder                     */
    FILE *f;
    char *path;                 /* of the open file                         */
    const xcr__table *t;
    xcr__csv_writer w;
} csv_sink;

static xcr_status sink_io_error(csv_sink *k, xcr_error *err)
{
    return xcr__fail(err, XCR_EIO, "%s: write failed: %s",
                     k->path ? k->path : k->tmp, strerror(errno));
}

static xcr_status csv_begin(void *ctx, const xcr__table *t, xcr_error *err)
{
    csv_sink *k = ctx;
    k->t = t;
    if (!(k->path = join3(k->alloc, k->tmp, t->name, ".csv")))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (!(k->f = fopen(k->path, "wb")))
        return sink_io_error(k, err);
    xcr__csv_writer_init(&k->w, k->f);
    for (size_t i = 0; i < t->ncols; i++)
        xcr__csv_write_field(&k->w, t->cols[i].name);
    xcr__csv_end_record(&k->w);
    return ferror(k->f) ? sink_io_error(k, err) : XCR_OK;
}

static xcr_status csv_row(void *ctx, const xcr__cell *c, xcr_error *err)
{
    csv_sink *k = ctx;
    for (size_t i = 0; i < k->t->ncols; i++) {
        char buf[40];
        const char *s = NULL;
        switch (c[i].type) {
        case XCR__CELL_TEXT:
            s = c[i].text;
            break;
        case XCR__CELL_REAL:
            xcr__fmt_double(c[i].d, buf, sizeof buf);
            s = buf;
            break;
        case XCR__CELL_INT:
            snprintf(buf, sizeof buf, "%lld", (long long)c[i].i);
            s = buf;
            break;
        case XCR__CELL_BOOL:
            s = c[i].i ? "true" : "false";
            break;
        default:
            break;
        }
        xcr__csv_write_field(&k->w, s);
    }
    xcr__csv_end_record(&k->w);
    return ferror(k->f) ? sink_io_error(k, err) : XCR_OK;
}

/* Flush and sync the table's file, so that the rename publishes complete
 * files. */
static xcr_status csv_end(void *ctx, xcr_error *err)
{
    csv_sink *k = ctx;
    xcr_status s = XCR_OK;
    if (fflush(k->f) != 0 || ferror(k->f) || fsync(fileno(k->f)) != 0)
        s = sink_io_error(k, err);
    if (fclose(k->f) != 0 && s == XCR_OK)
        s = sink_io_error(k, err);
    k->f = NULL;
    xcr__free(k->alloc, k->path);
    k->path = NULL;
    return s;
}

/* Remove the temporary folder and the table files we may have put in it. */
static void remove_tmp(const xcr_allocator *a, const char *tmp)
{
    for (int i = 0; i < XCR__T_COUNT; i++) {
        char *p = join3(a, tmp, xcr__tables[i].name, ".csv");
        if (p)
            unlink(p);
        xcr__free(a, p);
    }
    rmdir(tmp);
}

/* 1 if `dir` is an empty folder, 0 if it has entries, -1 on error. */
static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

xcr_status xcr__book_save_csv(const xcr_book *b, const char *dir_in,
                              xcr_error *err)
{
    if (!b || !dir_in || !dir_in[0])
        return xcr__fail(err, XCR_EINVAL, "NULL book or empty folder name");
    if (!b->finalized)
        return xcr__fail(err, XCR_EINVAL, "the book must be finalized");
    const xcr_allocator *a = b->alloc;
    /* "out/" and "out" are the same folder; the temporary sibling must not
     * land inside it. */
    char *dir = xcr__strdup(a, dir_in);
    if (!dir)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';

    xcr_status s = XCR_OK;
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            s = xcr__fail(err, XCR_EIO, "%s: exists and is not a folder",
                          dir);
        else if (dir_is_empty(dir) != 1)
            s = xcr__fail(err, XCR_EIO,
                          "%s: folder exists and is not empty; refusing to "
                          "overwrite it (remove it or choose another name)",
                          dir);
    } else if (errno != ENOENT) {
        s = xcr__fail(err, XCR_EIO, "%s: %s", dir, strerror(errno));
    }
    char suffix[40];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    char *tmp = NULL;
    if (s == XCR_OK) {
        size_t tn = strlen(dir) + strlen(suffix) + 1;
        if (!(tmp = xcr__malloc(a, tn)))
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
        else
            snprintf(tmp, tn, "%s%s", dir, suffix);
    }
    if (s == XCR_OK && mkdir(tmp, 0777) != 0) {
        s = xcr__fail(err, XCR_EIO, "%s: cannot create temporary folder: %s",
                      tmp, strerror(errno));
        xcr__free(a, tmp);
        tmp = NULL; /* not ours: leave it alone */
    }
    if (s == XCR_OK) {
        csv_sink k = {a, tmp, NULL, NULL, NULL, {NULL, false}};
        xcr__tab_sink sink = {&k, csv_begin, csv_row, csv_end};
        s = xcr__tables_save(b, &sink, err);
        if (k.f)
            fclose(k.f);
        xcr__free(a, k.path);
        /* rename() replaces an empty folder and fails on a non-empty one,
         * so a folder filled meanwhile by someone else is not clobbered. */
        if (s == XCR_OK && rename(tmp, dir) != 0)
            s = xcr__fail(err, XCR_EIO, "%s: cannot move %s into place: %s",
                          dir, tmp, strerror(errno));
        if (s != XCR_OK)
            remove_tmp(a, tmp);
    }
    xcr__free(a, tmp);
    xcr__free(a, dir);
    return s;
}
