#!/usr/bin/env bash
# earwitness installer for Raspberry Pi OS Bookworm (64-bit), Debian and Ubuntu (Jetson).
#
#   sudo scripts/install.sh                 install or upgrade, enable and (re)start the service
#   sudo scripts/install.sh --uninstall     remove the app and the unit; keep config, state, user
#   sudo scripts/install.sh --uninstall --purge   also remove config, state and the user
#   scripts/install.sh --dry-run            print every action, change nothing
#   scripts/install.sh --destdir DIR        install into DIR instead of / (tests, staging a root fs)
#
# Run it from an unpacked earwitness package or a built checkout (it installs the directory it
# lives in, one level up). Running it again is safe: the config is never overwritten, the user is
# created once, the app is replaced as a whole.
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
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

say() { printf 'earwitness-install: %s\n' "$*"; }
warn() { printf 'earwitness-install: warning: %s\n' "$*" >&2; }
die() {
  printf 'earwitness-install: error: %s\n' "$*" >&2
  exit 1
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
      [ $# -ge 2 ] || die "--destdir needs a directory"
      DESTDIR=$2
      shift
      ;;
    --destdir=*) DESTDIR=${1#--destdir=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
if [ "$PURGE" = 1 ] && [ "$ACTION" != uninstall ]; then die "--purge only goes with --uninstall"; fi
if [ -n "$DESTDIR" ]; then
  case $DESTDIR in /*) ;; *) DESTDIR="$(pwd)/$DESTDIR" ;; esac
  DESTDIR=${DESTDIR%/}
  [ -n "$DESTDIR" ] || die "--destdir / is the real system: omit --destdir instead"
fi

readonly APP_DIR="$DESTDIR/opt/earwitness"
readonly ETC_DIR="$DESTDIR/etc/earwitness"
readonly CONFIG_FILE="$ETC_DIR/config.yaml"
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
  for item in models config systemd scripts package.json package-lock.json LICENSE NOTICE README.md; do
    if [ -e "$SRC_DIR/$item" ]; then run cp -R "$SRC_DIR/$item" "$stage/$item"; fi
  done
  # npm install, not npm ci: npm 11 rejects its own lock file in npm ci (npm/cli#4828).
  run_in "$stage" npm install --omit=dev --no-audit --no-fund
  if [ -d "$APP_DIR" ]; then
    run rm -rf "$APP_DIR.old"
    run mv "$APP_DIR" "$APP_DIR.old"
  fi
  run mv "$stage" "$APP_DIR"
  run rm -rf "$APP_DIR.old"
  install_launcher
}

install_config() {
  run mkdir -p "$ETC_DIR" "$KEYS_DIR"
  if [ -e "$CONFIG_FILE" ]; then
    say "keeping the existing $CONFIG_FILE"
  else
    run install -m 0640 "$SRC_DIR/config/earwitness.example.yaml" "$CONFIG_FILE"
    # root owns it, the service's group reads it (it may name MQTT credentials files).
    run chown "0:$(owner_of_user | cut -d: -f2)" "$CONFIG_FILE"
  fi
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
    run systemctl --root="$DESTDIR" enable earwitness.service
    say "--destdir: the running service manager is left alone (no daemon-reload, no start)"
    return
  fi
  run systemctl daemon-reload
  run systemctl enable earwitness.service
  if systemctl is-active --quiet earwitness.service; then
    run systemctl restart earwitness.service || die "earwitness did not restart; see: journalctl -u earwitness -n 50"
  else
    run systemctl start earwitness.service || die "earwitness did not start; see: journalctl -u earwitness -n 50"
  fi
}

do_install() {
  check_system
  check_node
  ensure_dist
  ensure_packages
  ensure_user
  install_app
  install_config
  install_state
  install_unit
  say "installed. Check it with: earwitness doctor   (logs: journalctl -u earwitness -f)"
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
