import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measurePublishLatency } from "../../../src/bench/publish-latency.js";
import { silentLogger } from "../../../src/log.js";
import { startBroker, type TestBroker } from "../broker.js";

let broker: TestBroker;
let dir: string;

beforeAll(async () => {
  broker = await startBroker();
  dir = await mkdtemp(path.join(tmpdir(), "ew-publish-"));
});
afterAll(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("measurePublishLatency", () => {
  it("times each alert from the sink to a subscriber of the alert topic, on a real broker", async () => {
    const r = await measurePublishLatency({ brokerUrl: broker.url, alerts: 5, stateDir: dir, log: silentLogger() });
    expect(r.alerts).toBe(5);
    expect(r.delivered_ms.n).toBe(5);
    expect(r.outbox_ms.n).toBe(5);
    // Delivery includes the outbox append: never earlier than it.
    expect(r.delivered_ms.p50).toBeGreaterThanOrEqual(r.outbox_ms.p50);
    expect(Number.isFinite(r.delivered_ms.max)).toBe(true);
    // Its outbox lived in a directory of its own under --state-dir, removed afterwards.
    expect(await readdir(dir)).toEqual([]);
  });

  it("starts its own in-process broker when given none", async () => {
    const r = await measurePublishLatency({ brokerUrl: null, alerts: 2, stateDir: null, log: silentLogger() });
    expect(r.broker).toMatch(/aedes/);
    expect(r.delivered_ms.n).toBe(2);
  });

  it("says so when the broker cannot be reached", async () => {
    await expect(measurePublishLatency({ brokerUrl: "mqtt://127.0.0.1:1", alerts: 1, stateDir: null, log: silentLogger() })).rejects.toThrow(
      /cannot reach the MQTT broker/,
    );
  });
});
