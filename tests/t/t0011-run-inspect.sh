#!/usr/bin/env bash
# t0011-run-inspect: `weft run list | show | events | logs` on runs of the
# examples and of a small location of talking, failing and slow steps:
# what they print (text and JSON), id prefixes, --follow on a detached run,
# and their errors and exit codes.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

# A location whose steps write to their logs, fail after a retry (so the
# step downstream is skipped), or take a second.
mkdir -p "$tmp/talk/jobs"
cat >"$tmp/talk/jobs/talk.yaml" <<'EOF'
name: talk
ops:
  hello:
    outputs:
      result: int
    run: |
      echo "hello from weft"
      echo "line two"
      echo "a warning" >&2
      echo 3 > "$WEFT_OUTPUTS/result"
  flaky:
    inputs:
      n: int
    outputs:
      result: int
    retries:
      max: 1
      delay: 0
    run: |
      echo "flaky attempt $WEFT_ATTEMPT"
      exit 3
  after:
    inputs:
      x: int
    run: 'echo never'
graph:
  hello: hello
  flaky:
    inputs:
      n: hello
  after:
    inputs:
      x: flaky
EOF
cat >"$tmp/talk/jobs/slow.yaml" <<'EOF'
name: slow
ops:
  tick:
    run: |
      for i in 1 2 3 4; do echo "tick $i"; sleep 0.3; done
  tock:
    run: 'echo tock'
graph:
  tick: tick
  tock: tock
EOF


# -- runs to inspect -------------------------------------------------------------------------
cd "$examples" || exit 1
expect_exit -m "the arithmetic example succeeds" 0 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml
arith=$(run_id_of)
expect_exit -m "the sales_etl example succeeds" 0 "$WEFT_BIN" launch sales_etl
etl=$(run_id_of)
cd "$tmp/talk" || exit 1
expect_exit -m "the talk job fails" 1 "$WEFT_BIN" launch talk -l .
talk=$(run_id_of)
check_eq "three run ids were read" 3 "$(printf '%s\n' "$arith" "$etl" "$talk" | grep -c '^[0-9a-f]\{12\}$')"

# -- list ---------------------------------------------------------------------------------------
expect_exit -m "run list exits 0" 0 "$WEFT_BIN" run list
check_eq "run list has a header and the three runs" \
  "ID JOB STATUS STARTED DURATION STEPS PARENT" "$(head -n 1 "$tmp/out" | tr -s ' ')"
check_eq "newest first" "$talk $etl $arith" "$(sed 1d "$tmp/out" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')"
check_eq "the failed run's job and status" "talk failure" \
  "$(grep "^$talk" "$tmp/out" | tr -s ' ' | cut -d' ' -f2,3)"
check_has "its steps: one ok, one failed, one skipped" "1 ok, 1 failed, 1 skipped" "$out"
check_has "the arithmetic run: 5 ok" "5 ok" "$(grep "^$arith" "$tmp/out")"

expect_exit -m "run list --status failure exits 0" 0 "$WEFT_BIN" run list --status failure
check_eq "--status failure keeps the failed run only" "$talk" "$(sed 1d "$tmp/out" | cut -d' ' -f1)"
expect_exit -m "run list --job arithmetic exits 0" 0 "$WEFT_BIN" run list --job arithmetic
check_eq "--job keeps that job's runs" "$arith" "$(sed 1d "$tmp/out" | cut -d' ' -f1)"
expect_exit -m "run list --limit 2 exits 0" 0 "$WEFT_BIN" run list --limit 2
check_eq "--limit 2 lists two runs" 2 "$(sed 1d "$tmp/out" | wc -l)"

expect_exit -m "run list --format json exits 0" 0 "$WEFT_BIN" run list --format json
check_py "run list json has every run with its step counts" "
import json, sys
runs = json.load(open(sys.argv[1]))['runs']
got = [(r['id'], r['job'], r['status'], r['steps']) for r in runs]
want = [('$talk', 'talk', 'failure', {'succeeded': 1, 'failed': 1, 'skipped': 1}),
        ('$etl', 'sales_etl', 'success', {'succeeded': 4}),
        ('$arith', 'arithmetic', 'success', {'succeeded': 5})]
bad = [r['id'] for r in runs if not (r['duration_ms'] >= 0 and r['started_ms'] > 0)]
print('ok' if got == want and not bad else (got, bad))"

expect_exit -m "an unknown status is a usage error" 2 "$WEFT_BIN" run list --status done
check_has "which lists the valid ones" "queued, started, success, failure, canceling, canceled" "$err"
expect_exit -m "--limit 0 is a usage error" 2 "$WEFT_BIN" run list --limit 0
expect_exit -m "an unknown format is a usage error" 2 "$WEFT_BIN" run list --format yaml
expect_exit -m "an unknown option is a usage error" 2 "$WEFT_BIN" run list --bogus
check_has "and is named" "unknown option '--bogus'" "$err"

# -- show ---------------------------------------------------------------------------------------------
expect_exit -m "run show by a 4-character prefix exits 0" 0 "$WEFT_BIN" run show "${arith:0:4}"
check_has "the header names the full id" "run $arith" "$out"
check_has "the job and location" "job:          arithmetic (location arithmetic)" "$out"
check_has "the status" "status:       success" "$out"
check_has "the tags of the run config" "purpose=demo" "$out"
check_has "the total output, 17" "total.result      int   17" "$out"
check_has "split's two outputs" "split.high" "$out"
check_eq "every step has one attempt row" 5 "$(grep -c '^  [a-z_]* *1  succeeded' "$tmp/out")"
check_has "the compute logs of the last attempt" "$WEFT_HOME/runs/$arith/total/1/stdout.log" "$out"

expect_exit -m "run show of the failed run exits 0" 0 "$WEFT_BIN" run show "$talk"
check_has "its message" "message:      1 step failed: flaky" "$out"
check_has "the first attempt is up_for_retry" "flaky        1  up_for_retry" "$out"
check_has "the second failed with the exit status" "exited with status 3" "$out"
check_has "the skipped step says why" "upstream 'flaky' failed" "$out"
check_has "the logs point at attempt 2" "flaky (attempt 2)" "$out"

expect_exit -m "run show of the ETL run exits 0" 0 "$WEFT_BIN" run show "$etl"
check_has "a path output is an artifact with its size" "artifact $etl/generate/sales (" "$out"
check_has "the materialization is listed" "report  sales_report" "$out"

expect_exit -m "run show --format json exits 0" 0 "$WEFT_BIN" run show "$arith" --format json
check_py "run show json has the outputs and the steps" "
import json, sys
d = json.load(open(sys.argv[1]))
outs = {(o['step'], o['output']): o.get('value') for o in d['outputs']}
steps = [(s['step'], s['attempt'], s['status']) for s in d['steps']]
ok = (d['id'] == '$arith' and d['status'] == 'success' and outs[('total', 'result')] == 17
      and len(steps) == 5 and all(s[2] == 'succeeded' for s in steps)
      and d['run_config']['ops']['add_x']['config']['x'] == 5
      and all(l['stdout'].endswith('/stdout.log') for l in d['logs']))
print('ok' if ok else d)"

expect_exit -m "an unknown run id exits 1" 1 "$WEFT_BIN" run show ffffffffffff
check_has "and says so" "no run 'ffffffffffff'" "$err"
expect_exit -m "a prefix under 4 characters exits 1" 1 "$WEFT_BIN" run show "${arith:0:3}"
check_has "and asks for more" "at least 4 characters" "$err"
expect_exit -m "run show without ID is a usage error" 2 "$WEFT_BIN" run show
check_has "the ID is asked for" "missing run ID" "$err"
expect_exit -m "run show with two IDs is a usage error" 2 "$WEFT_BIN" run show "$arith" "$etl"

# -- events -------------------------------------------------------------------------------------------
expect_exit -m "run events exits 0" 0 "$WEFT_BIN" run events "$arith"
check_has "the first event is run_queued" "run $arith queued: job arithmetic" "$(head -n 1 "$tmp/out")"
check_has "the last is the success" "run $arith succeeded in" "$(tail -n 1 "$tmp/out")"
check_has "outputs are events" "total output result = 17" "$out"
check_eq "one line per event: 2 run + 5x3 step events + 1 extra split output + end" 19 \
  "$(wc -l <"$tmp/out")"

expect_exit -m "run events --type log exits 0" 0 "$WEFT_BIN" run events "$etl" --type log
check_eq "--type log keeps the four log lines" 4 "$(wc -l <"$tmp/out")"
check_has "with the op's message" "clean [info] kept 944 of 1000 records" "$out"
expect_exit -m "run events --step --type exits 0" 0 \
  "$WEFT_BIN" run events "$talk" --step flaky --type step_started,step_failed
check_eq "--step flaky: two starts and the failure" 3 "$(wc -l <"$tmp/out")"

expect_exit -m "run events --format json exits 0" 0 "$WEFT_BIN" run events "$talk" --format json
check_py "every line is an event object with a parsed payload" "
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
ids = [e['id'] for e in evs]
types = [e['type'] for e in evs]
fail = [e for e in evs if e['type'] == 'step_failed'][0]
ok = (ids == sorted(ids) and types[0] == 'run_queued' and types[-1] == 'run_failure'
      and fail['step'] == 'flaky' and fail['payload']['attempt'] == 2
      and all(set(e) >= {'id', 'ts_ms', 'step', 'type', 'payload'} for e in evs))
print('ok' if ok else types)"

expect_exit -m "an unknown event type is a usage error" 2 "$WEFT_BIN" run events "$talk" --type step_fail
check_has "with a did-you-mean" "did you mean 'step_failed'" "$err"
expect_exit -m "an unknown step of a finished run exits 1" 1 "$WEFT_BIN" run events "$talk" --step flakey
check_has "naming the steps it has" "its steps: hello, flaky, after" "$err"
expect_exit -m "run events of an unknown run exits 1" 1 "$WEFT_BIN" run events abcdabcd

# -- logs ------------------------------------------------------------------------------------------------
expect_exit -m "run logs STEP exits 0" 0 "$WEFT_BIN" run logs "$talk" hello
check_eq "it prints the step's stdout" "hello from weft
line two" "$out"
expect_exit -m "run logs --stderr exits 0" 0 "$WEFT_BIN" run logs "$talk" hello --stderr
check_eq "--stderr prints its stderr" "a warning" "$out"
expect_exit -m "run logs of a retried step exits 0" 0 "$WEFT_BIN" run logs "$talk" flaky
check_eq "the last attempt by default" "flaky attempt 2" "$out"
expect_exit -m "run logs --attempt 1 exits 0" 0 "$WEFT_BIN" run logs "$talk" flaky --attempt 1
check_eq "--attempt 1 picks the first" "flaky attempt 1" "$out"
expect_exit -m "run logs without STEP exits 0" 0 "$WEFT_BIN" run logs "$talk"
check_eq "every step that ran, with headers" "==> hello (attempt 1) <==
hello from weft
line two

==> flaky (attempt 2) <==
flaky attempt 2" "$out"

expect_exit -m "logs of a skipped step exit 1" 1 "$WEFT_BIN" run logs "$talk" after
check_has "saying it never ran" "was skipped (upstream 'flaky' failed): it never ran" "$err"
expect_exit -m "logs of an attempt that did not happen exit 1" 1 \
  "$WEFT_BIN" run logs "$talk" flaky --attempt 3
check_has "saying how many there were" "has no attempt 3 (it ran 2)" "$err"
expect_exit -m "logs of an unknown step exit 1" 1 "$WEFT_BIN" run logs "$talk" helo
check_has "with a did-you-mean" "did you mean 'hello'?" "$err"
expect_exit -m "--attempt without STEP is a usage error" 2 "$WEFT_BIN" run logs "$talk" --attempt 1
expect_exit -m "--attempt 0 is a usage error" 2 "$WEFT_BIN" run logs "$talk" flaky --attempt 0
expect_exit -m "run logs --bogus is a usage error" 2 "$WEFT_BIN" run logs "$talk" --bogus

# -- following a detached run --------------------------------------------------------------------------------
# follow_within SECONDS CMD...: runs CMD, which must end by itself.
follow_within() {
  local limit=$1
  shift
  run timeout "$limit" "$@"
}

expect_exit -m "launch --detach prints the run id" 0 "$WEFT_BIN" launch slow -l . --detach
slow=$out
check_eq "the id is 12 hex characters" 1 "$(printf '%s\n' "$slow" | grep -c '^[0-9a-f]\{12\}$')"
follow_within 30 "$WEFT_BIN" run events "${slow:0:6}" --follow
check_rc "run events --follow ends with the run, exit 0" 0
check_has "it saw the run start" "run $slow started" "$out"
check_has "and end" "run $slow succeeded in" "$(tail -n 1 "$tmp/out")"
check_has "with the slow step in between" "tick succeeded in" "$out"

expect_exit -m "launch --detach again" 0 "$WEFT_BIN" launch slow -l . --detach
slow=$out
follow_within 30 "$WEFT_BIN" run logs "$slow" tick --follow
check_rc "run logs STEP --follow ends with the step, exit 0" 0
check_eq "and prints the whole log as it grows" "tick 1
tick 2
tick 3
tick 4" "$out"

expect_exit -m "launch --detach a third time" 0 "$WEFT_BIN" launch slow -l . --detach
slow=$out
follow_within 30 "$WEFT_BIN" run events "$slow" --follow --format json --type run_success
check_rc "run events --follow --format json ends with the run" 0
check_py "and prints only the success, as JSON" "
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
print('ok' if [e['type'] for e in evs] == ['run_success'] else evs)"
follow_within 30 "$WEFT_BIN" run logs "$slow" --follow
check_rc "run logs --follow of a finished run ends at once" 0
check_has "with every step's log" "==> tock (attempt 1) <==" "$out"
check_has "tick's too" "tick 4" "$out"

# -- the command group ---------------------------------------------------------------------------------
expect_exit -m "weft run without a subcommand is a usage error" 2 "$WEFT_BIN" run
check_has "and prints the usage" "usage: weft run list" "$err"
expect_exit -m "an unknown subcommand is a usage error" 2 "$WEFT_BIN" run frob
check_has "and is named" "unknown subcommand 'frob'" "$err"
for sub in list show events logs cancel reexecute; do
  expect_output_contains -m "weft run $sub --help prints its usage" "usage: weft run $sub" \
    "$WEFT_BIN" run "$sub" --help
done

test_done
