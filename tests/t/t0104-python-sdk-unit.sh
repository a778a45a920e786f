#!/usr/bin/env bash
# t0104-python-sdk-unit: the Python SDK's unit tests (tests/python, stdlib
# unittest) under python3 on PATH and Debian's /usr/bin/python3, as TAP.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

run_suite() { # PYTHON LABEL
  local py=$1 label=$2 out
  if ! command -v "$py" >/dev/null 2>&1; then
    skip "$label: $py not found"
    return
  fi
  out=$(cd "$WEFT_SRC" && PYTHONDONTWRITEBYTECODE=1 "$py" -m unittest -v tests/python/test_weft_sdk.py 2>&1)
  local rc=$?
  # One TAP line per unittest case: "test_x (module.Class.test_x) ... ok"
  while IFS= read -r line; do
    case $line in
      *" ... ok") ok "$label: ${line%% ... ok}" ;;
      *" ... skipped"*) skip "$label: ${line%% ... *}" ;;
      *" ... FAIL" | *" ... ERROR") not_ok "$label: ${line%% ... *}" ;;
    esac
  done <<<"$out"
  [ "$rc" -eq 0 ] && ok "$label: unittest exits 0" ||
    not_ok "$label: unittest exits 0" "$(printf '%s\n' "$out" | tail -40)"
}

run_suite python3 python3
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
  run_suite /usr/bin/python3 debian-python3
fi
test_done
