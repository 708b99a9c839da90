/* Internal state of the live monitor (docs/serve.md "Design").
 *
 * The book is immutable after finalize (docs/API.md rule 6), so the live
 * state is the main book plus an overlay:
 *  - main book, its market, an asset → accounts index (CSR);
 *  - upserted accounts are definitions (acct_def) held in the overlay and
 *    built into a small second book with the same assets, instruments and
 *    settings (and its own market kept at the same prices);
 *  - an upsert of a live main account shadows it in place; a delete of a
 *    main account is a tombstone; a new id is appended after the main book;
 *  - past `overlay_max` upserted accounts the state is compacted: the main
 *    book is rebuilt with the overlay folded in (same canonical order).
 * Canonical order (the order of the equivalent book, xcr_monitor_snapshot):
 * main accounts in book order (shadowed ones replaced in place, deleted
 * ones dropped), then new accounts in order of creation.  Compaction does
 * not change it, so results never depend on when it happened.
 */
#ifndef XCR_MONITOR_INT_H
#define XCR_MONITOR_INT_H

#include "../margin/fast_margin.h"
#include "../margin/margin.h"

#include <pthread.h>

#define TRY(x)                                                                 \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

/* An account definition (resolved against the main book's assets and
 * instruments, which never change). */
struct xcr_account_upsert {
    char *id;
    xcr_mode mode;
    int emode;
    char *entity;
    size_t nbal;
    uint32_t *bal_asset;
    double *bal_amt;
    size_t npos;
    uint32_t *pos_inst;
    double *pos_size, *pos_entry, *pos_iso; /* entry NAN = not given */
};
typedef struct xcr_account_upsert acct_def;

acct_def *xcr__def_clone(const acct_def *d);
/* Normalised JSON of a definition (the logged body). */
char *xcr__def_json(const xcr_book *b, const acct_def *d);
/* Definition of account i of a finalized book. */
acct_def *xcr__def_from_book(const xcr_book *b, size_t i);

/* Copy assets, instruments, settings and as_of of `src` into a new
 * mutable book. */
xcr_status xcr__book_copy_header(const xcr_book *src, xcr_book **out,
                                 xcr_error *err);
/* Add one account definition to a mutable book. */
xcr_status xcr__book_add_def(xcr_book *b, const acct_def *d, xcr_error *err);

/* JSON nesting depth of a text (outside strings); parsers reject > 32. */
int xcr__json_depth(const char *text, size_t len);
#define XCR__MAX_JSON_DEPTH 32

/* MARK: persistence backends ------------------------------------------------- */

typedef struct xcr__alert {
    uint64_t seq, update_seq;
    double time;
    uint8_t kind;            /* 0 status, 1 health_level                   */
    uint8_t from, to;        /* xcr_acct_status                            */
    double health, level;
    char account[68];
} xcr__alert;

typedef struct xcr__store xcr__store;
typedef xcr_status (*xcr__replay_fn)(void *ctx, uint64_t seq, double time,
                                     const char *kind, const char *body,
                                     xcr_error *err);
typedef struct xcr__store_ops {
    /* ENOTFOUND when the store holds no book yet. */
    xcr_status (*load_book)(xcr__store *s, xcr_book **out, xcr_error *err);
    xcr_status (*save_book)(xcr__store *s, const xcr_book *b, xcr_error *err);
    xcr_status (*replay)(xcr__store *s, xcr__replay_fn fn, void *ctx,
                         xcr_error *err);
    /* The last `n` alerts (ascending seq) through fn. */
    xcr_status (*load_alerts)(xcr__store *s, size_t n,
                              void (*fn)(void *ctx, const xcr__alert *a),
                              void *ctx, xcr_error *err);
    /* One durable transaction: the update and its alerts. */
    xcr_status (*append)(xcr__store *s, uint64_t seq, double time,
                         const char *kind, const char *body,
                         const xcr__alert *alerts, size_t n, xcr_error *err);
    void (*close)(xcr__store *s);
} xcr__store_ops;
struct xcr__store {
    const xcr__store_ops *ops;
};

xcr_status xcr__store_sqlite_open(const char *path, xcr__store **out,
                                  xcr_error *err);
#ifdef XCR_HAVE_LIBPQ
xcr_status xcr__store_pg_open(const char *uri, xcr__store **out,
                              xcr_error *err);
#endif

/* MARK: the monitor ------------------------------------------------------------ */

/* What a slot of the canonical order refers to. */
enum { SLOT_MAIN = 0, SLOT_OVERLAY = 1 };

typedef struct sums3 {
    double eq, col, mm;
} sums3;

struct xcr_monitor {
    xcr_monitor_opts opts;
    double levels[XCR_MONITOR_MAX_LEVELS];
    unsigned level_lt[XCR_MONITOR_MAX_LEVELS]; /* levels below levels[l] */
    size_t n_levels;
    int threads;

    /* main book */
    xcr_book *book;
    xcr_market *mkt;
    size_t n_main;
    /* evaluation copy of the main book: the same accounts stored grouped
     * by exposure set (monitor.c "locality"), so the accounts one asset
     * touches lie in a few contiguous runs; used only to evaluate live
     * main accounts, everything visible stays in canonical order */
    xcr_book *ebook;
    xcr_market *emkt;
    xcr__fast_tab eftab;           /* streaming kernel's tables for emkt
                                      (inst NULL: not built)               */
    uint32_t *phys_of;             /* main slot → ebook index              */
    uint32_t *slot_of_phys;        /* ebook index → main slot              */
    uint32_t *idx_off, *idx_acct;  /* asset → ebook indices (CSR)          */
    uint8_t *main_state;           /* 0 live, 1 shadowed, 2 deleted        */
    uint64_t *off_bits;            /* by ebook index: main_state != 0      */
    int32_t *main_ov;              /* overlay index of a shadowed account  */

    /* overlay */
    acct_def **defs;               /* upserted definitions                 */
    long *def_main;                /* shadowed main index or -1            */
    size_t n_defs, cap_defs;
    xcr_book *ov_book;             /* built from defs (same order)         */
    xcr_market *ov_mkt;
    uint32_t *def_slot;            /* canonical slot of each def           */
    uint32_t *new_def;             /* slot - n_main → def (new accounts)   */
    uint8_t **def_exposed;         /* per def: n_assets flags              */
    xcr__strmap ov_map;            /* id → def index                       */

    /* live vol shifts (per asset; NAN = none) and asset vols */
    double *vol_shift, *vol;

    /* canonical slots: 0..n_main-1 = main positions, then new accounts */
    size_t n_slots, cap_slots;
    xcr_account_result *res;       /* 64-byte aligned: one line a slot     */
    sums3 *sums;                   /* zero for dead slots                  */
    /* per slot: status << 4 | number of health levels <= health.  Two
     * results raise an alert exactly when their bands differ (crosses()),
     * and at one byte a slot the tick's alert check and status counts stay
     * in cache instead of reading res[] (64 MiB at 1M accounts) */
    uint8_t *band;
    uint8_t *alive;
    size_t by_status[4];
    size_t n_live;

    /* scratch for ticks */
    uint64_t *touched_bits;
    uint32_t *touched;
    uint32_t *touched_phys;        /* ebook index, UINT32_MAX = overlay    */
    xcr_account_result *scratch;
    uint8_t *flags;                /* per touched account: alerts?         */
    xcr__ws ws[XCR__MAX_THREADS];
    int n_ws;
    /* a tick's alerts as its threads make them (per thread: the alerts,
     * and per alerting account its slot and first alert) */
    struct xcr__tick_alerts {
        xcr__alert *a;
        size_t n, cap;
        uint32_t *rec; /* pairs: slot, index of its first alert in a */
        size_t nrec, cap_rec;
        bool oom;
    } ta[XCR__MAX_THREADS];

    /* counters */
    uint64_t seq, ticks, alert_seq;
    double last_tick, recompute_ms;

    /* alerts ring */
    xcr__alert *ring;
    size_t ring_cap, ring_len, ring_head; /* head = oldest                */
    xcr__alert *pending;           /* alerts of the update in progress     */
    size_t n_pending, cap_pending;

    xcr__store *store;
    bool replaying;
};

#endif
