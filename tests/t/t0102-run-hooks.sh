#!/usr/bin/env bash
# t0102-run-hooks: run alerts. Webhooks go to a local HTTP receiver
# (fixtures/hooks/receiver.py): on_failure with the default Slack body, an
# op's on_failure, on_success with a body template and a secret header
# (never in events or output), a command hook, retries after two 500s,
# on_sla_missed, an instance-wide hook of weft.yaml, a receiver that hangs
# (the run ends on time, hook_failed later), each delivered once (a claim
# in storage per run and hook: an alert claimed already is not sent), and
# bad hook keys refused at load.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cp -r "$WEFT_SRC/tests/t/fixtures/hooks" "$tmp/loc"
python3 "$tmp/loc/receiver.py" "$tmp/port" "$tmp/requests.log" &
receiver=$!
at_exit "kill $receiver; wait $receiver"
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port" 2>/dev/null)
[ -n "$port" ] || { echo "Bail out! the receiver did not start"; exit 1; }
find "$tmp/loc" -name '*.yaml' -exec sed -i "s/@PORT@/$port/g; s#@OUT@#$tmp#g" {} +
touch "$tmp/requests.log"

requests() { # requests PATH: the bodies POSTed to PATH, one a line
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == sys.argv[2]: print(r["body"])' "$tmp/requests.log" "$1"
}
header_of() { # header_of PATH NAME: NAME of the first request to PATH
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == sys.argv[2]: print(r["headers"].get(sys.argv[3], "")); break' \
    "$tmp/requests.log" "$1" "$2"
}
hook_events() { # hook_events ID: "type|hook|attempts" of the run's hook events
  store_query "select type || '|' || json_extract(payload, '$.hook') || '|' ||
    json_extract(payload, '$.attempts') from events where run_id='$1' and type like 'hook_%'
    order by json_extract(payload, '$.hook')"
}

# -- on_failure: the job's, with the default body, and the failing op's -------------------
expect_exit -m "a failing run with on_failure hooks" 1 "$WEFT_BIN" launch fails -l loc
id=$(run_id_of)
check_eq "the job's webhook got the Slack-style default body, once" \
  "{\"text\": \"weft: run $id of fails failed: 1 step failed: b\"}" "$(requests /failed)"
check_eq "the op's webhook got its own, once" \
  "{\"text\": \"weft: step b of run $id of fails failed: step b failed after 1 attempt\"}" \
  "$(requests /op-failed)"
check_eq "both recorded as hook_delivered after 1 attempt" \
  "hook_delivered|job.on_failure[0]|1
hook_delivered|op.b.on_failure[0]|1" "$(hook_events "$id")"
check_eq "the op's event is the step's" "b" \
  "$(store_query "select step from events where run_id='$id' and type='hook_delivered' and json_extract(payload, '$.hook') like 'op.%'")"
check_eq "each delivery claimed once in storage" "hooks/$id/job.on_failure[0]
hooks/$id/op.b.on_failure[0]" "$(store_query "select key from kv where key like 'hooks/$id/%' order by key")"
check_has "weft run events reads them as sentences" \
  "alert job.on_failure[0] (webhook to http://127.0.0.1:$port/…) delivered after 1 attempt" "$out"

# -- on_success: a template, a secret header, a command -----------------------------------
printf %s 'Bearer s3cr3t-hook-t0ken' | "$WEFT_BIN" secret set hook_token >/dev/null
expect_exit -m "a run with on_success hooks" 0 "$WEFT_BIN" launch passes -l loc
id=$(run_id_of)
check_eq "the body template filled in" "{\"run\": \"$id\", \"job\": \"passes\", \"status\": \"success\"}" \
  "$(requests /passed)"
check_eq "the secret header sent" "Bearer s3cr3t-hook-t0ken" "$(header_of /passed Authorization)"
check_eq "the plain header sent" "plain-value" "$(header_of /passed X-Plain)"
check_eq "the command ran once with the run's variables" "alert $id passes success on_success" \
  "$(cat "$tmp/command.log")"
check_eq "both delivered" "hook_delivered|job.on_success[0]|1
hook_delivered|job.on_success[1]|1" "$(hook_events "$id")"
check_eq "the secret is in no event" "0" \
  "$(store_query "select count(*) from events where payload like '%s3cr3t-hook%'")"
case "$out$err" in
*s3cr3t-hook*) not_ok "the secret is not in the launch's output" ;;
*) ok "the secret is not in the launch's output" ;;
esac

# -- retries after 500s ---------------------------------------------------------------------
expect_exit -m "a run whose receiver answers 500 twice" 0 "$WEFT_BIN" launch retried -l loc
id=$(run_id_of)
check_eq "three requests, the third taken" "3" "$(requests /retried | wc -l)"
check_eq "delivered after 3 attempts, with status 200" "hook_delivered|job.on_success[0]|3|200" \
  "$(hook_events "$id")|$(store_query "select json_extract(payload, '$.status') from events where run_id='$id' and type='hook_delivered'")"

# -- on_sla_missed ----------------------------------------------------------------------------
expect_exit -m "a run slower than its SLA" 0 "$WEFT_BIN" launch late -l loc
id=$(run_id_of)
check_eq "on_sla_missed delivered once" \
  "{\"text\": \"weft: run $id of late missed its SLA: not done within its SLA of 500ms\"}" \
  "$(requests /late)"
check_eq "after the sla_missed event" "sla_missed hook_delivered" \
  "$(store_query "select type from events where run_id='$id' and type in ('sla_missed', 'hook_delivered') order by id" | tr '\n' ' ' | sed 's/ $//')"

# -- a receiver that hangs does not hold the run ---------------------------------------------
t0=$(date +%s)
expect_exit -m "a run whose receiver never answers" 0 "$WEFT_BIN" launch hangs -l loc
took=$(($(date +%s) - t0))
id=$(run_id_of)
if [ "$took" -lt 25 ]; then ok "the launch returns in bounded time"; else not_ok "the launch returns in bounded time" "took ${took}s"; fi
check_py "the run itself ended at once (under 3 s)" "
print('ok' if int('$(store_query "select ended_ms - started_ms from runs where id='$id'")') < 3000 else 'slow')"
check_eq "the alert failed after its 2 s timeout, recorded" "hook_failed|job.on_success[0]|1" \
  "$(hook_events "$id")"
check_has "with the reason" "timed out" \
  "$(store_query "select json_extract(payload, '$.error') from events where run_id='$id' and type='hook_failed'")"

# -- instance-wide hooks of weft.yaml ----------------------------------------------------------
# ${VAR} as anywhere in weft.yaml: a webhook URL can come from the environment.
export HOOK_URL="http://127.0.0.1:$port/instance"
# shellcheck disable=SC2016 # weft expands it, not the shell
printf 'hooks:\n  on_success:\n    - webhook: ${HOOK_URL}\n' >"$WEFT_HOME/weft.yaml"
expect_exit -m "a run with weft.yaml's hooks, its URL from \${HOOK_URL}" 0 "$WEFT_BIN" launch retried -l loc
id=$(run_id_of)
check_eq "weft.yaml's on_success delivered too" \
  "{\"text\": \"weft: run $id of retried succeeded\"}" "$(requests /instance)"
check_eq "as the instance's hook" "hook_delivered|instance.on_success[0]|1" \
  "$(hook_events "$id" | grep instance)"
printf 'hooks:\n  on_failure: {webhook: "mailto:x@example.com"}\n' >"$WEFT_HOME/weft.yaml"
expect_exit -m "a bad hook in weft.yaml is refused" 1 "$WEFT_BIN" run list
check_has "at its line and column" \
  "weft.yaml:2:25: error: weft.yaml hooks: on_failure: webhook must be an http:// or https:// URL" "$err"
rm "$WEFT_HOME/weft.yaml"

# -- an alert already claimed is not sent again -------------------------------------------------
# With run_queue limits, --detach leaves the run queued with no coordinator:
# claim its job alert as a coordinator before would have, then drive it.
printf 'run_queue:\n  max_concurrent_runs: 5\n' >"$WEFT_HOME/weft.yaml"
expect_exit -m "a failing run left queued" 0 "$WEFT_BIN" launch fails -l loc --detach
id=$(head -n 1 "$tmp/out")
python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
c.execute("insert into kv(key, value, updated_ms) values (?, ?, 0)", ("hooks/%s/job.on_failure[0]" % sys.argv[2], "claimed"))
c.commit()' "$WEFT_HOME/weft.db" "$id"
before=$(requests /failed | wc -l)
expect_exit -m "weft run coordinate drives it" 1 "$WEFT_BIN" run coordinate "$id"
check_eq "the claimed alert is not sent again" "$before" "$(requests /failed | wc -l)"
check_eq "the op's alert, not claimed, is" "hook_delivered|op.b.on_failure[0]|1" "$(hook_events "$id")"
rm "$WEFT_HOME/weft.yaml"

# -- never twice -----------------------------------------------------------------------------------
sleep 1
check_eq "no alert was sent twice (the op's of two runs)" "/failed 1|/instance 1|/late 1|/op-failed 2|/passed 1" \
  "$(python3 -c 'import json,sys,collections
c = collections.Counter(json.loads(l)["path"] for l in open(sys.argv[1]))
print("|".join("%s %d" % (p, n) for p, n in sorted(c.items()) if p not in ("/retried", "/hang")))' "$tmp/requests.log")"

# -- bad hook keys --------------------------------------------------------------------------------
mkdir -p bad/jobs
printf 'on_failure: {webhook: http://a/b, command: x}\non_succes: {command: x}\nops:\n  a: {run: "true"}\n' \
  >bad/jobs/j.yaml
expect_exit -m "weft validate refuses bad hooks" 1 "$WEFT_BIN" validate bad
check_has "both webhook and command" "bad/jobs/j.yaml:1:13: error: job 'j': on_failure: give webhook or command, not both" "$out$err"
check_has "a misspelled trigger" "unknown key 'on_succes' in job 'j' (did you mean 'on_success'?)" "$out$err"

test_done
