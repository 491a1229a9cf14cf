/**
 * What `eval` and `bench` draw, from what they measured: pure functions from their results to
 * SVG files by name (src/report/charts.ts draws). The commands write the files.
 */
import type { SweepReport } from "../bench/report.js";
import type { SweepResult, SweepTrace } from "../bench/sweep.js";
import type { StreamAlert } from "../bench/stream-score.js";
import { scoreStream } from "../bench/stream-score.js";
import { createSmoother } from "../detect/danger.js";
import type { DetectParams } from "../detect/params.js";
import { confusionSvg, paretoSvg, rocPrSvg, timelineSvg, type ScoredSet } from "./charts.js";

/** `eval`'s pictures: the confusion matrix (when there is one) and danger ROC/PR for each scored set. */
export function evalPlots(
  title: string,
  confusion: { labels: string[]; matrix: number[][] } | null,
  sets: ScoredSet[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (confusion && confusion.matrix.some((row) => row.some((v) => v > 0))) out["confusion.svg"] = confusionSvg(`Confusion matrix — ${title}`, confusion.labels, confusion.matrix);
  out["danger-roc-pr.svg"] = rocPrSvg(`Danger vs rest: ROC and precision–recall — ${title}`, sets);
  return out;
}

/** A file-name-safe form of a stream's name. */
const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "-");

/**
 * One timeline per stream: the raw danger score, the score as the detector smooths it, the enter
 * and exit thresholds, the true danger passages (caught or missed, as the benchmark scored them)
 * and the alerts raised.
 */
export function streamTimelines(
  streams: { name: string; trace: SweepTrace; alerts: StreamAlert[] }[],
  detect: Pick<DetectParams, "enterThreshold" | "exitThreshold" | "smoothing">,
  graceS: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of streams) {
    const raw = s.trace.points.map((p) => ({ tS: p.tMs / 1000, score: p.danger }));
    const smoother = createSmoother(detect.smoothing);
    const smoothed = raw.map((p) => ({ tS: p.tS, score: smoother.push(p.score) }));
    const detail = scoreStream(s.trace.timeline, s.alerts, graceS).detail;
    out[`timeline-${slug(s.name)}.svg`] = timelineSvg({
      title: `${s.name}: danger score, thresholds, true passages and alerts`,
      durationS: s.trace.timeline.duration_s,
      scores: [
        { name: "danger (raw)", points: raw },
        { name: `danger (${detect.smoothing.method === "none" ? "as judged" : `smoothed, ${detect.smoothing.method}`})`, points: smoothed },
      ],
      thresholds: [
        { name: "enter", value: detect.enterThreshold },
        { name: "exit", value: detect.exitThreshold },
      ],
      passages: detail.map((d) => ({ startS: d.start_s, endS: d.end_s, caught: d.caught })),
      alerts: s.alerts.map((a) => ({ startS: a.start_s, endS: a.end_s })),
    });
  }
  return out;
}

const point = (r: SweepResult, label: (r: SweepResult) => string): { falsePerHour: number; caughtShare: number; label: string } => ({
  falsePerHour: r.summary.false_alerts_per_h,
  caughtShare: r.summary.caught_share,
  label: label(r),
});

/** The sweep: every setting, the Pareto front, the chosen setting and the targets. */
export function sweepParetoSvg(all: readonly SweepResult[], sweep: Pick<SweepReport, "front" | "choice" | "targets">, label: (r: SweepResult) => string): string {
  return paretoSvg({
    title: `Detector settings: false alerts per hour against danger caught (${all.length} settings)`,
    all: all.map((r) => point(r, label)),
    front: sweep.front.map((r) => point(r, label)),
    chosen: sweep.choice ? { falsePerHour: sweep.choice.summary.false_alerts_per_h, caughtShare: sweep.choice.summary.caught_share, label: `chosen: ${sweep.choice.rule}` } : null,
    targets: sweep.targets,
  });
}
