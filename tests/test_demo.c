/* The demo book generator (src/demo): determinism, size, shape and the
 * status mix it is designed to produce. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "book/book.h"
#include "demo/rng.h"
#include "test_support.h"
#include "xcr.h"

static xcr_book *demo(size_t accounts, uint64_t seed, double ppa)
{
    xcr_demo_opts o = {accounts, seed, ppa};
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_demo_book(&o, NULL, &b, &err);
    cr_assert_eq(s, XCR_OK, "xcr_demo_book: %s", err.msg);
    cr_assert_not_null(b);
    return b;
}

/* Results of every account at the book's prices (caller frees). */
static xcr_account_result *margin_all(const xcr_book *b)
{
    size_t n = xcr_book_account_count(b);
    xcr_account_result *r = calloc(n ? n : 1, sizeof *r);
    cr_assert_not_null(r);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_error err = {0};
    cr_assert_eq(xcr_margin_all(m, 0, r, &err), XCR_OK, "%s", err.msg);
    xcr_market_free(m);
    return r;
}

static bool same_result(const xcr_account_result *a,
                        const xcr_account_result *b)
{
    const double x[7] = {a->equity, a->collateral, a->initial_margin,
                         a->maintenance_margin, a->health, a->health_factor,
                         a->borrow_capacity};
    const double y[7] = {b->equity, b->collateral, b->initial_margin,
                         b->maintenance_margin, b->health, b->health_factor,
                         b->borrow_capacity};
    return memcmp(x, y, sizeof x) == 0 && a->status == b->status;
}

/* Staged content of account i, compared row by row (CSR after finalize). */
static bool same_account(const xcr_book *a, const xcr_book *b, size_t i)
{
    if (strcmp(a->acct_id[i], b->acct_id[i]) != 0 ||
        a->acct_mode[i] != b->acct_mode[i] ||
        a->acct_emode[i] != b->acct_emode[i])
        return false;
    const char *ea = a->acct_entity[i], *eb = b->acct_entity[i];
    if ((ea == NULL) != (eb == NULL) || (ea && strcmp(ea, eb) != 0))
        return false;
    uint32_t pa = a->pos_off[i], pb = b->pos_off[i];
    uint32_t na = a->pos_off[i + 1] - pa, nb = b->pos_off[i + 1] - pb;
    if (na != nb)
        return false;
    for (uint32_t k = 0; k < na; k++)
        if (a->pos_inst[pa + k] != b->pos_inst[pb + k] ||
            memcmp(&a->pos_size[pa + k], &b->pos_size[pb + k], 8) != 0 ||
            memcmp(&a->pos_entry[pa + k], &b->pos_entry[pb + k], 8) != 0 ||
            memcmp(&a->pos_iso[pa + k], &b->pos_iso[pb + k], 8) != 0)
            return false;
    uint32_t ba = a->bal_off[i], bb = b->bal_off[i];
    uint32_t ma = a->bal_off[i + 1] - ba, mb = b->bal_off[i + 1] - bb;
    if (ma != mb)
        return false;
    for (uint32_t k = 0; k < ma; k++)
        if (a->bal_asset[ba + k] != b->bal_asset[bb + k] ||
            memcmp(&a->bal_amt[ba + k], &b->bal_amt[bb + k], 8) != 0)
            return false;
    return true;
}

/* MARK: the generator ---------------------------------------------------------- */

Test(demo_rng, streams_are_deterministic_and_distinct)
{
    xcr__rng a = xcr__rng_stream(42, 7), b = xcr__rng_stream(42, 7);
    xcr__rng c = xcr__rng_stream(42, 8), d = xcr__rng_stream(43, 7);
    int diff_c = 0, diff_d = 0;
    for (int k = 0; k < 100; k++) {
        uint64_t x = xcr__rng_u64(&a);
        cr_assert_eq(x, xcr__rng_u64(&b));
        diff_c += x != xcr__rng_u64(&c);
        diff_d += x != xcr__rng_u64(&d);
    }
    cr_assert_eq(diff_c, 100);
    cr_assert_eq(diff_d, 100);
}

Test(demo_rng, distributions_have_their_moments)
{
    /* 200,000 draws: sample means within a few standard errors. */
    xcr__rng r = xcr__rng_stream(xt_seed(1), 0);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0, sp = 0, se = 0;
    double umin = 1, umax = 0, pmin = INFINITY;
    for (int k = 0; k < n; k++) {
        double u = xcr__rng_uniform(&r);
        umin = fmin(umin, u);
        umax = fmax(umax, u);
        su += u;
        double z = xcr__rng_normal(&r);
        sn += z;
        sn2 += z * z;
        double p = xcr__rng_pareto(&r, 2.0, 3.0);
        pmin = fmin(pmin, p);
        sp += p;
        se += xcr__rng_exp(&r);
    }
    cr_assert(umin > 0 && umax < 1);
    cr_assert(fabs(su / n - 0.5) < 0.005, "uniform mean %g", su / n);
    cr_assert(fabs(sn / n) < 0.01, "normal mean %g", sn / n);
    cr_assert(fabs(sn2 / n - 1) < 0.02, "normal variance %g", sn2 / n);
    /* Pareto(xm = 2, α = 3): support ≥ 2, mean α·xm/(α−1) = 3 */
    cr_assert(pmin >= 2.0);
    cr_assert(fabs(sp / n - 3.0) < 0.05, "pareto mean %g", sp / n);
    cr_assert(fabs(se / n - 1.0) < 0.01, "exponential mean %g", se / n);
    double sk = 0;
    for (int k = 0; k < 50000; k++)
        sk += xcr__rng_poisson(&r, 4.5);
    cr_assert(fabs(sk / 50000 - 4.5) < 0.05, "poisson mean %g", sk / 50000);
}

/* MARK: determinism ------------------------------------------------------------- */

Test(demo, same_seed_same_book)
{
    xcr_book *a = demo(2000, 11, 3), *b = demo(2000, 11, 3);
    cr_assert_eq(xcr_book_account_count(a), xcr_book_account_count(b));
    cr_assert_eq(xcr_book_position_count(a), xcr_book_position_count(b));
    cr_assert_eq(a->n_bals, b->n_bals);
    for (size_t i = 0; i < xcr_book_account_count(a); i++)
        cr_assert(same_account(a, b, i), "account %zu differs", i);
    xcr_account_result *ra = margin_all(a), *rb = margin_all(b);
    for (size_t i = 0; i < xcr_book_account_count(a); i++)
        cr_assert(same_result(&ra[i], &rb[i]), "result %zu differs", i);
    free(ra);
    free(rb);
    xcr_book_free(a);
    xcr_book_free(b);
}

Test(demo, different_seeds_differ)
{
    xcr_book *a = demo(1000, 1, 3), *b = demo(1000, 2, 3);
    size_t same = 0;
    for (size_t i = 0; i < 1000; i++)
        same += same_account(a, b, i);
    cr_assert_lt(same, 10, "%zu of 1000 accounts identical across seeds",
                 same);
    xcr_book_free(a);
    xcr_book_free(b);
}

Test(demo, account_depends_only_on_seed_and_index)
{
    /* The book of 300 accounts is a prefix of the book of 1,000. */
    xcr_book *a = demo(300, 5, 8), *b = demo(1000, 5, 8);
    for (size_t i = 0; i < 300; i++)
        cr_assert(same_account(a, b, i), "account %zu differs", i);
    xcr_book_free(a);
    xcr_book_free(b);
}

/* MARK: size and shape -------------------------------------------------------- */

static void check_mean_positions(double ppa)
{
    xcr_book *b = demo(10000, 3, ppa);
    cr_assert_eq(xcr_book_account_count(b), 10000);
    double mean = (double)xcr_book_position_count(b) / 10000.0;
    cr_assert(fabs(mean - ppa) <= 0.2 * ppa,
              "mean positions %g for requested %g", mean, ppa);
    xcr_book_free(b);
}

Test(demo, counts_and_mean_positions)
{
    check_mean_positions(3);
    check_mean_positions(8);
}

Test(demo, defaults)
{
    xcr_book *b = NULL;
    cr_assert_eq(xcr_demo_book(NULL, NULL, &b, NULL), XCR_OK);
    cr_assert_eq(xcr_book_account_count(b), 1000);
    double mean = (double)xcr_book_position_count(b) / 1000.0;
    cr_assert(mean > 2.4 && mean < 3.6, "mean positions %g", mean);
    cr_assert_str_eq(xcr_book_as_of(b), "2024-06-17T08:00:00Z");
    cr_assert_str_eq(xcr_book_account_id(b, 0), "acct-000001");
    cr_assert_str_eq(xcr_book_account_id(b, 999), "acct-001000");
    /* zero-initialised options are the defaults */
    xcr_demo_opts z = {0, 0, 0};
    xcr_book *c = NULL;
    cr_assert_eq(xcr_demo_book(&z, NULL, &c, NULL), XCR_OK);
    for (size_t i = 0; i < 1000; i++)
        cr_assert(same_account(b, c, i));
    xcr_book_free(b);
    xcr_book_free(c);
}

Test(demo, bad_options)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_demo_opts o = {10, 1, NAN};
    cr_assert_eq(xcr_demo_book(&o, NULL, &b, &err), XCR_EINVAL);
    cr_assert_null(b);
    cr_assert(strlen(err.msg) > 0);
    o.positions_per_account = -1;
    cr_assert_eq(xcr_demo_book(&o, NULL, &b, &err), XCR_EINVAL);
    cr_assert_eq(xcr_demo_book(&o, NULL, NULL, &err), XCR_EINVAL);
}

Test(demo, every_mode_emode_and_entity_appears)
{
    xcr_book *b = demo(1000, 1, 3);
    size_t mode[4] = {0}, emode[3] = {0}, ent = 0;
    for (size_t i = 0; i < 1000; i++) {
        mode[xcr_book_account_mode(b, i)]++;
        cr_assert(b->acct_emode[i] >= 0 && b->acct_emode[i] <= 2);
        if (b->acct_mode[i] == XCR_MODE_LENDING)
            emode[b->acct_emode[i]]++;
        ent += b->acct_entity[i] != NULL;
    }
    /* ~70 / 15 / 15 % */
    cr_assert(mode[XCR_MODE_CROSS] > 600 && mode[XCR_MODE_CROSS] < 800);
    cr_assert(mode[XCR_MODE_ISOLATED] > 80 && mode[XCR_MODE_ISOLATED] < 220);
    cr_assert(mode[XCR_MODE_LENDING] > 80 && mode[XCR_MODE_LENDING] < 220);
    cr_assert_gt(emode[0], 0);
    cr_assert_gt(emode[1], 0);
    cr_assert_gt(emode[2], 0);
    cr_assert_gt(ent, 0);
    /* lending accounts hold balances only; isolated margin only where
     * isolated */
    for (size_t i = 0; i < 1000; i++) {
        if (b->acct_mode[i] == XCR_MODE_LENDING)
            cr_assert_eq(b->pos_off[i + 1], b->pos_off[i]);
        if (b->acct_mode[i] == XCR_MODE_ISOLATED)
            for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
                cr_assert_geq(b->pos_iso[p], 0);
    }
    xcr_book_free(b);
}

Test(demo, assets_and_instruments)
{
    xcr_book *b = demo(100, 1, 3);
    cr_assert_geq(xcr_book_asset_count(b), 12);
    long usdt = xcr_book_find_asset(b, "USDT");
    long usdc = xcr_book_find_asset(b, "USDC");
    cr_assert(usdt >= 0 && usdc >= 0);
    cr_assert(xcr_book_asset_stable(b, (size_t)usdt));
    cr_assert(xcr_book_asset_stable(b, (size_t)usdc));
    cr_assert_eq(xcr_book_asset_price(b, (size_t)usdt), 1.0);
    long btc = xcr_book_find_asset(b, "BTC");
    cr_assert(btc >= 0);
    cr_assert(xcr_book_asset_price(b, (size_t)btc) > 50000);
    int models[5] = {0};
    for (size_t a = 0; a < b->n_assets; a++) {
        const xcr__asset *as = &b->assets[a];
        models[as->liq.model]++;
        if (as->liq.model == XCR_LIQ_AMM) /* spec §1.1: spot == price */
            cr_assert_eq(as->liq.p[1] / as->liq.p[0], as->price, "%s",
                         as->symbol);
    }
    for (int k = XCR_LIQ_LINEAR; k <= XCR_LIQ_BOOK; k++)
        cr_assert_gt(models[k], 0, "no asset uses liquidity model %d", k);
    int perp = 0, inverse = 0, future = 0, call = 0, put = 0;
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        perp += in->type == XCR_PERP && !in->inverse;
        inverse += in->inverse;
        if (in->inverse)
            cr_assert_eq(in->settle, in->und, "%s settles in the coin",
                         in->id);
        if (in->type == XCR_FUTURE) {
            future++;
            /* dated futures trade at a premium to index (basis) */
            cr_assert_gt(in->mark, b->assets[in->und].price, "%s", in->id);
        }
        if (in->type == XCR_OPTION) {
            call += in->is_call;
            put += !in->is_call;
            cr_assert(in->iv >= 0.45 && in->iv <= 0.8, "%s iv %g", in->id,
                      in->iv);
        }
    }
    cr_assert_gt(perp, 0);
    cr_assert_geq(inverse, 2);
    cr_assert_geq(future, 2);
    cr_assert_gt(call, 0);
    cr_assert_gt(put, 0);
    cr_assert_geq(xcr_book_find_instrument(b, "BTCUSDT"), 0);
    cr_assert_geq(xcr_book_find_instrument(b, "BTCUSD-PERP"), 0);
    /* the BTCUSDT brackets are Binance's (margin-models.md §3.1): the
     * maintenance amount of bracket 5 is 266,300 */
    const xcr__inst *bt = &b->insts[xcr_book_find_instrument(b, "BTCUSDT")];
    cr_assert_eq(bt->nmt, 10);
    cr_assert_float_eq(b->mtiers[bt->mt_off + 4].cum_mm, 266300, 1e-6);
    cr_assert_not_null(xcr__book_setting(b, "liquidation"));
    cr_assert_not_null(xcr__book_emode(b, 1));
    cr_assert_not_null(xcr__book_emode(b, 2));
    xcr_book_free(b);
}

/* MARK: status mix ------------------------------------------------------------- */

Test(demo, status_mix)
{
    xcr_book *b = demo(1000, 1, 3);
    xcr_account_result *r = margin_all(b);
    size_t st[4] = {0};
    for (size_t i = 0; i < 1000; i++)
        st[r[i].status]++;
    cr_assert_gt(st[XCR_HEALTHY], 850, "healthy %zu of 1000",
                 st[XCR_HEALTHY]);
    cr_assert_gt(st[XCR_MARGIN_CALL] + st[XCR_LIQUIDATABLE], 0);
    free(r);
    xcr_book_free(b);

    /* On a larger book the designed shares show: ~1 % liquidatable, a few
     * percent margin call, a sliver bankrupt. */
    b = demo(20000, 9, 8);
    r = margin_all(b);
    memset(st, 0, sizeof st);
    for (size_t i = 0; i < 20000; i++)
        st[r[i].status]++;
    double liq = (double)st[XCR_LIQUIDATABLE] / 20000;
    double mc = (double)st[XCR_MARGIN_CALL] / 20000;
    cr_assert(liq > 0.004 && liq < 0.02, "liquidatable share %g", liq);
    cr_assert(mc > 0.01 && mc < 0.08, "margin_call share %g", mc);
    cr_assert_gt(st[XCR_BANKRUPT], 0);
    cr_assert_lt(st[XCR_BANKRUPT], 100);
    free(r);
    xcr_book_free(b);
}

/* MARK: allocator ------------------------------------------------------------------ */

typedef struct counting {
    long live, total;
} counting;

static void *c_malloc(void *ctx, size_t n)
{
    counting *c = ctx;
    void *p = malloc(n);
    if (p) {
        c->live++;
        c->total++;
    }
    return p;
}

static void *c_realloc(void *ctx, void *p, size_t old_n, size_t n)
{
    (void)old_n;
    counting *c = ctx;
    void *q = realloc(p, n);
    if (q && !p) {
        c->live++;
        c->total++;
    }
    return q;
}

static void c_free(void *ctx, void *p)
{
    counting *c = ctx;
    if (p)
        c->live--;
    free(p);
}

Test(demo, uses_the_callers_allocator)
{
    counting cnt = {0, 0};
    xcr_allocator al = {c_malloc, c_realloc, c_free, &cnt};
    xcr_demo_opts o = {500, 1, 3};
    xcr_book *b = NULL;
    cr_assert_eq(xcr_demo_book(&o, &al, &b, NULL), XCR_OK);
    cr_assert_gt(cnt.total, 500);
    xcr_book_free(b);
    cr_assert_eq(cnt.live, 0, "%ld blocks leaked", cnt.live);
}
