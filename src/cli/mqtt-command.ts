/**
 * `earwitness mqtt …`: what an integrator or installer does with the broker, apart from the daemon.
 *
 * - `schemas --out DIR` writes the JSON Schema of every payload (docs/mqtt/*.schema.json).
 * - `forget [--device-id ID]` clears a device id's retained messages (discovery, state,
 *   availability, last alert) on the configured broker, after a rename or for a removed unit.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { hostname } from "node:os";
import { loadConfig } from "../config/load.js";
import { mqttTopicRoot } from "../config/schema.js";
import { DEFAULT_CONFIG_PATH } from "../constants.js";
import { connectConfigured, endQuietly } from "../doctor/mqtt.js";
import type { Logger } from "../log.js";
import { forgetDevice } from "../outputs/mqtt/forget.js";
import { mqttJsonSchemas, schemaFileText } from "../outputs/mqtt/json-schema.js";
import { parse, UsageError } from "./args.js";

export const MQTT_HELP = `earwitness mqtt <subcommand> — the MQTT side of this unit

  schemas --out DIR   write the JSON Schema of every MQTT payload into DIR (docs/mqtt in the source)
  forget              clear a device id's retained messages on the configured broker, so Home
                      Assistant removes its entities (after renaming a unit, or removing one)
    --config FILE     configuration with the broker (default ${DEFAULT_CONFIG_PATH} if present)
    --device-id ID    the id to forget (default: this unit's; a running daemon republishes its own)
`;

export async function mqttCommand(argv: string[], log: Logger): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    process.stdout.write(MQTT_HELP);
    return sub === undefined ? 64 : 0;
  }
  if (sub === "schemas") return schemasCommand(rest);
  if (sub === "forget") return forgetCommand(rest, log);
  throw new UsageError(`unknown subcommand "mqtt ${sub}"; known: schemas, forget`);
}

async function schemasCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { out: { type: "string" }, help: { type: "boolean", short: "h", default: false } });
  if (v.help) {
    process.stdout.write(MQTT_HELP);
    return 0;
  }
  const out = v.out as string | undefined;
  if (out === undefined) throw new UsageError("--out DIR is required");
  await mkdir(out, { recursive: true });
  for (const [file, schema] of mqttJsonSchemas()) {
    await writeFile(path.join(out, file), schemaFileText(schema));
    process.stdout.write(`wrote ${path.join(out, file)}\n`);
  }
  return 0;
}

async function forgetCommand(argv: string[], log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    config: { type: "string" },
    "device-id": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(MQTT_HELP);
    return 0;
  }
  log.level = "silent";
  const config = await loadConfig({ path: v.config as string | undefined, env: process.env, hostname: hostname() });
  const m = config.mqtt;
  if (!m.enabled || m.url === null) {
    process.stdout.write("MQTT is off in this configuration: nothing to forget\n");
    return 0;
  }
  const deviceId = (v["device-id"] as string | undefined) ?? config.device_id;
  // Another id's topics live under the same base as this unit's.
  const topicRoot = mqttTopicRoot(m.base_topic, config.device_id, deviceId);
  const client = await connectConfigured(config, "forget");
  try {
    const cleared = await forgetDevice(client, { discoveryPrefix: m.discovery.enabled ? m.discovery.prefix : null, topicRoot, deviceId });
    process.stdout.write(
      cleared.length === 0
        ? `nothing retained for device id "${deviceId}" on ${m.url}\n`
        : `cleared ${cleared.length} retained message(s) of device id "${deviceId}" on ${m.url}:\n${cleared.map((t) => `  ${t}\n`).join("")}`,
    );
    if (deviceId === config.device_id) {
      process.stdout.write("note: this is this unit's own id; a running daemon publishes it again (stop it first: sudo systemctl stop earwitness)\n");
    }
    return 0;
  } finally {
    await endQuietly(client);
  }
}
