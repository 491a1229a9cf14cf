import { FeatureError } from "../errors.js";
import { modelDims, staticDims, type FeatureSpec } from "./spec.js";

/**
 * Normalisation statistics, computed from training data only and stored in the bundle.
 * `mean`/`std` centre and scale static features (for norm "window", `std` is measured after
 * removing each window's mean); `deltaStd` scales the deltas of the normalised features.
 */
export interface NormStats {
  mean: number[];
  std: number[];
  deltaStd: number[];
}

/** Statistics of what this unit has heard (norm "speaker"): replace the training mean/std. */
export interface AdaptedStats {
  mean: Float32Array | number[];
  std: Float32Array | number[];
}

/** Normalised features are clipped here: a burst far outside training never saturates the net. */
const CLIP = 8;
const MIN_STD = 1e-3;

export function assertNormStats(spec: FeatureSpec, stats: NormStats): void {
  const s = staticDims(spec);
  for (const key of ["mean", "std", "deltaStd"] as const) {
    const v = stats[key];
    if (!Array.isArray(v) || v.length !== s || v.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
      throw new FeatureError(
        "BAD_NORM_STATS",
        `normalisation.${key} must hold ${s} finite numbers for this feature spec (got ${Array.isArray(v) ? v.length : typeof v}); re-export the bundle`,
      );
    }
  }
}

/**
 * Turns `T` consecutive static steps (row-major, T × staticDims) into the model's input
 * (T × modelDims): centre, scale, append deltas, clip. A pure function of the window, so the
 * daemon, replay, training and evaluation agree exactly.
 */
export function windowFeatures(
  spec: FeatureSpec,
  stats: NormStats,
  steps: Float32Array,
  adapted?: AdaptedStats | null,
  out?: Float32Array,
): Float32Array {
  const S = staticDims(spec);
  const F = modelDims(spec);
  const T = steps.length / S;
  if (!Number.isInteger(T) || T < 1) {
    throw new FeatureError("BAD_WINDOW", `window has ${steps.length} values, not a whole number of ${S}-value steps`);
  }
  const result = out ?? new Float32Array(T * F);
  const center = new Float32Array(S);
  const scale = new Float32Array(S);
  if (spec.norm === "window") {
    for (let t = 0; t < T; t++) for (let i = 0; i < S; i++) center[i]! += steps[t * S + i]!;
    for (let i = 0; i < S; i++) center[i]! /= T;
  } else {
    const m = spec.norm === "speaker" && adapted ? adapted.mean : stats.mean;
    for (let i = 0; i < S; i++) center[i] = m[i]!;
  }
  const sd = spec.norm === "speaker" && adapted ? adapted.std : stats.std;
  for (let i = 0; i < S; i++) scale[i] = 1 / Math.max(MIN_STD, sd[i]!);

  // Static part.
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < S; i++) {
      const z = (steps[t * S + i]! - center[i]!) * scale[i]!;
      result[t * F + i] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
    }
  }
  if (spec.deltas) {
    // Regression deltas over ±2 steps with edges repeated (the HTK formula), of the normalised
    // (unclipped would differ only beyond ±8 sd) static features.
    const denom = 2 * (1 * 1 + 2 * 2);
    for (let t = 0; t < T; t++) {
      const tm1 = Math.max(0, t - 1), tm2 = Math.max(0, t - 2);
      const tp1 = Math.min(T - 1, t + 1), tp2 = Math.min(T - 1, t + 2);
      for (let i = 0; i < S; i++) {
        const d =
          (1 * (result[tp1 * F + i]! - result[tm1 * F + i]!) + 2 * (result[tp2 * F + i]! - result[tm2 * F + i]!)) / denom;
        const z = d / Math.max(MIN_STD, stats.deltaStd[i]!);
        result[t * F + S + i] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
      }
    }
  }
  return result;
}

/** Welford accumulator over vectors. */
export class VectorStats {
  readonly n: number;
  count = 0;
  private readonly m: Float64Array;
  private readonly m2: Float64Array;

  constructor(n: number) {
    this.n = n;
    this.m = new Float64Array(n);
    this.m2 = new Float64Array(n);
  }

  add(v: ArrayLike<number>, offset = 0): void {
    this.count++;
    for (let i = 0; i < this.n; i++) {
      const x = v[offset + i]!;
      const d = x - this.m[i]!;
      this.m[i]! += d / this.count;
      this.m2[i]! += d * (x - this.m[i]!);
    }
  }

  mean(): number[] {
    return Array.from(this.m);
  }

  std(): number[] {
    return Array.from(this.m2, (v) => Math.sqrt(this.count > 1 ? v / (this.count - 1) : 1));
  }
}

/** Per-speaker statistics of static steps (for norm "speaker" and `eval --adapt speaker`). */
export function statsOfSteps(S: number, clips: Float32Array[]): AdaptedStats {
  const acc = new VectorStats(S);
  for (const c of clips) for (let o = 0; o + S <= c.length; o += S) acc.add(c, o);
  return { mean: acc.mean(), std: acc.std() };
}

/**
 * Normalisation statistics from training clips only. `windows` are the static-step windows the
 * model will be trained on; `speakerOf(i)` groups them for norm "speaker".
 */
export function computeNormStats(
  spec: FeatureSpec,
  windows: Float32Array[],
  speakerStats?: (i: number) => AdaptedStats | null,
): NormStats {
  const S = staticDims(spec);
  const T = spec.windowSteps;
  const raw = new VectorStats(S);
  const centred = new VectorStats(S);
  for (const w of windows) {
    const mean = new Float64Array(S);
    for (let t = 0; t < T; t++) for (let i = 0; i < S; i++) mean[i]! += w[t * S + i]! / T;
    const row = new Float64Array(S);
    for (let t = 0; t < T; t++) {
      raw.add(w, t * S);
      for (let i = 0; i < S; i++) row[i] = w[t * S + i]! - mean[i]!;
      centred.add(row);
    }
  }
  const base: NormStats = {
    mean: raw.mean(),
    std: spec.norm === "window" ? centred.std() : raw.std(),
    deltaStd: new Array<number>(S).fill(1),
  };
  // Delta scale: measured on the normalised features themselves.
  const deltas = new VectorStats(S);
  const F = modelDims(spec);
  windows.forEach((w, idx) => {
    const feats = windowFeatures(spec, base, w, speakerStats?.(idx) ?? null);
    if (!spec.deltas) return;
    for (let t = 0; t < T; t++) deltas.add(feats, t * F + S);
  });
  if (spec.deltas) base.deltaStd = deltas.std();
  return base;
}
