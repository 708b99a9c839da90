#!/bin/sh
# CTest entry for the dashboard's end-to-end test (tests/e2e/dashboard.mjs):
#   run_e2e.sh XCR_BINARY WORK_DIR
# Installs playwright-core (package-lock.json) into WORK_DIR with `npm ci`
# when the lock file changed, then runs the test there; the screenshot is
# WORK_DIR/dashboard.png and the server's output WORK_DIR/serve.log.
# Exit 77 (CTest: skipped) only when a tool it needs is missing: Chromium
# (Debian `chromium`), node or npm.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: run_e2e.sh XCR_BINARY WORK_DIR" >&2
    exit 2
fi
xcr=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
chromium=${XCR_CHROMIUM:-/usr/bin/chromium}

skip() {
    echo "SKIP e2e_dashboard: $1" >&2
    exit 77
}
[ -x "$chromium" ] || skip "no Chromium at $chromium (apt-get install chromium)"
command -v node >/dev/null 2>&1 || skip "node is not installed (apt-get install nodejs)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (apt-get install npm)"
[ -x "$xcr" ] || { echo "FAIL: $xcr is not an executable" >&2; exit 1; }

mkdir -p "$work"
cp "$here/package.json" "$here/dashboard.mjs" "$work/"
# npm ci wipes node_modules: run it only when the locked versions changed.
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" ||
   [ ! -d "$work/node_modules/playwright-core" ]; then
    cp "$here/package-lock.json" "$work/"
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error) || {
        rm -f "$work/package-lock.json"
        echo "FAIL: npm ci could not install playwright-core" >&2
        exit 1
    }
fi

rm -f "$work/dashboard.png"
cd "$work"
exec node dashboard.mjs --xcr "$xcr" --out "$work"
