/**
 * Prometheus text exposition (format 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format) of what the
 * daemon already tells MQTT and the status socket. Pure: the server hands in a snapshot. Every
 * name starts with `earwitness_`; counters end in `_total` and count from the daemon's start.
 */

export interface MetricsInput {
  version: string;
  deviceId: string;
  model: { name: string; version: string } | null;
  windowsDecided: number;
  droppedWindows: number;
  /** Alert starts since the daemon started, real and test. */
  alerts: { real: number; test: number };
  rtf: number;
  queueDepth: number;
  dbfs: number;
  danger: number;
  armed: boolean;
  muted: boolean;
  /** Active problems by code. */
  problems: readonly string[];
  /** The detector's state and the names it can take, for a one-hot state gauge. */
  state: string;
  states: readonly string[];
}

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Numbers as Prometheus parses them (NaN and infinities by name). */
function value(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  return String(x);
}

export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const metric = (name: string, type: "counter" | "gauge", help: string, samples: [Record<string, string>, number][]): void => {
    out.push(`# HELP earwitness_${name} ${help}`, `# TYPE earwitness_${name} ${type}`);
    for (const [l, v] of samples) out.push(`earwitness_${name}${labels(l)} ${value(v)}`);
  };
  metric("build_info", "gauge", "Versions of earwitness and of the running model (always 1).", [
    [{ version: m.version, device_id: m.deviceId, model: m.model?.name ?? "none", model_version: m.model?.version ?? "0" }, 1],
  ]);
  metric("windows_total", "counter", "Analysis windows decided since the daemon started.", [[{}, m.windowsDecided]]);
  metric("dropped_windows_total", "counter", "Analysis windows dropped because inference could not keep up.", [[{}, m.droppedWindows]]);
  metric("alerts_total", "counter", "Alerts raised since the daemon started (test = the Test button or command).", [
    [{ test: "false" }, m.alerts.real],
    [{ test: "true" }, m.alerts.test],
  ]);
  metric("real_time_factor", "gauge", "Inference time per second of audio (smoothed); above 1 the unit cannot keep up.", [[{}, m.rtf]]);
  metric("queue_depth", "gauge", "Analysis windows waiting for inference.", [[{}, m.queueDepth]]);
  metric("input_level_dbfs", "gauge", "Input level of the last analysis window, in dBFS.", [[{}, m.dbfs]]);
  metric("danger", "gauge", "Smoothed danger score of the last window (0..1).", [[{}, m.danger]]);
  metric("armed", "gauge", "1 when the Armed switch is on.", [[{}, m.armed ? 1 : 0]]);
  metric("muted", "gauge", "1 while a mute runs.", [[{}, m.muted ? 1 : 0]]);
  metric("state", "gauge", "The detector's state (one-hot).", m.states.map((s) => [{ state: s }, s === m.state ? 1 : 0]));
  metric("problems", "gauge", "Number of active problems.", [[{}, m.problems.length]]);
  metric("problem", "gauge", "Each active problem by code (1 while active).", m.problems.map((code) => [{ code }, 1]));
  return out.join("\n") + "\n";
}
