/**
 * Scores the alerts raised on a stream against its ground truth (stream-builder.ts):
 *
 * - a danger passage is **caught** when an alert starts between its onset and `graceS` after its
 *   end, or an alert is already on at its onset (the device was alerting when it mattered);
 *   the grace covers the analysis window (a 3 s window still sees the passage up to 3 s after its
 *   end) plus the k-of-n confirmation;
 * - every other alert is a **false alert**; the rate is per hour of non-danger audio (the stream
 *   minus each passage and its grace);
 * - **latency** is from the passage's onset to the start of the alert that caught it (0 when one
 *   was already on);
 * - false alerts are also told apart by what raised them — speech, a non-speech sound (home
 *   streams), or only the noise bed — as the kind of event that covers most of the 8 s before
 *   the alert starts (a 3 s window, smoothing over up to 4 s and k-of-n confirmation lag behind
 *   the sound), "noise" only when no event sounded in those 8 s; each per hour of that kind of
 *   audio. Screams are counted apart from speech passages.
 */
import type { StreamTimeline } from "./stream-builder.js";
import { percentile } from "./stats.js";

export interface StreamAlert {
  start_s: number;
  end_s: number;
}

export interface StreamScore {
  passages: number;
  caught: number;
  /** Onset-to-alert latency of each caught passage, seconds. */
  latencies_s: number[];
  false_alerts: number;
  non_danger_h: number;
  /** False alerts by what was sounding, and hours of each kind of non-danger audio. */
  by_source: Record<AudioSource, { false_alerts: number; hours: number }>;
  /** Per passage: caught and latency (null when missed). */
  detail: { start_s: number; end_s: number; caught: boolean; latency_s: number | null; kind: "speech" | "scream" }[];
}

export type AudioSource = "speech" | "sounds" | "noise";
const SOURCES: readonly AudioSource[] = ["speech", "sounds", "noise"];

/** How far back from an alert's start its source is looked for, seconds (window + smoothing + k of n). */
const SOURCE_WINDOW_S = 8;

/** Seconds of each kind of non-danger audio: non-danger segments by kind, the rest noise. */
function sourceHours(timeline: StreamTimeline, dangerS: number): Record<AudioSource, number> {
  let speech = 0, sounds = 0;
  for (const s of timeline.segments) {
    if (s.danger) continue;
    if (s.kind === "sound") sounds += s.end_s - s.start_s;
    else if (s.kind === "clip") speech += s.end_s - s.start_s;
  }
  const noise = Math.max(0, timeline.duration_s - dangerS - speech - sounds);
  return { speech: speech / 3600, sounds: sounds / 3600, noise: noise / 3600 };
}

/** What raised an alert starting at `t`: the kind of event covering most of the SOURCE_WINDOW_S before it, or noise. */
function sourceAt(timeline: StreamTimeline, t: number): AudioSource {
  const from = t - SOURCE_WINDOW_S;
  let speech = 0, sounds = 0;
  for (const s of timeline.segments) {
    const o = Math.min(t, s.end_s) - Math.max(from, s.start_s);
    if (o <= 0) continue;
    if (s.kind === "sound") sounds += o;
    else speech += o;
  }
  if (speech === 0 && sounds === 0) return "noise";
  return sounds > speech ? "sounds" : "speech";
}

export function scoreStream(timeline: StreamTimeline, alerts: StreamAlert[], graceS: number): StreamScore {
  const sorted = [...alerts].sort((a, b) => a.start_s - b.start_s);
  const explained = new Set<number>();
  const detail = timeline.passages.map((p) => {
    let latency: number | null = null;
    sorted.forEach((a, i) => {
      const startsIn = a.start_s >= p.start_s && a.start_s <= p.end_s + graceS;
      const onAtOnset = a.start_s < p.start_s && a.end_s >= p.start_s;
      if (startsIn) explained.add(i);
      if (latency === null && (startsIn || onAtOnset)) latency = Math.max(0, a.start_s - p.start_s);
    });
    return { start_s: p.start_s, end_s: p.end_s, caught: latency !== null, latency_s: latency, kind: p.kind ?? "speech" };
  });
  let dangerS = 0;
  // Passages with their grace, merged where they overlap, clipped to the stream.
  let lastEnd = -Infinity;
  for (const p of [...timeline.passages].sort((a, b) => a.start_s - b.start_s)) {
    const s = Math.max(p.start_s, lastEnd);
    const e = Math.min(timeline.duration_s, p.end_s + graceS);
    if (e > s) dangerS += e - s;
    lastEnd = Math.max(lastEnd, e);
  }
  const hours = sourceHours(timeline, dangerS);
  const by_source = Object.fromEntries(SOURCES.map((k) => [k, { false_alerts: 0, hours: hours[k] }])) as StreamScore["by_source"];
  sorted.forEach((a, i) => {
    if (!explained.has(i)) by_source[sourceAt(timeline, a.start_s)].false_alerts++;
  });
  return {
    passages: timeline.passages.length,
    caught: detail.filter((d) => d.caught).length,
    latencies_s: detail.flatMap((d) => (d.latency_s === null ? [] : [d.latency_s])),
    false_alerts: sorted.length - explained.size,
    non_danger_h: Math.max(0, timeline.duration_s - dangerS) / 3600,
    by_source,
    detail,
  };
}

export interface QualitySummary {
  streams: number;
  audio_h: number;
  non_danger_h: number;
  false_alerts: number;
  false_alerts_per_h: number;
  passages: number;
  caught: number;
  caught_share: number;
  onset_to_alert_s: { p50: number; p95: number };
  /** Passages and catches by passage length: a long incident should be caught more often. */
  by_length: LengthBucket[];
  /** Speech passages (angry/fear of one speaker) and screams, apart. */
  by_kind: { speech: { passages: number; caught: number }; scream: { passages: number; caught: number } };
  /** False alerts per hour of speech, of non-speech sounds and of noise only. */
  by_source: Record<AudioSource, { false_alerts: number; hours: number; per_h: number }>;
}

export interface LengthBucket {
  /** Passage length in [min_s, max_s) seconds; max_s null = no upper bound. */
  min_s: number;
  max_s: number | null;
  passages: number;
  caught: number;
}

/** Passage-length buckets, seconds: short (a shout or two), medium, long (a sustained incident). */
export const LENGTH_BUCKETS_S: readonly (readonly [number, number | null])[] = [
  [0, 5],
  [5, 8],
  [8, 15],
  [15, null],
];

function byLength(scores: readonly StreamScore[]): LengthBucket[] {
  return LENGTH_BUCKETS_S.map(([min, max]) => {
    const inBucket = scores
      .flatMap((s) => s.detail)
      .filter((d) => d.kind === "speech" && d.end_s - d.start_s >= min && (max === null || d.end_s - d.start_s < max));
    return { min_s: min, max_s: max, passages: inBucket.length, caught: inBucket.filter((d) => d.caught).length };
  });
}

/** Totals over several streams. */
export function summariseScores(scores: StreamScore[], audioS: number): QualitySummary {
  const lat = scores.flatMap((s) => s.latencies_s).sort((a, b) => a - b);
  const nonDangerH = scores.reduce((a, s) => a + s.non_danger_h, 0);
  const falseAlerts = scores.reduce((a, s) => a + s.false_alerts, 0);
  const passages = scores.reduce((a, s) => a + s.passages, 0);
  const caught = scores.reduce((a, s) => a + s.caught, 0);
  return {
    streams: scores.length,
    audio_h: audioS / 3600,
    non_danger_h: nonDangerH,
    false_alerts: falseAlerts,
    false_alerts_per_h: nonDangerH > 0 ? falseAlerts / nonDangerH : Number.NaN,
    passages,
    caught,
    caught_share: passages > 0 ? caught / passages : Number.NaN,
    onset_to_alert_s: { p50: percentile(lat, 50), p95: percentile(lat, 95) },
    by_length: byLength(scores),
    by_kind: {
      speech: kindCount(scores, "speech"),
      scream: kindCount(scores, "scream"),
    },
    by_source: Object.fromEntries(
      SOURCES.map((k) => {
        const fa = scores.reduce((a, s) => a + s.by_source[k].false_alerts, 0);
        const h = scores.reduce((a, s) => a + s.by_source[k].hours, 0);
        return [k, { false_alerts: fa, hours: h, per_h: h > 0 ? fa / h : Number.NaN }];
      }),
    ) as QualitySummary["by_source"],
  };
}

function kindCount(scores: readonly StreamScore[], kind: "speech" | "scream"): { passages: number; caught: number } {
  const d = scores.flatMap((s) => s.detail).filter((x) => x.kind === kind);
  return { passages: d.length, caught: d.filter((x) => x.caught).length };
}
