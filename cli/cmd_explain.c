/* xcr explain [BOOK] ACCOUNT — a plain-language breakdown of one account. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_explain(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "-h") == 0)) {
        printf("usage: xcr explain [BOOK] ACCOUNT\n\n"
               "Explain one account: each asset's value and haircut slice by "
               "slice, each\nposition's notional, bracket and margin, what "
               "drives the requirement, the\nliquidation prices and what "
               "breaks first.  Without BOOK the demo book is used.\n");
        return XCR_EXIT_OK;
    }
    if (argc < 2 || argc > 3)
        return cli_usage("explain", "expected [BOOK] ACCOUNT");
    const char *path = argc == 3 ? argv[1] : NULL;
    const char *account = argv[argc - 1];
    xcr_error err = {0};
    xcr_book *book = NULL;
    xcr_status s = cli_load_book(path, &book, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    long i = xcr_book_find_account(book, account);
    if (i < 0) {
        fprintf(stderr, "xcr: %s: unknown account \"%s\"\n",
                path ? path : "demo book", account);
        xcr_book_free(book);
        return XCR_EXIT_INPUT;
    }
    xcr_market *mkt = NULL;
    char *text = NULL;
    s = xcr_market_new(book, &mkt);
    if (s == XCR_OK)
        s = xcr_explain(mkt, (size_t)i, &text, &err);
    if (s == XCR_OK)
        fputs(text, stdout);
    free(text);
    xcr_market_free(mkt);
    xcr_book_free(book);
    return s == XCR_OK ? XCR_EXIT_OK : cli_report(&err, s);
}
