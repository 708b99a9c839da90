/* xcr demo [--accounts N] [--seed S] [--positions P] [-o OUT] */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void help(void)
{
    printf("usage: xcr demo [--accounts N] [--seed S] [--positions P] "
           "[-o OUT]\n\n"
           "Write a seeded synthetic exchange book: a dozen assets with tiered "
           "haircuts,\nperps, futures and options, cross/isolated/lending "
           "accounts with heavy-tailed\nsizes, some close to liquidation.  "
           "OUT's form follows its name: *.json,\n*.db/*.sqlite, anything "
           "else a CSV folder.  Without -o, JSON goes to stdout.\n\n"
           "  --accounts N    number of accounts (default 1000)\n"
           "  --seed S        random seed (default 1)\n"
           "  --positions P   mean positions per trading account (default "
           "3)\n"
           "  -o OUT          output path\n");
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"accounts", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"positions", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    xcr_demo_opts o = {1000, 1, 3.0};
    const char *out = NULL;
    unsigned long long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:s:p:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_size(optarg, &v) || v < 1 || v > 100000000ULL)
                return cli_usage("demo", "--accounts needs 1..100000000");
            o.accounts = (size_t)v;
            break;
        case 's':
            if (!cli_parse_size(optarg, &v))
                return cli_usage("demo", "--seed needs a non-negative "
                                         "integer");
            o.seed = (uint64_t)v;
            break;
        case 'p': {
            char *end;
            double p = strtod(optarg, &end);
            if (*end || !(p >= 0 && p <= 64))
                return cli_usage("demo", "--positions needs 0..64");
            o.positions_per_account = p;
            break;
        }
        case 'o':
            out = optarg;
            break;
        case 'h':
            help();
            return XCR_EXIT_OK;
        default:
            return cli_usage("demo", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage("demo", "unexpected argument '%s'", argv[optind]);
    xcr_error err = {0};
    xcr_book *book = NULL;
    xcr_status s = xcr_demo_book(&o, NULL, &book, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    if (out) {
        s = xcr_book_save(book, out, XCR_FORMAT_AUTO, &err);
    } else {
        char *text = NULL;
        s = xcr_book_to_json_text(book, &text, &err);
        if (s == XCR_OK)
            fputs(text, stdout);
        free(text);
    }
    xcr_book_free(book);
    return s == XCR_OK ? XCR_EXIT_OK : cli_report(&err, s);
}
