import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderFrame, runMonitor, stripAnsi, type MonitorIo } from "../../../src/cli/monitor-command.js";
import { StatusSocketServer } from "../../../src/daemon/status-socket.js";
import { silentLogger } from "../../../src/log.js";
import { FakeClock } from "../../fakes/fake-clock.js";
import { FakeStatusProvider } from "../../fakes/fake-status-provider.js";

class Capture extends Writable {
  text = "";
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function io(tty: boolean): { io: MonitorIo; out: Capture; err: Capture; keys: PassThrough } {
  const out = new Capture(tty);
  const err = new Capture(false);
  const keys = new PassThrough();
  return { io: { stdout: out, stderr: err, stdin: Object.assign(keys, { isTTY: tty, setRawMode: () => keys }) }, out, err, keys };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
let sock: string;
let server: StatusSocketServer;
let provider: FakeStatusProvider;
let clock: FakeClock;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-monitor-"));
  sock = path.join(dir, "status.sock");
  provider = new FakeStatusProvider();
  clock = new FakeClock(Date.UTC(2025, 0, 1, 12));
  server = new StatusSocketServer({ path: sock, deviceId: "kitchen", version: "1.2.3" }, { provider, clock, log: silentLogger() });
  await server.start();
});
afterEach(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("earwitness monitor against a status socket", () => {
  it("draws frames in place on a terminal and quits on q", async () => {
    const t = io(true);
    const done = runMonitor({ socketPath: sock, count: null }, t.io);
    await until(() => stripAnsi(t.out.text).includes("neutral"), "the first frame");
    provider.current = { ...provider.current, state: "ALERT", danger: 0.91, emotion: "angry", sinceMs: Date.UTC(2025, 0, 1, 12) };
    provider.problems = { mic_silent: "the microphone has been silent for 120 s" };
    provider.sample = { ...provider.sample, probs: { angry: 0.88, fear: 0.07, neutral: 0.05 }, dbfs: -18 };
    server.recordAlert({ phase: "start", alertId: "a1", startedAtMs: Date.UTC(2025, 0, 1, 12), peak: 0.91, mean: 0.8, emotion: "angry", probs: {}, dbfs: -18, test: false, thresholds: {} });
    clock.advance(1000);
    await until(() => stripAnsi(t.out.text).includes("mic_silent"), "the alert frame");
    t.keys.write("q");
    expect(await done).toBe(0);
    const raw = t.out.text;
    expect(raw.startsWith("\x1b[?1049h")).toBe(true); // alternate screen
    expect(raw.endsWith("\x1b[?25h\x1b[?1049l")).toBe(true); // cursor and screen restored
    const frames = raw.split("\x1b[H").slice(1).map(stripAnsi);
    const last = frames[frames.length - 1]!;
    expect(last).toMatch(/earwitness monitor — device kitchen, earwitness 1.2.3/);
    expect(last).toMatch(/state {4}ALERT/);
    expect(last).toMatch(/input {4}\[#{24}-{6}\] +-18.0 dBFS/); // (-18 + 90) / 90 of 30
    expect(last).toMatch(/danger {3}\[#{27}-{3}\] +0.91 {2}angry/);
    expect(last).toMatch(/angry {4}\[#{26}-{4}\] +0.88/);
    expect(last).toMatch(/problems \(1\)\r?\n {2}mic_silent: the microphone has been silent for 120 s/);
    expect(last).toMatch(/12:00:00–now .* ALERT {2}angry/);
    for (const line of last.split(/\r?\n/)) expect(line.length).toBeLessThanOrEqual(80);
  });

  it("prints one line per sample when stdout is not a terminal, and stops after --count", async () => {
    const t = io(false);
    const done = runMonitor({ socketPath: sock, count: 2 }, t.io);
    await until(() => t.out.text.split("\n").length >= 2, "the first line");
    clock.advance(1000);
    expect(await done).toBe(0);
    const lines = t.out.text.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/state=IDLE armed=true danger=0.05 dbfs=-42.5 angry=0.10 fear=0.05 neutral=0.85 rtf=0.120 problems=none alerts=0/);
    expect(t.out.text).not.toContain("\x1b[");
  });

  it("says clearly when no daemon is running", async () => {
    await server.stop();
    const t = io(false);
    expect(await runMonitor({ socketPath: sock, count: null }, t.io)).toBe(1);
    expect(t.err.text).toMatch(/no status socket at .*status.sock: the daemon is not running/);
  });

  it("renders a waiting frame before any data, within the width", () => {
    const lines = renderFrame({ socketPath: "/run/x.sock", hello: null, status: null, telemetry: null, disconnected: "no status socket at /run/x.sock" }, { width: 40 });
    expect(lines[0]).toBe("earwitness monitor — /run/x.sock");
    expect(lines[1]!.length).toBeLessThanOrEqual(40);
    expect(lines[1]!.endsWith("…")).toBe(true);
  });
});
