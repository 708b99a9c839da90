/* Skipping re-evaluations that cannot change a liquidation.
 *
 * Every price moves a little in every round of a large cascade, so almost
 * every account is "exposed to an asset whose price moved"; evaluating all
 * of them each round is the whole cost.  For accounts whose margin surplus
 * is piecewise linear in prices — cross and lending accounts without
 * options and inverse contracts — a move bounds the change of the surplus
 * (collateral − maintenance margin, or Σ C·LT − D):
 *   |Δ surplus| ≤ Σ_balances |b·P_t|·κ_a·|r_a|
 *               + Σ_positions |size·cs·mark_t|·(κ_settle + mmr_max)·|r_und|
 * with r the relative move since the account's last evaluation (epoch t),
 * κ_a = max(1, liability_weight + borrow_mmr) (cross: the steepest slope of
 * tiered collateral (weights ≤ 1), liability weight and borrow margin in the
 * asset's net value) or 1 (lending: LT ≤ 1), and mmr_max the largest
 * maintenance rate of the instrument's brackets (MM is continuous in the
 * notional).  When the last surplus exceeds the bound, the account is
 * neither liquidatable nor bankrupt (collateral ≤ equity) at the new prices
 * and its evaluation is skipped; its equity, linear in prices for these
 * accounts, is brought up to date exactly:
 *   Δ equity = Σ b·ΔP + Σ size·cs·Δmark.
 * Liquidation decisions are therefore the same as with full re-evaluation
 * (checked by tests and bench/cascade); only the stored status of skipped
 * accounts (healthy vs margin call) and the ADL scores of such accounts
 * may lag by a round.  Off in sequential mode and with full_reevaluation. */
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
    c->mmr_max = xcr__calloc(al, b->n_insts + 1, sizeof *c->mmr_max);
    c->ibase = xcr__calloc(al, b->n_insts + 1, sizeof *c->ibase);
    c->stale = xcr__calloc(al, c->nacc + 1, 1);
    c->pos_slot = xcr__calloc(al, c->npos + 1, sizeof *c->pos_slot);
    if (!c->elig || !c->last || !c->kappa || !c->mmr_max || !c->ibase ||
        !c->stale || !c->pos_slot)
        return XCR_ENOMEM;
    /* each position's settle slot (build_layout gave every account one) */
    for (size_t i = 0; i < c->nacc; i++)
        for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
            uint32_t settle = b->insts[b->pos_inst[p]].settle;
            for (uint32_t k = c->bal_off[i]; k < c->bal_off[i + 1]; k++)
                if (c->bal_asset[k] == settle) {
                    c->pos_slot[p] = k - c->bal_off[i];
                    break;
                }
        }
    for (size_t i = 0; i < b->n_insts; i++)
        c->ibase[i] = b->insts[i].mark / b->assets[b->insts[i].und].price;
    for (size_t a = 0; a < c->na; a++) {
        double k = b->assets[a].liability_weight + b->assets[a].borrow_mmr;
        c->kappa[a] = k > 1 ? k : 1;
    }
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        double m = 0;
        for (uint32_t k = 0; k < in->nmt; k++)
            if (b->mtiers[in->mt_off + k].mmr > m)
                m = b->mtiers[in->mt_off + k].mmr;
        c->mmr_max[i] = m;
    }
    for (size_t i = 0; i < c->nacc; i++) {
        xcr_mode md = (xcr_mode)b->acct_mode[i];
        bool ok = md == XCR_MODE_CROSS || md == XCR_MODE_LENDING;
        for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1] && ok; p++) {
            const xcr__inst *in = &b->insts[b->pos_inst[p]];
            ok = in->type != XCR_OPTION && !in->inverse;
        }
        c->elig[i] = ok;
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
    xcr__free(al, c->mmr_max);
    xcr__free(al, c->hist);
    xcr__free(al, c->rtab);
    xcr__free(al, c->dtab);
    xcr__free(al, c->ibase);
    xcr__free(al, c->stale);
    xcr__free(al, c->pos_slot);
}

xcr_status xcr__bound_epoch(xcr_cascade *c)
{
    size_t need = (c->epoch + 2) * c->na;
    if (need > c->cap_hist) {
        const xcr_allocator *al = c->book->alloc;
        size_t cap = need * 2, old = c->cap_hist * sizeof(double);
        double *h = xcr__realloc(al, c->hist, old, cap * sizeof *h);
        if (h)
            c->hist = h;
        double *r = h ? xcr__realloc(al, c->rtab, old, cap * sizeof *r) : NULL;
        if (r)
            c->rtab = r;
        double *d = r ? xcr__realloc(al, c->dtab, old, cap * sizeof *d) : NULL;
        if (!d)
            return XCR_ENOMEM;
        c->dtab = d;
        c->cap_hist = cap;
    }
    c->epoch++;
    memcpy(c->hist + c->epoch * c->na, c->price, c->na * sizeof(double));
    /* the moves since every earlier epoch, so that the per-account test
     * is multiply-adds */
    for (size_t t = 1; t <= c->epoch; t++)
        for (size_t a = 0; a < c->na; a++) {
            double pt = c->hist[t * c->na + a];
            c->rtab[t * c->na + a] = c->price[a] / pt - 1;
        }
    return XCR_OK;
}

/* The evaluator's equity of account i at the current prices, bit for bit:
 * the same IEEE operations in the same order as eval_impl (src/margin/
 * eval.c: net per asset in first-touch order — here the account's slot
 * order, which holds every settle asset — then Σ net·price, isolated
 * margins last).  The build compiles C17 without contraction
 * (-ffp-contract=off is the ISO default), so equal operations give equal
 * bits.  `net` has room for the account's slots. */
static double exact_equity(const xcr_cascade *c, uint32_t i, double *net)
{
    const xcr_book *b = c->book;
    const xcr_market *m = c->m;
    const bool isolated = b->acct_mode[i] == XCR_MODE_ISOLATED;
    uint32_t b0 = c->bal_off[i], nb = c->bal_off[i + 1] - b0;
    for (uint32_t k = 0; k < nb; k++)
        net[k] = 0.0 + c->bal_amt[b0 + k];
    double iso_coll = 0;
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
        const uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        const double mark = m->mark[ii] * 1.0;
        const double sp = m->price[in->settle] * 1.0;
        const double uv = in->type != XCR_OPTION ? 0.0 : m->unit_value[ii];
        double contrib;
        const double upnl = xcr__em_upnl(in->type == XCR_OPTION, in->inverse,
                                         c->pos_size[p], in->cs,
                                         b->pos_entry[p], mark, uv, sp,
                                         &contrib);
        if (!isolated)
            net[c->pos_slot[p]] += contrib;
        else
            iso_coll += c->pos_iso[p] + upnl;
    }
    double equity = 0;
    for (uint32_t k = 0; k < nb; k++)
        equity += net[k] * (m->price[c->bal_asset[b0 + k]] * 1.0);
    if (isolated)
        equity += iso_coll;
    return equity;
}

/* 1 when account i must be evaluated; else its equity is brought up to
 * date (exactly) and its stored result marked stale. */
static int classify_one(xcr_cascade *c, uint32_t i, double *net)
{
    const xcr_book *b = c->book;
    if ((c->dirty[i] & 2) || !c->elig[i] || !(c->surplus[i] > 0) ||
        c->last[i] == 0)
        return 1;
    size_t off = (size_t)c->last[i] * c->na;
    const double *pt = c->hist + off, *rt = c->rtab + off;
    bool lending = b->acct_mode[i] == XCR_MODE_LENDING;
    double bound = 0, size_sum = 0;
    for (uint32_t k = c->bal_off[i]; k < c->bal_off[i + 1]; k++) {
        uint32_t a = c->bal_asset[k];
        double v = fabs(c->bal_amt[k] * pt[a]);
        bound += v * fabs(rt[a]) * (lending ? 1 : c->kappa[a]);
        size_sum += v;
    }
    for (uint32_t p = b->pos_off[i]; p < b->pos_off[i + 1]; p++) {
        uint32_t ii = b->pos_inst[p], u = b->insts[ii].und;
        double q = c->pos_size[p] * b->insts[ii].cs * c->ibase[ii];
        double v = fabs(q * pt[u]);
        bound += v * fabs(rt[u]) *
                 ((lending ? 1 : c->kappa[b->insts[ii].settle]) +
                  c->mmr_max[ii]);
        size_sum += v;
    }
    /* a margin for rounding in the evaluator's sums */
    double tol = 1e-12 * (size_sum + fabs(c->surplus[i])) + 1e-9;
    if (!(c->surplus[i] - bound * (1 + 1e-9) > tol))
        return 1;
    c->eq[i] = exact_equity(c, i, net);
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
    double *net = malloc((j->c->slot_cap + 1) * sizeof *net);
    for (size_t k = j->lo; k < j->hi; k++)
        /* without scratch (no memory) every account is evaluated */
        j->need[k] = net ? (uint8_t)classify_one(j->c, j->list[k], net) : 1;
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
