/**
 * The status socket's protocol: newline-delimited JSON over a unix stream socket, shared by the
 * server in the daemon (status-socket.ts) and the client in `monitor`, `doctor`, `selftest` and
 * `calibrate --from-daemon` (status-client.ts). The status page (src/http/) serves the same
 * status and telemetry messages.
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
 * of JSON), so a reply never approaches the server's client backlog bound.
 *
 * Owns the message types, the constants both sides agree on and the pure builders; must not own
 * any IO.
 */
import type { Command } from "../outputs/mqtt/commands.js";
import type { TelemetrySample } from "../outputs/mqtt/contract.js";
import type { DeviceStatus } from "../outputs/sink.js";
import type { ScorePage } from "../daemon/score-ring.js";

export const STATUS_SOCKET_SCHEMA = 1 as const;
export const STATUS_INTERVAL_MS = 1_000;
/** Recent alerts kept for a monitor that connects later. */
export const RECENT_ALERTS_MAX = 10;
/** Windows per `scores` reply. */
export const SCORES_PAGE_MAX = 10_000;

/** What the status socket and page read from the daemon (Daemon satisfies it). */
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

export interface ScoresRequest {
  id: string | null;
  afterSeq: number;
  sinceMs: number;
  max: number;
}

/** A `scores` request line, or null for anything else (commands go to parseCommand). */
export function scoresRequest(line: string): ScoresRequest | null {
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
 * The framing: feed it the text as it arrives; it calls `onLine` with each complete line, trimmed
 * and not empty, and returns what is still waiting for its newline (for a bound on line length).
 */
export function lineSplitter(onLine: (line: string) => void): (text: string) => string {
  let buffer = "";
  return (text) => {
    buffer += text;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line !== "") onLine(line);
    }
    return buffer;
  };
}
