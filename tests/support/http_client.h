/* A tiny HTTP/1.1 client and process helpers for the `xcr serve` tests:
 * loopback only, one request per connection (Connection: close), generous
 * timeouts (the tests also run under ASan).  Header-only (static
 * functions) so that a test includes it without build changes. */
#ifndef XCR_HTTP_CLIENT_H
#define XCR_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double hc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hc_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback port that was free a moment ago. */
static int hc_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static int hc_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    return s;
}

static int hc_send_all(int s, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(s, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct hc_resp {
    int status;      /* -1: no reply                                      */
    char *body;      /* malloc'd, NUL-terminated                          */
} hc_resp;

/* One request; `extra_headers` (may be NULL) ends with "\r\n" per line.
 * Reads until the server closes (timeout_s). */
static hc_resp hc_request(int port, const char *method, const char *path,
                          const char *extra_headers, const char *body,
                          double timeout_s)
{
    hc_resp r = {-1, NULL};
    int s = hc_connect(port);
    if (s < 0)
        return r;
    size_t bl = body ? strlen(body) : 0;
    size_t hl = strlen(method) + strlen(path) +
                (extra_headers ? strlen(extra_headers) : 0) + 200;
    char *req = malloc(hl + bl);
    int n = snprintf(req, hl,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                     "close\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, extra_headers ? extra_headers : "", bl);
    if (bl)
        memcpy(req + n, body, bl);
    if (hc_send_all(s, req, (size_t)n + bl) != 0) {
        free(req);
        close(s);
        return r;
    }
    free(req);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    double end = hc_now() + timeout_s;
    for (;;) {
        struct pollfd p = {s, POLLIN, 0};
        int ms = (int)((end - hc_now()) * 1000);
        if (ms <= 0 || poll(&p, 1, ms) <= 0)
            break;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = recv(s, buf + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(s);
    buf[len] = '\0';
    int code = 0;
    char *hdr_end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &code) == 1 && hdr_end) {
        r.status = code;
        r.body = strdup(hdr_end + 4);
    }
    free(buf);
    return r;
}

static void hc_free(hc_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* MARK: the server process ------------------------------------------------ */

typedef struct hc_server {
    pid_t pid;
    int port;
    int stdin_fd;    /* write end of the server's stdin (-1 if none)      */
    char log[512];   /* its stderr                                        */
} hc_server;

/* Start `xcr serve` with extra arguments (NULL-terminated) on a free
 * port; waits until /healthz answers (up to 60 s).  with_stdin: give it a
 * pipe as stdin. */
static int hc_start(hc_server *sv, const char *exe, const char *dir,
                    const char *const *args, int with_stdin)
{
    sv->port = hc_free_port();
    sv->stdin_fd = -1;
    snprintf(sv->log, sizeof sv->log, "%s/serve-%d.log", dir, sv->port);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", sv->port);
    int pfd[2] = {-1, -1};
    if (with_stdin && pipe(pfd) != 0)
        return -1;
    sv->pid = fork();
    if (sv->pid < 0)
        return -1;
    if (sv->pid == 0) {
        /* never outlive the test (a failed assertion ends it at once) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const char *argv[64];
        int n = 0;
        argv[n++] = exe;
        argv[n++] = "serve";
        argv[n++] = "--listen";
        argv[n++] = listen;
        for (int k = 0; args && args[k] && n < 62; k++)
            argv[n++] = args[k];
        argv[n] = NULL;
        FILE *f = freopen(sv->log, "w", stderr);
        (void)f;
        dup2(2, 1); /* never the test runner's stdout */
        if (with_stdin) {
            dup2(pfd[0], 0);
            close(pfd[1]);
        } else {
            FILE *g = freopen("/dev/null", "r", stdin);
            (void)g;
        }
        execv(exe, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    if (with_stdin) {
        close(pfd[0]);
        sv->stdin_fd = pfd[1];
    }
    double end = hc_now() + 60;
    while (hc_now() < end) {
        hc_resp r = hc_request(sv->port, "GET", "/healthz", NULL, NULL, 5);
        int st = r.status;
        hc_free(&r);
        if (st == 200)
            return 0;
        int ws;
        if (waitpid(sv->pid, &ws, WNOHANG) == sv->pid) {
            sv->pid = -1;
            return -1;
        }
        hc_sleep_ms(50);
    }
    return -1;
}

/* Signal the server and wait up to timeout_s; returns its wait status or
 * -1 (then it is SIGKILLed). */
static int hc_stop(hc_server *sv, int sig, double timeout_s)
{
    if (sv->pid <= 0)
        return -1;
    if (sv->stdin_fd >= 0) {
        close(sv->stdin_fd);
        sv->stdin_fd = -1;
    }
    kill(sv->pid, sig);
    double end = hc_now() + timeout_s;
    int ws = 0;
    while (hc_now() < end) {
        pid_t p = waitpid(sv->pid, &ws, WNOHANG);
        if (p == sv->pid) {
            sv->pid = -1;
            return ws;
        }
        hc_sleep_ms(20);
    }
    kill(sv->pid, SIGKILL);
    waitpid(sv->pid, &ws, 0);
    sv->pid = -1;
    return -1;
}

#endif
