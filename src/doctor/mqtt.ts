/**
 * A short-lived MQTT client with the unit's configured broker, credentials and TLS, for `doctor`
 * (round trip) and `selftest` (a test alert). Its client id differs from the daemon's, so it never
 * disconnects a running daemon (a broker drops the older of two clients with one id).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import { mqttPassword } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { describeError, OutputError } from "../errors.js";

/** MQTT CONNACK return codes (3.1.1) and what to do about each. */
const REFUSALS: Record<number, string> = {
  1: "the broker does not speak MQTT 3.1.1",
  2: "the broker rejected the client id; change mqtt.client_id",
  3: "the broker is unavailable; check the broker's own logs",
  4: "bad username or password; check mqtt.username and mqtt.password_file (or EARWITNESS_MQTT_PASSWORD)",
  5: "not authorised; give this user access on the broker (its password or ACL file)",
};

/** Why a connection failed, in words that say what to do. */
export function explainMqttError(url: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "number" && REFUSALS[code]) return `broker ${url} refused the connection (${describeError(err)}): ${REFUSALS[code]}`;
  if (code === "ECONNREFUSED") return `nothing listens at ${url}; check mqtt.url and that the broker runs`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `cannot resolve the broker's host in ${url}; check mqtt.url and DNS`;
  if (code === "ETIMEDOUT" || code === "TIMEOUT") return `no answer from ${url}; check the network and firewall`;
  return `cannot connect to ${url}: ${describeError(err)}`;
}

async function tlsOptions(config: Config): Promise<Partial<IClientOptions>> {
  const m = config.mqtt;
  if (!m.url?.startsWith("mqtts:")) return {};
  const out: Partial<IClientOptions> = { rejectUnauthorized: m.tls.reject_unauthorized };
  if (m.tls.ca) out.ca = await readFile(m.tls.ca);
  if (m.tls.cert) out.cert = await readFile(m.tls.cert);
  if (m.tls.key) out.key = await readFile(m.tls.key);
  return out;
}

/**
 * Connects with the configured credentials; rejects with an OutputError (MQTT_CONNECT) whose
 * message carries the broker's reason. `purpose` ends up in the client id ("doctor", "selftest").
 */
export async function connectConfigured(config: Config, purpose: string, timeoutMs = 5_000): Promise<MqttClient> {
  const m = config.mqtt;
  if (m.url === null) throw new OutputError("MQTT_NOT_CONFIGURED", "mqtt.url is not set; set mqtt.enabled: true and mqtt.url");
  const password = await mqttPassword(m);
  const options: IClientOptions = {
    clientId: `${m.client_id}-${purpose}-${randomBytes(3).toString("hex")}`.slice(0, 128),
    ...(m.username ? { username: m.username } : {}),
    ...(password ? { password } : {}),
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    keepalive: 30,
    ...(await tlsOptions(config)),
  };
  try {
    return await connectAsync(m.url, options);
  } catch (err) {
    throw new OutputError("MQTT_CONNECT", explainMqttError(m.url, err), { cause: err });
  }
}

/** Ends a client without waiting long for a broker that went away. */
export async function endQuietly(client: MqttClient): Promise<void> {
  client.on("error", () => undefined);
  await Promise.race([client.endAsync(true).catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
}
