#!/usr/bin/env bash
# Every sagactl command against a real sagad and the sample workers, error paths
# included, with their documented exit codes (0 ok, 1 sagad error, 2 usage, 3 unreachable).
# Usage: sagactl_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
sagad=$bin/orchestrator/sagad/sagad
ctl=$bin/orchestrator/sagactl/sagactl
dir=$(mktemp -d /tmp/sagaflow-e2e-XXXXXX)
chmod 755 "$dir"
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/lib/sagad.sh
. "$root/scripts/lib/sagad.sh"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0; failed=0
ok() { echo "  ok    $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL  $1"; failed=$((failed + 1)); }
# expect NAME EXIT-CODE PATTERN -- command...: runs it, checks exit code and output.
expect() {
  local name=$1 code=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$code" ] && grep -qE -- "$pattern" <<<"$out"; then ok "$name"; else bad "$name (exit $rc): $(head -c 300 <<<"$out")"; fi
}
wait_for() {
  local until=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$until" ] || return 1; sleep 0.2; done
}
c() { "$ctl" --endpoint "$admin" "$@"; }

echo "== sagad settings"
expect "sagad --help documents every setting" 0 "SAGAD_SHUTDOWN_TIMEOUT_MS" -- "$sagad" --help
expect "sagad rejects a bad setting" 2 "log_format must be one of" -- "$sagad" --log-format yaml --data-dir "$dir/never"
echo '{"dsn": "", "wrokers": 1}' > "$dir/bad.json"
expect "sagad rejects an unknown config key" 2 "unknown setting 'wrokers'" -- "$sagad" --config "$dir/bad.json" --data-dir "$dir/never"
expect "sagad rejects an unknown flag" 2 "not expected: --colour" -- "$sagad" --colour red
expect "sagad --version is a flag (finding 14)" 0 "^sagad [0-9]+\.[0-9]+" -- "$sagad" --version
[ ! -e "$dir/never" ] && ok "bad settings start nothing" || bad "bad settings created $dir/never"

echo "== sagactl without sagad"
expect "unreachable sagad exits 3" 3 "cannot reach sagad" -- "$ctl" --endpoint "http://127.0.0.1:1" --timeout-ms 300 workflows
expect "an endpoint that is not an http:// URL is a usage error" 2 "bad --endpoint" -- "$ctl" --endpoint "ipc:///tmp/x" workflows
expect "--timeout-ms -1 is a usage error, not a hang (finding 14)" 2 "timeout-ms" -- "$ctl" --timeout-ms -1 workflows
expect "--timeout-ms 5x is a usage error, not 5 (finding 14)" 2 "timeout-ms" -- "$ctl" --timeout-ms 5x workflows

"$sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" --http-listen 127.0.0.1:0 --log-format json 2>"$dir/sagad.log" &
pids+=($!)
admin=$(sagad_url "$dir/sagad.log" 90) || { cat "$dir/sagad.log"; exit 1; }
wait_for 60 c workflows || { echo "sagad did not start"; cat "$dir/sagad.log"; exit 1; }
grep -q '"event":"sagad_ready"' "$dir/sagad.log" && ok "sagad logs JSON lines" || bad "no JSON ready line"
dsn="host=$dir/data/pg port=5432 user=postgres dbname=postgres passfile=$dir/data/pg/pgpass"
for s in inventory payment logistics risk billing; do
  "$bin/samples/order-$s" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" --log-format json 2>"$dir/$s.log" & pids+=($!)
done
wait_for 30 bash -c "[ \$('$ctl' --endpoint '$admin' --json workers | grep -c '\"id\"') -ge 5 ]"
export PGOPTIONS="-c client_min_messages=warning"
psql "$dsn" -qAtX -c "INSERT INTO inventory.products VALUES ('sku', 100);
  INSERT INTO payment.accounts VALUES ('c', 100000); INSERT INTO logistics.regions VALUES ('north', true);"

echo "== commands"
expect "workflows lists order_fulfilment with its steps" 0 "order_fulfilment +1 +charge_payment +payment +refund_payment" -- c workflows
expect "workflows --json" 0 '"name": "order_fulfilment"' -- c --json workflows
order='{"order_id":"o-1","customer":"c","items":[{"sku":"sku","qty":1}],"amount":10,"region":"north"}'
id=$(c start order_fulfilment --version 2 --input "$order" --key o-1)
[[ "$id" =~ ^[0-9a-f-]{36}$ ]] && ok "start prints the saga id" || bad "start printed '$id'"
expect "the same key gives the same id" 0 "^$id\$" -- c start order_fulfilment --version 2 --input "$order" --key o-1
echo "$order" | sed 's/o-1/o-2/' > "$dir/order.json"
id2=$(c start order_fulfilment --version 2 --input "@$dir/order.json" --key o-2)
[ -n "$id2" ] && [ "$id2" != "$id" ] && ok "start --input @file" || bad "start @file gave '$id2'"
wait_for 30 bash -c "'$ctl' --endpoint '$admin' list --status completed | grep -q $id2"
first_listed=$(c list | sed -n 2p | awk '{print $1}')
[ "$first_listed" = "$id2" ] && ok "list shows sagas newest first" || bad "list's first row is '$first_listed', not $id2"
expect "list --status filters" 0 "completed" -- c list --status completed --limit 5
expect "list --json" 0 '"status": "completed"' -- c --json list --workflow order_fulfilment
expect "show gives status, attempts and the history trace" 0 "status +completed" -- c show "$id"
expect "show's history has the sent hop" 0 " sent +reserve_inventory +forward" -- c show "$id"
expect "show's history has the replied hop" 0 " replied +create_shipment +forward .*outcome=ok" -- c show "$id"
expect "show lists every node with its state" 0 "^create_shipment +step +done +[34]" -- c show "$id"
expect "workers lists the three services" 0 "payment-1 +payment +32" -- c workers
expect "stats counts API requests and worker-socket frames" 0 "api +bad_requests +[0-9]+" -- c stats
expect "stats shows the retention windows and what retention removed" 0 "retention +completed_window +7d" -- c stats
api_ids=$(curl -sf "$admin/api/v1/sagas?status=completed" | grep -oE '"id":"[0-9a-f-]{36}"' | cut -d'"' -f4 | sort)
ctl_ids=$(c --json list --status completed | grep -oE '"id": "[0-9a-f-]{36}"' | cut -d'"' -f4 | sort)
[ -n "$api_ids" ] && [ "$api_ids" = "$ctl_ids" ] && ok "curl /api/v1/sagas?status=completed and sagactl list agree" \
  || bad "curl lists '$api_ids', sagactl '$ctl_ids'"
started=$(curl -sf -X POST "$admin/api/v1/sagas" -H 'Content-Type: application/json' \
  -d "{\"workflow\":\"order_fulfilment\",\"input\":$order,\"business_key\":\"curl-1\"}")
grep -qE '"saga_id":"[0-9a-f-]{36}"' <<<"$started" && ok "curl starts a saga" || bad "curl start: $started"
expect "curl on an unknown route gets a JSON 404" 0 '"code":"not_found"' -- curl -s "$admin/api/v1/nope"
expect "the place-order sample starts a saga through the typed client and sees it complete" 0 "ended completed" -- \
  "$bin/samples/place-order" --endpoint "$admin" --version 2 --order sample-1 --customer c --sku sku --amount 5
expect "stats --json carries the dispatcher counters" 0 "\"malformed_frames\": *[0-9]+" -- c --json stats
expect "graph prints DOT" 0 '^  "reserve_inventory" -> "amount_check";' -- c graph order_fulfilment
expect "graph --version 2 draws the choice as a diamond" 0 '"amount_check" \[shape=diamond' -- c graph order_fulfilment --version 2
expect "graph --version 2 draws the parallel group as a cluster" 0 'subgraph "cluster_ship_and_invoice"' -- c graph order_fulfilment --version 2
expect "graph --version 2 renders with dot -Tsvg" 0 "<svg" -- bash -c "'$ctl' --endpoint '$admin' graph order_fulfilment --version 2 | dot -Tsvg"
expect "graph renders with dot -Tsvg" 0 "<svg" -- bash -c "'$ctl' --endpoint '$admin' graph order_fulfilment | dot -Tsvg"
expect "graph --version 1" 0 'digraph "order_fulfilment v1"' -- c graph order_fulfilment --version 1
expect "graph of an unknown version" 1 "not_found: unknown workflow 'order_fulfilment' v9" -- c graph order_fulfilment --version 9
expect "start of an unknown version is refused" 1 "not_found: unknown workflow 'order_fulfilment' v9" -- c start order_fulfilment --version 9 --input "{}"
expect "graph --saga marks the path" 0 "palegreen" -- c graph order_fulfilment --saga "$id"
expect "compensate a completed saga" 0 "compensate accepted" -- c compensate "$id" --reason "returned"
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show $id | grep -q 'status *compensated'"
expect "the saga ends compensated, reason recorded" 0 "reason +manual compensation: returned" -- c show "$id"
expect "graph --saga keeps the dashed border of a compensation that ran (finding 13)" 0 'style="dashed,filled"' -- c graph order_fulfilment --saga "$id"
expect "graph --saga marks the path taken (finding 13)" 0 '"amount_check" -> "charge_payment" \[label="otherwise", color=blue, penwidth' -- c graph order_fulfilment --saga "$id"

echo "== waits: signals, await, start --wait (order_fulfilment v3 waits for payment_confirmed)"
w=$(c start order_fulfilment --input "${order/o-1/w-1}" --key w-1)
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$w' | grep -qE 'payment_confirmed +signal +running'"
expect "show lists the signal wait and its deadline" 0 "payment_confirmed +deadline +due " -- c show "$w"
expect "graph draws the signal wait with its deadline" 0 '"payment_confirmed" \[shape=parallelogram, label="payment_confirmed\\nsignal payment_confirmed\\ndeadline 30 min' -- c graph order_fulfilment
expect "await of a waiting saga times out: exit 5" 5 "still running after 300 ms" -- c --timeout-ms 300 await "$w"
expect "a signal no wait names: exit 1, named" 1 "names signal 'parcel_lost'" -- c signal "$w" parcel_lost
expect "a signal whose data is not an object: usage" 2 "must be a JSON object" -- c signal "$w" payment_confirmed --data '[1]'
expect "signal delivers the confirmation" 0 "signal payment_confirmed \(id psp-w-1\) delivered" -- \
  c signal "$w" payment_confirmed --id psp-w-1 --data '{"psp_ref":"r-1"}'
expect "the same signal id again is applied once" 0 "already_applied" -- c signal "$w" payment_confirmed --id psp-w-1
expect "await answers completed: exit 0" 0 "saga $w completed" -- c await "$w"
expect "the confirmation's data joined the context" 0 '"payment_confirmed":\{"psp_ref":"r-1"\}' -- c show "$w"
expect "signal to an ended saga: exit 1, recorded" 1 "is completed; only a running saga takes signals" -- c signal "$w" payment_confirmed --id late
expect "the refused signal is in the history" 0 "signal_rejected" -- c show "$w"
w2=$(c start order_fulfilment --input "${order/o-1/w-2}" --key w-2)
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$w2' | grep -qE 'payment_confirmed +signal +running'"
expect "signal --key --workflow finds the saga by its business key" 0 "delivered for saga $w2" -- \
  c signal --key w-2 --workflow order_fulfilment payment_confirmed --id psp-w-2
expect "start --wait of a declined order: exit 4" 4 "compensated" -- \
  c start order_fulfilment --version 2 --wait --input "${order/\"c\"/\"c-none\"}" --key w-declined
expect "start --wait of a good order: exit 0" 0 "completed" -- c start order_fulfilment --version 2 --wait --input "${order/o-1/w-3}" --key w-3
expect "await of an unknown saga: exit 1" 1 "not_found" -- c await 01a23f4e-0000-7000-8000-000000000000
expect "await of a bad id: usage" 2 "is not a saga id" -- c await nope
expect "graph --saga renders with dot -Tsvg" 0 "<svg" -- bash -c "'$ctl' --endpoint '$admin' graph order_fulfilment --saga '$id' | dot -Tsvg"

echo "== operator recovery: the compensation plan, compensate from a node, skip, cancel, resolve, resume"
r=$(c start order_fulfilment --input "${order/o-1/r-1}" --key r-1)
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$r' | grep -qE 'payment_confirmed +signal +running'"
expect "compensate --plan: the charge is undone first" 0 "^1 +charge_payment +refund_payment +payment " -- c compensate "$r" --plan
expect "compensate --plan: then the reservation, with the output it undoes" 0 '^2 +reserve_inventory +release_inventory +inventory +\{' -- c compensate "$r" --plan
expect "compensate --plan ran nothing" 0 "status +running" -- c show "$r"
expect "compensate --plan --json" 0 '"wave": 2' -- c --json compensate "$r" --plan
expect "compensate --plan --from-node of an unknown node: exit 1" 1 "invalid_argument: .*no node 'nope'" -- c compensate "$r" --plan --from-node nope
expect "skip without --reason: usage" 2 "reason is required" -- c skip "$r" --node payment_confirmed
expect "skip --output that is not an object: usage" 2 "must be a JSON object" -- c skip "$r" --node payment_confirmed --output '[1]' --reason x
expect "skip of a node not parked or running: exit 1" 1 "failed_precondition: .*only a parked node, or a running step or wait" -- \
  c skip "$r" --node reserve_inventory --output '{}' --reason x
expect "skip the payment wait, confirmed by phone" 0 "skip accepted" -- \
  c skip "$r" --node payment_confirmed --output '{"psp_ref":"by-phone"}' --reason "confirmed by phone"
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$r' | grep -q 'status *completed'"
expect "the skipped saga completes with the given output" 0 '"payment_confirmed":\{"psp_ref":"by-phone"\}' -- c show "$r"
expect "the skip is in the history with who and why" 0 "skip_requested +payment_confirmed .*reason=confirmed by phone by=anonymous" -- c show "$r"
expect "resume of a saga that is not parked: exit 1" 1 "only a parked saga can be resumed" -- c resume "$r"
expect "retry --node of a saga that is neither failed nor parked: exit 1" 1 "only failed and parked sagas can be retried" -- c retry "$r" --node create_shipment
d=$(c start order_fulfilment --version 2 --wait --input "${order/o-1/r-2}" --key r-2 2>/dev/null | sed -n 's/^saga \([0-9a-f-]*\) completed$/\1/p')
[ -n "$d" ] && ok "a v2 order completed, to be undone from its charge" || bad "no completed v2 order"
expect "compensate --plan --from-node keeps what came after the node" 0 "left as they are .*create_shipment" -- \
  c compensate "$d" --plan --from-node charge_payment
expect "compensate --from-node undoes from the charge back" 0 "compensate accepted" -- \
  c compensate "$d" --from-node charge_payment --reason "refund, keep the shipment"
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$d' | grep -q 'status *compensated'"
expect "the shipment made after the charge is left done" 0 "^create_shipment +step +done" -- c show "$d"
expect "the charge was undone" 0 "^charge_payment +step +compensated" -- c show "$d"
k=$(c start order_fulfilment --input "${order/o-1/r-3}" --key r-3)
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$k' | grep -qE 'payment_confirmed +signal +running'"
expect "cancel without --reason: usage" 2 "reason is required" -- c cancel "$k"
expect "cancel stops a waiting saga" 0 "cancel accepted" -- c cancel "$k" --reason "customer withdrew"
expect "the cancelled saga is stored as cancelled, nothing undone" 0 "status +cancelled" -- c show "$k"
expect "list --status cancelled" 0 "$k +order_fulfilment +cancelled" -- c list --status cancelled
expect "cancel of an ended saga: exit 1" 1 "failed_precondition: .*it has ended already" -- c cancel "$k" --reason again
v=$(c start order_fulfilment --input "${order/o-1/r-4}" --key r-4)
wait_for 30 bash -c "'$ctl' --endpoint '$admin' show '$v' | grep -qE 'payment_confirmed +signal +running'"
expect "resolve --status failed: usage" 2 "status" -- c resolve "$v" --status failed --reason x
expect "resolve of a running saga without --force: exit 1" 1 "resolving a saga that still moves needs force" -- \
  c resolve "$v" --status completed --reason "paid by bank transfer"
expect "resolve --force closes it" 0 "resolve accepted" -- c resolve "$v" --status completed --reason "paid by bank transfer" --force
expect "the resolved saga is completed, the reason recorded" 0 "resolve_requested .*reason=paid by bank transfer" -- c show "$v"

echo "== errors"
expect "compensate refuses a compensated saga" 1 "failed_precondition: .*only running, parked and completed" -- c compensate "$id"
expect "retry refuses a saga that is not failed" 1 "failed_precondition" -- c retry "$id2"
expect "show of an unknown id" 1 "not_found" -- c show 00000000-0000-4000-8000-000000000000
expect "start of an unknown workflow" 1 "not_found: unknown workflow 'nope'" -- c start nope --input '{}'
expect "errors as JSON with --json" 1 '"code":"not_found"' -- c --json show 00000000-0000-4000-8000-000000000000
expect "malformed JSON input is a usage error" 2 "not valid JSON" -- c start order_fulfilment --input '{"a":'
expect "input that is not an object" 2 "must be a JSON object" -- c start order_fulfilment --input '[1]'
expect "an id that is not a UUID" 2 "is not a saga id" -- c show "'; DROP TABLE sagas; --"
expect "an unknown command" 2 "not expected: frobnicate" -- c frobnicate
expect "a missing argument" 2 "id is required" -- c show
expect "a bad --limit" 2 "--limit: Value -4 not in range" -- c list --limit -4
expect "graph of an unknown workflow" 1 "not_found" -- c graph nope
expect "options before the workflow (finding 14)" 0 "^[0-9a-f-]{36}$" -- c start --key order-first --input "$order" order_fulfilment
expect "the same key with another input is refused, naming the saga (finding 11)" 1 \
  "already_exists: business key 'o-1' already names saga $id" -- c start order_fulfilment --input '{"order_id":"o-other"}' --key o-1
expect "list --limit is clamped and says so (finding 5)" 0 "clamped to 1000" -- c list --limit 100000
expect "SQL-shaped keys are data" 0 "^[0-9a-f-]{36}$" -- c start order_fulfilment --input "$order" --key "x'); DROP TABLE sagas; --"
psql "$dsn" -qAtX -c "SELECT count(*) FROM sagas" | grep -qE '^[0-9]+$' && ok "the sagas table is still there" || bad "sagas table gone"

echo "== logs (finding 9): every line of sagad's and the workers' logs is one JSON object"
expect "JSON logs parse line by line" 0 "lines ok" -- "$bin/tests/sagaflow-jsonl-check" "$dir/sagad.log" "$dir/inventory.log" "$dir/payment.log" "$dir/logistics.log"

echo "== exit codes while the database is down (finding 10): retry later, not permanent"
kill -INT "$(head -1 "$dir/data/pg/data/postmaster.pid")"
wait_for 30 bash -c "! psql '$dsn' -qAtX -c 'SELECT 1'"
expect "start while PostgreSQL is down exits 3 (unavailable)" 3 "unavailable" -- c --timeout-ms 20000 start order_fulfilment --input "$order" --key db-down

echo "== graceful stop"
kill -TERM "${pids[0]}"; wait "${pids[0]}"; rc=$?
[ "$rc" = 0 ] && ok "sagad exits 0 on SIGTERM" || bad "sagad exited $rc on SIGTERM"
pids=("${pids[@]:1}")
expect "sagactl after sagad stopped exits 3" 3 "cannot reach sagad" -- c --timeout-ms 300 workers

echo "== admission limit: --max-running-sagas 1, no workers"
"$sagad" --data-dir "$dir/data2" --worker-endpoint "ipc://$dir/w2.sock" --http-listen 127.0.0.1:0 \
  --max-running-sagas 1 2>"$dir/sagad2.log" &
pids+=($!)
admin=$(sagad_url "$dir/sagad2.log" 90) || { cat "$dir/sagad2.log"; exit 1; }
wait_for 60 c workflows || bad "sagad with a limit did not start"
expect "the first start is taken" 0 "^[0-9a-f-]{36}$" -- c start order_fulfilment --input "$order" --key limit-1
expect "a start over the limit is refused, retry later (3)" 3 "resource_exhausted" -- c start order_fulfilment --input "$order" --key limit-2
expect "a bad limit is a usage error" 2 "max_running_sagas" -- "$sagad" --max-running-sagas 0 --data-dir "$dir/never"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
