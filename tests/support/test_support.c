#include "test_support.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

uint64_t xt_seed(uint64_t dflt)
{
    const char *s = getenv("XCR_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    return dflt;
}

char *xt_write_temp(const char *suffix, const char *text)
{
    char tmpl[] = "/tmp/xcrtestXXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir)
        return NULL;
    size_t n = strlen(dir) + strlen(suffix) + 8;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/in%s", dir, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(path);
        return NULL;
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return path;
}

char *xt_temp_dir(void)
{
    char tmpl[] = "/tmp/xcrtestXXXXXX";
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

void xt_rm_rf(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0)
        return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        return;
}

char *xt_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int xt_run(const char *cmdline, char **out, char **err)
{
    char *dir = xt_temp_dir();
    if (!dir)
        return -1;
    size_t n = strlen(cmdline) + 2 * strlen(dir) + 64;
    char *cmd = malloc(n);
    snprintf(cmd, n, "%s >'%s/out' 2>'%s/err' </dev/null", cmdline, dir, dir);
    int st = system(cmd);
    free(cmd);
    char path[4200];
    if (out) {
        snprintf(path, sizeof path, "%s/out", dir);
        *out = xt_read_file(path);
    }
    if (err) {
        snprintf(path, sizeof path, "%s/err", dir);
        *err = xt_read_file(path);
    }
    xt_rm_rf(dir);
    free(dir);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* MARK: books ------------------------------------------------------------------------ */

xcr_book *xt_load_book(const char *json)
{
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_book_load_json_text(json, strlen(json), "t.json", NULL,
                                           &b, &err);
    cr_assert_eq(s, XCR_OK, "load failed: %s", err.msg);
    return b;
}

xcr_network *xt_load_network(const char *json)
{
    xcr_network *n = NULL;
    xcr_error err = {0};
    xcr_status s =
        xcr_network_load_json_text(json, strlen(json), "n.json", &n, &err);
    cr_assert_eq(s, XCR_OK, "load failed: %s", err.msg);
    return n;
}

xcr_book *xt_demo_book(size_t n, uint64_t seed, double ppa)
{
    xcr_demo_opts o = {n, seed, ppa};
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_demo_book(&o, NULL, &b, &err), XCR_OK, "%s", err.msg);
    return b;
}

void xt_add_mc(xcr_scenarios *s, size_t n, uint64_t seed, xcr_mc_dist dist,
               double df, double horizon_days)
{
    xcr_mc_opts o;
    memset(&o, 0, sizeof o);
    o.n = n;
    o.seed = seed;
    o.dist = dist;
    o.df = df;
    o.horizon_days = horizon_days;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_add_mc(s, &o, &err), XCR_OK, "%s", err.msg);
}

/* MARK: a random book of every mode (tests/test_gpu.c, tests/test_cascade.c) ---------- */

/* The random book's own generator (an LCG; its state is set from the seed
 * on every call, so a book depends on (n, seed) only). */
static uint64_t rs;
static double unif(void)
{
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rs >> 11) * 0x1p-53;
}
static int irand(int n) { return (int)(unif() * n); }

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void bput(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bput(buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap *= 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
}

#define NA XT_RB_NA
#define NI 8
static const char *const SYM[NA] = {"USDT", "USDC", "BTC", "ETH", "SOL"};
static const char *const IID[NI] = {"BTC-P", "ETH-P",   "SOL-P",  "BTC-INV",
                                    "ETH-F", "BTC-C",   "ETH-PUT", "BTC-INVC"};
static const int UND[NI] = {2, 3, 4, 2, 3, 2, 3, 2};

char *xt_random_book_json(size_t n, uint64_t seed)
{
    rs = seed;
    buf_t b = {malloc(1 << 16), 0, 1 << 16};
    double px[NA] = {1, 1, 65000, 3500, 150}, mark[NI];
    bput(&b, "{\"as_of\":\"2024-01-01T00:00:00Z\",\"assets\":[");
    for (int a = 0; a < NA; a++) {
        if (a >= 2)
            px[a] *= 0.5 + unif();
        bput(&b, "%s{\"symbol\":\"%s\",\"price\":%.17g,\"stable\":%s,"
                 "\"vol\":%.17g,\"collateral_tiers\":[",
             a ? "," : "", SYM[a], px[a], a < 2 ? "true" : "false",
             a < 2 ? 0.0 : 0.4 + 0.6 * unif());
        int nt = 1 + irand(3);
        double up = 0, w = 0.7 + 0.3 * unif();
        for (int k = 0; k < nt; k++) {
            up += 1e4 * (1 + 50 * unif()) * (k + 1);
            if (k + 1 == nt && unif() < 0.7)
                bput(&b, "%s[null,%.17g]", k ? "," : "", w);
            else
                bput(&b, "%s[%.17g,%.17g]", k ? "," : "", up, w);
            w *= 0.5 + 0.5 * unif();
        }
        double ltv = 0.5 + 0.3 * unif(), bimr = 0.1 * unif();
        bput(&b, "]");
        if (a >= 2) /* forced sales move the price (cascades; spec §1.1) */
            bput(&b, ",\"liquidity\":{\"model\":\"sqrt\","
                     "\"daily_volume_usd\":%.17g,\"daily_vol\":0.04,"
                     "\"coef\":1}",
                 3e7 * (1 + unif()));
        bput(&b, ",\"liability_weight\":%.17g,\"borrow_imr\":%.17g,"
                 "\"borrow_mmr\":%.17g,\"lending\":{\"ltv\":%.17g,"
                 "\"liquidation_threshold\":%.17g,\"emode_category\":%d}}",
             1 + 0.2 * unif(), bimr, bimr * unif(), ltv,
             ltv + 0.05 * unif(), a == 2 || a == 3 ? 1 : 0);
    }
    bput(&b, "],\"instruments\":[");
    for (int i = 0; i < NI; i++) {
        const int u = UND[i];
        const bool inverse = i == 3 || i == 7;
        const int settle = inverse ? u : i == 5 ? 1 : 0;
        const int type = i < 4 ? 0 : i == 4 ? 1 : 2;
        const char *types[] = {"perp", "future", "option"};
        mark[i] = px[u] * (1 + 0.01 * (unif() - 0.5));
        bput(&b,
             "%s{\"id\":\"%s\",\"type\":\"%s\",\"underlying\":\"%s\","
             "\"settle\":\"%s\",\"inverse\":%s,\"contract_size\":%.17g,"
             "\"mark_price\":%.17g",
             i ? "," : "", IID[i], types[type], SYM[u], SYM[settle],
             inverse ? "true" : "false", inverse ? 100.0 : 0.01 * (1 + irand(100)),
             mark[i]);
        if (type)
            bput(&b, ",\"expiry\":\"2024-0%d-15T08:00:00Z\"", 2 + irand(7));
        if (type == 2)
            bput(&b, ",\"strike\":%.17g,\"option_type\":\"%s\",\"iv\":%.17g",
                 px[u] * (0.7 + 0.6 * unif()), i == 6 ? "put" : "call",
                 0.3 + 0.6 * unif());
        bput(&b, ",\"margin_tiers\":[");
        int nt = 1 + irand(3);
        double cap = 0, imr = 0.01 + 0.02 * unif(), mmr = imr / 2;
        for (int k = 0; k < nt; k++) {
            cap += 5e4 * (1 + 20 * unif()) * (k + 1);
            if (k + 1 == nt)
                bput(&b, "%s{\"notional_max\":null", k ? "," : "");
            else
                bput(&b, "%s{\"notional_max\":%.17g", k ? "," : "", cap);
            bput(&b, ",\"imr\":%.17g,\"mmr\":%.17g}", imr, mmr);
            imr = fmin(1, imr * (1.2 + unif()));
            mmr = fmin(imr, mmr * (1.2 + unif()));
        }
        bput(&b, "]}");
    }
    bput(&b, "],\"settings\":{\"emode_categories\":[{\"id\":1,\"ltv\":0.9,"
             "\"liquidation_threshold\":0.93,\"liquidation_bonus\":0.01}]},"
             "\"accounts\":[");
    const char *modes[] = {"cross", "isolated", "portfolio", "lending"};
    for (size_t i = 0; i < n; i++) {
        double r = unif();
        int mode = r < 0.45 ? 0 : r < 0.65 ? 1 : r < 0.8 ? 2 : 3;
        double scale = pow(10, 2 + 4 * unif());
        bput(&b, "%s{\"id\":\"a%zu\",\"mode\":\"%s\",\"emode\":%d,"
                 "\"balances\":{",
             i ? "," : "", i, modes[mode],
             mode == 3 && unif() < 0.4 ? 1 : 0);
        int first = 1;
        for (int a = 0; a < NA; a++) {
            if (unif() < 0.5)
                continue;
            double amt = scale * unif() / px[a];
            if (unif() < 0.25)
                amt = -amt * unif();
            bput(&b, "%s\"%s\":%.17g", first ? "" : ",", SYM[a], amt);
            first = 0;
        }
        bput(&b, "},\"positions\":[");
        int np = mode == 3 ? 0 : irand(5);
        for (int k = 0; k < np; k++) {
            int ii = irand(NI);
            bool inverse = ii == 3 || ii == 7;
            double notion = scale * (0.2 + 5 * unif());
            /* sizes in contracts; the contract size is read back below */
            double units = inverse ? notion / 100 : notion / mark[ii];
            bput(&b, "%s{\"instrument\":\"%s\",\"size\":%.17g,"
                     "\"entry_price\":%.17g",
                 k ? "," : "", IID[ii], (unif() < 0.5 ? -1 : 1) * units,
                 mark[ii] * (0.85 + 0.3 * unif()));
            if (mode == 1)
                bput(&b, ",\"isolated_margin\":%.17g",
                     notion * (0.02 + 0.2 * unif()));
            bput(&b, "}");
        }
        bput(&b, "]}");
    }
    bput(&b, "]}");
    return b.p;
}

xcr_book *xt_random_book(size_t n, uint64_t seed)
{
    char *json = xt_random_book_json(n, seed);
    xcr_book *b = NULL;
    xcr_error err = {0};
    xcr_status s = xcr_book_load_json_text(json, strlen(json), "random.json",
                                           NULL, &b, &err);
    free(json);
    cr_assert_eq(s, XCR_OK, "seed %llu: %s", (unsigned long long)seed,
                 err.msg);
    return b;
}
