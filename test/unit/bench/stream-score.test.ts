import { describe, expect, it } from "vitest";
import type { StreamTimeline } from "../../../src/bench/stream-builder.js";
import { scoreStream, summariseScores } from "../../../src/bench/stream-score.js";

function timeline(durationS: number, passages: [number, number][]): StreamTimeline {
  return {
    format: 1,
    seed: 1,
    sample_rate_hz: 16000,
    duration_s: durationS,
    noise: { source: "white", snr_db: 15 },
    danger_labels: ["angry", "fear"],
    segments: [],
    passages: passages.map(([s, e]) => ({ start_s: s, end_s: e, speaker: "a", labels: ["angry"], clips: 2 })),
  };
}

describe("scoreStream", () => {
  it("counts caught passages, their latency and false alerts", () => {
    const t = timeline(3600, [
      [100, 105],
      [1000, 1004],
      [2000, 2003],
    ]);
    const alerts = [
      { start_s: 102.5, end_s: 110 }, // catches passage 1, latency 2.5
      { start_s: 1007, end_s: 1010 }, // 3 s after passage 2's end: within the 4 s grace
      { start_s: 500, end_s: 505 }, // false
      { start_s: 2010, end_s: 2012 }, // 7 s after passage 3: too late, false; passage 3 missed
    ];
    const s = scoreStream(t, alerts, 4);
    expect(s.passages).toBe(3);
    expect(s.caught).toBe(2);
    expect(s.latencies_s).toEqual([2.5, 7]);
    expect(s.false_alerts).toBe(2);
    // Non-danger time: the hour minus (5+4) + (4+4) + (3+4) s.
    expect(s.non_danger_h).toBeCloseTo((3600 - 24) / 3600, 9);
    expect(s.detail.map((d) => d.caught)).toEqual([true, true, false]);
    // Lengths 5, 4 and 3 s: the 5 s passage is in the middle bucket, the others in the short one.
    expect(summariseScores([s], 3600).by_length).toEqual([
      { min_s: 0, max_s: 5, passages: 2, caught: 1 },
      { min_s: 5, max_s: 8, passages: 1, caught: 1 },
      { min_s: 8, max_s: 15, passages: 0, caught: 0 },
      { min_s: 15, max_s: null, passages: 0, caught: 0 },
    ]);
  });

  it("an alert already on at the onset catches with latency 0 and is not false", () => {
    const t = timeline(600, [[300, 304]]);
    const s = scoreStream(t, [{ start_s: 298, end_s: 320 }], 4);
    expect(s.caught).toBe(1);
    expect(s.latencies_s).toEqual([0]);
    // It started before the passage: not explained by it, so counted as a false alert.
    expect(s.false_alerts).toBe(1);
  });

  it("summarises several streams: rates per hour of non-danger audio and latency percentiles", () => {
    const a = scoreStream(timeline(1800, [[100, 104]]), [{ start_s: 101, end_s: 106 }, { start_s: 900, end_s: 905 }], 4);
    const b = scoreStream(timeline(1800, [[200, 203]]), [], 4);
    const q = summariseScores([a, b], 3600);
    expect(q.passages).toBe(2);
    expect(q.caught).toBe(1);
    expect(q.caught_share).toBe(0.5);
    expect(q.false_alerts).toBe(1);
    expect(q.false_alerts_per_h).toBeCloseTo(1 / ((3600 - 15) / 3600), 9);
    expect(q.onset_to_alert_s.p50).toBe(1);
    expect(q.audio_h).toBe(1);
  });
});
