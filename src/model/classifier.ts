import * as tf from "@tensorflow/tfjs";
import { windowFeatures, type AdaptedStats } from "../features/normalise.js";
import { modelDims, type FeatureSpec } from "../features/spec.js";
import type { LoadedBundle } from "./bundle.js";

/**
 * Emotion probabilities for analysis windows. Takes static steps (as the extractor makes them),
 * normalises them as the bundle says, and runs the network in batches inside `tf.tidy`, so the
 * number of live tensors never grows (a test checks it: the daemon runs for months).
 */
export class EmotionClassifier {
  readonly labels: string[];
  readonly spec: FeatureSpec;
  private readonly bundle: LoadedBundle;

  constructor(bundle: LoadedBundle) {
    this.bundle = bundle;
    this.labels = bundle.meta.labels;
    this.spec = bundle.meta.features;
  }

  /** Model-ready features of one window of static steps. */
  features(steps: Float32Array, adapted?: AdaptedStats | null): Float32Array {
    return windowFeatures(this.spec, this.bundle.meta.normalisation, steps, adapted);
  }

  /** Probabilities for model-ready windows (each T × modelDims), batched. */
  predictFeatures(windows: Float32Array[], batchSize = 32): Float32Array[] {
    return predictBatched(this.bundle.model, this.spec, this.labels.length, windows, batchSize);
  }

  /** Probabilities for windows of static steps. */
  predict(stepsWindows: Float32Array[], adapted?: AdaptedStats | null): Float32Array[] {
    return this.predictFeatures(stepsWindows.map((w) => this.features(w, adapted)));
  }

  dispose(): void {
    this.bundle.model.dispose();
  }
}

/** Mean of several probability vectors (clip-level decision from its windows). */
export function meanProbs(probs: Float32Array[]): Float32Array {
  const K = probs[0]?.length ?? 0;
  const m = new Float32Array(K);
  for (const p of probs) for (let k = 0; k < K; k++) m[k]! += p[k]! / probs.length;
  return m;
}

/**
 * Runs `model` over model-ready windows in batches, each batch inside tf.tidy. Image models
 * (rank-4 input) get a trailing channel axis.
 */
export function predictBatched(
  model: tf.LayersModel,
  spec: FeatureSpec,
  numClasses: number,
  windows: Float32Array[],
  batchSize = 32,
): Float32Array[] {
  const T = spec.windowSteps;
  const F = modelDims(spec);
  const image = model.inputs[0]!.shape.length === 4;
  const out: Float32Array[] = [];
  for (let i = 0; i < windows.length; i += batchSize) {
    const chunk = windows.slice(i, i + batchSize);
    const flat = new Float32Array(chunk.length * T * F);
    chunk.forEach((w, b) => flat.set(w, b * T * F));
    const probs = tf.tidy(() => {
      const shape: number[] = image ? [chunk.length, T, F, 1] : [chunk.length, T, F];
      return (model.predict(tf.tensor(flat, shape)) as tf.Tensor).dataSync() as Float32Array;
    });
    for (let b = 0; b < chunk.length; b++) out.push(probs.slice(b * numClasses, (b + 1) * numClasses));
  }
  return out;
}
