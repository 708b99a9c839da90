/* The round loop (cascades-and-contagion.md §6).
 *
 * Simultaneous rounds: (1) re-evaluate the accounts whose health may have
 * changed (exposed to an asset whose price moved, or changed by a
 * liquidation or ADL) at the round's start prices; (2) liquidate every
 * liquidatable account not held by a circuit breaker under its policy at
 * those prices (worker threads; each account writes only its own slots);
 * (3) in account order: the insurance fund, ADL and the ledgers, and the
 * net units sold per asset; (4) each asset recovers and trades its volume
 * from the round's price (impact.c); (5) the circuit breaker halts the
 * accounts exposed to an asset that moved more than max_move.  Stops at
 * the fixed point (nothing liquidatable that a policy can act on, no halt
 * pending) or max_rounds.
 * Sequential mode: the accounts liquidatable at the round's start are
 * taken worst first (bankrupt, then lowest health, then index), each one
 * re-evaluated at the current prices and liquidated with its sales moving
 * the prices at once; recovery applies at the round's end.
 * Round caps: accounts are taken worst first and an account whose sales
 * would push an asset past its cap waits for a later round (unless nothing
 * of that asset was sold yet this round, so that every round progresses).
 * Conservation (§6.5): with simultaneous rounds, the sum of account
 * equities after the liquidations (re-evaluated at the round's prices) must
 * differ from the sum before by minus the change of the ledgers (fund,
 * liquidator gains, protocol fees, bad debt); each liquidation is also
 * checked on its own.  The largest relative error is reported. */
#include "cascade.h"

#include <stdlib.h>
#include <string.h>

typedef struct liq_job {
    xcr_cascade *c;
    const uint32_t *list;
    xcr__liq_out *outs;
    size_t lo, hi;
    xcr_status st;
} liq_job;

static const xcr__policy *policy_of(const xcr_cascade *c, size_t acct)
{
    return c->book->acct_mode[acct] == XCR_MODE_LENDING ? c->lending_pol
                                                        : c->margin_pol;
}

static void clear_slots(xcr_cascade *c, size_t acct)
{
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    uint32_t p0 = c->book->pos_off[acct], p1 = c->book->pos_off[acct + 1];
    memset(c->bal_flow + b0, 0, (b1 - b0) * sizeof(double));
    memset(c->bal_bad + b0, 0, (b1 - b0) * sizeof(double));
    memset(c->pos_flow + p0, 0, (p1 - p0) * sizeof(double));
    memset(c->pos_closed + p0, 0, (p1 - p0) * sizeof(double));
}

/* Store an account's evaluation at the current epoch's prices (and its
 * packed copies). */
static void store(xcr_cascade *c, size_t acct, const xcr_account_result *r,
                  double surplus)
{
    c->res[acct] = *r;
    c->surplus[acct] = surplus;
    c->eq[acct] = r->equity;
    c->st[acct] = (uint8_t)r->status;
    c->last[acct] = (uint32_t)c->epoch;
    c->stale[acct] = 0;
}

static void liquidate_one(xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                          const xcr_account_result *r, xcr__liq_out *out)
{
    memset(out, 0, sizeof *out);
    clear_slots(c, acct);
    policy_of(c, acct)->liquidate(c, x, acct, r, out);
}

static void *liq_worker(void *arg)
{
    liq_job *j = arg;
    xcr__liq_ctx x;
    if (xcr__liq_ctx_init(j->c, &x) != XCR_OK) {
        j->st = XCR_ENOMEM;
        return NULL;
    }
    for (size_t k = j->lo; k < j->hi; k++)
        liquidate_one(j->c, &x, j->list[k], &j->c->res[j->list[k]],
                      &j->outs[k]);
    xcr__liq_ctx_free(j->c, &x);
    j->st = XCR_OK;
    return NULL;
}

/* MARK: bookkeeping ------------------------------------------------------------------ */

static void mark_changed(xcr_cascade *c, size_t acct)
{
    if (!(c->touched[acct] & 2)) {
        c->touched[acct] |= 2;
        c->changed[c->nchanged++] = (uint32_t)acct;
    }
    c->dirty[acct] |= 2; /* holdings changed: evaluate, never skip */
}

static bool push_event(xcr_cascade *c, const xcr_cascade_event *e)
{
    if (c->nevents == c->cap_events) {
        size_t cap = c->cap_events ? 2 * c->cap_events : 256;
        xcr_cascade_event *n =
            xcr__realloc(c->book->alloc, c->events,
                         c->cap_events * sizeof *n, cap * sizeof *n);
        if (!n)
            return false;
        c->events = n;
        c->cap_events = cap;
    }
    c->events[c->nevents++] = *e;
    return true;
}

/* ADL counterparties (the round being run is the trace's last entry). */
static void adl_touch(xcr_cascade *c, size_t acct, double vol, double loss)
{
    mark_changed(c, acct);
    c->round_adl_vol += vol;
    c->round_adl_loss += loss;
    if (c->o.trace_accounts) {
        xcr_cascade_event e = {0};
        e.round = c->nrounds + 1;
        e.account = acct;
        e.action = XCR_LIQ_ADL;
        e.policy = "adl";
        e.health_before = c->res[acct].health;
        e.equity_before = c->res[acct].equity;
        e.equity_after = c->res[acct].equity - loss;
        e.fraction = NAN;
        e.volume_usd = vol;
        e.adl = loss;
        push_event(c, &e);
    }
}

/* Reduce one liquidation into the ledgers and the round's flows; runs in
 * list order.  Returns the per-event relative conservation error. */
static double process_out(xcr_cascade *c, size_t acct, xcr__liq_out *out,
                          size_t round)
{
    const xcr_book *b = c->book;
    if (!out->done) {
        c->ever[acct] |= 2;
        return 0;
    }
    c->n_liqs++;
    if (!(c->ever[acct] & 1)) {
        c->ever[acct] |= 1;
        c->n_liquidated++;
    }
    mark_changed(c, acct);
    c->fund += out->to_fund;
    c->penalties += out->to_fund;
    c->gains += out->liq_gain;
    c->fees += out->fees;
    c->bad += out->bad_debt;
    c->liq_usd += out->volume_usd;
    /* this liquidation alone: what the account lost went to the fund, the
     * liquidator and the protocol, or was written off (a deficit parked in
     * the account until the waterfall below is no transfer yet) */
    double err = (out->eq_after - out->eq_before) + out->to_fund +
                 out->liq_gain + out->fees - out->bad_debt;
    double scale = fabs(out->eq_before) + fabs(out->to_fund) +
                   fabs(out->liq_gain) + fabs(out->fees) +
                   fabs(out->bad_debt) + out->volume_usd + 1;
    double rel = fabs(err) / scale;
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    for (uint32_t k = b0; k < b1; k++)
        c->bad_by_asset[c->bal_asset[k]] += c->bal_bad[k];
    /* the waterfall: fund → ADL → socialised */
    double draw = 0, adl = 0, social = 0;
    if (out->shortfall > 0) {
        c->n_bankrupt++;
        double s = out->shortfall;
        draw = c->fund < s ? c->fund : s;
        c->fund -= draw;
        c->draws += draw;
        double rest = s - draw;
        if (rest > 0 && c->o.adl) {
            adl = xcr__adl_cover(c, acct, rest, adl_touch);
            rest -= adl;
        }
        if (rest > 0) {
            social = rest;
            c->social += rest;
            c->bad += rest;
            c->bad_by_asset[c->cash] += rest;
        }
        for (uint32_t k = b0; k < b1; k++)
            if (c->bal_asset[k] == c->cash) {
                c->bal_amt[k] += s / c->price[c->cash];
                break;
            }
    }
    for (uint32_t k = b0; k < b1; k++)
        if (c->bal_asset[k] != c->cash)
            c->round_sold[c->bal_asset[k]] += c->bal_flow[k];
    for (uint32_t p = b->pos_off[acct]; p < b->pos_off[acct + 1]; p++)
        c->round_sold[b->insts[b->pos_inst[p]].und] += c->pos_flow[p];
    if (c->o.trace_accounts) {
        xcr_cascade_event e = {0};
        e.round = round;
        e.account = acct;
        e.action = (xcr_liq_action)out->action;
        e.policy = policy_of(c, acct)->name;
        e.health_before = out->health_before;
        e.equity_before = out->eq_before;
        e.equity_after = out->eq_after + out->shortfall;
        e.fraction = out->fraction;
        e.volume_usd = out->volume_usd;
        e.shortfall = out->shortfall;
        e.insurance_draw = draw;
        e.adl = adl;
        e.bad_debt = out->bad_debt + social;
        push_event(c, &e);
    }
    return rel;
}

/* MARK: prices ------------------------------------------------------------------------ */

/* Push this round's net sales through the impact models (with recovery
 * when `recover`); returns false when the market rejects a price. */
static void move_prices(xcr_cascade *c, bool recover, bool trade)
{
    for (size_t a = 0; a < c->na; a++) {
        if (a == c->cash)
            continue;
        xcr__impact *s = &c->imp[a];
        if (recover)
            xcr__impact_recover(s);
        if (trade && c->round_sold[a] != 0)
            xcr__impact_trade(s, c->round_sold[a]);
    }
}

/* Adopt the impact states' prices and mark the exposed accounts dirty;
 * returns the number of assets moved. */
static size_t adopt_prices(xcr_cascade *c)
{
    size_t moved = 0, marks = 0;
    for (size_t a = 0; a < c->na; a++) {
        double p = a == c->cash ? c->price[a] : c->imp[a].price;
        if (p != c->price[a])
            marks += c->exp_off[a + 1] - c->exp_off[a];
    }
    /* when the moved assets reach most accounts, one linear pass over
     * all of them beats scattered marks through the index */
    bool all = marks > c->nacc;
    for (size_t a = 0; a < c->na; a++) {
        double p = a == c->cash ? c->price[a] : c->imp[a].price;
        if (p == c->price[a])
            continue;
        moved++;
        c->price[a] = p;
        for (uint32_t k = c->exp_off[a]; k < c->exp_off[a + 1] && !all; k++)
            c->dirty[c->exp_acct[k]] |= 1; /* prices moved */
    }
    if (all)
        for (size_t i = 0; i < c->nacc; i++)
            c->dirty[i] |= 1;
    if (moved)
        xcr_market_set_prices(c->m, c->price, NULL);
    return moved;
}

/* Exposed to an asset under a circuit-breaker halt (balances, positions'
 * underlyings and settle assets: the exposure index's definition). */
static bool held(const xcr_cascade *c, size_t i)
{
    const xcr_book *b = c->book;
    for (uint32_t k = c->bal_off[i]; k < c->bal_off[i + 1]; k++)
        if (c->halt_left[c->bal_asset[k]] > 0)
            return true;
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++)
        if (c->halt_left[b->insts[b->pos_inst[p]].und] > 0)
            return true;
    return false;
}

/* MARK: ordering ------------------------------------------------------------------------ */

/* Worst first: bankrupt, then the lowest health, then the index (keys
 * copied out so that qsort needs no context). */
typedef struct order_key {
    int bankrupt;
    double health;
    uint32_t acct;
} order_key;

static int worse_first(const void *pa, const void *pb)
{
    const order_key *x = pa, *y = pb;
    if (x->bankrupt != y->bankrupt)
        return y->bankrupt - x->bankrupt;
    if (x->health != y->health)
        return x->health < y->health ? -1 : 1;
    return (x->acct > y->acct) - (x->acct < y->acct);
}

static xcr_status sort_worst_first(const xcr_cascade *c, uint32_t *list,
                                   size_t n)
{
    order_key *k = malloc((n + 1) * sizeof *k);
    if (!k)
        return XCR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const xcr_account_result *r = &c->res[list[i]];
        k[i].bankrupt = r->status == XCR_BANKRUPT;
        k[i].health = isnan(r->health) ? INFINITY : r->health;
        k[i].acct = list[i];
    }
    qsort(k, n, sizeof *k, worse_first);
    for (size_t i = 0; i < n; i++)
        list[i] = k[i].acct;
    free(k);
    return XCR_OK;
}

/* MARK: the loop ---------------------------------------------------------------------------- */

static xcr__round *new_round(xcr_cascade *c)
{
    if (c->nrounds == c->cap_rounds) {
        size_t cap = c->cap_rounds ? 2 * c->cap_rounds : 16;
        xcr__round *n = xcr__realloc(c->book->alloc, c->rounds,
                                     c->cap_rounds * sizeof *n,
                                     cap * sizeof *n);
        if (!n)
            return NULL;
        c->rounds = n;
        c->cap_rounds = cap;
    }
    xcr__round *r = &c->rounds[c->nrounds];
    memset(r, 0, sizeof *r);
    r->arrays = xcr__calloc(c->book->alloc, 3 * (c->na + 1), sizeof(double));
    if (!r->arrays)
        return NULL;
    c->nrounds++;
    r->pub.prices = r->arrays;
    r->pub.sold = r->arrays + c->na;
    r->pub.sold_usd = r->arrays + 2 * c->na;
    return r;
}

/* MARK: per-round scans over all accounts ------------------------------------------- */

/* The O(accounts) scans of a round run on worker threads over fixed chunks
 * of SCAN_CHUNK accounts: each chunk writes its list at its own offset and
 * its partial sums, which are then joined in chunk order.  The chunking
 * does not depend on the thread count, so neither do the bits. */
#define SCAN_CHUNK ((size_t)65536)

typedef struct scan_job {
    xcr_cascade *c;
    int pass;                   /* 0: dirty list; 1: sums and candidates */
    size_t ch0, ch1;            /* chunk range                           */
    uint32_t *list;             /* per chunk at ch·SCAN_CHUNK            */
    size_t *cnt;                /* per chunk: entries written            */
    size_t *held;               /* per chunk: held candidates            */
    double *sum, *abs_sum;      /* per chunk                             */
    size_t nhalt;
} scan_job;

static bool held(const xcr_cascade *c, size_t i);

static void *scan_worker(void *arg)
{
    scan_job *j = arg;
    xcr_cascade *c = j->c;
    for (size_t ch = j->ch0; ch < j->ch1; ch++) {
        size_t lo = ch * SCAN_CHUNK, hi = lo + SCAN_CHUNK, k = lo, nh = 0;
        if (hi > c->nacc)
            hi = c->nacc;
        if (j->pass == 0) {
            /* an account whose prices or holdings changed gets its policy
             * re-tried (ever & 2 cleared): decided on `dirty` in both
             * modes, so full re-evaluation re-tries the same accounts */
            bool full = c->o.full_reevaluation;
            for (size_t i = lo; i < hi; i++) {
                if (c->dirty[i])
                    c->ever[i] &= (uint8_t)~2u;
                if (c->dirty[i] || full)
                    j->list[k++] = (uint32_t)i;
                if (c->clear_dirty)
                    c->dirty[i] = 0;
            }
        } else {
            double e = 0, ae = 0;
            for (size_t i = lo; i < hi; i++) {
                double v = c->eq[i];
                e += v;
                ae += fabs(v);
                if (c->st[i] < XCR_LIQUIDATABLE || (c->ever[i] & 2))
                    continue;
                /* held: exposed to an asset under a halt */
                if (j->nhalt && held(c, i))
                    nh++;
                else
                    j->list[k++] = (uint32_t)i;
            }
            j->sum[ch] = e;
            j->abs_sum[ch] = ae;
            j->held[ch] = nh;
        }
        j->cnt[ch] = k - lo;
    }
    return NULL;
}

/* Run one pass; returns the joined list's length (the list compacted in
 * place, in account order) and, for pass 1, the sums and held count.
 * `tab` holds 2 size_t and 2 doubles per chunk (xcr_cascade_run). */
static size_t scan(xcr_cascade *c, int pass, uint32_t *list, size_t nhalt,
                   void *tab, double *sum, double *abs_sum, size_t *nheld)
{
    size_t nch = (c->nacc + SCAN_CHUNK - 1) / SCAN_CHUNK;
    size_t *cnt = tab, *hl = cnt + nch;
    double *sm = (double *)(hl + nch), *as = sm + nch;
    int nt = xcr__thread_count(c->threads, c->nacc);
    if ((size_t)nt > nch)
        nt = nch ? (int)nch : 1;
    scan_job jobs[XCR__MAX_THREADS];
    for (int t = 0; t < nt; t++)
        jobs[t] = (scan_job){c,  pass, nch * (size_t)t / (size_t)nt,
                             nch * (size_t)(t + 1) / (size_t)nt,
                             list, cnt, hl, sm, as, nhalt};
    if (nch)
        xcr__run_jobs(scan_worker, jobs, sizeof jobs[0], nt);
    size_t n = 0, nh = 0;
    double e = 0, ae = 0;
    for (size_t ch = 0; ch < nch; ch++) {
        if (n != ch * SCAN_CHUNK && cnt[ch])
            memmove(list + n, list + ch * SCAN_CHUNK,
                    cnt[ch] * sizeof *list);
        n += cnt[ch];
        if (pass == 1) {
            e += sm[ch];
            ae += as[ch];
            nh += hl[ch];
        }
    }
    if (pass == 1) {
        *sum = e;
        *abs_sum = ae;
        *nheld = nh;
    }
    return n;
}

static size_t scan_tab_bytes(const xcr_cascade *c)
{
    size_t nch = (c->nacc + SCAN_CHUNK - 1) / SCAN_CHUNK;
    return (nch + 1) * 2 * (sizeof(size_t) + sizeof(double));
}

/* Evaluate the dirty accounts (or all) into c->res; the skip rule
 * (bound.c) leaves out those that provably stay safe. */
static xcr_status eval_dirty(xcr_cascade *c, uint32_t *list, uint8_t *need,
                             void *tab)
{
    xcr_status s = xcr__bound_epoch(c);
    if (s != XCR_OK)
        return s;
    /* When the last test skipped less than three quarters of the
     * accounts, the test costs more than it saves: it is re-tried every
     * fourth epoch only, and the round evaluates every dirty account —
     * in account order, so mostly in long runs that the streaming fast
     * path of the evaluator takes (eval.c); when a move exposes most
     * accounts this is full re-evaluation.  The threshold was 0.25 before
     * that fast path; bench/cascade (docs/cascade.md, 2026-11-24) measured
     * 2.60 s CPU at 0.75 against 2.97 s at 0.25 and 2.55 s never testing
     * (within noise), on the 1M book; 0.75 keeps the test where a move
     * exposes few accounts.  This changes no result: a skipped account's
     * decision and equity are the evaluator's, bound.c. */
    bool test = c->skip_on && c->epoch > 1 &&
                (c->skip_ratio >= 0.75 || c->epoch % 4 == 2);
    c->clear_dirty = !test;
    size_t n = scan(c, 0, list, 0, tab, NULL, NULL, NULL), m = n;
    if (test) {
        /* classifies and clears `dirty` of the listed accounts */
        xcr__bound_classify(c, list, n, need, c->threads);
        m = 0;
        for (size_t k = 0; k < n; k++)
            if (need[k])
                list[m++] = list[k];
        c->skip_ratio = n ? (double)(n - m) / (double)n : 1;
    }
    c->n_evals += m;
    c->n_skipped += n - m;
    return xcr__cascade_eval_state(c, list, m, c->threads);
}

static double ledgers(const xcr_cascade *c)
{
    return c->fund + c->gains + c->fees - c->bad;
}

xcr_status xcr_cascade_run(xcr_cascade *c, xcr_error *err)
{
    if (!c)
        return xcr__fail(err, XCR_EINVAL, "cascade is NULL");
    if (c->ran)
        return xcr__fail(err, XCR_EINVAL, "a cascade runs once");
    c->ran = true;
    const xcr_allocator *al = c->book->alloc;
    size_t n = c->nacc;
    uint32_t *list = xcr__malloc(al, (n + 1) * sizeof *list);
    uint32_t *cands = xcr__malloc(al, (n + 1) * sizeof *cands);
    xcr_account_result *tmp = xcr__malloc(al, (n + 1) * sizeof *tmp);
    double *tmp_s = xcr__malloc(al, (n + 1) * sizeof *tmp_s);
    xcr__liq_out *outs = xcr__malloc(al, (n + 1) * sizeof *outs);
    double *start = xcr__malloc(al, (c->na + 1) * sizeof *start);
    double *cap_used = xcr__calloc(al, c->na + 1, sizeof *cap_used);
    uint8_t *need = xcr__malloc(al, n + 1);
    void *tab = xcr__malloc(al, scan_tab_bytes(c));
    xcr__liq_ctx x1;
    bool have_x1 = false;
    xcr_status st = XCR_OK;
    if (!list || !cands || !tmp || !tmp_s || !outs || !start || !cap_used ||
        !need || !tab) {
        st = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    if (xcr__liq_ctx_init(c, &x1) != XCR_OK) {
        st = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    have_x1 = true;
    if (xcr__ws_init(&c->rws, &c->sb) != XCR_OK) {
        st = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    c->have_rws = true;
    memset(c->dirty, 2, n);
    /* the shock itself may trip the circuit breaker */
    if (c->o.cb_max_move > 0)
        for (size_t a = 0; a < c->na; a++)
            if (fabs(c->shock[a]) > c->o.cb_max_move)
                c->halt_left[a] = c->o.cb_halt_rounds;
    double e0 = 0, abs0 = 0, prev_e1 = NAN;
    xcr__round *prev = NULL;
    c->converged = false;
    for (size_t round = 1;; round++) {
        st = eval_dirty(c, list, need, tab);
        if (st != XCR_OK) {
            xcr__fail(err, st, "out of memory");
            goto done;
        }
        /* held accounts: exposed to an asset under a halt */
        size_t nhalt_assets = 0;
        for (size_t a = 0; a < c->na; a++)
            nhalt_assets += c->halt_left[a] > 0;
        size_t nheld = 0;
        size_t nc = scan(c, 1, cands, nhalt_assets, tab, &e0, &abs0, &nheld);
        if (round == 1)
            c->eq_start = e0;
        if (prev)
            prev->pub.mtm = e0 - prev_e1;
        if (round > c->o.max_rounds)
            break;
        if (nc == 0 && (nheld == 0 || nhalt_assets == 0)) {
            c->converged = true;
            break;
        }
        xcr__round *r = new_round(c);
        if (!r) {
            st = xcr__fail(err, XCR_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(start, c->price, c->na * sizeof *start);
        memcpy(r->arrays, c->price, c->na * sizeof *start);
        memset(c->round_sold, 0, c->na * sizeof *c->round_sold);
        c->nchanged = 0;
        c->round_adl_vol = c->round_adl_loss = 0;
        double led0 = ledgers(c), fund0 = c->fund, pen0 = c->penalties,
               draw0 = c->draws, gain0 = c->gains, fee0 = c->fees,
               bad0 = c->bad, soc0 = c->social;
        size_t liq0 = c->n_liqs, deferred = 0;
        double ev_err = 0;
        bool seq = c->o.sequential, capped = c->o.round_cap_usd != NULL;
        if ((seq || capped) && sort_worst_first(c, cands, nc) != XCR_OK) {
            st = xcr__fail(err, XCR_ENOMEM, "out of memory");
            goto done;
        }
        if (seq) {
            for (size_t k = 0; k < nc; k++) {
                size_t acct = cands[k];
                xcr_account_result rr;
                xcr__acct_eval(c, &x1, acct, &rr, NULL);
                c->n_evals++;
                if (rr.status < XCR_LIQUIDATABLE)
                    continue;
                store(c, acct, &rr, NAN);
                memset(c->round_sold, 0, c->na * sizeof *c->round_sold);
                c->touched[acct] |= 1;
                liquidate_one(c, &x1, acct, &rr, &outs[0]);
                double e = process_out(c, acct, &outs[0], round);
                if (e > ev_err)
                    ev_err = e;
                for (size_t a = 0; a < c->na; a++) {
                    r->arrays[c->na + a] += c->round_sold[a];
                    r->arrays[2 * c->na + a] +=
                        c->round_sold[a] * c->price[a];
                }
                move_prices(c, false, true); /* immediate impact */
                adopt_prices(c);
            }
            memset(c->round_sold, 0, c->na * sizeof *c->round_sold);
            move_prices(c, true, false);
        } else {
            size_t nl = 0;
            if (capped) {
                memset(cap_used, 0, c->na * sizeof *cap_used);
                for (size_t k = 0; k < nc; k++) {
                    size_t acct = cands[k];
                    xcr__liq_out *o = &outs[nl];
                    liquidate_one(c, &x1, acct, &c->res[acct], o);
                    /* this account's sales per asset against the caps */
                    bool over = false;
                    const xcr_book *b = c->book;
                    for (int pass = 0; pass < 2 && o->done; pass++) {
                        for (uint32_t q = c->bal_off[acct];
                             q < c->bal_off[acct + 1]; q++) {
                            uint32_t a = c->bal_asset[q];
                            if (a == c->cash)
                                continue;
                            double u = fabs(c->bal_flow[q]) * c->price[a];
                            double cap = c->o.round_cap_usd[a];
                            if (pass == 0)
                                over = over || (cap_used[a] > 0 &&
                                                cap_used[a] + u > cap);
                            else
                                cap_used[a] += u;
                        }
                        for (uint32_t p = b->pos_off[acct];
                             p < b->pos_off[acct + 1]; p++) {
                            uint32_t a = b->insts[b->pos_inst[p]].und;
                            double u = fabs(c->pos_flow[p]) * c->price[a];
                            double cap = c->o.round_cap_usd[a];
                            if (pass == 0)
                                over = over || (cap_used[a] > 0 &&
                                                cap_used[a] + u > cap);
                            else
                                cap_used[a] += u;
                        }
                        if (over)
                            break;
                    }
                    if (over) {
                        xcr__acct_restore(c, &x1, acct);
                        clear_slots(c, acct);
                        deferred++;
                        continue;
                    }
                    list[nl] = (uint32_t)acct;
                    nl++;
                }
            } else {
                int nt = xcr__thread_count(c->threads, nc);
                liq_job jobs[XCR__MAX_THREADS];
                for (int t = 0; t < nt; t++)
                    jobs[t] = (liq_job){c, cands, outs,
                                        nc * (size_t)t / (size_t)nt,
                                        nc * (size_t)(t + 1) / (size_t)nt,
                                        XCR_OK};
                xcr__run_jobs(liq_worker, jobs, sizeof jobs[0], nt);
                for (int t = 0; t < nt; t++)
                    if (jobs[t].st != XCR_OK) {
                        st = xcr__fail(err, XCR_ENOMEM, "out of memory");
                        goto done;
                    }
                memcpy(list, cands, nc * sizeof *list);
                nl = nc;
            }
            for (size_t k = 0; k < nl; k++)
                if (outs[k].done)
                    c->touched[list[k]] |= 1;
            for (size_t k = 0; k < nl; k++) {
                double e = process_out(c, list[k], &outs[k], round);
                if (e > ev_err)
                    ev_err = e;
            }
            /* conservation: the liquidations at this round's prices */
            size_t nch = c->nchanged;
            c->n_evals += nch;
            st = xcr__cascade_eval(c, c->changed, nch, tmp, tmp_s,
                                   c->threads);
            if (st != XCR_OK) {
                xcr__fail(err, st, "out of memory");
                goto done;
            }
            double e1 = e0;
            for (size_t k = 0; k < nch; k++) {
                e1 += tmp[k].equity - c->eq[c->changed[k]];
                store(c, c->changed[k], &tmp[k], tmp_s[k]);
                /* evaluated at this epoch: next round may skip it */
                c->dirty[c->changed[k]] = 1;
            }
            double lerr = fabs(e1 - e0 + (ledgers(c) - led0)) /
                          (abs0 + fabs(ledgers(c)) + fabs(led0) + 1);
            if (lerr > ev_err)
                ev_err = lerr;
            prev_e1 = e1;
            for (size_t a = 0; a < c->na; a++) {
                r->arrays[c->na + a] = c->round_sold[a];
                r->arrays[2 * c->na + a] =
                    c->round_sold[a] * c->price[a];
            }
            move_prices(c, true, true);
        }
        if (seq)
            prev_e1 = e0 - (ledgers(c) - led0);
        for (size_t a = 0; a < c->na; a++) {
            c->sold_total[a] += r->pub.sold[a];
            if (c->halt_left[a] > 0)
                c->halt_left[a]--;
        }
        adopt_prices(c);
        /* circuit breaker: an asset that moved more than max_move this
         * round halts the accounts exposed to it for halt_rounds rounds */
        for (size_t a = 0; a < c->na && c->o.cb_max_move > 0; a++)
            if (fabs(c->price[a] / start[a] - 1) > c->o.cb_max_move)
                c->halt_left[a] = c->o.cb_halt_rounds;
        for (size_t k = 0; k < c->nchanged; k++)
            c->touched[c->changed[k]] = 0;
        for (size_t k = 0; k < nc; k++)
            c->touched[cands[k]] = 0;
        size_t nliq = c->n_liqs - liq0;
        if (nliq)
            c->rounds_with_liq++;
        r->pub.round = round;
        r->pub.liquidations = nliq;
        r->pub.halted = nheld;
        r->pub.deferred = deferred;
        r->pub.insurance_fund = c->fund;
        r->pub.insurance_draw = c->draws - draw0;
        r->pub.penalties = c->penalties - pen0;
        r->pub.adl_volume = c->round_adl_vol;
        r->pub.adl_loss = c->round_adl_loss;
        c->adl_vol += c->round_adl_vol;
        c->adl_loss += c->round_adl_loss;
        r->pub.bad_debt = c->bad - bad0;
        r->pub.bad_debt_total = c->bad;
        r->pub.socialised = c->social - soc0;
        r->pub.liquidator_gains = c->gains - gain0;
        r->pub.protocol_fees = c->fees - fee0;
        r->pub.equity = e0;
        r->pub.conservation_error = ev_err;
        (void)fund0;
        if (ev_err > c->max_err)
            c->max_err = ev_err;
        prev = r;
    }
done:
    if (have_x1)
        xcr__liq_ctx_free(c, &x1);
    if (c->have_rws)
        xcr__ws_free(&c->rws, &c->sb);
    c->have_rws = false;
    xcr__free(al, list);
    xcr__free(al, cands);
    xcr__free(al, tmp);
    xcr__free(al, tmp_s);
    xcr__free(al, outs);
    xcr__free(al, start);
    xcr__free(al, cap_used);
    xcr__free(al, need);
    xcr__free(al, tab);
    return st;
}
