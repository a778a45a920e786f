#!/usr/bin/env bash
# t0020-http-api: the HTTP API against a real `weft dev`: jobs, launch, the
# event stream to the end of a run, logs, cancel, re-execution from a
# failure, run config errors with line and column, pages of runs, reload.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
rm -f "$tmp/loc/flag"
start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }
ok "weft dev starts and prints its URL"
check_has "it says where the UI is" "the web UI and API are at $url/" "$(cat "$tmp/server.out")"

py_checks "$tmp/loc" <<'EOF'
import os, time
from weft_http import check, client
c = client()
loc = __import__("sys").argv[2]

r = c.get("/healthz")
check("GET /healthz", r.status == 200 and r.json == {"ok": True, "version": "0.1.0"}, r)

r = c.get("/api/v1/locations")
locs = r.json.get("locations", [])
check("GET /api/v1/locations lists the location", r.status == 200 and len(locs) == 1
      and locs[0]["name"] == "loc" and locs[0]["jobs"] == 3 and locs[0]["errors"] == [], r)

r = c.get("/api/v1/jobs")
jobs = {j["name"]: j for j in r.json.get("jobs", [])}
check("GET /api/v1/jobs", r.status == 200 and set(jobs) == {"hello", "fixme", "sleepy"}
      and jobs["hello"] == {"location": "loc", "name": "hello",
                            "description": "Says hello, then shouts it.",
                            "tags": {"team": "http-tests"}, "ops": 2, "valid": True}, r)

r = c.get("/api/v1/jobs/loc/hello")
j = r.json
check("GET a job: ops by level, edges", r.status == 200 and [o["name"] for o in j["ops"]] == ["hello", "shout"]
      and j["edges"] == [{"from": "hello", "output": "result", "to": "shout", "input": "text"}], r)
check("the job's default run config is YAML with the defaults",
      "greeting: hello" in j.get("default_run_config", "") and "times: 3" in j["default_run_config"]
      and "name: world" in j["default_run_config"], j.get("default_run_config"))
check("an unknown job is 404", c.get("/api/v1/jobs/loc/nope").status == 404)
check("an unknown location is 404", c.get("/api/v1/jobs/nowhere/hello").status == 404)

r = c.post("/api/v1/jobs/loc/hello/validate", {"run_config": {"ops": {"hello": {"config": {"times": 2}}}}})
check("validate: a good run config resolves", r.status == 200 and r.json["valid"] is True
      and r.json["resolved"]["ops"]["hello"]["config"] == {"greeting": "hello", "times": 2}, r)
bad = "ops:\n  hello:\n    config:\n      times: many\n      colour: red\n"
r = c.post("/api/v1/jobs/loc/hello/validate", {"run_config": bad})
d = r.json.get("details", [])
check("validate: a bad run config is 400 with every error", r.status == 400 and len(d) == 2, r)
check("each detail has file, line, col and the CLI's message",
      all(set(x) == {"file", "line", "col", "message"} and x["file"] == "<run config>" for x in d)
      and d[0]["line"] == 4 and d[0]["col"] == 14 and "times" in d[0]["message"]
      and d[1]["line"] == 5 and "colour" in d[1]["message"], d)
r = c.post("/api/v1/jobs/loc/hello/launch", {"run_config": {"ops": {"nope": {}}}})
check("launch: a bad run config is 400 and records no run", r.status == 400
      and "nope" in r.json["details"][0]["message"] and c.get("/api/v1/runs").json["runs"] == [], r)
r = c.post("/api/v1/jobs/loc/hello/launch", {"run_config": 7})
check("launch: run_config of the wrong type is 400", r.status == 400
      and r.json["details"][0]["field"] == "run_config", r)
r = c.post("/api/v1/jobs/loc/hello/launch", {"tags": {"k": 1}})
check("launch: tags must be strings", r.status == 400, r)
r = c.post("/api/v1/jobs/loc/hello/launch", b'{"run_config": ')
check("launch: a body that is not JSON is 400 with its line and column", r.status == 400
      and r.json["details"][0]["file"] == "<request body>" and r.json["details"][0]["line"] == 1, r)

# launch, then follow the run's events to its end
r = c.post("/api/v1/jobs/loc/hello/launch",
           {"run_config": {"ops": {"hello": {"config": {"times": 5}}}}, "tags": {"who": "t0020"}})
run = r.json.get("run_id", "")
check("launch: 201 with the run id", r.status == 201 and len(run) == 12, r)
st, evs, ended = c.sse("/api/v1/runs/%s/events/stream" % run, timeout=60)
types = [e["event"] for e in evs]
check("the event stream runs to run_success and then ends", st == 200 and ended
      and types[0] == "run_queued" and types[-1] == "run_success", types)
check("each message carries the event id and the event as data",
      all(int(e["id"]) == e["data"]["id"] and e["data"]["type"] == e["event"] for e in evs), evs[:2])
check("the stream has every step event", types.count("step_succeeded") == 2
      and "log" in types and "materialization" in types, types)
last = int(evs[len(evs) // 2]["id"])
st, evs2, _ = c.sse("/api/v1/runs/%s/events/stream" % run, headers={"Last-Event-ID": str(last)})
check("Last-Event-ID resumes after that event", [int(e["id"]) for e in evs2] ==
      [int(e["id"]) for e in evs if int(e["id"]) > last], evs2[:1])
st, evs3, _ = c.sse("/api/v1/runs/%s/events/stream?after=%d" % (run, last))
check("after= does the same", len(evs3) == len(evs2), evs3[:1])

r = c.get("/api/v1/runs/" + run)
d = r.json
check("GET a run: its row and steps", r.status == 200 and d["run"]["status"] == "success"
      and d["run"]["steps"] == {"succeeded": 2} and d["plan"] == ["hello", "shout"]
      and d["run"]["tags"].get("who") == "t0020" and d["run"]["tags"].get("team") == "http-tests", d.get("run"))
check("GET a run: outputs, materializations, logs", [o["value"] for o in d["outputs"]] == ["hi world", "HI WORLD"]
      and d["materializations"][0]["asset"] == "greetings" and d["materializations"][0]["step"] == "hello"
      and d["logs"]["hello"]["stdout_bytes"] > 0 and d["logs"]["hello"]["stderr_bytes"] == 10, d)
check("a run id is never abbreviated", c.get("/api/v1/runs/" + run[:6]).status == 404)

r = c.get("/api/v1/runs/%s/logs/hello" % run)
want = "".join("line %d: héllo\n" % i for i in range(1, 6)).encode()
check("logs: the step's stdout", r.status == 200 and r.body == want
      and r.headers["x-weft-log-size"] == str(len(want)) and r.headers["content-type"].startswith("text/plain"), r)
r = c.get("/api/v1/runs/%s/logs/hello?offset=7" % run)
check("logs: from a byte offset", r.body == want[7:] and r.headers["x-weft-log-size"] == str(len(want)), r)
r = c.get("/api/v1/runs/%s/logs/hello?offset=100000" % run)
check("logs: an offset past the end is empty", r.status == 200 and r.body == b"", r)
r = c.get("/api/v1/runs/%s/logs/hello?stream=stderr" % run)
check("logs: stderr", r.body == b"a warning\n", r)
check("logs: a bad stream is 400", c.get("/api/v1/runs/%s/logs/hello?stream=both" % run).status == 400)
check("logs: an unknown step is 404", c.get("/api/v1/runs/%s/logs/nope" % run).status == 404)
check("logs: an unknown attempt is 404", c.get("/api/v1/runs/%s/logs/hello?attempt=2" % run).status == 404)
st, chunks, ended = c.sse("/api/v1/runs/%s/logs/hello/stream" % run)
text = "".join(e["data"]["text"] for e in chunks if e["event"] == "chunk")
check("log stream: the chunks make the file, then end", ended and text.encode() == want
      and chunks[-1]["event"] == "end" and chunks[-1]["data"] == {"attempt": 1, "offset": len(want)}, chunks)

r = c.get("/api/v1/runs/%s/events?limit=3" % run)
p1 = r.json
r = c.get("/api/v1/runs/%s/events?limit=3&after=%d" % (run, p1["cursor"]))
p2 = r.json
allev = c.get("/api/v1/runs/%s/events" % run).json["events"]
check("events: pages follow the cursor", [e["id"] for e in p1["events"] + p2["events"]] == [e["id"] for e in allev[:6]]
      and p1["cursor"] == p1["events"][-1]["id"], (p1, p2))
check("events: shaped as API.md says", set(allev[0]) == {"id", "ts_ms", "step", "type", "payload"}, allev[0])
r = c.get("/api/v1/runs/%s/events?type=step_started,step_succeeded&step=shout" % run)
check("events: filtered by type and step", [e["type"] for e in r.json["events"]] == ["step_started", "step_succeeded"], r)
check("events: an unknown type is 400", c.get("/api/v1/runs/%s/events?type=bogus" % run).status == 400)

# cancel: a run napping in its first step
r = c.post("/api/v1/jobs/loc/sleepy/launch", {})
nap = r.json["run_id"]
st, evs, _ = c.sse("/api/v1/runs/%s/events/stream" % nap, until=lambda e: e["event"] == "step_started", timeout=30)
r = c.post("/api/v1/runs/%s/cancel" % nap)
check("cancel a running run: 202 canceling", r.status == 202 and r.json == {"status": "canceling"}, r)
st, evs, ended = c.sse("/api/v1/runs/%s/events/stream" % nap, timeout=30)
check("the canceled run's stream ends with run_canceled", ended and evs[-1]["event"] == "run_canceled",
      [e["event"] for e in evs])
r = c.post("/api/v1/runs/%s/cancel" % nap)
check("cancel an ended run: 409", r.status == 409, r)
check("cancel an unknown run: 404", c.post("/api/v1/runs/ffffffffffff/cancel").status == 404)
run_row = c.get("/api/v1/runs/" + nap).json
check("the steps after it were canceled", run_row["run"]["status"] == "canceled"
      and run_row["run"]["steps"].get("canceled", 0) == 2, run_row["run"])

# re-execute from the failure once the flag exists
r = c.post("/api/v1/jobs/loc/fixme/launch", {})
f1 = r.json["run_id"]
row = c.wait_run(f1)
check("a run that fails", row["status"] == "failure" and "check" in row["message"], row)
r = c.post("/api/v1/runs/%s/reexecute" % f1, {"steps": ["chek"]})
check("reexecute an unknown step: 400 with a suggestion", r.status == 400 and "did you mean 'check'" in r.json["error"], r)
r = c.post("/api/v1/runs/%s/reexecute" % f1, {})
check("reexecute without a selection: 400", r.status == 400 and r.json["details"][0]["field"] == "from_failure", r)
r = c.post("/api/v1/runs/%s/reexecute" % f1, {"from_failure": "yes"})
check("reexecute: from_failure of the wrong type: 400", r.status == 400, r)
r = c.post("/api/v1/runs/%s/reexecute" % f1, {"from_failure": True, "steps": ["check"]})
check("reexecute: both selections: 400", r.status == 400, r)
open(os.path.join(loc, "flag"), "w").close()
r = c.post("/api/v1/runs/%s/reexecute" % f1, {"from_failure": True})
f2 = r.json.get("run_id", "")
check("reexecute from failure: 201", r.status == 201 and f2 and f2 != f1, r)
row = c.wait_run(f2)
check("the re-execution succeeds and records its parent", row["status"] == "success"
      and row["parent_run_id"] == f1 and row["root_run_id"] == f1
      and row["tags"].get("weft/parent_run_id") == f1, row)
d = c.get("/api/v1/runs/" + f2).json
check("it reused the step that had succeeded", {s["step"]: s["status"] for s in d["steps"]}
      == {"first": "succeeded", "check": "succeeded"} and d["steps"][0]["message"].startswith("reused"), d["steps"])
r = c.post("/api/v1/runs/%s/reexecute" % f2, {"from_failure": True})
check("reexecute a run with nothing failed: 400", r.status == 400 and "nothing to re-execute" in r.json["error"], r)
r = c.post("/api/v1/runs/%s/reexecute" % f2, {"steps": ["check"]})
check("reexecute named steps: 201", r.status == 201, r)
c.wait_run(r.json["run_id"])
check("reexecute an unknown run: 404", c.post("/api/v1/runs/ffffffffffff/reexecute", {"from_failure": True}).status == 404)

# pages of runs
for i in range(5):
    rr = c.post("/api/v1/jobs/loc/hello/launch", {})
    c.wait_run(rr.json["run_id"])
everything = c.get("/api/v1/runs?limit=500").json["runs"]
ids, cursor, pages = [], None, 0
while True:
    q = "/api/v1/runs?limit=3" + ("&cursor=" + cursor if cursor else "")
    page = c.get(q).json
    ids += [x["id"] for x in page["runs"]]
    pages += 1
    cursor = page["next_cursor"]
    if not cursor or pages > 20:
        break
check("runs: pages of 3 follow next_cursor to the last (null) page",
      ids == [x["id"] for x in everything] and len(ids) == 10 and pages == 4, (ids, [x["id"] for x in everything]))
check("runs: newest first", [x["created_ms"] for x in everything] == sorted([x["created_ms"] for x in everything], reverse=True))
r = c.get("/api/v1/runs?status=failure,canceled")
check("runs: status filter, comma-separated", sorted(x["id"] for x in r.json["runs"]) == sorted([nap, f1]), r)
r = c.get("/api/v1/runs?status=failure&status=canceled&job=fixme")
check("runs: status repeated, and job", [x["id"] for x in r.json["runs"]] == [f1], r)
check("runs: an unknown status is 400", c.get("/api/v1/runs?status=done").status == 400)
check("runs: limit 0 is 400", c.get("/api/v1/runs?limit=0").status == 400)
check("runs: limit 501 is 400", c.get("/api/v1/runs?limit=501").status == 400)
check("runs: a non-number limit is 400", c.get("/api/v1/runs?limit=ten").status == 400)
check("runs: an unknown cursor is 400", c.get("/api/v1/runs?cursor=ffffffffffff").status == 400)
check("runs: RUN has API.md's keys", set(everything[0]) >= {"id", "job", "location", "status", "message", "tags",
      "parent_run_id", "root_run_id", "created_ms", "started_ms", "ended_ms", "duration_ms", "steps"}, everything[0])

# reload: a job dropped into the location appears
with open(os.path.join(loc, "jobs", "late.yaml"), "w") as f:
    f.write("ops:\n  only: hello\n")
check("a new job is not there before a reload", c.get("/api/v1/jobs/loc/late").status == 404)
r = c.post("/api/v1/locations/reload")
check("POST reload answers the locations", r.status == 200 and r.json["locations"][0]["jobs"] == 4, r)
r = c.post("/api/v1/jobs/loc/late/launch", {})
check("the new job launches", r.status == 201 and c.wait_run(r.json["run_id"])["status"] == "success", r)
with open(os.path.join(loc, "jobs", "broken.yaml"), "w") as f:
    f.write("ops:\n  x: no_such_op\n")
r = c.post("/api/v1/locations/reload")
errs = r.json["locations"][0]["errors"]
check("reload reports a location's errors", r.status == 200 and errs and errs[0]["file"].endswith("broken.yaml"), r)
r = c.get("/api/v1/jobs/loc/broken")
check("an invalid job is 409 with its errors", r.status == 409 and "no_such_op" in r.json["details"][0]["message"], r)
check("every run has ended", __import__("weft_http").wait_all(c))
EOF

stop_server
check_eq "SIGTERM stops the server cleanly" 0 "$server_rc"
check_has "and it says so" "stopping" "$(cat "$tmp/server.out")"
if grep -q "Sanitizer" "$tmp/server.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err")"
else
  ok "no sanitizer reports"
fi
if grep -l "Sanitizer\|runtime error" "$WEFT_HOME"/runs/*/coordinator.log >"$tmp/dirty"; then
  not_ok "coordinator logs have no sanitizer reports" "$(cat "$tmp/dirty")"
else
  ok "coordinator logs have no sanitizer reports"
fi
test_done
