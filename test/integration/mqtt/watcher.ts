/**
 * A plain MQTT client that records what it sees, the way a home-automation system would.
 * Waits are polls with generous bounds: they pass as soon as the condition holds, so a loaded
 * 2-core machine only makes them slower, never flaky.
 */
import { connectAsync, type MqttClient } from "mqtt";

export interface Seen {
  topic: string;
  text: string;
  retain: boolean;
}

export interface Watcher {
  client: MqttClient;
  seen: Seen[];
  on(topic: string): Seen[];
  close(): Promise<void>;
}

export async function watch(
  url: string,
  filters: string[],
  options: { clientId?: string; clean?: boolean } = {},
): Promise<Watcher> {
  const client = await connectAsync(url, {
    clientId: options.clientId ?? `watcher-${Math.random().toString(16).slice(2)}`,
    clean: options.clean ?? true,
    reconnectPeriod: 200,
    protocolVersion: 4,
  });
  client.on("error", () => undefined);
  const seen: Seen[] = [];
  client.on("message", (topic, payload, packet) => seen.push({ topic, text: payload.toString("utf8"), retain: packet.retain }));
  if (filters.length > 0) await client.subscribeAsync(filters, { qos: 1 });
  return {
    client,
    seen,
    on: (topic) => seen.filter((s) => s.topic === topic),
    close: () => client.endAsync(true),
  };
}

export async function waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
