/**
 * The microphone: raw signed 16-bit little-endian PCM, 16 kHz mono, read from `arecord` (alsa-utils)
 * or `sox`, supervised so that a dead, stalled, silent or misconfigured microphone is noticed,
 * reported as a problem, and restarted with exponential backoff — never by exiting the daemon.
 *
 * Why not node-record-lpcm16 (the usual npm package for this job): version 1.0.1 is ~100 lines that
 * spawn the recorder, and it can pass `-t raw` (option `audioType: "raw"`), but for a supervised
 * capture it gets in the way:
 *  - it spawns in its constructor and attaches no "error" listener to the child, so a missing
 *    binary (ENOENT) is an unhandled "error" event unless the caller reaches into `.process` in time;
 *  - it reports a non-zero exit as a *string* emitted as "error" on stdout, and says nothing at all
 *    about an exit with code 0 or by signal beyond a generic message ("exited with error code null");
 *  - it sends the recorder's stderr (where arecord says *why*: "audio open error: No such file or
 *    directory") only to the `debug` module, so the reason never reaches our problem report;
 *  - `stop()` sends SIGTERM and returns: no SIGKILL escalation, no way to await the exit;
 *  - its sox recorder selects the device through `AUDIODEV` and `--default-device`, and the binary
 *    names are fixed, so neither `sox -t alsa <device>` nor a `command` override fits.
 * Spawning ourselves is a few lines and lets us own every one of those paths.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Clock, TimerHandle } from "../clock.js";
import { INT16_FULL_SCALE, SAMPLE_RATE_HZ } from "../constants.js";
import type { Logger } from "../log.js";
import { MicFormatWatch } from "./format-check.js";

export type MicrophoneSource = "arecord" | "sox";

export type MicProblemCode = "mic_waiting" | "mic_exited" | "mic_stalled" | "mic_rate" | "mic_missing" | "mic_silent" | "clipping" | "mic_format";

/** A problem raised (`active: true`) or cleared (`active: false`) by the microphone. */
export interface MicProblem {
  code: MicProblemCode;
  message: string;
  active: boolean;
}

export interface MicrophoneOptions {
  /** Which recorder to run. */
  source: MicrophoneSource;
  /** ALSA device name, e.g. "default", "plughw:1,0". */
  device: string;
  /** No bytes for this long → the recorder is killed and restarted (`mic_stalled`). */
  stallTimeoutMs: number;
  /** First restart delay; doubles on every failure up to `backoffMaxMs`. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** After this long of healthy capture the backoff returns to `backoffMinMs`. */
  backoffResetMs: number;
  /** Window over which the byte rate is measured (`mic_rate`). */
  rateWindowMs: number;
  /** A 100 ms block whose peak is below this level counts as silent. */
  silenceDbfs: number;
  /** Silent this long without a break → `mic_silent` (a muted or dead capture channel). */
  silentForMs: number;
  /** Clipping this long without a break → `clipping` (gain far too high, or a stuck converter). */
  clipForMs: number;
  /**
   * At boot a USB microphone may appear after the daemon starts: until the first audio, failures
   * during this long after start() are retried (with backoff) and raised as the milder
   * `mic_waiting` (visible at once: the unit is not listening yet), not as `mic_exited` etc.
   */
  waitForDeviceMs: number;
  /** SIGTERM → SIGKILL delay when stopping or restarting the recorder. */
  killTimeoutMs: number;
  /** Path of the recorder binary instead of looking up `arecord`/`sox` on PATH. */
  command?: string;
}

/** Defaults for every option but `command`; the daemon spreads its config over these. */
export const MICROPHONE_DEFAULTS: Readonly<Omit<MicrophoneOptions, "command">> = {
  source: "arecord",
  device: "default",
  stallTimeoutMs: 5_000,
  backoffMinMs: 1_000,
  backoffMaxMs: 60_000,
  backoffResetMs: 30_000,
  rateWindowMs: 5_000,
  // A working analog front end never has a 100 ms peak below −80 dBFS (3 LSB); digital zeros do.
  silenceDbfs: -80,
  silentForMs: 30_000,
  clipForMs: 5_000,
  waitForDeviceMs: 0,
  killTimeoutMs: 3_000,
};

export interface MicrophoneStats {
  running: boolean;
  /** The current recorder process, if one is alive. */
  pid: number | null;
  bytesReceived: number;
  /** Recorder processes started after a failure. */
  restarts: number;
  /** The delay of the most recently scheduled restart; 0 once capture has been healthy long enough. */
  currentBackoffMs: number;
  /** The delay the next failure will wait. */
  nextBackoffMs: number;
  activeProblems: MicProblemCode[];
}

export type PcmListener = (samples: Int16Array, tMs: number) => void;
export type ProblemListener = (problem: MicProblem) => void;

const BYTES_PER_SECOND = SAMPLE_RATE_HZ * 2;
/**
 * Plausible byte-rate band. A wrong rate is far outside it (a hw: device that ignored -r 16000
 * and runs at 44.1 or 48 kHz gives ×2.8 or ×3), while a loaded Pi that reads the pipe late stays
 * well inside when measured over seconds.
 */
export const RATE_MIN_RATIO = 0.6;
export const RATE_MAX_RATIO = 1.6;

const PROCESS_PROBLEMS: readonly MicProblemCode[] = ["mic_waiting", "mic_exited", "mic_stalled", "mic_rate", "mic_missing"];

/** The Debian package that provides each recorder, for the `mic_missing` message. */
const PACKAGE_OF: Record<MicrophoneSource, string> = { arecord: "alsa-utils", sox: "sox" };

/** One recorder process and what has been seen of it. */
interface Capture {
  proc: ChildProcess | null;
  command: string;
  lastDataMs: number;
  firstDataMs: number | null;
  /** Start of the current rate window; null until the first byte. */
  windowStartMs: number | null;
  windowBytes: number;
  healthySinceMs: number | null;
  stderrTail: string;
  stderrLine: string;
  carry: Buffer | null;
  /** A failure was handled (or we are stopping it): ignore its later events. */
  failed: boolean;
  hasExited: boolean;
  exited: Promise<void>;
  markExited: () => void;
  killing: Promise<void> | null;
}

export class Microphone {
  private readonly opts: MicrophoneOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly levels: MicLevelWatch;
  /** Wrong-format audio (random bytes, byte-swapped samples) at the right byte rate: `mic_format`. */
  private readonly format = new MicFormatWatch();
  private readonly dataListeners = new Set<PcmListener>();
  private readonly problemListeners = new Set<ProblemListener>();
  private readonly active = new Set<MicProblemCode>();

  private running = false;
  private capture: Capture | null = null;
  private stopping: Promise<void> | null = null;
  private restartTimer: TimerHandle | null = null;
  private tickTimer: TimerHandle | null = null;
  private tickDueMs = 0;
  private startedMs = 0;
  private everHadData = false;
  private bytesReceived = 0;
  private restarts = 0;
  private nextBackoffMs: number;
  private lastBackoffMs = 0;

  constructor(options: Partial<MicrophoneOptions>, deps: { clock: Clock; log: Logger }) {
    // Skip explicit `undefined`s (an unset config key) so they do not erase a default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...MICROPHONE_DEFAULTS, ...given };
    this.clock = deps.clock;
    this.log = deps.log.child({ component: "microphone" });
    this.levels = new MicLevelWatch(this.opts);
    this.nextBackoffMs = this.opts.backoffMinMs;
  }

  /** PCM chunks as they arrive; `tMs` is `clock.nowMs()` at arrival (≈ time of the last sample). */
  onData(cb: PcmListener): () => void {
    this.dataListeners.add(cb);
    return () => this.dataListeners.delete(cb);
  }

  onProblem(cb: ProblemListener): () => void {
    this.problemListeners.add(cb);
    return () => this.problemListeners.delete(cb);
  }

  get stats(): MicrophoneStats {
    const proc = this.capture?.proc;
    return {
      running: this.running,
      pid: proc && !this.capture?.hasExited ? (proc.pid ?? null) : null,
      bytesReceived: this.bytesReceived,
      restarts: this.restarts,
      currentBackoffMs: this.lastBackoffMs,
      nextBackoffMs: this.nextBackoffMs,
      activeProblems: [...this.active],
    };
  }

  async start(): Promise<void> {
    if (this.stopping) await this.stopping;
    if (this.running) return;
    this.running = true;
    this.startedMs = this.clock.monotonicMs();
    this.everHadData = false;
    this.spawnCapture();
    this.armTick();
  }

  /** Kills the recorder (SIGTERM, then SIGKILL) and resolves once it has been reaped. */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (!this.running && !this.capture) return;
    this.running = false;
    if (this.restartTimer) this.clock.clearTimeout(this.restartTimer);
    if (this.tickTimer) this.clock.clearTimeout(this.tickTimer);
    this.restartTimer = null;
    this.tickTimer = null;
    const c = this.capture;
    this.stopping = (async () => {
      if (c) {
        c.failed = true;
        await this.kill(c);
      }
      this.capture = null;
      this.log.info("microphone stopped");
    })().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private commandLine(): { command: string; args: string[] } {
    const { source, device } = this.opts;
    const rate = String(SAMPLE_RATE_HZ);
    if (source === "sox") {
      return {
        command: this.opts.command ?? "sox",
        args: ["-q", "-t", "alsa", device, "-t", "raw", "-r", rate, "-e", "signed", "-b", "16", "-c", "1", "-"],
      };
    }
    // Raw, not WAV: arecord's WAV header has a 32-bit size, so WAV output stops at 2 GiB (~18 h).
    return {
      command: this.opts.command ?? "arecord",
      args: ["-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", rate, "-c", "1"],
    };
  }

  private spawnCapture(): void {
    const { command, args } = this.commandLine();
    let markExited = (): void => {};
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const now = this.clock.monotonicMs();
    const c: Capture = {
      proc: null,
      command,
      lastDataMs: now,
      firstDataMs: null,
      windowStartMs: null,
      windowBytes: 0,
      healthySinceMs: null,
      stderrTail: "",
      stderrLine: "",
      carry: null,
      failed: false,
      hasExited: false,
      exited,
      markExited: () => {
        c.hasExited = true;
        markExited();
      },
      killing: null,
    };
    this.capture = c;
    this.levels.reset();
    this.format.reset();
    this.log.debug({ command, args }, "starting recorder");
    let proc: ChildProcess;
    try {
      proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      // Only invalid arguments throw synchronously; treat like any failed start.
      c.markExited();
      this.fail(c, "mic_exited", `cannot start ${command}: ${(err as Error).message}`);
      return;
    }
    c.proc = proc;
    proc.on("error", (err: NodeJS.ErrnoException) => {
      if (proc.pid !== undefined) {
        this.log.warn({ err }, "recorder process error");
        return;
      }
      c.markExited(); // never ran: nothing to reap
      if (err.code === "ENOENT") {
        const pkg = PACKAGE_OF[this.opts.source];
        this.fail(c, "mic_missing", `${command} not found: install the ${pkg} package (sudo apt install ${pkg})`);
      } else {
        this.fail(c, "mic_exited", `cannot run ${command}: ${err.message}`);
      }
    });
    proc.on("exit", () => c.markExited());
    proc.on("close", (code, signal) => {
      c.markExited();
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = (c.stderrTail + c.stderrLine).trim();
      this.fail(c, "mic_exited", `${command} ${why}${tail ? `: ${tail}` : ""}`);
    });
    proc.stdout?.on("data", (chunk: Buffer) => this.onChunk(c, chunk));
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (text: string) => this.onStderr(c, text));
    // Stream errors (EPIPE after a kill) are followed by "close"; do not let them go unhandled.
    proc.stdout?.on("error", (err) => this.log.debug({ err }, "recorder stdout error"));
    proc.stderr?.on("error", (err) => this.log.debug({ err }, "recorder stderr error"));
  }

  private onStderr(c: Capture, text: string): void {
    const lines = (c.stderrLine + text).split("\n");
    c.stderrLine = lines.pop() ?? "";
    for (const line of lines) {
      const trimmed = line.trim().slice(0, 300);
      if (!trimmed) continue;
      // arecord explains failures here ("audio open error", "overrun!!!"): keep the last words.
      c.stderrTail = trimmed;
      this.log.warn({ stderr: trimmed }, "recorder says");
    }
  }

  private onChunk(c: Capture, chunk: Buffer): void {
    if (c !== this.capture || c.failed || !this.running) return;
    const now = this.clock.monotonicMs();
    c.lastDataMs = now;
    this.bytesReceived += chunk.length;
    if (c.firstDataMs === null) {
      // The first chunk opens the rate window and is not counted in it: arecord may deliver
      // a start-up burst, which would inflate a short window.
      c.firstDataMs = now;
      c.windowStartMs = now;
      this.everHadData = true;
      this.log.info({ pid: c.proc?.pid }, "audio flowing");
      this.clear("mic_waiting", "the microphone delivers audio");
    } else {
      c.windowBytes += chunk.length;
    }

    const samples = decodeS16le(c, chunk);
    if (samples.length === 0) return;
    for (const event of this.levels.push(samples)) {
      if (event.active) this.raise(event.code, event.message);
      else this.clear(event.code, event.message);
    }
    for (const event of this.format.push(samples)) {
      if (event.active) this.raise(event.code, `${event.message} (recorder: ${c.command}, audio.device ${this.opts.device})`);
      else this.clear(event.code, event.message);
    }
    const tMs = this.clock.nowMs();
    for (const cb of this.dataListeners) {
      try {
        cb(samples, tMs);
      } catch (err) {
        // A consumer's bug must not stop capture for the others.
        this.log.error({ err }, "audio consumer threw");
      }
    }
  }

  private armTick(): void {
    // Stall and rate are judged on a periodic tick rather than a timer reset per chunk.
    const tickMs = this.tickMs();
    this.tickDueMs = this.clock.monotonicMs() + tickMs;
    this.tickTimer = this.clock.setTimeout(() => this.tick(), tickMs);
  }

  private tickMs(): number {
    return Math.min(1_000, Math.max(20, Math.min(this.opts.stallTimeoutMs, this.opts.rateWindowMs) / 4));
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.clock.monotonicMs();
    const lateMs = now - this.tickDueMs;
    this.armTick();
    const c = this.capture;
    if (!c || c.failed || c.hasExited) return;
    if (lateMs > this.tickMs()) {
      // The event loop was blocked (e.g. a long inference): audio may be waiting unread in the
      // pipe, so "no bytes" or "too few bytes" would blame the microphone for our own delay.
      // Judge again on the next tick, after the pipe has been read.
      if (c.windowStartMs !== null) {
        c.windowStartMs = now;
        c.windowBytes = 0;
      }
      return;
    }
    const { stallTimeoutMs, rateWindowMs } = this.opts;
    if (now - c.lastDataMs >= stallTimeoutMs) {
      const what = c.firstDataMs === null ? "no audio since start" : "no audio";
      this.fail(c, "mic_stalled", `${c.command}: ${what} for ${Math.round(now - c.lastDataMs)} ms`);
      return;
    }
    if (c.windowStartMs !== null && now - c.windowStartMs >= rateWindowMs) {
      const bytesPerSecond = (c.windowBytes * 1000) / (now - c.windowStartMs);
      c.windowStartMs = now;
      c.windowBytes = 0;
      const ratio = bytesPerSecond / BYTES_PER_SECOND;
      if (ratio < RATE_MIN_RATIO || ratio > RATE_MAX_RATIO) {
        this.fail(
          c,
          "mic_rate",
          `${c.command} delivers ${Math.round(bytesPerSecond)} bytes/s, expected ${BYTES_PER_SECOND} ` +
            `(16 kHz S16_LE mono): the device ignores the requested rate or format; try a plughw: device`,
        );
        return;
      }
      this.healthy(c, now);
    }
  }

  /** A full rate window of plausible audio: process problems clear, and in time the backoff resets. */
  private healthy(c: Capture, now: number): void {
    c.healthySinceMs ??= c.firstDataMs ?? now;
    for (const code of PROCESS_PROBLEMS) this.clear(code, "audio flowing again");
    if (this.lastBackoffMs !== 0 && now - c.healthySinceMs >= this.opts.backoffResetMs) {
      this.log.info({ afterMs: Math.round(now - c.healthySinceMs) }, "capture healthy: backoff reset");
      this.nextBackoffMs = this.opts.backoffMinMs;
      this.lastBackoffMs = 0;
    }
  }

  private fail(c: Capture, code: MicProblemCode, reason: string): void {
    if (c.failed || !this.running || c !== this.capture) return;
    c.failed = true;
    void this.kill(c);
    const delayMs = this.nextBackoffMs;
    this.lastBackoffMs = delayMs;
    this.nextBackoffMs = Math.min(delayMs * 2, this.opts.backoffMaxMs);
    const message = `${reason}; restarting in ${delayMs} ms`;
    const waitingForDevice =
      code !== "mic_missing" &&
      !this.everHadData &&
      this.clock.monotonicMs() - this.startedMs < this.opts.waitForDeviceMs;
    if (waitingForDevice) {
      // Not silent about it (issue #11 §3): "no problems" while nothing is heard would be a lie.
      // Raised once; the retries that follow are logged.
      if (this.active.has("mic_waiting")) this.log.info({ code }, `still waiting for the microphone: ${message}`);
      else this.raise("mic_waiting", `waiting for the microphone, not listening yet: ${message}`);
    } else {
      this.clear("mic_waiting", `gave up waiting: ${code}`);
      this.raise(code, message);
    }
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = null;
      // Never run two recorders on one device: the new one would fail with "Device or resource busy".
      void c.exited.then(() => {
        if (!this.running || this.capture !== c) return;
        this.restarts += 1;
        this.spawnCapture();
      });
    }, delayMs);
  }

  /** SIGTERM, then SIGKILL after killTimeoutMs; resolves when the process has been reaped. */
  private kill(c: Capture): Promise<void> {
    if (c.killing) return c.killing;
    const proc = c.proc;
    if (!proc || c.hasExited) return (c.killing = Promise.resolve());
    c.killing = new Promise<void>((resolve) => {
      proc.kill("SIGTERM");
      const term = this.clock.setTimeout(() => {
        this.log.warn({ pid: proc.pid }, "recorder ignored SIGTERM: sending SIGKILL");
        proc.kill("SIGKILL");
        const gaveUp = this.clock.setTimeout(() => {
          // Only a process stuck in the kernel (a hung USB device) survives SIGKILL.
          this.log.error({ pid: proc.pid }, "recorder survives SIGKILL; giving up waiting for it");
          resolve();
        }, this.opts.killTimeoutMs);
        void c.exited.then(() => this.clock.clearTimeout(gaveUp));
      }, this.opts.killTimeoutMs);
      void c.exited.then(() => {
        this.clock.clearTimeout(term);
        resolve();
      });
    });
    return c.killing;
  }

  private raise(code: MicProblemCode, message: string): void {
    this.active.add(code);
    this.log.warn({ code }, message);
    this.emitProblem({ code, message, active: true });
  }

  private clear(code: MicProblemCode, message: string): void {
    if (!this.active.delete(code)) return;
    this.log.info({ code }, `cleared: ${message}`);
    this.emitProblem({ code, message, active: false });
  }

  private emitProblem(problem: MicProblem): void {
    for (const cb of this.problemListeners) {
      try {
        cb(problem);
      } catch (err) {
        this.log.error({ err }, "problem listener threw");
      }
    }
  }
}

/** Little-endian 16-bit samples from a byte stream whose chunks may split a sample. */
function decodeS16le(c: Capture, chunk: Buffer): Int16Array {
  let buf = chunk;
  if (c.carry) {
    buf = Buffer.concat([c.carry, chunk]);
    c.carry = null;
  }
  const n = buf.length >> 1;
  if (buf.length % 2 === 1) c.carry = Buffer.from(buf.subarray(buf.length - 1));
  const out = new Int16Array(n);
  // readInt16LE rather than an Int16Array view: the view would need an even byteOffset and a
  // little-endian host; 16 000 reads a second cost nothing.
  for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

export interface LevelEvent {
  code: "mic_silent" | "clipping";
  active: boolean;
  message: string;
}

/** Samples per judged block: 100 ms. Counting samples, not wall time, makes it chunk-size invariant. */
const LEVEL_BLOCK_SAMPLES = SAMPLE_RATE_HZ / 10;
const LEVEL_BLOCK_MS = 100;
/** A block clips when at least this share of its samples sit at full scale. */
const CLIP_FRACTION = 0.01;
/** A raised level problem clears after this long of contrary evidence (no flapping). */
const LEVEL_CLEAR_MS = 1_000;

/**
 * Digital silence and sustained clipping, judged on 100 ms blocks of samples. Pure: feed samples,
 * get raise/clear events.
 */
export class MicLevelWatch {
  private readonly silencePeak: number;
  private readonly silentBlocks: number;
  private readonly clipBlocks: number;
  private readonly clearBlocks = LEVEL_CLEAR_MS / LEVEL_BLOCK_MS;
  private readonly opts: { silenceDbfs: number; silentForMs: number; clipForMs: number };
  private filled = 0;
  private peak = 0;
  private fullScale = 0;
  private silentRun = 0;
  private loudRun = 0;
  private clipRun = 0;
  private cleanRun = 0;
  private silentActive = false;
  private clipActive = false;

  constructor(opts: { silenceDbfs: number; silentForMs: number; clipForMs: number }) {
    this.opts = opts;
    this.silencePeak = INT16_FULL_SCALE * 10 ** (opts.silenceDbfs / 20);
    this.silentBlocks = Math.max(1, Math.ceil(opts.silentForMs / LEVEL_BLOCK_MS));
    this.clipBlocks = Math.max(1, Math.ceil(opts.clipForMs / LEVEL_BLOCK_MS));
  }

  /** Forget a partial block and the running counts (a new recorder); raised problems stay raised. */
  reset(): void {
    this.filled = this.peak = this.fullScale = 0;
    this.silentRun = this.loudRun = this.clipRun = this.cleanRun = 0;
  }

  push(samples: Int16Array): LevelEvent[] {
    const events: LevelEvent[] = [];
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i] as number;
      const a = s < 0 ? -s : s;
      if (a > this.peak) this.peak = a;
      if (a >= INT16_FULL_SCALE - 1) this.fullScale += 1;
      if (++this.filled === LEVEL_BLOCK_SAMPLES) this.endBlock(events);
    }
    return events;
  }

  private endBlock(events: LevelEvent[]): void {
    const silent = this.peak < this.silencePeak;
    const clipping = this.fullScale >= CLIP_FRACTION * LEVEL_BLOCK_SAMPLES;
    this.filled = this.peak = this.fullScale = 0;

    this.silentRun = silent ? this.silentRun + 1 : 0;
    this.loudRun = silent ? 0 : this.loudRun + 1;
    if (!this.silentActive && this.silentRun >= this.silentBlocks) {
      this.silentActive = true;
      events.push({
        code: "mic_silent",
        active: true,
        message:
          `microphone silent (peak below ${this.opts.silenceDbfs} dBFS) for ${this.opts.silentForMs} ms: ` +
          `check the capture switch and gain (alsamixer) and the microphone cable`,
      });
    } else if (this.silentActive && this.loudRun >= this.clearBlocks) {
      this.silentActive = false;
      events.push({ code: "mic_silent", active: false, message: "microphone hears sound again" });
    }

    this.clipRun = clipping ? this.clipRun + 1 : 0;
    this.cleanRun = clipping ? 0 : this.cleanRun + 1;
    if (!this.clipActive && this.clipRun >= this.clipBlocks) {
      this.clipActive = true;
      events.push({
        code: "clipping",
        active: true,
        message: `microphone clipping for ${this.opts.clipForMs} ms: lower the capture gain (alsamixer)`,
      });
    } else if (this.clipActive && this.cleanRun >= this.clearBlocks) {
      this.clipActive = false;
      events.push({ code: "clipping", active: false, message: "microphone no longer clipping" });
    }
  }
}
