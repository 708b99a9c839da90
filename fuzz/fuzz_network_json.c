/* libFuzzer harness: the network JSON parser (spec §4, src/contagion).
 * Invariants, not just "no crash":
 *  - an error has a located, non-empty message and leaves no network;
 *  - a network that loads clears under Eisenberg–Noe to finite payments in
 *    [0, p̄] that satisfy the fixed-point equations p = Φ(p) (unless the
 *    iteration cap stopped it), and every other model (one with a firewall)
 *    gives finite equities and stress in [0, 1] — or a located error — all
 *    through one reusable runner;
 *  - the written network reloads to an equal network. */
#include "contagion/contagion.h"
#include "fuzz_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Φ(p)_i = min(p̄_i, max(0, e_i + Σ_j L_ji·p_j/p̄_j)) (Eisenberg–Noe 2001) */
static void check_en_fixed_point(const xcr_network *net,
                                 const xcr_entity_result *r)
{
    size_t n = net->n;
    double *in = calloc(n + 1, sizeof *in);
    FUZZ_CHECK(in != NULL, "oom");
    double scale = 1;
    for (size_t i = 0; i < n; i++) {
        double pb = xcr_network_obligation(net, i);
        scale = fmax(scale, fmax(pb, net->ext[i] + net->ib_in[i]));
    }
    for (size_t k = 0; k < net->m; k++) {
        double pb = xcr_network_obligation(net, net->lf[k]);
        if (pb > 0)
            in[net->lt[k]] += net->la[k] * (r[net->lf[k]].payment / pb);
    }
    for (size_t i = 0; i < n; i++) {
        double pb = xcr_network_obligation(net, i);
        double x = net->ext[i] + in[i];
        double phi = x < 0 ? 0 : x > pb ? pb : x;
        FUZZ_CHECK(fabs(phi - r[i].payment) <= 1e-6 * scale,
                   "entity %zu: Φ(p) = %.17g but p = %.17g", i, phi,
                   r[i].payment);
    }
    free(in);
}

static void run_models(const xcr_network *net)
{
    size_t n = xcr_network_entity_count(net);
    xcr_entity_result *r = calloc(n + 1, sizeof *r);
    FUZZ_CHECK(r != NULL, "oom");
    /* one runner for every model: it keeps the merged edges between runs,
     * so the runs also check that nothing stale carries over */
    xcr_contagion_runner *run = NULL;
    xcr_error rerr = {0};
    FUZZ_CHECK(xcr_contagion_runner_new(net, &run, &rerr) == XCR_OK,
               "runner: %s", rerr.msg);
    const xcr_net_model models[] = {XCR_NET_EN, XCR_NET_RV, XCR_NET_FURFINE,
                                    XCR_NET_GK, XCR_NET_DEBTRANK,
                                    XCR_NET_DEBTRANK};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        xcr_contagion_opts o;
        xcr_contagion_opts_init(&o);
        o.model = models[k];
        o.max_rounds = 2000; /* keep slow convergence cheap */
        o.alpha = 0.5;
        o.beta = 0.7;
        o.recovery = 0.4;
        o.gk_fire_sale = k == 3 ? 1.0536 : 0;
        o.variant = k == 5 ? XCR_DR_DIFFERENTIAL : XCR_DR_BATTISTON;
        o.firewall = k == 2 && n > 1 ? 1 : -1;
        size_t d = 0;
        if (k > 0) { /* EN unshocked: its fixed point is checked below */
            o.defaults = &d;
            o.ndefaults = 1;
            o.shock_all = 0.1;
        }
        xcr_contagion_summary s;
        xcr_error err = {0};
        xcr_status st = xcr_contagion_runner_run(run, &o, r, &s, NULL, &err);
        if (st != XCR_OK) {
            fuzz_check_error(st, &err);
            /* re-pledged collateral needs a book: the only refusal */
            FUZZ_CHECK(st == XCR_EINVAL && net->nr > 0, "run failed: %s",
                       err.msg);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            double pb = xcr_network_obligation(net, i);
            FUZZ_CHECK(isfinite(r[i].payment) && r[i].payment >= 0 &&
                           r[i].payment <= pb * (1 + 1e-12),
                       "model %s entity %zu: payment %.17g outside [0, %.17g]",
                       xcr_net_model_name(o.model), i, r[i].payment, pb);
            FUZZ_CHECK(isfinite(r[i].equity) && isfinite(r[i].loss),
                       "model %s entity %zu: non-finite equity",
                       xcr_net_model_name(o.model), i);
            FUZZ_CHECK(r[i].stress >= 0 && r[i].stress <= 1,
                       "model %s: stress %g", xcr_net_model_name(o.model),
                       r[i].stress);
        }
        FUZZ_CHECK(s.defaults <= n, "defaults");
        if (k == 0 && s.converged)
            check_en_fixed_point(net, r);
    }
    xcr_contagion_runner_free(run);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xcr_network *net = (xcr_network *)(uintptr_t)1;
    xcr_error err = {0};
    xcr_status s = xcr_network_load_json_text((const char *)data, size,
                                              "fuzz.json", &net, &err);
    if (s != XCR_OK) {
        fuzz_check_error(s, &err);
        FUZZ_CHECK(net == NULL, "a failed load returned a network");
        FUZZ_CHECK(strncmp(err.msg, "fuzz.json", 9) == 0 ||
                       s == XCR_ENOMEM,
                   "error does not name the file: %s", err.msg);
        return 0;
    }
    run_models(net);
    char *text = NULL;
    FUZZ_CHECK(xcr_network_to_json_text(net, &text, &err) == XCR_OK,
               "writer failed: %s", err.msg);
    xcr_network *again = NULL;
    s = xcr_network_load_json_text(text, strlen(text), "rt.json", &again,
                                   &err);
    FUZZ_CHECK(s == XCR_OK, "written network does not reload: %s", err.msg);
    FUZZ_CHECK(xcr_network_equal(net, again), "round trip differs");
    xcr_network_free(again);
    free(text);
    xcr_network_free(net);
    return 0;
}
