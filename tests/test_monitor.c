/* The live monitor library (include/xcr/monitor.h, src/monitor/):
 *  - incremental recompute equals a full `xcr margin` of the same state on
 *    10,000 random ticks mixed with random upserts and deletes (seeded;
 *    XCR_TEST_SEED replays; the seed is printed on failure);
 *  - alerts on status transitions and health-level crossings, with numbers
 *    derived by hand from spec §2 (cross mode, one perp), and the alerts of
 *    random ticks equal a reference diff of the results before and after;
 *  - bad ticks and upserts are rejected atomically;
 *  - the SQLite state resumes exactly;
 *  - the tick's evaluation copy is a grouping permutation of the book and
 *    its alerts still come in canonical order. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "monitor/monitor_int.h"
#include "test_support.h"
#include "xcr.h"

/* MARK: helpers ----------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }
static size_t irand(size_t n) { return (size_t)(unif() * (double)n); }

static xcr_monitor *demo_monitor(size_t accounts, size_t overlay_max)
{
    xcr_demo_opts d = {accounts, 11, 3};
    xcr_book *b = NULL;
    cr_assert_eq(xcr_demo_book(&d, NULL, &b, NULL), XCR_OK);
    xcr_monitor_opts o;
    xcr_monitor_opts_init(&o);
    o.overlay_max = overlay_max;
    o.threads = 2;
    xcr_monitor *m = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_new(b, &o, &m, &err), XCR_OK, "%s", err.msg);
    return m;
}

static char *summary(const xcr_monitor *m)
{
    char *s = NULL;
    cr_assert_eq(xcr_monitor_summary_json(m, &s, NULL), XCR_OK);
    return s;
}

/* The "summary" object of a report text. */
static char *summary_object(const char *text)
{
    const char *p = strstr(text, "\"summary\": {");
    cr_assert_not_null(p);
    p += strlen("\"summary\": ");
    const char *e = strchr(p, '}');
    return strndup(p, (size_t)(e - p + 1));
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Full recompute of the same state: the snapshot book (canonical order)
 * under xcr_margin_all and the `xcr margin` report, against the monitor's
 * incremental results, bit for bit; the summary object byte for byte; one
 * random account's JSON byte for byte. */
static void check_full(const xcr_monitor *m, uint64_t seed, int step)
{
    xcr_book *b = NULL;
    xcr_market *mk = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_snapshot(m, &b, &mk, &err), XCR_OK, "%s",
                 err.msg);
    size_t n = xcr_book_account_count(b);
    cr_assert_eq(n, xcr_monitor_account_count(m), "seed %llu step %d",
                 (unsigned long long)seed, step);
    xcr_account_result *full = calloc(n + 1, sizeof *full);
    cr_assert_eq(xcr_margin_all(mk, 1, full, &err), XCR_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        xcr_account_result r;
        const char *id = xcr_book_account_id(b, i);
        cr_assert_eq(xcr_monitor_account_result(m, id, &r), XCR_OK);
        cr_assert(same_double(r.equity, full[i].equity) &&
                      same_double(r.collateral, full[i].collateral) &&
                      same_double(r.initial_margin, full[i].initial_margin) &&
                      same_double(r.maintenance_margin,
                                  full[i].maintenance_margin) &&
                      same_double(r.health, full[i].health) &&
                      r.status == full[i].status,
                  "seed %llu step %d: account %s: incremental %.17g/%d, "
                  "full %.17g/%d",
                  (unsigned long long)seed, step, id, r.collateral, r.status,
                  full[i].collateral, full[i].status);
    }
    /* summary: the report's own object */
    char *rep = NULL;
    size_t rl = 0;
    FILE *f = open_memstream(&rep, &rl);
    xcr_margin_report_opts ro = {XCR_OUT_JSON, -1, 1, 0, NULL, NULL};
    cr_assert_eq(xcr_margin_report(mk, &ro, f, &err), XCR_OK);
    fclose(f);
    char *mine = summary((xcr_monitor *)(uintptr_t)m);
    char *a = summary_object(rep), *s2 = summary_object(mine);
    cr_assert_str_eq(s2, a, "seed %llu step %d", (unsigned long long)seed,
                     step);
    free(a);
    free(s2);
    free(mine);
    free(rep);
    /* one account's JSON: exactly `xcr margin --account ID --format json` */
    if (n) {
        size_t i = irand(n);
        rep = NULL;
        f = open_memstream(&rep, &rl);
        xcr_margin_report_opts r1 = {XCR_OUT_JSON, (long)i, 1, 1, NULL, NULL};
        cr_assert_eq(xcr_margin_report(mk, &r1, f, &err), XCR_OK);
        fclose(f);
        char *j = NULL;
        cr_assert_eq(xcr_monitor_account_json(m, xcr_book_account_id(b, i),
                                              &j, &err),
                     XCR_OK, "%s", err.msg);
        const char *obj = strstr(rep, "[\n  ") + 4;
        const char *end = strstr(rep, "\n ],\n \"summary\"");
        size_t len = (size_t)(end - obj);
        cr_assert(strncmp(j + strlen("{\"account\": "), obj, len) == 0 &&
                      strncmp(j + strlen("{\"account\": ") + len,
                              ",\n \"explain\": ", 14) == 0,
                  "seed %llu step %d: account JSON differs",
                  (unsigned long long)seed, step);
        free(j);
        free(rep);
    }
    free(full);
    xcr_market_free(mk);
    xcr_book_free(b);
}

/* An upsert body: random balances and positions over the book. */
static char *random_account(const xcr_book *b, const char *id)
{
    char *s = malloc(4096);
    size_t at = (size_t)snprintf(s, 4096, "{\"id\": \"%s\", \"mode\": \"%s\"",
                                 id, unif() < 0.8 ? "cross" : "lending");
    bool lending = strstr(s, "lending") != NULL;
    at += (size_t)snprintf(s + at, 4096 - at, ", \"balances\": {");
    size_t na = xcr_book_asset_count(b), nb = 1 + irand(3);
    size_t first = irand(na);
    for (size_t k = 0; k < nb && k < na; k++) {
        size_t a = (first + k) % na;
        double usd = (unif() - (lending ? 0.3 : 0.1)) * 20000;
        at += (size_t)snprintf(s + at, 4096 - at, "%s\"%s\": %.6g",
                               k ? ", " : "", xcr_book_asset_symbol(b, a),
                               usd / xcr_book_asset_price(b, a));
    }
    at += (size_t)snprintf(s + at, 4096 - at, "}, \"positions\": [");
    size_t np = lending ? 0 : irand(3);
    for (size_t k = 0; k < np; k++) {
        /* perps, a future and an option of the demo book */
        const char *ids[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT",
                             "BTC-28JUN24-60000-C", "ETHUSDT-240628"};
        at += (size_t)snprintf(s + at, 4096 - at,
                               "%s{\"instrument\": \"%s\", \"size\": %.4g}",
                               k ? ", " : "", ids[irand(5)],
                               (unif() - 0.5) * 2);
    }
    snprintf(s + at, 4096 - at, "]}");
    return s;
}

/* MARK: incremental == full ---------------------------------------------- */

Test(monitor, incremental_equals_full_recompute)
{
    uint64_t seed = xt_seed(20261124);
    rng_state = seed;
    xcr_monitor *m = demo_monitor(400, 12);
    const xcr_book *b = xcr_monitor_book(m);
    size_t na = xcr_book_asset_count(b);
    double *price = malloc(na * sizeof *price);
    for (size_t a = 0; a < na; a++)
        price[a] = xcr_book_asset_price(b, a);
    char *ids[64];
    size_t nids = 0;
    int ticks = 0;
    xcr_error err = {0};
    check_full(m, seed, 0);
    for (int step = 1; ticks < 10000; step++) {
        double u = unif();
        b = xcr_monitor_book(m);
        if (u < 0.92) {
            xcr_tick t[3];
            size_t n = 1 + irand(3);
            for (size_t k = 0; k < n; k++) {
                size_t a = irand(na);
                price[a] *= exp(0.06 * (unif() - 0.5));
                t[k] = (xcr_tick){a, price[a],
                                  unif() < 0.2 ? 0.2 + unif() : NAN};
            }
            xcr_update_result r;
            cr_assert_eq(xcr_monitor_apply_ticks(m, t, n, 1.7e9, &r, &err),
                         XCR_OK, "seed %llu step %d: %s",
                         (unsigned long long)seed, step, err.msg);
            ticks += (int)n;
        } else if (u < 0.97) {
            /* upsert: a new id, one of ours, or a demo account */
            char id[32];
            double v = unif();
            if (v < 0.4 || nids == 0) {
                snprintf(id, sizeof id, "new-%d", step);
                if (nids < 64)
                    ids[nids++] = strdup(id);
            } else if (v < 0.7) {
                snprintf(id, sizeof id, "%s", ids[irand(nids)]);
            } else {
                snprintf(id, sizeof id, "acct-%06zu", 1 + irand(400));
            }
            char *body = random_account(b, id);
            xcr_account_upsert *up = NULL;
            cr_assert_eq(xcr_account_upsert_parse(b, body, strlen(body), NULL,
                                                  &up, &err),
                         XCR_OK, "%s: %s", body, err.msg);
            xcr_status s = xcr_monitor_upsert(m, up, 1.7e9, NULL, &err);
            cr_assert(s == XCR_OK || s == XCR_EINVAL || s == XCR_ERANGE,
                      "seed %llu step %d: %s", (unsigned long long)seed, step,
                      err.msg);
            xcr_account_upsert_free(up);
            free(body);
        } else {
            char id[32];
            if (unif() < 0.5 && nids)
                snprintf(id, sizeof id, "%s", ids[irand(nids)]);
            else
                snprintf(id, sizeof id, "acct-%06zu", 1 + irand(400));
            xcr_status s = xcr_monitor_delete(m, id, 1.7e9, NULL, &err);
            cr_assert(s == XCR_OK || s == XCR_ENOTFOUND, "%s", err.msg);
        }
        if (step % 250 == 0)
            check_full(m, seed, step);
    }
    check_full(m, seed, -1);
    for (size_t k = 0; k < nids; k++)
        free(ids[k]);
    free(price);
    xcr_monitor_free(m);
}

/* An unchanged state is the book itself: the snapshot (the rebuilt book
 * that compaction uses) equals the original field by field. */
Test(monitor, snapshot_of_untouched_state_is_the_book)
{
    xcr_demo_opts d = {300, 5, 3};
    xcr_book *orig = NULL, *b = NULL;
    cr_assert_eq(xcr_demo_book(&d, NULL, &orig, NULL), XCR_OK);
    cr_assert_eq(xcr_demo_book(&d, NULL, &b, NULL), XCR_OK);
    xcr_monitor *m = NULL;
    cr_assert_eq(xcr_monitor_new(b, NULL, &m, NULL), XCR_OK);
    xcr_book *snap = NULL;
    xcr_market *mk = NULL;
    cr_assert_eq(xcr_monitor_snapshot(m, &snap, &mk, NULL), XCR_OK);
    char why[256] = "";
    cr_assert(xcr__book_equal(orig, snap, why, sizeof why), "%s", why);
    xcr_market_free(mk);
    xcr_book_free(snap);
    xcr_book_free(orig);
    xcr_monitor_free(m);
}

/* MARK: alerts ------------------------------------------------------------ */

/* One cross account: 100 USDT and a 10 BTC long perp entered at 100, with
 * the default bracket (imr 0.1, mmr 0.05).  Spec §2, by hand:
 *   P = 100: collateral 100, MM 50,  IM 100 → health 2, healthy
 *   P = 96:  upnl -40 → 60;  MM 48,  IM 96  → 1.25, margin_call
 *            (crosses 1.5)
 *   P = 95:  upnl -50 → 50;  MM 47.5        → 1.0526, margin_call
 *            (crosses 1.2 and 1.1)
 *   P = 90:  upnl -100 → 0;  equity 0       → liquidatable
 *   P = 89:  equity -10                     → bankrupt
 *   P = 100: back to health 2, healthy (crosses 1.1, 1.2, 1.5 upwards). */
static const char *one_book =
    "{\"assets\": [{\"symbol\": \"USDT\", \"price\": 1, \"stable\": true},"
    " {\"symbol\": \"BTC\", \"price\": 100}],"
    " \"instruments\": [{\"id\": \"BTC-PERP\", \"type\": \"perp\","
    " \"underlying\": \"BTC\"}],"
    " \"accounts\": [{\"id\": \"a1\", \"mode\": \"cross\", \"balances\":"
    " {\"USDT\": 100}, \"positions\": [{\"instrument\": \"BTC-PERP\","
    " \"size\": 10, \"entry_price\": 100}]}]}";

static xcr_monitor *one_monitor(void)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_load_json_text(one_book, strlen(one_book), "one",
                                         NULL, &b, &err),
                 XCR_OK, "%s", err.msg);
    xcr_monitor *m = NULL;
    cr_assert_eq(xcr_monitor_new(b, NULL, &m, &err), XCR_OK, "%s", err.msg);
    return m;
}

static void tick(xcr_monitor *m, double p, xcr_update_result *r)
{
    xcr_tick t = {1, p, NAN};
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_apply_ticks(m, &t, 1, 1.7e9, r, &err), XCR_OK,
                 "%s", err.msg);
}

static void expect_alerts(xcr_monitor *m, const xcr_update_result *r,
                          const char *const *want, size_t n)
{
    cr_assert_eq(r->alerts, n, "alerts %zu, want %zu", r->alerts, n);
    for (size_t k = 0; k < n; k++) {
        char *j = NULL;
        cr_assert_eq(xcr_monitor_alert_json(m, r->first_alert + k, &j, NULL),
                     XCR_OK);
        cr_assert(strstr(j, want[k]), "alert %s lacks %s", j, want[k]);
        free(j);
    }
}

Test(monitor, alerts_on_transitions_and_levels)
{
    xcr_monitor *m = one_monitor();
    xcr_account_result r0;
    cr_assert_eq(xcr_monitor_account_result(m, "a1", &r0), XCR_OK);
    cr_assert_float_eq(r0.health, 2.0, 1e-12);
    xcr_update_result r;
    tick(m, 96, &r);
    const char *a1[] = {
        "\"kind\": \"status\", \"account\": \"a1\", \"from\": \"healthy\", "
        "\"to\": \"margin_call\", \"health\": 1.25",
        "\"kind\": \"health_level\", \"account\": \"a1\", \"from\": "
        "\"healthy\", \"to\": \"margin_call\", \"health\": 1.25, \"level\": "
        "1.5"};
    expect_alerts(m, &r, a1, 2);
    tick(m, 95, &r);
    const char *a2[] = {"\"level\": 1.2", "\"level\": 1.1"};
    expect_alerts(m, &r, a2, 2);
    xcr_account_result x;
    xcr_monitor_account_result(m, "a1", &x);
    cr_assert_float_eq(x.health, 50.0 / 47.5, 1e-12);
    tick(m, 90, &r);
    const char *a3[] = {"\"from\": \"margin_call\", \"to\": \"liquidatable\""};
    expect_alerts(m, &r, a3, 1);
    tick(m, 89, &r);
    const char *a4[] = {"\"from\": \"liquidatable\", \"to\": \"bankrupt\""};
    expect_alerts(m, &r, a4, 1);
    tick(m, 100, &r);
    const char *a5[] = {"\"from\": \"bankrupt\", \"to\": \"healthy\"",
                        "\"level\": 1.5", "\"level\": 1.2", "\"level\": 1.1"};
    expect_alerts(m, &r, a5, 4);
    /* the alert log pages */
    char *j = NULL;
    cr_assert_eq(xcr_monitor_alerts_json(m, 3, 2, &j, NULL), XCR_OK);
    cr_assert(strstr(j, "\"seq\": 3") && strstr(j, "\"seq\": 4") &&
              !strstr(j, "\"seq\": 5") && strstr(j, "\"next\": 5"), "%s", j);
    free(j);
    xcr_monitor_free(m);
}

/* The alerts of a tick, counted from the results before and after it by
 * the definition (docs/serve.md "Alerts": one for a status change, one per
 * health level crossed in either direction), equal the alerts the monitor
 * raises: the tick path decides which accounts to diff from a one-byte band
 * per account (status, levels passed), so this checks that the band never
 * misses a crossing.  Levels unsorted and one repeated; large moves so
 * that accounts cross several levels and statuses at once. */
Test(monitor, tick_alerts_equal_reference_diff)
{
    uint64_t seed = xt_seed(20261124);
    rng_state = seed;
    /* 3,000 accounts: a tick's alerts are made on two threads and merged */
    xcr_demo_opts d = {3000, 7, 3};
    xcr_book *book = NULL;
    cr_assert_eq(xcr_demo_book(&d, NULL, &book, NULL), XCR_OK);
    xcr_monitor_opts o;
    xcr_monitor_opts_init(&o);
    const double lv[] = {1.2, 1.05, 1.5, 1.2, 2.0};
    memcpy(o.levels, lv, sizeof lv);
    o.n_levels = 5;
    o.threads = 2;
    xcr_monitor *m = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_new(book, &o, &m, &err), XCR_OK, "%s", err.msg);
    const xcr_book *b = xcr_monitor_book(m);
    size_t n = xcr_book_account_count(b), na = xcr_book_asset_count(b);
    xcr_account_result *before = calloc(n, sizeof *before);
    size_t total = 0;
    for (int step = 0; step < 100; step++) {
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(xcr_monitor_account_result(
                             m, xcr_book_account_id(b, i), &before[i]),
                         XCR_OK);
        xcr_tick t = {irand(na), xcr_book_asset_price(b, 0), NAN};
        t.price = xcr_book_asset_price(b, t.asset) * (0.85 + 0.3 * unif());
        xcr_update_result r;
        cr_assert_eq(xcr_monitor_apply_ticks(m, &t, 1, 1.7e9, &r, &err),
                     XCR_OK, "seed %llu step %d: %s",
                     (unsigned long long)seed, step, err.msg);
        /* the reference alerts in canonical order (account index; status
         * first, then the levels in their configured order) against the
         * tick's alerts, the newest r.alerts of the ring */
        cr_assert_geq(m->ring_len, r.alerts);
        size_t want = 0;
        for (size_t i = 0; i < n; i++) {
            xcr_account_result a;
            xcr_monitor_account_result(m, xcr_book_account_id(b, i), &a);
            want += a.status != before[i].status;
            for (size_t l = 0; l < o.n_levels; l++)
                want += (before[i].health >= lv[l]) != (a.health >= lv[l]);
        }
        cr_assert_eq(r.alerts, want, "seed %llu step %d: %zu alerts, the "
                     "reference diff gives %zu",
                     (unsigned long long)seed, step, r.alerts, want);
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            xcr_account_result a;
            xcr_monitor_account_result(m, xcr_book_account_id(b, i), &a);
            for (int l = -1; l < (int)o.n_levels; l++) {
                bool st = l < 0;
                if (st ? a.status == before[i].status
                       : (before[i].health >= lv[l]) == (a.health >= lv[l]))
                    continue;
                const xcr__alert *al =
                    &m->ring[(m->ring_head + m->ring_len - r.alerts + at) %
                             m->ring_cap];
                cr_assert_str_eq(al->account, xcr_book_account_id(b, i),
                                 "seed %llu step %d alert %zu",
                                 (unsigned long long)seed, step, at);
                cr_assert_eq(al->seq, r.first_alert + at);
                cr_assert_eq(al->kind, st ? 0 : 1);
                cr_assert_eq(al->from, (uint8_t)before[i].status);
                cr_assert_eq(al->to, (uint8_t)a.status);
                cr_assert(st ? isnan(al->level) : al->level == lv[l]);
                cr_assert(al->health == a.health ||
                          (isnan(al->health) && isnan(a.health)));
                at++;
            }
        }
        total += want;
    }
    cr_assert_gt(total, 100, "seed %llu: the moves must raise alerts",
                 (unsigned long long)seed);
    free(before);
    xcr_monitor_free(m);
}

/* The on_tick_alerts hook (monitor.h) sees exactly the tick's alerts,
 * already readable as JSON, before the results are committed (the account
 * still reads its old result inside the hook); it is not called for a tick
 * without alerts nor for a rejected tick. */
typedef struct hook_log {
    xcr_monitor *m;
    uint64_t first;
    size_t n, calls, json_ok;
    const char *watch;      /* an account whose alert the tick raises  */
    xcr_acct_status seen;   /* its status as read inside the hook      */
} hook_log;

static void record_hook(void *ctx, uint64_t first, size_t n)
{
    hook_log *h = ctx;
    h->calls++;
    h->first = first;
    h->n = n;
    for (uint64_t s = first; s < first + n; s++) {
        char *j = NULL;
        if (xcr_monitor_alert_json(h->m, s, &j, NULL) == XCR_OK && j &&
            strstr(j, "\"account\""))
            h->json_ok++;
        free(j);
    }
    xcr_account_result r;
    if (h->watch &&
        xcr_monitor_account_result(h->m, h->watch, &r) == XCR_OK)
        h->seen = r.status;
}

Test(monitor, tick_alert_hook_runs_before_the_commit)
{
    xcr_demo_opts d = {2000, 11, 3};
    xcr_book *book = NULL;
    cr_assert_eq(xcr_demo_book(&d, NULL, &book, NULL), XCR_OK);
    hook_log h = {0};
    xcr_monitor_opts o;
    xcr_monitor_opts_init(&o);
    o.threads = 2;
    o.on_tick_alerts = record_hook;
    o.on_tick_alerts_ctx = &h;
    xcr_monitor *m = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_new(book, &o, &m, &err), XCR_OK, "%s", err.msg);
    h.m = m;
    const xcr_book *b = xcr_monitor_book(m);
    size_t btc = 0, na = xcr_book_asset_count(b);
    while (btc < na && strcmp(xcr_book_asset_symbol(b, btc), "BTC") != 0)
        btc++;
    cr_assert_lt(btc, na);
    /* an account that a 35 % fall makes change status: the first one */
    size_t n = xcr_book_account_count(b);
    xcr_account_result *before = calloc(n, sizeof *before);
    for (size_t i = 0; i < n; i++)
        xcr_monitor_account_result(m, xcr_book_account_id(b, i), &before[i]);
    double p0 = xcr_book_asset_price(b, btc);
    xcr_tick t = {btc, p0 * 0.65, NAN};
    /* find the watched account with a dry run on a second monitor */
    xcr_book *book2 = NULL;
    cr_assert_eq(xcr_demo_book(&d, NULL, &book2, NULL), XCR_OK);
    xcr_monitor_opts o2;
    xcr_monitor_opts_init(&o2);
    xcr_monitor *m2 = NULL;
    cr_assert_eq(xcr_monitor_new(book2, &o2, &m2, &err), XCR_OK);
    xcr_update_result r2;
    cr_assert_eq(xcr_monitor_apply_ticks(m2, &t, 1, 1.7e9, &r2, &err),
                 XCR_OK, "%s", err.msg);
    for (size_t i = 0; i < n && !h.watch; i++) {
        xcr_account_result a;
        xcr_monitor_account_result(m2, xcr_book_account_id(b, i), &a);
        if (a.status != before[i].status) {
            h.watch = xcr_book_account_id(b, i);
            h.seen = a.status; /* overwritten by the hook */
        }
    }
    cr_assert_not_null(h.watch, "a 35 %% fall must change some status");
    size_t wi = 0;
    while (strcmp(xcr_book_account_id(b, wi), h.watch) != 0)
        wi++;
    xcr_update_result r;
    cr_assert_eq(xcr_monitor_apply_ticks(m, &t, 1, 1.7e9, &r, &err), XCR_OK,
                 "%s", err.msg);
    cr_assert_eq(h.calls, 1);
    cr_assert_gt(r.alerts, 0);
    cr_assert_eq(h.first, r.first_alert);
    cr_assert_eq(h.n, r.alerts);
    cr_assert_eq(h.json_ok, r.alerts, "every alert readable in the hook");
    cr_assert_eq(h.seen, before[wi].status,
                 "inside the hook the results are not committed yet");
    xcr_account_result after;
    xcr_monitor_account_result(m, h.watch, &after);
    cr_assert_neq(after.status, before[wi].status);
    /* the same price again: no alerts, no call; a bad tick: no call */
    cr_assert_eq(xcr_monitor_apply_ticks(m, &t, 1, 1.7e9, &r, &err), XCR_OK);
    cr_assert_eq(r.alerts, 0);
    xcr_tick bad = {btc, -1, NAN};
    cr_assert_neq(xcr_monitor_apply_ticks(m, &bad, 1, 1.7e9, &r, &err),
                  XCR_OK);
    cr_assert_eq(h.calls, 1);
    free(before);
    xcr_monitor_free(m2);
    xcr_monitor_free(m);
}

/* MARK: locality ------------------------------------------------------------ */

/* The evaluation copy (monitor.c "locality") holds the main book's accounts
 * grouped by exposure set: a permutation, each account identical to its
 * canonical one, and an asset's accounts in fewer contiguous runs than in
 * the canonical order.  A tick evaluates in that order but reports its
 * alerts in canonical order (ascending account index), like before. */
Test(monitor, evaluation_copy_is_a_grouping_permutation)
{
    xcr_monitor *m = demo_monitor(3000, 64);
    const xcr_book *b = m->book, *e = m->ebook;
    size_t n = m->n_main, na = b->n_assets;
    cr_assert_eq(e->n_accts, n);
    uint8_t *seen = calloc(n, 1);
    size_t moved = 0;
    for (size_t p = 0; p < n; p++) {
        uint32_t sl = m->slot_of_phys[p];
        cr_assert_lt(sl, n);
        cr_assert_eq(seen[sl], 0, "slot %u twice", sl);
        seen[sl] = 1;
        cr_assert_eq(m->phys_of[sl], p);
        moved += sl != p;
        cr_assert_str_eq(e->acct_id[p], b->acct_id[sl]);
        cr_assert_eq(e->pos_off[p + 1] - e->pos_off[p],
                     b->pos_off[sl + 1] - b->pos_off[sl]);
        cr_assert_eq(e->bal_off[p + 1] - e->bal_off[p],
                     b->bal_off[sl + 1] - b->bal_off[sl]);
    }
    cr_assert_gt(moved, n / 2, "the copy must be reordered");
    /* runs of consecutive indices: evaluation copy vs canonical order */
    size_t runs_e = 0, runs_c = 0;
    uint8_t *hit = calloc(n, 1);
    for (size_t a = 0; a < na; a++) {
        memset(hit, 0, n);
        for (uint32_t q = m->idx_off[a]; q < m->idx_off[a + 1]; q++) {
            uint32_t ph = m->idx_acct[q];
            runs_e += q == m->idx_off[a] || m->idx_acct[q - 1] + 1 != ph;
            hit[m->slot_of_phys[ph]] = 1;
        }
        for (size_t i = 0; i < n; i++)
            runs_c += hit[i] && (i == 0 || !hit[i - 1]);
    }
    cr_assert_lt(runs_e * 2, runs_c, "runs: grouped %zu, canonical %zu",
                 runs_e, runs_c);
    /* alerts of a big move, in canonical order */
    long a = xcr_book_find_asset(b, "BTC");
    cr_assert_geq(a, 0);
    xcr_tick t = {(size_t)a, xcr_book_asset_price(b, (size_t)a) * 0.6, NAN};
    xcr_update_result r;
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_apply_ticks(m, &t, 1, 1.7e9, &r, &err), XCR_OK,
                 "%s", err.msg);
    cr_assert_gt(r.alerts, 10);
    long prev = -1;
    cr_assert_eq(m->n_pending, r.alerts); /* the update's alerts */
    for (size_t k = 0; k < m->n_pending; k++) {
        const xcr__alert *al = &m->pending[k];
        long i = xcr_book_find_account(b, al->account);
        cr_assert_geq(i, prev, "alert %zu for %s out of canonical order", k,
                      al->account);
        prev = i;
    }
    check_full(m, 0, 0);
    free(hit);
    free(seen);
    xcr_monitor_free(m);
}

/* MARK: rejection without state change ------------------------------------- */

Test(monitor, bad_ticks_change_nothing)
{
    xcr_monitor *m = demo_monitor(200, 0);
    const xcr_book *b = xcr_monitor_book(m);
    /* a whale whose margin overflows at BTC = 1e300 */
    const char *whale = "{\"id\": \"whale\", \"mode\": \"cross\", "
                        "\"balances\": {\"BTC\": 1e10}}";
    xcr_account_upsert *wu = NULL;
    cr_assert_eq(xcr_account_upsert_parse(b, whale, strlen(whale), NULL, &wu,
                                          NULL),
                 XCR_OK);
    cr_assert_eq(xcr_monitor_upsert(m, wu, 1.7e9, NULL, NULL), XCR_OK);
    xcr_account_upsert_free(wu);
    char *before = summary(m);
    static const char *const bad[] = {
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 60000}, {\"symbol\": "
        "\"NOPE\", \"price\": 1}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 60000}, {\"symbol\": "
        "\"ETH\", \"price\": 0}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": -5}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": NaN}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": \"1\"}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 1, \"vol\": -1}]}",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 1, \"extra\": 1}]}",
        "{\"ticks\": []}",
        "{\"ticks\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]}",
        "[1, 2]",
        "{\"ticks\": [{\"symbol\": \"BTC\", \"price\": 1e999}]}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        xcr_tick *t = NULL;
        size_t n = 7;
        xcr_error err = {0};
        xcr_status s = xcr_ticks_parse(b, bad[k], strlen(bad[k]), &t, &n,
                                       &err);
        cr_assert_neq(s, XCR_OK, "accepted: %s", bad[k]);
        cr_assert(t == NULL && n == 0);
        cr_assert(strncmp(err.msg, "request: ", 9) == 0, "%s", err.msg);
    }
    /* parses, but the margin would overflow: rejected, prices restored */
    xcr_tick t[2] = {{(size_t)xcr_book_find_asset(b, "ETH"), 1000, NAN},
                     {(size_t)xcr_book_find_asset(b, "BTC"), 1e300, 0.5}};
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_apply_ticks(m, t, 2, 1.7e9, NULL, &err),
                 XCR_ERANGE, "%s", err.msg);
    /* direct NaN */
    t[0].price = NAN;
    cr_assert_eq(xcr_monitor_apply_ticks(m, t, 1, 1.7e9, NULL, &err),
                 XCR_EINVAL);
    char *after = summary(m);
    cr_assert_str_eq(after, before);
    free(after);
    check_full(m, 0, 0);
    free(before);
    xcr_monitor_free(m);
}

Test(monitor, bad_upserts_change_nothing)
{
    xcr_monitor *m = demo_monitor(100, 0);
    const xcr_book *b = xcr_monitor_book(m);
    char *before = summary(m);
    static const char *const bad[] = {
        "{\"id\": \"x\", \"mode\": \"cross\", \"balances\": {\"NOPE\": 1}}",
        "{\"id\": \"x\", \"mode\": \"crossed\"}",
        "{\"mode\": \"cross\"}",
        "{\"id\": \"bad id!\", \"mode\": \"cross\"}",
        "{\"id\": \"x\", \"mode\": \"cross\", \"positions\": [{\"instrument\": "
        "\"NOPE\", \"size\": 1}]}",
        "{\"id\": \"x\", \"mode\": \"cross\", \"positions\": [{\"instrument\": "
        "\"BTCUSDT\"}]}",
        "{\"id\": \"x\", \"mode\": \"cross\", \"colour\": \"red\"}",
        "{\"id\": \"x\", \"mode\": \"cross\", \"balances\": {\"BTC\": 1, "
        "\"BTC\": 2}}",
        "not json",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        xcr_account_upsert *u = NULL;
        xcr_error err = {0};
        cr_assert_neq(xcr_account_upsert_parse(b, bad[k], strlen(bad[k]),
                                               NULL, &u, &err),
                      XCR_OK, "accepted: %s", bad[k]);
        cr_assert_null(u);
        cr_assert(err.msg[0]);
    }
    /* id in the URL must match */
    xcr_account_upsert *u = NULL;
    const char *ok = "{\"id\": \"x\", \"mode\": \"cross\"}";
    cr_assert_eq(xcr_account_upsert_parse(b, ok, strlen(ok), "y", &u, NULL),
                 XCR_EINVAL);
    /* parses, but the builder rejects it (isolated margin in cross mode),
     * or the margin overflows */
    const char *rej[] = {
        "{\"id\": \"x\", \"mode\": \"cross\", \"positions\": [{\"instrument\": "
        "\"BTCUSDT\", \"size\": 1, \"isolated_margin\": 5}]}",
        "{\"id\": \"x\", \"mode\": \"cross\", \"positions\": [{\"instrument\": "
        "\"BTCUSDT\", \"size\": 1e305}]}"};
    for (size_t k = 0; k < 2; k++) {
        xcr_error err = {0};
        cr_assert_eq(xcr_account_upsert_parse(b, rej[k], strlen(rej[k]), NULL,
                                              &u, &err),
                     XCR_OK, "%s", err.msg);
        cr_assert_neq(xcr_monitor_upsert(m, u, 1.7e9, NULL, &err), XCR_OK);
        cr_assert(err.msg[0]);
        xcr_account_upsert_free(u);
    }
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_delete(m, "nobody", 1.7e9, NULL, &err),
                 XCR_ENOTFOUND);
    char *after = summary(m);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    xcr_monitor_free(m);
}

Test(monitor, query_strings)
{
    xcr_account_query q;
    cr_assert_eq(xcr_account_query_parse(NULL, &q, NULL), XCR_OK);
    cr_assert(q.status == -1 && q.sort == 0 && q.limit == 100);
    cr_assert_eq(xcr_account_query_parse(
                     "status=liquidatable&sort=health&limit=5&offset=2", &q,
                     NULL),
                 XCR_OK);
    cr_assert(q.status == XCR_LIQUIDATABLE && q.sort == 1 && q.limit == 5 &&
              q.offset == 2);
    const char *bad[] = {"status=bad", "sort=size", "limit=0", "limit=10001",
                         "limit=-1", "limit=1x", "colour=red"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        cr_assert_eq(xcr_account_query_parse(bad[k], &q, NULL), XCR_EINVAL,
                     "%s", bad[k]);
}

/* MARK: persistence --------------------------------------------------------- */

Test(monitor, sqlite_state_resumes_exactly)
{
    char *dir = xt_temp_dir();
    char db[4200];
    snprintf(db, sizeof db, "%s/state.db", dir);
    xcr_monitor_opts o;
    xcr_monitor_opts_init(&o);
    o.db_path = db;
    o.demo_accounts = 150;
    o.overlay_max = 3;
    xcr_monitor *m = NULL;
    int resumed = -1;
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_open(&o, &m, &resumed, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(resumed, 0);
    rng_state = 99;
    const xcr_book *b = xcr_monitor_book(m);
    for (int k = 0; k < 40; k++) {
        if (k % 5 == 4) {
            char id[32];
            snprintf(id, sizeof id, k % 10 == 4 ? "p-%d" : "acct-%06d", k);
            char *body = random_account(b, id);
            xcr_account_upsert *u = NULL;
            cr_assert_eq(xcr_account_upsert_parse(b, body, strlen(body), NULL,
                                                  &u, &err),
                         XCR_OK);
            xcr_monitor_upsert(m, u, 1.7e9 + k, NULL, &err);
            xcr_account_upsert_free(u);
            free(body);
            b = xcr_monitor_book(m);
            continue;
        }
        if (k == 7)
            cr_assert_eq(xcr_monitor_delete(m, "acct-000010", 1.7e9, NULL,
                                            &err),
                         XCR_OK);
        xcr_tick t = {2 + (size_t)(k % 3), xcr_book_asset_price(b, 2) *
                                               (0.7 + 0.01 * k),
                      k % 4 == 0 ? 0.9 : NAN};
        t.price = (k % 3 == 0 ? 60000.0 : k % 3 == 1 ? 3000.0 : 150.0) *
                  (0.7 + 0.01 * k);
        cr_assert_eq(xcr_monitor_apply_ticks(m, &t, 1, 1.7e9 + k, NULL, &err),
                     XCR_OK, "%s", err.msg);
    }
    char *s1 = summary(m), *a1 = NULL, *al1 = NULL;
    cr_assert_eq(xcr_monitor_alerts_json(m, 0, 10000, &al1, NULL), XCR_OK);
    cr_assert_eq(xcr_monitor_account_json(m, "acct-000020", &a1, NULL),
                 XCR_OK);
    xcr_monitor_free(m);
    o.demo_accounts = 999; /* ignored: the state is resumed */
    cr_assert_eq(xcr_monitor_open(&o, &m, &resumed, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(resumed, 1);
    char *s2 = summary(m), *a2 = NULL, *al2 = NULL;
    cr_assert_eq(xcr_monitor_alerts_json(m, 0, 10000, &al2, NULL), XCR_OK);
    cr_assert_eq(xcr_monitor_account_json(m, "acct-000020", &a2, NULL),
                 XCR_OK);
    /* recompute_ms is the last live batch's timing, not state */
    *strstr(s1, "\"recompute_ms\"") = '\0';
    *strstr(s2, "\"recompute_ms\"") = '\0';
    cr_assert_str_eq(s2, s1);
    cr_assert_str_eq(a2, a1);
    cr_assert_str_eq(al2, al1);
    check_full(m, 0, 0);
    free(s1);
    free(s2);
    free(a1);
    free(a2);
    free(al1);
    free(al2);
    xcr_monitor_free(m);
    /* the state file is also a book: the imported one */
    xcr_book *bk = NULL;
    cr_assert_eq(xcr_book_load(db, XCR_FORMAT_AUTO, NULL, &bk, &err), XCR_OK,
                 "%s", err.msg);
    cr_assert_eq(xcr_book_account_count(bk), 150);
    xcr_book_free(bk);
    xt_rm_rf(dir);
    free(dir);
}

/* MARK: risk views on the live state ------------------------------------------ */

static char *stress_text(const xcr_market *mk, const xcr_book *b,
                         const char *name)
{
    xcr_scenarios *set = NULL;
    xcr_stress_result *res = NULL;
    cr_assert_eq(xcr_scenarios_new(b, &set), XCR_OK);
    xcr_unlisted rule = {XCR_UNLISTED_CRASH_RATIO, 0};
    cr_assert_eq(xcr_scenarios_add_builtin(set, name, &rule, NULL), XCR_OK);
    xcr_stress_opts so;
    xcr_stress_opts_init(&so);
    so.threads = 1;
    cr_assert_eq(xcr_stress_run(mk, set, &so, &res, NULL), XCR_OK);
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    xcr_stress_report_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.format = XCR_OUT_JSON;
    ro.accounts = (size_t)-1;
    cr_assert_eq(xcr_stress_report(res, &ro, f, NULL), XCR_OK);
    fclose(f);
    xcr_stress_result_free(res);
    xcr_scenarios_free(set);
    return p;
}

/* POST /v1/stress, GET /v1/exposure and GET /v1/lar run on the live state
 * (ticked prices and vols, upserted and deleted accounts): the same text as
 * the stress API on the equivalent book, i.e. `xcr stress` of that book. */
Test(monitor, risk_views_are_those_of_the_live_state)
{
    xcr_monitor *m = demo_monitor(300, 100);
    const xcr_book *b = xcr_monitor_book(m);
    xcr_tick t[2] = {{(size_t)xcr_book_find_asset(b, "BTC"), 52000, 0.9},
                     {(size_t)xcr_book_find_asset(b, "ETH"), 2900, NAN}};
    cr_assert_eq(xcr_monitor_apply_ticks(m, t, 2, 1.7e9, NULL, NULL), XCR_OK);
    const char *body = "{\"id\": \"acct-000009\", \"mode\": \"cross\", "
                       "\"balances\": {\"USDT\": 50, \"ETH\": 2}, "
                       "\"positions\": [{\"instrument\": \"BTCUSDT\", "
                       "\"size\": 0.3}]}";
    xcr_account_upsert *u = NULL;
    cr_assert_eq(xcr_account_upsert_parse(b, body, strlen(body), NULL, &u,
                                          NULL),
                 XCR_OK);
    cr_assert_eq(xcr_monitor_upsert(m, u, 1.7e9, NULL, NULL), XCR_OK);
    xcr_account_upsert_free(u);
    cr_assert_eq(xcr_monitor_delete(m, "acct-000011", 1.7e9, NULL, NULL),
                 XCR_OK);
    /* the reference: the equivalent book at the live prices */
    xcr_book *snap = NULL;
    xcr_market *mk = NULL;
    cr_assert_eq(xcr_monitor_snapshot(m, &snap, &mk, NULL), XCR_OK);
    const char *name = xcr_builtin_scenario(0)->name;
    char *want = stress_text(mk, snap, name);
    char req[128], *got = NULL;
    snprintf(req, sizeof req, "{\"scenario\": \"%s\"}", name);
    xcr_error err = {0};
    cr_assert_eq(xcr_monitor_stress_json(m, req, strlen(req), &got, &err),
                 XCR_OK, "%s", err.msg);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    /* exposure */
    xcr_exposure_opts eo = {1, 5, 2.0};
    xcr_exposure *e = NULL;
    cr_assert_eq(xcr_exposure_compute(mk, &eo, &e, NULL), XCR_OK);
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    cr_assert_eq(xcr_exposure_report(e, XCR_OUT_JSON, f, NULL), XCR_OK);
    fclose(f);
    xcr_exposure_free(e);
    cr_assert_eq(xcr_monitor_exposure_json(m, &got, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_str_eq(got, p);
    free(got);
    free(p);
    /* liquidations at risk: the −20 % point against one uniform scenario */
    cr_assert_eq(xcr_monitor_lar_json(m, &got, &err), XCR_OK, "%s", err.msg);
    xcr_scenarios *set = NULL;
    xcr_stress_result *res = NULL;
    cr_assert_eq(xcr_scenarios_new(snap, &set), XCR_OK);
    cr_assert_eq(xcr_scenarios_add_uniform(set, -0.2, -0.2, -0.05, NULL),
                 XCR_OK);
    xcr_stress_opts so;
    xcr_stress_opts_init(&so);
    cr_assert_eq(xcr_stress_run(mk, set, &so, &res, NULL), XCR_OK);
    xcr_scenario_outcome o;
    cr_assert_eq(xcr_stress_outcome(res, 0, &o), XCR_OK);
    char pt[160];
    snprintf(pt, sizeof pt, "{\"shock\": -0.2, \"accounts\": %zu, ",
             o.by_status[XCR_LIQUIDATABLE] + o.by_status[XCR_BANKRUPT]);
    cr_assert(strstr(got, pt), "%s not in %s", pt, got);
    cr_assert(strstr(got, "{\"shock\": -0.6,") &&
                  strstr(got, "{\"shock\": 0,"),
              "%s", got);
    free(got);
    xcr_stress_result_free(res);
    xcr_scenarios_free(set);
    /* the views left the state as it was (compaction is invisible) */
    check_full(m, 0, 0);
    xcr_market_free(mk);
    xcr_book_free(snap);
    xcr_monitor_free(m);
}
