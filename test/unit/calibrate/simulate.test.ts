import { describe, expect, it } from "vitest";
import { detectParamsFromConfig } from "../../../src/config/detect-params.js";
import { parseConfig } from "../../../src/config/load.js";
import {
  bySensitivity,
  candidateGrid,
  countAlerts,
  evaluateCandidates,
  assertEnoughAudio,
  MIN_CALIBRATION_MS,
  recommend,
  zeroAlertUpperBoundPerHour,
  type CandidateResult,
  type ScorePoint,
} from "../../../src/calibrate/simulate.js";
import { calibrationReport, formatCalibration } from "../../../src/calibrate/report.js";
import { HOP_MS, mixedOf, trace } from "../../fixtures/score-traces.js";

/**
 * These tests are written against one yardstick, the defaults shipped until the two-branch
 * detector (mean 4, 0.55/0.35, 8 of 10): pinned here, so the shipped defaults can move.
 */
const PINNED = "detect:\n  smoothing: { method: mean, windows: 4 }\n  enter_threshold: 0.55\n  exit_threshold: 0.35\n  k: 8\n  n: 10\n";
const DEFAULTS = { enterThreshold: 0.55, exitThreshold: 0.35, k: 8, n: 10 };

function detectConfig(yaml = PINNED) {
  const r = parseConfig(yaml, { env: {}, hostname: "t" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config.detect;
}

const HOP = HOP_MS;

const NO_MIX = { defaults: DEFAULTS, catches: () => 0, passages: 0 };

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
    const results = evaluateCandidates(t, base, candidateGrid(), NO_MIX);
    const at = (e: number, k: number) => results.find((r) => r.enterThreshold === e && r.k === k)!;
    expect(at(0.6, 3).perHour).toBe(1);
    // More sensitive never raises fewer alerts than less sensitive at the same k/n.
    for (const [k] of [[2], [3], [4], [6]]) {
      const rates = results.filter((r) => r.k === k).sort(bySensitivity).map((r) => r.alerts);
      expect([...rates].sort((a, b) => b - a)).toEqual(rates);
    }
  });

  it("refuses under 10 minutes of audio, naming how much there was and how to override", () => {
    expect(() => assertEnoughAudio(17_500, false)).toThrow(/only 17.5 s of audio was scored; calibration needs at least 10 min[\s\S]*--force/);
    expect(() => assertEnoughAudio(9.9 * 60_000, false)).toThrow(expect.objectContaining({ code: "TOO_LITTLE_AUDIO", message: expect.stringMatching(/only 9.9 min/) }));
    expect(() => assertEnoughAudio(MIN_CALIBRATION_MS, false)).not.toThrow();
    expect(() => assertEnoughAudio(17_500, true)).not.toThrow();
  });

  it("reports the current setting and how little a short quiet calibration proves", () => {
    const t = trace(1800, 0.1, []);
    const report = calibrationReport({ source: "recording", trace: t, mixed: mixedOf(t, []), catchSource: { kind: "room" }, seed: 1, detect: detectConfig(), force: false, defaults: DEFAULTS });
    expect(report.current).toMatchObject({ enterThreshold: 0.55, k: 8, n: 10, alerts: 0 });
    expect(report.zeroAlertBoundPerHour).toBeCloseTo(6, 5);
    expect(zeroAlertUpperBoundPerHour(3_600_000)).toBeCloseTo(3, 5);
    // No passage mixed in: nothing is known about misses, so nothing is recommended.
    expect(report.recommended).toBeNull();
    expect(formatCalibration(report)).toMatch(/recommended: nothing: no danger passage could be mixed/);
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

describe("the recommendation: fewest false alerts that still catches as many as the defaults", () => {
  const r = (enterThreshold: number, k: number, n: number, alerts: number, caught: number): CandidateResult => ({
    enterThreshold,
    exitThreshold: Math.round((enterThreshold - 0.2) * 100) / 100,
    k,
    n,
    alerts,
    perHour: alerts,
    caught,
    passages: 10,
    caughtShare: caught / 10,
    moreSensitiveThanDefaults: enterThreshold < 0.55 || k < 8,
  });

  it("takes fewer false alerts only at no loss of catches, and nothing more sensitive than the defaults without --force", () => {
    const defaults = r(0.55, 8, 10, 2, 8);
    const cautious = r(0.7, 8, 10, 0, 8);
    const deaf = r(0.85, 10, 12, 0, 5);
    const trigger = r(0.4, 2, 3, 0, 10);
    const results = [trigger, defaults, cautious, deaf];
    expect(recommend(results, defaults, false)).toBe(cautious);
    // --force lets the more sensitive one in; it catches more at the same false alerts.
    expect(recommend(results, defaults, true)).toBe(trigger);
    // Every cautious setting catches less: the defaults stay.
    expect(recommend([trigger, defaults, r(0.7, 8, 10, 0, 7), deaf], defaults, false)).toBe(defaults);
    // The room cannot tell two settings apart: the one nearer the defaults.
    expect(recommend([defaults, r(0.85, 10, 12, 0, 8), r(0.6, 8, 10, 0, 8)], defaults, false)).toMatchObject({ enterThreshold: 0.6 });
  });

  it("on a room with a TV that reaches 0.6: the cautious setting that still catches every mixed passage, with both figures in table and JSON", () => {
    // Two hours; a TV at 0.6 for 10 s four times; ten 6 s danger passages at 0.9 mixed in.
    const room = trace(7200, 0.2, [
      [100, 10, 0.6],
      [2000, 10, 0.6],
      [4000, 10, 0.6],
      [6000, 10, 0.6],
    ]);
    const passages = Array.from({ length: 10 }, (_, i) => [300 + i * 600, 6, 0.9] as [number, number, number]);
    const input = { source: "recording" as const, trace: room, catchSource: { kind: "room" as const }, seed: 1, detect: detectConfig(), force: false, defaults: DEFAULTS };
    const report = calibrationReport({ ...input, mixed: mixedOf(room, passages) });
    expect(report.defaults).toMatchObject({ enterThreshold: 0.55, k: 8, alerts: 4, caught: 10, passages: 10 });
    expect(report.recommended).toMatchObject({ enterThreshold: 0.65, exitThreshold: 0.45, k: 8, n: 10, alerts: 0, caught: 10, caughtShare: 1 });
    expect(report.beatsDefaults).toBe(true);
    // Weaker danger (0.7) is missed at 0.75: what a higher threshold costs is in the table.
    const weak = calibrationReport({ ...input, mixed: mixedOf(room, passages.map(([s, d]) => [s, d, 0.7])) });
    expect(weak.candidates.find((c) => c.enterThreshold === 0.75 && c.k === 8)).toMatchObject({ caught: 0, alerts: 0 });
    expect(weak.recommended).toMatchObject({ enterThreshold: 0.65, caught: 10 });
    const text = formatCalibration(report);
    expect(text).toMatch(/false alerts {2}per hour {2}caught/);
    expect(text).toMatch(/0\.55 {3}0\.35 {2}8\/10 +4 +2\.00 {2}10\/10 100% +\(defaults\)/);
    expect(text).toMatch(/0\.40 {3}0\.20 {2}2\/3 .*more sensitive than the defaults/);
    expect(text).toMatch(/recommended: enter_threshold 0.65, exit_threshold 0.45, k 8, n 10 → 0 false alert\(s\), 0.00\/h; caught 10\/10 100%/);
    const json = JSON.parse(JSON.stringify(report)) as { candidates: { perHour: number; caught: number; passages: number; caughtShare: number }[] };
    expect(json.candidates[0]).toMatchObject({ perHour: expect.any(Number), caught: expect.any(Number), passages: 10, caughtShare: expect.any(Number) });
  });

  it("says no setting beats the defaults when none does", () => {
    const room = trace(3600, 0.1, []);
    const report = calibrationReport({
      source: "daemon",
      trace: room,
      mixed: mixedOf(room, [[600, 6, 0.6]]),
      catchSource: { kind: "synthetic", roomDbfs: -52, seconds: 600 },
      seed: 1,
      detect: detectConfig(),
      force: false,
      defaults: DEFAULTS,
    });
    expect(report.recommended).toBe(report.defaults);
    expect(report.beatsDefaults).toBe(false);
    const text = formatCalibration(report);
    expect(text).toMatch(/recommended: the defaults: no setting as cautious as the defaults or more raised fewer false alerts/);
    expect(text).toMatch(/synthetic noise at the room's median level \(-52.0 dBFS\)[\s\S]*not the room's own sound/);
  });
});
