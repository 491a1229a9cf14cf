import { describe, expect, it } from "vitest";
import { extractSteps, StepExtractor } from "../../../src/features/extract.js";
import { computeNormStats, windowFeatures } from "../../../src/features/normalise.js";
import {
  assertSupportedSpec,
  DEFAULT_FEATURE_SPEC,
  modelDims,
  staticDims,
  stepMs,
  windowSeconds,
  type FeatureSpec,
} from "../../../src/features/spec.js";

const spec = DEFAULT_FEATURE_SPEC;
const S = staticDims(spec);

function sine(freqHz: number, seconds: number, amp = 0.5, rate = 16_000): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) out[i] = amp * Math.sin((2 * Math.PI * freqHz * i) / rate);
  return out;
}

/** Seeded noise (mulberry32), so the fixtures are the same on every run. */
function noise(n: number, amp: number, seed = 1): Float32Array {
  let a = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = amp * ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1);
  }
  return out;
}

describe("feature spec", () => {
  it("describes 50 ms steps and 3 s windows", () => {
    expect(stepMs(spec)).toBe(50);
    expect(windowSeconds(spec)).toBe(3);
    expect(modelDims(spec)).toBe(82);
  });

  it("refuses a spec the extractor cannot produce, naming every field", () => {
    const bad = { ...spec, sampleRateHz: 44_100, frameSamples: 400, extra: 1 } as unknown as FeatureSpec;
    expect(() => assertSupportedSpec(bad)).toThrowError(/sampleRateHz 44100.*frameSamples 400|unknown field "extra"/);
    try {
      assertSupportedSpec(bad);
    } catch (e) {
      expect((e as { code: string }).code).toBe("UNSUPPORTED_SPEC");
      expect(String(e)).toContain('unknown field "extra"');
      expect(String(e)).toContain("frameSamples 400");
    }
    expect(() => assertSupportedSpec(spec)).not.toThrow();
  });
});

describe("step extraction", () => {
  it("puts a pure tone's energy in the mel band that contains it", () => {
    const peakBand = (f: number): number => {
      const { steps, data } = extractSteps(spec, sine(f, 1));
      expect(steps).toBeGreaterThan(15);
      const row = Array.from(data.subarray(10 * S, 10 * S + spec.melBands));
      return row.indexOf(Math.max(...row));
    };
    // Mel band centres rise monotonically, so a higher tone peaks in a higher band.
    const bands = [300, 1000, 4000].map(peakBand);
    expect(bands[0]!).toBeLessThan(bands[1]!);
    expect(bands[1]!).toBeLessThan(bands[2]!);
    expect(bands[2]!).toBeLessThan(spec.melBands - 1);
  });

  it("log energy follows the level: +6 dB adds ln 4", () => {
    const a = extractSteps(spec, sine(500, 1, 0.1)).data;
    const b = extractSteps(spec, sine(500, 1, 0.2)).data;
    expect(b[5 * S + spec.melBands]! - a[5 * S + spec.melBands]!).toBeCloseTo(Math.log(4), 3);
  });

  it("gives the same steps whatever the chunk size", () => {
    const audio = noise(16_000 * 2 + 123, 0.3);
    const whole = extractSteps(spec, audio).data;
    for (const chunk of [1, 7, 160, 511, 4096]) {
      const ex = new StepExtractor(spec);
      const rows: Float32Array[] = [];
      for (let i = 0; i < audio.length; i += chunk) rows.push(...ex.push(audio.subarray(i, i + chunk)));
      const joined = new Float32Array(rows.length * S);
      rows.forEach((r, i) => joined.set(r, i * S));
      expect(joined.length).toBe(whole.length);
      expect(Array.from(joined)).toEqual(Array.from(whole));
    }
  });

  it("stays finite on digital silence", () => {
    const { data } = extractSteps(spec, new Float32Array(16_000));
    expect(data.every((v) => Number.isFinite(v))).toBe(true);
  });
});

describe("window normalisation", () => {
  const T = spec.windowSteps;
  const windows = [0, 1, 2, 3].map((s) => extractSteps(spec, noise(16_000 * 3 + 512, 0.2, s + 1)).data.slice(0, T * S));
  const stats = computeNormStats(spec, windows);

  it("cancels a microphone's gain and fixed frequency response (norm: window)", () => {
    const w = windows[0]!;
    const shifted = w.map((v, i) => v + 1.7 + 0.05 * (i % S)); // gain plus a spectral tilt
    const a = windowFeatures(spec, stats, w);
    const b = windowFeatures(spec, stats, shifted);
    for (let i = 0; i < a.length; i++) expect(b[i]!).toBeCloseTo(a[i]!, 3);
  });

  it("uses adapted statistics for norm: speaker, and training ones without them", () => {
    const sp: FeatureSpec = { ...spec, norm: "speaker" };
    const st = computeNormStats(sp, windows);
    const w = windows[1]!;
    const plain = windowFeatures(sp, st, w);
    const adapted = windowFeatures(sp, st, w, { mean: st.mean.map((m) => m + 1), std: st.std });
    expect(adapted[0]!).toBeCloseTo(plain[0]! - 1 / st.std[0]!, 3);
  });

  it("produces T × modelDims finite values with unit-ish spread on training data", () => {
    const f = windowFeatures(spec, stats, windows[2]!);
    expect(f.length).toBe(T * modelDims(spec));
    expect(f.every((v) => Number.isFinite(v) && Math.abs(v) <= 8)).toBe(true);
  });
});
