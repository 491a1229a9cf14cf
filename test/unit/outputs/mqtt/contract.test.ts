import { describe, expect, it } from "vitest";
import {
  alertRecordId,
  buildAlertPayload,
  buildCommandResultPayload,
  buildProblemPayload,
  buildStatePayload,
  buildTelemetryPayload,
  COMMAND_TOPICS,
  checkTopicRoot,
  encodePayload,
  topicFor,
  TOPIC_SPECS,
  type AlertContext,
  ALERT_END_REASONS,
  AlertPayloadSchema,
  StatePayloadSchema,
} from "../../../../src/outputs/mqtt/contract.js";
import type { AlertEvent, DeviceStatus } from "../../../../src/outputs/sink.js";
import { OutputError } from "../../../../src/errors.js";

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 600);

const ctx: AlertContext = {
  deviceId: "kitchen",
  model: { name: "ser-small", version: "1.2.0", sha256: "ab".repeat(32) },
};

function startEvent(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    phase: "start",
    alertId: "5b0c8a52-8d2f-4f5e-9d1e-0a6f2d7e9c11",
    startedAtMs: T0,
    peak: 0.93,
    mean: 0.81,
    emotion: "fear",
    probs: { fear: 0.7, angry: 0.2, neutral: 0.1 },
    dbfs: -23.5,
    test: false,
    thresholds: { enter: 0.7, exit: 0.4 },
    ...overrides,
  };
}

describe("MQTT contract", () => {
  it("builds the alert start payload with schema, ids, ISO times, model and thresholds", () => {
    const payload = buildAlertPayload(startEvent(), ctx);
    expect(payload).toEqual({
      schema: 1,
      event: "start",
      event_type: "alert_start",
      alert_id: "5b0c8a52-8d2f-4f5e-9d1e-0a6f2d7e9c11",
      device_id: "kitchen",
      started_at: "2025-01-02T03:04:05.600Z",
      peak: 0.93,
      mean: 0.81,
      emotion: "fear",
      probs: { fear: 0.7, angry: 0.2, neutral: 0.1 },
      dbfs: -23.5,
      model: ctx.model,
      thresholds: { enter: 0.7, exit: 0.4 },
      test: false,
    });
  });

  it("builds the alert end payload with ended_at and duration_s", () => {
    const payload = buildAlertPayload(startEvent({ phase: "end", endedAtMs: T0 + 12_345 }), ctx);
    expect(payload).toMatchObject({
      event: "end",
      event_type: "alert_end",
      started_at: "2025-01-02T03:04:05.600Z",
      ended_at: "2025-01-02T03:04:17.945Z",
      duration_s: 12.345,
    });
  });

  it("marks test alerts with their own event types", () => {
    expect(buildAlertPayload(startEvent({ test: true }), ctx)).toMatchObject({ event_type: "test_start", test: true });
    expect(buildAlertPayload(startEvent({ test: true, phase: "end", endedAtMs: T0 }), ctx).event_type).toBe("test_end");
  });

  it("refuses an end event without its end time (a detector bug) with a coded error", () => {
    expect(() => buildAlertPayload(startEvent({ phase: "end" }), ctx)).toThrow(OutputError);
  });

  it("does not share mutable objects with its inputs", () => {
    const event = startEvent();
    const payload = buildAlertPayload(event, ctx);
    event.probs.fear = 0;
    expect(payload.probs.fear).toBe(0.7);
  });

  it("gives start and end of one alert different outbox ids", () => {
    expect(alertRecordId(startEvent())).not.toBe(alertRecordId(startEvent({ phase: "end" })));
  });

  it("builds the retained state", () => {
    const status: DeviceStatus = {
      state: "HOLD",
      danger: 0.66,
      emotion: "angry",
      dangerEmotion: null,
      sinceMs: T0,
      armed: true,
      mutedUntilMs: null,
      muteMinutes: 0,
      problems: ["MIC_SILENT"],
      problemMessages: {},
      acknowledged: false,
    };
    expect(buildStatePayload(status, ctx.model, { host: "pi-kitchen", machine: "a1b2c3" })).toEqual({
      schema: 1,
      state: "HOLD",
      alerting: true,
      danger: 0.66,
      emotion: "angry",
      danger_emotion: null,
      since: "2025-01-02T03:04:05.600Z",
      armed: true,
      muted: false,
      muted_until: null,
      mute_minutes: 0,
      listening: true,
      model: ctx.model,
      problems: ["MIC_SILENT"],
      problem_messages: {},
      acknowledged: false,
      unit: { host: "pi-kitchen", machine: "a1b2c3" },
    });
    const idle = buildStatePayload({ ...status, state: "IDLE", mutedUntilMs: T0 + 60_000, muteMinutes: 1 }, ctx.model);
    expect(idle.alerting).toBe(false);
    expect(idle.muted_until).toBe("2025-01-02T03:05:05.600Z");
  });

  it("publishes the strongest emotion and the danger emotion apart (calm speech reads sad, not angry)", () => {
    const status: DeviceStatus = {
      state: "IDLE",
      danger: 0.15,
      emotion: "sad",
      dangerEmotion: "angry",
      sinceMs: T0,
      armed: true,
      mutedUntilMs: null,
      muteMinutes: 0,
      problems: [],
      problemMessages: {},
      acknowledged: false,
    };
    const p = buildStatePayload(status, ctx.model);
    expect(p).toMatchObject({ emotion: "sad", danger_emotion: "angry", danger: 0.15 });
    expect(StatePayloadSchema.parse(p)).toEqual(p);
  });

  it("keeps mute apart from the Armed switch: muted, still armed, not listening", () => {
    const status: DeviceStatus = {
      state: "IDLE",
      danger: 0,
      emotion: null,
      dangerEmotion: null,
      sinceMs: T0,
      armed: true,
      mutedUntilMs: T0 + 30 * 60_000,
      muteMinutes: 30,
      problems: ["mic_silent"],
      problemMessages: { mic_silent: "the microphone is silent; check it" },
      acknowledged: false,
    };
    expect(buildStatePayload(status, ctx.model)).toMatchObject({
      armed: true,
      muted: true,
      mute_minutes: 30,
      muted_until: "2025-01-02T03:34:05.600Z",
      listening: false,
      problem_messages: { mic_silent: "the microphone is silent; check it" },
    });
    expect(buildStatePayload({ ...status, armed: false, mutedUntilMs: null, muteMinutes: 30 }, ctx.model)).toMatchObject({
      armed: false,
      muted: false,
      mute_minutes: 0,
      listening: false,
    });
  });

  it("rounds what it publishes: scores and probabilities to 4 decimals, levels to 1, durations to ms", () => {
    const ev = startEvent({ peak: 0.912345678, mean: 0.6123456, dbfs: -17.505454480322825, probs: { angry: 0.123456789, fear: 0.87654321 } });
    const start = buildAlertPayload(ev, ctx);
    expect(start).toMatchObject({ peak: 0.9123, mean: 0.6123, dbfs: -17.5, probs: { angry: 0.1235, fear: 0.8765 } });
    const end = buildAlertPayload({ ...ev, phase: "end", endedAtMs: T0 + 1234.5678, endReason: "score_dropped" }, ctx);
    expect(end).toMatchObject({ duration_s: 1.235, end_reason: "score_dropped" });
    const t = buildTelemetryPayload({ atMs: T0, probs: { sad: 0.333333333 }, dbfs: -40.04999, rtf: 0.1234567, droppedWindows: 0, queueDepth: 0 });
    expect(t).toMatchObject({ probs: { sad: 0.3333 }, dbfs: -40, rtf: 0.1235 });
  });

  it("says why an alert ended, and a test alert ends as test_over", () => {
    for (const reason of ALERT_END_REASONS) {
      const p = buildAlertPayload(startEvent({ phase: "end", endedAtMs: T0 + 1000, endReason: reason }), ctx);
      expect(p).toMatchObject({ event: "end", end_reason: reason });
      expect(AlertPayloadSchema.parse(p)).toEqual(p);
    }
    expect(buildAlertPayload(startEvent({ test: true, phase: "end", endedAtMs: T0 }), ctx)).toMatchObject({ end_reason: "test_over" });
  });

  it("builds telemetry, problem and command result payloads", () => {
    expect(
      buildTelemetryPayload({ atMs: T0, probs: { fear: 0.1 }, dbfs: -40, rtf: 0.12, droppedWindows: 3, queueDepth: 1 }),
    ).toEqual({
      schema: 1,
      at: "2025-01-02T03:04:05.600Z",
      probs: { fear: 0.1 },
      dbfs: -40,
      rtf: 0.12,
      dropped_windows: 3,
      queue_depth: 1,
    });
    expect(buildProblemPayload({ atMs: T0, code: "MIC_SILENT", message: "no audio for 10 s", active: true })).toEqual({
      schema: 1,
      at: "2025-01-02T03:04:05.600Z",
      code: "MIC_SILENT",
      message: "no audio for 10 s",
      active: true,
    });
    expect(buildCommandResultPayload({ atMs: T0, topic: "set", command: null, id: "7", error: "not JSON" })).toEqual({
      schema: 1,
      at: "2025-01-02T03:04:05.600Z",
      topic: "set",
      ok: false,
      command: null,
      id: "7",
      error: "not JSON",
    });
  });

  it("encodes availability as plain text and everything else as JSON", () => {
    expect(encodePayload("availability", "online")).toBe("online");
    const text = encodePayload("problem", buildProblemPayload({ atMs: T0, code: "X", message: "m", active: false }));
    expect(JSON.parse(text)).toMatchObject({ schema: 1, code: "X" });
  });

  it("fixes QoS and retain per topic: availability and state retained, alerts QoS 1 not retained", () => {
    expect(TOPIC_SPECS.availability).toEqual({ qos: 1, retain: true });
    expect(TOPIC_SPECS.state).toEqual({ qos: 1, retain: true });
    expect(TOPIC_SPECS.alert).toEqual({ qos: 1, retain: false });
    expect(TOPIC_SPECS["alert/last"]).toEqual({ qos: 1, retain: true });
    expect(TOPIC_SPECS["set/result"].retain).toBe(false);
    expect(COMMAND_TOPICS).not.toContain("set/result");
  });

  it("builds topics under the device's root and rejects roots and ids that would break topics or HA ids", () => {
    const root = checkTopicRoot("earwitness/kitchen-1", "kitchen-1");
    expect(root).toBe("earwitness/kitchen-1");
    expect(topicFor(root, "set/armed")).toBe("earwitness/kitchen-1/set/armed");
    expect(checkTopicRoot("home/earwitness/a_b", "a_b")).toBe("home/earwitness/a_b");
    for (const bad of ["", "a/b", "a+b", "a#", "küche", "a b"]) {
      expect(() => checkTopicRoot(`earwitness/${bad}`, bad), bad).toThrow(/device id/);
    }
    for (const bad of ["", "/abs/dev", "a//dev", "a/+/dev", "#/dev", "dev/"]) {
      expect(() => checkTopicRoot(bad, "dev"), bad).toThrow(/topic root/);
    }
  });
});
