/**
 * The typed MQTT contract (STYLE.md §7): one map from topic suffix to payload type, the QoS and
 * retain flag of every topic, and pure builders from our domain types to payloads.
 *
 * Every payload is a zod schema here; the TypeScript types are inferred from them and
 * `docs/mqtt/*.schema.json` are generated from them (`earwitness mqtt schemas --out docs/mqtt`),
 * so the types, the validation in tests and what integrators read cannot drift apart.
 *
 * Every topic lives under the device's topic root, `<base>/<device_id>` (`earwitness/<device_id>`
 * by default; the config derives it once, as `mqtt.topic_root`):
 *
 * | suffix         | dir | QoS | retained | payload                                              |
 * |----------------|-----|-----|----------|------------------------------------------------------|
 * | `availability` | out | 1   | yes      | `online` / `offline` (plain text; also the last will) |
 * | `state`        | out | 1   | yes      | {@link StatePayload} (JSON)                          |
 * | `alert`        | out | 1   | no       | {@link AlertPayload} (JSON), via the durable outbox  |
 * | `alert/last`   | out | 1   | yes      | the latest real (not test) {@link AlertPayload}, so a |
 * |                |     |     |          | consumer that was down when it came still sees it    |
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
import * as z from "zod";
import type { AlertEvent, DetectorStateName, DeviceStatus } from "../sink.js";
import { OutputError } from "../../errors.js";
import { MUTE_MINUTES_MAX } from "./commands.js";

export const MQTT_SCHEMA_VERSION = 1 as const;

export const AVAILABILITY_ONLINE = "online";
export const AVAILABILITY_OFFLINE = "offline";
export const AvailabilityPayloadSchema = z
  .enum([AVAILABILITY_ONLINE, AVAILABILITY_OFFLINE])
  .describe("Plain text, not JSON. Retained; the broker publishes `offline` as the last will.");
export type AvailabilityPayload = z.infer<typeof AvailabilityPayloadSchema>;

const SchemaVersion = z.literal(MQTT_SCHEMA_VERSION).describe("Payload schema version; a breaking change bumps it.");
const IsoTime = z.iso.datetime();
const Score = z.number().min(0).max(1);
const Probs = z.record(z.string(), Score).describe("Probability per emotion label, rounded to 4 decimals.");
const DETECTOR_STATES = ["IDLE", "SUSPECT", "ALERT", "HOLD", "COOLDOWN"] as const satisfies readonly DetectorStateName[];

/** What identifies the model that made a decision; published with every alert and state. */
export const ModelInfoSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

/** Which machine publishes under this device id (two units with one id are told apart by it). */
export const UnitInfoSchema = z.strictObject({
  host: z.string().describe("The publishing machine's hostname."),
  machine: z
    .string()
    .describe("A short hash of the publishing machine's /etc/machine-id (never the id itself); empty when unknown."),
});
export type UnitInfo = z.infer<typeof UnitInfoSchema>;

export const StatePayloadSchema = z.strictObject({
  schema: SchemaVersion,
  state: z.enum(DETECTOR_STATES),
  alerting: z.boolean().describe("True while an alert is active (ALERT or HOLD); drives the HA `safety` binary sensor."),
  danger: Score.describe("Smoothed danger score of the latest window (what the thresholds compare)."),
  emotion: z
    .string()
    .nullable()
    .describe("The strongest emotion of the latest analysed window, danger or not (e.g. `sad`); null when none was analysed (quiet, or not listening)."),
  danger_emotion: z
    .string()
    .nullable()
    .describe("The danger label that weighs most in that window's danger score (e.g. `angry`); null when none is above zero."),
  since: IsoTime.describe("When the detector entered `state`."),
  armed: z.boolean().describe("The Armed switch. Independent of mute: a muted unit stays armed and listens again when the mute ends."),
  muted: z.boolean().describe("True while a timed mute runs: no alerts (and no buzzer) until `muted_until`."),
  muted_until: IsoTime.nullable().describe("When the mute ends, or null when not muted."),
  mute_minutes: z
    .number()
    .int()
    .min(0)
    .max(MUTE_MINUTES_MAX)
    .describe("The length of the running mute as it was asked for, in minutes; 0 when not muted."),
  listening: z.boolean().describe("armed and not muted: alerts can be raised."),
  model: ModelInfoSchema,
  problems: z.array(z.string()).describe("Codes of the current problems, sorted; empty when all is well."),
  problem_messages: z.record(z.string(), z.string()).describe("What each current problem means and what to do, by code."),
  acknowledged: z.boolean().describe("The current alert was acknowledged (buzzer silenced)."),
  unit: UnitInfoSchema,
});
export type StatePayload = z.infer<typeof StatePayloadSchema>;

/**
 * HA's event entity reads `event_type` straight from the payload (no template needed, which also
 * keeps openHAB's Event component happy); the value is in {@link ALERT_EVENT_TYPES}.
 */
export const ALERT_EVENT_TYPES = ["alert_start", "alert_end", "test_start", "test_end"] as const;
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

/**
 * Why an alert ended: the detector's own reasons, what the daemon did, or a test's course. The
 * one list of reasons (the daemon, the outbox replay and docs/mqtt/alert.schema.json use it).
 * - `score_dropped`: the danger score stayed below the exit threshold for `hold_s`.
 * - `max_duration`: the alert lasted `max_alert_s` (nothing stays on for ever; held by a timer
 *   too, so it holds when no audio windows arrive).
 * - `disarmed` / `muted`: switched off from Home Assistant, a command or the button.
 * - `stopped`: the daemon stopped (service stop, shutdown).
 * - `reloaded`: a new configuration or model took over (SIGHUP, model install).
 * - `audio_lost`: the microphone stream broke (recorder exited, stalled, device gone) while the
 *   alert was open; it ends at once, since the unit no longer hears.
 * - `audio_restarted`: audio came back after a gap no problem had announced; detection began afresh.
 * - `interrupted`: the daemon was killed (SIGKILL, power cut) with the alert open; the next start
 *   ends it with the same alert_id.
 * - `test_over`: a test alert's fixed course ended.
 */
export const ALERT_END_REASONS = [
  "score_dropped",
  "max_duration",
  "disarmed",
  "muted",
  "stopped",
  "reloaded",
  "audio_lost",
  "audio_restarted",
  "interrupted",
  "test_over",
] as const;
export type AlertEndReasonName = (typeof ALERT_END_REASONS)[number];

/**
 * `peak` and `mean` mean the same thing in both events: the highest and the mean smoothed
 * danger score (the value the thresholds compare, shown by `earwitness monitor` and the Danger
 * score sensor) over the windows of this alert so far. At start these are the windows that led
 * to it (from the first one at or above the enter threshold to the one that started the alert);
 * at end, those and every window while alerting (HOLD windows, all below the exit threshold,
 * excluded). So end.peak >= start.peak. `emotion` and `probs` are taken over the same windows.
 */
const alertCommon = {
  schema: SchemaVersion,
  event_type: z.enum(ALERT_EVENT_TYPES),
  alert_id: z.uuid().describe("Same in start and end, and in every resend: deduplicate on it (with `event`)."),
  device_id: z.string(),
  started_at: IsoTime,
  peak: Score.describe("Highest smoothed danger score over the alert's windows so far (4 decimals)."),
  mean: Score.describe("Mean smoothed danger score over the same windows (4 decimals)."),
  emotion: z.string().describe("The danger emotion that weighed most over those windows; `test` for a test alert, `unknown` if no window carried probabilities."),
  probs: Probs,
  dbfs: z.number().max(0).describe("Level of the window that started the alert, dBFS, 1 decimal."),
  model: ModelInfoSchema,
  thresholds: z.record(z.string(), z.number()).describe("The detection settings the decision was made against."),
  test: z.boolean().describe("A test alert (button, command or selftest), not a detection."),
};

export const AlertStartPayloadSchema = z.strictObject({ ...alertCommon, event: z.literal("start") });
export const AlertEndPayloadSchema = z.strictObject({
  ...alertCommon,
  event: z.literal("end"),
  ended_at: IsoTime,
  duration_s: z.number().min(0).describe("ended_at - started_at, seconds, 3 decimals."),
  end_reason: z.enum(ALERT_END_REASONS),
});
export const AlertPayloadSchema = z.discriminatedUnion("event", [AlertStartPayloadSchema, AlertEndPayloadSchema]);
export type AlertStartPayload = z.infer<typeof AlertStartPayloadSchema>;
export type AlertEndPayload = z.infer<typeof AlertEndPayloadSchema>;
export type AlertPayload = z.infer<typeof AlertPayloadSchema>;

export const TelemetryPayloadSchema = z.strictObject({
  schema: SchemaVersion,
  at: IsoTime,
  probs: Probs,
  dbfs: z.number().max(0).describe("Level of the latest window, dBFS, 1 decimal."),
  rtf: z.number().min(0).describe("Real-time factor of inference (processing time / audio time); < 1 keeps up."),
  dropped_windows: z.number().int().min(0),
  queue_depth: z.number().int().min(0),
});
export type TelemetryPayload = z.infer<typeof TelemetryPayloadSchema>;

export const ProblemPayloadSchema = z.strictObject({
  schema: SchemaVersion,
  at: IsoTime,
  code: z.string().describe("e.g. mic_silent, mqtt_client_id_conflict, gpio_failing"),
  message: z.string(),
  active: z.boolean().describe("True when the problem is raised, false when it cleared."),
});
export type ProblemPayload = z.infer<typeof ProblemPayloadSchema>;

/** Incoming command topics (parsed by commands.ts). */
export const COMMAND_TOPICS = ["set", "set/armed", "set/mute", "set/test", "set/ack"] as const;
export type CommandTopic = (typeof COMMAND_TOPICS)[number];

export const CommandResultPayloadSchema = z.strictObject({
  schema: SchemaVersion,
  at: IsoTime,
  topic: z.enum(COMMAND_TOPICS).describe("The suffix the command arrived on, e.g. `set` or `set/armed`."),
  ok: z.boolean(),
  command: z.string().nullable().describe("The parsed command name, or null when parsing failed."),
  id: z.string().nullable().describe("The `id` the sender put in a JSON command, echoed for correlation."),
  error: z.string().nullable(),
});
export type CommandResultPayload = z.infer<typeof CommandResultPayloadSchema>;

/** The JSON accepted on `set` (commands.ts parses it by hand, with an answer for every mistake). */
const commandId = { id: z.union([z.string().max(64), z.number()]).optional().describe("Echoed on set/result.") };
export const SetCommandSchema = z.union([
  z.strictObject({ command: z.enum(["arm", "disarm", "unmute", "test", "ack", "reset_adaptation"]), ...commandId }),
  z.strictObject({ command: z.literal("mute"), minutes: z.number().int().min(1).max(MUTE_MINUTES_MAX), ...commandId }),
]);

/** Outgoing topics and their payloads: the one map the publisher is typed against. */
export const OUTGOING_SCHEMAS = {
  availability: AvailabilityPayloadSchema,
  state: StatePayloadSchema,
  alert: AlertPayloadSchema,
  "alert/last": AlertPayloadSchema,
  telemetry: TelemetryPayloadSchema,
  problem: ProblemPayloadSchema,
  "set/result": CommandResultPayloadSchema,
} as const;
export type OutgoingTopicMap = { [K in keyof typeof OUTGOING_SCHEMAS]: z.infer<(typeof OUTGOING_SCHEMAS)[K]> };

/** Incoming command topics and the raw payloads they accept (parsed by commands.ts). */
export interface IncomingTopicMap {
  set: string;
  "set/armed": "ON" | "OFF";
  "set/mute": string;
  "set/test": "PRESS";
  "set/ack": "PRESS";
}

export type OutgoingTopic = keyof OutgoingTopicMap;

/** QoS and retain of every outgoing topic; the publisher reads these, never literals. */
export const TOPIC_SPECS: { readonly [K in OutgoingTopic]: { readonly qos: 0 | 1; readonly retain: boolean } } = {
  availability: { qos: 1, retain: true },
  state: { qos: 1, retain: true },
  alert: { qos: 1, retain: false },
  "alert/last": { qos: 1, retain: true },
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
 * Checks the device's topic root (the config's `mqtt.topic_root`, `<base>/<device id>`, made by
 * config/schema.ts mqttTopicRoot) and id before topics are built from them; returns the root.
 * The device id also becomes part of Home Assistant unique ids and object ids, which only allow
 * `[A-Za-z0-9_-]`, hence the strict check.
 */
export function checkTopicRoot(root: string, deviceId: string): string {
  if (!TOPIC_PART.test(deviceId)) {
    throw new OutputError(
      "BAD_DEVICE_ID",
      `mqtt device id "${deviceId}" may only contain letters, digits, "_" and "-"; change device_id`,
    );
  }
  if (root === "" || /[#+]/.test(root) || root.startsWith("/") || root.endsWith("/") || root.includes("//")) {
    throw new OutputError(
      "BAD_TOPIC_ROOT",
      `mqtt topic root "${root}" must be non-empty, without "+", "#", or empty levels; change mqtt.base_topic`,
    );
  }
  return root;
}

export function topicFor(root: string, suffix: OutgoingTopic | CommandTopic): string {
  return `${root}/${suffix}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** What an alert payload needs besides the event itself (which carries its thresholds). */
export interface AlertContext {
  deviceId: string;
  model: ModelInfo;
}

export function alertEventType(event: Pick<AlertEvent, "phase" | "test">): AlertEventType {
  return `${event.test ? "test" : "alert"}_${event.phase}`;
}

/** Scores and probabilities: 4 decimals are far below what the model can tell apart. */
export function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Levels: a tenth of a decibel is below what a microphone's gain setting is known to. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function roundProbs(probs: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(probs).map(([k, v]) => [k, round4(v)]));
}

/** Build the `alert` payload. Times come from the event, so a replay from the outbox keeps them. */
export function buildAlertPayload(event: AlertEvent, ctx: AlertContext): AlertPayload {
  const common = {
    schema: MQTT_SCHEMA_VERSION,
    event_type: alertEventType(event),
    alert_id: event.alertId,
    device_id: ctx.deviceId,
    started_at: iso(event.startedAtMs),
    peak: round4(event.peak),
    mean: round4(event.mean),
    emotion: event.emotion,
    probs: roundProbs(event.probs),
    dbfs: round1(event.dbfs),
    model: { ...ctx.model },
    thresholds: { ...event.thresholds },
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
    duration_s: Math.round(Math.max(0, event.endedAtMs - event.startedAtMs)) / 1000,
    end_reason: event.endReason ?? (event.test ? "test_over" : "stopped"),
  };
}

/** The outbox id of an alert event: start and end of one alert share `alertId`. */
export function alertRecordId(event: Pick<AlertEvent, "alertId" | "phase">): string {
  return `${event.alertId}:${event.phase}`;
}

/** The outbox id of the same event's copy on the retained `alert/last` topic. */
export function lastAlertRecordId(event: Pick<AlertEvent, "alertId" | "phase">): string {
  return `${alertRecordId(event)}:last`;
}

export const UNKNOWN_UNIT: UnitInfo = { host: "", machine: "" };

export function buildStatePayload(status: DeviceStatus, model: ModelInfo, unit: UnitInfo = UNKNOWN_UNIT): StatePayload {
  const muted = status.mutedUntilMs !== null;
  return {
    schema: MQTT_SCHEMA_VERSION,
    state: status.state,
    alerting: status.state === "ALERT" || status.state === "HOLD",
    danger: round4(status.danger),
    emotion: status.emotion,
    danger_emotion: status.dangerEmotion,
    since: iso(status.sinceMs),
    armed: status.armed,
    muted,
    muted_until: status.mutedUntilMs === null ? null : iso(status.mutedUntilMs),
    mute_minutes: muted ? status.muteMinutes : 0,
    listening: status.armed && !muted,
    model: { ...model },
    problems: [...status.problems],
    problem_messages: { ...status.problemMessages },
    acknowledged: status.acknowledged,
    unit: { ...unit },
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
    probs: roundProbs(sample.probs),
    dbfs: round1(sample.dbfs),
    rtf: round4(sample.rtf),
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
