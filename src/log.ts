import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * The root logger: JSON lines on stdout (journald keeps them), or pretty lines when stdout is a
 * terminal. Components take `log.child({ component: "mqtt" })` (STYLE.md §15).
 */
export function createLogger(level: LevelWithSilent = "info", pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({
      level,
      transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } },
    });
  }
  // Synchronous writes: pino's default destination buffers 4 KiB before writing, so a quiet
  // daemon's (or a long training's) last lines would sit unseen in memory — and be lost on a
  // crash, exactly when they matter. Our log volume is small.
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything; for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
