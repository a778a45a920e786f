# shellcheck shell=bash disable=SC2016,SC2034
# lib.sh: shared helpers of the end-to-end scripts tests/t/tNNNN-*.sh (git's
# test-lib.sh in small). Each script starts with
#
#   set -u
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
#
# and ends with `test_done` (a script that exits without reaching it fails).
# Sourcing it:
#   - checks WEFT_BIN (the weft binary) and WEFT_SRC (the repo root), set by
#     CTest; $examples is $WEFT_SRC/examples;
#   - makes $tmp, a scratch folder of this script only, removed on exit
#     (kept when WEFT_TEST_KEEP is set, to look at after a failure), and
#     makes it the working directory;
#   - exports WEFT_HOME=$tmp/home, a fresh empty instance folder, so runs,
#     the store and artifacts are never shared between scripts (or with the
#     user's own ./.weft), and clears other WEFT_* step variables that could
#     leak in from the caller's environment.
#
# Output is TAP: `ok N - name`, `not ok N - name` with `#` detail lines,
# `ok N # skip why`, and the plan `1..N` (first if `plan N` was called,
# else printed by test_done). Do not use `set -e`: a failed check returns 1
# so it can be chained (`expect_exit 0 ... && check_has ...`).

: "${WEFT_BIN:?set WEFT_BIN to the weft binary}" "${WEFT_SRC:?set WEFT_SRC to the repo root}"

test_name=$(basename "$0" .sh)
examples=$WEFT_SRC/examples

# -- scratch folder, WEFT_HOME and cleanup -------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-$test_name.XXXXXX") || {
  echo "Bail out! cannot create a temp folder"
  exit 1
}
export WEFT_HOME=$tmp/home
mkdir "$WEFT_HOME"
# Commands that open no instance cache .py descriptions in the user's cache
# folder: a test's go to its own scratch folder instead.
export WEFT_PYTHON_CACHE=$tmp/python-cache
unset WEFT_RUN_ID WEFT_JOB WEFT_OP WEFT_ATTEMPT WEFT_CONFIG WEFT_INPUTS \
  WEFT_OUTPUTS WEFT_EVENTS

_cleanups=() _done=
# at_exit CMD: runs the shell command CMD on exit, before $tmp is removed
# (last registered first), e.g. at_exit "kill $server_pid".
at_exit() { _cleanups=("$1" ${_cleanups[@]+"${_cleanups[@]}"}); }
_lib_exit() {
  local rc=$? c
  if [ -z "$_done" ]; then
    # An early `exit` or a missing test_done: never report success.
    echo "# $test_name stopped before test_done, after $n tests (exit $rc)"
    [ "$rc" -ne 0 ] || rc=1
  fi
  for c in ${_cleanups[@]+"${_cleanups[@]}"}; do eval "$c" >/dev/null 2>&1; done
  cd / || true
  if [ -n "${WEFT_TEST_KEEP:-}" ]; then
    echo "# kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap _lib_exit EXIT
cd "$tmp" || exit 1

# -- TAP counting ----------------------------------------------------------------------

n=0 failed=0 planned=
# plan N: announces N tests up front; test_done then checks that N ran.
plan() { planned=$1; echo "1..$1"; }
# ok NAME
ok() { n=$((n + 1)); echo "ok $n - $1"; }
# not_ok NAME [DETAIL...]: each DETAIL is printed as a `#` comment.
not_ok() {
  n=$((n + 1)) failed=$((failed + 1))
  echo "not ok $n - $1"
  shift
  [ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/#   /'
  return 1
}
# skip WHY: a test that could not run here.
skip() { n=$((n + 1)); echo "ok $n # skip $1"; }
# test_done: prints the plan (unless given up front) and exits 0 when every
# test passed and, with a plan, as many ran as planned. (`done` itself is a
# shell keyword.)
test_done() {
  _done=1
  if [ -z "$planned" ]; then
    echo "1..$n"
  elif [ "$planned" -ne "$n" ]; then
    echo "# planned $planned tests but ran $n"
    exit 1
  fi
  [ "$failed" -eq 0 ] || echo "# $failed of $n failed"
  [ "$failed" -eq 0 ]
  exit
}

# -- running commands ---------------------------------------------------------------------

# run CMD...: runs in the current folder; sets rc, out and err and leaves
# stdout and stderr in $tmp/out and $tmp/err.
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# The command as a test name: "weft validate --help" rather than the path.
_cmd_name() {
  local s=$* bin=$WEFT_BIN
  printf '%s' "${s//"$bin"/weft}"
}

# -- checks ------------------------------------------------------------------------------

# check_rc NAME CODE: the last run exited with CODE.
check_rc() {
  if [ "$rc" -eq "$2" ]; then ok "$1"; else not_ok "$1" "exit $rc, expected $2" "stdout: $out" "stderr: $err"; fi
}
# check_eq NAME EXPECTED ACTUAL
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected:" "$2" "got:" "$3"; fi
}
# check_has NAME NEEDLE HAYSTACK
check_has() {
  case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1" "missing: $2" "in: $3" ;; esac
}
# check_py NAME SCRIPT: runs python3 SCRIPT with $tmp/out (the last run's
# stdout) as argv[1]; the script prints "ok" or what is wrong.
# check_digest NAME STEP IMAGE TEXT: `weft run show` TEXT records the digest
# STEP's first attempt ran: the registry's (IMAGE@sha256:..., which Podman
# also gives an imported image) or, for a local image Docker knows by its id
# only, that id (sha256:...). Either pins the very image on a re-execution.
check_digest() {
  local d
  d=$(printf '%s\n' "$4" | sed -n "s|^  $2  1  $3  \\([^ ]*\\) .*|\\1|p")
  if printf '%s' "$d" | grep -Eqx '([^ ]+@)?sha256:[0-9a-f]{64}'; then ok "$1"
  else not_ok "$1" "digest of $2: '$d' in:" "$4"; fi
}
check_py() {
  local verdict
  verdict=$(python3 -c "$2" "$tmp/out" 2>&1)
  check_eq "$1" ok "$verdict"
}

# expect_exit [-m NAME] CODE CMD...: runs CMD (see run) and checks its exit
# code; out, err and rc stay set for further checks. NAME defaults to
# "CMD exits CODE".
expect_exit() {
  local name=
  if [ "$1" = -m ]; then name=$2; shift 2; fi
  local code=$1
  shift
  run "$@"
  check_rc "${name:-$(_cmd_name "$@") exits $code}" "$code"
}
# expect_output_contains [-m NAME] NEEDLE CMD...: runs CMD and checks that
# its stdout contains NEEDLE (whatever the exit code: pair it with
# expect_exit or check_rc when that matters).
expect_output_contains() {
  local name=
  if [ "$1" = -m ]; then name=$2; shift 2; fi
  local needle=$1
  shift
  run "$@"
  check_has "${name:-$(_cmd_name "$@") prints '$needle'}" "$needle" "$out"
}
# expect_stderr_contains [-m NAME] NEEDLE CMD...: the same for stderr.
expect_stderr_contains() {
  local name=
  if [ "$1" = -m ]; then name=$2; shift 2; fi
  local needle=$1
  shift
  run "$@"
  check_has "${name:-$(_cmd_name "$@") reports '$needle'}" "$needle" "$err"
}

# -- runs ----------------------------------------------------------------------------------

# pg_own_database: when WEFT_TEST_PG_URL names a server (scripts/test starts
# one), creates a database of this script's own, dropped on exit, and sets
# pg_url to it, so no other script's rows are in the way; else pg_url is
# empty (the caller then stays on SQLite or skips).
pg_own_database() {
  pg_url=
  [ -n "${WEFT_TEST_PG_URL:-}" ] || return 0
  local db=${test_name//[^a-zA-Z0-9]/_}_$$
  psql -q "$WEFT_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null || {
    not_ok "create database $db"
    test_done
  }
  pg_url=${WEFT_TEST_PG_URL%/*}/$db
  at_exit "psql -q '$WEFT_TEST_PG_URL' -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' >/dev/null 2>&1"
}

# store_query SQL: prints the rows of a query on $WEFT_HOME's SQLite store,
# fields joined by '|', read-only: checks what is durable rather than what
# a command printed.
store_query() {
  python3 -c 'import sqlite3,sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for row in c.execute(sys.argv[2]): print("|".join("" if v is None else str(v) for v in row))' \
    "$WEFT_HOME/weft.db" "$1"
}
# run_id_of: the first run id the last run's stdout names ("run 0123abcd4567 ...").
run_id_of() { sed -n 's/.*run \([0-9a-f]\{12\}\) .*/\1/p' "$tmp/out" | head -n 1; }

# -- processes -------------------------------------------------------------------------------

# mark_sleeps DIR: makes every `sleep N` in DIR's YAML files `sleep N.PID`,
# unique to this script, so a check for leftover step processes never sees
# (or kills) another test's running at the same time.
mark_sleeps() {
  find "$1" -name '*.yaml' -exec sed -i -E "s/sleep ([0-9]+)([^.0-9]|\$)/sleep \\1.$$\\2/g" {} +
}
# survivors PATTERN: prints the pids still matching PATTERN (pgrep -f) after
# waiting up to 3 s for them to go: a killed process can linger briefly on a
# loaded machine. Prints nothing when none is left.
survivors() {
  local i
  for i in $(seq 30); do
    pgrep -f "$1" >/dev/null || return 0
    sleep 0.1
  done
  pgrep -f "$1" | tr '\n' ' '
}

# -- the browser tests ---------------------------------------------------------------

# tests/browser holds the browser tests and their playwright-core; $chromium
# is Debian's chromium (CHROMIUM overrides it).
browser_dir=$WEFT_SRC/tests/browser
chromium=${CHROMIUM:-/usr/bin/chromium}
# browser_missing: prints why a browser test cannot run here (node, chromium
# or playwright-core missing), nothing when it can: why=$(browser_missing).
browser_missing() {
  command -v node >/dev/null 2>&1 || { echo "node is not installed"; return; }
  [ -x "$chromium" ] || { echo "no chromium at $chromium"; return; }
  [ -d "$browser_dir/node_modules/playwright-core" ] ||
    echo "playwright-core is not installed (scripts/test installs it)"
}
# browser_report RC [CONTEXT...]: a browser script's verdict as TAP. The
# scripts print "PASS name", "FAIL name<TAB>why" and "SKIP name" (after a
# failure) into $tmp/ui.out; RC is the script's exit status. CONTEXT lines
# (a screenshot's path, the server's last log lines) go with each failure.
# A script that died before it reported a failure is a failure too.
browser_report() {
  local rc=$1 line rest
  shift
  while IFS= read -r line; do
    case "$line" in
      "PASS "*) ok "${line#PASS }" ;;
      "FAIL "*) rest=${line#FAIL }; not_ok "${rest%%$'\t'*}" "${rest#*$'\t'}" "$@" ;;
      "SKIP "*) skip "${line#SKIP } (an earlier check failed)" ;;
    esac
  done <"$tmp/ui.out"
  if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/ui.out"; then
    not_ok "the browser check ran to its end (exit $rc)" "$(tail -n 20 "$tmp/ui.err")"
  elif [ ! -s "$tmp/ui.out" ]; then
    not_ok "the browser check printed nothing" "$(tail -n 20 "$tmp/ui.err")"
  fi
}
# free_port: a TCP port free on 127.0.0.1 now (the kernel's pick).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
