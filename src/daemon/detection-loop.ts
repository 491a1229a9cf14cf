/**
 * The detection loop: audio in, decisions out, off the capture path.
 *
 *   onAudio ──▶ pipeline.pushAudio (cheap, on the capture path) ──▶ bounded queue
 *        ──setImmediate──▶ drain: pipeline.classify (the network) ──▶ pipeline.decide
 *        ──▶ detector events ──▶ alert-tracker ──▶ the conductor's emitAlert (every sink, in order)
 *
 * Capture never waits for inference: when the network falls behind, the queue drops its oldest
 * window, counts it, and raises `inference_behind`.
 *
 * Owns the pipeline and its queue, stream continuity (restarts after a gap or a microphone
 * problem, NTP steps of the wall clock), when the detector is reset and why (its events go to
 * alert-tracker.ts, which owns the open alert), the running figures (state, level,
 * probabilities, rtf, scores), and the watchdog evidence: READY is noted and WATCHDOG=1 sent only
 * from here, when audio arrived recently and the queue is not saturated.
 *
 * Must not own: the lifecycle, config and model (the conductor, daemon.ts, which swaps them on
 * reload), arming and commands (control.ts: asked through `listening()`), problems and status
 * (health.ts: raised through `setProblem`, published through `publishStatus`). Decisions are made
 * by the pure pipeline and detector (src/detect/), given times; this file only feeds them.
 */
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import { pipelineOptions } from "../config/detect-params.js";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { DetectEvent } from "../detect/state-machine.js";
import type { AlertEndReasonName } from "../outputs/mqtt/contract.js";
import type { AlertEvent, DetectorStateName } from "../outputs/sink.js";
import { Pipeline, type WindowJob, type WindowProbs, type WindowResult } from "../pipeline.js";
import { int16ToFloat, type SourceProblem } from "../audio/source.js";
import { AlertTracker } from "./alert-tracker.js";
import { BoundedQueue } from "./bounded-queue.js";
import type { Notifier } from "./sd-notify.js";
import type { AlertJournal, ModelHandle } from "./seams.js";
import { ScoreRing, type ScorePage } from "./score-ring.js";

/** No dropped window for this long clears `inference_behind`. */
export const BEHIND_CLEAR_MS = 30_000;
/**
 * A pause this long between consecutive chunks, by the monotonic clock, means the stream restarted:
 * start afresh. A wall-clock difference this large with no such pause is an NTP step, not a break.
 */
export const STREAM_GAP_MS = 10_000;
/** Microphone problems that mean the recorder process restarted: the stream has a hole. */
const STREAM_BREAK_CODES = new Set(["mic_exited", "mic_stalled", "mic_rate", "mic_missing"]);
/** The microphone's audio is not in the format it should be (src/audio/format-check.ts). */
const MIC_FORMAT = "mic_format";

/** What the loop needs from the conductor and its sibling parts; each read when needed, never cached. */
export interface DetectionLoopDeps {
  clock: Clock;
  /** The daemon's logger (its lines keep `component: "daemon"`). */
  log: Logger;
  notifier: Notifier;
  alertJournal?: AlertJournal;
  running(): boolean;
  /** The configuration and model in force (a reload changes them between windows). */
  config(): Config;
  model(): ModelHandle | null;
  /** A reload waiting for a window boundary is applied now (the conductor; nothing when none waits). */
  applyPendingSwap(): void;
  /** Armed and not muted (control.ts). */
  listening(): boolean;
  /** An alert opened or ended: an acknowledgement was for the one before (control.ts). */
  alertChanged(): void;
  /** Hands an alert event to every output, in order (the conductor). */
  emitAlert(event: AlertEvent): void;
  /** The problem board and the status (health.ts). */
  setProblem(code: string, message: string | null): void;
  hasProblem(code: string): boolean;
  publishStatus(): void;
  /** The danger score moved enough, and long enough ago, to republish the status. */
  statusDue(danger: number): boolean;
}

export class DetectionLoop {
  private queue: BoundedQueue<WindowJob>;
  private pipeline: Pipeline | null = null;
  private drainScheduled = false;
  private readySent = false;

  private streamEndMs: number | null = null;
  private streamBroken = false;
  private lastAudioMonoMs: number | null = null;
  /** Wall-clock steps (NTP) since the stream began: pipeline time + this = the clock's time now. */
  private wallShiftMs = 0;
  /** `mic_format` is raised: the audio is not a microphone's, so it is not listened to. */
  private audioUnusable = false;
  private readonly alerts: AlertTracker;

  private lastResultValue: WindowResult | null = null;
  private lastProbsValue: Record<string, number> | null = null;
  private lastDbfsValue = -120;
  private lastState: DetectorStateName = "IDLE";
  private sinceMsValue: number;
  private windowsDecidedValue = 0;
  private lastDropMonoMs: number | null = null;
  private rtfValue = 0;
  private lastWatchdogMonoMs: number | null = null;
  /** Every decided window's time, smoothed score and level, for `calibrate --from-daemon` (score-ring.ts). */
  private readonly scoreRing: ScoreRing;

  constructor(
    config: Config,
    private readonly deps: DetectionLoopDeps,
  ) {
    this.queue = new BoundedQueue(config.detect.queue_max);
    this.sinceMsValue = deps.clock.nowMs();
    this.scoreRing = ScoreRing.forHop(config.detect.hop_s * 1000);
    this.alerts = new AlertTracker({
      clock: deps.clock,
      log: deps.log,
      alertJournal: deps.alertJournal,
      config: deps.config,
      alertChanged: deps.alertChanged,
      emitAlert: deps.emitAlert,
      overdue: () => this.endOpenAlert("max_duration"),
    });
  }

  // ─── what health, control and the conductor read ──────────────────────────────────────────────

  get state(): DetectorStateName {
    return this.lastState;
  }
  /** Epoch ms since the detector is in `state`. */
  get sinceMs(): number {
    return this.sinceMsValue;
  }
  get lastResult(): WindowResult | null {
    return this.lastResultValue;
  }
  get lastProbs(): Record<string, number> | null {
    return this.lastProbsValue;
  }
  get lastDbfs(): number {
    return this.lastDbfsValue;
  }
  get rtf(): number {
    return this.rtfValue;
  }
  get windowsDecided(): number {
    return this.windowsDecidedValue;
  }
  get queueDepth(): number {
    return this.queue.length;
  }
  get droppedWindows(): number {
    return this.queue.dropped;
  }
  /** A window was decided since the start (the first one is logged as "ready"). */
  get ready(): boolean {
    return this.readySent;
  }
  get openAlertId(): string | null {
    return this.alerts.openId;
  }
  /** A stream is being analysed (a reload waits for its next window boundary). */
  get streaming(): boolean {
    return this.pipeline !== null;
  }

  /** Remembered window scores, numbers only. */
  scores(afterSeq: number, sinceMs: number, max: number): ScorePage {
    return this.scoreRing.read(afterSeq, sinceMs, max);
  }

  // ─── capture path ─────────────────────────────────────────────────────────────────────────────

  onAudio(samples: Int16Array, tMs: number): void {
    const model = this.deps.model();
    if (!this.deps.running() || !model || samples.length === 0) return;
    const nowMonoMs = this.deps.clock.monotonicMs();
    const previousMonoMs = this.lastAudioMonoMs;
    this.lastAudioMonoMs = nowMonoMs;
    const durMs = (samples.length * 1000) / model.classifier.spec.sampleRateHz;
    const chunkStartMs = tMs - durMs;
    // Continuity is judged on the monotonic clock (issue #11 §11a): an NTP step of +1 h moved tMs
    // but not the audio, and used to end the open alert and start a new one.
    const pauseMs = previousMonoMs === null ? 0 : nowMonoMs - previousMonoMs - durMs;
    this.deps.applyPendingSwap();
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
    this.deps.log.warn({ stepS: Math.round(stepMs / 1000) }, "the system clock stepped (NTP?): detection goes on, alert times follow the new clock");
  }

  /** Epoch ms of a time on the pipeline's clock. */
  private wallMs(pipelineMs: number): number {
    return pipelineMs + this.wallShiftMs;
  }

  private restartStream(startMs: number): void {
    if (this.pipeline) {
      this.deps.log.info("audio stream restarted: detection starts afresh");
      this.queue.takeAll();
      // An open alert here means audio stopped for a while and came back without a problem
      // having been raised (a break raised as a problem already ended it as audio_lost).
      if (this.alerts.openId !== null) this.handleEvents(this.pipeline.reset(this.streamEndMs ?? startMs), null, "audio_restarted");
    }
    this.streamBroken = false;
    this.streamEndMs = startMs;
    this.wallShiftMs = 0;
    this.pipeline = this.newPipeline(this.deps.config(), this.deps.model()!, startMs);
  }

  private newPipeline(config: Config, model: ModelHandle, startMs: number): Pipeline {
    return new Pipeline({ ...pipelineOptions(config, model, model.adaptation ?? null), startMs });
  }

  private onDropped(n: number): void {
    this.lastDropMonoMs = this.deps.clock.monotonicMs();
    if (!this.deps.hasProblem("inference_behind")) {
      this.deps.setProblem(
        "inference_behind",
        `inference cannot keep up: the oldest analysis windows are being dropped (${this.queue.dropped} so far); ` +
          "use a faster model or backend, or a longer detect.hop_s",
      );
    }
    this.deps.log.debug({ dropped: n, total: this.queue.dropped }, "inference queue full: dropped the oldest windows");
  }

  /** Housekeeping (health's tick): no dropped window for BEHIND_CLEAR_MS clears `inference_behind`. */
  clearBehindWhenCaughtUp(nowMonoMs: number): void {
    if (this.lastDropMonoMs !== null && nowMonoMs - this.lastDropMonoMs >= BEHIND_CLEAR_MS) {
      this.lastDropMonoMs = null;
      this.deps.setProblem("inference_behind", null);
    }
  }

  onSourceProblem(p: SourceProblem): void {
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
    this.deps.setProblem(p.code, p.active ? p.message : null);
  }

  /** Ends an open alert with `reason` (the detector back to IDLE); nothing when none is open. */
  private endOpenAlert(reason: AlertEndReasonName): void {
    const alertId = this.alerts.openId;
    if (!this.pipeline || alertId === null) return;
    this.deps.log.warn({ alertId, reason }, "ending the open alert");
    this.handleEvents(this.pipeline.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, reason);
    this.backToIdle();
    this.deps.publishStatus();
  }

  /**
   * Arming changed (control.ts): both ways the detector starts from IDLE — disarming ends an open
   * alert (`resetReason`), arming forgets whatever half-suspicion was left from before.
   */
  restartDecisions(resetReason: AlertEndReasonName): void {
    if (this.pipeline) this.handleEvents(this.pipeline.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, resetReason);
    this.backToIdle();
  }

  private backToIdle(): void {
    if (this.lastState !== "IDLE") {
      this.lastState = "IDLE";
      this.sinceMsValue = this.deps.clock.nowMs();
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  // ─── inference and decisions (off the capture path) ───────────────────────────────────────────

  private drain(): void {
    this.drainScheduled = false;
    if (!this.deps.running() || !this.pipeline || !this.deps.model()) return;
    const pipeline = this.pipeline;
    const jobs = this.queue.takeAll();
    if (jobs.length === 0) return;
    const clock = this.deps.clock;
    if (!this.deps.listening()) {
      // Disarmed or muted: no inference, no decisions; keep the level for telemetry.
      this.lastResultValue = null;
      this.lastDbfsValue = jobs[jobs.length - 1]!.dbfs;
      this.keepAlive();
      return;
    }
    const t0 = clock.monotonicMs();
    let probs: WindowProbs[];
    try {
      probs = pipeline.classify(jobs);
      this.deps.setProblem("inference_failed", null);
    } catch (err) {
      this.deps.log.error({ err }, "inference failed; these windows are skipped");
      this.deps.setProblem("inference_failed", `inference failed: ${describeError(err)}`);
      return;
    }
    const inferMs = clock.monotonicMs() - t0;
    const audioMs = jobs.length * this.deps.config().detect.hop_s * 1000;
    const batchRtf = inferMs / audioMs;
    this.rtfValue = this.windowsDecidedValue === 0 ? batchRtf : 0.9 * this.rtfValue + 0.1 * batchRtf;

    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const r = pipeline.decide(job, probs[i]!);
      this.windowsDecidedValue++;
      this.scoreRing.push(this.wallMs(r.tMs), r.smoothed, r.dbfs);
      this.lastResultValue = r;
      this.lastDbfsValue = r.dbfs;
      if (r.probs) this.lastProbsValue = r.probs;
      this.handleEvents(r.events, r);
      if (r.state !== this.lastState) {
        this.lastState = r.state;
        this.sinceMsValue = this.wallMs(r.sinceMs);
        this.deps.publishStatus();
      } else if (this.deps.statusDue(r.smoothed)) {
        this.deps.publishStatus();
      }
    }
    this.keepAlive();
    this.deps.applyPendingSwap();
  }

  /** READY=1 once, WATCHDOG=1 while audio is recent and the queue is not saturated. */
  private keepAlive(): void {
    const { notifier, clock } = this.deps;
    if (!this.readySent) {
      // (READY=1 went to systemd at the end of start(); this is the first decided window.)
      this.readySent = true;
      this.deps.log.info("ready: model loaded and audio flowing");
    }
    const interval = notifier.watchdogIntervalMs;
    if (interval === null || this.lastAudioMonoMs === null) return;
    const now = clock.monotonicMs();
    const audioRecent = now - this.lastAudioMonoMs < this.deps.config().audio.stall_timeout_s * 1000;
    if (!audioRecent || this.queue.full) return;
    if (this.lastWatchdogMonoMs !== null && now - this.lastWatchdogMonoMs < interval / 2) return;
    this.lastWatchdogMonoMs = now;
    notifier.watchdog();
  }

  /** The detector's events to the alert tracker; `r` is the window that produced them, null for a reset. */
  private handleEvents(events: DetectEvent[], r: WindowResult | null, resetReason: AlertEndReasonName = "stopped"): void {
    this.alerts.handle(events, this.wallShiftMs, r?.dbfs ?? this.lastDbfsValue, resetReason);
  }

  // ─── reload and stop (called by the conductor) ────────────────────────────────────────────────

  /**
   * A reload's configuration and model take over between windows. An alert open in the old
   * pipeline ends here (`reloaded`); the new decision half starts in IDLE. The audio continues when
   * the new model reads the same features: no blind gap while a fresh window fills, and windows
   * still waiting for inference go to the new model.
   */
  adopt(config: Config, model: ModelHandle): void {
    const old = this.pipeline;
    if (old) this.handleEvents(old.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, "reloaded");
    const carried = this.queue.takeAll();
    this.queue = new BoundedQueue(config.detect.queue_max);
    const successor = old?.successor(pipelineOptions(config, model, model.adaptation ?? null));
    if (successor) {
      this.pipeline = successor;
      for (const job of carried) this.queue.push(job);
    } else {
      this.pipeline = this.streamEndMs === null ? null : this.newPipeline(config, model, this.streamEndMs);
      if (carried.length > 0) this.deps.log.debug({ windows: carried.length }, "windows of the old pipeline discarded by the reload (new feature spec)");
    }
  }

  /** Stopping: its timer first (with every other timer of the daemon). */
  clearTimers(): void {
    this.alerts.clearTimer();
  }

  /** Stopping, capture already off: queued windows are dropped and an open alert ends (`stopped`), so a consumer never waits forever for its end. */
  endForStop(): void {
    this.queue.takeAll();
    if (this.pipeline && this.alerts.openId !== null) this.handleEvents(this.pipeline.reset(this.streamEndMs ?? this.deps.clock.nowMs()), null, "stopped");
  }

  /** Stopped: the next start begins a fresh stream and waits for its first window again. */
  forgetStream(): void {
    this.pipeline = null;
    this.streamEndMs = null;
    this.readySent = false;
  }
}
