/* Per-account operations shared by the liquidation policies: saving and
 * restoring an account's slots for trial liquidations, its net amounts and
 * position contributions (the same formulas as the evaluator, spec §1), and
 * the lending parameters with e-mode. */
#include "cascade.h"

#include <string.h>

xcr_status xcr__liq_ctx_init(xcr_cascade *c, xcr__liq_ctx *x)
{
    const xcr_allocator *al = c->book->alloc;
    memset(x, 0, sizeof *x);
    size_t cap = c->slot_cap;
    x->cap = cap;
    x->save_bal = xcr__malloc(al, cap * sizeof(double));
    x->save_size = xcr__malloc(al, cap * sizeof(double));
    x->save_iso = xcr__malloc(al, cap * sizeof(double));
    x->net = xcr__malloc(al, cap * sizeof(double));
    x->contrib = xcr__malloc(al, cap * sizeof(double));
    x->flow = xcr__malloc(al, cap * sizeof(double));
    x->pos = xcr__malloc(al, cap * sizeof *x->pos);
    if (!x->save_bal || !x->save_size || !x->save_iso || !x->net ||
        !x->contrib || !x->flow || !x->pos ||
        xcr__ws_init(&x->ws, &c->sb) != XCR_OK) {
        xcr__liq_ctx_free(c, x);
        return XCR_ENOMEM;
    }
    return XCR_OK;
}

void xcr__liq_ctx_free(xcr_cascade *c, xcr__liq_ctx *x)
{
    const xcr_allocator *al = c->book->alloc;
    xcr__free(al, x->save_bal);
    xcr__free(al, x->save_size);
    xcr__free(al, x->save_iso);
    xcr__free(al, x->net);
    xcr__free(al, x->contrib);
    xcr__free(al, x->flow);
    xcr__free(al, x->pos);
    if (x->ws.net)
        xcr__ws_free(&x->ws, &c->sb);
    memset(x, 0, sizeof *x);
}

void xcr__acct_save(const xcr_cascade *c, xcr__liq_ctx *x, size_t acct)
{
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    uint32_t p0 = c->book->pos_off[acct], p1 = c->book->pos_off[acct + 1];
    memcpy(x->save_bal, c->bal_amt + b0, (b1 - b0) * sizeof(double));
    memcpy(x->save_size, c->pos_size + p0, (p1 - p0) * sizeof(double));
    memcpy(x->save_iso, c->pos_iso + p0, (p1 - p0) * sizeof(double));
}

void xcr__acct_restore(xcr_cascade *c, const xcr__liq_ctx *x, size_t acct)
{
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    uint32_t p0 = c->book->pos_off[acct], p1 = c->book->pos_off[acct + 1];
    memcpy(c->bal_amt + b0, x->save_bal, (b1 - b0) * sizeof(double));
    memcpy(c->pos_size + p0, x->save_size, (p1 - p0) * sizeof(double));
    memcpy(c->pos_iso + p0, x->save_iso, (p1 - p0) * sizeof(double));
}

void xcr__acct_eval(const xcr_cascade *c, xcr__liq_ctx *x, size_t acct,
                    xcr_account_result *r, xcr_position_result *pos)
{
    xcr__eval_account(c->m, NULL, acct, &x->ws, r, pos, NULL);
}

void xcr__acct_nets(const xcr_cascade *c, xcr__liq_ctx *x, size_t acct)
{
    const xcr_book *b = c->book;
    const xcr_market *m = c->m;
    uint32_t b0 = c->bal_off[acct], b1 = c->bal_off[acct + 1];
    uint32_t p0 = b->pos_off[acct], p1 = b->pos_off[acct + 1];
    for (uint32_t k = b0; k < b1; k++)
        x->net[k - b0] = x->save_bal[k - b0];
    for (uint32_t p = p0; p < p1; p++) {
        const xcr__inst *in = &b->insts[b->pos_inst[p]];
        double size = x->save_size[p - p0], mark = m->mark[b->pos_inst[p]];
        double sp = m->price[in->settle], contrib, flow;
        /* the evaluator's formulas (src/margin/eval.c, spec §1) */
        if (in->type == XCR_OPTION) {
            contrib = size * m->unit_value[b->pos_inst[p]] / sp;
            flow = 0; /* options close at their value without impact */
        } else if (in->inverse) {
            contrib = size * in->cs * (1.0 / b->pos_entry[p] - 1.0 / mark);
            flow = size * in->cs / mark; /* USD face → coins */
        } else {
            contrib = size * in->cs * (mark - b->pos_entry[p]) / sp;
            flow = size * in->cs;
        }
        x->contrib[p - p0] = contrib;
        x->flow[p - p0] = flow;
        if (b->acct_mode[acct] == XCR_MODE_ISOLATED)
            continue; /* isolated PnL stays in the position */
        for (uint32_t k = b0; k < b1; k++)
            if (c->bal_asset[k] == in->settle) {
                x->net[k - b0] += contrib;
                break;
            }
    }
}

void xcr__lending_params(const xcr_cascade *c, size_t acct, uint32_t asset,
                         double *lt, double *lb)
{
    const xcr_book *b = c->book;
    const xcr__asset *as = &b->assets[asset];
    const xcr_emode_def *em =
        b->acct_emode[acct] ? xcr__book_emode(b, b->acct_emode[acct]) : NULL;
    if (em && as->emode == em->id) {
        *lt = em->liquidation_threshold;
        *lb = 1 + em->liquidation_bonus;
    } else {
        *lt = as->lt;
        *lb = 1 + as->lbonus;
    }
}

double xcr__sale_value(const xcr_cascade *c, uint32_t a, double units)
{
    double p = c->price[a], usd = units * p;
    if (!c->o.concentration_haircut || !(units > 0) || a == c->cash)
        return usd;
    /* the position's own impact: what a liquidator expects to lose
     * selling it (an extra haircut that grows with concentration) */
    double mv = xcr__liq_move(&c->book->assets[a].liq, usd, c->liq_mult[a]);
    return usd * (1 + mv);
}
