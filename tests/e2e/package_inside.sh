#!/usr/bin/env bash
# Runs inside the clean root of package_test.sh: installs the packages, checks what they
# set up, builds the standalone example against the installed SDK and books one trip.
set -uo pipefail
cd /tmp/sagaflow
passed=0; failed=0
ok() { echo "  ok    $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL  $1"; failed=$((failed + 1)); }
wait_for() {
  local until=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$until" ] || return 1; sleep 0.2; done
}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1
# The runtime package alone first: the shared library and what it loads, no -dev package.
if apt-get install -y -qq ./libsagaflow0.1_*.deb >install.log 2>&1 && grep -q 'libsagaflow.so.0.1 ' <<<"$(ldconfig -p)" &&
   ! dpkg -s libpq-dev >/dev/null 2>&1; then
  ok "apt installs libsagaflow0.1 alone: libsagaflow.so.0.1 is in the loader's cache, no -dev package came with it"
else
  bad "libsagaflow0.1: $(tail -5 install.log; ldconfig -p | grep sagaflow)"
fi
if apt-get install -y -qq ./sagad_*.deb ./sagaflow-dev_*.deb >>install.log 2>&1; then
  ok "apt installs sagad and sagaflow-dev with their dependencies"
else
  bad "install: $(tail -15 install.log)"; echo "$passed passed, $failed failed"; exit 1
fi
v=$(sagad --version 2>&1)
if [[ "$v" == "sagad 0.1.0" ]]; then ok "sagad --version: $v"; else bad "sagad --version: $v"; fi
if sagactl --help >/dev/null 2>&1; then ok "sagactl runs"; else bad "sagactl --help failed"; fi
if getent passwd sagaflow >/dev/null && [ "$(stat -c %U:%a /var/lib/sagaflow)" = "sagaflow:700" ]; then
  ok "the sagaflow system user and its 0700 state directory"
else
  bad "user or /var/lib/sagaflow: $(getent passwd sagaflow) $(stat -c %U:%a /var/lib/sagaflow 2>&1)"
fi
if [ -f /etc/sagaflow/sagad.json ] && grep -q '"data_dir": "/var/lib/sagaflow/data"' /etc/sagaflow/sagad.json; then
  ok "/etc/sagaflow/sagad.json written from the default"
else
  bad "/etc/sagaflow/sagad.json"
fi
for u in sagad.service sagaflow-worker@.service; do
  if [ -f "/lib/systemd/system/$u" ]; then ok "unit $u installed"; else bad "unit $u missing"; fi
done
grep -q '^Type=notify' /lib/systemd/system/sagad.service && grep -q '^User=sagaflow' /lib/systemd/system/sagad.service \
  && ok "sagad.service: Type=notify, User=sagaflow" || bad "sagad.service lacks Type=notify or User=sagaflow"

echo "== the standalone example against the installed SDK"
apt-get install -y -qq --no-install-recommends g++ cmake ninja-build >>install.log 2>&1 || bad "build tools: $(tail -5 install.log)"
if cmake -S example -B build -G Ninja >build.log 2>&1 && cmake --build build -j2 >>build.log 2>&1; then
  ok "examples/standalone builds with find_package(Sagaflow) from /usr"
else
  bad "example build: $(tail -20 build.log)"; echo "$passed passed, $failed failed"; exit 1
fi
# shellcheck disable=SC2046  # pkg-config's words are meant to split
if g++ -O1 -o cars-shared example/cars_worker.cpp example/cars.cpp $(pkg-config --cflags --libs sagaflow) >shared.log 2>&1 &&
   grep -qE 'libsagaflow.so.0.1 => (/usr)?/lib/libsagaflow' <<<"$(ldd cars-shared)" && ./cars-shared --help >/dev/null; then
  ok "a worker linked with pkg-config sagaflow loads the packaged libsagaflow.so.0.1 and runs"
else
  bad "shared worker: $(tail -5 shared.log; ldd cars-shared 2>&1 | grep -i sagaflow)"
fi
mkdir -p /tmp/trip && chmod 755 /tmp/trip
build/trip-sagad --data-dir /tmp/trip/data --worker-endpoint ipc:///tmp/trip/w.sock --http-listen 127.0.0.1:0 2>/tmp/trip/sagad.log &
sagad_pid=$!
url=""
wait_for 90 grep -qoE 'http://127\.0\.0\.1:[0-9]+' /tmp/trip/sagad.log && url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' /tmp/trip/sagad.log | tail -1)
[ -n "$url" ] || { bad "trip-sagad did not serve: $(tail -5 /tmp/trip/sagad.log)"; echo "$passed passed, $failed failed"; exit 1; }
export SAGAFLOW_DSN="host=/tmp/trip/data/pg port=5432 user=postgres dbname=postgres passfile=/tmp/trip/data/pg/pgpass"
export SAGAFLOW_ENDPOINT=ipc:///tmp/trip/w.sock
build/cars-worker 2>/tmp/trip/cars.log & cars_pid=$!
build/travel-worker 2>/tmp/trip/travel.log & travel_pid=$!
id=$(sagactl --endpoint "$url" start trip_booking --input '{"trip_id": "t-1", "car": "compact", "hotel": "Hotel Lisboa", "flight": "TP 123"}')
if wait_for 60 bash -c "sagactl --endpoint '$url' --json show '$id' | grep -q '\"status\": *\"completed\"'"; then
  ok "one trip booked end to end on the packaged SDK"
else
  bad "the trip did not complete: $(sagactl --endpoint "$url" show "$id" 2>&1 | head -20)"
fi
kill -TERM "$cars_pid" "$travel_pid" "$sagad_pid"
wait "$cars_pid" "$travel_pid" "$sagad_pid"
# sagad stops its embedded PostgreSQL on a graceful stop; make sure nothing outlives the root.
pkill -u postgres 2>/dev/null || true
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
