#!/bin/sh
# manpage.sh: writes weft.1 from the binary's own help texts with help2man
# (Debian's tool), so the man page can never drift from `weft --help`.
# Usage: manpage.sh WEFT_BIN OUT.1 [HELP2MAN]
# `weft --help` gives NAME, SYNOPSIS and the command list; each command's
# `weft CMD --help` becomes a subsection of COMMANDS (an --include file).
set -eu
bin=$1 out=$2 help2man=${3:-help2man}
inc=$out.include
# The help texts must not depend on who builds: no instance, no colours.
export WEFT_HOME=/nonexistent LC_ALL=C
unset NO_COLOR
# In a sanitizer build, a leak report at exit must not fail the build: the
# page only needs the text.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

# roff: a backslash is \e, a line starting with . or ' is protected by \&.
roff_escape() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

{
  # (a line that is only [...] would start a section of help2man's)
  printf '%s\n' '[SYNOPSIS]' '\fBweft\fR [\-\-version] [\-\-help] \fICOMMAND\fR [\fIARGS\fR...]' \
    '.br' '\fBweft\fR \fICOMMAND\fR \-\-help'
  echo '[COMMANDS]'
  # The commands `weft --help` lists: "  NAME       summary" after "commands:".
  "$bin" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | while read -r cmd; do
    echo ".SS \"weft $cmd\""
    echo '.nf'
    "$bin" "$cmd" --help >"$inc.group"
    roff_escape <"$inc.group"
    echo '.fi'
    # Subcommands named in its usage lines ("weft run show ..."), each with
    # its own help when it has one beyond the group's.
    grep -oE "^( +|usage: )weft $cmd [a-z][a-z-]+" "$inc.group" | awk '{print $NF}' | sort -u |
      while read -r sub; do
        "$bin" "$cmd" "$sub" --help >"$inc.sub" 2>/dev/null || continue
        cmp -s "$inc.group" "$inc.sub" && continue
        echo ".SS \"weft $cmd $sub\""
        echo '.nf'
        roff_escape <"$inc.sub"
        echo '.fi'
      done
  done
  rm -f "$inc.group" "$inc.sub"
  cat <<'ROFF'
[ENVIRONMENT]
.TP
.B WEFT_HOME
The instance folder: weft.yaml, the SQLite store, artifacts and logs
(default ./.weft).
.TP
.B WEFT_BROKER_URL
The RabbitMQ URL of workers and of the queue executor, when weft.yaml does
not give one.
.TP
.B WEFT_SECRET_KEY
The key secrets are encrypted with, instead of $WEFT_HOME/secret.key.
[FILES]
.TP
.I $WEFT_HOME/weft.yaml
The instance's storage, artifacts, broker, executor, server and auth.
.TP
.I /usr/share/weft/sdk
The op SDKs (Python and C) for programs run as ops.
.TP
.I /usr/share/weft/examples
Example code locations, jobs and run configs.
[SEE ALSO]
The guides under /usr/share/doc/weft (README.md, install.md,
deployment.md, weft-yaml.md).
ROFF
} >"$inc"

# The footer names the release; `weft --version` also names the commit.
version=$("$bin" --version | sed -n '1s/^weft \([^ ]*\).*/\1/p')
"$help2man" --no-info --no-discard-stderr --section 1 --version-string "$version" \
  --name 'a workflow orchestrator in one native binary' \
  --include "$inc" --output "$out.tmp" "$bin"
mv "$out.tmp" "$out"
rm -f "$inc"
