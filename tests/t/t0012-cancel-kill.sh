#!/usr/bin/env bash
# t0012-cancel-kill: no step outlives its run: weft run cancel, Ctrl-C on the
# launcher, and kill -9 of the launcher (with adoption off, WEFT_RUN_ADOPT=0,
# the next command sweeps the orphan; t0109 covers adoption).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/faults" "$tmp/faults"
# A step that starts a process in a session of its own: killing the step's
# process group does not reach it.
cat >>"$tmp/faults/ops/faults.yaml" <<'YAML'

escaping_sleep:
  run: setsid sleep 60 </dev/null >/dev/null 2>&1 & echo started > "$WEFT_LOCATION_DIR/escape.started"; sleep 60
YAML
printf 'ops:\n  first: escaping_sleep\n' >"$tmp/faults/jobs/escape.yaml"
mark_sleeps "$tmp/faults"
cd "$tmp/faults" || exit 1

# wait_for FILE: until the long_sleep op has started (5 s at most).
wait_for() {
  for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.05; done
  return 1
}
sleepers() { survivors "sleep 60.$$"; }
at_exit "pkill -9 -f 'sleep 60.$$' 2>/dev/null; true"

# -- weft run cancel on a detached run -----------------------------------------------------
rm -f long.started
expect_exit -m "launch --detach returns at once" 0 "$WEFT_BIN" launch long -l . --detach
id=$out
check_eq "--detach prints the run id" 12 "${#id}"
wait_for long.started && ok "the detached run started its first step" || not_ok "first step never started"
check_eq "the run is started" started "$(store_query "select status from runs where id='$id'")"
expect_exit -m "weft run cancel ends the run" 0 "$WEFT_BIN" run cancel "$id"
check_has "cancel reports the final state" "run $id canceled" "$out"
check_eq "no step process survives the cancel" "" "$(sleepers)"
check_eq "steps canceled, the waiting one too" "first|canceled
second|canceled" "$(store_query "select step, status from steps where run_id='$id' order by step")"
check_eq "cancel events recorded" "1|1" \
  "$(store_query "select sum(type='run_canceling'), sum(type='run_canceled') from events where run_id='$id'")"
expect_exit -m "canceling an ended run fails" 1 "$WEFT_BIN" run cancel "$id"
check_has "says it already ended" "already ended: canceled" "$err"

# -- Ctrl-C on a followed run ------------------------------------------------------------
rm -f long.started
"$WEFT_BIN" launch long -l . >"$tmp/follow.out" 2>&1 &
launcher=$!
wait_for long.started && ok "the followed run started" || not_ok "followed run never started"
kill -INT "$launcher"
wait "$launcher"
check_eq "an interrupted run exits 1" 1 "$?"
id=$(sed -n 's/.*run \([0-9a-f]\{12\}\) .*/\1/p' "$tmp/follow.out" | head -n 1)
check_has "the interrupt is reported" "canceling: interrupted" "$(cat "$tmp/follow.out")"
check_eq "the run is canceled" canceled "$(store_query "select status from runs where id='$id'")"
check_eq "no step survives Ctrl-C" "" "$(sleepers)"

# -- kill -9 of the launcher -----------------------------------------------------------------
rm -f long.started
"$WEFT_BIN" launch long -l . >"$tmp/killed.out" 2>&1 &
launcher=$!
wait_for long.started && ok "the run to be orphaned started" || not_ok "never started"
# Its step recorded as running (rows are written in batches, so the step
# can start before its row is there).
for _ in $(seq 100); do
  [ -n "$(store_query "select pid from steps where step='first' and status='running' and run_id=(select id from runs where job='long' order by created_ms desc limit 1)")" ] && break
  sleep 0.05
done
kill -9 "$launcher"
wait "$launcher" 2>/dev/null
id=$(store_query "select id from runs where job='long' order by created_ms desc limit 1")
check_eq "the killed launcher left its run started" started \
  "$(store_query "select status from runs where id='$id'")"
[ -n "$(pgrep -f "sleep 60.$$")" ] && ok "its step is still running (orphaned)" || not_ok "no orphan to sweep"
expect_exit -m "the next weft command opens the instance" 0 env WEFT_RUN_ADOPT=0 "$WEFT_BIN" run list
check_eq "the orphaned run is marked failed" failure \
  "$(store_query "select status from runs where id='$id'")"
check_has "the message names the dead coordinator" "orphaned: its coordinator" \
  "$(store_query "select message from runs where id='$id'")"
check_eq "the orphaned step was killed" "" "$(sleepers)"
check_eq "the step is failed" "failed" "$(store_query "select status from steps where run_id='$id' and step='first'")"

# -- kill -9 of the launcher of a step whose child left its process group ----------------------
rm -f escape.started
"$WEFT_BIN" launch escape -l . >"$tmp/escape.out" 2>&1 &
launcher=$!
wait_for escape.started && ok "the run with an escaping process started" || not_ok "never started"
kill -9 "$launcher"
wait "$launcher" 2>/dev/null
expect_exit -m "the next weft command sweeps it" 0 env WEFT_RUN_ADOPT=0 "$WEFT_BIN" run list
check_eq "every process of the run is killed, the one in its own session too" "" "$(sleepers)"

test_done
