#!/usr/bin/env bash
# t0105-retention: weft.yaml's retention: policy. Mistakes are reported at
# file:line:col; `weft instance purge --dry-run` says exactly what `purge`
# then removes (runs per status, events, steps, log files, artifacts);
# pinned runs, the newest keep_last runs of a job, parents of re-executions
# and running runs are kept; kept runs lose their debug events, logs and
# artifacts once old enough; materializations stay as summary rows;
# gc-code can then drop snapshots only purged runs used; `weft run delete`
# follows the same rules; the scheduler applies the policy by itself; and
# with WEFT_TEST_S3_URL the artifacts go from the S3 bucket too.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<'YAML'
make:
  outputs:
    table: path
    summary: dict
  run: |
    echo '{"type":"log","level":"debug","msg":"rows counted"}' >&$WEFT_EVENTS
    echo '{"type":"log","level":"info","msg":"writing"}' >&$WEFT_EVENTS
    echo '{"type":"materialization","asset":"orders","metadata":{"rows":3}}' >&$WEFT_EVENTS
    printf 'id,amount\n1,10\n2,20\n3,30\n' > "$WEFT_OUTPUTS/table"
    echo '{"rows": 3}' > "$WEFT_OUTPUTS/summary"
    echo made
fail:
  run: |
    echo '{"type":"log","level":"debug","msg":"about to fail"}' >&$WEFT_EVENTS
    echo broken >&2
    exit 3
wait:
  run: sleep 600
YAML
printf 'name: etl\nops:\n  make: make\n' >loc/jobs/etl.yaml
printf 'name: bad\nops:\n  fail: fail\n' >loc/jobs/bad.yaml
printf 'name: slow\nops:\n  wait: wait\n' >loc/jobs/slow.yaml
mark_sleeps loc
at_exit "pkill -9 -f 'sleep 600.$$' 2>/dev/null; true"
q() { store_query "$1"; }

# -- the policy's mistakes, at file:line:col ---------------------------------------------
cat >"$WEFT_HOME/weft.yaml" <<'YAML'
retention:
  runs: {success: 30x, failure: 90d}
  logs: [1]
  keep_last: -2
  per_job:
    etl: {artifacts: soon, nope: 1}
  shelf_life: 3d
YAML
expect_exit -m "a bad retention: fails weft instance show" 1 "$WEFT_BIN" instance show
check_has "a bad duration at its line:col" "weft.yaml:2:19: error: weft.yaml: retention runs.success must be a duration like 30d" "$err"
check_has "a list where a duration goes" "weft.yaml:3:9: error: weft.yaml: retention logs must be a duration" "$err"
check_has "a negative keep_last" "weft.yaml:4:14: error: weft.yaml: retention keep_last must be a whole number from 0 to 1000000, got '-2'" "$err"
check_has "a per_job mistake names the job" "weft.yaml:6:22: error: weft.yaml: retention per_job.etl artifacts must be a duration" "$err"
check_has "an unknown key in per_job" "unknown key 'nope' in retention per_job.etl" "$err"
check_has "an unknown key in retention" "unknown key 'shelf_life' in retention" "$err"
expect_exit -m "and any command that opens the instance" 1 "$WEFT_BIN" instance purge --dry-run
check_has "with the same message" "weft.yaml:2:19" "$err"

# -- runs to keep and to remove ----------------------------------------------------------
rm "$WEFT_HOME/weft.yaml"
launch() { # launch JOB: the id of a new run
  run "$WEFT_BIN" launch "$1" -l loc -q
  run_id_of
}
e1=$(launch etl)
echo "# a change of code: e1 alone ran the first version" >>loc/ops/ops.yaml
e2=$(launch etl) e3=$(launch etl) e4=$(launch etl)
b1=$(launch bad)
parent=$(launch bad)
run "$WEFT_BIN" run reexecute "$parent" --from-failure -l loc -q
child=$(run_id_of)
run "$WEFT_BIN" run pin "$e2"
check_has "weft run pin" "run $e2 pinned" "$out"
"$WEFT_BIN" launch slow -l loc --detach >"$tmp/slow.out" 2>&1
s1=$(sed -n 's/.*\([0-9a-f]\{12\}\).*/\1/p' "$tmp/slow.out" | head -n 1)
for _ in $(seq 100); do
  [ "$(q "select status from runs where id='$s1'")" = started ] && break
  sleep 0.1
done
check_eq "eight runs: four etl, three bad (one a re-execution), one slow running" \
  "4 3 1 started" \
  "$(q "select count(*) from runs where job='etl'") $(q "select count(*) from runs where job='bad'") $(q "select count(*) from runs where job='slow'") $(q "select status from runs where id='$s1'")"
check_eq "every id was read" 8 "$(printf '%s\n' "$e1" "$e2" "$e3" "$e4" "$b1" "$parent" "$child" "$s1" | grep -c .)"

cat >"$WEFT_HOME/weft.yaml" <<'YAML'
retention:
  runs: {success: 1d, failure: 2d}
  events_debug: 1h
  logs: 2h
  artifacts: 3h
  keep_last: 1
  per_job:
    bad: {runs: {failure: 1d}, keep_last: 0}
YAML
expect_exit -m "weft instance show prints the policy" 0 "$WEFT_BIN" instance show
check_has "the section and the job's effective rule" \
  "job bad: runs.success 1d, runs.failure 1d, events_debug 1h, logs 2h, artifacts 3h, keep_last 0" "$out"
expect_exit -m "weft run show says a run is pinned" 0 "$WEFT_BIN" run show "$e2"
check_has "pinned" "retention: pinned" "$out"

# A day and an hour from now: e1 and e3 are old successes (e2 is pinned,
# e4 is etl's newest); b1, the re-execution and then its parent are old
# failures of bad, which keeps none; the slow run has not ended.
events_e1=$(q "select count(*) from events where run_id='$e1'")
events_all=$(q "select count(*) from events where run_id in ('$e1','$e3','$b1','$parent','$child')")
expect_exit -m "purge --dry-run" 0 "$WEFT_BIN" instance purge --dry-run --as-of +25h
dry=$out
check_has "says the runs it would remove, per status" \
  "would remove 5 runs (2 success, 3 failure, 0 canceled)" "$dry"
check_has "their events and steps" "would remove $events_all events and 5 steps of those runs" "$dry"
check_has "the debug events of the kept etl run" "would remove 1 debug events of kept runs" "$dry"
check_has "what it keeps and why" "kept 1 pinned, 1 among keep_last, 0 with re-executions" "$dry"
check_eq "a dry run removes nothing" "8 $events_e1" \
  "$(q "select count(*) from runs") $(q "select count(*) from events where run_id='$e1'")"
expect_exit -m "purge" 0 "$WEFT_BIN" instance purge --as-of +25h -v
check_eq "removes exactly what the dry run said" "$(printf '%s\n' "$dry" | sed 's/would remove/removed/')" \
  "$(printf '%s\n' "$out" | grep -v '^removed run \|^removed the \|gc-code')"
check_has "names each run with -v" "removed run $e1 (job etl, success)" "$out"
check_eq "the removed runs, their events and steps are gone" "0 0 0" \
  "$(q "select count(*) from runs where id in ('$e1','$e3','$b1','$parent','$child')") $(q "select count(*) from events where run_id in ('$e1','$e3','$b1','$parent','$child')") $(q "select count(*) from steps where run_id in ('$e1','$e3','$b1','$parent','$child')")"
check_eq "their work folders and artifacts are gone" "" \
  "$(ls -d "$WEFT_HOME/runs/$e1" "$WEFT_HOME/artifacts/$e1" "$WEFT_HOME/runs/$b1" 2>/dev/null)"
check_eq "kept: the pinned run whole, the newest etl run, the running run" \
  "$e2 success|$e4 success|$s1 started" \
  "$(q "select id || ' ' || status from runs order by created_ms" | tr '\n' '|' | sed 's/|$//')"
check_eq "the pinned run keeps its debug event, logs and artifacts" "1 yes yes" \
  "$(q "select count(*) from events where run_id='$e2' and payload like '%debug%'") $([ -f "$WEFT_HOME/runs/$e2/make/1/stdout.log" ] && echo yes) $([ -f "$WEFT_HOME/artifacts/$e2/make/table" ] && echo yes)"
check_eq "the newest etl run lost its debug event, logs and artifacts, not the rest" "0 1 no no" \
  "$(q "select count(*) from events where run_id='$e4' and payload like '%debug%'") $(q "select count(*) from events where run_id='$e4' and type='log' and payload like '%writing%'") $([ -f "$WEFT_HOME/runs/$e4/make/1/stdout.log" ] && echo yes || echo no) $([ -f "$WEFT_HOME/artifacts/$e4/make/table" ] && echo yes || echo no)"
check_eq "the running run is untouched" "started 1" \
  "$(q "select status from runs where id='$s1'") $(q "select count(*) from events where run_id='$s1' and type='run_started'")"
check_eq "the removed runs' materializations are summary rows" "2 orders etl" \
  "$(q "select count(*) from materializations") $(q "select distinct asset || ' ' || job from materializations")"
expect_exit -m "a second purge finds nothing more" 0 "$WEFT_BIN" instance purge --as-of +25h
check_has "nothing" "removed 0 runs" "$out"
check_has "nor parts" "removed 0 log files and 0 artifacts" "$out"
expect_exit -m "gc-code then removes the snapshot only e1 used" 0 \
  "$WEFT_BIN" instance gc-code --min-age 0
check_has "one snapshot" "removed 1 code snapshot" "$out"

# -- weft run delete: the same rules, whatever the age -----------------------------------
expect_exit -m "a pinned run is not deleted" 1 "$WEFT_BIN" run delete "$e2"
check_has "it says why" "is pinned" "$out"
expect_exit -m "nor the newest of its job" 1 "$WEFT_BIN" run delete "$e4"
check_has "keep_last" "among the 1 newest runs of job etl" "$out"
expect_exit -m "nor a running one" 1 "$WEFT_BIN" run delete "$s1"
check_has "not finished" "is started, not finished" "$out"
run "$WEFT_BIN" run unpin "$e2"
expect_exit -m "an unpinned run that is not the newest is deleted" 0 "$WEFT_BIN" run delete "$e2"
check_has "with what went" "$e2: deleted (" "$out"
check_eq "its row and folder are gone" "0 no" \
  "$(q "select count(*) from runs where id='$e2'") $([ -d "$WEFT_HOME/runs/$e2" ] && echo yes || echo no)"
run "$WEFT_BIN" run cancel "$s1" --timeout 30

# -- the scheduler applies it by itself --------------------------------------------------
f1=$(launch bad)
cat >"$WEFT_HOME/weft.yaml" <<'YAML'
retention:
  runs: {failure: 1s}
YAML
sleep 1.5
expect_exit -m "one scheduler turn" 0 "$WEFT_BIN" scheduler --once --no-dequeue -l loc
check_eq "removed the failed and the canceled run that ended over 1 s ago, kept the success" \
  "0 0 1" "$(q "select count(*) from runs where id='$f1'") $(q "select count(*) from runs where id='$s1'") $(q "select count(*) from runs where id='$e4'")"
check_has "and logged it" "retention: removed 2 runs" "$out$err"

# -- the same on PostgreSQL --------------------------------------------------------------
pg_own_database
if [ -z "$pg_url" ]; then
  skip "WEFT_TEST_PG_URL is not set: purge on PostgreSQL is not checked"
else
  export WEFT_HOME=$tmp/pghome
  mkdir -p "$WEFT_HOME"
  printf 'storage:\n  postgres: {url: "%s"}\nretention:\n  runs: {success: 1d}\n  keep_last: 1\n' \
    "$pg_url" >"$WEFT_HOME/weft.yaml"
  p1=$(launch etl) p2=$(launch etl)
  run "$WEFT_BIN" run pin "$p1"
  expect_exit -m "PostgreSQL: purge --dry-run" 0 "$WEFT_BIN" instance purge --dry-run --as-of +25h
  check_has "PostgreSQL: the pinned and the newest run are kept" \
    "kept 1 pinned, 1 among keep_last" "$out"
  run "$WEFT_BIN" run unpin "$p1"
  expect_exit -m "PostgreSQL: purge" 0 "$WEFT_BIN" instance purge --as-of +25h
  check_has "PostgreSQL: the older run goes" "removed 1 run (1 success" "$out"
  check_eq "PostgreSQL: only the newest is left, with its events" "$p2 yes" \
    "$(psql -Atq "$pg_url" -c "select string_agg(id, ',') from runs") $(psql -Atq "$pg_url" -c "select case when count(*) > 0 then 'yes' end from events where run_id = '$p2'")"
  check_eq "PostgreSQL: no event of the removed run, its materialization summarized" "0 1" \
    "$(psql -Atq "$pg_url" -c "select count(*) from events where run_id = '$p1'") $(psql -Atq "$pg_url" -c "select count(*) from materializations where run_id = '$p1'")"
  export WEFT_HOME=$tmp/home
fi

# -- artifacts in S3 -------------------------------------------------------------------
if [ -z "${WEFT_TEST_S3_URL:-}" ]; then
  skip "WEFT_TEST_S3_URL is not set: the S3 artifact store is not checked"
else
  bucket=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|^s3://\([^/?]*\).*|\1|p')
  endpoint=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|.*[?&]endpoint=\([^&]*\).*|\1|p')
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}
  export WEFT_HOME=$tmp/s3home
  mkdir -p "$WEFT_HOME"
  cat >"$WEFT_HOME/weft.yaml" <<YAML
artifacts:
  s3: {bucket: $bucket, prefix: t0105-$$-$(date +%s), endpoint: $endpoint, region: us-east-1, path_style: true}
retention:
  runs: {success: 1d}
YAML
  s3run=$(launch etl)
  run "$WEFT_BIN" artifacts ls "$s3run"
  stored=$(printf '%s\n' "$out" | grep -c .)
  expect_exit -m "S3: purge --dry-run" 0 "$WEFT_BIN" instance purge --dry-run --as-of +25h
  check_has "S3: counts the bucket's objects (2 outputs, 2 logs) and the work folder's logs" \
    "would remove 4 log files and 2 artifacts" "$out"
  expect_exit -m "S3: purge" 0 "$WEFT_BIN" instance purge --as-of +25h
  check_has "S3: removes them" "removed 4 log files and 2 artifacts" "$out"
  check_eq "S3: they were in the bucket, and are gone" "4 0" \
    "$stored $("$WEFT_BIN" artifacts ls "$s3run" 2>/dev/null | grep -c .)"
fi
test_done
