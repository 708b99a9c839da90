/* Risk-matrix portfolio margin of one account (Deribit's model,
 * margin-models.md §10; Deribit support article 25944756247837 "Portfolio
 * Margin" and API private/pme/simulate).
 *
 * Per (settle currency c, underlying u) pair of the account's positions:
 *  1. every position is fully revalued at the standard grid — price moves
 *     R·(k − B)/B, k = 0 … 2B, × vol up/unchanged/down — and at the extended
 *     moves (vol up); P&L in units of c, positive = gain.  Coin-settled
 *     delta-one P&L is size·cs/mark·(1 − 1/(1+m)) (§10.1); options are
 *     revalued with Black-76 at the shocked forward and vol (§10.2), their
 *     USD value converted to c at c's scenario price;
 *  2. extended entries are scaled by F·R/|m| and, when c is the underlying
 *     itself, re-expressed at the edge price by (1+m)/(1+sign(m)·R) (§10.3);
 *  3. positions are summed; gains are multiplied by pnl_offset and capped
 *     at max_offsetable_pnl (USD); extended losses are reduced by the
 *     dampener (max(|m|/R,1) − 1)·extended_dampener/((1+sign(m)·R)·price)
 *     (§10.3–10.4);
 *  4. worst_case = max(0, −min of all entries); roll shock = Σ over perps
 *     and futures of |notional in c|·max(annualised_move_risk·T,
 *     min_annualised_move); delta shock (our form, §10.5 "unverified"):
 *     min(max_delta_shock, m_inc·(|Δ| − threshold/S))·|Δ|·S once the
 *     pair's delta notional |Δ|·S exceeds delta_total_liq_shock_threshold.
 * A currency's risk matrix margin is the sum over its pairs; MM =
 * mm_factor × it, IM = it + the account's extra IM terms (open orders, MMP,
 * spot; settings.portfolio.extra_im).  The account's requirement in USD is
 * the sum over currencies at their prices, or, with cross_currency "blend",
 * d·Σ worst + (1 − d)·(worst of the joint USD vector) + add-ons
 * (Variational's decorrelation blend, §10.5).
 *
 * Nothing here allocates on the evaluation path: vectors live on the stack
 * (at most XCR__PM_MAX_VEC entries) and pairs are found by scanning the
 * account's positions. */
#include "pm.h"

#include <stdlib.h>
#include <string.h>

typedef struct ctx {
    const xcr_market *m;
    const xcr_book *b;
    const struct xcr__pm_book *pm;
    const xcr__override *ov;
} ctx;

typedef struct pair_res {
    double worst;
    int worst_index;          /* into the n_vec vector                      */
    double roll, dshock, delta;
    double price;             /* currency price (USD), override applied     */
} pair_res;

static inline double ovf(const ctx *x, uint32_t a)
{
    return xcr__pm_ov_factor(x->b, x->ov, a);
}

/* One position's vector (n_vec entries, settle-currency units, + = gain),
 * extended entries already scaled by the fraction. */
static void position_vector(const ctx *x, uint32_t p, double *restrict pv)
{
    const xcr_book *b = x->b;
    const struct xcr__pm_book *pm = x->pm;
    const uint32_t ii = b->pos_inst[p];
    const xcr__inst *in = &b->insts[ii];
    const uint32_t u = in->und, c = in->settle;
    const size_t nv = (size_t)pm->n_vec;
    const double *restrict mult = pm->sc_mult + u * nv;
    const double mark = x->m->mark[ii] * ovf(x, u);
    const double pc = x->m->price[c] * ovf(x, c);
    const double size = b->pos_size[p];
    const bool coin = c == u; /* c's price moves with the scenario */
    if (in->type == XCR_OPTION) {
        const xcr__pm_inst *pi = &pm->inst[ii];
        const xcr__pm_und *pu = &pm->und[u];
        const double iv = x->m->iv[ii];
        double sv[3];
        sv[0] = fmax(iv * pi->vmul_up, pu->min_vol_up);
        sv[1] = iv;
        sv[2] = iv * pi->vmul_dn;
        double sig[XCR__PM_MAX_VEC], val[XCR__PM_MAX_VEC];
        const uint8_t *vol = pm->sc_vol + u * nv;
        for (size_t s = 0; s < nv; s++)
            sig[s] = sv[vol[s]];
        xcr__pm_b76_batch(in->is_call, mark, in->strike, pi->sqrt_t, mult,
                          pm->sc_lnmult + u * nv, sig, nv, val);
        /* the base is the kernel's own unshocked centre entry, so that the
         * centre P&L is exactly 0 */
        const double base = val[XCR__PM_NVOL * pm->buckets + 1];
        const double q = size * xcr__option_units(in) / pc;
        if (coin)
            for (size_t s = 0; s < nv; s++)
                pv[s] = q * (val[s] / mult[s] - base);
        else
            for (size_t s = 0; s < nv; s++)
                pv[s] = q * (val[s] - base);
    } else if (in->inverse) {
        /* coin-settled: Q·(1 − 1/(1+m)), Q = size·cs/mark (§10.1) */
        const double q = size * in->cs / mark;
        for (size_t s = 0; s < nv; s++)
            pv[s] = q * (1.0 - 1.0 / mult[s]);
    } else {
        const double q = size * in->cs * mark / pc;
        if (coin)
            for (size_t s = 0; s < nv; s++)
                pv[s] = q * (mult[s] - 1.0) / mult[s];
        else
            for (size_t s = 0; s < nv; s++)
                pv[s] = q * (mult[s] - 1.0);
    }
    /* extended fraction (and coin re-expression) */
    const size_t ne = (size_t)pm->n_ext;
    const double *frac = pm->ext_frac + u * ne;
    const double *cf = pm->ext_coin + u * ne;
    double *pe = pv + pm->n_std;
    for (size_t e = 0; e < ne; e++)
        pe[e] *= coin ? frac[e] * cf[e] : frac[e];
}

/* Roll-shock notional (currency units) and delta of one position; `exact`
 * = 0 gives an upper bound of |delta| instead (no option pricing). */
static void position_roll_delta(const ctx *x, uint32_t p, bool exact,
                                double *roll, double *delta)
{
    const xcr_book *b = x->b;
    const uint32_t ii = b->pos_inst[p];
    const xcr__inst *in = &b->insts[ii];
    const double fu = ovf(x, in->und);
    const double mark = x->m->mark[ii] * fu;
    const double s_und = x->m->price[in->und] * fu;
    const double pc = x->m->price[in->settle] * ovf(x, in->settle);
    const double size = b->pos_size[p];
    if (in->type == XCR_OPTION) {
        *roll = 0;
        double q = size * xcr__option_units(in) * mark / s_und;
        if (exact) {
            const xcr__pm_inst *pi = &x->pm->inst[ii];
            xcr_greeks g;
            xcr_black76(in->is_call, mark, in->strike, pi->t_years,
                        x->m->iv[ii], &g);
            *delta = q * g.delta;
        } else {
            *delta = fabs(q);
        }
        return;
    }
    const double rate = x->pm->inst[ii].roll_rate;
    if (in->inverse) {
        double q = size * in->cs / mark; /* coins */
        *roll = fabs(q) * rate;
        *delta = exact ? q : fabs(q);
    } else {
        double q = size * in->cs * mark / s_und; /* units of underlying */
        *roll = fabs(size * in->cs * mark / pc) * rate;
        *delta = exact ? q : fabs(q);
    }
}

/* Evaluate the pair (c, u), whose first position in the account is p0.
 * v receives the pair's final vector (n_vec).  When posvec is non-NULL the
 * vector of each position of the pair is stored at posvec[k·n_vec] (k the
 * position's index within the account) and its roll shock at posroll[k]. */
static void pair_eval(const ctx *x, size_t acct, uint32_t p0, uint32_t c,
                      uint32_t u, double *restrict v, pair_res *r,
                      double *posvec, double *posroll, bool want_delta)
{
    const xcr_book *b = x->b;
    const struct xcr__pm_book *pm = x->pm;
    const size_t nv = (size_t)pm->n_vec;
    const uint32_t pbeg = b->pos_off[acct], pend = b->pos_off[acct + 1];
    double pv[XCR__PM_MAX_VEC];
    memset(v, 0, nv * sizeof *v);
    double roll = 0, bound = 0;
    for (uint32_t p = p0; p < pend; p++) {
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        if (in->settle != c || in->und != u)
            continue;
        position_vector(x, p, pv);
        for (size_t s = 0; s < nv; s++)
            v[s] += pv[s];
        double rl, dl;
        position_roll_delta(x, p, false, &rl, &dl);
        roll += rl;
        bound += dl;
        if (posvec) {
            memcpy(posvec + (size_t)(p - pbeg) * nv, pv, nv * sizeof *pv);
            posroll[p - pbeg] = rl;
        }
    }
    const xcr__pm_und *pu = &pm->und[u];
    const xcr__pm_cur *pc = &pm->cur[c];
    const double fc = ovf(x, c);
    const double price_c = x->m->price[c] * fc;
    const double s_und = x->m->price[u] * ovf(x, u);
    double dshock = 0, delta = NAN;
    /* The delta shock needs exact deltas only once the bound could pass
     * the threshold. */
    if (want_delta || bound * s_und > pu->delta_threshold) {
        delta = 0;
        for (uint32_t p = p0; p < pend; p++) {
            const xcr__inst *in = &b->insts[b->pos_inst[p]];
            if (in->settle != c || in->und != u)
                continue;
            double rl, dl;
            position_roll_delta(x, p, true, &rl, &dl);
            delta += dl;
        }
        const double notional = fabs(delta) * s_und;
        if (notional > pu->delta_threshold) {
            double excess = fabs(delta) - pu->delta_threshold / s_und;
            double rate = fmin(pu->max_delta_shock, pu->m_inc * excess);
            dshock = rate * notional / price_c;
        }
    }
    /* pnl_offset on gains, capped at max_offsetable_pnl (USD) */
    const double off = pc->pnl_offset;
    const double cap = pc->max_offsetable_pnl / price_c;
    for (size_t s = 0; s < nv; s++)
        if (v[s] > 0)
            v[s] = fmin(v[s] * off, cap);
    /* dampener on extended losses (USD → currency at the edge price when
     * the currency is the underlying) */
    const size_t ne = (size_t)pm->n_ext;
    const double *damp = pm->ext_damp + u * ne;
    const double *edge = pm->ext_edge + u * ne;
    for (size_t e = 0; e < ne; e++) {
        double *ve = &v[(size_t)pm->n_std + e];
        if (*ve < 0) {
            double d = damp[e] * pc->extended_dampener /
                       (price_c * (c == u ? edge[e] : 1.0));
            *ve = fmin(0.0, *ve + d);
        }
    }
    double mn = 0;
    int wi = XCR__PM_NVOL * pm->buckets + 1; /* the centre: 0 */
    for (size_t s = 0; s < nv; s++)
        if (v[s] < mn) {
            mn = v[s];
            wi = (int)s;
        }
    r->worst = -mn;
    r->worst_index = wi;
    r->roll = roll;
    r->dshock = dshock;
    r->delta = delta;
    r->price = price_c;
}

/* Is (c, u) the pair of an earlier position of the account? */
static bool seen_before(const xcr_book *b, uint32_t pbeg, uint32_t p)
{
    const xcr__inst *in = &b->insts[b->pos_inst[p]];
    for (uint32_t q = pbeg; q < p; q++) {
        const xcr__inst *o = &b->insts[b->pos_inst[q]];
        if (o->settle == in->settle && o->und == in->und)
            return true;
    }
    return false;
}

/* Σ extra IM of (account, currency) in currency units. */
static double extra_im(const struct xcr__pm_book *pm, size_t acct,
                       uint32_t asset)
{
    size_t lo = 0, hi = pm->n_extra;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const xcr__pm_extra *e = &pm->extra[mid];
        if (e->acct < acct || (e->acct == acct && e->asset < asset))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pm->n_extra && pm->extra[lo].acct == acct &&
                   pm->extra[lo].asset == asset
               ? pm->extra[lo].im
               : 0.0;
}

/* Σ extra IM of the account in USD. */
static double extra_im_usd(const ctx *x, size_t acct)
{
    const struct xcr__pm_book *pm = x->pm;
    double t = 0;
    for (size_t k = 0; k < pm->n_extra; k++)
        if (pm->extra[k].acct == acct)
            t += pm->extra[k].im * x->m->price[pm->extra[k].asset] *
                 ovf(x, pm->extra[k].asset);
    return t;
}

void xcr__pm_margin(const xcr_market *m, const xcr__override *ov,
                    size_t acct, double *im_usd, double *mm_usd)
{
    const xcr_book *b = m->book;
    const struct xcr__pm_book *pm = b->pm;
    if (pm->model == XCR__PM_SPAN) {
        xcr__span_margin(m, ov, acct, im_usd, mm_usd, NULL);
        return;
    }
    ctx x = {m, b, pm, ov};
    const size_t nv = (size_t)pm->n_vec;
    double v[XCR__PM_MAX_VEC], joint[XCR__PM_MAX_VEC];
    if (pm->blend)
        memset(joint, 0, nv * sizeof *joint);
    double addons = 0, worst_sum = 0;
    const uint32_t pbeg = b->pos_off[acct], pend = b->pos_off[acct + 1];
    for (uint32_t p = pbeg; p < pend; p++) {
        if (seen_before(b, pbeg, p))
            continue;
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        pair_res r;
        pair_eval(&x, acct, p, in->settle, in->und, v, &r, NULL, NULL,
                  false);
        worst_sum += r.worst * r.price;
        addons += (r.roll + r.dshock) * r.price;
        if (pm->blend)
            for (size_t s = 0; s < nv; s++)
                joint[s] += v[s] * r.price;
    }
    double worst = worst_sum;
    if (pm->blend) {
        double mn = 0;
        for (size_t s = 0; s < nv; s++)
            mn = fmin(mn, joint[s]);
        worst = pm->decorrelation * worst_sum + (1 - pm->decorrelation) * -mn;
    }
    const double rmm = worst + addons;
    *mm_usd = pm->mm_factor * rmm;
    *im_usd = rmm + (pm->n_extra ? extra_im_usd(&x, acct) : 0.0);
}

/* MARK: detail ------------------------------------------------------------------- */

double xcr_pm_pair_move(const xcr_pm_detail *d, const xcr_pm_pair *p,
                        int index)
{
    if (!d || !p || index < 0 || (size_t)index >= d->n_risk)
        return NAN;
    int k = index / XCR__PM_NVOL, B = d->buckets_count;
    return p->price_range * (double)(k - B) / (double)B;
}

void xcr_pm_detail_free(xcr_pm_detail *d)
{
    if (!d)
        return;
    free(d->pairs);
    free(d->currencies);
    free(d->positions);
    free(d->commodities);
    free(d->storage_);
    free(d);
}

static void fill_worst_move(const struct xcr__pm_book *pm, uint32_t u,
                            int wi, double *move, int *index, int *ext)
{
    const double R = pm->und[u].price_range;
    if (wi >= pm->n_std) {
        *ext = 1;
        *index = wi - pm->n_std;
        *move = pm->ext_moves[*index];
    } else {
        *ext = 0;
        *index = wi;
        *move = R * (double)(wi / XCR__PM_NVOL - pm->buckets) /
                (double)pm->buckets;
    }
}

xcr_status xcr__pm_detail(const xcr_market *m, const xcr__override *ov,
                          size_t acct, xcr_pm_detail **out)
{
    const xcr_book *b = m->book;
    const struct xcr__pm_book *pm = b->pm;
    *out = NULL;
    xcr_pm_detail *d = calloc(1, sizeof *d);
    if (!d)
        return XCR_ENOMEM;
    const uint32_t pbeg = b->pos_off[acct], pend = b->pos_off[acct + 1];
    const size_t np = pend - pbeg, nv = (size_t)pm->n_vec;
    d->model = pm->model == XCR__PM_SPAN ? XCR_PM_SPAN : XCR_PM_RISK_MATRIX;
    d->buckets_count = pm->buckets;
    d->vol_scenarios_count = XCR__PM_NVOL;
    d->n_risk = (size_t)pm->n_std;
    d->n_extended = (size_t)pm->n_ext;
    d->extended_moves = pm->ext_moves;
    d->mm_factor = pm->mm_factor;
    d->cross_currency_blend = pm->blend;
    d->decorrelation_risk = pm->decorrelation;

    /* distinct pairs (first appearance) and currencies (with extra IM) */
    size_t npairs = 0, ncur = 0;
    for (uint32_t p = pbeg; p < pend; p++)
        if (!seen_before(b, pbeg, p))
            npairs++;
    uint32_t *curs = malloc((np + pm->n_extra + 1) * sizeof *curs);
    d->positions = calloc(np ? np : 1, sizeof *d->positions);
    d->n_positions = np;
    if (!curs || !d->positions) {
        free(curs);
        xcr_pm_detail_free(d);
        return XCR_ENOMEM;
    }
    for (uint32_t p = pbeg; p < pend; p++) {
        uint32_t c = b->insts[b->pos_inst[p]].settle;
        bool dup = false;
        for (size_t k = 0; k < ncur; k++)
            dup |= curs[k] == c;
        if (!dup)
            curs[ncur++] = c;
    }
    for (size_t k = 0; k < pm->n_extra; k++) {
        if (pm->extra[k].acct != acct)
            continue;
        bool dup = false;
        for (size_t j = 0; j < ncur; j++)
            dup |= curs[j] == pm->extra[k].asset;
        if (!dup)
            curs[ncur++] = pm->extra[k].asset;
    }
    for (size_t k = 0; k < np; k++) {
        d->positions[k].instrument = b->pos_inst[pbeg + k];
        d->positions[k].currency = b->insts[b->pos_inst[pbeg + k]].settle;
    }
    if (pm->model == XCR__PM_SPAN) {
        free(curs);
        d->commodities = calloc(np ? np : 1, sizeof *d->commodities);
        if (!d->commodities) {
            xcr_pm_detail_free(d);
            return XCR_ENOMEM;
        }
        double im, mm;
        xcr__span_margin(m, ov, acct, &im, &mm, d);
        d->initial_margin_usd = im;
        d->maintenance_margin_usd = mm;
        *out = d;
        return XCR_OK;
    }

    /* storage: per position, per pair, per currency one n_vec vector, and
     * per-position roll shocks */
    size_t nvec = np + npairs + ncur;
    double *st = calloc(nvec * nv + np + 1, sizeof *st);
    d->pairs = calloc(npairs ? npairs : 1, sizeof *d->pairs);
    d->currencies = calloc(ncur ? ncur : 1, sizeof *d->currencies);
    if (!st || !d->pairs || !d->currencies) {
        free(st);
        free(curs);
        xcr_pm_detail_free(d);
        return XCR_ENOMEM;
    }
    d->storage_ = st;
    double *posvec = st, *pairvec = st + np * nv,
           *curvec = st + (np + npairs) * nv, *posroll = st + nvec * nv;
    ctx x = {m, b, pm, ov};

    /* pairs grouped by currency, in order of first appearance */
    size_t ip = 0;
    double worst_sum = 0, addons = 0, extra_usd = 0;
    double joint[XCR__PM_MAX_VEC];
    memset(joint, 0, sizeof joint);
    for (size_t ci = 0; ci < ncur; ci++) {
        const uint32_t c = curs[ci];
        xcr_pm_currency *cu = &d->currencies[ci];
        cu->asset = c;
        cu->price = m->price[c] * ovf(&x, c);
        cu->risk_vector = curvec + ci * nv;
        cu->extended = cu->risk_vector + pm->n_std;
        cu->pair_first = ip;
        double best = -1;
        for (uint32_t p = pbeg; p < pend; p++) {
            const xcr__inst *in = &b->insts[b->pos_inst[p]];
            if (in->settle != c || seen_before(b, pbeg, p))
                continue;
            xcr_pm_pair *pr = &d->pairs[ip];
            double *v = pairvec + ip * nv;
            pair_res r;
            pair_eval(&x, acct, p, c, in->und, v, &r, posvec, posroll, true);
            pr->currency = c;
            pr->underlying = in->und;
            pr->price_range = pm->und[in->und].price_range;
            pr->risk_vector = v;
            pr->extended = v + pm->n_std;
            pr->worst_case = r.worst;
            fill_worst_move(pm, in->und, r.worst_index, &pr->worst_move,
                            &pr->worst_index, &pr->worst_extended);
            pr->roll_shock = r.roll;
            pr->delta_shock = r.dshock;
            pr->delta = r.delta;
            double *cv = curvec + ci * nv;
            for (size_t s = 0; s < nv; s++) {
                cv[s] += v[s];
                joint[s] += v[s] * r.price;
            }
            cu->worst_case += r.worst;
            cu->roll_shock += r.roll;
            cu->delta_shock += r.dshock;
            if (r.worst > best) {
                best = r.worst;
                cu->worst_index = pr->worst_index;
                cu->worst_extended = pr->worst_extended;
            }
            ip++;
        }
        cu->n_pairs = ip - cu->pair_first;
        cu->risk_matrix_margin =
            cu->worst_case + cu->roll_shock + cu->delta_shock;
        cu->extra_im = extra_im(pm, acct, c);
        cu->initial_margin = cu->risk_matrix_margin + cu->extra_im;
        cu->maintenance_margin = pm->mm_factor * cu->risk_matrix_margin;
        worst_sum += cu->worst_case * cu->price;
        addons += (cu->roll_shock + cu->delta_shock) * cu->price;
        extra_usd += cu->extra_im * cu->price;
    }
    d->n_pairs = ip;
    d->n_currencies = ncur;
    for (size_t k = 0; k < np; k++) {
        d->positions[k].risk_vector = posvec + k * nv;
        d->positions[k].extended = posvec + k * nv + pm->n_std;
        d->positions[k].roll_shock = posroll[k];
    }
    double worst = worst_sum;
    if (pm->blend) {
        double mn = 0;
        for (size_t s = 0; s < nv; s++)
            mn = fmin(mn, joint[s]);
        worst = pm->decorrelation * worst_sum + (1 - pm->decorrelation) * -mn;
        d->cross_currency_offset_usd = worst - worst_sum;
    }
    d->maintenance_margin_usd = pm->mm_factor * (worst + addons);
    d->initial_margin_usd = worst + addons + extra_usd;
    free(curs);
    *out = d;
    return XCR_OK;
}

xcr_status xcr_portfolio_detail(const xcr_market *m, size_t account,
                                xcr_pm_detail **out, xcr_error *err)
{
    if (!m || !out)
        return xcr__fail(err, XCR_EINVAL, "market and output are required");
    *out = NULL;
    const xcr_book *b = m->book;
    if (account >= b->n_accts)
        return xcr__fail(err, XCR_ENOTFOUND, "account index %zu out of range",
                         account);
    if (!b->pm)
        return xcr__fail(err, XCR_EINVAL,
                         "the book has no portfolio accounts and no "
                         "settings.portfolio");
    xcr_status s = xcr__pm_detail(m, NULL, account, out);
    if (s != XCR_OK)
        return xcr__fail(err, s, "out of memory");
    return XCR_OK;
}
