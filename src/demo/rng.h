/* A counter-based, splittable random number generator for the demo book.
 *
 * Why counter-based: the demo book must be reproducible and each account's
 * content must depend only on (seed, account index), so that a book of N
 * accounts is a prefix of a book of N+1 accounts and accounts can be
 * generated in any order (or in parallel) with identical results.  Each
 * stream is keyed by splitmix64(seed, stream id) and the k-th draw is the
 * splitmix64 finaliser of key + k·γ, i.e. splitmix64 (Steele, Lea & Flood,
 * "Fast splittable pseudorandom number generators", OOPSLA 2014) advanced
 * from a per-stream starting state.  The statistical quality is that of
 * splitmix64, ample for synthetic data (scenarios-and-data.md §7.3).
 *
 * Everything here is static inline so that the generator compiles into the
 * caller's loop; no state outside the small struct.
 */
#ifndef XCR_DEMO_RNG_H
#define XCR_DEMO_RNG_H

#include <math.h>
#include <stdint.h>

#define XCR__RNG_GAMMA 0x9E3779B97F4A7C15ULL /* 2^64 / golden ratio */

typedef struct xcr__rng {
    uint64_t key; /* per-stream starting state                            */
    uint64_t ctr; /* draws taken so far                                   */
} xcr__rng;

/* splitmix64 output function (Stafford's "Mix13" variant). */
static inline uint64_t xcr__rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The stream `stream` of generator `seed`.  Distinct (seed, stream) pairs
 * give independent-looking streams; the same pair always gives the same. */
static inline xcr__rng xcr__rng_stream(uint64_t seed, uint64_t stream)
{
    xcr__rng r;
    r.key = xcr__rng_mix(xcr__rng_mix(seed + XCR__RNG_GAMMA) ^
                         (stream * 0xD1B54A32D192ED03ULL + 1));
    r.ctr = 0;
    return r;
}

static inline uint64_t xcr__rng_u64(xcr__rng *r)
{
    r->ctr++;
    return xcr__rng_mix(r->key + r->ctr * XCR__RNG_GAMMA);
}

/* Uniform on the open interval (0, 1): 53 random bits, offset by half a
 * step so that neither 0 nor 1 occurs (log() and u^(-1/α) stay finite). */
static inline double xcr__rng_uniform(xcr__rng *r)
{
    return ((double)(xcr__rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform on (lo, hi). */
static inline double xcr__rng_range(xcr__rng *r, double lo, double hi)
{
    return lo + (hi - lo) * xcr__rng_uniform(r);
}

/* Integer uniform on [0, n), n > 0 (Lemire's multiply-shift; the bias is
 * below 2^-32 for the small n used here). */
static inline uint32_t xcr__rng_below(xcr__rng *r, uint32_t n)
{
    return (uint32_t)(((xcr__rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Standard normal by Box–Muller (one variate per call: the second one is
 * dropped so that the stream has no hidden state). */
static inline double xcr__rng_normal(xcr__rng *r)
{
    double u1 = xcr__rng_uniform(r), u2 = xcr__rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Lognormal: exp(mu + sigma·Z). */
static inline double xcr__rng_lognormal(xcr__rng *r, double mu, double sigma)
{
    return exp(mu + sigma * xcr__rng_normal(r));
}

/* Pareto (type I) with scale xm and shape alpha: xm·U^(-1/alpha) ≥ xm. */
static inline double xcr__rng_pareto(xcr__rng *r, double xm, double alpha)
{
    return xm * pow(xcr__rng_uniform(r), -1.0 / alpha);
}

/* Exponential with mean 1. */
static inline double xcr__rng_exp(xcr__rng *r)
{
    return -log(xcr__rng_uniform(r));
}

/* Poisson(lambda): Knuth's product method for small lambda (the demo uses
 * means around 3–10), a rounded normal approximation above 30. */
static inline uint32_t xcr__rng_poisson(xcr__rng *r, double lambda)
{
    if (!(lambda > 0))
        return 0;
    if (lambda > 30) {
        double x = lambda + sqrt(lambda) * xcr__rng_normal(r) + 0.5;
        return x < 0 ? 0 : (uint32_t)x;
    }
    double l = exp(-lambda), p = 1.0;
    uint32_t k = 0;
    for (;;) {
        p *= xcr__rng_uniform(r);
        if (p <= l)
            return k;
        k++;
    }
}

#endif /* XCR_DEMO_RNG_H */
