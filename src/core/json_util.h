/* Reading helpers shared by the JSON loaders (src/io/book_json.c,
 * src/contagion/network_json.c): typed fields and arrays of objects with
 * errors located at their JSON path ("file: $.assets[2].price: missing"),
 * and jansson's parse errors in one format. */
#ifndef XCR_CORE_JSON_UTIL_H
#define XCR_CORE_JSON_UTIL_H

#include "core.h"

#include <jansson.h>

/* Return from the calling function when x is not XCR_OK. */
#define XCR__TRY(x)                                                            \
    do {                                                                       \
        xcr_status s_ = (x);                                                   \
        if (s_ != XCR_OK)                                                      \
            return s_;                                                         \
    } while (0)

/* The number o[key]; absent or null → dflt, or "missing" when required;
 * any other type → "must be a number". */
xcr_status xcr__json_num(const json_t *o, const char *key, double dflt,
                         bool required, const xcr_loc *loc, double *out,
                         xcr_error *err);
/* The string o[key] (borrowed from o); absent or null → NULL, or "missing"
 * when required; any other type → "must be a string". */
xcr_status xcr__json_str(const json_t *o, const char *key, bool required,
                         const xcr_loc *loc, const char **out,
                         xcr_error *err);

/* One element of an array read by xcr__json_list, located at
 * "$.<key>[i]". */
typedef xcr_status (*xcr__json_item_fn)(void *ctx, const json_t *item,
                                        const xcr_loc *loc, xcr_error *err);
/* Call fn for every element of the array root[key] of `file`; absent or
 * null is "missing" when required, else nothing; not an array → "must be
 * an array".  Stops at the first error. */
xcr_status xcr__json_list(const json_t *root, const char *key,
                          const char *file, bool required,
                          xcr__json_item_fn fn, void *ctx, xcr_error *err);

/* XCR_EPARSE "<name>: line L, column C: <jansson's text>". */
xcr_status xcr__json_parse_error(const char *name, const json_error_t *je,
                                 xcr_error *err);

#endif /* XCR_CORE_JSON_UTIL_H */
