/**
 * Prosody features (src/features/pitch.ts, spec.pitch): YIN finds the F0 of voiced frames and
 * calls noise and silence unvoiced; the extractor's two extra static features follow a voice's
 * pitch, do not depend on chunking, and leave every other feature as it was.
 */
import { describe, expect, it } from "vitest";
import { extractSteps, StepExtractor } from "../../../src/features/extract.js";
import { DEFAULT_PITCH, logPitch, pitchScratch, yinPitch } from "../../../src/features/pitch.js";
import { assertSupportedSpec, DEFAULT_FEATURE_SPEC, staticDims, type FeatureSpec } from "../../../src/features/spec.js";
import { lcg } from "../../fixtures/synthetic-voice.js";

const SR = 16_000;

/** A voice-like harmonic tone: F0 and four harmonics with falling amplitudes. */
function voiced(f0: number, seconds: number, amp = 0.3): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => {
    let v = 0;
    for (let h = 1; h <= 5; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / SR) / h;
    return amp * 0.5 * v;
  });
}

function noise(seconds: number, amp = 0.3): Float32Array {
  const rnd = lcg(5);
  return Float32Array.from({ length: Math.round(seconds * SR) }, () => amp * (2 * rnd() - 1));
}

describe("yinPitch", () => {
  const scratch = pitchScratch(512);
  for (const f0 of [80, 120, 210, 330, 550]) {
    it(`finds ${f0} Hz within 1 % in a harmonic tone`, () => {
      const r = yinPitch(voiced(f0, 0.032).subarray(0, 512), scratch);
      expect(Math.abs(r.f0 - f0) / f0).toBeLessThan(0.01);
      expect(r.periodicity).toBeGreaterThan(0.9);
    });
  }

  it("calls white noise and digital silence unvoiced", () => {
    const n = yinPitch(noise(0.032).subarray(0, 512), scratch);
    expect(n.f0).toBe(0);
    expect(n.periodicity).toBeLessThan(0.5);
    expect(yinPitch(new Float32Array(512), scratch)).toEqual({ f0: 0, periodicity: 0 });
  });

  it("refuses a scratch too small for its lags", () => {
    expect(() => yinPitch(new Float32Array(512).fill(0.1), new Float64Array(10), DEFAULT_PITCH)).toThrow(/scratch/);
  });
});

describe("StepExtractor with spec.pitch", () => {
  const spec: FeatureSpec = { ...DEFAULT_FEATURE_SPEC, pitch: true };
  const S = staticDims(spec);

  it("adds periodicity and log F0 after the other features, which stay as they were", () => {
    expect(S).toBe(staticDims(DEFAULT_FEATURE_SPEC) + 2);
    const audio = Float32Array.from([...noise(0.5), ...voiced(200, 0.5), ...voiced(400, 0.5)]);
    const withPitch = extractSteps(spec, audio);
    const without = extractSteps(DEFAULT_FEATURE_SPEC, audio);
    expect(withPitch.steps).toBe(without.steps);
    const s0 = staticDims(DEFAULT_FEATURE_SPEC);
    for (let t = 0; t < without.steps; t++) {
      for (let i = 0; i < s0; i++) expect(withPitch.data[t * S + i]).toBe(without.data[t * s0 + i]);
    }
    const at = (sec: number): { periodicity: number; logF0: number } => {
      const t = Math.floor(sec / 0.05);
      return { periodicity: withPitch.data[t * S + s0]!, logF0: withPitch.data[t * S + s0 + 1]! };
    };
    // Noise: unvoiced; 200 Hz: one octave above 100 Hz; 400 Hz: two.
    expect(at(0.2).logF0).toBe(0);
    expect(at(0.2).periodicity).toBeLessThan(0.5);
    expect(at(0.75).logF0).toBeCloseTo(logPitch(200), 2);
    expect(at(0.75).periodicity).toBeGreaterThan(0.9);
    expect(at(1.25).logF0).toBeCloseTo(2, 2);
  });

  it("gives the same steps whatever the chunk size", () => {
    const audio = Float32Array.from([...voiced(150, 0.4), ...noise(0.3), ...voiced(260, 0.4)]);
    const whole = extractSteps(spec, audio).data;
    const ex = new StepExtractor(spec);
    const rows: Float32Array[] = [];
    for (let i = 0; i < audio.length; i += 777) rows.push(...ex.push(audio.subarray(i, i + 777)));
    expect(Float32Array.from(rows.flatMap((r) => Array.from(r)))).toEqual(whole);
  });

  it("is a field a bundle may state, as a boolean", () => {
    expect(() => assertSupportedSpec({ ...DEFAULT_FEATURE_SPEC, pitch: true })).not.toThrow();
    expect(() => assertSupportedSpec({ ...DEFAULT_FEATURE_SPEC, pitch: "yes" })).toThrow(/pitch must be true or false/);
  });
});
