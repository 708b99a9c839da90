/* SPAN-style risk arrays (settings.portfolio.model "span").
 *
 * CME SPAN (cme.com/clearing/rmspan/span/components.html; CME pubspan pages
 * "Risk Arrays", "Intra Spreads", "Inter Spreads"; McMillan, Options as a
 * Strategic Investment, ch. 34; margin-models.md §12):
 *  - 16 scenarios per underlying (the combined commodity): price moves of
 *    0, ±1/3, ±2/3, ±1 price scan range (PSR) × vol ±1 volatility scan range
 *    (VSR), plus the two extreme moves ±extreme_multiplier·PSR at unchanged
 *    vol, covered at extreme_cover (35 %);
 *  - a position's array is its P&L (USD, positive = gain; CME prints losses
 *    positive, McMillan gains positive) at each scenario by full
 *    revaluation, or the per-contract array supplied in
 *    settings.portfolio.risk_arrays (as SPAN parameter files carry them)
 *    times the position;
 *  - scanning risk = max(0, −min Σ arrays);
 *  - intra-commodity (calendar) spread charge: composite deltas netted per
 *    expiry tier; spread deltas = min(Σ long tier deltas, Σ short tier
 *    deltas); charge = intra_spread_charge × spread deltas × price;
 *  - inter-commodity spread credit, spreads taken in the listed order
 *    (priority): for legs {A: rA, B: rB} with opposite net deltas, n =
 *    min(|ΔA|/rA, |ΔB|/rB) spreads; each leg's credit = credit × n·r ×
 *    (its scanning risk per delta);
 *  - short option minimum = short_option_minimum × notional of the short
 *    options;
 *  - commodity risk = max(scan + intra − inter credit, SOM); the account's
 *    SPAN requirement (its maintenance margin) = Σ commodity risk; IM =
 *    span_initial_factor × MM.  Net option value is not subtracted: xcr's
 *    equity already carries the options' value (spec §1).
 * Composite delta (ours; CME weights the price scan points): the average of
 * the position's deltas at the seven price scan points at unchanged vol;
 * for a supplied array, the slope between the ±1 PSR scenarios. */
#include "pm.h"

#include <string.h>

void xcr_span_scenarios(double extreme_multiplier, double extreme_cover,
                        double *price_mult, double *vol_mult, double *weight)
{
    /* CME's order: 0, +1/3, −1/3, +2/3, −2/3, +1, −1 (each vol up, vol
     * down), then +extreme, −extreme at unchanged vol. */
    static const double pm[7] = {0.0,        1.0 / 3.0, -1.0 / 3.0, 2.0 / 3.0,
                                 -2.0 / 3.0, 1.0,       -1.0};
    for (int k = 0; k < 7; k++)
        for (int j = 0; j < 2; j++) {
            int s = 2 * k + j;
            if (price_mult)
                price_mult[s] = pm[k];
            if (vol_mult)
                vol_mult[s] = j == 0 ? 1.0 : -1.0;
            if (weight)
                weight[s] = 1.0;
        }
    for (int j = 0; j < 2; j++) {
        int s = 14 + j;
        if (price_mult)
            price_mult[s] = j == 0 ? extreme_multiplier : -extreme_multiplier;
        if (vol_mult)
            vol_mult[s] = 0.0;
        if (weight)
            weight[s] = extreme_cover;
    }
}

double xcr_span_scan(const double *arrays, const double *qty, size_t n,
                     double *combined, int *worst)
{
    double c[XCR__SPAN_N] = {0};
    for (size_t k = 0; k < n; k++)
        for (int s = 0; s < XCR__SPAN_N; s++)
            c[s] += qty[k] * arrays[XCR__SPAN_N * k + (size_t)s];
    double mn = 0;
    int w = 0;
    for (int s = 0; s < XCR__SPAN_N; s++)
        if (c[s] < mn) {
            mn = c[s];
            w = s + 1;
        }
    if (combined)
        memcpy(combined, c, sizeof c);
    if (worst)
        *worst = w;
    return -mn;
}

typedef struct sctx {
    const xcr_market *m;
    const xcr_book *b;
    const struct xcr__pm_book *pm;
    const xcr__override *ov;
} sctx;

typedef struct comm {
    uint32_t u;
    double arr[XCR__SPAN_N];
    double scan;
    int worst;
    double delta, intra, som, credit;
} comm;

/* A position's weighted array (USD) and composite delta. */
static void position_span(const sctx *x, uint32_t p, double *arr,
                          double *cdelta)
{
    const xcr_book *b = x->b;
    const struct xcr__pm_book *pm = x->pm;
    const uint32_t ii = b->pos_inst[p];
    const xcr__inst *in = &b->insts[ii];
    const uint32_t u = in->und, c = in->settle;
    const double fu = xcr__pm_ov_factor(b, x->ov, u);
    const double mark = x->m->mark[ii] * fu;
    const double s_und = x->m->price[u] * fu;
    const double pc = x->m->price[c] * xcr__pm_ov_factor(b, x->ov, c);
    const double size = b->pos_size[p];
    const double *mult = pm->sp_mult + (size_t)u * XCR__SPAN_N;
    const double *w = pm->sp_weight + (size_t)u * XCR__SPAN_N;
    const xcr__pm_und *pu = &pm->und[u];
    const xcr__pm_inst *pi = &pm->inst[ii];
    if (pi->span_array >= 0) {
        const double *a = pm->span_arrays + XCR__SPAN_N * (size_t)pi->span_array;
        for (int s = 0; s < XCR__SPAN_N; s++)
            arr[s] = size * a[s];
        /* slope between +PSR and −PSR (scenarios 11/12 and 13/14) */
        double up = 0.5 * (a[10] + a[11]), dn = 0.5 * (a[12] + a[13]);
        *cdelta = size * (up - dn) / (2.0 * pu->psr * s_und);
        return;
    }
    if (in->type == XCR_OPTION) {
        double sig[XCR__SPAN_N + 1], val[XCR__SPAN_N + 1];
        double mu[XCR__SPAN_N + 1], lnm[XCR__SPAN_N + 1];
        const double iv = x->m->iv[ii];
        const double *vs = pm->sp_volsign + (size_t)u * XCR__SPAN_N;
        memcpy(mu, mult, XCR__SPAN_N * sizeof *mu);
        memcpy(lnm, pm->sp_lnmult + (size_t)u * XCR__SPAN_N,
               XCR__SPAN_N * sizeof *lnm);
        for (int s = 0; s < XCR__SPAN_N; s++)
            sig[s] = fmax(iv + vs[s] * pu->vsr, 0.0);
        mu[XCR__SPAN_N] = 1.0; /* the base */
        lnm[XCR__SPAN_N] = 0.0;
        sig[XCR__SPAN_N] = iv;
        xcr__pm_b76_batch(in->is_call, mark, in->strike, pi->sqrt_t, mu, lnm,
                          sig, XCR__SPAN_N + 1, val);
        const double q = size * xcr__option_units(in);
        for (int s = 0; s < XCR__SPAN_N; s++)
            arr[s] = q * (val[s] - val[XCR__SPAN_N]) * w[s];
        double dsum = 0;
        for (int k = 0; k < 7; k++) {
            xcr_greeks g;
            xcr_black76(in->is_call, mark * mult[2 * k], in->strike,
                        pi->t_years, iv, &g);
            dsum += g.delta;
        }
        *cdelta = q * (dsum / 7.0) * mark / s_und;
    } else if (in->inverse) {
        /* coin P&L Q·(1 − 1/(1+m)) valued at the scenario's settle price */
        const double q = size * in->cs / mark;
        for (int s = 0; s < XCR__SPAN_N; s++)
            arr[s] = q * (1.0 - 1.0 / mult[s]) * pc *
                     (c == u ? mult[s] : 1.0) * w[s];
        *cdelta = q;
    } else {
        const double q = size * in->cs * mark;
        for (int s = 0; s < XCR__SPAN_N; s++)
            arr[s] = q * (mult[s] - 1.0) * w[s];
        *cdelta = q / s_und;
    }
}

static bool und_seen_before(const xcr_book *b, uint32_t pbeg, uint32_t p)
{
    uint32_t u = b->insts[b->pos_inst[p]].und;
    for (uint32_t q = pbeg; q < p; q++)
        if (b->insts[b->pos_inst[q]].und == u)
            return true;
    return false;
}

static void commodity(const sctx *x, size_t acct, uint32_t p0, uint32_t u,
                      comm *c, xcr_pm_position *pos)
{
    const xcr_book *b = x->b;
    const xcr__pm_und *pu = &x->pm->und[u];
    const uint32_t pbeg = b->pos_off[acct], pend = b->pos_off[acct + 1];
    const double s_und = x->m->price[u] * xcr__pm_ov_factor(b, x->ov, u);
    memset(c, 0, sizeof *c);
    c->u = u;
    double short_notional = 0;
    for (uint32_t p = p0; p < pend; p++) {
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        if (in->und != u)
            continue;
        double arr[XCR__SPAN_N], cd;
        position_span(x, p, arr, &cd);
        for (int s = 0; s < XCR__SPAN_N; s++)
            c->arr[s] += arr[s];
        c->delta += cd;
        if (in->type == XCR_OPTION && b->pos_size[p] < 0)
            short_notional +=
                -b->pos_size[p] * xcr__option_units(in) * s_und;
        if (pos) {
            memcpy(pos[p - pbeg].span_array, arr, sizeof arr);
            pos[p - pbeg].composite_delta = cd;
        }
    }
    /* intra-commodity: net composite delta per expiry tier */
    double dplus = 0, dminus = 0;
    for (uint32_t p = p0; p < pend; p++) {
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        if (in->und != u)
            continue;
        double tier_key = in->type == XCR_PERP ? -1.0 : in->expiry;
        bool first = true;
        for (uint32_t q = p0; q < p && first; q++) {
            const xcr__inst *o = &b->insts[b->pos_inst[q]];
            if (o->und == u &&
                (o->type == XCR_PERP ? -1.0 : o->expiry) == tier_key)
                first = false;
        }
        if (!first)
            continue;
        double td = 0;
        for (uint32_t q = p; q < pend; q++) {
            const xcr__inst *o = &b->insts[b->pos_inst[q]];
            if (o->und == u &&
                (o->type == XCR_PERP ? -1.0 : o->expiry) == tier_key) {
                double arr[XCR__SPAN_N], cd;
                position_span(x, q, arr, &cd);
                td += cd;
            }
        }
        if (td > 0)
            dplus += td;
        else
            dminus -= td;
    }
    c->intra = pu->intra_charge * fmin(dplus, dminus) * s_und;
    c->som = pu->som * short_notional;
    double mn = 0;
    for (int s = 0; s < XCR__SPAN_N; s++)
        if (c->arr[s] < mn) {
            mn = c->arr[s];
            c->worst = s + 1;
        }
    c->scan = -mn;
}

#define MAX_LEGS (2 * 32)

void xcr__span_margin(const xcr_market *m, const xcr__override *ov,
                      size_t acct, double *im_usd, double *mm_usd,
                      xcr_pm_detail *d)
{
    const xcr_book *b = m->book;
    const struct xcr__pm_book *pm = b->pm;
    sctx x = {m, b, pm, ov};
    const uint32_t pbeg = b->pos_off[acct], pend = b->pos_off[acct + 1];
    /* commodities that are legs of inter-commodity spreads wait for their
     * credit; the others count at once */
    uint32_t leg_u[MAX_LEGS];
    comm leg[MAX_LEGS];
    bool have[MAX_LEGS];
    size_t nl = 0;
    for (size_t k = 0; k < pm->n_inter; k++)
        for (int j = 0; j < 2; j++) {
            bool dup = false;
            for (size_t i = 0; i < nl; i++)
                dup |= leg_u[i] == pm->inter[k].und[j];
            if (!dup && nl < MAX_LEGS) {
                have[nl] = false;
                leg_u[nl++] = pm->inter[k].und[j];
            }
        }
    double total = 0;
    size_t nc = 0;
    for (uint32_t p = pbeg; p < pend; p++) {
        if (und_seen_before(b, pbeg, p))
            continue;
        comm c;
        uint32_t u = b->insts[b->pos_inst[p]].und;
        commodity(&x, acct, p, u, &c, d ? d->positions : NULL);
        size_t slot = nl;
        for (size_t i = 0; i < nl; i++)
            if (leg_u[i] == u)
                slot = i;
        if (slot < nl) {
            leg[slot] = c;
            have[slot] = true;
        } else {
            total += fmax(c.scan + c.intra, c.som);
        }
        if (d) {
            xcr_span_commodity *o = &d->commodities[nc];
            o->underlying = u;
            memcpy(o->risk_array, c.arr, sizeof c.arr);
            o->scanning_risk = c.scan;
            o->worst_scenario = c.worst;
            o->composite_delta = c.delta;
            o->intra_spread_charge = c.intra;
            o->short_option_minimum = c.som;
            o->inter_spread_credit = 0;
            o->risk = fmax(c.scan + c.intra, c.som);
        }
        nc++;
    }
    /* inter-commodity credits, in priority (listed) order */
    double rem[MAX_LEGS];
    for (size_t i = 0; i < nl; i++)
        rem[i] = have[i] ? leg[i].delta : 0.0;
    for (size_t k = 0; k < pm->n_inter; k++) {
        const xcr__pm_inter *sp = &pm->inter[k];
        size_t s[2] = {nl, nl};
        for (int j = 0; j < 2; j++)
            for (size_t i = 0; i < nl; i++)
                if (leg_u[i] == sp->und[j])
                    s[j] = i;
        if (s[0] >= nl || s[1] >= nl || !have[s[0]] || !have[s[1]] ||
            !(rem[s[0]] * rem[s[1]] < 0))
            continue;
        double n = fmin(fabs(rem[s[0]]) / sp->ratio[0],
                        fabs(rem[s[1]]) / sp->ratio[1]);
        for (int j = 0; j < 2; j++) {
            comm *c = &leg[s[j]];
            double used = n * sp->ratio[j];
            if (fabs(c->delta) > 0)
                c->credit += sp->credit * used * c->scan / fabs(c->delta);
            rem[s[j]] -= rem[s[j]] > 0 ? used : -used;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        if (!have[i])
            continue;
        const comm *c = &leg[i];
        double risk = fmax(c->scan + c->intra - c->credit, c->som);
        total += risk;
        if (d)
            for (size_t k = 0; k < nc; k++)
                if (d->commodities[k].underlying == c->u) {
                    d->commodities[k].inter_spread_credit = c->credit;
                    d->commodities[k].risk = risk;
                }
    }
    if (d)
        d->n_commodities = nc;
    *mm_usd = total;
    *im_usd = total * pm->span_im_factor;
}
