#!/usr/bin/env bash
# t0107-run-map: mapping end to end (`map:`, docs/weft-yaml.md "Mapping"). A
# 1,000-item map whose collect adds up to the right total; {key:, value:}
# items named STEP[KEY]; a map after a map keeping the keys; max_items
# (job and run config) failing the step with its count; mistakes at load
# time at file:line:col; 3 failed items among 20, then re-execution from
# failure running those 3 only (the events say so) and reusing the others;
# a run canceled in the middle of its items; `weft run show` and the events
# naming items; the run page drawing a mapped step as one node with its
# counts (headless Chromium, t0107-run-map-ui.mjs); with RabbitMQ
# (WEFT_TEST_AMQP_URL), a map on a queue worker.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

status_of() { store_query "select status from steps where run_id='$1' and step='$2' order by attempt desc limit 1"; }
message_of() { store_query "select message from steps where run_id='$1' and step='$2' order by attempt desc limit 1"; }
count_where() { store_query "select count(*) from $1"; }

mkdir -p loc/jobs loc/ops
cat >loc/ops/ops.yaml <<'YAML'
numbers:
  config: {n: {type: int, default: 5}}
  outputs: {result: list}
  run: |
    n=$(sed 's/.*"n":\([0-9]*\).*/\1/' "$WEFT_CONFIG")
    seq 1 "$n" | paste -sd, - | sed 's/^/[/; s/$/]/' >"$WEFT_OUTPUTS/result"
keyed:
  outputs: {result: list}
  run: echo '[{"key":"eu","value":3},{"key":"us","value":4},{"key":"apac","value":5}]' >"$WEFT_OUTPUTS/result"
square:
  inputs: {x: int}
  outputs: {result: int}
  run: read -r x <"$WEFT_INPUTS/x"; echo $((x * x)) >"$WEFT_OUTPUTS/result"
picky:
  inputs: {x: int}
  config: {bad: {type: string, default: ""}}
  outputs: {result: int}
  run: |
    read -r x <"$WEFT_INPUTS/x"
    [ -e "$WEFT_LOCATION_DIR/fixed" ] ||
    case "$(cat "$WEFT_CONFIG")" in *"\"bad\":\"$x\""*|*"\"bad\":\"$x,"*|*",$x,"*|*",$x\""*) exit 4 ;; esac
    echo "$x" >"$WEFT_OUTPUTS/result"
slow:
  inputs: {x: int}
  outputs: {result: int}
  run: touch "$WEFT_LOCATION_DIR/slow.started"; sleep 30; echo 1 >"$WEFT_OUTPUTS/result"
total:
  inputs: {xs: list}
  outputs: {result: int}
  run: python3 -c 'import json,sys; print(sum(x for x in json.load(open(sys.argv[1])) if x is not None))' "$WEFT_INPUTS/xs" >"$WEFT_OUTPUTS/result"
YAML
cat >loc/jobs/squares.yaml <<'YAML'
graph:
  nums: numbers
  sq:
    uses: square
    map: {x: nums}
  sum:
    uses: total
    inputs: {xs: sq}
YAML
cat >loc/jobs/regions.yaml <<'YAML'
graph:
  regions: keyed
  sq:
    uses: square
    map: {x: regions}
  sq2:
    uses: square
    map: {x: sq.result}
  sum:
    uses: total
    inputs: {xs: sq2}
YAML
cat >loc/jobs/flaky.yaml <<'YAML'
graph:
  nums: numbers
  p:
    uses: picky
    map: {x: nums}
  sum:
    uses: total
    inputs: {xs: p}
YAML
cat >loc/jobs/chain.yaml <<'YAML'
graph:
  nums: numbers
  sq:
    uses: square
    map: {x: nums}
  p:
    uses: picky
    map: {x: sq}
YAML
cat >loc/jobs/long.yaml <<'YAML'
graph:
  nums: numbers
  s:
    uses: slow
    map: {x: nums}
    max_items: 3
YAML

# -- a 1,000-item map and its collect ---------------------------------------------------------
expect_exit -m "a map of 1,000 items" 0 "$WEFT_BIN" launch squares -l loc \
  --set ops.nums.config.n=1000 --set execution.multiprocess.max_concurrent=8
id=$(run_id_of)
# sum of k^2 for k = 1..1000
check_eq "the collect adds up the 1,000 squares" 333833500 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"
check_eq "1,000 item steps succeeded" 1000 \
  "$(count_where "steps where run_id='$id' and step like 'sq[%' and status='succeeded'")"
check_eq "the mapped step succeeded with its items" succeeded "$(status_of "$id" sq)"
check_eq "items are named STEP[i]" "sq[0]|1
sq[999]|1000000" "$(store_query "select step, json_extract(payload, '\$.value') from events where run_id='$id'
  and type='step_output' and step in ('sq[0]', 'sq[999]') order by step")"
check_eq "the step_mapped event counts the items" 1000 \
  "$(store_query "select json_extract(payload, '\$.items') from events where run_id='$id' and step='sq' and type='step_mapped'")"

# -- keys and a map after a map ---------------------------------------------------------------
expect_exit -m "{key:, value:} items and a chained map" 0 "$WEFT_BIN" launch regions -l loc
id=$(run_id_of)
check_eq "items are named by their keys, the chained map keeps them" "sq2[apac]
sq2[eu]
sq2[us]
sq[apac]
sq[eu]
sq[us]" "$(store_query "select step from steps where run_id='$id' and step like 'sq%[%' order by step")"
check_eq "the chained map gets each item's output: 3^4 + 4^4 + 5^4" 962 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"
check_eq "the collect keeps the item order" "[81,256,625]" \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sq2' and type='step_output'")"

# -- max_items ------------------------------------------------------------------------------
expect_exit -m "more items than max_items fails the step" 1 "$WEFT_BIN" launch squares -l loc \
  --set ops.nums.config.n=12 --set ops.sq.max_items=10
id=$(run_id_of)
check_eq "... saying how many" "map over nums.result has 12 items, more than max_items 10" \
  "$(message_of "$id" sq)"
check_eq "... and no item ran" 0 "$(count_where "steps where run_id='$id' and step like 'sq[%'")"
check_eq "its downstream is skipped" skipped "$(status_of "$id" sum)"

# -- mistakes at load time --------------------------------------------------------------------
mkdir -p bad/jobs bad/ops
cp loc/ops/ops.yaml bad/ops/
cat >bad/jobs/b.yaml <<'YAML'
graph:
  nums: numbers
  one: square
  a:
    uses: square
    map: {x: one}
  b:
    uses: square
    map: {y: nums}
  c:
    uses: square
    map: {x: nums.nope}
  d:
    uses: square
    inputs: {x: nums}
    map: {x: nums}
  e:
    uses: square
    map: {x: ghost.result}
  f:
    uses: square
    max_items: 3
YAML
expect_exit -m "weft validate rejects bad maps" 1 "$WEFT_BIN" validate bad
check_has "a map over a non-list output" \
  "b.yaml:6:14: error: op 'a': map over 'one.result', which is int, not a list" "$err"
check_has "a map input the op does not have" "b.yaml:9:11: error: op 'b' has no input 'y'" "$err"
check_has "a map over an unknown output" "b.yaml:12:14: error: op 'nums' has no output 'nope'" "$err"
check_has "a map key also wired in inputs:" \
  "b.yaml:16:11: error: op 'd': input 'x' is both mapped (map:) and wired in inputs:" "$err"
check_has "a map over an unknown step" "b.yaml:19:14: error: unknown upstream op 'ghost'" "$err"
check_has "max_items without map:" "b.yaml:22:16: error: op 'f': max_items bounds a mapped step: add map:" "$err"

# -- 3 failed items, then re-execution from failure -------------------------------------------
expect_exit -m "3 of 20 items fail" 1 "$WEFT_BIN" launch flaky -l loc \
  --set ops.nums.config.n=20 --set 'ops.p.config.bad=4,9,17'
parent=$(run_id_of)
check_eq "those 3 items failed" "p[16]|failed
p[3]|failed
p[8]|failed" "$(store_query "select step, status from steps where run_id='$parent' and status='failed' and step like 'p[%' order by step")"
check_eq "the mapped step failed, naming the first" "3 of 20 items failed: p[3], ..." "$(message_of "$parent" p)"
check_eq "the collect downstream was skipped" skipped "$(status_of "$parent" sum)"
expect_exit -m "weft run show" 0 "$WEFT_BIN" run show "$parent"
check_has "weft run show lists the items" "p[16]" "$(grep -F '  p[16] ' "$tmp/out")"
check_has "... with their status" "failed" "$(grep -F '  p[16] ' "$tmp/out")"
expect_exit -m "a map after a map with 1 failed item" 1 "$WEFT_BIN" launch chain -l loc \
  --set ops.nums.config.n=5 --set 'ops.p.config.bad="16"'
chain_parent=$(run_id_of)
check_eq "p[3] (over sq[3] = 16) failed" "p[3]|failed" \
  "$(store_query "select step, status from steps where run_id='$chain_parent' and status='failed' and step like 'p[%'")"
touch loc/fixed
expect_exit -m "re-execution from failure" 0 "$WEFT_BIN" run reexecute "$parent" --from-failure -l loc
child=$(run_id_of)
check_eq "only the 3 failed items (and the collect) started again" "p[16]
p[3]
p[8]
sum" "$(store_query "select step from events where run_id='$child' and type='step_started' order by step")"
check_eq "the 17 others were reused" 17 \
  "$(count_where "events where run_id='$child' and type='step_reused' and step like 'p[%'")"
check_eq "the collect sees every item: 1 + ... + 20" 210 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$child' and step='sum' and type='step_output'")"

expect_exit -m "re-execution of the map after a map" 0 "$WEFT_BIN" run reexecute "$chain_parent" \
  --from-failure -l loc
child=$(run_id_of)
check_eq "only p[3] started again: sq's items were reused one by one" "p[3]" \
  "$(store_query "select step from events where run_id='$child' and type='step_started' order by step")"
check_eq "p has its 5 items" 5 "$(count_where "steps where run_id='$child' and step like 'p[%' and status='succeeded'")"

# -- cancel in the middle of a map ------------------------------------------------------------
wait_for() {
  for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
  return 1
}
mark_sleeps loc
rm -f loc/slow.started
expect_exit -m "a map of slow items, detached" 0 "$WEFT_BIN" launch long -l loc --detach \
  --set ops.nums.config.n=3 --set execution.multiprocess.max_concurrent=2
id=$out
if wait_for loc/slow.started; then ok "an item started"; else not_ok "an item started"; fi
expect_exit -m "weft run cancel" 0 "$WEFT_BIN" run cancel "$id"
check_eq "the run is canceled" canceled "$(store_query "select status from runs where id='$id'")"
check_eq "every item is canceled, the mapped step too" "s|canceled
s[0]|canceled
s[1]|canceled
s[2]|canceled" "$(store_query "select step, status from steps s where run_id='$id' and step like 's%' and attempt =
    (select max(attempt) from steps t where t.run_id=s.run_id and t.step=s.step) order by step")"
check_eq "no item process survives" "" "$(survivors "sleep 30.$$")"

# -- the run page in a browser -----------------------------------------------------------------
why=$(browser_missing)
if [ -n "$why" ]; then
  skip "a mapped step in the run page: $why"
else
  printf 'locations:\n  - {name: loc, path: loc}\n' >workspace.yaml
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
    WEFT_UI_URL=http://127.0.0.1:$port WEFT_UI_RUN=$parent BROWSER_DIR=$browser_dir CHROMIUM=$chromium \
      timeout 120 node "$WEFT_SRC/tests/t/t0107-run-map-ui.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
    browser_report $?
  fi
  kill "$dev_pid" 2>/dev/null
  wait "$dev_pid" 2>/dev/null
fi

# -- on a queue worker ---------------------------------------------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "WEFT_TEST_AMQP_URL is not set (a map on a queue worker)"
  test_done
fi
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1
amqp_setup ""
export WEFT_HOME=$tmp/qhome
mkdir -p "$WEFT_HOME"
queue_instance ""
sed -i -E "s/^([a-z_]+):\$/\\1:\\n  queue: $qd/" loc/ops/ops.yaml
start_worker wq "$qd"
if wait_registered 1; then ok "a worker registers"; else not_ok "a worker registers" "$(cat "$tmp/wq.log")"; fi
expect_exit -m "a chained map on a queue worker" 0 "$WEFT_BIN" launch regions -l loc
id=$(run_id_of)
check_eq "the items ran on the worker" "wq" \
  "$(store_query "select distinct worker from steps where run_id='$id' and step='sq2[us]' and status='succeeded'")"
check_eq "the same total" 962 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"
test_done
