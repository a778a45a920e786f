#!/usr/bin/env bash
# t0023-http-metrics: /metrics passes `promtool check metrics` and counts what
# happened (runs by status, running steps, the step duration histogram,
# answers by code); `weft server` restarts without stopping a run, and the
# new server's histogram includes the steps from before (its start-up scan).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }

py_checks "$tmp/nap_run" <<'EOF'
import re, time
from weft_http import check, client
c = client()

def metrics():
    r = c.get("/metrics")
    return r, {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", r.body.decode(), re.M)}

r, m = metrics()
check("GET /metrics: Prometheus text", r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4"), r)
check("every run status is there, at 0", all(m.get('weft_runs{status="%s"}' % s) == 0 for s in
      ("queued", "started", "success", "failure", "canceling", "canceled")), m)
check("the histogram is empty", m.get('weft_step_duration_seconds_count') == 0
      and m.get('weft_step_duration_seconds_bucket{le="+Inf"}') == 0, m)
for _ in range(2):
    c.wait_run(c.post("/api/v1/jobs/loc/hello/launch", {}).json["run_id"])
c.wait_run(c.post("/api/v1/jobs/loc/fixme/launch", {}).json["run_id"])
nap = c.post("/api/v1/jobs/loc/sleepy/launch", {"run_config": {"ops": {"nap": {"config": {"seconds": 120}}}}}).json["run_id"]
c.sse("/api/v1/runs/%s/events/stream" % nap, until=lambda e: e["event"] == "step_started", timeout=30)
deadline = time.time() + 10
while time.time() < deadline:
    r, m = metrics()
    if m.get("weft_step_duration_seconds_count") == 6:
        break
    time.sleep(0.1)
check("runs by status", m.get('weft_runs{status="success"}') == 2 and m.get('weft_runs{status="failure"}') == 1
      and m.get('weft_runs{status="started"}') == 1, m)
check("one step running", m.get("weft_steps_running") == 1, m)
check("the histogram counts the 6 finished attempts", m.get("weft_step_duration_seconds_count") == 6
      and m.get('weft_step_duration_seconds_bucket{le="+Inf"}') == 6 and m.get("weft_step_duration_seconds_sum") > 0, m)
buckets = [m['weft_step_duration_seconds_bucket{le="%s"}' % b] for b in
           ("0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "30", "60", "300", "+Inf")]
check("buckets are cumulative, as API.md lists them", buckets == sorted(buckets), buckets)
check("answers are counted by code", m.get('weft_http_requests_total{code="200"}', 0) >= 5
      and m.get('weft_http_requests_total{code="201"}') == 4, m)
c.get("/api/v1/runs/nope")
r, m = metrics()
check("404s too", m.get('weft_http_requests_total{code="404"}') == 1, m)
with open(__import__("sys").argv[2], "w") as f:
    f.write(nap)
EOF
nap=$(cat "$tmp/nap_run" 2>/dev/null)
# The nap sleeps 120 s so that a loaded machine still finds it running at
# the cancel below; a test that fails before that cancels it here.
[ -n "$nap" ] && at_exit "WEFT_HOME='$WEFT_HOME' '$WEFT_BIN' run cancel $nap"

if ! command -v promtool >/dev/null; then
  "$WEFT_SRC/scripts/bootstrap" test >/dev/null 2>&1 || true
fi
if command -v promtool >/dev/null; then
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode())' \
    "$url" >"$tmp/metrics.txt"
  run promtool check metrics <"$tmp/metrics.txt"
  check_rc "promtool check metrics accepts /metrics" 0
else
  skip "promtool is missing and 'scripts/bootstrap test' could not install Debian's prometheus (not root?)"
fi

# A restart with a client following the napping run: the stream is cut,
# the server stops at once, the run goes on in its own coordinator.
PYTHONPATH="$WEFT_SRC/tests/t" python3 -c '
import sys
from weft_http import Client
st, evs, ended = Client(sys.argv[1]).sse("/api/v1/runs/%s/events/stream" % sys.argv[2], timeout=60,
                                         on_open=lambda: open(sys.argv[3], "w").close())
print("status %d events %d ended %s" % (st, len(evs), ended))' "$url" "$nap" "$tmp/following" \
  >"$tmp/follower.out" 2>&1 &
follower=$!
# the stream is open (a loaded machine may take seconds to start python)
for _ in $(seq 300); do [ -e "$tmp/following" ] && break; sleep 0.1; done
start_ns=$(date +%s%N)
stop_server
stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
check_eq "the server stops" 0 "$server_rc"
if [ "$stop_ms" -lt 3000 ]; then ok "it stops within 3 s with a stream open ($stop_ms ms)"; else not_ok "it stops within 3 s with a stream open" "$stop_ms ms"; fi
wait "$follower"
check_has "the follower's stream was cut, after the events so far" "status 200 events " "$(cat "$tmp/follower.out")"
run "$WEFT_BIN" run show "$nap" --format json
check_has "its run is still started after the server stopped" '"status": "started"' "$out"
coord=$(sed -n 's/.*"coordinator": "[^:]*:\([0-9]*\):.*/\1/p' "$tmp/out" | head -n 1)
if [ -n "$coord" ] && kill -0 "$coord" 2>/dev/null; then ok "its coordinator lives"; else not_ok "its coordinator lives" "pid '$coord'"; fi

start_server -l "$tmp/loc" || { not_ok "weft dev starts again"; test_done; }
py_checks "$nap" <<'EOF'
import re, sys, time
from weft_http import check, client
c = client()
nap = sys.argv[2]
r = c.post("/api/v1/runs/%s/cancel" % nap)
check("the new server cancels the run the old one launched", r.status == 202, r)
run = c.wait_run(nap, timeout=30)
check("it ends canceled", run["status"] == "canceled", run)
deadline = time.time() + 10
while time.time() < deadline:
    body = c.get("/metrics").body.decode()
    n = re.search(r"^weft_step_duration_seconds_count (\S+)$", body, re.M)
    if n and float(n.group(1)) >= 6:
        break
    time.sleep(0.1)
check("the new server's histogram scanned the steps from before", n and float(n.group(1)) >= 6, body)
EOF
stop_server
check_eq "it stops cleanly" 0 "$server_rc"
if grep -l "Sanitizer\|runtime error" "$WEFT_HOME"/runs/*/coordinator.log >"$tmp/dirty"; then
  not_ok "coordinator logs have no sanitizer reports" "$(cat "$tmp/dirty")"
else
  ok "coordinator logs have no sanitizer reports"
fi
test_done
