import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../../src/clock.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { connectStatusSocket } from "../../../src/status/client.js";
import { StatusSocketServer } from "../../../src/daemon/status-socket.js";
import { checkMqtt, type CheckResult, type DoctorContext } from "../../../src/doctor/checks.js";
import { runOutputsSelftest, selftestExitCode, type SelftestDeps } from "../../../src/doctor/selftest.js";
import { silentLogger } from "../../../src/log.js";
import type { AlertPayload } from "../../../src/outputs/mqtt/contract.js";
import { FakeStatusProvider } from "../../fakes/fake-status-provider.js";
import { startAuthBroker, type AuthBroker } from "./auth-broker.js";

let broker: AuthBroker;
let dir: string;

beforeAll(async () => {
  broker = await startAuthBroker("unit", "s3cret");
  dir = await mkdtemp(path.join(tmpdir(), "ew-doc-mqtt-"));
  await writeFile(path.join(dir, "good"), "s3cret\n");
  await writeFile(path.join(dir, "bad"), "wrong\n");
});
afterAll(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

function config(passwordFile: string): Config {
  const yaml = `device_id: kitchen\nstate_dir: ${dir}\nmqtt: { enabled: true, url: "${broker.url}", username: unit, password_file: ${path.join(dir, passwordFile)} }\ngpio: { driver: none }\n`;
  const r = parseConfig(yaml, { env: {}, hostname: "h" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

const ctx = (c: Config): DoctorContext =>
  ({ config: c, configPath: "x", configIssues: [], clock: systemClock }) as unknown as DoctorContext;

async function watcher(): Promise<{ client: MqttClient; alerts: AlertPayload[] }> {
  const client = await connectAsync(broker.url, { username: "unit", password: "s3cret", reconnectPeriod: 0 });
  const alerts: AlertPayload[] = [];
  client.on("message", (_t, p) => alerts.push(JSON.parse(p.toString()) as AlertPayload));
  await client.subscribeAsync("earwitness/kitchen/alert", { qos: 1 });
  return { client, alerts };
}

function deps(over: Partial<SelftestDeps> = {}): SelftestDeps {
  return {
    clock: systemClock,
    daemon: null,
    createIndicator: async () => null,
    modelInfo: async () => ({ name: "m", version: "1", sha256: "abc" }),
    thresholds: () => ({ enter_threshold: 0.6 }),
    testAlertMs: 50,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...over,
  };
}

describe(`doctor MQTT round trip against a real broker`, () => {
  it("passes with the right credentials", async () => {
    const r = (await checkMqtt(ctx(config("good")))) as CheckResult;
    expect(r.status, r.detail).toBe("pass");
    expect(r.detail).toMatch(/as unit: connect, subscribe, publish and receive/);
  });

  it("fails with the broker's reason for wrong credentials", async () => {
    const r = (await checkMqtt(ctx(config("bad")))) as CheckResult;
    expect(r.status).toBe("fail");
    expect(r.detail).toMatch(/refused the connection.*(bad username or password|not authori[sz]ed)/i);
  });
});

describe("selftest against a real broker", () => {
  it("without a daemon: publishes a test alert in the contract format and reports the PUBACK", async () => {
    const w = await watcher();
    try {
      const parts = await runOutputsSelftest(config("good"), deps());
      expect(selftestExitCode(parts)).toBe(0);
      expect(parts.find((p) => p.name === "mqtt")).toMatchObject({ ok: true, skipped: false, detail: expect.stringMatching(/PUBACK/) });
      const deadline = Date.now() + 5000;
      while (w.alerts.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(w.alerts.map((a) => [a.event_type, a.test, a.device_id])).toEqual([
        ["test_start", true, "kitchen"],
        ["test_end", true, "kitchen"],
      ]);
      expect(w.alerts[0]).toMatchObject({ schema: 1, model: { name: "m" }, thresholds: { enter_threshold: 0.6 } });
    } finally {
      await w.client.endAsync();
    }
  });

  it("without a daemon and with wrong credentials: fails with the reason", async () => {
    const parts = await runOutputsSelftest(config("bad"), deps());
    expect(selftestExitCode(parts)).toBe(1);
    expect(parts.find((p) => p.name === "mqtt")!.detail).toMatch(/refused/);
  });

  it("with a daemon: asks it over the status socket and sees the broker deliver its test alert", async () => {
    const sock = path.join(dir, "status.sock");
    const provider = new FakeStatusProvider();
    // The fake daemon publishes its test alert as the real MQTT sink would.
    const publisher = await connectAsync(broker.url, { username: "unit", password: "s3cret", reconnectPeriod: 0 });
    provider.onCommand = async () => {
      await publisher.publishAsync("earwitness/kitchen/alert", JSON.stringify({ schema: 1, event_type: "test_start", alert_id: "x1", test: true }), { qos: 1 });
    };
    const server = new StatusSocketServer({ path: sock, deviceId: "kitchen", version: "t" }, { provider, clock: systemClock, log: silentLogger() });
    await server.start();
    const client = await connectStatusSocket(sock);
    try {
      const parts = await runOutputsSelftest(config("good"), deps({ daemon: client, waitMs: 5000 }));
      expect(provider.commands).toEqual([{ command: "test" }]);
      expect(parts.map((p) => [p.name, p.ok, p.skipped])).toEqual([
        ["daemon", true, false],
        ["gpio", true, true],
        ["mqtt", true, false],
      ]);
      expect(parts[2]!.detail).toMatch(/acknowledged the test alert x1/);
    } finally {
      client.close();
      await server.stop();
      await publisher.endAsync();
    }
  });
});
