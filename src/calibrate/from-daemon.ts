/**
 * `calibrate --from-daemon`: the running daemon's remembered window scores (score-ring.ts, read
 * over the status socket) as a score trace, so a room is calibrated while the unit goes on
 * protecting it. Pure.
 */
import type { ScorePoint, ScoreTrace } from "./simulate.js";

export interface DaemonScores {
  hopMs: number;
  tMs: number[];
  score: number[];
  dbfs: number[];
}

/**
 * Consecutive windows more than two hops apart (a restart of the audio, a mute, a disarm, the
 * daemon's own restart) or out of order (the clock stepped back) start a new segment: the state
 * machine's k of n must not join windows across a gap. Audio time is windows × hop: the time the
 * daemon was actually listening.
 */
export function traceFromDaemon(s: DaemonScores): ScoreTrace {
  const segments: ScorePoint[][] = [];
  let current: ScorePoint[] = [];
  for (let i = 0; i < s.tMs.length; i++) {
    const t = s.tMs[i]!;
    const prev = current.length > 0 ? current[current.length - 1]!.tMs : null;
    if (prev !== null && (t <= prev || t - prev > 2 * s.hopMs)) {
      segments.push(current);
      current = [];
    }
    current.push({ tMs: t, score: s.score[i]! });
  }
  if (current.length > 0) segments.push(current);
  return { segments, audioMs: s.tMs.length * s.hopMs };
}

/** The room's typical level: the median window level the daemon heard, dBFS. */
export function medianDbfs(dbfs: readonly number[]): number {
  if (dbfs.length === 0) return -120;
  const sorted = [...dbfs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
