#!/usr/bin/env bash
# t0013-reexecute: a failed run re-executed from its failure reuses the
# stored outputs of what succeeded, across a chain of re-executions.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/faults" "$tmp/faults"
cd "$tmp/faults" || exit 1
rm -f flag counted.count

expect_exit -m "the first run fails at 'double'" 1 "$WEFT_BIN" launch reexec -l .
r1=$(run_id_of)
check_eq "source ran once" 1 "$(wc -l < counted.count)"

expect_exit -m "re-execution from failure fails again without the flag" 1 \
  "$WEFT_BIN" run reexecute "$r1" --from-failure -l .
r2=$(run_id_of)
check_has "source is reused" "source reused from run $r1" "$out"
check_eq "source did not run again" 1 "$(wc -l < counted.count)"
check_eq "side (which succeeded) is reused too" "side|succeeded|reused from run $r1" \
  "$(store_query "select step, status, message from steps where run_id='$r2' and step='side'")"

touch flag
expect_exit -m "re-executing the re-execution succeeds" 0 \
  "$WEFT_BIN" run reexecute "${r2:0:6}" --from-failure -l .
r3=$(run_id_of)
check_eq "source still ran only once" 1 "$(wc -l < counted.count)"
check_eq "double got the reused input: 5 * 2" 10 "$(cat "$WEFT_HOME/artifacts/$r3/double/result")"
check_eq "parent and root are recorded" "$r2|$r1" \
  "$(store_query "select parent_run_id, root_run_id from runs where id='$r3'")"
check_has "the reused output points at the run that made it" "\"from_run\":\"$r1\"" \
  "$(store_query "select payload from events where run_id='$r3' and step='source' and type='step_output'")"
check_has "its artifact key is the original one" "\"key\":\"$r1/source/result\"" \
  "$(store_query "select payload from events where run_id='$r3' and step='source' and type='step_output'")"

expect_exit -m "--steps runs exactly the named steps" 0 \
  "$WEFT_BIN" run reexecute "$r3" --steps source -l .
check_eq "source ran again" 2 "$(wc -l < counted.count)"
check_has "double reused" "double reused from run" "$out"

expect_exit -m "nothing failed: --from-failure has nothing to do" 1 \
  "$WEFT_BIN" run reexecute "$r3" --from-failure -l .
check_has "says so" "nothing to re-execute" "$err"
expect_exit -m "an unknown step is named" 1 "$WEFT_BIN" run reexecute "$r3" --steps doubel -l .
check_has "with a suggestion" "did you mean 'double'" "$err"
expect_exit -m "--from-failure or --steps is required" 2 "$WEFT_BIN" run reexecute "$r3" -l .
expect_exit -m "an unknown run" 1 "$WEFT_BIN" run reexecute ffffffffffff --from-failure -l .

test_done
