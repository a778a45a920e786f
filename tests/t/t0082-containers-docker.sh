#!/usr/bin/env bash
# t0082-containers-docker: the container tests again, on a real Docker Engine
# (dockerd: WEFT_TEST_DOCKERD_HOST, scripts/docker-service) instead of
# Podman's Docker API: the engine unit tests, the container executor's and
# t0080's whole end-to-end run. One TAP line each; a failure shows its output.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

n_tests=3
plan $n_tests
why=
[ -n "${WEFT_TEST_DOCKERD_HOST:-}" ] || why="no Docker engine: WEFT_TEST_DOCKERD_HOST is not set (docker.io not installed?)"
if [ -n "$why" ]; then
  echo "# SKIPPING ALL: $why" >&2
  for i in $(seq $n_tests); do skip "$why"; done
  test_done
fi
bin_dir=$(dirname "$WEFT_BIN")
on_docker() { # NAME COMMAND...: COMMAND against dockerd passes
  local name=$1 rc
  shift
  WEFT_TEST_DOCKER_HOST=$WEFT_TEST_DOCKERD_HOST "$@" >"$tmp/sub.out" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && ! grep -q '^not ok' "$tmp/sub.out"; then
    ok "$name"
  else
    not_ok "$name" "exit $rc; its output:" "$(grep -v '^ok ' "$tmp/sub.out" | tail -n 80)"
  fi
}
on_docker "the engine tests pass on Docker" "$bin_dir/test_containers_engine"
on_docker "the container executor's tests pass on Docker" "$bin_dir/test_exec_container"
on_docker "t0080's container steps pass on Docker" bash "$WEFT_SRC/tests/t/t0080-containers.sh"
test_done
