/**
 * The recurrent networks (`gru`, `egru`: stacked GRU layers + dense softmax) run in plain
 * TypeScript over Float32Arrays, with the weights of a loaded tfjs model.
 *
 * Why: measured on this project's 2-core VM (docs/performance.md, `npm run bench`), tfjs spends
 * tens of milliseconds per 60-step window of a 64-unit GRU on the wasm backend, nearly all of it
 * per-kernel overhead — the recurrence is ~10 small kernels per time step, each a dispatch, a
 * tensor allocation and a free, for a 64 × 192 matrix-vector product that is ~12 k multiply-adds.
 * The same arithmetic in a JavaScript loop over preallocated buffers takes about a millisecond.
 * The outputs agree with tfjs within 1e-4 (test/unit/model/lean-gru.test.ts proves it for gru and
 * egru, random and trained-then-quantized weights).
 *
 * What is computed, per layer (tfjs's GRU convention: gate order z, r, h in the weight columns,
 * reset applied before the recurrent product of the candidate, no `resetAfter`):
 *
 *   z_t = σ(x_t W_z + b_z + [t>0](h_{t-1} U_z + c_z))
 *   r_t = σ(x_t W_r + b_r + [t>0](h_{t-1} U_r + c_r))
 *   h̃_t = tanh(x_t W_h + b_h + [t>0]((r_t ⊙ h_{t-1}) U_h + c_h))
 *   h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t,     h_{-1} = 0
 *
 For the stock GRU c = 0 (and at t = 0 the recurrent term is 0 anyway, h being 0). For the
 * EnhancedGRU (src/model/egru-cell.ts) in inference mode, batch norm is applied the way its `call`
 * applies it: with s = γ/√(σ²+ε) and o = −μ·s for each projection, W ← W·s_in, b ← b + o_in, and
 * the recurrent term of step t becomes (h·U)·s_rec,t + o_rec,t, where the recurrent statistics
 * have one row per step (row min(t, rows − 1); older bundles have one row) — and the recurrent term
 * is defined as 0 at t = 0, which is why the offset sits inside the [t>0]. The folding is done here from the layer's own weights (gamma and moving
 * statistics, matched by name) rather than through a method on the layer, so egru-cell.ts stays
 * as it is; the test holds the two implementations to the same outputs.
 *
 * Dropout is a training-only operation and is ignored, as tfjs ignores it at inference.
 */
import type * as tf from "@tensorflow/tfjs";
import { BundleError } from "../errors.js";
import { windowFeatures, type AdaptedStats, type NormStats } from "../features/normalise.js";
import { modelDims, type FeatureSpec } from "../features/spec.js";
import type { WindowClassifier } from "../pipeline.js";
import type { LoadedBundle } from "./bundle.js";

type GateFn = "sigmoid" | "hardSigmoid";

/** One recurrent layer, weights transposed so every output is a dot product over a contiguous row. */
interface LeanLayer {
  inDims: number;
  units: number;
  /** [3u][inDims]: row j is column j of the (folded) kernel. */
  kernelT: Float32Array;
  /** [3u][u]: row j is column j of the (folded) recurrent kernel. */
  recurrentT: Float32Array;
  /** [3u] input-side bias (incl. the folded input BN offset). */
  bias: Float32Array;
  /**
   * Recurrent batch norm, per step: for t > 0 the recurrent term is (h·U)·scale[row] + offset[row]
   * with row = min(t, rows − 1). Stock GRU and EGRU without batch norm: rows = 1, scale null
   * (= 1), offset 0. EGRU bundles keep either one row ([3u] statistics, older bundles) or one per
   * step ([T, 3u]).
   */
  rows: number;
  recurrentScale: Float32Array | null;
  recurrentBias: Float32Array;
  gate: GateFn;
  returnSequences: boolean;
}

interface LeanHead {
  inDims: number;
  classes: number;
  /** [classes][inDims]. */
  kernelT: Float32Array;
  bias: Float32Array;
}

/** Thrown for a model this implementation does not cover; callers fall back to tfjs. */
export class LeanUnsupportedError extends BundleError {}

const unsupported = (why: string): LeanUnsupportedError =>
  new LeanUnsupportedError("LEAN_UNSUPPORTED", `lean inference does not support this model: ${why}; run it with tfjs (EmotionClassifier)`);

/** Weights of a layer by their short name ("kernel", "input_gamma", …), as Float32Arrays. */
function namedWeights(layer: tf.layers.Layer): Map<string, { shape: number[]; data: Float32Array }> {
  const vars = layer.weights;
  const values = layer.getWeights();
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  vars.forEach((v, i) => {
    const t = values[i]!;
    const short = v.originalName.split("/").pop()!.replace(/_\d+$/, "");
    out.set(short, { shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) });
  });
  return out;
}

function need(w: Map<string, { shape: number[]; data: Float32Array }>, name: string, layer: string): { shape: number[]; data: Float32Array } {
  const v = w.get(name);
  if (!v) throw unsupported(`layer ${layer} has no weight '${name}' (has ${[...w.keys()].join(", ")})`);
  return v;
}

/** [rows][cols] row-major → [cols][rows], with column j scaled by colScale[j] when given. */
function transposeScaled(data: Float32Array, rows: number, cols: number, colScale?: Float64Array): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]! * (colScale ? colScale[j]! : 1);
  }
  return out;
}

function gateOf(name: unknown, layer: string): GateFn {
  if (name === "sigmoid" || name === "hardSigmoid") return name;
  throw unsupported(`layer ${layer} has recurrent activation '${String(name)}' (sigmoid or hardSigmoid only)`);
}

function recurrentLayer(layer: tf.layers.Layer, inDims: number): LeanLayer {
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  const name = layer.name;
  if (cfg["goBackwards"] === true || cfg["stateful"] === true) throw unsupported(`layer ${name} is backwards or stateful`);
  const returnSequences = cfg["returnSequences"] === true;
  const units = Number(cfg["units"]);
  const w = namedWeights(layer);
  const kernel = need(w, "kernel", name);
  const recurrent = need(w, "recurrent_kernel", name);
  if (kernel.shape[0] !== inDims || kernel.shape[1] !== 3 * units || recurrent.shape[0] !== units || recurrent.shape[1] !== 3 * units) {
    throw unsupported(`layer ${name} has kernel ${JSON.stringify(kernel.shape)} / ${JSON.stringify(recurrent.shape)} for ${inDims} inputs and ${units} units`);
  }
  const bias = w.get("bias")?.data ?? new Float32Array(3 * units);
  const recurrentBias = new Float32Array(3 * units);
  const plain = { rows: 1, recurrentScale: null };
  if (cls === "GRU") {
    if (cfg["activation"] !== "tanh") throw unsupported(`layer ${name} has activation '${String(cfg["activation"])}' (tanh only)`);
    return {
      inDims,
      units,
      kernelT: transposeScaled(kernel.data, inDims, 3 * units),
      recurrentT: transposeScaled(recurrent.data, units, 3 * units),
      bias: Float32Array.from(bias),
      ...plain,
      recurrentBias,
      gate: gateOf(cfg["recurrentActivation"], name),
      returnSequences,
    };
  }
  // EnhancedGRU: sigmoid gates, tanh candidate (fixed in egru-cell.ts).
  if (cfg["batchNorm"] !== true) {
    return {
      inDims,
      units,
      kernelT: transposeScaled(kernel.data, inDims, 3 * units),
      recurrentT: transposeScaled(recurrent.data, units, 3 * units),
      bias: Float32Array.from(bias),
      ...plain,
      recurrentBias,
      gate: "sigmoid",
      returnSequences,
    };
  }
  const eps = Number(cfg["epsilon"]);
  if (!Number.isFinite(eps)) throw unsupported(`layer ${name} has no epsilon in its config`);
  // Frozen batch norm as scale and offset, s = γ/√(σ²+ε), o = −μ·s, computed in float64 then
  // rounded once (tfjs rounds per op in float32; the difference is ~1e-7 relative). `gamma` has
  // 3u values; the statistics 3u (one row) or rows × 3u (one row per time step).
  const fold = (gamma: Float32Array, mean: Float32Array, variance: Float32Array): [Float64Array, Float64Array] => {
    const s = new Float64Array(mean.length);
    const o = new Float64Array(mean.length);
    for (let k = 0; k < mean.length; k++) {
      const j = k % (3 * units);
      s[k] = gamma[j]! / Math.sqrt(variance[k]! + eps);
      o[k] = -mean[k]! * s[k]!;
    }
    return [s, o];
  };
  const inMean = need(w, "input_moving_mean", name);
  if (inMean.data.length !== 3 * units) throw unsupported(`layer ${name} has input statistics of shape ${JSON.stringify(inMean.shape)}`);
  const [inS, inO] = fold(need(w, "input_gamma", name).data, inMean.data, need(w, "input_moving_variance", name).data);
  const recMean = need(w, "recurrent_moving_mean", name);
  const recVar = need(w, "recurrent_moving_variance", name);
  const rows = recMean.data.length / (3 * units);
  if (!Number.isInteger(rows) || rows < 1 || recVar.data.length !== recMean.data.length) {
    throw unsupported(`layer ${name} has recurrent statistics of shape ${JSON.stringify(recMean.shape)}`);
  }
  const [recS, recO] = fold(need(w, "recurrent_gamma", name).data, recMean.data, recVar.data);
  const foldedBias = new Float32Array(3 * units);
  for (let j = 0; j < 3 * units; j++) foldedBias[j] = bias[j]! + inO[j]!;
  return {
    inDims,
    units,
    kernelT: transposeScaled(kernel.data, inDims, 3 * units, inS),
    recurrentT: transposeScaled(recurrent.data, units, 3 * units),
    bias: foldedBias,
    rows,
    recurrentScale: Float32Array.from(recS),
    recurrentBias: Float32Array.from(recO),
    gate: "sigmoid",
    returnSequences,
  };
}

function denseHead(layer: tf.layers.Layer, inDims: number): LeanHead {
  const cfg = layer.getConfig();
  if (cfg["activation"] !== "softmax") throw unsupported(`output layer ${layer.name} has activation '${String(cfg["activation"])}' (softmax only)`);
  const w = namedWeights(layer);
  const kernel = need(w, "kernel", layer.name);
  const classes = kernel.shape[1]!;
  if (kernel.shape[0] !== inDims) throw unsupported(`output layer ${layer.name} expects ${kernel.shape[0]} inputs, gets ${inDims}`);
  return {
    inDims,
    classes,
    kernelT: transposeScaled(kernel.data, inDims, classes),
    bias: Float32Array.from(w.get("bias")?.data ?? new Float32Array(classes)),
  };
}

/**
 * The inference-time weights of one GRU or EnhancedGRU layer in tfjs's stock GRU layout
 * (kernel [in][3u], recurrent kernel [u][3u], bias [3u]), batch norm folded in, plus the
 * recurrent offset that the stock layer cannot express (0 for a GRU or an EGRU without batch
 * norm). The benchmark uses it to run the same network on tfjs's stock GRU layer.
 */
export function foldedGruWeights(
  layer: tf.layers.Layer,
  inDims: number,
): { units: number; kernel: Float32Array; recurrentKernel: Float32Array; bias: Float32Array; recurrentOffset: Float32Array; exact: boolean } {
  const L = recurrentLayer(layer, inDims);
  const g3 = 3 * L.units;
  // The stock layer has one recurrent kernel: use the last row of per-step statistics (the one
  // every step ≥ rows − 1 uses), scaled into U. Exact only with a single row and no offset.
  const last = (L.rows - 1) * g3;
  const scale = L.recurrentScale ? Float64Array.from(L.recurrentScale.subarray(last, last + g3)) : undefined;
  const back = (t: Float32Array, rows: number, cols: number): Float32Array => transposeScaled(t, cols, rows);
  const recurrentT = scale ? L.recurrentT.map((v, k) => v * scale[Math.floor(k / L.units)]!) : L.recurrentT;
  const offset = L.recurrentBias.slice(last, last + g3);
  return {
    units: L.units,
    kernel: back(L.kernelT, inDims, g3),
    recurrentKernel: back(recurrentT, L.units, g3),
    bias: L.bias.slice(),
    recurrentOffset: offset,
    exact: L.rows === 1 && offset.every((v) => v === 0),
  };
}

/**
 * The network part: model-ready windows (T × F) in, probabilities out. Built from a tfjs
 * LayersModel of the shape `buildModel("gru" | "egru")` makes: input → one or more GRU /
 * EnhancedGRU layers (all but the last returning sequences) → dense softmax. Anything else throws
 * LeanUnsupportedError (code LEAN_UNSUPPORTED). The tfjs model is only read; it can be disposed
 * afterwards.
 */
export class LeanGruNetwork {
  readonly steps: number;
  readonly features: number;
  readonly classes: number;
  private readonly layers: LeanLayer[];
  private readonly head: LeanHead;
  /** Per layer: its output sequence [T][u] (only the last row is used for the last layer). */
  private readonly seqs: Float32Array[];
  private readonly pre: Float32Array;
  private readonly gates: Float32Array;
  private readonly rh: Float32Array;
  private readonly logits: Float64Array;

  constructor(layers: LeanLayer[], head: LeanHead, steps: number) {
    this.layers = layers;
    this.head = head;
    this.steps = steps;
    this.features = layers[0]!.inDims;
    this.classes = head.classes;
    const maxU = Math.max(...layers.map((l) => l.units));
    this.seqs = layers.map((l) => new Float32Array(steps * l.units));
    this.pre = new Float32Array(steps * 3 * maxU);
    this.gates = new Float32Array(2 * maxU);
    this.rh = new Float32Array(maxU);
    this.logits = new Float64Array(head.classes);
  }

  /** Reads the weights of `model`; throws LeanUnsupportedError for other architectures. */
  static fromModel(model: tf.LayersModel): LeanGruNetwork {
    const inShape = model.inputs[0]?.shape;
    if (model.inputs.length !== 1 || model.outputs.length !== 1 || !inShape || inShape.length !== 3) {
      throw unsupported(`input ${JSON.stringify(inShape)} is not [batch, time, features]`);
    }
    const steps = inShape[1];
    let dims = inShape[2];
    if (typeof steps !== "number" || typeof dims !== "number") throw unsupported("the time and feature dimensions must be fixed");
    const body = model.layers.filter((l) => l.getClassName() !== "InputLayer");
    const last = body[body.length - 1];
    if (!last || last.getClassName() !== "Dense") throw unsupported("the last layer is not a dense softmax");
    const recurrent = body.slice(0, -1);
    if (recurrent.length === 0) throw unsupported("no recurrent layer");
    const layers: LeanLayer[] = [];
    recurrent.forEach((l, i) => {
      const cls = l.getClassName();
      if (cls !== "GRU" && cls !== "EnhancedGRU") throw unsupported(`layer ${l.name} is a ${cls} (GRU and EnhancedGRU only)`);
      const layer = recurrentLayer(l, dims as number);
      if (layer.returnSequences !== i < recurrent.length - 1) {
        throw unsupported(`layer ${l.name} ${layer.returnSequences ? "returns" : "does not return"} sequences`);
      }
      layers.push(layer);
      dims = layer.units;
    });
    return new LeanGruNetwork(layers, denseHead(last, dims), steps);
  }

  /** Probabilities of one model-ready window (T × F, row-major), written into `out`. */
  predictInto(x: Float32Array, out: Float32Array): Float32Array {
    const T = this.steps;
    if (x.length !== T * this.features) {
      throw new BundleError("SHAPE_MISMATCH", `lean network expects ${T} × ${this.features} values, got ${x.length}; the feature spec and the model disagree`);
    }
    let input = x;
    for (let li = 0; li < this.layers.length; li++) {
      const seq = this.seqs[li]!;
      this.runLayer(this.layers[li]!, input, seq);
      input = seq;
    }
    const last = this.layers[this.layers.length - 1]!;
    const hOff = (T - 1) * last.units;
    const { kernelT, bias, inDims, classes } = this.head;
    const logits = this.logits;
    let max = -Infinity;
    for (let k = 0; k < classes; k++) {
      let acc = bias[k]!;
      const row = k * inDims;
      for (let i = 0; i < inDims; i++) acc += kernelT[row + i]! * input[hOff + i]!;
      logits[k] = acc;
      if (acc > max) max = acc;
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp(logits[k]! - max);
      logits[k] = e;
      sum += e;
    }
    for (let k = 0; k < classes; k++) out[k] = logits[k]! / sum;
    return out;
  }

  private runLayer(L: LeanLayer, x: Float32Array, seq: Float32Array): void {
    const T = this.steps;
    const u = L.units;
    const g3 = 3 * u;
    const D = L.inDims;
    const { kernelT, recurrentT, bias, recurrentBias, recurrentScale, rows } = L;
    const pre = this.pre;
    const gates = this.gates;
    const rh = this.rh;
    const hard = L.gate === "hardSigmoid";
    // Input projections of every step: pre[t][j] = b_j + x_t · W[:, j].
    for (let t = 0; t < T; t++) {
      const xo = t * D;
      const po = t * g3;
      for (let j = 0; j < g3; j++) pre[po + j] = bias[j]! + dot(kernelT, j * D, x, xo, D);
    }
    for (let t = 0; t < T; t++) {
      const po = t * g3;
      const ho = t * u;
      if (t === 0) {
        // h_{-1} = 0: no recurrent term; z from the input alone, h = (1 − z) h̃.
        for (let j = 0; j < u; j++) {
          const z = act(pre[po + j]!, hard);
          seq[j] = (1 - z) * Math.tanh(pre[po + 2 * u + j]!);
        }
        continue;
      }
      const hp = ho - u; // previous h
      const ro = Math.min(t, rows - 1) * g3; // this step's row of recurrent BN
      for (let j = 0; j < 2 * u; j++) {
        const sc = recurrentScale === null ? 1 : recurrentScale[ro + j]!;
        gates[j] = act(pre[po + j]! + recurrentBias[ro + j]! + sc * dot(recurrentT, j * u, seq, hp, u), hard);
      }
      for (let i = 0; i < u; i++) rh[i] = gates[u + i]! * seq[hp + i]!;
      for (let j = 0; j < u; j++) {
        const k = 2 * u + j;
        const sc = recurrentScale === null ? 1 : recurrentScale[ro + k]!;
        const hh = Math.tanh(pre[po + k]! + recurrentBias[ro + k]! + sc * dot(recurrentT, k * u, rh, 0, u));
        const z = gates[j]!;
        seq[ho + j] = z * seq[hp + j]! + (1 - z) * hh;
      }
    }
  }
}

/**
 * Σ a[ao + i]·b[bo + i] for i < n. Four independent accumulators: the loop-carried dependency of
 * a single sum limits V8's code to one multiply-add per FP latency.
 */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!;
    s1 += a[ao + i + 1]! * b[bo + i + 1]!;
    s2 += a[ao + i + 2]! * b[bo + i + 2]!;
    s3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  for (; i < n; i++) s0 += a[ao + i]! * b[bo + i]!;
  return s0 + s1 + s2 + s3;
}

function act(v: number, hard: boolean): number {
  if (hard) {
    const y = 0.2 * v + 0.5;
    return y < 0 ? 0 : y > 1 ? 1 : y;
  }
  return 1 / (1 + Math.exp(-v));
}

/**
 * The WindowClassifier of a recurrent bundle on the lean network: static steps in, probabilities
 * out, normalised exactly as EmotionClassifier does (windowFeatures with the bundle's statistics).
 * Buffers are allocated once; a call allocates only the returned probability vectors (which the
 * caller keeps) and windowFeatures' two small per-window scratch vectors.
 */
export class LeanGruClassifier implements WindowClassifier {
  readonly labels: string[];
  readonly spec: FeatureSpec;
  private readonly norm: NormStats;
  private readonly net: LeanGruNetwork;
  private readonly featureBuf: Float32Array;

  constructor(labels: string[], spec: FeatureSpec, norm: NormStats, net: LeanGruNetwork) {
    this.labels = labels;
    this.spec = spec;
    this.norm = norm;
    this.net = net;
    this.featureBuf = new Float32Array(spec.windowSteps * modelDims(spec));
  }

  /**
   * From a loaded bundle. Throws LeanUnsupportedError (LEAN_UNSUPPORTED) for the CNNs or any
   * other layer layout, and BundleError SHAPE_MISMATCH if the network and the spec disagree. The
   * bundle's tfjs model is left for the caller to dispose (the lean copy does not need it).
   */
  static fromBundle(bundle: LoadedBundle): LeanGruClassifier {
    const arch = bundle.meta.architecture.arch;
    if (arch !== "gru" && arch !== "egru") throw unsupported(`architecture '${arch}' (gru and egru only)`);
    const net = LeanGruNetwork.fromModel(bundle.model);
    const spec = bundle.meta.features;
    if (net.steps !== spec.windowSteps || net.features !== modelDims(spec) || net.classes !== bundle.meta.labels.length) {
      throw new BundleError(
        "SHAPE_MISMATCH",
        `model ${bundle.meta.name}: network is ${net.steps} × ${net.features} → ${net.classes}, the bundle says ${spec.windowSteps} × ${modelDims(spec)} → ${bundle.meta.labels.length}; re-export the bundle`,
      );
    }
    return new LeanGruClassifier(bundle.meta.labels, spec, bundle.meta.normalisation, net);
  }

  predict(stepsWindows: Float32Array[], adapted?: AdaptedStats | null): Float32Array[] {
    return stepsWindows.map((w) => {
      windowFeatures(this.spec, this.norm, w, adapted, this.featureBuf);
      return this.net.predictInto(this.featureBuf, new Float32Array(this.net.classes));
    });
  }

  /** Probabilities for model-ready windows (T × modelDims each). */
  predictFeatures(windows: Float32Array[]): Float32Array[] {
    return windows.map((w) => this.net.predictInto(w, new Float32Array(this.net.classes)));
  }
}
