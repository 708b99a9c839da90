/* Risk estimators and the distribution functions the copulas need.
 *
 * Empirical VaR / ES follow scenarios-and-data.md §9: VaR at level α of n
 * losses is the order statistic L_(k), k = ⌈α·n⌉ (not R's interpolating
 * type 7), and ES is the Acerbi–Tasche tail mean
 *     ES = (1/(n(1−α)))·[Σ_{i>k} L_(i) + (k − nα)·L_(k)],
 * which is the mean of the n−k largest losses when nα is a whole number
 * (VAR-2: losses 1…100, α = 0.95 → VaR 95, ES 98).
 *
 * Parametric ES of the Student t (§7.2):
 *     ES_α = f_ν(t_α)·(ν + t_α²) / ((ν − 1)(1 − α)).
 * The t CDF uses the regularised incomplete beta function,
 *     T_ν(x) = 1 − ½·I_{ν/(ν+x²)}(ν/2, ½) for x ≥ 0,
 * evaluated by its continued fraction (DLMF 8.17.22) with the modified
 * Lentz algorithm; log-gamma by Stirling's series after shifting the
 * argument above 10 (DLMF 5.11.1), which keeps every function here free of
 * global state (lgamma writes `signgam`) and so thread-safe.  The normal
 * quantile starts from Abramowitz & Stegun 26.2.23 and is polished by
 * Halley steps on erfc, to full double precision. */
#include "stress.h"

#include <stdlib.h>
#include <string.h>

static const double LEVELS[XCR_STRESS_LEVELS] = {0.95, 0.99, 0.999};

double xcr_stress_level(int k)
{
    return k >= 0 && k < XCR_STRESS_LEVELS ? LEVELS[k] : NAN;
}

/* MARK: order statistics ------------------------------------------------------------ */

/* After the call x[k] holds the (k+1)-th smallest value, everything before
 * it is <= and everything after it is >= (Hoare's FIND, with a median-of-
 * three pivot). */
void xcr__select_k(double *x, size_t n, size_t k)
{
    if (n < 2)
        return;
    ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (l < r) {
        ptrdiff_t mid = l + (r - l) / 2;
        double a = x[l], b = x[mid], c = x[r];
        double piv = a < b ? (b < c ? b : (a < c ? c : a))
                           : (a < c ? a : (b < c ? c : b));
        ptrdiff_t i = l, j = r;
        do {
            while (x[i] < piv)
                i++;
            while (piv < x[j])
                j--;
            if (i <= j) {
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            l = i;
        if (kk < i)
            r = j;
    }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* k = ⌈α·n⌉ in [1, n]; the tiny tolerance keeps α·n that is a whole number
 * in exact arithmetic (0.999·10000) from rounding up. */
size_t xcr__order_index(double alpha, size_t n)
{
    double an = alpha * (double)n;
    double k = ceil(an - 1e-9 * (an > 1 ? an : 1));
    if (k < 1)
        k = 1;
    if (k > (double)n)
        k = (double)n;
    return (size_t)k;
}

/* ES from the sorted tail x[k-1 .. n-1] (ascending). */
double xcr__es_from_sorted(const double *x, size_t n, double alpha,
                           size_t k)
{
    double na = alpha * (double)n;
    double s = 0;
    for (size_t i = k; i < n; i++)
        s += x[i];
    double wk = (double)k - na;
    if (wk < 0)
        wk = 0;
    s += wk * x[k - 1];
    double denom = (double)n - na;
    if (!(denom > 0))
        return x[n - 1];
    return s / denom;
}

xcr_status xcr_var_es(const double *losses, size_t n, double alpha,
                      double *work, double *var, double *es)
{
    if (!losses || !work || !var || !es || n == 0 || !(alpha > 0) ||
        !(alpha < 1))
        return XCR_EINVAL;
    if (work != losses)
        memcpy(work, losses, n * sizeof *work);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(work[i]))
            return XCR_EINVAL;
    size_t k = xcr__order_index(alpha, n);
    xcr__select_k(work, n, k - 1);
    qsort(work + k - 1, n - k + 1, sizeof *work, cmp_dbl);
    *var = work[k - 1];
    *es = xcr__es_from_sorted(work, n, alpha, k);
    return XCR_OK;
}

void xcr__var_es3(double *x, size_t n, double *var, double *es)
{
    if (n == 0) {
        for (int l = 0; l < XCR_STRESS_LEVELS; l++)
            var[l] = es[l] = NAN;
        return;
    }
    size_t k0 = xcr__order_index(LEVELS[0], n);
    xcr__select_k(x, n, k0 - 1);
    qsort(x + k0 - 1, n - k0 + 1, sizeof *x, cmp_dbl);
    for (int l = 0; l < XCR_STRESS_LEVELS; l++) {
        size_t k = xcr__order_index(LEVELS[l], n);
        var[l] = x[k - 1];
        es[l] = xcr__es_from_sorted(x, n, LEVELS[l], k);
    }
}

double xcr__quantile(double *x, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t k = p <= 0 ? 1 : xcr__order_index(p, n);
    xcr__select_k(x, n, k - 1);
    return x[k - 1];
}

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v)
        return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i);
}

xcr_status xcr__es_weights(const double *loss, size_t n, double alpha,
                           double *w)
{
    ranked *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        return XCR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        r[i].v = loss[i];
        r[i].i = i;
        w[i] = 0;
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    if (n) {
        size_t k = xcr__order_index(alpha, n);
        double na = alpha * (double)n, denom = (double)n - na;
        if (!(denom > 0)) {
            w[r[n - 1].i] = 1;
        } else {
            for (size_t j = k; j < n; j++)
                w[r[j].i] = 1.0 / denom;
            double wk = (double)k - na;
            w[r[k - 1].i] = (wk > 0 ? wk : 0) / denom;
        }
    }
    free(r);
    return XCR_OK;
}

/* MARK: special functions ------------------------------------------------------------ */

/* ln Γ(z), z > 0: shift to z >= 10, then Stirling's series. */
static double ln_gamma(double z)
{
    double shift = 0;
    while (z < 10) {
        shift += log(z);
        z += 1;
    }
    double z2 = 1.0 / (z * z);
    double series =
        (1.0 / 12 +
         z2 * (-1.0 / 360 + z2 * (1.0 / 1260 + z2 * (-1.0 / 1680 +
                                                      z2 * (1.0 / 1188))))) /
        z;
    return (z - 0.5) * log(z) - z + 0.5 * log(2 * XCR__PI) + series -
           shift;
}

/* Continued fraction of the incomplete beta (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16)
            break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b). */
static double inc_beta(double x, double a, double b)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * log(x) +
                 b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2))
        return bt * beta_cf(a, b, x) / a;
    return 1 - bt * beta_cf(b, a, 1 - x) / b;
}

double xcr_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

double xcr_norm_quantile(double p)
{
    if (!(p > 0))
        return p == 0 ? -INFINITY : NAN;
    if (!(p < 1))
        return p == 1 ? INFINITY : NAN;
    double q = p < 0.5 ? p : 1 - p;
    /* Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) for the upper tail. */
    double t = sqrt(-2 * log(q));
    double x = t - (2.515517 + t * (0.802853 + t * 0.010328)) /
                       (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
    x = -x; /* the lower-tail quantile of q */
    /* Halley on Φ(x) − q (cubic convergence; three steps are plenty). */
    for (int it = 0; it < 4; it++) {
        double e = 0.5 * erfc(-x / sqrt(2.0)) - q;
        double u = e * sqrt(2 * XCR__PI) * exp(x * x / 2);
        double dx = u / (1 + x * u / 2);
        x -= dx;
        if (fabs(dx) < 1e-16 * (1 + fabs(x)))
            break;
    }
    return p < 0.5 ? x : -x;
}

double xcr_t_cdf(double x, double nu)
{
    if (!(nu > 0) || isnan(x))
        return NAN;
    if (isinf(x))
        return x > 0 ? 1 : 0;
    double xt = nu / (nu + x * x);
    double ib = inc_beta(xt, nu / 2, 0.5);
    return x >= 0 ? 1 - 0.5 * ib : 0.5 * ib;
}

/* log of the t density. */
double xcr__t_logpdf(double x, double nu)
{
    return ln_gamma((nu + 1) / 2) - ln_gamma(nu / 2) -
           0.5 * log(nu * XCR__PI) -
           (nu + 1) / 2 * log1p(x * x / nu);
}

double xcr_t_quantile(double p, double nu)
{
    if (!(nu > 0) || !(p >= 0) || !(p <= 1))
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    if (p == 0.5)
        return 0;
    double q = p < 0.5 ? p : 1 - p; /* find x <= 0 with T(x) = q */
    double lo = -1, hi = 0;
    while (xcr_t_cdf(lo, nu) > q && lo > -1e300)
        lo *= 2;
    /* Newton from the normal quantile, kept inside the bracket. */
    double x = xcr_norm_quantile(q);
    if (!(x > lo && x < hi))
        x = 0.5 * (lo + hi);
    for (int it = 0; it < 200; it++) {
        double f = xcr_t_cdf(x, nu) - q;
        if (f > 0)
            hi = x;
        else
            lo = x;
        double step = f / exp(xcr__t_logpdf(x, nu));
        double nx = x - step;
        if (!(nx > lo && nx < hi))
            nx = 0.5 * (lo + hi);
        if (fabs(nx - x) <= 1e-15 * fabs(x) || hi - lo <= 1e-15 * fabs(lo)) {
            x = nx;
            break;
        }
        x = nx;
    }
    return p < 0.5 ? x : -x;
}

void xcr_var_es_normal(double alpha, double *var, double *es)
{
    double z = xcr_norm_quantile(alpha);
    *var = z;
    *es = exp(-z * z / 2) / sqrt(2 * XCR__PI) / (1 - alpha);
}

void xcr_var_es_t(double alpha, double nu, int unit_variance, double *var,
                  double *es)
{
    double t = xcr_t_quantile(alpha, nu);
    double e = exp(xcr__t_logpdf(t, nu)) * (nu + t * t) / ((nu - 1) * (1 - alpha));
    if (!(nu > 1))
        e = INFINITY;
    double sc = 1;
    if (unit_variance)
        sc = nu > 2 ? sqrt((nu - 2) / nu) : NAN;
    *var = t * sc;
    *es = e * sc;
}
