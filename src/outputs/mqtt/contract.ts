/**
 * The typed MQTT contract (STYLE.md §7): one map from topic suffix to payload type, the QoS and
 * retain flag of every topic, and pure builders from our domain types to payloads.
 *
 * Every topic lives under `<baseTopic>/<deviceId>` (default base `earwitness`):
 *
 * | suffix         | dir | QoS | retained | payload                                              |
 * |----------------|-----|-----|----------|------------------------------------------------------|
 * | `availability` | out | 1   | yes      | `online` / `offline` (plain text; also the last will) |
 * | `state`        | out | 1   | yes      | {@link StatePayload} (JSON)                          |
 * | `alert`        | out | 1   | no       | {@link AlertPayload} (JSON), via the durable outbox  |
 * | `telemetry`    | out | 0   | no       | {@link TelemetryPayload} (JSON)                      |
 * | `problem`      | out | 1   | no       | {@link ProblemPayload} (JSON), one per raise/clear   |
 * | `set`          | in  | -   | -        | JSON command, e.g. `{"command":"mute","minutes":30}`  |
 * |                |     |     |          | or `{"command":"reset_adaptation"}` (commands.ts)     |
 * | `set/armed`    | in  | -   | -        | `ON` / `OFF` (Home Assistant switch)                 |
 * | `set/mute`     | in  | -   | -        | minutes as text, `0` unmutes (HA number / scripts)   |
 * | `set/test`     | in  | -   | -        | `PRESS` (Home Assistant button)                      |
 * | `set/ack`      | in  | -   | -        | `PRESS` (Home Assistant button)                      |
 * | `set/result`   | out | 1   | no       | {@link CommandResultPayload} (JSON), one per command |
 *
 * Problems: the *current* list is part of the retained `state` (so a late subscriber sees it);
 * the `problem` topic carries each change as an event for notifications and logs.
 *
 * Every JSON payload carries `schema: 1`; a breaking change bumps it.
 */
import type { AlertEvent, DetectorStateName, DeviceStatus } from "../sink.js";
import { OutputError } from "../../errors.js";

export const MQTT_SCHEMA_VERSION = 1 as const;

export const AVAILABILITY_ONLINE = "online";
export const AVAILABILITY_OFFLINE = "offline";
export type AvailabilityPayload = typeof AVAILABILITY_ONLINE | typeof AVAILABILITY_OFFLINE;

/** What identifies the model that made a decision; published with every alert and state. */
export interface ModelInfo {
  name: string;
  version: string;
  sha256: string;
}

export interface StatePayload {
  schema: typeof MQTT_SCHEMA_VERSION;
  state: DetectorStateName;
  /** True while an alert is active (ALERT or HOLD); drives the HA `safety` binary sensor. */
  alerting: boolean;
  danger: number;
  emotion: string | null;
  /** ISO time the detector entered `state`. */
  since: string;
  armed: boolean;
  /** ISO time the mute ends, or null when not muted. */
  muted_until: string | null;
  model: ModelInfo;
  problems: string[];
  acknowledged: boolean;
}

/**
 * HA's event entity reads `event_type` straight from the payload (no template needed, which also
 * keeps openHAB's Event component happy); the value is in {@link ALERT_EVENT_TYPES}.
 */
export const ALERT_EVENT_TYPES = ["alert_start", "alert_end", "test_start", "test_end"] as const;
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

interface AlertPayloadCommon {
  schema: typeof MQTT_SCHEMA_VERSION;
  event_type: AlertEventType;
  alert_id: string;
  device_id: string;
  started_at: string;
  peak: number;
  mean: number;
  emotion: string;
  probs: Record<string, number>;
  dbfs: number;
  model: ModelInfo;
  thresholds: Record<string, number>;
  test: boolean;
}

export interface AlertStartPayload extends AlertPayloadCommon {
  event: "start";
}

export interface AlertEndPayload extends AlertPayloadCommon {
  event: "end";
  ended_at: string;
  duration_s: number;
  /** Why it ended (AlertEndReason in ../sink.ts); `audio_lost` and `interrupted` mean the unit stopped hearing. */
  reason: string;
}

export type AlertPayload = AlertStartPayload | AlertEndPayload;

export interface TelemetryPayload {
  schema: typeof MQTT_SCHEMA_VERSION;
  at: string;
  probs: Record<string, number>;
  dbfs: number;
  /** Real-time factor of inference (processing time / audio time); < 1 keeps up. */
  rtf: number;
  dropped_windows: number;
  queue_depth: number;
}

export interface ProblemPayload {
  schema: typeof MQTT_SCHEMA_VERSION;
  at: string;
  code: string;
  message: string;
  /** True when the problem is raised, false when it cleared. */
  active: boolean;
}

export interface CommandResultPayload {
  schema: typeof MQTT_SCHEMA_VERSION;
  at: string;
  /** The suffix the command arrived on, e.g. `set` or `set/armed`. */
  topic: string;
  ok: boolean;
  /** The parsed command name, or null when parsing failed. */
  command: string | null;
  /** The `id` the sender put in a JSON command, echoed for correlation. */
  id: string | null;
  error: string | null;
}

/** Outgoing topics and their payloads: the one map the publisher is typed against. */
export interface OutgoingTopicMap {
  availability: AvailabilityPayload;
  state: StatePayload;
  alert: AlertPayload;
  telemetry: TelemetryPayload;
  problem: ProblemPayload;
  "set/result": CommandResultPayload;
}

/** Incoming command topics and the raw payloads they accept (parsed by commands.ts). */
export interface IncomingTopicMap {
  set: string;
  "set/armed": "ON" | "OFF";
  "set/mute": string;
  "set/test": "PRESS";
  "set/ack": "PRESS";
}

export type OutgoingTopic = keyof OutgoingTopicMap;
export type CommandTopic = keyof IncomingTopicMap;

export const COMMAND_TOPICS: readonly CommandTopic[] = ["set", "set/armed", "set/mute", "set/test", "set/ack"];

/** QoS and retain of every outgoing topic; the publisher reads these, never literals. */
export const TOPIC_SPECS: { readonly [K in OutgoingTopic]: { readonly qos: 0 | 1; readonly retain: boolean } } = {
  availability: { qos: 1, retain: true },
  state: { qos: 1, retain: true },
  alert: { qos: 1, retain: false },
  telemetry: { qos: 0, retain: false },
  problem: { qos: 1, retain: false },
  "set/result": { qos: 1, retain: false },
};

/** Serialise a payload for its topic: availability is plain text, everything else JSON. */
export function encodePayload<K extends OutgoingTopic>(topic: K, payload: OutgoingTopicMap[K]): string {
  return typeof payload === "string" ? payload : JSON.stringify(payload);
}

/** MQTT topic levels we build from config must not contain wildcards or separators. */
const TOPIC_PART = /^[A-Za-z0-9_-]+$/;

/**
 * `<baseTopic>/<deviceId>`. The device id also becomes part of Home Assistant unique ids and
 * object ids, which only allow `[A-Za-z0-9_-]`, hence the strict check.
 */
export function deviceTopicRoot(baseTopic: string, deviceId: string): string {
  if (!TOPIC_PART.test(deviceId)) {
    throw new OutputError(
      "BAD_DEVICE_ID",
      `mqtt device id "${deviceId}" may only contain letters, digits, "_" and "-"; change mqtt.device_id`,
    );
  }
  const base = baseTopic.replace(/\/+$/, "");
  if (base === "" || /[#+]/.test(base) || base.startsWith("/") || base.includes("//")) {
    throw new OutputError(
      "BAD_BASE_TOPIC",
      `mqtt base topic "${baseTopic}" must be non-empty, without "+", "#", or empty levels; change mqtt.base_topic`,
    );
  }
  return `${base}/${deviceId}`;
}

export function topicFor(root: string, suffix: OutgoingTopic | CommandTopic): string {
  return `${root}/${suffix}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** What an alert payload needs besides the event itself. */
export interface AlertContext {
  deviceId: string;
  model: ModelInfo;
  thresholds: Record<string, number>;
}

export function alertEventType(event: Pick<AlertEvent, "phase" | "test">): AlertEventType {
  return `${event.test ? "test" : "alert"}_${event.phase}`;
}

/** Build the `alert` payload. Times come from the event, so a replay from the outbox keeps them. */
export function buildAlertPayload(event: AlertEvent, ctx: AlertContext): AlertPayload {
  const common: AlertPayloadCommon = {
    schema: MQTT_SCHEMA_VERSION,
    event_type: alertEventType(event),
    alert_id: event.alertId,
    device_id: ctx.deviceId,
    started_at: iso(event.startedAtMs),
    peak: event.peak,
    mean: event.mean,
    emotion: event.emotion,
    probs: { ...event.probs },
    dbfs: event.dbfs,
    model: { ...ctx.model },
    thresholds: { ...ctx.thresholds },
    test: event.test,
  };
  if (event.phase === "start") return { ...common, event: "start" };
  if (event.endedAtMs === undefined) {
    throw new OutputError("ALERT_END_WITHOUT_TIME", `alert ${event.alertId} ended without endedAtMs; this is a bug in the detector`);
  }
  return {
    ...common,
    event: "end",
    ended_at: iso(event.endedAtMs),
    duration_s: Math.max(0, event.endedAtMs - event.startedAtMs) / 1000,
    reason: event.reason ?? (event.test ? "test" : "reset"),
  };
}

/** The outbox id of an alert event: start and end of one alert share `alertId`. */
export function alertRecordId(event: Pick<AlertEvent, "alertId" | "phase">): string {
  return `${event.alertId}:${event.phase}`;
}

export function buildStatePayload(status: DeviceStatus, model: ModelInfo): StatePayload {
  return {
    schema: MQTT_SCHEMA_VERSION,
    state: status.state,
    alerting: status.state === "ALERT" || status.state === "HOLD",
    danger: status.danger,
    emotion: status.emotion,
    since: iso(status.sinceMs),
    armed: status.armed,
    muted_until: status.mutedUntilMs === null ? null : iso(status.mutedUntilMs),
    model: { ...model },
    problems: [...status.problems],
    acknowledged: status.acknowledged,
  };
}

/** One telemetry sample, as the daemon measures it. */
export interface TelemetrySample {
  atMs: number;
  probs: Record<string, number>;
  dbfs: number;
  rtf: number;
  droppedWindows: number;
  queueDepth: number;
}

export function buildTelemetryPayload(sample: TelemetrySample): TelemetryPayload {
  return {
    schema: MQTT_SCHEMA_VERSION,
    at: iso(sample.atMs),
    probs: { ...sample.probs },
    dbfs: sample.dbfs,
    rtf: sample.rtf,
    dropped_windows: sample.droppedWindows,
    queue_depth: sample.queueDepth,
  };
}

/** A problem raised or cleared, e.g. `{code: "MIC_SILENT", message: "...", active: true}`. */
export interface ProblemReport {
  atMs: number;
  code: string;
  message: string;
  active: boolean;
}

export function buildProblemPayload(problem: ProblemReport): ProblemPayload {
  return {
    schema: MQTT_SCHEMA_VERSION,
    at: iso(problem.atMs),
    code: problem.code,
    message: problem.message,
    active: problem.active,
  };
}

export function buildCommandResultPayload(args: {
  atMs: number;
  topic: CommandTopic;
  command: string | null;
  id: string | null;
  error: string | null;
}): CommandResultPayload {
  return {
    schema: MQTT_SCHEMA_VERSION,
    at: iso(args.atMs),
    topic: args.topic,
    ok: args.error === null,
    command: args.command,
    id: args.id,
    error: args.error,
  };
}
