/**
 * `earwitness mqtt …`: what an integrator or installer does with the broker, apart from the daemon.
 *
 * - `schemas --out DIR` writes the JSON Schema of every payload (docs/mqtt/*.schema.json).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log.js";
import { mqttJsonSchemas, schemaFileText } from "../outputs/mqtt/json-schema.js";
import { parse, UsageError } from "./args.js";

export const MQTT_HELP = `earwitness mqtt <subcommand> — the MQTT side of this unit

  schemas --out DIR   write the JSON Schema of every MQTT payload into DIR (docs/mqtt in the source)
`;

export async function mqttCommand(argv: string[], log: Logger): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    process.stdout.write(MQTT_HELP);
    return sub === undefined ? 64 : 0;
  }
  if (sub === "schemas") return schemasCommand(rest);
  void log;
  throw new UsageError(`unknown subcommand "mqtt ${sub}"; known: schemas`);
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
