#!/usr/bin/env bash
# t0109-run-adopt: kill -9 of a run's coordinator mid-step no longer fails the
# run: once its lease expires the next sweep (any weft command) adopts it, a
# new coordinator resumes it (final steps keep their results, interrupted
# ones are retried and the events say so) and the run succeeds. Local
# process steps, C ops, queue steps on a worker (WEFT_TEST_AMQP_URL), cancel
# of an adopted run, and a run whose adopter cannot go on (it fails with
# every step final and its failed steps named).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

# Short leases so the test is quick; docs/operations.md has the default (5 s).
export WEFT_RUN_LEASE_MS=1500
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
ok:
  run: echo ok
gate:
  # Waits for the test's go-ahead, then leaves a line: a step that ran
  # twice to completion shows up as two lines.
  run: |
    while [ ! -e "\$WEFT_LOCATION_DIR/go" ]; do sleep 0.1; done
    echo "\$WEFT_RUN_ID \$WEFT_ATTEMPT" >> "\$WEFT_LOCATION_DIR/gates.done"
long:
  run: exec sleep 30.$$
YAML
printf 'graph:\n  a: ok\n  b: {uses: gate, after: [a]}\n  c: {uses: ok, after: [b]}\n' >loc/jobs/three.yaml
printf 'graph:\n  a: ok\n  b: {uses: long, after: [a]}\n  c: {uses: ok, after: [b]}\n' >loc/jobs/slow.yaml
at_exit "pkill -9 -f 'sleep 30.$$' 2>/dev/null; touch '$tmp/loc/go'; true"

# q SQL: a query on the store; the sqlite3 shell when there is one (a
# python3 start per poll is slow on a loaded machine).
if command -v sqlite3 >/dev/null; then
  q() { sqlite3 -readonly -cmd ".timeout 5000" "$WEFT_HOME/weft.db" "$1"; }
else
  q() { store_query "$1"; }
fi
status_of() { q "select status from runs where id='$1'"; }
# coord_pid RUN: the pid of the run's coordinator (its id is host:pid:start).
coord_pid() { q "select coordinator from runs where id='$1'" | cut -d: -f2; }
# wait_step RUN STEP: until STEP of RUN is recorded running (10 s).
wait_step() {
  local i
  for i in $(seq 200); do
    [ -n "$(q "select 1 from steps where run_id='$1' and step='$2' and status='running'")" ] && return 0
    sleep 0.05
  done
  return 1
}
# sweep_until BIN SECONDS RUN...: runs `BIN run list` (each opens the
# instance and sweeps) until every RUN is final.
sweep_until() {
  local bin=$1 secs=$2 i r left
  shift 2
  for i in $(seq $((secs * 5))); do
    "$bin" run list >/dev/null 2>&1
    left=0
    for r in "$@"; do
      case $(status_of "$r") in success | failure | canceled) ;; *) left=1 ;; esac
    done
    [ "$left" = 0 ] && return 0
    sleep 0.2
  done
  return 1
}
now_ms() { date +%s%3N; }

# -- local process steps -------------------------------------------------------------
runs=()
for k in 1 2 3; do
  expect_exit -m "detached run $k starts" 0 "$WEFT_BIN" launch three -l loc --detach
  runs+=("$out")
done
for r in "${runs[@]}"; do wait_step "$r" b || not_ok "step b of $r never started"; done
for r in "${runs[@]}"; do kill -9 "$(coord_pid "$r")"; done
killed_ms=$(now_ms)
check_eq "the killed coordinators left their runs started" "started started started" \
  "$(for r in "${runs[@]}"; do status_of "$r"; done | xargs)"
# Sweeps until every run is adopted, then lets the restarted steps finish.
for _ in $(seq 300); do
  "$WEFT_BIN" run list >/dev/null 2>&1
  [ "$(q "select count(*) from events where type='run_adopted' and run_id in ($(printf "'%s'," "${runs[@]}" | sed 's/,$//'))")" = 3 ] && break
  sleep 0.2
done
touch loc/go
if sweep_until "$WEFT_BIN" 60 "${runs[@]}"; then ok "sweeps adopt the runs and they end"; else not_ok "runs never ended" "$(for r in "${runs[@]}"; do status_of "$r"; done)"; fi
check_eq "every adopted run succeeded" "success success success" \
  "$(for r in "${runs[@]}"; do status_of "$r"; done | xargs)"
in_list() { printf "'%s'," "$@" | sed 's/,$//'; }
check_eq "one run_adopted event per run, naming the dead and the new coordinator" "3" \
  "$(q "select count(*) from events where type='run_adopted' and run_id in ($(in_list "${runs[@]}"))
        and json_extract(payload,'$.from') != json_extract(payload,'$.to')
        and json_extract(payload,'$.reason') like '%died (lease expired)%'")"
check_eq "a kept its result: it ran once" "3" \
  "$(q "select count(*) from steps where step='a' and attempt=1 and status='succeeded' and run_id in ($(in_list "${runs[@]}"))")"
check_eq "b's interrupted attempt says it was retried after adoption" "3" \
  "$(q "select count(*) from events where step='b' and type='step_up_for_retry' and json_extract(payload,'$.adopted')=1 and run_id in ($(in_list "${runs[@]}"))")"
check_eq "b completed once per run (the killed attempt never did)" "3 3" \
  "$(cut -d' ' -f1 loc/gates.done | sort -u | wc -l) $(wc -l <loc/gates.done)"
check_eq "no step of a final run is left unfinished" "" \
  "$(q "select run_id, step, status from steps where status in ('running','queued','up_for_retry')
        and attempt = (select max(attempt) from steps s2 where s2.run_id=steps.run_id and s2.step=steps.step)
        and run_id in ($(in_list "${runs[@]}"))")"
check_eq "the adopters released their leases" "0" \
  "$(q "select count(*) from run_leases where run_id in ($(in_list "${runs[@]}"))")"
expect_exit -m "run show names the coordinator and the adoption" 0 "$WEFT_BIN" run show "${runs[0]}"
check_has "coordinator line" "coordinator:" "$out"
check_has "adoption line" "adopted:" "$out"
moved=$(q "select min(ts_ms) from events where type='run_adopted' and run_id in ($(in_list "${runs[@]}"))")
echo "# kill -9 -> first run moving again: $((moved - killed_ms)) ms (lease $WEFT_RUN_LEASE_MS ms)"
check_py "the runs moved again within the lease plus 5 s" "
print('ok' if $moved - $killed_ms < $WEFT_RUN_LEASE_MS + 5000 else $moved - $killed_ms)"

# -- cancel of an adopted run ------------------------------------------------------------------
expect_exit -m "a slow run starts" 0 "$WEFT_BIN" launch slow -l loc --detach
slow=$out
wait_step "$slow" b || not_ok "its step b never started"
kill -9 "$(coord_pid "$slow")"
for _ in $(seq 100); do
  "$WEFT_BIN" run list >/dev/null 2>&1
  [ -n "$(q "select 1 from events where run_id='$slow' and type='run_adopted'")" ] && break
  sleep 0.2
done
wait_step "$slow" b && ok "the slow run was adopted and its step restarted" || not_ok "not adopted"
expect_exit -m "weft run cancel ends the adopted run" 0 "$WEFT_BIN" run cancel "$slow"
check_eq "it is canceled" canceled "$(status_of "$slow")"
check_eq "no step process of it survives" "" "$(survivors "sleep 30.$$")"
check_eq "its steps are final: b canceled, c canceled" "a|succeeded
b|canceled
c|canceled" "$(q "select step, status from steps s where run_id='$slow' and attempt=(select max(attempt) from steps t where t.run_id=s.run_id and t.step=s.step) order by step")"

# -- an adopter that cannot go on: the run fails, every step final, named ------------------
expect_exit -m "another slow run starts" 0 "$WEFT_BIN" launch slow -l loc --detach
doomed=$out
wait_step "$doomed" b || not_ok "its step b never started"
kill -9 "$(coord_pid "$doomed")"
# Its code snapshot is gone: no coordinator can load its job again.
rm -rf "$WEFT_HOME/code/$(q "select code_version from runs where id='$doomed'")"
sweep_until "$WEFT_BIN" 30 "$doomed" && ok "the unadoptable run ended" || not_ok "it never ended"
check_eq "it failed" failure "$(status_of "$doomed")"
check_has "its message says why" "adoption failed" "$(q "select message from runs where id='$doomed'")"
check_eq "no step left waiting or running: b failed, c canceled" "a|succeeded
b|failed
c|canceled" "$(q "select step, status from steps where run_id='$doomed' order by step")"
check_eq "run_failure names the failed step" '["b"]' \
  "$(q "select json_extract(payload,'$.failed') from events where run_id='$doomed' and type='run_failure'")"
check_eq "no step process of it survives" "" "$(survivors "sleep 30.$$")"

# -- C ops in the coordinator's process ---------------------------------------------------
cbin=${WEFT_C_OP_WORKER:-$(dirname "$WEFT_BIN")/c_op_worker}
if [ ! -x "$cbin" ]; then
  skip "no c_op_worker next to $WEFT_BIN"
else
  # C ops run in the coordinator's own process (the in_process executor).
  export WEFT_HOME=$tmp/chome
  mkdir -p "$WEFT_HOME" cloc/ops cloc/jobs
  printf 'execution: in_process\n' >"$WEFT_HOME/weft.yaml"
  printf 'nap:\n  outputs: {pid: int, calls: int}\n  c_function: nap\n' >cloc/ops/ops.yaml
  {
    echo "graph:"
    echo "  n1: nap"
    for i in $(seq 2 300); do echo "  n$i: {uses: nap, after: [n$((i - 1))]}"; done
  } >cloc/jobs/chain.yaml
  export C_OP_LOG=$tmp/c_calls.log
  : >"$C_OP_LOG"
  expect_exit -m "a chain of 300 C ops starts" 0 "$cbin" launch chain -l cloc --detach
  chain=$out
  # (its rows commit in groups: a 20 ms step may never show as running)
  for _ in $(seq 200); do
    [ "$(q "select count(*) from steps where run_id='$chain' and status='succeeded'")" -ge 20 ] && break
    sleep 0.05
  done
  [ "$(status_of "$chain")" = started ] && ok "the chain is mid-way when its coordinator is killed" ||
    not_ok "the chain is not mid-way" "$(status_of "$chain")"
  kill -9 "$(coord_pid "$chain")"
  killed_ms=$(now_ms)
  if sweep_until "$cbin" 60 "$chain"; then ok "the C-op run was adopted and ended"; else not_ok "it never ended" "$(status_of "$chain")"; fi
  check_eq "it succeeded" success "$(status_of "$chain")"
  check_eq "every step succeeded in its last attempt" "300" \
    "$(q "select count(*) from steps s where run_id='$chain' and status='succeeded'")"
  restarted=$(q "select count(*) from events where run_id='$chain' and type='step_up_for_retry' and json_extract(payload,'$.adopted')=1")
  # What the dead coordinator did after its last group commit (50 ms: at
  # most 3 of these 20 ms steps) was never recorded: those steps run again
  # (at least once); run_adopted says from when (last_recorded_ms).
  check_py "no C op completed twice but those retried after adoption or unrecorded" "
n=len(open('$C_OP_LOG').read().split())
print('ok' if 300 <= n <= 300 + $restarted + 3 else (n, $restarted))"
  echo "# C ops: $(wc -l <"$C_OP_LOG") calls for 300 steps, $restarted restarted by the adopter"
  moved=$(q "select ts_ms from events where type='run_adopted' and run_id='$chain'")
  echo "# C ops: kill -9 -> moving again: $((moved - killed_ms)) ms"
fi

# -- queue steps on a worker -----------------------------------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "WEFT_TEST_AMQP_URL is not set: no queue steps"
else
  amqp_setup

  export WEFT_HOME=$tmp/qhome
  mkdir -p "$WEFT_HOME" qloc/ops qloc/jobs
  queue_instance ""
  cat >qloc/ops/ops.yaml <<YAML
ok:
  queue: $qd
  run: echo ok
nap:
  queue: $qd
  run: sleep 3; echo "\$WEFT_RUN_ID \$WEFT_ATTEMPT" >> "$tmp/qnaps.done"
YAML
  printf 'graph:\n  a: ok\n  b: {uses: nap, after: [a]}\n  c: {uses: ok, after: [b]}\n' >qloc/jobs/three.yaml
  start_worker w1 "$qd" --concurrency 2
  at_exit "kill -9 $worker_pid"
  wait_registered 1 && ok "a worker registers" || not_ok "no worker"
  expect_exit -m "a queue run starts" 0 "$WEFT_BIN" launch three -l qloc --detach
  qrun=$out
  wait_step "$qrun" b || not_ok "its step b never started on the worker"
  kill -9 "$(coord_pid "$qrun")"
  if sweep_until "$WEFT_BIN" 60 "$qrun"; then ok "the queue run was adopted and ended"; else not_ok "it never ended"; fi
  check_eq "it succeeded" success "$(status_of "$qrun")"
  restarted=$(q "select count(*) from events where run_id='$qrun' and type='step_up_for_retry' and json_extract(payload,'$.adopted')=1")
  check_py "b completed twice only if an event says it was retried after adoption" "
n=len(open('$tmp/qnaps.done').read().splitlines())
print('ok' if 1 <= n <= 1 + $restarted else (n, $restarted))"
fi

test_done
