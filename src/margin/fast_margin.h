/* Streaming fast path of the full revaluation (xcr_margin_all).
 *
 * The one definition of margin is xcr__eval_account (eval.c, eval_math.h).
 * This path evaluates the common accounts — cross, isolated, lending and
 * portfolio accounts of a book without a portfolio model, at the market's
 * own prices — with the same IEEE operations in the same order, so its
 * results are bit-identical to the evaluator (tests/test_margin_fast.c
 * checks every field on random books).  What changes is only how the operands are found:
 *  - a per-call instrument table (mark, 1/mark, settle price, contract size,
 *    option value, notional multiplier) replaces the branches on type,
 *    inverse and option of the evaluator's per-position loop;
 *  - the margin bracket is found by counting the caps ≤ notional over a
 *    NaN-padded row of caps (branch-free, auto-vectorised) instead of a
 *    data-dependent loop; with strictly increasing caps (the builder
 *    enforces it; the table checks it again) the count equals the
 *    evaluator's bracket index.
 *  - work is split in two phases per chunk of accounts (≤ 512 positions):
 *    phase A streams the chunk's positions with no data-dependent branch
 *    (bitwise selects) into per-position contribution, uPnL, IM and MM;
 *    phase B reduces them per account in position order, as the evaluator
 *    does, then values the touched assets exactly as it does.
 * Lending accounts take the evaluator's health-factor branch here too.
 * Portfolio accounts under a portfolio model and accounts with more
 * positions than a chunk go to xcr__eval_account unchanged.
 *
 * Two compilations of one kernel: the baseline x86-64 one (SSE2, one
 * position at a time) and an AVX2 one (`target("avx2")`, phase A four
 * positions per vector), chosen at run time with __builtin_cpu_supports.
 * Neither may contract a multiply-add (it would round differently from the
 * evaluator): the AVX2 target does not include FMA and the build is ISO
 * C17, where gcc does not contract. */
#ifndef XCR_MARGIN_FAST_MARGIN_H
#define XCR_MARGIN_FAST_MARGIN_H

#include "margin.h"

/* Which implementation xcr__margin_all_path runs. */
typedef enum {
    XCR__MPATH_AUTO = 0,   /* fast path, AVX2 kernel when the CPU has it   */
    XCR__MPATH_SCALAR,     /* fast path, baseline kernel only              */
    XCR__MPATH_REFERENCE,  /* xcr__eval_account for every account          */
} xcr__mpath;

/* Caps per instrument row of the bracket table (NaN padded; a multiple of
 * 4); instruments with more brackets use the evaluator's search. */
#define XCR__FAST_NB 16

typedef struct xcr__fast_inst {
    /* Three rows of four 8-byte fields that the AVX2 kernel loads one row
     * per lane and transposes (phase_a4); keep each row contiguous. */
    double a_mul;    /* uPnL per unit of size: cs, or the option value uv  */
    double cs;       /* contract size (notional)                           */
    double mark;     /* m->mark                                            */
    double inv_mark; /* 1.0 / mark (inverse contracts)                     */
    double sp;       /* price of the settlement asset                      */
    double nmul;     /* notional = |size|·cs·nmul: mark, or 1.0 (inverse)  */
    uint64_t m_opt;  /* all ones for an option                             */
    uint64_t m_inv;  /* all ones for an inverse (non-option) contract      */
    double b0_imr, b0_mmr, b0_cum_im, b0_cum_mm; /* the first bracket      */
    double cap0;     /* its cap: notionals below it are in bracket 0 (NaN:
                        one bracket, or brackets not in the table)         */
    uint32_t settle;
    uint32_t mt_off, nmt;
    uint8_t kind;    /* XCR__FK_*                                          */
    uint8_t option;  /* margined only when short                           */
    uint8_t slow_br; /* brackets not in the capped table                   */
} xcr__fast_inst;

enum { XCR__FK_LINEAR = 0, XCR__FK_INVERSE = 1, XCR__FK_OPTION = 2 };

typedef struct xcr__fast_tab {
    xcr__fast_inst *inst; /* n_insts                                       */
    double *caps;         /* n_insts × XCR__FAST_NB, NaN padded            */
    bool avx2;            /* run the AVX2 kernel                           */
    bool any_slow;        /* some instrument has slow_br set               */
} xcr__fast_tab;

/* Build the tables for market m (allocated with the book's allocator). */
xcr_status xcr__fast_tab_init(xcr__fast_tab *t, const xcr_market *m,
                              xcr__mpath path);
void xcr__fast_tab_free(xcr__fast_tab *t, const xcr_book *b);
/* Re-read the price-dependent fields (mark, 1/mark, settlement price,
 * option value, notional multiplier) after m's prices or vols changed;
 * the bracket rows depend on the book only.  No allocation (the live
 * monitor calls it per tick). */
void xcr__fast_tab_refresh(xcr__fast_tab *t, const xcr_market *m);

/* Evaluate accounts [lo, hi) into out[lo..hi); ws is the caller's
 * workspace (left clean, as the evaluator leaves it). */
void xcr__fast_eval_range(const xcr_market *m, const xcr__fast_tab *t,
                          size_t lo, size_t hi, xcr__ws *ws,
                          xcr_account_result *out);
/* The same with results relative to lo: account i into out[i - lo] and,
 * when surplus is not NULL, the evaluator's surplus output (the number
 * whose sign decides liquidation, margin.h) into surplus[i - lo].  For
 * callers that keep results by list position (src/cascade/eval.c). */
void xcr__fast_eval_range_at(const xcr_market *m, const xcr__fast_tab *t,
                             size_t lo, size_t hi, xcr__ws *ws,
                             xcr_account_result *out, double *surplus);

/* xcr_margin_all with a chosen implementation (eval.c); the public entry
 * point runs XCR__MPATH_AUTO.  Tests and bench/margin use the others. */
xcr_status xcr__margin_all_path(const xcr_market *m, int threads,
                                xcr_account_result *out, xcr__mpath path,
                                xcr_error *err);

#endif
