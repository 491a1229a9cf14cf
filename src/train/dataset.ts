import { windowFeatures, type AdaptedStats, type NormStats } from "../features/normalise.js";
import { modelDims, staticDims, type FeatureSpec } from "../features/spec.js";
import type { ClipFeatures } from "./feature-cache.js";
import type { Rng } from "./random.js";

/** All variants (clean first) of one clip, with its class index and speaker statistics. */
export interface Example {
  variants: ClipFeatures[];
  label: number;
  /** The corpus it came from: within a class, corpora are drawn equally often. */
  corpus: string;
  speakerKey: string;
  /** A fixed crop (start step) instead of a random one: a mined hard negative (hard-negatives.ts). */
  start?: number;
}

/** Start steps of the windows that cover a clip at `hopSteps` (the last one flush with the end). */
export function windowStarts(steps: number, T: number, hopSteps: number): number[] {
  if (steps <= T) return [0];
  const starts: number[] = [];
  for (let s = 0; s + T <= steps; s += hopSteps) starts.push(s);
  if (starts[starts.length - 1]! + T < steps) starts.push(steps - T);
  return starts;
}

export function sliceWindow(spec: FeatureSpec, clip: ClipFeatures, start: number): Float32Array {
  const S = staticDims(spec);
  const T = spec.windowSteps;
  return clip.data.subarray(start * S, (start + T) * S);
}

/**
 * SpecAugment-style masking on normalised features (Park et al., 2019): one band of up to 4 mel
 * bands and one span of up to 6 steps set to the mean (0), in statics and deltas alike.
 */
function maskInPlace(spec: FeatureSpec, x: Float32Array, rng: Rng): void {
  const S = staticDims(spec);
  const F = modelDims(spec);
  const T = spec.windowSteps;
  if (rng.next() < 0.5) {
    const w = 1 + rng.int(4);
    const f0 = rng.int(spec.melBands - w);
    for (let t = 0; t < T; t++)
      for (let f = f0; f < f0 + w; f++) {
        x[t * F + f] = 0;
        if (spec.deltas) x[t * F + S + f] = 0;
      }
  }
  if (rng.next() < 0.5) {
    const w = 1 + rng.int(6);
    const t0 = rng.int(T - w);
    for (let t = t0; t < t0 + w; t++) x.fill(0, t * F, (t + 1) * F);
  }
}

/**
 * Builds one training batch: for each example a random variant (clean or augmented) and a
 * random crop, normalised as the device will, then masked. Returns a flat [B × T × F] array.
 */
export function trainingBatch(
  spec: FeatureSpec,
  stats: NormStats,
  examples: Example[],
  speakerStats: Map<string, AdaptedStats>,
  rng: Rng,
  mask: boolean,
): { x: Float32Array; y: Int32Array } {
  const T = spec.windowSteps;
  const F = modelDims(spec);
  const x = new Float32Array(examples.length * T * F);
  const y = new Int32Array(examples.length);
  examples.forEach((ex, b) => {
    const clip = ex.variants[rng.int(ex.variants.length)]!;
    const start = ex.start ?? rng.int(Math.max(1, clip.steps - T + 1));
    const out = x.subarray(b * T * F, (b + 1) * T * F);
    windowFeatures(spec, stats, sliceWindow(spec, clip, start), speakerStats.get(ex.speakerKey) ?? null, out);
    if (mask) maskInPlace(spec, out, rng);
    y[b] = ex.label;
  });
  return { x, y };
}

/**
 * An epoch's order with classes balanced, and within each class the corpora: every class is
 * drawn equally often (rare classes repeat), so an imbalanced corpus such as EMO-DB (disgust 46 vs
 * angry 127) does not teach the model to ignore its rare classes; and within a class each corpus
 * that has it is drawn equally often, so 5 700 emospeech clips do not make "fear" mean "an Indian
 * phone recording" while nEMO's and CASIA's fear go unheard. Epoch length = number of examples.
 */
export function balancedOrder(examples: Example[], numClasses: number, rng: Rng): number[] {
  const byClass: Map<string, number[]>[] = Array.from({ length: numClasses }, () => new Map());
  examples.forEach((e, i) => {
    const m = byClass[e.label]!;
    m.set(e.corpus, [...(m.get(e.corpus) ?? []), i]);
  });
  // One cycling pool per (class, corpus); corpora in a fixed order so a seed gives one order.
  const classes = byClass
    .filter((m) => m.size > 0)
    .map((m) => [...m.keys()].sort().map((k) => ({ all: m.get(k)!, pool: [] as number[], cursor: 0 })));
  const draw = (p: { all: number[]; pool: number[]; cursor: number }): number => {
    if (p.cursor >= p.pool.length) {
      p.pool = rng.shuffle([...p.all]);
      p.cursor = 0;
    }
    return p.pool[p.cursor++]!;
  };
  const order: number[] = [];
  for (let n = 0; n < examples.length; n++) {
    const corpora = classes[n % classes.length]!;
    order.push(draw(corpora[rng.int(corpora.length)]!));
  }
  return rng.shuffle(order);
}
