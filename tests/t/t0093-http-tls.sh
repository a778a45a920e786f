#!/usr/bin/env bash
# t0093-http-tls: `weft server --tls-cert --tls-key` serves HTTPS (through
# libmicrohttpd's GnuTLS) that a client verifying a throwaway self-signed
# certificate accepts, with Strict-Transport-Security on every answer and
# the same authentication; plain HTTP on its port gets nowhere; a missing
# key, a key of another certificate, or only one of the two flags is an
# error; beyond loopback, TLS without authentication is still refused.
# (Nothing here listens beyond 127.0.0.0/8.)
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

if ! command -v openssl >/dev/null 2>&1; then
  skip "openssl is not installed (it makes the test's certificate)"
  test_done
fi
cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkcert() { # mkcert NAME: a self-signed certificate for 127.0.0.1 and localhost
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/$1.key" -out "$tmp/$1.pem" >/dev/null 2>&1
}
mkcert a && mkcert b && ok "two throwaway certificates" || not_ok "openssl made the certificates"

expect_exit -m "weft token create --role launcher" 0 "$WEFT_BIN" token create --role launcher
token=$out

"$WEFT_BIN" server --listen 127.0.0.1:0 --tls-cert "$tmp/a.pem" --tls-key "$tmp/a.key" -l "$tmp/loc" \
  >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!
at_exit "kill $pid; wait $pid"
url=
for _ in $(seq 200); do
  url=$(sed -n 's,.*\(https://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
check_has "weft server prints an https:// URL" "https://127.0.0.1:" "$url"

python3 - "$url" "$tmp/a.pem" "$tmp/b.pem" "$token" >"$tmp/py.out" 2>&1 <<'EOF'
import http.client, json, socket, ssl, sys, urllib.parse
url, ca, other, token = sys.argv[1:5]
u = urllib.parse.urlsplit(url)
def req(method, path, headers=None, body=None, cafile=ca):
    ctx = ssl.create_default_context(cafile=cafile)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=20)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out
def say(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else "\t" + str(detail)[:500]))
st, h, b = req("GET", "/healthz")
say("a client verifying the certificate reads /healthz over TLS", st == 200, (st, b))
say("with Strict-Transport-Security", "max-age=" in h.get("strict-transport-security", ""), h)
st, h, b = req("GET", "/api/v1/jobs")
say("authentication still applies (401)", st == 401, st)
auth = {"Authorization": "Bearer " + token}
st, h, b = req("GET", "/api/v1/jobs", auth)
say("a token reads the jobs over TLS", st == 200 and b"hello" in b, (st, b[:200]))
st, h, b = req("POST", "/api/v1/jobs/loc/hello/launch",
               dict(auth, **{"Content-Type": "application/json", "Origin": url}), "{}")
say("a same-origin https:// launch works", st == 201, (st, b[:200]))
st, h, b = req("POST", "/api/v1/jobs/loc/hello/launch",
               dict(auth, **{"Content-Type": "application/json",
                             "Origin": url.replace("https:", "http:") + ".evil.example"}), "{}")
say("a cross-origin one is still refused", st == 403, (st, b[:200]))
try:
    req("GET", "/healthz", cafile=other)
    say("a client trusting another certificate refuses the server", False, "it connected")
except ssl.SSLError:
    say("a client trusting another certificate refuses the server", True)
s = socket.create_connection((u.hostname, u.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
try:
    data = s.recv(4096)
except OSError:
    data = b""
s.close()
say("plain HTTP on the TLS port gets no answer", not data.startswith(b"HTTP/1.1 200"), data[:100])
EOF
while IFS= read -r line; do
  case "$line" in
    PASS\ *) ok "${line#PASS }" ;;
    FAIL\ *) line=${line#FAIL }; not_ok "${line%%$'\t'*}" "${line#*$'\t'}" ;;
    *) echo "# $line" ;;
  esac
done <"$tmp/py.out"
for _ in $(seq 300); do # the launched run ends before the folder goes
  [ -z "$("$WEFT_BIN" run list --status queued,started 2>/dev/null | grep -v '^no runs')" ] && break
  sleep 0.1
done
kill "$pid"
wait "$pid"
check_eq "the TLS server stops cleanly" 0 "$?"

# -- mistakes ---------------------------------------------------------------------------------
expect_exit -m "--tls-cert without --tls-key is a usage error" 2 \
  "$WEFT_BIN" server --listen 127.0.0.1:0 --tls-cert "$tmp/a.pem" -l "$tmp/loc"
check_has "saying they go together" "go together" "$err"
expect_exit -m "a missing key file is an error" 1 timeout 20 \
  "$WEFT_BIN" server --listen 127.0.0.1:0 --tls-cert "$tmp/a.pem" --tls-key "$tmp/none.key" -l "$tmp/loc"
check_has "naming it" "none.key" "$err"
expect_exit -m "the key of another certificate is an error" 1 timeout 20 \
  "$WEFT_BIN" server --listen 127.0.0.1:0 --tls-cert "$tmp/a.pem" --tls-key "$tmp/b.key" -l "$tmp/loc"
check_has "with a hint" "is the key the certificate's" "$err"
expect_exit -m "beyond loopback, TLS without authentication is refused" 1 timeout 20 \
  "$WEFT_BIN" server --listen 0.0.0.0:0 --no-auth --tls-cert "$tmp/a.pem" --tls-key "$tmp/a.key" -l "$tmp/loc"
check_has "saying why" "without authentication anyone who can reach it" "$err"
expect_exit -m "beyond loopback, authentication without TLS is refused" 1 timeout 20 \
  "$WEFT_BIN" server --listen 0.0.0.0:0 -l "$tmp/loc"
check_has "saying why" "without TLS passwords and tokens would cross the network in clear" "$err"
if grep -q "Sanitizer\|runtime error" "$tmp/server.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err")"
else
  ok "no sanitizer reports"
fi
test_done
