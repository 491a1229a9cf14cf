/**
 * The daemon's pid file, `<state_dir>/earwitness.pid`: how a tool on the unit finds the running
 * daemon to tell it to reload (SIGHUP) — `model install` and `model rollback` after switching the
 * current model, `calibrate --apply` after writing the config. The daemon (`earwitness run`) writes
 * it at start and removes it at exit; the tools only read it.
 *
 * A pid file left from before a reboot may name an unrelated process, whose default action on
 * SIGHUP is to die: the process's command line (or name) must mention earwitness before it is
 * signalled.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export const PID_FILE = "earwitness.pid";

export function pidFilePath(stateDir: string): string {
  return path.join(stateDir, PID_FILE);
}

/** Writes this process's pid into `<stateDir>/earwitness.pid` (creating the directory); returns the path. */
export async function writePidFile(stateDir: string, pid: number = process.pid): Promise<string> {
  const file = pidFilePath(stateDir);
  await mkdir(stateDir, { recursive: true });
  await writeFile(file, `${pid}\n`);
  return file;
}

/**
 * Removes the pid file if it still names `pid` (a daemon started after this one owns it
 * otherwise). Synchronous, for `process.on("exit")`; never throws.
 */
export function removePidFileSync(file: string, pid: number = process.pid): void {
  try {
    if (readFileSync(file, "utf8").trim() === String(pid)) unlinkSync(file);
  } catch {
    /* already gone */
  }
}

export type NotifyResult = { status: "notified"; pid: number } | { status: "not-running"; reason: string } | { status: "failed"; reason: string };

/**
 * Tells the running daemon to reload (SIGHUP to the pid in `<stateDir>/earwitness.pid`). Never
 * throws: what the caller changed is in place either way, and the daemon also picks it up when it
 * restarts.
 */
export async function notifyDaemon(stateDir: string, pidFile: string = pidFilePath(stateDir)): Promise<NotifyResult> {
  let text: string;
  try {
    text = await readFile(pidFile, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return { status: "not-running", reason: `no pid file ${pidFile}` };
    return { status: "failed", reason: `cannot read ${pidFile}: ${(err as Error).message}` };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return { status: "failed", reason: `${pidFile} holds no valid pid (${JSON.stringify(text.trim().slice(0, 20))})` };
  try {
    // The daemon names itself (process.title, which sets /proc/<pid>/comm); an installed one also
    // runs from /opt/earwitness. Either marks it as ours.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    const comm = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
    if (!cmdline.includes("earwitness") && comm.trim() !== "earwitness") return { status: "not-running", reason: `pid ${pid} from ${pidFile} is not an earwitness process (stale pid file)` };
  } catch (err) {
    if (isErrno(err, "ENOENT")) {
      // No such process (or no /proc): let kill decide.
    } else {
      return { status: "failed", reason: `cannot inspect pid ${pid}: ${(err as Error).message}` };
    }
  }
  try {
    process.kill(pid, "SIGHUP");
    return { status: "notified", pid };
  } catch (err) {
    if (isErrno(err, "ESRCH")) return { status: "not-running", reason: `pid ${pid} from ${pidFile} is not running (stale pid file)` };
    if (isErrno(err, "EPERM")) return { status: "failed", reason: `not allowed to signal pid ${pid}; run as root or the earwitness user, or \`systemctl reload earwitness\`` };
    return { status: "failed", reason: (err as Error).message };
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}
