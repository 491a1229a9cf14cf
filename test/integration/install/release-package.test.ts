import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MACHINE_ARCH } from "./fake-package.js";
import { parseLog, writeFakeTools } from "./fake-system-tools.js";

/**
 * The real release packages (issue 13 §3): `npm run package` for x64 and arm64, the package of
 * this machine's arch installed by `install.sh --from` into a fake root (fake system tools, as in
 * install.test.ts) and run from there, and the arm64 package run under qemu-user by
 * scripts/smoke-arm64.sh, which says loudly, and this test skips, when qemu cannot be had.
 * Building both packages takes one to two minutes on CI's two cores; the arm64 smoke about one
 * more (the demo and replay emulated at ~14x the time).
 */
const REPO = path.resolve(import.meta.dirname, "../../..");
const VERSION = (JSON.parse(await readFile(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;

/**
 * A child process, without blocking: spawnSync for minutes starves vitest's worker RPC
 * ("Timeout calling onTaskUpdate").
 */
function runAsync(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let root: string;
let out: string;
let packaged: { status: number | null; stderr: string };
const tarball = (arch: string) => path.join(out, `earwitness-${VERSION}-linux-${arch}.tar.gz`);

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-release-test-"));
  out = path.join(root, "release");
  const t = Date.now();
  packaged = await runAsync(process.execPath, [path.join(REPO, "scripts/package.mjs"), "--arch", "x64", "--arch", "arm64", "--out", out], { cwd: REPO, timeoutMs: 600_000 });
  console.log(`[release-package] npm run package (x64, arm64): ${((Date.now() - t) / 1000).toFixed(0)} s`);
}, 660_000);
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe("npm run package", () => {
  it("writes a tarball, its checksum and a manifest per arch, and the installer beside them", async () => {
    expect(packaged.status, packaged.stderr).toBe(0);
    for (const arch of ["x64", "arm64"]) {
      const check = spawnSync("sha256sum", ["-c", `${path.basename(tarball(arch))}.sha256`], { cwd: out, encoding: "utf8" });
      expect(check.stdout, arch).toContain(": OK");
      const manifest = JSON.parse(spawnSync("tar", ["-xzOf", tarball(arch), `earwitness-${VERSION}-linux-${arch}/earwitness-package.json`], { encoding: "utf8" }).stdout) as {
        arch: string;
        version: string;
        node: { abi: string };
        native_addons: { package: string; included: boolean; reason?: string }[];
      };
      expect(manifest).toMatchObject({ arch, version: VERSION, node: { abi: process.versions.modules } });
      expect(manifest.native_addons.map((a) => a.package)).toEqual(["epoll", "unix-dgram"]);
      // This machine's arch always builds; another needs a cross compiler, and says so if absent.
      for (const a of manifest.native_addons) {
        if (arch === MACHINE_ARCH) expect(a.included, `${arch} ${a.package}`).toBe(true);
        else if (!a.included) console.warn(`[release-package] WARNING: the ${arch} package has no ${a.package}: ${a.reason}`);
      }
      // Build tools and the other platform's binaries stay out.
      const list = spawnSync("tar", ["-tzf", tarball(arch)], { encoding: "utf8", maxBuffer: 64 << 20 }).stdout;
      expect(list, arch).not.toMatch(/node_modules\/(typescript|vitest|eslint)\//);
      expect(list, arch).not.toContain(`-linux-${arch === "x64" ? "arm64" : "x64"}`);
      expect(list, arch).toContain("/dist/src/cli/main.js");
    }
    expect(spawnSync("bash", ["-n", path.join(out, "install.sh")]).status).toBe(0);
  });
});

describe(`install.sh --from the linux-${MACHINE_ARCH} package`, () => {
  it("installs it without npm, and the installed copy runs --version, loads its native addons and alerts in the demo", async () => {
    expect(packaged.status, packaged.stderr).toBe(0);
    const fakes = path.join(root, "fake-bin");
    await writeFakeTools(fakes);
    const dest = path.join(root, "dest");
    const log = path.join(root, "calls.log");
    await mkdir(path.join(dest, "etc"), { recursive: true });
    await mkdir(path.join(root, "state"), { recursive: true });
    await writeFile(log, "");
    const env = { PATH: [fakes, process.env.PATH ?? "/usr/bin:/bin"].join(path.delimiter), FAKE_LOG: log, FAKE_STATE: path.join(root, "state"), TMPDIR: root, HOME: root, LANG: "C" };
    const r = await runAsync("bash", [path.join(out, "install.sh"), "--from", tarball(MACHINE_ARCH), "--destdir", dest, "--mqtt-url", "mqtt://hub.local:1883"], { cwd: root, env, timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("checksum verified");
    expect(r.stdout).toContain("native addon epoll");
    expect(parseLog(await readFile(log, "utf8")).filter((c) => c.tool === "npm")).toEqual([]);

    const app = path.join(dest, "opt/earwitness");
    const run = (args: string[]) => runAsync(process.execPath, args, { cwd: app, timeoutMs: 60_000, env: { PATH: process.env.PATH ?? "", TMPDIR: root } });
    expect((await run(["dist/src/cli/main.js", "--version"])).stdout.trim()).toBe(`earwitness ${VERSION}`);
    const addons = await run(["-e", 'require("epoll"); require("unix-dgram"); console.log("loaded")']);
    expect(addons.stdout.trim(), addons.stderr).toBe("loaded");
    // The demo as an installer would first try it: the installed copy's own recording.
    const demo = await run(["dist/src/cli/main.js", "demo", "--speed", "4"]);
    expect(demo.status, demo.stdout + demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/LED on/);
    expect(demo.stdout).toMatch(/received: ALERT START {2}angry/);
    expect(demo.stdout).toMatch(/done: 1 alert received/);
  }, 180_000);
});

describe("the linux-arm64 package under qemu-user (scripts/smoke-arm64.sh)", () => {
  it("runs --version, loads its addons, alerts in the demo, and replays demo.wav to the same alerts as x64", async (ctx) => {
    expect(packaged.status, packaged.stderr).toBe(0);
    if (process.arch !== "x64") {
      console.warn(`[release-package] SKIPPED the arm64 smoke test: it emulates arm64 on x64, and this machine is ${process.arch}`);
      ctx.skip();
    }
    const t = Date.now();
    const r = await runAsync("bash", [path.join(REPO, "scripts/smoke-arm64.sh"), tarball("arm64")], { cwd: REPO, timeoutMs: 420_000, env: { ...process.env, TMPDIR: root } });
    console.log(`[release-package] arm64 smoke under qemu: ${((Date.now() - t) / 1000).toFixed(0)} s\n${r.stdout}${r.stderr}`);
    if (r.status === 77) {
      console.warn(`[release-package] SKIPPED the arm64 smoke test, qemu-user cannot be had here:\n${r.stderr}`);
      ctx.skip();
    }
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/smoke-arm64: passed/);
  }, 480_000);
});
