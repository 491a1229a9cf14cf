/** The `detect` config slice, in seconds, turned into the detector's parameters in milliseconds, and the pipeline's options from a config and a model: one derivation for the daemon and every tool. */
import { buildDangerWeights } from "../detect/danger.js";
import type { BranchSpec } from "../detect/any-branch.js";
import type { DetectParams, SmoothingSpec } from "../detect/params.js";
import { SCREAM_LABEL } from "../label-map.js";
import type { PipelineOptions, WindowClassifier } from "../pipeline.js";
import type { Config, DetectConfig } from "./schema.js";

export function detectParamsFromConfig(detect: DetectConfig): DetectParams {
  return {
    hopMs: Math.round(detect.hop_s * 1000),
    energyGateDbfs: detect.energy_gate_dbfs,
    smoothing: smoothingOf(detect),
    dangerWeights: buildDangerWeights(detect.danger.labels, detect.danger.weights),
    ...branchAlertParams(detect, detect),
  };
}

type BranchSettings = Pick<DetectConfig, "smoothing" | "enter_threshold" | "exit_threshold" | "k" | "n" | "min_duration_s">;

function smoothingOf(b: BranchSettings): SmoothingSpec {
  return b.smoothing.method === "none" ? { method: "none" } : { method: b.smoothing.method, windows: b.smoothing.windows };
}

/** A branch's own thresholds, k of n and minimum duration; hold, cooldown and max duration are detect's, shared. */
function branchAlertParams(b: BranchSettings, detect: DetectConfig) {
  return {
    enterThreshold: b.enter_threshold,
    exitThreshold: b.exit_threshold,
    k: b.k,
    n: b.n,
    minDurationMs: Math.round(b.min_duration_s * 1000),
    holdMs: Math.round(detect.hold_s * 1000),
    cooldownMs: Math.round(detect.cooldown_s * 1000),
    maxAlertMs: Math.round(detect.max_alert_s * 1000),
  };
}

/**
 * The scream branch's parameters, or null when `detect.screams.enabled` is false (no branch).
 * Its danger is the second model's `scream` class alone; hold, cooldown and max duration are
 * detect's own, shared by both branches (schema.ts ScreamBranchSchema says why).
 */
export function screamBranchFromConfig(detect: DetectConfig): BranchSpec | null {
  const s = detect.screams;
  if (!s.enabled) return null;
  return {
    name: "screams",
    smoothing: smoothingOf(s),
    alert: { dangerWeights: { [SCREAM_LABEL]: 1 }, ...branchAlertParams(s, detect) },
  };
}

/** The scream branch for a pipeline: its model and its decision settings, or null when off. */
export function screamBranchOf(config: Config, screams: { classifier: WindowClassifier } | null | undefined): PipelineOptions["screams"] {
  const branch = screamBranchFromConfig(config.detect);
  return screams && branch ? { classifier: screams.classifier, branch, gateSpeech: config.detect.screams.gate_speech } : null;
}

/** The pipeline's options for a model and configuration, as the daemon and every tool build them. */
export function pipelineOptions(
  config: Config,
  model: { classifier: WindowClassifier; screams?: { classifier: WindowClassifier } | null },
  adaptation: PipelineOptions["adaptation"] = null,
): Omit<PipelineOptions, "startMs"> {
  return { classifier: model.classifier, detect: detectParamsFromConfig(config.detect), adaptation, screams: screamBranchOf(config, model.screams) };
}
