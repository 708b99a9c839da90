/* xcr stress [BOOK] (--scenario NAME|FILE | --grid SPEC | --lar | --mc N |
 *                    --fhs N | --exposure) [options]            (spec §5) */
#include "cli.h"
#include "mpi_stress.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void help(void)
{
    printf(
        "usage: xcr stress [BOOK] MODE [options]\n\n"
        "Revalue every account of BOOK (default: the built-in demo book) "
        "under stress\nscenarios and report who is liquidated, the fall in "
        "equity (loss) and the bad\ndebt beyond collateral (shortfall = sum "
        "of max(0, -equity)).\n\n"
        "modes (one of):\n"
        "  --scenario NAME|FILE  a built-in scenario (see 'xcr scenarios'; "
        "'all' runs\n"
        "                        the library) or a JSON/CSV scenario file; "
        "repeatable\n"
        "  --grid SPEC           FROM:TO:STEP: uniform shocks of all "
        "non-stable assets\n"
        "                        (e.g. -0.6:0.2:0.05), or per-asset axes\n"
        "                        SYM=FROM:TO:STEP[,SYM=FROM:TO:STEP] (a 2-D "
        "grid)\n"
        "  --lar                 liquidations-at-risk curve: uniform shocks 0 "
        "to -60 %%\n"
        "                        (--lar-step S, default 0.05; --lar-max M, "
        "default 0.6)\n"
        "  --mc N                N correlated Monte Carlo scenarios\n"
        "  --fhs N               N filtered-historical-simulation scenarios "
        "(needs --history)\n"
        "  --exposure            gross/net exposure, concentration, market "
        "depth, loops\n\n"
        "Monte Carlo and historical simulation:\n"
        "  --dist normal|t       copula (default normal)\n"
        "  --df NU               degrees of freedom of the t copula (default "
        "4)\n"
        "  --marginals t|normal  marginals of the t copula (default t, unit "
        "variance)\n"
        "  --corr FILE           correlation matrix (CSV or JSON); default: "
        "the book's\n"
        "                        settings.correlation, then the shipped "
        "2021-2025 matrix\n"
        "  --history PATH        daily closes: a wide CSV or a directory of "
        "<SYM>USDT_1d.csv\n"
        "                        files; estimates the correlation (MC) or "
        "drives --fhs\n"
        "  --window DAYS         use the last DAYS of history (default all)\n"
        "  --vol-source S        book (default) or history (MC vols from "
        "--history)\n"
        "  --repair              replace a matrix that is not positive "
        "definite by the\n"
        "                        nearest correlation matrix (Higham 2002)\n"
        "  --horizon DAYS        horizon; vols scale by sqrt(DAYS/365) "
        "(default 1)\n"
        "  --lambda L            EWMA decay of --fhs (default 0.94)\n"
        "  --seed S              random seed (default 1)\n\n"
        "scenarios:\n"
        "  --beta RULE           assets a scenario does not name: crash "
        "(default: beta =\n"
        "                        the scenario's crash-day ratio to BTC), "
        "regression, zero,\n"
        "                        or a number (a fixed beta to BTC)\n"
        "  --vol-shift X         add X (absolute vol points) to the implied "
        "vol of every\n"
        "                        non-stable asset in every scenario\n\n"
        "output:\n"
        "  --format F            table (default), json (spec §5) or csv\n"
        "  --accounts N|all      per-account rows (JSON/table; default: the "
        "liquidated\n"
        "                        accounts of one scenario, the 100 most at "
        "risk for MC)\n"
        "  --per-account         CSV: one row per account instead of per "
        "scenario\n"
        "  --top N               exposure: top-N holders per asset (default "
        "5)\n"
        "  --threads T           worker threads (default: all cores); "
        "results do not\n"
        "                        depend on T\n"
        "  --gpu                 evaluate on the GPU (CUDA builds; same "
        "results; exit 2\n"
        "                        when there is no GPU back end or device)\n\n"
        "Under mpirun (builds with MPI) the scenarios are shared out among "
        "the ranks\nand rank 0 prints exactly what one process would "
        "(docs/performance.md).\n"
        "A progress bar is drawn on stderr when it is a terminal.  Exit "
        "status: 0 ok,\n2 bad input (a located message on stderr), 1 "
        "internal failure.\n");
}

/* Progress of scenario-account evaluations (stderr, terminals only). */
typedef struct prog {
    struct timespec last;
    int drawn;
} prog;

static void progress(void *ctx, size_t done, size_t total)
{
    prog *p = ctx;
    if (!isatty(2))
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - p->last.tv_sec) +
                1e-9 * (double)(now.tv_nsec - p->last.tv_nsec);
    if (done < total && dt < 0.1)
        return;
    if (done >= total && !p->drawn)
        return; /* a run too short to need a bar */
    p->last = now;
    p->drawn = 1;
    double frac = total ? (double)done / (double)total : 1.0;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\rstress [%s] %3.0f%%  %.3g / %.3g evaluations\033[K",
            bar, 100 * frac, (double)done, (double)total);
    if (done >= total)
        fputc('\n', stderr);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

enum {
    O_SCEN = 1000, O_GRID, O_LAR, O_LAR_STEP, O_LAR_MAX, O_MC, O_FHS,
    O_EXPOSURE, O_DIST, O_DF, O_MARG, O_CORR, O_HIST, O_WINDOW, O_VOLSRC,
    O_REPAIR, O_HORIZON, O_LAMBDA, O_SEED, O_BETA, O_VOLSHIFT, O_FORMAT,
    O_ACCOUNTS, O_PERACC, O_TOP, O_THREADS, O_GPU, O_HELP
};

#define MAX_SCEN_ARGS 64

int cmd_stress(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scenario", required_argument, NULL, O_SCEN},
        {"grid", required_argument, NULL, O_GRID},
        {"lar", no_argument, NULL, O_LAR},
        {"lar-step", required_argument, NULL, O_LAR_STEP},
        {"lar-max", required_argument, NULL, O_LAR_MAX},
        {"mc", required_argument, NULL, O_MC},
        {"fhs", required_argument, NULL, O_FHS},
        {"exposure", no_argument, NULL, O_EXPOSURE},
        {"dist", required_argument, NULL, O_DIST},
        {"df", required_argument, NULL, O_DF},
        {"marginals", required_argument, NULL, O_MARG},
        {"corr", required_argument, NULL, O_CORR},
        {"history", required_argument, NULL, O_HIST},
        {"window", required_argument, NULL, O_WINDOW},
        {"vol-source", required_argument, NULL, O_VOLSRC},
        {"repair", no_argument, NULL, O_REPAIR},
        {"horizon", required_argument, NULL, O_HORIZON},
        {"lambda", required_argument, NULL, O_LAMBDA},
        {"seed", required_argument, NULL, O_SEED},
        {"beta", required_argument, NULL, O_BETA},
        {"vol-shift", required_argument, NULL, O_VOLSHIFT},
        {"format", required_argument, NULL, O_FORMAT},
        {"accounts", required_argument, NULL, O_ACCOUNTS},
        {"per-account", no_argument, NULL, O_PERACC},
        {"top", required_argument, NULL, O_TOP},
        {"threads", required_argument, NULL, O_THREADS},
        {"gpu", no_argument, NULL, O_GPU},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    const char *scen[MAX_SCEN_ARGS];
    size_t nscen = 0;
    const char *grid = NULL, *corr_path = NULL, *hist_path = NULL;
    int lar = 0, exposure = 0, repair = 0, per_account = 0, accounts_set = 0;
    int vol_hist = 0, t_marg_normal = 0, use_gpu = 0;
    double lar_step = 0.05, lar_max = 0.6, df = 4, horizon = 1,
           lambda = 0.94, vol_shift = 0;
    unsigned long long mc = 0, fhs = 0, seed = 1, window = 0, threads = 0,
                       top = 5, ull;
    size_t accounts = 0;
    xcr_mc_dist dist = XCR_MC_NORMAL;
    xcr_unlisted rule = {XCR_UNLISTED_CRASH_RATIO, 0};
    xcr_out_format format = XCR_OUT_TABLE;
    int modes = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        double v;
        switch (c) {
        case O_SCEN:
            if (nscen == MAX_SCEN_ARGS)
                return cli_usage("stress", "at most %d --scenario options",
                                 MAX_SCEN_ARGS);
            if (nscen == 0)
                modes++;
            scen[nscen++] = optarg;
            break;
        case O_GRID:
            grid = optarg;
            modes++;
            break;
        case O_LAR:
            lar = 1;
            modes++;
            break;
        case O_LAR_STEP:
            if (!cli_parse_num(optarg, &lar_step) || !(lar_step > 0) ||
                lar_step > 1)
                return cli_usage("stress", "--lar-step needs a number in "
                                           "(0, 1]");
            break;
        case O_LAR_MAX:
            if (!cli_parse_num(optarg, &lar_max) || !(lar_max > 0) ||
                !(lar_max < 1))
                return cli_usage("stress", "--lar-max needs a number in "
                                           "(0, 1)");
            break;
        case O_MC:
            if (!cli_parse_size(optarg, &mc) || mc == 0 || mc > 100000000)
                return cli_usage("stress", "--mc needs a number of scenarios "
                                           "in 1..100000000");
            modes++;
            break;
        case O_FHS:
            if (!cli_parse_size(optarg, &fhs) || fhs == 0 ||
                fhs > 100000000)
                return cli_usage("stress", "--fhs needs a number of "
                                           "scenarios in 1..100000000");
            modes++;
            break;
        case O_EXPOSURE:
            exposure = 1;
            modes++;
            break;
        case O_DIST:
            if (strcmp(optarg, "normal") == 0 || strcmp(optarg, "gaussian") == 0)
                dist = XCR_MC_NORMAL;
            else if (strcmp(optarg, "t") == 0)
                dist = XCR_MC_T;
            else
                return cli_usage("stress", "--dist must be normal or t");
            break;
        case O_DF:
            if (!cli_parse_num(optarg, &df) || !(df > 0))
                return cli_usage("stress", "--df needs a number > 0");
            break;
        case O_MARG:
            if (strcmp(optarg, "t") == 0)
                t_marg_normal = 0;
            else if (strcmp(optarg, "normal") == 0)
                t_marg_normal = 1;
            else
                return cli_usage("stress", "--marginals must be t or normal");
            break;
        case O_CORR:
            corr_path = optarg;
            break;
        case O_HIST:
            hist_path = optarg;
            break;
        case O_WINDOW:
            if (!cli_parse_size(optarg, &window) || window < 31)
                return cli_usage("stress", "--window needs a number of days "
                                           ">= 31");
            break;
        case O_VOLSRC:
            if (strcmp(optarg, "book") == 0)
                vol_hist = 0;
            else if (strcmp(optarg, "history") == 0)
                vol_hist = 1;
            else
                return cli_usage("stress", "--vol-source must be book or "
                                           "history");
            break;
        case O_REPAIR:
            repair = 1;
            break;
        case O_HORIZON:
            if (!cli_parse_num(optarg, &horizon) || !(horizon > 0) ||
                horizon > 3650)
                return cli_usage("stress", "--horizon needs a number of days "
                                           "in (0, 3650]");
            break;
        case O_LAMBDA:
            if (!cli_parse_num(optarg, &lambda) || !(lambda > 0) ||
                !(lambda < 1))
                return cli_usage("stress", "--lambda needs a number in "
                                           "(0, 1)");
            break;
        case O_SEED:
            if (!cli_parse_size(optarg, &seed))
                return cli_usage("stress", "--seed needs a non-negative "
                                           "integer");
            break;
        case O_BETA:
            if (strcmp(optarg, "crash") == 0 ||
                strcmp(optarg, "crash_ratio") == 0)
                rule.rule = XCR_UNLISTED_CRASH_RATIO;
            else if (strcmp(optarg, "regression") == 0)
                rule.rule = XCR_UNLISTED_REGRESSION;
            else if (strcmp(optarg, "zero") == 0)
                rule.rule = XCR_UNLISTED_ZERO;
            else if (cli_parse_num(optarg, &v)) {
                rule.rule = XCR_UNLISTED_FIXED;
                rule.beta = v;
            } else
                return cli_usage("stress", "--beta must be crash, "
                                           "regression, zero or a number");
            break;
        case O_VOLSHIFT:
            if (!cli_parse_num(optarg, &vol_shift))
                return cli_usage("stress", "--vol-shift needs a number");
            break;
        case O_FORMAT:
            if (!cli_parse_format(optarg, &format))
                return cli_usage("stress", "unknown format '%s'", optarg);
            break;
        case O_ACCOUNTS:
            if (strcmp(optarg, "all") == 0)
                accounts = (size_t)-1;
            else if (cli_parse_size(optarg, &ull))
                accounts = (size_t)ull;
            else
                return cli_usage("stress", "--accounts needs a number or "
                                           "'all'");
            accounts_set = 1;
            break;
        case O_PERACC:
            per_account = 1;
            break;
        case O_TOP:
            if (!cli_parse_size(optarg, &top) || top == 0 || top > 1000)
                return cli_usage("stress", "--top needs 1..1000");
            break;
        case O_THREADS:
            if (!cli_parse_size(optarg, &threads) || threads > 256)
                return cli_usage("stress", "--threads needs 0..256");
            break;
        case O_GPU:
            use_gpu = 1;
            break;
        case O_HELP:
        case 'h':
            help();
            return XCR_EXIT_OK;
        default:
            return cli_usage("stress", "bad option");
        }
    }
    if (argc - optind > 1)
        return cli_usage("stress", "too many arguments");
    if (modes != 1)
        return cli_usage("stress",
                         "choose exactly one of --scenario, --grid, --lar, "
                         "--mc, --fhs, --exposure");
    if (fhs && !hist_path)
        return cli_usage("stress", "--fhs needs --history PATH");
    if (vol_hist && !hist_path)
        return cli_usage("stress", "--vol-source history needs --history");
    /* resolve --scenario arguments before loading the book */
    for (size_t i = 0; i < nscen; i++)
        if (strcmp(scen[i], "all") != 0 &&
            !xcr_builtin_scenario_find(scen[i]) && !is_file(scen[i])) {
            fprintf(stderr,
                    "xcr: --scenario %s: neither a built-in scenario nor a "
                    "readable file (run 'xcr scenarios' for the library)\n",
                    scen[i]);
            return XCR_EXIT_INPUT;
        }
    const char *path = optind < argc ? argv[optind] : NULL;
    const char *book_name = path ? path : "demo book";
    /* under mpirun: join the job (every rank builds the same book and
     * scenarios; cli/mpi_stress.c shards the evaluation) */
    if (!cli_mpi_begin()) {
        fprintf(stderr, "xcr: MPI_Init failed\n");
        return XCR_EXIT_FAIL;
    }

    xcr_error err = {0};
    xcr_book *book = NULL;
    xcr_market *mkt = NULL;
    xcr_scenarios *set = NULL;
    xcr_corr *corr = NULL;
    xcr_history *hist = NULL;
    xcr_stress_result *res = NULL;
    xcr_exposure *expo = NULL;
    double *vols = NULL;
    int rc = XCR_EXIT_OK;
    xcr_status s = cli_load_book(path, &book, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    if ((s = xcr_market_new(book, &mkt)) != XCR_OK) {
        rc = cli_report(NULL, s);
        goto out;
    }
    if (exposure) {
        xcr_exposure_opts eo = {(int)threads, (size_t)top, 2.0};
        s = xcr_exposure_compute(mkt, &eo, &expo, &err);
        if (s == XCR_OK)
            s = xcr_exposure_report(expo, format, stdout, &err);
        rc = s == XCR_OK ? XCR_EXIT_OK : cli_report(&err, s);
        goto out;
    }
    if ((s = xcr_scenarios_new(book, &set)) != XCR_OK) {
        rc = cli_report(NULL, s);
        goto out;
    }
    size_t na = xcr_book_asset_count(book);
    if (hist_path) {
        /* the book's symbols and the assets they wrap */
        const char **syms = calloc(2 * na + 1, sizeof *syms);
        size_t ns = 0;
        if (!syms) {
            rc = cli_report(NULL, XCR_ENOMEM);
            goto out;
        }
        for (size_t a = 0; a < na; a++) {
            if (xcr_book_asset_stable(book, a))
                continue;
            syms[ns++] = xcr_book_asset_symbol(book, a);
            const char *b = xcr_asset_base(xcr_book_asset_symbol(book, a));
            for (int d = 0; b && d < 6; d++, b = xcr_asset_base(b))
                if (ns < 2 * na)
                    syms[ns++] = b;
        }
        syms[ns++] = "BTC";
        s = xcr_history_load(hist_path, syms, ns, &hist, &err);
        free(syms);
        if (s != XCR_OK) {
            rc = cli_report(&err, s);
            goto out;
        }
    }
    for (size_t i = 0; i < nscen && s == XCR_OK; i++) {
        if (strcmp(scen[i], "all") == 0 || xcr_builtin_scenario_find(scen[i]))
            s = xcr_scenarios_add_builtin(set, scen[i], &rule, &err);
        else
            s = xcr_scenarios_load_file(set, scen[i], &rule, &err);
    }
    if (s == XCR_OK && grid)
        s = xcr_scenarios_add_grid(set, grid, &err);
    if (s == XCR_OK && lar)
        s = xcr_scenarios_add_uniform(set, 0, -lar_max, -lar_step, &err);
    if (s == XCR_OK && mc) {
        xcr_mc_opts mo;
        memset(&mo, 0, sizeof mo);
        mo.n = (size_t)mc;
        mo.seed = seed;
        mo.dist = dist;
        mo.df = df;
        mo.normal_marginals = t_marg_normal;
        mo.horizon_days = horizon;
        mo.repair = repair;
        if (corr_path)
            s = xcr_corr_load(corr_path, &corr, &err);
        else if (hist)
            s = xcr_history_corr(hist, (size_t)window, &corr, &err);
        else {
            s = xcr_corr_from_book(book, book_name, &corr, &err);
            if (s == XCR_ENOTFOUND) {
                s = XCR_OK;
                err.msg[0] = '\0';
            }
        }
        if (s == XCR_OK && vol_hist) {
            vols = calloc(na ? na : 1, sizeof *vols);
            if (!vols)
                s = XCR_ENOMEM;
            /* the history's vol where it has the asset, else the book's */
            for (size_t a = 0; vols && a < na; a++) {
                vols[a] = NAN;
                const char *sym = xcr_book_asset_symbol(book, a);
                for (size_t k = 0; k < xcr_history_assets(hist); k++)
                    if (strcasecmp(xcr_history_symbol(hist, k), sym) == 0)
                        vols[a] = xcr_history_vol(hist, k, (size_t)window);
                if (!(vols[a] >= 0))
                    vols[a] = NAN;
            }
            mo.vols = vols;
        }
        mo.corr = corr;
        if (s == XCR_OK)
            s = xcr_scenarios_add_mc(set, &mo, &err);
    }
    if (s == XCR_OK && fhs) {
        xcr_fhs_opts fo = {(size_t)fhs, seed, (unsigned)(horizon + 0.5),
                           lambda, (size_t)window};
        if (fo.horizon_days == 0)
            fo.horizon_days = 1;
        s = xcr_scenarios_add_fhs(set, hist, &fo, &err);
    }
    if (s == XCR_OK && vol_shift != 0)
        s = xcr_scenarios_shift_vols(set, vol_shift, &err);
    if (s != XCR_OK) {
        rc = cli_report(&err, s);
        goto out;
    }

    xcr_stress_opts so;
    xcr_stress_opts_init(&so);
    so.threads = (int)threads;
    prog pg;
    memset(&pg, 0, sizeof pg);
    clock_gettime(CLOCK_MONOTONIC, &pg.last);
    so.progress = progress;
    so.progress_ctx = &pg;
    s = use_gpu ? xcr_stress_run_gpu(mkt, set, &so, NULL, &res, &err)
                : cli_mpi_stress_run(mkt, set, &so, &res, &err);
    if (s != XCR_OK) {
        /* no GPU when --gpu was asked for: a usage problem (exit 2) */
        rc = s == XCR_ENODEV ? (cli_report(&err, s), XCR_EXIT_INPUT)
                             : cli_report(&err, s);
        goto out;
    }
    if (!res) /* an MPI rank other than 0: rank 0 reports */
        goto out;
    xcr_stress_report_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.format = format;
    ro.per_account = per_account;
    ro.lar_curve = lar;
    ro.book_name = book_name;
    if (accounts_set)
        ro.accounts = accounts;
    else if (mc || fhs)
        ro.accounts = format == XCR_OUT_TABLE ? 10 : 100;
    else
        ro.accounts = xcr_scenarios_count(set) == 1 ? (size_t)-1 : 0;
    s = xcr_stress_report(res, &ro, stdout, &err);
    rc = s == XCR_OK ? XCR_EXIT_OK : cli_report(&err, s);
out:
    xcr_stress_result_free(res);
    xcr_exposure_free(expo);
    xcr_scenarios_free(set);
    xcr_corr_free(corr);
    xcr_history_free(hist);
    free(vols);
    xcr_market_free(mkt);
    xcr_book_free(book);
    if (rc == XCR_EXIT_OK && fflush(stdout) != 0)
        rc = XCR_EXIT_FAIL;
    return rc;
}
