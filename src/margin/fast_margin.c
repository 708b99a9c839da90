/* Streaming fast path of xcr_margin_all (see fast_margin.h for what it
 * covers and why it is bit-identical to xcr__eval_account).
 *
 * Every expression below mirrors one in eval.c / eval_math.h, operand for
 * operand (spec §2; margin-models.md §2.1 tiers, §3.1 brackets):
 *  - linear uPnL (size·cs)·(mark − entry), options size·uv, both divided by
 *    the settlement price into settlement units: written as
 *    (size·a_mul)·B with B = 1.0 for options (x·1.0 == x exactly);
 *  - inverse (size·cs)·(1/entry − 1/mark) coins, ·sp for USD, with 1/mark
 *    computed once per instrument by the same division;
 *  - notional (|size|·cs)·mark, or |size|·cs for inverse contracts, written
 *    (|size|·cs)·nmul with nmul = 1.0 (exact);
 *  - bracket margin N·rate − cum (Binance recursion), taken as 0.0 for long
 *    options, added in position order as the evaluator adds it. */
#include "fast_margin.h"

#include "eval_math.h"

#include <stddef.h>
#include <string.h>

#if defined(__GNUC__)
#define XCR_FAST_INLINE inline __attribute__((always_inline))
#else
#define XCR_FAST_INLINE inline
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define XCR_FAST_HAVE_AVX2_CLONE 1
#else
#define XCR_FAST_HAVE_AVX2_CLONE 0
#endif

xcr_status xcr__fast_tab_init(xcr__fast_tab *t, const xcr_market *m,
                              xcr__mpath path)
{
    const xcr_book *b = m->book;
    const size_t n = b->n_insts;
    t->inst = xcr__malloc(b->alloc, (n + 1) * sizeof *t->inst);
    t->caps = xcr__malloc(b->alloc, (n + 1) * XCR__FAST_NB * sizeof *t->caps);
    t->avx2 = false;
    t->any_slow = false;
    if (!t->inst || !t->caps) {
        xcr__fast_tab_free(t, b);
        return XCR_ENOMEM;
    }
#if XCR_FAST_HAVE_AVX2_CLONE
    if (path == XCR__MPATH_AUTO) {
        __builtin_cpu_init();
        t->avx2 = __builtin_cpu_supports("avx2") != 0;
    }
#else
    (void)path;
#endif
    xcr__fast_tab_refresh(t, m);
    for (size_t i = 0; i < n; i++) {
        const xcr__inst *in = &b->insts[i];
        xcr__fast_inst *f = &t->inst[i];
        const bool opt = in->type == XCR_OPTION;
        f->cs = in->cs;
        f->settle = in->settle;
        f->mt_off = in->mt_off;
        f->nmt = in->nmt;
        f->option = opt;
        f->m_opt = opt ? ~(uint64_t)0 : 0;
        f->m_inv = !opt && in->inverse ? ~(uint64_t)0 : 0;
        f->kind = opt ? XCR__FK_OPTION
                      : in->inverse ? XCR__FK_INVERSE : XCR__FK_LINEAR;
        /* Caps that can end the evaluator's search: hi[0 .. nmt-2]. */
        const xcr__mtier *mt = b->mtiers + in->mt_off;
        double *c = t->caps + i * XCR__FAST_NB;
        bool ok = in->nmt >= 1 && in->nmt - 1 <= XCR__FAST_NB;
        for (uint32_t k = 0; ok && k + 1 < in->nmt; k++)
            ok = !isnan(mt[k].hi) && (k == 0 || mt[k].hi > mt[k - 1].hi);
        for (uint32_t k = 0; k < XCR__FAST_NB; k++)
            c[k] = ok && k + 1 < in->nmt ? mt[k].hi : NAN;
        f->slow_br = !ok;
        f->cap0 = c[0];
        f->b0_imr = in->nmt ? mt[0].imr : 0;
        f->b0_mmr = in->nmt ? mt[0].mmr : 0;
        f->b0_cum_im = in->nmt ? mt[0].cum_im : 0;
        f->b0_cum_mm = in->nmt ? mt[0].cum_mm : 0;
        t->any_slow = t->any_slow || !ok;
    }
    return XCR_OK;
}

void xcr__fast_tab_refresh(xcr__fast_tab *t, const xcr_market *m)
{
    const xcr_book *b = m->book;
    for (size_t i = 0; i < b->n_insts; i++) {
        const xcr__inst *in = &b->insts[i];
        xcr__fast_inst *f = &t->inst[i];
        f->mark = m->mark[i];
        f->inv_mark = 1.0 / m->mark[i];
        f->sp = m->price[in->settle];
        f->a_mul = in->type == XCR_OPTION ? m->unit_value[i] : in->cs;
        f->nmul = in->inverse ? 1.0 : m->mark[i];
    }
}

void xcr__fast_tab_free(xcr__fast_tab *t, const xcr_book *b)
{
    xcr__free(b->alloc, t->inst);
    xcr__free(b->alloc, t->caps);
    t->inst = NULL;
    t->caps = NULL;
}

static XCR_FAST_INLINE void add_net(xcr__ws *ws, uint32_t a, double x,
                                    size_t *nt)
{
    if (!ws->seen[a]) {
        ws->seen[a] = 1;
        ws->touched[(*nt)++] = a;
    }
    ws->net[a] += x;
}

/* The bracket index of the evaluator (xcr__em_bracket): with strictly
 * increasing caps hi[0..n-2] the predicate notional >= hi[j] is true
 * exactly for j < k, k the evaluator's index, so k is the number of caps
 * the notional reaches.  The row holds those caps, then NaN, which no
 * comparison reaches (nor does a NaN notional reach any cap: index 0, as
 * in the evaluator).  The count uses GNU vector extensions: compares whose
 * all-ones lanes are summed, 4 lanes wide in the AVX2 kernel, 2 (SSE2) in
 * the baseline one; portable C elsewhere.  `wide` is a constant at each
 * call site. */
#if defined(__GNUC__)
typedef double xcr__v4d __attribute__((vector_size(32)));
typedef long long xcr__v4l __attribute__((vector_size(32)));
typedef double xcr__v2d __attribute__((vector_size(16)));
typedef long long xcr__v2l __attribute__((vector_size(16)));
static XCR_FAST_INLINE uint32_t bracket_count(const double *caps,
                                              double notional, bool wide)
{
    if (wide) {
        const xcr__v4d n = {notional, notional, notional, notional};
        xcr__v4l acc = {0, 0, 0, 0};
        for (int j = 0; j < XCR__FAST_NB; j += 4) {
            xcr__v4d c;
            memcpy(&c, caps + j, sizeof c);
            acc += (xcr__v4l)(n >= c); /* lanes: -1 reached, 0 not */
        }
        return (uint32_t)-(acc[0] + acc[1] + acc[2] + acc[3]);
    }
    const xcr__v2d n = {notional, notional};
    xcr__v2l acc = {0, 0};
    for (int j = 0; j < XCR__FAST_NB; j += 2) {
        xcr__v2d c;
        memcpy(&c, caps + j, sizeof c);
        acc += (xcr__v2l)(n >= c);
    }
    return (uint32_t)-(acc[0] + acc[1]);
}

/* Bitwise select: x where the mask is all ones, y where it is zero.  A
 * data-dependent `?:` on doubles is often compiled to a branch, which
 * mispredicts on a book's random mix of instruments; this never is, and it
 * returns one operand's exact bits.  Masks live in vector registers
 * (lane 0), like the doubles, so nothing crosses to integer registers. */
typedef xcr__v2l xcr__mask;
static XCR_FAST_INLINE xcr__mask mask_of(uint64_t m)
{
    return (xcr__mask){(long long)m, 0};
}
static XCR_FAST_INLINE xcr__mask mask_neg(double x) /* x < 0 */
{
    return (xcr__mask)((xcr__v2d){x, 0} < (xcr__v2d){0, 0});
}
static XCR_FAST_INLINE double sel(xcr__mask m, double x, double y)
{
    const xcr__v2d vx = {x, 0}, vy = {y, 0};
    const xcr__v2l r = ((xcr__v2l)vx & m) | ((xcr__v2l)vy & ~m);
    return ((xcr__v2d)r)[0];
}
#else
static inline uint32_t bracket_count(const double *caps, double notional,
                                     bool wide)
{
    (void)wide;
    uint32_t k = 0;
    for (int j = 0; j < XCR__FAST_NB; j++)
        k += (uint32_t)(notional >= caps[j]);
    return k;
}
typedef uint64_t xcr__mask;
static inline xcr__mask mask_of(uint64_t m) { return m; }
static inline xcr__mask mask_neg(double x) { return 0u - (uint64_t)(x < 0); }
static inline double sel(xcr__mask mask, double x, double y)
{
    uint64_t ux, uy;
    memcpy(&ux, &x, sizeof ux);
    memcpy(&uy, &y, sizeof uy);
    const uint64_t r = (ux & mask) | (uy & ~mask);
    double d;
    memcpy(&d, &r, sizeof d);
    return d;
}
#endif

/* Phase A over positions [p0, p1) of a chunk: per position the settlement
 * asset, its contribution in settlement units, the USD uPnL and the two
 * margins.  No branch depends on the data (selects only), so positions
 * overlap in the pipeline.  One division per position: linear and option
 * contributions are upnl / sp; the inverse form needs 1.0 / entry, so the
 * same division takes (1.0, entry) instead and the result is used as
 * (1/entry − 1/mark)·(size·cs) — operand for operand the evaluator's. */
static XCR_FAST_INLINE void phase_a(const xcr_book *b, const xcr__fast_tab *t,
                                    uint32_t p0, uint32_t p1,
                                    uint32_t *restrict settle,
                                    double *restrict contrib,
                                    double *restrict upnl,
                                    double *restrict im, double *restrict mm,
                                    bool wide)
{
    const uint32_t *restrict pinst = b->pos_inst;
    const double *restrict psize = b->pos_size;
    const double *restrict pentry = b->pos_entry;
    const xcr__fast_inst *restrict fi = t->inst;
    const xcr__mtier *restrict mtiers = b->mtiers;
    for (uint32_t p = p0; p < p1; p++) {
        const uint32_t q = p - p0;
        const uint32_t ii = pinst[p];
        const xcr__fast_inst *f = &fi[ii];
        const double size = psize[p];
        const double entry = pentry[p];
        const xcr__mask inv = mask_of(f->m_inv), opt = mask_of(f->m_opt);
        const double a = size * f->a_mul;
        const double ul = a * sel(opt, 1.0, f->mark - entry);
        const double r = sel(inv, 1.0, ul) / sel(inv, entry, f->sp);
        const double ci = a * (r - f->inv_mark);
        contrib[q] = sel(inv, ci, r);
        upnl[q] = sel(inv, ci * f->sp, ul);
        settle[q] = f->settle;
        const double notional = fabs(size) * f->cs * f->nmul;
        const uint32_t br = bracket_count(
            t->caps + (size_t)ii * XCR__FAST_NB, notional, wide);
        const xcr__mtier *mt = &mtiers[f->mt_off + br];
        const xcr__mask margined = ~opt | mask_neg(size);
        mm[q] = sel(margined, notional * mt->mmr - mt->cum_mm, 0.0);
        im[q] = sel(margined, notional * mt->imr - mt->cum_im, 0.0);
    }
}

#if defined(__GNUC__)
_Static_assert(offsetof(xcr__fast_inst, inv_mark) ==
                       offsetof(xcr__fast_inst, a_mul) + 24 &&
                   offsetof(xcr__fast_inst, m_inv) ==
                       offsetof(xcr__fast_inst, sp) + 24 &&
                   offsetof(xcr__fast_inst, b0_cum_mm) ==
                       offsetof(xcr__fast_inst, b0_imr) + 24,
               "fast_inst rows must be contiguous");
_Static_assert(offsetof(xcr__mtier, cum_mm) == offsetof(xcr__mtier, imr) + 24,
               "mtier imr, mmr, cum_im, cum_mm must be contiguous");

/* Lanes (i, j, k, l) of the concatenation x:y (0-3 from x, 4-7 from y):
 * gcc's and clang's spellings of the same shuffle. */
#if defined(__clang__)
#define XCR__SHUF(x, y, i, j, k, l) __builtin_shufflevector(x, y, i, j, k, l)
#else
#define XCR__SHUF(x, y, i, j, k, l)                                          \
    __builtin_shuffle(x, y, (xcr__v4l){i, j, k, l})
#endif

/* Four 32-byte rows, one per lane (the row at byte offset `off` of each
 * of the four structs p0..p3), transposed: out[k] holds field k of the
 * four lanes.  Four loads and eight shuffles instead of sixteen scalar
 * loads and inserts; bits are moved, never changed. */
static XCR_FAST_INLINE void transpose_rows(const void *p0, const void *p1,
                                           const void *p2, const void *p3,
                                           size_t off, xcr__v4d out[4])
{
    xcr__v4d r0, r1, r2, r3;
    memcpy(&r0, (const unsigned char *)p0 + off, sizeof r0);
    memcpy(&r1, (const unsigned char *)p1 + off, sizeof r1);
    memcpy(&r2, (const unsigned char *)p2 + off, sizeof r2);
    memcpy(&r3, (const unsigned char *)p3 + off, sizeof r3);
    const xcr__v4d t0 = XCR__SHUF(r0, r1, 0, 4, 2, 6);
    const xcr__v4d t1 = XCR__SHUF(r0, r1, 1, 5, 3, 7);
    const xcr__v4d t2 = XCR__SHUF(r2, r3, 0, 4, 2, 6);
    const xcr__v4d t3 = XCR__SHUF(r2, r3, 1, 5, 3, 7);
    out[0] = XCR__SHUF(t0, t2, 0, 1, 4, 5);
    out[1] = XCR__SHUF(t1, t3, 0, 1, 4, 5);
    out[2] = XCR__SHUF(t0, t2, 2, 3, 6, 7);
    out[3] = XCR__SHUF(t1, t3, 2, 3, 6, 7);
}
#undef XCR__SHUF

/* Phase A four positions at a time (the AVX2 kernel): the same operations
 * as phase_a, lane by lane — every lane of a vector +, −, ×, ÷ is the
 * correctly rounded IEEE operation on that lane's operands, fabs is the
 * sign bit cleared, and selects move bits — so each lane equals the scalar
 * result bit for bit.  Per-instrument operands are gathered by plain
 * loads (AVX2's gather instructions are no faster here).  Returns the
 * first position it did not do (the tail is left to phase_a). */
static XCR_FAST_INLINE uint32_t phase_a4(const xcr_book *b,
                                         const xcr__fast_tab *t, uint32_t p0,
                                         uint32_t p1,
                                         uint32_t *restrict settle,
                                         double *restrict contrib,
                                         double *restrict upnl,
                                         double *restrict im,
                                         double *restrict mm)
{
    const xcr__fast_inst *restrict fi = t->inst;
    const xcr__mtier *restrict mtiers = b->mtiers;
    const xcr__v4d one = {1.0, 1.0, 1.0, 1.0}, zero = {0, 0, 0, 0};
    const xcr__v4l absmask = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    uint32_t p = p0;
    for (; p + 4 <= p1; p += 4) {
        const uint32_t q = p - p0;
        const xcr__fast_inst *f[4];
        for (int j = 0; j < 4; j++)
            f[j] = &fi[b->pos_inst[p + (uint32_t)j]];
        xcr__v4d size, entry;
        memcpy(&size, b->pos_size + p, sizeof size);
        memcpy(&entry, b->pos_entry + p, sizeof entry);
        xcr__v4d row[4];
        transpose_rows(f[0], f[1], f[2], f[3], offsetof(xcr__fast_inst, a_mul),
                       row);
        const xcr__v4d a_mul = row[0], cs = row[1], mark = row[2],
                       inv_mark = row[3];
        transpose_rows(f[0], f[1], f[2], f[3], offsetof(xcr__fast_inst, sp), row);
        const xcr__v4d sp = row[0], nmul = row[1];
        const xcr__v4l opt = (xcr__v4l)row[2], inv = (xcr__v4l)row[3];
#define XCR__SEL(m, x, y)                                                     \
    ((xcr__v4d)(((xcr__v4l)(x) & (m)) | ((xcr__v4l)(y) & ~(m))))
        const xcr__v4d a = size * a_mul;
        const xcr__v4d ul = a * XCR__SEL(opt, one, mark - entry);
        const xcr__v4d r = XCR__SEL(inv, one, ul) / XCR__SEL(inv, entry, sp);
        const xcr__v4d ci = a * (r - inv_mark);
        const xcr__v4d vc = XCR__SEL(inv, ci, r);
        const xcr__v4d vu = XCR__SEL(inv, ci * sp, ul);
        memcpy(contrib + q, &vc, sizeof vc);
        memcpy(upnl + q, &vu, sizeof vu);
        const xcr__v4d notional =
            (xcr__v4d)((xcr__v4l)size & absmask) * cs * nmul;
        for (int j = 0; j < 4; j++)
            settle[q + (uint32_t)j] = f[j]->settle;
        /* The bracket: 0 in every lane when no notional reaches its first
         * cap (the common case; equal to the count below, the caps being
         * increasing; a NaN cap0 is never reached), read from the rows;
         * otherwise counted per lane as in phase_a. */
        const xcr__v4d cap0 = {f[0]->cap0, f[1]->cap0, f[2]->cap0,
                               f[3]->cap0};
        const xcr__v4l reach = (xcr__v4l)(notional >= cap0);
        if ((reach[0] | reach[1] | reach[2] | reach[3]) == 0) {
            transpose_rows(f[0], f[1], f[2], f[3],
                           offsetof(xcr__fast_inst, b0_imr), row);
        } else {
            const xcr__mtier *mt[4];
            for (int j = 0; j < 4; j++) {
                const uint32_t ii = b->pos_inst[p + (uint32_t)j];
                mt[j] = &mtiers[f[j]->mt_off +
                                bracket_count(t->caps +
                                                  (size_t)ii * XCR__FAST_NB,
                                              notional[j], true)];
            }
            transpose_rows(mt[0], mt[1], mt[2], mt[3],
                           offsetof(xcr__mtier, imr), row);
        }
        const xcr__v4d imr = row[0], mmr = row[1], cim = row[2],
                       cmm = row[3];
        const xcr__v4l margined = ~opt | (xcr__v4l)(size < zero);
        const xcr__v4d vm = XCR__SEL(margined, notional * mmr - cmm, zero);
        const xcr__v4d vi = XCR__SEL(margined, notional * imr - cim, zero);
#undef XCR__SEL
        memcpy(mm + q, &vm, sizeof vm);
        memcpy(im + q, &vi, sizeof vi);
    }
    return p;
}
#endif

/* Instruments whose brackets are not in the capped table (more than 16
 * caps, or caps not strictly increasing, which the builder rejects): redo
 * their positions with the evaluator's search.  Runs only when the book
 * has such an instrument (none in the demo book). */
static void phase_a_fixup(const xcr_book *b, const xcr__fast_tab *t,
                          uint32_t p0, uint32_t p1, double *restrict im,
                          double *restrict mm)
{
    for (uint32_t p = p0; p < p1; p++) {
        const xcr__fast_inst *f = &t->inst[b->pos_inst[p]];
        if (!f->slow_br)
            continue;
        const double size = b->pos_size[p];
        const double notional = fabs(size) * f->cs * f->nmul;
        const uint32_t br =
            xcr__em_bracket(b->mtiers + f->mt_off, f->nmt, notional);
        const xcr__mtier *mt = &b->mtiers[f->mt_off + br];
        const bool margined = !f->option || size < 0;
        mm[p - p0] = margined ? notional * mt->mmr - mt->cum_mm : 0.0;
        im[p - p0] = margined ? notional * mt->imr - mt->cum_im : 0.0;
    }
}

/* Per-chunk scratch of phase A (on the worker's stack). */
#define XCR__FAST_CHUNK 512
typedef struct chunk {
    uint32_t p0; /* first position of the chunk                          */
    uint32_t settle[XCR__FAST_CHUNK];
    double contrib[XCR__FAST_CHUNK], upnl[XCR__FAST_CHUNK];
    double im[XCR__FAST_CHUNK], mm[XCR__FAST_CHUNK];
} chunk;

static inline xcr_acct_status worse(xcr_acct_status x, xcr_acct_status y)
{
    return x > y ? x : y;
}

/* Net amount per asset of a non-isolated account into ws (balances, then
 * each position's contribution in position order, as the evaluator adds
 * them) and the sums of its positions' margins; returns the number of
 * touched assets (ws->touched). */
static XCR_FAST_INLINE size_t accumulate_net(const xcr_book *b,
                                             const chunk *c, size_t acct,
                                             xcr__ws *ws, double *pos_im_out,
                                             double *pos_mm_out)
{
    size_t nt = 0;
    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++)
        add_net(ws, b->bal_asset[k], b->bal_amt[k], &nt);
    double pos_im = 0, pos_mm = 0;
    const uint32_t q0 = b->pos_off[acct] - c->p0;
    const uint32_t q1 = b->pos_off[acct + 1] - c->p0;
    /* net[a] += contribution, in position order as the evaluator adds
     * it, but kept in a register while consecutive positions settle in the
     * same asset (the same additions, without a store-load per position). */
    uint32_t cur = UINT32_MAX;
    double run = 0;
    for (uint32_t q = q0; q < q1; q++) {
        const uint32_t a = c->settle[q];
        if (a != cur) {
            if (cur != UINT32_MAX)
                ws->net[cur] = run;
            if (!ws->seen[a]) {
                ws->seen[a] = 1;
                ws->touched[nt++] = a;
            }
            cur = a;
            run = ws->net[a];
        }
        run += c->contrib[q];
        pos_im += c->im[q];
        pos_mm += c->mm[q];
    }
    if (cur != UINT32_MAX)
        ws->net[cur] = run;
    *pos_im_out = pos_im;
    *pos_mm_out = pos_mm;
    return nt;
}

/* A lending account (Aave health factor, spec §2; margin-models.md
 * §14.2): the evaluator's lending branch, operation for operation.  The
 * positions' own margins do not count in this mode. */
static XCR_FAST_INLINE void eval_lending(const xcr_market *m,
                                         const chunk *c, size_t acct,
                                         xcr__ws *ws,
                                         xcr_account_result *out,
                                         double *surplus)
{
    const xcr_book *b = m->book;
    double pos_im, pos_mm;
    const size_t nt = accumulate_net(b, c, acct, ws, &pos_im, &pos_mm);
    const xcr_emode_def *em =
        b->acct_emode[acct] ? xcr__book_emode(b, b->acct_emode[acct]) : NULL;
    double equity = 0, c_lt = 0, c_ltv = 0, debt = 0;
    for (size_t k = 0; k < nt; k++) {
        const uint32_t a = ws->touched[k];
        const xcr__asset *as = &b->assets[a];
        const double v = ws->net[a] * m->price[a];
        ws->net[a] = 0;
        ws->seen[a] = 0;
        equity += v;
        const bool in_em = em && as->emode == em->id;
        xcr__em_lending_asset(v, in_em ? em->liquidation_threshold : as->lt,
                              in_em ? em->ltv : as->ltv, &c_lt, &c_ltv,
                              &debt);
    }
    ws->n_kept = nt;
    xcr__em_put_result(out, equity, c_lt,
                       xcr__em_lending_im(c_lt, c_ltv, debt), debt,
                       debt > 0 ? c_lt / debt : INFINITY, c_ltv - debt,
                       xcr__em_lending_status(equity, c_lt, c_ltv, debt));
    if (surplus) /* the evaluator's lending surplus */
        *surplus = c_lt - debt;
}

/* A cross account (or a portfolio account of a book without a portfolio
 * model, which the evaluator margins as cross). */
static XCR_FAST_INLINE void eval_cross(const xcr_market *m,
                                       const chunk *c, size_t acct,
                                       xcr__ws *ws, xcr_account_result *out,
                                       double *surplus)
{
    const xcr_book *b = m->book;
    double pos_im, pos_mm;
    const size_t nt = accumulate_net(b, c, acct, ws, &pos_im, &pos_mm);
    double equity = 0, coll = 0, im = pos_im, mm = pos_mm;
    for (size_t k = 0; k < nt; k++) {
        const uint32_t a = ws->touched[k];
        const xcr__asset *as = &b->assets[a];
        const double v = ws->net[a] * m->price[a];
        ws->net[a] = 0;
        ws->seen[a] = 0;
        equity += v;
        xcr__em_cross_asset(v, b->tiers + as->tier_off, as->ntiers,
                            as->liability_weight, as->borrow_mmr,
                            as->borrow_imr, &coll, &mm, &im);
    }
    ws->n_kept = nt;
    xcr__em_put_result(out, equity, coll, im, mm, NAN, NAN,
                       xcr__em_classify(equity, coll, mm, im));
    if (surplus) /* the evaluator's cross surplus */
        *surplus = coll - mm;
}

/* An isolated account: positions keep their PnL in their own margin. */
static XCR_FAST_INLINE void eval_isolated(const xcr_market *m,
                                          const chunk *c, size_t acct,
                                          xcr__ws *ws,
                                          xcr_account_result *out,
                                          double *surplus)
{
    const xcr_book *b = m->book;
    size_t nt = 0;
    for (uint32_t k = b->bal_off[acct]; k < b->bal_off[acct + 1]; k++)
        add_net(ws, b->bal_asset[k], b->bal_amt[k], &nt);
    double pos_im = 0, pos_mm = 0;
    double iso_coll = 0, iso_worst = INFINITY;
    xcr_acct_status iso_status = XCR_HEALTHY;
    const uint32_t p0 = b->pos_off[acct];
    for (uint32_t p = p0; p < b->pos_off[acct + 1]; p++) {
        const uint32_t q = p - c->p0;
        const double im = c->im[q], mm = c->mm[q];
        pos_im += im;
        pos_mm += mm;
        const double pm = b->pos_iso[p] + c->upnl[q];
        iso_coll += pm;
        iso_status = worse(iso_status, xcr__em_iso_status(pm, mm, im));
        /* the evaluator's `if (pm - mm < iso_worst)`, as a select (minsd) */
        iso_worst = pm - mm < iso_worst ? pm - mm : iso_worst;
    }
    double equity = 0;
    for (size_t k = 0; k < nt; k++) {
        const uint32_t a = ws->touched[k];
        const double v = ws->net[a] * m->price[a];
        ws->net[a] = 0;
        ws->seen[a] = 0;
        equity += v;
    }
    ws->n_kept = nt;
    equity += iso_coll;
    xcr__em_put_result(out, equity, iso_coll, pos_im, pos_mm, NAN, NAN,
                       equity < 0 ? XCR_BANKRUPT : iso_status);
    if (surplus) /* the evaluator's isolated surplus */
        *surplus = iso_worst < equity ? iso_worst : equity;
}

/* Results of account i go to out[i - lo] (and surplus[i - lo] when
 * surplus is not NULL). */
static XCR_FAST_INLINE void range_impl(const xcr_market *m,
                                       const xcr__fast_tab *t, size_t lo,
                                       size_t hi, xcr__ws *ws,
                                       xcr_account_result *out,
                                       double *surplus, bool wide)
{
    const xcr_book *b = m->book;
    chunk c;
    size_t i = lo;
    while (i < hi) {
        /* Accounts [i, e) whose positions fit one chunk; an account with
         * more positions than a chunk holds goes to the evaluator. */
        size_t e = i;
        while (e < hi && b->pos_off[e + 1] - b->pos_off[i] <= XCR__FAST_CHUNK)
            e++;
        if (e == i) {
            xcr__eval_account(m, NULL, i, ws, &out[i - lo], NULL,
                              surplus ? &surplus[i - lo] : NULL);
            i++;
            continue;
        }
        c.p0 = b->pos_off[i];
#if defined(__GNUC__)
        /* Only isolated accounts read pos_iso, so its lines are scattered
         * and the hardware prefetcher misses them: ask for them now, to
         * arrive while phase A runs. */
        for (size_t k = i; k < e; k++) {
            /* branch-free: other accounts prefetch a line already in
             * cache (the caps table) instead of a mispredicted branch */
            const bool iso = b->acct_mode[k] == XCR_MODE_ISOLATED &&
                             b->pos_off[k + 1] > b->pos_off[k];
            const double *first = &b->pos_iso[b->pos_off[k]];
            const double *last = &b->pos_iso[b->pos_off[k + 1] - iso];
            __builtin_prefetch(iso ? first : t->caps);
            __builtin_prefetch(iso ? last : t->caps);
        }
#endif
        uint32_t pa = c.p0;
#if defined(__GNUC__)
        if (wide)
            pa = phase_a4(b, t, c.p0, b->pos_off[e], c.settle, c.contrib,
                          c.upnl, c.im, c.mm);
#endif
        const uint32_t qa = pa - c.p0;
        phase_a(b, t, pa, b->pos_off[e], c.settle + qa, c.contrib + qa,
                c.upnl + qa, c.im + qa, c.mm + qa, wide);
        if (t->any_slow)
            phase_a_fixup(b, t, c.p0, b->pos_off[e], c.im, c.mm);
        for (; i < e; i++) {
            const xcr_mode mode = (xcr_mode)b->acct_mode[i];
            double *s = surplus ? &surplus[i - lo] : NULL;
            if (mode == XCR_MODE_ISOLATED)
                eval_isolated(m, &c, i, ws, &out[i - lo], s);
            else if (mode == XCR_MODE_LENDING)
                eval_lending(m, &c, i, ws, &out[i - lo], s);
            else if (mode == XCR_MODE_PORTFOLIO && b->pm)
                xcr__eval_account(m, NULL, i, ws, &out[i - lo], NULL, s);
            else
                eval_cross(m, &c, i, ws, &out[i - lo], s);
        }
    }
}

static void range_scalar(const xcr_market *m, const xcr__fast_tab *t,
                         size_t lo, size_t hi, xcr__ws *ws,
                         xcr_account_result *out, double *surplus)
{
    range_impl(m, t, lo, hi, ws, out, surplus, false);
}

#if XCR_FAST_HAVE_AVX2_CLONE
/* Same source, AVX2 code generation (the caps count becomes one vector
 * compare per four caps).  Deliberately no "fma": a contracted
 * multiply-add would round differently from the evaluator. */
__attribute__((target("avx2"))) static void
range_avx2(const xcr_market *m, const xcr__fast_tab *t, size_t lo,
           size_t hi, xcr__ws *ws, xcr_account_result *out, double *surplus)
{
    range_impl(m, t, lo, hi, ws, out, surplus, true);
}
#endif

void xcr__fast_eval_range_at(const xcr_market *m, const xcr__fast_tab *t,
                             size_t lo, size_t hi, xcr__ws *ws,
                             xcr_account_result *out, double *surplus)
{
#if XCR_FAST_HAVE_AVX2_CLONE
    if (t->avx2) {
        range_avx2(m, t, lo, hi, ws, out, surplus);
        return;
    }
#endif
    range_scalar(m, t, lo, hi, ws, out, surplus);
}

void xcr__fast_eval_range(const xcr_market *m, const xcr__fast_tab *t,
                          size_t lo, size_t hi, xcr__ws *ws,
                          xcr_account_result *out)
{
    xcr__fast_eval_range_at(m, t, lo, hi, ws, out + lo, NULL);
}
