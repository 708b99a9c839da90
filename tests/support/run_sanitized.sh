#!/bin/sh
# Run a Criterion test executable built with the sanitizers and fail if any
# sanitizer report appears.  Criterion forks a child per test and counts a
# test as passing even when LeakSanitizer reports a leak at the child's exit,
# so the report itself has to be looked for.
log=$(mktemp)
"$@" >"$log" 2>&1
status=$?
cat "$log"
if grep -Eq "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:" "$log"; then
    echo "sanitizer report found: failing" >&2
    status=1
fi
rm -f "$log"
exit $status
