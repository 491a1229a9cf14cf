/**
 * The networks earwitness trains, but for the image CNNs (`cnn`, `rescnn`), run in plain
 * TypeScript over Float32Arrays: the recurrent ones (`gru`, `egru`: stacked GRU layers + dense
 * softmax; `pgru`, `pegru` with statistics pooling), `lr` (pooling alone) and the small 1-D CNN
 * `cnnp` — with the weights of a loaded tfjs model (fromModel) or read from a bundle's files
 * without tfjs (lean-artifacts.ts; the daemon's way, so that it never loads tfjs).
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
 *   z_t = σ((x_t W_z) ⊙ s_z,t + b_z,t + [t>0](h_{t-1} U_z) ⊙ c_z,t)
 *   r_t = σ((x_t W_r) ⊙ s_r,t + b_r,t + [t>0](h_{t-1} U_r) ⊙ c_r,t)
 *   h̃_t = tanh((x_t W_h) ⊙ s_h,t + b_h,t + [t>0]((r_t ⊙ h_{t-1}) U_h) ⊙ c_h,t)
 *   h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t,     h_{-1} = 0
 *
 * For the stock GRU s = c = 1 and b_t = b. For the EnhancedGRU (src/model/egru-cell.ts) in
 * inference mode, batch norm is applied the way its `call` applies it: with s = γ/√(σ²+ε) and
 * o = −μ·s for each projection, both sides keep statistics per time step ([T, 3u], row
 * min(t, T − 1) for step t); the input side's scale multiplies x·W after the product (one
 * kernel for all steps, as tfjs's one matMul), its offset joins the bias, and the recurrent side's
 * offset joins it too from t = 1 on (the recurrent term is defined as 0 at t = 0), its scale
 * multiplies h·U. So b_t = b + o_in,t + [t>0] o_rec,t, s_t = s_in,t and c_t = s_rec,t, all three
 * expanded to one row per step once at load, so that a window costs two multiplies per gate and
 * step (the two scales) more than a plain GRU and no row arithmetic. The folding is done here
 * from the layer's own weights (gamma and moving statistics, matched by name) rather than through
 * a method on the layer, so egru-cell.ts stays as it is; the test holds the two implementations
 * to the same outputs. Statistics of any other shape (the [3u] shared ones of older bundles,
 * which tfjs can no longer load into the layer either) are refused.
 *
 * `cnnp` (buildPooledCnn in architectures.ts): Conv1D layers (stride 1, no dilation, relu,
 * 'same' or 'valid' padding, channels last, kernel [k, in, filters] as tfjs stores it) and
 * MaxPooling1D layers, then statistics pooling, hidden Dense layers with relu and the head, as the
 * pooled recurrent networks have. Each output of a convolution is one dot product of a filter with
 * k contiguous input rows; where the window reaches into the padding, the padded rows (zeros) are
 * left out, and a pooling window compares only real steps — where tfjs-core puts that padding
 * (more of it after than before for even sizes; for cnnp's pooling by 2 of an odd length, one
 * step after) is quoted at readConv and readMaxPool. Here the reason is memory, not speed: a cnnp
 * bundle no longer makes the daemon load tfjs (~20 MB, docs/performance.md). lean-gru.test.ts
 * holds the outputs to tfjs's within 1e-4: odd and even window lengths, danger head, dropout,
 * random and trained-then-quantised weights, and the variants cnnp does not use but this code
 * computes (even kernels, 'valid' padding, other pool sizes). Strided, dilated, causal or
 * channels-first convolutions, other activations and other poolings are refused.
 *
 * Dropout is a training-only operation and is ignored, as tfjs ignores it at inference (the
 * EnhancedGRU's inside the cell, and Dropout layers anywhere in the chain).
 */
import type * as tf from "@tensorflow/tfjs";
import { BundleError } from "../errors.js";
import { windowFeatures, type AdaptedStats, type NormStats } from "../features/normalise.js";
import { modelDims, type FeatureSpec } from "../features/spec.js";
import type { WindowClassifier } from "../pipeline.js";
import type { BundleMeta, LoadedBundle } from "./bundle.js";
import { STATS_POOLING_EPSILON } from "../constants.js";
import { checkDangerClasses, mixDangerHead } from "./danger-mix.js";

type GateFn = "sigmoid" | "hardSigmoid";

/** One recurrent layer, weights transposed so every output is a dot product over a contiguous row. */
interface LeanLayer {
  inDims: number;
  units: number;
  /** [3u][inDims]: row j is column j of the kernel (not scaled: the scale is per step). */
  kernelT: Float32Array;
  /** [3u][u]: row j is column j of the recurrent kernel. */
  recurrentT: Float32Array;
  /** [T][3u]: scale of x_t·W per step (input batch norm), or null (= 1). */
  stepScale: Float32Array | null;
  /** [T][3u]: the constant term of step t: bias, input BN offset and, for t > 0, recurrent BN offset. */
  stepBias: Float32Array;
  /** [T][3u]: scale of the recurrent product per step (row 0 unused), or null (= 1). */
  recurrentScale: Float32Array | null;
  gate: GateFn;
  returnSequences: boolean;
}

/**
 * A layer's weights with batch norm folded, before expansion to the network's steps: the
 * statistics have `rows` rows, step t uses row min(t, rows − 1) (as egru-cell.ts gathers them).
 */
interface FoldedLayer {
  inDims: number;
  units: number;
  /** [inDims][3u], as stored. */
  kernel: Float32Array;
  /** [u][3u], as stored. */
  recurrent: Float32Array;
  /** [3u]. */
  bias: Float32Array;
  rows: number;
  /** [rows][3u] each; null for the stock GRU and the EGRU without batch norm. */
  bn: { inScale: Float64Array; inOffset: Float64Array; recScale: Float64Array; recOffset: Float64Array } | null;
  gate: GateFn;
  returnSequences: boolean;
}

interface LeanHead {
  inDims: number;
  classes: number;
  /** [classes][inDims]. */
  kernelT: Float32Array;
  bias: Float32Array;
  /** The danger head (src/model/danger-head.ts), or null for a dense softmax. */
  danger: { kernel: Float32Array; bias: number; isDanger: Uint8Array } | null;
}

/**
 * One stage of a convolutional front (`cnnp`), over a sequence of `inLen` steps of `inDims`
 * channels, row-major [step][channel] like every sequence here: a 1-D convolution with stride 1
 * and relu, or a max pooling over time. `padStart` is how many steps of padding come before the
 * first input step, as tfjs-core's conv_util.getPadAndOutInfo places them; padded steps add
 * nothing to a convolution (zeros) and are skipped by a pooling (tfjs's max starts from −∞).
 */
type LeanConvStage = {
  inLen: number;
  inDims: number;
  outLen: number;
  outDims: number;
  padStart: number;
} & (
  | {
      kind: "conv";
      kernelSize: number;
      /** [filters][kernelSize × inDims]: filter f's weights over a window of input rows, laid out as those rows are. */
      kernelT: Float32Array;
      /** [filters], zeros without a bias. */
      bias: Float32Array;
    }
  | { kind: "maxPool"; poolSize: number; stride: number }
);

/** A hidden dense layer with relu, between the pooled (or last) state and the head (`cnnp`'s fc_1). */
interface LeanDense {
  inDims: number;
  units: number;
  /** [units][inDims]. */
  kernelT: Float32Array;
  /** [units], zeros without a bias. */
  bias: Float32Array;
}

/** Thrown for a model this implementation does not cover; callers fall back to tfjs. */
export class LeanUnsupportedError extends BundleError {}

/** `remedy` replaces the default advice when tfjs cannot run the model either. */
export const unsupported = (why: string, remedy = "run it with tfjs (EmotionClassifier)"): LeanUnsupportedError =>
  new LeanUnsupportedError("LEAN_UNSUPPORTED", `lean inference does not support this model: ${why}; ${remedy}`);

/** One weight of a layer, as float32 values. */
export interface LeanWeight {
  shape: number[];
  data: Float32Array;
}

/**
 * What the lean engine reads of one layer, from a tfjs layer (layerView) or from a bundle's files
 * without tfjs (lean-artifacts.ts): its class, its name, its config with tfjs's camelCase keys and
 * values (as `getConfig()` gives them), and its weights by short name ("kernel", "input_gamma", …).
 */
export interface LayerView {
  className: string;
  name: string;
  config: Record<string, unknown>;
  weights: Map<string, LeanWeight>;
}

/** The short name of a weight ("gru_1/kernel" → "kernel"), as both readers name them. */
export const shortWeightName = (originalName: string): string => originalName.split("/").pop()!.replace(/_\d+$/, "");

/** A tfjs layer as the lean engine reads it: weights copied out as Float32Arrays. */
function layerView(layer: tf.layers.Layer): LayerView {
  const vars = layer.weights;
  const values = layer.getWeights();
  const weights = new Map<string, LeanWeight>();
  vars.forEach((v, i) => {
    const t = values[i]!;
    weights.set(shortWeightName(v.originalName), { shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) });
  });
  const config: Record<string, unknown> = layer.getConfig();
  // tfjs's Conv1D leaves its data format out of getConfig (a saved one reloads as channelsLast),
  // but the live layer computes with it: read it from the layer so that channelsFirst is refused.
  const format = (layer as unknown as { dataFormat?: unknown }).dataFormat;
  if (config["dataFormat"] === undefined && format !== undefined) config["dataFormat"] = format;
  return { className: layer.getClassName(), name: layer.name, config, weights };
}

function need(w: Map<string, LeanWeight>, name: string, layer: string): LeanWeight {
  const v = w.get(name);
  if (!v) throw unsupported(`layer ${layer} has no weight '${name}' (has ${[...w.keys()].join(", ")})`);
  return v;
}

/** [rows][cols] row-major → [cols][rows]. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  }
  return out;
}

function gateOf(name: unknown, layer: string): GateFn {
  if (name === "sigmoid" || name === "hardSigmoid") return name;
  throw unsupported(`layer ${layer} has recurrent activation '${String(name)}' (sigmoid or hardSigmoid only)`);
}

function readLayer(layer: LayerView, inDims: number): FoldedLayer {
  const cls = layer.className;
  const cfg = layer.config;
  const name = layer.name;
  if (cfg["goBackwards"] === true || cfg["stateful"] === true) throw unsupported(`layer ${name} is backwards or stateful`);
  const returnSequences = cfg["returnSequences"] === true;
  const units = Number(cfg["units"]);
  const g3 = 3 * units;
  const w = layer.weights;
  const kernel = need(w, "kernel", name);
  const recurrent = need(w, "recurrent_kernel", name);
  if (kernel.shape[0] !== inDims || kernel.shape[1] !== g3 || recurrent.shape[0] !== units || recurrent.shape[1] !== g3) {
    throw unsupported(`layer ${name} has kernel ${JSON.stringify(kernel.shape)} / ${JSON.stringify(recurrent.shape)} for ${inDims} inputs and ${units} units`);
  }
  const storedBias = w.get("bias");
  if (storedBias && storedBias.data.length !== g3) throw unsupported(`layer ${name} has bias of shape ${JSON.stringify(storedBias.shape)} (expected [${g3}])`);
  const bias = Float32Array.from(storedBias?.data ?? new Float32Array(g3));
  const plain = { inDims, units, kernel: kernel.data, recurrent: recurrent.data, bias, rows: 1, bn: null, returnSequences };
  if (cls === "GRU") {
    if (cfg["activation"] !== "tanh") throw unsupported(`layer ${name} has activation '${String(cfg["activation"])}' (tanh only)`);
    return { ...plain, gate: gateOf(cfg["recurrentActivation"], name) };
  }
  // EnhancedGRU: sigmoid gates, tanh candidate (fixed in egru-cell.ts).
  if (cfg["batchNorm"] !== true) return { ...plain, gate: "sigmoid" };
  const eps = Number(cfg["epsilon"]);
  if (!Number.isFinite(eps)) throw unsupported(`layer ${name} has no epsilon in its config`);
  const gamma = (key: string): Float32Array => {
    const v = need(w, key, name);
    if (v.data.length !== g3) throw unsupported(`layer ${name} has ${key} of shape ${JSON.stringify(v.shape)} (expected [${g3}])`);
    return v.data;
  };
  // egru-cell.ts keeps both sides' statistics per step, [T, 3u], and gathers rows of the input
  // side by the row count of the recurrent side: anything else is not what the layer computes.
  const stats = (key: string): { rows: number; data: Float32Array } => {
    const v = need(w, key, name);
    if (v.shape.length === 1 && v.shape[0] === g3) {
      throw unsupported(
        `layer ${name} has ${key} of shape ${JSON.stringify(v.shape)}, one set shared by all steps, from before the ` +
          `EnhancedGRU kept batch-norm statistics per time step ([T, ${g3}]); tfjs cannot load it into the layer either`,
        "retrain the model with this version of earwitness",
      );
    }
    const rows = v.shape[0]!;
    if (v.shape.length !== 2 || v.shape[1] !== g3 || !Number.isInteger(rows) || rows < 1) {
      throw unsupported(`layer ${name} has ${key} of shape ${JSON.stringify(v.shape)} (expected [T, ${g3}])`);
    }
    return { rows, data: v.data };
  };
  const inMean = stats("input_moving_mean");
  const inVar = stats("input_moving_variance");
  const recMean = stats("recurrent_moving_mean");
  const recVar = stats("recurrent_moving_variance");
  const rows = recMean.rows;
  if (inMean.rows !== rows || inVar.rows !== rows || recVar.rows !== rows) {
    throw unsupported(
      `layer ${name} has per-step statistics with different step counts (input ${inMean.rows}/${inVar.rows}, recurrent ${rows}/${recVar.rows})`,
    );
  }
  // Frozen batch norm as scale and offset, s = γ/√(σ²+ε), o = −μ·s, computed in float64 and
  // rounded once when expanded (tfjs rounds per op in float32; the difference is ~1e-7 relative).
  const fold = (g: Float32Array, mean: Float32Array, variance: Float32Array): [Float64Array, Float64Array] => {
    const sc = new Float64Array(mean.length);
    const o = new Float64Array(mean.length);
    for (let k = 0; k < mean.length; k++) {
      sc[k] = g[k % g3]! / Math.sqrt(variance[k]! + eps);
      o[k] = -mean[k]! * sc[k]!;
    }
    return [sc, o];
  };
  const [inScale, inOffset] = fold(gamma("input_gamma"), inMean.data, inVar.data);
  const [recScale, recOffset] = fold(gamma("recurrent_gamma"), recMean.data, recVar.data);
  return { ...plain, rows, bn: { inScale, inOffset, recScale, recOffset }, gate: "sigmoid" };
}

/** The layer as the network runs it over `steps` steps: per-step terms expanded to one row per step. */
function leanLayer(f: FoldedLayer, steps: number): LeanLayer {
  const { inDims, units, bn, bias } = f;
  const g3 = 3 * units;
  const common = {
    inDims,
    units,
    kernelT: transpose(f.kernel, inDims, g3),
    recurrentT: transpose(f.recurrent, units, g3),
    gate: f.gate,
    returnSequences: f.returnSequences,
  };
  const stepBias = new Float32Array(steps * g3);
  for (let t = 0; t < steps; t++) stepBias.set(bias, t * g3);
  if (!bn) return { ...common, stepScale: null, stepBias, recurrentScale: null };
  const stepScale = new Float32Array(steps * g3);
  const recurrentScale = new Float32Array(steps * g3);
  for (let t = 0; t < steps; t++) {
    const to = t * g3;
    const ro = Math.min(t, f.rows - 1) * g3;
    for (let j = 0; j < g3; j++) {
      stepBias[to + j] = bias[j]! + bn.inOffset[ro + j]! + (t > 0 ? bn.recOffset[ro + j]! : 0);
      stepScale[to + j] = bn.inScale[ro + j]!;
      recurrentScale[to + j] = bn.recScale[ro + j]!;
    }
  }
  return { ...common, stepScale, stepBias, recurrentScale };
}

function denseHead(layer: LayerView, inDims: number): LeanHead {
  const cfg = layer.config;
  if (layer.className === "DangerHead") return dangerHead(layer, inDims);
  if (cfg["activation"] !== "softmax") throw unsupported(`output layer ${layer.name} has activation '${String(cfg["activation"])}' (softmax only)`);
  const w = layer.weights;
  const kernel = need(w, "kernel", layer.name);
  const classes = kernel.shape[1]!;
  if (kernel.shape.length !== 2 || kernel.shape[0] !== inDims) throw unsupported(`output layer ${layer.name} expects ${kernel.shape[0]} inputs, gets ${inDims}`);
  if (cfg["units"] !== classes) throw unsupported(`output layer ${layer.name} has ${String(cfg["units"])} units and a kernel of shape ${JSON.stringify(kernel.shape)}`);
  const storedBias = w.get("bias");
  if (storedBias && storedBias.data.length !== classes) throw unsupported(`output layer ${layer.name} has bias of shape ${JSON.stringify(storedBias.shape)} (expected [${classes}])`);
  return {
    inDims,
    classes,
    kernelT: transpose(kernel.data, inDims, classes),
    bias: Float32Array.from(storedBias?.data ?? new Float32Array(classes)),
    danger: null,
  };
}

/** The danger head's class kernel and bias, its danger kernel [inDims, 1] and bias [1], and which classes are danger. */
function dangerHead(layer: LayerView, inDims: number): LeanHead {
  const w = layer.weights;
  const kernel = need(w, "kernel", layer.name);
  const classes = kernel.shape[1]!;
  if (kernel.shape.length !== 2 || kernel.shape[0] !== inDims) throw unsupported(`output layer ${layer.name} expects ${kernel.shape[0]} inputs, gets ${inDims}`);
  const bias = need(w, "bias", layer.name);
  const dk = need(w, "danger_kernel", layer.name);
  const db = need(w, "danger_bias", layer.name);
  if (bias.data.length !== classes || dk.data.length !== inDims || db.data.length !== 1) {
    throw unsupported(`danger head ${layer.name} has weights of shapes ${JSON.stringify([kernel.shape, bias.shape, dk.shape, db.shape])}`);
  }
  const cfg = layer.config;
  const danger = cfg["dangerClasses"];
  try {
    if (cfg["units"] !== classes || !Array.isArray(danger)) throw new Error(`units ${String(cfg["units"])}, danger classes ${JSON.stringify(danger)}`);
    checkDangerClasses(classes, danger);
  } catch (e) {
    throw unsupported(`danger head ${layer.name} for a kernel of ${classes} classes: ${(e as Error).message}`);
  }
  const isDanger = new Uint8Array(classes);
  for (const d of danger as number[]) isDanger[d] = 1;
  return {
    inDims,
    classes,
    kernelT: transpose(kernel.data, inDims, classes),
    bias: Float32Array.from(bias.data),
    danger: { kernel: Float32Array.from(dk.data), bias: db.data[0]!, isDanger },
  };
}

/**
 * A positive integer of a layer's config that tfjs holds as a one-element array (kernelSize,
 * strides, dilationRate, poolSize; a Keras file may give a plain number); `fallback` when absent,
 * as tfjs's constructors default it (null: required).
 */
function single(cfg: Record<string, unknown>, key: string, fallback: number | null, layer: string): number {
  const raw = cfg[key] ?? fallback;
  if (raw === null) throw unsupported(`layer ${layer} has no ${key}`);
  const v = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw unsupported(`layer ${layer} has ${key} ${JSON.stringify(raw)} (one positive integer)`);
  return v;
}

/** Refuses a channelsFirst layer: the stages read [step][channel] (tfjs's default, channelsLast). */
function channelsLast(layer: LayerView): void {
  const format = layer.config["dataFormat"];
  if (format !== undefined && format !== null && format !== "channelsLast") {
    throw unsupported(`layer ${layer.name} has data format '${String(format)}' (channelsLast only)`);
  }
}

/** 'same' or 'valid' (tfjs's default when absent); 'causal' and anything else are refused. */
function paddingOf(layer: LayerView): "same" | "valid" {
  const p = layer.config["padding"] ?? "valid";
  if (p !== "same" && p !== "valid") throw unsupported(`layer ${layer.name} has padding '${String(p)}' (same or valid only)`);
  return p;
}

/**
 * A Conv1D layer over `inLen` steps of `inDims` channels: stride 1, no dilation, relu, 'same' or
 * 'valid' padding. tfjs computes it as conv1dWithBias (tfjs-layers' layers/convolutional.ts):
 * tfjs-core's conv1d, a conv2d over a [1, L] image whose 'same' padding (conv_util's
 * getPadAndOutInfo) is k − 1 zeros with ⌊(k − 1)/2⌋ of them before the first step — so for an
 * even kernel one more after than before — then the bias, then the activation.
 */
function readConv(layer: LayerView, inLen: number, inDims: number): LeanConvStage {
  const { config: cfg, name } = layer;
  channelsLast(layer);
  const kernelSize = single(cfg, "kernelSize", null, name);
  const stride = single(cfg, "strides", 1, name);
  const dilation = single(cfg, "dilationRate", 1, name);
  if (stride !== 1) throw unsupported(`convolution ${name} has strides ${stride} (1 only)`);
  if (dilation !== 1) throw unsupported(`convolution ${name} has dilation rate ${dilation} (1 only)`);
  const padding = paddingOf(layer);
  if (cfg["activation"] !== "relu") throw unsupported(`convolution ${name} has activation '${String(cfg["activation"])}' (relu only)`);
  const filters = Number(cfg["filters"]);
  const kernel = need(layer.weights, "kernel", name);
  if (JSON.stringify(kernel.shape) !== JSON.stringify([kernelSize, inDims, filters])) {
    throw unsupported(`convolution ${name} has a kernel of shape ${JSON.stringify(kernel.shape)} for kernel size ${kernelSize}, ${inDims} input channels and ${String(cfg["filters"])} filters`);
  }
  const storedBias = layer.weights.get("bias");
  if (storedBias && storedBias.data.length !== filters) throw unsupported(`convolution ${name} has bias of shape ${JSON.stringify(storedBias.shape)} (expected [${filters}])`);
  const outLen = padding === "same" ? inLen : inLen - kernelSize + 1;
  if (outLen < 1) throw unsupported(`convolution ${name} of kernel size ${kernelSize} over ${inLen} steps without padding has no output`);
  return {
    kind: "conv",
    inLen,
    inDims,
    outLen,
    outDims: filters,
    padStart: padding === "same" ? Math.floor((kernelSize - 1) / 2) : 0,
    kernelSize,
    // [kernelSize × inDims][filters] as stored → one contiguous row per filter.
    kernelT: transpose(kernel.data, kernelSize * inDims, filters),
    bias: Float32Array.from(storedBias?.data ?? new Float32Array(filters)),
  };
}

/**
 * A MaxPooling1D layer: tfjs-layers' Pooling1D runs tfjs-core's maxPool over [L, 1] with
 * [poolSize, 1] windows and [strides, 1] steps, so the output length and the padding before the
 * first step are getPadAndOutInfo's: 'same' gives ⌈L/s⌉ steps and ⌊pad/2⌋ padding before
 * (for poolSize = strides = 2 and odd L, none before and one after: the last window holds the
 * last step alone); 'valid' gives ⌈(L − p + 1)/s⌉ and none. Padded steps are not compared.
 */
function readMaxPool(layer: LayerView, inLen: number, dims: number): LeanConvStage {
  const { config: cfg, name } = layer;
  channelsLast(layer);
  const poolSize = single(cfg, "poolSize", 2, name);
  const stride = single(cfg, "strides", poolSize, name);
  const padding = paddingOf(layer);
  const outLen = padding === "same" ? Math.ceil(inLen / stride) : Math.ceil((inLen - poolSize + 1) / stride);
  if (outLen < 1) throw unsupported(`pooling ${name} of size ${poolSize} over ${inLen} steps without padding has no output`);
  const padAlong = padding === "same" ? Math.max(0, (outLen - 1) * stride + poolSize - inLen) : 0;
  return { kind: "maxPool", inLen, inDims: dims, outLen, outDims: dims, padStart: Math.floor(padAlong / 2), poolSize, stride };
}

/** A hidden Dense layer with relu (tfjs's dense: x·W + b, then the activation). */
function readHidden(layer: LayerView, inDims: number): LeanDense {
  const { config: cfg, name } = layer;
  if (cfg["activation"] !== "relu") throw unsupported(`hidden layer ${name} has activation '${String(cfg["activation"])}' (relu only)`);
  const kernel = need(layer.weights, "kernel", name);
  const units = kernel.shape[1]!;
  if (kernel.shape.length !== 2 || kernel.shape[0] !== inDims || cfg["units"] !== units) {
    throw unsupported(`hidden layer ${name} has ${String(cfg["units"])} units and a kernel of shape ${JSON.stringify(kernel.shape)} for ${inDims} inputs`);
  }
  const storedBias = layer.weights.get("bias");
  if (storedBias && storedBias.data.length !== units) throw unsupported(`hidden layer ${name} has bias of shape ${JSON.stringify(storedBias.shape)} (expected [${units}])`);
  return {
    inDims,
    units,
    kernelT: transpose(kernel.data, inDims, units),
    bias: Float32Array.from(storedBias?.data ?? new Float32Array(units)),
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
  const f = readLayer(layerView(layer), inDims);
  const g3 = 3 * f.units;
  if (!f.bn) {
    return {
      units: f.units,
      kernel: f.kernel.slice(),
      recurrentKernel: f.recurrent.slice(),
      bias: f.bias.slice(),
      recurrentOffset: new Float32Array(g3),
      exact: true,
    };
  }
  // The stock layer has one kernel, bias and recurrent kernel for all steps: use the last row of
  // the per-step statistics (the one every step ≥ rows − 1 uses). Exact only with a single row
  // and no recurrent offset.
  const last = (f.rows - 1) * g3;
  const { inScale, inOffset, recScale, recOffset } = f.bn;
  const scaleColumns = (data: Float32Array, s: Float64Array): Float32Array =>
    data.map((v, k) => v * s[last + (k % g3)]!);
  const offset = Float32Array.from(recOffset.subarray(last, last + g3));
  return {
    units: f.units,
    kernel: scaleColumns(f.kernel, inScale),
    recurrentKernel: scaleColumns(f.recurrent, recScale),
    bias: f.bias.map((v, j) => v + inOffset[last + j]!),
    recurrentOffset: offset,
    exact: f.rows === 1 && offset.every((v) => v === 0),
  };
}

/** What a LeanGruNetwork is made of, read by fromLayers. */
interface LeanParts {
  steps: number;
  features: number;
  /** The recurrent front (gru, egru, pgru, pegru); empty for the others. */
  recurrent: LeanLayer[];
  /** The convolutional front (cnnp); empty for the others. Never both fronts. */
  convs: LeanConvStage[];
  /**
   * Statistics pooling after the front (`pgru`, `lr`, `cnnp`; src/model/stats-pooling.ts): what
   * follows reads the mean and spread over all steps of the front's outputs (of the input when
   * there is no front) instead of the last step.
   */
  pooled: boolean;
  hidden: LeanDense[];
  head: LeanHead;
}

/**
 * The network part: model-ready windows (T × F) in, probabilities out. Built from a tfjs
 * LayersModel of the shape `buildModel` makes for gru, egru, pgru, pegru, lr and cnnp: input →
 * one or more GRU / EnhancedGRU layers (all but the last returning sequences), or Conv1D and
 * MaxPooling1D layers → [StatsPooling] → [Dense relu …] → dense softmax or danger head, Dropout
 * anywhere (tfjs's Dropout returns its input at inference). Anything else throws
 * LeanUnsupportedError (code LEAN_UNSUPPORTED). The tfjs model is only read; it can be disposed
 * afterwards. (The name is from when it ran only the recurrent networks.)
 */
export class LeanGruNetwork {
  readonly steps: number;
  readonly features: number;
  readonly classes: number;
  private readonly layers: LeanLayer[];
  private readonly convs: LeanConvStage[];
  private readonly hidden: LeanDense[];
  private readonly head: LeanHead;
  private readonly pooled: boolean;
  /** Steps the pooling averages over: T, or the length the convolutional front leaves. */
  private readonly poolSteps: number;
  /** [2n]: the means, then the spreads, of the front's n outputs. */
  private readonly pool: Float32Array;
  /** Per layer: its output sequence [T][u] (only the last row is used for the last layer). */
  private readonly seqs: Float32Array[];
  /** Per convolutional stage: its output sequence [outLen][outDims]. */
  private readonly convOuts: Float32Array[];
  /** Per hidden layer: its output [units]. */
  private readonly hiddenOuts: Float32Array[];
  private readonly pre: Float32Array;
  private readonly gates: Float32Array;
  private readonly rh: Float32Array;
  private readonly logits: Float64Array;

  constructor(parts: LeanParts) {
    const { recurrent: layers, convs, hidden, head, steps, pooled } = parts;
    this.layers = layers;
    this.convs = convs;
    this.hidden = hidden;
    this.head = head;
    this.steps = steps;
    this.features = parts.features;
    this.classes = head.classes;
    this.pooled = pooled;
    const lastConv = convs[convs.length - 1];
    const lastLayer = layers[layers.length - 1];
    this.poolSteps = lastConv ? lastConv.outLen : steps;
    const frontDims = lastConv ? lastConv.outDims : lastLayer ? lastLayer.units : parts.features;
    this.pool = new Float32Array(pooled ? 2 * frontDims : 0);
    const maxU = Math.max(1, ...layers.map((l) => l.units));
    this.seqs = layers.map((l) => new Float32Array(steps * l.units));
    this.convOuts = convs.map((c) => new Float32Array(c.outLen * c.outDims));
    this.hiddenOuts = hidden.map((h) => new Float32Array(h.units));
    this.pre = new Float32Array(layers.length > 0 ? steps * 3 * maxU : 0);
    this.gates = new Float32Array(2 * maxU);
    this.rh = new Float32Array(maxU);
    this.logits = new Float64Array(head.classes);
  }

  /** Reads the weights of `model`; throws LeanUnsupportedError for other architectures. */
  static fromModel(model: tf.LayersModel): LeanGruNetwork {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw unsupported(`the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs (one each only)`);
    }
    const body = model.layers.filter((l) => l.getClassName() !== "InputLayer");
    return LeanGruNetwork.fromLayers(model.inputs[0]!.shape, body.map(layerView));
  }

  /**
   * The network of a chain of layers (without the input layer) fed an input of `inShape`
   * ([batch, time, features]): one or more GRU / EnhancedGRU layers, or Conv1D / MaxPooling1D
   * layers, or neither; StatsPooling (required after convolutions); hidden Dense layers with
   * relu; a dense softmax or a danger head; Dropout layers anywhere. Throws LeanUnsupportedError
   * for anything else.
   */
  static fromLayers(inShape: readonly (number | null)[], allLayers: readonly LayerView[]): LeanGruNetwork {
    if (inShape.length !== 3) throw unsupported(`input ${JSON.stringify(inShape)} is not [batch, time, features]`);
    const steps = inShape[1];
    const features = inShape[2];
    if (typeof steps !== "number" || typeof features !== "number") throw unsupported("the time and feature dimensions must be fixed");
    let dims = features;
    // Dropout is the identity at inference (tfjs-layers' Dropout.call returns its input unless training).
    const body = allLayers.filter((l) => l.className !== "Dropout");
    const last = body[body.length - 1];
    if (!last || (last.className !== "Dense" && last.className !== "DangerHead")) throw unsupported("the last layer is not a dense softmax or a danger head");
    let end = body.length - 1;
    while (body[end - 1]?.className === "Dense") end--;
    const hiddenViews = body.slice(end, -1);
    const pooled = body[end - 1]?.className === "StatsPooling";
    const front = body.slice(0, pooled ? end - 1 : end);
    const layers: LeanLayer[] = [];
    const convs: LeanConvStage[] = [];
    if (front[0]?.className === "Conv1D" || front[0]?.className === "MaxPooling1D") {
      if (!pooled) throw unsupported(`the convolutions are not followed by StatsPooling (the lean engine pools what they give over time)`);
      let len = steps;
      for (const l of front) {
        if (l.className !== "Conv1D" && l.className !== "MaxPooling1D") throw unsupported(`layer ${l.name} is a ${l.className} after a convolution (Conv1D and MaxPooling1D only)`);
        const stage: LeanConvStage = l.className === "Conv1D" ? readConv(l, len, dims) : readMaxPool(l, len, dims);
        convs.push(stage);
        len = stage.outLen;
        dims = stage.outDims;
      }
    } else {
      if (front.length === 0 && !pooled) throw unsupported("no recurrent layer");
      front.forEach((l, i) => {
        const cls = l.className;
        if (cls !== "GRU" && cls !== "EnhancedGRU") throw unsupported(`layer ${l.name} is a ${cls} (GRU and EnhancedGRU only, or Conv1D and MaxPooling1D before a StatsPooling)`);
        const layer = leanLayer(readLayer(l, dims), steps);
        // A pooled network reads every step of its last layer; otherwise only the last layer's last state.
        if (layer.returnSequences !== (pooled || i < front.length - 1)) {
          throw unsupported(`layer ${l.name} ${layer.returnSequences ? "returns" : "does not return"} sequences`);
        }
        layers.push(layer);
        dims = layer.units;
      });
    }
    let inDims = pooled ? 2 * dims : dims;
    const hidden = hiddenViews.map((l) => {
      const h = readHidden(l, inDims);
      inDims = h.units;
      return h;
    });
    return new LeanGruNetwork({ steps, features, recurrent: layers, convs, pooled, hidden, head: denseHead(last, inDims) });
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
    for (let ci = 0; ci < this.convs.length; ci++) {
      const stage = this.convs[ci]!;
      const y = this.convOuts[ci]!;
      if (stage.kind === "conv") runConv(stage, input, y);
      else runMaxPool(stage, input, y);
      input = y;
    }
    let hOff: number;
    if (this.pooled) {
      // Mean, then √(variance + ε) of each output over the steps, as StatsPooling computes them.
      const pool = this.pool;
      const n = pool.length / 2;
      const S = this.poolSteps;
      for (let i = 0; i < n; i++) {
        let m = 0;
        for (let t = 0; t < S; t++) m += input[t * n + i]!;
        m /= S;
        let v = 0;
        for (let t = 0; t < S; t++) {
          const d = input[t * n + i]! - m;
          v += d * d;
        }
        pool[i] = m;
        pool[n + i] = Math.sqrt(v / S + STATS_POOLING_EPSILON);
      }
      input = pool;
      hOff = 0;
    } else {
      hOff = (T - 1) * this.layers[this.layers.length - 1]!.units;
    }
    for (let hi = 0; hi < this.hidden.length; hi++) {
      const h = this.hidden[hi]!;
      const y = this.hiddenOuts[hi]!;
      for (let j = 0; j < h.units; j++) {
        const v = h.bias[j]! + dot(h.kernelT, j * h.inDims, input, hOff, h.inDims);
        y[j] = v < 0 ? 0 : v;
      }
      input = y;
      hOff = 0;
    }
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
    const dh = this.head.danger;
    if (dh) {
      let d = dh.bias;
      for (let i = 0; i < inDims; i++) d += dh.kernel[i]! * input[hOff + i]!;
      return mixDangerHead(logits, d, dh.isDanger, out);
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
    const { kernelT, recurrentT, stepBias, stepScale, recurrentScale } = L;
    const pre = this.pre;
    const gates = this.gates;
    const rh = this.rh;
    const hard = L.gate === "hardSigmoid";
    // Constant and input terms of every step: pre[t][j] = b_t,j + (x_t · W[:, j]) · s_t,j.
    for (let t = 0; t < T; t++) {
      const xo = t * D;
      const po = t * g3;
      if (stepScale === null) {
        for (let j = 0; j < g3; j++) pre[po + j] = stepBias[po + j]! + dot(kernelT, j * D, x, xo, D);
      } else {
        for (let j = 0; j < g3; j++) pre[po + j] = stepBias[po + j]! + stepScale[po + j]! * dot(kernelT, j * D, x, xo, D);
      }
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
      for (let j = 0; j < 2 * u; j++) {
        const sc = recurrentScale === null ? 1 : recurrentScale[po + j]!;
        gates[j] = act(pre[po + j]! + sc * dot(recurrentT, j * u, seq, hp, u), hard);
      }
      for (let i = 0; i < u; i++) rh[i] = gates[u + i]! * seq[hp + i]!;
      for (let j = 0; j < u; j++) {
        const k = 2 * u + j;
        const sc = recurrentScale === null ? 1 : recurrentScale[po + k]!;
        const hh = Math.tanh(pre[po + k]! + sc * dot(recurrentT, k * u, rh, 0, u));
        const z = gates[j]!;
        seq[ho + j] = z * seq[hp + j]! + (1 - z) * hh;
      }
    }
  }
}

/**
 * A convolution with relu, `x` [inLen][inDims] → `y` [outLen][filters]. Output step t reads input
 * rows t − padStart … t − padStart + k − 1, contiguous in `x`, so each filter is one dot product
 * with its row of kernelT; rows in the padding are zeros and are left out of the product.
 */
function runConv(c: Extract<LeanConvStage, { kind: "conv" }>, x: Float32Array, y: Float32Array): void {
  const { inLen, inDims: C, outLen, outDims: F, padStart, kernelSize: k, kernelT, bias } = c;
  const kC = k * C;
  for (let t = 0; t < outLen; t++) {
    const first = t - padStart;
    const j0 = first < 0 ? -first : 0;
    const j1 = Math.min(k, inLen - first);
    const n = (j1 - j0) * C;
    const xo = (first + j0) * C;
    const yo = t * F;
    for (let f = 0; f < F; f++) {
      const v = bias[f]! + dot(kernelT, f * kC + j0 * C, x, xo, n);
      y[yo + f] = v < 0 ? 0 : v;
    }
  }
}

/** A max pooling over time, `x` [inLen][C] → `y` [outLen][C]; padded steps are not compared. */
function runMaxPool(p: Extract<LeanConvStage, { kind: "maxPool" }>, x: Float32Array, y: Float32Array): void {
  const { inLen, inDims: C, outLen, padStart, poolSize, stride } = p;
  for (let o = 0; o < outLen; o++) {
    const first = o * stride - padStart;
    const t0 = Math.max(0, first);
    const t1 = Math.min(inLen, first + poolSize);
    const yo = o * C;
    for (let ch = 0; ch < C; ch++) {
      let m = -Infinity;
      for (let t = t0; t < t1; t++) {
        const v = x[t * C + ch]!;
        if (v > m) m = v;
      }
      y[yo + ch] = m;
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

/** LEAN_UNSUPPORTED for the architectures the lean engine never runs (the image CNNs), before reading any layer. */
export function assertLeanArch(meta: BundleMeta): void {
  const arch = meta.architecture.arch;
  if (arch === "rescnn" || arch === "cnn") throw unsupported(`architecture '${arch}' (gru, egru, pgru, pegru, lr and cnnp only)`);
}

/**
 * The WindowClassifier of a bundle on the lean network: static steps in, probabilities
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
   * From a loaded bundle. Throws LeanUnsupportedError (LEAN_UNSUPPORTED) for the image CNNs or any
   * other layer layout, and BundleError SHAPE_MISMATCH if the network and the spec disagree. The
   * bundle's tfjs model is left for the caller to dispose (the lean copy does not need it).
   */
  static fromBundle(bundle: LoadedBundle): LeanGruClassifier {
    assertLeanArch(bundle.meta);
    return LeanGruClassifier.forBundle(bundle.meta, LeanGruNetwork.fromModel(bundle.model));
  }

  /** The classifier of a bundle whose network was read (fromModel, or lean-artifacts.ts from its files). */
  static forBundle(meta: BundleMeta, net: LeanGruNetwork): LeanGruClassifier {
    const spec = meta.features;
    if (net.steps !== spec.windowSteps || net.features !== modelDims(spec) || net.classes !== meta.labels.length) {
      throw new BundleError(
        "SHAPE_MISMATCH",
        `model ${meta.name}: network is ${net.steps} × ${net.features} → ${net.classes}, the bundle says ${spec.windowSteps} × ${modelDims(spec)} → ${meta.labels.length}; re-export the bundle`,
      );
    }
    return new LeanGruClassifier(meta.labels, spec, meta.normalisation, net);
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
