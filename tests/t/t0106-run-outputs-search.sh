#!/usr/bin/env bash
# t0106-run-outputs-search: a step's outputs downloaded through
# GET /api/v1/runs/{id}/outputs/{step}/{output} (type guessed, disposition,
# length, single byte ranges: 206 and 416), the runs list searched by job,
# status, id prefix, tags and time range and paged with next_cursor, the
# same from `weft run list`, and bulk cancel, re-execute and delete (delete
# under retention's rules: pinned runs and parents of re-executions stay).
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
  run: |
    printf 'id,amount\n1,10\n2,20\n3,30\n' > "$WEFT_OUTPUTS/table"
    echo '{"rows": 3}' > "$WEFT_OUTPUTS/summary"
    printf '\211PNG\r\n\032\n\000\000\000\rIHDR' > "$WEFT_OUTPUTS/picture"
    printf 'plain words\n' > "$WEFT_OUTPUTS/notes"
fail:
  run: exit 3
wait:
  run: sleep 600
YAML
printf 'name: out\nops:\n  make: make\n' >loc/jobs/out.yaml
printf 'name: bad\nops:\n  fail: fail\n' >loc/jobs/bad.yaml
printf 'name: slow\nops:\n  wait: wait\n' >loc/jobs/slow.yaml
mark_sleeps loc
at_exit "pkill -9 -f 'sleep 600.$$' 2>/dev/null; true"

ids=()
for i in 0 1 2 3 4 5; do
  team=bi
  [ $((i % 2)) -eq 1 ] && team=ml
  run "$WEFT_BIN" launch out -l loc -q --tag "team=$team" --tag "n=$i"
  ids+=("$(run_id_of)")
done
run "$WEFT_BIN" launch bad -l loc -q --tag team=ml
bad=$(run_id_of)
check_eq "seven runs recorded" 7 "$(printf '%s\n' "${ids[@]}" "$bad" | grep -c '^[0-9a-f]\{12\}$')"

# -- weft run list: the same filters, and a cursor -----------------------------------------
expect_exit -m "weft run list --tag team=ml --limit 2" 0 "$WEFT_BIN" run list --tag team=ml --limit 2
check_eq "the two newest ml runs" "$bad ${ids[5]}" "$(awk 'NR>1 {print $1}' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')"
next=$(sed -n 's/^next: //p' "$tmp/err")
check_has "stderr gives the next page's cursor" "next: " "$err"
expect_exit -m "weft run list --cursor NEXT" 0 "$WEFT_BIN" run list --tag team=ml --limit 2 --cursor "$next"
check_eq "the next two" "${ids[3]} ${ids[1]}" "$(awk 'NR>1 {print $1}' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')"
expect_exit -m "weft run list --id PREFIX --status success --tag n=4" 0 \
  "$WEFT_BIN" run list --id "${ids[4]:0:5}" --status success --tag n=4
check_eq "exactly that run" "${ids[4]}" "$(awk 'NR>1 {print $1}' "$tmp/out")"
expect_exit -m "--since 1h --job bad" 0 "$WEFT_BIN" run list --since 1h --job bad
check_eq "the failed run" "$bad" "$(awk 'NR>1 {print $1}' "$tmp/out")"
expect_exit -m "--until 2000-01-01 matches none" 0 "$WEFT_BIN" run list --until 2000-01-01
check_has "and says so" "no runs match" "$err"
expect_exit -m "a bad --since is a usage error" 2 "$WEFT_BIN" run list --since yesterday
expect_exit -m "a bad --tag is a usage error" 2 "$WEFT_BIN" run list --tag team

"$WEFT_BIN" launch slow -l loc --detach >"$tmp/slow.out" 2>&1
slow=$(sed -n 's/.*\([0-9a-f]\{12\}\).*/\1/p' "$tmp/slow.out" | head -n 1)
start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }

py_checks "${ids[@]}" "$bad" "$slow" <<'PY'
import sys, time
from weft_http import check, client
c = client()
ids, bad, slow = sys.argv[2:8], sys.argv[8], sys.argv[9]
base = "/api/v1/runs/%s/outputs/make/" % ids[0]

# -- outputs --------------------------------------------------------------------------
csv = b"id,amount\n1,10\n2,20\n3,30\n"
r = c.get(base + "table")
check("an output downloads whole", r.status == 200 and r.body == csv, r)
check("CSV by its content-type", r.headers.get("content-type") == "text/csv; charset=utf-8"
      or r.headers.get("content-type", "").startswith("text/"), r.headers)
check("Content-Disposition names it, as an attachment",
      r.headers.get("content-disposition") == 'attachment; filename="table"', r.headers)
check("Content-Length and Accept-Ranges", r.headers.get("content-length") == str(len(csv))
      and r.headers.get("accept-ranges") == "bytes", r.headers)
r = c.get(base + "table", headers={"Range": "bytes=3-8"})
check("a range is 206 with its bytes", r.status == 206 and r.body == csv[3:9], r)
check("and Content-Range", r.headers.get("content-range") == "bytes 3-8/%d" % len(csv), r.headers)
r = c.get(base + "table", headers={"Range": "bytes=-6"})
check("a suffix range: the last bytes", r.status == 206 and r.body == csv[-6:], r)
r = c.get(base + "table", headers={"Range": "bytes=10-"})
check("an open range: to the end", r.status == 206 and r.body == csv[10:], r)
r = c.get(base + "table", headers={"Range": "bytes=9999-"})
check("an unsatisfiable range is 416", r.status == 416
      and r.headers.get("content-range") == "bytes */%d" % len(csv), (r, r.headers))
r = c.get(base + "summary")
check("a dict output is JSON", r.status == 200 and r.headers.get("content-type") == "application/json"
      and r.json == {"rows": 3}, (r, r.headers))
r = c.get(base + "picture?disposition=inline")
check("a PNG by its bytes, inline when asked", r.status == 200
      and r.headers.get("content-type") == "image/png"
      and r.headers.get("content-disposition") == 'inline; filename="picture"', r.headers)
r = c.get(base + "notes")
check("text by its bytes", r.headers.get("content-type") == "text/plain; charset=utf-8", r.headers)
check("an unknown output is 404", c.get(base + "nope").status == 404)
check("an unknown run is 404", c.get("/api/v1/runs/000000000000/outputs/make/table").status == 404)

# -- search -----------------------------------------------------------------------------
def listed(q):
    r = c.get("/api/v1/runs" + q)
    return [x["id"] for x in r.json.get("runs", [])] if r.status == 200 else r
check("?job=out", listed("?job=out") == ids[::-1], listed("?job=out"))
check("?tag=team=ml", listed("?tag=team=ml") == [bad, ids[5], ids[3], ids[1]], listed("?tag=team=ml"))
check("two tags: both must hold", listed("?tag=team=ml&tag=n=3") == [ids[3]], listed("?tag=team=ml&tag=n=3"))
check("?status=failure", listed("?status=failure") == [bad])
check("?id=PREFIX", ids[2] in listed("?id=" + ids[2][:6])
      and all(x.startswith(ids[2][:6]) for x in listed("?id=" + ids[2][:6])))
first = c.get("/api/v1/runs/" + ids[2]).json["run"]["created_ms"]
check("?since=MS&until=MS: a time range", listed("?job=out&since=%d&until=%d" % (first, first + 1)) == [ids[2]],
      listed("?job=out&since=%d&until=%d" % (first, first + 1)))
r = c.get("/api/v1/runs?since=tomorrow")
check("a bad since is 400 naming it", r.status == 400 and "since" in r.json.get("error", ""), r)
r = c.get("/api/v1/runs?tag=team")
check("a bad tag is 400", r.status == 400, r)
seen, cursor = [], None
for _ in range(10):
    q = "?limit=3" + ("&cursor=" + cursor if cursor else "")
    page = c.get("/api/v1/runs" + q).json
    seen += [x["id"] for x in page["runs"]]
    cursor = page["next_cursor"]
    if not cursor:
        break
check("pages of 3 through next_cursor: every run once, newest first",
      seen == [slow, bad] + ids[::-1], seen)
r = c.get("/api/v1/runs?limit=2&cursor=" + ids[3])
check("a run id is still taken as a cursor", r.status == 200
      and [x["id"] for x in r.json["runs"]] == [ids[2], ids[1]], r)

# -- bulk actions -------------------------------------------------------------------------
r = c.post("/api/v1/runs/bulk", {"action": "cancel", "ids": [slow, ids[0], "000000000000"]})
res = {x["id"]: x for x in r.json.get("results", [])}
check("bulk cancel: one result per id", r.status == 200 and r.json["ok"] == 1 and r.json["failed"] == 2, r)
check("the running run is canceled (202)", res.get(slow, {}).get("status") == 202, res)
check("an ended run is 409, a missing one 404", res.get(ids[0], {}).get("status") == 409
      and res.get("000000000000", {}).get("status") == 404, res)
row = c.wait_run(slow)
check("the canceled run ends canceled", row and row["status"] == "canceled", row)
r = c.post("/api/v1/runs/bulk", {"action": "reexecute", "ids": [bad]})
child = (r.json.get("results") or [{}])[0].get("run_id")
check("bulk reexecute: a new run from the failure", r.status == 200 and r.json["ok"] == 1 and child, r)
row = c.wait_run(child) if child else None
check("the re-execution ran (and failed again)", row and row["status"] == "failure"
      and row["parent_run_id"] == bad, row)
r = c.post("/api/v1/runs/bulk", {"action": "explode", "ids": [bad]})
check("an unknown action is 400", r.status == 400, r)
r = c.post("/api/v1/runs/%s/pin" % ids[1])
check("pin", r.status == 200 and r.json == {"run_id": ids[1], "pinned": True}, r)
r = c.req("DELETE", "/api/v1/runs/%s?dry_run=1" % ids[0])
check("DELETE ?dry_run=1 says what would go", r.status == 200 and r.json["dry_run"] is True
      and r.json["would_remove"]["artifacts"] == 4, r)
check("and leaves the run", c.get("/api/v1/runs/" + ids[0]).status == 200)
listed("?job=out")  # a page the server may keep
r = c.post("/api/v1/runs/bulk", {"action": "delete", "ids": [ids[0], ids[1], bad, child]})
res = {x["id"]: x for x in r.json.get("results", [])}
check("bulk delete: the plain run goes", res.get(ids[0], {}).get("ok") is True
      and res[ids[0]]["removed"]["artifacts"] == 4, res)
check("the pinned one stays (409)", res.get(ids[1], {}).get("status") == 409
      and "pinned" in res[ids[1]]["message"], res)
check("the re-execution goes, and its parent after it in the same list",
      res.get(child, {}).get("ok") is True, res)
check("the parent was refused while its re-execution existed",
      res.get(bad, {}).get("status") == 409 and "re-execution" in res[bad]["message"], res)
check("a deleted run is 404", c.get("/api/v1/runs/" + ids[0]).status == 404)
check("and gone from the (cached) list", ids[0] not in listed("?job=out"), listed("?job=out"))
check("its outputs too", c.get(base + "table").status == 404)
r = c.req("DELETE", "/api/v1/runs/" + bad)
check("DELETE the parent now that its re-execution is gone", r.status == 200, r)
PY
test_done
