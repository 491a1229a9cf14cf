#!/usr/bin/env bash
# earwitness installer for Raspberry Pi OS Bookworm (64-bit), Debian and Ubuntu (Jetson).
#
#   sudo scripts/install.sh --mqtt-url mqtt://hub:1883 [--mqtt-user U --mqtt-password-file F]
#                           [--gpio-led 17 --gpio-buzzer 27 --gpio-button 22] [--device-id ID]
#                                           install or upgrade, enable and (re)start the service
#   sudo scripts/install.sh                 the same; on a terminal it asks for what it needs
#   sudo ./install.sh --from earwitness-VERSION-linux-ARCH.tar.gz [settings]
#                                           install a release package (npm run package): no
#                                           network, no compiler; checked against FILE.sha256
#   sudo scripts/install.sh --uninstall     remove the app and the unit; keep config, state, user
#   sudo scripts/install.sh --uninstall --purge   also config, state, the user, and the unit's
#                                           retained MQTT messages (Home Assistant entities)
#   scripts/install.sh --dry-run            print every action, change nothing
#   scripts/install.sh --destdir DIR        install into DIR instead of / (tests, staging a root fs)
#   --interactive                           ask for the settings even when stdin is not a terminal
#
# A new config is written from config/earwitness.example.yaml with these settings filled in
# (device_id defaults to the hostname and a hash of /etc/machine-id, unique per machine). The
# service is enabled and started only when `earwitness config check` passes: a unit without an
# output (no LED or buzzer, MQTT off) protects no one, so it is left stopped and the installer
# says how to finish. The installing user (SUDO_USER) joins the earwitness group, so
# `earwitness doctor` and `config check` work without sudo after the next login.
#
# Run it from an unpacked earwitness package or a built checkout (it installs the directory it
# lives in, one level up), or give it a release package with --from. Running it again is safe: the
# config is never overwritten, the user is created once, the app is replaced as a whole.
#
# A checkout gets its dependencies with `npm install --omit=dev` (network; a compiler for the
# native addons). A release package (earwitness-package.json at its top, written by
# scripts/package.mjs) brings them built for its arch, so nothing is downloaded or compiled:
# its arch must match `uname -m`, and its manifest says which native addons it holds (epoll for
# GPIO, unix-dgram for sd-notify); one it lacks, or one built for another Node ABI, is reported
# here with what will not work. apt-get (alsa-utils, sox) is tried and only warned about offline.
#
# Exit codes: 0 done, 1 failed (nothing or a consistent part changed), 64 usage error.
#
# --destdir DIR, precisely: every path written is prefixed with DIR (DIR/opt/earwitness,
# DIR/etc/earwitness, DIR/var/lib/earwitness, DIR/etc/systemd/system). The same tools are called
# as on a real install, but pointed at DIR so the running system is not touched: groupadd,
# useradd, usermod and userdel get `--root DIR` (users and groups land in DIR/etc/passwd and
# DIR/etc/group, which is also where their existence is checked: getent cannot look into DIR);
# chown uses the numeric ids from DIR/etc/passwd; `systemctl --root=DIR enable` only creates the
# enablement links in DIR, and daemon-reload / start / restart are skipped. apt-get still installs
# alsa-utils and sox on this machine (dependencies of whoever runs the app here). Root is not
# required with --destdir. CI runs it with fake tools first on PATH.
set -euo pipefail
umask 022 # the app must stay readable by the service user whatever root's umask is

readonly APP_USER=earwitness
readonly NODE_MIN_MAJOR=20
readonly PACKAGES=(alsa-utils sox)
readonly GROUPS_NEEDED=(audio gpio)

ACTION=install
PURGE=0
DRY_RUN=0
DESTDIR=""
INTERACTIVE=auto
DEVICE_ID=""
MQTT_URL=""
MQTT_USER=""
MQTT_PASSWORD_FILE=""
MQTT_PASSWORD=""
GPIO_LED=""
GPIO_BUZZER=""
GPIO_BUTTON=""
SETTINGS_GIVEN=0
RELOGIN_USER=""
FROM=""
UNPACK_DIR=""
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The release package's manifest (scripts/package.mjs).
readonly MANIFEST=earwitness-package.json

usage() {
  awk 'NR > 1 && /^# A new config/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

say() { printf 'earwitness-install: %s\n' "$*"; }
warn() { printf 'earwitness-install: warning: %s\n' "$*" >&2; }
die() {
  printf 'earwitness-install: error: %s\n' "$*" >&2
  exit 1
}
# Wrong flags or values: EX_USAGE (sysexits.h), so a wrapper can tell them from a failed install.
usage_error() {
  printf 'earwitness-install: error: %s\n' "$*" >&2
  printf 'usage: install.sh [--from FILE.tar.gz] [--dry-run] [--destdir DIR] [--interactive] [--device-id ID]\n' >&2
  printf '                  [--mqtt-url URL [--mqtt-user U [--mqtt-password-file F]]] [--gpio-led|--gpio-buzzer|--gpio-button PIN]\n' >&2
  printf '       install.sh --uninstall [--purge] [--dry-run] [--destdir DIR]      (--help explains each)\n' >&2
  exit 64
}

# Every change goes through run (or run_in): printed, and skipped with --dry-run.
run() {
  printf '+ %s\n' "$*"
  if [ "$DRY_RUN" = 1 ]; then return 0; fi
  "$@"
}
run_in() {
  local dir=$1
  shift
  printf '+ (cd %s && %s)\n' "$dir" "$*"
  if [ "$DRY_RUN" = 1 ]; then return 0; fi
  (cd "$dir" && "$@")
}

while [ $# -gt 0 ]; do
  case $1 in
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    --dry-run) DRY_RUN=1 ;;
    --destdir)
      [ $# -ge 2 ] || usage_error "--destdir needs a directory"
      DESTDIR=$2
      shift
      ;;
    --destdir=*) DESTDIR=${1#--destdir=} ;;
    --from)
      [ $# -ge 2 ] || usage_error "--from needs a package file (earwitness-VERSION-linux-ARCH.tar.gz)"
      FROM=$2
      shift
      ;;
    --from=*) FROM=${1#--from=} ;;
    --interactive) INTERACTIVE=1 ;;
    --device-id | --mqtt-url | --mqtt-user | --mqtt-password-file | --gpio-led | --gpio-buzzer | --gpio-button)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in
        --device-id) DEVICE_ID=$2 ;;
        --mqtt-url) MQTT_URL=$2 ;;
        --mqtt-user) MQTT_USER=$2 ;;
        --mqtt-password-file) MQTT_PASSWORD_FILE=$2 ;;
        --gpio-led) GPIO_LED=$2 ;;
        --gpio-buzzer) GPIO_BUZZER=$2 ;;
        --gpio-button) GPIO_BUTTON=$2 ;;
      esac
      SETTINGS_GIVEN=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done
if [ "$PURGE" = 1 ] && [ "$ACTION" != uninstall ]; then usage_error "--purge only goes with --uninstall"; fi
if [ -n "$FROM" ] && [ "$ACTION" != install ]; then usage_error "--from goes with an install, not --uninstall"; fi
if [ -n "$FROM" ] && [[ $FROM != *.tar.gz ]]; then usage_error "--from $FROM: expected a release package, earwitness-VERSION-linux-ARCH.tar.gz"; fi
if [ -n "$DESTDIR" ]; then
  case $DESTDIR in /*) ;; *) DESTDIR="$(pwd)/$DESTDIR" ;; esac
  DESTDIR=${DESTDIR%/}
  [ -n "$DESTDIR" ] || usage_error "--destdir / is the real system: omit --destdir instead"
fi

validate_settings() {
  if [ -n "$DEVICE_ID" ] && ! [[ $DEVICE_ID =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ ]]; then
    usage_error "--device-id '$DEVICE_ID': 1-64 letters, digits, '_' or '-', starting with a letter or digit"
  fi
  if [ -n "$MQTT_URL" ] && ! [[ $MQTT_URL =~ ^mqtts?://[^[:space:]\"\\/]+(/[^[:space:]\"\\]*)?$ ]]; then
    usage_error "--mqtt-url '$MQTT_URL': expected mqtt://host:1883 or mqtts://host:8883"
  fi
  if [ -n "$MQTT_USER" ] && ! [[ $MQTT_USER =~ ^[^[:space:]\"\\]+$ ]]; then usage_error "--mqtt-user: no spaces, quotes or backslashes"; fi
  if [ -n "$MQTT_USER" ] && [ -z "$MQTT_URL" ]; then usage_error "--mqtt-user needs --mqtt-url"; fi
  if [ -n "$MQTT_PASSWORD_FILE" ]; then
    [ -n "$MQTT_USER" ] || usage_error "--mqtt-password-file needs --mqtt-user"
    [ -r "$MQTT_PASSWORD_FILE" ] || die "--mqtt-password-file $MQTT_PASSWORD_FILE cannot be read"
  fi
  local pin name
  for name in GPIO_LED GPIO_BUZZER GPIO_BUTTON; do
    pin=${!name}
    if [ -n "$pin" ] && { ! [[ $pin =~ ^[0-9]+$ ]] || [ "$pin" -gt 27 ]; }; then
      usage_error "--$(echo "${name,,}" | tr _ -) '$pin': a BCM pin number 0-27"
    fi
  done
}
validate_settings

readonly APP_DIR="$DESTDIR/opt/earwitness"
readonly ETC_DIR="$DESTDIR/etc/earwitness"
readonly CONFIG_FILE="$ETC_DIR/config.yaml"
readonly PASSWORD_FILE="$ETC_DIR/mqtt-password"
# What the config names: the path on the target system, whatever DESTDIR is.
readonly PASSWORD_FILE_TARGET=/etc/earwitness/mqtt-password
readonly KEYS_DIR="$ETC_DIR/trusted-keys"
readonly STATE_DIR="$DESTDIR/var/lib/earwitness"
readonly UNIT_FILE="$DESTDIR/etc/systemd/system/earwitness.service"
# The command installers and maintainers type (earwitness doctor, model install, ...).
readonly LAUNCHER="$DESTDIR/usr/local/bin/earwitness"
ROOT_OPT=()
if [ -n "$DESTDIR" ]; then ROOT_OPT=(--root "$DESTDIR"); fi

# ─── users and groups (in DESTDIR's files with --destdir, else the system's) ──────────────────

group_exists() {
  if [ -n "$DESTDIR" ]; then
    grep -q "^$1:" "$DESTDIR/etc/group" 2>/dev/null
  else
    getent group "$1" >/dev/null
  fi
}
user_exists() {
  if [ -n "$DESTDIR" ]; then
    grep -q "^$1:" "$DESTDIR/etc/passwd" 2>/dev/null
  else
    getent passwd "$1" >/dev/null
  fi
}
user_in_group() { # user group
  if [ -n "$DESTDIR" ]; then
    grep "^$2:" "$DESTDIR/etc/group" 2>/dev/null | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"
  else
    id -nG "$1" | tr ' ' '\n' | grep -qx "$2"
  fi
}
# chown argument for the service user: names on the real system, numbers from DESTDIR/etc/passwd.
owner_of_user() {
  if [ -n "$DESTDIR" ] && user_exists "$APP_USER"; then
    awk -F: -v u="$APP_USER" '$1 == u { print $3 ":" $4 }' "$DESTDIR/etc/passwd"
  else
    echo "$APP_USER:$APP_USER"
  fi
}

ensure_user() {
  # A fresh staging tree has no account files yet; the shadow tools (--root DIR) need them.
  if [ -n "$DESTDIR" ] && [ ! -e "$DESTDIR/etc/group" ]; then
    run mkdir -p "$DESTDIR/etc"
    run touch "$DESTDIR/etc/passwd" "$DESTDIR/etc/group" "$DESTDIR/etc/shadow" "$DESTDIR/etc/gshadow"
    run chmod 0640 "$DESTDIR/etc/shadow" "$DESTDIR/etc/gshadow"
  fi
  local g
  for g in "${GROUPS_NEEDED[@]}"; do
    # The unit has SupplementaryGroups=audio gpio: systemd refuses to start (216/GROUP) if one is
    # missing, as gpio is on a Jetson or plain Debian.
    if ! group_exists "$g"; then run groupadd "${ROOT_OPT[@]}" --system "$g"; fi
  done
  if ! user_exists "$APP_USER"; then
    run useradd "${ROOT_OPT[@]}" --system --user-group --no-create-home --home-dir /var/lib/earwitness \
      --shell /usr/sbin/nologin --groups "$(
        IFS=,
        echo "${GROUPS_NEEDED[*]}"
      )" "$APP_USER"
  else
    for g in "${GROUPS_NEEDED[@]}"; do
      if ! user_in_group "$APP_USER" "$g"; then run usermod "${ROOT_OPT[@]}" --append --groups "$g" "$APP_USER"; fi
    done
  fi
}

# ─── checks ───────────────────────────────────────────────────────────────────────────────────

check_system() {
  if [ -r /etc/os-release ]; then
    local ids
    ids=" $(grep -E '^(ID|ID_LIKE)=' /etc/os-release | cut -d= -f2 | tr -d '"' | tr '\n' ' ') "
    case $ids in
      *" debian "* | *" ubuntu "* | *" raspbian "*) ;;
      *) warn "this installer is made for Debian, Raspberry Pi OS and Ubuntu; this system says:$ids" ;;
    esac
  fi
  if [ -z "$DESTDIR" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root (sudo $0 ...), or try --dry-run / --destdir DIR"
  fi
}

check_node() {
  NODE_BIN=$(command -v node) || die "Node.js >= $NODE_MIN_MAJOR is required and 'node' is not on PATH; install it (Debian Bookworm's own nodejs is 18: use the NodeSource packages) and run again"
  local version major
  version=$(node -p 'process.versions.node') || die "$NODE_BIN does not run"
  major=${version%%.*}
  if ! [[ $major =~ ^[0-9]+$ ]] || [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
    die "Node.js >= $NODE_MIN_MAJOR is required; $NODE_BIN is $version. Install a newer Node.js (NodeSource packages) and run again"
  fi
  case $NODE_BIN in
    /home/* | /root/*) warn "node is $NODE_BIN: the service runs with ProtectHome=yes and cannot see it; install Node.js system-wide (e.g. /usr/bin/node)" ;;
  esac
  say "Node.js $version ($NODE_BIN)"
}

package_installed() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
  else
    case $1 in
      alsa-utils) command -v arecord >/dev/null 2>&1 ;;
      *) command -v "$1" >/dev/null 2>&1 ;;
    esac
  fi
}

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if ! package_installed "$p"; then missing+=("$p"); fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "packages present: ${PACKAGES[*]}"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and there is no apt-get; install them with your package manager and run again"
  if [ -f "$SRC_DIR/$MANIFEST" ]; then
    # Offline is what a release package is for: the app installs; the microphone needs arecord.
    if ! { run apt-get update && run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }; then
      PACKAGE_WARNINGS+=("apt-get could not install ${missing[*]} (offline?): the microphone needs arecord (alsa-utils); later: sudo apt-get install ${missing[*]}")
      warn "${PACKAGE_WARNINGS[-1]}"
    fi
    return
  fi
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# dist/ is built on a development machine (npm install && npm run build); a production npm install --omit=dev has no
# TypeScript, and the package's `prepare` script then skips the build.
ensure_dist() {
  if [ -f "$SRC_DIR/dist/src/cli/main.js" ]; then return; fi
  if [ -x "$SRC_DIR/node_modules/.bin/tsc" ]; then
    say "dist/ is not built; building it with TypeScript"
    run "$SRC_DIR/node_modules/.bin/tsc" -p "$SRC_DIR/tsconfig.build.json"
    if [ "$DRY_RUN" = 0 ] && [ ! -f "$SRC_DIR/dist/src/cli/main.js" ]; then die "the build did not produce dist/src/cli/main.js"; fi
  else
    die "$SRC_DIR/dist/src/cli/main.js is missing and TypeScript is not installed here: run 'npm install && npm run build' in $SRC_DIR (or install from a release package, which includes dist/), then run this installer again"
  fi
}

# ─── release packages (--from FILE, or run from an unpacked one) ─────────────────────────────

machine_arch() {
  case $(uname -m) in
    aarch64 | arm64) echo arm64 ;;
    x86_64 | amd64) echo x64 ;;
    *) uname -m ;;
  esac
}

# A top-level string of the manifest, as scripts/package.mjs writes it (two-space JSON): read
# without Node, so a package for the wrong machine is refused before anything else.
manifest_field() { sed -n "s/^  \"$1\": \"\([^\"]*\)\",\{0,1\}\$/\1/p" "$SRC_DIR/$MANIFEST" | head -n1; }

# Checks FILE against FILE.sha256 when it is there, and unpacks it into a temporary directory
# (removed on exit) that becomes SRC_DIR. Nothing outside that directory changes, dry run or not.
unpack_package() {
  [ -f "$FROM" ] || die "--from $FROM: no such file"
  local sums="$FROM.sha256" expected actual top
  if [ -f "$sums" ]; then
    expected=$(awk 'NR == 1 { print $1 }' "$sums")
    actual=$(sha256sum "$FROM" | cut -d' ' -f1)
    [ "$expected" = "$actual" ] || die "$FROM does not match $sums (sha256 $actual, expected $expected): the copy is damaged or not the published file; copy it again"
    say "checksum verified ($sums)"
  else
    warn "no $sums beside the package: its checksum is NOT verified (copy the .sha256 file along with it)"
  fi
  UNPACK_DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/earwitness-unpack.XXXXXX")
  trap 'rm -rf "$UNPACK_DIR"' EXIT
  say "unpacking $FROM"
  tar -xzf "$FROM" -C "$UNPACK_DIR" --no-same-owner || die "$FROM could not be unpacked (not a .tar.gz, or damaged)"
  top=$(find "$UNPACK_DIR" -mindepth 1 -maxdepth 1)
  if [ "$(printf '%s\n' "$top" | wc -l)" != 1 ] || [ ! -f "$top/$MANIFEST" ]; then
    die "$FROM is not an earwitness release package (no $MANIFEST in one top directory); build one with: npm run package"
  fi
  SRC_DIR=$top
}

check_package_arch() {
  [ -f "$SRC_DIR/$MANIFEST" ] || return 0
  local arch machine
  arch=$(manifest_field arch)
  machine=$(machine_arch)
  [ "$arch" = "$machine" ] && return 0
  case $machine in
    armv6l | armv7l) die "this package is for linux-$arch; this system is 32-bit ($machine): earwitness needs a 64-bit OS (Raspberry Pi OS 64-bit is arm64)" ;;
  esac
  die "this package is for linux-${arch:-?}, this machine is $(uname -m): install earwitness-$(manifest_field version)-linux-$machine.tar.gz (npm run package -- --arch $machine)"
}

# What the package holds, from its manifest; a native addon it lacks, or one this Node cannot
# load, is said here and again at the end (PACKAGE_WARNINGS): GPIO without epoll fails at run time.
PACKAGE_WARNINGS=()
report_package() {
  [ -f "$SRC_DIR/$MANIFEST" ] || return 0
  local out kind a b c d e abi
  out=$("$NODE_BIN" -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const row = (...x) => console.log(x.map((v) => String(v).replace(/[\t\n]/g, " ")).join("\t"));
    row("package", m.name, m.version, m.arch, m.node.abi, m.node.built_with);
    for (const a of m.native_addons) row(a.included ? "addon" : "missing", a.package, a.version, a.role, a.included ? a.built : a.reason, "");
    row("node", process.versions.modules, process.versions.node, "", "", "");' "$SRC_DIR/$MANIFEST") ||
    die "$SRC_DIR/$MANIFEST cannot be read: the package is damaged"
  while IFS=$'\t' read -r kind a b c d e; do
    case $kind in
      package)
        say "release package $a $b for linux-$c, native addons for Node ABI $d (Node $e): nothing is downloaded or compiled"
        abi=$d
        ;;
      addon) say "native addon $a $b included: $d" ;;
      missing) PACKAGE_WARNINGS+=("native addon $a $b is NOT in this package ($d); without it: no $c") ;;
      node)
        if [ "$a" != "$abi" ]; then
          PACKAGE_WARNINGS+=("this Node.js $b has ABI $a; the package's native addons were built for ABI $abi and will not load (no GPIO; sd-notify falls back): install the Node.js major version the package was built with, or build the package with this one")
        fi
        ;;
    esac
  done <<<"$out"
  local w
  for w in "${PACKAGE_WARNINGS[@]}"; do warn "$w"; done
}

# ─── install ──────────────────────────────────────────────────────────────────────────────────

install_app() {
  local stage="$APP_DIR.new" item
  for item in config/earwitness.example.yaml systemd/earwitness.service package.json package-lock.json; do
    [ -f "$SRC_DIR/$item" ] || die "$SRC_DIR/$item is missing: this is not a complete earwitness package"
  done
  # Built and checked in a side directory, then swapped in whole: a failed npm install leaves the
  # installed version untouched.
  run rm -rf "$stage"
  run mkdir -p "$stage/dist"
  run cp -R "$SRC_DIR/dist/src" "$stage/dist/src"
  # demo/ too: `earwitness demo` is the first thing to try on a fresh unit (no microphone needed).
  for item in models config systemd scripts demo package.json package-lock.json LICENSE NOTICE README.md CHANGELOG.md; do
    if [ -e "$SRC_DIR/$item" ]; then run cp -R "$SRC_DIR/$item" "$stage/$item"; fi
  done
  if [ -f "$SRC_DIR/$MANIFEST" ]; then
    # A release package: its node_modules are built for this arch; no network, no compiler.
    [ -d "$SRC_DIR/node_modules" ] || die "$SRC_DIR has $MANIFEST but no node_modules: the package is damaged"
    run cp -R "$SRC_DIR/node_modules" "$SRC_DIR/$MANIFEST" "$stage/"
  else
    # npm install, not npm ci: npm 11 rejects its own lock file in npm ci (npm/cli#4828).
    run_in "$stage" npm install --omit=dev --no-audit --no-fund
  fi
  if [ -d "$APP_DIR" ]; then
    run rm -rf "$APP_DIR.old"
    run mv "$APP_DIR" "$APP_DIR.old"
  fi
  run mv "$stage" "$APP_DIR"
  run rm -rf "$APP_DIR.old"
  install_launcher
}

# ─── settings for a new config ────────────────────────────────────────────────────────────────

# The same as src/config/schema.ts defaultDeviceId: the hostname's host part made id-safe, and
# 6 hex digits of sha256("earwitness\n" + machine-id), so units from one image differ.
default_device_id() {
  local host mid="" suffix
  if [ -n "$DESTDIR" ] && [ -s "$DESTDIR/etc/hostname" ]; then host=$(head -n1 "$DESTDIR/etc/hostname"); else host=$(hostname); fi
  host=${host%%.*}
  host=$(printf '%s' "$host" | LC_ALL=C sed 's/[^A-Za-z0-9_-]/-/g; s/^[^A-Za-z0-9]*//' | cut -c1-64)
  [ -n "$host" ] || host=earwitness
  if [ -n "$DESTDIR" ]; then
    if [ -r "$DESTDIR/etc/machine-id" ]; then mid=$(tr -d '[:space:]' <"$DESTDIR/etc/machine-id"); fi
  elif [ -r /etc/machine-id ]; then
    mid=$(tr -d '[:space:]' </etc/machine-id)
  fi
  if [ -z "$mid" ]; then
    printf '%s' "$host"
    return
  fi
  suffix=$(printf 'earwitness\n%s' "$mid" | sha256sum | cut -c1-6)
  printf '%s-%s' "${host:0:57}" "$suffix"
}

ask() { # prompt default → REPLY
  local prompt=$1 default=$2
  if [ -n "$default" ]; then printf '%s [%s]: ' "$prompt" "$default" >&2; else printf '%s: ' "$prompt" >&2; fi
  IFS= read -r REPLY || REPLY=""
  [ -n "$REPLY" ] || REPLY=$default
}

# On a terminal (or --interactive), ask for what a new config needs; flags already given win.
ask_settings() {
  say "a new configuration: an alert must reach someone — an MQTT broker (Home Assistant), or an LED or buzzer on the GPIO pins"
  if [ -z "$DEVICE_ID" ]; then ask "device id (names this unit in MQTT and Home Assistant)" "$(default_device_id)"; DEVICE_ID=$REPLY; fi
  if [ -z "$MQTT_URL" ]; then ask "MQTT broker URL, e.g. mqtt://homeassistant.local:1883 (empty: no MQTT)" ""; MQTT_URL=$REPLY; fi
  if [ -n "$MQTT_URL" ] && [ -z "$MQTT_USER" ]; then ask "MQTT user (empty: anonymous)" ""; MQTT_USER=$REPLY; fi
  if [ -n "$MQTT_USER" ] && [ -z "$MQTT_PASSWORD_FILE" ]; then
    printf 'MQTT password (not shown): ' >&2
    IFS= read -r -s MQTT_PASSWORD || MQTT_PASSWORD=""
    printf '\n' >&2
  fi
  if [ -z "$GPIO_LED" ]; then ask "LED on BCM pin (e.g. 17; empty: none)" ""; GPIO_LED=$REPLY; fi
  if [ -z "$GPIO_BUZZER" ]; then ask "buzzer on BCM pin (e.g. 27; empty: none)" ""; GPIO_BUZZER=$REPLY; fi
  if [ -z "$GPIO_BUTTON" ]; then ask "acknowledge button on BCM pin (e.g. 22; empty: none)" ""; GPIO_BUTTON=$REPLY; fi
  validate_settings
}

# The example config with the settings filled in: only its placeholder lines change (device_id:
# null, gpio.<line>.pin: null, mqtt enabled/url/username/password_file), so every comment stays.
render_config() {
  awk -v dev="$DEVICE_ID" -v url="$MQTT_URL" -v user="$MQTT_USER" -v pwf="$1" \
    -v led="$GPIO_LED" -v buzzer="$GPIO_BUZZER" -v button="$GPIO_BUTTON" '
    /^[A-Za-z_]+:/ { section = $1; sub(/:.*/, "", section); line = "" }
    /^  [a-z_]+:/ { line = $1; sub(/:.*/, "", line) }
    section == "device_id" && /^device_id: null$/ && dev != "" { print "device_id: " dev; next }
    section == "gpio" && /^    pin: null$/ && line == "led" && led != "" { print "    pin: " led; next }
    section == "gpio" && /^    pin: null$/ && line == "buzzer" && buzzer != "" { print "    pin: " buzzer; next }
    section == "gpio" && /^    pin: null$/ && line == "button" && button != "" { print "    pin: " button; next }
    section == "mqtt" && /^  enabled: false$/ && url != "" { print "  enabled: true"; next }
    section == "mqtt" && /^  url: null$/ && url != "" { print "  url: \"" url "\""; next }
    section == "mqtt" && /^  username: null$/ && user != "" { print "  username: \"" user "\""; next }
    section == "mqtt" && /^  password_file: null$/ && pwf != "" { print "  password_file: " pwf; next }
    { print }' "$SRC_DIR/config/earwitness.example.yaml"
}

install_config() {
  run mkdir -p "$ETC_DIR" "$KEYS_DIR"
  local group
  group=$(owner_of_user | cut -d: -f2)
  if [ -e "$CONFIG_FILE" ]; then
    say "keeping the existing $CONFIG_FILE"
    if [ "$SETTINGS_GIVEN" = 1 ]; then warn "--device-id/--mqtt-*/--gpio-* apply to a new config only; edit $CONFIG_FILE instead"; fi
    return
  fi
  if [ "$INTERACTIVE" = 1 ] || { [ "$INTERACTIVE" = auto ] && [ "$SETTINGS_GIVEN" = 0 ] && [ "$DRY_RUN" = 0 ] && [ -t 0 ]; }; then ask_settings; fi
  [ -n "$DEVICE_ID" ] || DEVICE_ID=$(default_device_id)
  local pwf=""
  if [ -n "$MQTT_PASSWORD_FILE" ] || [ -n "$MQTT_PASSWORD" ]; then
    pwf=$PASSWORD_FILE_TARGET
    printf '+ install -m 0640 (the MQTT password) %s\n' "$PASSWORD_FILE"
    if [ "$DRY_RUN" = 0 ]; then
      (
        umask 077
        if [ -n "$MQTT_PASSWORD_FILE" ]; then cat "$MQTT_PASSWORD_FILE" >"$PASSWORD_FILE.tmp"; else printf '%s\n' "$MQTT_PASSWORD" >"$PASSWORD_FILE.tmp"; fi
      )
      chmod 0640 "$PASSWORD_FILE.tmp"
      mv "$PASSWORD_FILE.tmp" "$PASSWORD_FILE"
    fi
    run chown "0:$group" "$PASSWORD_FILE"
  fi
  printf '+ install -m 0640 %s %s (device_id %s%s%s%s)\n' "$SRC_DIR/config/earwitness.example.yaml" "$CONFIG_FILE" "$DEVICE_ID" \
    "${MQTT_URL:+, mqtt $MQTT_URL}" "${GPIO_LED:+, led $GPIO_LED}" "${GPIO_BUZZER:+, buzzer $GPIO_BUZZER}"
  if [ "$DRY_RUN" = 0 ]; then
    render_config "$pwf" >"$CONFIG_FILE.tmp"
    chmod 0640 "$CONFIG_FILE.tmp"
    mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
  fi
  # root owns it, the service's group reads it (it may name MQTT credentials files).
  run chown "0:$group" "$CONFIG_FILE"
}

# The person installing joins the earwitness group, so `earwitness doctor` and `config check`
# read the config and reach the status socket without sudo (from their next login).
add_installing_user() {
  local u=${SUDO_USER:-}
  if [ -z "$u" ] || [ "$u" = root ]; then return; fi
  if ! user_exists "$u"; then
    warn "SUDO_USER $u does not exist${DESTDIR:+ in $DESTDIR}; not adding it to the $APP_USER group"
    return
  fi
  if user_in_group "$u" "$APP_USER"; then return; fi
  run usermod "${ROOT_OPT[@]}" --append --groups "$APP_USER" "$u"
  RELOGIN_USER=$u
}

# `earwitness config check` of the installed app on the installed config: the service starts
# only on a configuration that passes (one with an output). Sets CONFIG_PROBLEM otherwise.
CONFIG_PROBLEM=""
config_ready() {
  if [ "$DRY_RUN" = 1 ]; then return 0; fi
  local out env_pw=()
  # Files the config names are at their target paths; in a staging tree they are under DESTDIR.
  # The password is handed over in the environment, which config check prefers to the file.
  if [ -n "$DESTDIR" ] && [ -r "$PASSWORD_FILE" ]; then env_pw=("EARWITNESS_MQTT_PASSWORD=$(head -n1 "$PASSWORD_FILE")"); fi
  if out=$(env "${env_pw[@]}" "$NODE_BIN" "$APP_DIR/dist/src/cli/main.js" config check "$CONFIG_FILE" 2>&1); then return 0; fi
  CONFIG_PROBLEM=$out
  return 1
}

not_started() {
  warn "the service is NOT $1: $CONFIG_FILE does not pass the check:"
  printf '%s\n' "$CONFIG_PROBLEM" | sed 's/^/    /' >&2
  warn "set an output (rerun with --mqtt-url URL or --gpio-led PIN on a fresh install, or edit the file), then: sudo earwitness config check && sudo systemctl enable --now earwitness"
}

install_state() {
  run mkdir -p "$STATE_DIR"
  run chown "$(owner_of_user)" "$STATE_DIR"
  run chmod 0750 "$STATE_DIR"
}

install_unit() {
  run mkdir -p "$(dirname "$UNIT_FILE")"
  # The unit says /usr/bin/node; point it at the node that was checked.
  printf '+ install -m 0644 %s %s (ExecStart with %s)\n' "$SRC_DIR/systemd/earwitness.service" "$UNIT_FILE" "$NODE_BIN"
  if [ "$DRY_RUN" = 0 ]; then
    sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" "$SRC_DIR/systemd/earwitness.service" >"$UNIT_FILE.tmp"
    chmod 0644 "$UNIT_FILE.tmp"
    mv "$UNIT_FILE.tmp" "$UNIT_FILE"
  fi
  if [ -n "$DESTDIR" ]; then
    if config_ready; then
      run systemctl --root="$DESTDIR" enable earwitness.service
    else
      not_started enabled
    fi
    say "--destdir: the running service manager is left alone (no daemon-reload, no start)"
    return
  fi
  run systemctl daemon-reload
  if [ "$DRY_RUN" = 1 ]; then
    # Not even `systemctl is-active`: a dry run asks the service manager nothing.
    printf '+ %s\n' "systemctl enable earwitness.service" "systemctl restart earwitness.service (start, if it is not running), if earwitness config check passes"
    return
  fi
  if ! config_ready; then
    # A daemon on this config would tell no one (and `run` refuses it): leave it stopped.
    if systemctl is-active --quiet earwitness.service; then run systemctl stop earwitness.service; fi
    not_started "started"
    return
  fi
  run systemctl enable earwitness.service
  if systemctl is-active --quiet earwitness.service; then
    run systemctl restart earwitness.service || die "earwitness did not restart; see: journalctl -u earwitness -n 50"
  else
    run systemctl start earwitness.service || die "earwitness did not start; see: journalctl -u earwitness -n 50"
  fi
}

do_install() {
  check_system
  if [ -n "$FROM" ]; then unpack_package; fi
  check_package_arch
  check_node
  report_package
  ensure_dist
  ensure_packages
  ensure_user
  add_installing_user
  install_app
  install_config
  install_state
  install_unit
  if [ -n "$RELOGIN_USER" ]; then
    say "$RELOGIN_USER joined the group $APP_USER: log out and in again (or run: newgrp $APP_USER) so earwitness doctor and config check work without sudo"
  fi
  local w
  for w in "${PACKAGE_WARNINGS[@]}"; do warn "$w"; done
  if [ -z "$CONFIG_PROBLEM" ]; then say "installed. Check it with: earwitness doctor   (logs: journalctl -u earwitness -f)"; else say "installed, not running: see the warning above"; fi
  if [ "$DRY_RUN" = 1 ]; then say "dry run: nothing was changed"; fi
}

# `earwitness` on PATH, running the installed app with the node found above.
install_launcher() {
  say "command: $LAUNCHER"
  if [ "$DRY_RUN" = 1 ]; then return 0; fi
  mkdir -p "$(dirname "$LAUNCHER")"
  printf '#!/bin/sh\n# Installed by earwitness scripts/install.sh\nexec %s /opt/earwitness/dist/src/cli/main.js "$@"\n' "$NODE_BIN" >"$LAUNCHER.tmp"
  chmod 0755 "$LAUNCHER.tmp"
  mv "$LAUNCHER.tmp" "$LAUNCHER"
}

# ─── uninstall ────────────────────────────────────────────────────────────────────────────────

do_uninstall() {
  check_system
  if [ -e "$UNIT_FILE" ]; then
    if [ -n "$DESTDIR" ]; then
      run systemctl --root="$DESTDIR" disable earwitness.service
    else
      run systemctl disable --now earwitness.service
    fi
  fi
  run rm -f "$UNIT_FILE"
  if [ -z "$DESTDIR" ]; then run systemctl daemon-reload; fi
  if [ "$PURGE" = 1 ] && [ -f "$APP_DIR/dist/src/cli/main.js" ] && [ -f "$CONFIG_FILE" ]; then
    # Home Assistant would keep the unit's entities for ever: clear its retained discovery,
    # state and last alert while the app and the config (with the broker) are still here.
    run "$(command -v node || echo node)" "$APP_DIR/dist/src/cli/main.js" mqtt forget --config "$CONFIG_FILE" ||
      warn "could not clear the unit's retained MQTT messages; later: earwitness mqtt forget --device-id ID (from another unit)"
  fi
  run rm -rf "$APP_DIR" "$APP_DIR.new" "$APP_DIR.old"
  if [ -f "$LAUNCHER" ] && grep -q "Installed by earwitness" "$LAUNCHER"; then run rm -f "$LAUNCHER"; fi
  if [ "$PURGE" = 1 ]; then
    run rm -rf "$ETC_DIR" "$STATE_DIR"
    if user_exists "$APP_USER"; then run userdel "${ROOT_OPT[@]}" "$APP_USER"; fi
    say "purged: config, state and the user $APP_USER are gone (the groups audio and gpio are left)"
  else
    say "removed the app and the unit; kept $CONFIG_FILE, $STATE_DIR and the user $APP_USER (--purge removes them)"
  fi
  if [ "$DRY_RUN" = 1 ]; then say "dry run: nothing was changed"; fi
}

if [ "$ACTION" = install ]; then do_install; else do_uninstall; fi
