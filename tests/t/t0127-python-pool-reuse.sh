#!/usr/bin/env bash
# t0127-python-pool-reuse: warm pool children reused for several steps
# (`steps_per_child`, src/exec/pypool.c, sdk/python/weft/_forkserver.py):
# N steps in one child, each with its own environment and logs, recycled
# after N; an exception fails only its step and the child goes on; a crash,
# a timeout and a cancel kill the child and the next step gets a fresh one;
# the instance default $WEFT_PYPOOL_STEPS_PER_CHILD; bad values refused at
# file:line; a child that grows past WEFT_PYPOOL_MAX_RSS_MB is recycled.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

if [ -x /usr/bin/python3 ]; then # no pyenv shim: a second a server start
  mkdir -p bin && ln -s /usr/bin/python3 bin/python3 && export PATH=$tmp/bin:$PATH
fi
servers() { pgrep -f "weft._forkserver --root $tmp/" | tr '\n' ' '; }
# shellcheck disable=SC2016 # expanded when at_exit runs it
at_exit 'for p in $(pgrep -f "weft._forkserver --root $tmp/"); do kill -9 $p; done'

mkdir -p loc/ops loc/jobs
cat >loc/ops/reuse.py <<'EOF'
import os
import time
from weft import op

RAN = [0]  # a module global: it persists between the steps of one child


def _me():
    RAN[0] += 1
    leak = os.environ.get("LEAKED", "-")
    os.environ["LEAKED"] = os.environ["WEFT_OP"]  # must not reach the next step
    print("stdout of step %d" % RAN[0])
    return "%d:%d:%s" % (os.getpid(), RAN[0], leak)


@op(steps_per_child=3)
def again() -> str:
    return _me()


@op
def plain() -> str:
    return _me()


_held = []


@op(steps_per_child=5)
def leak() -> str:
    _held.append(b"x" * (48 << 20))  # written: resident, not lazily zero
    return "%d:%d" % (os.getpid(), len(_held))


@op(steps_per_child=3)
def fails() -> str:
    raise ValueError("this step fails, its child goes on")


@op(steps_per_child=3)
def boom() -> str:
    os._exit(5)


@op(steps_per_child=3, timeout="1s")
def too_slow() -> str:
    with open(os.path.join(os.environ["WEFT_LOCATION_DIR"], "slow.pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return ""


@op(steps_per_child=3)
def sleepy() -> str:
    with open(os.path.join(os.environ["WEFT_LOCATION_DIR"], "s.pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return ""
EOF
chain() { # chain JOB OP...: one step after the other, each after the last whatever its end
  local job=$1 prev="" i=0
  shift
  printf 'ops:\n' >"loc/jobs/$job.yaml"
  for op in "$@"; do
    i=$((i + 1))
    if [ -z "$prev" ]; then printf '  s%d: %s\n' "$i" "$op"
    else printf '  s%d: {uses: %s, after: %s, trigger: all_done}\n' "$i" "$op" "$prev"; fi >>"loc/jobs/$job.yaml"
    prev=s$i
  done
}
chain seq again again again again
chain crash again fails again boom again
chain slow again too_slow again
chain sleep again sleepy
chain plain plain plain plain
chain leaks leak leak leak
expect_exit 0 "$WEFT_BIN" validate loc

value() { sed -n "s/.* $1 output result = \"\(.*\)\"$/\1/p" <<<"$out" | head -1; }
pid_of() { echo "${1%%:*}"; }
gone() { for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

# -- N steps in one child, then a fresh one ------------------------------------------------
expect_exit -m "four reused steps run" 0 "$WEFT_BIN" launch seq -l loc
run=$(sed -n 's/.* run \([0-9a-f]*\) started.*/\1/p' <<<"$out" | head -1)
p=$(pid_of "$(value s1)")
check_eq "steps 1-3 in one child: its global counts them, no environment leaked" \
  "$p:1:- $p:2:- $p:3:-" "$(value s1) $(value s2) $(value s3)"
p4=$(pid_of "$(value s4)")
if [ -n "$p4" ] && [ "$p4" != "$p" ]; then ok "step 4 in a fresh child (steps_per_child: 3)"; else not_ok "recycled after 3" "$p4 vs $p"; fi
check_eq "the fresh child starts from the server's state" "$p4:1:-" "$(value s4)"
if gone "$p"; then ok "the recycled child has exited"; else not_ok "recycled child gone" "$p"; fi
expect_exit 0 "$WEFT_BIN" run logs "$run" s2
check_eq "each step's stdout is its own" "stdout of step 2" "$out"

# -- an exception fails its step only; a crash takes the child with it --------------------
expect_exit -m "a chain with a failing and a crashing step fails" 1 "$WEFT_BIN" launch crash -l loc
check_has "the exception fails its step" "s2 failed (attempt 1): exited with status 1" "$out"
check_has "os._exit(5) fails its step" "s4 failed (attempt 1): exited with status 5" "$out"
p1=$(pid_of "$(value s1)")
check_eq "after the exception the same child takes the next step" "$p1:2:-" "$(value s3)"
p5=$(pid_of "$(value s5)")
if [ -n "$p5" ] && [ "$p5" != "$p1" ]; then ok "after the crash a fresh child takes the next step"; else not_ok "fresh after crash" "$p5 vs $p1"; fi
check_eq "...which starts from the server's state" "$p5:1:-" "$(value s5)"
if gone "$p1"; then ok "the crashed child is gone"; else not_ok "crashed child gone" "$p1"; fi

# -- timeout and cancel kill the reused child ----------------------------------------------
expect_exit -m "a reused step over its timeout fails" 1 "$WEFT_BIN" launch slow -l loc
check_has "timed out" "s2 failed (attempt 1): timed out after 1s" "$out"
p1=$(pid_of "$(value s1)")
tpid=$(cat loc/slow.pid 2>/dev/null)
check_eq "the slow step ran in the first step's child" "$p1" "$tpid"
if [ -n "$tpid" ] && gone "$tpid"; then ok "the timed-out child is gone"; else not_ok "timed-out child gone" "$tpid"; fi
p3=$(pid_of "$(value s3)")
if [ -n "$p3" ] && [ "$p3" != "$p1" ]; then ok "the next step gets a fresh child"; else not_ok "fresh after timeout" "$p3 vs $p1"; fi
rm -f loc/s.pid
expect_exit -m "a detached run of a sleeping reused step" 0 "$WEFT_BIN" launch sleep -l loc --detach
id=$out
for _ in $(seq 200); do [ -s loc/s.pid ] && break; sleep 0.05; done
spid=$(cat loc/s.pid 2>/dev/null)
if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then ok "the reused step runs (pid $spid)"; else not_ok "sleepy started"; fi
expect_exit -m "weft run cancel ends it" 0 "$WEFT_BIN" run cancel "$id"
check_has "canceled" "run $id canceled" "$out"
if gone "$spid"; then ok "the canceled step's child is gone"; else not_ok "canceled child gone" "$spid"; fi

# -- a child that grows past WEFT_PYPOOL_MAX_RSS_MB is recycled -------------------------------
expect_exit -m "leaking reused steps under WEFT_PYPOOL_MAX_RSS_MB=80" 0 \
  env WEFT_PYPOOL_MAX_RSS_MB=80 "$WEFT_BIN" launch leaks -l loc
check_eq "the child is replaced once it holds more than 80 MB" "1 2 1" \
  "$(value s1 | cut -d: -f2) $(value s2 | cut -d: -f2) $(value s3 | cut -d: -f2)"

# -- the instance default ------------------------------------------------------------------
expect_exit -m "an op without steps_per_child: a fork a step" 0 "$WEFT_BIN" launch plain -l loc
check_eq "three children" 3 "$(for s in s1 s2 s3; do pid_of "$(value $s)"; done | sort -u | wc -l)"
expect_exit -m "WEFT_PYPOOL_STEPS_PER_CHILD=2" 0 env WEFT_PYPOOL_STEPS_PER_CHILD=2 "$WEFT_BIN" launch plain -l loc
p=$(pid_of "$(value s1)")
check_eq "two steps a child" "$p:1:- $p:2:-" "$(value s1) $(value s2)"
check_eq "the third in a fresh one" "1" "$(value s3 | cut -d: -f2)"

# -- shown, and checked ---------------------------------------------------------------------
expect_exit 0 "$WEFT_BIN" job show seq -l loc --format json
check_py "job show json has steps_per_child" '
import json, sys
s = json.dumps(json.load(open(sys.argv[1])))
print("ok" if "\"steps_per_child\": 3" in s else s[:400])'
mkdir -p bad/ops bad/jobs
cat >bad/ops/y.yaml <<'EOF'
zero:
  argv: [python3, -m, weft, run, ops/p.py, f]
  steps_per_child: 0
both:
  argv: [python3, -m, weft, run, ops/p.py, f]
  isolated: true
  steps_per_child: 4
EOF
cat >bad/ops/p.py <<'EOF'
from weft import op


@op(steps_per_child="many")
def f() -> int:
    return 0
EOF
expect_exit -m "bad steps_per_child values are refused" 1 "$WEFT_BIN" validate bad
check_has "0, at its line" "ops/y.yaml:3:20: error: op 'zero': steps_per_child must be an integer from 1 to 1000000, got '0'" "$err$out"
check_has "with isolated: true" "ops/y.yaml:7:20: error: op 'both': steps_per_child needs the warm pool, which isolated: true turns off" "$err$out"
check_has "in Python, at the decorator" "ops/p.py:4" "$err$out"
check_has "...saying what is wrong" "steps_per_child must be an integer from 1 to 1000000, got 'many'" "$err$out"

check_eq "no pool server is left after the test" "" "$(servers)"
test_done
