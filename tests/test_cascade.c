/* The liquidation-cascade simulator: the reference's closed forms and test
 * vectors (cascades-and-contagion.md §2.1, §3.5, §5; test-vectors.md
 * FS-SPIRAL-1, IMP-AMM-1, HF-1 … HF-3, AAVE-CF-1, AAVE-30-1, COMET-4/5,
 * DYX-2), the exchange policy's least partial liquidation, the loss
 * waterfall, the safeguards, bit-identical results for any thread count and
 * the conservation invariant (checked in every test that runs a cascade). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cascade/cascade.h"
#include "test_support.h"
#include "xcr.h"

#define RELX(a, b, tol)                                                        \
    do {                                                                       \
        double a_ = (a), b_ = (b);                                             \
        cr_assert(fabs(a_ - b_) <= (tol) * fabs(b_),                           \
                  "%s = %.17g, expected %.17g", #a, a_, b_);                   \
    } while (0)

/* The conservation invariant (reference §6.5): every round and every
 * liquidation, Δ(Σ equity) + Δ(fund + liquidator gains + fees − bad debt)
 * = 0 at the round's prices, to 1e-9 relative. */
static void check_conservation(const xcr_cascade *c)
{
    xcr_cascade_summary s;
    cr_assert_eq(xcr_cascade_summary_get(c, &s), XCR_OK);
    cr_assert(s.max_conservation_error <= 1e-9, "conservation error %g",
              s.max_conservation_error);
    for (size_t i = 0; i < xcr_cascade_round_count(c); i++) {
        xcr_cascade_round r;
        cr_assert_eq(xcr_cascade_round_get(c, i, &r), XCR_OK);
        cr_assert(r.conservation_error <= 1e-9, "round %zu: error %g",
                  r.round, r.conservation_error);
    }
    /* over the whole run: the equity change is the price effect (Σ mtm)
     * minus what went to the ledgers */
    double mtm = 0;
    for (size_t i = 0; i < xcr_cascade_round_count(c); i++) {
        xcr_cascade_round r;
        xcr_cascade_round_get(c, i, &r);
        mtm += r.mtm;
    }
    double led = (s.insurance_end - s.insurance_start) + s.liquidator_gains +
                 s.protocol_fees - s.bad_debt;
    double scale = fabs(s.equity_start) + fabs(led) + fabs(mtm) + 1;
    cr_assert(fabs((s.equity_end - s.equity_start) + led - mtm) <=
                  1e-9 * scale,
              "run: Δequity %.17g + ledgers %.17g != mtm %.17g",
              s.equity_end - s.equity_start, led, mtm);
}

static xcr_cascade *make(const xcr_book *b, xcr_cascade_opts *o)
{
    xcr_cascade *c = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_new(b, o, &c, &err), XCR_OK, "%s", err.msg);
    return c;
}

static void shock_run(xcr_cascade *c, const xcr_book *b, const char *spec)
{
    xcr_error err = {0};
    size_t na = xcr_book_asset_count(b);
    double *mv = calloc(na, sizeof *mv);
    cr_assert_eq(xcr_cascade_parse_shock(b, spec, mv, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_cascade_shock(c, mv, NULL, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK, "%s", err.msg);
    free(mv);
    check_conservation(c);
}

static xcr_cascade_opts opts(const xcr_book *b)
{
    xcr_cascade_opts o;
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_opts_init(b, &o, &err), XCR_OK, "%s", err.msg);
    return o;
}

/* MARK: FS-SPIRAL-1 ----------------------------------------------------------------- */

/* One account at leverage target λ = 5 (x0 = 1,000 units at 10, debt 8,000
 * USDC): a cross account whose USDC borrow carries borrow_mmr
 * 1/(λ − 1) = 0.25 sits exactly at maintenance, and the exchange policy's
 * least partial liquidation (penalty 0) sells exactly what restores λ:
 * (λ − 1)·x·|ΔP|.  Linear impact k per USD (depth 1/k). */
static char *spiral_book(double depth)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"as_of\": \"2025-01-01T00:00:00Z\", \"assets\": ["
             "{\"symbol\": \"USDC\", \"price\": 1, \"stable\": true, "
             "\"borrow_mmr\": 0.25},"
             "{\"symbol\": \"X\", \"price\": 10, \"liquidity\": "
             "{\"model\": \"linear\", \"depth_usd\": %.17g}}],"
             "\"instruments\": [], \"accounts\": [{\"id\": \"lev\", "
             "\"mode\": \"cross\", \"balances\": {\"X\": 1000, \"USDC\": "
             "-8000}}], \"settings\": {\"liquidation\": {\"policy\": "
             "\"exchange\", \"penalty\": 0, \"insurance_fund\": 0, "
             "\"adl\": false, \"max_rounds\": 100000}}}",
             depth);
    return buf;
}

/* The exact dynamics of FS-SPIRAL-1 ("units shrink as they are sold; sale
 * at the current price before impact; impact relative to the current
 * price"), written out as the reference implementation. */
static double spiral_reference(double d0, double k, double *equity_end,
                               double *mtm)
{
    double x = 1000, d = 8000, p = 10 * (1 - d0), lam = 5, m = 0;
    for (int t = 0; t < 1000000; t++) {
        double e = x * p - d, s = x * p - lam * e;
        if (!(s > 1e-15))
            break;
        x -= s / p;
        d -= s;
        double p1 = p * (1 - k * s);
        m += x * (p1 - p);
        if (p1 == p)
            break;
        p = p1;
    }
    *equity_end = x * p - d;
    *mtm = m;
    return p;
}

static double run_spiral(double d0, double k, double *equity_end)
{
    xcr_book *b = xt_load_book(spiral_book(1 / k));
    xcr_cascade_opts o = opts(b);
    /* FS-SPIRAL-1 deleverages exactly back to λ: the old exchange target
     * (no buffer above maintenance, no minimum liquidation size) */
    o.liq_buffer = 0;
    o.min_liq_usd = 0;
    xcr_cascade *c = make(b, &o);
    char spec[64];
    snprintf(spec, sizeof spec, "X=%.17g", -d0); /* a fall of d0 */
    shock_run(c, b, spec);
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    cr_assert(s.converged);
    double pref, eref, mref;
    pref = spiral_reference(d0, k, &eref, &mref);
    double p = xcr_cascade_price(c, 1);
    RELX(p, pref, 1e-12);
    RELX(s.equity_end, eref, 1e-9);
    /* the price effect, computed independently: Σ holdings × ΔP */
    double mtm = 0;
    for (size_t i = 0; i < xcr_cascade_round_count(c); i++) {
        xcr_cascade_round r;
        xcr_cascade_round_get(c, i, &r);
        mtm += r.mtm;
    }
    XT_REL(mtm, mref, 1e-9);
    *equity_end = s.equity_end;
    xcr_cascade_free(c);
    xcr_book_free(b);
    return 1 - p / 10; /* total relative fall */
}

Test(cascade, spiral_exact_mode_matches_fs_spiral_1)
{
    /* test-vectors.md FS-SPIRAL-1, exact mode, k = 1e-5 (r = 0.4) */
    double e;
    RELX(run_spiral(0.01, 1e-5, &e), 0.016341937, 1e-8);
    RELX(run_spiral(0.001, 1e-5, &e), 0.001663248, 1e-6);
    RELX(run_spiral(0.0001, 1e-5, &e), 0.000166632, 1e-5);
    /* ratio to the closed form d0/(1 − r) (reference §2.1) */
    RELX(run_spiral(0.01, 1e-5, &e) / (0.01 / 0.6), 0.98052, 1e-5);
    RELX(run_spiral(0.001, 1e-5, &e) / (0.001 / 0.6), 0.99795, 1e-5);
}

Test(cascade, spiral_small_shock_limit_is_the_closed_form)
{
    /* reference §2.1: total fall = first fall / (1 − r) as ΔP0 → 0, the
     * error of order ΔP0 */
    double e;
    for (int i = 0; i < 3; i++) {
        double k = (double[]){1e-5, 2e-5, 1.25e-5}[i];
        double r = k * 4 * 10000; /* k·(λ − 1)·x·P */
        double d0 = 1e-6;
        double fall = run_spiral(d0, k, &e);
        RELX(fall, d0 / (1 - r), 20 * d0 / (1 - r) + 1e-9);
    }
}

Test(cascade, spiral_divergent_case_r_at_least_one)
{
    /* FS-SPIRAL-1 with k = 3e-5 (r = 1.2): the linearised series diverges;
     * in exact mode the spiral runs until equity < 1/(k·λ·(λ − 1))
     * = 1,666.67 (or bankruptcy).  The simulator follows the exact
     * dynamics (checked round by round against the reference loop in
     * run_spiral) and its round moves first grow, as r ≥ 1 implies. */
    double e;
    double fall = run_spiral(0.01, 3e-5, &e);
    cr_assert(e < 1.0 / (3e-5 * 5 * 4) + 1e-6, "equity %g", e);
    cr_assert(fall > 0.01 / (1 - 0.4), "fall %g", fall);
    xcr_book *b = xt_load_book(spiral_book(1 / 3e-5));
    xcr_cascade_opts o = opts(b);
    o.liq_buffer = 0; /* FS-SPIRAL-1: exactly back to λ, as in run_spiral */
    o.min_liq_usd = 0;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "X=0.0");
    xcr_cascade_free(c);
    c = make(b, &o);
    shock_run(c, b, "X=-0.01");
    xcr_cascade_round r1, r2, r3;
    xcr_cascade_round_get(c, 0, &r1);
    xcr_cascade_round_get(c, 1, &r2);
    xcr_cascade_round_get(c, 2, &r3);
    double m1 = r2.prices[1] / r1.prices[1] - 1,
           m2 = r3.prices[1] / r2.prices[1] - 1;
    cr_assert(fabs(m1) > 0.01 && fabs(m2) > fabs(m1),
              "moves %g, %g should grow (r >= 1)", m1, m2);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

/* MARK: IMP-AMM-1 ------------------------------------------------------------------ */

Test(cascade, amm_table_reproduced_exactly)
{
    /* test-vectors.md IMP-AMM-1 / reference §3.5: pool 1,000 ETH /
     * 2,000,000 USDC, fee 0 */
    static const double rows[][5] = {
        {10, 19801.980198, 1980.198020, 1960.592099, -0.019704},
        {50, 95238.095238, 1904.761905, 1814.058957, -0.092971},
        {100, 181818.181818, 1818.181818, 1652.892562, -0.173554},
        {250, 400000, 1600, 1280, -0.36},
        {500, 666666.666667, 1333.333333, 888.888889, -0.555556}};
    for (size_t i = 0; i < 5; i++) {
        double x = 1000, y = 2e6;
        double out = xcr__amm_sell(&x, &y, 0, rows[i][0]);
        RELX(out, rows[i][1], 1e-11);
        RELX(out / rows[i][0], rows[i][2], 1e-9);
        RELX(y / x, rows[i][3], 1e-9);
        RELX(y / x / 2000 - 1, rows[i][4], 1e-5);
        /* the stateful impact model gives the same spot */
        xcr_liquidity_def d = {XCR_LIQ_AMM, {1000, 2e6, 0}, NULL, 0, 0};
        xcr__impact s;
        xcr__impact_init(&s, &d, 2000, 1);
        RELX(xcr__impact_trade(&s, rows[i][0]), rows[i][3], 1e-9);
    }
    double x = 1000, y = 2e6;
    XT_REL(xcr__amm_sell(&x, &y, 0.003, 100), 181322.178776, 1e-12);
}

Test(cascade, amm_shock_moves_the_pool_along_its_curve)
{
    /* reference §3.5: x' = √(k/P'), y' = √(k·P'); −36 % from spot 2,000 is
     * the pool after selling 250 ETH (1,250 / 1,600,000) */
    xcr_book *b = xt_load_book(
        "{\"assets\": [{\"symbol\": \"USDC\", \"price\": 1, \"stable\": "
        "true}, {\"symbol\": \"ETH\", \"price\": 2000, \"liquidity\": "
        "{\"model\": \"amm\", \"base_reserve\": 1000, \"quote_reserve\": "
        "2000000, \"fee\": 0}}], \"accounts\": []}");
    xcr_cascade_opts o = opts(b);
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "ETH=-0.36");
    XT_REL(c->imp[1].x, 1250, 1e-12);
    XT_REL(c->imp[1].y, 1600000, 1e-12);
    /* selling 250 more from there: x = 1,500, spot = 2e9 / 1,500² */
    XT_REL(xcr__impact_trade(&c->imp[1], 250), 2e9 / (1500.0 * 1500.0), 1e-12);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, impact_laws_and_recovery)
{
    /* linear −V/D, square root −Y·σ·√(Q/V) (IMP-SQRT-1: Y 1, σ 3 %, Q
     * $100M, V $20B → 0.2121 %), book knots; recovery halves the
     * displacement (reference §3.8) */
    xcr_liquidity_def lin = {XCR_LIQ_LINEAR, {1e6, 0, 0}, NULL, 0, 0.5};
    xcr__impact s;
    xcr__impact_init(&s, &lin, 100, 1);
    XT_REL(xcr__impact_trade(&s, 1000), 100 * (1 - 0.1), 1e-12);
    xcr__impact_recover(&s);
    XT_REL(s.price, 95, 1e-12);
    XT_REL(xcr__impact_trade(&s, -100), 95 * (1 + 9500 / 1e6), 1e-12);
    xcr_liquidity_def sq = {XCR_LIQ_SQRT, {20e9, 0.03, 1}, NULL, 0, 0};
    XT_REL(xcr__liq_move(&sq, 100e6, 1), -0.002121320343559643, 1e-12);
    const double lv[] = {-0.01, 2e6, -0.05, 9e6};
    xcr_liquidity_def bk = {XCR_LIQ_BOOK, {0, 0, 0}, lv, 2, 0};
    XT_REL(xcr__liq_move(&bk, 1e6, 1), -0.005, 1e-12);
    XT_REL(xcr__liq_move(&bk, 5.5e6, 1), -0.03, 1e-12);
    XT_REL(xcr__liq_move(&bk, 1e6, 0.5), -0.01, 1e-12);
}

/* MARK: lending ------------------------------------------------------------------------ */

/* A lending book: USDC (debt, price 1), WETH (collateral), DAI (a second
 * debt), USDX (a stable collateral); LT/LB per asset. */
static xcr_book *lending_book(double lt, double bonus, double pfee,
                              const char *balances, const char *extra)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"assets\": ["
             "{\"symbol\": \"USDC\", \"price\": 1, \"stable\": true, "
             "\"lending\": {\"ltv\": 0.7, \"liquidation_threshold\": 0.75, "
             "\"liquidation_bonus\": 0.05}},"
             "{\"symbol\": \"WETH\", \"price\": 1800, \"lending\": {\"ltv\": "
             "%.17g, \"liquidation_threshold\": %.17g, "
             "\"liquidation_bonus\": %.17g, \"protocol_fee\": %.17g}},"
             "{\"symbol\": \"DAI\", \"price\": 1, \"stable\": true},"
             "{\"symbol\": \"USDX\", \"price\": 1, \"stable\": true, "
             "\"lending\": {\"ltv\": 0.75, \"liquidation_threshold\": 0.8, "
             "\"liquidation_bonus\": 0.05}}],"
             "\"accounts\": [{\"id\": \"a\", \"mode\": \"lending\", "
             "\"balances\": {%s}}]%s}",
             lt - 0.05, lt, bonus, pfee, balances, extra ? extra : "");
    return xt_load_book(buf);
}

/* Run one round of `policy` on account 0 after moving WETH by `move`;
 * returns the event (trace_accounts). */
static xcr_cascade *one_liquidation(xcr_book *b, const char *policy,
                                    const char *shock, double thf,
                                    xcr_cascade_event *ev)
{
    xcr_cascade_opts o = opts(b);
    o.policy = policy;
    o.max_rounds = 1;
    o.trace_accounts = 1;
    o.target_health_factor = thf;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, shock);
    cr_assert_geq(xcr_cascade_event_count(c), 1);
    xcr_cascade_event_get(c, 0, ev);
    return c;
}

static double weth_units(const xcr_cascade *c)
{
    for (uint32_t k = c->bal_off[0]; k < c->bal_off[1]; k++)
        if (c->bal_asset[k] == 1)
            return c->bal_amt[k];
    return 0;
}

Test(cascade, hf_2_target_health_factor_repay)
{
    /* HF-2 (reference §5.2, Aave v4): D = 1,000, S = 900 (HF 0.9), LT 0.8,
     * LB 1.05, THF 1.0 → x = 625 and HF' = 1.0.  The vector is scale-free;
     * it is run ×100 so that the $1,000 dust rule (which would clear the
     * 375 left) does not apply. */
    xcr_book *b = lending_book(0.8, 0.05, 0, "\"WETH\": 62.5, \"USDC\": "
                                             "-100000", NULL);
    xcr_cascade_event ev;
    xcr_cascade *c = one_liquidation(b, "aave-v4", "WETH=0", 1.0, &ev);
    XT_REL(ev.health_before, 0.9, 1e-12);
    XT_REL(ev.fraction * 1000, 625, 1e-9);
    XT_REL(c->res[0].health_factor, 1.0, 1e-12);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, hf_3_full_liquidation_leaves_bad_debt)
{
    /* HF-3 (reference §5.3): C = 1,000, D = 1,000, LB 1.05 → repay
     * 952.380952, bad debt 47.619048 on the USDC reserve (Aave v3.3
     * deficit) */
    xcr_book *b = lending_book(0.8, 0.05, 0,
                               "\"WETH\": 0.5555555555555556, \"USDC\": "
                               "-1000",
                               NULL);
    xcr_cascade_event ev;
    xcr_cascade *c = one_liquidation(b, "aave-v3.3", "WETH=0", 1.05, &ev);
    XT_REL(ev.fraction * 1000, 952.380952, 1e-9);
    XT_REL(xcr_cascade_bad_debt(c, 0), 47.619048, 1e-8);
    XT_REL(ev.bad_debt, 47.619048, 1e-8);
    cr_assert_eq(weth_units(c), 0);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, hf_1_vectors_through_the_policy)
{
    /* HF-1: LT 0.8, LB 1.05, repay x = 100:
     * C = 1,000, D = 700: HF 1.142857 → 1.193333 (the v4 target chosen so
     * that x = 100: THF = (D·HF − 100·LT·LB)/(D − 100));
     * C = 1,000, D = 1,000 at x = 100: HF 0.8 → 0.795556 (the random test
     * below covers HF < LT·LB).  Run ×100 (scale-free) so that the $1,000
     * dust rule does not apply. */
    xcr_book *b = lending_book(0.8, 0.05, 0,
                               "\"WETH\": 55.55555555555556, \"USDC\": "
                               "-70000",
                               NULL);
    xcr_cascade_opts o = opts(b);
    o.policy = "aave-v4";
    o.target_health_factor = (800 - 100 * 0.84) / 600;
    xcr_cascade *c = make(b, &o);
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_shock(c, NULL, NULL, &err), XCR_OK);
    uint32_t idx = 0;
    xcr_account_result r;
    cr_assert_eq(xcr__cascade_eval(c, &idx, 1, &r, NULL, 1), XCR_OK);
    XT_REL(r.health_factor, 1.142857, 1e-6);
    xcr__liq_ctx x;
    cr_assert_eq(xcr__liq_ctx_init(c, &x), XCR_OK);
    xcr__liq_out out = {0};
    c->lending_pol->liquidate(c, &x, 0, &r, &out);
    XT_REL(out.fraction * 700, 100, 1e-9);
    /* the identity itself, with the vector's second case */
    XT_REL(100 * (0.8 - 0.84) / 900, -0.004444, 1e-6);
    XT_REL((800 - 100 * 0.84) / 900 - 0.8, -0.004444, 1e-6);
    xcr_account_result r2;
    xcr__cascade_eval(c, &idx, 1, &r2, NULL, 1);
    XT_REL(r2.health_factor, 1.193333, 1e-6);
    XT_REL(r2.health_factor - r.health_factor, 0.050476, 1e-6);
    xcr__liq_ctx_free(c, &x);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

/* HF-1 property: on random single- and multi-collateral lending accounts,
 * HF' − HF = x·(HF − LT_i·LB)/(D − x) (reference §5.1), and a liquidation
 * below HF = LT_i·LB lowers HF. */
Test(cascade, hf_identity_on_random_accounts)
{
    uint64_t seed = xt_seed(20251010), st = seed;
    int lowered = 0, raised = 0;
    for (int it = 0; it < 300; it++) {
#define U() ((double)((st = st * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) * 0x1p-53)
        double lt = 0.6 + 0.33 * U(), bonus = 0.01 + 0.1 * U();
        double hf = 0.5 + 0.6 * U();
        if (it % 2) {
            /* high LT·LB (> 0.95) and HF in (0.95, 1.15): partial (50 %)
             * liquidations on both sides of LT·LB */
            lt = 0.88 + 0.07 * U();
            bonus = (0.951 + 0.048 * U()) / lt - 1;
            hf = 0.951 + 0.2 * U();
        }
        if (lt * (1 + bonus) >= 1)
            bonus = 0.99 / lt - 1;
        double weth = 1 + 100 * U(), usdx = U() < 0.5 ? 0 : 50000 * U();
        double s = weth * 1800 * lt + usdx * 0.8;
        double debt = s / hf;
        char bal[256];
        snprintf(bal, sizeof bal,
                 "\"WETH\": %.17g, \"USDX\": %.17g, \"USDC\": %.17g", weth,
                 usdx, -debt);
        xcr_book *b = lending_book(lt, bonus, 0.1 * U(), bal, NULL);
        xcr_cascade_opts o = opts(b);
        o.policy = U() < 0.5 ? "aave-v3.0" : "aave-v3.3";
        xcr_cascade *c = make(b, &o);
        xcr_error err = {0};
        cr_assert_eq(xcr_cascade_shock(c, NULL, NULL, &err), XCR_OK);
        uint32_t idx = 0;
        xcr_account_result r, r2;
        xcr__cascade_eval(c, &idx, 1, &r, NULL, 1);
        xcr__liq_ctx x;
        cr_assert_eq(xcr__liq_ctx_init(c, &x), XCR_OK);
        xcr__liq_out out = {0};
        c->lending_pol->liquidate(c, &x, 0, &r, &out);
        xcr__cascade_eval(c, &idx, 1, &r2, NULL, 1);
        double D = debt, xr = out.fraction * D;
        /* the seized collateral: the larger of WETH and USDX */
        bool weth_seized = weth * 1800 >= usdx;
        double lti = weth_seized ? lt : 0.8, lbi = weth_seized ? 1 + bonus
                                                               : 1.05;
        double seized_all = weth_seized ? weth * 1800 : usdx;
        if (out.bad_debt > 0 || xr * lbi >= seized_all * (1 - 1e-12) ||
            xr >= D * (1 - 1e-12)) {
            xcr__liq_ctx_free(c, &x);
            xcr_cascade_free(c);
            xcr_book_free(b);
            continue; /* the seizure was capped by the collateral */
        }
        double want = xr * (r.health_factor - lti * lbi) / (D - xr);
        cr_assert(fabs((r2.health_factor - r.health_factor) - want) <=
                      1e-9 * fmax(1, r.health_factor),
                  "seed %llu case %d: ΔHF %.17g, identity %.17g",
                  (unsigned long long)seed, it,
                  r2.health_factor - r.health_factor, want);
        if (r.health_factor < lti * lbi) {
            cr_assert(r2.health_factor < r.health_factor,
                      "seed %llu case %d: HF below LT·LB must fall",
                      (unsigned long long)seed, it);
            lowered++;
        } else {
            raised++;
        }
        xcr__liq_ctx_free(c, &x);
        xcr_cascade_free(c);
        xcr_book_free(b);
#undef U
    }
    cr_assert(lowered > 5 && raised > 5, "seed %llu: %d lowered, %d raised",
              (unsigned long long)seed, lowered, raised);
}

/* One liquidation of the account under `policy`; returns the share of the
 * account's total debt repaid. */
static double close_factor_case(const char *policy, const char *bal)
{
    xcr_book *b = lending_book(0.8, 0.05, 0, bal, NULL);
    xcr_cascade_event ev;
    xcr_cascade *c = one_liquidation(b, policy, "WETH=0", 1.05, &ev);
    xcr_cascade_free(c);
    xcr_book_free(b);
    return ev.fraction;
}

Test(cascade, aave_close_factor_branching)
{
    /* AAVE-CF-1 (aave-v3-origin Pool.Liquidations.CloseFactor.t.sol),
     * LT 0.8: the maximum share of the debt reserve liquidated */
    char bal[128];
    /* HF 0.94, 100 WETH (~$180k) → 100 % */
    snprintf(bal, sizeof bal, "\"WETH\": 100, \"USDC\": %.17g",
             -180000 * 0.8 / 0.94);
    XT_REL(close_factor_case("aave-v3.3", bal), 1, 1e-12);
    /* HF 0.97, 0.5 WETH (≈ $900 < $2,000) → 100 % */
    snprintf(bal, sizeof bal, "\"WETH\": 0.5, \"USDC\": %.17g",
             -900 * 0.8 / 0.97);
    XT_REL(close_factor_case("aave-v3.3", bal), 1, 1e-12);
    /* HF 0.97, 100 WETH → 50 % of the total debt */
    snprintf(bal, sizeof bal, "\"WETH\": 100, \"USDC\": %.17g",
             -180000 * 0.8 / 0.97);
    XT_REL(close_factor_case("aave-v3.3", bal), 0.5, 1e-12);
    /* v3.0 on the same account: 50 % of that reserve (HF > 0.95) */
    XT_REL(close_factor_case("aave-v3.0", bal), 0.5, 1e-12);
    /* $1,999 USDX + 1 WETH borrowed (DAI) to HF 0.97: the USDX reserve
     * (< $2,000, seized first as the largest) may be liquidated in full:
     * x = 1,999/1.05, not 50 % of the debt */
    double S = 1999 * 0.8 + 1800 * 0.8, D = S / 0.97;
    snprintf(bal, sizeof bal, "\"USDX\": 1999, \"WETH\": 1, \"DAI\": %.17g",
             -D);
    RELX(close_factor_case("aave-v3.3", bal) * D, 1999 / 1.05, 1e-12);
    RELX(close_factor_case("aave-v3.0", bal) * D, 0.5 * D, 1e-12);
    /* dust (MIN_LEFTOVER_BASE $1,000): debt reserves 2,000 USDC + 100 DAI
     * at HF 0.97: 50 % of 2,100 would leave 950 < 1,000 of USDC, so the
     * reserve is cleared (2,000) instead of the reverted partial */
    double C = 0.97 * 2100 / 0.8 / 1800;
    snprintf(bal, sizeof bal,
             "\"WETH\": %.17g, \"USDC\": -2000, \"DAI\": -100", C);
    RELX(close_factor_case("aave-v3.3", bal) * 2100, 2000, 1e-12);
}

Test(cascade, aave_30_seized_collateral_and_protocol_fee)
{
    /* AAVE-30-1 (aave-v3-core liquidation-underlying.spec.ts): collateral
     * seized = debt repaid × P_debt × 1.05 / P_coll; the protocol fee is
     * (seized − seized/LB)·fee (margin-models.md §14.6) */
    xcr_book *b = lending_book(0.825, 0.05, 0.1,
                               "\"WETH\": 10, \"USDC\": -14000", NULL);
    xcr_cascade_event ev;
    xcr_cascade *c = one_liquidation(b, "aave-v3.0", "WETH=-0.1", 1.05, &ev);
    double repaid = ev.fraction * 14000;
    XT_REL(repaid, 7000, 1e-12); /* HF 0.955 > 0.95: 50 % */
    XT_REL(10 - weth_units(c), repaid * 1.05 / 1620, 1e-12);
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    double seized = repaid * 1.05;
    XT_REL(s.protocol_fees, (seized - seized / 1.05) * 0.1, 1e-9);
    XT_REL(s.liquidator_gains, seized - (seized - seized / 1.05) * 0.1 - repaid,
        1e-9);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, compound_absorb_comet_5_and_4)
{
    /* COMET-5: liquidateCF 0.895, LF 0.95 (bonus 0.05), SFPF 0.5; 10 WETH,
     * 24,000 USDC of debt; at $2,600 (< $2,681.56) absorb credits 24,700
     * → the user keeps 700; the protocol sells at a 2.5 % discount. */
    xcr_book *b = lending_book(0.895, 0.05, 0,
                               "\"WETH\": 10, \"USDC\": -24000", NULL);
    xcr_cascade_event ev;
    char spec[64];
    snprintf(spec, sizeof spec, "WETH=%.17g", 2600.0 / 1800 - 1);
    xcr_cascade *c = one_liquidation(b, "compound-v3", spec, 1.05, &ev);
    XT_REL(ev.health_before, 26000 * 0.895 / 24000, 1e-9);
    XT_REL(c->res[0].equity, 700, 1e-9);
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    XT_REL(s.liquidator_gains, 26000 * 0.025, 1e-9);
    XT_REL(s.protocol_fees, 26000 * 0.05 * 0.5, 1e-9);
    cr_assert_eq(s.bad_debt, 0);
    xcr_cascade_free(c);
    xcr_book_free(b);
    /* not yet liquidatable just above $2,681.56 */
    b = lending_book(0.895, 0.05, 0, "\"WETH\": 10, \"USDC\": -24000", NULL);
    xcr_cascade_opts o = opts(b);
    o.policy = "compound-v3";
    c = make(b, &o);
    snprintf(spec, sizeof spec, "WETH=%.17g", 2681.6 / 1800 - 1);
    shock_run(c, b, spec);
    xcr_cascade_summary_get(c, &s);
    cr_assert_eq(s.liquidations, 0);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

/* MARK: exchange policy and the waterfall --------------------------------------------- */

static const char *PERP_BOOK =
    "{\"as_of\": \"2025-01-01T00:00:00Z\", \"assets\": ["
    "{\"symbol\": \"USDT\", \"price\": 1, \"stable\": true},"
    "{\"symbol\": \"BTC\", \"price\": 100}],"
    "\"instruments\": [{\"id\": \"BTC-PERP\", \"type\": \"perp\", "
    "\"underlying\": \"BTC\", \"margin_tiers\": [{\"notional_max\": null, "
    "\"imr\": 0.1, \"mmr\": 0.05}]}],"
    "\"accounts\": [{\"id\": \"a\", \"mode\": \"cross\", \"balances\": "
    "{\"USDT\": 600}, \"positions\": [{\"instrument\": \"BTC-PERP\", "
    "\"size\": 100, \"entry_price\": 100}]}]}";

Test(cascade, exchange_partial_closes_the_least_fraction)
{
    /* after −2 %: collateral 400, notional 9,800, MM 490; with a 1 % fee,
     * surplus(f) = 400 − 98·f − 490·(1 − f) = 0 at f = 90/392 (target
     * maintenance) and 400 − 98·f − 980·(1 − f) = 0 at f = 580/882
     * (target initial) */
    xcr_book *b = xt_load_book(PERP_BOOK);
    for (int t = 0; t < 2; t++) {
        xcr_cascade_opts o = opts(b);
        o.penalty = 0.01;
        o.liq_buffer = 0; /* the bare requirement (the buffer: below) */
        o.trace_accounts = 1;
        o.target = t ? XCR_TARGET_INITIAL : XCR_TARGET_MAINTENANCE;
        xcr_cascade *c = make(b, &o);
        shock_run(c, b, "BTC=-0.02");
        xcr_cascade_event ev;
        cr_assert_eq(xcr_cascade_event_count(c), 1);
        xcr_cascade_event_get(c, 0, &ev);
        cr_assert_eq(ev.action, XCR_LIQ_PARTIAL);
        XT_REL(ev.fraction, t ? 580.0 / 882 : 90.0 / 392, 1e-12);
        xcr_cascade_summary s;
        xcr_cascade_summary_get(c, &s);
        XT_REL(s.penalties, 0.01 * ev.fraction * 9800, 1e-9);
        XT_REL(xcr_cascade_sold(c, 1), ev.fraction * 100, 1e-12);
        xcr_cascade_free(c);
    }
    xcr_book_free(b);
}

Test(cascade, exchange_buffer_leaves_buffer_times_maintenance)
{
    /* The liquidation buffer (docs/cascade.md "exchange"; xcr's modelling
     * choice after Drift's margin buffer, margin-models.md §18), derived by
     * hand on PERP_BOOK after −2 % (as above: collateral 400, notional
     * 9,800, MM 490, fee 1 % of the notional closed).  Closing f leaves
     * collateral 400 − 98·f and MM 490·(1 − f); the buffered target
     * collateral = (1 + b)·MM gives
     *   400 − 98·f = (1 + b)·490·(1 − f)
     *   f = ((1 + b)·490 − 400) / ((1 + b)·490 − 98),
     * b = 0.05 (the default): f = 114.5/416.5 = 0.274910; b = 0.2:
     * f = 188/490; b = 0: f = 90/392, the old amount.  Afterwards the
     * surplus is exactly b·MM (BTC has no liquidity model: the price
     * does not move, so the final evaluation is at the same price). */
    xcr_book *b = xt_load_book(PERP_BOOK);
    const double bufs[] = {0.05, 0.2, 0};
    const double want[] = {114.5 / 416.5, 188.0 / 490, 90.0 / 392};
    for (int t = 0; t < 3; t++) {
        xcr_cascade_opts o = opts(b);
        XT_REL(o.liq_buffer, 0.05, 0); /* the documented default */
        o.penalty = 0.01;
        o.trace_accounts = 1;
        if (t)
            o.liq_buffer = bufs[t];
        xcr_cascade *c = make(b, &o);
        shock_run(c, b, "BTC=-0.02");
        cr_assert_eq(xcr_cascade_event_count(c), 1);
        xcr_cascade_event ev;
        xcr_cascade_event_get(c, 0, &ev);
        cr_assert_eq(ev.action, XCR_LIQ_PARTIAL);
        XT_REL(ev.fraction, want[t], 1e-12);
        XT_REL(ev.equity_after, 400 - 98 * want[t], 1e-12);
        const xcr_account_result *r = &c->res[0];
        XT_REL(r->maintenance_margin, 490 * (1 - want[t]), 1e-12);
        XT_REL(r->collateral - r->maintenance_margin,
               bufs[t] * r->maintenance_margin, 1e-9);
        cr_assert_geq(r->collateral - r->maintenance_margin,
                      bufs[t] * r->maintenance_margin * (1 - 1e-12));
        XT_REL(xcr_cascade_sold(c, 1), want[t] * 100, 1e-12);
        xcr_cascade_free(c);
    }
    xcr_book_free(b);
}

Test(cascade, exchange_partial_below_minimum_size_closes_whole)
{
    /* PERP_BOOK after −2 %, no buffer: the least partial closes
     * f = 90/392 of the 9,800 notional, $2,250 (hand-derived above).  With
     * a minimum liquidation size of $3,000 it would be too small, so the
     * whole account is closed instead (the conservative choice,
     * docs/cascade.md; Drift closes 100 % when the shortage is < $50,
     * margin-models.md §18): all 100 BTC sold, the fee 1 % × 9,800 = 98 to
     * the fund, the account keeps 400 − 98 = 302 USDT and no position.
     * With $2,000 (below $2,250) and with 0 (off) the partial stands. */
    xcr_book *b = xt_load_book(PERP_BOOK);
    const double mins[] = {3000, 2000, 0};
    for (int t = 0; t < 3; t++) {
        xcr_cascade_opts o = opts(b);
        o.penalty = 0.01;
        o.liq_buffer = 0;
        o.min_liq_usd = mins[t];
        o.trace_accounts = 1;
        xcr_cascade *c = make(b, &o);
        shock_run(c, b, "BTC=-0.02");
        cr_assert_eq(xcr_cascade_event_count(c), 1);
        xcr_cascade_event ev;
        xcr_cascade_event_get(c, 0, &ev);
        cr_assert_eq(ev.action, XCR_LIQ_PARTIAL);
        xcr_cascade_summary s;
        xcr_cascade_summary_get(c, &s);
        if (t == 0) {
            cr_assert_eq(ev.fraction, 1);
            cr_assert_eq(c->pos_size[0], 0);
            XT_REL(ev.volume_usd, 9800, 1e-12);
            XT_REL(s.penalties, 98, 1e-12);
            XT_REL(ev.equity_after, 302, 1e-12);
            XT_REL(c->res[0].equity, 302, 1e-12);
            XT_REL(xcr_cascade_sold(c, 1), 100, 1e-12);
        } else {
            XT_REL(ev.fraction, 90.0 / 392, 1e-12);
            XT_REL(ev.volume_usd, 9800 * 90.0 / 392, 1e-12);
            XT_REL(s.penalties, 98 * 90.0 / 392, 1e-9);
        }
        xcr_cascade_free(c);
    }
    xcr_book_free(b);
}

/* Per account: liquidations (ADL excluded) and the longest run of
 * consecutive rounds in which it was partially liquidated by less than
 * `tiny` of its holdings. */
static void liq_pattern(const xcr_cascade *c, size_t n, double tiny,
                        size_t *most_liqs, size_t *longest_tiny_run)
{
    size_t *cnt = calloc(n, sizeof *cnt), *run = calloc(n, sizeof *run),
           *last = calloc(n, sizeof *last);
    cr_assert(cnt && run && last);
    *most_liqs = *longest_tiny_run = 0;
    for (size_t i = 0; i < xcr_cascade_event_count(c); i++) {
        xcr_cascade_event e;
        xcr_cascade_event_get(c, i, &e);
        if (e.action == XCR_LIQ_ADL)
            continue;
        cnt[e.account]++;
        *most_liqs = cnt[e.account] > *most_liqs ? cnt[e.account] : *most_liqs;
        if (e.action == XCR_LIQ_PARTIAL && e.fraction < tiny) {
            run[e.account] =
                last[e.account] + 1 == e.round ? run[e.account] + 1 : 1;
            last[e.account] = e.round;
            if (run[e.account] > *longest_tiny_run)
                *longest_tiny_run = run[e.account];
        }
    }
    free(cnt);
    free(run);
    free(last);
}

/* Regression (closing note of issue #5): aiming exactly at maintenance
 * leaves a surplus of ~0, the next round's impact makes the account
 * liquidatable again by a hair, and on an adversarial random book (every
 * account mode, haircut collateral, thin sqrt liquidity) the same accounts
 * were liquidated by ~1e-4 of their size every round, never reaching a
 * fixed point in 100 rounds.  The buffer and the minimum size (defaults
 * 5 % of MM and $10) stop it: a fixed point within a few rounds and no
 * account liquidated more than a few times.  Measured on seeds 1..200 with
 * this shock: the old policy loops on 196, the defaults converge on 199
 * (192 within 8 rounds) and all the bounds below hold on 191; the
 * exceptions are large accounts whose rounds' price moves exceed their
 * buffer each round, a genuine spiral, and cross accounts whose MM is tiny
 * next to their collateral haircuts (docs/cascade.md).  XCR_TEST_SEED
 * picks another book; the default seed is 1. */
Test(cascade, buffer_stops_micro_liquidation_loops, .timeout = 60)
{
    uint64_t seed = xt_seed(1);
    const size_t n = 300;
    xcr_book *b = xt_random_book(n, seed);
    /* USDT, USDC, BTC, ETH, SOL (test_support.h) */
    double mv[XT_RB_NA] = {0, 0, -0.30, -0.35, -0.40};
    xcr_error err = {0};
    xcr_cascade_summary s[3];
    xcr_cascade *c[3];
    for (int k = 0; k < 3; k++) {
        xcr_cascade_opts o = opts(b);
        o.policy = "exchange";
        o.max_rounds = 100;
        o.trace_accounts = 1;
        o.threads = k == 2 ? 3 : 1;
        if (k == 0) { /* the old policy */
            o.liq_buffer = 0;
            o.min_liq_usd = 0;
        }
        c[k] = make(b, &o);
        cr_assert_eq(xcr_cascade_shock(c[k], mv, NULL, &err), XCR_OK, "%s",
                     err.msg);
        cr_assert_eq(xcr_cascade_run(c[k], &err), XCR_OK, "%s", err.msg);
        check_conservation(c[k]);
        xcr_cascade_summary_get(c[k], &s[k]);
    }
    size_t most, run;
    /* the defect exists: no fixed point, one account nibbled by < 1e-3 of
     * its size in 20 or more consecutive rounds */
    liq_pattern(c[0], n, 1e-3, &most, &run);
    cr_assert(!s[0].converged && s[0].rounds_simulated == 100,
              "seed %llu: the old policy converged in %zu rounds",
              (unsigned long long)seed, s[0].rounds_simulated);
    cr_assert_geq(run, 20, "seed %llu: longest tiny run %zu",
                  (unsigned long long)seed, run);
    /* the defaults: a fixed point well within the limit, nobody
     * liquidated more than a few times, no tiny nibbling twice in a row */
    liq_pattern(c[1], n, 1e-3, &most, &run);
    cr_assert(s[1].converged && s[1].rounds_simulated <= 10,
              "seed %llu: converged %d after %zu rounds",
              (unsigned long long)seed, s[1].converged,
              s[1].rounds_simulated);
    cr_assert_leq(most, 5, "seed %llu: an account liquidated %zu times",
                  (unsigned long long)seed, most);
    cr_assert_leq(run, 1, "seed %llu: tiny liquidations %zu rounds running",
                  (unsigned long long)seed, run);
    cr_assert_gt(s[1].liquidations, 0, "seed %llu: nobody liquidated",
                 (unsigned long long)seed);
    /* and the same bits at 3 threads */
    cr_assert_eq(memcmp(&s[1], &s[2], sizeof s[1]), 0,
                 "seed %llu: 1 and 3 threads differ", (unsigned long long)seed);
    cr_assert_eq(xcr_cascade_event_count(c[1]), xcr_cascade_event_count(c[2]));
    for (int k = 0; k < 3; k++)
        xcr_cascade_free(c[k]);
    xcr_book_free(b);
}

Test(cascade, adl_closes_at_the_bankruptcy_price_dyx_2)
{
    /* DYX-2 (dYdX help): B is short 500 @ 1 with $100 of equity; the price
     * jumps to 2; B's bankruptcy price is 1.2; A's offsetting long closes
     * at 1.2: A gains $100 (over its entry), B ends at 0.  Insurance fund
     * 0, so the whole loss goes to ADL. */
    xcr_book *b = xt_load_book(
        "{\"as_of\": \"2025-01-01T00:00:00Z\", \"assets\": ["
        "{\"symbol\": \"USDT\", \"price\": 1, \"stable\": true},"
        "{\"symbol\": \"T\", \"price\": 1}],"
        "\"instruments\": [{\"id\": \"T-PERP\", \"type\": \"perp\", "
        "\"underlying\": \"T\"}],"
        "\"accounts\": ["
        "{\"id\": \"A\", \"mode\": \"cross\", \"balances\": {\"USDT\": "
        "1000}, \"positions\": [{\"instrument\": \"T-PERP\", \"size\": 500, "
        "\"entry_price\": 1}]},"
        "{\"id\": \"B\", \"mode\": \"cross\", \"balances\": {\"USDT\": 100}, "
        "\"positions\": [{\"instrument\": \"T-PERP\", \"size\": -500, "
        "\"entry_price\": 1}]}]}");
    xcr_cascade_opts o = opts(b);
    o.insurance_fund = 0;
    o.adl = 1;
    o.trace_accounts = 1;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "T=1");
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    XT_REL(s.adl_loss, 400, 1e-12);
    XT_REL(s.adl_volume, 1000, 1e-12); /* 500 at mark 2 */
    cr_assert_eq(s.bad_debt, 0);
    XT_REL(c->res[1].equity, 0, 1e-12);
    /* A: 1,000 + 500·(1.2 − 1) realised, no position left */
    XT_REL(c->res[0].equity, 1100, 1e-12);
    cr_assert_eq(c->pos_size[0], 0);
    cr_assert_eq(xcr_cascade_sold(c, 1), 0); /* matched, not sold */
    xcr_cascade_free(c);
    /* without ADL the loss beyond the fund is socialised */
    o.adl = 0;
    o.insurance_fund = 150;
    c = make(b, &o);
    shock_run(c, b, "T=1");
    xcr_cascade_summary_get(c, &s);
    XT_REL(s.insurance_drawdown, 150, 1e-12);
    XT_REL(s.socialised, 250, 1e-12);
    XT_REL(xcr_cascade_bad_debt(c, 0), 250, 1e-12);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, adl_ranking_pnl_times_leverage)
{
    /* two profitable longs against one bankrupt short: the higher
     * PnL% × effective leverage is deleveraged first (BitMEX ranking) */
    xcr_book *b = xt_load_book(
        "{\"as_of\": \"2025-01-01T00:00:00Z\", \"assets\": ["
        "{\"symbol\": \"USDT\", \"price\": 1, \"stable\": true},"
        "{\"symbol\": \"T\", \"price\": 1}],"
        "\"instruments\": [{\"id\": \"T-PERP\", \"type\": \"perp\", "
        "\"underlying\": \"T\"}],"
        "\"accounts\": ["
        "{\"id\": \"low\", \"mode\": \"cross\", \"balances\": {\"USDT\": "
        "5000}, \"positions\": [{\"instrument\": \"T-PERP\", \"size\": 300, "
        "\"entry_price\": 1}]},"
        "{\"id\": \"high\", \"mode\": \"cross\", \"balances\": {\"USDT\": "
        "200}, \"positions\": [{\"instrument\": \"T-PERP\", \"size\": 300, "
        "\"entry_price\": 1}]},"
        "{\"id\": \"B\", \"mode\": \"cross\", \"balances\": {\"USDT\": 100}, "
        "\"positions\": [{\"instrument\": \"T-PERP\", \"size\": -300, "
        "\"entry_price\": 1}]}]}");
    xcr_cascade_opts o = opts(b);
    o.insurance_fund = 0;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "T=0.5");
    cr_assert_eq(c->pos_size[1], 0, "the more leveraged winner goes first");
    XT_REL(c->pos_size[0], 300, 1e-12);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

/* MARK: safeguards ------------------------------------------------------------------------- */

Test(cascade, circuit_breaker_halts_then_recovery)
{
    /* the −20 % shock exceeds max_move 0.1: liquidations of accounts
     * exposed to X wait 2 rounds, then proceed */
    xcr_book *b = xt_load_book(spiral_book(1e5));
    xcr_cascade_opts o = opts(b);
    o.cb_max_move = 0.1;
    o.cb_halt_rounds = 2;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "X=-0.2");
    xcr_cascade_round r;
    xcr_cascade_round_get(c, 0, &r);
    cr_assert_eq(r.liquidations, 0);
    cr_assert_eq(r.halted, 1);
    xcr_cascade_round_get(c, 1, &r);
    cr_assert_eq(r.liquidations, 0);
    xcr_cascade_round_get(c, 2, &r);
    cr_assert_eq(r.liquidations, 1);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, round_caps_throttle_but_liquidate_the_same_accounts)
{
    xcr_book *b = xt_demo_book(3000, 7, 3.0);
    size_t na = xcr_book_asset_count(b);
    xcr_scenarios *set = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_new(b, &set), XCR_OK);
    cr_assert_eq(xcr_scenarios_add_builtin(set, "tariff_2025_10_10", NULL,
                                           &err),
                 XCR_OK, "%s", err.msg);
    xcr_cascade_opts o = opts(b);
    o.cb_max_move = 0;
    xcr_cascade *c = make(b, &o);
    cr_assert_eq(xcr_cascade_shock_scenario(c, set, 0, &err), XCR_OK);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK);
    check_conservation(c);
    xcr_cascade_summary s1, s2;
    xcr_cascade_summary_get(c, &s1);
    xcr_cascade_free(c);
    double *caps = malloc(na * sizeof *caps);
    for (size_t a = 0; a < na; a++)
        caps[a] = 20000;
    o.round_cap_usd = caps;
    c = make(b, &o);
    free(caps); /* the cascade keeps its own copy */
    cr_assert_eq(xcr_cascade_shock_scenario(c, set, 0, &err), XCR_OK);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK);
    check_conservation(c);
    xcr_cascade_summary_get(c, &s2);
    size_t deferred = 0;
    for (size_t i = 0; i < xcr_cascade_round_count(c); i++) {
        xcr_cascade_round r;
        xcr_cascade_round_get(c, i, &r);
        deferred += r.deferred;
    }
    cr_assert(deferred > 0);
    cr_assert_gt(s2.rounds_simulated, s1.rounds_simulated);
    cr_assert_gt(s2.liquidated_accounts, 0);
    xcr_cascade_free(c);
    xcr_scenarios_free(set);
    xcr_book_free(b);
}

/* MARK: determinism and modes ----------------------------------------------------------- */

static void run_demo(const xcr_book *b, const xcr_scenarios *set, int threads,
                     int full, int seq, xcr_cascade **out)
{
    xcr_cascade_opts o = opts(b);
    o.threads = threads;
    o.full_reevaluation = full;
    o.sequential = seq;
    o.trace_accounts = 1;
    xcr_cascade *c = make(b, &o);
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_shock_scenario(c, set, 0, &err), XCR_OK);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK, "%s", err.msg);
    check_conservation(c);
    *out = c;
}

Test(cascade, bit_identical_for_any_thread_count)
{
    xcr_book *b = xt_demo_book(20000, 3, 3.0);
    xcr_scenarios *set = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_scenarios_new(b, &set), XCR_OK);
    cr_assert_eq(xcr_scenarios_add_builtin(set, "tariff_2025_10_10", NULL,
                                           &err),
                 XCR_OK);
    xcr_cascade *ref = NULL;
    run_demo(b, set, 1, 0, 0, &ref);
    xcr_cascade_summary s0;
    xcr_cascade_summary_get(ref, &s0);
    cr_assert_gt(s0.liquidations, 0);
    size_t na = xcr_book_asset_count(b);
    for (int k = 0; k < 3; k++) {
        int threads = (int[]){2, 8, 3}[k];
        xcr_cascade *c = NULL;
        run_demo(b, set, threads, k == 2, 0, &c);
        xcr_cascade_summary s;
        xcr_cascade_summary_get(c, &s);
        /* k == 2, full re-evaluation: the very same bits too (bound.c
         * computes a skipped account's equity as the evaluator does) */
        cr_assert_eq(memcmp(&s, &s0, sizeof s), 0, "summary differs at %d "
                                                   "threads",
                     threads);
        cr_assert_eq(xcr_cascade_round_count(c),
                     xcr_cascade_round_count(ref));
        for (size_t i = 0; i < xcr_cascade_round_count(c); i++) {
            xcr_cascade_round r, r0;
            xcr_cascade_round_get(c, i, &r);
            xcr_cascade_round_get(ref, i, &r0);
            cr_assert_eq(memcmp(r.prices, r0.prices, na * sizeof(double)), 0);
            cr_assert_eq(memcmp(r.sold, r0.sold, na * sizeof(double)), 0);
            cr_assert_eq(r.insurance_fund, r0.insurance_fund);
        }
        cr_assert_eq(xcr_cascade_event_count(c), xcr_cascade_event_count(ref));
        xcr_cascade_free(c);
    }
    /* sequential mode: its own answer, also conserved and reproducible */
    xcr_cascade *q1 = NULL, *q2 = NULL;
    run_demo(b, set, 1, 0, 1, &q1);
    run_demo(b, set, 4, 0, 1, &q2);
    xcr_cascade_summary a, c2;
    xcr_cascade_summary_get(q1, &a);
    xcr_cascade_summary_get(q2, &c2);
    cr_assert_eq(memcmp(&a, &c2, sizeof a), 0);
    cr_assert_gt(a.liquidations, 0);
    /* worst first within a round: bankrupt accounts before the others */
    xcr_cascade_event e0;
    xcr_cascade_event_get(q1, 0, &e0);
    cr_assert(e0.equity_before < 0 || e0.health_before <= 1);
    xcr_cascade_free(q1);
    xcr_cascade_free(q2);
    xcr_cascade_free(ref);
    xcr_scenarios_free(set);
    xcr_book_free(b);
}

/* MARK: inputs and the report ---------------------------------------------------------- */

Test(cascade, options_from_settings_and_bad_values)
{
    xcr_book *b = xt_demo_book(100, 1, 3.0);
    xcr_cascade_opts o = opts(b);
    cr_assert_str_eq(o.policy, "exchange");
    XT_REL(o.penalty, 0.01, 0);
    XT_REL(o.insurance_fund, 100000, 0);
    XT_REL(o.cb_max_move, 0.1, 0);
    cr_assert_eq(o.cb_halt_rounds, 2);
    cr_assert_eq(o.max_rounds, 100);
    XT_REL(o.target_health_factor, 1.05, 0);
    XT_REL(o.liq_buffer, 0.05, 0);  /* documented defaults (cascade.h) */
    XT_REL(o.min_liq_usd, 10, 0);
    xcr_error err = {0};
    xcr_cascade *c = NULL;
    /* bad buffer / minimum size set directly */
    const double bad_buf[] = {-0.01, 1, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++) {
        o = opts(b);
        o.liq_buffer = bad_buf[i];
        cr_assert_eq(xcr_cascade_new(b, &o, &c, &err), XCR_EINVAL);
        cr_assert(strstr(err.msg, "liquidation buffer"), "%s", err.msg);
    }
    const double bad_min[] = {-1, NAN, INFINITY};
    for (size_t i = 0; i < 3; i++) {
        o = opts(b);
        o.min_liq_usd = bad_min[i];
        cr_assert_eq(xcr_cascade_new(b, &o, &c, &err), XCR_EINVAL);
        cr_assert(strstr(err.msg, "minimum liquidation size"), "%s", err.msg);
    }
    o = opts(b);
    o.policy = "nope";
    cr_assert_eq(xcr_cascade_new(b, &o, &c, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "nope"));
    o = opts(b);
    o.penalty = -1;
    cr_assert_eq(xcr_cascade_new(b, &o, &c, &err), XCR_EINVAL);
    size_t na = xcr_book_asset_count(b);
    double *mv = calloc(na, sizeof *mv);
    cr_assert_eq(xcr_cascade_parse_shock(b, "BTC=-0.2,ETH=-0.25", mv, &err),
                 XCR_OK);
    XT_REL(mv[xcr_book_find_asset(b, "ETH")], -0.25, 0);
    cr_assert_eq(xcr_cascade_parse_shock(b, "BTC=-1.5", mv, &err),
                 XCR_EINVAL);
    cr_assert(strstr(err.msg, "BTC"));
    cr_assert_eq(xcr_cascade_parse_shock(b, "NOPE=0.1", mv, &err), XCR_EREF);
    cr_assert_eq(xcr_cascade_parse_shock(b, "BTC=x", mv, &err), XCR_EINVAL);
    cr_assert_eq(xcr_cascade_parse_shock(b, "BTC=0.1,", mv, &err),
                 XCR_EINVAL);
    free(mv);
    xcr_book_free(b);
    /* malformed settings.liquidation: located message */
    xcr_book *bad = xt_load_book(
        "{\"assets\": [{\"symbol\": \"USDT\", \"price\": 1, \"stable\": "
        "true}], \"accounts\": [], \"settings\": {\"liquidation\": "
        "{\"policy\": \"sideways\"}}}");
    cr_assert_eq(xcr_cascade_opts_init(bad, &o, &err), XCR_EINVAL);
    cr_assert(strstr(err.msg, "$.settings.liquidation.policy"), "%s",
              err.msg);
    xcr_book_free(bad);
    /* the buffer and the minimum size from settings.liquidation (xcr
     * extension keys), and their bad values, located */
    xcr_book *set = xt_load_book(
        "{\"assets\": [{\"symbol\": \"USDT\", \"price\": 1, \"stable\": "
        "true}], \"accounts\": [], \"settings\": {\"liquidation\": "
        "{\"liq_buffer\": 0.125, \"min_liq_usd\": 250}}}");
    o = opts(set);
    XT_REL(o.liq_buffer, 0.125, 0);
    XT_REL(o.min_liq_usd, 250, 0);
    xcr_book_free(set);
    const char *bad_set[] = {"\"liq_buffer\": 1", "\"liq_buffer\": -0.5",
                             "\"liq_buffer\": \"big\"",
                             "\"min_liq_usd\": -10",
                             "\"min_liq_usd\": true"};
    for (size_t i = 0; i < 5; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"assets\": [{\"symbol\": \"USDT\", \"price\": 1, "
                 "\"stable\": true}], \"accounts\": [], \"settings\": "
                 "{\"liquidation\": {%s}}}",
                 bad_set[i]);
        bad = xt_load_book(json);
        cr_assert_eq(xcr_cascade_opts_init(bad, &o, &err), XCR_EINVAL, "%s",
                     bad_set[i]);
        cr_assert(strstr(err.msg, i < 3 ? "$.settings.liquidation.liq_buffer"
                                        : "$.settings.liquidation.min_liq_usd"),
                  "%s: %s", bad_set[i], err.msg);
        xcr_book_free(bad);
    }
    /* no stable asset to settle in */
    bad = xt_load_book("{\"assets\": [{\"symbol\": \"BTC\", \"price\": 1}], "
               "\"accounts\": []}");
    o = opts(bad);
    cr_assert_eq(xcr_cascade_new(bad, &o, &c, &err), XCR_EINVAL);
    xcr_book_free(bad);
}

Test(cascade, cli_json_contract_and_errors)
{
    char *path = xt_write_temp(".json", spiral_book(1e5));
    char cmd[1024], *out = NULL, *errs = NULL;
    snprintf(cmd, sizeof cmd, "'%s' cascade '%s' --shock X=-0.01 --format json",
             XCR_CLI_PATH, path);
    cr_assert_eq(xt_run(cmd, &out, &errs), 0, "%s", errs);
    const char *keys[] = {"\"rounds\": ", "\"initial_prices\": {",
                          "\"final_prices\": {", "\"bad_debt\": ",
                          "\"liquidated_accounts\": 1",
                          "\"insurance_fund\": {\"start\": ",
                          "\"trace\": [", "\"round\": 1, \"prices\": {",
                          "\"liquidations\": 1, \"sold\": {\"X\": "};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(strstr(out, keys[i]), "missing %s in %s", keys[i], out);
    free(out);
    free(errs);
    const char *bad[] = {"--shock X=-2", "--shock Y=-0.1", "",
                         "--shock X=-0.1 --scenario tariff_2025_10_10",
                         "--shock X=-0.1 --policy nope",
                         "--scenario no_such_scenario",
                         "--shock X=-0.1 --max-rounds 0",
                         "--shock X=-0.1 --circuit-breaker 0.1",
                         "--shock X=-0.1 --cap X=-5",
                         "--shock X=-0.1 --liq-buffer 1",
                         "--shock X=-0.1 --liq-buffer -0.01",
                         "--shock X=-0.1 --liq-buffer nan",
                         "--shock X=-0.1 --liq-buffer inf",
                         "--shock X=-0.1 --liq-buffer 5%",
                         "--shock X=-0.1 --liq-buffer",
                         "--shock X=-0.1 --min-liq-usd -5",
                         "--shock X=-0.1 --min-liq-usd inf",
                         "--shock X=-0.1 --min-liq-usd NaN",
                         "--shock X=-0.1 --min-liq-usd ten"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "'%s' cascade '%s' %s", XCR_CLI_PATH, path,
                 bad[i]);
        out = errs = NULL;
        cr_assert_eq(xt_run(cmd, &out, &errs), 2, "%s: %s", bad[i], errs);
        cr_assert(out && out[0] == '\0', "%s: partial output", bad[i]);
        cr_assert(errs && (strchr(errs, '\n') == errs + strlen(errs) - 1 ||
                           strstr(errs, "Try")),
                  "%s: %s", bad[i], errs);
        free(out);
        free(errs);
    }
    /* --liq-buffer and --min-liq-usd reach the policy: a larger buffer
     * sells more on the spiral book (one account, exchange policy) */
    double liq_usd[2];
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd,
                 "'%s' cascade '%s' --shock X=-0.01 --max-rounds 1 "
                 "--format json --liq-buffer %s --min-liq-usd %s",
                 XCR_CLI_PATH, path, k ? "0.5" : "0", k ? "1e6" : "0");
        out = errs = NULL;
        cr_assert_eq(xt_run(cmd, &out, &errs), 0, "%s", errs);
        const char *q = strstr(out, "\"liquidated_usd\": ");
        cr_assert(q, "%s", out);
        liq_usd[k] = strtod(q + strlen("\"liquidated_usd\": "), NULL);
        free(out);
        free(errs);
    }
    cr_assert_gt(liq_usd[1], liq_usd[0]);
    snprintf(cmd, sizeof cmd, "'%s' cascade --help", XCR_CLI_PATH);
    out = errs = NULL;
    cr_assert_eq(xt_run(cmd, &out, &errs), 0);
    cr_assert(strstr(out, "--liq-buffer") && strstr(out, "--min-liq-usd"));
    free(out);
    free(errs);
    snprintf(cmd, sizeof cmd,
             "'%s' cascade --scenario tariff_2025_10_10 --format csv "
             "--trace-accounts",
             XCR_CLI_PATH);
    out = errs = NULL;
    cr_assert_eq(xt_run(cmd, &out, &errs), 0, "%s", errs);
    cr_assert(strncmp(out, "round,account,action", 20) == 0);
    free(out);
    free(errs);
    snprintf(cmd, sizeof cmd,
             "'%s' cascade --scenario tariff_2025_10_10 --segment",
             XCR_CLI_PATH);
    out = errs = NULL;
    cr_assert_eq(xt_run(cmd, &out, &errs), 0, "%s", errs);
    cr_assert(strstr(out, "amplif.") && strstr(out, "insurance fund") &&
              strstr(out, "segmentation what-if"));
    free(out);
    free(errs);
    unlink(path);
    free(path);
}

Test(cascade, isolated_position_taken_over_alone)
{
    /* an isolated long whose margin + PnL falls below its maintenance
     * margin is taken over on its own: margin + PnL (≥ 0) to the fund, the
     * balances untouched; its twin with more margin stays */
    xcr_book *b = xt_load_book(
        "{\"as_of\": \"2025-01-01T00:00:00Z\", \"assets\": ["
        "{\"symbol\": \"USDT\", \"price\": 1, \"stable\": true},"
        "{\"symbol\": \"BTC\", \"price\": 100}],"
        "\"instruments\": [{\"id\": \"BTC-PERP\", \"type\": \"perp\", "
        "\"underlying\": \"BTC\"}, {\"id\": \"BTC-FUT\", \"type\": "
        "\"perp\", \"underlying\": \"BTC\"}],"
        "\"accounts\": [{\"id\": \"iso\", \"mode\": \"isolated\", "
        "\"balances\": {\"USDT\": 50}, \"positions\": ["
        "{\"instrument\": \"BTC-PERP\", \"size\": 10, \"entry_price\": 100, "
        "\"isolated_margin\": 100},"
        "{\"instrument\": \"BTC-FUT\", \"size\": 10, \"entry_price\": 100, "
        "\"isolated_margin\": 400}]}]}");
    xcr_cascade_opts o = opts(b);
    o.trace_accounts = 1;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "BTC=-0.06"); /* PnL −60: 40 < MM 47 on the first */
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    cr_assert_eq(s.liquidations, 1);
    XT_REL(s.penalties, 40, 1e-12);
    cr_assert_eq(c->pos_size[0], 0);
    XT_REL(c->pos_size[1], 10, 0);
    XT_REL(c->eq[0], 50 + 400 - 60, 1e-9);
    XT_REL(xcr_cascade_sold(c, 1), 10, 1e-12);
    xcr_cascade_event e;
    xcr_cascade_event_get(c, 0, &e);
    cr_assert_eq(e.action, XCR_LIQ_ISOLATED);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, concentration_haircut_goes_to_the_liquidator)
{
    /* selling 100 BTC of collateral into a 1e6-USD linear book: with the
     * haircut the account is credited at the price after its own impact */
    const char *json =
        "{\"assets\": [{\"symbol\": \"USDT\", \"price\": 1, \"stable\": "
        "true, \"borrow_mmr\": 0.25},"
        "{\"symbol\": \"BTC\", \"price\": 100, \"liquidity\": {\"model\": "
        "\"linear\", \"depth_usd\": 1000000}}],"
        "\"accounts\": [{\"id\": \"a\", \"mode\": \"cross\", \"balances\": "
        "{\"BTC\": 100, \"USDT\": -8000}}]}";
    xcr_book *b = xt_load_book(json);
    xcr_cascade_opts o = opts(b);
    o.penalty = 0;
    o.max_rounds = 1;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "BTC=-0.01");
    xcr_cascade_summary s;
    xcr_cascade_summary_get(c, &s);
    cr_assert_eq(s.liquidator_gains, 0);
    double sold = xcr_cascade_sold(c, 1);
    xcr_cascade_free(c);
    o.concentration_haircut = 1;
    c = make(b, &o);
    shock_run(c, b, "BTC=-0.01");
    xcr_cascade_summary_get(c, &s);
    double u = xcr_cascade_sold(c, 1);
    cr_assert_gt(u, sold); /* a worse price needs a larger sale */
    XT_REL(s.liquidator_gains, u * 99 * (u * 99 / 1e6), 1e-9);
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, sequential_mode_goes_worst_first)
{
    /* three spiral accounts at different leverage: in sequential mode the
     * lowest health is liquidated first */
    xcr_book *b = xt_load_book(
        "{\"assets\": [{\"symbol\": \"USDC\", \"price\": 1, \"stable\": "
        "true, \"borrow_mmr\": 0.25}, {\"symbol\": \"X\", \"price\": 10, "
        "\"liquidity\": {\"model\": \"linear\", \"depth_usd\": 1000000}}],"
        "\"accounts\": ["
        "{\"id\": \"mid\", \"mode\": \"cross\", \"balances\": {\"X\": 1000, "
        "\"USDC\": -7900}},"
        "{\"id\": \"worst\", \"mode\": \"cross\", \"balances\": {\"X\": "
        "1000, \"USDC\": -8000}},"
        "{\"id\": \"least\", \"mode\": \"cross\", \"balances\": {\"X\": "
        "1000, \"USDC\": -7800}}]}");
    xcr_cascade_opts o = opts(b);
    o.sequential = 1;
    o.trace_accounts = 1;
    o.penalty = 0;
    xcr_cascade *c = make(b, &o);
    shock_run(c, b, "X=-0.05");
    cr_assert_geq(xcr_cascade_event_count(c), 3);
    size_t want[] = {1, 0, 2};
    for (size_t i = 0; i < 3; i++) {
        xcr_cascade_event e;
        xcr_cascade_event_get(c, i, &e);
        cr_assert_eq(e.account, want[i], "event %zu: account %zu", i,
                     e.account);
        cr_assert_eq(e.round, 1);
    }
    xcr_cascade_free(c);
    xcr_book_free(b);
}

Test(cascade, segmentation_splits_cross_accounts_and_conserves_equity)
{
    /* a cross account with two perps (IM 10 % of 10,000 and of 5,000):
     * equity 1,500 is shared 2:1 as margin + PnL of the isolated
     * sub-accounts; the remainder keeps the balances less the posted
     * margin, so the book's equity is unchanged */
    xcr_book *b = xt_load_book(
        "{\"as_of\": \"2025-01-01T00:00:00Z\", \"assets\": ["
        "{\"symbol\": \"USDT\", \"price\": 1, \"stable\": true},"
        "{\"symbol\": \"BTC\", \"price\": 100}, {\"symbol\": \"ETH\", "
        "\"price\": 50}],"
        "\"instruments\": [{\"id\": \"BTC-PERP\", \"type\": \"perp\", "
        "\"underlying\": \"BTC\"}, {\"id\": \"ETH-PERP\", \"type\": \"perp\", "
        "\"underlying\": \"ETH\"}],"
        "\"accounts\": [{\"id\": \"a\", \"mode\": \"cross\", \"balances\": "
        "{\"USDT\": 1600}, \"positions\": [{\"instrument\": \"BTC-PERP\", "
        "\"size\": 100, \"entry_price\": 101}, {\"instrument\": "
        "\"ETH-PERP\", \"size\": -100, \"entry_price\": 50}]},"
        "{\"id\": \"s\", \"mode\": \"cross\", \"balances\": {\"BTC\": 1}}]}");
    xcr_book *g = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_segment(b, &g, &err), XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_book_account_count(g), 4);
    long a1 = xcr_book_find_account(g, "a/1"), a2 = xcr_book_find_account(g,
                                                                         "a/2"),
         a0 = xcr_book_find_account(g, "a/0"),
         s = xcr_book_find_account(g, "s");
    cr_assert(a1 >= 0 && a2 >= 0 && a0 >= 0 && s >= 0);
    cr_assert_eq(xcr_book_account_mode(g, (size_t)a1), XCR_MODE_ISOLATED);
    cr_assert_eq(xcr_book_account_mode(g, (size_t)a0), XCR_MODE_CROSS);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(g, &m), XCR_OK);
    xcr_account_result r1, r2, r0, rs;
    xcr_margin_account(m, (size_t)a1, &r1, NULL, &err);
    xcr_margin_account(m, (size_t)a2, &r2, NULL, &err);
    xcr_margin_account(m, (size_t)a0, &r0, NULL, &err);
    xcr_margin_account(m, (size_t)s, &rs, NULL, &err);
    XT_REL(r1.equity, 1000, 1e-12);
    XT_REL(r2.equity, 500, 1e-12);
    XT_REL(r0.equity, 0, 1e-12);
    XT_REL(rs.equity, 100, 1e-12);
    xcr_market_free(m);
    /* the what-if runs on it like on any book */
    xcr_cascade_opts o = opts(g);
    xcr_cascade *c = make(g, &o);
    shock_run(c, g, "BTC=-0.1");
    xcr_cascade_summary sm;
    xcr_cascade_summary_get(c, &sm);
    cr_assert_gt(sm.liquidations, 0);
    xcr_cascade_free(c);
    xcr_book_free(g);
    xcr_book_free(b);
}

/* MARK: incremental == full re-evaluation (property) ------------------------------------ */

static uint64_t rs;
static double unif(void)
{
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rs >> 11) * 0x1p-53;
}
static int irand(int n) { return (int)(unif() * n); }



static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* One run on a random book with options and a shock drawn from `k`. */
static xcr_cascade *prop_run(const xcr_book *b, uint64_t k, int full,
                             int threads)
{
    rs = k * 0x9E3779B97F4A7C15ULL + 7;
    xcr_cascade_opts o = opts(b);
    const char *pols[] = {"exchange", "exchange", "aave-v3.0", "aave-v3.3",
                          "aave-v4", "compound-v3"};
    o.policy = pols[irand(6)];
    o.close_factor_rule = unif() < 0.5 ? "aave-v3.0" : "aave-v3.3";
    o.adl = unif() < 0.8;
    o.adl_ranking = unif() < 0.5 ? "pnl_leverage" : "binance";
    o.insurance_fund = unif() < 0.5 ? 0 : 1e3 * pow(10, 4 * unif());
    o.penalty = 0.02 * unif();
    o.target = unif() < 0.3 ? XCR_TARGET_INITIAL : XCR_TARGET_MAINTENANCE;
    if (unif() < 0.3) {
        o.cb_max_move = 0.05 + 0.2 * unif();
        o.cb_halt_rounds = 1 + irand(3);
    }
    o.concentration_haircut = unif() < 0.2;
    /* the exchange buffer and minimum size, from k so the draws above
     * stay as they were (k ≡ 0 mod 4, e.g. the seed-28 case: the old
     * policy, no buffer and no minimum) */
    o.liq_buffer = 0.05 * (double)(k % 4);
    o.min_liq_usd = k % 4 == 0 ? 0 : k % 2 ? 10 : 500;
    o.max_rounds = 12;
    o.trace_accounts = 1;
    o.full_reevaluation = full;
    o.threads = threads;
    xcr_cascade *c = make(b, &o);
    double mv[XT_RB_NA] = {0};
    for (int a = 2; a < XT_RB_NA; a++)
        mv[a] = unif() < 0.8 ? -0.5 * unif() : 0.2 * unif();
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_shock(c, mv, NULL, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_cascade_run(c, &err), XCR_OK, "%s", err.msg);
    check_conservation(c);
    return c;
}

/* Every round, every ledger and every event, bit for bit. */
static void assert_same_run(const xcr_cascade *x, const xcr_cascade *y,
                            size_t na, const char *what, uint64_t seed,
                            uint64_t k)
{
    xcr_cascade_summary s, t;
    xcr_cascade_summary_get(x, &s);
    xcr_cascade_summary_get(y, &t);
    const double ds[] = {s.liquidated_usd, s.bad_debt, s.socialised,
                         s.insurance_start, s.insurance_end,
                         s.insurance_drawdown, s.penalties, s.adl_volume,
                         s.adl_loss, s.liquidator_gains, s.protocol_fees,
                         s.equity_start, s.equity_end,
                         s.max_conservation_error};
    const double dt[] = {t.liquidated_usd, t.bad_debt, t.socialised,
                         t.insurance_start, t.insurance_end,
                         t.insurance_drawdown, t.penalties, t.adl_volume,
                         t.adl_loss, t.liquidator_gains, t.protocol_fees,
                         t.equity_start, t.equity_end,
                         t.max_conservation_error};
    bool same = s.rounds == t.rounds &&
                s.rounds_simulated == t.rounds_simulated &&
                s.converged == t.converged &&
                s.liquidated_accounts == t.liquidated_accounts &&
                s.liquidations == t.liquidations &&
                s.bankruptcies == t.bankruptcies;
    for (size_t q = 0; q < sizeof ds / sizeof ds[0]; q++)
        same = same && same_bits(ds[q], dt[q]);
    cr_assert(same,
              "seed %llu case %llu (%s): summaries differ: liquidations "
              "%zu/%zu, bad debt %.17g/%.17g, equity end %.17g/%.17g",
              (unsigned long long)seed, (unsigned long long)k, what,
              s.liquidations, t.liquidations, s.bad_debt, t.bad_debt,
              s.equity_end, t.equity_end);
    for (size_t a = 0; a < na; a++)
        cr_assert(same_bits(xcr_cascade_price(x, a), xcr_cascade_price(y, a)) &&
                      same_bits(xcr_cascade_bad_debt(x, a),
                                xcr_cascade_bad_debt(y, a)) &&
                      same_bits(xcr_cascade_sold(x, a),
                                xcr_cascade_sold(y, a)),
                  "seed %llu case %llu (%s): asset %zu differs",
                  (unsigned long long)seed, (unsigned long long)k, what, a);
    for (size_t i = 0; i < xcr_cascade_round_count(x); i++) {
        xcr_cascade_round r, u;
        xcr_cascade_round_get(x, i, &r);
        xcr_cascade_round_get(y, i, &u);
        const double dr[] = {r.insurance_fund, r.insurance_draw, r.penalties,
                             r.adl_volume, r.adl_loss, r.bad_debt,
                             r.bad_debt_total, r.socialised,
                             r.liquidator_gains, r.protocol_fees, r.equity,
                             r.mtm, r.conservation_error};
        const double du[] = {u.insurance_fund, u.insurance_draw, u.penalties,
                             u.adl_volume, u.adl_loss, u.bad_debt,
                             u.bad_debt_total, u.socialised,
                             u.liquidator_gains, u.protocol_fees, u.equity,
                             u.mtm, u.conservation_error};
        bool eq = r.round == u.round && r.liquidations == u.liquidations &&
                  r.halted == u.halted && r.deferred == u.deferred &&
                  memcmp(r.prices, u.prices, na * sizeof(double)) == 0 &&
                  memcmp(r.sold, u.sold, na * sizeof(double)) == 0 &&
                  memcmp(r.sold_usd, u.sold_usd, na * sizeof(double)) == 0;
        for (size_t q = 0; q < sizeof dr / sizeof dr[0]; q++)
            eq = eq && same_bits(dr[q], du[q]);
        cr_assert(eq,
                  "seed %llu case %llu (%s): round %zu differs (equity "
                  "%.17g/%.17g, liquidations %zu/%zu)",
                  (unsigned long long)seed, (unsigned long long)k, what,
                  i + 1, r.equity, u.equity, r.liquidations, u.liquidations);
    }
    cr_assert_eq(xcr_cascade_event_count(x), xcr_cascade_event_count(y),
                 "seed %llu case %llu (%s): event counts differ",
                 (unsigned long long)seed, (unsigned long long)k, what);
    for (size_t i = 0; i < xcr_cascade_event_count(x); i++) {
        xcr_cascade_event e, f;
        xcr_cascade_event_get(x, i, &e);
        xcr_cascade_event_get(y, i, &f);
        bool eq = e.round == f.round && e.account == f.account &&
                  e.action == f.action && e.policy == f.policy &&
                  same_bits(e.health_before, f.health_before) &&
                  same_bits(e.equity_before, f.equity_before) &&
                  same_bits(e.equity_after, f.equity_after) &&
                  same_bits(e.fraction, f.fraction) &&
                  same_bits(e.volume_usd, f.volume_usd) &&
                  same_bits(e.shortfall, f.shortfall) &&
                  same_bits(e.insurance_draw, f.insurance_draw) &&
                  same_bits(e.adl, f.adl) && same_bits(e.bad_debt, f.bad_debt);
        cr_assert(eq,
                  "seed %llu case %llu (%s): event %zu differs (account "
                  "%zu/%zu, round %zu)",
                  (unsigned long long)seed, (unsigned long long)k, what, i,
                  e.account, f.account, e.round);
    }
}

/* The skip rule (bound.c) and the refresh of skipped ADL counterparties
 * keep the incremental mode bit-identical to re-evaluating every account
 * every round, on random books of every account mode (cross, isolated,
 * portfolio, lending with e-mode; linear and inverse perps, futures,
 * options) under random policies, safeguards and shocks, at 1 and 3
 * threads.  Regression: seed 28 of test_gpu's book (shock −30/−35/−40 %)
 * once gave 5,358 liquidations in full mode against 5,819 (stale ADL
 * scores of skipped accounts, linear equity updates). */
Test(cascade, incremental_equals_full_reevaluation, .timeout = 120)
{
    uint64_t seed = xt_seed(28);
    size_t liqs = 0, adl = 0, skipped = 0;
    for (uint64_t k = 0; k < 24; k++) {
        char *json = xt_random_book_json(k == 0 ? 1500 : 300, seed + k);
        xcr_book *b = xt_load_book(json);
        free(json);
        size_t na = xcr_book_asset_count(b);
        xcr_cascade *full = prop_run(b, seed + k, 1, 1);
        for (int threads = 1; threads <= 3; threads += 2) {
            xcr_cascade *inc = prop_run(b, seed + k, 0, threads);
            assert_same_run(full, inc, na,
                            threads == 1 ? "incremental, 1 thread"
                                         : "incremental, 3 threads",
                            seed, k);
            skipped += inc->n_skipped;
            xcr_cascade_free(inc);
        }
        xcr_cascade_summary s;
        xcr_cascade_summary_get(full, &s);
        liqs += s.liquidations;
        adl += s.adl_volume > 0;
        xcr_cascade_free(full);
        xcr_book_free(b);
    }
    /* the property is not vacuous: liquidations, ADL and skips happened */
    cr_assert_gt(liqs, 0, "seed %llu: nobody liquidated",
                 (unsigned long long)seed);
    cr_assert_gt(adl, 0, "seed %llu: no ADL", (unsigned long long)seed);
    cr_assert_gt(skipped, 0, "seed %llu: nothing skipped",
                 (unsigned long long)seed);
}

/* opts.gpu without a usable GPU: a clean XCR_ENODEV from xcr_cascade_new
 * (and exit 2 from `xcr cascade --gpu`), never a failure mid-run. */
Test(cascade, gpu_without_device_is_enodev)
{
    char why[160];
    if (xcr_gpu_available(why, sizeof why))
        cr_skip("a GPU is available (%s): nothing to refuse", why);
    xcr_book *b = xt_demo_book(50, 1, 3.0);
    xcr_cascade_opts o = opts(b);
    o.gpu = 1;
    xcr_cascade *c = (xcr_cascade *)1;
    xcr_error err = {0};
    cr_assert_eq(xcr_cascade_new(b, &o, &c, &err), XCR_ENODEV);
    cr_assert_null(c);
    cr_assert(strstr(err.msg, "GPU") != NULL, "%s", err.msg);
    xcr_book_free(b);
    char *out = NULL, *er = NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' cascade --shock BTC=-0.2 --gpu",
             XCR_CLI_PATH);
    int rc = xt_run(cmd, &out, &er);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, er ? er : "");
    cr_assert(out == NULL || out[0] == '\0', "stdout: %s", out);
    free(out);
    free(er);
}
