#!/usr/bin/env bash
# t0104-python-jobs: ops and jobs written in Python (ops/*.py, jobs/*.py)
# collected, shown and launched like YAML ones; mixed YAML/Python jobs; a
# Dagster-shaped run config; syntax and import errors at file:line with the
# other files loading; a file that hangs at import (timeout); the cache;
# live reload of a .py file under `weft dev`; a Python op on a queue worker.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

mkdir -p loc/ops loc/jobs
cat >loc/ops/math.py <<'EOF'
from dataclasses import dataclass
from weft import op, Out


@dataclass
class AddX:
    x: int = 1


@op(retries=1, timeout="60s")
def add_x(num: int, config: AddX) -> int:
    """Adds x."""
    return num + config.x


@op
def add_one(num: int) -> int:
    return num + 1


@op
def split(num: int) -> Out(low=int, high=int):
    return num // 2, num - num // 2
EOF
cat >loc/ops/total.yaml <<'EOF'
total:
  description: A YAML op used by a Python job.
  inputs: {a: int, b: int}
  outputs: {result: int}
  run: 'echo $(( $(cat "$WEFT_INPUTS/a") + $(cat "$WEFT_INPUTS/b") )) > "$WEFT_OUTPUTS/result"'
EOF
cat >loc/jobs/arith.py <<'EOF'
from weft import job, yaml_op
from ops.math import add_x, add_one, split


@job(tags={"team": "py"})
def arith():
    """Arithmetic in Python."""
    low, high = split(add_one(add_x()))
    yaml_op("total")(a=low, b=add_one.alias("add_one_b")(high))
EOF
cat >loc/jobs/mixed.yaml <<'EOF'
description: A YAML job of Python ops.
ops:
  add_x: add_x
  add_one: {inputs: {num: add_x}}
EOF
# A Dagster run config: solids:, config:, inputs as {value: X}.
cat >dagster.yaml <<'EOF'
solids:
  add_x:
    config: {x: 5}
    inputs:
      num: {value: 10}
EOF

# -- collected, validated, shown, launched ------------------------------------------------
expect_exit 0 "$WEFT_BIN" validate loc
check_eq "validate counts the Python and YAML jobs and ops" "ok: 1 location, 2 jobs, 4 ops" "$out"
expect_exit 0 "$WEFT_BIN" job show arith -l loc
check_has "job show: a Python op with its docstring" "add_x (op add_x): Adds x." "$out"
check_has "job show: the alias wired from an output of a multi-output op" \
  "input   num: int <- split.high" "$out"
check_has "job show: the YAML op in the Python job" "total (op total)" "$out"
expect_exit 0 "$WEFT_BIN" job show arith -l loc --format json
check_py "job show json: marks of the Python job point into the .py file" '
import json, sys
d = json.load(open(sys.argv[1]))
print("ok" if "jobs/arith.py" in json.dumps(d) else d)'
expect_exit -m "the Python job runs with a Dagster-shaped run config" 0 \
  "$WEFT_BIN" launch arith -l loc -c dagster.yaml
check_has "10 -> 15 -> 16 -> (8, 8) -> 9 -> 8 + 9 = 17" "total output result = 17" "$out"
expect_exit -m "a YAML job of Python ops runs" 0 "$WEFT_BIN" launch mixed -l loc \
  --set ops.add_x.inputs.num=1
check_has "and its Python steps compute" "add_one output result = 3" "$out"

# -- the cache: an unchanged file costs no subprocess ----------------------------------
cat >loc/ops/counted.py <<'EOF'
import os
from weft import op
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imports.log"), "a") as f:
    f.write("imported\n")


@op
def counted() -> int:
    return 1
EOF
"$WEFT_BIN" validate loc >/dev/null 2>&1
"$WEFT_BIN" validate loc >/dev/null 2>&1
check_eq "a second validate of an unchanged file uses the cache" 1 "$(wc -l <loc/imports.log)"
echo "# edited" >>loc/ops/counted.py
"$WEFT_BIN" validate loc >/dev/null 2>&1
check_eq "an edited file is described again" 2 "$(wc -l <loc/imports.log)"

# -- errors at file:line; the other files still load -----------------------------------
printf 'x = 1\ndef f(:\n    pass\n' >loc/ops/syntax.py
printf 'import os\n\nimport no_such_module_t0104\n' >loc/ops/imports.py
expect_exit -m "validate fails on the broken files" 1 "$WEFT_BIN" validate loc
check_has "a syntax error at its file:line:col" "ops/syntax.py:2:7: error: SyntaxError: invalid syntax" "$err$out"
check_has "an import error at the traceback's line" \
  "ops/imports.py:3:1: error: ModuleNotFoundError: No module named 'no_such_module_t0104'" "$err$out"
expect_exit 0 "$WEFT_BIN" job list loc --format json
check_py "the jobs of the other files still load, valid" '
import json, sys
d = json.load(open(sys.argv[1]))
print("ok" if sorted((j["job"], j["valid"]) for j in d["jobs"]) == [("arith", True), ("mixed", True)] else d)'
rm loc/ops/syntax.py loc/ops/imports.py

# -- a file that hangs at import -----------------------------------------------------------
printf 'import time\n\ntime.sleep(600)\n' >loc/ops/hang.py
t0=$EPOCHREALTIME
WEFT_PYTHON_TIMEOUT=1 run "$WEFT_BIN" validate loc
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a }')
check_rc "validate of a hanging file ends, failing" 1
check_has "the hang is reported at the line it was stuck on" \
  "ops/hang.py:3:1: error: took longer than 1 s to import" "$err$out"
if [ "$secs" -lt 30 ]; then ok "it is stopped by the timeout ($secs s)"; else not_ok "stopped by the timeout" "$secs s"; fi
rm loc/ops/hang.py

# -- weft dev: live reload of .py files; a hang does not take the server down --------------
expect_exit -m "location add registers the Python location" 0 "$WEFT_BIN" location add loc "$tmp/loc"
export tmp
WEFT_PYTHON_TIMEOUT=2 start_server || { not_ok "weft dev starts"; test_done; }
ok "weft dev starts"
py_checks <<'PY'
import os, sys, time
from weft_http import Client, check
c = Client(sys.argv[1])
tmp = os.environ["tmp"]
def jobs():
    return sorted(j["name"] for j in c.get("/api/v1/jobs").json["jobs"])
def loc():
    for l in c.get("/api/v1/locations").json["locations"]:
        if l["name"] == "loc": return l
    return {}
def until(cond, limit=30.0):
    t0 = time.monotonic()
    while not cond() and time.monotonic() - t0 < limit: time.sleep(0.05)
    return cond()
def write(rel, text):
    path = os.path.join(tmp, "loc", rel)
    with open(path + ".tmp", "w") as f: f.write(text)
    os.rename(path + ".tmp", path)

check("the server lists the Python jobs", jobs() == ["arith", "mixed"], jobs())
r = c.get("/api/v1/jobs/loc/arith")
check("GET a Python job answers 200", r.status == 200, r)
check("with its steps", "add_one_b" in r.body.decode(), r)
write("jobs/later.py", "from weft import job\nfrom ops.math import add_one, add_x\n\n"
      "@job\ndef later():\n    add_one(add_x())\n")
check("a new .py job file shows (live reload)", until(lambda: "later" in jobs()), jobs())
r = c.post("/api/v1/jobs/loc/later/launch",
           {"run_config": {"ops": {"add_x": {"inputs": {"num": 40}, "config": {"x": 1}}}}})
check("the reloaded Python job launches", r.status == 201, r)
if r.status == 201:
    run = c.wait_run(r.json["run_id"], timeout=120)
    check("and its run succeeds", run and run["status"] == "success", run)
write("ops/broken.py", "def f(:\n")
check("a syntax error in a .py file is listed at its file:line",
      until(lambda: "ops/broken.py" in str(loc().get("errors"))), loc())
check("the last good jobs are still served", "later" in jobs(), jobs())
os.remove(os.path.join(tmp, "loc", "ops", "broken.py"))
check("fixing it clears the errors", until(lambda: not loc().get("errors")), loc())
write("ops/hang.py", "import time\ntime.sleep(600)\n")
check("a file that hangs at import is reported as a timeout",
      until(lambda: "took longer than 2 s" in str(loc().get("errors"))), loc())
r = c.get("/healthz")
check("the server keeps answering meanwhile", r.status == 200, r)
os.remove(os.path.join(tmp, "loc", "ops", "hang.py"))
check("removing it clears the errors", until(lambda: not loc().get("errors")), loc())
PY
stop_server

# -- the README's example, word for word, from a copy of the checkout's examples/ -----------
mkdir -p "$tmp/readme"
cp -r "$WEFT_SRC/examples" "$tmp/readme/examples"
here=$PWD
cd "$tmp/readme" || exit 1
WEFT_HOME=$tmp/readme/.weft expect_exit 0 "$WEFT_BIN" validate examples/python
check_eq "the README's validate line" "ok: 1 location, 4 jobs, 11 ops" "$out"
WEFT_HOME=$tmp/readme/.weft expect_exit -m "the README's launch of arithmetic_py" 0 \
  "$WEFT_BIN" launch arithmetic_py -l examples/python -c examples/python/run.yaml
check_has "sums to 17" "total output result = 17" "$out"
cd "$here" || exit 1

# -- a Python op on a queue worker ------------------------------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "a Python op on a queue worker: WEFT_TEST_AMQP_URL is not set"
else
  # shellcheck source-path=SCRIPTDIR source=lib_queue.sh
  . "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1
  export WEFT_HOME=$tmp/qhome
  mkdir -p "$WEFT_HOME"
  amqp_setup
  queue_instance
  # Every op of the job on this script's own queue (the node may be shared).
  sed -i -e "s/^@op(\([a-z]\)/@op(queue=\"$qd\", \1/" -e "s/^@op$/@op(queue=\"$qd\")/" loc/ops/math.py
  printf '  queue: %s\n' "$qd" >>loc/ops/total.yaml
  start_worker w1 "$qd"
  wait_registered 1 || not_ok "the worker registers"
  expect_exit -m "a Python job runs its Python ops on a queue worker" 0 \
    timeout 300 "$WEFT_BIN" launch arith -l loc -c dagster.yaml --set execution.queue.max_concurrent=4
  check_has "with the same result" "total output result = 17" "$out"
  kill "$worker_pid" 2>/dev/null
  wait "$worker_pid" 2>/dev/null
fi
test_done
