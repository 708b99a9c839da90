/* Network contagion models (src/contagion; docs/contagion.md): published
 * and hand-derived examples, and random-network properties against simple
 * reference implementations.  Vectors: /work/shared/reference/
 * test-vectors.md §C, formulas: cascades-and-contagion.md §1. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "xcr.h"

/* A network from a dense matrix L (row owes column), external assets e and
 * external liabilities el (NULL = 0); equity/size NULL = defaults. */
static xcr_network *net_dense(size_t n, const char *const *ids,
                              const double *e, const double *el,
                              const double *L, const double *equity,
                              const double *size)
{
    xcr_network *net = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_network_new(&net), XCR_OK);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "n%zu", i);
        cr_assert_eq(xcr_network_add_entity(net, ids ? ids[i] : id, e[i],
                                            el ? el[i] : 0,
                                            equity ? equity[i] : NAN,
                                            size ? size[i] : NAN, NULL, &err),
                     XCR_OK, "%s", err.msg);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (L[i * n + j] > 0)
                cr_assert_eq(xcr_network_add_liability(
                                 net, xcr_network_entity_id(net, i),
                                 xcr_network_entity_id(net, j), L[i * n + j],
                                 NULL, &err),
                             XCR_OK, "%s", err.msg);
    cr_assert_eq(xcr_network_finalize(net, &err), XCR_OK, "%s", err.msg);
    return net;
}

static void run(const xcr_network *net, const xcr_contagion_opts *o,
                xcr_entity_result *r, xcr_contagion_summary *s)
{
    xcr_error err = {0};
    cr_assert_eq(xcr_contagion_run(net, o, r, s, NULL, &err), XCR_OK, "%s",
                 err.msg);
}

#define NEAR(a, b, tol, ...)                                                   \
    cr_expect(fabs((double)(a) - (double)(b)) <=                           \
                  (tol) * (1 + fabs((double)(b))),                          \
              __VA_ARGS__)

/* MARK: Eisenberg–Noe ------------------------------------------------------------ */

/* NET-EN-1 (test-vectors.md; siebenbrunner/NetworkValuation, "Eisenberg and
 * Noe 2001/Example.pdf", checked with rational arithmetic). */
static const double EN1_E[3] = {10, 10, 10};
static const double EN1_L[9] = {0, 20, 10, 5, 0, 24, 10, 0, 0};

Test(contagion_en, net_en_1_clearing_vector_and_default_order)
{
    xcr_network *net = net_dense(3, NULL, EN1_E, NULL, EN1_L, NULL, NULL);
    cr_expect_eq(xcr_network_obligation(net, 0), 30);
    cr_expect_eq(xcr_network_obligation(net, 1), 29);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    xcr_entity_result r[3];
    xcr_contagion_summary s;
    run(net, &o, r, &s);
    NEAR(r[0].payment, 270.0 / 11, 1e-12, "p1 %.15g", r[0].payment);
    NEAR(r[1].payment, 290.0 / 11, 1e-12, "p2 %.15g", r[1].payment);
    NEAR(r[2].payment, 10, 1e-12, "p3 %.15g", r[2].payment);
    NEAR(r[0].equity, -60.0 / 11, 1e-12, "E1 %.15g", r[0].equity);
    NEAR(r[1].equity, -29.0 / 11, 1e-12, "E2 %.15g", r[1].equity);
    NEAR(r[2].equity, 30, 1e-12, "E3 %.15g", r[2].equity);
    cr_expect(r[0].defaulted && r[1].defaulted && !r[2].defaulted);
    /* FDA rounds: {1} in round 1, then {1, 2} in round 2 */
    cr_expect_eq(r[0].round, 1);
    cr_expect_eq(r[1].round, 2);
    cr_expect_eq(r[2].round, -1);
    cr_expect_eq(s.defaults, 2);
    cr_expect_eq(s.rounds, 2);
    /* pre-clearing equity (−5, 1, 34) */
    NEAR(r[0].equity_before, -5, 1e-12, "before");
    NEAR(r[1].equity_before, 1, 1e-12, "before");
    NEAR(r[2].equity_before, 34, 1e-12, "before");
    cr_expect(isnan(s.debtrank));
    xcr_network_free(net);
}

/* NET-RV-1: with α = β = 1 Rogers–Veraart is Eisenberg–Noe; and a
 * hand-derived RV vector with α = β = 0.5 on the NET-EN-1 inputs:
 * round 1 D = {1}, p1 = 0.5·10 + 0.5·15 = 12.5; entity 2 then receives
 * 10 + (2/3)·12.5 < 29 and defaults; solving
 * p1 = 5 + 0.5·(5/29·p2 + 10), p2 = 5 + 0.5·(2/3)·p1 gives
 * p = (1815/169, 1450/169, 10). */
Test(contagion_rv, reduces_to_en_and_hand_derived_costs)
{
    xcr_network *net = net_dense(3, NULL, EN1_E, NULL, EN1_L, NULL, NULL);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_RV;
    xcr_entity_result r[3], q[3];
    xcr_contagion_summary s;
    run(net, &o, r, &s);
    NEAR(r[0].payment, 270.0 / 11, 1e-12, "RV(1,1) p1");
    NEAR(r[1].payment, 290.0 / 11, 1e-12, "RV(1,1) p2");
    cr_expect(s.default_costs < 1e-12, "costs %g", s.default_costs);
    o.alpha = o.beta = 0.5;
    run(net, &o, q, &s);
    NEAR(q[0].payment, 1815.0 / 169, 1e-12, "p1 %.15g", q[0].payment);
    NEAR(q[1].payment, 1450.0 / 169, 1e-12, "p2 %.15g", q[1].payment);
    NEAR(q[2].payment, 10, 1e-12, "p3");
    cr_expect_eq(q[0].round, 1);
    cr_expect_eq(q[1].round, 2);
    /* deadweight: each defaulter loses half of what it received */
    double x1 = 10 + 5.0 / 29 * q[1].payment + 10;
    double x2 = 10 + 20.0 / 30 * q[0].payment;
    NEAR(s.default_costs, (x1 - q[0].payment) + (x2 - q[1].payment), 1e-12,
         "costs %g", s.default_costs);
    xcr_network_free(net);
}

/* Reference clearing: Picard iteration p ← Φ(p) from p̄ (EN 2001, monotone
 * from above; cascades-and-contagion.md §1.1 "Alternatives"), dense. */
static void picard_en(size_t n, const double *e, const double *el,
                      const double *L, double *p, size_t iters)
{
    double *pbar = malloc(n * sizeof *pbar), *np = malloc(n * sizeof *np);
    for (size_t i = 0; i < n; i++) {
        pbar[i] = el[i];
        for (size_t j = 0; j < n; j++)
            pbar[i] += L[i * n + j];
        p[i] = pbar[i];
    }
    for (size_t it = 0; it < iters; it++) {
        for (size_t i = 0; i < n; i++) {
            double x = e[i];
            for (size_t j = 0; j < n; j++)
                if (pbar[j] > 0)
                    x += L[j * n + i] / pbar[j] * p[j];
            np[i] = x < 0 ? 0 : x > pbar[i] ? pbar[i] : x;
        }
        memcpy(p, np, n * sizeof *p);
    }
    free(pbar);
    free(np);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_u(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* Random networks: the FDA vector satisfies p = Φ(p) and is the greatest
 * clearing vector (Picard from p̄ converges to the greatest one from above
 * and never exceeds it); money is conserved: external assets = paid to
 * external creditors + equity kept by survivors (+ RV default costs). */
Test(contagion_en, random_fixed_point_greatest_and_conserved)
{
    uint64_t seed = xt_seed(20261124);
    uint64_t st = seed;
    for (int trial = 0; trial < 60; trial++) {
        size_t n = 2 + (size_t)(rng_u(&st) * 30);
        double *e = calloc(n, sizeof *e), *el = calloc(n, sizeof *el);
        double *L = calloc(n * n, sizeof *L), *pp = calloc(n, sizeof *pp);
        double dens = 0.1 + 0.5 * rng_u(&st);
        for (size_t i = 0; i < n; i++) {
            /* some entities with no external assets: non-regular networks */
            e[i] = rng_u(&st) < 0.2 ? 0 : 20 * rng_u(&st);
            el[i] = rng_u(&st) < 0.5 ? 0 : 15 * rng_u(&st);
            for (size_t j = 0; j < n; j++)
                if (i != j && rng_u(&st) < dens)
                    L[i * n + j] = 10 * rng_u(&st);
        }
        xcr_network *net = net_dense(n, NULL, e, el, L, NULL, NULL);
        xcr_entity_result *r = calloc(n, sizeof *r);
        xcr_contagion_summary s;
        xcr_contagion_opts o;
        xcr_contagion_opts_init(&o);
        /* every other trial names entity 0 as defaulted: it loses its
         * external assets and pays min(p̄, what it receives) */
        size_t named = 0;
        double *ee = malloc(n * sizeof *ee);
        memcpy(ee, e, n * sizeof *ee);
        if (trial % 2) {
            o.defaults = &named;
            o.ndefaults = 1;
            ee[0] = 0;
        }
        run(net, &o, r, &s);
        picard_en(n, ee, el, L, pp, 20000);
        double ext = 0, paid_ext = 0, kept = 0;
        for (size_t i = 0; i < n; i++) {
            double pbar = xcr_network_obligation(net, i);
            double x = ee[i];
            for (size_t j = 0; j < n; j++) {
                double pbj = xcr_network_obligation(net, j);
                if (pbj > 0)
                    x += L[j * n + i] / pbj * r[j].payment;
            }
            double phi = x < 0 ? 0 : x > pbar ? pbar : x;
            cr_expect(fabs(phi - r[i].payment) <= 1e-9 * (1 + pbar),
                      "seed %llu trial %d entity %zu: Φ(p) = %.17g, p = %.17g",
                      (unsigned long long)seed, trial, i, phi, r[i].payment);
            cr_expect(r[i].payment >= 0 && r[i].payment <= pbar * (1 + 1e-15));
            cr_expect(pp[i] <= r[i].payment + 1e-9 * (1 + pbar),
                      "seed %llu trial %d: Picard %.17g above FDA %.17g",
                      (unsigned long long)seed, trial, pp[i], r[i].payment);
            cr_expect(fabs(pp[i] - r[i].payment) <= 1e-6 * (1 + pbar),
                      "seed %llu trial %d: Picard %.17g vs FDA %.17g",
                      (unsigned long long)seed, trial, pp[i], r[i].payment);
            ext += ee[i];
            if (pbar > 0)
                paid_ext += el[i] * r[i].payment / pbar;
            if (r[i].equity > 0)
                kept += r[i].equity;
        }
        cr_expect(fabs(ext - paid_ext - kept) <= 1e-9 * (1 + ext),
                  "seed %llu trial %d: money not conserved: %.17g vs %.17g",
                  (unsigned long long)seed, trial, ext, paid_ext + kept);
        /* RV with α = β = 1 equals EN exactly (same algorithm); with costs
         * the books balance with the deadweight */
        xcr_entity_result *q = calloc(n, sizeof *q);
        o.model = XCR_NET_RV;
        run(net, &o, q, &s);
        for (size_t i = 0; i < n; i++)
            cr_expect(fabs(q[i].payment - r[i].payment) <=
                          1e-12 * (1 + r[i].payment),
                      "seed %llu: RV(1,1) differs", (unsigned long long)seed);
        o.alpha = 0.3 + 0.7 * rng_u(&st);
        o.beta = 0.3 + 0.7 * rng_u(&st);
        run(net, &o, q, &s);
        paid_ext = kept = 0;
        for (size_t i = 0; i < n; i++) {
            double pbar = xcr_network_obligation(net, i);
            cr_expect(q[i].payment <= r[i].payment + 1e-9 * (1 + pbar),
                      "costs raised a payment");
            if (pbar > 0)
                paid_ext += el[i] * q[i].payment / pbar;
            if (!q[i].defaulted && q[i].equity > 0)
                kept += q[i].equity;
        }
        cr_expect(fabs(ext - paid_ext - kept - s.default_costs) <=
                      1e-9 * (1 + ext),
                  "seed %llu trial %d: RV books do not balance",
                  (unsigned long long)seed, trial);
        free(q);
        free(r);
        free(e);
        free(ee);
        free(el);
        free(L);
        free(pp);
        xcr_network_free(net);
    }
}

/* A larger network exercises the Gauss–Seidel path (default sets beyond
 * the dense-LU size): still a fixed point, and equal to the Picard limit. */
Test(contagion_en, large_default_set_gauss_seidel)
{
    uint64_t st = xt_seed(7);
    size_t n = 400;
    double *e = calloc(n, sizeof *e), *el = calloc(n, sizeof *el);
    double *L = calloc(n * n, sizeof *L), *pp = calloc(n, sizeof *pp);
    for (size_t i = 0; i < n; i++) {
        e[i] = 1 * rng_u(&st);
        el[i] = 2 * rng_u(&st);
        for (int k = 0; k < 4; k++) {
            size_t j = (size_t)(rng_u(&st) * (double)n);
            if (j != i)
                L[i * n + j] += 5 * rng_u(&st);
        }
    }
    xcr_network *net = net_dense(n, NULL, e, el, L, NULL, NULL);
    xcr_entity_result *r = calloc(n, sizeof *r);
    xcr_contagion_summary s;
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    run(net, &o, r, &s);
    cr_expect(s.defaults > 256, "only %zu defaults", s.defaults);
    cr_expect(s.converged);
    picard_en(n, e, el, L, pp, 5000);
    for (size_t i = 0; i < n; i++)
        cr_expect(fabs(pp[i] - r[i].payment) <= 1e-8 * (1 + pp[i]),
                  "entity %zu: Picard %.17g vs FDA %.17g", i, pp[i],
                  r[i].payment);
    free(r);
    free(e);
    free(el);
    free(L);
    free(pp);
    xcr_network_free(net);
}

/* A named default wipes the entity's external assets (docs/contagion.md). */
Test(contagion_en, named_default)
{
    xcr_network *net = net_dense(3, NULL, EN1_E, NULL, EN1_L, NULL, NULL);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    size_t d = 2;
    o.defaults = &d;
    o.ndefaults = 1;
    xcr_entity_result r[3];
    xcr_contagion_summary s;
    run(net, &o, r, &s);
    cr_expect(r[2].defaulted);
    cr_expect_eq(r[2].round, 0);
    /* entity 3 pays only what it receives */
    double x3 = 10.0 / 30 * r[0].payment + 24.0 / 29 * r[1].payment;
    NEAR(r[2].payment, fmin(10, x3), 1e-12, "p3 %.15g", r[2].payment);
    xcr_network_free(net);
}

/* MARK: Furfine -------------------------------------------------------------- */

/* Hand-derived chain (Furfine 2003, cascades-and-contagion.md §1.3): A owes
 * B 10, B owes C 10; capital B 5, C 20.  A defaults: B loses (1 − R)·10. */
Test(contagion_furfine, chain_recovery_and_boundary)
{
    const char *ids[] = {"A", "B", "C"};
    double e[3] = {10, 10, 0}, L[9] = {0, 10, 0, 0, 0, 10, 0, 0, 0};
    double eq[3] = {1, 5, 20};
    xcr_network *net = net_dense(3, ids, e, NULL, L, eq, NULL);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_FURFINE;
    size_t d = 0;
    o.defaults = &d;
    o.ndefaults = 1;
    xcr_entity_result r[3];
    xcr_contagion_summary s;
    run(net, &o, r, &s); /* R = 0: B loses 10 > 5 */
    cr_expect(r[1].defaulted && !r[2].defaulted);
    cr_expect_eq(r[1].round, 1);
    NEAR(r[2].equity, 10, 1e-12, "C keeps 20 − 10");
    cr_expect_eq(s.defaults, 2);
    o.recovery = 0.6; /* loss 4 < 5 */
    run(net, &o, r, &s);
    cr_expect(!r[1].defaulted);
    NEAR(r[1].equity, 1, 1e-12, "B 5 − 4");
    NEAR(r[0].payment, 0.6 * 10, 1e-12, "A pays R·p̄");
    o.recovery = 0.5; /* loss 5 = capital: the rule decides */
    run(net, &o, r, &s);
    cr_expect(r[1].defaulted, "le (default): loss ≥ capital defaults");
    o.rule = XCR_RULE_LT;
    run(net, &o, r, &s);
    cr_expect(!r[1].defaulted, "lt: capital exactly 0 survives");
    xcr_network_free(net);
}

/* MARK: Gai–Kapadia --------------------------------------------------------------- */

/* NET-GK-1…3 (test-vectors.md, derived; Gai & Kapadia 2010): every bank has
 * assets 100 (80 external, 20 interbank spread evenly over its debtors),
 * capital 4, so deposits 76; one exogenous default. */
static xcr_network *gk_net(size_t n, bool complete)
{
    double *e = calloc(n, sizeof *e), *el = calloc(n, sizeof *el);
    double *L = calloc(n * n, sizeof *L);
    for (size_t i = 0; i < n; i++) {
        e[i] = 80;
        el[i] = 76;
        if (complete) {
            for (size_t j = 0; j < n; j++)
                if (j != i)
                    L[i * n + j] = 20.0 / (double)(n - 1);
        } else {
            L[i * n + (i + 1) % n] = 20; /* i owes its one creditor */
        }
    }
    xcr_network *net = net_dense(n, NULL, e, el, L, NULL, NULL);
    free(e);
    free(el);
    free(L);
    return net;
}

static size_t gk_defaults(const xcr_network *net, xcr_default_rule rule)
{
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_GK;
    o.rule = rule;
    size_t d = 0;
    o.defaults = &d;
    o.ndefaults = 1;
    size_t n = xcr_network_entity_count(net);
    xcr_entity_result *r = calloc(n, sizeof *r);
    xcr_contagion_summary s;
    run(net, &o, r, &s);
    free(r);
    return s.defaults;
}

Test(contagion_gk, ring_and_complete_graph_boundaries)
{
    xcr_network *ring = gk_net(4, false);
    /* NET-GK-1: loss 20 > 4 → all 4 default, under either rule */
    cr_expect_eq(gk_defaults(ring, XCR_RULE_LE), 4);
    cr_expect_eq(gk_defaults(ring, XCR_RULE_LT), 4);
    xcr_network *k6 = gk_net(6, true);
    /* NET-GK-2: loss exactly 4 = capital: all default when solvent iff > 0
     * (le, the model's default), nobody else under ≥ 0 (lt) */
    cr_expect_eq(gk_defaults(k6, XCR_RULE_MODEL), 6);
    cr_expect_eq(gk_defaults(k6, XCR_RULE_LT), 1);
    xcr_network *k7 = gk_net(7, true);
    /* NET-GK-3: loss 20/6 = 3.33 < 4 → no contagion */
    cr_expect_eq(gk_defaults(k7, XCR_RULE_LE), 1);
    xcr_network_free(ring);
    xcr_network_free(k6);
    xcr_network_free(k7);
}

/* The GK fire-sale price q = exp(−a·x) (§1.4; a = −ln(0.9)/0.1 makes a 10 %
 * dump cost 10 %): K7 survives one default at q = 1, but with 1/7 of the
 * external assets dumped q = exp(−1.0536/7) = 0.8603 and every survivor
 * loses 0.14·80 = 11 more than its capital: all default. */
Test(contagion_gk, fire_sale_price)
{
    xcr_network *k7 = gk_net(7, true);
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_GK;
    o.gk_fire_sale = -log(0.9) / 0.1;
    size_t d = 0;
    o.defaults = &d;
    o.ndefaults = 1;
    xcr_entity_result r[7];
    xcr_contagion_summary s;
    run(k7, &o, r, &s);
    cr_expect_eq(s.defaults, 7);
    cr_expect_eq(r[1].round, 1);
    xcr_network_free(k7);
}

/* MARK: DebtRank ------------------------------------------------------------------ */

/* NET-DR-1 (test-vectors.md; carloscinelli/NetworkRiskMeasures README at
 * commit 4b5c0af, January 2016): A = [[0,1,0],[10,0,3],[3,2,0]] (row has an
 * exposure to column, so column owes row), E = (2, 5, 2), w = (10, 100,
 * 30). */
static xcr_network *dr_net(void)
{
    const char *ids[] = {"a", "b", "c"};
    double A[9] = {0, 1, 0, 10, 0, 3, 3, 2, 0}, L[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            L[i * 3 + j] = A[j * 3 + i];
    double e[3] = {0, 0, 0}, E[3] = {2, 5, 2}, w[3] = {10, 100, 30};
    return net_dense(3, ids, e, NULL, L, E, w);
}

static double dr(const xcr_network *net, xcr_dr_variant v, long def,
                 double all, double *h)
{
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_DEBTRANK;
    o.variant = v;
    size_t d = (size_t)def;
    if (def >= 0) {
        o.defaults = &d;
        o.ndefaults = 1;
    }
    o.shock_all = all;
    xcr_entity_result r[3];
    xcr_contagion_summary s;
    run(net, &o, r, &s);
    for (int i = 0; i < 3; i++)
        h[i] = r[i].stress;
    return s.debtrank;
}

Test(contagion_debtrank, net_dr_1_battiston_column)
{
    xcr_network *net = dr_net();
    double h[3];
    /* published to 7 decimals */
    NEAR(dr(net, XCR_DR_BATTISTON, 0, 0, h), 0.9285714, 1e-7, "a");
    cr_expect(h[0] == 1 && h[1] == 1 && h[2] == 1);
    NEAR(dr(net, XCR_DR_BATTISTON, 1, 0, h), 0.25, 1e-7, "b");
    NEAR(h[0], 0.5, 1e-12, "b: h_a");
    cr_expect(h[1] == 1 && h[2] == 1);
    NEAR(dr(net, XCR_DR_BATTISTON, 2, 0, h), 0.6642857, 1e-7, "c");
    NEAR(h[0], 0.3, 1e-12, "c: h_a");
    NEAR(h[1], 0.9, 1e-12, "c: h_b");
    cr_expect(h[2] == 1);
    NEAR(dr(net, XCR_DR_BATTISTON, -1, 0.1, h), 0.1607143, 1e-7, "all");
    NEAR(h[0], 0.15, 1e-12, "all: h_a");
    NEAR(h[1], 0.26, 1e-12, "all: h_b");
    NEAR(h[2], 0.30, 1e-12, "all: h_c");
    xcr_network_free(net);
}

/* The other variants on "c defaults" (derived by hand from §1.5):
 * single-hit: b gets 0.6, a 0.5·0.6 = 0.3, then b 0.6 + 2·0.3 → 1:
 *   h = (0.3, 1, 1), DebtRank = 10.3/14;
 * differential: increments 0.6 (b), 0.3 (a), 0.4 (b, capped at 1), 0.2 (a):
 *   h = (0.5, 1, 1), DebtRank = 10.5/14 = 0.75. */
Test(contagion_debtrank, single_hit_and_differential)
{
    xcr_network *net = dr_net();
    double h[3];
    NEAR(dr(net, XCR_DR_SINGLE_HIT, 2, 0, h), 10.3 / 14, 1e-12, "single");
    NEAR(h[0], 0.3, 1e-12, "single h_a");
    cr_expect(h[1] == 1);
    NEAR(dr(net, XCR_DR_DIFFERENTIAL, 2, 0, h), 0.75, 1e-12, "diff");
    NEAR(h[0], 0.5, 1e-12, "diff h_a");
    cr_expect(h[1] == 1 && h[2] == 1);
    xcr_network_free(net);
}

/* Differential DebtRank without defaults converges to (I − Λ)⁻¹·h(1)
 * (Bardoscia et al. 2015): two nodes with Λ = [[0, .2], [.3, 0]] and
 * h(1) = (0.1, 0): h = (0.1, 0.03)/(1 − 0.06) → (0.10638, 0.031915). */
Test(contagion_debtrank, differential_linear_limit)
{
    double e[2] = {0, 0}, E[2] = {10, 10};
    /* Λ_01 = A_01/E_0 = 0.2 (entity 1 owes 0 two), Λ_10 = 0.3 */
    double L[4] = {0, 3, 2, 0};
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_DEBTRANK;
    o.variant = XCR_DR_DIFFERENTIAL;
    /* an external loss of 1 on entity 0 = stress 0.1 */
    e[0] = 10;
    xcr_network *net = net_dense(2, NULL, e, NULL, L, E, NULL);
    o.shock_external = 0.1;
    xcr_entity_result r[2];
    xcr_contagion_summary s;
    run(net, &o, r, &s);
    NEAR(r[0].stress, 0.1 / 0.94, 1e-12, "h0 %.15g", r[0].stress);
    NEAR(r[1].stress, 0.03 / 0.94, 1e-12, "h1 %.15g", r[1].stress);
    cr_expect(s.converged);
    xcr_network_free(net);
}

/* MARK: rankings ------------------------------------------------------------------ */

/* Systemic importance on NET-EN-1 with Furfine R = 0 and given capital:
 * each entity's own run, checked against single runs; identical for any
 * thread count. */
Test(contagion_rank, matches_single_runs_any_threads)
{
    xcr_network *net = dr_net();
    xcr_contagion_opts o;
    xcr_contagion_opts_init(&o);
    o.model = XCR_NET_DEBTRANK;
    xcr_entity_rank k1[3], k3[3];
    xcr_error err = {0};
    cr_assert_eq(xcr_contagion_rank(net, &o, 1, k1, &err), XCR_OK, "%s",
                 err.msg);
    cr_assert_eq(xcr_contagion_rank(net, &o, 3, k3, &err), XCR_OK);
    cr_expect(memcmp(k1, k3, sizeof k1) == 0, "thread count changed ranks");
    double h[3];
    dr(net, XCR_DR_BATTISTON, 1, 0, h); /* b defaults: (0.5, 1, 1) */
    /* loss caused by b = Σ others' equity loss = 0.5·2 + 1·2 */
    NEAR(k1[1].loss_caused, 3, 1e-12, "%g", k1[1].loss_caused);
    cr_expect_eq(k1[1].defaults_caused, 1);
    /* a's vulnerability: mean of its stress when b (0.5) or c (0.3)
     * defaults */
    NEAR(k1[0].vulnerability, 0.4, 1e-9, "%g", k1[0].vulnerability);
    xcr_network_free(net);
}

/* MARK: parsing ------------------------------------------------------------------- */

static xcr_status load_text(const char *text, xcr_network **out,
                            xcr_error *err)
{
    return xcr_network_load_json_text(text, strlen(text), "net.json", out,
                                      err);
}

Test(contagion_json, located_errors)
{
    struct {
        const char *text, *want;
        xcr_status code;
    } cases[] = {
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1}], "
         "\"liabilities\": [{\"from\": \"A\", \"to\": \"Z\", \"amount\": 1}]}",
         "net.json: $.liabilities[0].to: unknown entity \"Z\"", XCR_EREF},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1}, {\"id\": "
         "\"B\", \"external_assets\": 1}], \"liabilities\": [{\"from\": "
         "\"A\", \"to\": \"B\", \"amount\": -3}]}",
         "net.json: $.liabilities[0].amount: must be a finite number >= 0",
         XCR_EINVAL},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1}], "
         "\"liabilities\": [{\"from\": \"A\", \"to\": \"A\", \"amount\": 1}]}",
         "net.json: $.liabilities[0].to: self-loop", XCR_EINVAL},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1}, {\"id\": "
         "\"A\", \"external_assets\": 2}]}",
         "net.json: $.entities[1].id: duplicate entity \"A\"", XCR_EDUP},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": -1}]}",
         "$.entities[0].external_assets: must be a finite number >= 0",
         XCR_EINVAL},
        {"{\"entities\": []}", "$.entities: must list at least one",
         XCR_EINVAL},
        {"{\"entities\": [{\"id\": \"A\"}]}",
         "$.entities[0].external_assets: missing", XCR_EINVAL},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1}], "
         "\"holdings\": [{\"entity\": \"B\", \"asset\": \"ETH\", \"amount\": "
         "1}]}",
         "$.holdings[0].entity: unknown entity \"B\"", XCR_EREF},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1e400}]}",
         "net.json: line 1", XCR_EPARSE},
        {"[1, 2]", "net.json: $: a network must be a JSON object",
         XCR_EINVAL},
        {"{\"entities\": [{\"id\": \"A\", \"external_assets\": 1}], "
         "\"rehypothecation\": [{\"from\": \"A\", \"to\": \"A\", \"asset\": "
         "\"BTC\", \"amount\": 1}]}",
         "$.rehypothecation[0].to: self-loop", XCR_EINVAL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        xcr_network *net = (xcr_network *)1;
        xcr_error err = {0};
        xcr_status s = load_text(cases[k].text, &net, &err);
        cr_expect_eq(s, cases[k].code, "case %zu: %s (%s)", k,
                     xcr_status_name(s), err.msg);
        cr_expect(strstr(err.msg, cases[k].want), "case %zu: '%s' lacks '%s'",
                  k, err.msg, cases[k].want);
        cr_expect(net == NULL);
    }
}

Test(contagion_json, round_trip)
{
    const char *text =
        "{\"entities\": [{\"id\": \"EXCH\", \"external_assets\": 0.1, "
        "\"external_liabilities\": 3, \"equity\": -2, \"size\": 7},"
        "{\"id\": \"L\", \"external_assets\": 1e-300}],"
        "\"liabilities\": [{\"from\": \"EXCH\", \"to\": \"L\", \"amount\": "
        "0.30000000000000004}, {\"from\": \"EXCH\", \"to\": \"L\", "
        "\"amount\": 2}],"
        "\"holdings\": [{\"entity\": \"L\", \"asset\": \"ETH\", \"amount\": "
        "5}],"
        "\"rehypothecation\": [{\"from\": \"EXCH\", \"to\": \"L\", \"asset\": "
        "\"BTC\", \"amount\": 1.5}]}";
    xcr_network *a = NULL, *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(load_text(text, &a, &err), XCR_OK, "%s", err.msg);
    /* a pair listed twice adds up */
    NEAR(xcr_network_obligation(a, 0), 2.30000000000000004 + 3, 1e-15, "p̄");
    char *out = NULL;
    cr_assert_eq(xcr_network_to_json_text(a, &out, &err), XCR_OK);
    cr_assert_eq(load_text(out, &b, &err), XCR_OK, "%s\n%s", err.msg, out);
    cr_expect(xcr_network_equal(a, b), "round trip differs:\n%s", out);
    free(out);
    xcr_network_free(a);
    xcr_network_free(b);
}

/* Options out of range are refused with a message, not run. */
Test(contagion_opts, bad_options)
{
    xcr_network *net = net_dense(3, NULL, EN1_E, NULL, EN1_L, NULL, NULL);
    xcr_contagion_opts o;
    xcr_entity_result r[3];
    xcr_contagion_summary s;
    xcr_error err = {0};
    xcr_contagion_opts_init(&o);
    o.alpha = 1.5;
    o.model = XCR_NET_RV;
    cr_expect_eq(xcr_contagion_run(net, &o, r, &s, NULL, &err), XCR_EINVAL);
    cr_expect(strstr(err.msg, "alpha"));
    xcr_contagion_opts_init(&o);
    size_t d = 9;
    o.defaults = &d;
    o.ndefaults = 1;
    cr_expect_eq(xcr_contagion_run(net, &o, r, &s, NULL, &err),
                 XCR_ENOTFOUND);
    xcr_contagion_opts_init(&o);
    o.leverage_target = 10; /* no book bound */
    cr_expect_eq(xcr_contagion_run(net, &o, r, &s, NULL, &err), XCR_EINVAL);
    cr_expect(strstr(err.msg, "--book"));
    xcr_network_free(net);
}

/* A reusable runner (which keeps the merged edges between runs) gives
 * exactly the results of fresh one-shot runs, whatever ran before it —
 * other models, a firewall, named defaults. */
Test(contagion_runner, same_as_one_shot)
{
    xcr_network *net = dr_net();
    xcr_contagion_runner *rn = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_contagion_runner_new(net, &rn, &err), XCR_OK);
    const xcr_net_model models[] = {XCR_NET_EN, XCR_NET_DEBTRANK,
                                    XCR_NET_RV, XCR_NET_GK, XCR_NET_FURFINE,
                                    XCR_NET_EN};
    for (size_t k = 0; k < 12; k++) {
        xcr_contagion_opts o;
        xcr_contagion_opts_init(&o);
        o.model = models[k % 6];
        o.alpha = 0.6;
        o.firewall = k % 3 == 1 ? 1 : -1;
        size_t d = k % 3;
        o.defaults = &d;
        o.ndefaults = k % 2;
        o.shock_all = 0.05 * (double)(k % 4);
        xcr_entity_result a[3], b[3];
        xcr_contagion_summary sa, sb;
        cr_assert_eq(xcr_contagion_runner_run(rn, &o, a, &sa, NULL, &err),
                     XCR_OK, "%s", err.msg);
        run(net, &o, b, &sb);
        cr_expect(memcmp(a, b, sizeof a) == 0, "run %zu differs", k);
        cr_expect(sa.total_loss == sb.total_loss && sa.defaults == sb.defaults,
                  "summary %zu differs", k);
    }
    xcr_contagion_runner_free(rn);
    xcr_network_free(net);
}
