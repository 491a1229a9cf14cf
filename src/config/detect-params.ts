/** The `detect` config slice, in seconds, turned into the detector's parameters in milliseconds. */
import { buildDangerWeights } from "../detect/danger.js";
import type { DetectParams, SmoothingSpec } from "../detect/params.js";
import type { DetectConfig } from "./schema.js";

export function detectParamsFromConfig(detect: DetectConfig): DetectParams {
  const smoothing: SmoothingSpec =
    detect.smoothing.method === "none" ? { method: "none" } : { method: detect.smoothing.method, windows: detect.smoothing.windows };
  return {
    hopMs: Math.round(detect.hop_s * 1000),
    energyGateDbfs: detect.energy_gate_dbfs,
    smoothing,
    dangerWeights: buildDangerWeights(detect.danger.labels, detect.danger.weights),
    enterThreshold: detect.enter_threshold,
    exitThreshold: detect.exit_threshold,
    k: detect.k,
    n: detect.n,
    minDurationMs: Math.round(detect.min_duration_s * 1000),
    holdMs: Math.round(detect.hold_s * 1000),
    cooldownMs: Math.round(detect.cooldown_s * 1000),
    maxAlertMs: Math.round(detect.max_alert_s * 1000),
  };
}
