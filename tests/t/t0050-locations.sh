#!/usr/bin/env bash
# t0050-locations: the location registry (weft location add/remove/list/
# reload): versioned compare-and-set changes, per-location env and
# virtualenv in steps, and a running server picking up changes live.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

mkdir -p "$tmp/a/jobs" "$tmp/b/jobs" "$tmp/venv/bin" "$WEFT_HOME"
mkdir -p "$tmp/a/ops" "$tmp/b/ops"
cat >"$tmp/a/ops/show.yaml" <<'Y'
show:
  run: 'printf "\"%s|%s|%s|%s\"" "$FOO" "$OPFOO" "${PATH%%:*}" "$(pwd)" > "$WEFT_OUTPUTS/result"'
  env: {OPFOO: op}
Y
printf 'graph:\n  show: show\n' >"$tmp/a/jobs/env.yaml"
printf 'hi: {run: echo hi}\n' >"$tmp/b/ops/hi.yaml"
printf 'graph:\n  hi: hi\n' >"$tmp/b/jobs/hello.yaml"

# -- the CLI -------------------------------------------------------------------------
expect_exit -m "an empty registry lists nothing" 0 "$WEFT_BIN" location list
check_has "it says version 0" "registry version 0, 0 locations" "$out"
expect_exit -m "location add registers a folder" 0 \
  "$WEFT_BIN" location add a "$tmp/a" --env FOO=loc --env OPFOO=loc --python "$tmp/venv"
check_has "add prints the new version" "registry version 1" "$out"
expect_exit -m "adding the same name again fails" 1 "$WEFT_BIN" location add a "$tmp/b"
check_has "and says it is registered" "already registered" "$err"
expect_exit -m "a stale --if-version is refused" 1 "$WEFT_BIN" location add b "$tmp/b" --if-version 0
check_has "with a message telling to retry" "read it again and retry" "$err"
expect_exit -m "the current --if-version is accepted" 0 "$WEFT_BIN" location add b "$tmp/b" --if-version 1
expect_exit -m "location list shows both" 0 "$WEFT_BIN" location list
check_has "list shows a's settings" "python=$tmp/venv  FOO=loc  OPFOO=loc" "$out"
check_has "list shows b with its job count" "1 job, 0 errors" "$out"
expect_exit -m "job list reads the registry" 0 "$WEFT_BIN" job list
check_has "job list shows b:hello" "hello" "$out"

# -- steps get the location's env, venv/bin first in PATH, the op's env wins ----------
expect_exit -m "a run of a registry job succeeds" 0 "$WEFT_BIN" launch a:env
id=$(run_id_of)
v=$("$WEFT_BIN" run show "$id" | sed -n 's/^ *code version: *//p')
check_eq "the step saw FOO, the op's OPFOO, venv/bin first, the code snapshot as cwd" \
  "\"loc|op|$tmp/venv/bin|$WEFT_HOME/code/$v\"" "$(cat "$WEFT_HOME/artifacts/$id/show/result" 2>/dev/null)"

# -- a location's image: its steps run in containers, so a launch needs an engine ------
expect_exit -m "a location may name an image" 0 \
  "$WEFT_BIN" location add img "$tmp/a" --image img:1
expect_exit -m "location list shows it" 0 "$WEFT_BIN" location list
check_has "with its image" "image=img:1" "$out"
runs_before=$("$WEFT_BIN" run list --format json | grep -c '"id"')
expect_exit -m "with no engine, its launch fails at once" 1 \
  env DOCKER_HOST="unix://$tmp/no-engine.sock" "$WEFT_BIN" launch img:env
check_has "saying no engine answers there" "no container engine at unix://$tmp/no-engine.sock" "$err"
check_eq "and creating no run" "$runs_before" \
  "$("$WEFT_BIN" run list --format json | grep -c '"id"')"
expect_exit -m "the image location is removed" 0 "$WEFT_BIN" location remove img

# -- a broken file is reported as file:line:col -----------------------------------------
printf 'graph:\n  x: [1\n' >"$tmp/b/jobs/bad.yaml"
expect_exit -m "reload of a location with errors exits 1" 1 "$WEFT_BIN" location reload b
check_py "reload reports the error as file:line:col" '
import re,sys
t=open(sys.argv[1]).read()
print("ok" if re.search(r"jobs/bad\.yaml:\d+:\d+: ", t) else t)'
expect_exit -m "list shows the error count and position" 0 "$WEFT_BIN" location list
check_has "one error in b" "2 jobs, 1 error" "$out"
rm "$tmp/b/jobs/bad.yaml"

# -- concurrent changes: each one is atomic, none is lost -------------------------------
for i in $(seq 8); do mkdir -p "$tmp/c$i"; done
for i in $(seq 8); do
  ( "$WEFT_BIN" location add "c$i" "$tmp/c$i" >"$tmp/c$i.out" 2>"$tmp/c$i.err"; echo $? >"$tmp/c$i.rc" ) &
done
wait
won=0 lost=0 bad=0
for i in $(seq 8); do
  case $(cat "$tmp/c$i.rc") in
    0) won=$((won + 1)) ;;
    1) grep -q "retry" "$tmp/c$i.err" && lost=$((lost + 1)) || bad=$((bad + 1)) ;;
    *) bad=$((bad + 1)) ;;
  esac
done
echo "# concurrent adds: $won written, $lost refused with 'retry'"
check_eq "every concurrent add either wins or fails asking to retry" 0 "$bad"
run "$WEFT_BIN" location list
check_eq "the registry holds exactly the winners" "$((won + 2))" \
  "$(sed -n 's/^registry version [0-9]*, \([0-9]*\) locations$/\1/p' "$tmp/out")"
for i in $(seq 8); do "$WEFT_BIN" location remove "c$i" >/dev/null 2>&1; done

# -- the server: serves the registry and follows its changes ------------------------------
export tmp
start_server || { not_ok "weft dev starts on the registry"; test_done; }
ok "weft dev starts on the registry (no workspace.yaml needed)"
py_checks <<'PY'
import sys, time, subprocess, os
from weft_http import Client
c = Client(sys.argv[1])
def names():
    return sorted(l["name"] for l in c.get("/api/v1/locations").json["locations"])
def check(name, cond, detail=""):
    print(("PASS %s" if cond else "FAIL %s\t" + str(detail)) % name)
check("the server lists the registry's locations", names() == ["a", "b"], names())
tmp = os.environ["tmp"]
os.makedirs(tmp + "/d/jobs", exist_ok=True)
t0 = time.monotonic()
subprocess.run([os.environ["WEFT_BIN"], "location", "add", "d", tmp + "/d"], check=True,
               stdout=subprocess.DEVNULL)
while "d" not in names() and time.monotonic() - t0 < 5: time.sleep(0.02)
dt = time.monotonic() - t0
print("CLI add -> visible in the API: %.0f ms" % (dt * 1000))
# Not a latency check (1.4 s under ASan at load 15 on 2 cores): that it
# shows up at all, without a restart; the time is printed for the record.
check("a location added with the CLI shows in the API without a restart", dt < 5.0, dt)
subprocess.run([os.environ["WEFT_BIN"], "location", "remove", "d"], check=True,
               stdout=subprocess.DEVNULL)
t0 = time.monotonic()
while "d" in names() and time.monotonic() - t0 < 5: time.sleep(0.02)
check("a removed location leaves the API", time.monotonic() - t0 < 5.0)
PY
test_done
