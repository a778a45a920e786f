#!/usr/bin/env bash
# t0103-run-branches: branches and composition end to end. A `when:` that
# is false skips a whole sub-graph (and the run still succeeds); every
# trigger rule runs or skips its step as Airflow's would; an optional
# output left unwritten skips the step wired to it; a clean-up step
# (all_done) and an alert (one_failed) run after a failure, which still
# fails the run; a job composed of another (uses: job:orders) runs as
# prefixed steps wired across; re-execution from failure runs the failed
# step, those skipped because of it, and evaluates a `when:` again; the run
# page draws skipped steps apart and shows a step's condition (headless
# Chromium, t0103-run-branches-ui.mjs); with RabbitMQ (WEFT_TEST_AMQP_URL),
# the same branches on a queue worker.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

statuses() { # statuses ID: "step status" lines of the run's latest attempts
  store_query "select step, status from steps s where run_id='$1' and attempt =
    (select max(attempt) from steps t where t.run_id=s.run_id and t.step=s.step) order by step"
}
status_of() { store_query "select status from steps where run_id='$1' and step='$2' order by attempt desc limit 1"; }
message_of() { store_query "select message from steps where run_id='$1' and step='$2' order by attempt desc limit 1"; }
run_status() { store_query "select status from runs where id='$1'"; }

mkdir -p loc/jobs loc/ops
cat >loc/ops/ops.yaml <<'YAML'
ok:
  run: "true"
bad:
  run: exit 3
flag:
  config: {go: {type: bool, default: false}}
  outputs: {result: dict}
  run: |
    case "$(cat "$WEFT_CONFIG")" in *'"go":true'*) g=true ;; *) g=false ;; esac
    echo "{\"go\": $g, \"rows\": 7}" >"$WEFT_OUTPUTS/result"
pass:
  inputs: {x: any}
  outputs: {result: any}
  run: cp "$WEFT_INPUTS/x" "$WEFT_OUTPUTS/result"
YAML

# -- a branch skipping a sub-graph -------------------------------------------------------------
cat >loc/jobs/branch.yaml <<'YAML'
graph:
  check: flag
  big:
    uses: ok
    when: "check.result.go"
  bigger:
    uses: ok
    after: [big]
  biggest:
    uses: pass
    inputs: {x: bigger}
  small:
    uses: ok
    when: "!check.result.go && check.result.rows > 5"
YAML
expect_exit -m "a run whose when: is false succeeds" 0 "$WEFT_BIN" launch branch -l loc
id=$(run_id_of)
check_eq "the branch's sub-graph is skipped, the other branch runs" \
  "big|skipped
bigger|skipped
biggest|skipped
check|succeeded
small|succeeded" "$(statuses "$id")"
check_eq "the skipped step says its condition" 'when "check.result.go" is false' "$(message_of "$id" big)"
check_eq "its downstream says which upstream" "upstream 'big' was skipped" "$(message_of "$id" bigger)"
check_eq "the run succeeds" success "$(run_status "$id")"
expect_exit -m "weft run show" 0 "$WEFT_BIN" run show "$id"
check_has "weft run show prints the skipped steps with their reason" \
  'skipped' "$(grep '^  big ' "$tmp/out")"
check_has "... the condition" 'when "check.result.go" is false' "$(grep '^  big ' "$tmp/out")"
expect_exit -m "with go: true" 0 "$WEFT_BIN" launch branch -l loc --set ops.check.config.go=true
id=$(run_id_of)
check_eq "the other branch runs instead" \
  "big|succeeded
bigger|succeeded
biggest|succeeded
check|succeeded
small|skipped" "$(statuses "$id")"
expect_exit -m "weft run events --type step_skipped" 0 "$WEFT_BIN" run events "$id" --type step_skipped --format json
check_py "the step_skipped event carries the condition and the rule" '
import json,sys
e=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
p=e[0]["payload"] if len(e)==1 else {}
p=json.loads(p) if isinstance(p, str) else p
print("ok" if e[0]["step"]=="small" and p.get("when")=="!check.result.go && check.result.rows > 5" and p.get("trigger")=="all_success" else e)'

# -- a when: that cannot be evaluated fails its step, and only its step's branch -------------
cat >loc/jobs/badwhen.yaml <<'YAML'
graph:
  check: flag
  cmp:
    uses: ok
    when: "check.result.rows < 'many'"
  after_cmp: {uses: ok, after: [cmp]}
  other: {uses: ok, after: [check]}
YAML
expect_exit -m "a run whose when: cannot be evaluated fails" 1 "$WEFT_BIN" launch badwhen -l loc
id=$(run_id_of)
check_eq "the step fails before it starts, its downstream is skipped, the rest runs" \
  "after_cmp|skipped
check|succeeded
cmp|failed
other|succeeded" "$(statuses "$id")"
check_has "its message says why, at the condition's column" "cannot compare" "$(message_of "$id" cmp)"

# -- every trigger rule ------------------------------------------------------------------------
cat >loc/jobs/rules.yaml <<'YAML'
graph:
  a: ok
  f: bad
  s:
    uses: ok
    when: "false"
  all_success_runs: {uses: ok, after: [a]}
  all_success_skips: {uses: ok, after: [a, f]}
  all_done_runs: {uses: ok, after: [a, f, s], trigger: all_done}
  one_failed_runs: {uses: ok, after: [a, f], trigger: one_failed}
  one_failed_skips: {uses: ok, after: [a, s], trigger: one_failed}
  none_failed_runs: {uses: ok, after: [a, s], trigger: none_failed}
  none_failed_skips: {uses: ok, after: [a, f], trigger: none_failed}
  all_skipped_runs: {uses: ok, after: [s], trigger: all_skipped}
  all_skipped_skips: {uses: ok, after: [s, a], trigger: all_skipped}
  after_skip: {uses: ok, after: [all_success_skips]}
YAML
expect_exit -m "a run with a failed step fails, whatever ran after it" 1 "$WEFT_BIN" launch rules -l loc
id=$(run_id_of)
check_eq "each rule runs or skips its step" \
  "a|succeeded
after_skip|skipped
all_done_runs|succeeded
all_skipped_runs|succeeded
all_skipped_skips|skipped
all_success_runs|succeeded
all_success_skips|skipped
f|failed
none_failed_runs|succeeded
none_failed_skips|skipped
one_failed_runs|succeeded
one_failed_skips|skipped
s|skipped" "$(statuses "$id")"
check_eq "the run is failed by f alone" "failure|1 step failed: f" \
  "$(store_query "select status, message from runs where id='$id'")"
check_eq "one_failed says why it did not run" "no upstream failed (trigger: one_failed)" \
  "$(message_of "$id" one_failed_skips)"
check_eq "none_failed names the failed upstream" "upstream 'f' failed (trigger: none_failed)" \
  "$(message_of "$id" none_failed_skips)"
check_eq "all_skipped names the upstream that was not skipped" \
  "upstream 'a' succeeded (trigger: all_skipped)" "$(message_of "$id" all_skipped_skips)"

# -- the example: an optional output, an alert and a clean-up ------------------------------------
cp -r "$examples/branches" ex
expect_exit -m "orders: a batch without rejects" 0 "$WEFT_BIN" launch orders -l ex
id=$(run_id_of)
check_has "the unwritten optional output is shown as such" "check output rejects = (not written)" "$out"
check_eq "quarantine is skipped, load and cleanup run, no alert" \
  "alert|skipped
check|succeeded
cleanup|succeeded
load|succeeded
quarantine|skipped" "$(statuses "$id")"
check_eq "quarantine says which output was not written" "check.rejects was not written" \
  "$(message_of "$id" quarantine)"
check_eq "the step_output event says not written" 1 \
  "$(store_query "select count(*) from events where run_id='$id' and step='check' and type='step_output' and payload like '%\"written\":false%'")"
expect_exit -m "orders: a batch with rejects" 0 "$WEFT_BIN" launch orders -l ex --set ops.check.config.rejects=3
id=$(run_id_of)
check_eq "quarantine runs with the value" "succeeded" "$(status_of "$id" quarantine)"
check_has "... and got it" "quarantined 3 rows" "$(cat "$WEFT_HOME"/runs/"$id"/quarantine/1/stdout.log 2>/dev/null; "$WEFT_BIN" run logs "$id" quarantine 2>/dev/null)"
expect_exit -m "orders: a failing check fails the run" 1 "$WEFT_BIN" launch orders -l ex --set ops.check.config.fail=true
id=$(run_id_of)
check_eq "the alert and the clean-up run after the failure, the rest is skipped" \
  "alert|succeeded
check|failed
cleanup|succeeded
load|skipped
quarantine|skipped" "$(statuses "$id")"
check_eq "the run is failed though the clean-up succeeded" failure "$(run_status "$id")"
check_eq "load says its upstream failed" "upstream 'check' failed" "$(message_of "$id" load)"

# -- composition ---------------------------------------------------------------------------------
expect_exit -m "job show regions --format json" 0 "$WEFT_BIN" job show regions -l ex --format json
check_py "the composed job is flattened into prefixed steps" '
import json,sys
d=json.load(open(sys.argv[1]))
names=sorted(o["name"] for o in d["ops"])
want=sorted(["north."+s for s in ("check","load","quarantine","alert","cleanup")]+
            ["south."+s for s in ("check","load","quarantine","alert","cleanup")]+["summary"])
ops={o["name"]:o for o in d["ops"]}
ok=(names==want and ops["north.load"]["when"].startswith("check.status.ok")
    and ops["north.cleanup"]["trigger"]=="all_done"
    and ops["summary"]["inputs"][0]["from"]=={"op":"north.check","output":"status"})
print("ok" if ok else (names, ops.get("summary")))'
expect_exit -m "a composed job runs" 0 "$WEFT_BIN" launch regions -l ex
id=$(run_id_of)
check_eq "each region's steps ran under its own config" \
  "north.alert|skipped
north.check|succeeded
north.cleanup|succeeded
north.load|succeeded
north.quarantine|succeeded
south.alert|skipped
south.check|succeeded
south.cleanup|succeeded
south.load|skipped
south.quarantine|skipped
summary|succeeded" "$(statuses "$id")"
check_has "the summary got both regions' outputs" \
  'summary output result = {"north":{"ok":true,"rows":30},"south":{"ok":false,"rows":0}}' "$out"
cat >loc/jobs/cycle_a.yaml <<'YAML'
graph:
  b: {uses: "job:cycle_b"}
YAML
cat >loc/jobs/cycle_b.yaml <<'YAML'
graph:
  a: {uses: "job:cycle_a"}
  c: {uses: "job:nowhere"}
YAML
expect_exit -m "a cycle through sub-jobs does not validate" 1 "$WEFT_BIN" validate loc
check_has "it is reported at file:line:col" "loc/jobs/cycle_b.yaml:2:3: error: cycle through sub-jobs: cycle_a -> cycle_b -> cycle_a" "$err"
check_has "an unknown job too" "loc/jobs/cycle_b.yaml:3:3: error: op 'c' uses unknown job 'nowhere'" "$err"
rm loc/jobs/cycle_a.yaml loc/jobs/cycle_b.yaml

# -- re-execution from failure ---------------------------------------------------------------------
cat >loc/jobs/again.yaml <<YAML
ops:
  gate:
    outputs: {result: dict}
    run: |
      test ! -e "$tmp/gate.fails" || exit 1
      echo '{"n": 1}' >"\$WEFT_OUTPUTS/result"
graph:
  gate: {}
  alone: ok
  next:
    uses: pass
    inputs: {x: gate}
  guarded:
    uses: ok
    when: "gate.result.n == 2"
  cleanup:
    uses: ok
    after: [next]
    trigger: all_done
YAML
touch "$tmp/gate.fails"
expect_exit -m "the first run fails at its gate" 1 "$WEFT_BIN" launch again -l loc
first=$(run_id_of)
check_eq "the steps after the gate are skipped, the clean-up runs" \
  "alone|succeeded
cleanup|succeeded
gate|failed
guarded|skipped
next|skipped" "$(statuses "$first")"
rm "$tmp/gate.fails"
expect_exit -m "reexecute --from-failure" 0 "$WEFT_BIN" run reexecute "$first" --from-failure -l loc
id=$(run_id_of)
check_eq "the failed step and those skipped because of it run again; when: is evaluated again" \
  "alone|succeeded
cleanup|succeeded
gate|succeeded
guarded|skipped
next|succeeded" "$(statuses "$id")"
check_eq "alone is reused, not run" 1 \
  "$(store_query "select count(*) from events where run_id='$id' and step='alone' and type='step_reused'")"
check_eq "guarded is skipped by its condition this time" 'when "gate.result.n == 2" is false' \
  "$(message_of "$id" guarded)"
expect_exit -m "a run that only skipped has nothing to re-execute from failure" 1 \
  "$WEFT_BIN" run reexecute "$id" --from-failure -l loc
check_has "it says so" "succeeded (or was skipped): nothing to re-execute" "$err"

# -- the run page in a browser ---------------------------------------------------------------------
why=$(browser_missing)
if [ -n "$why" ]; then
  skip "the run page of skipped steps in a browser: $why"
else
  expect_exit -m "orders again, for the browser" 0 "$WEFT_BIN" launch orders -l ex
  ui_run=$(run_id_of)
  printf 'locations:\n  - {name: ex, path: ex}\n' >workspace.yaml
  port=$(free_port)
  "$WEFT_BIN" dev --listen "127.0.0.1:$port" >"$tmp/dev.log" 2>&1 &
  dev_pid=$!
  at_exit "kill $dev_pid; wait $dev_pid"
  up=
  for _ in $(seq 1 100); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1)' \
      "http://127.0.0.1:$port" 2>/dev/null && { up=1; break; }
    sleep 0.1
  done
  if [ -z "$up" ]; then
    not_ok "weft dev answers" "$(tail -n 20 "$tmp/dev.log")"
  else
    WEFT_UI_URL=http://127.0.0.1:$port WEFT_UI_RUN=$ui_run BROWSER_DIR=$browser_dir CHROMIUM=$chromium \
      timeout 120 node "$WEFT_SRC/tests/t/t0103-run-branches-ui.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
    browser_report $?
  fi
  kill "$dev_pid" 2>/dev/null
  wait "$dev_pid" 2>/dev/null
fi

# -- on a queue worker ---------------------------------------------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "WEFT_TEST_AMQP_URL is not set (branches on a queue worker)"
  test_done
fi
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1
amqp_setup ""
export WEFT_HOME=$tmp/qhome
mkdir -p "$WEFT_HOME"
queue_instance ""
# Every op on this script's own queue: the node may be shared.
sed -i -E "s/^([a-z_]+):\$/\\1:\\n  queue: $qd/" ex/ops/orders.yaml
start_worker wq "$qd"
if wait_registered 1; then ok "a worker registers"; else not_ok "a worker registers" "$(cat "$tmp/wq.log")"; fi
expect_exit -m "orders on a queue worker" 0 "$WEFT_BIN" launch orders -l ex
id=$(run_id_of)
check_has "its steps ran on the worker" "wq" "$(store_query "select distinct worker from steps where run_id='$id' and step='check'")"
check_eq "the same branches: the optional output left unwritten on the worker skips quarantine" \
  "alert|skipped
check|succeeded
cleanup|succeeded
load|succeeded
quarantine|skipped" "$(statuses "$id")"
check_eq "... for the same reason" "check.rejects was not written" "$(message_of "$id" quarantine)"
expect_exit -m "a failing check on the worker" 1 "$WEFT_BIN" launch orders -l ex --set ops.check.config.fail=true
id=$(run_id_of)
check_eq "the alert and the clean-up run on the worker after the failure" \
  "alert|succeeded
check|failed
cleanup|succeeded
load|skipped
quarantine|skipped" "$(statuses "$id")"
test_done
