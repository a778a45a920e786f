#!/usr/bin/env bash
# t0014-postgres-serial: an instance on PostgreSQL (weft.yaml) runs jobs and
# survives a server restart mid-run with every event stored exactly once.
# Needs WEFT_TEST_PG_URL and WEFT_TEST_PG_CTL (scripts/test sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

if [ -z "${WEFT_TEST_PG_URL:-}" ] || [ -z "${WEFT_TEST_PG_CTL:-}" ]; then
  skip "WEFT_TEST_PG_URL / WEFT_TEST_PG_CTL not set (scripts/test starts a server)"
  test_done
fi
# A database of this script's own, so nothing else's rows are in the way.
pg_own_database
export T0014_PG_URL=$pg_url
printf 'storage:\n  postgres:\n    url: ${T0014_PG_URL}\n' > "$WEFT_HOME/weft.yaml"

pg_query() { psql -qtAX "$pg_url" -c "$1"; }

mkdir -p loc/ops loc/jobs
cat > loc/ops/o.yaml <<'YAML'
nap:
  outputs: {result: int}
  run: sleep 0.4; echo "$WEFT_ATTEMPT" > "$WEFT_OUTPUTS/result"
YAML
cat > loc/jobs/chain.yaml <<'YAML'
ops:
  s1: nap
  s2: {uses: nap, after: [s1]}
  s3: {uses: nap, after: [s2]}
  s4: {uses: nap, after: [s3]}
  s5: {uses: nap, after: [s4]}
  s6: {uses: nap, after: [s5]}
YAML

expect_output_contains -m "instance show names the postgres storage" "storage:    postgresql://" \
  "$WEFT_BIN" instance show
expect_exit -m "a job runs on PostgreSQL storage" 0 "$WEFT_BIN" launch chain -l loc --quiet
id=$(run_id_of)
check_eq "the run is stored in PostgreSQL" success "$(pg_query "SELECT status FROM runs WHERE id='$id'")"
expect_output_contains -m "another weft process sees it" "$id" "$WEFT_BIN" run list

# -- restart the server in the middle of a run ---------------------------------------------
"$WEFT_BIN" launch chain -l loc --quiet >"$tmp/restart.out" 2>&1 &
launcher=$!
sleep 1
$WEFT_TEST_PG_CTL >/dev/null 2>&1 && ok "PostgreSQL restarted mid-run" || not_ok "restart failed"
wait "$launcher"
check_eq "the run still succeeds" 0 "$?"
id=$(sed -n 's/^run \([0-9a-f]\{12\}\) .*/\1/p' "$tmp/restart.out")
check_has "it says so" "success" "$(cat "$tmp/restart.out")"
check_eq "every step started and succeeded once" "6|6|6" \
  "$(pg_query "SELECT sum((type='step_started')::int), sum((type='step_succeeded')::int), sum((type='step_output')::int) FROM events WHERE run_id='$id'")"
check_eq "no event is stored twice" 0 \
  "$(pg_query "SELECT count(*) FROM (SELECT step, type, payload FROM events WHERE run_id='$id' GROUP BY 1,2,3 HAVING count(*) > 1) d")"
check_eq "one run_success" 1 "$(pg_query "SELECT count(*) FROM events WHERE run_id='$id' AND type='run_success'")"
check_eq "event ids increase with time" 0 \
  "$(pg_query "SELECT count(*) FROM (SELECT ts_ms < lag(ts_ms) OVER (ORDER BY id) AS back FROM events WHERE run_id='$id') t WHERE back")"

# -- the server on the same storage -------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1
start_server -l loc && ok "weft dev starts on PostgreSQL storage" || not_ok "weft dev did not start"
api_run=$(python3 -c 'import json,sys,urllib.request
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/api/v1/jobs/loc/chain/launch",
    data=b"{}", headers={"Content-Type": "application/json"}))
print(json.load(r)["run_id"])' "$url" 2>/dev/null)
check_eq "the API launches a run" 12 "${#api_run}"
for _ in $(seq 100); do
  [ "$(pg_query "SELECT status FROM runs WHERE id='$api_run'")" = success ] && break
  sleep 0.1
done
check_eq "the run launched through the API succeeds" success \
  "$(pg_query "SELECT status FROM runs WHERE id='$api_run'")"
expect_output_contains -m "the API lists the runs stored in PostgreSQL" "\"$id\"" \
  python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "$url/api/v1/runs?job=chain"
stop_server

# -- bad configuration is reported, nothing opened ----------------------------------------
printf 'storage:\n  postgres:\n    url: mysql://nope\n' > "$WEFT_HOME/weft.yaml"
expect_exit -m "a bad storage URL is an error" 1 "$WEFT_BIN" run list
check_has "naming file, line and column" "weft.yaml:3:10: error: storage.postgres.url must look like" "$err"

test_done
