/* SQLite persistence of the live monitor.  One file holds the book (the
 * book tables of spec §3, written by the book writer, so the file is also
 * a valid xcr book of the imported state), the `updates` log and the
 * `alerts` log.  WAL mode with synchronous=FULL: an update is on disk when
 * append() returns, before the HTTP reply. */
#include "../io/io.h"
#include "monitor_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sq_store {
    xcr__store base;
    char *path;
    sqlite3 *db;
    sqlite3_stmt *ins_update, *ins_alert;
} sq_store;

static xcr_status db_fail(sq_store *s, xcr_error *err, const char *what)
{
    return xcr__fail(err, XCR_EDB, "%s: %s: %s", s->path, what,
                     s->db ? sqlite3_errmsg(s->db) : "cannot open");
}

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY, "
    "time REAL NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alerts (seq INTEGER PRIMARY KEY, "
    "update_seq INTEGER NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL, "
    "account TEXT NOT NULL, from_status TEXT NOT NULL, "
    "to_status TEXT NOT NULL, health REAL, level REAL);";

/* Open the connection (after the book tables exist). */
static xcr_status ensure_db(sq_store *s, xcr_error *err)
{
    if (s->db)
        return XCR_OK;
    if (sqlite3_open_v2(s->path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot open");
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot create the log tables");
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO updates (seq, time, kind, body) "
                           "VALUES (?1, ?2, ?3, ?4)",
                           -1, &s->ins_update, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO alerts (seq, update_seq, time, kind, "
                           "account, from_status, to_status, health, level) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &s->ins_alert, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot prepare");
    return XCR_OK;
}

static xcr_status sq_load_book(xcr__store *st, xcr_book **out, xcr_error *err)
{
    sq_store *s = (sq_store *)st;
    struct stat sb;
    if (stat(s->path, &sb) != 0 || sb.st_size == 0)
        return XCR_ENOTFOUND;
    /* a book lives here when the assets table exists */
    sqlite3 *db = NULL;
    bool has = false;
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY, NULL) ==
        SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT 1 FROM sqlite_master WHERE type = "
                               "'table' AND name = 'assets'",
                               -1, &q, NULL) == SQLITE_OK)
            has = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    if (!has)
        return XCR_ENOTFOUND;
    TRY(xcr__book_load_sqlite(s->path, NULL, out, err));
    return ensure_db(s, err);
}

static xcr_status sq_save_book(xcr__store *st, const xcr_book *b,
                               xcr_error *err)
{
    sq_store *s = (sq_store *)st;
    if (s->db) {
        sqlite3_finalize(s->ins_update);
        sqlite3_finalize(s->ins_alert);
        sqlite3_close(s->db);
        s->db = NULL;
        s->ins_update = s->ins_alert = NULL;
    }
    TRY(xcr__book_save_sqlite(b, s->path, err));
    return ensure_db(s, err);
}

static xcr_status sq_replay(xcr__store *st, xcr__replay_fn fn, void *ctx,
                            xcr_error *err)
{
    sq_store *s = (sq_store *)st;
    TRY(ensure_db(s, err));
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq, time, kind, body FROM updates "
                           "ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot read updates");
    xcr_status r = XCR_OK;
    int rc;
    while (r == XCR_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(q, 2);
        const char *body = (const char *)sqlite3_column_text(q, 3);
        r = fn(ctx, (uint64_t)sqlite3_column_int64(q, 0),
               sqlite3_column_double(q, 1), kind ? kind : "",
               body ? body : "", err);
    }
    if (r == XCR_OK && rc != SQLITE_DONE)
        r = db_fail(s, err, "cannot read updates");
    sqlite3_finalize(q);
    if (r != XCR_OK)
        xcr__error_prefix(err, s->path);
    return r;
}

static uint8_t status_of(const unsigned char *t)
{
    for (int k = 0; k < 4; k++)
        if (t && strcmp((const char *)t,
                        xcr_acct_status_name((xcr_acct_status)k)) == 0)
            return (uint8_t)k;
    return 0;
}

static xcr_status sq_load_alerts(xcr__store *st, size_t n,
                                 void (*fn)(void *ctx, const xcr__alert *a),
                                 void *ctx, xcr_error *err)
{
    sq_store *s = (sq_store *)st;
    TRY(ensure_db(s, err));
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT * FROM (SELECT seq, update_seq, time, "
                           "kind, account, from_status, to_status, health, "
                           "level FROM alerts ORDER BY seq DESC LIMIT ?1) "
                           "ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot read alerts");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)n);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        xcr__alert a;
        memset(&a, 0, sizeof a);
        a.seq = (uint64_t)sqlite3_column_int64(q, 0);
        a.update_seq = (uint64_t)sqlite3_column_int64(q, 1);
        a.time = sqlite3_column_double(q, 2);
        const char *kind = (const char *)sqlite3_column_text(q, 3);
        a.kind = kind && strcmp(kind, "health_level") == 0;
        const char *acc = (const char *)sqlite3_column_text(q, 4);
        snprintf(a.account, sizeof a.account, "%s", acc ? acc : "");
        a.from = status_of(sqlite3_column_text(q, 5));
        a.to = status_of(sqlite3_column_text(q, 6));
        a.health = sqlite3_column_type(q, 7) == SQLITE_NULL
                       ? NAN
                       : sqlite3_column_double(q, 7);
        a.level = sqlite3_column_type(q, 8) == SQLITE_NULL
                      ? NAN
                      : sqlite3_column_double(q, 8);
        fn(ctx, &a);
    }
    xcr_status r = rc == SQLITE_DONE ? XCR_OK
                                     : db_fail(s, err, "cannot read alerts");
    sqlite3_finalize(q);
    return r;
}

static xcr_status sq_append(xcr__store *st, uint64_t seq, double time,
                            const char *kind, const char *body,
                            const xcr__alert *al, size_t n, xcr_error *err)
{
    sq_store *s = (sq_store *)st;
    TRY(ensure_db(s, err));
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot begin");
    sqlite3_stmt *u = s->ins_update;
    sqlite3_reset(u);
    sqlite3_bind_int64(u, 1, (sqlite3_int64)seq);
    sqlite3_bind_double(u, 2, time);
    sqlite3_bind_text(u, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(u, 4, body, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(u) == SQLITE_DONE;
    for (size_t k = 0; k < n && ok; k++) {
        sqlite3_stmt *a = s->ins_alert;
        sqlite3_reset(a);
        sqlite3_bind_int64(a, 1, (sqlite3_int64)al[k].seq);
        sqlite3_bind_int64(a, 2, (sqlite3_int64)al[k].update_seq);
        sqlite3_bind_double(a, 3, al[k].time);
        sqlite3_bind_text(a, 4, al[k].kind ? "health_level" : "status", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(a, 5, al[k].account, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 6, xcr_acct_status_name(al[k].from), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(a, 7, xcr_acct_status_name(al[k].to), -1,
                          SQLITE_STATIC);
        if (isnan(al[k].health))
            sqlite3_bind_null(a, 8);
        else
            sqlite3_bind_double(a, 8, al[k].health);
        if (isnan(al[k].level))
            sqlite3_bind_null(a, 9);
        else
            sqlite3_bind_double(a, 9, al[k].level);
        ok = sqlite3_step(a) == SQLITE_DONE;
    }
    if (!ok || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        xcr_status r = db_fail(s, err, "cannot log the update");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return XCR_OK;
}

static void sq_close(xcr__store *st)
{
    sq_store *s = (sq_store *)st;
    sqlite3_finalize(s->ins_update);
    sqlite3_finalize(s->ins_alert);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const xcr__store_ops sq_ops = {sq_load_book, sq_save_book, sq_replay,
                                      sq_load_alerts, sq_append, sq_close};

xcr_status xcr__store_sqlite_open(const char *path, xcr__store **out,
                                  xcr_error *err)
{
    sq_store *s = calloc(1, sizeof *s);
    size_t n = strlen(path) + 1;
    char *p = malloc(n);
    if (!s || !p) {
        free(s);
        free(p);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    memcpy(p, path, n);
    s->base.ops = &sq_ops;
    s->path = p;
    *out = &s->base;
    return XCR_OK;
}
