#!/usr/bin/env bash
# t0091-files-env: what weft keeps and passes on: a new $WEFT_HOME is its
# owner's only (0700, also from `weft instance init`), the SQLite database
# and its WAL files are 0600 (an older 0644 one is closed to others); steps
# do not inherit weft's own credentials (AWS keys, PGPASSWORD, PGPASSFILE,
# WEFT_SECRET_KEY, the broker URL and its signing key file) but get one
# their op asks for with env: {NAME: {from_env: VAR}}; a bad from_env is an
# error at line:col.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p "$tmp/loc/ops" "$tmp/loc/jobs"
cat >"$tmp/loc/ops/ops.yaml" <<'EOF'
show:
  run: env | sort
ask:
  env:
    AWS_ACCESS_KEY_ID: {from_env: AWS_ACCESS_KEY_ID}
    PG_COPY: {from_env: PGPASSWORD}
    NOT_THERE: {from_env: WEFT_T0091_UNSET}
    PLAIN: plain-value
  run: env | sort
EOF
printf 'graph:\n  show: show\n  ask: ask\n' >"$tmp/loc/jobs/envs.yaml"

# -- a new home, its database ----------------------------------------------------------------
export WEFT_HOME=$tmp/fresh/home
creds=(AWS_ACCESS_KEY_ID=AKIAT0091 AWS_SECRET_ACCESS_KEY=t0091-secret-key
  AWS_SESSION_TOKEN=t0091-session PGPASSWORD=t0091-pgpw WEFT_SECRET_KEY=t0091-weftkey
  WEFT_BROKER_URL=amqp://u:t0091-amqp@127.0.0.1:1/ PGPASSFILE=/t0091-pgpass
  WEFT_QUEUE_SIGNING_KEY_FILE=/t0091-queue.key AWS_REGION=eu-west-1 T0091_MINE=kept)
expect_exit -m "a run with credentials in weft's environment succeeds" 0 \
  env "${creds[@]}" "$WEFT_BIN" launch envs -l "$tmp/loc"
id=$(run_id_of)
check_eq "a new WEFT_HOME is 0700" 700 "$(stat -c %a "$WEFT_HOME")"
check_eq "its database is 0600" 600 "$(stat -c %a "$WEFT_HOME/weft.db")"
for f in "$WEFT_HOME/weft.db-wal" "$WEFT_HOME/weft.db-shm"; do
  [ -e "$f" ] && check_eq "$(basename "$f") is 0600" 600 "$(stat -c %a "$f")"
done

expect_exit -m "the step that asks for nothing ran" 0 "$WEFT_BIN" run logs "$id" show
leaked=
for v in AKIAT0091 t0091-secret-key t0091-session t0091-pgpw t0091-weftkey t0091-amqp \
  t0091-pgpass t0091-queue.key; do
  case "$out" in *"$v"*) leaked="$leaked $v" ;; esac
done
check_eq "it inherited none of weft's credentials" "" "$leaked"
check_has "but the rest of the environment (T0091_MINE)" "T0091_MINE=kept" "$out"
check_has "AWS_REGION is no credential" "AWS_REGION=eu-west-1" "$out"

expect_exit -m "the step that asks ran" 0 "$WEFT_BIN" run logs "$id" ask
check_has "it got AWS_ACCESS_KEY_ID through from_env" "AWS_ACCESS_KEY_ID=AKIAT0091" "$out"
check_has "and PGPASSWORD under the name it chose" "PG_COPY=t0091-pgpw" "$out"
check_has "and its plain env" "PLAIN=plain-value" "$out"
case "$out" in
  *t0091-secret-key* | *PGPASSWORD=* | *NOT_THERE*) not_ok "nothing it did not ask for, nothing unset" "$out" ;;
  *) ok "nothing it did not ask for, nothing unset" ;;
esac

# -- homes made by instance init; an older database -------------------------------------------
export WEFT_HOME=$tmp/inited/home
expect_exit -m "weft instance init makes a new home" 0 "$WEFT_BIN" instance init
check_eq "which is 0700" 700 "$(stat -c %a "$WEFT_HOME")"

export WEFT_HOME=$tmp/old
mkdir -p "$WEFT_HOME"
chmod 755 "$WEFT_HOME"
expect_exit -m "a run in an existing home" 0 "$WEFT_BIN" launch envs -l "$tmp/loc"
check_eq "an existing home keeps its mode" 755 "$(stat -c %a "$WEFT_HOME")"
check_eq "its new database is 0600" 600 "$(stat -c %a "$WEFT_HOME/weft.db")"
chmod 644 "$WEFT_HOME/weft.db"
expect_exit -m "weft run list opens a database others could read" 0 "$WEFT_BIN" run list
check_eq "which is closed to them" 600 "$(stat -c %a "$WEFT_HOME/weft.db")"

# -- from_env mistakes ---------------------------------------------------------------------
mkdir -p "$tmp/bad/ops" "$tmp/bad/jobs"
cat >"$tmp/bad/ops/ops.yaml" <<'EOF'
a:
  env:
    X: {from_env: "not a name"}
    Y: {secrets: token}
    Z: [1, 2]
  run: "true"
EOF
printf 'graph:\n  a: a\n' >"$tmp/bad/jobs/j.yaml"
expect_exit -m "weft validate refuses bad env values" 1 "$WEFT_BIN" validate "$tmp/bad"
check_has "a bad from_env at its line:col" \
  "ops/ops.yaml:3:19: error: op 'a': env 'X': from_env must name one of weft's environment variables" "$err"
check_has "an unknown key in an env value" "ops/ops.yaml:4:9: error: unknown key 'secrets' in an env value" "$err"
check_has "a list" "ops/ops.yaml:5:8: error: op 'a': env 'Z' must be a scalar value, {from_env: VAR}, {secret: NAME} or {variable: NAME}, got a list" "$err"
test_done
