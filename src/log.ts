import { pino, type Logger, type LevelWithSilent } from "pino";
import { prettyFactory } from "pino-pretty";

export type { Logger };

/** How log lines look: pino JSON, coloured lines for a terminal, or plain text lines for journald. */
export type LogFormat = "json" | "pretty" | "text";

/**
 * The format when the configuration names none (`log_format: null`):
 *   - text under systemd: stderr is not a terminal and JOURNAL_STREAM is set (systemd sets it for
 *     a service whose output goes to the journal, which adds the time and the unit itself);
 *   - pretty on a terminal;
 *   - JSON otherwise (pipes, log shippers, the tests that parse the daemon's lines).
 * A configured format always wins.
 */
export function resolveLogFormat(configured: "text" | "json" | null | undefined, env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  if (configured) return configured;
  if (isTTY) return "pretty";
  return env.JOURNAL_STREAM ? "text" : "json";
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
/** sd-daemon(3) priority prefixes: journald files each line under its level (`journalctl -p warning`). */
const SYSLOG_PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
/** Fields a text line shows in its head, or leaves out (the journal has time, pid and host). */
const HEAD_FIELDS = new Set(["level", "time", "msg", "component", "pid", "hostname", "command"]);

function textValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return JSON.stringify(value);
}

/**
 * One pino record as a line for people: `INFO mqtt: alert delivered id=… age_ms=…`; an error
 * shows its message (and code), not its stack, which stays available with log_format: json.
 * `syslogPrefix` adds journald's `<N>` priority.
 */
export function formatTextLine(record: Record<string, unknown>, syslogPrefix = false): string {
  const level = typeof record.level === "number" ? record.level : 30;
  const name = LEVEL_NAMES[level] ?? "INFO";
  const component = typeof record.component === "string" ? `${record.component}: ` : "";
  const parts = [`${name} ${component}${typeof record.msg === "string" ? record.msg : ""}`];
  for (const [key, value] of Object.entries(record)) {
    if (HEAD_FIELDS.has(key) || value === undefined) continue;
    if (key === "err" && typeof value === "object" && value !== null) {
      const err = value as { message?: unknown; code?: unknown };
      parts.push(`error=${textValue(err.message ?? "")}`);
      if (err.code !== undefined) parts.push(`code=${textValue(err.code)}`);
      continue;
    }
    parts.push(`${key}=${textValue(value)}`);
  }
  return `${syslogPrefix ? `<${SYSLOG_PRIORITY[level] ?? 6}>` : ""}${parts.join(" ")}\n`;
}

/** Around each log line (src/report/progress.ts: the bar is cleared before it and redrawn after). */
export interface LogLineHook {
  beforeLine(): void;
  afterLine(): void;
}

export interface LoggerIo {
  /** Called around every line written, so that nothing else on the terminal cuts into it. */
  hook?: LogLineHook;
  /** Where lines go (default: stdout, written synchronously); tests pass a recording stream. */
  out?: { write(line: string): unknown };
}

/**
 * The root logger, on stdout, in `format` (resolveLogFormat). Components take
 * `log.child({ component: "mqtt" })` (STYLE.md §15).
 *
 * Every format writes synchronously on this thread, pretty included (pino-pretty's formatter,
 * not its worker-thread transport): a line must be on screen before `io.hook.afterLine` redraws
 * a progress bar under it, and a transport's worker writes whenever it likes.
 */
export function createLogger(level: LevelWithSilent = "info", format: LogFormat = "json", env: NodeJS.ProcessEnv = process.env, io: LoggerIo = {}): Logger {
  // Synchronous writes: pino's default destination buffers 4 KiB before writing, so a quiet
  // daemon's (or a long training's) last lines would sit unseen in memory — and be lost on a
  // crash, exactly when they matter. Our log volume is small.
  const out = io.out ?? pino.destination({ dest: 1, sync: true });
  const hook = io.hook;
  const emit = (text: string): void => {
    hook?.beforeLine();
    out.write(text);
    hook?.afterLine();
  };
  if (format === "pretty") {
    const prettify = prettyFactory({ colorize: io.out === undefined, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
    return pino({ level }, { write: (line: string) => emit(prettify(line)) });
  }
  if (format === "json") return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, { write: emit });
  const prefix = Boolean(env.JOURNAL_STREAM);
  return pino({ level, base: undefined, timestamp: false }, { write: (line: string) => emit(formatTextLine(JSON.parse(line) as Record<string, unknown>, prefix)) });
}

/** A logger that drops everything; for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/**
 * tfjs talks to the console on its own: a banner recommending tfjs-node on the cpu backend, and
 * initializer warnings while a saved model is rebuilt (its weights are then loaded over them).
 * Neither is for the operator; they go to the log at debug level. Other console.warn calls pass.
 */
const TFJS_CHATTER = [/looks like you are running TensorFlow\.js in Node\.js/, /^Orthogonal initializer is being called/, /^Platform \w+ has already been set/];

export function quietTfjsConsole(log: Logger): void {
  const original = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    const text = args.map((a) => (typeof a === "string" ? a : String(a))).join(" ");
    if (TFJS_CHATTER.some((re) => re.test(text.trim()))) {
      log.debug({ component: "tfjs" }, text.trim().replace(/\s*=+\s*/g, " ").trim());
      return;
    }
    original(...args);
  };
}
