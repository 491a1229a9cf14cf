/**
 * The detector's parameters in milliseconds, as the pipeline and the state machine use them.
 * They come from the `detect` slice of the config (src/config/detect-params.ts converts the
 * seconds there into the milliseconds here); this file only names and checks them.
 */
import { ConfigError } from "../errors.js";

/** How per-window danger scores are smoothed before the state machine sees them. */
export type SmoothingSpec =
  | { method: "none" }
  /** Exponential moving average with span `windows` (alpha = 2 / (windows + 1)). */
  | { method: "ema"; windows: number }
  /** Plain mean of the last `windows` scores. */
  | { method: "mean"; windows: number };

/** What `AlertStateMachine` needs. */
export interface AlertParams {
  /** A window at or above this score counts towards an alert (SUSPECT, k-of-n). */
  enterThreshold: number;
  /** While alerting, a score below this starts HOLD. Must be < enterThreshold (hysteresis). */
  exitThreshold: number;
  /** k of the last n windows must reach enterThreshold to go from SUSPECT to ALERT. */
  k: number;
  n: number;
  /** SUSPECT must have lasted at least this long before ALERT. */
  minDurationMs: number;
  /** After the score falls below exitThreshold, wait this long before ending the alert. */
  holdMs: number;
  /** After an alert ends, no new alert may start until this has passed. */
  cooldownMs: number;
  /** An alert that has lasted this long ends (reason "max_duration"), so nothing stays on. */
  maxAlertMs: number;
  /** Danger label → weight, used to name the dominant danger emotion of an alert. */
  dangerWeights: Record<string, number>;
}

/** Everything the `detect` config slice says, in milliseconds. */
export interface DetectParams extends AlertParams {
  /** The pipeline analyses one window every hop. */
  hopMs: number;
  /** Windows quieter than this skip inference and score 0. */
  energyGateDbfs: number;
  smoothing: SmoothingSpec;
}

/** Every problem with a set of alert parameters; empty when they are usable. */
export function alertParamsIssues(p: AlertParams): string[] {
  const issues: string[] = [];
  const inUnit = (name: string, v: number): void => {
    if (!(Number.isFinite(v) && v > 0 && v <= 1)) issues.push(`${name} must be in (0, 1] (got ${v})`);
  };
  inUnit("enterThreshold", p.enterThreshold);
  if (!(Number.isFinite(p.exitThreshold) && p.exitThreshold >= 0 && p.exitThreshold < 1)) {
    issues.push(`exitThreshold must be in [0, 1) (got ${p.exitThreshold})`);
  }
  if (!(p.enterThreshold > p.exitThreshold)) {
    issues.push(
      `enterThreshold must be greater than exitThreshold, or the alert flickers on and off (got ${p.enterThreshold} <= ${p.exitThreshold})`,
    );
  }
  if (!(Number.isInteger(p.n) && p.n >= 1)) issues.push(`n must be a whole number >= 1 (got ${p.n})`);
  if (!(Number.isInteger(p.k) && p.k >= 1 && p.k <= p.n)) issues.push(`k must be a whole number in [1, n=${p.n}] (got ${p.k})`);
  for (const name of ["minDurationMs", "holdMs", "cooldownMs"] as const) {
    const v = p[name];
    if (!(Number.isFinite(v) && v >= 0)) issues.push(`${name} must be >= 0 (got ${v})`);
  }
  if (!(Number.isFinite(p.maxAlertMs) && p.maxAlertMs > 0)) issues.push(`maxAlertMs must be > 0 (got ${p.maxAlertMs})`);
  return issues;
}

/** Throws a ConfigError (code INVALID_CONFIG) listing every problem. */
export function assertAlertParams(p: AlertParams): void {
  const issues = alertParamsIssues(p);
  if (issues.length > 0) {
    throw new ConfigError("INVALID_CONFIG", `invalid detector parameters: ${issues.join("; ")}; fix the detect section of the config`, {
      issues,
    });
  }
}
