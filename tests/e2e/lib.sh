# shellcheck shell=bash
# Shared by the e2e scripts that run sagad and the order sample's services: a private
# directory cleaned up on exit, ok/bad tallies, and the services started and seeded.
# Source it after setting bin (the build dir); it sets root, sagad, ctl, dir, pids.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sagad=$bin/orchestrator/sagad/sagad
ctl=$bin/orchestrator/sagactl/sagactl
dir=$(mktemp -d /tmp/sagaflow-e2e-XXXXXX)
chmod 755 "$dir"
pids=()
e2e_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # A SIGKILLed sagad leaves its embedded server running: stop it.
  if [ -f "$dir/data/pg/data/postmaster.pid" ]; then
    runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$dir/data/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap e2e_cleanup EXIT
passed=0; failed=0
ok() { echo "  ok    $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL  $1"; failed=$((failed + 1)); }
e2e_result() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }
# shellcheck source=../../scripts/lib/sagad.sh
. "$root/scripts/lib/sagad.sh"
sagactl() { "$ctl" --endpoint "$url" "$@"; }
# shellcheck source=../../scripts/lib/orders.sh
. "$root/scripts/lib/orders.sh"

# start_order_services: the five services on sagad's embedded database (dsn, ipc socket
# $dir/w.sock), registered with sagad at $url, their data seeded; and the payment
# provider's stand-in, which confirms charges into order_fulfilment v3 (with the operator
# token of $dir/trust when there is one).
start_order_services() {
  dsn="host=$dir/data/pg port=5432 user=postgres dbname=postgres passfile=$dir/data/pg/pgpass"
  for s in inventory payment logistics risk billing; do
    "$bin/samples/order-$s" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" 2>"$dir/$s.log" & pids+=($!)
  done
  local token=(); [ -f "$dir/trust/operator.token" ] && token=(--token-file "$dir/trust/operator.token")
  "$bin/samples/payment-provider" --dsn "$dsn" --endpoint "$url" "${token[@]}" 2>"$dir/provider.log" & pids+=($!)
  wait_for 30 bash -c "[ \$('$ctl' --endpoint '$url' --json workers | grep -c '\"id\"') -ge 5 ]" \
    || { echo "the services did not register"; exit 1; }
  seed_order_data
}

# start_sagad_embedded [ARGS...]: sagad on $dir/data, any free HTTP port; sets url. Orders
# the provider never confirms are compensated after 2 s, as in the demo.
start_sagad_embedded() {
  SAGAFLOW_ORDER_PAYMENT_DEADLINE_MS=${SAGAFLOW_ORDER_PAYMENT_DEADLINE_MS:-2000} "$sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" --http-listen 127.0.0.1:0 "$@" \
    2>"$dir/sagad.log" &
  pids+=($!)
  url=$(sagad_url "$dir/sagad.log" 90) || { cat "$dir/sagad.log"; exit 1; }
}
