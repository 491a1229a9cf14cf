/**
 * Hard-negative mining (src/train/hard-negatives.ts): which windows are mined, and how they enter
 * an epoch.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_FEATURE_SPEC, staticDims } from "../../../src/features/spec.js";
import { trainingBatch, type Example } from "../../../src/train/dataset.js";
import type { ClipFeatures } from "../../../src/train/feature-cache.js";
import { mineHardNegatives, withHardNegatives } from "../../../src/train/hard-negatives.js";
import { Rng } from "../../../src/train/random.js";

const spec = { ...DEFAULT_FEATURE_SPEC, melBands: 4, windowSteps: 4, deltas: false, energy: false, norm: "global" as const };
const S = staticDims(spec);

/** An example of `steps` steps whose step t holds the value t in every feature (so a window shows its start). */
function example(label: number, steps: number, name: string, variants = 1): Example {
  const clip = (variant: number): ClipFeatures => ({
    row: { file: name, relPath: name, label: String(label), speaker: null, corpus: "c" } as unknown as ClipFeatures["row"],
    variant,
    steps,
    data: Float32Array.from({ length: steps * S }, (_, i) => Math.floor(i / S) + 100 * variant),
  });
  return { variants: Array.from({ length: variants }, (_, v) => clip(v)), label, corpus: "c", speakerKey: name };
}

describe("mineHardNegatives", () => {
  // Labels: 0 = danger, 1 = safe. Score of a window = its start / 10 (later windows are "hotter").
  const examples = [example(0, 12, "d"), example(1, 12, "a"), example(1, 4, "b"), example(1, 9, "c")];
  const score = (ws: { example: number; start: number }[]): number[] => ws.map((w) => w.start / 10 + (w.example === 3 ? 0.2 : 0));

  it("scores every window of the non-danger clips at the hop and keeps each clip's hottest at or above the threshold, hardest first", () => {
    const seen: { example: number; start: number }[] = [];
    const mined = mineHardNegatives(examples, (l) => l === 0, (ws) => (seen.push(...ws), score(ws)), { windowSteps: 4, hopSteps: 2, threshold: 0.5, chunk: 3 });
    // Danger clips are never scored; windows at starts 0, 2, 4, 6, 8 (12 steps), 0 (4 steps), 0, 2, 4, 5 (9: the last flush with the end).
    expect(seen.filter((w) => w.example === 0)).toEqual([]);
    expect(seen.filter((w) => w.example === 1).map((w) => w.start)).toEqual([0, 2, 4, 6, 8]);
    expect(seen.filter((w) => w.example === 2).map((w) => w.start)).toEqual([0]);
    expect(seen.filter((w) => w.example === 3).map((w) => w.start)).toEqual([0, 2, 4, 5]);
    expect(mined).toEqual([
      { example: 1, start: 8, score: 0.8 },
      { example: 3, start: 5, score: 0.7 },
    ]);
  });

  it("finds nothing when nothing reaches the threshold, and refuses a scorer that loses windows", () => {
    expect(mineHardNegatives(examples, (l) => l === 0, score, { windowSteps: 4, hopSteps: 2, threshold: 0.95, chunk: 8 })).toEqual([]);
    expect(() => mineHardNegatives(examples, (l) => l === 0, (ws) => score(ws).slice(1), { windowSteps: 4, hopSteps: 2, threshold: 0.5, chunk: 8 })).toThrow(
      /returned \d+ scores for \d+ windows/,
    );
  });
});

describe("withHardNegatives", () => {
  const examples = [example(0, 12, "d", 3), example(1, 12, "a", 3), example(1, 9, "c", 3)];
  const order = Array.from({ length: 20 }, (_, i) => i % 3);
  const mined = [
    { example: 1, start: 8, score: 0.9 },
    { example: 2, start: 5, score: 0.6 },
  ];

  it("replaces the fraction of draws by the mined windows in turn, as clean fixed crops", () => {
    const r = withHardNegatives(examples, order, mined, 0.25, new Rng(1), 3);
    expect(r.examples.slice(0, 3)).toEqual(examples);
    expect(r.examples).toHaveLength(5);
    const replaced = r.order.map((v, i) => (v !== order[i] ? v : -1)).filter((v) => v >= 0);
    expect(replaced.sort()).toEqual([3, 3, 3, 4, 4]);
    expect(r.examples[3]).toMatchObject({ label: 1, start: 8, speakerKey: "a" });
    expect(r.examples[3]!.variants).toEqual([examples[1]!.variants[0]]);
    // The batch takes the mined crop of the clean clip, not a random one.
    const { x, y } = trainingBatch(spec, { mean: new Array(S).fill(0), std: new Array(S).fill(1), deltaStd: new Array(S).fill(1) }, [r.examples[4]!], new Map(), new Rng(2), false);
    expect(y[0]).toBe(1);
    expect(x[0]).toBeCloseTo(5);
    expect(x[3 * S]).toBeCloseTo(8);
  });

  it("draws no mined window more than twice an epoch by default: fewer draws are replaced when few are mined", () => {
    const r = withHardNegatives(examples, order, mined, 0.25, new Rng(1));
    const replaced = r.order.map((v, i) => (v !== order[i] ? v : -1)).filter((v) => v >= 0);
    expect(replaced.sort()).toEqual([3, 3, 4, 4]);
    expect(r.order).toHaveLength(order.length);
    // Enough windows mined: the whole fraction is replaced.
    const many = Array.from({ length: 3 }, (_, i) => ({ example: i, start: 0, score: 0.9 }));
    const all = withHardNegatives(examples, order, many, 0.25, new Rng(1));
    expect(all.order.filter((v) => v >= 3)).toHaveLength(5);
    expect(withHardNegatives(examples, order, mined, 0.25, new Rng(1), 0)).toEqual({ examples, order });
  });

  it("leaves the epoch as it was with nothing mined or fraction 0", () => {
    expect(withHardNegatives(examples, order, [], 0.3, new Rng(1))).toEqual({ examples, order });
    expect(withHardNegatives(examples, order, mined, 0, new Rng(1))).toEqual({ examples, order });
  });
});
