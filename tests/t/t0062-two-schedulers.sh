#!/usr/bin/env bash
# t0062-two-schedulers: two `weft scheduler` processes on one storage, started
# together at the same --now for 20 successive minutes: every tick launches
# exactly one run (the tick key is a compare-and-set in the run's
# transaction). On SQLite, and on PostgreSQL when WEFT_TEST_PG_URL is set.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

mkdir -p loc/ops loc/jobs
printf 'noop: {run: "true"}\n' >loc/ops/noop.yaml
cat >loc/jobs/j.yaml <<'Y'
graph: {x: noop}
schedules:
  - {name: every_minute, cron: "* * * * *", catch_up: all, max_catch_up: 100}
Y
L=(-l loc)

race() { # race LABEL: 20 minutes, two processes per minute
  local label=$1 base i t lost=0
  # The first --now two minutes past the minute *before* `schedule on`:
  # the schedule starts within that minute or the next, so 1 or 2 ticks
  # are due at the first --now. Read after it, a `schedule on` that
  # crossed a minute (slow under ASan at load 12) made 3, and 22 runs.
  base=$(( ($(date +%s) / 60 + 2) * 60 ))
  expect_exit -m "$label: schedule on" 0 "$WEFT_BIN" schedule on every_minute "${L[@]}"
  for i in $(seq 0 19); do
    t=$(date -u -d "@$((base + i * 60))" +%Y-%m-%dT%H:%M:%SZ)
    "$WEFT_BIN" scheduler --once --no-dequeue --now "$t" "${L[@]}" >"$tmp/a.$i" 2>&1 &
    local pa=$!
    "$WEFT_BIN" scheduler --once --no-dequeue --now "$t" "${L[@]}" >"$tmp/b.$i" 2>&1 &
    local pb=$!
    wait $pa || not_ok "$label: scheduler A at $t failed" "$(cat "$tmp/a.$i")"
    wait $pb || not_ok "$label: scheduler B at $t failed" "$(cat "$tmp/b.$i")"
  done
  expect_exit 0 "$WEFT_BIN" run list --limit 1000 --format json
  # `schedule on` starts the schedule now: the minute before the first
  # --now may be due too, so 20 or 21 ticks
  check_py "$label: one run per tick" '
import json,sys
d=json.load(open(sys.argv[1]))
runs=d if isinstance(d,list) else d.get("runs",d)
ticks=[r["tags"].get("weft/tick") for r in runs if r.get("tags",{}).get("weft/schedule")=="every_minute"]
print("ok" if len(ticks) in (20,21) and len(set(ticks))==len(ticks) else (len(ticks),len(set(ticks))))'
  nruns=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for r in d["runs"] if r.get("tags",{}).get("weft/schedule")=="every_minute"))' "$tmp/out")
  expect_exit 0 "$WEFT_BIN" schedule ticks every_minute --limit 100 --format json "${L[@]}"
  check_py "$label: as many success ticks as runs, each with its one run" "
import json,sys
t=json.load(open(sys.argv[1]))
ok=[x for x in t if x['status']=='success' and len(x['run_ids'])==1]
ids={x['run_ids'][0] for x in ok}
print('ok' if len(t)==$nruns and len(ok)==$nruns and len(ids)==$nruns else [(x['status'],x.get('reason')) for x in t])"
  lost=$(cat "$tmp"/a.* "$tmp"/b.* | sed -n 's/.* \([0-9]*\) taken by another scheduler.*/\1/p' | paste -sd+ | bc)
  echo "# $label: $lost ticks were taken by the other scheduler first"
  rm -f "$tmp"/a.* "$tmp"/b.*
}

race sqlite

if [ -n "${WEFT_TEST_PG_URL:-}" ]; then
  export WEFT_HOME=$tmp/home-pg
  mkdir -p "$WEFT_HOME"
  schema="t0062_$$"
  psql "$WEFT_TEST_PG_URL" -qc "CREATE SCHEMA $schema" >/dev/null 2>&1
  at_exit "psql '$WEFT_TEST_PG_URL' -qc 'DROP SCHEMA $schema CASCADE'"
  sep='?'
  case "$WEFT_TEST_PG_URL" in *\?*) sep='&' ;; esac
  printf 'storage:\n  postgres:\n    url: "%s%soptions=-csearch_path%%3D%s"\n' \
    "$WEFT_TEST_PG_URL" "$sep" "$schema" >"$WEFT_HOME/weft.yaml"
  race postgres
else
  skip "postgres: WEFT_TEST_PG_URL is not set"
fi

test_done
