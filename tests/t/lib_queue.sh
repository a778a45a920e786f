# shellcheck shell=bash disable=SC2034
# lib_queue.sh: RabbitMQ and workers for the queue tests (t007x), sourced
# after lib.sh.
#
#   amqp_setup [own]   sets amqp_url (and amqp_ctl, a command restarting the
#                      node, when known): WEFT_TEST_AMQP_URL when scripts/test
#                      set it (unless `own`), else a private node started
#                      here with scripts/rabbitmq-server and stopped on exit.
#                      Skips the whole script only when rabbitmq-server is
#                      not installed.
#   queue_names        qd, qg: op queue names of this script only (the node
#                      may be shared with other scripts running at once)
#   queue_instance [PG_URL] [noexec]  writes $WEFT_HOME/weft.yaml (broker;
#                      execution: queue unless noexec; postgres storage when
#                      PG_URL is not empty) and opens it
#   start_worker ID QUEUES [ARGS...]  a worker in the background; its pid in
#                      $worker_pid, its log in $tmp/ID.log
#   wait_registered N  waits (10 s) until N workers are registered running
#   start_worker_hidden ID QUEUES "DIR..." [ARGS...]  a worker as start_worker,
#                      in a mount namespace of its own (unshare, private
#                      propagation) in which each DIR is covered by an empty
#                      tmpfs: it cannot see what they hold, as a worker on
#                      another machine. Needs root; check can_hide_folders.
#   can_hide_folders   0 when start_worker_hidden can work here

amqp_setup() {
  amqp_ctl=
  if [ -n "${WEFT_TEST_AMQP_URL:-}" ] && [ "${1:-}" != own ]; then
    amqp_url=$WEFT_TEST_AMQP_URL
    amqp_ctl=${WEFT_TEST_AMQP_CTL:-}
    return 0
  fi
  if [ ! -x "${RABBITMQ_BINDIR:-/usr/lib/rabbitmq/bin}/rabbitmq-server" ]; then
    skip "rabbitmq-server is not installed (scripts/bootstrap test installs it)"
    test_done
  fi
  amqp_dir=$(mktemp -d "${TMPDIR:-/tmp}/weft-amqp-$test_name.XXXXXX")
  at_exit "'$WEFT_SRC/scripts/rabbitmq-server' stop '$amqp_dir'; rm -rf '$amqp_dir'"
  amqp_url=$("$WEFT_SRC/scripts/rabbitmq-server" start "$amqp_dir") || {
    not_ok "a private RabbitMQ node starts"
    test_done
  }
  amqp_ctl="$WEFT_SRC/scripts/rabbitmq-server restart $amqp_dir"
}

qd=t$$d qg=t$$g

queue_instance() {
  {
    printf 'broker:\n  rabbitmq:\n    url: %s\n' "$amqp_url"
    [ "${2:-}" = noexec ] || printf 'execution: queue\n'
    [ -z "${1:-}" ] || printf 'storage:\n  postgres:\n    url: %s\n' "$1"
  } >"$WEFT_HOME/weft.yaml"
  # Create the store before several processes open it at once.
  "$WEFT_BIN" run list >/dev/null 2>"$tmp/instance.err" || {
    not_ok "the instance opens" "$(cat "$tmp/instance.err")"
    test_done
  }
}

start_worker() {
  local id=$1 queues=$2
  shift 2
  "$WEFT_BIN" worker --id "$id" --queue "$queues" "$@" >"$tmp/$id.log" 2>&1 &
  worker_pid=$!
  at_exit "kill -9 $worker_pid"
}

wait_registered() {
  local i got
  for i in $(seq 100); do
    got=$("$WEFT_BIN" worker list --format json 2>/dev/null |
      python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w.get("state")=="running"))' 2>/dev/null)
    [ "${got:-0}" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

can_hide_folders() {
  # shellcheck disable=SC2016
  unshare --mount --propagation private sh -c 'mount -t tmpfs weft-hidden "$1"' sh "$tmp" \
    >/dev/null 2>&1
}

start_worker_hidden() {
  local id=$1 queues=$2 hide=$3
  shift 3
  # unshare execs sh, sh execs weft: the worker keeps the pid started here.
  # shellcheck disable=SC2016
  unshare --mount --propagation private sh -c '
    for d in $1; do mount -t tmpfs -o size=1m,mode=0755 weft-hidden "$d" || exit 97; done
    shift
    exec "$@"' sh "$hide" "$WEFT_BIN" worker --id "$id" --queue "$queues" "$@" \
    >"$tmp/$id.log" 2>&1 &
  worker_pid=$!
  at_exit "kill -9 $worker_pid"
}
