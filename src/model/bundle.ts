/**
 * Saving and loading model bundles as tfjs LayersModels. What a bundle's files are and how they
 * are verified, without tfjs, is bundle-files.ts (re-exported here); the daemon runs recurrent
 * bundles from those files alone (assemble/model.ts loadBundleForEngine).
 */
import * as tf from "@tensorflow/tfjs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { BundleError } from "../errors.js";
import {
  BUNDLE_FILE,
  BUNDLE_FORMAT,
  bundleJsonBytes,
  CARD_FILE,
  checkModelShapes,
  MODEL_FILE,
  readBundle,
  selftestByLabel,
  sha256Hex,
  WEIGHTS_FILE,
  writeAtomic,
  type BundleFiles,
  type BundleMeta,
  type BundleMetaInput,
  type VerifiedBundle,
} from "./bundle-files.js";
import { quantizeArtifacts } from "./quantize.js";
import "./egru-cell.js"; // registers the custom layers before any model is deserialised
import "./stats-pooling.js";
import "./danger-head.js";

export * from "./bundle-files.js";

export interface LoadedBundle extends VerifiedBundle {
  model: tf.LayersModel;
}

/**
 * Saves `model` with its metadata; the `files` hashes and meta_sha256 are filled in here (a
 * meta_sha256 in `meta`, e.g. from a loaded bundle being re-saved, is recomputed). Each file is
 * written to a temp name and renamed.
 */
export async function saveBundle(
  dir: string,
  model: tf.LayersModel,
  meta: BundleMetaInput,
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
    selftest: selftestByLabel(meta.selftest, meta.labels),
    quantization: opts.quantize ? "uint8" : "float32",
    files: { [MODEL_FILE]: sha256Hex(modelBytes), [WEIGHTS_FILE]: sha256Hex(weightBytes) },
  };
  // Each file is written to a temporary name and renamed, bundle.json last: a reader never sees
  // a bundle.json that describes files not yet written. Other files in the directory (reports,
  // plots) are left alone; a model card (README.md) is covered by the hashes when present.
  await mkdir(dir, { recursive: true });
  const card = await readFile(path.join(dir, CARD_FILE)).catch(() => null);
  if (card) full.files[CARD_FILE] = sha256Hex(card);
  await writeAtomic(path.join(dir, MODEL_FILE), modelBytes);
  await writeAtomic(path.join(dir, WEIGHTS_FILE), weightBytes);
  const bytes = bundleJsonBytes(full);
  await writeAtomic(path.join(dir, BUNDLE_FILE), bytes);
  return JSON.parse(bytes.toString("utf8")) as BundleMeta;
}


/** Verifies the bundle (bundle-files.ts readBundle) and builds its tfjs model. */
export async function loadBundle(dir: string): Promise<LoadedBundle> {
  return buildLayersModel(await readBundle(dir));
}

/**
 * The tfjs model of a bundle whose files were read and verified (readBundle), with its shapes
 * checked against the bundle: MODEL_LOAD_FAILED when tfjs cannot build it, SHAPE_MISMATCH.
 */
export async function buildLayersModel(files: BundleFiles): Promise<LoadedBundle> {
  const { dir, meta, artifacts } = files;
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: artifacts.modelTopology,
        weightSpecs: artifacts.weightSpecs as tf.io.WeightsManifestEntry[],
        weightData: artifacts.weightData,
      }),
    );
  } catch (cause) {
    throw new BundleError("MODEL_LOAD_FAILED", `model bundle ${dir}: tfjs could not build the model (${(cause as Error).message}); the bundle may need a newer earwitness`, { cause });
  }
  const outShape = model.outputs[0]!.shape;
  try {
    checkModelShapes(dir, meta, model.inputs[0]!.shape, outShape[outShape.length - 1]);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { dir, meta, model, sha256: files.sha256 };
}
