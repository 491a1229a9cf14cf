/**
 * A model bundle's files without tfjs: the bundle.json schema and its verification (meta_sha256,
 * every field, every listed file's sha256, the feature spec), and model.json's weight manifest and
 * weights read into memory. The daemon loads recurrent bundles from here alone and runs them on the
 * lean engine (src/model/lean-gru.ts), so it never imports tfjs for them (docs/performance.md,
 * memory); bundle.ts builds a tfjs model from the same artifacts, after the same checks, and saves
 * bundles.
 */
import { createHash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { BundleError, FeatureError } from "../errors.js";
import { assertNormStats, type NormStats } from "../features/normalise.js";
import { assertSupportedSpec, modelDims, staticDims, windowSeconds, type FeatureSpec } from "../features/spec.js";

/**
 * The architectures a bundle may declare (architecture.arch), built by architectures.ts. Here,
 * not there, so that checking a bundle.json does not import tfjs.
 */
export const ARCHITECTURES = ["gru", "egru", "rescnn", "cnn", "lr", "pgru", "pegru", "cnnp"] as const;
export type Arch = (typeof ARCHITECTURES)[number];

export const BUNDLE_FORMAT = 1;
export const BUNDLE_FILE = "bundle.json";
export const MODEL_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";
export const CARD_FILE = "README.md";
/** The field of bundle.json that holds the sha256 of bundle.json's own content (see bundleMetaSha256). */
export const META_HASH_FIELD = "meta_sha256";

/** Writes `bytes` to a temporary name beside `file` and renames it over `file`. */
export async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

export interface CorpusInfo {
  name: string;
  licence: string;
  clips: number;
}

/** A known input and the output the model must reproduce (used by `model install`). */
export interface SelfTest {
  /** T × staticDims static steps. */
  steps: number[];
  /**
   * Each label's probability for `steps`, by label name (saveBundle writes it so), so that a label
   * list reordered after export no longer matches the outputs (issue #11 §5). Bundles written
   * before hold a list in label order; they are still read, but cannot catch a reordering.
   */
  expected: Record<string, number> | number[];
  tolerance: number;
}


/** `selftest` with `expected` keyed by label name (a list in label order is converted). */
export function selftestByLabel(selftest: SelfTest | null, labels: readonly string[]): SelfTest | null {
  if (selftest === null || !Array.isArray(selftest.expected) || selftest.expected.length !== labels.length) return selftest;
  const list = selftest.expected;
  return { ...selftest, expected: Object.fromEntries(labels.map((l, i) => [l, list[i]!])) };
}

export interface BundleMeta {
  format: number;
  name: string;
  version: string;
  created: string;
  architecture: { arch: Arch; [option: string]: unknown };
  labels: string[];
  danger: string[];
  features: FeatureSpec;
  normalisation: NormStats;
  window: { steps: number; seconds: number };
  training: { corpora: CorpusInfo[]; [field: string]: unknown };
  metrics: Record<string, unknown>;
  quantization: "uint8" | "float32";
  selftest: SelfTest | null;
  /** sha256 of every other file in the bundle. */
  files: Record<string, string>;
  /**
   * sha256 of bundle.json's own content without this field (bundleMetaSha256). Absent in bundles
   * written before it existed; verifyBundleFiles checks it when present.
   */
  meta_sha256?: string;
}


/** A bundle whose files were verified (verifyBundleFiles): what every engine starts from. */
export interface VerifiedBundle {
  dir: string;
  meta: BundleMeta;
  /** sha256 of bundle.json itself: identifies the exact bundle in alerts and logs. */
  sha256: string;
}

/** sha256 of `buf` as 64 lowercase hex digits. */
export const sha256Hex = (buf: Uint8Array | string): string => createHash("sha256").update(buf).digest("hex");
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The canonical serialisation of a JSON value: the value as JSON.parse would read it back from
 * JSON.stringify, serialised by JSON.stringify without whitespace, with every object's keys
 * sorted by UTF-16 code units (Array.prototype.sort's default order), recursively; arrays keep
 * their order. Numbers are written by JSON.stringify's shortest round-trip form, so a JSON tool
 * that re-indents the file, reorders keys or writes 1.50 for 1.5 does not change it, while any
 * changed value, added or removed key, or reordered array does.
 */
export function canonicalJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (typeof v === "object" && v !== null) {
      // Object.fromEntries defines own properties, so a key named "__proto__" stays a key.
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  // The JSON round trip first, so an in-memory object (undefined fields, NaN) hashes exactly as
  // the bundle.json written from it will when read back.
  const plain = JSON.parse(JSON.stringify(value) ?? "null") as unknown;
  return JSON.stringify(sortKeys(plain));
}

/** sha256 (hex) of canonicalJson(meta) without its META_HASH_FIELD: the value of that field. */
export function bundleMetaSha256(meta: object): string {
  const { [META_HASH_FIELD]: _omitted, ...rest } = meta as Record<string, unknown>;
  return sha256Hex(canonicalJson(rest));
}

/** bundle.json's bytes for `meta`, with META_HASH_FIELD (re)computed and written last. */
export function bundleJsonBytes(meta: BundleMeta): Buffer {
  const { [META_HASH_FIELD]: _stale, ...rest } = meta;
  const stamped: BundleMeta = { ...rest, [META_HASH_FIELD]: bundleMetaSha256(rest) };
  return Buffer.from(JSON.stringify(stamped, null, 2) + "\n");
}

/** What saveBundle takes: everything but what it fills in. */
export type BundleMetaInput = Omit<BundleMeta, "files" | "quantization" | "format" | "meta_sha256">;

/**
 * Metadata for an untrained bundle (the bench's stand-in model, test bundles): identity
 * normalisation (mean 0, std 1), no training corpora, no self-test; danger = angry and fear.
 */
export function untrainedBundleMeta(
  spec: FeatureSpec,
  labels: string[],
  o: { name: string; version: string; arch: Arch; units?: number; danger?: string[] },
): BundleMetaInput {
  const S = staticDims(spec);
  return {
    name: o.name,
    version: o.version,
    created: new Date(0).toISOString(),
    architecture: o.units === undefined ? { arch: o.arch } : { arch: o.arch, units: o.units },
    labels,
    danger: o.danger ?? labels.filter((l) => l === "angry" || l === "fear"),
    features: spec,
    normalisation: { mean: new Array<number>(S).fill(0), std: new Array<number>(S).fill(1), deltaStd: new Array<number>(S).fill(1) },
    window: { steps: spec.windowSteps, seconds: windowSeconds(spec) },
    training: { corpora: [] },
    metrics: {},
    selftest: null,
  };
}

export async function readOrThrow(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(path.join(dir, file));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "MISSING_FILE" : "UNREADABLE_FILE";
    throw new BundleError(code, `model bundle ${dir}: cannot read ${file} (${(cause as Error).message}); reinstall the bundle`, { cause });
  }
}

/**
 * Adds or refreshes the hashes of the named files in bundle.json (e.g. after writing the card)
 * and stamps meta_sha256. A bundle.json whose meta_sha256 no longer matches is refused
 * (META_MODIFIED), not re-stamped: re-stamping would bless the corruption the hash exists to catch.
 * One written before meta_sha256 existed gets it here.
 */
export async function rehashBundle(dir: string, files: string[] = [CARD_FILE]): Promise<void> {
  const bytes = await readOrThrow(dir, BUNDLE_FILE);
  const meta = checkMeta(dir, parseBundleJson(dir, bytes));
  for (const f of files) {
    if (!isPlainFileName(f)) throw new BundleError("BAD_FILE_NAME", `model bundle ${dir}: cannot list ${f}: bundle files are plain names in the bundle directory`);
    meta.files[f] = sha256Hex(await readOrThrow(dir, f));
  }
  await writeAtomic(path.join(dir, BUNDLE_FILE), bundleJsonBytes(meta));
}

const isPlainFileName = (f: string): boolean => f !== "" && f !== "." && f !== ".." && !f.includes("/") && !f.includes("\\");

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short description of a value found where another was expected, for BAD_METADATA messages. */
function got(v: unknown): string {
  if (v === undefined) return "missing";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  const text = JSON.stringify(v);
  return `got ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

/** Parses bundle.json, checks its format, and checks meta_sha256 when present. */
function parseBundleJson(dir: string, bytes: Buffer): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new BundleError("BAD_METADATA", `model bundle ${dir}: bundle.json is not valid JSON; reinstall the bundle`, { cause });
  }
  if (!isObject(raw)) throw new BundleError("BAD_METADATA", `model bundle ${dir}: bundle.json must hold a JSON object (${got(raw)}); reinstall the bundle`);
  // The format first: a newer format may hash its metadata differently, and "needs a newer
  // earwitness" is the true diagnosis there.
  if (raw.format !== BUNDLE_FORMAT) {
    throw new BundleError(
      "BAD_METADATA",
      `model bundle ${dir}: bundle.json is invalid: format ${String(raw.format)} (this earwitness reads format ${BUNDLE_FORMAT}); use a bundle made for this version or upgrade earwitness`,
    );
  }
  // No meta_sha256 is accepted: bundles written before it existed (training runs, installed
  // models) must keep loading. What this hash guards against is corruption and accidental edits
  // (an SD-card bit flip in the normalisation, labels reordered by hand), which leave the field in
  // place; deliberate tampering, which could as well delete or recompute it, is the signature's job.
  const recorded = raw[META_HASH_FIELD];
  if (recorded === undefined) return raw;
  if (typeof recorded !== "string" || !SHA256_HEX.test(recorded)) {
    throw new BundleError(
      "BAD_METADATA",
      `model bundle ${dir}: bundle.json is invalid: ${META_HASH_FIELD} must be 64 lowercase hex digits (${got(recorded)}); reinstall the bundle`,
    );
  }
  const actual = bundleMetaSha256(raw);
  if (actual !== recorded) {
    throw new BundleError(
      "META_MODIFIED",
      `model bundle ${dir}: bundle.json was changed after it was written (its content hashes to ${actual.slice(0, 12)}…, ${META_HASH_FIELD} records ${recorded.slice(0, 12)}…), ` +
        `so its labels, danger classes or normalisation may be corrupt; reinstall the bundle, or re-export it if you edited bundle.json on purpose`,
    );
  }
  return raw;
}

const QUANTIZATIONS: readonly string[] = ["uint8", "float32"];

/**
 * Checks the shape of every field of bundle.json that earwitness reads (the format was checked by
 * parseBundleJson), so a missing or malformed
 * field is a BAD_METADATA naming it, never a TypeError later. The feature spec and normalisation
 * numbers are checked in depth by assertSupportedSpec / assertNormStats, the self-test's contents
 * by runBundleSelftest; here only that they are objects.
 */
function checkMeta(dir: string, m: Record<string, unknown>): BundleMeta {
  const problems: string[] = [];
  const need = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  const nonEmptyString = (v: unknown): boolean => typeof v === "string" && v.length > 0;
  const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

  need(nonEmptyString(m.name), `name must be a non-empty string (${got(m.name)})`);
  need(nonEmptyString(m.version), `version must be a non-empty string (${got(m.version)})`);
  need(typeof m.created === "string", `created must be a date string (${got(m.created)})`);

  const arch = m.architecture;
  if (!isObject(arch)) problems.push(`architecture must be an object (${got(arch)})`);
  else need((ARCHITECTURES as readonly unknown[]).includes(arch.arch), `architecture.arch must be one of ${ARCHITECTURES.join(", ")} (${got(arch.arch)})`);

  const labels = m.labels;
  const labelsOk = Array.isArray(labels) && labels.length >= 2 && labels.every(nonEmptyString) && new Set(labels).size === labels.length;
  need(labelsOk, `labels must list at least two distinct class names (${got(labels)})`);
  const danger = m.danger;
  need(
    Array.isArray(danger) && danger.every((d) => typeof d === "string" && Array.isArray(labels) && labels.includes(d)),
    `danger classes must be a list of labels (${got(danger)})`,
  );

  need(isObject(m.features), `features must be an object (${got(m.features)})`);
  need(isObject(m.normalisation), `normalisation must be an object with mean, std and deltaStd (${got(m.normalisation)})`);

  const win = m.window;
  if (!isObject(win)) problems.push(`window must be an object with steps and seconds (${got(win)})`);
  else {
    need(Number.isInteger(win.steps) && (win.steps as number) > 0, `window.steps must be a positive integer (${got(win.steps)})`);
    need(finite(win.seconds) && win.seconds > 0, `window.seconds must be a positive number (${got(win.seconds)})`);
  }

  const training = m.training;
  if (!isObject(training)) problems.push(`training must be an object with corpora (${got(training)})`);
  else if (!Array.isArray(training.corpora)) problems.push(`training.corpora must be a list (${got(training.corpora)})`);
  else {
    training.corpora.forEach((c: unknown, i) => {
      const ok = isObject(c) && typeof c.name === "string" && typeof c.licence === "string" && Number.isInteger(c.clips) && (c.clips as number) >= 0;
      need(ok, `training.corpora[${i}] must have name, licence and a clip count`);
    });
  }

  need(isObject(m.metrics), `metrics must be an object (${got(m.metrics)})`);
  need(QUANTIZATIONS.includes(m.quantization as string), `quantization must be ${QUANTIZATIONS.join(" or ")} (${got(m.quantization)})`);
  need(m.selftest === null || isObject(m.selftest), `selftest must be an object, or null when the bundle carries none (${got(m.selftest)})`);

  const files = m.files;
  if (!isObject(files)) problems.push(`files must map file names to sha256 (${got(files)})`);
  else {
    need(typeof files[MODEL_FILE] === "string", `files must list ${MODEL_FILE} with its sha256`);
    for (const [file, hash] of Object.entries(files)) {
      if (!isPlainFileName(file)) problems.push(`files: ${JSON.stringify(file)} must be a plain file name, not a path`);
      else if (file === BUNDLE_FILE) problems.push(`files must not list ${BUNDLE_FILE} itself`);
      else need(typeof hash === "string" && SHA256_HEX.test(hash), `files.${file} must be a sha256 of 64 lowercase hex digits (${got(hash)})`);
    }
  }

  if (problems.length > 0) throw new BundleError("BAD_METADATA", `model bundle ${dir}: bundle.json is invalid: ${problems.join("; ")}; re-export or reinstall the bundle`);
  return m as unknown as BundleMeta;
}

/**
 * Verifies bundle.json's own hash (meta_sha256, when present), its fields, every listed file's
 * sha256 and the feature spec. Refuses a modified, truncated or malformed bundle with a specific
 * BundleError: META_MODIFIED, BAD_METADATA, MISSING_FILE, CHECKSUM_MISMATCH, UNSUPPORTED_FEATURES.
 */
export async function verifyBundleFiles(dir: string): Promise<{ meta: BundleMeta; sha256: string }> {
  const metaBytes = await readOrThrow(dir, BUNDLE_FILE);
  const meta = checkMeta(dir, parseBundleJson(dir, metaBytes));
  for (const [file, expected] of Object.entries(meta.files)) {
    const actual = sha256Hex(await readOrThrow(dir, file));
    if (actual !== expected) {
      throw new BundleError(
        "CHECKSUM_MISMATCH",
        `model bundle ${dir}: ${file} has sha256 ${actual.slice(0, 12)}…, bundle.json expects ${String(expected).slice(0, 12)}…; the file was changed or truncated — reinstall the bundle`,
      );
    }
  }
  try {
    assertSupportedSpec(meta.features);
    assertNormStats(meta.features, meta.normalisation);
  } catch (cause) {
    if (cause instanceof FeatureError) throw new BundleError("UNSUPPORTED_FEATURES", `model bundle ${dir}: ${cause.message}`, { cause });
    throw cause;
  }
  return { meta, sha256: sha256Hex(metaBytes) };
}

/**
 * One entry of model.json's weight manifest, in tfjs's format (tf.io.WeightsManifestEntry): the
 * weights are stored one after another in the manifest's order, each as its `quantization.dtype`
 * when quantized, else as its `dtype`.
 */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number; original_dtype?: string };
}

/** model.json's topology and weight manifest with the weight bytes: what tfjs or the lean engine builds a model from. */
export interface ModelArtifacts {
  /** The Keras JSON topology (`class_name`, `config`), as written. */
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  /** Every weight file of the manifest, concatenated in its order. */
  weightData: ArrayBuffer;
}

/** A verified bundle with its model's artifacts read. */
export interface BundleFiles extends VerifiedBundle {
  artifacts: ModelArtifacts;
}

/**
 * Reads model.json and the weight files its manifest names, after verifyBundleFiles: a malformed
 * model.json or a weight file bundle.json does not cover is refused (MODEL_LOAD_FAILED,
 * UNLISTED_FILE). What the weights mean is for the engine to check.
 */
export async function readModelArtifacts(dir: string, meta: BundleMeta): Promise<ModelArtifacts> {
  let modelJson: { modelTopology: Record<string, unknown>; weightsManifest: { paths: string[]; weights: WeightSpec[] }[] };
  try {
    modelJson = JSON.parse((await readOrThrow(dir, MODEL_FILE)).toString("utf8")) as typeof modelJson;
  } catch (cause) {
    if (cause instanceof BundleError) throw cause;
    throw new BundleError("MODEL_LOAD_FAILED", `model bundle ${dir}: ${MODEL_FILE} is not valid JSON; re-export the bundle`, { cause });
  }
  // model.json matched its sha256, so a malformed one was exported that way: say so, not TypeError.
  const groups: unknown = (modelJson as Partial<typeof modelJson> | null)?.weightsManifest;
  if (
    !isObject(modelJson) ||
    !isObject(modelJson.modelTopology) ||
    !Array.isArray(groups) ||
    !groups.every((g) => isObject(g) && Array.isArray(g.paths) && g.paths.every((p) => typeof p === "string") && Array.isArray(g.weights))
  ) {
    throw new BundleError("MODEL_LOAD_FAILED", `model bundle ${dir}: ${MODEL_FILE} lacks a modelTopology or a weightsManifest of paths and weights; re-export the bundle`);
  }
  const paths = modelJson.weightsManifest.flatMap((g) => g.paths);
  for (const p of paths) {
    if (!(p in meta.files)) throw new BundleError("UNLISTED_FILE", `model bundle ${dir}: ${p} is not covered by bundle.json's sha256 list`);
  }
  const buffers = await Promise.all(paths.map((p) => readOrThrow(dir, p)));
  const weightData = Buffer.concat(buffers);
  return {
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
  };
}

/** verifyBundleFiles, then readModelArtifacts: everything short of building the model. */
export async function readBundle(dir: string): Promise<BundleFiles> {
  const { meta, sha256 } = await verifyBundleFiles(dir);
  return { dir, meta, sha256, artifacts: await readModelArtifacts(dir, meta) };
}

/**
 * The model's input and output shapes against the bundle's feature spec, labels and window, for
 * any engine: SHAPE_MISMATCH when they disagree. `inShape` includes the batch dimension (null);
 * `outUnits` is the size of the output's last dimension.
 */
export function checkModelShapes(dir: string, meta: BundleMeta, inShape: readonly (number | null)[], outUnits: number | null | undefined): void {
  const F = modelDims(meta.features);
  const expectedIn = meta.architecture.arch === "rescnn" || meta.architecture.arch === "cnn" ? [null, meta.features.windowSteps, F, 1] : [null, meta.features.windowSteps, F];
  if (JSON.stringify(inShape) !== JSON.stringify(expectedIn)) {
    throw new BundleError(
      "SHAPE_MISMATCH",
      `model bundle ${dir}: the model expects input ${JSON.stringify(inShape)}, the feature spec gives ${JSON.stringify(expectedIn)}; re-export the bundle`,
    );
  }
  if (outUnits !== meta.labels.length) {
    throw new BundleError("SHAPE_MISMATCH", `model bundle ${dir}: the model has ${String(outUnits)} outputs for ${meta.labels.length} labels; re-export the bundle`);
  }
  if (Math.abs(meta.window.seconds - windowSeconds(meta.features)) > 1e-6 || meta.window.steps !== meta.features.windowSteps) {
    throw new BundleError("SHAPE_MISMATCH", `model bundle ${dir}: window ${JSON.stringify(meta.window)} disagrees with the feature spec`);
  }
}
