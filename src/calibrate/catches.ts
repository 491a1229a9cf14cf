/**
 * Catches: how many of the danger passages mixed into the room (danger-mix.ts) a candidate
 * setting would have alerted on. The mixed stream's smoothed scores are replayed through the
 * benchmark's own replay (`replayAlerts`, with smoothing off: the scores are already smoothed,
 * as the state machine saw them) and scored by the benchmark's own rule (`scoreStream`).
 */
import type { AlertParams } from "../detect/params.js";
import { replayAlerts } from "../bench/sweep.js";
import type { StreamTimeline } from "../bench/stream-builder.js";
import { scoreStream } from "../bench/stream-score.js";
import { CATCH_GRACE_S } from "./danger-mix.js";
import type { Candidate, ScorePoint } from "./simulate.js";

/** The mixed streams: each segment's smoothed scores (times from the segment's start) and its truth. */
export interface MixedTrace {
  segments: ScorePoint[][];
  timelines: StreamTimeline[];
}

export function passageCount(mixed: MixedTrace): number {
  return mixed.timelines.reduce((a, t) => a + t.passages.length, 0);
}

export function countCatches(mixed: MixedTrace, base: AlertParams, c: Candidate): number {
  let caught = 0;
  mixed.segments.forEach((points, i) => {
    const timeline = mixed.timelines[i]!;
    if (timeline.passages.length === 0) return;
    const alerts = replayAlerts(
      points.map((p) => ({ tMs: p.tMs, danger: p.score })),
      base,
      { ...c, minDurationMs: base.minDurationMs, holdMs: base.holdMs, cooldownMs: base.cooldownMs, smoothing: { method: "none" } },
    );
    caught += scoreStream(timeline, alerts, CATCH_GRACE_S).caught;
  });
  return caught;
}
