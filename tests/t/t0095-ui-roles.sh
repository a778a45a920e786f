#!/usr/bin/env bash
# t0095-ui-roles: the web UI of a `weft server` with authentication in
# headless Chromium, signed in (HTTP Basic) as a viewer, a launcher, an
# operator and an admin in turn (tests/browser/roles.test.mjs): each sees
# the page and only what its role may do. Skipped without node, chromium
# and playwright-core (scripts/test installs them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

why=$(browser_missing)
if [ -n "$why" ]; then
  skip "the web UI by role in a browser: $why"
  test_done
fi

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkdir -p "$tmp/loc/schedules"
printf 'job: hello\ncron: "0 0 1 1 *"\ndefault: off\n' >"$tmp/loc/schedules/yearly.yaml"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
for role in viewer launcher operator admin; do
  printf '%s\n' "pass-of-$role" | "$WEFT_BIN" user add "ui-$role" --role "$role" >/dev/null 2>"$tmp/err" ||
    not_ok "weft user add ui-$role" "$(cat "$tmp/err")"
done

"$WEFT_BIN" server --listen 127.0.0.1:0 -w "$tmp/workspace.yaml" >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!
at_exit "kill $pid; wait $pid"
url=
for _ in $(seq 200); do
  url=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
check_has "weft server (authentication on) started" "http://127.0.0.1:" "$url"

for role in viewer launcher operator admin; do
  WEFT_UI_URL=$url WEFT_UI_USER=ui-$role WEFT_UI_PASS=pass-of-$role WEFT_UI_ROLE=$role \
    CHROMIUM=$chromium timeout 180 node "$browser_dir/roles.test.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
  browser_report $?
done
if grep -q "Sanitizer\|runtime error" "$tmp/server.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err")"
else
  ok "no sanitizer reports"
fi
test_done
