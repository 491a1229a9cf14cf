/**
 * The daemon: the conductor of the composition root (STYLE.md §1). `createDaemonDeps`
 * (real-deps.ts) is the only place that constructs IO (microphone, GPIO, MQTT client, model,
 * clock); the `Daemon` receives everything through `DaemonDeps` (seams.ts), so it is tested with
 * fakes. Like zigbee2mqtt's Controller with its extensions, it conducts four parts, each with one
 * reason to change:
 *
 *   detection-loop.ts  audio in, queue, drain, stream restarts, watchdog evidence (the way of a
 *                      sample is drawn there), with alert-tracker.ts for the open alert
 *   control.ts         arm, disarm, mute, unmute, ack, test, reset_adaptation
 *   health.ts          problems, the housekeeping tick, status (sinks and STATUS=), telemetry
 *   outputs.ts         GPIO, MQTT, status socket and page; the ordered hand-over of alert events
 *                      to every sink, isolated from each other
 *
 * This file owns the lifecycle (start, stop, offNow: which part starts and stops when) and SIGHUP
 * reloads (config and model, swapped in between windows). It must not own detection, commands,
 * health or the outputs: it wires them.
 *
 * systemd: READY=1 once started (model loaded, outputs up or reported, capture supervised), not
 * gated on audio: a dead microphone must not look like a start that hangs for TimeoutStartSec
 * with nothing to see. WATCHDOG=1 only from the drain, when audio arrived recently and the queue
 * is not saturated — never from a bare timer, so a hung capture or a stuck network gets the unit
 * restarted; a dead microphone is raised (`mic_waiting` from its first failure, then `mic_exited`
 * & co.) on MQTT, the LED and STATUS= before and after each such restart (README, "Reliability").
 *
 * Privacy: samples live only in memory between the source and the pipeline; nothing here writes
 * or publishes them (telemetry carries probabilities and a level, never samples).
 */
import type { Config } from "../config/schema.js";
import { pipelineOptions } from "../config/detect-params.js";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Command } from "../outputs/mqtt/commands.js";
import type { ModelInfo, TelemetrySample } from "../outputs/mqtt/contract.js";
import type { AlertEvent, DetectorStateName, DeviceStatus } from "../outputs/sink.js";
import { Pipeline } from "../pipeline.js";
import type { AudioSource } from "../audio/source.js";
import { restartOnlyChanges, restartWarning } from "../config/reload.js";
import { Control } from "./control.js";
import { DetectionLoop } from "./detection-loop.js";
import { Health } from "./health.js";
import { Outputs } from "./outputs.js";
import type { ScorePage } from "./score-ring.js";
import { mqttSettingsOf, thresholdsOf, type DaemonDeps, type ModelHandle } from "./seams.js";

// The daemon's public face for its importers (cli/run, demo, calibrate, tests): the parts, the
// seams and the real dependencies live in their own files and are re-exported from here.
export type { AlertJournal, DaemonDeps, IndicatorOutput, ModelHandle, MqttOutput, StatusSocketOutput } from "./seams.js";
export { thresholdsOf } from "./seams.js";
export { createDaemonDeps, type RealDepsOptions } from "./real-deps.js";
export { MQTT_DOWN_PROBLEM_MS, TICK_MS } from "./health.js";
export { BEHIND_CLEAR_MS, STREAM_GAP_MS } from "./detection-loop.js";
export { MAX_ALERT_GRACE_MS } from "./alert-tracker.js";
export { TEST_ALERT_MS } from "./control.js";

/** What MQTT announces as the model while none could be loaded (so the problem still gets out). */
const NO_MODEL: ModelInfo = { name: "none", version: "0", sha256: "" };

interface PendingSwap {
  config: Config;
  model: ModelHandle;
}

export interface DaemonSnapshot {
  running: boolean;
  ready: boolean;
  state: DetectorStateName;
  /** The Armed switch. */
  armed: boolean;
  /** Armed and not muted: alerts can be raised. */
  listening: boolean;
  mutedUntilMs: number | null;
  acknowledged: boolean;
  problems: Record<string, string>;
  queueDepth: number;
  droppedWindows: number;
  windowsDecided: number;
  rtf: number;
  alertId: string | null;
}

export class Daemon {
  private readonly log: Logger;
  private config: Config;
  private model: ModelHandle | null = null;
  private source: AudioSource | null = null;
  private unsubscribers: (() => void)[] = [];

  private running = false;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private reloading: Promise<boolean> | null = null;
  private pendingSwap: PendingSwap | null = null;

  // The parts. They share the daemon's logger, so log lines keep `component: "daemon"`, and
  // read each other's state through the narrow views below, when needed (never cached).
  private readonly detectionLoop: DetectionLoop;
  private readonly control: Control;
  private readonly health: Health;
  private readonly outputs: Outputs;

  constructor(
    config: Config,
    private readonly deps: DaemonDeps,
  ) {
    this.config = config;
    this.log = deps.log.child({ component: "daemon" });
    const { clock, notifier } = deps;
    const log = this.log;
    const running = (): boolean => this.running;
    const currentConfig = (): Config => this.config;
    const currentModel = (): ModelHandle | null => this.model;
    const publishStatus = (): void => this.health.publishStatus();
    const emitAlert = (event: AlertEvent): void => this.outputs.emitAlert(event);
    this.detectionLoop = new DetectionLoop(config, {
      clock,
      log,
      notifier,
      ...(deps.alertJournal ? { alertJournal: deps.alertJournal } : {}),
      running,
      config: currentConfig,
      model: currentModel,
      applyPendingSwap: () => this.applySwap(),
      listening: () => this.control.listening(),
      alertChanged: () => this.control.alertChanged(),
      emitAlert,
      setProblem: (code, message) => this.health.setProblem(code, message),
      hasProblem: (code) => this.health.hasProblem(code),
      publishStatus,
      statusDue: (danger) => this.health.statusDue(danger),
    });
    this.control = new Control({
      clock,
      log,
      running,
      config: currentConfig,
      model: currentModel,
      pendingModel: () => this.pendingSwap?.model ?? null,
      reloading: () => this.reloading,
      detection: () => this.detectionLoop,
      emitAlert,
      publishStatus,
    });
    this.health = new Health({
      clock,
      log,
      notifier,
      running,
      config: currentConfig,
      indicator: () => this.outputs.indicator,
      mqtt: () => this.outputs.mqtt,
      sinks: () => this.outputs.sinks(),
      detection: () => this.detectionLoop,
      control: () => this.control,
    });
    this.outputs = new Outputs({
      log,
      create: deps,
      running,
      config: currentConfig,
      provider: this,
      setProblem: (code, message) => this.health.setProblem(code, message),
      syncMqttProblems: () => this.health.syncMqttProblems(),
      publishStatus,
      onButton: () => this.control.onButton(),
      onCommand: (c) => this.control.command(c),
    });
  }

  // ─── lifecycle ────────────────────────────────────────────────────────────────────────────────

  /** Loads the model, opens the outputs, starts capture. Throws (with outputs off) if any part cannot start. */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.stopping) await this.stopping;
    const { deps } = this;
    try {
      // Never silent (issue #11/#12): GPIO and MQTT each start or are reported, never gate each
      // other or detection; the model is loaded with fallbacks, and MQTT connects even when no
      // model loads, so that problem is seen before the exit.
      await this.outputs.startIndicator();
      let modelError: unknown = null;
      try {
        this.model = await deps.loadModel(this.config);
        this.log.info({ model: this.model.info }, "model loaded");
      } catch (err) {
        modelError = err;
      }
      await this.outputs.startMqtt(this.model?.info ?? NO_MODEL);
      this.running = true;
      if (this.model?.fallback) this.health.setProblem("model_fallback", this.model.fallback);
      if (modelError !== null || !this.model) {
        this.health.setProblem("model_unavailable", `no model could be loaded, nothing is being listened to: ${describeError(modelError)}`);
        throw modelError;
      }
      this.health.publishProblemsSoFar();
      this.health.syncMqttProblems();
      await this.outputs.startStatus();
      this.health.publishStatus();
      await this.endInterruptedAlert();
      this.source = deps.createSource(this.config);
      this.unsubscribers.push(this.source.onData((samples, tMs) => this.detectionLoop.onAudio(samples, tMs)));
      this.unsubscribers.push(this.source.onProblem((p) => this.detectionLoop.onSourceProblem(p)));
      await this.source.start();
      this.deps.notifier.ready();
      this.health.updateSystemdStatus();
    } catch (err) {
      // Release whatever did open (outputs off, model freed) before reporting the failure.
      await this.release().catch((stopErr: unknown) => this.log.error({ err: stopErr }, "cleanup after a failed start failed"));
      throw err;
    }
    this.health.start();
    this.log.info({ deviceId: this.config.device_id }, "daemon started: listening");
  }

  /** An alert a killed predecessor left open gets its end now, with the same id. */
  private async endInterruptedAlert(): Promise<void> {
    const journal = this.deps.alertJournal;
    if (!journal) return;
    const start = await journal.recover();
    if (!start) return;
    this.log.warn({ alertId: start.alertId }, "an alert was open when the daemon last stopped uncleanly: ending it (interrupted)");
    await journal.record(null);
    this.outputs.emitAlert({ ...start, phase: "end", endedAtMs: this.deps.clock.nowMs(), endReason: "interrupted" });
  }

  /** Stops capture, ends an open alert, flushes the outbox (bounded), publishes offline, switches outputs off. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (!this.running && !this.starting) return Promise.resolve();
    this.stopping = this.doStop().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    await this.release();
  }

  private async release(): Promise<void> {
    this.running = false;
    this.deps.notifier.stopping();
    this.health.clearTimers();
    this.control.clearTimers();
    this.detectionLoop.clearTimers();
    for (const off of this.unsubscribers.splice(0)) off();
    this.outputs.detach();
    await this.source?.stop().catch((err: unknown) => this.log.error({ err }, "stopping audio capture failed"));
    this.source = null;
    await this.outputs.stopStatus();
    // The open alert ends while the sinks are still up; they stop once it has been delivered.
    this.detectionLoop.endForStop();
    await this.outputs.stopSinks();
    this.model?.dispose();
    this.pendingSwap?.model.dispose();
    this.pendingSwap = null;
    this.model = null;
    this.detectionLoop.forgetStream();
    this.log.info("daemon stopped");
  }

  /** Synchronous "outputs off" for process exit and fatal errors. Never throws. */
  offNow(): void {
    this.outputs.offNow();
  }

  /**
   * SIGHUP: re-read config and model. A bad config or model is refused, logged and published as
   * the `reload_failed` problem while the old one keeps running. Resolves true when applied.
   */
  reload(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async doReload(): Promise<boolean> {
    if (!this.running) return false;
    this.deps.notifier.reloading();
    try {
      let next: Config;
      try {
        next = await this.deps.reloadConfig();
      } catch (err) {
        return this.refuseReload("configuration", err);
      }
      let model: ModelHandle;
      try {
        model = await this.deps.loadModel(next);
      } catch (err) {
        return this.refuseReload("model", err);
      }
      try {
        // A hop that is not a whole number of feature steps, say, shows here and not mid-stream.
        new Pipeline({ ...pipelineOptions(next, model), startMs: 0 });
      } catch (err) {
        model.dispose();
        return this.refuseReload("configuration", err);
      }
      if (!this.running) {
        model.dispose();
        return false;
      }
      this.warnRestartOnly(this.config, next);
      // A new connection only when the sink's own settings or the model it announces changed:
      // thresholds travel with each alert, so a threshold alone never reconnects.
      const mqttChanged =
        JSON.stringify(model.info) !== JSON.stringify(this.model?.info) ||
        JSON.stringify(mqttSettingsOf(next)) !== JSON.stringify(mqttSettingsOf(this.config));
      if (mqttChanged) this.outputs.swapMqtt(next, model.info);
      this.pendingSwap?.model.dispose();
      this.pendingSwap = { config: next, model };
      if (!this.detectionLoop.streaming) this.applySwap();
      this.deps.log.level = next.log_level;
      this.health.setProblem("reload_failed", null);
      this.health.setProblem("model_fallback", model.fallback ?? null);
      this.log.info({ model: model.info }, "configuration and model reloaded; they apply from the next window");
      return true;
    } finally {
      this.deps.notifier.ready();
    }
  }

  private refuseReload(what: string, err: unknown): false {
    const message = `reload refused, the old ${what} keeps running: ${describeError(err)}`;
    this.log.error({ err }, message);
    this.health.setProblem("reload_failed", message);
    return false;
  }

  /** Settings read only at start (marked in the schema, config/reload.ts): say so instead of silently ignoring the change. */
  private warnRestartOnly(old: Config, next: Config): void {
    const changes = restartOnlyChanges(old, next);
    const warning = restartWarning(changes);
    if (warning !== null) this.log.warn({ changed: changes.map((c) => c.path) }, warning);
  }

  private applySwap(): void {
    const swap = this.pendingSwap;
    if (!swap) return;
    this.pendingSwap = null;
    const oldModel = this.model;
    // The detection loop ends an alert open in the old pipeline and carries the stream over.
    this.detectionLoop.adopt(swap.config, swap.model);
    this.config = swap.config;
    this.model = swap.model;
    if (oldModel && oldModel !== swap.model) oldModel.dispose();
    this.health.armTelemetry();
    this.health.publishStatus();
  }

  /** The running model and the thresholds decisions are made against (for the status page). */
  detection(): { model: ModelInfo | null; thresholds: Record<string, number> } {
    return { model: this.model?.info ?? null, thresholds: thresholdsOf(this.config) };
  }

  // ─── what the status socket and page read (StatusPageProvider) ────────────────────────────────

  /** Applies one command (control.ts); throws a message-bearing error the MQTT sink answers on `set/result`. */
  command(c: Command): Promise<void> {
    return this.control.command(c);
  }

  status(): DeviceStatus {
    return this.health.status();
  }

  /** Probabilities, level, speed and backlog; never samples. */
  telemetrySample(): TelemetrySample {
    return this.health.telemetrySample();
  }

  /** The status socket's `scores` request: remembered window scores, numbers only. */
  scores(afterSeq: number, sinceMs: number, max: number): ScorePage & { hopMs: number } {
    return { ...this.detectionLoop.scores(afterSeq, sinceMs, max), hopMs: this.config.detect.hop_s * 1000 };
  }

  snapshot(): DaemonSnapshot {
    const d = this.detectionLoop;
    const c = this.control;
    return {
      running: this.running,
      ready: d.ready,
      state: d.state,
      armed: c.armed,
      listening: c.listening(),
      mutedUntilMs: c.mutedUntilMs,
      acknowledged: c.acknowledged,
      problems: this.health.problemsNow(),
      queueDepth: d.queueDepth,
      droppedWindows: d.droppedWindows,
      windowsDecided: d.windowsDecided,
      rtf: d.rtf,
      alertId: d.openAlertId,
    };
  }
}
