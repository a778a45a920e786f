#!/usr/bin/env bash
# t0086-install-deb: what users install. `weft --version` names the commit
# (and says "unknown commit" outside a git checkout); `cmake --install` lays
# out the binary, the man page (rendered with man -l), SDKs, examples and
# libweft + weft.h + weft.pc, and a program of ours builds against that
# INSTALLED tree with pkg-config and runs a job of C ops; CPack builds the
# weft and weft-dev .debs, whose Depends (from dpkg-shlibdeps) Debian 12's
# archive satisfies, and `dpkg -i` installs them into a fresh root (with a
# copy of this machine's package database, never the host's own), where the
# binary, man page and weft.pc work, and `dpkg -r` removes them again.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

build=$(dirname "$WEFT_BIN")
version=$(sed -n 's/^#define WEFT_VERSION "\(.*\)"/\1/p' "$WEFT_SRC/include/weft.h")

# -- weft --version ---------------------------------------------------------------
expect_exit 0 "$WEFT_BIN" --version
if git -C "$WEFT_SRC" rev-parse --git-dir >/dev/null 2>&1; then
  # The build ran git describe on this checkout: the commit's prefix is there
  # (HEAD may have moved since the build: any commit of the history will do).
  c=$(printf '%s' "$out" | sed -n 's/^weft [^ ]* (git \([0-9a-f]\{7,\}\)\(-dirty\)\{0,1\})$/\1/p')
  if [ -n "$c" ] && git -C "$WEFT_SRC" cat-file -e "$c^{commit}" 2>/dev/null; then
    ok "weft --version names a commit of this checkout ($out)"
  else
    not_ok "weft --version names a commit of this checkout" "got: $out"
  fi
else
  check_eq "weft --version outside a git checkout" "weft $version (unknown commit)" "$out"
fi
check_has "the version is weft.h's" "weft $version " "$out"
# The build's script, on a source tree that is no git checkout (a tarball)
# and with the commit given by the packager.
mkdir notgit
run cmake -DSRC_DIR="$tmp/notgit" -DOUT="$tmp/b1.h" -DVERSION=9.9.9 -P "$WEFT_SRC/cmake/version.cmake"
check_rc "version.cmake succeeds outside a git checkout" 0
check_has "outside a git checkout it says 'unknown commit'" '#define WEFT_BUILD_COMMIT "unknown commit"' "$(cat b1.h 2>/dev/null)"
run cmake -DSRC_DIR="$tmp/notgit" -DOUT="$tmp/b2.h" -DVERSION=9.9.9 '-DCOMMIT=release 9.9.9"; x' \
  -P "$WEFT_SRC/cmake/version.cmake"
check_has "-DWEFT_COMMIT is used, quotes made harmless" '#define WEFT_BUILD_COMMIT "release 9.9.9__ x"' "$(cat b2.h 2>/dev/null)"

# -- cmake --install ----------------------------------------------------------------
# The man page is built when help2man is installed (scripts/bootstrap build).
man_page=share/man/man1/weft.1 no_man=
if [ ! -f "$build/weft.1" ]; then
  man_page="" no_man="the build has no man page (help2man was not installed at configure time)"
fi
inst=$tmp/inst
expect_exit -m "cmake --install --prefix DIR succeeds" 0 cmake --install "$build" --prefix "$inst"
missing=
for f in bin/weft $man_page share/weft/sdk/python/weft_op.py share/weft/sdk/c/weft_op.h \
  share/weft/examples/arithmetic/jobs/arithmetic.yaml share/doc/weft/README.md \
  share/weft/deploy/systemd/weft-server.service share/weft/deploy/compose/compose.yaml \
  lib/libweft.a include/weft.h include/weft_op.h lib/pkgconfig/weft.pc; do
  [ -e "$inst/$f" ] || missing+=" $f"
done
check_eq "the installed tree holds the binary, man page, SDKs, examples, deploy files, docs, libweft, headers, weft.pc" "" "$missing"
check_eq "the image's build script is not installed (it needs a checkout)" "" "$(ls "$inst/share/weft/deploy/image" 2>/dev/null)"
expect_output_contains -m "the installed weft runs" "weft $version (" "$inst/bin/weft" --version
check_has "weft.pc names the install prefix, not the configured one" "prefix=$inst" "$(cat "$inst/lib/pkgconfig/weft.pc")"

# The man page: rendered, it has every command of `weft --help` and their options.
if [ -n "$no_man" ]; then
  for _ in 1 2 3 4 5; do skip "$no_man"; done
else
  MANWIDTH=100 man -l "$inst/share/man/man1/weft.1" >man.txt 2>man.err
  rc=$?
  check_eq "man -l renders weft.1 without warnings" "0:" "$rc:$(cat man.err)"
  cmds=$("$WEFT_BIN" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
  missing=
  for c in $cmds; do grep -q "^   weft $c\$" man.txt || missing+=" $c"; done
  check_eq "the man page has a section for each of the $(wc -w <<<"$cmds") commands" "" "$missing"
  check_has "the man page has subcommands' own help (weft run show)" "weft run show ID [--format text|json]" "$(cat man.txt)"
  check_has "the man page shows launch's options" "--set PATH=VALUE" "$(cat man.txt)"
  check_has "the man page's SYNOPSIS" "weft [--version] [--help] COMMAND [ARGS...]" "$(cat man.txt)"
fi

# A program with C ops of its own, built against the installed tree only.
mkdir -p loc/ops loc/jobs
cat >loc/ops/ops.yaml <<'YAML'
answer:
  outputs: {result: int}
  c_function: answer
twice:
  inputs: {x: int}
  outputs: {result: int}
  c_function: twice
YAML
printf 'ops:\n  a: answer\n  b: {uses: twice, inputs: {x: a}}\n' >loc/jobs/double.yaml
printf 'execution: {in_process: {}}\n' >run.yaml
# build_and_run NAME PKG_CONFIG_ARGS...: builds embed_answer with the flags
# pkg-config gives, then launches the job with it.
build_and_run() {
  local name=$1 flags
  shift
  flags=$(pkg-config "$@" --cflags --libs weft 2>&1) || {
    not_ok "$name: pkg-config --cflags --libs weft" "$flags"
    return 1
  }
  # shellcheck disable=SC2086 # the flags are words
  expect_exit -m "$name: embed_answer.c builds with \$(pkg-config --cflags --libs weft)" 0 \
    cc -o "$tmp/embed_answer" "$WEFT_SRC/tests/progs/embed_answer.c" $flags || return 1
  expect_exit -m "$name: its job of two C ops runs" 0 \
    env WEFT_HOME="$tmp/home-$name" "$tmp/embed_answer" launch double -l loc -c run.yaml
  check_has "$name: its ops compute 42 * 2" "b output result = 84" "$out"
}
PKG_CONFIG_PATH=$inst/lib/pkgconfig build_and_run "installed tree"
check_has "the program is linked with the installed libweft" "-L$inst/lib" "$(PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --libs weft)"

# -- the Debian packages ---------------------------------------------------------------
pkgs=$tmp/packages
run cpack -G DEB --config "$build/CPackConfig.cmake" -B "$pkgs"
check_rc "cpack -G DEB builds the packages" 0
deb=$pkgs/weft_${version}_amd64.deb dev=$pkgs/weft-dev_${version}_amd64.deb
check_eq "two packages: weft and weft-dev" "weft-dev_${version}_amd64.deb weft_${version}_amd64.deb" \
  "$(find "$pkgs" -maxdepth 1 -name '*.deb' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
depends=$(dpkg-deb -f "$deb" Depends 2>&1)
check_has "weft's Depends come from dpkg-shlibdeps (libc6 with a version)" "libc6 (>= " "$depends"
check_has "weft depends on the libraries it links (libsqlite3-0, libpq5, librabbitmq4)" "libpq5" "$depends"
check_has "the package holds weft and the SDKs" "./usr/share/weft/sdk/python/weft_op.py" \
  "$(dpkg-deb -c "$deb" | grep -E 'usr/bin/weft$|weft_op\.py$')"
check_has "weft-dev holds weft.pc" "/usr/lib/pkgconfig/weft.pc" "$(dpkg-deb -c "$dev")"

# Every Depends (one alternative of each) has a candidate in Debian 12's
# archive at a version that satisfies it: apt-get on a fresh Debian 12
# can install them (apt-cache reads the archive's index, no download).
unsat=
IFS=',' read -r -a deps <<<"$depends"
no_index=
case $(apt-cache policy libc6 2>/dev/null | sed -n 's/^ *Candidate: //p') in
"" | "(none)") no_index="apt has no package index here (apt-get update)" ;;
esac
for d in "${deps[@]}"; do
  found=
  IFS='|' read -r -a alts <<<"$d"
  for a in "${alts[@]}"; do
    p=$(sed -E 's/^ *([^ (]+).*/\1/' <<<"$a")
    rel=$(sed -nE 's/.*\(([<>=]+) *([^)]+)\).*/\1 \2/p' <<<"$a")
    cand=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    case $cand in "" | "(none)") continue ;; esac
    if [ -z "$rel" ]; then found=1; break; fi
    # shellcheck disable=SC2086
    set -- $rel
    op=$1 ver=$2
    case $op in ">=") op=ge ;; "<=") op=le ;; ">>") op=gt ;; "<<") op=lt ;; "=") op=eq ;; esac
    if dpkg --compare-versions "$cand" "$op" "$ver"; then found=1; break; fi
  done
  [ -n "$found" ] || unsat+=" [$d]"
done
if [ -n "$no_index" ]; then
  skip "$no_index"
else
  check_eq "each of weft's ${#deps[@]} Depends has a satisfying candidate in the archive" "" "$unsat"
fi

# dpkg -i into a fresh root: its database is a copy of this machine's
# (the packages it has, so Depends are checked), the files land under root/.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
expect_exit -m "dpkg -i weft and weft-dev into a fresh root" 0 \
  dpkg --root="$root" --force-script-chrootless --log=/dev/null -i "$deb" "$dev"
check_has "dpkg records weft as installed" "ii  weft " \
  "$(dpkg --root="$root" -l weft weft-dev 2>/dev/null)"
expect_output_contains -m "the packaged weft runs: --version" "weft $version (" "$root/usr/bin/weft" --version
check_eq "the packaged weft is stripped (no .debug_info, .symtab)" "0" \
  "$(readelf -S "$root/usr/bin/weft" 2>&1 | grep -cE '\.debug_info|\.symtab')"
cd "$root/usr/share/weft/examples" || exit 1
expect_exit -m "the packaged weft runs the packaged arithmetic example" 0 \
  env WEFT_HOME="$tmp/home-deb" "$root/usr/bin/weft" launch arithmetic -c arithmetic/run.yaml --quiet
cd "$tmp" || exit 1
if [ -n "$no_man" ]; then
  skip "$no_man"
else
  run man -l "$root/usr/share/man/man1/weft.1"
  check_has "the packaged man page renders" "WEFT(1)" "$out"
fi
# weft.pc says prefix=/usr: --define-prefix makes it the fresh root's /usr.
PKG_CONFIG_PATH=$root/usr/lib/pkgconfig build_and_run "weft-dev package" --define-prefix
expect_exit -m "dpkg -r removes both packages" 0 \
  dpkg --root="$root" --force-script-chrootless --log=/dev/null -r weft-dev weft
check_eq "nothing of weft is left in the root" "" \
  "$(find "$root/usr" -name 'weft*' -o -name 'libweft*' 2>/dev/null)"

test_done
