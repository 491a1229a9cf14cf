/**
 * Calibration, the pure part: given the danger score of every window a unit heard in its room,
 * how many alerts would each candidate threshold and k-of-n have raised, and which is the most
 * sensitive setting that stays within a target false-alert rate?
 *
 * The trace holds the *smoothed* score, what the state machine saw: smoothing does not depend on
 * the thresholds, so replaying the trace through `AlertStateMachine` with other thresholds gives
 * exactly what the daemon would have done with them (the same machine, the same times).
 */
import { AlertStateMachine } from "../detect/state-machine.js";
import type { AlertParams } from "../detect/params.js";
import { SAMPLE_RATE_HZ } from "../constants.js";
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
  alerts: number;
  perHour: number;
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
export const DEFAULT_TARGET_PER_HOUR = 0.5;

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

export function evaluateCandidates(trace: ScoreTrace, base: AlertParams, candidates: readonly Candidate[] = candidateGrid()): CandidateResult[] {
  return candidates.map((c) => {
    const alerts = countAlerts(trace, base, c);
    return { ...c, alerts, perHour: perHour(alerts, trace.audioMs) };
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

/** The most sensitive candidate at or below the target rate; null when none is. */
export function recommend(results: readonly CandidateResult[], targetPerHour: number): CandidateResult | null {
  return [...results].sort(bySensitivity).find((r) => r.perHour <= targetPerHour) ?? null;
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
