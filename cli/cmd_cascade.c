/* xcr cascade [BOOK] (--shock SYM=MOVE[,...] | --scenario NAME|FILE)
 *               [options]                                     (spec §5) */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(void)
{
    printf(
        "usage: xcr cascade [BOOK] (--shock SYM=MOVE[,SYM=MOVE...] | "
        "--scenario NAME|FILE)\n"
        "                   [options]\n\n"
        "Simulate a liquidation cascade on BOOK (default: the built-in demo "
        "book): after\nthe shock, every liquidatable account is liquidated "
        "under its policy, the\ncollateral sold and positions closed move "
        "each asset's price through its\nliquidity model, and the rounds "
        "repeat until nothing is liquidatable.\nDefaults come from the "
        "book's settings.liquidation (docs/cascade.md).\n\n"
        "shock (one of):\n"
        "  --shock SPEC            per-asset moves, e.g. BTC=-0.2,ETH=-0.25\n"
        "  --scenario NAME|FILE    a built-in scenario (see 'xcr scenarios') "
        "or a file\n"
        "                          with one scenario; its liquidity "
        "multipliers scale depth\n\n"
        "liquidation:\n"
        "  --policy P              exchange, aave-v3.0, aave-v3.3, aave-v4, "
        "compound-v3\n"
        "  --close-factor-rule R   lending accounts under the exchange "
        "policy: aave-v3.0,\n"
        "                          aave-v3.3\n"
        "  --target T              exchange partial target: maintenance or "
        "initial\n"
        "  --penalty R             exchange liquidation fee (fraction of "
        "notional)\n"
        "  --liq-buffer F          exchange partial target buffer: "
        "liquidate until\n"
        "                          collateral >= requirement x (1 + F), "
        "F in [0, 1)\n"
        "                          (default 0.05; 0 = exactly the "
        "requirement)\n"
        "  --min-liq-usd USD       exchange: a partial liquidation trading "
        "less than USD\n"
        "                          closes the whole account instead "
        "(default 10; 0 = off)\n"
        "  --target-hf X           Aave v4 target health factor\n"
        "  --insurance-fund USD    the fund at the start\n"
        "  --no-adl                no auto-deleveraging (losses beyond the "
        "fund are\n"
        "                          socialised)\n"
        "  --adl-ranking R         pnl_leverage or binance\n"
        "  --seize-order O         lending collateral: largest or book\n"
        "  --storefront-factor F   Compound v3 storeFrontPriceFactor\n\n"
        "safeguards:\n"
        "  --circuit-breaker M:K   halt liquidations of accounts exposed to "
        "an asset that\n"
        "                          moved more than M in a round for K rounds "
        "(0:0 = off)\n"
        "  --cap SYM=USD[,...]     at most USD of SYM sold per round "
        "(throttling)\n"
        "  --concentration-haircut credit collateral sold at the price after "
        "its own impact\n\n"
        "simulation and output:\n"
        "  --max-rounds N          round limit\n"
        "  --sequential            one account at a time, worst first, with "
        "immediate impact\n"
        "  --full-reevaluation     re-evaluate every account every round "
        "(same results)\n"
        "  --gpu                   evaluate on the GPU where the cascade can "
        "(CUDA builds;\n"
        "                          same results; exit 2 without a GPU)\n"
        "  --threads T             worker threads (default: all cores); "
        "results do not\n"
        "                          depend on T\n"
        "  --trace-accounts        per-account events (JSON \"events\", CSV "
        "event rows,\n"
        "                          table)\n"
        "  --format F              table (default), json (spec §5) or csv\n"
        "  --segment               what-if: rerun the shock with every cross "
        "account split\n"
        "                          into isolated sub-accounts and report the "
        "difference in\n"
        "                          liquidations, amplification and bad debt\n\n"
        "Exit status: 0 ok, 2 bad input (a located message on stderr), 1 "
        "internal failure.\n");
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

enum {
    O_SHOCK = 1000, O_SCEN, O_POLICY, O_CFR, O_TARGET, O_PENALTY, O_THF,
    O_FUND, O_NOADL, O_RANK, O_SEIZE, O_SFPF, O_CB, O_CAP, O_CONC, O_MAXR,
    O_SEQ, O_FULL, O_THREADS, O_TRACE, O_FORMAT, O_SEGMENT, O_GPU, O_LIQBUF,
    O_MINLIQ, O_HELP
};

/* Per-asset round caps "SYM=USD,..." (parsed like --shock). */
static xcr_status parse_caps(const xcr_book *b, const char *spec,
                             double *caps, xcr_error *err)
{
    size_t na = xcr_book_asset_count(b);
    xcr_status s = xcr_cascade_parse_shock(b, spec, caps, err);
    if (s != XCR_OK) {
        /* re-word the message for this option */
        char *p = strstr(err->msg, "--shock");
        if (p)
            memcpy(p, "--cap  ", 7);
        return s;
    }
    for (size_t a = 0; a < na; a++)
        if (caps[a] == 0)
            caps[a] = NAN;
        else if (!(caps[a] > 0)) {
            snprintf(err->msg, sizeof err->msg,
                     "--cap: the cap of %s must be a USD amount > 0",
                     xcr_book_asset_symbol(b, a));
            return XCR_EINVAL;
        }
    return XCR_OK;
}

int cmd_cascade(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shock", required_argument, NULL, O_SHOCK},
        {"scenario", required_argument, NULL, O_SCEN},
        {"policy", required_argument, NULL, O_POLICY},
        {"close-factor-rule", required_argument, NULL, O_CFR},
        {"target", required_argument, NULL, O_TARGET},
        {"penalty", required_argument, NULL, O_PENALTY},
        {"liq-buffer", required_argument, NULL, O_LIQBUF},
        {"min-liq-usd", required_argument, NULL, O_MINLIQ},
        {"target-hf", required_argument, NULL, O_THF},
        {"insurance-fund", required_argument, NULL, O_FUND},
        {"no-adl", no_argument, NULL, O_NOADL},
        {"adl-ranking", required_argument, NULL, O_RANK},
        {"seize-order", required_argument, NULL, O_SEIZE},
        {"storefront-factor", required_argument, NULL, O_SFPF},
        {"circuit-breaker", required_argument, NULL, O_CB},
        {"cap", required_argument, NULL, O_CAP},
        {"concentration-haircut", no_argument, NULL, O_CONC},
        {"max-rounds", required_argument, NULL, O_MAXR},
        {"sequential", no_argument, NULL, O_SEQ},
        {"full-reevaluation", no_argument, NULL, O_FULL},
        {"threads", required_argument, NULL, O_THREADS},
        {"trace-accounts", no_argument, NULL, O_TRACE},
        {"format", required_argument, NULL, O_FORMAT},
        {"segment", no_argument, NULL, O_SEGMENT},
        {"gpu", no_argument, NULL, O_GPU},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    const char *shock = NULL, *scen = NULL, *policy = NULL, *cfr = NULL,
               *rank = NULL, *caps_spec = NULL;
    int target = -1, noadl = 0, seize = -1, conc = 0, seq = 0, full = 0,
        trace = 0, segment = 0, gpu = 0;
    double penalty = NAN, thf = NAN, fund = NAN, sfpf = NAN, cb_move = NAN,
           liq_buffer = NAN, min_liq = NAN;
    unsigned long long maxr = 0, threads = 0, cb_rounds = 0;
    xcr_out_format format = XCR_OUT_TABLE;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_SHOCK:
            shock = optarg;
            break;
        case O_SCEN:
            scen = optarg;
            break;
        case O_POLICY:
            policy = optarg;
            break;
        case O_CFR:
            cfr = optarg;
            break;
        case O_TARGET:
            if (strcmp(optarg, "maintenance") == 0)
                target = XCR_TARGET_MAINTENANCE;
            else if (strcmp(optarg, "initial") == 0)
                target = XCR_TARGET_INITIAL;
            else
                return cli_usage("cascade", "--target must be maintenance "
                                            "or initial");
            break;
        case O_PENALTY:
            if (!cli_parse_num(optarg, &penalty) || !(penalty >= 0) ||
                !(penalty < 1))
                return cli_usage("cascade", "--penalty needs a number in "
                                            "[0, 1)");
            break;
        case O_LIQBUF:
            /* cli_parse_num refuses NaN and infinities */
            if (!cli_parse_num(optarg, &liq_buffer) || !(liq_buffer >= 0) ||
                !(liq_buffer < 1))
                return cli_usage("cascade", "--liq-buffer needs a number in "
                                            "[0, 1)");
            break;
        case O_MINLIQ:
            if (!cli_parse_num(optarg, &min_liq) || !(min_liq >= 0) ||
                !isfinite(min_liq))
                return cli_usage("cascade", "--min-liq-usd needs a finite "
                                            "USD amount >= 0");
            break;
        case O_THF:
            if (!cli_parse_num(optarg, &thf) || !(thf >= 1))
                return cli_usage("cascade", "--target-hf needs a number >= "
                                            "1");
            break;
        case O_FUND:
            if (!cli_parse_num(optarg, &fund) || !(fund >= 0))
                return cli_usage("cascade", "--insurance-fund needs a USD "
                                            "amount >= 0");
            break;
        case O_NOADL:
            noadl = 1;
            break;
        case O_RANK:
            rank = optarg;
            break;
        case O_SEIZE:
            if (strcmp(optarg, "largest") == 0)
                seize = XCR_SEIZE_LARGEST;
            else if (strcmp(optarg, "book") == 0)
                seize = XCR_SEIZE_BOOK_ORDER;
            else
                return cli_usage("cascade", "--seize-order must be largest "
                                            "or book");
            break;
        case O_SFPF:
            if (!cli_parse_num(optarg, &sfpf) || !(sfpf >= 0) || !(sfpf <= 1))
                return cli_usage("cascade", "--storefront-factor needs a "
                                            "number in [0, 1]");
            break;
        case O_CB: {
            char *colon = strchr(optarg, ':');
            if (!colon)
                return cli_usage("cascade", "--circuit-breaker needs "
                                            "MAX_MOVE:HALT_ROUNDS");
            *colon = '\0';
            if (!cli_parse_num(optarg, &cb_move) || !(cb_move >= 0) ||
                !cli_parse_size(colon + 1, &cb_rounds) || cb_rounds > 1000000)
                return cli_usage("cascade", "--circuit-breaker needs "
                                            "MAX_MOVE:HALT_ROUNDS (a move "
                                            ">= 0 and 0..1000000 rounds)");
            break;
        }
        case O_CAP:
            caps_spec = optarg;
            break;
        case O_CONC:
            conc = 1;
            break;
        case O_MAXR:
            if (!cli_parse_size(optarg, &maxr) || maxr == 0 ||
                maxr > 10000000)
                return cli_usage("cascade", "--max-rounds needs 1..10000000");
            break;
        case O_SEQ:
            seq = 1;
            break;
        case O_FULL:
            full = 1;
            break;
        case O_THREADS:
            if (!cli_parse_size(optarg, &threads) || threads > 256)
                return cli_usage("cascade", "--threads needs 0..256");
            break;
        case O_TRACE:
            trace = 1;
            break;
        case O_FORMAT:
            if (!cli_parse_format(optarg, &format))
                return cli_usage("cascade", "unknown format '%s'", optarg);
            break;
        case O_GPU:
            gpu = 1;
            break;
        case O_SEGMENT:
            segment = 1;
            break;
        case O_HELP:
        case 'h':
            help();
            return XCR_EXIT_OK;
        default:
            return cli_usage("cascade", "bad option");
        }
    }
    if (argc - optind > 1)
        return cli_usage("cascade", "too many arguments");
    if (!shock == !scen)
        return cli_usage("cascade", "choose exactly one of --shock and "
                                    "--scenario");
    if (scen && !xcr_builtin_scenario_find(scen) && !is_file(scen)) {
        fprintf(stderr,
                "xcr: --scenario %s: neither a built-in scenario nor a "
                "readable file (run 'xcr scenarios' for the library)\n",
                scen);
        return XCR_EXIT_INPUT;
    }
    const char *path = optind < argc ? argv[optind] : NULL;
    xcr_error err = {0};
    xcr_book *book = NULL;
    xcr_scenarios *set = NULL;
    xcr_cascade *cas = NULL, *scas = NULL;
    xcr_book *sbook = NULL;
    double *moves = NULL, *caps = NULL;
    int rc = XCR_EXIT_OK;
    xcr_status s = cli_load_book(path, &book, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    size_t na = xcr_book_asset_count(book);
    xcr_cascade_opts o;
    if ((s = xcr_cascade_opts_init(book, &o, &err)) != XCR_OK)
        goto fail;
    if (policy)
        o.policy = policy;
    if (cfr)
        o.close_factor_rule = cfr;
    if (rank)
        o.adl_ranking = rank;
    if (target >= 0)
        o.target = (xcr_cascade_target)target;
    if (!isnan(penalty))
        o.penalty = penalty;
    if (!isnan(thf))
        o.target_health_factor = thf;
    if (!isnan(liq_buffer))
        o.liq_buffer = liq_buffer;
    if (!isnan(min_liq))
        o.min_liq_usd = min_liq;
    if (!isnan(fund))
        o.insurance_fund = fund;
    if (noadl)
        o.adl = 0;
    if (seize >= 0)
        o.seize_order = (xcr_seize_order)seize;
    if (!isnan(sfpf))
        o.storefront_factor = sfpf;
    if (!isnan(cb_move)) {
        o.cb_max_move = cb_move;
        o.cb_halt_rounds = (int)cb_rounds;
    }
    if (maxr)
        o.max_rounds = (size_t)maxr;
    o.sequential = seq;
    o.full_reevaluation = full;
    o.concentration_haircut = conc;
    o.trace_accounts = trace;
    o.threads = (int)threads;
    o.gpu = gpu;
    if (caps_spec) {
        caps = calloc(na + 1, sizeof *caps);
        if (!caps) {
            s = XCR_ENOMEM;
            goto fail;
        }
        if ((s = parse_caps(book, caps_spec, caps, &err)) != XCR_OK)
            goto fail;
        o.round_cap_usd = caps;
    }
    if ((s = xcr_cascade_new(book, &o, &cas, &err)) != XCR_OK)
        goto fail;
    if (shock) {
        moves = calloc(na + 1, sizeof *moves);
        if (!moves) {
            s = XCR_ENOMEM;
            goto fail;
        }
        if ((s = xcr_cascade_parse_shock(book, shock, moves, &err)) != XCR_OK ||
            (s = xcr_cascade_shock(cas, moves, NULL, &err)) != XCR_OK)
            goto fail;
    } else {
        if ((s = xcr_scenarios_new(book, &set)) != XCR_OK)
            goto fail;
        if (xcr_builtin_scenario_find(scen))
            s = xcr_scenarios_add_builtin(set, scen, NULL, &err);
        else
            s = xcr_scenarios_load_file(set, scen, NULL, &err);
        if (s != XCR_OK)
            goto fail;
        if (xcr_scenarios_count(set) != 1) {
            fprintf(stderr,
                    "xcr: --scenario %s: holds %zu scenarios; a cascade runs "
                    "one\n",
                    scen, xcr_scenarios_count(set));
            rc = XCR_EXIT_INPUT;
            goto out;
        }
        if ((s = xcr_cascade_shock_scenario(cas, set, 0, &err)) != XCR_OK)
            goto fail;
    }
    if ((s = xcr_cascade_run(cas, &err)) != XCR_OK)
        goto fail;
    xcr_cascade_report_opts ro = {format, path ? path : "demo book",
                                  shock ? shock : scen, trace, NULL};
    if (segment) {
        /* the what-if: the same shock and options on the segmented book */
        if ((s = xcr_book_segment(book, &sbook, &err)) != XCR_OK ||
            (s = xcr_cascade_new(sbook, &o, &scas, &err)) != XCR_OK)
            goto fail;
        if (shock)
            s = xcr_cascade_shock(scas, moves, NULL, &err);
        else {
            xcr_scenarios *sset = NULL;
            s = xcr_scenarios_new(sbook, &sset);
            if (s == XCR_OK && xcr_builtin_scenario_find(scen))
                s = xcr_scenarios_add_builtin(sset, scen, NULL, &err);
            else if (s == XCR_OK)
                s = xcr_scenarios_load_file(sset, scen, NULL, &err);
            if (s == XCR_OK)
                s = xcr_cascade_shock_scenario(scas, sset, 0, &err);
            xcr_scenarios_free(sset);
        }
        if (s != XCR_OK || (s = xcr_cascade_run(scas, &err)) != XCR_OK)
            goto fail;
        ro.segmented = scas;
    }
    if ((s = xcr_cascade_report(cas, &ro, stdout, &err)) != XCR_OK)
        goto fail;
    goto out;
fail:
    /* no GPU when --gpu was asked for: a usage problem (exit 2) */
    rc = s == XCR_ENODEV ? (cli_report(&err, s), XCR_EXIT_INPUT)
                         : cli_report(&err, s);
out:
    free(moves);
    free(caps);
    xcr_cascade_free(cas);
    xcr_cascade_free(scas);
    xcr_book_free(sbook);
    xcr_scenarios_free(set);
    xcr_book_free(book);
    return rc;
}
