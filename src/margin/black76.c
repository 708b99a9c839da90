/* Black-76 European option value and Greeks on a forward, no discounting.
 * Black, F. (1976), "The pricing of commodity contracts", J. Financial
 * Economics 3: value_call = F·N(d1) − K·N(d2), value_put = K·N(−d2) − F·N(−d1),
 * d1 = (ln(F/K) + σ²T/2)/(σ√T), d2 = d1 − σ√T.  The spec (§1, INSTRUMENT)
 * prices options with forward = mark_price and no discounting. */
#include "xcr.h"

#include <math.h>
#include <string.h>

#define XCR_SQRT1_2 0.70710678118654752440
#define XCR_INV_SQRT_2PI 0.39894228040143267794

static double norm_cdf(double x) { return 0.5 * erfc(-x * XCR_SQRT1_2); }
static double norm_pdf(double x) { return XCR_INV_SQRT_2PI * exp(-0.5 * x * x); }

void xcr_black76(int is_call, double fwd, double strike, double t, double vol,
                 xcr_greeks *out)
{
    memset(out, 0, sizeof *out);
    double sd = vol * sqrt(t > 0 ? t : 0);
    if (!(t > 0) || !(sd > 0)) {
        /* at or past expiry (or no volatility): intrinsic value */
        double iv = is_call ? fwd - strike : strike - fwd;
        out->value = iv > 0 ? iv : 0;
        if (iv > 0)
            out->delta = is_call ? 1.0 : -1.0;
        return;
    }
    double d1 = (log(fwd / strike) + 0.5 * sd * sd) / sd;
    double d2 = d1 - sd;
    double pdf = norm_pdf(d1);
    if (is_call) {
        out->value = fwd * norm_cdf(d1) - strike * norm_cdf(d2);
        out->delta = norm_cdf(d1);
    } else {
        out->value = strike * norm_cdf(-d2) - fwd * norm_cdf(-d1);
        out->delta = norm_cdf(d1) - 1.0;
    }
    /* Rounding can leave a deep out-of-the-money value a hair below 0. */
    if (out->value < 0)
        out->value = 0;
    out->gamma = pdf / (fwd * sd);
    out->vega = fwd * pdf * sqrt(t);          /* per 1.00 of vol   */
    out->theta = -fwd * pdf * vol / (2.0 * sqrt(t)); /* per year   */
    out->vanna = -pdf * d2 / vol;
    out->volga = out->vega * d1 * d2 / vol;
}
