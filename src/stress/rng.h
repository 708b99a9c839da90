/* Counter-based random numbers for scenario generation: Philox4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011)
 * from Random123.  Every draw is a pure function of
 *     key = seed (64 bits), counter = (scenario (64 bits), stream, purpose),
 * so scenario k is the same whatever the number of scenarios, the thread
 * count or the order of evaluation.  Purposes keep independent uses apart:
 * the per-asset normals (stream = book asset index), the χ² draws of the t
 * copula (stream = attempt), and the resampled days of filtered historical
 * simulation (stream = day). */
#ifndef XCR_STRESS_RNG_H
#define XCR_STRESS_RNG_H

#include <Random123/philox.h>
#include <math.h>
#include <stdint.h>

enum {
    XCR__RNG_ASSET = 0,
    XCR__RNG_CHI2_NORMAL = 1,
    XCR__RNG_CHI2_UNIFORM = 2,
    XCR__RNG_FHS_DAY = 3
};

static inline philox4x32_ctr_t xcr__philox(uint64_t seed, uint64_t scenario,
                                           uint32_t stream, uint32_t purpose)
{
    philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t c = {{(uint32_t)scenario, (uint32_t)(scenario >> 32),
                           stream, purpose}};
    return philox4x32(c, k);
}

/* A uniform in (0, 1] from 53 random bits. */
static inline double xcr__u53(uint32_t hi, uint32_t lo)
{
    uint64_t v = ((uint64_t)hi << 21) | (uint64_t)(lo >> 11);
    return ((double)v + 1.0) * 0x1p-53;
}

/* A standard normal by Box–Muller from one Philox block. */
static inline double xcr__normal(uint64_t seed, uint64_t scenario,
                                 uint32_t stream, uint32_t purpose)
{
    philox4x32_ctr_t r = xcr__philox(seed, scenario, stream, purpose);
    double u1 = xcr__u53(r.v[0], r.v[1]);
    double u2 = xcr__u53(r.v[2], r.v[3]);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

/* A uniform in (0, 1] from one Philox block. */
static inline double xcr__uniform(uint64_t seed, uint64_t scenario,
                                  uint32_t stream, uint32_t purpose)
{
    philox4x32_ctr_t r = xcr__philox(seed, scenario, stream, purpose);
    return xcr__u53(r.v[0], r.v[1]);
}

/* χ²_ν = 2·Gamma(ν/2) by Marsaglia & Tsang (2000), "A simple method for
 * generating gamma variables", ACM TOMS 26(3); shapes below 1 use
 * Gamma(a) = Gamma(a + 1)·U^{1/a}.  Attempt i of scenario s draws its
 * normal and its uniform from counters (s, i, CHI2_NORMAL / CHI2_UNIFORM). */
static inline double xcr__chi2(uint64_t seed, uint64_t scenario, double nu)
{
    double a = nu / 2, boost = 1;
    uint32_t attempt = 0;
    if (a < 1) {
        double u = xcr__uniform(seed, scenario, 0xffffffffu,
                                XCR__RNG_CHI2_UNIFORM);
        boost = pow(u, 1.0 / a);
        a += 1;
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = xcr__normal(seed, scenario, attempt, XCR__RNG_CHI2_NORMAL);
        double v = 1.0 + c * x;
        double u = xcr__uniform(seed, scenario, attempt,
                                XCR__RNG_CHI2_UNIFORM);
        attempt++;
        if (v <= 0)
            continue;
        v = v * v * v;
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return 2.0 * d * v * boost;
        if (attempt > 1000000u) /* cannot happen in practice */
            return 2.0 * a * boost;
    }
}

#endif
