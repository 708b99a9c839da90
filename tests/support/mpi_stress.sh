#!/bin/sh
# CPU vs MPI(2 ranks): `mpirun -np 2 xcr stress --mc N` must print exactly
# what a one-process run prints (cli/mpi_stress.c, docs/performance.md):
# table and JSON with per-account VaR/ES, on a 2,000-account demo book with
# 200 Student-t scenarios (the fast path is on from 32 scenarios), and a
# 7-scenario run (full evaluator, uneven shards).
# Usage: mpi_stress.sh XCR MPIEXEC WORKDIR.  Exit 77 (skip) without mpirun.
set -eu
xcr=$1
mpiexec=$2
dir=$3
command -v "$mpiexec" >/dev/null 2>&1 || { echo "no $mpiexec: skipped"; exit 77; }
rm -rf "$dir"
mkdir -p "$dir"
# Open MPI refuses root unless told; CI containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$xcr" demo --accounts 2000 --seed 7 -o "$dir/book.json"
run_both() {
    name=$1
    shift
    "$xcr" stress "$dir/book.json" "$@" > "$dir/$name.one"
    "$mpiexec" -np 2 --oversubscribe "$xcr" stress "$dir/book.json" "$@" \
        > "$dir/$name.mpi"
    if ! cmp "$dir/$name.one" "$dir/$name.mpi"; then
        echo "FAIL: $name differs between 1 process and 2 MPI ranks" >&2
        diff "$dir/$name.one" "$dir/$name.mpi" | head -20 >&2
        exit 1
    fi
    [ -s "$dir/$name.one" ] || { echo "FAIL: $name: empty output" >&2; exit 1; }
    echo "ok: $name ($(wc -c < "$dir/$name.one") bytes identical)"
}
run_both table --mc 200 --dist t --seed 5
run_both json --mc 200 --dist t --seed 5 --format json --per-account --accounts all
run_both small --mc 7 --format json --per-account
