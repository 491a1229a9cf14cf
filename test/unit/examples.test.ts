/**
 * The examples integrators copy (examples/node-red, examples/home-assistant) use only topics,
 * fields and event types the contract has, and their logic (de-duplication on alert_id) works
 * on real payloads built by the contract's own builders.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  ALERT_EVENT_TYPES,
  AlertEndPayloadSchema,
  buildAlertPayload,
  buildStatePayload,
  COMMAND_TOPICS,
  OUTGOING_SCHEMAS,
  SetCommandSchema,
  StatePayloadSchema,
} from "../../src/outputs/mqtt/contract.js";
import { parseCommand } from "../../src/outputs/mqtt/commands.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface NodeRedNode {
  id: string;
  type: string;
  name?: string;
  topic?: string;
  broker?: string;
  wires?: string[][];
  func?: string;
  property?: string;
  rules?: { t: string; v: string }[];
  payload?: string;
  datatype?: string;
}

const OUTGOING = Object.keys(OUTGOING_SCHEMAS);
const ALERT_FIELDS = Object.keys(AlertEndPayloadSchema.shape);

function suffixOf(topic: string, wildcardDevice: boolean): string {
  const m = /^earwitness\/([^/]+)\/(.+)$/.exec(topic);
  if (!m) throw new Error(`${topic} is not under earwitness/<device_id>/`);
  if (wildcardDevice) expect(m[1]).toBe("+");
  return m[2]!;
}

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);
const ctx = { deviceId: "kitchen", model: { name: "m", version: "1", sha256: "ab".repeat(32) } };
const start = buildAlertPayload(
  { phase: "start", alertId: "5b0c8a52-8d2f-4f5e-9d1e-0a6f2d7e9c11", startedAtMs: T0, peak: 0.8, mean: 0.7, emotion: "angry", probs: { angry: 0.8 }, dbfs: -20, test: false, thresholds: {} },
  ctx,
);

describe("examples/node-red/earwitness-flow.json", () => {
  async function flow(): Promise<NodeRedNode[]> {
    return JSON.parse(await readFile(path.join(repo, "examples/node-red/earwitness-flow.json"), "utf8")) as NodeRedNode[];
  }

  it("subscribes and publishes only to topics of the contract, through its broker node, wired to nodes that exist", async () => {
    const nodes = await flow();
    const ids = new Set(nodes.map((n) => n.id));
    const brokers = nodes.filter((n) => n.type === "mqtt-broker").map((n) => n.id);
    expect(brokers).toHaveLength(1);
    const ins = nodes.filter((n) => n.type === "mqtt in");
    const outs = nodes.filter((n) => n.type === "mqtt out");
    expect(ins.map((n) => suffixOf(n.topic!, true)).sort()).toEqual(["alert", "availability", "set/result", "state"]);
    for (const n of ins) {
      expect(OUTGOING).toContain(suffixOf(n.topic!, true));
      expect(n.datatype).toBe(suffixOf(n.topic!, true) === "availability" ? "utf8" : "json");
    }
    for (const n of outs) expect(COMMAND_TOPICS).toContain(suffixOf(n.topic!, false));
    for (const n of [...ins, ...outs]) expect(brokers).toContain(n.broker);
    for (const n of nodes) for (const out of n.wires ?? []) for (const target of out) expect(ids.has(target), `${n.id} → ${target}`).toBe(true);
    // The inject sends a command the daemon accepts.
    const inject = nodes.find((n) => n.type === "inject")!;
    expect(SetCommandSchema.safeParse(JSON.parse(inject.payload!)).success).toBe(true);
    expect(parseCommand("set", inject.payload!).ok).toBe(true);
  });

  it("drops a repeated alert (same alert_id and event), lets the end through, and switches on a real event type", async () => {
    const nodes = await flow();
    const dedupe = nodes.find((n) => n.type === "function" && n.name === "drop repeats (alert_id)")!;
    const store = new Map<string, unknown>();
    const flowCtx = { get: (k: string) => store.get(k), set: (k: string, v: unknown) => void store.set(k, v) };
    // Node-RED runs a function node's body with msg, flow and context in scope.
    const run = new Function("msg", "flow", "context", dedupe.func!) as (msg: unknown, flow: unknown, context: unknown) => unknown;
    const end = buildAlertPayload({ phase: "end", alertId: start.alert_id, startedAtMs: T0, endedAtMs: T0 + 5000, peak: 0.8, mean: 0.7, emotion: "angry", probs: {}, dbfs: -20, test: false, thresholds: {}, endReason: "score_dropped" }, ctx);
    expect(run({ payload: start }, flowCtx, flowCtx)).not.toBeNull();
    expect(run({ payload: JSON.parse(JSON.stringify(start)) }, flowCtx, flowCtx)).toBeNull(); // delivered again after an outage
    expect(run({ payload: end }, flowCtx, flowCtx)).not.toBeNull();
    const sw = nodes.find((n) => n.type === "switch" && n.name === "real alert start")!;
    expect(sw.property).toBe("payload.event_type");
    expect(ALERT_FIELDS).toContain("event_type");
    for (const r of sw.rules!) expect(ALERT_EVENT_TYPES).toContain(r.v);
  });

  it("reports problems from the retained state with their messages", async () => {
    const nodes = await flow();
    const fn = nodes.find((n) => n.type === "function" && n.name === "problems changed")!;
    const store = new Map<string, unknown>();
    const c = { get: (k: string) => store.get(k), set: (k: string, v: unknown) => void store.set(k, v) };
    const run = new Function("msg", "flow", "context", fn.func!) as (msg: unknown, flow: unknown, context: unknown) => { payload: string } | null;
    const state = buildStatePayload(
      { state: "IDLE", danger: 0, emotion: null, dangerEmotion: null, sinceMs: T0, armed: true, mutedUntilMs: null, muteMinutes: 0, problems: ["mic_silent"], problemMessages: { mic_silent: "check the microphone" }, acknowledged: false },
      ctx.model,
    );
    expect(StatePayloadSchema.safeParse(state).success).toBe(true);
    expect(run({ payload: state }, c, c)?.payload).toBe("mic_silent: check the microphone");
    expect(run({ payload: state }, c, c)).toBeNull(); // unchanged
  });
});

describe("examples/home-assistant/earwitness-alert-notify.yaml", () => {
  async function blueprint(): Promise<{ doc: Record<string, unknown>; text: string }> {
    const text = await readFile(path.join(repo, "examples/home-assistant/earwitness-alert-notify.yaml"), "utf8");
    const doc = YAML.parse(text, { customTags: [{ tag: "!input", resolve: (name: string) => ({ "!input": name }) }] }) as Record<string, unknown>;
    return { doc, text };
  }

  it("is an automation blueprint whose !input references all exist, triggered by an MQTT event entity", async () => {
    const { doc } = await blueprint();
    const bp = doc.blueprint as { domain: string; input: Record<string, { selector: Record<string, unknown> }> };
    expect(bp.domain).toBe("automation");
    const used = [...JSON.stringify(doc).matchAll(/"!input":"([^"]+)"/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(Object.keys(bp.input)).toContain(name);
    expect(bp.input.alert_event?.selector).toEqual({ entity: { filter: [{ integration: "mqtt", domain: "event" }] } });
    expect(doc.triggers).toEqual([{ trigger: "state", entity_id: { "!input": "alert_event" } }]);
  });

  it("reads only fields the alert payload has, names only real event types, and de-duplicates on alert_id", async () => {
    const { text } = await blueprint();
    const attrs = [...text.matchAll(/attributes\.([a-z_]+)/g)].map((m) => m[1]!);
    expect(attrs).toContain("alert_id");
    for (const a of attrs) expect(ALERT_FIELDS).toContain(a);
    const types = [...text.matchAll(/'((?:alert|test)_(?:start|end))'/g)].map((m) => m[1]!);
    expect(new Set(types)).toEqual(new Set(ALERT_EVENT_TYPES));
    expect(text).toMatch(/from_state\.attributes\.alert_id != alert_id/);
  });
});
