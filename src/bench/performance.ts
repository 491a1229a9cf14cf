/**
 * The performance half of `earwitness bench`: the shipped configuration (the shipped bundle on
 * the engine the daemon picks, fed an hour of audio) measured in full, and the alternatives beside
 * it in the same run — float vs uint8 bundle, EnhancedGRU vs tfjs's stock GRU layer, the lean
 * engine vs tfjs on every backend that loads. Slow paths get less audio (stated in the results).
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/schema.js";
import type { DetectParams } from "../detect/params.js";
import { loadBundleForEngine } from "../assemble/model.js";
import { DEFAULT_FEATURE_SPEC, modelDims } from "../features/spec.js";
import { buildModel } from "../model/architectures.js";
import { availableBackends, selectBackend, type BackendName } from "../model/backend.js";
import { BUNDLE_FILE, loadBundle, saveBundle, untrainedBundleMeta, type BundleMeta, type LoadedBundle } from "../model/bundle.js";
import { EmotionClassifier } from "../model/classifier.js";
import { foldedGruWeights, LeanGruClassifier, LeanGruNetwork } from "../model/lean-gru.js";
import { Pipeline, type WindowClassifier } from "../pipeline.js";
import type { ProgressStarter } from "../report/progress.js";
import { nowMs, round3, summarise, type Summary } from "./stats.js";
import { SyntheticSpeech } from "./synthetic.js";
import { runPipelineProcess } from "./pipeline-process.js";
import { runPipeline, type MemorySample, type PipelineRun } from "./throughput.js";

export interface PerformanceOptions {
  /** The shipped bundle, or null to benchmark a freshly built one of the same shape. */
  shippedDir: string | null;
  /** Where float/uint8 copies and the stand-in bundle are written. */
  workDir: string;
  detect: DetectParams;
  /** The configuration the daemon would run: the pipeline process loads its models and builds its pipeline from it. */
  config: Config;
  /** Audio through the shipped configuration, seconds (3600: the "after an hour" figures). */
  longSeconds: number;
  /** Audio per comparison variant by engine, seconds (tfjs on cpu is slow: it gets less). */
  variantSeconds: { lean: number; wasm: number; node: number; cpu: number };
  chunkSamples: number;
  log: (msg: string) => void;
  /** Progress of each run through the pipeline (src/report/progress.ts). */
  progress?: ProgressStarter;
}

export interface VariantResult {
  name: string;
  engine: "lean" | "tfjs";
  backend: BackendName | null;
  bundle: "uint8" | "float32" | "in-memory";
  layer: "EnhancedGRU" | "GRU";
  audio_s: number;
  rtf: number;
  features_ms_per_audio_s: number;
  infer_ms_per_window: Summary;
  infer_ms_per_audio_s: number;
  decision_latency_ms: Summary;
  load_ms: number | null;
  bundle_bytes: number | null;
  /** Largest difference of any probability from the shipped configuration's, on the same windows. */
  max_prob_diff_vs_shipped: number;
}

export interface PerformanceResults {
  shipped: {
    source: "shipped" | "stand-in";
    dir: string;
    name: string;
    arch: string;
    units: number | null;
    quantization: string;
    engine: "lean" | "tfjs";
    backend: BackendName;
    /** The scream branch's model, when detect.screams is on and it could run (its windows count in the pipeline figures). */
    screams: { name: string; version: string } | null;
  };
  pipeline: { rtf: number; audio_s: number; features_ms_per_audio_s: number; infer_ms_per_window: Summary; infer_ms_per_audio_s: number; decide_ms_per_window: number; wall_s: number };
  decision_latency_ms: Summary;
  /** Of the pipeline process (pipeline-process.ts): the model loaded as the daemon loads it and the daemon's pipeline, nothing of the benchmark. */
  rss_mb: { warm: number; after_1h: number | null; end: number; max: number };
  heap_mb: { warm: number; after_1h: number | null; end: number };
  memory_trace: MemorySample[];
  pipeline_process: { tfjs_loaded: boolean; exec_argv: string[]; rss_split_mb: { anon: number; file: number } | null };
  bundle_bytes: number;
  model_load_ms: { first: number; median_of_3: number };
  backends_available: BackendName[];
  variants: VariantResult[];
  notes: string[];
}

/** Bytes on disk of a bundle: bundle.json and every file it lists. */
export async function bundleBytes(dir: string): Promise<number> {
  const meta = JSON.parse(await readFile(path.join(dir, BUNDLE_FILE), "utf8")) as BundleMeta;
  let total = (await stat(path.join(dir, BUNDLE_FILE))).size;
  for (const f of Object.keys(meta.files)) total += (await stat(path.join(dir, f))).size;
  return total;
}

const LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad"];

/** The stand-in for the shipped model while it does not exist: same shape, untrained weights. */
async function writeStandIn(dir: string): Promise<void> {
  const spec = DEFAULT_FEATURE_SPEC;
  const model = buildModel("egru", { inputShape: [spec.windowSteps, modelDims(spec)], numClasses: LABELS.length, units: 64 });
  await saveBundle(
    dir,
    model,
    untrainedBundleMeta(spec, LABELS, { name: "bench-stand-in-egru", version: "0.0.0", arch: "egru", units: 64 }),
    { quantize: true },
  );
  model.dispose();
}

/** Re-saves a loaded bundle with the other weight storage (float32 ↔ uint8). */
async function resave(bundle: LoadedBundle, dir: string, quantize: boolean): Promise<void> {
  const { files: _files, quantization: _q, format: _f, ...meta } = bundle.meta;
  await saveBundle(dir, bundle.model, meta, { quantize });
}

/** The same network on tfjs's stock GRU layer: batch norm folded into its weights. */
function stockGruTwin(model: tf.LayersModel): { model: tf.LayersModel; exact: boolean } {
  const inShape = model.inputs[0]!.shape as [null, number, number];
  const body = model.layers.filter((l) => l.getClassName() !== "InputLayer");
  const input = tf.input({ shape: [inShape[1], inShape[2]] });
  let x: tf.SymbolicTensor = input;
  let dims = inShape[2];
  let exact = true;
  const assignments: { layer: tf.layers.Layer; values: tf.Tensor[] }[] = [];
  body.slice(0, -1).forEach((l, i, all) => {
    const w = foldedGruWeights(l, dims);
    // The stock layer has one bias and one recurrent kernel: per-step recurrent BN statistics and
    // an offset that applies from t = 1 only cannot be expressed, so the twin then costs the same
    // but is not numerically identical (max_prob_diff_vs_shipped says by how much).
    const bias = w.bias.map((b, j) => b + w.recurrentOffset[j]!);
    if (!w.exact) exact = false;
    const gru = tf.layers.gru({
      units: w.units,
      returnSequences: i < all.length - 1,
      recurrentActivation: "sigmoid",
      // Overwritten below; zeros avoid the orthogonal initialiser's slow QR.
      kernelInitializer: "zeros",
      recurrentInitializer: "zeros",
    });
    x = gru.apply(x) as tf.SymbolicTensor;
    assignments.push({
      layer: gru,
      values: [tf.tensor2d(w.kernel, [dims, 3 * w.units]), tf.tensor2d(w.recurrentKernel, [w.units, 3 * w.units]), tf.tensor1d(bias)],
    });
    dims = w.units;
  });
  const head = body[body.length - 1]!;
  const dense = tf.layers.dense({ units: (head.getConfig()["units"] as number), activation: "softmax" });
  const out = dense.apply(x) as tf.SymbolicTensor;
  const twin = tf.model({ inputs: input, outputs: out });
  for (const a of assignments) {
    a.layer.setWeights(a.values);
    tf.dispose(a.values);
  }
  const hw = head.getWeights();
  dense.setWeights(hw);
  return { model: twin, exact };
}

/** A WindowClassifier over any tfjs model with the bundle's features (EmotionClassifier's path). */
function tfjsClassifier(bundle: LoadedBundle, model: tf.LayersModel): EmotionClassifier {
  return new EmotionClassifier({ ...bundle, model });
}

/** Windows of static steps from synthetic speech, for output comparisons. */
function sampleWindows(classifier: WindowClassifier, detect: DetectParams, n: number): Float32Array[] {
  const p = new Pipeline({ classifier, detect: { ...detect, energyGateDbfs: -200 }, startMs: 0 });
  const audio = new SyntheticSpeech(99, 1600);
  const out: Float32Array[] = [];
  while (out.length < n) for (const j of p.pushAudio(audio.next())) out.push(j.steps);
  return out.slice(0, n);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((v, i) => v.forEach((x, k) => (m = Math.max(m, Math.abs(x - b[i]![k]!)))));
  return m;
}

async function timedLoad(dir: string): Promise<{ bundle: LoadedBundle; ms: number }> {
  const t0 = nowMs();
  const bundle = await loadBundle(dir);
  return { bundle, ms: nowMs() - t0 };
}

export async function runPerformance(o: PerformanceOptions): Promise<PerformanceResults> {
  const notes: string[] = [];
  // The daemon's default backend choice (auto: node, then wasm, then cpu).
  const backend = await selectBackend("auto");
  let shippedDir = o.shippedDir;
  let source: "shipped" | "stand-in" = "shipped";
  if (!shippedDir || !existsSync(path.join(shippedDir, BUNDLE_FILE))) {
    shippedDir = path.join(o.workDir, "stand-in-egru");
    source = "stand-in";
    await writeStandIn(shippedDir);
    notes.push("models/earwitness-gru not found: measured an untrained egru of the same shape (64 units, 60 × 82, 6 classes, uint8)");
  }

  // The shipped configuration as the daemon runs it, in a process of its own (this one holds
  // tfjs for the comparisons): model load (verify hashes, read, build the classifier — as the
  // daemon starts), an hour of audio through the pipeline, its memory.
  const longTask = o.progress?.start("shipped configuration", o.longSeconds + 30, "s of audio");
  const proc = await runPipelineProcess(
    {
      config: o.config,
      modelDir: shippedDir,
      audioSeconds: o.longSeconds + 30,
      warmupSeconds: 30,
      chunkSamples: o.chunkSamples,
      seed: 1,
      memoryEverySec: 600,
      loads: 3,
    },
    (f) => longTask?.update(Math.round(f * (o.longSeconds + 30))),
  );
  longTask?.finish();
  const long = proc.run;
  if (proc.scream_problem) notes.push(proc.scream_problem);
  const loads = proc.load_ms;
  // Here, for the comparisons: the tfjs model (re-saving, the tfjs variants) and the daemon's classifier (the reference outputs).
  const shippedBundle = (await timedLoad(shippedDir)).bundle;
  const shipped = await loadBundleForEngine(shippedDir, o.config.model.backend);
  o.log(
    `shipped configuration: ${shippedBundle.meta.name} (${shippedBundle.meta.architecture.arch}, ${shippedBundle.meta.quantization}) on ${proc.engine}` +
      `${proc.engine === "tfjs" ? `/${backend}` : ""}, in its own process (tfjs loaded there: ${proc.tfjs_loaded ? "yes" : "no"})`,
  );
  const refWindows = sampleWindows(shipped.classifier, o.detect, 24);
  const refProbs = shipped.classifier.predict(refWindows);

  // Comparisons.
  const variants: VariantResult[] = [];
  const addVariant = (
    name: string,
    clf: WindowClassifier,
    meta: Pick<VariantResult, "engine" | "backend" | "bundle" | "layer" | "load_ms" | "bundle_bytes">,
    seconds: number,
  ): void => {
    const audioSeconds = seconds + Math.min(10, seconds / 4);
    const task = o.progress?.start(name, audioSeconds, "s of audio");
    const run: PipelineRun = runPipeline({
      classifier: clf,
      detect: o.detect,
      audioSeconds,
      chunkSamples: o.chunkSamples,
      seed: 2,
      warmupSeconds: Math.min(10, seconds / 4),
      progress: (f) => task?.update(Math.round(f * audioSeconds)),
    });
    task?.finish();
    variants.push({
      name,
      ...meta,
      audio_s: run.audio_s,
      rtf: run.rtf,
      features_ms_per_audio_s: run.features_ms_per_audio_s,
      infer_ms_per_window: run.infer_ms_per_window,
      infer_ms_per_audio_s: run.infer_ms_per_audio_s,
      decision_latency_ms: run.decision_latency_ms,
      max_prob_diff_vs_shipped: maxDiff(clf.predict(refWindows), refProbs),
    });
    o.log(`  ${name}: ${run.infer_ms_per_window.p50.toFixed(2)} ms/window (p50), RTF ${run.rtf.toFixed(4)} over ${run.audio_s} s`);
  };

  const quantized = shippedBundle.meta.quantization === "uint8";
  const otherDir = path.join(o.workDir, quantized ? "float32" : "uint8");
  await resave(shippedBundle, otherDir, !quantized);
  const dirs: Record<"uint8" | "float32", string> = quantized ? { uint8: shippedDir, float32: otherDir } : { uint8: otherDir, float32: shippedDir };
  const sizes = { uint8: await bundleBytes(dirs.uint8), float32: await bundleBytes(dirs.float32) };
  const isEgru = shippedBundle.meta.architecture.arch === "egru";
  const layerName = isEgru ? "EnhancedGRU" : "GRU";

  // Lean engine: both storages, and the stock-GRU twin.
  for (const q of ["uint8", "float32"] as const) {
    const l = await timedLoad(dirs[q]);
    const t0 = nowMs();
    const clf = LeanGruClassifier.fromBundle(l.bundle);
    const ms = l.ms + nowMs() - t0;
    addVariant(`lean ${layerName} ${q}`, clf, { engine: "lean", backend: null, bundle: q, layer: layerName, load_ms: ms, bundle_bytes: sizes[q] }, o.variantSeconds.lean);
    l.bundle.model.dispose();
  }

  const backends = await availableBackends();
  for (const b of backends) {
    await selectBackend(b);
    const seconds = o.variantSeconds[b];
    for (const q of ["uint8", "float32"] as const) {
      if (b === "cpu" && q === "float32") continue; // same arithmetic as uint8 once loaded; cpu is slow
      const l = await timedLoad(dirs[q]);
      const clf = new EmotionClassifier(l.bundle);
      addVariant(`tfjs/${b} ${layerName} ${q}`, clf, { engine: "tfjs", backend: b, bundle: q, layer: layerName, load_ms: l.ms, bundle_bytes: sizes[q] }, seconds);
      if (q === "uint8" && isEgru) {
        const twin = stockGruTwin(l.bundle.model);
        if (!twin.exact) notes.push("stock GRU twin: the EGRU's recurrent batch norm (per-step statistics, offset from step 1 on) has no exact stock-GRU equivalent; the twin uses the last step's statistics, so its outputs differ (max_prob_diff_vs_shipped)");
        addVariant(`tfjs/${b} GRU (stock layer) in-memory`, tfjsClassifier(l.bundle, twin.model), { engine: "tfjs", backend: b, bundle: "in-memory", layer: "GRU", load_ms: null, bundle_bytes: null }, seconds);
        if (b === backends[0]) {
          const lean = new LeanGruClassifier(l.bundle.meta.labels, l.bundle.meta.features, l.bundle.meta.normalisation, LeanGruNetwork.fromModel(twin.model));
          addVariant("lean GRU (stock layer) in-memory", lean, { engine: "lean", backend: null, bundle: "in-memory", layer: "GRU", load_ms: null, bundle_bytes: null }, o.variantSeconds.lean);
        }
        twin.model.dispose();
      }
      clf.dispose();
    }
  }
  await selectBackend(backend);
  notes.push(
    `audio per variant: lean ${o.variantSeconds.lean} s, tfjs/wasm ${o.variantSeconds.wasm} s, tfjs/node ${o.variantSeconds.node} s, tfjs/cpu ${o.variantSeconds.cpu} s (slow paths measured on fewer windows)`,
  );

  const mem = long.memory;
  const warm = mem[0]!;
  const hour = o.longSeconds >= 3600 ? mem.find((m) => m.audio_s >= 3600) ?? mem[mem.length - 1]! : null;
  const end = mem[mem.length - 1]!;
  shipped.dispose();
  shippedBundle.model.dispose();
  return {
    shipped: {
      source,
      dir: shippedDir,
      name: shippedBundle.meta.name,
      arch: shippedBundle.meta.architecture.arch,
      units: typeof shippedBundle.meta.architecture["units"] === "number" ? (shippedBundle.meta.architecture["units"] as number) : null,
      quantization: shippedBundle.meta.quantization,
      engine: proc.engine,
      backend,
      screams: proc.screams,
    },
    pipeline: {
      rtf: long.rtf,
      audio_s: long.audio_s,
      features_ms_per_audio_s: long.features_ms_per_audio_s,
      infer_ms_per_window: long.infer_ms_per_window,
      infer_ms_per_audio_s: long.infer_ms_per_audio_s,
      decide_ms_per_window: long.decide_ms_per_window,
      wall_s: long.wall_s,
    },
    decision_latency_ms: long.decision_latency_ms,
    rss_mb: { warm: warm.rss_mb, after_1h: hour?.rss_mb ?? null, end: end.rss_mb, max: Math.max(...mem.map((m) => m.rss_mb)) },
    heap_mb: { warm: warm.heap_mb, after_1h: hour?.heap_mb ?? null, end: end.heap_mb },
    memory_trace: mem,
    pipeline_process: { tfjs_loaded: proc.tfjs_loaded, exec_argv: proc.exec_argv, rss_split_mb: proc.rss_split_mb },
    bundle_bytes: await bundleBytes(shippedDir),
    model_load_ms: { first: loads[0]!, median_of_3: summarise(loads).p50 },
    backends_available: backends,
    variants,
    notes,
  };
}

/** Rounds every number in a result tree for the JSON file (3 significant digits). */
export function roundDeep<T>(x: T): T {
  if (typeof x === "number") return round3(x) as T;
  if (Array.isArray(x)) return x.map(roundDeep) as T;
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, roundDeep(v)])) as T;
  return x;
}

