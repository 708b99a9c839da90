/* xcr public API: the optional CUDA back end (included by xcr.h).
 *
 * The library is built with it when CMake finds a working nvcc
 * (-DXCR_WITH_CUDA=AUTO, the default; ON requires it, OFF leaves it out).
 * Without it, or without a usable device, xcr_gpu_available() returns 0 and
 * the functions below return XCR_ENODEV; nothing else changes.
 *
 * The GPU runs the same margin arithmetic as the CPU (src/margin/
 * eval_math.h) in the same order, over scenario tables the host builds with
 * the CPU code, and reduces in the CPU engine's chunks with the same
 * fixed-point totals: its results equal xcr_stress_run's (the tests check
 * 1e-9 relative; in practice they are the same doubles).  docs/gpu.md has
 * the design and the measured speed. */
#ifndef XCR_GPU_H
#define XCR_GPU_H

#include "../xcr.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** 1 when the library has the CUDA back end and device 0 can be used; 0
 *  otherwise.  `name` (may be NULL) receives the device's name, or why none
 *  can be used, truncated to `len` bytes. */
XCR_API int xcr_gpu_available(char *name, size_t len);

typedef struct xcr_gpu_opts {
    int device;          /* CUDA device ordinal (default 0)                   */
    int mc_on_device;    /* 1: when the set is exactly one Monte Carlo batch
                            (Gaussian, or t copula with t marginals), draw
                            its moves on the device (xcr_gpu_mc_moves)
                            instead of uploading the host's; 0 (default)
                            uploads the set's moves                         */
    size_t memory_limit; /* device bytes for the per-account loss rows; 0 =
                            automatic (80 % of the free memory); accounts
                            are processed in batches beyond it              */
} xcr_gpu_opts;

/** Defaults: device 0, moves uploaded, automatic memory. */
XCR_API void xcr_gpu_opts_init(xcr_gpu_opts *o);

/** xcr_stress_run on the GPU: the same result (per scenario, per account,
 *  VaR/ES, loss by asset), read with the same accessors and freed with
 *  xcr_stress_result_free.  `o->threads` is used by the host-side steps
 *  (scenario tables, portfolio-margin requirements).  `g` may be NULL.
 *  XCR_ENODEV when there is no back end or device. */
XCR_API xcr_status xcr_stress_run_gpu(const xcr_market *m,
                                      const xcr_scenarios *s,
                                      const xcr_stress_opts *o,
                                      const xcr_gpu_opts *g,
                                      xcr_stress_result **out,
                                      xcr_error *err);

/** The moves of the set's Monte Carlo generator (the last
 *  xcr_scenarios_add_mc), drawn on the device with the same Philox counters
 *  (seed, scenario, asset) as the host: generator scenarios first ..
 *  first+n−1 into `moves` (n × xcr_book_asset_count(), zero for assets that
 *  do not move).  Equal to the host's moves up to the last bit of the
 *  device's log/cos/expm1 (the tests check 1e-15 relative).  XCR_EINVAL
 *  for a set without Monte Carlo or with normal marginals (their inverse
 *  CDFs are host-only). */
XCR_API xcr_status xcr_gpu_mc_moves(const xcr_scenarios *s, size_t first,
                                    size_t n, double *moves, xcr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XCR_GPU_H */
