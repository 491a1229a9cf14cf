import * as tf from "@tensorflow/tfjs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { computeNormStats, statsOfSteps, windowFeatures, type AdaptedStats, type NormStats } from "../features/normalise.js";
import { CLIP_HOP_MS, modelDims, staticDims, stepsPer, windowSeconds, type FeatureSpec } from "../features/spec.js";
import { labelKind } from "../label-map.js";
import type { Logger } from "../log.js";
import { buildModel, compileFor, effectiveOptions } from "../model/architectures.js";
import { calibrateBatchNorm, EnhancedGRU } from "../model/egru-cell.js";
import { loadBundle, saveBundle, type Arch, type BundleMeta, type CorpusInfo, type LoadedBundle } from "../model/bundle.js";
import { EmotionClassifier, meanProbs, predictBatched } from "../model/classifier.js";
import type { AugmentOptions } from "./augment.js";
import { balancedOrder, sliceWindow, trainingBatch, windowStarts, type Example } from "./dataset.js";
import { mineHardNegatives, withHardNegatives } from "./hard-negatives.js";
import { extractCorpus, FEATURE_SEED, type ClipFeatures } from "./feature-cache.js";
import type { ManifestRow } from "./manifest.js";
import { evaluatePredictions, formatClassificationReport, formatConfusion, type EvalReport } from "./metrics.js";
import { confusionSvg, lineChartSvg } from "../report/charts.js";
import { Rng } from "./random.js";
import { corpusSplit, makeSplit, speakerGroup, type Protocol, type Split } from "./splits.js";

export interface TrainOptions {
  arch: Arch;
  rows: ManifestRow[];
  corpora: CorpusInfo[];
  /** The model's classes (its softmax), in output order. */
  labels: string[];
  danger: string[];
  /**
   * A danger head (src/model/danger-head.ts) over `danger` instead of the dense softmax, and the
   * epoch chosen by the validation clips' danger AUC instead of their macro recall.
   */
  dangerHead?: boolean;
  /**
   * Hard-negative mining (src/train/hard-negatives.ts): from the second epoch on, this fraction
   * of each epoch's draws are the training clips' non-danger windows that the model scored ≥ 0.5
   * danger after the epoch before. 0 or absent: off.
   */
  hardNegatives?: number;
  /** The class of a manifest label (src/label-map.ts), or null to leave the row out. */
  classOf: (label: string) => string | null;
  /** Name of the class set (recorded in the bundle). */
  classSet: string;
  protocol: Protocol;
  /**
   * Leave-corpora-out: these corpora (directory names) are the test set, never trained on nor
   * used to choose the epoch; validation speakers come from the other corpora. Empty: `protocol`.
   */
  testCorpora: string[];
  /** With testCorpora: validate on exactly these speaker groups (another bundle's), train on the rest. */
  validationGroups?: string[];
  folds: number;
  fold: number;
  epochs: number;
  batch: number;
  dropout: number;
  batchNorm: boolean;
  glorot: boolean;
  units: number;
  layers: number;
  learningRate: number | null;
  seed: number;
  spec: FeatureSpec;
  augmentedCopies: number;
  augment: AugmentOptions;
  mask: boolean;
  cacheDir: string | null;
  out: string;
  name: string;
  version: string;
  quantize: boolean;
  log: Logger;
  /** The command line that started the run, recorded in run.json so every number can be reproduced. */
  command: string;
  progress: (p: { epoch: number; epochs: number; batch: number; batches: number; loss: number; acc: number }) => void;
  /** Feature extraction (`which`: the training clips with their augmented copies, then the
   * validation and test clips); absent: a log line per 10 %. */
  featureProgress?: (which: "train" | "eval", done: number, total: number) => void;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  acc: number;
  val_loss: number;
  val_acc: number;
  val_macro_recall: number;
  seconds: number;
  /** Hard-negative mining: the windows mined before this epoch (absent when mining is off). */
  hard_negatives?: number;
}

export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  test: EvalReport;
  testQuantized: EvalReport | null;
  split: Split;
  meta: BundleMeta;
}

/**
 * Statistics of each speaker's clean clips: the "unlabelled running statistics" of norm speaker.
 * Speech only: a sound or a scream has no wearer to adapt to, and standardising a kitchen clip by
 * its own statistics removes its level and spectral balance, which a unit — normalising with the
 * training statistics, or with its room's running ones — never does (a model trained so raised
 * 100 false alerts an hour on sounds; docs/detection.md). Sounds and screams are normalised with
 * the training statistics, as a fresh unit hears them.
 */
export function speakerStatsOf(spec: FeatureSpec, clips: ClipFeatures[]): Map<string, AdaptedStats> {
  const by = new Map<string, Float32Array[]>();
  for (const c of clips) {
    if (c.variant !== 0) continue;
    const kind = labelKind(c.row.label);
    if (kind !== "emotion" && kind !== "arousal") continue;
    const key = speakerKey(c.row);
    by.set(key, [...(by.get(key) ?? []), c.data]);
  }
  const S = staticDims(spec);
  return new Map([...by].map(([k, v]) => [k, statsOfSteps(S, v)]));
}

/** A non-danger training window at or above this danger score is a hard negative (the detector's enter thresholds are 0.5–0.85). */
export const HARD_NEGATIVE_THRESHOLD = 0.5;

export const speakerKey = (r: ManifestRow): string => `${r.corpus}/${r.speaker ?? r.relPath}`;

/**
 * Clip-level predictions: every window of the clip at a 0.5 s hop, probabilities averaged —
 * what the device would conclude after hearing the whole clip.
 */
export function predictClips(
  clf: { predictFeatures(w: Float32Array[]): Float32Array[] },
  spec: FeatureSpec,
  clips: ClipFeatures[],
  adaptedOf: (c: ClipFeatures) => AdaptedStats | null,
  windowFeaturesFn: (steps: Float32Array, adapted: AdaptedStats | null) => Float32Array,
): Float32Array[] {
  const hop = stepsPer(spec, CLIP_HOP_MS);
  const windows: Float32Array[] = [];
  const owner: number[] = [];
  clips.forEach((c, i) => {
    for (const s of windowStarts(c.steps, spec.windowSteps, hop)) {
      windows.push(windowFeaturesFn(sliceWindow(spec, c, s), adaptedOf(c)));
      owner.push(i);
    }
  });
  const probs = clf.predictFeatures(windows);
  const per: Float32Array[][] = clips.map(() => []);
  probs.forEach((p, i) => per[owner[i]!]!.push(p));
  return per.map((ps) => meanProbs(ps));
}

/** Runs Math.random from a seeded generator while `fn` runs: tfjs's dropout and initialisers
 * draw their seeds from Math.random when none is given, so this makes a run repeatable. */
async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  const rng = new Rng(seed ^ 0x5eed);
  Math.random = () => rng.next();
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  return withSeededMathRandom(opts.seed, () => trainInner(opts));
}

async function trainInner(opts: TrainOptions): Promise<TrainResult> {
  const { spec, log } = opts;
  const labelIndex = new Map(opts.labels.map((l, i) => [l, i]));
  const rows = opts.rows.filter((r) => {
    const c = opts.classOf(r.label);
    return c !== null && labelIndex.has(c);
  });
  const classIndex = (r: ManifestRow): number => labelIndex.get(opts.classOf(r.label)!)!;
  const split =
    opts.testCorpora.length > 0 ? corpusSplit(rows, opts.testCorpora, opts.seed, opts.validationGroups) : makeSplit(rows, opts.protocol, opts.seed, opts.folds, opts.fold);
  log.info({ split: split.describe, train: split.train.length, val: split.val.length, test: split.test.length }, "split");

  const trainRows = split.train.map((i) => rows[i]!);
  const evalRows = [...split.val, ...split.test].map((i) => rows[i]!);
  const extractOpts = { cacheDir: opts.cacheDir, augment: opts.augment, seed: FEATURE_SEED, log };
  let lastPct = -1;
  const onProgress =
    (which: "train" | "eval") =>
    (done: number, total: number): void => {
      if (opts.featureProgress) return opts.featureProgress(which, done, total);
      const pct = Math.floor((100 * done) / total);
      if (pct !== lastPct && pct % 10 === 0) log.info(`features ${pct}% (${done}/${total})`);
      lastPct = pct;
    };
  const trainFeat = await extractCorpus(trainRows, spec, { ...extractOpts, augmentedCopies: opts.augmentedCopies, onProgress: onProgress("train") });
  const evalFeat = await extractCorpus(evalRows, spec, { ...extractOpts, augmentedCopies: 0, onProgress: onProgress("eval") });
  const allClips = [...trainFeat.clips, ...evalFeat.clips];
  const spkStats = spec.norm === "speaker" ? speakerStatsOf(spec, allClips) : new Map<string, AdaptedStats>();

  // Examples: all variants of a clip together.
  const byFile = new Map<string, ClipFeatures[]>();
  for (const c of trainFeat.clips) byFile.set(c.row.file, [...(byFile.get(c.row.file) ?? []), c]);
  const examples: Example[] = [...byFile.values()].map((v) => ({
    variants: v.sort((a, b) => a.variant - b.variant),
    label: classIndex(v[0]!.row),
    corpus: v[0]!.row.corpus,
    speakerKey: speakerKey(v[0]!.row),
  }));
  const clean = (idx: number[]): ClipFeatures[] => {
    const files = new Set(idx.map((i) => rows[i]!.file));
    return evalFeat.clips.filter((c) => files.has(c.row.file));
  };
  const valClips = clean(split.val);
  const testClips = clean(split.test);

  // Normalisation statistics from the clean training clips only (centre crops).
  const T = spec.windowSteps;
  const statWindows = examples.map((e) => {
    const c = e.variants[0]!;
    return sliceWindow(spec, c, Math.floor((c.steps - T) / 2));
  });
  const stats = computeNormStats(spec, statWindows, (i) => spkStats.get(examples[i]!.speakerKey) ?? null);
  log.info({ windows: statWindows.length }, "normalisation statistics from training clips");

  const F = modelDims(spec);
  const image = opts.arch === "rescnn" || opts.arch === "cnn";
  const model = buildModel(opts.arch, {
    inputShape: image ? [T, F, 1] : [T, F],
    numClasses: opts.labels.length,
    units: opts.units,
    layers: opts.layers,
    dropout: opts.dropout,
    batchNorm: opts.batchNorm,
    glorot: opts.glorot,
    seed: opts.seed,
    ...(opts.dangerHead ? { dangerHead: opts.danger.map((d) => labelIndex.get(d)!) } : {}),
  });
  compileFor(opts.arch, model, opts.learningRate ?? undefined);
  log.info({ arch: opts.arch, params: model.countParams(), examples: examples.length }, "model built");

  // The same normalisation the device applies.
  const wf = (steps: Float32Array, adapted: AdaptedStats | null): Float32Array => windowFeatures(spec, stats, steps, adapted);
  const adaptedOf = (c: ClipFeatures): AdaptedStats | null => spkStats.get(speakerKey(c.row)) ?? null;
  const predictor = {
    predictFeatures: (w: Float32Array[]): Float32Array[] => predictBatched(model, spec, opts.labels.length, w, 64),
  };

  const rng = new Rng(opts.seed);
  const history: EpochRecord[] = [];
  let best = { score: -1, epoch: 0, weights: null as tf.Tensor[] | null };
  const dangerIdx = opts.danger.map((d) => labelIndex.get(d)!);
  const hardFraction = opts.hardNegatives ?? 0;
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const t0 = performance.now();
    let order = balancedOrder(examples, opts.labels.length, rng);
    let pool = examples;
    let mined: number | undefined;
    if (hardFraction > 0 && epoch > 1) {
      // The windows the model of the epoch before would alert on, fed back at their crops.
      const hard = mineHardNegatives(
        examples,
        (label) => dangerIdx.includes(label),
        (ws) =>
          predictor
            .predictFeatures(ws.map((w) => wf(sliceWindow(spec, examples[w.example]!.variants[0]!, w.start), spkStats.get(examples[w.example]!.speakerKey) ?? null)))
            .map((p) => dangerIdx.reduce((a, k) => a + p[k]!, 0)),
        { windowSteps: T, hopSteps: stepsPer(spec, CLIP_HOP_MS), threshold: HARD_NEGATIVE_THRESHOLD, chunk: 512 },
      );
      ({ examples: pool, order } = withHardNegatives(examples, order, hard, hardFraction, rng));
      mined = hard.length;
      log.info({ epoch, hard_negatives: hard.length, seconds: Math.round((performance.now() - t0) / 1000) }, "hard negatives mined");
    }
    const batches = Math.ceil(order.length / opts.batch);
    let lossSum = 0, accSum = 0, seen = 0;
    for (let b = 0; b < batches; b++) {
      const idx = order.slice(b * opts.batch, (b + 1) * opts.batch);
      const { x, y } = trainingBatch(spec, stats, idx.map((i) => pool[i]!), spkStats, rng, opts.mask);
      const xs = tf.tensor(x, image ? [idx.length, T, F, 1] : [idx.length, T, F]);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(y, "int32"), opts.labels.length));
      const r = (await model.trainOnBatch(xs, ys)) as number[];
      xs.dispose();
      ys.dispose();
      lossSum += r[0]! * idx.length;
      accSum += (r[1] ?? 0) * idx.length;
      seen += idx.length;
      opts.progress({ epoch, epochs: opts.epochs, batch: b + 1, batches, loss: lossSum / seen, acc: accSum / seen });
    }
    // Batch-norm population statistics measured on the network as inference runs it (no dropout,
    // clean clips), not the moving averages gathered with dropout on (src/model/egru-cell.ts).
    recalibrate(model, spec, stats, examples, spkStats, rng.fork(epoch), T, F);
    const valProbs = predictClips(predictor, spec, valClips, adaptedOf, wf);
    const valTruth = valClips.map((c) => classIndex(c.row));
    const valReport = evaluatePredictions(opts.labels, valProbs.map((p, i) => ({ truth: valTruth[i]!, probs: p })), opts.danger);
    const valLoss = valProbs.reduce((s, p, i) => s - Math.log(Math.max(1e-7, p[valTruth[i]!]!)), 0) / Math.max(1, valProbs.length);
    const rec: EpochRecord = {
      epoch,
      loss: lossSum / seen,
      acc: accSum / seen,
      val_loss: valLoss,
      val_acc: valReport.accuracy,
      val_macro_recall: valReport.macro_recall,
      seconds: (performance.now() - t0) / 1000,
      ...(mined === undefined ? {} : { hard_negatives: mined }),
    };
    history.push(rec);
    log.info(rec, `epoch ${epoch}/${opts.epochs}`);
    // Keep the weights of the epoch with the best validation macro recall — with a danger head,
    // the best validation danger AUC (validation speakers are never test speakers, so this choice
    // does not peek at the test set).
    // (AUC is undefined without danger clips among the validation ones: macro recall then.)
    const score = opts.dangerHead && Number.isFinite(valReport.danger.auc) ? valReport.danger.auc : rec.val_macro_recall;
    if (score > best.score) {
      best.weights?.forEach((w) => w.dispose());
      best = { score, epoch, weights: model.getWeights().map((w) => w.clone()) };
    }
  }
  if (best.weights) {
    model.setWeights(best.weights);
    best.weights.forEach((w) => w.dispose());
  }

  const testTruth = testClips.map((c) => classIndex(c.row));
  const testProbs = predictClips(predictor, spec, testClips, adaptedOf, wf);
  const test = evaluatePredictions(opts.labels, testProbs.map((p, i) => ({ truth: testTruth[i]!, probs: p })), opts.danger, 0.5, trainFeat.skipped.length + evalFeat.skipped.length);

  await mkdir(opts.out, { recursive: true });
  // Self-test input for `model install`: the first test window and the float model's output.
  const stClip = testClips[0] ?? valClips[0];
  const selftestSteps = stClip ? sliceWindow(spec, stClip, 0) : null;
  const metaBase = {
    name: opts.name,
    version: opts.version,
    created: new Date().toISOString(),
    // The base GRU has none of the enhanced cell's options: record only what shaped the network.
    architecture:
      {
        ...(opts.arch === "gru" || opts.arch === "pgru" || opts.arch === "lr"
          ? { arch: opts.arch, units: opts.units, layers: opts.layers }
          : { arch: opts.arch, units: opts.units, layers: opts.layers, ...effectiveOptions(opts.arch, opts) }),
        ...(opts.dangerHead ? { danger_head: true } : {}),
        params: model.countParams(),
      },
    labels: opts.labels,
    danger: opts.danger,
    features: spec,
    normalisation: stats,
    window: { steps: spec.windowSteps, seconds: windowSeconds(spec) },
    training: {
      corpora: opts.corpora,
      protocol: opts.testCorpora.length > 0 ? "corpus" : opts.protocol,
      class_set: opts.classSet,
      ...(opts.testCorpora.length > 0
        ? {
            test_corpora: opts.testCorpora,
            // The validation groups (speakers, or recordings without one): never trained on, so
            // detector settings can be tuned on streams of them and checked on the test corpora.
            validation_groups: [...new Set(split.val.map((i) => speakerGroup(rows[i]!)))].sort(),
          }
        : {}),
      split: split.describe,
      ...(split.speakers ? { test_speakers: split.speakers.test, validation_speakers: split.speakers.validation } : {}),
      seed: opts.seed,
      epochs: opts.epochs,
      best_epoch: best.epoch,
      batch: opts.batch,
      augmented_copies: opts.augmentedCopies,
      ...(hardFraction > 0 ? { hard_negatives: hardFraction } : {}),
    },
    metrics: { test: summary(test) },
    selftest: null,
  };
  // Save (quantized when asked), reload through the loader the daemon uses, measure the saved
  // model on the same test set, and record a self-test: the first test window and what the
  // saved model answers for it (without adaptation), which `model install` must reproduce.
  await saveBundle(opts.out, model, metaBase, { quantize: opts.quantize });
  const loaded: LoadedBundle = await loadBundle(opts.out);
  const savedClf = new EmotionClassifier(loaded);
  let testQuantized: EvalReport | null = null;
  if (opts.quantize) {
    const qProbs = predictClips(savedClf, spec, testClips, adaptedOf, wf);
    testQuantized = evaluatePredictions(opts.labels, qProbs.map((p, i) => ({ truth: testTruth[i]!, probs: p })), opts.danger);
  }
  const selftest = selftestSteps
    ? { steps: Array.from(selftestSteps), expected: Array.from(savedClf.predict([selftestSteps], null)[0]!), tolerance: 1e-4 }
    : null;
  savedClf.dispose();
  const meta = await saveBundle(
    opts.out,
    model,
    {
      ...metaBase,
      metrics: {
        test: summary(test),
        ...(testQuantized ? { test_quantized: summary(testQuantized), quantization_delta_points: (testQuantized.accuracy - test.accuracy) * 100 } : {}),
      },
      selftest,
    },
    { quantize: opts.quantize },
  );
  await writeOutputs(opts, history, test, testQuantized);
  model.dispose();
  return { history, bestEpoch: best.epoch, test, testQuantized, split, meta };
}

/** Calibration batches: 32 batches of 64 clean (variant 0) training windows at random crops. */
function recalibrate(
  model: tf.LayersModel,
  spec: FeatureSpec,
  stats: NormStats,
  examples: Example[],
  spkStats: Map<string, AdaptedStats>,
  rng: Rng,
  T: number,
  F: number,
): void {
  if (!model.layers.some((l) => l instanceof EnhancedGRU && l.batchNorm)) return;
  const clean = examples.map((e) => ({ ...e, variants: [e.variants[0]!] }));
  const batches: tf.Tensor[] = [];
  try {
    for (let b = 0; b < 32; b++) {
      const pick = Array.from({ length: Math.min(64, clean.length) }, () => clean[rng.int(clean.length)]!);
      const { x } = trainingBatch(spec, stats, pick, spkStats, rng, false);
      batches.push(tf.tensor(x, [pick.length, T, F]));
    }
    calibrateBatchNorm(model, batches);
  } finally {
    tf.dispose(batches);
  }
}

/** `gru (speaker, seed 1)`; the dropout only for networks that have it. */
export function runTitle(opts: Pick<TrainOptions, "arch" | "protocol" | "testCorpora" | "dropout" | "batchNorm" | "glorot" | "seed">): string {
  const eff = effectiveOptions(opts.arch, opts);
  const protocol = opts.testCorpora.length > 0 ? `corpora ${opts.testCorpora.join("+")} left out` : opts.protocol;
  return `${opts.arch} (${protocol}${eff.dropout > 0 ? `, dropout ${eff.dropout}` : ""}, seed ${opts.seed})`;
}

/**
 * The run's pictures: accuracy and loss per epoch (accuracy on [0, 1], loss from 0; legends
 * beside the plot) and the test confusion matrix, by file name.
 */
export function trainingPlots(title: string, history: EpochRecord[], test: Pick<EvalReport, "confusion">): Record<string, string> {
  const curves = (key: "acc" | "loss", valKey: "val_acc" | "val_loss"): { name: string; values: number[] }[] => [
    { name: "training", values: history.map((h) => h[key]) },
    { name: "validation", values: history.map((h) => h[valKey]) },
  ];
  return {
    "accuracy.svg": lineChartSvg({ title: `Training and validation accuracy — ${title}`, xLabel: "epoch", yLabel: "accuracy", yRange: [0, 1], series: curves("acc", "val_acc") }),
    "loss.svg": lineChartSvg({ title: `Training and validation loss — ${title}`, xLabel: "epoch", yLabel: "cross-entropy loss", series: curves("loss", "val_loss") }),
    "confusion.svg": confusionSvg(`Confusion matrix (test) — ${title}`, test.confusion.labels, test.confusion.matrix),
  };
}

function summary(r: EvalReport): Record<string, unknown> {
  return { accuracy: r.accuracy, macro_recall: r.macro_recall, danger: r.danger, files: r.files };
}

async function writeOutputs(opts: TrainOptions, history: EpochRecord[], test: EvalReport, q: EvalReport | null): Promise<void> {
  const runDir = opts.out;
  await writeFile(path.join(runDir, "history.json"), JSON.stringify(history, null, 2) + "\n");
  const last = history[history.length - 1];
  await writeFile(
    path.join(runDir, "run.json"),
    JSON.stringify(
      {
        command: opts.command,
        arch: opts.arch,
        protocol: opts.testCorpora.length > 0 ? "corpus" : opts.protocol,
        test_corpora: opts.testCorpora,
        class_set: opts.classSet,
        danger_head: opts.dangerHead === true,
        hard_negatives: opts.hardNegatives ?? 0,
        fold: opts.fold,
        folds: opts.folds,
        seed: opts.seed,
        // What the network used, not what was asked: a plain GRU has no dropout nor batch norm.
        ...effectiveOptions(opts.arch, opts),
        norm: opts.spec.norm,
        epochs: opts.epochs,
        augmentedCopies: opts.augmentedCopies,
        corpora: opts.corpora,
        labels: opts.labels,
        // Train/validation gap at the last epoch (the first paper's overfitting measure).
        last_epoch_gap: last ? { acc: last.acc - last.val_acc, loss: last.val_loss - last.loss } : null,
        test: { accuracy: test.accuracy, macro_recall: test.macro_recall, danger: test.danger },
        quantized: q ? { accuracy: q.accuracy, macro_recall: q.macro_recall } : null,
      },
      null,
      2,
    ) + "\n",
  );
  const title = runTitle(opts);
  for (const [file, svg] of Object.entries(trainingPlots(title, history, test))) await writeFile(path.join(runDir, file), svg);
  const report = [
    `# ${title}`,
    "",
    formatClassificationReport(test),
    "",
    formatConfusion(test),
    "",
    `macro recall (UAR) ${test.macro_recall.toFixed(4)}; danger recall ${test.danger.recall.toFixed(3)} precision ${test.danger.precision.toFixed(3)} AUC ${test.danger.auc.toFixed(3)}`,
    q ? `quantized uint8: accuracy ${q.accuracy.toFixed(4)} (float ${test.accuracy.toFixed(4)})` : "",
  ].join("\n");
  await writeFile(path.join(runDir, "report.txt"), report + "\n");
  await writeFile(path.join(runDir, "test-metrics.json"), JSON.stringify({ test, quantized: q }, null, 2) + "\n");
}
