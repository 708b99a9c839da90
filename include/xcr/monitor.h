/*
 * xcr live margin monitor: every account in memory, incremental recompute of
 * the accounts a price tick touches, alerts on status transitions and health
 * level crossings, and a durable log of every applied update (SQLite, or
 * PostgreSQL when built with libpq).  The HTTP front end (`xcr serve`,
 * server/) is a thin layer over this API; see docs/serve.md.
 *
 * A monitor is not thread-safe: callers serialise access (the server makes
 * every call from one engine thread, server/serve_engine.c).
 */
#ifndef XCR_MONITOR_H
#define XCR_MONITOR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xcr_monitor xcr_monitor;

#define XCR_MONITOR_MAX_LEVELS 8

typedef struct xcr_monitor_opts {
    const char *book_path;    /* BOOK to import into a new state (NULL: the
                                 demo book)                                 */
    size_t demo_accounts;     /* demo book size when book_path is NULL
                                 (0 = 1000)                                 */
    uint64_t demo_seed;       /* 0 = 1                                      */
    const char *db_path;      /* SQLite state file (NULL = none)            */
    const char *pg_uri;       /* PostgreSQL conninfo (NULL = none)          */
    double levels[XCR_MONITOR_MAX_LEVELS]; /* health levels that raise an
                                 alert when crossed (either direction)      */
    size_t n_levels;          /* 0 with levels unset: {1.5, 1.2, 1.1}       */
    size_t overlay_max;       /* compact when this many accounts are
                                 upserted (0 = 4096)                         */
    size_t alert_ring;        /* alerts kept in memory (0 = 65536)          */
    int threads;              /* recompute threads (<= 0: all cores)        */
    /* Optional: called by xcr_monitor_apply_ticks as soon as the update's
     * alerts are final — logged durably with the update and readable with
     * xcr_monitor_alert_json (seqs first .. first + n - 1) — and before the
     * accounts' new results are committed, so that a service can send the
     * alerts without waiting for the commit.  Runs on the calling thread;
     * it may only read (xcr_monitor_alert_json, xcr_monitor_alerts_json,
     * xcr_monitor_account_result, which still gives the result before the
     * update), never update or compact the monitor.  Not called when the
     * update has no alerts or fails. */
    void (*on_tick_alerts)(void *ctx, uint64_t first, size_t n);
    void *on_tick_alerts_ctx;
} xcr_monitor_opts;

/** Defaults (demo book, no database, default levels). */
XCR_API void xcr_monitor_opts_init(xcr_monitor_opts *o);

/** Open a monitor.  With a database that already holds a state the state is
 *  resumed (the book is loaded and every logged update replayed) and
 *  `book_path` is ignored (*resumed = 1); otherwise the book (or the demo
 *  book) is imported and stored.  resumed may be NULL. */
XCR_API xcr_status xcr_monitor_open(const xcr_monitor_opts *o,
                                    xcr_monitor **out, int *resumed,
                                    xcr_error *err);
/** Open over an existing finalized book (taken over: freed with the
 *  monitor), without persistence. */
XCR_API xcr_status xcr_monitor_new(xcr_book *book, const xcr_monitor_opts *o,
                                   xcr_monitor **out, xcr_error *err);
XCR_API void xcr_monitor_free(xcr_monitor *m);

/* MARK: parsing (pure: no state change) ------------------------------------- */

/** One price tick: asset index, price (USD, finite > 0) and the asset's new
 *  annualised volatility (NAN = unchanged). */
typedef struct xcr_tick {
    size_t asset;
    double price;
    double vol;
} xcr_tick;

/** Parse a tick batch `{"ticks": [{"symbol", "price", "vol"?}, ...]}` or one
 *  tick object `{"symbol", "price", "vol"?}` (a line of `--ticks -`).  Every
 *  tick must name a known symbol with a finite price > 0 and, if given, a
 *  finite vol >= 0; otherwise EPARSE/EINVAL/EREF with a located message and
 *  nothing returned.  *ticks is malloc'd (free()); at most 100000 ticks. */
XCR_API xcr_status xcr_ticks_parse(const xcr_book *b, const char *text,
                                   size_t len, xcr_tick **ticks, size_t *n,
                                   xcr_error *err);

/** An account definition from an upsert body (spec §1 ACCOUNT). */
typedef struct xcr_account_upsert xcr_account_upsert;
/** Parse one ACCOUNT object.  `path_id` (may be NULL) is the id from the
 *  URL: the body's id must match it or be absent. */
XCR_API xcr_status xcr_account_upsert_parse(const xcr_book *b,
                                            const char *text, size_t len,
                                            const char *path_id,
                                            xcr_account_upsert **out,
                                            xcr_error *err);
XCR_API void xcr_account_upsert_free(xcr_account_upsert *u);
XCR_API const char *xcr_account_upsert_id(const xcr_account_upsert *u);

/** Query of GET /v1/accounts. */
typedef struct xcr_account_query {
    int status;               /* -1 = any, else an xcr_acct_status          */
    int sort;                 /* 0 = id (book order), 1 = health, 2 = equity */
    size_t limit, offset;     /* default 100, max 10000                     */
} xcr_account_query;
/** Parse a query string "status=...&sort=...&limit=N&offset=K" (NULL or ""
 *  = defaults); unknown keys are errors. */
XCR_API xcr_status xcr_account_query_parse(const char *qs,
                                           xcr_account_query *out,
                                           xcr_error *err);
/** Read the decimal value of `key` from a query string: 1 found, 0 absent,
 *  -1 malformed. */
XCR_API int xcr_query_u64(const char *qs, const char *key, uint64_t *out);

/* MARK: updates --------------------------------------------------------------- */

typedef struct xcr_update_result {
    uint64_t seq;             /* update sequence number                     */
    size_t recomputed;        /* accounts re-evaluated                      */
    size_t alerts;            /* alerts raised                              */
    uint64_t first_alert;     /* seq of the first one                       */
    double recompute_ms;
} xcr_update_result;

/** Apply a tick batch: every account exposed to a moved asset is
 *  re-evaluated, alerts raised, and the batch (with its alerts) made
 *  durable before returning.  `now` = seconds since the epoch.  Nothing
 *  changes on failure. */
XCR_API xcr_status xcr_monitor_apply_ticks(xcr_monitor *m,
                                           const xcr_tick *ticks, size_t n,
                                           double now, xcr_update_result *r,
                                           xcr_error *err);
/** Create or replace an account (its result must be finite). */
XCR_API xcr_status xcr_monitor_upsert(xcr_monitor *m,
                                      const xcr_account_upsert *u,
                                      double now, xcr_update_result *r,
                                      xcr_error *err);
/** Delete an account (ENOTFOUND if unknown). */
XCR_API xcr_status xcr_monitor_delete(xcr_monitor *m, const char *id,
                                      double now, xcr_update_result *r,
                                      xcr_error *err);

/* MARK: reading ----------------------------------------------------------------- */

typedef struct xcr_monitor_stats {
    uint64_t seq;             /* last applied update                         */
    uint64_t ticks;           /* ticks applied                               */
    uint64_t alert_seq;       /* last alert                                  */
    size_t accounts;
    size_t by_status[4];
    double last_tick;         /* seconds since the epoch; NAN if none       */
    double recompute_ms;      /* last tick batch                             */
} xcr_monitor_stats;
XCR_API void xcr_monitor_stats_get(const xcr_monitor *m, xcr_monitor_stats *s);

/** Result of one account by id (ENOTFOUND if unknown). */
XCR_API xcr_status xcr_monitor_account_result(const xcr_monitor *m,
                                              const char *id,
                                              xcr_account_result *out);
/** The main book: its assets and instruments are those of the live state
 *  (parse ticks and upserts against it); valid until the next update. */
XCR_API const xcr_book *xcr_monitor_book(const xcr_monitor *m);
/** Number of live accounts. */
XCR_API size_t xcr_monitor_account_count(const xcr_monitor *m);

/** The live state as a finalized book plus a market at the live prices and
 *  vols: the reference for "a full `xcr margin` of the same state". */
XCR_API xcr_status xcr_monitor_snapshot(const xcr_monitor *m,
                                        xcr_book **book, xcr_market **mkt,
                                        xcr_error *err);

/* JSON views (docs/serve.md); text is malloc'd, release with free(). */
XCR_API xcr_status xcr_monitor_summary_json(const xcr_monitor *m, char **out,
                                            xcr_error *err);
/** The per-tick stream event: seq, ticks, summary, prices, recompute_ms. */
XCR_API xcr_status xcr_monitor_tick_json(const xcr_monitor *m, char **out,
                                         xcr_error *err);
XCR_API xcr_status xcr_monitor_accounts_json(const xcr_monitor *m,
                                             const xcr_account_query *q,
                                             char **out, xcr_error *err);
/** {"account": <xcr margin JSON object>, "explain": "..."}. */
XCR_API xcr_status xcr_monitor_account_json(const xcr_monitor *m,
                                            const char *id, char **out,
                                            xcr_error *err);
/** {"alerts": [...], "next": seq} of alerts with seq >= since. */
XCR_API xcr_status xcr_monitor_alerts_json(const xcr_monitor *m,
                                           uint64_t since, size_t limit,
                                           char **out, xcr_error *err);
/** One alert (seq) as JSON; ENOTFOUND when no longer in memory. */
XCR_API xcr_status xcr_monitor_alert_json(const xcr_monitor *m, uint64_t seq,
                                          char **out, xcr_error *err);
/* Risk views on the live state; they may compact the state first. */
XCR_API xcr_status xcr_monitor_exposure_json(xcr_monitor *m, char **out,
                                             xcr_error *err);
XCR_API xcr_status xcr_monitor_lar_json(xcr_monitor *m, char **out,
                                        xcr_error *err);
/** Body {"scenario": "NAME"} (a built-in scenario). */
XCR_API xcr_status xcr_monitor_stress_json(xcr_monitor *m, const char *body,
                                           size_t len, char **out,
                                           xcr_error *err);

/** Fold the upserted accounts into the main book now. */
XCR_API xcr_status xcr_monitor_compact(xcr_monitor *m, xcr_error *err);

/** 1 when the build has the PostgreSQL backend. */
XCR_API int xcr_monitor_has_pg(void);

#ifdef __cplusplus
}
#endif

#endif /* XCR_MONITOR_H */
