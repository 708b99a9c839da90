/* Internal layout of a network and the shared run state of the models
 * (docs/contagion.md).  Notation of cascades-and-contagion.md: L[i][j] is
 * what i owes j; A = Lᵀ the exposures; p̄ = Σ_j L[i][j] + external
 * liabilities; e external assets. */
#ifndef XCR_CONTAGION_INT_H
#define XCR_CONTAGION_INT_H

#include "../core/core.h"

#include <math.h>

struct xcr_network {
    bool finalized;
    /* entities */
    size_t n, cap;
    char **id;
    double *ext, *el;          /* external assets / liabilities, USD       */
    double *equity_in, *size_in; /* NAN = default                          */
    xcr__strmap map;
    /* liabilities as given (from owes to) */
    size_t m, cap_m;
    uint32_t *lf, *lt;
    double *la;
    /* assets named by holdings and re-pledge links */
    size_t na, cap_a;
    char **asym;
    xcr__strmap amap;
    /* first place each asset is named: list 0 holdings, 1 rehypothecation */
    uint8_t *afirst_list;
    size_t *afirst_idx;
    /* holdings */
    size_t nh, cap_h;
    uint32_t *h_ent, *h_asset;
    double *h_amt;
    /* re-pledge links: `from` pledged h_amt units to `to` */
    size_t nr, cap_r;
    uint32_t *r_from, *r_to, *r_asset;
    double *r_amt;
    /* after finalize: totals of the liabilities as given */
    double *ib_out, *ib_in;    /* Σ owed to others / by others              */
    /* book binding */
    const xcr_book *book;
    long *asset_book;          /* per network asset: book index             */
    char *name;                /* file name for located errors (may be NULL) */
};

/* The graph a model runs on: merged liabilities (plus re-pledge links
 * valued at prices) in CSR both ways, and each entity's balance sheet. */
typedef struct xcr__graph {
    size_t n, m;
    uint32_t *out_off, *out_to;  /* i owes out_to[k] out_amt[k]             */
    double *out_amt;
    uint32_t *in_off, *in_from;  /* i is owed in_amt[k] by in_from[k]       */
    double *in_amt;
    double *ext, *el;            /* now                                      */
    double *pbar, *ib_assets;    /* p̄ and Σ receivables at face              */
    double *ib_liab;             /* Σ owed to others in the network          */
    double *eq_base;             /* buffer equity at the book's prices       */
    double *eq_start;            /* balance-sheet equity before anything     */
    double *ext_start, *el_start;
    double *v;                   /* size shares (DebtRank)                   */
    /* scratch for builds */
    uint32_t *tmp_u;
    double *tmp_d;
    size_t cap_m;
} xcr__graph;

/* Scratch shared by the models (sized n; allocated once per run). */
typedef struct xcr__ws_net {
    double *x, *p, *h, *h1, *dh, *acc, *lu;
    uint32_t *list, *list2;
    uint8_t *state;
    int *round;
    size_t lu_cap;
} xcr__ws_net;

xcr_status xcr__graph_alloc(xcr__graph *g, size_t n, size_t m);
void xcr__graph_free(xcr__graph *g);
/* Build the merged CSR from edge lists (from, to, amount); edges touching
 * `skip` (an entity index, or (size_t)-1) are left out. */
void xcr__graph_set_edges(xcr__graph *g, size_t m, const uint32_t *from,
                          const uint32_t *to, const double *amt, size_t skip);
/* Interbank totals from the edges, then p̄ from them and g->el. */
void xcr__graph_totals(xcr__graph *g);
/* p̄ = interbank liabilities + g->el (the edges unchanged). */
void xcr__graph_pbar(xcr__graph *g);

xcr_status xcr__ws_net_init(xcr__ws_net *w, size_t n);
void xcr__ws_net_free(xcr__ws_net *w);

/* The effective rule of a model. */
xcr_default_rule xcr__net_rule(const xcr_contagion_opts *o);
/* Does an entity with this equity (scale = the tolerance's unit) default? */
static inline bool xcr__net_defaults(xcr_default_rule r, double equity,
                                     double tol, double scale)
{
    double t = tol * (scale > 1 ? scale : 1);
    return r == XCR_RULE_LE ? equity <= t : equity < -t;
}

/* Models on a prepared graph.  `forced` marks entities defaulted at the
 * start (may be NULL).  They fill out[] (payment, equity, defaulted, round,
 * recovery) and the summary's rounds/converged/debtrank/default_costs. */
void xcr__clear_en_rv(const xcr__graph *g, const xcr_contagion_opts *o,
                      const uint8_t *forced, xcr__ws_net *w,
                      xcr_entity_result *out, xcr_contagion_summary *sum);
void xcr__furfine(const xcr__graph *g, const xcr_contagion_opts *o,
                  const uint8_t *forced, xcr__ws_net *w,
                  xcr_entity_result *out, xcr_contagion_summary *sum);
void xcr__gai_kapadia(const xcr__graph *g, const xcr_contagion_opts *o,
                      const uint8_t *forced, xcr__ws_net *w,
                      xcr_entity_result *out, xcr_contagion_summary *sum);
void xcr__debtrank(const xcr__graph *g, const xcr_contagion_opts *o,
                   const uint8_t *forced, xcr__ws_net *w,
                   xcr_entity_result *out, xcr_contagion_summary *sum);

#define XCR__NET_TOL 1e-9
#define XCR__NET_MAX_ROUNDS 100000

#endif
