import { describe, expect, it } from "vitest";
import { formatIntervals } from "../../../src/bench/report.js";
import { poissonInterval, wilsonInterval } from "../../../src/bench/stats.js";
import type { QualitySummary } from "../../../src/bench/stream-score.js";

describe("the intervals a stream benchmark reports", () => {
  it("poissonInterval is the exact (Garwood) 95 % interval: the published values", () => {
    // Tables of chi-square quantiles / 2: 0 → (0, 3.689), 1 → (0.0253, 5.572), 10 → (4.795, 18.39).
    const cases: [number, number, number][] = [
      [0, 0, 3.689],
      [1, 0.0253, 5.572],
      [10, 4.795, 18.39],
    ];
    for (const [k, lo, hi] of cases) {
      const [l, h] = poissonInterval(k);
      expect(l).toBeCloseTo(lo, 3);
      expect(h).toBeCloseTo(hi, 2);
    }
    // Wider at 99 %, and refuses what is not a count.
    const [l99, h99] = poissonInterval(10, 0.99);
    expect(l99).toBeLessThan(4.795);
    expect(h99).toBeGreaterThan(18.39);
    expect(() => poissonInterval(1.5)).toThrow(/whole number/);
  });

  it("wilsonInterval is the Wilson score interval: the published values", () => {
    const [a, b] = wilsonInterval(0, 10);
    expect(a).toBe(0);
    expect(b).toBeCloseTo(0.2775, 3);
    const [c, d] = wilsonInterval(5, 10);
    expect(c).toBeCloseTo(0.2366, 3);
    expect(d).toBeCloseTo(0.7634, 3);
    expect(() => wilsonInterval(3, 0)).toThrow(/n > 0/);
  });

  it("the quality report prints both: one false alert in two hours of non-danger audio is anything from 0.01 to 2.8 an hour", () => {
    const summary = { non_danger_h: 2, false_alerts: 1, passages: 50, caught: 10 } as QualitySummary;
    expect(formatIntervals(summary)).toBe("95 % intervals: 0.01–2.79 false alerts/h (exact Poisson, 1 in 2.00 h of non-danger audio); caught 11.2–33.0 % (Wilson, 10 of 50 passages)\n");
    // Sound streams with no passages: the false-alert interval alone.
    expect(formatIntervals({ ...summary, passages: 0, caught: 0 })).toMatch(/^95 % interval: 0\.01–2\.79 false alerts\/h .*\n$/);
    expect(formatIntervals({ ...summary, non_danger_h: 0 })).toBe("");
  });
});
