/* The margin evaluator (spec §2).  One function evaluates one account in any
 * mode; xcr_margin_all runs it over the book on worker threads.
 *
 * Per account:
 *  1. net amount per asset x_a = balance + unrealised PnL and option values
 *     settled in a (positions of isolated accounts keep their PnL beside the
 *     balances, in their isolated margin);
 *  2. per position: notional, bracket margin (Binance maintenance-amount
 *     recursion, margin-models.md §3.1) for perps, futures and short options;
 *  3. per asset: equity += x·P; collateral += tiered(x·P) for x > 0 (the
 *     progressive tier rule, margin-models.md §2.1) or x·P·liability_weight
 *     for x < 0, plus borrow margins on |x|·P (cross); lending accounts use
 *     Aave's health factor (margin-models.md §14.2) instead. */
#include "eval_math.h"
#include "fast_margin.h"
#include "margin.h"

#include <string.h>
#include <unistd.h>

#if defined(__GNUC__)
#define XCR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define XCR_ALWAYS_INLINE inline
#endif

static XCR_ALWAYS_INLINE double ov_factor(const xcr_book *b,
                                          const xcr__override *ov, uint32_t a)
{
    if (ov->kind == XCR__OV_ASSET)
        return ov->asset == a ? ov->factor : 1.0;
    if (ov->kind == XCR__OV_UNIFORM)
        return b->assets[a].stable ? 1.0 : ov->factor;
    return 1.0;
}

static XCR_ALWAYS_INLINE void add_net(xcr__ws *ws, uint32_t a, double x,
                                      size_t *nt)
{
    if (!ws->seen[a]) {
        ws->seen[a] = 1;
        ws->touched[(*nt)++] = a;
    }
    ws->net[a] += x;
}

static inline xcr_acct_status worse(xcr_acct_status x, xcr_acct_status y)
{
    return x > y ? x : y;
}

/* (eval_math.h holds the arithmetic shared with the CUDA back end.) */

/* `with_ov` and `port` are compile-time constants at each call site, so the
 * common path (no override, not a portfolio account) carries no per-lookup
 * branches.  `port`: a portfolio account, whose requirement comes from the
 * scenario model (src/portfolio/) instead of position brackets; equity,
 * collateral and borrow margins are formed as in cross mode. */
static XCR_ALWAYS_INLINE void
eval_impl(const xcr_market *m, const xcr__override *ov, bool with_ov,
          bool port, size_t acct, xcr__ws *ws, xcr_account_result *out,
          xcr_position_result *pos_out, double *surplus)
{
    const xcr_book *b = m->book;
    const xcr_mode mode = (xcr_mode)b->acct_mode[acct];
    const bool isolated = mode == XCR_MODE_ISOLATED;
    size_t nt = 0;

    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++)
        add_net(ws, b->bal_asset[k], b->bal_amt[k], &nt);

    double pos_im = 0, pos_mm = 0;
    double iso_coll = 0, iso_worst = INFINITY;
    xcr_acct_status iso_status = XCR_HEALTHY;
    for (uint32_t p = b->pos_off[acct]; p < b->pos_off[acct + 1]; p++) {
        const uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        const double size = b->pos_size[p];
        const double fu = with_ov ? ov_factor(b, ov, in->und) : 1.0;
        const double mark = m->mark[ii] * fu;
        const double sp = m->price[in->settle] *
                          (with_ov ? ov_factor(b, ov, in->settle) : 1.0);
        double contrib;
        const double uv =
            in->type != XCR_OPTION ? 0.0
            : (with_ov && fu != 1.0)
                ? xcr__option_unit_value(b, in, mark, m->iv[ii])
                : m->unit_value[ii];
        const double upnl_usd =
            xcr__em_upnl(in->type == XCR_OPTION, in->inverse, size, in->cs,
                         b->pos_entry[p], mark, uv, sp, &contrib);
        if (!isolated)
            add_net(ws, in->settle, contrib, &nt);

        /* Notional: linear |size|·cs·mark, inverse |size|·cs (USD face). */
        const double notional =
            xcr__em_notional(in->inverse, size, in->cs, mark);
        double im = 0, mm = 0;
        uint32_t br = 0;
        if (!port && (in->type != XCR_OPTION || size < 0)) {
            br = xcr__em_bracket(b->mtiers + in->mt_off, in->nmt, notional);
            xcr__em_bracket_margin(&b->mtiers[in->mt_off + br], notional,
                                   &im, &mm);
        }
        pos_im += im;
        pos_mm += mm;
        xcr_acct_status ps = XCR_HEALTHY;
        if (isolated) {
            const double pm = b->pos_iso[p] + upnl_usd;
            iso_coll += pm;
            ps = xcr__em_iso_status(pm, mm, im);
            iso_status = worse(iso_status, ps);
            if (pm - mm < iso_worst)
                iso_worst = pm - mm;
        }
        if (pos_out) {
            xcr_position_result *r = &pos_out[p - b->pos_off[acct]];
            r->notional = notional;
            r->upnl = upnl_usd;
            r->initial_margin = im;
            r->maintenance_margin = mm;
            r->bracket = (int)br;
            r->status = ps;
        }
    }

    double equity = 0, coll = 0, im = pos_im, mm = pos_mm;
    double c_lt = 0, c_ltv = 0, debt = 0;
    const xcr_emode_def *em =
        mode == XCR_MODE_LENDING && b->acct_emode[acct]
            ? xcr__book_emode(b, b->acct_emode[acct])
            : NULL;
    for (size_t k = 0; k < nt; k++) {
        const uint32_t a = ws->touched[k];
        const xcr__asset *as = &b->assets[a];
        const double px =
            m->price[a] * (with_ov ? ov_factor(b, ov, a) : 1.0);
        const double v = ws->net[a] * px;
        if (ws->keep_net) {
            ws->kept_asset[k] = a;
            ws->kept_net[k] = ws->net[a];
        }
        ws->net[a] = 0;
        ws->seen[a] = 0;
        equity += v;
        if (mode == XCR_MODE_LENDING) {
            const bool in_em = em && as->emode == em->id;
            xcr__em_lending_asset(
                v, in_em ? em->liquidation_threshold : as->lt,
                in_em ? em->ltv : as->ltv, &c_lt, &c_ltv, &debt);
        } else if (!isolated) {
            xcr__em_cross_asset(v, b->tiers + as->tier_off, as->ntiers,
                                as->liability_weight, as->borrow_mmr,
                                as->borrow_imr, &coll, &mm, &im);
        }
    }

    ws->n_kept = nt;
    xcr_acct_status st;
    double s, hf = NAN, bc = NAN;
    if (mode == XCR_MODE_LENDING) {
        /* Aave: HF = Σ C·LT / Σ D; capacity = Σ C·LTV − D (spec §2). */
        coll = c_lt;
        mm = debt;
        im = xcr__em_lending_im(c_lt, c_ltv, debt);
        hf = debt > 0 ? c_lt / debt : INFINITY;
        bc = c_ltv - debt;
        /* Decide margin_call on the capacity itself, so that rounding in
         * the IM ratio can never disagree with it. */
        st = xcr__em_lending_status(equity, c_lt, c_ltv, debt);
        s = c_lt - debt;
    } else if (isolated) {
        equity += iso_coll;
        coll = iso_coll;
        st = equity < 0 ? XCR_BANKRUPT : iso_status;
        s = iso_worst < equity ? iso_worst : equity;
    } else {
        if (port) {
            double pim = 0, pmm = 0;
            xcr__pm_margin(m, with_ov ? ov : NULL, acct, &pim, &pmm);
            im += pim;
            mm += pmm;
        }
        st = xcr__em_classify(equity, coll, mm, im);
        s = coll - mm;
    }
    xcr__em_put_result(out, equity, coll, im, mm, hf, bc, st);
    if (surplus)
        *surplus = s;
}

void xcr__eval_account(const xcr_market *m, const xcr__override *ov,
                       size_t acct, xcr__ws *ws, xcr_account_result *out,
                       xcr_position_result *pos_out, double *surplus)
{
    const bool with_ov = ov && ov->kind != XCR__OV_NONE;
    if (m->book->acct_mode[acct] == XCR_MODE_PORTFOLIO && m->book->pm) {
        if (with_ov)
            eval_impl(m, ov, true, true, acct, ws, out, pos_out, surplus);
        else
            eval_impl(m, NULL, false, true, acct, ws, out, pos_out, surplus);
    } else if (with_ov) {
        eval_impl(m, ov, true, false, acct, ws, out, pos_out, surplus);
    } else {
        eval_impl(m, NULL, false, false, acct, ws, out, pos_out, surplus);
    }
}

/* MARK: public entry points ---------------------------------------------------- */

static bool result_finite(const xcr_book *b, size_t i,
                          const xcr_account_result *r)
{
    bool im_ok = isfinite(r->initial_margin) ||
                 (b->acct_mode[i] == XCR_MODE_LENDING &&
                  r->initial_margin == INFINITY);
    return isfinite(r->equity) && isfinite(r->collateral) &&
           isfinite(r->maintenance_margin) && im_ok;
}

static xcr_status overflow_error(const xcr_book *b, size_t i, xcr_error *err)
{
    return xcr__fail(err, XCR_ERANGE,
                     "account \"%s\": margin is not a finite number (sizes, "
                     "balances or prices too large)",
                     b->acct_id[i]);
}

xcr_status xcr_margin_account(const xcr_market *m, size_t account,
                              xcr_account_result *out,
                              xcr_position_result *pos_out, xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "market and output are required");
    const xcr_book *b = m->book;
    if (account >= b->n_accts)
        return xcr__fail(err, XCR_ENOTFOUND, "account index %zu out of range",
                         account);
    xcr__ws ws;
    if (xcr__ws_init(&ws, b) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr__eval_account(m, NULL, account, &ws, out, pos_out, NULL);
    xcr__ws_free(&ws, b);
    if (!result_finite(b, account, out))
        return overflow_error(b, account, err);
    return XCR_OK;
}

typedef struct job {
    const xcr_market *m;
    const xcr__fast_tab *fast; /* NULL: the evaluator for every account */
    xcr_account_result *out;
    size_t lo, hi;
    xcr_status status;
    size_t bad;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    const xcr_book *b = j->m->book;
    xcr__ws ws;
    if (xcr__ws_init(&ws, b) != XCR_OK) {
        j->status = XCR_ENOMEM;
        return NULL;
    }
    j->status = XCR_OK;
    /* The streaming path (fast_margin.c) is bit-identical to the
     * evaluator, so the choice never changes a result.  It runs in chunks
     * so that the finiteness check reads results still in cache. */
    for (size_t c = j->lo; c < j->hi; c += 256) {
        const size_t ce = j->hi - c < 256 ? j->hi : c + 256;
        if (j->fast)
            xcr__fast_eval_range(j->m, j->fast, c, ce, &ws, j->out);
        for (size_t i = c; i < ce; i++) {
            if (!j->fast)
                xcr__eval_account(j->m, NULL, i, &ws, &j->out[i], NULL,
                                  NULL);
            if (j->status == XCR_OK && !result_finite(b, i, &j->out[i])) {
                j->status = XCR_ERANGE;
                j->bad = i;
            }
        }
    }
    xcr__ws_free(&ws, b);
    return NULL;
}

int xcr__thread_count(int requested, size_t work)
{
    long n = requested;
    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n <= 0)
            n = 1;
    }
    if (n > XCR__MAX_THREADS)
        n = XCR__MAX_THREADS;
    /* small jobs are not worth a thread */
    size_t max_by_work = work / 4096 + 1;
    if ((size_t)n > max_by_work)
        n = (long)max_by_work;
    return (int)n;
}

xcr_status xcr__margin_all_path(const xcr_market *m, int threads,
                                xcr_account_result *out, xcr__mpath path,
                                xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "market and output are required");
    const xcr_book *b = m->book;
    size_t n = b->n_accts;
    int nt = xcr__thread_count(threads, n);
    xcr__fast_tab tab;
    const xcr__fast_tab *fast = NULL;
    if (path != XCR__MPATH_REFERENCE) {
        if (xcr__fast_tab_init(&tab, m, path) != XCR_OK)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        fast = &tab;
    }
    job jobs[XCR__MAX_THREADS];
    /* Each account is evaluated independently, so the split never changes
     * any result: output is bit-identical for any thread count. */
    for (int t = 0; t < nt; t++)
        jobs[t] = (job){m, fast, out, n * (size_t)t / (size_t)nt,
                        n * (size_t)(t + 1) / (size_t)nt, XCR_OK, 0};
    xcr__run_jobs(worker, jobs, sizeof jobs[0], nt);
    if (fast)
        xcr__fast_tab_free(&tab, b);
    for (int t = 0; t < nt; t++) {
        if (jobs[t].status == XCR_ENOMEM)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        if (jobs[t].status == XCR_ERANGE)
            return overflow_error(b, jobs[t].bad, err);
    }
    return XCR_OK;
}

xcr_status xcr_margin_all(const xcr_market *m, int threads,
                          xcr_account_result *out, xcr_error *err)
{
    return xcr__margin_all_path(m, threads, out, XCR__MPATH_AUTO, err);
}
