/**
 * Calibration, the pure part: given the danger score of every window a unit heard in its room,
 * how many alerts would each candidate threshold and k-of-n have raised, how many of the danger
 * passages mixed into that room would it have caught (danger-mix.ts, catches.ts), and which
 * setting raises the fewest false alerts while catching at least as many as the defaults?
 *
 * The trace holds the *smoothed* score, what the state machine saw: smoothing does not depend on
 * the thresholds, so replaying the trace through `AlertStateMachine` with other thresholds gives
 * exactly what the daemon would have done with them (the same machine, the same times).
 */
import { AlertStateMachine } from "../detect/state-machine.js";
import type { AlertParams } from "../detect/params.js";
import { DetectSchema } from "../config/schema.js";
import { SAMPLE_RATE_HZ } from "../constants.js";
import { CalibrationError } from "../errors.js";
import type { Pipeline } from "../pipeline.js";

export interface ScorePoint {
  tMs: number;
  score: number;
}

export interface ScoreTrace {
  /** Each segment is one continuous stream (one file, one listening session). */
  segments: ScorePoint[][];
  /** Audio heard in total, ms (the denominator of alerts per hour). */
  audioMs: number;
}

export interface Candidate {
  enterThreshold: number;
  exitThreshold: number;
  k: number;
  n: number;
}

export interface CandidateResult extends Candidate {
  /** False alerts on the room's own audio, and per hour of it. */
  alerts: number;
  perHour: number;
  /** Danger passages mixed into the room that this setting caught, of `passages`. */
  caught: number;
  passages: number;
  /** caught / passages; null when no passage was mixed in. */
  caughtShare: number | null;
  /** Lower enter threshold or fewer windows needed than the shipped defaults. */
  moreSensitiveThanDefaults: boolean;
}

/** The gap between enter and exit the candidates keep (hysteresis, as the default 0.6 / 0.4). */
export const EXIT_GAP = 0.2;
export const DEFAULT_ENTER_GRID: readonly number[] = [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];
/** k of n at 0.5 s hops: 1–5 s of danger in a 1.5–6 s span (8 of 10 is the shipped default). */
export const DEFAULT_KN_GRID: readonly (readonly [number, number])[] = [
  [2, 3],
  [3, 5],
  [4, 6],
  [6, 8],
  [8, 10],
  [10, 12],
];
/**
 * Under this much scored audio calibration refuses without --force: 17.5 s of calm speech once
 * "recommended" 0.40 and 2 of 3 (issue #12.5), and with no alert in 10 min the false-alert rate
 * is only known to be below 18/h (zeroAlertUpperBoundPerHour).
 */
export const MIN_CALIBRATION_MS = 10 * 60_000;

/** Throws CalibrationError TOO_LITTLE_AUDIO under MIN_CALIBRATION_MS of audio, unless `force`. */
export function assertEnoughAudio(audioMs: number, force: boolean): void {
  if (force || audioMs >= MIN_CALIBRATION_MS) return;
  const heard = audioMs < 60_000 ? `${(audioMs / 1000).toFixed(1)} s` : `${(audioMs / 60_000).toFixed(1)} min`;
  throw new CalibrationError(
    "TOO_LITTLE_AUDIO",
    `only ${heard} of audio was scored; calibration needs at least ${MIN_CALIBRATION_MS / 60_000} min of ordinary life in the room to say anything about false alerts — listen or record longer (an hour or more is better), or pass --force to see the figures anyway`,
  );
}

/** The shipped defaults' thresholds, from the schema itself. */
export function defaultSetting(): Candidate {
  const d = DetectSchema.parse({});
  return { enterThreshold: d.enter_threshold, exitThreshold: d.exit_threshold, k: d.k, n: d.n };
}

/** The shipped defaults' enter threshold and k of n, the yardstick of the safety rule. */
export type Yardstick = Pick<Candidate, "enterThreshold" | "k">;

/** More trigger-happy than `defaults`: a lower enter threshold, or fewer windows needed. */
export function moreSensitiveThan(c: Pick<Candidate, "enterThreshold" | "k">, defaults: Yardstick): boolean {
  return c.enterThreshold < defaults.enterThreshold - 1e-9 || c.k < defaults.k;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function candidateGrid(enter: readonly number[] = DEFAULT_ENTER_GRID, kn: readonly (readonly [number, number])[] = DEFAULT_KN_GRID): Candidate[] {
  const out: Candidate[] = [];
  for (const e of enter) {
    for (const [k, n] of kn) out.push({ enterThreshold: round2(e), exitThreshold: round2(e - EXIT_GAP), k, n });
  }
  return out;
}

/** Alerts the state machine raises over the trace with these thresholds (every other parameter from `base`). */
export function countAlerts(trace: ScoreTrace, base: AlertParams, candidate: Candidate): number {
  const params: AlertParams = { ...base, ...candidate };
  let alerts = 0;
  for (const seg of trace.segments) {
    if (seg.length === 0) continue;
    const machine = new AlertStateMachine(params, seg[0]!.tMs);
    for (const p of seg) {
      for (const e of machine.step(p).events) if (e.type === "alert_start") alerts++;
    }
  }
  return alerts;
}

export function perHour(alerts: number, audioMs: number): number {
  return audioMs <= 0 ? Infinity : alerts / (audioMs / 3_600_000);
}

/** What the candidates are measured against besides the room: the mixed danger and the defaults. */
export interface Yardsticks {
  defaults: Yardstick;
  /** Catches of a candidate on the mixed streams (catches.ts), and how many passages there were. */
  catches: (c: Candidate) => number;
  passages: number;
}

export function evaluateCandidates(trace: ScoreTrace, base: AlertParams, candidates: readonly Candidate[], y: Yardsticks): CandidateResult[] {
  return candidates.map((c) => {
    const alerts = countAlerts(trace, base, c);
    const caught = y.catches(c);
    return {
      ...c,
      alerts,
      perHour: perHour(alerts, trace.audioMs),
      caught,
      passages: y.passages,
      caughtShare: y.passages > 0 ? caught / y.passages : null,
      moreSensitiveThanDefaults: moreSensitiveThan(c, y.defaults),
    };
  });
}

/**
 * Most sensitive first: the lower enter threshold first (it decides what counts as danger at
 * all), then the smaller k (fewer dangerous windows needed: a short cry still alerts, and
 * sooner), then the larger n (more room for gaps between them).
 */
export function bySensitivity(a: Candidate, b: Candidate): number {
  return a.enterThreshold - b.enterThreshold || a.k - b.k || b.n - a.n;
}

export const sameSetting = (a: Candidate, b: Candidate): boolean =>
  Math.abs(a.enterThreshold - b.enterThreshold) < 1e-9 && Math.abs(a.exitThreshold - b.exitThreshold) < 1e-9 && a.k === b.k && a.n === b.n;

/**
 * The rule (issue #12.5): of the settings that catch at least as many mixed danger passages as
 * the defaults, the one with the fewest false alerts on the room's audio; then the one that
 * catches most; then the defaults themselves, or the one nearest them in sensitivity (the room
 * could not tell those apart, and the defaults were chosen on hours of benchmark streams).
 * Without `force` no setting more sensitive than the defaults is considered. `defaults` must be
 * among `results`. Null when no passage could be mixed in (nothing is known about misses).
 */
export function recommend(results: readonly CandidateResult[], defaults: CandidateResult, force: boolean): CandidateResult | null {
  if (defaults.passages === 0) return null;
  const order = [...results].sort(bySensitivity);
  const rank = (c: Candidate): number => order.findIndex((r) => sameSetting(r, c));
  const home = rank(defaults);
  const eligible = results.filter((r) => (force || !r.moreSensitiveThanDefaults) && r.caught >= defaults.caught);
  return [...eligible].sort((a, b) => a.alerts - b.alerts || b.caught - a.caught || Math.abs(rank(a) - home) - Math.abs(rank(b) - home) || rank(b) - rank(a))[0] ?? defaults;
}

/**
 * With no alert in `audioMs`, the true rate is below this with 95 % confidence (−ln 0.05 ≈ 3
 * events, the "rule of three"): a short calibration can only vouch for so little.
 */
export function zeroAlertUpperBoundPerHour(audioMs: number): number {
  return perHour(3, audioMs);
}

/** Score statistics for the report. */
export function traceStats(trace: ScoreTrace): { windows: number; max: number; p99: number } {
  const scores = trace.segments.flat().map((p) => p.score).sort((a, b) => a - b);
  if (scores.length === 0) return { windows: 0, max: 0, p99: 0 };
  return { windows: scores.length, max: scores[scores.length - 1]!, p99: scores[Math.min(scores.length - 1, Math.floor(scores.length * 0.99))]! };
}

/**
 * Feeds audio through a `Pipeline` and keeps only each window's time and smoothed score: never a
 * sample (the audio is dropped as soon as the pipeline has seen it).
 */
export class ScoreTraceRecorder {
  private readonly segments: ScorePoint[][] = [];
  private pipeline: Pipeline | null = null;
  private current: ScorePoint[] | null = null;
  private audioSamples = 0;

  /** Starts a new continuous stream (a new file, or the microphone). */
  startSegment(pipeline: Pipeline): void {
    this.pipeline = pipeline;
    this.current = [];
    this.segments.push(this.current);
  }

  push(samples: Float32Array): void {
    if (!this.pipeline || !this.current) throw new Error("ScoreTraceRecorder.push before startSegment");
    this.audioSamples += samples.length;
    for (const r of this.pipeline.process(samples)) this.current.push({ tMs: r.tMs, score: r.smoothed });
  }

  get audioMs(): number {
    return (this.audioSamples * 1000) / SAMPLE_RATE_HZ;
  }

  trace(): ScoreTrace {
    return { segments: this.segments.map((s) => [...s]), audioMs: this.audioMs };
  }
}
