#!/usr/bin/env bash
# The whole test suite from a fresh clone: system packages the tests use, npm packages, then
# typecheck + vitest. Prints one closing line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: nginx (a real third-party proxy in the --mock-backend end-to-end test) and
# chromium (renders the HTML report in a real browser). Installed only when missing.
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing ${missing[*]} and cannot apt-get install; the tests that need them will be skipped" >&2
  fi
fi

npm ci --no-audit --no-fund
npx tsc -p tsconfig.json --noEmit

mkdir -p artifacts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=artifacts/vitest.json || status=$?

node -e '
const r = JSON.parse(require("fs").readFileSync("artifacts/vitest.json", "utf8"));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit $status
