#!/usr/bin/env bash
# t0060-schedules: `weft schedule list|on|off|preview|ticks` and
# `weft scheduler --once --now`: state stored across processes, previews in
# the schedule's zone with partition keys, and a due tick's run succeeding.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p loc/ops loc/jobs loc/schedules
cat >loc/ops/say.yaml <<'Y'
say:
  config: {day: {type: string, default: none}}
  run: 'cat "$WEFT_CONFIG" > "$WEFT_OUTPUTS/result"'
Y
cat >loc/jobs/report.yaml <<'Y'
graph: {say: say}
partitions:
  daily: {start: 2026-01-01, timezone: Europe/Amsterdam}
schedules:
  - name: nightly
    cron: "5 0 * * *"
    timezone: Europe/Amsterdam
    config:
      ops: {say: {config: {day: "{{partition_key}}"}}}
    tags: {scheduled: "{{scheduled_time}}"}
Y
cat >loc/schedules/hourly.yaml <<'Y'
job: report
cron: "@hourly"
default: on
Y
L=(-l loc)

expect_exit -m "validate accepts schedules" 0 "$WEFT_BIN" validate loc
expect_exit -m "schedule list" 0 "$WEFT_BIN" schedule list "${L[@]}"
check_has "lists nightly, off by default" "nightly" "$out"
check_py "nightly is off, hourly on" '
import sys
rows={l.split()[0]:l for l in open(sys.argv[1]) if l.strip()}
print("ok" if " off " in rows["nightly"] and " on " in rows["hourly"] else rows)'
expect_exit -m "schedule on nightly" 0 "$WEFT_BIN" schedule on nightly "${L[@]}"
expect_exit -m "schedule list --format json (a new process)" 0 \
  "$WEFT_BIN" schedule list --format json "${L[@]}"
check_py "the state survived: nightly is on, stored, with a next tick" '
import json,sys
d={x["name"]:x for x in json.load(open(sys.argv[1]))}
n=d["nightly"]
print("ok" if n["state"]=="on" and n["state_stored"] and n["next_tick"].endswith(("+01:00","+02:00")) and n["cron"]=="5 0 * * *" else n)'
expect_exit -m "schedule off hourly" 0 "$WEFT_BIN" schedule off hourly "${L[@]}"
expect_exit 0 "$WEFT_BIN" schedule list --format json "${L[@]}"
check_py "hourly is off" '
import json,sys
d={x["name"]:x for x in json.load(open(sys.argv[1]))}
print("ok" if d["hourly"]["state"]=="off" and d["hourly"]["next_tick_ms"]==0 else d["hourly"])'
expect_exit -m "unknown name" 1 "$WEFT_BIN" schedule on nightlyy "${L[@]}"
check_has "did you mean" "did you mean 'nightly'" "$err"

# -- preview across the DST change of 2026-03-29 -------------------------------------------
expect_exit -m "schedule preview --next 3" 0 \
  "$WEFT_BIN" schedule preview nightly --next 3 --after 2026-03-28T00:00:00Z "${L[@]}"
check_has "before the change: +01:00 and the previous day's partition" \
  "2026-03-29T00:05:00+01:00  (2026-03-28T23:05:00Z)  partition 2026-03-28" "$out"
check_has "after it: +02:00" "2026-03-30T00:05:00+02:00  (2026-03-29T22:05:00Z)  partition 2026-03-29" "$out"

# -- the scheduler launches the due tick once; the run succeeds --------------------------------
# `schedule on` started nightly now: evaluate at its next tick, as the
# scheduler itself computes it (in its zone: after 23:05 UTC in winter the
# next 00:05 in Amsterdam is two UTC dates away)
expect_exit 0 "$WEFT_BIN" schedule list --format json "${L[@]}"
tick=$(python3 -c 'import json,sys; print({x["name"]: x for x in json.load(open(sys.argv[1]))}["nightly"]["next_tick"])' "$tmp/out")
next_day=${tick%%T*}
expect_exit -m "scheduler --once --now launches the due tick" 0 \
  "$WEFT_BIN" scheduler --once --now "$tick" "${L[@]}"
check_has "one run queued" "1 runs queued" "$out"
expect_exit -m "the same time again launches nothing" 0 \
  "$WEFT_BIN" scheduler --once --now "$tick" "${L[@]}"
check_has "zero runs" "0 runs queued" "$out"
expect_exit -m "schedule ticks" 0 "$WEFT_BIN" schedule ticks nightly --format json "${L[@]}"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["run_ids"][0])' "$tmp/out")
check_py "the tick is recorded with its run and partition" '
import json,sys
t=json.load(open(sys.argv[1]))
print("ok" if len(t)==1 and t[0]["status"]=="success" and t[0]["partition"] and len(t[0]["run_ids"])==1 else t)'
status=
for _ in $(seq 150); do
  status=$(store_query "SELECT status FROM runs WHERE id='$id'")
  case "$status" in success | failure | canceled) break ;; esac
  sleep 0.2
done
check_eq "the scheduled run ran to success" success "$status"
prev_day=$(date -u -d "$next_day -1 day" +%Y-%m-%d)
check_has "it got the partition in its config" "\"day\": \"$prev_day\"" \
  "$(cat "$WEFT_HOME/artifacts/$id/say/result" 2>/dev/null | python3 -m json.tool 2>/dev/null)"
expect_exit 0 "$WEFT_BIN" run show "$id"
check_has "tagged with the schedule" "weft/schedule=nightly" "$out"
expect_exit -m "schedule list shows the last tick" 0 "$WEFT_BIN" schedule list "${L[@]}"
check_has "success" "success" "$out"

test_done
