#!/usr/bin/env bash
# t0111-assets: the asset catalog end to end (docs/assets.md). Two code
# locations: `up` produces raw_orders (and a partitioned daily_orders), `down`
# reads raw_orders (an input's asset:) and produces order_mart with a check.
# Load-time mistakes at file:line:col; lineage across the two locations;
# staleness after an upstream materialization and after a code change; a
# partitioned asset's heat strip data through the API; checks and their
# history; `weft asset list|show|history`; freshness_missed from the
# scheduler loop of `weft dev`; materializing through the API and through
# the asset page's button in headless Chromium (t0111-assets-ui.mjs).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

mkdir -p up/ops up/jobs down/ops down/jobs bad/ops bad/jobs
cat >up/ops/ops.yaml <<'YAML'
extract:
  run: |
    printf '{"type":"materialization","asset":"raw_orders","metadata":{"rows":%s}}\n' \
      "$(date +%S | sed 's/^0//')" >&"$WEFT_EVENTS"
  assets:
    - key: raw_orders
      group: ingest
      description: orders as extracted
      owners: [data-eng]
      freshness: {max_age: 1s}
daily:
  run: |
    printf '{"type":"materialization","asset":"daily_orders","metadata":{"rows":3}}\n' >&"$WEFT_EVENTS"
  assets:
    - {key: daily_orders, group: ingest, partitions: true}
YAML
printf 'ops:\n  extract: {uses: extract}\n' >up/jobs/extract_job.yaml
cat >up/jobs/daily_job.yaml <<'YAML'
partitions: {daily: {start: 2026-11-01, end: 2026-11-06}}
ops:
  d: {uses: daily}
YAML
cat >down/ops/ops.yaml <<'YAML'
build_mart:
  inputs:
    raw: {type: string, asset: raw_orders, default: ""}
  run: |
    echo '{"type":"materialization","asset":"order_mart","metadata":{"rows":42,"url":"s3://b/mart"}}' >&"$WEFT_EVENTS"
    echo '{"type":"check","asset":"order_mart","name":"not_empty","passed":true,"metadata":{"rows":42}}' >&"$WEFT_EVENTS"
    echo '{"type":"materialization","asset":"scratch_table"}' >&"$WEFT_EVENTS"
  assets: [order_mart]
YAML
printf 'ops:\n  mart: {uses: build_mart}\n' >down/jobs/mart_job.yaml
printf 'locations:\n  - {name: up, path: up}\n  - {name: down, path: down}\n' >workspace.yaml

# -- load-time mistakes ---------------------------------------------------------------------
cat >bad/ops/ops.yaml <<'YAML'
a:
  run: "true"
  inputs:
    x: {type: int, asset: "no spaces"}
  assets:
    - key: good
      colour: red
      owners: {x: 1}
      freshness: {max_age: soon}
    - 42.5.1 x
    - {group: g}
YAML
printf 'ops:\n  a: {uses: a}\n' >bad/jobs/j.yaml
expect_exit -m "weft validate refuses bad asset declarations" 1 "$WEFT_BIN" validate bad
check_has "an unknown key, at its line" "bad/ops/ops.yaml:7:7: error: unknown key 'colour'" "$(cat "$tmp/out" "$tmp/err")"
check_has "owners of the wrong type" "ops.yaml:8:15: error: asset 'good' of op 'a': owners must be a list" "$(cat "$tmp/out" "$tmp/err")"
check_has "a bad duration" "freshness max_age must be a duration" "$(cat "$tmp/out" "$tmp/err")"
check_has "a bad asset key" "invalid asset key '42.5.1 x'" "$(cat "$tmp/out" "$tmp/err")"
check_has "a mapping without key" "an asset mapping needs 'key'" "$(cat "$tmp/out" "$tmp/err")"
check_has "an input's bad asset" "ops.yaml:4:27: error: input 'x' of op 'a': invalid asset key 'no spaces'" "$(cat "$tmp/out" "$tmp/err")"

# -- lineage across locations ---------------------------------------------------------------
expect_exit -m "the catalog lists the declared assets before any run" 0 "$WEFT_BIN" asset list -w workspace.yaml
check_has "order_mart, never materialized" "order_mart" "$(grep order_mart "$tmp/out")"
check_has "missing" "missing" "$(grep order_mart "$tmp/out")"
expect_exit -m "launch extract" 0 "$WEFT_BIN" launch extract_job -w workspace.yaml -q
expect_exit -m "launch mart" 0 "$WEFT_BIN" launch mart_job -w workspace.yaml -q
expect_exit -m "weft asset show order_mart" 0 "$WEFT_BIN" asset show order_mart -w workspace.yaml
check_has "produced by the down location's job" "produced by:  down/mart_job op mart" "$(cat "$tmp/out")"
check_has "upstream across locations" "upstream:     raw_orders" "$(cat "$tmp/out")"
check_has "fresh" "status:       fresh" "$(cat "$tmp/out")"
check_has "latest metadata" "url                  \"s3://b/mart\"" "$(cat "$tmp/out")"
check_has "its check" "not_empty            passed" "$(cat "$tmp/out")"
expect_exit -m "raw_orders names its downstream" 0 "$WEFT_BIN" asset show raw_orders -w workspace.yaml
check_has "downstream order_mart" "downstream:   order_mart" "$(cat "$tmp/out")"
expect_exit -m "an undeclared materialization is in the catalog" 0 "$WEFT_BIN" asset list -w workspace.yaml --search scratch
check_has "scratch_table (undeclared)" "(undeclared)" "$(grep scratch_table "$tmp/out")"
expect_exit -m "an unknown asset is an error" 1 "$WEFT_BIN" asset show nothing_here -w workspace.yaml

# -- staleness ---------------------------------------------------------------------------------
expect_exit -m "launch extract again" 0 "$WEFT_BIN" launch extract_job -w workspace.yaml -q
expect_exit -m "order_mart is stale" 0 "$WEFT_BIN" asset show order_mart -w workspace.yaml
check_has "stale because of raw_orders" "upstream raw_orders was materialized after it" "$(cat "$tmp/out")"
expect_exit -m "the list says STALE" 0 "$WEFT_BIN" asset list -w workspace.yaml --group default
check_has "STALE in the list" "STALE" "$(grep order_mart "$tmp/out")"
expect_exit -m "launch mart again" 0 "$WEFT_BIN" launch mart_job -w workspace.yaml -q
expect_exit -m "fresh again" 0 "$WEFT_BIN" asset show order_mart -w workspace.yaml
check_has "status fresh" "status:       fresh" "$(cat "$tmp/out")"
echo "# a change" >>down/ops/ops.yaml
expect_exit -m "after a code change" 0 "$WEFT_BIN" asset show order_mart -w workspace.yaml
check_has "stale because its code changed" "code of location down changed since" "$(cat "$tmp/out")"
expect_exit -m "--json says why" 0 "$WEFT_BIN" asset show order_mart -w workspace.yaml --json
check_py "the reason's kind is code_version" 'import json,sys; k = json.load(open(sys.argv[1]))["stale_reasons"][0]["kind"]; print("ok" if k == "code_version" else k)'
expect_exit -m "weft asset history" 0 "$WEFT_BIN" asset history order_mart -w workspace.yaml --limit 3
check_eq "newest first, checks among them" "check materialized check" \
  "$(awk '{print $2}' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')"

# -- partitions --------------------------------------------------------------------------------
expect_exit -m "a backfill of two partitions" 0 "$WEFT_BIN" backfill daily_job --keys 2026-11-02,2026-11-04 -w workspace.yaml

# -- the API, freshness, materialize --------------------------------------------------------------
export WEFT_FRESHNESS_INTERVAL_MS=200
start_server -w workspace.yaml || { not_ok "weft dev starts"; test_done; }
py_checks <<'PY'
import json, time
from weft_http import check, client
c = client()
r = c.get("/api/v1/assets")
keys = [a["key"] for a in r.json["assets"]] if r.status == 200 else []
check("the list has declared and undeclared assets, sorted",
      keys == ["daily_orders", "order_mart", "raw_orders", "scratch_table"], r)
check("groups are counted", {g["name"]: g["count"] for g in r.json["groups"]} == {"ingest": 2, "default": 1}, r.json)
r = c.get("/api/v1/assets?limit=2")
check("a page and its cursor", r.json["next_cursor"] == "order_mart" and len(r.json["assets"]) == 2, r)
r = c.get("/api/v1/assets?cursor=order_mart")
check("the next page", [a["key"] for a in r.json["assets"]] == ["raw_orders", "scratch_table"], r)
r = c.get("/api/v1/assets?q=mart")
check("search", [a["key"] for a in r.json["assets"]] == ["order_mart"], r)
r = c.get("/api/v1/assets?group=ingest")
check("by group", [a["key"] for a in r.json["assets"]] == ["daily_orders", "raw_orders"], r)
r = c.get("/api/v1/assets/daily_orders")
p = r.json.get("partitions", {}) if r.status == 200 else {}
check("the strip: five daily partitions (the end is exclusive)", p.get("keys") == ["2026-11-0%d" % i for i in range(1, 6)], r)
check("two materialized, three missing", sorted(p.get("materialized", {})) == ["2026-11-02", "2026-11-04"]
      and p.get("missing") == 3, p)
r = c.get("/api/v1/assets/order_mart")
check("the page: lineage edges", ["raw_orders", "order_mart"] in r.json["lineage"]["edges"], r.json.get("lineage"))
check("the page: checks with history", r.json["checks"][0]["name"] == "not_empty"
      and len(r.json["checks"][0]["history"]) == 2, r.json.get("checks"))
check("the page: producing job", r.json["producers"][0]["job"] == "mart_job", r.json.get("producers"))
r = c.get("/api/v1/assets/order_mart/history?kind=check")
check("history by kind", [e["kind"] for e in r.json["events"]] == ["check", "check"], r)
check("an unknown asset is 404", c.get("/api/v1/assets/nope").status == 404)
check("a bad kind is 400", c.get("/api/v1/assets/order_mart/history?kind=x").status == 400)
# raw_orders has max_age 1s: the scheduler pass of weft dev reports it once.
seen = []
for _ in range(100):
    seen = c.get("/api/v1/assets/raw_orders/history?kind=freshness_missed").json["events"]
    if seen:
        break
    time.sleep(0.1)
check("freshness_missed recorded by the scheduler", len(seen) == 1 and seen[0]["details"]["max_age"] == "1s", seen)
time.sleep(0.6)
seen = c.get("/api/v1/assets/raw_orders/history?kind=freshness_missed").json["events"]
check("once per materialization", len(seen) == 1, seen)
r = c.get("/api/v1/assets/raw_orders")
check("the page says overdue", r.json["freshness"]["overdue"] is True, r.json.get("freshness"))
r = c.post("/api/v1/assets/order_mart/materialize", {})
check("materialize launches the producing job", r.status == 201 and r.json["job"] == "mart_job", r)
run = r.json["run_ids"][0] if r.status == 201 else ""
st = ""
for _ in range(200):
    st = c.get("/api/v1/runs/" + run).json["run"]["status"]
    if st in ("success", "failure", "canceled"):
        break
    time.sleep(0.1)
check("and the run succeeds", st == "success", st)
r = c.get("/api/v1/assets/order_mart")
check("order_mart's latest is that run", r.json["latest"]["run_id"] == run, r.json.get("latest"))
r = c.post("/api/v1/assets/daily_orders/materialize", {"partitions": ["2026-11-05"]})
check("materialize a partition: a backfill", r.status == 201 and r.json["launched"] == 1, r)
check("an undeclared asset cannot be materialized", c.post("/api/v1/assets/scratch_table/materialize", {}).status == 404)
r = c.req("POST", "/api/v1/assets/order_mart/materialize", body=b"{}", headers={"Content-Type": "text/plain"})
check("POST without JSON content type is refused", r.status in (400, 403, 415), r)
PY

# -- the asset page in a browser ------------------------------------------------------------------
echo "# another change" >>down/ops/ops.yaml # order_mart is stale again, for the page to say why
why=$(browser_missing)
if [ -n "$why" ]; then
  skip "the asset page and its Materialize button: $why"
else
  WEFT_UI_URL=$url BROWSER_DIR=$browser_dir CHROMIUM=$chromium \
    timeout 120 node "$WEFT_SRC/tests/t/t0111-assets-ui.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
  browser_report $?
fi
stop_server
test_done
