import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClassifier, loadBundleForEngine } from "../../../src/assemble/model.js";
import { shippedModelDir } from "../../../src/assemble/paths.js";
import { systemClock } from "../../../src/clock.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { createDaemonDeps } from "../../../src/daemon/real-deps.js";
import { silentLogger } from "../../../src/log.js";
import { staticDims } from "../../../src/features/spec.js";
import { selectBackend } from "../../../src/model/backend.js";
import { buildModel } from "../../../src/model/architectures.js";
import { loadBundle, saveBundle, untrainedBundleMeta } from "../../../src/model/bundle.js";
import { EmotionClassifier } from "../../../src/model/classifier.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { randomiseByFanIn } from "../../fixtures/fan-in-weights.js";
import { editBundleJson, makeTinyBundle, TINY_SPEC } from "../../fixtures/tiny-bundle.js";

let dir: string;
beforeAll(async () => {
  await selectBackend("cpu");
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-clf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createClassifier", () => {
  it("runs a GRU bundle on the lean engine, with tfjs's outputs", async () => {
    await makeTinyBundle(path.join(dir, "tiny"));
    const bundle = await loadBundle(path.join(dir, "tiny"));
    const ref = new EmotionClassifier(bundle);
    const S = staticDims(TINY_SPEC);
    const steps = [Float32Array.from({ length: TINY_SPEC.windowSteps * S }, (_, i) => Math.cos(0.3 * i))];
    const expected = ref.predict(steps)[0]!;
    const made = await createClassifier(bundle);
    expect(made.engine).toBe("lean");
    const got = made.classifier.predict(steps)[0]!;
    got.forEach((p, k) => expect(Math.abs(p - expected[k]!)).toBeLessThan(1e-4));
    const before = tf.memory().numTensors;
    made.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it("falls back to tfjs for a model the lean engine does not cover", async () => {
    // The constant bundle is a pooling + dense network: not a GRU stack.
    await writeConstantBundle(path.join(dir, "const"));
    const bundle = await loadBundle(path.join(dir, "const"));
    const made = await createClassifier(bundle);
    expect(made.engine).toBe("tfjs");
    expect(made.classifier).toBeInstanceOf(EmotionClassifier);
    made.dispose();
  });
});

/** Whether @tensorflow/tfjs-node would load here (it cannot install on the development VM). */
function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve("@tensorflow/tfjs-node");
    return true;
  } catch {
    return false;
  }
}

function config(yaml: string): Config {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

describe("loadBundleForEngine", () => {
  const S = staticDims(TINY_SPEC);
  const tinySteps = [Float32Array.from({ length: TINY_SPEC.windowSteps * S }, (_, i) => Math.sin(0.2 * i)), Float32Array.from({ length: TINY_SPEC.windowSteps * S }, (_, i) => Math.cos(0.9 * i))];

  it("runs the shipped bundle on the lean engine read from its files, without tfjs, with exactly the outputs of the tfjs-loaded path", async () => {
    const dirShipped = shippedModelDir();
    const ready = await loadBundleForEngine(dirShipped, "auto");
    expect(ready.engine).toBe("lean");
    expect(ready.tfjs).toBe(false);
    const loaded = await loadBundle(dirShipped);
    expect(ready.meta).toEqual(loaded.meta);
    expect(ready.sha256).toBe(loaded.sha256);
    const viaTfjs = await createClassifier(loaded);
    expect(viaTfjs.engine).toBe("lean");
    const S2 = staticDims(loaded.meta.features);
    const steps = [0.3, 1.7, 2.9].map((f) => Float32Array.from({ length: loaded.meta.features.windowSteps * S2 }, (_, i) => Math.sin(f * i) * 2));
    // Same weights bit for bit (lean-artifacts.test.ts), so the same probabilities exactly.
    expect(ready.classifier.predict(steps).map((p) => Array.from(p))).toEqual(viaTfjs.classifier.predict(steps).map((p) => Array.from(p)));
    const ref = new EmotionClassifier(loaded);
    const expected = ref.predict(steps);
    ready.classifier.predict(steps).forEach((p, i) => p.forEach((v, k) => expect(Math.abs(v - expected[i]![k]!)).toBeLessThan(1e-4)));
    viaTfjs.dispose();
    ready.dispose();
  });

  it("runs a small fixture GRU bundle on the lean engine without tfjs, as createClassifier would", async () => {
    const d = path.join(dir, "tiny-engine");
    await makeTinyBundle(d, { seed: 3, selftest: "none" });
    const ready = await loadBundleForEngine(d, "auto");
    expect([ready.engine, ready.tfjs]).toEqual(["lean", false]);
    const loaded = await loadBundle(d);
    const made = await createClassifier(loaded);
    expect(ready.classifier.predict(tinySteps).map((p) => Array.from(p))).toEqual(made.classifier.predict(tinySteps).map((p) => Array.from(p)));
    made.dispose();
  });

  it("runs a cnnp bundle (uint8) on the lean engine without tfjs, with tfjs's outputs", async () => {
    const d = path.join(dir, "cnnp-engine");
    const labels = ["angry", "fear", "neutral"];
    const model = buildModel("cnnp", { inputShape: [TINY_SPEC.windowSteps, S], numClasses: labels.length, units: 6, seed: 4, dangerHead: [0, 1] });
    randomiseByFanIn(model, 9);
    await saveBundle(d, model, untrainedBundleMeta(TINY_SPEC, labels, { name: "tiny-cnnp", version: "1.0.0", arch: "cnnp", units: 6 }), { quantize: true });
    model.dispose();
    const ready = await loadBundleForEngine(d, "auto");
    expect([ready.engine, ready.tfjs]).toEqual(["lean", false]);
    const loaded = await loadBundle(d);
    const ref = new EmotionClassifier(loaded);
    const expected = ref.predict(tinySteps);
    ready.classifier.predict(tinySteps).forEach((p, i) => p.forEach((v, k) => expect(Math.abs(v - expected[i]![k]!)).toBeLessThan(1e-4)));
    ref.dispose();
    ready.dispose();
  });

  it("loads tfjs for a bundle the lean engine cannot read, and releases its tensors on dispose", async () => {
    const d = path.join(dir, "const-engine");
    await writeConstantBundle(d);
    const before = tf.memory().numTensors;
    const ready = await loadBundleForEngine(d, "cpu");
    expect([ready.engine, ready.tfjs]).toEqual(["tfjs", true]);
    expect(ready.classifier).toBeInstanceOf(EmotionClassifier);
    const steps = [Float32Array.from({ length: ready.meta.features.windowSteps * staticDims(ready.meta.features) }, () => 0.1)];
    expect(ready.classifier.predict(steps)[0]![0]).toBeGreaterThan(0.9);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    ready.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a bundle whose shapes disagree with the same error as loadBundle", async () => {
    const d = path.join(dir, "tiny-labels");
    await makeTinyBundle(d, { selftest: "none" });
    await editBundleJson(d, (m) => {
      m.labels = ["angry", "fear", "neutral", "sad"];
    });
    const viaTfjs = await loadBundle(d).catch((e: unknown) => e);
    const viaFiles = await loadBundleForEngine(d, "auto").catch((e: unknown) => e);
    expect(viaTfjs).toMatchObject({ code: "SHAPE_MISMATCH", message: expect.stringMatching(/3 outputs for 4 labels/) });
    expect(viaFiles).toMatchObject({ code: "SHAPE_MISMATCH", message: (viaTfjs as Error).message });
  });

  it.skipIf(tfjsNodeInstalled())("uses model.backend only when a bundle needs tfjs (tfjs-node is not installed here)", async () => {
    const lean = path.join(dir, "tiny-backend");
    await makeTinyBundle(lean, { selftest: "none" });
    expect((await loadBundleForEngine(lean, "node")).engine).toBe("lean");
    const cnnLike = path.join(dir, "const-backend");
    await writeConstantBundle(cnnLike);
    await expect(loadBundleForEngine(cnnLike, "node")).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
  });

  it.skipIf(tfjsNodeInstalled())("the daemon's model loader: an unusable model.backend stops it only for a bundle that needs tfjs, never a silent fallback", async () => {
    const state = path.join(dir, "state");
    const deps = createDaemonDeps({ clock: systemClock, log: silentLogger(), env: {}, softwareVersion: "0.0.0-test" });
    const lean = path.join(dir, "tiny-daemon");
    await makeTinyBundle(lean, { selftest: "none" });
    // The scream branch off: the shipped scream model reads other features than the tiny bundle.
    const handle = await deps.loadModel(config(`state_dir: ${state}\nmodel:\n  dir: ${lean}\n  backend: node\ndetect:\n  screams:\n    enabled: false\n`));
    expect(handle.fallback).toBeNull();
    expect(handle.info.name).toBe("tiny");
    handle.dispose();
    const needsTfjs = path.join(dir, "const-daemon");
    await writeConstantBundle(needsTfjs);
    // Not "running the shipped model instead": the configured backend is what is wrong.
    await expect(deps.loadModel(config(`state_dir: ${state}\nmodel:\n  dir: ${needsTfjs}\n  backend: node\n`))).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
  });
});
