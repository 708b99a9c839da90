/* xcr — command-line entry point: dispatch to subcommands. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} commands[] = {
    {"margin", cmd_margin,
     "margin, health, status and liquidation prices per account"},
    {"explain", cmd_explain, "a plain-language breakdown of one account"},
    {"demo", cmd_demo, "write a seeded synthetic exchange book"},
    {"convert", cmd_convert, "convert a book between JSON, CSV and SQLite"},
    {"stress", cmd_stress,
     "stress scenarios, grids, Monte Carlo VaR/ES, exposure report"},
    {"scenarios", cmd_scenarios, "list the built-in stress scenarios"},
    {"cascade", cmd_cascade,
     "liquidation cascade: forced sales, price impact, bad debt"},
    {"contagion", cmd_contagion,
     "network contagion: clearing, DebtRank, fire sales, venue failure"},
    {"serve", cmd_serve,
     "live margin monitor: HTTP API, alerts, durable state"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "xcr %s — cross-collateralization risk engine\n\n"
            "usage: xcr COMMAND [ARGS...]\n\ncommands:\n",
            xcr_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nBOOK is a book JSON file, a folder of CSV tables or a SQLite "
            "database;\nwithout BOOK, commands use the built-in demo book "
            "(1,000 accounts).\n"
            "Run 'xcr COMMAND --help' for a command's options.\n"
            "Exit status: 0 success, 2 bad input or usage, 1 internal "
            "failure.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return XCR_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return XCR_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("xcr %s\n", xcr_version_string());
        return XCR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "xcr: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return XCR_EXIT_INPUT;
}
