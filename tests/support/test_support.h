/* Shared helpers for the Criterion tests: seeds, temp files, running the CLI. */
#ifndef XCR_TEST_SUPPORT_H
#define XCR_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "xcr.h"

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

/* |a − b| ≤ tol·max(1, |b|), else the test fails naming a and both values
 * (Criterion: the test file includes criterion.h). */
#define XT_REL(a, b, tol)                                                      \
    do {                                                                       \
        double a_ = (a), b_ = (b);                                             \
        cr_assert(fabs(a_ - b_) <= (tol) * fmax(1.0, fabs(b_)),                \
                  "%s = %.17g, expected %.17g", #a, a_, b_);                   \
    } while (0)

/* Books for tests; each fails the running test (Criterion) when the book
 * cannot be made.
 * The book JSON text `json`, named "t.json" in errors. */
xcr_book *xt_load_book(const char *json);
/* The network JSON text `json`, named "n.json" in errors. */
xcr_network *xt_load_network(const char *json);
/* The demo book (xcr_demo_book) of n accounts, ppa positions per account. */
xcr_book *xt_demo_book(size_t n, uint64_t seed, double ppa);

/* Add n Monte Carlo scenarios to s (xcr_mc_opts with these fields, the
 * others zero: horizon_days 0 is the library's default). */
void xt_add_mc(xcr_scenarios *s, size_t n, uint64_t seed, xcr_mc_dist dist,
               double df, double horizon_days);

/* A random book of every mode: XT_RB_NA assets (USDT, USDC, BTC, ETH, SOL),
 * 8 instruments (linear and inverse perps, a future, options), n accounts
 * "a0".."a<n-1>": 45 % cross, 20 % isolated, 15 % portfolio (the default
 * risk-matrix model), 20 % lending (some in e-mode 1).  The same (n, seed)
 * always gives the same text.  xt_random_book_json returns the malloc'd
 * JSON (caller frees); xt_random_book loads it ("random.json"). */
#define XT_RB_NA 5
char *xt_random_book_json(size_t n, uint64_t seed);
xcr_book *xt_random_book(size_t n, uint64_t seed);

#endif
