/**
 * The alert tracker: turns the detector's events into the alert events the outputs see. Owns the
 * open alert (its id, start time on the wall clock, level), remembering it in the alert journal
 * so a crash cannot leave it open, and the max_alert_s timer that ends it when windows stopped
 * coming. Must not own the detector or the stream (detection-loop.ts resets the detector and
 * hands the resulting events here) nor the delivery to the outputs (the conductor's `emitAlert`).
 */
import { randomUUID } from "node:crypto";
import type { Clock, TimerHandle } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { DetectEvent } from "../detect/state-machine.js";
import type { Logger } from "../log.js";
import type { AlertEndReasonName } from "../outputs/mqtt/contract.js";
import type { AlertEvent } from "../outputs/sink.js";
import { thresholdsOf, type AlertJournal } from "./seams.js";

/**
 * An alert the detector should have ended by max_alert_s (it runs on window times) is ended by a
 * timer this long after that, when windows stopped coming (a stream that broke without a problem).
 */
export const MAX_ALERT_GRACE_MS = 2_000;

interface OpenAlert {
  id: string;
  startMs: number;
  dbfs: number;
  /** What it was raised against; its end carries the same (a reload ends an open alert first). */
  thresholds: Record<string, number>;
}

export interface AlertTrackerDeps {
  clock: Clock;
  /** The daemon's logger (its lines keep `component: "daemon"`). */
  log: Logger;
  alertJournal?: AlertJournal | undefined;
  config(): Config;
  /** An alert opened or ended: an acknowledgement was for the one before (control.ts). */
  alertChanged(): void;
  /** Hands an alert event to every output, in order (the conductor). */
  emitAlert(event: AlertEvent): void;
  /** The open alert outlived max_alert_s and its grace: the detection loop ends it (`max_duration`). */
  overdue(): void;
}

export class AlertTracker {
  private openAlert: OpenAlert | null = null;
  private maxAlertTimer: TimerHandle | null = null;

  constructor(private readonly deps: AlertTrackerDeps) {}

  get openId(): string | null {
    return this.openAlert?.id ?? null;
  }

  /**
   * `wallShiftMs`: detector time + this = the wall clock's time. `dbfs`: the level a starting
   * alert is published with. `resetReason`: why the daemon reset the detector (the detector itself
   * only knows "reset" for a forced end), published as the end's `end_reason`.
   */
  handle(events: DetectEvent[], wallShiftMs: number, dbfs: number, resetReason: AlertEndReasonName = "stopped"): void {
    const { log } = this.deps;
    for (const e of events) {
      if (e.type === "alert_start") {
        const alert: OpenAlert = { id: randomUUID(), startMs: e.startMs + wallShiftMs, dbfs, thresholds: thresholdsOf(this.deps.config()) };
        this.openAlert = alert;
        this.deps.alertChanged();
        log.warn({ alertId: alert.id, emotion: e.emotion, peak: e.peak }, "ALERT: danger heard");
        const start: AlertEvent = {
          phase: "start",
          alertId: alert.id,
          startedAtMs: alert.startMs,
          peak: e.peak,
          mean: e.mean,
          emotion: e.emotion,
          probs: e.probs,
          dbfs: alert.dbfs,
          test: false,
          thresholds: alert.thresholds,
        };
        this.deps.emitAlert(start);
        void this.deps.alertJournal?.record(start);
        this.armMaxAlertTimer(alert);
      } else {
        const alert = this.openAlert;
        this.openAlert = null;
        this.deps.alertChanged();
        if (!alert) continue;
        this.clearTimer();
        void this.deps.alertJournal?.record(null);
        const endReason = e.reason === "reset" ? resetReason : e.reason;
        log.info({ alertId: alert.id, endReason, durationS: (e.endMs - e.startMs) / 1000 }, "alert ended");
        this.deps.emitAlert({
          phase: "end",
          alertId: alert.id,
          startedAtMs: alert.startMs,
          endedAtMs: e.endMs + wallShiftMs,
          peak: e.peak,
          mean: e.mean,
          emotion: e.emotion,
          probs: e.probs,
          dbfs: alert.dbfs,
          test: false,
          thresholds: alert.thresholds,
          endReason,
        });
      }
    }
  }

  /**
   * max_alert_s holds by the clock too: the detector ends an alert on window times, so without
   * windows (a stream that broke and said nothing) it would stay open, buzzer on.
   */
  private armMaxAlertTimer(alert: OpenAlert): void {
    this.clearTimer();
    this.maxAlertTimer = this.deps.clock.setTimeout(() => {
      this.maxAlertTimer = null;
      if (this.openAlert === alert) this.deps.overdue();
    }, this.deps.config().detect.max_alert_s * 1000 + MAX_ALERT_GRACE_MS);
  }

  clearTimer(): void {
    if (this.maxAlertTimer) this.deps.clock.clearTimeout(this.maxAlertTimer);
    this.maxAlertTimer = null;
  }
}
