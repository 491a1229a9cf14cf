/**
 * `reset_adaptation` end to end: the real daemon (child process) with the shipped model, which is
 * normalised per speaker, and a real broker. Quiet audio stays below the energy gate, so the unit
 * learns nothing while the test runs and the statistics file holds exactly what the test wrote.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { staticDims, type FeatureSpec } from "../../../src/features/spec.js";
import { waitFor, type Watcher } from "../mqtt/watcher.js";
import { noise, REPO_ROOT, startDaemon, writeWav, type DaemonProcess } from "./harness.js";
import { daemonWorld, type DaemonUnit } from "../world.js";

const MODEL = path.join(REPO_ROOT, "models", "earwitness-gru");

const world = daemonWorld("earwitness-adapt-it");
let quietWav: string;
let modelName: string;
let dims: number;

beforeAll(async () => {
  quietWav = await writeWav(path.join(world.root, "quiet.wav"), noise(10, 0.0005, 4));
  const meta = JSON.parse(await readFile(path.join(MODEL, "bundle.json"), "utf8")) as { name: string; features: FeatureSpec };
  expect(meta.features.norm, "the shipped model adapts (speaker normalisation)").toBe("speaker");
  modelName = meta.name;
  dims = staticDims(meta.features);
});

interface Unit extends DaemonUnit {
  w: Watcher;
}

async function unit(name: string, adaptation: boolean): Promise<Unit> {
  const u = await world.unit(name, { modelDir: MODEL, extraYaml: adaptation ? "adaptation: { enabled: true }\n" : "" });
  return { ...u, w: await world.watch(u) };
}

async function run(u: Unit): Promise<DaemonProcess> {
  const d = startDaemon(u.configPath, { FAKE_ARECORD_WAV: quietWav }, u.tmp);
  await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready", 60_000);
  return d;
}

async function command(u: Unit, payload: string, id: string): Promise<Record<string, unknown>> {
  await u.w.client.publishAsync(u.topic("set"), payload, { qos: 1 });
  return waitFor(
    () => u.w.on(u.topic("set/result")).map((m) => JSON.parse(m.text) as Record<string, unknown>).find((a) => a.id === id),
    `the answer to ${id}`,
  );
}

describe("reset_adaptation (integration)", () => {
  it("deletes the learnt statistics of a running unit; after a restart it starts from nothing", async () => {
    const u = await unit("adapt-reset", true);
    const file = path.join(u.stateDir, `adaptation-${modelName}.json`);
    await mkdir(u.stateDir, { recursive: true });
    await writeFile(file, JSON.stringify({ version: 1, dims, weight: 5000, mean: new Array<number>(dims).fill(-3), meanSq: new Array<number>(dims).fill(10) }));

    const d = await run(u);
    expect(d.lines.find((l) => l.msg === "adaptation to this unit's voice and microphone")).toMatchObject({ restored: true, voicedSteps: 5000 });
    expect(await command(u, '{"command":"reset_adaptation","id":"move-1"}', "move-1")).toMatchObject({
      schema: 1,
      topic: "set",
      ok: true,
      command: "reset_adaptation",
      error: null,
    });
    expect(existsSync(file)).toBe(false);
    d.child.kill("SIGTERM");
    expect((await d.exited).code).toBe(0);

    // Whatever the stop saved, it is not what was reset.
    const again = await run(u);
    const loaded = again.lines.find((l) => l.msg === "adaptation to this unit's voice and microphone");
    expect(loaded?.voicedSteps).toBe(0);
    again.child.kill("SIGTERM");
    expect((await again.exited).code).toBe(0);
  }, 120_000);

  it("answers that adaptation is off when it is disabled", async () => {
    const u = await unit("adapt-off", false);
    await run(u);
    const answer = await command(u, '{"command":"reset_adaptation","id":"off-1"}', "off-1");
    expect(answer).toMatchObject({ ok: false, command: "reset_adaptation" });
    expect(String(answer.error)).toMatch(/^ADAPTATION_OFF: voice adaptation is off \(adaptation\.enabled is false in the configuration\)/);
  }, 60_000);
});
