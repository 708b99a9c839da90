/* settings.portfolio: parsing, validation, the documented preset and the
 * book-level precomputation of the portfolio-margin model.
 *
 * Parameter names are Deribit's (spec §1.2; margin-models.md §10.6, API
 * reference docs.deribit.com private/pme/simulate).  Each underlying's and
 * each currency's parameters are resolved as: the preset for its symbol
 * (docs/portfolio.md), overlaid by settings.portfolio.default_underlying /
 * default_currency, overlaid by its own block in underlyings / currencies. */
#include "pm.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* MARK: presets ------------------------------------------------------------- */

/* Deribit's published BTC parameters (API example of 2024-06-17,
 * margin-models.md §10.6) and ETH parameters (API response of 2026-02-15).
 * Other underlyings use the ETH set (the wider range) with m_inc 0: m_inc is
 * per coin and has to be set per asset.  SPAN defaults (ours): price scan
 * range = price_range, volatility scan range 0.10, extreme move 2 × PSR
 * covered at 35 % (CME; McMillan ch. 34), no spread charge, no SOM. */
static xcr__pm_und und_preset(const char *sym)
{
    xcr__pm_und u = {0.18, 0.4, 0.25, 0.5, 0.3, 0.13, 1.0,
                     20e6, 0.1,  0.0, NAN,  0.10, 2.0,  0.35, 0.0, 0.0};
    if (strcmp(sym, "BTC") == 0) {
        u.price_range = 0.16;
        u.vol_up = 0.5;
        u.m_inc = 0.00005;
    } else if (strcmp(sym, "ETH") == 0) {
        u.m_inc = 0.000004;
    }
    return u;
}

/* Currencies: BTC (2024-06-17), ETH (2026-02-15), stable assets the USD
 * column of 2024-06-17; other coins the BTC values.  Where the published
 * pnl_offset is 0 the published max_offsetable_pnl (0) has no effect; the
 * preset leaves it uncapped so that setting pnl_offset alone works. */
static xcr__pm_cur cur_preset(const xcr__asset *a)
{
    xcr__pm_cur c = {0.0, INFINITY, 0.075, 0.01, 100000.0};
    if (strcmp(a->symbol, "ETH") == 0) {
        c = (xcr__pm_cur){0.6, 20e6, 0.05, 0.005, 200000.0};
    } else if (a->stable) {
        c = (xcr__pm_cur){0.0, INFINITY, 0.1, 0.01, 25000.0};
    }
    return c;
}

static const double default_ext_moves[8] = {-0.66, -0.33, 0.5, 1.0,
                                            2.0,   3.0,   4.0, 5.0};

/* MARK: JSON helpers ----------------------------------------------------------- */

#define PFX "$.settings.portfolio"

static xcr_status bad(xcr_error *err, xcr_status code, const char *path,
                      const char *what)
{
    return xcr__fail(err, code, PFX "%s: %s", path, what);
}

/* A number field within [lo, hi] (open ends when lo_open / hi_open). */
static xcr_status num_field(const json_t *obj, const char *key,
                            const char *path, double lo, bool lo_open,
                            double hi, bool hi_open, double *dst,
                            xcr_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return XCR_OK;
    char p[300];
    snprintf(p, sizeof p, "%s.%s", path, key);
    char what[160];
    snprintf(what, sizeof what, "must be a number in %s%g, %g%s",
             lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    if (isinf(hi))
        snprintf(what, sizeof what, "must be a finite number %s %g",
                 lo_open ? ">" : ">=", lo);
    if (!json_is_number(v))
        return bad(err, XCR_EINVAL, p, what);
    double x = json_number_value(v);
    if (!isfinite(x) || (lo_open ? !(x > lo) : !(x >= lo)) ||
        (hi_open ? !(x < hi) : !(x <= hi)))
        return bad(err, XCR_EINVAL, p, what);
    *dst = x;
    return XCR_OK;
}

/* Reject keys outside `known` (NULL-terminated). */
static xcr_status known_keys(const json_t *obj, const char *path,
                             const char *const *known, xcr_error *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, key, v)
    {
        (void)v;
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            if (strcmp(key, known[i]) == 0)
                ok = true;
        if (!ok) {
            char p[300];
            snprintf(p, sizeof p, "%s.%.100s", path, key);
            return bad(err, XCR_EINVAL, p, "unknown parameter");
        }
    }
    return XCR_OK;
}

#define TRY(x)                                                                 \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

static const char *const und_keys[] = {
    "price_range", "volatility_range_up", "volatility_range_down",
    "min_volatility_for_shock_up", "short_term_vega_power",
    "long_term_vega_power", "extended_table_factor",
    "delta_total_liq_shock_threshold", "max_delta_shock", "m_inc",
    "price_scan_range", "volatility_scan_range", "extreme_multiplier",
    "extreme_cover", "intra_spread_charge", "short_option_minimum", NULL};

static xcr_status overlay_und(const json_t *o, const char *path,
                              xcr__pm_und *u, xcr_error *err)
{
    if (!json_is_object(o))
        return bad(err, XCR_EINVAL, path, "must be an object");
    TRY(known_keys(o, path, und_keys, err));
    TRY(num_field(o, "price_range", path, 0, true, 1, true, &u->price_range,
                  err));
    TRY(num_field(o, "volatility_range_up", path, 0, false, INFINITY, false,
                  &u->vol_up, err));
    TRY(num_field(o, "volatility_range_down", path, 0, false, INFINITY, false,
                  &u->vol_down, err));
    TRY(num_field(o, "min_volatility_for_shock_up", path, 0, false, INFINITY,
                  false, &u->min_vol_up, err));
    TRY(num_field(o, "short_term_vega_power", path, 0, false, INFINITY, false,
                  &u->short_power, err));
    TRY(num_field(o, "long_term_vega_power", path, 0, false, INFINITY, false,
                  &u->long_power, err));
    TRY(num_field(o, "extended_table_factor", path, 0, false, INFINITY, false,
                  &u->ext_factor, err));
    TRY(num_field(o, "delta_total_liq_shock_threshold", path, 0, false,
                  INFINITY, false, &u->delta_threshold, err));
    TRY(num_field(o, "max_delta_shock", path, 0, false, 1, false,
                  &u->max_delta_shock, err));
    TRY(num_field(o, "m_inc", path, 0, false, INFINITY, false, &u->m_inc,
                  err));
    TRY(num_field(o, "price_scan_range", path, 0, true, 1, true, &u->psr,
                  err));
    TRY(num_field(o, "volatility_scan_range", path, 0, false, INFINITY, false,
                  &u->vsr, err));
    TRY(num_field(o, "extreme_multiplier", path, 0, true, INFINITY, false,
                  &u->extreme_mult, err));
    TRY(num_field(o, "extreme_cover", path, 0, false, 1, false,
                  &u->extreme_cover, err));
    TRY(num_field(o, "intra_spread_charge", path, 0, false, INFINITY, false,
                  &u->intra_charge, err));
    TRY(num_field(o, "short_option_minimum", path, 0, false, INFINITY, false,
                  &u->som, err));
    return XCR_OK;
}

/* Deribit publishes haircut, equity_side_impact and correlation_set per
 * currency; xcr accepts them (so that a copied parameter block loads) and
 * does not use them (docs/portfolio.md). */
static const char *const cur_keys[] = {
    "pnl_offset",          "max_offsetable_pnl", "annualised_move_risk",
    "min_annualised_move", "extended_dampener",  "haircut",
    "equity_side_impact",  "correlation_set",    NULL};

static xcr_status overlay_cur(const json_t *o, const char *path,
                              xcr__pm_cur *c, xcr_error *err)
{
    if (!json_is_object(o))
        return bad(err, XCR_EINVAL, path, "must be an object");
    TRY(known_keys(o, path, cur_keys, err));
    TRY(num_field(o, "pnl_offset", path, 0, false, 1, false, &c->pnl_offset,
                  err));
    TRY(num_field(o, "max_offsetable_pnl", path, 0, false, INFINITY, false,
                  &c->max_offsetable_pnl, err));
    TRY(num_field(o, "annualised_move_risk", path, 0, false, INFINITY, false,
                  &c->annualised_move_risk, err));
    TRY(num_field(o, "min_annualised_move", path, 0, false, INFINITY, false,
                  &c->min_annualised_move, err));
    TRY(num_field(o, "extended_dampener", path, 0, false, INFINITY, false,
                  &c->extended_dampener, err));
    return XCR_OK;
}

/* An integer field in [lo, hi]. */
static xcr_status int_field(const json_t *obj, const char *key, long lo,
                            long hi, int *dst, xcr_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return XCR_OK;
    char p[120], what[120];
    snprintf(p, sizeof p, ".%s", key);
    snprintf(what, sizeof what, "must be an integer in [%ld, %ld]", lo, hi);
    double x = json_is_integer(v)  ? (double)json_integer_value(v)
               : json_is_real(v)   ? json_real_value(v)
                                   : NAN;
    if (!(x >= (double)lo && x <= (double)hi) || x != floor(x))
        return bad(err, XCR_EINVAL, p, what);
    *dst = (int)x;
    return XCR_OK;
}

/* MARK: the parse ------------------------------------------------------------------- */

static const char *const top_keys[] = {
    "model",          "mm_factor",       "buckets_count",
    "vol_scenarios_count", "cross_currency", "decorrelation_risk",
    "extended_moves", "underlyings",     "currencies",
    "default_underlying", "default_currency", "extra_im",
    "span_initial_factor", "inter_spreads", "risk_arrays", NULL};

static const char *const extra_keys[] = {"open_orders_margin", "mmp_margin",
                                         "spot_margin", NULL};

typedef struct parsed {
    const json_t *underlyings, *currencies, *def_und, *def_cur;
} parsed;

static xcr_status parse_top(xcr_book *b, struct xcr__pm_book *pm,
                            const json_t *root, parsed *pp, xcr_error *err)
{
    if (!json_is_object(root))
        return bad(err, XCR_EINVAL, "", "must be an object");
    TRY(known_keys(root, "", top_keys, err));
    const json_t *v = json_object_get(root, "model");
    if (v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "risk_matrix") == 0)
            pm->model = XCR__PM_RISK_MATRIX;
        else if (strcmp(s, "span") == 0)
            pm->model = XCR__PM_SPAN;
        else
            return bad(err, XCR_EINVAL, ".model",
                       "must be \"risk_matrix\" or \"span\"");
    }
    TRY(num_field(root, "mm_factor", "", 0, true, INFINITY, false,
                  &pm->mm_factor, err));
    TRY(int_field(root, "buckets_count", 1, XCR__PM_MAX_BUCKETS, &pm->buckets,
                  err));
    int nvol = 3;
    TRY(int_field(root, "vol_scenarios_count", 3, 3, &nvol, err));
    v = json_object_get(root, "cross_currency");
    if (v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "sum") == 0)
            pm->blend = 0;
        else if (strcmp(s, "blend") == 0)
            pm->blend = 1;
        else
            return bad(err, XCR_EINVAL, ".cross_currency",
                       "must be \"sum\" or \"blend\"");
    }
    TRY(num_field(root, "decorrelation_risk", "", 0, false, 1, false,
                  &pm->decorrelation, err));
    TRY(num_field(root, "span_initial_factor", "", 0, true, INFINITY, false,
                  &pm->span_im_factor, err));
    v = json_object_get(root, "extended_moves");
    if (v) {
        if (!json_is_array(v) || json_array_size(v) > XCR__PM_MAX_EXT)
            return bad(err, XCR_EINVAL, ".extended_moves",
                       "must be an array of at most 16 moves");
        pm->n_ext = (int)json_array_size(v);
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *x = json_array_get(v, i);
            double m = json_is_number(x) ? json_number_value(x) : NAN;
            if (!isfinite(m) || !(m > -1) || m == 0 || m > 1000) {
                char p[64];
                snprintf(p, sizeof p, ".extended_moves[%zu]", i);
                return bad(err, XCR_EINVAL, p,
                           "must be a move in (-1, 1000], not 0");
            }
            pm->ext_moves[i] = m;
        }
    }
    pp->underlyings = json_object_get(root, "underlyings");
    pp->currencies = json_object_get(root, "currencies");
    pp->def_und = json_object_get(root, "default_underlying");
    pp->def_cur = json_object_get(root, "default_currency");
    const json_t *maps[2] = {pp->underlyings, pp->currencies};
    const char *names[2] = {".underlyings", ".currencies"};
    for (int k = 0; k < 2; k++) {
        if (!maps[k])
            continue;
        if (!json_is_object(maps[k]))
            return bad(err, XCR_EINVAL, names[k], "must be an object");
        const char *key;
        const json_t *x;
        json_object_foreach((json_t *)(uintptr_t)maps[k], key, x)
        {
            (void)x;
            if (xcr_book_find_asset(b, key) < 0) {
                char p[200];
                snprintf(p, sizeof p, "%s.%.100s", names[k], key);
                return bad(err, XCR_EREF, p, "unknown asset");
            }
        }
    }
    return XCR_OK;
}

static xcr_status parse_extra(xcr_book *b, struct xcr__pm_book *pm,
                              const json_t *root, xcr_error *err)
{
    const json_t *ex = json_object_get(root, "extra_im");
    if (!ex)
        return XCR_OK;
    if (!json_is_object(ex))
        return bad(err, XCR_EINVAL, ".extra_im", "must be an object");
    size_t n = 0;
    const char *ak, *ck;
    const json_t *av, *cv;
    json_object_foreach((json_t *)(uintptr_t)ex, ak, av)
    {
        char p[200];
        snprintf(p, sizeof p, ".extra_im.%.64s", ak);
        if (xcr_book_find_account(b, ak) < 0)
            return bad(err, XCR_EREF, p, "unknown account");
        if (!json_is_object(av))
            return bad(err, XCR_EINVAL, p, "must be an object");
        n += json_object_size(av);
    }
    pm->extra = xcr__calloc(b->alloc, n ? n : 1, sizeof *pm->extra);
    if (!pm->extra)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    json_object_foreach((json_t *)(uintptr_t)ex, ak, av)
    {
        uint32_t acct = (uint32_t)xcr_book_find_account(b, ak);
        json_object_foreach((json_t *)(uintptr_t)av, ck, cv)
        {
            char p[240];
            snprintf(p, sizeof p, ".extra_im.%.64s.%.64s", ak, ck);
            long a = xcr_book_find_asset(b, ck);
            if (a < 0)
                return bad(err, XCR_EREF, p, "unknown asset");
            if (!json_is_object(cv))
                return bad(err, XCR_EINVAL, p, "must be an object");
            TRY(known_keys(cv, p, extra_keys, err));
            double parts[3] = {0, 0, 0};
            for (int k = 0; k < 3; k++)
                TRY(num_field(cv, extra_keys[k], p, 0, false, INFINITY, false,
                              &parts[k], err));
            pm->extra[pm->n_extra++] =
                (xcr__pm_extra){acct, (uint32_t)a, parts[0] + parts[1] +
                                                       parts[2]};
        }
    }
    /* sort by (account, asset) for binary search; n is small */
    for (size_t i = 1; i < pm->n_extra; i++) {
        xcr__pm_extra x = pm->extra[i];
        size_t j = i;
        while (j > 0 && (pm->extra[j - 1].acct > x.acct ||
                         (pm->extra[j - 1].acct == x.acct &&
                          pm->extra[j - 1].asset > x.asset))) {
            pm->extra[j] = pm->extra[j - 1];
            j--;
        }
        pm->extra[j] = x;
    }
    return XCR_OK;
}

static xcr_status parse_span(xcr_book *b, struct xcr__pm_book *pm,
                             const json_t *root, xcr_error *err)
{
    const json_t *ra = json_object_get(root, "risk_arrays");
    if (ra) {
        if (!json_is_object(ra))
            return bad(err, XCR_EINVAL, ".risk_arrays", "must be an object");
        size_t n = json_object_size(ra);
        pm->span_arrays =
            xcr__calloc(b->alloc, (n ? n : 1) * XCR__SPAN_N, sizeof(double));
        if (!pm->span_arrays)
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)(uintptr_t)ra, key, v)
        {
            char p[200];
            snprintf(p, sizeof p, ".risk_arrays.%.64s", key);
            long i = xcr_book_find_instrument(b, key);
            if (i < 0)
                return bad(err, XCR_EREF, p, "unknown instrument");
            if (!json_is_array(v) || json_array_size(v) != XCR__SPAN_N)
                return bad(err, XCR_EINVAL, p,
                           "must be an array of 16 numbers (USD per long "
                           "contract, + = gain)");
            double *dst = pm->span_arrays + XCR__SPAN_N * pm->n_span_arrays;
            for (size_t s = 0; s < XCR__SPAN_N; s++) {
                const json_t *x = json_array_get(v, s);
                double y = json_is_number(x) ? json_number_value(x) : NAN;
                if (!isfinite(y))
                    return bad(err, XCR_EINVAL, p,
                               "must be an array of 16 finite numbers");
                dst[s] = y;
            }
            pm->inst[i].span_array = (int32_t)pm->n_span_arrays++;
        }
    }
    const json_t *is = json_object_get(root, "inter_spreads");
    if (!is)
        return XCR_OK;
    if (!json_is_array(is) || json_array_size(is) > 32)
        return bad(err, XCR_EINVAL, ".inter_spreads",
                   "must be an array of at most 32 spreads");
    size_t n = json_array_size(is);
    pm->inter = xcr__calloc(b->alloc, n ? n : 1, sizeof *pm->inter);
    if (!pm->inter)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    static const char *const keys[] = {"legs", "credit", NULL};
    for (size_t i = 0; i < n; i++) {
        const json_t *sp = json_array_get(is, i);
        char p[120];
        snprintf(p, sizeof p, ".inter_spreads[%zu]", i);
        if (!json_is_object(sp))
            return bad(err, XCR_EINVAL, p, "must be an object");
        TRY(known_keys(sp, p, keys, err));
        xcr__pm_inter x = {{0, 0}, {0, 0}, NAN};
        TRY(num_field(sp, "credit", p, 0, false, 1, false, &x.credit, err));
        if (isnan(x.credit))
            return bad(err, XCR_EINVAL, p, "needs \"credit\" in [0, 1]");
        const json_t *legs = json_object_get(sp, "legs");
        if (!json_is_object(legs) || json_object_size(legs) != 2)
            return bad(err, XCR_EINVAL, p,
                       "needs \"legs\": {\"SYM\": ratio, \"SYM\": ratio} "
                       "(two underlyings)");
        int k = 0;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)(uintptr_t)legs, key, v)
        {
            char pl[240];
            snprintf(pl, sizeof pl, "%s.legs.%.64s", p, key);
            long a = xcr_book_find_asset(b, key);
            if (a < 0)
                return bad(err, XCR_EREF, pl, "unknown asset");
            double r = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(r) || !(r > 0))
                return bad(err, XCR_EINVAL, pl,
                           "must be a delta ratio > 0");
            x.und[k] = (uint32_t)a;
            x.ratio[k] = r;
            k++;
        }
        if (x.und[0] == x.und[1])
            return bad(err, XCR_EINVAL, p, "legs must be two underlyings");
        pm->inter[pm->n_inter++] = x;
    }
    return XCR_OK;
}

/* MARK: precomputation ------------------------------------------------------------------ */

void xcr__pm_vol_mult(const xcr__pm_und *u, double dte_days, double *up,
                      double *down)
{
    /* σ_up = max(σ·(1 + vru·(30/DTE)^p), min_vol); σ_dn = max(σ·(1 −
     * vrd·(30/DTE)^p), 0); p = short power below 30 days, else long power
     * (Deribit parameter names; form as in oreome.com's docs and Derive's
     * PMRM_2, margin-models.md §10.2 and §11). */
    if (!(dte_days > 0)) {
        *up = *down = 1.0;
        return;
    }
    double p = dte_days < 30 ? u->short_power : u->long_power;
    double k = pow(30.0 / dte_days, p);
    *up = 1.0 + u->vol_up * k;
    *down = 1.0 - u->vol_down * k;
    if (*down < 0)
        *down = 0;
}

static xcr_status alloc_tables(xcr_book *b, struct xcr__pm_book *pm)
{
    const xcr_allocator *a = b->alloc;
    size_t na = b->n_assets ? b->n_assets : 1;
    size_t nv = (size_t)pm->n_vec, ne = (size_t)(pm->n_ext ? pm->n_ext : 1);
    pm->sc_mult = xcr__calloc(a, na * nv, sizeof(double));
    pm->sc_lnmult = xcr__calloc(a, na * nv, sizeof(double));
    pm->sc_vol = xcr__calloc(a, na * nv, 1);
    pm->ext_frac = xcr__calloc(a, na * ne, sizeof(double));
    pm->ext_coin = xcr__calloc(a, na * ne, sizeof(double));
    pm->ext_damp = xcr__calloc(a, na * ne, sizeof(double));
    pm->ext_edge = xcr__calloc(a, na * ne, sizeof(double));
    pm->sp_mult = xcr__calloc(a, na * XCR__SPAN_N, sizeof(double));
    pm->sp_lnmult = xcr__calloc(a, na * XCR__SPAN_N, sizeof(double));
    pm->sp_volsign = xcr__calloc(a, na * XCR__SPAN_N, sizeof(double));
    pm->sp_weight = xcr__calloc(a, na * XCR__SPAN_N, sizeof(double));
    if (!pm->sc_mult || !pm->sc_lnmult || !pm->sc_vol || !pm->ext_frac ||
        !pm->ext_coin || !pm->ext_damp || !pm->ext_edge || !pm->sp_mult ||
        !pm->sp_lnmult || !pm->sp_volsign || !pm->sp_weight)
        return XCR_ENOMEM;
    return XCR_OK;
}

static void asset_tables(const xcr_book *b, struct xcr__pm_book *pm, size_t a)
{
    const xcr__pm_und *u = &pm->und[a];
    const int B = pm->buckets;
    const double R = u->price_range;
    double *mult = pm->sc_mult + a * (size_t)pm->n_vec;
    double *lnm = pm->sc_lnmult + a * (size_t)pm->n_vec;
    uint8_t *vol = pm->sc_vol + a * (size_t)pm->n_vec;
    for (int k = 0; k <= 2 * B; k++) {
        /* bucket k+1 of 2B+1: move R·(k − B)/B, exactly 0 in the middle */
        double mv = R * (double)(k - B) / (double)B;
        for (int j = 0; j < XCR__PM_NVOL; j++) {
            int s = XCR__PM_NVOL * k + j;
            mult[s] = 1.0 + mv;
            lnm[s] = log1p(mv);
            vol[s] = (uint8_t)j;
        }
    }
    for (int e = 0; e < pm->n_ext; e++) {
        double mv = pm->ext_moves[e];
        double sg = mv < 0 ? -1.0 : 1.0;
        int s = pm->n_std + e;
        mult[s] = 1.0 + mv;
        lnm[s] = log1p(mv);
        vol[s] = 0; /* the extended table is vol-up only (§10.3) */
        size_t x = a * (size_t)pm->n_ext + (size_t)e;
        /* fraction F·R/|m|, coin re-expression (1+m)/(1+sign(m)·R) and the
         * dampener's (max(|m|/R, 1) − 1) (margin-models.md §10.3) */
        pm->ext_frac[x] = u->ext_factor * R / fabs(mv);
        pm->ext_coin[x] = (1.0 + mv) / (1.0 + sg * R);
        pm->ext_damp[x] = fmax(fabs(mv) / R, 1.0) - 1.0;
        pm->ext_edge[x] = 1.0 + sg * R;
    }
    /* SPAN scenarios (margin-models.md §12.1) */
    double pmul[XCR__SPAN_N], vmul[XCR__SPAN_N], w[XCR__SPAN_N];
    xcr_span_scenarios(u->extreme_mult, u->extreme_cover, pmul, vmul, w);
    for (int s = 0; s < XCR__SPAN_N; s++) {
        size_t x = a * XCR__SPAN_N + (size_t)s;
        double mv = pmul[s] * u->psr;
        pm->sp_mult[x] = 1.0 + mv;
        pm->sp_lnmult[x] = log1p(mv);
        pm->sp_volsign[x] = vmul[s];
        pm->sp_weight[x] = w[s];
    }
    (void)b;
}

xcr_status xcr__pm_book_init(xcr_book *b, xcr_error *err)
{
    const char *text = xcr__book_setting(b, "portfolio");
    bool any = text != NULL;
    for (size_t i = 0; i < b->n_accts && !any; i++)
        if (b->acct_mode[i] == XCR_MODE_PORTFOLIO)
            any = true;
    if (!any)
        return XCR_OK;
    const xcr_allocator *a = b->alloc;
    struct xcr__pm_book *pm = xcr__calloc(a, 1, sizeof *pm);
    if (!pm)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    b->pm = pm;
    pm->model = XCR__PM_RISK_MATRIX;
    pm->mm_factor = 0.8;
    pm->buckets = 4;
    pm->blend = 0;
    pm->decorrelation = 1.0;
    pm->span_im_factor = 1.0;
    pm->n_ext = 8;
    memcpy(pm->ext_moves, default_ext_moves, sizeof default_ext_moves);

    size_t na = b->n_assets ? b->n_assets : 1;
    pm->und = xcr__calloc(a, na, sizeof *pm->und);
    pm->cur = xcr__calloc(a, na, sizeof *pm->cur);
    pm->inst = xcr__calloc(a, b->n_insts ? b->n_insts : 1, sizeof *pm->inst);
    if (!pm->und || !pm->cur || !pm->inst) {
        xcr__pm_book_free(b);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < b->n_insts; i++)
        pm->inst[i].span_array = -1;

    json_t *root = NULL;
    xcr_status s = XCR_OK;
    parsed pp = {NULL, NULL, NULL, NULL};
    if (text) {
        json_error_t je;
        root = json_loads(text, JSON_DECODE_ANY, &je);
        if (!root) {
            xcr__pm_book_free(b);
            return xcr__fail(err, XCR_ENOMEM, "out of memory");
        }
        s = parse_top(b, pm, root, &pp, err);
    }
    xcr__pm_und dund;
    xcr__pm_cur dcur;
    for (size_t i = 0; i < b->n_assets && s == XCR_OK; i++) {
        const xcr__asset *as = &b->assets[i];
        dund = und_preset(as->symbol);
        dcur = cur_preset(as);
        if (pp.def_und)
            s = overlay_und(pp.def_und, ".default_underlying", &dund, err);
        if (s == XCR_OK && pp.def_cur)
            s = overlay_cur(pp.def_cur, ".default_currency", &dcur, err);
        const json_t *o =
            pp.underlyings ? json_object_get(pp.underlyings, as->symbol)
                           : NULL;
        char p[120];
        snprintf(p, sizeof p, ".underlyings.%s", as->symbol);
        if (s == XCR_OK && o)
            s = overlay_und(o, p, &dund, err);
        o = pp.currencies ? json_object_get(pp.currencies, as->symbol) : NULL;
        snprintf(p, sizeof p, ".currencies.%s", as->symbol);
        if (s == XCR_OK && o)
            s = overlay_cur(o, p, &dcur, err);
        if (s != XCR_OK)
            break;
        if (isnan(dund.psr))
            dund.psr = dund.price_range;
        if (!(dund.extreme_mult * dund.psr < 1)) {
            snprintf(p, sizeof p, ".underlyings.%s", as->symbol);
            s = bad(err, XCR_EINVAL, p,
                    "extreme_multiplier × price_scan_range must be < 1 (the "
                    "extreme move must leave a positive price)");
            break;
        }
        pm->und[i] = dund;
        pm->cur[i] = dcur;
    }
    if (s == XCR_OK) {
        pm->n_std = (2 * pm->buckets + 1) * XCR__PM_NVOL;
        pm->n_vec = pm->n_std + pm->n_ext;
        if (alloc_tables(b, pm) != XCR_OK)
            s = xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    if (s == XCR_OK) {
        for (size_t i = 0; i < b->n_assets; i++)
            asset_tables(b, pm, i);
        for (size_t i = 0; i < b->n_insts; i++) {
            const xcr__inst *in = &b->insts[i];
            xcr__pm_inst *pi = &pm->inst[i];
            double t = 0;
            if (in->type != XCR_PERP && b->has_as_of)
                t = (in->expiry - b->as_of) / XCR__SECONDS_PER_YEAR;
            pi->t_years = t > 0 ? t : 0;
            pi->sqrt_t = sqrt(pi->t_years);
            pi->vmul_up = pi->vmul_dn = 1.0;
            if (in->type == XCR_OPTION)
                xcr__pm_vol_mult(&pm->und[in->und], pi->t_years * 365.0,
                                 &pi->vmul_up, &pi->vmul_dn);
            /* roll shock rate: max(annualised_move_risk·T,
             * min_annualised_move); a perpetual has T = 0 (§10.5) */
            const xcr__pm_cur *c = &pm->cur[in->settle];
            pi->roll_rate = fmax(c->annualised_move_risk * pi->t_years,
                                 c->min_annualised_move);
        }
    }
    if (s == XCR_OK && root)
        s = parse_extra(b, pm, root, err);
    if (s == XCR_OK && root)
        s = parse_span(b, pm, root, err);
    json_decref(root);
    if (s != XCR_OK)
        xcr__pm_book_free(b); /* the book stays as it was: not finalized */
    return s;
}

void xcr__pm_book_free(xcr_book *b)
{
    struct xcr__pm_book *pm = b->pm;
    if (!pm)
        return;
    const xcr_allocator *a = b->alloc;
    xcr__free(a, pm->und);
    xcr__free(a, pm->cur);
    xcr__free(a, pm->inst);
    xcr__free(a, pm->sc_mult);
    xcr__free(a, pm->sc_lnmult);
    xcr__free(a, pm->sc_vol);
    xcr__free(a, pm->ext_frac);
    xcr__free(a, pm->ext_coin);
    xcr__free(a, pm->ext_damp);
    xcr__free(a, pm->ext_edge);
    xcr__free(a, pm->sp_mult);
    xcr__free(a, pm->sp_lnmult);
    xcr__free(a, pm->sp_volsign);
    xcr__free(a, pm->sp_weight);
    xcr__free(a, pm->span_arrays);
    xcr__free(a, pm->extra);
    xcr__free(a, pm->inter);
    xcr__free(a, pm);
    b->pm = NULL;
}
