/* Daily price histories: a wide CSV of closes, or a directory of per-asset
 * candle files (the layout of shared/data/prices-daily: timestamp, open,
 * high, low, close, volume).  Days are aligned by UTC date; a day an asset
 * has no candle for is missing (NAN), never filled. */
#include "stress.h"
#include "../io/csv.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NOMEM(err) xcr__fail((err), XCR_ENOMEM, "out of memory")
#define MIN_COMMON 30

struct xcr_history {
    char *path;
    size_t T, K;
    long *day;
    char **sym;
    double *close; /* T × K */
};

void xcr_history_free(xcr_history *h)
{
    if (!h)
        return;
    for (size_t k = 0; k < h->K; k++)
        free(h->sym[k]);
    free(h->sym);
    free(h->day);
    free(h->close);
    free(h->path);
    free(h);
}

size_t xcr_history_days(const xcr_history *h)
{
    return h ? h->T : 0;
}
size_t xcr_history_assets(const xcr_history *h)
{
    return h ? h->K : 0;
}
const char *xcr_history_symbol(const xcr_history *h, size_t k)
{
    return h && k < h->K ? h->sym[k] : NULL;
}
long xcr_history_day(const xcr_history *h, size_t t)
{
    return h && t < h->T ? h->day[t] : 0;
}
double xcr_history_close(const xcr_history *h, size_t t, size_t k)
{
    return h && t < h->T && k < h->K ? h->close[t * h->K + k] : NAN;
}

/* One asset's series while loading. */
typedef struct series {
    char *sym;
    long *day;
    double *px;
    size_t n, cap;
} series;

static void series_free(series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].sym);
        free(s[i].day);
        free(s[i].px);
    }
    free(s);
}

static bool series_push(series *s, long day, double px)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        long *d = realloc(s->day, nc * sizeof *d);
        if (!d)
            return false;
        s->day = d;
        double *p = realloc(s->px, nc * sizeof *p);
        if (!p)
            return false;
        s->px = p;
        s->cap = nc;
    }
    s->day[s->n] = day;
    s->px[s->n] = px;
    s->n++;
    return true;
}

/* A date cell: ISO 8601 (date or date-time) or a Unix time in seconds or
 * milliseconds (Binance open_time).  Returns days since the epoch. */
static bool parse_day(const char *f, long *day)
{
    if (!*f)
        return false;
    bool digits = true;
    for (const char *p = f; *p; p++)
        if (*p < '0' || *p > '9')
            digits = false;
    double sec;
    if (digits && strlen(f) >= 9) {
        double v = strtod(f, NULL);
        sec = v >= 1e11 ? v / 1000.0 : v;
    } else if (!xcr__parse_iso8601(f, &sec)) {
        return false;
    }
    if (!(fabs(sec) < 1e13)) /* beyond ±300,000 years */
        return false;
    *day = (long)floor(sec / 86400.0);
    return true;
}

static long find_col(const xcr__csv_reader *r, const char *const *names)
{
    for (size_t i = 0; i < r->ncols; i++)
        for (const char *const *n = names; *n; n++)
            if (xcr__strcasecmp(r->header[i], *n) == 0)
                return (long)i;
    return -1;
}

static bool wanted(const char *sym, const char *const *symbols, size_t ns)
{
    if (!symbols)
        return true;
    for (size_t i = 0; i < ns; i++)
        if (symbols[i] && xcr__strcasecmp(symbols[i], sym) == 0)
            return true;
    return false;
}

static const char *const DATE_COLS[] = {"timestamp", "date", "time",
                                        "open_time", "day", NULL};

/* Read one candle file into `s` (its symbol already set). */
static xcr_status load_candles(const char *path, series *s, xcr_error *err)
{
    xcr__csv_reader r;
    xcr_status st = xcr__csv_open_file(&r, path, path, NULL, NULL, err);
    if (st != XCR_OK) {
        xcr__csv_close(&r);
        return st;
    }
    static const char *const CLOSE_COLS[] = {"close", NULL};
    long dc = find_col(&r, DATE_COLS), cc = find_col(&r, CLOSE_COLS);
    if (dc < 0 || cc < 0) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s: line 1: needs a date column (timestamp, date, "
                       "time or open_time) and a close column",
                       path);
        goto done;
    }
    for (;;) {
        bool got;
        if ((st = xcr__csv_next(&r, &got, err)) != XCR_OK)
            goto done;
        if (!got)
            break;
        char *df = xcr__csv_trim(r.fields[dc]);
        char *cf = xcr__csv_trim(r.fields[cc]);
        long day;
        double px;
        if (!parse_day(df, &day)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column %ld (%s): \"%s\" is not a "
                           "date",
                           path, r.record_line, dc + 1, r.header[dc], df);
            goto done;
        }
        if (!xcr__parse_double(cf, &px) || !(px > 0)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column %ld (close): \"%s\" is not "
                           "a price > 0",
                           path, r.record_line, cc + 1, cf);
            goto done;
        }
        if (s->n && day <= s->day[s->n - 1]) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column %ld (%s): dates must "
                           "increase (\"%s\" is not after the previous row)",
                           path, r.record_line, dc + 1, r.header[dc], df);
            goto done;
        }
        if (!series_push(s, day, px)) {
            st = NOMEM(err);
            goto done;
        }
    }
done:
    xcr__csv_close(&r);
    return st;
}

/* A wide CSV: date, SYM1, SYM2, ... */
static xcr_status load_wide(const char *path, const char *const *symbols,
                            size_t nsym, series **out, size_t *nout,
                            xcr_error *err)
{
    xcr__csv_reader r;
    xcr_status st = xcr__csv_open_file(&r, path, path, NULL, NULL, err);
    series *ss = NULL;
    size_t *col = NULL, n = 0;
    if (st != XCR_OK)
        goto done;
    if (r.ncols < 2) {
        st = xcr__fail(err, XCR_EINVAL,
                       "%s: line 1: expected a date column and one column of "
                       "closes per asset",
                       path);
        goto done;
    }
    ss = calloc(r.ncols, sizeof *ss);
    col = calloc(r.ncols, sizeof *col);
    if (!ss || !col) {
        st = NOMEM(err);
        goto done;
    }
    for (size_t i = 1; i < r.ncols; i++) {
        if (!r.header[i][0] || !wanted(r.header[i], symbols, nsym))
            continue;
        if (!xcr__valid_id(r.header[i])) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line 1, column %zu: \"%s\" is not a valid "
                           "symbol",
                           path, i + 1, r.header[i]);
            goto done;
        }
        size_t len = strlen(r.header[i]) + 1;
        ss[n].sym = malloc(len);
        if (!ss[n].sym) {
            st = NOMEM(err);
            goto done;
        }
        memcpy(ss[n].sym, r.header[i], len);
        col[n++] = i;
    }
    long prev = 0;
    bool first = true;
    for (;;) {
        bool got;
        if ((st = xcr__csv_next(&r, &got, err)) != XCR_OK)
            goto done;
        if (!got)
            break;
        char *df = xcr__csv_trim(r.fields[0]);
        long day;
        if (!parse_day(df, &day)) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column 1 (%s): \"%s\" is not a date",
                           path, r.record_line, r.header[0], df);
            goto done;
        }
        if (!first && day <= prev) {
            st = xcr__fail(err, XCR_EINVAL,
                           "%s: line %ld, column 1: dates must increase",
                           path, r.record_line);
            goto done;
        }
        first = false;
        prev = day;
        for (size_t k = 0; k < n; k++) {
            char *f = xcr__csv_trim(r.fields[col[k]]);
            if (!*f)
                continue;
            double px;
            if (!xcr__parse_double(f, &px) || !(px > 0)) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: line %ld, column %zu (%s): \"%s\" is not "
                               "a price > 0",
                               path, r.record_line, col[k] + 1, ss[k].sym, f);
                goto done;
            }
            if (!series_push(&ss[k], day, px)) {
                st = NOMEM(err);
                goto done;
            }
        }
    }
done:
    xcr__csv_close(&r);
    free(col);
    if (st != XCR_OK) {
        if (ss)
            series_free(ss, n);
        return st;
    }
    *out = ss;
    *nout = n;
    return XCR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first n characters of a and b are equal ignoring ASCII case. */
static bool same_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return false;
    }
    return true;
}

/* Symbol of a candle file name: BTCUSDT_1d.csv → BTC, ETH.csv → ETH. */
static bool file_symbol(const char *name, char *sym, size_t n)
{
    size_t len = strlen(name);
    if (len < 5 || !same_ci(name + len - 4, ".csv", 4))
        return false;
    len -= 4;
    if (len > 3 && same_ci(name + len - 3, "_1d", 3))
        len -= 3;
    if (len > 4 && strncmp(name + len - 4, "USDT", 4) == 0)
        len -= 4;
    if (len == 0 || len >= n)
        return false;
    memcpy(sym, name, len);
    sym[len] = '\0';
    return xcr__valid_id(sym);
}

static xcr_status load_dir(const char *path, const char *const *symbols,
                           size_t nsym, series **out, size_t *nout,
                           xcr_error *err)
{
    DIR *d = opendir(path);
    if (!d)
        return xcr__fail(err, XCR_EIO, "%s: cannot open the directory", path);
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    xcr_status st = XCR_OK;
    while ((de = readdir(d)) != NULL) {
        char sym[80];
        if (!file_symbol(de->d_name, sym, sizeof sym) ||
            !wanted(sym, symbols, nsym))
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 32;
            char **nb = realloc(names, cap * sizeof *nb);
            if (!nb) {
                st = NOMEM(err);
                break;
            }
            names = nb;
        }
        size_t len = strlen(de->d_name) + 1;
        names[nn] = malloc(len);
        if (!names[nn]) {
            st = NOMEM(err);
            break;
        }
        memcpy(names[nn++], de->d_name, len);
    }
    closedir(d);
    series *ss = NULL;
    size_t n = 0;
    if (st == XCR_OK && nn == 0)
        st = xcr__fail(err, XCR_ENOTFOUND,
                       "%s: no price files for the assets needed "
                       "(expected <SYM>USDT_1d.csv or <SYM>.csv)",
                       path);
    if (st == XCR_OK) {
        qsort(names, nn, sizeof *names, cmp_str);
        ss = calloc(nn, sizeof *ss);
        if (!ss)
            st = NOMEM(err);
    }
    for (size_t i = 0; i < nn && st == XCR_OK; i++) {
        char sym[80];
        file_symbol(names[i], sym, sizeof sym);
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            if (xcr__strcasecmp(ss[k].sym, sym) == 0)
                dup = true;
        if (dup)
            continue; /* BTCUSDT_1d.csv and BTC.csv: the first by name */
        size_t plen = strlen(path) + strlen(names[i]) + 2;
        char *full = malloc(plen);
        ss[n].sym = malloc(strlen(sym) + 1);
        if (!full || !ss[n].sym) {
            free(full);
            st = NOMEM(err);
            break;
        }
        strcpy(ss[n].sym, sym);
        snprintf(full, plen, "%s/%s", path, names[i]);
        n++;
        st = load_candles(full, &ss[n - 1], err);
        free(full);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (st != XCR_OK) {
        if (ss)
            series_free(ss, n);
        return st;
    }
    *out = ss;
    *nout = n;
    return XCR_OK;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

xcr_status xcr_history_load(const char *path, const char *const *symbols,
                            size_t nsymbols, xcr_history **out,
                            xcr_error *err)
{
    if (!path || !out)
        return xcr__fail(err, XCR_EINVAL, "path and output are required");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return xcr__fail(err, XCR_EIO, "%s: no such file or directory", path);
    series *ss = NULL;
    size_t n = 0;
    xcr_status st = S_ISDIR(sb.st_mode)
                        ? load_dir(path, symbols, nsymbols, &ss, &n, err)
                        : load_wide(path, symbols, nsymbols, &ss, &n, err);
    if (st != XCR_OK)
        return st;
    /* the union of days */
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += ss[k].n;
    long *all = malloc((total ? total : 1) * sizeof *all);
    xcr_history *h = calloc(1, sizeof *h);
    if (!all || !h) {
        free(all);
        free(h);
        series_free(ss, n);
        return NOMEM(err);
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < ss[k].n; i++)
            all[m++] = ss[k].day[i];
    qsort(all, m, sizeof *all, cmp_long);
    size_t T = 0;
    for (size_t i = 0; i < m; i++)
        if (T == 0 || all[i] != all[T - 1])
            all[T++] = all[i];
    h->T = T;
    h->K = n;
    h->day = all;
    h->sym = calloc(n ? n : 1, sizeof *h->sym);
    h->close = malloc((T * n > 0 ? T * n : 1) * sizeof *h->close);
    if (!h->sym || !h->close) {
        series_free(ss, n);
        h->K = 0;
        xcr_history_free(h);
        return NOMEM(err);
    }
    for (size_t i = 0; i < T * n; i++)
        h->close[i] = NAN;
    for (size_t k = 0; k < n; k++) {
        size_t t = 0;
        for (size_t i = 0; i < ss[k].n; i++) {
            while (all[t] < ss[k].day[i])
                t++;
            h->close[t * n + k] = ss[k].px[i];
        }
        h->sym[k] = ss[k].sym;
        ss[k].sym = NULL;
    }
    series_free(ss, n);
    h->path = malloc(strlen(path) + 1);
    if (!h->path) {
        xcr_history_free(h);
        return NOMEM(err);
    }
    strcpy(h->path, path);
    *out = h;
    return XCR_OK;
}

/* Log return of asset k from day t−1 to t; NAN where either is missing. */
static double ret(const xcr_history *h, size_t t, size_t k)
{
    double a = h->close[(t - 1) * h->K + k], b = h->close[t * h->K + k];
    return isnan(a) || isnan(b) ? NAN : log(b / a);
}

static size_t window_start(const xcr_history *h, size_t window)
{
    size_t t0 = window && window < h->T ? h->T - window : 0;
    return t0 + 1; /* first return index */
}

double xcr_history_vol(const xcr_history *h, size_t k, size_t window)
{
    if (!h || k >= h->K || h->T < 3)
        return NAN;
    double s = 0, ss = 0;
    size_t n = 0;
    for (size_t t = window_start(h, window); t < h->T; t++) {
        double r = ret(h, t, k);
        if (isnan(r))
            continue;
        s += r;
        ss += r * r;
        n++;
    }
    if (n < 2)
        return NAN;
    double mean = s / (double)n;
    double var = (ss - (double)n * mean * mean) / (double)(n - 1);
    return sqrt(var > 0 ? var : 0) * sqrt(365.0);
}

xcr_status xcr_history_corr(const xcr_history *h, size_t window,
                            xcr_corr **out, xcr_error *err)
{
    if (!h || !out || h->K == 0)
        return xcr__fail(err, XCR_EINVAL, "history: no assets");
    size_t K = h->K;
    double *m = malloc(K * K * sizeof *m);
    if (!m)
        return NOMEM(err);
    xcr_status st = XCR_OK;
    for (size_t i = 0; i < K && st == XCR_OK; i++) {
        m[i * K + i] = 1;
        for (size_t j = 0; j < i; j++) {
            double si = 0, sj = 0, sii = 0, sjj = 0, sij = 0;
            size_t n = 0;
            for (size_t t = window_start(h, window); t < h->T; t++) {
                double a = ret(h, t, i), b = ret(h, t, j);
                if (isnan(a) || isnan(b))
                    continue;
                si += a;
                sj += b;
                sii += a * a;
                sjj += b * b;
                sij += a * b;
                n++;
            }
            if (n < MIN_COMMON) {
                st = xcr__fail(err, XCR_EINVAL,
                               "%s: %s and %s share only %zu daily returns "
                               "(at least %d needed)",
                               h->path ? h->path : "history", h->sym[i],
                               h->sym[j], n, MIN_COMMON);
                break;
            }
            double dn = (double)n;
            double cov = sij - si * sj / dn;
            double vi = sii - si * si / dn, vj = sjj - sj * sj / dn;
            double r = vi > 0 && vj > 0 ? cov / sqrt(vi * vj) : 0;
            r = r > 1 ? 1 : r < -1 ? -1 : r;
            m[i * K + j] = m[j * K + i] = r;
        }
    }
    if (st == XCR_OK) {
        char where[600];
        snprintf(where, sizeof where,
                 "%s (correlation of daily log returns%s)",
                 h->path ? h->path : "history",
                 window ? ", windowed" : "");
        st = xcr_corr_new(K, (const char *const *)h->sym, m, where, out, err);
    }
    free(m);
    return st;
}

/* MARK: internal access for FHS -------------------------------------------------- */

long xcr__history_find(const xcr_history *h, const char *sym)
{
    for (size_t k = 0; k < h->K; k++)
        if (xcr__strcasecmp(h->sym[k], sym) == 0)
            return (long)k;
    return -1;
}
