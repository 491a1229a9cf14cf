/**
 * Signal levels of float sample blocks, for the device status, the microphone health check and
 * reports. Pure functions.
 *
 * dBFS convention: 20·log10(RMS), so a full-scale square wave is 0 dBFS and a full-scale sine is
 * -3.01 dBFS (what sox `stats` "RMS lev dB" and numpy code give; AES17 would add 3.01 dB).
 * Silence is clamped to MIN_DBFS instead of -Infinity so it serialises to JSON and compares.
 */

/** The floor for every dBFS value here: digital silence and anything quieter. */
export const MIN_DBFS = -120;

/** A sample at or above this magnitude counts as clipped by default. */
export const DEFAULT_CLIP_THRESHOLD = 0.999;

/** Converts a linear amplitude (RMS or peak, full scale = 1) to dBFS, floored at MIN_DBFS. */
export function amplitudeToDbfs(amplitude: number): number {
  if (!(amplitude > 0)) return MIN_DBFS;
  return Math.max(MIN_DBFS, 20 * Math.log10(amplitude));
}

export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i] ?? 0;
    sum += x * x;
  }
  return Math.sqrt(sum / samples.length);
}

/** RMS level in dBFS (full-scale square = 0 dBFS); MIN_DBFS for silence or an empty block. */
export function rmsDbfs(samples: Float32Array): number {
  return amplitudeToDbfs(rms(samples));
}

export function peakAbs(samples: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = Math.abs(samples[i] ?? 0);
    if (a > peak) peak = a;
  }
  return peak;
}

/** Fraction of samples with |x| >= thresh; 0 for an empty block. */
export function clippedFraction(samples: Float32Array, thresh = DEFAULT_CLIP_THRESHOLD): number {
  if (samples.length === 0) return 0;
  let clipped = 0;
  for (let i = 0; i < samples.length; i++) if (Math.abs(samples[i] ?? 0) >= thresh) clipped++;
  return clipped / samples.length;
}

/** The mean sample value (a stuck or badly biased microphone shows a large one); 0 if empty. */
export function dcOffset(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] ?? 0;
  return sum / samples.length;
}

export interface Levels {
  /** Samples aggregated. */
  samples: number;
  rmsDbfs: number;
  peakAbs: number;
  peakDbfs: number;
  clippedFraction: number;
  dcOffset: number;
}

/**
 * Aggregates levels over many blocks: the result equals the functions above applied to all the
 * blocks joined, whatever the block sizes. Sums are kept in float64.
 */
export class LevelMeter {
  private count = 0;
  private sum = 0;
  private sumSquares = 0;
  private peak = 0;
  private clipped = 0;

  constructor(private readonly clipThreshold = DEFAULT_CLIP_THRESHOLD) {}

  push(block: Float32Array): void {
    const thresh = this.clipThreshold;
    for (let i = 0; i < block.length; i++) {
      const x = block[i] ?? 0;
      const a = Math.abs(x);
      this.sum += x;
      this.sumSquares += x * x;
      if (a > this.peak) this.peak = a;
      if (a >= thresh) this.clipped++;
    }
    this.count += block.length;
  }

  read(): Levels {
    const n = this.count;
    return {
      samples: n,
      rmsDbfs: amplitudeToDbfs(n === 0 ? 0 : Math.sqrt(this.sumSquares / n)),
      peakAbs: this.peak,
      peakDbfs: amplitudeToDbfs(this.peak),
      clippedFraction: n === 0 ? 0 : this.clipped / n,
      dcOffset: n === 0 ? 0 : this.sum / n,
    };
  }

  /** Reads the levels and starts a new aggregation period. */
  readAndReset(): Levels {
    const levels = this.read();
    this.reset();
    return levels;
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.sumSquares = 0;
    this.peak = 0;
    this.clipped = 0;
  }
}
