#!/usr/bin/env bash
# t0010-launch: weft launch runs jobs end to end: outputs persisted as
# artifacts, compute logs kept, faults reported exactly, retries and timeouts.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/faults" "$tmp/faults"
mark_sleeps "$tmp/faults"
faults=$tmp/faults

# -- the arithmetic example: 10 -> 15 -> 16 -> (8, 8) -> 9 -> 17 -----------------------
cd "$examples" || exit 1
expect_exit -m "arithmetic example succeeds" 0 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml
check_has "plain output reports total = 17" "total output result = 17" "$out"
check_has "plain output reports success" "succeeded in" "$out"
id=$(run_id_of)
check_eq "the total is persisted in the artifact store" 17 \
  "$(cat "$WEFT_HOME/artifacts/$id/total/result" 2>/dev/null)"
check_eq "the run is stored as success" success "$(store_query "select status from runs where id='$id'")"
check_eq "five steps succeeded, one attempt each" "5" \
  "$(store_query "select count(*) from steps where run_id='$id' and status='succeeded' and attempt=1")"
check_eq "every step event is stored" "5|5|6" \
  "$(store_query "select sum(type='step_started'), sum(type='step_succeeded'), sum(type='step_output') from events where run_id='$id'")"

# On a terminal (script(1) gives it one) the view is redrawn in place.
expect_exit -m "launch on a terminal succeeds" 0 \
  script -qec "$WEFT_BIN launch arithmetic -c arithmetic/run.yaml" /dev/null
check_has "the terminal view moves the cursor up to redraw" $'\033[' "$out"
check_has "the terminal view counts steps by state" "5 succeeded  0 running  0 waiting  0 failed" "$out"
check_has "the terminal view ends with the result" "success in" "$out"

expect_exit -m "--set overrides the run config" 0 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml --set ops.add_x.config.x=7 --quiet
id=$(run_id_of)
check_eq "x=7 gives 19" 19 "$(cat "$WEFT_HOME/artifacts/$id/total/result" 2>/dev/null)"
check_has "--quiet prints only the ending" "run $id success in" "$out"
check_eq "--quiet prints one line" 1 "$(wc -l < "$tmp/out")"

expect_exit -m "--tag is stored with the run" 0 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml --tag owner=ana --tag ticket=42 --quiet
id=$(run_id_of)
check_has "tags stored" '"owner":"ana"' "$(store_query "select tags from runs where id='$id'")"

expect_exit -m "an invalid run config launches nothing" 1 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml --set ops.add_x.config.x=seven
check_has "the bad value is reported" "ops.add_x.config.x" "$err"
expect_exit -m "unknown job" 1 "$WEFT_BIN" launch arithmetc
check_has "did-you-mean for the job" "arithmetic" "$err"
expect_exit -m "launch without JOB is a usage error" 2 "$WEFT_BIN" launch
expect_exit -m "launch --bogus is a usage error" 2 "$WEFT_BIN" launch arithmetic --bogus
expect_output_contains -m "launch --help documents --detach" "--detach" "$WEFT_BIN" launch --help

# -- Python ops get the built-in SDK without any set-up ------------------------------------
expect_exit -m "the Python ETL example succeeds" 0 "$WEFT_BIN" launch sales_etl
check_has "the report materializes its asset" "report materialized sales_report" "$out"
check_eq "the SDK is unpacked under WEFT_HOME" yes \
  "$([ -f "$WEFT_HOME/sdk/python/weft_op.py" ] && echo yes)"

# -- faults -----------------------------------------------------------------------------
cd "$faults" || exit 1
expect_exit -m "a failing step fails the run" 1 "$WEFT_BIN" launch branches -l .
id=$(run_id_of)
check_has "exit status named" "bad failed (attempt 1): exited with status 3" "$out"
check_has "downstream skipped" "after_after skipped: upstream 'bad' failed" "$out"
check_has "independent branch still ran" "independent succeeded" "$out"
check_has "stderr of the failed step kept" "about to fail" \
  "$(cat "$WEFT_HOME/runs/$id/bad/1/stderr.log" 2>/dev/null)"
check_eq "stored states" "after_after|skipped
after_bad|skipped
bad|failed
independent|succeeded" "$(store_query "select step, status from steps where run_id='$id' order by step")"
check_has "the log paths are recorded in the events" "/runs/$id/bad/1/stderr.log" \
  "$(store_query "select payload from events where run_id='$id' and type='step_failed'")"

expect_exit -m "missing declared output fails" 1 "$WEFT_BIN" launch missing_output -l .
check_has "says which output" "declared output 'n' was not written" "$out"
expect_exit -m "wrong output type fails" 1 "$WEFT_BIN" launch wrong_type -l .
check_has "says the types" "output 'n' must be int, got string" "$out"
expect_exit -m "invalid JSON on the events fd fails" 1 "$WEFT_BIN" launch bad_events -l .
check_has "says the line" "events fd line 1 is not valid JSON" "$out"

# -- retries and timeouts ------------------------------------------------------------------
rm -f flaky.count
expect_exit -m "a flaky op succeeds on its third attempt" 0 "$WEFT_BIN" launch flaky -l .
id=$(run_id_of)
check_has "first retry after the base delay" "retrying in 50 ms" "$out"
check_has "second retry after delay * backoff" "retrying in 100 ms" "$out"
check_eq "the op ran three times" 3 "$(wc -l < flaky.count)"
check_eq "three attempts stored" "1|up_for_retry
2|up_for_retry
3|succeeded" "$(store_query "select attempt, status from steps where run_id='$id' order by attempt")"
check_eq "output of the last attempt" 3 "$(cat "$WEFT_HOME/artifacts/$id/step/attempts")"

expect_exit -m "retries run out" 1 "$WEFT_BIN" launch hopeless -l .
check_has "third attempt is final" "step failed (attempt 3): exited with status 1" "$out"

start=$(date +%s%N)
expect_exit -m "a step over its timeout fails" 1 "$WEFT_BIN" launch timeout -l .
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_has "timeout named" "slow failed (attempt 1): timed out after 1s" "$out"
check_eq "the run ends soon after the 1 s timeout" yes "$([ "$elapsed_ms" -lt 8000 ] && echo yes)"
check_eq "no sleep survives the timeout" "" "$(survivors "sleep 30.$$")"

test_done
