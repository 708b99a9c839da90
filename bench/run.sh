#!/bin/sh
# bench/run.sh — the whole benchmark suite in one command
# (docs/performance.md, bench/README.md).
#
#   bench/run.sh [--sizes 10000,100000,1000000] [--quick] [--build DIR]
#                [--scenarios M] [--out FILE]
#
# Builds the benchmarks (Release) if needed, then runs, in one session so
# every ratio compares figures measured on the same machine minutes apart:
#   1. bench/ceilings: STREAM copy/triad bandwidth, OpenBLAS DGEMM GFLOP/s;
#   2. per size N:
#      - bench/margin (full revaluation, N accounts x 8 positions) and its
#        fraction of the STREAM copy bandwidth,
#      - the NumPy baseline (bench/baseline/numpy_margin.py) on the same
#        book (same generator, size, positions and seed) -> ratio,
#      - bench/portfolio (N/10 portfolio accounts x 20 options),
#      - bench/stress (N accounts x M Monte Carlo scenarios, fast path vs
#        the full-evaluator path) and the NumPy uniform-shock stress,
#      - bench/cascade, bench/contagion (when built) and bench/serve.sh
#        (when the CLI has `serve`);
#   3. a summary table.
# Raw key=value output goes to FILE (default bench-results.txt in the build
# directory); the table to stdout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
sizes=10000,100000,1000000
quick=0
build="$root/build-bench"
scen=1000
out=""
while [ $# -gt 0 ]; do
    case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --build) build=$2; shift 2 ;;
    --scenarios) scen=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ $quick = 1 ]; then
    [ "$sizes" = 10000,100000,1000000 ] && sizes=10000,100000
    [ "$scen" = 1000 ] && scen=200
    reps=3
else
    reps=5
fi
[ -n "$out" ] || out="$build/bench-results.txt"

# 1. build (Release; OpenBLAS and MPI where found)
if [ ! -x "$build/bench/margin" ] || [ ! -x "$build/bench/ceilings" ] ||
   [ ! -x "$build/xcr" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
          -DXCR_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target xcr bench_margin bench_portfolio \
      bench_stress bench_ceilings >/dev/null
for t in bench_cascade bench_contagion bench_serve_latency; do
    cmake --build "$build" -j2 --target $t >/dev/null 2>&1 || true
done
py=python3
"$py" -c 'import numpy' 2>/dev/null || py=/usr/bin/python3
"$py" -c 'import numpy' 2>/dev/null || py=""

mkdir -p "$(dirname "$out")"
: > "$out"
log() { tee -a "$out"; }
# value of key K on the first line starting with TAG: field TAG K
field() { grep "^$1:" | head -1 | tr ' ' '\n' | grep "^$2=" | head -1 | cut -d= -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo "# bench/run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m) cores=$(nproc) load: $(cut -d' ' -f1-3 /proc/loadavg)" | log
echo "## ceilings" | log
"$build/bench/ceilings" --reps "$reps" | log
copy=$(grep '^stream_copy:' "$out" | tail -1 | tr ' ' '\n' | grep '^gb_per_s=' | cut -d= -f2)
dgemm=$(grep '^dgemm:' "$out" | tail -1 | tr ' ' '\n' | grep '^gflops=' | cut -d= -f2 || true)

table=$(mktemp)
printf '%-10s %-34s %14s %14s %14s\n' size kernel throughput vs_baseline of_ceiling > "$table"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$table"' EXIT
for n in $(echo "$sizes" | tr ',' ' '); do
    echo "## size $n" | log
    # margin revaluation (+ bandwidth fraction, same run)
    "$build/bench/margin" --accounts "$n" --reps "$reps" > "$tmp/margin" || true
    log < "$tmp/margin" >/dev/null
    xp=$(field margin_threads positions_per_s < "$tmp/margin")
    frac=$(field bandwidth fraction_of_copy < "$tmp/margin")
    ffrac=$(field floor fraction_of_copy < "$tmp/margin")
    np=""
    if [ -n "$py" ]; then
        "$build/xcr" demo --accounts "$n" --positions 8 --seed 1 -o "$tmp/book"
        "$py" "$here/baseline/numpy_margin.py" "$tmp/book" --bench "$reps" \
            --shocks=-0.6:0.2:0.1 > "$tmp/numpy" || true
        log < "$tmp/numpy" >/dev/null
        np=$(field numpy_margin positions_per_s < "$tmp/numpy")
        nps=$(field numpy_stress evals_per_s < "$tmp/numpy")
        rm -rf "$tmp/book"
    fi
    printf '%-10s %-34s %14s %14s %14s\n' "$n" "margin revaluation (pos/s)" "$xp" \
        "$(ratio "$xp" "$np")x" "$frac" >> "$table"
    [ -n "$np" ] && printf '%-10s %-34s %14s %14s %14s\n' "$n" \
        "  numpy baseline (pos/s)" "$np" "1" "-" >> "$table"
    [ -n "$ffrac" ] && printf '%-10s %-34s %14s %14s %14s\n' "$n" \
        "  layout floor (no arithmetic)" "-" "-" "$ffrac" >> "$table"
    # portfolio margin on N/10 accounts
    pn=$((n / 10 > 1000 ? n / 10 : 1000))
    "$build/bench/portfolio" --accounts "$pn" --reps "$reps" > "$tmp/pf" 2>&1 || true
    log < "$tmp/pf" >/dev/null
    pa=$(grep -o 'account_evals_per_s=[0-9.e+]*' "$tmp/pf" | tail -1 | cut -d= -f2)
    pa1=$(grep -o 'account_evals_per_s=[0-9.e+]*' "$tmp/pf" | head -1 | cut -d= -f2)
    printf '%-10s %-34s %14s %14s %14s\n' "$pn" "portfolio margin (acct/s)" "${pa:--}" \
        "$(ratio "$pa" "$pa1")x" "-" >> "$table"
    # Monte Carlo stress: fast path vs the full-evaluator path, same run
    sb=$scen
    "$build/bench/stress" --accounts "$n" --scenarios "$scen" \
        --baseline-scenarios "$sb" --threads 0 > "$tmp/stress" || true
    log < "$tmp/stress" >/dev/null
    se=$(field stress_threads evals_per_s < "$tmp/stress")
    sx=$(field stress_exact evals_per_s < "$tmp/stress")
    st=$(field stress_threads time_s < "$tmp/stress")
    printf '%-10s %-34s %14s %14s %14s\n' "$n" "MC stress x$scen (cell/s, ${st}s)" "$se" \
        "$(ratio "$se" "$sx")x" "-" >> "$table"
    [ -n "${nps:-}" ] && printf '%-10s %-34s %14s %14s %14s\n' "$n" \
        "  vs numpy uniform shock" "$nps" "$(ratio "$se" "$nps")x" "-" >> "$table"
    # other helpers' benches, when built
    # the live server's tick bench (bench/serve.sh), when the CLI has serve
    if [ -f "$here/serve.sh" ] && "$build/xcr" serve --help >/dev/null 2>&1; then
        echo "## serve.sh --accounts $n" | log
        bash "$here/serve.sh" --build "$build" --accounts "$n" --seconds 3 \
            > "$tmp/serve" 2>&1 || true
        log < "$tmp/serve" >/dev/null
        printf '%-10s %-34s %14s %14s %14s\n' "$n" \
            "serve ticks: $(wc -l < "$tmp/serve") lines in raw output" \
            "-" "-" "-" >> "$table"
    fi
    for b in cascade contagion; do
        exe="$build/bench/$b"
        [ -x "$exe" ] || continue
        case $b in
        contagion) args="--entities $((n / 100 > 100 ? n / 100 : 100))" ;;
        *) args="--accounts $n" ;;
        esac
        echo "## $b $args" | log
        # shellcheck disable=SC2086
        "$exe" $args > "$tmp/$b" 2>&1 || true
        log < "$tmp/$b" >/dev/null
        printf '%-10s %-34s %14s %14s %14s\n' "$n" "$b: $(wc -l < "$tmp/$b") lines in raw output" \
            "-" "-" "-" >> "$table"
    done
done
echo
echo "ceilings: STREAM copy ${copy:-?} GB/s, DGEMM ${dgemm:-n/a} GFLOP/s (all cores)"
cat "$table"
echo "raw output: $out"
