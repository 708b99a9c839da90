/* Seeded property tests: the fast margin path against a simple reference
 * implementation written from the spec (§2) on random books, and the
 * liquidation-price solver against brute-force scanning.  Portfolio
 * accounts are checked against a plain re-implementation of the risk
 * matrix (docs/portfolio.md; margin-models.md §10) with random
 * settings.portfolio, pricing every scenario with xcr_black76 (the engine
 * uses its own vectorised kernel).
 *
 * The reference deliberately uses different formulations: bracket margin as
 * Σ rate × slice (the integral form of Binance's maintenance-amount
 * recursion), tiers as a sum over all slices, dense per-asset arrays.
 * Set XCR_TEST_SEED to replay a failure; the seed is printed on failure. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "xcr.h"

/* MARK: a small deterministic RNG (splitmix64) ---------------------------- */

static uint64_t rng_state;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }
static int irand(int n) { return (int)(unif() * n); }

/* MARK: the random book, kept in the test's own structures ---------------- */

#define NA 5  /* USDT, USDC, BTC, ETH, SOL */
#define NI 8
#define MAXT 4
#define MAXP 6

typedef struct {
    const char *sym;
    double price;
    bool stable;
    int nt;
    double upper[MAXT], w[MAXT];
    double lw, bimr, bmmr, ltv, lt;
    int emode;
} asset_t;

typedef struct {
    const char *id;
    int type; /* 0 perp, 1 future, 2 option */
    int und, settle;
    bool inverse;
    double cs, mark, strike, iv, t;
    bool call;
    int nt;
    double cap[MAXT], imr[MAXT], mmr[MAXT];
} inst_t;

typedef struct {
    int mode; /* 0 cross, 1 isolated, 2 portfolio, 3 lending */
    int emode;
    double bal[NA];
    int np;
    int inst[MAXP];
    double size[MAXP], entry[MAXP], iso[MAXP];
    double extra[NA]; /* portfolio: extra IM per currency (currency units) */
} acct_t;

static asset_t A[NA];
static inst_t I[NI];
static const double EM_LTV = 0.9, EM_LT = 0.93;

static void gen_market(void)
{
    const char *syms[NA] = {"USDT", "USDC", "BTC", "ETH", "SOL"};
    const double px[NA] = {1, 1, 65000, 3500, 150};
    for (int a = 0; a < NA; a++) {
        asset_t *x = &A[a];
        memset(x, 0, sizeof *x);
        x->sym = syms[a];
        x->stable = a < 2;
        x->price = x->stable ? 1 : px[a] * (0.5 + unif());
        x->nt = 1 + irand(MAXT);
        double up = 0, w = 1.0;
        for (int k = 0; k < x->nt; k++) {
            up += 1e4 * (1 + 50 * unif()) * (k + 1);
            w -= 0.3 * unif() * (k > 0);
            if (w < 0)
                w = 0;
            x->upper[k] = k + 1 == x->nt && unif() < 0.7 ? INFINITY : up;
            x->w[k] = k == 0 ? 0.7 + 0.3 * unif() : w;
        }
        x->lw = 1 + 0.2 * unif();
        x->bimr = 0.1 * unif();
        x->bmmr = x->bimr * unif();
        x->ltv = 0.5 + 0.3 * unif();
        x->lt = x->ltv + 0.05 * unif();
        x->emode = (a == 2 || a == 3) ? 1 : 0;
    }
    const char *ids[NI] = {"BTC-P", "ETH-P", "SOL-P", "BTC-INV",
                           "ETH-F", "BTC-C", "ETH-PUT", "BTC-INVC"};
    const int und[NI] = {2, 3, 4, 2, 3, 2, 3, 2};
    for (int i = 0; i < NI; i++) {
        inst_t *x = &I[i];
        memset(x, 0, sizeof *x);
        x->id = ids[i];
        x->und = und[i];
        x->type = i < 4 ? 0 : i == 4 ? 1 : 2;
        x->inverse = i == 3 || i == 7;
        x->settle = x->inverse ? x->und : (i == 5 ? 1 : 0);
        x->cs = x->inverse ? 100 : (unif() < 0.5 ? 1 : 0.01 * (1 + irand(10)));
        x->mark = A[x->und].price * (1 + 0.01 * (unif() - 0.5));
        x->strike = A[x->und].price * (0.7 + 0.6 * unif());
        x->iv = 0.3 + 0.6 * unif();
        /* whole seconds, as the ISO expiry written to the book */
        x->t = floor((0.02 + 0.5 * unif()) * 365 * 86400) / (365 * 86400.0);
        x->call = i != 6;
        x->nt = 1 + irand(MAXT);
        double cap = 0, imr = 0.01 + 0.02 * unif(), mmr = imr / 2;
        for (int k = 0; k < x->nt; k++) {
            cap += 5e4 * (1 + 20 * unif()) * (k + 1);
            x->cap[k] = k + 1 == x->nt ? INFINITY : cap;
            x->imr[k] = imr;
            x->mmr[k] = mmr;
            imr = fmin(1, imr * (1.2 + unif()));
            mmr = fmin(imr, mmr * (1.2 + unif()));
        }
    }
}

/* MARK: random portfolio-margin parameters --------------------------------- */

typedef struct {
    double R, vu, vd, minv, sp, lp, ef, thr, maxd, minc;
} pm_und_t;
typedef struct {
    double off, maxoff, amr, minm, damp;
} pm_cur_t;
static struct {
    double mmf, dec;
    int B, blend, next;
    double ext[8];
    pm_und_t und[NA];
    pm_cur_t cur[NA];
} PM;

static void gen_pm(void)
{
    PM.mmf = 0.5 + 0.5 * unif();
    PM.B = 1 + irand(6);
    PM.blend = unif() < 0.4;
    PM.dec = unif();
    static const double ext[8] = {-0.66, -0.33, 0.5, 1, 2, 3, 4, 5};
    PM.next = unif() < 0.3 ? 3 + irand(6) : 8;
    for (int e = 0; e < PM.next; e++)
        PM.ext[e] = PM.next == 8 ? ext[e] : (unif() < 0.5 ? -0.9 : 6) * unif();
    for (int e = 0; e < PM.next; e++)
        if (PM.ext[e] == 0)
            PM.ext[e] = 0.25;
    for (int a = 0; a < NA; a++) {
        pm_und_t *u = &PM.und[a];
        u->R = 0.05 + 0.25 * unif();
        u->vu = 0.6 * unif();
        u->vd = 0.5 * unif();
        u->minv = 0.6 * unif();
        u->sp = 0.5 * unif();
        u->lp = 0.3 * unif();
        u->ef = 0.5 + unif();
        u->thr = pow(10, 3 + 4 * unif());
        u->maxd = 0.2 * unif();
        u->minc = pow(10, -5 + 3 * unif());
        pm_cur_t *c = &PM.cur[a];
        c->off = unif() < 0.5 ? 0 : unif();
        c->maxoff = unif() < 0.3 ? INFINITY : 1e5 * unif();
        c->amr = 0.2 * unif();
        c->minm = 0.02 * unif();
        c->damp = unif() < 0.3 ? 0 : 2e5 * unif();
    }
}

static void gen_account(acct_t *c)
{
    memset(c, 0, sizeof *c);
    double r = unif();
    c->mode = r < 0.5 ? 0 : r < 0.7 ? 1 : r < 0.8 ? 2 : 3;
    double scale = pow(10, 2 + 4 * unif());
    for (int a = 0; a < NA; a++) {
        if (unif() < 0.5)
            continue;
        double amt = scale * unif() / A[a].price;
        /* some borrows */
        if (unif() < 0.25)
            amt = -amt * unif();
        c->bal[a] = amt;
    }
    if (c->mode == 3) {
        c->emode = unif() < 0.4 ? 1 : 0;
        return;
    }
    c->np = irand(MAXP + 1);
    for (int k = 0; k < c->np; k++) {
        int i = irand(NI);
        const inst_t *x = &I[i];
        c->inst[k] = i;
        double notion = scale * (0.2 + 5 * unif());
        double units = x->inverse ? notion / x->cs : notion / (x->cs * x->mark);
        c->size[k] = (unif() < 0.5 ? -1 : 1) * units;
        c->entry[k] = x->mark * (0.85 + 0.3 * unif());
        c->iso[k] = c->mode == 1 ? notion * (0.02 + 0.2 * unif()) : 0;
    }
    if (c->mode == 2 && unif() < 0.3)
        c->extra[irand(NA)] = scale * 0.05 * unif() / A[0].price;
}

/* MARK: writing the book as spec JSON ------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;
static void bput(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bput(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 1024;
        b->p = realloc(b->p, b->cap);
    }
}

static void num(buf_t *b, double v)
{
    if (isinf(v))
        bput(b, "null");
    else
        bput(b, "%.17g", v);
}

/* Seconds: as_of 2024-01-01T00:00:00Z = 1704067200. */
static void iso_time(double years, char *out, size_t n)
{
    /* whole seconds so that the round trip through ISO text is exact */
    long secs = lround(years * 365 * 86400);
    long t = 1704067200L + secs;
    long days = t / 86400, rem = t % 86400;
    /* civil from days (Hinnant) */
    long z = days + 719468, era = z / 146097, doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* years stay within 2024-2025, so the text always fits */
    int k = snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)(y % 10000),
                     (int)m, (int)d, (int)(rem / 3600), (int)(rem / 60 % 60),
                     (int)(rem % 60));
    (void)k;
}

static char *book_json(const acct_t *acc, size_t n)
{
    buf_t b = {malloc(1 << 16), 0, 1 << 16};
    bput(&b, "{\"as_of\":\"2024-01-01T00:00:00Z\",\"assets\":[");
    for (int a = 0; a < NA; a++) {
        const asset_t *x = &A[a];
        bput(&b, "%s{\"symbol\":\"%s\",\"price\":", a ? "," : "", x->sym);
        num(&b, x->price);
        bput(&b, ",\"stable\":%s,\"collateral_tiers\":[",
             x->stable ? "true" : "false");
        for (int k = 0; k < x->nt; k++) {
            bput(&b, "%s[", k ? "," : "");
            num(&b, x->upper[k]);
            bput(&b, ",");
            num(&b, x->w[k]);
            bput(&b, "]");
        }
        bput(&b, "],\"liability_weight\":%.17g,\"borrow_imr\":%.17g,"
                 "\"borrow_mmr\":%.17g,\"lending\":{\"ltv\":%.17g,"
                 "\"liquidation_threshold\":%.17g,\"emode_category\":%d}}",
             x->lw, x->bimr, x->bmmr, x->ltv, x->lt, x->emode);
    }
    bput(&b, "],\"instruments\":[");
    for (int i = 0; i < NI; i++) {
        const inst_t *x = &I[i];
        const char *types[] = {"perp", "future", "option"};
        bput(&b,
             "%s{\"id\":\"%s\",\"type\":\"%s\",\"underlying\":\"%s\","
             "\"settle\":\"%s\",\"inverse\":%s,\"contract_size\":%.17g,"
             "\"mark_price\":%.17g",
             i ? "," : "", x->id, types[x->type], A[x->und].sym,
             A[x->settle].sym, x->inverse ? "true" : "false", x->cs, x->mark);
        if (x->type) {
            char t[40];
            iso_time(x->t, t, sizeof t);
            bput(&b, ",\"expiry\":\"%s\"", t);
        }
        if (x->type == 2)
            bput(&b, ",\"strike\":%.17g,\"option_type\":\"%s\",\"iv\":%.17g",
                 x->strike, x->call ? "call" : "put", x->iv);
        bput(&b, ",\"margin_tiers\":[");
        for (int k = 0; k < x->nt; k++) {
            bput(&b, "%s{\"notional_max\":", k ? "," : "");
            num(&b, x->cap[k]);
            bput(&b, ",\"imr\":%.17g,\"mmr\":%.17g}", x->imr[k], x->mmr[k]);
        }
        bput(&b, "]}");
    }
    bput(&b, "],\"settings\":{\"emode_categories\":[{\"id\":1,\"ltv\":%.17g,"
             "\"liquidation_threshold\":%.17g,\"liquidation_bonus\":0.01}],",
         EM_LTV, EM_LT);
    bput(&b, "\"portfolio\":{\"mm_factor\":%.17g,\"buckets_count\":%d,"
             "\"cross_currency\":\"%s\",\"decorrelation_risk\":%.17g,"
             "\"extended_moves\":[",
         PM.mmf, PM.B, PM.blend ? "blend" : "sum", PM.dec);
    for (int e = 0; e < PM.next; e++)
        bput(&b, "%s%.17g", e ? "," : "", PM.ext[e]);
    bput(&b, "],\"underlyings\":{");
    for (int a = 0; a < NA; a++) {
        const pm_und_t *u = &PM.und[a];
        bput(&b, "%s\"%s\":{\"price_range\":%.17g,\"volatility_range_up\":"
                 "%.17g,\"volatility_range_down\":%.17g,"
                 "\"min_volatility_for_shock_up\":%.17g,"
                 "\"short_term_vega_power\":%.17g,\"long_term_vega_power\":"
                 "%.17g,\"extended_table_factor\":%.17g,"
                 "\"delta_total_liq_shock_threshold\":%.17g,"
                 "\"max_delta_shock\":%.17g,\"m_inc\":%.17g}",
             a ? "," : "", A[a].sym, u->R, u->vu, u->vd, u->minv, u->sp,
             u->lp, u->ef, u->thr, u->maxd, u->minc);
    }
    bput(&b, "},\"currencies\":{");
    for (int a = 0; a < NA; a++) {
        const pm_cur_t *c = &PM.cur[a];
        bput(&b, "%s\"%s\":{\"pnl_offset\":%.17g,", a ? "," : "", A[a].sym,
             c->off);
        if (isfinite(c->maxoff))
            bput(&b, "\"max_offsetable_pnl\":%.17g,", c->maxoff);
        bput(&b, "\"annualised_move_risk\":%.17g,\"min_annualised_move\":"
                 "%.17g,\"extended_dampener\":%.17g}",
             c->amr, c->minm, c->damp);
    }
    bput(&b, "},\"extra_im\":{");
    int firstx = 1;
    for (size_t i = 0; i < n; i++) {
        bool any = false;
        for (int a = 0; a < NA; a++)
            any |= acc[i].extra[a] != 0;
        if (!any)
            continue;
        bput(&b, "%s\"a%zu\":{", firstx ? "" : ",", i);
        firstx = 0;
        int f2 = 1;
        for (int a = 0; a < NA; a++)
            if (acc[i].extra[a] != 0) {
                bput(&b, "%s\"%s\":{\"open_orders_margin\":%.17g}",
                     f2 ? "" : ",", A[a].sym, acc[i].extra[a]);
                f2 = 0;
            }
        bput(&b, "}");
    }
    bput(&b, "}}},\"accounts\":[");
    const char *modes[] = {"cross", "isolated", "portfolio", "lending"};
    for (size_t i = 0; i < n; i++) {
        const acct_t *c = &acc[i];
        bput(&b, "%s{\"id\":\"a%zu\",\"mode\":\"%s\",\"emode\":%d,"
                 "\"balances\":{",
             i ? "," : "", i, modes[c->mode], c->emode);
        int first = 1;
        for (int a = 0; a < NA; a++)
            if (c->bal[a] != 0) {
                bput(&b, "%s\"%s\":%.17g", first ? "" : ",", A[a].sym,
                     c->bal[a]);
                first = 0;
            }
        bput(&b, "},\"positions\":[");
        for (int k = 0; k < c->np; k++) {
            bput(&b, "%s{\"instrument\":\"%s\",\"size\":%.17g,"
                     "\"entry_price\":%.17g",
                 k ? "," : "", I[c->inst[k]].id, c->size[k], c->entry[k]);
            if (c->mode == 1)
                bput(&b, ",\"isolated_margin\":%.17g", c->iso[k]);
            bput(&b, "}");
        }
        bput(&b, "]}");
    }
    bput(&b, "]}");
    return b.p;
}

/* MARK: the reference implementation (spec §2, written plainly) ----------- */

static double ref_tiered(const asset_t *x, double v)
{
    double lo = 0, sum = 0;
    for (int k = 0; k < x->nt; k++) {
        double hi = x->upper[k];
        double slice = fmin(v, hi) - lo;
        if (slice > 0)
            sum += slice * x->w[k];
        lo = hi;
    }
    return sum;
}

/* Σ rate_k × (part of N inside bracket k): the continuous bracket margin. */
static double ref_bracket(const double *cap, const double *rate, int nt,
                          double notional)
{
    double lo = 0, sum = 0;
    for (int k = 0; k < nt; k++) {
        double hi = k + 1 == nt ? INFINITY : cap[k];
        double slice = fmin(notional, hi) - lo;
        if (slice > 0)
            sum += slice * rate[k];
        lo = hi;
    }
    return sum;
}

typedef struct {
    double equity, coll, im, mm;
    xcr_acct_status st;
} ref_t;

/* The risk matrix, written plainly (docs/portfolio.md): P&L of every
 * position in its settle currency at each scenario by direct Black-76
 * pricing; per (currency, underlying) pair: extended fraction, pnl_offset
 * and cap on gains, dampener on extended losses, worst case, roll and delta
 * shocks; the account: sum, or the decorrelation blend. */
static void ref_pm(const acct_t *c, const double *price, double *im,
                   double *mm)
{
    const int ns = (2 * PM.B + 1) * 3, nv = ns + PM.next;
    double joint[256] = {0};
    double worst_sum = 0, addons = 0, extra = 0;
    bool done[MAXP] = {false};
    for (int k0 = 0; k0 < c->np; k0++) {
        if (done[k0])
            continue;
        const int cu = I[c->inst[k0]].settle, un = I[c->inst[k0]].und;
        const pm_und_t *U = &PM.und[un];
        const pm_cur_t *C = &PM.cur[cu];
        const double S = price[un], pc = price[cu];
        double v[256] = {0}, roll = 0, delta = 0;
        for (int k = k0; k < c->np; k++) {
            const inst_t *x = &I[c->inst[k]];
            if (x->settle != cu || x->und != un)
                continue;
            done[k] = true;
            const double size = c->size[k];
            const double mark = x->mark * S / A[un].price;
            const double units = x->inverse ? x->cs / x->strike : x->cs;
            double base = 0, sv[3] = {0, 0, 0};
            if (x->type == 2) {
                xcr_greeks g;
                xcr_black76(x->call, mark, x->strike, x->t, x->iv, &g);
                base = units * g.value;
                delta += size * units * g.delta * mark / S;
                double dte = x->t * 365, kk = pow(30 / dte, dte < 30 ? U->sp
                                                                     : U->lp);
                sv[0] = fmax(x->iv * (1 + U->vu * kk), U->minv);
                sv[1] = x->iv;
                sv[2] = fmax(x->iv * (1 - U->vd * kk), 0);
            } else if (x->inverse) {
                delta += size * x->cs / mark;
                roll += fabs(size * x->cs / mark) *
                        fmax(C->amr * (x->type == 1 ? x->t : 0), C->minm);
            } else {
                delta += size * x->cs * mark / S;
                roll += fabs(size * x->cs * mark / pc) *
                        fmax(C->amr * (x->type == 1 ? x->t : 0), C->minm);
            }
            for (int s = 0; s < nv; s++) {
                const bool ext = s >= ns;
                const double mv = ext ? PM.ext[s - ns]
                                      : U->R * (s / 3 - PM.B) / PM.B;
                const double ms = mark * (1 + mv);
                const double pcs = pc * (cu == un ? 1 + mv : 1);
                double pnl;
                if (x->type == 2) {
                    xcr_greeks g;
                    xcr_black76(x->call, ms, x->strike, x->t,
                                sv[ext ? 0 : s % 3], &g);
                    pnl = size * (units * g.value / pcs - base / pc);
                } else if (x->inverse) {
                    pnl = size * x->cs * (1 / mark - 1 / ms);
                } else {
                    pnl = size * x->cs * (ms - mark) / pcs;
                }
                if (ext) {
                    double sg = mv < 0 ? -1 : 1;
                    pnl *= U->ef * U->R / fabs(mv) *
                           (cu == un ? (1 + mv) / (1 + sg * U->R) : 1);
                }
                v[s] += pnl;
            }
        }
        double mn = 0;
        for (int s = 0; s < nv; s++) {
            if (v[s] > 0)
                v[s] = fmin(v[s] * C->off, C->maxoff / pc);
            if (s >= ns && v[s] < 0) {
                double mv = PM.ext[s - ns], sg = mv < 0 ? -1 : 1;
                double d = (fmax(fabs(mv) / U->R, 1) - 1) * C->damp /
                           (pc * (cu == un ? 1 + sg * U->R : 1));
                v[s] = fmin(0, v[s] + d);
            }
            mn = fmin(mn, v[s]);
            joint[s] += v[s] * pc;
        }
        double ds = 0;
        if (fabs(delta) * S > U->thr)
            ds = fmin(U->maxd, U->minc * (fabs(delta) - U->thr / S)) *
                 fabs(delta) * S / pc;
        worst_sum += -mn * pc;
        addons += (roll + ds) * pc;
    }
    for (int a = 0; a < NA; a++)
        extra += c->extra[a] * price[a];
    double worst = worst_sum;
    if (PM.blend) {
        double mn = 0;
        for (int s = 0; s < nv; s++)
            mn = fmin(mn, joint[s]);
        worst = PM.dec * worst_sum + (1 - PM.dec) * -mn;
    }
    *mm = PM.mmf * (worst + addons);
    *im = worst + addons + extra;
}

/* `f` multiplies the prices of the assets flagged in `moved`. */
static ref_t ref_eval(const acct_t *c, const double *price)
{
    double net[NA] = {0};
    double pim = 0, pmm = 0, iso_coll = 0;
    xcr_acct_status worst = XCR_HEALTHY;
    for (int a = 0; a < NA; a++)
        net[a] = c->bal[a];
    for (int k = 0; k < c->np; k++) {
        const inst_t *x = &I[c->inst[k]];
        double mark = x->mark * price[x->und] / A[x->und].price;
        double sp = price[x->settle];
        double usd;
        if (x->type == 2) {
            xcr_greeks g;
            xcr_black76(x->call, mark, x->strike, x->t, x->iv, &g);
            double units = x->inverse ? x->cs / x->strike : x->cs;
            usd = c->size[k] * units * g.value;
        } else if (x->inverse) {
            usd = c->size[k] * x->cs * (1 / c->entry[k] - 1 / mark) * sp;
        } else {
            usd = c->size[k] * x->cs * (mark - c->entry[k]);
        }
        if (c->mode != 1)
            net[x->settle] += usd / sp;
        double notional = x->inverse ? fabs(c->size[k]) * x->cs
                                     : fabs(c->size[k]) * x->cs * mark;
        double im = 0, mm = 0;
        if (c->mode != 2 && (x->type != 2 || c->size[k] < 0)) {
            im = ref_bracket(x->cap, x->imr, x->nt, notional);
            mm = ref_bracket(x->cap, x->mmr, x->nt, notional);
        }
        pim += im;
        pmm += mm;
        if (c->mode == 1) {
            double m = c->iso[k] + usd;
            iso_coll += m;
            xcr_acct_status s = m < 0    ? XCR_BANKRUPT
                                : m < mm ? XCR_LIQUIDATABLE
                                : m < im ? XCR_MARGIN_CALL
                                         : XCR_HEALTHY;
            if (s > worst)
                worst = s;
        }
    }
    ref_t r = {0, 0, pim, pmm, XCR_HEALTHY};
    if (c->mode == 3) {
        double clt = 0, cltv = 0, debt = 0;
        for (int a = 0; a < NA; a++) {
            double v = net[a] * price[a];
            r.equity += v;
            bool em = c->emode == 1 && A[a].emode == 1;
            if (v > 0) {
                clt += v * (em ? EM_LT : A[a].lt);
                cltv += v * (em ? EM_LTV : A[a].ltv);
            } else {
                debt -= v;
            }
        }
        r.coll = clt;
        r.mm = debt;
        r.im = debt > 0 ? (cltv > 0 ? debt * clt / cltv : INFINITY) : 0;
        r.st = r.equity < 0    ? XCR_BANKRUPT
               : clt < debt    ? XCR_LIQUIDATABLE
               : cltv < debt   ? XCR_MARGIN_CALL
                               : XCR_HEALTHY;
        return r;
    }
    for (int a = 0; a < NA; a++) {
        double v = net[a] * price[a];
        r.equity += v;
        if (c->mode == 1)
            continue;
        if (v > 0) {
            r.coll += ref_tiered(&A[a], v);
        } else {
            r.coll += v * A[a].lw;
            r.mm += -v * A[a].bmmr;
            r.im += -v * A[a].bimr;
        }
    }
    if (c->mode == 1) {
        r.equity += iso_coll;
        r.coll = iso_coll;
        r.st = r.equity < 0 ? XCR_BANKRUPT : worst;
        return r;
    }
    if (c->mode == 2) {
        double xim, xmm;
        ref_pm(c, price, &xim, &xmm);
        r.im += xim;
        r.mm += xmm;
    }
    r.st = r.equity < 0     ? XCR_BANKRUPT
           : r.coll < r.mm  ? XCR_LIQUIDATABLE
           : r.coll < r.im  ? XCR_MARGIN_CALL
                            : XCR_HEALTHY;
    return r;
}

/* MARK: the properties ------------------------------------------------------- */

static bool close_to(double a, double b, double scale)
{
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(b), scale));
}

Test(property, fast_path_equals_reference)
{
    uint64_t seed = xt_seed(20261124);
    rng_state = seed;
    gen_market();
    gen_pm();
    const size_t n = 10000;
    acct_t *acc = malloc(n * sizeof *acc);
    for (size_t i = 0; i < n; i++)
        gen_account(&acc[i]);
    char *json = book_json(acc, n);
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_load_json_text(json, strlen(json), "random.json",
                                         NULL, &b, &err),
                 XCR_OK, "seed %llu: %s", (unsigned long long)seed, err.msg);
    free(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    xcr_account_result *res = malloc(n * sizeof *res);
    cr_assert_eq(xcr_margin_all(m, 0, res, &err), XCR_OK, "%s", err.msg);
    double price[NA];
    for (int a = 0; a < NA; a++)
        price[a] = A[a].price;
    size_t by_status[4] = {0};
    for (size_t i = 0; i < n; i++) {
        ref_t r = ref_eval(&acc[i], price);
        const xcr_account_result *x = &res[i];
        double scale = fabs(r.equity) + fabs(r.coll) + r.mm;
        cr_assert(close_to(x->equity, r.equity, scale) &&
                      close_to(x->collateral, r.coll, scale) &&
                      close_to(x->maintenance_margin, r.mm, scale) &&
                      (close_to(x->initial_margin, r.im, scale) ||
                       (isinf(x->initial_margin) && isinf(r.im))),
                  "seed %llu account a%zu (%s): fast (%.17g %.17g %.17g "
                  "%.17g) vs reference (%.17g %.17g %.17g %.17g)",
                  (unsigned long long)seed, i,
                  xcr_mode_name(xcr_book_account_mode(b, i)), x->equity,
                  x->collateral, x->initial_margin, x->maintenance_margin,
                  r.equity, r.coll, r.im, r.mm);
        /* statuses agree unless the account sits on a boundary */
        if (x->status != r.st) {
            double gap = fmin(fabs(r.coll - r.mm), fabs(r.coll - r.im));
            gap = fmin(gap, fabs(r.equity));
            cr_assert(gap <= 1e-9 * fmax(1, scale),
                      "seed %llu account a%zu: status %s vs %s",
                      (unsigned long long)seed, i,
                      xcr_acct_status_name(x->status),
                      xcr_acct_status_name(r.st));
        }
        by_status[x->status]++;
    }
    /* the generator must exercise every status */
    for (int s = 0; s < 4; s++)
        cr_assert(by_status[s] > 0, "seed %llu: no %s account",
                  (unsigned long long)seed,
                  xcr_acct_status_name((xcr_acct_status)s));
    free(res);
    free(acc);
    xcr_market_free(m);
    xcr_book_free(b);
}

/* Brute force: walk the price of one asset away from its current value on a
 * fine grid with the reference evaluator; the first liquidatable grid point
 * and the last one before it must bracket the solver's answer. */
Test(property, liquidation_prices_match_brute_force)
{
    uint64_t seed = xt_seed(77);
    rng_state = seed;
    gen_market();
    gen_pm();
    const size_t n = 300;
    acct_t *acc = malloc(n * sizeof *acc);
    for (size_t i = 0; i < n; i++)
        gen_account(&acc[i]);
    char *json = book_json(acc, n);
    xcr_book *b = NULL;
    xcr_error err = {0};
    cr_assert_eq(xcr_book_load_json_text(json, strlen(json), "random.json",
                                         NULL, &b, &err),
                 XCR_OK, "%s", err.msg);
    free(json);
    xcr_market *m = NULL;
    cr_assert_eq(xcr_market_new(b, &m), XCR_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        double price[NA];
        for (int a = 0; a < NA; a++)
            price[a] = A[a].price;
        if (ref_eval(&acc[i], price).st >= XCR_LIQUIDATABLE)
            continue;
        for (int a = 2; a < NA; a++) {
            xcr_liq_price lp;
            cr_assert_eq(xcr_liquidation_price(m, i, (size_t)a, &lp, &err),
                         XCR_OK);
            for (int dir = 0; dir < 2; dir++) {
                /* grid: 4000 steps, finer near the current price */
                double end = dir == 0 ? 1e-9 : 10.0;
                double prev = 1.0, hit = NAN, before = NAN;
                const int steps = 4000;
                for (int k = 1; k <= steps; k++) {
                    double u = (double)k / steps;
                    double f = 1 + (end - 1) * u * u;
                    price[a] = A[a].price * f;
                    if (ref_eval(&acc[i], price).st >= XCR_LIQUIDATABLE) {
                        hit = f;
                        before = prev;
                        break;
                    }
                    prev = f;
                }
                price[a] = A[a].price;
                double got = (dir == 0 ? lp.down : lp.up) / A[a].price;
                if (isnan(hit)) {
                    cr_assert(isnan(got),
                              "seed %llu a%zu %s %s: solver %.12g, brute "
                              "force none",
                              (unsigned long long)seed, i, A[a].sym,
                              dir ? "up" : "down", got);
                    continue;
                }
                cr_assert(!isnan(got),
                          "seed %llu a%zu %s %s: solver none, brute force "
                          "in [%.12g, %.12g]",
                          (unsigned long long)seed, i, A[a].sym,
                          dir ? "up" : "down", before, hit);
                double lo = fmin(before, hit), hi = fmax(before, hit);
                cr_assert(got >= lo * (1 - 1e-9) && got <= hi * (1 + 1e-9),
                          "seed %llu a%zu %s %s: solver %.12g outside brute "
                          "force [%.12g, %.12g]",
                          (unsigned long long)seed, i, A[a].sym,
                          dir ? "up" : "down", got, lo, hi);
                found++;
            }
        }
    }
    cr_assert(found > 50, "only %d liquidation prices compared", found);
    free(acc);
    xcr_market_free(m);
    xcr_book_free(b);
}
