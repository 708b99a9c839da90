/* xcr margin [BOOK] [--account ID] [--format table|json|csv] (spec §2, §5) */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void help(void)
{
    printf("usage: xcr margin [BOOK] [--account ID] [--format table|json|csv]\n"
           "                  [--threads T] [--no-liquidation]\n\n"
           "Margin and health of every account (or one): equity, collateral "
           "after\nhaircuts, initial and maintenance margin, health, status, "
           "liquidation\nprices per exposed asset and the uniform liquidation "
           "shock.\n"
           "Without BOOK the built-in demo book (1,000 accounts) is used.\n\n"
           "  --account ID       report one account\n"
           "  --format F         table (default), json (spec §2) or csv\n"
           "  --threads T        worker threads (default: all cores)\n"
           "  --no-liquidation   skip liquidation prices and shocks\n");
}

int cmd_margin(int argc, char **argv)
{
    static const struct option opts[] = {
        {"account", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"threads", required_argument, NULL, 't'},
        {"no-liquidation", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *account = NULL;
    xcr_margin_report_opts ro = {XCR_OUT_TABLE, -1, 0, 1, NULL, NULL};
    unsigned long long threads = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:f:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            account = optarg;
            break;
        case 'f':
            if (!cli_parse_format(optarg, &ro.format))
                return cli_usage("margin", "unknown format '%s'", optarg);
            break;
        case 't':
            if (!cli_parse_size(optarg, &threads) || threads > 256)
                return cli_usage("margin", "--threads needs 0..256");
            ro.threads = (int)threads;
            break;
        case 'n':
            ro.liquidation = 0;
            break;
        case 'h':
            help();
            return XCR_EXIT_OK;
        default:
            return cli_usage("margin", "bad option");
        }
    }
    if (argc - optind > 1)
        return cli_usage("margin", "too many arguments");
    const char *path = optind < argc ? argv[optind] : NULL;

    xcr_error err = {0};
    xcr_book *book = NULL;
    xcr_market *mkt = NULL;
    xcr_status s = cli_load_book(path, &book, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    if (account) {
        long i = xcr_book_find_account(book, account);
        if (i < 0) {
            fprintf(stderr, "xcr: %s: unknown account \"%s\"\n",
                    path ? path : "demo book", account);
            xcr_book_free(book);
            return XCR_EXIT_INPUT;
        }
        ro.account = i;
    }
    if ((s = xcr_market_new(book, &mkt)) != XCR_OK) {
        xcr_book_free(book);
        return cli_report(NULL, s);
    }
    struct timespec last = {0, 0};
    ro.progress = cli_progress;
    ro.progress_ctx = &last;
    s = xcr_margin_report(mkt, &ro, stdout, &err);
    xcr_market_free(mkt);
    xcr_book_free(book);
    if (s != XCR_OK)
        return cli_report(&err, s);
    return fflush(stdout) == 0 ? XCR_EXIT_OK : XCR_EXIT_FAIL;
}
