#!/usr/bin/env bash
# t0101-run-deadline: run deadlines. A job's `timeout:` ends a stuck run
# FAILED with "run timeout after 2s", its steps canceled and their processes
# gone; the run config's execution.timeout overrides it; `sla:` emits one
# sla_missed event and the run goes on; with RabbitMQ (WEFT_TEST_AMQP_URL),
# a step on a queue worker is canceled by the run's timeout too.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/deadline" "$tmp/loc"
mark_sleeps "$tmp/loc"
at_exit "pkill -9 -f 'sleep 60.$$' 2>/dev/null; true"
sleepers() { survivors "sleep 60.$$"; }
events_of() { # events_of ID TYPE: how many TYPE events the run has
  store_query "select count(*) from events where run_id='$1' and type='$2'"
}
# A 2 s deadline on a loaded machine: generous bounds.
within() { # within NAME SECONDS START: the command that began at START took less
  local took=$(($(date +%s) - $3))
  if [ "$took" -lt "$2" ]; then ok "$1"; else not_ok "$1" "took ${took}s"; fi
}

# -- a job's timeout: a stuck run ends itself --------------------------------------------
t0=$(date +%s)
expect_exit -m "a stuck run with timeout: 2s fails" 1 "$WEFT_BIN" launch stuck -l loc
within "it ends within 20 s, not after its 60 s step" 20 "$t0"
id=$(run_id_of)
check_has "the launch reports the timeout" "failed in" "$out"
check_has "with its message" "run timeout after 2s" "$out"
check_eq "the run is failed with the message" "failure|run timeout after 2s" \
  "$(store_query "select status, message from runs where id='$id'")"
check_eq "its steps are canceled, the running one and the waiting one" \
  "first|canceled
second|canceled" "$(store_query "select step, status from steps where run_id='$id' order by step")"
check_has "the running step says why" "run timeout after 2s" \
  "$(store_query "select message from steps where run_id='$id' and step='first'")"
check_eq "the step's sleep process is gone" "" "$(sleepers)"
check_eq "one run_timeout and one run_failure event, no cancel of the run" "1|1|0|0" \
  "$(events_of "$id" run_timeout)|$(events_of "$id" run_failure)|$(events_of "$id" run_canceling)|$(events_of "$id" run_canceled)"
expect_exit -m "weft run events --type run_timeout" 0 "$WEFT_BIN" run events "$id" --type run_timeout --format json
check_py "the event names the timeout as written" '
import json,sys
e=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
p=e[0]["payload"] if len(e)==1 else {}
p=json.loads(p) if isinstance(p, str) else p
print("ok" if e[0]["type"]=="run_timeout" and p.get("timeout")=="2s" and p.get("message")=="run timeout after 2s" else e)'

# -- the run config's execution.timeout ---------------------------------------------------
rm -f loc/long.started
printf 'execution:\n  timeout: 2s\n' >rc.yaml
t0=$(date +%s)
expect_exit -m "execution: {timeout: 2s} gives a job without one a deadline" 1 \
  "$WEFT_BIN" launch open -l loc -c rc.yaml
within "it ends within 20 s" 20 "$t0"
id=$(run_id_of)
check_eq "failed by its run config's timeout" "failure|run timeout after 2s" \
  "$(store_query "select status, message from runs where id='$id'")"
check_eq "no sleep process left" "" "$(sleepers)"
t0=$(date +%s)
expect_exit -m "--set execution.timeout=3s overrides the job's 2s" 1 \
  "$WEFT_BIN" launch stuck -l loc --set execution.timeout=3s
within "it ends within 20 s" 20 "$t0"
id=$(run_id_of)
check_eq "the run config's deadline wins" "failure|run timeout after 3s" \
  "$(store_query "select status, message from runs where id='$id'")"
check_py "and it held the run at least 3 s" "
import sys
print('ok' if int('$(store_query "select ended_ms - started_ms from runs where id='$id'")') >= 3000 else 'too short')"
expect_exit -m "a bad execution.timeout is refused before any run" 1 \
  "$WEFT_BIN" launch stuck -l loc --set execution.timeout=soon
check_has "naming the field" "execution: timeout must be a duration" "$err"

# -- a detached run ends itself too -------------------------------------------------------
expect_exit -m "a stuck run launched detached" 0 "$WEFT_BIN" launch stuck -l loc --detach
id=$(head -n 1 "$tmp/out")
status=
for _ in $(seq 200); do
  status=$(store_query "select status from runs where id='$id'")
  [ "$status" = failure ] && break
  sleep 0.1
done
check_eq "its coordinator ends it by its deadline" failure "$status"
check_eq "nothing of it still runs" "" "$(sleepers)"

# -- sla: observed, not enforced -------------------------------------------------------------
expect_exit -m "a 3 s run with sla: 1s still succeeds" 0 "$WEFT_BIN" launch late -l loc
id=$(run_id_of)
late_id=$id
check_eq "it emitted one sla_missed event" 1 "$(events_of "$id" sla_missed)"
check_eq "the run succeeded" success "$(store_query "select status from runs where id='$id'")"
expect_exit -m "weft run events shows it" 0 "$WEFT_BIN" run events "$id"
check_has "with the sla as written" "run $id missed its sla of 1s" "$out"
expect_exit -m "an sla the run keeps" 0 "$WEFT_BIN" launch late -l loc --set execution.sla=1h
id=$(run_id_of)
check_eq "emits nothing" 0 "$(events_of "$id" sla_missed)"

# -- through the HTTP API: a launch with execution.timeout, the events listed ---------------
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1
rm -f loc/long.started
if start_server -l "$tmp/loc"; then ok "weft dev starts"; else not_ok "weft dev starts"; fi
py_checks "$late_id" <<'PY'
import sys, time
from weft_http import check, client
c = client()
late = sys.argv[2]
r = c.get("/api/v1/runs/%s/events?type=sla_missed" % late)
evs = r.json.get("events", []) if r.json else []
check("GET events?type=sla_missed lists the one event", r.status == 200 and len(evs) == 1
      and evs[0]["type"] == "sla_missed" and evs[0]["payload"].get("sla") == "1s", r)
r = c.post("/api/v1/jobs/loc/open/launch", {"run_config": {"execution": {"timeout": "2s"}}})
run = r.json.get("run_id", "") if r.json else ""
check("launch with execution: {timeout: 2s}: 201", r.status == 201 and len(run) == 12, r)
st, evs, ended = c.sse("/api/v1/runs/%s/events/stream" % run, timeout=60)
types = [e["event"] for e in evs]
check("its event stream shows run_timeout, then run_failure, and ends",
      ended and "run_timeout" in types and types[-1] == "run_failure", types)
r = c.get("/api/v1/runs/%s" % run)
j = r.json or {}
run_doc = j.get("run", j)
check("the run is failed with the timeout's message", run_doc.get("status") == "failure"
      and run_doc.get("message") == "run timeout after 2s", j)
r = c.post("/api/v1/jobs/loc/open/launch", {"run_config": {"execution": {"timeout": "soon"}}})
check("a bad execution.timeout is a 4xx naming it", 400 <= r.status < 500
      and "timeout must be a duration" in r.body.decode("utf-8", "replace"), r)
PY
stop_server
check_eq "no sleep process left after the API's run" "" "$(sleepers)"

# -- a step on a queue worker -------------------------------------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "WEFT_TEST_AMQP_URL is not set (a queue worker's step canceled by the run timeout)"
  test_done
fi
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1
amqp_setup ""
queue_instance ""
cat >>loc/ops/ops.yaml <<YAML
queued_sleep:
  queue: $qd
  run: echo started; sleep 60.$$
YAML
printf 'timeout: 2s\nops:\n  w: queued_sleep\n' >loc/jobs/remote.yaml
start_worker wd "$qd"
if wait_registered 1; then ok "a worker registers"; else not_ok "a worker registers" "$(cat "$tmp/wd.log")"; fi
t0=$(date +%s)
expect_exit -m "a run whose step is on a worker times out" 1 "$WEFT_BIN" launch remote -l loc
within "within 20 s" 20 "$t0"
id=$(run_id_of)
check_eq "failed by its timeout" "failure|run timeout after 2s" \
  "$(store_query "select status, message from runs where id='$id'")"
check_eq "its step canceled" canceled "$(store_query "select status from steps where run_id='$id' and step='w'")"
check_has "the worker killed the step" "canceling $id/w/" "$(cat "$tmp/wd.log")"
check_eq "no step process is left on the worker" "" "$(sleepers)"
test_done
