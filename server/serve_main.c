/* `xcr serve` life cycle: open the monitor (import or resume), start the
 * civetweb HTTP server, optionally read ticks from stdin, and shut down
 * gracefully on SIGTERM/SIGINT (in-flight requests finish, streams end,
 * the state file is closed cleanly). */
#include "serve.h"

#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static bool read_token(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t len = fread(out, 1, n - 1, f);
    fclose(f);
    out[len] = '\0';
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
                   out[len - 1] == ' ' || out[len - 1] == '\t'))
        out[--len] = '\0';
    return len > 0 && len < n - 1;
}

static bool random_token(char *out, size_t n)
{
    unsigned char raw[16];
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t r = read(fd, raw, sizeof raw);
    close(fd);
    if (r != (ssize_t)sizeof raw || n < 33)
        return false;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

/* `--ticks -`: one JSON tick or batch per line. */
static void *stdin_ticks(void *arg)
{
    serve_state *st = arg;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while (!st->stopping && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if ((size_t)n > st->max_body) {
            fprintf(stderr, "xcr serve: stdin line %ld: longer than %zu "
                            "bytes, ignored\n",
                    lineno, st->max_body);
            continue;
        }
        xcr_error err = {0};
        xcr_update_result r;
        xcr_status s = serve_apply_ticks(st, line, (size_t)n, &r, &err);
        if (s != XCR_OK)
            fprintf(stderr, "xcr serve: stdin line %ld: %s\n", lineno,
                    err.msg[0] ? err.msg : xcr_strerror(s));
    }
    free(line);
    return NULL;
}

int serve_run(const serve_opts *o)
{
    static serve_state st;
    memset(&st, 0, sizeof st);
    st.auth_reads = o->auth_reads;
    st.max_body = o->max_body ? o->max_body : (size_t)1 << 20;
    if (o->token_file) {
        if (!read_token(o->token_file, st.token, sizeof st.token)) {
            fprintf(stderr, "xcr serve: %s: cannot read a token (one line, "
                            "1-254 characters)\n",
                    o->token_file);
            return 2;
        }
    } else {
        if (!random_token(st.token, sizeof st.token)) {
            fprintf(stderr, "xcr serve: cannot make a write token\n");
            return 1;
        }
        fprintf(stderr, "xcr serve: no --token-file: write token for this "
                        "run: %s\n",
                st.token);
    }
    xcr_monitor_opts mo;
    xcr_monitor_opts_init(&mo);
    mo.book_path = o->book;
    mo.db_path = o->db;
    mo.pg_uri = o->pg;
    mo.demo_accounts = o->demo_accounts;
    mo.threads = o->threads;
    mo.overlay_max = o->overlay_max;
    memcpy(mo.levels, o->levels, sizeof mo.levels);
    mo.n_levels = o->n_levels;
    mo.on_tick_alerts = serve_publish_alerts;
    mo.on_tick_alerts_ctx = &st;
    xcr_error err = {0};
    int resumed = 0;
    xcr_status s = xcr_monitor_open(&mo, &st.mon, &resumed, &err);
    if (s != XCR_OK) {
        fprintf(stderr, "xcr serve: %s\n", err.msg[0] ? err.msg
                                                      : xcr_strerror(s));
        return s == XCR_ENOMEM || s == XCR_EINTERNAL ? 1 : 2;
    }
    if (!hub_init(&st.hub, 4096) || !engine_start(&st.eng, 256)) {
        xcr_monitor_free(st.mon);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char threads[16];
    snprintf(threads, sizeof threads, "%d",
             o->http_threads > 0 ? o->http_threads : 32);
    const char *listen = o->listen ? o->listen : "127.0.0.1:8080";
    const char *copts[] = {"listening_ports", listen,
                           "num_threads", threads,
                           "enable_keep_alive", "yes",
                           "request_timeout_ms", "30000",
                           "keep_alive_timeout_ms", "30000",
                           /* headers and body are two writes: without
                            * this, Nagle + delayed ACK add 40 ms */
                           "tcp_nodelay", "1",
                           NULL};
    mg_init_library(0);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start(&cb, &st, copts);
    if (!ctx) {
        fprintf(stderr, "xcr serve: cannot listen on %s\n", listen);
        hub_free(&st.hub);
        xcr_monitor_free(st.mon);
        mg_exit_library();
        return 2;
    }
    mg_set_request_handler(ctx, "/", serve_handle, &st);
    xcr_monitor_stats ms;
    xcr_monitor_stats_get(st.mon, &ms);
    fprintf(stderr, "xcr serve: listening on http://%s (%zu accounts, %s%s)\n",
            listen, ms.accounts,
            resumed ? "resumed state" : o->book ? "imported " : "demo book",
            resumed ? "" : o->book ? o->book : "");
    pthread_t tick_thread;
    bool have_ticks = false;
    if (o->ticks && strcmp(o->ticks, "-") == 0)
        have_ticks = pthread_create(&tick_thread, NULL, stdin_ticks, &st) == 0;
    while (!g_stop) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "xcr serve: shutting down\n");
    st.stopping = 1;
    hub_close(&st.hub);
    mg_stop(ctx);
    /* queued jobs finish; then nothing can reach the monitor (the stdin
     * reader, if it sits in getline, finds the engine stopped) */
    engine_stop(&st.eng);
    xcr_monitor_free(st.mon);
    st.mon = NULL;
    hub_free(&st.hub);
    if (have_ticks)
        pthread_detach(tick_thread);
    mg_exit_library();
    fprintf(stderr, "xcr serve: stopped\n");
    return 0;
}
