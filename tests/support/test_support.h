/* Shared helpers for the Criterion tests: seeds, temp files, running the CLI. */
#ifndef XCR_TEST_SUPPORT_H
#define XCR_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Seed for property tests: $XCR_TEST_SEED if set, else `dflt`. */
uint64_t xt_seed(uint64_t dflt);

/* Write `text` to a new temporary file with the given suffix; returns a
 * malloc'd path (caller unlinks and frees). */
char *xt_write_temp(const char *suffix, const char *text);

/* A fresh temporary directory (malloc'd path). */
char *xt_temp_dir(void);
/* Remove a directory tree (rm -rf). */
void xt_rm_rf(const char *path);

/* Run a shell command line; capture stdout and stderr (malloc'd, may be
 * NULL if the caller passes NULL) and return the exit status (or -1). */
int xt_run(const char *cmdline, char **out, char **err);

/* Read a whole file (malloc'd, NUL-terminated); NULL on failure. */
char *xt_read_file(const char *path);

#endif
