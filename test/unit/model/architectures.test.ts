import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { ARCHITECTURES, buildModel, compileFor, type Architecture } from "../../../src/model/architectures.js";
import { selectBackend } from "../../../src/model/backend.js";

const CLASSES = 3;
const N = 24;

beforeAll(async () => {
  await selectBackend("wasm");
});

function shapeFor(arch: Architecture): number[] {
  return arch === "rescnn" || arch === "cnn" ? [16, 8, 1] : [8, 5];
}

/** Separable synthetic data: class k has a bump in the k-th third of the feature axis. */
function data(arch: Architecture): { x: tf.Tensor; y: tf.Tensor } {
  const shape = shapeFor(arch);
  const [frames, features] = shape as [number, number];
  const labels = Array.from({ length: N }, (_, i) => i % CLASSES);
  const values: number[] = [];
  labels.forEach((label, n) => {
    for (let t = 0; t < frames; t++) {
      for (let f = 0; f < features; f++) {
        const inBand = Math.floor((f * CLASSES) / features) === label;
        values.push((inBand ? 1 : 0) + 0.3 * Math.sin(1.7 * n + 0.9 * t + 2.3 * f));
      }
    }
  });
  return { x: tf.tensor(values, [N, ...shape]), y: tf.oneHot(tf.tensor1d(labels, "int32"), CLASSES) };
}

describe("buildModel", () => {
  for (const arch of ARCHITECTURES) {
    it(`${arch}: builds, predicts [batch, classes] probabilities, and a few steps reduce the loss`, async () => {
      const model = buildModel(arch, { inputShape: shapeFor(arch), numClasses: CLASSES, units: 8, seed: 3 });
      compileFor(arch, model, arch === "rescnn" || arch === "cnn" ? 0.003 : 0.01);
      const { x, y } = data(arch);
      const p = model.predict(x) as tf.Tensor;
      expect(p.shape).toEqual([N, CLASSES]);
      const sums = tf.sum(p, 1).dataSync();
      for (const s of sums) expect(s).toBeCloseTo(1, 4);
      const loss = () =>
        tf.tidy(() => tf.metrics.categoricalCrossentropy(y, model.predict(x) as tf.Tensor).mean().dataSync()[0] as number);
      const before = loss();
      await model.fit(x, y, { epochs: 8, batchSize: 12, verbose: 0, shuffle: false });
      const after = loss();
      expect(after).toBeLessThan(before);
    });
  }

  it("the same seed gives the same weights, another seed others", () => {
    for (const arch of ARCHITECTURES) {
      const w = (seed: number) => buildModel(arch, { inputShape: shapeFor(arch), numClasses: CLASSES, units: 4, seed }).getWeights();
      const a = w(5);
      const b = w(5);
      const c = w(6);
      a.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, b[i] as tf.Tensor))).dataSync()[0]).toBe(0));
      expect(tf.max(tf.abs(tf.sub(a[0] as tf.Tensor, c[0] as tf.Tensor))).dataSync()[0]).toBeGreaterThan(0);
    }
  });

  it("egru is the gru stack with the enhanced cell; rescnn is cnn plus three residual links", () => {
    const names = (m: tf.LayersModel) => m.layers.map((l) => l.getClassName());
    expect(names(buildModel("gru", { inputShape: [8, 5], numClasses: 3, layers: 2 }))).toEqual(["InputLayer", "GRU", "GRU", "Dense"]);
    expect(names(buildModel("egru", { inputShape: [8, 5], numClasses: 3, layers: 2 }))).toEqual([
      "InputLayer",
      "EnhancedGRU",
      "EnhancedGRU",
      "Dense",
    ]);
    const count = (m: tf.LayersModel, cls: string) => names(m).filter((n) => n === cls).length;
    const res = buildModel("rescnn", { inputShape: [16, 8, 1], numClasses: 3 });
    const plain = buildModel("cnn", { inputShape: [16, 8, 1], numClasses: 3 });
    expect(count(res, "Add")).toBe(3);
    expect(count(plain, "Add")).toBe(0);
    expect(count(plain, "Conv2D")).toBe(4);
    expect(count(plain, "Dense")).toBe(3); // two fully connected + softmax
    expect(res.countParams()).toBeGreaterThan(plain.countParams());
  });

  it("odd image sizes still line up the residual links", () => {
    const m = buildModel("rescnn", { inputShape: [13, 7, 1], numClasses: 4 });
    expect((m.predict(tf.zeros([2, 13, 7, 1])) as tf.Tensor).shape).toEqual([2, 4]);
  });

  it("rejects inconsistent options with a ConfigError", () => {
    expect(() => buildModel("egru", { inputShape: [8, 5, 1], numClasses: 3 })).toThrow(ConfigError);
    expect(() => buildModel("rescnn", { inputShape: [8, 5], numClasses: 3 })).toThrow(/\[frames, features, 1\]/);
    expect(() => buildModel("gru", { inputShape: [8, 5], numClasses: 1 })).toThrow(/numClasses/);
    expect(() => buildModel("gru", { inputShape: [8, 5], numClasses: 3, layers: 0 })).toThrow(/layers/);
    expect(() => buildModel("lstm" as Architecture, { inputShape: [8, 5], numClasses: 3 })).toThrow(/unknown architecture/);
  });

  it("compileFor uses RMSProp for the CNNs and Adam for the GRUs", () => {
    const cnn = buildModel("cnn", { inputShape: [16, 8, 1], numClasses: 3 });
    compileFor("cnn", cnn);
    expect(cnn.optimizer.getClassName()).toBe("RMSProp");
    const gru = buildModel("egru", { inputShape: [8, 5], numClasses: 3 });
    compileFor("egru", gru, 0.002);
    expect(gru.optimizer.getClassName()).toBe("Adam");
    expect(gru.optimizer.getConfig()["learningRate"]).toBe(0.002);
  });
});
