/**
 * The alert decision: turns one danger score per analysis window into alert start/end events.
 * Pure and given the time (STYLE.md §6): no clock, no timers. The pipeline calls `step` once
 * per hop, with score 0 for windows the energy gate skipped, so time always advances.
 *
 *   IDLE ──score ≥ enter──▶ SUSPECT ──k of last n ≥ enter, lasted minDuration──▶ ALERT
 *   SUSPECT ──none of last n ≥ enter──▶ IDLE
 *   ALERT ──score < exit──▶ HOLD ──score ≥ exit──▶ ALERT (the same alert)
 *   HOLD ──held holdMs──▶ COOLDOWN (alert_end "score_dropped")
 *   ALERT/HOLD ──lasted maxAlertMs──▶ COOLDOWN (alert_end "max_duration")
 *   COOLDOWN ──cooldownMs after the end──▶ IDLE (that same window is then judged as IDLE)
 *   any ──reset()──▶ IDLE (alert_end "reset" if one was open)
 *
 * Why each rule: k-of-n keeps a lone spike (a door slam, a laugh) from alerting; the gap
 * between enter and exit keeps a score hovering near one threshold from flickering; HOLD bridges
 * a breath between shouts so one incident is one alert; maxAlertMs and the cooldown keep a
 * stuck-high score (a TV drama) from holding the buzzer on or re-alerting every few seconds.
 */
import { dominantDangerEmotion, UNKNOWN_EMOTION } from "./danger.js";
import { assertAlertParams, type AlertParams } from "./params.js";

/** The detector's states, as the state machine runs them and every output reports them. */
export type DetectorStateName = "IDLE" | "SUSPECT" | "ALERT" | "HOLD" | "COOLDOWN";

export type AlertEndReason = "score_dropped" | "max_duration" | "reset";

/** Ids are the daemon's job; the machine only says when. */
export interface AlertStartEvent {
  type: "alert_start";
  /** The time of the window that entered ALERT. */
  startMs: number;
  /** The score of that window. */
  score: number;
  /** Peak and mean score over the SUSPECT windows that led here, this one included. */
  peak: number;
  mean: number;
  /** Dominant danger emotion of `probs`, or "unknown" when no window carried probabilities. */
  emotion: string;
  /** Mean probabilities over those windows (empty when none carried probabilities). */
  probs: Record<string, number>;
}

export interface AlertEndEvent {
  type: "alert_end";
  startMs: number;
  /** The time of the window at which the machine left ALERT/HOLD. */
  endMs: number;
  /**
   * Peak and mean score over every window of the alert: the SUSPECT windows that led to it (the
   * same as the start event's) and those spent in ALERT (HOLD windows, all below exit, excluded).
   * So peak ≥ the start's peak: both describe "the alert so far", the end just knows more.
   */
  peak: number;
  mean: number;
  emotion: string;
  /** Mean probabilities over the same windows, those that carried probabilities. */
  probs: Record<string, number>;
  reason: AlertEndReason;
}

export type DetectEvent = AlertStartEvent | AlertEndEvent;

export interface StepInput {
  /** Time of the window, in milliseconds (any epoch, but the same one for every call). */
  tMs: number;
  /** Danger score in [0, 1]; NaN counts as 0, values outside are clamped. */
  score: number;
  /** The model's probabilities for this window, when inference ran. */
  probs?: Readonly<Record<string, number>>;
}

export interface StepResult {
  state: DetectorStateName;
  previousState: DetectorStateName;
  /** When the machine entered `state`. */
  sinceMs: number;
  /** The score as used (NaN → 0, clamped). */
  score: number;
  events: DetectEvent[];
  /** Set when the step was ignored: its time was earlier than the previous step's, or not finite. */
  ignored: "time_went_backwards" | "invalid_time" | null;
}

/** Peak, mean and mean probabilities over a run of windows. */
class WindowStats {
  private count = 0;
  private sum = 0;
  private peakValue = 0;
  private probCount = 0;
  private readonly probSums = new Map<string, number>();

  add(score: number, probs: Readonly<Record<string, number>> | undefined): void {
    this.count += 1;
    this.sum += score;
    if (score > this.peakValue) this.peakValue = score;
    if (probs === undefined) return;
    this.probCount += 1;
    for (const [label, p] of Object.entries(probs)) {
      const v = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
      this.probSums.set(label, (this.probSums.get(label) ?? 0) + v);
    }
  }

  get peak(): number {
    return this.peakValue;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  meanProbs(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.probCount === 0) return out;
    for (const [label, s] of this.probSums) out[label] = s / this.probCount;
    return out;
  }
}

export class AlertStateMachine {
  private current: DetectorStateName = "IDLE";
  private since: number;
  private lastTMs: number | null = null;
  /** Hits (score ≥ enter) of the most recent windows since SUSPECT began, newest last, at most n. */
  private recentHits: boolean[] = [];
  private suspectStats = new WindowStats();
  private alertStats = new WindowStats();
  private alertStartMs = 0;
  private holdStartMs = 0;
  private cooldownStartMs = 0;

  /**
   * Throws a ConfigError (INVALID_CONFIG) when the parameters are unusable, e.g. enter ≤ exit.
   * `startMs` is the time reported as `sinceMs` before the first step.
   */
  constructor(
    private readonly params: AlertParams,
    startMs = 0,
  ) {
    assertAlertParams(params);
    this.since = startMs;
  }

  get state(): DetectorStateName {
    return this.current;
  }

  /** When the machine entered its current state. */
  get sinceMs(): number {
    return this.since;
  }

  /** The open alert (in ALERT or HOLD), for status displays; null otherwise. */
  get activeAlert(): { startMs: number; peak: number } | null {
    if (this.current !== "ALERT" && this.current !== "HOLD") return null;
    return { startMs: this.alertStartMs, peak: this.alertStats.peak };
  }

  step(input: StepInput): StepResult {
    const previousState = this.current;
    const score = sanitizeScore(input.score);
    const { tMs } = input;
    if (!Number.isFinite(tMs) || (this.lastTMs !== null && tMs < this.lastTMs)) {
      return {
        state: this.current,
        previousState,
        sinceMs: this.since,
        score,
        events: [],
        ignored: Number.isFinite(tMs) ? "time_went_backwards" : "invalid_time",
      };
    }
    this.lastTMs = tMs;
    const events: DetectEvent[] = [];
    this.advance(tMs, score, input.probs, events);
    return { state: this.current, previousState, sinceMs: this.since, score, events, ignored: null };
  }

  /**
   * Back to IDLE at once (on disarm), ending an open alert with reason "reset". Never ignored:
   * a time earlier than the last step, or not finite, is replaced by the last step's time.
   * Any cooldown is dropped: re-arming starts listening afresh.
   */
  reset(tMs: number): StepResult {
    const previousState = this.current;
    let t = Number.isFinite(tMs) ? tMs : (this.lastTMs ?? this.since);
    if (this.lastTMs !== null && t < this.lastTMs) t = this.lastTMs;
    this.lastTMs = t;
    const events: DetectEvent[] = [];
    if (this.current === "ALERT" || this.current === "HOLD") events.push(this.endEvent(t, "reset"));
    this.recentHits = [];
    this.enter("IDLE", t);
    return { state: this.current, previousState, sinceMs: this.since, score: 0, events, ignored: null };
  }

  private advance(tMs: number, score: number, probs: StepInput["probs"], events: DetectEvent[]): void {
    const p = this.params;
    switch (this.current) {
      case "COOLDOWN":
        if (tMs - this.cooldownStartMs < p.cooldownMs) return;
        this.enter("IDLE", tMs);
        this.fromIdle(tMs, score, probs, events);
        return;
      case "IDLE":
        this.fromIdle(tMs, score, probs, events);
        return;
      case "SUSPECT":
        this.fromSuspect(tMs, score, probs, events);
        return;
      case "ALERT":
        if (tMs - this.alertStartMs >= p.maxAlertMs) {
          this.finish(tMs, "max_duration", events);
        } else if (score >= p.exitThreshold) {
          this.alertStats.add(score, probs);
        } else {
          this.holdStartMs = tMs;
          this.enter("HOLD", tMs);
          // holdMs 0 means "end as soon as the score drops".
          if (p.holdMs <= 0) this.finish(tMs, "score_dropped", events);
        }
        return;
      case "HOLD":
        if (score >= p.exitThreshold) {
          if (tMs - this.alertStartMs >= p.maxAlertMs) {
            this.finish(tMs, "max_duration", events);
          } else {
            this.enter("ALERT", tMs);
            this.alertStats.add(score, probs);
          }
        } else if (tMs - this.holdStartMs >= p.holdMs) {
          this.finish(tMs, "score_dropped", events);
        } else if (tMs - this.alertStartMs >= p.maxAlertMs) {
          this.finish(tMs, "max_duration", events);
        }
        return;
    }
  }

  private fromIdle(tMs: number, score: number, probs: StepInput["probs"], events: DetectEvent[]): void {
    if (score < this.params.enterThreshold) return;
    this.recentHits = [];
    this.suspectStats = new WindowStats();
    this.enter("SUSPECT", tMs);
    this.fromSuspect(tMs, score, probs, events);
  }

  private fromSuspect(tMs: number, score: number, probs: StepInput["probs"], events: DetectEvent[]): void {
    const p = this.params;
    const hit = score >= p.enterThreshold;
    this.recentHits.push(hit);
    if (this.recentHits.length > p.n) this.recentHits.shift();
    this.suspectStats.add(score, probs);
    const hits = this.recentHits.filter(Boolean).length;
    if (hits === 0) {
      this.enter("IDLE", tMs);
      return;
    }
    // Only a window that itself reaches enter may start an alert: the alert starts on evidence.
    if (hit && hits >= p.k && tMs - this.since >= p.minDurationMs) {
      this.alertStartMs = tMs;
      // The alert's statistics go on from the lead-up (this window included): one definition of
      // peak and mean for the start and the end event (contract.ts).
      const leadUp = this.suspectStats;
      this.alertStats = leadUp;
      this.suspectStats = new WindowStats();
      this.enter("ALERT", tMs);
      const evidence = leadUp.meanProbs();
      events.push({
        type: "alert_start",
        startMs: tMs,
        score,
        peak: leadUp.peak,
        mean: leadUp.mean,
        emotion: dominantDangerEmotion(evidence, p.dangerWeights) ?? UNKNOWN_EMOTION,
        probs: evidence,
      });
    }
  }

  private finish(tMs: number, reason: AlertEndReason, events: DetectEvent[]): void {
    events.push(this.endEvent(tMs, reason));
    this.recentHits = [];
    this.cooldownStartMs = tMs;
    this.enter("COOLDOWN", tMs);
  }

  private endEvent(tMs: number, reason: AlertEndReason): AlertEndEvent {
    const probs = this.alertStats.meanProbs();
    return {
      type: "alert_end",
      startMs: this.alertStartMs,
      endMs: tMs,
      peak: this.alertStats.peak,
      mean: this.alertStats.mean,
      emotion: dominantDangerEmotion(probs, this.params.dangerWeights) ?? UNKNOWN_EMOTION,
      probs,
      reason,
    };
  }

  private enter(state: DetectorStateName, tMs: number): void {
    if (state !== this.current) this.since = tMs;
    this.current = state;
  }
}

function sanitizeScore(score: number): number {
  if (Number.isNaN(score)) return 0;
  return Math.min(1, Math.max(0, score));
}
