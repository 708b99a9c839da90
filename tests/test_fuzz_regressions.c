/* Replays every input that a fuzzer once found (fuzz/regressions/<target>/)
 * and the seed corpora through the same invariant checks the harnesses use,
 * so that a finding stays fixed even in builds without clang/libFuzzer. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the harness itself, so the replay checks exactly what the fuzzer checks */
#include "../fuzz/fuzz_book_json.c"

static void replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert(f, "%s", path);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc((size_t)n + 1);
        cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
        (*count)++;
    }
    closedir(d);
}

Test(fuzz_regressions, book_json)
{
    size_t n = 0;
    replay_dir(XCR_SOURCE_DIR "/fuzz/regressions/book_json", &n);
    replay_dir(XCR_SOURCE_DIR "/fuzz/corpus/book_json", &n);
    cr_assert(n >= 3, "replayed only %zu inputs", n);
}
