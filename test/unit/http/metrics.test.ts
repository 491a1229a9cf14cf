import { describe, expect, it } from "vitest";
import { escapeLabel, renderMetrics, type MetricsInput } from "../../../src/http/metrics.js";

const INPUT: MetricsInput = {
  version: "0.1.0",
  deviceId: "kitchen",
  model: { name: "gru-q8", version: "3" },
  windowsDecided: 1200,
  droppedWindows: 4,
  alerts: { real: 2, test: 1 },
  rtf: 0.0421,
  queueDepth: 1,
  dbfs: -38.5,
  danger: 0.12,
  armed: true,
  muted: false,
  problems: ["inference_behind", "mic_silent"],
  state: "SUSPECT",
  states: ["IDLE", "SUSPECT", "ALERT", "HOLD", "COOLDOWN"],
};

/** The text format's grammar for a sample line: name, optional labels, a value. */
const SAMPLE = /^earwitness_[a-z_]+(\{[a-z_]+="(?:[^"\\\n]|\\["\\n])*"(,[a-z_]+="(?:[^"\\\n]|\\["\\n])*")*\})? (-?\d+(\.\d+)?(e-?\d+)?|NaN|[+-]Inf)$/;

describe("Prometheus metrics", () => {
  it("is valid text exposition: HELP and TYPE before each family's samples, every name prefixed", () => {
    const text = renderMetrics(INPUT);
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.trimEnd().split("\n");
    let family: string | null = null;
    for (const line of lines) {
      const help = /^# HELP (earwitness_[a-z_]+) .+$/.exec(line);
      const type = /^# TYPE (earwitness_[a-z_]+) (counter|gauge)$/.exec(line);
      if (help) family = help[1]!;
      else if (type) expect(type[1]).toBe(family);
      else {
        expect(line).toMatch(SAMPLE);
        expect(line.split(/[{ ]/)[0]).toBe(family);
      }
    }
  });

  it("carries windows, alerts, dropped windows, real-time factor and problems", () => {
    const text = renderMetrics(INPUT);
    expect(text).toContain("# TYPE earwitness_windows_total counter\nearwitness_windows_total 1200\n");
    expect(text).toContain("earwitness_dropped_windows_total 4\n");
    expect(text).toContain('earwitness_alerts_total{test="false"} 2\nearwitness_alerts_total{test="true"} 1\n');
    expect(text).toContain("earwitness_real_time_factor 0.0421\n");
    expect(text).toContain("earwitness_problems 2\n");
    expect(text).toContain('earwitness_problem{code="inference_behind"} 1\nearwitness_problem{code="mic_silent"} 1\n');
    expect(text).toContain('earwitness_state{state="SUSPECT"} 1\n');
    expect(text).toContain('earwitness_state{state="IDLE"} 0\n');
    expect(text).toContain('earwitness_build_info{version="0.1.0",device_id="kitchen",model="gru-q8",model_version="3"} 1\n');
  });

  it("escapes label values and names non-finite numbers", () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const text = renderMetrics({ ...INPUT, dbfs: -Infinity, model: null, problems: [] });
    expect(text).toContain("earwitness_input_level_dbfs -Inf\n");
    expect(text).toContain('model="none"');
    expect(text).toContain("earwitness_problems 0\n");
    expect(text).not.toContain("earwitness_problem{");
  });
});
