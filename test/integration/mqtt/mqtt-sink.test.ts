/**
 * MqttSink against a real broker (Mosquitto when installed, else aedes; see ../broker.ts).
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";
import { connect, type MqttClient } from "mqtt";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../../src/clock.js";
import type { Command } from "../../../src/outputs/mqtt/commands.js";
import { MqttSink, type MqttOptions } from "../../../src/outputs/mqtt/mqtt-sink.js";
import type { AlertEvent, DeviceStatus } from "../../../src/outputs/sink.js";
import { captureLogger } from "../../fakes/capture-logger.js";
import { daemonWorld } from "../world.js";
import { sleep, waitFor, watch, type Watcher } from "./watcher.js";

const world = daemonWorld("earwitness-mqtt");

/** The copy of mqtt-packet that mqtt.js writes with (resolved from mqtt, as mqtt resolves it). */
function mqttPacketOfMqtt(): { writeToStream: { cacheNumbers: boolean } } {
  const require = createRequire(import.meta.url);
  return createRequire(require.resolve("mqtt"))("mqtt-packet") as { writeToStream: { cacheNumbers: boolean } };
}

interface Harness {
  sink: MqttSink;
  options: MqttOptions;
  clients: MqttClient[];
  root: string;
  log: ReturnType<typeof captureLogger>;
}

async function makeSink(overrides: Partial<MqttOptions> = {}, stateDir?: string): Promise<Harness> {
  const dir = stateDir ?? (await world.tempDir("earwitness-mqtt"));
  const deviceId = overrides.deviceId ?? `dev-${randomUUID().slice(0, 8)}`;
  const options: MqttOptions = {
    url: world.broker.url,
    clientId: `earwitness-${deviceId}-${randomUUID().slice(0, 4)}`,
    topicRoot: `earwitness/${deviceId}`,
    deviceId,
    discovery: { enabled: true, prefix: "homeassistant" },
    telemetry: { enabled: true },
    model: { name: "ser-small", version: "1.2.0", sha256: "ab".repeat(32) },
    stateDir: dir,
    outbox: { maxEvents: 100, maxBytes: 1_000_000 },
    keepaliveS: 5,
    softwareVersion: "0.1.0-test",
    connectWaitMs: 5_000,
    stopTimeoutMs: 2_000,
    reconnectPeriodMs: 200,
    connectTimeoutMs: 2_000,
    ...overrides,
  };
  const clients: MqttClient[] = [];
  const log = captureLogger();
  const sink = new MqttSink(options, {
    clock: systemClock,
    log: log.log,
    connect: (url, o) => {
      const c = connect(url, o);
      clients.push(c);
      return c;
    },
  });
  world.defer(() => sink.stop());
  return { sink, options, clients, root: `earwitness/${deviceId}`, log };
}

async function watcher(filters: string[], options?: { clientId?: string; clean?: boolean }): Promise<Watcher> {
  const w = await watch(world.broker.url, filters, options);
  world.defer(() => w.close());
  return w;
}

function alertEvent(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    phase: "start",
    alertId: randomUUID(),
    startedAtMs: Date.UTC(2025, 5, 1, 2, 3, 4, 500),
    peak: 0.91,
    mean: 0.8,
    emotion: "fear",
    probs: { fear: 0.8, angry: 0.1, neutral: 0.1 },
    dbfs: -21,
    test: false,
    thresholds: { enter: 0.7, exit: 0.4 },
    ...overrides,
  };
}

/** Every entity's config (danger, alert, emotion, mute, …): 15 with telemetry on. */
const DISCOVERY_COUNT = 15;

const STATUS: DeviceStatus = {
  state: "IDLE",
  danger: 0.05,
  emotion: null,
  dangerEmotion: null,
  sinceMs: Date.UTC(2025, 5, 1),
  armed: true,
  mutedUntilMs: null,
  muteMinutes: 0,
  problems: [],
  problemMessages: {},
  acknowledged: false,
};

/**
 * A TCP proxy in front of the real broker that can drop the broker's PUBACKs (MQTT packet type 4)
 * while forwarding everything else: a broker that accepts publishes and never acknowledges them.
 */
async function pubackDroppingProxy(brokerUrl: string): Promise<{ url: string; dropPuback: boolean; connections: number; close(): Promise<void> }> {
  const target = new URL(brokerUrl);
  const sockets = new Set<Socket>();
  const state = { url: "", dropPuback: false, connections: 0, close: async () => undefined as void };
  const server = createServer((client) => {
    state.connections++;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let buf = Buffer.alloc(0);
    upstream.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length < 2) return;
        let len = 0;
        let mult = 1;
        let i = 1;
        for (; i < 5 && i < buf.length; i++) {
          len += (buf[i]! & 0x7f) * mult;
          mult *= 128;
          if ((buf[i]! & 0x80) === 0) break;
        }
        if (i >= buf.length) return;
        const total = i + 1 + len;
        if (buf.length < total) return;
        const packet = buf.subarray(0, total);
        buf = buf.subarray(total);
        if (!(state.dropPuback && packet[0]! >> 4 === 4)) client.write(packet);
      }
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const sock of sockets) sock.destroy();
      server.close(() => resolve());
    });
  return state;
}

describe(`MqttSink against a real broker`, () => {
  it("publishes retained availability and state, and the will says offline when the socket dies", async () => {
    const h = await makeSink();
    await h.sink.start();
    expect(h.sink.connected).toBe(true);
    await h.sink.status(STATUS);
    const w = await watcher([`${h.root}/availability`, `${h.root}/state`]);

    const online = await waitFor(() => w.on(`${h.root}/availability`)[0], "retained availability");
    expect(online).toEqual({ topic: `${h.root}/availability`, text: "online", retain: true });
    const state = await waitFor(() => w.on(`${h.root}/state`)[0], "retained state");
    expect(state.retain).toBe(true);
    expect(JSON.parse(state.text)).toMatchObject({ schema: 1, state: "IDLE", armed: true, alerting: false, problems: [] });

    // Kill the TCP connection without DISCONNECT, as a crash or a pulled cable would.
    h.clients[0]?.stream.destroy();
    await waitFor(() => w.on(`${h.root}/availability`).some((s) => s.text === "offline"), "last will 'offline'");
    // mqtt.js reconnects by itself and says online again.
    await waitFor(() => w.on(`${h.root}/availability`).at(-1)?.text === "online", "online again after reconnect");
    await waitFor(() => h.sink.connected, "sink reconnected");
  });

  it("delivers an alert exactly once with its payload, and empties the outbox", async () => {
    const h = await makeSink();
    await h.sink.start();
    const w = await watcher([`${h.root}/alert`]);
    const event = alertEvent();
    await h.sink.alert(event);
    const [msg] = await waitFor(() => w.on(`${h.root}/alert`).length > 0 && w.on(`${h.root}/alert`), "the alert");
    await waitFor(() => h.sink.pendingAlerts === 0, "outbox emptied after PUBACK");
    await sleep(500); // a duplicate, if any, would arrive now
    expect(w.on(`${h.root}/alert`)).toHaveLength(1);
    expect(msg?.retain).toBe(false);
    expect(JSON.parse(msg?.text ?? "")).toEqual({
      schema: 1,
      event: "start",
      event_type: "alert_start",
      alert_id: event.alertId,
      device_id: h.options.deviceId,
      started_at: "2025-06-01T02:03:04.500Z",
      peak: 0.91,
      mean: 0.8,
      emotion: "fear",
      probs: { fear: 0.8, angry: 0.1, neutral: 0.1 },
      dbfs: -21,
      model: h.options.model,
      thresholds: { enter: 0.7, exit: 0.4 },
      test: false,
    });
  });

  it("publishes without mqtt-packet's number cache (~6.6 MB the daemon would keep for nothing)", async () => {
    const { writeToStream } = mqttPacketOfMqtt();
    writeToStream.cacheNumbers = true; // mqtt-packet's default, whatever earlier tests in this process set
    const h = await makeSink();
    await h.sink.start();
    const w = await watcher([`${h.root}/alert`]);
    await h.sink.alert(alertEvent());
    await waitFor(() => w.on(`${h.root}/alert`).length > 0, "the alert");
    expect(writeToStream.cacheNumbers).toBe(false);
  });

  it("keeps an alert raised while the broker is down and delivers it once, with its original id, after", async () => {
    // The sink reconnects only when told to, so the watcher is surely listening again by then:
    // no race, whatever the load of the machine.
    const h = await makeSink({ reconnectPeriodMs: 600_000 });
    await h.sink.start();
    const sent: string[] = [];
    h.clients[0]?.on("packetsend", (p) => {
      if (p.cmd === "publish" && p.topic === `${h.root}/alert`) sent.push(String(p.payload));
    });
    const w = await watcher([`${h.root}/alert`, `${h.root}/probe`]);

    await world.broker.pause();
    try {
      await waitFor(() => !h.sink.connected, "the sink to notice the broker is gone");
      const event = alertEvent();
      await h.sink.alert(event); // resolves once on disk, without a broker
      expect(h.sink.pendingAlerts).toBe(1);
      await world.broker.resume();

      // The watcher is back and subscribed once its own probe comes round.
      await waitFor(() => w.client.connected, "the watcher to reconnect");
      await waitFor(() => {
        if (w.on(`${h.root}/probe`).length > 0) return true;
        w.client.publish(`${h.root}/probe`, "ping", { qos: 0 });
        return false;
      }, "the watcher's subscription after the restart");
      expect(w.on(`${h.root}/alert`)).toHaveLength(0);

      h.clients[0]?.reconnect();
      const msgs = await waitFor(() => w.on(`${h.root}/alert`).length > 0 && w.on(`${h.root}/alert`), "the alert after the outage");
      await waitFor(() => h.sink.pendingAlerts === 0, "outbox emptied");
      await sleep(500); // a duplicate, if any, would arrive now
      expect(w.on(`${h.root}/alert`)).toHaveLength(1);
      expect(sent).toHaveLength(1);
      expect(JSON.parse(msgs[0]?.text ?? "")).toMatchObject({ alert_id: event.alertId, started_at: "2025-06-01T02:03:04.500Z" });
    } finally {
      await world.broker.resume().catch(() => undefined);
    }
  });

  it("survives the connection dropping while an alert is in flight, then keeps delivering", async () => {
    const h = await makeSink();
    await h.sink.start();
    const w = await watcher([`${h.root}/alert`]);
    const first = alertEvent();
    await h.sink.alert(first); // its PUBLISH is already on its way
    h.clients[0]?.stream.destroy();
    await waitFor(() => h.sink.pendingAlerts === 0, "the in-flight alert acknowledged after reconnect");
    const second = alertEvent();
    await h.sink.alert(second);
    await waitFor(() => h.sink.pendingAlerts === 0, "the next alert acknowledged");
    const ids = await waitFor(() => {
      const seen = w.on(`${h.root}/alert`).map((m) => (JSON.parse(m.text) as { alert_id: string }).alert_id);
      return seen.includes(second.alertId) && seen;
    }, "both alerts");
    // QoS 1 is at least once: the first may legitimately arrive twice, but never after the second.
    expect(ids).toContain(first.alertId);
    expect(ids.at(-1)).toBe(second.alertId);
    expect(ids.filter((id) => id === second.alertId)).toHaveLength(1);
  });

  it("after a process restart, sends what was pending in order with original ids and times", async () => {
    const dir = await world.tempDir("earwitness-mqtt-restart");
    const deviceId = `dev-${randomUUID().slice(0, 8)}`;
    const root = `earwitness/${deviceId}`;
    const start = alertEvent();
    const end = alertEvent({ phase: "end", alertId: start.alertId, endedAtMs: start.startedAtMs + 9_000 });

    await world.broker.pause();
    let first: Harness;
    try {
      first = await makeSink({ deviceId, connectWaitMs: 300, stopTimeoutMs: 200 }, dir);
      const began = Date.now();
      await first.sink.start(); // must not wait for a broker that is down
      expect(Date.now() - began).toBeLessThan(10_000);
      expect(first.sink.connected).toBe(false);
      expect(first.log.warnings(/not reachable yet/)).toHaveLength(1);
      await first.sink.alert(start);
      await first.sink.alert(end);
      await first.sink.stop();
    } finally {
      await world.broker.resume();
    }

    const w = await watcher([`${root}/alert`]);
    const second = await makeSink({ deviceId }, dir);
    await second.sink.start();
    const msgs = await waitFor(() => w.on(`${root}/alert`).length >= 2 && w.on(`${root}/alert`), "both pending events");
    const payloads = msgs.map((m) => JSON.parse(m.text) as Record<string, unknown>);
    expect(payloads.map((p) => p.event)).toEqual(["start", "end"]);
    expect(payloads.map((p) => p.alert_id)).toEqual([start.alertId, start.alertId]);
    expect(payloads[1]).toMatchObject({ started_at: "2025-06-01T02:03:04.500Z", ended_at: "2025-06-01T02:03:13.500Z", duration_s: 9 });
    await waitFor(() => second.sink.pendingAlerts === 0, "outbox emptied");
  });

  it("publishes discovery retained and republishes it when Home Assistant comes online", async () => {
    const h = await makeSink();
    await h.sink.start();
    const filter = `homeassistant/+/${h.options.deviceId}/+/config`;
    const w = await watcher([filter]);
    const first = await waitFor(() => w.seen.length >= DISCOVERY_COUNT && [...w.seen], "every retained discovery config");
    expect(first.every((s) => s.retain)).toBe(true);
    const topics = first.map((s) => s.topic);
    expect(topics).toContain(`homeassistant/binary_sensor/${h.options.deviceId}/danger/config`);
    expect(topics).toContain(`homeassistant/event/${h.options.deviceId}/alert/config`);
    expect(topics).toContain(`homeassistant/switch/${h.options.deviceId}/armed/config`);
    expect(topics).toContain(`homeassistant/button/${h.options.deviceId}/test/config`);
    expect(topics).toContain(`homeassistant/button/${h.options.deviceId}/reset_adaptation/config`);
    const danger = JSON.parse(first.find((s) => s.topic.includes("/danger/"))?.text ?? "{}") as Record<string, unknown>;
    expect(danger).toMatchObject({ device_class: "safety", state_topic: `${h.root}/state` });

    const ha = await watcher([]);
    await ha.client.publishAsync("homeassistant/status", "offline", { qos: 1 });
    await sleep(300);
    expect(w.seen).toHaveLength(DISCOVERY_COUNT); // offline changes nothing
    await ha.client.publishAsync("homeassistant/status", "online", { qos: 1 });
    await waitFor(() => w.seen.length >= 2 * DISCOVERY_COUNT, "discovery republished");
    expect(new Set(w.seen.slice(DISCOVERY_COUNT).map((s) => s.topic))).toEqual(new Set(topics));
  });

  it("answers every command on set/result: malformed ones with the reason, good ones after the handler", async () => {
    const h = await makeSink();
    await h.sink.start();
    const received: Command[] = [];
    h.sink.onCommand((c) => {
      if (c.command === "disarm") throw new Error("disarming is locked by the installer");
      received.push(c);
    });
    const w = await watcher([`${h.root}/set/result`]);
    const results = (): Array<Record<string, unknown>> => w.on(`${h.root}/set/result`).map((s) => JSON.parse(s.text) as Record<string, unknown>);
    const send = async (suffix: string, payload: string, retain = false): Promise<Record<string, unknown>> => {
      const before = results().length;
      await w.client.publishAsync(`${h.root}/${suffix}`, payload, { qos: 1, retain });
      return waitFor(() => results().length > before && results()[before], `an answer to ${payload}`);
    };

    expect(await send("set", "{nope")).toMatchObject({ schema: 1, ok: false, topic: "set", command: null, error: expect.stringMatching(/^not JSON/) });
    expect(await send("set", '{"command":"dance","id":"r1"}')).toMatchObject({
      ok: false,
      id: "r1",
      error: 'unknown command "dance"; known: arm, disarm, mute, unmute, test, ack, reset_adaptation',
    });
    expect(await send("set", '{"command":"mute","minutes":0}')).toMatchObject({ ok: false, error: "minutes must be 1..1440 (got 0)" });
    expect(await send("set/armed", "MAYBE")).toMatchObject({ ok: false, topic: "set/armed", error: 'expected ON or OFF (got "MAYBE")' });
    expect(await send("set", '{"command":"mute","minutes":30,"id":7}')).toMatchObject({ ok: true, command: "mute", id: "7", error: null });
    expect(await send("set/armed", "ON")).toMatchObject({ ok: true, command: "arm" });
    expect(await send("set/test", "PRESS")).toMatchObject({ ok: true, command: "test" });
    expect(await send("set", '{"command":"disarm"}')).toMatchObject({
      ok: false,
      command: "disarm",
      error: "disarming is locked by the installer",
    });
    expect(received).toEqual([{ command: "mute", minutes: 30 }, { command: "arm" }, { command: "test" }]);

    // A retained command would replay at every reconnect (a "test" buzzing at 3 am). Live, it
    // arrives unretained and is applied; replayed after a reconnect, it is refused.
    expect(await send("set/test", "PRESS", true)).toMatchObject({ ok: true, command: "test" });
    const before = results().length;
    h.clients[0]?.stream.destroy();
    const replayed = await waitFor(() => results().length > before && results()[before], "the answer to the replayed command");
    expect(replayed).toMatchObject({ ok: false, topic: "set/test", error: expect.stringMatching(/^retained commands are ignored/) });
    expect(received.filter((c) => c.command === "test")).toHaveLength(2);
    await w.client.publishAsync(`${h.root}/set/test`, "", { qos: 1, retain: true });
    await waitFor(() => h.sink.connected, "reconnected");
    // The sink is still alive and well after all that.
    expect(h.sink.connected).toBe(true);
    await h.sink.alert(alertEvent({ test: true }));
    await waitFor(() => h.sink.pendingAlerts === 0, "a test alert delivered after the bad commands");
  });

  it("publishes telemetry and problems only as configured", async () => {
    const h = await makeSink();
    await h.sink.start();
    const w = await watcher([`${h.root}/telemetry`, `${h.root}/problem`]);
    const sample = { atMs: Date.UTC(2025, 0, 1), probs: { fear: 0.2 }, dbfs: -33.3, rtf: 0.2, droppedWindows: 0, queueDepth: 2 };
    await h.sink.publishTelemetry(sample);
    await h.sink.publishProblem({ atMs: Date.UTC(2025, 0, 1), code: "MIC_SILENT", message: "no audio for 10 s", active: true });
    const tele = await waitFor(() => w.on(`${h.root}/telemetry`)[0], "telemetry");
    expect(JSON.parse(tele.text)).toMatchObject({ schema: 1, dbfs: -33.3, rtf: 0.2, dropped_windows: 0, queue_depth: 2 });
    const problem = await waitFor(() => w.on(`${h.root}/problem`)[0], "problem");
    expect(JSON.parse(problem.text)).toMatchObject({ code: "MIC_SILENT", active: true });

    const quiet = await makeSink({ telemetry: { enabled: false } });
    // Subscribed first: an empty retained config clears the retained one, so only a live
    // subscriber sees it (as Home Assistant, which is always subscribed, does).
    const wq = await watcher([`${quiet.root}/telemetry`, `homeassistant/sensor/${quiet.options.deviceId}/dbfs/config`]);
    await quiet.sink.start();
    await quiet.sink.publishTelemetry(sample);
    const removal = await waitFor(() => wq.seen.find((x) => x.topic.endsWith("/dbfs/config")), "dBFS entity removal");
    expect(removal.text).toBe("");
    await sleep(300);
    expect(wq.on(`${quiet.root}/telemetry`)).toHaveLength(0);
  });

  it("a broker that takes alerts but never acknowledges: PUBACK timeout, reconnect, mqtt_stalled, and delivery once it acknowledges", async () => {
    const proxy = await pubackDroppingProxy(world.broker.url);
    world.defer(() => proxy.close());
    // Takeover detection as touchy as it gets (one short session would do): the connection the
    // sink drops itself for the stall must not count as the broker taking it away.
    const h = await makeSink({ url: proxy.url, pubackTimeoutMs: 1_000, reconnectPeriodMs: 200, takeover: { count: 1 } });
    await h.sink.start();
    expect(h.sink.connected).toBe(true);
    const w = await watcher([`${h.root}/alert`]);
    proxy.dropPuback = true;
    const first = alertEvent();
    const second = alertEvent({ emotion: "angry" });
    await h.sink.alert(first);
    await h.sink.alert(second);
    const stalled = await waitFor(() => h.sink.deliveryProblems().find((p) => p.code === "mqtt_stalled"), "mqtt_stalled", 5_000);
    expect(stalled.message).toMatch(/PUBACK/);
    // The broker has the first alert (more than once, maybe); it is still pending here.
    await waitFor(() => w.on(`${h.root}/alert`).length > 0, "the broker to have the first alert");
    expect(h.sink.pendingAlerts).toBe(2);
    // It dropped the stalled connection and made a new one.
    await waitFor(() => proxy.connections > 1, "a new connection after the PUBACK timeout", 5_000);
    proxy.dropPuback = false;
    await waitFor(() => h.sink.pendingAlerts === 0, "both alerts acknowledged once the broker acknowledges", 10_000);
    const ids = w.on(`${h.root}/alert`).map((m) => (JSON.parse(m.text) as { alert_id: string }).alert_id);
    expect([...new Set(ids)]).toEqual([first.alertId, second.alertId]);
    expect(h.sink.deliveryProblems()).toEqual([]);
    expect(h.sink.clientIdConflict).toBeNull();
  });

  it("fails start() with a coded error for an unreadable TLS file or a bad device id", async () => {
    const tls = await makeSink({ url: "mqtts://127.0.0.1:1", tls: { caPath: "/nonexistent/ca.pem" } });
    await expect(tls.sink.start()).rejects.toMatchObject({ code: "MQTT_TLS_FILE", message: expect.stringContaining("/nonexistent/ca.pem") });
    await expect(tls.sink.start()).rejects.toMatchObject({ code: "MQTT_TLS_FILE" }); // retried, not cached
    const bad = await makeSink({ deviceId: "living room" });
    await expect(bad.sink.start()).rejects.toMatchObject({ code: "BAD_DEVICE_ID" });
  });

  it("stop() flushes, publishes offline retained, and is idempotent", async () => {
    const h = await makeSink();
    await h.sink.start();
    await h.sink.start(); // idempotent
    const w = await watcher([`${h.root}/availability`, `${h.root}/alert`]);
    await waitFor(() => w.on(`${h.root}/availability`)[0], "online");
    await h.sink.alert(alertEvent());
    await Promise.all([h.sink.stop(), h.sink.stop()]);
    await h.sink.stop();
    expect(h.sink.pendingAlerts).toBe(0);
    await waitFor(() => w.on(`${h.root}/alert`).length === 1, "the alert flushed before stopping");
    await waitFor(() => w.on(`${h.root}/availability`).at(-1)?.text === "offline", "offline on stop");
    await expect(h.sink.alert(alertEvent())).rejects.toMatchObject({ code: "MQTT_NOT_STARTED" });
    // A late subscriber sees the retained offline.
    const late = await watcher([`${h.root}/availability`]);
    const seen = await waitFor(() => late.on(`${h.root}/availability`)[0], "retained offline");
    expect(seen).toMatchObject({ text: "offline", retain: true });
  });
});
