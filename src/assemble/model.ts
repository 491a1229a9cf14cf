/**
 * The assembly room's model half: which bundle a configuration runs (the installed current one,
 * its previous, the shipped one), loading it on the configured backend, every check of the bundle
 * against the configuration, the engine (lean or tfjs), the running adaptation and the pipeline.
 * The daemon, replay, eval, calibrate, bench, doctor and model install all build models here, so
 * what a tool measures is what the daemon runs. Must not own what runs the model (the daemon).
 */
import { access, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/schema.js";
import { RunningAdaptation } from "../features/adaptation.js";
import type { AdaptedStats } from "../features/normalise.js";
import { stepMs } from "../features/spec.js";
import { pipelineOptions } from "../config/detect-params.js";
import { ConfigError, EarwitnessError } from "../errors.js";
import { SCREAM_LABEL } from "../label-map.js";
// Values from tfjs modules (bundle.js, classifier.js, backend.js) are imported dynamically, and
// only for a bundle the lean engine cannot run: the daemon's process then never loads tfjs
// (docs/performance.md, memory). Types are erased.
import type { BackendRequest } from "../model/backend.js";
import type { LoadedBundle } from "../model/bundle.js";
import { checkModelShapes, readBundle, type BundleFiles, type BundleMeta, type VerifiedBundle } from "../model/bundle-files.js";
import { leanNetworkFromArtifacts } from "../model/lean-artifacts.js";
import { assertLeanArch, LeanGruClassifier, LeanUnsupportedError } from "../model/lean-gru.js";
import { currentModel, previousModel } from "../model/store.js";
import { shippedModelDir, shippedScreamModelDir } from "./paths.js";
import { Pipeline, type PipelineOptions, type WindowClassifier } from "../pipeline.js";
import type { Logger } from "../log.js";

/**
 * Which model runs: an explicit directory (flag, then `model.dir`), else the one `earwitness
 * model install` made current in the state directory, else the model shipped in the package.
 */
export async function resolveModelDir(config: Config, overrideDir?: string): Promise<string> {
  if (overrideDir) return overrideDir;
  if (config.model.dir) return config.model.dir;
  const installed = await currentModel(config.state_dir).catch(() => null);
  return installed?.dir ?? shippedModelDir();
}

/**
 * The models the daemon may run, in order of preference: an explicit `model.dir`, else the
 * installed current one, then `previous`; the shipped model last, always. The daemon takes the
 * first that loads and fits the configuration, and says so when it was not the first.
 */
export async function modelCandidates(config: Config): Promise<{ dir: string; what: string }[]> {
  const out: { dir: string; what: string }[] = [];
  if (config.model.dir) {
    out.push({ dir: config.model.dir, what: "configured (model.dir)" });
  } else {
    const installed = await currentModel(config.state_dir).catch(() => null);
    if (installed) out.push({ dir: installed.dir, what: "installed current" });
    const previous = await previousModel(config.state_dir).catch(() => null);
    if (previous) out.push({ dir: previous.dir, what: "installed previous" });
  }
  const shipped = shippedModelDir();
  if (!out.some((c) => path.resolve(c.dir) === path.resolve(shipped))) out.push({ dir: shipped, what: "shipped" });
  return out;
}

/**
 * What `run` and SIGHUP check before they use a configuration, for `config check` to say the
 * same (issue #11 §6): an explicit model.dir must exist, and the model that would run must fit
 * the configuration (danger labels, hop). Returns issues, empty when fine.
 */
export async function checkConfigForStart(config: Config): Promise<string[]> {
  const issues: string[] = [];
  if (config.model.dir) {
    try {
      await access(config.model.dir);
    } catch (err) {
      issues.push(`model.dir ${config.model.dir} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return issues;
    }
  }
  const [first] = await modelCandidates(config);
  if (!first) return issues;
  let bundle: RunnableBundle;
  try {
    // As the daemon loads it: the lean engine without tfjs where it can.
    bundle = await loadBundleForEngine(first.dir, config.model.backend);
  } catch (err) {
    issues.push(`the ${first.what} model (${first.dir}) cannot be loaded: ${(err as Error).message}`);
    return issues;
  }
  try {
    checkModelFitsConfig(config, bundle);
  } catch (err) {
    if (err instanceof ConfigError) issues.push(...err.issues);
    else throw err;
  } finally {
    bundle.dispose();
  }
  return issues;
}

/** Loads the configured model as a tfjs model, on the configured backend (for the tools that need one). */
export async function loadConfiguredModel(config: Config, overrideDir?: string): Promise<LoadedBundle> {
  const [{ selectBackend }, { loadBundle }] = await Promise.all([import("../model/backend.js"), import("../model/bundle.js")]);
  await selectBackend(config.model.backend === "auto" ? undefined : config.model.backend);
  return loadBundle(await resolveModelDir(config, overrideDir));
}

/**
 * The danger labels of the config must exist in the model, or the unit could never alert: a
 * startup error, not a silent zero.
 */
export function checkModelFitsConfig(config: Config, bundle: VerifiedBundle): void {
  // The hop must be a whole number of the model's feature steps, or every chunk would throw.
  const step = stepMs(bundle.meta.features);
  const hopMs = config.detect.hop_s * 1000;
  const hop = hopMs / step;
  if (Math.abs(hop - Math.round(hop)) > 1e-6 || Math.round(hop) < 1) {
    const issue = `detect.hop_s (${config.detect.hop_s}) must be a whole number of model ${bundle.meta.name}'s ${step} ms feature steps (e.g. ${(Math.max(1, Math.round(hop)) * step) / 1000})`;
    throw new ConfigError("INVALID_CONFIG", issue, { issues: [issue] });
  }
  const missing = config.detect.danger.labels.filter((l) => !bundle.meta.labels.includes(l));
  if (missing.length > 0) {
    throw new ConfigError(
      "INVALID_CONFIG",
      `detect.danger.labels names ${missing.join(", ")}, which model ${bundle.meta.name} does not know (its labels: ${bundle.meta.labels.join(", ")})`,
      { issues: [`detect.danger.labels: ${missing.join(", ")} not among the model's labels ${bundle.meta.labels.join(", ")}`] },
    );
  }
}

/**
 * The scream branch's bundle (detect.screams.model_dir) must have a `scream` class, which is its
 * whole danger score, or the branch could never alert; and it must read the same features as the
 * speech model, because the pipeline runs both on the same windows (one front end). Either is a
 * start-up error naming what to fix.
 */
export function checkScreamModelFitsConfig(
  config: Config,
  scream: Pick<BundleMeta, "name" | "labels" | "features">,
  speech: Pick<BundleMeta, "name" | "features">,
): void {
  const where = config.detect.screams.model_dir === null ? "the shipped scream model (detect.screams)" : `detect.screams.model_dir (${config.detect.screams.model_dir})`;
  if (!scream.labels.includes(SCREAM_LABEL)) {
    const issue = `${where}: model ${scream.name} has no "${SCREAM_LABEL}" class (its labels: ${scream.labels.join(", ")}); point it at a home model that hears screams, or set it to null`;
    throw new ConfigError("INVALID_CONFIG", issue, { issues: [issue] });
  }
  if (JSON.stringify(scream.features) !== JSON.stringify(speech.features)) {
    const issue = `${where}: model ${scream.name} reads other features than model ${speech.name}, and both must analyse the same windows; use a scream model trained on ${speech.name}'s feature spec`;
    throw new ConfigError("INVALID_CONFIG", issue, { issues: [issue] });
  }
}

/** The classifier that runs a loaded bundle, and how to release it. */
export interface BundleClassifier {
  classifier: WindowClassifier;
  /** "lean": src/model/lean-gru.ts; "tfjs": EmotionClassifier on the selected backend. */
  engine: "lean" | "tfjs";
  dispose(): void;
}

/**
 * Bundles of every architecture but the image CNNs (gru, egru, pgru, pegru, lr, cnnp) run on the
 * lean implementation, which gives tfjs's outputs within 1e-4 (test/unit/model/lean-gru.test.ts),
 * for the recurrent ones at a fraction of the CPU (docs/performance.md); any model it does not
 * cover (the image CNNs cnn and rescnn) falls back to tfjs, with no configuration either way.
 * For a bundle already loaded into tfjs; the daemon and the tools' loadModelHandle use
 * loadBundleForEngine, which loads tfjs only when the lean engine cannot read the bundle's files.
 */
export async function createClassifier(bundle: LoadedBundle, log?: Logger): Promise<BundleClassifier> {
  try {
    const lean = LeanGruClassifier.fromBundle(bundle);
    log?.info({ engine: "lean", model: bundle.meta.name }, "classifier ready");
    // The lean copy holds its own weights; dispose() still releases the tfjs model.
    return { classifier: lean, engine: "lean", dispose: () => bundle.model.dispose() };
  } catch (err) {
    if (!(err instanceof LeanUnsupportedError)) throw err;
    log?.info({ engine: "tfjs", model: bundle.meta.name, reason: err.message }, "classifier ready");
    const { EmotionClassifier } = await import("../model/classifier.js");
    const clf = new EmotionClassifier(bundle);
    return { classifier: clf, engine: "tfjs", dispose: () => clf.dispose() };
  }
}

/** A verified bundle with the engine that runs it. */
export interface RunnableBundle extends VerifiedBundle, BundleClassifier {
  /** Whether tfjs had to be loaded for this bundle (never for the bundles earwitness trains as gru, egru, pgru, pegru, lr, cnnp). */
  tfjs: boolean;
}

/**
 * Verifies the bundle in `dir` and readies the engine that runs it — what the daemon, the scream
 * branch, the tools' loadModelHandle and `config check` load models with. The files of a
 * recurrent, lr or cnnp bundle are read into the lean engine without tfjs (model/lean-artifacts.ts:
 * the same weights tfjs would load, bit for bit); only a bundle that reader does not cover (the
 * image CNNs, a topology it does not know) loads tfjs, on `backend` (config model.backend: "auto"
 * defers to EARWITNESS_BACKEND, then node, wasm, cpu), and then runs as createClassifier decides. So `backend` matters only for
 * such bundles, and a backend that cannot load is an error only when one needs it.
 *
 * Refusals are those of loadBundle: META_MODIFIED, BAD_METADATA, MISSING_FILE, CHECKSUM_MISMATCH,
 * UNSUPPORTED_FEATURES, UNLISTED_FILE, MODEL_LOAD_FAILED, SHAPE_MISMATCH, and the backend's own
 * (BACKEND_UNAVAILABLE, BACKEND_INIT_FAILED) when tfjs is needed.
 */
export async function loadBundleForEngine(dir: string, backend: BackendRequest, log?: Logger): Promise<RunnableBundle> {
  const files = await readBundle(dir);
  const { meta } = files;
  let why: string;
  try {
    assertLeanArch(meta);
    const net = leanNetworkFromArtifacts(files.artifacts);
    checkModelShapes(dir, meta, [null, net.steps, net.features], net.classes);
    const classifier = LeanGruClassifier.forBundle(meta, net);
    log?.info({ engine: "lean", model: meta.name, tfjs: false }, "classifier ready");
    return { dir, meta, sha256: files.sha256, classifier, engine: "lean", tfjs: false, dispose: () => undefined };
  } catch (err) {
    if (!(err instanceof LeanUnsupportedError)) throw err;
    why = err.message;
  }
  log?.info({ model: meta.name, backend, reason: why }, "the lean engine cannot read this bundle's files; loading tfjs");
  return { ...(await loadOnTfjs(files, backend, log)), tfjs: true };
}

/**
 * An error of the configured tfjs backend (BACKEND_UNAVAILABLE, BACKEND_INIT_FAILED from
 * model/backend.ts), which is the unit's configuration or installation at fault, not the bundle's.
 */
export function isBackendError(err: unknown): boolean {
  return err instanceof EarwitnessError && (err.code === "BACKEND_UNAVAILABLE" || err.code === "BACKEND_INIT_FAILED");
}

/** The tfjs half of loadBundleForEngine. */
async function loadOnTfjs(files: BundleFiles, backend: BackendRequest, log?: Logger): Promise<VerifiedBundle & BundleClassifier> {
  const [{ selectBackend }, { buildLayersModel }] = await Promise.all([import("../model/backend.js"), import("../model/bundle.js")]);
  await selectBackend(backend === "auto" ? undefined : backend, log);
  const loaded = await buildLayersModel(files);
  const made = await createClassifier(loaded, log);
  return { dir: loaded.dir, meta: loaded.meta, sha256: loaded.sha256, ...made };
}

/** The scream branch's model (detect.screams), ready for the pipeline. */
export interface ScreamModel {
  classifier: WindowClassifier;
  info: { name: string; version: string; sha256: string };
  dir: string;
  dispose(): void;
}

/** A loaded speech model with the scream branch's model the configuration asks for. */
export interface OpenModel {
  bundle: VerifiedBundle;
  classifier: WindowClassifier;
  engine: "lean" | "tfjs";
  /** Null when `detect.screams.enabled` is false or the scream model could not be used. */
  screams: ScreamModel | null;
  /** Why the scream branch is off although enabled (a damaged bundle, say); null otherwise. */
  screamProblem: string | null;
  dispose(): void;
}

/**
 * The scream branch's model when `detect.screams.enabled`: the bundle at `detect.screams.model_dir`,
 * else the one shipped in the package. A configured bundle that does not fit (no scream class,
 * other features than the speech model) is the configuration's fault: a ConfigError, as for the
 * danger labels. Anything else — a damaged or missing bundle, or the shipped scream model not
 * fitting an installed speech model that reads other features — must not silence the unit: the
 * speech branch runs alone and `problem` says why (the daemon raises it with the model fallback).
 */
export async function loadScreamModel(
  config: Config,
  speech: Pick<BundleMeta, "name" | "features">,
  log?: Logger,
): Promise<{ model: ScreamModel | null; problem: string | null }> {
  if (!config.detect.screams.enabled) return { model: null, problem: null };
  const configured = config.detect.screams.model_dir;
  const dir = configured ?? shippedScreamModelDir();
  let bundle: RunnableBundle;
  try {
    bundle = await loadBundleForEngine(dir, config.model.backend, log);
  } catch (err) {
    const problem = `scream branch off: the scream model (${dir}) cannot be loaded: ${(err as Error).message}`;
    log?.error({ err, model: dir }, problem);
    return { model: null, problem };
  }
  try {
    checkScreamModelFitsConfig(config, bundle.meta, speech);
  } catch (err) {
    bundle.dispose();
    if (configured !== null) throw err;
    // The shipped scream model beside a speech model it does not fit (an installed one with other
    // features): a known limit, said as a problem, not an error of this unit.
    const problem = `scream branch off: ${(err as Error).message}`;
    log?.warn({ model: dir }, problem);
    return { model: null, problem };
  }
  log?.info({ model: bundle.meta.name, version: bundle.meta.version, dir }, "scream branch on");
  return {
    model: { classifier: bundle.classifier, info: { name: bundle.meta.name, version: bundle.meta.version, sha256: bundle.sha256 }, dir, dispose: bundle.dispose },
    problem: null,
  };
}

/**
 * A checked speech bundle ready on its engine (loadBundleForEngine) with the scream model the
 * configuration asks for; dispose() releases both.
 */
export async function openModel(config: Config, bundle: RunnableBundle, log?: Logger): Promise<OpenModel> {
  let screams: Awaited<ReturnType<typeof loadScreamModel>>;
  try {
    screams = await loadScreamModel(config, bundle.meta, log);
  } catch (err) {
    bundle.dispose();
    throw err;
  }
  return {
    bundle: { dir: bundle.dir, meta: bundle.meta, sha256: bundle.sha256 },
    classifier: bundle.classifier,
    engine: bundle.engine,
    screams: screams.model,
    screamProblem: screams.problem,
    dispose: () => {
      screams.model?.dispose();
      bundle.dispose();
    },
  };
}

/**
 * What every tool runs (replay, calibrate, bench): the configured model (or `overrideDir`) on the
 * configured backend, checked against the configuration, on the engine and with the scream branch
 * the daemon would use. The daemon itself adds its fallbacks (src/daemon/real-deps.ts).
 */
export async function loadModelHandle(config: Config, overrideDir?: string, warn?: (message: string) => void): Promise<OpenModel> {
  const bundle = await loadBundleForEngine(await resolveModelDir(config, overrideDir), config.model.backend);
  try {
    checkModelFitsConfig(config, bundle);
  } catch (err) {
    bundle.dispose();
    throw err;
  }
  // Quiet (a tool's output is its report, on stdout); only a scream branch that cannot run is
  // said, through `warn` (the tools write it on stderr).
  const model = await openModel(config, bundle);
  if (model.screamProblem) warn?.(model.screamProblem);
  return model;
}

export function buildPipeline(
  config: Config,
  model: { classifier: WindowClassifier; screams?: { classifier: WindowClassifier } | null },
  startMs: number,
  adaptation: PipelineOptions["adaptation"] = null,
): Pipeline {
  return new Pipeline({ ...pipelineOptions(config, model, adaptation), startMs });
}

/**
 * Fresh (in-memory, nothing heard yet) running statistics for this bundle, when the configuration
 * enables adaptation and the bundle is normalised per speaker; null otherwise.
 */
export function newRunningAdaptation(config: Config, bundle: VerifiedBundle): RunningAdaptation | null {
  if (!config.adaptation.enabled || bundle.meta.features.norm !== "speaker") return null;
  return new RunningAdaptation(bundle.meta.normalisation, {
    halfLifeH: config.adaptation.half_life_h,
    maxWeight: config.adaptation.max_weight,
    warmupS: config.adaptation.warmup_min * 60,
    stepMs: stepMs(bundle.meta.features),
  });
}

/** The adaptation a pipeline uses, with persistence in the state directory. */
export interface DeviceAdaptation {
  current(): AdaptedStats | null;
  observe(step: Float32Array): void;
  save(): Promise<void>;
  reset(): Promise<void>;
}

/** Voiced steps between saves (10 minutes of speech at 50 ms steps). */
const ADAPTATION_SAVE_EVERY_STEPS = 12_000;

/** The tail of the file operations (load, save, delete) queued on each statistics file. */
const fileTurns = new Map<string, Promise<void>>();

/**
 * Runs `op` on `file` after every operation queued on it before, across all DeviceAdaptations of
 * that file (during a reload the old model saves its statistics while the new one loads them).
 * Without this a save already writing when a reset deletes the file would rename its temporary
 * file into place afterwards and bring the forgotten statistics back at the next start.
 */
function inTurn(file: string, op: () => Promise<void>): Promise<void> {
  const result = (fileTurns.get(file) ?? Promise.resolve()).then(op);
  const tail = result.catch(() => undefined);
  fileTurns.set(file, tail);
  void tail.then(() => {
    if (fileTurns.get(file) === tail) fileTurns.delete(file);
  });
  return result;
}

/**
 * Running adaptation for bundles normalised per speaker, when `adaptation.enabled`; null
 * otherwise (other normalisations have nothing to adapt). Statistics persist in
 * `<state_dir>/adaptation-<model name>.json` (numbers only, never audio) so a restart does not
 * forget the wearer; `reset()` forgets them.
 */
export async function createAdaptation(config: Config, bundle: VerifiedBundle, log?: Logger): Promise<DeviceAdaptation | null> {
  const running = newRunningAdaptation(config, bundle);
  if (!running) return null;
  const file = path.join(config.state_dir, `adaptation-${bundle.meta.name}.json`);
  let restored = false;
  await inTurn(file, async () => {
    restored = await running.load(file);
  });
  log?.info({ file, restored, voicedSteps: Math.round(running.observedSteps) }, "adaptation to this unit's voice and microphone");
  let sinceSave = 0;
  const save = (): Promise<void> => {
    sinceSave = 0;
    // The statistics are read when this save's turn comes, not now: after a reset, a save that
    // was waiting writes only what was heard since.
    return inTurn(file, async () => {
      await mkdir(config.state_dir, { recursive: true });
      await running.save(file);
    });
  };
  return {
    current: () => running.current(),
    observe: (step) => {
      running.observe(step);
      if (++sinceSave >= ADAPTATION_SAVE_EVERY_STEPS) {
        save().catch((err: unknown) => log?.warn({ err: (err as Error).message, file }, "cannot save adaptation statistics"));
      }
    },
    save,
    reset: () => {
      // Memory first, at once: the next window is normalised without the old statistics and any
      // save from now on writes only what is heard after the reset.
      running.reset();
      sinceSave = 0;
      return inTurn(file, () => rm(file, { force: true }));
    },
  };
}
