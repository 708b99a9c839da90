/* Internal declarations of the stress subsystem (include/xcr/stress.h is the
 * public side).  docs/stress.md describes the models. */
#ifndef XCR_STRESS_INTERNAL_H
#define XCR_STRESS_INTERNAL_H

#include "../margin/margin.h"

/* MARK: scenario sets ------------------------------------------------------------ */

/* How a scenario was made (reports print them differently). */
enum {
    XCR__SK_DEF = 0,  /* built-in or user definition                     */
    XCR__SK_MOVES,    /* explicit arrays                                  */
    XCR__SK_UNIFORM,  /* uniform shock of all non-stable assets           */
    XCR__SK_GRID,     /* per-asset grid point                             */
    XCR__SK_MC,       /* Monte Carlo                                      */
    XCR__SK_FHS       /* filtered historical simulation                   */
};

typedef struct xcr__smeta {
    char *name;       /* owned; NULL for generated scenarios              */
    char *rule;       /* owned statement of the unlisted rule, or NULL    */
    char *title;      /* owned copies of the definition's text            */
    char *date;
    char *variant;
    char *source;
    char *events;     /* "; "-joined, owned, or NULL                      */
    char *unmatched;  /* symbols the book does not hold, owned, or NULL   */
    double beta;      /* β of the crash-ratio/fixed rule; NAN otherwise   */
    double uniform;   /* the uniform shock (UNIFORM)                      */
    uint32_t gen;     /* index within its generator (MC, FHS)             */
    int window_days;
    uint8_t kind;     /* XCR__SK_*                                        */
} xcr__smeta;

/* Monte Carlo / FHS description kept for the report. */
typedef struct xcr__gen_info {
    int used;
    int fhs;
    xcr_mc_dist dist;
    double df;
    int normal_marginals;
    double horizon_days;
    uint64_t seed;
    double lambda;
    size_t history_days;
    size_t k;            /* simulated assets                             */
    uint32_t *assets;    /* book indexes, k                               */
    double *vol;         /* annualised vol used, k                        */
    double *corr;        /* k×k matrix used (after any repair)            */
    char *corr_source;   /* words                                         */
    int repaired;
    double repair_change;/* max |Δρ| of the repair                        */
    size_t pairs_given, pairs_default, pairs_assumed;
    char *note;          /* assets that did not move and why               */
} xcr__gen_info;

/* A grid's axes, for 2-D tables. */
typedef struct xcr__grid_info {
    size_t naxes;
    uint32_t asset[2];
    size_t len[2];
    double *values[2];
    size_t first;        /* index of the grid's first scenario            */
} xcr__grid_info;

struct xcr_scenarios {
    const xcr_book *book;
    size_t na;           /* assets                                        */
    size_t n, cap;
    double *moves;       /* cap × na                                       */
    double *vol;         /* cap × na, NULL until a shift is set            */
    double *liq;         /* cap × na, NULL until a multiplier is set       */
    double *beta;        /* cap × na, NULL until a rule is used            */
    uint8_t *origin;     /* cap × na                                       */
    xcr__smeta *meta;    /* cap                                            */
    xcr__gen_info gen;
    xcr__grid_info grid;
    int has_uniform, has_grid, has_def;
};

/* Reserve `add` more scenarios (moves zeroed, origins NONE, meta zeroed);
 * returns the index of the first. */
xcr_status xcr__scen_reserve(xcr_scenarios *s, size_t add, size_t *first,
                             xcr_error *err);
/* Drop scenarios first .. n-1 (to undo a partly added batch). */
void xcr__scen_truncate(xcr_scenarios *s, size_t first);
xcr_status xcr__scen_ensure_vol(xcr_scenarios *s, xcr_error *err);
xcr_status xcr__scen_ensure_liq(xcr_scenarios *s, xcr_error *err);
xcr_status xcr__scen_ensure_beta(xcr_scenarios *s, xcr_error *err);

/* MARK: symbols -------------------------------------------------------------------- */

/* ASCII case-insensitive comparison. */
int xcr__strcasecmp(const char *a, const char *b);
/* A finite number filling the whole string (blanks already trimmed). */
bool xcr__parse_double(const char *s, double *out);
/* Book asset by symbol: exact, else case-insensitive; -1 if none. */
long xcr__find_asset_ci(const xcr_book *b, const char *sym);

/* The shipped default correlation (scenarios-and-data.md §2). */
#define XCR__DEFAULT_CORR_N 5
extern const char *const xcr__default_corr_sym[XCR__DEFAULT_CORR_N];
extern const double xcr__default_corr[XCR__DEFAULT_CORR_N *
                                      XCR__DEFAULT_CORR_N];
/* Correlation assumed for pairs no source gives (docs/stress.md). */
#define XCR__ASSUMED_RHO 0.5
/* Correlation of a wrapped/staked token with the asset it follows. */
#define XCR__ALIAS_RHO 0.99
/* A move "to zero" (prices must stay > 0). */
#define XCR__TO_ZERO (-0.9999)
/* Floor of moves produced by the unlisted-asset rule. */
#define XCR__RULE_FLOOR (-0.99)

/* MARK: correlation ------------------------------------------------------------------ */

struct xcr_corr {
    size_t n;
    char **sym;
    double *m;       /* n×n                                             */
    char *where;     /* source, for messages                            */
    double dflt;     /* value for pairs not given (NAN = none)           */
};

/* Where a pair's correlation came from. */
enum { XCR__RHO_GIVEN = 0, XCR__RHO_DEFAULT, XCR__RHO_ASSUMED };

/* Correlation of two assets by symbol: from `c` (may be NULL), then the
 * book's settings.correlation (`bookc`, may be NULL), then the shipped
 * default, then through wrapped/staked aliases (a token and the asset it
 * follows: XCR__ALIAS_RHO), then a source's "default" value, then
 * XCR__ASSUMED_RHO.  *how gets XCR__RHO_*. */
double xcr__rho_sym(const xcr_corr *c, const xcr_corr *bookc, const char *s1,
                    const char *s2, int *how);
/* Parse the JSON value {"assets": [...], "matrix": [[...]], "default": r};
 * `where` is the location prefix ("file" or "book.json: $.settings.
 * correlation"). */
xcr_status xcr__corr_from_json_text(const char *text, const char *where,
                                    xcr_corr **out, xcr_error *err);

/* MARK: history ----------------------------------------------------------------------- */

/* Column of a symbol in a history (case-insensitive); -1 if none. */
long xcr__history_find(const xcr_history *h, const char *sym);

/* MARK: statistics ------------------------------------------------------------------- */

/* VaR/ES at the three report levels; `x` (n values) is reordered. */
void xcr__var_es3(double *x, size_t n, double *var, double *es);
/* Acerbi–Tasche tail weights: w[i] for each of n scenarios (sums to 1) of
 * the ES at level alpha, given the losses (not reordered). */
xcr_status xcr__es_weights(const double *loss, size_t n, double alpha,
                           double *w);
/* The pieces of xcr__var_es3 (stats.c), shared with the fast path's tail
 * version (fast_linear.c xcr__fast_var_es3):
 * k = ⌈α·n⌉ clamped to [1, n] (with a tiny tolerance for whole α·n); */
size_t xcr__order_index(double alpha, size_t n);
/* ES at α from the ascending sorted tail x[k-1 .. n-1], k its order index;*/
double xcr__es_from_sorted(const double *x, size_t n, double alpha, size_t k);
/* after the call x[k] holds the (k+1)-th smallest of x[0..n), everything
 * before it <= and everything after it >= (Hoare's FIND). */
void xcr__select_k(double *x, size_t n, size_t k);
/* Value at quantile p (⌈p·n⌉-th order statistic) of x; x is reordered. */
double xcr__quantile(double *x, size_t n, double p);
/* Log of the Student t density (stats.c). */
double xcr__t_logpdf(double x, double nu);

#define XCR__PI 3.14159265358979323846

/* MARK: fixed-point accumulation ----------------------------------------------------- */

/* Sums that must not depend on the order of addition (thread count) are
 * kept as 128-bit integers of 2^-32 USD: integer addition is associative,
 * so any split of the work gives bit-identical totals. */
__extension__ typedef __int128 xcr__i128;
#define XCR__FIX_SCALE 4294967296.0
static inline bool xcr__fix_add(xcr__i128 *acc, double x)
{
    double y = x * XCR__FIX_SCALE;
    if (!(fabs(y) < 1e37))
        return false;
    *acc += (xcr__i128)(y >= 0 ? y + 0.5 : y - 0.5);
    return true;
}
static inline double xcr__fix_get(xcr__i128 acc)
{
    return (double)acc / XCR__FIX_SCALE;
}

/* MARK: exposure internals (exposure.c, for the writer) -------------------------------- */

size_t xcr__exposure_top(const xcr_exposure *e, size_t asset, size_t *accts,
                         double *usd, size_t cap);
size_t xcr__exposure_loop_accounts(const xcr_exposure *e, size_t k);
const xcr_market *xcr__exposure_market(const xcr_exposure *e);
double xcr__exposure_threshold(const xcr_exposure *e);

/* MARK: output helpers (out.c) ------------------------------------------------------ */

/* (Numbers: xcr__put_num / xcr__put_csv_num in core.h.)
 * JSON string with escapes. */
void xcr__put_str(FILE *f, const char *s);
/* CSV field (quoted when needed). */
void xcr__put_csv_str(FILE *f, const char *s);
/* "-44.6 %" */
void xcr__fmt_pct(double v, char *buf, size_t n);

/* MARK: engine result ------------------------------------------------------------------ */

struct xcr_stress_result {
    const xcr_market *m;
    const xcr_scenarios *s;
    size_t n_scen, n_acc, na;
    /* per scenario */
    double *loss, *shortfall, *liq_coll, *liq_notional;
    uint32_t *status_count;   /* n_scen × 5: four statuses, newly liq.    */
    double *asset_loss;       /* n_scen × na or NULL                       */
    double *asset_liq;        /* n_scen × na or NULL                       */
    /* per account */
    double *eq0;
    uint8_t *st0;
    uint32_t *n_liq, *n_bank, *worst;
    double *sum_loss, *sum_short, *max_loss;
    double *acc_var, *acc_es; /* n_acc × 3 or NULL                          */
    double *eq1;              /* one-scenario runs                          */
    uint8_t *st1;
};

#endif /* XCR_STRESS_INTERNAL_H */
