import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBundleForEngine, loadModelHandle, loadScreamModel, openModel } from "../../../src/assemble/model.js";
import { shippedModelDir, shippedScreamModelDir } from "../../../src/assemble/paths.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { ConfigError } from "../../../src/errors.js";
import { selectBackend } from "../../../src/model/backend.js";
import { loadBundle, type BundleMeta } from "../../../src/model/bundle.js";
import { Pipeline } from "../../../src/pipeline.js";
import { pipelineOptions } from "../../../src/config/detect-params.js";
import { captureLogger } from "../../fakes/capture-logger.js";

let dir: string;
let speech: BundleMeta;
beforeAll(async () => {
  await selectBackend("cpu");
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-screams-"));
  const b = await loadBundle(shippedModelDir());
  speech = b.meta;
  b.model.dispose();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(yaml: string): Config {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

describe("the scream branch's model", () => {
  it("is not loaded with detect.screams.enabled false", async () => {
    expect(await loadScreamModel(config("detect:\n  screams:\n    enabled: false\n"), speech)).toEqual({ model: null, problem: null });
  });

  it("is the shipped scream model by default: it hears screams and reads the shipped speech model's features", async () => {
    const { model, problem } = await loadScreamModel(config("detect:\n  screams:\n    enabled: true\n"), speech);
    expect(problem).toBeNull();
    expect(model!.dir).toBe(shippedScreamModelDir());
    expect(model!.classifier.labels).toContain("scream");
    expect(model!.classifier.spec).toEqual(speech.features);
    model!.dispose();
  });

  it("a damaged scream bundle leaves the speech branch running and says why (the unit never goes silent)", async () => {
    const broken = path.join(dir, "broken");
    await cp(shippedScreamModelDir(), broken, { recursive: true });
    await writeFile(path.join(broken, "weights.bin"), Buffer.from("not the weights"));
    const logs = captureLogger();
    const { model, problem } = await loadScreamModel(config(`detect:\n  screams:\n    enabled: true\n    model_dir: ${broken}\n`), speech, logs.log);
    expect(model).toBeNull();
    expect(problem).toMatch(new RegExp(`^scream branch off: the scream model \\(${broken}\\) cannot be loaded: .*weights\\.bin`));
  });

  it("a configured bundle without a scream class is the configuration's fault: a ConfigError naming the setting", async () => {
    const p = loadScreamModel(config(`detect:\n  screams:\n    enabled: true\n    model_dir: ${shippedModelDir()}\n`), speech);
    await expect(p).rejects.toBeInstanceOf(ConfigError);
    await expect(p).rejects.toThrow(/detect\.screams\.model_dir .* has no "scream" class/);
  });

  it("the shipped scream model not fitting another speech model turns the branch off instead of stopping the unit", async () => {
    const other = { name: "installed", features: { ...speech.features, windowSteps: speech.features.windowSteps + 10 } };
    const { model, problem } = await loadScreamModel(config("detect:\n  screams:\n    enabled: true\n"), other);
    expect(model).toBeNull();
    expect(problem).toMatch(/^scream branch off: the shipped scream model .* reads other features than model installed/);
  });

  it("loadModelHandle gives tools the daemon's pair: a pipeline with the scream branch that hears both models", async () => {
    const cfg = config(""); // the defaults: the scream branch is on
    const m = await loadModelHandle(cfg);
    expect(m.screams).not.toBeNull();
    const pipeline = new Pipeline({ ...pipelineOptions(cfg, m), startMs: 0 });
    const tone = Float32Array.from({ length: 16_000 * 4 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
    const results = pipeline.process(tone);
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r.screams !== null && r.screams.probs !== null && Number.isFinite(r.screams.danger))).toBe(true);
    m.dispose();
    const offConfig = config("detect:\n  screams:\n    enabled: false\n");
    const off = await openModel(offConfig, await loadBundleForEngine(shippedModelDir(), "auto"));
    expect(off.screams).toBeNull();
    expect(new Pipeline({ ...pipelineOptions(offConfig, off), startMs: 0 }).process(tone).every((r) => r.screams === null)).toBe(true);
    off.dispose();
  });
});
