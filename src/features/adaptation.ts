import { readFile, rename, writeFile } from "node:fs/promises";
import type { AdaptedStats, NormStats } from "./normalise.js";

/**
 * Adaptation to the unit's microphone, room and wearer: running mean and variance of the static
 * features of what the unit hears (voiced steps only; labels are never known), blended with the
 * training statistics. Recordings differ between microphones and rooms far more than between
 * emotions; bundles normalised per speaker ("speaker" norm) were trained with each speaker's own
 * statistics, and this gives a deployed unit the same footing after some hours of listening.
 *
 * - Exponential forgetting with a half-life counted in hours of *voiced* audio, so a quiet night
 *   does not wash out what the day taught, and a change of wearer is followed within a day.
 * - Bounded: the running part never weighs more than `maxWeight`, so the training statistics
 *   always anchor it (a unit that only ever hears a television cannot drift arbitrarily).
 * - Warm-up apart from forgetting: the running part's weight grows to `maxWeight` over
 *   `warmupS` seconds of voiced audio (minutes), while old observations fade with the half-life
 *   (hours or days). Before the warm-up existed, confidence grew with the half-life itself, so a
 *   72 h half-life meant three days of speech before the unit leaned on what it heard.
 * - Stored as a small JSON file in the state directory (no audio, only 2 × dims numbers);
 *   `reset()` forgets everything.
 */
export interface AdaptationOptions {
  halfLifeH: number;
  maxWeight: number;
  /**
   * Seconds of voiced audio after which the running statistics take their full weight
   * (`maxWeight`); before that, in proportion. Absent: one half-life (the old behaviour).
   */
  warmupS?: number;
  /** Duration of one feature step, ms. */
  stepMs: number;
}

interface Persisted {
  version: 1;
  dims: number;
  weight: number;
  mean: number[];
  meanSq: number[];
}

export class RunningAdaptation {
  private readonly dims: number;
  private readonly decay: number;
  private weight = 0;
  private readonly mean: Float64Array;
  private readonly meanSq: Float64Array;
  private cached: AdaptedStats | null = null;
  private sinceCache = 0;

  constructor(
    private readonly training: NormStats,
    private readonly opts: AdaptationOptions,
  ) {
    this.dims = training.mean.length;
    this.mean = new Float64Array(this.dims);
    this.meanSq = new Float64Array(this.dims);
    const stepsPerHalfLife = (opts.halfLifeH * 3_600_000) / opts.stepMs;
    this.decay = Math.pow(0.5, 1 / Math.max(1, stepsPerHalfLife));
  }

  /** Effective number of voiced steps observed (decayed). */
  get observedSteps(): number {
    return this.weight;
  }

  observe(step: Float32Array): void {
    // Exponentially weighted moments: w ← d·w + 1; m ← m + (x − m)/w.
    this.weight = this.decay * this.weight + 1;
    const a = 1 / this.weight;
    for (let i = 0; i < this.dims; i++) {
      const x = step[i]!;
      this.mean[i]! += a * (x - this.mean[i]!);
      this.meanSq[i]! += a * (x * x - this.meanSq[i]!);
    }
    // Recomputing the blend every step is wasteful; statistics of hours move slowly.
    if (++this.sinceCache >= 20) this.cached = null;
  }

  /** Blended statistics, or null before anything was heard. */
  current(): AdaptedStats | null {
    if (this.weight === 0) return null;
    if (this.cached) return this.cached;
    // Confidence grows with what was heard, reaching maxWeight after the warm-up's worth of voice
    // (default one half-life; the decayed weight saturates at 1.44 half-lives' worth of steps, so
    // a warm-up longer than that is never completed and is capped there).
    const halfLifeSteps = (this.opts.halfLifeH * 3_600_000) / this.opts.stepMs;
    const warmupSteps = Math.min(
      1.44 * halfLifeSteps,
      this.opts.warmupS === undefined ? halfLifeSteps : Math.max(1, (this.opts.warmupS * 1000) / this.opts.stepMs),
    );
    const w = this.opts.maxWeight * Math.min(1, this.weight / warmupSteps);
    const mean = new Float32Array(this.dims);
    const std = new Float32Array(this.dims);
    for (let i = 0; i < this.dims; i++) {
      const tm = this.training.mean[i]!;
      const tv = this.training.std[i]! ** 2;
      const rv = Math.max(0, this.meanSq[i]! - this.mean[i]! ** 2);
      mean[i] = (1 - w) * tm + w * this.mean[i]!;
      std[i] = Math.sqrt((1 - w) * tv + w * rv);
    }
    this.cached = { mean, std };
    this.sinceCache = 0;
    return this.cached;
  }

  reset(): void {
    this.weight = 0;
    this.mean.fill(0);
    this.meanSq.fill(0);
    this.cached = null;
  }

  async save(file: string): Promise<void> {
    const data: Persisted = { version: 1, dims: this.dims, weight: this.weight, mean: Array.from(this.mean), meanSq: Array.from(this.meanSq) };
    await writeFile(file + ".tmp", JSON.stringify(data));
    await rename(file + ".tmp", file);
  }

  /** Restores saved statistics; a missing, corrupt or mismatched file starts afresh (returns false). */
  async load(file: string): Promise<boolean> {
    try {
      const d = JSON.parse(await readFile(file, "utf8")) as Persisted;
      if (d.version !== 1 || d.dims !== this.dims || !Number.isFinite(d.weight) || d.mean.length !== this.dims) return false;
      if (![...d.mean, ...d.meanSq].every(Number.isFinite)) return false;
      this.weight = d.weight;
      this.mean.set(d.mean);
      this.meanSq.set(d.meanSq);
      this.cached = null;
      return true;
    } catch {
      return false;
    }
  }
}
