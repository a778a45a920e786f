#!/usr/bin/env bash
# t0094-http-proxy: single sign-on through a trusted reverse proxy
# (oauth2-proxy and the like): weft.yaml's auth.proxy_header names the user
# the proxy vouches for, believed only from auth.trusted_proxies. The user
# must exist (weft user add NAME --role R --no-password) and gets its role;
# the same header from an address not listed is ignored (401); bad auth:
# settings are errors at their line:col.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
expect_exit -m "weft user add sso-ann --role launcher --no-password" 0 \
  "$WEFT_BIN" user add sso-ann --role launcher --no-password </dev/null
expect_exit -m "weft user add sso-vic --role viewer --no-password" 0 \
  "$WEFT_BIN" user add sso-vic --role viewer --no-password </dev/null

serve() { # serve NAME: weft server with the current weft.yaml; sets url
  "$WEFT_BIN" server --listen 127.0.0.1:0 -l "$tmp/loc" >"$tmp/$1.out" 2>"$tmp/$1.err" &
  pid=$!
  at_exit "kill $pid"
  url=
  for _ in $(seq 200); do
    url=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$tmp/$1.out" | head -n 1)
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  not_ok "weft server starts" "$(cat "$tmp/$1.err")"
}
checks() { # checks: Python on stdin, with check() lines turned into TAP
  local line
  while IFS= read -r line; do
    case "$line" in
      PASS\ *) ok "${line#PASS }" ;;
      FAIL\ *) line=${line#FAIL }; not_ok "${line%%$'\t'*}" "${line#*$'\t'}" ;;
      *) echo "# $line" ;;
    esac
  done < <(PYTHONPATH="$WEFT_SRC/tests/t" python3 - "$url" 2>&1)
}

printf 'auth:\n  proxy_header: X-Forwarded-User\n  trusted_proxies: [127.0.0.1, "::1"]\n' \
  >"$WEFT_HOME/weft.yaml"
serve trusted
checks <<'EOF'
from weft_http import check, client
c = client()
ann, vic = {"X-Forwarded-User": "sso-ann"}, {"X-Forwarded-User": "sso-vic"}
r = c.get("/api/v1/jobs", headers=ann)
check("the proxy's X-Forwarded-User signs sso-ann in", r.status == 200, r)
r = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=ann)
check("with her role: she launches (201)", r.status == 201, r)
run = c.get("/api/v1/runs/" + r.json.get("run_id", "x"), headers=ann).json.get("run", {})
check("the run says she launched it", run.get("tags", {}).get("weft/launched_by") == "user:sso-ann", run)
r = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=vic)
check("sso-vic, a viewer, may not (403)", r.status == 403, r)
r = c.get("/api/v1/jobs", headers={"X-Forwarded-User": "mallory"})
check("a user weft does not know is refused (403), saying how to add one",
      r.status == 403 and "weft user add mallory" in r.json.get("error", ""), r)
r = c.get("/api/v1/jobs")
check("without the header the usual credentials are needed (401)", r.status == 401, r)
import base64
r = c.get("/api/v1/jobs", headers={"Authorization": "Basic " + base64.b64encode(b"sso-ann:").decode()})
check("a --no-password user has no password to try (401)", r.status == 401, r)
import time
deadline = time.time() + 60
while time.time() < deadline:
    if c.get("/api/v1/runs?status=queued,started&limit=1", headers=ann).json.get("runs") == []:
        break
    time.sleep(0.1)
EOF
kill "$pid"
wait "$pid"
check_eq "the server stops cleanly" 0 "$?"

# The same header from an address that is not a trusted proxy is a lie.
printf 'auth:\n  proxy_header: X-Forwarded-User\n  trusted_proxies: [10.9.9.0/24]\n' \
  >"$WEFT_HOME/weft.yaml"
serve untrusted
checks <<'EOF'
from weft_http import check, client
c = client()
r = c.get("/api/v1/jobs", headers={"X-Forwarded-User": "sso-ann"})
check("from an address not in trusted_proxies the header is ignored (401)", r.status == 401, r)
EOF
kill "$pid"
wait "$pid"

printf 'auth:\n  proxy_header: "X Forwarded"\n  trusted_proxies: [127.0.0.1, 300.1.1.1, "10.0.0.0/33"]\n  bogus: 1\n' \
  >"$WEFT_HOME/weft.yaml"
expect_exit -m "bad auth settings stop weft server" 1 timeout 20 \
  "$WEFT_BIN" server --listen 127.0.0.1:0 -l "$tmp/loc"
check_has "a bad header name at its line:col" "weft.yaml:2:17: error: auth.proxy_header must be a header name" "$err"
check_has "an unknown key" "weft.yaml:4:3: error: unknown key 'bogus' in auth" "$err"
printf 'auth:\n  proxy_header: X-Forwarded-User\n  trusted_proxies: [127.0.0.1, 300.1.1.1, "10.0.0.0/33"]\n' \
  >"$WEFT_HOME/weft.yaml"
expect_exit -m "bad proxy addresses stop weft server" 1 timeout 20 \
  "$WEFT_BIN" server --listen 127.0.0.1:0 -l "$tmp/loc"
check_has "an address that is none" "auth.trusted_proxies[1] must be an address or a block" "$err"
check_has "a block too wide" "auth.trusted_proxies[2]" "$err"
printf 'auth:\n  proxy_header: X-Forwarded-User\n' >"$WEFT_HOME/weft.yaml"
expect_exit -m "a proxy header without trusted proxies is refused" 1 timeout 20 \
  "$WEFT_BIN" server --listen 127.0.0.1:0 -l "$tmp/loc"
check_has "saying why" "from anywhere else the header is a lie" "$err"
if grep -q "Sanitizer\|runtime error" "$tmp"/*.err; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp"/*.err)"
else
  ok "no sanitizer reports"
fi
test_done
