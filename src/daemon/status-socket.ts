/**
 * The daemon's local status socket, for `earwitness monitor`, `doctor` and `selftest` on the unit
 * itself (over SSH, without a broker): a unix stream socket speaking the protocol of
 * status-protocol.ts. Owns listening, the clients and their bounds (line length, backlog), the
 * periodic status and telemetry, recent alerts, and the stale socket file; the client is
 * status-client.ts.
 *
 * Privacy: only what the daemon already publishes (probabilities, a level, the state, problems,
 * recent alerts, danger scores) — never samples. The socket is mode 0660: the earwitness user and its group.
 */
import { chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Clock, TimerHandle } from "../clock.js";
import { describeError, OutputError } from "../errors.js";
import type { Logger } from "../log.js";
import { parseCommand } from "../outputs/mqtt/commands.js";
import type { AlertEvent } from "../outputs/sink.js";
import {
  buildStatusMessage,
  buildTelemetryMessage,
  lineSplitter,
  RECENT_ALERTS_MAX,
  SCORES_PAGE_MAX,
  scoresRequest,
  STATUS_INTERVAL_MS,
  STATUS_SOCKET_SCHEMA,
  type HelloMessage,
  type RecentAlert,
  type ScoresRequest,
  type StatusMessage,
  type StatusProvider,
  type StatusSocketMessage,
  type TelemetryMessage,
} from "../status/protocol.js";

/** A client that sends a longer line than this without a newline is dropped (no command is this big). */
const MAX_LINE_BYTES = 8 * 1024;
/** A client that does not read (a stopped terminal) is dropped before its buffer grows without bound. */
const MAX_CLIENT_BACKLOG_BYTES = 1024 * 1024;

export interface StatusSocketOptions {
  path: string;
  deviceId: string;
  version: string;
  intervalMs?: number;
  /** File mode of the socket (default 0o660). */
  mode?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class StatusSocketServer {
  private readonly log: Logger;
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();
  private readonly recent: RecentAlert[] = [];
  private timer: TimerHandle | null = null;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly options: StatusSocketOptions,
    private readonly deps: { provider: StatusProvider; clock: Clock; log: Logger },
  ) {
    this.log = deps.log.child({ component: "status-socket" });
  }

  get path(): string {
    return this.options.path;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  start(): Promise<void> {
    if (this.server) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = this.doStop().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  /** The daemon hands every alert event here too, so a monitor sees recent alerts. */
  recordAlert(event: AlertEvent): void {
    const entry: RecentAlert = {
      alert_id: event.alertId,
      event: event.phase,
      test: event.test,
      emotion: event.emotion,
      peak: event.peak,
      started_at: iso(event.startedAtMs),
      ended_at: event.endedAtMs === undefined ? null : iso(event.endedAtMs),
    };
    // One line per alert: the end replaces its start.
    const i = this.recent.findIndex((r) => r.alert_id === event.alertId);
    if (i >= 0) this.recent.splice(i, 1);
    this.recent.unshift(entry);
    this.recent.length = Math.min(this.recent.length, RECENT_ALERTS_MAX);
    this.broadcast(this.statusMessage());
  }

  private async doStart(): Promise<void> {
    const path = this.options.path;
    await removeStaleSocket(path);
    const server = createServer((socket) => this.onClient(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.removeListener("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new OutputError("STATUS_SOCKET", `cannot listen on the status socket ${path}: ${describeError(err)}; check status_socket and that its directory exists and is writable`, { cause: err });
    });
    server.on("error", (err) => this.log.error({ err }, "status socket error"));
    try {
      await chmod(path, this.options.mode ?? 0o660);
    } catch (err) {
      server.close();
      throw new OutputError("STATUS_SOCKET", `cannot set the mode of the status socket ${path}: ${describeError(err)}`, { cause: err });
    }
    this.server = server;
    this.armTimer();
    this.log.info({ path }, "status socket listening");
  }

  private async doStop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    const server = this.server;
    this.server = null;
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // net removes the socket file on close; make sure, as a stale file would confuse monitor.
      await unlink(this.options.path).catch(() => undefined);
    }
  }

  private armTimer(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      if (!this.server) return;
      this.tick();
      this.armTimer();
    }, this.options.intervalMs ?? STATUS_INTERVAL_MS);
  }

  private tick(): void {
    if (this.clients.size === 0) return;
    this.broadcast(this.statusMessage());
    this.broadcast(this.telemetryMessage());
  }

  private statusMessage(): StatusMessage {
    const p = this.deps.provider;
    return buildStatusMessage(p.status(), p.snapshot(), this.recent, this.deps.clock.nowMs());
  }

  private telemetryMessage(): TelemetryMessage {
    const p = this.deps.provider;
    return buildTelemetryMessage(p.telemetrySample(), p.status(), p.snapshot().windowsDecided);
  }

  private onClient(socket: Socket): void {
    this.clients.add(socket);
    socket.setEncoding("utf8");
    const split = lineSplitter((line) => void this.onLine(socket, line));
    socket.on("data", (text: string) => {
      if (Buffer.byteLength(split(text)) > MAX_LINE_BYTES) socket.destroy();
    });
    socket.on("error", (err) => this.log.debug({ err }, "status socket client error"));
    socket.on("close", () => this.clients.delete(socket));
    const hello: HelloMessage = {
      type: "hello",
      schema: STATUS_SOCKET_SCHEMA,
      device_id: this.options.deviceId,
      version: this.options.version,
      pid: process.pid,
      interval_ms: this.options.intervalMs ?? STATUS_INTERVAL_MS,
    };
    this.send(socket, hello);
    this.send(socket, this.statusMessage());
    this.send(socket, this.telemetryMessage());
  }

  private async onLine(socket: Socket, line: string): Promise<void> {
    const request = scoresRequest(line);
    if (request) {
      this.onScores(socket, request);
      return;
    }
    const parsed = parseCommand("set", line);
    if (!parsed.ok) {
      this.send(socket, { type: "result", ok: false, command: null, id: parsed.id, error: parsed.error });
      return;
    }
    this.log.info({ command: parsed.command.command }, "command from the status socket");
    let error: string | null = null;
    try {
      await this.deps.provider.command(parsed.command);
    } catch (err) {
      error = describeError(err);
    }
    this.send(socket, { type: "result", ok: error === null, command: parsed.command.command, id: parsed.id, error });
  }

  private onScores(socket: Socket, r: ScoresRequest): void {
    const read = this.deps.provider.scores?.bind(this.deps.provider);
    if (!read) {
      this.send(socket, { type: "result", ok: false, command: "scores", id: r.id, error: "this daemon keeps no window scores" });
      return;
    }
    const page = read(r.afterSeq, r.sinceMs, Math.min(SCORES_PAGE_MAX, r.max));
    this.send(socket, { type: "scores", id: r.id, hop_ms: page.hopMs, t_ms: page.tMs, score: page.score, dbfs: page.dbfs, last_seq: page.lastSeq, more: page.more });
  }

  private broadcast(message: StatusSocketMessage): void {
    for (const c of this.clients) this.send(c, message);
  }

  private send(socket: Socket, message: StatusSocketMessage): void {
    if (socket.destroyed) return;
    if (socket.writableLength > MAX_CLIENT_BACKLOG_BYTES) {
      socket.destroy();
      return;
    }
    socket.write(JSON.stringify(message) + "\n");
  }
}

/**
 * A socket file left by a daemon that was killed would make listen() fail with EADDRINUSE. It is
 * removed only when it is a socket that nobody answers on: a live daemon's socket, or a regular
 * file someone put there, is never deleted.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isSocket) {
    throw new OutputError("STATUS_SOCKET", `${path} exists and is not a socket; remove it or choose another status_socket`);
  }
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
  if (alive) {
    throw new OutputError("STATUS_SOCKET", `another earwitness daemon answers on ${path}; stop it first (systemctl stop earwitness)`);
  }
  await unlink(path);
}
