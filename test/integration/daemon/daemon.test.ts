/**
 * The real daemon as a child process, a real broker (Mosquitto, or aedes when it is missing), the
 * fake `arecord` on PATH streaming generated WAVs. The model here is a real bundle that always
 * answers "angry" (test/fixtures/constant-bundle.ts), so loud audio means danger and these tests do
 * not depend on a trained model's scores; shipped-model.test.ts covers the shipped model.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sleep, waitFor, type Watcher } from "../mqtt/watcher.js";
import { listFiles, noise, startDaemon, writeWav, type LogLine } from "./harness.js";
import { daemonWorld, type DaemonUnit } from "../world.js";

const world = daemonWorld("earwitness-daemon-it", { bundle: true });
let loudWav: string;
let quietWav: string;

beforeAll(async () => {
  // 3 s quiet room, 8 s of loud "danger", then 14 s quiet (the alert ends in HOLD → COOLDOWN).
  loudWav = await writeWav(path.join(world.root, "loud.wav"), noise(3, 0.0005, 1), noise(8, 0.3, 2), noise(14, 0.0005, 3));
  quietWav = await writeWav(path.join(world.root, "quiet.wav"), noise(10, 0.0005, 4));
});

type Setup = DaemonUnit;
const setup = (name: string, opts: { detect?: string; audio?: string; telemetryS?: number } = {}): Promise<Setup> => world.unit(name, opts);
const watcher = (s: Setup): Promise<Watcher> => world.watch(s);

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const alertsOf = (w: Watcher, s: Setup) => w.on(s.topic("alert")).map((m) => json(m.text));
const isAlertLog = (phase: string) => (l: LogLine) => l.msg === "alert event handed to every output" && l.phase === phase && l.test === false;

describe("earwitness run (integration)", () => {
  it("a loud passage gives exactly one alert with the full payload, LED and buzzer, and no audio anywhere", async () => {
    const s = await setup("loud", { detect: "{ cooldown_s: 300 }", telemetryS: 1 });
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    await waitFor(() => alertsOf(w, s).find((a) => a.event === "end"), "the alert end", 25_000);
    await sleep(500);
    const alerts = alertsOf(w, s);
    expect(alerts.map((a) => a.event)).toEqual(["start", "end"]);
    const start = alerts[0]!;
    expect(start).toMatchObject({
      schema: 1,
      event_type: "alert_start",
      device_id: "loud",
      emotion: "angry",
      test: false,
      model: { name: "constant-angry", version: "0.0.1" },
    });
    expect(start.alert_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(alerts[1]!.alert_id).toBe(start.alert_id);
    // The peak of the smoothed score so far (ema 6 by default: still rising at the alert's start).
    expect(start.peak as number).toBeGreaterThanOrEqual((start.thresholds as { enter_threshold: number }).enter_threshold);
    expect(start.peak as number).toBeLessThanOrEqual(1);
    expect(Object.keys(start.probs as object).sort()).toEqual(["angry", "fear", "neutral"]);
    expect((start.model as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(start.thresholds).toMatchObject({ enter_threshold: 0.75, exit_threshold: 0.55, k: 2, n: 3 });
    expect(typeof start.dbfs).toBe("number");
    expect(alerts[1]!.duration_s as number).toBeGreaterThan(1);
    // The console stand-in for GPIO switched the LED and buzzer on.
    expect(d.lines.some((l) => l.msg === "LED on")).toBe(true);
    expect(d.lines.some((l) => l.msg === "BUZZER on")).toBe(true);
    expect(w.on(s.topic("telemetry")).length).toBeGreaterThan(0);
    await d.kill();

    // Privacy: nothing audio-like on disk, nothing sample-like on the wire.
    const files = [...(await listFiles(s.stateDir)), ...(await listFiles(s.tmp))];
    expect(files.filter((f) => /\.(wav|raw|pcm|s16|flac|ogg|mp3)$/i.test(f.file))).toEqual([]);
    for (const f of files) expect(f.size).toBeLessThan(64 * 1024);
    for (const m of w.seen) {
      expect(m.text.length).toBeLessThan(4096);
      const longArrays = m.text.match(/\[(?:[^[\]]*,){64,}[^[\]]*\]/g);
      expect(longArrays).toBeNull();
    }
  });

  it("quiet audio gives no alert", async () => {
    const s = await setup("quiet");
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: quietWav }, s.tmp);
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready");
    await sleep(6_000);
    expect(alertsOf(w, s)).toEqual([]);
    // (The LED may blink its heartbeat; the buzzer never sounds without an alert.)
    expect(d.lines.some((l) => l.msg === "BUZZER on")).toBe(false);
  });

  it("broker down during an alert: the alert arrives once, with its original id, after the broker returns", async () => {
    const s = await setup("outage", { detect: "{ cooldown_s: 300, min_duration_s: 3 }" });
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    await waitFor(() => w.on(s.topic("state")).some((m) => json(m.text).state === "SUSPECT"), "SUSPECT state", 20_000);
    await world.broker.pause();
    const started = await d.waitLog(isAlertLog("start"), "the alert while the broker is down");
    const id = started.alertId as string;
    await sleep(1_000);
    await world.broker.resume();
    await waitFor(() => alertsOf(w, s).find((a) => a.alert_id === id && a.event === "end"), "the alert after the broker returned", 25_000);
    await sleep(1_000);
    const mine = alertsOf(w, s);
    expect(mine.filter((a) => a.event === "start").map((a) => a.alert_id)).toEqual([id]);
    expect(mine.filter((a) => a.event === "end").map((a) => a.alert_id)).toEqual([id]);
    expect(d.alive()).toBe(true);
  });

  it("an alert stored before SIGKILL is delivered after the restart", async () => {
    const s = await setup("sigkill", { detect: "{ cooldown_s: 300 }" });
    await world.broker.pause();
    let d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: loudWav }, s.tmp);
    let id: string;
    try {
      const stored = await d.waitLog(isAlertLog("start"), "the stored alert", 25_000);
      id = stored.alertId as string;
      await d.kill();
    } finally {
      await world.broker.resume();
    }
    const w = await watcher(s);
    d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: quietWav }, s.tmp);
    const got = await waitFor(() => alertsOf(w, s).find((a) => a.alert_id === id), "the stored alert after restart", 20_000);
    expect(got).toMatchObject({ event: "start", device_id: "sigkill", test: false });
  });

  it("a recorder that dies is restarted and the problem is published, then cleared", async () => {
    const s = await setup("recorder");
    const w = await watcher(s);
    const log = path.join(s.dir, "recorder.log");
    const d = startDaemon(
      s.configPath,
      { FAKE_ARECORD_WAV: quietWav, FAKE_ARECORD_MODE: "exit-after:1500", FAKE_ARECORD_FAIL_RUNS: "1", FAKE_ARECORD_LOG: log },
      s.tmp,
    );
    const problem = await waitFor(
      () => w.on(s.topic("problem")).map((m) => json(m.text)).find((p) => p.code === "mic_exited" && p.active === true),
      "the mic_exited problem",
    );
    expect(problem.message).toMatch(/restarting/);
    await waitFor(
      () => w.on(s.topic("problem")).map((m) => json(m.text)).find((p) => p.code === "mic_exited" && p.active === false),
      "the problem cleared after the restart",
      20_000,
    );
    const starts = (await readFile(log, "utf8")).trim().split("\n");
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(d.alive()).toBe(true);
  });

  it("SIGHUP with a broken config keeps the old one running and publishes the problem; malformed commands are answered", async () => {
    const s = await setup("reload");
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: quietWav }, s.tmp);
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready");
    await waitFor(() => w.on(s.topic("availability")).some((m) => m.text === "online"), "online");

    for (const bad of ["garbage", '{"command":"explode","id":"b2"}', '{"command":"mute","minutes":0}']) {
      await w.client.publishAsync(s.topic("set"), bad, { qos: 1 });
    }
    await waitFor(() => w.on(s.topic("set/result")).length >= 3, "three answers");
    const answers = w.on(s.topic("set/result")).map((m) => json(m.text));
    expect(answers.map((a) => a.ok)).toEqual([false, false, false]);
    expect(answers[1]).toMatchObject({ id: "b2" });
    expect(String(answers[1]!.error)).toMatch(/unknown command/);

    await writeFile(s.configPath, "detect: { k: 9, n: 2 }\nbogus: 1\n");
    d.child.kill("SIGHUP");
    const p = await waitFor(
      () => w.on(s.topic("problem")).map((m) => json(m.text)).find((x) => x.code === "reload_failed" && x.active === true),
      "the reload_failed problem",
    );
    expect(String(p.message)).toMatch(/old configuration keeps running/);
    expect(String(p.message)).toMatch(/bogus/);
    await waitFor(() => json(w.on(s.topic("state")).at(-1)!.text).problems instanceof Array && (json(w.on(s.topic("state")).at(-1)!.text).problems as string[]).includes("reload_failed"), "the problem in the state");

    // Still running the old config: it answers a command and runs a test alert.
    await w.client.publishAsync(s.topic("set"), '{"command":"test","id":"t1"}', { qos: 1 });
    await waitFor(() => alertsOf(w, s).find((a) => a.event_type === "test_start"), "the test alert");
    expect(w.on(s.topic("set/result")).map((m) => json(m.text)).find((a) => a.id === "t1")).toMatchObject({ ok: true, command: "test" });
    expect(d.alive()).toBe(true);
  });

  it("SIGTERM during an alert switches LED and buzzer off, publishes offline and exits 0", async () => {
    const s = await setup("sigterm");
    const w = await watcher(s);
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: quietWav }, s.tmp);
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready");
    await waitFor(() => w.on(s.topic("availability")).some((m) => m.text === "online"), "online");
    await w.client.publishAsync(s.topic("set/test"), "PRESS", { qos: 1 });
    await d.waitLog((l) => l.msg === "LED on", "LED on");
    await d.waitLog((l) => l.msg === "BUZZER on", "BUZZER on");
    d.child.kill("SIGTERM");
    const { code } = await d.exited;
    expect(code).toBe(0);
    const transitions = d.lines.filter((l) => /^(LED|BUZZER) (on|off)$/.test(l.msg)).map((l) => l.msg);
    expect(transitions.filter((t) => t.startsWith("LED")).at(-1)).toBe("LED off");
    expect(transitions.filter((t) => t.startsWith("BUZZER")).at(-1)).toBe("BUZZER off");
    await waitFor(() => w.on(s.topic("availability")).at(-1)?.text === "offline", "offline");
  });

  it("an invalid config lists every error and exits 78", async () => {
    const s = await setup("invalid");
    await writeFile(s.configPath, "detect: { enter_threshold: 1.4, k: 9, n: 2 }\nbogus: 1\n");
    const d = startDaemon(s.configPath, {}, s.tmp);
    const { code } = await d.exited;
    expect(code).toBe(78);
    const err = d.stderr();
    expect(err).toMatch(/enter_threshold/);
    expect(err).toMatch(/bogus/);
    expect(err).toMatch(/detect\.k/);
  });

  it("a config with no output (the shipped example as it is) is refused with exit 78 before listening", async () => {
    const s = await setup("no-output");
    const example = await readFile(new URL("../../../config/earwitness.example.yaml", import.meta.url), "utf8");
    await writeFile(s.configPath, example.replace("state_dir: /var/lib/earwitness", `state_dir: ${s.tmp}`));
    const d = startDaemon(s.configPath, {}, s.tmp);
    const { code } = await d.exited;
    expect(code).toBe(78);
    expect(d.stderr()).toMatch(/no output configured: set gpio\.\* or mqtt\.\*/);
    expect(d.stderr()).not.toMatch(/listening/);
  });
});
