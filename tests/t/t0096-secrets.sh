#!/usr/bin/env bash
# t0096-secrets: secrets and variables end to end (docs/secrets.md runs
# these commands): a secret set from standard input reaches a step as an
# environment variable and as a file (the step proves it by the value's
# sha256), and its value appears nowhere else: not in `weft run logs`,
# events, run and step messages, the API's logs, events and SSE stream,
# the database, the artifacts. A missing secret is refused at launch, a
# wrong key fails the step with a message naming the secret, the key
# rotates, changes are audited by name. Variables reach steps and schedule
# templates. Container steps (WEFT_TEST_DOCKER_HOST) and queue workers
# (RabbitMQ) get the same.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_http.sh" || exit 1

value='hunter2-T0P-s3cret'
digest=$(printf %s "$value" | sha256sum | cut -d' ' -f1)

mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<'EOF'
say:
  env:
    TOKEN: {secret: api_token}
    REGION: {variable: region}
  secrets:
    - {name: api_token, file: true}
  outputs:
    env_digest: string
    file_digest: string
    modes: string
  run: |
    echo "the token is $TOKEN in $REGION"
    printf 'split: %s' "$(printf %s "$TOKEN" | cut -c1-9)"; sleep 0.3; printf '%s\n' "$(printf %s "$TOKEN" | cut -c10-)"
    echo "from the file: $(cat "$WEFT_SECRETS_DIR/api_token")" >&2
    printf '{"type":"log","level":"info","msg":"event with %s"}\n' "$TOKEN" >&3
    printf '"%s"' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$WEFT_OUTPUTS/env_digest"
    printf '"%s"' "$(sha256sum <"$WEFT_SECRETS_DIR/api_token" | cut -d' ' -f1)" >"$WEFT_OUTPUTS/file_digest"
    printf '"%s %s"' "$(stat -c %a "$WEFT_SECRETS_DIR")" "$(stat -c %a "$WEFT_SECRETS_DIR/api_token")" >"$WEFT_OUTPUTS/modes"
leak:
  env: {TOKEN: {secret: api_token}}
  outputs: {result: string}
  run: printf '%s' "$TOKEN" >"$WEFT_OUTPUTS/result"
missing:
  env: {X: {secret: no_such_secret}}
  run: "true"
hold:
  secrets: [{name: api_token, file: true}]
  run: touch "$WEFT_OUTPUTS/../holding"; sleep 60.T0096PID
EOF
sed -i "s/T0096PID/$$/" loc/ops/ops.yaml
at_exit "pkill -9 -f 'sleep 60.$$' 2>/dev/null; true"
printf 'graph:\n  say: say\n' >loc/jobs/sec.yaml
printf 'graph:\n  leak: leak\n' >loc/jobs/leak.yaml
printf 'graph:\n  missing: missing\n' >loc/jobs/missing.yaml
printf 'graph:\n  hold: hold\n' >loc/jobs/hold.yaml

# -- the CLI --------------------------------------------------------------------------------
run sh -c "printf %s '$value' | '$WEFT_BIN' secret set api_token"
check_rc "weft secret set reads the value from standard input" 0
check_eq "the key file it made is 0600" 600 "$(stat -c %a "$WEFT_HOME/secret.key")"
expect_exit -m "a value on the command line is refused" 2 "$WEFT_BIN" secret set api_token "$value"
check_has "saying why" "never goes on the command line" "$err"
expect_exit -m "weft secret list" 0 "$WEFT_BIN" secret list
check_has "lists the name" "api_token" "$out"
case "$out" in *"$value"*) not_ok "and never the value" "$out" ;; *) ok "and never the value" ;; esac
expect_exit -m "weft variable set region eu-west-1" 0 "$WEFT_BIN" variable set region eu-west-1
expect_exit -m "weft variable get region" 0 "$WEFT_BIN" variable get region
check_eq "gives the value" "eu-west-1" "$out"
check_eq "nothing in the database holds the value" 0 \
  "$(store_query "SELECT COUNT(*) FROM kv WHERE value LIKE '%hunter2%'" 2>/dev/null || echo 0)"

# -- launch checks ----------------------------------------------------------------------------
expect_exit -m "a job naming a secret that does not exist is refused at launch" 1 \
  "$WEFT_BIN" launch missing -l loc
check_has "naming the op and the secret" \
  "op 'missing' uses secret 'no_such_secret', which does not exist" "$err"
check_eq "and no run is recorded" "" "$(store_query "SELECT id FROM runs WHERE job = 'missing'")"

# -- a run ------------------------------------------------------------------------------------
expect_exit -m "a run whose step gets the secret as env and file succeeds" 0 \
  "$WEFT_BIN" launch sec -l loc
id=$(run_id_of)
case "$out$err" in *"$value"*) not_ok "launch's progress does not show it" "$out" ;; *) ok "launch's progress does not show it" ;; esac
check_has "the event the step wrote is masked in the progress" "event with ***" "$out"
expect_exit -m "weft run show --format json" 0 "$WEFT_BIN" run show "$id" --format json
check_py "the step got the value in its env and file, in 0700/0400" "
import json, sys
outs = {}
d = json.load(open(sys.argv[1]))
for o in d.get('outputs', []):
    outs[o.get('output') or o.get('name')] = o.get('value')
want = '$digest'
print('ok' if outs.get('env_digest') == want and outs.get('file_digest') == want
      and outs.get('modes') == '700 400' else outs)"
check_eq "the secrets folder is gone once the step ended" no \
  "$([ -e "$WEFT_HOME/runs/$id/say/1/secrets" ] && echo yes || echo no)"
expect_exit -m "weft run logs" 0 "$WEFT_BIN" run logs "$id" say
check_eq "stdout shows *** for the value, also where it came in two writes 0.3 s apart" \
  "the token is *** in eu-west-1
split: ***" "$out"
expect_exit -m "weft run logs --stderr" 0 "$WEFT_BIN" run logs "$id" say --stderr
check_eq "stderr too (the file's content)" "from the file: ***" "$out"
expect_exit -m "weft run events" 0 "$WEFT_BIN" run events "$id" --format json
check_has "the log event is masked" "event with ***" "$out"
case "$out" in *"$value"*) not_ok "no event holds the value" ;; *) ok "no event holds the value" ;; esac

expect_exit -m "a step that writes the value where JSON belongs fails" 1 \
  "$WEFT_BIN" launch leak -l loc
leak_id=$(run_id_of)
expect_exit -m "weft run show of that run" 0 "$WEFT_BIN" run show "$leak_id" --format json
check_has "its error names the output" "output 'result' is not valid JSON" "$out"
case "$out" in *hunter2*) not_ok "and the error text does not hold the value" "$out" ;; *) ok "and the error text does not hold the value" ;; esac

hits=$(grep -rl -e hunter2 "$WEFT_HOME" 2>/dev/null | grep -v '/outputs/result$' | grep -v '/artifacts/.*/leak/result$')
check_eq "no file of the instance holds the value (but the output the op chose to write)" "" "$hits"

# -- the API, its logs, events and SSE stream -------------------------------------------------
start_server -l loc || { not_ok "weft dev starts"; test_done; }
py_checks "$id" "$leak_id" "$value" <<'EOF'
import json, sys
from weft_http import check, client
c = client()
run_id, leak_id, value = sys.argv[2], sys.argv[3], sys.argv[4]
texts = {}
for path in ["/api/v1/runs/%s" % run_id, "/api/v1/runs/%s/events" % run_id,
             "/api/v1/runs/%s/logs/say" % run_id, "/api/v1/runs/%s/logs/say?stream=stderr" % run_id,
             "/api/v1/runs/%s" % leak_id, "/api/v1/runs/%s/events" % leak_id,
             "/api/v1/jobs/loc/sec", "/api/v1/secrets"]:
    r = c.get(path)
    check("GET %s answers 200" % path, r.status == 200, r)
    texts[path] = r.body.decode("utf-8", "replace")
check("none of them holds the value", not [p for p, t in texts.items() if value in t],
      [p for p, t in texts.items() if value in t])
check("the log API shows *** where the step printed it",
      "the token is *** in eu-west-1" in texts["/api/v1/runs/%s/logs/say" % run_id],
      texts["/api/v1/runs/%s/logs/say" % run_id][:300])
check("the events API too", "event with ***" in texts["/api/v1/runs/%s/events" % run_id])
st, events, _ = c.sse("/api/v1/runs/%s/events/stream" % run_id, timeout=30,
                      until=lambda e: e.get("event") in ("run_success", "run_failure"))
dump = json.dumps(events)
check("the SSE stream replays the run", st == 200 and "run_success" in dump, (st, dump[:300]))
check("with the event masked and no value", "event with ***" in dump and value not in dump, dump[:300])
secrets = json.loads(texts["/api/v1/secrets"]).get("secrets", [])
check("GET /api/v1/secrets lists names only", [s["name"] for s in secrets] == ["api_token"]
      and set(secrets[0]) == {"name", "updated_ms"}, secrets)
r = c.req("PUT", "/api/v1/variables/zone", {"value": "b"})
check("PUT /api/v1/variables/zone sets a variable", r.status == 200 and r.json.get("value") == "b", r)
r = c.get("/api/v1/variables")
check("GET /api/v1/variables lists it", any(v["name"] == "zone" and v["value"] == "b"
                                           for v in r.json.get("variables", [])), r)
r = c.req("DELETE", "/api/v1/variables/zone")
check("DELETE /api/v1/variables/zone removes it", r.status == 204, r)
check("then it is 404", c.get("/api/v1/variables/zone").status == 404)
r = c.req("DELETE", "/api/v1/secrets/nope")
check("DELETE of an unknown secret is 404", r.status == 404, r)
EOF
stop_server

# -- rotation, a wrong key, the audit log ---------------------------------------------------------
cp "$WEFT_HOME/secret.key" "$tmp/old.key"
expect_exit -m "weft secret rotate-key" 0 "$WEFT_BIN" secret rotate-key
check_has "re-encrypts the secret" "re-encrypted 1 secret" "$out"
check_eq "the key file changed" 1 "$(cmp -s "$tmp/old.key" "$WEFT_HOME/secret.key"; echo $?)"
check_eq "and is still 0600" 600 "$(stat -c %a "$WEFT_HOME/secret.key")"
expect_exit -m "a run after the rotation still gets the value" 0 "$WEFT_BIN" launch sec -l loc
rot_id=$(run_id_of)
run "$WEFT_BIN" run show "$rot_id" --format json
check_has "(its env digest is the value's)" "$digest" "$out"

old_hex=$(tr -d '\n' <"$tmp/old.key")
WEFT_SECRET_KEY=$old_hex run "$WEFT_BIN" launch sec -l loc
check_rc "with the old key (WEFT_SECRET_KEY) the run fails" 1
bad_id=$(run_id_of)
run "$WEFT_BIN" run show "$bad_id" --format json
check_has "the step says which secret it could not open" \
  "cannot decrypt secret 'api_token': wrong key or corrupted" "$out"
case "$out" in *hunter2*) not_ok "without the value" ;; *) ok "without the value" ;; esac

# -- a coordinator killed while its step holds a secret file --------------------------------------
"$WEFT_BIN" launch hold -l loc >"$tmp/hold.out" 2>&1 &
launcher=$!
hold_id=
for _ in $(seq 100); do
  hold_id=$(store_query "SELECT id FROM runs WHERE job = 'hold'" 2>/dev/null)
  [ -n "$hold_id" ] && [ -e "$WEFT_HOME/runs/$hold_id/hold/1/holding" ] && break
  sleep 0.1
done
check_eq "a step holding a secret file runs" yes \
  "$([ -e "$WEFT_HOME/runs/$hold_id/hold/1/secrets/api_token" ] && echo yes || echo no)"
kill -9 "$launcher"
wait "$launcher" 2>/dev/null
expect_exit -m "after kill -9 of its coordinator, the next command sweeps the run (adoption off)" 0 env WEFT_RUN_ADOPT=0 "$WEFT_BIN" run list
check_eq "the run is failed" failure "$(store_query "SELECT status FROM runs WHERE id = '$hold_id'")"
check_eq "and the step's secret files are gone" no \
  "$([ -e "$WEFT_HOME/runs/$hold_id/hold/1/secrets" ] && echo yes || echo no)"

expect_exit -m "weft secret remove" 0 "$WEFT_BIN" secret remove api_token
expect_exit -m "then a run of the job is refused at launch" 1 "$WEFT_BIN" launch sec -l loc
check_has "naming it" "op 'say' uses secret 'api_token', which does not exist" "$err"
expect_exit -m "weft audit" 0 "$WEFT_BIN" audit
check_has "records secret set by name" "secret set api_token" "$out"
check_has "secret rotate-key" "secret rotate-key" "$out"
check_has "and secret remove" "secret remove api_token" "$out"
check_has "and the API's variable change" "PUT /api/v1/variables/zone" "$out"
case "$out" in *hunter2*) not_ok "never a value in the audit log" ;; *) ok "never a value in the audit log" ;; esac

# -- variables in schedule templates -------------------------------------------------------------
mkdir -p tloc/ops tloc/jobs
cat >tloc/ops/ops.yaml <<'EOF'
show:
  config: {region: {type: string}}
  run: cat "$WEFT_CONFIG"
EOF
cat >tloc/jobs/tick.yaml <<'EOF'
graph:
  show: show
schedules:
  - name: every_minute
    cron: "* * * * *"
    config: {ops: {show: {config: {region: "{{var.region}}"}}}}
    tags: {zone: "{{var.region}}"}
EOF
expect_exit -m "a schedule template may use {{var.NAME}}" 0 "$WEFT_BIN" validate tloc
printf 'graph:\n  show: show\nschedules:\n  - {name: s, cron: "* * * * *", tags: {a: "{{vars.x}}"}}\n' \
  >tloc/jobs/bad.yaml
expect_exit -m "a misspelt one is an error" 1 "$WEFT_BIN" validate tloc
check_has "naming it" "unknown placeholder '{{vars.x}}'" "$err"
rm tloc/jobs/bad.yaml
expect_exit -m "weft schedule on every_minute" 0 "$WEFT_BIN" schedule on every_minute -l tloc
expect_exit 0 "$WEFT_BIN" schedule list --format json -l tloc
tick=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["next_tick"])' "$tmp/out")
expect_exit -m "the scheduler launches its tick" 0 timeout 90 "$WEFT_BIN" scheduler --once \
  --now "$tick" --no-dequeue -l tloc
check_has "one run" "1 runs queued" "$out"
tick_id=$(store_query "SELECT id FROM runs WHERE job = 'tick'")
run "$WEFT_BIN" run show "$tick_id" --format json
check_py "its config and tag took the variable's value" '
import json, sys
d = json.load(open(sys.argv[1]))
ok = d["run_config"]["ops"]["show"]["config"]["region"] == "eu-west-1" and d["tags"].get("zone") == "eu-west-1"
print("ok" if ok else (d["run_config"], d["tags"]))'

# -- container steps: the same through Podman's Docker API ------------------------------------
if [ -z "${WEFT_TEST_DOCKER_HOST:-}" ]; then
  skip "container steps: WEFT_TEST_DOCKER_HOST is not set"
else
  export WEFT_HOME=$tmp/chome
  mkdir -p "$WEFT_HOME" cloc/ops cloc/jobs
  printf 'containers:\n  socket: %s\n  pull: never\n  network: none\n' "$WEFT_TEST_DOCKER_HOST" \
    >"$WEFT_HOME/weft.yaml"
  image=${WEFT_TEST_DOCKER_IMAGE:-localhost/weft-test:busybox}
  cat >cloc/ops/ops.yaml <<YAML
csay:
  image: $image
  env: {TOKEN: {secret: api_token}}
  secrets: [{name: api_token, file: true}]
  outputs: {env_digest: string, file_digest: string}
  run: |
    echo "in a container: \$TOKEN"
    echo "file at \$WEFT_SECRETS_DIR: \$(cat \$WEFT_SECRETS_DIR/api_token)" >&2
    printf '"%s"' "\$(printf %s "\$TOKEN" | sha256sum | cut -d' ' -f1)" >\$WEFT_OUTPUTS/env_digest
    printf '"%s"' "\$(sha256sum <\$WEFT_SECRETS_DIR/api_token | cut -d' ' -f1)" >\$WEFT_OUTPUTS/file_digest
    if ( : >\$WEFT_SECRETS_DIR/api_token ) 2>/dev/null; then echo "the file is writable" >&2; fi
YAML
  printf 'graph:\n  csay: csay\n' >cloc/jobs/csec.yaml
  run sh -c "printf %s '$value' | '$WEFT_BIN' secret set api_token"
  expect_exit -m "a container step with the secret succeeds" 0 "$WEFT_BIN" launch csec -l cloc
  cid=$(run_id_of)
  run "$WEFT_BIN" run show "$cid" --format json
  check_py "the container got it as env and as a file (by sha256)" "
import json, sys
d = json.load(open(sys.argv[1]))
outs = {o['output']: o.get('value') for o in d.get('outputs', [])}
print('ok' if outs.get('env_digest') == '$digest' and outs.get('file_digest') == '$digest' else outs)"
  expect_exit -m "its logs" 0 "$WEFT_BIN" run logs "$cid" csay
  check_eq "are masked (stdout)" "in a container: ***" "$out"
  expect_exit 0 "$WEFT_BIN" run logs "$cid" csay --stderr
  check_eq "and stderr, where the file was mounted read-only at /weft/secrets" \
    "file at /weft/secrets: ***" "$out"
  check_eq "no file of that instance holds the value" "" "$(grep -rl hunter2 "$WEFT_HOME" 2>/dev/null)"
fi

# -- queue workers: the worker reads the secret itself ------------------------------------------
if [ -z "${WEFT_TEST_AMQP_URL:-}" ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  skip "queue workers: no RabbitMQ (WEFT_TEST_AMQP_URL unset, rabbitmq-server not installed)"
else
  # shellcheck source-path=SCRIPTDIR source=lib_queue.sh
  . "$(dirname "${BASH_SOURCE[0]}")/lib_queue.sh" || exit 1
  export WEFT_HOME=$tmp/qhome
  mkdir -p "$WEFT_HOME" qloc/ops qloc/jobs
  amqp_setup
  queue_instance ""
  cat >qloc/ops/ops.yaml <<YAML
qsay:
  queue: $qd
  env: {TOKEN: {secret: api_token}, REGION: {variable: region}}
  secrets: [{name: api_token, file: true}]
  outputs: {env_digest: string}
  run: |
    echo "on a worker: \$TOKEN in \$REGION; file \$(cat \$WEFT_SECRETS_DIR/api_token)"
    printf '{"type":"log","level":"info","msg":"worker event %s"}\n' "\$TOKEN" >&3
    printf '"%s"' "\$(printf %s "\$TOKEN" | sha256sum | cut -d' ' -f1)" >\$WEFT_OUTPUTS/env_digest
YAML
  printf 'graph:\n  qsay: qsay\n' >qloc/jobs/qsec.yaml
  run sh -c "printf %s '$value' | '$WEFT_BIN' secret set api_token"
  "$WEFT_BIN" variable set region us-east-2 >/dev/null
  start_worker qw1 "$qd"
  expect_exit -m "a queue step with the secret succeeds" 0 timeout 120 "$WEFT_BIN" launch qsec -l qloc
  qid=$(run_id_of)
  run "$WEFT_BIN" run show "$qid" --format json
  check_has "the worker resolved it (the step's env digest is the value's)" "$digest" "$out"
  expect_exit 0 "$WEFT_BIN" run logs "$qid" qsay
  check_eq "its log, shipped by the worker, is masked" "on a worker: *** in us-east-2; file ***" "$out"
  expect_exit 0 "$WEFT_BIN" run events "$qid" --format json
  check_has "the event it wrote is masked" "worker event ***" "$out"
  check_eq "no file of the instance or worker holds the value" "" \
    "$(grep -rl hunter2 "$WEFT_HOME" "$tmp/qw1.log" 2>/dev/null)"
fi

test_done
