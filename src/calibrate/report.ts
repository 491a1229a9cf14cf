/**
 * The calibration report: every candidate's false alerts on the room's audio beside the share of
 * mixed danger passages it caught, the recommendation, and how far to trust it. Pure.
 */
import { detectParamsFromConfig } from "../config/detect-params.js";
import type { DetectConfig } from "../config/schema.js";
import { countCatches, passageCount, type MixedTrace } from "./catches.js";
import { CATCH_GRACE_S } from "./danger-mix.js";
import {
  candidateGrid,
  defaultSetting,
  evaluateCandidates,
  recommend,
  sameSetting,
  traceStats,
  zeroAlertUpperBoundPerHour,
  type Candidate,
  type CandidateResult,
  type ScoreTrace,
} from "./simulate.js";

/** Where the catches were measured: on the room's own audio, or (--from-daemon) on synthetic noise at its level. */
export type CatchSource = { kind: "room" } | { kind: "synthetic"; roomDbfs: number; seconds: number };

export interface CalibrationReport {
  /** What the false alerts were counted on. */
  source: "recording" | "microphone" | "daemon";
  audioHours: number;
  segments: number;
  windows: number;
  maxScore: number;
  p99Score: number;
  catchSource: CatchSource;
  /** Danger passages mixed in, the seed that placed them, and the grace a catch may take. */
  passages: number;
  seed: number;
  graceS: number;
  candidates: CandidateResult[];
  /** The shipped defaults and the thresholds the config has now, on the same audio. */
  defaults: CandidateResult;
  current: CandidateResult;
  /** Null when nothing is known about misses (no passage could be mixed in). */
  recommended: CandidateResult | null;
  /** The recommendation is not the defaults: it raised fewer false alerts, or caught more. */
  beatsDefaults: boolean;
  /** --force: settings more sensitive than the defaults were considered. */
  force: boolean;
  /** With zero alerts, the rate is below this at 95 % confidence. */
  zeroAlertBoundPerHour: number;
}

export interface ReportInput {
  source: CalibrationReport["source"];
  trace: ScoreTrace;
  mixed: MixedTrace;
  catchSource: CatchSource;
  seed: number;
  detect: DetectConfig;
  force: boolean;
  /** The yardstick of "as many as the defaults" and of the safety rule (default: the shipped defaults). */
  defaults?: Candidate;
}

const settingOf = (d: DetectConfig): Candidate => ({ enterThreshold: d.enter_threshold, exitThreshold: d.exit_threshold, k: d.k, n: d.n });

export function calibrationReport(i: ReportInput): CalibrationReport {
  const base = detectParamsFromConfig(i.detect);
  const defaultsSetting = i.defaults ?? defaultSetting();
  const y = { defaults: defaultsSetting, catches: (c: Candidate) => countCatches(i.mixed, base, c), passages: passageCount(i.mixed) };
  const grid = candidateGrid();
  const candidates = evaluateCandidates(i.trace, base, grid.some((c) => sameSetting(c, defaultsSetting)) ? grid : [...grid, defaultsSetting], y);
  const defaults = candidates.find((c) => sameSetting(c, defaultsSetting))!;
  const [current] = evaluateCandidates(i.trace, base, [settingOf(i.detect)], y);
  const stats = traceStats(i.trace);
  const recommended = recommend(candidates, defaults, i.force);
  return {
    source: i.source,
    audioHours: i.trace.audioMs / 3_600_000,
    segments: i.trace.segments.length,
    windows: stats.windows,
    maxScore: stats.max,
    p99Score: stats.p99,
    catchSource: i.catchSource,
    passages: y.passages,
    seed: i.seed,
    graceS: CATCH_GRACE_S,
    candidates,
    defaults,
    current: current!,
    recommended,
    beatsDefaults: recommended !== null && !sameSetting(recommended, defaults),
    force: i.force,
    zeroAlertBoundPerHour: zeroAlertUpperBoundPerHour(i.trace.audioMs),
  };
}

const rate = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "∞");
const share = (c: CandidateResult): string => (c.passages === 0 ? "–" : `${c.caught}/${c.passages} ${Math.round((100 * c.caught) / c.passages)}%`);
const setting = (c: Candidate): string => `enter_threshold ${c.enterThreshold}, exit_threshold ${c.exitThreshold}, k ${c.k}, n ${c.n}`;
const outcome = (c: CandidateResult): string => `${c.alerts} false alert(s), ${rate(c.perHour)}/h; caught ${share(c)}`;

export function formatCalibration(r: CalibrationReport): string {
  const lines: string[] = [];
  const minutes = r.audioHours * 60;
  const heardFrom = { recording: "in the recording(s)", microphone: "from the microphone", daemon: "by the running daemon" }[r.source];
  lines.push(`scored ${minutes.toFixed(1)} min of audio ${heardFrom} (${r.segments} stream(s), ${r.windows} windows); danger score max ${r.maxScore.toFixed(2)}, 99th percentile ${r.p99Score.toFixed(2)}`);
  if (r.catchSource.kind === "room") {
    lines.push(`caught: of ${r.passages} danger passages (the bundled angry sentences, 3-9 s, seed ${r.seed}) mixed into the room's own audio at speech level, those alerted on within ${r.graceS} s`);
  } else {
    lines.push(
      `caught: of ${r.passages} danger passages (the bundled angry sentences, 3-9 s, seed ${r.seed}) mixed into ${(r.catchSource.seconds / 60).toFixed(0)} min of steady synthetic noise at the room's median level (${r.catchSource.roomDbfs.toFixed(1)} dBFS), those alerted on within ${r.graceS} s.`,
      `        The daemon keeps no audio, so this is not the room's own sound (no TV, no voices under the danger): a room with such sounds may miss more.`,
    );
  }
  lines.push("");
  lines.push("enter  exit  k/n    false alerts  per hour  caught");
  for (const c of r.candidates) {
    const marks = [
      r.recommended === c ? "← recommended" : "",
      c === r.defaults ? "(defaults)" : "",
      c.moreSensitiveThanDefaults ? "more sensitive than the defaults" : "",
    ].filter((m) => m !== "");
    lines.push(
      `${c.enterThreshold.toFixed(2)}   ${c.exitThreshold.toFixed(2)}  ${`${c.k}/${c.n}`.padEnd(5)}  ${String(c.alerts).padStart(12)}  ${rate(c.perHour).padStart(8)}  ${share(c).padEnd(12)}${marks.length > 0 ? `  ${marks.join(", ")}` : ""}`,
    );
  }
  lines.push("");
  lines.push(`defaults:    ${setting(r.defaults)} → ${outcome(r.defaults)}`);
  lines.push(`current:     ${setting(r.current)} → ${outcome(r.current)}`);
  if (r.recommended === null) {
    lines.push("recommended: nothing: no danger passage could be mixed into so little audio, so nothing is known about what a setting would miss");
  } else if (!r.beatsDefaults) {
    lines.push(`recommended: the defaults: no setting${r.force ? "" : " as cautious as the defaults or more"} raised fewer false alerts here while catching as many passages`);
  } else {
    lines.push(`recommended: ${setting(r.recommended)} → ${outcome(r.recommended)}`);
    lines.push(`             (the fewest false alerts of the settings that catch at least as many passages as the defaults${r.force ? ", more sensitive ones included (--force)" : ""})`);
  }
  if (r.passages > 0 && r.defaults.caught < r.passages) {
    lines.push(`note: even the defaults missed ${r.passages - r.defaults.caught} of ${r.passages} mixed passages in this room`);
  }
  if (r.recommended && r.recommended.alerts === 0) {
    lines.push(`note: no alert in ${minutes.toFixed(0)} min only shows the rate is below about ${rate(r.zeroAlertBoundPerHour)}/h (95 %); calibrate for longer (hours) before trusting it`);
  }
  lines.push("note: the room's audio is assumed to hold no real danger: every alert in it counts as a false one");
  return lines.join("\n") + "\n";
}
