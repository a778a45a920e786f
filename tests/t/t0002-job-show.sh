#!/usr/bin/env bash
# t0002-job-show: `weft job list` and `weft job show` in text, JSON and dot
# on the example jobs, and their usage errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cd "$examples" || exit 1

# -- list ---------------------------------------------------------------------
run "$WEFT_BIN" job list
check_rc "job list exits 0" 0
check_eq "job list prints a table of the example jobs" \
"LOCATION    JOB              OPS  DESCRIPTION
arithmetic  arithmetic         5  Adds, splits and sums integers with small shell ops.
etl         sales_etl          4  Generates, cleans and aggregates sales records, then writes a report.
fanout      fanout            10  One producer, eight parallel workers, one join.
fanout      fanout_map         3  One producer, one step per item of its list (map), one join.
python      arithmetic_py      5  Adds, splits and sums integers with Python ops.
python      mixed_yaml         2  The Python ops, wired in YAML.
python      orders_etl         4  Extracts orders, totals them per region, writes the report.
python      squares_py         5  Squares each number in a step of its own, skips 3, adds them up.
branches    orders             5  Checks a batch of orders, loads it if it passes, always cleans up.
branches    regions           11  The orders job for two regions (composed), then one summary." "$out"

run "$WEFT_BIN" job list --format json
check_rc "job list --format json exits 0" 0
check_py "job list json has every job with its op count" '
import json, sys
doc = json.load(open(sys.argv[1]))
got = [(j["location"], j["job"], j["ops"], j["valid"]) for j in doc["jobs"]]
want = [("arithmetic", "arithmetic", 5, True), ("etl", "sales_etl", 4, True),
        ("fanout", "fanout", 10, True), ("fanout", "fanout_map", 3, True), ("python", "arithmetic_py", 5, True),
        ("python", "mixed_yaml", 2, True), ("python", "orders_etl", 4, True),
        ("python", "squares_py", 5, True),
        ("branches", "orders", 5, True), ("branches", "regions", 11, True)]
print("ok" if got == want else got)'

run "$WEFT_BIN" job list broken
check_rc "job list of the broken location exits 0" 0
check_has "invalid jobs are marked" "cycle (invalid)" "$out"
check_eq "valid jobs are not" "broken    needs_config                 1" \
  "$(grep needs_config "$tmp/out" | cut -c1-40)"
check_has "stderr points at weft validate" "run 'weft validate' to see them" "$err"

# -- show: text ------------------------------------------------------------------
run "$WEFT_BIN" job show arithmetic
check_rc "job show exits 0" 0
check_eq "job show text groups the ops by level with their wiring" \
"job arithmetic (location arithmetic)
  Adds, splits and sums integers with small shell ops.
  tags: team=examples kind=tutorial
  5 ops in 5 levels

level 0:
  add_x (op add_x): Adds the configured amount x to its input.
    input   num: int <- run config  # the number to add to
    config  x: int = 1  # the amount added
    output  result: int

level 1:
  add_one_a (op add_one): Adds one.
    input   num: int <- add_x.result
    output  result: int

level 2:
  split (op split): Splits a number in two; low gets the smaller half.
    input   num: int <- add_one_a.result
    output  low: int  # num / 2, rounded down
    output  high: int  # the rest, num - low

level 3:
  add_one_b (op add_one): Adds one.
    input   num: int <- split.high
    output  result: int

level 4:
  total (op sum): Adds its two inputs.
    input   a: int <- split.low
    input   b: int <- add_one_b.result
    output  result: int" "$out"

run "$WEFT_BIN" job show arithmetic:arithmetic
check_rc "LOCATION:JOB names a job too" 0

run "$WEFT_BIN" job show fanout
check_has "fanout: the workers share level 1" "level 1:
  shard_0 (op sum_squares)" "$out"
check_has "static job config is shown as set by the job" \
  "config  shard: int = 3 (set by the job)" "$out"
check_has "the join is at level 2" "level 2:
  join (op join)" "$out"

# -- show: json --------------------------------------------------------------------
run "$WEFT_BIN" job show arithmetic --format json
check_rc "job show --format json exits 0" 0
check_py "json: ops, levels, wiring, outputs, config and edges" '
import json, sys
doc = json.load(open(sys.argv[1]))
ops = {o["name"]: o for o in doc["ops"]}
problems = []
def want(cond, what):
    if not cond: problems.append(what)
want(doc["job"] == "arithmetic", "job name")
want(doc["location"] == "arithmetic", "location")
want(doc["tags"] == {"team": "examples", "kind": "tutorial"}, "tags")
want([o["name"] for o in doc["ops"]] == ["add_x", "add_one_a", "split", "add_one_b", "total"], "order")
want([o["level"] for o in doc["ops"]] == [0, 1, 2, 3, 4], "levels")
want(ops["add_one_b"]["uses"] == "add_one", "uses")
want(ops["add_x"]["inputs"] == [{"name": "num", "type": "int", "description": "the number to add to", "default": None, "from": None}], "unwired input")
want(ops["add_one_b"]["inputs"][0]["from"] == {"op": "split", "output": "high"}, "dot wiring")
want(ops["total"]["inputs"][1]["from"] == {"op": "add_one_b", "output": "result"}, "default output")
want([(p["name"], p["type"]) for p in ops["split"]["outputs"]] == [("low", "int"), ("high", "int")], "outputs")
cfg = ops["add_x"]["config"][0]
want((cfg["name"], cfg["type"], cfg["default"], cfg["required"]) == ("x", "int", 1, False), "config schema")
want(ops["total"]["retries"]["max"] == 2 and ops["total"]["timeout"] == 30, "retries and timeout")
want("run" in ops["add_one_a"] and "argv" not in ops["add_one_a"], "run command")
want(ops["total"]["upstream"] == ["split", "add_one_b"] or ops["total"]["upstream"] == ["add_one_b", "split"], "upstream")
edges = sorted((e["from"], e["output"], e["to"], e["input"]) for e in doc["edges"])
want(edges == sorted([("add_x", "result", "add_one_a", "num"), ("add_one_a", "result", "split", "num"),
                      ("split", "high", "add_one_b", "num"), ("split", "low", "total", "a"),
                      ("add_one_b", "result", "total", "b")]), "edges")
print("ok" if not problems else problems)'

run "$WEFT_BIN" job show sales_etl --format json
check_py "json of the ETL job: argv ops and path outputs" '
import json, sys
doc = json.load(open(sys.argv[1]))
ops = {o["name"]: o for o in doc["ops"]}
ok = (ops["generate"]["argv"] == ["python3", "scripts/generate.py"]
      and [o["type"] for o in ops["clean"]["outputs"]] == ["path", "dict"]
      and ops["report"]["level"] == 3
      and [c["enum"] for c in ops["report"]["config"] if c["name"] == "currency"] == [["EUR", "USD", "GBP"]])
print("ok" if ok else doc)'

"$WEFT_BIN" job show arithmetic --format json > "$tmp/a.json"
"$WEFT_BIN" job show arithmetic --format json > "$tmp/b.json"
if cmp -s "$tmp/a.json" "$tmp/b.json"; then ok "json output is stable"; else not_ok "json output is stable"; fi

# -- show: dot -----------------------------------------------------------------------
run "$WEFT_BIN" job show arithmetic --format dot
check_rc "job show --format dot exits 0" 0
check_has "dot: a digraph" 'digraph "arithmetic" {' "$out"
check_has "dot: edges from a dot-syntax output are labelled" '"split" -> "add_one_b" [label="high"];' "$out"
check_has "dot: result edges are not" '"add_x" -> "add_one_a";' "$out"
check_has "dot: invocations show the op they use" '"add_one_a" [label="add_one_a\n(add_one)"];' "$out"
check_has "dot: one rank per level" '{ rank=same; /* level 4 */' "$out"
if command -v dot >/dev/null 2>&1; then
  for job in arithmetic sales_etl fanout; do
    "$WEFT_BIN" job show "$job" --format dot > "$tmp/$job.dot"
    if dot -Tsvg "$tmp/$job.dot" > "$tmp/$job.svg" 2> "$tmp/dot.err" && grep -q '<svg' "$tmp/$job.svg"; then
      ok "graphviz renders the $job graph"
    else
      not_ok "graphviz renders the $job graph" "$(cat "$tmp/dot.err")"
    fi
  done
else
  skip "graphviz (dot) is not installed"
fi

# -- errors --------------------------------------------------------------------------------
run "$WEFT_BIN" job show nosuchjob
check_rc "an unknown job exits 1" 1
check_has "and is named" "nosuchjob" "$err"

run "$WEFT_BIN" job show arithmetc
check_rc "a misspelt job exits 1" 1
check_has "with a did-you-mean" "arithmetic" "$err"

cd "$examples/broken" || exit 1
run "$WEFT_BIN" job show cycle -l .
check_rc "showing an invalid job exits 1" 1
check_has "its errors are printed" "jobs/cycle.yaml:" "$err"
check_has "and the job is named" "job 'cycle' has errors" "$err"
cd "$examples" || exit 1

run "$WEFT_BIN" job show arithmetic --format svg
check_rc "an unknown format is a usage error" 2
check_has "the formats are listed" "unknown format 'svg' (expected text, json, dot)" "$err"

run "$WEFT_BIN" job show
check_rc "show without JOB is a usage error" 2
check_has "it says so" "missing JOB argument" "$err"

run "$WEFT_BIN" job show arithmetic --bogus
check_rc "an unknown flag is a usage error" 2
check_has "the flag is named" "unknown option '--bogus'" "$err"

run "$WEFT_BIN" job show arithmetic fanout
check_rc "two jobs is a usage error" 2

run "$WEFT_BIN" job frobnicate
check_rc "an unknown subcommand is a usage error" 2
check_has "the subcommand is named" "unknown subcommand 'frobnicate'" "$err"

run "$WEFT_BIN" job
check_rc "job without a subcommand is a usage error" 2

run "$WEFT_BIN" job list --format yaml
check_rc "list rejects an unknown format" 2

cd "$tmp" || exit 1
run "$WEFT_BIN" job list
check_rc "job list without locations is a usage error" 2
run "$WEFT_BIN" job list "$examples/fanout" --format json
check_rc "job list takes location folders" 0
check_has "and lists their jobs" '"job": "fanout"' "$out"
run "$WEFT_BIN" job show fanout -l "$examples/fanout" -l "$examples/etl"
check_rc "job show takes -l LOCATION (repeatable)" 0

for sub in "" " list" " show" " check-config"; do
  run "$WEFT_BIN" job$sub --help
  check_rc "weft job$sub --help exits 0" 0
  check_has "weft job$sub --help prints a usage" "usage: weft job" "$out"
done

test_done
