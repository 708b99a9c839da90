/* xcr public API: liquidation cascades (included by xcr.h; docs/cascade.md).
 *
 * A round-based, deterministic simulator of forced selling.  A cascade owns
 * everything that changes while it runs (holdings after liquidations,
 * prices, the state of every asset's liquidity model, the insurance fund and
 * the ledgers); the book stays immutable.  Each round:
 *   1. every account whose health may have changed is re-evaluated with the
 *      one margin evaluator at the round's start prices;
 *   2. every liquidatable account is liquidated under its policy at those
 *      prices (exchange partial / full takeover, Aave v3.0 / v3.3 / v4,
 *      Compound v3 absorb), losses go through the waterfall (insurance fund
 *      → auto-deleveraging → socialised) or the lending deficit ledger;
 *   3. the collateral sold and positions closed are aggregated per asset and
 *      pushed through the asset's liquidity model (spec §1.1) from the
 *      round's price (per-round impact, with per-round recovery);
 *   4. the new prices start the next round, until no account is liquidatable
 *      or the round limit.
 * `sequential` liquidates one account at a time, worst first, each sale
 * moving the price before the next account is looked at.
 *
 * Money is USD, amounts are units of the asset, moves are fractions.  Every
 * function that can fail returns an xcr_status and fills the optional
 * xcr_error; nothing here prints except the report writer (to its FILE).
 */
#ifndef XCR_CASCADE_H
#define XCR_CASCADE_H

#include "../xcr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MARK: options ------------------------------------------------------------- */

/** What a partial exchange liquidation restores. */
typedef enum xcr_cascade_target {
    XCR_TARGET_MAINTENANCE = 0, /* collateral ≥ maintenance margin          */
    XCR_TARGET_INITIAL          /* collateral ≥ initial margin              */
} xcr_cascade_target;

/** Which collateral a lending liquidation seizes first. */
typedef enum xcr_seize_order {
    XCR_SEIZE_LARGEST = 0,      /* the collateral with the largest value    */
    XCR_SEIZE_BOOK_ORDER        /* the account's first collateral balance   */
} xcr_seize_order;

/** Cascade options.  xcr_cascade_opts_init() fills them from the book's
 *  settings.liquidation (spec §1.3) and the defaults below; any field may
 *  then be overridden.  Strings are borrowed and must outlive the cascade. */
typedef struct xcr_cascade_opts {
    /* spec §1.3 */
    const char *policy;          /* "exchange" (default), "aave-v3.0",
                                    "aave-v3.3", "aave-v4", "compound-v3";
                                    applies to the accounts its kind fits
                                    (exchange: cross/isolated/portfolio;
                                    the others: lending)                    */
    xcr_cascade_target target;   /* exchange partial target (maintenance)   */
    double penalty;              /* exchange liquidation fee, fraction of
                                    the notional closed, to the insurance
                                    fund (default 0.01)                     */
    double insurance_fund;       /* USD at the start (default 0)            */
    int adl;                     /* auto-deleveraging on (default 1)        */
    const char *adl_ranking;     /* "pnl_leverage" (default) or "binance"   */
    const char *close_factor_rule; /* lending accounts when `policy` is not a
                                    lending policy: "aave-v3.0" or
                                    "aave-v3.3" (default)                  */
    double target_health_factor; /* Aave v4 target HF (default 1.05)        */
    double cb_max_move;          /* circuit breaker: an asset moving more
                                    than this (fraction, > 0) in a round
                                    halts liquidations of the accounts
                                    exposed to it; 0 = off (default)       */
    int cb_halt_rounds;          /* rounds of the halt (default 2)          */
    size_t max_rounds;           /* default 100                             */
    /* xcr extensions */
    double liq_buffer;           /* exchange partial target buffer: the
                                    account ends with collateral ≥
                                    requirement × (1 + liq_buffer), i.e. a
                                    surplus ≥ liq_buffer × the target
                                    margin; in [0, 1) (default 0.05; 0 =
                                    the bare requirement; settings key
                                    "liq_buffer")                           */
    double min_liq_usd;          /* exchange: a partial liquidation trading
                                    less than this USD (notional closed +
                                    value sold) closes the whole account
                                    (fraction 1) instead; ≥ 0, 0 = off
                                    (default 10; settings key
                                    "min_liq_usd")                          */
    int sequential;              /* one account at a time, worst first      */
    xcr_seize_order seize_order; /* lending collateral order                */
    double storefront_factor;    /* Compound v3 storeFrontPriceFactor
                                    (default 0.5)                           */
    const double *round_cap_usd; /* per book asset (xcr_book_asset_count()
                                    entries) or NULL: at most this much USD
                                    of the asset sold per round (throttling;
                                    NAN or INFINITY = no cap); the accounts
                                    beyond the cap wait for a later round,
                                    worst first                             */
    int concentration_haircut;   /* credit collateral sold in a liquidation
                                    at the price after its own impact
                                    (the liquidator keeps the difference)  */
    int trace_accounts;          /* record per-account events               */
    int full_reevaluation;       /* re-evaluate every account every round
                                    (the baseline of bench/cascade); the
                                    results are identical                  */
    int threads;                 /* <= 0: all cores; results do not depend
                                    on it                                   */
    int gpu;                     /* evaluate each round's accounts on the
                                    GPU (CUDA builds, docs/gpu.md; the same
                                    results); XCR_ENODEV without one       */
} xcr_cascade_opts;

/** Defaults, then the book's settings.liquidation (spec §1.3).  A malformed
 *  setting fails with EINVAL naming "$.settings.liquidation.<key>". */
XCR_API xcr_status xcr_cascade_opts_init(const xcr_book *b,
                                         xcr_cascade_opts *o, xcr_error *err);

/* MARK: the cascade ------------------------------------------------------------ */

typedef struct xcr_cascade xcr_cascade;

/** A cascade over a finalized book at the book's prices (the book and the
 *  option strings must outlive it).  Fails with EINVAL on a bad option
 *  (unknown policy name, negative penalty, ...), or when the book has no
 *  stable asset to settle liquidations in. */
XCR_API xcr_status xcr_cascade_new(const xcr_book *b,
                                   const xcr_cascade_opts *o,
                                   xcr_cascade **out, xcr_error *err);
XCR_API void xcr_cascade_free(xcr_cascade *c);

/** The initial shock, before xcr_cascade_run: `moves` (per book asset,
 *  fractions > -1; NULL = none) multiply the prices; `liquidity` (per asset,
 *  > 0; NULL = 1) scales every liquidity model's depth for the whole run.
 *  For an `amm` asset the pool moves along its curve to the new price.  A
 *  second call replaces the first. */
XCR_API xcr_status xcr_cascade_shock(xcr_cascade *c, const double *moves,
                                     const double *liquidity,
                                     xcr_error *err);
/** The same from scenario `i` of a resolved set (its moves and liquidity
 *  multipliers; vol shifts are applied to the options' implied vols). */
XCR_API xcr_status xcr_cascade_shock_scenario(xcr_cascade *c,
                                              const xcr_scenarios *s,
                                              size_t i, xcr_error *err);
/** Parse "SYM=MOVE[,SYM=MOVE...]" (e.g. "BTC=-0.2,ETH=-0.25") into a per-asset
 *  moves array of xcr_book_asset_count() entries (unnamed assets 0).
 *  Unknown symbols, malformed numbers and moves ≤ -1 fail with EINVAL
 *  naming the item. */
XCR_API xcr_status xcr_cascade_parse_shock(const xcr_book *b,
                                           const char *spec, double *moves,
                                           xcr_error *err);

/** Run to the fixed point (no account liquidatable, no halt pending) or
 *  the round limit.  Can be called once. */
XCR_API xcr_status xcr_cascade_run(xcr_cascade *c, xcr_error *err);

/* MARK: results --------------------------------------------------------------- */

/** Book-wide results of a finished run.  USD unless stated. */
typedef struct xcr_cascade_summary {
    size_t rounds;               /* rounds with at least one liquidation    */
    size_t rounds_simulated;     /* all rounds run (halts included)         */
    int converged;               /* 1: fixed point; 0: stopped at max_rounds */
    size_t liquidated_accounts;  /* distinct accounts liquidated            */
    size_t liquidations;         /* liquidation events                      */
    size_t bankruptcies;         /* takeovers with negative equity          */
    double liquidated_usd;       /* Σ USD sold and bought by liquidations   */
    double bad_debt;             /* lending deficits + socialised losses    */
    double socialised;           /* exchange losses beyond fund and ADL     */
    double insurance_start, insurance_end;
    double insurance_drawdown;   /* Σ draws on the fund                     */
    double penalties;            /* Σ paid into the fund                    */
    double adl_volume;           /* USD notional closed by ADL              */
    double adl_loss;             /* USD taken from ADL counterparties       */
    double liquidator_gains;     /* bonuses, discounts, haircuts            */
    double protocol_fees;        /* lending protocol fees and reserves      */
    double equity_start, equity_end; /* Σ account equity after the shock and
                                    at the end                              */
    double max_conservation_error; /* largest per-round relative error      */
} xcr_cascade_summary;

XCR_API xcr_status xcr_cascade_summary_get(const xcr_cascade *c,
                                           xcr_cascade_summary *out);

/** Per-asset prices: before the shock (the book's), after the shock (the
 *  cascade's start) and now (the end after a run).  NAN for a bad index. */
XCR_API double xcr_cascade_book_price(const xcr_cascade *c, size_t asset);
XCR_API double xcr_cascade_initial_price(const xcr_cascade *c, size_t asset);
XCR_API double xcr_cascade_price(const xcr_cascade *c, size_t asset);
/** All current prices (xcr_book_asset_count() entries) into `out`. */
XCR_API void xcr_cascade_prices(const xcr_cascade *c, double *out);
/** Amplification of an asset: (final price / book price − 1) / shock; NAN
 *  where the shock was 0. */
XCR_API double xcr_cascade_amplification(const xcr_cascade *c, size_t asset);
/** Bad debt recorded against an asset (USD; lending deficits by debt
 *  reserve, socialised exchange losses against the settlement asset). */
XCR_API double xcr_cascade_bad_debt(const xcr_cascade *c, size_t asset);
/** Net units of an asset sold by liquidations over the run (negative =
 *  bought back). */
XCR_API double xcr_cascade_sold(const xcr_cascade *c, size_t asset);

/** One round of the trace.  Arrays have xcr_book_asset_count() entries and
 *  are owned by the cascade. */
typedef struct xcr_cascade_round {
    size_t round;                /* 1-based                                 */
    const double *prices;        /* at the round's start                    */
    const double *sold;          /* net units sold to the market this round */
    const double *sold_usd;      /* the same in USD at the round's prices   */
    size_t liquidations;         /* accounts liquidated this round          */
    size_t halted;               /* liquidatable accounts held by a halt    */
    size_t deferred;             /* accounts held back by a round cap       */
    double insurance_fund;       /* at the round's end                      */
    double insurance_draw, penalties;
    double adl_volume, adl_loss;
    double bad_debt;             /* recorded this round                     */
    double bad_debt_total;       /* cumulative                              */
    double socialised;
    double liquidator_gains, protocol_fees; /* this round                   */
    double equity;               /* Σ account equity at the round's start   */
    double mtm;                  /* change of Σ equity from prices alone    */
    double conservation_error;   /* relative                                */
} xcr_cascade_round;

XCR_API size_t xcr_cascade_round_count(const xcr_cascade *c);
XCR_API xcr_status xcr_cascade_round_get(const xcr_cascade *c, size_t i,
                                         xcr_cascade_round *out);

/** What happened to one account in one liquidation (trace_accounts). */
typedef enum xcr_liq_action {
    XCR_LIQ_PARTIAL = 0,   /* exchange: the least fraction closed           */
    XCR_LIQ_TAKEOVER,      /* exchange: full takeover at the bankruptcy price*/
    XCR_LIQ_ISOLATED,      /* exchange: one isolated position taken over    */
    XCR_LIQ_LENDING,       /* Aave: debt repaid, collateral seized          */
    XCR_LIQ_ABSORB,        /* Compound v3: whole account absorbed           */
    XCR_LIQ_ADL            /* closed by auto-deleveraging (a counterparty)  */
} xcr_liq_action;

XCR_API const char *xcr_liq_action_name(xcr_liq_action a);

typedef struct xcr_cascade_event {
    size_t round;
    size_t account;
    xcr_liq_action action;
    const char *policy;          /* static name                             */
    double health_before;        /* health (HF for lending) at the round    */
    double equity_before, equity_after; /* USD at the round's prices        */
    double fraction;             /* exchange: share closed; lending: share
                                    of the account's debt repaid           */
    double volume_usd;           /* sold + bought                           */
    double shortfall;            /* negative equity to cover                */
    double insurance_draw, adl, bad_debt;
} xcr_cascade_event;

XCR_API size_t xcr_cascade_event_count(const xcr_cascade *c);

/** Work done by a run (a load-independent cost figure; bench/cascade):
 *  account evaluations by the margin evaluator at the rounds' starts, after
 *  the liquidations and for ADL, and into `*skipped` (may be NULL) the
 *  round-start evaluations the skip rule proved unnecessary.  The
 *  policies' own probing is not counted. */
XCR_API size_t xcr_cascade_evaluations(const xcr_cascade *c, size_t *skipped);
XCR_API xcr_status xcr_cascade_event_get(const xcr_cascade *c, size_t i,
                                         xcr_cascade_event *out);

/** Write the `xcr cascade` report: spec §5 JSON (plus the summary, the
 *  per-asset amplification, bad debt and the trace's ledgers; `events` with
 *  trace_accounts), CSV (one row per round and asset) or a text table. */
typedef struct xcr_cascade_report_opts {
    xcr_out_format format;
    const char *book_name;       /* for the table header; may be NULL       */
    const char *shock_name;      /* scenario name or shock text; may be NULL*/
    int events;                  /* include per-account events              */
    const xcr_cascade *segmented; /* the same shock on xcr_book_segment()'s
                                    book, reported beside this one; NULL  */
} xcr_cascade_report_opts;

XCR_API xcr_status xcr_cascade_report(const xcr_cascade *c,
                                      const xcr_cascade_report_opts *o,
                                      FILE *out, xcr_error *err);

/* MARK: segmentation what-if ---------------------------------------------------- */

/** The book with every cross account that holds positions split into
 *  isolated sub-accounts "ID/1" … "ID/k", one per position, its equity
 *  shared out in proportion to the positions' initial margins, and a cross
 *  remainder "ID/0" keeping the balances less the margin posted (in the
 *  first stable asset); other accounts are copied as they are.  Run the
 *  same shock on both books to see what cross-margining does to
 *  liquidations, amplification and bad debt (`xcr cascade --segment`).
 *  `*out` is a new finalized book (free with xcr_book_free). */
XCR_API xcr_status xcr_book_segment(const xcr_book *b, xcr_book **out,
                                    xcr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XCR_CASCADE_H */
