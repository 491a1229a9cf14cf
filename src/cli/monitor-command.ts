/**
 * `earwitness monitor`: a live view of the running daemon for an SSH session. It reads the
 * daemon's status socket (src/daemon/status-socket.ts) — probabilities, level, state, problems,
 * recent alerts — and never audio. Plain ANSI: the frame is redrawn in place on the alternate
 * screen (works in tmux and screen); when stdout is not a terminal it prints one line per sample
 * instead, so it can be piped or logged.
 */
import { PERMISSION_HINT } from "../config/load.js";
import { hostname } from "node:os";
import { loadConfig } from "../config/load.js";
import { connectStatusSocket, type StatusClient } from "../status/client.js";
import type { HelloMessage, StatusMessage, StatusSocketMessage, TelemetryMessage } from "../status/protocol.js";
import type { Logger } from "../log.js";
import { num, parse } from "./args.js";

export const MONITOR_HELP = `earwitness monitor — live view of the running daemon (level, emotions, danger, state, alerts, problems)

  --config FILE   configuration, to find the status socket (default: /etc/earwitness/config.yaml)
  --socket PATH   the status socket itself (default: status_socket from the config)
  --count N       exit after N samples (scripts; default: run until q or Ctrl-C)

Reads the daemon's local status socket, never audio. Keys: q or Ctrl-C quits.
When stdout is not a terminal, prints one line per second instead of redrawing.
`;

export interface MonitorView {
  socketPath: string;
  hello: HelloMessage | null;
  status: StatusMessage | null;
  telemetry: TelemetryMessage | null;
  /** null while connected; otherwise why not (shown at the top of the frame). */
  disconnected: string | null;
}

const ESC = "\x1b[";
const BAR_WIDTH = 30;
/** The level meter spans this range; quieter reads as empty. */
const METER_FLOOR_DBFS = -90;

function bar(fraction: number, width = BAR_WIDTH): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

function clock(iso: string | null | undefined): string {
  if (!iso) return "--:--:--";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "--:--:--" : d.toTimeString().slice(0, 8);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function paint(text: string, code: string, color: boolean): string {
  return color ? `${ESC}${code}m${text}${ESC}0m` : text;
}

const STATE_COLOR: Record<string, string> = { IDLE: "32", SUSPECT: "33", ALERT: "1;31", HOLD: "31", COOLDOWN: "36" };

/** The whole frame, one string per terminal line. Pure: the tests check it with ANSI stripped. */
export function renderFrame(view: MonitorView, opts: { width?: number; color?: boolean; nowMs?: number } = {}): string[] {
  const color = opts.color ?? false;
  const width = Math.max(40, opts.width ?? 80);
  const lines: string[] = [];
  const s = view.status;
  const t = view.telemetry;
  const head = `earwitness monitor — ${view.hello ? `device ${view.hello.device_id}, earwitness ${view.hello.version}` : view.socketPath}`;
  lines.push(paint(head, "1", color));
  if (view.disconnected) lines.push(paint(`NOT CONNECTED: ${view.disconnected}`, "1;31", color));
  if (!s || !t) {
    lines.push(view.disconnected ? "" : "waiting for the daemon…");
  } else {
    const sinceS = Math.max(0, Math.round(((opts.nowMs ?? Date.parse(s.at)) - Date.parse(s.since)) / 1000));
    // Mute and Armed are independent: a muted unit stays armed and listens again when the mute ends.
    const arming = !s.armed ? paint("DISARMED", "1;33", color) : s.muted_until ? paint(`MUTED until ${clock(s.muted_until)}`, "33", color) : paint("armed", "32", color);
    lines.push(
      `state    ${paint(pad(s.state, 8), STATE_COLOR[s.state] ?? "0", color)} for ${sinceS} s   ${arming}${s.acknowledged ? "   acknowledged" : ""}${s.ready ? "" : "   (not ready)"}`,
    );
    lines.push(`input    ${bar((t.dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS)} ${t.dbfs.toFixed(1).padStart(6)} dBFS`);
    lines.push(`danger   ${paint(bar(s.danger), s.danger >= 0.5 ? "31" : "0", color)} ${s.danger.toFixed(2).padStart(6)}${s.emotion ? `  ${s.emotion}` : ""}`);
    lines.push("emotions");
    const probs = Object.entries(t.probs);
    if (probs.length === 0) lines.push("  (none yet: quiet, or disarmed)");
    for (const [label, p] of probs) lines.push(`  ${pad(label, 9)}${bar(p)} ${p.toFixed(2).padStart(6)}`);
    lines.push(`speed    rtf ${t.rtf.toFixed(3)}   queue ${t.queue_depth}   dropped ${t.dropped_windows}   windows ${t.windows_decided}`);
    const problems = Object.entries(s.problems);
    lines.push(problems.length === 0 ? `problems ${paint("none", "32", color)}` : paint(`problems (${problems.length})`, "1;31", color));
    for (const [code, message] of problems) lines.push(`  ${code}: ${message}`);
    lines.push(s.recent_alerts.length === 0 ? "alerts   none since the daemon started" : "recent alerts");
    for (const a of s.recent_alerts) {
      const what = a.test ? "TEST " : "ALERT";
      const span = a.ended_at ? `${clock(a.started_at)}–${clock(a.ended_at)}` : `${clock(a.started_at)}–now     `;
      lines.push(`  ${span}  ${what}  ${pad(a.emotion, 8)} peak ${a.peak.toFixed(2)}`);
    }
  }
  lines.push("");
  lines.push(paint("q or Ctrl-C quits", "2", color));
  return lines.map((l) => truncateVisible(l, width));
}

/** One line per sample, for a pipe or a log. */
export function renderLine(view: MonitorView): string {
  const s = view.status;
  const t = view.telemetry;
  if (!s || !t) return `${new Date().toISOString()} waiting for the daemon`;
  const probs = Object.entries(t.probs)
    .map(([k, v]) => `${k}=${v.toFixed(2)}`)
    .join(" ");
  const problems = Object.keys(s.problems);
  return [
    t.at,
    `state=${s.state}`,
    `armed=${s.armed}`,
    `danger=${s.danger.toFixed(2)}`,
    `dbfs=${t.dbfs.toFixed(1)}`,
    probs,
    `rtf=${t.rtf.toFixed(3)}`,
    `problems=${problems.length === 0 ? "none" : problems.join(",")}`,
    `alerts=${s.recent_alerts.length}`,
  ]
    .filter((x) => x !== "")
    .join(" ");
}

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI_RE, "");
}

/** Cuts a line to `width` visible characters, keeping its escape codes balanced. */
function truncateVisible(line: string, width: number): string {
  if (stripAnsi(line).length <= width) return line;
  let visible = 0;
  let out = "";
  for (let i = 0; i < line.length && visible < width - 1; ) {
    const m = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i)); // eslint-disable-line no-control-regex
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    out += line[i];
    i++;
    visible++;
  }
  return `${out}…${line.includes("\x1b[") ? `${ESC}0m` : ""}`;
}

/** Why the socket cannot be reached, and what to do. */
export function explainConnectError(socketPath: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case "ENOENT":
      return `no status socket at ${socketPath}: the daemon is not running (systemctl status earwitness), or it uses another status_socket (--config / --socket)`;
    case "ECONNREFUSED":
      return `nothing answers on ${socketPath}: the daemon is not running (systemctl status earwitness; journalctl -u earwitness)`;
    case "EACCES":
    case "EPERM":
      return `not permitted to open ${socketPath}: ${PERMISSION_HINT}`;
    default:
      return `cannot reach the daemon at ${socketPath}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export interface MonitorIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stderr: NodeJS.WritableStream;
}

export interface MonitorOptions {
  socketPath: string;
  /** Exit after this many telemetry samples; null = until q/Ctrl-C. */
  count: number | null;
  /** Reconnect delay while the daemon is away (terminal mode only). */
  reconnectMs?: number;
}

/**
 * Runs the monitor until the user quits (0), `count` samples were shown (0), or — in line mode —
 * the daemon cannot be reached or goes away (1). On a terminal a lost daemon is shown and retried.
 */
export async function runMonitor(opts: MonitorOptions, io: MonitorIo): Promise<number> {
  const tty = io.stdout.isTTY === true;
  const view: MonitorView = { socketPath: opts.socketPath, hello: null, status: null, telemetry: null, disconnected: null };
  let client: StatusClient | null = null;
  try {
    client = await connectStatusSocket(opts.socketPath);
  } catch (err) {
    if (!tty) {
      io.stderr.write(`earwitness monitor: ${explainConnectError(opts.socketPath, err)}\n`);
      return 1;
    }
    view.disconnected = explainConnectError(opts.socketPath, err);
  }

  return new Promise<number>((resolve) => {
    let samples = 0;
    let finished = false;
    let retry: NodeJS.Timeout | null = null;
    const draw = (): void => {
      if (!tty) return;
      const lines = renderFrame(view, { width: io.stdout.columns ?? 80, color: true, nowMs: Date.now() });
      io.stdout.write(`${ESC}H${lines.map((l) => `${l}${ESC}K`).join("\r\n")}\r\n${ESC}J`);
    };
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      if (retry) clearTimeout(retry);
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      client?.close();
      if (tty) {
        io.stdin.setRawMode?.(false);
        io.stdin.removeListener("data", onKey);
        io.stdin.pause();
        io.stdout.write(`${ESC}?25h${ESC}?1049l`);
      }
      resolve(code);
    };
    // Ctrl-C outside raw mode (line output), or a SIGTERM: restore the terminal and leave.
    const onSignal = (): void => finish(0);
    const onKey = (data: Buffer | string): void => {
      const text = data.toString();
      if (text.includes("q") || text.includes("Q") || text.includes("\x03")) finish(0);
    };
    const attach = (c: StatusClient): void => {
      view.disconnected = null;
      c.onMessage((m: StatusSocketMessage) => {
        if (m.type === "hello") view.hello = m;
        else if (m.type === "status") view.status = m;
        else if (m.type === "telemetry") {
          view.telemetry = m;
          samples++;
          if (!tty) io.stdout.write(renderLine(view) + "\n");
        }
        draw();
        if (opts.count !== null && samples >= opts.count) finish(0);
      });
      c.onClose(() => {
        if (finished) return;
        if (!tty) {
          io.stderr.write(`earwitness monitor: the daemon closed the status socket ${opts.socketPath} (stopped or restarting)\n`);
          finish(1);
          return;
        }
        view.disconnected = `the daemon went away (stopped or restarting); retrying`;
        draw();
        scheduleRetry();
      });
    };
    const scheduleRetry = (): void => {
      retry = setTimeout(() => {
        retry = null;
        connectStatusSocket(opts.socketPath).then(
          (c) => {
            if (finished) return c.close();
            client = c;
            attach(c);
          },
          (err: unknown) => {
            view.disconnected = explainConnectError(opts.socketPath, err);
            draw();
            if (!finished) scheduleRetry();
          },
        );
      }, opts.reconnectMs ?? 2_000);
    };
    if (tty) {
      io.stdout.write(`${ESC}?1049h${ESC}?25l${ESC}2J`);
      io.stdin.setRawMode?.(true);
      io.stdin.on("data", onKey);
      io.stdin.resume();
    }
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    if (client) attach(client);
    else scheduleRetry();
    draw();
  });
}

export async function monitorCommand(argv: string[], _log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    config: { type: "string" },
    socket: { type: "string" },
    count: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(MONITOR_HELP);
    return 0;
  }
  const count = v.count === undefined ? null : num(v.count, "count", { min: 1, integer: true });
  const socketPath =
    (v.socket as string | undefined) ??
    (await loadConfig({ path: v.config as string | undefined, env: process.env, hostname: hostname() })).status_socket;
  return runMonitor({ socketPath, count }, { stdout: process.stdout, stdin: process.stdin, stderr: process.stderr });
}
