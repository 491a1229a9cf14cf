/**
 * The daemon: the composition root (STYLE.md §1). `createDaemonDeps` (real-deps.ts) is the only
 * place that constructs IO (microphone, GPIO, MQTT client, model, clock); the `Daemon` class
 * receives everything through `DaemonDeps` (seams.ts), so its logic is tested with fakes.
 *
 * The way of a sample:
 *
 *   source.onData ──▶ pipeline.pushAudio (cheap, on the capture path) ──▶ bounded queue
 *        ──setImmediate──▶ drain: pipeline.classify (the network) ──▶ pipeline.decide
 *        ──▶ alert events ──▶ every sink (GPIO, MQTT outbox), isolated from each other
 *
 * Capture never waits for inference: when the network falls behind, the queue drops its oldest
 * window, counts it, and raises `inference_behind`.
 *
 * systemd: READY=1 once started (model loaded, outputs up or reported, capture supervised), not
 * gated on audio: a dead microphone must not look like a start that hangs for TimeoutStartSec
 * with nothing to see. WATCHDOG=1 only from the drain, when audio arrived recently and the queue
 * is not saturated — never from a bare timer, so a hung capture or a stuck network gets the unit
 * restarted; a dead microphone is raised (`mic_waiting` from its first failure, then `mic_exited`
 * & co.) on MQTT, the LED and STATUS= before and after each such restart (README, "Reliability").
 *
 * Commands (MQTT `set`, the acknowledge button): arm, disarm, mute N minutes (no alerts until the
 * mute ends by itself; independent of the Armed switch, issue #12), unmute, test, ack (buzzer off,
 * the alert stays, the acknowledgement is published in the state), reset_adaptation (forget the
 * learnt voice and room statistics, for a unit moved to another person or room).
 *
 * Privacy: samples live only in memory between the source and the pipeline; nothing here writes
 * or publishes them (telemetry carries probabilities and a level, never samples).
 */
import { randomUUID } from "node:crypto";
import type { Config } from "../config/schema.js";
import { detectParamsFromConfig } from "../config/detect-params.js";
import { strongestEmotion } from "../detect/danger.js";
import type { DetectEvent } from "../detect/state-machine.js";
import { describeError, EarwitnessError } from "../errors.js";
import type { Logger } from "../log.js";
import { DEFAULT_GPIO_OPTIONS } from "../outputs/gpio/indicator.js";
import type { Command } from "../outputs/mqtt/commands.js";
import type { AlertEndReasonName, ModelInfo, ProblemReport, TelemetrySample } from "../outputs/mqtt/contract.js";
import { notifyAll, type AlertEvent, type AlertSink, type DetectorStateName, type DeviceStatus } from "../outputs/sink.js";
import { Pipeline, type WindowJob, type WindowResult } from "../pipeline.js";
import type { TimerHandle } from "../clock.js";
import { int16ToFloat, type AudioSource, type SourceProblem } from "./audio-source.js";
import { BoundedQueue } from "./bounded-queue.js";
import type { DeviceAdaptation } from "./build.js";
import { ScoreRing, type ScorePage } from "./score-ring.js";
import { thresholdsOf, type DaemonDeps, type IndicatorOutput, type ModelHandle, type MqttOutput, type StatusSocketOutput } from "./seams.js";

// The daemon's public face for its importers (cli/run, demo, selftest, doctor, calibrate, tests):
// the seams and the real dependencies live in their own files and are re-exported from here.
export type { AlertJournal, DaemonDeps, IndicatorOutput, ModelHandle, MqttOutput, StatusSocketOutput } from "./seams.js";
export { thresholdsOf } from "./seams.js";
export { createDaemonDeps, createIndicator, createMicrophone, type RealDepsOptions } from "./real-deps.js";

// ─── tuning that is not configuration ───────────────────────────────────────────────────────────

/** Housekeeping period: GPIO/MQTT problems, the inference_behind problem, STATUS=. */
export const TICK_MS = 5_000;
/** A broker unreachable this long is a problem (alerts wait in the outbox meanwhile). */
export const MQTT_DOWN_PROBLEM_MS = 60_000;
/** No dropped window for this long clears `inference_behind`. */
export const BEHIND_CLEAR_MS = 30_000;
/**
 * A pause this long between consecutive chunks, by the monotonic clock, means the stream restarted:
 * start afresh. A wall-clock difference this large with no such pause is an NTP step, not a break.
 */
export const STREAM_GAP_MS = 10_000;
/** How long a test alert lasts before its end event. */
export const TEST_ALERT_MS = DEFAULT_GPIO_OPTIONS.testAlertMs;
/** A state is republished when the danger score moved this much, at most once per TICK_MS. */
const DANGER_STEP = 0.1;

/**
 * An alert the detector should have ended by max_alert_s (it runs on window times) is ended by a
 * timer this long after that, when windows stopped coming (a stream that broke without a problem).
 */
export const MAX_ALERT_GRACE_MS = 2_000;
/** What MQTT announces as the model while none could be loaded (so the problem still gets out). */
const NO_MODEL: ModelInfo = { name: "none", version: "0", sha256: "" };

/** Microphone problems that mean the recorder process restarted: the stream has a hole. */
const STREAM_BREAK_CODES = new Set(["mic_exited", "mic_stalled", "mic_rate", "mic_missing"]);
/** The microphone's audio is not in the format it should be (src/audio/format-check.ts). */
const MIC_FORMAT = "mic_format";

interface OpenAlert {
  id: string;
  startMs: number;
  dbfs: number;
}

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
  private pipeline: Pipeline | null = null;
  private source: AudioSource | null = null;
  private indicator: IndicatorOutput | null = null;
  private mqtt: MqttOutput | null = null;
  private statusSocket: StatusSocketOutput | null = null;
  private statusPage: StatusSocketOutput | null = null;
  private queue: BoundedQueue<WindowJob>;
  private unsubscribers: (() => void)[] = [];

  private running = false;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private reloading: Promise<boolean> | null = null;
  private readySent = false;
  private drainScheduled = false;
  private pendingSwap: PendingSwap | null = null;
  /** Alert deliveries in order: start before end, and a sink swap in between waits its turn. */
  private alertChain: Promise<void> = Promise.resolve();

  // detection state
  private streamEndMs: number | null = null;
  private streamBroken = false;
  private lastAudioMonoMs: number | null = null;
  /** Wall-clock steps (NTP) since the stream began: pipeline time + this = the clock's time now. */
  private wallShiftMs = 0;
  /** `mic_format` is raised: the audio is not a microphone's, so it is not listened to. */
  private audioUnusable = false;
  private openAlert: OpenAlert | null = null;
  private lastResult: WindowResult | null = null;
  private lastProbs: Record<string, number> | null = null;
  private lastState: DetectorStateName = "IDLE";
  private sinceMs: number;
  private windowsDecided = 0;
  private lastDropMonoMs: number | null = null;
  private rtf = 0;
  private lastWatchdogMonoMs: number | null = null;
  /** Every decided window's time, smoothed score and level, for `calibrate --from-daemon` (score-ring.ts). */
  private readonly scoreRing: ScoreRing;

  // control state
  private armed = true;
  private mutedUntilMs: number | null = null;
  private muteMinutes = 0;
  private acknowledged = false;
  private readonly problems = new Map<string, string>();
  private publishedDanger = 0;

  // timers
  private tickTimer: TimerHandle | null = null;
  private telemetryTimer: TimerHandle | null = null;
  private muteTimer: TimerHandle | null = null;
  private maxAlertTimer: TimerHandle | null = null;
  private readonly testTimers = new Set<TimerHandle>();
  private mqttDownSinceMonoMs: number | null = null;

  constructor(
    config: Config,
    private readonly deps: DaemonDeps,
  ) {
    this.config = config;
    this.log = deps.log.child({ component: "daemon" });
    this.queue = new BoundedQueue(config.detect.queue_max);
    this.sinceMs = deps.clock.nowMs();
    this.scoreRing = ScoreRing.forHop(config.detect.hop_s * 1000);
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
      await this.startIndicator();
      let modelError: unknown = null;
      try {
        this.model = await deps.loadModel(this.config);
        this.log.info({ model: this.model.info }, "model loaded");
      } catch (err) {
        modelError = err;
      }
      await this.startMqtt(this.model?.info ?? NO_MODEL);
      this.running = true;
      if (this.model?.fallback) this.setProblem("model_fallback", this.model.fallback);
      if (modelError !== null || !this.model) {
        this.setProblem("model_unavailable", `no model could be loaded, nothing is being listened to: ${describeError(modelError)}`);
        throw modelError;
      }
      this.publishProblemsSoFar();
      this.syncMqttProblems();
      await this.startStatusSocket();
      await this.startStatusPage();
      this.publishStatus();
      await this.endInterruptedAlert();
      this.source = deps.createSource(this.config);
      this.unsubscribers.push(this.source.onData((samples, tMs) => this.onAudio(samples, tMs)));
      this.unsubscribers.push(this.source.onProblem((p) => this.onSourceProblem(p)));
      await this.source.start();
      this.deps.notifier.ready();
      this.updateSystemdStatus();
    } catch (err) {
      // Release whatever did open (outputs off, model freed) before reporting the failure.
      await this.release().catch((stopErr: unknown) => this.log.error({ err: stopErr }, "cleanup after a failed start failed"));
      throw err;
    }
    this.armTick();
    this.armTelemetry();
    this.log.info({ deviceId: this.config.device_id }, "daemon started: listening");
  }

  /** GPIO that cannot work is a problem (`gpio_unavailable`), never a reason to stay deaf. */
  private async startIndicator(): Promise<void> {
    let indicator: IndicatorOutput | null = null;
    try {
      indicator = await this.deps.createIndicator(this.config);
      await indicator?.start();
    } catch (err) {
      await indicator?.stop().catch(() => undefined);
      indicator = null;
      this.log.error({ err }, "GPIO unavailable: no LED, buzzer or button; detection and MQTT alerts go on");
      this.setProblem("gpio_unavailable", `GPIO unavailable (no LED, buzzer or button): ${describeError(err)}`);
    }
    this.indicator = indicator;
    if (indicator) this.unsubscribers.push(indicator.onButton(() => this.onButton()));
  }

  /** MQTT that cannot start is a problem (`mqtt_unavailable`), shown on the LED; detection goes on. */
  private async startMqtt(info: ModelInfo): Promise<void> {
    let mqtt: MqttOutput | null = null;
    try {
      mqtt = await this.deps.createMqtt(this.config, info);
      await mqtt?.start();
    } catch (err) {
      await mqtt?.stop().catch(() => undefined);
      mqtt = null;
      this.log.error({ err }, "MQTT unavailable: alerts only on the LED and buzzer");
      this.setProblem("mqtt_unavailable", `MQTT unavailable, alerts only on the LED and buzzer: ${describeError(err)}`);
    }
    this.mqtt = mqtt;
    this.attachCommands(mqtt);
  }

  /** Problems raised before MQTT was up (GPIO, model fallback) go out on the problem topic too. */
  private publishProblemsSoFar(): void {
    const mqtt = this.mqtt;
    if (!mqtt) return;
    for (const [code, message] of this.problems) {
      void mqtt.publishProblem({ atMs: this.deps.clock.nowMs(), code, message, active: true }).catch(() => undefined);
    }
  }

  /** The MQTT sink's delivery conditions (outbox failing, broker stalled) as problems. */
  private syncMqttProblems(): void {
    const reported = this.mqtt?.deliveryProblems?.() ?? [];
    for (const code of ["outbox_failing", "mqtt_stalled"]) {
      this.setProblem(code, reported.find((p) => p.code === code)?.message ?? null);
    }
  }

  /** An alert a killed predecessor left open gets its end now, with the same id. */
  private async endInterruptedAlert(): Promise<void> {
    const journal = this.deps.alertJournal;
    if (!journal) return;
    const start = await journal.recover();
    if (!start) return;
    this.log.warn({ alertId: start.alertId }, "an alert was open when the daemon last stopped uncleanly: ending it (interrupted)");
    await journal.record(null);
    this.emitAlert({ ...start, phase: "end", endedAtMs: this.deps.clock.nowMs(), endReason: "interrupted" });
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
    this.clearTimers();
    for (const off of this.unsubscribers.splice(0)) off();
    await this.source?.stop().catch((err: unknown) => this.log.error({ err }, "stopping audio capture failed"));
    this.source = null;
    await this.statusSocket?.stop().catch((err: unknown) => this.log.error({ err }, "stopping the status socket failed"));
    this.statusSocket = null;
    await this.statusPage?.stop().catch((err: unknown) => this.log.error({ err }, "stopping the status page failed"));
    this.statusPage = null;
    this.queue.takeAll();
    // An alert still open is ended, so a consumer never waits forever for its end.
    if (this.pipeline && this.openAlert) this.handleEvents(this.pipeline.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, "stopped");
    await this.alertChain;
    // MQTT first (it flushes the outbox within its timeout and publishes offline), then GPIO off.
    await this.mqtt?.stop().catch((err: unknown) => this.log.error({ err }, "stopping MQTT failed"));
    await this.indicator?.stop().catch((err: unknown) => this.log.error({ err }, "stopping GPIO failed"));
    this.indicator?.offNow();
    this.mqtt = null;
    this.model?.dispose();
    this.pendingSwap?.model.dispose();
    this.pendingSwap = null;
    this.model = null;
    this.pipeline = null;
    this.streamEndMs = null;
    this.readySent = false;
    this.log.info("daemon stopped");
  }

  /** Synchronous "outputs off" for process exit and fatal errors. Never throws. */
  offNow(): void {
    try {
      this.indicator?.offNow();
    } catch {
      // On the way out nothing more can be done.
    }
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
        new Pipeline({ classifier: model.classifier, detect: detectParamsFromConfig(next.detect), startMs: 0 });
      } catch (err) {
        model.dispose();
        return this.refuseReload("configuration", err);
      }
      if (!this.running) {
        model.dispose();
        return false;
      }
      this.warnRestartOnly(this.config, next);
      const mqttChanged =
        JSON.stringify(model.info) !== JSON.stringify(this.model?.info) ||
        JSON.stringify(thresholdsOf(next)) !== JSON.stringify(thresholdsOf(this.config));
      if (mqttChanged && this.mqtt) this.swapMqtt(next, model.info);
      this.pendingSwap?.model.dispose();
      this.pendingSwap = { config: next, model };
      if (this.pipeline === null) this.applySwap();
      this.deps.log.level = next.log_level;
      this.setProblem("reload_failed", null);
      this.setProblem("model_fallback", model.fallback ?? null);
      this.log.info({ model: model.info }, "configuration and model reloaded; they apply from the next window");
      return true;
    } finally {
      this.deps.notifier.ready();
    }
  }

  private refuseReload(what: string, err: unknown): false {
    const message = `reload refused, the old ${what} keeps running: ${describeError(err)}`;
    this.log.error({ err }, message);
    this.setProblem("reload_failed", message);
    return false;
  }

  /** Sections that are read only at start: say so instead of silently ignoring the change. */
  private warnRestartOnly(old: Config, next: Config): void {
    const keys = ["device_id", "state_dir", "log_format", "audio", "gpio", "mqtt", "adaptation", "http"] as const;
    const changed = keys.filter((k) => JSON.stringify(old[k]) !== JSON.stringify(next[k]));
    if (changed.length > 0) {
      this.log.warn({ changed }, `changes to ${changed.join(", ")} apply only after a restart (systemctl restart earwitness)`);
    }
  }

  /** The MQTT sink carries model and thresholds in every alert: replace it, in turn with alerts. */
  private swapMqtt(next: Config, info: ModelInfo): void {
    const old = this.mqtt;
    this.alertChain = this.alertChain.then(async () => {
      let fresh: MqttOutput | null = null;
      try {
        fresh = await this.deps.createMqtt(next, info);
      } catch (err) {
        this.log.error({ err }, "could not build the MQTT sink for the new model; keeping the old one");
        return;
      }
      // One client id per broker: the old client must go before the new one connects.
      await old?.stop().catch((err: unknown) => this.log.error({ err }, "stopping the old MQTT sink failed"));
      this.mqtt = fresh;
      try {
        await fresh?.start();
      } catch (err) {
        this.log.error({ err }, "the new MQTT sink did not start");
      }
      this.attachCommands(fresh);
      this.publishStatus();
    });
  }

  private applySwap(): void {
    const swap = this.pendingSwap;
    if (!swap) return;
    this.pendingSwap = null;
    const oldModel = this.model;
    // An alert open in the old pipeline ends here; the new decision half starts in IDLE.
    const old = this.pipeline;
    if (old) this.handleEvents(old.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, "reloaded");
    this.config = swap.config;
    this.model = swap.model;
    const carried = this.queue.takeAll();
    this.queue = new BoundedQueue(swap.config.detect.queue_max);
    // Continue the audio when the new model reads the same features: no blind gap while a fresh
    // window fills, and windows still waiting for inference go to the new model.
    const successor = old?.successor({
      classifier: swap.model.classifier,
      detect: detectParamsFromConfig(swap.config.detect),
      adaptation: swap.model.adaptation ?? null,
    });
    if (successor) {
      this.pipeline = successor;
      for (const job of carried) this.queue.push(job);
    } else {
      this.pipeline = this.streamEndMs === null ? null : this.newPipeline(this.streamEndMs);
      if (carried.length > 0) this.log.debug({ windows: carried.length }, "windows of the old pipeline discarded by the reload (new feature spec)");
    }
    if (oldModel && oldModel !== swap.model) oldModel.dispose();
    this.armTelemetry();
    this.publishStatus();
  }

  private newPipeline(startMs: number): Pipeline {
    return new Pipeline({
      classifier: this.model!.classifier,
      detect: detectParamsFromConfig(this.config.detect),
      startMs,
      adaptation: this.model!.adaptation ?? null,
    });
  }

  // ─── capture path ─────────────────────────────────────────────────────────────────────────────

  private onAudio(samples: Int16Array, tMs: number): void {
    if (!this.running || !this.model || samples.length === 0) return;
    const nowMonoMs = this.deps.clock.monotonicMs();
    const previousMonoMs = this.lastAudioMonoMs;
    this.lastAudioMonoMs = nowMonoMs;
    const durMs = (samples.length * 1000) / this.model.classifier.spec.sampleRateHz;
    const chunkStartMs = tMs - durMs;
    // Continuity is judged on the monotonic clock (issue #11 §11a): an NTP step of +1 h moved tMs
    // but not the audio, and used to end the open alert and start a new one.
    const pauseMs = previousMonoMs === null ? 0 : nowMonoMs - previousMonoMs - durMs;
    if (this.pendingSwap) this.applySwap();
    if (this.audioUnusable) {
      // Wrong-format audio (issue #11 §7) is not analysed, so it cannot alert; the unit is alive
      // and says what is wrong, so the watchdog is still fed.
      this.keepAlive();
      return;
    }
    if (this.pipeline === null || this.streamEndMs === null || this.streamBroken || pauseMs > STREAM_GAP_MS) {
      this.restartStream(chunkStartMs);
    } else {
      this.followWallClock(chunkStartMs);
    }
    const pipeline = this.pipeline!;
    this.streamEndMs = this.streamEndMs! + durMs;
    const jobs = pipeline.pushAudio(int16ToFloat(samples));
    let dropped = 0;
    for (const job of jobs) dropped += this.queue.push(job);
    if (dropped > 0) this.onDropped(dropped);
    if (jobs.length > 0) this.scheduleDrain();
  }

  /**
   * The wall clock stepped while the audio went on (NTP setting a Pi without a real-time clock):
   * detection keeps its own audio time, and alert times follow the clock as it now reads.
   */
  private followWallClock(chunkStartMs: number): void {
    const stepMs = chunkStartMs - (this.streamEndMs! + this.wallShiftMs);
    if (Math.abs(stepMs) <= STREAM_GAP_MS) return;
    this.wallShiftMs += stepMs;
    this.log.warn({ stepS: Math.round(stepMs / 1000) }, "the system clock stepped (NTP?): detection goes on, alert times follow the new clock");
  }

  /** Epoch ms of a time on the pipeline's clock. */
  private wallMs(pipelineMs: number): number {
    return pipelineMs + this.wallShiftMs;
  }

  private restartStream(startMs: number): void {
    if (this.pipeline) {
      this.log.info("audio stream restarted: detection starts afresh");
      this.queue.takeAll();
      // An open alert here means audio stopped for a while and came back without a problem
      // having been raised (a break raised as a problem already ended it as audio_lost).
      if (this.openAlert) this.handleEvents(this.pipeline.reset(this.streamEndMs ?? startMs), null, "audio_restarted");
    }
    this.streamBroken = false;
    this.streamEndMs = startMs;
    this.wallShiftMs = 0;
    this.pipeline = this.newPipeline(startMs);
  }

  private onDropped(n: number): void {
    this.lastDropMonoMs = this.deps.clock.monotonicMs();
    if (!this.problems.has("inference_behind")) {
      this.setProblem(
        "inference_behind",
        `inference cannot keep up: the oldest analysis windows are being dropped (${this.queue.dropped} so far); ` +
          "use a faster model or backend, or a longer detect.hop_s",
      );
    }
    this.log.debug({ dropped: n, total: this.queue.dropped }, "inference queue full: dropped the oldest windows");
  }

  private onSourceProblem(p: SourceProblem): void {
    if (p.code === MIC_FORMAT) {
      // Not analysed while it lasts (windows already queued neither); detection starts afresh on
      // the first good audio.
      this.audioUnusable = p.active;
      if (p.active) this.queue.takeAll();
    }
    if (p.active && (STREAM_BREAK_CODES.has(p.code) || p.code === MIC_FORMAT)) {
      this.streamBroken = true;
      // The unit no longer hears: an open alert ends now, not when audio returns (which may be
      // never), so the buzzer stops and consumers learn why.
      this.endOpenAlert("audio_lost");
    }
    this.setProblem(p.code, p.active ? p.message : null);
  }

  /** Ends an open alert with `reason` (the detector back to IDLE); nothing when none is open. */
  private endOpenAlert(reason: AlertEndReasonName): void {
    if (!this.pipeline || !this.openAlert) return;
    this.log.warn({ alertId: this.openAlert.id, reason }, "ending the open alert");
    this.handleEvents(this.pipeline.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, reason);
    if (this.lastState !== "IDLE") {
      this.lastState = "IDLE";
      this.sinceMs = this.deps.clock.nowMs();
    }
    this.publishStatus();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  // ─── inference and decisions (off the capture path) ───────────────────────────────────────────

  private drain(): void {
    this.drainScheduled = false;
    if (!this.running || !this.pipeline || !this.model) return;
    const pipeline = this.pipeline;
    const jobs = this.queue.takeAll();
    if (jobs.length === 0) return;
    const clock = this.deps.clock;
    if (!this.listeningNow()) {
      // Disarmed or muted: no inference, no decisions; keep the level for telemetry.
      this.lastResult = null;
      this.lastDbfs = jobs[jobs.length - 1]!.dbfs;
      this.keepAlive();
      return;
    }
    const t0 = clock.monotonicMs();
    let probs: (Float32Array | null)[];
    try {
      probs = pipeline.classify(jobs);
      this.setProblem("inference_failed", null);
    } catch (err) {
      this.log.error({ err }, "inference failed; these windows are skipped");
      this.setProblem("inference_failed", `inference failed: ${describeError(err)}`);
      return;
    }
    const inferMs = clock.monotonicMs() - t0;
    const audioMs = jobs.length * this.config.detect.hop_s * 1000;
    const batchRtf = inferMs / audioMs;
    this.rtf = this.windowsDecided === 0 ? batchRtf : 0.9 * this.rtf + 0.1 * batchRtf;

    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const r = pipeline.decide(job, probs[i]!);
      this.windowsDecided++;
      this.scoreRing.push(this.wallMs(r.tMs), r.smoothed, r.dbfs);
      this.lastResult = r;
      this.lastDbfs = r.dbfs;
      if (r.probs) this.lastProbs = r.probs;
      this.handleEvents(r.events, r);
      if (r.state !== this.lastState) {
        this.lastState = r.state;
        this.sinceMs = this.wallMs(r.sinceMs);
        this.publishStatus();
      } else if (Math.abs(r.smoothed - this.publishedDanger) >= DANGER_STEP && this.dangerRepublishDue()) {
        this.publishStatus();
      }
    }
    this.keepAlive();
    if (this.pendingSwap) this.applySwap();
  }

  private lastDbfs = -120;
  private lastDangerPublishMonoMs = -Infinity;

  private dangerRepublishDue(): boolean {
    return this.deps.clock.monotonicMs() - this.lastDangerPublishMonoMs >= TICK_MS;
  }

  /** READY=1 once, WATCHDOG=1 while audio is recent and the queue is not saturated. */
  private keepAlive(): void {
    const { notifier, clock } = this.deps;
    if (!this.readySent) {
      // (READY=1 went to systemd at the end of start(); this is the first decided window.)
      this.readySent = true;
      this.log.info("ready: model loaded and audio flowing");
    }
    const interval = notifier.watchdogIntervalMs;
    if (interval === null || this.lastAudioMonoMs === null) return;
    const now = clock.monotonicMs();
    const audioRecent = now - this.lastAudioMonoMs < this.config.audio.stall_timeout_s * 1000;
    if (!audioRecent || this.queue.full) return;
    if (this.lastWatchdogMonoMs !== null && now - this.lastWatchdogMonoMs < interval / 2) return;
    this.lastWatchdogMonoMs = now;
    notifier.watchdog();
  }

  /**
   * `resetReason`: why the daemon reset the detector (the detector itself only knows "reset" for
   * a forced end), published as the end's `end_reason`.
   */
  private handleEvents(events: DetectEvent[], r: WindowResult | null, resetReason: AlertEndReasonName = "stopped"): void {
    for (const e of events) {
      if (e.type === "alert_start") {
        const alert: OpenAlert = { id: randomUUID(), startMs: this.wallMs(e.startMs), dbfs: r?.dbfs ?? this.lastDbfs };
        this.openAlert = alert;
        this.acknowledged = false;
        this.log.warn({ alertId: alert.id, emotion: e.emotion, peak: e.peak }, "ALERT: danger heard");
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
        };
        this.emitAlert(start);
        void this.deps.alertJournal?.record(start);
        this.armMaxAlertTimer(alert);
      } else {
        const alert = this.openAlert;
        this.openAlert = null;
        this.acknowledged = false;
        if (!alert) continue;
        this.clearMaxAlertTimer();
        void this.deps.alertJournal?.record(null);
        const endReason = e.reason === "reset" ? resetReason : e.reason;
        this.log.info({ alertId: alert.id, endReason, durationS: (e.endMs - e.startMs) / 1000 }, "alert ended");
        this.emitAlert({
          phase: "end",
          alertId: alert.id,
          startedAtMs: alert.startMs,
          endedAtMs: this.wallMs(e.endMs),
          peak: e.peak,
          mean: e.mean,
          emotion: e.emotion,
          probs: e.probs,
          dbfs: alert.dbfs,
          test: false,
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
    this.clearMaxAlertTimer();
    this.maxAlertTimer = this.deps.clock.setTimeout(() => {
      this.maxAlertTimer = null;
      if (this.openAlert === alert) this.endOpenAlert("max_duration");
    }, this.config.detect.max_alert_s * 1000 + MAX_ALERT_GRACE_MS);
  }

  private clearMaxAlertTimer(): void {
    if (this.maxAlertTimer) this.deps.clock.clearTimeout(this.maxAlertTimer);
    this.maxAlertTimer = null;
  }

  /** Every sink gets the event, in order of events; one failing sink never stops another. */
  private emitAlert(event: AlertEvent): void {
    this.statusSocket?.recordAlert(event);
    this.statusPage?.recordAlert(event);
    this.alertChain = this.alertChain.then(async () => {
      await notifyAll(this.sinks(), this.log, (s) => s.alert(event));
      this.log.info({ alertId: event.alertId, phase: event.phase, test: event.test, endReason: event.endReason }, "alert event handed to every output");
      // A failing outbox shows at once, not at the next tick.
      if (this.running) this.syncMqttProblems();
    });
  }

  /** The status socket only informs a local monitor: if it cannot open, the daemon listens anyway. */
  private async startStatusSocket(): Promise<void> {
    try {
      this.statusSocket = this.deps.createStatusSocket?.(this.config, this) ?? null;
      await this.statusSocket?.start();
    } catch (err) {
      this.statusSocket = null;
      this.log.warn({ err }, "status socket not available; `earwitness monitor` will not work, detection is unaffected");
    }
  }

  /** Nor does the status page: one that cannot listen (port taken) is a problem, nothing more. */
  private async startStatusPage(): Promise<void> {
    try {
      this.statusPage = this.deps.createStatusPage?.(this.config, this) ?? null;
      await this.statusPage?.start();
      this.setProblem("http_unavailable", null);
    } catch (err) {
      this.statusPage = null;
      this.log.warn({ err }, "status page not available; detection is unaffected");
      this.setProblem("http_unavailable", `status page unavailable, detection goes on: ${describeError(err)}`);
    }
  }

  /** The running model and the thresholds decisions are made against (for the status page). */
  detection(): { model: ModelInfo | null; thresholds: Record<string, number> } {
    return { model: this.model?.info ?? null, thresholds: thresholdsOf(this.config) };
  }

  private sinks(): AlertSink[] {
    return [this.indicator, this.mqtt].filter((s): s is IndicatorOutput | MqttOutput => s !== null);
  }

  // ─── control ──────────────────────────────────────────────────────────────────────────────────

  private attachCommands(mqtt: MqttOutput | null): void {
    if (!mqtt) return;
    this.unsubscribers.push(mqtt.onCommand((c) => this.command(c)));
  }

  /** Applies one command; throws a message-bearing error the MQTT sink answers on `set/result`. */
  async command(c: Command): Promise<void> {
    switch (c.command) {
      case "arm":
        this.arm();
        return;
      case "disarm":
        this.disarm();
        return;
      case "mute":
        this.mute(c.minutes);
        return;
      case "unmute":
        this.unmute();
        return;
      case "test":
        this.testAlert();
        return;
      case "ack":
        if (!this.ack()) throw new EarwitnessError("NOTHING_TO_ACK", "no alert is active; there is nothing to acknowledge");
        return;
      case "reset_adaptation":
        await this.resetAdaptation();
        return;
    }
  }

  /**
   * Forgets what the unit learnt of its wearer's voice and room (statistics in memory and the file
   * in state_dir), for a unit moved to another person or room; detection goes on at once with the
   * model's own statistics and learns again. Refused while an alert is open: that alert was
   * decided with the learnt statistics, and changing the normalisation under it could end it
   * early. Throws a coded error (answered on `set/result`) when refused or when the file cannot
   * be deleted; detection is never touched either way.
   */
  async resetAdaptation(): Promise<void> {
    // A reload may have read the statistics file already and not yet handed over its model: that
    // model must be reset too, so wait for it to be pending.
    if (this.reloading) await this.reloading;
    const model = this.model;
    if (!this.running || !model) {
      throw new EarwitnessError("NOT_RUNNING", "the daemon is not listening yet; try again once it has started");
    }
    const adaptations = [...new Set([model.adaptation, this.pendingSwap?.model.adaptation])].filter(
      (a): a is DeviceAdaptation => a !== null && a !== undefined,
    );
    if (adaptations.length === 0) {
      const why = this.config.adaptation.enabled
        ? `model ${model.info.name} is not normalised per speaker, so it does not adapt`
        : "adaptation.enabled is false in the configuration";
      throw new EarwitnessError("ADAPTATION_OFF", `voice adaptation is off (${why}); there is nothing to reset`);
    }
    if (this.openAlert) {
      throw new EarwitnessError("ALERT_ACTIVE", "an alert is active; reset the voice adaptation after it has ended");
    }
    const results = await Promise.allSettled(adaptations.map((a) => a.reset()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      const err = new EarwitnessError(
        "ADAPTATION_RESET_FAILED",
        `the learnt voice statistics are forgotten in memory, but their file in ${this.config.state_dir} could not be ` +
          `deleted (${describeError(failed.reason)}), so a restart would bring them back; make state_dir writable for ` +
          `earwitness and send the command again, or stop the service, delete adaptation-${model.info.name}.json there and start it`,
        { cause: failed.reason },
      );
      this.log.error({ err }, "voice adaptation reset failed");
      throw err;
    }
    this.log.info({ model: model.info.name }, "voice adaptation reset: learning this unit's voice and room again from now");
  }

  /** The Armed switch on. A running mute goes on (mute and Armed are independent). */
  arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.log.info(this.mutedUntilMs === null ? "armed" : "armed; still muted until the mute ends");
    this.afterArmingChange("disarmed");
  }

  /** The Armed switch off: no alerts until armed again. A running mute goes on. */
  disarm(): void {
    if (!this.armed) return;
    this.armed = false;
    this.log.warn("disarmed: no alerts until armed again");
    this.afterArmingChange("disarmed");
  }

  /** No alerts for `minutes`, then as before by itself; the Armed switch is not touched. */
  mute(minutes: number): void {
    this.clearMute();
    const ms = minutes * 60_000;
    this.mutedUntilMs = this.deps.clock.nowMs() + ms;
    this.muteMinutes = minutes;
    this.muteTimer = this.deps.clock.setTimeout(() => {
      this.muteTimer = null;
      this.mutedUntilMs = null;
      this.muteMinutes = 0;
      this.log.info(this.armed ? "mute over: listening again" : "mute over; still disarmed");
      this.afterArmingChange("muted");
    }, ms);
    this.log.warn({ minutes }, "muted: no alerts until the mute ends");
    this.afterArmingChange("muted");
  }

  /** Ends a running mute now. */
  unmute(): void {
    if (!this.clearMute()) return;
    this.log.info(this.armed ? "unmuted: listening again" : "unmuted; still disarmed");
    this.afterArmingChange("muted");
  }

  /** Returns whether a mute was running. */
  private clearMute(): boolean {
    if (this.muteTimer) this.deps.clock.clearTimeout(this.muteTimer);
    this.muteTimer = null;
    const wasMuted = this.mutedUntilMs !== null;
    this.mutedUntilMs = null;
    this.muteMinutes = 0;
    return wasMuted;
  }

  /** Alerts can be raised: armed and not muted. */
  private listeningNow(): boolean {
    return this.armed && this.mutedUntilMs === null;
  }

  private afterArmingChange(resetReason: AlertEndReasonName): void {
    // Both ways, the detector starts from IDLE: disarming ends an open alert, arming forgets
    // whatever half-suspicion was left from before.
    if (this.pipeline) this.handleEvents(this.pipeline.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, resetReason);
    if (this.lastState !== "IDLE") {
      this.lastState = "IDLE";
      this.sinceMs = this.deps.clock.nowMs();
    }
    this.publishStatus();
  }

  /** A test alert through every output (GPIO and MQTT with `test: true`), ended after TEST_ALERT_MS. */
  testAlert(): string {
    const id = randomUUID();
    const startedAtMs = this.deps.clock.nowMs();
    const base = { alertId: id, startedAtMs, peak: 1, mean: 1, emotion: "test", probs: {}, dbfs: this.lastDbfs, test: true };
    this.log.info({ alertId: id }, "test alert");
    this.emitAlert({ phase: "start", ...base });
    const timer = this.deps.clock.setTimeout(() => {
      this.testTimers.delete(timer);
      this.emitAlert({ phase: "end", ...base, endedAtMs: this.deps.clock.nowMs(), endReason: "test_over" });
    }, TEST_ALERT_MS);
    this.testTimers.add(timer);
    return id;
  }

  /** Buzzer off, the alert stays until it ends, the acknowledgement is published. False if no alert. */
  ack(): boolean {
    if (!this.openAlert) return false;
    if (!this.acknowledged) {
      this.acknowledged = true;
      this.log.info({ alertId: this.openAlert.id }, "alert acknowledged");
      this.publishStatus();
    }
    return true;
  }

  private onButton(): void {
    // The indicator has already silenced its buzzer; publish the acknowledgement if there is an alert.
    this.ack();
  }

  // ─── problems, status, telemetry ──────────────────────────────────────────────────────────────

  /** Raise (message) or clear (null) a problem; publishes and logs only changes. */
  private setProblem(code: string, message: string | null): void {
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
    if (active) this.log.warn({ problem: code }, message);
    else this.log.info({ problem: code }, "problem cleared");
    if (this.mqtt) void this.mqtt.publishProblem(report).catch((err: unknown) => this.log.debug({ err }, "problem not published"));
    this.publishStatus();
  }

  status(): DeviceStatus {
    return {
      state: this.lastState,
      danger: round4(this.lastResult?.smoothed ?? 0),
      emotion: strongestEmotion(this.lastResult?.probs),
      dangerEmotion: this.lastResult?.emotion ?? null,
      sinceMs: this.sinceMs,
      armed: this.armed,
      mutedUntilMs: this.mutedUntilMs,
      muteMinutes: this.muteMinutes,
      problems: [...this.problems.keys()].sort(),
      problemMessages: Object.fromEntries([...this.problems.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      acknowledged: this.acknowledged,
    };
  }

  private publishStatus(): void {
    if (!this.running) return;
    const status = this.status();
    this.publishedDanger = status.danger;
    this.lastDangerPublishMonoMs = this.deps.clock.monotonicMs();
    void notifyAll(this.sinks(), this.log, (s) => s.status(status));
    this.updateSystemdStatus();
  }

  private updateSystemdStatus(): void {
    if (!this.deps.notifier.enabled) return;
    const s = this.status();
    const arming = `${s.armed ? "armed" : "disarmed"}${s.mutedUntilMs !== null ? ", muted" : ""}`;
    const problems = s.problems.length > 0 ? `problems: ${s.problems.join(", ")}` : "no problems";
    this.deps.notifier.status(`${s.state}, ${arming}, rtf ${this.rtf.toFixed(3)}, ${problems}`);
  }

  /** The status socket's `scores` request: remembered window scores, numbers only. */
  scores(afterSeq: number, sinceMs: number, max: number): ScorePage & { hopMs: number } {
    return { ...this.scoreRing.read(afterSeq, sinceMs, max), hopMs: this.config.detect.hop_s * 1000 };
  }

  snapshot(): DaemonSnapshot {
    return {
      running: this.running,
      ready: this.readySent,
      state: this.lastState,
      armed: this.armed,
      listening: this.listeningNow(),
      mutedUntilMs: this.mutedUntilMs,
      acknowledged: this.acknowledged,
      problems: Object.fromEntries(this.problems),
      queueDepth: this.queue.length,
      droppedWindows: this.queue.dropped,
      windowsDecided: this.windowsDecided,
      rtf: this.rtf,
      alertId: this.openAlert?.id ?? null,
    };
  }

  private armTick(): void {
    this.tickTimer = this.deps.clock.setTimeout(() => {
      this.tickTimer = null;
      if (!this.running) return;
      this.tick();
      this.armTick();
    }, TICK_MS);
  }

  /** Polls the outputs' health and the inference backlog. */
  private tick(): void {
    const now = this.deps.clock.monotonicMs();
    const gpio = this.indicator?.problems() ?? [];
    this.setProblem("gpio_failing", gpio.length > 0 ? gpio.join("; ") : null);
    this.syncMqttProblems();
    if (this.mqtt) {
      this.setProblem("mqtt_client_id_conflict", this.mqtt.clientIdConflict ?? null);
      if (this.mqtt.connected) this.mqttDownSinceMonoMs = null;
      else this.mqttDownSinceMonoMs ??= now;
      const downMs = this.mqttDownSinceMonoMs === null ? 0 : now - this.mqttDownSinceMonoMs;
      this.setProblem(
        "mqtt_disconnected",
        downMs >= MQTT_DOWN_PROBLEM_MS
          ? `MQTT broker ${this.config.mqtt.url ?? ""} unreachable for ${Math.round(downMs / 1000)} s or more; alerts wait in the outbox`
          : this.problems.has("mqtt_disconnected") && downMs > 0
            ? (this.problems.get("mqtt_disconnected") ?? null)
            : null,
      );
    }
    if (this.lastDropMonoMs !== null && now - this.lastDropMonoMs >= BEHIND_CLEAR_MS) {
      this.lastDropMonoMs = null;
      this.setProblem("inference_behind", null);
    }
    this.updateSystemdStatus();
  }

  private armTelemetry(): void {
    if (this.telemetryTimer) this.deps.clock.clearTimeout(this.telemetryTimer);
    this.telemetryTimer = null;
    const intervalMs = this.config.mqtt.telemetry_interval_s * 1000;
    if (!this.running || intervalMs <= 0 || !this.mqtt) return;
    this.telemetryTimer = this.deps.clock.setTimeout(() => {
      this.telemetryTimer = null;
      if (!this.running) return;
      void this.mqtt?.publishTelemetry(this.telemetrySample()).catch((err: unknown) => this.log.debug({ err }, "telemetry not published"));
      this.armTelemetry();
    }, intervalMs);
  }

  /** Probabilities, level, speed and backlog; never samples. */
  telemetrySample(): TelemetrySample {
    const probs = this.lastProbs ? Object.fromEntries(Object.entries(this.lastProbs).map(([k, v]) => [k, round4(v)])) : {};
    return {
      atMs: this.deps.clock.nowMs(),
      probs,
      dbfs: Math.round(this.lastDbfs * 10) / 10,
      rtf: round4(this.rtf),
      droppedWindows: this.queue.dropped,
      queueDepth: this.queue.length,
    };
  }

  private clearTimers(): void {
    const c = this.deps.clock;
    for (const t of [this.tickTimer, this.telemetryTimer, this.muteTimer, this.maxAlertTimer, ...this.testTimers]) if (t) c.clearTimeout(t);
    this.tickTimer = this.telemetryTimer = this.muteTimer = this.maxAlertTimer = null;
    this.testTimers.clear();
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
