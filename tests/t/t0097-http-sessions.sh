#!/usr/bin/env bash
# t0097-http-sessions: login sessions of `weft server` (POST /api/v1/login,
# /api/v1/logout, the weft_session cookie) over plain HTTP and TLS: the
# cookie's flags (HttpOnly, SameSite=Strict, Path=/, Secure under TLS);
# the session stands for its user's current role, needs the same Origin
# and JSON checks as any state-changing request (login CSRF too); logout,
# a password change and the user's removal end it at once; it survives a
# restart and, on PostgreSQL, works on another server of the instance;
# auth.session_ttl and auth.session_idle end it; failed logins are in the
# audit log with the address and why, and repeated failures are slowed
# down (429 with Retry-After).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
for u in alice:launcher vera:viewer; do
  printf '%s-password\n' "${u%%:*}" | "$WEFT_BIN" user add "${u%%:*}" --role "${u#*:}" >/dev/null 2>"$tmp/err" ||
    not_ok "weft user add ${u%%:*}" "$(cat "$tmp/err")"
done

# serve [ARGS...]: weft server on a free port of 127.0.0.1 (plain HTTP
# unless ARGS say --tls-cert), its URL in $url and pid in $server_pid.
serve() {
  : >"$tmp/server.out"
  "$WEFT_BIN" server --listen 127.0.0.1:0 -w "$tmp/workspace.yaml" "$@" \
    >"$tmp/server.out" 2>>"$tmp/server.err" &
  server_pid=$!
  at_exit "kill $server_pid; wait $server_pid"
  url=
  for _ in $(seq 200); do
    url=$(sed -n 's,.*\(https*://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  not_ok "weft server $* started" "$(cat "$tmp/server.err")"
}

serve
py_checks "$tmp" <<'PYEOF'
import json, subprocess, sys, time
from weft_http import check, client
c = client()
tmp = sys.argv[2]
me = "http://%s:%d" % (c.host, c.port)
J = {"Origin": me}
def login(user, password, headers=J):
    return c.post("/api/v1/login", {"user": user, "password": password}, headers=headers)
def cookie_of(r):
    sc = r.headers.get("set-cookie", "")
    return sc.split(";")[0].split("=", 1)[1] if sc.startswith("weft_session=") else None
def with_cookie(v, **h):
    return dict(h, Cookie="theme=dark; weft_session=%s" % v)

r = login("alice", "alice-password")
sc = r.headers.get("set-cookie", "")
attrs = [a.strip() for a in sc.split(";")]
check("a login answers 200 with who and role", r.status == 200 and r.json.get("who") == "user:alice"
      and r.json.get("role") == "launcher" and r.json.get("expires_ms", 0) > time.time() * 1000, r)
check("the cookie is HttpOnly, SameSite=Strict, Path=/, for 12 h", "HttpOnly" in attrs and
      "SameSite=Strict" in attrs and "Path=/" in attrs and "Max-Age=43200" in attrs, sc)
check("no Secure flag without TLS (the browser would never send it back)", "Secure" not in attrs, sc)
check("the answer is not cached", r.headers.get("cache-control") == "no-store", r.headers)
alice = cookie_of(r)
open(tmp + "/alice.cookie", "w").write(alice)
check("the session id is 64 hex characters", alice and len(alice) == 64, alice)
db = subprocess.run(["python3", "-c", "import sqlite3,sys;print('\\n'.join(r[0]+' '+r[1] for r in "
                     "sqlite3.connect(sys.argv[1]).execute(\"select key, value from kv where key like "
                     "'weft.auth.session.%'\")))", tmp + "/home/weft.db"], capture_output=True, text=True).stdout
check("storage keeps only the session id's hash", "weft.auth.session." in db and alice not in db, db[:300])

r = c.get("/api/v1/me", headers=with_cookie(alice))
check("the cookie stands for alice (GET /api/v1/me)", r.status == 200 and r.json == {
      "auth": True, "who": "user:alice", "role": "launcher", "session": True}, r)
r = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=with_cookie(alice, Origin=me))
check("alice launches with her session (201)", r.status == 201, r)
run = c.get("/api/v1/runs/" + r.json.get("run_id", "x"), headers=with_cookie(alice)).json.get("run", {})
check("the run says alice launched it", run.get("tags", {}).get("weft/launched_by") == "user:alice", run)
r = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=with_cookie(alice, Origin="http://evil.example"))
check("a cross-origin POST with the cookie is refused (403)", r.status == 403 and "cross-origin" in r.json.get("error", ""), r)
r = c.post("/api/v1/jobs/loc/hello/launch", "{}", headers=with_cookie(alice, Origin=me, **{"Content-Type": "text/plain"}))
check("a text/plain POST with the cookie is refused (403)", r.status == 403 and "Content-Type" in r.json.get("error", ""), r)
r = c.post("/api/v1/locations/reload", {}, headers=with_cookie(alice, Origin=me))
check("the session has alice's role only (403 on an admin route)", r.status == 403 and "needs the role admin" in r.json.get("error", ""), r)

# login CSRF: another site cannot sign the browser in as someone else
r = login("vera", "vera-password", headers={"Origin": "http://evil.example"})
check("a cross-origin login is refused (403), no cookie", r.status == 403 and not cookie_of(r), r)
r = c.post("/api/v1/login", "user=vera&password=vera-password",
           headers={"Origin": me, "Content-Type": "application/x-www-form-urlencoded"})
check("a form-encoded login is refused (403)", r.status == 403, r)

# failed logins: one answer for both, and in the audit log with why
r1, r2 = login("alice", "wrong-password"), login("nobody", "wrong-password")
check("a wrong password is 401 'wrong user name or password', no cookie",
      r1.status == 401 and r1.json.get("error") == "wrong user name or password" and not cookie_of(r1), r1)
check("an unknown user gets the very same answer", r2.status == 401 and r2.json == r1.json, r2)
check("a browser's failed login has no Basic challenge", "Basic" not in
      login("alice", "x", headers=dict(J, **{"Sec-Fetch-Mode": "cors"})).headers.get("www-authenticate", ""))
r = login("alice", None)
check("a login without a password is 400 naming the field", r.status == 400 and
      r.json.get("details", [{}])[0].get("field") == "password", r)
tok = subprocess.run([__import__("os").environ["WEFT_BIN"], "token", "create", "--role", "admin"],
                     capture_output=True, text=True).stdout.strip()
entries = c.get("/api/v1/audit?limit=50", headers={"Authorization": "Bearer " + tok}).json.get("entries", [])
def audited(detail):
    return [e for e in entries if e["action"] == "POST /api/v1/login" and e["status"] == 401
            and e["source"] == "127.0.0.1" and detail in (e.get("detail") or "")]
check("the audit log has the failed login, its address and why (wrong password)",
      audited("wrong password for 'alice'"), entries[:6])
check("... and the unknown user", audited("no user 'nobody'"), entries[:6])
check("... and the successful login, by whom",
      any(e["action"] == "POST /api/v1/login" and e["status"] == 200 and e["who"] == "user:alice" for e in entries))

# logout ends the session on the server
r = login("vera", "vera-password")
vera = cookie_of(r)
r = c.post("/api/v1/logout", None, headers=with_cookie(vera, Origin=me))
sc = r.headers.get("set-cookie", "")
check("logout answers 200 and clears the cookie", r.status == 200 and sc.startswith("weft_session=;")
      and "Max-Age=0" in sc, (r, sc))
r = c.get("/api/v1/me", headers=with_cookie(vera))
check("after logout the old cookie is 401", r.status == 401 and "no such session" in r.json.get("error", ""), r)
r = c.post("/api/v1/logout", None, headers=with_cookie(vera, Origin=me))
check("logging out twice is fine (200)", r.status == 200, r)
r = c.get("/api/v1/me", headers=with_cookie("0" * 64))
check("an unknown session id is 401", r.status == 401, r)
for bad in ["", "x", "A" * 64, "0" * 65, "0" * 63 + "g", "0" * 5000]:
    r = c.get("/api/v1/me", headers=with_cookie(bad))
    if r.status != 401:
        break
check("malformed cookies are 401", r.status == 401, r)

# a password change and a removal end the user's sessions at once
r = login("vera", "vera-password")
vera = cookie_of(r)
p = subprocess.run([__import__("os").environ["WEFT_BIN"], "user", "passwd", "vera"], input="vera-password-2\n",
                   capture_output=True, text=True)
r = c.get("/api/v1/me", headers=with_cookie(vera))
check("a password change ends the user's sessions (401 at once)", p.returncode == 0 and r.status == 401
      and "password change" in r.json.get("error", ""), (p.stderr, r))
vera = cookie_of(login("vera", "vera-password-2"))
p = subprocess.run([__import__("os").environ["WEFT_BIN"], "user", "remove", "vera"], capture_output=True, text=True)
r = c.get("/api/v1/me", headers=with_cookie(vera))
check("removing the user ends them too", p.returncode == 0 and r.status == 401
      and "removed user" in r.json.get("error", ""), (p.stderr, r))

# What the server verified lately is kept (no storage read per request),
# yet a change made on this machine takes effect at once.
WEFT = __import__("os").environ["WEFT_BIN"]
tok = subprocess.run([WEFT, "token", "create", "--role", "viewer"], capture_output=True, text=True).stdout.strip()
bearer = {"Authorization": "Bearer " + tok}
seen = [c.get("/api/v1/me", headers=bearer).status for _ in range(3)]
subprocess.run([WEFT, "token", "revoke", tok.split("_")[1]], capture_output=True, check=True)
r = c.get("/api/v1/me", headers=bearer)
check("a token used a moment ago is refused right after its revocation", seen == [200] * 3 and
      r.status == 401 and "revoked" in r.json.get("error", ""), (seen, r))
subprocess.run([WEFT, "user", "add", "walt", "--role", "viewer"], input="walt-password\n", text=True, check=True,
               capture_output=True)
walt = cookie_of(login("walt", "walt-password"))
seen = [c.get("/api/v1/me", headers=with_cookie(walt)).status for _ in range(3)]
subprocess.run([WEFT, "user", "passwd", "walt"], input="walt-password-2\n", text=True, check=True, capture_output=True)
r = c.get("/api/v1/me", headers=with_cookie(walt))
check("a session used a moment ago ends right after a password change", seen == [200] * 3 and r.status == 401, (seen, r))
walt = cookie_of(login("walt", "walt-password-2"))
basic = {"Authorization": "Basic " + __import__("base64").b64encode(b"walt:walt-password-2").decode()}
seen = [c.get("/api/v1/me", headers=h).status for h in (with_cookie(walt), basic) * 2]
subprocess.run([WEFT, "user", "remove", "walt"], check=True, capture_output=True)
r1, r2 = c.get("/api/v1/me", headers=with_cookie(walt)), c.get("/api/v1/me", headers=basic)
check("and a removal ends both its session and its password at once", seen == [200] * 4 and
      r1.status == 401 and r2.status == 401, (seen, r1, r2))
PYEOF

# -- a restart keeps the sessions -----------------------------------------------------
stop_server
serve
py_checks "$tmp" <<'PYEOF'
import sys
from weft_http import check, client
c = client()
alice = open(sys.argv[2] + "/alice.cookie").read()
r = c.get("/api/v1/me", headers={"Cookie": "weft_session=" + alice})
check("a session survives a server restart", r.status == 200 and r.json.get("who") == "user:alice", r)
PYEOF
stop_server

# -- auth.session_ttl and auth.session_idle -------------------------------------------------
# An idle time of 6 s: a loaded machine can stall the client for seconds
# between two requests of a session in use.
printf 'auth:\n  session_ttl: 14s\n  session_idle: 6s\n' >"$WEFT_HOME/weft.yaml"
serve
py_checks "$tmp" <<'PYEOF'
import time
from weft_http import check, client
c = client()
me = "http://%s:%d" % (c.host, c.port)
def login():
    r = c.post("/api/v1/login", {"user": "alice", "password": "alice-password"}, headers={"Origin": me})
    return r, r.headers.get("set-cookie", "").split(";")[0].split("=", 1)[1], r.json.get("expires_ms", 0) / 1000
def me_of(s):
    return c.get("/api/v1/me", headers={"Cookie": "weft_session=" + s})
# Times are taken from the answers (a login is slow on purpose, and slower
# under the sanitizers), never from when the request was sent.
r, s, expires = login()
check("auth.session_ttl sets the cookie's Max-Age", "Max-Age=14" in [a.strip() for a in r.headers.get("set-cookie", "").split(";")], r.headers)
start, alive = time.time(), True
while time.time() < expires - 1:
    alive = alive and me_of(s).status == 200
    time.sleep(0.3)
check("a session in use outlives session_idle (6 s)", alive and time.time() - start > 6.2, time.time() - start)
time.sleep(max(0, expires + 0.3 - time.time()))
r = me_of(s)
check("it ends at session_ttl (401 'the session expired')", r.status == 401 and "expired" in r.json.get("error", ""), r)
r, s, expires = login()
time.sleep(6.5)
r = me_of(s)
check("an unused session ends at session_idle", r.status == 401 and "idle too long" in r.json.get("error", ""), r)
PYEOF
stop_server
printf 'auth:\n  session_ttl: soon\n' >"$WEFT_HOME/weft.yaml"
expect_exit -m "a bad auth.session_ttl stops the server" 1 "$WEFT_BIN" server --listen 127.0.0.1:0 -w "$tmp/workspace.yaml"
check_has "naming the file, line and column" "weft.yaml:2:16: error: auth.session_ttl must be a duration" "$err"
rm "$WEFT_HOME/weft.yaml"

# -- repeated failures are slowed down ---------------------------------------------------------
serve
py_checks "$tmp" <<'PYEOF'
import time
from weft_http import check, client
c = client()
me = "http://%s:%d" % (c.host, c.port)
def login(p):
    return c.post("/api/v1/login", {"user": "alice", "password": p}, headers={"Origin": me})
first = [login("guess-%d" % i).status for i in range(5)]
check("the first 5 failures are 401", first == [401] * 5, first)
r = login("alice-password")
check("then the address is locked out, even with the right password (429, Retry-After)",
      r.status == 429 and r.headers.get("retry-after") == "1" and "too many failed logins" in r.json.get("error", ""), r)
time.sleep(1.1)
check("after Retry-After a wrong password is 401 again, and locks for 2 s",
      login("guess-6").status == 401 and login("alice-password").headers.get("retry-after") == "2")
time.sleep(2.1)
r = login("alice-password")
check("the right password then logs in", r.status == 200, r)
first = [login("guess-%d" % i).status for i in range(5)]
check("and a success forgets the failures", first == [401] * 5, first)
time.sleep(1.1)
# Basic guesses count against the same lock-out: they are logins too.
import base64
def basic(p):
    token = base64.b64encode(("alice:" + p).encode()).decode()
    return c.get("/api/v1/me", headers={"Authorization": "Basic " + token})
c.post("/api/v1/login", {"user": "alice", "password": "alice-password"}, headers={"Origin": me})
first = [basic("guess-%d" % i).status for i in range(5)]
check("5 wrong Basic passwords are 401", first == [401] * 5, first)
r = basic("alice-password")
check("then Basic is locked out too, even with the right password (429, Retry-After)",
      r.status == 429 and r.headers.get("retry-after") == "1", r)
check("and so is the login page", login("alice-password").status == 429)
time.sleep(2.1)
r = basic("alice-password")
check("after Retry-After the right Basic password is let in", r.status == 200, r)
PYEOF
stop_server

# -- TLS: the cookie is Secure -----------------------------------------------------------------
if command -v openssl >/dev/null 2>&1 &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/tls.key" -out "$tmp/tls.pem" >/dev/null 2>&1; then
  serve --tls-cert "$tmp/tls.pem" --tls-key "$tmp/tls.key"
  python3 - "$url" "$tmp/tls.pem" >"$tmp/py.out" 2>&1 <<'PYEOF'
import http.client, json, ssl, sys, urllib.parse
url, ca = sys.argv[1:3]
u = urllib.parse.urlsplit(url)
def req(method, path, headers, body=None):
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca), timeout=20)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out
st, h, b = req("POST", "/api/v1/login", {"Content-Type": "application/json", "Origin": url},
               json.dumps({"user": "alice", "password": "alice-password"}))
attrs = [a.strip() for a in h.get("set-cookie", "").split(";")]
def say(name, cond, detail):
    print(("PASS " + name) if cond else ("FAIL " + name + "\t" + str(detail)))
say("under TLS the cookie is Secure, HttpOnly, SameSite=Strict",
    st == 200 and "Secure" in attrs and "HttpOnly" in attrs and "SameSite=Strict" in attrs, (st, attrs))
st, h, b = req("GET", "/api/v1/me", {"Cookie": attrs[0]})
say("and the session works over TLS", st == 200 and json.loads(b).get("who") == "user:alice", (st, b[:200]))
PYEOF
  while IFS= read -r line; do
    case "$line" in
      "PASS "*) ok "${line#PASS }" ;;
      "FAIL "*) rest=${line#FAIL }; not_ok "${rest%%$'\t'*}" "${rest#*$'\t'}" ;;
      *) not_ok "the TLS checks ran" "$line" ;;
    esac
  done <"$tmp/py.out"
  stop_server
else
  skip "the Secure flag under TLS: no openssl to make a certificate"
fi

# -- PostgreSQL: one server's session works on another ----------------------------------------
pg_own_database
if [ -z "$pg_url" ]; then
  skip "sessions across servers on PostgreSQL: WEFT_TEST_PG_URL is not set"
else
  export WEFT_HOME=$tmp/pg-home T0097_PG_URL=$pg_url
  mkdir -p "$WEFT_HOME"
  printf 'storage:\n  postgres:\n    url: ${T0097_PG_URL}\n' >"$WEFT_HOME/weft.yaml"
  printf 'alice-password\n' | "$WEFT_BIN" user add alice --role launcher >/dev/null
  serve
  url_a=$url pid_a=$server_pid
  # B has a home of its own on the same storage, as a server on another
  # machine would: it learns of changes made with A's home from storage.
  mkdir -p "$tmp/pg-home-b"
  cp "$WEFT_HOME/weft.yaml" "$tmp/pg-home-b/"
  WEFT_HOME=$tmp/pg-home-b serve
  url_b=$url
  token=$("$WEFT_BIN" token create --role viewer 2>/dev/null)
  url=$url_a py_checks "$url_b" "$token" "$WEFT_BIN" <<'PYEOF'
import sys
from weft_http import check, Client
a, b = Client(sys.argv[1]), Client(sys.argv[2])
me_a = "http://%s:%d" % (a.host, a.port)
r = a.post("/api/v1/login", {"user": "alice", "password": "alice-password"}, headers={"Origin": me_a})
s = r.headers.get("set-cookie", "").split(";")[0]
r = b.get("/api/v1/me", headers={"Cookie": s})
check("a session made on server A works on server B (PostgreSQL)", r.status == 200 and r.json.get("who") == "user:alice", r)
me_b = "http://%s:%d" % (b.host, b.port)
b.post("/api/v1/logout", None, headers={"Cookie": s, "Origin": me_b})
r = a.get("/api/v1/me", headers={"Cookie": s})
check("a logout on B ends it on A at once", r.status == 401, r)
import subprocess, time
tok, weft = sys.argv[3], sys.argv[4]
bearer = {"Authorization": "Bearer " + tok}
seen = [b.get("/api/v1/me", headers=bearer).status for _ in range(3)]
subprocess.run([weft, "token", "revoke", tok.split("_")[1]], check=True, capture_output=True)
t0, r = time.time(), None
while time.time() - t0 < 5:
    r = b.get("/api/v1/me", headers=bearer)
    if r.status == 401:
        break
    time.sleep(0.05)
check("a revocation made on another machine reaches B's cache within its bound (1 s)",
      seen == [200] * 3 and r.status == 401 and time.time() - t0 < 1.5, (seen, r, time.time() - t0))
PYEOF
  stop_server
  kill "$pid_a"
  wait "$pid_a"
fi
if grep -q "Sanitizer\|runtime error" "$tmp/server.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err")"
else
  ok "no sanitizer reports"
fi
test_done
