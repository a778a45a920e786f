#!/usr/bin/env bash
# t0073-queue-poison: messages a worker cannot use (not JSON, fields missing,
# a run that does not exist) are rejected into weft.dead with a log line
# naming the problem, and the worker keeps serving real steps.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

amqp_setup
queue_instance "" noexec # the run config names the executor here

dead_count() {
  "$WEFT_BIN" queue stats weft.dead --format json | python3 -c '
import json,sys
print(sum(q["ready"] for q in json.load(sys.stdin)["queues"] if q["name"]=="weft.dead"))'
}

mkdir -p loc/ops loc/jobs
printf 'hi:\n  queue: %s\n  outputs: {result: int}\n  run: echo 7 > "$WEFT_OUTPUTS/result"\n' "$qd" >loc/ops/hi.yaml
printf 'ops:\n  h: hi\n' >loc/jobs/hello.yaml

start_worker wp "$qd"
wait_registered 1 || not_ok "the worker registers"
before=$(dead_count)
case $before in
'' | *[!0-9]*) not_ok "weft queue stats counts weft.dead" "got '$before'" ;;
*) ok "weft queue stats counts weft.dead" ;;
esac

expect_exit -m "publish-raw sends garbage" 0 "$WEFT_BIN" queue publish-raw "$qd" 'this is {not json'
expect_exit -m "publish-raw sends a message without fields" 0 "$WEFT_BIN" queue publish-raw "$qd" '{"v":1,"attempt_id":"x/y/1/z"}'
msg='{"v":1,"attempt_id":"0000deadbeef/s/1/ab","run_id":"0000deadbeef","job":"j","step":"s","attempt":1,"op":{"name":"o","run":"true"},"cwd":"/","reply_to":"weft.reply.nobody"}'
expect_exit -m "publish-raw sends a step of an unknown run" 0 "$WEFT_BIN" queue publish-raw "$qd" "$msg"

expect_exit -m "publish-raw sends a batch whose shared fields are not an object" 0 \
  "$WEFT_BIN" queue publish-raw "$qd" '{"v":1,"common":[1],"steps":[{"attempt_id":"0000deadbeef/s/1/cd"}]}'

after=$before
for _ in $(seq 100); do
  after=$(dead_count)
  [ "$after" -ge $((before + 4)) ] && break
  sleep 0.1
done
check_eq "the four messages are dead-lettered into weft.dead" $((before + 4)) "$after"
log=$(cat "$tmp/wp.log")
check_has "the log names the JSON error" "not a JSON object" "$log"
check_has "the log names the missing field" "field 'run_id' is missing" "$log"
check_has "the log names the unknown run" "names run 0000deadbeef, which does not exist in storage" "$log"
check_has "the log names the bad batch" "'common', if there, an object" "$log"
check_has "and says where they went" "dead-lettered to weft.dead" "$log"
kill -0 "$worker_pid" 2>/dev/null && ok "the worker is still running" || not_ok "the worker died"
printf 'execution:\n  queue: {max_concurrent: 2}\n' >run.yaml
expect_exit -m "and still runs a real step (execution: {queue: ...} in the run config)" 0 \
  "$WEFT_BIN" launch hello -l loc --quiet -c run.yaml
id=$(run_id_of)
expect_exit 0 "$WEFT_BIN" run show "$id" --format json
check_py "on this worker" 'import json,sys; r=json.load(open(sys.argv[1])); print("ok" if r["steps"][0]["worker"]=="wp" else r["steps"])'
expect_exit -m "without a queue executor the same job runs locally" 0 \
  "$WEFT_BIN" launch hello -l loc --quiet
id=$(run_id_of)
expect_exit 0 "$WEFT_BIN" run show "$id" --format json
check_py "not on the worker" 'import json,sys; r=json.load(open(sys.argv[1])); print("ok" if r["steps"][0]["worker"]!="wp" else r["steps"])'
expect_exit -m "run events: run_started names the executor" 0 "$WEFT_BIN" run events "$id" --type run_started --format json
check_has "multiprocess" '"executor":"multiprocess"' "$out"

# A worker attached to another instance's storage cannot run this
# instance's steps: it rejects them, and the run fails saying so instead of
# waiting forever.
mkdir -p "$tmp/other"
cp "$WEFT_HOME/weft.yaml" "$tmp/other/weft.yaml"
cp -p "$WEFT_HOME/queue.key" "$tmp/other/queue.key" # the same signing key
printf 'elsewhere:\n  queue: %s\n  run: "true"\n' "$qg" >loc/ops/elsewhere.yaml
printf 'ops:\n  e: elsewhere\n' >loc/jobs/elsewhere.yaml
WEFT_HOME=$tmp/other "$WEFT_BIN" worker --id stranger --queue "$qg" >"$tmp/stranger.log" 2>&1 &
at_exit "kill -9 $!"
for _ in $(seq 100); do grep -q consuming "$tmp/stranger.log" && break; sleep 0.1; done
expect_exit -m "a step rejected by a worker fails its run" 1 timeout 60 "$WEFT_BIN" launch elsewhere -l loc --quiet -c run.yaml
id=$(run_id_of)
expect_exit 0 "$WEFT_BIN" run show "$id" --format json
check_has "naming the worker and why" "worker stranger rejected the step (dead-lettered): it names run $id, which does not exist in storage" "$out"
test_done
