/* The dashboard assets embedded by server/web/embed.cmake: every file under
 * server/web/ is served byte for byte at its URL with the right Content-Type,
 * index.html answers "/", build files and unknown paths give NULL, and every
 * asset the page links to is embedded. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "web_assets.h"

#define WEB_DIR XCR_SOURCE_DIR "/server/web"

/* Files under server/web/ that are build scripts or notes, not assets
 * (the same rule as the filter in server/web/CMakeLists.txt). */
static bool is_build_file(const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, "README.md") == 0 || strcmp(name, "CMakeLists.txt") == 0)
        return true;
    if (n > 6 && strcmp(name + n - 6, ".cmake") == 0)
        return true;
    return n > 2 && name[n - 2] == '.' &&
           (name[n - 1] == 'c' || name[n - 1] == 'h');
}

/* Whole file as bytes (malloc'd; *len set). */
static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_geq(size, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Check the asset for file REL (relative to server/web/); counts it. */
static void check_embedded(const char *rel, size_t *count)
{
    char url[1040], path[2048];
    if (strcmp(rel, "index.html") == 0)
        snprintf(url, sizeof url, "/index.html");
    else
        snprintf(url, sizeof url, "/assets/%s", rel);
    snprintf(path, sizeof path, "%s/%s", WEB_DIR, rel);
    size_t want_len, len = 0;
    const char *mime = NULL;
    unsigned char *want = read_bytes(path, &want_len);
    const unsigned char *got = xcr_web_asset(url, &len, &mime);
    cr_assert_not_null(got, "%s (from %s) is not embedded", url, rel);
    cr_assert_eq(len, want_len, "%s: %zu bytes embedded, file has %zu", url,
                 len, want_len);
    cr_assert_eq(memcmp(got, want, len), 0, "%s differs from %s", url, rel);
    cr_assert_eq(got[len], 0, "%s: no NUL after the data", url);
    cr_assert_not_null(mime);
    free(want);
    (*count)++;
}

/* Walk DIR (relative to server/web/, "" for the top) recursively. */
static void walk(const char *dir, size_t *count)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", WEB_DIR, dir);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "cannot list %s", path);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char rel[1024], full[3072];
        snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", WEB_DIR, rel);
        struct stat st;
        cr_assert_eq(stat(full, &st), 0, "stat %s", full);
        if (S_ISDIR(st.st_mode))
            walk(rel, count);
        else if (!is_build_file(e->d_name))
            check_embedded(rel, count);
    }
    closedir(d);
}

Test(web_assets, every_file_is_embedded_byte_for_byte)
{
    size_t count = 0;
    walk("", &count);
    /* index.html, app.js, style.css and uPlot's script, style and licence. */
    cr_assert_geq(count, 6, "only %zu assets found under %s", count, WEB_DIR);
}

Test(web_assets, index_is_served_for_root)
{
    size_t len = 0, len2 = 0;
    const char *mime = NULL;
    const unsigned char *root = xcr_web_asset("/", &len, &mime);
    cr_assert_not_null(root);
    cr_assert_str_eq(mime, "text/html; charset=utf-8");
    cr_assert_eq(xcr_web_asset("/index.html", &len2, NULL), root);
    cr_assert_eq(len, len2);
    cr_assert_eq(strncmp((const char *)root, "<!doctype html>", 15), 0,
                 "index.html does not start with <!doctype html>");
    /* A query string or fragment does not change the file. */
    cr_assert_eq(xcr_web_asset("/?tab=alerts", NULL, NULL), root);
    cr_assert_eq(xcr_web_asset("/#acct-000001", NULL, NULL), root);
}

static void expect_mime(const char *url, const char *want)
{
    const char *mime = NULL;
    cr_assert_not_null(xcr_web_asset(url, NULL, &mime), "%s missing", url);
    cr_assert_str_eq(mime, want, "%s", url);
}

Test(web_assets, mime_types_follow_the_extension)
{
    expect_mime("/assets/app.js", "text/javascript; charset=utf-8");
    expect_mime("/assets/style.css", "text/css; charset=utf-8");
    expect_mime("/assets/vendor/uPlot.iife.min.js",
                "text/javascript; charset=utf-8");
    expect_mime("/assets/vendor/uPlot.min.css", "text/css; charset=utf-8");
    expect_mime("/assets/vendor/uPlot.LICENSE", "text/plain; charset=utf-8");
    expect_mime("/assets/app.js?v=1", "text/javascript; charset=utf-8");
}

Test(web_assets, unknown_paths_give_null_and_leave_outputs_alone)
{
    static const char *const bad[] = {
        "", "index.html", "/index", "/index.htm", "/assets", "/assets/",
        "/assets/app.j", "/assets/app.jsx", "/ASSETS/app.js", "/app.js",
        "/assets/../index.html", "/assets//app.js", "/assets/index.html",
        "/assets/vendor", "/assets/uPlot.iife.min.js", "/v1/summary",
        /* Build files under server/web/ are not served. */
        "/assets/README.md", "/assets/vendor/README.md",
        "/assets/CMakeLists.txt", "/assets/embed.cmake",
        "/assets/web_assets.h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = 12345;
        const char *mime = "untouched";
        cr_assert_null(xcr_web_asset(bad[i], &len, &mime), "'%s' served",
                       bad[i]);
        cr_assert_eq(len, 12345);
        cr_assert_str_eq(mime, "untouched");
    }
    cr_assert_null(xcr_web_asset(NULL, NULL, NULL));
}

/* Every src="..." and href="..." in index.html that points into /assets/
 * names an embedded file, so the page never links to a missing asset. */
Test(web_assets, links_in_the_page_resolve)
{
    size_t len = 0;
    const char *page = (const char *)xcr_web_asset("/", &len, NULL);
    cr_assert_not_null(page);
    size_t links = 0;
    static const char *const attrs[] = {"src=\"", "href=\""};
    for (size_t a = 0; a < 2; a++) {
        for (const char *p = strstr(page, attrs[a]); p;
             p = strstr(p + 1, attrs[a])) {
            const char *v = p + strlen(attrs[a]);
            const char *end = strchr(v, '"');
            cr_assert_not_null(end);
            if (strncmp(v, "/assets/", 8) != 0)
                continue;
            char url[512];
            cr_assert_lt((size_t)(end - v), sizeof url);
            memcpy(url, v, (size_t)(end - v));
            url[end - v] = '\0';
            cr_assert_not_null(xcr_web_asset(url, NULL, NULL),
                               "index.html links to %s, which is not "
                               "embedded", url);
            links++;
        }
    }
    /* style.css, app.js, uPlot's script and style at least. */
    cr_assert_geq(links, 4, "index.html links to only %zu assets", links);
}
