/* Field-by-field comparison of two finalized books, for round-trip checks
 * of the JSON, CSV and SQLite forms.  Doubles are compared exactly (the
 * writers print shortest round-trip forms, so a lossless format reproduces
 * every bit).  Fields without meaning in context (lending parameters of an
 * asset without lending, liquidity parameters a model does not use) are not
 * compared; derived layout (tier bases, bracket amounts, account flags) is,
 * since it must follow from the inputs. */
#include "../io/io.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Equal doubles, NaN equal to NaN. */
static bool deq(double a, double b) { return a == b || (a != a && b != b); }

static bool seq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define DIFF(...)                                                              \
    do {                                                                       \
        if (why && n)                                                          \
            snprintf(why, n, __VA_ARGS__);                                     \
        return false;                                                          \
    } while (0)

#define CMP_D(what, a, b)                                                      \
    do {                                                                       \
        if (!deq((a), (b)))                                                    \
            DIFF("%s: %.17g != %.17g", what, (double)(a), (double)(b));       \
    } while (0)

#define CMP_I(what, a, b)                                                      \
    do {                                                                       \
        if ((long long)(a) != (long long)(b))                                  \
            DIFF("%s: %lld != %lld", what, (long long)(a), (long long)(b));   \
    } while (0)

#define CMP_S(what, a, b)                                                      \
    do {                                                                       \
        if (!seq((a), (b)))                                                    \
            DIFF("%s: \"%s\" != \"%s\"", what, (a) ? (a) : "(none)",           \
                 (b) ? (b) : "(none)");                                        \
    } while (0)

static bool asset_equal(const xcr_book *x, const xcr_book *y, size_t i,
                        char *why, size_t n)
{
    const xcr__asset *a = &x->assets[i], *b = &y->assets[i];
    char w[200];
#define F(name) (snprintf(w, sizeof w, "asset %zu (%s): %s", i, a->symbol, name), w)
    CMP_S(F("symbol"), a->symbol, b->symbol);
    CMP_D(F("price"), a->price, b->price);
    CMP_D(F("vol"), a->vol, b->vol);
    CMP_I(F("stable"), a->stable, b->stable);
    CMP_D(F("liability_weight"), a->liability_weight, b->liability_weight);
    CMP_D(F("borrow_imr"), a->borrow_imr, b->borrow_imr);
    CMP_D(F("borrow_mmr"), a->borrow_mmr, b->borrow_mmr);
    CMP_I(F("has lending"), a->has_lending, b->has_lending);
    if (a->has_lending) {
        CMP_D(F("lending.ltv"), a->ltv, b->ltv);
        CMP_D(F("lending.liquidation_threshold"), a->lt, b->lt);
        CMP_D(F("lending.liquidation_bonus"), a->lbonus, b->lbonus);
        CMP_D(F("lending.protocol_fee"), a->pfee, b->pfee);
        CMP_I(F("lending.emode_category"), a->emode, b->emode);
    }
    CMP_I(F("tier count"), a->ntiers, b->ntiers);
    CMP_I(F("tiers concave"), a->tiers_concave, b->tiers_concave);
    for (uint32_t k = 0; k < a->ntiers; k++) {
        const xcr__tier *p = &x->tiers[a->tier_off + k];
        const xcr__tier *q = &y->tiers[b->tier_off + k];
        char t[240];
        snprintf(t, sizeof t, "asset %zu (%s): collateral_tiers[%u]", i,
                 a->symbol, (unsigned)k);
        CMP_D(t, p->lo, q->lo);
        CMP_D(t, p->hi, q->hi);
        CMP_D(t, p->weight, q->weight);
        CMP_D(t, p->base, q->base);
    }
    const xcr_liquidity_def *l = &a->liq, *m = &b->liq;
    CMP_I(F("liquidity.model"), l->model, m->model);
    if (l->model != XCR_LIQ_NONE)
        CMP_D(F("liquidity.recovery"), l->recovery, m->recovery);
    int used = l->model == XCR_LIQ_LINEAR                             ? 1
               : l->model == XCR_LIQ_SQRT || l->model == XCR_LIQ_AMM ? 3
                                                                      : 0;
    for (int k = 0; k < used; k++) {
        char t[240];
        snprintf(t, sizeof t, "asset %zu (%s): liquidity p%d", i, a->symbol,
                 k + 1);
        CMP_D(t, l->p[k], m->p[k]);
    }
    if (l->model == XCR_LIQ_BOOK) {
        CMP_I(F("liquidity.levels count"), l->nlevels, m->nlevels);
        for (size_t k = 0; k < 2 * l->nlevels; k++) {
            char t[240];
            snprintf(t, sizeof t, "asset %zu (%s): liquidity.levels[%zu][%zu]",
                     i, a->symbol, k / 2, k % 2);
            CMP_D(t, l->levels[k], m->levels[k]);
        }
    }
#undef F
    return true;
}

static bool inst_equal(const xcr_book *x, const xcr_book *y, size_t i,
                       char *why, size_t n)
{
    const xcr__inst *a = &x->insts[i], *b = &y->insts[i];
    char w[200];
#define F(name) (snprintf(w, sizeof w, "instrument %zu (%s): %s", i, a->id, name), w)
    CMP_S(F("id"), a->id, b->id);
    CMP_I(F("type"), a->type, b->type);
    CMP_I(F("underlying"), a->und, b->und);
    CMP_I(F("settle"), a->settle, b->settle);
    CMP_I(F("settle given"), a->settle_given, b->settle_given);
    CMP_I(F("inverse"), a->inverse, b->inverse);
    CMP_D(F("contract_size"), a->cs, b->cs);
    CMP_D(F("mark_price"), a->mark, b->mark);
    CMP_S(F("expiry"), a->expiry_str, b->expiry_str);
    CMP_D(F("expiry time"), a->expiry, b->expiry);
    CMP_D(F("strike"), a->strike, b->strike);
    CMP_D(F("iv"), a->iv, b->iv);
    CMP_I(F("option_type is call"), a->is_call, b->is_call);
    CMP_I(F("margin tier count"), a->nmt, b->nmt);
#undef F
    for (uint32_t k = 0; k < a->nmt; k++) {
        const xcr__mtier *p = &x->mtiers[a->mt_off + k];
        const xcr__mtier *q = &y->mtiers[b->mt_off + k];
        char t[240];
        snprintf(t, sizeof t, "instrument %zu (%s): margin_tiers[%u]", i,
                 a->id, (unsigned)k);
        CMP_D(t, p->lo, q->lo);
        CMP_D(t, p->hi, q->hi);
        CMP_D(t, p->imr, q->imr);
        CMP_D(t, p->mmr, q->mmr);
        CMP_D(t, p->cum_im, q->cum_im);
        CMP_D(t, p->cum_mm, q->cum_mm);
    }
    return true;
}

static bool account_equal(const xcr_book *x, const xcr_book *y, size_t i,
                          char *why, size_t n)
{
    char w[200];
    const char *id = x->acct_id[i];
#define F(name) (snprintf(w, sizeof w, "account %zu (%s): %s", i, id, name), w)
    CMP_S(F("id"), x->acct_id[i], y->acct_id[i]);
    CMP_I(F("mode"), x->acct_mode[i], y->acct_mode[i]);
    CMP_I(F("emode"), x->acct_emode[i], y->acct_emode[i]);
    CMP_S(F("entity"), x->acct_entity[i], y->acct_entity[i]);
    CMP_I(F("flags"), x->acct_flags[i], y->acct_flags[i]);
    CMP_I(F("balance count"), x->bal_off[i + 1] - x->bal_off[i],
          y->bal_off[i + 1] - y->bal_off[i]);
    CMP_I(F("position count"), x->pos_off[i + 1] - x->pos_off[i],
          y->pos_off[i + 1] - y->pos_off[i]);
#undef F
    for (uint32_t k = 0; k < x->bal_off[i + 1] - x->bal_off[i]; k++) {
        uint32_t p = x->bal_off[i] + k, q = y->bal_off[i] + k;
        char t[240];
        snprintf(t, sizeof t, "account %zu (%s): balance %u", i, id,
                 (unsigned)k);
        CMP_I(t, x->bal_asset[p], y->bal_asset[q]);
        CMP_D(t, x->bal_amt[p], y->bal_amt[q]);
    }
    for (uint32_t k = 0; k < x->pos_off[i + 1] - x->pos_off[i]; k++) {
        uint32_t p = x->pos_off[i] + k, q = y->pos_off[i] + k;
        char t[240];
        snprintf(t, sizeof t, "account %zu (%s): position %u", i, id,
                 (unsigned)k);
        CMP_I(t, x->pos_inst[p], y->pos_inst[q]);
        CMP_D(t, x->pos_size[p], y->pos_size[q]);
        CMP_D(t, x->pos_entry[p], y->pos_entry[q]);
        CMP_D(t, x->pos_iso[p], y->pos_iso[q]);
    }
    return true;
}

/* Settings are compared as parsed JSON per key, whatever the key order. */
static bool settings_equal(const xcr_book *x, const xcr_book *y, char *why,
                           size_t n)
{
    CMP_I("settings count", x->n_settings, y->n_settings);
    for (size_t i = 0; i < x->n_settings; i++) {
        const char *key = x->settings[i].key;
        const char *other = xcr__book_setting(y, key);
        if (!other)
            DIFF("settings.%s: missing in the second book", key);
        json_t *a = json_loads(x->settings[i].json, JSON_DECODE_ANY, NULL);
        json_t *b = json_loads(other, JSON_DECODE_ANY, NULL);
        bool same = a && b && json_equal(a, b);
        json_decref(a);
        json_decref(b);
        if (!same)
            DIFF("settings.%s: %.200s != %.200s", key, x->settings[i].json,
                 other);
    }
    CMP_I("emode category count", x->n_emodes, y->n_emodes);
    for (size_t i = 0; i < x->n_emodes; i++) {
        const xcr_emode_def *a = &x->emodes[i], *b = &y->emodes[i];
        char t[80];
        snprintf(t, sizeof t, "emode_categories[%zu]", i);
        CMP_I(t, a->id, b->id);
        CMP_D(t, a->ltv, b->ltv);
        CMP_D(t, a->liquidation_threshold, b->liquidation_threshold);
        CMP_D(t, a->liquidation_bonus, b->liquidation_bonus);
    }
    return true;
}

bool xcr__book_equal(const xcr_book *x, const xcr_book *y, char *why,
                     size_t n)
{
    if (why && n)
        why[0] = '\0';
    if (!x || !y)
        DIFF("a book is NULL");
    if (!x->finalized || !y->finalized)
        DIFF("both books must be finalized");
    CMP_I("has as_of", x->has_as_of, y->has_as_of);
    if (x->has_as_of) {
        CMP_S("as_of", x->as_of_str, y->as_of_str);
        CMP_D("as_of time", x->as_of, y->as_of);
    }
    CMP_I("asset count", x->n_assets, y->n_assets);
    for (size_t i = 0; i < x->n_assets; i++)
        if (!asset_equal(x, y, i, why, n))
            return false;
    CMP_I("instrument count", x->n_insts, y->n_insts);
    for (size_t i = 0; i < x->n_insts; i++)
        if (!inst_equal(x, y, i, why, n))
            return false;
    CMP_I("account count", x->n_accts, y->n_accts);
    CMP_I("balance count", x->n_bals, y->n_bals);
    CMP_I("position count", x->n_pos, y->n_pos);
    for (size_t i = 0; i < x->n_accts; i++)
        if (!account_equal(x, y, i, why, n))
            return false;
    return settings_equal(x, y, why, n);
}
