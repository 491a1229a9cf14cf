/**
 * A real pino logger that keeps every line in memory, so tests can check what was logged
 * (a dropped alert must be said out loud) without parsing stdout.
 */
import { pino, type Logger } from "pino";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CaptureLogger {
  log: Logger;
  lines: LogLine[];
  /** Lines at warn (40) or above whose message matches. */
  warnings(match?: RegExp): LogLine[];
}

export function captureLogger(): CaptureLogger {
  const lines: LogLine[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return {
    log,
    lines,
    warnings: (match) => lines.filter((l) => l.level >= 40 && (match === undefined || match.test(l.msg))),
  };
}
