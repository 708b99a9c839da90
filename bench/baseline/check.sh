#!/bin/sh
# The NumPy baseline (numpy_margin.py) must give xcr's numbers on the same
# book: every account's equity, collateral, IM, MM and status
# (`xcr margin --format json`) and the uniform-shock stress (`xcr stress
# --grid`) to 1e-9 relative.  Exit 77 (skip) without python3-numpy.
# Usage: check.sh XCR PYTHON3 WORKDIR
set -eu
xcr=$1
py=$2
dir=$3
here=$(cd "$(dirname "$0")" && pwd)
# Debian's python3-numpy lives in the system interpreter (a python3 found
# first on PATH, e.g. pyenv's, may not see it)
if ! "$py" -c 'import numpy' 2>/dev/null; then
    py=/usr/bin/python3
    "$py" -c 'import numpy' 2>/dev/null || { echo "no numpy: skipped"; exit 77; }
fi
rm -rf "$dir"
mkdir -p "$dir"
for seed in 3 11; do
    book="$dir/book$seed"
    "$xcr" demo --accounts 3000 --seed $seed --positions 5 -o "$book"
    "$xcr" margin "$book" --format json --no-liquidation > "$dir/margin$seed.json"
    "$xcr" stress "$book" --grid=-0.6:0.4:0.1 --format json > "$dir/stress$seed.json"
    "$py" "$here/numpy_margin.py" "$book" \
        --check-margin "$dir/margin$seed.json" \
        --check-stress "$dir/stress$seed.json" --shocks=-0.6:0.4:0.1
done
