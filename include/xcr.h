/*
 * xcr — cross-collateralization risk engine.  Public API.
 *
 * Design rules (see docs/API.md):
 *  - Every fallible function returns an xcr_status and delivers results through
 *    out-parameters.  An optional xcr_error* (may be NULL) receives a one-line
 *    message that names where the input is wrong (file, JSON path, CSV
 *    line/column or SQLite table/row, and the field).
 *  - The library never prints, exits or aborts on bad input.
 *  - Long-lived objects are opaque handles with _new/_free pairs; _free(NULL)
 *    does nothing.  A finalized xcr_book is immutable and may be shared by any
 *    number of threads.
 *  - Units: money in USD, prices in USD per unit of the asset, amounts in units
 *    of the asset, rates and moves as fractions (0.05 = 5 %), times as seconds
 *    since the Unix epoch (UTC) inside the library and ISO 8601 in files.
 */
#ifndef XCR_H
#define XCR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(XCR_BUILDING_LIBRARY) && defined(__GNUC__)
#define XCR_API __attribute__((visibility("default")))
#else
#define XCR_API
#endif

#define XCR_VERSION_MAJOR 0
#define XCR_VERSION_MINOR 1
#define XCR_VERSION_PATCH 0
#define XCR_VERSION_STRING "0.1.0"

/** Library version, e.g. "0.1.0". */
XCR_API const char *xcr_version_string(void);

/* MARK: status codes ------------------------------------------------------ */

/* One list generates the enum, xcr_status_name() and xcr_strerror(). */
#define XCR_STATUS_MAP(X)                                                   \
    X(OK, "success")                                                        \
    X(EINVAL, "invalid argument or input value")                            \
    X(ENOMEM, "out of memory")                                              \
    X(EPARSE, "malformed input")                                            \
    X(EREF, "unknown reference")                                            \
    X(EDUP, "duplicate identifier")                                         \
    X(ERANGE, "result out of range")                                        \
    X(ENOTPD, "matrix is not positive definite")                            \
    X(EIO, "input/output error")                                            \
    X(EDB, "database error")                                                \
    X(ENOTFOUND, "not found")                                               \
    X(EINTERNAL, "internal error")                                          \
    X(ENODEV, "no GPU back end or device")

typedef enum xcr_status {
#define XCR__ENUM(name, text) XCR_##name,
    XCR_STATUS_MAP(XCR__ENUM)
#undef XCR__ENUM
    XCR_STATUS_COUNT
} xcr_status;

/** Short upper-case name of a status, e.g. "EPARSE". Never NULL. */
XCR_API const char *xcr_status_name(xcr_status s);
/** Human description of a status. Never NULL. */
XCR_API const char *xcr_strerror(xcr_status s);

/** Error detail: the code and a one-line located message. */
typedef struct xcr_error {
    xcr_status code;
    char msg[512];
} xcr_error;

/* MARK: allocator --------------------------------------------------------- */

/** Pluggable allocator.  Everything a book, its markets and their
 *  evaluation workspaces allocate goes through it; text handed to the caller
 *  (reports, explain, JSON text) comes from libc malloc and is released with
 *  free().  jansson keeps its own allocator.  NULL = libc. */
typedef struct xcr_allocator {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} xcr_allocator;

/* MARK: enums -------------------------------------------------------------- */

typedef enum xcr_mode {
    XCR_MODE_CROSS = 0,
    XCR_MODE_ISOLATED,
    XCR_MODE_PORTFOLIO,
    XCR_MODE_LENDING
} xcr_mode;

typedef enum xcr_inst_type { XCR_PERP = 0, XCR_FUTURE, XCR_OPTION } xcr_inst_type;

typedef enum xcr_acct_status {
    XCR_HEALTHY = 0,
    XCR_MARGIN_CALL,
    XCR_LIQUIDATABLE,
    XCR_BANKRUPT
} xcr_acct_status;

typedef enum xcr_liq_model {
    XCR_LIQ_NONE = 0,
    XCR_LIQ_LINEAR,
    XCR_LIQ_SQRT,
    XCR_LIQ_AMM,
    XCR_LIQ_BOOK
} xcr_liq_model;

XCR_API const char *xcr_mode_name(xcr_mode m);
XCR_API const char *xcr_inst_type_name(xcr_inst_type t);
XCR_API const char *xcr_acct_status_name(xcr_acct_status s);
XCR_API const char *xcr_liq_model_name(xcr_liq_model m);

/* MARK: book definitions (inputs to the builder) --------------------------- */

/** Where an item came from, so that errors can name the place.  Any field
 *  may be NULL/0.  kind: 0 = none, 1 = JSON (path, e.g. "$.assets[3]"),
 *  2 = CSV (line and header columns), 3 = SQLite (table and rowid). */
typedef struct xcr_loc {
    int kind;
    const char *file;
    const char *path;            /* JSON path of the item                    */
    long line;                   /* CSV line (1-based), or SQLite rowid      */
    const char *table;           /* SQLite table                             */
    const char *const *columns;  /* CSV header names, to locate a field      */
    size_t ncolumns;
} xcr_loc;

/** A collateral tier: the slice of positive USD value up to `upper_usd`
 *  (INFINITY = no cap) counts at `weight`. */
typedef struct xcr_tier_def {
    double upper_usd;
    double weight;
} xcr_tier_def;

typedef struct xcr_liquidity_def {
    xcr_liq_model model;
    double p[3];              /* linear: depth_usd; sqrt: daily_volume_usd,
                                 daily_vol, coef; amm: base_reserve,
                                 quote_reserve, fee                         */
    const double *levels;     /* book: pairs (move, cumulative_usd)          */
    size_t nlevels;
    double recovery;          /* fraction of impact decaying per round       */
} xcr_liquidity_def;

typedef struct xcr_asset_def {
    const char *symbol;
    double price;             /* USD, > 0                                    */
    double vol;               /* annualised, >= 0                            */
    int stable;
    const xcr_tier_def *tiers; /* NULL/0 = [[null, 1.0]]                      */
    size_t ntiers;
    double liability_weight;  /* >= 1                                        */
    double borrow_imr, borrow_mmr;
    int has_lending;
    double ltv, liquidation_threshold, liquidation_bonus, protocol_fee;
    int emode_category;
    xcr_liquidity_def liquidity; /* model NONE = no impact                  */
} xcr_asset_def;

/** Fill an asset definition with the spec defaults. */
XCR_API void xcr_asset_def_init(xcr_asset_def *d);

typedef struct xcr_margin_tier_def {
    double notional_max;      /* USD; INFINITY = no cap                     */
    double imr, mmr;
} xcr_margin_tier_def;

typedef struct xcr_instrument_def {
    const char *id;
    xcr_inst_type type;
    const char *underlying;
    const char *settle;       /* NULL = default per spec                    */
    int inverse;
    double contract_size;     /* default 1                                  */
    double mark_price;        /* 0 = the underlying's price                 */
    const char *expiry;       /* ISO 8601, required for futures and options */
    double strike;
    int is_call;
    double iv;
    const xcr_margin_tier_def *tiers; /* NULL/0 = [{null, 0.1, 0.05}]        */
    size_t ntiers;
} xcr_instrument_def;

XCR_API void xcr_instrument_def_init(xcr_instrument_def *d);

typedef struct xcr_account_def {
    const char *id;
    xcr_mode mode;
    int emode;
    const char *entity;       /* NULL = none                                */
} xcr_account_def;

typedef struct xcr_emode_def {
    int id;
    double ltv, liquidation_threshold, liquidation_bonus;
} xcr_emode_def;

/* MARK: book --------------------------------------------------------------- */

typedef struct xcr_book xcr_book;

/** Create an empty, mutable book.  alloc may be NULL (libc). */
XCR_API xcr_status xcr_book_new(const xcr_allocator *alloc, xcr_book **out);
XCR_API void xcr_book_free(xcr_book *b);

/** Set the valuation time (ISO 8601 UTC). */
XCR_API xcr_status xcr_book_set_as_of(xcr_book *b, const char *iso,
                                      const xcr_loc *loc, xcr_error *err);
/* Add items.  Assets must be added before the instruments and balances that
 * name them, instruments before the positions, accounts before their
 * balances and positions.  Each call validates its item fully. */
XCR_API xcr_status xcr_book_add_asset(xcr_book *b, const xcr_asset_def *d,
                                      const xcr_loc *loc, xcr_error *err);
XCR_API xcr_status xcr_book_add_instrument(xcr_book *b,
                                           const xcr_instrument_def *d,
                                           const xcr_loc *loc, xcr_error *err);
XCR_API xcr_status xcr_book_add_account(xcr_book *b, const xcr_account_def *d,
                                        const xcr_loc *loc, xcr_error *err);
/** Add `amount` of `symbol` to an account's balance.  A symbol listed twice
 *  for one account is a duplicate-id error. */
XCR_API xcr_status xcr_book_add_balance(xcr_book *b, const char *account,
                                        const char *symbol, double amount,
                                        const xcr_loc *loc, xcr_error *err);
/** entry_price NAN = the instrument's mark (no unrealised PnL). */
XCR_API xcr_status xcr_book_add_position(xcr_book *b, const char *account,
                                         const char *instrument, double size,
                                         double entry_price,
                                         double isolated_margin,
                                         const xcr_loc *loc, xcr_error *err);
/** Set one settings key from its JSON text (e.g. "emode_categories"). */
XCR_API xcr_status xcr_book_set_setting(xcr_book *b, const char *key,
                                        const char *json_text,
                                        const xcr_loc *loc, xcr_error *err);
/** Check cross references and build the evaluation layout.  After this the
 *  book is immutable. */
XCR_API xcr_status xcr_book_finalize(xcr_book *b, xcr_error *err);

/* Read-only accessors (valid on a finalized book). */
XCR_API size_t xcr_book_asset_count(const xcr_book *b);
XCR_API size_t xcr_book_instrument_count(const xcr_book *b);
XCR_API size_t xcr_book_account_count(const xcr_book *b);
XCR_API size_t xcr_book_position_count(const xcr_book *b);
XCR_API const char *xcr_book_as_of(const xcr_book *b); /* NULL if unset */
XCR_API const char *xcr_book_asset_symbol(const xcr_book *b, size_t i);
XCR_API double xcr_book_asset_price(const xcr_book *b, size_t i);
XCR_API int xcr_book_asset_stable(const xcr_book *b, size_t i);
XCR_API const char *xcr_book_account_id(const xcr_book *b, size_t i);
XCR_API xcr_mode xcr_book_account_mode(const xcr_book *b, size_t i);
/** Index of an asset / instrument / account by id; -1 if unknown. */
XCR_API long xcr_book_find_asset(const xcr_book *b, const char *symbol);
XCR_API long xcr_book_find_instrument(const xcr_book *b, const char *id);
XCR_API long xcr_book_find_account(const xcr_book *b, const char *id);

/* MARK: input / output ----------------------------------------------------- */

typedef enum xcr_format {
    XCR_FORMAT_AUTO = 0,
    XCR_FORMAT_JSON,
    XCR_FORMAT_CSV,     /* a folder of CSV tables */
    XCR_FORMAT_SQLITE
} xcr_format;

/** The form a path names: *.json → JSON, *.db / *.sqlite / *.sqlite3 →
 *  SQLite, anything else → a CSV folder.  For reading, an existing file is
 *  sniffed (SQLite header, else JSON) and a directory is a CSV folder. */
XCR_API xcr_format xcr_format_for_path(const char *path, int for_reading);

/** Load a finalized book from JSON text / a file / a folder / a database. */
XCR_API xcr_status xcr_book_load(const char *path, xcr_format fmt,
                                 const xcr_allocator *alloc, xcr_book **out,
                                 xcr_error *err);
XCR_API xcr_status xcr_book_load_json_text(const char *text, size_t len,
                                           const char *name,
                                           const xcr_allocator *alloc,
                                           xcr_book **out, xcr_error *err);
/** Write a finalized book.  Nothing is left at `path` on failure. */
XCR_API xcr_status xcr_book_save(const xcr_book *b, const char *path,
                                 xcr_format fmt, xcr_error *err);
/** The book as JSON text (malloc'd by the book's allocator-independent libc
 *  malloc; release with free()). */
XCR_API xcr_status xcr_book_to_json_text(const xcr_book *b, char **out,
                                         xcr_error *err);

/* MARK: margin --------------------------------------------------------------- */

/** Per-position results. Amounts in USD. */
typedef struct xcr_position_result {
    double notional;          /* |size|·cs·mark (linear) or |size|·cs      */
    double upnl;              /* unrealised PnL (options: value) in USD      */
    double initial_margin, maintenance_margin;
    int bracket;              /* index of the margin tier used (0-based)     */
    xcr_acct_status status;   /* isolated mode only; else HEALTHY            */
} xcr_position_result;

/** Per-account results. Amounts in USD. */
typedef struct xcr_account_result {
    double equity;
    double collateral;
    double initial_margin;
    double maintenance_margin;
    double health;            /* collateral/MM; INFINITY when MM = 0         */
    double health_factor;     /* lending only; INFINITY with no debt, NAN for
                                 other modes                                 */
    double borrow_capacity;   /* lending only; NAN for other modes           */
    xcr_acct_status status;
} xcr_account_result;

/** Mutable market state (prices, marks, vols) over an immutable book. */
typedef struct xcr_market xcr_market;

/** A market at the book's own prices. */
XCR_API xcr_status xcr_market_new(const xcr_book *b, xcr_market **out);
XCR_API void xcr_market_free(xcr_market *m);
/** Move an asset's price to `price` (USD > 0); instrument marks on it move
 *  by the same factor. */
XCR_API xcr_status xcr_market_set_price(xcr_market *m, size_t asset,
                                        double price, xcr_error *err);
XCR_API double xcr_market_price(const xcr_market *m, size_t asset);
/** Set every asset's price at once (`prices` has xcr_book_asset_count()
 *  entries, each finite and > 0); instrument marks and option values are
 *  recomputed once. */
XCR_API xcr_status xcr_market_set_prices(xcr_market *m, const double *prices,
                                         xcr_error *err);
/** Shift the implied volatility of every option on `asset` by `shift`
 *  (absolute vol points: +0.3 turns iv 0.6 into 0.9; floored at 0).  The
 *  shift replaces any earlier shift of that asset. */
XCR_API xcr_status xcr_market_set_vol_shift(xcr_market *m, size_t asset,
                                            double shift, xcr_error *err);
/** Back to the book's own prices and vols. */
XCR_API void xcr_market_reset(xcr_market *m);

/** Evaluate every account.  `out` has xcr_book_account_count() entries and
 *  is owned by the caller.  threads <= 0 picks the core count; results are
 *  bit-identical for any thread count.  Fails with ERANGE (naming the
 *  account) if a result is not finite. */
XCR_API xcr_status xcr_margin_all(const xcr_market *m, int threads,
                                  xcr_account_result *out, xcr_error *err);
/** Evaluate one account; `pos_out` (may be NULL) receives one entry per
 *  position of the account, in book order. */
XCR_API xcr_status xcr_margin_account(const xcr_market *m, size_t account,
                                      xcr_account_result *out,
                                      xcr_position_result *pos_out,
                                      xcr_error *err);
XCR_API size_t xcr_book_account_position_count(const xcr_book *b, size_t acct);

/* MARK: liquidation prices ------------------------------------------------ */

/** Liquidation price of one exposed asset: NAN where none exists in
 *  (0, 10×price]. */
typedef struct xcr_liq_price {
    size_t asset;
    double down, up;
} xcr_liq_price;

/** Assets (non-stable) whose price changes the account's margin. Writes up
 *  to `cap` asset indexes to `out` and returns how many there are; the count
 *  is exact when cap >= xcr_book_asset_count() (duplicates beyond `cap` cannot
 *  be recognised). */
XCR_API size_t xcr_account_exposed_assets(const xcr_book *b, size_t account,
                                          size_t *out, size_t cap);
/** Nearest price below and above the current one at which the account
 *  becomes liquidatable (status liquidatable or bankrupt), all other prices
 *  fixed.  If the account already is liquidatable, both are the current
 *  price.  Exact to 1e-9 relative on piecewise-smooth margin functions. */
XCR_API xcr_status xcr_liquidation_price(const xcr_market *m, size_t account,
                                         size_t asset, xcr_liq_price *out,
                                         xcr_error *err);
/** Smallest uniform move of all non-stable assets (down in [-0.99, 0], up
 *  in [0, 9]) that makes the account liquidatable; NAN where none. */
XCR_API xcr_status xcr_liquidation_shock(const xcr_market *m, size_t account,
                                         double *down, double *up,
                                         xcr_error *err);

/* MARK: explain --------------------------------------------------------------- */

/** A plain-language breakdown of one account (UTF-8 text, caller frees with
 *  free()). */
XCR_API xcr_status xcr_explain(const xcr_market *m, size_t account,
                               char **text, xcr_error *err);

/* MARK: reports ------------------------------------------------------------- */

typedef enum xcr_out_format {
    XCR_OUT_TABLE = 0,
    XCR_OUT_JSON,
    XCR_OUT_CSV
} xcr_out_format;

/** Progress callback: `done` of `total` accounts processed. */
typedef void (*xcr_progress_fn)(void *ctx, size_t done, size_t total);

typedef struct xcr_margin_report_opts {
    xcr_out_format format;
    long account;             /* index of one account, or -1 for all        */
    int threads;              /* <= 0: all cores                            */
    int liquidation;          /* compute liquidation prices and shocks      */
    xcr_progress_fn progress; /* may be NULL                                */
    void *progress_ctx;
} xcr_margin_report_opts;

/** Write the `xcr margin` report (spec §2 JSON, a CSV table or an aligned
 *  text table) to `out`.  Results are identical for any thread count. */
XCR_API xcr_status xcr_margin_report(const xcr_market *m,
                                     const xcr_margin_report_opts *o,
                                     FILE *out, xcr_error *err);

/* MARK: option pricing ------------------------------------------------------ */

/** Black-76 value and Greeks of a European option on a forward, no
 *  discounting.  t in years, vol annualised.  At t <= 0 or vol == 0 the
 *  intrinsic value is returned with delta 0/±1 and zero higher Greeks. */
typedef struct xcr_greeks {
    double value, delta, gamma, vega, theta, vanna, volga;
} xcr_greeks;
XCR_API void xcr_black76(int is_call, double fwd, double strike, double t,
                         double vol, xcr_greeks *out);

/* MARK: demo book ------------------------------------------------------------ */

typedef struct xcr_demo_opts {
    size_t accounts;          /* default 1000                               */
    uint64_t seed;            /* default 1                                  */
    double positions_per_account; /* mean, default 3                       */
} xcr_demo_opts;

/** A seeded synthetic exchange book (finalized). */
XCR_API xcr_status xcr_demo_book(const xcr_demo_opts *o,
                                 const xcr_allocator *alloc, xcr_book **out,
                                 xcr_error *err);

#ifdef __cplusplus
}
#endif

/* Subsystem APIs. */
#include "xcr/portfolio.h"
#include "xcr/stress.h"
#include "xcr/gpu.h"
#include "xcr/monitor.h"
#include "xcr/cascade.h"
#include "xcr/contagion.h"

#endif /* XCR_H */
