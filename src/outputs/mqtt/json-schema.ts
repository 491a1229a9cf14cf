/**
 * JSON Schemas of every MQTT payload, generated from the zod schemas of contract.ts with zod's
 * own `z.toJSONSchema`, so the files integrators copy (`docs/mqtt/*.schema.json`) say exactly
 * what the code publishes. `earwitness mqtt schemas --out docs/mqtt` writes them; a test fails
 * when the committed files differ from what this produces.
 */
import * as z from "zod";
import {
  AlertPayloadSchema,
  AvailabilityPayloadSchema,
  CommandResultPayloadSchema,
  MQTT_SCHEMA_VERSION,
  ProblemPayloadSchema,
  SetCommandSchema,
  StatePayloadSchema,
  TelemetryPayloadSchema,
  TOPIC_SPECS,
  type OutgoingTopic,
} from "./contract.js";

interface SchemaFile {
  /** File name under docs/mqtt/. */
  file: string;
  /** Topic suffixes under `<base>/<device_id>/` that carry this payload. */
  topics: readonly string[];
  title: string;
  schema: z.ZodType;
}

const FILES: readonly SchemaFile[] = [
  { file: "availability.schema.json", topics: ["availability"], title: "earwitness availability (plain text)", schema: AvailabilityPayloadSchema },
  { file: "state.schema.json", topics: ["state"], title: "earwitness state", schema: StatePayloadSchema },
  { file: "alert.schema.json", topics: ["alert", "alert/last"], title: "earwitness alert event", schema: AlertPayloadSchema },
  { file: "telemetry.schema.json", topics: ["telemetry"], title: "earwitness telemetry", schema: TelemetryPayloadSchema },
  { file: "problem.schema.json", topics: ["problem"], title: "earwitness problem raised or cleared", schema: ProblemPayloadSchema },
  { file: "set-result.schema.json", topics: ["set/result"], title: "earwitness answer to a command", schema: CommandResultPayloadSchema },
  { file: "set.schema.json", topics: ["set"], title: "earwitness JSON command (incoming)", schema: SetCommandSchema },
];

function delivery(topics: readonly string[]): string {
  return topics
    .map((t) => {
      const spec = TOPIC_SPECS[t as OutgoingTopic] as { qos: number; retain: boolean } | undefined;
      return spec ? `\`<base>/<device_id>/${t}\` (QoS ${spec.qos}, ${spec.retain ? "retained" : "not retained"})` : `\`<base>/<device_id>/${t}\` (published by you)`;
    })
    .join(", ");
}

/** File name → JSON Schema (draft 2020-12), in a stable order. */
export function mqttJsonSchemas(): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const f of FILES) {
    const generated = z.toJSONSchema(f.schema, { target: "draft-2020-12" }) as Record<string, unknown>;
    const { $schema, ...rest } = generated;
    out.set(f.file, {
      $schema,
      title: f.title,
      description: `Payload of ${delivery(f.topics)}. Schema version ${MQTT_SCHEMA_VERSION}. Generated from src/outputs/mqtt/contract.ts; do not edit.`,
      "x-earwitness-topics": [...f.topics],
      ...rest,
    });
  }
  return out;
}

/** The text of one schema file, as committed (2-space JSON and a final newline). */
export function schemaFileText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
