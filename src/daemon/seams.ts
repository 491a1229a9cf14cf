/**
 * The daemon's seams (STYLE.md §2): what the conductor (daemon.ts) receives through `DaemonDeps`,
 * built for real by real-deps.ts and by hand in test/fakes/. Owns the interfaces and the
 * derivations both sides share (`thresholdsOf`, `mqttSettingsOf`); must not own any IO or
 * behaviour: a change here is a change of contract between the daemon and its parts.
 */
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { ModelInfo, ProblemReport, TelemetrySample } from "../outputs/mqtt/contract.js";
import type { CommandHandler, SinkProblem } from "../outputs/mqtt/mqtt-sink.js";
import type { AlertEvent, AlertSink } from "../outputs/sink.js";
import type { WindowClassifier } from "../pipeline.js";
import type { StatusPageProvider } from "../http/status-server.js";
import type { AudioSource } from "../audio/source.js";
import type { DeviceAdaptation, ScreamModel } from "../assemble/model.js";
import type { Notifier } from "./sd-notify.js";
import type { StatusProvider } from "../status/protocol.js";

/** A loaded model, ready for the pipeline. */
export interface ModelHandle {
  classifier: WindowClassifier;
  /** Running adaptation to this unit (speaker-normalised bundles, when enabled); saved on dispose. */
  adaptation?: DeviceAdaptation | null;
  info: ModelInfo;
  /** The scream branch's model (detect.screams), when it is on and could be loaded. */
  screams?: ScreamModel | null;
  /** Labels the model knows (checked against `detect.danger.labels`). */
  labels: readonly string[];
  /**
   * Set when this is not the model that should have run (the installed one is damaged, say) but a
   * fallback (previous, then shipped): the daemon raises `model_fallback` with this text.
   */
  fallback?: string | null;
  dispose(): void;
}

/** What the daemon uses of the GPIO indicator (GpioIndicator satisfies it). */
export interface IndicatorOutput extends AlertSink {
  offNow(): void;
  onButton(listener: () => void): () => void;
  problems(): string[];
}

/** What the daemon uses of the MQTT sink (MqttSink satisfies it). */
export interface MqttOutput extends AlertSink {
  readonly connected: boolean;
  onCommand(handler: CommandHandler): () => void;
  publishTelemetry(sample: TelemetrySample): Promise<void>;
  publishProblem(problem: ProblemReport): Promise<void>;
  /** Delivery conditions to show as problems (`outbox_failing`, `mqtt_stalled`); polled. */
  deliveryProblems?(): SinkProblem[];
  /** Set while another client seems to use our client id (MqttSink); absent in sinks that cannot tell. */
  readonly clientIdConflict?: string | null;
}

/**
 * Remembers the open alert on disk, so that after a SIGKILL or a power cut the next start ends
 * it (end_reason `interrupted`, same alert_id) instead of leaving consumers waiting for its end.
 */
export interface AlertJournal {
  /** The alert that is open now (its start event), or null once it ended. Never throws. */
  record(start: AlertEvent | null): Promise<void>;
  /** The alert a previous run left open, if any. Never throws. */
  recover(): Promise<AlertEvent | null>;
}

export interface DaemonDeps {
  clock: Clock;
  log: Logger;
  notifier: Notifier;
  createSource(config: Config): AudioSource;
  loadModel(config: Config): Promise<ModelHandle>;
  /** null when no indicator is configured. Throws OutputError for configured GPIO that cannot work. */
  createIndicator(config: Config): Promise<IndicatorOutput | null>;
  /** null when MQTT is disabled. Built from these settings only, so a reload knows when to rebuild it. */
  createMqtt(settings: MqttSettings, model: ModelInfo): Promise<MqttOutput | null>;
  /** Re-reads the configuration for SIGHUP; throws ConfigError when it is invalid. */
  reloadConfig(): Promise<Config>;
  /** Where the open alert is remembered across a crash; absent = nowhere. */
  alertJournal?: AlertJournal;
  /** The local status socket for `earwitness monitor`; absent or null = none. */
  createStatusSocket?(config: Config, provider: StatusProvider): StatusSocketOutput | null;
  /** The local status page (src/http/); absent or null = none. */
  createStatusPage?(config: Config, provider: StatusPageProvider): StatusSocketOutput | null;
}

/** What the daemon uses of the status socket (StatusSocketServer satisfies it). */
export interface StatusSocketOutput {
  start(): Promise<void>;
  stop(): Promise<void>;
  recordAlert(event: AlertEvent): void;
}

/** The detection settings published with every alert, so a reader knows what the decision was made against. */
export function thresholdsOf(config: Config): Record<string, number> {
  const d = config.detect;
  return {
    enter_threshold: d.enter_threshold,
    exit_threshold: d.exit_threshold,
    k: d.k,
    n: d.n,
    min_duration_s: d.min_duration_s,
    hold_s: d.hold_s,
    energy_gate_dbfs: d.energy_gate_dbfs,
    // The scream branch's own settings, when it runs (hold, cooldown and max duration are shared).
    ...(d.screams.enabled
      ? {
          scream_enter_threshold: d.screams.enter_threshold,
          scream_exit_threshold: d.screams.exit_threshold,
          scream_k: d.screams.k,
          scream_n: d.screams.n,
          scream_min_duration_s: d.screams.min_duration_s,
        }
      : {}),
  };
}

/**
 * What the MQTT sink is built from, besides the model's identity: the broker settings, the device
 * id (topics, payloads, Home Assistant ids) and the state dir (the outbox). A reload that changes
 * any of it replaces the sink (a new connection); one that changes none, a threshold say, keeps
 * the connection (thresholds travel with each alert).
 */
export type MqttSettings = Pick<Config, "device_id" | "state_dir" | "mqtt">;

export function mqttSettingsOf(config: Config): MqttSettings {
  return { device_id: config.device_id, state_dir: config.state_dir, mqtt: config.mqtt };
}
