import type { Rng } from "./random.js";

/**
 * Waveform augmentations that imitate what separates a corpus from a worn or wall-mounted unit:
 * background noise at a random SNR, room reverberation, a different microphone's frequency
 * response (EQ) and band limits. All draws come from the given Rng, so a seed fixes them.
 */
export interface AugmentOptions {
  /** Noise recordings at 16 kHz (e.g. ../shared/data/noise); empty = white noise only. */
  noises: Float32Array[];
  snrDbRange: [number, number];
  reverbProbability: number;
  rt60Range: [number, number];
  eqProbability: number;
}

export const DEFAULT_AUGMENT: Omit<AugmentOptions, "noises"> = {
  snrDbRange: [3, 25],
  reverbProbability: 0.5,
  rt60Range: [0.15, 0.7],
  eqProbability: 0.7,
};

function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** RMS of the loudest half of 20 ms blocks: the level of the speech, not of its pauses. */
export function activeRms(x: Float32Array): number {
  const block = 320;
  const levels: number[] = [];
  for (let i = 0; i + block <= x.length; i += block) levels.push(rms(x.subarray(i, i + block)));
  if (levels.length === 0) return rms(x);
  levels.sort((a, b) => b - a);
  const top = levels.slice(0, Math.max(1, Math.ceil(levels.length / 2)));
  return Math.sqrt(top.reduce((s, v) => s + v * v, 0) / top.length);
}

export function addNoise(x: Float32Array, noise: Float32Array | null, snrDb: number, rng: Rng): Float32Array {
  const out = new Float32Array(x.length);
  const n = new Float32Array(x.length);
  if (noise && noise.length > 0) {
    let pos = rng.int(noise.length);
    for (let i = 0; i < x.length; i++) {
      n[i] = noise[pos]!;
      if (++pos >= noise.length) pos = 0;
    }
  } else {
    for (let i = 0; i < x.length; i++) n[i] = rng.normal();
  }
  const target = activeRms(x) / Math.pow(10, snrDb / 20);
  const g = target / Math.max(1e-9, rms(n));
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + g * n[i]!;
  return out;
}

/** In-place iterative radix-2 FFT on (re, im); n must be a power of two. */
function fft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang), wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k, b = a + len / 2;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a]! += tr;
        im[a]! += ti;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
  if (inverse) for (let i = 0; i < n; i++) { re[i]! /= n; im[i]! /= n; }
}

/** Linear convolution by FFT, truncated to x's length (the tail of the reverb is cut). */
export function convolve(x: Float32Array, h: Float32Array): Float32Array {
  let n = 1;
  while (n < x.length + h.length) n <<= 1;
  const ar = new Float64Array(n), ai = new Float64Array(n);
  const br = new Float64Array(n), bi = new Float64Array(n);
  ar.set(x);
  br.set(h);
  fft(ar, ai, false);
  fft(br, bi, false);
  for (let i = 0; i < n; i++) {
    const r = ar[i]! * br[i]! - ai[i]! * bi[i]!;
    ai[i] = ar[i]! * bi[i]! + ai[i]! * br[i]!;
    ar[i] = r;
  }
  fft(ar, ai, true);
  return Float32Array.from(ar.subarray(0, x.length));
}

/** A synthetic room: a direct path and exponentially decaying noise with the given RT60. */
export function roomImpulse(rt60S: number, rng: Rng, rateHz = 16_000): Float32Array {
  const len = Math.max(1, Math.round(rt60S * rateHz));
  const h = new Float32Array(len);
  const decay = Math.log(1000) / (rt60S * rateHz); // -60 dB over rt60
  const delay = Math.round(rng.uniform(0.002, 0.01) * rateHz);
  for (let i = delay; i < len; i++) h[i] = 0.3 * rng.normal() * Math.exp(-decay * i);
  h[0] = 1;
  // Keep the speech level: normalise the impulse's energy to the direct path's.
  let e = 0;
  for (let i = 0; i < len; i++) e += h[i]! * h[i]!;
  const g = 1 / Math.sqrt(e);
  for (let i = 0; i < len; i++) h[i]! *= g;
  return h;
}

/** RBJ biquad, applied in place (Direct Form I). */
function biquad(x: Float32Array, b0: number, b1: number, b2: number, a1: number, a2: number): void {
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    const y = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1; x1 = x0; y2 = y1; y1 = y;
    x[i] = y;
  }
}

/** A random microphone colouring: one peaking band and a high- or low-pass, seeded. */
export function randomEq(x: Float32Array, rng: Rng, rateHz = 16_000): Float32Array {
  const y = Float32Array.from(x);
  // Peaking EQ, ±9 dB, 200 Hz – 5 kHz.
  {
    const f0 = Math.exp(rng.uniform(Math.log(200), Math.log(5000)));
    const gainDb = rng.uniform(-9, 9);
    const q = rng.uniform(0.5, 2);
    const A = Math.pow(10, gainDb / 40);
    const w = (2 * Math.PI * f0) / rateHz;
    const alpha = Math.sin(w) / (2 * q);
    const a0 = 1 + alpha / A;
    biquad(y, (1 + alpha * A) / a0, (-2 * Math.cos(w)) / a0, (1 - alpha * A) / a0, (-2 * Math.cos(w)) / a0, (1 - alpha / A) / a0);
  }
  // High-pass (small microphones lose bass) or low-pass (cheap ones lose treble).
  const highpass = rng.next() < 0.5;
  const f0 = highpass ? rng.uniform(80, 400) : rng.uniform(3400, 7000);
  const w = (2 * Math.PI * f0) / rateHz;
  const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
  const cw = Math.cos(w);
  const a0 = 1 + alpha;
  if (highpass) biquad(y, (1 + cw) / 2 / a0, -(1 + cw) / a0, (1 + cw) / 2 / a0, (-2 * cw) / a0, (1 - alpha) / a0);
  else biquad(y, (1 - cw) / 2 / a0, (1 - cw) / a0, (1 - cw) / 2 / a0, (-2 * cw) / a0, (1 - alpha) / a0);
  return y;
}

/** One augmented copy of a clip. */
export function augment(x: Float32Array, opts: AugmentOptions, rng: Rng): Float32Array {
  let y = x;
  if (rng.next() < opts.reverbProbability) y = convolve(y, roomImpulse(rng.uniform(...opts.rt60Range), rng));
  if (rng.next() < opts.eqProbability) y = randomEq(y, rng);
  const noise = opts.noises.length > 0 ? opts.noises[rng.int(opts.noises.length)]! : null;
  y = addNoise(y, noise, rng.uniform(...opts.snrDbRange), rng);
  // Keep it within full scale, as a real converter would (it would clip; we scale instead).
  let peak = 0;
  for (let i = 0; i < y.length; i++) peak = Math.max(peak, Math.abs(y[i]!));
  if (peak > 0.99) for (let i = 0; i < y.length; i++) y[i]! *= 0.99 / peak;
  return y;
}

/**
 * Pads a clip shorter than `minSamples` symmetrically with quiet seeded noise (about -70 dBFS):
 * on a device, speech is always surrounded by the room, never by digital zeros.
 */
export function padTo(x: Float32Array, minSamples: number, rng: Rng): Float32Array {
  if (x.length >= minSamples) return x;
  const out = new Float32Array(minSamples);
  for (let i = 0; i < minSamples; i++) out[i] = 3e-4 * rng.normal();
  const off = Math.floor((minSamples - x.length) / 2);
  for (let i = 0; i < x.length; i++) out[off + i]! += x[i]!;
  return out;
}
