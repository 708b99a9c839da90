/* Auto-deleveraging: the step of the loss waterfall after the insurance
 * fund (margin-models.md §7 and §8).  The bankrupt account's closed
 * positions are matched against opposite positions of other cross and
 * portfolio accounts, ranked by
 *  - "pnl_leverage" (BitMEX, Bybit, MEXC): PnL% × effective leverage when
 *    PnL% > 0, PnL% / effective leverage otherwise, with
 *    PnL% = unrealised PnL / |entry value| and effective leverage
 *    = position notional / account equity;
 *  - "binance": max(0, uPnL) / max(1, wallet balance) × MM / (WB + uPnL),
 *    with WB + uPnL = the account's equity and WB = equity − the
 *    position's uPnL (the position's own PnL stands in for the account's);
 * highest first (ties by position index), and closed at the bankruptcy
 * price: the price at which the bankrupt position's share of the residual
 * loss is exactly paid, so the counterparties lose what the bankrupt
 * account could not pay, and the matched volume never reaches the market.
 * Only linear perps and futures are deleveraged; the loss allotted to other
 * positions stays for the socialised step. */
#include "cascade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double score_pnl_leverage(double upnl, double entry_value,
                                 double notional, double equity, double mm)
{
    (void)mm;
    double pnl = entry_value > 0 ? upnl / entry_value : 0;
    double lev = equity > 0 ? notional / equity : 0;
    if (!(lev > 0))
        return pnl > 0 ? 0 : -INFINITY;
    return pnl > 0 ? pnl * lev : pnl / lev;
}

static double score_binance(double upnl, double entry_value, double notional,
                            double equity, double mm)
{
    (void)entry_value;
    (void)notional;
    double wb = equity - upnl;
    double pnl = (upnl > 0 ? upnl : 0) / (wb > 1 ? wb : 1);
    double ratio = equity > 0 ? mm / equity : 0;
    return pnl * ratio;
}

const xcr__adl_rank *xcr__adl_rank_find(const char *name)
{
    static const xcr__adl_rank all[] = {
        {"pnl_leverage", score_pnl_leverage},
        {"binance", score_binance},
    };
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i].name, name) == 0)
            return &all[i];
    return NULL;
}

typedef struct cand {
    double score;
    uint32_t pos;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

double xcr__adl_cover(xcr_cascade *c, size_t acct, double residual,
                      void (*touch)(xcr_cascade *, size_t, double, double))
{
    const xcr_book *b = c->book;
    const xcr_market *m = c->m;
    uint32_t p0 = b->pos_off[acct], p1 = b->pos_off[acct + 1];
    double total = 0;
    for (uint32_t p = p0; p < p1; p++) {
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        if (c->pos_closed[p] != 0 && in->type != XCR_OPTION && !in->inverse)
            total += fabs(c->pos_closed[p]) * in->cs * m->mark[b->pos_inst[p]];
    }
    if (!(total > 0) || !(residual > 0))
        return 0;
    double covered = 0;
    for (uint32_t p = p0; p < p1; p++) {
        uint32_t ii = b->pos_inst[p];
        const xcr__inst *in = &b->insts[ii];
        double q = c->pos_closed[p];
        if (q == 0 || in->type == XCR_OPTION || in->inverse)
            continue;
        double mark = m->mark[ii];
        double rp = residual * fabs(q) * in->cs * mark / total;
        double pbk = mark + rp / (q * in->cs); /* bankruptcy price */
        size_t nc = c->ipos_off[ii + 1] - c->ipos_off[ii], n = 0;
        cand *cs = malloc((nc + 1) * sizeof *cs);
        if (!cs)
            return covered; /* no memory: the rest is socialised */
        for (uint32_t k = c->ipos_off[ii]; k < c->ipos_off[ii + 1]; k++) {
            uint32_t cp = c->ipos[k];
            uint32_t ca = c->pos_owner[cp];
            double sz = c->pos_size[cp];
            xcr_mode md = (xcr_mode)b->acct_mode[ca];
            if (ca == acct || sz == 0 || (sz > 0) == (q > 0) ||
                (md != XCR_MODE_CROSS && md != XCR_MODE_PORTFOLIO) ||
                (c->touched[ca] & 1))
                continue;
            /* rank on the round-start result, as full re-evaluation
             * would: a skipped account's stored result lags (bound.c);
             * its holdings are still those of the round's start (it was
             * not liquidated, and an earlier ADL this round refreshed it
             * before changing it) */
            if (c->stale[ca])
                xcr__cascade_refresh(c, ca);
            if (!(c->res[ca].equity > 0))
                continue;
            double upnl = sz * in->cs * (mark - b->pos_entry[cp]);
            double ev = fabs(sz) * in->cs * b->pos_entry[cp];
            cs[n].score = c->adl_rank->score(upnl, ev, fabs(sz) * in->cs * mark,
                                             c->res[ca].equity,
                                             c->res[ca].maintenance_margin);
            cs[n].pos = cp;
            n++;
        }
        qsort(cs, n, sizeof *cs, cand_cmp);
        double need = fabs(q);
        for (size_t j = 0; j < n && need > 0; j++) {
            uint32_t cp = cs[j].pos, ca = c->pos_owner[cp];
            double sz = c->pos_size[cp];
            double take = fabs(sz) < need ? fabs(sz) : need;
            double closed = sz > 0 ? take : -take;
            c->pos_size[cp] = fabs(sz) <= need ? 0 : sz - closed;
            /* realised at the bankruptcy price into the settle asset */
            for (uint32_t k = c->bal_off[ca]; k < c->bal_off[ca + 1]; k++)
                if (c->bal_asset[k] == in->settle) {
                    c->bal_amt[k] += closed * in->cs *
                                     (pbk - b->pos_entry[cp]) /
                                     m->price[in->settle];
                    break;
                }
            need -= take;
            touch(c, ca, take * in->cs * mark,
                  -closed * in->cs * (pbk - mark));
        }
        free(cs);
        double matched = fabs(q) - (need > 0 ? need : 0);
        covered += rp * matched / fabs(q);
        /* the matched contracts never reach the market */
        c->pos_flow[p] -= (q > 0 ? matched : -matched) * in->cs;
    }
    return covered;
}
