#!/usr/bin/env bash
# Waits across a sagad SIGKILL, with real processes: a large order_fulfilment v3 order is
# in its cooling-off timer when sagad is killed; the timer comes due while sagad is down
# and fires once when it is back. A second order's confirmation is applied, sagad is
# killed right after, and the saga goes on after the restart; the same signal id again is
# applied once. Usage: waits_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
wait_for() {
  local until=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$until" ] || return 1; sleep 0.2; done
}
node_is() { sagactl show "$1" | grep -qE "^$2 +[a-z]+ +$3 "; }
count_events() { sagactl --json show "$1" | jq "[.history[] | select(.kind == \"$2\")] | length"; }
kill_sagad() { kill -KILL "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; }
restart_sagad() {  # the same data dir and HTTP port; the embedded server was left running
  SAGAFLOW_ORDER_COOLING_OFF_MS=3000 "$sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" \
    --http-listen "127.0.0.1:${url##*:}" 2>>"$dir/sagad.log" &
  pids[0]=$!
  wait_for 60 sagactl workflows
}

echo "== sagad (a 3 s cooling-off for large orders), the services, no payment provider"
SAGAFLOW_ORDER_COOLING_OFF_MS=3000 start_sagad_embedded
start_order_services
kill -TERM "${pids[-1]}"  # the provider: this test confirms the charges itself
order() { echo "{\"order_id\":\"$1\",\"customer\":\"c-1\",\"items\":[{\"sku\":\"sku-book\",\"qty\":1}],\"amount\":$2,\"region\":\"north\"}"; }

echo "== a timer due while sagad is down fires once at recovery"
large=$(sagactl start order_fulfilment --input "$(order big-1 5000)" --key big-1)
wait_for 30 node_is "$large" payment_confirmed running || bad "the large order did not reach its wait"
sagactl signal "$large" payment_confirmed --id psp-big-1 >/dev/null || bad "the confirmation was refused"
wait_for 30 node_is "$large" cooling_off running && ok "the large order cools off" || bad "no cooling-off"
due=$(sagactl --json show "$large" | jq -r '.pending[] | select(.kind == "timer") | .not_before')
kill_sagad
due_s=$(date -d "$due" +%s)
wait_for 10 bash -c "[ \$(date +%s) -gt $due_s ]"  # the outage lasts past the due time
restart_sagad
wait_for 30 bash -c "'$ctl' --endpoint '$url' show '$large' | grep -qE 'status +completed'" \
  && ok "after the restart the timer fired and the order completed" || bad "the order did not complete: $(sagactl show "$large" | sed -n 3p)"
[ "$(count_events "$large" timer_fired)" = 1 ] && ok "the timer fired once" || bad "timer_fired $(count_events "$large" timer_fired) times"
shipped=$(psql "$dsn" -qAtX -c "SELECT count(*) FROM logistics.effects WHERE saga_id = '$large' AND phase = 1")
[ "$shipped" = 1 ] && ok "the shipment after it ran once" || bad "the shipment ran $shipped times"

echo "== a signal applied just before a SIGKILL holds, and again it is applied once"
small=$(sagactl start order_fulfilment --input "$(order small-1 100)" --key small-1)
wait_for 30 node_is "$small" payment_confirmed running || bad "the small order did not reach its wait"
out=$(sagactl signal "$small" payment_confirmed --id psp-small-1 --data '{"psp_ref":"s-1"}')
kill_sagad
grep -q delivered <<<"$out" && ok "the confirmation was delivered before the kill" || bad "signal: $out"
restart_sagad
wait_for 30 bash -c "'$ctl' --endpoint '$url' show '$small' | grep -qE 'status +completed'" \
  && ok "after the restart the order went on and completed" || bad "the order did not complete"
again=$(sagactl signal "$small" payment_confirmed --id psp-small-1)
grep -q already_applied <<<"$again" && ok "the same signal id after the restart: already_applied" || bad "again: $again"
[ "$(sagactl --json show "$small" | jq -r '.saga.context.payment_confirmed.psp_ref')" = s-1 ] \
  && ok "its data is in the context" || bad "the context lacks the confirmation"
e2e_result
