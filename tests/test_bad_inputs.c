/* The bad-input matrix (tests/bad_inputs/): every case exits with its
 * expected status and a one-line message naming the place, prints nothing on
 * stdout, and `xcr convert` leaves no output behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"

#define CASES XCR_SOURCE_DIR "/tests/bad_inputs"

static int run_cli(const char *args, char **out, char **err)
{
    size_t n = strlen(XCR_CLI_PATH) + strlen(args) + 8;
    char *cmd = malloc(n);
    snprintf(cmd, n, "'%s' %s", XCR_CLI_PATH, args);
    int st = xt_run(cmd, out, err);
    free(cmd);
    return st;
}

static void check_case(const char *path, int want_status, const char *want)
{
    char *args = malloc(strlen(path) + 64);
    /* network cases (spec §4: *-network-*) go through `xcr contagion` */
    if (strstr(path, "-network-"))
        sprintf(args, "contagion '%s' --format json", path);
    else
        sprintf(args, "margin '%s' --format json", path);
    char *out = NULL, *err = NULL;
    int st = run_cli(args, &out, &err);
    cr_expect_eq(st, want_status, "%s: exit %d (want %d): %s", path, st,
                 want_status, err);
    cr_expect(out && out[0] == '\0', "%s: partial output on stdout", path);
    cr_expect(err && strstr(err, want), "%s: message lacks '%s': %s", path,
              want, err);
    cr_expect(err && strchr(err, '\n') == err + strlen(err) - 1,
              "%s: message is not one line: %s", path, err);
    free(out);
    free(err);
    free(args);
}

static char *slurp_line(FILE *f, char *buf, size_t n)
{
    if (!fgets(buf, (int)n, f))
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

Test(bad_inputs, matrix)
{
    DIR *d = opendir(CASES);
    cr_assert(d, "cannot open %s", CASES);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 8 || strcmp(e->d_name + len - 7, ".expect") != 0)
            continue;
        char exp_path[4200], case_path[4200], line1[64], line2[512];
        snprintf(exp_path, sizeof exp_path, "%s/%s", CASES, e->d_name);
        snprintf(case_path, sizeof case_path, "%s/%.*s", CASES,
                 (int)(len - 7), e->d_name);
        FILE *f = fopen(exp_path, "r");
        cr_assert(f);
        cr_assert(slurp_line(f, line1, sizeof line1) &&
                  slurp_line(f, line2, sizeof line2), "%s", exp_path);
        fclose(f);
        check_case(case_path, atoi(line1), line2);
        n++;
    }
    closedir(d);
    cr_assert(n >= 60, "only %zu cases", n);
}

/* convert writes nothing for a few representative cases */
Test(bad_inputs, convert_writes_nothing)
{
    const char *cases[] = {"001-json-truncated.json",
                           "076-csv-stray-quote",
                           "097-sqlite-text-in-price.db"};
    char *dir = xt_temp_dir();
    const char *outs[] = {"o.json", "o.db", "o-csv"};
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 3; k++) {
            char args[9000], dst[4200];
            snprintf(dst, sizeof dst, "%s/%s", dir, outs[k]);
            snprintf(args, sizeof args, "convert '%s/%s' '%s'", CASES,
                     cases[i], dst);
            cr_expect_eq(run_cli(args, NULL, NULL), 2, "%s", args);
            struct stat sb;
            cr_expect(stat(dst, &sb) != 0, "%s left %s", cases[i], dst);
        }
    /* and nothing else in the folder (no temp files) */
    DIR *d = opendir(dir);
    struct dirent *e;
    int extra = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            extra++;
    closedir(d);
    cr_expect_eq(extra, 0, "convert left files behind");
    xt_rm_rf(dir);
    free(dir);
}

/* Generated cases: too big to commit. */
Test(bad_inputs, huge_and_deep, .timeout = 300)
{
    char *dir = xt_temp_dir();
    char path[4400];
    /* 100 MB of JSON that never closes */
    snprintf(path, sizeof path, "%s/huge.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"assets\": [", f);
    static char spaces[1 << 16];
    memset(spaces, ' ', sizeof spaces);
    for (int i = 0; i < 100 * 16; i++)
        fwrite(spaces, 1, sizeof spaces, f);
    fclose(f);
    check_case(path, 2, "huge.json: line 1");
    unlink(path);
    /* JSON nested 100,000 levels deep */
    snprintf(path, sizeof path, "%s/deep.json", dir);
    f = fopen(path, "w");
    fputs("{\"assets\": ", f);
    for (int i = 0; i < 100000; i++)
        fputc('[', f);
    fclose(f);
    check_case(path, 2, "deep.json: line 1");
    unlink(path);
    /* a 100 MB CSV table whose one field exceeds the 1 MiB field cap */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/csv", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/assets.csv", sub);
    f = fopen(path, "w");
    fputs("symbol,price\nUSDT,", f);
    memset(spaces, '9', sizeof spaces);
    for (int i = 0; i < 100 * 16; i++)
        fwrite(spaces, 1, sizeof spaces, f);
    fputs("\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/accounts.csv", sub);
    f = fopen(path, "w");
    fputs("id,mode\na,cross\n", f);
    fclose(f);
    check_case(sub, 2, "assets.csv: line 2");
    xt_rm_rf(dir);
    free(dir);
}
