/* Scenario generators: correlated Monte Carlo and filtered historical
 * simulation.
 *
 * Monte Carlo (scenarios-and-data.md §7):
 *   z ~ N(0, I) per (seed, scenario, asset) from Philox (rng.h); ε = C·z with
 *   R = C·Cᵀ (Cholesky, LAPACKE dpotrf).
 *   Gaussian copula: r_k = σ_k·√(h/365)·ε_k.
 *   Student-t copula (§7.2): w ~ χ²_ν, t = ε/√(w/ν); with t marginals
 *   scaled to unit variance r_k = σ_k,h·√((ν−2)/ν)·t_k (the meta-t of §7.2:
 *   T_ν⁻¹(T_ν(t)) = t), or with normal marginals r_k = σ_k,h·Φ⁻¹(T_ν(t_k)).
 *   r is a log return: move = exp(r) − 1 (zero median, prices stay > 0).
 *   σ is the asset's annualised `vol`; stablecoins do not move.
 *
 * Filtered historical simulation (§8; Barone-Adesi, Giannopoulos & Vosper
 * 1999): per asset a RiskMetrics EWMA filter σ²_t = λσ²_{t−1} + (1−λ)r²_{t−1}
 * (λ = 0.94), standardised residuals ẑ_t = r_t/σ_t; a scenario resamples
 * whole days (rows of ẑ, keeping the cross-sectional dependence of crash
 * days), rescales by today's σ and iterates the filter along the horizon. */
#include "rng.h"
#include "stress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

static void gen_reset(xcr_scenarios *s)
{
    const xcr_allocator *a = s->book->alloc;
    xcr__free(a, s->gen.assets);
    xcr__free(a, s->gen.vol);
    xcr__free(a, s->gen.corr);
    xcr__free(a, s->gen.corr_source);
    xcr__free(a, s->gen.note);
    memset(&s->gen, 0, sizeof s->gen);
}

static char *fmt_alloc(const xcr_allocator *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *fmt_alloc(const xcr_allocator *a, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return xcr__strdup(a, buf);
}

static xcr_status name_generated(xcr_scenarios *s, size_t first, size_t n,
                                 const char *prefix, uint8_t kind,
                                 xcr_error *err)
{
    for (size_t j = 0; j < n; j++) {
        char nm[48];
        snprintf(nm, sizeof nm, "%s-%zu", prefix, j + 1);
        xcr__smeta *me = &s->meta[first + j];
        me->kind = kind;
        me->gen = (uint32_t)j;
        me->name = xcr__strdup(s->book->alloc, nm);
        if (!me->name)
            return NOMEM(err);
    }
    return XCR_OK;
}

/* MARK: Monte Carlo ---------------------------------------------------------------------- */

xcr_status xcr_scenarios_add_mc(xcr_scenarios *s, const xcr_mc_opts *o,
                                xcr_error *err)
{
    if (!s || !o)
        return xcr__fail(err, XCR_EINVAL, "scenario set and options are "
                                          "required");
    const xcr_book *b = s->book;
    const xcr_allocator *al = b->alloc;
    double h = o->horizon_days > 0 ? o->horizon_days : 1.0;
    if (o->n == 0)
        return xcr__fail(err, XCR_EINVAL, "Monte Carlo needs at least one "
                                          "scenario");
    if (!isfinite(o->horizon_days) || o->horizon_days < 0)
        return xcr__fail(err, XCR_EINVAL,
                         "the horizon must be a positive number of days");
    if (o->dist == XCR_MC_T) {
        if (!isfinite(o->df) || !(o->df > 0))
            return xcr__fail(err, XCR_EINVAL,
                             "the t copula needs degrees of freedom > 0 "
                             "(got %g)",
                             o->df);
        if (!o->normal_marginals && !(o->df > 2))
            return xcr__fail(err, XCR_EINVAL,
                             "t marginals scaled to unit variance need "
                             "degrees of freedom > 2 (got %g); use normal "
                             "marginals for smaller values",
                             o->df);
    } else if (o->dist != XCR_MC_NORMAL) {
        return xcr__fail(err, XCR_EINVAL, "unknown distribution");
    }
    /* the simulated assets */
    size_t na = s->na, k = 0;
    uint32_t *idx = xcr__malloc(al, (na ? na : 1) * sizeof *idx);
    double *sig = xcr__malloc(al, (na ? na : 1) * sizeof *sig);
    double *vol = xcr__malloc(al, (na ? na : 1) * sizeof *vol);
    xcr_corr *bookc = NULL;
    double *R = NULL, *C = NULL, *z = NULL;
    char *src = NULL;
    xcr_status st = XCR_OK;
    if (!idx || !sig || !vol) {
        st = NOMEM(err);
        goto done;
    }
    for (size_t a = 0; a < na; a++) {
        bool given = o->vols && !isnan(o->vols[a]);
        double v = given ? o->vols[a] : b->assets[a].vol;
        if (given && (!isfinite(v) || v < 0)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "vol of %s must be a finite number >= 0",
                           b->assets[a].symbol);
            goto done;
        }
        if (b->assets[a].stable || !(v > 0))
            continue;
        idx[k] = (uint32_t)a;
        vol[k] = v;
        sig[k] = v * sqrt(h / 365.0);
        k++;
    }
    if (k == 0) {
        st = xcr__fail(err, XCR_EINVAL,
                       "Monte Carlo needs a non-stable asset with a vol > 0 "
                       "(set the assets' \"vol\" in the book)");
        goto done;
    }
    /* the correlation matrix */
    if (!o->corr) {
        xcr_status cs = xcr_corr_from_book(b, NULL, &bookc, err);
        if (cs != XCR_OK && cs != XCR_ENOTFOUND) {
            st = cs;
            goto done;
        }
        if (cs == XCR_ENOTFOUND && err)
            err->msg[0] = '\0';
    }
    R = xcr__malloc(al, k * k * sizeof *R);
    C = xcr__malloc(al, k * k * sizeof *C);
    z = xcr__malloc(al, 2 * k * sizeof *z);
    if (!R || !C || !z) {
        st = NOMEM(err);
        goto done;
    }
    size_t cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < k; i++) {
        R[i * k + i] = 1;
        for (size_t j = 0; j < i; j++) {
            int how;
            double r = xcr__rho_sym(o->corr, bookc, b->assets[idx[i]].symbol,
                                    b->assets[idx[j]].symbol, &how);
            R[i * k + j] = R[j * k + i] = r;
            cnt[how]++;
        }
    }
    const char *given = o->corr ? o->corr->where
                        : bookc ? bookc->where
                                : NULL;
    if (cnt[XCR__RHO_DEFAULT] == 0 && cnt[XCR__RHO_ASSUMED] == 0 && given)
        src = fmt_alloc(al, "%s", given);
    else
        src = fmt_alloc(al,
                        "%s%s%zu pair(s) given, %zu from the shipped default "
                        "(scenarios-and-data.md §2), %zu assumed (%.2f; "
                        "%.2f between a token and the asset it wraps)",
                        given ? given : "", given ? ": " : "",
                        cnt[XCR__RHO_GIVEN], cnt[XCR__RHO_DEFAULT],
                        cnt[XCR__RHO_ASSUMED], XCR__ASSUMED_RHO,
                        XCR__ALIAS_RHO);
    if (!src) {
        st = NOMEM(err);
        goto done;
    }
    size_t bad = 0;
    int repaired = 0;
    double change = 0;
    if (xcr_cholesky(k, R, C, &bad, NULL) != XCR_OK) {
        if (!o->repair) {
            char names[512];
            size_t off = 0;
            for (size_t i = 0; i < k && off + 1 < sizeof names; i++) {
                int w = snprintf(names + off, sizeof names - off, "%s%s",
                                 i ? ", " : "", b->assets[idx[i]].symbol);
                if (w > 0)
                    off += (size_t)w;
            }
            st = xcr__fail(err, XCR_ENOTPD,
                           "%s: the correlation matrix of %s is not positive "
                           "definite (its leading minor of order %zu, ending "
                           "at %s, is not positive); repair it to the "
                           "nearest correlation matrix (CLI: --repair)",
                           src, names, bad + 1, b->assets[idx[bad]].symbol);
            goto done;
        }
        double *Rn = xcr__malloc(al, k * k * sizeof *Rn);
        if (!Rn) {
            st = NOMEM(err);
            goto done;
        }
        st = xcr_nearest_correlation(k, R, 1e-8, Rn, err);
        if (st == XCR_OK)
            st = xcr_cholesky(k, Rn, C, NULL, err);
        if (st == XCR_OK) {
            for (size_t i = 0; i < k * k; i++)
                if (fabs(Rn[i] - R[i]) > change)
                    change = fabs(Rn[i] - R[i]);
            memcpy(R, Rn, k * k * sizeof *R);
            repaired = 1;
        }
        xcr__free(al, Rn);
        if (st != XCR_OK)
            goto done;
    }

    size_t first;
    if ((st = xcr__scen_reserve(s, o->n, &first, err)) != XCR_OK)
        goto done;
    const double df = o->df;
    const double tscale = o->dist == XCR_MC_T && !o->normal_marginals
                              ? sqrt((df - 2) / df)
                              : 1.0;
    for (size_t j = 0; j < o->n; j++) {
        double *mv = s->moves + (first + j) * na;
        uint8_t *og = s->origin + (first + j) * na;
        for (size_t i = 0; i < k; i++)
            z[i] = xcr__normal(o->seed, j, idx[i], XCR__RNG_ASSET);
        double sc = 1;
        if (o->dist == XCR_MC_T)
            sc = 1.0 / sqrt(xcr__chi2(o->seed, j, df) / df);
        for (size_t i = 0; i < k; i++) {
            double e = 0;
            for (size_t q = 0; q <= i; q++)
                e += C[i * k + q] * z[q];
            double r;
            if (o->dist == XCR_MC_NORMAL) {
                r = sig[i] * e;
            } else if (!o->normal_marginals) {
                r = sig[i] * tscale * e * sc;
            } else {
                double u = xcr_t_cdf(e * sc, df);
                if (u < 1e-300)
                    u = 1e-300;
                if (u > 1 - 0x1p-53)
                    u = 1 - 0x1p-53;
                r = sig[i] * xcr_norm_quantile(u);
            }
            double m = expm1(r);
            mv[idx[i]] = m > -1 ? m : XCR__TO_ZERO;
            og[idx[i]] = XCR_ORIGIN_GENERATED;
        }
    }
    if ((st = name_generated(s, first, o->n, "mc", XCR__SK_MC, err)) !=
        XCR_OK)
        goto done;

    gen_reset(s);
    s->gen.used = 1;
    s->gen.dist = o->dist;
    s->gen.df = o->dist == XCR_MC_T ? df : 0;
    s->gen.normal_marginals = o->normal_marginals;
    s->gen.horizon_days = h;
    s->gen.seed = o->seed;
    s->gen.k = k;
    s->gen.assets = idx;
    s->gen.vol = vol;
    s->gen.corr = R;
    s->gen.corr_source = src;
    s->gen.repaired = repaired;
    s->gen.repair_change = change;
    s->gen.pairs_given = cnt[XCR__RHO_GIVEN];
    s->gen.pairs_default = cnt[XCR__RHO_DEFAULT];
    s->gen.pairs_assumed = cnt[XCR__RHO_ASSUMED];
    idx = NULL;
    vol = NULL;
    R = NULL;
    src = NULL;
done:
    xcr__free(al, idx);
    xcr__free(al, sig);
    xcr__free(al, vol);
    xcr__free(al, R);
    xcr__free(al, C);
    xcr__free(al, z);
    xcr__free(al, src);
    xcr_corr_free(bookc);
    return st;
}

/* MARK: filtered historical simulation ------------------------------------------------ */

xcr_status xcr_scenarios_add_fhs(xcr_scenarios *s, const xcr_history *hist,
                                 const xcr_fhs_opts *o, xcr_error *err)
{
    if (!s || !hist || !o)
        return xcr__fail(err, XCR_EINVAL, "scenario set, history and options "
                                          "are required");
    const xcr_book *b = s->book;
    const xcr_allocator *al = b->alloc;
    unsigned hd = o->horizon_days ? o->horizon_days : 1;
    double lambda = o->lambda > 0 ? o->lambda : 0.94;
    if (o->n == 0)
        return xcr__fail(err, XCR_EINVAL, "historical simulation needs at "
                                          "least one scenario");
    if (!(lambda < 1) || !isfinite(o->lambda) || o->lambda < 0)
        return xcr__fail(err, XCR_EINVAL,
                         "the EWMA lambda must be in (0, 1) (got %g)",
                         o->lambda);
    if (hd > 3650)
        return xcr__fail(err, XCR_EINVAL, "the horizon is at most 3650 days");
    size_t na = s->na;
    size_t K = xcr_history_assets(hist), T = xcr_history_days(hist);
    /* map each non-stable book asset to a history column (directly, through
     * the asset it wraps, or by beta to BTC) */
    long *col = xcr__malloc(al, (na ? na : 1) * sizeof *col);
    double *beta = xcr__malloc(al, (na ? na : 1) * sizeof *beta);
    size_t *used = xcr__malloc(al, (K ? K : 1) * sizeof *used);
    long *slot = xcr__malloc(al, (K ? K : 1) * sizeof *slot);
    double *z = NULL, *s2 = NULL, *cur = NULL, *acc = NULL;
    size_t *rows = NULL;
    char note[1024] = "";
    size_t note_len = 0;
    xcr_status st = XCR_OK;
    if (!col || !beta || !used || !slot) {
        st = NOMEM(err);
        goto done;
    }
    for (size_t c = 0; c < K; c++)
        slot[c] = -1;
    long btc_col = xcr__history_find(hist, "BTC");
    long bi = xcr__find_asset_ci(b, "BTC");
    double vol_btc = bi >= 0 ? b->assets[bi].vol : 0;
    size_t ku = 0;
    for (size_t a = 0; a < na; a++) {
        col[a] = -1;
        beta[a] = 1;
        if (b->assets[a].stable)
            continue;
        const char *sym = b->assets[a].symbol;
        long c = xcr__history_find(hist, sym);
        for (int d = 0; c < 0 && d < 6; d++) {
            sym = xcr_asset_base(sym);
            if (!sym)
                break;
            c = xcr__history_find(hist, sym);
        }
        const char *why = NULL;
        if (c < 0 && btc_col >= 0) {
            c = btc_col;
            double v = b->assets[a].vol;
            beta[a] = vol_btc > 0 && v > 0 ? v / vol_btc : 1.0;
            why = "beta";
        }
        if (c < 0) {
            int w = snprintf(note + note_len, sizeof note - note_len,
                             "%s%s: no history, unchanged", note_len ? "; " : "",
                             b->assets[a].symbol);
            if (w > 0 && note_len + (size_t)w < sizeof note)
                note_len += (size_t)w;
            continue;
        }
        if (why) {
            int w = snprintf(note + note_len, sizeof note - note_len,
                             "%s%s: no history, moves by beta %.3g x BTC's "
                             "log return (book vols)",
                             note_len ? "; " : "", b->assets[a].symbol,
                             beta[a]);
            if (w > 0 && note_len + (size_t)w < sizeof note)
                note_len += (size_t)w;
        }
        col[a] = c;
        if (slot[c] < 0) {
            slot[c] = (long)ku;
            used[ku++] = (size_t)c;
        }
    }
    if (ku == 0) {
        st = xcr__fail(err, XCR_EINVAL,
                       "historical simulation: the history has no prices for "
                       "the book's non-stable assets");
        goto done;
    }
    /* days on which every used asset has a return */
    size_t t0 = o->window && o->window < T ? T - o->window : 0;
    rows = xcr__malloc(al, (T ? T : 1) * sizeof *rows);
    if (!rows) {
        st = NOMEM(err);
        goto done;
    }
    size_t nr = 0;
    for (size_t t = t0 + 1; t < T; t++) {
        bool ok = true;
        for (size_t q = 0; q < ku && ok; q++) {
            double p0 = xcr_history_close(hist, t - 1, used[q]);
            double p1 = xcr_history_close(hist, t, used[q]);
            ok = !isnan(p0) && !isnan(p1);
        }
        if (ok)
            rows[nr++] = t;
    }
    if (nr < 30) {
        st = xcr__fail(err, XCR_EINVAL,
                       "historical simulation: only %zu days on which every "
                       "simulated asset has a price (at least 30 needed)",
                       nr);
        goto done;
    }
    z = xcr__malloc(al, nr * ku * sizeof *z);
    s2 = xcr__malloc(al, ku * sizeof *s2);
    cur = xcr__malloc(al, ku * sizeof *cur);
    acc = xcr__malloc(al, ku * sizeof *acc);
    if (!z || !s2 || !cur || !acc) {
        st = NOMEM(err);
        goto done;
    }
    /* EWMA filter, seeded with the mean square of the first 30 returns */
    for (size_t q = 0; q < ku; q++) {
        double v0 = 0;
        for (size_t i = 0; i < 30; i++) {
            size_t t = rows[i];
            double r = log(xcr_history_close(hist, t, used[q]) /
                           xcr_history_close(hist, t - 1, used[q]));
            v0 += r * r;
        }
        double var = v0 / 30;
        for (size_t i = 0; i < nr; i++) {
            size_t t = rows[i];
            double r = log(xcr_history_close(hist, t, used[q]) /
                           xcr_history_close(hist, t - 1, used[q]));
            z[i * ku + q] = var > 0 ? r / sqrt(var) : 0;
            var = lambda * var + (1 - lambda) * r * r;
        }
        s2[q] = var; /* today's forecast */
    }
    size_t first;
    if ((st = xcr__scen_reserve(s, o->n, &first, err)) != XCR_OK)
        goto done;
    for (size_t j = 0; j < o->n; j++) {
        for (size_t q = 0; q < ku; q++) {
            cur[q] = s2[q];
            acc[q] = 0;
        }
        for (unsigned d = 0; d < hd; d++) {
            double u = xcr__uniform(o->seed, j, d, XCR__RNG_FHS_DAY);
            size_t row = (size_t)((1.0 - u) * (double)nr);
            if (row >= nr)
                row = nr - 1;
            for (size_t q = 0; q < ku; q++) {
                double r = sqrt(cur[q]) * z[row * ku + q];
                acc[q] += r;
                cur[q] = lambda * cur[q] + (1 - lambda) * r * r;
            }
        }
        double *mv = s->moves + (first + j) * na;
        uint8_t *og = s->origin + (first + j) * na;
        for (size_t a = 0; a < na; a++) {
            if (col[a] < 0)
                continue;
            double m = expm1(beta[a] * acc[slot[col[a]]]);
            mv[a] = m > -1 ? m : XCR__TO_ZERO;
            og[a] = XCR_ORIGIN_GENERATED;
        }
    }
    if ((st = name_generated(s, first, o->n, "fhs", XCR__SK_FHS, err)) !=
        XCR_OK)
        goto done;
    gen_reset(s);
    s->gen.used = 1;
    s->gen.fhs = 1;
    s->gen.horizon_days = hd;
    s->gen.seed = o->seed;
    s->gen.lambda = lambda;
    s->gen.history_days = nr;
    s->gen.k = 0;
    s->gen.assets = xcr__malloc(al, ku * sizeof *s->gen.assets);
    s->gen.vol = xcr__malloc(al, ku * sizeof *s->gen.vol);
    if (!s->gen.assets || !s->gen.vol) {
        st = NOMEM(err);
        goto done;
    }
    /* report the simulated columns that are book assets, with today's
     * filtered vol (annualised) */
    for (size_t a = 0; a < na; a++) {
        if (col[a] < 0 || beta[a] != 1.0)
            continue;
        if (xcr__history_find(hist, b->assets[a].symbol) != col[a])
            continue;
        s->gen.assets[s->gen.k] = (uint32_t)a;
        s->gen.vol[s->gen.k] = sqrt(s2[slot[col[a]]] * 365.0);
        s->gen.k++;
    }
    s->gen.corr_source = fmt_alloc(al, "%s", "historical (resampled days)");
    if (note_len)
        s->gen.note = fmt_alloc(al, "%s", note);
done:
    xcr__free(al, col);
    xcr__free(al, beta);
    xcr__free(al, used);
    xcr__free(al, slot);
    xcr__free(al, rows);
    xcr__free(al, z);
    xcr__free(al, s2);
    xcr__free(al, cur);
    xcr__free(al, acc);
    return st;
}
