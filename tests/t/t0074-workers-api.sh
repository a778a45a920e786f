#!/usr/bin/env bash
# t0074-workers-api: a real `weft worker` on a real RabbitMQ, seen through
# `weft worker list`, `weft queue stats`, GET /api/v1/workers, GET
# /api/v1/queues and /metrics: queue depths while steps run (ready, unacked,
# consumers), running steps, a clean stop, and a kill -9 shown as "lost".
# Needs WEFT_TEST_AMQP_URL (scripts/test starts a private node).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "WEFT_TEST_AMQP_URL not set (scripts/test starts a RabbitMQ node)"
  test_done
fi
# A queue of this script's own: other tests share the node, and their
# workers must never take these steps (nor these workers theirs).
q=t0074_$$
export T0074_AMQP_URL=$WEFT_TEST_AMQP_URL T0074_QUEUE=$q
printf 'broker:\n  rabbitmq:\n    url: ${T0074_AMQP_URL}\n' >"$WEFT_HOME/weft.yaml"
mkdir -p loc/ops loc/jobs
cat >loc/ops/nap.yaml <<YAML
nap:
  run: sleep 6
  queue: $q
YAML
cat >loc/jobs/naps.yaml <<'YAML'
description: three steps on the test's queue, two run at once
graph:
  a: nap
  b: nap
  c: nap
YAML

workers=()
start_worker() { # ARGS...: a worker in the background, its pid appended to workers
  "$WEFT_BIN" worker --queue "$q" "$@" >>"$tmp/worker.log" 2>&1 &
  workers+=($!)
  at_exit "kill -9 $! 2>/dev/null"
}
# wait_for SECONDS CMD...: retries CMD every 0.2 s until it succeeds
wait_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}
json_says() { # PY-EXPR CMD...: CMD prints JSON `d` for which PY-EXPR holds
  local expr=$1
  shift
  "$@" 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"
}

# -- the commands before any worker -------------------------------------------------
expect_exit 0 "$WEFT_BIN" worker list
check_has "no worker yet" "no workers" "$err"
expect_exit 0 "$WEFT_BIN" queue stats "$q" --format json
check_py "queue stats names the queue, with nothing in it" '
import json, sys
d = json.load(open(sys.argv[1]))
q = d["queues"][0]
ok = q["name"] == "'"$q"'" and q["ready"] == 0 and q["unacked"] == 0 and q["consumers"] == 0
ok = ok and d["broker"].startswith("amqp://") and ":guest@" not in d["broker"]
print("ok" if ok else d)'
expect_exit 2 "$WEFT_BIN" queue stats --format yaml
expect_exit 1 "$WEFT_BIN" queue stats --broker amqp://guest:guest@127.0.0.1:1/
check_has "an unreachable broker is named" "127.0.0.1" "$err"

# -- one worker, concurrency 2 ---------------------------------------------------------
start_worker --concurrency 2
if wait_for 20 json_says 'len(d["workers"]) == 1 and d["workers"][0]["state"] == "running"' \
  "$WEFT_BIN" worker list --format json; then
  ok "the worker registers"
else
  not_ok "the worker registers" "$(tail -n 20 "$tmp/worker.log")"
  test_done
fi
expect_exit 0 "$WEFT_BIN" worker list
check_has "worker list shows its queue" "$q" "$out"
check_has "worker list shows its state" "running" "$out"
check_has "worker list shows the host" "$(hostname)" "$out"
wait_for 10 json_says "d['queues'][0]['consumers'] == 1" "$WEFT_BIN" queue stats "$q" --format json
check_rc "queue stats counts its consumer" 0

start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }
py_checks "$q" <<'EOF'
import re, sys, time
from weft_http import check, client
c, q = client(), sys.argv[2]

r = c.get("/api/v1/workers")
w = r.json["workers"]
check("GET /api/v1/workers lists the worker", r.status == 200 and len(w) == 1 and w[0]["queues"] == [q]
      and w[0]["concurrency"] == 2 and w[0]["state"] == "running" and not w[0]["lost"], r)
check("its heartbeat is fresh", 0 <= w[0]["heartbeat_age_ms"] < 10000 and r.json["stale_ms"] == 10000, w)
check("?all=bogus is a 400", c.get("/api/v1/workers?all=bogus").status == 400)

run_id = c.post("/api/v1/jobs/loc/naps/launch", {"run_config": {"execution": {"queue": {}}}}).json["run_id"]
# Two steps run (prefetch = concurrency 2), the third waits in the queue.
deadline, seen = time.time() + 20, None
while time.time() < deadline:
    w = c.get("/api/v1/workers").json["workers"]
    qs = {x["name"]: x for x in c.get("/api/v1/queues").json["queues"]}
    seen = (w, qs.get(q))
    if w and len(w[0]["running"]) == 2 and qs.get(q, {}).get("ready") == 1:
        break
    time.sleep(0.1)
w, qd = seen
check("the worker shows 2 running steps of the run", len(w[0]["running"]) == 2
      and all(s["run_id"] == run_id and s["step"] in ("a", "b", "c") for s in w[0]["running"]), w)
check("GET /api/v1/queues: 1 ready, 2 unacked, 1 consumer", qd and qd["ready"] == 1 and qd["unacked"] == 2
      and qd["consumers"] == 1 and qd["exists"] and qd["amqp_queue"] == "weft.step." + q, qd)
qs = c.get("/api/v1/queues").json
check("the queues list has default and the dead letters", [x["name"] for x in qs["queues"]][0] == "default"
      and qs["queues"][-1]["name"] == "weft.dead" and qs["queues"][-1]["dead_letters"], qs)
text = c.get("/metrics").body.decode()
with open("metrics.txt", "w") as f:  # the working folder is $tmp
    f.write(text)
m = {mm.group(1): float(mm.group(2)) for mm in re.finditer(r"^(\S+) (\S+)$", text, re.M)}
check("/metrics: the queue's depths", m.get('weft_queue_messages_ready{queue="%s"}' % q) == 1
      and m.get('weft_queue_messages_unacked{queue="%s"}' % q) == 2
      and m.get('weft_queue_consumers{queue="%s"}' % q) == 1, {k: v for k, v in m.items() if "queue" in k})
check("/metrics: the broker is up, one worker running", m.get("weft_broker_up") == 1
      and m.get('weft_workers{state="running"}') == 1 and m.get('weft_workers{state="lost"}') == 0, m)
run = c.wait_run(run_id, timeout=60)
check("the run succeeds on the worker", run["status"] == "success", run)
# The registry follows at the worker's next write (a heartbeat at the latest).
deadline = time.time() + 10
while time.time() < deadline:
    w = c.get("/api/v1/workers").json["workers"]
    if not w[0]["running"] and w[0]["steps_done"] >= 3:
        break
    time.sleep(0.1)
check("the worker is idle again, 3 steps done", not w[0]["running"] and w[0]["steps_done"] >= 3, w)
EOF

if command -v promtool >/dev/null; then
  run promtool check metrics <"$tmp/metrics.txt"
  check_rc "promtool check metrics accepts the queue and worker lines" 0
else
  skip "promtool is missing (scripts/bootstrap test installs Debian's prometheus)"
fi

# -- a clean stop, then a kill -9 ----------------------------------------------------------
kill -TERM "${workers[0]}"
wait "${workers[0]}"
check_eq "SIGTERM stops the idle worker cleanly" 0 "$?"
expect_exit 0 "$WEFT_BIN" worker list --all --format json
check_py "a stopped worker is kept, as stopped" '
import json, sys
w = json.load(open(sys.argv[1]))["workers"]
print("ok" if len(w) == 1 and w[0]["state"] == "stopped" and not w[0]["lost"] else w)'
expect_exit 0 "$WEFT_BIN" worker list --format json
check_py "and left out without --all" '
import json, sys
print("ok" if json.load(open(sys.argv[1]))["workers"] == [] else "listed")'

start_worker --concurrency 1
wait_for 20 json_says 'any(w["state"] == "running" for w in d["workers"])' \
  "$WEFT_BIN" worker list --format json
check_rc "a second worker registers" 0
kill -9 "${workers[1]}"
wait "${workers[1]}" 2>/dev/null
if wait_for 20 json_says 'any(w["lost"] and w["state"] == "lost" for w in d["workers"])' \
  "$WEFT_BIN" worker list --format json; then
  ok "a killed worker is lost once its heartbeat is 10 s old"
else
  not_ok "a killed worker is lost once its heartbeat is 10 s old" "$("$WEFT_BIN" worker list --all 2>&1)"
fi
expect_exit 0 "$WEFT_BIN" worker list
check_has "worker list marks it lost" "lost" "$out"
py_checks <<'EOF'
import re
from weft_http import check, client
c = client()
w = [x for x in c.get("/api/v1/workers").json["workers"] if x["lost"]]
check("GET /api/v1/workers marks it lost", len(w) == 1 and w[0]["state"] == "lost" and w[0]["heartbeat_age_ms"] >= 10000, w)
m = c.get("/metrics").body.decode()
check("/metrics counts it lost", re.search(r'^weft_workers\{state="lost"\} 1$', m, re.M), m)
EOF

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
test_done
