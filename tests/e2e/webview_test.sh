#!/usr/bin/env bash
# The web view in a real browser: Debian's Chromium, driven by puppeteer-core
# (tests/web/webview.test.mjs), on a sagad with API tokens that has run 40 orders of the
# order sample: the page asks for a token, a viewer reads, an operator compensates.
# Screenshots land in BUILD_DIR/webview/. Usage: webview_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/chromium ] || { echo "chromium is not installed (scripts/bootstrap installs it)"; exit 1; }

# shellcheck source=../../scripts/lib/trust.sh
. "$root/scripts/lib/trust.sh"
make_trust "$dir/trust" "$ctl"
SAGACTL_TOKEN=$(cat "$dir/trust/admin.token")  # the setup lists workers (admin's)
export SAGACTL_TOKEN
start_sagad_embedded --api-tokens "$dir/trust/tokens"
start_order_services
n=40
for i in $(seq 1 "$n"); do start_order "$i" || exit 1; done
wait_for 120 bash -c "[ \"\$(psql '$dsn' -qAtX -c 'SELECT count(*) FROM sagas WHERE state_code IN (3, 4, 5)')\" = $n ]" \
  || { echo "not every saga ended"; exit 1; }
mkdir -p "$bin/webview"
echo "== Chromium on $url"
VIEWER_TOKEN=$(cat "$dir/trust/viewer.token") OPERATOR_TOKEN=$(cat "$dir/trust/operator.token") \
  node "$root/tests/web/webview.test.mjs" "$url" "$bin/webview"
