import { cp, mkdtemp, rm, chmod, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Levels } from "../../../src/audio/level-meter.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { shippedModelDir, shippedScreamModelDir } from "../../../src/assemble/paths.js";
import {
  checkConfig,
  checkGpio,
  checkLevels,
  checkMicrophone,
  checkModel,
  checkMqtt,
  checkNode,
  checkSystemd,
  doctorExitCode,
  formatDoctorTable,
  parseTimespanMs,
  runDoctor,
  type CheckResult,
  type CommandResult,
  type DoctorContext,
} from "../../../src/doctor/checks.js";
import { FakeClock } from "../../fakes/fake-clock.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { makeSysfsTree, PI4_CHIPS } from "../outputs/gpio/sysfs-tree.js";

function config(yaml = ""): Config {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

type Script = Record<string, Partial<CommandResult> | ((args: string[]) => Partial<CommandResult>)>;

/** A fake command runner: `script["systemctl is-active earwitness"]` answers that command. */
function runner(script: Script): DoctorContext["run"] {
  return async (cmd, args) => {
    const key = [cmd, ...args].join(" ");
    const entry = script[key] ?? script[cmd];
    if (entry === undefined) return { code: null, stdout: "", stderr: "", missing: true };
    const r = typeof entry === "function" ? entry(args) : entry;
    return { code: 0, stdout: "", stderr: "", missing: false, ...r };
  };
}

const LEVELS_OK: Levels = { samples: 32_000, rmsDbfs: -45, peakAbs: 0.2, peakDbfs: -14, clippedFraction: 0, dcOffset: 0.001 };

function ctx(over: Partial<DoctorContext> = {}): DoctorContext {
  return {
    config: config(),
    configPath: "/etc/earwitness/config.yaml",
    configIssues: [],
    run: runner({}),
    clock: new FakeClock(),
    nodeVersion: "v20.11.0",
    selectBackend: async () => "wasm",
    captureLevels: async () => LEVELS_OK,
    loadGpioDriver: async () => undefined,
    sysfsRoot: "/nonexistent",
    daemon: null,
    unit: "earwitness",
    ...over,
  };
}

const one = async (p: Promise<CheckResult | CheckResult[]>): Promise<CheckResult> => {
  const r = await p;
  return Array.isArray(r) ? r[0]! : r;
};

const sys = async (c: DoctorContext): Promise<CheckResult[]> => (await checkSystemd(c)) as CheckResult[];

const ARECORD_L = `**** List of CAPTURE Hardware Devices ****
card 1: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
`;

describe("doctor checks", () => {
  it("node: 20 passes, 18 fails", async () => {
    expect((await one(checkNode(ctx()))).status).toBe("pass");
    const r = await one(checkNode(ctx({ nodeVersion: "v18.19.0" })));
    expect(r).toMatchObject({ status: "fail" });
    expect(r.fix).toMatch(/Node.js 20/);
  });

  it("config: invalid fails with the issues, absent warns, valid passes; without any output it fails", async () => {
    const withOutput = config("gpio: { led: 17 }\n");
    expect(await one(checkConfig(ctx({ config: null, configIssues: ["detect.k must be <= detect.n"] })))).toMatchObject({ status: "fail", detail: expect.stringMatching(/detect.k/) });
    expect((await one(checkConfig(ctx({ configPath: null, config: withOutput })))).status).toBe("warn");
    expect((await one(checkConfig(ctx({ config: withOutput })))).status).toBe("pass");
    // The shipped example: MQTT off, every GPIO line null. It protects no one.
    const none = await one(checkConfig(ctx()));
    expect(none).toMatchObject({ status: "fail", detail: expect.stringMatching(/no output configured: set gpio\.\* or mqtt\.\*/) });
    expect((await one(checkConfig(ctx({ configPath: null })))).status).toBe("fail");
    expect((await one(checkConfig(ctx({ config: config("mqtt: { enabled: true, url: mqtt://hub:1883 }\n") })))).status).toBe("pass");
  });

  it("microphone: missing arecord names alsa-utils; no cards fails; a wrong card fails; a card passes", async () => {
    expect(await one(checkMicrophone(ctx({ run: runner({}) })))).toMatchObject({ status: "fail", fix: expect.stringMatching(/alsa-utils/) });
    expect((await one(checkMicrophone(ctx({ run: runner({ "arecord -l": { stdout: "" } }) })))).status).toBe("fail");
    const wrong = await one(checkMicrophone(ctx({ config: config("audio: { device: 'plughw:2,0' }"), run: runner({ "arecord -l": { stdout: ARECORD_L } }) })));
    expect(wrong).toMatchObject({ status: "fail", fix: expect.stringMatching(/plughw:1,0/) });
    const ok = await one(checkMicrophone(ctx({ config: config("audio: { device: 'plughw:1,0' }"), run: runner({ "arecord -l": { stdout: ARECORD_L } }) })));
    expect(ok).toMatchObject({ status: "pass", detail: expect.stringMatching(/USB PnP Sound Device/) });
  });

  it("input level: silence fails, clipping and DC warn, a normal level passes", async () => {
    const lv = (l: Partial<Levels>) => ctx({ captureLevels: async () => ({ ...LEVELS_OK, ...l }) });
    expect((await one(checkLevels(lv({ rmsDbfs: -120, peakAbs: 0, peakDbfs: -120 })))).status).toBe("fail");
    expect(await one(checkLevels(lv({ clippedFraction: 0.02 })))).toMatchObject({ status: "warn", detail: expect.stringMatching(/clipping/) });
    expect(await one(checkLevels(lv({ dcOffset: 0.2 })))).toMatchObject({ status: "warn", detail: expect.stringMatching(/DC/) });
    expect(await one(checkLevels(lv({})))).toMatchObject({ status: "pass", detail: expect.stringMatching(/RMS -45.0 dBFS/) });
    const noAudio = await one(checkLevels(ctx({ captureLevels: async () => Promise.reject(new Error("audio open error")) })));
    expect(noAudio).toMatchObject({ status: "fail", detail: expect.stringMatching(/audio open error/) });
  });

  it("systemd: absent warns, inactive fails, active with a fed watchdog passes, a stale one fails", async () => {
    expect((await sys(ctx()))).toEqual([expect.objectContaining({ name: "systemd", status: "warn" })]);
    const noBoot = runner({ systemctl: { code: 1, stderr: "System has not been booted with systemd as init system (PID 1). Can't operate." } });
    expect((await sys(ctx({ run: noBoot })))[0]!.status).toBe("warn");
    const inactive = await sys(ctx({ run: runner({ "systemctl is-active earwitness": { code: 3, stdout: "failed\n" } }) }));
    expect(inactive[0]).toMatchObject({ status: "fail", detail: "unit earwitness is failed", fix: expect.stringMatching(/journalctl/) });
    const clock = new FakeClock(Date.UTC(2025, 0, 1, 12));
    const active = (ts: string, usec = "30s") =>
      runner({
        "systemctl is-active earwitness": { stdout: "active\n" },
        "systemctl show -p WatchdogUSec -p WatchdogTimestamp --timestamp=unix earwitness": { stdout: `WatchdogUSec=${usec}\nWatchdogTimestamp=${ts}\n` },
      });
    const nowS = Date.UTC(2025, 0, 1, 12) / 1000;
    const fed = await sys(ctx({ clock, run: active(`@${nowS - 10}`) }));
    expect(fed.map((r) => [r.name, r.status])).toEqual([
      ["systemd", "pass"],
      ["watchdog", "pass"],
    ]);
    expect((await sys(ctx({ clock, run: active(`@${nowS - 120}`) })))[1]!.status).toBe("fail");
    expect((await sys(ctx({ clock, run: active("") })))[1]).toMatchObject({ status: "fail", detail: expect.stringMatching(/never fed/) });
    expect((await sys(ctx({ clock, run: active("", "0") })))[1]!.status).toBe("warn");
  });

  it("parses systemd timespans", () => {
    expect(parseTimespanMs("30s")).toBe(30_000);
    expect(parseTimespanMs("1min 30s")).toBe(90_000);
    expect(parseTimespanMs("500ms")).toBe(500);
    expect(parseTimespanMs("0")).toBe(0);
    expect(parseTimespanMs("infinity")).toBeNull();
  });

  it("mqtt off warns without connecting", async () => {
    expect((await one(checkMqtt(ctx()))).status).toBe("warn");
  });

  it("a check that throws fails alone; the exit code and the table say so", async () => {
    const boom = async (): Promise<CheckResult> => {
      throw new Error("kaboom");
    };
    const results = await runDoctor(ctx(), [checkNode, boom]);
    expect(results.map((r) => r.status)).toEqual(["pass", "fail"]);
    expect(doctorExitCode(results)).toBe(1);
    expect(doctorExitCode(results.slice(0, 1))).toBe(0);
    const table = formatDoctorTable(results);
    expect(table).toMatch(/node\s+PASS\s+Node.js v20.11.0/);
    expect(table).toMatch(/kaboom/);
    expect(table).toMatch(/1 passed, 0 warning\(s\), 1 failed/);
  });
});

describe("doctor GPIO check (fake sysfs tree)", () => {
  let tree: ReturnType<typeof makeSysfsTree>;
  beforeAll(() => {
    tree = makeSysfsTree(PI4_CHIPS);
  });
  afterAll(() => tree.cleanup());

  it("resolves each line, checks the files are writable, never toggles", async () => {
    const c = config("gpio: { driver: onoff, led: 17, buzzer: { pin: 27, active_low: true }, button: null }");
    const results = (await checkGpio(ctx({ config: c, sysfsRoot: tree.root }))) as CheckResult[];
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ["gpio led", "pass"],
      ["gpio buzzer", "pass"],
    ]);
    expect(results[0]!.detail).toMatch(/GPIO17 is sysfs gpio529.*not toggled/);
    // An already exported line (the running daemon's) is checked through its value file.
    await mkdir(path.join(tree.root, "gpio539"));
    await writeFile(path.join(tree.root, "gpio539", "value"), "0");
    const again = (await checkGpio(ctx({ config: c, sysfsRoot: tree.root }))) as CheckResult[];
    expect(again[1]!.detail).toMatch(/exported/);
  });

  it("fails when onoff is missing, and for a pin on a chip that does not exist", async () => {
    const c = config("gpio: { driver: onoff, led: { pin: { chip: nope, line: 3 } } }");
    const missing = await one(checkGpio(ctx({ config: c, sysfsRoot: tree.root, loadGpioDriver: () => Promise.reject(new Error("onoff could not be loaded")) })));
    expect(missing).toMatchObject({ status: "fail", detail: expect.stringMatching(/onoff/) });
    const bad = await one(checkGpio(ctx({ config: c, sysfsRoot: tree.root })));
    expect(bad).toMatchObject({ status: "fail", detail: expect.stringMatching(/no gpiochip labelled "nope"/) });
  });

  it("fails when the export file is not writable", async () => {
    if (process.getuid?.() === 0) return; // root writes anything
    const c = config("gpio: { driver: onoff, led: 5 }");
    await chmod(path.join(tree.root, "export"), 0o444);
    try {
      const r = await one(checkGpio(ctx({ config: c, sysfsRoot: tree.root })));
      expect(r).toMatchObject({ status: "fail", fix: expect.stringMatching(/gpio group/) });
    } finally {
      await chmod(path.join(tree.root, "export"), 0o644);
    }
  });
});

describe("doctor model check", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "ew-doctor-model-"));
    await writeConstantBundle(path.join(dir, "ok"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("passes for a good bundle and fails for a tampered one", async () => {
    // (the shipped scream model does not fit the constant bundle's features: its branch is off here)
    const good = await one(checkModel(ctx({ config: config(`model: { dir: ${path.join(dir, "ok")}, backend: cpu }\ndetect: { screams: { enabled: false } }`) })));
    expect(good).toMatchObject({ status: "pass", detail: expect.stringMatching(/constant-angry@0.0.1/) });
    await writeConstantBundle(path.join(dir, "bad"));
    await writeFile(path.join(dir, "bad", "weights.bin"), "tampered");
    const bad = await one(checkModel(ctx({ config: config(`model: { dir: ${path.join(dir, "bad")}, backend: cpu }\ndetect: { screams: { enabled: false } }`) })));
    expect(bad).toMatchObject({ status: "fail", detail: expect.stringMatching(/CHECKSUM_MISMATCH/) });
  });

  it("checks the scream branch's model as the daemon loads it: passes for the shipped pair, warns for a damaged one, fails for a wrong configured one", async () => {
    const on = await one(checkModel(ctx({ config: config("model: { backend: cpu }\ndetect:\n  screams:\n    enabled: true\n") })));
    expect(on).toMatchObject({ status: "pass", detail: expect.stringMatching(/earwitness-gru@.*; scream branch earwitness-screams@/) });
    const broken = path.join(dir, "broken-screams");
    await cp(shippedScreamModelDir(), broken, { recursive: true });
    await writeFile(path.join(broken, "model.json"), "{");
    const damaged = await one(checkModel(ctx({ config: config(`model: { backend: cpu }\ndetect:\n  screams: { enabled: true, model_dir: ${broken} }\n`) })));
    expect(damaged).toMatchObject({ status: "warn", detail: expect.stringMatching(/scream branch off: .*: the unit hears danger in speech only/) });
    const wrong = await one(checkModel(ctx({ config: config(`model: { backend: cpu }\ndetect:\n  screams: { enabled: true, model_dir: ${shippedModelDir()} }\n`) })));
    expect(wrong).toMatchObject({ status: "fail", detail: expect.stringMatching(/has no "scream" class/) });
  });
});
