#!/usr/bin/env bash
# t0075-queue-batch: C-function ops on workers built with weft_main
# (tests/progs/c_op_worker.c): they run in-process, a fan-out of 200 travels
# in batches (several steps per message) over 2 workers, each step runs once.
# Storage is PostgreSQL when WEFT_TEST_PG_URL is set (scripts/test), else SQLite.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

worker_bin=${WEFT_C_OP_WORKER:-$(dirname "$WEFT_BIN")/c_op_worker}
[ -x "$worker_bin" ] || { skip "no c_op_worker next to $WEFT_BIN"; test_done; }
amqp_setup
pg_own_database
queue_instance "$pg_url"

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
stamp:
  queue: $qd
  outputs: {pid: int, calls: int}
  c_function: stamp
boom:
  queue: $qd
  c_function: boom
nap:
  queue: $qd
  outputs: {pid: int, calls: int}
  c_function: nap
YAML
{
  echo "ops:"
  for i in $(seq 200); do echo "  s$i: stamp"; done
} >loc/jobs/fan.yaml
printf 'ops:\n  one: stamp\n' >loc/jobs/one.yaml
{
  echo "ops:"
  for i in $(seq 60); do echo "  n$i: nap"; done
} >loc/jobs/naps.yaml
printf 'ops:\n  b: boom\n' >loc/jobs/boom.yaml

export C_OP_LOG=$tmp/calls.log
for id in w1 w2; do
  "$worker_bin" worker --id "$id" --queue "$qd" --concurrency 2 >"$tmp/$id.log" 2>&1 &
  eval "pid_$id=\$!"
  at_exit "kill -9 $!"
done
if wait_registered 2; then ok "two c_op_worker workers register"; else not_ok "two c_op_worker workers register" "$(cat "$tmp"/w*.log)"; fi

expect_exit -m "a C op runs on a worker" 0 "$WEFT_BIN" launch one -l loc --quiet
one_run=$(run_id_of)
expect_exit -m "run show --format json" 0 "$WEFT_BIN" run show "$one_run" --format json
check_py "it ran in the worker's own process (in-process, no child), its outputs came back" "
import json,sys
d=json.load(open(sys.argv[1]))
s=d['steps'][0]
o={x.get('output'): x.get('value') for x in d['outputs']}
pids={'w1':$pid_w1,'w2':$pid_w2}
print('ok' if s['status']=='succeeded' and s['worker'] in pids and o.get('pid')==pids[s['worker']] and o.get('calls')==1 and open('$C_OP_LOG').read().split()==[str(pids[s['worker']])] else (s, d['outputs']))"
expect_exit -m "a C step has no log file: its log reads as empty" 0 \
  "$WEFT_BIN" run logs "$one_run" one
check_eq "nothing printed for it" "" "$out"
expect_exit -m "a failing C op fails its run" 1 "$WEFT_BIN" launch boom -l loc --quiet
check_has "with the op's message" "boom: this op always fails" "$err$out$(cat "$tmp"/w*.log)"

: >"$C_OP_LOG"
expect_exit -m "a fan-out of 200 C ops succeeds" 0 "$WEFT_BIN" launch fan -l loc --quiet
expect_exit -m "run show --format json" 0 "$WEFT_BIN" run show "$(run_id_of)" --format json
check_py "all 200 steps succeeded, once each, on both workers" "
import json,sys
st=json.load(open(sys.argv[1]))['steps']
ok=[s for s in st if s['status']=='succeeded' and s['attempt']==1]
calls=open('$C_OP_LOG').read().split()
ws={s['worker'] for s in st}
print('ok' if len(st)==200 and len(ok)==200 and len(calls)==200 and ws=={'w1','w2'} else (len(st),len(ok),len(calls),ws))"
batches=$(grep -ho 'took a batch of [0-9]* steps' "$tmp"/w1.log "$tmp"/w2.log | awk '{s+=$5; n++} END {print n+0, s+0}')
check_py "the steps came in batches of several steps per message" "
n,s=map(int,'$batches'.split())
print('ok' if n>=1 and s>n else '$batches')"
check_eq "no step ran twice" "" "$(grep -h 'already has a result' "$tmp"/w*.log)"

# A worker killed in the middle of a batch: the broker hands the whole
# message to another worker, which runs it; the run still succeeds.
kill -TERM "$pid_w2"
wait "$pid_w2" 2>/dev/null
kill -9 "$pid_w1"
wait "$pid_w1" 2>/dev/null
: >"$C_OP_LOG"
"$worker_bin" worker --id w3 --queue "$qd" >"$tmp/w3.log" 2>&1 &
pid_w3=$!
at_exit "kill -9 $pid_w3"
"$WEFT_BIN" launch naps -l loc --quiet >"$tmp/naps.out" 2>&1 &
launch_pid=$!
for _ in $(seq 200); do
  [ "$(wc -l <"$C_OP_LOG")" -ge 5 ] && break
  sleep 0.05
done
kill -9 "$pid_w3"
wait "$pid_w3" 2>/dev/null
done_before=$(wc -l <"$C_OP_LOG")
"$worker_bin" worker --id w4 --queue "$qd" >"$tmp/w4.log" 2>&1 &
at_exit "kill -9 $!"
if wait "$launch_pid"; then ok "a run survives its worker's death mid-batch"; else not_ok "a run survives its worker's death mid-batch" "$(cat "$tmp/naps.out" "$tmp"/w3.log "$tmp"/w4.log)"; fi
check_py "w3 died mid-batch; w4 ran the whole batch again" "
done_before=$done_before
calls=open('$C_OP_LOG').read().split()
print('ok' if 5 <= done_before < 60 and len(calls) >= 60 else (done_before, len(calls)))"
check_has "w4 took the redelivered batch" "took a batch of" "$(cat "$tmp/w4.log")"

# A worker idle for longer than its heartbeats last: the broker closes the
# connection it sends notices on, unless the worker serves it while idle;
# otherwise the first results after the pause come only by polling, with
# a warning in the step's log, and seconds late.
for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
wait 2>/dev/null
WEFT_AMQP_HEARTBEAT_S=1 "$worker_bin" worker --id w5 --queue "$qd" --concurrency 2 >"$tmp/w5.log" 2>&1 &
at_exit "kill -9 $!"
for _ in $(seq 100); do grep -q consuming "$tmp/w5.log" && break; sleep 0.1; done
sleep 5 # several heartbeat intervals with nothing to do
expect_exit -m "after the pause, a fan-out runs on the idle worker" 0 "$WEFT_BIN" launch fan -l loc --quiet
fan_run=$(run_id_of)
expect_exit 0 "$WEFT_BIN" run events "$fan_run" --format json
check_eq "every result came with its notice, none by polling" "" \
  "$(printf '%s' "$out" | grep -o 'found by polling storage' | head -1)"
test_done
