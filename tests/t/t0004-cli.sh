#!/usr/bin/env bash
# t0004-cli: the weft binary's global flags and command dispatch: --help,
# --version, unknown commands, and --help on every command.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

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

test_done
