/**
 * The detection-quality half of `earwitness bench --streams DIR...`: seeded long streams from
 * corpus directories (stream-builder.ts), each written as a WAV with its ground-truth timeline
 * beside it, run through the same pipeline `replay` runs (same config, same model, 0.5 s chunks),
 * and scored (stream-score.ts).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadAudioFile } from "../audio/load.js";
import type { Config } from "../config/schema.js";
import { buildPipeline, newRunningAdaptation, openModel, type RunnableBundle } from "../assemble/model.js";
import type { VerifiedBundle } from "../model/bundle-files.js";
import { dangerEmotionsOf } from "../label-map.js";
import { SAMPLE_RATE_HZ } from "../constants.js";
import type { ProgressStarter } from "../report/progress.js";
import { heldOutRows, trainedRows, validationRows } from "../train/corpus-report.js";
import { readCorpusDir, type ManifestRow } from "../train/manifest.js";
import { recordedSpeakers, speakerMatch } from "../train/splits.js";
import { buildHomeStream, HOME_STREAM_DEFAULTS, type HomeMix } from "./home-stream.js";
import { buildStream, DEFAULT_STREAM_OPTIONS, encodeWav16, type BuiltStream, type StreamClip, type StreamTimeline } from "./stream-builder.js";
import type { SweepTrace, TracePoint } from "./sweep.js";
import { scoreStream, summariseScores, type QualitySummary, type StreamAlert, type StreamScore } from "./stream-score.js";

export interface QualityOptions {
  corpusDirs: string[];
  noises: { name: string; samples: Float32Array }[];
  /** Streams are written here (never into the repository). */
  workDir: string;
  config: Config;
  /** The speech model as the daemon loads it (loadBundleForEngine); runQuality disposes it. */
  bundle: RunnableBundle;
  streamsPerDir: number;
  streamSeconds: number;
  seed: number;
  /** Only these speakers' clips (held-out speakers), or all when null. */
  speakers: Set<string> | null;
  /**
   * Only the clips this bundle's record says were never trained on (`--held-out`, `--held-out-of`;
   * corpus-report.ts heldOutRows), or all when null.
   */
  heldOutOf: Pick<VerifiedBundle["meta"], "labels" | "danger" | "training"> | null;
  /** Only the clips this bundle's record validated on (`--validation-of`, for tuning), or all when null. */
  validationOf: Pick<VerifiedBundle["meta"], "training"> | null;
  /**
   * Never the clips this bundle's record held out (`--except-held-out-of`): tuning streams built
   * from folds keep out every recording the final check holds out. Null: nothing kept out.
   */
  exceptHeldOutOf?: Pick<VerifiedBundle["meta"], "labels" | "danger" | "training"> | null;
  /**
   * Refuse (throw) when a stream would hold a clip the speech model trained on (`--fold`: a fold's
   * streams stand for corpora the unit never heard; the fold's own model is a stranger to them by
   * heldOutOf already).
   */
  refuseHeardBySpeech?: boolean;
  /** Throw when the configured scream branch cannot run (`--fold`: a fold without it tunes nothing). */
  requireScreams?: boolean;
  /** Recordings to score with the same models, for the sweep's acceptance check (`--sweep-acceptance`). */
  acceptance?: { name: string; samples: Float32Array }[];
  /** Prefix of the per-corpus names (`--fold`: which fold a stream came from). */
  label?: string;
  /**
   * `per-corpus`: speech streams, one set per directory (stream-builder.ts); `home` / `sounds`:
   * streams mixing every directory's clips (home-stream.ts), `streamsPerDir` of them;
   * `home+sounds`: both, `streamsPerDir` home streams and half as many (rounded up) sound streams
   * — the held-out checks' proportion (6 and 3), to tune on what the checks measure.
   */
  mix: "per-corpus" | HomeMix | "home+sounds";
  /** Seconds after a passage's end in which an alert still counts as catching it. */
  graceS: number;
  log: (msg: string) => void;
  /** Progress over the streams' audio, window by window (src/report/progress.ts). */
  progress?: ProgressStarter;
}

export interface StreamReport {
  corpus: string;
  wav: string;
  timeline: string;
  duration_s: number;
  alerts: StreamAlert[];
  score: Omit<StreamScore, "detail">;
}

export interface QualityResults {
  summary: QualitySummary;
  per_corpus: Record<string, QualitySummary>;
  streams: StreamReport[];
  grace_s: number;
  speakers: string[] | null;
  /** Whether each stream's pipeline adapted to what it heard (config adaptation.enabled). */
  adaptation: boolean;
  /** Per stream, the window times and raw danger scores (for --sweep; not written to results). */
  traces: SweepTrace[];
  /** Per stream, its score with every passage's detail (for mergeQuality; not written to results). */
  scores: StreamScore[];
  /** The acceptance recordings' windows, scored by the same models (for --sweep; not written to results). */
  acceptance?: { name: string; points: TracePoint[] }[];
}

/**
 * Several runs' streams as one result (`bench --fold`: each fold's streams, swept together):
 * their streams and traces in order, the summary over all of them, per-corpus figures as each
 * run labelled them.
 */
export function mergeQuality(parts: QualityResults[]): QualityResults {
  if (parts.length === 0) throw new Error("mergeQuality: no results to merge");
  const scores = parts.flatMap((p) => p.scores);
  const seconds = parts.reduce((a, p) => a + p.streams.reduce((b, s) => b + s.duration_s, 0), 0);
  const speakers = parts.some((p) => p.speakers) ? [...new Set(parts.flatMap((p) => p.speakers ?? []))].sort() : null;
  return {
    summary: summariseScores(scores, seconds),
    per_corpus: Object.assign({}, ...parts.map((p) => p.per_corpus)) as Record<string, QualitySummary>,
    streams: parts.flatMap((p) => p.streams),
    grace_s: parts[0]!.grace_s,
    speakers,
    adaptation: parts.some((p) => p.adaptation),
    traces: parts.flatMap((p) => p.traces),
    scores,
  };
}

/**
 * Runs `samples` through the replay pipeline; returns the alerts (start/end, seconds) and each
 * window's time and raw danger score (what a sweep replays with other settings).
 */
export function alertsOf(
  config: Config,
  model: Parameters<typeof buildPipeline>[1],
  samples: Float32Array,
  adaptation: Parameters<typeof buildPipeline>[3] = null,
  /** Called after each 0.5 s chunk with the seconds of audio run so far. */
  onSeconds?: (seconds: number) => void,
): { alerts: StreamAlert[]; points: TracePoint[] } {
  const pipeline = buildPipeline(config, model, 0, adaptation);
  const alerts: StreamAlert[] = [];
  const points: TracePoint[] = [];
  const open: number[] = [];
  let lastT = 0;
  const chunk = 8000;
  const onEvents = (events: { type: string; startMs: number; endMs?: number }[]): void => {
    for (const e of events) {
      if (e.type === "alert_start") open.push(e.startMs);
      else if (e.type === "alert_end") {
        open.pop();
        alerts.push({ start_s: e.startMs / 1000, end_s: (e.endMs ?? e.startMs) / 1000 });
      }
    }
  };
  for (let i = 0; i < samples.length; i += chunk) {
    for (const r of pipeline.process(samples.subarray(i, i + chunk))) {
      onEvents(r.events);
      points.push(r.screams ? { tMs: r.tMs, danger: r.danger, scream: r.screams.danger } : { tMs: r.tMs, danger: r.danger });
      lastT = r.tMs;
    }
    onSeconds?.(Math.min(samples.length, i + chunk) / SAMPLE_RATE_HZ);
  }
  onEvents(pipeline.reset(lastT));
  return { alerts, points };
}

export async function runQuality(o: QualityOptions): Promise<QualityResults> {
  // The daemon's engine and scream branch (detect.screams), as the daemon would run them.
  const made = await openModel(o.config, o.bundle);
  if (made.screamProblem) {
    if (o.requireScreams) {
      made.dispose();
      throw new Error(made.screamProblem);
    }
    o.log(made.screamProblem);
  }
  // The emotions that are danger in the streams: what the configured danger classes stand for
  // (a danger-vs-rest model's "danger" class stands for angry and fear; screams always are).
  const dangerLabels = dangerEmotionsOf(o.config.detect.danger.labels as string[]);
  const reports: StreamReport[] = [];
  const traces: SweepTrace[] = [];
  const scores = new Map<string, { scores: StreamScore[]; seconds: number }>();
  const streamScores: StreamScore[] = [];
  await mkdir(o.workDir, { recursive: true });
  const cache = new Map<string, Float32Array>();
  const load = async (c: { file: string }): Promise<Float32Array> => {
    let s = cache.get(c.file);
    if (!s) {
      s = await loadAudioFile(c.file);
      // Clips recur across passages and streams; keep a bounded set decoded.
      if (cache.size > 2000) cache.clear();
      cache.set(c.file, s);
    }
    return s;
  };
  // Per corpus, or one group holding every directory's clips per mixed recipe.
  const groups: { name: string; clips: StreamClip[]; recipe: HomeMix | null; count: number }[] = [];
  const pooled: StreamClip[] = [];
  for (const dir of o.corpusDirs) {
    const allRows: ManifestRow[] = await readCorpusDir(dir);
    let rows = allRows;
    const name = path.basename(path.resolve(dir));
    const corpus = o.label ? `${o.label}/${name}` : name;
    if (o.heldOutOf) {
      const isHeldOut = heldOutRows(o.heldOutOf, allRows);
      rows = isHeldOut ? rows.filter(isHeldOut) : [];
      if (rows.length === 0) {
        o.log(`${corpus}: the model trained on it (not one of its left-out corpora); skipped`);
        continue;
      }
    }
    if (o.validationOf) {
      const isVal = validationRows(o.validationOf);
      rows = isVal ? rows.filter(isVal) : [];
      if (rows.length === 0) {
        o.log(`${corpus}: no validation clips of the model there; skipped`);
        continue;
      }
      // The tuning streams are new to every model that scores them: a speech model of another
      // split (say one trained on CREMA-D's other actors) may have trained on some of the scream
      // model's validation clips, and would look quieter on them than on any stranger.
      const trained = trainedRows(o.bundle.meta, allRows);
      const before = rows.length;
      rows = rows.filter((r) => !trained(r));
      if (rows.length < before) o.log(`${corpus}: ${before - rows.length} of its validation clips trained the speech model ${o.bundle.dir}; left out of the tuning streams`);
      if (rows.length === 0) {
        o.log(`${corpus}: every validation clip of the model there trained the speech model; skipped`);
        continue;
      }
    }
    if (o.exceptHeldOutOf) {
      // Over the whole corpus: a share of its groups is drawn from all of them (splits.ts).
      const isHeldOut = heldOutRows(o.exceptHeldOutOf, allRows);
      if (isHeldOut) rows = rows.filter((r) => !isHeldOut(r));
      if (rows.length === 0) {
        o.log(`${corpus}: every clip is one the final check holds out (--except-held-out-of); skipped`);
        continue;
      }
    }
    // A speaker filter applies to corpora with speakers; sound corpora have none to filter.
    if (o.speakers && rows.some((r) => r.speaker !== null)) rows = rows.filter((r) => speakerMatch(o.speakers!, r) !== null);
    if (o.refuseHeardBySpeech) {
      const heard = heardRows(o.bundle.meta, allRows, rows);
      if (heard > 0) throw new Error(`${corpus}: ${heard} of these clips trained the speech model ${o.bundle.dir} (its training.corpora holds ${name} and its record does not hold them out); streams for tuning on folds must be new to every model that scores them`);
    }
    if (rows.length === 0) {
      o.log(`${corpus}: no clips left after the speaker filter; skipped`);
      continue;
    }
    // Clips are qualified by corpus so that two corpora's speaker "01" stay two people.
    const clips = rows.map((r) => ({ file: r.file, label: r.label, speaker: r.speaker === null ? null : `${name}/${r.speaker}` }));
    if (o.mix === "per-corpus") groups.push({ name: corpus, clips, recipe: null, count: o.streamsPerDir });
    else pooled.push(...clips);
  }
  if (o.mix !== "per-corpus" && pooled.length > 0) {
    for (const recipe of o.mix === "home+sounds" ? (["home", "sounds"] as const) : [o.mix]) {
      const count = recipe === "sounds" && o.mix === "home+sounds" ? Math.ceil(o.streamsPerDir / 2) : o.streamsPerDir;
      groups.push({ name: o.label ? `${o.label}/${recipe}` : recipe, clips: pooled, recipe, count });
    }
  }
  const total = groups.reduce((a, g) => a + g.count, 0);
  let done = 0;
  // Progress in seconds of stream audio run through the pipeline (streams are about streamSeconds long).
  const task = o.progress?.start("streams", total * o.streamSeconds, "s of audio");
  for (const { name: corpus, clips, recipe, count } of groups) {
    for (let k = 0; k < count; k++) {
      const detail = `${corpus} stream ${k + 1}/${count} (${done + 1}/${total})`;
      task?.update(done * o.streamSeconds, `${detail}, building`);
      const seed = o.seed * 1000 + k;
      const built: BuiltStream =
        recipe === null
          ? await buildStream(clips, load, o.noises, { ...DEFAULT_STREAM_OPTIONS, durationS: o.streamSeconds, seed, dangerLabels })
          : await buildHomeStream(clips, load, o.noises, { ...HOME_STREAM_DEFAULTS[recipe], durationS: o.streamSeconds, seed, dangerLabels });
      const base = path.join(o.workDir, `${corpus.replaceAll("/", "-")}-stream-${seed}`);
      await writeFile(`${base}.wav`, encodeWav16(built.samples));
      await writeFile(`${base}.json`, JSON.stringify(built.timeline, null, 1) + "\n");
      // A fresh unit's adaptation per stream, in memory (never saved), as `run` would start cold.
      const before = done * o.streamSeconds;
      const { alerts, points } = alertsOf(o.config, made, built.samples, newRunningAdaptation(o.config, o.bundle), (s) =>
        task?.update(before + Math.min(s, o.streamSeconds), detail),
      );
      traces.push({ timeline: built.timeline as StreamTimeline, points });
      const score = scoreStream(built.timeline as StreamTimeline, alerts, o.graceS);
      streamScores.push(score);
      const entry = scores.get(corpus) ?? { scores: [], seconds: 0 };
      entry.scores.push(score);
      entry.seconds += built.timeline.duration_s;
      scores.set(corpus, entry);
      const { detail: _detail, ...rest } = score;
      reports.push({ corpus, wav: `${base}.wav`, timeline: `${base}.json`, duration_s: built.timeline.duration_s, alerts, score: rest });
      o.log(`${corpus} stream ${seed}: ${score.caught}/${score.passages} passages caught, ${score.false_alerts} false alert(s) in ${(score.non_danger_h * 60).toFixed(1)} min of non-danger audio`);
      done++;
    }
  }
  task?.finish();
  // A fresh unit per recording, as a stream starts (adaptation in memory, never saved).
  const acceptance = (o.acceptance ?? []).map((a) => ({ name: a.name, points: alertsOf(o.config, made, a.samples, newRunningAdaptation(o.config, o.bundle)).points }));
  made.dispose();
  const all = [...scores.values()];
  return {
    summary: summariseScores(all.flatMap((e) => e.scores), all.reduce((a, e) => a + e.seconds, 0)),
    per_corpus: Object.fromEntries([...scores].map(([c, e]) => [c, summariseScores(e.scores, e.seconds)])),
    streams: reports,
    grace_s: o.graceS,
    speakers: o.speakers ? [...o.speakers].sort() : null,
    adaptation: newRunningAdaptation(o.config, o.bundle) !== null,
    traces,
    scores: streamScores,
    ...(acceptance.length > 0 ? { acceptance } : {}),
  };
}

/**
 * How many of `rows` (some of the corpus `all`) a bundle trained or validated on: its corpora's
 * rows that its record does not hold out.
 */
function heardRows(meta: Pick<VerifiedBundle["meta"], "labels" | "danger" | "training">, all: ManifestRow[], rows: ManifestRow[]): number {
  const given = new Set(meta.training.corpora.map((c) => c.name));
  const isHeldOut = heldOutRows(meta, all);
  return rows.filter((r) => given.has(r.corpus) && !(isHeldOut?.(r) ?? false)).length;
}

/** The held-out (test) speakers a bundle's training record names (train/splits.ts recordedSpeakers). */
export function testSpeakersOf(bundle: VerifiedBundle): string[] | null {
  return recordedSpeakers(bundle.meta.training, "test");
}

/**
 * The validation speakers a bundle records: never trained on, never tested on — the speakers to
 * tune detection settings on before checking them on the test speakers.
 */
export function validationSpeakersOf(bundle: VerifiedBundle): string[] | null {
  return recordedSpeakers(bundle.meta.training, "validation");
}
