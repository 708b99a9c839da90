/* `xcr serve` end to end: the real binary (XCR_CLI_PATH) on a free loopback
 * port, driven over HTTP (tests/support/http_client.h):
 *  - ticks → alerts and tick events in the SSE stream;
 *  - unauthorised writes get 401 and change nothing;
 *  - malformed requests get 400 (413 when too large) and change nothing;
 *  - one account's JSON is byte for byte `xcr margin --account ID`;
 *  - kill -9 mid-ingest, restart: no acknowledged update is lost;
 *  - SIGTERM shuts down gracefully (exit 0, state closed and resumable);
 *  - ticks from stdin (`--ticks -`);
 *  - the PostgreSQL backend, when XCR_TEST_PG_URI names a reachable server. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "test_support.h"

#define AUTH "Authorization: Bearer s3cret-token\r\n"

static char *dir;
static char token_path[4200];

static void setup(void)
{
    dir = xt_temp_dir();
    snprintf(token_path, sizeof token_path, "%s/token", dir);
    FILE *f = fopen(token_path, "w");
    cr_assert_not_null(f);
    fputs("s3cret-token\n", f);
    fclose(f);
}

static void teardown(void)
{
    xt_rm_rf(dir);
    free(dir);
}

static void start(hc_server *sv, const char *const *args, int with_stdin)
{
    int r = hc_start(sv, XCR_CLI_PATH, dir, args, with_stdin);
    if (r != 0) {
        char *log = xt_read_file(sv->log);
        cr_assert_fail("xcr serve did not start: %s", log ? log : "(no log)");
    }
}

/* SIGTERM and wait; the server's log must hold no sanitizer report (ASan
 * builds: leaks are reported at exit).  Returns the wait status. */
static int finish(hc_server *sv)
{
    int ws = hc_stop(sv, SIGTERM, 60);
    char *log = xt_read_file(sv->log);
    cr_assert(log && !strstr(log, "Sanitizer") && !strstr(log, "runtime error"),
              "server log: %s", log ? log : "(none)");
    free(log);
    return ws;
}

static hc_resp req(const hc_server *sv, const char *m, const char *path,
                   const char *hdr, const char *body)
{
    return hc_request(sv->port, m, path, hdr, body, 60);
}

/* One request whose only check is its HTTP status. */
static void expect_status(const hc_server *sv, const char *m, const char *path,
                          const char *hdr, const char *body, int status)
{
    hc_resp r = req(sv, m, path, hdr, body);
    cr_assert_eq(r.status, status, "%s %s: %d, expected %d: %s", m, path,
                 r.status, status, r.body ? r.body : "");
    hc_free(&r);
}

static long long seq_of(const hc_server *sv)
{
    hc_resp r = req(sv, "GET", "/healthz", NULL, NULL);
    cr_assert_eq(r.status, 200);
    long long s = -1;
    const char *p = strstr(r.body, "\"seq\": ");
    cr_assert_not_null(p, "%s", r.body);
    sscanf(p + 7, "%lld", &s);
    hc_free(&r);
    return s;
}

static char *summary_of(const hc_server *sv)
{
    hc_resp r = req(sv, "GET", "/v1/summary", NULL, NULL);
    cr_assert_eq(r.status, 200);
    /* recompute_ms is a timing, not state */
    char *p = strstr(r.body, ", \"recompute_ms\"");
    if (p)
        *p = '\0';
    return r.body;
}

static double price_of(const char *summary, const char *sym)
{
    char key[32];
    snprintf(key, sizeof key, "\"%s\": ", sym);
    const char *p = strstr(strstr(summary, "\"prices\""), key);
    cr_assert_not_null(p);
    return strtod(p + strlen(key), NULL);
}

/* MARK: stream ------------------------------------------------------------- */

Test(serve, ticks_raise_alerts_in_the_stream, .init = setup, .fini = teardown)
{
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "300",
                          NULL};
    start(&sv, args, 0);
    int s = hc_connect(sv.port);
    cr_assert_geq(s, 0);
    const char *get = "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(hc_send_all(s, get, strlen(get)), 0);
    /* the stream's opening comment: subscribed from now on */
    static char buf[1 << 22];
    size_t len = 0;
    buf[0] = '\0';
    double end = hc_now() + 30;
    while (!strstr(buf, ": xcr serve stream") && hc_now() < end) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) {
            ssize_t k = recv(s, buf + len, sizeof buf - len - 1, 0);
            cr_assert_gt(k, 0);
            len += (size_t)k;
        }
        buf[len] = '\0';
    }
    cr_assert(strstr(buf, "text/event-stream"), "%s", buf);
    hc_resp r = req(&sv, "POST", "/v1/prices", AUTH,
                    "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 30000}, "
                    "{\"symbol\": \"ETH\", \"price\": 1500, \"vol\": 0.9}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    long long recomputed = -1, alerts = -1;
    cr_assert(sscanf(strstr(r.body, "\"recomputed\""),
                     "\"recomputed\": %lld, \"alerts\": %lld", &recomputed,
                     &alerts) == 2,
              "%s", r.body);
    cr_assert_gt(recomputed, 0);
    cr_assert_gt(alerts, 0, "a 55 %% BTC crash raises alerts");
    hc_free(&r);
    len = 0;
    buf[0] = '\0';
    end = hc_now() + 30;
    const char *te = NULL;
    while (!(strstr(buf, "event: alert\ndata: {\"seq\": ") &&
             (te = strstr(buf, "event: tick\ndata: {\"seq\": 1,")) &&
             strstr(te, "recompute_ms")) &&
           hc_now() < end && len < sizeof buf - 1) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) {
            ssize_t k = recv(s, buf + len, sizeof buf - len - 1, 0);
            if (k <= 0)
                break;
            len += (size_t)k;
            buf[len] = '\0';
        }
    }
    close(s);
    cr_assert(strstr(buf, "event: alert\ndata: {\"seq\": "), "%.2000s", buf);
    cr_assert(strstr(buf, "event: tick\ndata: {\"seq\": 1,"), "%.2000s", buf);
    cr_assert(strstr(buf, "\"BTC\": 30000"), "tick event carries prices");
    /* the same alerts through the log */
    r = req(&sv, "GET", "/v1/alerts?since=1&limit=5", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"seq\": 1,") && strstr(r.body, "\"next\": 6"),
              "%s", r.body);
    hc_free(&r);
    r = req(&sv, "GET", "/metrics", NULL, NULL);
    cr_assert(strstr(r.body, "xcr_ticks_total 2\n") &&
                  strstr(r.body, "xcr_tick_recompute_seconds_count 1\n") &&
                  strstr(r.body, "xcr_accounts{status=\"healthy\"}"),
              "%s", r.body);
    hc_free(&r);
    cr_assert_eq(WEXITSTATUS(finish(&sv)), 0);
}

/* MARK: auth ---------------------------------------------------------------- */

Test(serve, unauthorised_writes_get_401, .init = setup, .fini = teardown)
{
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "100",
                          NULL};
    start(&sv, args, 0);
    char *before = summary_of(&sv);
    const char *tick = "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 1000}]}";
    const char *acct = "{\"id\": \"z\", \"mode\": \"cross\", \"balances\": "
                       "{\"USDT\": 5}}";
    const char *hdrs[] = {NULL, "Authorization: Bearer wrong\r\n",
                          "Authorization: s3cret-token\r\n",
                          "Authorization: Bearer s3cret-token-longer\r\n"};
    for (int k = 0; k < 4; k++) {
        hc_resp r = req(&sv, "POST", "/v1/prices", hdrs[k], tick);
        cr_assert_eq(r.status, 401, "%d: %s", k, r.body);
        cr_assert(strstr(r.body, "\"error\""));
        hc_free(&r);
        expect_status(&sv, "POST", "/v1/accounts", hdrs[k], acct, 401);
        expect_status(&sv, "PUT", "/v1/accounts/acct-000001", hdrs[k], acct, 401);
        expect_status(&sv, "DELETE", "/v1/accounts/acct-000001", hdrs[k], NULL, 401);
    }
    cr_assert_eq(seq_of(&sv), 0);
    char *after = summary_of(&sv);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    finish(&sv);

    /* --auth-reads: reads need the token too */
    const char *args2[] = {"--token-file", token_path, "--accounts", "50",
                           "--auth-reads", NULL};
    start(&sv, args2, 0);
    hc_resp r = req(&sv, "GET", "/v1/summary", NULL, NULL);
    cr_assert_eq(r.status, 401);
    hc_free(&r);
    expect_status(&sv, "GET", "/v1/summary", AUTH, NULL, 200);
    finish(&sv);
}

/* MARK: malformed -------------------------------------------------------------- */

Test(serve, malformed_requests_get_400_and_change_nothing, .init = setup,
     .fini = teardown)
{
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "100",
                          "--max-body", "4096", NULL};
    start(&sv, args, 0);
    char *before = summary_of(&sv);
    static const char *const bad_ticks[] = {
        "",
        "{",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": NaN}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 0}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": -100}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 60000}, {\"symbol\": "
        "\"NOPE\", \"price\": 1}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 1e999}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\"}]}",
        "{\"ticks\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    };
    for (size_t k = 0; k < sizeof bad_ticks / sizeof bad_ticks[0]; k++) {
        hc_resp r = req(&sv, "POST", "/v1/prices", AUTH, bad_ticks[k]);
        cr_assert_eq(r.status, 400, "%s → %d %s", bad_ticks[k], r.status,
                     r.body);
        cr_assert(strstr(r.body, "{\"error\": \"") != NULL, "%s", r.body);
        hc_free(&r);
    }
    static const char *const bad_accounts[] = {
        "[]",
        "{\"id\": \"q\", \"mode\": \"cross\", \"balances\": {\"NOPE\": 1}}",
        "{\"id\": \"q\", \"mode\": \"sideways\"}",
        "{\"id\": \"q\", \"mode\": \"cross\", \"positions\": [{\"instrument\": "
        "\"BTCUSDT\", \"size\": 1e308}, {\"instrument\": \"BTCUSDT\", "
        "\"size\": 1e308}]}",
    };
    for (size_t k = 0; k < sizeof bad_accounts / sizeof bad_accounts[0];
         k++) {
        hc_resp r = req(&sv, "POST", "/v1/accounts", AUTH, bad_accounts[k]);
        cr_assert_eq(r.status, 400, "%s → %d %s", bad_accounts[k], r.status,
                     r.body);
        hc_free(&r);
    }
    hc_resp r = req(&sv, "PUT", "/v1/accounts/other", AUTH,
                    "{\"id\": \"q\", \"mode\": \"cross\"}");
    cr_assert_eq(r.status, 400, "id mismatch");
    hc_free(&r);
    expect_status(&sv, "GET", "/v1/accounts?sort=size", NULL, NULL, 400);
    expect_status(&sv, "GET", "/v1/alerts?since=abc", NULL, NULL, 400);
    expect_status(&sv, "POST", "/v1/stress", NULL, "{\"scenario\": \"nope\"}", 400);
    /* too large */
    char *big = malloc(10000);
    memset(big, ' ', 9999);
    big[9999] = '\0';
    big[0] = '{';
    big[9998] = '}';
    expect_status(&sv, "POST", "/v1/prices", AUTH, big, 413);
    free(big);
    /* routes */
    expect_status(&sv, "GET", "/v1/nothing", NULL, NULL, 404);
    expect_status(&sv, "GET", "/v1/accounts/nobody", NULL, NULL, 404);
    expect_status(&sv, "DELETE", "/v1/accounts/nobody", AUTH, NULL, 404);
    expect_status(&sv, "GET", "/v1/prices", NULL, NULL, 405);
    cr_assert_eq(seq_of(&sv), 0);
    char *after = summary_of(&sv);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    r = req(&sv, "GET", "/metrics", NULL, NULL);
    cr_assert(strstr(r.body, "xcr_http_requests_total{code=\"400\"} 17\n"),
              "%s", r.body);
    hc_free(&r);
    finish(&sv);
}

/* MARK: one account -------------------------------------------------------------- */

Test(serve, account_json_is_xcr_margin_json, .init = setup, .fini = teardown)
{
    hc_server sv;
    const char *args[] = {"--token-file", token_path, NULL};
    start(&sv, args, 0); /* the demo book, as `xcr margin` without BOOK */
    hc_resp r = req(&sv, "GET", "/v1/accounts/acct-000007", NULL, NULL);
    cr_assert_eq(r.status, 200);
    char *out = NULL;
    cr_assert_eq(xt_run(XCR_CLI_PATH " margin --account acct-000007 --format "
                                     "json",
                        &out, NULL),
                 0);
    const char *obj = strstr(out, "[\n  ") + 4;
    const char *end = strstr(out, "\n ],\n \"summary\"");
    size_t len = (size_t)(end - obj);
    const char *mine = r.body + strlen("{\"account\": ");
    cr_assert(strncmp(mine, obj, len) == 0 &&
                  strncmp(mine + len, ",\n \"explain\": \"", 15) == 0,
              "server:\n%.600s\ncli:\n%.600s", mine, obj);
    free(out);
    hc_free(&r);
    /* the risk views and the dashboard answer (their numbers are checked
     * against the stress API in test_monitor.c) */
    r = req(&sv, "GET", "/v1/lar", NULL, NULL);
    cr_assert(r.status == 200 && strstr(r.body, "{\"points\": ["), "%s",
              r.body);
    hc_free(&r);
    r = req(&sv, "GET", "/v1/exposure", NULL, NULL);
    cr_assert(r.status == 200 && strstr(r.body, "\"assets\""), "%.300s",
              r.body);
    hc_free(&r);
    r = req(&sv, "POST", "/v1/stress", NULL,
            "{\"scenario\": \"covid_2020_03_12\"}");
    cr_assert(r.status == 200 && strstr(r.body, "{\"scenarios\": 1"),
              "%.300s", r.body);
    hc_free(&r);
    r = req(&sv, "GET", "/", NULL, NULL);
    cr_assert(r.status == 200 && strstr(r.body, "<html"), "%.200s", r.body);
    hc_free(&r);
    r = req(&sv, "GET", "/v1/accounts?status=liquidatable&sort=health&limit=3",
            NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"total\": ") && strstr(r.body, "liquidatable"),
              "%s", r.body);
    hc_free(&r);
    finish(&sv);
}

/* MARK: kill -9 mid-ingest ---------------------------------------------------------- */

typedef struct ingest {
    int port;
    volatile int stop;
    volatile long acked;     /* last acknowledged k (BTC = 50000 + k)     */
    volatile long long seq;  /* its update seq                            */
} ingest;

static void *ingest_main(void *arg)
{
    ingest *in = arg;
    for (long k = 1; !in->stop; k++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": %ld}]}",
                 50000 + k);
        hc_resp r = hc_request(in->port, "POST", "/v1/prices", AUTH, body, 10);
        long long seq = -1;
        if (r.status == 200 && r.body &&
            sscanf(r.body, "{\"seq\": %lld", &seq) == 1) {
            in->seq = seq;
            in->acked = k;
        } else if (r.status < 0) {
            hc_free(&r);
            break; /* the server is gone */
        }
        hc_free(&r);
    }
    return NULL;
}

Test(serve, kill9_mid_ingest_loses_no_acknowledged_update, .init = setup,
     .fini = teardown)
{
    char db[4200];
    snprintf(db, sizeof db, "%s/state.db", dir);
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "2000",
                          "--db",         db,         NULL};
    start(&sv, args, 0);
    /* an upsert and a delete before the flood */
    hc_resp r = req(&sv, "POST", "/v1/accounts", AUTH,
                    "{\"id\": \"keep-me\", \"mode\": \"cross\", \"balances\": "
                    "{\"USDT\": 100}, \"positions\": [{\"instrument\": "
                    "\"BTCUSDT\", \"size\": 0.01}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    hc_free(&r);
    expect_status(&sv, "DELETE", "/v1/accounts/acct-000005", AUTH, NULL, 200);
    ingest in = {sv.port, 0, 0, 0};
    pthread_t th[2];
    ingest in2 = {sv.port, 0, 0, 0};
    pthread_create(&th[0], NULL, ingest_main, &in);
    pthread_create(&th[1], NULL, ingest_main, &in2);
    double end = hc_now() + 30;
    while ((in.acked < 20 || in2.acked < 20) && hc_now() < end)
        hc_sleep_ms(10);
    cr_assert_geq(in.acked, 20, "ingest too slow");
    hc_stop(&sv, SIGKILL, 30); /* mid-ingest */
    in.stop = in2.stop = 1;
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    long long acked_seq = in.seq > in2.seq ? in.seq : in2.seq;
    start(&sv, args, 0);
    long long seq = seq_of(&sv);
    cr_assert_geq(seq, acked_seq, "restart lost acknowledged updates: seq "
                                  "%lld < %lld",
                  seq, acked_seq);
    /* every acknowledged tick is in the log: the BTC price is the last one
     * applied, at least as recent as the last acknowledged of each feed */
    char *s = summary_of(&sv);
    double btc = price_of(s, "BTC");
    double lo = 50000.0 + (double)(in.acked < in2.acked ? in.acked : in2.acked);
    cr_assert_geq(btc, lo, "BTC %g", btc);
    free(s);
    expect_status(&sv, "GET", "/v1/accounts/keep-me", NULL, NULL, 200);
    expect_status(&sv, "GET", "/v1/accounts/acct-000005", NULL, NULL, 404);
    /* and the resumed state takes new updates */
    expect_status(&sv, "POST", "/v1/prices", AUTH,
            "{\"ticks\": [{\"symbol\": \"ETH\", \"price\": 2000}]}", 200);
    cr_assert_eq(seq_of(&sv), seq + 1);
    cr_assert_eq(WEXITSTATUS(finish(&sv)), 0);
}

/* MARK: SIGTERM -------------------------------------------------------------------------- */

Test(serve, sigterm_shuts_down_gracefully, .init = setup, .fini = teardown)
{
    char db[4200];
    snprintf(db, sizeof db, "%s/state.db", dir);
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "100",
                          "--db",         db,         NULL};
    start(&sv, args, 0);
    /* a stream is open while the server stops */
    int s = hc_connect(sv.port);
    const char *get = "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    hc_send_all(s, get, strlen(get));
    hc_resp r = req(&sv, "PUT", "/v1/accounts/acct-000003", AUTH,
                    "{\"mode\": \"cross\", \"balances\": {\"USDT\": 7}}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    hc_free(&r);
    int ws = finish(&sv);
    close(s);
    cr_assert(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
              "status %d", ws);
    char *log = xt_read_file(sv.log);
    cr_assert(strstr(log, "xcr serve: stopped"), "%s", log);
    free(log);
    start(&sv, args, 0);
    cr_assert_eq(seq_of(&sv), 1);
    r = req(&sv, "GET", "/v1/accounts/acct-000003", NULL, NULL);
    cr_assert(strstr(r.body, "\"equity\": 7,"), "%.300s", r.body);
    hc_free(&r);
    finish(&sv);
}

/* MARK: stdin ticks ------------------------------------------------------------------------ */

Test(serve, ticks_from_stdin, .init = setup, .fini = teardown)
{
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "100",
                          "--ticks",      "-",        NULL};
    start(&sv, args, 1);
    const char *lines = "{\"symbol\": \"BTC\", \"price\": 61000}\n"
                        "{\"symbol\": \"BTC\", \"price\": -1}\n"
                        "{\"ticks\": [{\"symbol\": \"ETH\", \"price\": "
                        "3000}]}\n";
    cr_assert_eq(write(sv.stdin_fd, lines, strlen(lines)),
                 (ssize_t)strlen(lines));
    double end = hc_now() + 30;
    while (seq_of(&sv) < 2 && hc_now() < end)
        hc_sleep_ms(20);
    cr_assert_eq(seq_of(&sv), 2);
    char *s = summary_of(&sv);
    cr_assert_float_eq(price_of(s, "BTC"), 61000, 1e-9);
    cr_assert_float_eq(price_of(s, "ETH"), 3000, 1e-9);
    free(s);
    finish(&sv);
    char *log = xt_read_file(sv.log);
    cr_assert(strstr(log, "stdin line 2: request: $.price"), "%s", log);
    free(log);
}

/* MARK: PostgreSQL ---------------------------------------------------------------------------- */

Test(serve, postgres_backend, .init = setup, .fini = teardown)
{
    const char *uri = getenv("XCR_TEST_PG_URI");
    if (!uri || !*uri) {
        cr_skip_test("XCR_TEST_PG_URI is not set: no PostgreSQL server to "
                     "test against");
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "psql '%s' -q -c 'DROP TABLE IF EXISTS book, updates, alerts'",
             uri);
    if (xt_run(cmd, NULL, NULL) != 0) {
        cr_skip_test("PostgreSQL at XCR_TEST_PG_URI is unreachable");
        return;
    }
    hc_server sv;
    const char *args[] = {"--token-file", token_path, "--accounts", "200",
                          "--pg",         uri,        NULL};
    int st = hc_start(&sv, XCR_CLI_PATH, dir, args, 0);
    if (st != 0) {
        char *log = xt_read_file(sv.log);
        if (log && strstr(log, "no PostgreSQL support")) {
            free(log);
            cr_skip_test("this build has no libpq");
            return;
        }
        cr_assert_fail("xcr serve --pg did not start: %s", log ? log : "");
    }
    hc_resp r = req(&sv, "POST", "/v1/prices", AUTH,
                    "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 35000}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    hc_free(&r);
    r = req(&sv, "POST", "/v1/accounts", AUTH,
            "{\"id\": \"pg-1\", \"mode\": \"cross\", \"balances\": {\"USDT\": "
            "1}}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    hc_free(&r);
    char *before = summary_of(&sv);
    r = req(&sv, "GET", "/v1/alerts?since=1&limit=10000", NULL, NULL);
    char *alerts_before = r.body;
    hc_stop(&sv, SIGKILL, 30);
    start(&sv, args, 0);
    cr_assert_eq(seq_of(&sv), 2);
    char *after = summary_of(&sv);
    cr_assert_str_eq(after, before);
    r = req(&sv, "GET", "/v1/alerts?since=1&limit=10000", NULL, NULL);
    cr_assert_str_eq(r.body, alerts_before);
    hc_free(&r);
    free(alerts_before);
    free(before);
    free(after);
    finish(&sv);
}
