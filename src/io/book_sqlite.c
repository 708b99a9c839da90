/* A book as a SQLite database (spec §3): the same tables and columns as the
 * CSV folder (schema and cell conventions in book_tables.c).
 *
 * Reading: the database is opened read-only and each table is read with
 * SELECT rowid, * ... ORDER BY rowid, so rows keep their insertion order;
 * errors name the file, the table, the rowid and the column.  Cells may be
 * NULL (= default), INTEGER, REAL or TEXT: numeric TEXT is accepted so that
 * tables made by `sqlite3 .import` (all TEXT) load, and '' counts as NULL.
 * A missing optional table is empty; assets and accounts are required.
 *
 * Writing: numbers are REAL, ids and enum names TEXT, booleans and integers
 * INTEGER, defaults NULL; indexes on balances(account) and
 * positions(account).  Everything is written in one transaction into
 * <path>.tmp.<pid>, which is then renamed over <path> (replacing an existing
 * file); on error the temporary file is deleted.
 */
#include "book_tables.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* MARK: reading ----------------------------------------------------------------- */

typedef struct sq_src {
    const xcr_allocator *alloc;
    sqlite3 *db;
    const char *path;
} sq_src;

typedef struct sq_tab {
    const xcr_allocator *alloc;
    sq_src *src;
    sqlite3_stmt *st;
    int ncols;                  /* excluding the leading rowid               */
    char name[64];
    xcr_loc loc;
} sq_tab;

static xcr_status db_fail(const sq_src *s, const char *table, xcr_error *err)
{
    int rc = sqlite3_errcode(s->db);
    const char *what = rc == SQLITE_NOTADB    ? "not a SQLite database"
                       : rc == SQLITE_CORRUPT ? "database is corrupt"
                                              : "database error";
    if (table)
        return xcr__fail(err, XCR_EDB, "%s: table %s: %s (%s)", s->path,
                         table, what, sqlite3_errmsg(s->db));
    return xcr__fail(err, XCR_EDB, "%s: %s (%s)", s->path, what,
                     sqlite3_errmsg(s->db));
}

static void sq_tab_close(void *tab)
{
    sq_tab *t = tab;
    if (!t)
        return;
    sqlite3_finalize(t->st);
    xcr__free(t->alloc, t);
}

/* Does a table (or view) of this name exist?  Names are case-insensitive in
 * SQLite. */
static xcr_status table_exists(sq_src *s, const char *name, bool *yes,
                               xcr_error *err)
{
    sqlite3_stmt *st = NULL;
    *yes = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 1 FROM sqlite_master WHERE type IN "
                           "('table','view') AND name = ?1 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, NULL, err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        *yes = true;
    else if (rc != SQLITE_DONE)
        return db_fail(s, NULL, err);
    return XCR_OK;
}

static xcr_status sq_tab_open(void *ctx, const char *name, bool required,
                              void **out, xcr_error *err)
{
    sq_src *s = ctx;
    *out = NULL;
    bool exists;
    xcr_status r = table_exists(s, name, &exists, err);
    if (r != XCR_OK)
        return r;
    if (!exists) {
        if (required)
            return xcr__fail(err, XCR_ENOTFOUND, "%s: missing table %s",
                             s->path, name);
        return XCR_OK;
    }
    sq_tab *t = xcr__calloc(s->alloc, 1, sizeof *t);
    if (!t)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    t->alloc = s->alloc;
    t->src = s;
    snprintf(t->name, sizeof t->name, "%s", name);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT rowid, * FROM \"%s\" ORDER BY rowid",
             t->name);
    if (sqlite3_prepare_v2(s->db, sql, -1, &t->st, NULL) != SQLITE_OK) {
        xcr_status st = db_fail(s, t->name, err);
        sq_tab_close(t);
        return st;
    }
    t->ncols = sqlite3_column_count(t->st) - 1;
    t->loc.kind = 3;
    t->loc.file = s->path;
    t->loc.table = t->name;
    t->loc.line = 0;
    *out = t;
    return XCR_OK;
}

static size_t sq_tab_ncols(void *tab)
{
    int n = ((sq_tab *)tab)->ncols;
    return n > 0 ? (size_t)n : 0;
}

static const char *sq_tab_colname(void *tab, size_t i)
{
    return sqlite3_column_name(((sq_tab *)tab)->st, (int)i + 1);
}

static const xcr_loc *sq_tab_loc(void *tab) { return &((sq_tab *)tab)->loc; }

static xcr_status sq_tab_next(void *tab, bool *got, xcr_error *err)
{
    sq_tab *t = tab;
    *got = false;
    int rc = sqlite3_step(t->st);
    if (rc == SQLITE_DONE)
        return XCR_OK;
    if (rc != SQLITE_ROW)
        return db_fail(t->src, t->name, err);
    t->loc.line = (long)sqlite3_column_int64(t->st, 0);
    *got = true;
    return XCR_OK;
}

static void sq_tab_cell(void *tab, size_t i, xcr__cell *out)
{
    sq_tab *t = tab;
    int col = (int)i + 1;
    memset(out, 0, sizeof *out);
    switch (sqlite3_column_type(t->st, col)) {
    case SQLITE_INTEGER:
        out->type = XCR__CELL_INT;
        out->i = sqlite3_column_int64(t->st, col);
        out->text = (const char *)sqlite3_column_text(t->st, col);
        break;
    case SQLITE_FLOAT:
        out->type = XCR__CELL_REAL;
        out->d = sqlite3_column_double(t->st, col);
        break;
    case SQLITE_TEXT:
        out->text = (const char *)sqlite3_column_text(t->st, col);
        /* a NUL inside would silently cut the text short */
        out->type = out->text && strlen(out->text) ==
                                     (size_t)sqlite3_column_bytes(t->st, col)
                        ? XCR__CELL_TEXT
                        : XCR__CELL_BLOB;
        break;
    case SQLITE_BLOB:
        out->type = XCR__CELL_BLOB;
        break;
    default:
        out->type = XCR__CELL_NULL;
    }
}

xcr_status xcr__book_load_sqlite(const char *path, const xcr_allocator *a,
                                 xcr_book **out, xcr_error *err)
{
    if (!out || !path)
        return xcr__fail(err, XCR_EINVAL, "NULL argument");
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return xcr__fail(err, XCR_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return xcr__fail(err, XCR_EIO, "%s: not a SQLite database file",
                         path);
    sq_src s = {a ? a : &xcr__libc_alloc, NULL, path};
    if (sqlite3_open_v2(path, &s.db, SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK) {
        xcr_status r = xcr__fail(err, XCR_EDB, "%s: cannot open: %s", path,
                                 s.db ? sqlite3_errmsg(s.db)
                                      : "out of memory");
        sqlite3_close(s.db);
        return r;
    }
    /* The first read of the schema tells a database from other files. */
    xcr_status r = XCR_OK;
    if (sqlite3_exec(s.db, "SELECT count(*) FROM sqlite_master", NULL, NULL,
                     NULL) != SQLITE_OK)
        r = db_fail(&s, NULL, err);
    if (r == XCR_OK) {
        xcr__tab_src src = {&s,          sq_tab_open, sq_tab_ncols,
                            sq_tab_colname, sq_tab_loc,  sq_tab_next,
                            sq_tab_cell, sq_tab_close};
        r = xcr__tables_load(&src, path, a, out, err);
    }
    sqlite3_close(s.db);
    return r;
}

/* MARK: writing ------------------------------------------------------------------ */

typedef struct sq_sink {
    sqlite3 *db;
    sqlite3_stmt *ins;
    const xcr__table *t;
    const char *path;           /* the final path, for messages             */
} sq_sink;

static xcr_status sink_fail(const sq_sink *k, xcr_error *err)
{
    const char *why = k->db ? sqlite3_errmsg(k->db) : "out of memory";
    if (k->t)
        return xcr__fail(err, XCR_EDB, "%s: table %s: %s", k->path,
                         k->t->name, why);
    return xcr__fail(err, XCR_EDB, "%s: %s", k->path, why);
}

static xcr_status sq_begin(void *ctx, const xcr__table *t, xcr_error *err)
{
    sq_sink *k = ctx;
    k->t = t;
    /* a few hundred bytes per table at most */
    char create[1024], ins[512];
    size_t cn = (size_t)snprintf(create, sizeof create, "CREATE TABLE \"%s\" (",
                                 t->name);
    size_t in = (size_t)snprintf(ins, sizeof ins, "INSERT INTO \"%s\" VALUES (",
                                 t->name);
    for (size_t i = 0; i < t->ncols && cn < sizeof create &&
                       in < sizeof ins; i++) {
        cn += (size_t)snprintf(create + cn, sizeof create - cn, "%s\"%s\" %s",
                               i ? ", " : "", t->cols[i].name,
                               t->cols[i].sql_type);
        in += (size_t)snprintf(ins + in, sizeof ins - in, "%s?",
                               i ? ", " : "");
    }
    if (cn + 2 >= sizeof create || in + 2 >= sizeof ins)
        return xcr__fail(err, XCR_EINTERNAL, "table %s: schema too wide",
                         t->name);
    memcpy(create + cn, ")", 2);
    memcpy(ins + in, ")", 2);
    if (sqlite3_exec(k->db, create, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(k->db, ins, -1, &k->ins, NULL) != SQLITE_OK)
        return sink_fail(k, err);
    return XCR_OK;
}

static xcr_status sq_row(void *ctx, const xcr__cell *c, xcr_error *err)
{
    sq_sink *k = ctx;
    int rc = SQLITE_OK;
    for (size_t i = 0; i < k->t->ncols && rc == SQLITE_OK; i++) {
        int p = (int)i + 1;
        switch (c[i].type) {
        case XCR__CELL_TEXT:
            rc = sqlite3_bind_text(k->ins, p, c[i].text, -1, SQLITE_STATIC);
            break;
        case XCR__CELL_INT:
        case XCR__CELL_BOOL:
            rc = sqlite3_bind_int64(k->ins, p, c[i].i);
            break;
        case XCR__CELL_REAL:
            rc = sqlite3_bind_double(k->ins, p, c[i].d);
            break;
        default:
            rc = sqlite3_bind_null(k->ins, p);
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(k->ins) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(k->ins);
    return rc == SQLITE_OK ? XCR_OK : sink_fail(k, err);
}

static xcr_status sq_end(void *ctx, xcr_error *err)
{
    sq_sink *k = ctx;
    (void)err;
    sqlite3_finalize(k->ins);
    k->ins = NULL;
    k->t = NULL;
    return XCR_OK;
}

static void unlink_db_files(const char *p)
{
    char j[4200];
    unlink(p);
    int n = snprintf(j, sizeof j, "%s-journal", p);
    if (n > 0 && (size_t)n < sizeof j)
        unlink(j);
}

xcr_status xcr__book_save_sqlite(const xcr_book *b, const char *path,
                                 xcr_error *err)
{
    if (!b || !path || !path[0])
        return xcr__fail(err, XCR_EINVAL, "NULL book or empty path");
    if (!b->finalized)
        return xcr__fail(err, XCR_EINVAL, "the book must be finalized");
    const xcr_allocator *a = b->alloc;
    char suffix[40];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    size_t tn = strlen(path) + strlen(suffix) + 1;
    char *tmp = xcr__malloc(a, tn);
    if (!tmp)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    snprintf(tmp, tn, "%s%s", path, suffix);
    /* A leftover of a crashed run of a process with our pid: the name is
     * ours, so it is safe to remove; SQLite would otherwise append to it. */
    unlink_db_files(tmp);

    sq_sink k = {NULL, NULL, NULL, path};
    xcr_status s = XCR_OK;
    if (sqlite3_open_v2(tmp, &k.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK)
        s = xcr__fail(err, XCR_EDB, "%s: cannot create %s: %s", path, tmp,
                      k.db ? sqlite3_errmsg(k.db) : "out of memory");
    /* The journal only guards a file we delete on failure anyway. */
    if (s == XCR_OK &&
        sqlite3_exec(k.db, "PRAGMA journal_mode=MEMORY; BEGIN", NULL, NULL,
                     NULL) != SQLITE_OK)
        s = sink_fail(&k, err);
    if (s == XCR_OK) {
        xcr__tab_sink sink = {&k, sq_begin, sq_row, sq_end};
        s = xcr__tables_save(b, &sink, err);
        sqlite3_finalize(k.ins);
        k.ins = NULL;
        k.t = NULL;
    }
    if (s == XCR_OK &&
        sqlite3_exec(k.db,
                     "CREATE INDEX balances_account ON balances(account);"
                     "CREATE INDEX positions_account ON positions(account);"
                     "COMMIT",
                     NULL, NULL, NULL) != SQLITE_OK)
        s = sink_fail(&k, err);
    if (k.db && sqlite3_close(k.db) != SQLITE_OK && s == XCR_OK)
        s = xcr__fail(err, XCR_EDB, "%s: cannot close %s", path, tmp);
    if (s == XCR_OK && rename(tmp, path) != 0)
        s = xcr__fail(err, XCR_EIO, "%s: cannot move %s into place: %s",
                      path, tmp, strerror(errno));
    if (s != XCR_OK)
        unlink_db_files(tmp);
    xcr__free(a, tmp);
    return s;
}
