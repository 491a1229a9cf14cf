/**
 * Two units with one device id (every Pi image says `raspberrypi`), against a real broker: the
 * client-id fight is detected and named, `doctor` sees another unit's retained state under our
 * id, and `earwitness mqtt forget` leaves nothing of an id retained.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../../src/clock.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { checkMqttIdentity, type CheckResult, type DoctorContext } from "../../../src/doctor/checks.js";
import { connectConfigured, endQuietly } from "../../../src/doctor/mqtt.js";
import { forgetDevice } from "../../../src/outputs/mqtt/forget.js";
import { MqttSink, type MqttOptions } from "../../../src/outputs/mqtt/mqtt-sink.js";
import type { DeviceStatus } from "../../../src/outputs/sink.js";
import { captureLogger } from "../../fakes/capture-logger.js";
import { daemonWorld } from "../world.js";
import { runCli } from "../daemon/harness.js";
import { writeFile } from "node:fs/promises";
import { sleep, waitFor, watch } from "./watcher.js";

const world = daemonWorld("earwitness-identity");

const STATUS: DeviceStatus = {
  state: "IDLE",
  danger: 0,
  emotion: null,
  dangerEmotion: null,
  sinceMs: Date.UTC(2025, 0, 1),
  armed: true,
  mutedUntilMs: null,
  muteMinutes: 0,
  problems: [],
  problemMessages: {},
  acknowledged: false,
};

async function makeSink(deviceId: string, overrides: Partial<MqttOptions> = {}): Promise<{ sink: MqttSink; log: ReturnType<typeof captureLogger> }> {
  const dir = await world.tempDir("earwitness-identity");
  const log = captureLogger();
  const sink = new MqttSink(
    {
      url: world.broker.url,
      clientId: `earwitness-${deviceId}`,
      topicRoot: `earwitness/${deviceId}`,
      deviceId,
      discovery: { enabled: true, prefix: "homeassistant" },
      telemetry: { enabled: true },
      model: { name: "m", version: "1", sha256: "ab".repeat(32) },
      stateDir: dir,
      outbox: { maxEvents: 100, maxBytes: 1_000_000 },
      keepaliveS: 5,
      softwareVersion: "0.1.0-test",
      connectWaitMs: 5_000,
      stopTimeoutMs: 1_000,
      reconnectPeriodMs: 200,
      connectTimeoutMs: 2_000,
      ...overrides,
    },
    { clock: systemClock, log: log.log },
  );
  world.defer(() => sink.stop());
  return { sink, log };
}

function config(deviceId: string): Config {
  const r = parseConfig(`device_id: ${deviceId}\nmqtt: { enabled: true, url: "${world.broker.url}" }\ngpio: { driver: none }\n`, { env: {}, hostname: "h" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

describe("two units with one device id, against a real broker", () => {
  it("the client-id fight is detected on both sides and says what to do; a unit alone is never flagged", async () => {
    const id = `raspberrypi-${randomUUID().slice(0, 6)}`;
    const takeover = { shortSessionMs: 5_000, windowMs: 60_000, count: 3 };
    const a = await makeSink(id, { takeover });
    const b = await makeSink(id, { takeover });
    const alone = await makeSink(`alone-${randomUUID().slice(0, 6)}`, { takeover });
    await alone.sink.start();
    await a.sink.start();
    await b.sink.start();
    const flagged = await waitFor(() => a.sink.clientIdConflict ?? b.sink.clientIdConflict, "a client id conflict to be noticed", 30_000);
    expect(flagged).toMatch(/another client uses the client id "earwitness-raspberrypi-/);
    expect(flagged).toMatch(/give each unit its own device_id/);
    const logged = [...a.log.warnings(/another client uses the client id/), ...b.log.warnings(/another client uses the client id/)];
    expect(logged.length).toBeGreaterThan(0);
    expect(alone.sink.clientIdConflict).toBeNull();
    expect(alone.sink.connected).toBe(true);
  });

  it("doctor fails when another machine's state is retained under our id, passes for our own", async () => {
    const id = `kitchen-${randomUUID().slice(0, 6)}`;
    const other = await makeSink(id, { unit: { host: "raspberrypi", machine: "ffffff" } });
    await other.sink.start();
    await other.sink.status(STATUS);
    const w = await watch(world.broker.url, [`earwitness/${id}/state`]);
    world.defer(() => w.close());
    await waitFor(() => w.seen.length > 0, "the other unit's retained state");
    const ctx = (machine: string, daemon: unknown): DoctorContext => ({ config: config(id), configPath: "x", configIssues: [], clock: systemClock, machine, daemon }) as unknown as DoctorContext;

    const clash = (await checkMqttIdentity(ctx("aaaaaa", null))) as CheckResult;
    expect(clash.status).toBe("fail");
    expect(clash.detail).toMatch(/another unit \(host raspberrypi, machine ffffff\) publishes under device id/);
    expect(clash.fix).toMatch(/earwitness mqtt forget --device-id/);
    const mine = (await checkMqttIdentity(ctx("ffffff", { status: {}, telemetry: {} }))) as CheckResult;
    expect(mine.status, mine.detail).toBe("pass");
  });

  it("mqtt forget clears an id's retained discovery, state, availability and last alert", async () => {
    const id = `renamed-${randomUUID().slice(0, 6)}`;
    const old = await makeSink(id);
    await old.sink.start();
    await old.sink.status(STATUS);
    await old.sink.alert({ phase: "start", alertId: randomUUID(), startedAtMs: Date.now(), peak: 0.9, mean: 0.8, emotion: "angry", probs: {}, dbfs: -20, test: false, thresholds: {} });
    await waitFor(() => old.sink.pendingAlerts === 0, "alert delivered");
    await sleep(300);
    await old.sink.stop();
    const filters = [`earwitness/${id}/#`, `homeassistant/+/${id}/+/config`];
    const before = await watch(world.broker.url, filters);
    world.defer(() => before.close());
    await waitFor(() => before.seen.filter((s) => s.retain).length >= 18 && true, "retained discovery, state, availability, alert/last");

    const client = await connectConfigured(config("this-unit"), "forget");
    let cleared: string[];
    try {
      cleared = await forgetDevice(client, { discoveryPrefix: "homeassistant", topicRoot: `earwitness/${id}`, deviceId: id, settleMs: 1_000 });
    } finally {
      await endQuietly(client);
    }
    expect(cleared).toContain(`earwitness/${id}/state`);
    expect(cleared).toContain(`earwitness/${id}/alert/last`);
    expect(cleared).toContain(`homeassistant/number/${id}/mute/config`);

    const after = await watch(world.broker.url, filters);
    world.defer(() => after.close());
    await sleep(1_000);
    expect(after.seen.filter((s) => s.retain && s.text !== "")).toEqual([]);
  });

  it("earwitness mqtt forget (the command) clears another id with this unit's broker settings", async () => {
    const old = `old-${randomUUID().slice(0, 6)}`;
    const pub = await watch(world.broker.url, []);
    world.defer(() => pub.close());
    await pub.client.publishAsync(`earwitness/${old}/state`, '{"schema":1}', { qos: 1, retain: true });
    await pub.client.publishAsync(`homeassistant/sensor/${old}/emotion/config`, '{"name":"Emotion"}', { qos: 1, retain: true });
    const dir = await world.tempDir("earwitness-forget-cli");
    const file = join(dir, "config.yaml");
    await writeFile(file, `device_id: this-unit\nstate_dir: ${dir}\nmqtt: { enabled: true, url: "${world.broker.url}" }\ngpio: { led: 17 }\n`);
    const r = await runCli(["mqtt", "forget", "--config", file, "--device-id", old], { HOME: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`cleared 2 retained message(s) of device id "${old}"`);
    expect(r.stdout).toContain(`earwitness/${old}/state`);
    expect(r.stdout).toContain(`homeassistant/sensor/${old}/emotion/config`);
    const after = await watch(world.broker.url, [`earwitness/${old}/#`, `homeassistant/+/${old}/+/config`]);
    world.defer(() => after.close());
    await sleep(800);
    expect(after.seen).toEqual([]);
  });
});
