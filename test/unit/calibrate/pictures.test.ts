import { describe, expect, it } from "vitest";
import { calibrationPictures, kOfNRows, thresholdRows } from "../../../src/calibrate/pictures.js";
import { calibrationReport } from "../../../src/calibrate/report.js";
import { parseConfig } from "../../../src/config/load.js";
import { parseSvg, pointsOf, withAttr } from "../../fixtures/svg-check.js";
import { mixedOf, trace } from "../../fixtures/score-traces.js";

/** The yardstick of simulate.test.ts (the defaults shipped until the two-branch detector), pinned. */
const PINNED = "detect:\n  smoothing: { method: mean, windows: 4 }\n  enter_threshold: 0.55\n  exit_threshold: 0.35\n  k: 8\n  n: 10\n";
const DEFAULTS = { enterThreshold: 0.55, exitThreshold: 0.35, k: 8, n: 10 };

function detectConfig() {
  const r = parseConfig(PINNED, { env: {}, hostname: "t" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config.detect;
}

/**
 * The room with a TV of simulate.test.ts: two hours, a TV at 0.6 four times (a false alert under
 * thresholds up to 0.6), ten 6 s danger passages at 0.9 mixed in. The report recommends 0.65 and
 * 8 of 10.
 */
function tvRoom(passages = true) {
  const room = trace(7200, 0.2, [
    [100, 10, 0.6],
    [2000, 10, 0.6],
    [4000, 10, 0.6],
    [6000, 10, 0.6],
  ]);
  const danger = passages ? Array.from({ length: 10 }, (_, i) => [300 + i * 600, 6, 0.9] as [number, number, number]) : [];
  return calibrationReport({ source: "recording", trace: room, mixed: mixedOf(room, danger), catchSource: { kind: "room" }, seed: 1, detect: detectConfig(), force: false, defaults: DEFAULTS });
}

describe("calibrate's pictures", () => {
  it("slices the grid through the recommended setting: thresholds at its k of n, k of n at its threshold", () => {
    const report = tvRoom();
    expect(report.recommended).toMatchObject({ enterThreshold: 0.65, k: 8, n: 10 });
    const byThreshold = thresholdRows(report);
    expect(byThreshold.map((r) => r.threshold)).toEqual([0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]);
    // The TV's four alerts in two hours up to 0.6, none from 0.65 on.
    expect(byThreshold.map((r) => r.falseAlertsPerHour)).toEqual([2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0]);
    for (const r of byThreshold) {
      const c = report.candidates.find((x) => x.enterThreshold === r.threshold && x.k === 8 && x.n === 10)!;
      expect(r).toEqual({ threshold: c.enterThreshold, falseAlertsPerHour: c.perHour, caught: c.caught, total: 10 });
    }
    const byKn = kOfNRows(report);
    expect(byKn.map((r) => r.label)).toEqual(["2 of 3", "3 of 5", "4 of 6", "6 of 8", "8 of 10", "10 of 12"]);
    expect(byKn.every((r) => r.falseAlertsPerHour === 0 && r.caught === 10 && r.total === 10)).toBe(true);
  });

  it("draws both series, the titles naming room, model and slice", () => {
    const pictures = calibrationPictures(tvRoom(), "kitchen, home-gru 1.2.0");
    expect(Object.keys(pictures).sort()).toEqual(["calibration-k-of-n.svg", "calibration.svg"]);
    const svg = parseSvg(pictures["calibration.svg"]!);
    expect(withAttr(svg, "data-role", "title")[0]!.text).toBe("False alerts per hour against the threshold — kitchen, home-gru 1.2.0, k of n 8/10 (recommended)");
    const fa = withAttr(svg, "data-series", "false-alerts-per-hour")[0]!;
    expect(pointsOf(fa)).toHaveLength(11);
    expect(withAttr(svg, "data-y").map((e) => Number(e.attrs["data-y"]))).toEqual([2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0]);
    const caught = withAttr(svg, "data-series", "caught")[0]!;
    expect(pointsOf(caught)).toHaveLength(11);
    expect(withAttr(svg, "data-total").every((e) => e.attrs["data-total"] === "10")).toBe(true);
    const kn = parseSvg(pictures["calibration-k-of-n.svg"]!);
    expect(withAttr(kn, "data-role", "title")[0]!.text).toBe("False alerts per hour by k of n — kitchen, home-gru 1.2.0, enter threshold 0.65 (recommended)");
    expect(withAttr(kn, "data-tick-x").map((t) => t.text)).toEqual(["2 of 3", "3 of 5", "4 of 6", "6 of 8", "8 of 10", "10 of 12"]);
    expect(withAttr(kn, "data-series", "caught")).toHaveLength(1);
  });

  it("with no passage mixed in: the defaults' slice, false alerts only", () => {
    const report = tvRoom(false);
    expect(report.recommended).toBeNull();
    const svg = parseSvg(calibrationPictures(report, "hall, m 1")["calibration.svg"]!);
    expect(withAttr(svg, "data-role", "title")[0]!.text).toMatch(/ — hall, m 1, k of n 8\/10 \(defaults\)$/);
    expect(withAttr(svg, "data-series", "false-alerts-per-hour")).toHaveLength(1);
    expect(withAttr(svg, "data-series", "caught")).toHaveLength(0);
  });
});
