/* JSON views of the live monitor (the bodies of the HTTP API, docs/serve.md).
 * Per-account JSON is the `xcr margin --format json` writer's own output;
 * stress, exposure and liquidations-at-risk go through the stress API. */
#include "monitor_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mbuf {
    FILE *f;
    char *p;
    size_t n;
} mbuf;

static bool mb_open(mbuf *b)
{
    b->p = NULL;
    b->n = 0;
    b->f = open_memstream(&b->p, &b->n);
    return b->f != NULL;
}

static xcr_status mb_close(mbuf *b, char **out, xcr_error *err)
{
    bool bad = ferror(b->f) != 0;
    if (fclose(b->f) != 0 || bad) {
        free(b->p);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    *out = b->p;
    return XCR_OK;
}

static void put_iso(FILE *f, double t)
{
    if (!isfinite(t)) {
        fputs("null", f);
        return;
    }
    time_t s = (time_t)floor(t);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[48];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "\"%s.%03dZ\"", buf, (int)((t - floor(t)) * 1000) % 1000);
}

/* The "summary" object exactly as `xcr margin --format json` writes it:
 * sums in canonical order (dead slots hold zeros, which add nothing). */
static void put_summary(FILE *f, const xcr_monitor *m)
{
    double eq = 0, col = 0, mm = 0;
    for (size_t i = 0; i < m->n_slots; i++) {
        eq += m->sums[i].eq;
        col += m->sums[i].col;
        mm += m->sums[i].mm;
    }
    fprintf(f,
            "{\"accounts\": %zu, \"healthy\": %zu, \"margin_call\": %zu, "
            "\"liquidatable\": %zu, \"bankrupt\": %zu, \"equity\": ",
            m->n_live, m->by_status[0], m->by_status[1], m->by_status[2],
            m->by_status[3]);
    xcr__put_num(f, eq);
    fputs(", \"collateral\": ", f);
    xcr__put_num(f, col);
    fputs(", \"maintenance_margin\": ", f);
    xcr__put_num(f, mm);
    fputs("}", f);
}

static void put_state(FILE *f, const xcr_monitor *m)
{
    fprintf(f, "{\"seq\": %llu, \"ticks\": %llu, \"accounts\": %zu, "
               "\"summary\": ",
            (unsigned long long)m->seq, (unsigned long long)m->ticks,
            m->n_live);
    put_summary(f, m);
    fputs(", \"prices\": {", f);
    for (size_t a = 0; a < m->book->n_assets; a++) {
        fprintf(f, "%s\"%s\": ", a ? ", " : "", m->book->assets[a].symbol);
        xcr__put_num(f, m->mkt->price[a]);
    }
    fputs("}, \"last_tick\": ", f);
    put_iso(f, m->last_tick);
    fputs(", \"recompute_ms\": ", f);
    xcr__put_num(f, m->recompute_ms);
    fputs("}", f);
}

xcr_status xcr_monitor_summary_json(const xcr_monitor *m, char **out,
                                    xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor and output are required");
    mbuf b;
    if (!mb_open(&b))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    put_state(b.f, m);
    return mb_close(&b, out, err);
}

xcr_status xcr_monitor_tick_json(const xcr_monitor *m, char **out,
                                 xcr_error *err)
{
    return xcr_monitor_summary_json(m, out, err);
}

/* MARK: account list -------------------------------------------------------- */

typedef struct sort_ctx {
    const xcr_monitor *m;
    int key;
} sort_ctx;

static int cmp_slots(const void *x, const void *y, void *ctx)
{
    const sort_ctx *c = ctx;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    double va = c->key == 1 ? c->m->res[a].health : c->m->res[a].equity;
    double vb = c->key == 1 ? c->m->res[b].health : c->m->res[b].equity;
    /* ascending, NaN/infinite health (no margin) last, ties by order */
    bool fa = isfinite(va), fb = isfinite(vb);
    if (fa != fb)
        return fa ? -1 : 1;
    if (fa && va != vb)
        return va < vb ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* qsort_r is a GNU extension: a plain insertion into a heap-free merge sort
 * keeps the module portable C17. */
static void merge_sort(uint32_t *v, uint32_t *tmp, size_t n,
                       const sort_ctx *c)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(v, tmp, h, c);
    merge_sort(v + h, tmp, n - h, c);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_slots(&v[j], &v[i], (void *)(uintptr_t)c) < 0 ? v[j++]
                                                                      : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static const char *slot_id(const xcr_monitor *m, size_t slot, xcr_mode *mode)
{
    const xcr_book *b = m->book;
    size_t idx = slot;
    if (slot >= m->n_main || m->main_state[slot] != 0) {
        b = m->ov_book;
        idx = slot < m->n_main ? (size_t)m->main_ov[slot]
                               : m->new_def[slot - m->n_main];
    }
    *mode = (xcr_mode)b->acct_mode[idx];
    return b->acct_id[idx];
}

xcr_status xcr_monitor_accounts_json(const xcr_monitor *m,
                                     const xcr_account_query *q, char **out,
                                     xcr_error *err)
{
    if (!m || !q || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor, query and output are "
                                          "required");
    uint32_t *v = malloc((m->n_slots + 1) * sizeof *v);
    uint32_t *tmp = q->sort ? malloc((m->n_slots + 1) * sizeof *tmp) : NULL;
    if (!v || (q->sort && !tmp)) {
        free(v);
        free(tmp);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < m->n_slots; i++)
        if (m->alive[i] && (q->status < 0 || (int)m->res[i].status == q->status))
            v[n++] = (uint32_t)i;
    if (q->sort) {
        sort_ctx c = {m, q->sort};
        merge_sort(v, tmp, n, &c);
    }
    free(tmp);
    mbuf b;
    if (!mb_open(&b)) {
        free(v);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    fprintf(b.f, "{\"total\": %zu, \"accounts\": [", n);
    size_t end = q->offset + q->limit;
    for (size_t k = q->offset; k < n && k < end; k++) {
        const xcr_account_result *r = &m->res[v[k]];
        xcr_mode mode;
        const char *id = slot_id(m, v[k], &mode);
        fprintf(b.f, "%s\n {\"id\": \"%s\", \"mode\": \"%s\", \"equity\": ",
                k > q->offset ? "," : "", id, xcr_mode_name(mode));
        xcr__put_num(b.f, r->equity);
        fputs(", \"collateral\": ", b.f);
        xcr__put_num(b.f, r->collateral);
        fputs(", \"initial_margin\": ", b.f);
        xcr__put_num(b.f, r->initial_margin);
        fputs(", \"maintenance_margin\": ", b.f);
        xcr__put_num(b.f, r->maintenance_margin);
        fputs(", \"health\": ", b.f);
        xcr__put_num(b.f, r->health);
        fputs(", \"health_factor\": ", b.f);
        xcr__put_num(b.f, r->health_factor);
        fprintf(b.f, ", \"status\": \"%s\"}", xcr_acct_status_name(r->status));
    }
    fputs("]}", b.f);
    free(v);
    return mb_close(&b, out, err);
}

/* MARK: one account ---------------------------------------------------------- */

static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

xcr_status xcr_monitor_account_json(const xcr_monitor *m, const char *id,
                                    char **out, xcr_error *err)
{
    if (!m || !id || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor, id and output are "
                                          "required");
    long k = xcr__strmap_get(&m->ov_map, id);
    const xcr_market *mk = m->mkt;
    long idx = -1;
    if (k >= 0) {
        mk = m->ov_mkt;
        idx = k;
    } else {
        idx = xcr_book_find_account(m->book, id);
        if (idx >= 0 && m->main_state[idx] != 0)
            idx = -1;
    }
    if (idx < 0)
        return xcr__fail(err, XCR_ENOTFOUND, "unknown account \"%.64s\"", id);
    /* the report writer's own text for this account: between the
     * "accounts" array's opening and its closing */
    mbuf rep;
    if (!mb_open(&rep))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr_margin_report_opts ro = {XCR_OUT_JSON, idx, 1, 1, NULL, NULL};
    xcr_status s = xcr_margin_report(mk, &ro, rep.f, err);
    char *text = NULL;
    xcr_status s2 = mb_close(&rep, &text, err);
    if (s != XCR_OK || s2 != XCR_OK) {
        free(text);
        return s != XCR_OK ? s : s2;
    }
    const char *open = strstr(text, "\"accounts\": [\n  ");
    const char *close = strstr(text, "\n ],\n \"summary\"");
    if (!open || !close || close < open) {
        free(text);
        return xcr__fail(err, XCR_EINTERNAL, "unexpected report layout");
    }
    open += strlen("\"accounts\": [\n  ");
    char *ex = NULL;
    s = xcr_explain(mk, (size_t)idx, &ex, err);
    if (s != XCR_OK) {
        free(text);
        return s;
    }
    mbuf b;
    if (!mb_open(&b)) {
        free(text);
        free(ex);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    fputs("{\"account\": ", b.f);
    fwrite(open, 1, (size_t)(close - open), b.f);
    fputs(",\n \"explain\": ", b.f);
    put_json_string(b.f, ex);
    fputs("}", b.f);
    free(text);
    free(ex);
    return mb_close(&b, out, err);
}

/* MARK: alerts ----------------------------------------------------------------- */

static void put_alert(FILE *f, const xcr__alert *a)
{
    fprintf(f, "{\"seq\": %llu, \"time\": ", (unsigned long long)a->seq);
    put_iso(f, a->time);
    fprintf(f, ", \"kind\": \"%s\", \"account\": \"%s\", \"from\": \"%s\", "
               "\"to\": \"%s\", \"health\": ",
            a->kind ? "health_level" : "status", a->account,
            xcr_acct_status_name((xcr_acct_status)a->from),
            xcr_acct_status_name((xcr_acct_status)a->to));
    xcr__put_num(f, a->health);
    if (a->kind) {
        fputs(", \"level\": ", f);
        xcr__put_num(f, a->level);
    }
    fprintf(f, ", \"update\": %llu}", (unsigned long long)a->update_seq);
}

/* Ring position of alert `seq`, or -1 when not in memory. */
static long ring_find(const xcr_monitor *m, uint64_t seq)
{
    if (m->ring_len == 0)
        return -1;
    uint64_t first = m->ring[m->ring_head].seq;
    if (seq < first || seq > m->alert_seq)
        return -1;
    return (long)((m->ring_head + (seq - first)) % m->ring_cap);
}

xcr_status xcr_monitor_alerts_json(const xcr_monitor *m, uint64_t since,
                                   size_t limit, char **out, xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor and output are required");
    if (limit == 0 || limit > 10000)
        limit = 10000;
    mbuf b;
    if (!mb_open(&b))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    uint64_t first = m->ring_len ? m->ring[m->ring_head].seq : m->alert_seq + 1;
    uint64_t s = since < first ? first : since;
    fputs("{\"alerts\": [", b.f);
    size_t n = 0;
    for (; s <= m->alert_seq && n < limit; s++, n++) {
        long at = ring_find(m, s);
        if (at < 0)
            break;
        fputs(n ? ",\n " : "\n ", b.f);
        put_alert(b.f, &m->ring[at]);
    }
    fprintf(b.f, "], \"next\": %llu}", (unsigned long long)s);
    return mb_close(&b, out, err);
}

xcr_status xcr_monitor_alert_json(const xcr_monitor *m, uint64_t seq,
                                  char **out, xcr_error *err)
{
    long at = m ? ring_find(m, seq) : -1;
    if (at < 0)
        return xcr__fail(err, XCR_ENOTFOUND, "alert %llu is not in memory",
                         (unsigned long long)seq);
    mbuf b;
    if (!mb_open(&b))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    put_alert(b.f, &m->ring[at]);
    return mb_close(&b, out, err);
}

/* MARK: risk views -------------------------------------------------------------- */

xcr_status xcr_monitor_exposure_json(xcr_monitor *m, char **out,
                                     xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor and output are required");
    /* the stress API works on one book: fold the overlay in first */
    TRY(xcr_monitor_compact(m, err));
    xcr_exposure_opts eo = {m->threads, 5, 2.0};
    xcr_exposure *e = NULL;
    TRY(xcr_exposure_compute(m->mkt, &eo, &e, err));
    mbuf b;
    if (!mb_open(&b)) {
        xcr_exposure_free(e);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    xcr_status s = xcr_exposure_report(e, XCR_OUT_JSON, b.f, err);
    xcr_exposure_free(e);
    char *text = NULL;
    xcr_status s2 = mb_close(&b, &text, err);
    if (s != XCR_OK || s2 != XCR_OK) {
        free(text);
        return s != XCR_OK ? s : s2;
    }
    *out = text;
    return XCR_OK;
}

static xcr_status run_set(xcr_monitor *m, xcr_scenarios *set,
                          xcr_stress_result **res, xcr_error *err)
{
    xcr_stress_opts so;
    xcr_stress_opts_init(&so);
    so.threads = m->threads;
    return xcr_stress_run(m->mkt, set, &so, res, err);
}

xcr_status xcr_monitor_lar_json(xcr_monitor *m, char **out, xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor and output are required");
    TRY(xcr_monitor_compact(m, err));
    xcr_scenarios *set = NULL;
    xcr_stress_result *res = NULL;
    if (xcr_scenarios_new(m->book, &set) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    /* the defaults of `xcr stress --lar` (step 0.05 down to -0.6) */
    xcr_status s = xcr_scenarios_add_uniform(set, 0, -0.6, -0.05, err);
    if (s == XCR_OK)
        s = run_set(m, set, &res, err);
    mbuf b;
    if (s == XCR_OK && !mb_open(&b))
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (s != XCR_OK) {
        xcr_stress_result_free(res);
        xcr_scenarios_free(set);
        return s;
    }
    long ns = -1;
    for (size_t a = 0; a < m->book->n_assets && ns < 0; a++)
        if (!m->book->assets[a].stable)
            ns = (long)a;
    size_t n = xcr_scenarios_count(set);
    fputs("{\"points\": [", b.f);
    for (size_t j = 0; j < n; j++) {
        size_t k = n - 1 - j; /* ascending shock */
        xcr_scenario_outcome o;
        xcr_stress_outcome(res, k, &o);
        fputs(j ? ",\n {\"shock\": " : "\n {\"shock\": ", b.f);
        xcr__put_num(b.f, ns >= 0 ? xcr_scenarios_move(set, k, (size_t)ns)
                                  : 0.0);
        fprintf(b.f, ", \"accounts\": %zu, \"collateral\": ",
                o.by_status[XCR_LIQUIDATABLE] + o.by_status[XCR_BANKRUPT]);
        xcr__put_num(b.f, o.liquidatable_collateral);
        fputs(", \"notional\": ", b.f);
        xcr__put_num(b.f, o.liquidatable_notional);
        fputs("}", b.f);
    }
    fputs("]}", b.f);
    xcr_stress_result_free(res);
    xcr_scenarios_free(set);
    return mb_close(&b, out, err);
}

xcr_status xcr_monitor_stress_json(xcr_monitor *m, const char *body,
                                   size_t len, char **out, xcr_error *err)
{
    if (!m || !body || !out)
        return xcr__fail(err, XCR_EINVAL, "monitor, body and output are "
                                          "required");
    /* {"scenario": "NAME"}: a built-in name only (no files from requests) */
    char name[72] = "";
    if (xcr__json_depth(body, len) > XCR__MAX_JSON_DEPTH)
        return xcr__fail(err, XCR_EPARSE, "request: JSON nested too deep");
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__fail(err, XCR_EPARSE, "request: line %d column %d: %s",
                         je.line, je.column, je.text);
    const json_t *sc = json_object_get(root, "scenario");
    bool ok = json_is_object(root) && json_object_size(root) == 1 &&
              json_is_string(sc) && strlen(json_string_value(sc)) <= 64;
    if (ok)
        snprintf(name, sizeof name, "%s", json_string_value(sc));
    json_decref(root);
    if (!ok)
        return xcr__fail(err, XCR_EINVAL,
                         "request: $: must be {\"scenario\": \"NAME\"}");
    if (!xcr_builtin_scenario_find(name))
        return xcr__fail(err, XCR_EREF,
                         "request: $.scenario: unknown scenario \"%s\" (see "
                         "xcr scenarios)",
                         name);
    TRY(xcr_monitor_compact(m, err));
    xcr_scenarios *set = NULL;
    xcr_stress_result *res = NULL;
    if (xcr_scenarios_new(m->book, &set) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr_unlisted rule = {XCR_UNLISTED_CRASH_RATIO, 0};
    xcr_status s = xcr_scenarios_add_builtin(set, name, &rule, err);
    if (s == XCR_OK)
        s = run_set(m, set, &res, err);
    mbuf b;
    if (s == XCR_OK && !mb_open(&b))
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (s == XCR_OK) {
        xcr_stress_report_opts ro;
        memset(&ro, 0, sizeof ro);
        ro.format = XCR_OUT_JSON;
        ro.accounts = (size_t)-1; /* as `xcr stress --scenario NAME` */
        s = xcr_stress_report(res, &ro, b.f, err);
        char *text = NULL;
        xcr_status s2 = mb_close(&b, &text, err);
        if (s == XCR_OK && s2 == XCR_OK)
            *out = text;
        else {
            free(text);
            if (s == XCR_OK)
                s = s2;
        }
    }
    xcr_stress_result_free(res);
    xcr_scenarios_free(set);
    return s;
}
