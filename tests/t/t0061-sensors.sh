#!/usr/bin/env bash
# t0061-sensors: file, command and run-status sensors through the CLI:
# `weft sensor on|list|ticks`, evaluations at stepped --now times, one run
# per new or changed file, run_key de-duplication, failures recorded with
# their reason, and a run of job b launched when job a succeeded.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p loc/ops loc/jobs loc/sensors loc/incoming
cat >loc/ops/ops.yaml <<'Y'
noop: {run: 'true', config: {what: {type: string, default: none}}}
Y
printf 'graph: {x: noop}\n' >loc/jobs/ingest.yaml
printf 'graph: {x: noop}\n' >loc/jobs/a.yaml
printf 'graph: {x: noop}\n' >loc/jobs/b.yaml
cat >loc/sensors/files.yaml <<'Y'
kind: file
job: ingest
glob: "incoming/*.csv"
interval: 30s
config:
  ops: {x: {config: {what: "{{file}}"}}}
Y
cat >loc/sensors/script.yaml <<'Y'
kind: command
job: ingest
run: ./check.sh
interval: 30s
timeout: 10s
Y
cat >loc/sensors/after_a.yaml <<'Y'
kind: run_status
job: b
watch_job: a
status: success
interval: 30s
Y
cat >loc/check.sh <<'S'
#!/bin/sh
# prints one request per line of requests.txt; the cursor counts calls
n=${WEFT_SENSOR_CURSOR:-0}
[ -f requests.txt ] && cat requests.txt
echo "{\"cursor\": \"$((n + 1))\"}"
S
chmod +x loc/check.sh
L=(-l loc)
base=$(($(date +%s) + 60))
at() { date -u -d "@$((base + $1))" +%Y-%m-%dT%H:%M:%SZ; }
once() { "$WEFT_BIN" scheduler --once --no-dequeue --now "$(at "$1")" "${L[@]}"; }
runs_tagged() { store_query "SELECT count(*) FROM runs WHERE tags LIKE '%$1%'"; }

expect_exit -m "validate accepts the sensors" 0 "$WEFT_BIN" validate loc
expect_exit -m "sensor list" 0 "$WEFT_BIN" sensor list "${L[@]}"
check_has "kinds are shown" "run_status" "$out"
for s in files script after_a; do
  expect_exit -m "sensor on $s" 0 "$WEFT_BIN" sensor on "$s" "${L[@]}"
done

# -- file sensor -------------------------------------------------------------------------------
echo 1 >loc/incoming/one.csv
echo x >loc/incoming/skip.txt
expect_exit -m "first evaluation" 0 once 0
check_eq "one run for the new csv" 1 "$(runs_tagged '"weft/sensor":"files"')"
expect_exit 0 once 30
check_eq "nothing new: still one" 1 "$(runs_tagged '"weft/sensor":"files"')"
expect_exit 0 "$WEFT_BIN" sensor ticks files --format json "${L[@]}"
check_py "the evaluations are recorded, newest first" '
import json,sys
t=json.load(open(sys.argv[1]))
print("ok" if [x["status"] for x in t]==["skipped","success"] else t)'
echo 2 >>loc/incoming/one.csv
touch -d '@1000' loc/incoming/one.csv
echo 3 >loc/incoming/two.csv
expect_exit 0 once 60
check_eq "a changed and a new file: two more runs" 3 "$(runs_tagged '"weft/sensor":"files"')"
check_eq "each run is keyed by path@mtime" 1 "$(runs_tagged 'incoming/one.csv@1000000')"

# -- command sensor ----------------------------------------------------------------------------
printf '{"run_key":"k1"}\n{"run_key":"k2","tags":{"batch":"b7"}}\n' >loc/requests.txt
expect_exit 0 once 90
check_eq "two requests, two runs" 2 "$(runs_tagged '"weft/sensor":"script"')"
check_eq "the request's tags are on its run" 1 "$(runs_tagged '"batch":"b7"')"
printf '{"run_key":"k2"}\n{"run_key":"k3"}\n' >loc/requests.txt
expect_exit 0 once 120
check_eq "k2 again is de-duplicated: one more run" 3 "$(runs_tagged '"weft/sensor":"script"')"
expect_exit 0 "$WEFT_BIN" sensor list --format json "${L[@]}"
check_py "the cursor advanced through the script" '
import json,sys
d={x["name"]:x for x in json.load(open(sys.argv[1]))}
print("ok" if d["script"]["last_status"]=="success" and d["script"]["state"]=="on" else d["script"])'
check_eq "the stored cursor counts its 5 evaluations" 5 \
  "$(store_query "SELECT value FROM kv WHERE key='sensor/script'" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cursor"])')"
printf '{"run_key":"k4"}\nnot json\n' >loc/requests.txt
expect_exit 0 once 150
expect_exit 0 "$WEFT_BIN" sensor ticks script --limit 1 "${L[@]}"
check_has "a malformed line is a failure naming it" "output line 2" "$out"
check_eq "and launches nothing" 3 "$(runs_tagged '"weft/sensor":"script"')"

# -- run-status sensor: a succeeded, so b runs -------------------------------------------------------
expect_exit -m "launch a" 0 "$WEFT_BIN" launch a "${L[@]}"
a_id=$(run_id_of)
expect_exit -m "the scheduler starts b for it" 0 \
  "$WEFT_BIN" scheduler --once --now "$(at 180)" "${L[@]}"
b_id=$(store_query "SELECT id FROM runs WHERE job='b' AND tags LIKE '%\"weft/upstream_run\":\"$a_id\"%'")
check_eq "one run of b, tagged with a's run" 12 "${#b_id}"
status=
for _ in $(seq 150); do
  status=$(store_query "SELECT status FROM runs WHERE id='$b_id'")
  case "$status" in success | failure | canceled) break ;; esac
  sleep 0.2
done
check_eq "b ran to success" success "$status"
expect_exit 0 "$WEFT_BIN" scheduler --once --no-dequeue --now "$(at 210)" "${L[@]}"
check_eq "a's run does not launch b twice" 1 "$(store_query "SELECT count(*) FROM runs WHERE job='b'")"
expect_exit -m "sensor off" 0 "$WEFT_BIN" sensor off after_a "${L[@]}"
expect_exit -m "a schedule name is refused by sensor on" 1 "$WEFT_BIN" sensor on nosuch "${L[@]}"

test_done
