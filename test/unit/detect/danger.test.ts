import { describe, expect, it } from "vitest";
import { buildDangerWeights, createSmoother, dangerScore, dominantDangerEmotion } from "../../../src/detect/danger.js";

describe("dangerScore", () => {
  const weights = buildDangerWeights(["angry", "fear"]);

  it("sums the weighted danger probabilities", () => {
    expect(weights).toEqual({ angry: 1, fear: 1, scream: 1 });
    expect(dangerScore({ angry: 0.2, fear: 0.3, happy: 0.5 }, weights)).toBeCloseTo(0.5);
    expect(dangerScore({ angry: 0.4, fear: 0.4 }, buildDangerWeights(["angry", "fear"], { angry: 0.5 }))).toBeCloseTo(0.6);
  });

  it("ignores non-danger labels, missing labels and NaN, and clamps to [0, 1]", () => {
    expect(dangerScore({ happy: 1 }, weights)).toBe(0);
    expect(dangerScore({ angry: Number.NaN, fear: 0.3 }, weights)).toBeCloseTo(0.3);
    expect(dangerScore({ angry: 0.9, fear: 0.9 }, weights)).toBe(1);
    expect(dangerScore({ angry: -3 }, weights)).toBe(0);
    expect(dangerScore({ angry: 0.5 }, {})).toBe(0);
  });
});

describe("screams", () => {
  it("count as danger for a model that hears them, whichever emotions are configured", () => {
    const w = buildDangerWeights(["angry"]);
    expect(dangerScore({ angry: 0.1, scream: 0.7, sound: 0.2 }, w)).toBeCloseTo(0.8);
    expect(dominantDangerEmotion({ angry: 0.1, scream: 0.7, sound: 0.2 }, w)).toBe("scream");
    // A six-emotion model has no scream class: nothing changes for it.
    expect(dangerScore({ angry: 0.3, fear: 0.1, happy: 0.6 }, buildDangerWeights(["angry", "fear"]))).toBeCloseTo(0.4);
  });

  it("are weighed or turned off with weights.scream", () => {
    expect(buildDangerWeights(["angry", "fear"], { scream: 0.5 })).toEqual({ angry: 1, fear: 1, scream: 0.5 });
    expect(dangerScore({ scream: 0.9 }, buildDangerWeights(["angry", "fear"], { scream: 0 }))).toBe(0);
  });
});

describe("dominantDangerEmotion", () => {
  it("picks the largest weighted danger probability, ties to the first label", () => {
    const w = { angry: 1, fear: 1 };
    expect(dominantDangerEmotion({ angry: 0.2, fear: 0.3, neutral: 0.5 }, w)).toBe("fear");
    expect(dominantDangerEmotion({ angry: 0.4, fear: 0.4 }, w)).toBe("angry");
    expect(dominantDangerEmotion({ angry: 0.4, fear: 0.3 }, { angry: 0.5, fear: 1 })).toBe("fear");
    expect(dominantDangerEmotion({ neutral: 1 }, w)).toBeNull();
  });
});

describe("createSmoother", () => {
  it("passes scores through with method none (NaN → 0, clamped)", () => {
    const s = createSmoother({ method: "none" });
    expect([0.3, Number.NaN, 2].map((v) => s.push(v))).toEqual([0.3, 0, 1]);
  });

  it("averages the last m windows, counting silence before the first", () => {
    const s = createSmoother({ method: "mean", windows: 3 });
    const out = [0.9, 0.9, 0.9, 0, 0].map((v) => s.push(v));
    expect(out[0]).toBeCloseTo(0.3);
    expect(out[1]).toBeCloseTo(0.6);
    expect(out[2]).toBeCloseTo(0.9);
    expect(out[3]).toBeCloseTo(0.6);
    expect(out[4]).toBeCloseTo(0.3);
    s.reset();
    expect(s.push(0.6)).toBeCloseTo(0.2);
  });

  it("is an EMA with alpha = 2/(m+1) starting from 0", () => {
    const s = createSmoother({ method: "ema", windows: 3 }); // alpha 0.5
    expect(s.push(1)).toBeCloseTo(0.5);
    expect(s.push(1)).toBeCloseTo(0.75);
    expect(s.push(0)).toBeCloseTo(0.375);
    s.reset();
    expect(s.push(0.4)).toBeCloseTo(0.2);
    expect(createSmoother({ method: "ema", windows: 1 }).push(0.7)).toBeCloseTo(0.7);
  });

  it("depends only on the sequence of windows, not on how they are grouped", () => {
    const trace = Array.from({ length: 50 }, (_, i) => Math.abs(Math.sin(i * 0.7)));
    for (const spec of [{ method: "ema", windows: 4 }, { method: "mean", windows: 5 }] as const) {
      const whole = createSmoother(spec);
      const expected = trace.map((v) => whole.push(v));
      // Same windows delivered in uneven batches by a pipeline.
      const batched = createSmoother(spec);
      const got: number[] = [];
      for (const size of [1, 7, 3, 13, 26]) {
        const start = got.length;
        for (const v of trace.slice(start, start + size)) got.push(batched.push(v));
      }
      expect(got).toEqual(expected);
    }
  });
});
