/* Internal margin evaluator: one definition of margin (spec §2) used by
 * `margin`, `explain`, the liquidation-price solver and, later, stress,
 * cascades and the live monitor. */
#ifndef XCR_MARGIN_H
#define XCR_MARGIN_H

#include "../book/book.h"

/* Market state over an immutable book.  Per-instrument quantities that do
 * not depend on the position (mark, option value per unit) are computed once
 * per state so that the per-position work is a few multiply-adds. */
struct xcr_market {
    const xcr_book *book;
    double *price;       /* per asset, USD                                  */
    double *mark;        /* per instrument                                  */
    double *unit_value;  /* per instrument: option value per contract, USD
                            (Black-76 · units of underlying per contract)   */
    double *iv;          /* per instrument: implied vol used                */
};

/* What the liquidation-price solver changes while probing: either one asset
 * moved by `factor`, or every non-stable asset moved by `factor`. */
typedef enum { XCR__OV_NONE = 0, XCR__OV_ASSET, XCR__OV_UNIFORM } xcr__ov_kind;
typedef struct xcr__override {
    xcr__ov_kind kind;
    uint32_t asset;
    double factor;
} xcr__override;

/* Per-thread scratch: net amount per asset, and the list of touched assets
 * so that clearing costs O(touched), not O(assets). */
typedef struct xcr__ws {
    double *net;
    uint32_t *touched;
    uint8_t *seen;
    size_t n_assets;
    /* Optional: when keep_net is set, the evaluator records the account's
     * net amount per touched asset (explain uses it). */
    bool keep_net;
    size_t n_kept;
    uint32_t *kept_asset;
    double *kept_net;
} xcr__ws;

xcr_status xcr__ws_init(xcr__ws *ws, const xcr_book *b);
void xcr__ws_free(xcr__ws *ws, const xcr_book *b);

/* Units of the underlying per option contract: contract_size for linear
 * options; for inverse options the USD face converted at the strike. */
static inline double xcr__option_units(const xcr__inst *in)
{
    return in->inverse ? in->cs / in->strike : in->cs;
}

/* Option value per contract (USD) at a given mark. */
double xcr__option_unit_value(const xcr_book *b, const xcr__inst *in,
                              double mark, double iv);

/* Evaluate one account.  `surplus` (may be NULL) receives a number that is
 * < 0 exactly when the account is liquidatable or bankrupt; the solver finds
 * its sign changes.  pos_out may be NULL. */
void xcr__eval_account(const xcr_market *m, const xcr__override *ov,
                       size_t acct, xcr__ws *ws, xcr_account_result *out,
                       xcr_position_result *pos_out, double *surplus);

/* The requirement of a portfolio account under its scenario model
 * (src/portfolio/pm_eval.c; docs/portfolio.md), in USD, honouring `ov`
 * (may be NULL).  Borrow margins are not included. */
void xcr__pm_margin(const xcr_market *m, const xcr__override *ov,
                    size_t acct, double *im_usd, double *mm_usd);

/* Solver entry points that reuse a caller's workspace (liqprice.c). */
xcr_status xcr__liq_price_ws(const xcr_market *m, size_t account,
                             size_t asset, xcr__ws *ws, xcr_liq_price *out);
xcr_status xcr__liq_shock_ws(const xcr_market *m, size_t account,
                             xcr__ws *ws, double *down, double *up);

/* Worker threads to use: requested (<= 0: all cores), at most one per 4096
 * items of work. */
int xcr__thread_count(int requested, size_t work);

#endif
