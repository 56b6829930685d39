#!/usr/bin/env bash
# The security issue's attacks against real processes, with CURVE on the worker port and
# tokens on the API (docs/security.md):
#   - settings that would expose a port without authentication refuse to start (exit 2);
#   - a worker with no key, or a key not on the allow-list, gets no commands;
#   - a worker with the inventory key claiming `payment` is refused (and told why);
#   - a reply from another authenticated worker, for a command it was not sent, is
#     never applied;
#   - no token: 401; viewer compensating: 403 (also when replaying an operator's
#     request); operator: 202, and the history names the token and the address;
#   - every attempt names the worker and its key's fingerprint;
#   - SIGHUP reloads the allow-list: a removed key's worker is dropped, the rest stay;
#     a list that does not parse keeps the one in force.
# Usage: curve_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "${1:?build dir}" && pwd)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../scripts/lib/trust.sh
. "$root/scripts/lib/trust.sh"
vandal=$bin/tools/sagaflow-vandal
services=(inventory payment logistics risk billing)
t=$dir/trust
make_trust "$t" "$ctl" "${services[@]}"
"$ctl" keygen "$t/forger" >/dev/null
echo "forger $(grep -v '^# ' "$t/forger.pub") audit" >>"$t/allow.list"  # on the list, for a queue no workflow has
as_admin() { "$ctl" --endpoint "$url" --token-file "$t/admin.token" "$@"; }
stat_of() { as_admin stats | awk -v g="$1" -v n="$2" '$1 == g && $2 == n { print $3 }'; }
code_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

echo "== settings that would expose a port without authentication"
exit_of() { "$sagad" "$@" --data-dir "$dir/never" >"$dir/refused.log" 2>&1; echo $?; }
[ "$(exit_of --worker-endpoint tcp://0.0.0.0:0)" = 2 ] && grep -q "curve_key" "$dir/refused.log" \
  && ok "plain ZeroMQ on 0.0.0.0 refused: exit 2, naming curve_key" || bad "plain ZeroMQ on 0.0.0.0 was not refused"
[ "$(exit_of --http-listen 0.0.0.0:0)" = 2 ] && grep -q "api_tokens" "$dir/refused.log" \
  && ok "the API on 0.0.0.0 without tokens refused: exit 2" || bad "the API on 0.0.0.0 without tokens was not refused"
printf '# tokens\nok-1 viewer sha256:%064d\nbroken line\n' 0 >"$dir/bad.tokens"
[ "$(exit_of --api-tokens "$dir/bad.tokens")" = 2 ] && grep -q "bad.tokens:3:" "$dir/refused.log" \
  && ok "a malformed tokens file: exit 2 with its line number" || bad "a malformed tokens file was not refused by line"
echo "raw-1 admin $(cat "$t/admin.token")" >"$dir/raw.tokens"
[ "$(exit_of --api-tokens "$dir/raw.tokens")" = 2 ] && grep -q "not its hash" "$dir/refused.log" \
  && ok "a tokens file holding a token instead of its hash: exit 2" || bad "a raw token in the tokens file was taken"
[ "$(exit_of --curve-key "$t/sagad.secret")" = 2 ] && ok "curve_key without an allow-list: exit 2" \
  || bad "curve_key without an allow-list was taken"
chmod 644 "$t/stranger.secret"
[ "$(exit_of --curve-key "$t/stranger.secret" --curve-allow-list "$t/allow.list")" = 2 ] && grep -q "readable by others" "$dir/refused.log" \
  && ok "a secret key file others can read: exit 2" || bad "a world-readable secret key was taken"
chmod 600 "$t/stranger.secret"

echo "== sagad with CURVE and tokens; the five services with their own keys"
start_sagad_embedded "${TRUST_SAGAD_FLAGS[@]}"
dsn="host=$dir/data/pg port=5432 user=postgres dbname=postgres passfile=$dir/data/pg/pgpass"
declare -A spid
for s in "${services[@]}"; do
  # shellcheck disable=SC2046
  "$bin/samples/order-$s" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" $(worker_keys "$t" "$s") 2>"$dir/$s.log" & pids+=($!)
  spid[$s]=$!
done
workers_are() { [ "$(as_admin --json workers | jq -r '[.workers[].id] | sort | join(",")')" = "$1" ]; }
wait_for 30 workers_are "billing-1,inventory-1,logistics-1,payment-1,risk-1" && ok "the five keyed services registered" \
  || bad "the keyed services did not register: $(as_admin --json workers | jq -c '[.workers[].id]')"
seed_order_data
# The payment provider confirms the orders' charges, with an operator's token.
"$bin/samples/payment-provider" --dsn "$dsn" --endpoint "$url" --token-file "$t/operator.token" 2>"$dir/provider.log" & pids+=($!)

echo "== strangers on the worker port"
"$bin/samples/order-payment" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" --id payment-nokey 2>"$dir/nokey.log" & pids+=($!)
"$bin/samples/order-payment" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" --id payment-stranger \
  $(worker_keys "$t" stranger) 2>"$dir/stranger.log" & pids+=($!)
"$bin/samples/order-payment" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" --id payment-evil \
  $(worker_keys "$t" inventory) 2>"$dir/evil.log" & pids+=($!)
# A mechanism mismatch: bad_crypto when sagad reads the greeting first, other_failures
# when the worker hung up first (libzmq's race); each reconnect is counted again.
keyless() { echo $(( $(stat_of handshakes bad_crypto) + $(stat_of handshakes other_failures) )); }
wait_for 20 bash -c "[ \"\$($(declare -f stat_of as_admin keyless); url=$url ctl=$ctl t=$t; keyless)\" -ge 1 ]" \
  && ok "a worker without a key fails the handshake (counted: bad_crypto or other_failures)" || bad "the keyless worker's handshakes were not counted"
wait_for 20 bash -c "[ \"\$($(declare -f stat_of as_admin); url=$url ctl=$ctl t=$t; stat_of handshakes unknown_key)\" -ge 1 ]" \
  && grep -q "worker_key_refused" "$dir/sagad.log" \
  && ok "a key not on the allow-list is refused by ZAP (counted, logged with its fingerprint)" || bad "the stranger's key was not refused"
wait_for 20 grep -q "refused_by_sagad.*may not serve queue 'payment'" "$dir/evil.log" \
  && ok "the inventory key claiming payment is refused, and the worker is told why" || bad "the inventory key's claim on payment was not refused"
[ "$(stat_of workers refused_hellos)" -ge 1 ] && ok "the refused hello is counted" || bad "refused_hellos not counted"
workers_are "billing-1,inventory-1,logistics-1,payment-1,risk-1" && ok "none of the three strangers is a worker" \
  || bad "a stranger registered: $(as_admin --json workers | jq -c '[.workers[].id]')"

echo "== orders through CURVE; the API's tokens"
for i in $(seq 1 12); do start_order "$i" || bad "order $i did not start"; done
wait_for 60 bash -c "[ \"\$(psql '$dsn' -qAtX -c 'SELECT count(*) FROM sagas WHERE state_code NOT IN (3, 4)')\" = 0 ]" \
  && ok "12 orders ended through CURVE" || bad "orders did not end"
done_id=$(sagactl --json list --status completed | jq -r '.[0].id')
[ "$(code_of "$url/api/v1/sagas")" = 401 ] && ok "no token: 401" || bad "no token was not 401"
curl -s -D - -o /dev/null "$url/api/v1/sagas" | grep -i '^www-authenticate: bearer' >/dev/null && ok "401 says WWW-Authenticate: Bearer" \
  || bad "no WWW-Authenticate on 401"
[ "$(code_of -H "Authorization: Bearer $(cat "$t/viewer.token") x" "$url/api/v1/sagas")" = 401 ] \
  && ok "a token with whitespace: 401" || bad "a token with whitespace was not 401"
[ "$(code_of -H "Authorization: Bearer sgf_short" "$url/api/v1/sagas")" = 401 ] \
  && ok "a token of the wrong length: 401" || bad "a short token was not 401"
[ "$(code_of -H "Authorization: Bearer $(cat "$t/viewer.token")" "$url/api/v1/sagas")" = 200 ] \
  && ok "viewer lists sagas" || bad "viewer could not list"
body='{"reason":"e2e: customer called"}'
[ "$(code_of -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$t/viewer.token")" -d "$body" \
      "$url/api/v1/sagas/$done_id/compensate")" = 403 ] && ok "viewer compensating: 403" || bad "viewer compensate was not 403"
[ "$(code_of -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$t/operator.token")" -d "$body" \
      "$url/api/v1/sagas/$done_id/compensate")" = 202 ] && ok "operator compensating: 202" || bad "operator compensate was not 202"
[ "$(code_of -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$t/viewer.token")" -d "$body" \
      "$url/api/v1/sagas/$done_id/compensate")" = 403 ] && ok "the operator's request replayed with the viewer's token: 403" \
  || bad "a replay under the viewer's token was not refused"
[ "$(code_of -H "Authorization: Bearer $(cat "$t/operator.token")" "$url/api/v1/workers")" = 403 ] \
  && ok "operator listing workers (admin's): 403" || bad "operator could list workers"
wait_for 30 bash -c "'$ctl' --endpoint '$url' --json show '$done_id' | jq -e '.saga.status == \"compensated\"'" \
  && ok "the saga compensated" || bad "the saga did not compensate"
by=$(sagactl --json show "$done_id" | jq -r '[.history[] | select(.kind == "compensation_requested")] | length as $n |
     if $n == 1 then .[0].detail | "\(.by) \(.from) \(.reason)" else "count \($n)" end')
[[ "$by" =~ ^operator-1\ 127\.0\.0\.1:[0-9]+\ e2e:\ customer\ called$ ]] \
  && ok "the history names the token, the address and the reason, once: $by" || bad "the audit entry is wrong: $by"
sagactl show "$done_id" | grep "by=operator-1" >/dev/null && ok "sagactl show displays who asked" || bad "sagactl show lacks by="
keys=$(sagactl --json show "$done_id" | jq -r '[.attempts[] | select(.outcome != "timeout") | (.worker != null and (.key // "" | startswith("sha256:")))] | all')
[ "$keys" = true ] && ok "every attempt names its worker and key fingerprint" || bad "an attempt lacks its worker or key"
started_by=$(sagactl --json show "$done_id" | jq -r '.history[] | select(.kind == "started") | .detail.by')
[ "$started_by" = operator-1 ] && ok "the start names its token" || bad "the start's history lacks by: $started_by"
[ "$(stat_of api unauthenticated)" -ge 3 ] && [ "$(stat_of api forbidden)" -ge 3 ] \
  && ok "401s and 403s are counted" || bad "refusals were not counted"
if grep -qF "$(cat "$t/operator.token")" "$dir/sagad.log"; then bad "a token is in sagad's log"; else ok "no token in sagad's log"; fi

echo "== a reply from another authenticated worker, for a command it was not sent"
kill -TERM "${spid[logistics]}"; wait "${spid[logistics]}" 2>/dev/null
# shellcheck disable=SC2046
"$bin/samples/order-logistics" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" $(worker_keys "$t" logistics) \
  --hang-every 1 --hang-ms 6000 2>"$dir/logistics-slow.log" & pids+=($!)
wait_for 20 workers_are "billing-1,inventory-1,logistics-1,payment-1,risk-1" || bad "the slow logistics did not register"
start_order 100 || bad "order 100 did not start"
saga=$(sagactl --json list --status running | jq -r '.[0].id')
# The shipment command is in flight to logistics-1 once its handler hangs.
wait_for 30 grep -q "fault_hang.*saga_id=$saga" "$dir/logistics-slow.log" || bad "the shipment command was never sent"
msg=$(sagactl --json show "$saga" | jq -r '.pending[] | select(.queue == "logistics") | .msg_id')
ignored_before=$(stat_of workers ignored_replies)
"$vandal" --forge-reply "ipc://$dir/w.sock" --forged "$msg" "$saga" --hello audit \
  --key-file "$t/forger.secret" --server-key-file "$t/sagad.pub" >/dev/null || bad "the forger could not send"
wait_for 15 bash -c "[ \"\$($(declare -f stat_of as_admin); url=$url ctl=$ctl t=$t; stat_of workers ignored_replies)\" -gt $ignored_before ]" \
  && ok "the forger's reply is not applied (ignored_replies)" || bad "the forger's reply was not ignored"
sagactl --json show "$saga" | jq -e --arg m "$msg" '[.history[] | select(.kind == "reply_ignored" and .msg_id == $m and .detail.worker == "forger" and (.detail.key | startswith("sha256:")))] | length == 1' >/dev/null \
  && ok "the history records the forger's ignored reply with its key" || bad "no reply_ignored naming the forger"
wait_for 40 bash -c "'$ctl' --endpoint '$url' --json show '$saga' | jq -e '.saga.status == \"completed\"'" \
  && ok "the saga completes for real, shipped by logistics-1" || bad "the saga did not complete"
sagactl --json show "$saga" | jq -e '.context | tostring | contains("FORGED") | not' >/dev/null \
  && ok "nothing of the forged output reached the saga's context" || bad "the forged output is in the saga's context"

echo "== SIGHUP reloads the allow-list"
sagad_pid=${pids[0]}
grep -v '^billing ' "$t/allow.list" >"$t/allow.new" && mv "$t/allow.new" "$t/allow.list"
kill -HUP "$sagad_pid"
wait_for 20 workers_are "inventory-1,logistics-1,payment-1,risk-1" \
  && ok "billing's key removed: its worker is dropped, the other four stay connected" \
  || bad "after the reload: $(as_admin --json workers | jq -c '[.workers[].id]')"
wait_for 10 grep -q "refused_by_sagad" "$dir/billing.log" && ok "billing is told it was refused" || bad "billing was not told"
echo "not a valid line" >>"$t/allow.list"
kill -HUP "$sagad_pid"
wait_for 10 grep -q "reload_refused" "$dir/sagad.log" && workers_are "inventory-1,logistics-1,payment-1,risk-1" \
  && ok "a list that does not parse is refused; the one in force stays" || bad "a broken list was not refused"
kill -0 "$sagad_pid" && ok "sagad served everyone else throughout" || bad "sagad died"
e2e_result
