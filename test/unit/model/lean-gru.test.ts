import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FEATURE_SPEC, modelDims, staticDims, windowSeconds, type FeatureSpec } from "../../../src/features/spec.js";
import { buildModel, compileFor, type Architecture } from "../../../src/model/architectures.js";
import { selectBackend } from "../../../src/model/backend.js";
import { loadBundle, saveBundle } from "../../../src/model/bundle.js";
import { EmotionClassifier } from "../../../src/model/classifier.js";
import { calibrateBatchNorm } from "../../../src/model/egru-cell.js";
import { LeanGruClassifier, LeanGruNetwork, LeanUnsupportedError } from "../../../src/model/lean-gru.js";
import { StatsPooling } from "../../../src/model/stats-pooling.js";
import { Rng } from "../../../src/train/random.js";
import { randomiseByFanIn } from "../../fixtures/fan-in-weights.js";

const T = 12;
const F = 7;
const K = 4;

let dir: string;

beforeAll(async () => {
  await selectBackend("cpu");
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-lean-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function windows(n: number, steps: number, dims: number, seed: number, scale = 1.5): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: steps * dims }, () => scale * rng.normal()));
}

function tfjsPredict(model: tf.LayersModel, xs: Float32Array[], steps: number, dims: number): Float32Array[] {
  return xs.map((x) => tf.tidy(() => (model.predict(tf.tensor3d(x, [1, steps, dims])) as tf.Tensor).dataSync() as Float32Array));
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((v, i) => v.forEach((x, k) => (m = Math.max(m, Math.abs(x - b[i]![k]!)))));
  return m;
}

/** Replaces every weight with seeded random values; BN variances stay positive. */
function randomiseWeights(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
      const variance = w.originalName.endsWith("variance");
      const gamma = w.originalName.endsWith("gamma");
      const data = Float32Array.from({ length: n }, () =>
        variance ? 0.2 + 2 * rng.next() : gamma ? 0.5 + rng.next() : 0.4 * rng.normal(),
      );
      return tf.tensor(data, w.shape as number[]);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

describe("LeanGruNetwork matches tfjs", () => {
  const cases: { name: string; arch: Architecture; opts: Record<string, unknown> }[] = [
    { name: "gru (sigmoid gates)", arch: "gru", opts: {} },
    { name: "egru with batch norm", arch: "egru", opts: {} },
    { name: "egru without batch norm", arch: "egru", opts: { batchNorm: false } },
    { name: "two-layer egru stack", arch: "egru", opts: { layers: 2 } },
    { name: "two-layer gru stack", arch: "gru", opts: { layers: 2 } },
    { name: "pgru (statistics-pooled head)", arch: "pgru", opts: {} },
    { name: "two-layer pgru", arch: "pgru", opts: { layers: 2 } },
    { name: "pegru with batch norm", arch: "pegru", opts: {} },
    { name: "lr (statistics of the input, no recurrent layer)", arch: "lr", opts: {} },
  ];
  for (const c of cases) {
    it(`${c.name}: random weights, several inputs, within 1e-4`, () => {
      const model = buildModel(c.arch, { inputShape: [T, F], numClasses: K, units: 9, seed: 3, ...c.opts });
      randomiseWeights(model, 11);
      const net = LeanGruNetwork.fromModel(model);
      const xs = [...windows(6, T, F, 5), ...windows(2, T, F, 6, 6)];
      const lean = xs.map((x) => net.predictInto(x, new Float32Array(K)));
      const ref = tfjsPredict(model, xs, T, F);
      model.dispose();
      expect(maxDiff(lean, ref)).toBeLessThan(1e-4);
      // The outputs are real distributions that differ between inputs (not a constant).
      for (const p of lean) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(maxDiff([lean[0]!], [lean[1]!])).toBeGreaterThan(1e-3);
    });
  }

  // cnnp pools by 2 twice: 13 steps → 7 → 4 and 15 → 8 → 4 end on a window with one step and one
  // padded step ('same'), 16 → 8 → 4 never does.
  const cnnpCases: { steps: number; opts: Record<string, unknown> }[] = [
    { steps: 13, opts: {} },
    { steps: 15, opts: { dangerHead: [0, 2], dropout: 0.25 } },
    { steps: 16, opts: { dropout: 0.25 } },
    { steps: 16, opts: { dangerHead: [1] } },
  ];
  for (const c of cnnpCases) {
    it(`cnnp over ${c.steps} steps, ${c.opts["dangerHead"] ? "danger head" : "dense softmax"}${c.opts["dropout"] ? ", dropout" : ""}: random weights, within 1e-4`, () => {
      const model = buildModel("cnnp", { inputShape: [c.steps, F], numClasses: K, units: 8, seed: 3, ...c.opts });
      expect(model.layers.some((l) => l.getClassName() === "Dropout")).toBe(c.opts["dropout"] !== undefined);
      expect(model.layers.some((l) => l.getClassName() === "DangerHead")).toBe(c.opts["dangerHead"] !== undefined);
      randomiseByFanIn(model, 11);
      const net = LeanGruNetwork.fromModel(model);
      const xs = [...windows(6, c.steps, F, 5), ...windows(2, c.steps, F, 6, 6)];
      const lean = xs.map((x) => net.predictInto(x, new Float32Array(K)));
      const ref = tfjsPredict(model, xs, c.steps, F);
      model.dispose();
      expect(maxDiff(lean, ref)).toBeLessThan(1e-4);
      for (const p of lean) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(maxDiff([lean[0]!], [lean[1]!])).toBeGreaterThan(1e-3);
    });
  }

  it("cnnp: the last step of an odd-length window counts (the pooling's padded window is not dropped)", () => {
    // A window of 13 steps whose last step alone differs: 'same' pooling keeps it in a window of
    // its own (7 steps, then 4), so tfjs's output changes, and the lean engine's must change alike.
    const steps = 13;
    const model = buildModel("cnnp", { inputShape: [steps, F], numClasses: K, units: 8, seed: 3 });
    randomiseByFanIn(model, 13);
    const net = LeanGruNetwork.fromModel(model);
    const base = windows(1, steps, F, 21)[0]!;
    const changed = base.slice();
    for (let i = (steps - 1) * F; i < steps * F; i++) changed[i] = 4;
    const lean = [base, changed].map((x) => net.predictInto(x, new Float32Array(K)));
    const ref = tfjsPredict(model, [base, changed], steps, F);
    model.dispose();
    expect(maxDiff(ref.slice(0, 1), ref.slice(1))).toBeGreaterThan(1e-3);
    expect(maxDiff(lean, ref)).toBeLessThan(1e-4);
  });

  /** input [steps, F] → `front` → StatsPooling → `tail` (default: a dense softmax). */
  function chain(steps: number, front: tf.layers.Layer[], tail: tf.layers.Layer[] = []): tf.LayersModel {
    const input = tf.input({ shape: [steps, F] });
    let x: tf.SymbolicTensor = input;
    for (const l of front) x = l.apply(x) as tf.SymbolicTensor;
    x = new StatsPooling({}).apply(x) as tf.SymbolicTensor;
    for (const l of tail) x = l.apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: K, activation: "softmax" }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: x });
  }

  const conv = (kernelSize: number, more: Partial<Parameters<typeof tf.layers.conv1d>[0]> = {}): tf.layers.Layer =>
    tf.layers.conv1d({ filters: 6, kernelSize, padding: "same", activation: "relu", ...more });

  it("convolutions and poolings cnnp does not use but computes the same way: even kernels, 'valid' padding, other pool sizes and strides, no bias", () => {
    const variants: { name: string; steps: number; front: () => tf.layers.Layer[]; tail?: () => tf.layers.Layer[] }[] = [
      // 'same' with an even kernel pads one more step after than before.
      { name: "even kernels", steps: 11, front: () => [conv(4), conv(2), conv(6)] },
      { name: "'valid' convolutions", steps: 14, front: () => [conv(3, { padding: "valid" }), conv(5, { padding: "valid" })] },
      {
        name: "pool 3 stride 1 'same' (padding before and after), pool 3 stride 2 'same', pool 2 'valid' on an odd length",
        steps: 17,
        front: () => [
          conv(3),
          tf.layers.maxPooling1d({ poolSize: 3, strides: 1, padding: "same" }),
          tf.layers.maxPooling1d({ poolSize: 3, strides: 2, padding: "same" }),
          conv(3),
          tf.layers.maxPooling1d({ poolSize: 2, padding: "valid" }),
        ],
      },
      { name: "pooling first, a convolution without bias, two hidden layers", steps: 12, front: () => [tf.layers.maxPooling1d({ poolSize: 2, padding: "same" }), conv(3, { useBias: false })], tail: () => [tf.layers.dense({ units: 5, activation: "relu" }), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 4, activation: "relu" })] },
    ];
    for (const v of variants) {
      const model = chain(v.steps, v.front(), v.tail?.() ?? []);
      randomiseByFanIn(model, 8);
      const xs = windows(5, v.steps, F, 14);
      const lean = LeanGruNetwork.fromModel(model);
      const got = xs.map((x) => lean.predictInto(x, new Float32Array(K)));
      const ref = tfjsPredict(model, xs, v.steps, F);
      model.dispose();
      expect(maxDiff(got, ref), v.name).toBeLessThan(1e-4);
      expect(maxDiff([got[0]!], [got[1]!]), v.name).toBeGreaterThan(1e-3);
    }
  });

  it("a hidden dense layer and dropout after a recurrent layer's last state", () => {
    const input = tf.input({ shape: [T, F] });
    let x = tf.layers.gru({ units: 5, recurrentActivation: "sigmoid" }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.3 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 6, activation: "relu" }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: K, activation: "softmax" }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    randomiseWeights(model, 5);
    const xs = windows(5, T, F, 15);
    const got = xs.map((w) => LeanGruNetwork.fromModel(model).predictInto(w, new Float32Array(K)));
    expect(maxDiff(got, tfjsPredict(model, xs, T, F))).toBeLessThan(1e-4);
    model.dispose();
  });

  it("refuses what it does not compute, with LEAN_UNSUPPORTED: strided, dilated, causal, channelsFirst or tanh convolutions, unpooled convolutions, average pooling, a tanh hidden layer", () => {
    const refused: { name: string; model: () => tf.LayersModel; why: RegExp }[] = [
      { name: "strides 2", model: () => chain(16, [conv(5, { strides: 2 })]), why: /strides 2 \(1 only\)/ },
      { name: "dilation 2", model: () => chain(16, [conv(3), conv(3, { dilationRate: 2 })]), why: /dilation rate 2 \(1 only\)/ },
      { name: "causal padding", model: () => chain(16, [conv(3, { padding: "causal" })]), why: /padding 'causal' \(same or valid only\)/ },
      { name: "channelsFirst", model: () => chain(F, [conv(3, { dataFormat: "channelsFirst" })]), why: /data format 'channelsFirst' \(channelsLast only\)/ },
      { name: "tanh", model: () => chain(16, [conv(3, { activation: "tanh" })]), why: /activation 'tanh' \(relu only\)/ },
      { name: "average pooling", model: () => chain(16, [conv(3), tf.layers.averagePooling1d({ poolSize: 2 })]), why: /AveragePooling1D after a convolution/ },
      { name: "tanh hidden layer", model: () => chain(16, [conv(3)], [tf.layers.dense({ units: 4, activation: "tanh" })]), why: /hidden layer .* activation 'tanh' \(relu only\)/ },
      {
        name: "no statistics pooling",
        model: () => {
          const input = tf.input({ shape: [16, F] });
          let x = conv(3).apply(input) as tf.SymbolicTensor;
          x = tf.layers.globalMaxPooling1d({}).apply(x) as tf.SymbolicTensor;
          x = tf.layers.dense({ units: K, activation: "softmax" }).apply(x) as tf.SymbolicTensor;
          return tf.model({ inputs: input, outputs: x });
        },
        why: /not followed by StatsPooling/,
      },
    ];
    for (const r of refused) {
      const model = r.model();
      try {
        expect(() => LeanGruNetwork.fromModel(model), r.name).toThrow(expect.objectContaining({ code: "LEAN_UNSUPPORTED", message: expect.stringMatching(r.why) }));
      } finally {
        model.dispose();
      }
    }
  });

  it("stock tfjs GRU with its default hardSigmoid gates", () => {
    const input = tf.input({ shape: [T, F] });
    const h = tf.layers.gru({ units: 5 }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: K, activation: "softmax" }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomiseWeights(model, 2);
    const xs = windows(5, T, F, 9);
    const lean = LeanGruNetwork.fromModel(model);
    const got = xs.map((x) => lean.predictInto(x, new Float32Array(K)));
    expect(maxDiff(got, tfjsPredict(model, xs, T, F))).toBeLessThan(1e-4);
    model.dispose();
  });

  /**
   * Windows like the daemon's short clips: the middle is speech, the first and last `edge` steps
   * are quiet padding with another mean (train/augment.ts padTo), so the per-step input statistics
   * of the EGRU differ between edge and middle steps.
   */
  function paddedWindows(n: number, edge: number, seed: number): Float32Array[] {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () =>
      Float32Array.from({ length: T * F }, (_, k) => {
        const t = Math.floor(k / F);
        return t < edge || t >= T - edge ? -2 + 0.1 * rng.normal() : 0.5 + 1.5 * rng.normal();
      }),
    );
  }

  /** Values of the layer weights whose name ends in `suffix`, per layer, as [rows][cols]. */
  function statRows(model: tf.LayersModel, suffix: string): number[][][] {
    return model.layers.flatMap((l) =>
      l.weights
        .filter((w) => w.originalName.endsWith(suffix))
        .map((w) => (w.read().arraySync() as number[][])),
    );
  }

  it("egru whose input statistics differ per step (calibrated on padded windows): within 1e-4", () => {
    const model = buildModel("egru", { inputShape: [T, F], numClasses: K, units: 9, seed: 3, layers: 2 });
    randomiseWeights(model, 12);
    const batches = [0, 1, 2].map((i) => tf.tensor3d(Float32Array.from(paddedWindows(48, 3, 20 + i).flatMap((w) => [...w])), [48, T, F]));
    expect(calibrateBatchNorm(model, batches)).toBe(2);
    tf.dispose(batches);
    // The calibration made the input statistics differ per step, in both layers: the edge rows'
    // means are far from the middle rows' (else this test could not tell per-step from shared).
    const means = statRows(model, "input_moving_mean");
    expect(means).toHaveLength(2);
    for (const rows of means) {
      expect(rows).toHaveLength(T);
      const gap = Math.max(...rows[0]!.map((v, j) => Math.abs(v - rows[T >> 1]![j]!)));
      expect(gap).toBeGreaterThan(0.05);
    }
    const xs = [...paddedWindows(6, 3, 30), ...windows(2, T, F, 31)];
    const net = LeanGruNetwork.fromModel(model);
    const got = xs.map((x) => net.predictInto(x, new Float32Array(K)));
    expect(maxDiff(got, tfjsPredict(model, xs, T, F))).toBeLessThan(1e-4);
    expect(maxDiff([got[0]!], [got[6]!])).toBeGreaterThan(1e-3);
    // The per-step rows matter: with each layer's input statistics replaced by their mean over
    // steps (what a shared-statistics implementation would use), tfjs gives other outputs.
    for (const l of model.layers) {
      if (l.weights.length === 0) continue;
      const values = l.getWeights().map((v, i) => {
        const name = l.weights[i]!.originalName;
        if (!/input_moving_(mean|variance)$/.test(name)) return v;
        return tf.tidy(() => tf.mul(tf.ones(v.shape), tf.mean(v, 0, true)));
      });
      l.setWeights(values);
    }
    expect(maxDiff(got, tfjsPredict(model, xs, T, F))).toBeGreaterThan(1e-3);
    model.dispose();
  });

  it("refuses EGRU input statistics shared by all steps ([3u], older bundles) with LEAN_UNSUPPORTED", () => {
    // tfjs can no longer load such weights into EnhancedGRU, so a stand-in layer of that class
    // name carries them: the lean engine reads only the class name, the config and the weights.
    const u = 5;
    class OldStatsEGRU extends tf.layers.Layer {
      static className = "EnhancedGRU";
      override build(): void {
        const w = (name: string, shape: number[]): void => {
          this.addWeight(name, shape, "float32", tf.initializers.ones());
        };
        w("kernel", [F, 3 * u]);
        w("recurrent_kernel", [u, 3 * u]);
        w("bias", [3 * u]);
        w("input_gamma", [3 * u]);
        w("recurrent_gamma", [3 * u]);
        w("input_moving_mean", [3 * u]);
        w("input_moving_variance", [3 * u]);
        w("recurrent_moving_mean", [T, 3 * u]);
        w("recurrent_moving_variance", [T, 3 * u]);
        this.built = true;
      }
      override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
        return [(s as tf.Shape)[0] ?? null, u];
      }
      override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
        const t = Array.isArray(x) ? x[0]! : x;
        return tf.zeros([t.shape[0]!, u]);
      }
      override getConfig(): tf.serialization.ConfigDict {
        return { ...super.getConfig(), units: u, batchNorm: true, epsilon: 1e-3, returnSequences: false };
      }
    }
    const input = tf.input({ shape: [T, F] });
    const h = new OldStatsEGRU({}).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: K, activation: "softmax" }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    try {
      expect(() => LeanGruNetwork.fromModel(model)).toThrow(
        expect.objectContaining({ code: "LEAN_UNSUPPORTED", message: expect.stringMatching(/input_moving_mean of shape \[15\].*per time step.*retrain/) }),
      );
    } finally {
      model.dispose();
    }
  });

  it("refuses the CNNs and other layouts with LEAN_UNSUPPORTED", () => {
    const cnn = buildModel("cnn", { inputShape: [16, 8, 1], numClasses: K });
    expect(() => LeanGruNetwork.fromModel(cnn)).toThrow(LeanUnsupportedError);
    cnn.dispose();
    const input = tf.input({ shape: [T, F] });
    const h = tf.layers.lstm({ units: 4 }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: K, activation: "softmax" }).apply(h) as tf.SymbolicTensor;
    const lstm = tf.model({ inputs: input, outputs: out });
    try {
      expect(() => LeanGruNetwork.fromModel(lstm)).toThrow(/LSTM.*GRU and EnhancedGRU only/);
    } finally {
      lstm.dispose();
    }
  });
});

describe("LeanGruClassifier on a bundle", () => {
  const spec: FeatureSpec = { ...DEFAULT_FEATURE_SPEC, melBands: 10, windowSteps: 15 };
  const S = staticDims(spec);
  const Fm = modelDims(spec);
  const labels = ["angry", "fear", "neutral", "sad"];

  async function trainedBundle(arch: Architecture, quantize: boolean, sub: string, opts: { dangerHead?: number[]; dropout?: number } = {}): Promise<string> {
    const model = buildModel(arch, { inputShape: [spec.windowSteps, Fm], numClasses: labels.length, units: 8, seed: 4, ...opts });
    compileFor(arch, model, 0.01);
    // A few epochs on random, learnable data: moves the weights and the BN moving statistics.
    const rng = new Rng(1);
    const n = 48;
    const xs = tf.tensor3d(Float32Array.from({ length: n * spec.windowSteps * Fm }, () => rng.normal()), [n, spec.windowSteps, Fm]);
    const ys = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % labels.length), "int32"), labels.length);
    await model.fit(xs, ys, { epochs: 3, batchSize: 16, verbose: 0 });
    tf.dispose([xs, ys]);
    const rngN = new Rng(2);
    const d = path.join(dir, sub);
    await saveBundle(
      d,
      model,
      {
        name: sub,
        version: "0.0.1",
        created: "2025-01-01T00:00:00.000Z",
        architecture: { arch, ...(opts.dangerHead ? { danger_head: true } : {}) },
        labels,
        danger: ["angry", "fear"],
        features: spec,
        normalisation: {
          mean: Array.from({ length: S }, () => rngN.normal()),
          std: Array.from({ length: S }, () => 0.5 + rngN.next()),
          deltaStd: Array.from({ length: S }, () => 0.5 + rngN.next()),
        },
        window: { steps: spec.windowSteps, seconds: windowSeconds(spec) },
        training: { corpora: [] },
        metrics: {},
        selftest: null,
      },
      { quantize },
    );
    model.dispose();
    return d;
  }

  const bundleCases: { arch: Architecture; name: string; opts?: { dangerHead?: number[]; dropout?: number } }[] = [
    ...(["egru", "gru", "pgru", "pegru", "lr", "cnnp"] as const).map((arch) => ({ arch, name: arch })),
    // 15 steps: both of cnnp's poolings see an odd length (15 → 8 → 4).
    { arch: "cnnp", name: "cnnp with a danger head and dropout", opts: { dangerHead: [0, 1], dropout: 0.2 } },
  ];
  for (const { arch, name, opts } of bundleCases) {
    it(`${name}: trained, saved as uint8, loaded — same probabilities as EmotionClassifier within 1e-4`, async () => {
      const bundle = await loadBundle(await trainedBundle(arch, true, `${name.replace(/ /g, "-")}-q`, opts));
      const ref = new EmotionClassifier(bundle);
      const lean = LeanGruClassifier.fromBundle(bundle);
      const steps = windows(10, spec.windowSteps, S, 3, 2);
      const a = lean.predict(steps);
      const b = ref.predict(steps);
      expect(maxDiff(a, b)).toBeLessThan(1e-4);
      if (arch === "cnnp") {
        // Outputs that differ between windows, so that the comparison is not of constants.
        expect(Math.max(...a.map((p) => maxDiff([p], [a[0]!])))).toBeGreaterThan(1e-3);
      }
      // With adapted statistics too (norm "speaker" bundles pass them; "window" ignores the mean).
      const adapted = { mean: new Float32Array(S).fill(0.3), std: new Float32Array(S).fill(1.2) };
      expect(maxDiff(lean.predict(steps, adapted), ref.predict(steps, adapted))).toBeLessThan(1e-4);
      expect(lean.labels).toEqual(labels);
      expect(lean.spec).toEqual(spec);
      ref.dispose();
    });
  }

  it("returns fresh arrays: earlier results are not overwritten by later calls", async () => {
    const bundle = await loadBundle(await trainedBundle("egru", false, "egru-f"));
    const lean = LeanGruClassifier.fromBundle(bundle);
    bundle.model.dispose();
    const [w1, w2] = windows(2, spec.windowSteps, S, 8, 3);
    const first = lean.predict([w1!])[0]!;
    const copy = first.slice();
    lean.predict([w2!]);
    expect(Array.from(first)).toEqual(Array.from(copy));
  });

  it("does not grow the heap over many calls", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const bundle = await loadBundle(await trainedBundle("egru", true, "egru-mem"));
    const lean = LeanGruClassifier.fromBundle(bundle);
    bundle.model.dispose();
    const steps = windows(4, spec.windowSteps, S, 4);
    for (let i = 0; i < 200; i++) lean.predict(steps);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 5000; i++) lean.predict(steps);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 20 000 windows; a leak of even one small array per window would be > 2 MB.
    expect(grown).toBeLessThan(1_000_000);
  });

  it("refuses a CNN bundle", async () => {
    const cnnSpec = { ...spec, deltas: false };
    const model = buildModel("cnn", { inputShape: [cnnSpec.windowSteps, staticDims(cnnSpec), 1], numClasses: 2 });
    const d = path.join(dir, "cnn");
    await saveBundle(
      d,
      model,
      {
        name: "cnn",
        version: "0.0.1",
        created: "2025-01-01T00:00:00.000Z",
        architecture: { arch: "cnn" },
        labels: ["angry", "neutral"],
        danger: ["angry"],
        features: cnnSpec,
        normalisation: { mean: new Array<number>(S).fill(0), std: new Array<number>(S).fill(1), deltaStd: new Array<number>(S).fill(1) },
        window: { steps: cnnSpec.windowSteps, seconds: windowSeconds(cnnSpec) },
        training: { corpora: [] },
        metrics: {},
        selftest: null,
      },
      { quantize: false },
    );
    model.dispose();
    const bundle = await loadBundle(d);
    expect(() => LeanGruClassifier.fromBundle(bundle)).toThrow(expect.objectContaining({ code: "LEAN_UNSUPPORTED" }));
    bundle.model.dispose();
  });
});
