#!/usr/bin/env bash
# The developer kit as a user meets it: `cmake --install` to a prefix, the prefix moved
# (the install is relocatable), examples/standalone built against it with
# find_package(Sagaflow) alone, its daemon and two workers run, and one trip booked end to
# end and one undone; pkg-config builds a worker too, and an incompatible version is refused.
# Usage: standalone_test.sh BUILD_DIR
set -uo pipefail
bin=${1:?build dir}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
example=$root/examples/standalone

echo "== docs/tutorial.md shows the example's code, file by file"
for f in "$example"/CMakeLists.txt "$example"/*.hpp "$example"/*.cpp; do
  name=$(basename "$f")
  # The fenced block after the line "`examples/standalone/NAME`:".
  block=$(awk -v head="\`examples/standalone/$name\`:" '
    $0 == head { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$root/docs/tutorial.md")
  if [ -n "$block" ] && [ "$block" = "$(cat "$f")" ]; then ok "tutorial: $name"; else bad "docs/tutorial.md does not show $name as it is"; fi
done

echo "== install, move, build the example out of tree"
if cmake --install "$bin" --prefix "$dir/first" >"$dir/install.log" 2>&1; then ok "cmake --install"; else bad "cmake --install: $(tail -5 "$dir/install.log")"; fi
mv "$dir/first" "$dir/prefix"
prefix=$dir/prefix
for f in bin/sagad bin/sagactl lib/cmake/Sagaflow/SagaflowConfig.cmake lib/cmake/Sagaflow/SagaflowConfigVersion.cmake \
         lib/pkgconfig/sagaflow-worker.pc include/sagaflow/worker/main.hpp; do
  [ -f "$prefix/$f" ] || bad "installed: $f"
done
# Nothing of the build or source tree may leak into the installed package files.
if grep -rlE "$root|$bin" "$prefix/lib/cmake" "$prefix/lib/pkgconfig" >/dev/null 2>&1; then
  bad "installed CMake or pkg-config files name the build or source tree: $(grep -rlE "$root|$bin" "$prefix/lib" | head -3)"
else
  ok "the installed CMake and pkg-config files name no build or source path"
fi
if cmake -S "$example" -B "$dir/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     >"$dir/configure.log" 2>&1 && cmake --build "$dir/build" -j2 >"$dir/build.log" 2>&1; then
  ok "examples/standalone builds against the moved prefix"
else
  bad "examples/standalone: $(tail -20 "$dir/configure.log" "$dir/build.log")"; e2e_result; exit 1
fi

echo "== a find_package asking for another version"
mkdir -p "$dir/wrong"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(wrong LANGUAGES CXX)\nfind_package(Sagaflow 1.0 REQUIRED)\n' >"$dir/wrong/CMakeLists.txt"
out=$(cmake -S "$dir/wrong" -B "$dir/wrong/build" -DCMAKE_PREFIX_PATH="$prefix" 2>&1); rc=$?
if [ "$rc" != 0 ] && grep -q "compatible with requested version \"1.0\"" <<<"$out" && grep -q "version: 0.1.0" <<<"$out"; then
  ok "find_package(Sagaflow 1.0) fails with CMake's version message"
else
  bad "find_package(Sagaflow 1.0) (exit $rc): $(head -c 400 <<<"$out")"
fi

echo "== pkg-config"
if flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs sagaflow-worker) &&
   read -ra flag_words <<<"$flags" &&
   g++ -O1 -o "$dir/cars-pc" "$example/cars_worker.cpp" "$example/cars.cpp" "${flag_words[@]}" 2>"$dir/pc.log"; then
  ok "a worker builds with pkg-config --cflags --libs sagaflow-worker alone"
else
  bad "pkg-config build: $(tail -5 "$dir/pc.log" 2>/dev/null)"
fi

echo "== the shared library (libsagaflow.so, pkg-config sagaflow, Sagaflow::shared)"
soname=$(objdump -p "$prefix/lib/libsagaflow.so" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" = libsagaflow.so.0.1 ] && [ -f "$prefix/lib/libsagaflow.so.0.1.0" ]; then
  ok "libsagaflow.so.0.1.0 installed, SONAME $soname"
else
  bad "libsagaflow.so: SONAME '$soname' ($(ls "$prefix/lib" | grep -i '\.so' | head -3))"
fi
if flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs sagaflow) &&
   read -ra flag_words <<<"$flags" &&
   g++ -O1 -o "$dir/cars-so" "$example/cars_worker.cpp" "$example/cars.cpp" "${flag_words[@]}" 2>"$dir/so.log" &&
   grep -q "libsagaflow.so.0.1 => $prefix/lib/" <<<"$(LD_LIBRARY_PATH=$prefix/lib ldd "$dir/cars-so")" &&
   LD_LIBRARY_PATH=$prefix/lib "$dir/cars-so" --help >/dev/null; then
  ok "a worker built with pkg-config sagaflow loads libsagaflow.so.0.1 and runs (--help)"
else
  bad "shared worker: $(tail -5 "$dir/so.log" 2>/dev/null)"
fi
mkdir -p "$dir/shared"
cp "$example"/cars.cpp "$example"/cars_worker.cpp "$example"/services.hpp "$example"/trip.hpp "$dir/shared/"
printf '%s\n' 'cmake_minimum_required(VERSION 3.25)' 'project(shared_worker LANGUAGES CXX)' \
  'find_package(Sagaflow 0.1 REQUIRED)' 'add_executable(cars-worker cars_worker.cpp cars.cpp)' \
  'target_link_libraries(cars-worker PRIVATE Sagaflow::shared)' >"$dir/shared/CMakeLists.txt"
if cmake -S "$dir/shared" -B "$dir/shared/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >"$dir/shared.log" 2>&1 &&
   cmake --build "$dir/shared/build" >>"$dir/shared.log" 2>&1 &&
   grep -q "libsagaflow.so.0.1 => $prefix/lib/" <<<"$(ldd "$dir/shared/build/cars-worker")" &&
   "$dir/shared/build/cars-worker" --help >/dev/null; then
  ok "a worker linked to Sagaflow::shared with CMake finds libsagaflow.so.0.1 in the prefix (its RUNPATH) and runs"
else
  bad "Sagaflow::shared: $(tail -8 "$dir/shared.log")"
fi

echo "== the example's test kit cases (Sagaflow::testing, every failure point)"
if [ ! -x "$dir/build/trip-test" ]; then
  bad "trip-test was not built (GoogleTest not found?)"
else
  "$dir/build/trip-test" >"$dir/kit.log" 2>&1; rc=$?
  passed=$(grep -c '^\[       OK \] FailurePoints/TripSaga.Holds/' "$dir/kit.log")
  if [ "$rc" = 0 ] && [ "$passed" = 19 ] && grep -q '^\[       OK \] TripSaga.AFullFlightUndoesTheHotelThenTheCar' "$dir/kit.log"; then
    ok "trip-test: 19 failure-point cases (1 without faults + 3 steps x 6 kinds) and the full flight pass"
  else
    bad "trip-test (exit $rc, $passed cases passed): $(grep -E 'FAILED|PROBLEM' "$dir/kit.log" | head -5)"
  fi
fi

echo "== the example's daemon and workers"
"$dir/build/trip-sagad" --data-dir "$dir/data" --worker-endpoint "ipc://$dir/w.sock" --http-listen 127.0.0.1:0 \
  2>"$dir/sagad.log" & pids+=($!)
url=$(sagad_url "$dir/sagad.log" 90) || { cat "$dir/sagad.log"; exit 1; }
dsn="host=$dir/data/pg port=5432 user=postgres dbname=postgres passfile=$dir/data/pg/pgpass"
"$dir/build/cars-worker" --dsn "$dsn" --endpoint "ipc://$dir/w.sock" 2>"$dir/cars.log" & pids+=($!)
SAGAFLOW_DSN=$dsn SAGAFLOW_ENDPOINT=ipc://$dir/w.sock "$dir/build/travel-worker" 2>"$dir/travel.log" & pids+=($!)
if wait_for 30 bash -c "[ \$('$ctl' --endpoint '$url' --json workers | grep -c '\"id\"') -ge 2 ]"; then
  ok "both workers registered (one configured by flags, one by SAGAFLOW_* variables)"
else
  bad "workers did not register: $(tail -3 "$dir/cars.log" "$dir/travel.log")"
fi
booked=$(sagactl start trip_booking --input '{"trip_id": "t-1", "car": "compact", "hotel": "Hotel Lisboa", "flight": "TP 123"}')
undone=$(sagactl start trip_booking --input '{"trip_id": "t-2", "car": "van", "hotel": "Hotel Porto", "flight": "full"}')
status_of() { "$ctl" --endpoint "$url" --json show "$1" | grep -oE '"status": *"[a-z]+"' | head -1 | grep -oE '[a-z]+"$' | tr -d '"'; }
if wait_for 60 bash -c "[ \"\$('$ctl' --endpoint '$url' --json show '$booked' | grep -c '\"status\": *\"completed\"')\" -ge 1 ]"; then
  ok "trip t-1 completed"
else
  bad "trip t-1: $(status_of "$booked")"
fi
if wait_for 60 bash -c "[ \"\$('$ctl' --endpoint '$url' --json show '$undone' | grep -c '\"status\": *\"compensated\"')\" -ge 1 ]"; then
  ok "trip t-2 (no flight) compensated"
else
  bad "trip t-2: $(status_of "$undone")"
fi
shown=$(sagactl show "$undone" 2>&1)
if grep -q "no seat on any flight for trip t-2" <<<"$shown"; then
  ok "the flight's Permanent reason is in the saga's history"
else
  bad "t-2 history lacks the Permanent reason: $(head -c 600 <<<"$shown")"
fi
# The attempts table: one row per attempt (AT STEP PHASE ATTEMPT OUTCOME ...).
flight_runs=$(grep -cE '[[:space:]]book_flight[[:space:]]+forward[[:space:]]+[0-9]+[[:space:]]+fail' <<<"$shown")
if [ "$flight_runs" = 1 ]; then ok "the permanent failure took one attempt, not retried"; else bad "book_flight attempts: $flight_runs"; fi
rows=$(psql "$dsn" -qAtX -c "SELECT string_agg(trip_id || ':' || returned, ',' ORDER BY trip_id) FROM cars.rentals;
  SELECT string_agg(trip_id || ':' || kind || ':' || cancelled, ',' ORDER BY trip_id, kind) FROM travel.bookings" | paste -sd' ')
if [ "$rows" = "t-1:false,t-2:true t-1:flight:false,t-1:hotel:false,t-2:hotel:true" ]; then
  ok "business rows: t-1 rented and booked; t-2's car returned and hotel cancelled, no flight"
else
  bad "business rows: $rows"
fi
kill -TERM "${pids[1]}"
if wait "${pids[1]}"; then ok "SIGTERM stops a worker with exit 0"; else bad "the cars worker exited $? on SIGTERM"; fi
out=$("$dir/build/cars-worker" --endpoint "ipc://$dir/w.sock" 2>&1); rc=$?
if [ "$rc" = 2 ] && grep -q -- "--dsn" <<<"$out"; then ok "a worker without --dsn exits 2 naming it"; else bad "no --dsn (exit $rc): $out"; fi
e2e_result
