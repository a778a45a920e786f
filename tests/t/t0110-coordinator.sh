#!/usr/bin/env bash
# t0110-coordinator: `weft coordinator`, the coordinator role: 300 runs
# launched through the CLI and the HTTP API while it is up are all driven by
# it (their coordinator field), `weft launch` (following) hands its run over
# and follows it, SIGTERM drains: the runs it held end (none stuck), and
# with no service launches coordinate in their own process again.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

mkdir -p loc/ops loc/jobs
printf 'noop: {run: "true"}\nnap: {run: "sleep 8"}\n' >loc/ops/ops.yaml
printf 'name: one\nops:\n  x: {uses: noop}\n' >loc/jobs/one.yaml
printf 'name: slow\nops:\n  x: {uses: nap}\n' >loc/jobs/slow.yaml
mark_sleeps loc

wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.05; done
  return 1
}
service_up() { [ "$(store_query "select count(*) from kv where key like 'coordinator/service/%'")" = 1 ]; }
all_final() { [ "$(store_query "select count(*) from runs where status not in ('success','failure','canceled')")" = 0 ]; }

# The instance exists before the service opens it (as after any launch).
expect_exit -m "a launch before any service" 0 "$WEFT_BIN" launch one -l loc
first=$(run_id_of)
# (a code version no run uses is dropped after 1 s here, not 60 s)
WEFT_COORD_CODE_CACHE_MS=1000 "$WEFT_BIN" coordinator >coord.out 2>&1 &
coord=$!
at_exit "kill $coord 2>/dev/null"
if wait_for 200 service_up; then ok "the coordinator heartbeats in the store"
else not_ok "the coordinator heartbeats in the store" "$(cat coord.out)"; fi
svc=$(store_query "select substr(key, length('coordinator/service/') + 1) from kv where key like 'coordinator/service/%'")
check_has "the service's id is host:pid:start" ":$coord:" "$svc"

# 250 runs through the CLI (detached, 10 launchers at a time) ...
for _ in $(seq 25); do
  pids=()
  for _ in $(seq 10); do
    "$WEFT_BIN" launch one -l loc --detach >>ids.txt 2>>launch.err &
    pids+=($!)
  done
  wait "${pids[@]}"
done
check_eq "250 detached launches print their run ids" 250 "$(wc -l <ids.txt | tr -d ' ')"
# ... and 50 through the HTTP API of a server (a process per run without
# the service; here handed to it).
start_server -l loc --no-auth
py_checks <<'PY'
import sys, json, urllib.request
url = sys.argv[1]
ok = 0
for i in range(50):
    req = urllib.request.Request(url + "/api/v1/jobs/loc/one/launch", data=b"{}",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        ok += r.status == 201 and "run_id" in json.load(r)
print("PASS 50 launches through the API" if ok == 50 else f"FAIL 50 launches through the API\t{ok} ok")
PY
wait_for 1200 all_final || not_ok "the 300 runs end" "$(store_query "select status, count(*) from runs group by status")"
check_eq "all 301 runs succeeded" "success|301" "$(store_query "select status, count(*) from runs group by status")"
check_eq "the 300 were coordinated by the service" 300 \
  "$(store_query "select count(*) from runs where coordinator='$svc'")"
check_eq "the first, before it, was not" 1 \
  "$(store_query "select count(*) from runs where id='$first' and coordinator<>'$svc'")"
check_eq "no coordinator process was spawned for them" 0 \
  "$(find "$WEFT_HOME/runs" -name coordinator.log | wc -l | tr -d ' ')"
check_eq "the inbox is empty" 0 "$(store_query "select count(*) from kv where key like 'coordinator/inbox/%'")"
# The location its runs used stays loaded no longer than that once they end.
versions() { store_query "select json_extract(value, '$.code_versions') from kv where key like 'coordinator/service/%'"; }
no_versions() { [ "$(versions)" = 0 ]; }
if wait_for 100 no_versions; then ok "the service drops a code version no run uses"
else not_ok "the service drops a code version no run uses" "code_versions: $(versions)"; fi

# `weft launch` in the foreground hands over and follows.
expect_exit -m "launch (following) succeeds" 0 "$WEFT_BIN" launch one -l loc
followed=$(run_id_of)
check_has "it shows the run's progress" "run $followed succeeded" "$out"
check_eq "the followed run was coordinated by the service" "$svc" \
  "$(store_query "select coordinator from runs where id='$followed'")"

# SIGTERM: the service stops taking runs and drains the ones it holds.
for _ in 1 2 3; do "$WEFT_BIN" launch slow -l loc --detach >>slow.txt; done
# (started, or already over on a machine so loaded that polling is slow)
started() { [ "$(store_query "select count(*) from runs where job='slow' and status in ('started','success')")" = 3 ]; }
wait_for 60 started || not_ok "the slow runs start" "$(store_query "select id, status from runs where job='slow'")"
# Their code version is loaded again, and kept while they hold it.
some_versions() { [ "$(versions)" = 1 ]; }
if wait_for 100 some_versions; then ok "the slow runs' code version is loaded while they run"
else not_ok "the slow runs' code version is loaded while they run" "code_versions: $(versions)"; fi
kill -TERM "$coord"
wait "$coord"
check_eq "the service exits 0 on SIGTERM" 0 "$?"
check_has "it says it stopped" "stopped" "$(cat coord.out)"
check_eq "the runs it held finished (drained, none stuck)" "success|3" \
  "$(store_query "select status, count(*) from runs where job='slow' group by status")"
check_eq "its heartbeat is gone" 0 "$(store_query "select count(*) from kv where key like 'coordinator/service/%'")"

# No service: launches coordinate in their own process again (after the
# launchers' one-second view of the heartbeat).
sleep 1.1
expect_exit -m "launch without a service succeeds" 0 "$WEFT_BIN" launch one -l loc
alone=$(run_id_of)
check_eq "it was coordinated by its launcher" 1 \
  "$(store_query "select count(*) from runs where id='$alone' and coordinator<>'$svc'")"
py_checks <<'PY'
import sys, json, time, urllib.request
url = sys.argv[1]
req = urllib.request.Request(url + "/api/v1/jobs/loc/one/launch", data=b"{}",
                             headers={"Content-Type": "application/json"})
rid = json.load(urllib.request.urlopen(req))["run_id"]
st = None
for _ in range(200):
    st = json.load(urllib.request.urlopen(url + "/api/v1/runs/" + rid)).get("run", {}).get("status")
    if st in ("success", "failure", "canceled"): break
    time.sleep(0.05)
print("PASS an API launch without a service succeeds" if st == "success"
      else f"FAIL an API launch without a service succeeds\t{st}")
PY
stop_server
all_final && ok "no run is left unfinished" || not_ok "no run is left unfinished" \
  "$(store_query "select id, status from runs where status not in ('success','failure','canceled')")"
test_done
