#!/usr/bin/env bash
# t0040-s3-artifacts: an instance whose weft.yaml stores artifacts in S3
# (the s3rver that scripts/test starts, named by WEFT_TEST_S3_URL): a run's
# outputs go to the bucket, `weft artifacts` reads them back, re-execution
# reads earlier outputs from it, and a missing bucket, an unreachable
# endpoint and missing credentials are clear errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

if [ -z "${WEFT_TEST_S3_URL:-}" ]; then
  skip "WEFT_TEST_S3_URL is not set (scripts/test starts an S3 server)"
  test_done
fi
# s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:PORT&...
bucket=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|^s3://\([^/?]*\).*|\1|p')
endpoint=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|.*[?&]endpoint=\([^&]*\).*|\1|p')
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}
prefix=t0040-$$-$(date +%s)

write_config() { # BUCKET ENDPOINT
  cat >"$WEFT_HOME/weft.yaml" <<YAML
artifacts:
  s3:
    bucket: $1
    prefix: $prefix
    endpoint: $2
    region: us-east-1
    path_style: true
YAML
}
write_config "$bucket" "$endpoint"

cd "$examples" || exit 1
expect_exit -m "the arithmetic example succeeds with S3 artifacts" 0 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml
check_has "it reports total = 17" "total output result = 17" "$out"
id=$(run_id_of)
check_eq "no output is written to the local artifacts folder" "" \
  "$(ls "$WEFT_HOME/artifacts" 2>/dev/null)"

expect_exit -m "weft artifacts get reads the total from the bucket" 0 \
  "$WEFT_BIN" artifacts get "$id" total result
check_eq "the total read back is 17" 17 "$out"
expect_exit -m "weft artifacts get -o FILE" 0 \
  "$WEFT_BIN" artifacts get "${id:0:6}" split low -o "$tmp/low"
check_eq "split.low is 8" 8 "$(cat "$tmp/low")"
expect_exit -m "weft artifacts ls lists the run's outputs" 0 "$WEFT_BIN" artifacts ls "$id"
check_eq "six outputs, sorted" \
  "$id/add_one_a/result $id/add_one_b/result $id/add_x/result $id/split/high $id/split/low $id/total/result" \
  "$(grep -v '\.log$' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "and each step's compute logs, under its attempt" 10 "$(grep -c '/1/std\(out\|err\)\.log$' "$tmp/out")"
expect_exit -m "weft artifacts ls RUN STEP -l" 0 "$WEFT_BIN" artifacts ls "$id" split -l
check_eq "two outputs of split with sizes" 2 "$(grep -c "[0-9]  $id/split/[a-z]*$" "$tmp/out")"
expect_exit -m "a step's stdout log is read back from the bucket" 0 \
  "$WEFT_BIN" artifacts get "$id" total 1/stdout.log
expect_exit -m "a missing output is an error" 1 "$WEFT_BIN" artifacts get "$id" total nope
check_has "it names the output" "has no output nope of step total" "$err"
expect_exit -m "artifacts without a subcommand is a usage error" 2 "$WEFT_BIN" artifacts

expect_exit -m "re-executing one step reads the other outputs from the bucket" 0 \
  "$WEFT_BIN" run reexecute "$id" --steps total
id2=$(run_id_of)
expect_exit -m "the re-executed total is in the bucket" 0 \
  "$WEFT_BIN" artifacts get "$id2" total result
check_eq "and is 17 again" 17 "$out"

# -- logs of a running step are in the bucket as they are written ---------------------------
mkdir -p "$tmp/live/ops" "$tmp/live/jobs"
# It talks until the test has seen its first lines (or 60 s): on a loaded
# machine a fixed pace could end before the test looks.
cat >"$tmp/live/ops/talk.yaml" <<YAML
talk:
  run: |
    for i in 1 2 3 4 5 6 7 8 9 10; do
      echo "line \$i"
      n=0
      while [ \$i -ge 2 ] && [ ! -e "$tmp/live.seen" ] && [ \$n -lt 600 ]; do
        sleep 0.1; n=\$((n + 1))
      done
    done
YAML
printf 'ops:\n  talk: talk\n' >"$tmp/live/jobs/live.yaml"
expect_exit -m "a slow talker launches detached" 0 "$WEFT_BIN" launch live -l "$tmp/live" --detach
live=$out
seen=''
for _ in $(seq 60); do
  "$WEFT_BIN" artifacts get "$live" talk 1/stdout.log >"$tmp/live.out" 2>/dev/null &&
    grep -q 'line 2' "$tmp/live.out" && seen=yes && break
  sleep 0.1
done
check_eq "its first lines are readable from the bucket while it runs" yes "$seen"
check_eq "the run was still going then" started "$(store_query "SELECT status FROM runs WHERE id='$live'")"
check_eq "but not its last line yet" "" "$(grep 'line 10' "$tmp/live.out")"
touch "$tmp/live.seen" # it may finish now
for _ in $(seq 300); do
  [ "$(store_query "SELECT status FROM runs WHERE id='$live'")" = success ] && break
  sleep 0.1
done
expect_exit -m "the whole log is in the bucket once the step ended" 0 \
  "$WEFT_BIN" artifacts get "$live" talk 1/stdout.log
check_eq "all ten lines, in order" "$(seq 10 | sed 's/^/line /')" "$out"
expect_exit -m "the live chunks are gone once the whole log is up" 0 "$WEFT_BIN" artifacts ls "$live"
check_eq "no chunk objects left" 0 "$(grep -c '\.chunks/' "$tmp/out")"

# The API serves a log from the bucket when this machine no longer has it.
rm -f "$WEFT_HOME/runs/$live/talk/1/stdout.log"
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1
start_server -l "$tmp/live" && ok "weft dev starts with S3 artifacts" || not_ok "weft dev did not start"
expect_exit -m "the log API answers from the bucket" 0 python3 -c \
  'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "$url/api/v1/runs/$live/logs/talk?stream=stdout"
check_eq "with all ten lines" "$(seq 10 | sed 's/^/line /')" "$out"
stop_server

# The live log stream of a step running on another machine: a server whose
# WEFT_HOME shares the storage and the bucket but not the runs folder (as
# with a remote worker) tails the chunks uploaded to the bucket.
home1=$WEFT_HOME
home2=$tmp/home2
mkdir -p "$home2"
{ printf 'storage:\n  sqlite:\n    path: %s/weft.db\n' "$home1"; cat "$home1/weft.yaml"; } \
  >"$home2/weft.yaml"
rm -f "$tmp/live.seen" # this talker too waits after line 2 until it is seen live
expect_exit -m "another slow talker launches detached" 0 "$WEFT_BIN" launch live -l "$tmp/live" --detach
live2=$out
WEFT_HOME=$home2 start_server -l "$tmp/live" && ok "a server with another home starts" ||
  not_ok "the second server did not start"
python3 - "$url/api/v1/runs/$live2/logs/talk/stream?stream=stdout" "$tmp/live.seen" \
  >"$tmp/sse.out" <<'PY'
import json, sys, urllib.request
text, live_chunks, ended = "", 0, False
with urllib.request.urlopen(sys.argv[1], timeout=60) as r:
    event = None
    for raw in r:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "chunk":
            text += json.loads(line[6:])["text"]
            if "line 10" not in text:
                live_chunks += 1
            if "line 2" in text:
                open(sys.argv[2], "w").close()  # seen live: the talker may finish
        elif line.startswith("data: ") and event == "end":
            ended = True
            break
print(json.dumps({"text": text, "live_chunks": live_chunks, "ended": ended}))
PY
check_eq "the stream ends once the step is over" true \
  "$(python3 -c 'import json,sys; print(str(json.load(sys.stdin)["ended"]).lower())' <"$tmp/sse.out")"
check_eq "it carries all ten lines in order" "$(seq 10 | sed 's/^/line /')" \
  "$(python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["text"])' <"$tmp/sse.out")"
check_eq "some of them arrived while the step still ran" 1 \
  "$(python3 -c 'import json,sys; print(int(json.load(sys.stdin)["live_chunks"] > 0))' <"$tmp/sse.out")"
stop_server
export WEFT_HOME=$home1

# -- failures ----------------------------------------------------------------------------
write_config no-such-bucket-weft "$endpoint"
expect_exit -m "a missing bucket fails the launch" 1 \
  "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml
check_has "with S3's error code" "NoSuchBucket" "$err"
check_has "and a hint" "the bucket does not exist" "$err"

write_config "$bucket" "http://127.0.0.1:1"
start=$(date +%s)
expect_exit -m "an unreachable endpoint fails" 1 "$WEFT_BIN" run list
check_has "naming the endpoint" "http://127.0.0.1:1" "$err"
check_has "after bounded retries" "after 5 attempts" "$err"
check_eq "within the retry budget (under 15 s)" 1 "$(( $(date +%s) - start < 15 ))"

write_config "$bucket" "$endpoint"
expect_exit -m "no credentials at all is a clear error" 1 \
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE \
  AWS_SHARED_CREDENTIALS_FILE="$tmp/none" "$WEFT_BIN" run list
check_has "naming what to set" "no AWS credentials" "$err"

printf '[default]\naws_access_key_id = X\n[ci]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' \
  >"$tmp/credentials"
expect_exit -m "credentials from a profile of the credentials file" 0 \
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=ci \
  AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" "$WEFT_BIN" artifacts get "$id" total result
check_eq "read the total with them" 17 "$out"

write_config no-such-bucket-weft "$endpoint"
expect_exit -m "a failing store with a secret in the environment" 1 \
  env AWS_SECRET_ACCESS_KEY=sekrit-value-123 "$WEFT_BIN" launch arithmetic -c arithmetic/run.yaml
case "$out$err" in
  *sekrit-value-123*) not_ok "the secret is never printed" "$err" ;;
  *) ok "the secret is never printed" ;;
esac
test_done
