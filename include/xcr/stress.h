/* xcr public API: stress testing (included by xcr.h).
 *
 * Four pieces (docs/stress.md has the full story):
 *  - scenario definitions: symbolic moves per asset (the built-in library of
 *    historical crash days, user files), resolved against a book into an
 *    xcr_scenarios set: one move, vol shift and liquidity multiplier per book
 *    asset and scenario.  Grids, correlated Monte Carlo (Gaussian and
 *    Student-t copulas) and filtered historical simulation add generated
 *    scenarios to a set.
 *  - xcr_stress_run: full revaluation of every account under every scenario
 *    with the one margin evaluator, on worker threads; bit-identical results
 *    for any thread count.
 *  - risk estimators (VaR / ES) and distribution functions.
 *  - the exposure report (gross / net exposure, concentration, market depth,
 *    recursive-leverage loops).
 *
 * Memory: scenario sets allocate through the book's allocator; results,
 * correlation matrices, histories and exposure reports use libc malloc.
 *
 * Conventions: moves are fractions (-0.2 = the price is multiplied by 0.8);
 * vol shifts are absolute annualised vol points (+0.3 turns 0.6 into 0.9);
 * liquidity multipliers scale an asset's market depth (0.1 = a tenth of the
 * depth); money is USD; a loss is positive.  Every function that can fail
 * returns an xcr_status and fills the optional xcr_error with a located
 * one-line message; nothing here prints.
 */
#ifndef XCR_STRESS_H
#define XCR_STRESS_H

#include "../xcr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MARK: scenario definitions (book-independent) ------------------------------ */

typedef enum xcr_move_kind {
    XCR_MOVE_MARKET = 0, /* a market move of the asset                       */
    XCR_MOVE_DEPEG       /* a depeg or venue event (stablecoin, LST, token)  */
} xcr_move_kind;

/** One asset's move in a scenario definition.  With `base` set, `move` is
 *  relative to the base asset's move: the price becomes
 *  price·(1 + move_base)·(1 + move) (a staked token trading at a discount to
 *  the token it stakes). */
typedef struct xcr_scenario_move {
    const char *symbol;
    double move;          /* fraction, > -1                                  */
    const char *base;     /* NULL, or the asset `move` is relative to        */
    xcr_move_kind kind;
    const char *note;     /* provenance of the number; may be NULL           */
} xcr_scenario_move;

/** A per-asset number (vol shift or liquidity multiplier).  The symbol "*"
 *  stands for every asset not named otherwise (for vol shifts: every
 *  non-stable asset). */
typedef struct xcr_scenario_value {
    const char *symbol;
    double value;
} xcr_scenario_value;

/** How assets that a scenario does not name move (stablecoins excepted: they
 *  stay at their price unless named). */
typedef enum xcr_unlisted_rule {
    XCR_UNLISTED_DEFAULT = 0,  /* whatever the caller's options say         */
    XCR_UNLISTED_CRASH_RATIO,  /* β·move(BTC), β = the median ratio of the
                                  scenario's listed moves to BTC's move (the
                                  "crash-day ratio"); the default           */
    XCR_UNLISTED_REGRESSION,   /* β = ρ(asset, BTC)·σ_asset/σ_BTC from the
                                  book's vols and correlations              */
    XCR_UNLISTED_FIXED,        /* β given                                    */
    XCR_UNLISTED_ZERO          /* unlisted assets do not move                */
} xcr_unlisted_rule;

typedef struct xcr_unlisted {
    xcr_unlisted_rule rule;
    double beta;               /* XCR_UNLISTED_FIXED only                    */
} xcr_unlisted;

/** A symbolic scenario.  All strings are borrowed.  Assets the book does not
 *  hold are ignored when the scenario is resolved against a book. */
typedef struct xcr_scenario_def {
    const char *name;          /* identifier (spec id character set)        */
    const char *title;         /* one line; may be NULL                     */
    const char *date;          /* the event's UTC date(s); may be NULL      */
    const char *variant;       /* e.g. "day high-to-low"; may be NULL       */
    int window_days;           /* length of a multi-day window; 0 = one day */
    const char *source;        /* where the numbers come from; may be NULL  */
    const xcr_scenario_move *moves;
    size_t nmoves;
    const xcr_scenario_value *vol_shifts;
    size_t nvol_shifts;
    const xcr_scenario_value *liquidity;
    size_t nliquidity;
    const char *const *events; /* special events in words                   */
    size_t nevents;
    xcr_unlisted unlisted;     /* DEFAULT = the caller's rule               */
} xcr_scenario_def;

/** The built-in library of historical crash days
 *  (reference: scenarios-and-data.md §1 and §5).  Never NULL for
 *  i < xcr_builtin_scenario_count(); static storage. */
XCR_API size_t xcr_builtin_scenario_count(void);
XCR_API const xcr_scenario_def *xcr_builtin_scenario(size_t i);
/** By name; NULL if there is none. */
XCR_API const xcr_scenario_def *xcr_builtin_scenario_find(const char *name);

/** The asset a wrapped, bridged or staked token follows when a scenario does
 *  not name it ("WBTC" → "BTC", "STETH" → "ETH", "WSTETH" → "STETH",
 *  "BNSOL" → "SOL", ...; case-insensitive); NULL for other symbols. */
XCR_API const char *xcr_asset_base(const char *symbol);

/* MARK: scenario sets (resolved against a book) ------------------------------ */

typedef struct xcr_scenarios xcr_scenarios;

/** Where a resolved move came from. */
typedef enum xcr_move_origin {
    XCR_ORIGIN_NONE = 0,  /* unchanged (a stablecoin, or nothing applies)   */
    XCR_ORIGIN_LISTED,    /* named in the scenario                          */
    XCR_ORIGIN_DEPEG,     /* a depeg / special event of the scenario        */
    XCR_ORIGIN_BASE,      /* follows the asset it wraps or stakes           */
    XCR_ORIGIN_RULE,      /* not named: the unlisted-asset (beta) rule      */
    XCR_ORIGIN_GENERATED  /* grid, Monte Carlo or historical simulation     */
} xcr_move_origin;

/** An empty set over a finalized book (the book must outlive the set). */
XCR_API xcr_status xcr_scenarios_new(const xcr_book *b, xcr_scenarios **out);
XCR_API void xcr_scenarios_free(xcr_scenarios *s);
XCR_API size_t xcr_scenarios_count(const xcr_scenarios *s);

/** Resolve a symbolic scenario against the book and append it.  `rule`
 *  (may be NULL = crash ratio) applies where the definition says DEFAULT. */
XCR_API xcr_status xcr_scenarios_add_def(xcr_scenarios *s,
                                         const xcr_scenario_def *d,
                                         const xcr_unlisted *rule,
                                         xcr_error *err);
/** Append a built-in scenario by name, or every built-in for "all". */
XCR_API xcr_status xcr_scenarios_add_builtin(xcr_scenarios *s,
                                             const char *name,
                                             const xcr_unlisted *rule,
                                             xcr_error *err);
/** Append explicit per-asset arrays (xcr_book_asset_count() entries each;
 *  vol_shifts and liquidity may be NULL). */
XCR_API xcr_status xcr_scenarios_add_moves(xcr_scenarios *s, const char *name,
                                           const double *moves,
                                           const double *vol_shifts,
                                           const double *liquidity,
                                           xcr_error *err);
/** Append the scenarios of a user file: JSON (`{"scenarios": [...]}` or one
 *  scenario object) or CSV (long: scenario,symbol,move[,vol_shift]
 *  [,liquidity][,base]; wide: scenario,SYM1,SYM2,...).  Errors name the
 *  file and the JSON path or CSV line and column.  docs/stress.md has the
 *  format. */
XCR_API xcr_status xcr_scenarios_load_file(xcr_scenarios *s, const char *path,
                                           const xcr_unlisted *rule,
                                           xcr_error *err);
/** Same for in-memory text; `name` is used in messages and picks the form
 *  (a name ending in ".csv" is CSV, anything else JSON). */
XCR_API xcr_status xcr_scenarios_load_text(xcr_scenarios *s, const char *text,
                                           size_t len, const char *name,
                                           const xcr_unlisted *rule,
                                           xcr_error *err);
/** Uniform shocks of every non-stable asset: from, from+step, ... to (both
 *  ends included; step > 0 walks up, step < 0 walks down). */
XCR_API xcr_status xcr_scenarios_add_uniform(xcr_scenarios *s, double from,
                                             double to, double step,
                                             xcr_error *err);
/** A grid from its text form: "FROM:TO:STEP" (uniform shocks of all
 *  non-stable assets, also "uniform:FROM:TO:STEP") or per-asset axes
 *  "BTC=FROM:TO:STEP,ETH=FROM:TO:STEP" (the Cartesian product, row-major,
 *  the last axis fastest; unnamed assets stay put). */
XCR_API xcr_status xcr_scenarios_add_grid(xcr_scenarios *s, const char *spec,
                                          xcr_error *err);
/** Add `shift` to the vol shift of every non-stable asset in every scenario
 *  of the set. */
XCR_API xcr_status xcr_scenarios_shift_vols(xcr_scenarios *s, double shift,
                                            xcr_error *err);

/* Accessors; i < count, asset < xcr_book_asset_count(). */
/** Name of scenario i (owned by the set; "mc-17" for generated ones). */
XCR_API const char *xcr_scenarios_name(const xcr_scenarios *s, size_t i);
XCR_API double xcr_scenarios_move(const xcr_scenarios *s, size_t i,
                                  size_t asset);
XCR_API double xcr_scenarios_vol_shift(const xcr_scenarios *s, size_t i,
                                       size_t asset);
XCR_API double xcr_scenarios_liquidity(const xcr_scenarios *s, size_t i,
                                       size_t asset);
XCR_API xcr_move_origin xcr_scenarios_origin(const xcr_scenarios *s, size_t i,
                                             size_t asset);
/** The β of the unlisted-asset rule used in scenario i for `asset` (NAN when
 *  the asset's move did not come from the rule). */
XCR_API double xcr_scenarios_beta(const xcr_scenarios *s, size_t i,
                                  size_t asset);
/** A sentence stating the unlisted-asset rule applied in scenario i (NULL if
 *  no asset needed it). */
XCR_API const char *xcr_scenarios_rule_text(const xcr_scenarios *s, size_t i);

/* MARK: correlation matrices ------------------------------------------------- */

typedef struct xcr_corr xcr_corr;

/** A correlation matrix over named assets (n×n, row-major, symmetric, unit
 *  diagonal, entries in [-1, 1]); positive definiteness is checked where the
 *  matrix is factored.  `where` (may be NULL) names the source in messages. */
XCR_API xcr_status xcr_corr_new(size_t n, const char *const *symbols,
                                const double *matrix, const char *where,
                                xcr_corr **out, xcr_error *err);
/** Read a matrix file: CSV (header ",SYM1,SYM2,...", one labelled row per
 *  asset) or JSON ({"assets": [...], "matrix": [[...], ...]}, the form of the
 *  book's settings.correlation). */
XCR_API xcr_status xcr_corr_load(const char *path, xcr_corr **out,
                                 xcr_error *err);
/** The book's settings.correlation (ENOTFOUND when the book has none).
 *  `book_name` (may be NULL) prefixes messages: "book.json: $.settings.
 *  correlation.matrix[1][2]: ...". */
XCR_API xcr_status xcr_corr_from_book(const xcr_book *b, const char *book_name,
                                      xcr_corr **out, xcr_error *err);
/** The shipped default: the 2021–2025 daily-return correlations of BTC, ETH,
 *  SOL, BNB and DOGE (scenarios-and-data.md §2). */
XCR_API xcr_status xcr_corr_default(xcr_corr **out);
XCR_API void xcr_corr_free(xcr_corr *c);
XCR_API size_t xcr_corr_size(const xcr_corr *c);
XCR_API const char *xcr_corr_symbol(const xcr_corr *c, size_t i);
XCR_API double xcr_corr_get(const xcr_corr *c, size_t i, size_t j);

/** Cholesky factor L (lower, row-major n×n, zeros above the diagonal) of a
 *  symmetric matrix via LAPACKE dpotrf.  A matrix that is not positive
 *  definite fails with EINVAL and a message naming the order of the first
 *  non-positive leading minor; *bad_index (may be NULL) receives it
 *  (0-based). */
XCR_API xcr_status xcr_cholesky(size_t n, const double *a, double *l,
                                size_t *bad_index, xcr_error *err);
/** The nearest correlation matrix in the Frobenius norm (Higham 2002,
 *  alternating projections with Dykstra's correction), nudged so that its
 *  smallest eigenvalue is at least `min_eig` (e.g. 1e-8) and it can be
 *  factored. */
XCR_API xcr_status xcr_nearest_correlation(size_t n, const double *a,
                                           double min_eig, double *out,
                                           xcr_error *err);

/* MARK: price history ---------------------------------------------------------- */

typedef struct xcr_history xcr_history;

/** Daily closes, aligned by UTC date.  `path` is either a wide CSV (a date
 *  column, then one column of closes per symbol; empty = missing) or a
 *  directory of per-asset candle files "<SYM>USDT_1d.csv" / "<SYM>.csv" with
 *  a date column (timestamp/date/open_time) and a "close" column.  `symbols`
 *  (may be NULL = all) restricts which assets are loaded (case-insensitive).
 *  Errors name the file, line and column. */
XCR_API xcr_status xcr_history_load(const char *path,
                                    const char *const *symbols,
                                    size_t nsymbols, xcr_history **out,
                                    xcr_error *err);
XCR_API void xcr_history_free(xcr_history *h);
XCR_API size_t xcr_history_days(const xcr_history *h);
XCR_API size_t xcr_history_assets(const xcr_history *h);
XCR_API const char *xcr_history_symbol(const xcr_history *h, size_t k);
/** Day t as days since 1970-01-01. */
XCR_API long xcr_history_day(const xcr_history *h, size_t t);
/** Close of asset k on day t; NAN where missing. */
XCR_API double xcr_history_close(const xcr_history *h, size_t t, size_t k);
/** Pearson correlation of daily log returns over the last `window` days
 *  (0 = all), pairwise over the days both assets have (so a gappy history
 *  can give a matrix that is not positive definite).  Pairs with fewer than
 *  30 common returns are an error. */
XCR_API xcr_status xcr_history_corr(const xcr_history *h, size_t window,
                                    xcr_corr **out, xcr_error *err);
/** Annualised volatility (daily log-return stdev·√365) of asset k over the
 *  last `window` days (0 = all). */
XCR_API double xcr_history_vol(const xcr_history *h, size_t k, size_t window);

/* MARK: Monte Carlo and filtered historical simulation ---------------------- */

typedef enum xcr_mc_dist { XCR_MC_NORMAL = 0, XCR_MC_T } xcr_mc_dist;

typedef struct xcr_mc_opts {
    size_t n;              /* scenarios                                      */
    uint64_t seed;
    xcr_mc_dist dist;      /* Gaussian or Student-t copula                   */
    double df;             /* ν of the t copula (> 0; > 2 with t marginals)  */
    int normal_marginals;  /* t copula with normal marginals (default: t
                              marginals scaled to unit variance)            */
    double horizon_days;   /* > 0; vols scale by √(days/365); default 1     */
    const xcr_corr *corr;  /* NULL: the book's settings.correlation, then the
                              shipped default; see docs/stress.md           */
    int repair;            /* replace a matrix that is not positive definite
                              by the nearest correlation matrix             */
    const double *vols;    /* per book asset, annualised; NULL, or a NAN
                              entry, = the book's vol                      */
} xcr_mc_opts;

/** Append `o->n` correlated Monte Carlo scenarios.  Each non-stable asset
 *  with a vol > 0 gets a log return σ·√(h/365)·ε (zero median), ε from the
 *  copula; stablecoins stay put.  Random numbers come from Philox4x32-10
 *  keyed by (seed, scenario, asset), so scenario k is the same whatever the
 *  set size or thread count. */
XCR_API xcr_status xcr_scenarios_add_mc(xcr_scenarios *s,
                                        const xcr_mc_opts *o, xcr_error *err);

typedef struct xcr_fhs_opts {
    size_t n;              /* scenarios                                      */
    uint64_t seed;
    unsigned horizon_days; /* whole days, >= 1 (default 1)                   */
    double lambda;         /* EWMA decay (RiskMetrics 0.94 by default)       */
    size_t window;         /* days of history to use; 0 = all               */
} xcr_fhs_opts;

/** Append `o->n` filtered-historical-simulation scenarios (Barone-Adesi et
 *  al. 1999): EWMA-filtered standardised residuals, resampled by whole days
 *  and rescaled by today's vol, iterated over the horizon. */
XCR_API xcr_status xcr_scenarios_add_fhs(xcr_scenarios *s,
                                         const xcr_history *h,
                                         const xcr_fhs_opts *o,
                                         xcr_error *err);

/* MARK: running a stress test ------------------------------------------------- */

/** Risk levels reported everywhere: 95 %, 99 %, 99.9 %. */
#define XCR_STRESS_LEVELS 3
XCR_API double xcr_stress_level(int k);

typedef struct xcr_stress_opts {
    int threads;               /* <= 0: all cores                           */
    int account_quantiles;     /* per-account VaR/ES (a buffer of up to 256
                                  × scenarios doubles per thread): 1 on,
                                  0 off, -1 automatic (on up to 64 MiB)    */
    int asset_detail;          /* loss and liquidatable collateral by asset
                                  per scenario: 1 on, 0 off, -1 automatic
                                  (on up to 2^21 scenario-assets)           */
    xcr_progress_fn progress;  /* done/total scenario-account evaluations;
                                  called from the calling thread only       */
    void *progress_ctx;
} xcr_stress_opts;

/** Defaults: all cores, automatic detail, no progress. */
XCR_API void xcr_stress_opts_init(xcr_stress_opts *o);

typedef struct xcr_stress_result xcr_stress_result;

/** Evaluate every account of the market's book under every scenario of `s`
 *  (moves applied to the market's current prices, marks and vols).  The
 *  market and the set must outlive the result and stay unchanged. */
XCR_API xcr_status xcr_stress_run(const xcr_market *m, const xcr_scenarios *s,
                                  const xcr_stress_opts *o,
                                  xcr_stress_result **out, xcr_error *err);
XCR_API void xcr_stress_result_free(xcr_stress_result *r);

/** What one scenario does to the whole book.  USD. */
typedef struct xcr_scenario_outcome {
    double loss;                    /* Σ (equity before − equity after)      */
    double shortfall;               /* Σ max(0, −equity after): bad debt     */
    size_t by_status[4];            /* accounts per status after the move   */
    size_t newly_liquidatable;      /* liquidatable or bankrupt after, not
                                       before                               */
    double liquidatable_collateral; /* Σ positive holdings (after) of the
                                       liquidatable and bankrupt accounts   */
    double liquidatable_notional;   /* their position notional + debt        */
} xcr_scenario_outcome;

XCR_API xcr_status xcr_stress_outcome(const xcr_stress_result *r,
                                      size_t scenario,
                                      xcr_scenario_outcome *out);
/** Loss by asset (positive = loss; balances attributed to their asset,
 *  positions to their underlying) and liquidatable collateral by asset for
 *  one scenario: xcr_book_asset_count() entries, or NULL when asset detail
 *  was off. */
XCR_API const double *xcr_stress_loss_by_asset(const xcr_stress_result *r,
                                               size_t scenario);
XCR_API const double *xcr_stress_liq_collateral_by_asset(
    const xcr_stress_result *r, size_t scenario);

typedef enum xcr_stress_metric {
    XCR_METRIC_LOSS = 0,
    XCR_METRIC_SHORTFALL,
    XCR_METRIC_LIQ_COLLATERAL,
    XCR_METRIC_LIQ_ACCOUNTS        /* liquidatable + bankrupt accounts      */
} xcr_stress_metric;

/** A distribution summary; VaR is the ⌈α·n⌉-th order statistic and ES the
 *  Acerbi–Tasche tail mean (scenarios-and-data.md §9). */
typedef struct xcr_risk_stats {
    double mean, stdev, min, max;
    double var[XCR_STRESS_LEVELS], es[XCR_STRESS_LEVELS];
} xcr_risk_stats;

/** Book-wide distribution of a metric across the run's scenarios. */
XCR_API xcr_status xcr_stress_book_stats(const xcr_stress_result *r,
                                         xcr_stress_metric metric,
                                         xcr_risk_stats *out);

/** One account across the run's scenarios. */
typedef struct xcr_account_stress {
    double p_liquidatable;  /* share of scenarios with status liquidatable
                               or bankrupt                                  */
    double p_bankrupt;
    double mean_loss, max_loss, mean_shortfall;
    size_t worst_scenario;  /* scenario of max_loss                         */
    double var[XCR_STRESS_LEVELS], es[XCR_STRESS_LEVELS]; /* NAN when off  */
    /* The account after the scenario (runs of exactly one scenario; NAN /
     * HEALTHY otherwise). */
    double equity_before, equity_after;
    xcr_acct_status status_before, status_after;
} xcr_account_stress;

XCR_API xcr_status xcr_stress_account(const xcr_stress_result *r,
                                      size_t account,
                                      xcr_account_stress *out);

/** How a report lays out its output. */
typedef struct xcr_stress_report_opts {
    xcr_out_format format;
    size_t accounts;   /* per-account rows: (size_t)-1 = all, 0 = none,
                          N = the N most at risk                           */
    int per_account;   /* CSV: one row per account instead of per scenario */
    int lar_curve;     /* the run is a liquidations-at-risk curve          */
    const char *book_name; /* for the table header; may be NULL             */
} xcr_stress_report_opts;

/** Write the `xcr stress` report (spec §5 JSON, CSV or a text table). */
XCR_API xcr_status xcr_stress_report(const xcr_stress_result *r,
                                     const xcr_stress_report_opts *o,
                                     FILE *out, xcr_error *err);

/** Write the built-in library (`xcr scenarios`): format JSON gives
 *  {"scenarios": [{"name", "moves": {...}, ...}]}. */
XCR_API xcr_status xcr_builtin_scenarios_write(xcr_out_format format,
                                               FILE *out, xcr_error *err);

/* MARK: estimators and distributions --------------------------------------------- */

/** Empirical VaR (the ⌈α·n⌉-th smallest loss) and ES (Acerbi–Tasche:
 *  (1/(n(1−α)))·[Σ_{i>k} L_(i) + (k − nα)·L_(k)], k = ⌈nα⌉) of n losses.
 *  `work` (n doubles, may alias `losses`) is reordered. */
XCR_API xcr_status xcr_var_es(const double *losses, size_t n, double alpha,
                              double *work, double *var, double *es);
XCR_API double xcr_norm_cdf(double x);
XCR_API double xcr_norm_quantile(double p);
/** Student t with ν > 0 degrees of freedom. */
XCR_API double xcr_t_cdf(double x, double nu);
XCR_API double xcr_t_quantile(double p, double nu);
/** Parametric VaR and ES of a standard normal / a Student t (unit variance
 *  when `unit_variance`, needs ν > 2) at level α. */
XCR_API void xcr_var_es_normal(double alpha, double *var, double *es);
XCR_API void xcr_var_es_t(double alpha, double nu, int unit_variance,
                          double *var, double *es);

/* MARK: liquidity --------------------------------------------------------------- */

/** Price move (≤ 0, ≥ −1) caused by selling `usd` of an asset through its
 *  liquidity model (spec §1.1) with the depth scaled by `depth_mult`; 0 for
 *  an asset without a model. */
XCR_API double xcr_liquidity_impact(const xcr_book *b, size_t asset,
                                    double usd, double depth_mult);
/** USD that can be sold before the price falls by `move` (< 0); INFINITY
 *  for an asset without a model. */
XCR_API double xcr_liquidity_depth(const xcr_book *b, size_t asset,
                                   double move, double depth_mult);

/* MARK: exposure report -------------------------------------------------------- */

typedef struct xcr_exposure_opts {
    int threads;             /* reserved: the pass is sequential (a few
                                evaluations per account), so the report
                                is deterministic                           */
    size_t top;              /* top-N holders per asset (default 5)          */
    double loop_leverage;    /* flag loops at collateral/(collateral − debt)
                                ≥ this (default 2)                         */
} xcr_exposure_opts;

typedef struct xcr_exposure xcr_exposure;

/** Per-asset exposure. USD. */
typedef struct xcr_asset_exposure {
    double collateral;       /* Σ positive net holdings                      */
    double borrowed;         /* Σ |negative net holdings|                    */
    double delta_long;       /* Σ positive account deltas (∂equity/∂ln P)    */
    double delta_short;      /* Σ negative account deltas (≤ 0)              */
    double gross, net;       /* long − short, long + short                   */
    size_t holders;          /* accounts with a positive holding             */
    double hhi;              /* Σ (holding share)² over holders              */
    double top_share;        /* share of the top-N holders                   */
    double depth_10pct;      /* USD sellable before a 10 % fall              */
    double impact_all;       /* move if all the collateral were sold         */
} xcr_asset_exposure;

/** A recursive-leverage loop: an asset family borrowed and held as
 *  collateral by the same account (or by accounts of one entity). */
typedef struct xcr_loop {
    size_t account;          /* (size_t)-1 for an entity-level loop          */
    const char *entity;      /* NULL unless entity-level or set on account   */
    size_t collateral_asset, debt_asset;
    double collateral, debt; /* USD                                          */
    double leverage;         /* collateral / (collateral − debt)             */
    const char *family;      /* "same asset", "stablecoins", "e-mode 1",
                                "ETH (wrapped/staked)", ...                  */
} xcr_loop;

XCR_API xcr_status xcr_exposure_compute(const xcr_market *m,
                                        const xcr_exposure_opts *o,
                                        xcr_exposure **out, xcr_error *err);
XCR_API void xcr_exposure_free(xcr_exposure *e);
XCR_API xcr_status xcr_exposure_asset(const xcr_exposure *e, size_t asset,
                                      xcr_asset_exposure *out);
XCR_API size_t xcr_exposure_loop_count(const xcr_exposure *e);
XCR_API xcr_status xcr_exposure_loop(const xcr_exposure *e, size_t k,
                                     xcr_loop *out);
/** HHI of the book's collateral across assets. */
XCR_API double xcr_exposure_collateral_hhi(const xcr_exposure *e);
XCR_API xcr_status xcr_exposure_report(const xcr_exposure *e,
                                       xcr_out_format format, FILE *out,
                                       xcr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XCR_STRESS_H */
