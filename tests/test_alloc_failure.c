/* Allocation failure: a pluggable allocator that fails at the n-th call
 * drives every out-of-memory path in JSON loading, market creation,
 * evaluation and the liquidation solver.  Each returns ENOMEM (never a
 * crash) and leaks nothing: the allocator counts live blocks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "xcr.h"

typedef struct failing {
    long left;  /* allocations that still succeed; < 0 = unlimited */
    long live;  /* blocks currently allocated                      */
    long calls; /* allocation calls seen                            */
} failing;

static void *f_malloc(void *ctx, size_t n)
{
    failing *f = ctx;
    f->calls++;
    if (f->left == 0)
        return NULL;
    if (f->left > 0)
        f->left--;
    void *p = malloc(n);
    if (p)
        f->live++;
    return p;
}
static void *f_realloc(void *ctx, void *p, size_t o, size_t n)
{
    (void)o;
    failing *f = ctx;
    f->calls++;
    if (f->left == 0)
        return NULL;
    if (f->left > 0)
        f->left--;
    void *q = realloc(p, n);
    if (q && !p)
        f->live++;
    return q;
}
static void f_free(void *ctx, void *p)
{
    failing *f = ctx;
    if (p)
        f->live--;
    free(p);
}

static char *small_book(void)
{
    char *t = xt_read_file(XCR_SOURCE_DIR "/fuzz/corpus/book_json/small.json");
    cr_assert(t, "missing seed book");
    return t;
}

Test(alloc_failure, json_load)
{
    char *text = small_book();
    long ok_at = -1;
    for (long n = 0; n < 100000 && ok_at < 0; n++) {
        failing f = {n, 0, 0};
        xcr_allocator a = {f_malloc, f_realloc, f_free, &f};
        xcr_book *b = NULL;
        xcr_error err = {0};
        xcr_status s = xcr_book_load_json_text(text, strlen(text), "s.json",
                                               &a, &b, &err);
        if (s == XCR_OK) {
            ok_at = n;
            xcr_book_free(b);
        } else {
            cr_assert_eq(s, XCR_ENOMEM, "after %ld allocations: %s (%s)", n,
                         xcr_status_name(s), err.msg);
            cr_assert(err.msg[0], "empty message");
        }
        cr_assert_eq(f.live, 0, "after %ld allocations: %ld blocks leaked",
                     n, f.live);
    }
    cr_assert(ok_at > 10, "load never failed usefully (ok at %ld)", ok_at);
    free(text);
}

Test(alloc_failure, market_margin_and_solver)
{
    char *text = small_book();
    bool done = false;
    for (long n = 0; n < 100000 && !done; n++) {
        failing f = {-1, 0, 0};
        xcr_allocator a = {f_malloc, f_realloc, f_free, &f};
        xcr_book *b = NULL;
        cr_assert_eq(xcr_book_load_json_text(text, strlen(text), "s.json", &a,
                                             &b, NULL),
                     XCR_OK);
        long before = f.live;
        f.left = n; /* from here on, fail at the n-th allocation */
        xcr_market *m = NULL;
        xcr_status s = xcr_market_new(b, &m);
        if (s == XCR_OK) {
            size_t na = xcr_book_account_count(b);
            xcr_account_result r[16];
            xcr_error err = {0};
            s = xcr_margin_all(m, 2, r, &err);
            if (s == XCR_OK) {
                xcr_liq_price lp;
                s = xcr_liquidation_price(m, 0, 1, &lp, &err);
                if (s == XCR_OK) {
                    double d, u;
                    s = xcr_liquidation_shock(m, 0, &d, &u, &err);
                }
                if (s == XCR_OK)
                    s = xcr_margin_account(m, na - 1, r, NULL, &err);
            }
            if (s == XCR_OK)
                done = true;
            else
                cr_assert_eq(s, XCR_ENOMEM, "after %ld: %s", n, err.msg);
            xcr_market_free(m);
        } else {
            cr_assert_eq(s, XCR_ENOMEM);
        }
        cr_assert_eq(f.live, before, "after %ld allocations: %ld leaked", n,
                     f.live - before);
        xcr_book_free(b);
        cr_assert_eq(f.live, 0);
    }
    cr_assert(done);
    free(text);
}
