#!/bin/sh
# Memcheck the CLI on the demo book, a convert round trip and every case of
# the bad-input matrix: no memory errors and no leaks, and each run exits
# with its expected status.
# usage: valgrind_cli.sh XCR_BINARY SOURCE_DIR
set -u
xcr=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
vg() {
    want=$1
    shift
    valgrind --quiet --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        "$xcr" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -ne "$want" ]; then
        echo "FAIL (exit $st, want $want): xcr $*"
        cat "$tmp/err"
        fail=1
    fi
}
vg 0 margin --threads 2
vg 0 margin --format json --account acct-000042
vg 0 explain acct-000007
vg 0 demo --accounts 50 -o "$tmp/b.json"
vg 0 convert "$tmp/b.json" "$tmp/b.db"
vg 0 convert "$tmp/b.db" "$tmp/csv"
vg 0 margin "$tmp/csv" --format csv
n=0
for exp in "$src"/tests/bad_inputs/*.expect; do
    case_path=${exp%.expect}
    want=$(sed -n 1p "$exp")
    vg "$want" margin "$case_path" --format json
    n=$((n + 1))
done
echo "memcheck: $n bad-input cases and 7 good runs checked"
exit $fail
