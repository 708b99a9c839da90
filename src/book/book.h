/* Internal layout of a book.
 *
 * Assets and instruments are few (tens to thousands) and are kept as arrays
 * of structs.  Accounts, balances and positions are many (millions) and are
 * kept as structure-of-arrays in CSR form: the balances and positions of one
 * account are contiguous, so a revaluation streams through memory once.
 *
 * While a book is being built, balances and positions are staged in the order
 * they arrive (any account order); xcr_book_finalize() groups them by account
 * with a stable counting sort, so each account keeps its input order.
 */
#ifndef XCR_BOOK_H
#define XCR_BOOK_H

#include "../core/core.h"

#include <math.h>

/* Collateral tier [lo, hi) with weight; `base` is the collateral value
 * accumulated by all lower tiers, so tiered(v) = base + (v − lo)·weight. */
typedef struct xcr__tier {
    double lo, hi, weight, base;
} xcr__tier;

/* Margin bracket [lo, hi) with rates and the maintenance amounts that keep
 * the margin continuous (Binance's recursion, margin-models.md §3.1):
 * MM(N) = N·mmr − cum_mm. */
typedef struct xcr__mtier {
    double lo, hi, imr, mmr, cum_im, cum_mm;
} xcr__mtier;

typedef struct xcr__asset {
    char *symbol;
    double price, vol;
    bool stable;
    double liability_weight, borrow_imr, borrow_mmr;
    bool has_lending;
    double ltv, lt, lbonus, pfee;
    int emode;
    uint32_t tier_off, ntiers;  /* into book->tiers                         */
    bool tiers_concave;         /* weights non-increasing                   */
    xcr_liquidity_def liq;      /* liq.levels points at levels_owned        */
    double *levels_owned;
} xcr__asset;

typedef struct xcr__inst {
    char *id;
    xcr_inst_type type;
    uint32_t und, settle;
    bool inverse;
    bool settle_given;          /* settle named in the input                */
    double cs, mark;
    char *expiry_str;           /* NULL if none                             */
    double expiry;              /* seconds since epoch                      */
    double strike, iv;
    bool is_call;
    uint32_t mt_off, nmt;       /* into book->mtiers                        */
} xcr__inst;

typedef struct xcr__setting {
    char *key;
    char *json;                 /* compact JSON text of the value           */
} xcr__setting;

/* Account flags computed at finalize. */
enum {
    XCR__ACCT_NONCONCAVE = 1,   /* margin surplus may be non-concave in
                                   prices (long options, rising tiers)      */
};

struct xcr_book {
    xcr_allocator alloc_copy;
    const xcr_allocator *alloc; /* == &alloc_copy                           */
    bool finalized;

    char *as_of_str;
    double as_of;
    bool has_as_of;

    xcr__asset *assets;
    size_t n_assets, cap_assets;
    xcr__tier *tiers;
    size_t n_tiers, cap_tiers;

    xcr__inst *insts;
    size_t n_insts, cap_insts;
    xcr__mtier *mtiers;
    size_t n_mtiers, cap_mtiers;

    /* accounts (SoA) */
    size_t n_accts, cap_accts;
    char **acct_id;
    uint8_t *acct_mode;
    int32_t *acct_emode;
    char **acct_entity;         /* NULL entries = none                      */
    uint8_t *acct_flags;        /* finalize                                 */

    /* balances: staging (bal_acct) then CSR (bal_off) */
    size_t n_bals, cap_bals;
    uint32_t *bal_acct;
    uint32_t *bal_asset;
    double *bal_amt;
    uint32_t *bal_off;          /* n_accts + 1, after finalize              */

    /* positions */
    size_t n_pos, cap_pos;
    uint32_t *pos_acct;
    uint32_t *pos_inst;
    double *pos_size, *pos_entry, *pos_iso;
    uint32_t *pos_off;          /* n_accts + 1, after finalize              */

    /* settings: raw JSON per key (round-tripped), parsed e-mode categories */
    xcr__setting *settings;
    size_t n_settings, cap_settings;
    xcr_emode_def *emodes;
    size_t n_emodes, cap_emodes;

    xcr__strmap asset_map, inst_map, acct_map;
    /* (account << 32 | asset) pairs seen, to reject duplicate balances */
    uint64_t *balset;
    size_t balset_cap, balset_len;

    /* portfolio-margin model (settings.portfolio), built at finalize when
     * the book has portfolio accounts or the setting; NULL otherwise */
    struct xcr__pm_book *pm;
};

/* The portfolio-margin model (src/portfolio/pm_params.c): parse
 * settings.portfolio and precompute at finalize; free with the book. */
xcr_status xcr__pm_book_init(xcr_book *b, xcr_error *err);
void xcr__pm_book_free(xcr_book *b);

/* Find an e-mode category; NULL if absent. */
const xcr_emode_def *xcr__book_emode(const xcr_book *b, int id);
/* Raw JSON of a setting key; NULL if absent. */
const char *xcr__book_setting(const xcr_book *b, const char *key);

/* Tiered collateral of a positive USD value (progressive slices). */
static inline double xcr__tiered(const xcr_book *b, const xcr__asset *a,
                                 double v)
{
    const xcr__tier *t = b->tiers + a->tier_off;
    uint32_t n = a->ntiers;
    for (uint32_t k = 0; k < n; k++)
        if (v < t[k].hi)
            return t[k].base + (v - t[k].lo) * t[k].weight;
    /* above the last finite cap: that slice counts at 0 */
    return t[n - 1].base + (t[n - 1].hi - t[n - 1].lo) * t[n - 1].weight;
}

/* Bracket of a notional; the last bracket extends beyond its cap. */
static inline uint32_t xcr__bracket(const xcr_book *b, const xcr__inst *in,
                                    double notional)
{
    const xcr__mtier *t = b->mtiers + in->mt_off;
    uint32_t k = 0;
    while (k + 1 < in->nmt && notional >= t[k].hi)
        k++;
    return k;
}

#endif /* XCR_BOOK_H */
