/* Replays the network fuzzer's seed corpus and every input it once found
 * (fuzz/corpus/network_json/, fuzz/regressions/network_json/) through the
 * harness's own invariant checks, so they hold in builds without
 * clang/libFuzzer too. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_network_json_one
#include "../fuzz/fuzz_network_json.c"
#undef LLVMFuzzerTestOneInput

static size_t replay_dir(const char *folder)
{
    DIR *d = opendir(folder);
    if (!d)
        return 0;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert(f, "%s", path);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc((size_t)n + 1);
        cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        fuzz_network_json_one(buf, (size_t)n);
        free(buf);
        count++;
    }
    closedir(d);
    return count;
}

Test(contagion_fuzz, replay_corpus_and_regressions)
{
    size_t n = replay_dir(XCR_SOURCE_DIR "/fuzz/corpus/network_json");
    n += replay_dir(XCR_SOURCE_DIR "/fuzz/regressions/network_json");
    cr_assert(n >= 7, "replayed only %zu inputs", n);
}
