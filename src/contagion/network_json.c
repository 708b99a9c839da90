/* Network JSON (spec §4) reader and writer.  The reader uses jansson (its
 * depth limit guards against deeply nested input) and reports every error
 * at its JSON path, like the book loader; the writer prints numbers in their
 * shortest round-trip form so a written network reloads unchanged. */
#include "contagion.h"

#include "../core/json_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Files larger than this are refused before parsing. */
#define NET_MAX_FILE ((size_t)512 << 20)

#define TRY(x) XCR__TRY(x)

static xcr_status read_entity(void *net, const json_t *o,
                              const xcr_loc *loc, xcr_error *err)
{
    xcr_network *n = net;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    const char *id = NULL;
    double ext = 0, el = 0, eq = NAN, size = NAN;
    TRY(xcr__json_str(o, "id", true, loc, &id, err));
    TRY(xcr__json_num(o, "external_assets", 0, true, loc, &ext, err));
    TRY(xcr__json_num(o, "external_liabilities", 0, false, loc, &el, err));
    TRY(xcr__json_num(o, "equity", NAN, false, loc, &eq, err));
    TRY(xcr__json_num(o, "size", NAN, false, loc, &size, err));
    return xcr_network_add_entity(n, id, ext, el, eq, size, loc, err);
}

static xcr_status read_liability(void *net, const json_t *o,
                                 const xcr_loc *loc, xcr_error *err)
{
    xcr_network *n = net;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    const char *from = NULL, *to = NULL;
    double amt = 0;
    TRY(xcr__json_str(o, "from", true, loc, &from, err));
    TRY(xcr__json_str(o, "to", true, loc, &to, err));
    TRY(xcr__json_num(o, "amount", 0, true, loc, &amt, err));
    return xcr_network_add_liability(n, from, to, amt, loc, err);
}

static xcr_status read_holding(void *net, const json_t *o,
                               const xcr_loc *loc, xcr_error *err)
{
    xcr_network *n = net;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    const char *ent = NULL, *asset = NULL;
    double amt = 0;
    TRY(xcr__json_str(o, "entity", true, loc, &ent, err));
    TRY(xcr__json_str(o, "asset", true, loc, &asset, err));
    TRY(xcr__json_num(o, "amount", 0, true, loc, &amt, err));
    return xcr_network_add_holding(n, ent, asset, amt, loc, err);
}

static xcr_status read_rehyp(void *net, const json_t *o,
                             const xcr_loc *loc, xcr_error *err)
{
    xcr_network *n = net;
    if (!json_is_object(o))
        return xcr__fail_at(err, XCR_EINVAL, loc, NULL, "must be an object");
    const char *from = NULL, *to = NULL, *asset = NULL;
    double amt = 0;
    TRY(xcr__json_str(o, "from", true, loc, &from, err));
    TRY(xcr__json_str(o, "to", true, loc, &to, err));
    TRY(xcr__json_str(o, "asset", true, loc, &asset, err));
    TRY(xcr__json_num(o, "amount", 0, true, loc, &amt, err));
    return xcr_network_add_rehypothecation(n, from, to, asset, amt, loc, err);
}

static xcr_status read_root(xcr_network *n, const json_t *root,
                            const char *file, xcr_error *err)
{
    xcr_loc top = {1, file, "$", 0, NULL, NULL, 0};
    if (!json_is_object(root))
        return xcr__fail_at(err, XCR_EINVAL, &top, NULL,
                            "a network must be a JSON object");
    TRY(xcr__json_list(root, "entities", file, true, read_entity, n, err));
    TRY(xcr__json_list(root, "liabilities", file, false, read_liability, n,
                       err));
    TRY(xcr__json_list(root, "holdings", file, false, read_holding, n, err));
    TRY(xcr__json_list(root, "rehypothecation", file, false, read_rehyp, n,
                       err));
    if (n->n == 0)
        return xcr__fail_at(err, XCR_EINVAL, &top, "entities",
                            "must list at least one entity");
    return xcr_network_finalize(n, err);
}

xcr_status xcr_network_load_json_text(const char *text, size_t len,
                                      const char *name, xcr_network **out,
                                      xcr_error *err)
{
    if (!text || !out)
        return xcr__fail(err, XCR_EINVAL, "text and out are required");
    *out = NULL;
    if (!name)
        name = "<network>";
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return xcr__json_parse_error(name, &je, err);
    xcr_network *n = NULL;
    if (xcr_network_new(&n) != XCR_OK) {
        json_decref(root);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    n->name = strdup(name);
    xcr_status s = n->name ? read_root(n, root, name, err)
                           : xcr__fail(err, XCR_ENOMEM, "out of memory");
    json_decref(root);
    if (s != XCR_OK) {
        xcr_network_free(n);
        return s;
    }
    *out = n;
    return XCR_OK;
}

xcr_status xcr_network_load(const char *path, xcr_network **out,
                            xcr_error *err)
{
    if (!path || !out)
        return xcr__fail(err, XCR_EINVAL, "path and out are required");
    char *text = NULL;
    size_t len = 0;
    xcr_status s = xcr__read_file(path, NET_MAX_FILE, &text, &len, err);
    if (s != XCR_OK)
        return s;
    s = xcr_network_load_json_text(text, len, path, out, err);
    free(text);
    return s;
}

/* MARK: writer ---------------------------------------------------------------- */

static void put_kv(FILE *f, const char *key, double v)
{
    fprintf(f, ", \"%s\": ", key);
    xcr__put_num(f, v);
}

xcr_status xcr_network_to_json_text(const xcr_network *n, char **out,
                                    xcr_error *err)
{
    if (!n || !out || !n->finalized)
        return xcr__fail(err, XCR_EINVAL, "a finalized network is required");
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    /* ids are restricted to [A-Za-z0-9._:/-]: no escaping needed */
    fputs("{\"entities\": [", f);
    for (size_t i = 0; i < n->n; i++) {
        fprintf(f, "%s\n  {\"id\": \"%s\"", i ? "," : "", n->id[i]);
        put_kv(f, "external_assets", n->ext[i]);
        put_kv(f, "external_liabilities", n->el[i]);
        if (!isnan(n->equity_in[i]))
            put_kv(f, "equity", n->equity_in[i]);
        if (!isnan(n->size_in[i]))
            put_kv(f, "size", n->size_in[i]);
        fputc('}', f);
    }
    fputs("],\n \"liabilities\": [", f);
    for (size_t k = 0; k < n->m; k++) {
        fprintf(f, "%s\n  {\"from\": \"%s\", \"to\": \"%s\"", k ? "," : "",
                n->id[n->lf[k]], n->id[n->lt[k]]);
        put_kv(f, "amount", n->la[k]);
        fputc('}', f);
    }
    fputs("],\n \"holdings\": [", f);
    for (size_t k = 0; k < n->nh; k++) {
        fprintf(f, "%s\n  {\"entity\": \"%s\", \"asset\": \"%s\"",
                k ? "," : "", n->id[n->h_ent[k]], n->asym[n->h_asset[k]]);
        put_kv(f, "amount", n->h_amt[k]);
        fputc('}', f);
    }
    fputs("],\n \"rehypothecation\": [", f);
    for (size_t k = 0; k < n->nr; k++) {
        fprintf(f,
                "%s\n  {\"from\": \"%s\", \"to\": \"%s\", \"asset\": \"%s\"",
                k ? "," : "", n->id[n->r_from[k]], n->id[n->r_to[k]],
                n->asym[n->r_asset[k]]);
        put_kv(f, "amount", n->r_amt[k]);
        fputc('}', f);
    }
    fputs("]}\n", f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return xcr__fail(err, XCR_ENOMEM, "out of memory");
    }
    *out = buf;
    return XCR_OK;
}
