/* The host side of the GPU stress engine (include/xcr/gpu.h, docs/gpu.md).
 *
 * What stays on the host, and why:
 *  - the scenario tables (shocked prices, marks, implied vols and Black-76
 *    option values per contract) are built exactly as engine.c builds them,
 *    with the same code (xcr__option_unit_value): ns × instruments work,
 *    and it keeps the device free of transcendental functions whose last
 *    bit could differ from glibc's;
 *  - the portfolio-margin requirement of portfolio accounts (src/portfolio/,
 *    a scenario model with its own tables) per scenario, with the CPU
 *    evaluator's xcr__pm_margin; the device adds it where eval.c does;
 *  - the account layout the device walks: the assets each account touches
 *    in the evaluator's first-touch order (balances, then the settlement
 *    assets of its positions) with the positions settling in each, so that
 *    the device forms every net amount with the same additions as
 *    eval.c's add_net.
 * The device (src/cuda/stress_kernels.cu) evaluates every account under
 * every scenario, reduces per chunk of accounts (the CPU engine's chunks)
 * into 128-bit fixed-point totals and computes the per-account statistics
 * and VaR/ES; the host turns the totals into doubles as engine.c does. */
#include "fast.h"

#include "../cuda/gpu_iface.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

void xcr_gpu_opts_init(xcr_gpu_opts *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

#ifndef XCR_HAVE_CUDA

int xcr_gpu_available(char *name, size_t len)
{
    if (name && len)
        snprintf(name, len, "%s", "built without the CUDA back end");
    return 0;
}

xcr_status xcr_stress_run_gpu(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o, const xcr_gpu_opts *g,
                              xcr_stress_result **out, xcr_error *err)
{
    (void)m;
    (void)s;
    (void)o;
    (void)g;
    (void)out;
    return xcr__fail(err, XCR_ENODEV,
                     "this xcr was built without the CUDA back end "
                     "(configure with -DXCR_WITH_CUDA=ON where nvcc is "
                     "installed)");
}

xcr_status xcr_gpu_mc_moves(const xcr_scenarios *s, size_t first, size_t n,
                            double *moves, xcr_error *err)
{
    (void)s;
    (void)first;
    (void)n;
    (void)moves;
    return xcr__fail(err, XCR_ENODEV,
                     "this xcr was built without the CUDA back end");
}

xcr_status xcr__gpu_philox(uint64_t seed, size_t j0, size_t n,
                           uint32_t stream, uint32_t purpose, uint32_t *out,
                           char *msg, size_t msglen)
{
    (void)seed;
    (void)j0;
    (void)n;
    (void)stream;
    (void)purpose;
    (void)out;
    if (msg && msglen)
        snprintf(msg, msglen, "built without the CUDA back end");
    return XCR_ENODEV;
}

xcr_status xcr__gpu_eval_accounts(const xcr_market *m, const uint32_t *idx,
                                  size_t n, xcr_account_result *out,
                                  double *surplus, xcr_error *err)
{
    (void)m;
    (void)idx;
    (void)n;
    (void)out;
    (void)surplus;
    return xcr__fail(err, XCR_ENODEV,
                     "this xcr was built without the CUDA back end");
}

#else /* XCR_HAVE_CUDA */

int xcr_gpu_available(char *name, size_t len)
{
    return xcr__cuda_device(0, name, len);
}

xcr_status xcr__gpu_philox(uint64_t seed, size_t j0, size_t n,
                           uint32_t stream, uint32_t purpose, uint32_t *out,
                           char *msg, size_t msglen)
{
    return xcr__cuda_philox(0, seed, j0, n, stream, purpose, out, msg,
                            msglen);
}

/* MARK: Monte Carlo on the device ---------------------------------------------------- */

xcr_status xcr_gpu_mc_moves(const xcr_scenarios *s, size_t first, size_t n,
                            double *moves, xcr_error *err)
{
    if (!s || (!moves && n))
        return xcr__fail(err, XCR_EINVAL, "scenario set and output are "
                                          "required");
    const xcr__gen_info *gi = &s->gen;
    if (!gi->used || gi->fhs || gi->k == 0)
        return xcr__fail(err, XCR_EINVAL,
                         "the scenario set has no Monte Carlo generator");
    if (gi->dist == XCR_MC_T && gi->normal_marginals)
        return xcr__fail(err, XCR_EINVAL,
                         "t copula with normal marginals: its inverse "
                         "distribution functions run on the host only");
    char name[128];
    if (!xcr__cuda_device(0, name, sizeof name))
        return xcr__fail(err, XCR_ENODEV, "no usable GPU: %s", name);
    const size_t k = gi->k, na = s->na;
    double *C = malloc(k * k * sizeof *C);
    double *sig = malloc(k * sizeof *sig);
    if (!C || !sig) {
        free(C);
        free(sig);
        return NOMEM(err);
    }
    /* the factor mc.c used: the Cholesky of the matrix it kept (after any
     * repair), with the same LAPACKE routine */
    xcr_status st = xcr_cholesky(k, gi->corr, C, NULL, err);
    /* σ_k·√(h/365) as in mc.c */
    for (size_t i = 0; i < k; i++)
        sig[i] = gi->vol[i] * sqrt(gi->horizon_days / 365.0);
    const double df = gi->df;
    const double tscale = gi->dist == XCR_MC_T ? sqrt((df - 2) / df) : 1.0;
    if (st == XCR_OK) {
        memset(moves, 0, n * na * sizeof *moves);
        char msg[256] = "";
        st = xcr__cuda_mc_moves(0, gi->seed, first, n, k, gi->assets, sig, C,
                                gi->dist == XCR_MC_T ? 1 : 0, df, tscale, na,
                                moves, msg, sizeof msg);
        if (st != XCR_OK)
            xcr__fail(err, st, "%s", msg);
    }
    free(C);
    free(sig);
    return st;
}

/* MARK: scenario tables -------------------------------------------------------------- */

typedef struct tables {
    const xcr_market *m;
    const xcr_scenarios *s;
    const double *moves; /* ns × na                                        */
    size_t ns, na, ni;
    double *px, *mk, *uv, *iv;
    /* portfolio accounts */
    size_t npm;
    const uint32_t *pm_acct;
    double *pmv;         /* ns × npm × 2                                   */
} tables;

typedef struct tab_job {
    tables *t;
    size_t lo, hi;
} tab_job;

/* engine.c's scenario rows (the same function), then the portfolio
 * requirements under each scenario's market view. */
static void *tables_worker(void *arg)
{
    tab_job *j = arg;
    tables *t = j->t;
    const xcr_market *m = t->m;
    const xcr_scenarios *s = t->s;
    for (size_t k = j->lo; k < j->hi; k++) {
        double *px = t->px + k * t->na;
        xcr__stress_scen_row(m, t->moves + k * t->na,
                             s->vol ? s->vol + k * t->na : NULL, px,
                             t->mk + k * t->ni,
                             t->iv ? t->iv + k * t->ni : NULL,
                             t->uv + k * t->ni);
        if (t->npm) {
            xcr_market view = *m;
            view.price = px;
            view.mark = t->mk + k * t->ni;
            view.unit_value = t->uv + k * t->ni;
            view.iv = t->iv ? t->iv + k * t->ni : m->iv;
            for (size_t q = 0; q < t->npm; q++) {
                double *o = t->pmv + (k * t->npm + q) * 2;
                xcr__pm_margin(&view, NULL, t->pm_acct[q], &o[0], &o[1]);
            }
        }
    }
    return NULL;
}

/* MARK: account layout --------------------------------------------------------------- */

typedef struct layout {
    uint32_t *slot_off, *slot_asset, *slot_pos_off, *slot_pos;
    double *slot_net0;
    size_t nslots;
    int32_t *pm_idx, *em_idx;
    uint32_t *pm_acct;
    size_t npm;
    xcr__gpu_emode *emodes;
    xcr__gpu_inst *inst;
    xcr__gpu_asset *asset;
} layout;

static void layout_free(layout *L)
{
    free(L->slot_off);
    free(L->slot_asset);
    free(L->slot_pos_off);
    free(L->slot_pos);
    free(L->slot_net0);
    free(L->pm_idx);
    free(L->em_idx);
    free(L->pm_acct);
    free(L->emodes);
    free(L->inst);
    free(L->asset);
}

static bool layout_build(const xcr_book *b, layout *L)
{
    memset(L, 0, sizeof *L);
    const size_t nacc = b->n_accts, na = b->n_assets;
    const size_t cap = b->n_bals + b->n_pos + 1;
    L->slot_off = malloc((nacc + 1) * sizeof *L->slot_off);
    L->slot_asset = malloc(cap * sizeof *L->slot_asset);
    L->slot_net0 = malloc(cap * sizeof *L->slot_net0);
    L->slot_pos_off = malloc((cap + 1) * sizeof *L->slot_pos_off);
    L->slot_pos = malloc((b->n_pos + 1) * sizeof *L->slot_pos);
    L->pm_idx = malloc((nacc + 1) * sizeof *L->pm_idx);
    L->em_idx = malloc((nacc + 1) * sizeof *L->em_idx);
    L->pm_acct = malloc((nacc + 1) * sizeof *L->pm_acct);
    L->emodes = malloc((b->n_emodes + 1) * sizeof *L->emodes);
    L->inst = calloc(b->n_insts + 1, sizeof *L->inst);
    L->asset = calloc(na + 1, sizeof *L->asset);
    int32_t *slot_of = malloc((na + 1) * sizeof *slot_of);
    uint32_t *pslot = malloc((b->n_pos + 1) * sizeof *pslot);
    uint32_t *cur = malloc(cap * sizeof *cur);
    bool ok = L->slot_off && L->slot_asset && L->slot_net0 &&
              L->slot_pos_off && L->slot_pos && L->pm_idx && L->em_idx &&
              L->pm_acct && L->emodes && L->inst && L->asset && slot_of &&
              pslot && cur;
    if (!ok) {
        free(slot_of);
        free(pslot);
        free(cur);
        layout_free(L);
        return false;
    }
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        L->inst[i] = (xcr__gpu_inst){in->cs, in->und, in->settle, in->mt_off,
                                     in->nmt, in->type == XCR_OPTION,
                                     in->inverse};
    }
    for (size_t a = 0; a < na; a++) {
        const xcr__asset *as = &b->assets[a];
        L->asset[a] = (xcr__gpu_asset){as->liability_weight, as->borrow_mmr,
                                       as->borrow_imr, as->lt, as->ltv,
                                       as->tier_off, as->ntiers, as->emode};
        slot_of[a] = -1;
    }
    for (size_t e = 0; e < b->n_emodes; e++)
        L->emodes[e] = (xcr__gpu_emode){b->emodes[e].liquidation_threshold,
                                        b->emodes[e].ltv, b->emodes[e].id};
    size_t ns = 0;
    L->slot_pos_off[0] = 0;
    for (size_t a = 0; a < nacc; a++) {
        const xcr_mode mode = (xcr_mode)b->acct_mode[a];
        L->slot_off[a] = (uint32_t)ns;
        const size_t first = ns;
        /* eval.c: balances first, in order, then (not isolated) each
         * position's settlement asset */
        for (uint32_t k = b->bal_off[a]; k < b->bal_off[a + 1]; k++) {
            const uint32_t as = b->bal_asset[k];
            if (slot_of[as] < 0) {
                slot_of[as] = (int32_t)ns;
                L->slot_asset[ns] = as;
                L->slot_net0[ns] = 0.0;
                ns++;
            }
            L->slot_net0[slot_of[as]] += b->bal_amt[k];
        }
        const bool isolated = mode == XCR_MODE_ISOLATED;
        for (uint32_t p = b->pos_off[a]; p < b->pos_off[a + 1]; p++) {
            if (isolated)
                break;
            const uint32_t as = b->insts[b->pos_inst[p]].settle;
            if (slot_of[as] < 0) {
                slot_of[as] = (int32_t)ns;
                L->slot_asset[ns] = as;
                L->slot_net0[ns] = 0.0;
                ns++;
            }
            pslot[p] = (uint32_t)slot_of[as];
        }
        /* the positions of each slot, in position order (a counting sort;
         * slot_pos_off[first] is where the previous account ended) */
        for (size_t q = first; q < ns; q++)
            cur[q] = 0;
        if (!isolated)
            for (uint32_t p = b->pos_off[a]; p < b->pos_off[a + 1]; p++)
                cur[pslot[p]]++;
        for (size_t q = first; q < ns; q++) {
            L->slot_pos_off[q + 1] = L->slot_pos_off[q] + cur[q];
            cur[q] = L->slot_pos_off[q];
        }
        if (!isolated)
            for (uint32_t p = b->pos_off[a]; p < b->pos_off[a + 1]; p++)
                L->slot_pos[cur[pslot[p]]++] = p;
        for (size_t q = first; q < ns; q++)
            slot_of[L->slot_asset[q]] = -1;
        /* portfolio accounts: the requirement comes from the host */
        if (mode == XCR_MODE_PORTFOLIO && b->pm) {
            L->pm_idx[a] = (int32_t)L->npm;
            L->pm_acct[L->npm++] = (uint32_t)a;
        } else {
            L->pm_idx[a] = -1;
        }
        const xcr_emode_def *em =
            mode == XCR_MODE_LENDING && b->acct_emode[a]
                ? xcr__book_emode(b, b->acct_emode[a])
                : NULL;
        L->em_idx[a] = em ? (int32_t)(em - b->emodes) : -1;
    }
    L->slot_off[nacc] = (uint32_t)ns;
    L->nslots = ns;
    free(slot_of);
    free(pslot);
    free(cur);
    return true;
}

/* MARK: a list of accounts ------------------------------------------------------------ */

/* The book part of a job (the account layout of `L`). */
static void job_book(xcr__gpu_job *J, const xcr_book *b, const layout *L)
{
    J->nacc = b->n_accts;
    J->na = b->n_assets;
    J->ni = b->n_insts;
    J->npos = b->n_pos;
    J->nbal = b->n_bals;
    J->nslots = L->nslots;
    J->ntiers = b->n_tiers;
    J->nmtiers = b->n_mtiers;
    J->nem = b->n_emodes;
    J->npm = L->npm;
    J->mode = b->acct_mode;
    J->pm_idx = L->pm_idx;
    J->em_idx = L->em_idx;
    J->emodes = L->emodes;
    J->slot_off = L->slot_off;
    J->slot_asset = L->slot_asset;
    J->slot_net0 = L->slot_net0;
    J->slot_pos_off = L->slot_pos_off;
    J->slot_pos = L->slot_pos;
    J->bal_off = b->bal_off;
    J->bal_asset = b->bal_asset;
    J->bal_amt = b->bal_amt;
    J->pos_off = b->pos_off;
    J->pos_inst = b->pos_inst;
    J->pos_size = b->pos_size;
    J->pos_entry = b->pos_entry;
    J->pos_iso = b->pos_iso;
    J->inst = L->inst;
    J->asset = L->asset;
    J->tiers = b->tiers;
    J->mtiers = b->mtiers;
}

xcr_status xcr__gpu_eval_accounts(const xcr_market *m, const uint32_t *idx,
                                  size_t n, xcr_account_result *out,
                                  double *surplus, xcr_error *err)
{
    if (!m || (n && (!idx || !out)))
        return xcr__fail(err, XCR_EINVAL, "market, list and output are "
                                          "required");
    const xcr_book *b = m->book;
    for (size_t k = 0; k < n; k++)
        if (idx[k] >= b->n_accts)
            return xcr__fail(err, XCR_ENOTFOUND,
                             "account index %u out of range", idx[k]);
    char name[128];
    if (!xcr__cuda_device(0, name, sizeof name))
        return xcr__fail(err, XCR_ENODEV, "no usable GPU: %s", name);
    if (n == 0)
        return XCR_OK;
    layout L;
    if (!layout_build(b, &L))
        return NOMEM(err);
    /* portfolio requirements of the listed portfolio accounts (host) */
    double *pm0 = calloc((L.npm ? L.npm : 1) * 2, sizeof *pm0);
    if (!pm0) {
        layout_free(&L);
        return NOMEM(err);
    }
    for (size_t k = 0; k < n; k++)
        if (L.pm_idx[idx[k]] >= 0) {
            const size_t q = (size_t)L.pm_idx[idx[k]];
            xcr__pm_margin(m, NULL, idx[k], &pm0[2 * q], &pm0[2 * q + 1]);
        }
    xcr__gpu_job J;
    memset(&J, 0, sizeof J);
    job_book(&J, b, &L);
    J.px0 = m->price;
    J.mk0 = m->mark;
    J.uv0 = m->unit_value;
    J.pm0 = pm0;
    char msg[256] = "";
    xcr_status st = xcr__cuda_eval_list(&J, idx, n, out, surplus, msg,
                                        sizeof msg);
    if (st != XCR_OK)
        xcr__fail(err, st, "%s", msg[0] ? msg : "out of memory");
    free(pm0);
    layout_free(&L);
    return st;
}

/* MARK: host-side order statistics for long tails ------------------------------------ */

typedef struct quant_ctx {
    xcr_stress_result *r;
    int threads;
} quant_ctx;

typedef struct quant_job {
    xcr_stress_result *r;
    size_t a0, lo, hi, ns;
    double *loss;
} quant_job;

static void *quant_worker(void *arg)
{
    quant_job *j = arg;
    for (size_t i = j->lo; i < j->hi; i++)
        xcr__var_es3(j->loss + i * j->ns, j->ns,
                     j->r->acc_var + (j->a0 + i) * XCR_STRESS_LEVELS,
                     j->r->acc_es + (j->a0 + i) * XCR_STRESS_LEVELS);
    return NULL;
}

static void quant_rows(void *ctx, size_t a0, size_t n, double *loss)
{
    quant_ctx *q = ctx;
    quant_job jobs[XCR__MAX_THREADS];
    int nt = xcr__thread_count(q->threads, n * 16);
    for (int t = 0; t < nt; t++)
        jobs[t] = (quant_job){q->r, a0, n * (size_t)t / (size_t)nt,
                              n * (size_t)(t + 1) / (size_t)nt, q->r->n_scen,
                              loss};
    xcr__run_jobs(quant_worker, jobs, sizeof jobs[0], nt);
}

/* MARK: entry point ----------------------------------------------------------------- */

#define N_SUMS 4

static double fix_get(xcr__fix128 f)
{
    xcr__i128 v = (xcr__i128)f.hi * ((xcr__i128)1 << 64) + (xcr__i128)f.lo;
    return xcr__fix_get(v);
}

/* The set is exactly its Monte Carlo generator's batch: scenario k is
 * generator draw k. */
static bool set_is_one_mc_batch(const xcr_scenarios *s)
{
    if (!s->gen.used || s->gen.fhs || s->gen.k == 0 ||
        (s->gen.dist == XCR_MC_T && s->gen.normal_marginals))
        return false;
    for (size_t k = 0; k < s->n; k++)
        if (s->meta[k].kind != XCR__SK_MC || s->meta[k].gen != k)
            return false;
    return true;
}

xcr_status xcr_stress_run_gpu(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o, const xcr_gpu_opts *g,
                              xcr_stress_result **out, xcr_error *err)
{
    xcr_status chk = xcr__stress_check_run(m, s, out, err);
    if (chk != XCR_OK)
        return chk;
    xcr_stress_opts dflt;
    xcr_stress_opts_init(&dflt);
    if (!o)
        o = &dflt;
    xcr_gpu_opts gdflt;
    xcr_gpu_opts_init(&gdflt);
    if (!g)
        g = &gdflt;
    char devname[128];
    if (!xcr__cuda_device(g->device, devname, sizeof devname))
        return xcr__fail(err, XCR_ENODEV, "no usable GPU (device %d): %s",
                         g->device, devname);
    const xcr_book *b = m->book;
    const size_t ns = s->n, nacc = b->n_accts, na = b->n_assets,
                 ni = b->n_insts;
    const size_t na1 = na ? na : 1, ni1 = ni ? ni : 1;
    /* engine.c's chunks and automatic limits (the same decisions on both
     * back ends) */
    const size_t chunk = xcr__stress_chunk(nacc);
    const size_t nchunks = (nacc + chunk - 1) / chunk;
    const bool quant = o->account_quantiles > 0 ||
                       (o->account_quantiles < 0 &&
                        xcr__stress_quant_auto(nacc, ns));
    const bool detail = o->asset_detail > 0 ||
                        (o->asset_detail < 0 &&
                         xcr__stress_detail_auto(na, ns));
    int threads = o->threads;
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    if (threads > XCR__MAX_THREADS)
        threads = XCR__MAX_THREADS;

    xcr_stress_result *r = NULL;
    xcr_status st = XCR_OK;
    layout L;
    bool have_layout = false;
    tables T;
    memset(&T, 0, sizeof T);
    double *moves_dev = NULL, *pm0 = NULL;
    xcr__fix128 *sums = NULL, *aloss = NULL, *aliq = NULL;
    bool oom = xcr__stress_result_alloc(m, s, ns, quant, detail, &r) !=
               XCR_OK;
    sums = calloc(ns * N_SUMS, sizeof *sums);
    T.px = malloc(ns * na1 * sizeof(double));
    T.mk = malloc(ns * ni1 * sizeof(double));
    T.uv = malloc(ns * ni1 * sizeof(double));
    oom = oom || !sums || !T.px || !T.mk || !T.uv;
    if (s->vol) {
        T.iv = malloc(ns * ni1 * sizeof(double));
        oom = oom || !T.iv;
    }
    if (detail) {
        aloss = calloc(ns * na1, sizeof *aloss);
        aliq = calloc(ns * na1, sizeof *aliq);
        oom = oom || !aloss || !aliq;
    }
    if (oom || !layout_build(b, &L)) {
        st = NOMEM(err);
        goto done;
    }
    have_layout = true;

    /* the moves: the set's, or drawn again on the device */
    T.moves = s->moves;
    if (g->mc_on_device && set_is_one_mc_batch(s)) {
        moves_dev = malloc(ns * na1 * sizeof *moves_dev);
        if (!moves_dev) {
            st = NOMEM(err);
            goto done;
        }
        if ((st = xcr_gpu_mc_moves(s, 0, ns, moves_dev, err)) != XCR_OK)
            goto done;
        T.moves = moves_dev;
    }
    /* scenario tables and portfolio requirements on host threads */
    T.m = m;
    T.s = s;
    T.ns = ns;
    T.na = na;
    T.ni = ni;
    T.npm = L.npm;
    T.pm_acct = L.pm_acct;
    pm0 = malloc((L.npm ? L.npm : 1) * 2 * sizeof *pm0);
    if (L.npm)
        T.pmv = malloc(ns * L.npm * 2 * sizeof *T.pmv);
    if (!pm0 || (L.npm && !T.pmv)) {
        st = NOMEM(err);
        goto done;
    }
    for (size_t q = 0; q < L.npm; q++)
        xcr__pm_margin(m, NULL, L.pm_acct[q], &pm0[2 * q], &pm0[2 * q + 1]);
    {
        tab_job jobs[XCR__MAX_THREADS];
        int nt = threads < (int)ns ? threads : (int)ns;
        if (nt < 1)
            nt = 1;
        for (int t = 0; t < nt; t++)
            jobs[t] = (tab_job){&T, ns * (size_t)t / (size_t)nt,
                                ns * (size_t)(t + 1) / (size_t)nt};
        xcr__run_jobs(tables_worker, jobs, sizeof jobs[0], nt);
    }

    xcr__gpu_job J;
    memset(&J, 0, sizeof J);
    J.device = g->device;
    J.mem_limit = g->memory_limit;
    job_book(&J, b, &L);
    J.ns = ns;
    J.chunk = chunk;
    J.nchunks = nchunks;
    J.quant = quant;
    J.detail = detail;
    if (quant) {
        /* the order-statistic index ⌈α·n⌉ of each level exactly as
         * stats.c computes it: the VaR of the losses 1, 2, …, n is k */
        double *ranks = malloc(ns * sizeof *ranks);
        if (!ranks) {
            st = NOMEM(err);
            goto done;
        }
        for (size_t i = 0; i < ns; i++)
            ranks[i] = (double)(i + 1);
        double v[XCR_STRESS_LEVELS], e[XCR_STRESS_LEVELS];
        xcr__var_es3(ranks, ns, v, e);
        free(ranks);
        for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
            J.k[l] = (size_t)v[l];
            J.alpha[l] = xcr_stress_level(l);
        }
        J.tail = ns - J.k[0] + 1;
    }
    J.px0 = m->price;
    J.mk0 = m->mark;
    J.uv0 = m->unit_value;
    J.pm0 = pm0;
    J.px = T.px;
    J.mk = T.mk;
    J.uv = T.uv;
    J.pmv = T.pmv;
    quant_ctx qc = {r, threads};
    J.quant_rows = quant_rows;
    J.quant_ctx = &qc;

    xcr__gpu_out O;
    memset(&O, 0, sizeof O);
    O.eq0 = r->eq0;
    O.st0 = r->st0;
    O.n_liq = r->n_liq;
    O.n_bank = r->n_bank;
    O.worst = r->worst;
    O.sum_loss = r->sum_loss;
    O.sum_short = r->sum_short;
    O.max_loss = r->max_loss;
    O.acc_var = r->acc_var;
    O.acc_es = r->acc_es;
    O.eq1 = r->eq1;
    O.st1 = r->st1;
    O.sums = sums;
    O.cnt = r->status_count;
    O.aloss = aloss;
    O.aliq = aliq;
    char msg[256] = "";
    st = xcr__cuda_stress(&J, &O, msg, sizeof msg);
    if (st != XCR_OK) {
        xcr__fail(err, st, "%s", msg);
        goto done;
    }
    if (O.bad_key != UINT64_MAX) {
        /* the first non-finite result in (account, scenario) order, the
         * base state after the scenarios, as engine.c reports it */
        const size_t acct = (size_t)(O.bad_key / (ns + 1));
        const size_t scen = (size_t)(O.bad_key % (ns + 1));
        st = xcr__stress_fail_nonfinite(err, s, acct,
                                        scen == ns ? (size_t)-1 : scen);
        goto done;
    }
    for (size_t k = 0; k < ns; k++) {
        r->loss[k] = fix_get(sums[k * N_SUMS + 0]);
        r->shortfall[k] = fix_get(sums[k * N_SUMS + 1]);
        r->liq_coll[k] = fix_get(sums[k * N_SUMS + 2]);
        r->liq_notional[k] = fix_get(sums[k * N_SUMS + 3]);
        if (detail)
            for (size_t a = 0; a < na; a++) {
                r->asset_loss[k * na + a] = fix_get(aloss[k * na + a]);
                r->asset_liq[k * na + a] = fix_get(aliq[k * na + a]);
            }
    }
    if (o->progress)
        o->progress(o->progress_ctx, ns * nacc, ns * nacc);
done:
    if (have_layout)
        layout_free(&L);
    free(T.px);
    free(T.mk);
    free(T.uv);
    free(T.iv);
    free(T.pmv);
    free(pm0);
    free(moves_dev);
    free(sums);
    free(aloss);
    free(aliq);
    if (st != XCR_OK) {
        xcr_stress_result_free(r);
        return st;
    }
    *out = r;
    return XCR_OK;
}

#endif /* XCR_HAVE_CUDA */
