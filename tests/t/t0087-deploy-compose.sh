#!/usr/bin/env bash
# t0087-deploy-compose: deploy/compose/compose.yaml, with a .env made from
# .env.example, passes `docker-compose config` (Debian's docker-compose,
# which checks the file against the Compose schema) and podman-compose's own
# loader (Debian's podman-compose 1.0.3 has no `config` command:
# tests/deploy/podman_compose_config.py runs what `up` reads first); it has
# PostgreSQL, RabbitMQ, S3, a server, a scheduler and WEFT_WORKERS workers;
# no password is in the repository's files; a missing password and a
# misspelt key fail; the `init` service's script makes the keys weft's user
# reads; and this weft accepts the compose weft.yaml and each service's
# command (the server serves HTTPS as the container's user would run it).
#
# With the suite's Podman (WEFT_TEST_DOCKER_HOST), the weft image is built
# and compose's `init` and `server` run in it as compose runs them: the
# server serves HTTPS on the published port with init's keys, and the
# first admin is made with the `podman exec` of docs/deployment.md; with
# the suite's PostgreSQL, RabbitMQ and S3 too, a run launched through the
# server container runs on a worker container that has no code but S3's.
# Bringing the whole stack up is not tested: the images of PostgreSQL,
# RabbitMQ and MinIO come from registries this machine cannot reach.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

cdir=$WEFT_SRC/deploy/compose
# Debian's python3, for its yaml module (python3-yaml, which podman-compose
# brings in)
pyy=/usr/bin/python3
pyc=$WEFT_SRC/tests/deploy/podman_compose_config.py

# The user's steps: copy the folder's files, make .env from the example.
mkdir -p "$tmp/compose" "$tmp/tls"
cp "$cdir/compose.yaml" "$cdir/weft.yaml" "$cdir/.env.example" "$tmp/compose/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" >/dev/null 2>&1
pg_pw=pg-$RANDOM$RANDOM amqp_pw=amqp-$RANDOM$RANDOM s3_pw=s3-secret-$RANDOM$RANDOM
secret_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
sed -e "s|^#WEFT_PG_PASSWORD=\$|WEFT_PG_PASSWORD=$pg_pw|" -e "s|^#WEFT_AMQP_PASSWORD=\$|WEFT_AMQP_PASSWORD=$amqp_pw|" \
  -e "s|^#S3_SECRET_KEY=\$|S3_SECRET_KEY=$s3_pw|" -e "s|^#WEFT_SECRET_KEY=\$|WEFT_SECRET_KEY=$secret_key|" \
  -e "s|^WEFT_CODE=.*|WEFT_CODE=$examples|" -e "s|^WEFT_TLS_DIR=.*|WEFT_TLS_DIR=$tmp/tls|" \
  -e "s|^WEFT_WORKERS=.*|WEFT_WORKERS=3|" "$cdir/.env.example" >"$tmp/compose/.env"
cd "$tmp/compose" || exit 1

# -- docker-compose config: the Compose schema ---------------------------------------

if ! command -v docker-compose >/dev/null; then
  skip "docker-compose config: needs Debian's docker-compose"
else
  if docker-compose -f compose.yaml config >"$tmp/config.yaml" 2>"$tmp/config.err"; then
    ok "docker-compose config: compose.yaml with the .env is valid"
  else
    not_ok "docker-compose config: compose.yaml with the .env is valid" "$(cat "$tmp/config.err")"
  fi
  sed 's/    stop_grace_period: 45s/    stop_grace_periods: 45s/' compose.yaml >bad.yaml
  docker-compose -f bad.yaml config >/dev/null 2>"$tmp/bad.err"
  rc=$?
  [ $rc != 0 ] && grep -q "Unsupported config option for services.worker: 'stop_grace_periods'" "$tmp/bad.err" &&
    ok "docker-compose config: a misspelt key fails, named" ||
    not_ok "docker-compose config: a misspelt key fails, named" "exit $rc" "$(cat "$tmp/bad.err")"
  rm -f bad.yaml
fi

# -- podman-compose's loader ---------------------------------------------------------

if [ ! -x /usr/bin/python3 ] || ! $pyy -c 'import podman_compose' 2>/dev/null; then
  skip "podman-compose's loader: needs Debian's podman-compose"
else
  if $pyy "$pyc" compose.yaml >"$tmp/pc.json" 2>"$tmp/pc.err"; then
    ok "podman-compose (1.0.3) loads compose.yaml with the .env"
  else
    not_ok "podman-compose (1.0.3) loads compose.yaml with the .env" "$(cat "$tmp/pc.err")"
  fi
  python3 - "$tmp/pc.json" "$examples" >"$tmp/pc.check" 2>&1 <<'EOF'
import json, sys
cs = json.load(open(sys.argv[1]))
by = {}
for c in cs:
    by.setdefault(c["service"], []).append(c)
def say(name, problems):
    print(("PASS " if not problems else "FAIL ") + name + "".join("\x1f" + p for p in problems))
want = ["postgres", "rabbitmq", "s3", "s3-bucket", "init", "server", "scheduler", "worker"]
say("the services: " + ", ".join(want), [f"no {s}" for s in want if s not in by] + [f"{s}: not expected" for s in by if s not in want])
say("WEFT_WORKERS=3 gives three workers", [] if len(by.get("worker", [])) == 3 else [f"{len(by.get('worker', []))} workers"])
p = []
for s in ("server", "scheduler", "worker"):
    for c in by.get(s, []):
        if c["image"] != "localhost/weft:0.1.0": p.append(f"{c['name']}: image {c['image']}")
        if c["command"][0] != s: p.append(f"{c['name']}: command {c['command']}")
        deps = set(c["deps"])
        for d in ("init", "postgres", "rabbitmq", "s3-bucket"):
            if d not in deps: p.append(f"{c['name']}: does not depend on {d}")
        env = c["environment"]
        for k in ("WEFT_HOME", "WEFT_PG_PASSWORD", "WEFT_AMQP_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "WEFT_SECRET_KEY"):
            if not env.get(k): p.append(f"{c['name']}: no {k}")
        if not any(v.endswith(":/var/lib/weft/weft.yaml:ro") for v in c["volumes"]): p.append(f"{c['name']}: weft.yaml not mounted")
for c in by.get("server", []) + by.get("scheduler", []):
    if f"{sys.argv[2]}:/srv/code:ro" not in c["volumes"]: p.append(f"{c['name']}: WEFT_CODE not at /srv/code")
say("server, scheduler and workers: the weft image, its role, their servers first, credentials from .env, weft.yaml and the code mounted", p)
srv = by.get("server", [{}])[0]
say("the server listens on WEFT_PORT and publishes it on 127.0.0.1 only", [] if srv.get("ports") == ["127.0.0.1:8443:8443"]
    and "0.0.0.0:8443" in srv.get("command", []) else [f"ports {srv.get('ports')}, command {srv.get('command')}"])
EOF
  while IFS=$'\x1f' read -r -a parts; do
    case ${parts[0]} in
    PASS\ *) ok "${parts[0]#PASS }" ;;
    FAIL\ *) not_ok "${parts[0]#FAIL }" "${parts[@]:1}" ;;
    *) not_ok "the loader's output is checked" "${parts[*]}" ;;
    esac
  done <"$tmp/pc.check"

  # A password not set (as in .env.example): both tools refuse, naming it.
  sed -i "s|^WEFT_AMQP_PASSWORD=.*|#WEFT_AMQP_PASSWORD=|" .env
  $pyy "$pyc" compose.yaml >/dev/null 2>"$tmp/pc.err"
  rc=$?
  msg=$(cat "$tmp/pc.err")
  if command -v docker-compose >/dev/null; then
    docker-compose -f compose.yaml config >/dev/null 2>"$tmp/config.err" && rc2=0 || rc2=$?
    msg+=$'\n'$(cat "$tmp/config.err")
  else
    rc2=1
    echo "set WEFT_AMQP_PASSWORD in .env" >"$tmp/config.err"
  fi
  [ $rc != 0 ] && [ $rc2 != 0 ] && grep -q "set WEFT_AMQP_PASSWORD in .env" "$tmp/pc.err" &&
    grep -q "set WEFT_AMQP_PASSWORD in .env" "$tmp/config.err" &&
    ok "a password not set in .env is refused, named" ||
    not_ok "a password not set in .env is refused, named" "exit $rc / $rc2" "$msg"
  sed -i "s|^WEFT_AMQP_PASSWORD=.*|WEFT_AMQP_PASSWORD=$amqp_pw|" .env
fi

# -- no secret in the repository's files ---------------------------------------------

problems=()
for f in compose.yaml weft.yaml .env.example; do
  for v in "$pg_pw" "$amqp_pw" "$s3_pw" "$secret_key"; do
    grep -qF "$v" "$f" && problems+=("$f holds a password of .env")
  done
done
grep -E '^(WEFT_PG_PASSWORD|WEFT_AMQP_PASSWORD|S3_SECRET_KEY|WEFT_SECRET_KEY)=.' "$cdir/.env.example" &&
  problems+=(".env.example sets a password")
git -C "$WEFT_SRC" check-ignore -q deploy/compose/.env || problems+=("deploy/compose/.env is not ignored by git")
[ ${#problems[@]} = 0 ] && ok "passwords only in .env (ignored by git): compose.yaml, weft.yaml and .env.example hold none" ||
  not_ok "passwords only in .env" "${problems[@]}"

# -- the init service's script, run here -----------------------------------------------

if [ "$(id -u)" != 0 ] || ! command -v busybox >/dev/null; then
  skip "the init service's script: needs root (it chowns to uid 10001) and busybox"
else
  script=$($pyy -c 'import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["services"]["init"]["command"][0])' compose.yaml)
  home=$tmp/init-home
  mkdir -p "$home"
  script=${script//\/var\/lib\/weft/$home}
  script=${script//\/tls\//$tmp/tls/}
  run_init() { busybox sh -c "$script" >"$tmp/init.out" 2>&1; }
  if run_init; then
    k1=$(od -An -tx1 "$home/keys/queue.key" | tr -d ' \n')
    st=$(stat -c '%u %a %s' "$home/keys/queue.key")
    st2=$(stat -c '%u %a' "$home/keys/key.pem")
    run_init
    k2=$(od -An -tx1 "$home/keys/queue.key" | tr -d ' \n')
    if [ "$st" = "10001 400 32" ] && [ "$st2" = "10001 400" ] && [ "$k1" = "$k2" ] &&
      [ "$(stat -c %u "$home")" = 10001 ]; then
      ok "init: \$WEFT_HOME owned by uid 10001, a 32-byte queue key and the TLS key readable by it only, the key kept on the next start"
    else
      not_ok "init: the keys for weft's user" "queue.key: $st" "key.pem: $st2" "same key again: $([ "$k1" = "$k2" ] && echo yes || echo no)"
    fi
  else
    not_ok "init: its script runs" "$(cat "$tmp/init.out")"
  fi
fi

# -- this weft accepts compose's weft.yaml and commands --------------------------------

# weft reads the whole weft.yaml before it connects: stopping at the postgres
# service's name (not resolvable here) means every key was accepted.
mkdir -p "$tmp/show-home"
cp weft.yaml "$tmp/show-home/"
WEFT_HOME=$tmp/show-home WEFT_PG_PASSWORD=$pg_pw WEFT_AMQP_PASSWORD=$amqp_pw WEFT_PG_CONNECT_TIMEOUT_S=1 \
  "$WEFT_BIN" instance show >"$tmp/show.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "postgres weft@postgres:5432/weft: cannot connect" "$tmp/show.out" &&
  [ "$(wc -l <"$tmp/show.out")" = 1 ] && ! grep -qF "$pg_pw" "$tmp/show.out" &&
  ok "weft reads compose's weft.yaml, up to connecting to the postgres service" ||
  not_ok "weft reads compose's weft.yaml" "exit $rc" "$(cat "$tmp/show.out")"

# The server's command as the container runs it: uid 10001 when this test
# is root (the keys made by init above), else this user with its own copy.
cmd=$($pyy -c 'import json, sys, yaml
print(json.dumps(yaml.safe_load(open(sys.argv[1]))["services"]["server"]["command"]))' compose.yaml)
keys=$tmp/init-home/keys
as=()
if [ -f "$keys/key.pem" ]; then
  as=(setpriv --reuid=10001 --regid=10001 --clear-groups)
  chmod 0711 "$tmp" # the user may pass through to its files
else
  keys=$tmp/tls
fi
mapfile -t args < <(python3 -c 'import json, sys
for a in json.loads(sys.argv[1]):
    print(a.replace("/var/lib/weft/keys", sys.argv[2]).replace("0.0.0.0:${WEFT_PORT:-8443}", "0.0.0.0:0"))' "$cmd" "$keys")
export WEFT_HOME=$tmp/server-home
mkdir -p "$WEFT_HOME"
[ ${#as[@]} = 0 ] || chown 10001:10001 "$WEFT_HOME"
(cd "$examples" && exec "${as[@]}" "$WEFT_BIN" "${args[@]}") >"$tmp/server.out" 2>&1 &
spid=$!
at_exit "kill $spid; wait $spid"
port=
for _ in $(seq 200); do
  port=$(sed -n 's,.*listening on https://0\.0\.0\.0:\([0-9]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
if [ -n "$port" ] && curl -fsS --cacert "$tmp/tls/cert.pem" "https://localhost:$port/healthz" >/dev/null 2>&1 &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/tls/cert.pem" "https://localhost:$port/api/v1/jobs")" = 401 ]; then
  ok "the server's command serves HTTPS${as:+ as uid 10001} with init's keys, and wants credentials (${args[*]})"
else
  not_ok "the server's command serves HTTPS with init's keys" "${as[*]} ${args[*]}" "$(cat "$tmp/server.out")"
fi
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

# Scheduler and worker commands: every flag accepted (a usage error exits 2).
mapfile -t args < <($pyy -c 'import sys, yaml
print("\n".join(yaml.safe_load(open(sys.argv[1]))["services"]["scheduler"]["command"]))' compose.yaml)
(cd "$examples" && timeout 2 "$WEFT_BIN" "${args[@]}") >"$tmp/sched.out" 2>&1
rc=$?
[ $rc = 124 ] && ok "the scheduler's command runs in the code folder (${args[*]})" ||
  not_ok "the scheduler's command runs in the code folder" "exit $rc" "$(cat "$tmp/sched.out")"
mapfile -t args < <($pyy -c 'import sys, yaml
print("\n".join(yaml.safe_load(open(sys.argv[1]))["services"]["worker"]["command"]))' compose.yaml)
WEFT_BROKER_URL=amqp://guest:guest@127.0.0.1:1/ WEFT_AMQP_CONNECT_TIMEOUT_S=1 \
  timeout 20 "$WEFT_BIN" "${args[@]}" >"$tmp/worker.out" 2>&1
rc=$?
[ $rc != 2 ] && [ $rc != 0 ] && ! grep -qi usage "$tmp/worker.out" && grep -qi 'cannot connect' "$tmp/worker.out" &&
  ok "the worker's command is accepted: it stops only at the missing broker (${args[*]})" ||
  not_ok "the worker's command is accepted" "exit $rc" "$(cat "$tmp/worker.out")"
grace=$(printf '%s\n' "${args[@]}" | sed -n '/^--grace$/{n;p}')
stop=$($pyy -c 'import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["services"]["worker"]["stop_grace_period"].rstrip("s"))' compose.yaml)
[ -n "$grace" ] && [ "$stop" -gt "$grace" ] && ok "a stopped worker gets stop_grace_period ${stop}s, more than its --grace $grace" ||
  not_ok "a stopped worker gets more than its --grace" "grace=$grace stop_grace_period=$stop"

# -- in the weft image, with Podman -------------------------------------------------

podman_dir=${WEFT_TEST_DOCKER_HOST:-}
podman_dir=${podman_dir#unix://}
podman_dir=${podman_dir%/*}
if [ -z "${WEFT_TEST_DOCKER_HOST:-}" ] || [ ! -x "$podman_dir/podman" ] || ! command -v busybox >/dev/null; then
  skip "compose's init and server in the weft image: needs the suite's Podman (WEFT_TEST_DOCKER_HOST) and busybox"
else
  podman=$podman_dir/podman
  p() { "$podman" "$@" 2> >(grep -v systemd >&2); }
  tag=localhost/weft-t0087:$$ name=weft-t0087-$$ vol=weft-t0087-home-$$
  at_exit "'$podman' rm -f -t 0 $name >/dev/null 2>&1; '$podman' volume rm -f $vol >/dev/null 2>&1; '$podman' rmi -f $tag >/dev/null 2>&1"
  if ! PODMAN=$podman "$WEFT_SRC/deploy/image/build" --weft "$WEFT_BIN" --tag "$tag" >"$tmp/build.out" 2>&1; then
    not_ok "the weft image builds (deploy/image/build)" "$(tail -n 20 "$tmp/build.out")"
  else
    script=$($pyy -c 'import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["services"]["init"]["command"][0])' compose.yaml)
    p volume create "$vol" >/dev/null
    # as compose runs `init`: root, sh -c SCRIPT, the home volume, the TLS folder
    init() { p run --rm --user 0 --entrypoint '["sh", "-c"]' -v "$vol:/var/lib/weft" -v "$tmp/tls:/tls:ro" "$tag" "$script"; }
    keysum() { p run --rm --entrypoint '["sh", "-c"]' -v "$vol:/var/lib/weft" "$tag" 'stat -c "%u %a" /var/lib/weft/keys/queue.key /var/lib/weft/keys/key.pem; sha256sum </var/lib/weft/keys/queue.key'; }
    if init >"$tmp/init.out" 2>&1 && k1=$(keysum) && init >>"$tmp/init.out" 2>&1 && k2=$(keysum) &&
      [ "$k1" = "$k2" ] && [[ $k1 == "10001 400"$'\n'"10001 400"$'\n'* ]]; then
      ok "init in the weft image: keys owned by uid 10001, mode 0400, the queue key kept on the next start"
    else
      not_ok "init in the weft image" "$(cat "$tmp/init.out")" "first: ${k1:-}" "then: ${k2:-}"
    fi
    # compose's weft.yaml without the servers this machine has not (SQLite then)
    $pyy -c 'import sys, yaml
y = yaml.safe_load(open(sys.argv[1]))
for k in ("storage", "artifacts", "broker", "execution"): y.pop(k, None)
print(yaml.safe_dump(y))' weft.yaml >"$tmp/weft-local.yaml"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # the server's command and ports as compose makes them for WEFT_PORT=$port
    mapfile -t cmd < <($pyy -c 'import sys, yaml
for a in yaml.safe_load(open(sys.argv[1]))["services"]["server"]["command"]:
    print(a.replace("${WEFT_PORT:-8443}", sys.argv[2]))' compose.yaml "$port")
    p run -d --name "$name" -e WEFT_HOME=/var/lib/weft \
      -v "$vol:/var/lib/weft" -v "$tmp/weft-local.yaml:/var/lib/weft/weft.yaml:ro" -v "$examples:/srv/code:ro" \
      -w /srv/code -p "127.0.0.1:$port:$port" "$tag" "${cmd[@]}" >/dev/null
    up=
    for _ in $(seq 150); do
      curl -fsS --cacert "$tmp/tls/cert.pem" "https://localhost:$port/healthz" >/dev/null 2>&1 && up=1 && break
      sleep 0.2
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/tls/cert.pem" "https://localhost:$port/api/v1/jobs")
    if [ -n "$up" ] && [ "$code" = 401 ]; then
      ok "the server container serves HTTPS on the published port with init's keys, and wants credentials"
    else
      not_ok "the server container serves HTTPS on the published port" "up=$up /api/v1/jobs: $code" "$(p logs "$name" 2>&1 | tail -n 20)"
    fi
    # the first admin, as docs/deployment.md makes it
    printf '%s\n' 'a long passphrase' | p exec -i "$name" weft user add admin --role admin >"$tmp/admin.out" 2>&1
    curl -s --cacert "$tmp/tls/cert.pem" -u 'admin:a long passphrase' "https://localhost:$port/api/v1/jobs" >"$tmp/jobs.json"
    if grep -q '"arithmetic"' "$tmp/jobs.json"; then
      ok "podman exec -i ... weft user add admin: the admin signs in and sees the jobs of the code folder's workspace.yaml"
    else
      not_ok "podman exec ... weft user add admin, then sign in" "$(cat "$tmp/admin.out")" "$(head -c 600 "$tmp/jobs.json")"
    fi
    p rm -f -t 0 "$name" >/dev/null 2>&1

    # The cluster in containers: compose's server and worker, from the image,
    # sharing the init'd volume, on the suite's PostgreSQL, RabbitMQ and S3
    # in place of compose's (host network: those listen on loopback). A run
    # launched through the server's API runs on the worker container, which
    # mounts no code: it comes through S3.
    if [ -z "${WEFT_TEST_PG_URL:-}" ] || [ -z "${WEFT_TEST_AMQP_URL:-}" ] || [ -z "${WEFT_TEST_S3_URL:-}" ]; then
      skip "a run on compose's server and worker containers: needs WEFT_TEST_PG_URL, WEFT_TEST_AMQP_URL and WEFT_TEST_S3_URL"
    else
      pg_own_database
      bucket=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|^s3://\([^/?]*\).*|\1|p')
      endpoint=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|.*[?&]endpoint=\([^&]*\).*|\1|p')
      q=t$$c # an op queue of this script only: the node is shared
      python3 - weft.yaml "$pg_url" "$WEFT_TEST_AMQP_URL" "$endpoint" "$bucket" "t0087-$$" >"$tmp/weft-cluster.yaml" <<'EOF'
import sys
f, pg, amqp, endpoint, bucket, prefix = sys.argv[1:]
t = open(f).read()
for a, b in (("postgresql://weft:${WEFT_PG_PASSWORD}@postgres:5432/weft", pg),
             ("amqp://weft:${WEFT_AMQP_PASSWORD}@rabbitmq:5672/weft", amqp),
             ('endpoint: "http://s3:9000"', 'endpoint: "%s"' % endpoint),
             ("bucket: weft,", "bucket: %s, prefix: %s," % (bucket, prefix))):
    assert a in t, a
    t = t.replace(a, b)
sys.stdout.write(t)
EOF
      mkdir -p "$tmp/code/hello/ops" "$tmp/code/hello/jobs"
      printf 'locations: [hello]\n' >"$tmp/code/workspace.yaml"
      printf 'hello:\n  queue: %s\n  outputs: {result: string}\n  run: echo "\\"hello from $(hostname)\\"" >"$WEFT_OUTPUTS/result"\n' "$q" \
        >"$tmp/code/hello/ops/hello.yaml"
      printf 'graph:\n  hello: hello\n' >"$tmp/code/hello/jobs/hello.yaml"
      chmod -R a+rX "$tmp/code"
      env_args=(-e WEFT_HOME=/var/lib/weft -e AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-S3RVER}"
        -e AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-S3RVER}" -e WEFT_SECRET_KEY="$secret_key")
      vol_args=(-v "$vol:/var/lib/weft" -v "$tmp/weft-cluster.yaml:/var/lib/weft/weft.yaml:ro")
      port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      mapfile -t cmd < <($pyy -c 'import sys, yaml
for a in yaml.safe_load(open(sys.argv[1]))["services"]["server"]["command"]:
    print(a.replace("${WEFT_PORT:-8443}", sys.argv[2]))' compose.yaml "$port")
      mapfile -t wcmd < <($pyy -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["services"]["worker"]["command"]
c[c.index("--queue") + 1] = sys.argv[2]
print("\n".join(c))' compose.yaml "$q")
      at_exit "'$podman' rm -f -t 0 $name-srv $name-wk >/dev/null 2>&1"
      p run -d --name "$name-srv" --network host "${env_args[@]}" "${vol_args[@]}" -v "$tmp/code:/srv/code:ro" \
        -w /srv/code "$tag" "${cmd[@]}" >/dev/null
      # a host name of its own, as compose gives each container (the host's otherwise)
      p run -d --name "$name-wk" --hostname "$name-wk" --network host --stop-timeout 45 "${env_args[@]}" "${vol_args[@]}" \
        -w /var/lib/weft "$tag" "${wcmd[@]}" >/dev/null
      for _ in $(seq 150); do
        curl -fsS --cacert "$tmp/tls/cert.pem" "https://localhost:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.2
      done
      printf '%s\n' 'a long passphrase' | p exec -i "$name-srv" weft user add admin --role admin >"$tmp/admin.out" 2>&1
      api() { curl -s --cacert "$tmp/tls/cert.pem" -u 'admin:a long passphrase' "$@"; }
      run=$(api -X POST -H 'Content-Type: application/json' -d '{}' \
        "https://localhost:$port/api/v1/jobs/hello/hello/launch" | python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])' 2>/dev/null)
      st=
      for _ in $(seq 300); do
        [ -n "$run" ] || break
        api "https://localhost:$port/api/v1/runs/$run" >"$tmp/run.json"
        st=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"]["status"])' "$tmp/run.json" 2>/dev/null)
        case $st in success | failure | canceled) break ;; esac
        sleep 0.2
      done
      wk_host=$(p inspect "$name-wk" --format '{{.Config.Hostname}}')
      value=$(python3 -c 'import json, sys
print(next(o.get("value") for o in json.load(open(sys.argv[1]))["outputs"] if o["output"] == "result"))' "$tmp/run.json" 2>/dev/null)
      if [ "$st" = success ] && [ "$value" = "hello from $wk_host" ]; then
        ok "a run launched on the server container ran on the worker container, its code from S3 ($value)"
      else
        not_ok "a run launched on the server container ran on the worker container" "run=$run status=$st value=$value worker=$wk_host" \
          "$(cat "$tmp/admin.out")" "$(head -c 1500 "$tmp/run.json" 2>/dev/null)" \
          "server: $(p logs "$name-srv" 2>&1 | tail -n 8)" "worker: $(p logs "$name-wk" 2>&1 | tail -n 8)"
      fi
      # compose stops a worker with SIGTERM, then waits stop_grace_period
      t0=$EPOCHREALTIME
      p stop -t 45 "$name-wk" >/dev/null 2>&1
      code=$(p inspect "$name-wk" --format '{{.State.ExitCode}}')
      secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
      check_eq "the idle worker container stops on SIGTERM, with status 0, in ${secs}s" 0 "$code"
      p rm -f -t 0 "$name-srv" "$name-wk" >/dev/null 2>&1
    fi
  fi
fi

test_done
