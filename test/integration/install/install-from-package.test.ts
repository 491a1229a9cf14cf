import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { snapshotTree } from "../../fixtures/tree-snapshot.js";
import { makeRelease, OTHER_ARCH } from "./fake-package.js";
import { parseLog, writeFakeTools, type LoggedCall } from "./fake-system-tools.js";

/**
 * scripts/install.sh --from a release package (issue 13 §3), run for real against a destdir with
 * the fake system tools first on PATH, as in install.test.ts. The packages are small fakes laid
 * out as scripts/package.mjs lays them out (release-package.test.ts installs a real one).
 */
let root: string;
let fakes: string;
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-install-from-test-"));
  fakes = path.join(root, "fake-bin");
  await writeFakeTools(fakes);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dir: string;
let dest: string;
let logFile: string;
let pristine: string[];

beforeEach(async () => {
  dir = path.join(root, `case-${++n}`);
  dest = path.join(dir, "dest");
  logFile = path.join(dir, "calls.log");
  await mkdir(path.join(dest, "etc"), { recursive: true });
  await mkdir(path.join(dir, "state"), { recursive: true });
  await mkdir(path.join(dir, "tmp"), { recursive: true });
  await writeFile(path.join(dest, "etc/hostname"), "raspberrypi\n");
  pristine = await snapshotTree(dest);
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: LoggedCall[];
}

/** The installer of the package being installed is not needed: a checkout's install.sh does --from. */
const INSTALLER = path.resolve(import.meta.dirname, "../../../scripts/install.sh");

async function install(args: string[], extraPath: string[] = []): Promise<Run> {
  await writeFile(logFile, "");
  const r = spawnSync("bash", [INSTALLER, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    input: "",
    env: { PATH: [...extraPath, fakes, process.env.PATH ?? "/usr/bin:/bin"].join(path.delimiter), FAKE_LOG: logFile, FAKE_STATE: path.join(dir, "state"), TMPDIR: path.join(dir, "tmp"), HOME: root, LANG: "C" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: parseLog(await readFile(logFile, "utf8")) };
}

const calls = (r: Run, tool: string) => r.calls.filter((c) => c.tool === tool).map((c) => c.args);
const exists = (p: string) => stat(p).then(
  () => true,
  () => false,
);
const OUTPUTS = ["--mqtt-url", "mqtt://hub.local:1883", "--gpio-led", "17"];

describe("scripts/install.sh --from a release package", () => {
  it("installs the package's own node_modules with no npm at all, checked against its .sha256", async () => {
    const tarball = await makeRelease(dir);
    const r = await install(["--from", tarball, "--destdir", dest, ...OUTPUTS]);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(r, "npm")).toEqual([]);
    expect(r.stdout).toContain(`checksum verified (${tarball}.sha256)`);
    expect(r.stdout).toMatch(/release package earwitness 9\.9\.9 for linux-\w+, native addons for Node ABI \d+/);
    expect(r.stdout).toContain("native addon epoll 4.0.2 included: node-gyp rebuild");
    const app = path.join(dest, "opt/earwitness");
    expect(await exists(path.join(app, "node_modules/from-the-package/package.json"))).toBe(true);
    expect(JSON.parse(await readFile(path.join(app, "earwitness-package.json"), "utf8"))).toMatchObject({ version: "9.9.9" });
    expect(await exists(path.join(app, "dist/src/cli/main.js"))).toBe(true);
    expect(calls(r, "systemctl")).toEqual([`--root=${dest} enable earwitness.service`]);
    // The unpacked copy is gone.
    expect((await snapshotTree(path.join(dir, "tmp"))).filter((f) => f.includes("earwitness-unpack"))).toEqual([]);
  });

  it("installs without a .sha256, warning that the checksum is not verified", async () => {
    const tarball = await makeRelease(dir, { sha256: false });
    const r = await install(["--from", tarball, "--destdir", dest, ...OUTPUTS]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("checksum is NOT verified");
  });

  it("refuses a damaged package, one for another arch, and a file that is no package, changing nothing", async () => {
    const tarball = await makeRelease(dir);
    await writeFile(`${tarball}.sha256`, `${"0".repeat(64)}  ${path.basename(tarball)}\n`);
    const damaged = await install(["--from", tarball, "--destdir", dest]);
    expect(damaged.status).toBe(1);
    expect(damaged.stderr).toMatch(/does not match .*\.sha256 .*copy it again/);

    const other = await makeRelease(path.join(dir, "other"), { arch: OTHER_ARCH });
    const wrongArch = await install(["--from", other, "--destdir", dest]);
    expect(wrongArch.status).toBe(1);
    expect(wrongArch.stderr).toContain(`this package is for linux-${OTHER_ARCH}, this machine is`);

    const notPackage = path.join(dir, "not-a-package.tar.gz");
    spawnSync("tar", ["-czf", notPackage, "-C", dir, "state"]);
    const r = await install(["--from", notPackage, "--destdir", dest]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("is not an earwitness release package");

    expect((await install(["--from", path.join(dir, "missing.tar.gz"), "--destdir", dest])).stderr).toContain("no such file");
    expect(await snapshotTree(dest)).toEqual(pristine);
    for (const run of [damaged, wrongArch, r]) expect(run.calls.filter((c) => c.tool !== "getent")).toEqual([]);
  });

  it("says loudly, at the start and at the end, that a native addon is missing or built for another Node", async () => {
    const tarball = await makeRelease(dir, { addons: [{ package: "epoll", included: false }, { package: "unix-dgram", included: true }], abi: "1" });
    const r = await install(["--from", tarball, "--destdir", dest, ...OUTPUTS]);
    expect(r.status, r.stderr).toBe(0);
    const missing = "native addon epoll 4.0.2 is NOT in this package (no cross compiler (fake)); without it: no GPIO through onoff";
    expect(r.stderr.split(missing).length - 1).toBe(2);
    expect(r.stderr).toMatch(/built for ABI 1 and will not load/);
  });

  it("--dry-run never calls systemctl, not even to ask, with or without --destdir", async () => {
    // A systemctl first on PATH that fails the run (and leaves a mark) if it is called at all.
    const guard = path.join(dir, "guard-bin");
    await mkdir(guard);
    const mark = path.join(dir, "systemctl-was-called");
    await writeFile(path.join(guard, "systemctl"), `#!/bin/sh\necho "$*" >>${mark}\necho "systemctl called in a dry run: $*" >&2\nexit 97\n`);
    await chmod(path.join(guard, "systemctl"), 0o755);
    const tarball = await makeRelease(dir);
    const hadOpt = await exists("/opt/earwitness");

    const r = await install(["--from", tarball, "--dry-run", ...OUTPUTS], [guard]);
    expect(r.status, r.stderr).toBe(0);
    expect(await exists(mark)).toBe(false);
    expect(r.stdout).toContain("+ systemctl daemon-reload");
    expect(r.stdout).toContain("+ systemctl enable earwitness.service");
    expect(r.stdout).toMatch(/\+ cp -R \S+\/node_modules \S+\/earwitness-package\.json \/opt\/earwitness\.new\//);
    expect(r.stdout).toContain("dry run: nothing was changed");
    expect(calls(r, "npm")).toEqual([]);
    expect(await exists("/opt/earwitness")).toBe(hadOpt);

    const d = await install(["--from", tarball, "--dry-run", "--destdir", dest, ...OUTPUTS], [guard]);
    expect(d.status, d.stderr).toBe(0);
    expect(await exists(mark)).toBe(false);
    expect(await snapshotTree(dest)).toEqual(pristine);
    const u = await install(["--uninstall", "--purge", "--dry-run"], [guard]);
    expect(u.status, u.stderr).toBe(0);
    expect(await exists(mark)).toBe(false);
  });

  it("usage errors exit 64 with a usage line, before anything else", async () => {
    const tarball = await makeRelease(dir);
    for (const args of [["--from"], ["--frobnicate"], ["--from", tarball, "--uninstall"], ["--from", path.join(dir, "package.zip")], ["--destdir"], ["--gpio-led", "99"]]) {
      const r = await install([...args, "--destdir", dest].slice(0, args.includes("--destdir") ? args.length : undefined));
      expect(r.status, args.join(" ")).toBe(64);
      expect(r.stderr, args.join(" ")).toMatch(/^usage: install\.sh /m);
      expect(r.calls, args.join(" ")).toEqual([]);
    }
    expect(await snapshotTree(dest)).toEqual(pristine);
  });
});
