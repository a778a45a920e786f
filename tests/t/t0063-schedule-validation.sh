#!/usr/bin/env bash
# t0063-schedule-validation: `weft validate` reports every schedule, sensor
# and partition error as file:line:col: malformed cron (at the bad field),
# unknown time zone, unknown job, unknown keys and placeholders with a
# did-you-mean, and names used twice in the workspace.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p a/ops a/jobs a/schedules a/sensors b/ops b/jobs b/schedules
printf 'noop: {run: "true"}\n' >a/ops/noop.yaml
printf 'noop: {run: "true"}\n' >b/ops/noop.yaml
cat >a/jobs/report.yaml <<'Y'
graph: {x: noop}
partitions: {daily: {start: 2026-02-30}}
schedules:
  - name: bad_cron
    cron: "0 6 * * MON-FRY"
  - name: bad_zone
    cron: "@daily"
    timezone: Europe/Amsterdan
  - name: typo
    cron: "@daily"
    catchup: all
Y
cat >a/schedules/nightly.yaml <<'Y'
job: reprot
cron: "0 1 * * *"
tags: {day: "{{partition_kee}}"}
Y
cat >a/sensors/watch.yaml <<'Y'
kind: comand
job: report
Y
printf 'graph: {x: noop}\n' >b/jobs/other.yaml
printf 'job: other\ncron: "@hourly"\n' >b/schedules/nightly.yaml
printf 'locations: [a, b]\n' >workspace.yaml

expect_exit -m "validate fails" 1 "$WEFT_BIN" validate -w workspace.yaml
all="$out
$err"
check_has "malformed cron: at the bad field, with the cron error" \
  "a/jobs/report.yaml:5:24: error: schedule 'bad_cron': invalid cron expression '0 6 * * MON-FRY'" "$all"
check_has "unknown time zone at its scalar" \
  "a/jobs/report.yaml:8:15: error: schedule 'bad_zone': unknown time zone 'Europe/Amsterdan'" "$all"
check_has "unknown key with did-you-mean" \
  "a/jobs/report.yaml:11:5: error: unknown key 'catchup' in schedule 'typo' (did you mean 'catch_up'?)" "$all"
check_has "bad partition start" "a/jobs/report.yaml:2:29: error: job 'report': partitions start must be a date (YYYY-MM-DD), got '2026-02-30'" "$all"
check_has "unknown job with did-you-mean" \
  "a/schedules/nightly.yaml:1:6: error: schedule 'nightly': unknown job 'reprot' in code location 'a' (did you mean 'report'?)" "$all"
check_has "unknown placeholder" \
  "a/schedules/nightly.yaml:3:14: error: schedule 'nightly': unknown placeholder '{{partition_kee}}' (did you mean 'partition_key'?)" "$all"
check_has "unknown sensor kind" \
  "a/sensors/watch.yaml:1:7: error: sensor 'watch': unknown kind comand (did you mean 'command'?)" "$all"

# a name used in two locations (a's nightly is broken: give it a valid one)
cat >a/schedules/nightly.yaml <<'Y'
job: report
cron: "0 1 * * *"
Y
expect_exit -m "validate fails on a duplicate name" 1 "$WEFT_BIN" validate -w workspace.yaml
all="$out
$err"
check_has "duplicate across locations" \
  "b/schedules/nightly.yaml:1:1: error: duplicate schedule name 'nightly' in code location 'b' (also in code location 'a'" "$all"

# the same errors make `weft scheduler` refuse nothing else: valid schedules still run
expect_exit -m "schedule list still works" 0 "$WEFT_BIN" schedule list -w workspace.yaml
check_has "the valid one is listed" "nightly" "$out"
test_done
