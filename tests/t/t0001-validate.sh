#!/usr/bin/env bash
# t0001-validate: `weft validate` on the examples (valid), on the broken
# location (every expected file:line:col error, exit 1) and its usage errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

# -- the examples are valid ---------------------------------------------------
cd "$examples" || exit 1
run "$WEFT_BIN" validate
check_rc "examples/workspace.yaml validates" 0
check_eq "summary counts the example locations, jobs and ops" \
  "ok: 5 locations, 10 jobs, 31 ops" "$out"
check_eq "nothing on stderr when valid" "" "$err"

run "$WEFT_BIN" validate arithmetic etl
check_rc "locations given as arguments validate" 0
check_eq "summary of two locations" "ok: 2 locations, 2 jobs, 8 ops" "$out"

cd "$tmp" || exit 1
run "$WEFT_BIN" validate -w "$examples/workspace.yaml"
check_rc "-w names a workspace file" 0
run "$WEFT_BIN" validate --workspace="$examples/workspace.yaml"
check_rc "--workspace=FILE works too" 0
run "$WEFT_BIN" validate "$examples/fanout"
check_rc "absolute location path" 0
check_eq "summary of one location" "ok: 1 location, 2 jobs, 6 ops" "$out"

# -- the broken location: exactly the expected errors ---------------------------
cd "$examples" || exit 1
run "$WEFT_BIN" validate broken
check_rc "broken location exits 1" 1
expected=$(cat <<'EXPECTED'
broken/jobs/cycle.yaml:4:3: error: cycle in job 'cycle': left -> right -> left
broken/jobs/syntax.yaml:4:6: error: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping at line 3, column 8)
broken/jobs/type_mismatch.yaml:7:12: error: type mismatch: output 'hello.result' is string but input 'num' of op 'twice' is int
broken/jobs/unknown_op.yaml:5:11: error: op 'second' uses unknown op definition 'doubel' (did you mean 'double'?)
broken/ops/ops.yaml:37:3: error: unknown key 'retires' in op 'flaky' (did you mean 'retries'?)
5 errors in 5 files
EXPECTED
)
check_eq "broken location: every error, in file order" "$expected" "$err"
check_eq "nothing on stdout when invalid" "" "$out"

# Each error is on the line and column of the mistake it names.
grep -n 'retires' broken/ops/ops.yaml | cut -d: -f1 > "$tmp/line"
check_has "typo is reported at its line" "broken/ops/ops.yaml:$(cat "$tmp/line"):3:" "$err"
grep -n 'doubel' broken/jobs/unknown_op.yaml | cut -d: -f1 > "$tmp/line"
check_has "unknown op is reported at its line" "broken/jobs/unknown_op.yaml:$(cat "$tmp/line"):" "$err"

# A workspace naming the broken location reports the same errors.
printf 'locations:\n  - %s/broken\n' "$examples" > "$tmp/ws.yaml"
cd "$tmp" || exit 1
run "$WEFT_BIN" validate -w ws.yaml
check_rc "workspace with the broken location exits 1" 1
check_has "its errors name the files" "broken/jobs/cycle.yaml:" "$err"

# -- workspace file errors --------------------------------------------------------
printf 'locations:\n  - %s/arithmetic\n  - nowhere\n' "$examples" > "$tmp/missing.yaml"
run "$WEFT_BIN" validate -w missing.yaml
check_rc "a workspace listing a missing folder exits 1" 1
check_has "the missing folder is named" "nowhere" "$err"

printf 'locatons:\n  - %s/arithmetic\n' "$examples" > "$tmp/typo.yaml"
run "$WEFT_BIN" validate -w typo.yaml
check_rc "a workspace with an unknown key exits 1" 1
check_has "the unknown key is reported with a position" "typo.yaml:1:1: error:" "$err"

run "$WEFT_BIN" validate "$tmp/does-not-exist"
check_rc "a location folder that does not exist exits 1" 1
check_has "and is named" "does-not-exist" "$err"

# -- usage errors -------------------------------------------------------------------
mkdir -p "$tmp/empty" && cd "$tmp/empty" || exit 1
run "$WEFT_BIN" validate
check_rc "no location and no workspace.yaml is a usage error" 2
check_has "it says what to do" "no locations: pass a folder or create workspace.yaml" "$err"

run "$WEFT_BIN" validate --frobnicate
check_rc "unknown flag exits 2" 2
check_has "the unknown flag is named" "unknown option '--frobnicate'" "$err"

run "$WEFT_BIN" validate -w
check_rc "-w without a value exits 2" 2
check_has "the flag is named" "option '-w' needs a value" "$err"

run "$WEFT_BIN" validate -w "$examples/workspace.yaml" "$examples/etl"
check_rc "-w together with folders exits 2" 2

run "$WEFT_BIN" validate --help
check_rc "--help exits 0" 0
check_has "--help shows the usage" "usage: weft validate [-w FILE] [LOCATION...]" "$out"

test_done
