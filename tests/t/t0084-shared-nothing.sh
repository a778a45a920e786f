#!/usr/bin/env bash
# t0084-shared-nothing: workers that share no disk with the coordinator run
# the examples. Each worker lives in a mount namespace of its own in which
# the coordinator's $WEFT_HOME (its code snapshots) and the location folders
# are covered by an empty tmpfs; it reaches PostgreSQL, RabbitMQ and S3
# only. The code travels through the artifact store (code/VERSION.tar.gz):
# fetched once into the workers' shared code cache, verified, read-only; a
# re-execution runs its parent's code, fetched again from the store.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

if [ -z "${WEFT_TEST_PG_URL:-}" ] || [ -z "${WEFT_TEST_AMQP_URL:-}" ] ||
  [ -z "${WEFT_TEST_S3_URL:-}" ]; then
  skip "needs WEFT_TEST_PG_URL, WEFT_TEST_AMQP_URL and WEFT_TEST_S3_URL (scripts/test sets them)"
  test_done
fi
if ! can_hide_folders; then
  skip "cannot make a mount namespace here (unshare --mount needs root)"
  test_done
fi
amqp_setup ""
pg_own_database
bucket=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|^s3://\([^/?]*\).*|\1|p')
endpoint=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|.*[?&]endpoint=\([^&]*\).*|\1|p')
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}
s3_prefix=t0084-$$-$(date +%s)
# archives: the code archives the store holds (s3rver lists without a
# signature).
archives() {
  curl -s "$endpoint/$bucket?prefix=$s3_prefix/code/" | grep -o '<Key>[^<]*</Key>' | wc -l
}

# One weft.yaml for every machine: the servers and one queue signing key.
mkdir -p keys wk1 wk2 cache locs
(umask 077 && head -c 32 /dev/urandom >keys/queue.key)
cat >"$WEFT_HOME/weft.yaml" <<YAML
storage:
  postgres: {url: "$pg_url"}
artifacts:
  s3: {bucket: $bucket, prefix: $s3_prefix, endpoint: "$endpoint", region: us-east-1, path_style: true}
broker:
  rabbitmq: {url: "$amqp_url"}
queue:
  signing_key_file: $tmp/keys/queue.key
execution: queue
YAML
cp "$WEFT_HOME/weft.yaml" wk1/weft.yaml
cp "$WEFT_HOME/weft.yaml" wk2/weft.yaml
expect_exit -m "the instance opens on PostgreSQL" 0 "$WEFT_BIN" run list

# The examples, their ops on this script's own queue, run with `queue`.
for ex in arithmetic etl fanout; do cp -r "$examples/$ex" locs/; done
python3 - "$qd" locs <<'PY'
import glob, re, sys
q, root = sys.argv[1], sys.argv[2]
for f in glob.glob(root + "/*/ops/*.yaml") + [root + "/fanout/jobs/fanout.yaml"]:
    inline = "/jobs/" in f  # the job's own inline ops, indented
    ops_file = not inline
    out = []
    for line in open(f):
        out.append(line)
        inline = inline and not line.startswith("graph:")  # invocations from here
        if ops_file and re.match(r"^[A-Za-z_][\w-]*:\s*$", line):
            out.append("  queue: %s\n" % q)
        elif inline and re.match(r"^  (produce|join):\s*$", line):
            out.append("    queue: %s\n" % q)
    open(f, "w").write("".join(out))
for f in glob.glob(root + "/*/run.yaml"):
    text = re.sub(r"multiprocess:\n\s+max_concurrent: \d+", "queue: {}", open(f).read())
    open(f, "w").write(text)
PY
# A probe: where its code is, what it can see of the coordinator's disk,
# and a file shipped with the code, read through the Python SDK.
mkdir -p locs/probe/ops locs/probe/jobs
cat >locs/probe/ops/probe.yaml <<YAML
probe:
  queue: $qd
  config:
    coordinator_home: {type: string, default: "$WEFT_HOME"}
  outputs: {result: dict}
  argv: [python3, probe.py]
YAML
printf 'ops:\n  probe: probe\n' >locs/probe/jobs/probe.yaml
echo 1 >locs/probe/answer.txt
cat >locs/probe/probe.py <<'PY'
import os
from weft_op import code_dir, code_path, config, output
home = config()["coordinator_home"]
live = os.environ.get("WEFT_LOCATION_DIR", "")
output("result", {
    "cwd": os.getcwd(), "code_dir": code_dir(),
    "answer": open(code_path("answer.txt")).read().strip(),
    "sees_coordinator_code": os.path.exists(os.path.join(home, "code")),
    "knows_live_folder": bool(live),
    "sees_live_folder": bool(live) and os.path.exists(os.path.join(live, "probe.py")),
    "can_write_code": os.access(code_dir(), os.W_OK) and os.geteuid() != 0,
})
PY

hide="$WEFT_HOME $tmp/locs"
WEFT_HOME=$tmp/wk1 start_worker_hidden w1 "$qd" "$hide" --concurrency 2 --code-cache "$tmp/cache"
pid_w1=$worker_pid
WEFT_HOME=$tmp/wk2 start_worker_hidden w2 "$qd" "$hide" --concurrency 2 --code-cache "$tmp/cache"
pid_w2=$worker_pid
if wait_registered 2; then ok "two workers without the coordinator's disk register"
else not_ok "two workers register" "$(cat "$tmp"/w1.log "$tmp"/w2.log)"; fi

# check_run NAME RUN: every step of RUN succeeded, on w1 or w2.
check_run() {
  expect_exit 0 "$WEFT_BIN" run show "$2" --format json
  check_py "$1" '
import json,sys
r=json.load(open(sys.argv[1]))
bad=[(s["step"],s["status"],s.get("worker"),s.get("message")) for s in r["steps"]
     if s["status"] not in ("succeeded",) or s.get("worker") not in ("w1","w2")]
print("ok" if r["steps"] and not bad else bad)'
}
# fetches [VERSION]: how many fetches of VERSION (any) the workers logged.
fetches() { cat "$tmp/w1.log" "$tmp/w2.log" | grep -c "fetched code version ${1:-}"; }

expect_exit -m "the arithmetic example succeeds on them" 0 \
  "$WEFT_BIN" launch arithmetic -l locs/arithmetic -c locs/arithmetic/run.yaml
check_has "total = 17" "total output result = 17" "$out"
check_run "every arithmetic step ran on a hidden worker" "$(run_id_of)"
expect_exit -m "the etl example (Python scripts of the location) succeeds" 0 \
  "$WEFT_BIN" launch sales_etl -l locs/etl -c locs/etl/run.yaml
check_run "every etl step ran on a hidden worker" "$(run_id_of)"
expect_exit -m "the fanout example succeeds" 0 \
  "$WEFT_BIN" launch fanout -l locs/fanout -c locs/fanout/run.yaml
check_run "every fanout step ran on a hidden worker" "$(run_id_of)"
expect_exit -m "the probe succeeds" 0 "$WEFT_BIN" launch probe -l locs/probe
probe_run=$(run_id_of)
check_run "it ran on a hidden worker" "$probe_run"
expect_exit 0 "$WEFT_BIN" run show "$probe_run" --format json
pv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["code_version"])' "$tmp/out")
check_py "it ran in the cache, saw nothing of the coordinator's disk, read its own file" "
import json,sys
r=json.load(open(sys.argv[1]))
v=[o['value'] for o in r['outputs'] if o['step']=='probe'][0]
want={'cwd':'$tmp/cache/$pv','code_dir':'$tmp/cache/$pv','answer':'1',
      'sees_coordinator_code':False,'knows_live_folder':True,'sees_live_folder':False,'can_write_code':False}
print('ok' if v==want else v)"

versions=$(find "$WEFT_HOME/code" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' | wc -l)
check_eq "four code versions were snapshotted" 4 "$versions"
check_eq "the workers fetched each once, between them" 4 "$(fetches)"
check_eq "the cache holds each once" 4 "$(find cache -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' | wc -l)"
check_eq "nothing half-fetched is left" "" "$(find cache -maxdepth 1 -name 'tmp.*')"
check_eq "cached code is read-only" "" "$(find "cache/$pv" -perm /222 ! -type l)"

# A re-execution runs its parent's code: with the live folder changed and
# the workers' cache emptied, the parent's version comes from the store.
echo 2 >locs/probe/answer.txt
chmod -R u+w cache && rm -rf cache/*
expect_exit -m "re-executing the probe succeeds" 0 \
  "$WEFT_BIN" run reexecute "$probe_run" --steps probe -l locs/probe
re_run=$(run_id_of)
check_run "on a hidden worker" "$re_run"
expect_exit 0 "$WEFT_BIN" run show "$re_run" --format json
check_py "with the parent's code, fetched again from the store" "
import json,sys
r=json.load(open(sys.argv[1]))
v=[o['value'] for o in r['outputs'] if o['step']=='probe'][0]
print('ok' if r['code_version']=='$pv' and v['answer']=='1' and v['cwd']=='$tmp/cache/$pv' else (r['code_version'], v))"
check_eq "fetched once more" 2 "$(fetches "$pv")"
expect_exit -m "--latest-code runs the code as it is now" 0 \
  "$WEFT_BIN" run reexecute "$probe_run" --steps probe --latest-code -l locs/probe
expect_exit 0 "$WEFT_BIN" run show "$(run_id_of)" --format json
check_py "a new version, published and fetched" "
import json,sys
r=json.load(open(sys.argv[1]))
v=[o['value'] for o in r['outputs'] if o['step']=='probe'][0]
print('ok' if r['code_version']!='$pv' and v['answer']=='2' else (r['code_version'], v))"

# A coordinator without the snapshot (a server or scheduler on another
# machine) restores it from the store too.
chmod -R u+w "$WEFT_HOME/code/$pv" && rm -rf "${WEFT_HOME:?}/code/$pv"
expect_exit -m "re-executing with the coordinator's snapshot gone succeeds" 0 \
  "$WEFT_BIN" run reexecute "$probe_run" --steps probe -l locs/probe
expect_exit 0 "$WEFT_BIN" run show "$(run_id_of)" --format json
check_py "with the parent's code, restored from the store" "
import json,sys
r=json.load(open(sys.argv[1]))
v=[o['value'] for o in r['outputs'] if o['step']=='probe'][0]
print('ok' if r['code_version']=='$pv' and v['answer']=='1' else (r['code_version'], v))"
check_eq "the coordinator's snapshot is back, with the parent's file" 1 \
  "$(cat "$WEFT_HOME/code/$pv/answer.txt")"

# An archive changed in the store fails the step, saying so, and leaves
# nothing in the cache. (s3rver takes an unsigned PUT.)
mkdir tampered && cp -r locs/probe/. tampered/ && echo 3 >tampered/answer.txt
tar czf tampered.tgz -C tampered .
curl -sf -X PUT --data-binary @tampered.tgz "$endpoint/$bucket/$s3_prefix/code/$pv.tar.gz" ||
  not_ok "the archive is replaced in the store"
chmod -R u+w cache && rm -rf cache/*
expect_exit -m "a re-execution from the tampered archive fails" 1 \
  "$WEFT_BIN" run reexecute "$probe_run" --steps probe -l locs/probe
expect_exit 0 "$WEFT_BIN" run show "$(run_id_of)" --format json
msg=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["message"])' \
  "$tmp/out")
check_has "the step says the archive is not the version" \
  "code version $pv from the artifact store (code/$pv.tar.gz) is unusable: its files are code version" \
  "$msg"
check_has "corrupt or tampered with" "(corrupt or tampered with)" "$msg"
check_eq "nothing of it is cached" "" "$(find cache -mindepth 1 ! -name '*.lock')"

check_eq "the store holds one archive per version" 5 "$(archives)"
expect_exit -m "gc-code removes the snapshots of finished runs" 0 \
  "$WEFT_BIN" instance gc-code --include-final --min-age 0
check_has "all five" "removed 5 code snapshots" "$out"
check_eq "and their archives" 0 "$(archives)"

kill -TERM "$pid_w1" "$pid_w2"
wait "$pid_w1"
rc1=$?
wait "$pid_w2"
check_eq "both workers stop cleanly" "0 0" "$rc1 $?"
test_done
