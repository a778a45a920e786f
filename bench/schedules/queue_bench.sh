#!/usr/bin/env bash
# queue_bench.sh: the run queue's figures (src/sched/run_queue.h):
#  1. admission throughput: 1,000 QUEUED runs admitted (claimed in one store
#     transaction per turn), on SQLite and PostgreSQL, in one turn
#     (no limit) and with max_concurrent_runs 50 (20 turns; admitted runs are
#     marked ended between turns); plus the explain `weft run list` does;
#  2. dequeue latency, launch -> coordinator started: `weft dev` with
#     run_queue limits (so API launches go through the queue and the
#     server's maintenance thread dequeues them), 50 launches one after the
#     other of a one-step job; created_ms -> started_ms (run_started), p50
#     and p99; the same for `weft launch --detach` (CLI -> queue -> server).
# Usage: bench/schedules/queue_bench.sh [N]  (env WEFT_BUILD: build folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WEFT_BUILD:-$root/build}
out=$root/bench/out/schedules
n=${1:-1000}
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" weft >/dev/null
mkdir -p "$out"
libs=""
for l in sched engine dsl store artifacts exec model util; do libs="$libs $build/libweft_$l.a"; done
# shellcheck disable=SC2046,SC2086
cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/include" -I"$root/src" \
  "$root/bench/schedules/queue_bench.c" $libs \
  $(pkg-config --cflags --libs sqlite3 libpq jansson yaml-0.1 libcurl libxml-2.0 libcrypto) \
  -lpthread -lm -o "$out/queue_bench"

work=$(mktemp -d /tmp/weft-bench-queue-XXXXXX)
pg=$(mktemp -d /tmp/weft-bench-queue-pg-XXXXXX)
server=
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  "$root/scripts/pg-server" stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work" "$pg"
}
trap cleanup EXIT
url=$("$root/scripts/pg-server" start "$pg")

{
  for store in sqlite postgres; do
    for m in 0 50; do
      home=$work/$store-$m
      mkdir -p "$home"
      [[ $store == postgres ]] && printf 'storage: {postgres: {url: "%s"}}\n' "$url" >"$home/weft.yaml"
      [[ $store == postgres ]] && psql "$url" -qc 'drop schema public cascade; create schema public' >/dev/null 2>&1 || true
      echo "== $store, $n queued runs, max_concurrent_runs $m"
      "$out/queue_bench" "$home" "$n" "$m"
    done
  done

  # Dequeue latency through the server.
  weft=$build/weft
  loc=$work/loc
  mkdir -p "$loc/ops" "$loc/jobs"
  printf 'noop: {run: "true"}\n' >"$loc/ops/noop.yaml"
  printf 'name: one\nops:\n  noop: {uses: noop}\n' >"$loc/jobs/one.yaml"
  export WEFT_HOME=$work/lat
  mkdir -p "$WEFT_HOME"
  printf 'run_queue:\n  max_concurrent_runs: 100\n' >"$WEFT_HOME/weft.yaml"
  "$weft" dev --listen 127.0.0.1:0 -l "$loc" >"$work/server.out" 2>"$work/server.err" &
  server=$!
  for _ in $(seq 200); do
    base=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$work/server.out" | head -n 1)
    [[ -n "$base" ]] && break
    sleep 0.05
  done
  python3 - "$base" "$weft" "$loc" <<'PY'
import json, subprocess, sys, time, urllib.request
base, weft, loc = sys.argv[1:4]
def req(method, path, body=None):
    r = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                               headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(r).read())
def wait(rid):
    while True:
        run = req("GET", "/api/v1/runs/" + rid)["run"]
        if run["status"] in ("success", "failure", "canceled"):
            return run
        time.sleep(0.01)
def stats(name, lat):
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print("%-44s p50 %6.1f ms  p99 %6.1f ms  (n=%d)" % (name, p(0.5), p(0.99), len(lat)))
lat = []
for i in range(50):
    rid = req("POST", "/api/v1/jobs/%s/one/launch" % loc.rsplit("/", 1)[1], {})["run_id"]
    run = wait(rid)
    lat.append(run["started_ms"] - run["created_ms"])
stats("latency, API launch -> run started", lat)
lat = []
for i in range(30):
    rid = subprocess.run([weft, "launch", "one", "-l", loc, "--detach"], capture_output=True, text=True).stdout.strip()
    run = wait(rid)
    lat.append(run["started_ms"] - run["created_ms"])
stats("latency, weft launch --detach -> run started", lat)
PY
  kill "$server"
  wait "$server" 2>/dev/null || true
} > >(tee "$out/table.txt")
