/* PostgreSQL persistence of the live monitor (libpq; built only when
 * pkg-config finds libpq).  The same logs as the SQLite backend — `updates`
 * and `alerts`, with PostgreSQL column types — and the imported book as its
 * JSON text in `book` (one row).  Every append is one transaction; with the
 * server's default synchronous_commit it is durable when COMMIT returns. */
#include "monitor_int.h"

#ifdef XCR_HAVE_LIBPQ

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_store {
    xcr__store base;
    PGconn *db;
} pg_store;

static xcr_status pg_fail(pg_store *s, PGresult *r, xcr_error *err,
                          const char *what)
{
    xcr_status st = xcr__fail(err, XCR_EDB, "postgresql: %s: %s", what,
                              PQerrorMessage(s->db));
    /* one line: libpq messages end with a newline */
    if (err)
        for (char *p = err->msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
    PQclear(r);
    return st;
}

static xcr_status pg_exec(pg_store *s, const char *sql, xcr_error *err)
{
    PGresult *r = PQexec(s->db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(s, r, err, sql);
    PQclear(r);
    return XCR_OK;
}

static const char *const schema =
    "SET client_min_messages = warning;"
    "CREATE TABLE IF NOT EXISTS book (id INTEGER PRIMARY KEY, json TEXT NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS updates (seq BIGINT PRIMARY KEY, time DOUBLE "
    "PRECISION NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alerts (seq BIGINT PRIMARY KEY, update_seq "
    "BIGINT NOT NULL, time DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, "
    "account TEXT NOT NULL, from_status TEXT NOT NULL, to_status TEXT NOT "
    "NULL, health DOUBLE PRECISION, level DOUBLE PRECISION);";

static xcr_status pgs_load_book(xcr__store *st, xcr_book **out,
                                xcr_error *err)
{
    pg_store *s = (pg_store *)st;
    PGresult *r = PQexec(s->db, "SELECT json FROM book WHERE id = 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(s, r, err, "reading the book");
    if (PQntuples(r) == 0) {
        PQclear(r);
        return XCR_ENOTFOUND;
    }
    const char *j = PQgetvalue(r, 0, 0);
    xcr_status rs = xcr_book_load_json_text(j, strlen(j), "postgresql book",
                                            NULL, out, err);
    PQclear(r);
    return rs;
}

static xcr_status pgs_save_book(xcr__store *st, const xcr_book *b,
                                xcr_error *err)
{
    pg_store *s = (pg_store *)st;
    char *j = NULL;
    TRY(xcr_book_to_json_text(b, &j, err));
    const char *p[1] = {j};
    PGresult *r = PQexecParams(s->db,
                               "INSERT INTO book (id, json) VALUES (1, $1) "
                               "ON CONFLICT (id) DO UPDATE SET json = $1",
                               1, NULL, p, NULL, NULL, 0);
    free(j);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(s, r, err, "saving the book");
    PQclear(r);
    return XCR_OK;
}

static xcr_status pgs_replay(xcr__store *st, xcr__replay_fn fn, void *ctx,
                             xcr_error *err)
{
    pg_store *s = (pg_store *)st;
    PGresult *r = PQexec(s->db, "SELECT seq, time, kind, body FROM updates "
                                "ORDER BY seq");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(s, r, err, "reading updates");
    xcr_status rs = XCR_OK;
    for (int i = 0; i < PQntuples(r) && rs == XCR_OK; i++)
        rs = fn(ctx, strtoull(PQgetvalue(r, i, 0), NULL, 10),
                strtod(PQgetvalue(r, i, 1), NULL), PQgetvalue(r, i, 2),
                PQgetvalue(r, i, 3), err);
    PQclear(r);
    return rs;
}

static uint8_t status_of(const char *t)
{
    for (int k = 0; k < 4; k++)
        if (strcmp(t, xcr_acct_status_name((xcr_acct_status)k)) == 0)
            return (uint8_t)k;
    return 0;
}

static double num_or_nan(PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? NAN : strtod(PQgetvalue(r, i, c), NULL);
}

static xcr_status pgs_load_alerts(xcr__store *st, size_t n,
                                  void (*fn)(void *ctx, const xcr__alert *a),
                                  void *ctx, xcr_error *err)
{
    pg_store *s = (pg_store *)st;
    char lim[32];
    snprintf(lim, sizeof lim, "%zu", n);
    const char *p[1] = {lim};
    PGresult *r = PQexecParams(
        s->db,
        "SELECT * FROM (SELECT seq, update_seq, time, kind, account, "
        "from_status, to_status, health, level FROM alerts ORDER BY seq DESC "
        "LIMIT $1::bigint) t ORDER BY seq",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(s, r, err, "reading alerts");
    for (int i = 0; i < PQntuples(r); i++) {
        xcr__alert a;
        memset(&a, 0, sizeof a);
        a.seq = strtoull(PQgetvalue(r, i, 0), NULL, 10);
        a.update_seq = strtoull(PQgetvalue(r, i, 1), NULL, 10);
        a.time = strtod(PQgetvalue(r, i, 2), NULL);
        a.kind = strcmp(PQgetvalue(r, i, 3), "health_level") == 0;
        snprintf(a.account, sizeof a.account, "%s", PQgetvalue(r, i, 4));
        a.from = status_of(PQgetvalue(r, i, 5));
        a.to = status_of(PQgetvalue(r, i, 6));
        a.health = num_or_nan(r, i, 7);
        a.level = num_or_nan(r, i, 8);
        fn(ctx, &a);
    }
    PQclear(r);
    return XCR_OK;
}

static void fmt_num(double v, char *buf, size_t n)
{
    if (isinf(v))
        snprintf(buf, n, "%sInfinity", v < 0 ? "-" : "");
    else
        xcr__fmt_double(v, buf, n);
}

static xcr_status pgs_append(xcr__store *st, uint64_t seq, double time,
                             const char *kind, const char *body,
                             const xcr__alert *al, size_t n, xcr_error *err)
{
    pg_store *s = (pg_store *)st;
    TRY(pg_exec(s, "BEGIN", err));
    char sq[32], tm[40];
    snprintf(sq, sizeof sq, "%llu", (unsigned long long)seq);
    xcr__fmt_double(time, tm, sizeof tm);
    const char *p[4] = {sq, tm, kind, body};
    PGresult *r = PQexecParams(s->db,
                               "INSERT INTO updates (seq, time, kind, body) "
                               "VALUES ($1, $2, $3, $4)",
                               4, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    for (size_t k = 0; k < n && ok; k++) {
        char a1[32], a2[32], a3[40], h[40], l[40];
        snprintf(a1, sizeof a1, "%llu", (unsigned long long)al[k].seq);
        snprintf(a2, sizeof a2, "%llu", (unsigned long long)al[k].update_seq);
        xcr__fmt_double(al[k].time, a3, sizeof a3);
        fmt_num(al[k].health, h, sizeof h);
        fmt_num(al[k].level, l, sizeof l);
        const char *q[9] = {a1, a2, a3,
                            al[k].kind ? "health_level" : "status",
                            al[k].account,
                            xcr_acct_status_name(al[k].from),
                            xcr_acct_status_name(al[k].to),
                            isnan(al[k].health) ? NULL : h,
                            isnan(al[k].level) ? NULL : l};
        r = PQexecParams(s->db,
                         "INSERT INTO alerts (seq, update_seq, time, kind, "
                         "account, from_status, to_status, health, level) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                         9, NULL, q, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok) {
        xcr_status e = pg_fail(s, NULL, err, "logging the update");
        pg_exec(s, "ROLLBACK", NULL);
        return e;
    }
    return pg_exec(s, "COMMIT", err);
}

static void pgs_close(xcr__store *st)
{
    pg_store *s = (pg_store *)st;
    PQfinish(s->db);
    free(s);
}

static const xcr__store_ops pg_ops = {pgs_load_book, pgs_save_book,
                                      pgs_replay,    pgs_load_alerts,
                                      pgs_append,    pgs_close};

xcr_status xcr__store_pg_open(const char *uri, xcr__store **out,
                              xcr_error *err)
{
    pg_store *s = calloc(1, sizeof *s);
    if (!s)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    s->base.ops = &pg_ops;
    s->db = PQconnectdb(uri);
    if (PQstatus(s->db) != CONNECTION_OK) {
        xcr_status e = pg_fail(s, NULL, err, "cannot connect");
        pgs_close(&s->base);
        return e;
    }
    xcr_status e = pg_exec(s, schema, err);
    if (e != XCR_OK) {
        pgs_close(&s->base);
        return e;
    }
    *out = &s->base;
    return XCR_OK;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int xcr__store_pg_unused;
#endif
