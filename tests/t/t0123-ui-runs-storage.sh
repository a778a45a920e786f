#!/usr/bin/env bash
# t0123-ui-runs-storage: issue 23's screens. GET /api/v1/instance/storage
# (use per job, what retention removes next, as a dry pass), then in
# headless Chromium (t0123-ui-runs-storage-ui.mjs): the run page's output
# previews (JSON pretty-printed, CSV rows, text lines, an image inline) and
# download links, the runs list's search (tag, id prefix, job:, status:)
# and bulk re-execute and delete (a dry run first), and the Storage page.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<'YAML'
make:
  outputs:
    table: path
    summary: dict
    picture: path
    notes: path
    nothing: path
  run: |
    : > "$WEFT_OUTPUTS/nothing"
    printf 'id,amount\n1,10\n2,20\n3,30\n' > "$WEFT_OUTPUTS/table"
    echo '{"rows": 3, "cols": ["id", "amount"]}' > "$WEFT_OUTPUTS/summary"
    python3 -c 'import base64,sys; sys.stdout.buffer.write(base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="))' > "$WEFT_OUTPUTS/picture"
    printf 'plain words\nsecond line\n' > "$WEFT_OUTPUTS/notes"
fail:
  run: exit 3
YAML
printf 'name: out\nops:\n  make: make\n' >loc/jobs/out.yaml
printf 'name: bad\nops:\n  fail: fail\n' >loc/jobs/bad.yaml

ids=()
for i in 0 1 2 3; do
  team=bi
  [ $((i % 2)) -eq 1 ] && team=ml
  run "$WEFT_BIN" launch out -l loc -q --tag "team=$team"
  ids+=("$(run_id_of)")
done
run "$WEFT_BIN" launch bad -l loc -q --tag team=ml
bad=$(run_id_of)
check_eq "five runs recorded" 5 "$(printf '%s\n' "${ids[@]}" "$bad" | grep -c '^[0-9a-f]\{12\}$')"
# Successes older than a day go, but the newest 2 of each job stay: a day
# from now (ahead=1d), ids 0 and 1; the server's own passes remove nothing.
printf 'retention:\n  runs: {success: 1d, failure: 30d}\n  keep_last: 2\n' >"$WEFT_HOME/weft.yaml"

start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }
export IDS="${ids[*]}" BAD=$bad
py_checks <<'PY'
import os
from weft_http import check, client
c = client()
ids, bad = os.environ["IDS"].split(), os.environ["BAD"]
r = c.get("/api/v1/instance/storage")
check("the storage route answers", r.status == 200, r)
check("nothing is old enough now", r.json["retention"]["runs"] == {} and r.json["retention"]["policy"], r.json)
r = c.get("/api/v1/instance/storage?ahead=2d")
jobs = {j["job"]: j for j in r.json["jobs"]}
check("runs per job", (jobs["out"]["runs"], jobs["bad"]["runs"]) == (4, 1), r.json)
check("out's four runs stored 16 artifacts", jobs["out"]["artifacts"] >= 16 and jobs["out"]["artifact_bytes"] > 0, jobs["out"])
check("bytes add up", jobs["out"]["bytes"] == jobs["out"]["artifact_bytes"] + jobs["out"]["work_bytes"], jobs["out"])
check("the biggest job first", r.json["jobs"][0]["job"] == "out", r.json)
check("totals", r.json["total"]["runs"] == 5 and r.json["complete"] and r.json["scanned"] == 5, r.json)
t = r.json["retention"]
check("the policy would remove the two oldest successes", t["policy"] and t["runs"] == {"success": 2}, t)
check("and names them", sorted(i["run_id"] for i in t["items"] if i["what"] == "run") == sorted(ids[:2]), t)
check("keep_last is counted", t["kept"]["keep_last"] >= 2 and t["complete"], t)
check("the dry pass removed nothing", c.get("/api/v1/runs/" + ids[0]).status == 200)
r = c.get("/api/v1/instance/storage?limit=2")
check("limit caps the runs counted", r.json["scanned"] == 2 and not r.json["complete"], r.json)
r = c.get("/api/v1/instance/storage?limit=0")
check("a bad limit is a 400", r.status == 400, r)
r = c.get("/api/v1/instance/storage?ahead=tomorrow")
check("a bad ahead is a 400 naming it", r.status == 400 and r.json["details"][0]["field"] == "ahead", r)
PY

why=$(browser_missing)
if [ -n "$why" ]; then
  skip "the run page's previews, the runs list's search and bulk actions, the Storage page: $why"
else
  WEFT_UI_URL=$url BROWSER_DIR=$browser_dir CHROMIUM=$chromium \
    timeout 120 node "$WEFT_SRC/tests/t/t0123-ui-runs-storage-ui.mjs" >"$tmp/ui.out" 2>"$tmp/ui.err"
  browser_report $?
fi
stop_server
check_eq "the server stopped cleanly" 0 "$server_rc"
test_done
