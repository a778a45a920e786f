#!/usr/bin/env bash
# t0080-containers: ops with an image run in containers on a real engine
# (WEFT_TEST_DOCKER_HOST: scripts/podman-service, Podman's Docker API):
# outputs and inputs through the container, live logs, events, a failing
# command, the OOM message, cancel, timeout and a killed coordinator leaving
# no container, the Docker CLI seeing weft's labelled containers, and a bad
# image or a down engine refused at launch with no run recorded.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

n_tests=57
plan $n_tests
why=
[ -n "${WEFT_TEST_DOCKER_HOST:-}" ] || why="no container engine: WEFT_TEST_DOCKER_HOST is not set (podman not installed?)"
command -v docker >/dev/null 2>&1 || why=${why:-"no docker CLI to look at the engine with"}
if [ -n "$why" ]; then
  echo "# SKIPPING ALL: $why" >&2
  for i in $(seq $n_tests); do skip "$why"; done
  test_done
fi
image=${WEFT_TEST_DOCKER_IMAGE:-localhost/weft-test:busybox}
export DOCKER_HOST=$WEFT_TEST_DOCKER_HOST

cat >"$WEFT_HOME/weft.yaml" <<YAML
containers:
  socket: $WEFT_TEST_DOCKER_HOST
  pull: never
  network: none
  labels: {suite: t0080}
YAML
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
make:
  image: $image
  outputs: {result: int}
  run: |
    echo "make in \$(pwd) as \$WEFT_OP"
    echo "to stderr" >&2
    echo '{"type":"log","level":"warning","msg":"made it"}' >&\$WEFT_EVENTS
    echo 21 > "\$WEFT_OUTPUTS/result"
double:
  image: $image
  inputs: {n: int}
  outputs: {result: int}
  argv: [sh, -c, 'echo \$(( \$(cat \$WEFT_INPUTS/n) * 2 )) > \$WEFT_OUTPUTS/result; echo "{\"type\":\"materialization\",\"asset\":\"doubled\"}" >> \$WEFT_EVENTS']
talk:
  image: $image
  run: |
    echo first line
    n=0
    while [ ! -e /weft/inputs/release ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n + 1)); done
    echo last line
failing:
  image: $image
  run: echo about to fail; exit 3
hog:
  image: $image
  resources: {memory: 16Mi}
  run: x=\$(head -c 200000000 /dev/zero | tr '\0' a); echo survived
nap:
  image: $image
  run: echo napping; sleep 60
slow:
  image: $image
  timeout: 2
  run: sleep 60
missing:
  image: localhost/weft-no-such-image:1
  run: "true"
YAML
cat >loc/jobs/pipe.yaml <<'YAML'
ops:
  a: make
  b: {uses: double, inputs: {n: a}}
YAML
for j in talk failing hog nap slow missing; do printf 'ops:\n  x: %s\n' "$j" >"loc/jobs/$j.yaml"; done

runs_count() { store_query "SELECT count(*) FROM runs"; }
# ctr_of RUN: names of the containers (any state) of run RUN.
ctr_of() { docker ps -a --filter "label=weft.run=$1" --format '{{.Names}}' 2>/dev/null; }
# wait_container RUN: waits up to 20 s for a container of RUN to run.
wait_container() {
  local i
  for i in $(seq 200); do
    [ -n "$(docker ps --filter "label=weft.run=$1" --format '{{.Names}}' 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 1
}
newest_run() { store_query "SELECT id FROM runs ORDER BY created_ms DESC LIMIT 1"; }

# -- validation -------------------------------------------------------------------------
mkdir -p badloc/ops badloc/jobs
printf 'bad:\n  image: "Not An/Image"\n  run: "true"\n' >badloc/ops/ops.yaml
expect_exit -m "validate rejects a malformed image reference" 1 "$WEFT_BIN" validate badloc
check_has "at its line and column" "ops.yaml:2:10: error: op 'bad': image 'Not An/Image' is not an image reference" "$out$err"
mkdir -p badhome
printf 'containers:\n  pull: sometimes\n' >badhome/weft.yaml
expect_exit -m "a bad containers.pull is refused" 1 env WEFT_HOME="$tmp/badhome" "$WEFT_BIN" run list
check_has "with file:line:col" "weft.yaml:2:9: error: containers.pull must be missing, always or never, got 'sometimes'" "$err"

# -- a pipeline through containers ----------------------------------------------------------
expect_exit -m "a job of container steps succeeds" 0 "$WEFT_BIN" launch -l loc pipe
run_a=$(run_id_of)
check_has "a's event arrived" "a [warning] made it" "$out"
check_has "b's materialization arrived" "b materialized doubled" "$out"
check_has "the input went in and the output came out" "b output result = 42" "$out"
expect_output_contains -m "a's stdout, with the container's paths" "make in /weft/code as a" "$WEFT_BIN" run logs "$run_a" a
expect_output_contains -m "a's stderr apart" "to stderr" "$WEFT_BIN" run logs "$run_a" a --stderr
expect_output_contains -m "run show names the image each step ran" "$image" "$WEFT_BIN" run show "$run_a"
check_digest "and its digest" a "$image" "$out"
# A re-execution of the same code runs the very image a ran (its digest),
# even if the tag has moved since.
digest_a=$(printf '%s\n' "$out" | sed -n "s|^  a  1  $image  \\([^ ]*\\) .*|\\1|p")
expect_exit -m "re-executing a step" 0 "$WEFT_BIN" run reexecute "$run_a" --steps a -l loc
run_r=$(run_id_of)
expect_output_contains -m "runs it in the image pinned by digest" "a  1  $digest_a  " "$WEFT_BIN" run show "$run_r"
check_eq "no container of the run is left" "" "$(ctr_of "$run_a")"

# -- the API (and so the UI's step card) says where each attempt ran --------------------------------
if start_server -l loc; then
  py_checks "$run_a" "$run_r" "$digest_a" <<'PY'
import sys, weft_http
c = weft_http.Client(sys.argv[1])
run_a, run_r, digest_a = sys.argv[2:5]
def check(name, cond, detail=""):
    print(("PASS %s" if cond else "FAIL %s\t" + str(detail)) % name)
d = c.get("/api/v1/runs/" + run_a).json
ctrs = {x["step"]: x for x in d.get("containers", [])}
check("GET /api/v1/runs/ID lists each attempt's container", sorted(ctrs) == ["a", "b"], d.get("containers"))
a = ctrs.get("a", {})
check("with its image, digest, attempt and container id",
      a.get("image") == "localhost/weft-test:busybox" and a.get("digest") == digest_a
      and a.get("attempt") == 1 and len(a.get("id") or "") == 64, a)
r = c.get("/api/v1/runs/" + run_r).json
check("the re-execution's container ran the pinned digest",
      [x.get("image") for x in r.get("containers", [])] == [digest_a], r.get("containers"))
PY
  stop_server
else
  for i in 1 2 3; do not_ok "weft dev starts"; done
fi

# -- the SDKs with WEFT_EVENTS as a path (argv: ops in containers) -------------------------------
# A static C program using sdk/c/weft_op.h, run as argv: in the busybox image.
mkdir -p cloc/ops cloc/jobs
cat >"$tmp/emit.c" <<'C'
#include "weft_op.h"
int main(void) {
  if (weft_op_event("{\"type\":\"log\",\"level\":\"info\",\"msg\":\"from C\"}")) return 2;
  return weft_op_output("result", "7") ? 3 : 0;
}
C
if cc -static -O2 -I"$WEFT_SRC/sdk/c" -o cloc/emit "$tmp/emit.c" 2>"$tmp/cc.err"; then
  printf 'emit:\n  image: %s\n  outputs: {result: int}\n  argv: [/weft/code/emit]\n' "$image" >cloc/ops/emit.yaml
  printf 'ops:\n  e: emit\n' >cloc/jobs/c.yaml
  expect_exit -m "the C SDK's events and outputs from an argv: op in a container" 0 "$WEFT_BIN" launch -l cloc c
  check_has "its event" "e [info] from C" "$out"
  check_has "its output" "e output result = 7" "$out"
else
  skip "no static C toolchain: $(head -c 200 "$tmp/cc.err")"
  skip "no static C toolchain"
  skip "no static C toolchain"
fi
WEFT_EVENTS=$tmp/py-events.jsonl PYTHONPATH=$WEFT_SRC/sdk/python \
  python3 -c 'import weft_op; weft_op.log("from Python"); weft_op.materialize("t", n=1)'
check_eq "the Python SDK appends to an events file named by WEFT_EVENTS" \
  '{"type":"log","level":"info","msg":"from Python"}
{"type":"materialization","asset":"t","metadata":{"n":1}}' "$(cat "$tmp/py-events.jsonl" 2>&1)"

# -- live logs, and the Docker CLI sees weft's containers ---------------------------------------
"$WEFT_BIN" launch -l loc talk >"$tmp/talk.out" 2>&1 &
talk_pid=$!
at_exit "kill $talk_pid"
sleep 0.5
run_talk=$(newest_run)
if wait_container "$run_talk"; then ok "the talk step's container runs"; else not_ok "the talk step's container runs"; fi
for i in $(seq 50); do
  grep -q "first line" "$WEFT_HOME/runs/$run_talk/x/1/stdout.log" 2>/dev/null && break
  sleep 0.1
done
expect_output_contains -m "weft run logs shows the first line while it runs" "first line" "$WEFT_BIN" run logs "$run_talk" x
case "$out" in *"last line"*) not_ok "... and not yet the last" "$out" ;; *) ok "... and not yet the last" ;; esac
labels=$(docker ps --filter "label=weft.run=$run_talk" --format '{{.Label "weft.step"}} {{.Label "weft.attempt"}} {{.Label "suite"}} {{.Label "weft.instance"}}')
check_has "docker ps (same socket) sees it with weft's labels" "x 1 t0080 " "$labels"
instance_label=${labels##* }
# the talker runs until released (a fixed sleep could end first on a loaded
# machine): its inputs folder is mounted at /weft/inputs
touch "$WEFT_HOME/runs/$run_talk/x/1/inputs/release"
wait "$talk_pid"
check_eq "the talk run succeeds" 0 "$?"
check_eq "and leaves no container" "" "$(ctr_of "$run_talk")"

# -- failures ----------------------------------------------------------------------------------
expect_exit -m "a failing command fails the run" 1 "$WEFT_BIN" launch -l loc failing
check_has "with its exit status" "x failed: exited with status 3" "$out$err"
expect_exit -m "a step over its memory limit fails" 1 "$WEFT_BIN" launch -l loc hog
check_has "out of memory, with the limit" "x failed: killed: out of memory (limit 16 MiB)" "$out$err"
printf 'ops:\n  x: {resources: {memory: 12Mi}}\n' >hog12.yaml
expect_exit -m "a run config's resources replace the op's for that run" 1 \
  "$WEFT_BIN" launch -l loc hog -c hog12.yaml
check_has "the run's limit applied" "x failed: killed: out of memory (limit 12 MiB)" "$out$err"
expect_exit -m "a step over its timeout fails" 1 "$WEFT_BIN" launch -l loc slow
run_slow=$(run_id_of)
check_has "timed out" "x failed: timed out after 2s" "$out$err"
check_eq "the timed-out container is gone" "" "$(ctr_of "$run_slow")"

# -- cancel ---------------------------------------------------------------------------------------
"$WEFT_BIN" launch -l loc nap >"$tmp/nap.out" 2>&1 &
nap_pid=$!
at_exit "kill $nap_pid"
sleep 0.5
run_nap=$(newest_run)
wait_container "$run_nap"
expect_exit -m "weft run cancel" 0 "$WEFT_BIN" run cancel "$run_nap"
wait "$nap_pid"
check_has "the run ends canceled" "canceled" "$(cat "$tmp/nap.out")"
check_eq "the canceled container is gone" "" "$(ctr_of "$run_nap")"

# -- kill -9 of the coordinator mid-step: the next command cleans up ------------------------------------
"$WEFT_BIN" launch -l loc nap >"$tmp/nap2.out" 2>&1 &
nap2_pid=$!
sleep 0.5
run_nap2=$(newest_run)
wait_container "$run_nap2"
kill -9 "$nap2_pid"
wait "$nap2_pid" 2>/dev/null
check_eq "the container outlives its coordinator" "weft-$run_nap2-x-1" "$(docker ps --filter "label=weft.run=$run_nap2" --format '{{.Names}}')"
expect_exit -m "the next weft command runs (adoption off: it fails the run)" 0 env WEFT_RUN_ADOPT=0 "$WEFT_BIN" run list
check_eq "it marked the run failed" "failure" "$(store_query "SELECT status FROM runs WHERE id='$run_nap2'")"
check_eq "and removed the container" "" "$(docker ps -a --filter "label=weft.run=$run_nap2" --format '{{.Names}}')"

# -- refused at launch, nothing recorded ---------------------------------------------------------------
before=$(runs_count)
expect_exit -m "a missing image is refused at launch" 1 "$WEFT_BIN" launch -l loc missing
check_has "saying which" "op 'x': image 'localhost/weft-no-such-image:1' is not on the container engine at $WEFT_TEST_DOCKER_HOST and containers.pull is never" "$err"
check_eq "and no run is recorded" "$before" "$(runs_count)"
# pull: missing tries the registry first (localhost: 127.0.0.1, nothing listens).
mkdir -p pullhome
printf 'containers:\n  socket: %s\n  pull: missing\n' "$WEFT_TEST_DOCKER_HOST" >pullhome/weft.yaml
expect_exit -m "an image no registry has is refused at launch (pull: missing)" 1 \
  env WEFT_HOME="$tmp/pullhome" "$WEFT_BIN" launch -l loc missing
check_has "with the pull's error" "op 'x': pulling image 'localhost/weft-no-such-image:1': " "$err"
check_eq "and no run is recorded" "0" "$(WEFT_HOME=$tmp/pullhome store_query "SELECT count(*) FROM runs")"
mkdir -p downhome
printf 'containers:\n  socket: unix://%s/nobody.sock\n' "$tmp" >downhome/weft.yaml
expect_exit -m "a down engine is refused at launch" 1 env WEFT_HOME="$tmp/downhome" "$WEFT_BIN" launch -l loc pipe
check_has "saying so" "no container engine at unix://$tmp/nobody.sock: no such file or directory; start 'podman system service' or Docker" "$err"
check_eq "and no run is recorded" "0" "$(WEFT_HOME=$tmp/downhome store_query "SELECT count(*) FROM runs")"

# -- gc-containers ------------------------------------------------------------------------------------
docker create --label "weft.instance=$instance_label" --label "weft.run=$run_a" \
  --label weft.step=a --label weft.attempt=1 --name "weft-leftover-$$" "$image" true >/dev/null
expect_output_contains -m "gc-containers --dry-run lists a finished attempt's leftover" \
  "would remove 1 container" "$WEFT_BIN" instance gc-containers --dry-run
check_eq "and leaves it" "weft-leftover-$$" "$(docker ps -a --filter "name=weft-leftover-$$" --format '{{.Names}}')"
expect_output_contains -m "gc-containers removes it" "removed 1 container" "$WEFT_BIN" instance gc-containers
check_eq "nothing of this instance is left on the engine" "" \
  "$(docker ps -a --filter "label=weft.instance=$instance_label" --format '{{.Names}}')"
test_done
