#!/usr/bin/env bash
# t0068-backfill-api: /api/v1/backfills: create a backfill over HTTP, follow
# its per-partition progress while the server's run queue starts the runs
# one at a time (max_concurrent_runs 1, with the waiting runs' queue_reason
# in the runs API), run it again for the failed partition only, and the
# errors of a bad request.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

# Every run waits at $GATE; 2026-01-02 fails until $FIXED exists.
mkdir -p loc/ops loc/jobs
cat >loc/ops/report.yaml <<'YAML'
report:
  config: {day: {type: string}}
  outputs: {result: string}
  run: |
    i=0
    while [ ! -e "$GATE" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    echo "partition=$WEFT_PARTITION_KEY config=$(cat "$WEFT_CONFIG")"
    if [ "$WEFT_PARTITION_KEY" = 2026-01-02 ] && [ ! -e "$FIXED" ]; then exit 3; fi
    printf '"%s"' "$WEFT_PARTITION_KEY" > "$WEFT_OUTPUTS/result"
YAML
printf 'name: daily\npartitions: {daily: {start: 2026-01-01}}\nops:\n  report: {uses: report}\n' \
  >loc/jobs/daily.yaml
printf 'name: plain\nops:\n  report: {uses: report, config: {day: x}}\n' >loc/jobs/plain.yaml
printf 'run_queue:\n  max_concurrent_runs: 1\n' >"$WEFT_HOME/weft.yaml"
export GATE=$tmp/gate FIXED=$tmp/fixed
start_server -l loc || { not_ok "weft dev starts"; test_done; }

py_checks "$tmp" <<'PY'
import os, sys, time
from weft_http import check, client
c = client()
tmp = sys.argv[2]

def wait_for(fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return None

body = {"job": "daily", "from": "2026-01-01", "to": "2026-01-03",
        "config": {"ops": {"report": {"config": {"day": "{{partition_key}}"}}}}, "tags": {"team": "data"}}
r = c.post("/api/v1/backfills", body)
check("POST /api/v1/backfills creates a backfill", r.status == 201 and r.json.get("launched") == 3
      and r.json.get("keys") == 3, r)
bid = r.json.get("backfill_id")

# One run at a time: the other two wait, and say why.
def queued_two_waiting():
    runs = c.get("/api/v1/runs?status=queued").json.get("runs", [])
    reasons = [x.get("queue_reason") for x in runs]
    return runs if len(runs) == 2 and all(w == "waiting: 1/1 runs in progress (max_concurrent_runs)" for w in reasons) else None
runs = wait_for(queued_two_waiting, 20)
check("two runs wait with their queue_reason in GET /api/v1/runs", runs,
      c.get("/api/v1/runs?status=queued").json)
if runs:
    d = c.get("/api/v1/runs/" + runs[0]["id"]).json
    check("the run detail has the queue_reason too",
          d["run"].get("queue_reason") == "waiting: 1/1 runs in progress (max_concurrent_runs)", d["run"])
    check("backfill runs carry their tags", runs[0]["tags"].get("weft/backfill") == bid
          and runs[0]["tags"].get("weft/partition", "").startswith("2026-01-0") and runs[0]["tags"].get("team") == "data",
          runs[0]["tags"])
b = c.get("/api/v1/backfills/" + bid).json["backfill"]
check("the detail counts 1 running and 2 queued", b["counts"]["running"] == 1 and b["counts"]["queued"] == 2
      and not b["done"], b)
lst = c.get("/api/v1/backfills").json["backfills"]
check("GET /api/v1/backfills lists it", [x["id"] for x in lst] == [bid] and lst[0]["keys"] == 3
      and "partitions" not in lst[0], lst)

open(os.path.join(tmp, "gate"), "w").close()
done = wait_for(lambda: (lambda x: x if x["done"] else None)(c.get("/api/v1/backfills/" + bid).json["backfill"]))
check("the backfill ends", done, c.get("/api/v1/backfills/" + bid).json)
if done:
    st = {p["key"]: p["status"] for p in done["partitions"]}
    check("per-partition status: 2026-01-02 failed, the others succeeded",
          st == {"2026-01-01": "success", "2026-01-02": "failure", "2026-01-03": "success"}, st)
    check("the counts say 2 succeeded, 1 failed", done["counts"]["succeeded"] == 2 and done["counts"]["failed"] == 1, done)
    check("every partition names its run", all(p["run_id"] for p in done["partitions"]), done)
    # Never two at once: the runs' start and end events do not overlap.
    spans = []
    for p in done["partitions"]:
        evs = c.get("/api/v1/runs/%s/events" % p["run_id"]).json["events"]
        t = {e["type"]: e["ts_ms"] for e in evs}
        end = t.get("run_success") or t.get("run_failure")
        spans.append((t.get("run_started"), end))
    spans.sort()
    check("max_concurrent_runs 1: no two runs overlapped", all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), spans)

open(os.path.join(tmp, "fixed"), "w").close()
r = c.post("/api/v1/backfills", body)
check("the same backfill again launches only the failed partition", r.status == 201 and r.json.get("backfill_id") == bid
      and r.json.get("launched") == 1, r)
done = wait_for(lambda: (lambda x: x if x["done"] else None)(c.get("/api/v1/backfills/" + bid).json["backfill"]))
check("it ends with 3/3 succeeded", done and done["counts"]["succeeded"] == 3, done)

def err(body, status, needle, name):
    r = c.post("/api/v1/backfills", body)
    check(name, r.status == status and needle in r.json.get("error", ""), r)
err({"job": "daily", "keys": ["2026-01-01", "1999-01-01"]}, 400, "no partition '1999-01-01'", "an unknown key is a 400")
err({"job": "daily", "from": "2026-01-03", "to": "2026-01-01"}, 400, "comes after", "from after to is a 400")
err({"job": "plain", "keys": ["a"]}, 400, "not partitioned", "a job without partitions is a 400")
err({"job": "nope", "keys": ["a"]}, 404, "no job 'nope'", "an unknown job is a 404")
err({"job": "daily", "keys": "2026-01-01"}, 400, "'keys' must be", "keys that are not a list are a 400")
err({"job": "daily"}, 400, "which partitions", "no range is a 400")
err({"job": "daily", "keys": ["2026-01-01"], "colour": 1}, 400, "unknown field 'colour'", "an unknown field is a 400")
err({"job": "daily", "keys": ["2026-01-05"], "config": {"ops": {"report": {"config": {"day": 5}}}}}, 400,
    "partition 2026-01-05: invalid run config", "an invalid run config names the partition")
r = c.get("/api/v1/backfills/nope")
check("an unknown backfill is a 404", r.status == 404, r)
check("bad requests launched nothing", len(c.get("/api/v1/runs?limit=500").json["runs"]) == 4)
PY

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
test_done
