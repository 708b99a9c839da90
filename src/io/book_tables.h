/* The tabular book (spec §3), shared by the CSV-folder and SQLite forms.
 *
 * Both forms hold the same tables and columns; only the way cells are read
 * and written differs.  This module owns the schema and the mapping between
 * rows and the book builder, over a small "table source" (reader) and
 * "table sink" (writer) interface that csv and sqlite implement.  The
 * conventions are documented in book_tables.c.
 */
#ifndef XCR_BOOK_TABLES_H
#define XCR_BOOK_TABLES_H

#include "io.h"

/* MARK: schema ------------------------------------------------------------------- */

enum xcr__table_id {
    XCR__T_ASSETS,
    XCR__T_ASSET_TIERS,
    XCR__T_INSTRUMENTS,
    XCR__T_MARGIN_TIERS,
    XCR__T_ACCOUNTS,
    XCR__T_BALANCES,
    XCR__T_POSITIONS,
    XCR__T_LIQUIDITY,
    XCR__T_SETTINGS,
    XCR__T_COUNT
};

#define XCR__TABLE_MAX_COLS 12

typedef struct xcr__column {
    const char *name;
    const char *sql_type;      /* column definition for CREATE TABLE       */
    bool required;             /* a table lacking this column is an error  */
} xcr__column;

typedef struct xcr__table {
    const char *name;
    const xcr__column *cols;
    size_t ncols;
    bool required;             /* assets, accounts                          */
} xcr__table;

extern const xcr__table xcr__tables[XCR__T_COUNT];

/* MARK: cells -------------------------------------------------------------------- */

typedef enum xcr__cell_type {
    XCR__CELL_NULL = 0,        /* empty / absent: the column's default     */
    XCR__CELL_TEXT,
    XCR__CELL_INT,             /* text also set (decimal form)             */
    XCR__CELL_REAL,
    XCR__CELL_BOOL,            /* writing only; i = 0 / 1                   */
    XCR__CELL_BLOB             /* SQLite blob or text with a NUL: invalid   */
} xcr__cell_type;

typedef struct xcr__cell {
    xcr__cell_type type;
    const char *text;
    int64_t i;
    double d;
} xcr__cell;

/* MARK: reading ------------------------------------------------------------------ */

/* A source of tables.  Several tables may be open at once. */
typedef struct xcr__tab_src {
    void *ctx;
    /* Open table `name`.  When it does not exist: *tab = NULL and XCR_OK,
     * unless `required`, in which case the source fails with a message
     * naming the book and the table. */
    xcr_status (*open)(void *ctx, const char *name, bool required,
                       void **tab, xcr_error *err);
    size_t (*ncols)(void *tab);
    const char *(*colname)(void *tab, size_t i);
    /* The current row's location (table level before the first row). */
    const xcr_loc *(*loc)(void *tab);
    xcr_status (*next)(void *tab, bool *got, xcr_error *err);
    /* Cell i of the current row (valid until the next call to next). */
    void (*cell)(void *tab, size_t i, xcr__cell *out);
    void (*close)(void *tab);
} xcr__tab_src;

/* Build and finalize a book from a source; `name` (the folder or database)
 * prefixes whole-book errors. */
xcr_status xcr__tables_load(const xcr__tab_src *src, const char *name,
                            const xcr_allocator *a, xcr_book **out,
                            xcr_error *err);

/* MARK: writing ------------------------------------------------------------------ */

typedef struct xcr__tab_sink {
    void *ctx;
    xcr_status (*begin)(void *ctx, const xcr__table *t, xcr_error *err);
    /* One row of t->ncols cells. */
    xcr_status (*row)(void *ctx, const xcr__cell *cells, xcr_error *err);
    xcr_status (*end)(void *ctx, xcr_error *err);
} xcr__tab_sink;

/* Write every table of a finalized book, in schema order. */
xcr_status xcr__tables_save(const xcr_book *b, const xcr__tab_sink *sink,
                            xcr_error *err);

#endif /* XCR_BOOK_TABLES_H */
