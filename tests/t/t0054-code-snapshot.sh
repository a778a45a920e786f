#!/usr/bin/env bash
# t0054-code-snapshot: a run runs from a snapshot of its code
# ($WEFT_HOME/code/VERSION): a run in flight while its location's script,
# op YAML and another job change (and one breaks) finishes with the old
# code and definitions, the next run gets the new; re-execution uses the
# parent's code unless --latest-code / "latest_code": true; runs of one
# version share one snapshot, whose content hashes to its name; gc-code
# removes only what no (unfinished) run needs.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

loc=$tmp/loc
# The steps learn where to signal and wait through the environment they
# inherit, outside the location (so the signals are not code).
export T0054_STATE=$tmp/state
mkdir -p "$loc/ops" "$loc/jobs" "$loc/scripts" "$T0054_STATE"
cat >"$loc/ops/show.yaml" <<'Y'
show:
  description: runs scripts/show.sh, which waits for the test's go
  config:
    label: {type: string, default: old-config}
  outputs:
    result: string
  run: sh scripts/show.sh
Y
cat >"$loc/scripts/show.sh" <<'S'
touch "$T0054_STATE/started.$WEFT_RUN_ID"
i=0
while [ ! -e "$T0054_STATE/go" ] && [ "$i" -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
label=$(sed -n 's/.*"label": *"\([^"]*\)".*/\1/p' "$WEFT_CONFIG")
echo "v1 marker: $(cat marker.txt)"
printf '"%s/%s"' "$(cat marker.txt)" "$label" > "$WEFT_OUTPUTS/result"
S
chmod +x "$loc/scripts/show.sh"
echo OLD >"$loc/marker.txt"
printf 'graph:\n  show: show\n' >"$loc/jobs/snap.yaml"
printf 'hi: {run: echo hi}\n' >"$loc/ops/hi.yaml"
printf 'graph:\n  hi: hi\n' >"$loc/jobs/other.yaml"
# Not code: none of these is snapshotted or hashed.
mkdir -p "$loc/.git" "$loc/__pycache__" "$loc/build" "$loc/node_modules/x"
echo junk >"$loc/.git/HEAD"
echo junk >"$loc/build/out.o"
echo junk >"$loc/node_modules/x/index.js"
ln -s ../marker.txt "$loc/scripts/marker-link" # inside: kept
ln -s /etc/hostname "$loc/outside-abs"         # outside: left out
ln -s ../../etc "$loc/scripts/outside-rel"     # climbs out: left out
cp -r "$loc" "$tmp/loc-v1" # the location as the first run sees it

# wait_started RUN: the run's step is up (it then waits for $T0054_STATE/go).
wait_started() {
  local i
  for i in $(seq 400); do
    [ -e "$T0054_STATE/started.$1" ] && return 0
    sleep 0.05
  done
  return 1
}
# wait_final RUN: prints the run's final status (waits up to 30 s).
wait_final() {
  local i s
  for i in $(seq 600); do
    s=$(store_query "select status from runs where id='$1'")
    case "$s" in success | failure | canceled) echo "$s" && return 0 ;; esac
    sleep 0.05
  done
  echo "still $s"
}
output_of() { cat "$WEFT_HOME/artifacts/$1/show/result" 2>/dev/null; }
version_of() { store_query "select code_version from runs where id='$1'"; }
versions() { find "$WEFT_HOME/code" -mindepth 1 -maxdepth 1 -name '????????????????' | wc -l; }

# -- a run in flight keeps its code -----------------------------------------------------
expect_exit -m "the first run is launched detached" 0 "$WEFT_BIN" launch snap -l "$loc" --detach
r1=$out
wait_started "$r1" && ok "its step runs, waiting" || not_ok "its step never started"
v1=$(version_of "$r1")
check_eq "its snapshot is \$WEFT_HOME/code/VERSION" "$WEFT_HOME/code/$v1" \
  "$(sed -n 's/.*"code_dir":"\([^"]*\)".*/\1/p' <<<"$(store_query "select payload from events where run_id='$r1' and type='run_started'")")"
check_eq "it holds the location's code, without .git, build output, __pycache__ or outside links" "" \
  "$(diff -r "$tmp/loc-v1" "$WEFT_HOME/code/$v1" 2>&1 | grep -v -e 'Only in .*loc-v1.*: \(\.git\|__pycache__\|build\|node_modules\|outside-abs\|outside-rel\)$')"
check_eq "the link inside the location is kept as a link" "../marker.txt" \
  "$(readlink "$WEFT_HOME/code/$v1/scripts/marker-link")"
check_eq "files are read-only, the script keeps its execute bit" "444 555" \
  "$(stat -c %a "$WEFT_HOME/code/$v1/marker.txt") $(stat -c %a "$WEFT_HOME/code/$v1/scripts/show.sh")"

# While it runs: a new script, a new config default, a new marker; a broken job.
sed -i 's/v1 marker/v2 marker/' "$loc/scripts/show.sh"
sed -i 's/old-config/new-config/' "$loc/ops/show.yaml"
echo NEW >"$loc/marker.txt"
printf 'graph:\n  hi: [hi\n' >"$loc/jobs/other.yaml"
expect_exit -m "a second run of the changed location is launched" 0 \
  "$WEFT_BIN" launch snap -l "$loc" --detach
r2=$out
wait_started "$r2" && ok "its step runs too" || not_ok "its step never started"
v2=$(version_of "$r2")
check_eq "the two runs have different code versions" "different" \
  "$([ -n "$v1" ] && [ -n "$v2" ] && [ "$v1" != "$v2" ] && echo different || echo "$v1 $v2")"
touch "$T0054_STATE/go"
check_eq "the first run succeeds" success "$(wait_final "$r1")"
check_eq "the second run succeeds" success "$(wait_final "$r2")"
expect_exit -m "the first run's logs" 0 "$WEFT_BIN" run logs "$r1" show
check_eq "the first run ran the old script with the old marker" "v1 marker: OLD" "$out"
check_eq "and its old config default" '"OLD/old-config"' "$(output_of "$r1")"
expect_exit -m "the second run's logs" 0 "$WEFT_BIN" run logs "$r2" show
check_eq "the second run ran the new script with the new marker" "v2 marker: NEW" "$out"
check_eq "and the new config default" '"NEW/new-config"' "$(output_of "$r2")"
check_eq "the broken job is in the second snapshot as it was" "$(cat "$loc/jobs/other.yaml")" \
  "$(cat "$WEFT_HOME/code/$v2/jobs/other.yaml")"

# -- re-execution -------------------------------------------------------------------------
expect_exit -m "re-executing the first run" 0 "$WEFT_BIN" run reexecute "$r1" --steps show -l "$loc"
r3=$(run_id_of)
check_eq "uses the first run's code" '"OLD/old-config"' "$(output_of "$r3")"
check_eq "and records its version" "$v1" "$(version_of "$r3")"
check_eq "two runs of one version share one snapshot" 2 "$(versions)"
expect_exit -m "re-executing it with --latest-code" 0 \
  "$WEFT_BIN" run reexecute "$r1" --steps show --latest-code -l "$loc"
r4=$(run_id_of)
check_eq "uses the code as it is now" '"NEW/new-config"' "$(output_of "$r4")"
check_eq "whose version is the second run's (unchanged since)" "$v2" "$(version_of "$r4")"
expect_exit -m "a third launch of the unchanged location" 0 "$WEFT_BIN" launch snap -l "$loc" --quiet
check_eq "reuses the second snapshot" "$v2 2" "$(version_of "$(run_id_of)") $(versions)"

# -- the API ------------------------------------------------------------------------------
start_server -l "$loc" || exit 1
export v1 v2 r1
py_checks <<'PY'
import os, sys
from weft_http import Client, check
c = Client(sys.argv[1])
home, r1, v1, v2 = os.environ["WEFT_HOME"], os.environ["r1"], os.environ["v1"], os.environ["v2"]
def result(run_id):
    try: return open(f"{home}/artifacts/{run_id}/show/result").read()
    except OSError as e: return str(e)
r = c.post(f"/api/v1/runs/{r1}/reexecute", {"steps": ["show"]})
check("API re-execute answers 201", r.status == 201, r)
run = c.wait_run(r.json["run_id"]) if r.status == 201 else None
check("it runs the parent's code", run and run["code_version"] == v1 and
      result(run["id"]) == '"OLD/old-config"', (run, result(run["id"]) if run else None))
r = c.post(f"/api/v1/runs/{r1}/reexecute", {"steps": ["show"], "latest_code": True})
check("API re-execute with latest_code answers 201", r.status == 201, r)
run = c.wait_run(r.json["run_id"]) if r.status == 201 else None
check("it runs the code as it is now", run and run["code_version"] == v2 and
      result(run["id"]) == '"NEW/new-config"', (run, result(run["id"]) if run else None))
r = c.post(f"/api/v1/runs/{r1}/reexecute", {"steps": ["show"], "latest_code": "yes"})
check("latest_code must be a boolean (400 naming the field)", r.status == 400 and
      r.json["details"][0]["field"] == "latest_code", r)
r = c.post("/api/v1/jobs/loc/snap/launch", {})
run = c.wait_run(r.json["run_id"]) if r.status == 201 else None
check("an API launch of the unchanged location runs the second snapshot",
      run and run["status"] == "success" and run["code_version"] == v2, run)
PY
stop_server

# -- the hash describes the snapshot ---------------------------------------------------------
# A snapshot of an unchanged folder gets the same version as the folder's
# hash: launching a copy of the first snapshot's files gives v1 again.
cp -r "$WEFT_HOME/code/$v1" "$tmp/again"
chmod -R u+w "$tmp/again"
expect_exit -m "a launch of a copy of the first snapshot" 0 "$WEFT_BIN" launch snap -l "$tmp/again" --quiet
check_eq "has the first version: the snapshot's content hashes to its name" "$v1" \
  "$(version_of "$(run_id_of)")"

# -- garbage --------------------------------------------------------------------------------
cp -r "$WEFT_HOME/code/$v1" "$WEFT_HOME/code/0123456789abcdef"
touch -d '2 hours ago' "$WEFT_HOME/code/0123456789abcdef"
expect_exit -m "gc-code" 0 "$WEFT_BIN" instance gc-code
check_has "removes a snapshot no run references" "removed 0123456789abcdef" "$out"
check_eq "keeps the referenced ones" "2 yes" \
  "$(versions) $([ -d "$WEFT_HOME/code/$v1" ] && [ -d "$WEFT_HOME/code/$v2" ] && echo yes)"
rm -f "$T0054_STATE/go"
echo NEWER >"$loc/marker.txt"
printf 'graph:\n  hi: hi\n' >"$loc/jobs/other.yaml"
expect_exit -m "a third version runs" 0 "$WEFT_BIN" launch snap -l "$loc" --detach
r5=$out
wait_started "$r5" || not_ok "its step never started"
v3=$(version_of "$r5")
expect_exit -m "gc-code --include-final --min-age 0" 0 \
  "$WEFT_BIN" instance gc-code --include-final --min-age 0
check_eq "removes the versions only finished runs use, never a running run's" "no no yes" \
  "$([ -d "$WEFT_HOME/code/$v1" ] && echo yes || echo no) $([ -d "$WEFT_HOME/code/$v2" ] && echo yes || echo no) $([ -d "$WEFT_HOME/code/$v3" ] && echo yes || echo no)"
touch "$T0054_STATE/go"
check_eq "the running run still succeeds" success "$(wait_final "$r5")"
expect_exit -m "re-executing a run whose code was collected fails" 1 \
  "$WEFT_BIN" run reexecute "$r1" --steps show -l "$loc"
check_has "and says to use --latest-code" "is no longer kept" "$err"
check_has "with the hint" "--latest-code" "$err"
test_done
