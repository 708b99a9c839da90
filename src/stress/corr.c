/* Correlation matrices: construction and validation, files (CSV, JSON), the
 * book's settings.correlation, Cholesky through LAPACKE and the nearest
 * correlation matrix.
 *
 * Cholesky: R = C·Cᵀ with C lower triangular (LAPACK dpotrf); dpotrf
 * reports the order of the first leading minor that is not positive, which
 * the error message names (test-vectors.md MC-CHOL-1).
 *
 * Nearest correlation matrix: N. J. Higham, "Computing the nearest
 * correlation matrix — a problem from finance", IMA J. Numer. Anal. 22
 * (2002) 329–343: alternating projections onto the positive semidefinite
 * cone (eigenvalues clipped at 0, LAPACK dsyev) and onto the unit-diagonal
 * matrices, with Dykstra's correction; then the eigenvalues are floored at
 * a small positive number and the diagonal rescaled to 1 so the result can
 * be factored.  LAPACK is used single-threaded (reference LAPACK, or any
 * LAPACK on a matrix of this size), so results do not depend on threads. */
#include "stress.h"
#include "../io/csv.h"

#include <jansson.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")

void xcr_corr_free(xcr_corr *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->sym[i]);
    free(c->sym);
    free(c->m);
    free(c->where);
    free(c);
}

size_t xcr_corr_size(const xcr_corr *c)
{
    return c ? c->n : 0;
}

const char *xcr_corr_symbol(const xcr_corr *c, size_t i)
{
    return c && i < c->n ? c->sym[i] : NULL;
}

double xcr_corr_get(const xcr_corr *c, size_t i, size_t j)
{
    return c && i < c->n && j < c->n ? c->m[i * c->n + j] : NAN;
}

static char *sdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

xcr_status xcr_corr_new(size_t n, const char *const *symbols,
                        const double *matrix, const char *where,
                        xcr_corr **out, xcr_error *err)
{
    const char *w = where ? where : "correlation matrix";
    if (!out || (n && (!symbols || !matrix)))
        return xcr__fail(err, XCR_EINVAL, "%s: symbols and matrix are "
                                          "required",
                         w);
    if (n == 0)
        return xcr__fail(err, XCR_EINVAL, "%s: no assets", w);
    if (n > 4096)
        return xcr__fail(err, XCR_EINVAL, "%s: %zu assets (at most 4096)", w,
                         n);
    for (size_t i = 0; i < n; i++) {
        if (!symbols[i] || !xcr__valid_id(symbols[i]))
            return xcr__fail(err, XCR_EINVAL,
                             "%s: assets[%zu]: \"%s\" is not a valid symbol",
                             w, i, symbols[i] ? symbols[i] : "");
        for (size_t j = 0; j < i; j++)
            if (xcr__strcasecmp(symbols[i], symbols[j]) == 0)
                return xcr__fail(err, XCR_EDUP,
                                 "%s: assets[%zu]: %s is listed twice", w, i,
                                 symbols[i]);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = matrix[i * n + j];
            if (!isfinite(v) || v < -1 - 1e-12 || v > 1 + 1e-12)
                return xcr__fail(err, XCR_EINVAL,
                                 "%s: matrix[%zu][%zu] (%s, %s): a "
                                 "correlation must be a number in [-1, 1] "
                                 "(got %g)",
                                 w, i, j, symbols[i], symbols[j], v);
            if (i == j && fabs(v - 1) > 1e-9)
                return xcr__fail(err, XCR_EINVAL,
                                 "%s: matrix[%zu][%zu] (%s): the diagonal "
                                 "must be 1 (got %g)",
                                 w, i, j, symbols[i], v);
            if (j < i && fabs(v - matrix[j * n + i]) > 1e-9)
                return xcr__fail(err, XCR_EINVAL,
                                 "%s: matrix[%zu][%zu] (%s, %s) = %g but "
                                 "matrix[%zu][%zu] = %g: the matrix must be "
                                 "symmetric",
                                 w, i, j, symbols[i], symbols[j], v, j, i,
                                 matrix[j * n + i]);
        }
    xcr_corr *c = calloc(1, sizeof *c);
    if (!c)
        return NOMEM(err);
    c->n = n;
    c->dflt = NAN;
    c->sym = calloc(n, sizeof *c->sym);
    c->m = malloc(n * n * sizeof *c->m);
    c->where = sdup(w);
    if (!c->sym || !c->m || !c->where) {
        xcr_corr_free(c);
        return NOMEM(err);
    }
    for (size_t i = 0; i < n; i++) {
        c->sym[i] = sdup(symbols[i]);
        if (!c->sym[i]) {
            xcr_corr_free(c);
            return NOMEM(err);
        }
        for (size_t j = 0; j < n; j++) {
            /* exactly symmetric, exact unit diagonal */
            double v = i == j ? 1.0 : matrix[(i < j ? i : j) * n +
                                             (i < j ? j : i)];
            c->m[i * n + j] = v > 1 ? 1 : v < -1 ? -1 : v;
        }
    }
    *out = c;
    return XCR_OK;
}

xcr_status xcr_corr_default(xcr_corr **out)
{
    return xcr_corr_new(XCR__DEFAULT_CORR_N, xcr__default_corr_sym,
                        xcr__default_corr,
                        "shipped default (scenarios-and-data.md §2)", out,
                        NULL);
}

static long corr_find(const xcr_corr *c, const char *sym)
{
    for (size_t i = 0; i < c->n; i++)
        if (xcr__strcasecmp(c->sym[i], sym) == 0)
            return (long)i;
    return -1;
}

static bool lookup(const xcr_corr *c, const char *s1, const char *s2,
                   double *v)
{
    if (!c)
        return false;
    long i = corr_find(c, s1), j = corr_find(c, s2);
    if (i < 0 || j < 0)
        return false;
    *v = c->m[(size_t)i * c->n + (size_t)j];
    return true;
}

static double rho_rec(const xcr_corr *c, const xcr_corr *bookc,
                      const char *s1, const char *s2, int depth, int *how)
{
    double v;
    if (xcr__strcasecmp(s1, s2) == 0) {
        *how = XCR__RHO_GIVEN;
        return 1;
    }
    if (lookup(c, s1, s2, &v) || lookup(bookc, s1, s2, &v)) {
        *how = XCR__RHO_GIVEN;
        return v;
    }
    for (size_t i = 0; i < XCR__DEFAULT_CORR_N; i++)
        if (xcr__strcasecmp(xcr__default_corr_sym[i], s1) == 0)
            for (size_t j = 0; j < XCR__DEFAULT_CORR_N; j++)
                if (xcr__strcasecmp(xcr__default_corr_sym[j], s2) == 0) {
                    *how = XCR__RHO_DEFAULT;
                    return xcr__default_corr[i * XCR__DEFAULT_CORR_N + j];
                }
    if (depth < 6) {
        const char *b1 = xcr_asset_base(s1), *b2 = xcr_asset_base(s2);
        if ((b1 && xcr__strcasecmp(b1, s2) == 0) ||
            (b2 && xcr__strcasecmp(b2, s1) == 0)) {
            *how = XCR__RHO_ASSUMED;
            return XCR__ALIAS_RHO;
        }
        if (b1)
            return rho_rec(c, bookc, b1, s2, depth + 1, how);
        if (b2)
            return rho_rec(c, bookc, s1, b2, depth + 1, how);
    }
    if (c && !isnan(c->dflt)) {
        *how = XCR__RHO_GIVEN;
        return c->dflt;
    }
    if (bookc && !isnan(bookc->dflt)) {
        *how = XCR__RHO_GIVEN;
        return bookc->dflt;
    }
    *how = XCR__RHO_ASSUMED;
    return XCR__ASSUMED_RHO;
}

double xcr__rho_sym(const xcr_corr *c, const xcr_corr *bookc, const char *s1,
                    const char *s2, int *how)
{
    int h = XCR__RHO_GIVEN;
    double v = rho_rec(c, bookc, s1, s2, 0, &h);
    if (how)
        *how = h;
    return v;
}

/* MARK: JSON ---------------------------------------------------------------------- */

xcr_status xcr__corr_from_json_text(const char *text, const char *where,
                                    xcr_corr **out, xcr_error *err)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__fail(err, XCR_EPARSE, "%s: line %d, column %d: %s", where,
                         je.line, je.column, je.text);
    xcr_status st = XCR_OK;
    const char **syms = NULL;
    double *m = NULL;
    size_t n = 0;
    if (!json_is_object(root)) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s: must be an object {\"assets\": [...], "
                       "\"matrix\": [[...]]}",
                       where);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "assets") != 0 && strcmp(key, "matrix") != 0 &&
            strcmp(key, "default") != 0 && strcmp(key, "source") != 0) {
            st = xcr__fail(err, XCR_EINVAL, "%s.%s: unknown field (expected "
                                            "assets, matrix, default)",
                           where, key);
            goto done;
        }
    }
    json_t *assets = json_object_get(root, "assets");
    json_t *matrix = json_object_get(root, "matrix");
    if (!json_is_array(assets) || json_array_size(assets) == 0) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s.assets: must be a non-empty array of symbols",
                       where);
        goto done;
    }
    n = json_array_size(assets);
    if (!json_is_array(matrix) || json_array_size(matrix) != n) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s.matrix: must be an array of %zu rows (one per "
                       "asset)",
                       where, n);
        goto done;
    }
    syms = calloc(n, sizeof *syms);
    m = malloc(n * n * sizeof *m);
    if (!syms || !m) {
        st = NOMEM(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(assets, i);
        if (!json_is_string(s)) {
            st = xcr__fail(err, XCR_EINVAL, "%s.assets[%zu]: must be a string",
                           where, i);
            goto done;
        }
        syms[i] = json_string_value(s);
        json_t *row = json_array_get(matrix, i);
        if (!json_is_array(row) || json_array_size(row) != n) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s.matrix[%zu]: must be an array of %zu numbers",
                           where, i, n);
            goto done;
        }
        for (size_t j = 0; j < n; j++) {
            json_t *x = json_array_get(row, j);
            if (!json_is_number(x)) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s.matrix[%zu][%zu]: must be a number", where,
                               i, j);
                goto done;
            }
            m[i * n + j] = json_number_value(x);
        }
    }
    double dflt = NAN;
    json_t *d = json_object_get(root, "default");
    if (d) {
        if (!json_is_number(d) || !(json_number_value(d) >= -1) ||
            !(json_number_value(d) <= 1)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s.default: must be a number in [-1, 1]", where);
            goto done;
        }
        dflt = json_number_value(d);
    }
    {
        /* locate the matrix errors as JSON paths */
        char w2[600];
        snprintf(w2, sizeof w2, "%s", where);
        xcr_corr *c = NULL;
        st = xcr_corr_new(n, syms, m, w2, &c, err);
        if (st == XCR_OK) {
            c->dflt = dflt;
            *out = c;
        }
    }
done:
    free(syms);
    free(m);
    json_decref(root);
    return st;
}

xcr_status xcr_corr_from_book(const xcr_book *b, const char *book_name,
                              xcr_corr **out, xcr_error *err)
{
    if (!b || !out)
        return xcr__fail(err, XCR_EINVAL, "book and output are required");
    const char *t = xcr__book_setting(b, "correlation");
    if (!t)
        return xcr__fail(err, XCR_ENOTFOUND,
                         "the book has no settings.correlation");
    char where[512];
    snprintf(where, sizeof where, "%s%s$.settings.correlation",
             book_name ? book_name : "", book_name ? ": " : "");
    return xcr__corr_from_json_text(t, where, out, err);
}

/* MARK: CSV ------------------------------------------------------------------------- */

static xcr_status corr_load_csv(const char *path, xcr_corr **out,
                                xcr_error *err)
{
    xcr__csv_reader r;
    xcr_status st = xcr__csv_open_file(&r, path, path, NULL, NULL, err);
    if (st != XCR_OK) {
        xcr__csv_close(&r);
        return st;
    }
    size_t n = r.ncols ? r.ncols - 1 : 0;
    double *m = NULL;
    const char **syms = NULL;
    if (n == 0) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s: line 1: expected a header \",SYM1,SYM2,...\"",
                       path);
        goto done;
    }
    m = malloc(n * n * sizeof *m);
    syms = calloc(n, sizeof *syms);
    if (!m || !syms) {
        st = NOMEM(err);
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        syms[j] = r.header[j + 1];
        if (!xcr__valid_id(syms[j])) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line 1, column %zu: \"%s\" is not a valid "
                           "asset symbol",
                           path, j + 2, syms[j]);
            goto done;
        }
    }
    size_t row = 0;
    for (;;) {
        bool got;
        if ((st = xcr__csv_next(&r, &got, err)) != XCR_OK)
            goto done;
        if (!got)
            break;
        if (row == n) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld: more rows than the %zu columns",
                           path, r.record_line, n);
            goto done;
        }
        char *label = xcr__csv_trim(r.fields[0]);
        if (xcr__strcasecmp(label, syms[row]) != 0) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column 1: row label \"%s\" does not "
                           "match column %zu \"%s\" (rows must follow the "
                           "header's order)",
                           path, r.record_line, label, row + 2, syms[row]);
            goto done;
        }
        for (size_t j = 0; j < n; j++) {
            double v;
            char *f = xcr__csv_trim(r.fields[j + 1]);
            if (!xcr__parse_double(f, &v)) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %zu (%s, %s): \"%s\" is "
                               "not a number",
                               path, r.record_line, j + 2, syms[row], syms[j],
                               f);
                goto done;
            }
            if (v < -1 - 1e-12 || v > 1 + 1e-12 ||
                (row == j && fabs(v - 1) > 1e-9)) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %zu (%s, %s): %s must be "
                               "%s",
                               path, r.record_line, j + 2, syms[row], syms[j],
                               f, row == j ? "1 on the diagonal"
                                           : "a correlation in [-1, 1]");
                goto done;
            }
            m[row * n + j] = v;
            if (j < row && fabs(v - m[j * n + row]) > 1e-9) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %zu: rho(%s, %s) = %g "
                               "but rho(%s, %s) = %g: the matrix must be "
                               "symmetric",
                               path, r.record_line, j + 2, syms[row], syms[j],
                               v, syms[j], syms[row], m[j * n + row]);
                goto done;
            }
        }
        row++;
    }
    if (row != n) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s: %zu rows for %zu columns (the matrix must be "
                       "square)",
                       path, row, n);
        goto done;
    }
    st = xcr_corr_new(n, syms, m, path, out, err);
done:
    free(m);
    free(syms);
    xcr__csv_close(&r);
    return st;
}

xcr_status xcr_corr_load(const char *path, xcr_corr **out, xcr_error *err)
{
    if (!path || !out)
        return xcr__fail(err, XCR_EINVAL, "path and output are required");
    char *text = NULL;
    xcr_status st = xcr__read_file(path, (size_t)256 << 20, &text, NULL, err);
    if (st != XCR_OK)
        return st;
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p == '{') {
        st = xcr__corr_from_json_text(text, path, out, err);
        free(text);
        return st;
    }
    free(text);
    return corr_load_csv(path, out, err);
}

/* MARK: linear algebra ---------------------------------------------------------------- */

xcr_status xcr_cholesky(size_t n, const double *a, double *l,
                        size_t *bad_index, xcr_error *err)
{
    if (!a || !l || n == 0 || n > 4096)
        return xcr__fail(err, XCR_EINVAL, "cholesky: bad arguments");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            l[i * n + j] = j <= i ? a[i * n + j] : 0.0;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, l,
                                     (lapack_int)n);
    if (info < 0)
        return xcr__fail(err, XCR_EINTERNAL, "dpotrf: argument %d invalid",
                         (int)-info);
    if (info > 0) {
        if (bad_index)
            *bad_index = (size_t)(info - 1);
        return xcr__fail(err, XCR_ENOTPD,
                         "matrix is not positive definite (the leading "
                         "minor of order %d is not positive)",
                         (int)info);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            l[i * n + j] = 0.0;
    return XCR_OK;
}

/* out = V·max(Λ, floor)·Vᵀ of the symmetric a.  Work: w (n), v (n×n). */
static bool psd_project(size_t n, const double *a, double floor, double *out,
                        double *w, double *v)
{
    memcpy(v, a, n * n * sizeof *v);
    lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U',
                                    (lapack_int)n, v, (lapack_int)n, w);
    if (info != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < n; k++) {
                double lam = w[k] > floor ? w[k] : floor;
                s += v[i * n + k] * lam * v[j * n + k];
            }
            out[i * n + j] = out[j * n + i] = s;
        }
    return true;
}

xcr_status xcr_nearest_correlation(size_t n, const double *a, double min_eig,
                                   double *out, xcr_error *err)
{
    if (!a || !out || n == 0 || n > 4096 || !(min_eig >= 0))
        return xcr__fail(err, XCR_EINVAL, "nearest correlation: bad "
                                          "arguments");
    size_t nn = n * n;
    double *y = malloc(nn * sizeof *y), *ds = calloc(nn, sizeof *ds);
    double *r = malloc(nn * sizeof *r), *x = malloc(nn * sizeof *x);
    double *v = malloc(nn * sizeof *v), *w = malloc(n * sizeof *w);
    double *l = malloc(nn * sizeof *l);
    xcr_status st = XCR_OK;
    if (!y || !ds || !r || !x || !v || !w || !l) {
        st = NOMEM(err);
        goto done;
    }
    memcpy(y, a, nn * sizeof *y);
    for (int it = 0; it < 1000; it++) {
        for (size_t i = 0; i < nn; i++)
            r[i] = y[i] - ds[i];
        if (!psd_project(n, r, 0.0, x, w, v)) {
            st = xcr__fail(err, XCR_EINTERNAL, "dsyev failed");
            goto done;
        }
        double diff = 0, norm = 0;
        for (size_t i = 0; i < nn; i++) {
            ds[i] = x[i] - r[i];
            double yi = x[i];
            if (i % (n + 1) == 0)
                yi = 1.0;
            diff += (yi - y[i]) * (yi - y[i]);
            norm += yi * yi;
            y[i] = yi;
        }
        if (sqrt(diff) <= 1e-13 * sqrt(norm))
            break;
    }
    /* Floor the spectrum and restore the unit diagonal, tightening the
     * floor until the matrix factors. */
    double fl = min_eig > 0 ? min_eig : 1e-10;
    for (int k = 0; k < 12; k++, fl *= 10) {
        if (!psd_project(n, y, fl, x, w, v)) {
            st = xcr__fail(err, XCR_EINTERNAL, "dsyev failed");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                out[i * n + j] =
                    i == j ? 1.0
                           : x[i * n + j] / sqrt(x[i * n + i] * x[j * n + j]);
        if (xcr_cholesky(n, out, l, NULL, NULL) == XCR_OK)
            goto done;
    }
    st = xcr__fail(err, XCR_EINTERNAL,
                   "could not repair the correlation matrix");
done:
    free(y);
    free(ds);
    free(r);
    free(x);
    free(v);
    free(w);
    free(l);
    return st;
}
