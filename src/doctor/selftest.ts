/**
 * `earwitness selftest`: a test alert through GPIO and MQTT, marked `test: true`, and whether the
 * broker acknowledged it.
 *
 * - A daemon answers on the status socket: it is asked (the `test` command), so the test goes
 *   through exactly the outputs that protect the person. To know the broker got it, we subscribe
 *   to the alert topic with the configured credentials first and wait for the `test_start` event
 *   (the broker forwards a QoS 1 message only once it has accepted, and PUBACKed, it).
 * - No daemon: we drive the configured GPIO ourselves for the test alert's length, and publish a
 *   test alert in the real contract format with QoS 1, reporting the broker's PUBACK.
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { StatusClient } from "../status/client.js";
import { describeError } from "../errors.js";
import type { AlertPayload, ModelInfo } from "../outputs/mqtt/contract.js";
import { buildAlertPayload, encodePayload, topicFor } from "../outputs/mqtt/contract.js";
import type { AlertEvent, AlertSink } from "../outputs/sink.js";
import { connectConfigured, endQuietly } from "./mqtt.js";

export interface SelftestPart {
  name: "gpio" | "mqtt" | "daemon";
  ok: boolean;
  /** null when the part is not configured (neither success nor failure). */
  skipped: boolean;
  detail: string;
}

export interface SelftestDeps {
  clock: Clock;
  /** A connected status socket client, or null when no daemon answers. */
  daemon: StatusClient | null;
  /** The configured GPIO indicator (null when none); only used without a daemon. */
  createIndicator(config: Config): Promise<AlertSink | null>;
  /** Model identity for the alert payload, without loading the network. */
  modelInfo(config: Config): Promise<ModelInfo>;
  thresholds(config: Config): Record<string, number>;
  /** How long the test alert lasts (the daemon's TEST_ALERT_MS). */
  testAlertMs: number;
  /** How long to wait for the daemon's test alert to come back from the broker. */
  waitMs?: number;
  sleep(ms: number): Promise<void>;
}

const gpioConfigured = (c: Config): boolean => c.gpio.driver === "console" || (c.gpio.driver === "onoff" && [c.gpio.led, c.gpio.buzzer].some((l) => l.pin !== null));
const mqttConfigured = (c: Config): boolean => c.mqtt.enabled && c.mqtt.url !== null;

/** `earwitness selftest`: the test alert through the outputs (the daemon's, when one answers), one part per output. */
export async function runOutputsSelftest(config: Config, deps: SelftestDeps): Promise<SelftestPart[]> {
  return deps.daemon ? viaDaemon(config, deps.daemon, deps) : standalone(config, deps);
}

async function viaDaemon(config: Config, daemon: StatusClient, deps: SelftestDeps): Promise<SelftestPart[]> {
  const parts: SelftestPart[] = [];
  let watcher: Awaited<ReturnType<typeof connectConfigured>> | null = null;
  let seen: Promise<AlertPayload | null> = Promise.resolve(null);
  if (mqttConfigured(config)) {
    try {
      watcher = await connectConfigured(config, "selftest");
      const topic = topicFor(config.mqtt.topic_root, "alert");
      await watcher.subscribeAsync(topic, { qos: 1 });
      const w = watcher;
      seen = new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), deps.waitMs ?? 10_000);
        w.on("message", (t, payload) => {
          if (t !== topic) return;
          try {
            const p = JSON.parse(payload.toString()) as AlertPayload;
            if (p.test && p.event_type === "test_start") {
              clearTimeout(timer);
              resolve(p);
            }
          } catch {
            // not ours
          }
        });
      });
    } catch (err) {
      parts.push({ name: "mqtt", ok: false, skipped: false, detail: `cannot watch the broker for the test alert: ${describeError(err)}` });
    }
  }
  try {
    const r = await daemon.command({ command: "test" });
    parts.push({ name: "daemon", ok: r.ok, skipped: false, detail: r.ok ? "the running daemon raised a test alert" : `the daemon refused the test: ${r.error ?? "?"}` });
    if (!r.ok) return parts;
  } catch (err) {
    parts.push({ name: "daemon", ok: false, skipped: false, detail: describeError(err) });
    if (watcher) await endQuietly(watcher);
    return parts;
  }
  parts.push(
    gpioConfigured(config)
      ? { name: "gpio", ok: true, skipped: false, detail: `the daemon drives the LED and buzzer for ${deps.testAlertMs / 1000} s: look and listen` }
      : { name: "gpio", ok: true, skipped: true, detail: "no LED or buzzer configured" },
  );
  if (!mqttConfigured(config)) {
    parts.push({ name: "mqtt", ok: true, skipped: true, detail: "MQTT is off" });
  } else if (watcher) {
    const p = await seen;
    await endQuietly(watcher);
    parts.push(
      p
        ? { name: "mqtt", ok: true, skipped: false, detail: `broker acknowledged the test alert ${p.alert_id} and delivered it on ${topicFor(config.mqtt.topic_root, "alert")}` }
        : { name: "mqtt", ok: false, skipped: false, detail: `the test alert did not reach ${topicFor(config.mqtt.topic_root, "alert")} within ${(deps.waitMs ?? 10_000) / 1000} s: the daemon cannot reach the broker (see earwitness doctor); it stays in the outbox` },
    );
  }
  return parts;
}

async function standalone(config: Config, deps: SelftestDeps): Promise<SelftestPart[]> {
  const id = randomUUID();
  const startedAtMs = deps.clock.nowMs();
  const base = { alertId: id, startedAtMs, peak: 1, mean: 1, emotion: "test", probs: {}, dbfs: -120, test: true, thresholds: deps.thresholds(config) };
  const start: AlertEvent = { phase: "start", ...base };
  const end = (): AlertEvent => ({ phase: "end", ...base, endedAtMs: deps.clock.nowMs() });
  // GPIO and MQTT in parallel and isolated: one failing never hides the other's result.
  const [gpio, mqtt] = await Promise.all([standaloneGpio(config, deps, start, end), standaloneMqtt(config, deps, start, end)]);
  return [{ name: "daemon", ok: true, skipped: true, detail: `no daemon answers on ${config.status_socket}: testing the outputs directly` }, gpio, mqtt];
}

async function standaloneGpio(config: Config, deps: SelftestDeps, start: AlertEvent, end: () => AlertEvent): Promise<SelftestPart> {
  if (!gpioConfigured(config)) return { name: "gpio", ok: true, skipped: true, detail: "no LED or buzzer configured" };
  let indicator: AlertSink | null = null;
  try {
    indicator = await deps.createIndicator(config);
    if (!indicator) return { name: "gpio", ok: true, skipped: true, detail: "no LED or buzzer configured" };
    await indicator.start();
    await indicator.alert(start);
    await deps.sleep(deps.testAlertMs);
    await indicator.alert(end());
    return { name: "gpio", ok: true, skipped: false, detail: `LED and buzzer driven for ${deps.testAlertMs / 1000} s: look and listen` };
  } catch (err) {
    return { name: "gpio", ok: false, skipped: false, detail: describeError(err) };
  } finally {
    await indicator?.stop().catch(() => undefined);
  }
}

async function standaloneMqtt(config: Config, deps: SelftestDeps, start: AlertEvent, end: () => AlertEvent): Promise<SelftestPart> {
  if (!mqttConfigured(config)) return { name: "mqtt", ok: true, skipped: true, detail: "MQTT is off" };
  let client;
  try {
    client = await connectConfigured(config, "selftest");
  } catch (err) {
    return { name: "mqtt", ok: false, skipped: false, detail: describeError(err) };
  }
  const topic = topicFor(config.mqtt.topic_root, "alert");
  try {
    const ctx = { deviceId: config.device_id, model: await deps.modelInfo(config) };
    // QoS 1 as the daemon publishes alerts: publishAsync resolves on the broker's PUBACK.
    await client.publishAsync(topic, encodePayload("alert", buildAlertPayload(start, ctx)), { qos: 1, retain: false });
    await deps.sleep(Math.min(deps.testAlertMs, 1_000));
    await client.publishAsync(topic, encodePayload("alert", buildAlertPayload(end(), ctx)), { qos: 1, retain: false });
    return { name: "mqtt", ok: true, skipped: false, detail: `broker acknowledged (PUBACK) test alert ${start.alertId} on ${topic}` };
  } catch (err) {
    return { name: "mqtt", ok: false, skipped: false, detail: `publishing the test alert on ${topic} failed: ${describeError(err)}` };
  } finally {
    await endQuietly(client);
  }
}

export function formatSelftest(parts: readonly SelftestPart[]): string {
  return parts.map((p) => `${p.name.padEnd(7)} ${(p.skipped ? "skip" : p.ok ? "ok" : "FAILED").padEnd(6)}  ${p.detail}`).join("\n") + "\n";
}

export function selftestExitCode(parts: readonly SelftestPart[]): number {
  return parts.some((p) => !p.ok) ? 1 : 0;
}
