import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { mqttJsonSchemas, schemaFileText } from "../../../../src/outputs/mqtt/json-schema.js";
import {
  buildAlertPayload,
  buildCommandResultPayload,
  buildProblemPayload,
  buildStatePayload,
  buildTelemetryPayload,
  OUTGOING_SCHEMAS,
  SetCommandSchema,
  type AlertEndPayload,
} from "../../../../src/outputs/mqtt/contract.js";
import { parseCommand } from "../../../../src/outputs/mqtt/commands.js";
import { validateJsonSchema } from "../../../fixtures/json-schema-check.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const docs = path.join(repo, "docs/mqtt");

async function committed(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(docs, file), "utf8")) as Record<string, unknown>;
}

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 600);
const ctx = { deviceId: "kitchen", model: { name: "m", version: "1", sha256: "ab".repeat(32) } };
const event = {
  phase: "start" as const,
  alertId: "5b0c8a52-8d2f-4f5e-9d1e-0a6f2d7e9c11",
  startedAtMs: T0,
  peak: 0.75123,
  mean: 0.61,
  emotion: "angry",
  probs: { angry: 0.6, fear: 0.1, sad: 0.3 },
  dbfs: -17.505454480322825,
  test: false,
  thresholds: { enter_threshold: 0.55 },
};
const status = {
  state: "IDLE" as const,
  danger: 0.15,
  emotion: "sad",
  dangerEmotion: "angry",
  sinceMs: T0,
  armed: true,
  mutedUntilMs: T0 + 60_000,
  muteMinutes: 1,
  problems: ["mic_silent"],
  problemMessages: { mic_silent: "silent" },
  acknowledged: false,
};

describe("docs/mqtt/*.schema.json", () => {
  it("are exactly what the zod contract generates (run `npm run mqtt-schemas` after changing contract.ts)", async () => {
    const generated = mqttJsonSchemas();
    const files = (await readdir(docs)).filter((f) => f.endsWith(".schema.json")).sort();
    expect(files).toEqual([...generated.keys()].sort());
    for (const [file, schema] of generated) {
      expect(await readFile(path.join(docs, file), "utf8"), file).toBe(schemaFileText(schema));
    }
  });

  it("accept what the builders produce, as the zod schemas do", async () => {
    const samples: [string, unknown][] = [
      ["state.schema.json", buildStatePayload(status, ctx.model, { host: "pi", machine: "abc123" })],
      ["state.schema.json", buildStatePayload({ ...status, emotion: null, dangerEmotion: null, mutedUntilMs: null }, ctx.model)],
      ["alert.schema.json", buildAlertPayload(event, ctx)],
      ["alert.schema.json", buildAlertPayload({ ...event, phase: "end", endedAtMs: T0 + 5000, endReason: "score_dropped" }, ctx)],
      ["telemetry.schema.json", buildTelemetryPayload({ atMs: T0, probs: { sad: 0.5 }, dbfs: -40.123, rtf: 0.2, droppedWindows: 0, queueDepth: 1 })],
      ["problem.schema.json", buildProblemPayload({ atMs: T0, code: "mic_silent", message: "m", active: true })],
      ["set-result.schema.json", buildCommandResultPayload({ atMs: T0, topic: "set/mute", command: "mute", id: null, error: null })],
      ["availability.schema.json", "online"],
      ["set.schema.json", { command: "mute", minutes: 30, id: "a1" }],
    ];
    for (const [file, payload] of samples) {
      expect(validateJsonSchema(await committed(file), payload), `${file}: ${JSON.stringify(payload)}`).toEqual([]);
    }
    expect(OUTGOING_SCHEMAS.state.safeParse(samples[0]![1]).success).toBe(true);
    expect(OUTGOING_SCHEMAS.alert.safeParse(samples[3]![1]).success).toBe(true);
  });

  it("reject payloads that break the contract (the check can fail)", async () => {
    const state = await committed("state.schema.json");
    const good = buildStatePayload(status, ctx.model);
    expect(validateJsonSchema(state, { ...good, state: "PANIC" })).not.toEqual([]);
    expect(validateJsonSchema(state, { ...good, surprise: 1 })).not.toEqual([]);
    const { armed: _armed, ...missing } = good;
    expect(validateJsonSchema(state, missing)).not.toEqual([]);
    expect(validateJsonSchema(state, { ...good, since: "yesterday" })).not.toEqual([]);
    const alert = await committed("alert.schema.json");
    const end = buildAlertPayload({ ...event, phase: "end", endedAtMs: T0 + 5000, endReason: "max_duration" }, ctx) as AlertEndPayload;
    expect(validateJsonSchema(alert, { ...end, end_reason: "bored" })).not.toEqual([]);
    expect(validateJsonSchema(alert, { ...end, peak: 1.5 })).not.toEqual([]);
    const { end_reason: _r, ...noReason } = end;
    expect(validateJsonSchema(alert, noReason)).not.toEqual([]);
    expect(validateJsonSchema(await committed("availability.schema.json"), "maybe")).not.toEqual([]);
  });

  it("describe the set command exactly as the parser reads it", async () => {
    const set = await committed("set.schema.json");
    const samples: unknown[] = [
      { command: "arm" },
      { command: "mute", minutes: 30 },
      { command: "mute", minutes: 0 },
      { command: "mute" },
      { command: "reset_adaptation", id: 7 },
      { command: "explode" },
      { command: "unmute", id: "x".repeat(65) },
    ];
    for (const s of samples) {
      const parsed = parseCommand("set", JSON.stringify(s));
      expect(validateJsonSchema(set, s).length === 0, JSON.stringify(s)).toBe(parsed.ok);
      expect(SetCommandSchema.safeParse(s).success, JSON.stringify(s)).toBe(parsed.ok);
    }
  });
});
