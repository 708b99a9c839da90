# Convenience wrapper around CMake (cmark-style).  `make test` is the one
# test command: a -Werror build and an ASan+UBSan build, both under CTest.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30

.PHONY: all run test asan fuzz bench clean

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DXCR_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: all
	./$(BUILD)/xcr margin

asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DXCR_WERROR=ON \
	      -DXCR_SANITIZE=ON -DXCR_BUILD_BENCH=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer harnesses (clang): each fuzzes FUZZ_SECONDS from its seed corpus.
fuzz:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DXCR_FUZZ=ON -DXCR_BUILD_TESTS=OFF -DXCR_BUILD_BENCH=OFF \
	      -DXCR_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -j $(JOBS)

# The sanitizer and fuzz runs first, the plain run last: CTest's summary of
# the plain build is the last thing printed.
test: all asan fuzz
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: all
	./$(BUILD)/bench/margin

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
