import { spawnSync } from "node:child_process";
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { configuredOutputs } from "../../../src/config/outputs.js";
import { defaultDeviceId } from "../../../src/config/schema.js";
import { DAEMON_NODE_FLAGS } from "../../../src/assemble/node-flags.js";
import { snapshotTree } from "../../fixtures/tree-snapshot.js";
import { makePackage } from "./fake-package.js";
import { parseLog, writeFakeNode, writeFakeTools, type LoggedCall } from "./fake-system-tools.js";

/**
 * scripts/install.sh run for real (bash, cp, install, sed) against a destdir, with fake
 * systemctl / useradd / groupadd / apt-get / npm / ... first on PATH. The script is copied into a
 * small fake package (the real example config and unit file, and a dist/ whose main.js logs its
 * call and runs the real CLI built by the global setup, so `config check` is the real one), so
 * the test needs no network.
 */

let root: string;
let fakes: string;
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-install-test-"));
  fakes = path.join(root, "fake-bin");
  await writeFakeTools(fakes);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let pkg: string;
let dest: string;
let state: string;
let logFile: string;
/** The target tree before the installer ran (only its hostname and machine id). */
let pristine: string[];

beforeEach(async () => {
  const t = path.join(root, `case-${++n}`);
  pkg = path.join(t, "pkg");
  dest = path.join(t, "dest");
  state = path.join(t, "fake-state");
  logFile = path.join(t, "calls.log");
  await makePackage(pkg, { dist: true });
  await mkdir(state, { recursive: true });
  // The target system's identity: every Pi image says raspberrypi; the machine id differs.
  await mkdir(path.join(dest, "etc"), { recursive: true });
  await writeFile(path.join(dest, "etc/hostname"), "raspberrypi\n");
  await writeFile(path.join(dest, "etc/machine-id"), `${MACHINE_ID}\n`);
  pristine = await snapshotTree(dest);
  await writeFile(logFile, "");
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: LoggedCall[];
}

async function install(args: string[], extraPath: string[] = [], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  await writeFile(logFile, "");
  const r = spawnSync("bash", [path.join(pkg, "scripts/install.sh"), ...args], {
    encoding: "utf8",
    timeout: 60_000,
    input: opts.input ?? "",
    env: { PATH: [...extraPath, fakes, process.env.PATH ?? "/usr/bin:/bin"].join(path.delimiter), FAKE_LOG: logFile, FAKE_STATE: state, HOME: root, LANG: "C", ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: parseLog(await readFile(logFile, "utf8")) };
}

const calls = (r: Run, tool: string) => r.calls.filter((c) => c.tool === tool).map((c) => c.args);
const exists = (p: string) => stat(p).then(
  () => true,
  () => false,
);
const MACHINE_ID = "4f1c0a9e2b7d4e8f9a6b3c2d1e0f9a8b";
const OUTPUTS = ["--mqtt-url", "mqtt://hub.local:1883", "--gpio-led", "17"];

function parseInstalled(text: string) {
  const r = parseConfig(text, { env: {}, hostname: "elsewhere" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

const MUTATING = ["apt-get", "useradd", "groupadd", "usermod", "userdel", "chown", "npm", "systemctl"];

describe("scripts/install.sh --destdir", () => {
  it("installs the tree, the user, the unit; a second run changes only what it must", async () => {
    const r = await install(["--destdir", dest, ...OUTPUTS]);
    expect(r.stderr).not.toContain("error");
    expect(r.status).toBe(0);

    // The app, built in a side directory and swapped in.
    const app = path.join(dest, "opt/earwitness");
    for (const f of ["dist/src/cli/main.js", "package.json", "package-lock.json", "LICENSE", "models/shipped/bundle.json", "scripts/install.sh", "config/earwitness.example.yaml", "systemd/earwitness.service", "node_modules/.fake-npm-install"]) {
      expect(await exists(path.join(app, f)), f).toBe(true);
    }
    expect(await exists(`${app}.new`)).toBe(false);
    expect(await exists(`${app}.old`)).toBe(false);
    expect(calls(r, "npm")).toEqual(["install --omit=dev --no-audit --no-fund"]);
    expect(r.calls.find((c) => c.tool === "npm")?.cwd).toBe(`${app}.new`);

    // Config from the example with the settings filled in, readable by the service's group only.
    const config = path.join(dest, "etc/earwitness/config.yaml");
    const example = await readFile(path.join(pkg, "config/earwitness.example.yaml"), "utf8");
    const written = await readFile(config, "utf8");
    const deviceId = defaultDeviceId("raspberrypi", MACHINE_ID);
    expect(deviceId).toMatch(/^raspberrypi-[0-9a-f]{6}$/);
    expect(parseInstalled(written)).toMatchObject({ device_id: deviceId, mqtt: { enabled: true, url: "mqtt://hub.local:1883" } });
    expect(configuredOutputs(parseInstalled(written))).toEqual(["gpio led GPIO17", "mqtt mqtt://hub.local:1883"]);
    // Only the placeholder lines changed: every comment of the example is still there.
    expect(written.split("\n").length).toBe(example.split("\n").length);
    expect(written.split("\n").filter((l, i) => l !== example.split("\n")[i])).toHaveLength(4);
    expect((await stat(config)).mode & 0o777).toBe(0o640);
    expect((await stat(path.join(dest, "etc/earwitness/trusted-keys"))).isDirectory()).toBe(true);
    expect((await stat(path.join(dest, "var/lib/earwitness"))).mode & 0o777).toBe(0o750);

    // Groups (gpio too: the unit's SupplementaryGroups needs it) and the user, inside the destdir.
    expect(calls(r, "groupadd")).toEqual([`--root ${dest} --system audio`, `--root ${dest} --system gpio`]);
    expect(calls(r, "useradd")).toEqual([
      `--root ${dest} --system --user-group --no-create-home --home-dir /var/lib/earwitness --shell /usr/sbin/nologin --groups audio,gpio earwitness`,
    ]);
    const group = await readFile(path.join(dest, "etc/group"), "utf8");
    expect(group).toMatch(/^audio:x:\d+:earwitness$/m);
    expect(group).toMatch(/^gpio:x:\d+:earwitness$/m);
    expect(calls(r, "chown")).toEqual([`0:998 ${dest}/etc/earwitness/config.yaml`, `998:998 ${dest}/var/lib/earwitness`]);
    expect(calls(r, "getent")).toEqual([]); // destdir: users are looked up in dest/etc, not on this machine

    // Packages, then the unit: enabled inside the destdir, never started.
    expect(calls(r, "apt-get")).toEqual(["update", "install -y --no-install-recommends alsa-utils sox"]);
    // Enabled because the installed config passes the real `earwitness config check`.
    expect(calls(r, "earwitness")).toEqual([`config check ${dest}/etc/earwitness/config.yaml`]);
    expect(calls(r, "systemctl")).toEqual([`--root=${dest} enable earwitness.service`]);
    const unit = await readFile(path.join(dest, "etc/systemd/system/earwitness.service"), "utf8");
    const nodeBin = spawnSync("bash", ["-c", "command -v node"], { encoding: "utf8" }).stdout.trim();
    // The node found here replaces /usr/bin/node; the daemon's node flags stay (src/assemble/node-flags.ts).
    expect(unit).toContain(`ExecStart=${[nodeBin, ...DAEMON_NODE_FLAGS].join(" ")} /opt/earwitness/dist/src/cli/main.js run --config /etc/earwitness/config.yaml`);
    expect(unit).toContain("SupplementaryGroups=audio gpio");

    // Second run: the edited config survives, no second user or group, no apt-get.
    await appendFile(config, "# edited by the installer of this unit\n");
    const edited = await readFile(config, "utf8");
    const r2 = await install(["--destdir", dest]);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toContain("keeping the existing");
    expect(calls(r2, "systemctl")).toEqual([`--root=${dest} enable earwitness.service`]);
    expect(await readFile(config, "utf8")).toBe(edited);
    expect(calls(r2, "useradd")).toEqual([]);
    expect(calls(r2, "groupadd")).toEqual([]);
    expect(calls(r2, "usermod")).toEqual([]);
    expect(calls(r2, "apt-get")).toEqual([]);
    expect((await readFile(path.join(dest, "etc/passwd"), "utf8")).match(/^earwitness:/gm)).toHaveLength(1);
    expect(calls(r2, "npm")).toEqual(["install --omit=dev --no-audit --no-fund"]);
    expect(await exists(path.join(app, "node_modules/.fake-npm-install"))).toBe(true);
    expect(await exists(`${app}.old`)).toBe(false);
  });

  it("--dry-run prints the actions and changes nothing, fresh or installed", async () => {
    const fresh = await snapshotTree(dest);
    const r = await install(["--destdir", dest, "--dry-run"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("+ useradd");
    expect(r.stdout).toContain("npm install --omit=dev");
    expect(r.stdout).toContain(`+ systemctl --root=${dest} enable earwitness.service`);
    expect(await snapshotTree(dest)).toEqual(fresh);
    expect(r.calls.filter((c) => MUTATING.includes(c.tool))).toEqual([]);

    expect((await install(["--destdir", dest, ...OUTPUTS])).status).toBe(0);
    const installed = await snapshotTree(dest);
    const r2 = await install(["--destdir", dest, "--dry-run"]);
    expect(r2.status).toBe(0);
    expect(await snapshotTree(dest)).toEqual(installed);
    expect(r2.calls.filter((c) => MUTATING.includes(c.tool))).toEqual([]);
    const r3 = await install(["--destdir", dest, "--uninstall", "--purge", "--dry-run"]);
    expect(r3.status).toBe(0);
    expect(r3.stdout).toContain("+ userdel");
    expect(await snapshotTree(dest)).toEqual(installed);
  });

  it("--uninstall keeps config, state and user; --purge removes them and forgets the unit on the broker", async () => {
    expect((await install(["--destdir", dest, ...OUTPUTS])).status).toBe(0);
    await writeFile(path.join(dest, "var/lib/earwitness/outbox.json"), "[]\n");
    const r = await install(["--destdir", dest, "--uninstall"]);
    expect(r.status).toBe(0);
    expect(await exists(path.join(dest, "opt/earwitness"))).toBe(false);
    expect(await exists(path.join(dest, "etc/systemd/system/earwitness.service"))).toBe(false);
    expect(calls(r, "systemctl")).toEqual([`--root=${dest} disable earwitness.service`]);
    expect(await exists(path.join(dest, "etc/earwitness/config.yaml"))).toBe(true);
    expect(await exists(path.join(dest, "var/lib/earwitness/outbox.json"))).toBe(true);
    expect(calls(r, "userdel")).toEqual([]);

    const again = await install(["--destdir", dest, "--uninstall"]);
    expect(again.status).toBe(0); // idempotent too
    expect(calls(again, "systemctl")).toEqual([]);

    // The app is gone after a plain uninstall, so a later purge cannot forget; purge first this time.
    expect((await install(["--destdir", dest, ...OUTPUTS])).status).toBe(0);
    const p = await install(["--destdir", dest, "--uninstall", "--purge"]);
    expect(p.status).toBe(0);
    // Before the app goes: its retained discovery would keep the entities in Home Assistant.
    expect(calls(p, "earwitness")).toEqual([`mqtt forget --config ${dest}/etc/earwitness/config.yaml`]);
    expect(await exists(path.join(dest, "etc/earwitness"))).toBe(false);
    expect(await exists(path.join(dest, "var/lib/earwitness"))).toBe(false);
    expect(calls(p, "userdel")).toEqual([`--root ${dest} earwitness`]);
    expect(await readFile(path.join(dest, "etc/passwd"), "utf8")).not.toContain("earwitness");
  });

  it("refuses Node older than 20, changing nothing", async () => {
    const oldNode = path.join(root, `old-node-${n}`);
    await writeFakeNode(oldNode, "18.19.0");
    const r = await install(["--destdir", dest], [oldNode]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Node.js >= 20 is required");
    expect(r.stderr).toContain("18.19.0");
    expect(await snapshotTree(dest)).toEqual(pristine);
    expect(r.calls.filter((c) => MUTATING.includes(c.tool))).toEqual([]);
  });

  it("refuses a package without dist/ when no compiler is there, saying how to build it", async () => {
    await rm(path.join(pkg, "dist"), { recursive: true });
    const r = await install(["--destdir", dest]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("npm run build");
    expect(await snapshotTree(dest)).toEqual(pristine);
  });

  it("builds dist/ first when TypeScript is there", async () => {
    await rm(path.join(pkg, "dist"), { recursive: true });
    await mkdir(path.join(pkg, "node_modules/.bin"), { recursive: true });
    const tsc = path.join(pkg, "node_modules/.bin/tsc");
    // A stand-in compiler: writes what the real build would, relative to the tsconfig given.
    await writeFile(tsc, `#!/usr/bin/env bash\nprintf 'tsc\\t%s\\t%s\\n' "$PWD" "$*" >>"$FAKE_LOG"\nd=$(dirname "$2")\nmkdir -p "$d/dist/src/cli" && echo built >"$d/dist/src/cli/main.js"\n`, { mode: 0o755 });
    const r = await install(["--destdir", dest]);
    expect(r.status).toBe(0);
    expect(calls(r, "tsc")).toEqual([`-p ${pkg}/tsconfig.build.json`]);
    expect(await readFile(path.join(dest, "opt/earwitness/dist/src/cli/main.js"), "utf8")).toBe("built\n");
  });

  it("rejects unknown options and --purge without --uninstall as usage errors (exit 64)", async () => {
    expect((await install(["--destdir", dest, "--frobnicate"])).status).toBe(64);
    expect((await install(["--destdir", dest, "--purge"])).status).toBe(64);
    expect(await snapshotTree(dest)).toEqual(pristine);
  });

  it("a fresh install without an output is installed but not enabled, and says why", async () => {
    const r = await install(["--destdir", dest]);
    expect(r.status).toBe(0);
    const config = parseInstalled(await readFile(path.join(dest, "etc/earwitness/config.yaml"), "utf8"));
    expect(config.device_id).toBe(defaultDeviceId("raspberrypi", MACHINE_ID));
    expect(configuredOutputs(config)).toEqual([]);
    expect(calls(r, "earwitness")).toEqual([`config check ${dest}/etc/earwitness/config.yaml`]);
    expect(calls(r, "systemctl")).toEqual([]);
    expect(r.stderr).toContain("the service is NOT enabled");
    expect(r.stderr).toContain("no output configured: set gpio.* or mqtt.*");
    expect(r.stderr).toMatch(/--mqtt-url URL or --gpio-led PIN/);
    expect(r.stdout).toContain("installed, not running");
  });

  it("--interactive asks for the device id, broker, credentials and pins, and writes the password apart", async () => {
    const answers = ["kitchen", "mqtts://hub.local:8883", "unit", "s3cret pass", "17", "27", ""].join("\n") + "\n";
    const r = await install(["--destdir", dest, "--interactive"], [], { input: answers });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`device id (names this unit in MQTT and Home Assistant) [${defaultDeviceId("raspberrypi", MACHINE_ID)}]`);
    const config = parseInstalled(await readFile(path.join(dest, "etc/earwitness/config.yaml"), "utf8"));
    expect(config).toMatchObject({
      device_id: "kitchen",
      mqtt: { enabled: true, url: "mqtts://hub.local:8883", username: "unit", password_file: "/etc/earwitness/mqtt-password" },
    });
    expect(config.gpio.button.pin).toBeNull();
    expect(configuredOutputs(config)).toEqual(["gpio led GPIO17", "gpio buzzer GPIO27", "mqtt mqtts://hub.local:8883"]);
    const pw = path.join(dest, "etc/earwitness/mqtt-password");
    expect(await readFile(pw, "utf8")).toBe("s3cret pass\n");
    expect((await stat(pw)).mode & 0o777).toBe(0o640);
    expect(calls(r, "chown")).toContain(`0:998 ${pw}`);
    expect(r.stdout).not.toContain("s3cret");
    expect(calls(r, "systemctl")).toEqual([`--root=${dest} enable earwitness.service`]);
  });

  it("adds the installing user (SUDO_USER) to the earwitness group once, and says to log in again", async () => {
    await writeFile(path.join(dest, "etc/passwd"), "pi:x:1000:1000::/home/pi:/bin/bash\n");
    const r = await install(["--destdir", dest, ...OUTPUTS], [], { env: { SUDO_USER: "pi" } });
    expect(r.status, r.stderr).toBe(0);
    expect(calls(r, "usermod")).toEqual([`--root ${dest} --append --groups earwitness pi`]);
    expect(await readFile(path.join(dest, "etc/group"), "utf8")).toMatch(/^earwitness:x:998:pi$/m);
    expect(r.stdout).toContain("pi joined the group earwitness: log out and in again");
    const again = await install(["--destdir", dest], [], { env: { SUDO_USER: "pi" } });
    expect(calls(again, "usermod")).toEqual([]);
    expect(again.stdout).not.toContain("log out and in again");
    const root = await install(["--destdir", dest], [], { env: { SUDO_USER: "root" } });
    expect(calls(root, "usermod")).toEqual([]);
  });

  it("refuses bad settings as usage errors (exit 64) before changing anything", async () => {
    for (const bad of [["--gpio-led", "40"], ["--mqtt-url", "http://hub"], ["--device-id", "my.unit"], ["--mqtt-user", "u"], ["--gpio-led"]]) {
      const r = await install(["--destdir", dest, ...bad]);
      expect(r.status, bad.join(" ")).toBe(64);
      expect(await snapshotTree(dest)).toEqual(pristine);
    }
  });
});
