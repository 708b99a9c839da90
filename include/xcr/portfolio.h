/* xcr public API: portfolio margin, options Greeks and second-order risk
 * (included by xcr.h).
 *
 * Portfolio accounts (mode "portfolio") are margined by a scenario model
 * configured in the book's settings.portfolio (spec §1.2; docs/portfolio.md):
 *  - "risk_matrix" (default): Deribit's risk matrix (margin-models.md §10):
 *    per (settle currency, underlying) pair, every position is fully revalued
 *    on a grid of price moves ±R in buckets_count steps each side × 3 vol
 *    scenarios, plus an extended table of large moves; gains are scaled by
 *    pnl_offset; the worst loss plus roll shock and delta shock is the risk
 *    matrix margin; MM = mm_factor × it, IM = it + extra IM terms.
 *  - "span": CME SPAN risk arrays (margin-models.md §12): 16 scenarios per
 *    underlying, scanning risk, intra-commodity spread charge,
 *    inter-commodity spread credit and short option minimum.
 *
 * Thread safety: every function here only reads the market and book, so any
 * number of threads may call them on a shared market that nobody mutates.
 */
#ifndef XCR_PORTFOLIO_H
#define XCR_PORTFOLIO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MARK: Greeks ------------------------------------------------------------- */

/** Sensitivities of an account's equity to one asset's price (every
 *  instrument mark on the asset moves with it) and to the implied vol of the
 *  options on it.  "Coin" figures are in units of the asset; "_usd" figures
 *  are in USD.  Balances count (holding 1 BTC is a delta of 1 BTC).
 *  - delta: ∂equity/∂S (units of the asset); delta_usd = delta·S.
 *  - gamma: change of delta (units) for a +1 % move = 0.01·S·∂²equity/∂S²;
 *    gamma_usd = gamma·S (the usual "cash gamma per 1 %").
 *  - vega_usd: change of equity for +1 vol point (0.01) on every option on
 *    the asset; vega = vega_usd / S.
 *  - theta_usd: change of equity per calendar day (ACT/365), options only.
 *  - vanna_usd: change of delta_usd for +1 vol point.
 *  - volga_usd: change of vega_usd for +1 vol point. */
typedef struct xcr_underlying_greeks {
    size_t asset;
    double price;
    double delta, delta_usd;
    double gamma, gamma_usd;
    double vega, vega_usd;
    double theta_usd, vanna_usd, volga_usd;
} xcr_underlying_greeks;

/** Greeks of one account per exposed non-stable asset (the assets of
 *  xcr_account_exposed_assets(), in that order).  Writes up to `cap`
 *  entries to `out` (may be NULL when cap is 0) and the number of exposed
 *  assets to *n.  EINVAL on NULL market/n, ENOTFOUND on a bad index. */
XCR_API xcr_status xcr_account_greeks(const xcr_market *m, size_t account,
                                      xcr_underlying_greeks *out, size_t cap,
                                      size_t *n, xcr_error *err);

/** One rung of the second-order risk ladder: the account re-evaluated after
 *  a uniform move of every non-stable asset (like liquidation_shock). */
typedef struct xcr_ladder_point {
    double move;              /* -0.05 = every non-stable price × 0.95      */
    double delta_usd;         /* Σ over assets of delta_usd at that point   */
    double gamma_usd;         /* Σ over assets of gamma_usd at that point   */
    double equity, collateral, initial_margin, maintenance_margin;
    double buffer;            /* collateral − maintenance_margin (USD)      */
    xcr_acct_status status;
} xcr_ladder_point;

/** The default ladder moves: −10 %, −5 %, −1 %, 0, +1 %, +5 %, +10 %. */
#define XCR_LADDER_DEFAULT_COUNT 7
XCR_API const double *xcr_ladder_default_moves(void);

/** Evaluate `n` ladder points (moves in (-1, 9]).  `out` has n entries,
 *  caller-owned.  Shows how gamma eats the buffer before it happens. */
XCR_API xcr_status xcr_risk_ladder(const xcr_market *m, size_t account,
                                   const double *moves, size_t n,
                                   xcr_ladder_point *out, xcr_error *err);

/* MARK: portfolio margin detail ---------------------------------------------- */

typedef enum xcr_pm_model { XCR_PM_RISK_MATRIX = 0, XCR_PM_SPAN } xcr_pm_model;

/** One (settle currency, underlying) pair of the risk matrix.  Amounts are in
 *  units of the currency; vectors are "positive = gain".  risk_vector has
 *  n_risk = (2·buckets_count+1)·3 entries, entry 3·(bucket−1)+j for buckets
 *  1 … 2·buckets_count+1 (move −R … +R) and vol scenario j (0 up,
 *  1 unchanged, 2 down), after pnl_offset; extended has n_extended entries
 *  (the extended moves, vol up), after the fraction, pnl_offset and the
 *  dampener. */
typedef struct xcr_pm_pair {
    size_t currency, underlying;  /* asset indexes */
    double price_range;           /* R of the underlying                    */
    const double *risk_vector;
    const double *extended;
    double worst_case;            /* −min(risk_vector ∪ extended), ≥ 0      */
    int worst_index;              /* index into risk_vector or extended     */
    int worst_extended;           /* 1 when the worst entry is extended     */
    double worst_move;            /* the price move of the worst entry      */
    double roll_shock, delta_shock;
    double delta;                 /* net delta of the pair's positions
                                     (units of the underlying)             */
} xcr_pm_pair;

/** One settle currency (spec §1.2 "portfolio.currencies").  With one
 *  underlying, risk_vector/extended/worst_* are that pair's.  With several,
 *  risk_vector and extended are the entry-wise sums (for reference),
 *  worst_case is the SUM of the pairs' worst cases (no offset between
 *  underlyings) and worst_index/worst_extended are the largest pair's. */
typedef struct xcr_pm_currency {
    size_t asset;
    double price;                 /* USD per unit used for the USD figures  */
    const double *risk_vector;
    const double *extended;
    double worst_case;
    int worst_index, worst_extended;
    double roll_shock, delta_shock;
    double risk_matrix_margin;    /* worst_case + roll_shock + delta_shock  */
    double extra_im;              /* open orders + MMP + spot margin        */
    double initial_margin;        /* risk_matrix_margin + extra_im          */
    double maintenance_margin;    /* mm_factor × risk_matrix_margin         */
    size_t pair_first, n_pairs;   /* into xcr_pm_detail.pairs               */
} xcr_pm_currency;

/** Per position of the account (book order). */
typedef struct xcr_pm_position {
    size_t instrument;
    size_t currency;              /* settle asset                           */
    const double *risk_vector;    /* risk matrix: undampened, pre-offset    */
    const double *extended;       /* risk matrix: after the fraction        */
    double roll_shock;            /* risk matrix, currency units            */
    double span_array[16];        /* SPAN: position × per-contract array,
                                     USD, + = gain (weights applied)        */
    double composite_delta;       /* SPAN: units of the underlying          */
} xcr_pm_position;

/** One SPAN combined commodity (= underlying).  USD. */
typedef struct xcr_span_commodity {
    size_t underlying;
    double risk_array[16];        /* Σ positions, + = gain                  */
    double scanning_risk;         /* max(0, −min(risk_array))               */
    int worst_scenario;           /* 1 … 16                                 */
    double composite_delta;       /* net, units of the underlying           */
    double intra_spread_charge, inter_spread_credit, short_option_minimum;
    double risk;                  /* max(scan + intra − inter, SOM)         */
} xcr_span_commodity;

typedef struct xcr_pm_detail {
    xcr_pm_model model;
    int buckets_count, vol_scenarios_count;
    size_t n_risk, n_extended;
    const double *extended_moves; /* n_extended moves                       */
    double mm_factor;
    int cross_currency_blend;     /* 0: sum of currencies; 1: blend         */
    double decorrelation_risk;
    size_t n_pairs;
    xcr_pm_pair *pairs;
    size_t n_currencies;
    xcr_pm_currency *currencies;
    size_t n_positions;
    xcr_pm_position *positions;
    size_t n_commodities;
    xcr_span_commodity *commodities;
    /* The account's portfolio requirement in USD (borrow margins, which
     * portfolio accounts pay as cross accounts do, are not included). */
    double initial_margin_usd, maintenance_margin_usd;
    double cross_currency_offset_usd; /* ≤ 0: the blend's reduction of the
                                         risk matrix margin                */
    void *storage_;               /* internal                               */
} xcr_pm_detail;

/** The portfolio-margin breakdown of one account, as the evaluator uses it
 *  (a non-portfolio account is evaluated as if it were one).  The book must
 *  have the model: it is built when the book has portfolio accounts or
 *  settings.portfolio (EINVAL otherwise).  *out is allocated; release it
 *  with xcr_pm_detail_free() (NULL does nothing).  ENOMEM, EINVAL,
 *  ENOTFOUND. */
XCR_API xcr_status xcr_portfolio_detail(const xcr_market *m, size_t account,
                                        xcr_pm_detail **out, xcr_error *err);
XCR_API void xcr_pm_detail_free(xcr_pm_detail *d);

/** The price move of entry `index` of a pair's standard risk vector. */
XCR_API double xcr_pm_pair_move(const xcr_pm_detail *d, const xcr_pm_pair *p,
                                int index);

/* MARK: SPAN risk arrays ------------------------------------------------------ */

/** The 16 SPAN scenarios (CME; margin-models.md §12.1), in CME's order:
 *  price move as a multiple of the price scan range, vol move as a multiple
 *  of the volatility scan range, and the weight (1, or `extreme_cover` for
 *  the extreme moves ±`extreme_multiplier`).  Any output may be NULL. */
XCR_API void xcr_span_scenarios(double extreme_multiplier,
                                double extreme_cover, double *price_mult,
                                double *vol_mult, double *weight);

/** Scanning risk of a set of positions: combined[s] = Σ_k qty[k] ·
 *  arrays[16·k + s] (per-contract risk arrays, + = gain, weights already
 *  applied); returns max(0, −min combined) and the 1-based worst scenario
 *  (0 when nothing is at risk).  `combined` (16 entries) and `worst` may be
 *  NULL. */
XCR_API double xcr_span_scan(const double *arrays, const double *qty,
                             size_t n, double *combined, int *worst);

#ifdef __cplusplus
}
#endif

#endif /* XCR_PORTFOLIO_H */
