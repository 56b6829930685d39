#!/usr/bin/env bash
# The alert hook against a local HTTP receiver (sagaflow-webhook-sink): a saga that stops in
# failed is POSTed to the webhook, retried while the receiver answers 503, sent once
# taken; and an alert whose POST could not happen before sagad was killed with SIGKILL is
# sent by the restarted sagad. Usage: alert_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
sink=$bin/tools/sagaflow-webhook-sink
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
trap 'kill -TERM ${sagad_pid:-} ${sink_pid:-} 2>/dev/null; wait ${sagad_pid:-} ${sink_pid:-} 2>/dev/null; e2e_cleanup' EXIT

# start_sink LISTEN FAIL_FIRST: the receiver, appending to $dir/alerts.jsonl.
start_sink() {
  "$sink" --listen "$1" --out "$dir/alerts.jsonl" --fail-first "$2" >"$dir/sink.out" 2>&1 &
  sink_pid=$!
  wait_for 10 grep -q listening "$dir/sink.out" || { cat "$dir/sink.out"; exit 1; }
  hook=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$dir/sink.out")/hooks/sagaflow
}
start_sagad() {
  sagad_runs=$(( ${sagad_runs:-0} + 1 ))
  "$sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" --http-listen "${http_listen:-127.0.0.1:0}" \
    --alert-webhook "$hook" --log-format json 2>"$dir/sagad-$sagad_runs.log" &
  sagad_pid=$!
  url=$(sagad_url "$dir/sagad-$sagad_runs.log" 90) || { cat "$dir/sagad-$sagad_runs.log"; exit 1; }
  http_listen=127.0.0.1:$(port_of "$url")
}
# An order whose shipment fails (atlantis) and whose refund is blocked: it stops in failed.
failing_order() {
  sagactl start order_fulfilment --version 2 --key "$1" \
    --input "{\"order_id\":\"$1\",\"customer\":\"c-blocked\",\"items\":[{\"sku\":\"sku-book\",\"qty\":1}],\"amount\":100,\"region\":\"atlantis\"}"
}
alerts_for() { local n; n=$(grep -c "\"saga_id\":\"$1\"" "$dir/alerts.jsonl" 2>/dev/null); echo "${n:-0}"; }

echo "== a receiver that refuses the first two POSTs, sagad with --alert-webhook, the services"
start_sink 127.0.0.1:0 2
start_sagad
start_order_services

echo "== two sagas stop in failed"
a=$(failing_order alert-1); b=$(failing_order alert-2)
wait_for 60 bash -c "[ \"\$(psql '$dsn' -qAtX -c \"SELECT count(*) FROM sagas WHERE state_code = 5\")\" = 2 ]" \
  && ok "both sagas are failed (their refunds are blocked)" || bad "the sagas did not stop in failed"
wait_for 60 bash -c "[ \$(grep -c saga_failed '$dir/alerts.jsonl' 2>/dev/null || echo 0) -ge 2 ]" \
  && ok "the webhook received two alerts after its two refusals" || bad "alerts received: $(cat "$dir/alerts.jsonl" 2>/dev/null)"
[ "$(alerts_for "$a")" = 1 ] && [ "$(alerts_for "$b")" = 1 ] && ok "one alert per failed saga" \
  || bad "alerts for $a: $(alerts_for "$a"), for $b: $(alerts_for "$b")"
line=$(grep "\"saga_id\":\"$a\"" "$dir/alerts.jsonl")
for field in '"event":"saga_failed"' '"status":"failed"' '"workflow":"order_fulfilment"' '"alert_id":"' \
             '"business_key":"alert-1"' '"reason":"' "\"url\":\"$url/#/sagas/$a\""; do
  grep -qF "$field" <<<"$line" || bad "the alert lacks $field: $line"
done
ok "the event names the saga, its workflow, key, reason, trace and a link to the web view"
grep -q '"event":"alert_not_sent"' "$dir/sagad-1.log" && ok "the refused POSTs were logged and retried" \
  || bad "no alert_not_sent line"
metrics=$(curl -sf "$url/metrics")
grep -q '^sagaflow_alerts_sent_total 2$' <<<"$metrics" && ok "sagaflow_alerts_sent_total 2" \
  || bad "metrics: $(grep sagaflow_alert <<<"$metrics")"
grep -qE '^sagaflow_alert_failures_total [2-9]' <<<"$metrics" && ok "sagaflow_alert_failures_total counts the refusals" \
  || bad "failures: $(grep sagaflow_alert_failures <<<"$metrics")"
[ "$(sql "SELECT count(*) FROM saga_alerts")" = 0 ] && ok "taken alerts are deleted" || bad "alerts left in the table"

echo "== the receiver is down when a saga fails; sagad is killed with SIGKILL before it can send"
kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null; sink_port=$(port_of "${hook%/hooks/sagaflow}")
c=$(failing_order alert-3)
wait_for 60 bash -c "[ \"\$(psql '$dsn' -qAtX -c \"SELECT count(*) FROM saga_alerts WHERE saga_id = '$c'\")\" = 1 ]" \
  && ok "the failed saga's alert waits in the store" || bad "no stored alert for $c"
kill -KILL "$sagad_pid"; wait "$sagad_pid" 2>/dev/null
[ "$(alerts_for "$c")" = 0 ] && ok "nothing was sent before the kill" || bad "sent before the kill?"
start_sink "127.0.0.1:$sink_port" 0
start_sagad
wait_for 60 bash -c "[ \$(grep -c '\"saga_id\":\"$c\"' '$dir/alerts.jsonl' 2>/dev/null || echo 0) -ge 1 ]" \
  && ok "the restarted sagad sent the alert of the saga that failed before the kill" || bad "no alert for $c after the restart"
[ "$(alerts_for "$c")" = 1 ] && ok "once" || bad "$(alerts_for "$c") alerts for $c"
[ "$(grep -c saga_failed "$dir/alerts.jsonl")" = 3 ] && ok "three alerts in all, one per failed saga" \
  || bad "$(grep -c saga_failed "$dir/alerts.jsonl") alerts in all"
expect_bad=$("$sagad" --alert-webhook "ftp://x" --data-dir "$dir/never" 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q "alert_webhook must be an http:// or https:// URL" <<<"$expect_bad" \
  && ok "a webhook that is not http:// or https:// is a bad setting" \
  || bad "bad webhook: exit $rc"

e2e_result
