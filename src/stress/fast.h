/* The stress fast path (fast_linear.c, used by engine.c): an account's
 * margin quantities as affine functions of the scenario factors, exact
 * wherever the account stays inside one collateral tier per asset, one
 * margin bracket per position and one sign per net amount.
 *
 * Factors f (K of them) of a scenario:
 *   f_j = move of asset j (j < na), the return applied to its price;
 *   f_{na+o} = change of option o's value per contract (USD), table value
 *             under the scenario minus the base value.
 * Why these are exact (spec §2, the evaluator in src/margin/eval.c):
 *   - a linear perp/future settled in σ adds upnl/p_σ units of σ, worth
 *     upnl = size·cs·(K·(1+r_u) − entry) USD at p_σ: affine in r_u;
 *   - an inverse perp settled in its own underlying u adds
 *     size·cs·(1/entry − 1/mark) coins worth
 *     size·cs·P_u·(1+r_u)/entry − size·cs·P_u/K: affine in r_u (the mark
 *     moves with the price, so price/mark is constant);
 *   - an option adds size·value: affine in its own factor;
 *   - a balance of a is worth amt·P_a·(1+r_a);
 *   - the notional of a linear contract is |size|·cs·K·(1+r_u), so its
 *     bracket margin N·mmr − cum is affine while N stays in its bracket;
 *   - collateral of a net value v is affine inside one tier (progressive
 *     tiers, margin-models.md §2.1) or for v < 0 (liability weight and
 *     borrow margins), and so are Aave's Σ C·LT, Σ C·LTV and debt
 *     (margin-models.md §14.2) while each asset keeps its sign.
 * So per account four rows: equity, collateral − MM, collateral − IM (for
 * lending: Σ C·LT − debt and Σ C·LTV − debt) and the net value of the one
 * asset whose value depends on several factors (if any), each
 * c + g·f.  Validity is checked per scenario: every one-factor condition
 * as an interval of that factor, the multi-factor asset's value against
 * its piece.  Cells that fail it, cells on a status threshold (a tie to
 * 1e-9 of the account's size, where rounding could decide differently),
 * and liquidatable or bankrupt cross and lending cells (whose liquidation
 * figures need the net amounts) go through the full evaluator. */
#ifndef XCR_STRESS_FAST_H
#define XCR_STRESS_FAST_H

#include "stress.h"

#include <string.h>

/* Fast path only when the dense factor rows stay short. */
#define XCR__FAST_MAX_K 256
/* One-factor conditions per account (more: full evaluator). */
#define XCR__FAST_MAX_CON 24
/* Accounts with at most this many conditions have them padded to it. */
#define XCR__FAST_CON_FIXED 4
#define XCR__FAST_ROWS 4
/* Automatic use from this many scenarios in a run. */
#define XCR__FAST_MIN_SCEN 32

/* Positions of an isolated account with their own margins (more: full
 * evaluator). */
#define XCR__FAST_MAX_ISO 16

/* A one-factor validity condition: lo <= f_j <= hi. */
typedef struct xcr__fcon {
    uint32_t j;
    double lo, hi;
} xcr__fcon;

/* One position of an isolated account: its margin pm = iso + uPnL and
 * pm − MM, pm − IM, each c + g·f_j of the one factor j its PnL follows
 * (spec §2: an isolated position is bankrupt when pm < 0, liquidatable
 * when pm < MM, in margin call when pm < IM). */
typedef struct xcr__fiso {
    uint32_t j, jn;           /* factors of pm and of the notional        */
    double pm0, pmg, mm0, mmg, im0, img;
    double n0, ng;            /* notional = n0 + ng·f_jn (USD)            */
} xcr__fiso;

/* An account's model as the builder makes it. */
typedef struct xcr__fast_model {
    double c[XCR__FAST_ROWS]; /* constants of the four rows               */
    double vlo, vhi;          /* interval of row 3 when has_v             */
    double tol;               /* |a status quantity| below this is a tie:
                                 1e-9 of the account's gross size; such
                                 cells go to the evaluator, which decides */
    /* the multi-factor asset (has_v): its piece's part of rows 1 and 2,
     * vkm + vwm·v and vki + vwi·v, and what an exact evaluation needs
     * when v leaves the piece (lending: LT and LTV that apply) */
    uint32_t va;
    double vkm, vwm, vki, vwi, vlt, vltv;
    uint8_t lend;
    uint32_t ncon;
    uint8_t has_v;
    uint8_t iso;              /* isolated: status from the positions      */
    uint8_t niso;
    xcr__fcon con[XCR__FAST_MAX_CON];
    xcr__fiso ip[XCR__FAST_MAX_ISO];
} xcr__fast_model;

/* The same split for the engine: what every cell reads (152 bytes, kept
 * contiguous per chunk) and the rest (more conditions, isolated
 * positions). */
typedef struct xcr__fast_acct {
    double c[XCR__FAST_ROWS];
    double vlo, vhi, tol;
    double vkm, vwm, vki, vwi, vlt, vltv;
    uint32_t va;
    uint32_t ncon;
    uint8_t has_v, iso, niso, lend;
    xcr__fcon con[XCR__FAST_CON_FIXED];
} xcr__fast_acct;

typedef struct xcr__fast_ext {
    xcr__fcon con[XCR__FAST_MAX_CON - XCR__FAST_CON_FIXED];
    xcr__fiso ip[XCR__FAST_MAX_ISO];
} xcr__fast_ext;

static inline void xcr__fast_split(const xcr__fast_model *m,
                                   xcr__fast_acct *a, xcr__fast_ext *x)
{
    memcpy(a->c, m->c, sizeof a->c);
    a->vlo = m->vlo;
    a->vhi = m->vhi;
    a->tol = m->tol;
    a->va = m->va;
    a->vkm = m->vkm;
    a->vwm = m->vwm;
    a->vki = m->vki;
    a->vwi = m->vwi;
    a->vlt = m->vlt;
    a->vltv = m->vltv;
    a->lend = m->lend;
    a->ncon = m->ncon;
    a->has_v = m->has_v;
    a->iso = m->iso;
    a->niso = m->niso;
    memcpy(a->con, m->con, sizeof a->con);
    if (m->ncon > XCR__FAST_CON_FIXED)
        memcpy(x->con, m->con + XCR__FAST_CON_FIXED,
               (m->ncon - XCR__FAST_CON_FIXED) * sizeof *x->con);
    if (m->niso)
        memcpy(x->ip, m->ip, m->niso * sizeof *x->ip);
}

/* Read-only description of the factors of a book and market. */
typedef struct xcr__fast_ctx {
    const xcr_market *m;
    size_t na, K;
    int32_t *opt_col;   /* per instrument: factor column of an option, -1 */
    uint32_t *col_inst; /* per option column (K − na): its instrument     */
    uint32_t *col_asset;/* per column: the asset its loss is attributed to */
} xcr__fast_ctx;

/* Per-thread scratch of the model builder. */
typedef struct xcr__fast_ws {
    double *vc;        /* na: constant of each asset's net value          */
    double *vg;        /* na × K: its gradient                            */
    uint32_t *touched;
    uint8_t *seen;
    double *pm;        /* 2 × K + 2: position MM and IM (const, gradient) */
} xcr__fast_ws;

/* false when the book has too many factors for the fast path. */
xcr_status xcr__fast_ctx_init(xcr__fast_ctx *c, const xcr_market *m,
                              bool *usable);
void xcr__fast_ctx_free(xcr__fast_ctx *c);
xcr_status xcr__fast_ws_init(xcr__fast_ws *w, const xcr__fast_ctx *c);
void xcr__fast_ws_free(xcr__fast_ws *w);

/* Build the affine model of an account: XCR__FAST_ROWS rows of K
 * coefficients into `rows` (row-major) and the constants and conditions
 * into *fa.  Returns false (rows unspecified) when the account needs the
 * full evaluator everywhere: portfolio accounts, inverse contracts
 * settled in another asset, a net value sitting exactly on a sign change,
 * several multi-factor assets, too many conditions or isolated
 * positions.  Isolated accounts: row 0 is the equity (balances plus the
 * positions' margins), rows 1–3 are zero and fa->ip holds the positions. */
bool xcr__fast_build(const xcr__fast_ctx *c, xcr__fast_ws *w, size_t acct,
                     double *rows, xcr__fast_model *fa);

/* Whether a scenario's factors f (K values) satisfy the one-factor
 * conditions of fa (and fx beyond the fixed count). */
static inline bool xcr__fast_valid(const xcr__fast_acct *fa,
                                   const xcr__fast_ext *fx, const double *f)
{
    if (fa->ncon <= XCR__FAST_CON_FIXED) {
        /* the usual case: a fixed count (padded with conditions that
         * always hold), no data-dependent branch */
        bool ok = true;
        for (int k = 0; k < XCR__FAST_CON_FIXED; k++) {
            const double x = f[fa->con[k].j];
            ok &= (x >= fa->con[k].lo) & (x <= fa->con[k].hi);
        }
        return ok;
    }
    for (uint32_t k = 0; k < fa->ncon; k++) {
        const xcr__fcon *c =
            k < XCR__FAST_CON_FIXED ? &fa->con[k]
                                    : &fx->con[k - XCR__FAST_CON_FIXED];
        const double x = f[c->j];
        if (!(x >= c->lo && x <= c->hi))
            return false;
    }
    return true;
}

/* When the multi-factor asset's value v leaves its piece: the exact
 * change of rows 1 and 2 (collateral − MM, − IM) against the piece's
 * affine form, from the same tier, liability-weight, borrow-margin and
 * Aave rules (fast.h header) evaluated at v. */
static inline void xcr__fast_v_fix(const xcr_book *b, const xcr__fast_acct *fa,
                                   double v, double *dcm, double *dci)
{
    double cm, ci;
    if (fa->lend) {
        if (v > 0) {
            cm = v * fa->vlt;
            ci = v * fa->vltv;
        } else {
            cm = ci = v; /* debt −v */
        }
    } else {
        const xcr__asset *as = &b->assets[fa->va];
        if (v > 0) {
            cm = ci = xcr__tiered(b, as, v);
        } else if (v < 0) {
            cm = v * (as->liability_weight + as->borrow_mmr);
            ci = v * (as->liability_weight + as->borrow_imr);
        } else {
            cm = ci = 0;
        }
    }
    *dcm = cm - (fa->vkm + fa->vwm * v);
    *dci = ci - (fa->vki + fa->vwi * v);
}

/* C (N × M, ldc) = Fᵀ · Aᵀ, row-major, F the factors (K × N, ldf: one
 * column per scenario) and A the model rows (M × K, lda): a scenario's
 * rows of all accounts come out contiguous.  OpenBLAS's cblas_dgemm when
 * built with it, else a portable loop summing over k in order.  The engine
 * calls it with shapes that depend on the book only, so every cell gets
 * the same bits whatever the threads, the scenario range or the set size
 * (tests/test_stress_fast.c checks). */
void xcr__fast_gemm(size_t N, size_t M, size_t K, const double *F,
                    size_t ldf, const double *A, size_t lda, double *C,
                    size_t ldc);
/* Pin/restore the BLAS's own threads around a run (no-op without
 * OpenBLAS); the engine threads itself. */
int xcr__fast_blas_pin(void);
void xcr__fast_blas_restore(int prev);

/* VaR/ES at the three levels of the n losses in x, bit-identical to
 * xcr__var_es3 (x is reordered; scratch: n doubles). */
void xcr__fast_var_es3(double *x, size_t n, double *scratch, double *var,
                       double *es);

/* MARK: engine entry with extras (engine.c) ------------------------------------ */

typedef struct xcr__stress_ex {
    int fast;             /* 0: automatic (from XCR__FAST_MIN_SCEN
                             scenarios), 1: on, -1: every cell through the
                             full evaluator                                */
    size_t s_lo, s_hi;    /* evaluate scenarios [s_lo, s_hi) of the set
                             (0, 0: all); results are indexed from s_lo     */
    double *cell_eq;      /* optional n_acc × (s_hi − s_lo): equity and     */
    uint8_t *cell_st;     /* status of every cell (MPI assembly)           */
} xcr__stress_ex;

/* xcr_stress_run with extras (ex may be NULL). */
xcr_status xcr__stress_run_ex(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o,
                              const xcr__stress_ex *ex,
                              xcr_stress_result **out, xcr_error *err);
/* The automatic choices of xcr_stress_opts (-1) for a run of n_scen. */
bool xcr__stress_quant_auto(size_t n_acc, size_t n_scen);
bool xcr__stress_detail_auto(size_t n_assets, size_t n_scen);

/* MARK: engine pieces shared with the GPU host side (engine.c) ----------------- */

/* Accounts per chunk: a function of the book only, never of the thread
 * count (so the per-chunk reductions and their order are fixed). */
size_t xcr__stress_chunk(size_t n_acc);
/* One scenario's table row: shocked prices px (n_assets), marks mk and
 * option unit values uv (n_insts) from the base market `m` and the
 * scenario's moves (n_assets); iv (n_insts) gets the shocked implied vols
 * when not NULL, shifted by vol (n_assets, NULL: no shift). */
void xcr__stress_scen_row(const xcr_market *m, const double *moves,
                          const double *vol, double *px, double *mk,
                          double *iv, double *uv);
/* An empty result of n_scen scenarios of `s` (per-scenario arrays zeroed;
 * VaR/ES and per-asset arrays when quant / detail; eq1/st1 when n_scen is
 * 1).  XCR_ENOMEM leaves *out NULL. */
xcr_status xcr__stress_result_alloc(const xcr_market *m,
                                    const xcr_scenarios *s, size_t n_scen,
                                    bool quant, bool detail,
                                    xcr_stress_result **out);
/* The arguments of a run: market, scenarios and output given, the
 * scenarios resolved against the market's book, at least one scenario. */
xcr_status xcr__stress_check_run(const xcr_market *m, const xcr_scenarios *s,
                                 xcr_stress_result **out, xcr_error *err);
/* The error of a non-finite margin: account `acct` under scenario `scen`
 * of the set, or in the base state when scen is (size_t)-1. */
xcr_status xcr__stress_fail_nonfinite(xcr_error *err, const xcr_scenarios *s,
                                      size_t acct, size_t scen);

/* MARK: assembling shards (mpi_assemble.c) --------------------------------------- */

/* An empty result for the whole set `s` (per-scenario arrays zeroed). */
xcr_status xcr__stress_result_new(const xcr_market *m, const xcr_scenarios *s,
                                  bool quant, bool detail,
                                  xcr_stress_result **out);
/* Per-account results of accounts [a0, a1) of r (whose eq0 is set) from
 * their cells: shard q holds shard_n[q] consecutive scenarios (shards in
 * scenario order, covering the set), eq[q][(a − a0)·shard_n[q] + k] and
 * st[q] likewise.  scratch: 2 × n_scen doubles. */
void xcr__stress_assemble_accounts(xcr_stress_result *r, size_t a0,
                                   size_t a1, size_t nshards,
                                   const size_t *shard_n,
                                   const double *const *eq,
                                   const uint8_t *const *st, double *scratch);

#endif /* XCR_STRESS_FAST_H */
