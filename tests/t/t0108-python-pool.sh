#!/usr/bin/env bash
# t0108-python-pool: Python op steps run as children of a warm fork server
# (src/exec/pypool.c, sdk/python/weft/_forkserver.py): warm steps share one
# server; a crashing child fails only its step; servers are recycled; cancel
# and timeout kill pooled steps; an edited module restarts the server; two
# code folders get two servers; `isolated: true`; a module that does not
# import in the server falls back; a queue worker pools too; no server is
# left behind; isolated and argv steps find their program on the location's
# --python virtualenv, not on weft's PATH.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

# The system interpreter when there is one: a pyenv shim on PATH costs a
# second per server start.
if [ -x /usr/bin/python3 ]; then
  mkdir -p bin && ln -s /usr/bin/python3 bin/python3 && export PATH=$tmp/bin:$PATH
fi
servers() { pgrep -f "weft._forkserver --root $tmp/" | tr '\n' ' '; }
at_exit 'for p in $(pgrep -f "weft._forkserver --root $tmp/"); do kill -9 $p; done'

mkdir -p loc/ops loc/jobs
cat >loc/ops/pool.py <<'EOF'
import ctypes
import os
import time
from weft import op

_held = []  # grows in a leaking child, never in the server
VERSION = 1


@op
def who() -> int:
    """The step's parent: the pool server, or weft for a fresh interpreter."""
    return os.getppid()


@op
def noop() -> int:
    return 0


@op
def crash() -> int:
    os._exit(3)


@op
def segv() -> int:
    ctypes.string_at(0)
    return 0


@op
def leak() -> int:
    _held.append(bytearray(64 << 20))
    return len(_held)


@op
def version() -> int:
    return VERSION


@op(isolated=True)
def who_isolated() -> int:
    return os.getppid()


@op
def sleepy() -> int:
    with open(os.path.join(os.environ["WEFT_LOCATION_DIR"], "s.pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return 0


@op(timeout="1s")
def too_slow() -> int:
    with open(os.path.join(os.environ["WEFT_LOCATION_DIR"], "slow.pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return 0


@op
def edit_version() -> int:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool.py")
    text = open(path).read().replace("VERSION = 1", "VERSION = 3")
    with open(path, "w") as f:
        f.write(text)
    return 0


@op
def version_after(after: int) -> int:
    return VERSION
EOF
cat >loc/ops/fragile.py <<'EOF'
import sys
from weft import op

if "weft._forkserver" in sys.modules:
    raise ImportError("this module refuses to load in a fork server")


@op
def fragile() -> str:
    return "fresh"
EOF
printf 'ops:\n  a: who\n  b: who\n  c: who\n  d: who\n  i: who_isolated\n' >loc/jobs/whos.yaml
printf 'ops:\n  bad_exit: crash\n  bad_segv: segv\n  good: who\n' >loc/jobs/crashes.yaml
printf 'ops:\n  l1: leak\n  l2: leak\n  l3: leak\n' >loc/jobs/leaks.yaml
printf 'ops:\n  v: version\n' >loc/jobs/ver.yaml
printf 'ops:\n  edit: edit_version\n  after: {uses: version_after, inputs: {after: edit}}\n' >loc/jobs/edit.yaml
printf 'ops:\n  s: sleepy\n' >loc/jobs/sleep.yaml
printf 'ops:\n  t: too_slow\n' >loc/jobs/slow.yaml
printf 'ops:\n  f: fragile\n  w: who\n' >loc/jobs/frag.yaml
{
  printf 'ops:\n'
  for i in $(seq 40); do printf '  n%d: noop\n' "$i"; done
} >loc/jobs/noops.yaml
expect_exit 0 "$WEFT_BIN" validate loc

# value STEP: the step's `result` output from the last launch's output.
value() { sed -n "s/.* $1 output result = //p" <<<"$out" | head -1; }

# -- warm steps share a server; isolated: true does not -----------------------------------
expect_exit -m "a job of pooled steps runs" 0 "$WEFT_BIN" launch whos -l loc
a=$(value a) b=$(value b) c=$(value c) d=$(value d) i=$(value i)
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && [ "$a" = "$d" ]; then
  ok "four pooled steps are children of one server ($a)"
else
  not_ok "four pooled steps share a server" "$a $b $c $d"
fi
if [ -n "$i" ] && [ "$i" != "$a" ]; then ok "an isolated: true op is a fresh interpreter ($i)"; else not_ok "isolated op" "$i vs $a"; fi
check_eq "no server outlives the launch" "" "$(servers)"
mkdir -p yloc/ops yloc/jobs
cp loc/ops/pool.py yloc/ops/
cat >yloc/ops/y.yaml <<'EOF'
who_yaml:
  argv: [python3, -m, weft, run, ops/pool.py, who]
  outputs: {result: int}
  isolated: true
EOF
printf 'ops:\n  y: who_yaml\n  p: who\n' >yloc/jobs/y.yaml
expect_exit -m "a YAML op with isolated: true runs" 0 "$WEFT_BIN" launch y -l yloc
if [ -n "$(value y)" ] && [ "$(value y)" != "$(value p)" ]; then
  ok "isolated: true in YAML: a fresh interpreter, not the pool's child"
else
  not_ok "YAML isolated" "y=$(value y) p=$(value p)"
fi
sed -i 's/isolated: true/isolated: 3/' yloc/ops/y.yaml
expect_exit -m "isolated: 3 is refused" 1 "$WEFT_BIN" validate yloc
check_has "at its line" "ops/y.yaml:4:13: error: op 'who_yaml': isolated must be true or false, got '3'" "$err$out"
expect_exit 0 "$WEFT_BIN" job show whos -l loc --format json
check_py "job show json says which op is isolated" '
import json, sys
s = json.dumps(json.load(open(sys.argv[1])))
print("ok" if "\"isolated\": true" in s and "\"isolated\": false" in s else s[:400])'

# -- figures: warm against isolated (printed, not asserted) ---------------------------------
t0=$EPOCHREALTIME
expect_exit -m "40 no-op steps pooled" 0 "$WEFT_BIN" launch noops -l loc
t1=$EPOCHREALTIME
expect_exit -m "40 no-op steps, pool off" 0 env WEFT_PYPOOL=off "$WEFT_BIN" launch noops -l loc
t2=$EPOCHREALTIME
echo "# 40 no-op Python steps: warm pool $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s," \
  "fresh interpreters $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.2f", b-a}') s"

# -- a crashing child fails only its own step ----------------------------------------------
expect_exit -m "a job with crashing steps fails" 1 "$WEFT_BIN" launch crashes -l loc
check_has "os._exit(3) fails its step" "bad_exit failed (attempt 1): exited with status 3" "$out"
check_has "a segfault fails its step" "bad_segv failed (attempt 1): killed by signal 11" "$out"
check_has "the step beside them succeeds" "good succeeded" "$out"

# -- leaks stay in the child; servers are recycled -----------------------------------------
expect_exit -m "leaking steps run" 0 "$WEFT_BIN" launch leaks -l loc
check_eq "each leaking child starts from the server's clean state" "1 1 1" \
  "$(value l1) $(value l2) $(value l3)"
expect_exit -m "with WEFT_PYPOOL_MAX_FORKS=2" 0 env WEFT_PYPOOL_MAX_FORKS=2 "$WEFT_BIN" launch whos -l loc
check_eq "four steps take two servers" 2 \
  "$(printf '%s\n' "$(value a)" "$(value b)" "$(value c)" "$(value d)" | sort -u | wc -l)"
expect_exit -m "with WEFT_PYPOOL_MAX_RSS_MB=1" 0 env WEFT_PYPOOL_MAX_RSS_MB=1 "$WEFT_BIN" launch whos -l loc
check_eq "a server over its RSS limit is replaced after each step" 4 \
  "$(printf '%s\n' "$(value a)" "$(value b)" "$(value c)" "$(value d)" | sort -u | wc -l)"
check_eq "no server outlives the recycling launches" "" "$(servers)"

# -- cancel and timeout kill a pooled step -------------------------------------------------
rm -f loc/s.pid
expect_exit -m "a detached run of a sleeping pooled step" 0 "$WEFT_BIN" launch sleep -l loc --detach
id=$out
for _ in $(seq 200); do [ -s loc/s.pid ] && break; sleep 0.05; done
spid=$(cat loc/s.pid 2>/dev/null)
[ -n "$spid" ] && kill -0 "$spid" 2>/dev/null && ok "the pooled step runs (pid $spid)" || not_ok "sleepy started"
expect_exit -m "weft run cancel ends it" 0 "$WEFT_BIN" run cancel "$id"
check_has "canceled" "run $id canceled" "$out"
gone() { for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
gone "$spid" && ok "the canceled step's process is gone" || not_ok "canceled process gone" "$spid"
expect_exit -m "a pooled step over its timeout fails" 1 "$WEFT_BIN" launch slow -l loc
check_has "timed out" "t failed (attempt 1): timed out after 1s" "$out"
tpid=$(cat loc/slow.pid 2>/dev/null)
if [ -n "$tpid" ] && gone "$tpid"; then ok "the timed-out process is gone"; else not_ok "timed-out process gone" "$tpid"; fi

# -- code versions: an edited module restarts the server; two folders, two servers --------
expect_exit -m "a step edits the module the next step uses" 0 "$WEFT_BIN" launch edit -l loc
check_eq "the next step sees the edited module (the server restarted)" 3 "$(value after)"
sed -i 's/VERSION = 3/VERSION = 1/' loc/ops/pool.py
cp -r loc loc2
sed -i 's/VERSION = 1/VERSION = 2/' loc2/ops/pool.py
"$WEFT_BIN" launch ver -l loc >v1.out 2>&1 &
p1=$!
"$WEFT_BIN" launch ver -l loc2 >v2.out 2>&1 &
p2=$!
wait "$p1"
r1=$?
wait "$p2"
r2=$?
check_eq "two code folders side by side run their own code" "0 0 1 2" \
  "$r1 $r2 $(sed -n 's/.* v output result = //p' v1.out) $(sed -n 's/.* v output result = //p' v2.out)"

# -- a module that does not import in the server falls back ---------------------------------
expect_exit -m "a job with a module that refuses the server runs" 0 "$WEFT_BIN" launch frag -l loc
check_eq "its step ran in a fresh interpreter" '"fresh"' "$(value f)"
check_eq "its log says so once" 1 "$(grep -c 'f \[warning\] warm pool: ops/fragile.py does not import in the warm pool' <<<"$out")"
check_eq "the other step of the job was not touched" 0 "$(grep -c 'w \[warning\]' <<<"$out")"

# -- isolated and argv steps: the location's --python VENV, not weft's PATH ----------------
mkdir -p venv/bin vloc/ops vloc/jobs
# The interpreter found now (weft's PATH), wrapped to say it was the venv's.
printf '#!/bin/sh\nWEFT_T0108_VENV=yes exec %s "$@"\n' "$(command -v python3)" >venv/bin/python3
printf '#!/bin/sh\nprintf %s "\\"the venv tool ran\\"" >"$WEFT_OUTPUTS/said"\n' "'%s'" >venv/bin/t0108-tool
chmod +x venv/bin/python3 venv/bin/t0108-tool
cat >vloc/ops/v.py <<'EOF'
import os
from weft import op


@op(isolated=True)
def which_python() -> str:
    return os.environ.get("WEFT_T0108_VENV", "weft's PATH")
EOF
printf 'tool:\n  argv: [t0108-tool]\n  outputs: {said: string}\n' >vloc/ops/tool.yaml
printf 'ops:\n  p: which_python\n  t: tool\n' >vloc/jobs/v.yaml
expect_exit 0 "$WEFT_BIN" location add vloc "$tmp/vloc" --python "$tmp/venv"
expect_exit -m "a location with --python VENV runs an isolated and an argv step" 0 \
  "$WEFT_BIN" launch v
check_eq "the isolated step ran VENV/bin/python3" '"yes"' "$(value p)"
check_has "the argv step found its program in VENV/bin" 't output said = "the venv tool ran"' "$out"

# -- a queue worker runs Python ops through its pool ----------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "Python ops on a queue worker: WEFT_TEST_AMQP_URL is not set"
else
  # shellcheck source-path=SCRIPTDIR source=lib_queue.sh
  . "$WEFT_SRC/tests/t/lib_queue.sh" || exit 1
  export WEFT_HOME=$tmp/qhome
  mkdir -p "$WEFT_HOME"
  amqp_setup
  queue_instance
  sed -i -e "s/^@op(\([a-z]\)/@op(queue=\"$qd\", \1/" -e "s/^@op$/@op(queue=\"$qd\")/" loc/ops/pool.py
  start_worker w1 "$qd"
  wait_registered 1 || not_ok "the worker registers"
  expect_exit -m "pooled steps run on a queue worker" 0 \
    timeout 300 "$WEFT_BIN" launch whos -l loc --set execution.queue.max_concurrent=4
  a=$(value a) b=$(value b) i=$(value i)
  if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$worker_pid" ] && [ "$i" = "$worker_pid" ]; then
    ok "the worker's Python steps share its server ($a); the isolated one is its own child"
  else
    not_ok "worker pool" "a=$a b=$b i=$i worker=$worker_pid"
  fi
  kill "$worker_pid" 2>/dev/null
  wait "$worker_pid" 2>/dev/null
fi

check_eq "no pool server is left after the test" "" "$(servers)"
test_done
