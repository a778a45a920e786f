#!/usr/bin/env bash
# t0064-schedules-api: schedules and sensors through the HTTP API of a live
# `weft server` (no scheduler in it, so nothing ticks by itself): the lists
# with state, next tick in the schedule's zone and last tick; a schedule's
# next-ticks preview; on/off stored across a server restart; the ticks
# `weft scheduler --once --now T` records showing up with their run ids,
# newest first, by pages; a file sensor's evaluations and cursor; 404s that
# say what is wrong, 400s for bad paging arguments; and under `weft dev`
# (scheduler included) a sensor turned on through the API evaluating live.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkdir -p "$tmp/loc/schedules" "$tmp/loc/sensors" "$tmp/loc/in"
cat >"$tmp/loc/schedules/often.yaml" <<'EOF'
job: hello
cron: "*/5 * * * *"
timezone: Europe/Amsterdam
default: on
description: Every five minutes.
EOF
cat >"$tmp/loc/schedules/yearly.yaml" <<'EOF'
job: hello
cron: "0 0 1 1 *"
timezone: America/New_York
default: off
EOF
cat >"$tmp/loc/sensors/drop.yaml" <<'EOF'
kind: file
job: hello
glob: "in/*.csv"
interval: 30s
default: off
EOF
cat >"$tmp/loc/sensors/fast.yaml" <<'EOF'
kind: file
job: hello
glob: "fast/*.txt"
interval: 1s
default: off
EOF
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
expect_exit -m "the workspace with schedules and a sensor is valid" 0 \
  "$WEFT_BIN" validate -w "$tmp/workspace.yaml"

# `weft server` on a free port (start_server runs `weft dev`, whose
# scheduler would tick on its own).
serve() {
  : >"$tmp/server.out"
  "$WEFT_BIN" server --no-auth --listen 127.0.0.1:0 -w "$tmp/workspace.yaml" >"$tmp/server.out" \
    2>"$tmp/server.err" &
  server_pid=$!
  at_exit "kill $server_pid; wait $server_pid"
  url=''
  for _ in $(seq 200); do
    url=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  sed 's/^/#   /' "$tmp/server.err"
  return 1
}

# scheduler_at SECONDS: one scheduler turn at the wall clock plus SECONDS.
scheduler_at() {
  local t
  t=$(python3 -c 'import sys, time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + int(sys.argv[1]))))' "$1")
  expect_exit -m "weft scheduler --once --now $t" 0 \
    "$WEFT_BIN" scheduler --once --now "$t" -w "$tmp/workspace.yaml"
}

serve || { not_ok "weft server starts"; test_done; }

py_checks <<'EOF'
import re, time
from datetime import datetime
from weft_http import check, client
c = client()
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")

def ms_of(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)

now = time.time() * 1000
r = c.get("/api/v1/schedules")
items = r.json.get("schedules", [])
check("GET /api/v1/schedules: 200, by name", r.status == 200
      and [s["name"] for s in items] == ["often", "yearly"], r)
often = items[0] if items else {}
check("a schedule has its job, location, cron and zone",
      often.get("job") == "hello" and often.get("location") == "loc"
      and often.get("cron") == "*/5 * * * *" and often.get("timezone") == "Europe/Amsterdam"
      and often.get("kind") == "schedule", often)
check("its state is the declared default until toggled",
      often.get("state") == "on" and often.get("state_stored") is False
      and items[1].get("state") == "off", items)
nt = often.get("next_tick_ms") or 0
check("next_tick_ms is the next multiple of 5 minutes",
      now < nt <= now + 300000 and nt % 300000 == 0, (now, nt))
check("next_tick is the same instant, ISO 8601 in the schedule's zone",
      ISO.match(often.get("next_tick") or "") and ms_of(often["next_tick"]) == nt
      and often["next_tick"][-6:] in ("+01:00", "+02:00"), often.get("next_tick"))
check("never ticked: last_tick is null", often.get("last_tick") is None, often)
check("an off schedule has no next tick", not items[1].get("next_tick_ms"), items[1])

r = c.get("/api/v1/schedules/often")
d = r.json
check("GET /api/v1/schedules/often: 200 with the schedule", r.status == 200
      and d.get("schedule", {}).get("name") == "often"
      and d["schedule"].get("catch_up") == "latest" and d["schedule"].get("description") == "Every five minutes.", r)
pv = d.get("preview", [])
check("the preview has the next 10 ticks, 5 minutes apart",
      len(pv) == 10 and pv[0]["tick_ms"] == nt
      and all(b["tick_ms"] - a["tick_ms"] == 300000 for a, b in zip(pv, pv[1:])), pv[:3])
check("preview times are ISO in the zone too", all(ms_of(p["tick"]) == p["tick_ms"] for p in pv), pv[:2])
check("no ticks yet", d.get("ticks") == [] and d.get("next_cursor") is None, d.get("ticks"))

d = c.get("/api/v1/schedules/yearly").json
pv = d.get("preview", [])
check("an off schedule still previews: midnight of 1 January in New York",
      len(pv) == 10 and pv[0]["tick"].endswith("-01-01T00:00:00-05:00"), pv[:1])

r = c.get("/api/v1/sensors")
ss = r.json.get("sensors", [])
check("GET /api/v1/sensors: 200 with the sensors", r.status == 200
      and [s["name"] for s in ss] == ["drop", "fast"], r)
drop = ss[0] if ss else {}
check("a sensor has its kind, interval, state and a null cursor",
      drop.get("kind") == "file" and drop.get("interval_s") == 30 and drop.get("state") == "off"
      and "cursor" in drop and drop["cursor"] is None and drop.get("last_evaluation") is None, drop)
r = c.get("/api/v1/sensors/drop")
check("GET /api/v1/sensors/drop: its glob and no evaluations", r.status == 200
      and r.json["sensor"].get("glob") == "in/*.csv" and r.json.get("ticks") == []
      and "run" not in r.json["sensor"], r)

# -- not found, bad arguments ------------------------------------------------------------
for method, path in [("GET", "/api/v1/schedules/nope"), ("GET", "/api/v1/schedules/nope/ticks"),
                     ("POST", "/api/v1/schedules/nope/on"), ("POST", "/api/v1/schedules/nope/off"),
                     ("GET", "/api/v1/sensors/nope"), ("POST", "/api/v1/sensors/nope/on")]:
    r = c.req(method, path)
    check("%s %s: 404 naming it" % (method, path), r.status == 404
          and "'nope'" in r.json.get("error", "") and r.json.get("details") == [], r)
r = c.get("/api/v1/schedules/drop")
check("a sensor's name under /schedules: 404 saying it is a sensor",
      r.status == 404 and "sensor" in r.json.get("error", ""), r)
r = c.post("/api/v1/sensors/often/on")
check("a schedule's name under /sensors: 404 saying it is a schedule, and nothing changed",
      r.status == 404 and "it is a schedule" in r.json.get("error", "")
      and c.get("/api/v1/schedules/often").json["schedule"]["state_stored"] is False, r)
r = c.get("/api/v1/schedules/often/on")
check("GET on an action: 405 with Allow: POST", r.status == 405 and r.headers.get("allow") == "POST", r)
for q in ("limit=0", "limit=501", "cursor=0", "cursor=abc"):
    r = c.get("/api/v1/schedules/often/ticks?" + q)
    check("ticks?%s: 400" % q, r.status == 400 and "error" in r.json, r)

# -- toggling ------------------------------------------------------------------------------
r = c.post("/api/v1/schedules/often/off")
check("POST /api/v1/schedules/often/off: 200 with the schedule off and stored",
      r.status == 200 and r.json.get("state") == "off" and r.json.get("state_stored") is True
      and r.json.get("name") == "often", r)
check("the list shows it off, with no next tick",
      [s["state"] for s in c.get("/api/v1/schedules").json["schedules"]] == ["off", "off"])
r = c.post("/api/v1/schedules/yearly/on")
check("POST /api/v1/schedules/yearly/on: 200, on, next tick on 1 January",
      r.status == 200 and r.json.get("state") == "on"
      and "-01-01T00:00:00-05:00" in (r.json.get("next_tick") or ""), r)
r = c.post("/api/v1/sensors/drop/on")
check("POST /api/v1/sensors/drop/on: 200 with the sensor on", r.status == 200
      and r.json.get("state") == "on" and r.json.get("interval_s") == 30, r)
r = c.post("/api/v1/sensors/drop/on")
check("turning on what is on: 200, still on", r.status == 200 and r.json.get("state") == "on", r)
EOF

# The CLI reads the same stored state.
expect_exit -m "weft schedule list --format json" 0 \
  "$WEFT_BIN" schedule list --format json -w "$tmp/workspace.yaml" &&
  check_py "the CLI sees often off and yearly on" '
import json, sys
d = json.load(open(sys.argv[1]))
l = d if isinstance(d, list) else d.get("schedules", [])
got = sorted((s["name"], s["state"]) for s in l)
print("ok" if got == [("often", "off"), ("yearly", "on")] else got)'


stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
serve || { not_ok "weft server starts again"; test_done; }

py_checks <<'EOF'
from weft_http import check, client
c = client()
st = {s["name"]: s["state"] for s in c.get("/api/v1/schedules").json.get("schedules", [])}
check("after a restart: often still off, yearly still on", st == {"often": "off", "yearly": "on"}, st)
se = c.get("/api/v1/sensors/drop").json.get("sensor", {})
check("after a restart: the sensor still on", se.get("state") == "on", se)
r = c.post("/api/v1/schedules/often/on")
check("often on again", r.status == 200 and r.json.get("state") == "on", r)
EOF

# Two scheduler turns, 11 and 16 minutes ahead: often ticks (the latest
# missed tick each time), the sensor finds the file it waits for.
printf 'a,b\n1,2\n' >"$tmp/loc/in/one.csv"
scheduler_at 660
scheduler_at 960

py_checks <<'EOF'
from weft_http import check, client, wait_all
c = client()
d = c.get("/api/v1/schedules/often").json
ticks = d.get("ticks", [])
check("the schedule's detail lists the ticks, newest first", len(ticks) >= 2
      and all(a["tick_ms"] > b["tick_ms"] for a, b in zip(ticks, ticks[1:])), ticks)
ok = [t for t in ticks if t["status"] == "success"]
check("each successful tick names its run", len(ok) >= 2
      and all(t["run_id"] and t["run_ids"] == [t["run_id"]] for t in ok), ticks)
check("tick times are on the 5-minute grid, ISO in the zone",
      all(t["tick_ms"] % 300000 == 0 and t["tick"][-6:] in ("+01:00", "+02:00") for t in ticks), ticks)
for t in ok:
    r = c.get("/api/v1/runs/" + t["run_id"])
    check("run %s of the tick exists, of job hello" % t["run_id"], r.status == 200
          and r.json["run"]["job"] == "hello", r)
last = [s for s in c.get("/api/v1/schedules").json["schedules"] if s["name"] == "often"][0]["last_tick"]
check("the list's last_tick is the newest tick, with its run", last == ticks[0], (last, ticks[:1]))

# Pages: one at a time, following next_cursor.
p1 = c.get("/api/v1/schedules/often/ticks?limit=1").json
check("ticks?limit=1: the newest, and a cursor", p1.get("ticks") == ticks[:1]
      and p1.get("next_cursor") == ticks[0]["tick_ms"], p1)
seen, cur = [], None
while True:
    p = c.get("/api/v1/schedules/often/ticks?limit=1" + ("&cursor=%d" % cur if cur else "")).json
    seen += p.get("ticks", [])
    cur = p.get("next_cursor")
    if not cur or len(seen) > 100:
        break
check("following next_cursor reads every tick once", seen == c.get("/api/v1/schedules/often/ticks").json["ticks"]
      and [t["tick_ms"] for t in seen] == [t["tick_ms"] for t in ticks], [t["tick_ms"] for t in seen])
y = c.get("/api/v1/schedules/yearly").json
check("yearly did not tick", y.get("ticks") == [] and y["schedule"]["last_tick"] is None, y.get("ticks"))

s = c.get("/api/v1/sensors/drop").json
ev = s.get("ticks", [])
hits = [t for t in ev if t["run_ids"]]
check("the sensor's evaluations are listed, one launched a run", ev and len(hits) == 1
      and all(t["kind"] == "sensor" and t["tick"].endswith("Z") for t in ev), ev)
check("its last_evaluation is the newest and its cursor is set",
      s["sensor"].get("last_evaluation") == ev[0] and s["sensor"].get("cursor") is not None, s["sensor"])
if hits:
    r = c.get("/api/v1/runs/" + hits[0]["run_id"])
    check("the sensor's run exists", r.status == 200 and r.json["run"]["job"] == "hello", r)
check("every run the scheduler launched has ended (or waits in the queue)", wait_all(c, 90))
EOF

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"

# `weft dev` runs the scheduler itself: a sensor turned on through the API
# sees a file appear and its evaluation, with the run, shows up live.
start_server -w "$tmp/workspace.yaml" || { not_ok "weft dev starts"; test_done; }
py_checks "$tmp" <<'EOF'
import os, sys, time
from weft_http import check, client, wait_all
c = client()
r = c.post("/api/v1/sensors/fast/on")
check("weft dev: POST /api/v1/sensors/fast/on", r.status == 200 and r.json.get("state") == "on", r)
os.makedirs(sys.argv[2] + "/loc/fast", exist_ok=True)
with open(sys.argv[2] + "/loc/fast/a.txt", "w") as f:
    f.write("x\n")
t0, hit, ev = time.time(), None, []
while time.time() - t0 < 20 and not hit:
    ev = c.get("/api/v1/sensors/fast/ticks").json.get("ticks", [])
    hit = next((t for t in ev if t["run_ids"]), None)
    time.sleep(0.1)
check("weft dev: the evaluation that saw the file is listed with its run",
      hit is not None, ev)
if hit:
    r = c.get("/api/v1/runs/" + hit["run_id"])
    check("weft dev: that run exists", r.status == 200, r)
r = c.post("/api/v1/sensors/fast/off")
check("weft dev: POST /api/v1/sensors/fast/off", r.status == 200 and r.json.get("state") == "off", r)
check("weft dev: every run has ended", wait_all(c, 90))
EOF
stop_server
check_eq "weft dev stops cleanly" 0 "$server_rc"
test_done
