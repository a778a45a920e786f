#!/usr/bin/env bash
# t0003-check-config: `weft job check-config` with the example run configs
# (resolved with defaults, YAML and JSON), with bad run configs (exact
# errors), with --set overrides, and its usage errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cd "$examples" || exit 1

# -- good run configs -----------------------------------------------------------
run "$WEFT_BIN" job check-config arithmetic -c arithmetic/run.yaml
check_rc "the arithmetic run config is valid" 0
check_eq "it is printed resolved, as YAML" \
"job: arithmetic
ops:
  add_x:
    config:
      x: 5
    inputs:
      num: 10
  add_one_a:
    config: {}
    inputs: {}
  split:
    config: {}
    inputs: {}
  add_one_b:
    config: {}
    inputs: {}
  total:
    config: {}
    inputs: {}
execution:
  multiprocess:
    max_concurrent: 2
tags:
  purpose: demo" "$out"

run "$WEFT_BIN" job check-config arithmetic -c arithmetic/run.yaml --format json
check_rc "--format json exits 0" 0
check_py "json: config with defaults, inputs, execution and tags" '
import json, sys
doc = json.load(open(sys.argv[1]))
ops = doc["ops"]
ok = (doc["job"] == "arithmetic"
      and ops["add_x"]["config"] == {"x": 5}
      and ops["add_x"]["inputs"] == {"num": 10}
      and set(ops) == {"add_x", "add_one_a", "split", "add_one_b", "total"}
      and doc["execution"] == {"multiprocess": {"max_concurrent": 2}}
      and doc["tags"] == {"purpose": "demo"})
print("ok" if ok else doc)'

run "$WEFT_BIN" job check-config sales_etl -c etl/run.yaml --format json
check_rc "the ETL run config is valid" 0
check_py "defaults fill what the run config leaves out" '
import json, sys
doc = json.load(open(sys.argv[1]))
ops = doc["ops"]
ok = (ops["generate"]["config"] == {"rows": 2000, "seed": 7, "bad_fraction": 0.05}
      and ops["clean"]["config"] == {"regions": ["north", "south", "east", "west"], "max_quantity": 1000}
      and ops["report"]["config"] == {"title": "Sales by region, 2024", "currency": "EUR"})
print("ok" if ok else doc)'

run "$WEFT_BIN" job check-config fanout -c fanout/run.yaml --format json
check_rc "the fanout run config is valid" 0
check_py "static job config is part of the resolved config" '
import json, sys
doc = json.load(open(sys.argv[1]))
ok = (doc["ops"]["shard_5"]["config"] == {"shard": 5, "shards": 8}
      and doc["ops"]["produce"]["config"] == {"count": 128}
      and doc["execution"] == {"multiprocess": {"max_concurrent": 8}})
print("ok" if ok else doc)'

run "$WEFT_BIN" job check-config arithmetic -c arithmetic/run.yaml \
  --set ops.add_x.config.x=42 --format json
check_rc "--set overrides a value" 0
check_py "the override wins over the file" '
import json, sys
doc = json.load(open(sys.argv[1]))
print("ok" if doc["ops"]["add_x"]["config"] == {"x": 42} else doc)'

run "$WEFT_BIN" job check-config arithmetic --set ops.add_x.inputs.num=7 --format json
check_rc "--set alone, without -c, is a run config too" 0
check_py "defaults and the set input" '
import json, sys
doc = json.load(open(sys.argv[1]))
ok = doc["ops"]["add_x"] == {"config": {"x": 1}, "inputs": {"num": 7}}
print("ok" if ok else doc)'

printf '{"solids": {"add_x": {"config": {"x": 2}, "inputs": {"num": 1}}},\n "execution": {"in_process": {}}}\n' > "$tmp/run.json"
run "$WEFT_BIN" job check-config arithmetic -c "$tmp/run.json" --format json
check_rc "a JSON run config with solids: is accepted" 0
check_py "in_process execution" '
import json, sys
doc = json.load(open(sys.argv[1]))
ok = doc["execution"] == {"in_process": {}} and doc["ops"]["add_x"]["config"] == {"x": 2}
print("ok" if ok else doc)'

run sh -c "\"$WEFT_BIN\" job check-config arithmetic -c - < arithmetic/run.yaml"
check_rc "-c - reads the run config from stdin" 0

# -- bad run configs: precise errors ------------------------------------------------
cat > "$tmp/bad.yaml" <<'YAML'
ops:
  add_x:
    config:
      x: five
      y: 2
  add_on_a:
    config: {}
execution:
  multiprocess:
    max_concurent: 2
YAML
run "$WEFT_BIN" job check-config arithmetic -c "$tmp/bad.yaml"
check_rc "a bad run config exits 1" 1
check_eq "every error of the bad run config, in order" \
"$tmp/bad.yaml:2:3: error: input 'num' of op 'add_x' is not wired and has no default: set ops.add_x.inputs.num in the run config
$tmp/bad.yaml:4:10: error: config 'x' of op 'add_x' must be int, got a string \"five\"
$tmp/bad.yaml:5:7: error: unknown config key 'y' for op 'add_x'
$tmp/bad.yaml:6:3: error: op 'add_on_a' is not in job 'arithmetic' (did you mean 'add_one_a'?)
$tmp/bad.yaml:10:5: error: unknown key 'max_concurent' in execution.multiprocess (did you mean 'max_concurrent'?)
5 errors in the run config of job arithmetic" "$err"
check_eq "nothing on stdout" "" "$out"

run "$WEFT_BIN" job check-config arithmetic
check_rc "an unwired input left unset is an error" 1
check_has "it names the op and input" "add_x" "$err"

cd "$examples/broken" || exit 1
run "$WEFT_BIN" job check-config needs_config -l .
check_rc "missing required config exits 1" 1
check_eq "the missing required config is named" \
"jobs/needs_config.yaml:3:3: error: missing required config 'token' (string) for op 'call'
1 error in the run config of job needs_config" "$err"
run "$WEFT_BIN" job check-config needs_config -l . --set ops.call.config.token=s3cret --format json
check_rc "setting the required config makes it valid" 0
check_py "the token and the endpoint default" '
import json, sys
doc = json.load(open(sys.argv[1]))
ok = doc["ops"]["call"]["config"] == {"token": "s3cret", "endpoint": "https://api.example.com"}
print("ok" if ok else doc)'
run "$WEFT_BIN" job check-config cycle -l .
check_rc "check-config of an invalid job exits 1" 1
check_has "with the job's errors" "jobs/cycle.yaml:" "$err"
cd "$examples" || exit 1

printf 'ops:\n  add_x: {config: {x: 1}\n' > "$tmp/syntax.yaml"
run "$WEFT_BIN" job check-config arithmetic -c "$tmp/syntax.yaml"
check_rc "a run config with a YAML syntax error exits 1" 1
check_has "the syntax error has a position" "$tmp/syntax.yaml:" "$err"

run "$WEFT_BIN" job check-config arithmetic -c "$tmp/no-such-file.yaml"
check_rc "a missing run config file exits 1" 1
check_has "and is named" "no-such-file.yaml" "$err"

# -- usage errors ----------------------------------------------------------------------
run "$WEFT_BIN" job check-config arithmetic -c
check_rc "-c without a value is a usage error" 2
run "$WEFT_BIN" job check-config arithmetic --sett x=1
check_rc "an unknown flag is a usage error" 2
check_has "the flag is named" "unknown option '--sett'" "$err"
run "$WEFT_BIN" job check-config arithmetic --format dot
check_rc "check-config rejects the dot format" 2
run "$WEFT_BIN" job check-config
check_rc "check-config without JOB is a usage error" 2

test_done
