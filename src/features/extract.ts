import meydaModule from "meyda";
import { DEFAULT_PITCH, logPitch, pitchScratch, yinPitch, type PitchOptions } from "./pitch.js";
import { PITCH_DIMS, staticDims, type FeatureSpec } from "./spec.js";

/**
 * Streaming static-feature extraction: audio samples in (16 kHz float), one step of
 * [log-mel bands..., log energy] out every `hopSamples * poolFrames` samples. Output depends
 * only on the sample sequence, never on how it was chunked (tested), so the daemon, `replay`,
 * training and evaluation all see the same numbers.
 *
 * meyda provides the Hann window, FFT and power spectrum and its mel filter bank (0 Hz to
 * Nyquist). We apply the bank ourselves as a sparse product and take ln(energy + floor) instead of
 * meyda's melBands extractor, which returns ln(1 + energy): for float input in [-1, 1] that is
 * nearly linear for quiet speech, so its features would change shape with microphone gain.
 */
const LOG_FLOOR = 1e-10;

interface SparseBand {
  start: number;
  weights: Float32Array;
}

/** The part of meyda's CommonJS export we use (its bundled typings describe the ESM build). */
interface MeydaSingleton {
  bufferSize: number;
  sampleRate: number;
  melBands: number;
  windowingFunction: string;
  melFilterBank?: ArrayLike<number>[];
  extract(feature: string | string[], signal: Float32Array): unknown;
}
const Meyda = meydaModule as unknown as MeydaSingleton;

/** Meyda keeps its settings on one shared object; every use goes through here. */
function configureMeyda(spec: FeatureSpec): void {
  Meyda.bufferSize = spec.frameSamples;
  Meyda.sampleRate = spec.sampleRateHz;
  Meyda.melBands = spec.melBands;
  Meyda.windowingFunction = "hanning";
}

const bankCache = new Map<string, SparseBand[]>();

function melBank(spec: FeatureSpec): SparseBand[] {
  const key = `${spec.sampleRateHz}/${spec.frameSamples}/${spec.melBands}`;
  let bank = bankCache.get(key);
  if (bank) return bank;
  configureMeyda(spec);
  // meyda builds its filter bank lazily inside extract(); one call on silence creates it.
  Meyda.extract(["powerSpectrum"], new Float32Array(spec.frameSamples));
  const dense = Meyda.melFilterBank ?? [];
  bank = dense.slice(0, spec.melBands).map((row) => {
    let start = 0;
    while (start < row.length && row[start] === 0) start++;
    let end = row.length;
    while (end > start && row[end - 1] === 0) end--;
    return { start, weights: Float32Array.from(Array.prototype.slice.call(row, start, end) as number[]) };
  });
  bankCache.set(key, bank);
  return bank;
}

/** Static features of one frame, written into `out` at `offset`. */
function frameFeatures(spec: FeatureSpec, bank: SparseBand[], frame: Float32Array, out: Float32Array, offset: number): void {
  configureMeyda(spec);
  const power = Meyda.extract("powerSpectrum", frame) as unknown as Float32Array;
  for (let b = 0; b < bank.length; b++) {
    const band = bank[b]!;
    let e = 0;
    const w = band.weights;
    for (let j = 0; j < w.length; j++) e += w[j]! * (power[band.start + j] ?? 0);
    out[offset + b]! += Math.log(e + LOG_FLOOR);
  }
  if (spec.energy) {
    let sum = 0;
    for (let i = 0; i < frame.length; i++) sum += frame[i]! * frame[i]!;
    out[offset + spec.melBands]! += Math.log(sum / frame.length + LOG_FLOOR);
  }
}

export class StepExtractor {
  private readonly spec: FeatureSpec;
  private readonly dims: number;
  private bank: SparseBand[] | null = null;
  /** Unconsumed samples; `pendingStart` is the absolute index of pending[0]. */
  private pending = new Float32Array(0);
  private framesInStep = 0;
  private acc: Float32Array;
  private readonly frame: Float32Array;
  private stepsOut = 0;
  private powerAcc = 0;
  /** Prosody (spec.pitch): YIN's scratch and the step's sums of periodicity, voiced log F0 and voiced frames. */
  private readonly pitch: { opts: PitchOptions; scratch: Float64Array; periodicity: number; logF0: number; voiced: number } | null;

  constructor(spec: FeatureSpec) {
    this.spec = spec;
    this.dims = staticDims(spec);
    this.acc = new Float32Array(this.dims);
    this.frame = new Float32Array(spec.frameSamples);
    const opts = { ...DEFAULT_PITCH, sampleRateHz: spec.sampleRateHz };
    this.pitch = spec.pitch ? { opts, scratch: pitchScratch(spec.frameSamples, opts), periodicity: 0, logF0: 0, voiced: 0 } : null;
  }

  /** Steps emitted so far. */
  get stepCount(): number {
    return this.stepsOut;
  }

  /** Feed samples; returns the steps completed by them (each `staticDims` long). */
  push(samples: Float32Array): Float32Array[] {
    return this.pushWithPower(samples).map((s) => s.step);
  }

  /**
   * Like push, and gives each step's mean power (mean square of its frames' samples), for level
   * meters that must line up with the steps exactly whatever the chunking.
   */
  pushWithPower(samples: Float32Array): { step: Float32Array; power: number }[] {
    const spec = this.spec;
    this.bank ??= melBank(spec);
    const buf = new Float32Array(this.pending.length + samples.length);
    buf.set(this.pending, 0);
    buf.set(samples, this.pending.length);
    const out: { step: Float32Array; power: number }[] = [];
    let pos = 0;
    while (pos + spec.frameSamples <= buf.length) {
      this.frame.set(buf.subarray(pos, pos + spec.frameSamples));
      frameFeatures(spec, this.bank, this.frame, this.acc, 0);
      let sq = 0;
      for (let i = 0; i < this.frame.length; i++) sq += this.frame[i]! * this.frame[i]!;
      this.powerAcc += sq / this.frame.length;
      const pitch = this.pitch;
      if (pitch) {
        const r = yinPitch(this.frame, pitch.scratch, pitch.opts);
        pitch.periodicity += r.periodicity;
        if (r.f0 > 0) {
          pitch.logF0 += logPitch(r.f0);
          pitch.voiced++;
        }
      }
      pos += spec.hopSamples;
      if (++this.framesInStep === spec.poolFrames) {
        const step = new Float32Array(this.dims);
        const acoustic = this.dims - (pitch ? PITCH_DIMS : 0);
        for (let i = 0; i < acoustic; i++) step[i] = this.acc[i]! / spec.poolFrames;
        if (pitch) {
          step[acoustic] = pitch.periodicity / spec.poolFrames;
          step[acoustic + 1] = pitch.voiced > 0 ? pitch.logF0 / pitch.voiced : 0;
          pitch.periodicity = pitch.logF0 = pitch.voiced = 0;
        }
        out.push({ step, power: this.powerAcc / spec.poolFrames });
        this.powerAcc = 0;
        this.acc.fill(0);
        this.framesInStep = 0;
        this.stepsOut++;
      }
    }
    this.pending = buf.slice(pos);
    return out;
  }

  reset(): void {
    this.pending = new Float32Array(0);
    this.acc.fill(0);
    if (this.pitch) this.pitch.periodicity = this.pitch.logF0 = this.pitch.voiced = 0;
    this.powerAcc = 0;
    this.framesInStep = 0;
    this.stepsOut = 0;
  }
}

/** All steps of a whole recording, as one [steps × staticDims] row-major array. */
export function extractSteps(spec: FeatureSpec, samples: Float32Array): { steps: number; data: Float32Array } {
  const ex = new StepExtractor(spec);
  const rows = ex.push(samples);
  const dims = staticDims(spec);
  const data = new Float32Array(rows.length * dims);
  rows.forEach((r, i) => data.set(r, i * dims));
  return { steps: rows.length, data };
}
