import { describe, expect, it } from "vitest";
import { leaveOneOutStats } from "../../../src/cli/eval-command.js";
import { statsOfSteps } from "../../../src/features/normalise.js";
import { Rng } from "../../../src/train/random.js";

describe("eval: leave-one-out speaker statistics", () => {
  it("equal statsOfSteps over the speaker's other clips; null for a speaker with one clip", () => {
    const S = 5;
    const rng = new Rng(3);
    const data = Array.from({ length: 7 }, (_, i) => Float32Array.from({ length: S * (3 + i) }, () => 2 * rng.normal() - 10));
    const groups = new Map([
      ["a", [0, 1, 2, 3]],
      ["b", [4, 5]],
      ["c", [6]],
    ]);
    const loo = leaveOneOutStats(S, data, groups);
    for (const [, members] of groups) {
      for (const i of members) {
        const others = members.filter((j) => j !== i);
        const got = loo(i);
        if (others.length === 0) {
          expect(got).toBeNull();
          continue;
        }
        const want = statsOfSteps(S, others.map((j) => data[j]!));
        for (let k = 0; k < S; k++) {
          expect(got!.mean[k]).toBeCloseTo(want.mean[k]!, 4);
          expect(got!.std[k]).toBeCloseTo(want.std[k]!, 4);
        }
      }
    }
  });
});
