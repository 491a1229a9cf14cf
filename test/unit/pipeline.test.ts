import { describe, expect, it } from "vitest";
import type { DetectParams } from "../../src/detect/params.js";
import { DEFAULT_FEATURE_SPEC } from "../../src/features/spec.js";
import { Pipeline, type WindowResult } from "../../src/pipeline.js";
import type { BranchSpec } from "../../src/detect/any-branch.js";
import { FakeClassifier, FakeScreamClassifier } from "../fakes/fake-classifier.js";
import { ScriptedClassifier, ScriptedScreamClassifier } from "../fakes/fake-daemon-parts.js";
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

const screamBranch: BranchSpec = {
  name: "screams",
  smoothing: { method: "none" },
  alert: { enterThreshold: 0.8, exitThreshold: 0.5, k: 2, n: 3, minDurationMs: 0, holdMs: 1000, cooldownMs: 0, maxAlertMs: 60_000, dangerWeights: { scream: 1 } },
};

function runTwo(chunk: number, d: DetectParams = detect): { results: WindowResult[]; clf: FakeClassifier; screams: FakeScreamClassifier } {
  const clf = new FakeClassifier(spec);
  const screams = new FakeScreamClassifier(spec);
  const p = new Pipeline({ classifier: clf, detect: d, startMs: 0, screams: { classifier: screams, branch: screamBranch } });
  const results: WindowResult[] = [];
  for (let i = 0; i < audio.length; i += chunk) results.push(...p.process(audio.subarray(i, i + chunk)));
  return { results, clf, screams };
}

const startsOf = (rs: WindowResult[]) => rs.flatMap((r) => r.events.filter((e) => e.type === "alert_start"));
const endsOf = (rs: WindowResult[]) => rs.flatMap((r) => r.events.filter((e) => e.type === "alert_end"));

describe("pipeline with a scream branch", () => {
  // The fake scream model hears the murmur (0–6 s, 12–20 s) as screams; the fake speech model hears the hiss (6–12 s) as anger.
  it("alerts on either branch, one lifecycle, and the shared cooldown holds back the hiss right after a scream alert", () => {
    const { results } = runTwo(4000);
    expect(run(4000).results.every((r) => r.screams === null)).toBe(true);
    // cooldown 5 s: the scream alert ends at 8.5 s, so the hiss (9–12 s) raises nothing; the second murmur does
    expect(startsOf(results).map((e) => [e.startMs, e.emotion])).toEqual([
      [3500, "scream"],
      [15_000, "scream"],
    ]);
    expect(endsOf(results).map((e) => e.startMs)).toEqual([3500, 15_000]);
    const inMurmur = results.find((r) => r.tMs === 4000)!;
    expect(inMurmur.screams!.danger).toBeGreaterThan(0.9);
    expect(inMurmur.danger).toBeLessThan(0.1);
    // without the cooldown the hiss is an alert of its own, from the speech branch
    const noCooldown = runTwo(4000, { ...detect, cooldownMs: 0 }).results;
    const starts = startsOf(noCooldown);
    expect(starts.map((e) => e.emotion)).toEqual(["scream", "angry", "scream"]);
    expect(starts[1]!.startMs).toBeGreaterThan(6000);
    expect(starts[1]!.startMs).toBeLessThan(12_000);
  });

  it("gives identical results whatever the chunk size, and asks the scream model only about windows above the gate", () => {
    const a = runTwo(audio.length);
    const b = runTwo(777);
    expect(b.results).toEqual(a.results);
    expect(a.screams.windowsSeen).toBe(a.clf.windowsSeen);
    expect(a.results.some((r) => r.probs === null && r.screams!.probs === null && r.screams!.danger === 0)).toBe(true);
  });

  it("refuses a scream model that reads other features or has no scream class", () => {
    const make = (screams: FakeScreamClassifier) => () => new Pipeline({ classifier: new FakeClassifier(spec), detect, startMs: 0, screams: { classifier: screams, branch: screamBranch } });
    expect(make(new FakeScreamClassifier({ ...spec, melBands: 32 }))).toThrow(/reads other features/);
    expect(make(new FakeScreamClassifier(spec, ["laughter", "speech"]))).toThrow(/has no "scream" class \(its labels: laughter, speech\)/);
  });

  it("with gateSpeech, weighs the speech danger by 1 − the scream model's sound probability", () => {
    const speech = new ScriptedClassifier(spec);
    const home = new ScriptedScreamClassifier(spec); // sound = 1 − scream
    speech.angry = 0.9;
    home.scream = 0.25; // a sound, 0.75
    const tone = Float32Array.from({ length: sec(6) }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 300 * i) / 16_000));
    const dangers = (gateSpeech: boolean) =>
      new Pipeline({ classifier: speech, detect, startMs: 0, screams: { classifier: home, branch: screamBranch, gateSpeech } }).process(tone).map((r) => r.danger);
    const open = dangers(false);
    const gated = dangers(true);
    expect(open.length).toBeGreaterThan(3);
    open.forEach((d) => expect(d).toBeCloseTo(0.9, 5));
    gated.forEach((d) => expect(d).toBeCloseTo(0.9 * 0.25, 5));
  });
});
