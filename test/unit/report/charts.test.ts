import { describe, expect, it } from "vitest";
import {
  calibrationChartSvg,
  confusionSvg,
  downsampleMax,
  lineChartSvg,
  niceTicks,
  paretoSvg,
  precisionRecallCurve,
  rocCurve,
  rocPrSvg,
  timelineSvg,
} from "../../../src/report/charts.js";
import { parseSvg, pointsOf, withAttr, type SvgElement } from "../../fixtures/svg-check.js";

const num = (e: SvgElement, a: string): number => Number(e.attrs[a]);
/** The plot area from the axis lines. */
function plotArea(svg: SvgElement, scope: SvgElement = svg): { left: number; right: number; top: number; bottom: number } {
  const xAxis = withAttr(scope, "data-role", "x-axis")[0]!;
  const yAxis = withAttr(scope, "data-role", "y-axis")[0]!;
  return { left: num(xAxis, "x1"), right: num(xAxis, "x2"), top: num(yAxis, "y1"), bottom: num(yAxis, "y2") };
}

describe("nice ticks", () => {
  it("steps by 1, 2 or 5 × 10^k and covers the range", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 1.83)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(niceTicks(3, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(-0.3, 0.3)).toEqual([-0.4, -0.2, 0, 0.2, 0.4]);
    // a single value gets a band around it
    expect(niceTicks(5, 5)).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
  });
});

describe("the parser the chart tests rely on", () => {
  it("rejects what a browser would not render", () => {
    expect(() => parseSvg(`<svg><g></svg>`)).toThrow(/closes/);
    expect(() => parseSvg(`<svg><text>a < b</text></svg>`)).toThrow();
    expect(() => parseSvg(`<svg><text>R&D</text></svg>`)).toThrow(/bare &/);
    expect(() => parseSvg(`<svg><rect x=1/></svg>`)).toThrow(/attribute/);
    expect(parseSvg(`<svg><text>R&amp;D</text></svg>`).children[0]!.text).toBe("R&D");
  });
});

describe("line chart (training curves)", () => {
  const svg = parseSvg(
    lineChartSvg({
      title: "Training and validation loss — gru (speaker, dropout 0.2, seed 1)",
      xLabel: "epoch",
      yLabel: "loss",
      series: [
        { name: "training", values: [1.7, 1.2, 0.9, 0.7] },
        { name: "validation", values: [1.75, 1.4, 1.3, 1.35] },
      ],
    }),
  );
  const area = plotArea(svg);

  it("has one polyline per series with its values", () => {
    const lines = withAttr(svg, "data-series");
    expect(lines.map((l) => l.attrs["data-series"])).toEqual(["training", "validation"]);
    expect(lines[1]!.attrs["data-values"]).toBe("1.75 1.4 1.3 1.35");
    expect(pointsOf(lines[0]!)).toHaveLength(4);
  });

  it("puts epoch 1 on the left axis and the last epoch on the right edge", () => {
    const pts = pointsOf(withAttr(svg, "data-series", "training")[0]!);
    expect(pts[0]![0]).toBe(area.left);
    expect(pts[3]![0]).toBe(area.right);
  });

  it("never runs the axis of a non-negative quantity below zero", () => {
    const ticks = withAttr(svg, "data-tick-y").map((t) => Number(t.attrs["data-tick-y"]));
    expect(Math.min(...ticks)).toBe(0);
    // 0 sits on the x axis
    const zero = withAttr(svg, "data-tick-y", "0")[0]!;
    expect(num(zero, "y") - 4).toBe(area.bottom);
  });

  it("keeps the legend outside the plot area, so it covers no curve", () => {
    const legend = withAttr(svg, "data-role", "legend")[0]!;
    for (const e of legend.children) expect(num(e, e.name === "line" ? "x1" : e.name === "circle" ? "cx" : "x")).toBeGreaterThan(area.right);
  });

  it("is as wide as its title", () => {
    const title = withAttr(svg, "data-role", "title")[0]!;
    expect(num(svg, "width")).toBeGreaterThanOrEqual(title.text.length * 15 * 0.6);
  });

  it("a fixed range (accuracy) holds the axis at [0, 1]", () => {
    const acc = parseSvg(lineChartSvg({ title: "accuracy", xLabel: "epoch", yLabel: "accuracy", yRange: [0, 1], series: [{ name: "training", values: [0.3, 0.5] }] }));
    expect(withAttr(acc, "data-tick-y").map((t) => t.attrs["data-tick-y"])).toEqual(["0", "0.2", "0.4", "0.6", "0.8", "1"]);
  });
});

describe("confusion matrix", () => {
  const labels = ["angry", "disgust", "fear", "happy", "neutral", "sad"];
  const matrix = labels.map((_, i) => labels.map((__, j) => (i === j ? 10 : i + j)));
  const title = "Confusion matrix (test) — egru (speaker, dropout 0.2, seed 1)";
  const svg = parseSvg(confusionSvg(title, labels, matrix));

  it("has a cell per (truth, guess) with its count", () => {
    const cells = withAttr(svg, "data-count");
    expect(cells).toHaveLength(36);
    const fearAsSad = cells.find((c) => c.attrs["data-truth"] === "fear" && c.attrs["data-guess"] === "sad")!;
    expect(fearAsSad.attrs["data-count"]).toBe(String(matrix[2]![5]));
  });

  it("is wide enough for its title (no clipped title)", () => {
    expect(num(svg, "width")).toBeGreaterThanOrEqual(title.length * 15 * 0.6);
  });
});

describe("ROC and precision–recall", () => {
  it("a perfect ranking goes through the top-left corner of ROC and keeps precision 1 to full recall", () => {
    const scores = [0.9, 0.8, 0.3, 0.1];
    const positive = [true, true, false, false];
    expect(rocCurve(scores, positive).map((p) => [p.x, p.y])).toEqual([[0, 0], [0, 0.5], [0, 1], [0.5, 1], [1, 1]]);
    expect(precisionRecallCurve(scores, positive).map((p) => [p.x, p.y])).toEqual([[0.5, 1], [1, 1], [1, 2 / 3], [1, 0.5]]);
    const svg = parseSvg(rocPrSvg("danger vs rest", [{ name: "unadapted", scores, positive, auc: 1 }]));
    const roc = withAttr(svg, "data-panel", "roc")[0]!;
    const area = plotArea(svg, roc);
    const pts = pointsOf(withAttr(roc, "data-series", "unadapted")[0]!);
    expect(pts).toContainEqual([area.left, area.top]);
    expect(withAttr(svg, "data-legend").map((l) => l.attrs["data-legend"])).toEqual(["unadapted (AUC 1.000)", "chance"]);
  });

  it("draws one curve per set in each panel", () => {
    const sets = ["unadapted", "adapted"].map((name, k) => ({ name, scores: [0.2, 0.6 + k * 0.1, 0.4, 0.9], positive: [false, true, false, true] }));
    const svg = parseSvg(rocPrSvg("danger", sets));
    for (const panel of ["roc", "pr"]) {
      const g = withAttr(svg, "data-panel", panel)[0]!;
      expect(withAttr(g, "data-series").map((e) => e.attrs["data-series"])).toEqual(["unadapted", "adapted", "chance"]);
    }
  });
});

describe("stream timeline", () => {
  const points = Array.from({ length: 240 }, (_, i) => ({ tS: i * 0.5, score: i >= 40 && i < 60 ? 0.9 : 0.1 }));
  const svg = parseSvg(
    timelineSvg({
      title: "crema-d stream 1000",
      durationS: 120,
      scores: [
        { name: "danger (raw)", points },
        { name: "danger (smoothed)", points: points.map((p) => ({ ...p, score: p.score * 0.9 })) },
      ],
      thresholds: [
        { name: "enter", value: 0.6 },
        { name: "exit", value: 0.4 },
      ],
      passages: [{ startS: 19, endS: 31, caught: true }, { startS: 90, endS: 95, caught: false }],
      alerts: [{ startS: 21, endS: 32 }],
    }),
  );
  const area = plotArea(svg);

  it("shows both score series, both thresholds, every passage and every alert", () => {
    expect(withAttr(svg, "data-series").map((e) => e.attrs["data-series"])).toEqual(["danger (raw)", "danger (smoothed)"]);
    expect(withAttr(svg, "data-threshold").map((e) => e.attrs["data-threshold"])).toEqual(["enter", "exit"]);
    expect(withAttr(svg, "data-passage").map((e) => e.attrs["data-caught"])).toEqual(["true", "false"]);
    expect(withAttr(svg, "data-alert")).toHaveLength(1);
  });

  it("places thresholds at their score and passages at their time", () => {
    const enter = withAttr(svg, "data-threshold", "enter")[0]!;
    expect(num(enter, "y1")).toBeCloseTo(area.bottom - 0.6 * (area.bottom - area.top), 1);
    const p = withAttr(svg, "data-passage")[0]!;
    expect(num(p, "x")).toBeCloseTo(area.left + (19 / 120) * (area.right - area.left), 1);
    const raw = pointsOf(withAttr(svg, "data-series", "danger (raw)")[0]!);
    expect(raw[0]![0]).toBe(area.left);
  });

  it("thins long streams by the largest score per bucket, keeping every peak", () => {
    const long = Array.from({ length: 10_000 }, (_, i) => ({ tS: i, score: i === 5_001 ? 1 : 0 }));
    const thin = downsampleMax(long, 1000);
    expect(thin).toHaveLength(1000);
    expect(thin.some((p) => p.score === 1)).toBe(true);
  });
});

describe("Pareto chart of a sweep", () => {
  it("draws every setting, the front as a staircase and rings the chosen one", () => {
    const all = [
      { falsePerHour: 0, caughtShare: 0.5 },
      { falsePerHour: 0.4, caughtShare: 0.8 },
      { falsePerHour: 1, caughtShare: 0.7 },
      { falsePerHour: 2, caughtShare: 0.95 },
    ];
    const front = [all[0]!, all[1]!, all[3]!];
    const svg = parseSvg(paretoSvg({ title: "sweep", all, front, chosen: all[1]!, targets: { maxFalsePerHour: 0.5, minCaught: 0.9 } }));
    expect(withAttr(withAttr(svg, "data-series", "settings")[0]!, "data-x")).toHaveLength(4);
    expect(withAttr(svg, "data-front")).toHaveLength(3);
    const stairs = pointsOf(withAttr(svg, "data-series", "front")[0]!);
    expect(stairs).toHaveLength(5); // 3 settings and 2 risers
    const area = plotArea(svg);
    expect(stairs[0]).toEqual([area.left, area.bottom - 0.5 * (area.bottom - area.top)]);
    expect(withAttr(svg, "data-chosen")[0]!.attrs["data-x"]).toBe("0.4");
    expect(withAttr(svg, "data-target")).toHaveLength(2);
  });
});

describe("calibration chart", () => {
  it("plots false alerts per hour against the threshold, lowest threshold on the left axis", () => {
    const rows = [0.7, 0.5, 0.6].map((threshold) => ({ threshold, falseAlertsPerHour: threshold === 0.5 ? 4 : threshold === 0.6 ? 1.5 : 0.2 }));
    const svg = parseSvg(calibrationChartSvg(rows));
    const fa = withAttr(svg, "data-series", "false-alerts-per-hour")[0]!;
    const area = plotArea(svg);
    const pts = pointsOf(fa);
    expect(pts[0]![0]).toBe(area.left);
    expect(pts[2]![0]).toBe(area.right);
    // sorted by threshold, so false alerts fall as it rises
    expect(pts.map((p) => p[1])).toEqual([...pts.map((p) => p[1])].sort((a, b) => a - b));
    expect(withAttr(svg, "data-series", "caught")).toHaveLength(0);
    expect(Math.min(...withAttr(svg, "data-tick-y").map((t) => Number(t.attrs["data-tick-y"])))).toBe(0);
  });

  it("adds the share caught on a right axis once rows measure it; labelled settings keep their order", () => {
    const rows = [
      { label: "quiet", falseAlertsPerHour: 0.1, caught: 6, total: 10 },
      { label: "default", falseAlertsPerHour: 0.5, caught: 9, total: 10 },
      { label: "eager", falseAlertsPerHour: 3, caught: 10, total: 10 },
    ];
    const svg = parseSvg(calibrationChartSvg(rows, "Calibration of the living room"));
    expect(withAttr(svg, "data-tick-x").map((t) => t.text)).toEqual(["quiet", "default", "eager"]);
    const caught = withAttr(svg, "data-caught");
    expect(caught.map((c) => c.attrs["data-caught"])).toEqual(["6", "9", "10"]);
    const area = plotArea(svg);
    expect(num(caught[2]!, "cy")).toBe(area.top);
    expect(withAttr(svg, "data-role", "y2-axis")).toHaveLength(1);
  });
});
