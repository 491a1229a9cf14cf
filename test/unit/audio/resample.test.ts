import { describe, expect, it } from "vitest";
import { resample, resampledLength, Resampler } from "../../../src/audio/resample.js";
import { AudioError } from "../../../src/errors.js";
import { sine } from "../../fixtures/wav-writer.js";

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/** The steady middle part: drops the first and last 10%, where the filter meets the signal's edges. */
function middle(x: Float32Array): Float32Array {
  const edge = Math.floor(x.length / 10);
  return x.subarray(edge, x.length - edge);
}

/** Rising zero crossings per second. */
function crossingsPerSecond(x: Float32Array, rateHz: number): number {
  let n = 0;
  for (let i = 1; i < x.length; i++) if ((x[i - 1] ?? 0) < 0 && (x[i] ?? 0) >= 0) n++;
  return (n * rateHz) / x.length;
}

/** Magnitude of the DFT at freqHz (Goertzel), normalised so a sine of amplitude A gives A. */
function toneAmplitude(x: Float32Array, freqHz: number, rateHz: number): number {
  const w = (2 * Math.PI * freqHz) / rateHz;
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += (x[i] ?? 0) * Math.cos(w * i);
    im -= (x[i] ?? 0) * Math.sin(w * i);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

describe("resample", () => {
  for (const fromRateHz of [48000, 44100, 22050, 8000]) {
    it(`keeps a 1 kHz sine's frequency, amplitude and phase from ${fromRateHz} Hz to 16 kHz`, async () => {
      const input = sine(1000, fromRateHz, fromRateHz * 2, 0.5);
      const out = await resample(input, fromRateHz);
      expect(out.length).toBe(32000);

      const steady = middle(out);
      expect(crossingsPerSecond(steady, 16000)).toBeGreaterThan(999);
      expect(crossingsPerSecond(steady, 16000)).toBeLessThan(1001);
      expect(Math.abs(db(rms(steady) / rms(middle(input))))).toBeLessThan(0.1);
      expect(Math.abs(db(toneAmplitude(steady, 1000, 16000) / 0.5))).toBeLessThan(0.1);
      // No delay: the output matches a sine generated directly at 16 kHz.
      const reference = middle(sine(1000, 16000, 32000, 0.5));
      let maxErr = 0;
      for (let i = 0; i < steady.length; i++) maxErr = Math.max(maxErr, Math.abs((steady[i] ?? 0) - (reference[i] ?? 0)));
      expect(maxErr).toBeLessThan(1e-3);
    });
  }

  it("suppresses a 10 kHz sine at 48 kHz (above the 8 kHz output Nyquist) by at least 40 dB", async () => {
    const input = sine(10000, 48000, 48000, 0.5);
    const out = await resample(input, 48000);
    expect(db(rms(middle(out)) / rms(input))).toBeLessThan(-40);
  });

  it("passes speech-band tones up to 6 kHz within 0.1 dB", async () => {
    for (const freqHz of [100, 3000, 6000]) {
      const out = await resample(sine(freqHz, 48000, 48000, 0.5), 48000);
      expect(Math.abs(db(rms(middle(out)) / (0.5 / Math.SQRT2)))).toBeLessThan(0.1);
    }
  });

  it("returns exactly round(n·to/from) samples", async () => {
    const cases: [number, number][] = [
      [1, 48000],
      [2, 48000],
      [3, 44100],
      [1001, 44100],
      [1001, 22050],
      [1001, 8000],
      [12345, 11025],
      [200_000, 48000],
    ];
    // One converter for all cases keeps this test cheap; fresh ones are covered above.
    const resampler = new Resampler();
    try {
      for (const [n, fromRateHz] of cases) {
        const out = await resampler.resample(sine(440, fromRateHz, n, 0.3), fromRateHz);
        expect(out.length, `${n} samples at ${fromRateHz} Hz`).toBe(Math.round((n * 16000) / fromRateHz));
        expect(out.length).toBe(resampledLength(n, fromRateHz));
      }
    } finally {
      resampler.close();
    }
    expect((await resample(new Float32Array(0), 44100)).length).toBe(0);
  });

  it("resamples long inputs (many internal chunks) without glitches at the chunk joins or a dead tail", async () => {
    const seconds = 10; // 480,000 input samples: several 65,536-sample chunks
    const out = await resample(sine(1000, 48000, 48000 * seconds, 0.5), 48000);
    expect(out.length).toBe(16000 * seconds);
    const reference = sine(1000, 16000, out.length, 0.5);
    let maxErr = 0;
    for (let i = 400; i < out.length - 400; i++) maxErr = Math.max(maxErr, Math.abs((out[i] ?? 0) - (reference[i] ?? 0)));
    expect(maxErr).toBeLessThan(1e-3);
    // The last 10 ms are real signal, not padding zeros.
    expect(rms(out.subarray(out.length - 160))).toBeGreaterThan(0.3);
  });

  it("upsamples too (8 kHz to 48 kHz)", async () => {
    const out = await resample(sine(1000, 8000, 8000, 0.5), 8000, 48000);
    expect(out.length).toBe(48000);
    expect(crossingsPerSecond(middle(out), 48000)).toBeCloseTo(1000, -1);
  });

  it("returns a copy, not the input, when the rates match", async () => {
    const input = sine(1000, 16000, 100);
    const out = await resample(input, 16000);
    expect(out).not.toBe(input);
    expect(out).toEqual(input);
  });

  it("is deterministic, and a reused Resampler gives the same result as a fresh one", async () => {
    const a = sine(700, 44100, 30000, 0.4);
    const b = sine(2300, 44100, 20000, 0.2);
    const freshA = await resample(a, 44100);
    expect(await resample(a, 44100)).toEqual(freshA);
    const freshB = await resample(b, 44100);

    const resampler = new Resampler();
    try {
      // b after a: no filter history may leak from one signal into the next.
      expect(await resampler.resample(a, 44100)).toEqual(freshA);
      expect(await resampler.resample(b, 44100)).toEqual(freshB);
      // A different rate pair, then back.
      expect((await resampler.resample(a, 22050)).length).toBe(resampledLength(30000, 22050));
      expect(await resampler.resample(a, 44100)).toEqual(freshA);
      resampler.close();
      resampler.close();
      // Usable again after close().
      expect(await resampler.resample(b, 44100)).toEqual(freshB);
    } finally {
      resampler.close();
    }
  });

  it("rejects rates libsamplerate cannot take with UNSUPPORTED_RATE", async () => {
    for (const rateHz of [0, -8000, 44100.5, 384000, Number.NaN]) {
      const err = await resample(new Float32Array(10), rateHz).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AudioError);
      expect(err).toMatchObject({ code: "UNSUPPORTED_RATE", message: expect.stringContaining(String(rateHz)) });
    }
  });
});
