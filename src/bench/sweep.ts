/**
 * Choosing the detector's defaults from measurements (`earwitness bench --streams … --sweep`).
 *
 * The expensive part of a detection benchmark is the model; the decision after it is cheap and
 * pure. So the streams are run through the pipeline once, keeping each window's time and *raw*
 * danger score (before smoothing), and every candidate setting — smoothing, thresholds, k of n,
 * minimum duration, hold, cooldown — is then replayed over those scores with the same smoother
 * and the same `AlertStateMachine` the daemon runs, and scored against the streams' ground truth
 * exactly as the benchmark scores the daemon (stream-score.ts). A candidate replayed here raises
 * the alerts the pipeline would raise with that configuration, window for window.
 *
 * The rule that picks the default (`chooseSetting`) is written down here and in docs/detection.md
 * so that a better model gets its defaults the same way.
 */
import { DEFAULT_KN_GRID } from "../calibrate/simulate.js";
import { AnyBranchDetector, type BranchSpec } from "../detect/any-branch.js";
import type { AlertParams, SmoothingSpec } from "../detect/params.js";
import { ConfigError } from "../errors.js";
import type { StreamTimeline } from "./stream-builder.js";
import { scoreStream, summariseScores, type QualitySummary, type StreamAlert } from "./stream-score.js";

/** One window of a stream as the pipeline saw it: its time and raw danger score (0 when gated). */
export interface TracePoint {
  tMs: number;
  danger: number;
  /** The scream branch's raw danger (its model's scream class), when the pipeline ran one. */
  scream?: number;
}

export interface SweepTrace {
  timeline: StreamTimeline;
  points: TracePoint[];
}

/** The detector settings a sweep varies; everything else comes from the configuration. */
export type SweepSetting = Pick<AlertParams, "enterThreshold" | "exitThreshold" | "k" | "n" | "minDurationMs" | "holdMs" | "cooldownMs"> & {
  smoothing: SmoothingSpec;
};

export interface SweepResult {
  setting: SweepSetting;
  /** With a pair sweep, the scream branch's setting beside `setting` (the speech branch's). */
  scream?: SweepSetting;
  summary: QualitySummary;
  /**
   * With a margin (`withMargin`): the false alerts an hour the swept branch raises with its
   * thresholds lowered by `by`; the rule holds this figure, not the setting's own, to the target.
   */
  margin?: { by: number; false_alerts_per_h: number };
}

export interface SweepGrid {
  smoothing: SmoothingSpec[];
  enter: number[];
  /** exit = enter − gap (hysteresis). */
  exitGap: number[];
  kn: readonly (readonly [number, number])[];
  minDurationMs: number[];
  holdMs: number[];
  cooldownMs: number[];
}

/**
 * k of n as `calibrate` tries them (1–5 s of danger at 0.5 s hops: a passage is at least 3 s, and
 * a 3 s window still hears it for 3 s after); smoothing over 1.5–4 s; cooldowns 10 s to 2 min.
 */
export const DEFAULT_SWEEP_GRID: SweepGrid = {
  smoothing: [
    { method: "none" },
    { method: "ema", windows: 3 },
    { method: "ema", windows: 6 },
    { method: "mean", windows: 4 },
    { method: "mean", windows: 8 },
  ],
  enter: [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9],
  exitGap: [0.2],
  kn: DEFAULT_KN_GRID,
  minDurationMs: [0, 1000, 2000],
  holdMs: [2000],
  cooldownMs: [10_000, 30_000, 120_000],
};

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function sweepSettings(grid: SweepGrid = DEFAULT_SWEEP_GRID): SweepSetting[] {
  const out: SweepSetting[] = [];
  for (const smoothing of grid.smoothing)
    for (const enter of grid.enter)
      for (const gap of grid.exitGap)
        for (const [k, n] of grid.kn)
          for (const minDurationMs of grid.minDurationMs)
            for (const holdMs of grid.holdMs)
              for (const cooldownMs of grid.cooldownMs) {
                const exit = round2(enter - gap);
                if (exit < 0) continue;
                out.push({ smoothing, enterThreshold: round2(enter), exitThreshold: exit, k, n, minDurationMs, holdMs, cooldownMs });
              }
  return out;
}

/**
 * The alerts the pipeline raises over one trace with these settings: the smoother, then the
 * state machine, then (as `alertsOf` does at the end of a file) a reset that closes an open alert.
 * With `scream`, the trace's scream scores are a second branch with that setting, decided with the
 * speech branch by the pipeline's own `AnyBranchDetector` (hold and cooldown are the speech
 * setting's: the config shares them).
 */
export function replayAlerts(points: readonly TracePoint[], base: AlertParams, s: SweepSetting, scream: SweepSetting | null = null): StreamAlert[] {
  if (points.length === 0) return [];
  const branches: BranchSpec[] = [{ name: "speech", alert: paramsOf(base, s), smoothing: s.smoothing }];
  if (scream) branches.push({ name: "screams", alert: paramsOf(base, { ...scream, holdMs: s.holdMs, cooldownMs: s.cooldownMs }), smoothing: scream.smoothing });
  const detector = new AnyBranchDetector(branches, { cooldownMs: s.cooldownMs, maxAlertMs: base.maxAlertMs }, points[0]!.tMs);
  const alerts: StreamAlert[] = [];
  const collect = (events: { type: string; startMs: number; endMs?: number }[]): void => {
    for (const e of events) if (e.type === "alert_end") alerts.push({ start_s: e.startMs / 1000, end_s: (e.endMs ?? e.startMs) / 1000 });
  };
  for (const p of points) collect(detector.step(p.tMs, scream ? [{ danger: p.danger }, { danger: p.scream ?? 0 }] : [{ danger: p.danger }]).events);
  collect(detector.reset(points[points.length - 1]!.tMs).events);
  return alerts;
}

function paramsOf(base: AlertParams, s: SweepSetting): AlertParams {
  return {
    ...base,
    enterThreshold: s.enterThreshold,
    exitThreshold: s.exitThreshold,
    k: s.k,
    n: s.n,
    minDurationMs: s.minDurationMs,
    holdMs: s.holdMs,
    cooldownMs: s.cooldownMs,
  };
}

export function evaluateSetting(traces: readonly SweepTrace[], base: AlertParams, s: SweepSetting, graceS: number, scream: SweepSetting | null = null): QualitySummary {
  const scores = traces.map((t) => scoreStream(t.timeline, replayAlerts(t.points, base, s, scream), graceS));
  return summariseScores(scores, traces.reduce((a, t) => a + t.timeline.duration_s, 0));
}

/**
 * Every setting replayed over the traces. With `scream` (the configured scream branch, when the
 * traces carry its scores), each speech setting is replayed as the pair: what the unit would do.
 */
export function runSweep(traces: readonly SweepTrace[], base: AlertParams, settings: readonly SweepSetting[], graceS: number, scream: SweepSetting | null = null): SweepResult[] {
  return settings.map((setting) => ({ setting, summary: evaluateSetting(traces, base, setting, graceS, scream) }));
}

/**
 * The scream branch's sweep (`bench --sweep screams`): the speech branch stays at `speech` (the
 * configured detect settings) and every scream-branch setting is replayed beside it, so each
 * result is what the pair would do. Hold and cooldown are shared (the speech setting's), so the
 * scream settings vary smoothing, thresholds, k of n and minimum duration only.
 */
export function runScreamSweep(traces: readonly SweepTrace[], base: AlertParams, speech: SweepSetting, settings: readonly SweepSetting[], graceS: number): SweepResult[] {
  if (!traces.some((t) => t.points.some((p) => p.scream !== undefined))) {
    const issue = "sweeping the scream branch needs its scores: turn it on (detect.screams.enabled: true)";
    throw new ConfigError("INVALID_CONFIG", issue, { issues: [issue] });
  }
  return settings.map((setting) => ({ setting, summary: evaluateSetting(traces, base, speech, graceS, setting) }));
}

/**
 * Both branches at once (`bench --sweep-branch pair`): each branch's own Pareto front (the speech
 * branch alone over its scores, the scream branch alone over its scores, with the speech setting's
 * hold and cooldown), then every pair of settings on the two fronts replayed together through
 * `AnyBranchDetector`. A setting off its own branch's front is not worth pairing: something on the
 * front raises no more false alerts and catches no less on its own.
 */
export function runPairSweep(traces: readonly SweepTrace[], base: AlertParams, speechSettings: readonly SweepSetting[], screamGrid: SweepGrid, graceS: number): SweepResult[] {
  if (!traces.some((t) => t.points.some((p) => p.scream !== undefined))) {
    const issue = "sweeping the pair needs the scream branch's scores: turn it on (detect.screams.enabled: true)";
    throw new ConfigError("INVALID_CONFIG", issue, { issues: [issue] });
  }
  const speechFront = paretoFront(runSweep(traces, base, speechSettings, graceS));
  const screamAlone = traces.map((t) => ({ timeline: t.timeline, points: t.points.map((p) => ({ tMs: p.tMs, danger: p.scream ?? 0 })) }));
  // The scream front depends on the speech setting only through the shared hold and cooldown.
  const screamFronts = new Map<string, SweepResult[]>();
  const out: SweepResult[] = [];
  for (const speech of speechFront) {
    const key = `${speech.setting.holdMs}/${speech.setting.cooldownMs}`;
    let screamFront = screamFronts.get(key);
    if (!screamFront) {
      const screamSettings = sweepSettings({ ...screamGrid, holdMs: [speech.setting.holdMs], cooldownMs: [speech.setting.cooldownMs] });
      screamFront = paretoFront(runSweep(screamAlone, base, screamSettings, graceS));
      screamFronts.set(key, screamFront);
    }
    for (const scream of screamFront) {
      out.push({ setting: speech.setting, scream: scream.setting, summary: evaluateSetting(traces, base, speech.setting, graceS, scream.setting) });
    }
  }
  return out;
}

/**
 * A setting with both thresholds lowered by `by` (never below 0.01 and 0): what it does when every
 * window scores `by` higher — exactly so for the linear smoothers here, up to the cap at 1 — as a
 * model's scores may be on sounds no training corpus held.
 */
export function loosened(s: SweepSetting, by: number): SweepSetting {
  return { ...s, enterThreshold: round2(Math.max(0.01, s.enterThreshold - by)), exitThreshold: round2(Math.max(0, s.exitThreshold - by)) };
}

/**
 * Each result with the false alerts an hour its swept branch raises when loosened by `by`
 * (`bench --sweep-margin`), so `chooseSetting` takes a setting only if it keeps within the
 * false-alert target with that much room: tuning streams a model heard the like of score lower
 * than a home's strangers do. Branch "speech" loosens the speech setting (a scream branch beside
 * it, `scream`, stays as configured); "screams" the scream setting (the speech setting stays
 * `speech`); "pair" both. Catches and the setting's own figures are unchanged.
 */
export function withMargin(
  traces: readonly SweepTrace[],
  base: AlertParams,
  results: readonly SweepResult[],
  graceS: number,
  by: number,
  branch: "speech" | "screams" | "pair",
  fixed: { speech: SweepSetting; scream: SweepSetting | null },
): SweepResult[] {
  if (!(by > 0)) return [...results];
  return results.map((r) => {
    const s =
      branch === "screams"
        ? evaluateSetting(traces, base, fixed.speech, graceS, loosened(r.setting, by))
        : branch === "pair"
          ? evaluateSetting(traces, base, loosened(r.setting, by), graceS, r.scream ? loosened(r.scream, by) : null)
          : evaluateSetting(traces, base, loosened(r.setting, by), graceS, fixed.scream);
    return { ...r, margin: { by, false_alerts_per_h: s.false_alerts_per_h } };
  });
}

/**
 * A recording every default must get right (`bench --sweep-acceptance FILE=N`): its windows as
 * the pipeline scored them, and how many alerts it must raise — e.g. the demo's angry passage
 * exactly one, calm speech none (test/integration/daemon/shipped-model.test.ts).
 */
export interface Acceptance {
  name: string;
  points: TracePoint[];
  alerts: number;
}

/**
 * Whether a swept result raises exactly the alerts each acceptance recording asks for, replayed
 * as the pair that would run: for branch "speech" its setting beside the configured scream branch
 * (`fixed.scream`), for "screams" the configured speech setting beside it, for "pair" both.
 */
export function passesAcceptance(
  base: AlertParams,
  r: SweepResult,
  recordings: readonly Acceptance[],
  branch: "speech" | "screams" | "pair",
  fixed: { speech: SweepSetting; scream: SweepSetting | null },
): boolean {
  const speech = branch === "screams" ? fixed.speech : r.setting;
  const scream = branch === "screams" ? r.setting : branch === "pair" ? (r.scream ?? null) : fixed.scream;
  return recordings.every((a) => replayAlerts(a.points, base, speech, scream).length === a.alerts);
}

/** The scream-branch settings a sweep tries: `sweepSettings` without the shared hold and cooldown. */
export function screamSweepSettings(speech: SweepSetting, grid: SweepGrid = DEFAULT_SWEEP_GRID): SweepSetting[] {
  return sweepSettings({ ...grid, holdMs: [speech.holdMs], cooldownMs: [speech.cooldownMs] });
}

/**
 * The settings no other setting beats on both counts (fewer false alerts per hour and more
 * passages caught), fewest false alerts first. Of settings with equal figures the first in the
 * input is kept.
 */
export function paretoFront(results: readonly SweepResult[]): SweepResult[] {
  const sorted = [...results].sort((a, b) => faOf(a) - faOf(b) || caughtOf(b) - caughtOf(a));
  const front: SweepResult[] = [];
  let bestCaught = -1;
  for (const r of sorted) {
    if (caughtOf(r) > bestCaught) {
      front.push(r);
      bestCaught = caughtOf(r);
    }
  }
  return front;
}

/**
 * The settings no other setting beats on all three counts — fewer false alerts per hour, more
 * speech passages caught, more screams caught — fewest false alerts first. The front of totals
 * (paretoFront) reads a candidate at the points that catch most in all, so a detector better at
 * speech is read at its speech-heavy points; this front keeps, at each false-alert budget, every
 * trade between the two kinds, so "as many screams and nearly as much speech" can be asked.
 */
export function kindFront(results: readonly SweepResult[]): SweepResult[] {
  const kinds = (r: SweepResult): [number, number, number] => [faOf(r), r.summary.by_kind.speech.caught, r.summary.by_kind.scream.caught];
  const sorted = [...results].sort((a, b) => faOf(a) - faOf(b) || caughtOf(b) - caughtOf(a));
  const front: SweepResult[] = [];
  for (const r of sorted) {
    const [fa, sp, sc] = kinds(r);
    const dominated = front.some((q) => {
      const [qfa, qsp, qsc] = kinds(q);
      return qfa <= fa && qsp >= sp && qsc >= sc;
    });
    if (!dominated) front.push(r);
  }
  return front;
}

// Streams without a danger passage have no catch rate (counted as nothing caught), streams
// without non-danger audio no false-alert rate (counted as the worst): a sweep never favours
// a setting for what it was not shown.
const caughtOf = (r: SweepResult): number => (Number.isNaN(r.summary.caught_share) ? 0 : r.summary.caught_share);
const faOf = (r: SweepResult): number => (Number.isNaN(r.summary.false_alerts_per_h) ? Infinity : r.summary.false_alerts_per_h);

export interface Targets {
  /** At most this many false alerts per hour of non-danger audio. */
  maxFalsePerHour: number;
  /** At least this share of danger passages caught. */
  minCaught: number;
}

export const DEFAULT_TARGETS: Targets = { maxFalsePerHour: 0.5, minCaught: 0.9 };

export interface Choice {
  result: SweepResult;
  /** Which rule picked it, in words for the report. */
  rule: string;
  meetsTargets: boolean;
}

/**
 * The rule that picks a default:
 *
 * 1. If settings meet both targets, the one that catches most (then: fewest false alerts, then
 *    the earliest alert).
 * 2. Otherwise the false-alert target wins: of the settings within it, the one that catches most.
 *    A unit that wakes a household every night gets unplugged and then protects nobody, while a
 *    room can always be made more sensitive with `earwitness calibrate`; the report shows what
 *    the sensitivity would cost.
 * 3. If no setting keeps within the false-alert target, the one with the fewest false alerts
 *    (then: catches most).
 *
 * With a margin (`withMargin`), "false alerts" in 1–3 are those of the setting loosened by it.
 *
 * Ties keep the smoother-free, smaller-k, shorter settings first (the order of `sweepSettings`),
 * so the choice is reproducible.
 */
export function chooseSetting(results: readonly SweepResult[], targets: Targets = DEFAULT_TARGETS): Choice | null {
  if (results.length === 0) return null;
  const latency = (r: SweepResult): number => (Number.isFinite(r.summary.onset_to_alert_s.p50) ? r.summary.onset_to_alert_s.p50 : Infinity);
  // With a margin, the false alerts the rule counts are the loosened setting's.
  const ruleFa = (r: SweepResult): number => (r.margin ? (Number.isNaN(r.margin.false_alerts_per_h) ? Infinity : r.margin.false_alerts_per_h) : faOf(r));
  const by = results.find((r) => r.margin)?.margin?.by;
  const counted = by === undefined ? "" : ` (false alerts counted with thresholds ${by} lower)`;
  const byCatch = (a: SweepResult, b: SweepResult): number => caughtOf(b) - caughtOf(a) || ruleFa(a) - ruleFa(b) || faOf(a) - faOf(b) || latency(a) - latency(b);
  const withinFa = results.filter((r) => ruleFa(r) <= targets.maxFalsePerHour);
  const both = withinFa.filter((r) => caughtOf(r) >= targets.minCaught);
  if (both.length > 0) return { result: [...both].sort(byCatch)[0]!, rule: `meets both targets; catches most${counted}`, meetsTargets: true };
  if (withinFa.length > 0) {
    return {
      result: [...withinFa].sort(byCatch)[0]!,
      rule: `no setting meets both targets; of those within ${targets.maxFalsePerHour} false alerts/h, the one that catches most${counted}`,
      meetsTargets: false,
    };
  }
  const fewest = [...results].sort((a, b) => ruleFa(a) - ruleFa(b) || caughtOf(b) - caughtOf(a))[0]!;
  return { result: fewest, rule: `no setting keeps within ${targets.maxFalsePerHour} false alerts/h; the one with the fewest${counted}`, meetsTargets: false };
}

/** A scream-branch setting in the config's own words (detect.screams; hold and cooldown are detect's). */
export function screamSettingAsConfig(s: SweepSetting): Record<string, unknown> {
  const { hold_s: _h, cooldown_s: _c, ...rest } = settingAsConfig(s);
  return { enabled: true, ...rest };
}

/** A setting in the config's own words (seconds, snake_case), for reports and `config.yaml`. */
export function settingAsConfig(s: SweepSetting): Record<string, unknown> {
  return {
    smoothing: s.smoothing.method === "none" ? { method: "none" } : { method: s.smoothing.method, windows: s.smoothing.windows },
    enter_threshold: s.enterThreshold,
    exit_threshold: s.exitThreshold,
    k: s.k,
    n: s.n,
    min_duration_s: s.minDurationMs / 1000,
    hold_s: s.holdMs / 1000,
    cooldown_s: s.cooldownMs / 1000,
  };
}

/** A sweep result's setting(s) in words: the speech setting, and the scream branch's beside it. */
export function describeResult(r: Pick<SweepResult, "setting" | "scream">): string {
  return r.scream ? `${describeSetting(r.setting)}; screams: ${describeSetting(r.scream).replace(/, hold .*$/, "")}` : describeSetting(r.setting);
}

export function describeSetting(s: SweepSetting): string {
  const sm = s.smoothing.method === "none" ? "no smoothing" : `${s.smoothing.method} ${s.smoothing.windows}`;
  return `${sm}, enter ${s.enterThreshold}/exit ${s.exitThreshold}, ${s.k} of ${s.n}, min ${s.minDurationMs / 1000} s, hold ${s.holdMs / 1000} s, cooldown ${s.cooldownMs / 1000} s`;
}
