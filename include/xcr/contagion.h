/*
 * xcr — network contagion between entities (spec §4; docs/contagion.md).
 *
 * An xcr_network holds entities (venues, lenders, funds), what they owe each
 * other, what book assets they hold and what collateral they re-pledged.
 * Models (Eisenberg–Noe, Rogers–Veraart, Furfine, Gai–Kapadia, DebtRank)
 * run on it with every convention an explicit option; results go to
 * caller-owned arrays.  With a book bound to the network, holdings are
 * revalued at the book's (or a cascade's) prices, entities above a leverage
 * target sell into the assets' liquidity models (fire sales), and accounts
 * held at a defaulted entity lose access to their collateral.
 *
 * Included by xcr.h; do not include directly.
 */
#ifndef XCR_CONTAGION_H
#define XCR_CONTAGION_H

#ifdef __cplusplus
extern "C" {
#endif

/* MARK: the network ---------------------------------------------------------- */

typedef struct xcr_network xcr_network;

/** An empty, mutable network. */
XCR_API xcr_status xcr_network_new(xcr_network **out);
XCR_API void xcr_network_free(xcr_network *net);

/** Add an entity: external (non-network) assets and liabilities in USD;
 *  `equity` and `size` NAN = the spec's defaults (external assets + interbank
 *  assets − p̄, and total assets).  Errors name `loc`. */
XCR_API xcr_status xcr_network_add_entity(xcr_network *net, const char *id,
                                          double external_assets,
                                          double external_liabilities,
                                          double equity, double size,
                                          const xcr_loc *loc, xcr_error *err);
/** `from` owes `to` `amount` USD (≥ 0; a pair listed twice adds up). */
XCR_API xcr_status xcr_network_add_liability(xcr_network *net,
                                             const char *from, const char *to,
                                             double amount, const xcr_loc *loc,
                                             xcr_error *err);
/** `entity` holds `amount` units of book asset `asset` (part of its
 *  external assets, valued at the book's prices). */
XCR_API xcr_status xcr_network_add_holding(xcr_network *net,
                                           const char *entity,
                                           const char *asset, double amount,
                                           const xcr_loc *loc, xcr_error *err);
/** `from` re-pledged `amount` units of `asset` (its clients' collateral) to
 *  `to`: `to` holds the units and owes them back (an xcr extension, see
 *  docs/contagion.md). */
XCR_API xcr_status xcr_network_add_rehypothecation(
    xcr_network *net, const char *from, const char *to, const char *asset,
    double amount, const xcr_loc *loc, xcr_error *err);
/** Build the layout; afterwards the network is immutable (except for
 *  xcr_network_bind_book). */
XCR_API xcr_status xcr_network_finalize(xcr_network *net, xcr_error *err);

/** Load / parse a finalized network (spec §4 JSON plus "rehypothecation"). */
XCR_API xcr_status xcr_network_load(const char *path, xcr_network **out,
                                    xcr_error *err);
XCR_API xcr_status xcr_network_load_json_text(const char *text, size_t len,
                                              const char *name,
                                              xcr_network **out,
                                              xcr_error *err);
/** The network as JSON text (libc malloc; release with free()); reloads to
 *  an equal network. */
XCR_API xcr_status xcr_network_to_json_text(const xcr_network *net,
                                            char **out, xcr_error *err);
/** Same entities, liabilities, holdings and links (exact). */
XCR_API int xcr_network_equal(const xcr_network *a, const xcr_network *b);

/** Tie holdings and re-pledged assets to a finalized book: every asset
 *  they name must exist in it, and an entity's holdings, at the book's
 *  prices, cannot exceed its external assets.  The book must outlive the
 *  network (or a later bind).  Errors name the network file and path. */
XCR_API xcr_status xcr_network_bind_book(xcr_network *net,
                                         const xcr_book *book,
                                         xcr_error *err);

XCR_API size_t xcr_network_entity_count(const xcr_network *net);
XCR_API const char *xcr_network_entity_id(const xcr_network *net, size_t i);
XCR_API long xcr_network_find_entity(const xcr_network *net, const char *id);
/** Nominal obligations p̄ = Σ liabilities to others + external
 *  liabilities (USD; re-pledged collateral not included). */
XCR_API double xcr_network_obligation(const xcr_network *net, size_t i);
XCR_API size_t xcr_network_liability_count(const xcr_network *net);
XCR_API size_t xcr_network_rehypothecation_count(const xcr_network *net);

/* MARK: models ------------------------------------------------------------------ */

typedef enum xcr_net_model {
    XCR_NET_EN = 0,   /* Eisenberg–Noe clearing (fictitious default alg.) */
    XCR_NET_RV,       /* Rogers–Veraart with default costs α, β          */
    XCR_NET_FURFINE,  /* Furfine sequential defaults, recovery R          */
    XCR_NET_GK,       /* Gai–Kapadia threshold contagion                  */
    XCR_NET_DEBTRANK  /* DebtRank (variant below)                         */
} xcr_net_model;

/** When an entity defaults: equity < 0 (LT) or equity ≤ 0 (LE), each up to
 *  the tolerance `tol`·max(1, scale). */
typedef enum xcr_default_rule {
    XCR_RULE_MODEL = 0, /* the model's own: EN/RV lt, Furfine/GK le      */
    XCR_RULE_LT,
    XCR_RULE_LE
} xcr_default_rule;

typedef enum xcr_dr_variant {
    XCR_DR_BATTISTON = 0, /* 2012: W = min(1, Λ), each node propagates once */
    XCR_DR_SINGLE_HIT,    /* the same one-shot rule with uncapped Λ         */
    XCR_DR_DIFFERENTIAL   /* Bardoscia et al. 2015: increments, re-propagate */
} xcr_dr_variant;

XCR_API const char *xcr_net_model_name(xcr_net_model m);
XCR_API const char *xcr_dr_variant_name(xcr_dr_variant v);

typedef struct xcr_contagion_opts {
    xcr_net_model model;
    xcr_default_rule rule;
    double alpha, beta;       /* RV: recovered share of external / interbank
                                 assets of a defaulter (default 1, 1)       */
    double recovery;          /* Furfine: creditors recover R (default 0)   */
    double gk_fire_sale;      /* GK: resale price q = exp(−a·x), x = share of
                                 external assets held by defaulters (0 off) */
    xcr_dr_variant variant;   /* DebtRank                                   */
    const size_t *defaults;   /* entities defaulted at the start            */
    size_t ndefaults;
    double shock_all;         /* EN/RV/Furfine/GK: fraction of every
                                 entity's external assets lost; DebtRank:
                                 initial stress on every node               */
    double shock_external;    /* DebtRank: fraction of external assets lost,
                                 as stress h = loss / equity                */
    long firewall;            /* entity whose links are cut (-1: none)      */
    const double *external_loss; /* per entity: USD lost from external
                                 assets before contagion (e.g. the bad debt
                                 a cascade leaves at a venue); NULL = none */
    /* Book-bound networks (xcr_network_bind_book): */
    const double *start_prices; /* per book asset; NULL = the book's       */
    double leverage_target;   /* > 0: entities above assets/equity sell
                                 holdings down to it (fire sales)           */
    size_t max_rounds;        /* model rounds cap; 0 = default (10^5)       */
    size_t max_fire_rounds;   /* fire-sale rounds cap; 0 = default (100)    */
    double tol;               /* relative tolerance; 0 = default (1e-9)     */
} xcr_contagion_opts;

/** Defaults: EN, the model's rule, α = β = 1, R = 0, Battiston, nothing
 *  shocked, no firewall, no fire sales. */
XCR_API void xcr_contagion_opts_init(xcr_contagion_opts *o);

/** One entity after contagion.  USD unless said otherwise. */
typedef struct xcr_entity_result {
    double payment;    /* paid to creditors (DebtRank: value of its debt to
                          creditors, p̄·(1 − h))                            */
    double equity;     /* after contagion (may be < 0 for clearing models) */
    double stress;     /* h: relative equity loss in [0, 1]                 */
    double loss;       /* max(0, equity before) − max(0, equity after)      */
    double recovery;   /* share of its obligations creditors recover        */
    double equity_before; /* at the book's prices, before any shock         */
    int defaulted;
    int round;         /* 0 = named at the start (--default); k >= 1 = the
                          model's k-th round (round 1: short after the shock
                          and the named defaults); -1 = never               */
} xcr_entity_result;

typedef struct xcr_contagion_summary {
    size_t defaults;       /* entities defaulted at the end                 */
    size_t rounds;         /* last round in which an entity defaulted
                              (DebtRank: rounds that propagated stress)      */
    double total_loss;     /* Σ entity losses                               */
    double external_shortfall; /* Σ external liabilities not paid           */
    double default_costs;  /* RV deadweight: assets of defaulters lost      */
    double weighted_stress;/* Σ v·h at the end (v = size share)             */
    double debtrank;       /* DebtRank: Σ v·h(T) − Σ v·h(1); NAN otherwise  */
    int converged;         /* 0 if a round cap stopped an iteration         */
    size_t fire_rounds;    /* fire-sale rounds with sales                   */
    double fire_sold_usd;  /* Σ value sold                                  */
} xcr_contagion_summary;

/** Optional per-run outputs beyond the entity results (any may be NULL). */
typedef struct xcr_contagion_extra {
    double *final_prices;  /* per book asset (bound networks)               */
    double *sold_usd;      /* per book asset: cumulative fire sales         */
    double *rehyp_value;   /* per re-pledge link: USD value at final prices */
    double *rehyp_lost;    /* per link: value the pledger does not recover  */
} xcr_contagion_extra;

/** Run a model.  `out` has xcr_network_entity_count() entries. */
XCR_API xcr_status xcr_contagion_run(const xcr_network *net,
                                     const xcr_contagion_opts *o,
                                     xcr_entity_result *out,
                                     xcr_contagion_summary *sum,
                                     const xcr_contagion_extra *extra,
                                     xcr_error *err);

/** A reusable runner: the same runs without allocating anything per run
 *  (scratch sized for the network, kept between runs).  Create it after
 *  xcr_network_bind_book; the network must outlive it.  One thread at a
 *  time per runner. */
typedef struct xcr_contagion_runner xcr_contagion_runner;
XCR_API xcr_status xcr_contagion_runner_new(const xcr_network *net,
                                            xcr_contagion_runner **out,
                                            xcr_error *err);
XCR_API void xcr_contagion_runner_free(xcr_contagion_runner *r);
XCR_API xcr_status xcr_contagion_runner_run(xcr_contagion_runner *r,
                                            const xcr_contagion_opts *o,
                                            xcr_entity_result *out,
                                            xcr_contagion_summary *sum,
                                            const xcr_contagion_extra *extra,
                                            xcr_error *err);

/* MARK: systemic rankings ------------------------------------------------------ */

typedef struct xcr_entity_rank {
    double loss_caused;     /* total loss of the others when it alone
                               defaults (its systemic importance)           */
    size_t defaults_caused; /* others that default then                     */
    double vulnerability;   /* its mean stress over the others' defaults    */
    size_t times_defaulted; /* in how many of those it defaults             */
} xcr_entity_rank;

/** One run per entity, with that entity alone defaulted (other options as
 *  in `o`, its shocks and defaults ignored).  `out` has one entry per
 *  entity.  Results do not depend on `threads`. */
XCR_API xcr_status xcr_contagion_rank(const xcr_network *net,
                                      const xcr_contagion_opts *o,
                                      int threads, xcr_entity_rank *out,
                                      xcr_error *err);

/* MARK: venue failure ----------------------------------------------------------- */

/** An account of the bound book held at an entity (spec §1 `entity`). */
typedef struct xcr_venue_account {
    long entity;              /* index in the network, -1 if none/unknown   */
    double recovery;          /* share of its collateral it keeps           */
    double collateral_lost;   /* USD: positive balances × price × (1 − R)   */
    xcr_account_result before, after; /* the one margin evaluator           */
} xcr_venue_account;

/** Accounts held at defaulted entities keep only each entity's recovery of
 *  their collateral (positive balances); every account is re-evaluated at
 *  `prices` (per book asset; NULL = the book's).  `res` are the entity
 *  results of a run; `out` has xcr_book_account_count() entries. */
XCR_API xcr_status xcr_venue_failure(const xcr_network *net,
                                     const xcr_entity_result *res,
                                     const double *prices,
                                     xcr_venue_account *out, xcr_error *err);

/* MARK: coupling to a cascade ------------------------------------------------------ */

typedef struct xcr_cascade xcr_cascade; /* include/xcr/cascade.h */

/** Inputs for a contagion run from a finished cascade on the network's
 *  bound book: `prices` (per book asset) receives the cascade's final
 *  prices, and `external_loss` (per entity, may be NULL) the bad debt its
 *  liquidations left on the accounts held at each entity, capped at the
 *  entity's external assets (the cascade must have run with
 *  trace_accounts).  Feed them to xcr_contagion_opts.start_prices and
 *  .external_loss. */
XCR_API xcr_status xcr_contagion_cascade_inputs(const xcr_network *net,
                                                const xcr_cascade *c,
                                                double *prices,
                                                double *external_loss,
                                                xcr_error *err);

/* MARK: reports ------------------------------------------------------------------ */

typedef struct xcr_contagion_report {
    const xcr_network *net;
    const xcr_contagion_opts *opts;
    const xcr_entity_result *res;
    const xcr_contagion_summary *sum;
    const xcr_contagion_extra *extra;  /* may be NULL                      */
    const double *start_prices;        /* per book asset; NULL = book's     */
    const xcr_venue_account *accounts; /* may be NULL                      */
    const xcr_entity_rank *ranks;      /* may be NULL                      */
    long firewall;                     /* -1 none; else fw_* hold the runs  */
    const xcr_contagion_summary *fw_base; /* the run without the firewall  */
    const double *external_loss;       /* per entity (a cascade's bad debt);
                                          may be NULL                      */
} xcr_contagion_report;

/** Write the `xcr contagion` report (spec §4 JSON, CSV rows per entity, or
 *  a text table). */
XCR_API xcr_status xcr_contagion_write(const xcr_contagion_report *r,
                                       xcr_out_format format, FILE *out,
                                       xcr_error *err);
/** Graphviz DOT of the network coloured by outcome (red defaulted, orange
 *  stressed, green untouched); edges debtor → creditor. */
XCR_API xcr_status xcr_contagion_dot(const xcr_network *net,
                                     const xcr_entity_result *res, FILE *out,
                                     xcr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XCR_CONTAGION_H */
