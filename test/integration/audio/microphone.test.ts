/**
 * The supervised microphone against the fake `arecord` and `sox` (test/fakes/fake-recorder.mjs):
 * real child processes, real pipes and signals, so it lives with the integration tests.
 * MicLevelWatch, which is pure, is tested in test/unit/audio/microphone.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Microphone, type MicProblem, type MicrophoneOptions } from "../../../src/audio/microphone.js";
import { systemClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log.js";
import { pathWithFakeBin } from "../../fakes/fake-bin.js";

/** Poll until `cond` holds; generous bound because the machine may be loaded. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function wav16k(samples: Int16Array): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, i * 2));
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(36 + data.length, 4);
  h.write("WAVEfmt ", 8, "ascii");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(16_000, 24);
  h.writeUInt32LE(32_000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "ascii");
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Deterministic speech-like test signal covering the whole int16 range, including both extremes. */
function testSignal(n: number): Int16Array {
  const out = new Int16Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((x >> 8) & 0xffff) - 32768;
  }
  out[0] = -32768;
  out[1] = 32767;
  return out;
}

interface Harness {
  mic: Microphone;
  problems: MicProblem[];
  chunks: Int16Array[];
  samples(): number;
  raised(code: string): MicProblem | undefined;
  cleared(code: string): MicProblem | undefined;
}

const FAKE_KEYS = [
  "FAKE_ARECORD_WAV",
  "FAKE_ARECORD_END",
  "FAKE_ARECORD_MODE",
  "FAKE_ARECORD_SPEED",
  "FAKE_ARECORD_CHUNK_BYTES",
  "FAKE_ARECORD_DEVICE_FILE",
  "FAKE_ARECORD_IGNORE_TERM",
  "FAKE_ARECORD_LOG",
  "FAKE_ARECORD_FAIL_RUNS",
];

describe("Microphone against the fake arecord", () => {
  let tmp: string;
  let savedPath: string | undefined;
  const mics: Microphone[] = [];

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), "earwitness-mic-"));
    savedPath = process.env.PATH;
    process.env.PATH = pathWithFakeBin(savedPath);
    for (const k of FAKE_KEYS) delete process.env[k];
    process.env.FAKE_ARECORD_LOG = join(tmp, "runs.jsonl");
  });

  afterEach(async () => {
    await Promise.all(mics.splice(0).map((m) => m.stop()));
    process.env.PATH = savedPath;
    for (const k of FAKE_KEYS) delete process.env[k];
    rmSync(tmp, { recursive: true, force: true });
  });

  function runs(): { pid: number; name: string; args: string[]; mode: string }[] {
    const log = join(tmp, "runs.jsonl");
    if (!existsSync(log)) return [];
    return readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid: number; name: string; args: string[]; mode: string });
  }

  function harness(options: Partial<MicrophoneOptions> = {}): Harness {
    const mic = new Microphone(
      {
        device: "hw:7,0",
        stallTimeoutMs: 3_000,
        backoffMinMs: 50,
        backoffMaxMs: 400,
        backoffResetMs: 60_000,
        rateWindowMs: 1_000,
        silentForMs: 60_000,
        clipForMs: 60_000,
        killTimeoutMs: 1_000,
        ...options,
      },
      { clock: systemClock, log: silentLogger() },
    );
    mics.push(mic);
    const problems: MicProblem[] = [];
    const chunks: Int16Array[] = [];
    mic.onProblem((p) => problems.push(p));
    mic.onData((s) => chunks.push(s));
    return {
      mic,
      problems,
      chunks,
      samples: () => chunks.reduce((n, c) => n + c.length, 0),
      raised: (code) => problems.find((p) => p.code === code && p.active),
      cleared: (code) => problems.find((p) => p.code === code && !p.active),
    };
  }

  function concat(chunks: Int16Array[]): Int16Array {
    const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  for (const source of ["arecord", "sox"] as const) {
    it(`delivers the file's samples exactly from ${source}, across odd chunk boundaries`, async () => {
      const signal = testSignal(12_000);
      writeFileSync(join(tmp, "in.wav"), wav16k(signal));
      process.env.FAKE_ARECORD_WAV = join(tmp, "in.wav");
      process.env.FAKE_ARECORD_CHUNK_BYTES = "333"; // splits samples between writes
      const h = harness({ source });
      await h.mic.start();
      await waitFor(() => h.samples() >= signal.length, "the whole file");
      expect(concat(h.chunks).subarray(0, signal.length)).toEqual(signal);
      expect(h.problems.filter((p) => p.active)).toEqual([]);
      const [run] = runs();
      expect(run?.name).toBe(source);
      expect(run?.args).toContain("hw:7,0");
      expect(run?.args.join(" ")).toContain("-t raw");
      expect(h.mic.stats.bytesReceived).toBeGreaterThanOrEqual(signal.length * 2);
    });
  }

  it("restarts a recorder that exits, raises mic_exited with its error text, then clears it", async () => {
    process.env.FAKE_ARECORD_MODE = "exit-after:200";
    process.env.FAKE_ARECORD_FAIL_RUNS = "1";
    const h = harness();
    await h.mic.start();
    await waitFor(() => h.raised("mic_exited") !== undefined, "mic_exited");
    expect(h.raised("mic_exited")?.message).toMatch(/exited with code 1: .*read error: Input\/output error/);
    await waitFor(() => h.cleared("mic_exited") !== undefined, "mic_exited cleared");
    expect(h.mic.stats.restarts).toBeGreaterThanOrEqual(1);
    expect(runs().length).toBeGreaterThanOrEqual(2);
    expect(h.mic.stats.activeProblems).toEqual([]);
  });

  it("kills and restarts a stalled recorder (mic_stalled), then clears it", async () => {
    process.env.FAKE_ARECORD_MODE = "stall-after:200";
    process.env.FAKE_ARECORD_FAIL_RUNS = "1";
    const h = harness({ stallTimeoutMs: 500 });
    await h.mic.start();
    await waitFor(() => h.raised("mic_stalled") !== undefined, "mic_stalled");
    const stalledPid = runs()[0]?.pid as number;
    await waitFor(() => h.cleared("mic_stalled") !== undefined, "mic_stalled cleared");
    expect(h.mic.stats.restarts).toBeGreaterThanOrEqual(1);
    expect(() => process.kill(stalledPid, 0)).toThrow(); // the stalled process was killed and reaped
  });

  it("restarts a recorder delivering garbage at an implausible rate (mic_rate)", async () => {
    process.env.FAKE_ARECORD_MODE = "garbage"; // 4× real time
    process.env.FAKE_ARECORD_FAIL_RUNS = "1";
    const h = harness();
    await h.mic.start();
    await waitFor(() => h.raised("mic_rate") !== undefined, "mic_rate");
    expect(h.raised("mic_rate")?.message).toMatch(/expected 32000/);
    await waitFor(() => h.cleared("mic_rate") !== undefined, "mic_rate cleared");
  });

  it("raises mic_silent on digital silence", async () => {
    process.env.FAKE_ARECORD_MODE = "silence";
    const h = harness({ silentForMs: 500 });
    await h.mic.start();
    await waitFor(() => h.raised("mic_silent") !== undefined, "mic_silent");
    expect(h.raised("mic_silent")?.message).toMatch(/alsamixer/);
    expect(h.mic.stats.restarts).toBe(0); // silence is reported, not "fixed" by restarting
  });

  it("raises clipping on sustained full-scale audio", async () => {
    process.env.FAKE_ARECORD_MODE = "clip";
    const h = harness({ clipForMs: 500 });
    await h.mic.start();
    await waitFor(() => h.raised("clipping") !== undefined, "clipping");
    expect(h.raised("mic_silent")).toBeUndefined();
  });

  for (const [source, pkg] of [
    ["arecord", "alsa-utils"],
    ["sox", "sox"],
  ] as const) {
    it(`reports a missing ${source} binary as mic_missing naming ${pkg}, and keeps retrying`, async () => {
      process.env.PATH = join(tmp, "empty-bin"); // nothing to run there
      const h = harness({ source });
      await h.mic.start();
      await waitFor(() => h.mic.stats.restarts >= 2, "retries");
      expect(h.raised("mic_missing")?.message).toContain(`install the ${pkg} package`);
      expect(h.mic.stats.running).toBe(true);
    });
  }

  it("grows the backoff exponentially and caps it", async () => {
    process.env.FAKE_ARECORD_MODE = "missing-device";
    const h = harness({ backoffMinMs: 20, backoffMaxMs: 80 });
    const delays: number[] = [];
    h.mic.onProblem((p) => {
      if (p.active) delays.push(h.mic.stats.currentBackoffMs);
    });
    await h.mic.start();
    await waitFor(() => delays.length >= 5, "five failures", 20_000);
    expect(delays.slice(0, 5)).toEqual([20, 40, 80, 80, 80]);
    expect(h.raised("mic_exited")?.message).toContain("audio open error: No such file or directory");
  });

  it("resets the backoff after a period of healthy capture", async () => {
    process.env.FAKE_ARECORD_MODE = "missing-device";
    process.env.FAKE_ARECORD_FAIL_RUNS = "3";
    const h = harness({ backoffMinMs: 50, backoffMaxMs: 1_000, rateWindowMs: 500, backoffResetMs: 1_000 });
    const next: number[] = [];
    h.mic.onProblem((p) => {
      if (p.active) next.push(h.mic.stats.nextBackoffMs);
    });
    await h.mic.start();
    await waitFor(() => h.cleared("mic_exited") !== undefined, "recovery");
    expect(next).toEqual([100, 200, 400]);
    await waitFor(() => h.mic.stats.nextBackoffMs === 50, "backoff reset");
    expect(h.mic.stats.currentBackoffMs).toBe(0);
  });

  it("waits for a device that appears after boot, visibly (mic_waiting from the first failure), then captures", async () => {
    const deviceFile = join(tmp, "device-present");
    process.env.FAKE_ARECORD_DEVICE_FILE = deviceFile;
    const h = harness({ waitForDeviceMs: 60_000 });
    await h.mic.start();
    // Issue #11 §3: a dead microphone during the grace period is a problem from the first second,
    // not "no problems" for a minute; only the harsher codes (mic_exited…) wait for the grace.
    await waitFor(() => h.problems.some((p) => p.code === "mic_waiting" && p.active), "mic_waiting", 1_500);
    await waitFor(() => runs().length >= 3, "several attempts");
    expect(h.problems.filter((p) => p.active).map((p) => p.code)).toEqual(["mic_waiting"]);
    writeFileSync(deviceFile, "");
    await waitFor(() => h.samples() >= 1600, "audio after the device appears");
    await waitFor(() => h.problems.some((p) => p.code === "mic_waiting" && !p.active), "mic_waiting cleared");
    expect(h.problems.map((p) => p.code)).toEqual(["mic_waiting", "mic_waiting"]);
  });

  it("stop() kills the recorder, reaps it, does not restart, and is idempotent", async () => {
    const h = harness();
    await h.mic.start();
    await h.mic.start(); // idempotent: still one recorder
    await waitFor(() => h.samples() > 0, "audio");
    const pid = h.mic.stats.pid as number;
    expect(runs().map((r) => r.pid)).toEqual([pid]);
    await Promise.all([h.mic.stop(), h.mic.stop()]);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(h.mic.stats).toMatchObject({ running: false, pid: null });
    await new Promise((r) => setTimeout(r, 300));
    expect(runs()).toHaveLength(1);
    expect(h.problems).toEqual([]);
  });

  it("stop() escalates to SIGKILL when the recorder ignores SIGTERM", async () => {
    process.env.FAKE_ARECORD_IGNORE_TERM = "1";
    const h = harness({ killTimeoutMs: 300 });
    await h.mic.start();
    await waitFor(() => h.samples() > 0, "audio");
    const pid = h.mic.stats.pid as number;
    await h.mic.stop();
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("can be started again after stop()", async () => {
    const h = harness();
    await h.mic.start();
    await waitFor(() => h.samples() > 0, "audio");
    await h.mic.stop();
    const before = h.samples();
    await h.mic.start();
    await waitFor(() => h.samples() > before, "audio after restart");
    expect(runs()).toHaveLength(2);
  });
});
