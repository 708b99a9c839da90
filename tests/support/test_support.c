#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

uint64_t xt_seed(uint64_t dflt)
{
    const char *s = getenv("XCR_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    return dflt;
}

char *xt_write_temp(const char *suffix, const char *text)
{
    char tmpl[] = "/tmp/xcrtestXXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir)
        return NULL;
    size_t n = strlen(dir) + strlen(suffix) + 8;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/in%s", dir, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(path);
        return NULL;
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return path;
}

char *xt_temp_dir(void)
{
    char tmpl[] = "/tmp/xcrtestXXXXXX";
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

void xt_rm_rf(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0)
        return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        return;
}

char *xt_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int xt_run(const char *cmdline, char **out, char **err)
{
    char *dir = xt_temp_dir();
    if (!dir)
        return -1;
    size_t n = strlen(cmdline) + 2 * strlen(dir) + 64;
    char *cmd = malloc(n);
    snprintf(cmd, n, "%s >'%s/out' 2>'%s/err' </dev/null", cmdline, dir, dir);
    int st = system(cmd);
    free(cmd);
    char path[4200];
    if (out) {
        snprintf(path, sizeof path, "%s/out", dir);
        *out = xt_read_file(path);
    }
    if (err) {
        snprintf(path, sizeof path, "%s/err", dir);
        *err = xt_read_file(path);
    }
    xt_rm_rf(dir);
    free(dir);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}
