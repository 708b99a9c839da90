/* Affine account models for the stress fast path (see fast.h for the
 * derivation; the formulas are the evaluator's, src/margin/eval.c, spec §2,
 * margin-models.md §2.1 (tiers), §3.1 (brackets), §14.2 (Aave HF)). */
#include "fast.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef XCR_HAVE_OPENBLAS
#include <cblas.h>
#endif

xcr_status xcr__fast_ctx_init(xcr__fast_ctx *c, const xcr_market *m,
                              bool *usable)
{
    memset(c, 0, sizeof *c);
    const xcr_book *b = m->book;
    c->m = m;
    c->na = b->n_assets;
    size_t nopt = 0;
    for (size_t i = 0; i < b->n_insts; i++)
        nopt += b->insts[i].type == XCR_OPTION;
    c->K = c->na + nopt;
    *usable = c->K > 0 && c->K <= XCR__FAST_MAX_K;
    if (!*usable)
        return XCR_OK;
    c->opt_col = malloc((b->n_insts ? b->n_insts : 1) * sizeof *c->opt_col);
    c->col_inst = malloc((nopt ? nopt : 1) * sizeof *c->col_inst);
    c->col_asset = malloc(c->K * sizeof *c->col_asset);
    if (!c->opt_col || !c->col_inst || !c->col_asset) {
        xcr__fast_ctx_free(c);
        return XCR_ENOMEM;
    }
    for (size_t a = 0; a < c->na; a++)
        c->col_asset[a] = (uint32_t)a;
    size_t o = 0;
    for (size_t i = 0; i < b->n_insts; i++) {
        c->opt_col[i] = -1;
        if (b->insts[i].type == XCR_OPTION) {
            c->opt_col[i] = (int32_t)(c->na + o);
            c->col_inst[o] = (uint32_t)i;
            c->col_asset[c->na + o] = b->insts[i].und;
            o++;
        }
    }
    return XCR_OK;
}

void xcr__fast_ctx_free(xcr__fast_ctx *c)
{
    free(c->opt_col);
    free(c->col_inst);
    free(c->col_asset);
    memset(c, 0, sizeof *c);
}

xcr_status xcr__fast_ws_init(xcr__fast_ws *w, const xcr__fast_ctx *c)
{
    memset(w, 0, sizeof *w);
    size_t na = c->na ? c->na : 1;
    w->vc = calloc(na, sizeof *w->vc);
    w->vg = calloc(na * c->K, sizeof *w->vg);
    w->touched = malloc(na * sizeof *w->touched);
    w->seen = calloc(na, 1);
    w->pm = calloc(2 * c->K + 2, sizeof *w->pm);
    if (!w->vc || !w->vg || !w->touched || !w->seen || !w->pm) {
        xcr__fast_ws_free(w);
        return XCR_ENOMEM;
    }
    return XCR_OK;
}

void xcr__fast_ws_free(xcr__fast_ws *w)
{
    free(w->vc);
    free(w->vg);
    free(w->touched);
    free(w->seen);
    free(w->pm);
    memset(w, 0, sizeof *w);
}

/* Intersect lo <= f_j <= hi into the account's conditions. */
static bool add_con(xcr__fast_model *fa, uint32_t j, double lo, double hi)
{
    if (lo == -INFINITY && hi == INFINITY)
        return true;
    for (uint32_t k = 0; k < fa->ncon; k++)
        if (fa->con[k].j == j) {
            if (lo > fa->con[k].lo)
                fa->con[k].lo = lo;
            if (hi < fa->con[k].hi)
                fa->con[k].hi = hi;
            return true;
        }
    if (fa->ncon == XCR__FAST_MAX_CON)
        return false;
    fa->con[fa->ncon++] = (xcr__fcon){j, lo, hi};
    return true;
}

/* Condition v = c + g·f_j in [vlo, vhi] as an interval of f_j. */
static bool add_con_affine(xcr__fast_model *fa, uint32_t j, double c, double g,
                           double vlo, double vhi)
{
    double lo = (vlo - c) / g, hi = (vhi - c) / g;
    if (g < 0) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    /* ±inf bounds stay ±inf; NaN (inf − inf) cannot occur: c is finite */
    return add_con(fa, j, lo, hi);
}

static inline void touch(xcr__fast_ws *w, uint32_t a, size_t *nt)
{
    if (!w->seen[a]) {
        w->seen[a] = 1;
        w->touched[(*nt)++] = a;
    }
}

static void clear_ws(xcr__fast_ws *w, size_t K, size_t nt)
{
    for (size_t k = 0; k < nt; k++) {
        const uint32_t a = w->touched[k];
        w->vc[a] = 0;
        memset(w->vg + (size_t)a * K, 0, K * sizeof *w->vg);
        w->seen[a] = 0;
    }
    memset(w->pm, 0, (2 * K + 2) * sizeof *w->pm);
}

/* An isolated account (spec §2): balances count in equity only; each
 * position carries its own margin pm = iso + uPnL, and the account's
 * status is the worst of its positions' (or bankrupt on negative equity). */
static bool build_isolated(const xcr__fast_ctx *c, size_t acct, double *rows,
                           xcr__fast_model *fa)
{
    const xcr_market *m = c->m;
    const xcr_book *b = m->book;
    const size_t K = c->K;
    double *eq = rows, eqc = 0, gross = 0;
    memset(rows, 0, XCR__FAST_ROWS * K * sizeof *rows);
    fa->iso = 1;
    fa->niso = 0;
    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++) {
        const uint32_t a = b->bal_asset[k];
        const double v = b->bal_amt[k] * m->price[a];
        eqc += v;
        eq[a] += v;
        gross += fabs(v);
    }
    if (b->pos_off[acct + 1] - b->pos_off[acct] > XCR__FAST_MAX_ISO)
        return false;
    for (uint32_t p = b->pos_off[acct]; p < b->pos_off[acct + 1]; p++) {
        const uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        const double size = b->pos_size[p];
        const uint32_t u = in->und;
        const double mk = m->mark[ii];
        xcr__fiso *ip = &fa->ip[fa->niso++];
        double n0, ng;
        if (in->type == XCR_OPTION) {
            if (size < 0)
                return false; /* margin on r_u, value on its own factor */
            ip->j = (uint32_t)c->opt_col[ii];
            ip->pm0 = b->pos_iso[p] + size * m->unit_value[ii];
            ip->pmg = size;
            n0 = ng = 0;
            ip->n0 = in->inverse ? fabs(size) * in->cs
                                 : fabs(size) * in->cs * mk;
            ip->ng = in->inverse ? 0 : ip->n0;
        } else if (in->inverse) {
            if (in->settle != u)
                return false;
            const double pu = m->price[u];
            ip->j = u;
            ip->pm0 = b->pos_iso[p] +
                      size * in->cs * pu * (1.0 / b->pos_entry[p] - 1.0 / mk);
            ip->pmg = size * in->cs * pu / b->pos_entry[p];
            n0 = fabs(size) * in->cs;
            ng = 0;
            ip->n0 = n0;
            ip->ng = 0;
        } else {
            ip->j = u;
            ip->pm0 = b->pos_iso[p] + size * in->cs * (mk - b->pos_entry[p]);
            ip->pmg = size * in->cs * mk;
            n0 = fabs(size) * in->cs * mk;
            ng = n0;
            ip->n0 = n0;
            ip->ng = ng;
        }
        ip->jn = u;
        double mm0 = 0, mmg = 0, im0 = 0, img = 0;
        if (in->type != XCR_OPTION) {
            const uint32_t br = xcr__bracket(b, in, n0);
            const xcr__mtier *t = &b->mtiers[in->mt_off + br];
            mm0 = n0 * t->mmr - t->cum_mm;
            im0 = n0 * t->imr - t->cum_im;
            mmg = ng * t->mmr;
            img = ng * t->imr;
            if (ng != 0) {
                double lo = br == 0 ? -INFINITY : t->lo;
                double hi = br + 1 >= in->nmt ? INFINITY : t->hi;
                if (!add_con_affine(fa, u, n0, ng, lo, hi))
                    return false;
            }
        }
        ip->mm0 = ip->pm0 - mm0;
        ip->mmg = ip->pmg - mmg;
        ip->im0 = ip->pm0 - im0;
        ip->img = ip->pmg - img;
        eqc += ip->pm0;
        eq[ip->j] += ip->pmg;
        gross += fabs(ip->pm0) + fabs(b->pos_iso[p]) + ip->n0;
    }
    fa->c[0] = eqc;
    fa->c[1] = fa->c[2] = fa->c[3] = 0;
    fa->tol = 1e-9 * gross;
    return true;
}

static bool build_model(const xcr__fast_ctx *c, xcr__fast_ws *w, size_t acct,
                        double *rows, xcr__fast_model *fa);

bool xcr__fast_build(const xcr__fast_ctx *c, xcr__fast_ws *w, size_t acct,
                     double *rows, xcr__fast_model *fa)
{
    if (!build_model(c, w, acct, rows, fa))
        return false;
    /* pad to the fixed count with conditions that always hold */
    for (uint32_t k = fa->ncon; k < XCR__FAST_CON_FIXED; k++)
        fa->con[k] = (xcr__fcon){0, -INFINITY, INFINITY};
    return true;
}

static bool build_model(const xcr__fast_ctx *c, xcr__fast_ws *w, size_t acct,
                        double *rows, xcr__fast_model *fa)
{
    const xcr_market *m = c->m;
    const xcr_book *b = m->book;
    const size_t K = c->K;
    const xcr_mode mode = (xcr_mode)b->acct_mode[acct];
    memset(fa, 0, offsetof(xcr__fast_model, con));
    if (mode == XCR_MODE_ISOLATED)
        return build_isolated(c, acct, rows, fa);
    if (mode != XCR_MODE_CROSS && mode != XCR_MODE_LENDING)
        return false;
    fa->vlo = -INFINITY;
    fa->vhi = INFINITY;
    size_t nt = 0;
    bool ok = true;
    double *mmc = &w->pm[0], *mmg = w->pm + 1;          /* MM: c, grad  */
    double *imc = &w->pm[K + 1], *img = w->pm + K + 2;  /* IM: c, grad  */

    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++) {
        const uint32_t a = b->bal_asset[k];
        const double v = b->bal_amt[k] * m->price[a];
        touch(w, a, &nt);
        w->vc[a] += v;
        w->vg[(size_t)a * K + a] += v;
    }
    for (uint32_t p = b->pos_off[acct]; ok && p < b->pos_off[acct + 1]; p++) {
        const uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        const double size = b->pos_size[p];
        const uint32_t u = in->und, sg = in->settle;
        const double mk = m->mark[ii];
        double n0, ng; /* notional = n0 + ng·r_u */
        touch(w, sg, &nt);
        if (in->type == XCR_OPTION) {
            const uint32_t col = (uint32_t)c->opt_col[ii];
            w->vc[sg] += size * m->unit_value[ii];
            w->vg[(size_t)sg * K + col] += size;
            if (in->inverse) {
                n0 = fabs(size) * in->cs;
                ng = 0;
            } else {
                n0 = fabs(size) * in->cs * mk;
                ng = n0;
            }
        } else if (in->inverse) {
            if (sg != u) {
                ok = false;
                break;
            }
            const double pu = m->price[u];
            w->vc[sg] += size * in->cs * pu * (1.0 / b->pos_entry[p] - 1.0 / mk);
            w->vg[(size_t)sg * K + u] += size * in->cs * pu / b->pos_entry[p];
            n0 = fabs(size) * in->cs;
            ng = 0;
        } else {
            w->vc[sg] += size * in->cs * (mk - b->pos_entry[p]);
            w->vg[(size_t)sg * K + u] += size * in->cs * mk;
            n0 = fabs(size) * in->cs * mk;
            ng = n0;
        }
        if (in->type != XCR_OPTION || size < 0) {
            const uint32_t br = xcr__bracket(b, in, n0);
            const xcr__mtier *t = &b->mtiers[in->mt_off + br];
            *mmc += n0 * t->mmr - t->cum_mm;
            *imc += n0 * t->imr - t->cum_im;
            mmg[u] += ng * t->mmr;
            img[u] += ng * t->imr;
            if (ng != 0) {
                /* stay in bracket br: lo <= N <= hi (MM and IM are
                 * continuous at the caps, so the ends are closed) */
                double lo = br == 0 ? -INFINITY : t->lo;
                double hi = br + 1 >= in->nmt ? INFINITY : t->hi;
                ok = add_con_affine(fa, u, n0, ng, lo, hi);
            }
        }
    }

    double *eq = rows, *cm = rows + K, *ci = rows + 2 * K, *vr = rows + 3 * K;
    memset(rows, 0, XCR__FAST_ROWS * K * sizeof *rows);
    double eqc = 0, cmc = 0, cic = 0, gross = 0;
    const xcr_emode_def *em =
        mode == XCR_MODE_LENDING && b->acct_emode[acct]
            ? xcr__book_emode(b, b->acct_emode[acct])
            : NULL;
    if (mode == XCR_MODE_CROSS) {
        cmc = -*mmc;
        cic = -*imc;
        for (size_t j = 0; j < K; j++) {
            cm[j] = -mmg[j];
            ci[j] = -img[j];
        }
    }
    for (size_t k = 0; ok && k < nt; k++) {
        const uint32_t a = w->touched[k];
        const xcr__asset *as = &b->assets[a];
        const double v0 = w->vc[a];
        const double *g = w->vg + (size_t)a * K;
        size_t nz = 0;
        uint32_t jz = 0;
        for (size_t j = 0; j < K; j++)
            if (g[j] != 0) {
                nz++;
                jz = (uint32_t)j;
            }
        /* the affine piece the value is in at the base state: coefficient
         * of v in collateral − MM (wm), collateral − IM (wi), their
         * constants, and the piece [lo, hi] */
        double wm, wi, km = 0, ki = 0, lo, hi;
        if (nz > 0 && v0 == 0) {
            ok = false; /* on the kink itself */
            break;
        }
        if (mode == XCR_MODE_LENDING) {
            if (v0 > 0) {
                const bool in_em = em && as->emode == em->id;
                wm = in_em ? em->liquidation_threshold : as->lt;
                wi = in_em ? em->ltv : as->ltv;
                lo = 0;
                hi = INFINITY;
            } else {
                wm = wi = 1.0; /* debt −v enters with a minus sign */
                lo = -INFINITY;
                hi = 0;
            }
        } else if (v0 > 0) {
            const xcr__tier *t = b->tiers + as->tier_off;
            uint32_t n = as->ntiers, tk = 0;
            while (tk < n && !(v0 < t[tk].hi))
                tk++;
            if (tk < n) {
                wm = wi = t[tk].weight;
                km = ki = t[tk].base - t[tk].lo * t[tk].weight;
                lo = tk == 0 ? 0 : t[tk].lo;
                hi = tk + 1 == n ? INFINITY : t[tk].hi;
                if (tk + 1 == n && isfinite(t[tk].hi))
                    hi = t[tk].hi;
            } else {
                /* above the last finite cap: constant */
                wm = wi = 0;
                km = ki = t[n - 1].base + (t[n - 1].hi - t[n - 1].lo) *
                                              t[n - 1].weight;
                lo = t[n - 1].hi;
                hi = INFINITY;
            }
        } else {
            /* collateral v·lw, MM and IM −v·borrow rates */
            wm = as->liability_weight + as->borrow_mmr;
            wi = as->liability_weight + as->borrow_imr;
            lo = -INFINITY;
            hi = 0;
        }
        gross += fabs(v0);
        eqc += v0;
        cmc += km + wm * v0;
        cic += ki + wi * v0;
        for (size_t j = 0; j < K; j++) {
            eq[j] += g[j];
            cm[j] += wm * g[j];
            ci[j] += wi * g[j];
        }
        if (nz == 1) {
            ok = add_con_affine(fa, jz, v0, g[jz], lo, hi);
        } else if (nz > 1) {
            if (fa->has_v) {
                ok = false;
                break;
            }
            fa->has_v = 1;
            fa->c[3] = v0;
            fa->vlo = lo;
            fa->vhi = hi;
            fa->va = a;
            fa->vkm = km;
            fa->vwm = wm;
            fa->vki = ki;
            fa->vwi = wi;
            fa->lend = mode == XCR_MODE_LENDING;
            {
                const bool in_em = em && as->emode == em->id;
                fa->vlt = in_em ? em->liquidation_threshold : as->lt;
                fa->vltv = in_em ? em->ltv : as->ltv;
            }
            memcpy(vr, g, K * sizeof *vr);
        }
    }
    fa->c[0] = eqc;
    fa->c[1] = cmc;
    fa->c[2] = cic;
    fa->tol = 1e-9 * (gross + fabs(*mmc) + fabs(*imc));
    if (!fa->has_v)
        fa->c[3] = 0;
    clear_ws(w, K, nt);
    return ok;
}

void xcr__fast_gemm(size_t N, size_t M, size_t K, const double *F,
                    size_t ldf, const double *A, size_t lda, double *C,
                    size_t ldc)
{
#ifdef XCR_HAVE_OPENBLAS
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, (blasint)N,
                (blasint)M, (blasint)K, 1.0, F, (blasint)ldf, A,
                (blasint)lda, 0.0, C, (blasint)ldc);
#else
    for (size_t s = 0; s < N; s++) {
        double *c = C + s * ldc;
        for (size_t i = 0; i < M; i++)
            c[i] = 0;
        for (size_t k = 0; k < K; k++) {
            const double f = F[k * ldf + s];
            if (f == 0)
                continue; /* a factor that does not move */
            for (size_t i = 0; i < M; i++)
                c[i] += f * A[i * lda + k];
        }
    }
#endif
}

int xcr__fast_blas_pin(void)
{
#ifdef XCR_HAVE_OPENBLAS
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return prev;
#else
    return 0;
#endif
}

void xcr__fast_blas_restore(int prev)
{
#ifdef XCR_HAVE_OPENBLAS
    if (prev > 0)
        openblas_set_num_threads(prev);
#else
    (void)prev;
#endif
}

/* MARK: per-account VaR/ES ------------------------------------------------------------- */

/* The definitions of stats.c (scenarios-and-data.md §9): VaR at α is the
 * order statistic L_(k), k = ⌈α·n⌉, and ES the Acerbi–Tasche tail mean.
 * Only the n − k0 + 1 largest losses matter (k0 for the lowest level), so
 * instead of a selection over all n values this keeps candidates above a
 * running threshold (one comparison for most values), sorts the largest
 * ascending into the top of x and applies stats.c's own functions
 * (xcr__order_index, xcr__es_from_sorted, xcr__select_k) to the same
 * sorted tail: the results are bit-identical to xcr__var_es3
 * (tests/test_stress_fast.c checks). */
void xcr__fast_var_es3(double *x, size_t n, double *cand, double *var,
                       double *es)
{
    if (n == 0) {
        for (int l = 0; l < XCR_STRESS_LEVELS; l++)
            var[l] = es[l] = NAN;
        return;
    }
    const size_t k0 = xcr__order_index(xcr_stress_level(0), n);
    const size_t T = n - k0 + 1; /* the tail that matters */
    size_t cnt = 0;
    bool have = false; /* cand[0 .. cnt) holds the T largest (and more) */
    if (n >= 256 && T * 16 <= n) {
        /* A threshold from every 8th value, set so that about twice the
         * tail passes it; one filtering pass (a well-predicted comparison
         * per value) then keeps every value at or above it.  If at least
         * T pass, the T largest are among them: exact.  Else (rare) the
         * general pass below. */
        size_t m = 0;
        for (size_t i = 0; i < n; i += 8)
            cand[m++] = x[i];
        size_t q = 2 * ((T * m + n - 1) / n) + 2;
        if (q > m)
            q = m;
        xcr__select_k(cand, m, m - q);
        const double thr = cand[m - q];
        for (size_t i = 0; i < n; i++)
            if (x[i] >= thr)
                cand[cnt++] = x[i];
        have = cnt >= T;
    }
    if (!have) {
        /* General pass: keep the values above the T-th largest so far;
         * when 2T are kept, a selection cuts them back to the T largest. */
        double thr = -INFINITY;
        const size_t cap = 2 * T < n ? 2 * T : n;
        cnt = 0;
        for (size_t i = 0; i < n; i++) {
            if (!(x[i] > thr))
                continue;
            cand[cnt++] = x[i];
            if (cnt == cap && cnt > T) {
                xcr__select_k(cand, cnt, cnt - T);
                memmove(cand, cand + (cnt - T), T * sizeof *cand);
                cnt = T;
                thr = cand[0];
                for (size_t q = 1; q < T; q++)
                    thr = cand[q] < thr ? cand[q] : thr;
            }
        }
    }
    /* the T largest, ascending, into x[k0 − 1 .. n − 1] (the values below
     * do not enter any level's VaR or ES) */
    xcr__select_k(cand, cnt, cnt - T);
    double *tail = cand + (cnt - T);
    for (size_t i = 1; i < T; i++) {
        const double v = tail[i];
        size_t j = i;
        while (j > 0 && tail[j - 1] > v) {
            tail[j] = tail[j - 1];
            j--;
        }
        tail[j] = v;
    }
    memcpy(x + k0 - 1, tail, T * sizeof *x);
    for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
        const size_t k = xcr__order_index(xcr_stress_level(l), n);
        var[l] = x[k - 1];
        es[l] = xcr__es_from_sorted(x, n, xcr_stress_level(l), k);
    }
}
