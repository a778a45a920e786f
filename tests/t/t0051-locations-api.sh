#!/usr/bin/env bash
# t0051-locations-api: the location registry through the HTTP API against a
# live `weft dev`: add, remove and reload, 409 on a duplicate or a stale
# if_version, 400 on bad bodies, jobs visible at once, errors as file:line:col.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
mkdir -p "$tmp/b/jobs" "$tmp/b/ops" "$tmp/c"
printf 'hi: {run: echo hi}\n' >"$tmp/b/ops/hi.yaml"
printf 'graph:\n  hi: hi\n' >"$tmp/b/jobs/hello.yaml"
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
start_server -w "$tmp/workspace.yaml" || { not_ok "weft dev starts"; test_done; }

py_checks "$tmp" <<'EOF'
import os, subprocess, sys, time
from weft_http import check, client
c = client()
tmp = sys.argv[2]

def locs():
    r = c.get("/api/v1/locations")
    return r, {l["name"]: l for l in r.json.get("locations", [])}

def jobs():
    return {(j["location"], j["name"]) for j in c.get("/api/v1/jobs").json.get("jobs", [])}

def within(seconds, cond):
    deadline = time.time() + seconds
    while True:
        if cond():
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.02)

def fields(r):
    return sorted(d.get("field", "") for d in r.json.get("details", []))

r, ls = locs()
v0 = r.json.get("version")
check("GET /api/v1/locations has the registry version", r.status == 200
      and isinstance(v0, int) and v0 >= 1 and list(ls) == ["loc"], r)

# -- add ----------------------------------------------------------------------------
t0 = time.time()
r = c.post("/api/v1/locations", {"name": "b", "path": tmp + "/b", "env": {"FOO": "x"},
                                 "image": "img:1"})
check("POST /api/v1/locations adds a location: 201", r.status == 201, r)
check("the answer is the location, loaded, with the new version",
      r.json.get("name") == "b" and r.json.get("path") == tmp + "/b" and r.json.get("jobs") == 1
      and r.json.get("errors") == [] and r.json.get("env") == {"FOO": None}
      and r.json.get("image") == "img:1" and r.json.get("python") is None
      and r.json.get("version") == v0 + 1, r)
check("its jobs are in GET /api/v1/jobs promptly",
      within(5, lambda: ("b", "hello") in jobs()), time.time() - t0)
r, ls = locs()
check("GET /api/v1/locations lists it at the new version",
      r.json.get("version") == v0 + 1 and ls.get("b", {}).get("image") == "img:1", r)

r = c.post("/api/v1/locations", {"name": "b", "path": tmp + "/c"})
check("adding a registered name again: 409", r.status == 409, r)
check("with a clear message", "already registered" in r.json.get("error", ""), r)
r = c.post("/api/v1/locations", {"name": "c", "path": tmp + "/c", "if_version": v0})
check("a stale if_version: 409", r.status == 409, r)
check("telling to read again and retry", "retry" in r.json.get("error", ""), r)
check("and nothing was written", "c" not in locs()[1])
r = c.post("/api/v1/locations", {"name": "c", "path": tmp + "/c", "if_version": v0 + 1})
check("the current if_version is accepted: 201", r.status == 201 and r.json.get("jobs") == 0, r)

# -- bad bodies -----------------------------------------------------------------------
r = c.post("/api/v1/locations", b'{"name": ')
check("a body that is not JSON: 400 with line and column", r.status == 400
      and r.json["details"][0].get("file") == "<request body>", r)
r = c.post("/api/v1/locations", [1])
check("a body that is not an object: 400", r.status == 400, r)
r = c.post("/api/v1/locations", {})
check("no name and no path: 400 naming both fields", r.status == 400
      and fields(r) == ["name", "path"], r)
r = c.post("/api/v1/locations", {"name": "a b", "path": tmp + "/nope", "env": {"A": 1},
                                 "python": 3, "bogus": True, "if_version": -1})
check("every bad field is a detail", r.status == 400
      and fields(r) == ["bogus", "env", "if_version", "name", "path", "python"], r)
r = c.post("/api/v1/locations", {"name": "reload", "path": tmp + "/c"})
check("'reload' is not a location name", r.status == 400 and fields(r) == ["name"], r)
check("bad bodies changed nothing", set(locs()[1]) == {"loc", "b", "c"})

# -- remove ----------------------------------------------------------------------------
v = locs()[0].json["version"]
r = c.req("DELETE", "/api/v1/locations/c?if_version=%d" % (v - 1))
check("DELETE with a stale if_version: 409", r.status == 409 and "retry" in r.json.get("error", ""), r)
r = c.req("DELETE", "/api/v1/locations/c?if_version=x")
check("DELETE with a bad if_version: 400", r.status == 400, r)
r = c.req("DELETE", "/api/v1/locations/c?if_version=%d" % v)
check("DELETE /api/v1/locations/c: 204", r.status == 204 and r.body == b"", r)
check("it is gone from the list", "c" not in locs()[1])
r = c.req("DELETE", "/api/v1/locations/c")
check("DELETE of an unknown location: 404", r.status == 404, r)

# -- reload shows a broken file's error as file:line:col ------------------------------------
with open(tmp + "/b/jobs/bad.yaml", "w") as f:
    f.write("graph:\n  x: [1\n")
v = locs()[0].json["version"]
r = c.post("/api/v1/locations/b/reload")
errs = r.json.get("errors", [])
check("POST /api/v1/locations/b/reload: 200 and bumps the version",
      r.status == 200 and r.json.get("version") == v + 1, r)
check("the broken file's error has file, line and col", len(errs) == 1
      and (errs[0].get("file") or "").endswith("jobs/bad.yaml")
      and errs[0].get("line", 0) > 0 and errs[0].get("col", 0) > 0 and errs[0].get("message"), errs)
print("# %s:%s:%s: %s" % tuple(errs[0].get(k) for k in ("file", "line", "col", "message")) if errs else "# none")
check("the list shows it too, and the good job stays", len(locs()[1]["b"]["errors"]) == 1
      and ("b", "hello") in jobs())
os.remove(tmp + "/b/jobs/bad.yaml")
r = c.post("/api/v1/locations/b/reload")
check("fixed and reloaded: no errors", r.status == 200 and r.json.get("errors") == [], r)
r = c.post("/api/v1/locations/nope/reload")
check("reload of an unknown location: 404", r.status == 404, r)

# -- a change made elsewhere (the CLI) is followed promptly ---------------------------------
subprocess.run([os.environ["WEFT_BIN"], "location", "remove", "b"], check=True,
               stdout=subprocess.DEVNULL)
check("a CLI removal reaches the API promptly", within(5, lambda: ("b", "hello") not in jobs()))
EOF

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
test_done
