/**
 * How long from the detector entering ALERT to a subscriber holding the alert message: the
 * daemon's own MQTT sink (payload, outbox append + fsync in a state directory, publish at QoS 1,
 * PUBACK) and a broker, measured by a second client subscribed to the alert topic, as a home hub
 * would be. Target (issue 3): within 300 ms.
 *
 * The broker is the one at `brokerUrl`, or an in-process aedes on loopback when none is given
 * (which measures the daemon's part and the loopback hop, not a home network). The state
 * directory is where the outbox's fsync happens: put it on the device's real storage (an SD card
 * fsyncs far slower than a VM's disk) with `--state-dir`.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { systemClock } from "../clock.js";
import { OutputError } from "../errors.js";
import type { Logger } from "../log.js";
import { topicFor } from "../outputs/mqtt/contract.js";
import { startLocalBroker } from "../outputs/mqtt/local-broker.js";
import { MqttSink } from "../outputs/mqtt/mqtt-sink.js";
import { nowMs, summarise, type Summary } from "./stats.js";

export interface PublishLatencyOptions {
  /** null: an in-process aedes broker on loopback. */
  brokerUrl: string | null;
  alerts: number;
  /** Where the outbox is fsync'ed; default a fresh temp dir (removed afterwards). */
  stateDir: string | null;
  log: Logger;
}

export interface PublishLatencyResults {
  broker: string;
  state_dir: string;
  alerts: number;
  /** ALERT → the event is fsync'ed in the outbox (what `alert()` waits for). */
  outbox_ms: Summary;
  /** ALERT → a subscriber has the message. */
  delivered_ms: Summary;
  target_ms: 300;
}

const DEVICE_ID = "bench";
/** Apart from any unit's topics (`earwitness/<device_id>`) on a shared broker. */
const TOPIC_ROOT = `earwitness-bench/${DEVICE_ID}`;
const DELIVERY_TIMEOUT_MS = 10_000;

export async function measurePublishLatency(o: PublishLatencyOptions): Promise<PublishLatencyResults> {
  const local = o.brokerUrl ? null : await startLocalBroker();
  const url = o.brokerUrl ?? local!.url;
  const scratch = o.stateDir ? null : await mkdtemp(path.join(tmpdir(), "earwitness-publish-"));
  const stateDir = o.stateDir ? path.join(o.stateDir, `earwitness-bench-${process.pid}`) : scratch!;
  await mkdir(stateDir, { recursive: true });
  const sink = new MqttSink(
    {
      url,
      clientId: `earwitness-bench-${process.pid}`,
      topicRoot: TOPIC_ROOT,
      deviceId: DEVICE_ID,
      discovery: { enabled: false, prefix: "homeassistant" },
      telemetry: { enabled: false },
      model: { name: "bench", version: "0", sha256: "0".repeat(64) },
      stateDir,
      outbox: { maxEvents: 1000, maxBytes: 10_000_000 },
      keepaliveS: 30,
      softwareVersion: "bench",
    },
    { clock: systemClock, log: o.log },
  );
  const outboxMs: number[] = [];
  const deliveredMs: number[] = [];
  const waiting = new Map<string, (tMs: number) => void>();
  let subscriber: MqttClient | null = null;
  try {
    await sink.start();
    if (!sink.connected) throw new OutputError("MQTT_CONNECT", `cannot reach the MQTT broker at ${url}; check that it runs and that the URL is right`);
    subscriber = await connectAsync(url, { clientId: `earwitness-bench-sub-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0 });
    subscriber.on("message", (_topic, payload) => {
      const t = nowMs();
      try {
        const id = (JSON.parse(payload.toString()) as { alert_id?: string }).alert_id;
        if (id) waiting.get(id)?.(t);
      } catch {
        // not ours
      }
    });
    await subscriber.subscribeAsync(topicFor(TOPIC_ROOT, "alert"), { qos: 1 });
    for (let i = 0; i < o.alerts; i++) {
      const alertId = randomUUID();
      const delivered = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`alert ${i + 1} not delivered within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
        waiting.set(alertId, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
      const t0 = nowMs();
      await sink.alert({ phase: "start", alertId, startedAtMs: Date.now(), peak: 0.9, mean: 0.8, emotion: "angry", probs: { angry: 0.8 }, dbfs: -20, test: true, thresholds: {} });
      outboxMs.push(nowMs() - t0);
      deliveredMs.push((await delivered) - t0);
      waiting.delete(alertId);
      // Alerts are seconds apart in life; let the PUBACK land so each one starts from rest.
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await sink.stop().catch(() => undefined);
    await subscriber?.endAsync(true).catch(() => undefined);
    await local?.close();
    await rm(scratch ?? stateDir, { recursive: true, force: true });
  }
  return {
    broker: o.brokerUrl ?? "aedes in-process on loopback",
    state_dir: o.stateDir ?? "a temp dir",
    alerts: o.alerts,
    outbox_ms: summarise(outboxMs),
    delivered_ms: summarise(deliveredMs),
    target_ms: 300,
  };
}
