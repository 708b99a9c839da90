/* The boundary between the host side of the CUDA back end
 * (src/stress/engine_gpu.c, C) and its device side (the .cu files of
 * src/cuda, compiled by nvcc as C++ only when XCR_HAVE_CUDA is defined).  Everything crossing
 * it is plain data in host memory; the .cu side uploads, launches and
 * downloads.  docs/gpu.md describes the design. */
#ifndef XCR_CUDA_GPU_IFACE_H
#define XCR_CUDA_GPU_IFACE_H

#include "../book/book.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A 128-bit fixed-point sum of 2^-32 USD (see xcr__fix_add in
 * src/stress/stress.h) as two 64-bit halves: value = hi·2^64 + lo. */
typedef struct xcr__fix128 {
    uint64_t lo;
    int64_t hi;
} xcr__fix128;

/* An instrument as the device evaluator needs it. */
typedef struct xcr__gpu_inst {
    double cs;
    uint32_t und, settle, mt_off, nmt;
    uint8_t option, inverse;
} xcr__gpu_inst;

/* An asset as the device evaluator needs it. */
typedef struct xcr__gpu_asset {
    double lw, borrow_mmr, borrow_imr, lt, ltv;
    uint32_t tier_off, ntiers;
    int32_t emode;
} xcr__gpu_asset;

/* An account's e-mode category (lending accounts). */
typedef struct xcr__gpu_emode {
    double lt, ltv;
    int32_t id;
} xcr__gpu_emode;

/* The highest tail length (scenarios at or above the 95 % order statistic)
 * whose per-account VaR/ES the device computes; longer tails are handed to
 * the host (quant_rows). */
#define XCR__GPU_TAIL_MAX 128

/* One stress run, all arrays in host memory. */
typedef struct xcr__gpu_job {
    int device;
    size_t mem_limit;          /* bytes; 0 = automatic                       */
    size_t nacc, na, ni, npos, nbal, nslots, ntiers, nmtiers, nem, npm;
    size_t ns;                 /* scenarios                                  */
    size_t chunk, nchunks;     /* the CPU engine's chunking                   */
    int quant, detail;
    size_t tail;               /* n − k₉₅ + 1 order statistics kept           */
    size_t k[3];               /* ⌈α·n⌉ of the three levels                  */
    double alpha[3];
    /* accounts */
    const uint8_t *mode;
    const int32_t *pm_idx;     /* index into the pm tables or −1              */
    const int32_t *em_idx;     /* index into emodes or −1                     */
    const xcr__gpu_emode *emodes;
    /* the assets an account touches, in the evaluator's first-touch order,
     * with its balance (0.0 + amount, or 0.0) and the positions settling in
     * the asset (cross-type accounts), in position order */
    const uint32_t *slot_off;  /* nacc + 1                                    */
    const uint32_t *slot_asset;
    const double *slot_net0;
    const uint32_t *slot_pos_off; /* nslots + 1                               */
    const uint32_t *slot_pos;
    const uint32_t *bal_off, *bal_asset;
    const double *bal_amt;
    const uint32_t *pos_off, *pos_inst;
    const double *pos_size, *pos_entry, *pos_iso;
    const xcr__gpu_inst *inst;
    const xcr__gpu_asset *asset;
    const xcr__tier *tiers;
    const xcr__mtier *mtiers;
    /* market: the base state and the per-scenario tables */
    const double *px0, *mk0, *uv0, *pm0;  /* pm0: npm × 2 (IM, MM)            */
    const double *px, *mk, *uv, *pmv;     /* ns × na, ns × ni, ns × ni,
                                             ns × npm × 2                    */
    /* host VaR/ES of account rows when tail > XCR__GPU_TAIL_MAX: losses of
     * accounts a0 .. a0+n−1, n × ns, account-major */
    void (*quant_rows)(void *ctx, size_t a0, size_t n, double *loss);
    void *quant_ctx;
} xcr__gpu_job;

/* Where the results go (host arrays sized as in xcr_stress_result). */
typedef struct xcr__gpu_out {
    double *eq0;
    uint8_t *st0;
    uint32_t *n_liq, *n_bank, *worst;
    double *sum_loss, *sum_short, *max_loss;
    double *acc_var, *acc_es;  /* nacc × 3, when quant                       */
    double *eq1;               /* ns == 1 only                               */
    uint8_t *st1;
    xcr__fix128 *sums;         /* ns × 4                                     */
    uint32_t *cnt;             /* ns × 5                                     */
    xcr__fix128 *aloss, *aliq; /* ns × na, when detail                       */
    /* first non-finite result: account·(ns+1) + scenario + 1 (0 = the base
     * state), UINT64_MAX if none; fix_overflow: a sum out of range */
    uint64_t bad_key;
} xcr__gpu_out;

/* 1 and the device name when device `dev` is usable. */
int xcr__cuda_device(int dev, char *name, size_t len);
/* Run the job; on failure a message in msg. */
xcr_status xcr__cuda_stress(const xcr__gpu_job *job, xcr__gpu_out *out,
                            char *msg, size_t msglen);

/* Monte Carlo moves on the device, draw for draw as src/stress/mc.c:
 * scenarios j0 .. j0+n−1 of generator `seed`, k simulated assets (book
 * indexes idx, scale sig = σ·√(h/365)), lower Cholesky factor C (k × k),
 * dist 0 = Gaussian, 1 = Student t with t marginals (scale tscale).
 * moves: n × na, entries of assets not simulated are left alone. */
xcr_status xcr__cuda_mc_moves(int dev, uint64_t seed, size_t j0, size_t n,
                              size_t k, const uint32_t *idx,
                              const double *sig, const double *C, int dist,
                              double df, double tscale, size_t na,
                              double *moves, char *msg, size_t msglen);
/* Raw Philox4x32-10 blocks for counters (scenario j0+i, stream, purpose),
 * i < n: out gets 4·n words (tests compare them with Random123 on the
 * host). */
xcr_status xcr__cuda_philox(int dev, uint64_t seed, size_t j0, size_t n,
                            uint32_t stream, uint32_t purpose, uint32_t *out,
                            char *msg, size_t msglen);

/* Evaluate accounts idx[0..n) under the job's base market (px0, mk0, uv0,
 * pm0; no scenarios): out[k] and surplus[k] (may be NULL) as
 * xcr__eval_account gives them. */
xcr_status xcr__cuda_eval_list(const xcr__gpu_job *job, const uint32_t *idx,
                               size_t n, xcr_account_result *out,
                               double *surplus, char *msg, size_t msglen);

/* The evaluator on the GPU for a list of accounts of m's book (any book,
 * e.g. a cascade's shallow copy over its holdings) at m's prices: the same
 * results as xcr__eval_account with no override, bit for bit.  Uploads the
 * book on every call.  XCR_ENODEV without the back end or a device
 * (src/stress/engine_gpu.c). */
xcr_status xcr__gpu_eval_accounts(const xcr_market *m, const uint32_t *idx,
                                  size_t n, xcr_account_result *out,
                                  double *surplus, xcr_error *err);

/* xcr__cuda_philox on device 0 in CUDA builds, XCR_ENODEV otherwise
 * (src/stress/engine_gpu.c; for the tests). */
xcr_status xcr__gpu_philox(uint64_t seed, size_t j0, size_t n,
                           uint32_t stream, uint32_t purpose, uint32_t *out,
                           char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif

#endif /* XCR_CUDA_GPU_IFACE_H */
