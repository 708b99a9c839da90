/* Replays every input that a fuzzer once found (fuzz/regressions/<target>/)
 * and the seed corpora through the same invariant checks the harnesses use,
 * so that a finding stays fixed even in builds without clang/libFuzzer. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The harnesses themselves, so the replay checks exactly what the fuzzers
 * check; each entry point is renamed to live beside the others. */
#define LLVMFuzzerTestOneInput fuzz_book_json_one
#include "../fuzz/fuzz_book_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_book_one
#include "../fuzz/fuzz_csv_book.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_sqlite_book_one
#include "../fuzz/fuzz_sqlite_book.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_reader_one
#include "../fuzz/fuzz_csv_reader.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_scenario_file_one
#include "../fuzz/fuzz_scenario_file.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_corr_history_one
#include "../fuzz/fuzz_corr_history.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cascade_shock_one
#include "../fuzz/fuzz_cascade_shock.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_network_json_one
#include "../fuzz/fuzz_network_json.c"
#undef LLVMFuzzerTestOneInput
/* the two server harnesses share the names of their file-scope helpers */
#define LLVMFuzzerTestOneInput fuzz_ticks_one
#define mon ticks_mon
#define state_text ticks_state_text
#include "../fuzz/fuzz_ticks.c"
#undef LLVMFuzzerTestOneInput
#undef mon
#undef state_text
#define LLVMFuzzerTestOneInput fuzz_serve_request_one
#define mon request_mon
#define state_text request_state_text
#include "../fuzz/fuzz_serve_request.c"
#undef LLVMFuzzerTestOneInput
#undef mon
#undef state_text

typedef int (*harness_fn)(const uint8_t *, size_t);

static void replay_dir(harness_fn fn, const char *folder, size_t *count)
{
    DIR *d = opendir(folder);
    if (!d)
        return;
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
        fn(buf, (size_t)n);
        free(buf);
        (*count)++;
    }
    closedir(d);
}

#define REPLAY(target, min)                                                    \
    Test(fuzz_regressions, target)                                             \
    {                                                                          \
        size_t n = 0;                                                          \
        replay_dir(fuzz_##target##_one,                                        \
                   XCR_SOURCE_DIR "/fuzz/regressions/" #target, &n);          \
        replay_dir(fuzz_##target##_one, XCR_SOURCE_DIR "/fuzz/corpus/" #target, \
                   &n);                                                        \
        cr_assert(n >= (min), "replayed only %zu inputs", n);                  \
    }
REPLAY(book_json, 3)
REPLAY(csv_book, 2)
REPLAY(sqlite_book, 1)
REPLAY(csv_reader, 2)
REPLAY(scenario_file, 4)
REPLAY(corr_history, 3)
REPLAY(network_json, 5)
REPLAY(ticks, 3)
REPLAY(serve_request, 3)
REPLAY(cascade_shock, 3)
