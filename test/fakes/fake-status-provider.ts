/** A hand-written stand-in for the daemon behind the status socket (status-protocol.ts StatusProvider). */
import type { Command } from "../../src/outputs/mqtt/commands.js";
import type { ModelInfo, TelemetrySample } from "../../src/outputs/mqtt/contract.js";
import type { DeviceStatus } from "../../src/outputs/sink.js";
import type { StatusProvider } from "../../src/status/protocol.js";
import type { StatusPageProvider } from "../../src/http/status-server.js";

/** Also the daemon behind the status page (src/http/status-server.ts StatusPageProvider). */
export class FakeStatusProvider implements StatusProvider, StatusPageProvider {
  model: ModelInfo | null = { name: "fake-gru", version: "1.2.3", sha256: "ab".repeat(32) };
  thresholds: Record<string, number> = { enter_threshold: 0.55, exit_threshold: 0.35, k: 8, n: 10, min_duration_s: 0, hold_s: 2, energy_gate_dbfs: -60 };
  windowsDecided = 42;
  droppedWindows = 0;
  commands: Command[] = [];
  /** Thrown by command() when set. */
  commandError: Error | null = null;
  onCommand: ((c: Command) => void | Promise<void>) | null = null;
  /** The window scores behind the `scores` request; unset: a daemon that keeps none. */
  scores?: StatusProvider["scores"];
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
    return { ready: true, problems: { ...this.problems }, rtf: this.sample.rtf, queueDepth: 0, droppedWindows: this.droppedWindows, windowsDecided: this.windowsDecided, alertId: null };
  }
  detection(): ReturnType<StatusPageProvider["detection"]> {
    return { model: this.model, thresholds: { ...this.thresholds } };
  }
  async command(c: Command): Promise<void> {
    this.commands.push(c);
    if (this.commandError) throw this.commandError;
    await this.onCommand?.(c);
  }
}
