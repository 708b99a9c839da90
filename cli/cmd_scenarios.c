/* xcr scenarios [--format table|json|csv] — the built-in scenario library
 * (spec §5: JSON {"scenarios": [{"name": ..., "moves": {...}}]}). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(void)
{
    printf("usage: xcr scenarios [--format table|json|csv]\n\n"
           "List the built-in stress scenarios: historical crash days with "
           "their moves\n(day high-to-low, multi-day window peak-to-trough "
           "or close-to-close),\nliquidity multipliers, depegs, events and "
           "sources (scenarios-and-data.md).\nRun one with 'xcr stress BOOK "
           "--scenario NAME'.  The JSON and CSV forms can\nbe edited and "
           "read back with 'xcr stress BOOK --scenario FILE'.\n");
}

int cmd_scenarios(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    xcr_out_format format = XCR_OUT_TABLE;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!cli_parse_format(optarg, &format))
                return cli_usage("scenarios", "unknown format '%s'", optarg);
            break;
        case 'h':
            help();
            return XCR_EXIT_OK;
        default:
            return cli_usage("scenarios", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage("scenarios", "unexpected argument '%s'",
                         argv[optind]);
    xcr_error err = {0};
    xcr_status s = xcr_builtin_scenarios_write(format, stdout, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    return fflush(stdout) == 0 ? XCR_EXIT_OK : XCR_EXIT_FAIL;
}
