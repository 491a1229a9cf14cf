/**
 * Progress with an estimated time left, for the long commands (train, eval, bench, calibrate,
 * replay, features): one renderer, two modes.
 *
 *   bar    a terminal for a person: one line redrawn in place with `\r` (at most every
 *          `redrawEveryMs`), `[#####-----]  45 %  train epoch 3/30  ETA 3m12s`.
 *   lines  a pipe, a CI log, a JSON log: whole lines, one per `lineEveryShare` of the work or
 *          `lineEveryMs`, whichever comes first — no carriage returns for a log file to keep.
 *
 * Log lines never land inside the bar: the logger calls `beforeLine()` (the bar's line is
 * cleared and the cursor is at column 0), writes its line, then `afterLine()` (the bar is
 * redrawn below it). Both the logger (stdout) and the bar (stderr) write synchronously, so on
 * one terminal the order of writes is the order on screen.
 *
 * The time comes from an injected clock (src/clock.ts); the ETA is a pure function of the
 * elapsed time and the share done, so tests drive both with test/fakes/fake-clock.ts.
 */
import type { Clock } from "../clock.js";
import type { LogFormat } from "../log.js";

/** Where the progress goes: process.stderr in the CLI; a recording fake in tests. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export type ProgressMode = "bar" | "lines";

/** Called around every log line, so that a line is never written into the bar. */
export interface LineHook {
  beforeLine(): void;
  afterLine(): void;
}

/**
 * The bar on a terminal a person watches; plain lines when the output is not a terminal, under
 * CI (CI=true, as GitHub Actions, GitLab and most runners set it: their logs keep every `\r`
 * redraw), or when the log is JSON (a machine reads it; a bar between its lines would only be
 * noise).
 */
export function progressMode(isTTY: boolean, env: NodeJS.ProcessEnv, logFormat: LogFormat): ProgressMode {
  if (!isTTY) return "lines";
  const ci = env.CI;
  if (ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false") return "lines";
  return logFormat === "json" ? "lines" : "bar";
}

/**
 * Milliseconds left at the average rate so far: elapsed × (1 − share) / share. Null while there
 * is too little to go on (nothing done yet, or under `minElapsedMs`: the first batch of a
 * training run includes tfjs's warm-up and would promise hours).
 */
export function etaMs(elapsedMs: number, share: number, minElapsedMs = 2000): number | null {
  if (!(share > 0) || !Number.isFinite(share) || elapsedMs < minElapsedMs) return null;
  if (share >= 1) return 0;
  return (elapsedMs * (1 - share)) / share;
}

/** 42s, 3m05s, 1h02m: short enough for a bar, precise enough to plan a coffee. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, "0")}m`;
}

/** What a task has reached: the input of the pure renderers below. */
export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** What `done` counts ("clips", "s of audio"); shown as `12/40 clips`. */
  unit: string;
  /** Free text after the count (`loss 1.234`). */
  detail: string;
  elapsedMs: number;
}

const shareOf = (s: ProgressState): number => (s.total > 0 ? Math.max(0, Math.min(1, s.done / s.total)) : 0);
const countOf = (s: ProgressState): string => `${fmtCount(s.done)}/${fmtCount(s.total)}${s.unit ? ` ${s.unit}` : ""}`;
const fmtCount = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const timeOf = (s: ProgressState): string => {
  const eta = etaMs(s.elapsedMs, shareOf(s));
  return `${formatDuration(s.elapsedMs)} elapsed${eta === null ? "" : `, ETA ${formatDuration(eta)}`}`;
};

/** The bar line (no `\r`, no newline), cut to `columns − 1` so that it never wraps. */
export function barLine(s: ProgressState, columns = 100, width = 24): string {
  const share = shareOf(s);
  const filled = Math.round(share * width);
  const pct = `${Math.floor(share * 100)}`.padStart(3);
  const line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct} %  ${s.label} ${countOf(s)}${s.detail ? `  ${s.detail}` : ""}  ${timeOf(s)}`;
  return line.slice(0, Math.max(10, columns - 1));
}

/** A plain progress line (no newline): `train: 45 % (18/40 batches) loss 1.2, 3m elapsed, ETA 4m`. */
export function plainLine(s: ProgressState): string {
  return `${s.label}: ${Math.floor(shareOf(s) * 100)} % (${countOf(s)})${s.detail ? ` ${s.detail}` : ""}, ${timeOf(s)}`;
}

/** The line a finished task leaves behind. */
export function doneLine(s: ProgressState): string {
  return `${s.label}: done, ${countOf(s)}${s.detail ? ` ${s.detail}` : ""} in ${formatDuration(s.elapsedMs)}`;
}

/** What a long-running stage needs of the renderer: it starts tasks and reports on them. */
export interface ProgressStarter {
  start(label: string, total: number, unit?: string): ProgressTask;
}

export interface ProgressTask {
  /** `done` of `total` (a new total when given: a training run learns its batch count late). */
  update(done: number, detail?: string, total?: number): void;
  /** The task is over: its last state stays on screen as a plain line. Idempotent. */
  finish(detail?: string): void;
}

export interface ProgressOptions {
  stream: ProgressStream;
  clock: Pick<Clock, "monotonicMs">;
  mode: ProgressMode;
  /** Bar mode: the fewest milliseconds between redraws (a Pi's terminal over SSH is slow). */
  redrawEveryMs?: number;
  /** Lines mode: a line each time this share of the work is passed … */
  lineEveryShare?: number;
  /** … or this long after the last line, whichever comes first. */
  lineEveryMs?: number;
}

const CLEAR_LINE = "\r\x1b[K";

/**
 * The one renderer. One task is shown at a time; starting another finishes the one before.
 * The CLI makes one (src/cli/main.ts) and hands it to the logger (as its LineHook) and to the
 * commands.
 */
export class Progress implements LineHook, ProgressStarter {
  private current: TaskImpl | null = null;
  /** Whether the bar's line is on screen (the cursor then sits at its end). */
  private drawn = false;

  constructor(private readonly o: ProgressOptions) {}

  get mode(): ProgressMode {
    return this.o.mode;
  }

  start(label: string, total: number, unit = ""): ProgressTask {
    this.current?.finish();
    const task = new TaskImpl(this, label, total, unit, this.o.clock.monotonicMs());
    this.current = task;
    return task;
  }

  beforeLine(): void {
    if (!this.drawn) return;
    this.o.stream.write(CLEAR_LINE);
    this.drawn = false;
  }

  afterLine(): void {
    if (this.current && this.o.mode === "bar") this.draw(this.current.state());
  }

  /** A message for people (not a log record) on its own line, never inside the bar. */
  say(text: string): void {
    this.beforeLine();
    this.o.stream.write(text.endsWith("\n") ? text : `${text}\n`);
    this.afterLine();
  }

  /** Runs `write` (output on another stream: a report line on stdout) with the bar out of its way. */
  interject(write: () => void): void {
    this.beforeLine();
    try {
      write();
    } finally {
      this.afterLine();
    }
  }

  /** @internal TaskImpl's view of the clock and options. */
  nowMs(): number {
    return this.o.clock.monotonicMs();
  }

  /** @internal */
  options(): Required<Omit<ProgressOptions, "stream" | "clock" | "mode">> {
    return { redrawEveryMs: this.o.redrawEveryMs ?? 100, lineEveryShare: this.o.lineEveryShare ?? 0.1, lineEveryMs: this.o.lineEveryMs ?? 30_000 };
  }

  /** @internal */
  draw(s: ProgressState): void {
    this.o.stream.write(`${this.drawn ? "\r" : ""}${barLine(s, this.o.stream.columns || 100)}\x1b[K`);
    this.drawn = true;
  }

  /** @internal */
  line(text: string): void {
    this.beforeLine();
    this.o.stream.write(`${text}\n`);
  }

  /** @internal */
  ended(task: TaskImpl): void {
    if (this.current === task) this.current = null;
  }
}

class TaskImpl implements ProgressTask {
  private done = 0;
  private detail = "";
  private lastDrawMs = -Infinity;
  private lastLineMs: number;
  private lastLineStep = 0;
  private over = false;

  constructor(
    private readonly p: Progress,
    private readonly label: string,
    private total: number,
    private readonly unit: string,
    private readonly startMs: number,
  ) {
    this.lastLineMs = startMs;
  }

  state(): ProgressState {
    return { label: this.label, done: this.done, total: this.total, unit: this.unit, detail: this.detail, elapsedMs: this.p.nowMs() - this.startMs };
  }

  update(done: number, detail?: string, total?: number): void {
    if (this.over) return;
    this.done = done;
    if (detail !== undefined) this.detail = detail;
    if (total !== undefined) this.total = total;
    const now = this.p.nowMs();
    const opts = this.p.options();
    if (this.p.mode === "bar") {
      if (now - this.lastDrawMs < opts.redrawEveryMs && done < this.total) return;
      this.lastDrawMs = now;
      this.p.draw(this.state());
      return;
    }
    const share = this.total > 0 ? done / this.total : 0;
    const step = Math.floor(share / opts.lineEveryShare + 1e-9);
    if (step > this.lastLineStep || now - this.lastLineMs >= opts.lineEveryMs) {
      if (share >= 1) return; // finish() says it
      this.lastLineStep = Math.max(step, this.lastLineStep);
      this.lastLineMs = now;
      this.p.line(plainLine(this.state()));
    }
  }

  finish(detail?: string): void {
    if (this.over) return;
    this.over = true;
    if (detail !== undefined) this.detail = detail;
    this.p.line(doneLine(this.state()));
    this.p.ended(this);
  }
}
