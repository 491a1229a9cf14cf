import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RunningAdaptation } from "../../../src/features/adaptation.js";
import type { NormStats } from "../../../src/features/normalise.js";

const training: NormStats = { mean: [0, 0], std: [1, 1], deltaStd: [1, 1] };
const opts = { halfLifeH: 1, maxWeight: 0.8, stepMs: 50 };
const stepsPerHour = 3_600_000 / 50;
let dir = "";
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("running adaptation", () => {
  it("starts at the training statistics and moves towards what it hears, bounded", () => {
    const a = new RunningAdaptation(training, opts);
    expect(a.current()).toBeNull();
    const step = Float32Array.from([2, -1]);
    for (let i = 0; i < stepsPerHour; i++) a.observe(step);
    const after1h = a.current()!;
    expect(after1h.mean[0]!).toBeGreaterThan(0.5);
    expect(after1h.mean[0]!).toBeLessThan(2 * opts.maxWeight + 1e-6);
    for (let i = 0; i < 10 * stepsPerHour; i++) a.observe(step);
    const late = a.current()!;
    // Never more than maxWeight of the running part: 0.8 · 2 = 1.6 at most.
    expect(late.mean[0]!).toBeLessThanOrEqual(1.6 + 1e-6);
    expect(late.mean[0]!).toBeGreaterThan(after1h.mean[0]!);
    expect(late.mean[1]!).toBeCloseTo(-late.mean[0]! / 2, 3);
  });

  it("forgets with the half-life: a new wearer takes over", () => {
    const a = new RunningAdaptation(training, opts);
    for (let i = 0; i < 5 * stepsPerHour; i++) a.observe(Float32Array.from([2, 0]));
    for (let i = 0; i < 5 * stepsPerHour; i++) a.observe(Float32Array.from([-2, 0]));
    expect(a.current()!.mean[0]!).toBeLessThan(-1);
  });

  it("persists, restores and resets; a corrupt file starts afresh", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "ew-adapt-"));
    const file = path.join(dir, "adaptation.json");
    const a = new RunningAdaptation(training, opts);
    for (let i = 0; i < 1000; i++) a.observe(Float32Array.from([1, 1]));
    await a.save(file);
    const b = new RunningAdaptation(training, opts);
    expect(await b.load(file)).toBe(true);
    expect(b.current()!.mean[0]!).toBeCloseTo(a.current()!.mean[0]!, 6);
    b.reset();
    expect(b.current()).toBeNull();
    await writeFile(file, "{not json");
    expect(await b.load(file)).toBe(false);
    expect(b.current()).toBeNull();
  });

  it("warms up in minutes with warmupS, whatever the half-life: in proportion before, full weight after", () => {
    const slow = { halfLifeH: 72, maxWeight: 0.5, stepMs: 50 };
    const fiveMinutes = (5 * 60 * 1000) / 50;
    const step = Float32Array.from([2, 0]);
    const warm = new RunningAdaptation(training, { ...slow, warmupS: 300 });
    const old = new RunningAdaptation(training, slow);
    for (let i = 0; i < fiveMinutes / 2; i++) {
      warm.observe(step);
      old.observe(step);
    }
    // Half the warm-up: a quarter of the way (0.5 × 0.5 of the running mean 2).
    expect(warm.current()!.mean[0]!).toBeCloseTo(0.5, 2);
    for (let i = 0; i < fiveMinutes / 2; i++) {
      warm.observe(step);
      old.observe(step);
    }
    expect(warm.current()!.mean[0]!).toBeCloseTo(1, 2);
    // Without it, 5 minutes of a 72 h half-life barely move the statistics.
    expect(old.current()!.mean[0]!).toBeLessThan(0.01);
    // Full weight never exceeds maxWeight.
    for (let i = 0; i < fiveMinutes; i++) warm.observe(step);
    expect(warm.current()!.mean[0]!).toBeCloseTo(1, 2);
  });
});
