import { spawnSync } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectStatusSocket, type StatusClient } from "../../../src/status/client.js";
import type { StatusSocketMessage } from "../../../src/status/protocol.js";
import { StatusSocketServer } from "../../../src/daemon/status-socket.js";
import { silentLogger } from "../../../src/log.js";
import { ScoreRing } from "../../../src/daemon/score-ring.js";
import { FakeClock } from "../../fakes/fake-clock.js";
import { FakeStatusProvider } from "../../fakes/fake-status-provider.js";

let dir: string;
let sock: string;
let server: StatusSocketServer;
let provider: FakeStatusProvider;
let clock: FakeClock;
const clients: StatusClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-sock-"));
  sock = path.join(dir, "status.sock");
  provider = new FakeStatusProvider();
  clock = new FakeClock();
  server = new StatusSocketServer({ path: sock, deviceId: "kitchen", version: "9.9.9" }, { provider, clock, log: silentLogger() });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

async function connect(): Promise<{ client: StatusClient; messages: StatusSocketMessage[]; waitFor: (n: number) => Promise<void> }> {
  const client = await connectStatusSocket(sock);
  clients.push(client);
  const messages: StatusSocketMessage[] = [];
  client.onMessage((m) => messages.push(m));
  const waitFor = async (n: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (messages.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${messages.length} of ${n} messages: ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { client, messages, waitFor };
}

describe("StatusSocketServer", () => {
  it("greets with hello, status and telemetry, then sends both every interval", async () => {
    await server.start();
    const { messages, waitFor } = await connect();
    await waitFor(3);
    expect(messages.map((m) => m.type)).toEqual(["hello", "status", "telemetry"]);
    expect(messages[0]).toMatchObject({ type: "hello", schema: 1, device_id: "kitchen", version: "9.9.9", interval_ms: 1000 });
    expect(messages[2]).toMatchObject({ type: "telemetry", dbfs: -42.5, probs: { angry: 0.1 }, rtf: 0.12, windows_decided: 42 });
    provider.current = { ...provider.current, state: "ALERT", danger: 0.9, emotion: "angry" };
    provider.problems = { mic_silent: "the microphone is silent" };
    clock.advance(1000);
    await waitFor(5);
    expect(messages[3]).toMatchObject({ type: "status", state: "ALERT", danger: 0.9, problems: { mic_silent: "the microphone is silent" } });
    expect(messages[4]!.type).toBe("telemetry");
    // Never samples: no field carries arrays of audio.
    expect(JSON.stringify(messages)).not.toMatch(/samples|pcm/i);
  });

  it("serves several clients and routes commands to the daemon, answering each", async () => {
    await server.start();
    const a = await connect();
    const b = await connect();
    await a.waitFor(3);
    await b.waitFor(3);
    const ok = await a.client.command({ command: "test", id: "t1" });
    expect(ok).toEqual({ type: "result", ok: true, command: "test", id: "t1", error: null });
    expect(provider.commands).toEqual([{ command: "test" }]);
    const bad = await b.client.command({ command: "explode" });
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/unknown command/);
    provider.commandError = new Error("no alert is active");
    const refused = await b.client.command({ command: "ack" });
    expect(refused).toMatchObject({ ok: false, command: "ack", error: "no alert is active" });
    clock.advance(1000);
    await a.waitFor(5);
    await b.waitFor(5);
  });

  it("includes recent alerts, one line per alert, newest first", async () => {
    await server.start();
    const t0 = Date.UTC(2025, 0, 1, 12);
    server.recordAlert({ phase: "start", alertId: "a1", startedAtMs: t0, peak: 0.9, mean: 0.8, emotion: "fear", probs: {}, dbfs: -20, test: false, thresholds: {} });
    server.recordAlert({ phase: "end", alertId: "a1", startedAtMs: t0, endedAtMs: t0 + 5000, peak: 0.95, mean: 0.8, emotion: "fear", probs: {}, dbfs: -20, test: false, thresholds: {} });
    server.recordAlert({ phase: "start", alertId: "t2", startedAtMs: t0 + 9000, peak: 1, mean: 1, emotion: "test", probs: {}, dbfs: -20, test: true, thresholds: {} });
    const { messages, waitFor } = await connect();
    await waitFor(2);
    const status = messages[1]!;
    expect(status.type).toBe("status");
    if (status.type !== "status") return;
    expect(status.recent_alerts.map((r) => [r.alert_id, r.event, r.test])).toEqual([
      ["t2", "start", true],
      ["a1", "end", false],
    ]);
    expect(status.recent_alerts[1]!.ended_at).toBe(new Date(t0 + 5000).toISOString());
  });

  it("is mode 0660, removes a stale socket file, refuses to steal a live one, and cleans up on stop", async () => {
    // A live socket (another daemon) is never taken over.
    const live: Server = createServer();
    await new Promise<void>((r) => live.listen(sock, () => r()));
    await expect(server.start()).rejects.toThrow(/another earwitness daemon answers/);
    await new Promise<void>((r) => live.close(() => r()));
    // A stale one: a process that bound the path and was killed, leaving the file behind.
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, "SIGKILL"))`]);
    expect((await stat(sock)).isSocket()).toBe(true);
    await server.start();
    expect((await stat(sock)).mode & 0o777).toBe(0o660);
    await server.stop();
    await expect(stat(sock)).rejects.toMatchObject({ code: "ENOENT" });
    await server.stop(); // idempotent
  });

  it("refuses a path that is a regular file", async () => {
    await writeFile(sock, "not a socket");
    await expect(server.start()).rejects.toThrow(/not a socket/);
  });

  it("serves the remembered window scores page by page (calibrate --from-daemon), numbers only", async () => {
    // 25 000 windows: three pages of at most 10 000.
    const ring = new ScoreRing(30_000);
    const t0 = Date.UTC(2025, 0, 1);
    for (let i = 0; i < 25_000; i++) ring.push(t0 + i * 500, (i % 100) / 100, -45);
    provider.scores = (after, since, max) => ({ ...ring.read(after, since, max), hopMs: 500 });
    await server.start();
    const { client, messages } = await connect();
    const all = await client.scores(-Infinity);
    expect(all.hopMs).toBe(500);
    expect(all.tMs.length).toBe(25_000);
    expect(all.tMs[24_999]).toBe(t0 + 24_999 * 500);
    expect(all.score.slice(0, 3)).toEqual([0, 0.01, 0.02]);
    expect(messages.filter((m) => m.type === "scores").length).toBe(3);
    // Only the last hour.
    const hour = await client.scores(t0 + 24_999 * 500 - 3_600_000 + 1);
    expect(hour.tMs.length).toBe(7_200); // windows 17 800 … 24 999
    // The commands still work beside it.
    expect((await client.command({ command: "test" })).ok).toBe(true);
  });

  it("refuses the scores request when the daemon keeps none, and the client says so", async () => {
    await server.start();
    const { client } = await connect();
    await expect(client.scores(0)).rejects.toThrow(/refused the scores request: this daemon keeps no window scores/);
  });
});
