/** The shared test broker helper itself, on both paths. */
import { afterEach, describe, expect, it } from "vitest";
import { findMosquitto, startBroker, type BrokerKind, type TestBroker } from "../broker.js";
import { waitFor, watch } from "./watcher.js";

let running: TestBroker | null = null;
const saved = process.env.EARWITNESS_TEST_BROKER;

afterEach(async () => {
  await running?.stop();
  running = null;
  if (saved === undefined) delete process.env.EARWITNESS_TEST_BROKER;
  else process.env.EARWITNESS_TEST_BROKER = saved;
});

async function roundTrip(kind: BrokerKind): Promise<void> {
  process.env.EARWITNESS_TEST_BROKER = kind;
  const broker = await startBroker();
  running = broker;
  expect(broker.kind).toBe(kind);
  expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);

  const pub = await watch(broker.url, []);
  await pub.client.publishAsync("t/retained", "kept", { qos: 1, retain: true });
  await pub.close();

  await broker.restart(); // same port, retained messages survive
  const sub = await watch(broker.url, ["t/#"]);
  const seen = await waitFor(() => sub.on("t/retained")[0], "the retained message after restart");
  expect(seen).toMatchObject({ text: "kept", retain: true });
  await sub.close();

  await broker.stop();
  await broker.stop(); // idempotent
  await expect(watch(broker.url, [])).rejects.toThrow();
}

describe("startBroker", () => {
  it("runs aedes in-process when forced", () => roundTrip("aedes"));
  it.skipIf(findMosquitto() === null)("runs a real mosquitto when installed", () => roundTrip("mosquitto"));
  it("rejects an unknown EARWITNESS_TEST_BROKER", async () => {
    process.env.EARWITNESS_TEST_BROKER = "rabbitmq";
    await expect(startBroker()).rejects.toThrow(/must be "aedes" or "mosquitto"/);
  });
});
