/**
 * What every output (GPIO indicator, MQTT publisher, console) receives. Sinks are isolated
 * (STYLE.md §10): the daemon calls each through `notifyAll`, so a failing buzzer never blocks
 * MQTT, nor the reverse.
 */
import type { Logger } from "../log.js";
import type { AlertEndReasonName } from "./mqtt/contract.js";
import type { DetectorStateName } from "../detect/state-machine.js";

export type AlertPhase = "start" | "end";

/** An alert as the detector saw it; times are epoch milliseconds. */
export interface AlertEvent {
  phase: AlertPhase;
  alertId: string;
  startedAtMs: number;
  /** Only for phase "end". */
  endedAtMs?: number;
  peak: number;
  mean: number;
  /** The dominant danger emotion over the alert. */
  emotion: string;
  probs: Record<string, number>;
  dbfs: number;
  test: boolean;
  /**
   * The detection settings the alert was raised against (daemon/seams.ts thresholdsOf), published
   * with it so a reader knows what the decision was made against. With the event, not baked into
   * a sink: a reload that changes a threshold changes the next alert's, and nothing else.
   */
  thresholds: Record<string, number>;
  /** Only for phase "end": why it ended (contract.ts ALERT_END_REASONS). */
  endReason?: AlertEndReasonName;
}

export type { DetectorStateName };

/** A snapshot of the daemon's condition, for state topics and indicator patterns. */
export interface DeviceStatus {
  state: DetectorStateName;
  danger: number;
  /** The strongest emotion of the latest analysed window, danger or not; null when none was analysed. */
  emotion: string | null;
  /** The danger label that weighs most in that window's danger score; null when none is above zero. */
  dangerEmotion: string | null;
  sinceMs: number;
  /** The Armed switch; a mute does not change it. */
  armed: boolean;
  /** When a running mute ends; null when not muted. Detection runs only armed and not muted. */
  mutedUntilMs: number | null;
  /** The length of the running mute as asked for, minutes; 0 when not muted. */
  muteMinutes: number;
  problems: string[];
  /** What each current problem means, by code. */
  problemMessages: Record<string, string>;
  acknowledged: boolean;
}

export interface AlertSink {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  alert(event: AlertEvent): Promise<void>;
  status(status: DeviceStatus): Promise<void>;
}

/** Deliver to every sink; one failing sink is logged under its name and never stops the others. */
export async function notifyAll(
  sinks: readonly AlertSink[],
  log: Logger,
  call: (sink: AlertSink) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(sinks.map((s) => call(s)));
  results.forEach((r, i) => {
    if (r.status === "rejected") log.error({ sink: sinks[i]?.name, err: r.reason }, "sink failed");
  });
}
