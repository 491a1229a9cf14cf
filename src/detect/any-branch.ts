/**
 * One alert from several branches: each branch is a danger score of its own (the speech GRU's
 * angry + fear, a home model's scream class), with its own smoother and its own
 * AlertStateMachine, and the house alerts while ANY branch alerts. Pure and given the time
 * (STYLE.md §6), like the state machine it composes; the events are the state machine's own
 * types, so the pipeline, the daemon and the MQTT contract see one alert lifecycle as before.
 *
 *   IDLE/SUSPECT ──a branch starts an alert──▶ ALERT (alert_start: that branch's start event)
 *   ALERT ──every alerting branch in HOLD──▶ HOLD ──one back above exit──▶ ALERT (the same alert)
 *   ALERT/HOLD ──no branch alerting any more──▶ COOLDOWN (alert_end, the last branch's reason)
 *   ALERT/HOLD ──lasted maxAlertMs──▶ COOLDOWN (alert_end "max_duration")
 *   COOLDOWN ──cooldownMs after the end──▶ IDLE (that same window is then judged afresh)
 *   any ──reset()──▶ IDLE (alert_end "reset" if one was open)
 *
 * Why: measured in docs/detection.md ("Two branches, measured"), one network trained on speech
 * and household sounds loses unseen angry speech, while the speech GRU and a home model's scream
 * class each hear their half; an alert from either caught 22 of 77 held-out danger passages at
 * 0 false alerts an hour against 12 for the best single model (scripts/two-branch-probe.mjs,
 * which merged overlapping alerts — what this class does live).
 *
 * Rules, and why each:
 * - The cooldown and max duration belong to the union, not to a branch: one incident heard by
 *   both branches is one alert, and the buzzer's "nothing stays on / no re-alert every few
 *   seconds" guarantees hold for the house, not per model. During the union's cooldown the
 *   branches' machines are not stepped (their smoothers are: they count windows), and at the
 *   union's end every branch is reset, so after the cooldown each judges afresh from IDLE, as the
 *   single machine does after its COOLDOWN. Branch machines therefore run with cooldown 0.
 * - Each branch keeps its own thresholds, k of n, minimum duration and smoothing: the two scores
 *   have different scales and the probe tuned them apart. The hold is per branch too (each
 *   bridges its own breath); the union is in HOLD only when every alerting branch is.
 * - Start event: that of the branch that started the alert (on a tie in one window, the one with
 *   the higher score). End event: startMs/endMs of the union, and peak, mean, emotion and probs
 *   of the strongest branch alert within it (highest peak, the first branch on a tie) — so
 *   end.peak ≥ start.peak holds as the contract says (src/outputs/mqtt/contract.ts), and the
 *   emotion and probs come from one model's labels, never a mix of two label sets.
 */
import type { DetectorStateName } from "../outputs/sink.js";
import { createSmoother, type ScoreSmoother } from "./danger.js";
import type { AlertParams, SmoothingSpec } from "./params.js";
import { ConfigError } from "../errors.js";
import { AlertStateMachine, type AlertEndEvent, type AlertEndReason, type AlertStartEvent, type DetectEvent, type StepResult } from "./state-machine.js";

export interface BranchSpec {
  /** For logs and status ("speech", "screams"). */
  name: string;
  /** The branch's thresholds, k of n, minimum duration, hold and danger weights; its cooldownMs and maxAlertMs are ignored (the union's own apply). */
  alert: AlertParams;
  smoothing: SmoothingSpec;
}

export interface UnionParams {
  /** After the union's alert ends, no new alert may start until this has passed. */
  cooldownMs: number;
  /** The union's alert ends after this long (reason "max_duration"), whichever branch keeps it up. */
  maxAlertMs: number;
}

export interface BranchInput {
  /** The branch's raw danger score for this window (0 when gated); NaN counts as 0. */
  danger: number;
  /** The branch model's probabilities, when inference ran. */
  probs?: Readonly<Record<string, number>>;
}

export interface BranchOutcome {
  name: string;
  /** After the branch's smoother: what its machine saw. */
  smoothed: number;
  /** The branch machine's state (IDLE while the union cools down: the branches are then reset and not stepped). */
  state: DetectorStateName;
}

export interface UnionStepResult {
  state: DetectorStateName;
  previousState: DetectorStateName;
  /** When the union entered `state`. */
  sinceMs: number;
  /** One per branch, in the order of the specs. */
  branches: BranchOutcome[];
  events: DetectEvent[];
  ignored: StepResult["ignored"];
}

interface Branch {
  readonly name: string;
  readonly smoother: ScoreSmoother;
  readonly machine: AlertStateMachine;
}

export class AnyBranchDetector {
  private readonly branches: Branch[];
  private current: DetectorStateName = "IDLE";
  private since: number;
  private lastTMs: number | null = null;
  private open: { startMs: number; active: Set<number>; strongest: AlertEndEvent | null; lastReason: AlertEndReason } | null = null;
  private cooldownStartMs = 0;

  /** Throws a ConfigError (INVALID_CONFIG) for no branch or unusable branch parameters. */
  constructor(
    specs: readonly BranchSpec[],
    private readonly union: UnionParams,
    startMs = 0,
  ) {
    if (specs.length === 0) throw new ConfigError("INVALID_CONFIG", "the detector needs at least one branch; configure detect", { issues: ["no detection branch"] });
    if (!(Number.isFinite(union.cooldownMs) && union.cooldownMs >= 0) || !(Number.isFinite(union.maxAlertMs) && union.maxAlertMs > 0)) {
      const issue = `cooldownMs must be >= 0 and maxAlertMs > 0 (got ${union.cooldownMs}, ${union.maxAlertMs})`;
      throw new ConfigError("INVALID_CONFIG", `invalid detector parameters: ${issue}; fix the detect section of the config`, { issues: [issue] });
    }
    this.branches = specs.map((s) => ({
      name: s.name,
      smoother: createSmoother(s.smoothing),
      machine: new AlertStateMachine({ ...s.alert, cooldownMs: 0, maxAlertMs: union.maxAlertMs }, startMs),
    }));
    this.since = startMs;
  }

  get state(): DetectorStateName {
    return this.current;
  }

  get sinceMs(): number {
    return this.since;
  }

  /** The open alert, for status displays; null otherwise. */
  get activeAlert(): { startMs: number; peak: number } | null {
    if (!this.open) return null;
    let peak = this.open.strongest?.peak ?? 0;
    for (const i of this.open.active) peak = Math.max(peak, this.branches[i]!.machine.activeAlert?.peak ?? 0);
    return { startMs: this.open.startMs, peak };
  }

  /** One call per analysis window, in time order, with one input per branch (the specs' order). */
  step(tMs: number, inputs: readonly BranchInput[]): UnionStepResult {
    if (inputs.length !== this.branches.length) {
      throw new RangeError(`AnyBranchDetector.step needs ${this.branches.length} branch inputs, got ${inputs.length}`);
    }
    const previousState = this.current;
    if (!Number.isFinite(tMs) || (this.lastTMs !== null && tMs < this.lastTMs)) {
      return this.result(previousState, [], this.branches.map((b) => ({ name: b.name, smoothed: 0, state: b.machine.state })), Number.isFinite(tMs) ? "time_went_backwards" : "invalid_time");
    }
    this.lastTMs = tMs;
    const smoothed = this.branches.map((b, i) => b.smoother.push(inputs[i]!.danger));
    const events: DetectEvent[] = [];
    const outcomes = (): BranchOutcome[] => this.branches.map((b, i) => ({ name: b.name, smoothed: smoothed[i]!, state: b.machine.state }));

    if (this.current === "COOLDOWN") {
      if (tMs - this.cooldownStartMs < this.union.cooldownMs) return this.result(previousState, events, outcomes(), null);
      this.enter("IDLE", tMs);
    }

    const starts: { branch: number; event: AlertStartEvent }[] = [];
    const ends: { branch: number; event: AlertEndEvent }[] = [];
    this.branches.forEach((b, i) => {
      const probs = inputs[i]!.probs;
      const r = b.machine.step(probs ? { tMs, score: smoothed[i]!, probs } : { tMs, score: smoothed[i]! });
      for (const e of r.events) {
        if (e.type === "alert_start") starts.push({ branch: i, event: e });
        else ends.push({ branch: i, event: e });
      }
    });

    // Starts first, so a branch taking over from one that ends in the same window keeps one alert.
    if (starts.length > 0) {
      if (!this.open) {
        const first = starts.reduce((a, b) => (b.event.score > a.event.score ? b : a));
        this.open = { startMs: tMs, active: new Set(), strongest: null, lastReason: "score_dropped" };
        events.push(first.event);
      }
      for (const s of starts) this.open.active.add(s.branch);
    }
    for (const e of ends) this.noteEnd(e.branch, e.event);

    if (this.open && this.open.active.size === 0) this.finish(tMs, this.open.lastReason, events);
    else if (this.open && tMs - this.open.startMs >= this.union.maxAlertMs) this.finish(tMs, "max_duration", events);
    else this.enter(this.derivedState(), tMs);
    return this.result(previousState, events, outcomes(), null);
  }

  /**
   * Back to IDLE at once (on disarm), ending an open alert with reason "reset"; the smoothers and
   * any cooldown are dropped, as the single machine does. Never ignored (time clamped as there).
   */
  reset(tMs: number): UnionStepResult {
    const previousState = this.current;
    let t = Number.isFinite(tMs) ? tMs : (this.lastTMs ?? this.since);
    if (this.lastTMs !== null && t < this.lastTMs) t = this.lastTMs;
    this.lastTMs = t;
    const events: DetectEvent[] = [];
    if (this.open) this.finish(t, "reset", events);
    else for (const b of this.branches) b.machine.reset(t);
    for (const b of this.branches) b.smoother.reset();
    this.enter("IDLE", t);
    return this.result(previousState, events, this.branches.map((b) => ({ name: b.name, smoothed: 0, state: b.machine.state })), null);
  }

  private noteEnd(branch: number, event: AlertEndEvent): void {
    if (!this.open) return;
    this.open.active.delete(branch);
    this.open.lastReason = event.reason;
    if (!this.open.strongest || event.peak > this.open.strongest.peak) this.open.strongest = event;
  }

  /** Ends the union's alert: every branch is reset (their open alerts' statistics count), then COOLDOWN, or IDLE on reset. */
  private finish(tMs: number, reason: AlertEndReason, events: DetectEvent[]): void {
    const open = this.open!;
    this.branches.forEach((b, i) => {
      for (const e of b.machine.reset(tMs).events) if (e.type === "alert_end") this.noteEnd(i, e);
    });
    const s = open.strongest!;
    events.push({ type: "alert_end", startMs: open.startMs, endMs: tMs, peak: s.peak, mean: s.mean, emotion: s.emotion, probs: s.probs, reason });
    this.open = null;
    this.cooldownStartMs = tMs;
    this.enter("COOLDOWN", tMs);
  }

  private derivedState(): DetectorStateName {
    if (this.open) {
      const allHolding = [...this.open.active].every((i) => this.branches[i]!.machine.state === "HOLD");
      return allHolding ? "HOLD" : "ALERT";
    }
    return this.branches.some((b) => b.machine.state === "SUSPECT") ? "SUSPECT" : "IDLE";
  }

  private enter(state: DetectorStateName, tMs: number): void {
    if (state !== this.current) this.since = tMs;
    this.current = state;
  }

  private result(previousState: DetectorStateName, events: DetectEvent[], branches: BranchOutcome[], ignored: StepResult["ignored"]): UnionStepResult {
    return { state: this.current, previousState, sinceMs: this.since, branches, events, ignored };
  }
}
