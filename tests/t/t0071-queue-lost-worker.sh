#!/usr/bin/env bash
# t0071-queue-lost-worker: a worker killed with -9 in the middle of a step
# loses nothing: RabbitMQ redelivers the step to the other worker, which runs
# it to completion, and the run succeeds with the step recorded once; the
# killed worker's step process does not outlive it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

amqp_setup
queue_instance

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
slow:
  queue: $qd
  outputs: {result: string}
  run: |
    echo \$\$ >> "$tmp/step_pids"
    echo "start \$WEFT_ATTEMPT" >> "$tmp/marks"
    n=0
    while [ ! -e "$tmp/release" ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n + 1)); done
    echo "end" >> "$tmp/marks"
    printf '"done"' > "\$WEFT_OUTPUTS/result"
after:
  queue: $qd
  inputs: {x: string}
  run: cat "\$WEFT_INPUTS/x"
YAML
printf 'ops:\n  s: slow\n  t: {uses: after, inputs: {x: s}}\n' >loc/jobs/lose.yaml
# The step runs until the test releases it, after killing its worker: on a
# loaded machine a fixed sleep could end before the kill.

start_worker wa "$qd"
pid_wa=$worker_pid
start_worker wb "$qd"
pid_wb=$worker_pid
wait_registered 2 || not_ok "two workers register"

"$WEFT_BIN" launch lose -l loc --quiet >"$tmp/launch.out" 2>&1 &
launcher=$!
at_exit "kill -9 $launcher"
for _ in $(seq 100); do
  grep -q start "$tmp/marks" 2>/dev/null && break
  sleep 0.1
done
check_eq "the slow step started once" 1 "$(grep -c start "$tmp/marks" 2>/dev/null)"
# Which worker runs it: the registry lists its running steps.
victim=
for _ in $(seq 50); do
  victim=$("$WEFT_BIN" worker list --format json | python3 -c '
import json,sys
for w in json.load(sys.stdin)["workers"]:
    if w.get("running"): print(w["id"])')
  [ -n "$victim" ] && break
  sleep 0.1
done
case "$victim" in
wa) kill -9 "$pid_wa"; survivor=wb ;;
wb) kill -9 "$pid_wb"; survivor=wa ;;
*) not_ok "the registry names the worker running the step" "got '$victim'" ;;
esac
ok "killed worker $victim with -9 mid-step"
touch "$tmp/release" # the redelivered copy may now finish
# Its step process (sh, the group leader) dies with it (PR_SET_PDEATHSIG),
# rather than running on beside the redelivered copy. Gone = no such
# process, or a zombie waiting for whoever adopted it to reap it.
step_pid=$(head -n 1 "$tmp/step_pids")
alive=yes
for _ in $(seq 20); do
  case "$(awk '{print $3}' "/proc/$step_pid/stat" 2>/dev/null)" in
  "" | Z) alive=no; break ;;
  esac
  sleep 0.05
done
check_eq "the killed worker's step process $step_pid is gone within 1 s" no "$alive"

timeout 60 tail --pid=$launcher -f /dev/null
wait $launcher
check_eq "the run still succeeds" 0 $?
id=$(sed -n 's/.*run \([0-9a-f]\{12\}\) .*/\1/p' "$tmp/launch.out" | head -n 1)
check_eq "the step started again on the other worker" 2 "$(grep -c start "$tmp/marks")"
expect_exit 0 "$WEFT_BIN" run show "$id" --format json
check_py "s succeeded once, on the survivor, and t after it" "
import json,sys
r=json.load(open(sys.argv[1]))
st={s['step']:s for s in r['steps']}
if r['status']!='success': print(r['status']); sys.exit()
if st['s']['worker']!='$survivor': print('s on', st['s']['worker']); sys.exit()
if st['t']['status']!='succeeded': print('t', st['t']); sys.exit()
print('ok')"
expect_exit 0 "$WEFT_BIN" run events "$id" --format json
check_eq "one step_succeeded for s" 1 "$(grep '"step_succeeded"' "$tmp/out" | grep -c '"step":"s"')"
check_has "the redelivery is logged in the run" "redelivered: now running on worker $survivor" "$out"
expect_exit -m "run logs shows the survivor's complete log" 0 "$WEFT_BIN" run logs "$id" t
check_has "t got s's output" "done" "$out"
test_done
