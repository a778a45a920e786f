#!/usr/bin/env bash
# t0072-queue-broker-restart-serial: RabbitMQ restarts in the middle of a run:
# workers and the coordinator reconnect (declaring their queues again), steps
# in flight are not lost, and the run succeeds with every step recorded once.
# It restarts the node scripts/test shares (WEFT_TEST_AMQP_CTL), hence serial.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

if [ -n "${WEFT_TEST_AMQP_URL:-}" ] && [ -z "${WEFT_TEST_AMQP_CTL:-}" ]; then
  amqp_setup own # a shared node we cannot restart: a node of our own
else
  amqp_setup
fi
pg_own_database
queue_instance "$pg_url"

mkdir -p loc/ops loc/jobs
cat >loc/ops/nap.yaml <<YAML
nap:
  queue: $qd
  outputs: {result: int}
  run: sleep 1; echo "\$WEFT_ATTEMPT" > "\$WEFT_OUTPUTS/result"
YAML
cat >loc/jobs/chain.yaml <<'YAML'
ops:
  s1: nap
  s2: {uses: nap, after: [s1]}
  s3: {uses: nap, after: [s2]}
  s4: {uses: nap, after: [s3]}
  s5: {uses: nap, after: [s4]}
  s6: {uses: nap, after: [s5]}
YAML

start_worker wr1 "$qd"
pid1=$worker_pid
start_worker wr2 "$qd"
pid2=$worker_pid
wait_registered 2 || not_ok "two workers register"

"$WEFT_BIN" launch chain -l loc --quiet >"$tmp/launch.out" 2>&1 &
launcher=$!
at_exit "kill -9 $launcher"
sleep 1.5
if $amqp_ctl >"$tmp/restart.log" 2>&1; then
  ok "RabbitMQ restarted mid-run"
else
  not_ok "RabbitMQ restarted mid-run" "$(cat "$tmp/restart.log")"
fi
for _ in $(seq 600); do
  kill -0 $launcher 2>/dev/null || break
  sleep 0.1
done
wait $launcher
check_eq "the run still succeeds" 0 $?
id=$(sed -n 's/.*run \([0-9a-f]\{12\}\) .*/\1/p' "$tmp/launch.out" | head -n 1)
expect_exit 0 "$WEFT_BIN" run events "$id" --format json
check_eq "every step succeeded once" 6 "$(grep -c '"step_succeeded"' "$tmp/out")"
check_eq "one run_success" 1 "$(grep -c '"run_success"' "$tmp/out")"
# The run can end (its last result read from storage) before the workers
# are back on the restarted broker: wait for that a while.
for _ in $(seq 300); do
  grep -q "reconnected to" "$tmp/wr1.log" "$tmp/wr2.log" 2>/dev/null && break
  sleep 0.1
done
check_has "a worker reconnected" "reconnected to" "$(cat "$tmp/wr1.log" "$tmp/wr2.log")"
kill -0 $pid1 2>/dev/null && kill -0 $pid2 2>/dev/null && ok "both workers are still up" ||
  not_ok "a worker died" "$(cat "$tmp/wr1.log" "$tmp/wr2.log")"
expect_exit -m "a run after the restart succeeds too" 0 "$WEFT_BIN" launch chain -l loc --quiet
test_done
