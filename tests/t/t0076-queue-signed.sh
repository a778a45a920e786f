#!/usr/bin/env bash
# t0076-queue-signed: every message on the broker is signed with the
# instance's queue key (docs/queue-security.md). A signed run succeeds over
# two workers; a forged message (valid JSON, wrong HMAC), one signed with
# another key and an unsigned one are dead-lettered to weft.dead with the
# reason in the worker's log, and the command they carry never runs; a
# worker given another key rejects real steps, and the run fails saying so.
# Passwords in storage and broker URLs appear in no error and not in
# `weft instance show`.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_queue.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1

amqp_setup
queue_instance ""

dead_count() {
  "$WEFT_BIN" queue stats weft.dead --format json | python3 -c '
import json,sys
print(sum(q["ready"] for q in json.load(sys.stdin)["queues"] if q["name"]=="weft.dead"))'
}
# wait_dead N: until weft.dead holds N messages (10 s); prints the count
wait_dead() {
  local got
  for _ in $(seq 100); do
    got=$(dead_count)
    [ "${got:-0}" -ge "$1" ] && break
    sleep 0.1
  done
  echo "${got:-0}"
}

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<YAML
hello:
  queue: $qd
  outputs: {result: int}
  run: echo 7 > "\$WEFT_OUTPUTS/result"
add:
  queue: $qd
  inputs: {a: int, b: int}
  outputs: {result: int}
  run: echo \$(( \$(cat "\$WEFT_INPUTS/a") + \$(cat "\$WEFT_INPUTS/b") )) > "\$WEFT_OUTPUTS/result"
elsewhere:
  queue: $qg
  run: touch "$tmp/wrong-key-ran"
YAML
cat >loc/jobs/sum.yaml <<'YAML'
ops:
  x: hello
  y: hello
  z: {uses: add, inputs: {a: x, b: y}}
YAML
printf 'ops:\n  e: elsewhere\n' >loc/jobs/elsewhere.yaml

# -- (a) a signed run over two workers ------------------------------------------
start_worker w1 "$qd"
start_worker w2 "$qd"
wait_registered 2 || not_ok "two workers register" "$(cat "$tmp"/w*.log)"
key=$WEFT_HOME/queue.key
check_eq "the first process made the key, readable by its owner only" 600 "$(stat -c %a "$key")"
check_eq "64 hex digits and a newline" 65 "$(stat -c %s "$key")"
expect_exit -m "weft instance show" 0 "$WEFT_BIN" instance show
check_has "names the key file" "queue key:  $key (key id " "$out"
keyid=$(sed -n 's/.*(key id \([0-9a-f]\{16\}\),.*/\1/p' "$tmp/out")
check_has "the worker logs the same key id" "signed and checked with key $keyid" "$(cat "$tmp/w1.log")"
expect_exit -m "a run over the broker succeeds (a signed run)" 0 "$WEFT_BIN" launch sum -l loc --quiet
id=$(run_id_of)
expect_exit 0 "$WEFT_BIN" run show "$id" --format json
check_py "its steps ran on the two workers" '
import json,sys
r = json.load(open(sys.argv[1]))
ws = {s["worker"] for s in r["steps"]}
print("ok" if r["status"] == "success" and ws <= {"w1","w2"} and all(ws) else (r["status"], ws))'

# -- (b), (c) forged, foreign-key and unsigned messages ----------------------------
before=$(dead_count)
case $before in '' | *[!0-9]*) not_ok "weft.dead is counted" "got '$before'" ;; esac
# A step of a run that exists and is in progress would be enough to run
# it: give it one (the messages are refused before the run is looked at).
step_msg() { # $1: marker file the step's command would create
  printf '{"v":1,"attempt_id":"%s/s/1/ab","run_id":"%s","job":"j","step":"s","attempt":1,"op":{"name":"o","run":"touch %s"},"cwd":"/","reply_to":"weft.reply.nobody"}' \
    "$id" "$id" "$1"
}
zeros=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
expect_exit -m "publish a forged message (the instance's key id, a wrong HMAC)" 0 \
  "$WEFT_BIN" queue publish-raw "$qd" "$(step_msg "$tmp/forged-ran")" --signature "v1:$keyid:$zeros"
head -c 32 /dev/urandom | base64 >"$tmp/other.key"
chmod 600 "$tmp/other.key"
expect_exit -m "publish a message signed with another key" 0 \
  env WEFT_QUEUE_SIGNING_KEY_FILE="$tmp/other.key" \
  "$WEFT_BIN" queue publish-raw "$qd" "$(step_msg "$tmp/other-key-ran")"
expect_exit -m "publish an unsigned message" 0 \
  "$WEFT_BIN" queue publish-raw "$qd" "$(step_msg "$tmp/unsigned-ran")" --unsigned
after=$(wait_dead $((before + 3)))
check_eq "the three are dead-lettered into weft.dead" $((before + 3)) "$after"
logs=$(cat "$tmp/w1.log" "$tmp/w2.log")
check_has "the worker log names the forged one" \
  "(dead-lettered to weft.dead): message signature is invalid (its HMAC does not match the content: forged or altered)" "$logs"
check_has "the one signed with another key" \
  "(dead-lettered to weft.dead): message signature is invalid (signed with key " "$logs"
check_has "and the unsigned one" \
  "(dead-lettered to weft.dead): message signature is missing (no weft-sig header)" "$logs"
sleep 1 # time a step would have had to run
for f in forged-ran other-key-ran unsigned-ran; do
  if [ -e "$tmp/$f" ]; then not_ok "the $f step did not run"; else ok "the $f step did not run"; fi
done
case $logs in *"running $id/s/1/ab"*) not_ok "no worker started them" ;; *) ok "no worker started them" ;; esac
# The same content, signed with the right key, gets past the signature:
# only then is the message itself read (its run is over: dropped).
expect_exit -m "the same message, signed with the instance's key, is accepted" 0 \
  "$WEFT_BIN" queue publish-raw "$qd" "$(step_msg "$tmp/signed-ran")"
for _ in $(seq 100); do grep -q "$id/s/1/ab: run $id is" "$tmp"/w[12].log && break; sleep 0.1; done
check_has "and read (the run it names is over: dropped, not dead-lettered)" \
  "$id/s/1/ab: run $id is success: dropped" "$(cat "$tmp"/w[12].log)"
kill -0 "$worker_pid" 2>/dev/null && ok "the workers keep running" || not_ok "a worker died"

# -- (d) a worker with another key rejects real steps -----------------------------
WEFT_QUEUE_SIGNING_KEY_FILE=$tmp/other.key "$WEFT_BIN" worker --id wrongkey --queue "$qg" \
  >"$tmp/wrongkey.log" 2>&1 &
at_exit "kill -9 $!"
for _ in $(seq 100); do grep -q consuming "$tmp/wrongkey.log" && break; sleep 0.1; done
expect_exit -m "a run whose step goes to a worker with another key fails" 1 \
  timeout 60 "$WEFT_BIN" launch elsewhere -l loc --quiet
id2=$(run_id_of)
check_has "the coordinator drops the worker's notice it cannot verify" \
  "dropped a notice on weft.reply." "$err"
expect_exit 0 "$WEFT_BIN" run show "$id2" --format json
check_has "the step fails naming the worker and why" \
  "worker wrongkey rejected the step (dead-lettered): message signature is invalid (signed with key $keyid, this process has key" "$out"
check_has "the worker's log says so" "rejected a message from weft.step.$qg (dead-lettered to weft.dead): message signature is invalid" \
  "$(cat "$tmp/wrongkey.log")"
[ -e "$tmp/wrong-key-ran" ] && not_ok "its command did not run" || ok "its command did not run"

# -- the key file: errors name the setting ----------------------------------------
cp "$WEFT_HOME/weft.yaml" "$tmp/weft.yaml.orig"
printf 'queue:\n  signing_key_file: %s\n' "$tmp/absent.key" >>"$WEFT_HOME/weft.yaml"
expect_exit -m "a missing key file stops the worker" 1 "$WEFT_BIN" worker --id k1 --queue "$qd"
check_has "naming the setting and the file" \
  "queue.signing_key_file in weft.yaml: cannot read the queue signing key $tmp/absent.key: No such file" "$err"
cp "$tmp/weft.yaml.orig" "$WEFT_HOME/weft.yaml"
printf 'queue:\n  signing_key_file: open.key\n' >>"$WEFT_HOME/weft.yaml"
head -c 32 /dev/urandom | base64 >"$WEFT_HOME/open.key"
chmod 644 "$WEFT_HOME/open.key"
expect_exit -m "a key file others can read stops the worker" 1 "$WEFT_BIN" worker --id k2 --queue "$qd"
check_has "naming the setting and the mode" \
  "queue.signing_key_file in weft.yaml: the queue signing key $WEFT_HOME/open.key has permissions 0644, too open" "$err"
expect_exit -m "and weft instance show says why the key is unusable" 0 "$WEFT_BIN" instance show
check_has "(show)" "unusable: queue.signing_key_file in weft.yaml" "$out"
printf 'short\n' >"$tmp/short.key"
chmod 600 "$tmp/short.key"
expect_exit -m "a short key file from the environment is refused" 1 \
  env WEFT_QUEUE_SIGNING_KEY_FILE="$tmp/short.key" "$WEFT_BIN" worker --id k3 --queue "$qd"
check_has "naming the variable" "\$WEFT_QUEUE_SIGNING_KEY_FILE: the queue signing key $tmp/short.key holds 6 bytes" "$err"
cp "$tmp/weft.yaml.orig" "$WEFT_HOME/weft.yaml"

# -- passwords are redacted --------------------------------------------------------
no_secret() { # NAME TEXT SECRET
  case "$2" in *"$3"*) not_ok "$1" "the password is in: $2" ;; *) ok "$1" ;; esac
}
amqp_pw=$(printf '%s' "$amqp_url" | sed -n 's|^amqp://[^:@/]*:\([^@]*\)@.*|\1|p')
expect_exit -m "weft queue stats --format json" 0 "$WEFT_BIN" queue stats --format json
check_py "names the broker with its password masked" '
import json,sys
b = json.load(open(sys.argv[1]))["broker"]
print("ok" if ":***@" in b else b)'
expect_exit -m "weft worker list --format json" 0 "$WEFT_BIN" worker list --format json
check_py "names each worker's broker without a password" '
import json,sys
ws = json.load(open(sys.argv[1]))["workers"]
print("ok" if ws and all("@" in w["broker"] and ":" not in w["broker"].split("//")[1].split("@")[0] for w in ws) else ws)'
if [ -n "$amqp_pw" ]; then
  no_secret "weft instance show holds no broker password" "$("$WEFT_BIN" instance show)" ":$amqp_pw@"
fi
export WEFT_AMQP_CONNECT_TIMEOUT_S=0 WEFT_PG_CONNECT_TIMEOUT_S=0
expect_exit -m "queue stats on a broker nobody serves fails" 1 \
  "$WEFT_BIN" queue stats --broker amqp://guest:Hunter2amqp@127.0.0.1:1/
no_secret "its error holds no password" "$out$err" Hunter2amqp
expect_exit -m "a worker on a broker nobody serves fails" 1 \
  "$WEFT_BIN" worker --id k4 --queue "$qd" --broker amqp://guest:Hunter2amqp@127.0.0.1:1/
no_secret "its error holds no password" "$out$err" Hunter2amqp
expect_exit -m "an amqps URL is refused" 1 \
  "$WEFT_BIN" worker --id k5 --queue "$qd" --broker amqps://guest:Hunter2amqps@127.0.0.1:1/
check_has "with the URL shown masked" "amqps://guest:***@127.0.0.1:1/" "$err"
no_secret "and no password" "$err" Hunter2amqps
mkdir -p "$tmp/pghome"
printf 'storage:\n  postgres:\n    url: postgresql://weft:Hunter2pg@127.0.0.1:1/weft\n' >"$tmp/pghome/weft.yaml"
expect_exit -m "a storage nobody serves fails" 1 env WEFT_HOME="$tmp/pghome" "$WEFT_BIN" run list
no_secret "its error holds no password" "$out$err" Hunter2pg
printf 'storage:\n  postgres:\n    url: postgresql://weft:Hunter2pg@127.0.0.1:1/weft?sslmode=bogus\n' >"$tmp/pghome/weft.yaml"
expect_exit -m "a storage URL libpq refuses fails" 1 env WEFT_HOME="$tmp/pghome" "$WEFT_BIN" run list
no_secret "its error holds no password" "$out$err" Hunter2pg
printf 'storage:\n  postgres:\n    url: "postgresql://weft:Hunter2pg@127.0.0.1:1/weft bad"\nbroker:\n  rabbitmq:\n    url: http://guest:Hunter2amqp@h/\n' >"$tmp/pghome/weft.yaml"
expect_exit -m "a weft.yaml with a bad broker URL fails" 1 env WEFT_HOME="$tmp/pghome" "$WEFT_BIN" run list
check_has "showing it masked" "http://guest:***@h/" "$err"
no_secret "and no password" "$err" Hunter2amqp
pg_own_database
if [ -n "$pg_url" ]; then
  # the test server trusts local connections: any password is accepted
  shown_pg=$(printf '%s' "$pg_url" | sed 's|postgresql://\([^@:/]*\)\(:[^@]*\)\?@|postgresql://\1:***@|')
  pg_pw=$(printf '%s' "$pg_url" | sed 's|postgresql://\([^@:/]*\)\(:[^@]*\)\?@|postgresql://\1:Hunter2pg@|')
  printf 'storage:\n  postgres:\n    url: %s\nbroker:\n  rabbitmq:\n    url: amqp://guest:Hunter2amqp@127.0.0.1:1/\n' "$pg_pw" >"$tmp/pghome/weft.yaml"
  expect_exit -m "weft instance show (postgres and broker URLs with passwords)" 0 \
    env WEFT_HOME="$tmp/pghome" "$WEFT_BIN" instance show
  check_has "shows the storage URL masked" "storage:    $shown_pg" "$out"
else
  printf 'broker:\n  rabbitmq:\n    url: amqp://guest:Hunter2amqp@127.0.0.1:1/\n' >"$tmp/pghome/weft.yaml"
  expect_exit -m "weft instance show (a broker URL with a password)" 0 \
    env WEFT_HOME="$tmp/pghome" "$WEFT_BIN" instance show
fi
check_has "shows the broker URL masked" "broker:     amqp://guest:***@127.0.0.1:1/" "$out"
no_secret "and no password" "$out$err" Hunter2
test_done
