/**
 * What every output (GPIO indicator, MQTT publisher, console) receives. Sinks are isolated
 * (STYLE.md §10): the daemon calls each through `notifyAll`, so a failing buzzer never blocks
 * MQTT, nor the reverse.
 */
import type { Logger } from "../log.js";

export type AlertPhase = "start" | "end";

/**
 * Why an alert ended: the detector's own reasons, `audio_lost` (the microphone stream broke while
 * it was open), `interrupted` (the daemon was killed with it open and ends it after the restart),
 * `stopped` (the daemon stopped or was disarmed/reloaded) and `test` (a test alert's course ran out).
 */
export type AlertEndReason = "score_dropped" | "max_duration" | "reset" | "audio_lost" | "interrupted" | "stopped" | "test";

/** An alert as the detector saw it; times are epoch milliseconds. */
export interface AlertEvent {
  phase: AlertPhase;
  alertId: string;
  startedAtMs: number;
  /** Only for phase "end". */
  endedAtMs?: number;
  /** Only for phase "end". */
  reason?: AlertEndReason;
  peak: number;
  mean: number;
  /** The dominant danger emotion over the alert. */
  emotion: string;
  probs: Record<string, number>;
  dbfs: number;
  test: boolean;
}

export type DetectorStateName = "IDLE" | "SUSPECT" | "ALERT" | "HOLD" | "COOLDOWN";

/** A snapshot of the daemon's condition, for state topics and indicator patterns. */
export interface DeviceStatus {
  state: DetectorStateName;
  danger: number;
  emotion: string | null;
  sinceMs: number;
  armed: boolean;
  mutedUntilMs: number | null;
  problems: string[];
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
