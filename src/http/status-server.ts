/**
 * The local status page (issue #13): one HTML page, its JSON API and Prometheus metrics, served by
 * node:http. The data is the status socket's (buildStatusMessage / buildTelemetryMessage), so the
 * page, `earwitness monitor` and MQTT never disagree; commands go through the MQTT parser
 * (parseCommand on `set`) and the daemon's one command handler, and are answered with the MQTT
 * `set/result` payload.
 *
 *   GET  /              the page (inline JS polls /api/status every second)
 *   GET  /api/status    {device_id, version, model, thresholds, status, telemetry, alerts}
 *   GET  /api/alerts    {alerts}: the last RECENT_ALERTS_MAX alerts, newest first
 *   GET  /metrics       Prometheus text (metrics.ts)
 *   POST /api/command   body as on MQTT `set`, e.g. {"command":"mute","minutes":30}; the answer
 *                       is the `set/result` payload; 200 applied, 400 malformed, 409 refused
 *
 * Who may ask: with `http.token` set, every request must carry it (Authorization: Bearer, or
 * ?token= for the page, which then sends the header). Without a token the schema only allows a
 * loopback bind, and the Host header must name a loopback address, so another web site cannot
 * reach the page through DNS rebinding. Commands must be `application/json` with no foreign
 * Origin: a page elsewhere in the operator's browser cannot post one (no CORS is ever granted).
 *
 * Privacy: only what MQTT already carries — probabilities, a level, state, problems, alert
 * summaries. Never samples.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Clock } from "../clock.js";
import { isLoopbackHost, type HttpConfig } from "../config/schema.js";
import { describeError, OutputError } from "../errors.js";
import type { Logger } from "../log.js";
import { MAX_COMMAND_BYTES, parseCommand } from "../outputs/mqtt/commands.js";
import { buildCommandResultPayload, type CommandResultPayload, type ModelInfo } from "../outputs/mqtt/contract.js";
import type { AlertEvent, DetectorStateName } from "../outputs/sink.js";
import {
  buildStatusMessage,
  buildTelemetryMessage,
  RECENT_ALERTS_MAX,
  type StatusMessage,
  type StatusProvider,
  type TelemetryMessage,
} from "../status/protocol.js";
import { renderMetrics } from "./metrics.js";
import { STATUS_PAGE_HTML } from "./status-page.js";

export const STATUS_API_SCHEMA = 1 as const;
const DETECTOR_STATES: readonly DetectorStateName[] = ["IDLE", "SUSPECT", "ALERT", "HOLD", "COOLDOWN"];

/** What the page reads from the daemon beyond the status socket's data (Daemon satisfies it). */
export interface StatusPageProvider extends StatusProvider {
  /** The running model (null while none is loaded) and the thresholds decisions are made against. */
  detection(): { model: ModelInfo | null; thresholds: Record<string, number> };
}

export interface AlertRow {
  alert_id: string;
  test: boolean;
  emotion: string;
  peak: number;
  started_at: string;
  ended_at: string | null;
  /** null while the alert is open. */
  duration_s: number | null;
  end_reason: string | null;
}

export interface StatusApiBody {
  schema: typeof STATUS_API_SCHEMA;
  device_id: string;
  version: string;
  model: ModelInfo | null;
  thresholds: Record<string, number>;
  status: StatusMessage;
  telemetry: TelemetryMessage;
  alerts: AlertRow[];
}

export interface StatusServerOptions {
  http: Pick<HttpConfig, "bind" | "port" | "token">;
  deviceId: string;
  version: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class StatusHttpServer {
  private readonly log: Logger;
  private server: Server | null = null;
  private readonly alerts: AlertRow[] = [];
  private readonly alertCounts = { real: 0, test: 0 };
  private commandChain: Promise<unknown> = Promise.resolve();
  private starting: Promise<void> | null = null;

  constructor(
    private readonly options: StatusServerOptions,
    private readonly deps: { provider: StatusPageProvider; clock: Clock; log: Logger },
  ) {
    this.log = deps.log.child({ component: "http" });
  }

  /** Where the page is (the real port once listening, also for port 0). */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    const host = this.options.http.bind.includes(":") ? `[${this.options.http.bind}]` : this.options.http.bind;
    return `http://${host}:${address?.port ?? this.options.http.port}/`;
  }

  start(): Promise<void> {
    if (this.server) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { bind, port } = this.options.http;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err, url: req.url }, "status page request failed");
        if (!res.headersSent) this.send(res, 500, "application/json", JSON.stringify({ error: "internal error" }));
        else res.destroy();
      });
    });
    // A slow or idle client must not hold a connection for ever (the unit has little memory).
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, bind, () => {
        server.removeListener("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      const hint =
        code === "EADDRINUSE"
          ? "another program uses this port: set http.port to a free one, or stop that program"
          : code === "EADDRNOTAVAIL"
            ? "this machine has no such address: check http.bind"
            : "check http.bind and http.port";
      throw new OutputError("HTTP_UNAVAILABLE", `the status page cannot listen on ${bind}:${port} (${describeError(err)}); ${hint}`, { cause: err });
    });
    server.on("error", (err) => this.log.error({ err }, "status page server error"));
    this.server = server;
    this.log.info({ url: this.url }, "status page listening");
  }

  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The daemon hands every alert event here too (one row per alert: the end replaces its start). */
  recordAlert(event: AlertEvent): void {
    if (event.phase === "start") {
      if (event.test) this.alertCounts.test++;
      else this.alertCounts.real++;
    }
    const row: AlertRow = {
      alert_id: event.alertId,
      test: event.test,
      emotion: event.emotion,
      peak: event.peak,
      started_at: iso(event.startedAtMs),
      ended_at: event.endedAtMs === undefined ? null : iso(event.endedAtMs),
      duration_s: event.endedAtMs === undefined ? null : Math.round(event.endedAtMs - event.startedAtMs) / 1000,
      end_reason: event.endReason ?? null,
    };
    const i = this.alerts.findIndex((r) => r.alert_id === event.alertId);
    if (i >= 0) this.alerts.splice(i, 1);
    this.alerts.unshift(row);
    this.alerts.length = Math.min(this.alerts.length, RECENT_ALERTS_MAX);
  }

  /** The body of /api/status. */
  statusBody(): StatusApiBody {
    const p = this.deps.provider;
    const status = p.status();
    const snap = p.snapshot();
    const { model, thresholds } = p.detection();
    return {
      schema: STATUS_API_SCHEMA,
      device_id: this.options.deviceId,
      version: this.options.version,
      model,
      thresholds,
      // The socket's messages carry its own short list; the page's rows (with durations) are `alerts`.
      status: buildStatusMessage(status, snap, [], this.deps.clock.nowMs()),
      telemetry: buildTelemetryMessage(p.telemetrySample(), status, snap.windowsDecided),
      alerts: [...this.alerts],
    };
  }

  metricsText(): string {
    const p = this.deps.provider;
    const status = p.status();
    const snap = p.snapshot();
    const t = p.telemetrySample();
    return renderMetrics({
      version: this.options.version,
      deviceId: this.options.deviceId,
      model: p.detection().model,
      windowsDecided: snap.windowsDecided,
      droppedWindows: snap.droppedWindows,
      alerts: { ...this.alertCounts },
      rtf: snap.rtf,
      queueDepth: snap.queueDepth,
      dbfs: t.dbfs,
      danger: status.danger,
      armed: status.armed,
      muted: status.mutedUntilMs !== null,
      problems: Object.keys(snap.problems).sort(),
      state: status.state,
      states: DETECTOR_STATES,
    });
  }

  // ─── requests ───────────────────────────────────────────────────────────────────────────────

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const refusal = this.refusal(req, url);
    if (refusal) {
      this.log.debug({ url: url.pathname, why: refusal.message }, "status page request refused");
      this.send(res, refusal.status, "application/json", JSON.stringify({ error: refusal.message }));
      return;
    }
    const route = `${req.method ?? "GET"} ${url.pathname}`;
    switch (route) {
      case "GET /":
      case "GET /index.html":
        this.send(res, 200, "text/html; charset=utf-8", STATUS_PAGE_HTML);
        return;
      case "GET /api/status":
        this.send(res, 200, "application/json", JSON.stringify(this.statusBody()));
        return;
      case "GET /api/alerts":
        this.send(res, 200, "application/json", JSON.stringify({ alerts: this.alerts }));
        return;
      case "GET /metrics":
        this.send(res, 200, "text/plain; version=0.0.4; charset=utf-8", this.metricsText());
        return;
      case "POST /api/command":
        await this.command(req, res);
        return;
    }
    const known = ["/", "/index.html", "/api/status", "/api/alerts", "/metrics", "/api/command"].includes(url.pathname);
    if (known) {
      res.setHeader("Allow", url.pathname === "/api/command" ? "POST" : "GET");
      this.send(res, 405, "application/json", JSON.stringify({ error: `${req.method ?? ""} is not allowed on ${url.pathname}` }));
    } else {
      this.send(res, 404, "application/json", JSON.stringify({ error: `no such page: ${url.pathname}` }));
    }
  }

  /** Why this request is refused (status and message), or null when it may go on. */
  private refusal(req: IncomingMessage, url: URL): { status: number; message: string } | null {
    const token = this.options.http.token;
    if (token !== null) {
      const auth = req.headers.authorization ?? "";
      const given = auth.startsWith("Bearer ") ? auth.slice("Bearer ".length).trim() : (url.searchParams.get("token") ?? "");
      if (!sameSecret(given, token)) {
        return { status: 401, message: "a token is required: send Authorization: Bearer <http.token>, or open the page as /?token=<http.token>" };
      }
    } else {
      // No token: only this machine may ask, under a loopback name (DNS rebinding gives another name).
      const host = hostOf(req.headers.host ?? "");
      if (!isLoopbackHost(host)) return { status: 403, message: `Host ${host || "(none)"} is not this machine; open the page as http://localhost:<port>/` };
    }
    return null;
  }

  private async command(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      this.send(res, 415, "application/json", JSON.stringify({ error: "commands must be sent as application/json" }));
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== "null" && hostOfOrigin(origin) !== (req.headers.host ?? "").toLowerCase()) {
      this.send(res, 403, "application/json", JSON.stringify({ error: `commands from another site (${origin}) are refused` }));
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_COMMAND_BYTES);
    } catch (err) {
      this.send(res, 413, "application/json", JSON.stringify({ error: describeError(err) }));
      return;
    }
    const answer = (command: string | null, id: string | null, error: string | null): CommandResultPayload =>
      buildCommandResultPayload({ atMs: this.deps.clock.nowMs(), topic: "set", command, id, error });
    const parsed = parseCommand("set", body);
    if (!parsed.ok) {
      this.log.warn({ error: parsed.error }, "rejected a malformed command from the status page");
      this.send(res, 400, "application/json", JSON.stringify(answer(null, parsed.id, parsed.error)));
      return;
    }
    const name = parsed.command.command;
    // One command after another, in arrival order, as on MQTT.
    const run = this.commandChain.then(() => this.deps.provider.command(parsed.command));
    this.commandChain = run.catch(() => undefined);
    try {
      await run;
    } catch (err) {
      this.log.warn({ err, command: name }, "command from the status page failed");
      this.send(res, 409, "application/json", JSON.stringify(answer(name, parsed.id, describeError(err))));
      return;
    }
    this.log.info({ command: parsed.command }, "command from the status page applied");
    this.send(res, 200, "application/json", JSON.stringify(answer(name, parsed.id, null)));
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, {
      "Content-Type": type,
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      // The page's own inline script and style, requests to itself only, never framed.
      "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
      "Referrer-Policy": "no-referrer",
    });
    res.end(body);
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The host part of a Host header ("localhost:8787" → "localhost", "[::1]:8787" → "::1"). */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") >= 0 ? h.indexOf("]") : undefined);
  return h.split(":")[0] ?? "";
}

function hostOfOrigin(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new OutputError("COMMAND_TOO_LARGE", `a command is at most ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
