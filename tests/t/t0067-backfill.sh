#!/usr/bin/env bash
# t0067-backfill: `weft backfill` makes one run per partition of a daily job
# through the run queue, shows per-partition progress, and a second run of
# the same backfill launches only the partition that failed.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

# A daily job whose op fails for 2026-01-03 until $tmp/fixed exists.
mkdir -p loc/ops loc/jobs
cat >loc/ops/report.yaml <<'YAML'
report:
  config: {day: {type: string}}
  outputs: {result: string}
  run: |
    echo "partition=$WEFT_PARTITION_KEY config=$(cat "$WEFT_CONFIG")"
    if [ "$WEFT_PARTITION_KEY" = 2026-01-03 ] && [ ! -e "$FIXED" ]; then
      echo "no data for $WEFT_PARTITION_KEY" >&2; exit 3
    fi
    printf '"%s"' "$WEFT_PARTITION_KEY" > "$WEFT_OUTPUTS/result"
YAML
cat >loc/jobs/daily.yaml <<'YAML'
name: daily
partitions: {daily: {start: 2026-01-01}}
ops:
  report: {uses: report}
YAML
cat >loc/jobs/plain.yaml <<'YAML'
name: plain
ops:
  report: {uses: report, config: {day: x}}
YAML
printf 'ops: {report: {config: {day: "{{partition_key}}"}}}\n' >cfg.yaml
export FIXED=$tmp/fixed

expect_exit -m "a backfill with a failing partition exits 1" 1 \
  "$WEFT_BIN" backfill daily --from 2026-01-01 --to 2026-01-05 -c cfg.yaml -l loc --tag team=data
check_has "it queues one run per partition" "5 partitions, 5 runs queued" "$out"
check_has "the progress ends at 4/5 with one failure" "4/5 succeeded, 1 failed" "$out"
id=$(sed -n 's/^backfill \([0-9a-f]\{8\}\): job.*/\1/p' "$tmp/out" | head -n 1)
check_eq "five runs exist" 5 "$(store_query "select count(*) from runs where job='daily'")"
check_eq "each run is tagged with the backfill and its partition" 5 \
  "$(store_query "select count(*) from runs where tags like '%\"weft/backfill\":\"$id\"%' and tags like '%\"weft/partition\":\"2026-01-0%' and tags like '%\"team\":\"data\"%'")"
run3=$(store_query "select id from runs where tags like '%2026-01-03%'")
check_eq "2026-01-03 failed" failure "$(store_query "select status from runs where id='$run3'")"
run1=$(store_query "select id from runs where tags like '%2026-01-01%'")
check_has "steps see WEFT_PARTITION_KEY and the rendered config" \
  'partition=2026-01-01 config={"day":"2026-01-01"}' \
  "$(cat "$WEFT_HOME/runs/$run1/report/1/stdout.log" 2>/dev/null)"

expect_exit -m "backfill show" 0 "$WEFT_BIN" backfill show "$id"
check_has "show gives the progress" "progress: 4/5 succeeded, 1 failed" "$out"
check_has "show lists the failed partition with its run" "2026-01-03           failure    $run3" "$out"
expect_exit -m "backfill show --format json" 0 "$WEFT_BIN" backfill show "$id" --format json
check_py "the JSON view has per-partition statuses" '
import json, sys
b = json.load(open(sys.argv[1]))
st = {p["key"]: p["status"] for p in b["partitions"]}
want = {"2026-01-0%d" % d: ("failure" if d == 3 else "success") for d in range(1, 6)}
print("ok" if st == want and b["counts"]["failed"] == 1 and b["keys"] == 5 and b["done"] is True else (st, b))'

# Fixed: the same backfill again launches only 2026-01-03.
touch "$FIXED"
expect_exit -m "the same backfill again succeeds" 0 \
  "$WEFT_BIN" backfill daily --from 2026-01-01 --to 2026-01-05 -c cfg.yaml -l loc
check_has "only the failed partition is launched" "backfill $id: job daily, 5 partitions, 1 run queued (the other 4 succeeded" "$out"
check_has "the progress shows 5/5" "backfill $id: 5/5 succeeded" "$out"
check_eq "six runs in all" 6 "$(store_query "select count(*) from runs where job='daily'")"
check_eq "one backfill record" 1 "$(store_query "select count(*) from kv where key like 'backfill/%'")"
expect_exit -m "retry launches nothing when all succeeded" 0 "$WEFT_BIN" backfill retry "$id" -l loc
check_has "retry says 0 runs" "0 runs queued" "$out"
expect_exit -m "backfill list" 0 "$WEFT_BIN" backfill list
check_has "list shows the backfill and its progress" "5/5 succeeded" "$out"

# --detach leaves the runs queued, unowned: no sweep fails them, and the
# next dequeuer (here a following backfill) starts them.
expect_exit -m "a detached backfill" 0 \
  "$WEFT_BIN" backfill daily --keys 2026-01-06,2026-01-07 -c cfg.yaml -l loc --detach
check_has "detach says who starts them" "wait in the queue" "$out"
expect_exit -m "run list shows them queued" 0 "$WEFT_BIN" run list --status queued
check_has "two queued runs with their reason" "next in line" "$out"
check_eq "they stay queued, with no coordinator" "2|0" \
  "$(store_query "select count(*), count(coordinator) from runs where status='queued'")"
expect_exit -m "following the same backfill starts them" 0 \
  "$WEFT_BIN" backfill daily --keys 2026-01-06,2026-01-07 -c cfg.yaml -l loc
check_has "none relaunched, both run" "2/2 succeeded" "$out"

# Bad requests.
expect_exit -m "from after to" 1 "$WEFT_BIN" backfill daily --from 2026-01-05 --to 2026-01-01 -l loc
check_has "from after to is explained" "comes after" "$err"
expect_exit -m "an unknown key" 1 "$WEFT_BIN" backfill daily --keys 2026-01-01,1999-12-31 -l loc
check_has "the unknown key is named" "job daily has no partition '1999-12-31'" "$err"
expect_exit -m "a job without partitions" 1 "$WEFT_BIN" backfill plain --keys a -l loc
check_has "not partitioned is explained" "job plain is not partitioned" "$err"
expect_exit -m "no range is a usage error" 2 "$WEFT_BIN" backfill daily -l loc
expect_exit -m "keys and a range is a usage error" 2 \
  "$WEFT_BIN" backfill daily --keys 2026-01-01 --from 2026-01-01 -l loc
expect_exit -m "an unknown backfill" 1 "$WEFT_BIN" backfill show nosuch
check_has "the unknown id is named" "no backfill nosuch" "$err"
check_eq "bad requests launched nothing" 8 "$(store_query "select count(*) from runs")"

test_done
