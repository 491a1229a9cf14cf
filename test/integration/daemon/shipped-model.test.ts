/**
 * The shipped model on the real demo recording, with the DEFAULT detection config (issue 3 §12):
 * the angry passage gives exactly one alert; calm speech and noise give none. The daemon runs as
 * a child process with the fake `arecord` streaming the recording.
 *
 * Calm speech: `demo/calm.wav` when the repository ships one; otherwise the opening of demo.wav
 * up to CALM_OPENING_S (the recording starts with calm speech, see demo/README or NOTICE).
 * Both ship with the repository: their absence is a failure, not a skip.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadAudioFile } from "../../../src/audio/load.js";
import { startBroker, type TestBroker } from "../broker.js";
import { sleep, watch, type Watcher } from "../mqtt/watcher.js";
import { FAKE_RECORDER_SPEED, killAll, noise, REPO_ROOT, startDaemon, writeConfig, writeWav } from "./harness.js";

const MODEL = path.join(REPO_ROOT, "models", "earwitness-gru");
const DEMO = path.join(REPO_ROOT, "demo", "demo.wav");
const CALM = path.join(REPO_ROOT, "demo", "calm.wav");
/** Seconds of calm speech at the start of demo.wav, used when demo/calm.wav is absent. */
const CALM_OPENING_S = 5;

let broker: TestBroker;
let root: string;
let demo16k: string;
let calm16k: string;
let noise16k: string;
const watchers: Watcher[] = [];

describe("the shipped model on the demo recording, default detection config", () => {
  beforeAll(async () => {
    expect(existsSync(path.join(MODEL, "bundle.json")), "models/earwitness-gru/bundle.json ships with the repository").toBe(true);
    expect(existsSync(DEMO), "demo/demo.wav ships with the repository").toBe(true);
    broker = await startBroker();
    root = await mkdtemp(path.join(tmpdir(), "earwitness-shipped-it-"));
    // The fake recorder streams 16 kHz 16-bit mono: convert whatever the recording is.
    const demo = await loadAudioFile(DEMO);
    demo16k = await writeWav(path.join(root, "demo.wav"), demo);
    const calm = existsSync(CALM) ? await loadAudioFile(CALM) : demo.subarray(0, CALM_OPENING_S * 16_000);
    calm16k = await writeWav(path.join(root, "calm.wav"), calm);
    noise16k = await writeWav(path.join(root, "noise.wav"), noise(8, 0.05, 7));
  });

  afterEach(async () => {
    await killAll();
    for (const w of watchers.splice(0)) await w.close();
  });

  afterAll(async () => {
    await broker?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function run(name: string, wav: string, seconds: number): Promise<Record<string, unknown>[]> {
    const dir = path.join(root, name);
    await mkdir(path.join(dir, "tmp"), { recursive: true });
    // The fake recorder stalls at the end of the file instead of looping it.
    const configPath = await writeConfig(path.join(dir, "config.yaml"), {
      deviceId: name,
      stateDir: path.join(dir, "state"),
      modelDir: null,
      brokerUrl: broker.url,
      audio: "{ stall_timeout_s: 60, wait_for_device_s: 0 }",
    });
    const w = await watch(broker.url, [`earwitness/${name}/alert`], { clientId: `it-${name}` });
    watchers.push(w);
    const d = startDaemon(configPath, { FAKE_ARECORD_WAV: wav, FAKE_ARECORD_END: "stall" }, path.join(dir, "tmp"));
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready", 30_000);
    // Play the whole file (faster than real time), then give a still-open alert the time to end (hold).
    await sleep((seconds / FAKE_RECORDER_SPEED) * 1000 + 2_000);
    d.child.kill("SIGTERM");
    await d.exited;
    await sleep(300);
    return w.on(`earwitness/${name}/alert`).map((m) => JSON.parse(m.text) as Record<string, unknown>);
  }

  it("the angry passage gives exactly one alert", async () => {
    const seconds = (await loadAudioFile(demo16k)).length / 16_000;
    const alerts = await run("shipped-demo", demo16k, seconds);
    const starts = alerts.filter((a) => a.event === "start");
    expect(starts).toHaveLength(1);
    expect(["angry", "fear"]).toContain(starts[0]!.emotion);
    expect(starts[0]!.model).toMatchObject({ name: "earwitness-gru" });
  }, 60_000);

  it("calm speech gives no alert", async () => {
    const seconds = (await loadAudioFile(calm16k)).length / 16_000;
    expect(await run("shipped-calm", calm16k, seconds)).toEqual([]);
  }, 60_000);

  it("steady noise gives no alert", async () => {
    expect(await run("shipped-noise", noise16k, 8)).toEqual([]);
  }, 60_000);
});
