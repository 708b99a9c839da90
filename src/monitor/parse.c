/* Request parsers of the live monitor: tick batches and query strings.
 * They live in the library so that the fuzz harnesses (which link only
 * libxcr) reach them; they never change any state. */
#include "monitor_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TICKS 100000

static xcr_status parse_tick(const xcr_book *b, const json_t *t, size_t k,
                             bool batch, xcr_tick *out, xcr_error *err)
{
    char path[48];
    if (batch)
        snprintf(path, sizeof path, "$.ticks[%zu]", k);
    else
        snprintf(path, sizeof path, "$");
    if (!json_is_object(t))
        return xcr__fail(err, XCR_EINVAL, "request: %s: must be an object "
                                          "{symbol, price, vol?}",
                         path);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)t, key, v)
    {
        if (strcmp(key, "symbol") && strcmp(key, "price") &&
            strcmp(key, "vol"))
            return xcr__fail(err, XCR_EINVAL,
                             "request: %s: unknown field \"%.64s\"", path,
                             key);
    }
    const json_t *sym = json_object_get(t, "symbol");
    if (!json_is_string(sym))
        return xcr__fail(err, XCR_EINVAL, "request: %s.symbol: %s", path,
                         sym ? "must be a string" : "missing");
    long a = xcr_book_find_asset(b, json_string_value(sym));
    if (a < 0)
        return xcr__fail(err, XCR_EREF, "request: %s.symbol: unknown asset "
                                        "\"%.64s\"",
                         path, json_string_value(sym));
    const json_t *p = json_object_get(t, "price");
    if (!json_is_number(p))
        return xcr__fail(err, XCR_EINVAL, "request: %s.price: %s", path,
                         p ? "must be a number" : "missing");
    double price = json_number_value(p);
    if (!isfinite(price) || !(price > 0))
        return xcr__fail(err, XCR_EINVAL,
                         "request: %s.price: must be a finite number > 0 "
                         "(got %g)",
                         path, price);
    double vol = NAN;
    const json_t *vo = json_object_get(t, "vol");
    if (vo && !json_is_null(vo)) {
        if (!json_is_number(vo))
            return xcr__fail(err, XCR_EINVAL, "request: %s.vol: must be a "
                                              "number",
                             path);
        vol = json_number_value(vo);
        if (!isfinite(vol) || vol < 0 || vol > 100)
            return xcr__fail(err, XCR_EINVAL,
                             "request: %s.vol: must be a finite number in "
                             "[0, 100] (got %g)",
                             path, vol);
    }
    *out = (xcr_tick){(size_t)a, price, vol};
    return XCR_OK;
}

xcr_status xcr_ticks_parse(const xcr_book *b, const char *text, size_t len,
                           xcr_tick **ticks, size_t *n, xcr_error *err)
{
    if (!b || !text || !ticks || !n)
        return xcr__fail(err, XCR_EINVAL, "book, text and outputs are "
                                          "required");
    *ticks = NULL;
    *n = 0;
    if (xcr__json_depth(text, len) > XCR__MAX_JSON_DEPTH)
        return xcr__fail(err, XCR_EPARSE, "request: JSON nested deeper than "
                                          "%d levels",
                         XCR__MAX_JSON_DEPTH);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__fail(err, XCR_EPARSE, "request: line %d column %d: %s",
                         je.line, je.column, je.text);
    xcr_status s = XCR_OK;
    xcr_tick *out = NULL;
    size_t cnt = 0;
    const json_t *arr = json_object_get(root, "ticks");
    if (!json_is_object(root)) {
        s = xcr__fail(err, XCR_EINVAL, "request: $: must be an object "
                                       "{\"ticks\": [...]} or one tick");
    } else if (arr) {
        if (json_object_size(root) != 1)
            s = xcr__fail(err, XCR_EINVAL, "request: $: a batch holds only "
                                           "\"ticks\"");
        else if (!json_is_array(arr) || json_array_size(arr) == 0)
            s = xcr__fail(err, XCR_EINVAL, "request: $.ticks: must be a "
                                           "non-empty array");
        else if (json_array_size(arr) > MAX_TICKS)
            s = xcr__fail(err, XCR_EINVAL, "request: $.ticks: more than %d "
                                           "ticks",
                          MAX_TICKS);
        cnt = s == XCR_OK ? json_array_size(arr) : 0;
    } else {
        cnt = 1;
    }
    if (s == XCR_OK) {
        out = malloc(cnt * sizeof *out);
        if (!out)
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < cnt && s == XCR_OK; k++)
        s = parse_tick(b, arr ? json_array_get(arr, k) : root, k, arr != NULL,
                       &out[k], err);
    json_decref(root);
    if (s != XCR_OK) {
        free(out);
        return s;
    }
    *ticks = out;
    *n = cnt;
    return XCR_OK;
}

/* MARK: query strings ------------------------------------------------------- */

/* Find `key` in "k=v&k=v": pointer to its value and its length. */
static const char *qs_find(const char *qs, const char *key, size_t *vlen)
{
    size_t kl = strlen(key);
    for (const char *p = qs; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            *vlen = n - kl - 1;
            return p + kl + 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static int parse_u64(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 1;
}

int xcr_query_u64(const char *qs, const char *key, uint64_t *out)
{
    size_t n = 0;
    const char *v = qs && key ? qs_find(qs, key, &n) : NULL;
    if (!v)
        return 0;
    return parse_u64(v, n, out);
}

static bool veq(const char *v, size_t n, const char *lit)
{
    return strlen(lit) == n && strncmp(v, lit, n) == 0;
}

xcr_status xcr_account_query_parse(const char *qs, xcr_account_query *q,
                                   xcr_error *err)
{
    if (!q)
        return xcr__fail(err, XCR_EINVAL, "query output is required");
    *q = (xcr_account_query){-1, 0, 100, 0};
    if (!qs)
        return XCR_OK;
    /* every key must be known */
    for (const char *p = qs; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kl = eq ? (size_t)(eq - p) : n;
        if (n && !(veq(p, kl, "status") || veq(p, kl, "sort") ||
                   veq(p, kl, "limit") || veq(p, kl, "offset")))
            return xcr__fail(err, XCR_EINVAL,
                             "query: unknown parameter \"%.*s\"",
                             (int)(kl < 32 ? kl : 32), p);
        if (!amp)
            break;
        p = amp + 1;
    }
    size_t n;
    const char *v = qs_find(qs, "status", &n);
    if (v) {
        q->status = -2;
        for (int s = 0; s < 4; s++)
            if (veq(v, n, xcr_acct_status_name((xcr_acct_status)s)))
                q->status = s;
        if (q->status == -2)
            return xcr__fail(err, XCR_EINVAL,
                             "query: status must be healthy, margin_call, "
                             "liquidatable or bankrupt");
    }
    if ((v = qs_find(qs, "sort", &n))) {
        if (veq(v, n, "id"))
            q->sort = 0;
        else if (veq(v, n, "health"))
            q->sort = 1;
        else if (veq(v, n, "equity"))
            q->sort = 2;
        else
            return xcr__fail(err, XCR_EINVAL,
                             "query: sort must be health, equity or id");
    }
    uint64_t x;
    int r = xcr_query_u64(qs, "limit", &x);
    if (r < 0 || (r > 0 && (x == 0 || x > 10000)))
        return xcr__fail(err, XCR_EINVAL, "query: limit must be 1..10000");
    if (r > 0)
        q->limit = (size_t)x;
    r = xcr_query_u64(qs, "offset", &x);
    if (r < 0 || (r > 0 && x > (uint64_t)1 << 40))
        return xcr__fail(err, XCR_EINVAL, "query: offset must be a "
                                          "non-negative integer");
    if (r > 0)
        q->offset = (size_t)x;
    return XCR_OK;
}
