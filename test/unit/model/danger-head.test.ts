/**
 * The danger head (src/model/danger-head.ts): its output is a distribution whose danger classes
 * sum to the head's sigmoid; trained jointly with the classes on a small learnable fixture it
 * separates danger from the rest; saved as uint8 and read back, the lean engine (from the tfjs
 * model and from the bundle's files without tfjs) gives tfjs's probabilities.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FEATURE_SPEC, modelDims, staticDims, windowSeconds, type FeatureSpec } from "../../../src/features/spec.js";
import { buildModel, compileFor, type Architecture } from "../../../src/model/architectures.js";
import { selectBackend } from "../../../src/model/backend.js";
import { loadBundle, readBundle, saveBundle } from "../../../src/model/bundle.js";
import { EmotionClassifier } from "../../../src/model/classifier.js";
import { DangerHead } from "../../../src/model/danger-head.js";
import { mixDangerHead } from "../../../src/model/danger-mix.js";
import { leanNetworkFromArtifacts } from "../../../src/model/lean-artifacts.js";
import { LeanGruClassifier, LeanGruNetwork } from "../../../src/model/lean-gru.js";
import { rocAuc } from "../../../src/train/metrics.js";
import { Rng } from "../../../src/train/random.js";

let dir: string;
beforeAll(async () => {
  await selectBackend("cpu");
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-danger-head-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const labels = ["angry", "fear", "happy", "neutral", "sound"];
const DANGER = [0, 1];
const spec: FeatureSpec = { ...DEFAULT_FEATURE_SPEC, melBands: 10, windowSteps: 12 };
const T = spec.windowSteps;
const F = modelDims(spec);

/**
 * Windows whose class shows in the mean of feature k (k = class), over noise: danger is classes 0
 * and 1, learnable by every architecture in a few epochs.
 */
function fixture(n: number, seed: number): { x: Float32Array; y: number[] } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * T * F);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % labels.length;
    y.push(c);
    for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) x[(i * T + t) * F + f] = 0.6 * rng.normal() + (f === c ? 1.5 : 0);
  }
  return { x, y };
}

describe("DangerHead", () => {
  it("gives a distribution whose danger classes sum to the head's sigmoid, as the lean mix computes it", () => {
    const layer = new DangerHead({ units: labels.length, dangerClasses: DANGER, seed: 3 });
    const input = tf.input({ shape: [6] });
    const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
    const rng = new Rng(9);
    const xs = Array.from({ length: 5 }, () => Float32Array.from({ length: 6 }, () => 2 * rng.normal()));
    const out = model.predict(tf.tensor2d(xs.map((x) => Array.from(x)))) as tf.Tensor;
    const q = out.arraySync() as number[][];
    const [K, b, dk, db] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
    xs.forEach((x, i) => {
      const row = q[i]!;
      expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
      let d = db![0]!;
      for (let j = 0; j < 6; j++) d += x[j]! * dk![j]!;
      const h = 1 / (1 + Math.exp(-d));
      expect(row[0]! + row[1]!).toBeCloseTo(h, 5);
      const logits = Float64Array.from({ length: labels.length }, (_, c) => {
        let z = b![c]!;
        for (let j = 0; j < 6; j++) z += x[j]! * K![j * labels.length + c]!;
        return z;
      });
      const lean = mixDangerHead(logits, d, Uint8Array.from([1, 1, 0, 0, 0]), new Float32Array(labels.length));
      lean.forEach((v, c) => expect(v).toBeCloseTo(row[c]!, 5));
    });
    model.dispose();
  });

  it("refuses danger classes that are all, repeated or out of range (MODEL_OPTIONS)", () => {
    for (const bad of [[0, 1, 2, 3, 4], [0, 0], [5], [-1], [0.5]]) {
      let err: unknown = null;
      try {
        buildModel("gru", { inputShape: [T, F], numClasses: 5, units: 4, dangerHead: bad });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toMatchObject({ code: "MODEL_OPTIONS", message: expect.stringMatching(/danger class indices/) });
    }
    // An empty list means no head: the dense softmax.
    expect(buildModel("gru", { inputShape: [T, F], numClasses: 5, units: 4, dangerHead: [] }).layers.at(-1)!.getClassName()).toBe("Dense");
  });

  it("trained jointly on a small fixture, tells danger from the rest on other windows", async () => {
    const model = buildModel("pgru", { inputShape: [T, F], numClasses: labels.length, units: 8, seed: 2, dangerHead: DANGER });
    expect(model.layers.at(-1)!.getClassName()).toBe("DangerHead");
    compileFor("pgru", model, 0.02);
    const tr = fixture(100, 1);
    const xs = tf.tensor3d(tr.x, [100, T, F]);
    const ys = tf.oneHot(tf.tensor1d(tr.y, "int32"), labels.length);
    await model.fit(xs, ys, { epochs: 15, batchSize: 20, verbose: 0 });
    tf.dispose([xs, ys]);
    const te = fixture(50, 2);
    const q = (model.predict(tf.tensor3d(te.x, [50, T, F])) as tf.Tensor).arraySync() as number[][];
    const danger = q.map((r) => r[0]! + r[1]!);
    expect(rocAuc(danger, te.y.map((c) => DANGER.includes(c)))).toBeGreaterThan(0.95);
    // The classes are still learnt within each side (the emotion sensor and the papers' tables need them).
    const acc = q.filter((r, i) => r.indexOf(Math.max(...r)) === te.y[i]).length / q.length;
    expect(acc).toBeGreaterThan(0.8);
    model.dispose();
  });

  for (const arch of ["gru", "egru", "pgru", "lr", "cnnp"] as const satisfies readonly Architecture[]) {
    it(`${arch}: saved as uint8 and read back, the lean engine (from tfjs and from the files) gives tfjs's probabilities`, async () => {
      const model = buildModel(arch, { inputShape: [T, F], numClasses: labels.length, units: 6, seed: 5, dangerHead: DANGER });
      compileFor(arch, model, 0.01);
      const tr = fixture(40, 3);
      const xs = tf.tensor3d(tr.x, [40, T, F]);
      const ys = tf.oneHot(tf.tensor1d(tr.y, "int32"), labels.length);
      await model.fit(xs, ys, { epochs: 2, batchSize: 20, verbose: 0 });
      tf.dispose([xs, ys]);
      const S = staticDims(spec);
      const d = path.join(dir, arch);
      await saveBundle(
        d,
        model,
        {
          name: arch,
          version: "0.0.1",
          created: "2025-01-01T00:00:00.000Z",
          architecture: { arch, danger_head: true },
          labels,
          danger: ["angry", "fear"],
          features: spec,
          normalisation: { mean: new Array<number>(S).fill(0.1), std: new Array<number>(S).fill(1.3), deltaStd: new Array<number>(S).fill(0.7) },
          window: { steps: T, seconds: windowSeconds(spec) },
          training: { corpora: [] },
          metrics: {},
          selftest: null,
        },
        { quantize: true },
      );
      model.dispose();
      const loaded = await loadBundle(d);
      const files = await readBundle(d);
      const ref = new EmotionClassifier(loaded);
      const rng = new Rng(7);
      const steps = Array.from({ length: 6 }, () => Float32Array.from({ length: T * S }, () => rng.normal()));
      const want = ref.predict(steps);
      const fromTfjs = LeanGruClassifier.forBundle(files.meta, LeanGruNetwork.fromModel(loaded.model)).predict(steps);
      const fromFiles = LeanGruClassifier.forBundle(files.meta, leanNetworkFromArtifacts(files.artifacts)).predict(steps);
      for (const got of [fromTfjs, fromFiles]) want.forEach((p, i) => p.forEach((v, k) => expect(Math.abs(v - got[i]![k]!)).toBeLessThan(1e-4)));
      ref.dispose(); // disposes the bundle's model too
    });
  }
});
