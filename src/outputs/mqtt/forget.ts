/**
 * Removing what a device id left retained on the broker: Home Assistant discovery configs (an
 * empty retained config deletes the entity), the state, availability and last alert. For a unit
 * renamed (its old id lingers as a dead device in Home Assistant for ever otherwise) or removed
 * (`scripts/install.sh --uninstall --purge`).
 *
 * It clears every retained message found under the id's topics, which also catches entities of
 * older versions, and every topic this version would publish, in case the broker is slow to
 * deliver what it keeps.
 */
import type { MqttClient } from "mqtt";
import { checkTopicRoot, topicFor, type OutgoingTopic } from "./contract.js";
import { buildDiscoveryMessages } from "./discovery.js";

export interface ForgetOptions {
  /** Home Assistant discovery prefix, or null when discovery is not used. */
  discoveryPrefix: string | null;
  /** The device's topic root (`earwitness/<deviceId>`: config/schema.ts mqttTopicRoot). */
  topicRoot: string;
  deviceId: string;
  /** How long to collect retained messages after subscribing (default 1500 ms). */
  settleMs?: number;
}

const RETAINED_SUFFIXES: readonly OutgoingTopic[] = ["availability", "state", "alert/last"];

/** Clears the retained messages of `deviceId`; returns the topics cleared, sorted. */
export async function forgetDevice(client: MqttClient, o: ForgetOptions): Promise<string[]> {
  const root = checkTopicRoot(o.topicRoot, o.deviceId);
  const filters = [`${root}/#`];
  if (o.discoveryPrefix !== null) filters.push(`${o.discoveryPrefix}/+/${o.deviceId}/+/config`);
  const found = new Set<string>();
  const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
    if (packet.retain === true && payload.length > 0) found.add(topic);
  };
  client.on("message", onMessage);
  try {
    await client.subscribeAsync(filters, { qos: 1 });
    await new Promise((r) => setTimeout(r, o.settleMs ?? 1_500));
    await client.unsubscribeAsync(filters);
  } finally {
    client.removeListener("message", onMessage);
  }
  const known = RETAINED_SUFFIXES.map((s) => topicFor(root, s));
  if (o.discoveryPrefix !== null) {
    const messages = buildDiscoveryMessages({
      prefix: o.discoveryPrefix,
      root,
      deviceId: o.deviceId,
      deviceName: o.deviceId,
      model: { name: "", version: "", sha256: "" },
      softwareVersion: "",
      telemetryEnabled: true,
    });
    known.push(...messages.map((m) => m.topic));
  }
  // QoS 1: each resolves on the broker's PUBACK, so it is gone when we return.
  for (const topic of new Set([...found, ...known])) await client.publishAsync(topic, "", { qos: 1, retain: true });
  return [...found].sort();
}
