#!/usr/bin/env bash
# t0066-run-queue-tags: a tag limit (database=prod, 1 at a time) with three
# detached prod runs and a dev run: a dequeuer (`weft dev`'s maintenance
# thread, then repeated `weft scheduler --once`) never runs two prod runs at
# once (checked from the runs' event timestamps), while the dev run, which
# the limit does not concern, is not held back; `weft run list` says why.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

mkdir -p loc/ops loc/jobs
printf 'nap:\n  run: sleep 0.3\n' >loc/ops/ops.yaml
printf 'name: load\nops:\n  nap: {uses: nap}\n' >loc/jobs/load.yaml
cat >"$WEFT_HOME/weft.yaml" <<'YAML'
run_queue:
  tag_limits:
    - {key: database, value: prod, limit: 1}
YAML

wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.05; done
  return 1
}
all_ended() { [ "$(store_query "select count(*) from runs where status not in ('success','failure','canceled')")" = 0 ]; }

# Never two prod runs between run_started and their end (ordered by start).
no_overlap() {
  store_query "select r.id, (select ts_ms from events where run_id=r.id and type='run_started'),
                 (select ts_ms from events where run_id=r.id and type in ('run_success','run_failure'))
               from runs r where r.tags like '%\"database\":\"prod\"%' order by 2" |
    awk -F'|' 'NR > 1 && $2 < end { bad = 1 } { end = $3 } END { exit bad }'
}

for i in 1 2 3; do
  expect_exit -m "detached prod run $i is queued" 0 \
    "$WEFT_BIN" launch load -l loc --detach --tag database=prod --tag n=$i
done
expect_exit -m "a detached dev run is queued" 0 "$WEFT_BIN" launch load -l loc --detach --tag database=dev
dev=$out
expect_exit -m "weft run list" 0 "$WEFT_BIN" run list
check_has "nothing runs yet: the first prod run is next in line" "next in line" "$out"
check_has "the other prod runs wait for the tag limit" \
  "waiting: 1/1 runs with tag database=prod in progress" "$out"
check_eq "two prod runs wait, two are next in line (a prod and the dev run)" "2|2" \
  "$(printf '%s\n' "$out" | awk '/waiting: 1\/1 runs with tag database=prod/ { w++ } /next in line/ { n++ } END { print w "|" n }')"

start_server -l loc || { not_ok "weft dev starts"; test_done; }
if wait_for 400 all_ended; then ok "the server's run queue runs them all"; else not_ok "the server's run queue runs them all"; fi
check_eq "all four succeeded" 4 "$(store_query "select count(*) from runs where status='success'")"
if no_overlap; then ok "never two database=prod runs at once"; else
  not_ok "never two database=prod runs at once" "$(store_query "select id, tags, started_ms, ended_ms from runs")"
fi
check_eq "the dev run was not held back behind the prod runs" 1 \
  "$(store_query "select started_ms < (select max(started_ms) from runs where tags like '%prod%') from runs where id='$dev'")"
stop_server

# The same with `weft scheduler --once` as the dequeuer, turn after turn.
for i in 4 5 6; do
  "$WEFT_BIN" launch load -l loc --detach --tag database=prod --tag n=$i >/dev/null 2>&1
done
expect_exit -m "weft run list while they wait" 0 "$WEFT_BIN" run list --status queued
check_has "queued prod runs say nothing blocks the first" "next in line" "$out"
turns=0
while ! all_ended && [ $turns -lt 200 ]; do
  "$WEFT_BIN" scheduler --once -l loc >/dev/null 2>&1
  if [ "$(store_query "select count(*) from runs where status='started' and tags like '%prod%'")" -gt 1 ]; then
    not_ok "at most one prod run at a time under scheduler --once"
  fi
  turns=$((turns + 1))
  sleep 0.05
done
if all_ended; then ok "repeated scheduler --once turns run them all"; else not_ok "repeated scheduler --once turns run them all"; fi
check_eq "all seven succeeded" 7 "$(store_query "select count(*) from runs where status='success'")"
if no_overlap; then ok "still never two database=prod runs at once"; else not_ok "still never two database=prod runs at once"; fi
test_done
