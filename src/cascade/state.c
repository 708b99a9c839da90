/* The cascade state: options from settings.liquidation (spec §1.3), the
 * private copies of the holdings (see cascade.h for why), the exposure
 * index, the initial shock and the accessors. */
#include "cascade.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")
#define SETTING "$.settings.liquidation"

/* MARK: options -------------------------------------------------------------------- */

static xcr_status num_field(json_t *o, const char *key, double lo, double hi,
                            double *dst, xcr_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return XCR_OK;
    if (!json_is_number(v) || !(json_number_value(v) >= lo) ||
        !(json_number_value(v) <= hi))
        return xcr__fail(err, XCR_EINVAL,
                         SETTING ".%s: must be a number in [%g, %g]", key, lo,
                         hi);
    *dst = json_number_value(v);
    return XCR_OK;
}

/* Policy and ranking names are matched against static tables, so the
 * option can point at the static name, not at the JSON text. */
static xcr_status name_field(json_t *o, const char *key, const char **dst,
                             const char *const *names, size_t n,
                             xcr_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return XCR_OK;
    if (json_is_string(v))
        for (size_t i = 0; i < n; i++)
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *dst = names[i];
                return XCR_OK;
            }
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return xcr__fail(err, XCR_EINVAL, SETTING ".%s: must be one of %s", key,
                     list);
}

static const char *const POLICIES[] = {"exchange", "aave-v3.0", "aave-v3.3",
                                       "aave-v4", "compound-v3"};
static const char *const RANKINGS[] = {"pnl_leverage", "binance"};
static const char *const CF_RULES[] = {"aave-v3.0", "aave-v3.3"};
static const char *const TARGETS[] = {"maintenance", "initial"};

#define TRYS(x)                                                               \
    do {                                                                      \
        xcr_status s_ = (x);                                                  \
        if (s_ != XCR_OK) {                                                   \
            json_decref(root);                                                \
            return s_;                                                        \
        }                                                                     \
    } while (0)

xcr_status xcr_cascade_opts_init(const xcr_book *b, xcr_cascade_opts *o,
                                 xcr_error *err)
{
    if (!o)
        return xcr__fail(err, XCR_EINVAL, "options are required");
    memset(o, 0, sizeof *o);
    o->policy = "exchange";
    o->target = XCR_TARGET_MAINTENANCE;
    o->penalty = 0.01;
    o->insurance_fund = 0;
    o->adl = 1;
    o->adl_ranking = "pnl_leverage";
    o->close_factor_rule = "aave-v3.3";
    o->target_health_factor = 1.05;
    o->cb_max_move = 0;
    o->cb_halt_rounds = 2;
    o->max_rounds = 100;
    o->storefront_factor = 0.5;
    o->seize_order = XCR_SEIZE_LARGEST;
    /* docs/cascade.md "exchange": venues liquidate to a buffer above the
     * maintenance margin (Drift: requirement + 2 % of the liability,
     * margin-models.md §18) and refuse orders below a minimum notional
     * (dYdX v4: $1,000 per liquidation, §19); xcr's documented defaults:
     * 5 % of the target margin and $10 */
    o->liq_buffer = 0.05;
    o->min_liq_usd = 10;
    if (!b)
        return XCR_OK;
    const char *txt = xcr__book_setting(b, "liquidation");
    if (!txt)
        return XCR_OK;
    json_t *root = json_loads(txt, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return xcr__fail(err, XCR_EINVAL, SETTING ": must be an object");
    }
    TRYS(name_field(root, "policy", &o->policy, POLICIES, 5, err));
    const char *target = NULL;
    TRYS(name_field(root, "target", &target, TARGETS, 2, err));
    if (target)
        o->target = strcmp(target, "initial") == 0 ? XCR_TARGET_INITIAL
                                                   : XCR_TARGET_MAINTENANCE;
    TRYS(num_field(root, "penalty", 0, 1, &o->penalty, err));
    TRYS(num_field(root, "insurance_fund", 0, 1e18, &o->insurance_fund, err));
    json_t *adl = json_object_get(root, "adl");
    if (adl) {
        if (!json_is_boolean(adl)) {
            json_decref(root);
            return xcr__fail(err, XCR_EINVAL,
                             SETTING ".adl: must be true or false");
        }
        o->adl = json_is_true(adl);
    }
    TRYS(name_field(root, "adl_ranking", &o->adl_ranking, RANKINGS, 2, err));
    TRYS(name_field(root, "close_factor_rule", &o->close_factor_rule, CF_RULES,
                    2, err));
    TRYS(num_field(root, "target_health_factor", 1, 100,
                   &o->target_health_factor, err));
    /* xcr extension keys (not in spec §1.3; unknown keys are ignored by
     * other readers) */
    TRYS(num_field(root, "liq_buffer", 0, 1, &o->liq_buffer, err));
    if (!(o->liq_buffer < 1)) {
        json_decref(root);
        return xcr__fail(err, XCR_EINVAL,
                         SETTING ".liq_buffer: must be a number in [0, 1)");
    }
    TRYS(num_field(root, "min_liq_usd", 0, 1e18, &o->min_liq_usd, err));
    json_t *cb = json_object_get(root, "circuit_breaker");
    if (cb) {
        if (!json_is_object(cb)) {
            json_decref(root);
            return xcr__fail(err, XCR_EINVAL,
                             SETTING ".circuit_breaker: must be an object");
        }
        double hr = o->cb_halt_rounds;
        xcr_status s = num_field(cb, "max_move", 0, 1, &o->cb_max_move, err);
        if (s == XCR_OK)
            s = num_field(cb, "halt_rounds", 0, 1e6, &hr, err);
        if (s != XCR_OK) {
            xcr__error_prefix(err, "circuit_breaker");
            json_decref(root);
            return s;
        }
        if (hr != (double)(int)hr) {
            json_decref(root);
            return xcr__fail(err, XCR_EINVAL, SETTING
                             ".circuit_breaker.halt_rounds: must be an "
                             "integer");
        }
        o->cb_halt_rounds = (int)hr;
    }
    double mr = (double)o->max_rounds;
    TRYS(num_field(root, "max_rounds", 1, 1e7, &mr, err));
    if (mr != (double)(size_t)mr) {
        json_decref(root);
        return xcr__fail(err, XCR_EINVAL,
                         SETTING ".max_rounds: must be an integer");
    }
    o->max_rounds = (size_t)mr;
    json_decref(root);
    return XCR_OK;
}

static xcr_status check_opts(const xcr_book *b, const xcr_cascade_opts *o,
                             xcr_error *err)
{
    if (!o->policy || !xcr__policy_find(o->policy))
        return xcr__fail(err, XCR_EINVAL,
                         "unknown liquidation policy \"%s\" (exchange, "
                         "aave-v3.0, aave-v3.3, aave-v4, compound-v3)",
                         o->policy ? o->policy : "(null)");
    const xcr__policy *cf = xcr__policy_find(
        o->close_factor_rule ? o->close_factor_rule : "");
    if (!cf || !cf->lending)
        return xcr__fail(err, XCR_EINVAL,
                         "unknown close-factor rule \"%s\" (aave-v3.0, "
                         "aave-v3.3)",
                         o->close_factor_rule ? o->close_factor_rule : "");
    if (!o->adl_ranking || !xcr__adl_rank_find(o->adl_ranking))
        return xcr__fail(err, XCR_EINVAL,
                         "unknown ADL ranking \"%s\" (pnl_leverage, binance)",
                         o->adl_ranking ? o->adl_ranking : "(null)");
    if (!(o->penalty >= 0 && o->penalty < 1))
        return xcr__fail(err, XCR_EINVAL, "penalty must be in [0, 1)");
    if (!(o->insurance_fund >= 0) || !isfinite(o->insurance_fund))
        return xcr__fail(err, XCR_EINVAL,
                         "insurance fund must be a finite number >= 0");
    if (!(o->target_health_factor >= 1) || !isfinite(o->target_health_factor))
        return xcr__fail(err, XCR_EINVAL,
                         "target health factor must be >= 1");
    if (!(o->cb_max_move >= 0) || !isfinite(o->cb_max_move) ||
        o->cb_halt_rounds < 0)
        return xcr__fail(err, XCR_EINVAL,
                         "circuit breaker: max_move must be >= 0 and "
                         "halt_rounds >= 0");
    if (o->max_rounds < 1)
        return xcr__fail(err, XCR_EINVAL, "max rounds must be >= 1");
    if (!(o->liq_buffer >= 0 && o->liq_buffer < 1))
        return xcr__fail(err, XCR_EINVAL,
                         "liquidation buffer must be a number in [0, 1)");
    if (!(o->min_liq_usd >= 0) || !isfinite(o->min_liq_usd))
        return xcr__fail(err, XCR_EINVAL,
                         "minimum liquidation size must be a finite USD "
                         "amount >= 0");
    if (!(o->storefront_factor >= 0 && o->storefront_factor <= 1))
        return xcr__fail(err, XCR_EINVAL,
                         "storefront price factor must be in [0, 1]");
    if (o->target != XCR_TARGET_MAINTENANCE && o->target != XCR_TARGET_INITIAL)
        return xcr__fail(err, XCR_EINVAL, "unknown liquidation target");
    if (o->round_cap_usd)
        for (size_t a = 0; a < b->n_assets; a++)
            if (!(o->round_cap_usd[a] > 0) && !isnan(o->round_cap_usd[a]))
                return xcr__fail(err, XCR_EINVAL,
                                 "round cap of %s must be > 0",
                                 b->assets[a].symbol);
    return XCR_OK;
}

/* MARK: construction -------------------------------------------------------------- */

/* Mark `a` in a small per-account set (the assets an account touches). */
static void seen_add(uint32_t *list, size_t *n, uint8_t *seen, uint32_t a)
{
    if (!seen[a]) {
        seen[a] = 1;
        list[(*n)++] = a;
    }
}

/* The assets of account i in slot order (book balances, then the
 * settlement asset and the positions' settle assets not yet there): the
 * first `*nslots` entries of `list`; then the underlyings, up to `*nexp`
 * (the exposure set).  `seen` is left cleared. */
static void acct_assets(const xcr_cascade *c, size_t i, uint32_t *list,
                        uint8_t *seen, size_t *nslots, size_t *nexp)
{
    const xcr_book *b = c->book;
    size_t k = 0;
    for (uint32_t s = b->bal_off[i]; s < b->bal_off[i + 1]; s++)
        seen_add(list, &k, seen, b->bal_asset[s]);
    seen_add(list, &k, seen, c->cash);
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
        seen_add(list, &k, seen, b->insts[b->pos_inst[p]].settle);
    *nslots = k;
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
        seen_add(list, &k, seen, b->insts[b->pos_inst[p]].und);
    *nexp = k;
    for (size_t j = 0; j < k; j++)
        seen[list[j]] = 0;
}

/* The layout is built on worker threads over contiguous account ranges:
 * pass 1 counts (slots per account, exposures per asset and range), a
 * serial prefix turns counts into offsets (each range's exposures of an
 * asset start after the earlier ranges'), pass 2 fills.  The arrays are
 * the same for any number of threads. */
typedef struct layout_job {
    xcr_cascade *c;
    int pass;
    size_t lo, hi;
    uint32_t *cnt;              /* per asset: exposures (pass 1), then the
                                   range's fill position (pass 2)        */
    size_t slot_cap;
    xcr_status st;
} layout_job;

static void *layout_worker(void *arg)
{
    layout_job *j = arg;
    xcr_cascade *c = j->c;
    const xcr_book *b = c->book;
    size_t na = c->na;
    uint8_t *seen = calloc(na + 1, 1);
    uint32_t *list = malloc((na + 1) * sizeof *list);
    uint32_t *slot_of = malloc((na + 1) * sizeof *slot_of);
    if (!seen || !list || !slot_of) {
        j->st = XCR_ENOMEM;
        goto out;
    }
    for (size_t i = j->lo; i < j->hi; i++) {
        size_t ns, ne;
        acct_assets(c, i, list, seen, &ns, &ne);
        size_t np = b->pos_off[i + 1] - b->pos_off[i];
        if (j->pass == 1) {
            c->bal_off[i] = (uint32_t)ns; /* a count until the prefix */
            if (ns > j->slot_cap)
                j->slot_cap = ns;
            if (np > j->slot_cap)
                j->slot_cap = np;
            for (size_t k = 0; k < ne; k++)
                j->cnt[list[k]]++;
            continue;
        }
        uint32_t o = c->bal_off[i];
        for (size_t k = 0; k < ns; k++) {
            c->bal_asset[o + k] = list[k];
            slot_of[list[k]] = (uint32_t)k;
        }
        for (uint32_t s = b->bal_off[i]; s < b->bal_off[i + 1]; s++)
            c->bal_amt[o + (s - b->bal_off[i])] = b->bal_amt[s];
        for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
            c->pos_owner[p] = (uint32_t)i;
            c->pos_slot[p] = slot_of[b->insts[b->pos_inst[p]].settle];
        }
        for (size_t k = 0; k < ne; k++)
            c->exp_acct[j->cnt[list[k]]++] = (uint32_t)i;
    }
    j->st = XCR_OK;
out:
    free(seen);
    free(list);
    free(slot_of);
    return NULL;
}

/* Copy the holdings with the extra zero slots; build the exposure and
 * instrument indexes. */
static xcr_status build_layout(xcr_cascade *c, xcr_error *err)
{
    const xcr_book *b = c->book;
    const xcr_allocator *al = b->alloc;
    size_t na = b->n_assets, n = b->n_accts, np = b->n_pos;
    int nt = xcr__thread_count(c->threads, n);
    layout_job jobs[XCR__MAX_THREADS];
    uint32_t *cnt = xcr__calloc(al, (size_t)nt * (na + 1), sizeof *cnt);
    c->bal_off = xcr__malloc(al, (n + 1) * sizeof *c->bal_off);
    c->exp_off = xcr__calloc(al, na + 2, sizeof *c->exp_off);
    c->npos = np;
    c->pos_owner = xcr__malloc(al, (np + 1) * sizeof *c->pos_owner);
    c->pos_slot = xcr__calloc(al, np + 1, sizeof *c->pos_slot);
    if (!cnt || !c->bal_off || !c->exp_off || !c->pos_owner || !c->pos_slot)
        goto nomem;
    for (int t = 0; t < nt; t++)
        jobs[t] = (layout_job){c, 1, n * (size_t)t / (size_t)nt,
                               n * (size_t)(t + 1) / (size_t)nt,
                               cnt + (size_t)t * (na + 1), 0, XCR_OK};
    xcr__run_jobs(layout_worker, jobs, sizeof jobs[0], nt);
    /* slot offsets (account order) and exposure offsets (asset, then
     * range order, so that each asset lists its accounts in order) */
    size_t nbal = 0, nexp = 0;
    for (int t = 0; t < nt; t++) {
        if (jobs[t].st != XCR_OK)
            goto nomem;
        if (jobs[t].slot_cap > c->slot_cap)
            c->slot_cap = jobs[t].slot_cap;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = c->bal_off[i];
        c->bal_off[i] = (uint32_t)nbal;
        nbal += k;
        if (nbal > UINT32_MAX)
            goto range;
    }
    c->bal_off[n] = (uint32_t)nbal;
    for (size_t a = 0; a < na; a++) {
        c->exp_off[a] = (uint32_t)nexp;
        for (int t = 0; t < nt; t++) {
            uint32_t *ct = &cnt[(size_t)t * (na + 1) + a];
            uint32_t k = *ct;
            *ct = (uint32_t)nexp; /* the range's fill position */
            nexp += k;
        }
        if (nexp > UINT32_MAX)
            goto range;
    }
    c->exp_off[na] = (uint32_t)nexp;
    c->nbal = nbal;
    c->bal_asset = xcr__malloc(al, (nbal + 1) * sizeof *c->bal_asset);
    c->bal_amt = xcr__calloc(al, nbal + 1, sizeof *c->bal_amt);
    c->bal_flow = xcr__calloc(al, nbal + 1, sizeof *c->bal_flow);
    c->bal_bad = xcr__calloc(al, nbal + 1, sizeof *c->bal_bad);
    c->exp_acct = xcr__malloc(al, (nexp + 1) * sizeof *c->exp_acct);
    if (!c->bal_asset || !c->bal_amt || !c->bal_flow || !c->bal_bad ||
        !c->exp_acct)
        goto nomem;
    for (int t = 0; t < nt; t++) {
        jobs[t].pass = 2;
        jobs[t].st = XCR_OK;
    }
    xcr__run_jobs(layout_worker, jobs, sizeof jobs[0], nt);
    for (int t = 0; t < nt; t++)
        if (jobs[t].st != XCR_OK)
            goto nomem;
    xcr__free(al, cnt);
    cnt = NULL;
    /* positions: sizes and isolated margins change; instrument index */
    c->pos_size = xcr__malloc(al, (np + 1) * sizeof(double));
    c->pos_iso = xcr__malloc(al, (np + 1) * sizeof(double));
    c->pos_flow = xcr__calloc(al, np + 1, sizeof(double));
    c->pos_closed = xcr__calloc(al, np + 1, sizeof(double));
    c->ipos_off = xcr__calloc(al, b->n_insts + 2, sizeof *c->ipos_off);
    c->ipos = xcr__malloc(al, (np + 1) * sizeof *c->ipos);
    if (!c->pos_size || !c->pos_iso || !c->pos_flow || !c->pos_closed ||
        !c->ipos_off || !c->ipos)
        goto nomem;
    if (np) {
        memcpy(c->pos_size, b->pos_size, np * sizeof(double));
        memcpy(c->pos_iso, b->pos_iso, np * sizeof(double));
    }
    for (size_t p = 0; p < np; p++)
        c->ipos_off[b->pos_inst[p] + 1]++;
    for (size_t i = 0; i < b->n_insts; i++)
        c->ipos_off[i + 1] += c->ipos_off[i];
    {
        uint32_t *f2 = xcr__malloc(al, (b->n_insts + 1) * sizeof *f2);
        if (!f2)
            goto nomem;
        memcpy(f2, c->ipos_off, b->n_insts * sizeof *f2);
        for (size_t p = 0; p < np; p++)
            c->ipos[f2[b->pos_inst[p]]++] = (uint32_t)p;
        xcr__free(al, f2);
    }
    return XCR_OK;
range:
    xcr__free(al, cnt);
    return xcr__fail(err, XCR_ERANGE, "book too large for a cascade");
nomem:
    xcr__free(al, cnt);
    return NOMEM(err);
}

xcr_status xcr_cascade_new(const xcr_book *b, const xcr_cascade_opts *o,
                           xcr_cascade **out, xcr_error *err)
{
    if (!b || !out || !b->finalized)
        return xcr__fail(err, XCR_EINVAL, "a finalized book is required");
    *out = NULL;
    xcr_cascade_opts def;
    if (!o) {
        xcr_status s = xcr_cascade_opts_init(b, &def, err);
        if (s != XCR_OK)
            return s;
        o = &def;
    }
    xcr_status s = check_opts(b, o, err);
    if (s != XCR_OK)
        return s;
    if (o->gpu) {
        /* fail here, cleanly, rather than at the first round */
        char why[160];
        if (!xcr_gpu_available(why, sizeof why))
            return xcr__fail(err, XCR_ENODEV, "--gpu: no usable GPU (%s)",
                             why);
    }
    long cash = -1;
    for (size_t a = 0; a < b->n_assets && cash < 0; a++)
        if (b->assets[a].stable)
            cash = (long)a;
    if (cash < 0)
        return xcr__fail(err, XCR_EINVAL,
                         "the book has no stable asset: a cascade settles "
                         "liquidations in the first stable asset");
    const xcr_allocator *al = b->alloc;
    xcr_cascade *c = xcr__calloc(al, 1, sizeof *c);
    if (!c)
        return NOMEM(err);
    c->book = b;
    c->o = *o;
    c->o.round_cap_usd = NULL;
    c->na = b->n_assets;
    c->nacc = b->n_accts;
    c->cash = (uint32_t)cash;
    c->threads = xcr__thread_count(o->threads, b->n_accts);
    const xcr__policy *p = xcr__policy_find(o->policy);
    c->margin_pol = p->lending ? &xcr__policy_exchange : p;
    c->lending_pol = p->lending ? p : xcr__policy_find(o->close_factor_rule);
    c->adl_rank = xcr__adl_rank_find(o->adl_ranking);
    c->slot_cap = 1;
    s = build_layout(c, err);
    if (s != XCR_OK)
        goto fail;
    size_t na = c->na, n = c->nacc;
    c->res = xcr__malloc(al, (n + 1) * sizeof *c->res);
    c->surplus = xcr__malloc(al, (n + 1) * sizeof *c->surplus);
    c->eq = xcr__calloc(al, n + 1, sizeof *c->eq);
    c->st = xcr__calloc(al, n + 1, 1);
    c->dirty = xcr__calloc(al, n + 1, 1);
    c->ever = xcr__calloc(al, n + 1, 1);
    c->touched = xcr__calloc(al, n + 1, 1);
    c->changed = xcr__malloc(al, (n + 1) * sizeof *c->changed);
    c->imp = xcr__calloc(al, na + 1, sizeof *c->imp);
    double **arrs[] = {&c->book_price, &c->init_price, &c->price, &c->shock,
                       &c->liq_mult, &c->round_sold, &c->round_sold_usd,
                       &c->bad_by_asset, &c->sold_total};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++)
        *arrs[k] = xcr__calloc(al, na + 1, sizeof(double));
    c->halt_left = xcr__calloc(al, na + 1, sizeof *c->halt_left);
    bool ok = c->res && c->surplus && c->eq && c->st && c->dirty && c->ever && c->touched &&
              c->changed &&
              c->imp && c->halt_left;
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++)
        ok = ok && *arrs[k];
    double *caps = NULL;
    if (ok && o->round_cap_usd) {
        caps = xcr__malloc(al, (na + 1) * sizeof *caps);
        ok = caps != NULL;
        if (ok)
            memcpy(caps, o->round_cap_usd, na * sizeof *caps);
        c->o.round_cap_usd = caps;
    }
    if (!ok) {
        s = NOMEM(err);
        goto fail;
    }
    /* the shallow book over the copies (cascade.h) */
    c->sb = *b;
    c->sb.bal_off = c->bal_off;
    c->sb.bal_asset = c->bal_asset;
    c->sb.bal_amt = c->bal_amt;
    c->sb.n_bals = c->nbal;
    c->sb.pos_size = c->pos_size;
    c->sb.pos_iso = c->pos_iso;
    s = xcr_market_new(&c->sb, &c->m);
    if (s != XCR_OK) {
        s = NOMEM(err);
        goto fail;
    }
    for (size_t a = 0; a < na; a++) {
        c->book_price[a] = c->init_price[a] = c->price[a] =
            b->assets[a].price;
        c->liq_mult[a] = 1;
        xcr__impact_init(&c->imp[a], &b->assets[a].liq, c->price[a], 1);
    }
    if (xcr__bound_init(c) != XCR_OK) {
        s = NOMEM(err);
        goto fail;
    }
    c->fund = c->fund_start = o->insurance_fund;
    *out = c;
    return XCR_OK;
fail:
    xcr_cascade_free(c);
    return s;
}

void xcr_cascade_free(xcr_cascade *c)
{
    if (!c)
        return;
    const xcr_allocator *al = c->book->alloc;
    xcr_market_free(c->m);
    xcr__bound_free(c);
    void *ptrs[] = {c->bal_off,    c->bal_asset,     c->bal_amt,
                    c->bal_flow,   c->bal_bad,       c->pos_size,
                    c->pos_iso,    c->pos_flow,      c->pos_closed,
                    c->res,        c->surplus,       c->dirty,
                    c->ever,       c->touched,       c->exp_off,
                    c->changed,    c->pos_owner,     c->eq,
                    c->st,
                    c->exp_acct,   c->ipos_off,      c->ipos,
                    c->imp,        c->book_price,    c->init_price,
                    c->price,      c->shock,         c->liq_mult,
                    c->halt_left,  c->round_sold,    c->round_sold_usd,
                    c->bad_by_asset, c->sold_total,  c->events,
                    (void *)(uintptr_t)c->o.round_cap_usd};
    for (size_t k = 0; k < sizeof ptrs / sizeof ptrs[0]; k++)
        xcr__free(al, ptrs[k]);
    for (size_t r = 0; r < c->nrounds; r++)
        xcr__free(al, c->rounds[r].arrays);
    xcr__free(al, c->rounds);
    xcr__free(al, c);
}

/* MARK: the shock ----------------------------------------------------------------- */

xcr_status xcr_cascade_shock(xcr_cascade *c, const double *moves,
                             const double *liquidity, xcr_error *err)
{
    if (!c)
        return xcr__fail(err, XCR_EINVAL, "cascade is NULL");
    if (c->ran)
        return xcr__fail(err, XCR_EINVAL,
                         "the cascade has run: shock it before running");
    const xcr_book *b = c->book;
    for (size_t a = 0; a < c->na; a++) {
        double mv = moves ? moves[a] : 0, lq = liquidity ? liquidity[a] : 1;
        if (!isfinite(mv) || !(mv > -1))
            return xcr__fail(err, XCR_EINVAL,
                             "shock of %s must be a finite move > -1 (got "
                             "%g)",
                             b->assets[a].symbol, mv);
        if (!isfinite(lq) || !(lq > 0))
            return xcr__fail(err, XCR_EINVAL,
                             "liquidity multiplier of %s must be > 0 (got %g)",
                             b->assets[a].symbol, lq);
    }
    for (size_t a = 0; a < c->na; a++) {
        double mv = moves ? moves[a] : 0, lq = liquidity ? liquidity[a] : 1;
        c->shock[a] = mv;
        c->liq_mult[a] = lq;
        double p = c->book_price[a] * (1 + mv);
        if (!(p > 0))
            p = c->book_price[a] * 1e-12;
        c->init_price[a] = c->price[a] = p;
        /* an amm pool moves along its curve to the shocked price */
        xcr__impact_init(&c->imp[a], &b->assets[a].liq, p, lq);
    }
    xcr_status s = xcr_market_set_prices(c->m, c->price, err);
    if (s != XCR_OK)
        return s;
    c->shocked = true;
    return XCR_OK;
}

xcr_status xcr_cascade_shock_scenario(xcr_cascade *c, const xcr_scenarios *s,
                                      size_t i, xcr_error *err)
{
    if (!c || !s)
        return xcr__fail(err, XCR_EINVAL, "cascade and scenarios are required");
    if (i >= xcr_scenarios_count(s))
        return xcr__fail(err, XCR_ENOTFOUND, "scenario %zu out of range", i);
    const xcr_allocator *al = c->book->alloc;
    double *mv = xcr__malloc(al, 2 * (c->na + 1) * sizeof *mv);
    if (!mv)
        return NOMEM(err);
    double *lq = mv + c->na + 1;
    for (size_t a = 0; a < c->na; a++) {
        mv[a] = xcr_scenarios_move(s, i, a);
        lq[a] = xcr_scenarios_liquidity(s, i, a);
        if (!(lq[a] > 0))
            lq[a] = 1;
    }
    xcr_status st = xcr_cascade_shock(c, mv, lq, err);
    for (size_t a = 0; a < c->na && st == XCR_OK; a++) {
        double vs = xcr_scenarios_vol_shift(s, i, a);
        if (vs != 0 && isfinite(vs))
            st = xcr_market_set_vol_shift(c->m, a, vs, err);
    }
    xcr__free(al, mv);
    return st;
}

xcr_status xcr_cascade_parse_shock(const xcr_book *b, const char *spec,
                                   double *moves, xcr_error *err)
{
    if (!b || !spec || !moves)
        return xcr__fail(err, XCR_EINVAL, "book, shock and output are "
                                          "required");
    for (size_t a = 0; a < b->n_assets; a++)
        moves[a] = 0;
    if (!*spec)
        return xcr__fail(err, XCR_EINVAL, "--shock: empty");
    const char *p = spec;
    size_t item = 0;
    while (*p) {
        item++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char buf[160];
        if (len == 0 || len >= sizeof buf)
            return xcr__fail(err, XCR_EINVAL,
                             "--shock item %zu: expected SYM=MOVE", item);
        memcpy(buf, p, len);
        buf[len] = '\0';
        char *eq = strchr(buf, '=');
        if (!eq || eq == buf || !eq[1])
            return xcr__fail(err, XCR_EINVAL,
                             "--shock item %zu \"%s\": expected SYM=MOVE",
                             item, buf);
        *eq = '\0';
        long a = xcr_book_find_asset(b, buf);
        if (a < 0)
            return xcr__fail(err, XCR_EREF,
                             "--shock item %zu: unknown asset \"%s\"", item,
                             buf);
        char *e;
        double v = strtod(eq + 1, &e);
        if (*e || !isfinite(v) || !(v > -1))
            return xcr__fail(err, XCR_EINVAL,
                             "--shock item %zu: move of %s must be a number "
                             "> -1 (got \"%s\")",
                             item, buf, eq + 1);
        moves[a] = v;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p)
                return xcr__fail(err, XCR_EINVAL,
                                 "--shock: trailing comma");
        }
    }
    return XCR_OK;
}

/* MARK: accessors ------------------------------------------------------------------ */

xcr_status xcr_cascade_summary_get(const xcr_cascade *c,
                                   xcr_cascade_summary *o)
{
    if (!c || !o)
        return XCR_EINVAL;
    memset(o, 0, sizeof *o);
    o->rounds = c->rounds_with_liq;
    o->rounds_simulated = c->nrounds;
    o->converged = c->converged;
    o->liquidated_accounts = c->n_liquidated;
    o->liquidations = c->n_liqs;
    o->bankruptcies = c->n_bankrupt;
    o->liquidated_usd = c->liq_usd;
    o->bad_debt = c->bad;
    o->socialised = c->social;
    o->insurance_start = c->fund_start;
    o->insurance_end = c->fund;
    o->insurance_drawdown = c->draws;
    o->penalties = c->penalties;
    o->adl_volume = c->adl_vol;
    o->adl_loss = c->adl_loss;
    o->liquidator_gains = c->gains;
    o->protocol_fees = c->fees;
    o->equity_start = c->eq_start;
    double e = 0;
    for (size_t i = 0; i < c->nacc; i++)
        e += c->eq[i];
    o->equity_end = c->ran ? e : c->eq_start;
    o->max_conservation_error = c->max_err;
    return XCR_OK;
}

double xcr_cascade_book_price(const xcr_cascade *c, size_t a)
{
    return c && a < c->na ? c->book_price[a] : NAN;
}

double xcr_cascade_initial_price(const xcr_cascade *c, size_t a)
{
    return c && a < c->na ? c->init_price[a] : NAN;
}

double xcr_cascade_price(const xcr_cascade *c, size_t a)
{
    return c && a < c->na ? c->price[a] : NAN;
}

void xcr_cascade_prices(const xcr_cascade *c, double *out)
{
    if (c && out)
        memcpy(out, c->price, c->na * sizeof *out);
}

double xcr_cascade_amplification(const xcr_cascade *c, size_t a)
{
    if (!c || a >= c->na || c->shock[a] == 0)
        return NAN;
    return (c->price[a] / c->book_price[a] - 1) / c->shock[a];
}

double xcr_cascade_bad_debt(const xcr_cascade *c, size_t a)
{
    return c && a < c->na ? c->bad_by_asset[a] : NAN;
}

double xcr_cascade_sold(const xcr_cascade *c, size_t a)
{
    return c && a < c->na ? c->sold_total[a] : NAN;
}

size_t xcr_cascade_round_count(const xcr_cascade *c)
{
    return c ? c->nrounds : 0;
}

xcr_status xcr_cascade_round_get(const xcr_cascade *c, size_t i,
                                 xcr_cascade_round *out)
{
    if (!c || !out || i >= c->nrounds)
        return XCR_ENOTFOUND;
    *out = c->rounds[i].pub;
    return XCR_OK;
}

size_t xcr_cascade_evaluations(const xcr_cascade *c, size_t *skipped)
{
    if (skipped)
        *skipped = c ? c->n_skipped : 0;
    return c ? c->n_evals : 0;
}

size_t xcr_cascade_event_count(const xcr_cascade *c)
{
    return c ? c->nevents : 0;
}

xcr_status xcr_cascade_event_get(const xcr_cascade *c, size_t i,
                                 xcr_cascade_event *out)
{
    if (!c || !out || i >= c->nevents)
        return XCR_ENOTFOUND;
    *out = c->events[i];
    return XCR_OK;
}

const char *xcr_liq_action_name(xcr_liq_action a)
{
    static const char *const names[] = {"partial", "takeover", "isolated",
                                        "lending", "absorb",   "adl"};
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}
