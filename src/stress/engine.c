/* The stress engine: every account under every scenario.
 *
 * 1. Scenario tables.  For each scenario the shocked prices, instrument
 *    marks, implied vols and option values per contract are computed once
 *    (marks move with their underlying's price, spec §2; options are
 *    repriced with Black-76 at the shocked mark and the shocked vol, as
 *    xcr_market_set_prices / xcr_market_set_vol_shift would).  A scenario is
 *    then just a market view over these rows, fed to the one margin
 *    evaluator (src/margin/eval.c) for every mode, portfolio included.
 * 2. Chunks.  Accounts are cut into chunks whose size depends only on the
 *    book (never on the thread count).  Threads take chunks from an atomic
 *    counter; each chunk is evaluated scenario by scenario (its accounts
 *    stay in cache), and owns its accounts' per-account statistics.
 * 3. Reductions.  Book-wide totals per scenario are sums over chunks done
 *    by whichever thread.  To make them independent of that, a chunk's
 *    partial sum (a double, summed in account order) is added into 128-bit
 *    fixed-point accumulators (2^-32 USD units): integer addition is
 *    associative, so the totals are bit-identical for any thread count and
 *    any scheduling.  Counts are integers anyway.
 * The base state (equity and status before the move) is evaluated in the
 * same pass. */
#include "fast.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")
#define N_SUMS 4   /* loss, shortfall, liquidatable collateral, notional */
#define N_CNT 5    /* four statuses + newly liquidatable                   */
#define QUANT_AUTO_BYTES ((size_t)64 << 20)
#define DETAIL_AUTO_CELLS ((size_t)1 << 21)
/* Scenarios per block of the fast path's products: the chunk's
 * 256 × 4 rows × FAST_SB doubles stay in L2. */
#define FAST_SB 64

void xcr_stress_opts_init(xcr_stress_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->account_quantiles = -1;
    o->asset_detail = -1;
}

typedef struct eng {
    const xcr_market *m;
    const xcr_book *b;
    const xcr_scenarios *s;
    xcr_stress_result *r;
    size_t ns, nacc, na, ni;
    double *price, *mark, *uv, *iv; /* scenario tables                   */
    double *upnl0;                   /* per position, base market         */
    size_t chunk, nchunks, max_pos;
    size_t sr;                       /* first scenario of the range: the
                                        results' index 0                  */
    size_t t0, nt;                   /* scenarios t0 .. t0+nt−1 of the set
                                        have tables (the range, widened
                                        to whole FAST_SB blocks of the set
                                        on the fast path)                 */
    size_t ld;                       /* ft row length: nt rounded up to
                                        whole blocks (zero columns)       */
    bool quant, detail, fast;
    xcr__fast_ctx fc;                /* fast path (fast.h)                 */
    double *ft;                      /* K × ns factor table               */
    double *cell_eq;                 /* optional n_acc × ns outputs       */
    uint8_t *cell_st;
    atomic_size_t next;
    atomic_size_t done;
} eng;

typedef struct tstate {
    eng *e;
    xcr__ws ws;
    bool ws_ok;
    xcr_position_result *pos;
    xcr__i128 *acc;     /* ns × N_SUMS                                  */
    uint32_t *cnt;      /* ns × N_CNT                                   */
    xcr__i128 *aloss;   /* ns × na (detail)                             */
    xcr__i128 *aliq;
    double *pl, *pq;    /* per-asset partials of one chunk and scenario */
    double *buf;        /* chunk × ns losses (quantiles)                */
    double *heap;       /* ns: scratch of the quantiles                 */
    xcr__fast_ws fws;   /* fast path: model builder scratch             */
    bool fws_ok;
    xcr__fast_acct *fa; /* chunk models: what every cell reads          */
    xcr__fast_ext *fx;  /* chunk models: the rest                       */
    xcr__fast_model *fm;/* one model being built                        */
    int32_t *fa_idx;    /* chunk: model index or −1                     */
    double *fa_rows;    /* chunk × 4 × K coefficients                   */
    double *cblk;       /* FAST_SB × (chunk × 4) products: a scenario's
                           rows of all the chunk's accounts contiguous  */
    double *gsum;       /* K: Σ equity gradients of the chunk's models  */
    double *fblk;       /* FAST_SB × K: the block's factors            */
    double *rows1;      /* 4 × K: one model being built                 */
    double *undo;       /* K: the part of gsum of cells sent to the
                           evaluator in this scenario                   */
    xcr_status st;
    size_t bad_acct, bad_scen;
    int main_thread;
    xcr_progress_fn progress;
    void *progress_ctx;
} tstate;

/* MARK: scenario tables ------------------------------------------------------------- */

typedef struct tab_job {
    eng *e;
    size_t lo, hi;
} tab_job;

void xcr__stress_scen_row(const xcr_market *m, const double *moves,
                          const double *vol, double *px, double *mk,
                          double *iv, double *uv)
{
    const xcr_book *b = m->book;
    for (size_t a = 0; a < b->n_assets; a++)
        px[a] = m->price[a] * (1.0 + moves[a]);
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        /* as refresh_inst in market.c: marks move with the underlying's
         * price (spec §2) */
        double mark = in->mark * (px[in->und] / b->assets[in->und].price);
        mk[i] = mark;
        double v = m->iv[i];
        if (iv) {
            double sh = vol ? vol[in->und] : 0.0;
            v = in->type == XCR_OPTION ? m->iv[i] + sh : m->iv[i];
            if (v < 0)
                v = 0;
            iv[i] = v;
        }
        uv[i] = in->type == XCR_OPTION
                    ? xcr__option_unit_value(b, in, mark, v)
                    : 0.0;
    }
}

static void *tables_worker(void *arg)
{
    tab_job *j = arg;
    eng *e = j->e;
    const xcr_market *m = e->m;
    const xcr_scenarios *s = e->s;
    for (size_t k = j->lo; k < j->hi; k++) {
        const size_t g = e->t0 + k; /* index in the set */
        xcr__stress_scen_row(m, s->moves + g * e->na,
                             s->vol ? s->vol + g * e->na : NULL,
                             e->price + k * e->na, e->mark + k * e->ni,
                             e->iv ? e->iv + k * e->ni : NULL,
                             e->uv + k * e->ni);
        if (e->fast) {
            /* factors (fast.h): asset moves, option value changes */
            const size_t K = e->fc.K, ld = e->ld;
            for (size_t a = 0; a < e->na; a++)
                e->ft[a * ld + k] = s->moves[g * e->na + a];
            for (size_t c = e->na; c < K; c++) {
                const uint32_t i = e->fc.col_inst[c - e->na];
                e->ft[c * ld + k] = e->uv[k * e->ni + i] - m->unit_value[i];
            }
        }
    }
    return NULL;
}

static void run_tables(eng *e, int nt)
{
    tab_job jobs[XCR__MAX_THREADS];
    if (nt > XCR__MAX_THREADS)
        nt = XCR__MAX_THREADS;
    for (int t = 0; t < nt; t++)
        jobs[t] = (tab_job){e, e->nt * (size_t)t / (size_t)nt,
                            e->nt * (size_t)(t + 1) / (size_t)nt};
    xcr__run_jobs(tables_worker, jobs, sizeof jobs[0], nt);
}

/* MARK: evaluation -------------------------------------------------------------------- */

static bool finite_result(const xcr_account_result *r)
{
    return isfinite(r->equity) && isfinite(r->collateral) &&
           isfinite(r->maintenance_margin);
}

static void note_bad(tstate *t, size_t acct, size_t scen)
{
    if (t->st != XCR_ERANGE || acct < t->bad_acct ||
        (acct == t->bad_acct && scen < t->bad_scen)) {
        t->st = XCR_ERANGE;
        t->bad_acct = acct;
        t->bad_scen = scen;
    }
}

/* Position count of an account. */
static inline uint32_t npos(const xcr_book *b, size_t a)
{
    return b->pos_off[a + 1] - b->pos_off[a];
}

/* Partial sums of one chunk under one scenario (summed in account order). */
typedef struct part {
    double loss, shortfall, lc, ln;
    uint32_t cnt[N_CNT];
} part;

/* One cell through the full evaluator: equity and status into *res, what a
 * liquidator would take into the partials, loss by asset into t->pl/pq. */
static void slow_cell(tstate *t, const xcr_market *view, size_t a, size_t k,
                      xcr_account_result *res, part *p)
{
    eng *e = t->e;
    const xcr_book *b = e->b;
    const xcr_market *m = e->m;
    xcr_stress_result *r = e->r;
    const double *px = view->price;
    xcr__eval_account(view, NULL, a, &t->ws, res, t->pos, NULL);
    if (!finite_result(res)) {
        note_bad(t, a, e->sr + k);
        res->equity = r->eq0[a];
        res->status = (xcr_acct_status)r->st0[a];
    }
    const uint32_t np = npos(b, a);
    const uint32_t p0 = b->pos_off[a];
    if (res->status >= XCR_LIQUIDATABLE) {
        /* what a liquidator would take and unwind */
        double lc = 0, ln = 0;
        if (b->acct_mode[a] == XCR_MODE_ISOLATED) {
            for (uint32_t j = 0; j < np; j++)
                if (t->pos[j].status >= XCR_LIQUIDATABLE) {
                    double mg = b->pos_iso[p0 + j] + t->pos[j].upnl;
                    lc += mg > 0 ? mg : 0;
                    ln += t->pos[j].notional;
                }
        } else {
            for (size_t q = 0; q < t->ws.n_kept; q++) {
                const uint32_t as = t->ws.kept_asset[q];
                const double v = t->ws.kept_net[q] * px[as];
                if (v > 0) {
                    lc += v;
                    if (e->detail)
                        t->pq[as] += v;
                } else {
                    ln -= v;
                }
            }
            for (uint32_t j = 0; j < np; j++)
                ln += t->pos[j].notional;
        }
        p->lc += lc;
        p->ln += ln;
    }
    if (e->detail) {
        /* loss by asset: balances to their asset, positions to their
         * underlying; sums to the account's loss */
        for (uint32_t q = b->bal_off[a]; q < b->bal_off[a + 1]; q++) {
            const uint32_t as = b->bal_asset[q];
            t->pl[as] += b->bal_amt[q] * (m->price[as] - px[as]);
        }
        for (uint32_t j = 0; j < np; j++)
            t->pl[b->insts[b->pos_inst[p0 + j]].und] +=
                e->upnl0[p0 + j] - t->pos[j].upnl;
    }
}

/* The per-scenario and per-account bookkeeping of one cell. */
static inline void book_cell(tstate *t, size_t a, size_t lo, size_t k,
                             double equity, xcr_acct_status status, part *p)
{
    eng *e = t->e;
    xcr_stress_result *r = e->r;
    const double loss = r->eq0[a] - equity;
    const double sf = equity < 0 ? -equity : 0.0;
    p->loss += loss;
    p->shortfall += sf;
    p->cnt[status]++;
    const bool liq = status >= XCR_LIQUIDATABLE;
    if (liq && r->st0[a] < XCR_LIQUIDATABLE)
        p->cnt[4]++;
    /* per account, in scenario order */
    r->sum_loss[a] += loss;
    r->sum_short[a] += sf;
    if (liq)
        r->n_liq[a]++;
    if (status == XCR_BANKRUPT)
        r->n_bank[a]++;
    if (loss > r->max_loss[a]) {
        r->max_loss[a] = loss;
        r->worst[a] = (uint32_t)k;
    }
    if (e->quant)
        t->buf[(a - lo) * e->ns + k] = loss;
    if (r->eq1) {
        r->eq1[a] = equity;
        r->st1[a] = (uint8_t)status;
    }
    if (e->cell_eq) {
        e->cell_eq[a * e->ns + k] = equity;
        e->cell_st[a * e->ns + k] = (uint8_t)status;
    }
}

/* The status of an isolated account's positions under factors f: the
 * worst of each position's (pm < 0 bankrupt, pm < MM liquidatable,
 * pm < IM margin call; eval.c). */
static inline xcr_acct_status iso_status(const xcr__fast_acct *fa,
                                         const xcr__fast_ext *fx,
                                         const double *f, bool *tie)
{
    xcr_acct_status st = XCR_HEALTHY;
    bool near = false;
    for (uint32_t q = 0; q < fa->niso; q++) {
        const xcr__fiso *ip = &fx->ip[q];
        const double x = f[ip->j];
        const double pm = ip->pm0 + ip->pmg * x;
        const double dm = ip->mm0 + ip->mmg * x;
        const double di = ip->im0 + ip->img * x;
        near |= (fabs(pm) < fa->tol) | (fabs(dm) < fa->tol) |
                (fabs(di) < fa->tol);
        xcr_acct_status ps = pm < 0   ? XCR_BANKRUPT
                             : dm < 0 ? XCR_LIQUIDATABLE
                             : di < 0 ? XCR_MARGIN_CALL
                                      : XCR_HEALTHY;
        if (ps > st)
            st = ps;
    }
    *tie = near;
    return st;
}

/* What a liquidator would take from an isolated account and unwind: the
 * margins (when positive) and notionals of its liquidatable or bankrupt
 * positions (as slow_cell does with the evaluator's positions). */
static inline void iso_liq(const xcr__fast_ext *fx, uint32_t n,
                           const double *f, double *lc, double *ln)
{
    double c = 0, l = 0;
    for (uint32_t q = 0; q < n; q++) {
        const xcr__fiso *ip = &fx->ip[q];
        const double x = f[ip->j];
        const double pm = ip->pm0 + ip->pmg * x;
        if (pm < 0 || ip->mm0 + ip->mmg * x < 0) {
            c += pm > 0 ? pm : 0;
            l += ip->n0 + ip->ng * f[ip->jn];
        }
    }
    *lc = c;
    *ln = l;
}

/* Build the affine models of the chunk's accounts.  Accounts without
 * options take slots from the front (their products need only the na asset
 * factors), accounts with options slots from the back; *n1 and *n2 get the
 * two counts.  Returns whether any account is fast. */
static bool build_models(tstate *t, size_t lo, size_t hi, size_t *n1,
                         size_t *n2)
{
    eng *e = t->e;
    const size_t K = e->fc.K, na = e->na, R = XCR__FAST_ROWS;
    size_t front = 0, back = e->chunk;
    memset(t->gsum, 0, K * sizeof *t->gsum);
    for (size_t a = lo; a < hi; a++) {
        t->fa_idx[a - lo] = -1;
        if (!xcr__fast_build(&e->fc, &t->fws, a, t->rows1, t->fm))
            continue;
        bool opt = false;
        for (size_t q = 0; q < R && !opt; q++)
            for (size_t j = na; j < K; j++)
                if (t->rows1[q * K + j] != 0) {
                    opt = true;
                    break;
                }
        const size_t slot = opt ? --back : front++;
        memcpy(t->fa_rows + slot * R * K, t->rows1, R * K * sizeof *t->rows1);
        xcr__fast_split(t->fm, &t->fa[slot], &t->fx[slot]);
        t->fa_idx[a - lo] = (int32_t)slot;
        for (size_t j = 0; j < K; j++)
            t->gsum[j] += t->rows1[j];
    }
    *n1 = front;
    *n2 = e->chunk - back;
    return front + *n2 > 0;
}

static void run_chunk(tstate *t, size_t c)
{
    eng *e = t->e;
    const xcr_book *b = e->b;
    const xcr_market *m = e->m;
    xcr_stress_result *r = e->r;
    const size_t lo = c * e->chunk;
    const size_t hi = lo + e->chunk < e->nacc ? lo + e->chunk : e->nacc;
    const size_t ns = e->ns, na = e->na, K = e->fc.K;
    xcr_account_result res;

    /* the base state */
    for (size_t a = lo; a < hi; a++) {
        xcr__eval_account(m, NULL, a, &t->ws, &res, t->pos, NULL);
        if (!finite_result(&res))
            note_bad(t, a, (size_t)-1);
        r->eq0[a] = res.equity;
        r->st0[a] = (uint8_t)res.status;
        for (uint32_t j = 0; j < npos(b, a); j++)
            e->upnl0[b->pos_off[a] + j] = t->pos[j].upnl;
        r->n_liq[a] = r->n_bank[a] = 0;
        r->sum_loss[a] = r->sum_short[a] = 0;
        r->max_loss[a] = -INFINITY;
        r->worst[a] = 0;
    }
    size_t n1 = 0, n2 = 0;
    const size_t nf = e->fast && build_models(t, lo, hi, &n1, &n2);
    const size_t R = XCR__FAST_ROWS;

    /* Blocks of FAST_SB scenarios aligned on the whole set, and products
     * always FAST_SB wide (zero factors past the set's end): every product
     * has the same shape whatever the range, the set size or the thread
     * count, so each cell gets the same bits (tests/test_stress_fast.c). */
    xcr_market view = *m;
    const size_t s_lo = e->sr, s_hi = e->sr + ns;
    const size_t b_first = nf ? e->t0 : s_lo;
    for (size_t b0 = b_first; b0 < s_hi; b0 += FAST_SB) {
        const size_t g_lo = b0 > s_lo ? b0 : s_lo;
        const size_t g_hi = b0 + FAST_SB < s_hi ? b0 + FAST_SB : s_hi;
        if (nf) {
            const double *fb = e->ft + (b0 - e->t0);
            /* accounts without options: the asset factors only */
            if (n1)
                xcr__fast_gemm(FAST_SB, n1 * R, na, fb, e->ld, t->fa_rows, K,
                               t->cblk, e->chunk * R);
            if (n2) {
                const size_t s2 = e->chunk - n2;
                xcr__fast_gemm(FAST_SB, n2 * R, K, fb, e->ld,
                               t->fa_rows + s2 * R * K, K, t->cblk + s2 * R,
                               e->chunk * R);
            }
            /* the block's factors scenario by scenario, for the checks */
            for (size_t j = 0; j < K; j++)
                for (size_t kb = 0; kb < FAST_SB; kb++)
                    t->fblk[kb * K + j] = fb[j * e->ld + kb];
        }
        for (size_t g = g_lo; g < g_hi; g++) {
            const size_t kb = g - b0;      /* column of the block      */
            const size_t k = g - s_lo;     /* index of the results     */
            const size_t kt = g - e->t0;   /* row of the tables        */
            view.price = e->price + kt * na;
            view.mark = e->mark + kt * e->ni;
            view.unit_value = e->uv + kt * e->ni;
            view.iv = e->iv ? e->iv + kt * e->ni : m->iv;
            part p;
            memset(&p, 0, sizeof p);
            if (e->detail) {
                memset(t->pl, 0, na * sizeof *t->pl);
                memset(t->pq, 0, na * sizeof *t->pq);
                if (nf)
                    memset(t->undo, 0, K * sizeof *t->undo);
            }
            for (size_t a = lo; a < hi; a++) {
                const int32_t fi = nf ? t->fa_idx[a - lo] : -1;
                if (fi >= 0) {
                    const xcr__fast_acct *fa = &t->fa[fi];
                    const double *cr = t->cblk + kb * e->chunk * R +
                                       (size_t)fi * R;
                    const xcr__fast_ext *fx = &t->fx[fi];
                    bool ok = xcr__fast_valid(fa, fx, t->fblk + kb * K);
                    /* the multi-factor asset outside its piece: exact
                     * correction of rows 1 and 2 */
                    double dcm = 0, dci = 0;
                    if (ok && fa->has_v) {
                        const double v = fa->c[3] + cr[3];
                        if (!(v >= fa->vlo && v <= fa->vhi))
                            xcr__fast_v_fix(b, fa, v, &dcm, &dci);
                    }
                    xcr_acct_status st = XCR_HEALTHY;
                    const double eq = fa->c[0] + cr[0];
                    if (ok) {
                        /* a tie (|quantity| < tol) is left to the
                         * evaluator, whose rounding decides it */
                        bool tie = fabs(eq) < fa->tol;
                        if (fa->iso) {
                            bool t2;
                            st = iso_status(fa, fx, t->fblk + kb * K, &t2);
                            tie |= t2;
                        } else {
                            const double cm = fa->c[1] + cr[1] + dcm;
                            const double ci = fa->c[2] + cr[2] + dci;
                            tie |= (fabs(cm) < fa->tol) | (fabs(ci) < fa->tol);
                            st = cm < 0   ? XCR_LIQUIDATABLE
                                 : ci < 0 ? XCR_MARGIN_CALL
                                          : XCR_HEALTHY;
                        }
                        if (eq < 0)
                            st = XCR_BANKRUPT;
                        ok = !tie;
                    }
                    if (ok) {
                        if (st < XCR_LIQUIDATABLE) {
                            book_cell(t, a, lo, k, eq, st, &p);
                            continue;
                        }
                        if (fa->iso) {
                            double lc, ln;
                            iso_liq(fx, fa->niso, t->fblk + kb * K, &lc, &ln);
                            p.lc += lc;
                            p.ln += ln;
                            book_cell(t, a, lo, k, eq, st, &p);
                            continue;
                        }
                    }
                    if (e->detail) {
                        /* not among the fast accounts' loss below */
                        const double *gr =
                            t->fa_rows + (size_t)fi * XCR__FAST_ROWS * K;
                        for (size_t j = 0; j < K; j++)
                            t->undo[j] += gr[j];
                    }
                }
                slow_cell(t, &view, a, k, &res, &p);
                book_cell(t, a, lo, k, res.equity, res.status, &p);
            }
            if (e->detail && nf)
                /* the fast cells' loss by asset: −g·f per factor, g the
                 * sum of their equity gradients */
                for (size_t j = 0; j < K; j++)
                    t->pl[e->fc.col_asset[j]] -=
                        (t->gsum[j] - t->undo[j]) * t->fblk[kb * K + j];
            xcr__i128 *acc = t->acc + k * N_SUMS;
            bool ok = true;
            ok = xcr__fix_add(&acc[0], p.loss) && ok;
            ok = xcr__fix_add(&acc[1], p.shortfall) && ok;
            ok = xcr__fix_add(&acc[2], p.lc) && ok;
            ok = xcr__fix_add(&acc[3], p.ln) && ok;
            if (e->detail)
                for (size_t as = 0; as < na; as++) {
                    ok = xcr__fix_add(&t->aloss[k * na + as], t->pl[as]) && ok;
                    ok = xcr__fix_add(&t->aliq[k * na + as], t->pq[as]) && ok;
                }
            if (!ok)
                note_bad(t, lo, e->sr + k);
            for (int q = 0; q < N_CNT; q++)
                t->cnt[k * N_CNT + (size_t)q] += p.cnt[q];
        }
    }
    if (e->quant)
        for (size_t a = lo; a < hi; a++)
            xcr__fast_var_es3(t->buf + (a - lo) * ns, ns, t->heap,
                              r->acc_var + a * XCR_STRESS_LEVELS,
                              r->acc_es + a * XCR_STRESS_LEVELS);
    atomic_fetch_add(&e->done, (hi - lo) * ns);
}

static void *chunk_worker(void *arg)
{
    tstate *t = arg;
    eng *e = t->e;
    for (;;) {
        size_t c = atomic_fetch_add(&e->next, 1);
        if (c >= e->nchunks)
            break;
        run_chunk(t, c);
        if (t->main_thread && t->progress)
            t->progress(t->progress_ctx, atomic_load(&e->done),
                        e->ns * e->nacc);
    }
    return NULL;
}

/* MARK: entry point ------------------------------------------------------------------- */

xcr_status xcr__stress_result_alloc(const xcr_market *m,
                                    const xcr_scenarios *s, size_t ns,
                                    bool quant, bool detail,
                                    xcr_stress_result **out)
{
    const xcr_book *b = m->book;
    const size_t nacc = b->n_accts ? b->n_accts : 1;
    const size_t na = b->n_assets ? b->n_assets : 1;
    *out = NULL;
    xcr_stress_result *r = calloc(1, sizeof *r);
    if (!r)
        return XCR_ENOMEM;
    r->m = m;
    r->s = s;
    r->n_scen = ns;
    r->n_acc = b->n_accts;
    r->na = b->n_assets;
    r->loss = calloc(ns, sizeof(double));
    r->shortfall = calloc(ns, sizeof(double));
    r->liq_coll = calloc(ns, sizeof(double));
    r->liq_notional = calloc(ns, sizeof(double));
    r->status_count = calloc(ns * N_CNT, sizeof(uint32_t));
    r->eq0 = malloc(nacc * sizeof(double));
    r->st0 = malloc(nacc);
    r->n_liq = malloc(nacc * sizeof(uint32_t));
    r->n_bank = malloc(nacc * sizeof(uint32_t));
    r->worst = malloc(nacc * sizeof(uint32_t));
    r->sum_loss = malloc(nacc * sizeof(double));
    r->sum_short = malloc(nacc * sizeof(double));
    r->max_loss = malloc(nacc * sizeof(double));
    bool oom = !r->loss || !r->shortfall || !r->liq_coll ||
               !r->liq_notional || !r->status_count || !r->eq0 || !r->st0 ||
               !r->n_liq || !r->n_bank || !r->worst || !r->sum_loss ||
               !r->sum_short || !r->max_loss;
    if (detail) {
        r->asset_loss = calloc(ns * na, sizeof(double));
        r->asset_liq = calloc(ns * na, sizeof(double));
        oom = oom || !r->asset_loss || !r->asset_liq;
    }
    if (quant) {
        r->acc_var = malloc(nacc * XCR_STRESS_LEVELS * sizeof(double));
        r->acc_es = malloc(nacc * XCR_STRESS_LEVELS * sizeof(double));
        oom = oom || !r->acc_var || !r->acc_es;
    }
    if (ns == 1) {
        r->eq1 = malloc(nacc * sizeof(double));
        r->st1 = malloc(nacc);
        oom = oom || !r->eq1 || !r->st1;
    }
    if (oom) {
        xcr_stress_result_free(r);
        return XCR_ENOMEM;
    }
    *out = r;
    return XCR_OK;
}

xcr_status xcr__stress_check_run(const xcr_market *m, const xcr_scenarios *s,
                                 xcr_stress_result **out, xcr_error *err)
{
    if (!m || !s || !out)
        return xcr__fail(err, XCR_EINVAL, "market, scenarios and output are "
                                          "required");
    if (m->book != s->book)
        return xcr__fail(err, XCR_EINVAL,
                         "the scenarios were resolved against another book");
    if (s->n == 0)
        return xcr__fail(err, XCR_EINVAL, "no scenarios to run");
    return XCR_OK;
}

xcr_status xcr__stress_fail_nonfinite(xcr_error *err, const xcr_scenarios *s,
                                      size_t acct, size_t scen)
{
    const xcr_book *b = s->book;
    if (scen == (size_t)-1)
        return xcr__fail(err, XCR_ERANGE,
                         "account \"%s\": margin is not a finite number "
                         "(sizes, balances or prices too large)",
                         b->acct_id[acct]);
    return xcr__fail(err, XCR_ERANGE,
                     "account \"%s\" under scenario %s: margin is not a "
                     "finite number",
                     b->acct_id[acct], xcr_scenarios_name(s, scen));
}

void xcr_stress_result_free(xcr_stress_result *r)
{
    if (!r)
        return;
    free(r->loss);
    free(r->shortfall);
    free(r->liq_coll);
    free(r->liq_notional);
    free(r->status_count);
    free(r->asset_loss);
    free(r->asset_liq);
    free(r->eq0);
    free(r->st0);
    free(r->n_liq);
    free(r->n_bank);
    free(r->worst);
    free(r->sum_loss);
    free(r->sum_short);
    free(r->max_loss);
    free(r->acc_var);
    free(r->acc_es);
    free(r->eq1);
    free(r->st1);
    free(r);
}

static void free_tstate(tstate *t, const xcr_book *b)
{
    if (t->ws_ok)
        xcr__ws_free(&t->ws, b);
    free(t->pos);
    free(t->acc);
    free(t->cnt);
    free(t->aloss);
    free(t->aliq);
    free(t->pl);
    free(t->pq);
    free(t->buf);
    free(t->heap);
    if (t->fws_ok)
        xcr__fast_ws_free(&t->fws);
    free(t->fa);
    free(t->fa_idx);
    free(t->fa_rows);
    free(t->cblk);
    free(t->gsum);
    free(t->undo);
    free(t->fblk);
    free(t->rows1);
    free(t->fx);
    free(t->fm);
}

static bool init_tstate(tstate *t, eng *e)
{
    memset(t, 0, sizeof *t);
    t->e = e;
    if (xcr__ws_init(&t->ws, e->b) != XCR_OK)
        return false;
    t->ws_ok = true;
    t->ws.keep_net = true;
    size_t na = e->na ? e->na : 1;
    t->pos = malloc((e->max_pos ? e->max_pos : 1) * sizeof *t->pos);
    t->acc = calloc(e->ns * N_SUMS, sizeof *t->acc);
    t->cnt = calloc(e->ns * N_CNT, sizeof *t->cnt);
    if (!t->pos || !t->acc || !t->cnt)
        return false;
    if (e->detail) {
        t->aloss = calloc(e->ns * na, sizeof *t->aloss);
        t->aliq = calloc(e->ns * na, sizeof *t->aliq);
        t->pl = calloc(na, sizeof *t->pl);
        t->pq = calloc(na, sizeof *t->pq);
        if (!t->aloss || !t->aliq || !t->pl || !t->pq)
            return false;
    }
    if (e->quant) {
        t->buf = malloc(e->chunk * e->ns * sizeof *t->buf);
        t->heap = malloc(e->ns * sizeof *t->heap);
        if (!t->buf || !t->heap)
            return false;
    }
    if (e->fast) {
        if (xcr__fast_ws_init(&t->fws, &e->fc) != XCR_OK)
            return false;
        t->fws_ok = true;
        const size_t rows = e->chunk * XCR__FAST_ROWS;
        t->fa = malloc(e->chunk * sizeof *t->fa);
        t->fx = malloc(e->chunk * sizeof *t->fx);
        t->fm = malloc(sizeof *t->fm);
        t->rows1 = malloc(rows / e->chunk * e->fc.K * sizeof *t->rows1);
        t->fa_idx = malloc(e->chunk * sizeof *t->fa_idx);
        t->fa_rows = malloc(rows * e->fc.K * sizeof *t->fa_rows);
        t->cblk = malloc(rows * FAST_SB * sizeof *t->cblk);
        t->gsum = malloc(e->fc.K * sizeof *t->gsum);
        t->undo = malloc(e->fc.K * sizeof *t->undo);
        t->fblk = malloc(FAST_SB * e->fc.K * sizeof *t->fblk);
        if (!t->fa || !t->fa_idx || !t->fa_rows || !t->cblk || !t->gsum ||
            !t->undo || !t->fblk || !t->rows1 || !t->fx || !t->fm)
            return false;
    }
    return true;
}

static size_t pow2_floor(size_t x)
{
    size_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

xcr_status xcr_stress_run(const xcr_market *m, const xcr_scenarios *s,
                          const xcr_stress_opts *o, xcr_stress_result **out,
                          xcr_error *err)
{
    return xcr__stress_run_ex(m, s, o, NULL, out, err);
}

size_t xcr__stress_chunk(size_t n_acc)
{
    size_t ch = pow2_floor(n_acc / 64 ? n_acc / 64 : 1);
    return ch < 16 ? 16 : ch > 256 ? 256 : ch;
}

bool xcr__stress_quant_auto(size_t n_acc, size_t n_scen)
{
    return n_scen <=
           QUANT_AUTO_BYTES / (xcr__stress_chunk(n_acc) * sizeof(double));
}

bool xcr__stress_detail_auto(size_t n_assets, size_t n_scen)
{
    return n_scen <= DETAIL_AUTO_CELLS / (n_assets ? n_assets : 1);
}

xcr_status xcr__stress_run_ex(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o,
                              const xcr__stress_ex *ex,
                              xcr_stress_result **out, xcr_error *err)
{
    xcr_status chk = xcr__stress_check_run(m, s, out, err);
    if (chk != XCR_OK)
        return chk;
    size_t s_lo = 0, s_hi = s->n;
    if (ex && (ex->s_lo || ex->s_hi)) {
        if (!(ex->s_lo < ex->s_hi && ex->s_hi <= s->n))
            return xcr__fail(err, XCR_EINVAL, "scenario range %zu..%zu is "
                             "outside the set of %zu", ex->s_lo, ex->s_hi,
                             s->n);
        s_lo = ex->s_lo;
        s_hi = ex->s_hi;
    }
    xcr_stress_opts dflt;
    xcr_stress_opts_init(&dflt);
    if (!o)
        o = &dflt;
    const xcr_book *b = m->book;
    eng e;
    memset(&e, 0, sizeof e);
    e.m = m;
    e.b = b;
    e.s = s;
    e.ns = s_hi - s_lo;
    e.sr = s_lo;
    e.cell_eq = ex ? ex->cell_eq : NULL;
    e.cell_st = ex && ex->cell_eq ? ex->cell_st : NULL;
    if (e.cell_eq && !e.cell_st)
        e.cell_eq = NULL;
    e.nacc = b->n_accts;
    e.na = b->n_assets;
    e.ni = b->n_insts;
    atomic_init(&e.next, 0);
    atomic_init(&e.done, 0);
    /* The chunk size depends on the book only, never on threads. */
    e.chunk = xcr__stress_chunk(e.nacc);
    e.nchunks = (e.nacc + e.chunk - 1) / e.chunk;
    for (size_t a = 0; a < e.nacc; a++)
        if (npos(b, a) > e.max_pos)
            e.max_pos = npos(b, a);
    size_t na1 = e.na ? e.na : 1;
    e.quant = o->account_quantiles > 0 ||
              (o->account_quantiles < 0 &&
               xcr__stress_quant_auto(e.nacc, e.ns));
    e.detail = o->asset_detail > 0 ||
               (o->asset_detail < 0 && xcr__stress_detail_auto(e.na, e.ns));
    /* the fast path pays from a few dozen scenarios on; a single scenario
     * (whose per-account equity users compare with `xcr margin` at the
     * moved prices) always goes through the evaluator bit for bit */
    const int fmode = ex ? ex->fast : 0;
    if (fmode == 1 || (fmode == 0 && e.ns >= XCR__FAST_MIN_SCEN)) {
        bool usable = false;
        if (xcr__fast_ctx_init(&e.fc, m, &usable) != XCR_OK)
            return NOMEM(err);
        e.fast = usable;
    }
    e.t0 = s_lo;
    e.nt = e.ns;
    if (e.fast) {
        e.t0 = s_lo / FAST_SB * FAST_SB;
        size_t end = (s_hi + FAST_SB - 1) / FAST_SB * FAST_SB;
        e.ld = end - e.t0;
        e.nt = (end < s->n ? end : s->n) - e.t0;
    }

    xcr_stress_result *r = NULL;
    size_t ni1 = e.ni ? e.ni : 1;
    xcr_status st = XCR_OK;
    bool oom = xcr__stress_result_alloc(m, s, e.ns, e.quant, e.detail, &r) !=
               XCR_OK;
    e.r = r;
    e.price = malloc(e.nt * na1 * sizeof(double));
    e.mark = malloc(e.nt * ni1 * sizeof(double));
    e.uv = malloc(e.nt * ni1 * sizeof(double));
    e.upnl0 = malloc((b->n_pos ? b->n_pos : 1) * sizeof(double));
    oom = oom || !e.price || !e.mark || !e.uv || !e.upnl0;
    if (s->vol) {
        e.iv = malloc(e.nt * ni1 * sizeof(double));
        oom = oom || !e.iv;
    }
    if (e.fast) {
        e.ft = calloc(e.fc.K * e.ld, sizeof(double));
        oom = oom || !e.ft;
    }
    if (oom) {
        st = NOMEM(err);
        goto done;
    }

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = o->threads > 0 ? o->threads : (ncpu > 0 ? (int)ncpu : 1);
    if (nt > 256)
        nt = 256;
    int nt_tab = nt;
    if ((size_t)nt_tab > e.nt)
        nt_tab = (int)e.nt;
    run_tables(&e, nt_tab < 1 ? 1 : nt_tab);
    const int blas_prev = e.fast ? xcr__fast_blas_pin() : 0;
    if ((size_t)nt > e.nchunks)
        nt = e.nchunks ? (int)e.nchunks : 1;

    tstate *ts = calloc((size_t)nt, sizeof *ts);
    pthread_t *tid = calloc((size_t)nt, sizeof *tid);
    bool *started = calloc((size_t)nt, sizeof *started);
    if (!ts || !tid || !started) {
        free(ts);
        free(tid);
        free(started);
        st = NOMEM(err);
        goto done;
    }
    bool init_ok = true;
    for (int t = 0; t < nt && init_ok; t++) {
        if (!init_tstate(&ts[t], &e))
            init_ok = false;
        ts[t].st = XCR_OK;
    }
    if (init_ok) {
        ts[0].main_thread = 1;
        ts[0].progress = o->progress;
        ts[0].progress_ctx = o->progress_ctx;
        for (int t = 1; t < nt; t++)
            started[t] =
                pthread_create(&tid[t], NULL, chunk_worker, &ts[t]) == 0;
        chunk_worker(&ts[0]);
        for (int t = 1; t < nt; t++)
            if (started[t])
                pthread_join(tid[t], NULL);
        /* chunks of threads that could not start were taken by others */
    }
    if (!init_ok) {
        st = NOMEM(err);
    } else {
        size_t bad_acct = (size_t)-1, bad_scen = (size_t)-1;
        for (int t = 0; t < nt; t++)
            if (ts[t].st == XCR_ERANGE &&
                (ts[t].bad_acct < bad_acct ||
                 (ts[t].bad_acct == bad_acct && ts[t].bad_scen < bad_scen))) {
                bad_acct = ts[t].bad_acct;
                bad_scen = ts[t].bad_scen;
            }
        if (bad_acct != (size_t)-1)
            st = xcr__stress_fail_nonfinite(err, s, bad_acct, bad_scen);
    }
    if (st == XCR_OK) {
        /* integer reductions: the order does not matter */
        for (size_t k = 0; k < e.ns; k++) {
            xcr__i128 sum[N_SUMS] = {0, 0, 0, 0};
            for (int t = 0; t < nt; t++) {
                for (int q = 0; q < N_SUMS; q++)
                    sum[q] += ts[t].acc[k * N_SUMS + (size_t)q];
                for (int q = 0; q < N_CNT; q++)
                    r->status_count[k * N_CNT + (size_t)q] +=
                        ts[t].cnt[k * N_CNT + (size_t)q];
            }
            r->loss[k] = xcr__fix_get(sum[0]);
            r->shortfall[k] = xcr__fix_get(sum[1]);
            r->liq_coll[k] = xcr__fix_get(sum[2]);
            r->liq_notional[k] = xcr__fix_get(sum[3]);
            if (e.detail)
                for (size_t a = 0; a < e.na; a++) {
                    xcr__i128 l = 0, q = 0;
                    for (int t = 0; t < nt; t++) {
                        l += ts[t].aloss[k * e.na + a];
                        q += ts[t].aliq[k * e.na + a];
                    }
                    r->asset_loss[k * e.na + a] = xcr__fix_get(l);
                    r->asset_liq[k * e.na + a] = xcr__fix_get(q);
                }
        }
        if (o->progress)
            o->progress(o->progress_ctx, e.ns * e.nacc, e.ns * e.nacc);
    }
    if (e.fast)
        xcr__fast_blas_restore(blas_prev);
    for (int t = 0; t < nt; t++)
        free_tstate(&ts[t], b);
    free(ts);
    free(tid);
    free(started);
done:
    free(e.price);
    free(e.mark);
    free(e.uv);
    free(e.iv);
    free(e.upnl0);
    free(e.ft);
    xcr__fast_ctx_free(&e.fc);
    if (st != XCR_OK) {
        xcr_stress_result_free(r);
        return st;
    }
    *out = r;
    return XCR_OK;
}

/* MARK: accessors ------------------------------------------------------------------------ */

xcr_status xcr_stress_outcome(const xcr_stress_result *r, size_t scenario,
                              xcr_scenario_outcome *out)
{
    if (!r || !out || scenario >= r->n_scen)
        return XCR_EINVAL;
    out->loss = r->loss[scenario];
    out->shortfall = r->shortfall[scenario];
    for (int k = 0; k < 4; k++)
        out->by_status[k] = r->status_count[scenario * N_CNT + (size_t)k];
    out->newly_liquidatable = r->status_count[scenario * N_CNT + 4];
    out->liquidatable_collateral = r->liq_coll[scenario];
    out->liquidatable_notional = r->liq_notional[scenario];
    return XCR_OK;
}

const double *xcr_stress_loss_by_asset(const xcr_stress_result *r,
                                       size_t scenario)
{
    if (!r || !r->asset_loss || scenario >= r->n_scen)
        return NULL;
    return r->asset_loss + scenario * r->na;
}

const double *xcr_stress_liq_collateral_by_asset(const xcr_stress_result *r,
                                                 size_t scenario)
{
    if (!r || !r->asset_liq || scenario >= r->n_scen)
        return NULL;
    return r->asset_liq + scenario * r->na;
}

xcr_status xcr_stress_book_stats(const xcr_stress_result *r,
                                 xcr_stress_metric metric,
                                 xcr_risk_stats *out)
{
    if (!r || !out)
        return XCR_EINVAL;
    size_t n = r->n_scen;
    double *x = malloc(n * sizeof *x);
    if (!x)
        return XCR_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        switch (metric) {
        case XCR_METRIC_LOSS:
            x[k] = r->loss[k];
            break;
        case XCR_METRIC_SHORTFALL:
            x[k] = r->shortfall[k];
            break;
        case XCR_METRIC_LIQ_COLLATERAL:
            x[k] = r->liq_coll[k];
            break;
        default:
            x[k] = (double)(r->status_count[k * N_CNT + XCR_LIQUIDATABLE] +
                            r->status_count[k * N_CNT + XCR_BANKRUPT]);
            break;
        }
    }
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        sum += x[k];
        mn = x[k] < mn ? x[k] : mn;
        mx = x[k] > mx ? x[k] : mx;
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t k = 0; k < n; k++)
        ss += (x[k] - mean) * (x[k] - mean);
    out->mean = mean;
    out->stdev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    out->min = mn;
    out->max = mx;
    xcr__var_es3(x, n, out->var, out->es);
    free(x);
    return XCR_OK;
}

xcr_status xcr_stress_account(const xcr_stress_result *r, size_t account,
                              xcr_account_stress *out)
{
    if (!r || !out || account >= r->n_acc)
        return XCR_EINVAL;
    double n = (double)r->n_scen;
    out->p_liquidatable = r->n_liq[account] / n;
    out->p_bankrupt = r->n_bank[account] / n;
    out->mean_loss = r->sum_loss[account] / n;
    out->mean_shortfall = r->sum_short[account] / n;
    out->max_loss = r->max_loss[account];
    out->worst_scenario = r->worst[account];
    for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
        out->var[l] = r->acc_var ? r->acc_var[account * 3 + (size_t)l] : NAN;
        out->es[l] = r->acc_es ? r->acc_es[account * 3 + (size_t)l] : NAN;
    }
    out->equity_before = r->eq0[account];
    out->status_before = (xcr_acct_status)r->st0[account];
    out->equity_after = r->eq1 ? r->eq1[account] : NAN;
    out->status_after =
        r->st1 ? (xcr_acct_status)r->st1[account] : XCR_HEALTHY;
    return XCR_OK;
}
