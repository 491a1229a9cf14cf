/**
 * The shipped configuration in a process of its own, holding what the daemon's process holds for
 * detection: the models loaded as the daemon loads them (assemble/model.ts loadModelHandle: the
 * speech model and, when detect.screams is on, the scream branch's; tfjs only for a bundle that
 * needs it), the running adaptation and the daemon's Pipeline built by pipelineOptions, fed
 * synthetic speech as fast as the CPU allows (throughput.ts runPipeline), with its resident memory
 * sampled as it goes.
 *
 * Why a process of its own: the benchmark itself loads tfjs and its wasm backend to measure the
 * tfjs variants, so memory measured inside it says nothing about the daemon (issue 14, point 7:
 * it reported 134 MB while the daemon no longer needed tfjs). What this process does not hold of
 * the daemon — its MQTT client, logger, status socket, configuration and microphone — is measured
 * with the real daemon in docs/performance.md.
 *
 * Parent side: runPipelineProcess forks this file (IPC, structured-clone serialisation). Child
 * side: when run as a forked script, it waits for one options message, answers with progress
 * messages and one result (or error) message, and exits.
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadModelHandle, newRunningAdaptation } from "../assemble/model.js";
import { pipelineOptions } from "../config/detect-params.js";
import { DAEMON_NODE_FLAGS } from "../assemble/node-flags.js";
import type { Config } from "../config/schema.js";
import { MB, nowMs } from "./stats.js";
import { runPipeline, type PipelineRun } from "./throughput.js";

export interface PipelineProcessOptions {
  /** The configuration the daemon would run (detect, detect.screams, adaptation, model.backend). */
  config: Config;
  /** The speech model's directory. */
  modelDir: string;
  /** Audio fed, seconds, warm-up included. */
  audioSeconds: number;
  warmupSeconds: number;
  chunkSamples: number;
  seed: number;
  memoryEverySec: number;
  /** Times the models are loaded (the first, cold, is timed separately). */
  loads: number;
}

export interface PipelineProcessResult {
  run: PipelineRun;
  name: string;
  engine: "lean" | "tfjs";
  /** The scream branch's model when it ran beside the speech model, and why not when it was on but could not. */
  screams: { name: string; version: string } | null;
  scream_problem: string | null;
  /** Whether tfjs-core was evaluated in the process by the end (its engine registers `_tfengine` on the global object). */
  tfjs_loaded: boolean;
  /** Each load of the models through loadModelHandle, ms (the first in a fresh process). */
  load_ms: number[];
  /** Node flags of the process: DAEMON_NODE_FLAGS, as systemd/earwitness.service starts the daemon. */
  exec_argv: string[];
  /** /proc/self/status at the end: anonymous memory (heap, wasm, buffers) and file-backed pages (the node binary, libraries); null off Linux. */
  rss_split_mb: { anon: number; file: number } | null;
}

type ToParent = { type: "progress"; fraction: number } | { type: "result"; result: PipelineProcessResult } | { type: "error"; message: string; stack?: string };

const THIS_FILE = fileURLToPath(import.meta.url);

/** Runs the measurement in a child process; `onProgress` gets the fraction of audio done. */
export function runPipelineProcess(o: PipelineProcessOptions, onProgress?: (fraction: number) => void): Promise<PipelineProcessResult> {
  return new Promise((resolve, reject) => {
    // The daemon's node flags, as the systemd unit gives them (src/assemble/node-flags.ts), and no
    // other: not the bench's own (a debugger's), nor NODE_OPTIONS, which the environment would
    // pass on without showing in the process's execArgv, the flags this result reports.
    const env = { ...process.env };
    delete env["NODE_OPTIONS"];
    const child = fork(THIS_FILE, [], {
      execArgv: [...DAEMON_NODE_FLAGS],
      env,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    child.on("message", (m: ToParent) => {
      if (m.type === "progress") onProgress?.(m.fraction);
      else if (m.type === "result") {
        settled = true;
        resolve(m.result);
      } else {
        settled = true;
        reject(Object.assign(new Error(`pipeline process: ${m.message}`), { stack: m.stack }));
      }
    });
    child.on("error", (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    child.on("exit", (code, signal) => {
      if (!settled) reject(new Error(`pipeline process exited (${signal ?? `code ${String(code)}`}) without a result`));
      settled = true;
    });
    child.send(o);
  });
}

function rssSplit(): { anon: number; file: number } | null {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s*(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
    return { anon: (kb("RssAnon") * 1024) / MB, file: (kb("RssFile") * 1024) / MB };
  } catch {
    return null;
  }
}

async function measure(o: PipelineProcessOptions, send: (m: ToParent) => void): Promise<PipelineProcessResult> {
  const load_ms: number[] = [];
  let first: Awaited<ReturnType<typeof loadModelHandle>> | null = null;
  for (let i = 0; i < Math.max(1, o.loads); i++) {
    const t0 = nowMs();
    const ready = await loadModelHandle(o.config, o.modelDir);
    load_ms.push(nowMs() - t0);
    if (first === null) first = ready;
    else ready.dispose();
  }
  const model = first!;
  const options = pipelineOptions(o.config, model, newRunningAdaptation(o.config, model.bundle));
  const run = runPipeline({
    classifier: options.classifier,
    detect: options.detect,
    screams: options.screams ?? null,
    adaptation: options.adaptation ?? null,
    audioSeconds: o.audioSeconds,
    chunkSamples: o.chunkSamples,
    seed: o.seed,
    warmupSeconds: o.warmupSeconds,
    memoryEverySec: o.memoryEverySec,
    progress: (fraction) => send({ type: "progress", fraction }),
  });
  const result: PipelineProcessResult = {
    run,
    name: model.bundle.meta.name,
    engine: model.engine,
    screams: model.screams ? { name: model.screams.info.name, version: model.screams.info.version } : null,
    scream_problem: model.screamProblem,
    tfjs_loaded: "_tfengine" in globalThis,
    load_ms,
    exec_argv: process.execArgv,
    rss_split_mb: rssSplit(),
  };
  model.dispose();
  return result;
}

// Child side: only when forked as a script (importing this module does nothing).
if (process.send !== undefined && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const send = (m: ToParent, then?: () => void): void => {
    process.send!(m, undefined, undefined, () => then?.());
  };
  process.once("message", (o: PipelineProcessOptions) => {
    measure(o, send).then(
      (result) => send({ type: "result", result }, () => process.disconnect()),
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        send({ type: "error", message: e.message, ...(e.stack ? { stack: e.stack } : {}) }, () => {
          process.exitCode = 1;
          process.disconnect();
        });
      },
    );
  });
}
