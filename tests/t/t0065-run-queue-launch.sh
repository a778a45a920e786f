#!/usr/bin/env bash
# t0065-run-queue-launch: `weft launch` under run_queue.max_concurrent_runs 1:
# a second launch waits its turn, saying why (also in `weft run list` and
# `weft run show`), then runs after the first; Ctrl-C while waiting cancels
# it; --detach leaves the run queued for a dequeuer, here the next launch.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

# `gated` runs until $GATE exists (at most 30 s); `quick` at once.
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<'YAML'
gate:
  run: |
    i=0
    while [ ! -e "$GATE" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
quick:
  run: echo quick
YAML
printf 'name: gated\nops:\n  gate: {uses: gate}\n' >loc/jobs/gated.yaml
printf 'name: quick\nops:\n  quick: {uses: quick}\n' >loc/jobs/quick.yaml
printf 'run_queue:\n  max_concurrent_runs: 1\n' >"$WEFT_HOME/weft.yaml"
export GATE=$tmp/gate

# wait_for TRIES CMD...: runs CMD every 50 ms until it succeeds.
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.05; done
  return 1
}
status_is() { [ "$(store_query "select count(*) from runs where job='$1' and status='$2'")" -ge "${3:-1}" ]; }
printed() { grep -q "$2" "$1" 2>/dev/null; }

"$WEFT_BIN" launch gated -l loc >first.out 2>&1 &
first=$!
at_exit "kill $first"
wait_for 200 status_is gated started || not_ok "the first run starts"
"$WEFT_BIN" launch quick -l loc >second.out 2>&1 &
second=$!
at_exit "kill $second"
if wait_for 200 printed second.out "queued: waiting: 1/1 runs in progress (max_concurrent_runs)"; then
  ok "the second launch waits, saying why"
else
  not_ok "the second launch waits, saying why" "$(cat second.out)"
fi
qid=$(store_query "select id from runs where job='quick'")
expect_exit -m "weft run list" 0 "$WEFT_BIN" run list
check_has "run list shows the queued run and why it waits" \
  "$qid  quick  queued   -                    -         -          -       waiting: 1/1 runs in progress (max_concurrent_runs)" "$out"
expect_exit -m "weft run show of the queued run" 0 "$WEFT_BIN" run show "$qid"
check_has "run show says why it waits" "queue:        waiting: 1/1 runs in progress (max_concurrent_runs)" "$out"
expect_exit -m "weft run list --format json" 0 "$WEFT_BIN" run list --format json
check_has "the JSON list has queue_reason" '"queue_reason": "waiting: 1/1 runs in progress (max_concurrent_runs)"' "$out"
check_eq "the second run is still queued" queued "$(store_query "select status from runs where id='$qid'")"

touch "$GATE"
wait "$first"
check_eq "the first launch succeeds" 0 "$?"
wait "$second"
check_eq "the second launch succeeds once the first ended" 0 "$?"
check_has "the second launch followed its run" "run $qid succeeded in" "$(cat second.out)"
gid=$(store_query "select id from runs where job='gated'")
check_eq "the second run started after the first ended" 1 \
  "$(store_query "select (select ts_ms from events where run_id='$qid' and type='run_started') >= (select ts_ms from events where run_id='$gid' and type='run_success')")"

# Ctrl-C while waiting cancels the queued run.
rm -f "$GATE"
"$WEFT_BIN" launch gated -l loc >third.out 2>&1 &
third=$!
at_exit "kill $third"
wait_for 200 status_is gated started 1 && [ "$(store_query "select count(*) from runs where status='started'")" = 1 ]
"$WEFT_BIN" launch quick -l loc >fourth.out 2>&1 &
fourth=$!
at_exit "kill $fourth"
wait_for 200 printed fourth.out "queued: waiting" || not_ok "the fourth launch waits" "$(cat fourth.out)"
kill -INT "$fourth"
wait "$fourth"
check_eq "Ctrl-C ends the waiting launch with 1" 1 "$?"
check_has "it says the run was canceled while queued" "canceled while queued" "$(cat fourth.out)"
check_eq "that run is canceled, never started" "canceled|0" \
  "$(store_query "select status, started_ms from runs where job='quick' order by created_ms desc limit 1")"

# --detach with limits: queued for a dequeuer, with no coordinator.
expect_exit -m "launch --detach" 0 "$WEFT_BIN" launch quick -l loc --detach
did=$out
check_has "--detach says it is queued for a dequeuer" "is queued (weft.yaml run_queue limits)" "$err"
check_eq "the detached run waits, owned by no process" "queued|0" \
  "$(store_query "select status, count(coordinator) from runs where id='$did'")"
touch "$GATE"
wait "$third"
check_eq "the third launch succeeds" 0 "$?"
# The next foreground launch dequeues the older detached run first (and
# starts its coordinator), then runs its own after it.
expect_exit -m "a launch behind a detached run" 0 "$WEFT_BIN" launch quick -l loc
check_has "it waited for the detached run" "queued:" "$out"
wait_for 200 status_is quick success 2
check_eq "the detached run succeeded too" success "$(store_query "select status from runs where id='$did'")"
expect_exit -m "nothing is left queued" 0 "$WEFT_BIN" run list --status queued
check_has "no queued run" "no runs match" "$err"
test_done
