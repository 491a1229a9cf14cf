import type { Config } from "../config/schema.js";
import { detectParamsFromConfig } from "../config/detect-params.js";
import { ConfigError } from "../errors.js";
import { loadBundle, type LoadedBundle } from "../model/bundle.js";
import { EmotionClassifier } from "../model/classifier.js";
import { selectBackend } from "../model/backend.js";
import { currentModel } from "../model/store.js";
import { shippedModelDir } from "../cli/paths.js";
import { Pipeline, type PipelineOptions } from "../pipeline.js";

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

/** Loads the configured model on the configured backend. */
export async function loadConfiguredModel(config: Config, overrideDir?: string): Promise<LoadedBundle> {
  await selectBackend(config.model.backend === "auto" ? undefined : config.model.backend);
  return loadBundle(await resolveModelDir(config, overrideDir));
}

/**
 * The danger labels of the config must exist in the model, or the unit could never alert: a
 * startup error, not a silent zero.
 */
export function checkModelFitsConfig(config: Config, bundle: LoadedBundle): void {
  const missing = config.detect.danger.labels.filter((l) => !bundle.meta.labels.includes(l));
  if (missing.length > 0) {
    throw new ConfigError(
      "INVALID_CONFIG",
      `detect.danger.labels names ${missing.join(", ")}, which model ${bundle.meta.name} does not know (its labels: ${bundle.meta.labels.join(", ")})`,
      { issues: [`detect.danger.labels: ${missing.join(", ")} not among the model's labels ${bundle.meta.labels.join(", ")}`] },
    );
  }
}

export function buildPipeline(
  config: Config,
  classifier: EmotionClassifier,
  startMs: number,
  adaptation: PipelineOptions["adaptation"] = null,
): Pipeline {
  return new Pipeline({ classifier, detect: detectParamsFromConfig(config.detect), startMs, adaptation });
}
