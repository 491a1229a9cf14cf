import { describe, expect, it } from "vitest";
import { DEFAULT_FEATURE_SPEC, staticDims } from "../../../src/features/spec.js";
import type { ClipFeatures } from "../../../src/train/feature-cache.js";
import { speakerKey, speakerStatsOf } from "../../../src/train/trainer.js";

const S = staticDims(DEFAULT_FEATURE_SPEC);
const clip = (label: string, speaker: string | null, value: number, variant = 0): ClipFeatures => ({
  row: { file: `/c/${label}-${value}.wav`, relPath: `${label}-${value}.wav`, label, speaker, corpus: "c" },
  variant,
  steps: 4,
  data: new Float32Array(4 * S).fill(value),
});

describe("speakerStatsOf (norm speaker)", () => {
  it("gives speech its speaker's statistics and leaves sounds and screams to the training statistics", () => {
    const clips = [
      clip("angry", "s1", 1),
      clip("sad", "s1", 3),
      clip("arousal_high", "s2", 5),
      clip("cough", "src9", 7),
      clip("scream", null, 9),
      clip("angry", "s1", 100, 1), // an augmented copy never informs the statistics
    ];
    const stats = speakerStatsOf(DEFAULT_FEATURE_SPEC, clips);
    expect([...stats.keys()].sort()).toEqual(["c/s1", "c/s2"]);
    expect(stats.get(speakerKey(clips[0]!.row))!.mean[0]).toBeCloseTo(2, 5);
    expect(stats.has(speakerKey(clips[3]!.row))).toBe(false);
    expect(stats.has(speakerKey(clips[4]!.row))).toBe(false);
  });
});
