#!/usr/bin/env bash
# t0083-containers-gpu-serial: GPU requests reach the container engine. This
# machine has no GPU, so a CDI spec of its own (nvidia.com/gpu devices 0, 1
# and all, each setting a variable) stands in for the NVIDIA toolkit's: Podman
# resolves `resources: {gpus: ...}` through it exactly as through a real one,
# and the step sees which devices it got. Serial: while the spec is in place
# the engine test's "GPU request without GPUs" would find GPUs.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

n_tests=13
plan $n_tests
cdi_dir=/var/run/cdi
why=
[ -n "${WEFT_TEST_DOCKER_HOST:-}" ] || why="no container engine: WEFT_TEST_DOCKER_HOST is not set (podman not installed?)"
sock=${WEFT_TEST_DOCKER_HOST:-}; sock=${sock#unix://}
if [ -z "$why" ] && ! curl -sf --unix-socket "$sock" http://d/libpod/_ping >/dev/null 2>&1; then
  why="the engine is not Podman (CDI device names need Podman's API)"
fi
[ -n "$why" ] || [ "$(id -u)" = 0 ] || why="not root: cannot write a CDI spec to $cdi_dir"
if [ -z "$why" ] && grep -rlsq 'nvidia.com/gpu' /etc/cdi "$cdi_dir" 2>/dev/null; then
  why="this machine has a real nvidia.com/gpu CDI spec: not shadowing it"
fi
if [ -n "$why" ]; then
  echo "# SKIPPING ALL: $why" >&2
  for i in $(seq $n_tests); do skip "$why"; done
  test_done
fi
image=${WEFT_TEST_DOCKER_IMAGE:-localhost/weft-test:busybox}
export DOCKER_HOST=$WEFT_TEST_DOCKER_HOST

mkdir -p "$cdi_dir"
spec=$cdi_dir/weft-test-t0083-$$.yaml
at_exit "rm -f '$spec'"
cat >"$spec" <<'YAML'
cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    env: ["WEFT_TEST_GPU_0=yes"]
- name: "1"
  containerEdits:
    env: ["WEFT_TEST_GPU_1=yes"]
- name: all
  containerEdits:
    env: ["WEFT_TEST_GPU_0=yes", "WEFT_TEST_GPU_1=yes"]
YAML

cat >"$WEFT_HOME/weft.yaml" <<YAML
containers:
  socket: $WEFT_TEST_DOCKER_HOST
  pull: never
  network: none
  labels: {suite: t0083}
YAML
mkdir -p loc/ops loc/jobs
# Each op writes the GPUs it sees to its output, through the mounted work
# folder: the rest of the step protocol works on a GPU step too.
seen='printf "\"gpus:%s\"" "$(env | sed -n "s/^WEFT_TEST_GPU_\([0-9]\)=yes/\1/p" | sort | tr -d "\n")" > "$WEFT_OUTPUTS/seen"'
cat >loc/ops/ops.yaml <<YAML
every:
  image: $image
  resources: {gpus: all}
  outputs: {seen: string}
  run: 'echo on the gpus; $seen'
two:
  image: $image
  resources: {gpus: 2}
  outputs: {seen: string}
  run: '$seen'
one:
  image: $image
  resources: {gpus: [1], memory: 64Mi}
  outputs: {seen: string}
  run: '$seen'
none:
  image: $image
  outputs: {seen: string}
  run: '$seen'
hog:
  image: $image
  resources: {gpus: [0], memory: 16Mi}
  run: x=\$(head -c 200000000 /dev/zero | tr '\0' a); echo survived
missing:
  image: $image
  resources: {gpus: [7]}
  run: echo ran without its gpu
YAML
printf 'ops:\n  a: every\n  b: two\n  c: one\n  d: none\n' >loc/jobs/gpus.yaml
printf 'ops:\n  x: hog\n' >loc/jobs/hog.yaml
printf 'ops:\n  x: missing\n' >loc/jobs/missing.yaml
ctr_of() { docker ps -a --filter "label=weft.run=$1" --format '{{.Names}}' 2>/dev/null; }

expect_exit -m "a job of GPU steps succeeds" 0 "$WEFT_BIN" launch -l loc gpus
run_g=$(run_id_of)
check_has "gpus: all got every device" "a output seen = \"gpus:01\"" "$out"
check_has "gpus: 2 got two" "b output seen = \"gpus:01\"" "$out"
check_has "gpus: [1] got that one" "c output seen = \"gpus:1\"" "$out"
check_has "a step without gpus got none" "d output seen = \"gpus:\"" "$out"
expect_output_contains -m "its logs stream as for any step" "on the gpus" "$WEFT_BIN" run logs "$run_g" a
check_eq "no container of the run is left" "" "$(ctr_of "$run_g")"

expect_exit -m "a GPU step past its memory limit fails" 1 "$WEFT_BIN" launch -l loc hog
run_h=$(run_id_of)
check_has "saying it ran out of memory" "killed: out of memory (limit 16 MiB)" "$out"
check_eq "and leaves no container" "" "$(ctr_of "$run_h")"

expect_exit -m "a GPU the engine does not have fails the step" 1 "$WEFT_BIN" launch -l loc missing
run_m=$(run_id_of)
check_has "naming the device" "nvidia.com/gpu=7" "$out"
check_eq "and it never ran without it" "" "$("$WEFT_BIN" run logs "$run_m" x 2>/dev/null | grep 'ran without')"
test_done
