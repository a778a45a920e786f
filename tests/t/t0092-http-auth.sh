#!/usr/bin/env bash
# t0092-http-auth: users, roles and API tokens against a live `weft server`
# (authentication on by default). `weft user` and `weft token` keep only
# hashes and show a token once; every route of the OpenAPI document answers
# 401 without credentials, every mutating route 403 to a role below the one
# it needs (viewer < launcher < operator < admin) and goes through for that
# role; Basic passwords work and follow passwd/remove at once; a revoked or
# expired token is 401 at its next request; weft dev on loopback stays
# login-free.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkdir -p "$tmp/loc/schedules" "$tmp/loc/sensors" "$tmp/extra/jobs" "$tmp/extra/ops"
printf 'job: hello\ncron: "0 0 1 1 *"\ndefault: off\n' >"$tmp/loc/schedules/yearly.yaml"
printf 'kind: file\njob: hello\nglob: "in/*.csv"\ninterval: 30s\ndefault: off\n' \
  >"$tmp/loc/sensors/drop.yaml"
printf 'hi: {run: echo hi}\n' >"$tmp/extra/ops/hi.yaml"
printf 'ops:\n  hi: hi\n' >"$tmp/extra/jobs/hi.yaml"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"

# -- users ---------------------------------------------------------------------------------
user() { printf '%s\n' "$1" | "$WEFT_BIN" user "${@:2}" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }
user 'alice-pass-1' add alice --role admin
check_rc "weft user add alice --role admin" 0
user 'viewer-pass-1' add vic --role viewer
check_rc "weft user add vic --role viewer" 0
user 'other-pass-1' add alice --role viewer
check_rc "a second alice is refused" 1
check_has "saying so" "user 'alice' exists already" "$err"
user 'short' add bob --role viewer
check_rc "a short password is refused" 1
user 'whatever-pass' add bob --role root
check_rc "an unknown role is a usage error" 2
check_has "naming the roles" "viewer, launcher, operator or admin" "$err"
expect_exit -m "a password is never taken from argv" 2 "$WEFT_BIN" user add bob --role viewer s3cret-argv
expect_exit -m "weft user list" 0 "$WEFT_BIN" user list
check_has "lists alice as admin" "alice" "$out"
check_has "and vic as viewer" "viewer" "$out"
case "$out" in *argon2* | *alice-pass*) not_ok "no hash or password in the list" "$out" ;; *) ok "no hash or password in the list" ;; esac
if grep -ra "alice-pass-1" "$WEFT_HOME" >/dev/null 2>&1; then
  not_ok "the password is nowhere in the instance"
else
  ok "the password is nowhere in the instance"
fi

# -- tokens --------------------------------------------------------------------------------
for role in viewer launcher operator admin; do
  expect_exit -m "weft token create --role $role" 0 "$WEFT_BIN" token create --role "$role" --expires 30d
  printf '%s' "$out" >"$tmp/token.$role"
done
check_has "create says it is shown once" "shown this once" "$err"
expect_exit -m "a second launcher token" 0 "$WEFT_BIN" token create --role launcher
printf '%s' "$out" >"$tmp/token.launcher2"
expect_exit -m "weft token create --role viewer --expires 1s" 0 "$WEFT_BIN" token create --role viewer --expires 1s
printf '%s' "$out" >"$tmp/token.short"
expect_exit -m "a bad --expires is a usage error" 2 "$WEFT_BIN" token create --role viewer --expires soon
expect_exit -m "weft token list" 0 "$WEFT_BIN" token list
check_eq "six tokens listed" 6 "$(grep -c 'created' <<<"$out")"
secret=$(cut -d_ -f3 "$tmp/token.admin")
case "$out" in *"$secret"*) not_ok "the list shows no secret" "$out" ;; *) ok "the list shows no secret" ;; esac
if grep -ra "$secret" "$WEFT_HOME" >/dev/null 2>&1; then
  not_ok "a token's secret is nowhere in the instance"
else
  ok "a token's secret is nowhere in the instance"
fi

# -- the server -----------------------------------------------------------------------------
"$WEFT_BIN" server --listen 127.0.0.1:0 -w "$tmp/workspace.yaml" >"$tmp/server.out" 2>"$tmp/auth.err" &
server_pid=$!
at_exit "kill $server_pid; wait $server_pid"
for _ in $(seq 200); do
  url=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
check_has "weft server says authentication is on" "authentication is on" "$(cat "$tmp/server.out")"

py_checks "$tmp" <<'EOF'
import base64, json, os, re, subprocess, sys, time
from weft_http import check, client
c = client()
tmp = sys.argv[2]
tok = {r: open("%s/token.%s" % (tmp, r)).read().strip() for r in
       ["viewer", "launcher", "launcher2", "operator", "admin", "short"]}
def bearer(r): return {"Authorization": "Bearer " + tok[r]}
def basic(u, p): return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (u, p)).encode()).decode()}
admin = bearer("admin")

spec = c.get("/api/v1/openapi.json", headers=bearer("viewer")).json
paths = spec.get("paths", {})
# Operations with "security": [] (health, the UI's files, login, logout) need no credentials.
routes = [(m.upper(), p) for p, ops in paths.items() for m in ops
          if m in ("get", "post", "put", "patch", "delete") and ops[m].get("security") != []]
public = [(m.upper(), p) for p, ops in paths.items() for m in ops
          if m in ("get", "post") and ops[m].get("security") == []]
check("the public operations are health, the UI's files, login and logout",
      sorted(public) == sorted([("GET", "/healthz"), ("GET", "/"), ("GET", "/ui/{path}"),
                                ("POST", "/api/v1/login"), ("POST", "/api/v1/logout")]), public)
mutating = [(m, p) for m, p in routes if m != "GET"]
check("the document has mutating routes (%d)" % len(mutating), len(mutating) >= 13, mutating)

def need(path):
    if path.startswith(("/api/v1/locations", "/api/v1/secrets", "/api/v1/variables")): return "admin"
    # Retention marks and deleting a run (its only mutating method) are an operator's.
    if path in ("/api/v1/runs/{id}/pin", "/api/v1/runs/{id}/unpin", "/api/v1/runs/{id}"):
        return "operator"
    if path.startswith(("/api/v1/schedules", "/api/v1/sensors", "/api/v1/backfills",
                        "/api/v1/assets")): return "operator"
    if path.startswith(("/api/v1/jobs", "/api/v1/runs")): return "launcher"
    return None
check("every mutating route has a documented role", all(need(p) for _, p in mutating),
      [p for _, p in mutating if not need(p)])

hello = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=bearer("launcher"))
check("a launcher token launches (201)", hello.status == 201, hello)
hello = hello.json.get("run_id", "none")
values = {"location": "loc", "job": "hello", "id": hello, "schedule": "yearly", "sensor": "drop",
          "step": "hello"}
bodies = {"/api/v1/locations": {"name": "extra", "path": tmp + "/extra"},
          "/api/v1/runs/{id}/reexecute": {"steps": ["shout"]},
          "/api/v1/backfills": {"job": "hello", "location": "loc", "keys": ["a"]},
          # the route is a launcher's (deleting through it, an operator's)
          "/api/v1/runs/bulk": {"action": "cancel", "ids": ["ffffffffffff"]}}
def fill(path, loc="loc"):
    return re.sub(r"\{(\w+)\}", lambda m: dict(values, location=loc).get(m.group(1), "x"), path)
def body(path): return json.dumps(bodies.get(path, {"run_config": {}}))

# -- without credentials: 401 everywhere but /healthz
bad = []
for m, p in routes:
    r = c.req(m, fill(p), body=body(p) if m != "GET" else None)
    if p == "/healthz":
        continue
    if r.status != 401 or 'realm="weft"' not in r.headers.get("www-authenticate", ""):
        bad.append((m, p, r))
check("no credentials: 401 with a challenge on every route of the document (%d)" % (len(routes) - 1),
      not bad, bad[:3])
import http.client
conn = http.client.HTTPConnection(c.host, c.port, timeout=10)
conn.request("GET", "/api/v1/jobs")
challenges = [v for k, v in conn.getresponse().getheaders() if k.lower() == "www-authenticate"]
conn.close()
check("the challenges are Basic (a browser asks for a password) and Bearer",
      any(v.startswith("Basic ") for v in challenges) and any(v.startswith("Bearer ") for v in challenges),
      challenges)
for path in ["/metrics", "/api/v1/runs/%s/events/stream" % hello, "/nope"]:
    r = c.get(path)
    check("no credentials: GET %s is 401" % path, r.status == 401, r)
for path in ["/", "/ui/app.js", "/ui/pages/login.js"]:
    r = c.get(path)
    check("no credentials: GET %s (the UI's files, no data) is 200" % path, r.status == 200, r)
r = c.get("/api/v1/jobs", headers={"Sec-Fetch-Mode": "cors"})
challenges = r.headers.get("www-authenticate", "")
check("a browser's 401 has no Basic challenge (no password dialog: the UI's login page)",
      r.status == 401 and "Bearer" in challenges and "Basic" not in challenges, r.headers)
check("/healthz needs none", c.get("/healthz").status == 200)
r = c.get("/api/v1/jobs", headers={"Authorization": "Bearer weft_0000000000000000_" + "0" * 64})
check("an unknown token is 401", r.status == 401, r)
# The last character changed (to "0", or to "1" when it is "0" already: one
# token in 16 ends in 0, and then the "wrong" token was the right one).
r = c.get("/api/v1/jobs", headers={"Authorization": "Bearer " + tok["admin"][:-1] +
                                   ("1" if tok["admin"].endswith("0") else "0")})
check("a token with a wrong secret is 401", r.status == 401 and "wrong secret" in r.json.get("error", ""), r)
for h in ["Bearer", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(), "Digest x"]:
    r = c.get("/api/v1/jobs", headers={"Authorization": h})
    check("Authorization: %s is 401" % h, r.status == 401, r)

# -- roles on every mutating route
order = ["viewer", "launcher", "operator", "admin"]
for role in order:
    refused = []
    for m, p in mutating:
        if order.index(role) >= order.index(need(p)):
            continue
        r = c.req(m, fill(p), body=body(p) if m != "DELETE" else None, headers=bearer(role))
        if r.status != 403 or "needs the role" not in r.json.get("error", ""):
            refused.append((m, p, r))
    n = sum(1 for _, p in mutating if order.index(role) < order.index(need(p)))
    if n:
        check("%s: 403 on the %d mutating routes above its role" % (role, n), not refused, refused[:3])
r = c.get("/api/v1/jobs", headers=bearer("viewer"))
check("a viewer reads (200)", r.status == 200, r)
r = c.get("/api/v1/instance/storage", headers=bearer("viewer"))
check("a viewer reads the storage use and retention's look-ahead (a dry pass)", r.status == 200 and "retention" in r.json, r)
st, events, _ = c.sse("/api/v1/runs/%s/events/stream" % hello, timeout=30, headers=bearer("viewer"),
                      until=lambda e: e.get("event") in ("run_success", "run_failure"))
check("a viewer follows an event stream", st == 200 and events, (st, events[:2]))
nap = c.post("/api/v1/jobs/loc/sleepy/launch",
             {"run_config": {"ops": {"nap": {"config": {"seconds": 60}}}}}, headers=bearer("launcher"))
order_routes = sorted(mutating, key=lambda mp: (mp[0] == "DELETE", mp[1] != "/api/v1/locations"))
through = []
for m, p in order_routes:
    v = dict(values)
    if p.endswith("/cancel"):
        v["id"] = nap.json.get("run_id", "none")
    url = re.sub(r"\{(\w+)\}", lambda mm: v.get(mm.group(1), "x"), p)
    if m == "DELETE":
        url = fill(p, "extra")
    r = c.req(m, url, body=body(p) if m != "DELETE" else None, headers=bearer(need(p)))
    if r.status in (401, 403) or r.status >= 500:
        through.append((m, p, r))
check("each mutating route goes through for the role it needs", not through, through[:3])

# -- a launcher cancels its own runs only
def launch_nap(role, tags=None):
    body = {"run_config": {"ops": {"nap": {"config": {"seconds": 60}}}}}
    if tags:
        body["tags"] = tags
    r = c.post("/api/v1/jobs/loc/sleepy/launch", body, headers=bearer(role))
    return r.json.get("run_id", "none")
lid = tok["launcher"].split("_")[1]
mine = launch_nap("launcher", {"weft/launched_by": "token:someone-else", "team": "a"})
run = c.get("/api/v1/runs/" + mine, headers=admin).json.get("run", {})
check("a launch is tagged with who launched it, whatever the body says",
      run.get("tags", {}).get("weft/launched_by") == "token:" + lid
      and run.get("tags", {}).get("team") == "a", run.get("tags"))
r = c.post("/api/v1/runs/%s/cancel" % mine, None, headers=bearer("launcher2"))
check("another launcher may not cancel it (403)",
      r.status == 403 and "only the runs it launched" in r.json.get("error", ""), r)
r = c.post("/api/v1/runs/%s/cancel" % mine, None, headers=bearer("launcher"))
check("its launcher cancels it (202)", r.status == 202, r)
theirs = launch_nap("launcher2")
r = c.post("/api/v1/runs/%s/cancel" % theirs, None, headers=bearer("operator"))
check("an operator cancels any run (202)", r.status == 202, r)
r = c.post("/api/v1/runs/nosuchrun/cancel", None, headers=bearer("launcher"))
check("an unknown run is still 404", r.status == 404, r)

# -- Basic passwords
r = c.get("/api/v1/jobs", headers=basic("alice", "alice-pass-1"))
check("Basic with alice's password reads", r.status == 200, r)
r = c.post("/api/v1/locations/reload", None, headers=basic("alice", "alice-pass-1"))
check("and, alice being admin, reloads the locations", r.status == 200, r)
r = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=basic("vic", "viewer-pass-1"))
check("vic (viewer) may not launch: 403", r.status == 403, r)
for u, p in [("alice", "wrong-pass"), ("nobody", "alice-pass-1"), ("alice", "")]:
    r = c.get("/api/v1/jobs", headers=basic(u, p))
    check("Basic %s with a wrong password or name is 401" % u, r.status == 401, r)
def cli(*args, stdin=None):
    return subprocess.run([os.environ["WEFT_BIN"]] + list(args), input=stdin, capture_output=True, text=True)
p = cli("user", "passwd", "alice", stdin="alice-pass-2\n")
check("weft user passwd alice", p.returncode == 0, p.stderr)
check("the old password is 401 at once", c.get("/api/v1/jobs", headers=basic("alice", "alice-pass-1")).status == 401)
check("the new one works", c.get("/api/v1/jobs", headers=basic("alice", "alice-pass-2")).status == 200)
p = cli("user", "remove", "alice")
check("weft user remove alice", p.returncode == 0, p.stderr)
check("a removed user is 401 at once", c.get("/api/v1/jobs", headers=basic("alice", "alice-pass-2")).status == 401)

# -- revoked and expired tokens
tid = tok["launcher"].split("_")[1]
p = cli("token", "revoke", tid)
check("weft token revoke", p.returncode == 0, p.stderr)
r = c.get("/api/v1/jobs", headers=bearer("launcher"))
check("a revoked token is 401 at its next request", r.status == 401 and "revoked" in r.json.get("error", ""), r)
r = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=bearer("launcher"))
check("also to launch", r.status == 401, r)
p = cli("token", "list")
check("the list says it was revoked", tid in p.stdout and "revoked" in p.stdout, p.stdout)
time.sleep(1.2)
r = c.get("/api/v1/jobs", headers=bearer("short"))
check("an expired token is 401", r.status == 401 and "expired" in r.json.get("error", ""), r)
# -- the audit log
r = c.get("/api/v1/audit", headers=bearer("viewer"))
check("a viewer may not read the audit log (403)", r.status == 403, r)
r = c.get("/api/v1/audit?limit=10000", headers=admin)
entries = r.json.get("entries", []) if r.status == 200 else []
check("an admin reads the audit log, newest first", r.status == 200 and len(entries) > 20
      and entries[0]["ms"] >= entries[-1]["ms"], r)
def has(pred):
    return any(pred(e) for e in entries)
lid2 = tok["launcher2"].split("_")[1]
check("it has the launcher's launch (201, who, from 127.0.0.1)",
      has(lambda e: e["action"] == "POST /api/v1/jobs/loc/sleepy/launch" and e["status"] == 201
          and e["who"] == "token:" + lid and e["source"] == "127.0.0.1"), entries[:5])
check("the other launcher's refused cancel (403)",
      has(lambda e: e["action"] == "POST /api/v1/runs/%s/cancel" % mine and e["status"] == 403
          and e["who"] == "token:" + lid2), entries[:5])
check("the owner's cancel (202)",
      has(lambda e: e["action"] == "POST /api/v1/runs/%s/cancel" % mine and e["status"] == 202), entries[:5])
check("rejected logins with why (401)",
      has(lambda e: e["status"] == 401 and "wrong password for 'alice'" in (e.get("detail") or ""))
      and has(lambda e: e["status"] == 401 and "revoked" in (e.get("detail") or "")), entries[:5])
check("requests refused for their role are there too (403)",
      has(lambda e: e["status"] == 403 and e["who"] == "token:" + tok["viewer"].split("_")[1]), entries[:5])
check("reads are not audited (only rejected logins)",
      not has(lambda e: e["action"].startswith("GET ") and e["status"] != 401), entries[:5])
r = c.get("/api/v1/jobs", headers=basic("nobody", "alice-pass-1"))
check("a rejected password does not say whether the name exists",
      r.status == 401 and r.json.get("error") == "wrong user name or password", r)

deadline = time.time() + 60
busy = None
while time.time() < deadline:
    busy = c.get("/api/v1/runs?status=queued,started,canceling&limit=1", headers=admin).json.get("runs")
    if busy == []:
        break
    time.sleep(0.1)
check("every run has ended", busy == [], busy)
EOF
kill "$server_pid"
wait "$server_pid"
check_eq "the server stops cleanly" 0 "$?"
expect_exit -m "weft audit" 0 "$WEFT_BIN" audit --limit 100000
check_has "it shows the CLI's user changes" "cli:" "$out"
check_has "user add alice" "user add alice" "$out"
check_has "the token revocation" "token revoke" "$out"
check_has "and the API's launches" "POST /api/v1/jobs/loc/sleepy/launch" "$out"

# -- weft dev on loopback needs no login; --no-auth turns weft server's off ------------------
start_server -w "$tmp/workspace.yaml" || not_ok "weft dev starts"
py_checks <<'EOF'
from weft_http import check, client
c = client()
check("weft dev on loopback: no credentials needed", c.get("/api/v1/jobs").status == 200)
EOF
stop_server
if grep -q "Sanitizer\|runtime error" "$tmp/server.err" "$tmp/auth.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err" "$tmp/auth.err")"
else
  ok "no sanitizer reports"
fi
test_done
