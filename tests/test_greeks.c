/* Options analytics: Black-76 put–call parity and finite-difference checks
 * of every Greek (seeded random options), account Greeks against finite
 * differences of the account's equity (linear, inverse and coin-settled
 * contracts), and the second-order risk ladder.  Black (1976), J. Financial
 * Economics 3.  Set XCR_TEST_SEED to replay; the seed is printed on
 * failure. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "xcr.h"

static uint64_t rng_s;
static double unif(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static double value(int call, double F, double K, double t, double v)
{
    xcr_greeks g;
    xcr_black76(call, F, K, t, v, &g);
    return g.value;
}

#define CLOSE(got, want, tol, ...)                                             \
    cr_assert(fabs((got) - (want)) <= (tol), __VA_ARGS__)

/* One option, one varying input: 0 = forward, 1 = vol, 2 = time; the
 * output: 0 value, 1 delta, 2 vega. */
typedef struct opt {
    int call;
    double F, K, t, v;
} opt;

static double eval_opt(const opt *o, int var, double x, int what)
{
    double F = o->F, v = o->v, t = o->t;
    if (var == 0)
        F = x;
    else if (var == 1)
        v = x;
    else
        t = x;
    xcr_greeks g;
    xcr_black76(o->call, F, o->K, t, v, &g);
    return what == 0 ? g.value : what == 1 ? g.delta : g.vega;
}

/* Central difference with one Richardson step: error O(h⁴). */
static double fd(const opt *o, int var, double x, double h, int what)
{
    double d1 = (eval_opt(o, var, x + h, what) -
                 eval_opt(o, var, x - h, what)) / (2 * h);
    double d2 = (eval_opt(o, var, x + h / 2, what) -
                 eval_opt(o, var, x - h / 2, what)) / h;
    return (4 * d2 - d1) / 3;
}

Test(black76, parity_and_finite_differences)
{
    uint64_t seed = xt_seed(1976);
    rng_s = seed;
    for (int k = 0; k < 5000; k++) {
        /* within 6 standard deviations of the money, where every Greek
         * is a meaningful double (further out they underflow towards
         * 1e-190 and finite differences lose all relative precision) */
        double F, K, t, v;
        do {
            F = 10 * exp(8 * unif());
            K = F * exp(1.6 * (unif() - 0.5));
            t = 0.01 + 2 * unif();
            v = 0.05 + 1.5 * unif();
        } while (fabs(log(F / K)) > 6 * v * sqrt(t));
        xcr_greeks c, p;
        xcr_black76(1, F, K, t, v, &c);
        xcr_black76(0, F, K, t, v, &p);
        const unsigned long long sd = (unsigned long long)seed;
        /* put–call parity, no discounting: C − P = F − K */
        CLOSE(c.value - p.value, F - K, 1e-12 * (F + K),
              "seed %llu #%d: parity C−P = %.17g, F−K = %.17g", sd, k,
              c.value - p.value, F - K);
        CLOSE(c.delta - p.delta, 1.0, 1e-14, "seed %llu #%d: delta parity",
              sd, k);
        CLOSE(c.gamma, p.gamma, 1e-14 * c.gamma + 1e-300, "gamma parity");
        CLOSE(c.vega, p.vega, 1e-14 * c.vega + 1e-300, "vega parity");
        for (int call = 0; call < 2; call++) {
            const xcr_greeks *g = call ? &c : &p;
            const opt o = {call, F, K, t, v};
            /* steps: 1 % of one standard deviation of the forward, 0.1 %
             * of vol and of time */
            const double sdv = v * sqrt(t);
            const double hF = 1e-2 * F * sdv, hv = 1e-3 * v, ht = 1e-3 * t;
            /* absolute noise floors: rounding of the value (~1e-16·F)
             * divided by the step */
            const double nF = 1e-12 / sdv, nv = 1e-12 * F / v,
                         nt = 1e-12 * F / t;
            double x;
            x = fd(&o, 0, F, hF, 0); /* delta = ∂V/∂F */
            CLOSE(x, g->delta, 1e-7 * fabs(g->delta) + nF,
                  "seed %llu #%d %s delta: fd %.12g analytic %.12g", sd, k,
                  call ? "call" : "put", x, g->delta);
            x = fd(&o, 0, F, hF, 1); /* gamma = ∂Δ/∂F */
            CLOSE(x, g->gamma, 1e-6 * g->gamma + nF / (F * sdv),
                  "seed %llu #%d gamma: fd %.12g analytic %.12g", sd, k, x,
                  g->gamma);
            x = fd(&o, 1, v, hv, 0); /* vega = ∂V/∂σ */
            CLOSE(x, g->vega, 1e-7 * g->vega + nv,
                  "seed %llu #%d vega: fd %.12g analytic %.12g", sd, k, x,
                  g->vega);
            x = -fd(&o, 2, t, ht, 0); /* theta = −∂V/∂t, per year */
            CLOSE(x, g->theta, 1e-7 * fabs(g->theta) + nt,
                  "seed %llu #%d theta: fd %.12g analytic %.12g", sd, k, x,
                  g->theta);
            x = fd(&o, 1, v, hv, 1); /* vanna = ∂Δ/∂σ */
            CLOSE(x, g->vanna, 1e-6 * fabs(g->vanna) + 1e-11 / v,
                  "seed %llu #%d vanna: fd %.12g analytic %.12g", sd, k, x,
                  g->vanna);
            x = fd(&o, 1, v, hv, 2); /* volga = ∂vega/∂σ */
            CLOSE(x, g->volga, 1e-6 * fabs(g->volga) + 1e-11 * g->vega / v,
                  "seed %llu #%d volga: fd %.12g analytic %.12g", sd, k, x,
                  g->volga);
        }
    }
}

/* Expired or zero-vol options are worth their intrinsic value. */
Test(black76, intrinsic_edges)
{
    xcr_greeks g;
    xcr_black76(1, 110, 100, 0, 0.5, &g);
    cr_assert_eq(g.value, 10.0);
    cr_assert_eq(g.delta, 1.0);
    cr_assert_eq(g.gamma, 0.0);
    xcr_black76(0, 110, 100, 0.5, 0, &g);
    cr_assert_eq(g.value, 0.0);
    cr_assert_eq(g.delta, 0.0);
    xcr_black76(0, 90, 100, -1, 0.3, &g);
    cr_assert_eq(g.value, 10.0);
    cr_assert_eq(g.delta, -1.0);
}

/* MARK: account Greeks ------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;
static void bput(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bput(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n;
        b->p = realloc(b->p, b->cap);
    }
}

/* Instruments: linear perp (mark ≠ index), inverse perp settled in its coin,
 * an ETH inverse perp settled in BTC, a USDC-settled call, a BTC-settled
 * (coin) call, an inverse ETH put (USD face), a linear ETH put. */
#define NI 7
static const char *inst_json =
    "{\"id\":\"BTC-P\",\"type\":\"perp\",\"underlying\":\"BTC\","
    "\"settle\":\"USDC\",\"mark_price\":%.17g},"
    "{\"id\":\"BTC-INV\",\"type\":\"perp\",\"underlying\":\"BTC\","
    "\"inverse\":true,\"contract_size\":100},"
    "{\"id\":\"ETH-INVB\",\"type\":\"perp\",\"underlying\":\"ETH\","
    "\"inverse\":true,\"settle\":\"BTC\",\"contract_size\":10},"
    "{\"id\":\"BTC-C\",\"type\":\"option\",\"underlying\":\"BTC\","
    "\"settle\":\"USDC\",\"expiry\":\"2024-09-27T08:00:00Z\","
    "\"strike\":%.17g,\"option_type\":\"call\",\"iv\":%.17g},"
    "{\"id\":\"BTC-CC\",\"type\":\"option\",\"underlying\":\"BTC\","
    "\"settle\":\"BTC\",\"mark_price\":%.17g,\"expiry\":"
    "\"2024-07-26T08:00:00Z\",\"strike\":%.17g,\"option_type\":\"call\","
    "\"iv\":%.17g},"
    "{\"id\":\"ETH-IP\",\"type\":\"option\",\"underlying\":\"ETH\","
    "\"inverse\":true,\"contract_size\":100,\"expiry\":"
    "\"2024-12-27T08:00:00Z\",\"strike\":%.17g,\"option_type\":\"put\","
    "\"iv\":%.17g},"
    "{\"id\":\"ETH-P\",\"type\":\"option\",\"underlying\":\"ETH\","
    "\"settle\":\"USDC\",\"expiry\":\"2024-08-30T08:00:00Z\","
    "\"strike\":%.17g,\"option_type\":\"put\",\"iv\":%.17g}";
static const char *inst_ids[NI] = {"BTC-P", "BTC-INV", "ETH-INVB", "BTC-C",
                                   "BTC-CC", "ETH-IP", "ETH-P"};

static xcr_book *random_book(size_t n)
{
    buf_t b = {malloc(4096), 0, 4096};
    bput(&b, "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
             "{\"symbol\":\"USDC\",\"price\":1,\"stable\":true},"
             "{\"symbol\":\"BTC\",\"price\":64000},"
             "{\"symbol\":\"ETH\",\"price\":3400}],\"instruments\":[");
    bput(&b, inst_json, 64000 * (1 + 0.01 * (unif() - 0.5)),
         64000 * (0.8 + 0.4 * unif()), 0.3 + 0.6 * unif(),
         64000 * (1 + 0.01 * (unif() - 0.5)), 64000 * (0.8 + 0.4 * unif()),
         0.3 + 0.6 * unif(), 3400 * (0.8 + 0.4 * unif()), 0.3 + 0.6 * unif(),
         3400 * (0.8 + 0.4 * unif()), 0.3 + 0.6 * unif());
    bput(&b, "],\"accounts\":[");
    for (size_t i = 0; i < n; i++) {
        const char *modes[3] = {"cross", "isolated", "portfolio"};
        bput(&b,
             "%s{\"id\":\"a%zu\",\"mode\":\"%s\",\"balances\":{\"USDC\":"
             "%.17g,\"BTC\":%.17g,\"ETH\":%.17g},\"positions\":[",
             i ? "," : "", i, modes[i % 3], 1e5 * unif(),
             2 * (unif() - 0.3), 30 * (unif() - 0.3));
        int np = 1 + (int)(unif() * 5);
        for (int k = 0; k < np; k++) {
            int j = (int)(unif() * NI);
            double sz = (unif() - 0.5) * (j == 1 ? 2000 : j == 2 ? 300 : j == 5 ? 400 : 6);
            bput(&b, "%s{\"instrument\":\"%s\",\"size\":%.17g,"
                     "\"entry_price\":%.17g,\"isolated_margin\":%.17g}",
                 k ? "," : "", inst_ids[j], sz,
                 (j == 2 || j >= 5 ? 3400 : 64000) * (0.9 + 0.2 * unif()),
                 i % 3 == 1 ? 5000.0 : 0.0);
        }
        bput(&b, "]}");
    }
    bput(&b, "]}");
    xcr_book *bk = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_load_json_text(b.p, b.len, "g.json", NULL, &bk,
                                         &err),
                 XCR_OK, "%s", err.msg);
    free(b.p);
    return bk;
}

static double equity(const xcr_market *m, size_t i)
{
    xcr_account_result r;
    cr_assert_eq(xcr_margin_account(m, i, &r, NULL, NULL), XCR_OK);
    return r.equity;
}

static const xcr_underlying_greeks *find(const xcr_underlying_greeks *g,
                                         size_t n, size_t asset)
{
    for (size_t k = 0; k < n; k++)
        if (g[k].asset == asset)
            return &g[k];
    return NULL;
}

/* Delta, gamma, vega, vanna and volga of every account against central
 * differences of its equity (prices and vols bumped through the market);
 * theta against re-pricing at t ± dt. */
Test(account_greeks, finite_differences)
{
    uint64_t seed = xt_seed(20240617);
    rng_s = seed;
    const size_t n = 60;
    xcr_book *b = random_book(n);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    const double px[3] = {1, 64000, 3400};
    xcr_underlying_greeks g[3], gp[3], gm[3];
    const unsigned long long sd = (unsigned long long)seed;
    for (size_t i = 0; i < n; i++) {
        size_t ng = 0;
        cr_assert_eq(xcr_account_greeks(m, i, g, 3, &ng, NULL), XCR_OK);
        size_t exp_[3];
        cr_assert_eq(ng, xcr_account_exposed_assets(b, i, exp_, 3));
        double scale = 1e5 + fabs(equity(m, i));
        for (size_t a = 1; a < 3; a++) {
            const xcr_underlying_greeks *x = find(g, ng, a);
            cr_assert(x, "seed %llu a%zu: asset %zu missing", sd, i, a);
            const double S = px[a], h = 1e-5;
            /* delta: ∂E/∂S */
            xcr_market_set_price(m, a, S * (1 + h), NULL);
            double ep = equity(m, i);
            size_t n2;
            xcr_account_greeks(m, i, gp, 3, &n2, NULL);
            xcr_market_set_price(m, a, S * (1 - h), NULL);
            double em = equity(m, i);
            xcr_account_greeks(m, i, gm, 3, &n2, NULL);
            xcr_market_set_price(m, a, S, NULL);
            double fd = (ep - em) / (2 * h * S);
            CLOSE(fd, x->delta, 1e-7 * scale / S,
                  "seed %llu a%zu asset %zu delta: fd %.12g analytic %.12g",
                  sd, i, a, fd, x->delta);
            CLOSE(x->delta_usd, x->delta * S, 1e-12 * scale, "delta_usd");
            /* gamma (per +1 %): 0.01·S·∂²E/∂S², from the analytic deltas */
            double d2 = (find(gp, 3, a)->delta - find(gm, 3, a)->delta) /
                        (2 * h * S);
            CLOSE(0.01 * S * d2, x->gamma,
                  1e-5 * fabs(x->gamma) + 1e-9 * scale / S,
                  "seed %llu a%zu asset %zu gamma: fd %.12g analytic %.12g",
                  sd, i, a, 0.01 * S * d2, x->gamma);
            CLOSE(x->gamma_usd, x->gamma * S, 1e-12 * scale, "gamma_usd");
            /* vega (USD per vol point), vanna, volga: bump every option on
             * the asset by ±1e-4 of vol */
            const double hv = 1e-4;
            xcr_market_set_vol_shift(m, a, hv, NULL);
            double vp = equity(m, i);
            xcr_account_greeks(m, i, gp, 3, &n2, NULL);
            xcr_market_set_vol_shift(m, a, -hv, NULL);
            double vm = equity(m, i);
            xcr_account_greeks(m, i, gm, 3, &n2, NULL);
            xcr_market_set_vol_shift(m, a, 0, NULL);
            double fv = 0.01 * (vp - vm) / (2 * hv);
            CLOSE(fv, x->vega_usd, 1e-6 * fabs(x->vega_usd) + 1e-9 * scale,
                  "seed %llu a%zu asset %zu vega: fd %.12g analytic %.12g",
                  sd, i, a, fv, x->vega_usd);
            CLOSE(x->vega, x->vega_usd / S, 1e-12 * scale, "vega coin");
            double fva = 0.01 * (find(gp, 3, a)->delta_usd -
                                 find(gm, 3, a)->delta_usd) /
                         (2 * hv);
            CLOSE(fva, x->vanna_usd, 1e-5 * fabs(x->vanna_usd) + 1e-8 * scale,
                  "seed %llu a%zu asset %zu vanna: fd %.12g analytic %.12g",
                  sd, i, a, fva, x->vanna_usd);
            double fvo = 0.01 * (find(gp, 3, a)->vega_usd -
                                 find(gm, 3, a)->vega_usd) /
                         (2 * hv);
            CLOSE(fvo, x->volga_usd, 1e-5 * fabs(x->volga_usd) + 1e-9 * scale,
                  "seed %llu a%zu asset %zu volga: fd %.12g analytic %.12g",
                  sd, i, a, fvo, x->volga_usd);
        }
    }
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Theta per day: −d(equity)/d(calendar time), by re-pricing every option of
 * a one-option account at t ± dt with xcr_black76. */
Test(account_greeks, theta)
{
    const char *json =
        "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
        "{\"symbol\":\"USDC\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":64000}],\"instruments\":["
        "{\"id\":\"C\",\"type\":\"option\",\"underlying\":\"BTC\","
        "\"settle\":\"BTC\",\"inverse\":true,\"contract_size\":70000,"
        "\"expiry\":\"2024-07-17T08:00:00Z\",\"strike\":70000,"
        "\"option_type\":\"call\",\"iv\":0.6}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"cross\",\"balances\":"
        "{\"USDC\":1000},\"positions\":[{\"instrument\":\"C\",\"size\":-3}]}]}";
    xcr_book *b = NULL;
    cr_assert_eq(xcr_book_load_json_text(json, strlen(json), "t.json", NULL,
                                         &b, NULL),
                 XCR_OK);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_underlying_greeks g[2];
    size_t n = 0;
    cr_assert_eq(xcr_account_greeks(m, 0, g, 2, &n, NULL), XCR_OK);
    cr_assert_eq(n, 1);
    double t = 30.0 / 365, dt = 1e-3 / 365;
    /* units per contract: 70,000 USD face / strike 70,000 = 1 BTC */
    double fd = -3 * (value(1, 64000, 70000, t - dt, 0.6) -
                      value(1, 64000, 70000, t + dt, 0.6)) /
                (2 * dt) / 365;
    CLOSE(g[0].theta_usd, fd, 1e-7 * fabs(fd), "theta %.12g vs %.12g",
          g[0].theta_usd, fd);
    cr_assert(g[0].theta_usd > 0, "a short option earns theta");
    xcr_market_free(m);
    xcr_book_free(b);
}

/* The ladder: move 0 is the current evaluation; each rung equals a direct
 * evaluation at the moved prices; delta moves by about gamma per 1 %. */
Test(ladder, matches_direct_evaluation)
{
    uint64_t seed = xt_seed(99);
    rng_s = seed;
    xcr_book *b = random_book(30);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    const double *mv = xcr_ladder_default_moves();
    cr_assert_eq(mv[0], -0.10);
    cr_assert_eq(mv[3], 0.0);
    cr_assert_eq(mv[6], 0.10);
    xcr_ladder_point lad[XCR_LADDER_DEFAULT_COUNT];
    for (size_t i = 0; i < 30; i++) {
        cr_assert_eq(xcr_risk_ladder(m, i, mv, XCR_LADDER_DEFAULT_COUNT, lad,
                                     NULL),
                     XCR_OK);
        for (size_t k = 0; k < XCR_LADDER_DEFAULT_COUNT; k++) {
            double prices[3] = {1, 64000 * (1 + mv[k]), 3400 * (1 + mv[k])};
            cr_assert_eq(xcr_market_set_prices(m, prices, NULL), XCR_OK);
            xcr_account_result r;
            cr_assert_eq(xcr_margin_account(m, i, &r, NULL, NULL), XCR_OK);
            double sc = 1 + fabs(r.equity) + r.maintenance_margin;
            CLOSE(lad[k].equity, r.equity, 1e-9 * sc,
                  "seed %llu a%zu move %g: equity %.12g vs %.12g",
                  (unsigned long long)seed, i, mv[k], lad[k].equity,
                  r.equity);
            CLOSE(lad[k].maintenance_margin, r.maintenance_margin, 1e-9 * sc,
                  "seed %llu a%zu move %g: MM", (unsigned long long)seed, i,
                  mv[k]);
            CLOSE(lad[k].buffer, r.collateral - r.maintenance_margin,
                  1e-9 * sc, "buffer");
            cr_assert_eq(lad[k].status, r.status);
            xcr_underlying_greeks g[3];
            size_t ng;
            xcr_account_greeks(m, i, g, 3, &ng, NULL);
            double dsum = 0;
            for (size_t j = 0; j < ng; j++)
                dsum += g[j].delta_usd;
            CLOSE(lad[k].delta_usd, dsum, 1e-9 * (1 + fabs(dsum)),
                  "delta at move %g", mv[k]);
            xcr_market_reset(m);
        }
    }
    double bad = -1.5;
    cr_assert_eq(xcr_risk_ladder(m, 0, &bad, 1, lad, NULL), XCR_EINVAL);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* One underlying, options only (no cross-asset terms): delta_usd(+1 %) −
 * delta_usd(−1 %) ≈ 2·(gamma_usd + delta_usd/100), since d(Δ·S)/d ln S =
 * Γ·S² + Δ·S.  The ladder shows gamma at work. */
Test(ladder, delta_moves_with_gamma)
{
    const char *json =
        "{\"as_of\":\"2024-06-17T08:00:00Z\",\"assets\":["
        "{\"symbol\":\"USDC\",\"price\":1,\"stable\":true},"
        "{\"symbol\":\"BTC\",\"price\":64000}],\"instruments\":["
        "{\"id\":\"C\",\"type\":\"option\",\"underlying\":\"BTC\","
        "\"settle\":\"USDC\",\"expiry\":\"2024-08-17T08:00:00Z\","
        "\"strike\":66000,\"option_type\":\"call\",\"iv\":0.6},"
        "{\"id\":\"P\",\"type\":\"option\",\"underlying\":\"BTC\","
        "\"settle\":\"BTC\",\"expiry\":\"2024-07-17T08:00:00Z\","
        "\"strike\":60000,\"option_type\":\"put\",\"iv\":0.7}],"
        "\"accounts\":[{\"id\":\"a\",\"mode\":\"portfolio\",\"balances\":"
        "{\"USDC\":200000},\"positions\":[{\"instrument\":\"C\",\"size\":-10},"
        "{\"instrument\":\"P\",\"size\":-6}]}]}";
    xcr_book *b = NULL;
    cr_assert_eq(xcr_book_load_json_text(json, strlen(json), "l.json", NULL,
                                         &b, NULL),
                 XCR_OK);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_ladder_point lad[XCR_LADDER_DEFAULT_COUNT];
    cr_assert_eq(xcr_risk_ladder(m, 0, xcr_ladder_default_moves(),
                                 XCR_LADDER_DEFAULT_COUNT, lad, NULL),
                 XCR_OK);
    double approx = 2 * (lad[3].gamma_usd + 0.01 * lad[3].delta_usd);
    CLOSE(lad[4].delta_usd - lad[2].delta_usd, approx, 0.01 * fabs(approx),
          "Δ(+1%%) − Δ(−1%%) = %.9g vs %.9g",
          lad[4].delta_usd - lad[2].delta_usd, approx);
    /* short gamma and short delta: the rally eats the buffer */
    cr_assert(lad[3].gamma_usd < 0);
    cr_assert(lad[3].delta_usd < 0);
    cr_assert(lad[6].buffer < lad[5].buffer && lad[5].buffer < lad[3].buffer);
    xcr_market_free(m);
    xcr_book_free(b);
}
