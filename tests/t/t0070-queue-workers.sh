#!/usr/bin/env bash
# t0070-queue-workers: three `weft worker`s on two RabbitMQ queues run a job
# whose ops name either queue: each step runs on a worker of its op's queue,
# outputs (JSON and files) flow between workers, events and logs come back.
# Storage is PostgreSQL when WEFT_TEST_PG_URL is set (scripts/test), else SQLite.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

amqp_setup
pg_own_database
queue_instance "$pg_url"

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
make:
  queue: $qd
  outputs: {result: int, blob: path}
  run: |
    echo "make ran as \$WEFT_OP"
    echo 20 > "\$WEFT_OUTPUTS/result"
    printf payload > "\$WEFT_OUTPUTS/blob"
    echo '{"type":"log","level":"warning","msg":"made it"}' >&3
double:
  queue: $qg
  inputs: {n: int, b: path}
  outputs: {result: int}
  run: |
    echo "double got \$(cat "\$WEFT_INPUTS/b")"
    echo "on stderr" >&2
    echo \$(( \$(cat "\$WEFT_INPUTS/n") * 2 )) > "\$WEFT_OUTPUTS/result"
label:
  queue: $qd
  inputs: {x: int}
  outputs: {result: string}
  run: printf '"total %s"' "\$(cat "\$WEFT_INPUTS/x")" > "\$WEFT_OUTPUTS/result"
nap:
  queue: $qd
  run: sleep 0.5
YAML
cat >loc/jobs/spread.yaml <<'YAML'
ops:
  a: make
  g: {uses: double, inputs: {n: a, b: a.blob}}
  f: {uses: label, inputs: {x: g}}
  p1: nap
  p2: nap
  p3: nap
  p4: nap
YAML

start_worker wd1 "$qd"
start_worker wd2 "$qd"
start_worker wg "$qg" --concurrency 2
pid_wg=$worker_pid
if wait_registered 3; then ok "three workers register"; else not_ok "three workers register" "$(cat "$tmp"/w*.log)"; fi
expect_exit -m "worker list shows them" 0 "$WEFT_BIN" worker list
check_has "with the gpu worker's queue and concurrency" "$qg" "$out"

# attempt_results RUN: how many kv attempt/RUN/... results storage holds.
attempt_results() {
  local q="SELECT count(*) FROM kv WHERE key LIKE 'attempt/$1/%'"
  if [ -n "$pg_url" ]; then psql -qtAX "$pg_url" -c "$q"; else store_query "$q"; fi
}

expect_exit -m "a queue run succeeds" 0 "$WEFT_BIN" launch spread -l loc --quiet
id=$(run_id_of)
check_eq "its attempt results are deleted once it ended" 0 "$(attempt_results "$id")"
expect_exit -m "run show --format json" 0 "$WEFT_BIN" run show "$id" --format json
check_py "each step ran on a worker of its op's queue, both default workers took steps" '
import json,sys
r=json.load(open(sys.argv[1]))
st={s["step"]:s for s in r["steps"]}
bad=[s for s in st.values() if s["status"]!="succeeded"]
if bad: print("not succeeded:", bad); sys.exit()
if st["g"]["worker"]!="wg": print("g ran on", st["g"]["worker"]); sys.exit()
d=[st[k]["worker"] for k in ("a","f","p1","p2","p3","p4")]
if any(w not in ("wd1","wd2") for w in d): print("default steps on", d); sys.exit()
if set(d)!={"wd1","wd2"}: print("only", set(d), "took default steps"); sys.exit()
o={(x["step"],x["output"]):x for x in r["outputs"]}
if o[("f","result")].get("value")!="total 40": print("f.result", o[("f","result")]); sys.exit()
if o[("a","blob")]["bytes"]!=7: print("blob", o[("a","blob")]); sys.exit()
print("ok")'
expect_exit -m "run events --format json" 0 "$WEFT_BIN" run events "$id" --format json
check_py "events: the op's log event came back, step_started names the worker" '
import json,sys
evs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
logs=[e for e in evs if e["type"]=="log" and e.get("step")=="a"]
if not any("made it" in json.dumps(e) for e in logs): print("no log event from a:", logs); sys.exit()
ss=[e for e in evs if e["type"]=="step_started" and e.get("step")=="g"]
if not ss or "wg" not in json.dumps(ss[0]): print("step_started of g:", ss); sys.exit()
print("ok")'
expect_exit -m "run logs shows every step's stdout" 0 "$WEFT_BIN" run logs "$id"
check_has "a's stdout" "make ran as a" "$out"
check_has "g's stdout, with the file a made on another worker" "double got payload" "$out"
expect_exit -m "run logs --stderr of one step" 0 "$WEFT_BIN" run logs "$id" g --stderr
check_has "g's stderr" "on stderr" "$out"

# A failing op on the queue fails its run with the op's message.
cat >loc/ops/bad.yaml <<YAML
bad:
  queue: $qg
  run: echo oops >&2; exit 3
YAML
printf 'ops:\n  b: bad\n' >loc/jobs/fails.yaml
expect_exit -m "a failing step fails the run" 1 "$WEFT_BIN" launch fails -l loc --quiet
id=$(run_id_of)
expect_exit 0 "$WEFT_BIN" run show "$id"
check_has "with the exit status" "exited with status 3" "$out"
check_eq "a failed run leaves no attempt results either" 0 "$(attempt_results "$id")"

# weft run cancel reaches a step running on a worker.
cat >loc/ops/long.yaml <<YAML
long:
  queue: $qg
  run: echo started; sleep 30
YAML
printf 'ops:\n  l: long\n' >loc/jobs/long.yaml
mark_sleeps loc
at_exit "pkill -9 -f 'sleep 30.$$'"
expect_exit -m "a long run starts detached" 0 "$WEFT_BIN" launch long -l loc --detach
id=$(head -n 1 "$tmp/out")
for _ in $(seq 100); do
  grep -q "running $id/l/" "$tmp/wg.log" && break
  sleep 0.1
done
live=
for _ in $(seq 100); do
  live=$("$WEFT_BIN" run logs "$id" l 2>/dev/null)
  [ -n "$live" ] && break
  sleep 0.1
done
check_eq "run logs shows the running step's output, live from the worker" started "$live"
expect_exit -m "weft run cancel stops it" 0 "$WEFT_BIN" run cancel "$id"
check_has "the run is canceled" "canceled" "$out"
check_has "the worker killed the step" "canceling $id/l/" "$(cat "$tmp/wg.log")"
check_eq "no step process is left" "" "$(survivors "sleep 30.$$")"
left=
for _ in $(seq 100); do
  left=$(attempt_results "$id")
  [ "$left" = 0 ] && break
  sleep 0.1
done
check_eq "the canceled run's attempt results are deleted when its coordinator ends" 0 "$left"

# SIGTERM: workers stop cleanly and say so in the registry.
kill -TERM $pid_wg
wait $pid_wg
check_eq "a worker exits 0 on SIGTERM" 0 $?
expect_exit 0 "$WEFT_BIN" worker list --all --format json
check_py "it is marked stopped" '
import json,sys
w={x["id"]:x for x in json.load(open(sys.argv[1]))["workers"]}
print("ok" if w["wg"]["state"]=="stopped" else w["wg"])'
test_done
