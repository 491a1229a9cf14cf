import path from "node:path";
import { DEFAULT_DANGER_LABELS } from "../constants.js";
import { CLASS_SETS, classSet, type ClassSetName } from "../label-map.js";
import { DEFAULT_FEATURE_SPEC, type FeatureSpec } from "../features/spec.js";
import type { Logger } from "../log.js";
import { ARCHITECTURES } from "../model/architectures.js";
import { selectBackend } from "../model/backend.js";
import { verifyBundleFiles, type Arch, type CorpusInfo } from "../model/bundle.js";
import { DEFAULT_AUGMENT } from "../train/augment.js";
import { readCorpusDir, type ManifestRow } from "../train/manifest.js";
import { train } from "../train/trainer.js";
import type { Progress, ProgressTask } from "../report/progress.js";
import { num, parse, UsageError } from "./args.js";
import { defaultCacheDir, loadNoises } from "./corpus-options.js";
import { SHIPPED_MODEL_NAME, shippedModelArch } from "../assemble/paths.js";

export const TRAIN_HELP = `earwitness train — train an emotion model on corpus directories

  --arch gru|egru|rescnn|cnn|lr|pgru|pegru|cnnp
                               network (default: the shipped model's, from
                               models/${SHIPPED_MODEL_NAME}/bundle.json; lr = logistic regression on window
                               statistics, pgru/pegru = GRU/enhanced GRU with a
                               statistics-pooled head, cnnp = a small 1-D CNN over the
                               window's steps with a statistics-pooled head; --units sets
                               its width)
  --data DIR                   corpus directory with manifest.csv (repeatable)
  --classes emotions|home|danger
                               class set (src/label-map.ts): emotions (default) = --labels as
                               given; home = six emotions + surprised + scream + sound, with calm
                               and boredom as neutral and every non-speech sound as sound;
                               danger = danger (angry, fear, scream) vs safe (everything else)
  --labels a,b,c               classes of the emotions set (default angry,disgust,fear,happy,neutral,sad)
  --danger a,b                 danger classes (default angry,fear; home: angry,fear,scream)
  --danger-head                a danger-vs-rest head trained jointly with the classes: the
                               output is still one probability per class, the danger classes'
                               sum being the head (src/model/danger-head.ts); the epoch is chosen
                               by validation danger AUC
  --hard-negatives F           from the 2nd epoch, F (0–0.5) of each epoch's draws are the
                               training clips' non-danger windows the model scored ≥ 0.5 danger
                               after the epoch before (default 0 = off)
  --protocol speaker|random    speaker-independent (default) or random stratified split
  --test-corpus NAME           leave this corpus out (repeatable): it is the test set, the other
                               corpora train and validate (overrides --protocol); NAME:0.5 leaves
                               out half its speakers (seeded), NAME:0.5-0.75 the next quarter of
                               the same order (folds of the part a LOCO split trains on)
  --validation-of DIR          with --test-corpus: validate on the speakers the bundle in DIR
                               validated on (training.validation_groups), train on the rest — a
                               second model for the pair that never hears the first's validation
                               speakers, so the pair can be tuned on them (bench --validation-of)
  --folds K --fold I           speaker folds and which one is the test fold (default 5, 0)
  --epochs N --batch N         (default 30, 64)
  --dropout R                  enhanced GRU: dropout on gates and hidden state; CNNs: before
                               the dense layers (default 0.2; 0 = off; gru/pgru/lr have none)
  --no-batchnorm --no-glorot   switch the enhanced GRU's optimisations off one by one (the
                               stock GRU has no batch norm and always starts from Glorot)
  --units N --layers N         recurrent width and depth (default 64, 1)
  --lr X                       learning rate (default: Adam 0.001 / RMSProp 0.001 for CNNs)
  --norm global|window|speaker feature normalisation (default speaker: per-speaker statistics,
                               what a unit adapts to its wearer; window scored 26 % on CREMA-D)
  --pitch                      add prosody features: each step's periodicity and log F0 by YIN
                               (src/features/pitch.ts; recurrent models only)
  --augment N                  augmented copies per training clip (default 2; 0 = off)
  --noise DIR                  noise recordings for augmentation (e.g. ../shared/data/noise)
  --no-mask                    no time/frequency masking
  --seed N                     seed for splits, initialisation, order, dropout (default 1)
  --cache DIR                  feature cache (default ~/.cache/earwitness/features)
  --name NAME --version V      bundle name and version
  --no-quantize                keep float32 weights
  --out DIR                    where the bundle, history.json, run.json, report and pictures go
                               (required): accuracy.svg and loss.svg per epoch, confusion.svg
                               of the test set
`;

/** Licences of the corpora in ../shared/data (corpora.tsv and its README), for the model card. */
export const LICENCES: Record<string, string> = {
  "crema-d": "ODbL 1.0 (database), DbCL 1.0 (contents)",
  ravdess: "CC BY-NC-SA 4.0",
  emodb: "free for research (Burkhardt et al. 2005)",
  nemo: "CC BY-NC-SA 4.0",
  ased: "not stated (research)",
  casia: "not stated (CASIA, research)",
  baved: "not stated (non-commercial asked)",
  emospeech: "CC BY-NC-SA 4.0",
  donateacry: "ODbL 1.0",
  kitchen20: "Apache-2.0 (repo); clips from Freesound under CC licences",
  sased: "DCASE 2016 task 2 (research)",
  esc10: "CC BY 3.0",
  urbansound: "CC BY-NC 3.0",
  snoring: "research (cite Khan, Electronics 2019)",
  screams: "not stated (Freesound clips)",
};

export async function trainCommand(argv: string[], log: Logger, progress: Progress): Promise<number> {
  const { values: v } = parse(argv, {
    arch: { type: "string" },
    data: { type: "string", multiple: true },
    classes: { type: "string", default: "emotions" },
    labels: { type: "string" },
    danger: { type: "string" },
    "danger-head": { type: "boolean", default: false },
    "hard-negatives": { type: "string", default: "0" },
    "test-corpus": { type: "string", multiple: true },
    "validation-of": { type: "string" },
    protocol: { type: "string", default: "speaker" },
    folds: { type: "string", default: "5" },
    fold: { type: "string", default: "0" },
    epochs: { type: "string", default: "30" },
    batch: { type: "string", default: "64" },
    dropout: { type: "string", default: "0.2" },
    "no-batchnorm": { type: "boolean", default: false },
    "no-glorot": { type: "boolean", default: false },
    units: { type: "string", default: "64" },
    layers: { type: "string", default: "1" },
    lr: { type: "string" },
    norm: { type: "string", default: "speaker" },
    augment: { type: "string", default: "2" },
    noise: { type: "string" },
    "no-mask": { type: "boolean", default: false },
    pitch: { type: "boolean", default: false },
    seed: { type: "string", default: "1" },
    cache: { type: "string" },
    name: { type: "string" },
    version: { type: "string", default: "0.0.0-dev" },
    "no-quantize": { type: "boolean", default: false },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(TRAIN_HELP);
    return 0;
  }
  const arch = (v.arch === undefined ? await shippedModelArch() : String(v.arch)) as Arch;
  if (!(ARCHITECTURES as readonly string[]).includes(arch)) throw new UsageError(`--arch must be one of ${ARCHITECTURES.join(", ")} (got ${arch})`);
  const dataDirs = (v.data as string[] | undefined) ?? [];
  if (dataDirs.length === 0) throw new UsageError("--data DIR is required (a corpus directory with manifest.csv)");
  if (!v.out) throw new UsageError("--out DIR is required");
  const protocol = String(v.protocol);
  if (protocol !== "speaker" && protocol !== "random") throw new UsageError(`--protocol must be speaker or random (got ${protocol})`);
  const norm = String(v.norm);
  if (!["global", "window", "speaker"].includes(norm)) throw new UsageError(`--norm must be global, window or speaker (got ${norm})`);
  const setName = String(v.classes) as ClassSetName;
  if (!CLASS_SETS.includes(setName)) throw new UsageError(`--classes must be ${CLASS_SETS.join(" or ")} (got ${setName})`);
  const list = (x: unknown): string[] | undefined =>
    x === undefined ? undefined : String(x).split(",").map((s) => s.trim()).filter(Boolean);
  if (setName !== "emotions" && (v.labels !== undefined || v.danger !== undefined)) {
    throw new UsageError(`--labels and --danger apply to --classes emotions; the ${setName} set's classes are fixed (src/label-map.ts)`);
  }
  const set = classSet(setName, list(v.labels), list(v.danger) ?? (setName === "emotions" ? [...DEFAULT_DANGER_LABELS] : undefined));
  const labels = set.classes;
  const danger = set.danger;
  for (const d of danger) if (!labels.includes(d)) throw new UsageError(`danger class ${d} is not among the classes (${labels.join(",")})`);
  const testCorpora = (v["test-corpus"] as string[] | undefined) ?? [];
  let validationGroups: string[] | undefined;
  if (v["validation-of"] !== undefined) {
    if (testCorpora.length === 0) throw new UsageError("--validation-of needs --test-corpus (it names a leave-corpora-out split's validation speakers)");
    const of = (await verifyBundleFiles(String(v["validation-of"]))).meta;
    const groups = of.training["validation_groups"];
    if (!Array.isArray(groups) || groups.length === 0) throw new UsageError(`--validation-of: bundle ${of.name} ${of.version} records no validation groups (a leave-corpora-out run does)`);
    validationGroups = groups.map(String);
  }

  const image = arch === "rescnn" || arch === "cnn";
  // The CNNs read log-spectrogram images (mel bands only), as in the second paper.
  if (image && v.pitch) throw new UsageError(`--pitch applies to the recurrent models and lr, not ${arch}`);
  const spec: FeatureSpec = { ...DEFAULT_FEATURE_SPEC, norm: norm as FeatureSpec["norm"], ...(image ? { deltas: false, energy: false } : {}), ...(v.pitch ? { pitch: true } : {}) };

  const rows: ManifestRow[] = [];
  const corpora: CorpusInfo[] = [];
  for (const dir of dataDirs) {
    const r = await readCorpusDir(dir);
    const kept = r.filter((x) => set.classOf(x.label) !== null);
    rows.push(...kept);
    const name = path.basename(path.resolve(dir));
    corpora.push({ name, licence: LICENCES[name] ?? "see the corpus's licence", clips: kept.length });
  }
  const backend = await selectBackend();
  const seed = num(v.seed, "seed", { integer: true });
  log.info({ backend, arch, corpora, rows: rows.length }, "training");
  // Features of the training clips, of the validation and test clips, then the epochs, each a
  // task of the one renderer; the training task counts batches over all epochs.
  let featureTask: { which: string; task: ProgressTask } | null = null;
  let trainTask: ProgressTask | null = null;
  const result = await train({
    arch,
    rows,
    corpora,
    labels,
    danger,
    dangerHead: v["danger-head"] === true,
    hardNegatives: num(v["hard-negatives"], "hard-negatives", { min: 0, max: 0.5 }),
    classOf: (l) => set.classOf(l),
    classSet: setName,
    testCorpora,
    ...(validationGroups ? { validationGroups } : {}),
    protocol,
    folds: num(v.folds, "folds", { integer: true, min: 2 }),
    fold: num(v.fold, "fold", { integer: true, min: 0 }),
    epochs: num(v.epochs, "epochs", { integer: true, min: 1 }),
    batch: num(v.batch, "batch", { integer: true, min: 1 }),
    dropout: num(v.dropout, "dropout", { min: 0, max: 0.9 }),
    batchNorm: !v["no-batchnorm"],
    glorot: !v["no-glorot"],
    units: num(v.units, "units", { integer: true, min: 4 }),
    layers: num(v.layers, "layers", { integer: true, min: 1, max: 4 }),
    learningRate: v.lr === undefined ? null : num(v.lr, "lr", { min: 0 }),
    seed,
    spec,
    augmentedCopies: num(v.augment, "augment", { integer: true, min: 0 }),
    augment: { ...DEFAULT_AUGMENT, noises: await loadNoises(v.noise as string | undefined) },
    mask: !v["no-mask"],
    cacheDir: (v.cache as string | undefined) ?? defaultCacheDir(),
    out: String(v.out),
    name: (v.name as string | undefined) ?? `earwitness-${arch}`,
    version: String(v.version),
    quantize: !v["no-quantize"],
    log,
    command: ["earwitness", "train", ...argv].join(" "),
    featureProgress: (which, done, total) => {
      if (featureTask?.which !== which) featureTask = { which, task: progress.start(`features (${which === "train" ? "training clips and copies" : "validation and test clips"})`, total, "clips") };
      featureTask.task.update(done, undefined, total);
      if (done === total) featureTask.task.finish();
    },
    progress: (p) => {
      trainTask ??= progress.start("train", p.epochs * p.batches, "batches");
      trainTask.update((p.epoch - 1) * p.batches + p.batch, `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)} acc ${p.acc.toFixed(3)}`, p.epochs * p.batches);
    },
  });
  (trainTask as ProgressTask | null)?.finish();
  const t = result.test;
  const testLine =
    result.split.test.length === 0
      ? `test: none (every row trains or validates; best epoch ${result.bestEpoch}): measure this recipe with --test-corpus runs\n`
      : `test: accuracy ${(t.accuracy * 100).toFixed(2)} %, macro recall ${(t.macro_recall * 100).toFixed(2)} %, danger recall ${t.danger.recall.toFixed(3)} precision ${t.danger.precision.toFixed(3)} AUC ${t.danger.auc.toFixed(3)} (best epoch ${result.bestEpoch})\n`;
  process.stdout.write(
    testLine +
      (result.testQuantized && result.split.test.length > 0 ? `quantized: accuracy ${(result.testQuantized.accuracy * 100).toFixed(2)} %\n` : "") +
      `wrote ${String(v.out)}\n`,
  );
  return 0;
}
