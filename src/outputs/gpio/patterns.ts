/**
 * What the LED and the buzzer should be doing, as a pure function of the device's condition and
 * the time (STYLE.md §6). The indicator samples it on a timer; tests sample it at chosen times.
 *
 * The patterns, most urgent first:
 *
 * | condition | LED | buzzer |
 * |---|---|---|
 * | alert (ALERT/HOLD, or an alert event not yet ended) | solid | on/off pattern, at most `buzzerMaxOnMs` after the alert began; silent once acknowledged or while muted |
 * | test alert | as an alert, for `testAlertMs` only | as an alert, within `testAlertMs` |
 * | problem (`status.problems` non-empty) | fast blink | off |
 * | disarmed or muted | dark | off |
 * | idle, SUSPECT, COOLDOWN | heartbeat blink if enabled, else dark | off |
 * | no status received yet | dark | off |
 *
 * Decisions:
 * - SUSPECT shows nothing. Loud television puts the detector in SUSPECT many times an evening;
 *   a light that flickers with it teaches the household to ignore the light, and the buzzer must
 *   never sound before a real alert.
 * - Disarmed is dark with no heartbeat: the heartbeat means "listening and protecting", so its
 *   absence is how a carer sees the device is not armed. Problems still blink while disarmed (a
 *   fault needs fixing either way), and alerts still show: whether to alert is the detector's
 *   decision, the indicator never hides one.
 * - The buzzer limit counts elapsed time since the alert began (not summed on-time), so its
 *   end is predictable: `buzzerMaxOnMs` after the first beep the buzzer stops, the LED stays.
 * - Muting silences the buzzer only; the LED still shows the alert.
 */
import type { DeviceStatus } from "../sink.js";

/** Heartbeat: a short blink every few seconds means "running and armed". */
export const HEARTBEAT_PERIOD_MS = 4000;
export const HEARTBEAT_ON_MS = 100;
/** Problem: fast, even blink, unlike anything else the LED does. */
export const PROBLEM_BLINK_HALF_PERIOD_MS = 200;

export interface PatternOptions {
  heartbeat: boolean;
  /** The buzzer stops this long after an alert began, even if the alert goes on. */
  buzzerMaxOnMs: number;
  /** Buzzer beeps: [on ms, off ms]; off 0 means a continuous tone. */
  buzzerPatternMs: readonly [number, number];
  /** How long a test alert shows. */
  testAlertMs: number;
}

/** An alert the indicator is showing; times are monotonic milliseconds. */
export interface AlarmContext {
  startedMonoMs: number;
  test: boolean;
  /** Acknowledged by the local button (the daemon's acknowledgement arrives in the status). */
  acknowledged: boolean;
}

export interface PatternInput {
  status: DeviceStatus | null;
  alarm: AlarmContext | null;
  /** Epoch ms, only to compare with `status.mutedUntilMs`. */
  nowMs: number;
  /** Monotonic ms, for blink phases and durations: immune to the NTP jump after a Pi boots. */
  monoMs: number;
}

export type IndicatorMode = "off" | "heartbeat" | "disarmed" | "problem" | "alert" | "test";

export interface IndicatorOutputs {
  led: boolean;
  buzzer: boolean;
  mode: IndicatorMode;
}

/** True when the detector itself says an alert is under way. */
export function statusAlerting(status: DeviceStatus | null): boolean {
  return status !== null && (status.state === "ALERT" || status.state === "HOLD");
}

/** True while a test alert started at `alarm.startedMonoMs` should still show. */
export function testAlarmActive(alarm: AlarmContext, monoMs: number, options: PatternOptions): boolean {
  return monoMs - alarm.startedMonoMs < options.testAlertMs;
}

export function indicatorOutputs(input: PatternInput, options: PatternOptions): IndicatorOutputs {
  const { status, alarm, nowMs, monoMs } = input;
  if (alarm && (!alarm.test || testAlarmActive(alarm, monoMs, options))) {
    const mode: IndicatorMode = alarm.test ? "test" : "alert";
    return { led: true, buzzer: buzzerOn(alarm, status, nowMs, monoMs, options), mode };
  }
  if (status === null) return { led: false, buzzer: false, mode: "off" };
  if (status.problems.length > 0) {
    const phase = Math.floor(monoMs / PROBLEM_BLINK_HALF_PERIOD_MS) % 2;
    return { led: phase === 0, buzzer: false, mode: "problem" };
  }
  // Muted is not protecting either: no heartbeat, the same dark LED as disarmed.
  if (!status.armed || (status.mutedUntilMs !== null && nowMs < status.mutedUntilMs)) return { led: false, buzzer: false, mode: "disarmed" };
  if (options.heartbeat) {
    return { led: mod(monoMs, HEARTBEAT_PERIOD_MS) < HEARTBEAT_ON_MS, buzzer: false, mode: "heartbeat" };
  }
  return { led: false, buzzer: false, mode: "off" };
}

function buzzerOn(
  alarm: AlarmContext,
  status: DeviceStatus | null,
  nowMs: number,
  monoMs: number,
  options: PatternOptions,
): boolean {
  if (alarm.acknowledged) return false;
  // The daemon's acknowledgement belongs to the detector's current alert; a test alert is not it.
  if (!alarm.test && status?.acknowledged === true && statusAlerting(status)) return false;
  if (status?.mutedUntilMs != null && nowMs < status.mutedUntilMs) return false;
  const elapsed = monoMs - alarm.startedMonoMs;
  const limit = alarm.test ? Math.min(options.buzzerMaxOnMs, options.testAlertMs) : options.buzzerMaxOnMs;
  if (elapsed < 0 || elapsed >= limit) return false;
  const [onMs, offMs] = options.buzzerPatternMs;
  if (offMs <= 0) return true;
  return mod(elapsed, onMs + offMs) < onMs;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
