/* xcr convert IN OUT — between book JSON, a CSV folder and SQLite. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_convert(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "-h") == 0)) {
        printf("usage: xcr convert IN OUT\n\n"
               "Convert a book between its three forms without loss.  IN may "
               "be a .json file,\na CSV folder or a SQLite database; OUT's "
               "form follows its name: *.json,\n*.db/*.sqlite, anything else "
               "a CSV folder.  On any error nothing is written.\n");
        return XCR_EXIT_OK;
    }
    if (argc != 3)
        return cli_usage("convert", "expected IN OUT");
    xcr_error err = {0};
    xcr_book *book = NULL;
    xcr_status s = xcr_book_load(argv[1], XCR_FORMAT_AUTO, NULL, &book, &err);
    if (s != XCR_OK)
        return cli_report(&err, s);
    s = xcr_book_save(book, argv[2], XCR_FORMAT_AUTO, &err);
    xcr_book_free(book);
    return s == XCR_OK ? XCR_EXIT_OK : cli_report(&err, s);
}
