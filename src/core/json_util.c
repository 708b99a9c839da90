/* Reading helpers shared by the JSON loaders (json_util.h). */
#include "json_util.h"

#include <stdio.h>

xcr_status xcr__json_num(const json_t *o, const char *key, double dflt,
                         bool required, const xcr_loc *loc, double *out,
                         xcr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required)
            return xcr__fail_at(err, XCR_EINVAL, loc, key, "missing");
        *out = dflt;
        return XCR_OK;
    }
    if (!json_is_number(v))
        return xcr__fail_at(err, XCR_EINVAL, loc, key, "must be a number");
    *out = json_number_value(v);
    return XCR_OK;
}

xcr_status xcr__json_str(const json_t *o, const char *key, bool required,
                         const xcr_loc *loc, const char **out,
                         xcr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required)
            return xcr__fail_at(err, XCR_EINVAL, loc, key, "missing");
        *out = NULL;
        return XCR_OK;
    }
    if (!json_is_string(v))
        return xcr__fail_at(err, XCR_EINVAL, loc, key, "must be a string");
    *out = json_string_value(v);
    return XCR_OK;
}

xcr_status xcr__json_list(const json_t *root, const char *key,
                          const char *file, bool required,
                          xcr__json_item_fn fn, void *ctx, xcr_error *err)
{
    const json_t *arr = json_object_get(root, key);
    xcr_loc top = {1, file, "$", 0, NULL, NULL, 0};
    if (!arr || json_is_null(arr)) {
        if (required)
            return xcr__fail_at(err, XCR_EINVAL, &top, key, "missing");
        return XCR_OK;
    }
    if (!json_is_array(arr))
        return xcr__fail_at(err, XCR_EINVAL, &top, key, "must be an array");
    char path[96];
    xcr_loc loc = {1, file, path, 0, NULL, NULL, 0};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        snprintf(path, sizeof path, "$.%s[%zu]", key, i);
        XCR__TRY(fn(ctx, json_array_get(arr, i), &loc, err));
    }
    return XCR_OK;
}

xcr_status xcr__json_parse_error(const char *name, const json_error_t *je,
                                 xcr_error *err)
{
    return xcr__fail(err, XCR_EPARSE, "%s: line %d, column %d: %s", name,
                     je->line, je->column, je->text);
}
