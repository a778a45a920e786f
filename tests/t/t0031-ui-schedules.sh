#!/usr/bin/env bash
# t0031-ui-schedules: the Schedules and Sensors pages of the web UI in a
# real browser. Starts `weft server` on a free port of 127.0.0.1 with a
# workspace holding two schedules and a file sensor, lets
# `weft scheduler --once --now T` tick them, then runs
# tests/browser/schedules.test.mjs (headless Chromium through
# playwright-core): the lists with state, next tick (local and schedule
# zone) and last tick; a schedule toggled off stays off after a reload; a
# schedule's next ticks and tick history with run links; the sensor's
# cursor and evaluations. Screenshots land in tests/out/screenshots/.
# Skipped without node, Debian's chromium or playwright-core (scripts/test
# installs them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

shots=$WEFT_SRC/tests/out/screenshots

why=$(browser_missing)
if [ -n "$why" ]; then
  skip "the schedules pages in a browser: $why"
  test_done
fi

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkdir -p "$tmp/loc/schedules" "$tmp/loc/sensors" "$tmp/loc/in"
printf 'job: hello\ncron: "*/5 * * * *"\ntimezone: Europe/Amsterdam\ndefault: on\n' \
  >"$tmp/loc/schedules/often.yaml"
printf 'job: hello\ncron: "0 0 1 1 *"\ntimezone: America/New_York\ndefault: off\n' \
  >"$tmp/loc/schedules/yearly.yaml"
printf 'kind: file\njob: hello\nglob: "in/*.csv"\ninterval: 30s\ndefault: on\n' \
  >"$tmp/loc/sensors/drop.yaml"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"

# Ticks before the browser looks: `often` at the latest 5-minute mark
# 11 and 16 minutes ahead, the sensor sees in/one.csv.
"$WEFT_BIN" schedule on often -w "$tmp/workspace.yaml" >/dev/null 2>&1
"$WEFT_BIN" sensor on drop -w "$tmp/workspace.yaml" >/dev/null 2>&1
printf 'a\n1\n' >"$tmp/loc/in/one.csv"
for ahead in 660 960; do
  t=$(python3 -c 'import sys, time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + int(sys.argv[1]))))' "$ahead")
  expect_exit -m "weft scheduler --once --now $t" 0 \
    "$WEFT_BIN" scheduler --once --now "$t" -w "$tmp/workspace.yaml"
done

port=$(free_port)
url=http://127.0.0.1:$port
"$WEFT_BIN" server --no-auth --listen "127.0.0.1:$port" -w "$tmp/workspace.yaml" >"$tmp/server.log" 2>&1 &
server_pid=$!
at_exit "kill $server_pid; wait $server_pid"
up=
for _ in $(seq 1 100); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1)' "$url" 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$up" ]; then ok "weft server answers on $url"; else
  not_ok "weft server answers on $url" "$(tail -n 20 "$tmp/server.log")"
  test_done
fi

mkdir -p "$shots"
WEFT_UI_URL=$url WEFT_UI_SHOTS=$shots CHROMIUM=$chromium \
  timeout 180 node "$browser_dir/schedules.test.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
ui_rc=$?
browser_report "$ui_rc" "screenshot: $shots/schedules-failure.png" \
  "server log (last lines):" "$(tail -n 15 "$tmp/server.log")"
[ -s "$shots/schedule.png" ] || [ "$ui_rc" -ne 0 ] ||
  not_ok "screenshots saved under tests/out/screenshots"

# Runs the scheduler started go on in coordinators of their own: let them
# end before the folder goes.
for _ in $(seq 1 300); do
  busy=$(python3 -c 'import json, sys, urllib.request; print(len(json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/runs?status=queued,started,canceling"))["runs"]))' "$url" 2>/dev/null)
  [ "$busy" = 0 ] && break
  sleep 0.1
done
test_done
