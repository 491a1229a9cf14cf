/**
 * Pitch and voicing of one frame by YIN (de Cheveigné & Kawahara, "YIN, a fundamental frequency
 * estimator for speech and music", JASA 111(4), 2002): the difference function, its cumulative
 * mean normalisation, an absolute threshold, the local minimum after it and parabolic
 * interpolation (steps 1–5 of the paper; no best-local-estimate pass, which needs lookahead).
 *
 * Why (issue 15 §2): anger and fear raise the voice's pitch and its range; log-mel bands at 40
 * bands barely resolve a voice's harmonics, so a model trained on them learns pitch only through a
 * blur. Speaker-normalised (norm "speaker", or the unit's running statistics), log F0 becomes
 * pitch relative to the speaker's own — the cue that travels between voices and languages.
 *
 * Pure and allocation-free per call (scratch buffers are the caller's): the daemon runs it on
 * every 10 ms frame.
 */

export interface PitchOptions {
  sampleRateHz: number;
  /** Lowest and highest F0 searched, Hz. */
  minHz: number;
  maxHz: number;
  /** YIN's absolute threshold on the normalised difference: below it, a period. */
  threshold: number;
  /** Frames whose mean square is below this are unvoiced without searching (silence). */
  minPower: number;
  /**
   * Search on every `decimate`-th sample of the frame after averaging each run of `decimate` (a
   * crude low-pass): a voice's F0 is below 600 Hz, and at 8 kHz the search costs a quarter.
   */
  decimate: number;
}

/**
 * A voice from a low male voice to a child's scream. The threshold is twice the paper's 0.15: on
 * 32 ms frames of CREMA-D's sentences (recorded in a booth, but not studio-clean) 0.15 called 2–14 %
 * of frames voiced, 0.3 a fifth to a third (closer to the sentences' voiced share), with about the
 * same median F0 (`node scripts/probe-pitch.mjs` on four of its clips).
 */
export const DEFAULT_PITCH: PitchOptions = { sampleRateHz: 16_000, minHz: 60, maxHz: 600, threshold: 0.3, minPower: 1e-7, decimate: 2 };

export interface PitchResult {
  /** F0 in Hz, or 0 when the frame is unvoiced. */
  f0: number;
  /** 1 − the smallest normalised difference over the searched lags, in [0, 1]: how periodic the frame is. */
  periodicity: number;
}

/** Scratch for frames of `frameSamples`: the decimated frame, then the largest lag + 1 values; reuse one per extractor. */
export function pitchScratch(frameSamples: number, opts: PitchOptions = DEFAULT_PITCH): Float64Array {
  const n = Math.floor(frameSamples / opts.decimate);
  return new Float64Array(n + maxLag(n, opts) + 1);
}

function maxLag(n: number, opts: PitchOptions): number {
  // The integration window must keep at least half the (decimated) frame.
  return Math.min(Math.ceil(opts.sampleRateHz / opts.decimate / opts.minHz), Math.floor(n / 2));
}

export function yinPitch(input: Float32Array, scratch: Float64Array, opts: PitchOptions = DEFAULT_PITCH): PitchResult {
  const q = opts.decimate;
  const n = Math.floor(input.length / q);
  const rate = opts.sampleRateHz / q;
  const tauMax = maxLag(n, opts);
  const tauMin = Math.max(2, Math.floor(rate / opts.maxHz));
  if (scratch.length < n + tauMax + 1) throw new Error(`yinPitch: scratch of ${scratch.length} values, needs ${n + tauMax + 1}`);
  const frame = scratch.subarray(0, n);
  let power = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < q; k++) v += input[i * q + k]!;
    v /= q;
    frame[i] = v;
    power += v * v;
  }
  if (power / n < opts.minPower || tauMin >= tauMax) return { f0: 0, periodicity: 0 };
  const w = n - tauMax;
  // d'(τ): the difference function normalised by its running mean (d'(0) = 1).
  const d = scratch.subarray(n);
  d[0] = 1;
  let running = 0;
  for (let tau = 1; tau <= tauMax; tau++) {
    let s = 0;
    for (let j = 0; j < w; j++) {
      const diff = frame[j]! - frame[j + tau]!;
      s += diff * diff;
    }
    running += s;
    d[tau] = running > 0 ? (s * tau) / running : 1;
  }
  let best = tauMin;
  let minD = Infinity;
  for (let tau = tauMin; tau <= tauMax; tau++) {
    if (d[tau]! < minD) {
      minD = d[tau]!;
      best = tau;
    }
  }
  const periodicity = Math.min(1, Math.max(0, 1 - minD));
  // The first dip under the threshold, followed down to its local minimum; else unvoiced.
  let tau = tauMin;
  while (tau <= tauMax && d[tau]! >= opts.threshold) tau++;
  if (tau > tauMax) return { f0: 0, periodicity };
  while (tau + 1 <= tauMax && d[tau + 1]! < d[tau]!) tau++;
  best = tau;
  // Parabolic interpolation of the minimum between its neighbours.
  let shift = 0;
  if (best > tauMin && best < tauMax) {
    const a = d[best - 1]!, b = d[best]!, c = d[best + 1]!;
    const den = a - 2 * b + c;
    if (den > 0) shift = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den));
  }
  return { f0: rate / (best + shift), periodicity };
}

/** The pitch feature of a voiced F0: octaves above 100 Hz (log2(f0 / 100)). */
export const logPitch = (f0: number): number => Math.log2(f0 / 100);
