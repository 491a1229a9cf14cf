/**
 * uint8 weight quantization (src/model/quantize.ts): its error bound per tensor, constant tensors,
 * the small-tensor exemption, and what it does to a whole model's outputs through the real
 * saveBundle → loadBundle path.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { modelDims } from "../../../src/features/spec.js";
import { buildModel } from "../../../src/model/architectures.js";
import { selectBackend } from "../../../src/model/backend.js";
import { loadBundle, saveBundle, untrainedBundleMeta, WEIGHTS_FILE } from "../../../src/model/bundle.js";
import { dequantizeUint8, quantizeArtifacts, quantizeUint8 } from "../../../src/model/quantize.js";
import { Rng } from "../../../src/train/random.js";
import { TINY_SPEC } from "../../fixtures/tiny-bundle.js";

/**
 * The bound quantizeUint8 promises: half a quantization step, where the step is the range widened
 * to include 0 (so 0 is a level) over 255 levels. Nudging the range so 0 falls on a level moves
 * the levels by at most half a step, and the clamp at 0/255 then costs at most that half step at
 * the ends. Plus the float32 rounding of the dequantized value (Float32Array), 2^-24 relative,
 * taken as 2^-23 of the largest magnitude to be safe.
 */
function errorBound(values: Float32Array): number {
  let lo = 0, hi = 0;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return (hi - lo) / 255 / 2 + Math.max(-lo, hi) * 2 ** -23;
}

function maxAbsError(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

beforeAll(async () => {
  await selectBackend("cpu");
});

const randomValues = (n: number, seed: number, f: (rng: Rng) => number): Float32Array => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => f(rng));
};

describe("quantizeUint8 → dequantizeUint8", () => {
  const tensors: [string, Float32Array][] = [
    ["glorot-like, symmetric", randomValues(4096, 1, (r) => (r.next() - 0.5) * 0.4)],
    ["skewed: mostly positive", randomValues(1000, 2, (r) => r.next() * 3 - 0.2)],
    ["all positive (range widened to 0)", randomValues(777, 3, (r) => 5 + r.next())],
    ["all negative", randomValues(300, 4, (r) => -1e-3 - r.next() * 1e-3)],
    ["large magnitudes", randomValues(2048, 5, (r) => (r.next() - 0.3) * 2e4)],
    ["heavy-tailed", randomValues(2048, 6, (r) => Math.tan((r.next() - 0.5) * 3.1))],
  ];

  it.each(tensors)("%s: max abs error ≤ half a step (range incl. 0 / 255 / 2)", (_what, values) => {
    const q = quantizeUint8(values);
    const back = dequantizeUint8(q);
    expect(maxAbsError(values, back)).toBeLessThanOrEqual(errorBound(values));
    // Not vacuous: the error is of the order of the bound, and the levels span 0..255 or close.
    expect(maxAbsError(values, back)).toBeGreaterThan(errorBound(values) / 10);
  });

  it("keeps 0 exact (zero padding and zero-initialised biases stay zero)", () => {
    const values = randomValues(1000, 7, (r) => (r.next() < 0.2 ? 0 : (r.next() - 0.4) * 0.7));
    const back = dequantizeUint8(quantizeUint8(values));
    for (let i = 0; i < values.length; i++) if (values[i] === 0) expect(back[i]).toBe(0);
  });

  it.each([
    ["zeros", 0],
    ["a positive constant", 0.37],
    ["a negative constant", -2.5],
    ["a large constant", 12345.678],
  ])("a constant tensor (%s) survives to float32 precision", (_what, c) => {
    const values = new Float32Array(512).fill(c);
    const back = dequantizeUint8(quantizeUint8(values));
    const c32 = Math.fround(c);
    for (const v of back) expect(Math.abs(v - c32)).toBeLessThanOrEqual(Math.abs(c32) * 2 ** -22);
  });
});

describe("quantizeArtifacts", () => {
  it("quantizes tensors of ≥ minElements values within the bound, keeps small ones exact, and tfjs decodes it", () => {
    const big = randomValues(600, 8, (r) => (r.next() - 0.5) * 2);
    const small = randomValues(40, 9, (r) => r.next());
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: "big", shape: [20, 30], dtype: "float32" },
      { name: "small", shape: [40], dtype: "float32" },
    ];
    const data = new Uint8Array(big.byteLength + small.byteLength);
    data.set(new Uint8Array(big.buffer), 0);
    data.set(new Uint8Array(small.buffer), big.byteLength);
    const out = quantizeArtifacts(specs, data.buffer, 256);
    expect(out.data.byteLength).toBe(600 + 40 * 4);
    expect(out.specs[0]!.quantization?.dtype).toBe("uint8");
    expect(out.specs[1]!.quantization).toBeUndefined();
    const decoded = tf.io.decodeWeights(out.data, out.specs);
    try {
      const bigBack = decoded["big"]!.dataSync() as Float32Array;
      expect(maxAbsError(big, bigBack)).toBeLessThanOrEqual(errorBound(big));
      expect(Array.from(decoded["small"]!.dataSync())).toEqual(Array.from(small));
    } finally {
      Object.values(decoded).forEach((t) => t.dispose());
    }
  });

  it("refuses weights with NaN or infinity (a diverged training), small tensors included, naming the weight", () => {
    for (const bad of [NaN, Infinity]) {
      for (const [n, at] of [[600, 17], [40, 3]] as const) {
        const values = randomValues(n, 10, (r) => r.next());
        values[at] = bad;
        const specs: tf.io.WeightsManifestEntry[] = [{ name: "gru/kernel", shape: [n], dtype: "float32" }];
        expect(() => quantizeArtifacts(specs, values.buffer as ArrayBuffer, 256)).toThrow(expect.objectContaining({ code: "NON_FINITE_WEIGHTS", message: expect.stringContaining("gru/kernel") }));
      }
    }
  });
});

describe("a whole model, float32 vs uint8 bundle", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "earwitness-quantize-test-"));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("gives class probabilities within a small bound of the float model's", async () => {
    const spec = TINY_SPEC;
    const T = spec.windowSteps;
    const F = modelDims(spec);
    const labels = ["angry", "fear", "neutral"];
    // 16 units: the GRU kernel (8×48) and recurrent kernel (16×48) pass quantizeArtifacts's
    // 256-element threshold, so they really are quantized; the biases and the 16×3 classifier stay
    // float32, as in the shipped model.
    const model = buildModel("gru", { inputShape: [T, F], numClasses: labels.length, units: 16, seed: 3 });
    // Weights wider than Glorot's, so the softmax is far from uniform and errors are not hidden.
    const rng = new Rng(11);
    const wide = model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => (rng.next() - 0.5) * 1.6), w.shape));
    model.setWeights(wide);
    tf.dispose(wide);
    const meta = untrainedBundleMeta(spec, labels, { name: "q", version: "1.0.0", arch: "gru", units: 16 });
    const floatDir = path.join(root, "float");
    const quantDir = path.join(root, "uint8");
    await saveBundle(floatDir, model, meta, { quantize: false });
    await saveBundle(quantDir, model, meta, { quantize: true });
    model.dispose();
    expect((await stat(path.join(quantDir, WEIGHTS_FILE))).size).toBeLessThan((await stat(path.join(floatDir, WEIGHTS_FILE))).size / 2);

    const before = tf.memory().numTensors;
    const float = await loadBundle(floatDir);
    const quant = await loadBundle(quantDir);
    expect(quant.meta.quantization).toBe("uint8");
    const N = 256;
    const inRng = new Rng(12);
    const x = tf.tensor3d(Float32Array.from({ length: N * T * F }, () => (inRng.next() - 0.5) * 4), [N, T, F]);
    const pf = float.model.predict(x) as tf.Tensor;
    const pq = quant.model.predict(x) as tf.Tensor;
    const a = pf.dataSync() as Float32Array;
    const b = pq.dataSync() as Float32Array;
    const diff = maxAbsError(a, b);
    let spread = 0; // how far from uniform the float model's answers are: the test is not vacuous
    for (const p of a) spread = Math.max(spread, Math.abs(p - 1 / labels.length));
    const [argmaxF, argmaxQ] = tf.tidy(() => [pf.argMax(-1).dataSync(), pq.argMax(-1).dataSync()]);
    let flips = 0;
    for (let i = 0; i < N; i++) if (argmaxF![i] !== argmaxQ![i]) flips++;
    tf.dispose([x, pf, pq]);
    float.model.dispose();
    quant.model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    expect(spread).toBeGreaterThan(0.3);
    expect(diff).toBeGreaterThan(0); // really quantized
    // Measured (this seed, cpu backend): max |Δp| = 0.0074 over 256 windows × 3 classes, and 1 of
    // 256 top classes flips (a near tie). The bounds leave ~2.7× and 5× room: a broken scale or
    // offset in quantize.ts or in tfjs's dequantization moves probabilities by tenths, not hundredths.
    expect(diff).toBeLessThanOrEqual(0.02);
    expect(flips).toBeLessThanOrEqual(5);
  });
});
