#!/usr/bin/env bash
# t0089-deploy-systemd: the units of deploy/systemd pass `systemd-analyze
# verify` without a word (an unknown key is only a warning there, so any
# output fails), are hardened (own user, ProtectSystem=strict,
# NoNewPrivileges, and `systemd-analyze security` rates them OK), give the
# worker more time to stop than its --grace, and their ExecStart= lines
# run with this weft as systemd would start them: the server serves HTTPS
# with its key from the credentials folder, the scheduler runs, a worker
# registers on the suite's RabbitMQ.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

sdir=$WEFT_SRC/deploy/systemd
units="weft-server.service weft-scheduler.service weft-worker@.service"

if ! command -v systemd-analyze >/dev/null; then
  skip "systemd-analyze is needed (package systemd)"
  test_done
fi

# The units as installed, with ExecStart= on the binary under test (verify
# checks that the program exists).
mkdir -p "$tmp/units"
for u in $units; do
  sed "s|/usr/local/bin/weft|$WEFT_BIN|" "$sdir/$u" >"$tmp/units/$u"
done
cd "$tmp/units" || exit 1

# --man=no: Documentation=man:weft(1) is the page `cmake --install` puts in place
systemd-analyze verify --man=no weft-server.service weft-scheduler.service weft-worker@default.service \
  weft-worker@gpu.service >"$tmp/verify.out" 2>&1
rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/verify.out" ]; then
  ok "systemd-analyze verify: the three units, the worker as @default and @gpu, without a warning"
else
  not_ok "systemd-analyze verify: the three units without a warning" "exit $rc" "$(cat "$tmp/verify.out")"
fi

for u in $units; do
  problems=()
  for k in User=weft Group=weft NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    CapabilityBoundingSet= RestrictSUIDSGID=yes UMask=0077 'ReadWritePaths=/srv/weft'; do
    grep -qx "$k" "$u" || problems+=("no $k")
  done
  # the exposure systemd rates: 0 (locked down) .. 10 (unprotected)
  score=$(systemd-analyze security --offline=true --no-pager "$u" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s < 2.5) }'; then
    problems+=("systemd-analyze security: exposure ${score:-unknown}, not under 2.5")
  fi
  if [ ${#problems[@]} = 0 ]; then
    ok "$u: hardened (own user, ProtectSystem=strict, NoNewPrivileges, no capabilities; exposure $score)"
  else
    not_ok "$u: hardened" "${problems[@]}"
  fi
done

grace=$(sed -n 's/.*--grace \([0-9]*\).*/\1/p' weft-worker@.service)
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' weft-worker@.service)
if [ -n "$grace" ] && [ -n "$stop" ] && [ "$stop" -gt "$grace" ] && grep -qx 'KillMode=mixed' weft-worker@.service; then
  ok "weft-worker@: SIGTERM to the worker alone, TimeoutStopSec=$stop longer than --grace $grace"
else
  not_ok "weft-worker@: SIGTERM to the worker alone, TimeoutStopSec longer than --grace" "grace=$grace stop=$stop"
fi

# A broken unit does not pass: a misspelt key, and a missing program.
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' weft-server.service >"$tmp/bad.service"
systemd-analyze verify --man=no "$tmp/bad.service" >"$tmp/bad.out" 2>&1
grep -q "Unknown key 'NoNewPrivilege'" "$tmp/bad.out" && ok "a misspelt key is reported by systemd-analyze verify" ||
  not_ok "a misspelt key is reported by systemd-analyze verify" "$(cat "$tmp/bad.out")"
sed "s|$WEFT_BIN|/nonexistent/weft|" weft-scheduler.service >"$tmp/bad2.service"
systemd-analyze verify --man=no "$tmp/bad2.service" >"$tmp/bad2.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "/nonexistent/weft" "$tmp/bad2.out" && ok "a missing program fails systemd-analyze verify" ||
  not_ok "a missing program fails systemd-analyze verify" "exit $rc" "$(cat "$tmp/bad2.out")"

# docs/deployment.md shows the units as file= blocks (t0100 verifies those):
# they must be these files, word for word.
python3 - "$WEFT_SRC/docs/deployment.md" "$sdir" >"$tmp/docs.out" 2>&1 <<'EOF'
import os, re, sys
doc, sdir = sys.argv[1], sys.argv[2]
blocks, cur = {}, None
for line in open(doc, encoding="utf-8"):
    m = re.match(r"^```ini file=/etc/systemd/system/(\S+)\s*$", line)
    if cur is None and m:
        cur, text = m.group(1), []
    elif cur is not None and line.rstrip("\n") == "```":
        blocks[cur] = "".join(text)
        cur = None
    elif cur is not None:
        text.append(line)
for u in sorted(os.listdir(sdir)):
    if u not in blocks:
        print(f"docs/deployment.md has no ```ini file=/etc/systemd/system/{u} block")
    elif blocks[u] != open(os.path.join(sdir, u), encoding="utf-8").read():
        print(f"docs/deployment.md's {u} differs from deploy/systemd/{u}")
for u in blocks:
    if not os.path.exists(os.path.join(sdir, u)):
        print(f"docs/deployment.md shows {u}, which deploy/systemd/ does not have")
EOF
[ ! -s "$tmp/docs.out" ] && ok "docs/deployment.md shows the three units exactly as deploy/systemd/ has them" ||
  not_ok "docs/deployment.md shows the three units exactly as deploy/systemd/ has them" "$(cat "$tmp/docs.out")"

# -- the ExecStart= lines, run as systemd would ----------------------------------------

# exec_line UNIT INSTANCE: the unit's ExecStart= with systemd's specifiers
# and variables expanded for this test (%i, %H, %d, ${CREDENTIALS_DIRECTORY}),
# one word a line; the server's port is a free one.
creds=$tmp/credentials
exec_line() {
  sed -n 's/^ExecStart=//p' "$1" | sed -e "s/%i/$2/g" -e "s/%H/$(hostname)/g" -e "s|%d|$creds|g" \
    -e "s|\${CREDENTIALS_DIRECTORY}|$creds|g" -e 's/0\.0\.0\.0:8443/0.0.0.0:0/' | tr ' ' '\n'
}
# What LoadCredential= does: copies readable by the service's user only.
mkdir -p "$creds"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$creds/tls.key" -out "$tmp/cert.pem" >/dev/null 2>&1
(umask 077 && head -c 32 /dev/urandom >"$creds/queue.key")
chmod 0400 "$creds"/*
export WEFT_HOME=$tmp/srv-weft CREDENTIALS_DIRECTORY=$creds WEFT_QUEUE_SIGNING_KEY_FILE=$creds/queue.key
mkdir -p "$WEFT_HOME"
"$WEFT_BIN" location add arithmetic "$examples/arithmetic" >/dev/null 2>&1

mapfile -t cmd < <(exec_line weft-server.service "")
cmd=("${cmd[@]/\/etc\/weft\/cert.pem/$tmp/cert.pem}")
(cd "$WEFT_HOME" && exec "${cmd[@]}") >"$tmp/server.out" 2>&1 &
spid=$!
at_exit "kill $spid; wait $spid"
port=
for _ in $(seq 200); do
  port=$(sed -n 's,.*listening on https://0\.0\.0\.0:\([0-9]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
if [ -n "$port" ] && curl -fsS --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
  ok "weft-server's ExecStart serves HTTPS, its key from the credentials folder (${cmd[*]:1})"
else
  not_ok "weft-server's ExecStart serves HTTPS" "${cmd[*]}" "$(cat "$tmp/server.out")"
fi
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

mapfile -t cmd < <(exec_line weft-scheduler.service "")
(cd "$WEFT_HOME" && timeout 2 "${cmd[@]}") >"$tmp/sched.out" 2>&1
rc=$?
[ $rc = 124 ] && ok "weft-scheduler's ExecStart runs (${cmd[*]:1})" ||
  not_ok "weft-scheduler's ExecStart runs" "exit $rc" "$(cat "$tmp/sched.out")"

if [ -z "${WEFT_TEST_AMQP_URL:-}" ]; then
  skip "weft-worker@'s ExecStart on RabbitMQ: needs WEFT_TEST_AMQP_URL"
else
  # a queue of this test's own: it takes no other test's steps
  q=t0089_$$
  printf 'broker:\n  rabbitmq: {url: "%s"}\n' "$WEFT_TEST_AMQP_URL" >"$WEFT_HOME/weft.yaml"
  mapfile -t cmd < <(exec_line weft-worker@.service "$q")
  (cd "$WEFT_HOME" && exec "${cmd[@]}") >"$tmp/worker.out" 2>&1 &
  wpid=$!
  at_exit "kill $wpid; wait $wpid"
  state=
  for _ in $(seq 100); do
    state=$("$WEFT_BIN" worker list --format json 2>/dev/null | python3 -c 'import json, sys
print(" ".join(w["id"] + ":" + w["state"] for w in json.load(sys.stdin)["workers"]))' 2>/dev/null)
    case $state in *"$(hostname)-$q:running"*) break ;; esac
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.1
  done
  check_has "weft-worker@$q's ExecStart registers a running worker named %H-%i (${cmd[*]:1})" \
    "$(hostname)-$q:running" "$state $(cat "$tmp/worker.out")"
  kill -TERM "$wpid" 2>/dev/null
  wait "$wpid"
  rc=$?
  check_eq "it stops on SIGTERM (systemd's KillSignal) with status 0" 0 "$rc"
fi

test_done
