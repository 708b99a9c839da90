/* Internal declarations of the cascade simulator (include/xcr/cascade.h is
 * the public side; docs/cascade.md describes the model).
 *
 * Mutable state without a mutable book.  A finalized book never changes
 * (docs/API.md rule 6), but liquidations change balances, position sizes and
 * isolated margins.  So the cascade keeps private copies of the book's CSR
 * balance and position arrays, with a zero balance slot added for every
 * asset an account may receive in a liquidation (the settlement asset
 * `cash` and the settle asset of each of its positions), and evaluates
 * through `sb`, a shallow copy of `struct xcr_book` whose balance/position
 * pointers point at those copies, with its own xcr_market for prices.  The
 * evaluator (xcr__eval_account) therefore sees the cascade's holdings
 * unchanged in form: there is one definition of margin.  Nothing else of
 * the book is copied (assets, instruments, settings and the portfolio
 * model are shared read-only), so `sb` must never be freed or finalized. */
#ifndef XCR_CASCADE_INTERNAL_H
#define XCR_CASCADE_INTERNAL_H

#include "../margin/margin.h"

/* MARK: price impact (impact.c) ------------------------------------------------ */

/* Stateless move (≤ 0) of selling `usd` (> 0) through a model with its depth
 * scaled by `mult`; 0 without a model; floored at −1 + 1e-12. */
double xcr__liq_move(const xcr_liquidity_def *l, double usd, double mult);

/* One Uniswap-v2 swap on reserves (x base, y quote) with fee f: sell `dx`
 * base (returns the quote received) or buy `dx` base (returns the quote
 * paid).  The pool keeps x·y = k. */
double xcr__amm_sell(double *x, double *y, double f, double dx);
double xcr__amm_buy(double *x, double *y, double f, double dx);

/* The impact state of one asset during a cascade. */
typedef struct xcr__impact {
    const xcr_liquidity_def *def;
    double mult;          /* depth multiplier (scenario liquidity)          */
    double fundamental;   /* post-shock price that impact recovers towards  */
    double price;         /* current price                                  */
    double x, y;          /* AMM reserves (scaled by mult)                  */
} xcr__impact;

void xcr__impact_init(xcr__impact *s, const xcr_liquidity_def *def,
                      double price, double mult);
/* Decay the fraction `recovery` of the displacement from the fundamental. */
void xcr__impact_recover(xcr__impact *s);
/* Trade `units` (> 0 sold, < 0 bought) from the current price; returns and
 * stores the new price. */
double xcr__impact_trade(xcr__impact *s, double units);

/* MARK: the cascade state ------------------------------------------------------- */

typedef struct xcr__round {
    xcr_cascade_round pub;      /* arrays point into `arrays`              */
    double *arrays;             /* prices, sold, sold_usd (3 × n_assets)   */
} xcr__round;

/* What a policy did to one account (written by the policy, reduced in
 * account order by the round loop). */
typedef struct xcr__liq_out {
    uint8_t done;               /* 0: nothing could be done                */
    uint8_t action;             /* xcr_liq_action                          */
    uint8_t bankrupt;
    double fraction;
    double volume_usd;
    double to_fund;             /* penalty / takeover equity into the fund */
    double shortfall;           /* negative equity the waterfall covers    */
    double liq_gain, fees;      /* liquidator gains, protocol fees         */
    double bad_debt;            /* lending deficit (by slot in bal_bad)    */
    double health_before, eq_before, eq_after;
} xcr__liq_out;

struct xcr_cascade;
struct xcr__liq_ctx;

/* A liquidation policy: a named table of functions (pluggable, chosen by
 * name; one file per family, each citing its source). */
typedef struct xcr__policy {
    const char *name;
    bool lending;               /* the kind of account it fits             */
    /* Liquidate account `acct` (liquidatable at the current prices, result
     * `r`) by changing only its own slots; fill `out`. */
    void (*liquidate)(struct xcr_cascade *c, struct xcr__liq_ctx *x,
                      size_t acct, const xcr_account_result *r,
                      xcr__liq_out *out);
} xcr__policy;

extern const xcr__policy xcr__policy_exchange;
extern const xcr__policy xcr__policy_aave_v30;
extern const xcr__policy xcr__policy_aave_v33;
extern const xcr__policy xcr__policy_aave_v4;
extern const xcr__policy xcr__policy_compound_v3;
/* By name; NULL if unknown. */
const xcr__policy *xcr__policy_find(const char *name);

/* An ADL ranking (adl.c): a score per candidate position, higher first. */
typedef struct xcr__adl_rank {
    const char *name;
    double (*score)(double upnl, double entry_value, double notional,
                    double equity, double mm);
} xcr__adl_rank;
const xcr__adl_rank *xcr__adl_rank_find(const char *name);
/* Cover up to `residual` USD of bankrupt account `acct`'s loss by
 * deleveraging its closed positions (adl.c); returns the amount covered and
 * calls touch(c, counterparty, adl_usd, loss) for each account it changes. */
double xcr__adl_cover(struct xcr_cascade *c, size_t acct, double residual,
                      void (*touch)(struct xcr_cascade *, size_t, double,
                                    double));

/* Per-thread scratch of a liquidation. */
typedef struct xcr__liq_ctx {
    xcr__ws ws;
    size_t cap;                 /* slots the buffers hold                  */
    double *save_bal, *save_size, *save_iso;
    double *net;                /* per balance slot: net amount            */
    double *contrib;            /* per position: contribution (settle units)*/
    double *flow;               /* per position: underlying units if closed */
    xcr_position_result *pos;
} xcr__liq_ctx;

xcr_status xcr__liq_ctx_init(struct xcr_cascade *c, xcr__liq_ctx *x);
void xcr__liq_ctx_free(struct xcr_cascade *c, xcr__liq_ctx *x);

struct xcr_cascade {
    const xcr_book *book;
    struct xcr_book sb;         /* shallow copy over the arrays below      */
    xcr_market *m;
    xcr_cascade_opts o;
    const xcr__policy *margin_pol, *lending_pol;
    const xcr__adl_rank *adl_rank;
    uint32_t cash;              /* settlement asset (first stable)         */
    size_t na, nacc, npos;
    size_t slot_cap;            /* most slots of one account               */
    int threads;

    /* holdings (CSR over accounts, like the book's) */
    uint32_t *bal_off, *bal_asset;
    double *bal_amt;
    size_t nbal;
    double *pos_size, *pos_iso;
    /* per balance / position slot, written by the policies each round */
    double *bal_flow;           /* units sold (< 0 bought)                 */
    double *bal_bad;            /* lending deficit, USD                    */
    double *pos_flow;           /* underlying units sold by closing        */
    double *pos_closed;         /* contracts closed (signed like the size) */

    /* per account */
    xcr_account_result *res;
    double *surplus;
    double *eq;                 /* res[i].equity, packed for the O(N) scans*/
    uint8_t *st;                /* res[i].status, packed                   */
    uint8_t *dirty;             /* re-evaluate at the next round start     */
    uint8_t *ever;              /* 1 liquidated once; 2 policy could not act*/
    uint8_t *touched;           /* this round: 1 liquidated, 2 changed     */
    uint32_t *changed;          /* accounts changed this round             */
    bool clear_dirty;           /* the round-start scan clears `dirty`
                                   (else the classifier does)             */
    size_t nchanged;
    double round_adl_vol, round_adl_loss;
    /* asset → accounts exposed to it (CSR), instrument → positions */
    uint32_t *exp_off, *exp_acct;
    uint32_t *ipos_off, *ipos;
    uint32_t *pos_owner;        /* position → account                      */

    /* prices and impact */
    xcr__impact *imp;
    double *book_price, *init_price, *price, *shock, *liq_mult;
    int *halt_left;
    double *round_sold, *round_sold_usd;

    /* ledgers */
    double fund, fund_start, penalties, draws, fees, gains, bad, social;
    double adl_vol, adl_loss, liq_usd;
    double *bad_by_asset, *sold_total;
    size_t n_liqs, n_bankrupt, n_liquidated;
    double max_err, eq_start;
    bool shocked, ran, converged;
    size_t rounds_with_liq;

    /* skipping re-evaluations that provably cannot liquidate (bound.c) */
    bool skip_on;
    uint8_t *elig;              /* per account: not a portfolio account    */
    double *kappa;              /* per asset: |d surplus / d value| bound  */
    uint32_t *last;             /* per account: epoch of its evaluation    */
    uint8_t *stale;             /* per account: skipped since its last
                                   evaluation (res lags; eq is exact)      */
    uint32_t *pos_slot;         /* per position: its settle asset's slot,
                                   relative to the account's first slot   */
    xcr__ws rws;                /* serial workspace for refreshes (ADL)    */
    bool have_rws;
    double *hist;               /* prices per epoch (epoch × n_assets)     */
    double *hmark, *huv;        /* per epoch × instrument: marks and
                                   option values per contract             */
    size_t epoch, cap_hist, cap_ihist;
    size_t n_evals, n_skipped;  /* statistics                              */
    double skip_ratio;          /* share skipped at the last classification */

    xcr__round *rounds;
    size_t nrounds, cap_rounds;
    xcr_cascade_event *events;
    size_t nevents, cap_events;
};

/* MARK: evaluation (eval.c) ------------------------------------------------------ */

/* Evaluate the `n` accounts idx[0..n) at the cascade's current prices and
 * holdings with the one margin evaluator: out[k] (and surplus[k] when not
 * NULL) for account idx[k].  Output arrays are the caller's; results do not
 * depend on `threads` (<= 0: all cores).  This is the per-round step that
 * other backends (GPU, MPI) would replace: inputs are the state and the
 * list, outputs the caller's arrays, nothing else is written. */
xcr_status xcr__cascade_eval(const xcr_cascade *c, const uint32_t *idx,
                             size_t n, xcr_account_result *out,
                             double *surplus, int threads);
/* Its scatter form used by the round loop: the same evaluations written
 * straight into the state (res, surplus and their packed copies, stamped
 * with the current epoch), saving a copy of a million results a round. */
xcr_status xcr__cascade_eval_state(xcr_cascade *c, const uint32_t *idx,
                                   size_t n, int threads);

/* Bring a skipped account's result up to date at the current prices
 * (serial; its holdings must be unchanged since the round's start): what
 * full re-evaluation would hold for it.  ADL ranks counterparties by it. */
void xcr__cascade_refresh(xcr_cascade *c, size_t acct);

/* MARK: skipping re-evaluations (bound.c) ------------------------------------------ */

/* Set up the eligibility and the per-asset / per-instrument constants. */
xcr_status xcr__bound_init(xcr_cascade *c);
void xcr__bound_free(xcr_cascade *c);
/* Record the current prices as a new epoch (the start of a round). */
xcr_status xcr__bound_epoch(xcr_cascade *c);
/* For each listed account: need[k] = 1 when it must be evaluated, 0 when
 * its surplus provably stays ≥ 0 at the current prices (its equity is then
 * brought up to date exactly, linearly, in c->eq).  Thread-independent. */
void xcr__bound_classify(xcr_cascade *c, const uint32_t *list, size_t n,
                         uint8_t *need, int threads);

/* MARK: per-account operations (ops.c) -------------------------------------------- */

/* Save / restore an account's slots (balances, sizes, isolated margins). */
void xcr__acct_save(const xcr_cascade *c, xcr__liq_ctx *x, size_t acct);
void xcr__acct_restore(xcr_cascade *c, const xcr__liq_ctx *x, size_t acct);
/* Evaluate one account (pos may be NULL). */
void xcr__acct_eval(const xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                    xcr_account_result *r, xcr_position_result *pos);
/* Fill x->contrib / x->flow per position and x->net per balance slot
 * (balance + contributions settled in that asset) from the saved state. */
void xcr__acct_nets(const xcr_cascade *c, xcr__liq_ctx *x, size_t acct);
/* The effective liquidation threshold / bonus / ltv of an asset for a
 * lending account (its e-mode category where the asset belongs to it). */
void xcr__lending_params(const xcr_cascade *c, size_t acct, uint32_t asset,
                         double *lt, double *lb);
/* USD value at which `units` of asset a are credited when sold in a
 * liquidation (concentration haircut when on). */
double xcr__sale_value(const xcr_cascade *c, uint32_t a, double units);

#endif /* XCR_CASCADE_INTERNAL_H */
