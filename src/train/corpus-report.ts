/**
 * What a model does on each corpus and on all of them pooled: the leave-one-corpus-out headline
 * (issue #10). For every clip, its corpus, its manifest label and the model's probabilities
 * averaged over the clip's windows; out come, per corpus and pooled:
 *
 *  - **danger**: ROC AUC of the danger score (summed probability of the model's danger classes)
 *    against the label's danger (angry, fear, scream — src/label-map.ts; every sound and every
 *    other emotion is a negative, whatever the model was trained on, so that every model is
 *    scored on the same clips), recall at precision ≥ 0.8, and recall/precision at score ≥ 0.5.
 *    BAVED's arousal levels are neither and are left out;
 *  - **six emotions** where labels allow: accuracy and UAR over the clips labelled with one of
 *    the papers' six emotions (labels as written, no aliases, so that every model is scored on
 *    the same clips), the guess being the most probable of the six (a `home` model's
 *    scream/sound/surprised outputs do not count). Null for a model without the six (a
 *    danger-vs-rest detector).
 */
import { classSet, isDangerLabel, labelKind, type ClassSet, type ClassSetName } from "../label-map.js";
import type { BundleMeta } from "../model/bundle.js";
import type { ManifestRow } from "./manifest.js";
import { recallAtPrecision, rocAuc } from "./metrics.js";
import { heldOutSelector, recordedSpeakers, speakerGroup } from "./splits.js";

export const SIX_EMOTIONS = ["angry", "disgust", "fear", "happy", "neutral", "sad"] as const;

export interface ScoredClip {
  corpus: string;
  label: string;
  probs: ArrayLike<number>;
}

export interface CorpusMetrics {
  files: number;
  danger_files: number;
  danger: { auc: number | null; recall_at_precision_0_8: number; recall: number; precision: number };
  emotions6: { accuracy: number; uar: number; files: number } | null;
}

export interface CorpusReport {
  pooled: CorpusMetrics;
  per_corpus: Record<string, CorpusMetrics>;
}

/**
 * The rows a bundle never trained on, by its record: rows of corpora it was never given
 * (training.corpora), and of those it left out (training.test_corpora and seed) — whole corpora,
 * or the share of one (splits.ts heldOutSelector, computed over the rows its class set keeps, as
 * the trainer did). Null when the bundle left nothing out (its test speakers are then the
 * unseen ones: --speakers test).
 */
export function heldOutRows(meta: Pick<BundleMeta, "labels" | "danger" | "training">, rows: ManifestRow[]): ((r: ManifestRow) => boolean) | null {
  const left = meta.training["test_corpora"];
  if (!Array.isArray(left) || left.length === 0) return null;
  const set = bundleClassSet(meta);
  const seed = typeof meta.training["seed"] === "number" ? meta.training["seed"] : 1;
  const sel = heldOutSelector(rows.filter((r) => set.classOf(r.label) !== null), left as string[], seed);
  const given = new Set(meta.training.corpora.map((c) => c.name));
  return (r) => !given.has(r.corpus) || sel.isTest(r);
}

/**
 * The rows a leave-corpora-out bundle validated on (training.validation_groups): never trained
 * on, not the test corpora — where detector settings are tuned before the check on the test
 * corpora. Null when the bundle records none.
 */
export function validationRows(meta: Pick<BundleMeta, "training">): ((r: ManifestRow) => boolean) | null {
  const groups = meta.training["validation_groups"];
  if (!Array.isArray(groups) || groups.length === 0) return null;
  const set = new Set(groups as string[]);
  return (r) => set.has(speakerGroup(r));
}

/**
 * The rows a bundle trained on: its corpora's rows that its record neither holds out (test
 * corpora or test speakers) nor validated on (validation groups or speakers). Tuning streams for
 * one model built from another's validation clips keep these out (bench --validation-of).
 */
export function trainedRows(meta: Pick<BundleMeta, "labels" | "danger" | "training">, rows: ManifestRow[]): (r: ManifestRow) => boolean {
  const given = new Set(meta.training.corpora.map((c) => c.name));
  const heldOut = heldOutRows(meta, rows);
  const validated = validationRows(meta);
  const kept = new Set([...(recordedSpeakers(meta.training, "test") ?? []), ...(recordedSpeakers(meta.training, "validation") ?? [])]);
  return (r) => given.has(r.corpus) && !(heldOut?.(r) ?? false) && !(validated?.(r) ?? false) && !kept.has(speakerGroup(r));
}

/** The class set a bundle was trained with (older bundles: their labels, as `emotions`). */
export function bundleClassSet(meta: Pick<BundleMeta, "labels" | "danger" | "training">): ClassSet {
  const name = (meta.training["class_set"] as ClassSetName | undefined) ?? "emotions";
  return name === "emotions" ? classSet("emotions", meta.labels, meta.danger) : classSet(name);
}

/** The emotions that are danger for reports: the model's own for an emotion model, else angry and fear. */
function dangerEmotions(set: ClassSet): string[] {
  return set.name === "emotions" ? set.danger : ["angry", "fear"];
}

/** Clips a report can score: everything but BAVED's arousal levels (neither danger nor safe). */
export function reportable(label: string): boolean {
  const kind = labelKind(label);
  return kind === "emotion" || kind === "scream" || kind === "sound";
}

/**
 * Each reportable clip's danger score and whether its label is danger, as the report scores them
 * (for the ROC and precision–recall pictures of `eval --data --plots`).
 */
export function dangerScores(all: ScoredClip[], labels: string[], set: ClassSet): { scores: number[]; positive: boolean[] } {
  const clips = all.filter((c) => reportable(c.label));
  const dangerIdx = set.danger.map((d) => labels.indexOf(d)).filter((i) => i >= 0);
  const de = dangerEmotions(set);
  return { scores: clips.map((c) => dangerIdx.reduce((a, k) => a + (c.probs[k] ?? 0), 0)), positive: clips.map((c) => isDangerLabel(c.label, de)) };
}

function metricsOf(clips: ScoredClip[], labels: string[], set: ClassSet): CorpusMetrics {
  const { scores, positive } = dangerScores(clips, labels, set);
  const nPos = positive.filter(Boolean).length;
  let tp = 0, fp = 0;
  scores.forEach((s, i) => {
    if (s < 0.5) return;
    if (positive[i]) tp++;
    else fp++;
  });
  const sixIdx = SIX_EMOTIONS.map((e) => labels.indexOf(e));
  let emotions6: CorpusMetrics["emotions6"] = null;
  if (sixIdx.every((i) => i >= 0)) {
    const recalls = SIX_EMOTIONS.map(() => ({ hit: 0, n: 0 }));
    let hit = 0, n = 0;
    for (const c of clips) {
      const truth = SIX_EMOTIONS.indexOf(c.label as (typeof SIX_EMOTIONS)[number]);
      if (truth < 0) continue;
      let best = 0;
      for (let k = 1; k < 6; k++) if ((c.probs[sixIdx[k]!] ?? 0) > (c.probs[sixIdx[best]!] ?? 0)) best = k;
      n++;
      recalls[truth]!.n++;
      if (best === truth) {
        hit++;
        recalls[truth]!.hit++;
      }
    }
    const present = recalls.filter((r) => r.n > 0);
    if (n > 0) emotions6 = { accuracy: hit / n, uar: present.reduce((a, r) => a + r.hit / r.n, 0) / present.length, files: n };
  }
  return {
    files: clips.length,
    danger_files: nPos,
    danger: {
      auc: nPos > 0 && nPos < clips.length ? rocAuc(scores, positive) : null,
      recall_at_precision_0_8: nPos > 0 ? recallAtPrecision(scores, positive, 0.8).recall : 0,
      recall: nPos > 0 ? tp / nPos : 0,
      precision: tp + fp > 0 ? tp / (tp + fp) : 0,
    },
    emotions6,
  };
}

/** Per corpus (sorted by name) and pooled. `labels` are the model's outputs, in order. */
export function corpusReport(all: ScoredClip[], labels: string[], set: ClassSet): CorpusReport {
  const clips = all.filter((c) => reportable(c.label));
  const by = new Map<string, ScoredClip[]>();
  for (const c of clips) by.set(c.corpus, [...(by.get(c.corpus) ?? []), c]);
  const per_corpus: Record<string, CorpusMetrics> = {};
  for (const name of [...by.keys()].sort()) per_corpus[name] = metricsOf(by.get(name)!, labels, set);
  return { pooled: metricsOf(clips, labels, set), per_corpus };
}

/** A fixed-width table of a report (one row per corpus, then pooled). */
export function formatCorpusReport(r: CorpusReport, title: string): string {
  const pct = (x: number): string => (x * 100).toFixed(1).padStart(5);
  const f3 = (x: number | null): string => (x === null ? "    –" : x.toFixed(3).padStart(5));
  const line = (name: string, m: CorpusMetrics): string =>
    `${name.padEnd(12)} ${String(m.files).padStart(6)} ${String(m.danger_files).padStart(6)}  ${f3(m.danger.auc)}  ${f3(m.danger.recall_at_precision_0_8)}  ` +
    (m.emotions6 ? `${pct(m.emotions6.accuracy)}  ${pct(m.emotions6.uar)}  ${String(m.emotions6.files).padStart(5)}` : "    –      –      –");
  return [
    title,
    `${"corpus".padEnd(12)} ${"files".padStart(6)} ${"danger".padStart(6)}  ${"AUC".padStart(5)}  ${"R@P.8".padStart(5)}  ${"acc6".padStart(5)}  ${"UAR6".padStart(5)}  ${"n6".padStart(5)}`,
    ...Object.entries(r.per_corpus).map(([k, m]) => line(k, m)),
    line("pooled", r.pooled),
  ].join("\n");
}
