#!/usr/bin/env bash
# t0100-docs: every command in docs/ runs, the YAML reference names every key
# the parsers accept, and the docs link only to files in this repository.
#
# How a doc's fenced blocks are treated (the grammar docs/README.md states):
#   ```sh                 run as is, in the doc's own shell session (bash,
#                         `set -eo pipefail`): blocks of one doc run in
#                         order in one shell, so `cd` and `export` carry on;
#                         a failing command fails its block and the blocks
#                         after it are reported as not reached
#   ```sh background      a long-running command (weft dev, server, worker,
#                         scheduler): started in a session of its own, then
#                         waited for (HTTP: /healthz at its --listen
#                         address; worker: registered as running; others:
#                         still alive after 1 s), stopped by its pid at the
#                         end of the doc (SIGTERM, SIGKILL after 15 s)
#   ```sh needs=pg,amqp,s3,docker
#                         needs the suite's servers (WEFT_TEST_PG_URL,
#                         WEFT_TEST_AMQP_URL, WEFT_TEST_S3_URL,
#                         WEFT_TEST_DOCKER_HOST, which scripts/test sets);
#                         a TAP skip naming the server when one is absent
#   ```yaml file=PATH     (any language) written to PATH before the next
#                         block runs ($WEFT_HOME expands, relative paths
#                         are from the session's current folder); it may
#                         carry needs= as well
#   anything else         (```text, ```ini, ```yaml, ```c, ...) is not run,
#                         and must not hold a `weft ...` command line: a
#                         command users are shown is a command this test
#                         runs. ```bash, ```shell and ```console are refused
#                         (write ```sh, or ```text for what cannot run here).
#                         (A unit file's `ExecStart=.../weft server` is not
#                         such a line: the doc's units are written with
#                         file= and checked by `systemd-analyze verify`.)
#
# Each doc's session starts in a folder that looks like a checkout: a copy
# of examples/ and build/weft, with `weft` on PATH, WEFT_HOME=./.weft of
# the session and HOME a scratch folder. Placeholders of the docs are
# replaced by the suite's servers (SUBSTITUTIONS below): PostgreSQL is a
# database of this test's own, RabbitMQ a vhost of its own (the node is
# shared; a worker on queue `default` must not take other tests' steps), S3
# the suite's bucket (keys hold run ids), every 127.0.0.1:PORT a free
# port, /srv/weft, /etc/weft and /etc/systemd/system folders of the session,
# /usr/local/bin/weft the binary under test.
#
# Docs whose commands other tests run (the ALLOW_LIST below, by path in
# the repository; each entry names the tests): their ```sh blocks are not
# run here; instead the named tests must exist and between them mention
# every `weft COMMAND SUBCOMMAND` of those blocks. README.md is one: its
# ```sh blocks start workers on two queues (t0070-queue-workers), list them
# and the queue depths (t0073-queue-poison) and run a custom worker binary
# (t0075-queue-batch's c_op_worker). Its other examples are indented or
# plain-fenced: the quick start's launch, run list/show/logs are those of
# t0010-launch and t0011-run-inspect. README.md is checked for links.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

docs=$WEFT_SRC/docs
# file -> tests that run its commands (space-separated test names)
declare -A ALLOW_LIST=(
  [README.md]="t0070-queue-workers t0073-queue-poison t0075-queue-batch"
  # forged and unsigned messages need a raw publisher and a second key
  [docs/queue-security.md]="t0076-queue-signed"
)

if [ ! -d "$docs" ]; then
  not_ok "docs/ exists"
  test_done
fi

# -- static checks ---------------------------------------------------------------------

python3 - "$WEFT_SRC" >"$tmp/static.out" 2>&1 <<'EOF'
import glob, os, re, subprocess, sys
root = sys.argv[1]
docs = sorted(glob.glob(os.path.join(root, "docs", "*.md")))
readme = os.path.join(root, "README.md")
def say(name, problems):
    """One line: PASS name, or FAIL name and its problems, \x1f-separated."""
    print("\x1f".join([("PASS " if not problems else "FAIL ") + name] + problems[:20]))
def rel(p): return os.path.relpath(p, root)
fence = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
def blocks(path):
    """(line, info, text) of each fenced block."""
    out, cur = [], None
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        m = fence.match(line.rstrip("\n"))
        if cur is None and m:
            cur = [i, m.group(3).strip(), [], m.group(2)]
        elif cur is not None and m and m.group(2).startswith(cur[3]) and not m.group(3).strip():
            out.append((cur[0], cur[1], "".join(cur[2])))
            cur = None
        elif cur is not None:
            cur[2].append(line)
    if cur is not None:
        out.append((cur[0], cur[1] + " UNCLOSED", "".join(cur[2])))
    return out

# 1. fences: known info strings, no weft command outside ```sh
bad = []
cmd = re.compile(r"^\s*(\$\s+)?([\w./-]*/)?weft\s+[a-z]")
for d in docs:
    for line, info, text in blocks(d):
        words = info.split()
        lang = words[0] if words else ""
        if "UNCLOSED" in words:
            bad.append(f"{rel(d)}:{line}: fence never closed")
        if lang in ("bash", "shell", "console", "sh-session", "zsh"):
            bad.append(f"{rel(d)}:{line}: ```{lang}: write ```sh (run by this test) or ```text")
        if lang == "sh":
            for w in words[1:]:
                if w != "background" and not re.fullmatch(r"needs=(pg|amqp|s3|docker)(,(pg|amqp|s3|docker))*", w):
                    bad.append(f"{rel(d)}:{line}: unknown ```sh attribute {w}")
            continue
        for w in words[1:]:
            if not (w.startswith("file=") or re.fullmatch(r"needs=(pg|amqp|s3|docker)(,(pg|amqp|s3|docker))*", w)):
                bad.append(f"{rel(d)}:{line}: unknown attribute {w} (only file=PATH, needs=...)")
        for j, t in enumerate(text.splitlines(), 1):
            if cmd.match(t):
                bad.append(f"{rel(d)}:{line + j}: a weft command outside a ```sh block: {t.strip()}")
say("docs: every fence is ```sh (run) or another language (shown), no weft command hides outside ```sh", bad)

# 2. links: relative links resolve inside the repository, anchors name a
# heading of the page (GitHub's slugs); nothing outside the repository
bad = []
link = re.compile(r"\]\(([^)\s]+)\)")
def slugs(path):
    out = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"#{1,6}\s+(.*?)\s*$", line)
        if m:
            t = re.sub(r"[^\w\- ]", "", m.group(1).lower())
            out.add(t.replace(" ", "-"))
    return out
for f in docs + [readme]:
    text = open(f, encoding="utf-8").read()
    for m in link.finditer(text):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        if target.startswith("#"):
            target = os.path.basename(f) + target
        path = os.path.normpath(os.path.join(os.path.dirname(f), target.split("#")[0]))
        if not path.startswith(root + os.sep) and path != root:
            bad.append(f"{rel(f)}: link {target} leaves the repository")
        elif not os.path.exists(path):
            bad.append(f"{rel(f)}: link {target} names no file")
        elif "#" in target and path.endswith(".md") and target.split("#", 1)[1] not in slugs(path):
            bad.append(f"{rel(f)}: link {target}: no such heading in {rel(path)}")
    if "../shared" in text or "/work/shared" in text:
        bad.append(f"{rel(f)}: mentions ../shared")
say("docs and README.md link only files that exist in the repository", bad)

# 3. the index and the README link every doc
index = os.path.join(root, "docs", "README.md")
bad = []
if not os.path.exists(index):
    bad.append("docs/README.md is missing")
else:
    itext = open(index, encoding="utf-8").read()
    for d in docs:
        if d != index and f"]({os.path.basename(d)}" not in itext:
            bad.append(f"docs/README.md does not link {os.path.basename(d)}")
if "](docs/README.md)" not in open(readme, encoding="utf-8").read() and "](docs/)" not in open(readme, encoding="utf-8").read():
    bad.append("README.md does not link docs/")
say("docs/README.md links every doc, README.md links docs/", bad)

# 4. nothing in the repository reaches for ../shared (a sibling folder users do not have)
bad = []
try:
    files = subprocess.run(["git", "-C", root, "ls-files", "-co", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
except Exception:
    files = [rel(p) for p in glob.glob(os.path.join(root, "**", "*"), recursive=True)]
for f in files:
    if not f or f.startswith(("build", "tests/browser/node_modules", "tests/s3/")) or "/node_modules/" in f:
        continue
    if f == "tests/t/t0100-docs.sh":
        continue
    p = os.path.join(root, f)
    if not os.path.isfile(p) or os.path.getsize(p) > 2_000_000:
        continue
    try:
        text = open(p, encoding="utf-8").read()
    except (UnicodeDecodeError, OSError):
        continue
    for i, line in enumerate(text.splitlines(), 1):
        if re.search(r"\.\./shared\b|/work/shared\b|\bshared/(ARCHITECTURE|STYLE|NOTES|README|bench|hooks)", line):
            bad.append(f"{f}:{i}: {line.strip()[:120]}")
say("no file of the repository refers to ../shared", bad)

# 5. docs/weft-yaml.md names every key of the parsers' key tables
ref = os.path.join(root, "docs", "weft-yaml.md")
spans = " ".join(re.findall(r"`([^`\n]+)`", open(ref, encoding="utf-8").read())) if os.path.exists(ref) else ""
table = re.compile(r"const char \*const (\w*(?:keys|kinds)\w*)\[\]\s*=\s*\{([^}]*)\}", re.S)
bad, n = [], 0
for src in sorted(glob.glob(os.path.join(root, "src", "dsl", "*.c"))):
    for m in table.finditer(open(src, encoding="utf-8").read()):
        for key in re.findall(r'"([^"]+)"', m.group(2)):
            n += 1
            if not re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])", spans):
                bad.append(f"{rel(src)} {m.group(1)}: `{key}` is not named in docs/weft-yaml.md")
if n < 50:
    bad.append(f"only {n} keys found in src/dsl/*.c key tables: the pattern no longer matches")
say(f"docs/weft-yaml.md names each of the {n} keys of the parsers' key tables", bad)
EOF
while IFS=$'\x1f' read -r -a parts; do
  case ${parts[0]} in
  PASS\ *) ok "${parts[0]#PASS }" ;;
  FAIL\ *) not_ok "${parts[0]#FAIL }" "${parts[@]:1}" ;;
  *) not_ok "the static checks ran" "${parts[*]}" ;;
  esac
done <"$tmp/static.out"

# -- the suite's servers, each of this test's own ---------------------------------------

have="" pg_url=""
if [ -n "${WEFT_TEST_PG_URL:-}" ]; then
  # the stem of the sessions' databases (t0100_docs_PID_DOC, made below)
  pg_url=${WEFT_TEST_PG_URL%/*}/t0100_docs_$$
  have+=pg,
fi
amqp_url=
if [ -n "${WEFT_TEST_AMQP_URL:-}" ]; then
  # A vhost of our own on the shared node (scripts/rabbitmq-server ctl DIR),
  # so the docs' worker on queue `default` sees only the docs' steps.
  amqp_dir=${WEFT_TEST_AMQP_CTL:-}
  amqp_dir=${amqp_dir##* }
  vhost=t0100_$$
  if [ -n "$amqp_dir" ] && [ -d "$amqp_dir" ] &&
    "$WEFT_SRC/scripts/rabbitmq-server" ctl "$amqp_dir" add_vhost "$vhost" >"$tmp/vhost.log" 2>&1 &&
    "$WEFT_SRC/scripts/rabbitmq-server" ctl "$amqp_dir" set_permissions -p "$vhost" guest '.*' '.*' '.*' >>"$tmp/vhost.log" 2>&1; then
    at_exit "'$WEFT_SRC/scripts/rabbitmq-server' ctl '$amqp_dir' delete_vhost '$vhost'"
    amqp_url=${WEFT_TEST_AMQP_URL%/}/$vhost
    have+=amqp,
  else
    not_ok "a RabbitMQ vhost of this test's own" "$(cat "$tmp/vhost.log" 2>/dev/null)" \
      "WEFT_TEST_AMQP_CTL=${WEFT_TEST_AMQP_CTL:-} (scripts/rabbitmq-server restart DIR expected)"
  fi
fi
s3_endpoint=
if [ -n "${WEFT_TEST_S3_URL:-}" ]; then
  s3_endpoint=$(printf '%s' "$WEFT_TEST_S3_URL" | sed -n 's|.*[?&]endpoint=\([^&]*\).*|\1|p')
  [ -z "$s3_endpoint" ] || have+=s3,
fi
[ -z "${WEFT_TEST_DOCKER_HOST:-}" ] || have+=docker,

# -- the docs' sessions ----------------------------------------------------------------

allowed=
for f in "${!ALLOW_LIST[@]}"; do allowed+="$f,"; done
export T_PG_URL=${pg_url:-} T_AMQP_URL=$amqp_url T_S3_ENDPOINT=$s3_endpoint \
  T_DOCKER_HOST=${WEFT_TEST_DOCKER_HOST:-} T_DOCKER_IMAGE=${WEFT_TEST_DOCKER_IMAGE:-localhost/weft-test:busybox} \
  T_HAVE=$have T_ALLOWED=$allowed
python3 - "$WEFT_SRC" "$tmp/sessions" >"$tmp/gen.out" 2>&1 <<'EOF'
import glob, os, re, shlex, socket, sys
root, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
have = set(filter(None, os.environ["T_HAVE"].split(",")))
allowed = set(filter(None, os.environ["T_ALLOWED"].split(",")))
fence = re.compile(r"^(\s*)(```+|~~~+)(.*)$")

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

# SUBSTITUTIONS: placeholder in the docs -> the suite's server of this test.
def substitutions(session):
    # a database per session (t0100 creates it): sessions run at once
    pg = os.environ["T_PG_URL"] and os.environ["T_PG_URL"] + "_" + os.path.basename(session).replace("-", "_")
    return [
        ("postgresql://weft:${WEFT_PG_PASSWORD}@db.internal:5432/weft", pg),
        ("amqp://weft:${WEFT_AMQP_PASSWORD}@rabbit.internal:5672/weft", os.environ["T_AMQP_URL"]),
        ("http://s3.internal:9000", os.environ["T_S3_ENDPOINT"]),
        ("unix:///run/podman/podman.sock", os.environ["T_DOCKER_HOST"]),
        ("docker.io/library/busybox:1.36", os.environ["T_DOCKER_IMAGE"]),
        ("weft-access-key", "S3RVER"),
        ("weft-secret-key", "S3RVER"),
        ("/srv/weft", session + "/srv/weft"),
        ("/etc/weft", session + "/etc/weft"),
        ("/etc/systemd/system", session + "/etc/systemd/system"),
        ("/usr/local/bin/weft", session + "/repo/build/weft"),
    ]

def blocks(path):
    out, cur = [], None
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        m = fence.match(line.rstrip("\n"))
        if cur is None and m:
            cur = [i, m.group(3).strip().split(), [], m.group(2)]
        elif cur is not None and m and m.group(2).startswith(cur[3]) and not m.group(3).strip():
            out.append((cur[0], cur[1], "".join(cur[2])))
            cur = None
        elif cur is not None:
            cur[2].append(line)
    return out

manifest = open(os.path.join(out, "manifest"), "w")
for doc in sorted(glob.glob(os.path.join(root, "docs", "*.md"))):
    name = os.path.basename(doc)
    if "docs/" + name in allowed:
        continue
    bl = [b for b in blocks(doc) if b[1] and (b[1][0] == "sh" or any(w.startswith("file=") for w in b[1][1:]))]
    if not bl:
        continue
    session = os.path.join(out, name[:-3])
    os.makedirs(os.path.join(session, "logs"), exist_ok=True)
    ports = {}
    def subst(text):
        text = re.sub(r"\b(127\.0\.0\.1|localhost):(\d{2,5})\b",
                      lambda m: m.group(1) + ":" + str(ports.setdefault(m.group(2), free_port())), text)
        for a, b in substitutions(session):
            text = text.replace(a, b)
        return text
    s = [f"# generated by t0100-docs from docs/{name}",
         "set -eo pipefail",
         f"__st={shlex.quote(session)}/status __logs={shlex.quote(session)}/logs",
         f"__bgpids={shlex.quote(session)}/bg.pids",
         ". \"$T_LIB\""]
    for n, (line, words, text) in enumerate(bl, 1):
        where = f"docs/{name}:{line}"
        attrs = {w.split("=", 1)[0]: (w.split("=", 1) + [""])[1] for w in words[1:]}
        needs = [x for x in attrs.get("needs", "").split(",") if x]
        missing = [x for x in needs if x not in have]
        if words[0] == "sh" and "background" in attrs:
            kind = "bg"
        elif words[0] == "sh":
            kind = "sh"
        else:
            kind = "file"
        manifest.write(f"{name}|{n}|{where}|{kind}|{','.join(missing)}|{','.join(needs)}\n")
        if missing:
            s.append(f"echo 'skip {n}' >>\"$__st\"")
            continue
        body = subst(text)
        s.append(f"__begin {n}")
        if kind == "file":
            path = subst(attrs["file"])
            if not re.fullmatch(r"[A-Za-z0-9_./@$-]+", path):
                raise SystemExit(f"{where}: file={path}: letters, digits, _ . / @ - and $WEFT_HOME only")
            s.append(f'mkdir -p "$(dirname "{path}")"')
            s.append(f"cat >\"{path}\" <<'__WEFT_DOC_EOF__'\n{body}__WEFT_DOC_EOF__")
        elif kind == "bg":
            bgfile = os.path.join(session, f"bg-{n}.sh")
            open(bgfile, "w").write("set -eo pipefail\n" + body)
            m = re.search(r"--listen\s+(\S+)", body)
            if re.search(r"\bweft\s+(dev|server)\b", body):
                if not m:
                    raise SystemExit(f"{where}: a background weft dev/server block must give --listen")
                scheme = "https" if "--tls-cert" in body else "http"
                s.append(f"__bg {n} {shlex.quote(bgfile)}")
                s.append(f"__wait_http {shlex.quote(scheme + '://' + m.group(1) + '/healthz')}")
            elif re.search(r"\bweft\s+worker\b", body):
                s.append("__before=$(__workers)")
                s.append(f"__bg {n} {shlex.quote(bgfile)}")
                s.append("__wait_worker \"$__before\"")
            else:
                s.append(f"__bg {n} {shlex.quote(bgfile)}")
                s.append("__wait_alive")
        else:
            s.append(body.rstrip("\n"))
        s.append(f"__end {n}")
    open(os.path.join(session, "session.sh"), "w").write("\n".join(s) + "\n")
EOF
[ -s "$tmp/gen.out" ] && not_ok "the docs' blocks are extracted" "$(cat "$tmp/gen.out")"

# Helpers every session sources (T_LIB).
cat >"$tmp/session-lib.sh" <<'EOF'
__cur=0
__on_exit() {
  local rc=$?
  [ "$__cur" = 0 ] || echo "fail $__cur $rc" >>"$__st"
  __stop_bg
}
trap __on_exit EXIT
__begin() { __cur=$1; echo "begin $1 $EPOCHREALTIME" >>"$__st"; exec >"$__logs/$1.log" 2>&1; }
__end() { echo "pass $1 $EPOCHREALTIME" >>"$__st"; __cur=0; }
__bg() { # N FILE: the block in a session of its own, its pid kept
  setsid bash "$2" >"$__logs/$1.bg.log" 2>&1 </dev/null &
  __bgpid=$!
  echo "$__bgpid" >>"$__bgpids"
}
__alive() { kill -0 "$__bgpid" 2>/dev/null || { echo "the command exited:"; cat "$__logs/$__cur.bg.log"; return 1; }; }
__wait_http() {
  local i
  for i in $(seq 300); do
    curl -fsk -o /dev/null "$1" 2>/dev/null && return 0
    __alive || return 1
    sleep 0.1
  done
  echo "no answer at $1 in 30 s"; cat "$__logs/$__cur.bg.log"; return 1
}
__workers() {
  weft worker list --format json 2>/dev/null |
    python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w.get("state")=="running"))' 2>/dev/null || echo 0
}
__wait_worker() {
  local i
  for i in $(seq 300); do
    [ "$(__workers)" -gt "$1" ] && return 0
    __alive || return 1
    sleep 0.1
  done
  echo "the worker did not register in 30 s"; cat "$__logs/$__cur.bg.log"; return 1
}
__wait_alive() { sleep 1; __alive; }
__stop_bg() {
  local p i
  [ -f "$__bgpids" ] || return 0
  for p in $(cat "$__bgpids"); do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
  for p in $(cat "$__bgpids"); do
    for i in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
  done
  rm -f "$__bgpids"
}
EOF
export T_LIB=$tmp/session-lib.sh

# took BLOCK: " (N.N s)", the block's run time from its begin and pass lines.
took() {
  awk -v b="$1" '$2 == b && $1 == "begin" { t = $3 } $2 == b && $1 == "pass" { printf " (%.1f s)", $3 - t }' "$dir/status"
}

# exec_session DOC: runs a doc's blocks in order, in a scratch checkout of
# its own (called in the background: no TAP output here).
exec_session() {
  local dir=$tmp/sessions/${1%.md}
  mkdir -p "$dir/repo/build" "$dir/home" "$dir/bin"
  cp -r "$WEFT_SRC/examples" "$dir/repo/examples"
  ln -s "$WEFT_BIN" "$dir/repo/build/weft"
  ln -s "$WEFT_SRC/scripts" "$dir/repo/scripts"
  ln -s "$WEFT_BIN" "$dir/bin/weft"
  : >"$dir/status"
  cd "$dir/repo" &&
    HOME=$dir/home WEFT_HOME=$dir/repo/.weft PATH=$dir/bin:$PATH \
      env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u DOCKER_HOST -u WEFT_BROKER_URL \
      timeout -k 10 240 bash "$dir/session.sh" </dev/null >"$dir/session.out" 2>&1
}

# report_session DOC: one TAP line per block of the doc.
report_session() {
  local name=$1 dir=$tmp/sessions/${1%.md} doc blk where kind missing st log
  while IFS='|' read -r doc blk where kind missing _; do
    [ "$doc" = "$name" ] || continue
    st=$(grep -E "^(begin|pass|fail|skip) $blk( |\$)" "$dir/status" | tail -n 1)
    log=$dir/logs/$blk.log
    case $st in
    "skip $blk") skip "$where ($kind): needs $missing" ;;
    "pass $blk "*) ok "$where ($kind) runs$(took "$blk")" ;;
    "fail $blk"*) not_ok "$where ($kind) runs" "exit ${st##* }" "$(tail -n 30 "$log" 2>/dev/null)" \
      "$(tail -n 15 "$dir/logs/$blk.bg.log" 2>/dev/null)" ;;
    "begin $blk "*) not_ok "$where ($kind) runs" "it did not finish (timeout?)" "$(tail -n 30 "$log" 2>/dev/null)" \
      "$(tail -n 5 "$dir/session.out")" ;;
    *) not_ok "$where ($kind) runs" "not reached: an earlier block failed" ;;
    esac
  done <"$tmp/sessions/manifest"
}

# Every doc runs at once, each on a database of its own, but those on
# RabbitMQ one after the other: they share the vhost, and a worker
# dead-letters the steps of runs its own storage does not know.
if [ -f "$tmp/sessions/manifest" ]; then
  names=$(cut -d'|' -f1 "$tmp/sessions/manifest" | uniq)
  on_amqp=" $(awk -F'|' '$6 ~ /amqp/ { print $1 }' "$tmp/sessions/manifest" | uniq | tr '\n' ' ')"
  for name in $names; do
    dir=$tmp/sessions/${name%.md}
    at_exit "[ -f '$dir/bg.pids' ] && for p in \$(cat '$dir/bg.pids'); do kill -KILL -- -\$p; done"
    [ -n "$pg_url" ] || continue
    db=${pg_url##*/}_${name%.md}
    db=${db//-/_}
    psql -q "$WEFT_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null 2>"$tmp/createdb.err" ||
      not_ok "create database $db" "$(cat "$tmp/createdb.err")"
    at_exit "psql -q '$WEFT_TEST_PG_URL' -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' >/dev/null 2>&1"
  done
  (for name in $on_amqp; do exec_session "$name"; done) &
  pids=($!)
  for name in $names; do
    case $on_amqp in *" $name "*) continue ;; esac
    exec_session "$name" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for name in $names; do report_session "$name"; done
fi

# -- docs whose commands other tests run -----------------------------------------------

for f in "${!ALLOW_LIST[@]}"; do
  problems=()
  texts=
  for t in ${ALLOW_LIST[$f]}; do
    if [ -f "$WEFT_SRC/tests/t/$t.sh" ]; then texts+=$(cat "$WEFT_SRC/tests/t/$t.sh"); else problems+=("no test tests/t/$t.sh"); fi
  done
  [ -f "$WEFT_SRC/$f" ] || problems+=("$f does not exist")
  while read -r c s; do
    [ -n "$c" ] || continue
    pat="$c${s:+ $s}"
    case $texts in *"$pat"*) ;; *) problems+=("no test of ${ALLOW_LIST[$f]} runs 'weft $pat'") ;; esac
  done < <(python3 - "$WEFT_SRC/$f" <<'EOF' 2>/dev/null
import re, sys
inside = False
for line in open(sys.argv[1], encoding="utf-8"):
    if re.match(r"^\s*```", line):
        inside = not inside and bool(re.match(r"^\s*```sh\b", line))
        continue
    if inside:
        m = re.search(r"(?:^|[\s|;&(])weft\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?", line)
        if m:
            print(m.group(1), m.group(2) or "")
EOF
)
  if [ ${#problems[@]} -eq 0 ]; then ok "$f: its commands are run by ${ALLOW_LIST[$f]}"; else not_ok "$f: its commands are run by ${ALLOW_LIST[$f]}" "${problems[@]}"; fi
done

test_done
