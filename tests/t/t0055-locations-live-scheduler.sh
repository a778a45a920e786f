#!/usr/bin/env bash
# t0055-locations-live-scheduler: the whole of issue 8 at once. While one
# long run is in flight and the scheduler ticks, a registered location is
# modified, broken and removed under a running `weft dev`: nothing restarts,
# the long run finishes with its original code, each tick's run uses the
# code as it was at its tick, the broken file is reported as file:line:col
# (and the last good version stays served), and removing the location stops
# its schedule while the runs it made stay inspectable.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

loc=$tmp/app
export T0055_STATE=$tmp/state # signals live outside the location: not code
mkdir -p "$loc/ops" "$loc/jobs" "$loc/scripts" "$T0055_STATE"
cat >"$loc/ops/slow.yaml" <<'Y'
slow:
  config:
    label: {type: string, default: config-v1}
  outputs:
    result: string
  run: sh scripts/slow.sh
Y
cat >"$loc/scripts/slow.sh" <<'S'
touch "$T0055_STATE/started"
i=0
while [ ! -e "$T0055_STATE/go" ] && [ "$i" -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
label=$(sed -n 's/.*"label": *"\([^"]*\)".*/\1/p' "$WEFT_CONFIG")
printf '"%s/%s"' "$(cat marker.txt)" "$label" > "$WEFT_OUTPUTS/result"
S
cat >"$loc/ops/stamp.yaml" <<'Y'
stamp:
  outputs:
    result: string
  run: printf '"%s"' "$(cat marker.txt)" > "$WEFT_OUTPUTS/result"
Y
printf 'graph:\n  slow: slow\n' >"$loc/jobs/long.yaml"
# Ticks once a year (1 January, 00:00 UTC), so the real clock never fires it
# during the test: the test ticks it with `weft scheduler --once --now`.
cat >"$loc/jobs/stamped.yaml" <<'Y'
graph:
  stamp: stamp
schedules:
  - name: yearly_stamp
    cron: "0 0 1 1 *"
    default: on
Y
echo v1 >"$loc/marker.txt"

expect_exit -m "location add registers the folder" 0 "$WEFT_BIN" location add app "$loc"
start_server || { not_ok "weft dev starts on the registry"; test_done; }
ok "weft dev starts on the registry"
dev_pid=$server_pid

# A tick before the long run even starts: the schedule's first turn.
year=$(( $(date -u +%Y) + 1 ))
expect_exit -m "a tick runs the stamped job" 0 \
  "$WEFT_BIN" scheduler --once --now "${year}-01-01T00:00:10Z"
check_has "one run queued" "1 runs queued" "$out"

expect_exit -m "the long run launches detached" 0 "$WEFT_BIN" launch long --detach
long=$out
for _ in $(seq 200); do [ -e "$T0055_STATE/started" ] && break; sleep 0.05; done
check_eq "the long run's step is in flight" yes "$([ -e "$T0055_STATE/started" ] && echo yes)"

wait_final() { # RUN: its final status
  local s=
  for _ in $(seq 300); do
    s=$(store_query "SELECT status FROM runs WHERE id='$1'")
    case "$s" in success | failure | canceled) break ;; esac
    sleep 0.1
  done
  printf '%s' "$s"
}
result_of() { cat "$WEFT_HOME/artifacts/$1/$2/result" 2>/dev/null; }
tick_run() { # the run of the newest tick of yearly_stamp
  "$WEFT_BIN" schedule ticks yearly_stamp --format json >"$tmp/ticks.json" &&
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["run_ids"][0])' "$tmp/ticks.json"
}
first_tick=$(tick_run)
check_eq "the first tick's run succeeds" success "$(wait_final "$first_tick")"
check_eq "with the first code" '"v1"' "$(result_of "$first_tick" stamp)"

# -- modify: script, data file and an op's config default ---------------------------------
echo v2 >"$loc/marker.txt"
sed -i 's/config-v1/config-v2/' "$loc/ops/slow.yaml"
sleep 1.2 # the watcher reloads within a second
expect_exit -m "the scheduler ticks again after the change" 0 \
  "$WEFT_BIN" scheduler --once --now "$((year + 1))-01-01T00:00:10Z"
check_has "one run queued" "1 runs queued" "$out"
second_tick=$(tick_run)
check_eq "the second tick's run succeeds" success "$(wait_final "$second_tick")"
check_eq "with the new code" '"v2"' "$(result_of "$second_tick" stamp)"
check_eq "the long run is still in flight" started \
  "$(store_query "SELECT status FROM runs WHERE id='$long'")"

# -- break another file: reported with file:line:col, the rest goes on ---------------------
printf 'graph:\n  x: [unclosed\n' >"$loc/jobs/broken.yaml"
seen=
for _ in $(seq 40); do
  "$WEFT_BIN" location list >"$tmp/list.out" 2>&1
  grep -q 'broken.yaml:[0-9]*:[0-9]*' "$tmp/list.out" && seen=yes && break
  sleep 0.1
done
check_eq "location list shows the broken file as file:line:col" yes "$seen"
py_checks <<'PY'
import sys
import time
from weft_http import Client, check
c = Client(sys.argv[1])
def errors():
    locs = {l["name"]: l for l in c.get("/api/v1/locations").json["locations"]}
    return [e for e in locs.get("app", {}).get("errors") or []
            if e.get("file", "").endswith("/jobs/broken.yaml")]
t0 = time.monotonic()
while not errors() and time.monotonic() - t0 < 3: time.sleep(0.05)
errs = errors()
check("the API lists the broken file's error with line and column",
      errs and errs[0]["line"] == 3 and errs[0]["col"] == 1, errs)
jobs = sorted(j["name"] for j in c.get("/api/v1/jobs").json["jobs"] if j["location"] == "app")
check("the good jobs stay served", "long" in jobs and "stamped" in jobs, jobs)
PY
expect_exit -m "the scheduler still ticks the location with a broken file" 0 \
  "$WEFT_BIN" scheduler --once --now "$((year + 2))-01-01T00:00:10Z"
check_has "one run queued" "1 runs queued" "$out"
third_tick=$(tick_run)
check_eq "the third tick's run succeeds" success "$(wait_final "$third_tick")"

# -- the long run finishes with its original code --------------------------------------
touch "$T0055_STATE/go"
check_eq "the long run succeeds" success "$(wait_final "$long")"
check_eq "with the code and config it was launched with" '"v1/config-v1"' "$(result_of "$long" slow)"
rm -f "$T0055_STATE/started" "$T0055_STATE/go"
touch "$T0055_STATE/go"
expect_exit -m "the next long run" 0 "$WEFT_BIN" launch long
next_long=$(run_id_of)
check_eq "uses the new code and config" '"v2/config-v2"' "$(result_of "$next_long" slow)"
check_eq "the two runs recorded different code versions" 2 \
  "$(store_query "SELECT count(DISTINCT code_version) FROM runs WHERE id IN ('$long','$next_long')")"

# -- remove: the schedule stops, the runs stay ------------------------------------------
expect_exit -m "location remove" 0 "$WEFT_BIN" location remove app
before=$(store_query "SELECT count(*) FROM runs")
expect_exit -m "the scheduler runs after the removal" 0 \
  "$WEFT_BIN" scheduler --once --now "$((year + 3))-01-01T00:00:10Z"
check_eq "no run for the removed location's schedule" "$before" \
  "$(store_query "SELECT count(*) FROM runs")"
expect_exit -m "the removed location's runs stay inspectable" 0 "$WEFT_BIN" run show "$long"
check_eq "weft dev never restarted" yes "$(kill -0 "$dev_pid" 2>/dev/null && echo yes)"
py_checks <<'PY'
import sys
from weft_http import Client, check
c = Client(sys.argv[1])
jobs = [j["name"] for j in c.get("/api/v1/jobs").json["jobs"] if j["location"] == "app"]
check("the server no longer serves the removed location's jobs", jobs == [], jobs)
PY
stop_server
test_done
