import { describe, expect, it } from "vitest";
import type { StreamTimeline } from "../../../src/bench/stream-builder.js";
import type { SweepResult } from "../../../src/bench/sweep.js";
import { evalPlots, streamTimelines, sweepParetoSvg } from "../../../src/report/run-plots.js";
import { streamTimeline } from "../../fixtures/stream-timeline.js";
import { parseSvg, pointsOf, withAttr } from "../../fixtures/svg-check.js";

const timeline: StreamTimeline = {
  ...streamTimeline(60, [
    { start_s: 10, end_s: 20, speaker: "s1", labels: ["angry"], clips: 3 },
    { start_s: 40, end_s: 45, speaker: "s2", labels: ["fear"], clips: 2 },
  ], 1000),
  noise: { source: "white", snr_db: 20 },
};
const points = Array.from({ length: 120 }, (_, i) => ({ tMs: i * 500, danger: i >= 22 && i < 40 ? 0.9 : 0.05 }));

describe("bench --streams pictures", () => {
  it("a timeline per stream: raw and smoothed score, thresholds, passages marked caught or missed, alerts", () => {
    const files = streamTimelines(
      [{ name: "crema-d-stream-1000", trace: { timeline, points }, alerts: [{ start_s: 12, end_s: 21 }] }],
      { enterThreshold: 0.6, exitThreshold: 0.4, smoothing: { method: "ema", windows: 3 } },
      4,
    );
    expect(Object.keys(files)).toEqual(["timeline-crema-d-stream-1000.svg"]);
    const svg = parseSvg(files["timeline-crema-d-stream-1000.svg"]!);
    const series = withAttr(svg, "data-series");
    expect(series.map((s) => s.attrs["data-series"])).toEqual(["danger (raw)", "danger (smoothed, ema)"]);
    expect(pointsOf(series[0]!)).toHaveLength(120);
    // smoothing lags: at the onset the smoothed score is lower (drawn lower: SVG y grows downwards)
    const onset = 22;
    expect(pointsOf(series[1]!)[onset]![1]).toBeGreaterThan(pointsOf(series[0]!)[onset]![1]);
    expect(withAttr(svg, "data-threshold").map((t) => t.attrs["data-value"])).toEqual(["0.6", "0.4"]);
    expect(withAttr(svg, "data-passage").map((p) => p.attrs["data-caught"])).toEqual(["true", "false"]);
    expect(withAttr(svg, "data-alert").map((a) => a.attrs["data-alert"])).toEqual(["12-21"]);
  });

  it("the sweep's Pareto chart has every setting, the front and the chosen one", () => {
    const result = (fa: number, caught: number): SweepResult => ({ setting: {} as SweepResult["setting"], summary: { false_alerts_per_h: fa, caught_share: caught } as SweepResult["summary"] });
    const all = [result(0, 0.4), result(0.3, 0.8), result(1, 0.7), result(2, 0.9)];
    const svg = parseSvg(
      sweepParetoSvg(all, { front: [all[0]!, all[1]!, all[3]!], choice: { ...all[1]!, rule: "meets both targets", meets_targets: true, config: {} }, targets: { maxFalsePerHour: 0.5, minCaught: 0.9 } }, () => "s"),
    );
    expect(withAttr(withAttr(svg, "data-series", "settings")[0]!, "data-x")).toHaveLength(4);
    expect(withAttr(svg, "data-front").map((e) => e.attrs["data-x"])).toEqual(["0", "0.3", "2"]);
    expect(withAttr(svg, "data-chosen")[0]!.attrs["data-y"]).toBe("0.8");
  });
});

describe("eval pictures", () => {
  it("the confusion matrix and the danger ROC/PR curves, one series per scored set", () => {
    const sets = ["unadapted", "adapted"].map((name) => ({ name, scores: [0.9, 0.2, 0.7, 0.1], positive: [true, false, true, false], auc: 1 }));
    const files = evalPlots("m 1.0", { labels: ["angry", "neutral"], matrix: [[2, 0], [0, 2]] }, sets);
    expect(Object.keys(files).sort()).toEqual(["confusion.svg", "danger-roc-pr.svg"]);
    const roc = parseSvg(files["danger-roc-pr.svg"]!);
    expect(withAttr(roc, "data-series", "adapted")).toHaveLength(2); // one per panel
    expect(withAttr(parseSvg(files["confusion.svg"]!), "data-count")).toHaveLength(4);
  });

  it("no confusion matrix when no clip carries one of the model's classes", () => {
    const files = evalPlots("m", { labels: ["danger", "safe"], matrix: [[0, 0], [0, 0]] }, []);
    expect(Object.keys(files)).toEqual(["danger-roc-pr.svg"]);
  });
});
