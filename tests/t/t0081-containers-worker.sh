#!/usr/bin/env bash
# t0081-containers-worker: a container step on a `weft worker`: the step's
# image (chosen by the op, or the run config) travels in the message, the
# worker runs it on its engine (WEFT_TEST_DOCKER_HOST), outputs and events
# come back, the run shows the digest, and no container is left.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

n_tests=8
if [ -z "${WEFT_TEST_DOCKER_HOST:-}" ]; then
  why="no container engine: WEFT_TEST_DOCKER_HOST is not set (podman not installed?)"
  echo "# SKIPPING ALL: $why" >&2
  for i in $(seq $n_tests); do skip "$why"; done
  test_done
fi
image=${WEFT_TEST_DOCKER_IMAGE:-localhost/weft-test:busybox}
amqp_setup
queue_instance
cat >>"$WEFT_HOME/weft.yaml" <<YAML
containers:
  socket: $WEFT_TEST_DOCKER_HOST
  pull: never
  network: none
YAML
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
make:
  queue: $qd
  image: $image
  outputs: {result: int}
  run: |
    echo "made in \$(pwd)"
    echo '{"type":"log","level":"info","msg":"from the worker container"}' >&3
    echo 20 > "\$WEFT_OUTPUTS/result"
plus:
  queue: $qd
  inputs: {n: int}
  outputs: {result: int}
  run: echo \$(( \$(cat "\$WEFT_INPUTS/n") + 1 )) > "\$WEFT_OUTPUTS/result"
YAML
cat >loc/jobs/w.yaml <<'YAML'
ops:
  a: make
  b: {uses: plus, inputs: {n: a}}
YAML
# b names no image: the run config gives it one for this run only.
printf 'ops:\n  b:\n    image: %s\n' "$image" >rc.yaml

start_worker w1 "$qd"
if wait_registered 1; then ok "the worker registers"; else not_ok "the worker registers" "$(cat "$tmp/w1.log")"; fi
expect_exit -m "a job of container steps on a worker succeeds" 0 "$WEFT_BIN" launch -l loc w -c rc.yaml
run_w=$(run_id_of)
check_has "the event came back" "from the worker container" "$out"
check_has "b got a's output, in its run-config image" "b output result = 21" "$out"
expect_output_contains -m "a ran in the container" "made in /weft/code" "$WEFT_BIN" run logs "$run_w" a
expect_output_contains -m "run show names both steps' image" "b  1  $image" "$WEFT_BIN" run show "$run_w"
check_digest "with the digest" b "$image" "$out"
check_eq "no container of the run is left" "" \
  "$(DOCKER_HOST=$WEFT_TEST_DOCKER_HOST docker ps -a --filter "label=weft.run=$run_w" --format '{{.Names}}' 2>&1)"
test_done
