/** A hand-written stand-in for the daemon behind the status socket (status-socket.ts StatusProvider). */
import type { Command } from "../../src/outputs/mqtt/commands.js";
import type { TelemetrySample } from "../../src/outputs/mqtt/contract.js";
import type { DeviceStatus } from "../../src/outputs/sink.js";
import type { StatusProvider } from "../../src/daemon/status-socket.js";

export class FakeStatusProvider implements StatusProvider {
  commands: Command[] = [];
  /** Thrown by command() when set. */
  commandError: Error | null = null;
  onCommand: ((c: Command) => void | Promise<void>) | null = null;
  current: DeviceStatus = {
    state: "IDLE",
    danger: 0.05,
    emotion: null,
    dangerEmotion: null,
    sinceMs: Date.UTC(2025, 0, 1),
    armed: true,
    mutedUntilMs: null,
    muteMinutes: 0,
    problems: [],
    problemMessages: {},
    acknowledged: false,
  };
  problems: Record<string, string> = {};
  sample: TelemetrySample = { atMs: Date.UTC(2025, 0, 1), probs: { angry: 0.1, fear: 0.05, neutral: 0.85 }, dbfs: -42.5, rtf: 0.12, droppedWindows: 0, queueDepth: 0 };

  status(): DeviceStatus {
    return { ...this.current, problems: Object.keys(this.problems).sort() };
  }
  telemetrySample(): TelemetrySample {
    return { ...this.sample };
  }
  snapshot(): ReturnType<StatusProvider["snapshot"]> {
    return { ready: true, problems: { ...this.problems }, rtf: this.sample.rtf, queueDepth: 0, droppedWindows: 0, windowsDecided: 42, alertId: null };
  }
  async command(c: Command): Promise<void> {
    this.commands.push(c);
    if (this.commandError) throw this.commandError;
    await this.onCommand?.(c);
  }
}
