/**
 * Pictures where people would rather look than read: small hand-written SVG charts, viewable in
 * any browser, with no plotting dependency (the "nice" ticks are a few lines, below).
 *
 *   lineChartSvg         curves against x (training curves per epoch)
 *   confusionSvg         a confusion matrix as a heat map, rows = truth, columns = guess
 *   rocPrSvg             danger-vs-rest ROC and precision–recall curves side by side
 *   timelineSvg          a stream: danger score, thresholds, true danger passages, alerts
 *   paretoSvg            a detector sweep: every setting, the Pareto front, the chosen one
 *   calibrationChartSvg  false alerts per hour (and catches) against the threshold
 *
 * Every chart is a pure function of its data. Layout rules, each fixing a fault the first
 * training plots had: a quantity that cannot be negative has an axis starting at 0, never below;
 * legends sit outside the plot area, so they never cover a curve; the canvas is as wide as its
 * title. Data elements carry `data-*` attributes (`data-series`, `data-x`, `data-y`, …) so that
 * tests — and anyone post-processing a chart — can find each series and its values.
 */
import { operatingPoints } from "../train/metrics.js";

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** Coordinates with two decimals: enough for a screen, small files. */
const f = (x: number): string => String(Math.round(x * 100) / 100);
/** Rough width of a text in 12 px sans-serif (for sizing the canvas to its title and legend). */
const textWidth = (s: string, px = 12): number => s.length * px * 0.6;

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"] as const;

/**
 * "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them
 * (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990). Ticks start at or below lo
 * and end at or above hi, so the axis can be extended to them.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi - lo < 1e-12) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  if (ticks[ticks.length - 1]! < hi - 1e-9) ticks.push(ticks[ticks.length - 1]! + step);
  // Round away binary noise (0.30000000000000004) by the step's decimals.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return ticks.map((t) => Number(t.toFixed(decimals)));
}

/** A tick's label: as many decimals as the step needs. */
function tickLabel(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** Maps [d0, d1] onto [r0, r1] linearly. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/**
 * The y domain of values: nice ticks around them; starting at 0 when every value is ≥ 0 (losses,
 * accuracies, rates: below zero there is nothing to see).
 */
export function yDomain(values: number[], fixed?: [number, number]): { lo: number; hi: number; ticks: number[] } {
  if (fixed) {
    const ticks = niceTicks(fixed[0], fixed[1]);
    return { lo: fixed[0], hi: fixed[1], ticks: ticks.filter((t) => t >= fixed[0] - 1e-9 && t <= fixed[1] + 1e-9) };
  }
  const finite = values.filter(Number.isFinite);
  const min = finite.length ? Math.min(...finite) : 0;
  const max = finite.length ? Math.max(...finite) : 1;
  const lo = min >= 0 ? 0 : min;
  const ticks = niceTicks(lo, max > lo ? max : lo + 1);
  return { lo: Math.min(lo, ticks[0]!), hi: ticks[ticks.length - 1]!, ticks: min >= 0 ? ticks.filter((t) => t >= 0) : ticks };
}

interface Frame {
  width: number;
  height: number;
  /** Plot area. */
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function frame(title: string, plotW: number, plotH: number, legendW: number, marginL = 64, marginB = 48, marginR = 24): Frame {
  const top = 44;
  const width = Math.ceil(Math.max(marginL + plotW + legendW + marginR, textWidth(title, 15) + 40));
  return { width, height: top + plotH + marginB, left: marginL, top, right: marginL + plotW, bottom: top + plotH };
}

function open(fr: Frame, title: string, kind: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${fr.width}" height="${fr.height}" viewBox="0 0 ${fr.width} ${fr.height}" font-family="sans-serif" font-size="12" data-chart="${kind}">`,
    `<rect width="${fr.width}" height="${fr.height}" fill="white"/>`,
    `<text x="${f(fr.width / 2)}" y="24" text-anchor="middle" font-size="15" data-role="title">${esc(title)}</text>`,
  ];
}

/** Axes with grid lines and tick labels; `xTicks` as [value, label] pairs. */
function axes(fr: Frame, x: (v: number) => number, y: (v: number) => number, xTicks: [number, string][], yTicks: number[], xLabel: string, yLabel: string, yLabelX = 16): string[] {
  const out: string[] = [`<g data-role="axes">`];
  for (const t of yTicks) {
    out.push(`<line x1="${fr.left}" y1="${f(y(t))}" x2="${fr.right}" y2="${f(y(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${fr.left - 6}" y="${f(y(t) + 4)}" text-anchor="end" data-tick-y="${t}">${tickLabel(t, yTicks)}</text>`);
  }
  for (const [v, label] of xTicks) {
    out.push(`<line x1="${f(x(v))}" y1="${fr.bottom}" x2="${f(x(v))}" y2="${fr.bottom + 4}" stroke="black"/>`);
    out.push(`<text x="${f(x(v))}" y="${fr.bottom + 17}" text-anchor="middle" data-tick-x="${v}">${esc(label)}</text>`);
  }
  out.push(`<line x1="${fr.left}" y1="${fr.bottom}" x2="${fr.right}" y2="${fr.bottom}" stroke="black" data-role="x-axis"/>`);
  out.push(`<line x1="${fr.left}" y1="${fr.top}" x2="${fr.left}" y2="${fr.bottom}" stroke="black" data-role="y-axis"/>`);
  out.push(`<text x="${f((fr.left + fr.right) / 2)}" y="${fr.bottom + 36}" text-anchor="middle">${esc(xLabel)}</text>`);
  const cy = (fr.top + fr.bottom) / 2;
  out.push(`<text x="${yLabelX}" y="${f(cy)}" text-anchor="middle" transform="rotate(-90 ${yLabelX} ${f(cy)})">${esc(yLabel)}</text>`);
  out.push(`</g>`);
  return out;
}

interface LegendEntry {
  name: string;
  color: string;
  /** "line" (default), "dash", "box" (a band) or "dot". */
  mark?: "line" | "dash" | "box" | "dot";
}

/** The legend, right of the plot area: never over the data. */
function legend(fr: Frame, entries: LegendEntry[]): string[] {
  const x0 = fr.right + 16;
  const out = [`<g data-role="legend">`];
  entries.forEach((e, i) => {
    const y = fr.top + 8 + i * 20;
    const mark = e.mark ?? "line";
    if (mark === "box") out.push(`<rect x="${x0}" y="${y - 6}" width="18" height="12" fill="${e.color}" fill-opacity="0.3"/>`);
    else if (mark === "dot") out.push(`<circle cx="${x0 + 9}" cy="${y}" r="4" fill="${e.color}"/>`);
    else out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + 18}" y2="${y}" stroke="${e.color}" stroke-width="2"${mark === "dash" ? ` stroke-dasharray="5 3"` : ""}/>`);
    out.push(`<text x="${x0 + 24}" y="${y + 4}" data-legend="${esc(e.name)}">${esc(e.name)}</text>`);
  });
  out.push(`</g>`);
  return out;
}

const legendWidth = (entries: LegendEntry[]): number => (entries.length ? 40 + Math.max(...entries.map((e) => textWidth(e.name))) : 0);

const close = (parts: string[]): string => parts.join("\n") + "\n</svg>\n";

// ───────────────────────────── line chart ─────────────────────────────

export interface Series {
  name: string;
  /** y at x = 1, 2, 3 … (`xs` not given), or at `xs`. */
  values: number[];
  xs?: number[];
  color?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** A fixed y range (accuracy: [0, 1]); else nice ticks from the data, from 0 when non-negative. */
  yRange?: [number, number];
}

export function lineChartSvg(o: LineChartOptions): string {
  const entries: LegendEntry[] = o.series.map((s, i) => ({ name: s.name, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const fr = frame(o.title, 520, 300, legendWidth(entries));
  const xsOf = (s: Series): number[] => s.xs ?? s.values.map((_, i) => i + 1);
  const allX = o.series.flatMap(xsOf);
  const xLo = allX.length ? Math.min(...allX) : 0;
  const xHi = allX.length ? Math.max(...allX) : 1;
  const xt = niceTicks(xLo, xHi, 8).filter((t) => t >= xLo && t <= xHi);
  const x = linearScale(xLo, xHi > xLo ? xHi : xLo + 1, fr.left, fr.right);
  const yd = yDomain(o.series.flatMap((s) => s.values), o.yRange);
  const y = linearScale(yd.lo, yd.hi, fr.bottom, fr.top);
  const parts = [...open(fr, o.title, "line"), ...axes(fr, x, y, xt.map((t) => [t, String(t)]), yd.ticks, o.xLabel, o.yLabel)];
  o.series.forEach((s, i) => {
    const xs = xsOf(s);
    const pts = s.values.map((v, k) => [xs[k]!, v] as const).filter(([, v]) => Number.isFinite(v));
    parts.push(
      `<polyline fill="none" stroke="${entries[i]!.color}" stroke-width="2" data-series="${esc(s.name)}" data-values="${pts.map(([, v]) => f(v)).join(" ")}" points="${pts.map(([a, b]) => `${f(x(a))},${f(y(b))}`).join(" ")}"/>`,
    );
  });
  parts.push(...legend(fr, entries));
  return close(parts);
}

// ───────────────────────────── confusion matrix ─────────────────────────────

/** Rows are the truth, columns the guess; each cell shaded by its share of its row (recall). */
export function confusionSvg(title: string, labels: string[], matrix: number[][]): string {
  const K = labels.length;
  const cell = 56;
  const labelW = Math.max(60, ...labels.map((l) => textWidth(l) + 16));
  const fr = frame(title, K * cell, K * cell, 0, labelW + 24, 24, 20);
  // Column labels and "guess" sit above the matrix, under the title.
  const top = fr.top + 36;
  const height = top + K * cell + 24;
  const parts = open({ ...fr, height }, title, "confusion");
  const L = fr.left;
  parts.push(`<text x="${f(L + (K * cell) / 2)}" y="${fr.top}" text-anchor="middle">guess</text>`);
  const cy = top + (K * cell) / 2;
  parts.push(`<text x="14" y="${f(cy)}" text-anchor="middle" transform="rotate(-90 14 ${f(cy)})">truth</text>`);
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((v, j) => {
      const share = total > 0 ? v / total : 0;
      const shade = Math.round(255 - 200 * share);
      parts.push(
        `<rect x="${L + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#999" data-truth="${esc(labels[i]!)}" data-guess="${esc(labels[j]!)}" data-count="${v}"/>`,
      );
      parts.push(`<text x="${L + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.5 ? "white" : "black"}">${v}</text>`);
    });
    parts.push(`<text x="${L - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(labels[i]!)}</text>`);
  });
  labels.forEach((l, j) => parts.push(`<text x="${L + j * cell + cell / 2}" y="${top - 8}" text-anchor="middle">${esc(l.slice(0, 8))}</text>`));
  return close(parts);
}

// ───────────────────────────── ROC and precision–recall ─────────────────────────────

export interface CurvePoint {
  x: number;
  y: number;
  /** The score threshold the point is at (flagged: score ≥ threshold). */
  threshold: number;
}

/** Points of the ROC curve (false-positive rate, true-positive rate), from (0,0) to (1,1); ties step together. */
export function rocCurve(scores: number[], positive: boolean[]): CurvePoint[] {
  return [
    { x: 0, y: 0, threshold: Infinity },
    ...operatingPoints(scores, positive).map((p) => ({ x: p.nNeg ? p.fp / p.nNeg : 0, y: p.nPos ? p.tp / p.nPos : 0, threshold: p.threshold })),
  ];
}

/** Points of the precision–recall curve (recall, precision), one per distinct threshold. */
export function precisionRecallCurve(scores: number[], positive: boolean[]): CurvePoint[] {
  return operatingPoints(scores, positive).map((p) => ({ x: p.nPos ? p.tp / p.nPos : 0, y: p.tp / (p.tp + p.fp), threshold: p.threshold }));
}

export interface ScoredSet {
  /** Legend name ("unadapted", "adapted"). */
  name: string;
  /** Danger score per clip (summed probability of the danger classes). */
  scores: number[];
  /** Whether each clip is danger. */
  positive: boolean[];
  /** Shown in the legend when given (ROC AUC). */
  auc?: number | null;
}

/** Danger-vs-rest ROC (left) and precision–recall (right) curves, one series per set. */
export function rocPrSvg(title: string, sets: ScoredSet[]): string {
  const entries: LegendEntry[] = sets.map((s, i) => ({
    name: `${s.name}${s.auc !== undefined && s.auc !== null && Number.isFinite(s.auc) ? ` (AUC ${s.auc.toFixed(3)})` : ""}`,
    color: PALETTE[i % PALETTE.length]!,
  }));
  entries.push({ name: "chance", color: "#999", mark: "dash" });
  const panel = 260, gap = 80;
  const fr = frame(title, 2 * panel + gap, panel, legendWidth(entries));
  const parts = open(fr, title, "roc-pr");
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const panels: { kind: "roc" | "pr"; left: number; xLabel: string; yLabel: string }[] = [
    { kind: "roc", left: fr.left, xLabel: "false-positive rate", yLabel: "true-positive rate (recall)" },
    { kind: "pr", left: fr.left + panel + gap, xLabel: "recall", yLabel: "precision" },
  ];
  for (const p of panels) {
    const pf: Frame = { ...fr, left: p.left, right: p.left + panel };
    const x = linearScale(0, 1, pf.left, pf.right);
    const y = linearScale(0, 1, pf.bottom, pf.top);
    // The second panel's y label sits in the gap between the panels.
    const ax = axes(pf, x, y, ticks.map((t) => [t, t.toFixed(1)]), ticks, p.xLabel, p.yLabel, p.kind === "pr" ? p.left - 44 : 16);
    parts.push(`<g data-panel="${p.kind}">`, ...ax);
    sets.forEach((s, i) => {
      const pos = s.positive.filter(Boolean).length;
      if (pos === 0 || pos === s.positive.length) return;
      const pts = p.kind === "roc" ? rocCurve(s.scores, s.positive) : precisionRecallCurve(s.scores, s.positive);
      parts.push(
        `<polyline fill="none" stroke="${entries[i]!.color}" stroke-width="2" data-series="${esc(s.name)}" data-points="${pts.length}" points="${pts.map((q) => `${f(x(q.x))},${f(y(q.y))}`).join(" ")}"/>`,
      );
    });
    // Chance: the diagonal for ROC; the share of danger clips for precision–recall.
    const base = sets[0] ? sets[0].positive.filter(Boolean).length / Math.max(1, sets[0].positive.length) : 0.5;
    if (p.kind === "roc") parts.push(`<line x1="${f(x(0))}" y1="${f(y(0))}" x2="${f(x(1))}" y2="${f(y(1))}" stroke="#999" stroke-dasharray="5 3" data-series="chance"/>`);
    else parts.push(`<line x1="${f(x(0))}" y1="${f(y(base))}" x2="${f(x(1))}" y2="${f(y(base))}" stroke="#999" stroke-dasharray="5 3" data-series="chance"/>`);
    parts.push(`</g>`);
  }
  parts.push(...legend(fr, entries));
  return close(parts);
}

// ───────────────────────────── stream timeline ─────────────────────────────

export interface TimelineOptions {
  title: string;
  durationS: number;
  /** Series of (seconds, score) pairs: the raw and the smoothed danger score. */
  scores: { name: string; points: { tS: number; score: number }[] }[];
  thresholds: { name: string; value: number }[];
  /** True danger passages (shaded bands). */
  passages: { startS: number; endS: number; caught?: boolean }[];
  /** Alerts raised (markers on a strip under the plot, and their span). */
  alerts: { startS: number; endS: number }[];
  /** At most this many points per series (max per bucket, so that no peak is lost). */
  maxPoints?: number;
}

/** Keeps the largest score of each time bucket: a peak that raised an alert stays visible. */
export function downsampleMax(points: { tS: number; score: number }[], maxPoints: number): { tS: number; score: number }[] {
  if (points.length <= maxPoints) return points;
  const per = Math.ceil(points.length / maxPoints);
  const out: { tS: number; score: number }[] = [];
  for (let i = 0; i < points.length; i += per) {
    let best = points[i]!;
    for (let k = i + 1; k < Math.min(points.length, i + per); k++) if (points[k]!.score > best.score) best = points[k]!;
    out.push(best);
  }
  return out;
}

export function timelineSvg(o: TimelineOptions): string {
  const entries: LegendEntry[] = [
    ...o.scores.map((s, i) => ({ name: s.name, color: i === 0 ? "#9bbcd9" : PALETTE[0] })),
    ...o.thresholds.map((t, i) => ({ name: `${t.name} ${t.value}`, color: i === 0 ? PALETTE[3] : "#e08a8a", mark: "dash" as const })),
    { name: "true danger passage", color: PALETTE[1], mark: "box" },
    { name: "alert", color: PALETTE[3], mark: "box" },
  ];
  const fr = frame(o.title, 760, 220, legendWidth(entries), 64, 72);
  const minutes = o.durationS >= 300;
  const unit = minutes ? 60 : 1;
  const xt = niceTicks(0, o.durationS / unit, 10).filter((t) => t * unit <= o.durationS + 1e-9);
  const x = linearScale(0, Math.max(1e-9, o.durationS), fr.left, fr.right);
  const y = linearScale(0, 1, fr.bottom, fr.top);
  const parts = open(fr, o.title, "timeline");
  // Passages behind everything.
  for (const p of o.passages) {
    parts.push(
      `<rect x="${f(x(p.startS))}" y="${fr.top}" width="${f(Math.max(1, x(p.endS) - x(p.startS)))}" height="${fr.bottom - fr.top}" fill="${PALETTE[1]}" fill-opacity="0.25" data-passage="${f(p.startS)}-${f(p.endS)}"${p.caught === undefined ? "" : ` data-caught="${p.caught}"`}/>`,
    );
  }
  parts.push(...axes(fr, (v) => x(v * unit), y, xt.map((t) => [t, String(t)]), [0, 0.2, 0.4, 0.6, 0.8, 1], minutes ? "minutes" : "seconds", "danger score"));
  o.scores.forEach((s, i) => {
    const pts = downsampleMax(s.points, o.maxPoints ?? 3000);
    parts.push(
      `<polyline fill="none" stroke="${entries[i]!.color}" stroke-width="${i === 0 && o.scores.length > 1 ? 1 : 1.5}" data-series="${esc(s.name)}" data-points="${pts.length}" points="${pts.map((p) => `${f(x(p.tS))},${f(y(p.score))}`).join(" ")}"/>`,
    );
  });
  o.thresholds.forEach((t, i) => {
    parts.push(`<line x1="${fr.left}" y1="${f(y(t.value))}" x2="${fr.right}" y2="${f(y(t.value))}" stroke="${entries[o.scores.length + i]!.color}" stroke-dasharray="6 4" data-threshold="${esc(t.name)}" data-value="${t.value}"/>`);
  });
  // Alerts: a strip under the x axis labels, and a marker at each onset on the plot.
  const strip = fr.bottom + 44;
  parts.push(`<text x="${fr.left - 6}" y="${strip + 9}" text-anchor="end">alerts</text>`);
  for (const a of o.alerts) {
    parts.push(
      `<rect x="${f(x(a.startS))}" y="${strip}" width="${f(Math.max(2, x(a.endS) - x(a.startS)))}" height="12" fill="${PALETTE[3]}" data-alert="${f(a.startS)}-${f(a.endS)}"/>`,
      `<line x1="${f(x(a.startS))}" y1="${fr.top}" x2="${f(x(a.startS))}" y2="${fr.bottom}" stroke="${PALETTE[3]}" stroke-width="1" stroke-opacity="0.6"/>`,
    );
  }
  parts.push(...legend(fr, entries));
  return close(parts);
}

// ───────────────────────────── Pareto chart of a sweep ─────────────────────────────

export interface ParetoPoint {
  falsePerHour: number;
  caughtShare: number;
  /** Shown on hover (an SVG <title>): the setting. */
  label?: string;
}

/**
 * Every setting of a sweep as a dot (false alerts per hour → caught share), the Pareto front as a
 * staircase through its settings, the chosen setting ringed, and the targets as dashed lines.
 */
export function paretoSvg(o: { title: string; all: ParetoPoint[]; front: ParetoPoint[]; chosen?: ParetoPoint | null; targets?: { maxFalsePerHour: number; minCaught: number } }): string {
  const entries: LegendEntry[] = [
    { name: "setting", color: "#aaa", mark: "dot" },
    { name: "Pareto front", color: PALETTE[0] },
    ...(o.chosen ? [{ name: "chosen", color: PALETTE[3], mark: "dot" as const }] : []),
    ...(o.targets ? [{ name: "targets", color: PALETTE[2], mark: "dash" as const }] : []),
  ];
  const fr = frame(o.title, 520, 320, legendWidth(entries));
  const finite = (p: ParetoPoint): boolean => Number.isFinite(p.falsePerHour) && Number.isFinite(p.caughtShare);
  const all = o.all.filter(finite);
  const xd = yDomain([...all.map((p) => p.falsePerHour), o.targets?.maxFalsePerHour ?? 0]);
  const x = linearScale(xd.lo, xd.hi, fr.left, fr.right);
  const y = linearScale(0, 1, fr.bottom, fr.top);
  const parts = [...open(fr, o.title, "pareto"), ...axes(fr, x, y, xd.ticks.map((t) => [t, tickLabel(t, xd.ticks)]), [0, 0.2, 0.4, 0.6, 0.8, 1], "false alerts per hour", "share of danger passages caught")];
  const tip = (p: ParetoPoint): string => (p.label ? `<title>${esc(p.label)}</title>` : "");
  parts.push(`<g data-series="settings">`);
  for (const p of all) parts.push(`<circle cx="${f(x(p.falsePerHour))}" cy="${f(y(p.caughtShare))}" r="2.5" fill="#aaa" data-x="${p.falsePerHour}" data-y="${p.caughtShare}">${tip(p)}</circle>`);
  parts.push(`</g>`);
  const front = o.front.filter(finite).sort((a, b) => a.falsePerHour - b.falsePerHour);
  // A staircase: a setting's catch rate holds until the next front setting buys more catches.
  const stairs: string[] = [];
  front.forEach((p, i) => {
    if (i > 0) stairs.push(`${f(x(p.falsePerHour))},${f(y(front[i - 1]!.caughtShare))}`);
    stairs.push(`${f(x(p.falsePerHour))},${f(y(p.caughtShare))}`);
  });
  parts.push(`<polyline fill="none" stroke="${PALETTE[0]}" stroke-width="2" data-series="front" data-points="${front.length}" points="${stairs.join(" ")}"/>`);
  for (const p of front) parts.push(`<circle cx="${f(x(p.falsePerHour))}" cy="${f(y(p.caughtShare))}" r="4" fill="${PALETTE[0]}" data-front="" data-x="${p.falsePerHour}" data-y="${p.caughtShare}">${tip(p)}</circle>`);
  if (o.targets) {
    parts.push(`<line x1="${f(x(o.targets.maxFalsePerHour))}" y1="${fr.top}" x2="${f(x(o.targets.maxFalsePerHour))}" y2="${fr.bottom}" stroke="${PALETTE[2]}" stroke-dasharray="5 3" data-target="false-per-hour"/>`);
    parts.push(`<line x1="${fr.left}" y1="${f(y(o.targets.minCaught))}" x2="${fr.right}" y2="${f(y(o.targets.minCaught))}" stroke="${PALETTE[2]}" stroke-dasharray="5 3" data-target="caught"/>`);
  }
  if (o.chosen && finite(o.chosen)) {
    parts.push(`<circle cx="${f(x(o.chosen.falsePerHour))}" cy="${f(y(o.chosen.caughtShare))}" r="7" fill="none" stroke="${PALETTE[3]}" stroke-width="2" data-chosen="" data-x="${o.chosen.falsePerHour}" data-y="${o.chosen.caughtShare}">${tip(o.chosen)}</circle>`);
  }
  parts.push(...legend(fr, entries));
  return close(parts);
}

// ───────────────────────────── calibration ─────────────────────────────

export interface CalibrationRow {
  /** The threshold (numeric x axis) … */
  threshold?: number;
  /** … or a setting's label (categorical x axis, in the order given) when there is no threshold. */
  label?: string;
  falseAlertsPerHour: number;
  /** Danger passages caught of `total`, once calibrate measures them. */
  caught?: number;
  total?: number;
}

/**
 * False alerts per hour against the threshold (left axis), and the share of danger caught
 * (right axis, 0–100 %) for the rows that measured it. Rows with a threshold are placed on a
 * numeric axis; otherwise each row is one labelled step.
 */
export function calibrationChartSvg(rows: CalibrationRow[], title = "False alerts per hour against the threshold"): string {
  const numeric = rows.length > 0 && rows.every((r) => typeof r.threshold === "number" && Number.isFinite(r.threshold));
  const sorted = numeric ? [...rows].sort((a, b) => a.threshold! - b.threshold!) : rows;
  const withCatch = sorted.filter((r) => r.caught !== undefined && r.total !== undefined && r.total > 0);
  const entries: LegendEntry[] = [{ name: "false alerts per hour", color: PALETTE[3] }, ...(withCatch.length ? [{ name: "danger caught (right axis)", color: PALETTE[2] }] : [])];
  const fr = frame(title, 520, 300, legendWidth(entries) + (withCatch.length ? 40 : 0), 64, 48, withCatch.length ? 64 : 24);
  const xOf = (r: CalibrationRow, i: number): number => (numeric ? r.threshold! : i);
  const xs = sorted.map(xOf);
  const xLo = xs.length ? Math.min(...xs) : 0, xHi = xs.length ? Math.max(...xs) : 1;
  const x = linearScale(xLo, xHi > xLo ? xHi : xLo + 1, fr.left + (numeric ? 0 : 20), fr.right - (numeric ? 0 : 20));
  const yd = yDomain(sorted.map((r) => r.falseAlertsPerHour));
  const y = linearScale(yd.lo, yd.hi, fr.bottom, fr.top);
  const xTicks: [number, string][] = numeric
    ? niceTicks(xLo, xHi, 8).filter((t) => t >= xLo - 1e-9 && t <= xHi + 1e-9).map((t, _, all) => [t, tickLabel(t, all)])
    : sorted.map((r, i) => [i, r.label ?? String(i + 1)]);
  const parts = [...open(fr, title, "calibration"), ...axes(fr, x, y, xTicks, yd.ticks, numeric ? "threshold" : "setting", "false alerts per hour")];
  const fa = sorted.map((r, i) => ({ x: x(xOf(r, i)), y: y(r.falseAlertsPerHour), r }));
  parts.push(`<polyline fill="none" stroke="${PALETTE[3]}" stroke-width="2" data-series="false-alerts-per-hour" data-points="${fa.length}" points="${fa.map((p) => `${f(p.x)},${f(p.y)}`).join(" ")}"/>`);
  for (const p of fa) parts.push(`<circle cx="${f(p.x)}" cy="${f(p.y)}" r="3" fill="${PALETTE[3]}" data-x="${p.r.threshold ?? p.r.label ?? ""}" data-y="${p.r.falseAlertsPerHour}"/>`);
  if (withCatch.length) {
    const y2 = linearScale(0, 1, fr.bottom, fr.top);
    parts.push(`<line x1="${fr.right}" y1="${fr.top}" x2="${fr.right}" y2="${fr.bottom}" stroke="black" data-role="y2-axis"/>`);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) parts.push(`<text x="${fr.right + 6}" y="${f(y2(t) + 4)}" data-tick-y2="${t}">${Math.round(t * 100)} %</text>`);
    const pts = sorted.map((r, i) => ({ r, i })).filter(({ r }) => withCatch.includes(r)).map(({ r, i }) => ({ x: x(xOf(r, i)), y: y2(r.caught! / r.total!), r }));
    parts.push(`<polyline fill="none" stroke="${PALETTE[2]}" stroke-width="2" data-series="caught" data-points="${pts.length}" points="${pts.map((p) => `${f(p.x)},${f(p.y)}`).join(" ")}"/>`);
    for (const p of pts) parts.push(`<circle cx="${f(p.x)}" cy="${f(p.y)}" r="3" fill="${PALETTE[2]}" data-caught="${p.r.caught}" data-total="${p.r.total}"/>`);
  }
  // The legend right of the second axis's labels.
  parts.push(...legend({ ...fr, right: fr.right + (withCatch.length ? 40 : 0) }, entries));
  return close(parts);
}
