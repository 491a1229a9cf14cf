/**
 * Issue #11 §7: random bytes at the right byte rate (what a recorder giving the wrong sample
 * format looks like) used to pass every microphone check, and the model heard "angry" in them for
 * 52 s. The real daemon as a child process, a real broker, the fake `arecord` streaming random
 * bytes at exactly 32 000 bytes/s, and a model that calls anything loud "angry": the daemon must
 * raise `mic_format`, saying what to check, and raise no alert while it lasts.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type TestBroker } from "../broker.js";
import { sleep, waitFor, watch, type Watcher } from "../mqtt/watcher.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { killAll, startDaemon, writeConfig } from "./harness.js";

let broker: TestBroker;
let root: string;
let bundleDir: string;
const watchers: Watcher[] = [];

beforeAll(async () => {
  broker = await startBroker();
  root = await mkdtemp(path.join(tmpdir(), "earwitness-mic-format-"));
  bundleDir = path.join(root, "bundle");
  await writeConstantBundle(bundleDir);
});

afterEach(async () => {
  await killAll();
  for (const w of watchers.splice(0)) await w.close();
});

afterAll(async () => {
  await broker?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

describe("wrong-format audio (issue #11 §7)", () => {
  it("random bytes at the right rate raise mic_format with what to check, and no alert", async () => {
    const name = "garbage-at-rate";
    const dir = path.join(root, name);
    const tmp = path.join(dir, "tmp");
    await mkdir(tmp, { recursive: true });
    const configPath = await writeConfig(path.join(dir, "config.yaml"), {
      deviceId: name,
      stateDir: path.join(dir, "state"),
      modelDir: bundleDir,
      brokerUrl: broker.url,
      // Quick to alert: with this model, anything over the gate is "angry" at p ≈ 0.96.
      detect: "{ k: 2, n: 3, min_duration_s: 0, hop_s: 0.5 }",
    });
    const topic = (s: string): string => `earwitness/${name}/${s}`;
    const w = await watch(broker.url, [`earwitness/${name}/#`], { clientId: `it-${name}`, clean: false });
    watchers.push(w);
    // Speed 1: exactly 32 000 bytes/s, so mic_rate has nothing to say; only the content is wrong.
    const d = startDaemon(configPath, { FAKE_ARECORD_MODE: "garbage", FAKE_ARECORD_SPEED: "1" }, tmp);
    const p = await waitFor(
      () => w.on(topic("problem")).map((m) => json(m.text)).find((x) => x.code === "mic_format" && x.active === true),
      "the mic_format problem",
      20_000,
    );
    expect(String(p.message)).toMatch(/does not look like a microphone/);
    expect(String(p.message)).toMatch(/S16_LE/);
    expect(String(p.message)).toMatch(/audio\.device/);
    await waitFor(
      () => (json(w.on(topic("state")).at(-1)?.text ?? "{}").problems as string[] | undefined)?.includes("mic_format"),
      "mic_format in the state",
    );
    // Random bytes keep coming: still no alert several seconds on, and the daemon runs on.
    await sleep(8_000);
    expect(w.on(topic("alert")).map((m) => json(m.text)).filter((a) => a.test !== true)).toEqual([]);
    expect(d.lines.filter((l) => l.msg === "ALERT: danger heard")).toEqual([]);
    expect(w.on(topic("problem")).map((m) => json(m.text)).filter((x) => x.code === "mic_format" && x.active === false)).toEqual([]);
    expect(d.alive()).toBe(true);
  }, 60_000);
});
