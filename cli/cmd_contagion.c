/* xcr contagion NETWORK --model en|rv|furfine|gk|debtrank [options]
 * (spec §4, §5; docs/contagion.md).  A thin front end: parse, load, call
 * the library, print. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf(
        "usage: xcr contagion NETWORK [--model MODEL] [options]\n\n"
        "Propagate losses between entities (venues, lenders, funds) of a "
        "network JSON\n(spec section 4) and report payments, equities, "
        "defaults and stress.\n\n"
        "models (--model, default en):\n"
        "  en        Eisenberg-Noe clearing vector (fictitious default "
        "algorithm)\n"
        "  rv        Rogers-Veraart with default costs --alpha A (external) "
        "and\n"
        "            --beta B (interbank), default 1 and 1\n"
        "  furfine   Furfine sequential defaults, creditors recover "
        "--recovery R\n"
        "  gk        Gai-Kapadia threshold contagion (zero recovery); "
        "--gk-fire-sale A\n"
        "            prices external assets at exp(-A x), x = share "
        "dumped\n"
        "  debtrank  DebtRank, --variant battiston|single-hit|differential\n\n"
        "shocks:\n"
        "  --default ID[,ID...]  entities defaulted at the start\n"
        "  --shock-all S         every entity loses the fraction S of its "
        "external\n"
        "                        assets (DebtRank: initial stress S on every "
        "node)\n"
        "  --shock-external S    DebtRank: lose S of external assets (stress "
        "= loss/equity)\n\n"
        "conventions:\n"
        "  --default-rule lt|le  default at equity < 0 or <= 0 (default: lt "
        "for en/rv,\n"
        "                        le for furfine/gk)\n"
        "  --tol T               relative tolerance of the default test "
        "(1e-9)\n\n"
        "book coupling:\n"
        "  --book BOOK           prices and liquidity of held assets; "
        "accounts at\n"
        "                        defaulted entities keep only its recovery "
        "of collateral\n"
        "  --shock SYM=MOVE,...  initial price moves of book assets (-0.2 = "
        "-20 %%)\n"
        "  --leverage-target L   entities above assets/equity L sell "
        "holdings into the\n"
        "                        assets' liquidity models (fire sales)\n"
        "  --cascade             run the book's liquidation cascade with "
        "--shock first:\n"
        "                        its final prices start the held assets and "
        "the bad\n"
        "                        debt at each entity's accounts is that "
        "entity's loss\n\n"
        "what-ifs and output:\n"
        "  --firewall ENTITY     cut the entity's links; report what that "
        "saves\n"
        "  --rank                systemic importance and vulnerability "
        "rankings\n"
        "  --threads T           threads for --rank (results do not depend "
        "on it)\n"
        "  --dot FILE            Graphviz DOT of the network coloured by "
        "outcome\n"
        "  --format table|json|csv\n\n"
        "Exit status: 0 success, 2 bad input or usage, 1 internal "
        "failure.\n");
}

enum {
    O_MODEL = 1000, O_ALPHA, O_BETA, O_RECOVERY, O_VARIANT, O_DEFAULT,
    O_SHOCK_ALL, O_SHOCK_EXT, O_RULE, O_TOL, O_BOOK, O_SHOCK, O_LEV,
    O_FIREWALL, O_RANK, O_THREADS, O_DOT, O_FORMAT, O_GKFS, O_CASCADE,
    O_HELP
};

typedef struct args {
    const char *net_path, *book_path, *shock, *defaults, *firewall, *dot;
    xcr_contagion_opts o;
    xcr_out_format format;
    int rank;
    int threads;
    int cascade;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"alpha", required_argument, NULL, O_ALPHA},
        {"beta", required_argument, NULL, O_BETA},
        {"recovery", required_argument, NULL, O_RECOVERY},
        {"variant", required_argument, NULL, O_VARIANT},
        {"default", required_argument, NULL, O_DEFAULT},
        {"shock-all", required_argument, NULL, O_SHOCK_ALL},
        {"shock-external", required_argument, NULL, O_SHOCK_EXT},
        {"default-rule", required_argument, NULL, O_RULE},
        {"tol", required_argument, NULL, O_TOL},
        {"book", required_argument, NULL, O_BOOK},
        {"shock", required_argument, NULL, O_SHOCK},
        {"leverage-target", required_argument, NULL, O_LEV},
        {"firewall", required_argument, NULL, O_FIREWALL},
        {"rank", no_argument, NULL, O_RANK},
        {"threads", required_argument, NULL, O_THREADS},
        {"dot", required_argument, NULL, O_DOT},
        {"format", required_argument, NULL, O_FORMAT},
        {"gk-fire-sale", required_argument, NULL, O_GKFS},
        {"cascade", no_argument, NULL, O_CASCADE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    xcr_contagion_opts_init(&a->o);
    int c;
    unsigned long long ull;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        double v = 0;
        switch (c) {
        case O_MODEL:
            if (strcmp(optarg, "en") == 0)
                a->o.model = XCR_NET_EN;
            else if (strcmp(optarg, "rv") == 0)
                a->o.model = XCR_NET_RV;
            else if (strcmp(optarg, "furfine") == 0)
                a->o.model = XCR_NET_FURFINE;
            else if (strcmp(optarg, "gk") == 0)
                a->o.model = XCR_NET_GK;
            else if (strcmp(optarg, "debtrank") == 0)
                a->o.model = XCR_NET_DEBTRANK;
            else
                return cli_usage("contagion", "--model must be en, rv, "
                                              "furfine, gk or debtrank");
            break;
        case O_VARIANT:
            if (strcmp(optarg, "battiston") == 0)
                a->o.variant = XCR_DR_BATTISTON;
            else if (strcmp(optarg, "single-hit") == 0)
                a->o.variant = XCR_DR_SINGLE_HIT;
            else if (strcmp(optarg, "differential") == 0)
                a->o.variant = XCR_DR_DIFFERENTIAL;
            else
                return cli_usage("contagion", "--variant must be battiston, "
                                              "single-hit or differential");
            break;
        case O_RULE:
            if (strcmp(optarg, "lt") == 0)
                a->o.rule = XCR_RULE_LT;
            else if (strcmp(optarg, "le") == 0)
                a->o.rule = XCR_RULE_LE;
            else
                return cli_usage("contagion", "--default-rule must be lt or "
                                              "le");
            break;
        case O_ALPHA:
        case O_BETA:
        case O_RECOVERY:
        case O_SHOCK_ALL:
        case O_SHOCK_EXT:
            if (!cli_parse_num(optarg, &v) || v < 0 || v > 1)
                return cli_usage("contagion", "--%s needs a number in [0, 1]",
                                 opts[c - O_MODEL].name);
            if (c == O_ALPHA)
                a->o.alpha = v;
            else if (c == O_BETA)
                a->o.beta = v;
            else if (c == O_RECOVERY)
                a->o.recovery = v;
            else if (c == O_SHOCK_ALL)
                a->o.shock_all = v;
            else
                a->o.shock_external = v;
            break;
        case O_TOL:
            if (!cli_parse_num(optarg, &v) || v <= 0 || v >= 1)
                return cli_usage("contagion", "--tol needs a number in (0, "
                                              "1)");
            a->o.tol = v;
            break;
        case O_GKFS:
            if (!cli_parse_num(optarg, &v) || v < 0)
                return cli_usage("contagion", "--gk-fire-sale needs a number "
                                              ">= 0");
            a->o.gk_fire_sale = v;
            break;
        case O_LEV:
            if (!cli_parse_num(optarg, &v) || v < 1)
                return cli_usage("contagion", "--leverage-target needs a "
                                              "number >= 1");
            a->o.leverage_target = v;
            break;
        case O_DEFAULT:
            a->defaults = optarg;
            break;
        case O_BOOK:
            a->book_path = optarg;
            break;
        case O_SHOCK:
            a->shock = optarg;
            break;
        case O_FIREWALL:
            a->firewall = optarg;
            break;
        case O_DOT:
            a->dot = optarg;
            break;
        case O_RANK:
            a->rank = 1;
            break;
        case O_CASCADE:
            a->cascade = 1;
            break;
        case O_THREADS:
            if (!cli_parse_size(optarg, &ull) || ull > 256)
                return cli_usage("contagion", "--threads needs 0..256");
            a->threads = (int)ull;
            break;
        case O_FORMAT:
            if (!cli_parse_format(optarg, &a->format))
                return cli_usage("contagion", "--format must be table, json "
                                              "or csv");
            break;
        case O_HELP:
        case 'h':
            help();
            return -1;
        default:
            return cli_usage("contagion", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("contagion", "expected one NETWORK file");
    a->net_path = argv[optind];
    if (a->o.leverage_target > 0 && !a->book_path)
        return cli_usage("contagion", "--leverage-target needs --book");
    if (a->shock && !a->book_path)
        return cli_usage("contagion", "--shock needs --book");
    if (a->cascade && (!a->book_path || !a->shock))
        return cli_usage("contagion", "--cascade needs --book and --shock");
    return 0;
}

/* --default A,B: entity indexes. */
static int parse_defaults(const args *a, const xcr_network *net,
                          size_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!a->defaults)
        return 0;
    size_t cap = 1;
    for (const char *p = a->defaults; *p; p++)
        cap += *p == ',';
    size_t *ids = malloc(cap * sizeof *ids);
    char *copy = strdup(a->defaults);
    if (!ids || !copy) {
        free(ids);
        free(copy);
        fprintf(stderr, "xcr: out of memory\n");
        return XCR_EXIT_FAIL;
    }
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        long k = xcr_network_find_entity(net, t);
        if (k < 0) {
            fprintf(stderr, "xcr: --default: unknown entity \"%.64s\" in %s\n",
                    t, a->net_path);
            free(ids);
            free(copy);
            return XCR_EXIT_INPUT;
        }
        ids[(*n)++] = (size_t)k;
    }
    free(copy);
    if (*n == 0) {
        free(ids);
        return cli_usage("contagion", "--default needs entity ids");
    }
    *out = ids;
    return 0;
}

/* --shock SYM=MOVE,...: start prices from the book's. */
static int parse_shock(const char *spec, const xcr_book *b, double *prices)
{
    size_t na = xcr_book_asset_count(b);
    for (size_t k = 0; k < na; k++)
        prices[k] = xcr_book_asset_price(b, k);
    if (!spec)
        return 0;
    char *copy = strdup(spec);
    if (!copy)
        return XCR_EXIT_FAIL;
    char *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc;
         t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        double mv;
        if (!eq || !cli_parse_num(eq + 1, &mv) || !(mv > -1)) {
            rc = cli_usage("contagion", "--shock needs SYM=MOVE with MOVE > "
                                        "-1 (got '%s')",
                           t);
            break;
        }
        *eq = '\0';
        long a = xcr_book_find_asset(b, t);
        if (a < 0) {
            fprintf(stderr, "xcr: --shock: unknown asset \"%.64s\" in the "
                            "book\n",
                    t);
            rc = XCR_EXIT_INPUT;
            break;
        }
        prices[a] = xcr_book_asset_price(b, (size_t)a) * (1 + mv);
    }
    free(copy);
    return rc;
}

/* --cascade: the book's cascade under the same shock; its final prices and
 * the bad debt at each entity's accounts feed the contagion run. */
static int run_cascade(const args *a, const xcr_network *net,
                       const xcr_book *book, double *prices, double **loss)
{
    xcr_error err = {0};
    xcr_cascade_opts co;
    xcr_cascade *c = NULL;
    size_t nb = xcr_book_asset_count(book);
    double *moves = malloc((nb + 1) * sizeof *moves);
    *loss = malloc((xcr_network_entity_count(net) + 1) * sizeof **loss);
    xcr_status s = !moves || !*loss ? XCR_ENOMEM : XCR_OK;
    if (s == XCR_OK &&
        (s = xcr_cascade_opts_init(book, &co, &err)) == XCR_OK) {
        co.trace_accounts = 1;
        co.threads = a->threads;
        if ((s = xcr_cascade_new(book, &co, &c, &err)) == XCR_OK &&
            (s = xcr_cascade_parse_shock(book, a->shock, moves, &err)) ==
                XCR_OK &&
            (s = xcr_cascade_shock(c, moves, NULL, &err)) == XCR_OK &&
            (s = xcr_cascade_run(c, &err)) == XCR_OK)
            s = xcr_contagion_cascade_inputs(net, c, prices, *loss, &err);
    }
    xcr_cascade_free(c);
    free(moves);
    return s == XCR_OK ? 0 : cli_report(&err, s);
}

int cmd_contagion(int argc, char **argv)
{
    args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? XCR_EXIT_OK : rc;

    xcr_error err = {0};
    xcr_network *net = NULL;
    xcr_book *book = NULL;
    size_t *defaults = NULL, ndef = 0, n = 0, nacc = 0;
    double *prices = NULL, *final_prices = NULL, *sold = NULL;
    double *rv = NULL, *rl = NULL, *ext_loss = NULL;
    xcr_entity_result *res = NULL, *res0 = NULL;
    xcr_entity_rank *ranks = NULL;
    xcr_venue_account *accts = NULL;
    xcr_contagion_summary sum, sum0;
    xcr_status s = xcr_network_load(a.net_path, &net, &err);
    if (s != XCR_OK) {
        rc = cli_report(&err, s);
        goto done;
    }
    if (a.book_path) {
        if ((s = xcr_book_load(a.book_path, XCR_FORMAT_AUTO, NULL, &book,
                               &err)) != XCR_OK ||
            (s = xcr_network_bind_book(net, book, &err)) != XCR_OK) {
            rc = cli_report(&err, s);
            goto done;
        }
        size_t nb = xcr_book_asset_count(book);
        prices = malloc((nb + 1) * sizeof *prices);
        final_prices = malloc((nb + 1) * sizeof *final_prices);
        sold = malloc((nb + 1) * sizeof *sold);
        if (!prices || !final_prices || !sold) {
            rc = cli_report(NULL, XCR_ENOMEM);
            goto done;
        }
        if ((rc = parse_shock(a.shock, book, prices)) != 0)
            goto done;
        a.o.start_prices = prices;
        if (a.cascade && (rc = run_cascade(&a, net, book, prices,
                                           &ext_loss)) != 0)
            goto done;
        a.o.external_loss = ext_loss;
        nacc = xcr_book_account_count(book);
    }
    if ((rc = parse_defaults(&a, net, &defaults, &ndef)) != 0)
        goto done;
    a.o.defaults = defaults;
    a.o.ndefaults = ndef;
    if (a.firewall) {
        a.o.firewall = xcr_network_find_entity(net, a.firewall);
        if (a.o.firewall < 0) {
            fprintf(stderr, "xcr: --firewall: unknown entity \"%.64s\" in "
                            "%s\n",
                    a.firewall, a.net_path);
            rc = XCR_EXIT_INPUT;
            goto done;
        }
    }
    n = xcr_network_entity_count(net);
    size_t nr = xcr_network_rehypothecation_count(net);
    res = malloc((n + 1) * sizeof *res);
    res0 = malloc((n + 1) * sizeof *res0);
    rv = malloc((nr + 1) * sizeof *rv);
    rl = malloc((nr + 1) * sizeof *rl);
    if (!res || !res0 || !rv || !rl) {
        rc = cli_report(NULL, XCR_ENOMEM);
        goto done;
    }
    xcr_contagion_extra extra = {final_prices, sold, rv, rl};
    if (a.o.firewall >= 0) {
        /* the run without the firewall, to report what it saves */
        xcr_contagion_opts base = a.o;
        base.firewall = -1;
        if ((s = xcr_contagion_run(net, &base, res0, &sum0, NULL, &err)) !=
            XCR_OK) {
            rc = cli_report(&err, s);
            goto done;
        }
    }
    if ((s = xcr_contagion_run(net, &a.o, res, &sum, &extra, &err)) !=
        XCR_OK) {
        rc = cli_report(&err, s);
        goto done;
    }
    if (book) {
        accts = malloc((nacc + 1) * sizeof *accts);
        if (!accts) {
            rc = cli_report(NULL, XCR_ENOMEM);
            goto done;
        }
        if ((s = xcr_venue_failure(net, res, final_prices, accts, &err)) !=
            XCR_OK) {
            rc = cli_report(&err, s);
            goto done;
        }
    }
    if (a.rank) {
        ranks = malloc((n + 1) * sizeof *ranks);
        if (!ranks) {
            rc = cli_report(NULL, XCR_ENOMEM);
            goto done;
        }
        if ((s = xcr_contagion_rank(net, &a.o, a.threads, ranks, &err)) !=
            XCR_OK) {
            rc = cli_report(&err, s);
            goto done;
        }
    }
    if (a.dot) {
        FILE *f = fopen(a.dot, "w");
        if (!f) {
            fprintf(stderr, "xcr: %s: cannot write\n", a.dot);
            rc = XCR_EXIT_INPUT;
            goto done;
        }
        s = xcr_contagion_dot(net, res, f, &err);
        if (fclose(f) != 0 || s != XCR_OK) {
            remove(a.dot);
            fprintf(stderr, "xcr: %s: write error\n", a.dot);
            rc = XCR_EXIT_FAIL;
            goto done;
        }
    }
    xcr_contagion_report rep = {net,   &a.o,  res,   &sum,        &extra,
                                prices, accts, ranks, a.o.firewall,
                                a.o.firewall >= 0 ? &sum0 : NULL, ext_loss};
    if ((s = xcr_contagion_write(&rep, a.format, stdout, &err)) != XCR_OK)
        rc = cli_report(&err, s);
    else
        rc = XCR_EXIT_OK;
done:
    free(defaults);
    free(ext_loss);
    free(prices);
    free(final_prices);
    free(sold);
    free(rv);
    free(rl);
    free(res);
    free(res0);
    free(ranks);
    free(accts);
    xcr_network_free(net);
    xcr_book_free(book);
    return rc;
}
