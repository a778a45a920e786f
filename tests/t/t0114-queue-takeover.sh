#!/usr/bin/env bash
# t0114-queue-takeover: a queue step running on a worker when its run's
# coordinator is killed (-9) keeps running there and reports to the
# coordinator that adopts the run: one attempt, finished ok, on the same
# worker, and run_adopted lists it as taken_over. Cancel of the adopted run
# reaches the worker. When the worker died too (its heartbeat goes stale),
# the adopter retries the step and the events say why (real RabbitMQ).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

amqp_setup
# Short leases so the test is quick; docs/operations.md has the default (5 s).
export WEFT_RUN_LEASE_MS=1500
# An adopter gives up on an unreachable broker after 1 s, not 30 (the last
# section): set for every weft process, as any of them may sweep and spawn
# one (the workers too), and harmless with the broker up.
export WEFT_AMQP_CONNECT_TIMEOUT_S=1
queue_instance ""
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
ok:
  queue: $qd
  run: echo ok
nap:
  queue: $qd
  # Leaves a line per completion: a step that ran twice to completion
  # shows up as two lines.
  run: sleep 3; echo "\$WEFT_RUN_ID \$WEFT_ATTEMPT" >> "$tmp/naps.done"
# As nap, for the sections that rewrite weft.yaml between the start and
# the kill: the step must still run when its coordinator dies, under load.
long_nap:
  queue: $qd
  run: sleep 8; echo "\$WEFT_RUN_ID \$WEFT_ATTEMPT" >> "$tmp/naps.done"
long:
  queue: $qd
  run: exec sleep 30.$$
YAML
: >naps.done
printf 'graph:\n  a: ok\n  b: {uses: nap, after: [a]}\n  c: {uses: ok, after: [b]}\n' >loc/jobs/three.yaml
printf 'graph:\n  a: ok\n  b: {uses: long, after: [a]}\n  c: {uses: ok, after: [b]}\n' >loc/jobs/slow.yaml
printf 'graph:\n  a: ok\n  b: {uses: long_nap, after: [a]}\n  c: {uses: ok, after: [b]}\n' >loc/jobs/lasting.yaml
at_exit "pkill -9 -f 'sleep 30.$$' 2>/dev/null; true"

if command -v sqlite3 >/dev/null; then
  q() { sqlite3 -readonly -cmd ".timeout 5000" "$WEFT_HOME/weft.db" "$1"; }
else
  q() { store_query "$1"; }
fi
status_of() { q "select status from runs where id='$1'"; }
coord_pid() { q "select coordinator from runs where id='$1'" | cut -d: -f2; }
# wait_started RUN STEP: until STEP's step_started, with the attempt id a
# new coordinator takes it over by, is committed (20 s).
wait_started() {
  local i
  for i in $(seq 400); do
    [ -n "$(q "select 1 from events where run_id='$1' and step='$2' and type='step_started'
               and json_extract(payload,'$.attempt_id') is not null")" ] && return 0
    sleep 0.05
  done
  return 1
}
# wait_for SECONDS SQL: sweeps (`weft run list`) until SQL prints something.
wait_for() {
  local i
  for i in $(seq $(($1 * 5))); do
    "$WEFT_BIN" run list >/dev/null 2>&1
    [ -n "$(q "$2")" ] && return 0
    sleep 0.2
  done
  return 1
}
final() { wait_for "$1" "select 1 from runs where id='$2' and status in ('success','failure','canceled')"; }
now_ms() { date +%s%3N; }

start_worker w1 "$qd" --concurrency 2
w1=$worker_pid
wait_registered 1 && ok "a worker registers" || not_ok "no worker"

# -- the step keeps running on its worker and reports to the adopter ----------------
expect_exit -m "a queue run starts" 0 "$WEFT_BIN" launch three -l loc --detach
run=$out
wait_started "$run" b || not_ok "its step b never started on the worker"
kill -9 "$(coord_pid "$run")"
killed_ms=$(now_ms)
if final 60 "$run"; then ok "the run was adopted and ended"; else not_ok "it never ended" "$(status_of "$run")"; fi
check_eq "it succeeded" success "$(status_of "$run")"
check_eq "b has one attempt, succeeded on the same worker" "1|succeeded|w1" \
  "$(q "select attempt, status, worker from steps where run_id='$run' and step='b'")"
check_eq "b completed once" "1" "$(grep -c "^$run " naps.done)"
check_eq "run_adopted lists b as taken over, nothing restarted" '["b"]|[]' \
  "$(q "select json_extract(payload,'$.taken_over'), json_extract(payload,'$.restarted')
        from events where run_id='$run' and type='run_adopted'")"
check_eq "no step was retried" "0" \
  "$(q "select count(*) from events where run_id='$run' and type='step_up_for_retry'")"
expect_exit -m "run show lists the adoption" 0 "$WEFT_BIN" run show "$run"
check_has "it names the step taken over" "took over b" "$out"
done_ms=$(q "select ts_ms from events where run_id='$run' and step='b' and type='step_succeeded'")
echo "# kill -9 -> taken-over step recorded succeeded: $((done_ms - killed_ms)) ms (lease $WEFT_RUN_LEASE_MS ms)"

# -- cancel of a taken-over step reaches its worker --------------------------------------
expect_exit -m "a slow run starts" 0 "$WEFT_BIN" launch slow -l loc --detach
slow=$out
wait_started "$slow" b || not_ok "its step b never started"
kill -9 "$(coord_pid "$slow")"
wait_for 30 "select 1 from events where run_id='$slow' and type='run_adopted'" ||
  not_ok "the slow run was never adopted"
check_eq "its step b was taken over" '["b"]' \
  "$(q "select json_extract(payload,'$.taken_over') from events where run_id='$slow' and type='run_adopted'")"
expect_exit -m "weft run cancel ends the adopted run" 0 "$WEFT_BIN" run cancel "$slow" --timeout 60
check_eq "it is canceled" canceled "$(status_of "$slow")"
check_eq "the worker stopped the step: no process of it survives" "" "$(survivors "sleep 30.$$")"
check_eq "b (its one attempt) and c are canceled" "a|1|succeeded
b|1|canceled
c|1|canceled" "$(q "select step, attempt, status from steps where run_id='$slow' order by step, attempt")"

# -- the worker died too: the adopter retries the step, saying why -------------------------
expect_exit -m "another queue run starts" 0 "$WEFT_BIN" launch three -l loc --detach
lost=$out
wait_started "$lost" b || not_ok "its step b never started"
kill -9 "$(coord_pid "$lost")" "$w1"
wait_for 30 "select 1 from events where run_id='$lost' and type='run_adopted'" ||
  not_ok "the run was never adopted"
# The worker's heartbeat goes stale after 10 s (queue.h): then the retry.
wait_for 40 "select 1 from events where run_id='$lost' and step='b' and type='step_up_for_retry'" ||
  not_ok "b was never retried"
start_worker w2 "$qd" --concurrency 2
if final 60 "$lost"; then ok "the run ended"; else not_ok "it never ended" "$(status_of "$lost")"; fi
check_eq "it succeeded" success "$(status_of "$lost")"
check_eq "b was taken over first" '["b"]' \
  "$(q "select json_extract(payload,'$.taken_over') from events where run_id='$lost' and type='run_adopted'")"
check_has "the retry is marked adopted and names the dead worker" "1|lost after adoption: its worker w1 is gone" \
  "$(q "select json_extract(payload,'$.adopted'), json_extract(payload,'$.message')
        from events where run_id='$lost' and step='b' and type='step_up_for_retry'")"
check_eq "b's second attempt succeeded on the other worker" "1|up_for_retry
2|succeeded|w2" "$(q "select attempt, status || case when status='succeeded' then '|' || worker else '' end
                      from steps where run_id='$lost' and step='b' order by attempt")"
check_eq "b completed once: the dead worker's attempt never did, nor ran again" "2" \
  "$(grep "^$lost " naps.done | cut -d' ' -f2 | xargs)"


# -- the broker out of the adopter's reach: the run waits for it, not fails ---------------
# The adopters find weft.yaml naming a port nobody listens on, and give up
# after 1 s each; they write nothing, and once the broker is named again one
# adopts the run.
cp "$WEFT_HOME/weft.yaml" "$tmp/weft.yaml.good"
# orphan_with URL WHAT: launches `lasting`; once its step b runs on the
# worker, names URL as the broker in weft.yaml (the file made before the
# launch, so the 8 s step still runs) and kills -9 the run's coordinator.
# The run's id in $out.
orphan_with() {
  sed "s|url: $amqp_url|url: $1|" "$tmp/weft.yaml.good" >"$tmp/weft.yaml.next"
  expect_exit -m "a run for $2 starts" 0 "$WEFT_BIN" launch lasting -l loc --detach
  local run=$out
  wait_started "$run" b || not_ok "its step b never started"
  cp "$tmp/weft.yaml.next" "$WEFT_HOME/weft.yaml"
  kill -9 "$(coord_pid "$run")" || not_ok "its coordinator ended before the kill"
  out=$run
}
orphan_with "amqp://guest:guest@127.0.0.1:$(free_port)/" "the unreachable broker"
cut_off=$out
gave_up() { grep -c "left for the next adoption" "$WEFT_HOME/runs/$cut_off/coordinator.log" 2>/dev/null; }
for _ in $(seq 150); do
  "$WEFT_BIN" run list >/dev/null 2>&1
  [ "$(gave_up)" -ge 2 ] 2>/dev/null && break
  sleep 0.2
done
if [ "$(gave_up)" -ge 2 ] 2>/dev/null; then ok "two adopters gave up on the broker, each writing nothing"
else not_ok "adopters did not give up on the broker" "$(tail -n 5 "$WEFT_HOME/runs/$cut_off/coordinator.log")"; fi
check_eq "the run is still started, with no failure recorded" "started|0" \
  "$(status_of "$cut_off")|$(q "select count(*) from events where run_id='$cut_off' and type in ('run_failure','step_failed')")"
cp "$tmp/weft.yaml.good" "$WEFT_HOME/weft.yaml"
if final 60 "$cut_off"; then ok "adopted once the broker is back, it ended"; else not_ok "it never ended" "$(status_of "$cut_off")"; fi
check_eq "it succeeded" success "$(status_of "$cut_off")"
check_eq "b completed once" "1" "$(grep -c "^$cut_off " naps.done)"

# -- a broker that refuses the adopter's login: not waited for, the run fails saying so -------
orphan_with "$(printf '%s' "$amqp_url" | sed 's|//\([^:]*\):[^@]*@|//\1:weft-wrong-password@|')" \
  "a refused login"
refused=$out
if final 30 "$refused"; then ok "the adopter ended the run at once"; else not_ok "it never ended" "$(status_of "$refused")"; fi
check_has "it failed, naming the refusal" "failure|" "$(q "select status || '|' || message from runs where id='$refused'")"
check_has "... with the broker's reply" "403" "$(q "select message from runs where id='$refused'")"
check_eq "the password is in no message" "" "$(grep -rl weft-wrong-password "$WEFT_HOME/runs/$refused" 2>/dev/null; q "select 1 from events where run_id='$refused' and payload like '%weft-wrong-password%'")"
check_eq "no step is left running or waiting" "" \
  "$(q "select step from steps where run_id='$refused' and status in ('running','waiting')")"
cp "$tmp/weft.yaml.good" "$WEFT_HOME/weft.yaml"
# The failed run's step b still runs on the worker: leave nothing running.
for _ in $(seq 100); do grep -q "^$refused " naps.done && break; sleep 0.2; done

test_done
