#!/usr/bin/env bash
# t0004-cli: the weft binary's global flags and command dispatch: --help,
# --version, unknown commands, and --help on every command.
set -u
: "${WEFT_BIN:?set WEFT_BIN to the weft binary}" "${WEFT_SRC:?set WEFT_SRC to the repo root}"
tmp=$(mktemp -d /tmp/weft-t0004.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)) failed=$((failed + 1))
  echo "not ok $n - $1"
  shift
  printf '%s\n' "$@" | sed 's/^/#   /'
}
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }
check_rc() {
  if [ "$rc" -eq "$2" ]; then ok "$1"; else not_ok "$1" "exit $rc, expected $2" "stdout: $out" "stderr: $err"; fi
}
check_has() {
  case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1" "missing: $2" "in: $3" ;; esac
}

version=$(sed -n 's/^#define WEFT_VERSION "\(.*\)"$/\1/p' "$WEFT_SRC/include/weft.h")

run "$WEFT_BIN" --version
check_rc "--version exits 0" 0
check_has "--version prints the version of weft.h" "weft $version" "$out"

run "$WEFT_BIN" --help
check_rc "--help exits 0" 0
check_has "--help lists validate" "validate" "$out"
check_has "--help lists job" "job" "$out"

run "$WEFT_BIN"
check_rc "no command is a usage error" 2
check_has "and prints the usage to stderr" "usage: weft" "$err"

run "$WEFT_BIN" frobnicate
check_rc "an unknown command is a usage error" 2
check_has "the command is named" "'frobnicate' is not a weft command" "$err"

for cmd in validate job; do
  run "$WEFT_BIN" "$cmd" -h
  check_rc "weft $cmd -h exits 0" 0
  check_has "weft $cmd -h prints its usage" "usage: weft $cmd" "$out"
done

echo "1..$n"
[ "$failed" -eq 0 ]
