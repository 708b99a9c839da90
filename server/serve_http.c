/* HTTP routes of `xcr serve` (docs/serve.md): parse the request, call the
 * monitor under the state mutex, write the reply.  No margin logic here. */
#include "serve.h"
#include "web_assets.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const int code_list[SERVE_CODES] = {200, 400, 401, 404, 405,
                                           413, 500, 503, 0};

static void count_code(serve_state *st, int code)
{
    int k = 0;
    while (code_list[k] && code_list[k] != code)
        k++;
    __atomic_fetch_add(&st->codes[k], 1, __ATOMIC_RELAXED);
}

static int reply(struct mg_connection *c, serve_state *st, int code,
                 const char *mime, const char *body, size_t len)
{
    count_code(st, code);
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", len);
    mg_response_header_start(c, code);
    mg_response_header_add(c, "Content-Type", mime, -1);
    mg_response_header_add(c, "Content-Length", cl, -1);
    mg_response_header_add(c, "Cache-Control", "no-store", -1);
    mg_response_header_send(c);
    if (len)
        mg_write(c, body, len);
    return code;
}

static int reply_json(struct mg_connection *c, serve_state *st, int code,
                      const char *body)
{
    return reply(c, st, code, "application/json", body, strlen(body));
}

/* {"error": "..."} with the message JSON-escaped. */
static int reply_error(struct mg_connection *c, serve_state *st, int code,
                       const char *msg)
{
    char buf[1200];
    size_t at = (size_t)snprintf(buf, sizeof buf, "{\"error\": \"");
    for (const unsigned char *p = (const unsigned char *)msg;
         *p && at + 8 < sizeof buf; p++) {
        if (*p == '"' || *p == '\\')
            at += (size_t)snprintf(buf + at, sizeof buf - at, "\\%c", *p);
        else if (*p < 0x20)
            at += (size_t)snprintf(buf + at, sizeof buf - at, "\\u%04x", *p);
        else
            buf[at++] = (char)*p;
    }
    snprintf(buf + at, sizeof buf - at, "\"}");
    return reply_json(c, st, code, buf);
}

static int status_code(xcr_status s)
{
    switch (s) {
    case XCR_OK:
        return 200;
    case XCR_ENOTFOUND:
        return 404;
    case XCR_EINVAL:
    case XCR_EPARSE:
    case XCR_EREF:
    case XCR_EDUP:
    case XCR_ERANGE:
        return 400;
    default:
        return 500;
    }
}

static int reply_status(struct mg_connection *c, serve_state *st,
                        xcr_status s, const xcr_error *err)
{
    return reply_error(c, st, status_code(s),
                       err->msg[0] ? err->msg : xcr_strerror(s));
}

/* Constant-time comparison of the bearer token. */
static bool authorised(struct mg_connection *c, const serve_state *st)
{
    const char *h = mg_get_header(c, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(st->token), m = strlen(h);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(st->token[i] ^ (i < m ? h[i] : 0));
    return diff == 0;
}

/* Read the body (at most max_body bytes): 0 ok, 413 too large, 400. */
static int read_body(struct mg_connection *c, const serve_state *st,
                     char **out, size_t *len)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    *out = NULL;
    *len = 0;
    if (ri->content_length > (long long)st->max_body)
        return 413;
    size_t cap = ri->content_length >= 0 ? (size_t)ri->content_length + 1
                                         : st->max_body + 2;
    char *b = malloc(cap);
    if (!b)
        return 500;
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap)
            break;
        int r = mg_read(c, b + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (n > st->max_body) {
        free(b);
        return 413;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

/* 503: the write queue is full or the server is stopping (EIO here). */
static xcr_status serve_busy(xcr_error *err)
{
    if (err) {
        err->code = XCR_EIO;
        snprintf(err->msg, sizeof err->msg,
                 "server busy or shutting down: retry later");
    }
    return XCR_EIO;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* MARK: publishing -------------------------------------------------------------- */

#define MAX_STREAM_ALERTS 1000

static const double hist_le[SERVE_HIST_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

void serve_publish_alerts(void *ctx, uint64_t first_alert, size_t n)
{
    serve_state *st = ctx;
    /* the stream carries at most MAX_STREAM_ALERTS alerts per update (the
     * newest); all of them stay in GET /v1/alerts and the log */
    uint64_t first = first_alert;
    if (n > MAX_STREAM_ALERTS)
        first += n - MAX_STREAM_ALERTS;
    for (uint64_t s = first; s < first_alert + n; s++) {
        char *j = NULL;
        if (xcr_monitor_alert_json(st->mon, s, &j, NULL) == XCR_OK)
            hub_publish(&st->hub, "alert", j);
        free(j);
    }
}

void serve_publish(serve_state *st, const xcr_update_result *r, bool tick)
{
    /* a tick's alerts went out from the monitor's hook as soon as they
     * were logged (serve_main.c sets on_tick_alerts), before its commit */
    if (!tick) {
        serve_publish_alerts(st, r->first_alert, r->alerts);
        return;
    }
    double sec = r->recompute_ms / 1e3;
    size_t k = 0;
    while (k < SERVE_HIST_BUCKETS && sec > hist_le[k])
        k++;
    st->hist[k]++;
    st->hist_sum += sec;
    st->hist_count++;
    char *j = NULL;
    if (xcr_monitor_tick_json(st->mon, &j, NULL) == XCR_OK)
        hub_publish(&st->hub, "tick", j);
    free(j);
}

typedef struct ticks_job {
    serve_state *st;
    const char *text;
    size_t len;
    xcr_update_result *r;
    xcr_error *err;
    xcr_status s;
} ticks_job;

static void ticks_run(void *arg)
{
    ticks_job *j = arg;
    serve_state *st = j->st;
    xcr_tick *t = NULL;
    size_t n = 0;
    /* parse against the live book: assets never change */
    j->s = xcr_ticks_parse(xcr_monitor_book(st->mon), j->text, j->len, &t, &n,
                           j->err);
    if (j->s == XCR_OK)
        j->s = xcr_monitor_apply_ticks(st->mon, t, n, now_s(), j->r, j->err);
    if (j->s == XCR_OK)
        serve_publish(st, j->r, true);
    free(t);
}

xcr_status serve_apply_ticks(serve_state *st, const char *text, size_t len,
                             xcr_update_result *r, xcr_error *err)
{
    ticks_job j = {st, text, len, r, err, XCR_OK};
    if (st->stopping || !engine_call(&st->eng, ticks_run, &j))
        return serve_busy(err);
    return j.s;
}

/* MARK: routes ---------------------------------------------------------------------- */

typedef struct stats_job {
    serve_state *st;
    xcr_monitor_stats s;
    uint64_t hist[SERVE_HIST_BUCKETS + 1];
    double sum;
    uint64_t count;
} stats_job;

static void stats_run(void *arg)
{
    stats_job *j = arg;
    xcr_monitor_stats_get(j->st->mon, &j->s);
    memcpy(j->hist, j->st->hist, sizeof j->hist);
    j->sum = j->st->hist_sum;
    j->count = j->st->hist_count;
}

static int metrics(struct mg_connection *c, serve_state *st)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f)
        return reply_error(c, st, 500, "out of memory");
    stats_job sj = {st, {0}, {0}, 0, 0};
    if (!engine_call(&st->eng, stats_run, &sj)) {
        fclose(f);
        free(p);
        return reply_error(c, st, 503, "server busy or shutting down");
    }
    const xcr_monitor_stats s = sj.s;
    fprintf(f, "# HELP xcr_ticks_total Price ticks applied.\n"
               "# TYPE xcr_ticks_total counter\nxcr_ticks_total %llu\n",
            (unsigned long long)s.ticks);
    fprintf(f, "# HELP xcr_updates_total Updates applied (tick batches, "
               "upserts, deletes).\n# TYPE xcr_updates_total counter\n"
               "xcr_updates_total %llu\n",
            (unsigned long long)s.seq);
    fputs("# HELP xcr_tick_recompute_seconds Recompute time of a tick "
          "batch.\n# TYPE xcr_tick_recompute_seconds histogram\n",
          f);
    uint64_t cum = 0;
    for (size_t k = 0; k < SERVE_HIST_BUCKETS; k++) {
        cum += sj.hist[k];
        fprintf(f, "xcr_tick_recompute_seconds_bucket{le=\"%g\"} %llu\n",
                hist_le[k], (unsigned long long)cum);
    }
    fprintf(f, "xcr_tick_recompute_seconds_bucket{le=\"+Inf\"} %llu\n"
               "xcr_tick_recompute_seconds_sum %.9g\n"
               "xcr_tick_recompute_seconds_count %llu\n",
            (unsigned long long)sj.count, sj.sum,
            (unsigned long long)sj.count);
    fputs("# HELP xcr_accounts Accounts by status.\n"
          "# TYPE xcr_accounts gauge\n",
          f);
    for (int k = 0; k < 4; k++)
        fprintf(f, "xcr_accounts{status=\"%s\"} %zu\n",
                xcr_acct_status_name((xcr_acct_status)k), s.by_status[k]);
    fprintf(f, "# HELP xcr_alerts_total Alerts raised.\n"
               "# TYPE xcr_alerts_total counter\nxcr_alerts_total %llu\n",
            (unsigned long long)s.alert_seq);
    fputs("# HELP xcr_http_requests_total HTTP replies by status code.\n"
          "# TYPE xcr_http_requests_total counter\n",
          f);
    for (int k = 0; code_list[k]; k++)
        fprintf(f, "xcr_http_requests_total{code=\"%d\"} %llu\n",
                code_list[k],
                (unsigned long long)__atomic_load_n(&st->codes[k],
                                                    __ATOMIC_RELAXED));
    fclose(f);
    int r = reply(c, st, 200, "text/plain; version=0.0.4", p, n);
    free(p);
    return r;
}

static int stream(struct mg_connection *c, serve_state *st)
{
    count_code(st, 200);
    mg_response_header_start(c, 200);
    mg_response_header_add(c, "Content-Type", "text/event-stream", -1);
    mg_response_header_add(c, "Cache-Control", "no-store", -1);
    mg_response_header_add(c, "X-Accel-Buffering", "no", -1);
    mg_response_header_send(c);
    /* only events published from now on */
    uint64_t cursor = hub_next(&st->hub);
    if (mg_printf(c, ": xcr serve stream\n\n") <= 0)
        return 200;
    while (!st->stopping) {
        char *ev = hub_wait(&st->hub, &cursor, 15000);
        if (!ev)
            break;
        const char *out = ev[0] ? ev : ": keepalive\n\n";
        int w = mg_write(c, out, strlen(out));
        free(ev);
        if (w <= 0)
            break;
    }
    return 200;
}

/* Run a JSON view under the lock. */
typedef xcr_status (*view_fn)(serve_state *st, const void *arg, char **out,
                              xcr_error *err);

typedef struct view_job {
    serve_state *st;
    view_fn fn;
    const void *arg;
    char *out;
    xcr_error *err;
    xcr_status s;
} view_job;

static void view_run(void *arg)
{
    view_job *j = arg;
    j->s = j->fn(j->st, j->arg, &j->out, j->err);
}

static int view(struct mg_connection *c, serve_state *st, view_fn fn,
                const void *arg)
{
    xcr_error err = {0};
    view_job j = {st, fn, arg, NULL, &err, XCR_OK};
    if (st->stopping || !engine_call(&st->eng, view_run, &j))
        j.s = serve_busy(&err);
    xcr_status s = j.s;
    char *out = j.out;
    if (s != XCR_OK)
        return reply_error(c, st, s == XCR_EIO ? 503 : status_code(s),
                           err.msg);
    int r = reply_json(c, st, 200, out);
    free(out);
    return r;
}

static xcr_status v_summary(serve_state *st, const void *a, char **o,
                            xcr_error *e)
{
    (void)a;
    return xcr_monitor_summary_json(st->mon, o, e);
}
static xcr_status v_accounts(serve_state *st, const void *a, char **o,
                             xcr_error *e)
{
    return xcr_monitor_accounts_json(st->mon, a, o, e);
}
static xcr_status v_account(serve_state *st, const void *a, char **o,
                            xcr_error *e)
{
    return xcr_monitor_account_json(st->mon, a, o, e);
}
static xcr_status v_exposure(serve_state *st, const void *a, char **o,
                             xcr_error *e)
{
    (void)a;
    return xcr_monitor_exposure_json(st->mon, o, e);
}
static xcr_status v_lar(serve_state *st, const void *a, char **o,
                        xcr_error *e)
{
    (void)a;
    return xcr_monitor_lar_json(st->mon, o, e);
}
typedef struct alerts_arg {
    uint64_t since, limit;
} alerts_arg;
static xcr_status v_alerts(serve_state *st, const void *a, char **o,
                           xcr_error *e)
{
    const alerts_arg *x = a;
    return xcr_monitor_alerts_json(st->mon, x->since, (size_t)x->limit, o, e);
}
static xcr_status v_healthz(serve_state *st, const void *a, char **o,
                            xcr_error *e)
{
    (void)a;
    (void)e;
    xcr_monitor_stats s;
    xcr_monitor_stats_get(st->mon, &s);
    char buf[64];
    snprintf(buf, sizeof buf, "{\"ok\": true, \"seq\": %llu}",
             (unsigned long long)s.seq);
    *o = strdup(buf);
    return *o ? XCR_OK : XCR_ENOMEM;
}
typedef struct body_arg {
    const char *text;
    size_t len;
} body_arg;
static xcr_status v_stress(serve_state *st, const void *a, char **o,
                           xcr_error *e)
{
    const body_arg *b = a;
    return xcr_monitor_stress_json(st->mon, b->text, b->len, o, e);
}

typedef struct acct_job {
    serve_state *st;
    int kind; /* 1 upsert, 2 delete */
    const char *id, *body;
    size_t len;
    xcr_update_result *r;
    xcr_error *err;
    xcr_status s;
} acct_job;

static void acct_run(void *arg)
{
    acct_job *j = arg;
    serve_state *st = j->st;
    if (j->kind == 1) {
        xcr_account_upsert *u = NULL;
        j->s = xcr_account_upsert_parse(xcr_monitor_book(st->mon), j->body,
                                        j->len, j->id, &u, j->err);
        if (j->s == XCR_OK)
            j->s = xcr_monitor_upsert(st->mon, u, now_s(), j->r, j->err);
        xcr_account_upsert_free(u);
    } else {
        j->s = xcr_monitor_delete(st->mon, j->id, now_s(), j->r, j->err);
    }
    if (j->s == XCR_OK)
        serve_publish(st, j->r, false);
}

/* A write: POST/PUT/DELETE of accounts, POST of prices. */
static int write_req(struct mg_connection *c, serve_state *st, int kind,
                     const char *id)
{
    if (!authorised(c, st))
        return reply_error(c, st, 401, "a valid \"Authorization: Bearer "
                                       "<token>\" header is required");
    char *body = NULL;
    size_t len = 0;
    if (kind != 2) {
        int rb = read_body(c, st, &body, &len);
        if (rb == 413)
            return reply_error(c, st, 413, "request body too large");
        if (rb)
            return reply_error(c, st, rb, "cannot read the request body");
    }
    xcr_error err = {0};
    xcr_update_result r;
    memset(&r, 0, sizeof r);
    xcr_status s;
    if (kind == 0) {
        s = serve_apply_ticks(st, body, len, &r, &err);
    } else {
        acct_job j = {st, kind, id, body, len, &r, &err, XCR_OK};
        if (st->stopping || !engine_call(&st->eng, acct_run, &j))
            j.s = serve_busy(&err);
        s = j.s;
    }
    free(body);
    if (s != XCR_OK)
        return reply_error(c, st, s == XCR_EIO ? 503 : status_code(s),
                           err.msg);
    char out[160];
    if (kind == 0)
        snprintf(out, sizeof out,
                 "{\"seq\": %llu, \"recomputed\": %zu, \"alerts\": %zu}",
                 (unsigned long long)r.seq, r.recomputed, r.alerts);
    else
        snprintf(out, sizeof out, "{\"seq\": %llu}",
                 (unsigned long long)r.seq);
    return reply_json(c, st, 200, out);
}

static bool is(const char *a, const char *b) { return strcmp(a, b) == 0; }

int serve_handle(struct mg_connection *c, void *cbdata)
{
    serve_state *st = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *m = ri->request_method, *u = ri->local_uri;
    const char *qs = ri->query_string;
    bool get = is(m, "GET") || is(m, "HEAD");
    if (!u)
        return reply_error(c, st, 400, "bad request target");
    if (is(u, "/healthz"))
        return get ? view(c, st, v_healthz, NULL)
                   : reply_error(c, st, 405, "use GET");
    if (is(u, "/metrics"))
        return get ? metrics(c, st) : reply_error(c, st, 405, "use GET");
    if (is(u, "/") || strncmp(u, "/assets/", 8) == 0 ||
        is(u, "/index.html")) {
        if (!get)
            return reply_error(c, st, 405, "use GET");
        size_t len = 0;
        const char *mime = NULL;
        const unsigned char *a = xcr_web_asset(u, &len, &mime);
        if (!a)
            return reply_error(c, st, 404, "no such asset");
        return reply(c, st, 200, mime, (const char *)a, len);
    }
    if (strncmp(u, "/v1/", 4) != 0)
        return reply_error(c, st, 404, "unknown route");
    /* reads may require the token too (--auth-reads) */
    bool write = !get;
    if (!write && st->auth_reads && !authorised(c, st))
        return reply_error(c, st, 401, "a valid \"Authorization: Bearer "
                                       "<token>\" header is required");
    const char *r = u + 3; /* "/..." */
    if (is(r, "/prices"))
        return is(m, "POST") ? write_req(c, st, 0, NULL)
                             : reply_error(c, st, 405, "use POST");
    if (is(r, "/summary"))
        return get ? view(c, st, v_summary, NULL)
                   : reply_error(c, st, 405, "use GET");
    if (is(r, "/exposure"))
        return get ? view(c, st, v_exposure, NULL)
                   : reply_error(c, st, 405, "use GET");
    if (is(r, "/lar"))
        return get ? view(c, st, v_lar, NULL)
                   : reply_error(c, st, 405, "use GET");
    if (is(r, "/stream"))
        return get ? stream(c, st) : reply_error(c, st, 405, "use GET");
    if (is(r, "/alerts")) {
        if (!get)
            return reply_error(c, st, 405, "use GET");
        alerts_arg a = {0, 100};
        if (xcr_query_u64(qs, "since", &a.since) < 0 ||
            xcr_query_u64(qs, "limit", &a.limit) < 0 || a.limit == 0 ||
            a.limit > 10000)
            return reply_error(c, st, 400, "query: since must be a "
                                           "non-negative integer and limit "
                                           "1..10000");
        return view(c, st, v_alerts, &a);
    }
    if (is(r, "/stress")) {
        if (!is(m, "POST"))
            return reply_error(c, st, 405, "use POST");
        if (st->auth_reads && !authorised(c, st))
            return reply_error(c, st, 401, "token required");
        char *body = NULL;
        size_t len = 0;
        int rb = read_body(c, st, &body, &len);
        if (rb)
            return reply_error(c, st, rb, rb == 413 ? "request body too large"
                                                    : "cannot read the body");
        body_arg b = {body, len};
        int res = view(c, st, v_stress, &b);
        free(body);
        return res;
    }
    if (is(r, "/accounts")) {
        if (is(m, "POST"))
            return write_req(c, st, 1, NULL);
        if (!get)
            return reply_error(c, st, 405, "use GET or POST");
        xcr_account_query q;
        xcr_error err = {0};
        xcr_status s = xcr_account_query_parse(qs, &q, &err);
        if (s != XCR_OK)
            return reply_status(c, st, s, &err);
        return view(c, st, v_accounts, &q);
    }
    if (strncmp(r, "/accounts/", 10) == 0 && r[10]) {
        const char *id = r + 10;
        if (get)
            return view(c, st, v_account, id);
        if (is(m, "PUT"))
            return write_req(c, st, 1, id);
        if (is(m, "DELETE"))
            return write_req(c, st, 2, id);
        return reply_error(c, st, 405, "use GET, PUT or DELETE");
    }
    return reply_error(c, st, 404, "unknown route");
}
