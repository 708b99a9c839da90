/* The per-round evaluation step: the one margin evaluator over a list of
 * accounts, on worker threads.  Kept as one function with a plain contract
 * (state + list in, caller-owned arrays out) so that other backends can
 * replace it.
 *
 * Lists come in account order (the round loop's scans compact them so), so
 * they are made of runs of consecutive accounts: the whole book under full
 * re-evaluation, long stretches when a price move exposes most accounts.
 * Each run goes through the streaming fast path of the evaluator
 * (src/margin/fast_margin.h: bit-identical results and surplus, so nothing
 * downstream changes), which needs consecutive accounts; short runs and
 * unsorted lists (the conservation check's) take xcr__eval_account
 * directly.  The fast path reads the market the cascade evaluates through
 * (c->m over the shallow book c->sb, i.e. the cascade's own balance and
 * position arrays) and a table of its instrument prices, built here once
 * per call: the prices change between rounds, never within a call. */
#include "cascade.h"

#include "../cuda/gpu_iface.h"
#include "../margin/fast_margin.h"

/* Runs shorter than this go to the evaluator: the fast path's per-call
 * setup (a chunk, prefetches) only pays for itself over a few accounts.
 * Either way the bits are the same. */
#define XCR__CASCADE_FAST_RUN 4

typedef struct eval_job {
    const xcr_cascade *c;
    const xcr__fast_tab *tab;   /* the fast path's table; NULL: none       */
    xcr_cascade *state;         /* scatter form: write into the state      */
    const uint32_t *idx;
    xcr_account_result *out;
    double *surplus;
    size_t lo, hi;
    xcr_status st;
} eval_job;

/* The end of the run of consecutive accounts starting at list entry k. */
static size_t run_end(const uint32_t *idx, size_t k, size_t hi)
{
    size_t e = k + 1;
    while (e < hi && idx[e] == idx[e - 1] + 1)
        e++;
    return e;
}

static void *eval_worker(void *arg)
{
    eval_job *j = arg;
    const xcr_cascade *c = j->c;
    xcr__ws ws;
    if (xcr__ws_init(&ws, &c->sb) != XCR_OK) {
        j->st = XCR_ENOMEM;
        return NULL;
    }
    xcr_cascade *st = j->state;
    for (size_t k = j->lo; k < j->hi;) {
        const size_t e = run_end(j->idx, k, j->hi);
        const uint32_t i0 = j->idx[k];
        if (j->tab && e - k >= XCR__CASCADE_FAST_RUN) {
            /* accounts i0 .. i0 + (e - k) - 1, results by position */
            if (st)
                xcr__fast_eval_range_at(c->m, j->tab, i0, i0 + (e - k), &ws,
                                        st->res + i0, st->surplus + i0);
            else
                xcr__fast_eval_range_at(c->m, j->tab, i0, i0 + (e - k), &ws,
                                        j->out + k,
                                        j->surplus ? j->surplus + k : NULL);
        } else {
            for (size_t q = k; q < e; q++) {
                const uint32_t i = j->idx[q];
                if (st) {
                    xcr__eval_account(c->m, NULL, i, &ws, &st->res[i], NULL,
                                      &st->surplus[i]);
                } else {
                    double s;
                    xcr__eval_account(c->m, NULL, i, &ws, &j->out[q], NULL,
                                      &s);
                    if (j->surplus)
                        j->surplus[q] = s;
                }
            }
        }
        if (st)
            for (size_t q = k; q < e; q++) {
                const uint32_t i = j->idx[q];
                st->eq[i] = st->res[i].equity;
                st->st[i] = (uint8_t)st->res[i].status;
                st->last[i] = (uint32_t)st->epoch;
                st->stale[i] = 0;
            }
        k = e;
    }
    xcr__ws_free(&ws, &c->sb);
    j->st = XCR_OK;
    return NULL;
}

/* Whether idx has a run long enough for the fast path (else its table is
 * not worth building). */
static bool has_run(const uint32_t *idx, size_t n)
{
    size_t len = 1;
    for (size_t k = 1; k < n; k++) {
        len = idx[k] == idx[k - 1] + 1 ? len + 1 : 1;
        if (len >= XCR__CASCADE_FAST_RUN)
            return true;
    }
    return false;
}

static xcr_status eval_list(const xcr_cascade *c, xcr_cascade *state,
                            const uint32_t *idx, size_t n,
                            xcr_account_result *out, double *surplus,
                            int threads)
{
    xcr__fast_tab tab;
    const bool fast = has_run(idx, n);
    if (fast) {
        xcr_status s = xcr__fast_tab_init(&tab, c->m, XCR__MPATH_AUTO);
        if (s != XCR_OK)
            return s;
    }
    int nt = xcr__thread_count(threads, n);
    eval_job jobs[XCR__MAX_THREADS];
    /* each account is evaluated independently: any split gives the same
     * bits */
    for (int t = 0; t < nt; t++)
        jobs[t] = (eval_job){c, fast ? &tab : NULL, state, idx, out, surplus,
                             n * (size_t)t / (size_t)nt,
                             n * (size_t)(t + 1) / (size_t)nt, XCR_OK};
    xcr__run_jobs(eval_worker, jobs, sizeof jobs[0], nt);
    if (fast)
        xcr__fast_tab_free(&tab, &c->sb);
    for (int t = 0; t < nt; t++)
        if (jobs[t].st != XCR_OK)
            return jobs[t].st;
    return XCR_OK;
}

xcr_status xcr__cascade_eval(const xcr_cascade *c, const uint32_t *idx,
                             size_t n, xcr_account_result *out,
                             double *surplus, int threads)
{
    if (n == 0)
        return XCR_OK;
    if (c->o.gpu) /* the same evaluator on the device (docs/gpu.md) */
        return xcr__gpu_eval_accounts(c->m, idx, n, out, surplus, NULL);
    return eval_list(c, NULL, idx, n, out, surplus, threads);
}

xcr_status xcr__cascade_eval_state(xcr_cascade *c, const uint32_t *idx,
                                   size_t n, int threads)
{
    if (n == 0)
        return XCR_OK;
    return eval_list(c, c, idx, n, NULL, NULL, threads);
}

void xcr__cascade_refresh(xcr_cascade *c, size_t acct)
{
    /* the run's serial workspace (xcr_cascade_run sets it up) */
    xcr__eval_account(c->m, NULL, acct, &c->rws, &c->res[acct], NULL,
                      &c->surplus[acct]);
    c->eq[acct] = c->res[acct].equity;
    c->st[acct] = (uint8_t)c->res[acct].status;
    c->last[acct] = (uint32_t)c->epoch;
    c->stale[acct] = 0;
    c->n_evals++;
}
