#!/usr/bin/env bash
# t0090-http-attacks: what a hostile web page can make a browser send to a
# live `weft dev`, on every state-changing route of the OpenAPI document
# (iterated, not listed): cross-origin POSTs (Origin, Referer, Origin:
# null), text/plain, form and header-less bodies, and a DNS-rebinding Host.
# Each is refused with a 403 that says why and changes nothing (no run, no
# location, no schedule or sensor state); the same requests from the
# server's own origin work. Every answer carries the security headers and
# no CORS grant; env values never leave through the API. weft.yaml's
# server.allowed_hosts admits a name (and a bad entry is an error at its
# line:col); a non-loopback --listen is refused without --insecure.
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
cat >"$tmp/loc/ops/peek.yaml" <<'EOF'
peek:
  env: {API_TOKEN: sekrit-op-value-42, HOME_AWS: {from_env: AWS_ACCESS_KEY_ID}}
  run: echo ok
EOF
printf 'graph:\n  peek: peek\n' >"$tmp/loc/jobs/secretive.yaml"
printf 'hi: {run: echo hi}\n' >"$tmp/extra/ops/hi.yaml"
printf 'ops:\n  hi: hi\n' >"$tmp/extra/jobs/hi.yaml"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
expect_exit -m "the test workspace is valid" 0 "$WEFT_BIN" validate -w "$tmp/workspace.yaml"

# A secret for DELETE /api/v1/secrets/{secret} to remove (from the server's own origin).
printf v | "$WEFT_BIN" secret set t0090secret >/dev/null
start_server -w "$tmp/workspace.yaml" || { not_ok "weft dev starts"; test_done; }

py_checks "$tmp" <<'EOF'
import json, re, sys
from weft_http import check, client, wait_all
c = client()
tmp = sys.argv[2]
host = "%s:%d" % (c.host, c.port)
me = "http://" + host
same = {"Origin": me}

def state():
    """What a refused request must not change."""
    runs = c.get("/api/v1/runs?limit=500").json.get("runs", [])
    locs = c.get("/api/v1/locations").json
    sch = {s["name"]: s.get("state") for s in c.get("/api/v1/schedules").json.get("schedules", [])}
    sen = {s["name"]: s.get("state") for s in c.get("/api/v1/sensors").json.get("sensors", [])}
    return (len(runs), locs.get("version"), sorted(l["name"] for l in locs.get("locations", [])),
            sch, sen)

spec = c.get("/api/v1/openapi.json")
check("the OpenAPI document is served", spec.status == 200 and "paths" in spec.json, spec)
routes = [(m.upper(), p) for p, ops in spec.json.get("paths", {}).items() for m in ops
          if m in ("post", "put", "patch", "delete")]
check("it has the mutating routes to attack (%d)" % len(routes), len(routes) >= 13, routes)

hello = c.post("/api/v1/jobs/loc/hello/launch", {}, headers=same)
check("a same-origin launch works (201)", hello.status == 201, hello)
hello = hello.json.get("run_id", "none")
c.wait_run(hello)
values = {"location": "loc", "job": "hello", "id": hello, "schedule": "yearly", "sensor": "drop",
          "secret": "t0090secret", "variable": "t0090var"}
bodies = {"/api/v1/locations": {"name": "extra", "path": tmp + "/extra"},
          "/api/v1/runs/{id}/reexecute": {"steps": ["shout"]},
          "/api/v1/backfills": {"job": "hello", "location": "loc", "keys": ["a"]},
          "/api/v1/variables/{variable}": {"value": "v"},
          "/api/v1/runs/bulk": {"action": "delete", "ids": ["ffffffffffff"], "dry_run": True}}

def target(method, path, loc="loc"):
    v = dict(values, location=loc)
    return re.sub(r"\{(\w+)\}", lambda m: v.get(m.group(1), "x"), path)

def body_of(path):
    return json.dumps(bodies.get(path, {"run_config": {}}))

before = state()
evil_host = "attacker.example:%d" % c.port
attacks = [
    ("a cross-origin request (Origin: http://evil.example)",
     {"Origin": "http://evil.example"}, True, "cross-origin"),
    ("a cross-origin request under a look-alike origin",
     {"Origin": me + ".evil.example"}, True, "cross-origin"),
    ("Origin: null (a sandboxed frame, a file: page)", {"Origin": "null"}, True, "cross-origin"),
    ("a cross-origin Referer without Origin",
     {"Referer": "http://evil.example/page.html"}, True, "cross-origin"),
    ("a same-origin text/plain body", dict(same, **{"Content-Type": "text/plain"}), True,
     "Content-Type"),
    ("a form post (urlencoded, no Origin)",
     {"Content-Type": "application/x-www-form-urlencoded"}, True, "Content-Type"),
    ("a body-less request without Content-Type", dict(same, **{"Content-Type": None}), False,
     "Content-Type"),
    ("a DNS-rebinding Host (with its own Origin)",
     {"Host": evil_host, "Origin": "http://" + evil_host}, True, "DNS rebinding"),
]
for name, headers, with_body, why in attacks:
    bad = []
    for method, path in routes:
        r = c.req(method, target(method, path), body=body_of(path) if with_body else None,
                  headers=headers)
        if r.status != 403 or why not in r.json.get("error", ""):
            bad.append((method, path, r))
    check("%s is refused (403, saying why) on all %d routes" % (name, len(routes)), not bad, bad[:3])
check("no refused request created a run or changed a location, schedule or sensor",
      state() == before, (before, state()))

# -- the same requests from the server's own origin go through
expect = {"POST /api/v1/locations": 201, "POST /api/v1/locations/reload": 200,
          "POST /api/v1/locations/{location}/reload": 200,
          "POST /api/v1/jobs/{location}/{job}/validate": 200,
          "POST /api/v1/jobs/{location}/{job}/launch": 201, "POST /api/v1/runs/{id}/cancel": 202,
          "POST /api/v1/runs/{id}/reexecute": 201, "POST /api/v1/schedules/{schedule}/on": 200,
          "POST /api/v1/schedules/{schedule}/off": 200, "POST /api/v1/sensors/{sensor}/on": 200,
          "POST /api/v1/sensors/{sensor}/off": 200,
          "POST /api/v1/backfills": 400,  # past the guard: hello has no partitions
          "POST /api/v1/login": 400,  # past the guard: weft dev has no users to log in
          "DELETE /api/v1/locations/{location}": 204,
          # past the guard: no op of the location declares an asset "x"
          "POST /api/v1/assets/{asset}/materialize": 404,
          # past the guard: the reexecute above gave hello a re-execution
          "DELETE /api/v1/runs/{id}": 409}
nap = c.post("/api/v1/jobs/loc/sleepy/launch",
             {"run_config": {"ops": {"nap": {"config": {"seconds": 60}}}}}, headers=same)
order = sorted(routes, key=lambda mp: (mp[0] == "DELETE", mp[1] != "/api/v1/locations"))
for method, path in order:
    key = "%s %s" % (method, path)
    v = dict(values)
    if path.endswith("/cancel"):
        v["id"] = nap.json.get("run_id", "none")
    url = re.sub(r"\{(\w+)\}", lambda m: v.get(m.group(1), "x"), path)
    if method == "DELETE":
        url = target(method, path, "extra")
    r = c.req(method, url, body=body_of(path) if method != "DELETE" else None, headers=same)
    want = expect.get(key)
    ok = r.status == want if want else r.status < 400
    if want == 400:
        ok = ok and ("partition" in r.json.get("error", "") or
                     "nothing to log in to" in r.json.get("error", ""))
    check("same origin: %s answers %s" % (key, want or "2xx"), ok, r)
r = c.post("/api/v1/jobs/loc/hello/validate", {}, headers={"Origin": me, "Content-Type": "application/json; charset=utf-8"})
check("Content-Type with a charset parameter is JSON", r.status == 200, r)
r = c.post("/api/v1/jobs/loc/hello/validate", {}, headers={"Referer": me + "/#/jobs"})
check("a same-origin Referer without Origin is accepted", r.status == 200, r)
r = c.post("/api/v1/jobs/loc/hello/validate", {})
check("a client that sends neither Origin nor Referer (curl, scripts) is accepted", r.status == 200, r)

# -- reading under a rebinding name, and the names that are ours
for path in ["/", "/ui/app.js", "/api/v1/runs", "/api/v1/runs/%s/events/stream" % hello, "/metrics",
             "/no/such/path"]:
    r = c.get(path, headers={"Host": evil_host})
    check("GET %s under Host %s is refused" % (path, evil_host),
          r.status == 403 and "DNS rebinding" in r.json.get("error", ""), r)
for h in ["localhost:%d" % c.port, "LOCALHOST:%d" % c.port, "[::1]:%d" % c.port, host]:
    r = c.get("/api/v1/jobs", headers={"Host": h})
    check("Host %s is served" % h, r.status == 200, r)
for h in ["localhost", "localhost:1", "127.0.0.1.evil.example:%d" % c.port, "127.0.0.1:%d.evil" % c.port]:
    r = c.get("/api/v1/jobs", headers={"Host": h})
    check("Host %s is refused" % h, r.status == 403, r)
r = c.get("/healthz", headers={"Host": "10.1.2.3:%d" % c.port})
check("/healthz answers a probe under any Host", r.status == 200, r)

# -- headers on every answer, and no CORS grant
answers = {"/": c.get("/"), "/ui/app.js": c.get("/ui/app.js"), "/api/v1/jobs": c.get("/api/v1/jobs"),
           "a 404": c.get("/nope"), "a 403": c.get("/", headers={"Host": evil_host}),
           "a cross-origin GET": c.get("/api/v1/runs", headers={"Origin": "http://evil.example"}),
           "an OPTIONS preflight": c.req("OPTIONS", "/api/v1/jobs/loc/hello/launch", headers={
               "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"})}
_, events, _ = c.sse("/api/v1/runs/%s/events/stream" % hello, timeout=10)
for name, r in answers.items():
    h = r.headers
    csp = h.get("content-security-policy", "")
    check("%s: CSP without inline script, frame-ancestors 'none'" % name,
          "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
          and "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, h)
    check("%s: nosniff, X-Frame-Options DENY, Referrer-Policy same-origin" % name,
          h.get("x-content-type-options") == "nosniff" and h.get("x-frame-options") == "DENY"
          and h.get("referrer-policy") == "same-origin", h)
    check("%s: no Access-Control-Allow-* header" % name,
          not any(k.startswith("access-control-allow") for k in h), h)
check("the preflight is not granted", answers["an OPTIONS preflight"].status >= 400,
      answers["an OPTIONS preflight"])
import http.client
conn = http.client.HTTPConnection(c.host, c.port, timeout=10)
conn.request("GET", "/api/v1/runs/%s/events/stream" % hello)
sr = conn.getresponse()
check("an event stream carries the headers too",
      sr.status == 200 and "frame-ancestors 'none'" in (sr.getheader("Content-Security-Policy") or ""),
      sr.getheaders())
conn.close()

# -- env values stay in
job = c.get("/api/v1/jobs/loc/secretive")
peek = [o for o in job.json.get("ops", []) if o.get("name") == "peek"]
check("a job's op env comes back as names only",
      job.status == 200 and peek and peek[0].get("env") == {"API_TOKEN": None}
      and b"sekrit-op-value-42" not in job.body, job)
check("from_env names the variable, not its value",
      peek and peek[0].get("env_from") == {"HOME_AWS": "AWS_ACCESS_KEY_ID"}, peek)
r = c.post("/api/v1/locations", {"name": "withenv", "path": tmp + "/extra",
                                 "env": {"DB_PASSWORD": "hunter2-loc"}}, headers=same)
check("adding a location with env answers names only",
      r.status == 201 and r.json.get("env") == {"DB_PASSWORD": None} and b"hunter2" not in r.body, r)
r = c.get("/api/v1/locations")
check("the location list has names only", b"hunter2" not in r.body and r.status == 200, r)
c.req("DELETE", "/api/v1/locations/withenv", headers=same)
check("every run has ended", wait_all(c))
EOF

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"

# -- server.allowed_hosts in weft.yaml ---------------------------------------------------
printf 'server:\n  allowed_hosts: [weft.test, "Other.Test:8080"]\n' >"$WEFT_HOME/weft.yaml"
start_server -w "$tmp/workspace.yaml" || not_ok "weft dev starts with server.allowed_hosts"
py_checks <<'EOF'
from weft_http import check, client
c = client()
for h, want in [("weft.test:%d" % c.port, 200), ("weft.test", 200), ("other.test:8080", 200),
                ("other.test:%d" % c.port, 403), ("evil.test:%d" % c.port, 403),
                ("localhost:%d" % c.port, 200)]:
    r = c.get("/api/v1/jobs", headers={"Host": h})
    check("allowed_hosts: Host %s answers %d" % (h, want), r.status == want, r)
r = c.post("/api/v1/jobs/loc/hello/validate", {}, headers={"Host": "weft.test", "Origin": "http://weft.test"})
check("an allowed name is its own origin", r.status == 200, r)
r = c.post("/api/v1/jobs/loc/hello/validate", {}, headers={"Host": "weft.test", "Origin": "http://127.0.0.1:%d" % c.port})
check("another of our names is still another origin", r.status == 403, r)
EOF
stop_server

printf 'server:\n  allowed_hosts:\n    - ok.test\n    - "bad host/x"\n  allow_hosts: []\n' >"$WEFT_HOME/weft.yaml"
expect_exit -m "a bad allowed_hosts entry stops weft dev" 1 \
  "$WEFT_BIN" dev --listen 127.0.0.1:0 -w "$tmp/workspace.yaml"
check_has "at its line:col" "weft.yaml:4:7: error: server.allowed_hosts[1] must be a host name" "$err"
check_has "an unknown key is named" "weft.yaml:5:3: error: unknown key 'allow_hosts' in server" "$err"
rm -f "$WEFT_HOME/weft.yaml"

# -- listening beyond this machine --------------------------------------------------------------
for addr in 0.0.0.0:0 '[::]:0'; do
  for cmd in dev server; do
    expect_exit -m "weft $cmd --listen $addr is refused" 1 \
      timeout 20 "$WEFT_BIN" "$cmd" --listen "$addr" -w "$tmp/workspace.yaml"
    check_has "saying why and what to do" "without TLS passwords and tokens would cross the network in clear" "$err"
    check_has "naming --insecure" "--insecure" "$err"
  done
done
# 127.0.0.2 is loopback: with or without --insecure it is served (nothing
# in this test listens beyond 127.0.0.0/8).
"$WEFT_BIN" dev --listen 127.0.0.2:0 --insecure -w "$tmp/workspace.yaml" >"$tmp/i.out" 2>"$tmp/i.err" &
ipid=$!
at_exit "kill $ipid"
for _ in $(seq 200); do grep -q "http://127.0.0.2:" "$tmp/i.out" && break; sleep 0.05; done
check_has "--insecure is accepted" "http://127.0.0.2:" "$(cat "$tmp/i.out")"
kill "$ipid"
wait "$ipid"
check_eq "and it stops cleanly" 0 "$?"
if grep -q "Sanitizer\|runtime error" "$tmp/server.err" "$tmp/i.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err" "$tmp/i.err")"
else
  ok "no sanitizer reports"
fi
test_done
