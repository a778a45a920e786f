#!/usr/bin/env bash
# t0128-coordinator-notify: a coordinator service on PostgreSQL waits for
# hand-overs on LISTEN/NOTIFY instead of reading its inbox every 5 ms: idle,
# it scans the key/value table about once a second (it used to be two
# hundred times), and the runs launched meanwhile are taken because the
# hand-over rang (its heartbeat counts them). Skipped without PostgreSQL.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

pg_own_database
if [ -z "$pg_url" ]; then
  plan 1
  skip "PostgreSQL: WEFT_TEST_PG_URL is not set"
  test_done
fi
printf 'storage: {postgres: {url: "%s"}}\n' "$pg_url" >"$WEFT_HOME/weft.yaml"
mkdir -p loc/ops loc/jobs
printf 'noop: {run: "true"}\n' >loc/ops/ops.yaml
printf 'name: one\nops:\n  x: {uses: noop}\n' >loc/jobs/one.yaml

pgq() { psql -qAtX "$pg_url" -c "$1"; }
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}
heartbeat() { pgq "select value from kv where key like 'coordinator/service/%'"; }
service_up() { [ -n "$(heartbeat)" ]; }
# Index and table scans of kv so far (the statistics lag a second or so).
kv_scans() { pgq "select coalesce(idx_scan, 0) + coalesce(seq_scan, 0) from pg_stat_user_tables where relname = 'kv'"; }

expect_exit -m "a first launch makes the instance" 0 "$WEFT_BIN" launch one -l loc
"$WEFT_BIN" coordinator >coord.out 2>&1 &
coord=$!
at_exit "kill $coord 2>/dev/null; wait $coord 2>/dev/null"
if wait_for 300 service_up; then ok "the coordinator heartbeats in the store"
else not_ok "the coordinator heartbeats in the store" "$(cat coord.out)"; fi
check_has "its heartbeat says it waits on notifications" '"inbox":"notify"' "$(heartbeat)"

# Idle for 6 s: a poll every 5 ms would be over a thousand scans.
sleep 2
before=$(kv_scans)
sleep 6
after=$(kv_scans)
scans=$((after - before))
if [ "$scans" -lt 120 ]; then ok "idle, it scans the key/value table rarely ($scans in 6 s)"
else not_ok "idle, it scans the key/value table rarely" "$scans scans in 6 s"; fi

# Five launches, a second apart: each is handed over, rings, and is taken.
for i in 1 2 3 4 5; do
  "$WEFT_BIN" launch one -l loc >"launch$i.out" 2>&1 || not_ok "launch $i" "$(cat "launch$i.out")"
  sleep 0.5
done
svc=$(pgq "select substr(key, length('coordinator/service/') + 1) from kv where key like 'coordinator/service/%'")
check_eq "the five runs succeeded, coordinated by the service" 5 \
  "$(pgq "select count(*) from runs where status = 'success' and coordinator = '$svc'")"
sleep 1.2 # the next heartbeat
rung=$(heartbeat | python3 -c 'import json,sys; print(json.load(sys.stdin)["taken_on_ring"])')
# (a ring delayed past the once-a-second read on a loaded machine is
# taken by that read instead)
if [ "$rung" -ge 3 ]; then ok "the runs were taken when their hand-over rang ($rung of 5)"
else not_ok "the runs were taken when their hand-over rang" "taken_on_ring=$rung; $(heartbeat)"; fi

kill -TERM "$coord"
wait "$coord"
check_eq "the service exits 0 on SIGTERM" 0 "$?"
check_eq "no run is left unfinished" 0 \
  "$(pgq "select count(*) from runs where status not in ('success','failure','canceled')")"
test_done
