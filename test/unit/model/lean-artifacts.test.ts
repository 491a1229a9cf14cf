/**
 * The tfjs-free reader of a bundle's files (src/model/lean-artifacts.ts) against tfjs itself: the
 * same weights bit for bit as tfjs loads into its variables, hence the same probabilities as the
 * lean engine built from the tfjs model, on the shipped bundle and on fixture bundles of every
 * architecture it runs (the recurrent ones, lr and cnnp), quantised and not. What it does not read, it refuses (LEAN_UNSUPPORTED),
 * so that the caller loads tfjs instead.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shippedModelDir } from "../../../src/assemble/paths.js";
import { modelDims, staticDims, windowSeconds, DEFAULT_FEATURE_SPEC, type FeatureSpec } from "../../../src/features/spec.js";
import { buildModel, type Architecture } from "../../../src/model/architectures.js";
import { selectBackend } from "../../../src/model/backend.js";
import { loadBundle, MODEL_FILE, readBundle, saveBundle, type ModelArtifacts } from "../../../src/model/bundle.js";
import { EmotionClassifier } from "../../../src/model/classifier.js";
import { decodeWeights, leanNetworkFromArtifacts, readLayerChain } from "../../../src/model/lean-artifacts.js";
import { LeanGruNetwork, LeanUnsupportedError, shortWeightName } from "../../../src/model/lean-gru.js";
import { Rng } from "../../../src/train/random.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { randomiseByFanIn } from "../../fixtures/fan-in-weights.js";

let dir: string;

beforeAll(async () => {
  await selectBackend("cpu");
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-lean-artifacts-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every weight tfjs holds for `model`, as "layer/short name" → values. */
function tfjsWeights(model: tf.LayersModel): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const layer of model.layers) {
    const values = layer.getWeights();
    layer.weights.forEach((w, i) => {
      out.set(`${layer.name}/${shortWeightName(w.originalName)}`, { shape: values[i]!.shape.slice(), data: values[i]!.dataSync() as Float32Array });
    });
  }
  return out;
}

/** The reader's weights, keyed the same way. */
function readerWeights(artifacts: ModelArtifacts): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const l of readLayerChain(artifacts).layers) for (const [short, w] of l.weights) out.set(`${l.name}/${short}`, w);
  return out;
}

function windows(n: number, len: number, seed: number, scale = 1.5): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: len }, () => scale * rng.normal()));
}

/**
 * The reader's network and the one built from tfjs's loaded model: identical weights (compared
 * bit for bit: Object.is per value, so even a −0/+0 or NaN difference fails), identical outputs,
 * and within 1e-4 of tfjs's own inference.
 */
async function expectSameAsTfjs(bundleDir: string): Promise<void> {
  const files = await readBundle(bundleDir);
  const loaded = await loadBundle(bundleDir);
  try {
    const ours = readerWeights(files.artifacts);
    const theirs = tfjsWeights(loaded.model);
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    expect(ours.size).toBeGreaterThan(0);
    for (const [name, w] of theirs) {
      const mine = ours.get(name)!;
      expect(mine.shape, name).toEqual(w.shape);
      expect(mine.data.length, name).toBe(w.data.length);
      const firstDiff = w.data.findIndex((v, i) => !Object.is(v, mine.data[i]));
      expect(firstDiff, `${name}: first differing value`).toBe(-1);
    }
    const fromFiles = leanNetworkFromArtifacts(files.artifacts);
    const fromTfjs = LeanGruNetwork.fromModel(loaded.model);
    const { meta } = files;
    const xs = windows(6, meta.features.windowSteps * modelDims(meta.features), 5);
    const a = xs.map((x) => fromFiles.predictInto(x, new Float32Array(fromFiles.classes)));
    const b = xs.map((x) => fromTfjs.predictInto(x, new Float32Array(fromTfjs.classes)));
    expect(a.map((p) => Array.from(p))).toEqual(b.map((p) => Array.from(p)));
    // And the engines agree with tfjs's inference as before (lean-gru.test.ts), on static steps.
    const ref = new EmotionClassifier(loaded);
    const steps = windows(4, meta.features.windowSteps * staticDims(meta.features), 6, 1);
    const viaTfjs = ref.predict(steps);
    const { LeanGruClassifier } = await import("../../../src/model/lean-gru.js");
    const viaFiles = LeanGruClassifier.forBundle(meta, fromFiles).predict(steps);
    viaTfjs.forEach((p, i) => p.forEach((v, k) => expect(Math.abs(v - viaFiles[i]![k]!)).toBeLessThan(1e-4)));
  } finally {
    loaded.model.dispose();
  }
}

/** Replaces every weight with seeded random values; BN variances stay positive. */
function randomiseWeights(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
      const variance = w.originalName.endsWith("variance");
      const data = Float32Array.from({ length: n }, () => (variance ? 0.2 + 2 * rng.next() : 0.4 * rng.normal()));
      return tf.tensor(data, w.shape as number[]);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

const SPEC: FeatureSpec = { ...DEFAULT_FEATURE_SPEC, melBands: 10, windowSteps: 12 };

async function fixtureBundle(sub: string, model: tf.LayersModel, arch: Architecture, quantize: boolean, labels = ["angry", "fear", "neutral"]): Promise<string> {
  const S = staticDims(SPEC);
  const d = path.join(dir, sub);
  await saveBundle(
    d,
    model,
    {
      name: sub,
      version: "0.0.1",
      created: "2025-01-01T00:00:00.000Z",
      architecture: { arch },
      labels,
      danger: ["angry", "fear"],
      features: SPEC,
      normalisation: { mean: new Array<number>(S).fill(0.1), std: new Array<number>(S).fill(1.3), deltaStd: new Array<number>(S).fill(0.7) },
      window: { steps: SPEC.windowSteps, seconds: windowSeconds(SPEC) },
      training: { corpora: [] },
      metrics: {},
      selftest: null,
    },
    { quantize },
  );
  model.dispose();
  return d;
}

async function builtBundle(arch: Architecture, opts: Record<string, unknown>, quantize: boolean, sub: string): Promise<string> {
  const model = buildModel(arch, { inputShape: [SPEC.windowSteps, modelDims(SPEC)], numClasses: 3, units: 20, seed: 3, ...opts });
  // cnnp's relu chain saturates its softmax under the flat draws (fan-in-weights.ts).
  if (arch === "cnnp") randomiseByFanIn(model, 17);
  else randomiseWeights(model, 17);
  return fixtureBundle(sub, model, arch, quantize);
}

describe("the tfjs-free bundle reader gives tfjs's weights and the lean engine's outputs", () => {
  it("on the shipped bundle (uint8)", async () => {
    await expectSameAsTfjs(shippedModelDir());
  });

  const cases: { name: string; arch: Architecture; opts: Record<string, unknown> }[] = [
    { name: "egru with per-step batch norm", arch: "egru", opts: {} },
    { name: "egru without batch norm", arch: "egru", opts: { batchNorm: false } },
    { name: "two-layer gru", arch: "gru", opts: { layers: 2 } },
    { name: "pegru (pooled head)", arch: "pegru", opts: {} },
    { name: "lr (no recurrent layer)", arch: "lr", opts: {} },
    // 12 steps: the poolings halve 12 → 6 → 3 (the odd lengths are in lean-gru.test.ts).
    { name: "cnnp (convolutions, pooling, a hidden layer)", arch: "cnnp", opts: {} },
    { name: "cnnp with dropout and a danger head", arch: "cnnp", opts: { dropout: 0.3, dangerHead: [0, 1] } },
  ];
  for (const c of cases) {
    for (const quantize of [true, false]) {
      it(`on a fixture ${c.name} bundle, ${quantize ? "uint8" : "float32"}`, async () => {
        const d = await builtBundle(c.arch, c.opts, quantize, `${c.arch}-${Object.keys(c.opts).join("")}-${quantize ? "q" : "f"}`);
        // The fixture really is quantised (else the uint8 path would go untested), except lr's:
        // its few weights are all below quantizeArtifacts' 256-value floor.
        const manifest = JSON.parse(await readFile(path.join(d, MODEL_FILE), "utf8")) as { weightsManifest: { weights: { quantization?: unknown }[] }[] };
        expect(manifest.weightsManifest[0]!.weights.some((w) => w.quantization !== undefined)).toBe(quantize && c.arch !== "lr");
        await expectSameAsTfjs(d);
      });
    }
  }

  it("on tfjs's stock GRU with its default hard_sigmoid gates (snake_case config values converted as tfjs does)", async () => {
    const input = tf.input({ shape: [SPEC.windowSteps, modelDims(SPEC)], name: "features" });
    const h = tf.layers.gru({ units: 6, name: "gru_1" }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: "softmax", name: "classifier" }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomiseWeights(model, 4);
    const d = await fixtureBundle("stock-hard-sigmoid", model, "gru", true);
    expect(await readFile(path.join(d, MODEL_FILE), "utf8")).toContain('"recurrent_activation":"hard_sigmoid"');
    await expectSameAsTfjs(d);
  });
});

describe("decodeWeights", () => {
  it("dequantises uint8 and uint16 as q * scale + min, rounded once to float32", () => {
    const data = new ArrayBuffer(2 + 4 + 8);
    new Uint8Array(data, 0, 2).set([0, 255]);
    new Uint16Array(data, 2, 2).set([1, 65535]);
    // The float32 weight starts at byte 6, not a multiple of 4: the decoder copies, as tfjs does.
    const f = new Float32Array([0.1, -2.5]);
    new Uint8Array(data, 6, 8).set(new Uint8Array(f.buffer));
    const w = decodeWeights(
      [
        { name: "a/k", shape: [2], dtype: "float32", quantization: { dtype: "uint8", min: -1, scale: 0.1 } },
        { name: "a/r", shape: [2], dtype: "float32", quantization: { dtype: "uint16", min: 0.5, scale: 1e-3 } },
        { name: "a/b", shape: [2], dtype: "float32" },
      ],
      data,
    );
    expect(Array.from(w.get("a/k")!.data)).toEqual([Math.fround(-1), Math.fround(255 * 0.1 - 1)]);
    expect(Array.from(w.get("a/r")!.data)).toEqual([Math.fround(1e-3 + 0.5), Math.fround(65535 * 1e-3 + 0.5)]);
    expect(Array.from(w.get("a/b")!.data)).toEqual(Array.from(f));
  });

  it("refuses what it does not decode, and data that ends too soon", () => {
    const data = new ArrayBuffer(8);
    expect(() => decodeWeights([{ name: "a/k", shape: [2], dtype: "float32", quantization: { dtype: "float16" } }], data)).toThrow(LeanUnsupportedError);
    expect(() => decodeWeights([{ name: "a/k", shape: [2], dtype: "int32" }], data)).toThrow(LeanUnsupportedError);
    expect(() => decodeWeights([{ name: "a/k", shape: [3], dtype: "float32" }], data)).toThrow(/ends at byte 12 of 8/);
    expect(() => decodeWeights([{ name: "a/k", shape: [2], dtype: "float32", quantization: { dtype: "uint8", scale: 1 } }], data)).toThrow(/without min and scale/);
  });
});

describe("what the reader refuses, so that tfjs loads the bundle instead (LEAN_UNSUPPORTED)", () => {
  async function refusal(d: string): Promise<unknown> {
    const files = await readBundle(d);
    try {
      leanNetworkFromArtifacts(files.artifacts);
      return null;
    } catch (err) {
      return err;
    }
  }

  it("a network that is not a GRU stack (the constant test bundle: pooling + dense)", async () => {
    const d = path.join(dir, "constant");
    await writeConstantBundle(d);
    expect(await refusal(d)).toMatchObject({ code: "LEAN_UNSUPPORTED", message: expect.stringMatching(/GlobalAveragePooling1D/) });
  });

  it("a manifest with a weight that belongs to no layer, or lacks one a layer has", async () => {
    const d = await builtBundle("gru", {}, false, "gru-manifest");
    const files = await readBundle(d);
    const { weightSpecs, weightData, modelTopology } = files.artifacts;
    const extra: ModelArtifacts = {
      modelTopology,
      weightSpecs: [...weightSpecs, { name: "ghost/kernel", shape: [1], dtype: "float32" }],
      weightData: new Uint8Array([...new Uint8Array(weightData), 0, 0, 0, 0]).buffer,
    };
    expect(() => readLayerChain(extra)).toThrow(/ghost\/kernel belongs to no layer/);
    const biasAt = weightSpecs.findIndex((s) => s.name.endsWith("gru_1/bias"));
    expect(biasAt).toBeGreaterThanOrEqual(0);
    const missing: ModelArtifacts = { modelTopology, weightSpecs: weightSpecs.filter((_, i) => i !== biasAt), weightData };
    expect(() => readLayerChain(missing)).toThrow(/gru_1 \(GRU\) has weights kernel, recurrent_kernel, expected kernel, recurrent_kernel, bias/);
  });

  it("a topology that is not a chain, or not a functional model", async () => {
    const d = await builtBundle("gru", {}, false, "gru-topology");
    const files = await readBundle(d);
    const topo = JSON.parse(JSON.stringify(files.artifacts.modelTopology)) as { class_name: string; config: { layers: { inbound_nodes: unknown[] }[] } };
    const rewired = JSON.parse(JSON.stringify(topo)) as typeof topo;
    // The dense head reads the input layer instead of the GRU.
    rewired.config.layers[2]!.inbound_nodes = [[["features", 0, 0, {}]]];
    expect(() => readLayerChain({ ...files.artifacts, modelTopology: rewired as unknown as Record<string, unknown> })).toThrow(/not a chain/);
    expect(() => readLayerChain({ ...files.artifacts, modelTopology: { ...topo, class_name: "Sequential" } })).toThrow(/a functional Model only/);
  });

  it("a convolution or pooling it does not compute (strides, dilation, causal padding, channels first, another activation)", async () => {
    const d = await builtBundle("cnnp", {}, false, "cnnp-configs");
    const files = await readBundle(d);
    // The refusal names the key as tfjs reads it: model.json's snake_case, camelCased.
    const edits: { layer: string; key: string; value: unknown; why: RegExp }[] = [
      { layer: "conv_2", key: "strides", value: [2], why: /conv_2 has strides 2 \(1 only\)/ },
      { layer: "conv_2", key: "dilation_rate", value: [2], why: /conv_2 has dilation rate 2 \(1 only\)/ },
      { layer: "conv_1", key: "padding", value: "causal", why: /conv_1 has padding 'causal'/ },
      { layer: "conv_1", key: "data_format", value: "channels_first", why: /conv_1 has data format 'channelsFirst'/ },
      { layer: "pool_1", key: "data_format", value: "channels_first", why: /pool_1 has data format 'channelsFirst'/ },
      { layer: "conv_3", key: "activation", value: "elu", why: /conv_3 has activation 'elu' \(relu only\)/ },
      { layer: "fc_1", key: "activation", value: "sigmoid", why: /fc_1 has activation 'sigmoid' \(relu only\)/ },
    ];
    for (const e of edits) {
      const topo = JSON.parse(JSON.stringify(files.artifacts.modelTopology)) as { config: { layers: { name: string; config: Record<string, unknown> }[] } };
      const layer = topo.config.layers.find((l) => l.name === e.layer)!;
      layer.config[e.key] = e.value;
      expect(() => leanNetworkFromArtifacts({ ...files.artifacts, modelTopology: topo as unknown as Record<string, unknown> }), `${e.layer}.${e.key}`).toThrow(
        expect.objectContaining({ code: "LEAN_UNSUPPORTED", message: expect.stringMatching(e.why) }),
      );
    }
    // The unedited topology reads (so the refusals above are the edits').
    expect(leanNetworkFromArtifacts(files.artifacts).classes).toBe(3);
  });

  it("a model.json edited to another shape is still refused by the bundle's hashes first", async () => {
    const d = await builtBundle("gru", {}, false, "gru-edited");
    const file = path.join(d, MODEL_FILE);
    await writeFile(file, (await readFile(file, "utf8")).replace('"units":20', '"units":21'));
    await expect(readBundle(d)).rejects.toMatchObject({ code: "CHECKSUM_MISMATCH" });
  });
});
