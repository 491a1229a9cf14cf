/**
 * Health: what the daemon says about itself. Owns the problem board (raise, clear, log and
 * publish only changes), the housekeeping tick (the outputs' health, the MQTT outage, the
 * inference backlog, systemd's STATUS=), the device status handed to every sink, and the
 * telemetry timer (probabilities, level, speed, backlog; never samples).
 *
 * Must not own: decisions or the stream (detection-loop.ts), arming and commands (control.ts),
 * the lifecycle and outputs (daemon.ts). It reads their state through `HealthDeps` and changes
 * none of it, except asking the detection loop to clear its own `inference_behind`.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Config } from "../config/schema.js";
import { strongestEmotion } from "../detect/danger.js";
import type { Logger } from "../log.js";
import type { ProblemReport, TelemetrySample } from "../outputs/mqtt/contract.js";
import { notifyAll, type AlertSink, type DetectorStateName, type DeviceStatus } from "../outputs/sink.js";
import type { WindowResult } from "../pipeline.js";
import type { Notifier } from "./sd-notify.js";
import type { IndicatorOutput, MqttOutput } from "./seams.js";

/** Housekeeping period: GPIO/MQTT problems, the inference_behind problem, STATUS=. */
export const TICK_MS = 5_000;
/** A broker unreachable this long is a problem (alerts wait in the outbox meanwhile). */
export const MQTT_DOWN_PROBLEM_MS = 60_000;
/** A state is republished when the danger score moved this much, at most once per TICK_MS. */
const DANGER_STEP = 0.1;

/** What health reads of the detection loop (DetectionLoop satisfies it). */
export interface DetectionFigures {
  readonly state: DetectorStateName;
  readonly sinceMs: number;
  readonly lastResult: WindowResult | null;
  readonly lastProbs: Record<string, number> | null;
  readonly lastDbfs: number;
  readonly rtf: number;
  readonly queueDepth: number;
  readonly droppedWindows: number;
  clearBehindWhenCaughtUp(nowMonoMs: number): void;
}

/** What health reads of control (Control satisfies it). */
export interface ArmingFigures {
  readonly armed: boolean;
  readonly mutedUntilMs: number | null;
  readonly muteMinutes: number;
  readonly acknowledged: boolean;
}

export interface HealthDeps {
  clock: Clock;
  /** The daemon's logger (its lines keep `component: "daemon"`). */
  log: Logger;
  notifier: Notifier;
  running(): boolean;
  config(): Config;
  indicator(): IndicatorOutput | null;
  mqtt(): MqttOutput | null;
  /** Every output the status goes to. */
  sinks(): AlertSink[];
  detection(): DetectionFigures;
  control(): ArmingFigures;
}

export class Health {
  private readonly problems = new Map<string, string>();
  private tickTimer: TimerHandle | null = null;
  private telemetryTimer: TimerHandle | null = null;
  private mqttDownSinceMonoMs: number | null = null;
  private publishedDanger = 0;
  private lastDangerPublishMonoMs = -Infinity;

  constructor(private readonly deps: HealthDeps) {}

  /** Starts the tick and the telemetry (the daemon is running). */
  start(): void {
    this.armTick();
    this.armTelemetry();
  }

  clearTimers(): void {
    const c = this.deps.clock;
    for (const t of [this.tickTimer, this.telemetryTimer]) if (t) c.clearTimeout(t);
    this.tickTimer = this.telemetryTimer = null;
  }

  // ─── problems ─────────────────────────────────────────────────────────────────────────────────

  /** Raise (message) or clear (null) a problem; publishes and logs only changes. */
  setProblem(code: string, message: string | null): void {
    const had = this.problems.get(code);
    if (message === null) {
      if (had === undefined) return;
      this.problems.delete(code);
    } else {
      if (had === message) return;
      this.problems.set(code, message);
    }
    const active = message !== null;
    const report: ProblemReport = { atMs: this.deps.clock.nowMs(), code, message: message ?? `cleared: ${had}`, active };
    if (active) this.deps.log.warn({ problem: code }, message);
    else this.deps.log.info({ problem: code }, "problem cleared");
    const mqtt = this.deps.mqtt();
    if (mqtt) void mqtt.publishProblem(report).catch((err: unknown) => this.deps.log.debug({ err }, "problem not published"));
    this.publishStatus();
  }

  hasProblem(code: string): boolean {
    return this.problems.has(code);
  }

  /** The active problems, code → message. */
  problemsNow(): Record<string, string> {
    return Object.fromEntries(this.problems);
  }

  /** Problems raised before MQTT was up (GPIO, model fallback) go out on the problem topic too. */
  publishProblemsSoFar(): void {
    const mqtt = this.deps.mqtt();
    if (!mqtt) return;
    for (const [code, message] of this.problems) {
      void mqtt.publishProblem({ atMs: this.deps.clock.nowMs(), code, message, active: true }).catch(() => undefined);
    }
  }

  /** The MQTT sink's delivery conditions (outbox failing, broker stalled) as problems. */
  syncMqttProblems(): void {
    const reported = this.deps.mqtt()?.deliveryProblems?.() ?? [];
    for (const code of ["outbox_failing", "mqtt_stalled"]) {
      this.setProblem(code, reported.find((p) => p.code === code)?.message ?? null);
    }
  }

  // ─── status ───────────────────────────────────────────────────────────────────────────────────

  status(): DeviceStatus {
    const d = this.deps.detection();
    const c = this.deps.control();
    return {
      state: d.state,
      danger: round4(d.lastResult?.smoothed ?? 0),
      emotion: strongestEmotion(d.lastResult?.probs),
      dangerEmotion: d.lastResult?.emotion ?? null,
      sinceMs: d.sinceMs,
      armed: c.armed,
      mutedUntilMs: c.mutedUntilMs,
      muteMinutes: c.muteMinutes,
      problems: [...this.problems.keys()].sort(),
      problemMessages: Object.fromEntries([...this.problems.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      acknowledged: c.acknowledged,
    };
  }

  publishStatus(): void {
    if (!this.deps.running()) return;
    const status = this.status();
    this.publishedDanger = status.danger;
    this.lastDangerPublishMonoMs = this.deps.clock.monotonicMs();
    void notifyAll(this.deps.sinks(), this.deps.log, (s) => s.status(status));
    this.updateSystemdStatus();
  }

  /** The danger score moved by DANGER_STEP since the last status, published at most once per TICK_MS. */
  statusDue(danger: number): boolean {
    return Math.abs(danger - this.publishedDanger) >= DANGER_STEP && this.deps.clock.monotonicMs() - this.lastDangerPublishMonoMs >= TICK_MS;
  }

  updateSystemdStatus(): void {
    if (!this.deps.notifier.enabled) return;
    const s = this.status();
    const arming = `${s.armed ? "armed" : "disarmed"}${s.mutedUntilMs !== null ? ", muted" : ""}`;
    const problems = s.problems.length > 0 ? `problems: ${s.problems.join(", ")}` : "no problems";
    this.deps.notifier.status(`${s.state}, ${arming}, rtf ${this.deps.detection().rtf.toFixed(3)}, ${problems}`);
  }

  // ─── timers ───────────────────────────────────────────────────────────────────────────────────

  private armTick(): void {
    this.tickTimer = this.deps.clock.setTimeout(() => {
      this.tickTimer = null;
      if (!this.deps.running()) return;
      this.tick();
      this.armTick();
    }, TICK_MS);
  }

  /** Polls the outputs' health and the inference backlog. */
  private tick(): void {
    const now = this.deps.clock.monotonicMs();
    const gpio = this.deps.indicator()?.problems() ?? [];
    this.setProblem("gpio_failing", gpio.length > 0 ? gpio.join("; ") : null);
    this.syncMqttProblems();
    const mqtt = this.deps.mqtt();
    if (mqtt) {
      this.setProblem("mqtt_client_id_conflict", mqtt.clientIdConflict ?? null);
      if (mqtt.connected) this.mqttDownSinceMonoMs = null;
      else this.mqttDownSinceMonoMs ??= now;
      const downMs = this.mqttDownSinceMonoMs === null ? 0 : now - this.mqttDownSinceMonoMs;
      this.setProblem(
        "mqtt_disconnected",
        downMs >= MQTT_DOWN_PROBLEM_MS
          ? `MQTT broker ${this.deps.config().mqtt.url ?? ""} unreachable for ${Math.round(downMs / 1000)} s or more; alerts wait in the outbox`
          : this.problems.has("mqtt_disconnected") && downMs > 0
            ? (this.problems.get("mqtt_disconnected") ?? null)
            : null,
      );
    } else {
      // MQTT turned off by a reload: nothing is disconnected or taken over any more.
      this.mqttDownSinceMonoMs = null;
      this.setProblem("mqtt_disconnected", null);
      this.setProblem("mqtt_client_id_conflict", null);
    }
    this.deps.detection().clearBehindWhenCaughtUp(now);
    this.updateSystemdStatus();
  }

  /**
   * (Re)starts the telemetry timer at the configured interval. A sample goes to the MQTT sink
   * there is when it fires (none while MQTT is off): the sink a reload brings may come after the
   * reload re-armed the timer, so arming does not wait for one.
   */
  armTelemetry(): void {
    if (this.telemetryTimer) this.deps.clock.clearTimeout(this.telemetryTimer);
    this.telemetryTimer = null;
    const intervalMs = this.deps.config().mqtt.telemetry_interval_s * 1000;
    if (!this.deps.running() || intervalMs <= 0) return;
    this.telemetryTimer = this.deps.clock.setTimeout(() => {
      this.telemetryTimer = null;
      if (!this.deps.running()) return;
      void this.deps
        .mqtt()
        ?.publishTelemetry(this.telemetrySample())
        .catch((err: unknown) => this.deps.log.debug({ err }, "telemetry not published"));
      this.armTelemetry();
    }, intervalMs);
  }

  /** Probabilities, level, speed and backlog; never samples. */
  telemetrySample(): TelemetrySample {
    const d = this.deps.detection();
    const probs = d.lastProbs ? Object.fromEntries(Object.entries(d.lastProbs).map(([k, v]) => [k, round4(v)])) : {};
    return {
      atMs: this.deps.clock.nowMs(),
      probs,
      dbfs: Math.round(d.lastDbfs * 10) / 10,
      rtf: round4(d.rtf),
      droppedWindows: d.droppedWindows,
      queueDepth: d.queueDepth,
    };
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
