/* Helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_report(const xcr_error *err, xcr_status s)
{
    const char *msg = err && err->msg[0] ? err->msg : xcr_strerror(s);
    fprintf(stderr, "xcr: %s\n", msg);
    switch (s) {
    case XCR_EINVAL:
    case XCR_EPARSE:
    case XCR_EREF:
    case XCR_EDUP:
    case XCR_ERANGE:
    case XCR_ENOTPD:
    case XCR_EIO:
    case XCR_EDB:
    case XCR_ENOTFOUND:
        return XCR_EXIT_INPUT;
    default:
        return XCR_EXIT_FAIL;
    }
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xcr %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'xcr %s --help'.\n", cmd);
    va_end(ap);
    return XCR_EXIT_INPUT;
}

xcr_status cli_load_book(const char *path, xcr_book **out, xcr_error *err)
{
    if (path)
        return xcr_book_load(path, XCR_FORMAT_AUTO, NULL, out, err);
    xcr_demo_opts o = {1000, 1, 3.0};
    return xcr_demo_book(&o, NULL, out, err);
}

bool cli_parse_format(const char *s, xcr_out_format *out)
{
    if (strcmp(s, "table") == 0)
        *out = XCR_OUT_TABLE;
    else if (strcmp(s, "json") == 0)
        *out = XCR_OUT_JSON;
    else if (strcmp(s, "csv") == 0)
        *out = XCR_OUT_CSV;
    else
        return false;
    return true;
}

bool cli_parse_size(const char *s, unsigned long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool cli_parse_num(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return !errno && *end == '\0' && isfinite(*out);
}

void cli_progress(void *ctx, size_t done, size_t total)
{
    struct timespec *last_p = ctx, last = *last_p;
    if (!isatty(2))
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - last.tv_sec) +
                1e-9 * (double)(now.tv_nsec - last.tv_nsec);
    if (done < total && dt < 0.1)
        return;
    *last_p = now;
    fprintf(stderr, "\r%zu / %zu accounts (%.0f%%)\033[K", done, total,
            total ? 100.0 * (double)done / (double)total : 100.0);
    if (done >= total)
        fputc('\n', stderr);
}
