#!/usr/bin/env bash
# t0097-ui-login: the web UI's login page in headless Chromium
# (tests/browser/login.test.mjs) against two `weft server`s with
# authentication: one with the default session lifetime, one whose
# weft.yaml says auth.session_idle: 3s. Logging in and out, who is shown,
# what the role sees, the HttpOnly cookie, the old cookie refused after
# logout, an expired session back on the login page. Skipped without node,
# chromium and playwright-core (scripts/test installs them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

why=$(browser_missing)
if [ -n "$why" ]; then
  skip "the login page in a browser: $why"
  test_done
fi

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
pass=the-ui-password

# serve HOME VAR: starts weft server on a free port of 127.0.0.1 for the
# instance at HOME (with the users ui-viewer and ui-admin) and sets VAR to
# its URL.
serve() {
  local home=$1 var=$2 pid u=
  mkdir -p "$home"
  for who in viewer admin; do
    printf '%s\n' "$pass" | WEFT_HOME=$home "$WEFT_BIN" user add "ui-$who" --role "$who" \
      >/dev/null 2>"$tmp/err" || not_ok "weft user add ui-$who" "$(cat "$tmp/err")"
  done
  WEFT_HOME=$home "$WEFT_BIN" server --listen 127.0.0.1:0 -w "$tmp/workspace.yaml" \
    >"$home.out" 2>"$home.err" &
  pid=$!
  at_exit "kill $pid; wait $pid"
  for _ in $(seq 200); do
    u=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$home.out" | head -n 1)
    [ -n "$u" ] && break
    sleep 0.05
  done
  check_has "weft server for $(basename "$home") started" "http://127.0.0.1:" "$u"
  printf -v "$var" '%s' "$u"
}
serve "$tmp/main" main_url
mkdir -p "$tmp/short"
printf 'auth:\n  session_idle: 3s\n' >"$tmp/short/weft.yaml"
serve "$tmp/short" short_url

WEFT_UI_URL=$main_url WEFT_UI_SHORT_URL=$short_url WEFT_UI_PASS=$pass CHROMIUM=$chromium \
  timeout 180 node "$browser_dir/login.test.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
browser_report $?

WEFT_HOME=$tmp/main "$WEFT_BIN" audit --limit 1000 >"$tmp/audit" 2>&1
check_has "the audit log has the failed login from the page, with the address and why" \
  "127.0.0.1       POST /api/v1/login: wrong password for 'ui-viewer'" "$(cat "$tmp/audit")"
if grep -q "Sanitizer\|runtime error" "$tmp/main.err" "$tmp/short.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/main.err" "$tmp/short.err")"
else
  ok "no sanitizer reports"
fi
test_done
