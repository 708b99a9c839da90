/* The demo book: a seeded, deterministic, realistic synthetic exchange book
 * (xcr_demo_book in xcr.h), built through the public builder API only.
 *
 * Shape of the book
 *  - 12 assets priced near their levels on 2024-06-17 (illustrative, not a
 *    data snapshot), with progressive collateral tiers, liability weights,
 *    borrow margins, Aave-style lending parameters and one liquidity model
 *    each (linear, sqrt, amm and book all appear);
 *  - linear USDT perps on every non-stable asset except the LST, inverse
 *    (coin-margined) perps on BTC and ETH, dated USDT futures on BTC and ETH
 *    at two expiries, and European options on BTC and ETH (5 strikes × call
 *    and put × 2 expiries each);
 *  - accounts: ~70 % cross, ~15 % isolated, ~15 % lending, heavy-tailed in
 *    size (Pareto, α = 1.3, capped at 500M USD).
 *
 * Health is set on purpose, not left to chance: for every account the
 * generator first draws its positions, then computes (with the same
 * formulas as spec §2, on the same numbers it hands the builder) the
 * margin those positions need, draws a target health from a mix (mostly
 * healthy, a few percent close to liquidation, about 1 % liquidatable, a
 * sliver bankrupt), and solves for the USDT balance (cross), the isolated
 * margin (isolated) or the debt (lending) that produces it.  So the status
 * mix of a demo book is stable across seeds and sizes, which the benchmark
 * and tests rely on.
 *
 * Determinism: every random draw of account i comes from the stream
 * (seed, i) of the counter-based generator in rng.h, so account i depends
 * only on (seed, i, positions_per_account) and the book of N accounts is a
 * prefix of the book of N + 1 accounts.  No floating-point result depends
 * on anything but those draws and the fixed tables below.
 *
 * Speed: no allocation per account here (ids are formatted into stack
 * buffers, positions go to fixed arrays); the builder stages rows in
 * growing arrays.  The function never prints.
 */
#include "../core/core.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* MARK: assets ------------------------------------------------------------- */

enum {
    A_USDT = 0, /* first stable asset: the default settle asset (spec §1)  */
    A_USDC,
    A_BTC,
    A_ETH,
    A_STETH,
    A_SOL,
    A_BNB,
    A_XRP,
    A_DOGE,
    A_ADA,
    A_AVAX,
    A_LINK,
    N_ASSETS
};

/* Collateral tiers (USD value, weight), progressive: margin-models.md §2.1.
 * Stables count in full: Bybit's USDT collateral ratio is 1
 * (margin-models.md §2.4). */
static const xcr_tier_def TIERS_STABLE[] = {{INFINITY, 1.0}};
/* Binance Cross Margin BTC table, margin-models.md §2.2.  Value above the
 * last cap (200M) counts at 0 (the book's rule for a finite last cap). */
static const xcr_tier_def TIERS_BTC[] = {
    {100e6, 1.0}, {120e6, 0.975}, {150e6, 0.95}, {180e6, 0.90}, {200e6, 0.85}};
/* ETH: the BTC table with caps halved (assumption: one liquidity rank
 * below BTC). */
static const xcr_tier_def TIERS_ETH[] = {
    {50e6, 1.0}, {60e6, 0.975}, {75e6, 0.95}, {90e6, 0.90}, {100e6, 0.85}};
/* stETH-like LST: OKX's BETH discount table after the 2024-07 change,
 * margin-models.md §2.3 (0–2M 0.95, 2–4M 0.85, 4–8M 0.5, > 8M 0). */
static const xcr_tier_def TIERS_LST[] = {
    {2e6, 0.95}, {4e6, 0.85}, {8e6, 0.5}, {INFINITY, 0.0}};
/* Large alts: Binance's "Token X" table (margin-models.md §2.2) with caps
 * ×4 (assumption: deeper markets than a generic token). */
static const xcr_tier_def TIERS_ALT1[] = {{2e6, 1.0},  {4e6, 0.9},
                                          {8e6, 0.8},  {16e6, 0.6},
                                          {28e6, 0.3}, {INFINITY, 0.1}};
/* Smaller alts: Binance's "Token X" table as published (§2.2). */
static const xcr_tier_def TIERS_ALT2[] = {{0.5e6, 1.0}, {1e6, 0.9},
                                          {2e6, 0.8},   {4e6, 0.6},
                                          {7e6, 0.3},   {INFINITY, 0.1}};

/* Order-book depth knots (move, cumulative USD sold), the piecewise form of
 * cascades-and-contagion.md §3.7 (knots at 0.5 %, 1 %, 2 %, 5 %, 10 %);
 * depths are illustrative. */
static const double LEVELS_BTC[] = {-0.001, 20e6,  -0.005, 120e6,
                                    -0.01,  250e6, -0.02,  500e6,
                                    -0.05,  1.2e9, -0.10,  2.5e9};
static const double LEVELS_AVAX[] = {-0.005, 3e6,  -0.01, 7e6,  -0.02, 15e6,
                                     -0.05,  40e6, -0.10, 80e6};

typedef struct demo_asset {
    const char *sym;
    double price; /* USD, near the 2024-06-17 level (illustrative)        */
    double vol;   /* annualised                                           */
    int stable;
    const xcr_tier_def *tiers;
    size_t ntiers;
    double lw, bimr, bmmr;
    /* Aave v3 Ethereum parameters (margin-models.md §14.9), lending = 0
     * where the asset is not listed there */
    int lending;
    double ltv, lt, bonus, pfee;
    int emode;
    xcr_liq_model liq;
    double lp[3];
    const double *levels;
    size_t nlevels;
    double recovery;
    double lot_inv;  /* 1 / perp lot size (contracts are whole lots)        */
} demo_asset;

#define NT(t) (t), (sizeof(t) / sizeof((t)[0]))
#define NL(l) (l), (sizeof(l) / sizeof((l)[0]) / 2)

/* Volatilities: BTC, ETH, SOL, BNB, DOGE are the 2021–2025 daily vols of
 * scenarios-and-data.md §2 annualised by √365 (3.07 % → 0.59, 4.14 % →
 * 0.79, 5.96 % → 1.14, 4.28 % → 0.82, 7.39 % → 1.41); XRP, ADA, AVAX, LINK
 * and the LST are assumptions of the same order.
 * Borrow margins (cross-mode loans): Binance margin-loan MMRs by leverage,
 * margin-models.md §3.1 (10× → 5 %, 5× → 8 %, 3× → 10 %), with IMR =
 * 1/leverage.  Liability weights ≥ 1 rise with volatility (assumption).
 * Lending: LTV / LT / bonus / protocol fee of WETH, wstETH, WBTC, USDC, USDT
 * and LINK from the Aave v3 Ethereum snapshot (§14.9); e-mode 1 = ETH
 * correlated (WETH, wstETH), e-mode 2 = stablecoins (the demo's own
 * category; sUSDe-style stable e-modes exist, §14.9).
 * Liquidity: square-root law with Y ≈ 0.5–1 (cascades-and-contagion.md
 * §3.2), constant-product pools whose spot equals the price exactly
 * (spec §1.1: base reserve a power of two, quote = base·price), linear
 * depth and book knots; sizes are illustrative. */
static const demo_asset ASSETS[N_ASSETS] = {
    [A_USDT] = {"USDT", 1.0, 0.01, 1, NT(TIERS_STABLE), 1.0, 0.10, 0.05,
                1, 0.74, 0.76, 0.045, 0.10, 2, XCR_LIQ_LINEAR,
                {10e9, 0, 0}, NULL, 0, 0.0, 100},
    [A_USDC] = {"USDC", 1.0, 0.01, 1, NT(TIERS_STABLE), 1.0, 0.10, 0.05,
                1, 0.77, 0.80, 0.045, 0.20, 2, XCR_LIQ_LINEAR,
                {5e9, 0, 0}, NULL, 0, 0.0, 100},
    [A_BTC] = {"BTC", 66500.0, 0.59, 0, NT(TIERS_BTC), 1.02, 0.20, 0.08,
               1, 0.73, 0.78, 0.05, 0.10, 0, XCR_LIQ_BOOK,
               {0, 0, 0}, NL(LEVELS_BTC), 0.5, 1000},
    [A_ETH] = {"ETH", 3560.0, 0.79, 0, NT(TIERS_ETH), 1.03, 0.20, 0.08,
               1, 0.805, 0.83, 0.05, 0.10, 1, XCR_LIQ_SQRT,
               {15e9, 0.0414, 0.7}, NULL, 0, 0.5, 1000},
    [A_STETH] = {"STETH", 3552.0, 0.80, 0, NT(TIERS_LST), 1.05, 0.20, 0.08,
                 1, 0.785, 0.81, 0.06, 0.10, 1, XCR_LIQ_AMM,
                 /* Curve-sized pool, 4 bp fee */
                 {131072.0, 131072.0 * 3552.0, 0.0004}, NULL, 0, 0.2, 1000},
    [A_SOL] = {"SOL", 146.5, 1.14, 0, NT(TIERS_ALT1), 1.10, 1.0 / 3, 0.10,
               0, 0, 0, 0, 0, 0, XCR_LIQ_SQRT,
               {2.5e9, 0.0596, 0.8}, NULL, 0, 0.4, 100},
    [A_BNB] = {"BNB", 601.0, 0.82, 0, NT(TIERS_ALT1), 1.10, 1.0 / 3, 0.10,
               0, 0, 0, 0, 0, 0, XCR_LIQ_LINEAR,
               {4e8, 0, 0}, NULL, 0, 0.4, 100},
    [A_XRP] = {"XRP", 0.4875, 0.95, 0, NT(TIERS_ALT1), 1.10, 1.0 / 3, 0.10,
               0, 0, 0, 0, 0, 0, XCR_LIQ_LINEAR,
               {2.5e8, 0, 0}, NULL, 0, 0.3, 10},
    [A_DOGE] = {"DOGE", 0.1295, 1.41, 0, NT(TIERS_ALT2), 1.20, 1.0 / 3, 0.10,
                0, 0, 0, 0, 0, 0, XCR_LIQ_SQRT,
                {1.2e9, 0.0739, 0.9}, NULL, 0, 0.3, 1},
    [A_ADA] = {"ADA", 0.3975, 0.95, 0, NT(TIERS_ALT2), 1.20, 1.0 / 3, 0.10,
               0, 0, 0, 0, 0, 0, XCR_LIQ_LINEAR,
               {8e7, 0, 0}, NULL, 0, 0.3, 1},
    [A_AVAX] = {"AVAX", 28.6, 1.10, 0, NT(TIERS_ALT2), 1.20, 1.0 / 3, 0.10,
                0, 0, 0, 0, 0, 0, XCR_LIQ_BOOK,
                {0, 0, 0}, NL(LEVELS_AVAX), 0.3, 10},
    [A_LINK] = {"LINK", 14.55, 1.05, 0, NT(TIERS_ALT2), 1.20, 1.0 / 3, 0.10,
                1, 0.53, 0.68, 0.07, 0.10, 0, XCR_LIQ_AMM,
                /* Uniswap-v2-style pool, 30 bp fee */
                {2097152.0, 2097152.0 * 14.55, 0.003}, NULL, 0, 0.3, 100},
};

/* MARK: margin tables -------------------------------------------------------- */

/* Historic Binance BTCUSDT bracket table (margin-models.md §3.1,
 * test-vectors.md BN-1): caps and MMRs as published; IMR = 2·MMR, which is
 * 1/max-leverage of the same table (125×, 100×, 50×, 20×, 10×, 5×, 4×,
 * 3.33×, 2×, 1×). */
static const double BTC_CAPS[10] = {50e3,  250e3, 1e6,   10e6,  20e6,
                                    50e6,  100e6, 200e6, 300e6, 500e6};
static const double BTC_MMR[10] = {0.004, 0.005, 0.01,  0.025, 0.05,
                                   0.10,  0.125, 0.15,  0.25,  0.50};

enum { MT_BTC = 0, MT_ETH, MT_ALT1, MT_ALT2, MT_INV_BTC, MT_INV_ETH, MT_OPT,
       N_MTABLES };

typedef struct mtable {
    xcr_margin_tier_def t[10];
    double lo[10], cim[10], cmm[10]; /* Binance recursion, as the builder */
    size_t n;
} mtable;

/* The BTCUSDT table scaled: caps × `scale` (smaller markets reach the
 * high brackets sooner) and rates floored at `floor` (a lower maximum
 * leverage).  IMR stays 2·MMR, so IM = 2·MM on every table. */
static void mtable_scaled(mtable *m, double scale, double floor_mmr)
{
    m->n = 10;
    for (size_t k = 0; k < 10; k++) {
        double mmr = BTC_MMR[k] > floor_mmr ? BTC_MMR[k] : floor_mmr;
        m->t[k].notional_max = BTC_CAPS[k] * scale;
        m->t[k].mmr = mmr;
        m->t[k].imr = 2.0 * mmr;
    }
}

/* Maintenance amounts: cum_n = cum_{n-1} + floor_n·(rate_n − rate_{n-1})
 * (margin-models.md §3.1), computed the way the builder computes them. */
static void mtable_finish(mtable *m)
{
    double lo = 0, cim = 0, cmm = 0;
    for (size_t k = 0; k < m->n; k++) {
        if (k > 0) {
            cim += lo * (m->t[k].imr - m->t[k - 1].imr);
            cmm += lo * (m->t[k].mmr - m->t[k - 1].mmr);
        }
        m->lo[k] = lo;
        m->cim[k] = cim;
        m->cmm[k] = cmm;
        lo = m->t[k].notional_max;
    }
}

static void mtable_eval(const mtable *m, double notional, double *im,
                        double *mm)
{
    size_t k = 0;
    while (k + 1 < m->n && notional >= m->t[k].notional_max)
        k++;
    *mm = notional * m->t[k].mmr - m->cmm[k];
    *im = notional * m->t[k].imr - m->cim[k];
}

/* Progressive collateral value of a positive USD value (spec §1). */
static double tiered(const xcr_tier_def *t, size_t n, double v)
{
    double lo = 0, c = 0;
    for (size_t k = 0; k < n; k++) {
        if (v < t[k].upper_usd)
            return c + (v - lo) * t[k].weight;
        c += (t[k].upper_usd - lo) * t[k].weight;
        lo = t[k].upper_usd;
    }
    return c; /* above the last finite cap: that slice counts at 0 */
}

/* MARK: instruments --------------------------------------------------------- */

#define MAX_INSTS 64 /* instruments are drawn without repeats by bitmask */
#define GUIDE_N 256
#define AS_OF "2024-06-17T08:00:00Z"

enum { K_PERP = 0, K_INVERSE, K_FUTURE, K_OPTION };

typedef struct demo_inst {
    char id[40];
    int kind;          /* K_*                                               */
    int und, settle;   /* asset indexes                                     */
    double cs;         /* contract size                                     */
    double mark;       /* the instrument's mark (an option's forward)       */
    const char *expiry;
    double strike, iv;
    int is_call;
    int mt;            /* margin table                                      */
    double lot_inv;    /* 1 / lot size                                      */
    double tick_inv;   /* 1 / price tick of entries                         */
    double max_notional; /* per-position cap, USD                           */
    double unit_value; /* options: value per contract in USD at the mark    */
    double w_cross, w_iso; /* selection weights by account mode            */
} demo_inst;

typedef struct demo_ctx {
    mtable mt[N_MTABLES];
    demo_inst inst[MAX_INSTS];
    size_t n_inst;
    double cum_cross[MAX_INSTS], cum_iso[MAX_INSTS]; /* cumulative weights */
    uint8_t guide_cross[GUIDE_N], guide_iso[GUIDE_N]; /* see draw_instruments */
    size_t n_cross, n_iso; /* instruments eligible per mode               */
    double trading_mean;   /* mean positions of a cross/isolated account    */
} demo_ctx;

static const char *const EXPIRY_ISO[2] = {"2024-06-28T08:00:00Z",
                                          "2024-09-27T08:00:00Z"};
static const char *const EXPIRY_TAG[2] = {"240628", "240927"};
static const char *const EXPIRY_DERIBIT[2] = {"28JUN24", "27SEP24"};

/* 10^k for small k, exact in doubles. */
static double pow10i(int k)
{
    double p = 1;
    for (int i = 0; i < k; i++)
        p *= 10;
    return p;
}

/* Round to a decimal grid: x rounded to `1/inv`, computed as n/inv so that
 * the result is the double nearest the decimal (prints short). */
static double round_to(double x, double inv)
{
    return nearbyint(x * inv) / inv;
}

/* Price tick: 6 significant digits (BTC 0.1, ETH 0.01, DOGE 0.000001). */
static double tick_inv(double price)
{
    int d = 5 - (int)floor(log10(price));
    if (d < 0)
        d = 0;
    if (d > 12)
        d = 12;
    return pow10i(d);
}

/* Annualised basis of dated futures over index (assumption: ~9 %, the
 * level of mid-2024 BTC/ETH term structures). */
#define FUT_BASIS 0.09

static double year_frac(const char *iso)
{
    double as_of = 0, t = 0;
    (void)xcr__parse_iso8601(AS_OF, &as_of);
    (void)xcr__parse_iso8601(iso, &t);
    return (t - as_of) / XCR__SECONDS_PER_YEAR;
}

static demo_inst *new_inst(demo_ctx *c, int kind, int und, int mt)
{
    demo_inst *in = &c->inst[c->n_inst++];
    memset(in, 0, sizeof *in);
    in->kind = kind;
    in->und = und;
    in->settle = A_USDT;
    in->cs = 1.0;
    in->mark = ASSETS[und].price;
    in->mt = mt;
    in->lot_inv = ASSETS[und].lot_inv;
    in->is_call = 1;
    double cap = c->mt[mt].t[c->mt[mt].n - 1].notional_max;
    in->max_notional = 0.4 * cap;
    return in;
}

static void build_instruments(demo_ctx *c)
{
    mtable_scaled(&c->mt[MT_BTC], 1.0, 0.0);     /* as published (§3.1)  */
    mtable_scaled(&c->mt[MT_ETH], 0.5, 0.005);
    mtable_scaled(&c->mt[MT_ALT1], 0.1, 0.01);   /* ≤ 50× (SOL, BNB, XRP) */
    mtable_scaled(&c->mt[MT_ALT2], 0.05, 0.01);  /* smaller alts          */
    mtable_scaled(&c->mt[MT_INV_BTC], 0.5, 0.0); /* COIN-M, notional USD  */
    mtable_scaled(&c->mt[MT_INV_ETH], 0.25, 0.005);
    /* Options: Deribit's older standard margin for a short option, 0.15 of
     * the underlying for IM and 0.075 for MM (margin-models.md §3.4); the
     * "+ mark" part is the option's value, which is already in equity. */
    c->mt[MT_OPT].n = 1;
    c->mt[MT_OPT].t[0] = (xcr_margin_tier_def){INFINITY, 0.15, 0.075};
    for (int k = 0; k < N_MTABLES; k++)
        mtable_finish(&c->mt[k]);

    /* Linear USDT perps, selection weights roughly by open interest. */
    static const struct {
        int a, mt;
        double w;
    } perps[] = {{A_BTC, MT_BTC, 0.22},   {A_ETH, MT_ETH, 0.14},
                 {A_SOL, MT_ALT1, 0.06},  {A_BNB, MT_ALT1, 0.03},
                 {A_XRP, MT_ALT1, 0.03},  {A_DOGE, MT_ALT2, 0.04},
                 {A_ADA, MT_ALT2, 0.02},  {A_AVAX, MT_ALT2, 0.02},
                 {A_LINK, MT_ALT2, 0.02}};
    for (size_t k = 0; k < sizeof perps / sizeof perps[0]; k++) {
        demo_inst *in = new_inst(c, K_PERP, perps[k].a, perps[k].mt);
        snprintf(in->id, sizeof in->id, "%sUSDT", ASSETS[perps[k].a].sym);
        in->w_cross = in->w_iso = perps[k].w;
    }
    /* Inverse (coin-margined) perps: 100 USD contracts settled in the coin
     * (Binance COIN-M style). */
    for (int k = 0; k < 2; k++) {
        int a = k == 0 ? A_BTC : A_ETH;
        demo_inst *in =
            new_inst(c, K_INVERSE, a, k == 0 ? MT_INV_BTC : MT_INV_ETH);
        snprintf(in->id, sizeof in->id, "%sUSD-PERP", ASSETS[a].sym);
        in->settle = a;
        in->cs = 100.0;
        in->lot_inv = 1.0; /* whole contracts */
        in->w_cross = in->w_iso = k == 0 ? 0.04 : 0.03;
    }
    /* Dated linear futures, marked above index by the basis. */
    for (int a = A_BTC; a <= A_ETH; a++)
        for (int e = 0; e < 2; e++) {
            demo_inst *in =
                new_inst(c, K_FUTURE, a, a == A_BTC ? MT_BTC : MT_ETH);
            snprintf(in->id, sizeof in->id, "%sUSDT-%s", ASSETS[a].sym,
                     EXPIRY_TAG[e]);
            in->expiry = EXPIRY_ISO[e];
            double p = ASSETS[a].price;
            in->mark = round_to(p * (1 + FUT_BASIS * year_frac(in->expiry)),
                                tick_inv(p));
            in->w_cross = in->w_iso = 0.02;
        }
    /* Options: Deribit-style ids, forward = the future of the same expiry,
     * a smile iv = base + 0.6·ln(K/F)² + put skew, clamped to [0.45, 0.8]
     * (assumption; mid-2024 BTC/ETH ATM vols were ~0.45–0.65). */
    static const double strikes[2][5] = {
        {55000, 60000, 65000, 70000, 75000}, {3000, 3250, 3500, 3750, 4000}};
    static const double base_iv[2][2] = {{0.48, 0.55}, {0.58, 0.65}};
    for (int u = 0; u < 2; u++) {
        int a = u == 0 ? A_BTC : A_ETH;
        for (int e = 0; e < 2; e++) {
            double p = ASSETS[a].price;
            double fwd = round_to(p * (1 + FUT_BASIS * year_frac(
                                               EXPIRY_ISO[e])),
                                  tick_inv(p));
            double t = year_frac(EXPIRY_ISO[e]);
            for (int s = 0; s < 5; s++)
                for (int cp = 1; cp >= 0; cp--) {
                    demo_inst *in = new_inst(c, K_OPTION, a, MT_OPT);
                    double k = strikes[u][s];
                    snprintf(in->id, sizeof in->id, "%s-%s-%.0f-%c",
                             ASSETS[a].sym, EXPIRY_DERIBIT[e], k,
                             cp ? 'C' : 'P');
                    in->expiry = EXPIRY_ISO[e];
                    in->strike = k;
                    in->is_call = cp;
                    in->mark = fwd;
                    double m = log(k / fwd);
                    double iv = base_iv[u][e] + 0.6 * m * m +
                                (m < 0 ? -0.25 * m : 0.0);
                    iv = iv < 0.45 ? 0.45 : iv > 0.8 ? 0.8 : iv;
                    in->iv = round_to(iv, 1e4);
                    in->lot_inv = 100; /* 0.01 contracts */
                    in->max_notional = u == 0 ? 20e6 : 10e6;
                    xcr_greeks g;
                    xcr_black76(cp, fwd, k, t, in->iv, &g);
                    in->unit_value = in->cs * g.value;
                    in->w_cross = u == 0 ? 0.007 : 0.0065;
                    in->w_iso = 0; /* isolated accounts trade delta-one */
                }
        }
    }
    double cc = 0, ci = 0;
    c->n_cross = c->n_iso = 0;
    for (size_t k = 0; k < c->n_inst; k++) {
        cc += c->inst[k].w_cross;
        ci += c->inst[k].w_iso;
        c->cum_cross[k] = cc;
        c->cum_iso[k] = ci;
        c->inst[k].tick_inv = tick_inv(c->inst[k].mark);
        c->n_cross += c->inst[k].w_cross > 0;
        c->n_iso += c->inst[k].w_iso > 0;
    }
    /* guide[g] = first j with cum[j] > g/GUIDE_N · total: a draw u in
     * [g/GUIDE_N, (g+1)/GUIDE_N) lands at or after it */
    for (size_t g = 0; g < GUIDE_N; g++) {
        double fc = (double)g / GUIDE_N * cc, fi = (double)g / GUIDE_N * ci;
        uint8_t jc = 0, ji = 0;
        while (jc + 1u < c->n_inst && c->cum_cross[jc] <= fc)
            jc++;
        while (ji + 1u < c->n_inst && c->cum_iso[ji] <= fi)
            ji++;
        c->guide_cross[g] = jc;
        c->guide_iso[g] = ji;
    }
}

/* MARK: builder calls --------------------------------------------------------- */

#define TRY(x)                                                                 \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

static xcr_status add_assets(xcr_book *b, xcr_error *err)
{
    for (int k = 0; k < N_ASSETS; k++) {
        const demo_asset *s = &ASSETS[k];
        xcr_asset_def d;
        xcr_asset_def_init(&d);
        d.symbol = s->sym;
        d.price = s->price;
        d.vol = s->vol;
        d.stable = s->stable;
        d.tiers = s->tiers;
        d.ntiers = s->ntiers;
        d.liability_weight = s->lw;
        d.borrow_imr = s->bimr;
        d.borrow_mmr = s->bmmr;
        d.has_lending = s->lending;
        d.ltv = s->ltv;
        d.liquidation_threshold = s->lt;
        d.liquidation_bonus = s->bonus;
        d.protocol_fee = s->pfee;
        d.emode_category = s->emode;
        d.liquidity.model = s->liq;
        memcpy(d.liquidity.p, s->lp, sizeof d.liquidity.p);
        d.liquidity.levels = s->levels;
        d.liquidity.nlevels = s->nlevels;
        d.liquidity.recovery = s->recovery;
        TRY(xcr_book_add_asset(b, &d, NULL, err));
    }
    return XCR_OK;
}

static xcr_status add_instruments(xcr_book *b, const demo_ctx *c,
                                  xcr_error *err)
{
    for (size_t k = 0; k < c->n_inst; k++) {
        const demo_inst *s = &c->inst[k];
        xcr_instrument_def d;
        xcr_instrument_def_init(&d);
        d.id = s->id;
        d.type = s->kind == K_OPTION   ? XCR_OPTION
                 : s->kind == K_FUTURE ? XCR_FUTURE
                                       : XCR_PERP;
        d.underlying = ASSETS[s->und].sym;
        d.settle = ASSETS[s->settle].sym;
        d.inverse = s->kind == K_INVERSE;
        d.contract_size = s->cs;
        d.mark_price = s->mark;
        d.expiry = s->expiry;
        d.strike = s->strike;
        d.is_call = s->is_call;
        d.iv = s->iv;
        d.tiers = c->mt[s->mt].t;
        d.ntiers = c->mt[s->mt].n;
        TRY(xcr_book_add_instrument(b, &d, NULL, err));
    }
    return XCR_OK;
}

static xcr_status add_settings(xcr_book *b, size_t accounts, xcr_error *err)
{
    /* E-mode 1: Aave's "ETH correlated" category, LTV 90 %, LT 93 %, LB 1 %
     * (margin-models.md §14.9); e-mode 2: stablecoins, 93 / 95 / 1 %. */
    TRY(xcr_book_set_setting(
        b, "emode_categories",
        "[{\"id\":1,\"ltv\":0.9,\"liquidation_threshold\":0.93,"
        "\"liquidation_bonus\":0.01},"
        "{\"id\":2,\"ltv\":0.93,\"liquidation_threshold\":0.95,"
        "\"liquidation_bonus\":0.01}]",
        NULL, err));
    /* The cascade defaults of spec §1.3; the insurance fund scales with
     * the book (1,000 USD per account: 1M for the default 1,000). */
    char liq[512];
    snprintf(liq, sizeof liq,
             "{\"policy\":\"exchange\",\"target\":\"maintenance\","
             "\"penalty\":0.01,\"insurance_fund\":%.0f,\"adl\":true,"
             "\"adl_ranking\":\"pnl_leverage\","
             "\"close_factor_rule\":\"aave-v3.3\","
             "\"target_health_factor\":1.05,"
             "\"circuit_breaker\":{\"max_move\":0.1,\"halt_rounds\":2},"
             "\"max_rounds\":100}",
             1000.0 * (double)accounts);
    TRY(xcr_book_set_setting(b, "liquidation", liq, NULL, err));
    return XCR_OK;
}

/* MARK: accounts ----------------------------------------------------------------- */

/* Mode shares (brief: ~70 % cross, ~15 % isolated, ~15 % lending). */
#define P_CROSS 0.70
#define P_ISOLATED 0.15
#define P_TRADING (P_CROSS + P_ISOLATED)

/* Account size: Pareto(xm, α) gross notional (cross, isolated) or
 * collateral (lending) in USD.  α = 1.3 gives the heavy tail of exchange
 * books; the cap keeps the largest account sane. */
#define SIZE_XM 1000.0
#define SIZE_ALPHA 1.3
#define SIZE_CAP 500e6

/* Health classes, drawn per account.  Cross and isolated target
 * h = collateral / maintenance margin; every table has IM = 2·MM, so
 * h < 1 is liquidatable, 1 ≤ h < 2 margin_call, h ≥ 2 healthy. */
enum { H_HEALTHY = 0, H_NEAR, H_CALL, H_LIQ, H_BANKRUPT };

static int draw_health(xcr__rng *r, int allow_bankrupt)
{
    double u = xcr__rng_uniform(r);
    if (allow_bankrupt && u < 0.001)
        return H_BANKRUPT; /* 0.1 %: underwater, equity < 0              */
    if (u < 0.010)
        return H_LIQ;      /* ~0.9 %: collateral below MM                 */
    if (u < 0.040)
        return H_NEAR;     /* 3 %: health 1.02–1.3, close to liquidation */
    if (u < 0.050)
        return H_CALL;     /* 1 %: between MM and IM                      */
    return H_HEALTHY;
}

typedef struct pos_row {
    uint32_t inst;
    double size, entry, iso;
} pos_row;

typedef struct pos_eval {
    double notional, upnl_usd, contrib; /* contrib: settle units            */
    double im, mm;
} pos_eval;

/* Spec §1/§2 for one position at the book's own prices. */
static void eval_pos(const demo_ctx *c, const pos_row *p, pos_eval *e)
{
    const demo_inst *in = &c->inst[p->inst];
    const double sp = ASSETS[in->settle].price;
    if (in->kind == K_OPTION) {
        e->upnl_usd = p->size * in->unit_value;
        e->contrib = e->upnl_usd / sp;
    } else if (in->kind == K_INVERSE) {
        e->contrib = p->size * in->cs * (1.0 / p->entry - 1.0 / in->mark);
        e->upnl_usd = e->contrib * sp;
    } else {
        e->upnl_usd = p->size * in->cs * (in->mark - p->entry);
        e->contrib = e->upnl_usd / sp;
    }
    e->notional = in->kind == K_INVERSE ? fabs(p->size) * in->cs
                                        : fabs(p->size) * in->cs * in->mark;
    e->im = e->mm = 0;
    if (in->kind != K_OPTION || p->size < 0)
        mtable_eval(&c->mt[in->mt], e->notional, &e->im, &e->mm);
}

/* Draw `n` distinct instruments by weight (cum: cumulative weights). */
static size_t draw_instruments(xcr__rng *r, const demo_ctx *c,
                               const double *cum, const uint8_t *guide,
                               size_t eligible, size_t n, uint32_t *out)
{
    uint64_t used = 0;
    if (n > eligible)
        n = eligible;
    double total = cum[c->n_inst - 1];
    for (size_t k = 0; k < n; k++) {
        uint32_t pick = UINT32_MAX;
        for (int tries = 0; tries < 16 && pick == UINT32_MAX; tries++) {
            /* first j with cum[j] > x: start from the guide table's
             * bucket (Chen & Asau's guide-table method), ~1 step */
            double u = xcr__rng_uniform(r);
            double x = u * total;
            uint32_t j = guide[(size_t)(u * GUIDE_N)];
            while (j + 1 < c->n_inst && cum[j] <= x)
                j++;
            /* rounding can only land past the end: step back onto an
             * entry that has weight */
            while (j > 0 && cum[j] == cum[j - 1])
                j--;
            if (!(used >> j & 1))
                pick = j;
        }
        if (pick == UINT32_MAX) /* crowded: first free eligible one */
            for (uint32_t j = 0; j < c->n_inst; j++) {
                double w = cum[j] - (j ? cum[j - 1] : 0.0);
                if (w > 0 && !(used >> j & 1)) {
                    pick = j;
                    break;
                }
            }
        used |= 1ULL << pick;
        out[k] = pick;
    }
    return n;
}

/* Draw the positions of a trading account: sizes split the account's gross
 * notional by exponential weights; entries within ±10 % of the mark.
 * Positions named adverse (all of them, or the one numbered adverse_one)
 * get entries on the losing side of the mark: accounts near liquidation
 * are, realistically, the ones whose positions went against them. */
static size_t draw_positions(xcr__rng *r, const demo_ctx *c, int isolated,
                             double gross, int adverse_all,
                             size_t adverse_one, pos_row *pos)
{
    double lam = c->trading_mean;
    size_t n = lam >= 1 ? 1 + xcr__rng_poisson(r, lam - 1)
                        : xcr__rng_poisson(r, lam);
    uint32_t ids[MAX_INSTS];
    n = draw_instruments(r, c, isolated ? c->cum_iso : c->cum_cross,
                         isolated ? c->guide_iso : c->guide_cross,
                         isolated ? c->n_iso : c->n_cross, n, ids);
    double w[MAX_INSTS], wsum = 0;
    for (size_t k = 0; k < n; k++) {
        w[k] = xcr__rng_exp(r);
        wsum += w[k];
    }
    for (size_t k = 0; k < n; k++) {
        const demo_inst *in = &c->inst[ids[k]];
        double notional = gross * w[k] / wsum;
        if (notional > in->max_notional)
            notional = in->max_notional;
        double units = in->kind == K_INVERSE ? notional / in->cs
                                             : notional / (in->cs * in->mark);
        double lots = nearbyint(units * in->lot_inv);
        if (lots < 1)
            lots = 1;
        double size = lots / in->lot_inv;
        pos_row *p = &pos[k];
        p->inst = ids[k];
        p->iso = 0;
        if (in->kind == K_OPTION) {
            /* half written (short), half bought; entry = premium paid or
             * received per contract, already reflected in the balances */
            if (xcr__rng_uniform(r) < 0.5)
                size = -size;
            p->entry = round_to(in->unit_value *
                                    (1 + xcr__rng_range(r, -0.1, 0.1)),
                                100);
        } else {
            if (xcr__rng_uniform(r) >= 0.55) /* slightly more longs */
                size = -size;
            double dev = 0.035 * xcr__rng_normal(r);
            dev = dev < -0.1 ? -0.1 : dev > 0.1 ? 0.1 : dev;
            if (adverse_all || k == adverse_one) /* long above, short below */
                dev = size > 0 ? fabs(dev) : -fabs(dev);
            p->entry = round_to(in->mark * (1 + dev), in->tick_inv);
        }
        p->size = size;
    }
    return n;
}

/* Entity tags for contagion (spec §1 ACCOUNT.entity). */
static const char *draw_entity(xcr__rng *r, xcr_mode mode)
{
    double u = xcr__rng_uniform(r);
    if (mode == XCR_MODE_LENDING)
        return u < 0.30 ? "lender-C" : NULL;
    return u < 0.10 ? "venue-A" : u < 0.20 ? "venue-B" : NULL;
}

typedef struct acct_out {
    const char *sym[N_ASSETS];
    double amt[N_ASSETS];
    size_t nbal;
    pos_row pos[MAX_INSTS];
    size_t npos;
} acct_out;

static void put_bal(acct_out *o, int a, double amount)
{
    o->sym[o->nbal] = ASSETS[a].sym;
    o->amt[o->nbal] = amount;
    o->nbal++;
}

/* Coin amounts to 1e-8 (satoshi-style), stables to 1e-6 (USDT's and
 * USDC's on-chain decimals): fine enough that rounding never moves an
 * account across a status boundary, even one with a tiny margin. */
static double round_amount(int a, double x)
{
    return round_to(x, ASSETS[a].stable ? 1e6 : 1e8);
}

static void gen_cross(xcr__rng *r, const demo_ctx *c, double gross,
                      acct_out *o)
{
    int h = draw_health(r, 1);
    o->npos = draw_positions(r, c, 0, gross, h != H_HEALTHY, SIZE_MAX,
                             o->pos);
    double net[N_ASSETS] = {0};
    double mm0 = 0, im0 = 0, margined = 0;
    for (size_t k = 0; k < o->npos; k++) {
        pos_eval e;
        eval_pos(c, &o->pos[k], &e);
        net[c->inst[o->pos[k].inst].settle] += e.contrib;
        mm0 += e.mm;
        im0 += e.im;
        if (e.mm > 0)
            margined += e.notional;
    }
    if (mm0 == 0)
        h = H_HEALTHY; /* nothing to margin: long options or no positions */

    /* Provisional target collateral, to size the coin collateral. */
    double t0 = mm0 > 0 ? 3.0 * mm0 : gross * xcr__rng_range(r, 0.1, 0.5);
    double bal[N_ASSETS] = {0};
    bool has[N_ASSETS] = {false};
    if (h != H_BANKRUPT) {
        static const struct {
            int a;
            double p;
        } coll[] = {{A_BTC, 0.30}, {A_ETH, 0.20}, {A_USDC, 0.10}};
        for (size_t k = 0; k < 3; k++)
            if (xcr__rng_uniform(r) < coll[k].p) {
                int a = coll[k].a;
                bal[a] = round_amount(
                    a, xcr__rng_range(r, 0.1, 0.6) * t0 / ASSETS[a].price);
                has[a] = bal[a] != 0;
            }
    }
    /* Collateral, margin and equity of everything except USDT (spec §2). */
    double c_other = 0, eq_other = 0, mm1 = mm0, im1 = im0;
    for (int a = 0; a < N_ASSETS; a++) {
        if (a == A_USDT)
            continue;
        double v = (bal[a] + net[a]) * ASSETS[a].price;
        eq_other += v;
        if (v > 0) {
            c_other += tiered(ASSETS[a].tiers, ASSETS[a].ntiers, v);
        } else if (v < 0) {
            c_other += v * ASSETS[a].lw;
            mm1 -= v * ASSETS[a].bmmr;
            im1 -= v * ASSETS[a].bimr;
        }
    }
    const demo_asset *u = &ASSETS[A_USDT];
    double unet; /* USDT net amount (balance + PnL and option values)    */
    if (h == H_BANKRUPT) {
        /* equity = eq_other + unet < 0 */
        unet = -mm1 * xcr__rng_range(r, 0.05, 0.5) - eq_other;
    } else if (mm1 == 0) {
        unet = t0 - c_other;
        if (unet < 0)
            unet = 0;
    } else {
        double hv;
        switch (h) {
        case H_LIQ:
            hv = xcr__rng_range(r, 0.5, 0.97);
            break;
        case H_NEAR:
            hv = xcr__rng_range(r, 1.02, 1.3);
            break;
        case H_CALL:
            hv = xcr__rng_range(r, 1.3, 1.9);
            break;
        default: {
            /* Effective leverage (margined notional / collateral),
             * lognormal with median 6× (assumption), but never beyond what
             * IM allows: at least 1.05–1.3 × IM.  IM/MM is 2 on positions
             * and up to 2.5 on coin borrows, so this is healthy. */
            double lev = xcr__rng_lognormal(r, log(6.0), 0.9);
            double floor_h = (im1 / mm1) * xcr__rng_range(r, 1.05, 1.3);
            hv = margined / lev / mm1;
            if (hv < floor_h)
                hv = floor_h;
            break;
        }
        }
        /* collateral = hv · MM, including a USDT borrow if the other
         * assets already exceed the target (spec §2 cross) */
        unet = hv * mm1 - c_other;
        if (unet < 0)
            unet = (hv * mm1 - c_other) / (u->lw + hv * u->bmmr);
    }
    double ub = round_amount(A_USDT, unet - net[A_USDT]);
    if (h == H_HEALTHY && ub < 0)
        ub = 0; /* more cash is only healthier; keep wallets non-negative */
    put_bal(o, A_USDT, ub);
    for (int a = 0; a < N_ASSETS; a++)
        if (has[a])
            put_bal(o, a, bal[a]);
}

static void gen_isolated(xcr__rng *r, const demo_ctx *c, double gross,
                         acct_out *o)
{
    int h = draw_health(r, 0);
    /* the distressed position of a distressed account: any of the first
     * ones drawn (an account has at least one when the mean is ≥ 1) */
    size_t bad = h == H_HEALTHY ? SIZE_MAX : 0;
    o->npos = draw_positions(r, c, 1, gross, 0, bad, o->pos);
    /* leverage menu of a retail perp venue, weighted toward 5–20× */
    static const double lev[] = {2, 3, 5, 5, 10, 10, 10, 20, 20, 25, 50, 75,
                                 100, 125};
    for (size_t k = 0; k < o->npos; k++) {
        pos_row *p = &o->pos[k];
        pos_eval e;
        eval_pos(c, p, &e);
        double pm; /* target position margin = isolated_margin + PnL */
        if (k == bad) {
            double hv = h == H_LIQ    ? xcr__rng_range(r, 0.5, 0.97)
                        : h == H_NEAR ? xcr__rng_range(r, 1.02, 1.3)
                                      : xcr__rng_range(r, 1.3, 1.9);
            pm = hv * e.mm;
        } else {
            double L = lev[xcr__rng_below(r, sizeof lev / sizeof lev[0])];
            pm = e.notional / L;
            if (pm < 1.05 * e.im) /* beyond the bracket's max leverage */
                pm = e.im * (1.05 + 0.5 * xcr__rng_uniform(r));
        }
        double iso = pm - e.upnl_usd;
        if (iso < 0) {
            if (k == bad) {
                /* a fresh position: entry at the mark, no PnL yet */
                p->entry = c->inst[p->inst].mark;
                iso = pm;
            } else {
                /* in profit beyond the target: a small margin is
                 * healthier still */
                iso = pm * xcr__rng_range(r, 0.05, 0.3);
            }
        }
        p->iso = round_amount(A_USDT, iso);
    }
    /* free wallet cash beside the isolated margins */
    put_bal(o, A_USDT,
            round_amount(A_USDT, gross * xcr__rng_range(r, 0.0, 0.3)));
}

/* Lending: value-weighted collateral, one debt asset, Aave's HF and borrow
 * capacity with the account's e-mode (spec §2 lending, margin-models.md
 * §14.2). */
static void gen_lending(xcr__rng *r, double size, int *emode, acct_out *o)
{
    int coll[3], ncoll = 0, debt;
    double u = xcr__rng_uniform(r);
    if (u < 0.25) { /* ETH loop: stETH collateral, ETH debt, e-mode 1 */
        *emode = 1;
        coll[ncoll++] = A_STETH;
        if (xcr__rng_uniform(r) < 0.3)
            coll[ncoll++] = A_BTC;
        debt = A_ETH;
    } else if (u < 0.40) { /* stablecoin carry: USDC → USDT, e-mode 2 */
        *emode = 2;
        coll[ncoll++] = A_USDC;
        debt = A_USDT;
    } else {
        *emode = 0;
        static const int pool[] = {A_ETH, A_BTC, A_STETH, A_LINK, A_USDC};
        int n = 1 + (int)xcr__rng_below(r, 3);
        uint32_t used = 0;
        for (int k = 0; k < n; k++) {
            uint32_t j = xcr__rng_below(r, 5);
            if (used >> j & 1)
                continue;
            used |= 1u << j;
            coll[ncoll++] = pool[j];
        }
        /* borrow a stable (mostly) or ETH, never an asset held */
        double v = xcr__rng_uniform(r);
        debt = v < 0.55 ? A_USDT : v < 0.85 ? A_USDC : A_ETH;
        for (int k = 0; k < ncoll; k++)
            if (coll[k] == debt)
                debt = debt == A_USDT ? A_USDC : A_USDT;
        for (int k = 0; k < ncoll; k++)
            if (coll[k] == debt)
                debt = A_USDT; /* USDC was held: USDT is not */
    }
    double w[3], ws = 0;
    for (int k = 0; k < ncoll; k++) {
        w[k] = 0.2 + xcr__rng_uniform(r);
        ws += w[k];
    }
    double c_lt = 0, c_ltv = 0;
    static const xcr_emode_def EM[3] = {
        {0, 0, 0, 0}, {1, 0.9, 0.93, 0.01}, {2, 0.93, 0.95, 0.01}};
    for (int k = 0; k < ncoll; k++) {
        int a = coll[k];
        double amt = round_amount(a, size * w[k] / ws / ASSETS[a].price);
        if (amt <= 0)
            amt = ASSETS[a].stable ? 1e-6 : 1e-8;
        put_bal(o, a, amt);
        double v = amt * ASSETS[a].price;
        bool em = *emode && ASSETS[a].emode == *emode;
        c_lt += v * (em ? EM[*emode].liquidation_threshold : ASSETS[a].lt);
        c_ltv += v * (em ? EM[*emode].ltv : ASSETS[a].ltv);
    }
    double hu = xcr__rng_uniform(r);
    if (hu < 0.10)
        return; /* a pure supplier: no debt, health factor infinite */
    double d; /* debt value, USD */
    int h = draw_health(r, 0);
    switch (h) {
    case H_LIQ: /* HF < 1; HF > max LT keeps debt below collateral */
        d = c_lt / xcr__rng_range(r, 0.96, 0.995);
        break;
    case H_NEAR: /* HF 1.005–1.3: margin_call below LT/LTV, else healthy */
    case H_CALL:
        d = c_lt / xcr__rng_range(r, 1.005, 1.3);
        break;
    default: /* within the borrow capacity, median HF ≈ 1.5 (LT/LTV·m) */
        d = c_ltv / (1.02 + xcr__rng_lognormal(r, log(0.4), 0.7));
        break;
    }
    double amt = round_amount(debt, d / ASSETS[debt].price);
    if (amt > 0)
        put_bal(o, debt, -amt);
}

/* MARK: entry point ----------------------------------------------------------------- */

static xcr_status build(xcr_book *b, const xcr_demo_opts *o, xcr_error *err)
{
    demo_ctx ctx, *c = &ctx;
    memset(c, 0, sizeof *c);
    build_instruments(c);
    /* positions_per_account is the book-wide mean; lending accounts hold
     * none, so trading accounts carry mean / P_TRADING. */
    c->trading_mean = o->positions_per_account / P_TRADING;

    TRY(xcr_book_set_as_of(b, AS_OF, NULL, err));
    TRY(add_assets(b, err));
    TRY(add_instruments(b, c, err));
    TRY(add_settings(b, o->accounts, err));

    acct_out out;
    for (size_t i = 0; i < o->accounts; i++) {
        xcr__rng r = xcr__rng_stream(o->seed, (uint64_t)i);
        char id[32];
        snprintf(id, sizeof id, "acct-%06zu", i + 1);
        double u = xcr__rng_uniform(&r);
        xcr_mode mode = u < P_CROSS      ? XCR_MODE_CROSS
                        : u < P_TRADING ? XCR_MODE_ISOLATED
                                        : XCR_MODE_LENDING;
        const char *entity = draw_entity(&r, mode);
        double size = xcr__rng_pareto(&r, SIZE_XM, SIZE_ALPHA);
        if (size > SIZE_CAP)
            size = SIZE_CAP;
        out.nbal = 0;
        out.npos = 0;
        int emode = 0;
        if (mode == XCR_MODE_CROSS)
            gen_cross(&r, c, size, &out);
        else if (mode == XCR_MODE_ISOLATED)
            gen_isolated(&r, c, size, &out);
        else
            gen_lending(&r, size, &emode, &out);

        xcr_account_def ad = {id, mode, emode, entity};
        TRY(xcr_book_add_account(b, &ad, NULL, err));
        for (size_t k = 0; k < out.nbal; k++)
            TRY(xcr_book_add_balance(b, id, out.sym[k], out.amt[k], NULL,
                                     err));
        for (size_t k = 0; k < out.npos; k++) {
            const pos_row *p = &out.pos[k];
            TRY(xcr_book_add_position(b, id, c->inst[p->inst].id, p->size,
                                      p->entry, p->iso, NULL, err));
        }
    }
    return xcr_book_finalize(b, err);
}

xcr_status xcr_demo_book(const xcr_demo_opts *o, const xcr_allocator *alloc,
                         xcr_book **out, xcr_error *err)
{
    if (!out)
        return xcr__fail(err, XCR_EINVAL, "xcr_demo_book: out is NULL");
    *out = NULL;
    /* Zero fields take the defaults documented in xcr.h. */
    xcr_demo_opts opt = {1000, 1, 3.0};
    if (o) {
        if (o->accounts)
            opt.accounts = o->accounts;
        if (o->seed)
            opt.seed = o->seed;
        if (o->positions_per_account != 0)
            opt.positions_per_account = o->positions_per_account;
    }
    if (!isfinite(opt.positions_per_account) ||
        opt.positions_per_account < 0 ||
        opt.positions_per_account > (double)MAX_INSTS)
        return xcr__fail(err, XCR_EINVAL,
                         "demo: positions per account must be in [0, %d] "
                         "(got %g)",
                         MAX_INSTS, opt.positions_per_account);
    if (opt.accounts > 99999999u)
        return xcr__fail(err, XCR_EINVAL,
                         "demo: at most 99,999,999 accounts (got %zu)",
                         opt.accounts);
    xcr_book *b = NULL;
    if (xcr_book_new(alloc, &b) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr_status s = build(b, &opt, err);
    if (s != XCR_OK) {
        xcr_book_free(b);
        return s;
    }
    *out = b;
    return XCR_OK;
}
