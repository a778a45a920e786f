#!/usr/bin/env bash
# t0112-run-map-items: mapping follow-ups end to end (docs/weft-yaml.md
# "Mapping"): a per-item `when:` naming `item` skips items (the collect gets
# null for them), on plain and {key:, value:} items and after a map; `item`
# on a step without map: is an error at file:line:col; a map after a map
# streams (B[0] starts while A[1] still runs); `weft run reexecute --steps
# 'p[3]'` runs that one item again, 'p[*]' every item, and a bad item name
# is refused; a nested map (`map: {x: 'ls[*]'}`) runs items of items,
# sq[i][j], collects a list of lists, and re-executes one of them.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

status_of() { store_query "select status from steps where run_id='$1' and step='$2' order by attempt desc limit 1"; }
message_of() { store_query "select message from steps where run_id='$1' and step='$2' order by attempt desc limit 1"; }
started() { store_query "select step from events where run_id='$1' and type='step_started' order by step" | paste -sd' ' -; }
first_event() { store_query "select min(id) from events where run_id='$1' and step='$2' and type='$3'"; }

mkdir -p loc/jobs loc/ops bad/jobs
cat >loc/ops/ops.yaml <<'YAML'
numbers:
  config: {n: {type: int, default: 5}}
  outputs: {result: list}
  run: |
    n=$(sed 's/.*"n":\([0-9]*\).*/\1/' "$WEFT_CONFIG")
    seq 1 "$n" | paste -sd, - | sed 's/^/[/; s/$/]/' >"$WEFT_OUTPUTS/result"
keyed:
  outputs: {result: list}
  run: echo '[{"key":"eu","value":{"rows":3}},{"key":"us","value":{"rows":0}},{"key":"apac","value":{"rows":5}}]' >"$WEFT_OUTPUTS/result"
square:
  inputs: {x: int}
  outputs: {result: int}
  run: read -r x <"$WEFT_INPUTS/x"; echo $((x * x)) >"$WEFT_OUTPUTS/result"
rows:
  inputs: {x: dict}
  outputs: {result: int}
  run: python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' "$WEFT_INPUTS/x" >"$WEFT_OUTPUTS/result"
nap:
  inputs: {x: int}
  outputs: {result: int}
  run: read -r x <"$WEFT_INPUTS/x"; if [ "$x" = 2 ]; then sleep 3; fi; echo "$x" >"$WEFT_OUTPUTS/result"
listn:
  inputs: {x: int}
  outputs: {result: list}
  run: read -r x <"$WEFT_INPUTS/x"; seq 1 "$x" | paste -sd, - | sed 's/^/[/; s/$/]/' >"$WEFT_OUTPUTS/result"
total2:
  inputs: {xs: list}
  outputs: {result: int}
  run: python3 -c 'import json,sys; print(sum(x for l in json.load(open(sys.argv[1])) for x in l or []))' "$WEFT_INPUTS/xs" >"$WEFT_OUTPUTS/result"
total:
  inputs: {xs: list}
  outputs: {result: int}
  run: python3 -c 'import json,sys; print(sum(x for x in json.load(open(sys.argv[1])) if x is not None))' "$WEFT_INPUTS/xs" >"$WEFT_OUTPUTS/result"
YAML
cat >loc/jobs/big.yaml <<'YAML'
graph:
  nums: numbers
  sq:
    uses: square
    map: {x: nums}
    when: "item > 2"
  sq2:
    uses: square
    map: {x: sq}
    when: "item != 16"
  sum:
    uses: total
    inputs: {xs: sq2}
YAML
cat >loc/jobs/regions.yaml <<'YAML'
graph:
  regions: keyed
  r:
    uses: rows
    map: {x: regions}
    when: "item.rows > 0"
  sum:
    uses: total
    inputs: {xs: r}
YAML
cat >loc/jobs/stream.yaml <<'YAML'
graph:
  nums: numbers
  a:
    uses: nap
    map: {x: nums}
  b:
    uses: square
    map: {x: a}
  sum:
    uses: total
    inputs: {xs: b}
YAML
cat >loc/jobs/nested.yaml <<'YAML'
graph:
  nums: numbers
  ls:
    uses: listn
    map: {x: nums}
  sq:
    uses: square
    map: {x: 'ls[*]'}
  sum:
    uses: total2
    inputs: {xs: sq}
YAML
cat >bad/jobs/b.yaml <<'YAML'
ops:
  one: {run: "true"}
graph:
  one:
    when: "item > 1"
YAML

# -- per-item when: --------------------------------------------------------------------------
expect_exit -m "a map with a per-item when:" 0 "$WEFT_BIN" launch big -l loc
id=$(run_id_of)
check_eq "items whose when: is false are skipped" "skipped skipped succeeded" \
  "$(for s in 'sq[0]' 'sq[1]' 'sq[2]'; do status_of "$id" "$s"; done | paste -sd' ' -)"
check_eq "... with the condition as the reason" 'when "item > 2" is false' "$(message_of "$id" 'sq[0]')"
check_eq "the mapped step succeeded" succeeded "$(status_of "$id" sq)"
check_eq "after a map: skipped source, false when:, true when:" "skipped skipped succeeded" \
  "$(for s in 'sq2[0]' 'sq2[3]' 'sq2[4]'; do status_of "$id" "$s"; done | paste -sd' ' -)"
check_eq "the collect gets null for skipped items: 81 + 625" 706 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"
expect_exit -m "a per-item when: on a field of keyed items" 0 "$WEFT_BIN" launch regions -l loc
id=$(run_id_of)
check_eq "r[us] (rows 0) is skipped, the others ran" "succeeded skipped succeeded" \
  "$(for s in 'r[eu]' 'r[us]' 'r[apac]'; do status_of "$id" "$s"; done | paste -sd' ' -)"
check_eq "the collect adds 3 + 5" 8 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"
expect_exit -m "item on a step without map:" 1 "$WEFT_BIN" validate bad
check_has "is an error at file:line:col" \
  "b.yaml:5:12: error: op 'one': when: 'item' is the item of a mapped step, and this step has no map:" "$err"

# -- a map after a map streams -----------------------------------------------------------------
mark_sleeps loc
expect_exit -m "a map after a map, one slow source item" 0 "$WEFT_BIN" launch stream -l loc \
  --set ops.nums.config.n=2 --set execution.multiprocess.max_concurrent=4
id=$(run_id_of)
b0=$(first_event "$id" 'b[0]' step_started)
a1=$(first_event "$id" 'a[1]' step_succeeded)
if [ -n "$b0" ] && [ -n "$a1" ] && [ "$b0" -lt "$a1" ]; then
  ok "b[0] started before a[1] (sleeping 3 s) ended"
else
  not_ok "b[0] started before a[1] (sleeping 3 s) ended" "b[0] started at event $b0, a[1] ended at $a1"
fi
check_eq "the collect of b: 1 + 4" 5 \
  "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"

# -- selecting items when re-executing ----------------------------------------------------------
expect_exit -m "a map of 5 items" 0 "$WEFT_BIN" launch big -l loc
parent=$(run_id_of)
expect_exit -m "reexecute --steps 'sq[3]'" 0 "$WEFT_BIN" run reexecute "$parent" --steps 'sq[3]' -l loc
child=$(run_id_of)
check_eq "only sq[3] ran again" "sq[3]" "$(started "$child")"
check_eq "its tag says so" "sq[3]" \
  "$(store_query "select json_extract(tags, '\$.\"weft/rerun_items\"') from runs where id='$child'")"
check_eq "the other items were reused" 2 \
  "$(store_query "select count(*) from events where run_id='$child' and type='step_reused' and step like 'sq[%'")"
expect_exit -m "reexecute --steps 'sq[*]'" 0 "$WEFT_BIN" run reexecute "$child" --steps 'sq[*]' -l loc
grandchild=$(run_id_of)
check_eq "every item whose when: holds ran again" "sq[2] sq[3] sq[4]" "$(started "$grandchild")"
check_eq "... and the parent's item tag is not inherited" "sq[*]" \
  "$(store_query "select json_extract(tags, '\$.\"weft/rerun_items\"') from runs where id='$grandchild'")"
expect_exit -m "an item the parent did not have" 1 "$WEFT_BIN" run reexecute "$parent" --steps 'sq[9]' -l loc
check_has "is refused" "has no item 'sq[9]' ('sq[*]' names every item)" "$err"
expect_exit -m "an item of a step without map:" 1 "$WEFT_BIN" run reexecute "$parent" --steps 'sum[0]' -l loc
check_has "is refused" "step 'sum' has no map:, so 'sum[0]' names no item" "$err"

# -- nesting, once -----------------------------------------------------------------------------
expect_exit -m "weft job show of a nested map" 0 "$WEFT_BIN" job show nested -l loc
check_has "says nested" "map     x over ls[*].result (nested: one step per item of each item's list)" "$out"
expect_exit -m "a nested map" 0 "$WEFT_BIN" launch nested -l loc --set ops.nums.config.n=3
id=$(run_id_of)
check_eq "one group per item of ls, one step per element of its list"   "sq[0][0] sq[1][0] sq[1][1] sq[2][0] sq[2][1] sq[2][2]"   "$(store_query "select step from steps where run_id='$id' and step like 'sq[%][%' order by step" | paste -sd' ' -)"
check_eq "the groups succeeded" "sq[0] sq[1] sq[2]"   "$(store_query "select step from steps where run_id='$id' and step like 'sq[_]' and status='succeeded' order by step" | paste -sd' ' -)"
check_eq "sq collects a list per group" "[[1],[1,4],[1,4,9]]"   "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sq' and type='step_output'")"
check_eq "the collect downstream: 1 + 5 + 14" 20   "$(store_query "select json_extract(payload, '\$.value') from events where run_id='$id' and step='sum' and type='step_output'")"
expect_exit -m "reexecute --steps 'sq[2][1]'" 0 "$WEFT_BIN" run reexecute "$id" --steps 'sq[2][1]' -l loc
child=$(run_id_of)
check_eq "only that item ran again" "sq[2][1]" "$(started "$child")"

test_done
