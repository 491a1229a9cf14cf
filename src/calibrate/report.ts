/** The calibration report: every candidate's alert rate, the recommendation, and how far to trust it. Pure. */
import { detectParamsFromConfig } from "../config/detect-params.js";
import type { DetectConfig } from "../config/schema.js";
import {
  candidateGrid,
  evaluateCandidates,
  recommend,
  traceStats,
  zeroAlertUpperBoundPerHour,
  type CandidateResult,
  type ScoreTrace,
} from "./simulate.js";

export interface CalibrationReport {
  audioHours: number;
  segments: number;
  windows: number;
  maxScore: number;
  p99Score: number;
  targetPerHour: number;
  candidates: CandidateResult[];
  /** The thresholds the config has now, on the same trace. */
  current: CandidateResult;
  recommended: CandidateResult | null;
  /** With zero alerts, the rate is below this at 95 % confidence. */
  zeroAlertBoundPerHour: number;
}

export function calibrationReport(trace: ScoreTrace, detect: DetectConfig, targetPerHour: number): CalibrationReport {
  const base = detectParamsFromConfig(detect);
  const candidates = evaluateCandidates(trace, base, candidateGrid());
  const [current] = evaluateCandidates(trace, base, [{ enterThreshold: detect.enter_threshold, exitThreshold: detect.exit_threshold, k: detect.k, n: detect.n }]);
  const stats = traceStats(trace);
  return {
    audioHours: trace.audioMs / 3_600_000,
    segments: trace.segments.length,
    windows: stats.windows,
    maxScore: stats.max,
    p99Score: stats.p99,
    targetPerHour,
    candidates,
    current: current!,
    recommended: recommend(candidates, targetPerHour),
    zeroAlertBoundPerHour: zeroAlertUpperBoundPerHour(trace.audioMs),
  };
}

const rate = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "∞");
const setting = (c: CandidateResult): string => `enter_threshold ${c.enterThreshold}, exit_threshold ${c.exitThreshold}, k ${c.k}, n ${c.n}`;

export function formatCalibration(r: CalibrationReport): string {
  const lines: string[] = [];
  const minutes = r.audioHours * 60;
  lines.push(`heard ${minutes.toFixed(1)} min of audio (${r.segments} stream(s), ${r.windows} windows); danger score max ${r.maxScore.toFixed(2)}, 99th percentile ${r.p99Score.toFixed(2)}`);
  lines.push("");
  lines.push("enter  exit  k/n   alerts  per hour");
  for (const c of r.candidates) {
    const mark = r.recommended === c ? "  ← recommended" : "";
    lines.push(`${c.enterThreshold.toFixed(2)}   ${c.exitThreshold.toFixed(2)}  ${`${c.k}/${c.n}`.padEnd(4)}  ${String(c.alerts).padStart(6)}  ${rate(c.perHour).padStart(8)}${mark}`);
  }
  lines.push("");
  lines.push(`current:     ${setting(r.current)} → ${r.current.alerts} alert(s), ${rate(r.current.perHour)}/h`);
  if (r.recommended) {
    lines.push(`recommended: ${setting(r.recommended)} → ${rate(r.recommended.perHour)}/h (target ≤ ${r.targetPerHour}/h)`);
  } else {
    lines.push(`no candidate stays at or below ${r.targetPerHour} alerts/h here: the room itself sounds dangerous to the model (a TV, an argument?); calibrate at a calmer time, or raise --target-per-hour`);
  }
  if (r.recommended && r.recommended.alerts === 0) {
    lines.push(`note: no alert in ${minutes.toFixed(0)} min only shows the rate is below about ${rate(r.zeroAlertBoundPerHour)}/h (95 %); calibrate for longer (hours) before trusting a low target`);
  }
  lines.push("note: the recording is assumed to hold no real danger: every alert in it counts as a false one");
  return lines.join("\n") + "\n";
}
