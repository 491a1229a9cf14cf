import { Resampler } from "../audio/resample.js";
import { describeError } from "../errors.js";
import type { AdaptedStats } from "../features/normalise.js";
import { CLIP_HOP_MS, staticDims, stepsPer } from "../features/spec.js";
import type { Logger } from "../log.js";
import { selectBackend } from "../model/backend.js";
import { labelKind } from "../label-map.js";
import { loadBundle, verifyBundleFiles, type LoadedBundle } from "../model/bundle.js";
import { meanProbs } from "../model/classifier.js";
import { createClassifier } from "../assemble/model.js";
import { recordedSpeakers, speakerMatch } from "../train/splits.js";
import { DEFAULT_AUGMENT } from "../train/augment.js";
import { sliceWindow, windowStarts } from "../train/dataset.js";
import { computeClip, extractCorpus, FEATURE_SEED, type ClipFeatures } from "../train/feature-cache.js";
import { readCorpusDir, readManifest, type ManifestRow } from "../train/manifest.js";
import type { ScoredSet } from "../report/charts.js";
import { evalPlots } from "../report/run-plots.js";
import { writePictures } from "./pictures.js";
import { bundleClassSet, corpusReport, dangerScores, formatCorpusReport, heldOutRows, reportable, type ScoredClip } from "../train/corpus-report.js";
import { evaluatePredictions, formatClassificationReport, formatConfusion, recallAtPrecision, type EvalReport } from "../train/metrics.js";
import type { Progress } from "../report/progress.js";
import { parse, UsageError } from "./args.js";
import { shippedModelDir } from "../assemble/paths.js";
import { defaultCacheDir } from "./corpus-options.js";

export const EVAL_HELP = `earwitness eval — measure a model bundle on labelled recordings

  --model DIR        model bundle (default: the shipped model)
  --manifest CSV     columns path,label[,speaker]; labels from the shared vocabulary
  --data DIR         a corpus directory with manifest.csv (repeatable; speech and sound corpora,
                     any label of src/label-map.ts): reports per corpus and pooled, unadapted
                     and adapted (per speaker) — danger AUC and recall at precision ≥ 0.8 over
                     every clip (sounds are negatives), six-emotion accuracy and UAR over the
                     clips labelled with one of the six. Features come from the feature cache
                     (--cache, as train fills it). With --held-out, only the corpora the bundle
                     left out of training (training.test_corpora) are scored.
  --held-out         with --data: score only the bundle's left-out corpora
  --held-out-of DIR  with --data: score only what the bundle in DIR left out (to score a model,
                     e.g. the shipped one, on another run's held-out split)
  --cache DIR        feature cache for --data (default ~/.cache/earwitness/features)
  --root DIR         base for relative paths (default: the manifest's folder); its folder name
                     is the rows' corpus, as in training
  --speakers WHICH   only the rows of these speakers:
                       test        the bundle's held-out test speakers (training.split)
                       validation  the bundle's validation speakers (training.split)
                       LIST        comma-separated ids as in the speaker column (1001,1007),
                                   or corpus-qualified as training records them (crema-d/1001)
                     Recorded speakers are matched as <corpus>/<speaker>, the corpus being the
                     manifest's folder (or --root's) name. How many rows were kept is printed.
  --adapt speaker    also report with per-speaker adaptation: each clip normalised with the
                     statistics of its speaker's other clips (labels unused), as a unit adapts
                     to its wearer over hours; needs the speaker column
  --plots DIR        also draw pictures into DIR (SVG, open them in a browser):
                       confusion.svg      the confusion matrix (with --manifest; with --data, of
                                          the clips labelled with one of the model's classes)
                       danger-roc-pr.svg  danger-vs-rest ROC and precision–recall curves,
                                          unadapted and (with adaptation) adapted
  --json             one JSON object on stdout (messages go to stderr):
                       accuracy, macro_recall        fractions of 1 (macro_recall = UAR)
                       per_class    {<label>: {precision, recall, f1, support}}, one per model label
                       confusion    {labels: [...], matrix: [[...]]}, rows truth, columns guess;
                                    the matrix sums to files
                       danger       {recall, precision, threshold} at danger score >= threshold
                                    (0.5; the score is the summed danger labels' probability),
                                    auc (ROC AUC; null when one side is empty),
                                    recall_at_precision_0_8
                       skipped      rows not scored: label not among the model's labels, or
                                    unreadable file
                       files        rows scored
                       speakers     {selection, ids, rows_kept} with --speakers, else null
                       adapted      with --adapt speaker: the same keys (but speakers/adapted)
                                    with per-speaker adaptation

Clips shorter than one window are padded with faint noise seeded by the file's manifest path
(as training does), so a file scores the same wherever it is in the manifest.
`;

interface Scored {
  truth: number;
  probs: Float32Array;
}

/** What --speakers kept, for the report. */
export interface SpeakerSelection {
  /** "test", "validation" or "list". */
  selection: string;
  ids: string[];
  rows_kept: number;
}

/**
 * The rows of the speakers `which` names (see EVAL_HELP). Throws a UsageError when the bundle
 * records no such split or nothing matches, since a report on zero rows would read as a result.
 */
export function selectSpeakers(
  rows: ManifestRow[],
  which: string,
  bundle: LoadedBundle,
  warn: (msg: string) => void,
): { rows: ManifestRow[]; selection: SpeakerSelection } {
  let ids: string[];
  let selection: string;
  if (which === "test" || which === "validation") {
    const recorded = recordedSpeakers(bundle.meta.training, which);
    if (!recorded) {
      throw new UsageError(
        `--speakers ${which}: bundle ${bundle.meta.name} ${bundle.meta.version} records no ${which} speakers in training.split ` +
          `(a bundle trained with the random protocol, or by hand, has none); list the speakers instead: --speakers ID,ID,…`,
      );
    }
    ids = recorded;
    selection = which;
  } else {
    ids = which.split(",").map((s) => s.trim()).filter(Boolean);
    if (ids.length === 0) throw new UsageError(`--speakers takes test, validation or a comma-separated list of speaker ids (got "${which}")`);
    selection = "list";
  }
  const wanted = new Set(ids);
  const matched = new Set<string>();
  const kept = rows.filter((r) => {
    const m = speakerMatch(wanted, r);
    if (m !== null) matched.add(m);
    return m !== null;
  });
  if (kept.length === 0) {
    const manifestSpeakers = [...new Set(rows.map((r) => r.speaker).filter((s): s is string => s !== null))];
    const corpora = [...new Set(rows.map((r) => r.corpus))];
    const why =
      manifestSpeakers.length === 0
        ? "the manifest has no speaker column (or it is empty)"
        : `the manifest's speakers are ${manifestSpeakers.slice(0, 8).join(" ")}${manifestSpeakers.length > 8 ? " …" : ""} ` +
          `in corpus ${corpora.join(", ")} (the manifest's folder name, or --root's); ids recorded as corpus/speaker match only ` +
          `when that folder is named as it was in training`;
    throw new UsageError(`--speakers ${which}: none of ${ids.slice(0, 8).join(" ")}${ids.length > 8 ? " …" : ""} is in the manifest: ${why}`);
  }
  const missing = ids.filter((id) => !matched.has(id));
  if (missing.length > 0) {
    warn(`${missing.length} of ${ids.length} selected speakers have no rows in this manifest: ${missing.slice(0, 8).join(" ")}${missing.length > 8 ? " …" : ""}`);
  }
  return { rows: kept, selection: { selection, ids: [...matched].sort(), rows_kept: kept.length } };
}

/** Variant 0 (the clean clip) is never augmented; computeClip only reads this for other variants. */
const NO_AUGMENT = { ...DEFAULT_AUGMENT, noises: [] };

export async function evalCommand(argv: string[], _log: Logger, progress: Progress): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: "string" },
    manifest: { type: "string" },
    root: { type: "string" },
    speakers: { type: "string" },
    adapt: { type: "string" },
    data: { type: "string", multiple: true },
    "held-out": { type: "boolean", default: false },
    "held-out-of": { type: "string" },
    cache: { type: "string" },
    json: { type: "boolean", default: false },
    plots: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const dataDirs = (v.data as string[] | undefined) ?? [];
  if (dataDirs.length > 0) {
    if (v.manifest || v.speakers !== undefined || v.adapt !== undefined) {
      throw new UsageError("--data reports per corpus, unadapted and adapted; it does not combine with --manifest, --speakers or --adapt");
    }
    const heldOutOf = v["held-out-of"] as string | undefined;
    const splitDir = heldOutOf ?? (v["held-out"] ? ((v.model as string | undefined) ?? shippedModelDir()) : null);
    return evalCorpora(dataDirs, v.model as string | undefined, splitDir, (v.cache as string | undefined) ?? defaultCacheDir(), v.json === true, _log, progress, (v.plots as string | undefined) ?? null);
  }
  if (!v.manifest) throw new UsageError("--manifest CSV or --data DIR is required");
  if (v.adapt !== undefined && v.adapt !== "speaker") throw new UsageError(`--adapt takes only "speaker" (got ${String(v.adapt)})`);
  // Messages go to stderr as plain lines: stdout carries the report (one JSON object with --json),
  // and the logger writes its JSON lines to stdout.
  const say = (msg: string): void => progress.say(msg);
  const warn = (msg: string): void => say(`earwitness eval: warning: ${msg}`);
  await selectBackend();
  const bundle = await loadBundle((v.model as string | undefined) ?? shippedModelDir());
  const { meta } = bundle;
  const spec = meta.features;
  const allRows = await readManifest(String(v.manifest), v.root as string | undefined);
  let rows = allRows;
  let speakers: SpeakerSelection | null = null;
  if (v.speakers !== undefined) {
    ({ rows, selection: speakers } = selectSpeakers(allRows, String(v.speakers), bundle, warn));
    say(`--speakers ${String(v.speakers)}: kept ${rows.length} of ${allRows.length} rows (${speakers.ids.length} speakers: ${speakers.ids.slice(0, 12).join(" ")}${speakers.ids.length > 12 ? " …" : ""})`);
  }
  const labelIndex = new Map(meta.labels.map((l, i) => [l, i]));
  const usable = rows.filter((r) => labelIndex.has(r.label));
  if (v.adapt === "speaker") {
    const withSpeaker = usable.filter((r) => r.speaker !== null).length;
    if (withSpeaker === 0) {
      warn(
        "--adapt speaker: the manifest has no speaker column (or it is empty), so no clip has other clips of its speaker " +
          "to adapt to; the adapted figures equal the unadapted ones. Add a speaker column to measure adaptation.",
      );
    } else if (withSpeaker < usable.length) {
      warn(`--adapt speaker: ${usable.length - withSpeaker} of ${usable.length} rows have no speaker; they are scored unadapted`);
    }
    if (spec.norm !== "speaker") warn(`--adapt speaker: this bundle normalises per ${spec.norm}, so speaker adaptation does not change its input`);
  }
  // The lean engine for recurrent bundles (same outputs within 1e-4, ~7x faster), tfjs otherwise.
  const { classifier: clf, dispose } = await createClassifier(bundle);
  let skipped = rows.length - usable.length;
  const unreadable: string[] = [];
  const clips: ClipFeatures[] = [];
  const featureTask = progress.start("features", usable.length, "clips");
  const t0 = performance.now();
  const resampler = new Resampler();
  for (const [i, row] of usable.entries()) {
    try {
      // The clean copy exactly as training extracts it (padding noise seeded by the file).
      const data = await computeClip(row, spec, 0, { seed: FEATURE_SEED, augment: NO_AUGMENT }, resampler);
      clips.push({ row, variant: 0, steps: data.length / staticDims(spec), data });
    } catch (err) {
      skipped++;
      unreadable.push(`${row.file}: ${describeError(err)}`);
    }
    featureTask.update(i + 1);
  }
  featureTask.finish();
  resampler.close();
  for (const u of unreadable.slice(0, 10)) warn(`skipped ${u}`);
  if (unreadable.length > 10) warn(`… and ${unreadable.length - 10} more unreadable files`);

  const hop = stepsPer(spec, CLIP_HOP_MS);
  const scoreTask = progress.start("eval", clips.length * (v.adapt === "speaker" ? 2 : 1), "clips");
  let scored = 0;
  const score = (adaptedOf: (c: ClipFeatures, i: number) => AdaptedStats | null): Scored[] =>
    clips.map((c, i) => {
      const wins = windowStarts(c.steps, spec.windowSteps, hop).map((s) => sliceWindow(spec, c, s));
      const probs = meanProbs(clf.predict(wins, adaptedOf(c, i)));
      scoreTask.update(++scored);
      return { truth: labelIndex.get(c.row.label)!, probs };
    });
  const plain = score(() => null);
  const report = (scored: Scored[]): EvalReport & { danger: EvalReport["danger"] & { recall_at_precision_0_8: number } } => {
    const r = evaluatePredictions(meta.labels, scored, meta.danger, 0.5, skipped);
    const dIdx = meta.danger.map((d) => labelIndex.get(d)!);
    const scores = scored.map((s) => dIdx.reduce((a, k) => a + s.probs[k]!, 0));
    const pos = scored.map((s) => dIdx.includes(s.truth));
    return { ...r, danger: { ...r.danger, recall_at_precision_0_8: recallAtPrecision(scores, pos, 0.8).recall } };
  };
  const base = report(plain);
  let adapted: ReturnType<typeof report> | null = null;
  let adaptedScored: Scored[] | null = null;
  if (v.adapt === "speaker") {
    // Leave-one-out speaker statistics: a clip never informs its own normalisation.
    const S = staticDims(spec);
    const bySpeaker = new Map<string, number[]>();
    clips.forEach((c, i) => {
      const k = c.row.speaker ?? `file:${c.row.file}`;
      bySpeaker.set(k, [...(bySpeaker.get(k) ?? []), i]);
    });
    const loo = leaveOneOutStats(S, clips.map((c) => c.data), bySpeaker);
    adaptedScored = score((_c, i) => loo(i));
    adapted = report(adaptedScored);
  }
  scoreTask.finish();
  const seconds = (performance.now() - t0) / 1000;
  dispose();
  if (v.plots) {
    const dIdx = meta.danger.map((d) => labelIndex.get(d)!);
    const set = (name: string, scored: Scored[], auc: number): ScoredSet => ({
      name,
      scores: scored.map((s) => dIdx.reduce((a, k) => a + s.probs[k]!, 0)),
      positive: scored.map((s) => dIdx.includes(s.truth)),
      auc,
    });
    const sets = [set("unadapted", plain, base.danger.auc), ...(adapted && adaptedScored ? [set("adapted", adaptedScored, adapted.danger.auc)] : [])];
    const written = await writePictures(String(v.plots), evalPlots(`${meta.name} ${meta.version}, ${base.files} files`, base.confusion, sets));
    say(`pictures: ${written.join(", ")}`);
  }
  if (v.json) {
    process.stdout.write(JSON.stringify({ ...base, speakers, ...(adapted ? { adapted } : {}) }) + "\n");
    return 0;
  }
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
  const lines = [
    `model ${meta.name} ${meta.version} (${meta.architecture.arch}), ${base.files} files scored, ${base.skipped} skipped, ${seconds.toFixed(1)} s` +
      (speakers ? `; ${speakers.selection === "list" ? "listed" : speakers.selection} speakers only (${speakers.ids.length})` : ""),
    "",
    formatClassificationReport(base),
    "",
    formatConfusion(base),
    "",
    `accuracy ${pct(base.accuracy)}   macro recall (UAR) ${pct(base.macro_recall)}`,
    `danger (${meta.danger.join("+")}) vs rest: recall ${base.danger.recall.toFixed(3)} precision ${base.danger.precision.toFixed(3)} at score ≥ 0.5; AUC ${base.danger.auc.toFixed(3)}; recall at precision ≥ 0.8: ${base.danger.recall_at_precision_0_8.toFixed(3)}`,
  ];
  if (adapted) {
    lines.push(
      `with speaker adaptation: accuracy ${pct(adapted.accuracy)}   macro recall ${pct(adapted.macro_recall)}   danger recall ${adapted.danger.recall.toFixed(3)} precision ${adapted.danger.precision.toFixed(3)} AUC ${adapted.danger.auc.toFixed(3)}`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

/**
 * `eval --data DIR…`: every reportable clip of the corpora (src/train/corpus-report.ts), scored
 * unadapted and adapted (each clip normalised with its speaker's other clips, leave-one-out, as
 * above; clips without a speaker stay unadapted), reported per corpus and pooled.
 */
async function evalCorpora(
  dirs: string[],
  modelDir: string | undefined,
  splitDir: string | null,
  cacheDir: string,
  json: boolean,
  log: Logger,
  progress: Progress,
  plotsDir: string | null,
): Promise<number> {
  await selectBackend();
  const bundle = await loadBundle(modelDir ?? shippedModelDir());
  const { meta } = bundle;
  const spec = meta.features;
  const splitMeta = splitDir ? (await verifyBundleFiles(splitDir)).meta : meta;
  const heldOut = splitDir !== null;
  const left = Array.isArray(splitMeta.training["test_corpora"]) ? (splitMeta.training["test_corpora"] as string[]) : [];
  let rows: ManifestRow[] = [];
  for (const dir of dirs) rows.push(...(await readCorpusDir(dir)));
  const isHeldOut = heldOutRows(splitMeta, rows);
  // Rows the scored model itself trained on (its own record, over all rows as its trainer saw them).
  const ownHeldOut = heldOutRows(meta, rows);
  if (heldOut && !isHeldOut) {
    throw new UsageError(`--held-out: bundle ${splitMeta.name} ${splitMeta.version} left no corpus out of training (training.test_corpora is empty)`);
  }
  rows = rows.filter((r) => reportable(r.label) && (!heldOut || isHeldOut!(r)));
  if (rows.length === 0) throw new UsageError(`no clips to score${heldOut ? ` in the held-out corpora ${left.join(", ")}` : ""}`);
  const trained = new Set(meta.training.corpora.map((c) => c.name));
  const seen = [...new Set(rows.filter((r) => trained.has(r.corpus) && !ownHeldOut?.(r)).map((r) => r.corpus))];
  if (seen.length > 0) progress.say(`earwitness eval: warning: ${meta.name} was trained on ${seen.join(", ")}: those rows are not unseen corpora`);
  const featureTask = progress.start("features", rows.length, "clips");
  const t0 = performance.now();
  const { clips, skipped } = await extractCorpus(rows, spec, {
    cacheDir,
    augmentedCopies: 0,
    augment: NO_AUGMENT,
    seed: FEATURE_SEED,
    log,
    onProgress: (d, t) => featureTask.update(d, undefined, t),
  });
  featureTask.finish();
  const { classifier: clf, dispose } = await createClassifier(bundle);
  const set = bundleClassSet(meta);
  const hop = stepsPer(spec, CLIP_HOP_MS);
  const S = staticDims(spec);
  const bySpeaker = new Map<string, number[]>();
  clips.forEach((c, i) => {
    if (!c.row.speaker) return;
    const k = `${c.row.corpus}/${c.row.speaker}`;
    bySpeaker.set(k, [...(bySpeaker.get(k) ?? []), i]);
  });
  const looStats = leaveOneOutStats(S, clips.map((c) => c.data), bySpeaker);
  const scoreTask = progress.start("eval", 2 * clips.length, "clips");
  let scored = 0;
  const score = (adapt: boolean): ScoredClip[] =>
    clips.map((c, i) => {
      scoreTask.update(++scored, adapt ? "adapted" : "unadapted");
      // Speech is adapted to its speaker; sounds and screams have no wearer (as in training).
      const speech = labelKind(c.row.label) === "emotion" || labelKind(c.row.label) === "arousal";
      const adapted: AdaptedStats | null = adapt && c.row.speaker && speech ? looStats(i) : null;
      const wins = windowStarts(c.steps, spec.windowSteps, hop).map((st) => sliceWindow(spec, c, st));
      return { corpus: c.row.corpus, label: c.row.label, probs: meanProbs(clf.predict(wins, adapted)) };
    });
  const scoredPlain = score(false);
  const scoredAdapted = score(true);
  const unadapted = corpusReport(scoredPlain, meta.labels, set);
  const adapted = corpusReport(scoredAdapted, meta.labels, set);
  scoreTask.finish();
  dispose();
  if (plotsDir) {
    const sets: ScoredSet[] = [
      { name: "unadapted", ...dangerScores(scoredPlain, meta.labels, set), auc: unadapted.pooled.danger.auc },
      { name: "adapted", ...dangerScores(scoredAdapted, meta.labels, set), auc: adapted.pooled.danger.auc },
    ];
    // The confusion matrix of the clips whose label is one of the model's classes (unadapted).
    const own = scoredPlain.filter((c) => meta.labels.includes(c.label));
    const confusion = own.length > 0 ? evaluatePredictions(meta.labels, own.map((c) => ({ truth: meta.labels.indexOf(c.label), probs: c.probs })), meta.danger).confusion : null;
    const written = await writePictures(plotsDir, evalPlots(`${meta.name} ${meta.version} on ${[...new Set(clips.map((c) => c.row.corpus))].join(", ")}`, confusion, sets));
    progress.say(`pictures: ${written.join(", ")}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (json) {
    process.stdout.write(JSON.stringify({ model: { name: meta.name, version: meta.version, arch: meta.architecture.arch, class_set: set.name }, held_out: heldOut ? left : null, skipped: skipped.length, unadapted, adapted }) + "\n");
    return 0;
  }
  process.stdout.write(
    [
      `model ${meta.name} ${meta.version} (${meta.architecture.arch}, classes ${set.name}: ${meta.labels.join(" ")}; danger ${set.danger.join("+")}), ${clips.length} clips, ${skipped.length} skipped, ${seconds.toFixed(0)} s`,
      "",
      formatCorpusReport(unadapted, "unadapted (a fresh unit)"),
      "",
      formatCorpusReport(adapted, "adapted (each clip normalised with its speaker's other clips)"),
      "",
      "AUC: danger (angry, fear, scream) vs every other clip; R@P.8: danger recall at precision ≥ 0.8; acc6/UAR6 over n6 clips labelled with one of the six emotions.",
    ].join("\n") + "\n",
  );
  return 0;
}

/**
 * Leave-one-out statistics of each clip's speaker: the mean and standard deviation of every
 * static feature over the steps of the speaker's *other* clips (null when it has none), from
 * per-speaker sums computed once — recomputing them per clip was quadratic in a speaker's clips
 * (emospeech's 5 709 clips under one id took minutes). Matches statsOfSteps (sample standard
 * deviation) to rounding.
 */
export function leaveOneOutStats(S: number, data: Float32Array[], groups: Map<string, number[]>): (i: number) => AdaptedStats | null {
  const sums = data.map((d) => {
    const s1 = new Float64Array(S);
    const s2 = new Float64Array(S);
    for (let o = 0; o + S <= d.length; o += S) {
      for (let k = 0; k < S; k++) {
        const x = d[o + k]!;
        s1[k]! += x;
        s2[k]! += x * x;
      }
    }
    return { n: Math.floor(d.length / S), s1, s2 };
  });
  const groupOf = new Map<number, { n: number; s1: Float64Array; s2: Float64Array; size: number }>();
  for (const members of groups.values()) {
    const total = { n: 0, s1: new Float64Array(S), s2: new Float64Array(S), size: members.length };
    for (const j of members) {
      total.n += sums[j]!.n;
      for (let k = 0; k < S; k++) {
        total.s1[k]! += sums[j]!.s1[k]!;
        total.s2[k]! += sums[j]!.s2[k]!;
      }
    }
    for (const j of members) groupOf.set(j, total);
  }
  return (i) => {
    const g = groupOf.get(i);
    if (!g || g.size < 2) return null;
    const own = sums[i]!;
    const n = g.n - own.n;
    if (n < 1) return null;
    const mean = new Float32Array(S);
    const std = new Float32Array(S);
    for (let k = 0; k < S; k++) {
      const m = (g.s1[k]! - own.s1[k]!) / n;
      const v = n > 1 ? Math.max(0, (g.s2[k]! - own.s2[k]! - n * m * m) / (n - 1)) : 1;
      mean[k] = m;
      std[k] = Math.sqrt(v);
    }
    return { mean, std };
  };
}
