#!/usr/bin/env bash
# t0025-log-json: --log-format json (or WEFT_LOG_FORMAT=json) makes every
# line a long-running role writes one JSON object with time, level, role,
# run, step and message: `weft dev` (stdout and stderr), the coordinators it
# starts (they inherit the format: coordinator.log, one object per event,
# carrying run and step), `weft scheduler`, `weft worker`; a bad format is a
# usage error naming it; the text format keeps its bytes.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"

# check_json_lines NAME ROLE FILE...: every line of the files is a JSON
# object with the six keys, of role ROLE; prints what is wrong.
check_json_lines() {
  local name=$1 role=$2
  shift 2
  local verdict
  verdict=$(python3 - "$role" "$@" <<'EOF_PY'
import json, re, sys
role, bad, n = sys.argv[1], [], 0
for path in sys.argv[2:]:
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        n += 1
        try:
            o = json.loads(line)
        except ValueError as e:
            bad.append("%s:%d: not JSON (%s): %r" % (path, i, e, line[:200]))
            continue
        keys = ["time", "level", "role", "run", "step", "message"]
        if not isinstance(o, dict) or any(k not in o for k in keys):
            bad.append("%s:%d: keys %s" % (path, i, sorted(o) if isinstance(o, dict) else o))
        elif o["role"] != role or o["level"] not in ("debug", "info", "warn", "error") \
                or not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["time"]) \
                or not isinstance(o["message"], str) or line.count("\n") != 1:
            bad.append("%s:%d: %r" % (path, i, o))
print("ok" if not bad and n else "%d lines; %s" % (n, "\n".join(bad[:5])))
EOF_PY
)
  check_eq "$name" ok "$verdict"
}

# -- weft dev and its coordinators -----------------------------------------------------
start_server --log-format json -l "$tmp/loc" || { not_ok "weft dev --log-format json starts"; test_done; }
check_has "its URL line is JSON and still carries the URL" '"message":"the web UI and API are at http://' "$(cat "$tmp/server.out")"
py_checks "$tmp/runs" <<'EOF_PY'
import sys
from weft_http import check, client
c = client()
ok = c.wait_run(c.post("/api/v1/jobs/loc/hello/launch", {}).json["run_id"])
bad = c.wait_run(c.post("/api/v1/jobs/loc/fixme/launch", {}).json["run_id"])
check("a run succeeds, another fails", ok["status"] == "success" and bad["status"] == "failure", (ok, bad))
open(sys.argv[2], "w").write("%s %s\n" % (ok["id"], bad["id"]))
EOF_PY
stop_server
check_eq "weft dev stops cleanly" 0 "$server_rc"
check_json_lines "every line weft dev wrote is a JSON object of role dev" dev "$tmp/server.out" "$tmp/server.err"
check_has "its stop is logged too" '"message":"stopping (Terminated)"' "$(cat "$tmp/server.out")"

read -r ok_run bad_run <"$tmp/runs"
check_json_lines "the coordinators it started inherit the format" coordinator \
  "$WEFT_HOME/runs/$ok_run/coordinator.log" "$WEFT_HOME/runs/$bad_run/coordinator.log"
check_py_file() { # NAME FILE SCRIPT: SCRIPT reads FILE as argv[1] and prints ok
  local verdict
  verdict=$(python3 -c "$3" "$2" 2>&1)
  check_eq "$1" ok "$verdict"
}
check_py_file "each event line names its run, step events their step" "$WEFT_HOME/runs/$bad_run/coordinator.log" '
import json, sys
run = sys.argv[1].split("/")[-2]
lines = [json.loads(l) for l in open(sys.argv[1])]
started = [o for o in lines if o["message"].startswith("check started")]
failed = [o for o in lines if o["step"] == "check" and o["level"] == "error"]
runlevel = [o for o in lines if o["step"] is None]
print("ok" if all(o["run"] == run for o in lines) and started and started[0]["step"] == "check"
      and failed and runlevel and any(o["message"].startswith("run %s failed" % run) for o in runlevel)
      else lines)'

# -- weft scheduler ----------------------------------------------------------------------
mkdir -p "$tmp/loc/schedules"
printf 'job: hello\ncron: "0 6 * * *"\ndefault: on\n' >"$tmp/loc/schedules/daily.yaml"
WEFT_LOG_FORMAT=json expect_exit -m "WEFT_LOG_FORMAT=json weft scheduler --once" 0 \
  "$WEFT_BIN" scheduler --once --no-dequeue --now 2026-01-01T05:00:00Z -l "$tmp/loc"
WEFT_LOG_FORMAT=json run "$WEFT_BIN" scheduler --once --no-dequeue --now 2026-01-01T06:00:30Z -l "$tmp/loc"
check_rc "a second turn, after the 06:00 fire time" 0
check_json_lines "the scheduler's lines are JSON of role scheduler" scheduler "$tmp/out"
check_has "saying what the turn did" '"message":"1 runs queued, ticks: 1 success' "$out"
expect_exit -m "--log-format text: the line keeps its bytes" 0 \
  "$WEFT_BIN" scheduler --once --no-dequeue --now 2026-01-01T06:00:40Z --log-format text -l "$tmp/loc"
check_eq "a text line as before" "weft scheduler: 0 runs queued, ticks: 0 success, 0 skipped, 0 failure, 0 taken by another scheduler; 0 sensors evaluated" "$out"

expect_exit -m "weft scheduler --log-format xml is a usage error" 2 "$WEFT_BIN" scheduler --once --log-format xml -l "$tmp/loc"
check_has "naming the value" "--log-format wants text or json, got 'xml'" "$err"
WEFT_LOG_FORMAT=yaml expect_exit -m "WEFT_LOG_FORMAT=yaml weft server is a usage error" 2 "$WEFT_BIN" server -l "$tmp/loc"
check_has "naming the variable" "WEFT_LOG_FORMAT wants text or json, got 'yaml'" "$err"

# -- weft worker and weft run coordinate -----------------------------------------------------
expect_exit -m "weft worker --log-format json without a broker" 1 "$WEFT_BIN" worker --log-format json
check_json_lines "its error is a JSON line of role worker" worker "$tmp/err"
check_has "saying why, at level error" '"level":"error","role":"worker"' "$err"
expect_exit -m "weft run coordinate of an ended run, JSON" 1 "$WEFT_BIN" run coordinate "$ok_run" --log-format json -l "$tmp/loc"
check_json_lines "its error is a JSON line of role coordinator" coordinator "$tmp/err"
check_has "naming the run" "\"run\":\"$ok_run\"" "$err"

# -- a worker that runs a step (needs the suite's RabbitMQ) ----------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "a JSON-logging worker running a step: WEFT_TEST_AMQP_URL is not set"
  test_done
fi
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$WEFT_SRC/tests/t/lib_queue.sh" || exit 1
amqp_setup
queue_instance
mkdir -p "$tmp/qloc/ops" "$tmp/qloc/jobs"
printf 'say:\n  queue: %s\n  run: echo said\n' "$qd" >"$tmp/qloc/ops/ops.yaml"
printf 'name: said\nops:\n  say: say\n' >"$tmp/qloc/jobs/said.yaml"
start_worker w1 "$qd" --log-format json
if wait_registered 1; then ok "the worker registers"; else not_ok "the worker registers" "$(cat "$tmp/w1.log")"; fi
expect_exit -m "a run whose step a worker runs" 0 "$WEFT_BIN" launch -l "$tmp/qloc" said --quiet
kill -TERM "$worker_pid"
wait "$worker_pid"
check_eq "the worker stops cleanly" 0 "$?"
check_json_lines "every line the worker wrote is a JSON object of role worker" worker "$tmp/w1.log"
check_has "with its id" '"worker":"w1"' "$(cat "$tmp/w1.log")"
test_done
