#!/usr/bin/env bash
# t0088-deploy-kubernetes: every overlay of deploy/kubernetes renders with
# `kubectl kustomize`, each resource validates against the official
# Kubernetes, KEDA and prometheus-operator schemas (strictly: unknown fields
# too) and holds weft's own rules (tests/deploy/check.mjs); a broken
# manifest fails; and this weft accepts what the manifests hand it: each
# overlay's weft.yaml, each container's args (the server really serves
# /healthz with them), the queue gauge the HPAs read and the RabbitMQ queue
# KEDA watches; and, with the suite's Podman and servers, the production
# pods run in the weft image as the kubelet would lay them out, and a run
# goes from the server pod to a worker pod.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

kdir=$WEFT_SRC/deploy/kubernetes
# Debian's python3, for its yaml module (python3-yaml, which podman-compose
# brings in)
pyy=/usr/bin/python3
vdir=$WEFT_SRC/tests/deploy
overlays="single-node production production-hpa"

if ! command -v kubectl >/dev/null || ! command -v node >/dev/null || ! $pyy -c 'import yaml' 2>/dev/null; then
  skip "kubectl, node and Debian's python3-yaml are needed (scripts/bootstrap test installs them)"
  test_done
fi

# kubernetes-models and the KEDA models, as pinned by the lock file, into
# tests/deploy/node_modules (ignored by git); again when the lock changes.
if [ ! -f "$vdir/node_modules/.package-lock.json" ] ||
  [ "$vdir/package-lock.json" -nt "$vdir/node_modules/.package-lock.json" ]; then
  if ! (cd "$vdir" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1; then
    not_ok "npm ci in tests/deploy" "$(tail -n 20 "$tmp/npm.log")"
    test_done
  fi
fi

# render DIR OUT: kubectl kustomize DIR > OUT
render() { kubectl kustomize "$1" >"$2" 2>"$tmp/kustomize.err"; }

# -- every overlay: renders, validates, holds weft's rules ---------------------------

for o in $overlays; do
  out=$tmp/$o.yaml
  if ! render "$kdir/overlays/$o" "$out"; then
    not_ok "overlays/$o renders with kubectl kustomize" "$(cat "$tmp/kustomize.err")"
    continue
  fi
  ok "overlays/$o renders with kubectl kustomize ($(grep -c '^kind:' "$out") resources)"
  if node "$vdir/validate.mjs" "$out" >"$tmp/validate.out" 2>&1; then
    ok "overlays/$o: every resource validates against the official schemas ($(grep -c '^ok' "$tmp/validate.out") checked)"
  else
    not_ok "overlays/$o: every resource validates against the official schemas" "$(grep -v '^ok' "$tmp/validate.out")"
  fi
  flags=
  [ "$o" = single-node ] || flags=--autoscaled
  node "$vdir/check.mjs" "$out" $flags >"$tmp/check.out" 2>&1
  while IFS=$'\x1f' read -r -a parts; do
    case ${parts[0]} in
    PASS\ *) ok "overlays/$o: ${parts[0]#PASS }" ;;
    FAIL\ *) not_ok "overlays/$o: ${parts[0]#FAIL }" "${parts[@]:1}" ;;
    *) not_ok "overlays/$o: check.mjs ran" "${parts[*]}" ;;
    esac
  done <"$tmp/check.out"
done

# The kinds the overlays are meant to have, between them.
kinds=$(cat "$tmp"/*.yaml 2>/dev/null | sed -n 's/^kind: //p' | sort -u | tr '\n' ' ')
missing=
for k in Namespace ServiceAccount ConfigMap Service Deployment PodDisruptionBudget NetworkPolicy \
  PersistentVolumeClaim ScaledObject TriggerAuthentication HorizontalPodAutoscaler ServiceMonitor; do
  case " $kinds" in *" $k "*) ;; *) missing+=" $k" ;; esac
done
if [ -z "$missing" ]; then ok "the overlays have every kind planned: $kinds"; else not_ok "the overlays have every kind planned" "missing:$missing"; fi
if grep -q 'nvidia.com/gpu: 1' "$tmp/production.yaml" && grep -q 'nvidia.com/gpu.present' "$tmp/production.yaml"; then
  ok "production: GPU workers request a GPU and select GPU nodes"
else
  not_ok "production: GPU workers request a GPU and select GPU nodes"
fi

# -- a broken manifest fails ---------------------------------------------------------

cp -r "$kdir" "$tmp/broken"
sed -i 's/readinessProbe:/readinesProbe:/' "$tmp/broken/base/server.yaml"
sed -i 's/maxReplicaCount: 20/maxReplicaCount: twenty/' "$tmp/broken/components/keda/scaledobject-default.yaml"
if render "$tmp/broken/overlays/production" "$tmp/broken.yaml"; then
  node "$vdir/validate.mjs" "$tmp/broken.yaml" >"$tmp/validate.out" 2>&1
  rc=$?
  if [ $rc = 1 ] &&
    grep -q 'Deployment/weft-server: spec.template.spec.containers\[0\].readinesProbe: unknown field' "$tmp/validate.out" &&
    grep -q 'ScaledObject/weft-worker-default: .*maxReplicaCount must be integer' "$tmp/validate.out"; then
    ok "a misspelt field and a wrong type fail validation, named by resource and path"
  else
    not_ok "a misspelt field and a wrong type fail validation, named by resource and path" "exit $rc" "$(grep -v '^ok' "$tmp/validate.out")"
  fi
else
  not_ok "the broken copy renders" "$(cat "$tmp/kustomize.err")"
fi
cp -r "$kdir" "$tmp/broken2"
sed -i 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 20/' "$tmp/broken2/base/worker-default.yaml"
sed -i 's/^  - namespace.yaml/  - namespace.yaml\n  - secret.yaml/' "$tmp/broken2/base/kustomization.yaml"
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: weft-credentials}\nstringData: {WEFT_PG_PASSWORD: x}\n' >"$tmp/broken2/base/secret.yaml"
if render "$tmp/broken2/overlays/single-node" "$tmp/broken2.yaml"; then
  node "$vdir/check.mjs" "$tmp/broken2.yaml" >"$tmp/check.out" 2>&1
  rc=$?
  if [ $rc = 1 ] && grep -q 'weft-worker-default: terminationGracePeriodSeconds 20 <= --grace 30' "$tmp/check.out" &&
    grep -q 'Secret/weft-credentials is in the manifests' "$tmp/check.out"; then
    ok "a worker killed before its --grace and an inlined Secret fail weft's rules"
  else
    not_ok "a worker killed before its --grace and an inlined Secret fail weft's rules" "exit $rc" "$(tr '\037' '\n' <"$tmp/check.out" | grep -v '^PASS')"
  fi
else
  not_ok "the second broken copy renders" "$(cat "$tmp/kustomize.err")"
fi

# -- this weft accepts what the manifests give it ------------------------------------

# Each overlay's weft.yaml, with the variables the pods get from Secrets.
for o in $overlays; do
  [ -f "$tmp/$o.yaml" ] || continue
  h=$tmp/home-$o
  mkdir -p "$h"
  $pyy -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("weft-config"):
        sys.stdout.write(d["data"]["weft.yaml"])' "$tmp/$o.yaml" >"$h/weft.yaml"
  # weft reads the whole file before it connects: stopping at PostgreSQL's
  # address (not here) means every key was accepted.
  WEFT_HOME=$h WEFT_PG_PASSWORD=pg-secret WEFT_AMQP_PASSWORD=amqp-secret WEFT_PG_CONNECT_TIMEOUT_S=1 \
    "$WEFT_BIN" instance show >"$tmp/show.out" 2>&1
  rc=$?
  host=$(sed -n 's,.*postgres.*@\([^:/]*\).*,\1,p' "$h/weft.yaml" | head -n 1)
  if [ $rc = 1 ] && grep -q "postgres weft@$host:5432/weft: cannot connect" "$tmp/show.out" &&
    [ "$(wc -l <"$tmp/show.out")" = 1 ] && ! grep -q 'pg-secret\|amqp-secret' "$tmp/show.out"; then
    ok "overlays/$o: weft reads its weft.yaml, up to connecting to $host (passwords from the environment, not shown)"
  else
    not_ok "overlays/$o: weft reads its weft.yaml" "exit $rc" "$(cat "$tmp/show.out")"
  fi
done

# The containers' args, from the production overlay, on a SQLite instance of
# this test: paths of the pods replaced by files here, the port by a free one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=weft-server \
  -addext "subjectAltName=DNS:weft-server,DNS:weft-server.weft.svc,IP:127.0.0.1" \
  -keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1
$pyy -c 'import json, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment":
        for c in d["spec"]["template"]["spec"]["containers"]:
            print(d["metadata"]["name"] + "\t" + json.dumps(c["args"]))' "$tmp/production.yaml" >"$tmp/args.tsv"
# role_args DEPLOYMENT: its args, one a line, with this test's paths
role_args() {
  awk -F'\t' -v d="$1" '$1 == d { print $2 }' "$tmp/args.tsv" |
    python3 -c 'import json, sys
for a in json.load(sys.stdin):
    print(a.replace("/etc/weft/tls/tls.", sys.argv[1] + "/tls.").replace("0.0.0.0:8443", "0.0.0.0:0").replace("$(POD_NAME)", "weft-worker-pod"))' "$tmp"
}

# The instance: SQLite here, with the overlay's server: settings (its Host
# allow-list).
export WEFT_HOME=$tmp/args-home
mkdir -p "$WEFT_HOME"
$pyy -c 'import sys, yaml
print(yaml.safe_dump({"server": yaml.safe_load(open(sys.argv[1]))["server"]}))' "$tmp/home-production/weft.yaml" >"$WEFT_HOME/weft.yaml"
mapfile -t sargs < <(role_args weft-server)
"$WEFT_BIN" "${sargs[@]}" >"$tmp/server.out" 2>"$tmp/server.err" &
spid=$!
at_exit "kill $spid; wait $spid"
port=
for _ in $(seq 200); do
  port=$(sed -n 's,.*listening on https://0\.0\.0\.0:\([0-9]*\)/.*,\1,p' "$tmp/server.out" "$tmp/server.err" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
if [ -n "$port" ] && curl -fsS --cacert "$tmp/tls.crt" --resolve "weft-server:$port:127.0.0.1" \
  "https://weft-server:$port/healthz" >"$tmp/healthz.out" 2>&1 &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/tls.crt" --resolve "weft-server:$port:127.0.0.1" \
    "https://weft-server:$port/api/v1/jobs")" = 401 ]; then
  ok "the server's args: HTTPS on all addresses, /healthz answers, the API wants credentials (${sargs[*]})"
else
  not_ok "the server's args: HTTPS on all addresses, /healthz answers, the API wants credentials" \
    "args: ${sargs[*]}" "$(cat "$tmp/server.out" "$tmp/server.err" "$tmp/healthz.out" 2>/dev/null)"
fi
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

# in its pod's working folder, the code volume: here the examples
mapfile -t args < <(role_args weft-scheduler)
(cd "$examples" && timeout 2 "$WEFT_BIN" "${args[@]}") >"$tmp/sched.out" 2>&1
rc=$?
if [ $rc = 124 ]; then ok "the scheduler's args: it runs (${args[*]})"; else not_ok "the scheduler's args: it runs" "exit $rc" "$(cat "$tmp/sched.out")"; fi

# Workers: no broker here (a closed port), so they stop at connecting, after
# every flag was accepted (a usage error exits 2).
for d in weft-worker-default weft-worker-gpu; do
  mapfile -t args < <(role_args "$d")
  WEFT_BROKER_URL=amqp://guest:guest@127.0.0.1:1/ WEFT_AMQP_CONNECT_TIMEOUT_S=1 \
    timeout 20 "$WEFT_BIN" "${args[@]}" >"$tmp/worker.out" 2>&1
  rc=$?
  if [ $rc != 2 ] && [ $rc != 0 ] && ! grep -qi 'usage' "$tmp/worker.out" && grep -qi 'broker\|amqp\|connect' "$tmp/worker.out"; then
    ok "$d's args are accepted: it stops only at the missing broker (${args[*]})"
  else
    not_ok "$d's args are accepted" "exit $rc" "$(cat "$tmp/worker.out")"
  fi
done

# The init container's copy of the queue signing key, as the kubelet lays
# out a Secret volume with fsGroup 10001 and defaultMode 0440: the file is
# root's, group 10001, mode 0440 (weft refuses a key others may read); run
# with busybox as the pod's user, the copy is weft's own, mode 0400, and
# weft takes it.
if [ "$(id -u)" != 0 ] || ! command -v busybox >/dev/null || ! command -v setpriv >/dev/null; then
  skip "the init container's key copy: needs root (to be uid 10001) and busybox"
else
  chmod 0711 "$tmp" # uid 10001 may pass through to its folders
  mkdir -p "$tmp/pod/secret" "$tmp/pod/keys" "$tmp/pod/home"
  head -c 32 /dev/urandom >"$tmp/pod/secret/queue.key"
  chown root:10001 "$tmp/pod/secret/queue.key"
  chmod 0440 "$tmp/pod/secret/queue.key"
  chmod 0755 "$tmp/pod" "$tmp/pod/secret"
  chown 10001:10001 "$tmp/pod/keys" "$tmp/pod/home"
  script=$($pyy -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "weft-worker-default":
        print(d["spec"]["template"]["spec"]["initContainers"][0]["command"][2])' "$tmp/production.yaml")
  script=${script//\/secret\//$tmp/pod/secret/}
  script=${script//\/keys\//$tmp/pod/keys/}
  as10001=(setpriv --reuid=10001 --regid=10001 --clear-groups)
  # the worker loads its key before it connects: "cannot connect" means the key was taken
  try_key() {
    WEFT_HOME=$tmp/pod/home WEFT_QUEUE_SIGNING_KEY_FILE=$1 WEFT_AMQP_CONNECT_TIMEOUT_S=1 \
      timeout 20 "${as10001[@]}" "$WEFT_BIN" worker --broker amqp://guest:guest@127.0.0.1:1/ 2>&1
  }
  "${as10001[@]}" busybox sh -c "$script" >"$tmp/init.out" 2>&1
  rc=$?
  st=$(stat -c '%u %a' "$tmp/pod/keys/queue.key" 2>&1)
  raw=$(try_key "$tmp/pod/secret/queue.key")
  copied=$(try_key "$tmp/pod/keys/queue.key")
  if [ $rc = 0 ] && [ "$st" = "10001 400" ] && cmp -s "$tmp/pod/secret/queue.key" "$tmp/pod/keys/queue.key" &&
    [[ $raw == *"has permissions 0440, too open"* ]] && [[ $copied == *"cannot connect"* ]]; then
    ok "the init container copies the key from the Secret (0440, refused by weft) to one weft's user owns (0400, taken)"
  else
    not_ok "the init container's key copy" "exit $rc: $(cat "$tmp/init.out")" "copy: $st" "the Secret's file: $raw" "the copy: $copied"
  fi
fi

# The gauge the HPAs read and the queue KEDA watches, from a real server on
# the suite's RabbitMQ: /metrics has weft_queue_messages_ready{queue="default"}
# and /api/v1/queues names its RabbitMQ queue as the ScaledObject does.
if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "the queue gauge and RabbitMQ queue name: needs WEFT_TEST_AMQP_URL"
else
  export WEFT_HOME=$tmp/metrics-home
  mkdir -p "$WEFT_HOME"
  printf 'broker:\n  rabbitmq: {url: "%s"}\n' "$WEFT_TEST_AMQP_URL" >"$WEFT_HOME/weft.yaml"
  token=$("$WEFT_BIN" token create --role viewer 2>"$tmp/token.err")
  (cd "$examples" && exec "$WEFT_BIN" server --listen 127.0.0.1:0 -w workspace.yaml) >"$tmp/m.out" 2>"$tmp/m.err" &
  mpid=$!
  at_exit "kill $mpid; wait $mpid"
  murl=
  for _ in $(seq 200); do
    murl=$(sed -n 's,.*listening on \(http://[0-9.:]*\)/.*,\1,p' "$tmp/m.out" "$tmp/m.err" | head -n 1)
    [ -n "$murl" ] && break
    kill -0 "$mpid" 2>/dev/null || break
    sleep 0.05
  done
  curl -fsS -H "Authorization: Bearer $token" "$murl/metrics" >"$tmp/metrics.txt" 2>&1
  curl -fsS -H "Authorization: Bearer $token" "$murl/api/v1/queues" >"$tmp/queues.json" 2>&1
  metric=$($pyy -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "weft-worker-default":
        m = d["spec"]["metrics"][0]["external"]["metric"]
        print("%s{queue=\"%s\"}" % (m["name"], m["selector"]["matchLabels"]["queue"]))' "$tmp/production-hpa.yaml")
  if [ -n "$metric" ] && grep -q "^$metric [0-9]" "$tmp/metrics.txt"; then
    ok "the HPA's metric $metric is a gauge of weft server's /metrics"
  else
    not_ok "the HPA's metric is a gauge of weft server's /metrics" "metric: $metric" "$(grep -i queue "$tmp/metrics.txt" | head -n 10)" "$(cat "$tmp/m.err")"
  fi
  want=$($pyy -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ScaledObject" and d["metadata"]["name"] == "weft-worker-default":
        print(d["spec"]["triggers"][0]["metadata"]["queueName"])' "$tmp/production.yaml")
  got=$(python3 -c 'import json, sys
print(next(q["amqp_queue"] for q in json.load(open(sys.argv[1]))["queues"] if q["name"] == "default"))' "$tmp/queues.json" 2>&1)
  check_eq "KEDA watches the RabbitMQ queue weft uses for op queue default ($got)" "$got" "$want"
  kill "$mpid" 2>/dev/null
  wait "$mpid" 2>/dev/null
fi

# -- the production overlay's pods, in the weft image ---------------------------------

# Without a cluster: tests/deploy/kubelet.py runs each pod with Podman as the
# kubelet lays it out (Secret and ConfigMap volumes, fsGroup, read-only root,
# no capabilities, init containers first), on the suite's PostgreSQL,
# RabbitMQ and S3 in place of the overlay's. The server answers its probe
# over TLS, the first admin is made as docs/deployment.md says, and a run
# launched through the server runs on the worker pod.
podman_dir=${WEFT_TEST_DOCKER_HOST:-}
podman_dir=${podman_dir#unix://}
podman_dir=${podman_dir%/*}
if [ -z "${WEFT_TEST_DOCKER_HOST:-}" ] || [ ! -x "$podman_dir/podman" ] || [ "$(id -u)" != 0 ] ||
  [ -z "${WEFT_TEST_PG_URL:-}" ] || [ -z "${WEFT_TEST_AMQP_URL:-}" ] || [ -z "${WEFT_TEST_S3_URL:-}" ]; then
  skip "the overlay's pods in the weft image: needs root, the suite's Podman, PostgreSQL, RabbitMQ and S3"
else
  podman=$podman_dir/podman
  p() { "$podman" "$@" 2> >(grep -v systemd >&2); }
  tag=localhost/weft-t0088:$$ pre=t0088-$$
  at_exit "for c in \$('$podman' ps -a --format '{{.Names}}' 2>/dev/null | grep '^$pre-'); do '$podman' rm -f -t 0 \$c; done >/dev/null 2>&1; '$podman' rmi -f $tag >/dev/null 2>&1"
  if ! PODMAN=$podman "$WEFT_SRC/deploy/image/build" --weft "$WEFT_BIN" --tag "$tag" >"$tmp/build.out" 2>&1; then
    not_ok "the weft image builds (deploy/image/build)" "$(tail -n 20 "$tmp/build.out")"
  else
    pg_own_database
    bucket=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|^s3://\([^/?]*\).*|\1|p')
    endpoint=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|.*[?&]endpoint=\([^&]*\).*|\1|p')
    q=t$$k # an op queue of this script only: the node is shared
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # the code volume: one location, its op on queue $q
    mkdir -p "$tmp/code/hello/ops" "$tmp/code/hello/jobs"
    printf 'locations: [hello]\n' >"$tmp/code/workspace.yaml"
    printf 'hello:\n  queue: %s\n  outputs: {result: string}\n  run: echo "\\"hello from $(hostname)\\"" >"$WEFT_OUTPUTS/result"\n' "$q" \
      >"$tmp/code/hello/ops/hello.yaml"
    printf 'graph:\n  hello: hello\n' >"$tmp/code/hello/jobs/hello.yaml"
    chmod -R a+rX "$tmp/code"
    chmod 0711 "$tmp"
    $pyy - "$tmp/production.yaml" "$tmp/spec.json" <<EOF
import json, sys, yaml
cm = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "ConfigMap")
y = yaml.safe_load(cm["data"]["weft.yaml"])
y["storage"] = {"postgres": {"url": "$pg_url"}}
y["artifacts"] = {"s3": {"bucket": "$bucket", "prefix": "t0088-$$", "endpoint": "$endpoint", "region": "us-east-1"}}
y["broker"] = {"rabbitmq": {"url": "$WEFT_TEST_AMQP_URL"}}
json.dump({
  "podman": "$podman", "image": "$tag",
  "configmaps": {"weft-config": {"weft.yaml": yaml.safe_dump(y)}},
  "secrets": {
    "weft-credentials": {"WEFT_PG_PASSWORD": "unused", "WEFT_AMQP_PASSWORD": "unused",
                         "AWS_ACCESS_KEY_ID": "${AWS_ACCESS_KEY_ID:-S3RVER}",
                         "AWS_SECRET_ACCESS_KEY": "${AWS_SECRET_ACCESS_KEY:-S3RVER}",
                         "WEFT_SECRET_KEY": "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"},
    "weft-queue-key": {"queue.key": "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"},
    "weft-tls": {"tls.crt": open("$tmp/tls.crt").read(), "tls.key": open("$tmp/tls.key").read()}},
  "pvc": {"weft-code": "$tmp/code"},
  "args": {"0.0.0.0:8443": "0.0.0.0:$port", "default": "$q"}}, open(sys.argv[2], "w"))
EOF
    kubelet() { $pyy "$vdir/kubelet.py" "$tmp/production.yaml" "$1" "$pre-$2" "$tmp/pods" "$tmp/spec.json"; }
    problems=()
    kubelet weft-server server >"$tmp/pod.out" 2>&1 || problems+=("weft-server: $(cat "$tmp/pod.out")")
    up=
    for _ in $(seq 150); do
      # the startup probe, as the kubelet sends it: HTTPS, no certificate check, the pod's address
      curl -fsk -o /dev/null "https://127.0.0.1:$port/healthz" 2>/dev/null && up=1 && break
      sleep 0.2
    done
    [ -n "$up" ] || problems+=("the server's probe got no answer: $(p logs "$pre-server-server" 2>&1 | tail -n 10)")
    kubelet weft-scheduler scheduler >"$tmp/pod.out" 2>&1 || problems+=("weft-scheduler: $(cat "$tmp/pod.out")")
    kubelet weft-worker-default worker >"$tmp/pod.out" 2>&1 || problems+=("weft-worker-default: $(cat "$tmp/pod.out")")
    # the first admin, as docs/deployment.md makes it (kubectl exec -i there)
    printf '%s\n' 'a long passphrase' | p exec -i "$pre-server-server" weft user add admin --role admin >"$tmp/admin.out" 2>&1 ||
      problems+=("weft user add in the server pod: $(cat "$tmp/admin.out")")
    api() { curl -s --cacert "$tmp/tls.crt" --resolve "weft-server.weft.svc:$port:127.0.0.1" -u 'admin:a long passphrase' "$@"; }
    base=https://weft-server.weft.svc:$port
    run=$(api -X POST -H 'Content-Type: application/json' -d '{}' "$base/api/v1/jobs/hello/hello/launch" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])' 2>/dev/null)
    st=
    for _ in $(seq 300); do
      [ -n "$run" ] || break
      api "$base/api/v1/runs/$run" >"$tmp/run.json"
      st=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"]["status"])' "$tmp/run.json" 2>/dev/null)
      case $st in success | failure | canceled) break ;; esac
      sleep 0.2
    done
    value=$(python3 -c 'import json, sys
print(next(o.get("value") for o in json.load(open(sys.argv[1]))["outputs"] if o["output"] == "result"))' "$tmp/run.json" 2>/dev/null)
    [ "$st" = success ] && [ "$value" = "hello from $pre-worker" ] ||
      problems+=("run $run: $st, output $value" "$(head -c 1200 "$tmp/run.json" 2>/dev/null)"
        "worker: $(p logs "$pre-worker-worker" 2>&1 | tail -n 8)")
    if [ ${#problems[@]} = 0 ]; then
      ok "the production pods in the weft image (read-only root, uid 10001, keys from Secrets): the server's probe answers, a run launched on it runs on the worker pod ($value)"
    else
      not_ok "the production pods in the weft image run a job" "${problems[@]}"
    fi
    # a scale-down: SIGTERM, then the pod's grace period
    grace=$($pyy -c 'import sys, yaml
print(next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["metadata"]["name"] == "weft-worker-default" and d["kind"] == "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])' "$tmp/production.yaml")
    p stop -t "$grace" "$pre-worker-worker" >/dev/null 2>&1
    check_eq "the worker pod stops on SIGTERM within its grace period, with status 0" 0 \
      "$(p inspect "$pre-worker-worker" --format '{{.State.ExitCode}}' 2>&1)"
  fi
fi

test_done
