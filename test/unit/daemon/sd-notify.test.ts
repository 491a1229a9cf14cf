import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNotifier, watchdogIntervalMs, type UnixDgramModule } from "../../../src/daemon/sd-notify.js";
import { silentLogger, type Logger } from "../../../src/log.js";

interface Listener {
  socket: { bind(path: string): void; close(): void };
  messages: string[];
}

const unixDgram = createRequire(import.meta.url)("unix-dgram") as UnixDgramModule & {
  createSocket(type: "unix_dgram", onMessage: (buf: Buffer) => void): Listener["socket"];
};

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function hasSystemdNotify(): boolean {
  try {
    execFileSync("systemd-notify", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A logger whose warnings and errors the test can read. */
function capturingLogger(): { log: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log: Logger = pino({ level: "warn" }, stream);
  return { log, lines: () => lines };
}

describe("createNotifier", () => {
  let tmp: string;
  let listener: Listener | null = null;

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), "earwitness-notify-"));
  });

  afterEach(() => {
    listener?.socket.close(); // the addon's poll handle would otherwise keep the worker alive
    listener = null;
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A fake NOTIFY_SOCKET: the datagram listener systemd would own. */
  function listen(): string {
    const path = join(tmp, "notify");
    const messages: string[] = [];
    const socket = unixDgram.createSocket("unix_dgram", (buf) => messages.push(buf.toString()));
    socket.bind(path);
    listener = { socket, messages };
    return path;
  }

  it("is a no-op without NOTIFY_SOCKET", () => {
    const n = createNotifier({}, silentLogger());
    expect(n).toMatchObject({ enabled: false, transport: "none", watchdogIntervalMs: null });
    expect(() => {
      n.ready();
      n.watchdog();
      n.status("x");
      n.stopping();
      n.reloading();
    }).not.toThrow();
  });

  it("sends READY, WATCHDOG, STATUS, RELOADING and STOPPING over the unix datagram socket", async () => {
    const path = listen();
    const n = createNotifier({ NOTIFY_SOCKET: path }, silentLogger());
    expect(n).toMatchObject({ enabled: true, transport: "socket" });
    n.ready();
    n.watchdog();
    n.status("listening on hw:1,0\nmodel v3");
    n.reloading();
    n.stopping();
    const messages = listener!.messages;
    await waitFor(() => messages.length >= 5, "five datagrams");
    expect(messages[0]).toBe("READY=1");
    expect(messages[1]).toBe("WATCHDOG=1");
    expect(messages[2]).toBe("STATUS=listening on hw:1,0 model v3");
    expect(messages[3]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    expect(messages[4]).toBe("STOPPING=1");
  });

  it("logs, and does not throw, when nobody listens on NOTIFY_SOCKET", () => {
    const { log, lines } = capturingLogger();
    const n = createNotifier({ NOTIFY_SOCKET: join(tmp, "nobody") }, log);
    expect(() => n.ready()).not.toThrow();
    expect(lines().join("")).toContain("systemd notification failed");
  });

  it("falls back to the systemd-notify CLI when unix-dgram does not load", async (ctx) => {
    if (!hasSystemdNotify()) ctx.skip();
    const path = listen();
    const { log, lines } = capturingLogger();
    const n = createNotifier({ NOTIFY_SOCKET: path }, log, {
      loadUnixDgram: () => {
        throw new Error("Cannot find module 'unix-dgram'");
      },
    });
    expect(n.transport).toBe("systemd-notify");
    expect(lines().join("")).toContain("NotifyAccess=all");
    n.ready();
    await waitFor(() => listener!.messages.includes("READY=1"), "READY=1 from systemd-notify");
    n.status("fallback works");
    await waitFor(() => listener!.messages.includes("STATUS=fallback works"), "STATUS from systemd-notify");
  });

  it("uses the CLI for an abstract NOTIFY_SOCKET, which unix-dgram cannot address", () => {
    const n = createNotifier({ NOTIFY_SOCKET: "@/org/freedesktop/systemd1/notify/42" }, silentLogger());
    expect(n.transport).toBe("systemd-notify");
  });

  it("reports a missing systemd-notify once, without throwing", async () => {
    const { log, lines } = capturingLogger();
    const n = createNotifier({ NOTIFY_SOCKET: "@abstract" }, log, {
      systemdNotifyCommand: join(tmp, "no-such-systemd-notify"),
    });
    n.ready();
    n.watchdog();
    await waitFor(() => lines().some((l) => l.includes("not found")), "the error log");
    await new Promise((r) => setTimeout(r, 200));
    expect(lines().filter((l) => l.includes("not found"))).toHaveLength(1);
  });
});

describe("watchdogIntervalMs", () => {
  it("is half of WATCHDOG_USEC, in ms", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 123)).toBe(15_000);
    const env = { NOTIFY_SOCKET: "@x", WATCHDOG_USEC: "30000000" };
    expect(createNotifier(env, silentLogger()).watchdogIntervalMs).toBe(15_000);
    expect(createNotifier({ WATCHDOG_USEC: "30000000" }, silentLogger()).watchdogIntervalMs).toBeNull();
  });

  it("honours WATCHDOG_PID", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "123" }, 123)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "456" }, 123)).toBeNull();
  });

  it("is null when the watchdog is off or the value is nonsense", () => {
    expect(watchdogIntervalMs({}, 1)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 1)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "soon" }, 1)).toBeNull();
  });
});
