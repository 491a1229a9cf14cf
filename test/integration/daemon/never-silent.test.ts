/**
 * Issue #11 (and #12): the unit degrades, it never goes silent. The real daemon as a child
 * process, a real broker, the fake `arecord`, and real file-system faults: a full tmpfs, a
 * read-only tmpfs (mounted for the test; the test skips, loudly, where it cannot mount), a
 * damaged installed model, a GPIO line that does not exist, a recorder killed mid-alert.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sleep, waitFor, type Watcher } from "../mqtt/watcher.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { noise, startDaemon, writeWav, type ConfigOptions, type LogLine } from "./harness.js";
import { daemonWorld, type DaemonUnit } from "../world.js";

const requireCjs = createRequire(import.meta.url);

const mounts: string[] = [];
const world = daemonWorld("earwitness-never-silent", {
  bundle: true,
  afterEach: () => {
    for (const m of mounts.splice(0)) unmount(m);
  },
});
let loudWav: string;
let longLoudWav: string;

beforeAll(async () => {
  loudWav = await writeWav(path.join(world.root, "loud.wav"), noise(3, 0.0005, 1), noise(8, 0.3, 2), noise(14, 0.0005, 3));
  longLoudWav = await writeWav(path.join(world.root, "long-loud.wav"), noise(2, 0.0005, 1), noise(60, 0.3, 2));
});

function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "ignore" });
  } catch {
    /* already gone */
  }
}

/** A tmpfs of `sizeKb` on `dir`, or a reason why not (not root, no mount in this sandbox). */
function mountTmpfs(dir: string, sizeKb: number): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    return `cannot mount a tmpfs on ${dir}: ${(err as Error).message.split("\n")[0]}`;
  }
  mounts.push(dir);
  return null;
}

function skipLoudly(ctx: { skip: (note?: string) => void }, why: string): void {
  console.warn(`SKIPPED (needs root and mount): ${why}`);
  ctx.skip(why);
}

type Setup = DaemonUnit;
const setup = (name: string, opts: Partial<ConfigOptions> = {}): Promise<Setup> => world.unit(name, opts);
const watcher = (s: Setup): Promise<Watcher> => world.watch(s);

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const alertsOf = (w: Watcher, s: Setup) => w.on(s.topic("alert")).map((m) => json(m.text)).filter((a) => a.test === false);
const problemsOf = (w: Watcher, s: Setup) => w.on(s.topic("problem")).map((m) => json(m.text));
const activeProblem = (w: Watcher, s: Setup, code: string) => problemsOf(w, s).find((p) => p.code === code && p.active === true);

describe("never silent (issue #11)", () => {
  it("a full state directory: every alert event still reaches the broker, and outbox_failing is raised", async (ctx) => {
    const s = await setup("full", { detect: "{ cooldown_s: 300 }" });
    const why = mountTmpfs(s.stateDir, 64);
    if (why) return skipLoudly(ctx, why);
    // Fill it to the last byte, as a runaway log would.
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${path.join(s.stateDir, "filler")}`, "bs=4k"], { stdio: "ignore" });
    } catch {
      /* ENOSPC: the point */
    }
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    await waitFor(() => alertsOf(w, s).find((a) => a.event === "end"), "the alert end despite the full disk", 30_000);
    const alerts = alertsOf(w, s);
    expect(alerts.map((a) => a.event)).toEqual(["start", "end"]);
    expect(alerts[1]!.alert_id).toBe(alerts[0]!.alert_id);
    const p = await waitFor(() => activeProblem(w, s, "outbox_failing"), "the outbox_failing problem");
    expect(String(p.message)).toMatch(/ENOSPC|no space/i);
    expect(d.lines.some((l) => l.msg === "BUZZER on")).toBe(true);
    expect(d.alive()).toBe(true);
  });

  it("a read-only state directory at start: the daemon runs, alerts over MQTT and GPIO, outbox_failing raised", async (ctx) => {
    const s = await setup("readonly", { detect: "{ cooldown_s: 300 }" });
    const why = mountTmpfs(s.stateDir, 64);
    if (why) return skipLoudly(ctx, why);
    execFileSync("mount", ["-o", "remount,ro", s.stateDir]);
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    const p = await waitFor(() => activeProblem(w, s, "outbox_failing"), "the outbox_failing problem", 20_000);
    expect(String(p.message)).toMatch(/EROFS|read-only/i);
    await waitFor(() => alertsOf(w, s).find((a) => a.event === "end"), "the alert end without an outbox", 30_000);
    expect(alertsOf(w, s).map((a) => a.event)).toEqual(["start", "end"]);
    expect(d.lines.some((l) => l.msg === "LED on")).toBe(true);
    expect(d.alive()).toBe(true);
  });

  it("a recorder killed during an alert ends the alert at once (audio_lost), buzzer off", async () => {
    const s = await setup("mic-dies", { detect: "{ cooldown_s: 300, max_alert_s: 20 }" });
    const w = await watcher(s);
    const device = path.join(s.dir, "device-present");
    await writeFile(device, "");
    const recLog = path.join(s.dir, "recorder.log");
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: longLoudWav, FAKE_ARECORD_DEVICE_FILE: device, FAKE_ARECORD_LOG: recLog }, s.tmp);
    await waitFor(() => alertsOf(w, s).find((a) => a.event === "start"), "the alert start", 25_000);
    // The microphone is unplugged: the recorder dies and cannot come back.
    await rm(device);
    const { pid } = JSON.parse((await readFile(recLog, "utf8")).trim().split("\n").at(-1)!) as { pid: number };
    const killedAt = Date.now();
    process.kill(pid, "SIGKILL");
    const end = await waitFor(() => alertsOf(w, s).find((a) => a.event === "end"), "the alert end after the recorder died", 10_000);
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    expect(end.end_reason).toBe("audio_lost");
    await sleep(500);
    const buzzer = d.lines.filter((l) => /^BUZZER (on|off)$/.test(l.msg)).map((l) => l.msg);
    expect(buzzer.at(-1)).toBe("BUZZER off");
    expect(activeProblem(w, s, "mic_exited")).toBeDefined();
  });

  it("an alert open at SIGKILL is ended by the next start: end_reason interrupted, same alert_id", async () => {
    const s = await setup("interrupted", { detect: "{ cooldown_s: 300 }" });
    const w = await watcher(s);
    let d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: longLoudWav }, s.tmp);
    const start = await waitFor(() => alertsOf(w, s).find((a) => a.event === "start"), "the alert start", 25_000);
    await d.kill();
    const quiet = await writeWav(path.join(s.dir, "quiet.wav"), noise(10, 0.0005, 4));
    d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: quiet }, s.tmp);
    const end = await waitFor(() => alertsOf(w, s).find((a) => a.event === "end"), "the interrupted alert's end", 20_000);
    expect(end).toMatchObject({ alert_id: start.alert_id, end_reason: "interrupted" });
    expect(d.alive()).toBe(true);
  });

  it("a damaged installed model falls back to previous, raises model_fallback, and detects", async () => {
    const s = await setup("fallback", { modelDir: null, detect: "{ cooldown_s: 300 }" });
    const models = path.join(s.stateDir, "models");
    await mkdir(models, { recursive: true });
    await writeConstantBundle(path.join(models, "constant-angry@0.0.1"), { version: "0.0.1" });
    await writeConstantBundle(path.join(models, "constant-angry@0.0.2"), { version: "0.0.2" });
    await symlink("constant-angry@0.0.1", path.join(models, "previous"));
    await symlink("constant-angry@0.0.2", path.join(models, "current"));
    // Two bytes of the current model's weights change (a bad SD card block).
    const weights = path.join(models, "constant-angry@0.0.2", "weights.bin");
    const bytes = await readFile(weights);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0x01, bytes.length - 5);
    await writeFile(weights, bytes);
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    const p = await waitFor(() => activeProblem(w, s, "model_fallback"), "the model_fallback problem", 20_000);
    expect(String(p.message)).toMatch(/0\.0\.1/);
    expect(String(p.message)).toMatch(/CHECKSUM|sha256/i);
    const start = await waitFor(() => alertsOf(w, s).find((a) => a.event === "start"), "an alert from the fallback model", 25_000);
    expect(start.model).toMatchObject({ version: "0.0.1" });
    expect(d.alive()).toBe(true);
  });

  it("a microphone dead from boot is visible at once (mic_waiting), READY=1 is sent, and no WATCHDOG=1 without audio", async () => {
    // Default wait_for_device_s (60 s): the grace no longer hides the problem.
    const s = await setup("dead-mic", { audio: "{ source: arecord, device: default, restart_backoff_min_s: 0.5 }" });
    const sockPath = path.join(s.dir, "notify.sock");
    const messages: string[] = [];
    const dgram = requireCjs("unix-dgram") as {
      createSocket(type: "unix_dgram", onMessage: (buf: Buffer) => void): { bind(p: string): void; close(): void };
    };
    const server = dgram.createSocket("unix_dgram", (buf) => messages.push(...buf.toString("utf8").split("\n")));
    server.bind(sockPath);
    try {
      const w = await watcher(s);
      const startedAt = Date.now();
      const d = startDaemon(s.configPath, { FAKE_ARECORD_MODE: "missing-device", NOTIFY_SOCKET: sockPath, WATCHDOG_USEC: "2000000" }, s.tmp);
      const p = await waitFor(() => activeProblem(w, s, "mic_waiting"), "the mic_waiting problem", 15_000);
      expect(String(p.message)).toMatch(/not listening/);
      const ready = await waitFor(() => messages.includes("READY=1") && Date.now(), "READY=1", 15_000);
      // Seen within moments of the daemon being up, not after the 60 s grace.
      const online = w.on(s.topic("availability")).find((m) => m.text === "online");
      expect(online).toBeDefined();
      expect(ready - startedAt).toBeLessThan(15_000);
      const state = await waitFor(() => {
        const last = w.on(s.topic("state")).at(-1);
        const st = last ? json(last.text) : null;
        return st !== null && (st.problems as string[]).includes("mic_waiting") && st;
      }, "mic_waiting in the retained state");
      expect(state.problems).toContain("mic_waiting");
      await waitFor(() => messages.some((m) => m.startsWith("STATUS=") && m.includes("mic_waiting")), "STATUS= naming mic_waiting");
      // The watchdog is fed only by decided audio: systemd restarts a daemon that hears nothing
      // (WatchdogSec), and every start shows the problem again within a second or two.
      await sleep(3_000);
      expect(messages.filter((m) => m === "WATCHDOG=1")).toEqual([]);
      expect(d.alive()).toBe(true);
    } finally {
      server.close();
    }
  });

  it("GPIO configured on a machine without GPIO (#12): starts anyway, gpio_unavailable, alerts over MQTT", async () => {
    const s = await setup("no-gpio", { detect: "{ cooldown_s: 300 }" });
    // Replace the harness's console GPIO with a real line that cannot exist here.
    const text = (await readFile(s.configPath, "utf8")).replace("gpio: { driver: console }", "gpio: { driver: onoff, led: 17 }");
    await writeFile(s.configPath, text);
    if (execFileSync("sh", ["-c", "ls /sys/class/gpio 2>/dev/null | wc -l"]).toString().trim() !== "0") {
      console.warn("this machine has sysfs GPIO: the no-GPIO case is not what runs here");
    }
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    const p = await waitFor(() => activeProblem(w, s, "gpio_unavailable"), "the gpio_unavailable problem", 20_000);
    expect(String(p.message)).toMatch(/GPIO/);
    await waitFor(() => alertsOf(w, s).find((a) => a.event === "start"), "the alert over MQTT without GPIO", 25_000);
    expect(d.alive()).toBe(true);
  });
});

export type { LogLine };
