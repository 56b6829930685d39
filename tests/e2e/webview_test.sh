#!/usr/bin/env bash
# The web view in a real browser: Debian's Chromium, driven by puppeteer-core
# (tests/web/webview.test.mjs), on a sagad that has run 40 orders of the order sample.
# Screenshots land in BUILD_DIR/webview/. Usage: webview_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
root=$(cd "$(dirname "$0")/../.." && pwd)
sagad=$bin/orchestrator/sagad/sagad
ctl=$bin/orchestrator/sagactl/sagactl
dir=$(mktemp -d /tmp/sagaflow-web-XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=../../scripts/lib/sagad.sh
. "$root/scripts/lib/sagad.sh"
sagactl() { "$ctl" --endpoint "$url" "$@"; }
# shellcheck source=../../scripts/lib/orders.sh
. "$root/scripts/lib/orders.sh"
[ -x /usr/bin/chromium ] || { echo "chromium is not installed (scripts/bootstrap installs it)"; exit 1; }

"$sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" --http-listen 127.0.0.1:0 2>"$dir/sagad.log" &
pids+=($!)
url=$(sagad_url "$dir/sagad.log" 90) || { cat "$dir/sagad.log"; exit 1; }
dsn="host=$dir/data/pg port=5432 user=postgres dbname=postgres passfile=$dir/data/pg/pgpass"
for s in inventory payment logistics risk billing; do
  "$bin/samples/order-$s" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" 2>"$dir/$s.log" & pids+=($!)
done
wait_for 30 bash -c "[ \$('$ctl' --endpoint '$url' --json workers | grep -c '\"id\"') -ge 5 ]"
seed_order_data
n=40
for i in $(seq 1 "$n"); do start_order "$i" || exit 1; done
wait_for 120 bash -c "[ \"\$(psql '$dsn' -qAtX -c 'SELECT count(*) FROM sagas WHERE state_code IN (3, 4, 5)')\" = $n ]" \
  || { echo "not every saga ended"; exit 1; }
mkdir -p "$bin/webview"
echo "== Chromium on $url"
node "$root/tests/web/webview.test.mjs" "$url" "$bin/webview"
