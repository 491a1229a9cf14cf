/**
 * The daemon's local status socket, for `earwitness monitor`, `doctor` and `selftest` on the unit
 * itself (over SSH, without a broker). A unix stream socket serving newline-delimited JSON:
 *
 *   server → client, on connect:  {"type":"hello", …}  then a `status` and a `telemetry` line,
 *                                 and both again every `intervalMs` (1 s)
 *   client → server:              a command line as on the MQTT `set` topic, e.g. {"command":"test","id":"1"}
 *   server → client, per command: {"type":"result","ok":true,"command":"test","id":"1","error":null}
 *   client → server:              {"request":"scores","id":"2","after_seq":-1,"since_ms":…,"max":10000}
 *   server → client:              {"type":"scores","id":"2","hop_ms":500,"t_ms":[…],"score":[…],"dbfs":[…],"last_seq":…,"more":true}
 *
 * `scores` pages through the daemon's ring of per-window danger scores (score-ring.ts) for
 * `earwitness calibrate --from-daemon`; a page is at most SCORES_PAGE_MAX windows (about 250 kB
 * of JSON), so a reply never approaches the client backlog bound.
 *
 * Privacy: only what the daemon already publishes (probabilities, a level, the state, problems,
 * recent alerts, danger scores) — never samples. The socket is mode 0660: the earwitness user and its group.
 */
import { chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Clock, TimerHandle } from "../clock.js";
import { describeError, OutputError } from "../errors.js";
import type { Logger } from "../log.js";
import { parseCommand, type Command } from "../outputs/mqtt/commands.js";
import type { TelemetrySample } from "../outputs/mqtt/contract.js";
import type { AlertEvent, DeviceStatus } from "../outputs/sink.js";
import type { ScorePage } from "./score-ring.js";

export const STATUS_SOCKET_SCHEMA = 1 as const;
export const STATUS_INTERVAL_MS = 1_000;
/** Recent alerts kept for a monitor that connects later. */
export const RECENT_ALERTS_MAX = 10;
/** A client that sends a longer line than this without a newline is dropped (no command is this big). */
const MAX_LINE_BYTES = 8 * 1024;
/** A client that does not read (a stopped terminal) is dropped before its buffer grows without bound. */
const MAX_CLIENT_BACKLOG_BYTES = 1024 * 1024;
/** Windows per `scores` reply. */
export const SCORES_PAGE_MAX = 10_000;

/** What the socket reads from the daemon (Daemon satisfies it). */
export interface StatusProvider {
  status(): DeviceStatus;
  telemetrySample(): TelemetrySample;
  snapshot(): { ready: boolean; problems: Record<string, string>; rtf: number; queueDepth: number; droppedWindows: number; windowsDecided: number; alertId: string | null };
  command(c: Command): Promise<void>;
  /** The remembered window scores (score-ring.ts); absent: the `scores` request is refused. */
  scores?(afterSeq: number, sinceMs: number, max: number): ScorePage & { hopMs: number };
}

export interface RecentAlert {
  alert_id: string;
  event: "start" | "end";
  test: boolean;
  emotion: string;
  peak: number;
  started_at: string;
  ended_at: string | null;
}

export interface HelloMessage {
  type: "hello";
  schema: typeof STATUS_SOCKET_SCHEMA;
  device_id: string;
  version: string;
  pid: number;
  interval_ms: number;
}

export interface StatusMessage {
  type: "status";
  at: string;
  state: DeviceStatus["state"];
  danger: number;
  emotion: string | null;
  since: string;
  armed: boolean;
  muted_until: string | null;
  acknowledged: boolean;
  ready: boolean;
  /** Active problems: code → message. */
  problems: Record<string, string>;
  alert_id: string | null;
  recent_alerts: RecentAlert[];
}

export interface TelemetryMessage {
  type: "telemetry";
  at: string;
  probs: Record<string, number>;
  dbfs: number;
  danger: number;
  state: DeviceStatus["state"];
  rtf: number;
  queue_depth: number;
  dropped_windows: number;
  windows_decided: number;
}

export interface ResultMessage {
  type: "result";
  ok: boolean;
  command: string | null;
  id: string | null;
  error: string | null;
}

export interface ScoresMessage {
  type: "scores";
  id: string | null;
  hop_ms: number;
  t_ms: number[];
  score: number[];
  dbfs: number[];
  last_seq: number;
  more: boolean;
}

export type StatusSocketMessage = HelloMessage | StatusMessage | TelemetryMessage | ResultMessage | ScoresMessage;

export interface StatusSocketOptions {
  path: string;
  deviceId: string;
  version: string;
  intervalMs?: number;
  /** File mode of the socket (default 0o660). */
  mode?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Builds the two periodic messages; pure, so the monitor's tests can make realistic frames. */
export function buildStatusMessage(
  status: DeviceStatus,
  snap: ReturnType<StatusProvider["snapshot"]>,
  recent: readonly RecentAlert[],
  atMs: number,
): StatusMessage {
  return {
    type: "status",
    at: iso(atMs),
    state: status.state,
    danger: status.danger,
    emotion: status.emotion,
    since: iso(status.sinceMs),
    armed: status.armed,
    muted_until: status.mutedUntilMs === null ? null : iso(status.mutedUntilMs),
    acknowledged: status.acknowledged,
    ready: snap.ready,
    problems: { ...snap.problems },
    alert_id: snap.alertId,
    recent_alerts: [...recent],
  };
}

export function buildTelemetryMessage(t: TelemetrySample, status: DeviceStatus, windowsDecided: number): TelemetryMessage {
  return {
    type: "telemetry",
    at: iso(t.atMs),
    probs: { ...t.probs },
    dbfs: t.dbfs,
    danger: status.danger,
    state: status.state,
    rtf: t.rtf,
    queue_depth: t.queueDepth,
    dropped_windows: t.droppedWindows,
    windows_decided: windowsDecided,
  };
}

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
    let buffer = "";
    socket.on("data", (text: string) => {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line !== "") void this.onLine(socket, line);
      }
      if (Buffer.byteLength(buffer) > MAX_LINE_BYTES) socket.destroy();
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

interface ScoresRequest {
  id: string | null;
  afterSeq: number;
  sinceMs: number;
  max: number;
}

/** A `scores` request line, or null for anything else (commands go to parseCommand). */
function scoresRequest(line: string): ScoresRequest | null {
  if (!line.includes('"request"')) return null;
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || (body as { request?: unknown }).request !== "scores") return null;
  const b = body as Record<string, unknown>;
  const numOr = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
  return {
    id: typeof b.id === "string" ? b.id : null,
    afterSeq: Math.floor(numOr(b.after_seq, -1)),
    sinceMs: numOr(b.since_ms, -Infinity),
    max: Math.max(1, Math.floor(numOr(b.max, SCORES_PAGE_MAX))),
  };
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

// ─── client side (monitor, doctor, selftest) ───────────────────────────────────────────────────

export interface StatusClient {
  /** Every message as it arrives. */
  onMessage(listener: (m: StatusSocketMessage) => void): () => void;
  onClose(listener: (err: Error | null) => void): () => void;
  /** Sends a command and resolves with its result. */
  command(body: { command: string; id?: string; minutes?: number }, timeoutMs?: number): Promise<ResultMessage>;
  /** Every remembered window score at or after `sinceMs`, read page by page. */
  scores(sinceMs: number, timeoutMs?: number): Promise<{ hopMs: number; tMs: number[]; score: number[]; dbfs: number[] }>;
  close(): void;
}

/**
 * Connects to a status socket; rejects (ENOENT, ECONNREFUSED, EACCES …) when no daemon answers
 * within `timeoutMs`.
 */
export function connectStatusSocket(path: string, timeoutMs = 2_000): Promise<StatusClient> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const listeners = new Set<(m: StatusSocketMessage) => void>();
    const closeListeners = new Set<(err: Error | null) => void>();
    const pending = new Map<string, (r: ResultMessage | ScoresMessage) => void>();
    let lastError: Error | null = null;
    let nextId = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OutputError("STATUS_SOCKET_TIMEOUT", `no answer on the status socket ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    let buffer = "";
    socket.on("data", (text: string) => {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let m: StatusSocketMessage;
        try {
          m = JSON.parse(line) as StatusSocketMessage;
        } catch {
          continue;
        }
        if ((m.type === "result" || m.type === "scores") && m.id !== null && pending.has(m.id)) {
          pending.get(m.id)!(m);
          pending.delete(m.id);
        }
        for (const l of listeners) l(m);
      }
    });
    socket.on("error", (err) => {
      lastError = err;
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      for (const l of closeListeners) l(lastError);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      // A command gets its `result`, a request its `scores` (or a `result` refusing it), by id.
      const ask = <T>(body: { id?: string } & Record<string, unknown>, what: string, timeoutMs: number): Promise<T> => {
        const id = body.id ?? `c${process.pid}-${nextId++}`;
        return new Promise<T>((res, rej) => {
          const t = setTimeout(() => {
            pending.delete(id);
            rej(new OutputError("STATUS_SOCKET_TIMEOUT", `the daemon did not answer the ${what} within ${timeoutMs} ms`));
          }, timeoutMs);
          pending.set(id, (r) => {
            clearTimeout(t);
            res(r as T);
          });
          socket.write(JSON.stringify({ ...body, id }) + "\n");
        });
      };
      resolve({
        onMessage(l) {
          listeners.add(l);
          return () => listeners.delete(l);
        },
        onClose(l) {
          closeListeners.add(l);
          return () => closeListeners.delete(l);
        },
        command(body, cmdTimeoutMs = 5_000) {
          return ask<ResultMessage>(body, `${body.command} command`, cmdTimeoutMs);
        },
        async scores(sinceMs, pageTimeoutMs = 10_000) {
          const out = { hopMs: 0, tMs: [] as number[], score: [] as number[], dbfs: [] as number[] };
          let afterSeq = -1;
          for (;;) {
            const m = await ask<ResultMessage | ScoresMessage>({ request: "scores", after_seq: afterSeq, since_ms: sinceMs, max: SCORES_PAGE_MAX }, "scores request", pageTimeoutMs);
            if (m.type === "result") throw new OutputError("STATUS_SOCKET_SCORES", `the daemon refused the scores request: ${m.error ?? "no reason given"}; update and restart it`);
            out.hopMs = m.hop_ms;
            out.tMs.push(...m.t_ms);
            out.score.push(...m.score);
            out.dbfs.push(...m.dbfs);
            if (!m.more || m.last_seq <= afterSeq) return out;
            afterSeq = m.last_seq;
          }
        },
        close() {
          socket.destroy();
        },
      });
    });
  });
}
