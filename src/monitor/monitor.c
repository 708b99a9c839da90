/* The live margin monitor: state, incremental recompute, upserts, deletes,
 * alerts and the durable update log.  Layout and canonical order: see
 * monitor_int.h and docs/serve.md.  Every margin number comes from the one
 * evaluator (xcr__eval_account, src/margin/eval.c). */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE): see huge_hint() */
#include "monitor_int.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__linux__) && !defined(MADV_COLLAPSE)
#define MADV_COLLAPSE 25 /* Linux 6.1; older glibc headers lack it */
#endif

void xcr_monitor_opts_init(xcr_monitor_opts *o)
{
    memset(o, 0, sizeof *o);
}

int xcr_monitor_has_pg(void)
{
#ifdef XCR_HAVE_LIBPQ
    return 1;
#else
    return 0;
#endif
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Same rule as `xcr margin` (report: finite_result): lending IM may be +inf
 * (no borrowing power), everything else must be finite. */
static bool finite_result(xcr_mode mode, const xcr_account_result *r)
{
    return isfinite(r->equity) && isfinite(r->collateral) &&
           isfinite(r->maintenance_margin) &&
           (isfinite(r->initial_margin) ||
            (mode == XCR_MODE_LENDING && r->initial_margin == INFINITY));
}

/* MARK: slots --------------------------------------------------------------- */

/* Market and book index behind a canonical slot. */
static void slot_target(const xcr_monitor *m, size_t slot,
                        const xcr_market **mk, size_t *idx)
{
    if (slot < m->n_main && m->main_state[slot] == 0) {
        *mk = m->mkt;
        *idx = slot;
        return;
    }
    size_t k = slot < m->n_main ? (size_t)m->main_ov[slot]
                                : m->new_def[slot - m->n_main];
    *mk = m->ov_mkt;
    *idx = k;
}

static bool grow_slots(xcr_monitor *m, size_t n)
{
    if (n <= m->cap_slots)
        return true;
    size_t cap = m->cap_slots ? m->cap_slots : 1024;
    while (cap < n)
        cap *= 2;
    /* results one cache line each (sizeof == 64 on LP64): a re-evaluated
     * account writes one line, not two */
    size_t rbytes = (cap * sizeof(xcr_account_result) + 63) / 64 * 64;
    xcr_account_result *r = aligned_alloc(64, rbytes);
    if (r) {
        if (m->n_slots)
            memcpy(r, m->res, m->n_slots * sizeof *r);
        free(m->res);
        m->res = r;
    }
    uint8_t *bd = realloc(m->band, cap);
    if (bd)
        m->band = bd;
    sums3 *s = realloc(m->sums, cap * sizeof *s);
    if (s)
        m->sums = s;
    uint8_t *a = realloc(m->alive, cap);
    if (a)
        m->alive = a;
    xcr_account_result *sc = realloc(m->scratch, cap * sizeof *sc);
    if (sc)
        m->scratch = sc;
    uint32_t *t = realloc(m->touched, cap * sizeof *t);
    if (t)
        m->touched = t;
    uint32_t *tp = realloc(m->touched_phys, cap * sizeof *tp);
    if (tp)
        m->touched_phys = tp;
    uint64_t *tb = realloc(m->touched_bits, (cap / 64 + 1) * sizeof *tb);
    if (tb)
        m->touched_bits = tb;
    uint8_t *fl = realloc(m->flags, cap);
    if (fl)
        m->flags = fl;
    if (!r || !s || !a || !sc || !t || !tp || !tb || !fl || !bd)
        return false;
    memset(m->touched_bits, 0, (cap / 64 + 1) * sizeof *tb);
    m->cap_slots = cap;
    return true;
}

static void recount(xcr_monitor *m)
{
    memset(m->by_status, 0, sizeof m->by_status);
    m->n_live = 0;
    for (size_t i = 0; i < m->n_slots; i++)
        if (m->alive[i]) {
            m->by_status[m->res[i].status]++;
            m->n_live++;
        }
}

/* The alert band of a result (monitor_int.h): status and the number of
 * levels at or below its health.  Because `health >= level` is monotone in
 * health, two healths give the same set of levels passed exactly when they
 * pass the same number of them (NaN passes none), so band(o) != band(r)
 * exactly when going from o to r raises an alert (a status change or a
 * level crossed in either direction). */
static uint8_t band_of(const xcr_monitor *m, const xcr_account_result *r)
{
    unsigned n = 0;
    for (size_t l = 0; l < m->n_levels; l++)
        n += r->health >= m->levels[l];
    return (uint8_t)((unsigned)r->status << 4 | n);
}

static void set_slot(xcr_monitor *m, size_t slot, const xcr_account_result *r)
{
    m->res[slot] = *r;
    m->sums[slot] = (sums3){r->equity, r->collateral, r->maintenance_margin};
    m->band[slot] = band_of(m, r);
}

/* MARK: memory layout -------------------------------------------------------- */

/* Ask for transparent huge pages over the 2 MiB-aligned interior of a large
 * array (a hint: errors ignored, nothing changes where unsupported).  A
 * tick re-evaluates accounts scattered over the whole book, so each one
 * touches a different 4 KiB page of every array it reads; with 4 KiB pages
 * that is a TLB miss (a page walk) per array per account, with 2 MiB pages
 * the whole book's translations fit in the TLB. */
static void huge_hint(const void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (!p || hi <= lo)
        return;
    if (madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0)
        return;
#if defined(MADV_COLLAPSE)
    /* already-populated pages: collapse now rather than whenever
     * khugepaged gets to them */
    (void)madvise((void *)lo, hi - lo, MADV_COLLAPSE);
#endif
#else
    (void)p;
    (void)bytes;
#endif
}

/* The arrays a tick reads or writes at scattered accounts. */
static void huge_hint_all(const xcr_monitor *m)
{
    const xcr_book *b = m->book;
    size_t na = b->n_accts, nb = b->bal_off[na], np = b->pos_off[na];
    huge_hint(b->acct_mode, na);
    huge_hint(b->bal_off, (na + 1) * sizeof *b->bal_off);
    huge_hint(b->pos_off, (na + 1) * sizeof *b->pos_off);
    huge_hint(b->bal_asset, nb * sizeof *b->bal_asset);
    huge_hint(b->bal_amt, nb * sizeof *b->bal_amt);
    huge_hint(b->pos_inst, np * sizeof *b->pos_inst);
    huge_hint(b->pos_size, np * sizeof *b->pos_size);
    huge_hint(b->pos_entry, np * sizeof *b->pos_entry);
    huge_hint(b->pos_iso, np * sizeof *b->pos_iso);
    huge_hint(m->res, m->cap_slots * sizeof *m->res);
    huge_hint(m->sums, m->cap_slots * sizeof *m->sums);
    huge_hint(m->scratch, m->cap_slots * sizeof *m->scratch);
    huge_hint(m->band, m->cap_slots);
    huge_hint(m->main_state, m->n_main);
}

/* MARK: parallel evaluation ------------------------------------------------ */

typedef struct eval_job {
    xcr_monitor *m;
    const uint32_t *slots;
    const uint32_t *phys; /* ebook index per entry (UINT32_MAX: by slot) or
                           * NULL: every entry by slot                    */
    xcr_account_result *out;
    atomic_size_t *next; /* the next entry no thread has taken (shared)  */
    size_t n;            /* entries 0..n                                 */
    xcr__ws *ws;
    uint8_t *flags;  /* evaluate: also flag alerting accounts (may be NULL) */
    bool commit;     /* instead: copy out[] into the slots                   */
    long delta[4];   /* commit: change of the status counts                  */
    size_t bad;      /* entry + 1 of the lowest non-finite slot (0: none)    */
} eval_job;

/* How far ahead the tick loops prefetch.  A tick's accounts are spread
 * over the whole book (about one in ten for a 10 % asset), so without it
 * every account costs several serial DRAM misses (its book rows, its old
 * result): the batch path (xcr_margin_all) streams the book in order and
 * never pays them.  Two stages: the row offsets of account k + 2·PF, then
 * the rows themselves of account k + PF (their offsets are in cache). */
#define PF 16

/* Every cache line of a[lo..hi) (elements of `size` bytes), at most 16. */
static void prefetch_range(const void *a, size_t size, uint32_t lo,
                           uint32_t hi)
{
    if (hi <= lo)
        return;
    const char *p = (const char *)a + (size_t)lo * size;
    const char *e = (const char *)a + (size_t)hi * size;
    for (int n = 0; p < e && n < 16; p += 64, n++)
        __builtin_prefetch(p);
    __builtin_prefetch(e - 1);
}

/* Prefetch account i of book b: its CSR offsets and mode, or (rows) the
 * balance and position rows they point at. */
static void prefetch_account(const xcr_book *b, uint32_t i, bool rows)
{
    if (!rows) {
        __builtin_prefetch(&b->bal_off[i]);
        __builtin_prefetch(&b->pos_off[i]);
        __builtin_prefetch(&b->acct_mode[i]);
        return;
    }
    uint32_t b0 = b->bal_off[i], b1 = b->bal_off[i + 1];
    uint32_t p0 = b->pos_off[i], p1 = b->pos_off[i + 1];
    prefetch_range(b->bal_asset, sizeof *b->bal_asset, b0, b1);
    prefetch_range(b->bal_amt, sizeof *b->bal_amt, b0, b1);
    prefetch_range(b->pos_inst, sizeof *b->pos_inst, p0, p1);
    prefetch_range(b->pos_size, sizeof *b->pos_size, p0, p1);
    prefetch_range(b->pos_entry, sizeof *b->pos_entry, p0, p1);
    if (b->acct_mode[i] == XCR_MODE_ISOLATED)
        prefetch_range(b->pos_iso, sizeof *b->pos_iso, p0, p1);
}

static void prefetch_rows(const xcr_monitor *m, uint32_t slot, bool rows)
{
    if (slot >= m->n_main || m->main_state[slot] != 0)
        return; /* overlay accounts: few, small book */
    prefetch_account(m->book, slot, rows);
}

/* As prefetch_rows, for ebook index `ph` of the evaluation copy. */
static void prefetch_phys(const xcr_monitor *m, uint32_t ph, bool rows)
{
    if (ph != UINT32_MAX)
        prefetch_account(m->ebook, ph, rows);
}

/* Entry k has been evaluated (account idx of mk's book): note a
 * non-finite result and whether its alert band changed. */
static void check_entry(const xcr_monitor *m, eval_job *j,
                        const xcr_market *mk, size_t idx, size_t k)
{
    /* the lowest slot, not the first entry: the error names the same
     * account whatever order the entries are in */
    if (!finite_result((xcr_mode)mk->book->acct_mode[idx], &j->out[k]) &&
        (!j->bad || j->slots[k] < j->slots[j->bad - 1]))
        j->bad = k + 1;
    if (j->flags)
        j->flags[k] = m->band[j->slots[k]] != band_of(m, &j->out[k]);
}

/* Shortest run of consecutive evaluation-copy accounts handed to the
 * streaming kernel; shorter ones (overlay neighbours, the edges of a
 * group) take the per-account path with its prefetching.  Not tuned: a
 * demo book's ticks are nearly all long runs (LINK: five runs). */
#define MIN_RUN 8

/* The length of the run of consecutive ebook indices starting at entry k
 * (entries k .. k+len-1 are accounts ph[k] .. ph[k]+len-1), or 0 when it
 * is shorter than MIN_RUN or entry k is an overlay account. */
static size_t phys_run(const xcr_monitor *m, const uint32_t *ph, size_t k,
                       size_t hi)
{
    if (!m->eftab.inst || ph[k] == UINT32_MAX)
        return 0;
    size_t len = 1;
    while (k + len < hi && ph[k + len] == ph[k] + len)
        len++;
    return len >= MIN_RUN ? len : 0;
}

/* Entries are handed out in chunks of CHUNK from a shared counter, so
 * that a thread the scheduler delays (a 2-core machine also runs the HTTP
 * threads and the clients) does not hold the whole pass back: the others
 * take its share.  Which thread does an entry changes nothing: each
 * entry's result is its own, and what is gathered across threads (the
 * non-finite entry with the lowest slot, status counts, alerts sorted by
 * slot) does not depend on the split. */
#define CHUNK 2048

/* Claim the next chunk [*lo, *hi) of n entries; false when none is left. */
static bool next_chunk(atomic_size_t *next, size_t n, size_t *lo, size_t *hi)
{
    *lo = atomic_fetch_add_explicit(next, CHUNK, memory_order_relaxed);
    if (*lo >= n)
        return false;
    *hi = *lo + CHUNK < n ? *lo + CHUNK : n;
    return true;
}

static void eval_range(eval_job *j, size_t lo, size_t hi);

static void *eval_worker(void *arg)
{
    eval_job *j = arg;
    j->bad = 0;
    size_t lo, hi;
    while (next_chunk(j->next, j->n, &lo, &hi))
        eval_range(j, lo, hi);
    return NULL;
}

static void eval_range(eval_job *j, size_t lo, size_t hi)
{
    xcr_monitor *m = j->m;
    if (j->commit) {
        /* the tick's results become the state, on the same threads that
         * computed them (the slots are distinct: no two jobs share one) */
        for (size_t k = lo; k < hi; k++) {
            if (k + PF < hi) {
                uint32_t ahead = j->slots[k + PF];
                __builtin_prefetch(&m->res[ahead], 1);
                __builtin_prefetch(&m->sums[ahead], 1);
            }
            uint32_t sl = j->slots[k];
            j->delta[m->band[sl] >> 4]--;
            j->delta[j->out[k].status]++;
            set_slot(m, sl, &j->out[k]);
        }
        return;
    }
    const uint32_t *ph = j->phys;
    for (size_t k = lo; k < hi; k++) {
        size_t run = ph ? phys_run(m, ph, k, hi) : 0;
        if (run) {
            /* consecutive accounts of the evaluation copy: the streaming
             * kernel, bit-identical to xcr__eval_account (fast_margin.h) */
            xcr__fast_eval_range_at(m->emkt, &m->eftab, ph[k], ph[k] + run,
                                    j->ws, &j->out[k], NULL);
            for (size_t e = 0; e < run; e++)
                check_entry(m, j, m->emkt, ph[k + e], k + e);
            k += run - 1; /* the loop's k++ moves past the run */
            continue;
        }
        if (k + 2 * PF < hi) {
            if (ph)
                prefetch_phys(m, ph[k + 2 * PF], false);
            else
                prefetch_rows(m, j->slots[k + 2 * PF], false);
        }
        if (k + PF < hi) {
            if (ph)
                prefetch_phys(m, ph[k + PF], true);
            else
                prefetch_rows(m, j->slots[k + PF], true);
            __builtin_prefetch(&m->band[j->slots[k + PF]]);
        }
        const xcr_market *mk;
        size_t idx;
        if (ph && ph[k] != UINT32_MAX) {
            mk = m->emkt;
            idx = ph[k];
        } else {
            slot_target(m, j->slots[k], &mk, &idx);
        }
        xcr__eval_account(mk, NULL, idx, j->ws, &j->out[k], NULL, NULL);
        check_entry(m, j, mk, idx, k);
    }
}

/* Threads for a parallel pass over n entries: as many as the monitor
 * has workspaces for, none idle on a small pass. */
static int pass_threads(const xcr_monitor *m, size_t n)
{
    int nt = xcr__thread_count(m->threads, n * 8);
    if (nt > m->n_ws)
        nt = m->n_ws;
    return nt < 1 ? 1 : nt;
}

static size_t run_eval(xcr_monitor *m, const uint32_t *slots,
                       const uint32_t *phys, size_t n,
                       xcr_account_result *out, uint8_t *flags, bool commit)
{
    const int nt = pass_threads(m, n);
    eval_job jobs[XCR__MAX_THREADS];
    atomic_size_t next;
    atomic_init(&next, 0);
    for (int t = 0; t < nt; t++)
        jobs[t] = (eval_job){m,         slots, phys,   out,
                             &next,     n,     &m->ws[t], flags,
                             commit,    {0, 0, 0, 0}, 0};
    xcr__run_jobs(eval_worker, jobs, sizeof jobs[0], nt);
    size_t bad = 0;
    for (int t = 0; t < nt; t++) {
        if (jobs[t].bad &&
            (!bad || slots[jobs[t].bad - 1] < slots[bad - 1]))
            bad = jobs[t].bad;
        for (int q = 0; q < 4; q++)
            m->by_status[q] = (size_t)((long)m->by_status[q] + jobs[t].delta[q]);
    }
    return bad;
}

/* Evaluate slots[0..n) into out[]; returns the index + 1 of the first
 * non-finite result (0 = all finite). */
static size_t eval_slots(xcr_monitor *m, const uint32_t *slots, size_t n,
                         xcr_account_result *out)
{
    return run_eval(m, slots, NULL, n, out, NULL, false);
}

/* Every slot from scratch. */
static xcr_status full_recompute(xcr_monitor *m, xcr_error *err)
{
    size_t n = 0;
    for (size_t s = 0; s < m->n_slots; s++) {
        m->alive[s] = s >= m->n_main || m->main_state[s] != 2;
        if (m->alive[s])
            m->touched[n++] = (uint32_t)s;
        else
            set_slot(m, s, &(xcr_account_result){0});
    }
    size_t bad = eval_slots(m, m->touched, n, m->scratch);
    if (bad) {
        const xcr_market *mk;
        size_t idx;
        slot_target(m, m->touched[bad - 1], &mk, &idx);
        return xcr__fail(err, XCR_ERANGE,
                         "account \"%s\": margin is not a finite number",
                         mk->book->acct_id[idx]);
    }
    for (size_t k = 0; k < n; k++)
        set_slot(m, m->touched[k], &m->scratch[k]);
    recount(m);
    huge_hint_all(m);
    return XCR_OK;
}

/* MARK: markets ---------------------------------------------------------------- */

/* A market over `b` at the monitor's live prices and vols. */
static xcr_status live_market(const xcr_monitor *m, const xcr_book *b,
                              xcr_market **out, xcr_error *err)
{
    xcr_market *mk = NULL;
    if (xcr_market_new(b, &mk) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    xcr_status s = xcr_market_set_prices(mk, m->mkt->price, err);
    for (size_t a = 0; a < b->n_assets && s == XCR_OK; a++)
        if (m->vol_shift[a] != 0)
            s = xcr_market_set_vol_shift(mk, a, m->vol_shift[a], err);
    if (s != XCR_OK) {
        xcr_market_free(mk);
        return s;
    }
    *out = mk;
    return XCR_OK;
}

/* MARK: index ----------------------------------------------------------------- */

/* Assets whose price an account's margin depends on: its balances, and the
 * underlying and settle asset of each position. */
static void exposed_flags(const xcr_book *b, const acct_def *d, uint8_t *f)
{
    memset(f, 0, b->n_assets);
    for (size_t k = 0; k < d->nbal; k++)
        f[d->bal_asset[k]] = 1;
    for (size_t k = 0; k < d->npos; k++) {
        f[b->insts[d->pos_inst[k]].und] = 1;
        f[b->insts[d->pos_inst[k]].settle] = 1;
    }
}

/* asset → the ebook indices of the accounts exposed to it, ascending (so a
 * tick reads them in storage order). */
static xcr_status build_index(xcr_monitor *m, xcr_error *err)
{
    const xcr_book *b = m->ebook;
    size_t na = b->n_assets;
    free(m->idx_off);
    free(m->idx_acct);
    m->idx_acct = NULL;
    m->idx_off = calloc(na + 2, sizeof *m->idx_off);
    uint32_t *stamp = calloc(na + 1, sizeof *stamp);
    if (!m->idx_off || !stamp) {
        free(stamp);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    /* two passes: count, then fill; stamp = account + 1 dedupes */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *fill = NULL;
        if (pass == 1) {
            for (size_t a = 0; a < na; a++)
                m->idx_off[a + 1] += m->idx_off[a];
            m->idx_acct = malloc((m->idx_off[na] + 1) * sizeof *m->idx_acct);
            fill = calloc(na + 1, sizeof *fill);
            if (!m->idx_acct || !fill) {
                free(fill);
                free(stamp);
                return xcr__fail(err, XCR_ENOMEM, "out of memory");
            }
            memset(stamp, 0, (na + 1) * sizeof *stamp);
        }
        for (size_t i = 0; i < b->n_accts; i++) {
            uint32_t tag = (uint32_t)i + 1;
            for (int part = 0; part < 3; part++) {
                size_t lo = part == 0 ? b->bal_off[i] : b->pos_off[i];
                size_t hi = part == 0 ? b->bal_off[i + 1] : b->pos_off[i + 1];
                for (size_t k = lo; k < hi; k++) {
                    uint32_t a = part == 0   ? b->bal_asset[k]
                                 : part == 1 ? b->insts[b->pos_inst[k]].und
                                             : b->insts[b->pos_inst[k]].settle;
                    if (stamp[a] == tag)
                        continue;
                    stamp[a] = tag;
                    if (pass == 0)
                        m->idx_off[a + 1]++;
                    else
                        m->idx_acct[m->idx_off[a] + fill[a]++] = (uint32_t)i;
                }
            }
        }
        free(fill);
    }
    free(stamp);
    return XCR_OK;
}

/* MARK: overlay ----------------------------------------------------------------- */

static xcr_status build_book(const xcr_monitor *m, bool with_main,
                             xcr_book **out, xcr_error *err)
{
    xcr_book *b = NULL;
    TRY(xcr__book_copy_header(m->book, &b, err));
    xcr_status s = XCR_OK;
    for (size_t i = 0; with_main && i < m->n_main && s == XCR_OK; i++) {
        if (m->main_state[i] == 2)
            continue;
        acct_def *d = m->main_state[i] == 1
                          ? m->defs[m->main_ov[i]]
                          : xcr__def_from_book(m->book, i);
        if (!d) {
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
            break;
        }
        s = xcr__book_add_def(b, d, err);
        if (m->main_state[i] == 0)
            xcr_account_upsert_free(d);
    }
    for (size_t k = 0; k < m->n_defs && s == XCR_OK; k++)
        if (!with_main || m->def_main[k] < 0)
            s = xcr__book_add_def(b, m->defs[k], err);
    if (s == XCR_OK)
        s = xcr_book_finalize(b, err);
    if (s != XCR_OK) {
        xcr_book_free(b);
        return s;
    }
    *out = b;
    return XCR_OK;
}

/* Rebuild the overlay book and market from the defs, assign slots and
 * evaluate the overlay accounts. */
static xcr_status rebuild_overlay(xcr_monitor *m, bool evaluate,
                                  xcr_error *err)
{
    xcr_market_free(m->ov_mkt);
    xcr_book_free(m->ov_book);
    m->ov_mkt = NULL;
    m->ov_book = NULL;
    xcr__strmap_free(&m->ov_map);
    xcr__strmap_init(&m->ov_map, &xcr__libc_alloc);
    size_t n_new = 0;
    for (size_t k = 0; k < m->n_defs; k++) {
        if (xcr__strmap_put(&m->ov_map, m->defs[k]->id, (uint32_t)k, NULL) !=
            XCR_OK)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        if (m->def_main[k] >= 0) {
            m->def_slot[k] = (uint32_t)m->def_main[k];
            m->main_ov[m->def_main[k]] = (int32_t)k;
        } else {
            m->new_def[n_new] = (uint32_t)k;
            m->def_slot[k] = (uint32_t)(m->n_main + n_new++);
        }
        exposed_flags(m->book, m->defs[k], m->def_exposed[k]);
    }
    if (!grow_slots(m, m->n_main + n_new))
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    m->n_slots = m->n_main + n_new;
    if (m->n_defs) {
        TRY(build_book(m, false, &m->ov_book, err));
        TRY(live_market(m, m->ov_book, &m->ov_mkt, err));
    }
    for (size_t i = 0; i < m->n_main; i++) {
        m->alive[i] = m->main_state[i] != 2;
        if (!m->alive[i])
            set_slot(m, i, &(xcr_account_result){0});
    }
    for (size_t k = 0; k < m->n_defs; k++)
        m->alive[m->def_slot[k]] = 1;
    if (!evaluate)
        return XCR_OK;
    for (size_t k = 0; k < m->n_defs; k++)
        m->touched[k] = m->def_slot[k];
    size_t bad = eval_slots(m, m->touched, m->n_defs, m->scratch);
    if (bad)
        return xcr__fail(err, XCR_ERANGE,
                         "account \"%s\": margin is not a finite number",
                         m->defs[bad - 1]->id);
    for (size_t k = 0; k < m->n_defs; k++)
        set_slot(m, m->def_slot[k], &m->scratch[k]);
    recount(m);
    return XCR_OK;
}

static void free_defs(xcr_monitor *m)
{
    for (size_t k = 0; k < m->n_defs; k++) {
        xcr_account_upsert_free(m->defs[k]);
        free(m->def_exposed[k]);
    }
    m->n_defs = 0;
}

/* MARK: locality ------------------------------------------------------------- */

/* The exposure signature of account i: one bit per asset it depends on,
 * the rarest assets in the most significant bits (bit_of[a]).  Sorting by
 * it puts the accounts of a rare asset in one run and those of a common one
 * in few runs, so a tick reads the evaluation copy almost sequentially
 * instead of one scattered account (and its cache/TLB misses) at a time. */
static uint64_t signature(const xcr_book *b, size_t i, const uint8_t *bit_of)
{
    uint64_t sig = 0;
    for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++)
        sig |= (uint64_t)1 << bit_of[b->bal_asset[k]];
    for (uint32_t k = b->pos_off[i]; k < b->pos_off[i + 1]; k++) {
        sig |= (uint64_t)1 << bit_of[b->insts[b->pos_inst[k]].und];
        sig |= (uint64_t)1 << bit_of[b->insts[b->pos_inst[k]].settle];
    }
    return sig;
}

typedef struct sig_acct {
    uint64_t sig;
    uint32_t i;
} sig_acct;

static int cmp_sig(const void *x, const void *y)
{
    const sig_acct *a = x, *b = y;
    if (a->sig != b->sig)
        return a->sig < b->sig ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i; /* stable by canonical index */
}

typedef struct count_asset {
    size_t n;
    uint32_t a;
} count_asset;

static int cmp_count(const void *x, const void *y)
{
    const count_asset *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1; /* most common first: low bits */
    return a->a < b->a ? -1 : a->a > b->a;
}

static void free_ebook(xcr_monitor *m)
{
    if (m->eftab.inst) /* built with the copy */
        xcr__fast_tab_free(&m->eftab, m->ebook);
    xcr_market_free(m->emkt);
    xcr_book_free(m->ebook);
    free(m->phys_of);
    free(m->slot_of_phys);
    m->emkt = NULL;
    m->ebook = NULL;
    m->phys_of = m->slot_of_phys = NULL;
}

/* Build the evaluation copy of the main book (its accounts sorted by
 * signature, stable), its market at the live prices and the permutation.
 * Every account is built from its own definition exactly as compaction
 * builds the main book, so its results are bit-identical. */
static xcr_status build_ebook(xcr_monitor *m, xcr_error *err)
{
    free_ebook(m);
    const xcr_book *b = m->book;
    size_t n = b->n_accts, na = b->n_assets;
    sig_acct *sa = malloc((n + 1) * sizeof *sa);
    count_asset *ca = calloc(na + 1, sizeof *ca);
    uint8_t *bit_of = calloc(na + 1, 1);
    m->phys_of = malloc((n + 1) * sizeof *m->phys_of);
    m->slot_of_phys = malloc((n + 1) * sizeof *m->slot_of_phys);
    xcr_status s = XCR_OK;
    if (!sa || !ca || !bit_of || !m->phys_of || !m->slot_of_phys) {
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t a = 0; a < na; a++)
        ca[a].a = (uint32_t)a;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = b->bal_off[i]; k < b->bal_off[i + 1]; k++)
            ca[b->bal_asset[k]].n++;
        for (uint32_t k = b->pos_off[i]; k < b->pos_off[i + 1]; k++)
            ca[b->insts[b->pos_inst[k]].und].n++;
    }
    qsort(ca, na, sizeof *ca, cmp_count);
    for (size_t r = 0; r < na; r++)
        bit_of[ca[r].a] = (uint8_t)(r < 63 ? r : 63);
    for (size_t i = 0; i < n; i++)
        sa[i] = (sig_acct){signature(b, i, bit_of), (uint32_t)i};
    qsort(sa, n, sizeof *sa, cmp_sig);
    xcr_book *e = NULL;
    s = xcr__book_copy_header(b, &e, err);
    for (size_t p = 0; p < n && s == XCR_OK; p++) {
        acct_def *d = xcr__def_from_book(b, sa[p].i);
        if (!d) {
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
            break;
        }
        s = xcr__book_add_def(e, d, err);
        xcr_account_upsert_free(d);
        m->slot_of_phys[p] = sa[p].i;
        m->phys_of[sa[p].i] = (uint32_t)p;
    }
    if (s == XCR_OK)
        s = xcr_book_finalize(e, err);
    if (s == XCR_OK)
        s = live_market(m, e, &m->emkt, err);
    if (s == XCR_OK &&
        xcr__fast_tab_init(&m->eftab, m->emkt, XCR__MPATH_AUTO) != XCR_OK)
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (s != XCR_OK) {
        xcr_market_free(m->emkt);
        m->emkt = NULL;
        xcr_book_free(e);
    } else {
        m->ebook = e;
    }
done:
    free(sa);
    free(ca);
    free(bit_of);
    return s;
}

/* Install `b` as the main book (taken over) at the live prices. */
static xcr_status set_main(xcr_monitor *m, xcr_book *b, xcr_error *err)
{
    xcr_market *mk = NULL;
    if (m->mkt) {
        xcr_status s = live_market(m, b, &mk, err);
        if (s != XCR_OK) {
            xcr_book_free(b);
            return s;
        }
    } else if (xcr_market_new(b, &mk) != XCR_OK) {
        xcr_book_free(b);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    xcr_market_free(m->mkt);
    xcr_book_free(m->book);
    m->book = b;
    m->mkt = mk;
    m->n_main = b->n_accts;
    free(m->main_state);
    free(m->main_ov);
    free(m->off_bits);
    m->main_state = calloc(m->n_main + 1, 1);
    m->main_ov = calloc(m->n_main + 1, sizeof *m->main_ov);
    m->off_bits = calloc(m->n_main / 64 + 1, sizeof *m->off_bits);
    if (!m->main_state || !m->main_ov || !m->off_bits)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    TRY(build_ebook(m, err));
    return build_index(m, err);
}

xcr_status xcr_monitor_compact(xcr_monitor *m, xcr_error *err)
{
    if (!m)
        return xcr__fail(err, XCR_EINVAL, "monitor is NULL");
    bool any = m->n_defs > 0;
    for (size_t i = 0; i < m->n_main && !any; i++)
        any = m->main_state[i] != 0;
    if (!any)
        return XCR_OK;
    xcr_book *b = NULL;
    TRY(build_book(m, true, &b, err));
    free_defs(m);
    TRY(set_main(m, b, err));
    TRY(rebuild_overlay(m, false, err));
    return full_recompute(m, err);
}

/* Main account i is shadowed (1) or deleted (2): also in off_bits, which
 * a tick scans in evaluation-copy order instead of reading main_state at
 * scattered slots. */
static void set_main_state(xcr_monitor *m, size_t i, uint8_t state)
{
    m->main_state[i] = state;
    const uint32_t ph = m->phys_of[i];
    m->off_bits[ph >> 6] |= (uint64_t)1 << (ph & 63);
}

/* MARK: alerts ------------------------------------------------------------------ */

/* Append x to the growable array (*a, *n, *cap). */
static bool alert_push(xcr__alert **a, size_t *n, size_t *cap,
                       const xcr__alert *x)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        xcr__alert *p = realloc(*a, c * sizeof *p);
        if (!p)
            return false;
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = *x;
    return true;
}

static bool push_pending(xcr_monitor *m, const xcr__alert *a)
{
    return alert_push(&m->pending, &m->n_pending, &m->cap_pending, a);
}

/* Alerts for one account whose old result had alert band `band0`
 * (band_of) going to `r`.  The band holds all the old result an alert
 * needs: its status, and which levels its health passed — level l exactly
 * when more levels than level_lt[l] (the levels below it) were passed,
 * since the passed levels are the lowest ones. */
static bool band_alerts(const xcr_monitor *m, xcr__alert **buf, size_t *n,
                        size_t *cap, uint64_t seq0, const char *id,
                        double now, uint8_t band0, const xcr_account_result *r)
{
    if (band0 == band_of(m, r))
        return true;
    const xcr_acct_status from = (xcr_acct_status)(band0 >> 4);
    const unsigned passed0 = band0 & 15u;
    xcr__alert a;
    memset(&a, 0, sizeof a);
    a.update_seq = m->seq + 1;
    a.time = now;
    a.from = (uint8_t)from;
    a.to = (uint8_t)r->status;
    a.health = r->health;
    size_t idl = strlen(id);
    if (idl >= sizeof a.account)
        idl = sizeof a.account - 1;
    memcpy(a.account, id, idl);
    a.account[idl] = '\0';
    if (from != r->status) {
        a.seq = seq0 + *n + 1;
        a.kind = 0;
        a.level = NAN;
        if (!alert_push(buf, n, cap, &a))
            return false;
    }
    for (size_t l = 0; l < m->n_levels; l++) {
        double lv = m->levels[l];
        if ((passed0 > m->level_lt[l]) != (r->health >= lv)) {
            a.seq = seq0 + *n + 1;
            a.kind = 1;
            a.level = lv;
            if (!alert_push(buf, n, cap, &a))
                return false;
        }
    }
    return true;
}

/* Alerts for one account going from `o` to `r` (o NULL: a new account,
 * counted as healthy with infinite health). */
static bool diff_alerts(xcr_monitor *m, const char *id, double now,
                        const xcr_account_result *o,
                        const xcr_account_result *r)
{
    xcr_account_result fresh = {0};
    fresh.status = XCR_HEALTHY;
    fresh.health = INFINITY;
    return band_alerts(m, &m->pending, &m->n_pending, &m->cap_pending,
                       m->alert_seq, id, now, band_of(m, o ? o : &fresh), r);
}

static void commit_alerts(xcr_monitor *m)
{
    for (size_t k = 0; k < m->n_pending; k++) {
        size_t at = (m->ring_head + m->ring_len) % m->ring_cap;
        m->ring[at] = m->pending[k];
        if (m->ring_len < m->ring_cap)
            m->ring_len++;
        else
            m->ring_head = (m->ring_head + 1) % m->ring_cap;
    }
    m->alert_seq += m->n_pending;
}

/* MARK: construction ------------------------------------------------------------ */

static xcr_status init_common(xcr_monitor *m, const xcr_monitor_opts *o,
                              xcr_error *err)
{
    if (o)
        m->opts = *o;
    m->opts.book_path = m->opts.db_path = m->opts.pg_uri = NULL;
    if (!m->opts.overlay_max)
        m->opts.overlay_max = 4096;
    if (!m->opts.alert_ring)
        m->opts.alert_ring = 65536;
    m->threads = m->opts.threads;
    if (o && o->n_levels) {
        if (o->n_levels > XCR_MONITOR_MAX_LEVELS)
            return xcr__fail(err, XCR_EINVAL, "at most %d health levels",
                             XCR_MONITOR_MAX_LEVELS);
        for (size_t k = 0; k < o->n_levels; k++) {
            if (!isfinite(o->levels[k]) || !(o->levels[k] > 0))
                return xcr__fail(err, XCR_EINVAL,
                                 "health level %g must be a finite number > 0",
                                 o->levels[k]);
            m->levels[k] = o->levels[k];
        }
        m->n_levels = o->n_levels;
    } else {
        static const double dflt[] = {1.5, 1.2, 1.1};
        memcpy(m->levels, dflt, sizeof dflt);
        m->n_levels = 3;
    }
    for (size_t l = 0; l < m->n_levels; l++) {
        m->level_lt[l] = 0;
        for (size_t k = 0; k < m->n_levels; k++)
            m->level_lt[l] += m->levels[k] < m->levels[l];
    }
    m->ring_cap = m->opts.alert_ring;
    m->ring = calloc(m->ring_cap, sizeof *m->ring);
    m->last_tick = NAN;
    xcr__strmap_init(&m->ov_map, &xcr__libc_alloc);
    if (!m->ring)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    return XCR_OK;
}

/* Attach the book, allocate the per-asset and per-thread state. */
static xcr_status attach_book(xcr_monitor *m, xcr_book *b, xcr_error *err)
{
    size_t na = b->n_assets;
    m->vol_shift = calloc(na + 1, sizeof *m->vol_shift);
    m->vol = calloc(na + 1, sizeof *m->vol);
    if (!m->vol_shift || !m->vol) {
        xcr_book_free(b);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    for (size_t a = 0; a < na; a++)
        m->vol[a] = b->assets[a].vol;
    TRY(set_main(m, b, err));
    int nt = xcr__thread_count(m->threads, (size_t)1 << 40);
    for (int t = 0; t < nt; t++) {
        if (xcr__ws_init(&m->ws[t], m->book) != XCR_OK)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        m->n_ws = t + 1;
    }
    return rebuild_overlay(m, false, err);
}

xcr_status xcr_monitor_new(xcr_book *book, const xcr_monitor_opts *o,
                           xcr_monitor **out, xcr_error *err)
{
    if (!book || !out || !book->finalized) {
        xcr_book_free(book);
        return xcr__fail(err, XCR_EINVAL, "a finalized book is required");
    }
    *out = NULL;
    xcr_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        xcr_book_free(book);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    xcr_status s = init_common(m, o, err);
    if (s != XCR_OK)
        xcr_book_free(book);
    else
        s = attach_book(m, book, err);
    if (s == XCR_OK)
        s = full_recompute(m, err);
    if (s != XCR_OK) {
        xcr_monitor_free(m);
        return s;
    }
    *out = m;
    return XCR_OK;
}

void xcr_monitor_free(xcr_monitor *m)
{
    if (!m)
        return;
    if (m->store)
        m->store->ops->close(m->store);
    free_defs(m);
    free(m->defs);
    free(m->def_main);
    free(m->def_slot);
    free(m->new_def);
    free(m->def_exposed);
    xcr__strmap_free(&m->ov_map);
    xcr_market_free(m->ov_mkt);
    xcr_book_free(m->ov_book);
    for (int t = 0; t < m->n_ws; t++)
        xcr__ws_free(&m->ws[t], m->book);
    free_ebook(m);
    xcr_market_free(m->mkt);
    xcr_book_free(m->book);
    free(m->idx_off);
    free(m->idx_acct);
    free(m->main_state);
    free(m->main_ov);
    free(m->vol_shift);
    free(m->vol);
    free(m->res);
    free(m->sums);
    free(m->band);
    free(m->alive);
    free(m->scratch);
    free(m->touched);
    free(m->touched_phys);
    free(m->touched_bits);
    free(m->off_bits);
    free(m->flags);
    free(m->ring);
    free(m->pending);
    for (size_t t = 0; t < XCR__MAX_THREADS; t++) {
        free(m->ta[t].a);
        free(m->ta[t].rec);
    }
    free(m);
}

/* MARK: state transitions (shared by live updates and replay) ---------------- */

static bool defs_reserve(xcr_monitor *m)
{
    if (m->n_defs < m->cap_defs)
        return true;
    size_t cap = m->cap_defs ? 2 * m->cap_defs : 16;
    acct_def **d = realloc(m->defs, cap * sizeof *d);
    if (d)
        m->defs = d;
    long *dm = realloc(m->def_main, cap * sizeof *dm);
    if (dm)
        m->def_main = dm;
    uint32_t *ds = realloc(m->def_slot, cap * sizeof *ds);
    if (ds)
        m->def_slot = ds;
    uint8_t **de = realloc(m->def_exposed, cap * sizeof *de);
    if (de)
        m->def_exposed = de;
    uint32_t *nd = realloc(m->new_def, cap * sizeof *nd);
    if (nd)
        m->new_def = nd;
    if (!d || !dm || !ds || !de || !nd)
        return false;
    m->cap_defs = cap;
    return true;
}

static long def_index(const xcr_monitor *m, const char *id)
{
    return xcr__strmap_get(&m->ov_map, id);
}

/* Live main account of this id, or -1. */
static long live_main(const xcr_monitor *m, const char *id)
{
    long i = xcr_book_find_account(m->book, id);
    return i >= 0 && m->main_state[i] == 0 ? i : -1;
}

/* Take `d` into the defs (replacing, shadowing or appending).  Keeps
 * ov_map usable for lookups (a full rebuild follows). */
static xcr_status state_upsert(xcr_monitor *m, acct_def *d, xcr_error *err)
{
    long k = def_index(m, d->id);
    if (k >= 0) {
        xcr_account_upsert_free(m->defs[k]);
        m->defs[k] = d;
        return XCR_OK;
    }
    uint8_t *ex = malloc(m->book->n_assets + 1);
    if (!ex || !defs_reserve(m)) {
        free(ex);
        xcr_account_upsert_free(d);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    long i = live_main(m, d->id);
    k = (long)m->n_defs++;
    m->defs[k] = d;
    m->def_main[k] = i;
    m->def_exposed[k] = ex;
    if (i >= 0) {
        set_main_state(m, (size_t)i, 1);
        m->main_ov[i] = (int32_t)k;
    }
    if (xcr__strmap_put(&m->ov_map, d->id, (uint32_t)k, NULL) != XCR_OK)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    return XCR_OK;
}

static xcr_status state_delete(xcr_monitor *m, const char *id, xcr_error *err)
{
    long k = def_index(m, id);
    if (k >= 0) {
        if (m->def_main[k] >= 0)
            set_main_state(m, (size_t)m->def_main[k], 2);
        xcr_account_upsert_free(m->defs[k]);
        free(m->def_exposed[k]);
        for (size_t j = (size_t)k + 1; j < m->n_defs; j++) {
            m->defs[j - 1] = m->defs[j];
            m->def_main[j - 1] = m->def_main[j];
            m->def_exposed[j - 1] = m->def_exposed[j];
        }
        m->n_defs--;
        /* indexes shifted: rebuild the id map now */
        xcr__strmap_free(&m->ov_map);
        xcr__strmap_init(&m->ov_map, &xcr__libc_alloc);
        for (size_t j = 0; j < m->n_defs; j++)
            if (xcr__strmap_put(&m->ov_map, m->defs[j]->id, (uint32_t)j,
                                NULL) != XCR_OK)
                return xcr__fail(err, XCR_ENOMEM, "out of memory");
        return XCR_OK;
    }
    long i = live_main(m, id);
    if (i < 0)
        return xcr__fail(err, XCR_ENOTFOUND, "unknown account \"%.64s\"", id);
    set_main_state(m, (size_t)i, 2);
    return XCR_OK;
}

/* After upserts/deletes: compact past the threshold, else rebuild the
 * overlay. */
static xcr_status state_settle(xcr_monitor *m, bool evaluate, xcr_error *err)
{
    if (m->n_defs > m->opts.overlay_max) {
        xcr_book *b = NULL;
        TRY(build_book(m, true, &b, err));
        free_defs(m);
        TRY(set_main(m, b, err));
        TRY(rebuild_overlay(m, false, err));
        return evaluate ? full_recompute(m, err) : XCR_OK;
    }
    return rebuild_overlay(m, evaluate, err);
}

static xcr_status state_prices(xcr_monitor *m, const xcr_tick *t, size_t n,
                               xcr_error *err)
{
    for (size_t k = 0; k < n; k++) {
        TRY(xcr_market_set_price(m->mkt, t[k].asset, t[k].price, err));
        if (m->ov_mkt)
            TRY(xcr_market_set_price(m->ov_mkt, t[k].asset, t[k].price, err));
        if (m->emkt)
            TRY(xcr_market_set_price(m->emkt, t[k].asset, t[k].price, err));
        if (!isnan(t[k].vol)) {
            /* a new annualised vol shifts every option's iv on the asset by
             * the change from the book's vol (docs/serve.md) */
            double shift = t[k].vol - m->book->assets[t[k].asset].vol;
            m->vol[t[k].asset] = t[k].vol;
            m->vol_shift[t[k].asset] = shift;
            TRY(xcr_market_set_vol_shift(m->mkt, t[k].asset, shift, err));
            if (m->ov_mkt)
                TRY(xcr_market_set_vol_shift(m->ov_mkt, t[k].asset, shift,
                                             err));
            if (m->emkt)
                TRY(xcr_market_set_vol_shift(m->emkt, t[k].asset, shift,
                                             err));
        }
    }
    return XCR_OK;
}

/* MARK: normalised bodies ------------------------------------------------------- */

static char *ticks_json(const xcr_book *b, const xcr_tick *t, size_t n)
{
    size_t cap = 32 + n * 160;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    /* at most ~150 bytes a tick (64-character symbol, two 24-character
     * numbers): 160 a tick never truncates; the guard keeps it so */
    size_t at = (size_t)snprintf(s, cap, "{\"ticks\": [");
    for (size_t k = 0; k < n && at + 160 < cap; k++) {
        char p[40], v[40];
        xcr__fmt_double(t[k].price, p, sizeof p);
        at += (size_t)snprintf(s + at, cap - at, "%s{\"symbol\": \"%s\", "
                                                 "\"price\": %s",
                               k ? ", " : "", b->assets[t[k].asset].symbol, p);
        if (!isnan(t[k].vol)) {
            xcr__fmt_double(t[k].vol, v, sizeof v);
            at += (size_t)snprintf(s + at, cap - at, ", \"vol\": %s", v);
        }
        at += (size_t)snprintf(s + at, cap - at, "}");
    }
    snprintf(s + at, cap - at, "]}");
    return s;
}

static xcr_status store_append(xcr_monitor *m, double now, const char *kind,
                               const char *body, xcr_error *err)
{
    if (!m->store)
        return XCR_OK;
    xcr_status s = m->store->ops->append(m->store, m->seq + 1, now, kind, body,
                                         m->pending, m->n_pending, err);
    if (s != XCR_OK)
        xcr__error_prefix(err, "state not saved, update not applied");
    return s;
}

/* MARK: live updates ------------------------------------------------------------ */

/* MARK: a tick's alerts ---------------------------------------------------- */

typedef struct alert_job {
    xcr_monitor *m;
    struct xcr__tick_alerts *ta;
    atomic_size_t *next; /* chunks of the nt entries, as in eval_worker  */
    size_t nt;
    double now;
} alert_job;

/* The alerts of entries [lo, hi) whose band changed (flags), in entry
 * order, into the thread's buffer: entries, old bands (all of the old
 * result an alert needs) and the evaluation copy's ids are read in storage
 * order.  False when out of memory. */
static bool alert_range(const alert_job *j, size_t lo, size_t hi)
{
    const xcr_monitor *m = j->m;
    struct xcr__tick_alerts *ta = j->ta;
    for (size_t k = lo; k < hi; k++) {
        if (!m->flags[k])
            continue;
        const uint32_t sl = m->touched[k], ph = m->touched_phys[k];
        const char *id;
        if (ph != UINT32_MAX) {
            id = m->ebook->acct_id[ph];
        } else {
            const xcr_market *mk;
            size_t idx;
            slot_target(m, sl, &mk, &idx);
            id = mk->book->acct_id[idx];
        }
        if (ta->nrec == ta->cap_rec) {
            size_t c = ta->cap_rec ? 2 * ta->cap_rec : 256;
            uint32_t *r = realloc(ta->rec, 2 * c * sizeof *r);
            if (!r)
                return false;
            ta->rec = r;
            ta->cap_rec = c;
        }
        ta->rec[2 * ta->nrec] = sl;
        ta->rec[2 * ta->nrec + 1] = (uint32_t)ta->n;
        ta->nrec++;
        if (!band_alerts(m, &ta->a, &ta->n, &ta->cap, 0, id, j->now,
                         m->band[sl], &m->scratch[k]))
            return false;
    }
    return true;
}

static void *alert_worker(void *arg)
{
    alert_job *j = arg;
    j->ta->n = j->ta->nrec = 0;
    j->ta->oom = false;
    size_t lo, hi;
    while (!j->ta->oom && next_chunk(j->next, j->nt, &lo, &hi))
        j->ta->oom = !alert_range(j, lo, hi);
    return NULL;
}

/* The tick's alerts (entries 0..nt evaluated into scratch, flagged) into
 * pending, in canonical order (by slot) and numbered.  The threads make
 * them per chunk of entries; the alerting accounts are then sorted by
 * slot — distinct keys — with three stable counting passes over 11 bits
 * each (LSD radix sort: a few passes over memory instead of n log n
 * comparisons), and their alerts copied in that order. */
static bool tick_alerts(xcr_monitor *m, size_t nt, double now)
{
    const int nth = pass_threads(m, nt);
    alert_job jobs[XCR__MAX_THREADS];
    atomic_size_t next;
    atomic_init(&next, 0);
    for (int t = 0; t < nth; t++)
        jobs[t] = (alert_job){m, &m->ta[t], &next, nt, now};
    xcr__run_jobs(alert_worker, jobs, sizeof jobs[0], nth);
    size_t nf = 0, na = 0;
    for (int t = 0; t < nth; t++) {
        if (m->ta[t].oom)
            return false;
        nf += m->ta[t].nrec;
        na += m->ta[t].n;
    }
    m->n_pending = 0;
    if (na > m->cap_pending) {
        xcr__alert *p = realloc(m->pending, na * sizeof *p);
        if (!p)
            return false;
        m->pending = p;
        m->cap_pending = na;
    }
    /* key: slot; value: thread << 24 | record (records < 2^24 per thread
     * would need 16M alerting accounts in one tick; checked) */
    uint32_t *key = malloc(2 * (nf + 1) * sizeof *key);
    uint32_t *tmp = malloc(2 * (nf + 1) * sizeof *tmp);
    bool ok = key && tmp;
    size_t f = 0;
    for (int t = 0; t < nth && ok; t++) {
        const struct xcr__tick_alerts *ta = &m->ta[t];
        ok = ta->nrec < (1u << 24);
        for (size_t r = 0; r < ta->nrec && ok; r++, f++) {
            key[2 * f] = ta->rec[2 * r];
            key[2 * f + 1] = (uint32_t)t << 24 | (uint32_t)r;
        }
    }
    if (!ok) {
        free(key);
        free(tmp);
        return false;
    }
    size_t count[2048];
    for (unsigned shift = 0; shift < 33; shift += 11) {
        memset(count, 0, sizeof count);
        for (f = 0; f < nf; f++)
            count[key[2 * f] >> shift & 2047u]++;
        size_t at = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (f = 0; f < nf; f++) {
            size_t to = count[key[2 * f] >> shift & 2047u]++;
            tmp[2 * to] = key[2 * f];
            tmp[2 * to + 1] = key[2 * f + 1];
        }
        uint32_t *sw = key;
        key = tmp;
        tmp = sw;
    }
    for (f = 0; f < nf; f++) {
        const struct xcr__tick_alerts *ta = &m->ta[key[2 * f + 1] >> 24];
        const size_t r = key[2 * f + 1] & 0xFFFFFFu;
        const size_t end = r + 1 < ta->nrec ? ta->rec[2 * r + 3] : ta->n;
        for (size_t q = ta->rec[2 * r + 1]; q < end; q++) {
            xcr__alert *a = &m->pending[m->n_pending++];
            *a = ta->a[q];
            a->seq = m->alert_seq + m->n_pending;
        }
    }
    free(key);
    free(tmp);
    return true;
}

xcr_status xcr_monitor_apply_ticks(xcr_monitor *m, const xcr_tick *t,
                                   size_t n, double now, xcr_update_result *r,
                                   xcr_error *err)
{
    if (!m || !t || n == 0)
        return xcr__fail(err, XCR_EINVAL, "monitor and ticks are required");
    const xcr_book *b = m->book;
    for (size_t k = 0; k < n; k++)
        if (t[k].asset >= b->n_assets || !isfinite(t[k].price) ||
            !(t[k].price > 0) ||
            !(isnan(t[k].vol) || (isfinite(t[k].vol) && t[k].vol >= 0)))
            return xcr__fail(err, XCR_EINVAL,
                             "tick %zu: needs a known asset, a finite price "
                             "> 0 and a finite vol >= 0",
                             k);
    double t0 = mono_ms();
    char *body = ticks_json(b, t, n);
    xcr_tick *undo = malloc(n * sizeof *undo);
    if (!body || !undo) {
        free(body);
        free(undo);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    /* undo in reverse order restores every price and vol exactly */
    for (size_t k = 0; k < n; k++) {
        size_t a = t[n - 1 - k].asset;
        undo[k] = (xcr_tick){a, m->mkt->price[a],
                             isnan(t[n - 1 - k].vol) ? NAN : m->vol[a]};
    }
    xcr_status s = state_prices(m, t, n, err);
    size_t nt = 0;
    if (s == XCR_OK) {
        /* touched live main accounts in ebook order (bitmap scan over the
         * evaluation copy: long runs, read in storage order), then the
         * overlay accounts; alerts are put back in canonical order below */
        for (size_t k = 0; k < n; k++) {
            size_t a = t[k].asset;
            for (uint32_t p = m->idx_off[a]; p < m->idx_off[a + 1]; p++) {
                uint32_t i = m->idx_acct[p];
                m->touched_bits[i >> 6] |= (uint64_t)1 << (i & 63);
            }
        }
        size_t words = (m->n_main + 63) / 64;
        for (size_t w = 0; w < words; w++) {
            uint64_t x = m->touched_bits[w] & ~m->off_bits[w];
            m->touched_bits[w] = 0;
            while (x) {
                uint32_t ph = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
                m->touched[nt] = m->slot_of_phys[ph];
                m->touched_phys[nt++] = ph;
                x &= x - 1;
            }
        }
        for (size_t d = 0; d < m->n_defs; d++)
            for (size_t k = 0; k < n; k++)
                if (m->def_exposed[d][t[k].asset]) {
                    m->touched[nt] = m->def_slot[d];
                    m->touched_phys[nt++] = UINT32_MAX;
                    break;
                }
        if (m->eftab.inst) /* the kernel's per-instrument prices */
            xcr__fast_tab_refresh(&m->eftab, m->emkt);
        size_t bad = run_eval(m, m->touched, m->touched_phys, nt, m->scratch,
                              m->flags, false);
        if (bad) {
            const xcr_market *mk;
            size_t idx;
            slot_target(m, m->touched[bad - 1], &mk, &idx);
            s = xcr__fail(err, XCR_ERANGE,
                          "account \"%s\": margin would not be a finite "
                          "number at these prices",
                          mk->book->acct_id[idx]);
        }
    }
    m->n_pending = 0;
    /* the alerting accounts (flagged: their band changed), their alerts */
    if (s == XCR_OK && !tick_alerts(m, nt, now))
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    if (s == XCR_OK)
        s = store_append(m, now, "prices", body, err);
    if (s != XCR_OK) {
        xcr_error ignore;
        state_prices(m, undo, n, &ignore);
        m->n_pending = 0;
        free(body);
        free(undo);
        return s;
    }
    /* the alerts are final: into the log, out to the caller's hook, then
     * the results are committed (the hook's time is not recompute time) */
    const size_t n_alerts = m->n_pending;
    commit_alerts(m);
    double hook_ms = 0;
    if (m->opts.on_tick_alerts && n_alerts) {
        const double h0 = mono_ms();
        m->opts.on_tick_alerts(m->opts.on_tick_alerts_ctx,
                               m->alert_seq - n_alerts + 1, n_alerts);
        hook_ms = mono_ms() - h0;
    }
    run_eval(m, m->touched, NULL, nt, m->scratch, NULL, true);
    m->seq++;
    m->ticks += n;
    m->last_tick = now;
    m->recompute_ms = mono_ms() - t0 - hook_ms;
    if (r)
        *r = (xcr_update_result){m->seq, nt, m->n_pending,
                                 m->alert_seq - m->n_pending + 1,
                                 m->recompute_ms};
    free(body);
    free(undo);
    return XCR_OK;
}

/* The canonical slot of a live account id, or -1. */
static long slot_of(const xcr_monitor *m, const char *id)
{
    long k = def_index(m, id);
    if (k >= 0)
        return (long)m->def_slot[k];
    return live_main(m, id);
}

xcr_status xcr_monitor_upsert(xcr_monitor *m, const xcr_account_upsert *u,
                              double now, xcr_update_result *r,
                              xcr_error *err)
{
    if (!m || !u)
        return xcr__fail(err, XCR_EINVAL, "monitor and account are required");
    double t0 = mono_ms();
    acct_def *d = xcr__def_clone(u);
    if (!d)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    /* an omitted entry price is the live mark: no unrealised PnL now */
    for (size_t k = 0; k < d->npos; k++)
        if (isnan(d->pos_entry[k]) &&
            m->book->insts[d->pos_inst[k]].type != XCR_OPTION)
            d->pos_entry[k] = m->mkt->mark[d->pos_inst[k]];
    /* validate and evaluate in a one-account book at the live prices */
    xcr_book *one = NULL;
    xcr_market *mk = NULL;
    xcr_account_result res;
    xcr_status s = xcr__book_copy_header(m->book, &one, err);
    if (s == XCR_OK)
        s = xcr__book_add_def(one, d, err);
    if (s == XCR_OK)
        s = xcr_book_finalize(one, err);
    if (s == XCR_OK)
        s = live_market(m, one, &mk, err);
    if (s == XCR_OK) {
        xcr__eval_account(mk, NULL, 0, &m->ws[0], &res, NULL, NULL);
        if (!finite_result(d->mode, &res))
            s = xcr__fail(err, XCR_ERANGE,
                          "account \"%s\": margin is not a finite number "
                          "(sizes, balances or prices too large)",
                          d->id);
    }
    xcr_market_free(mk);
    xcr_book_free(one);
    char *body = s == XCR_OK ? xcr__def_json(m->book, d) : NULL;
    if (s == XCR_OK && !body)
        s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    m->n_pending = 0;
    if (s == XCR_OK) {
        long sl = slot_of(m, d->id);
        if (!diff_alerts(m, d->id, now, sl >= 0 ? &m->res[sl] : NULL, &res))
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    if (s == XCR_OK)
        s = store_append(m, now, "upsert", body, err);
    free(body);
    if (s != XCR_OK) {
        m->n_pending = 0;
        xcr_account_upsert_free(d);
        return s;
    }
    s = state_upsert(m, d, err);
    if (s == XCR_OK)
        s = state_settle(m, true, err);
    if (s != XCR_OK)
        return s; /* logged but not applied: only on out of memory */
    commit_alerts(m);
    m->seq++;
    if (r)
        *r = (xcr_update_result){m->seq, 1, m->n_pending,
                                 m->alert_seq - m->n_pending + 1,
                                 mono_ms() - t0};
    return XCR_OK;
}

xcr_status xcr_monitor_delete(xcr_monitor *m, const char *id, double now,
                              xcr_update_result *r, xcr_error *err)
{
    if (!m || !id)
        return xcr__fail(err, XCR_EINVAL, "monitor and id are required");
    double t0 = mono_ms();
    if (slot_of(m, id) < 0)
        return xcr__fail(err, XCR_ENOTFOUND, "unknown account \"%.64s\"", id);
    char body[128];
    snprintf(body, sizeof body, "{\"id\": \"%s\"}", id);
    m->n_pending = 0;
    TRY(store_append(m, now, "delete", body, err));
    TRY(state_delete(m, id, err));
    TRY(state_settle(m, true, err));
    m->seq++;
    if (r)
        *r = (xcr_update_result){m->seq, 0, 0, m->alert_seq + 1,
                                 mono_ms() - t0};
    return XCR_OK;
}

/* MARK: open with persistence ---------------------------------------------------- */

static xcr_status replay_one(void *ctx, uint64_t seq, double time,
                             const char *kind, const char *body,
                             xcr_error *err)
{
    xcr_monitor *m = ctx;
    xcr_status s;
    if (strcmp(kind, "prices") == 0) {
        xcr_tick *t = NULL;
        size_t n = 0;
        s = xcr_ticks_parse(m->book, body, strlen(body), &t, &n, err);
        if (s == XCR_OK)
            s = state_prices(m, t, n, err);
        free(t);
        m->ticks += n;
        m->last_tick = time;
    } else if (strcmp(kind, "upsert") == 0) {
        acct_def *d = NULL;
        s = xcr_account_upsert_parse(m->book, body, strlen(body), NULL, &d,
                                     err);
        if (s == XCR_OK)
            s = state_upsert(m, d, err);
    } else if (strcmp(kind, "delete") == 0) {
        const char *p = strstr(body, "\"id\": \"");
        char id[72] = "";
        if (p)
            sscanf(p + 7, "%64[A-Za-z0-9._:/-]", id);
        s = state_delete(m, id, err);
    } else {
        s = xcr__fail(err, XCR_EPARSE, "unknown update kind \"%.16s\"", kind);
    }
    if (s != XCR_OK) {
        char pre[64];
        snprintf(pre, sizeof pre, "update %llu", (unsigned long long)seq);
        xcr__error_prefix(err, pre);
        return s;
    }
    m->seq = seq;
    return XCR_OK;
}

static void ring_add(void *ctx, const xcr__alert *a)
{
    xcr_monitor *m = ctx;
    m->pending[0] = *a;
    m->n_pending = 1;
    commit_alerts(m);
    m->alert_seq = a->seq;
}

xcr_status xcr_monitor_open(const xcr_monitor_opts *o, xcr_monitor **out,
                            int *resumed, xcr_error *err)
{
    if (!o || !out)
        return xcr__fail(err, XCR_EINVAL, "options and output are required");
    *out = NULL;
    if (resumed)
        *resumed = 0;
    if (o->db_path && o->pg_uri)
        return xcr__fail(err, XCR_EINVAL, "choose one of a SQLite database "
                                          "and PostgreSQL");
    xcr__store *st = NULL;
    xcr_book *book = NULL;
    xcr_status s = XCR_OK;
    if (o->db_path)
        s = xcr__store_sqlite_open(o->db_path, &st, err);
    else if (o->pg_uri) {
#ifdef XCR_HAVE_LIBPQ
        s = xcr__store_pg_open(o->pg_uri, &st, err);
#else
        s = xcr__fail(err, XCR_EINVAL, "this build has no PostgreSQL "
                                       "support (libpq)");
#endif
    }
    if (s != XCR_OK)
        return s;
    bool resume = false;
    if (st) {
        s = st->ops->load_book(st, &book, err);
        if (s == XCR_OK)
            resume = true;
        else if (s == XCR_ENOTFOUND)
            s = XCR_OK;
    }
    if (s == XCR_OK && !book) {
        if (o->book_path) {
            s = xcr_book_load(o->book_path, XCR_FORMAT_AUTO, NULL, &book, err);
        } else {
            xcr_demo_opts d = {o->demo_accounts ? o->demo_accounts : 1000,
                               o->demo_seed ? o->demo_seed : 1, 0};
            s = xcr_demo_book(&d, NULL, &book, err);
        }
        if (s == XCR_OK && st)
            s = st->ops->save_book(st, book, err);
    }
    if (s != XCR_OK) {
        xcr_book_free(book);
        if (st)
            st->ops->close(st);
        return s;
    }
    xcr_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        xcr_book_free(book);
        if (st)
            st->ops->close(st);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    m->store = st;
    s = init_common(m, o, err);
    if (s != XCR_OK)
        xcr_book_free(book);
    else
        s = attach_book(m, book, err);
    if (s == XCR_OK && st && resume) {
        /* rebuild the state: prices, vols and definitions first, then one
         * evaluation of everything */
        m->replaying = true;
        s = st->ops->replay(st, replay_one, m, err);
        m->replaying = false;
        if (s == XCR_OK && !push_pending(m, &(xcr__alert){0}))
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
        if (s == XCR_OK)
            s = st->ops->load_alerts(st, m->ring_cap, ring_add, m, err);
        m->n_pending = 0;
    }
    if (s == XCR_OK)
        s = state_settle(m, false, err);
    if (s == XCR_OK)
        s = full_recompute(m, err);
    if (s != XCR_OK) {
        xcr_monitor_free(m);
        return s;
    }
    if (resumed)
        *resumed = resume;
    *out = m;
    return XCR_OK;
}

/* MARK: accessors used by the views ------------------------------------------------- */

void xcr_monitor_stats_get(const xcr_monitor *m, xcr_monitor_stats *s)
{
    memset(s, 0, sizeof *s);
    s->seq = m->seq;
    s->ticks = m->ticks;
    s->alert_seq = m->alert_seq;
    s->accounts = m->n_live;
    memcpy(s->by_status, m->by_status, sizeof s->by_status);
    s->last_tick = m->last_tick;
    s->recompute_ms = m->recompute_ms;
}

const xcr_book *xcr_monitor_book(const xcr_monitor *m)
{
    return m ? m->book : NULL;
}

size_t xcr_monitor_account_count(const xcr_monitor *m)
{
    return m ? m->n_live : 0;
}

xcr_status xcr_monitor_account_result(const xcr_monitor *m, const char *id,
                                      xcr_account_result *out)
{
    long sl = m && id ? slot_of(m, id) : -1;
    if (sl < 0)
        return XCR_ENOTFOUND;
    *out = m->res[sl];
    return XCR_OK;
}

xcr_status xcr_monitor_snapshot(const xcr_monitor *m, xcr_book **book,
                                xcr_market **mkt, xcr_error *err)
{
    if (!m || !book || !mkt)
        return xcr__fail(err, XCR_EINVAL, "monitor and outputs are required");
    xcr_book *b = NULL;
    TRY(build_book(m, true, &b, err));
    xcr_status s = live_market(m, b, mkt, err);
    if (s != XCR_OK) {
        xcr_book_free(b);
        return s;
    }
    *book = b;
    return XCR_OK;
}
