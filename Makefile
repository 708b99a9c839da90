# Convenience wrapper around CMake (cmark-style).  `make test` is the one
# test command: a -Werror build and an ASan+UBSan build, both under CTest.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all run test asan bench clean

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DXCR_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: all
	./$(BUILD)/xcr margin

asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DXCR_WERROR=ON \
	      -DXCR_SANITIZE=ON -DXCR_BUILD_BENCH=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The sanitizer run first, the plain run last: CTest's summary of the plain
# build is the last thing printed.
test: all asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: all
	./$(BUILD)/bench/margin

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
