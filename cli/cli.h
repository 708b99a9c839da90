/* The xcr command-line front end: a thin layer over libxcr.  Each subcommand
 * lives in its own file; this header is what they share. */
#ifndef XCR_CLI_H
#define XCR_CLI_H

#include "xcr.h"

#include <stdbool.h>

/* Exit statuses (spec §5). */
enum { XCR_EXIT_OK = 0, XCR_EXIT_FAIL = 1, XCR_EXIT_INPUT = 2 };

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_margin(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_stress(int argc, char **argv);
int cmd_scenarios(int argc, char **argv);
int cmd_cascade(int argc, char **argv);
int cmd_contagion(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Print "xcr: <msg>" to stderr and return the exit status for a library
 * status: 2 for bad input, 1 for internal failures. */
int cli_report(const xcr_error *err, xcr_status s);
/* Usage error: message and exit status 2. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Load BOOK, or the built-in demo book (1,000 accounts) when path is NULL. */
xcr_status cli_load_book(const char *path, xcr_book **out, xcr_error *err);

/* Parse an output format name. */
bool cli_parse_format(const char *s, xcr_out_format *out);

/* Parse a non-negative integer (whole string); false on junk or overflow. */
bool cli_parse_size(const char *s, unsigned long long *out);
/* Parse a finite number (strtod, whole string); false on junk, overflow,
 * inf or nan (*out may have been written). */
bool cli_parse_num(const char *s, double *out);

/* Progress on stderr when it is a terminal (~10 Hz, \r-overwritten); ctx
 * points to a zeroed struct timespec owned by the caller. */
void cli_progress(void *ctx, size_t done, size_t total);

#endif
