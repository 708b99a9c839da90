/* The segmentation what-if (issue #5 §4): the same book with every cross
 * account that holds positions split into isolated sub-accounts, one per
 * position.
 *
 * Rule (xcr's, docs/cascade.md): the account's equity E at the book's
 * prices is shared out in proportion to the positions' initial margins
 * (notionals when no position carries margin); sub-account "ID/k" holds
 * position k with isolated margin w_k·E − uPnL_k (floored at 0), so that
 * its margin plus PnL is w_k·E; the balances stay in a cross remainder
 * "ID/0" that pays the posted margins out of the settlement asset (the
 * first stable asset), so value is conserved whenever no margin is
 * floored.  Balance-only cross accounts and every other mode are copied
 * as they are.  The new book is built through the public builder API from
 * the book's own definitions (assets with their tiers and liquidity,
 * instruments with their brackets, settings, accounts). */
#include "cascade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)                                                                \
    do {                                                                      \
        xcr_status s_ = (x);                                                  \
        if (s_ != XCR_OK) {                                                   \
            st = s_;                                                          \
            goto fail;                                                        \
        }                                                                     \
    } while (0)

static xcr_status copy_defs(const xcr_book *b, xcr_book *nb, xcr_error *err)
{
    xcr_status st = XCR_OK;
    xcr_tier_def *td = NULL;
    xcr_margin_tier_def *md = NULL;
    if (b->has_as_of)
        TRY(xcr_book_set_as_of(nb, b->as_of_str, NULL, err));
    for (size_t a = 0; a < b->n_assets; a++) {
        const xcr__asset *as = &b->assets[a];
        xcr_asset_def d;
        xcr_asset_def_init(&d);
        td = malloc((as->ntiers + 1) * sizeof *td);
        if (!td)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < as->ntiers; k++) {
            td[k].upper_usd = b->tiers[as->tier_off + k].hi;
            td[k].weight = b->tiers[as->tier_off + k].weight;
        }
        d.symbol = as->symbol;
        d.price = as->price;
        d.vol = as->vol;
        d.stable = as->stable;
        d.tiers = td;
        d.ntiers = as->ntiers;
        d.liability_weight = as->liability_weight;
        d.borrow_imr = as->borrow_imr;
        d.borrow_mmr = as->borrow_mmr;
        d.has_lending = as->has_lending;
        d.ltv = as->ltv;
        d.liquidation_threshold = as->lt;
        d.liquidation_bonus = as->lbonus;
        d.protocol_fee = as->pfee;
        d.emode_category = as->emode;
        d.liquidity = as->liq;
        TRY(xcr_book_add_asset(nb, &d, NULL, err));
        free(td);
        td = NULL;
    }
    for (size_t i = 0; i < b->n_settings; i++)
        TRY(xcr_book_set_setting(nb, b->settings[i].key, b->settings[i].json,
                                 NULL, err));
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        xcr_instrument_def d;
        xcr_instrument_def_init(&d);
        md = malloc((in->nmt + 1) * sizeof *md);
        if (!md)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < in->nmt; k++) {
            const xcr__mtier *t = &b->mtiers[in->mt_off + k];
            md[k] = (xcr_margin_tier_def){t->hi, t->imr, t->mmr};
        }
        d.id = in->id;
        d.type = in->type;
        d.underlying = b->assets[in->und].symbol;
        d.settle = b->assets[in->settle].symbol;
        d.inverse = in->inverse;
        d.contract_size = in->cs;
        d.mark_price = in->mark;
        d.expiry = in->expiry_str;
        d.strike = in->strike;
        d.is_call = in->is_call;
        d.iv = in->iv;
        d.tiers = md;
        d.ntiers = in->nmt;
        TRY(xcr_book_add_instrument(nb, &d, NULL, err));
        free(md);
        md = NULL;
    }
    return XCR_OK;
fail:
    free(td);
    free(md);
    return st;
}

static xcr_status copy_account(const xcr_book *b, xcr_book *nb, size_t i,
                               const char *id, xcr_error *err)
{
    xcr_status st;
    xcr_account_def d = {id, (xcr_mode)b->acct_mode[i], b->acct_emode[i],
                         b->acct_entity[i]};
    if ((st = xcr_book_add_account(nb, &d, NULL, err)) != XCR_OK)
        return st;
    for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++)
        if ((st = xcr_book_add_balance(nb, id,
                                       b->assets[b->bal_asset[k]].symbol,
                                       b->bal_amt[k], NULL, err)) != XCR_OK)
            return st;
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
        if ((st = xcr_book_add_position(nb, id, b->insts[b->pos_inst[p]].id,
                                        b->pos_size[p], b->pos_entry[p],
                                        b->pos_iso[p], NULL, err)) != XCR_OK)
            return st;
    return XCR_OK;
}

static xcr_status split_account(const xcr_book *b, const xcr_market *m,
                                xcr_book *nb, size_t i, uint32_t cash,
                                xcr_position_result *pr, xcr_error *err)
{
    xcr_status st;
    xcr_account_result r;
    if ((st = xcr_margin_account(m, i, &r, pr, err)) != XCR_OK)
        return st;
    uint32_t p0 = b->pos_off[i], np = b->pos_off[i + 1] - p0;
    double wsum = 0, nsum = 0;
    for (uint32_t k = 0; k < np; k++) {
        wsum += pr[k].initial_margin;
        nsum += pr[k].notional;
    }
    double e = r.equity > 0 ? r.equity : 0, posted = 0;
    char id[160];
    for (uint32_t k = 0; k < np; k++) {
        double w = wsum > 0   ? pr[k].initial_margin / wsum
                   : nsum > 0 ? pr[k].notional / nsum
                              : 1.0 / np;
        double iso = w * e - pr[k].upnl;
        if (!(iso > 0))
            iso = 0;
        posted += iso;
        snprintf(id, sizeof id, "%s/%u", b->acct_id[i], k + 1);
        xcr_account_def d = {id, XCR_MODE_ISOLATED, 0, b->acct_entity[i]};
        if ((st = xcr_book_add_account(nb, &d, NULL, err)) != XCR_OK ||
            (st = xcr_book_add_position(nb, id, b->insts[b->pos_inst[p0 + k]].id,
                                        b->pos_size[p0 + k],
                                        b->pos_entry[p0 + k], iso, NULL,
                                        err)) != XCR_OK)
            return st;
    }
    /* the remainder: the balances, less the margin posted (paid in the
     * settlement asset) */
    snprintf(id, sizeof id, "%s/0", b->acct_id[i]);
    xcr_account_def d = {id, XCR_MODE_CROSS, 0, b->acct_entity[i]};
    if ((st = xcr_book_add_account(nb, &d, NULL, err)) != XCR_OK)
        return st;
    bool has_cash = false;
    for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++) {
        double amt = b->bal_amt[k];
        if (b->bal_asset[k] == cash) {
            amt -= posted / b->assets[cash].price;
            has_cash = true;
        }
        if ((st = xcr_book_add_balance(nb, id,
                                       b->assets[b->bal_asset[k]].symbol, amt,
                                       NULL, err)) != XCR_OK)
            return st;
    }
    if (!has_cash && posted > 0)
        st = xcr_book_add_balance(nb, id, b->assets[cash].symbol,
                                  -posted / b->assets[cash].price, NULL, err);
    return st;
}

xcr_status xcr_book_segment(const xcr_book *b, xcr_book **out, xcr_error *err)
{
    if (!b || !out || !b->finalized)
        return xcr__fail(err, XCR_EINVAL, "a finalized book is required");
    *out = NULL;
    long cash = -1;
    for (size_t a = 0; a < b->n_assets && cash < 0; a++)
        if (b->assets[a].stable)
            cash = (long)a;
    if (cash < 0)
        return xcr__fail(err, XCR_EINVAL,
                         "segmentation needs a stable asset to post margin "
                         "in");
    xcr_book *nb = NULL;
    xcr_market *m = NULL;
    xcr_position_result *pr = NULL;
    xcr_status st = xcr_book_new(&b->alloc_copy, &nb);
    if (st != XCR_OK)
        return xcr__fail(err, st, "out of memory");
    if ((st = xcr_market_new(b, &m)) != XCR_OK) {
        st = xcr__fail(err, st, "out of memory");
        goto fail;
    }
    size_t maxp = 1;
    for (size_t i = 0; i < b->n_accts; i++)
        if (b->pos_off[i + 1] - b->pos_off[i] > maxp)
            maxp = b->pos_off[i + 1] - b->pos_off[i];
    pr = malloc(maxp * sizeof *pr);
    if (!pr) {
        st = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto fail;
    }
    TRY(copy_defs(b, nb, err));
    for (size_t i = 0; i < b->n_accts; i++) {
        bool split = b->acct_mode[i] == XCR_MODE_CROSS &&
                     b->pos_off[i + 1] > b->pos_off[i];
        if (split)
            TRY(split_account(b, m, nb, i, (uint32_t)cash, pr, err));
        else
            TRY(copy_account(b, nb, i, b->acct_id[i], err));
    }
    TRY(xcr_book_finalize(nb, err));
    free(pr);
    xcr_market_free(m);
    *out = nb;
    return XCR_OK;
fail:
    xcr__error_prefix(err, "segmentation");
    free(pr);
    xcr_market_free(m);
    xcr_book_free(nb);
    return st;
}
