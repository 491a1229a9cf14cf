/**
 * Hand-written stand-ins for the daemon's seams (src/daemon/daemon.ts DaemonDeps): an audio source
 * the test feeds, an MQTT output that records what it was given, a systemd notifier that records
 * its messages, and a classifier whose danger the test sets.
 */
import type { AudioSource, SourceProblem } from "../../src/audio/source.js";
import type { MqttOutput } from "../../src/daemon/daemon.js";
import type { Notifier } from "../../src/daemon/sd-notify.js";
import type { AdaptedStats } from "../../src/features/normalise.js";
import type { FeatureSpec } from "../../src/features/spec.js";
import type { Command } from "../../src/outputs/mqtt/commands.js";
import type { ProblemReport, TelemetrySample } from "../../src/outputs/mqtt/contract.js";
import type { CommandHandler } from "../../src/outputs/mqtt/mqtt-sink.js";
import type { AlertEvent, DeviceStatus } from "../../src/outputs/sink.js";
import type { WindowClassifier } from "../../src/pipeline.js";

export class FakeAudioSource implements AudioSource {
  started = 0;
  stopped = 0;
  private data = new Set<(s: Int16Array, t: number) => void>();
  private problems = new Set<(p: SourceProblem) => void>();

  async start(): Promise<void> {
    this.started++;
  }
  async stop(): Promise<void> {
    this.stopped++;
  }
  onData(cb: (s: Int16Array, t: number) => void): () => void {
    this.data.add(cb);
    return () => this.data.delete(cb);
  }
  onProblem(cb: (p: SourceProblem) => void): () => void {
    this.problems.add(cb);
    return () => this.problems.delete(cb);
  }
  emit(samples: Int16Array, tMs: number): void {
    for (const cb of this.data) cb(samples, tMs);
  }
  problem(p: SourceProblem): void {
    for (const cb of this.problems) cb(p);
  }
}

export class FakeMqttOutput implements MqttOutput {
  readonly name = "mqtt";
  connected = true;
  /** What MqttSink says while another client takes our connection; set by a test. */
  clientIdConflict: string | null = null;
  started = 0;
  stopped = 0;
  readonly alerts: AlertEvent[] = [];
  readonly statuses: DeviceStatus[] = [];
  readonly problems: ProblemReport[] = [];
  readonly telemetry: TelemetrySample[] = [];
  /** What the real sink reports about delivery (outbox failing, broker stalled); a test sets it. */
  deliveryProblems: () => { code: string; message: string }[] = () => [];
  private handler: CommandHandler | null = null;

  async start(): Promise<void> {
    this.started++;
  }
  async stop(): Promise<void> {
    this.stopped++;
  }
  async alert(e: AlertEvent): Promise<void> {
    this.alerts.push(e);
  }
  async status(s: DeviceStatus): Promise<void> {
    this.statuses.push(s);
  }
  async publishTelemetry(s: TelemetrySample): Promise<void> {
    this.telemetry.push(s);
  }
  async publishProblem(p: ProblemReport): Promise<void> {
    this.problems.push(p);
  }
  onCommand(h: CommandHandler): () => void {
    this.handler = h;
    return () => {
      if (this.handler === h) this.handler = null;
    };
  }
  /** As the real sink does: run the handler; a rejection becomes the error text of `set/result`. */
  async send(c: Command): Promise<string | null> {
    if (!this.handler) return "no handler";
    try {
      await this.handler(c);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }
  get lastStatus(): DeviceStatus | undefined {
    return this.statuses[this.statuses.length - 1];
  }
}

export class FakeNotifier implements Notifier {
  readonly enabled = true;
  readonly transport = "socket" as const;
  readonly messages: string[] = [];
  constructor(readonly watchdogIntervalMs: number | null = 10_000) {}
  ready(): void {
    this.messages.push("READY=1");
  }
  watchdog(): void {
    this.messages.push("WATCHDOG=1");
  }
  status(text: string): void {
    this.messages.push(`STATUS=${text}`);
  }
  stopping(): void {
    this.messages.push("STOPPING=1");
  }
  reloading(): void {
    this.messages.push("RELOADING=1");
  }
  count(message: string): number {
    return this.messages.filter((m) => m === message).length;
  }
}

/** Answers every window with the "angry" probability the test sets. */
export class ScriptedClassifier implements WindowClassifier {
  readonly labels = ["angry", "fear", "neutral"];
  angry = 0;
  windowsSeen = 0;
  calls = 0;
  /** When set, predict throws it. */
  error: Error | null = null;

  constructor(readonly spec: FeatureSpec) {}

  predict(stepsWindows: Float32Array[], _adapted?: AdaptedStats | null): Float32Array[] {
    if (this.error) throw this.error;
    this.calls++;
    this.windowsSeen += stepsWindows.length;
    return stepsWindows.map(() => Float32Array.from([this.angry, 0, 1 - this.angry]));
  }
}

/** The scream branch's model, scripted: `scream` is every window's scream probability. */
export class ScriptedScreamClassifier implements WindowClassifier {
  readonly labels = ["angry", "fear", "neutral", "scream", "sound"];
  scream = 0;
  windowsSeen = 0;

  constructor(readonly spec: FeatureSpec) {}

  predict(stepsWindows: Float32Array[], _adapted?: AdaptedStats | null): Float32Array[] {
    this.windowsSeen += stepsWindows.length;
    return stepsWindows.map(() => Float32Array.from([0, 0, 0, this.scream, 1 - this.scream]));
  }
}
