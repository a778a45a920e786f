#!/usr/bin/env bash
# bench/runs/sched.sh: bench/runs' "sched" part: N schedules of a one-step
# job all due at the same minute, through `weft scheduler --coordinator`
# (the schedules, the run queue and one coordinator loop in one process).
# Per run: tick -> first step started (p50/p99), and runs per minute from
# the tick to the last run's end. SQLite, or a private PostgreSQL server.
# usage: bench/runs/sched.sh BIN c|true N [sqlite|postgres]   (BIN: weft, or
#        noop_worker for the C op: a weft with the C function `noop`
#        registered)
set -u
bin=$1 kind=$2 n=$3 store=${4:-sqlite}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-sched.XXXXXX")
daemon=''
pgurl=''
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  [ -n "$pgurl" ] && "$root/scripts/pg-server" stop "$tmp/pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
export WEFT_HOME=$tmp/home
mkdir -p "$WEFT_HOME" "$tmp/loc/ops" "$tmp/loc/jobs" "$tmp/loc/schedules"
if [ "$store" = postgres ]; then
  chmod 755 "$tmp" # the server's user must reach its folder
  pgurl=$("$root/scripts/pg-server" start --fast "$tmp/pg" | tail -n 1)
  printf "storage: {postgres: {url: '%s'}}\n" "$pgurl" >>"$WEFT_HOME/weft.yaml"
fi
if [ "$kind" = c ]; then
  printf 'noop: {c_function: noop}\n' >"$tmp/loc/ops/o.yaml"
  printf 'execution: in_process\n' >>"$WEFT_HOME/weft.yaml" # C ops run in the loop's process
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
# The runs and their first step starts, as tab-separated files in $tmp.
dump() {
  local first="SELECT run_id, min(ts_ms) FROM events WHERE type = 'step_started' GROUP BY run_id"
  local runs="SELECT id, tags, status, coalesce(ended_ms, 0) FROM runs"
  if [ -n "$pgurl" ]; then
    psql -At -F $'\t' "$pgurl" -c "$first" >"$tmp/first.tsv" &&
      psql -At -F $'\t' "$pgurl" -c "$runs" >"$tmp/runs.tsv"
  else
    python3 - "$WEFT_HOME/weft.db" "$tmp" "$first" "$runs" <<'P'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for name, q in (("first", sys.argv[3]), ("runs", sys.argv[4])):
    with open(f"{sys.argv[2]}/{name}.tsv", "w") as f:
        f.writelines("\t".join(map(str, r)) + "\n" for r in c.execute(q))
P
  fi
}
count() {
  dump && python3 - "$tmp" "$boundary" <<'P'
import json, sys
tick = int(sys.argv[2]) * 1000
runs = [l.split("\t") for l in open(sys.argv[1] + "/runs.tsv").read().splitlines() if l]
mine = [r for r in runs if json.loads(r[1]).get("weft/tick") == str(tick)]
print(len(mine), sum(1 for r in mine if r[2] in ("success", "failure", "canceled")))
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
dump || exit 1
python3 - "$tmp" "$boundary" "$kind" <<'P'
import json, sys
b = int(sys.argv[2]) * 1000
rows = lambda name: [l.split("\t") for l in open(f"{sys.argv[1]}/{name}.tsv").read().splitlines() if l]
first = {rid: int(ts) for rid, ts in rows("first")}
s, ends, ok = [], [], 0
for rid, tags, st, ended in ((r[0], r[1], r[2], int(r[3])) for r in rows("runs")):
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
