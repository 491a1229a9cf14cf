/**
 * The open alert, remembered in `<state_dir>/open-alert.json` while it is open, so that a daemon
 * killed in the middle of an alert (SIGKILL, OOM, power cut) ends it at its next start with
 * end_reason `interrupted` and the same alert_id: a consumer never waits forever for an end.
 *
 * Written with a temp file + rename (a reader sees the old file or the new one), without fsync:
 * it is a courtesy to consumers, not the alert itself (that is in the outbox). Every failure is
 * logged and swallowed: the journal must never delay or stop an alert (issue #11: the state dir
 * may be full or read-only).
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log.js";
import type { AlertEvent } from "../outputs/sink.js";
import type { AlertJournal } from "./daemon.js";

export const OPEN_ALERT_FILE = "open-alert.json";

export function fileAlertJournal(stateDir: string, log: Logger): AlertJournal {
  const file = path.join(stateDir, OPEN_ALERT_FILE);
  // Writes in order: a quick start/end pair must not leave the start behind.
  let turn: Promise<void> = Promise.resolve();
  return {
    record(start: AlertEvent | null): Promise<void> {
      turn = turn.then(async () => {
        try {
          if (start === null) {
            await rm(file, { force: true });
          } else {
            await writeFile(`${file}.tmp`, JSON.stringify(start));
            await rename(`${file}.tmp`, file);
          }
        } catch (err) {
          log.warn({ err, file }, "cannot remember the open alert; after a crash its end would not be sent");
        }
      });
      return turn;
    },
    async recover(): Promise<AlertEvent | null> {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") log.warn({ err, file }, "cannot read the open-alert file");
        return null;
      }
      try {
        const e = JSON.parse(text) as Partial<AlertEvent>;
        if (e.phase !== "start" || typeof e.alertId !== "string" || typeof e.startedAtMs !== "number") throw new Error("not an alert start");
        return {
          phase: "start",
          alertId: e.alertId,
          startedAtMs: e.startedAtMs,
          peak: typeof e.peak === "number" ? e.peak : 0,
          mean: typeof e.mean === "number" ? e.mean : 0,
          emotion: typeof e.emotion === "string" ? e.emotion : "unknown",
          probs: typeof e.probs === "object" && e.probs !== null ? e.probs : {},
          dbfs: typeof e.dbfs === "number" ? e.dbfs : -120,
          test: false,
          // Unknown for a record written before alerts carried them: none rather than today's.
          thresholds: numberRecord(e.thresholds),
        };
      } catch (err) {
        log.warn({ err, file }, "the open-alert file is damaged; ignoring it");
        await rm(file, { force: true }).catch(() => undefined);
        return null;
      }
    },
  };
}

/** A record of numbers from JSON, or {} when it is anything else. */
function numberRecord(value: unknown): Record<string, number> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((kv): kv is [string, number] => typeof kv[1] === "number" && Number.isFinite(kv[1])));
}
