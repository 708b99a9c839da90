/* The per-round evaluation step: the one margin evaluator over a list of
 * accounts, on worker threads.  Kept as one function with a plain contract
 * (state + list in, caller-owned arrays out) so that other backends can
 * replace it. */
#include "cascade.h"

#include "../cuda/gpu_iface.h"

typedef struct eval_job {
    const xcr_cascade *c;
    xcr_cascade *state;         /* scatter form: write into the state      */
    const uint32_t *idx;
    xcr_account_result *out;
    double *surplus;
    size_t lo, hi;
    xcr_status st;
} eval_job;

static void *eval_worker(void *arg)
{
    eval_job *j = arg;
    const xcr_cascade *c = j->c;
    xcr__ws ws;
    if (xcr__ws_init(&ws, &c->sb) != XCR_OK) {
        j->st = XCR_ENOMEM;
        return NULL;
    }
    if (j->state) {
        xcr_cascade *st = j->state;
        for (size_t k = j->lo; k < j->hi; k++) {
            uint32_t i = j->idx[k];
            xcr__eval_account(c->m, NULL, i, &ws, &st->res[i], NULL,
                              &st->surplus[i]);
            st->eq[i] = st->res[i].equity;
            st->st[i] = (uint8_t)st->res[i].status;
            st->last[i] = (uint32_t)st->epoch;
            st->stale[i] = 0;
        }
    } else {
        for (size_t k = j->lo; k < j->hi; k++) {
            double s;
            xcr__eval_account(c->m, NULL, j->idx[k], &ws, &j->out[k], NULL,
                              &s);
            if (j->surplus)
                j->surplus[k] = s;
        }
    }
    xcr__ws_free(&ws, &c->sb);
    j->st = XCR_OK;
    return NULL;
}

xcr_status xcr__cascade_eval(const xcr_cascade *c, const uint32_t *idx,
                             size_t n, xcr_account_result *out,
                             double *surplus, int threads)
{
    if (n == 0)
        return XCR_OK;
    if (c->o.gpu) /* the same evaluator on the device (docs/gpu.md) */
        return xcr__gpu_eval_accounts(c->m, idx, n, out, surplus, NULL);
    int nt = xcr__thread_count(threads, n);
    eval_job jobs[XCR__MAX_THREADS];
    /* each account is evaluated independently: any split gives the same
     * bits */
    for (int t = 0; t < nt; t++)
        jobs[t] = (eval_job){c, NULL, idx, out, surplus,
                             n * (size_t)t / (size_t)nt,
                             n * (size_t)(t + 1) / (size_t)nt, XCR_OK};
    xcr__run_jobs(eval_worker, jobs, sizeof jobs[0], nt);
    for (int t = 0; t < nt; t++)
        if (jobs[t].st != XCR_OK)
            return jobs[t].st;
    return XCR_OK;
}

xcr_status xcr__cascade_eval_state(xcr_cascade *c, const uint32_t *idx,
                                   size_t n, int threads)
{
    if (n == 0)
        return XCR_OK;
    int nt = xcr__thread_count(threads, n);
    eval_job jobs[XCR__MAX_THREADS];
    for (int t = 0; t < nt; t++)
        jobs[t] = (eval_job){c, c, idx, NULL, NULL,
                             n * (size_t)t / (size_t)nt,
                             n * (size_t)(t + 1) / (size_t)nt, XCR_OK};
    xcr__run_jobs(eval_worker, jobs, sizeof jobs[0], nt);
    for (int t = 0; t < nt; t++)
        if (jobs[t].st != XCR_OK)
            return jobs[t].st;
    return XCR_OK;
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
