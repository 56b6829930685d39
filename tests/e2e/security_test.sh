#!/usr/bin/env bash
# The hardening issue's probes against real processes, the attacker being another OS
# user (`nobody`) on the same host, as in the review that found them:
#   1. a forged reply from a peer that never said hello is dropped and counted; the
#      saga is unharmed and completes for real;
#   2. the embedded PostgreSQL is closed to other local users (0700, no trust);
#      an earlier release's open data dir is tightened on start;
#   3. a data dir named like a shell command is just a name;
#   4. frames over the envelope limit are dropped before they are allocated;
#   15. a second sagad on taken ports fails before initdb;
#   7. a second sagad on the same database is a hot standby that takes over after the
#      active one is killed -9, losing and duplicating nothing.
# Usage: security_test.sh BUILD_DIR. Needs root (to act as `nobody`).
set -uo pipefail
bin=$(cd "${1:?build dir}" && pwd)
sagad=$bin/orchestrator/sagad/sagad
ctl=$bin/orchestrator/sagactl/sagactl
vandal=$bin/tools/sagaflow-vandal
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
  echo "security_test: needs root and a 'nobody' user to play the attacker"; exit 1
fi
dir=$(mktemp -d /tmp/sagaflow-sec-XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Servers left by a SIGKILLed sagad (they outlive it on purpose).
  for pid in "$dir"/*/pg/data/postmaster.pid "$dir"/*/*/pg/data/postmaster.pid; do
    [ -f "$pid" ] && kill -INT "$(head -1 "$pid")" 2>/dev/null
  done
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0; failed=0
ok() { echo "  ok    $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL  $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi; }
wait_for() {
  local until=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$until" ] || return 1; sleep 0.1; done
}
as_nobody() { runuser -u nobody -- "$@"; }
# The port sagad bound for tcp://127.0.0.1:*, from its JSON log line: endpoint LOG KEY.
endpoint() { grep -oE "\"$2\":\"tcp://127\.0\.0\.1:[0-9]+\"" "$1" | head -1 | grep -oE '[0-9]+"$' | tr -d '"'; }
# shellcheck source=../../scripts/lib/sagad.sh
. "$root/scripts/lib/sagad.sh"
ms_now() { date +%s%3N; }

echo "== 3. a data dir named like a shell command"
cd "$dir" || exit 1
weird='x y;touch INJECTED;$(touch INJECTED2)`touch INJECTED3`'
"$sagad" --data-dir "$weird" --worker-endpoint "ipc://$dir/w.sock" --http-listen 127.0.0.1:0 2>"$dir/weird.log" &
pids+=($!)
admin=$(sagad_url "$dir/weird.log" 60)
if wait_for 60 "$ctl" --endpoint "$admin" workflows; then ok "sagad runs on data dir '$weird'"; else bad "sagad on the weird data dir"; tail -5 "$dir/weird.log"; fi
[ -d "$dir/$weird/pg/data" ] && ok "the cluster lives under the literal name" || bad "no cluster under the literal name"
ls "$dir" | grep -q '^INJECTED' && bad "a shell ran: $(ls "$dir" | grep INJECTED)" || ok "no shell ran anything"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}"; unset 'pids[-1]'
cd "$root" || exit 1

echo "== 2. the embedded PostgreSQL is the owner's alone"
"$sagad" --data-dir "$dir/one" --worker-endpoint "tcp://127.0.0.1:*" --http-listen 127.0.0.1:0 \
  --http-read-timeout-ms 2000 --log-format json 2>"$dir/one.log" &
pids+=($!); one=${pids[-1]}
wait_for 60 grep -q '"event":"sagad_ready"' "$dir/one.log" || { echo "sagad did not start"; cat "$dir/one.log"; exit 1; }
w1=$(endpoint "$dir/one.log" workers); u1=$(sagad_url "$dir/one.log")
c1() { "$ctl" --endpoint "$u1" "$@"; }
wait_for 30 c1 workflows || { echo "sagad does not answer on $u1"; exit 1; }
pgdir=$dir/one/pg
dsn="host=$pgdir port=5432 user=postgres dbname=postgres passfile=$pgdir/pgpass"
[ "$(stat -c %a "$pgdir")" = 700 ] && ok "cluster directory is 0700" || bad "cluster directory is $(stat -c %a "$pgdir")"
[ "$(stat -c %A "$pgdir/.s.PGSQL.5432")" = "srwx------" ] && ok "socket is srwx------" || bad "socket is $(stat -c %A "$pgdir/.s.PGSQL.5432")"
[ "$(stat -c %a "$pgdir/pgpass")" = 600 ] && ok "password file is 0600" || bad "password file is $(stat -c %a "$pgdir/pgpass")"
grep -vE '^\s*(#|$)' "$pgdir/data/pg_hba.conf" | grep -qw trust && bad "pg_hba.conf has trust" || ok "pg_hba.conf has no trust"
as_nobody psql "host=$pgdir user=postgres dbname=postgres" -qAtX -c "COPY (SELECT 1) TO PROGRAM 'id > /tmp/sagaflow-pwned'" \
  >/dev/null 2>&1 && bad "nobody reached the database" || ok "nobody cannot connect to the embedded database"
[ -e /tmp/sagaflow-pwned ] && { bad "COPY TO PROGRAM ran"; rm -f /tmp/sagaflow-pwned; } || ok "COPY TO PROGRAM did not run"
as_nobody cat "$pgdir/pgpass" >/dev/null 2>&1 && bad "nobody read the password file" || ok "nobody cannot read the password file"
check "the owner connects with the password file" psql "$dsn" -qAtX -c "SELECT 1"
PGPASSFILE=/dev/null psql "host=$pgdir user=postgres dbname=postgres" -qAtX -w -c "SELECT 1" >/dev/null 2>&1 \
  && bad "a connection without the password got in" || ok "no password, no connection (scram-sha-256)"
grep -q "$(cut -d: -f5 "$pgdir/pgpass")" "$dir/one.log" && bad "the password is in the log" || ok "the password is not in the log"

echo "== 2. an earlier release's open data dir is tightened on start"
old=$dir/old/pg
mkdir -p "$old"; chmod 755 "$dir/old" "$old"; chown postgres "$old"
pgbin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
runuser -u postgres -- "$pgbin/initdb" -D "$old/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
"$sagad" migrate --data-dir "$dir/old" 2>"$dir/old.log"
grep -q "embedded_postgres_tightened" "$dir/old.log" && ok "the tightening is logged" || bad "no tightening line: $(head -3 "$dir/old.log")"
[ "$(stat -c %a "$old")" = 700 ] && ok "the old directory is 0700 now" || bad "old directory is $(stat -c %a "$old")"
grep -vE '^\s*(#|$)' "$old/data/pg_hba.conf" | grep -qw trust && bad "old pg_hba.conf still trusts" || ok "old pg_hba.conf no longer trusts"

echo "== 1. a forged reply is dropped, the saga unharmed"
for s in inventory payment; do
  "$bin/samples/order-$s" --dsn "$dsn" --endpoint "tcp://127.0.0.1:$w1" 2>"$dir/$s.log" & pids+=($!)
done
wait_for 30 bash -c "[ \$('$ctl' --endpoint $u1 --json workers | grep -c '\"id\"') -ge 2 ]"
export PGOPTIONS="-c client_min_messages=warning"
psql "$dsn" -qAtX -c "INSERT INTO inventory.products VALUES ('sku', 100);
  INSERT INTO payment.accounts VALUES ('c', 100000);"
order='{"order_id":"o-1","customer":"c","items":[{"sku":"sku","qty":1}],"amount":10,"region":"north"}'
id=$(c1 start order_fulfilment --version 1 --input "$order" --key forged-1)  # one shipment step to forge
shipment_msg() { psql "$dsn" -qAtX -c "SELECT msg_id FROM saga_pending WHERE saga_id = '$id' AND action = 'create_shipment'"; }
wait_for 30 bash -c "[ -n \"\$(psql '$dsn' -qAtX -c \"SELECT msg_id FROM saga_pending WHERE saga_id = '$id' AND action = 'create_shipment'\")\" ]" \
  || bad "create_shipment never queued"
msg=$(shipment_msg)
as_nobody "$vandal" --forge-reply "tcp://127.0.0.1:$w1" --forged "$msg" "$id" >/dev/null
forged() { c1 --json stats | grep -oE '"forged_replies": *[0-9]+' | grep -oE '[0-9]+$'; }
wait_for 10 bash -c "[ \"\$('$ctl' --endpoint $u1 --json stats | grep -oE '\"forged_replies\": *[0-9]+' | grep -oE '[0-9]+$')\" -ge 1 ]" \
  && ok "the forged reply is counted (forged_replies $(forged))" || bad "forged_replies is $(forged)"
c1 show "$id" | grep -E "status +running" >/dev/null && ok "the saga still runs, awaiting its shipment" || bad "the saga moved: $(c1 show "$id" | grep status)"
c1 --json show "$id" | grep FORGED >/dev/null && bad "the forged output reached the saga" || ok "the forged output is nowhere in the saga"
grep -q '"event":"forged_reply_dropped"' "$dir/one.log" && ok "the forger is logged" || bad "no forged_reply_dropped line"
# The region first (the service's own DDL is IF NOT EXISTS), then the service.
psql "$dsn" -qAtX -c "CREATE SCHEMA logistics; CREATE TABLE logistics.regions (name text PRIMARY KEY,
  deliverable boolean NOT NULL); INSERT INTO logistics.regions VALUES ('north', true)" >/dev/null
"$bin/samples/order-logistics" --dsn "$dsn" --endpoint "tcp://127.0.0.1:$w1" 2>"$dir/logistics.log" & pids+=($!)
wait_for 60 bash -c "'$ctl' --endpoint $u1 show $id | grep -qE 'status +completed'" \
  && ok "the saga completes for real" || bad "the saga did not complete"
[ "$(psql "$dsn" -qAtX -c "SELECT count(*) FROM logistics.shipments WHERE order_id = 'o-1'")" = 1 ] \
  && ok "with exactly one shipment row" || bad "shipments: $(psql "$dsn" -qAtX -c "SELECT count(*) FROM logistics.shipments")"

echo "== 4. frames over the envelope limit are not allocated"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$one/status"; }
before=$(rss)
"$vandal" --worker "tcp://127.0.0.1:$w1" --rounds 4 --big-frame-mib 15 >/dev/null
check "sagad still answers after 4 x 15 MiB frames" c1 workflows
after=$(rss)
[ $(( after - before )) -lt 8192 ] && ok "sagad RSS grew $(( (after - before) / 1024 )) MiB (< 8)" \
  || bad "sagad RSS grew from $before to $after KiB"

echo "== the HTTP API: a stranger's bad requests, a crowd of 10,000 connections, a slow client"
bad_before=$(c1 --json stats | grep -oE '"bad_requests": *[0-9]+' | grep -oE '[0-9]+$')
v=$(as_nobody "$vandal" --http "127.0.0.1:$(port_of "$u1")" --flood 10000 --rounds 2); vrc=$?
echo "  vandal: $v"
[ "$vrc" = 0 ] && ok "every bad request got a 4xx JSON error, and sagad answered after the crowd" || bad "vandal exited $vrc"
refused=$(grep -oE '"flood_refused":[0-9]+' <<<"$v" | grep -oE '[0-9]+$')
[ "${refused:-0}" -gt 0 ] && ok "connections over http_max_connections got 429 ($refused of 10000)" || bad "no 429 in the crowd"
expected=$(grep -oE '"api_bad_expected":[0-9]+' <<<"$v" | grep -oE '[0-9]+$')
bad_after=$(c1 --json stats | grep -oE '"bad_requests": *[0-9]+' | grep -oE '[0-9]+$')
[ $(( bad_after - bad_before )) -ge "${expected:-1}" ] && ok "the API counted the $expected bad requests" \
  || bad "bad_requests went from $bad_before to $bad_after, expected +$expected"
# Half a request, then silence: bash's /dev/tcp holds the connection while sagad's timer runs.
exec 3<>"/dev/tcp/127.0.0.1/$(port_of "$u1")"
printf 'GET /api/v1/sagas HTTP/1.1\r\nHost: x\r\n' >&3
slow=$(timeout 8 head -1 <&3)
exec 3<&-
grep -q "408" <<<"$slow" && ok "a slow-loris client is answered 408 after http_read_timeout_ms" || bad "slow client got: $slow"
check "sagad still serves after all that" c1 workflows
"$sagad" --http-listen 0.0.0.0:0 --data-dir "$dir/never" 2>"$dir/open.log"; rc=$?
[ "$rc" = 2 ] && grep -q "api_tokens" "$dir/open.log" && [ ! -e "$dir/never" ] \
  && ok "a non-loopback HTTP bind without api_tokens is refused, exit 2" || bad "0.0.0.0 bind: exit $rc"

echo "== 15. a second sagad on taken ports fails before initdb"
"$sagad" --data-dir "$dir/two" --worker-endpoint "tcp://127.0.0.1:$w1" --http-listen "127.0.0.1:$(port_of "$u1")" 2>"$dir/two.log"
rc=$?
[ "$rc" != 0 ] && ok "it exits $rc" || bad "it exited 0"
[ ! -e "$dir/two/pg/data" ] && ok "no initdb ran for it" || bad "it ran initdb under $dir/two"

echo "== 7. a second sagad on the same database is a hot standby"
"$sagad" --dsn "$dsn" --worker-endpoint "tcp://127.0.0.1:$w1" --http-listen 127.0.0.1:0 \
  --log-format json 2>"$dir/standby.log" &
pids+=($!)
wait_for 30 grep -q '"event":"standby"' "$dir/standby.log" && ok "it logs that it is a standby" || bad "no standby line: $(head -3 "$dir/standby.log")"
u2=$(sagad_url "$dir/standby.log")
c2() { "$ctl" --endpoint "$u2" "$@"; }
curl -s -o /dev/null -w '%{http_code}' "$u2/readyz" | grep -q 503 && ok "the standby is not ready (/readyz 503)" \
  || bad "the standby's /readyz: $(curl -s "$u2/readyz")"
c2 stats | grep -E "node +role +standby" >/dev/null && ok "stats says standby" || bad "stats: $(c2 stats 2>&1 | head -3)"
c2 --timeout-ms 2000 workflows >/dev/null 2>&1; rc=$?
[ "$rc" = 3 ] && ok "it refuses work with exit 3 (retry later)" || bad "standby answered workflows with exit $rc"
ids=()
for i in $(seq 1 30); do
  ids+=("$(c1 start order_fulfilment --version 1 --input "${order/o-1/s-$i}" --key "standby-$i")")
done
kill -9 "$one"; killed_at=$(ms_now)
wait_for 30 grep -q '"event":"sagad_ready"' "$dir/standby.log" && took=$(( $(ms_now) - killed_at )) \
  && ok "the standby took over ${took} ms after kill -9" || bad "no takeover: $(tail -3 "$dir/standby.log")"
echo "  takeover_ms=${took:-none}"
for sid in "${ids[@]}"; do
  wait_for 60 bash -c "'$ctl' --endpoint $u2 show $sid | grep -qE 'status +(completed|compensated)'" \
    || { bad "saga $sid did not end: $(c2 show "$sid" | grep status)"; break; }
done
ended=$(psql "$dsn" -qAtX -c "SELECT count(*) FROM sagas WHERE business_key LIKE 'standby-%' AND state_code IN (3, 4)")
[ "$ended" = 30 ] && ok "all 30 sagas ended (0 lost)" || bad "$ended of 30 sagas ended"
dups=$(psql "$dsn" -qAtX -c "SELECT count(*) FROM (SELECT saga_id, step_index, phase FROM (
  SELECT saga_id, step_index, phase FROM inventory.effects UNION ALL SELECT saga_id, step_index, phase FROM payment.effects
  UNION ALL SELECT saga_id, step_index, phase FROM logistics.effects) e GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
[ "$dups" = 0 ] && ok "0 duplicated effects" || bad "$dups duplicated effects"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
