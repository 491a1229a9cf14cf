import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { BundleError, FeatureError } from "../errors.js";
import { assertNormStats, type NormStats } from "../features/normalise.js";
import { assertSupportedSpec, modelDims, windowSeconds, type FeatureSpec } from "../features/spec.js";
import { quantizeArtifacts } from "./quantize.js";
import "./egru-cell.js"; // registers the custom layers before any model is deserialised

export const BUNDLE_FORMAT = 1;
export const BUNDLE_FILE = "bundle.json";
export const MODEL_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";
export const CARD_FILE = "README.md";

async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

export type Arch = "gru" | "egru" | "rescnn" | "cnn";

export interface CorpusInfo {
  name: string;
  licence: string;
  clips: number;
}

/** A known input and the output the model must reproduce (used by `model install`). */
export interface SelfTest {
  /** T × staticDims static steps. */
  steps: number[];
  expected: number[];
  tolerance: number;
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
}

export interface LoadedBundle {
  dir: string;
  meta: BundleMeta;
  model: tf.LayersModel;
  /** sha256 of bundle.json itself: identifies the exact bundle in alerts and logs. */
  sha256: string;
}

const sha256 = (buf: Uint8Array): string => createHash("sha256").update(buf).digest("hex");

async function readOrThrow(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(path.join(dir, file));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "MISSING_FILE" : "UNREADABLE_FILE";
    throw new BundleError(code, `model bundle ${dir}: cannot read ${file} (${(cause as Error).message}); reinstall the bundle`, { cause });
  }
}

/** Saves `model` with its metadata; `files` hashes are filled in here. Writes via a temp dir + rename. */
export async function saveBundle(
  dir: string,
  model: tf.LayersModel,
  meta: Omit<BundleMeta, "files" | "quantization" | "format">,
  opts: { quantize: boolean },
): Promise<BundleMeta> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  if (!artifacts?.weightSpecs || !artifacts.weightData) throw new BundleError("SAVE_FAILED", "tfjs returned no weights while saving");
  let specs = artifacts.weightSpecs;
  let data = artifacts.weightData as ArrayBuffer;
  if (opts.quantize) ({ specs, data } = quantizeArtifacts(specs, data));
  const modelJson = {
    format: "layers-model",
    generatedBy: artifacts.generatedBy,
    convertedBy: "earwitness",
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
  };
  const modelBytes = Buffer.from(JSON.stringify(modelJson));
  const weightBytes = Buffer.from(data);
  const full: BundleMeta = {
    format: BUNDLE_FORMAT,
    ...meta,
    quantization: opts.quantize ? "uint8" : "float32",
    files: { [MODEL_FILE]: sha256(modelBytes), [WEIGHTS_FILE]: sha256(weightBytes) },
  };
  // Each file is written to a temporary name and renamed, bundle.json last: a reader never sees
  // a bundle.json that describes files not yet written. Other files in the directory (reports,
  // plots) are left alone; a model card (README.md) is covered by the hashes when present.
  await mkdir(dir, { recursive: true });
  const card = await readFile(path.join(dir, CARD_FILE)).catch(() => null);
  if (card) full.files[CARD_FILE] = sha256(card);
  await writeAtomic(path.join(dir, MODEL_FILE), modelBytes);
  await writeAtomic(path.join(dir, WEIGHTS_FILE), weightBytes);
  await writeAtomic(path.join(dir, BUNDLE_FILE), Buffer.from(JSON.stringify(full, null, 2) + "\n"));
  return full;
}

/** Adds or refreshes the hashes of the named files in bundle.json (e.g. after writing the card). */
export async function rehashBundle(dir: string, files: string[] = [CARD_FILE]): Promise<void> {
  const meta = JSON.parse((await readOrThrow(dir, BUNDLE_FILE)).toString("utf8")) as BundleMeta;
  for (const f of files) meta.files[f] = sha256(await readOrThrow(dir, f));
  await writeAtomic(path.join(dir, BUNDLE_FILE), Buffer.from(JSON.stringify(meta, null, 2) + "\n"));
}

function checkMeta(dir: string, raw: unknown): BundleMeta {
  const m = raw as Partial<BundleMeta>;
  const problems: string[] = [];
  if (m.format !== BUNDLE_FORMAT) problems.push(`format ${String(m.format)} (this earwitness reads format ${BUNDLE_FORMAT})`);
  if (typeof m.name !== "string" || !m.name) problems.push("name missing");
  if (typeof m.version !== "string" || !m.version) problems.push("version missing");
  if (!Array.isArray(m.labels) || m.labels.length < 2) problems.push("labels must list at least two classes");
  if (!Array.isArray(m.danger) || m.danger.some((d) => !m.labels?.includes(d)))
    problems.push("danger classes must be among the labels");
  if (typeof m.files !== "object" || m.files === null || !m.files[MODEL_FILE]) problems.push("files must list model.json with its sha256");
  if (problems.length > 0) throw new BundleError("BAD_METADATA", `model bundle ${dir}: bundle.json is invalid: ${problems.join("; ")}`);
  return m as BundleMeta;
}

/**
 * Verifies every file's sha256, the metadata, the feature spec and the model's shapes, then
 * loads it. Refuses a tampered, truncated or mismatched bundle with a specific BundleError.
 */
export async function verifyBundleFiles(dir: string): Promise<{ meta: BundleMeta; sha256: string }> {
  const metaBytes = await readOrThrow(dir, BUNDLE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(metaBytes.toString("utf8"));
  } catch (cause) {
    throw new BundleError("BAD_METADATA", `model bundle ${dir}: bundle.json is not valid JSON; reinstall the bundle`, { cause });
  }
  const meta = checkMeta(dir, raw);
  for (const [file, expected] of Object.entries(meta.files)) {
    if (file.includes("/") || file.includes("\\") || file === "..") {
      throw new BundleError("BAD_METADATA", `model bundle ${dir}: file name ${file} must not contain a path`);
    }
    const actual = sha256(await readOrThrow(dir, file));
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
  return { meta, sha256: sha256(metaBytes) };
}

export async function loadBundle(dir: string): Promise<LoadedBundle> {
  const { meta, sha256: bundleSha } = await verifyBundleFiles(dir);
  const modelJson = JSON.parse((await readOrThrow(dir, MODEL_FILE)).toString("utf8")) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const paths = modelJson.weightsManifest.flatMap((g) => g.paths);
  for (const p of paths) {
    if (!(p in meta.files)) throw new BundleError("UNLISTED_FILE", `model bundle ${dir}: ${p} is not covered by bundle.json's sha256 list`);
  }
  const buffers = await Promise.all(paths.map((p) => readOrThrow(dir, p)));
  const weightData = Buffer.concat(buffers);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
      }),
    );
  } catch (cause) {
    throw new BundleError("MODEL_LOAD_FAILED", `model bundle ${dir}: tfjs could not build the model (${(cause as Error).message}); the bundle may need a newer earwitness`, { cause });
  }
  const inShape = model.inputs[0]!.shape;
  const outShape = model.outputs[0]!.shape;
  const F = modelDims(meta.features);
  const expectedIn = meta.architecture.arch === "rescnn" || meta.architecture.arch === "cnn" ? [null, meta.features.windowSteps, F, 1] : [null, meta.features.windowSteps, F];
  if (JSON.stringify(inShape) !== JSON.stringify(expectedIn)) {
    model.dispose();
    throw new BundleError(
      "SHAPE_MISMATCH",
      `model bundle ${dir}: the model expects input ${JSON.stringify(inShape)}, the feature spec gives ${JSON.stringify(expectedIn)}; re-export the bundle`,
    );
  }
  if (outShape[outShape.length - 1] !== meta.labels.length) {
    model.dispose();
    throw new BundleError("SHAPE_MISMATCH", `model bundle ${dir}: the model has ${String(outShape[outShape.length - 1])} outputs for ${meta.labels.length} labels; re-export the bundle`);
  }
  if (Math.abs(meta.window.seconds - windowSeconds(meta.features)) > 1e-6 || meta.window.steps !== meta.features.windowSteps) {
    model.dispose();
    throw new BundleError("SHAPE_MISMATCH", `model bundle ${dir}: window ${JSON.stringify(meta.window)} disagrees with the feature spec`);
  }
  return { dir, meta, model, sha256: bundleSha };
}
