/**
 * createAdaptation's statistics file (src/assemble/model.ts): saves, resets and loads of one file
 * happen in the order they were asked for, so a reset is never undone by a save that was already
 * under way, nor by a model loaded during a reload.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { createAdaptation, type DeviceAdaptation } from "../../../src/assemble/model.js";
import { DEFAULT_FEATURE_SPEC, staticDims } from "../../../src/features/spec.js";
import type { LoadedBundle } from "../../../src/model/bundle.js";

const DIMS = staticDims(DEFAULT_FEATURE_SPEC);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ cfg: Config; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), "earwitness-adapt-file-"));
  dirs.push(dir);
  const r = parseConfig(null, { env: {}, hostname: "unit", overrides: { state_dir: dir, adaptation: { enabled: true } } });
  if (!r.ok) throw new Error(r.issues.join("\n"));
  return { cfg: r.config, file: path.join(dir, "adaptation-unit-model.json") };
}

/** Only the metadata createAdaptation reads. */
const bundle = {
  meta: {
    name: "unit-model",
    features: { ...DEFAULT_FEATURE_SPEC, norm: "speaker" },
    normalisation: { mean: new Array<number>(DIMS).fill(0), std: new Array<number>(DIMS).fill(1), deltaStd: new Array<number>(DIMS).fill(1) },
  },
} as unknown as LoadedBundle;

async function learnt(cfg: Config): Promise<DeviceAdaptation> {
  const a = (await createAdaptation(cfg, bundle))!;
  for (let i = 0; i < 500; i++) a.observe(Float32Array.from({ length: DIMS }, (_, d) => 3 + Math.sin(i + d)));
  expect(a.current()).not.toBeNull();
  return a;
}

describe("adaptation statistics file", () => {
  it("a reset asked for while a save is pending leaves no file, and a restart learns afresh", async () => {
    const { cfg, file } = await setup();
    const a = await learnt(cfg);
    await a.save();
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ version: 1, dims: DIMS });
    // Both asked for at once, as the periodic save on the capture path and an MQTT command can be.
    await Promise.all([a.save(), a.reset()]);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect((await createAdaptation(cfg, bundle))!.current()).toBeNull();
  });

  it("a model loaded while the reset is under way (a reload) does not read the old file", async () => {
    const { cfg, file } = await setup();
    const a = await learnt(cfg);
    await a.save();
    const resetting = a.reset();
    const loading = createAdaptation(cfg, bundle);
    await resetting;
    expect((await loading)!.current()).toBeNull();
    expect(existsSync(file)).toBe(false);
  });

  it("after a reset, saves write only what is heard since", async () => {
    const { cfg, file } = await setup();
    const a = await learnt(cfg);
    await a.save();
    await a.reset();
    a.observe(Float32Array.from({ length: DIMS }, () => -2));
    await a.save();
    const saved = JSON.parse(await readFile(file, "utf8")) as { weight: number; mean: number[] };
    expect(saved.weight).toBe(1);
    expect(saved.mean.every((m) => m === -2)).toBe(true);
  });

  it("a failed save does not block the reset queued after it", async () => {
    const { cfg, file } = await setup();
    const a = await learnt(cfg);
    await a.save();
    // A directory where the save's temporary file goes: that save fails, whoever runs the test.
    await mkdir(`${file}.tmp`);
    const saving = a.save();
    const resetting = a.reset();
    await expect(saving).rejects.toThrow();
    await resetting;
    expect(existsSync(file)).toBe(false);
  });
});
