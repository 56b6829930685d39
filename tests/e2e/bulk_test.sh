#!/usr/bin/env bash
# A bulk cancel of 10,000 sagas with sagad SIGKILLed in the middle of it: after the
# restart the job goes on from its last committed page, and every saga ends cancelled
# exactly once (one cancel_requested event each, none twice, none missed). Also the
# guards: a dry run writes nothing, a filter over --bulk-confirm-over needs the exact
# --confirm-count, and a reason is required. Usage: bulk_test.sh BUILD_DIR [SAGAS]
set -uo pipefail
bin=${1:?build dir}
n=${2:-10000}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
wait_for() {
  local until=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$until" ] || return 1; sleep 0.2; done
}
job_field() { sagactl --json bulk show "$job" | jq -r ".$1"; }
sql() { psql "$dsn" -qAtX -c "$1"; }

echo "== sagad with no workers: every saga waits at its first step"
start_sagad_embedded
dsn="host=$dir/data/pg port=5432 user=postgres dbname=postgres passfile=$dir/data/pg/pgpass"
for ((b = 0; b < n / 1000; b++)); do
  jq -nc --argjson b "$b" '{sagas: [range(1000) | {workflow: "order_fulfilment",
    input: {order_id: "bulk-\($b)-\(.)", customer: "c-1", items: [{sku: "sku-book", qty: 1}], amount: 10, region: "north"}}]}' \
    > "$dir/batch.json"
  curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$dir/batch.json" "$url/api/v1/sagas/batch" \
    > /dev/null || { bad "batch $b was refused"; break; }
done
running=$(sql "SELECT count(*) FROM sagas WHERE state_code = 1")
[ "$running" = "$n" ] && ok "$n sagas running" || bad "$running sagas running, not $n"

echo "== the guards"
out=$(sagactl bulk cancel --status running --workflow order_fulfilment --reason "cleanup" --dry-run)
grep -q "would take $n sagas" <<<"$out" && ok "a dry run counts the matches" || bad "dry run: $out"
[ "$(sql "SELECT count(*) FROM saga_bulk_jobs")" = 0 ] && ok "a dry run writes nothing" || bad "a dry run made a job"
out=$(sagactl bulk cancel --status running --workflow order_fulfilment 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q "needs --reason" <<<"$out" && ok "no --reason: usage (2)" || bad "no reason: exit $rc: $out"
out=$(sagactl bulk cancel --status running --workflow order_fulfilment --reason cleanup 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "matches $n sagas, more than 1000 .*--confirm-count $n" <<<"$out" \
  && ok "over --bulk-confirm-over without --confirm-count: exit 1, the count named" || bad "unconfirmed: exit $rc: $out"
out=$(sagactl bulk cancel --status running --workflow order_fulfilment --reason cleanup --confirm-count 17 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "matches $n sagas, not 17" <<<"$out" && ok "a wrong --confirm-count: exit 1" || bad "wrong count: exit $rc: $out"
[ "$(sql "SELECT count(*) FROM saga_bulk_jobs")" = 0 ] && ok "refused jobs write nothing" || bad "a refused job was written"

echo "== bulk cancel, sagad SIGKILLed in the middle"
started=$(date +%s%N)
job=$(sagactl --json bulk cancel --status running --workflow order_fulfilment --reason "cleanup after the outage" \
  --confirm-count "$n" --rate 1000 | jq -r .id)
[[ "$job" =~ ^[0-9a-f-]{36}$ ]] && ok "the job was made" || bad "no job: '$job'"
wait_for 60 bash -c "[ \$('$ctl' --endpoint '$url' --json bulk show '$job' | jq .done) -ge $((n / 4)) ]" \
  || bad "the job did not get a quarter through"
kill -KILL "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
at_kill=$(sql "SELECT done FROM saga_bulk_jobs WHERE id = '$job'")
cancelled_at_kill=$(sql "SELECT count(*) FROM sagas WHERE state_code = 7")
[ "$at_kill" -gt 0 ] && [ "$at_kill" -lt "$n" ] && ok "killed with $at_kill of $n done" || bad "killed at done=$at_kill"
[ "$at_kill" = "$cancelled_at_kill" ] && ok "the job's count and the cancelled sagas agree at the kill" \
  || bad "at the kill: job done $at_kill, cancelled $cancelled_at_kill"
"$sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" --http-listen "127.0.0.1:${url##*:}" 2>>"$dir/sagad.log" &
pids[0]=$!
wait_for 60 sagactl workflows || bad "sagad did not come back"
wait_for 120 bash -c "[ \$('$ctl' --endpoint '$url' --json bulk show '$job' | jq -r .state) = finished ]" \
  && ok "after the restart the job went on and finished" || bad "the job is $(job_field state) at $(job_field done)"
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
echo "  (the job took $took_ms ms at --rate 1000, with the outage)"
[ "$(job_field done)" = "$n" ] && [ "$(job_field refused)" = 0 ] && ok "the job counts $n done, 0 refused" \
  || bad "the job counts done $(job_field done), refused $(job_field refused)"
[ "$(sql "SELECT count(*) FROM sagas WHERE state_code = 7")" = "$n" ] && ok "all $n sagas are cancelled" \
  || bad "$(sql "SELECT count(*) FROM sagas WHERE state_code = 7") cancelled"
twice=$(sql "SELECT count(*) FROM (SELECT e.saga_id FROM saga_events e, jsonb_array_elements(e.events) ev
             WHERE ev->>'kind' = 'cancel_requested' GROUP BY e.saga_id HAVING count(*) > 1) x")
once=$(sql "SELECT count(DISTINCT e.saga_id) FROM saga_events e, jsonb_array_elements(e.events) ev
            WHERE ev->>'kind' = 'cancel_requested' AND ev->'detail'->>'bulk' = '$job'
              AND ev->'detail'->>'reason' = 'cleanup after the outage'")
[ "$twice" = 0 ] && [ "$once" = "$n" ] && ok "each saga was cancelled exactly once, recorded with the job and the reason" \
  || bad "$once sagas record the job's cancel, $twice twice"
[ "$(sql "SELECT count(*) FROM saga_pending")" = 0 ] && ok "nothing waits any more" || bad "pending items remain"
grep -q '"bulk_job_finished"\|bulk_job_finished' "$dir/sagad.log" && ok "sagad logged the job's end" || bad "no bulk_job_finished line"
out=$(sagactl bulk list)
grep -qE "^$job +cancel +finished +$n/$n +0 " <<<"$out" && ok "bulk list shows the job" || bad "bulk list: $out"
e2e_result
