#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes a real sagad running the order sample: the started
# and ended counters and a latency quantile it reports must match the sagas this test ran,
# every PromQL expression of deploy/grafana/sagaflow.json must return data, and
# `promtool check metrics` must pass on a scrape. Everything on loopback, started here.
# Usage: prometheus_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
promql() { node "$root/tests/web/promql.mjs" "$prom" "$@"; }

command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/bootstrap installs it)"; exit 1; }

echo "== sagad and the order sample's services"
start_sagad_embedded --log-format json
start_order_services

echo "== Prometheus, scraping sagad every second"
cat >"$dir/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: sagad
    static_configs: [{targets: ["${url#http://}"]}]
EOF
# A free port: Prometheus reports no port it chose itself, so try a few at random.
for attempt in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 30000 ))
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn 2>"$dir/prometheus.log" &
  prom_pid=$!
  prom="http://127.0.0.1:$port"
  if wait_for 30 bash -c "curl -sf '$prom/-/ready' || ! kill -0 $prom_pid"; kill -0 "$prom_pid" 2>/dev/null; then
    pids+=("$prom_pid"); break
  fi
  wait "$prom_pid" 2>/dev/null
done
curl -sf "$prom/-/ready" >/dev/null && ok "Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') serves on $prom" \
  || { bad "Prometheus did not start: $(tail -3 "$dir/prometheus.log")"; exit 1; }

echo "== 60 orders of every kind"
n=60
for i in $(seq 1 "$n"); do start_order "$i" >/dev/null || bad "order $i did not start"; done
wait_for 120 bash -c "[ \"\$(psql '$dsn' -qAtX -c 'SELECT count(*) FROM sagas WHERE state_code IN (3, 4, 5)')\" = $n ]" \
  || bad "not every saga ended"
completed=$(sql "SELECT count(*) FROM sagas WHERE state_code = 3")
compensated=$(sql "SELECT count(*) FROM sagas WHERE state_code = 4")
failed_sagas=$(sql "SELECT count(*) FROM sagas WHERE state_code = 5")
echo "  the database says: $completed completed, $compensated compensated, $failed_sagas failed"
# Prometheus has them once a scrape after the last end has landed (bounded wait).
value() { promql "$1" | grep -oE '[0-9.e+-]+\]\]$' | tr -d ']'; }
wait_for 30 bash -c "[ \"\$(node '$root/tests/web/promql.mjs' '$prom' 'sum(sagaflow_sagas_ended_total)' | grep -oE '[0-9]+\]\]$' | tr -d ']')\" = $n ]"
[ "$(value 'sum(sagaflow_sagas_started_total)')" = "$n" ] && ok "sagaflow_sagas_started_total = $n, the sagas started" \
  || bad "started: $(promql 'sum(sagaflow_sagas_started_total)')"
[ "$(value 'sum(sagaflow_sagas_ended_total{status="completed"})')" = "$completed" ] \
  && ok "sagaflow_sagas_ended_total{status=completed} = $completed, as in the database" \
  || bad "completed: $(promql 'sum(sagaflow_sagas_ended_total{status="completed"})') vs $completed"
[ "$(value 'sum(sagaflow_sagas_ended_total{status="compensated"})')" = "$compensated" ] \
  && ok "sagaflow_sagas_ended_total{status=compensated} = $compensated, as in the database" \
  || bad "compensated: $(promql 'sum(sagaflow_sagas_ended_total{status="compensated"})') vs $compensated"
# The median of end-to-end latency from the histogram, against the sagas' own times.
p50=$(value 'histogram_quantile(0.5, sum by (le) (sagaflow_saga_duration_seconds_bucket))')
slowest=$(sql "SELECT extract(epoch FROM max(updated_at - created_at)) FROM sagas")
node -e "const p=Number('$p50'), s=Number('$slowest'); process.exit(p > 0 && p <= Math.max(s, 0.001) * 2.5 ? 0 : 1)" \
  && ok "the p50 saga latency ($p50 s) is positive and within the slowest saga's time ($slowest s) and its bucket" \
  || bad "p50 latency $p50 s vs slowest $slowest s"
[ "$(value 'sum(sagaflow_saga_duration_seconds_count)')" = "$n" ] && ok "the latency histogram counted all $n sagas" \
  || bad "histogram count: $(promql 'sum(sagaflow_saga_duration_seconds_count)')"
[ "$(value 'sum(sagaflow_workers_connected)')" -ge 5 ] 2>/dev/null && ok "workers connected per queue add up to 5 or more" \
  || bad "workers: $(promql 'sum(sagaflow_workers_connected)')"

echo "== promtool check metrics on a scrape"
curl -sf "$url/metrics" >"$dir/scrape.txt"
if promtool check metrics <"$dir/scrape.txt" >"$dir/promtool.txt" 2>&1; then ok "promtool check metrics passes"
else bad "promtool: $(head -5 "$dir/promtool.txt")"; fi
grep -qE 'saga_id=|[0-9a-f]{8}-[0-9a-f]{4}-' "$dir/scrape.txt" && bad "a saga id in a label" || ok "no saga id in any label"

echo "== every expression of the Grafana dashboard returns data"
# rate() needs two scrapes in its window: wait (bounded) until it has them.
wait_for 30 bash -c "node '$root/tests/web/promql.mjs' '$prom' 'sum(rate(sagaflow_sagas_started_total[1m]))' | grep -q '\]\]'"
if promql --dashboard "$root/deploy/grafana/sagaflow.json"; then ok "deploy/grafana/sagaflow.json: every expression has data"
else bad "some dashboard expressions return nothing"; fi

e2e_result
