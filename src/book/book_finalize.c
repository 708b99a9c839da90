/* Finalizing a book: cross-item checks and the CSR account layout. */
#include "book.h"

#include <string.h>

/* Stable counting sort of `n` staged rows by account into CSR order.
 * perm receives, for each CSR slot, the staged row it takes. */
static xcr_status csr_order(const xcr_allocator *a, const uint32_t *acct,
                            size_t n, size_t n_accts, uint32_t **off_out,
                            uint32_t **perm_out)
{
    uint32_t *off = xcr__calloc(a, n_accts + 1, sizeof *off);
    uint32_t *perm = xcr__malloc(a, (n ? n : 1) * sizeof *perm);
    uint32_t *fill = xcr__calloc(a, n_accts + 1, sizeof *fill);
    if (!off || !perm || !fill) {
        xcr__free(a, off);
        xcr__free(a, perm);
        xcr__free(a, fill);
        return XCR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        off[acct[i] + 1]++;
    for (size_t k = 0; k < n_accts; k++)
        off[k + 1] += off[k];
    memcpy(fill, off, (n_accts + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        perm[fill[acct[i]]++] = (uint32_t)i;
    xcr__free(a, fill);
    *off_out = off;
    *perm_out = perm;
    return XCR_OK;
}

/* Apply a permutation to an array of `elem`-sized items in place (via a
 * temporary copy). */
static xcr_status permute(const xcr_allocator *a, void *arr, size_t n,
                          size_t elem, const uint32_t *perm)
{
    if (n == 0)
        return XCR_OK;
    unsigned char *tmp = xcr__malloc(a, n * elem);
    if (!tmp)
        return XCR_ENOMEM;
    unsigned char *src = arr;
    for (size_t i = 0; i < n; i++)
        memcpy(tmp + i * elem, src + (size_t)perm[i] * elem, elem);
    memcpy(arr, tmp, n * elem);
    xcr__free(a, tmp);
    return XCR_OK;
}

xcr_status xcr_book_finalize(xcr_book *b, xcr_error *err)
{
    if (!b)
        return xcr__fail(err, XCR_EINVAL, "book is NULL");
    if (b->finalized)
        return XCR_OK;
    const xcr_allocator *a = b->alloc;

    /* Options are priced with time to expiry from as_of. */
    if (!b->has_as_of)
        for (size_t i = 0; i < b->n_insts; i++)
            if (b->insts[i].type == XCR_OPTION)
                return xcr__fail(err, XCR_EINVAL,
                                 "$.as_of: missing; required to price option "
                                 "\"%s\" (time to expiry is measured from "
                                 "as_of)",
                                 b->insts[i].id);
    /* Every account e-mode must name a category in settings. */
    for (size_t i = 0; i < b->n_accts; i++)
        if (b->acct_emode[i] != 0 && !xcr__book_emode(b, b->acct_emode[i]))
            return xcr__fail(err, XCR_EREF,
                             "account \"%s\": emode %d is not in "
                             "settings.emode_categories",
                             b->acct_id[i], (int)b->acct_emode[i]);

    /* The portfolio-margin model (settings.portfolio or its preset) is
     * validated and built before the layout changes, so that a bad setting
     * leaves the book as it was. */
    xcr_status pms = xcr__pm_book_init(b, err);
    if (pms != XCR_OK)
        return pms;

    uint32_t *perm = NULL;
    xcr_status s = csr_order(a, b->bal_acct, b->n_bals, b->n_accts,
                             &b->bal_off, &perm);
    if (s == XCR_OK)
        s = permute(a, b->bal_asset, b->n_bals, sizeof *b->bal_asset, perm);
    if (s == XCR_OK)
        s = permute(a, b->bal_amt, b->n_bals, sizeof *b->bal_amt, perm);
    xcr__free(a, perm);
    perm = NULL;
    if (s == XCR_OK)
        s = csr_order(a, b->pos_acct, b->n_pos, b->n_accts, &b->pos_off,
                      &perm);
    if (s == XCR_OK)
        s = permute(a, b->pos_inst, b->n_pos, sizeof *b->pos_inst, perm);
    if (s == XCR_OK)
        s = permute(a, b->pos_size, b->n_pos, sizeof *b->pos_size, perm);
    if (s == XCR_OK)
        s = permute(a, b->pos_entry, b->n_pos, sizeof *b->pos_entry, perm);
    if (s == XCR_OK)
        s = permute(a, b->pos_iso, b->n_pos, sizeof *b->pos_iso, perm);
    xcr__free(a, perm);
    if (s == XCR_OK) {
        b->acct_flags = xcr__calloc(a, b->n_accts ? b->n_accts : 1, 1);
        if (!b->acct_flags)
            s = XCR_ENOMEM;
    }
    if (s != XCR_OK) {
        xcr__pm_book_free(b);
        xcr__free(a, b->bal_off);
        xcr__free(a, b->pos_off);
        b->bal_off = b->pos_off = NULL;
        return xcr__fail(err, s, "out of memory while finalizing the book");
    }
    /* Staging arrays are no longer needed: rows are grouped by account. */
    xcr__free(a, b->bal_acct);
    xcr__free(a, b->pos_acct);
    b->bal_acct = b->pos_acct = NULL;
    xcr__free(a, b->balset);
    b->balset = NULL;
    b->balset_cap = b->balset_len = 0;

    /* The liquidation-price solver may use a fast bracketing path only when
     * the margin surplus is concave in every price: no long options and no
     * rising collateral tiers (see src/margin/liqprice.c). */
    for (size_t i = 0; i < b->n_accts; i++) {
        uint8_t f = 0;
        /* A scenario (risk-matrix or SPAN) requirement is a worst case over
         * scenarios and full revaluations: no concavity to rely on. */
        if (b->acct_mode[i] == XCR_MODE_PORTFOLIO)
            f |= XCR__ACCT_NONCONCAVE;
        for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
            if (b->insts[b->pos_inst[p]].type == XCR_OPTION &&
                b->pos_size[p] > 0)
                f |= XCR__ACCT_NONCONCAVE;
        for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++)
            if (!b->assets[b->bal_asset[k]].tiers_concave)
                f |= XCR__ACCT_NONCONCAVE;
        for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
            const xcr__inst *in = &b->insts[b->pos_inst[p]];
            if (!b->assets[in->settle].tiers_concave)
                f |= XCR__ACCT_NONCONCAVE;
            /* MM is convex in notional only if rates never fall */
            for (uint32_t k = 1; k < in->nmt; k++)
                if (b->mtiers[in->mt_off + k].mmr <
                    b->mtiers[in->mt_off + k - 1].mmr)
                    f |= XCR__ACCT_NONCONCAVE;
        }
        b->acct_flags[i] = f;
    }
    b->finalized = true;
    return XCR_OK;
}

/* MARK: accessors ------------------------------------------------------------------- */

size_t xcr_book_asset_count(const xcr_book *b) { return b ? b->n_assets : 0; }
size_t xcr_book_instrument_count(const xcr_book *b)
{
    return b ? b->n_insts : 0;
}
size_t xcr_book_account_count(const xcr_book *b) { return b ? b->n_accts : 0; }
size_t xcr_book_position_count(const xcr_book *b) { return b ? b->n_pos : 0; }
const char *xcr_book_as_of(const xcr_book *b)
{
    return b && b->has_as_of ? b->as_of_str : NULL;
}
const char *xcr_book_asset_symbol(const xcr_book *b, size_t i)
{
    return b && i < b->n_assets ? b->assets[i].symbol : NULL;
}
double xcr_book_asset_price(const xcr_book *b, size_t i)
{
    return b && i < b->n_assets ? b->assets[i].price : 0;
}
int xcr_book_asset_stable(const xcr_book *b, size_t i)
{
    return b && i < b->n_assets ? b->assets[i].stable : 0;
}
const char *xcr_book_account_id(const xcr_book *b, size_t i)
{
    return b && i < b->n_accts ? b->acct_id[i] : NULL;
}
xcr_mode xcr_book_account_mode(const xcr_book *b, size_t i)
{
    return b && i < b->n_accts ? (xcr_mode)b->acct_mode[i] : XCR_MODE_CROSS;
}
size_t xcr_book_account_position_count(const xcr_book *b, size_t i)
{
    if (!b || !b->finalized || i >= b->n_accts)
        return 0;
    return b->pos_off[i + 1] - b->pos_off[i];
}
long xcr_book_find_asset(const xcr_book *b, const char *s)
{
    return b ? xcr__strmap_get(&b->asset_map, s) : -1;
}
long xcr_book_find_instrument(const xcr_book *b, const char *s)
{
    return b ? xcr__strmap_get(&b->inst_map, s) : -1;
}
long xcr_book_find_account(const xcr_book *b, const char *s)
{
    return b ? xcr__strmap_get(&b->acct_map, s) : -1;
}

/* MARK: names ------------------------------------------------------------------------- */

const char *xcr_mode_name(xcr_mode m)
{
    static const char *const n[] = {"cross", "isolated", "portfolio",
                                    "lending"};
    return (unsigned)m <= XCR_MODE_LENDING ? n[m] : "unknown";
}
const char *xcr_inst_type_name(xcr_inst_type t)
{
    static const char *const n[] = {"perp", "future", "option"};
    return (unsigned)t <= XCR_OPTION ? n[t] : "unknown";
}
const char *xcr_acct_status_name(xcr_acct_status s)
{
    static const char *const n[] = {"healthy", "margin_call", "liquidatable",
                                    "bankrupt"};
    return (unsigned)s <= XCR_BANKRUPT ? n[s] : "unknown";
}
const char *xcr_liq_model_name(xcr_liq_model m)
{
    static const char *const n[] = {"none", "linear", "sqrt", "amm", "book"};
    return (unsigned)m <= XCR_LIQ_BOOK ? n[m] : "unknown";
}
