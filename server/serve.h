/* `xcr serve`: the HTTP front end of the live margin monitor
 * (include/xcr/monitor.h).  HTTP handling only; every number comes from the
 * library.  API: docs/serve.md. */
#ifndef XCR_SERVE_H
#define XCR_SERVE_H

#include "xcr.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

typedef struct serve_opts {
    const char *book, *db, *pg, *listen, *token_file, *ticks;
    int auth_reads;
    size_t max_body;          /* bytes (default 1 MiB)                     */
    size_t demo_accounts;
    int threads;              /* recompute threads                         */
    int http_threads;         /* civetweb workers (default 32)             */
    double levels[XCR_MONITOR_MAX_LEVELS];
    size_t n_levels;
    size_t overlay_max;
} serve_opts;

/* Run until SIGTERM/SIGINT; returns the process exit status. */
int serve_run(const serve_opts *o);

/* MARK: event hub (server/serve_hub.c): a bounded ring of Server-Sent
 * Events; slow readers skip what was overwritten. */
typedef struct serve_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **ev;                /* ring of formatted events                   */
    size_t cap;
    uint64_t next_id;         /* id of the next event published             */
    bool closed;
} serve_hub;

bool hub_init(serve_hub *h, size_t cap);
void hub_free(serve_hub *h);
/* Publish "event: NAME\ndata: DATA\n\n" (DATA on one line). */
void hub_publish(serve_hub *h, const char *name, const char *data);
void hub_close(serve_hub *h);
/* Wait up to `ms` for events with id >= *cursor; returns a malloc'd
 * concatenation of them (advancing *cursor, and noting dropped ones), ""
 * on timeout, or NULL once the hub is closed. */
char *hub_wait(serve_hub *h, uint64_t *cursor, int ms);
uint64_t hub_next(serve_hub *h);

/* MARK: engine thread (server/serve_engine.c): runs every monitor call. */
typedef struct serve_job {
    void (*fn)(void *);
    void *arg;
    bool done;
    struct serve_job *next;
} serve_job;
typedef struct serve_engine {
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    serve_job *head, *tail;
    size_t n, cap;
    bool stop;
    pthread_t th;
} serve_engine;
bool engine_start(serve_engine *e, size_t cap);
/* Run fn(arg) on the engine and wait; false (nothing run) when the queue
 * is full or the engine is stopping. */
bool engine_call(serve_engine *e, void (*fn)(void *), void *arg);
/* Finish the queued jobs and join. */
void engine_stop(serve_engine *e);

/* MARK: the server ----------------------------------------------------------------- */

#define SERVE_HIST_BUCKETS 12
enum { SERVE_CODES = 9 };

typedef struct serve_state {
    xcr_monitor *mon;         /* touched only on the engine thread          */
    serve_engine eng;
    serve_hub hub;
    char token[256];
    int auth_reads;
    size_t max_body;
    volatile sig_atomic_t stopping;
    /* metrics (engine thread) */
    uint64_t hist[SERVE_HIST_BUCKETS + 1];
    double hist_sum;
    uint64_t hist_count;
    uint64_t codes[SERVE_CODES];
} serve_state;

/* Route one request (server/serve_http.c). */
struct mg_connection;
int serve_handle(struct mg_connection *c, void *cbdata);

/* Apply a tick batch text (HTTP body or a stdin line) and publish its
 * events; fills err on failure. */
xcr_status serve_apply_ticks(serve_state *st, const char *text, size_t len,
                             xcr_update_result *r, xcr_error *err);
/* After an update: publish its alerts (upserts, deletes) or the tick
 * event (ticks, whose alerts the monitor's hook published already).
 * Engine thread. */
/* Alerts first .. first + n - 1 to the stream (at most the newest 1,000);
 * also the monitor's on_tick_alerts hook (ctx: the serve_state). */
void serve_publish_alerts(void *ctx, uint64_t first, size_t n);
void serve_publish(serve_state *st, const xcr_update_result *r, bool tick);

#endif
