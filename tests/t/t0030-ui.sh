#!/usr/bin/env bash
# t0030-ui: the web UI in a real browser. Starts `weft dev` on a free port
# of 127.0.0.1 with a fresh WEFT_HOME, on a copy of examples/ plus the
# uitest location (tests/browser/fixtures/uitest), and runs
# tests/browser/ui.test.mjs: headless Chromium driven by playwright-core
# launches jobs from their pages, watches them succeed or fail, reads step
# logs, fixes a failing job and re-executes it from the failure, cancels a
# live run. Screenshots of each page land in tests/out/screenshots/.
# Needs node, Debian's chromium and tests/browser/node_modules/playwright-core
# (scripts/test installs all three); skipped without them.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

shots=$WEFT_SRC/tests/out/screenshots

why=$(browser_missing)
[ -n "$why" ] || "$WEFT_BIN" dev --help >/dev/null 2>&1 || why="this weft has no 'dev' command"
if [ -n "$why" ]; then
  skip "the web UI in a browser: $why"
  test_done
fi

# The workspace: the examples and the uitest location, in a scratch copy
# (the test writes a file into uitest/ to fix its failing job).
if ! { cp -r "$examples" "$tmp/ws" && rm -rf "$tmp/ws/.weft" &&
  cp -r "$browser_dir/fixtures/uitest" "$tmp/ws/uitest" &&
  printf '  - uitest\n' >>"$tmp/ws/workspace.yaml"; }; then
  echo "Bail out! cannot copy the workspace"
  exit 1
fi
expect_exit -m "the test workspace is valid" 0 "$WEFT_BIN" validate -w "$tmp/ws/workspace.yaml"
# The secret uitest's leak job echoes: the UI must show it as ***.
ui_secret=ui-secret-t0030-$$-value
printf '%s' "$ui_secret" >"$tmp/ui_secret"
expect_exit -m "its secret is set" 0 sh -c '"$1" secret set ui_token <"$2"' _ "$WEFT_BIN" "$tmp/ui_secret"

port=$(free_port)
url=http://127.0.0.1:$port
(cd "$tmp/ws" && exec "$WEFT_BIN" dev --listen "127.0.0.1:$port") >"$tmp/dev.log" 2>&1 &
dev_pid=$!
at_exit "kill $dev_pid; wait $dev_pid"

up=
for _ in $(seq 1 100); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1)' "$url" 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$up" ]; then ok "weft dev answers on $url"; else
  not_ok "weft dev answers on $url" "$(tail -n 20 "$tmp/dev.log")"
  test_done
fi

# Each "PASS name" / "FAIL name<TAB>detail" / "SKIP name" line of the
# browser test becomes one TAP test.
mkdir -p "$shots"
WEFT_UI_URL=$url WEFT_UI_LOCATION=$tmp/ws/uitest WEFT_UI_SHOTS=$shots CHROMIUM=$chromium \
  WEFT_UI_SECRET=$ui_secret \
  timeout 300 node "$browser_dir/ui.test.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
ui_rc=$?
browser_report "$ui_rc" "screenshot: $shots/failure.png" \
  "server log (last lines):" "$(tail -n 15 "$tmp/dev.log")"
[ -s "$shots/run-reexecuted.png" ] || [ "$ui_rc" -ne 0 ] ||
  not_ok "screenshots saved under tests/out/screenshots"

test_done
