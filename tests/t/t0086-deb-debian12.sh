#!/usr/bin/env bash
# t0086-deb-debian12: the .debs on a fresh Debian 12, for real: a copy of a
# minimal Debian 12 root made by debootstrap (WEFT_TEST_DEBIAN_ROOT, prepared
# once, see below), where `dpkg -i weft_*.deb` stops on the missing
# libraries as on any fresh machine, `apt-get -f install` fetches them from
# Debian's archive, and then `weft --version` and the packaged example run;
# weft-dev installs with gcc and a program with C ops builds with
# `pkg-config --cflags --libs weft` and runs; apt-get remove leaves nothing.
# Opt-in (it needs root for chroot and Debian's mirror for apt): skipped
# unless WEFT_TEST_DEBIAN_ROOT names the root, made once with
#   debootstrap --variant=minbase bookworm DIR http://deb.debian.org/debian
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

n_tests=14
plan $n_tests
pristine=${WEFT_TEST_DEBIAN_ROOT:-}
why=
if [ -z "$pristine" ]; then
  why="WEFT_TEST_DEBIAN_ROOT is not set (a debootstrap root of Debian 12: see this test's header)"
elif [ ! -f "$pristine/etc/debian_version" ]; then
  why="WEFT_TEST_DEBIAN_ROOT=$pristine is not a Debian root"
elif [ "$(id -u)" -ne 0 ]; then
  why="chroot needs root"
fi
if [ -n "$why" ]; then
  echo "# SKIPPING ALL: $why" >&2
  for _ in $(seq $n_tests); do skip "$why"; done
  test_done
fi
build=$(dirname "$WEFT_BIN")
version=$(sed -n 's/^#define WEFT_VERSION "\(.*\)"/\1/p' "$WEFT_SRC/include/weft.h")
root=$tmp/root
in_root() { DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }

run cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/packages"
check_rc "cpack -G DEB builds the packages" 0
# A copy, so the prepared root stays fresh for the next run.
cp -a "$pristine" "$root"
cp "$tmp/packages/weft_${version}_amd64.deb" "$tmp/packages/weft-dev_${version}_amd64.deb" "$root/tmp/"
check_eq "the root is a Debian 12 without weft" "12 absent" \
  "$(cut -d. -f1 "$root/etc/debian_version") $(in_root dpkg -s weft >/dev/null 2>&1 && echo present || echo absent)"

# The usual way on a fresh machine: dpkg -i, then apt-get -f install.
run in_root dpkg -i "/tmp/weft_${version}_amd64.deb"
check_has "dpkg -i alone stops on the libraries a fresh Debian lacks" "dependency problems" "$err"
run in_root apt-get update -q
check_rc "apt-get update (Debian's mirror)" 0
run in_root apt-get -f install -y -q
check_rc "apt-get -f install fetches weft's dependencies and configures it" 0
check_has "dpkg lists weft as installed" "ii  weft " "$(in_root dpkg -l weft 2>/dev/null)"
expect_output_contains -m "weft --version runs on the fresh Debian 12" "$("$WEFT_BIN" --version)" \
  in_root weft --version
run in_root sh -c 'cd /usr/share/weft/examples && WEFT_HOME=/tmp/home weft launch arithmetic -c arithmetic/run.yaml'
check_has "the packaged weft runs the packaged example there" "total output result = 17" "$out"
if [ -x "$root/usr/bin/weft" ] && [ -f "$root/usr/share/weft/sdk/python/weft_op.py" ]; then
  ok "the binary and the SDKs are where the package says"
else
  not_ok "the binary and the SDKs are where the package says"
fi

# weft-dev: its Depends bring every library's headers and .pc file.
cp "$WEFT_SRC/tests/progs/embed_answer.c" "$root/tmp/"
mkdir -p "$root/tmp/loc/ops" "$root/tmp/loc/jobs"
cat >"$root/tmp/loc/ops/ops.yaml" <<'YAML'
answer:
  outputs: {result: int}
  c_function: answer
twice:
  inputs: {x: int}
  outputs: {result: int}
  c_function: twice
YAML
printf 'ops:\n  a: answer\n  b: {uses: twice, inputs: {x: a}}\n' >"$root/tmp/loc/jobs/double.yaml"
printf 'execution: {in_process: {}}\n' >"$root/tmp/run.yaml"
run in_root apt-get install -y -q --no-install-recommends "/tmp/weft-dev_${version}_amd64.deb" gcc libc6-dev
check_rc "apt-get installs weft-dev with its Depends (and gcc)" 0
# shellcheck disable=SC2016 # expanded in the root
run in_root sh -c 'cd /tmp && cc -o embed_answer embed_answer.c $(pkg-config --cflags --libs weft)'
check_rc "a program with C ops builds there with \$(pkg-config --cflags --libs weft)" 0
run in_root sh -c 'cd /tmp && WEFT_HOME=/tmp/home2 ./embed_answer launch double -l loc -c run.yaml'
check_has "its job of two C ops runs: 42 * 2" "b output result = 84" "$out"
run in_root apt-get remove -y -q weft-dev weft
check_rc "apt-get remove weft-dev weft" 0
check_eq "nothing of weft is left" "" "$(find "$root/usr" -name 'weft*' -o -name 'libweft*' 2>/dev/null)"
test_done
