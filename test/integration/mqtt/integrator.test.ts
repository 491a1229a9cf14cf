/**
 * What Home Assistant, Node-RED and openHAB see, against a real broker (Mosquitto when installed,
 * else aedes; ../broker.ts): every payload the sink publishes validates against the committed
 * docs/mqtt/*.schema.json; the retained `alert/last` reaches a subscriber that was away when the
 * alert came; the mute entity is wired to the command it sends.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path, { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../../src/clock.js";
import type { Command } from "../../../src/outputs/mqtt/commands.js";
import { MqttSink, type MqttOptions } from "../../../src/outputs/mqtt/mqtt-sink.js";
import type { AlertEvent, DeviceStatus } from "../../../src/outputs/sink.js";
import { captureLogger } from "../../fakes/capture-logger.js";
import { validateJsonSchema } from "../../fixtures/json-schema-check.js";
import { daemonWorld } from "../world.js";
import { sleep, waitFor, watch, type Watcher } from "./watcher.js";

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/mqtt");
const SCHEMA_OF: Record<string, string> = {
  availability: "availability.schema.json",
  state: "state.schema.json",
  alert: "alert.schema.json",
  "alert/last": "alert.schema.json",
  telemetry: "telemetry.schema.json",
  problem: "problem.schema.json",
  "set/result": "set-result.schema.json",
};

const world = daemonWorld("earwitness-integrator");

async function makeSink(overrides: Partial<MqttOptions> = {}): Promise<{ sink: MqttSink; root: string; deviceId: string }> {
  const dir = await world.tempDir("earwitness-integrator");
  const deviceId = `dev-${randomUUID().slice(0, 8)}`;
  const sink = new MqttSink(
    {
      url: world.broker.url,
      clientId: `earwitness-${deviceId}`,
      topicRoot: `earwitness/${deviceId}`,
      deviceId,
      discovery: { enabled: true, prefix: "homeassistant" },
      telemetry: { enabled: true },
      model: { name: "ser-small", version: "1.2.0", sha256: "ab".repeat(32) },
      stateDir: dir,
      outbox: { maxEvents: 100, maxBytes: 1_000_000 },
      keepaliveS: 5,
      softwareVersion: "0.1.0-test",
      unit: { host: "pi-kitchen", machine: "a1b2c3" },
      hwVersion: "Raspberry Pi 4 Model B Rev 1.4",
      connectWaitMs: 5_000,
      stopTimeoutMs: 2_000,
      reconnectPeriodMs: 200,
      connectTimeoutMs: 2_000,
      ...overrides,
    },
    { clock: systemClock, log: captureLogger().log },
  );
  world.defer(() => sink.stop());
  return { sink, root: `earwitness/${deviceId}`, deviceId };
}

async function watcher(filters: string[]): Promise<Watcher> {
  const w = await watch(world.broker.url, filters);
  world.defer(() => w.close());
  return w;
}

const T0 = Date.UTC(2025, 5, 1, 2, 3, 4, 500);

function alertEvent(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    phase: "start",
    alertId: randomUUID(),
    startedAtMs: T0,
    peak: 0.7512345,
    mean: 0.6098765,
    emotion: "angry",
    probs: { angry: 0.612345678, fear: 0.1, sad: 0.287654322 },
    dbfs: -17.505454480322825,
    test: false,
    thresholds: { enter_threshold: 0.55, exit_threshold: 0.35 },
    ...overrides,
  };
}

const STATUS: DeviceStatus = {
  state: "IDLE",
  danger: 0.15,
  emotion: "sad",
  dangerEmotion: "angry",
  sinceMs: T0,
  armed: true,
  mutedUntilMs: T0 + 30 * 60_000,
  muteMinutes: 30,
  problems: ["mic_silent"],
  problemMessages: { mic_silent: "no sound from the microphone for 120 s; check that it is plugged in" },
  acknowledged: false,
};

async function schemaFor(suffix: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(docs, SCHEMA_OF[suffix]!), "utf8")) as Record<string, unknown>;
}

describe("what integrators see, against a real broker", () => {
  it("every payload published validates against the committed JSON Schemas", async () => {
    const h = await makeSink();
    const w = await watcher([`${h.root}/#`]);
    await h.sink.start();
    h.sink.onCommand(() => undefined);
    await h.sink.status(STATUS);
    await h.sink.publishTelemetry({ atMs: T0, probs: { sad: 0.61234567, angry: 0.1 }, dbfs: -40.04, rtf: 0.123456, droppedWindows: 0, queueDepth: 0 });
    await h.sink.publishProblem({ atMs: T0, code: "mic_silent", message: "silent", active: true });
    const start = alertEvent();
    await h.sink.alert(start);
    await h.sink.alert({ ...start, phase: "end", endedAtMs: T0 + 12_345, peak: 0.8, mean: 0.7, endReason: "score_dropped" });
    await h.sink.alert(alertEvent({ test: true, emotion: "test", probs: {} }));
    await w.client.publishAsync(`${h.root}/set/mute`, "15", { qos: 1 });
    await waitFor(() => h.sink.pendingAlerts === 0 && w.on(`${h.root}/set/result`).length > 0, "alerts delivered and the command answered");
    await waitFor(() => w.on(`${h.root}/telemetry`).length > 0 && w.on(`${h.root}/problem`).length > 0, "telemetry and problem");

    const suffixes = new Set<string>();
    for (const m of w.seen) {
      const suffix = m.topic.slice(h.root.length + 1);
      if (suffix.startsWith("set") && suffix !== "set/result") continue; // our own commands
      const file = SCHEMA_OF[suffix];
      expect(file, `a schema for ${m.topic}`).toBeDefined();
      const payload: unknown = suffix === "availability" ? m.text : JSON.parse(m.text);
      expect(validateJsonSchema(await schemaFor(suffix), payload), `${m.topic}: ${m.text}`).toEqual([]);
      suffixes.add(suffix);
    }
    expect([...suffixes].sort()).toEqual(["alert", "alert/last", "availability", "problem", "set/result", "state", "telemetry"]);

    const state = JSON.parse(w.on(`${h.root}/state`).at(-1)!.text) as Record<string, unknown>;
    expect(state).toMatchObject({
      emotion: "sad",
      danger_emotion: "angry",
      armed: true,
      muted: true,
      mute_minutes: 30,
      listening: false,
      problems: ["mic_silent"],
      problem_messages: STATUS.problemMessages,
      unit: { host: "pi-kitchen", machine: "a1b2c3" },
    });
    const alerts = w.on(`${h.root}/alert`).map((m) => JSON.parse(m.text) as Record<string, unknown>);
    expect(alerts[0]).toMatchObject({ event: "start", peak: 0.7512, mean: 0.6099, dbfs: -17.5, probs: { angry: 0.6123, sad: 0.2877 } });
    expect(alerts[1]).toMatchObject({ event: "end", end_reason: "score_dropped", duration_s: 12.345 });
    expect(JSON.parse(w.on(`${h.root}/set/result`)[0]!.text)).toMatchObject({ ok: true, command: "mute", topic: "set/mute" });
  });

  it("keeps the latest real alert retained on alert/last: a Home Assistant restarted after an outage still sees it", async () => {
    const h = await makeSink();
    await h.sink.start();
    const start = alertEvent();
    await h.sink.alert(start);
    await h.sink.alert({ ...start, phase: "end", endedAtMs: T0 + 9_000, endReason: "max_duration" });
    await waitFor(() => h.sink.pendingAlerts === 0, "alert delivered");
    // A test alert afterwards must not hide the real one.
    await h.sink.alert(alertEvent({ test: true, emotion: "test", probs: {} }));
    await h.sink.alert(alertEvent({ test: true, phase: "end", endedAtMs: T0 + 3000, endReason: "test_over", emotion: "test", probs: {} }));
    await waitFor(() => h.sink.pendingAlerts === 0, "test alert delivered");

    // Home Assistant comes back: a fresh subscriber gets the retained last alert, nothing on `alert`.
    const late = await watcher([`${h.root}/alert`, `${h.root}/alert/last`]);
    const last = await waitFor(() => late.on(`${h.root}/alert/last`)[0], "retained alert/last");
    await sleep(300);
    expect(last.retain).toBe(true);
    expect(late.on(`${h.root}/alert/last`)).toHaveLength(1);
    expect(late.on(`${h.root}/alert`)).toHaveLength(0);
    expect(JSON.parse(last.text)).toMatchObject({ alert_id: start.alertId, event: "end", end_reason: "max_duration", test: false });
  });

  it("the Home Assistant mute number sends what the daemon obeys, and does not touch Armed", async () => {
    const h = await makeSink();
    const commands: Command[] = [];
    h.sink.onCommand((c) => void commands.push(c));
    const w = await watcher([`homeassistant/+/${h.deviceId}/+/config`]);
    await h.sink.start();
    const mute = await waitFor(() => w.seen.find((s) => s.topic === `homeassistant/number/${h.deviceId}/mute/config`), "the mute number's config");
    const config = JSON.parse(mute.text) as { command_topic: string; state_topic: string; value_template: string };
    expect(config.state_topic).toBe(`${h.root}/state`);
    // As Home Assistant publishes a number (30.0 becomes "30"; 0 unmutes).
    await w.client.publishAsync(config.command_topic, "30", { qos: 1 });
    await w.client.publishAsync(config.command_topic, "0", { qos: 1 });
    await waitFor(() => commands.length === 2, "both commands");
    expect(commands).toEqual([{ command: "mute", minutes: 30 }, { command: "unmute" }]);
    const emotion = JSON.parse(w.seen.find((s) => s.topic === `homeassistant/sensor/${h.deviceId}/emotion/config`)!.text) as Record<string, unknown>;
    expect(emotion).toMatchObject({ device_class: "enum" });
    const device = emotion.device as Record<string, unknown>;
    expect(device).toMatchObject({ hw_version: "Raspberry Pi 4 Model B Rev 1.4" });
    expect(device.model).not.toBe(device.manufacturer);
  });
});
