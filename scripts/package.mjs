#!/usr/bin/env node
// `npm run package [-- --arch arm64|x64 ...] [--out DIR] [--strict]`: release tarballs that
// scripts/install.sh --from installs with no network and no compiler on the device.
//
//   release/earwitness-<version>-linux-<arch>.tar.gz         the app ("files" of package.json,
//                                                             package.json, the lock, README) with
//                                                             dist/ built and production node_modules
//   release/earwitness-<version>-linux-<arch>.tar.gz.sha256  `sha256sum -c` format
//   release/install.sh                                        the installer, to run beside them
//
// Inside, earwitness-package.json (the manifest) records the version, arch, Node ABI and, for
// each native addon, whether it is included and how it was built. The native addons (epoll under
// onoff for GPIO, unix-dgram for sd-notify) are nan/node-gyp builds with no prebuilt binaries, so
// each is compiled here for the target: natively for the host's arch, with Debian's cross
// compiler (g++-aarch64-linux-gnu) for the other. node-gyp needs the target Node's headers, which
// it would download from nodejs.org; we take them from the npm registry's node-linux-<arch>
// package of this Node's version (it ships include/node with the target's config.gypi), or this
// Node's own headers. Both addons are optional in the app (GPIO then fails with a problem raised,
// sd-notify falls back to systemd-notify), so an addon that cannot be built leaves the package
// usable: it is left out, the manifest says so with the reason, this script warns loudly (or
// fails, with --strict), and the installer repeats it on the device.
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, closeSync, rmSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ARCHES = ["arm64", "x64"];
/** GNU triplets of Debian's cross toolchains (g++-aarch64-linux-gnu, g++-x86-64-linux-gnu). */
const TRIPLET = { arm64: "aarch64-linux-gnu", x64: "x86_64-linux-gnu" };
/** ELF e_machine of each arch: what a built addon is checked against. */
const ELF_MACHINE = { 0x3e: "x64", 0xb7: "arm64" };
/** What each known native addon does for the app, for the manifest and the installer's report. */
const ADDON_ROLE = {
  epoll: "GPIO through onoff: the LED, buzzer and acknowledge button",
  "unix-dgram": "systemd notify and watchdog (without it the daemon falls back to systemd-notify)",
};
const MANIFEST = "earwitness-package.json";

function usage(message) {
  process.stderr.write(`package: ${message}\nusage: npm run package -- [--arch arm64|x64]... [--out DIR] [--strict]\n`);
  process.exit(64);
}

function parseArgs(argv) {
  const opts = { arches: [], out: path.join(ROOT, "release"), strict: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined || v === "") usage(`${a} needs a value`);
      return v;
    };
    if (a === "--arch" || a.startsWith("--arch=")) {
      const v = value();
      if (!ARCHES.includes(v)) usage(`--arch ${v}: one of ${ARCHES.join(", ")}`);
      opts.arches.push(v);
    } else if (a === "--out" || a.startsWith("--out=")) opts.out = path.resolve(value());
    else if (a === "--strict") opts.strict = true;
    else if (a === "-h" || a === "--help") {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 8).map((l) => l.replace(/^\/\/ ?/, "")).join("\n") + "\n");
      process.exit(0);
    } else usage(`unknown option '${a}'`);
  }
  if (opts.arches.length === 0) opts.arches = [...ARCHES];
  return opts;
}

const log = (line) => process.stderr.write(`package: ${line}\n`);
function loud(line) {
  const bar = "!".repeat(78);
  process.stderr.write(`${bar}\npackage: WARNING: ${line}\n${bar}\n`);
}

/** Runs a command, inheriting stderr; returns its stdout, or throws with its output. */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const err = new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
    err.output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    throw err;
  }
  return r.stdout ?? "";
}

const onPath = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;

function elfArch(file) {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(20);
    readSync(fd, head, 0, 20, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) return "not ELF";
    return ELF_MACHINE[head.readUInt16LE(18)] ?? `e_machine 0x${head.readUInt16LE(18).toString(16)}`;
  } finally {
    closeSync(fd);
  }
}

// ─── node headers ────────────────────────────────────────────────────────────────────────────

/** This Node's own headers (the Debian/NodeSource nodejs package puts them in /usr/include/node). */
function localNodeDir() {
  for (const dir of [path.resolve(path.dirname(process.execPath), ".."), process.env.npm_config_nodedir].filter(Boolean)) {
    if (existsSync(path.join(dir, "include/node/node.h"))) return dir;
  }
  return null;
}

/**
 * node-linux-<arch>@<this Node's version> from the npm registry, unpacked once into .cache/: its
 * include/node are the target's headers and bin/node is the target's Node (scripts/smoke-arm64.sh
 * runs it under qemu). Returns the unpacked directory, or null with the reason logged.
 */
function registryNode(arch, version = process.versions.node) {
  const dir = path.join(ROOT, ".cache", `node-linux-${arch}-${version}`);
  if (existsSync(path.join(dir, "include/node/node.h"))) return dir;
  const tmp = mkdtempSync(path.join(tmpdir(), "earwitness-node-"));
  try {
    const name = sh("npm", ["pack", `node-linux-${arch}@${version}`, "--silent"], { cwd: tmp }).trim().split("\n").pop();
    mkdirSync(dir, { recursive: true });
    sh("tar", ["-xzf", path.join(tmp, name), "-C", dir, "--strip-components=1"]);
    return dir;
  } catch (err) {
    log(`could not get node-linux-${arch}@${version} from the npm registry: ${err.message}`);
    rmSync(dir, { recursive: true, force: true });
    return null;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function headersFor(arch) {
  const local = localNodeDir();
  const localHeaders = local && { dir: local, how: `headers of this Node ${process.versions.node} (${local}/include/node, ${process.arch})` };
  // This machine's arch: its own headers, as a plain `npm install` would build with.
  if (localHeaders && arch === process.arch) return localHeaders;
  const fromRegistry = registryNode(arch);
  if (fromRegistry) return { dir: fromRegistry, how: `headers of node-linux-${arch}@${process.versions.node} (npm registry)` };
  // Node's and V8's headers of one version are the same for every arch but config.gypi, and
  // node-gyp's --arch overrides the target_arch it holds.
  return localHeaders;
}

// ─── native addons ───────────────────────────────────────────────────────────────────────────

/** Packages under node_modules with a binding.gyp: what node-gyp builds at install time. */
function findNativeAddons(nodeModules) {
  const found = [];
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      const pkgDir = path.join(dir, entry.name);
      if (entry.name.startsWith("@")) {
        visit(pkgDir);
        continue;
      }
      if (existsSync(path.join(pkgDir, "binding.gyp"))) {
        const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
        found.push({ name: pkg.name, version: pkg.version, dir: pkgDir });
      }
      if (existsSync(path.join(pkgDir, "node_modules"))) visit(path.join(pkgDir, "node_modules"));
    }
  };
  visit(nodeModules);
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

function nodeGypBin() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(path.join(path.dirname(process.env.npm_execpath), "../node_modules/node-gyp/bin/node-gyp.js"));
  try {
    candidates.push(path.join(sh("npm", ["root", "-g"]).trim(), "npm/node_modules/node-gyp/bin/node-gyp.js"));
  } catch {
    // no global npm root: only npm_execpath
  }
  return candidates.find((c) => existsSync(c)) ?? null;
}

/** Compiles one addon in place for `arch`; returns its manifest entry. */
function buildAddon(addon, arch, toolchain, headers, nodeGyp, appDir) {
  const entry = { package: addon.name, version: addon.version, role: ADDON_ROLE[addon.name] ?? "an optional native addon", path: path.relative(appDir, addon.dir) };
  const buildDir = path.join(addon.dir, "build");
  const missing = (reason) => {
    rmSync(buildDir, { recursive: true, force: true });
    return { ...entry, included: false, reason };
  };
  if (!toolchain.ok) return missing(toolchain.reason);
  if (!headers) return missing(`no Node.js ${process.versions.node} headers for ${arch}: neither node-linux-${arch} from the npm registry nor this Node's include/node`);
  if (!nodeGyp) return missing("node-gyp (bundled with npm) was not found");
  const env = { ...process.env, ...toolchain.env, V: "" };
  try {
    sh(process.execPath, [nodeGyp, "rebuild", `--arch=${arch}`, `--nodedir=${headers.dir}`, "--jobs=2"], { cwd: addon.dir, env });
  } catch (err) {
    const tail = (err.output ?? err.message).trim().split("\n").slice(-15).join("\n");
    log(`node-gyp rebuild of ${addon.name} for ${arch} failed:\n${tail}`);
    return missing(`node-gyp rebuild for ${arch} failed: ${tail.split("\n").pop()}`);
  }
  const release = path.join(buildDir, "Release");
  const binaries = readdirSync(release).filter((f) => f.endsWith(".node"));
  if (binaries.length === 0) return missing("node-gyp produced no .node file");
  for (const b of binaries) {
    const got = elfArch(path.join(release, b));
    if (got !== arch) return missing(`node-gyp produced ${b} for ${got}, not ${arch}`);
  }
  // Only the binaries: the object files and makefiles would double the addon's size.
  for (const f of readdirSync(buildDir)) if (f !== "Release") rmSync(path.join(buildDir, f), { recursive: true, force: true });
  for (const f of readdirSync(release)) if (!f.endsWith(".node")) rmSync(path.join(release, f), { recursive: true, force: true });
  return { ...entry, included: true, files: binaries.map((b) => path.relative(appDir, path.join(release, b))), built: `node-gyp rebuild --arch=${arch} with ${toolchain.how}, ${headers.how}` };
}

function toolchainFor(arch) {
  if (arch === process.arch) return { ok: true, env: {}, how: `this machine's compiler (${process.arch})` };
  const t = TRIPLET[arch];
  if (!onPath(`${t}-g++`)) {
    return { ok: false, reason: `no cross compiler for ${arch} on the build machine (${t}-g++; Debian: apt-get install g++-${t.replace(/_/g, "-")})` };
  }
  return { ok: true, env: { CC: `${t}-gcc`, CXX: `${t}-g++`, LINK: `${t}-g++`, AR: `${t}-ar` }, how: `${t}-g++ (cross)` };
}

// ─── staging ─────────────────────────────────────────────────────────────────────────────────

function gitCommit() {
  try {
    const commit = sh("git", ["rev-parse", "HEAD"], { cwd: ROOT }).trim();
    const dirty = sh("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT }).trim() !== "";
    const time = Number(sh("git", ["log", "-1", "--format=%ct"], { cwd: ROOT }).trim());
    return { commit, dirty, time };
  } catch {
    return { commit: null, dirty: null, time: Math.floor(Date.now() / 1000) };
  }
}

/** The app without node_modules: dist/ compiled fresh (no stale files), the "files" set, and what the installer needs. */
function stageApp(pkg, into) {
  log("compiling dist/ (tsc -p tsconfig.build.json)");
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  if (!existsSync(tsc)) throw new Error("TypeScript is not installed: run npm install first (the package is built on a development machine)");
  const built = path.join(into, ".build");
  sh(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json"), "--outDir", built], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  mkdirSync(path.join(into, "dist"), { recursive: true });
  cpSync(path.join(built, "src"), path.join(into, "dist/src"), { recursive: true });
  rmSync(built, { recursive: true, force: true });
  for (const item of [...pkg.files.filter((f) => !f.startsWith("dist")), "package.json", "package-lock.json", "README.md", "CHANGELOG.md"]) {
    if (existsSync(path.join(ROOT, item))) cpSync(path.join(ROOT, item), path.join(into, item), { recursive: true });
  }
}

/** Production node_modules, native addons not yet built (they are built per arch). */
function stageDependencies(into) {
  log("installing production dependencies (npm install --omit=dev --ignore-scripts)");
  mkdirSync(into, { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) copyFileSync(path.join(ROOT, f), path.join(into, f));
  // npm install, not npm ci: npm 11 rejects its own lock file in npm ci (npm/cli#4828).
  sh("npm", ["install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: into, stdio: ["ignore", "ignore", "inherit"] });
  return path.join(into, "node_modules");
}

/** Whether a package.json `cpu`/`os` list (["x64"], ["!win32"]) admits `value`, as npm decides. */
function admits(list, value) {
  if (!Array.isArray(list) || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((x) => !x.startsWith("!"));
  return positive.length === 0 || positive.includes(value);
}

/**
 * Removes packages made for another platform. npm installs the build machine's variant of
 * platform packages: meyda depends on @rollup/plugin-node-resolve, whose peer rollup brings
 * @rollup/rollup-linux-x64-gnu; nothing loads it at run time, and an x64 binary has no place in
 * an arm64 package.
 */
function removeOtherPlatforms(nodeModules, arch) {
  const removed = [];
  const visit = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      const dirs = entry.name.startsWith("@") ? readdirSync(path.join(dir, entry.name)).map((n) => path.join(dir, entry.name, n)) : [path.join(dir, entry.name)];
      for (const pkgDir of dirs) {
        const file = path.join(pkgDir, "package.json");
        if (!existsSync(file)) continue;
        const pkg = JSON.parse(readFileSync(file, "utf8"));
        if (!admits(pkg.cpu, arch) || !admits(pkg.os, "linux")) {
          rmSync(pkgDir, { recursive: true, force: true });
          removed.push(`${pkg.name}@${pkg.version}`);
        } else visit(path.join(pkgDir, "node_modules"));
      }
    }
  };
  visit(nodeModules);
  return removed;
}

async function sha256(file) {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest("hex");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const git = gitCommit();
  const work = mkdtempSync(path.join(tmpdir(), "earwitness-package-"));
  const problems = [];
  try {
    const app = path.join(work, "app");
    stageApp(pkg, app);
    const deps = stageDependencies(path.join(work, "deps"));
    const nodeGyp = nodeGypBin();
    mkdirSync(opts.out, { recursive: true });
    for (const arch of opts.arches) {
      const base = `${pkg.name}-${pkg.version}-linux-${arch}`;
      const dir = path.join(work, arch, base);
      log(`${base}: staging`);
      cpSync(app, dir, { recursive: true });
      cpSync(deps, path.join(dir, "node_modules"), { recursive: true, verbatimSymlinks: true });
      const foreign = removeOtherPlatforms(path.join(dir, "node_modules"), arch);
      if (foreign.length > 0) log(`${base}: left out packages for another platform: ${foreign.join(", ")}`);
      const toolchain = toolchainFor(arch);
      const headers = toolchain.ok ? headersFor(arch) : null;
      const addons = findNativeAddons(path.join(dir, "node_modules")).map((a) => {
        log(`${base}: building native addon ${a.name}@${a.version}`);
        return buildAddon(a, arch, toolchain, headers, nodeGyp, dir);
      });
      for (const a of addons.filter((x) => !x.included)) {
        const line = `${base}: native addon ${a.package} is NOT included: ${a.reason}. Without it: no ${a.role}.`;
        loud(line);
        problems.push(line);
      }
      const manifest = {
        name: pkg.name,
        version: pkg.version,
        platform: "linux",
        arch,
        node: { engines: pkg.engines?.node ?? null, built_with: process.versions.node, abi: process.versions.modules },
        git: { commit: git.commit, dirty: git.dirty },
        built_at: new Date(git.time * 1000).toISOString(),
        native_addons: addons,
      };
      writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
      const tarball = path.join(opts.out, `${base}.tar.gz`);
      log(`${base}: writing ${path.relative(process.cwd(), tarball)}`);
      // Sorted, with fixed owners and times: the same tree gives the same bytes.
      sh("sh", ["-c", `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${git.time} -C "$1" -cf - "$2" | gzip -n -6 >"$3"`, "sh", path.dirname(dir), base, tarball]);
      const sum = await sha256(tarball);
      writeFileSync(`${tarball}.sha256`, `${sum}  ${path.basename(tarball)}\n`);
      const mb = (statSync(tarball).size / 1e6).toFixed(1);
      log(`${base}: ${mb} MB, sha256 ${sum}; native addons: ${addons.map((a) => `${a.package} ${a.included ? "included" : "MISSING"}`).join(", ") || "none"}`);
      rmSync(path.join(work, arch), { recursive: true, force: true });
    }
    copyFileSync(path.join(ROOT, "scripts/install.sh"), path.join(opts.out, "install.sh"));
    log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${path.relative(process.cwd(), opts.out) || "."}/ (copy the tarball, its .sha256 and install.sh to the device)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (problems.length > 0 && opts.strict) {
    log(`--strict: ${problems.length} native addon(s) missing, failing`);
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`package: error: ${err.message}\n${err.output ?? ""}`);
  process.exit(1);
});
