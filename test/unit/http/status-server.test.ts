import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EarwitnessError } from "../../../src/errors.js";
import { StatusHttpServer, type StatusApiBody } from "../../../src/http/status-server.js";
import { FakeClock } from "../../fakes/fake-clock.js";
import { FakeStatusProvider } from "../../fakes/fake-status-provider.js";
import { captureLogger } from "../../fakes/capture-logger.js";

const TOKEN = "0123456789abcdef-secret";
const servers: StatusHttpServer[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(blockers.splice(0).map((b) => new Promise((r) => b.close(r))));
});

async function serve(options: { token?: string | null; bind?: string; port?: number } = {}) {
  const provider = new FakeStatusProvider();
  const clock = new FakeClock();
  const logs = captureLogger();
  const server = new StatusHttpServer(
    { http: { bind: options.bind ?? "127.0.0.1", port: options.port ?? 0, token: options.token ?? null }, deviceId: "unit-1", version: "9.8.7" },
    { provider, clock, log: logs.log },
  );
  servers.push(server);
  await server.start();
  return { server, provider, clock, logs, port: Number(new URL(server.url).port) };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so the Host and Origin headers are exactly what a test says. */
function call(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: init.method ?? "GET", headers: { Host: `localhost:${port}`, ...init.headers } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

const postJson = (port: number, body: unknown, headers: Record<string, string> = {}) =>
  call(port, "/api/command", { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("status page server", () => {
  it("serves the page, and /api/status with the status socket's data, the model, thresholds and version", async () => {
    const { port, provider } = await serve();
    provider.problems = { mic_silent: "the microphone gives only silence" };
    const page = await call(port, "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.body).toContain('id="btn-test"');
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");

    const r = await call(port, "/api/status");
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as StatusApiBody;
    expect(body.version).toBe("9.8.7");
    expect(body.device_id).toBe("unit-1");
    expect(body.model).toEqual(provider.model);
    expect(body.thresholds.enter_threshold).toBe(0.55);
    expect(body.status.state).toBe("IDLE");
    expect(body.status.problems).toEqual({ mic_silent: "the microphone gives only silence" });
    expect(body.telemetry.probs).toEqual({ angry: 0.1, fear: 0.05, neutral: 0.85 });
    expect(body.telemetry.dbfs).toBe(-42.5);
    expect(body.telemetry.windows_decided).toBe(42);
    expect(JSON.stringify(body)).not.toMatch(/samples|pcm|audio_data/i);
  });

  it("lists the last alerts with id, time, emotion, peak and duration; an end replaces its start", async () => {
    const { port, server } = await serve();
    const startedAtMs = Date.UTC(2025, 0, 1, 12);
    server.recordAlert({ phase: "start", alertId: "a-1", startedAtMs, peak: 0.91, mean: 0.8, emotion: "angry", probs: {}, dbfs: -20, test: false, thresholds: {} });
    let alerts = (JSON.parse((await call(port, "/api/alerts")).body) as { alerts: StatusApiBody["alerts"] }).alerts;
    expect(alerts).toEqual([
      { alert_id: "a-1", test: false, emotion: "angry", peak: 0.91, started_at: "2025-01-01T12:00:00.000Z", ended_at: null, duration_s: null, end_reason: null },
    ]);
    server.recordAlert({
      phase: "end", alertId: "a-1", startedAtMs, endedAtMs: startedAtMs + 6500, peak: 0.95, mean: 0.8, emotion: "angry", probs: {}, dbfs: -20, test: false, thresholds: {}, endReason: "score_dropped",
    });
    server.recordAlert({ phase: "start", alertId: "t-2", startedAtMs: startedAtMs + 10_000, peak: 1, mean: 1, emotion: "test", probs: {}, dbfs: -20, test: true, thresholds: {} });
    alerts = (JSON.parse((await call(port, "/api/alerts")).body) as { alerts: StatusApiBody["alerts"] }).alerts;
    expect(alerts.map((a) => [a.alert_id, a.duration_s, a.end_reason, a.peak])).toEqual([
      ["t-2", null, null, 1],
      ["a-1", 6.5, "score_dropped", 0.95],
    ]);
    const metrics = (await call(port, "/metrics")).body;
    expect(metrics).toContain('earwitness_alerts_total{test="false"} 1');
    expect(metrics).toContain('earwitness_alerts_total{test="true"} 1');
  });

  it("runs commands through the MQTT parser and the daemon's handler, answering with the set/result payload", async () => {
    const { port, provider } = await serve();
    const ok = await postJson(port, { command: "mute", minutes: 30, id: "x1" });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ schema: 1, topic: "set", ok: true, command: "mute", id: "x1", error: null });
    expect(provider.commands).toEqual([{ command: "mute", minutes: 30 }]);

    const bad = await postJson(port, { command: "mute", minutes: 5000 });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ ok: false, command: null, error: "minutes must be 1..1440 (got 5000)" });

    provider.commandError = new EarwitnessError("NOTHING_TO_ACK", "no alert is active; there is nothing to acknowledge");
    const refused = await postJson(port, { command: "ack" });
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body)).toMatchObject({ ok: false, command: "ack", error: expect.stringContaining("nothing to acknowledge") as unknown });
    expect(provider.commands).toHaveLength(2);
  });

  it("refuses commands a page elsewhere could send: not JSON, or from another origin", async () => {
    const { port, provider } = await serve();
    const form = await call(port, "/api/command", { method: "POST", headers: { "Content-Type": "text/plain" }, body: '{"command":"disarm"}' });
    expect(form.status).toBe(415);
    const foreign = await postJson(port, { command: "disarm" }, { Origin: "http://evil.example" });
    expect(foreign.status).toBe(403);
    const same = await postJson(port, { command: "disarm" }, { Origin: `http://localhost:${port}` });
    expect(same.status).toBe(200);
    expect(provider.commands).toEqual([{ command: "disarm" }]);
    expect((await call(port, "/api/command")).status).toBe(405);
    expect((await call(port, "/nope")).status).toBe(404);
  });

  it("without a token answers only to a loopback Host name (no DNS rebinding)", async () => {
    const { port } = await serve();
    expect((await call(port, "/api/status", { headers: { Host: `127.0.0.1:${port}` } })).status).toBe(200);
    expect((await call(port, "/api/status", { headers: { Host: `[::1]:${port}` } })).status).toBe(200);
    const rebound = await call(port, "/api/status", { headers: { Host: `attacker.example:${port}` } });
    expect(rebound.status).toBe(403);
  });

  it("with a token, refuses every request without it and accepts the Bearer header or ?token=", async () => {
    const { port, provider } = await serve({ token: TOKEN });
    expect((await call(port, "/")).status).toBe(401);
    expect((await call(port, "/api/status")).status).toBe(401);
    expect((await call(port, "/metrics")).status).toBe(401);
    expect((await call(port, "/api/status", { headers: { Authorization: "Bearer wrong-token-of-some-length" } })).status).toBe(401);
    expect((await postJson(port, { command: "disarm" })).status).toBe(401);
    expect(provider.commands).toEqual([]);
    expect((await call(port, `/?token=${TOKEN}`)).status).toBe(200);
    expect((await call(port, "/api/status", { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    // A token also stands for a Host that is not loopback (a LAN bind is reached by its address).
    expect((await call(port, "/metrics", { headers: { Authorization: `Bearer ${TOKEN}`, Host: `192.168.1.20:${port}` } })).status).toBe(200);
    expect((await postJson(port, { command: "disarm" }, { Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it("a port that is taken is a coded error that says what to do", async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    const provider = new FakeStatusProvider();
    const server = new StatusHttpServer(
      { http: { bind: "127.0.0.1", port, token: null }, deviceId: "u", version: "1" },
      { provider, clock: new FakeClock(), log: captureLogger().log },
    );
    servers.push(server);
    await expect(server.start()).rejects.toMatchObject({ code: "HTTP_UNAVAILABLE", message: expect.stringMatching(/EADDRINUSE.*http\.port/) as unknown });
  });
});
