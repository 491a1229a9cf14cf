import { describe, expect, it } from "vitest";
import {
  amplitudeToDbfs,
  clippedFraction,
  dcOffset,
  LevelMeter,
  MIN_DBFS,
  peakAbs,
  rmsDbfs,
} from "../../../src/audio/level-meter.js";
import { sine } from "../../fixtures/wav-writer.js";

function square(amplitude: number, n: number, periodSamples = 16): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % periodSamples < periodSamples / 2 ? amplitude : -amplitude));
}

describe("levels of known signals", () => {
  it("a full-scale square wave is 0 dBFS, a full-scale sine -3.01 dBFS", () => {
    expect(rmsDbfs(square(1, 1600))).toBeCloseTo(0, 6);
    expect(rmsDbfs(sine(1000, 16000, 16000, 1))).toBeCloseTo(-3.0103, 3);
  });

  it("a 0.1 square is -20 dBFS and halving the amplitude loses 6.02 dB", () => {
    expect(rmsDbfs(square(0.1, 1600))).toBeCloseTo(-20, 6);
    expect(rmsDbfs(sine(440, 16000, 16000, 0.25)) - rmsDbfs(sine(440, 16000, 16000, 0.5))).toBeCloseTo(-6.0206, 3);
  });

  it("silence and empty blocks are clamped to MIN_DBFS", () => {
    expect(MIN_DBFS).toBe(-120);
    expect(rmsDbfs(new Float32Array(100))).toBe(MIN_DBFS);
    expect(rmsDbfs(new Float32Array(0))).toBe(MIN_DBFS);
    expect(rmsDbfs(new Float32Array(100).fill(1e-9))).toBe(MIN_DBFS);
    expect(amplitudeToDbfs(Number.NaN)).toBe(MIN_DBFS);
  });

  it("peakAbs finds the largest magnitude, negative or positive", () => {
    expect(peakAbs(new Float32Array([0.1, -0.7, 0.5]))).toBeCloseTo(0.7, 6);
    expect(peakAbs(new Float32Array(0))).toBe(0);
  });

  it("clippedFraction counts samples at or above the threshold", () => {
    const x = new Float32Array([1, -1, 0.999, 0.5, -0.9985, 0, 0, 0, 0, 0]);
    expect(clippedFraction(x)).toBeCloseTo(0.3, 9);
    expect(clippedFraction(x, 0.9)).toBeCloseTo(0.4, 9);
    expect(clippedFraction(new Float32Array(0))).toBe(0);
  });

  it("dcOffset is the mean", () => {
    const x = sine(1000, 16000, 16000, 0.5).map((v) => v + 0.25);
    expect(dcOffset(x)).toBeCloseTo(0.25, 5);
    expect(dcOffset(sine(1000, 16000, 16000, 0.5))).toBeCloseTo(0, 5);
    expect(dcOffset(new Float32Array(0))).toBe(0);
  });
});

describe("LevelMeter", () => {
  it("aggregates blocks of any size to the same levels as the whole signal", () => {
    const signal = sine(300, 16000, 10000, 0.9).map((v, i) => (i % 97 === 0 ? 1 : v + 0.01));
    const meter = new LevelMeter();
    const sizes = [1, 7, 160, 1024, 3];
    let pos = 0;
    for (let k = 0; pos < signal.length; k++) {
      const size = sizes[k % sizes.length] ?? 1;
      meter.push(signal.subarray(pos, pos + size));
      pos += size;
    }
    const levels = meter.read();
    expect(levels.samples).toBe(signal.length);
    expect(levels.rmsDbfs).toBeCloseTo(rmsDbfs(signal), 6);
    expect(levels.peakAbs).toBe(peakAbs(signal));
    expect(levels.peakDbfs).toBeCloseTo(amplitudeToDbfs(peakAbs(signal)), 9);
    expect(levels.clippedFraction).toBeCloseTo(clippedFraction(signal), 12);
    expect(levels.dcOffset).toBeCloseTo(dcOffset(signal), 9);
  });

  it("starts a new period after readAndReset, and reads silence when empty", () => {
    const meter = new LevelMeter(0.5);
    meter.push(square(0.6, 160));
    expect(meter.readAndReset()).toMatchObject({ samples: 160, clippedFraction: 1 });
    expect(meter.read()).toEqual({ samples: 0, rmsDbfs: MIN_DBFS, peakAbs: 0, peakDbfs: MIN_DBFS, clippedFraction: 0, dcOffset: 0 });
    meter.push(square(0.1, 160));
    expect(meter.read().rmsDbfs).toBeCloseTo(-20, 5);
  });
});
