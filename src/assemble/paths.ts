import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root, whether running from src/ (tests, tsx) or dist/src/ (installed). */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const parts = here.split(path.sep);
  const i = parts.lastIndexOf("src");
  const root = parts.slice(0, i).join(path.sep) || path.sep;
  return path.basename(root) === "dist" ? path.dirname(root) : root;
}

/** Directory of the model shipped in the package. */
export const SHIPPED_MODEL_NAME = "earwitness-gru";
/** The scream branch's model in the package (docs/detection.md, "Two branches"). */
export const SHIPPED_SCREAM_MODEL_NAME = "earwitness-screams";
export function shippedModelDir(): string {
  return path.join(packageRoot(), "models", SHIPPED_MODEL_NAME);
}

/** The scream branch's model shipped in the package (detect.screams with model_dir null). */
export function shippedScreamModelDir(): string {
  return path.join(packageRoot(), "models", SHIPPED_SCREAM_MODEL_NAME);
}

/**
 * The architecture of the shipped model, read from its bundle.json: what `train` builds when no
 * --arch is given, so that shipping another model changes the default with it.
 */
export async function shippedModelArch(dir = shippedModelDir()): Promise<string> {
  const meta = JSON.parse(await readFile(path.join(dir, "bundle.json"), "utf8")) as { architecture?: { arch?: unknown } };
  const arch = meta.architecture?.arch;
  if (typeof arch !== "string") throw new Error(`${dir}/bundle.json names no architecture.arch`);
  return arch;
}
