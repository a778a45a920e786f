#!/usr/bin/env bash
# bench/runs/sched.sh: bench/runs' "sched" part: N schedules of a one-step
# job all due at the same minute, through `weft scheduler --coordinator`
# (the schedules, the run queue and one coordinator loop in one process).
# Per run: tick -> first step started (p50/p99), and runs per minute from
# the tick to the last run's end. SQLite.
# usage: bench/runs/sched.sh BIN c|true N   (BIN: weft, or noop_worker for
#        the C op: a weft with the C function `noop` registered)
set -u
bin=$1 kind=$2 n=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-sched.XXXXXX")
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export WEFT_HOME=$tmp/home
mkdir -p "$WEFT_HOME" "$tmp/loc/ops" "$tmp/loc/jobs" "$tmp/loc/schedules"
if [ "$kind" = c ]; then
  printf 'noop: {c_function: noop}\n' >"$tmp/loc/ops/o.yaml"
  printf 'execution: in_process\n' >"$WEFT_HOME/weft.yaml" # C ops run in the loop's process
else
  printf 'noop: {run: "true"}\n' >"$tmp/loc/ops/o.yaml"
fi
printf 'graph: {x: noop}\n' >"$tmp/loc/jobs/noop.yaml"
python3 - "$tmp/loc/schedules/all.yaml" "$n" <<'P'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"- {{name: s{i:05d}, job: noop, cron: '* * * * *', default: on}}\n")
P
# Started well before a minute boundary: the first turn starts the
# schedules "now", their first due tick is the boundary.
while [ $(( $(date +%s) % 60 )) -gt 45 ] || [ $(( $(date +%s) % 60 )) -lt 2 ]; do sleep 0.5; done
"$bin" scheduler --coordinator -l "$tmp/loc" >"$tmp/daemon.log" 2>&1 &
daemon=$!
boundary=$(( ($(date +%s) / 60 + 1) * 60 ))
deadline=$(( boundary + 300 ))
count() {
  python3 - "$WEFT_HOME/weft.db" "$boundary" <<'P'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
tick = str(int(sys.argv[2]) * 1000)
rows = c.execute("SELECT status FROM runs WHERE tags LIKE ?", (f'%"weft/tick":"{tick}"%',)).fetchall()
print(len(rows), sum(1 for (s,) in rows if s in ("success", "failure", "canceled")))
P
}
while :; do
  sleep 1
  now_s=$(date +%s)
  [ "$now_s" -lt "$boundary" ] && continue
  read -r total final <<<"$(count 2>/dev/null || echo 0 0)"
  [ "${total:-0}" -ge "$n" ] && [ "${final:-0}" -ge "$n" ] && break
  [ "$now_s" -ge "$deadline" ] && { echo "timed_out final=$final of $n"; break; }
done
kill "$daemon" && wait "$daemon" 2>/dev/null
daemon=
python3 - "$WEFT_HOME/weft.db" "$boundary" "$kind" <<'P'
import json, sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
b = int(sys.argv[2]) * 1000
first = dict(c.execute("SELECT run_id, min(ts_ms) FROM events WHERE type='step_started' GROUP BY run_id"))
s, ends, ok = [], [], 0
for rid, tags, st, ended in c.execute("SELECT id, tags, status, ended_ms FROM runs"):
    t = json.loads(tags).get("weft/tick")
    if t is None or int(t) != b: continue
    if rid in first: s.append(first[rid] - b)
    if ended: ends.append(ended - b)
    ok += st == "success"
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else -1
last = max(ends) if ends else 0
print(f"kind={sys.argv[3]} runs={len(s)} ok={ok} tick_to_first_step_p50_ms={pct(s, 50)} "
      f"p99_ms={pct(s, 99)} last_end_ms={last} runs_per_min={len(ends) * 60000 / last if last else 0:.0f}")
P
