/**
 * The four model architectures earwitness can train, built as tfjs LayersModels:
 *
 *  - `gru`:    the base model of Sepeda et al. (/work/shared/seeds/000_*.txt): a stack of stock
 *              tfjs GRU layers and a softmax classifier, no optimisations.
 *  - `egru`:   the same stack with the enhanced GRU (batch norm, dropout, Glorot; egru-cell.ts).
 *  - `rescnn`: the multi-level residual CNN of Zheng et al., "Speech Emotion Recognition based on
 *              Multi-Level Residual Convolutional Neural Networks" (/work/shared/seeds/003_*.txt):
 *              4 conv+pool levels, 3 residual links from earlier levels, 2 fully connected layers,
 *              softmax.
 *  - `cnn`:    the same without the residual links (the paper's ablation, Table V).
 *  - `lr`:     a logistic regression on the window's statistics: mean and spread of every input
 *              feature over the window (StatsPooling), then the softmax. The floor every detector
 *              must beat (issue #10).
 *  - `pgru`:   a GRU whose every step is pooled (mean and spread of the hidden states over the
 *              window) before the softmax, rather than read from the last state only: the
 *              recurrent model with a pooled head the detector issue (#15) asks for.
 *  - `pegru`:  the same with the enhanced GRU cell.
 *  - `cnnp`:   a small CNN with statistics pooling (issue #15 §3): three 1-D convolutions over
 *              time (the window's feature vectors as channels; kernels 5, 5, 3, each of the first
 *              two followed by max pooling by 2, so the last layer sees about a second; tfjs has
 *              no gradient for dilated convolutions), the mean and spread of the last
 *              layer's maps over the window, one hidden layer, the softmax. It reads the
 *              recurrent models' features, so it can be a branch of the pair beside them.
 *
 * Recurrent models and `cnnp` take [T, F] (frames × features); the CNNs take a log-spectrogram image
 * [T, F, 1]. Every random initialiser is seeded from `seed`, so one seed gives one set of weights.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import { ARCHITECTURES, type Arch } from "./bundle-files.js";
import { DangerHead } from "./danger-head.js";
import { EnhancedGRU } from "./egru-cell.js";
import { StatsPooling } from "./stats-pooling.js";

// The list lives with the bundle schema (bundle-files.ts), which must not import tfjs.
export { ARCHITECTURES } from "./bundle-files.js";
export type Architecture = Arch;

export interface ModelOptions {
  /** [T, F] for the recurrent models; [T, F, 1] for the CNNs. */
  inputShape: number[];
  numClasses: number;
  /** Recurrent width. Default 64. */
  units?: number;
  /** Number of stacked recurrent layers. Default 1 (see DEFAULT_LAYERS). */
  layers?: number;
  /**
   * egru: the cell's dropout rate (default 0.2, the paper's best). CNNs: dropout before each fully
   * connected layer (default 0; Zheng et al. use none). Ignored by `gru`, the unoptimised base.
   */
  dropout?: number;
  /** egru only: batch norm inside the cell. Default true. */
  batchNorm?: boolean;
  /** egru only: Glorot initialisation (else tfjs's stock GRU initialisers). Default true. */
  glorot?: boolean;
  /** Seed of every weight initialiser. Default 1. */
  seed?: number;
  /** CNNs: filters of the four conv layers. Default CNN_FILTERS. */
  cnnFilters?: [number, number, number, number];
  /** CNNs: width of the two fully connected layers. Default CNN_FC_UNITS. */
  fcUnits?: number;
  /**
   * Indices of the danger classes for a danger head (src/model/danger-head.ts) in place of the
   * dense softmax; absent or empty: the dense softmax.
   */
  dangerHead?: number[];
}

export const DEFAULT_UNITS = 64;
/**
 * One recurrent layer by default: a training batch (64 clips × 75 frames) costs about 0.5 s of CPU
 * on wasm per egru layer, and a second layer doubles that. `layers: 2` gives the stack.
 */
export const DEFAULT_LAYERS = 1;
export const DEFAULT_SEED = 1;

/**
 * Conv kernel sizes of the paper's best 4-layer structure (Table IV: Conv 32×4×4, 64×8×8,
 * 64×10×10, 64×10×10, FC 716 ×2). The kernel sizes are kept; the widths are scaled down
 * (32/64/64/64 → 8/16/16/16, FC 716 → 128) because the paper's model has about 2.4 M parameters
 * and ~260 M multiply-adds per 100×40 image, which will not train on two cores; ours has ~0.1 M.
 */
export const CNN_KERNELS: readonly [number, number, number, number] = [4, 8, 10, 10];
export const CNN_FILTERS: [number, number, number, number] = [8, 16, 16, 16];
export const CNN_FC_UNITS = 128;

/** What a built network actually uses of the enhanced cell's options (recorded in run.json). */
export interface EffectiveOptions {
  dropout: number;
  batchNorm: boolean;
  /** Glorot (Xavier) initialisation of the input kernels. */
  glorot: boolean;
}

/**
 * The options `buildModel` honours for `arch`, whatever was asked: the stock GRU (`gru`, `pgru`)
 * and the logistic regression have no dropout and no batch norm and always initialise their
 * kernels with Glorot (glorotNormal / glorotUniform below; recurrent kernels orthogonal); the
 * CNNs use dropout as given, no batch norm, Glorot; only the enhanced cell takes all three.
 * A record that said "batch norm" for a plain GRU would misdescribe the run.
 */
export function effectiveOptions(arch: Architecture, asked: { dropout: number; batchNorm: boolean; glorot: boolean }): EffectiveOptions {
  switch (arch) {
    case "egru":
    case "pegru":
      return { dropout: asked.dropout, batchNorm: asked.batchNorm, glorot: asked.glorot };
    case "rescnn":
    case "cnn":
    case "cnnp":
      return { dropout: asked.dropout, batchNorm: false, glorot: true };
    default:
      return { dropout: 0, batchNorm: false, glorot: true };
  }
}

/** Builds an untrained model. Throws ConfigError (MODEL_OPTIONS) for inconsistent options. */
export function buildModel(arch: Architecture, opts: ModelOptions): tf.LayersModel {
  if (!Number.isInteger(opts.numClasses) || opts.numClasses < 2) {
    throw new ConfigError("MODEL_OPTIONS", `numClasses must be an integer ≥ 2 (got ${opts.numClasses})`);
  }
  switch (arch) {
    case "gru":
    case "egru":
      return buildRecurrent(arch, opts);
    case "rescnn":
    case "cnn":
      return buildCnn(arch === "rescnn", opts);
    case "lr":
      return buildLogistic(opts);
    case "pgru":
    case "pegru":
      return buildRecurrent(arch, opts);
    case "cnnp":
      return buildPooledCnn(opts);
    default:
      throw new ConfigError("MODEL_ARCH", `unknown architecture '${String(arch)}'; use one of ${ARCHITECTURES.join(", ")}`);
  }
}

/**
 * Compiles for training: RMSProp lr 0.001 for the CNNs (Zheng et al., Table III; their lr decay
 * 1e-6 has no tfjs equivalent and is left out), Adam lr 0.001 for the GRUs (the Keras default the
 * GRU paper's setup implies). Loss: categorical cross-entropy over one-hot labels.
 */
export function compileFor(arch: Architecture, model: tf.LayersModel, lr = 0.001): void {
  const optimizer = arch === "rescnn" || arch === "cnn" ? tf.train.rmsprop(lr) : tf.train.adam(lr);
  model.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
}

/** The output layer, named "classifier" either way: the dense softmax, or the danger head over the same classes. */
function classifier(numClasses: number, seed: number, dangerHead?: number[]): tf.layers.Layer {
  if (dangerHead && dangerHead.length > 0) {
    try {
      return new DangerHead({ units: numClasses, dangerClasses: dangerHead, seed, name: "classifier" });
    } catch (e) {
      throw new ConfigError("MODEL_OPTIONS", (e as Error).message);
    }
  }
  return tf.layers.dense({
    units: numClasses,
    activation: "softmax",
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    biasInitializer: "zeros",
    name: "classifier",
  });
}

function buildLogistic(opts: ModelOptions): tf.LayersModel {
  if (opts.inputShape.length !== 2) {
    throw new ConfigError("MODEL_INPUT_SHAPE", `lr expects inputShape [frames, features] (got [${opts.inputShape.join(", ")}])`);
  }
  const input = tf.input({ shape: opts.inputShape, name: "features" });
  const pooled = new StatsPooling({ name: "stats_pooling" }).apply(input) as tf.SymbolicTensor;
  const output = classifier(opts.numClasses, opts.seed ?? DEFAULT_SEED, opts.dangerHead).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: "lr" });
}

function buildRecurrent(arch: "gru" | "egru" | "pgru" | "pegru", opts: ModelOptions): tf.LayersModel {
  if (opts.inputShape.length !== 2) {
    throw new ConfigError(
      "MODEL_INPUT_SHAPE",
      `${arch} expects inputShape [frames, features] (got [${opts.inputShape.join(", ")}])`,
    );
  }
  const units = opts.units ?? DEFAULT_UNITS;
  const layers = opts.layers ?? DEFAULT_LAYERS;
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(layers) || layers < 1) {
    throw new ConfigError("MODEL_OPTIONS", `layers must be a positive integer (got ${layers})`);
  }
  const input = tf.input({ shape: opts.inputShape, name: "features" });
  let x: tf.SymbolicTensor = input;
  for (let i = 0; i < layers; i++) {
    // pgru pools every step of its last layer.
    const pooled = arch === "pgru" || arch === "pegru";
    const returnSequences = i < layers - 1 || pooled;
    const layerSeed = seed + 100 * (i + 1);
    const layer =
      arch === "gru" || arch === "pgru"
        ? tf.layers.gru({
            units,
            returnSequences,
            // Keras 2's (and the paper's) GRU uses the logistic sigmoid; tfjs defaults to hardSigmoid.
            recurrentActivation: "sigmoid",
            kernelInitializer: tf.initializers.glorotNormal({ seed: layerSeed }),
            recurrentInitializer: tf.initializers.orthogonal({ gain: 1, seed: layerSeed + 1 }),
            biasInitializer: "zeros",
            name: `gru_${i + 1}`,
          })
        : new EnhancedGRU({
            units,
            returnSequences,
            dropout: opts.dropout,
            batchNorm: opts.batchNorm,
            glorot: opts.glorot,
            seed: layerSeed,
            name: `egru_${i + 1}`,
          });
    x = layer.apply(x) as tf.SymbolicTensor;
  }
  if (arch === "pgru" || arch === "pegru") x = new StatsPooling({ name: "stats_pooling" }).apply(x) as tf.SymbolicTensor;
  const output = classifier(opts.numClasses, seed, opts.dangerHead).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: arch });
}

/** cnnp's convolutions: kernel size of each and the max pooling after it (width: `units`). */
export const CNNP_LAYERS: readonly { kernel: number; pool: number }[] = [
  { kernel: 5, pool: 2 },
  { kernel: 5, pool: 2 },
  { kernel: 3, pool: 1 },
];
export const CNNP_HIDDEN = 32;

function buildPooledCnn(opts: ModelOptions): tf.LayersModel {
  if (opts.inputShape.length !== 2) {
    throw new ConfigError("MODEL_INPUT_SHAPE", `cnnp expects inputShape [frames, features] (got [${opts.inputShape.join(", ")}])`);
  }
  const units = opts.units ?? DEFAULT_UNITS;
  const seed = opts.seed ?? DEFAULT_SEED;
  const dropout = opts.dropout ?? 0;
  const input = tf.input({ shape: opts.inputShape, name: "features" });
  let x: tf.SymbolicTensor = input;
  CNNP_LAYERS.forEach(({ kernel, pool }, i) => {
    x = tf.layers
      .conv1d({
        filters: units,
        kernelSize: kernel,
        padding: "same",
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 10 * (i + 1) }),
        biasInitializer: "zeros",
        name: `conv_${i + 1}`,
      })
      .apply(x) as tf.SymbolicTensor;
    if (pool > 1) x = tf.layers.maxPooling1d({ poolSize: pool, strides: pool, padding: "same", name: `pool_${i + 1}` }).apply(x) as tf.SymbolicTensor;
  });
  x = new StatsPooling({ name: "stats_pooling" }).apply(x) as tf.SymbolicTensor;
  if (dropout > 0) x = tf.layers.dropout({ rate: dropout, seed: seed + 60, name: "fc_dropout" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: CNNP_HIDDEN, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 70 }), biasInitializer: "zeros", name: "fc_1" })
    .apply(x) as tf.SymbolicTensor;
  const output = classifier(opts.numClasses, seed, opts.dangerHead).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: "cnnp" });
}

function buildCnn(residual: boolean, opts: ModelOptions): tf.LayersModel {
  const [frames, features, channels] = opts.inputShape;
  if (opts.inputShape.length !== 3 || channels !== 1 || frames === undefined || features === undefined) {
    throw new ConfigError(
      "MODEL_INPUT_SHAPE",
      `${residual ? "rescnn" : "cnn"} expects inputShape [frames, features, 1] (got [${opts.inputShape.join(", ")}])`,
    );
  }
  const seed = opts.seed ?? DEFAULT_SEED;
  const filters = opts.cnnFilters ?? CNN_FILTERS;
  const fcUnits = opts.fcUnits ?? CNN_FC_UNITS;
  const dropout = opts.dropout ?? 0;
  const name = residual ? "rescnn" : "cnn";

  const input = tf.input({ shape: opts.inputShape, name: "spectrogram" });
  // levels[k] is the output of level k (level 0 = the input image), with its spatial size.
  const levels: { t: tf.SymbolicTensor; h: number; w: number }[] = [{ t: input, h: frames, w: features }];
  for (let i = 0; i < 4; i++) {
    const prev = levels[i] as { t: tf.SymbolicTensor; h: number; w: number };
    const k = CNN_KERNELS[i] as number;
    // A kernel larger than the feature map only convolves padding; clamp it.
    const kernelSize: [number, number] = [Math.min(k, prev.h), Math.min(k, prev.w)];
    const conv = tf.layers.conv2d({
      filters: filters[i] as number,
      kernelSize,
      padding: "same",
      activation: "relu",
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 10 * (i + 1) }),
      biasInitializer: "zeros",
      name: `conv_${i + 1}`,
    });
    // 'same' pooling rounds up, so a size-n map becomes ceil(n/2) and the skip path can match it.
    const pool = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: "same", name: `pool_${i + 1}` });
    let y = pool.apply(conv.apply(prev.t)) as tf.SymbolicTensor;
    const h = Math.ceil(prev.h / 2);
    const w = Math.ceil(prev.w / 2);
    if (residual && i >= 1) {
      // Residual link from two levels earlier (the two-conv residual block of the paper's Fig. 3):
      // level i-1 → level i+1, i.e. input → after conv 2, level 1 → after conv 3, level 2 → after
      // conv 4. The skip is average-pooled 4×4 (the main path halved twice) and projected by a
      // 1×1 convolution to the main path's channels; ReLU after the sum, as in ResNet.
      const from = levels[i - 1] as { t: tf.SymbolicTensor; h: number; w: number };
      const pooled = tf.layers
        .averagePooling2d({ poolSize: 4, strides: 4, padding: "same", name: `skip_pool_${i + 1}` })
        .apply(from.t) as tf.SymbolicTensor;
      const projected = tf.layers
        .conv2d({
          filters: filters[i] as number,
          kernelSize: 1,
          padding: "same",
          useBias: false,
          kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 10 * (i + 1) + 5 }),
          name: `skip_proj_${i + 1}`,
        })
        .apply(pooled) as tf.SymbolicTensor;
      y = tf.layers.add({ name: `residual_${i + 1}` }).apply([y, projected]) as tf.SymbolicTensor;
      y = tf.layers.activation({ activation: "relu", name: `residual_relu_${i + 1}` }).apply(y) as tf.SymbolicTensor;
    }
    levels.push({ t: y, h, w });
  }
  let x = tf.layers.flatten({ name: "flatten" }).apply((levels[4] as { t: tf.SymbolicTensor }).t) as tf.SymbolicTensor;
  for (let j = 0; j < 2; j++) {
    if (dropout > 0) x = tf.layers.dropout({ rate: dropout, seed: seed + 60 + j, name: `fc_dropout_${j + 1}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .dense({
        units: fcUnits,
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 70 + j }),
        biasInitializer: "zeros",
        name: `fc_${j + 1}`,
      })
      .apply(x) as tf.SymbolicTensor;
  }
  const output = classifier(opts.numClasses, seed, opts.dangerHead).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name });
}
