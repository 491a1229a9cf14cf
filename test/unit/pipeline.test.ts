import { describe, expect, it } from "vitest";
import type { DetectParams } from "../../src/detect/params.js";
import { DEFAULT_FEATURE_SPEC } from "../../src/features/spec.js";
import { Pipeline, type WindowResult } from "../../src/pipeline.js";
import { FakeClassifier } from "../fakes/fake-classifier.js";
import { concatSamples, hissOrMurmur } from "../fixtures/wav-writer.js";

const spec = DEFAULT_FEATURE_SPEC;
const detect: DetectParams = {
  hopMs: 500,
  energyGateDbfs: -50,
  smoothing: { method: "none" },
  enterThreshold: 0.6,
  exitThreshold: 0.4,
  k: 2,
  n: 3,
  minDurationMs: 0,
  holdMs: 1000,
  cooldownMs: 5000,
  maxAlertMs: 60_000,
  dangerWeights: { angry: 1, fear: 1 },
};

const noise = hissOrMurmur;
const concat = concatSamples;

const sec = (s: number): number => Math.round(s * 16_000);
// 6 s murmur, 6 s hiss (the "danger"), 8 s murmur, then 5 s of digital silence.
const audio = concat(
  noise(sec(6), 0.2, true, 1),
  noise(sec(6), 0.2, false, 2),
  noise(sec(8), 0.2, true, 3),
  new Float32Array(sec(5)),
);

function run(chunk: number): { results: WindowResult[]; clf: FakeClassifier } {
  const clf = new FakeClassifier(spec);
  const p = new Pipeline({ classifier: clf, detect, startMs: 0 });
  const results: WindowResult[] = [];
  for (let i = 0; i < audio.length; i += chunk) results.push(...p.process(audio.subarray(i, i + chunk)));
  return { results, clf };
}

describe("pipeline", () => {
  it("emits one window per hop once the first window is full, timed by audio", () => {
    const { results } = run(audio.length);
    expect(results[0]!.tMs).toBe(3000);
    expect(results[1]!.tMs - results[0]!.tMs).toBe(500);
    const expected = Math.floor((audio.length / 16_000 - 3) / 0.5) + 1;
    expect(Math.abs(results.length - expected)).toBeLessThanOrEqual(1);
  });

  it("raises exactly one alert for the danger passage, inside it", () => {
    const { results } = run(audio.length);
    const events = results.flatMap((r) => r.events);
    expect(events.map((e) => e.type)).toEqual(["alert_start", "alert_end"]);
    const start = events[0]!;
    expect(start.startMs).toBeGreaterThan(6000);
    expect(start.startMs).toBeLessThan(12_000);
  });

  it("skips inference below the energy gate and scores it 0", () => {
    const { results, clf } = run(audio.length);
    const silent = results.filter((r) => r.tMs > 23_000 - 1);
    expect(silent.length).toBeGreaterThan(0);
    expect(silent.every((r) => r.probs === null && r.danger === 0 && r.dbfs < -50)).toBe(true);
    expect(clf.windowsSeen).toBe(results.filter((r) => r.probs !== null).length);
  });

  it("gives identical results whatever the chunk size", () => {
    const whole = run(audio.length).results;
    for (const chunk of [1000, 1601, 8000]) {
      const r = run(chunk).results;
      expect(r.length).toBe(whole.length);
      r.forEach((x, i) => {
        expect(x.tMs).toBe(whole[i]!.tMs);
        expect(x.danger).toBeCloseTo(whole[i]!.danger, 10);
        expect(x.state).toBe(whole[i]!.state);
        expect(x.dbfs).toBeCloseTo(whole[i]!.dbfs, 6);
      });
    }
  });

  it("refuses a hop that is not a whole number of feature steps", () => {
    expect(() => new Pipeline({ classifier: new FakeClassifier(spec), detect: { ...detect, hopMs: 520 }, startMs: 0 })).toThrow(/whole number of 50 ms/);
  });

  it("continues the audio across a model swap: same windows, no refill gap", () => {
    const whole = run(audio.length).results;
    const clf = new FakeClassifier(spec);
    let p = new Pipeline({ classifier: clf, detect, startMs: 0 });
    const results: WindowResult[] = [];
    const half = Math.floor(audio.length / 2);
    results.push(...p.process(audio.subarray(0, half)));
    const next = p.successor({ classifier: new FakeClassifier(spec), detect });
    expect(next).not.toBeNull();
    p = next!;
    results.push(...p.process(audio.subarray(half)));
    expect(results.map((r) => r.tMs)).toEqual(whole.map((r) => r.tMs));
    results.forEach((r, i) => expect(r.danger).toBeCloseTo(whole[i]!.danger, 10));
  });

  it("refuses to continue into a model that reads other features", () => {
    const p = new Pipeline({ classifier: new FakeClassifier(spec), detect, startMs: 0 });
    expect(p.successor({ classifier: new FakeClassifier({ ...spec, melBands: 32 }), detect })).toBeNull();
  });
});
