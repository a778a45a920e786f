#!/usr/bin/env bash
# t0021-http-openapi: the OpenAPI document at /api/v1/openapi.json matches
# what the server does: every path and method in it is called on a real
# server, and the status and body of each answer are checked against the
# responses and schemas the document declares; methods it leaves out get 405.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
# A workspace file this time (t0020 gives folders): coordinators get -w.
printf 'locations:\n  - loc\n' >"$tmp/workspace.yaml"
# A schedule and a sensor for the schedule and sensor routes; both off, and
# neither would fire during the test if turned on.
mkdir -p "$tmp/loc/schedules" "$tmp/loc/sensors"
printf 'job: hello\ncron: "0 0 1 1 *"\ntimezone: Europe/Amsterdam\ndefault: off\n' \
  >"$tmp/loc/schedules/yearly.yaml"
printf 'kind: file\njob: hello\nglob: "never/*.csv"\ninterval: 1h\ndefault: off\n' \
  >"$tmp/loc/sensors/never.yaml"
# A partitioned job for the backfill routes.
printf 'name: daily\npartitions: {static: [a, b]}\nops:\n  hello: hello\n' >"$tmp/loc/jobs/daily.yaml"
# A declared asset for the asset routes (materializing it runs this job).
printf 'make_report:\n  run: "true"\n  assets: [report]\n' >"$tmp/loc/ops/assets.yaml"
printf 'name: reporting\nops:\n  make_report: make_report\n' >"$tmp/loc/jobs/reporting.yaml"
start_server -w "$tmp/workspace.yaml" || { not_ok "weft dev starts"; test_done; }

py_checks <<'EOF'
import json, re
from weft_http import check, client
c = client()

r = c.get("/api/v1/openapi.json")
doc = r.json
check("the document is served as JSON", r.status == 200 and r.headers["content-type"] == "application/json"
      and doc.get("openapi", "").startswith("3.0"), r)
with open(__import__("os").environ["WEFT_SRC"] + "/src/http/openapi.json", "rb") as f:
    check("it is src/http/openapi.json, embedded", json.loads(f.read()) == doc)

def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node

refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(doc))
bad = []
for ref in set(refs):
    try:
        resolve({"$ref": ref})
    except (KeyError, AssertionError):
        bad.append(ref)
check("every $ref resolves", not bad, bad)

def validate(value, schema, where="$"):
    """The subset of JSON Schema the document uses; returns problems."""
    s = resolve(schema)
    if value is None:
        return [] if s.get("nullable") or not s.get("type") and "oneOf" not in s else ["%s: null" % where]
    if "oneOf" in s:
        ok = [o for o in s["oneOf"] if not validate(value, o, where)]
        return [] if len(ok) >= 1 else ["%s: matches none of oneOf" % where]
    t = s.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in types and not isinstance(value, types[t]):
        return ["%s: not a %s: %r" % (where, t, value)]
    if t == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return ["%s: not an integer: %r" % (where, value)]
    if t == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return ["%s: not a number: %r" % (where, value)]
    if "enum" in s and value not in s["enum"]:
        return ["%s: %r not in %r" % (where, value, s["enum"])]
    problems = []
    if isinstance(value, dict):
        for k in s.get("required", []):
            if k not in value:
                problems.append("%s: missing %s" % (where, k))
        props = s.get("properties", {})
        for k, v in value.items():
            if k in props:
                problems += validate(v, props[k], where + "." + k)
            elif isinstance(s.get("additionalProperties"), dict):
                problems += validate(v, s["additionalProperties"], where + "." + k)
    if isinstance(value, list) and "items" in s:
        for i, v in enumerate(value):
            problems += validate(v, s["items"], "%s[%d]" % (where, i))
    return problems

# Real values for the path parameters: a run that succeeded, one to cancel.
hello = c.post("/api/v1/jobs/loc/hello/launch", {}).json["run_id"]
c.wait_run(hello)
sleepy = c.post("/api/v1/jobs/loc/sleepy/launch", {}).json["run_id"]
backfill = c.post("/api/v1/backfills", {"job": "daily", "keys": ["a"]}).json["backfill_id"]
# A secret and a variable to read, set and remove (set with the CLI, on the
# server's own instance).
import os, subprocess
weft = [os.environ["WEFT_BIN"]]
subprocess.run(weft + ["secret", "set", "t0021_secret"], input=b"t0021-value", check=True,
               stdout=subprocess.DEVNULL)
subprocess.run(weft + ["variable", "set", "t0021_var", "v1"], check=True, stdout=subprocess.DEVNULL)
values = {"location": "loc", "job": "hello", "id": hello, "step": "hello", "output": "result", "path": "app.js", "backfill": backfill,
          "schedule": "yearly", "sensor": "never", "secret": "t0021_secret", "variable": "t0021_var",
          "asset": "report"}
# A location is added (an empty folder), then removed.
bodies = {"validateRunConfig": {"run_config": {"ops": {"hello": {"config": {"times": 1}}}}},
          "launchRun": {}, "reexecuteRun": {"steps": ["shout"]}, "setVariable": {"value": "v2"},
          "createBackfill": {"job": "daily", "keys": ["b"]}, "materializeAsset": {},
          "bulkRuns": {"action": "delete", "ids": ["ffffffffffff"], "dry_run": True},
          "addLocation": {"name": "extra", "path": __import__("tempfile").mkdtemp()}}
values_for = {"cancelRun": dict(values, id=sleepy), "removeLocation": dict(values, location="extra"),
              "deleteRun": dict(values, id=sleepy)}  # running: refused, 409
# What each answer is expected to be when the parameters are real, and
# when they name nothing (404) or the body is wrong (400).
happy = {"launchRun": 201, "reexecuteRun": 201, "cancelRun": 202, "addLocation": 201, "createBackfill": 201,
         "materializeAsset": 201,
         "removeLocation": 204, "removeSecret": 204, "removeVariable": 204,
         "deleteRun": 409, "login": 400}  # weft dev on loopback has no users to log in (t0097 logs in for real)

def call(method, path, op, params, body):
    url = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
    if "stream" in op["operationId"].lower():
        st, evs, ended = c.sse(url, timeout=30)
        return st, {"content-type": "text/event-stream" if st == 200 else "application/json"}, evs, ended
    r = c.req(method.upper(), url, body=body)
    return r.status, r.headers, r, True

n_ops = 0
for path, item in doc["paths"].items():
    for method, op in item.items():
        if method == "parameters":
            continue
        n_ops += 1
        oid = op["operationId"]
        params = values_for.get(oid, values)
        body = bodies.get(oid) if method in ("post", "put") else None
        st, headers, r, ended = call(method, path, op, params, body)
        want = happy.get(oid, 200)
        responses = op["responses"]
        check("%s %s: answers %d" % (method.upper(), path, want), st == want, (st, r))
        check("%s %s: %d is a documented response" % (method.upper(), path, st), str(st) in responses, list(responses))
        resp = resolve(responses.get(str(st), {}))
        ctypes = list(resp.get("content", {}))
        ctype = headers.get("content-type", "")
        check("%s %s: content type as documented" % (method.upper(), path),
              any(t == "*/*" or ctype.startswith(t) for t in ctypes) or not ctypes and st == 204,
              (ctype, ctypes))
        if ctypes and ctypes[0] == "application/json":
            schema = resp["content"]["application/json"]["schema"]
            problems = validate(r.json, schema)
            check("%s %s: the body fits its schema" % (method.upper(), path), not problems, problems[:5])
        if ctypes and ctypes[0] == "text/event-stream":
            check("%s %s: the stream ends once the run ended" % (method.upper(), path), ended and r, r[-1:] if r else r)
        for name, hdr in resp.get("headers", {}).items():
            check("%s %s: header %s" % (method.upper(), path, name), name.lower() in headers, list(headers))
        # Parameters naming nothing: 404, documented, an Error.
        if "{" in path and "404" in responses:
            bad = dict(params, id="ffffffffffff", job="nope", step="nope", schedule="nope", sensor="nope", backfill="nope",
                       secret="nope", variable="nope", asset="nope",
                       location=params["location"] if "{job}" in path else "nope")
            st, headers, r, _ = call(method, path, op, bad, body)
            check("%s %s with unknown names: 404 as documented" % (method.upper(), path), st == 404, (st, r))
            check("%s %s: the 404 body is an Error" % (method.upper(), path),
                  not validate(r.json if hasattr(r, "json") else json.loads(r[0]), resolve(responses["404"])["content"]["application/json"]["schema"]), r)
        # Methods the path does not document: 405 with Allow.
        for other in ("get", "post", "put", "delete", "patch"):
            if other in item:
                continue
            rr = c.req(other.upper(), re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path))
            check("%s %s: undocumented method is 405 with Allow" % (other.upper(), path),
                  rr.status == 405 and method.upper() in rr.headers.get("allow", ""), rr)
check("the document has every route (55 operations and the UI's 2)", n_ops == 57, n_ops)

# Query parameters that are documented with bounds are enforced.
for path, item in doc["paths"].items():
    for method, op in item.items():
        if method == "parameters":
            continue
        for p in op.get("parameters", []):
            p = resolve(p)
            s = p.get("schema", {})
            if p["in"] != "query" or "maximum" not in s and "minimum" not in s and "enum" not in s:
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
            bad = s["maximum"] + 1 if "maximum" in s else (s["minimum"] - 1 if "minimum" in s else "bogus")
            if "stream" in op["operationId"].lower():
                st = c.sse("%s?%s=%s" % (url, p["name"], bad), timeout=10)[0]
            else:
                st = c.get("%s?%s=%s" % (url, p["name"], bad)).status
            check("%s %s?%s=%s is 400" % (method.upper(), path, p["name"], bad), st == 400, st)
check("an undocumented path is 404", c.get("/api/v1/nope").status == 404)
check("every run has ended", __import__("weft_http").wait_all(c))
EOF

stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
test_done
