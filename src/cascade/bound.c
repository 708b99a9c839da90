/* Skipping re-evaluations that cannot change a liquidation.
 *
 * Every price moves a little in every round of a large cascade, so almost
 * every account is "exposed to an asset whose price moved"; evaluating all
 * of them each round is most of the cost.  classify_one (below, with the
 * proof) bounds the change of an account's surplus since its last
 * evaluation from the actual net moves of its net asset values and
 * notionals; when the last surplus exceeds the bound, the account is
 * provably neither liquidatable nor bankrupt and its evaluation is
 * skipped.  Its equity is then computed with the evaluator's own
 * operations in the evaluator's order, so it is the very same double;
 * its stored result (status, health, margins) is marked stale, and the
 * only reader of other accounts' results, ADL ranking, refreshes a stale
 * counterparty first (xcr__cascade_refresh).  Hence incremental runs are
 * bit-identical to full re-evaluation (tests/test_cascade.c
 * incremental_equals_full_reevaluation; bench/cascade checks it too).
 * Portfolio accounts with a scenario model are always evaluated.  Off in
 * sequential mode and with full_reevaluation. */
#include "cascade.h"

#include <stdlib.h>
#include <string.h>

#include "../margin/eval_math.h"

xcr_status xcr__bound_init(xcr_cascade *c)
{
    const xcr_book *b = c->book;
    const xcr_allocator *al = b->alloc;
    c->elig = xcr__calloc(al, c->nacc + 1, 1);
    c->last = xcr__calloc(al, c->nacc + 1, sizeof *c->last);
    c->kappa = xcr__calloc(al, c->na + 1, sizeof *c->kappa);
    c->stale = xcr__calloc(al, c->nacc + 1, 1);
    if (!c->elig || !c->last || !c->kappa || !c->stale)
        return XCR_ENOMEM;
    for (size_t a = 0; a < c->na; a++) {
        double k = b->assets[a].liability_weight + b->assets[a].borrow_mmr;
        c->kappa[a] = k > 1 ? k : 1;
    }
    for (size_t i = 0; i < c->nacc; i++) {
        xcr_mode md = (xcr_mode)b->acct_mode[i];
        /* a portfolio account's requirement comes from its scenario
         * model, which this bound does not cover: always evaluated */
        c->elig[i] = md != XCR_MODE_PORTFOLIO || !b->pm;
    }
    c->skip_on = !c->o.sequential && !c->o.full_reevaluation;
    c->skip_ratio = 1;
    return XCR_OK;
}

void xcr__bound_free(xcr_cascade *c)
{
    const xcr_allocator *al = c->book->alloc;
    xcr__free(al, c->elig);
    xcr__free(al, c->last);
    xcr__free(al, c->kappa);
    xcr__free(al, c->hist);
    xcr__free(al, c->hmark);
    xcr__free(al, c->huv);
    xcr__free(al, c->stale);
    xcr__free(al, c->pos_slot);
}

xcr_status xcr__bound_epoch(xcr_cascade *c)
{
    const xcr_allocator *al = c->book->alloc;
    size_t ni = c->book->n_insts;
    size_t need = (c->epoch + 2) * c->na;
    if (need > c->cap_hist) {
        size_t cap = need * 2;
        double *h = xcr__realloc(al, c->hist, c->cap_hist * sizeof *h,
                                 cap * sizeof *h);
        if (!h)
            return XCR_ENOMEM;
        c->hist = h;
        c->cap_hist = cap;
    }
    need = (c->epoch + 2) * (ni + 1);
    if (need > c->cap_ihist) {
        size_t cap = need * 2, old = c->cap_ihist * sizeof(double);
        double *mk = xcr__realloc(al, c->hmark, old, cap * sizeof *mk);
        if (mk)
            c->hmark = mk;
        double *uv = mk ? xcr__realloc(al, c->huv, old, cap * sizeof *uv)
                        : NULL;
        if (!uv)
            return XCR_ENOMEM;
        c->huv = uv;
        c->cap_ihist = cap;
    }
    c->epoch++;
    /* the epoch's prices, marks and option values, as the market holds
     * them: the classifier compares an account's holdings at these with
     * the current ones */
    memcpy(c->hist + c->epoch * c->na, c->price, c->na * sizeof(double));
    if (ni) {
        memcpy(c->hmark + c->epoch * (ni + 1), c->m->mark, ni * sizeof(double));
        memcpy(c->huv + c->epoch * (ni + 1), c->m->unit_value,
               ni * sizeof(double));
    }
    return XCR_OK;
}

/* The largest maintenance rate of instrument `in`'s brackets between the
 * notionals n0 and n1: the steepest slope of its (continuous) maintenance
 * margin on that interval. */
static double mmr_between(const xcr_book *b, const xcr__inst *in, double n0,
                          double n1)
{
    const xcr__mtier *t = b->mtiers + in->mt_off;
    uint32_t k0 = xcr__em_bracket(t, in->nmt, n0 < n1 ? n0 : n1);
    uint32_t k1 = xcr__em_bracket(t, in->nmt, n0 < n1 ? n1 : n0);
    double m = 0;
    for (uint32_t k = k0; k <= k1 && k < in->nmt; k++)
        if (t[k].mmr > m)
            m = t[k].mmr;
    return m;
}

/* 1 when account i must be evaluated; else its equity is brought up to
 * date (exactly) and its stored result marked stale.  `net` has room for
 * three times the account's slots.
 *
 * The bound.  The account (not a portfolio account) has the holdings it
 * had at its evaluation at epoch t (a change forces an evaluation).  Write
 * v_a for the USD value of its net amount of asset a (balance plus what
 * its non-isolated positions settle in a: PnL, option values), N_p for a
 * position's notional (|size|·cs·mark; |size|·cs for inverse contracts)
 * and u_p for its USD PnL.  All three are computed exactly at both the
 * epoch's and the current prices, marks and option values with the
 * evaluator's own formulas (eval_math.h), so the moves are net: prices
 * that swung back cost nothing, and positions within one asset net.
 *  - cross: S = Σ_a g_a(v_a) − Σ_p MM_p(N_p), g_a(v) = tiered(v) for v > 0
 *    (slopes = tier weights in [0, 1], validated by the book) and
 *    (lw + borrow_mmr)·v for v < 0 (collateral v·lw, borrow margin
 *    −v·borrow_mmr), continuous at 0: Lipschitz with κ_a = max(1, lw +
 *    borrow_mmr).  Tiers only lower slopes below 1, never raise them.
 *  - MM_p is continuous and piecewise linear in N_p (the maintenance
 *    amount recursion, margin-models.md §3.1) with slope mmr_k in bracket
 *    k: |ΔMM_p| ≤ max{mmr_k : bracket k meets [N_t, N_now]}·|ΔN_p|; long
 *    options carry none.
 *  - lending: S = Σ_{v>0} LT_a·v − Σ_{v<0} |v| (LT ≤ 1, e-mode included,
 *    validated): κ = 1; positions add only their value to v.
 *  - isolated: S = min(equity, min_p (iso_p + u_p − MM_p)) with equity =
 *    Σ_a v_a + Σ_p (iso_p + u_p): each term moves by at most
 *    Σ_a |Δv_a| + Σ_p (|Δu_p| + |ΔMM_p|).
 * So |S_now − S_t| ≤ B = Σ_a κ_a·|Δv_a| + Σ_p (|Δu_p|·[isolated] +
 * mmr_span_p·|ΔN_p|).  When S_t − B exceeds a rounding margin, S_now > 0:
 * the account is neither liquidatable nor bankrupt (S > 0 implies equity
 * > 0: collateral ≤ equity since weights ≤ 1 ≤ lw and LT ≤ 1; isolated:
 * S ≤ equity), the decision full re-evaluation makes. */
static int classify_one(xcr_cascade *c, uint32_t i, double *net)
{
    const xcr_book *b = c->book;
    if ((c->dirty[i] & 2) || !c->elig[i] || !(c->surplus[i] > 0) ||
        c->last[i] == 0)
        return 1;
    const xcr_market *m = c->m;
    const size_t ni1 = b->n_insts + 1, t = c->last[i];
    const double *pt = c->hist + t * c->na;
    const double *mkt = c->hmark + t * ni1, *uvt = c->huv + t * ni1;
    const xcr_mode mode = (xcr_mode)b->acct_mode[i];
    const bool lending = mode == XCR_MODE_LENDING;
    const bool isolated = mode == XCR_MODE_ISOLATED;
    const uint32_t b0 = c->bal_off[i], nb = c->bal_off[i + 1] - b0;
    /* per slot: net amount now; at epoch t, the amount valued at the
     * slot's price (balance, inverse PnL) and the USD PnL */
    double *nn = net, *nt = net + nb, *ut_usd = net + 2 * (size_t)nb;
    for (uint32_t k = 0; k < nb; k++) {
        nn[k] = 0.0 + c->bal_amt[b0 + k]; /* as the evaluator: 0 + x */
        nt[k] = nn[k];
        ut_usd[k] = 0;
    }
    double gross = 0, pos_b = 0, iso_coll = 0;
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
        const uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        const bool opt = in->type == XCR_OPTION;
        const double size = c->pos_size[p];
        double cn, ct = 0, ut;
        /* the evaluator's operations on the current market (bit for bit:
         * the equity below is the evaluator's) */
        const double un = xcr__em_upnl(opt, in->inverse, size, in->cs,
                                       b->pos_entry[p], m->mark[ii],
                                       opt ? m->unit_value[ii] : 0.0,
                                       m->price[in->settle], &cn);
        if (in->inverse) /* coin PnL, worth its settle price at t */
            ut = xcr__em_upnl(opt, true, size, in->cs, b->pos_entry[p],
                              mkt[ii], opt ? uvt[ii] : 0.0, pt[in->settle],
                              &ct);
        else /* USD PnL (contrib × settle price): no division needed */
            ut = opt ? size * uvt[ii]
                     : size * in->cs * (mkt[ii] - b->pos_entry[p]);
        if (!isolated) {
            nn[c->pos_slot[p]] += cn;
            if (in->inverse)
                nt[c->pos_slot[p]] += ct;
            else
                ut_usd[c->pos_slot[p]] += ut;
        } else {
            iso_coll += c->pos_iso[p] + un;
            pos_b += fabs(un - ut);
        }
        const double n_now = xcr__em_notional(in->inverse, size, in->cs,
                                              m->mark[ii]);
        const double n_t = xcr__em_notional(in->inverse, size, in->cs,
                                            mkt[ii]);
        if (!lending && (!opt || size < 0) && n_now != n_t) {
            /* one bracket: its rate; else the brackets spanned */
            const double dn = fabs(n_now - n_t);
            pos_b += (in->nmt == 1 ? b->mtiers[in->mt_off].mmr
                                   : mmr_between(b, in, n_t, n_now)) *
                     dn;
        }
        gross += n_now + n_t + fabs(un) + fabs(ut) + fabs(c->pos_iso[p]);
    }
    double bound = pos_b, equity = 0;
    for (uint32_t k = 0; k < nb; k++) {
        const uint32_t a = c->bal_asset[b0 + k];
        const double vn = nn[k] * m->price[a], vt = nt[k] * pt[a] + ut_usd[k];
        equity += vn; /* the evaluator's sum, in its order */
        bound += fabs(vn - vt) * (lending || isolated ? 1 : c->kappa[a]);
        gross += fabs(vn) + fabs(vt);
    }
    /* a margin for rounding in the evaluator's sums and in these */
    double tol = 1e-12 * (gross + fabs(c->surplus[i])) + 1e-9;
    if (!(c->surplus[i] - bound * (1 + 1e-9) > tol))
        return 1;
    if (isolated)
        equity += iso_coll;
    c->eq[i] = equity;
    c->stale[i] = 1;
    return 0;
}

typedef struct bound_job {
    xcr_cascade *c;
    const uint32_t *list;
    uint8_t *need;
    size_t lo, hi;
} bound_job;

static void *bound_worker(void *arg)
{
    bound_job *j = arg;
    double *net = malloc((3 * j->c->slot_cap + 1) * sizeof *net);
    for (size_t k = j->lo; k < j->hi; k++) {
        /* without scratch (no memory) every account is evaluated */
        j->need[k] = net ? (uint8_t)classify_one(j->c, j->list[k], net) : 1;
        j->c->dirty[j->list[k]] = 0;
    }
    free(net);
    return NULL;
}

void xcr__bound_classify(xcr_cascade *c, const uint32_t *list, size_t n,
                         uint8_t *need, int threads)
{
    if (!c->skip_on) {
        memset(need, 1, n);
        return;
    }
    int nt = xcr__thread_count(threads, n);
    bound_job jobs[XCR__MAX_THREADS];
    /* each account is decided on its own data: any split, same bits */
    for (int t = 0; t < nt; t++)
        jobs[t] = (bound_job){c, list, need, n * (size_t)t / (size_t)nt,
                              n * (size_t)(t + 1) / (size_t)nt};
    xcr__run_jobs(bound_worker, jobs, sizeof jobs[0], nt);
}
