#!/usr/bin/env bash
# t0024-metrics-families: the operator families of /metrics count what
# happened, on `weft server` (no scheduler of its own) under
# run_queue.max_concurrent_runs 1: a napping run in flight with a live
# coordinator, a second run queued behind it (queue length, oldest wait),
# then canceled and run: steps by outcome per job and op, finished runs and
# their duration per job, the queue wait histogram; a schedule whose cursor
# a scheduler left 10 minutes behind shows as tick lag; store commits,
# artifact calls, disk space; and `promtool check metrics` accepts it all.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkdir -p "$tmp/loc/schedules"
printf 'job: hello\ncron: "* * * * *"\ndefault: on\n' >"$tmp/loc/schedules/minutely.yaml"
printf 'run_queue:\n  max_concurrent_runs: 1\n' >"$WEFT_HOME/weft.yaml"

# A scheduler ran ten minutes ago, and none since: its cursor stays there.
# At half past a minute: a turn falling on a minute's first second fires
# that minute's tick (a schedule's first sight starts at "now"), which
# would put a run in the queue the checks below expect empty.
ago=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) - d.timedelta(minutes=10)).replace(second=30).strftime("%Y-%m-%dT%H:%M:%SZ"))')
expect_exit -m "a scheduler turn as of ten minutes ago" 0 \
  "$WEFT_BIN" scheduler --once --no-dequeue --now "$ago" -l "$tmp/loc"

"$WEFT_BIN" server --no-auth --listen 127.0.0.1:0 -l "$tmp/loc" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
at_exit "kill $server_pid; wait $server_pid"
url=
for _ in $(seq 200); do
  url=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { not_ok "weft server starts" "$(cat "$tmp/server.err")"; test_done; }

py_checks "$tmp/metrics.txt" <<'EOF_PY'
import re, sys, time
from weft_http import check, client, wait_all
c = client()

def metrics():
    text = c.get("/metrics").body.decode()
    return text, {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.M)}

def wait_for(pred, timeout=30):
    deadline = time.time() + timeout
    while True:
        text, m = metrics()
        if pred(m) or time.time() > deadline:
            return text, m
        time.sleep(0.1)

text, m = metrics()
check("tick lag: the schedule's oldest due fire time is about 9-10 minutes old",
      500 <= m.get("weft_schedule_tick_lag_seconds", 0) <= 660 and m.get("weft_schedules_behind") == 1
      and m.get("weft_schedules") == 1, {k: v for k, v in m.items() if "sched" in k})
check("nothing ran yet: no finished runs, an empty queue",
      m.get("weft_run_queue_length") == 0 and m.get("weft_run_queue_oldest_seconds") == 0
      and m.get("weft_run_queue_wait_seconds_count") == 0, m)
check("the disk of the instance folder", 0 < m.get('weft_disk_free_bytes{dir="home"}', 0)
      <= m.get('weft_disk_size_bytes{dir="home"}', 0), m)

nap = c.post("/api/v1/jobs/loc/sleepy/launch", {"run_config": {"ops": {"nap": {"config": {"seconds": 30}}}}}).json["run_id"]
c.sse("/api/v1/runs/%s/events/stream" % nap, until=lambda e: e["event"] == "step_started", timeout=30)
hello = c.post("/api/v1/jobs/loc/hello/launch", {}).json["run_id"]
time.sleep(1.2)
text, m = wait_for(lambda m: m.get("weft_run_queue_length") == 1)
check("one run in flight, its coordinator live, one step running",
      m.get('weft_runs_in_flight{coordinator="live"}') == 1 and m.get('weft_runs_in_flight{coordinator="stale"}') == 0
      and m.get("weft_steps_running") == 1, m)
check("the server's coordinator is counted", m.get("weft_coordinators_running", 0) >= 1, m)
check("one run queued behind it, waiting over a second",
      m.get("weft_run_queue_length") == 1 and m.get("weft_run_queue_oldest_seconds", 0) >= 1, m)

check("cancel the napping run", c.post("/api/v1/runs/%s/cancel" % nap).status == 202)
check("the queued run then runs and succeeds", (c.wait_run(hello) or {}).get("status") == "success")
check("the canceled run ends", (c.wait_run(nap) or {}).get("status") == "canceled")
text, m = wait_for(lambda m: m.get('weft_runs_finished_total{job="hello",status="success"}') == 1
                   and m.get('weft_runs_finished_total{job="sleepy",status="canceled"}') == 1)
check("finished runs by job and status",
      m.get('weft_runs_finished_total{job="hello",status="success"}') == 1
      and m.get('weft_runs_finished_total{job="sleepy",status="canceled"}') == 1
      and m.get('weft_runs_finished_total{job="other",status="success"}') == 0, m)
check("steps by job, op and outcome",
      m.get('weft_steps_total{job="hello",op="hello",outcome="succeeded"}') == 1
      and m.get('weft_steps_total{job="hello",op="shout",outcome="succeeded"}') == 1
      and m.get('weft_steps_total{job="sleepy",op="nap",outcome="canceled"}') == 1
      and m.get('weft_steps_total{job="hello",op="hello",outcome="failed"}') == 0, m)
check("run duration per job", m.get('weft_run_duration_seconds_count{job="hello"}') == 1
      and m.get('weft_run_duration_seconds_count{job="sleepy"}') == 1
      and m.get('weft_run_duration_seconds_bucket{job="sleepy",le="1"}') == 0, m)
# How long the first run waited depends on the machine's load (its
# coordinator's start); the second waited out the nap, over a second.
check("queue wait: both runs; the second waited over a second",
      m.get("weft_run_queue_wait_seconds_count") == 2 and m.get("weft_run_queue_wait_seconds_sum", 0) >= 1
      and m.get('weft_run_queue_wait_seconds_bucket{le="1"}', 2) <= 1, m)
check("the queue is empty again", m.get("weft_run_queue_length") == 0 and m.get("weft_run_queue_oldest_seconds") == 0, m)
check("store commits of the server are timed", m.get("weft_store_commit_seconds_count", 0) >= 2
      and m.get('weft_store_commit_seconds_bucket{le="+Inf"}') == m.get("weft_store_commit_seconds_count")
      and m.get("weft_store_commit_failures_total") == 0, m)
check("artifact calls and errors by op", all(('weft_artifact_errors_total{op="%s"}' % op) in m and
      ('weft_artifact_ops_total{op="%s"}' % op) in m for op in ("put", "get", "head", "list", "delete")), m)
check("HELP and TYPE for every family", all(("# TYPE %s " % f) in text for f in (
      "weft_steps_total", "weft_runs_finished_total", "weft_run_duration_seconds", "weft_run_queue_wait_seconds",
      "weft_run_queue_length", "weft_run_queue_oldest_seconds", "weft_runs_in_flight", "weft_schedule_tick_lag_seconds",
      "weft_schedule_ticks_last_hour", "weft_store_commit_seconds", "weft_artifact_errors_total",
      "weft_coordinators_running", "weft_disk_free_bytes")))
wait_all(c)
open(sys.argv[2], "w").write(text)
EOF_PY

if [ ! -s "$tmp/metrics.txt" ]; then
  not_ok "a scrape to give promtool"
elif command -v promtool >/dev/null; then
  run promtool check metrics <"$tmp/metrics.txt"
  check_rc "promtool check metrics accepts the scrape" 0
else
  skip "promtool is missing (scripts/bootstrap test installs Debian's prometheus)"
fi

# The label sets stay bounded: 60 jobs of their own, each run once, are
# 50 series and "other".
mkdir -p "$tmp/many/ops" "$tmp/many/jobs"
printf 'noop:\n  run: "true"\n' >"$tmp/many/ops/ops.yaml"
for i in $(seq 60); do printf 'name: j%s\nops:\n  s: noop\n' "$i" >"$tmp/many/jobs/j$i.yaml"; done
for i in $(seq 60); do "$WEFT_BIN" launch -l "$tmp/many" "j$i" >/dev/null 2>&1 || echo "launch j$i failed"; done >"$tmp/launches"
check_eq "60 runs launched" "" "$(cat "$tmp/launches")"
py_checks <<'EOF_PY'
import re, time
from weft_http import check, client
c = client()
deadline = time.time() + 30
while True:
    text = c.get("/metrics").body.decode()
    done = re.search(r'^weft_runs_finished_total\{job="other",status="success"\} (\S+)$', text, re.M)
    if (done and float(done.group(1)) >= 12) or time.time() > deadline:
        break
    time.sleep(0.2)
jobs = set(re.findall(r'^weft_runs_finished_total\{job="([^"]*)"', text, re.M))
check("50 jobs of their own and other", len(jobs) == 51 and "other" in jobs, sorted(jobs))
check("the 12 runs past the cap count under other", done and float(done.group(1)) == 12, done and done.group(0))
EOF_PY

test_done
