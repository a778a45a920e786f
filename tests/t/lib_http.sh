# shellcheck shell=bash
# lib_http.sh: what the HTTP tests (t002*-http-*.sh) share, sourced after
# lib.sh:
#   start_server [ARGS...]  starts `weft dev --listen 127.0.0.1:0 ARGS` in
#                           the background (port 0: a free one), waits for
#                           the URL it prints into $url; $server_pid is
#                           stopped at exit
#   stop_server             SIGTERM, waits; $server_rc is its exit status
#   py_checks [ARGS...]     runs the Python on standard input with
#                           weft_http.py importable and sys.argv[1] = $url;
#                           each 'PASS name' or 'FAIL name<TAB>detail' line
#                           it prints is one TAP test; a script that dies
#                           half way is a failed test too

server_pid='' url=''

start_server() {
  : >"$tmp/server.out"
  "$WEFT_BIN" dev --listen 127.0.0.1:0 "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  at_exit "kill $server_pid; wait $server_pid"
  url=''
  for _ in $(seq 200); do
    url=$(sed -n 's,.*\(http://[0-9.:]*\)/.*,\1,p' "$tmp/server.out" | head -n 1)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "# the server did not start:"
  sed 's/^/#   /' "$tmp/server.err"
  return 1
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid"
  server_rc=$?
}

py_checks() {
  local line name detail finished=
  while IFS= read -r line; do
    case "$line" in
      DONE) finished=1 ;;
      PASS\ *) ok "${line#PASS }" ;;
      FAIL\ *)
        line=${line#FAIL }
        name=${line%%$'\t'*}
        detail=${line#*$'\t'}
        not_ok "$name" "$detail"
        ;;
      *) echo "# $line" ;;
    esac
  done < <(PYTHONPATH="$WEFT_SRC/tests/t" python3 - "$url" "$@" 2>&1 && echo DONE)
  [ -n "$finished" ] || not_ok "the Python checks ran to their end" "a traceback is above"
}
