#!/usr/bin/env bash
# The web view in a real browser: Debian's Chromium, driven by puppeteer-core
# (tests/web/webview.test.mjs), on a sagad that has run 40 orders of the order sample.
# Screenshots land in BUILD_DIR/webview/. Usage: webview_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/chromium ] || { echo "chromium is not installed (scripts/bootstrap installs it)"; exit 1; }

start_sagad_embedded
start_order_services
n=40
for i in $(seq 1 "$n"); do start_order "$i" || exit 1; done
wait_for 120 bash -c "[ \"\$(psql '$dsn' -qAtX -c 'SELECT count(*) FROM sagas WHERE state_code IN (3, 4, 5)')\" = $n ]" \
  || { echo "not every saga ended"; exit 1; }
mkdir -p "$bin/webview"
echo "== Chromium on $url"
node "$root/tests/web/webview.test.mjs" "$url" "$bin/webview"
