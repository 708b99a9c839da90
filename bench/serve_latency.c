/* Tick-to-alert latency of a running `xcr serve` (bench/serve.sh).
 *
 *   serve_latency PORT TOKEN SYMBOL PRICE N [MOVE]
 *
 * Subscribes to GET /v1/stream, then posts N one-tick batches for SYMBOL,
 * alternating the price between PRICE·(1−MOVE) and PRICE·(1+MOVE) (default
 * MOVE 0.05) so that accounts near a threshold cross it on every tick.  For
 * each tick it measures, from just before sending the POST:
 *   - tick→alert: until the first `event: alert` of that update arrives on
 *     the stream (the alert's "update" field is the tick's seq), read while
 *     the POST reply is awaited, so it is timed on arrival;
 *   - tick→event: until the `event: tick` of that update arrives;
 * and takes the server's own recompute time from the tick event.  Prints
 * p50/p99 of each and the accounts re-evaluated per tick.  Standalone
 * (sockets only), compiled by bench/serve.sh. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int connect_to(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    return s;
}

static void send_all(int s, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(s, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            perror("send");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* The stream: a growing buffer consumed event by event from `soff`. */
static char *sbuf;
static size_t slen, scap, soff;
static size_t noff; /* alerts up to here already timed (note_alerts) */

static void stream_fill(int s, int ms)
{
    struct pollfd p = {s, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return;
    if (soff) { /* compact once per read, not once per event */
        memmove(sbuf, sbuf + soff, slen - soff + 1);
        slen -= soff;
        noff = noff > soff ? noff - soff : 0;
        soff = 0;
    }
    if (scap - slen < 65536) {
        scap = scap ? 2 * scap : 1 << 20;
        sbuf = realloc(sbuf, scap);
    }
    ssize_t k = recv(s, sbuf + slen, scap - slen - 1, 0);
    if (k <= 0) {
        fprintf(stderr, "stream closed\n");
        exit(1);
    }
    slen += (size_t)k;
    sbuf[slen] = '\0';
}

/* Next complete event ("...\n\n") into ev; 0 if none yet. */
static int next_event(char *ev, size_t n)
{
    if (!sbuf)
        return 0;
    char *e = strstr(sbuf + soff, "\n\n");
    if (!e)
        return 0;
    size_t len = (size_t)(e - (sbuf + soff)) + 2;
    size_t c = len < n - 1 ? len : n - 1;
    memcpy(ev, sbuf + soff, c);
    ev[c] = '\0';
    soff += len;
    return 1;
}

/* First arrival (ms after its tick was sent) of an alert of each recent
 * update, by update seq. */
#define SEEN 1024
static long long seen_seq[SEEN];
static double seen_at[SEEN];

static void note_alert(const char *ev, double t0)
{
    if (strncmp(ev, "event: alert", 12) != 0)
        return;
    const char *u = strstr(ev, "\"update\": ");
    if (!u)
        return;
    long long seq = atoll(u + 10);
    if (seq > 0 && seen_seq[seq % SEEN] != seq) {
        seen_seq[seq % SEEN] = seq;
        seen_at[seq % SEEN] = now_ms() - t0;
    }
}

/* Time every complete alert event buffered so far; other events stay
 * buffered for the loop that waits for the tick event. */
static void note_alerts(char *ev, double t0)
{
    size_t keep = soff;
    if (noff > soff)
        soff = noff;
    while (next_event(ev, 1 << 20))
        note_alert(ev, t0);
    noff = soff;
    soff = keep;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp);
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return v[k];
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: serve_latency PORT TOKEN SYMBOL PRICE N "
                        "[MOVE]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *token = argv[2], *sym = argv[3];
    double price = atof(argv[4]);
    int n = atoi(argv[5]);
    double move = argc > 6 ? atof(argv[6]) : 0.05;
    int st = connect_to(port);
    const char *get = "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(st, get, strlen(get));
    while (!sbuf || !strstr(sbuf, ": xcr serve stream\n\n"))
        stream_fill(st, 5000);
    /* drop the response headers and the opening comment */
    char *open = strstr(sbuf, ": xcr serve stream\n\n") + 20;
    slen -= (size_t)(open - sbuf);
    memmove(sbuf, open, slen + 1);

    double *alert = calloc((size_t)n, sizeof *alert);
    double *event = calloc((size_t)n, sizeof *event);
    double *server = calloc((size_t)n, sizeof *server);
    double *reply = calloc((size_t)n, sizeof *reply);
    size_t na = 0, ne = 0, ns = 0;
    long long recomputed = 0, alerts = 0;
    char *ev = malloc(1 << 20);
    int pc = connect_to(port);
    for (int i = 0; i < n; i++) {
        char body[256], req[1024], resp[4096];
        double p = price * (i % 2 ? 1 + move : 1 - move);
        int bl = snprintf(body, sizeof body,
                          "{\"ticks\": [{\"symbol\": \"%s\", \"price\": "
                          "%.10g}]}",
                          sym, p);
        int rl = snprintf(req, sizeof req,
                          "POST /v1/prices HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\nContent-Length: %d\r\n"
                          "\r\n%s",
                          token, bl, body);
        double t0 = now_ms();
        send_all(pc, req, (size_t)rl);
        /* Wait for the reply and read the stream at the same time: the
         * server publishes the update's alerts before it replies, and an
         * alert's arrival is timed when it arrives, not after the reply
         * (the reply carries the seq that identifies the update's alerts,
         * so arrivals are kept by update seq until it is known). */
        size_t got = 0;
        long long seq = -1, rc = 0, al = 0;
        while (seq < 0) {
            struct pollfd pf[2] = {{pc, POLLIN, 0}, {st, POLLIN, 0}};
            if (poll(pf, 2, 5000) <= 0) {
                fprintf(stderr, "no reply\n");
                return 1;
            }
            if (pf[1].revents) {
                stream_fill(st, 0);
                note_alerts(ev, t0);
            }
            if (!pf[0].revents)
                continue;
            ssize_t k = recv(pc, resp + got, sizeof resp - got - 1, 0);
            if (k <= 0) {
                fprintf(stderr, "POST failed\n");
                return 1;
            }
            got += (size_t)k;
            resp[got] = '\0';
            char *b = strstr(resp, "\r\n\r\n{");
            if (b && strchr(b, '}'))
                sscanf(b + 4,
                       "{\"seq\": %lld, \"recomputed\": %lld, \"alerts\": "
                       "%lld",
                       &seq, &rc, &al);
            if (strstr(resp, "\"error\"")) {
                fprintf(stderr, "%s\n", resp);
                return 1;
            }
        }
        reply[i] = now_ms() - t0;
        recomputed += rc;
        alerts += al;
        char want_tick[64];
        snprintf(want_tick, sizeof want_tick, "event: tick\ndata: {\"seq\": "
                                              "%lld,",
                 seq);
        for (;;) {
            int found = 0;
            while (!found && next_event(ev, 1 << 20)) {
                note_alert(ev, t0);
                if (strncmp(ev, want_tick, strlen(want_tick)) == 0) {
                    event[ne++] = now_ms() - t0;
                    const char *r = strstr(ev, "\"recompute_ms\": ");
                    if (r)
                        server[ns++] = atof(r + 16);
                    found = 1;
                }
            }
            if (found)
                break;
            stream_fill(st, 5000);
        }
        if (al > 0 && seen_seq[seq % SEEN] == seq)
            alert[na++] = seen_at[seq % SEEN];
    }
    printf("ticks %d on %s (±%.0f %%): %.0f accounts re-evaluated per tick, "
           "%.1f alerts per tick\n",
           n, sym, 100 * move, (double)recomputed / n, (double)alerts / n);
    printf("  server recompute     p50 %8.3f ms  p99 %8.3f ms\n",
           pct(server, ns, 0.5), pct(server, ns, 0.99));
    printf("  tick -> alert        p50 %8.3f ms  p99 %8.3f ms  (%zu ticks "
           "with alerts)\n",
           pct(alert, na, 0.5), pct(alert, na, 0.99), na);
    printf("  tick -> POST reply   p50 %8.3f ms  p99 %8.3f ms\n",
           pct(reply, (size_t)n, 0.5), pct(reply, (size_t)n, 0.99));
    printf("  tick -> tick event   p50 %8.3f ms  p99 %8.3f ms\n",
           pct(event, ne, 0.5), pct(event, ne, 0.99));
    close(pc);
    close(st);
    return 0;
}
