import { SAMPLE_RATE_HZ } from "../constants.js";
import { FeatureError } from "../errors.js";

/**
 * The feature spec travels in every model bundle: the extractor refuses a bundle whose spec it
 * cannot produce (FeatureError "UNSUPPORTED_SPEC"), so a model never sees features it was not
 * trained on.
 *
 * Framing: meyda computes spectra only on power-of-two buffers, so frames are 512 samples (32 ms)
 * rather than the textbook 400 (25 ms), with the usual 10 ms hop. Five frames are averaged into
 * one 50 ms "step": emotion lives in prosody and voice quality over hundreds of milliseconds, and
 * 60 steps per 3 s window keep the recurrent network small enough to train on two cores and to
 * run on a Raspberry Pi; a 0.5 s hop is then exactly 10 steps.
 */
export interface FeatureSpec {
  version: 1;
  sampleRateHz: number;
  frameSamples: number;
  hopSamples: number;
  window: "hanning";
  melBands: number;
  /** Frames averaged into one step. */
  poolFrames: number;
  /** Add log frame energy as a feature. */
  energy: boolean;
  /** Append first-order deltas (regression over ±2 steps) of every static feature. */
  deltas: boolean;
  /** Steps in one analysis window (the model's input length). */
  windowSteps: number;
  /**
   * How static features are centred before the model sees them:
   * - "global": training-set mean and std;
   * - "window": each window's own mean is removed (cancels a microphone's fixed frequency
   *   response and gain, which are additive in log-mel), then the training std scales;
   * - "speaker": per-speaker statistics in training; on a device, running statistics of what it
   *   hears (adaptation), starting from the training statistics.
   */
  norm: "global" | "window" | "speaker";
  /**
   * Add two prosody features after the others (src/features/pitch.ts): the step's mean
   * periodicity (YIN, 0–1) and its voiced frames' mean log F0 (octaves above 100 Hz; 0 when no
   * frame of the step is voiced). Absent: false (every bundle before it).
   */
  pitch?: boolean;
}

export const DEFAULT_FEATURE_SPEC: FeatureSpec = {
  version: 1,
  sampleRateHz: SAMPLE_RATE_HZ,
  frameSamples: 512,
  hopSamples: 160,
  window: "hanning",
  melBands: 40,
  poolFrames: 5,
  energy: true,
  deltas: true,
  windowSteps: 60,
  norm: "window",
};

/** Number of static features per step (mel bands, plus energy, plus periodicity and log F0). */
export function staticDims(spec: FeatureSpec): number {
  return spec.melBands + (spec.energy ? 1 : 0) + (spec.pitch ? PITCH_DIMS : 0);
}

/** Static features `pitch` adds: periodicity and log F0. */
export const PITCH_DIMS = 2;

/** Number of features per step the model receives. */
export function modelDims(spec: FeatureSpec): number {
  return staticDims(spec) * (spec.deltas ? 2 : 1);
}

/** Samples of audio between the starts of two consecutive steps. */
export function stepSamples(spec: FeatureSpec): number {
  return spec.hopSamples * spec.poolFrames;
}

export function stepMs(spec: FeatureSpec): number {
  return (stepSamples(spec) / spec.sampleRateHz) * 1000;
}

/** Clip-level decisions (train, eval) average windows this far apart, as the daemon's default hop. */
export const CLIP_HOP_MS = 500;

/** Steps between windows `ms` apart (at least 1). */
export function stepsPer(spec: FeatureSpec, ms: number): number {
  return Math.max(1, Math.round(ms / stepMs(spec)));
}

/** Duration of audio one window covers, in seconds (as the device sees it). */
export function windowSeconds(spec: FeatureSpec): number {
  return (spec.windowSteps * stepSamples(spec)) / spec.sampleRateHz;
}

const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Throws FeatureError("UNSUPPORTED_SPEC") listing every field this extractor cannot produce. */
export function assertSupportedSpec(spec: unknown): asserts spec is FeatureSpec {
  const problems: string[] = [];
  if (typeof spec !== "object" || spec === null) {
    throw new FeatureError("UNSUPPORTED_SPEC", "feature spec is missing or not an object; re-export the bundle");
  }
  const s = spec as Record<string, unknown>;
  const known = new Set([...Object.keys(DEFAULT_FEATURE_SPEC), "pitch"]);
  for (const k of Object.keys(s)) if (!known.has(k)) problems.push(`unknown field "${k}"`);
  if (s.version !== 1) problems.push(`version ${String(s.version)} (this extractor makes version 1)`);
  if (s.sampleRateHz !== SAMPLE_RATE_HZ) problems.push(`sampleRateHz ${String(s.sampleRateHz)} (only ${SAMPLE_RATE_HZ})`);
  if (!isPowerOfTwo(s.frameSamples as number) || (s.frameSamples as number) < 64 || (s.frameSamples as number) > 4096)
    problems.push(`frameSamples ${String(s.frameSamples)} (a power of two from 64 to 4096)`);
  const hop = s.hopSamples as number;
  if (!Number.isInteger(hop) || hop < 1 || hop > (s.frameSamples as number))
    problems.push(`hopSamples ${String(hop)} (an integer from 1 to frameSamples)`);
  if (s.window !== "hanning") problems.push(`window ${String(s.window)} (only hanning)`);
  const mel = s.melBands as number;
  if (!Number.isInteger(mel) || mel < 8 || mel > 128) problems.push(`melBands ${String(mel)} (8 to 128)`);
  const pool = s.poolFrames as number;
  if (!Number.isInteger(pool) || pool < 1 || pool > 50) problems.push(`poolFrames ${String(pool)} (1 to 50)`);
  if (typeof s.energy !== "boolean") problems.push(`energy must be true or false`);
  if (typeof s.deltas !== "boolean") problems.push(`deltas must be true or false`);
  if (s.pitch !== undefined && typeof s.pitch !== "boolean") problems.push(`pitch must be true or false`);
  const steps = s.windowSteps as number;
  if (!Number.isInteger(steps) || steps < 5 || steps > 2000) problems.push(`windowSteps ${String(steps)} (5 to 2000)`);
  if (s.norm !== "global" && s.norm !== "window" && s.norm !== "speaker")
    problems.push(`norm ${String(s.norm)} (global, window or speaker)`);
  if (problems.length > 0) {
    throw new FeatureError(
      "UNSUPPORTED_SPEC",
      `this version of earwitness cannot produce the bundle's features: ${problems.join("; ")}; use a bundle exported for it or upgrade earwitness`,
    );
  }
}
