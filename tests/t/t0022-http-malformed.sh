#!/usr/bin/env bash
# t0022-http-malformed: garbage never crashes the server: huge headers and
# URLs, bad percent-encoding, path traversal, bodies over 1 MiB, invalid
# JSON, wrong types, unknown ids, raw junk, then a seeded random barrage;
# the server answers 4xx (never 5xx) and stays up, sanitizers quiet.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }

py_checks <<'EOF'
import json, random
from weft_http import check, client, status_of
c = client()
run = c.post("/api/v1/jobs/loc/hello/launch", {}).json["run_id"]
c.wait_run(run)

def alive():
    return c.get("/healthz").status == 200

def raw(data):
    return status_of(c.raw(data))

# -- the request line and headers
st = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
check("a 200 KB header is refused (431), not served", st in (0, 413, 431), st)
st = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(20000)) + b"\r\n")
check("20,000 headers are refused", st in (0, 413, 431), st)
st = raw(b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
check("a 100 KB URL is refused", st in (0, 414, 431), st)
check("the server is still up", alive())
st = raw(b"GET /api/v1/runs HTTP/1.1\r\n\r\n")
check("HTTP/1.1 without Host is 400", st == 400, st)
st = raw(b"\x00\xff\xfe garbage \x01\x02\r\n\r\n")
check("binary junk is refused", st in (0, 400, 505), st)
st = raw(b"GET /healthz\r\n\r\n")
check("a request line without a version is refused", st in (0, 400, 505), st)
st = raw(b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n")
check("an unknown HTTP version is refused", st in (0, 400, 505), st)
st = raw(b"BREW / HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (c.host.encode(), c.port))
check("an unknown method on a known path is 405", st == 405, st)
st = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
check("a bad Content-Length is refused", st in (0, 400, 413), st)
check("the server is still up after the junk", alive())

# -- percent-encoding and paths
for path, want in [("/api/v1/runs/%zz", 400), ("/api/v1/runs/%", 400), ("/api/v1/runs/%4", 400),
                   ("/api/v1/runs/a%00b", 400), ("/api/v1/runs?job=%g1", 400), ("/api/v1/runs?%=1", 400),
                   ("/api/v1/runs?status=%ff", 400), ("/api/v1/runs/%ff%fe", 400), ("/api/v1/jobs/l%C3%A9/x", 404),
                   ("/ui/../../etc/passwd", 400), ("/ui/%2e%2e/%2e%2e/etc/passwd", 400),
                   ("/api/v1/runs/%s/logs/..%%2f..%%2fweft.db" % run, 404),
                   ("/api/v1/runs/%s/logs/%%2e%%2e" % run, 400), ("/api/v1/runs/../healthz", 400),
                   ("/api/v1/runs/" + "x/" * 50, 404), ("//api/v1/runs", 404), ("/api/v1/runs/", 404),
                   ("/api/v1/runs?" + "&".join("a%d=1" % i for i in range(100)), 400),
                   ("/api/v1/runs?limit=1&limit=%", 400), ("/api/v1/runs?limit=99999999999999999999", 400),
                   ("/api/v1/runs/%s/events?after=1e3" % run, 400), ("/api/v1/runs/%s/logs/hello?offset=-0x10" % run, 400)]:
    st = c.get(path).status
    check("GET %s is %d" % (path[:70], want), st == want, st)
r = c.get("/api/v1/runs/%s/logs/..%%2f..%%2fweft.db" % run)
check("a log route never serves a file the run does not name", b"SQLite" not in r.body, r)
r = c.get("/ui/..%2f..%2f..%2fetc%2fpasswd")
check("a UI path never reaches the disk", b"root:" not in r.body, r)

# -- bodies
st = raw(b"POST /api/v1/jobs/loc/hello/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{")
check("a body announced over 1 MiB is 413", st == 413, st)
big = json.dumps({"run_config": "#" + "x" * (1 << 20)}).encode()
st = raw(b"POST /api/v1/jobs/loc/hello/validate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
# The answer comes before the body is read; a client still sending may see
# the connection reset instead.
check("a body over 1 MiB is 413", st in (0, 413), st)
chunked = b"POST /api/v1/jobs/loc/hello/validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
chunked += b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
st = raw(chunked)
check("a chunked body over 1 MiB is 413", st in (0, 413), st)
r = c.post("/api/v1/jobs/loc/hello/validate", b" " * ((1 << 20) - 10) + b"{}")
check("a body just under 1 MiB is read", r.status == 200, r)
for body in [b"{", b"[1,2]", b"\"text\"", b"nul", b"{\"a\":}", b"\xff\xfe", b"{\"run_config\": \"\\ud800\"}",
             b"[" * 100000 + b"]" * 100000, b"{\"a\":" * 50000 + b"1" + b"}" * 50000, b"{}{}"]:
    r = c.post("/api/v1/jobs/loc/hello/validate", body)
    check("invalid JSON body %r... is 400" % body[:12], r.status == 400 and "error" in r.json, r)
for body in [{"run_config": []}, {"run_config": True}, {"run_config": 1.5}, {"tags": "x"}, {"tags": []},
             {"tags": {"a": None}}, {"run_config": "ops: [unclosed"}, {"run_config": "ops:\n  hello: 3\n"},
             {"run_config": {"ops": {"hello": {"config": {"times": "x" * 10000}}}}},
             {"run_config": "a: &a [*a]"}, {"run_config": "[" * 1000}]:
    r = c.post("/api/v1/jobs/loc/hello/launch", body)
    check("launch with %s is 400" % json.dumps(body)[:60], r.status == 400 and isinstance(r.json.get("details"), list), r)
for body in [{"from_failure": 1}, {"steps": "hello"}, {"steps": [1]}, {"steps": []}, {"from_failure": False}]:
    r = c.post("/api/v1/runs/%s/reexecute" % run, body)
    check("reexecute with %s is 400" % json.dumps(body), r.status == 400, r)
check("unknown run ids are 404", all(c.get(p).status == 404 for p in [
    "/api/v1/runs/0", "/api/v1/runs/" + "f" * 200, "/api/v1/runs/%20", "/api/v1/runs/x/events",
    "/api/v1/runs/x/logs/y", "/api/v1/runs/x/events/stream", "/api/v1/runs/x/logs/y/stream"]))
check("no run was launched by any of it", len(c.get("/api/v1/runs").json["runs"]) == 1)

# -- a seeded random barrage over the routes
rng = random.Random(20)
paths = ["/healthz", "/metrics", "/api/v1/locations", "/api/v1/locations/reload", "/api/v1/jobs",
         "/api/v1/jobs/loc/hello", "/api/v1/jobs/loc/hello/validate", "/api/v1/jobs/loc/nope/launch",
         "/api/v1/runs", "/api/v1/runs/" + run, "/api/v1/runs/%s/events" % run,
         "/api/v1/runs/%s/logs/hello" % run, "/api/v1/runs/%s/cancel" % run, "/ui/app.js", "/"]
junk = ["%", "%zz", "..", "?", "&", "=", "\u00e9", "%00", "/", "//", "*", "limit=-1", "status=x", "cursor=",
        "after=", "type=,,", "stream=", "offset=9999999999"]
bodies = [b"", b"{}", b"null", b"{\"run_config\": {}}", b"{\"steps\": [\"x\"]}", b"{\"from_failure\": true}",
          b"\x00" * 10, b"{\"run_config\": \"ops: {hello: {config: {times: 1}}}\"}"]
bad, statuses = [], {}
for i in range(400):
    p = rng.choice(paths)
    for _ in range(rng.randrange(3)):
        k = rng.randrange(len(p) + 1)
        p = p[:k] + rng.choice(junk) + p[k:]
    p = "".join(ch if ord(ch) < 128 else "%C3%A9" for ch in p)
    if not p.startswith("/"):
        p = "/" + p
    method = rng.choice(["GET", "GET", "POST", "PUT", "DELETE", "HEAD"])
    body = rng.choice(bodies) if method in ("POST", "PUT") else None
    if p.endswith("/launch") and rng.random() < 0.9:
        p = p.replace("/launch", "/validate")
    try:
        st = c.req(method, p.replace(" ", "%20"), body=body, timeout=10).status
    except Exception as e:  # a closed connection is allowed, a hang is not
        st = "closed: %s" % type(e).__name__
    statuses[st] = statuses.get(st, 0) + 1
    if isinstance(st, int) and st >= 500:
        bad.append((method, p, st))
print("# random barrage statuses: %s" % sorted(statuses.items(), key=str))
check("400 random requests: no 5xx answer", not bad, bad[:5])
check("the server is up after the barrage", alive())
# -- event streams are limited, and freed when their client leaves
import http.client, socket, time
nap = c.post("/api/v1/jobs/loc/sleepy/launch", {"run_config": {"ops": {"nap": {"config": {"seconds": 60}}}}}).json["run_id"]
def open_stream():
    conn = http.client.HTTPConnection(c.host, c.port, timeout=10)
    conn.request("GET", "/api/v1/runs/%s/events/stream" % nap)
    resp = conn.getresponse()
    return conn, resp
streams = [open_stream() for _ in range(64)]
check("64 event streams open at once", all(r.status == 200 for _, r in streams), [r.status for _, r in streams])
conn, r = open_stream()
check("the 65th is refused with 503", r.status == 503 and "too many" in json.loads(r.read())["error"], r.status)
conn.close()
for conn, r in streams:
    conn.close()
deadline, st = time.time() + 10, 0
while time.time() < deadline:
    conn, r = open_stream()
    st = r.status
    conn.close()
    if st == 200:
        break
    time.sleep(0.2)
check("streams whose clients left are freed", st == 200, st)
check("the server is up after the streams", alive())
c.post("/api/v1/runs/%s/cancel" % nap)
check("every run has ended", __import__("weft_http").wait_all(c))
EOF

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
if grep -q "Sanitizer\|runtime error" "$tmp/server.err"; then
  not_ok "no sanitizer reports" "$(head -40 "$tmp/server.err")"
else
  ok "no sanitizer reports"
fi
test_done
