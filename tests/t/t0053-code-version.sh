#!/usr/bin/env bash
# t0053-code-version: each run records its location's code version (a
# content hash of the folder at launch): same tree, same version; a changed
# file, another; hidden files and __pycache__ do not count.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p "$tmp/loc/ops" "$tmp/loc/jobs" "$tmp/loc/scripts"
printf 'hi: {run: echo hi}\n' >"$tmp/loc/ops/hi.yaml"
printf 'graph:\n  hi: hi\n' >"$tmp/loc/jobs/j.yaml"
printf 'print(1)\n' >"$tmp/loc/scripts/s.py"

version_of() { # RUN_ID: the code version `weft run show` prints
  "$WEFT_BIN" run show "$1" | sed -n 's/^ *code version: *//p'
}

expect_exit -m "a first run succeeds" 0 "$WEFT_BIN" launch j -l "$tmp/loc"
v1=$(version_of "$(run_id_of)")
check_eq "weft run show prints a 16-hex-digit code version" 1 \
  "$(printf '%s\n' "$v1" | grep -cxE '[0-9a-f]{16}')"
expect_exit -m "a second run on the same tree succeeds" 0 "$WEFT_BIN" launch j -l "$tmp/loc"
check_eq "the same tree gives the same code version" "$v1" "$(version_of "$(run_id_of)")"

mkdir -p "$tmp/loc/__pycache__"
echo junk >"$tmp/loc/__pycache__/s.cpython.pyc"
echo junk >"$tmp/loc/.hidden"
expect_exit -m "a run after adding hidden files and __pycache__ succeeds" 0 "$WEFT_BIN" launch j -l "$tmp/loc"
check_eq "hidden files and __pycache__ do not change it" "$v1" "$(version_of "$(run_id_of)")"

printf 'print(2)\n' >"$tmp/loc/scripts/s.py"
expect_exit -m "a run after a script changed succeeds" 0 "$WEFT_BIN" launch j -l "$tmp/loc"
v2=$(version_of "$(run_id_of)")
check_eq "a changed file gives another code version" "different, 16" \
  "$([ "$v1" != "$v2" ] && echo different || echo same), ${#v2}"
test_done
