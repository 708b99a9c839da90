/* Price impact of forced sales: the liquidity models of spec §1.1, shared by
 * the stress exposure report (xcr_liquidity_impact / _depth, stateless, from
 * the book's own state) and the cascade (xcr__impact_*, stateful: the
 * price, the AMM's reserves and the fundamental price that impact recovers
 * towards).
 *
 * Laws (cascades-and-contagion.md §3):
 *  - linear (Kyle λ, §3.1): selling V USD moves the price by −V/D;
 *  - square root (§3.2): −Y·σ·√(Q/V_daily);
 *  - constant product (Uniswap v2, §3.5): selling Δx returns
 *    Δy = y·Δx(1−f)/(x + Δx(1−f)); the pool keeps x·y = k (the fee leaves
 *    the pool), so the new spot is y'/x' with x' = x + Δx(1−f), y' = k/x';
 *  - order book (§3.7): piecewise-linear cumulative depth through (0, 0) and
 *    the (move, cumulative USD) knots, the last segment's slope extrapolated.
 * Every model is floored at a price of 0+ (a move of at least −1 + 1e-12).
 * Buying (liquidators buying back borrowed assets) mirrors the sale laws
 * upwards; for the pool it is the exact swap the other way.
 *
 * Cascade convention (reference §7.5, documented in docs/cascade.md): each
 * round's volume is applied from the round's price (per-round impact); the
 * pool is stateful, so for `amm` per-round and cumulative coincide.
 * Recovery (§3.8): before a round's trades, the fraction `recovery` of the
 * displacement from the fundamental (post-shock) price decays away; a pool
 * moves back along its curve. */
#include "cascade.h"

#include <math.h>

#define MIN_MOVE (-1.0 + 1e-12)

/* The book model's move for a sale of `usd` (> 0) with depth × mult. */
static double book_move(const xcr_liquidity_def *l, double usd, double mult)
{
    double pc = 0, pm = 0, mv = -1;
    size_t n = l->nlevels;
    for (size_t k = 0; k < n; k++) {
        double m = l->levels[2 * k], c = l->levels[2 * k + 1] * mult;
        if (usd <= c && c > pc)
            return pm + (m - pm) * (usd - pc) / (c - pc);
        if (k == n - 1 && c > pc) /* beyond the book: extrapolate */
            mv = m + (m - pm) * (usd - c) / (c - pc);
        pc = c;
        pm = m;
    }
    return mv;
}

double xcr__liq_move(const xcr_liquidity_def *l, double usd, double mult)
{
    if (!(usd > 0) || l->model == XCR_LIQ_NONE)
        return 0;
    if (!(mult > 0))
        return MIN_MOVE;
    double mv = 0;
    switch (l->model) {
    case XCR_LIQ_LINEAR: /* −V/D */
        mv = -usd / (l->p[0] * mult);
        break;
    case XCR_LIQ_SQRT: /* −Y·s·√(Q/V) */
        mv = -l->p[2] * l->p[1] * sqrt(usd / (l->p[0] * mult));
        break;
    case XCR_LIQ_AMM: { /* spot after selling usd/spot base units */
        double x = l->p[0] * mult, y = l->p[1] * mult, f = l->p[2];
        double r = x / (x + usd / (y / x) * (1 - f));
        mv = r * r - 1;
        break;
    }
    case XCR_LIQ_BOOK:
        mv = book_move(l, usd, mult);
        break;
    default:
        return 0;
    }
    return mv < MIN_MOVE ? MIN_MOVE : mv;
}

double xcr_liquidity_impact(const xcr_book *b, size_t asset, double usd,
                            double depth_mult)
{
    if (!b || asset >= b->n_assets || !(usd > 0))
        return 0;
    const xcr_liquidity_def *l = &b->assets[asset].liq;
    if (l->model == XCR_LIQ_NONE)
        return 0;
    double mv = xcr__liq_move(l, usd, depth_mult > 0 ? depth_mult : 0);
    /* the public contract is a move in [−1, 0] */
    return mv <= MIN_MOVE ? -1 : mv;
}

double xcr_liquidity_depth(const xcr_book *b, size_t asset, double move,
                           double depth_mult)
{
    if (!b || asset >= b->n_assets || !(move < 0) || !(move > -1))
        return NAN;
    const xcr_liquidity_def *l = &b->assets[asset].liq;
    double mult = depth_mult > 0 ? depth_mult : 0;
    switch (l->model) {
    case XCR_LIQ_LINEAR:
        return -move * l->p[0] * mult;
    case XCR_LIQ_SQRT: {
        double q = move / (l->p[2] * l->p[1]);
        return l->p[2] * l->p[1] > 0 ? l->p[0] * mult * q * q : INFINITY;
    }
    case XCR_LIQ_AMM: {
        double x = l->p[0] * mult, y = l->p[1] * mult, f = l->p[2];
        if (!(x > 0))
            return 0;
        double in = x / sqrt(1 + move) - x;
        return in / (1 - f) * (y / x);
    }
    case XCR_LIQ_BOOK: {
        double pc = 0, pm = 0;
        size_t n = l->nlevels;
        for (size_t k = 0; k < n; k++) {
            double m = l->levels[2 * k], c = l->levels[2 * k + 1] * mult;
            if (move >= m && m < pm)
                return pc + (c - pc) * (move - pm) / (m - pm);
            if (k == n - 1 && m < pm)
                return c + (c - pc) * (move - m) / (m - pm);
            pc = c;
            pm = m;
        }
        return pc;
    }
    default:
        return INFINITY;
    }
}

/* MARK: constant-product pool ------------------------------------------------------ */

double xcr__amm_sell(double *x, double *y, double f, double dx)
{
    /* Uniswap v2 swap, fee on the input (reference §3.5) */
    double k = *x * *y;
    double out = *y * dx * (1 - f) / (*x + dx * (1 - f));
    *x += dx * (1 - f);
    *y = k / *x;
    return out;
}

double xcr__amm_buy(double *x, double *y, double f, double dx)
{
    /* receive dx base units: quote in (after fee) y·dx/(x − dx) */
    double k = *x * *y;
    if (dx > *x * (1 - 1e-9))
        dx = *x * (1 - 1e-9);
    double in = *y * dx / (*x - dx);
    *x -= dx;
    *y = k / *x;
    return in / (1 - f);
}

/* Move a pool along its curve (k fixed) to spot `p` (reference §3.5:
 * x' = √(k/P'), y' = √(k·P')). */
static void amm_to_price(xcr__impact *s, double p)
{
    double k = s->x * s->y;
    s->x = sqrt(k / p);
    s->y = sqrt(k * p);
    s->price = p;
}

/* MARK: cascade state ---------------------------------------------------------------- */

void xcr__impact_init(xcr__impact *s, const xcr_liquidity_def *def,
                      double price, double mult)
{
    s->def = def;
    s->mult = mult > 0 ? mult : 0;
    s->fundamental = price;
    s->price = price;
    s->x = s->y = 0;
    if (def->model == XCR_LIQ_AMM) {
        s->x = def->p[0] * s->mult;
        s->y = def->p[1] * s->mult;
        if (s->x > 0 && s->y > 0)
            amm_to_price(s, price); /* a shocked pool sits on its curve */
    }
}

void xcr__impact_recover(xcr__impact *s)
{
    double r = s->def->recovery;
    if (!(r > 0) || s->price == s->fundamental)
        return;
    double p = s->fundamental + (s->price - s->fundamental) * (1 - r);
    if (s->def->model == XCR_LIQ_AMM && s->x > 0)
        amm_to_price(s, p);
    else
        s->price = p;
}

double xcr__impact_trade(xcr__impact *s, double units)
{
    const xcr_liquidity_def *l = s->def;
    if (units == 0 || l->model == XCR_LIQ_NONE || !isfinite(units))
        return s->price;
    double p0 = s->price, p;
    if (l->model == XCR_LIQ_AMM) {
        if (!(s->x > 0)) {
            p = units > 0 ? p0 * (1 + MIN_MOVE) : p0;
        } else {
            if (units > 0)
                xcr__amm_sell(&s->x, &s->y, l->p[2], units);
            else
                xcr__amm_buy(&s->x, &s->y, l->p[2], -units);
            p = s->y / s->x;
        }
    } else {
        double usd = fabs(units) * p0;
        double mv = xcr__liq_move(l, usd, s->mult); /* ≤ 0 */
        p = units > 0 ? p0 * (1 + mv) : p0 * (1 - mv);
    }
    if (!(p >= p0 * (1 + MIN_MOVE)))
        p = p0 * (1 + MIN_MOVE);
    s->price = p;
    return p;
}
