/**
 * systemd service notification (sd_notify(3)): READY=1 once the pipeline runs, WATCHDOG=1 while
 * audio arrives and inference keeps up (the daemon decides when; there is deliberately no timer
 * here — STYLE.md: no blind watchdog), STATUS=, STOPPING=1, RELOADING=1.
 *
 * Transport, chosen once in createNotifier and reported as `transport`:
 *  - "none": NOTIFY_SOCKET unset (not started by systemd, or Type= is not notify): every call is a
 *    no-op.
 *  - "socket": NOTIFY_SOCKET is a unix *datagram* socket. Node's `dgram` has no AF_UNIX datagram
 *    sockets and `net` only does streams, so we use the optional native addon `unix-dgram`. The
 *    message comes from our own PID, so the unit can keep NotifyAccess=main.
 *  - "systemd-notify": the addon did not load (it is optional and native: its build can fail on a
 *    Pi without a toolchain), or NOTIFY_SOCKET is an abstract socket ("@…"), or the path exceeds
 *    sun_path: unix-dgram copies the path with strncpy, so it can address neither. We then run the
 *    `systemd-notify` CLI per message. Its datagram comes from a child PID, which systemd accepts
 *    only with NotifyAccess=all — systemd/earwitness.service sets that, so either transport works
 *    without editing the unit. (Recent systemd-notify — 252 tested — follows with BARRIER=1 and waits
 *    until systemd has processed the message, so it is attributed to the unit before the CLI exits;
 *    older versions could have it dropped.)
 * Failures to notify are logged and never thrown: a missed notification must not stop detection.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { Logger } from "../log.js";

export type NotifyTransport = "none" | "socket" | "systemd-notify";

export interface Notifier {
  /** True when NOTIFY_SOCKET is set (we run under systemd with Type=notify). */
  readonly enabled: boolean;
  readonly transport: NotifyTransport;
  /**
   * How often to call watchdog(): half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; null
   * when systemd runs no watchdog for this process (unset, or WATCHDOG_PID names another process).
   */
  readonly watchdogIntervalMs: number | null;
  ready(): void;
  watchdog(): void;
  status(text: string): void;
  stopping(): void;
  /** Before re-reading config on SIGHUP; call ready() when the reload is done. */
  reloading(): void;
}

/** The part of the `unix-dgram` module we use (it ships no types). */
export interface UnixDgramModule {
  createSocket(type: "unix_dgram"): UnixDgramSocket;
}
export interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
}

export interface NotifierOptions {
  /** Loads unix-dgram; tests pass one that throws to exercise the CLI fallback. */
  loadUnixDgram?: () => UnixDgramModule;
  /** The CLI used by the fallback. */
  systemdNotifyCommand?: string;
  /** Our PID, compared with WATCHDOG_PID. */
  pid?: number;
}

/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
const SUN_PATH_MAX_BYTES = 107;
/** unix-dgram reports EAGAIN as "congestion"; a full notify socket drains in milliseconds. */
const CONGESTION_RETRIES = 3;
const CONGESTION_RETRY_MS = 100;

const requireCjs = createRequire(import.meta.url);

function loadUnixDgram(): UnixDgramModule {
  return requireCjs("unix-dgram") as UnixDgramModule;
}

/** Half of WATCHDOG_USEC in ms, or null when the watchdog is off or meant for another process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined || usec === "") return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== "" && Number(env.WATCHDOG_PID) !== pid) return null;
  const n = Number(usec);
  if (!Number.isFinite(n) || n <= 0) return null;
  return Math.max(1, Math.floor(n / 2_000));
}

export function createNotifier(env: NodeJS.ProcessEnv, log: Logger, options: NotifierOptions = {}): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  const interval = watchdogIntervalMs(env, options.pid ?? process.pid);
  const nlog = log.child({ component: "sd-notify" });
  if (!socketPath) {
    // A watchdog interval without a socket to ping would only mislead the caller.
    return makeNotifier("none", null, () => {});
  }

  let send: (message: string) => void;
  let transport: NotifyTransport;
  const dgram = socketPath.startsWith("@") || Buffer.byteLength(socketPath) > SUN_PATH_MAX_BYTES
    ? { module: null, why: `unix-dgram cannot address NOTIFY_SOCKET=${socketPath}` }
    : tryLoad(options.loadUnixDgram ?? loadUnixDgram);
  if (dgram.module) {
    transport = "socket";
    send = socketSender(dgram.module, socketPath, nlog);
  } else {
    transport = "systemd-notify";
    send = cliSender(options.systemdNotifyCommand ?? "systemd-notify", env, nlog);
    nlog.warn(
      { reason: dgram.why },
      "notifying systemd through the systemd-notify CLI: the unit needs NotifyAccess=all",
    );
  }
  nlog.info({ transport, watchdogIntervalMs: interval }, "systemd notification enabled");
  return makeNotifier(transport, interval, send);
}

function tryLoad(load: () => UnixDgramModule): { module: UnixDgramModule | null; why: string } {
  try {
    return { module: load(), why: "" };
  } catch (err) {
    return { module: null, why: `unix-dgram did not load: ${(err as Error).message}` };
  }
}

function makeNotifier(
  transport: NotifyTransport,
  interval: number | null,
  send: (message: string) => void,
): Notifier {
  return {
    enabled: transport !== "none",
    transport,
    watchdogIntervalMs: interval,
    ready: () => send("READY=1"),
    watchdog: () => send("WATCHDOG=1"),
    // One line: a newline would start a new VARIABLE= assignment in the datagram.
    status: (text) => send(`STATUS=${text.replace(/[\r\n]+/g, " ")}`),
    stopping: () => send("STOPPING=1"),
    // MONOTONIC_USEC is required by Type=notify-reload (systemd ≥ 253) and ignored by Type=notify.
    // process.hrtime is CLOCK_MONOTONIC on Linux (libuv's uv_hrtime), the clock systemd compares.
    reloading: () => send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`),
  };
}

/** One short-lived socket per message: no handle keeps the process alive, nothing to close. */
function socketSender(mod: UnixDgramModule, path: string, log: Logger): (message: string) => void {
  const attempt = (message: string, triesLeft: number): void => {
    let socket: UnixDgramSocket;
    try {
      socket = mod.createSocket("unix_dgram");
    } catch (err) {
      log.warn({ err, message }, "cannot create a socket to notify systemd");
      return;
    }
    const buf = Buffer.from(message);
    try {
      socket.send(buf, 0, buf.length, path, (err) => {
        if (!err) return;
        if (err.message === "congestion" && triesLeft > 0) {
          setTimeout(() => attempt(message, triesLeft - 1), CONGESTION_RETRY_MS).unref();
          return;
        }
        log.warn({ err, message, path }, "systemd notification failed");
      });
    } finally {
      try {
        socket.close();
      } catch (err) {
        log.debug({ err }, "closing the notify socket failed");
      }
    }
  };
  return (message) => attempt(message, CONGESTION_RETRIES);
}

function cliSender(command: string, env: NodeJS.ProcessEnv, log: Logger): (message: string) => void {
  let missingReported = false;
  return (message) => {
    const child = spawn(command, message.split("\n"), { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let failedToRun = false;
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (t: string) => (stderr = (stderr + t).slice(-500)));
    child.on("error", (err: NodeJS.ErrnoException) => {
      failedToRun = true;
      if (err.code === "ENOENT") {
        if (!missingReported) log.error({ command }, `${command} not found: install systemd or the unix-dgram addon`);
        missingReported = true;
        return;
      }
      log.warn({ err, message }, "systemd-notify failed to run");
    });
    child.on("close", (code) => {
      if (!failedToRun && code !== 0) log.warn({ code, stderr: stderr.trim(), message }, "systemd-notify failed");
    });
  };
}
