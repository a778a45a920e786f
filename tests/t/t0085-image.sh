#!/usr/bin/env bash
# t0085-image: weft's container image (deploy/image), built offline with
# podman FROM scratch out of a root filesystem staged from this build: its
# size, its non-root user, `weft --version` and one-step and five-step jobs
# run in it, a server in it reaching healthy through the image's own
# HEALTHCHECK (the time is printed as a figure), over TLS too, a scheduler
# staying up, and a healthcheck that fails when /healthz does not answer.
# Runs on the suite's private Podman storage (scripts/podman-service:
# WEFT_TEST_DOCKER_HOST is unix://DIR/podman.sock and DIR/podman its CLI);
# removes what it made.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

n_tests=23
plan $n_tests
why='' podman_dir=''
if [ -z "${WEFT_TEST_DOCKER_HOST:-}" ]; then
  why="no container engine: WEFT_TEST_DOCKER_HOST is not set (podman not installed?)"
else
  podman_dir=${WEFT_TEST_DOCKER_HOST#unix://}
  podman_dir=${podman_dir%/*}
  [ -x "$podman_dir/podman" ] || why="no $podman_dir/podman: WEFT_TEST_DOCKER_HOST is not scripts/podman-service's"
fi
[ -n "$why" ] || command -v busybox >/dev/null 2>&1 || why="busybox not found (apt-get install busybox-static)"
if [ -n "$why" ]; then
  echo "# SKIPPING ALL: $why" >&2
  for _ in $(seq $n_tests); do skip "$why"; done
  test_done
fi
podman=$podman_dir/podman
tag=localhost/weft-t0085:$$
name=weft-t0085-$$
# Remove the containers, then the image (podman's systemd complaints aside).
at_exit "'$podman' rm -f -t 0 $name-server $name-sched >/dev/null 2>&1; '$podman' rmi -f $tag >/dev/null 2>&1"
p() { "$podman" "$@" 2> >(grep -v 'systemd' >&2); }

# -- the build ------------------------------------------------------------------------
t0=$EPOCHREALTIME
PODMAN=$podman run "$WEFT_SRC/deploy/image/build" --weft "$WEFT_BIN" --tag "$tag"
check_rc "deploy/image/build stages a root filesystem and builds the image" 0
echo "# figure: image build took $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
check_eq "it prints the image's name last" "$tag" "$(tail -n 1 "$tmp/out")"
size=$(p image inspect "$tag" --format '{{.Size}}' 2>/dev/null)
packed=$(p save "$tag" 2>/dev/null | gzip -6 | wc -c)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
echo "# figure: image size $(mb "${size:-0}") MB on disk, $(mb "$packed") MB compressed (podman save | gzip -6)"
# The sizes are a release build's: under the sanitizers weft is a debug
# build several times larger, with libasan and libubsan beside it.
if ldd "$WEFT_BIN" 2>/dev/null | grep -q 'libasan'; then
  skip "the image's size: $WEFT_BIN is a sanitizer build"
  skip "the image's size on disk: $WEFT_BIN is a sanitizer build"
else
  if [ "${packed:-0}" -gt 0 ] && [ "$packed" -lt 40000000 ]; then
    ok "the image is under 40 MB compressed, as a registry stores and sends it ($(mb "$packed") MB)"
  else
    not_ok "the image is under 40 MB compressed" "$packed bytes"
  fi
  # On disk it is weft's libraries; libxml2's ICU data alone is 31 MB of it.
  if [ "${size:-0}" -gt 0 ] && [ "$size" -lt 75000000 ]; then
    ok "the image is under 75 MB on disk ($(mb "$size") MB)"
  else
    not_ok "the image is under 75 MB on disk" "$size bytes"
  fi
fi
check_eq "it runs as uid 10001, weft as its entry point, healthcheck weft-healthcheck" \
  '10001:10001 [/usr/bin/weft] ["CMD","/usr/bin/weft-healthcheck"]' \
  "$(p image inspect "$tag" --format '{{.User}} {{.Config.Entrypoint}} {{json .HealthCheck.Test}}' 2>/dev/null)"

# -- weft in it -----------------------------------------------------------------------
run p run --rm --network none "$tag" --version
check_eq "podman run IMAGE --version: the same version and commit as this build" \
  "$("$WEFT_BIN" --version)" "$out"
run p run --rm --network none "$tag"
check_has "with no command it shows the commands (server, scheduler, worker)" "  scheduler " "$out"
# shellcheck disable=SC2016 # expanded in the container
run p run --rm --network none --entrypoint /bin/sh "$tag" -c 'id -u; id -g; echo "$WEFT_HOME"; stat -c "%a %U" "$WEFT_HOME" /var/lib /usr/bin/weft; touch "$WEFT_HOME/w" && echo writable; touch /etc/x /usr/bin/x 2>/dev/null || echo read-only'
check_eq "a user of its own: uid 10001, WEFT_HOME its own (0700), nothing else writable" \
  "10001 10001 /var/lib/weft 700 weft 755 root 755 root writable read-only" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"

# A one-step job: the code location mounted read-only, the state in the
# container's WEFT_HOME; the step runs busybox's sh.
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<'YAML'
hello:
  outputs: {result: string}
  run: echo "hello from $(id -u) in $(pwd)"; printf '"%s"' "$(uname -s)" >"$WEFT_OUTPUTS/result"
YAML
printf 'ops:\n  hello: hello\n' >loc/jobs/hello.yaml
chmod -R a+rX loc
run p run --rm --network none -v "$tmp/loc:/srv/loc:ro" "$tag" launch hello -l /srv/loc
check_rc "a one-step job runs in the image (weft launch)" 0
check_has "its step ran and set its output" 'hello output result = "Linux"' "$out"
check_has "the run succeeded" "succeeded in" "$out"
cp -r "$examples" ex && chmod -R a+rX ex
run p run --rm --network none -v "$tmp/ex:/srv/examples:ro" -w /srv/examples "$tag" \
  launch arithmetic -c arithmetic/run.yaml
check_has "the arithmetic example's five steps run in it: total = 17" "total output result = 17" "$out"

# -- the server, to healthy -----------------------------------------------------------
t0=$EPOCHREALTIME
run p run -d --name "$name-server" --network none "$tag" server --listen 0.0.0.0:3000 --insecure
check_rc "podman run -d IMAGE server starts" 0
healthy=
for _ in $(seq 300); do
  if p healthcheck run "$name-server" >/dev/null 2>&1; then healthy=1; break; fi
  [ "$(p inspect "$name-server" --format '{{.State.Running}}' 2>/dev/null)" = true ] || break
  sleep 0.1
done
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
if [ -n "$healthy" ]; then
  ok "the server reaches healthy through the image's HEALTHCHECK"
  echo "# figure: podman run of the image to a healthy server: $secs s"
else
  not_ok "the server reaches healthy" "$(p logs "$name-server" 2>&1 | tail -n 20)"
fi
check_eq "podman records it healthy" healthy "$(p inspect "$name-server" --format '{{.State.Health.Status}}' 2>/dev/null)"
run p exec "$name-server" wget -q -O - http://127.0.0.1:3000/healthz
check_has "its /healthz answers ok" '"ok":true' "$out"
run p exec -e WEFT_HEALTH_URL=http://127.0.0.1:9/healthz "$name-server" /usr/bin/weft-healthcheck
if [ "$rc" -ne 0 ]; then ok "the healthcheck fails when /healthz does not answer (exit $rc)"; else not_ok "the healthcheck fails when /healthz does not answer"; fi
check_eq "the server runs as weft (uid 10001)" 10001 "$(p exec "$name-server" id -u 2>/dev/null)"

# Over TLS (as deploy/compose runs it): the healthcheck asks https:// itself.
mkdir tls
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls/key.pem -out tls/cert.pem -days 1 \
  -subj /CN=localhost >/dev/null 2>&1 && chmod -R a+rX tls
p run -d --name "$name-tls" --network none -v "$tmp/tls:/tls:ro" "$tag" \
  server --listen 0.0.0.0:8443 --tls-cert /tls/cert.pem --tls-key /tls/key.pem >/dev/null
at_exit "'$podman' rm -f -t 0 $name-tls >/dev/null 2>&1"
healthy=
for _ in $(seq 300); do
  if p healthcheck run "$name-tls" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.1
done
check_eq "a TLS server on 8443 reaches healthy too (https://127.0.0.1:8443/healthz)" "1 https://0.0.0.0:8443/" \
  "$healthy $(p logs "$name-tls" 2>&1 | sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' | head -n 1)"
p rm -f -t 0 "$name-tls" >/dev/null 2>&1

# -- the scheduler role -----------------------------------------------------------------
run p run -d --name "$name-sched" --network none -v "$tmp/loc:/srv/loc:ro" "$tag" scheduler -l /srv/loc
check_rc "podman run -d IMAGE scheduler starts" 0
sleep 2
check_eq "the scheduler is still running 2 s later, healthy" "true 0" \
  "$(p inspect "$name-sched" --format '{{.State.Running}}' 2>/dev/null) $(p healthcheck run "$name-sched" >/dev/null 2>&1; echo $?)"
run p run --rm --network none "$tag" worker --help
check_has "the worker role is in it (weft worker --help)" "usage: weft worker" "$out"

p rm -f -t 0 "$name-server" "$name-sched" "$name-tls" >/dev/null 2>&1
p rmi -f "$tag" >/dev/null 2>&1
check_eq "its containers and image are removed" "" \
  "$(p ps -a --format '{{.Names}}' 2>/dev/null | grep "$name"; p images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep "$tag")"
test_done
