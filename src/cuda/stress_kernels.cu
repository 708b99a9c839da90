/* The CUDA back end of the stress engine (docs/gpu.md).
 *
 * The device evaluates the same accounts under the same scenario tables as
 * src/stress/engine.c, with the arithmetic of src/margin/eval_math.h (the
 * functions eval.c calls), in the same order of operations, and compiled
 * with -fmad=false: every per-account result is the same double as on the
 * CPU.  The scenario tables (shocked prices, marks, Black-76 option values,
 * portfolio-margin requirements) are built on the host with the CPU code,
 * so no transcendental function of the device's libm enters a result.
 *
 * Layout of the work:
 *  - k_base: one thread per account, the base state (equity, status, and
 *    the positions' uPnL for the loss attribution).
 *  - k_walk: one thread per (scenario, chunk group).  A thread walks whole
 *    chunks of accounts (the CPU engine's chunks: the same size, derived
 *    from the book only) in account order, so its per-chunk partial sums
 *    are the CPU's partial sums, bit for bit; each is added into 128-bit
 *    fixed-point accumulators (integer addition is associative, so the
 *    totals do not depend on which thread took which chunk).  The 32 lanes
 *    of a warp are 32 scenarios of the same account: they follow the same
 *    control flow and read the same book data.  Each thread writes the
 *    account's equity and status under its scenario (account-major rows).
 *  - k_reduce: the per-scenario totals over chunk groups.
 *  - k_accounts: one thread per account, scenario by scenario in order (as
 *    the CPU does): sums, counts, the worst scenario and the order
 *    statistics at and above the 95 % level, hence VaR and ES exactly as
 *    src/stress/stats.c computes them from the sorted tail.
 * Accounts are processed in batches of whole chunks when the rows of all
 * accounts would not fit in device memory. */
#include "gpu_iface.h"
#include "../margin/eval_math.h"

#include <Random123/philox.h>
#include <cuda_runtime.h>

#include <stdio.h>
#include <string.h>

/* MARK: host helpers ---------------------------------------------------------------- */

namespace {

struct dev_alloc {
    void *p[96];
    int n = 0;
    ~dev_alloc()
    {
        for (int i = 0; i < n; i++)
            cudaFree(p[i]);
    }
};

void set_msg(char *msg, size_t len, const char *what, cudaError_t e)
{
    if (msg && len)
        snprintf(msg, len, "CUDA: %s: %s", what, cudaGetErrorString(e));
}

/* Upload n elements (n may be 0: a one-element dummy keeps pointers
 * valid). */
template <typename T>
cudaError_t up(dev_alloc &al, T **dst, const T *src, size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(T);
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess)
        return e;
    al.p[al.n++] = p;
    *dst = static_cast<T *>(p);
    if (n && src)
        return cudaMemcpy(p, src, n * sizeof(T), cudaMemcpyHostToDevice);
    return cudaMemset(p, 0, bytes);
}

template <typename T>
cudaError_t zalloc(dev_alloc &al, T **dst, size_t n)
{
    return up<T>(al, dst, nullptr, n);
}

} // namespace

#define CK(call)                                                              \
    do {                                                                      \
        cudaError_t e_ = (call);                                              \
        if (e_ != cudaSuccess) {                                              \
            set_msg(msg, msglen, #call, e_);                                  \
            return e_ == cudaErrorMemoryAllocation ? XCR_ENOMEM               \
                                                   : XCR_EINTERNAL;           \
        }                                                                     \
    } while (0)

/* MARK: device book ---------------------------------------------------------------- */

struct dev_book {
    size_t nacc, na, ni, npm;
    const uint8_t *mode;
    const int32_t *pm_idx, *em_idx;
    const xcr__gpu_emode *emodes;
    const uint32_t *slot_off, *slot_asset, *slot_pos_off, *slot_pos;
    const double *slot_net0;
    const uint32_t *bal_off, *bal_asset;
    const double *bal_amt;
    const uint32_t *pos_off, *pos_inst;
    const double *pos_size, *pos_entry, *pos_iso;
    const xcr__gpu_inst *inst;
    const xcr__gpu_asset *asset;
    const xcr__tier *tiers;
    const xcr__mtier *mtiers;
};

/* One market state: rows of the scenario tables. */
struct dev_mkt {
    const double *px, *mk, *uv, *pm;
};

struct pos_res {
    double upnl, contrib, notional, im, mm;
};

/* A position under a market, as eval.c's position loop (no override). */
__device__ static inline void pos_eval(const dev_book &B, const dev_mkt &M,
                                       uint32_t p, bool port, pos_res *r)
{
    const uint32_t ii = B.pos_inst[p];
    const xcr__gpu_inst in = B.inst[ii];
    const double size = B.pos_size[p];
    const double mark = M.mk[ii];
    const double sp = M.px[in.settle];
    const double uv = in.option ? M.uv[ii] : 0.0;
    r->upnl = xcr__em_upnl(in.option, in.inverse, size, in.cs,
                           B.pos_entry[p], mark, uv, sp, &r->contrib);
    r->notional = xcr__em_notional(in.inverse, size, in.cs, mark);
    r->im = 0;
    r->mm = 0;
    if (!port && (!in.option || size < 0)) {
        const xcr__mtier *t = B.mtiers + in.mt_off;
        const uint32_t br = xcr__em_bracket(t, in.nmt, r->notional);
        xcr__em_bracket_margin(t + br, r->notional, &r->im, &r->mm);
    }
}

struct acct_res {
    double equity, coll, mm;
    int status;
};

/* The rest of xcr_account_result and the solver's surplus (eval.c). */
struct acct_full {
    double im, health, hf, bc, surplus;
};

/* One account under a market: eval.c's eval_impl without override, in the
 * same order of operations.  The net amount of each touched asset is
 * formed slot by slot (its balance, then the positions settling in it, in
 * position order): the same additions into the same accumulator as eval.c's
 * add_net, whose per-asset sums are independent of each other. */
__device__ static void eval_account(const dev_book &B, const dev_mkt &M,
                                    uint32_t a, acct_res *o, double *upnl,
                                    acct_full *full = nullptr)
{
    const int mode = B.mode[a];
    const bool isolated = mode == XCR_MODE_ISOLATED;
    const bool lending = mode == XCR_MODE_LENDING;
    const int32_t pmi = B.pm_idx[a];
    const bool port = pmi >= 0;
    double pos_im = 0, pos_mm = 0, iso_coll = 0, iso_worst = INFINITY;
    int iso_status = XCR_HEALTHY;
    for (uint32_t p = B.pos_off[a]; p < B.pos_off[a + 1]; p++) {
        pos_res r;
        pos_eval(B, M, p, port, &r);
        if (upnl)
            upnl[p] = r.upnl;
        pos_im += r.im;
        pos_mm += r.mm;
        if (isolated) {
            const double pm = B.pos_iso[p] + r.upnl;
            iso_coll += pm;
            const int ps = xcr__em_iso_status(pm, r.mm, r.im);
            iso_status = ps > iso_status ? ps : iso_status;
            if (pm - r.mm < iso_worst)
                iso_worst = pm - r.mm;
        }
    }
    double equity = 0, coll = 0, im = pos_im, mm = pos_mm;
    double c_lt = 0, c_ltv = 0, debt = 0;
    const xcr__gpu_emode *em =
        lending && B.em_idx[a] >= 0 ? &B.emodes[B.em_idx[a]] : nullptr;
    for (uint32_t k = B.slot_off[a]; k < B.slot_off[a + 1]; k++) {
        const uint32_t as = B.slot_asset[k];
        double net = B.slot_net0[k];
        for (uint32_t q = B.slot_pos_off[k]; q < B.slot_pos_off[k + 1]; q++) {
            pos_res r;
            pos_eval(B, M, B.slot_pos[q], port, &r);
            net += r.contrib;
        }
        const double v = net * M.px[as];
        equity += v;
        const xcr__gpu_asset A = B.asset[as];
        if (lending) {
            const bool in_em = em && A.emode == em->id;
            xcr__em_lending_asset(v, in_em ? em->lt : A.lt,
                                  in_em ? em->ltv : A.ltv, &c_lt, &c_ltv,
                                  &debt);
        } else if (!isolated) {
            xcr__em_cross_asset(v, B.tiers + A.tier_off, A.ntiers, A.lw,
                                A.borrow_mmr, A.borrow_imr, &coll, &mm, &im);
        }
    }
    int st;
    double sur, hf = NAN, bc = NAN;
    if (lending) {
        /* Aave: HF = Σ C·LT / Σ D; capacity = Σ C·LTV − D (eval.c) */
        coll = c_lt;
        mm = debt;
        im = xcr__em_lending_im(c_lt, c_ltv, debt);
        hf = debt > 0 ? c_lt / debt : INFINITY;
        bc = c_ltv - debt;
        st = xcr__em_lending_status(equity, c_lt, c_ltv, debt);
        sur = c_lt - debt;
    } else if (isolated) {
        equity += iso_coll;
        coll = iso_coll;
        st = equity < 0 ? XCR_BANKRUPT : iso_status;
        sur = iso_worst < equity ? iso_worst : equity;
    } else {
        if (port) {
            im += M.pm[2 * (size_t)pmi];
            mm += M.pm[2 * (size_t)pmi + 1];
        }
        st = xcr__em_classify(equity, coll, mm, im);
        sur = coll - mm;
    }
    if (full) {
        full->im = im;
        full->health = mm > 0 ? coll / mm : INFINITY;
        full->hf = hf;
        full->bc = bc;
        full->surplus = sur;
    }
    o->equity = equity;
    o->coll = coll;
    o->mm = mm;
    o->status = st;
}

/* What a liquidator would take and unwind from a liquidatable account
 * (engine.c run_chunk), and the collateral by asset (pq, stride `st`, may
 * be NULL). */
__device__ static void liq_amounts(const dev_book &B, const dev_mkt &M,
                                   uint32_t a, double *lc_out, double *ln_out,
                                   double *pq, size_t st)
{
    double lc = 0, ln = 0;
    const bool port = B.pm_idx[a] >= 0;
    if (B.mode[a] == XCR_MODE_ISOLATED) {
        for (uint32_t p = B.pos_off[a]; p < B.pos_off[a + 1]; p++) {
            pos_res r;
            pos_eval(B, M, p, port, &r);
            const double pm = B.pos_iso[p] + r.upnl;
            if (xcr__em_iso_status(pm, r.mm, r.im) >= XCR_LIQUIDATABLE) {
                lc += pm > 0 ? pm : 0;
                ln += r.notional;
            }
        }
    } else {
        for (uint32_t k = B.slot_off[a]; k < B.slot_off[a + 1]; k++) {
            const uint32_t as = B.slot_asset[k];
            double net = B.slot_net0[k];
            for (uint32_t q = B.slot_pos_off[k]; q < B.slot_pos_off[k + 1];
                 q++) {
                pos_res r;
                pos_eval(B, M, B.slot_pos[q], port, &r);
                net += r.contrib;
            }
            const double v = net * M.px[as];
            if (v > 0) {
                lc += v;
                if (pq)
                    pq[as * st] += v;
            } else {
                ln -= v;
            }
        }
        for (uint32_t p = B.pos_off[a]; p < B.pos_off[a + 1]; p++) {
            pos_res r;
            pos_eval(B, M, p, port, &r);
            ln += r.notional;
        }
    }
    *lc_out = lc;
    *ln_out = ln;
}

/* MARK: fixed point -------------------------------------------------------------- */

/* xcr__fix_add (src/stress/stress.h) on two 64-bit halves: the same integer
 * trunc(x·2^32 ± 0.5).  Its magnitude u is a whole number below 2^123, so
 * u = h·2^64 + l with h = floor(u·2^-64) and l = u − h·2^64 both exact (l
 * holds the low bits of u's 53-bit significand); a negative value is then
 * negated in two's complement. */
__device__ static inline bool fix_add(xcr__fix128 *acc, double x)
{
    const double y = x * 4294967296.0;
    if (!(fabs(y) < 1e37))
        return false;
    const double t = trunc(y >= 0 ? y + 0.5 : y - 0.5);
    const double u = fabs(t);
    const double h = floor(u * 0x1p-64);
    uint64_t lo = (uint64_t)(u - h * 0x1p64);
    uint64_t hi = (uint64_t)h;
    if (t < 0) {
        lo = ~lo + 1;
        hi = ~hi + (lo == 0 ? 1 : 0);
    }
    const uint64_t old = acc->lo;
    acc->lo = old + lo;
    acc->hi = (int64_t)((uint64_t)acc->hi + hi + (acc->lo < old ? 1 : 0));
    return true;
}

__device__ static inline void fix_sum(xcr__fix128 *acc, xcr__fix128 x)
{
    const uint64_t old = acc->lo;
    acc->lo = old + x.lo;
    acc->hi = (int64_t)((uint64_t)acc->hi + (uint64_t)x.hi +
                        (acc->lo < old ? 1 : 0));
}

/* MARK: kernels ------------------------------------------------------------------ */

__global__ void k_base(dev_book B, dev_mkt M, double *eq0, uint8_t *st0,
                       double *upnl0, size_t ns, unsigned long long *bad)
{
    const size_t a = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (a >= B.nacc)
        return;
    acct_res r;
    eval_account(B, M, (uint32_t)a, &r, upnl0);
    if (!isfinite(r.equity) || !isfinite(r.coll) || !isfinite(r.mm))
        atomicMin(bad, (unsigned long long)(a * (ns + 1) + ns));
    eq0[a] = r.equity;
    st0[a] = (uint8_t)r.status;
}

struct walk_args {
    size_t ns, ns_pad, G, chunk, c_begin, c_end, a_base;
    const double *px, *mk, *uv, *pmv;  /* scenario tables                 */
    const double *px0;                 /* base prices                     */
    const double *eq0, *upnl0;
    const uint8_t *st0;
    double *eq1;                       /* (a − a_base)·ns + s             */
    uint8_t *st1;
    xcr__fix128 *acc;                  /* [4][nthreads]                   */
    uint32_t *cnt;                     /* ns × 5                          */
    int detail;
    double *pl, *pq;                   /* [na][nthreads]                  */
    xcr__fix128 *dal, *daq;            /* [na][nthreads]                  */
    unsigned long long *bad;
};

__global__ void k_walk(dev_book B, walk_args W)
{
    const size_t tid = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t nth = W.ns_pad * W.G;
    const size_t s = tid % W.ns_pad, g = tid / W.ns_pad;
    if (g >= W.G || s >= W.ns)
        return;
    const size_t na = B.na;
    dev_mkt M = {W.px + s * na, W.mk + s * B.ni, W.uv + s * B.ni,
                 W.pmv + s * B.npm * 2};
    xcr__fix128 acc[4];
    for (int q = 0; q < 4; q++)
        acc[q] = W.acc[(size_t)q * nth + tid];
    uint32_t cnt[5] = {0, 0, 0, 0, 0};
    double *pl = W.detail ? W.pl + tid : nullptr;
    double *pq = W.detail ? W.pq + tid : nullptr;
    for (size_t c = W.c_begin + g; c < W.c_end; c += W.G) {
        const size_t lo = c * W.chunk;
        const size_t hi = lo + W.chunk < B.nacc ? lo + W.chunk : B.nacc;
        double p_loss = 0, p_short = 0, p_lc = 0, p_ln = 0;
        if (W.detail)
            for (size_t as = 0; as < na; as++)
                pl[as * nth] = pq[as * nth] = 0;
        for (size_t a = lo; a < hi; a++) {
            acct_res r;
            eval_account(B, M, (uint32_t)a, &r, nullptr);
            if (!isfinite(r.equity) || !isfinite(r.coll) || !isfinite(r.mm)) {
                atomicMin(W.bad, (unsigned long long)(a * (W.ns + 1) + s));
                r.equity = W.eq0[a];
                r.status = W.st0[a];
            }
            const double loss = W.eq0[a] - r.equity;
            const double sf = r.equity < 0 ? -r.equity : 0.0;
            p_loss += loss;
            p_short += sf;
            cnt[r.status]++;
            const bool liq = r.status >= XCR_LIQUIDATABLE;
            if (liq && W.st0[a] < XCR_LIQUIDATABLE)
                cnt[4]++;
            if (liq) {
                double lc, ln;
                liq_amounts(B, M, (uint32_t)a, &lc, &ln, pq, nth);
                p_lc += lc;
                p_ln += ln;
            }
            if (W.detail) {
                /* loss by asset: balances to their asset, positions to
                 * their underlying (engine.c) */
                for (uint32_t k = B.bal_off[a]; k < B.bal_off[a + 1]; k++) {
                    const uint32_t as = B.bal_asset[k];
                    pl[as * nth] += B.bal_amt[k] * (W.px0[as] - M.px[as]);
                }
                const bool port = B.pm_idx[a] >= 0;
                for (uint32_t p = B.pos_off[a]; p < B.pos_off[a + 1]; p++) {
                    pos_res pr;
                    pos_eval(B, M, p, port, &pr);
                    pl[(size_t)B.inst[B.pos_inst[p]].und * nth] +=
                        W.upnl0[p] - pr.upnl;
                }
            }
            const size_t row = (a - W.a_base) * W.ns + s;
            W.eq1[row] = r.equity;
            W.st1[row] = (uint8_t)r.status;
        }
        bool ok = fix_add(&acc[0], p_loss);
        ok = fix_add(&acc[1], p_short) && ok;
        ok = fix_add(&acc[2], p_lc) && ok;
        ok = fix_add(&acc[3], p_ln) && ok;
        if (W.detail)
            for (size_t as = 0; as < na; as++) {
                ok = fix_add(&W.dal[as * nth + tid], pl[as * nth]) && ok;
                ok = fix_add(&W.daq[as * nth + tid], pq[as * nth]) && ok;
            }
        if (!ok)
            atomicMin(W.bad, (unsigned long long)(lo * (W.ns + 1) + s));
    }
    for (int q = 0; q < 4; q++)
        W.acc[(size_t)q * nth + tid] = acc[q];
    for (int q = 0; q < 5; q++)
        if (cnt[q])
            atomicAdd(&W.cnt[s * 5 + (size_t)q], cnt[q]);
}

/* Totals over chunk groups: thread per (scenario, quantity). */
__global__ void k_reduce(const xcr__fix128 *src, size_t nq, size_t ns,
                         size_t ns_pad, size_t G, xcr__fix128 *dst)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= ns * nq)
        return;
    const size_t s = i / nq, q = i % nq;
    const size_t nth = ns_pad * G;
    xcr__fix128 sum = {0, 0};
    for (size_t g = 0; g < G; g++)
        fix_sum(&sum, src[q * nth + g * ns_pad + s]);
    dst[s * nq + q] = sum;
}

struct acct_args {
    size_t ns, a_begin, a_end, a_base;
    const double *eq0;
    const double *eq1;
    const uint8_t *st1;
    uint32_t *n_liq, *n_bank, *worst;
    double *sum_loss, *sum_short, *max_loss, *var, *es, *eq1_out;
    uint8_t *st1_out;
    int quant;
    size_t tail, k0, k[3];
    double alpha[3];
};

#define ACC_WARPS 4
#define TILE 32

/* Per account, scenario by scenario: a warp stages a 32 × 32 tile of rows
 * through shared memory so that the loads stay coalesced. */
__global__ void k_accounts(acct_args A)
{
    __shared__ double sh_eq[ACC_WARPS][TILE][TILE + 1];
    __shared__ uint8_t sh_st[ACC_WARPS][TILE][TILE + 1];
    const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
    const size_t a0 = A.a_begin + (blockIdx.x * (size_t)ACC_WARPS + w) * TILE;
    if (a0 >= A.a_end)
        return;
    const size_t a = a0 + (size_t)lane;
    const bool mine = a < A.a_end;
    const double e0 = mine ? A.eq0[a] : 0;
    double top[XCR__GPU_TAIL_MAX];
    size_t ntop = 0;
    double sum_loss = 0, sum_short = 0, max_loss = -INFINITY;
    uint32_t n_liq = 0, n_bank = 0, worst = 0;
    for (size_t s0 = 0; s0 < A.ns; s0 += TILE) {
        for (int r = 0; r < TILE; r++) {
            const size_t ar = a0 + (size_t)r, s = s0 + (size_t)lane;
            if (ar < A.a_end && s < A.ns) {
                const size_t row = (ar - A.a_base) * A.ns + s;
                sh_eq[w][r][lane] = A.eq1[row];
                sh_st[w][r][lane] = A.st1[row];
            }
        }
        __syncwarp();
        if (mine) {
            const size_t send = s0 + TILE < A.ns ? s0 + TILE : A.ns;
            for (size_t s = s0; s < send; s++) {
                const double eq = sh_eq[w][lane][s - s0];
                const int st = sh_st[w][lane][s - s0];
                const double loss = e0 - eq;
                const double sf = eq < 0 ? -eq : 0.0;
                sum_loss += loss;
                sum_short += sf;
                if (st >= XCR_LIQUIDATABLE)
                    n_liq++;
                if (st == XCR_BANKRUPT)
                    n_bank++;
                if (loss > max_loss) {
                    max_loss = loss;
                    worst = (uint32_t)s;
                }
                if (A.quant) {
                    /* the `tail` largest losses, ascending */
                    if (ntop < A.tail) {
                        size_t i = ntop++;
                        while (i > 0 && top[i - 1] > loss) {
                            top[i] = top[i - 1];
                            i--;
                        }
                        top[i] = loss;
                    } else if (loss > top[0]) {
                        size_t i = 0;
                        while (i + 1 < A.tail && top[i + 1] < loss) {
                            top[i] = top[i + 1];
                            i++;
                        }
                        top[i] = loss;
                    }
                }
                if (A.eq1_out) {
                    A.eq1_out[a] = eq;
                    A.st1_out[a] = (uint8_t)st;
                }
            }
        }
        __syncwarp();
    }
    if (!mine)
        return;
    A.sum_loss[a] = sum_loss;
    A.sum_short[a] = sum_short;
    A.max_loss[a] = max_loss;
    A.worst[a] = worst;
    A.n_liq[a] = n_liq;
    A.n_bank[a] = n_bank;
    if (A.quant) {
        /* stats.c es_from_sorted on x[k0−1 ..] = top[0 ..] */
        const size_t n = A.ns, k0 = A.k0;
        for (int l = 0; l < 3; l++) {
            const size_t k = A.k[l];
            const double na = A.alpha[l] * (double)n;
            double sum = 0;
            for (size_t i = k; i < n; i++)
                sum += top[i - (k0 - 1)];
            double wk = (double)k - na;
            if (wk < 0)
                wk = 0;
            const double xk = top[k - k0];
            sum += wk * xk;
            const double denom = (double)n - na;
            A.var[a * 3 + (size_t)l] = xk;
            A.es[a * 3 + (size_t)l] =
                !(denom > 0) ? top[n - k0] : sum / denom;
        }
    }
}

/* MARK: driver -------------------------------------------------------------------- */

extern "C" int xcr__cuda_device(int dev, char *name, size_t len)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || dev < 0 || dev >= n) {
        cudaGetLastError();
        if (name && len)
            snprintf(name, len, "%s", n ? "no such CUDA device"
                                        : "no CUDA device");
        return 0;
    }
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    if (name && len)
        snprintf(name, len, "%s", p.name);
    return 1;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

extern "C" xcr_status xcr__cuda_stress(const xcr__gpu_job *J,
                                       xcr__gpu_out *O, char *msg,
                                       size_t msglen)
{
    CK(cudaSetDevice(J->device));
    dev_alloc al;
    dev_book B;
    memset(&B, 0, sizeof B);
    B.nacc = J->nacc;
    B.na = J->na;
    B.ni = J->ni;
    B.npm = J->npm;
    const size_t nacc = J->nacc, na = J->na, ni = J->ni, ns = J->ns;
    CK(up(al, (uint8_t **)&B.mode, J->mode, nacc));
    CK(up(al, (int32_t **)&B.pm_idx, J->pm_idx, nacc));
    CK(up(al, (int32_t **)&B.em_idx, J->em_idx, nacc));
    CK(up(al, (xcr__gpu_emode **)&B.emodes, J->emodes, J->nem));
    CK(up(al, (uint32_t **)&B.slot_off, J->slot_off, nacc + 1));
    CK(up(al, (uint32_t **)&B.slot_asset, J->slot_asset, J->nslots));
    CK(up(al, (double **)&B.slot_net0, J->slot_net0, J->nslots));
    CK(up(al, (uint32_t **)&B.slot_pos_off, J->slot_pos_off, J->nslots + 1));
    CK(up(al, (uint32_t **)&B.slot_pos, J->slot_pos, J->npos));
    CK(up(al, (uint32_t **)&B.bal_off, J->bal_off, nacc + 1));
    CK(up(al, (uint32_t **)&B.bal_asset, J->bal_asset, J->nbal));
    CK(up(al, (double **)&B.bal_amt, J->bal_amt, J->nbal));
    CK(up(al, (uint32_t **)&B.pos_off, J->pos_off, nacc + 1));
    CK(up(al, (uint32_t **)&B.pos_inst, J->pos_inst, J->npos));
    CK(up(al, (double **)&B.pos_size, J->pos_size, J->npos));
    CK(up(al, (double **)&B.pos_entry, J->pos_entry, J->npos));
    CK(up(al, (double **)&B.pos_iso, J->pos_iso, J->npos));
    CK(up(al, (xcr__gpu_inst **)&B.inst, J->inst, ni));
    CK(up(al, (xcr__gpu_asset **)&B.asset, J->asset, na));
    CK(up(al, (xcr__tier **)&B.tiers, J->tiers, J->ntiers));
    CK(up(al, (xcr__mtier **)&B.mtiers, J->mtiers, J->nmtiers));
    dev_mkt M0, Ms;
    CK(up(al, (double **)&M0.px, J->px0, na));
    CK(up(al, (double **)&M0.mk, J->mk0, ni));
    CK(up(al, (double **)&M0.uv, J->uv0, ni));
    CK(up(al, (double **)&M0.pm, J->pm0, J->npm * 2));
    CK(up(al, (double **)&Ms.px, J->px, ns * na));
    CK(up(al, (double **)&Ms.mk, J->mk, ns * ni));
    CK(up(al, (double **)&Ms.uv, J->uv, ns * ni));
    CK(up(al, (double **)&Ms.pm, J->pmv, ns * J->npm * 2));
    double *eq0, *upnl0;
    uint8_t *st0;
    unsigned long long *bad;
    CK(zalloc(al, &eq0, nacc));
    CK(zalloc(al, &st0, nacc));
    CK(zalloc(al, &upnl0, J->npos));
    CK(zalloc(al, &bad, 1));
    CK(cudaMemset(bad, 0xff, sizeof *bad));

    k_base<<<(unsigned)ceil_div(nacc ? nacc : 1, 256), 256>>>(B, M0, eq0, st0,
                                                             upnl0, ns, bad);
    CK(cudaGetLastError());

    /* the walk: chunk groups so that ~2M threads run, fewer when the loss
     * attribution's per-thread scratch would exceed 1 GiB */
    const size_t ns_pad = ceil_div(ns, 32) * 32;
    size_t G = ceil_div((size_t)1 << 21, ns_pad);
    if (J->detail) {
        size_t per = ns_pad * (na ? na : 1) * (2 * sizeof(double) +
                                               2 * sizeof(xcr__fix128));
        size_t gmax = ((size_t)1 << 30) / per;
        G = G < gmax ? G : gmax;
    }
    if (G > J->nchunks)
        G = J->nchunks;
    if (G < 1)
        G = 1;
    const size_t nth = ns_pad * G;
    walk_args W;
    memset(&W, 0, sizeof W);
    W.ns = ns;
    W.ns_pad = ns_pad;
    W.G = G;
    W.chunk = J->chunk;
    W.px = Ms.px;
    W.mk = Ms.mk;
    W.uv = Ms.uv;
    W.pmv = Ms.pm;
    W.px0 = M0.px;
    W.eq0 = eq0;
    W.st0 = st0;
    W.upnl0 = upnl0;
    W.detail = J->detail;
    W.bad = bad;
    CK(zalloc(al, &W.acc, 4 * nth));
    CK(zalloc(al, &W.cnt, ns * 5));
    if (J->detail) {
        CK(zalloc(al, &W.pl, na * nth));
        CK(zalloc(al, &W.pq, na * nth));
        CK(zalloc(al, &W.dal, na * nth));
        CK(zalloc(al, &W.daq, na * nth));
    }
    /* per-account outputs */
    acct_args A;
    memset(&A, 0, sizeof A);
    A.ns = ns;
    A.eq0 = eq0;
    A.quant = J->quant && J->tail <= XCR__GPU_TAIL_MAX;
    A.tail = J->tail;
    A.k0 = J->k[0];
    for (int l = 0; l < 3; l++) {
        A.k[l] = J->k[l];
        A.alpha[l] = J->alpha[l];
    }
    CK(zalloc(al, &A.n_liq, nacc));
    CK(zalloc(al, &A.n_bank, nacc));
    CK(zalloc(al, &A.worst, nacc));
    CK(zalloc(al, &A.sum_loss, nacc));
    CK(zalloc(al, &A.sum_short, nacc));
    CK(zalloc(al, &A.max_loss, nacc));
    if (A.quant) {
        CK(zalloc(al, &A.var, nacc * 3));
        CK(zalloc(al, &A.es, nacc * 3));
    }
    if (O->eq1) {
        CK(zalloc(al, &A.eq1_out, nacc));
        CK(zalloc(al, &A.st1_out, nacc));
    }
    /* account rows: as many whole chunks as the memory allows */
    size_t free_b = 0, total_b = 0;
    CK(cudaMemGetInfo(&free_b, &total_b));
    size_t budget = J->mem_limit ? J->mem_limit : free_b / 10 * 8;
    if (budget > free_b / 10 * 9)
        budget = free_b / 10 * 9;
    size_t per_chunk = J->chunk * ns * (sizeof(double) + 1);
    size_t cpb = budget / (per_chunk ? per_chunk : 1);
    if (cpb < 1)
        cpb = 1;
    if (cpb > J->nchunks)
        cpb = J->nchunks;
    const size_t rows = cpb * J->chunk < nacc ? cpb * J->chunk : nacc;
    CK(zalloc(al, &W.eq1, rows * ns));
    CK(zalloc(al, &W.st1, rows * ns));
    A.eq1 = W.eq1;
    A.st1 = W.st1;
    double *host_rows = nullptr;
    for (size_t c0 = 0; c0 < J->nchunks; c0 += cpb) {
        const size_t c1 = c0 + cpb < J->nchunks ? c0 + cpb : J->nchunks;
        W.c_begin = c0;
        W.c_end = c1;
        W.a_base = c0 * J->chunk;
        if (c1 > c0)
            k_walk<<<(unsigned)ceil_div(nth, 128), 128>>>(B, W);
        CK(cudaGetLastError());
        A.a_begin = W.a_base;
        A.a_end = c1 * J->chunk < nacc ? c1 * J->chunk : nacc;
        A.a_base = W.a_base;
        const size_t nb = A.a_end - A.a_begin;
        if (nb == 0)
            continue;
        k_accounts<<<(unsigned)ceil_div(nb, ACC_WARPS * TILE),
                     ACC_WARPS * 32>>>(A);
        CK(cudaGetLastError());
        if (J->quant && !A.quant) {
            /* tails too long for the device: the host's order statistics
             * on the same losses */
            if (!host_rows) {
                CK(cudaMallocHost((void **)&host_rows,
                                  rows * ns * sizeof(double)));
            }
            CK(cudaMemcpy(host_rows, W.eq1, nb * ns * sizeof(double),
                          cudaMemcpyDeviceToHost));
            /* eq0 is needed on the host for the losses */
            CK(cudaMemcpy(O->eq0 + A.a_begin, eq0 + A.a_begin,
                          nb * sizeof(double), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < nb; i++)
                for (size_t s = 0; s < ns; s++)
                    host_rows[i * ns + s] =
                        O->eq0[A.a_begin + i] - host_rows[i * ns + s];
            J->quant_rows(J->quant_ctx, A.a_begin, nb, host_rows);
        }
    }
    if (host_rows)
        cudaFreeHost(host_rows);
    /* totals */
    xcr__fix128 *sums = nullptr, *das = nullptr, *dqs = nullptr;
    CK(zalloc(al, &sums, ns * 4));
    k_reduce<<<(unsigned)ceil_div(ns * 4, 256), 256>>>(W.acc, 4, ns, ns_pad,
                                                       G, sums);
    CK(cudaGetLastError());
    if (J->detail && na) {
        CK(zalloc(al, &das, ns * na));
        CK(zalloc(al, &dqs, ns * na));
        k_reduce<<<(unsigned)ceil_div(ns * na, 256), 256>>>(W.dal, na, ns,
                                                            ns_pad, G, das);
        k_reduce<<<(unsigned)ceil_div(ns * na, 256), 256>>>(W.daq, na, ns,
                                                            ns_pad, G, dqs);
        CK(cudaGetLastError());
    }
    CK(cudaDeviceSynchronize());
    /* results */
    CK(cudaMemcpy(O->eq0, eq0, nacc * sizeof(double), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->st0, st0, nacc, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->n_liq, A.n_liq, nacc * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->n_bank, A.n_bank, nacc * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->worst, A.worst, nacc * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->sum_loss, A.sum_loss, nacc * 8, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->sum_short, A.sum_short, nacc * 8,
                  cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->max_loss, A.max_loss, nacc * 8, cudaMemcpyDeviceToHost));
    if (A.quant) {
        CK(cudaMemcpy(O->acc_var, A.var, nacc * 3 * 8, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(O->acc_es, A.es, nacc * 3 * 8, cudaMemcpyDeviceToHost));
    }
    if (O->eq1) {
        CK(cudaMemcpy(O->eq1, A.eq1_out, nacc * 8, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(O->st1, A.st1_out, nacc, cudaMemcpyDeviceToHost));
    }
    CK(cudaMemcpy(O->sums, sums, ns * 4 * sizeof(xcr__fix128),
                  cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(O->cnt, W.cnt, ns * 5 * sizeof(uint32_t),
                  cudaMemcpyDeviceToHost));
    if (J->detail && na) {
        CK(cudaMemcpy(O->aloss, das, ns * na * sizeof(xcr__fix128),
                      cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(O->aliq, dqs, ns * na * sizeof(xcr__fix128),
                      cudaMemcpyDeviceToHost));
    }
    unsigned long long bk = 0;
    CK(cudaMemcpy(&bk, bad, sizeof bk, cudaMemcpyDeviceToHost));
    O->bad_key = bk;
    return XCR_OK;
}

/* MARK: a list of accounts under one market ------------------------------------- */

/* Field order of the per-account output rows of k_eval_list. */
enum { EL_EQ, EL_COLL, EL_IM, EL_MM, EL_HEALTH, EL_HF, EL_BC, EL_SUR, EL_N };

__global__ void k_eval_list(dev_book B, dev_mkt M, const uint32_t *idx,
                            size_t n, double *rows, uint8_t *st)
{
    const size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (k >= n)
        return;
    acct_res r;
    acct_full f;
    eval_account(B, M, idx[k], &r, nullptr, &f);
    double *o = rows + k * EL_N;
    o[EL_EQ] = r.equity;
    o[EL_COLL] = r.coll;
    o[EL_IM] = f.im;
    o[EL_MM] = r.mm;
    o[EL_HEALTH] = f.health;
    o[EL_HF] = f.hf;
    o[EL_BC] = f.bc;
    o[EL_SUR] = f.surplus;
    st[k] = (uint8_t)r.status;
}

extern "C" xcr_status xcr__cuda_eval_list(const xcr__gpu_job *J,
                                          const uint32_t *idx, size_t n,
                                          xcr_account_result *out,
                                          double *surplus, char *msg,
                                          size_t msglen)
{
    if (n == 0)
        return XCR_OK;
    CK(cudaSetDevice(J->device));
    dev_alloc al;
    dev_book B;
    memset(&B, 0, sizeof B);
    B.nacc = J->nacc;
    B.na = J->na;
    B.ni = J->ni;
    B.npm = J->npm;
    const size_t nacc = J->nacc, na = J->na, ni = J->ni;
    CK(up(al, (uint8_t **)&B.mode, J->mode, nacc));
    CK(up(al, (int32_t **)&B.pm_idx, J->pm_idx, nacc));
    CK(up(al, (int32_t **)&B.em_idx, J->em_idx, nacc));
    CK(up(al, (xcr__gpu_emode **)&B.emodes, J->emodes, J->nem));
    CK(up(al, (uint32_t **)&B.slot_off, J->slot_off, nacc + 1));
    CK(up(al, (uint32_t **)&B.slot_asset, J->slot_asset, J->nslots));
    CK(up(al, (double **)&B.slot_net0, J->slot_net0, J->nslots));
    CK(up(al, (uint32_t **)&B.slot_pos_off, J->slot_pos_off, J->nslots + 1));
    CK(up(al, (uint32_t **)&B.slot_pos, J->slot_pos, J->npos));
    CK(up(al, (uint32_t **)&B.pos_off, J->pos_off, nacc + 1));
    CK(up(al, (uint32_t **)&B.pos_inst, J->pos_inst, J->npos));
    CK(up(al, (double **)&B.pos_size, J->pos_size, J->npos));
    CK(up(al, (double **)&B.pos_entry, J->pos_entry, J->npos));
    CK(up(al, (double **)&B.pos_iso, J->pos_iso, J->npos));
    CK(up(al, (xcr__gpu_inst **)&B.inst, J->inst, ni));
    CK(up(al, (xcr__gpu_asset **)&B.asset, J->asset, na));
    CK(up(al, (xcr__tier **)&B.tiers, J->tiers, J->ntiers));
    CK(up(al, (xcr__mtier **)&B.mtiers, J->mtiers, J->nmtiers));
    dev_mkt M;
    CK(up(al, (double **)&M.px, J->px0, na));
    CK(up(al, (double **)&M.mk, J->mk0, ni));
    CK(up(al, (double **)&M.uv, J->uv0, ni));
    CK(up(al, (double **)&M.pm, J->pm0, J->npm * 2));
    uint32_t *d_idx;
    double *rows;
    uint8_t *st;
    CK(up(al, &d_idx, idx, n));
    CK(zalloc(al, &rows, n * EL_N));
    CK(zalloc(al, &st, n));
    k_eval_list<<<(unsigned)ceil_div(n, 128), 128>>>(B, M, d_idx, n, rows,
                                                     st);
    CK(cudaGetLastError());
    double *h_rows = (double *)malloc(n * EL_N * sizeof(double));
    uint8_t *h_st = (uint8_t *)malloc(n);
    if (!h_rows || !h_st) {
        free(h_rows);
        free(h_st);
        return XCR_ENOMEM;
    }
    cudaError_t e = cudaMemcpy(h_rows, rows, n * EL_N * sizeof(double),
                               cudaMemcpyDeviceToHost);
    if (e == cudaSuccess)
        e = cudaMemcpy(h_st, st, n, cudaMemcpyDeviceToHost);
    if (e == cudaSuccess)
        for (size_t k = 0; k < n; k++) {
            const double *o = h_rows + k * EL_N;
            xcr_account_result *r = &out[k];
            r->equity = o[EL_EQ];
            r->collateral = o[EL_COLL];
            r->initial_margin = o[EL_IM];
            r->maintenance_margin = o[EL_MM];
            r->health = o[EL_HEALTH];
            r->health_factor = o[EL_HF];
            r->borrow_capacity = o[EL_BC];
            r->status = (xcr_acct_status)h_st[k];
            if (surplus)
                surplus[k] = o[EL_SUR];
        }
    free(h_rows);
    free(h_st);
    CK(e);
    return XCR_OK;
}

/* MARK: random numbers ------------------------------------------------------------ */

/* src/stress/rng.h, draw for draw (Philox4x32-10 from Random123, Salmon et
 * al. SC 2011; Box–Muller; Marsaglia–Tsang χ²). */
__device__ static inline philox4x32_ctr_t d_philox(uint64_t seed,
                                                   uint64_t scen,
                                                   uint32_t stream,
                                                   uint32_t purpose)
{
    philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t c = {{(uint32_t)scen, (uint32_t)(scen >> 32), stream,
                           purpose}};
    return philox4x32(c, k);
}

__device__ static inline double d_u53(uint32_t hi, uint32_t lo)
{
    uint64_t v = ((uint64_t)hi << 21) | (uint64_t)(lo >> 11);
    return ((double)v + 1.0) * 0x1p-53;
}

__device__ static inline double d_normal(uint64_t seed, uint64_t scen,
                                         uint32_t stream, uint32_t purpose)
{
    philox4x32_ctr_t r = d_philox(seed, scen, stream, purpose);
    double u1 = d_u53(r.v[0], r.v[1]);
    double u2 = d_u53(r.v[2], r.v[3]);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

__device__ static inline double d_uniform(uint64_t seed, uint64_t scen,
                                          uint32_t stream, uint32_t purpose)
{
    philox4x32_ctr_t r = d_philox(seed, scen, stream, purpose);
    return d_u53(r.v[0], r.v[1]);
}

/* purposes: rng.h XCR__RNG_ASSET = 0, CHI2_NORMAL = 1, CHI2_UNIFORM = 2 */
__device__ static double d_chi2(uint64_t seed, uint64_t scen, double nu)
{
    double a = nu / 2, boost = 1;
    uint32_t attempt = 0;
    if (a < 1) {
        double u = d_uniform(seed, scen, 0xffffffffu, 2);
        boost = pow(u, 1.0 / a);
        a += 1;
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = d_normal(seed, scen, attempt, 1);
        double v = 1.0 + c * x;
        double u = d_uniform(seed, scen, attempt, 2);
        attempt++;
        if (v <= 0)
            continue;
        v = v * v * v;
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return 2.0 * d * v * boost;
        if (attempt > 1000000u)
            return 2.0 * a * boost;
    }
}

__global__ void k_mc(uint64_t seed, size_t j0, size_t n, size_t k,
                     const uint32_t *idx, const double *sig, const double *C,
                     int dist, double df, double tscale, size_t na,
                     double *z, double *moves)
{
    const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (j >= n)
        return;
    const uint64_t scen = j0 + j;
    double *zj = z + j * k;
    for (size_t i = 0; i < k; i++)
        zj[i] = d_normal(seed, scen, idx[i], 0);
    double sc = 1;
    if (dist == 1)
        sc = 1.0 / sqrt(d_chi2(seed, scen, df) / df);
    double *mv = moves + j * na;
    for (size_t i = 0; i < k; i++) {
        double e = 0;
        for (size_t q = 0; q <= i; q++)
            e += C[i * k + q] * zj[q];
        double r = dist == 0 ? sig[i] * e : sig[i] * tscale * e * sc;
        double m = expm1(r);
        mv[idx[i]] = m > -1 ? m : -0.9999; /* XCR__TO_ZERO */
    }
}

extern "C" xcr_status xcr__cuda_mc_moves(int dev, uint64_t seed, size_t j0,
                                         size_t n, size_t k,
                                         const uint32_t *idx,
                                         const double *sig, const double *C,
                                         int dist, double df, double tscale,
                                         size_t na, double *moves, char *msg,
                                         size_t msglen)
{
    CK(cudaSetDevice(dev));
    dev_alloc al;
    uint32_t *d_idx;
    double *d_sig, *d_C, *d_z, *d_mv;
    CK(up(al, &d_idx, idx, k));
    CK(up(al, &d_sig, sig, k));
    CK(up(al, &d_C, C, k * k));
    CK(zalloc(al, &d_z, n * k));
    CK(up(al, &d_mv, moves, n * na));
    k_mc<<<(unsigned)ceil_div(n ? n : 1, 128), 128>>>(
        seed, j0, n, k, d_idx, d_sig, d_C, dist, df, tscale, na, d_z, d_mv);
    CK(cudaGetLastError());
    CK(cudaMemcpy(moves, d_mv, n * na * sizeof(double),
                  cudaMemcpyDeviceToHost));
    return XCR_OK;
}

__global__ void k_philox(uint64_t seed, size_t j0, size_t n, uint32_t stream,
                         uint32_t purpose, uint32_t *out)
{
    const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (j >= n)
        return;
    philox4x32_ctr_t r = d_philox(seed, j0 + j, stream, purpose);
    for (int q = 0; q < 4; q++)
        out[4 * j + (size_t)q] = r.v[q];
}

extern "C" xcr_status xcr__cuda_philox(int dev, uint64_t seed, size_t j0,
                                       size_t n, uint32_t stream,
                                       uint32_t purpose, uint32_t *out,
                                       char *msg, size_t msglen)
{
    CK(cudaSetDevice(dev));
    dev_alloc al;
    uint32_t *d_out;
    CK(zalloc(al, &d_out, 4 * n));
    k_philox<<<(unsigned)ceil_div(n ? n : 1, 128), 128>>>(seed, j0, n, stream,
                                                          purpose, d_out);
    CK(cudaGetLastError());
    CK(cudaMemcpy(out, d_out, 4 * n * sizeof(uint32_t),
                  cudaMemcpyDeviceToHost));
    return XCR_OK;
}
