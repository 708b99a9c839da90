/* xcr serve [BOOK] [--db FILE.db | --pg URI] [--listen ADDR:PORT]
 *           [--token-file F] [--auth-reads] [--ticks -] ...   (docs/serve.md) */
#include "../server/serve.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: xcr serve [BOOK] [--db FILE.db | --pg URI] "
           "[--listen ADDR:PORT]\n"
           "                 [--token-file F] [--auth-reads] [--ticks -] "
           "[--levels L,L,...]\n\n"
           "Live margin monitor: holds every account in memory, recomputes "
           "only the\naccounts a price tick touches, raises alerts on status "
           "transitions and\nhealth-level crossings, and serves the JSON API "
           "of docs/serve.md.\n"
           "BOOK with a new database imports it; an existing database "
           "resumes its\nstate; no BOOK and no database serves the demo "
           "book.\n\n"
           "  --db FILE.db       SQLite state file (WAL; every update durable "
           "before\n                     its reply)\n"
           "  --pg URI           PostgreSQL state instead (libpq builds)\n"
           "  --listen A:P       address and port (default 127.0.0.1:8080)\n"
           "  --token-file F     bearer token for writes (default: a random "
           "one,\n                     printed on stderr)\n"
           "  --auth-reads       reads need the token too\n"
           "  --ticks -          also read JSON tick lines from stdin\n"
           "  --levels L,...     health levels that alert when crossed "
           "(default\n                     1.5,1.2,1.1)\n"
           "  --accounts N       demo book size (default 1000)\n"
           "  --threads T        recompute threads (default: all cores)\n"
           "  --http-threads N   HTTP worker threads (default 32)\n"
           "  --max-body BYTES   request size limit (default 1048576)\n"
           "  --overlay-max N    compact after N upserted accounts "
           "(default 4096)\n");
}

int cmd_serve(int argc, char **argv)
{
    enum { O_DB = 256, O_PG, O_LISTEN, O_TOKEN, O_AUTHR, O_TICKS, O_LEVELS,
           O_ACCTS, O_THREADS, O_HTTPT, O_MAXB, O_OVMAX };
    static const struct option opts[] = {
        {"db", required_argument, NULL, O_DB},
        {"pg", required_argument, NULL, O_PG},
        {"listen", required_argument, NULL, O_LISTEN},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"auth-reads", no_argument, NULL, O_AUTHR},
        {"ticks", required_argument, NULL, O_TICKS},
        {"levels", required_argument, NULL, O_LEVELS},
        {"accounts", required_argument, NULL, O_ACCTS},
        {"threads", required_argument, NULL, O_THREADS},
        {"http-threads", required_argument, NULL, O_HTTPT},
        {"max-body", required_argument, NULL, O_MAXB},
        {"overlay-max", required_argument, NULL, O_OVMAX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    serve_opts o;
    memset(&o, 0, sizeof o);
    unsigned long long v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DB:
            o.db = optarg;
            break;
        case O_PG:
            o.pg = optarg;
            break;
        case O_LISTEN:
            o.listen = optarg;
            break;
        case O_TOKEN:
            o.token_file = optarg;
            break;
        case O_AUTHR:
            o.auth_reads = 1;
            break;
        case O_TICKS:
            if (strcmp(optarg, "-") != 0)
                return cli_usage("serve", "--ticks takes '-' (stdin)");
            o.ticks = optarg;
            break;
        case O_LEVELS: {
            char *p = optarg, *end;
            o.n_levels = 0;
            while (*p) {
                double x = strtod(p, &end);
                if (end == p || !(x > 0) || x > 1e6 ||
                    o.n_levels == XCR_MONITOR_MAX_LEVELS)
                    return cli_usage("serve", "--levels needs up to %d "
                                              "numbers > 0, comma-separated",
                                     XCR_MONITOR_MAX_LEVELS);
                o.levels[o.n_levels++] = x;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                    return cli_usage("serve", "--levels: bad list '%s'",
                                     optarg);
            }
            break;
        }
        case O_ACCTS:
            if (!cli_parse_size(optarg, &v) || v == 0 || v > 100000000)
                return cli_usage("serve", "--accounts needs 1..100000000");
            o.demo_accounts = (size_t)v;
            break;
        case O_THREADS:
            if (!cli_parse_size(optarg, &v) || v > 256)
                return cli_usage("serve", "--threads needs 0..256");
            o.threads = (int)v;
            break;
        case O_HTTPT:
            if (!cli_parse_size(optarg, &v) || v < 2 || v > 1024)
                return cli_usage("serve", "--http-threads needs 2..1024");
            o.http_threads = (int)v;
            break;
        case O_MAXB:
            if (!cli_parse_size(optarg, &v) || v < 1024 || v > (1ULL << 30))
                return cli_usage("serve", "--max-body needs 1024..2^30");
            o.max_body = (size_t)v;
            break;
        case O_OVMAX:
            if (!cli_parse_size(optarg, &v) || v == 0 || v > 10000000)
                return cli_usage("serve", "--overlay-max needs 1..10000000");
            o.overlay_max = (size_t)v;
            break;
        case 'h':
            help();
            return XCR_EXIT_OK;
        default:
            return cli_usage("serve", "bad option");
        }
    }
    if (argc - optind > 1)
        return cli_usage("serve", "too many arguments");
    o.book = optind < argc ? argv[optind] : NULL;
    if (o.db && o.pg)
        return cli_usage("serve", "choose one of --db and --pg");
    return serve_run(&o);
}
