#!/usr/bin/env bash
# bench/retention/run.sh: how fast `weft instance purge` removes old runs
# and events, what it does to the commit latency of a run being written at
# the same time, and the database size before and after.
#
#   bench/retention/run.sh [BUILD_DIR]     (default: build)
#
# Environment: RUNS (default 200) x EVENTS (per run, default 5000) old
# events; WEFT_BENCH_PG_URL: a PostgreSQL database URL to measure as well
# (its schema weft_bench_retention is created and dropped). Prints one
# result block per backend, and keeps them in bench/retention/out/.
# The database is measured before the purge, after it (SQLite keeps its
# file size, reusing the freed pages; PostgreSQL its relations' until
# autovacuum), and after compaction (VACUUM; VACUUM FULL).
set -eu
export PGOPTIONS=--client-min-messages=warning
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
weft=$build/weft
runs=${RUNS:-200} events=${EVENTS:-5000}
out=$root/bench/retention/out
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-retention.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The store half, in C against the build's libraries (as weft writes).
cc -O2 -std=c11 -I"$root/include" -I"$root/src" -I/usr/include/postgresql \
  "$root/bench/retention/retention_bench.c" "$build/libweft_store.a" "$build/libweft_util.a" \
  $(pkg-config --libs sqlite3 libpq jansson) -lpthread -lm -o "$tmp/rb"

ms() { date +%s%3N; }
day_ago=$(($(ms) - 2 * 86400 * 1000))

bench_one() { # NAME URL SIZE_CMD
  local name=$1 url=$2 size_cmd=$3 home=$tmp/$1
  mkdir -p "$home"
  export WEFT_HOME=$home
  printf 'storage:\n  %s\nretention:\n  runs: {success: 1d}\n' "$4" >"$home/weft.yaml"
  "$weft" instance migrate >/dev/null
  local t0 t1
  t0=$(ms)
  "$tmp/rb" fill "$url" "$runs" "$events" "$day_ago"
  t1=$(ms)
  local before
  before=$(eval "$size_cmd")
  # Commit latency of a live run alone, then during the purge.
  rm -f "$tmp/stop"
  "$tmp/rb" commits "$url" "$tmp/stop" >"$tmp/alone" &
  local pid=$!
  sleep 5
  touch "$tmp/stop"
  wait "$pid"
  rm -f "$tmp/stop"
  "$tmp/rb" commits "$url" "$tmp/stop" >"$tmp/during" &
  pid=$!
  sleep 1
  local p0 p1
  p0=$(ms)
  "$weft" instance purge >"$tmp/purge"
  p1=$(ms)
  touch "$tmp/stop"
  wait "$pid"
  local after
  after=$(eval "$size_cmd")
  [ -z "${5:-}" ] || eval "$5"
  local compacted
  compacted=$(eval "$size_cmd")
  local secs removed_runs removed_events
  secs=$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
  removed_runs=$(sed -n 's/^removed \([0-9]*\) runs.*/\1/p' "$tmp/purge")
  removed_events=$(sed -n 's/^removed \([0-9]*\) events.*/\1/p' "$tmp/purge")
  {
    echo "== $name: $runs runs x $events events (filled in $(((t1 - t0) / 1000)) s)"
    echo "purge: $removed_runs runs, $removed_events events in $secs s:" \
      "$(awk -v r="$removed_runs" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') runs/s," \
      "$(awk -v e="$removed_events" -v s="$secs" 'BEGIN { printf "%.0f", e / s }') events/s"
    echo "live run's commits alone:        $(cat "$tmp/alone")"
    echo "live run's commits during purge: $(cat "$tmp/during")"
    echo "database size: before $before, after $after, after compaction $compacted"
  } | tee "$out/$name.txt"
}

bench_one sqlite "sqlite:$tmp/sqlite/weft.db" \
  "echo \"\$(du -b $tmp/sqlite/weft.db | cut -f1) bytes (file; \$(sqlite3 $tmp/sqlite/weft.db 'PRAGMA freelist_count') free pages)\"" \
  "sqlite: {path: weft.db}" "sqlite3 $tmp/sqlite/weft.db VACUUM"
if [ -n "${WEFT_BENCH_PG_URL:-}" ]; then
  psql -q "$WEFT_BENCH_PG_URL" -c 'DROP SCHEMA IF EXISTS weft_bench_retention CASCADE; CREATE SCHEMA weft_bench_retention' >/dev/null
  sep='?'
  case $WEFT_BENCH_PG_URL in *\?*) sep='&' ;; esac
  pg="$WEFT_BENCH_PG_URL${sep}options=-csearch_path%3Dweft_bench_retention"
  bench_one postgres "$pg" \
    "psql -Atq '$WEFT_BENCH_PG_URL' -c \"select pg_size_pretty(sum(pg_total_relation_size(c.oid))) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'weft_bench_retention' and c.relkind in ('r','i','t')\"" \
    "postgres: {url: \"$pg\"}" \
    "psql -q '$pg' -c 'VACUUM FULL events' -c 'VACUUM FULL steps' -c 'VACUUM FULL runs' >/dev/null"
  psql -q "$WEFT_BENCH_PG_URL" -c 'DROP SCHEMA weft_bench_retention CASCADE' >/dev/null
fi
