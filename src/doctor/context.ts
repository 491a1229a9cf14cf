/**
 * Real IO for the doctor and selftest: running a command, and asking the running daemon over its
 * status socket. Kept apart from the checks so those stay testable with fakes.
 */
import { execFile } from "node:child_process";
import { connectStatusSocket } from "../status/client.js";
import type { StatusMessage, TelemetryMessage } from "../status/protocol.js";
import type { CommandResult, RunCommand } from "./checks.js";

export const runCommand: RunCommand = (command, args, options = {}) =>
  new Promise<CommandResult>((resolve) => {
    execFile(command, args, { timeout: options.timeoutMs ?? 10_000, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout: stdout ?? "", stderr: stderr ?? "", missing: (err as NodeJS.ErrnoException | null)?.code === "ENOENT" });
    });
  });

/** The daemon's status and telemetry, or null when nothing answers on the socket. */
export async function readDaemonStatus(socketPath: string, timeoutMs = 2_000): Promise<{ status: StatusMessage; telemetry: TelemetryMessage } | null> {
  let client;
  try {
    client = await connectStatusSocket(socketPath, timeoutMs);
  } catch {
    return null;
  }
  const c = client;
  try {
    return await new Promise((resolve) => {
      let status: StatusMessage | null = null;
      let telemetry: TelemetryMessage | null = null;
      const timer = setTimeout(() => resolve(null), timeoutMs);
      c.onMessage((m) => {
        if (m.type === "status") status = m;
        if (m.type === "telemetry") telemetry = m;
        if (status && telemetry) {
          clearTimeout(timer);
          resolve({ status, telemetry });
        }
      });
      c.onClose(() => {
        clearTimeout(timer);
        resolve(null);
      });
    });
  } finally {
    c.close();
  }
}
