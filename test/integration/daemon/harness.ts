/**
 * Runs the real daemon (`node dist/src/cli/main.js run --config …`) as a child process, with the
 * fake `arecord` first on PATH, a temp state dir and TMPDIR, and reads its JSON log lines.
 * dist/ is built by test/global-setup.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connectStatusSocket, type StatusClient } from "../../../src/status/client.js";
import { encodeWav } from "../../fixtures/wav-writer.js";
import { pathWithFakeBin } from "../../fakes/fake-bin.js";

export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
export const MAIN_JS = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one `earwitness` command (the built CLI) to completion, from the repository root, with
 * PATH and only the environment given (HOME, TMPDIR, … as the test wants them).
 */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface DaemonProcess {
  child: ChildProcess;
  lines: LogLine[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  waitLog(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILL if still running, and wait for it. */
  kill(): Promise<void>;
}

/**
 * How much faster than real time the fake recorder feeds every daemon here. Tests that wait for
 * audio to play divide by it. It must stay inside the microphone's plausible-rate bounds or every
 * daemon would raise mic_rate: test/integration/daemon/recorder-speed.test.ts checks that against
 * the bounds themselves, so changing either says so at once instead of as a flaky daemon test.
 */
export const FAKE_RECORDER_SPEED = 1.5;

const running = new Set<DaemonProcess>();

export function startDaemon(configPath: string, env: Record<string, string>, tmpDir: string): DaemonProcess {
  const child = spawn(process.execPath, [MAIN_JS, "run", "--config", configPath], {
    cwd: REPO_ROOT,
    env: {
      PATH: pathWithFakeBin(),
      HOME: process.env.HOME ?? tmpDir,
      TMPDIR: tmpDir,
      FAKE_ARECORD_SPEED: String(FAKE_RECORDER_SPEED),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  let stderr = "";
  let partial = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => {
    const parts = (partial + text).split("\n");
    partial = parts.pop() ?? "";
    for (const p of parts) {
      if (!p.trim()) continue;
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        lines.push({ level: 0, msg: p });
      }
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (t: string) => (stderr = (stderr + t).slice(-8000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const proc: DaemonProcess = {
    child,
    lines,
    stderr: () => stderr,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async waitLog(pred, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (!proc.alive()) throw new Error(`daemon exited while waiting for ${what}; stderr: ${stderr}\nlast logs: ${JSON.stringify(lines.slice(-10))}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last logs: ${JSON.stringify(lines.slice(-10))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async kill() {
      if (proc.alive()) child.kill("SIGKILL");
      await exited;
      running.delete(proc);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Connects to a daemon's status socket once it listens (it opens after the model has loaded). */
export async function waitForStatusSocket(socketPath: string, timeoutMs = 20_000): Promise<StatusClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectStatusSocket(socketPath);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** SIGKILL every daemon a test left running. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

export interface ConfigOptions {
  deviceId: string;
  stateDir: string;
  modelDir: string | null;
  brokerUrl: string;
  /** Extra YAML under `detect:` (indented by the caller as a flow mapping, e.g. "{ cooldown_s: 300 }"). */
  detect?: string;
  audio?: string;
  telemetryS?: number;
  /** YAML flow mapping under `http:`; default off, so parallel daemons do not fight over port 8787. */
  http?: string;
}

export function configYaml(o: ConfigOptions): string {
  return [
    `device_id: ${o.deviceId}`,
    `state_dir: ${o.stateDir}`,
    "log_level: info",
    `audio: ${o.audio ?? "{ source: arecord, device: default, restart_backoff_min_s: 0.5, wait_for_device_s: 0 }"}`,
    o.modelDir === null ? "" : `model: { dir: ${o.modelDir}, backend: cpu }`,
    o.detect ? `detect: ${o.detect}` : "",
    "gpio: { driver: console }",
    `mqtt: { enabled: true, url: "${o.brokerUrl}", telemetry_interval_s: ${o.telemetryS ?? 0}, discovery: { enabled: false } }`,
    `http: ${o.http ?? "{ enabled: false }"}`,
    "",
  ].join("\n");
}

export async function writeConfig(file: string, o: ConfigOptions): Promise<string> {
  await mkdir(o.stateDir, { recursive: true });
  await writeFile(file, configYaml(o));
  return file;
}

/** Seeded white noise at the given RMS-ish amplitude (speech-band loudness for the energy gate). */
export function noise(seconds: number, amplitude: number, seed = 1): Float32Array {
  const n = Math.round(seconds * 16_000);
  const out = new Float32Array(n);
  let a = seed;
  for (let i = 0; i < n; i++) {
    a = (a * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((a / 0x7fffffff) * 2 - 1) * amplitude;
  }
  return out;
}

export function silence(seconds: number): Float32Array {
  return new Float32Array(Math.round(seconds * 16_000));
}

export async function writeWav(file: string, ...parts: Float32Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  await writeFile(file, encodeWav([all], 16_000, "pcm16"));
  return file;
}

/** Every file under `dir`, recursively, with its size. */
export async function listFiles(dir: string): Promise<{ file: string; size: number }[]> {
  const out: { file: string; size: number }[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    const s = await stat(p);
    if (s.isDirectory()) out.push(...(await listFiles(p)));
    else out.push({ file: p, size: s.size });
  }
  return out;
}
