/**
 * Fake system tools for the installer test: each logs its name, working directory and arguments
 * to $FAKE_LOG (one line per call) and imitates just enough of the real tool, working only inside
 * the `--root` directory it is given or $FAKE_STATE, never on the real system.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

const LOG = `printf '%s\\t%s\\t%s\\n' "$(basename "$0")" "$PWD" "$*" >>"$FAKE_LOG"`;

/** `--root DIR` → $root ("" when absent); the remaining arguments stay in "$@". */
const ROOT = `root=""
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=$2; shift ;;
    --root=*) root=\${1#--root=} ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ -z "$root" ]; then echo "fake $(basename "$0"): refusing to touch the real system (no --root)" >&2; exit 9; fi
mkdir -p "$root/etc"; touch "$root/etc/group" "$root/etc/passwd"`;

const TOOLS: Record<string, string> = {
  "apt-get": `${LOG}
if [ "$1" = install ]; then for a in "$@"; do case $a in -*|install) ;; *) touch "$FAKE_STATE/pkg-$a" ;; esac; done; fi`,
  "dpkg-query": `${LOG}
pkg=\${!#}
if [ -e "$FAKE_STATE/pkg-$pkg" ]; then printf 'install ok installed'; else exit 1; fi`,
  npm: `${LOG}
if [ "$1" = install ]; then mkdir -p node_modules && echo fake >node_modules/.fake-npm-install; fi`,
  systemctl: `${LOG}
case " $* " in *" is-active "*) exit 3 ;; esac`,
  chown: LOG,
  getent: `${LOG}
exit 2`,
  id: `${LOG}
echo "fake id must not be needed with --destdir" >&2; exit 9`,
  groupadd: `${LOG}
${ROOT}
g=\${args[\${#args[@]}-1]}
n=$(( 900 + $(wc -l <"$root/etc/group") ))
echo "$g:x:$n:" >>"$root/etc/group"`,
  useradd: `${LOG}
${ROOT}
u=\${args[\${#args[@]}-1]}; groups=""
for ((i = 0; i < \${#args[@]}; i++)); do [ "\${args[$i]}" = --groups ] && groups=\${args[$((i + 1))]}; done
echo "$u:x:998:998::/var/lib/earwitness:/usr/sbin/nologin" >>"$root/etc/passwd"
echo "$u:x:998:" >>"$root/etc/group"
for g in \${groups//,/ }; do
  awk -F: -v OFS=: -v g="$g" -v u="$u" '$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' "$root/etc/group" >"$root/etc/group.tmp"
  mv "$root/etc/group.tmp" "$root/etc/group"
done`,
  usermod: `${LOG}
${ROOT}
u=\${args[\${#args[@]}-1]}; groups=""
for ((i = 0; i < \${#args[@]}; i++)); do [ "\${args[$i]}" = --groups ] && groups=\${args[$((i + 1))]}; done
for g in \${groups//,/ }; do
  awk -F: -v OFS=: -v g="$g" -v u="$u" '$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' "$root/etc/group" >"$root/etc/group.tmp"
  mv "$root/etc/group.tmp" "$root/etc/group"
done`,
  userdel: `${LOG}
${ROOT}
u=\${args[\${#args[@]}-1]}
sed -i "/^$u:/d" "$root/etc/passwd" "$root/etc/group"`,
};

/** Writes the fakes into `dir` (created). */
export async function writeFakeTools(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, body] of Object.entries(TOOLS)) {
    const file = path.join(dir, name);
    await writeFile(file, `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`);
    await chmod(file, 0o755);
  }
}

/** A `node` that claims to be `version` (for the version check). */
export async function writeFakeNode(dir: string, version: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, "node");
  await writeFile(file, `#!/usr/bin/env bash\necho ${version}\n`);
  await chmod(file, 0o755);
}

export interface LoggedCall {
  tool: string;
  cwd: string;
  args: string;
}

export function parseLog(text: string): LoggedCall[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [tool = "", cwd = "", args = ""] = l.split("\t");
      return { tool, cwd, args };
    });
}
