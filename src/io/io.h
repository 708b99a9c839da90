/* Internal readers and writers of the three book forms (spec §1, §3). */
#ifndef XCR_IO_H
#define XCR_IO_H

#include "../book/book.h"

/* Book JSON (jansson).  `name` is used in error messages. */
xcr_status xcr__book_load_json_file(const char *path, const xcr_allocator *a,
                                    xcr_book **out, xcr_error *err);
xcr_status xcr__book_save_json_file(const xcr_book *b, const char *path,
                                    xcr_error *err);

/* A folder of CSV tables: assets.csv, asset_tiers.csv, instruments.csv,
 * margin_tiers.csv, accounts.csv, balances.csv, positions.csv, liquidity.csv,
 * settings.csv.  as_of travels as the settings row ("as_of", "\"...\""). */
xcr_status xcr__book_load_csv(const char *dir, const xcr_allocator *a,
                              xcr_book **out, xcr_error *err);
xcr_status xcr__book_save_csv(const xcr_book *b, const char *dir,
                              xcr_error *err);

/* A SQLite database with the same tables and columns. */
xcr_status xcr__book_load_sqlite(const char *path, const xcr_allocator *a,
                                 xcr_book **out, xcr_error *err);
xcr_status xcr__book_save_sqlite(const xcr_book *b, const char *path,
                                 xcr_error *err);

/* Compare two finalized books field by field (exact doubles).  Returns true
 * if equal; otherwise writes the first difference to why. */
bool xcr__book_equal(const xcr_book *x, const xcr_book *y, char *why,
                     size_t n);

#endif
