import { describe, expect, it } from "vitest";
import { detectParamsFromConfig } from "../../../src/config/detect-params.js";
import { parseConfig } from "../../../src/config/load.js";
import {
  bySensitivity,
  candidateGrid,
  countAlerts,
  evaluateCandidates,
  recommend,
  zeroAlertUpperBoundPerHour,
  type ScorePoint,
  type ScoreTrace,
} from "../../../src/calibrate/simulate.js";
import { calibrationReport, formatCalibration } from "../../../src/calibrate/report.js";

function detectConfig(yaml = "") {
  const r = parseConfig(yaml, { env: {}, hostname: "t" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config.detect;
}

const HOP = 500;

/** A trace at 0.5 s hops: `bursts` are [startS, durationS, score] over a background score. */
function trace(totalS: number, background: number, bursts: [number, number, number][]): ScoreTrace {
  const pts: ScorePoint[] = [];
  for (let t = HOP; t <= totalS * 1000; t += HOP) {
    const b = bursts.find(([s, d]) => t > s * 1000 && t <= (s + d) * 1000);
    pts.push({ tMs: t, score: b ? b[2] : background });
  }
  return { segments: [pts], audioMs: totalS * 1000 };
}

describe("calibration simulation", () => {
  const detect = detectConfig("detect: { cooldown_s: 30, min_duration_s: 1, hold_s: 2 }");
  const base = detectParamsFromConfig(detect);

  it("builds the grid with exit = enter - 0.2", () => {
    const grid = candidateGrid();
    expect(grid.length).toBe(11 * 6);
    for (const c of grid) expect(c.exitThreshold).toBeCloseTo(c.enterThreshold - 0.2, 10);
    expect(grid[0]).toEqual({ enterThreshold: 0.4, exitThreshold: 0.2, k: 2, n: 3 });
  });

  it("counts alerts as the state machine raises them: thresholds and k-of-n matter", () => {
    // One hour: a 5 s burst at 0.7 and, later, two single windows at 0.95 a second apart.
    const t = trace(3600, 0.1, [
      [600, 5, 0.7],
      [1800, 0.5, 0.95],
      [1801, 0.5, 0.95],
    ]);
    expect(countAlerts(t, base, { enterThreshold: 0.6, exitThreshold: 0.4, k: 3, n: 5 })).toBe(1); // the burst, not the blip
    expect(countAlerts(t, base, { enterThreshold: 0.8, exitThreshold: 0.6, k: 3, n: 5 })).toBe(0); // the burst is below 0.8
    expect(countAlerts(t, base, { enterThreshold: 0.6, exitThreshold: 0.4, k: 2, n: 3 })).toBe(2); // 2 of 3 windows suffice for the pair
    const results = evaluateCandidates(t, base);
    const at = (e: number, k: number) => results.find((r) => r.enterThreshold === e && r.k === k)!;
    expect(at(0.6, 3).perHour).toBe(1);
    // More sensitive never raises fewer alerts than less sensitive at the same k/n.
    for (const [k] of [[2], [3], [4], [6]]) {
      const rates = results.filter((r) => r.k === k).sort(bySensitivity).map((r) => r.alerts);
      expect([...rates].sort((a, b) => b - a)).toEqual(rates);
    }
  });

  it("recommends the most sensitive setting at or below the target", () => {
    // Two hours of a room whose TV pushes the score to 0.55 for 10 s, four times.
    const t = trace(7200, 0.2, [
      [100, 10, 0.55],
      [2000, 10, 0.55],
      [4000, 10, 0.55],
      [6000, 10, 0.55],
    ]);
    const results = evaluateCandidates(t, base);
    const rec = recommend(results, 0.5)!;
    // Every enter ≤ 0.55 alerts on the TV (2/h), so the lowest that does not is 0.6 with 2 of 3.
    expect(rec).toMatchObject({ enterThreshold: 0.6, exitThreshold: 0.4, k: 2, n: 3, alerts: 0 });
    expect(recommend(results, 2)).toMatchObject({ enterThreshold: 0.4, k: 2, alerts: 4, perHour: 2 });
  });

  it("recommends nothing when every candidate is too noisy, and says so", () => {
    const t = trace(600, 0.97, []);
    const detectCfg = detectConfig();
    const report = calibrationReport(t, detectCfg, 0.5);
    expect(report.recommended).toBeNull();
    expect(formatCalibration(report)).toMatch(/no candidate stays at or below 0.5/);
  });

  it("reports the current setting and how little a short quiet calibration proves", () => {
    const t = trace(1800, 0.1, []);
    const report = calibrationReport(t, detectConfig(), 0.5);
    expect(report.current).toMatchObject({ enterThreshold: 0.55, k: 8, n: 10, alerts: 0 });
    expect(report.zeroAlertBoundPerHour).toBeCloseTo(6, 5);
    expect(zeroAlertUpperBoundPerHour(3_600_000)).toBeCloseTo(3, 5);
    const text = formatCalibration(report);
    expect(text).toMatch(/recommended: enter_threshold 0.4, exit_threshold 0.2, k 2, n 3/);
    expect(text).toMatch(/below about 6.00\/h/);
  });

  it("simulates each segment from IDLE (files are separate streams)", () => {
    // An alert-worthy 3 s burst split across two files' ends: neither segment alone has it.
    const a: ScorePoint[] = [];
    const b: ScorePoint[] = [];
    for (let i = 1; i <= 20; i++) a.push({ tMs: i * HOP, score: i > 18 ? 0.9 : 0 });
    for (let i = 1; i <= 20; i++) b.push({ tMs: i * HOP, score: i <= 2 ? 0.9 : 0 });
    const c = { enterThreshold: 0.6, exitThreshold: 0.4, k: 3, n: 5 };
    expect(countAlerts({ segments: [a, b], audioMs: 20_000 }, base, c)).toBe(0);
    expect(countAlerts({ segments: [[...a, ...b.map((p) => ({ ...p, tMs: p.tMs + 10_000 }))]], audioMs: 20_000 }, base, c)).toBe(1);
  });
});
