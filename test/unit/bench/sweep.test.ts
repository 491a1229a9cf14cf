import { describe, expect, it } from "vitest";
import { alertsOf } from "../../../src/bench/quality.js";
import type { QualitySummary } from "../../../src/bench/stream-score.js";
import {
  chooseSetting,
  kindFront,
  paretoFront,
  replayAlerts,
  DEFAULT_SWEEP_GRID,
  describeResult,
  evaluateSetting,
  runPairSweep,
  runScreamSweep,
  runSweep,
  screamSettingAsConfig,
  screamSweepSettings,
  settingAsConfig,
  sweepSettings,
  loosened,
  passesAcceptance,
  withMargin,
  type SweepResult,
  type SweepSetting,
} from "../../../src/bench/sweep.js";
import { parseConfig } from "../../../src/config/load.js";
import { detectParamsFromConfig } from "../../../src/config/detect-params.js";
import { DEFAULT_FEATURE_SPEC } from "../../../src/features/spec.js";
import { FakeClassifier, FakeScreamClassifier } from "../../fakes/fake-classifier.js";
import { streamTimeline } from "../../fixtures/stream-timeline.js";
import { concatSamples, hissOrMurmur } from "../../fixtures/wav-writer.js";

const noise = (seconds: number, lowpass: boolean, seed: number): Float32Array => hissOrMurmur(Math.round(seconds * 16_000), 0.2, lowpass, seed);

// Murmur with hiss bursts of 1, 2, 4 and 7 s, some close together: settings disagree about them.
const AUDIO = concatSamples(
  noise(5, true, 1),
  noise(1, false, 2),
  noise(4, true, 3),
  noise(2, false, 4),
  noise(1.5, true, 5),
  noise(4, false, 6),
  noise(12, true, 7),
  noise(7, false, 8),
  noise(6, true, 9),
);

function configWith(s: SweepSetting) {
  const yaml = `detect:\n  energy_gate_dbfs: -50\n  smoothing: ${JSON.stringify(s.smoothing.method === "none" ? { method: "none" } : s.smoothing)}\n` +
    Object.entries(settingAsConfig(s))
      .filter(([k]) => k !== "smoothing")
      .map(([k, v]) => `  ${k}: ${String(v)}\n`)
      .join("");
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

const BASE: SweepSetting = {
  smoothing: { method: "none" },
  enterThreshold: 0.6,
  exitThreshold: 0.4,
  k: 3,
  n: 5,
  minDurationMs: 1000,
  holdMs: 2000,
  cooldownMs: 30_000,
};

describe("replayAlerts", () => {
  it("raises exactly the alerts the pipeline raises when configured with the same setting", () => {
    const clf = new FakeClassifier(DEFAULT_FEATURE_SPEC);
    const base = configWith(BASE);
    const { points } = alertsOf(base, { classifier: clf }, AUDIO);
    expect(points.length).toBeGreaterThan(70);
    const variants: SweepSetting[] = [
      BASE,
      { ...BASE, k: 2, n: 3, minDurationMs: 0, cooldownMs: 3000 },
      { ...BASE, smoothing: { method: "ema", windows: 3 }, enterThreshold: 0.5, exitThreshold: 0.3, cooldownMs: 10_000 },
      { ...BASE, smoothing: { method: "mean", windows: 4 }, k: 6, n: 8, minDurationMs: 0, holdMs: 0, cooldownMs: 0 },
    ];
    const counts: number[] = [];
    for (const s of variants) {
      const config = configWith(s);
      const direct = alertsOf(config, { classifier: clf }, AUDIO).alerts;
      expect(replayAlerts(points, detectParamsFromConfig(config.detect), s), JSON.stringify(s)).toEqual(direct);
      counts.push(direct.length);
    }
    // The variants really differ, or the comparison would prove little.
    expect(new Set(counts).size).toBeGreaterThan(1);
    expect(Math.max(...counts)).toBeGreaterThan(0);
  });
});

describe("replayAlerts with a scream branch", () => {
  it("raises exactly the alerts the pipeline raises with the scream branch on, for every scream setting tried", () => {
    const clf = new FakeClassifier(DEFAULT_FEATURE_SPEC);
    const screamClf = new FakeScreamClassifier(DEFAULT_FEATURE_SPEC);
    const model = { classifier: clf, screams: { classifier: screamClf } };
    const withScreams = (s: SweepSetting, scream: SweepSetting) => {
      const base = configWith(s);
      const yaml = `detect:\n  energy_gate_dbfs: -50\n  smoothing: ${JSON.stringify(s.smoothing.method === "none" ? { method: "none" } : s.smoothing)}\n` +
        Object.entries(settingAsConfig(s)).filter(([k]) => k !== "smoothing").map(([k, v]) => `  ${k}: ${String(v)}\n`).join("") +
        `  screams: ${JSON.stringify(screamSettingAsConfig(scream))}\n`;
      const r = parseConfig(yaml, { env: {}, hostname: "unit" });
      if (!r.ok) throw new Error(r.issues.join("; "));
      expect(r.config.detect.enter_threshold).toBe(base.detect.enter_threshold);
      return r.config;
    };
    const speech: SweepSetting = { ...BASE, cooldownMs: 3000 };
    const first = withScreams(speech, BASE);
    const { points } = alertsOf(first, model, AUDIO);
    expect(points.every((p) => p.scream !== undefined)).toBe(true);
    const speechOnly = JSON.stringify(alertsOf(configWith(speech), { classifier: clf }, AUDIO).alerts);
    const seen = new Set<string>();
    for (const scream of screamSweepSettings(speech).filter((_, i) => i % 97 === 0)) {
      const config = withScreams(speech, scream);
      const direct = alertsOf(config, model, AUDIO).alerts;
      expect(replayAlerts(points, detectParamsFromConfig(config.detect), speech, scream), JSON.stringify(scream)).toEqual(direct);
      seen.add(JSON.stringify(direct));
    }
    // The scream branch changes what alerts (murmur is the fake's scream), or the test proves little.
    expect([...seen].some((a) => a !== speechOnly)).toBe(true);
    expect(seen.size).toBeGreaterThan(1);
  });

  it("sweeps pairs: every speech setting on the speech branch's own front, beside every scream setting on the scream branch's", () => {
    const clf = new FakeClassifier(DEFAULT_FEATURE_SPEC);
    const model = { classifier: clf, screams: { classifier: new FakeScreamClassifier(DEFAULT_FEATURE_SPEC) } };
    const speech: SweepSetting = { ...BASE, cooldownMs: 3000 };
    const config = configWith(speech);
    const yaml = parseConfig(`detect:\n  energy_gate_dbfs: -50\n  screams: { enabled: true }\n`, { env: {}, hostname: "unit" });
    if (!yaml.ok) throw new Error(yaml.issues.join("; "));
    const { points } = alertsOf(yaml.config, model, AUDIO);
    // The fake speech model hears the hiss bursts as anger, the fake scream model the murmur as screams.
    const passage = (start_s: number, end_s: number, kind: "speech" | "scream") => ({ start_s, end_s, speaker: null, labels: ["angry"], clips: 1, kind });
    const timeline = streamTimeline(AUDIO.length / 16_000, [passage(5, 6, "speech"), passage(10, 12, "speech"), passage(13.5, 17.5, "speech"), passage(0, 5, "scream"), passage(29.5, 36.5, "scream")]);
    const traces = [{ timeline, points }];
    const base = detectParamsFromConfig(config.detect);
    const grid = { ...DEFAULT_SWEEP_GRID, enter: [0.5, 0.7, 0.9], minDurationMs: [0], cooldownMs: [3000] };
    const speechSettings = sweepSettings(grid);
    const pairs = runPairSweep(traces, base, speechSettings, grid, 4);
    expect(pairs.length).toBeGreaterThan(0);
    const speechFront = paretoFront(runSweep(traces, base, speechSettings, 4)).map((r) => JSON.stringify(r.setting));
    for (const r of pairs) {
      expect(r.scream).toBeDefined();
      expect(speechFront).toContain(JSON.stringify(r.setting));
      expect(r.summary).toEqual(evaluateSetting(traces, base, r.setting, 4, r.scream!));
    }
    expect(describeResult(pairs[0]!)).toMatch(/; screams: /);
    // The scream branch adds what the speech branch alone misses.
    const alone = evaluateSetting(traces, base, pairs[0]!.setting, 4);
    expect(pairs[0]!.summary.by_kind.scream.caught).toBeGreaterThan(alone.by_kind.scream.caught);
  });

  it("keeps hold and cooldown shared: scream settings vary only what the scream branch owns", () => {
    const settings = screamSweepSettings(BASE);
    expect(new Set(settings.map((s) => `${s.holdMs}/${s.cooldownMs}`))).toEqual(new Set([`${BASE.holdMs}/${BASE.cooldownMs}`]));
    expect(settings.length).toBe(sweepSettings().length / 3);
    expect(screamSettingAsConfig(settings[0]!)).not.toHaveProperty("cooldown_s");
    expect(screamSettingAsConfig(settings[0]!)).toMatchObject({ enabled: true });
  });

  it("refuses traces without scream scores instead of sweeping a branch that did not run", () => {
    expect(() => runScreamSweep([{ timeline: { duration_s: 1, passages: [], sources: [] } as never, points: [{ tMs: 0, danger: 0 }] }], detectParamsFromConfig(configWith(BASE).detect), BASE, [BASE], 4)).toThrow(/detect\.screams\.enabled/);
  });
});

const summary = (fa: number, caught: number, p50 = 2): QualitySummary => ({
  streams: 1,
  audio_h: 1,
  non_danger_h: 1,
  false_alerts: fa,
  false_alerts_per_h: fa,
  passages: 10,
  caught: caught * 10,
  caught_share: caught,
  onset_to_alert_s: { p50, p95: p50 * 2 },
  by_length: [],
  by_kind: { speech: { passages: 10, caught: caught * 10 }, scream: { passages: 0, caught: 0 } },
  by_source: { speech: { false_alerts: fa, hours: 1, per_h: fa }, sounds: { false_alerts: 0, hours: 0, per_h: Number.NaN }, noise: { false_alerts: 0, hours: 0, per_h: Number.NaN } },
});
const result = (enter: number, fa: number, caught: number, p50 = 2): SweepResult => ({
  setting: { ...BASE, enterThreshold: enter, exitThreshold: enter - 0.2 },
  summary: summary(fa, caught, p50),
});

describe("paretoFront", () => {
  it("keeps the settings nothing beats on both counts, fewest false alerts first", () => {
    const rs = [result(0.5, 3, 0.9), result(0.6, 1, 0.7), result(0.7, 1, 0.6), result(0.8, 0, 0.2), result(0.4, 5, 0.9)];
    expect(paretoFront(rs).map((r) => r.setting.enterThreshold)).toEqual([0.8, 0.6, 0.5]);
  });
  it("counts streams without passages as catching nothing and without calm audio as the worst", () => {
    const none = { ...result(0.9, 0, 0), summary: { ...summary(0, 0), caught_share: Number.NaN } };
    const noCalm = { ...result(0.3, 0, 1), summary: { ...summary(0, 1), false_alerts_per_h: Number.NaN } };
    const rs = [none, noCalm, result(0.6, 1, 0.5)];
    expect(paretoFront(rs).map((r) => r.setting.enterThreshold)).toEqual([0.9, 0.6, 0.3]);
    expect(chooseSetting(rs)?.result.setting.enterThreshold).toBe(0.9);
  });
});

describe("kindFront", () => {
  /** A result catching `speech` passages and `screams` of 10 each at `fa` false alerts an hour. */
  const kinds = (enter: number, fa: number, speech: number, screams: number): SweepResult => {
    const base = summary(fa, (speech + screams) / 20);
    return {
      setting: { ...BASE, enterThreshold: enter, exitThreshold: enter - 0.2 },
      summary: { ...base, passages: 20, caught: speech + screams, by_kind: { speech: { passages: 10, caught: speech }, scream: { passages: 10, caught: screams } } },
    };
  };
  it("keeps every trade between speech and screams that nothing beats on all three counts", () => {
    const rs = [kinds(0.5, 0, 6, 2), kinds(0.6, 0, 3, 5), kinds(0.7, 0, 3, 4), kinds(0.8, 1, 6, 2), kinds(0.4, 1, 7, 5), kinds(0.45, 0, 6, 2)];
    // The totals' front keeps one setting at 0 an hour (6 + 2 = 8 > 3 + 5) and loses the screams-heavy one.
    expect(paretoFront(rs).map((r) => r.setting.enterThreshold)).toEqual([0.5, 0.4]);
    // By kind: both trades at 0 an hour (equal figures once), and the one at 1 an hour that beats both.
    expect(kindFront(rs).map((r) => r.setting.enterThreshold)).toEqual([0.5, 0.6, 0.4]);
  });
});

describe("chooseSetting", () => {
  it("takes the setting that catches most among those meeting both targets", () => {
    const c = chooseSetting([result(0.5, 0.4, 0.95, 3), result(0.6, 0.2, 0.95, 2), result(0.4, 2, 1)]);
    expect(c?.meetsTargets).toBe(true);
    expect(c?.result.setting.enterThreshold).toBe(0.6);
  });
  it("otherwise keeps within the false-alert target and catches as much as it can", () => {
    const c = chooseSetting([result(0.5, 0.4, 0.6), result(0.7, 0, 0.3), result(0.4, 4, 0.95)]);
    expect(c?.meetsTargets).toBe(false);
    expect(c?.result.setting.enterThreshold).toBe(0.5);
    expect(c?.rule).toMatch(/no setting meets both/);
  });
  it("and when nothing keeps within it, takes the fewest false alerts", () => {
    const c = chooseSetting([result(0.5, 3, 0.9), result(0.7, 1, 0.5), result(0.8, 1, 0.6)], { maxFalsePerHour: 0.5, minCaught: 0.9 });
    expect(c?.result.setting.enterThreshold).toBe(0.8);
    expect(chooseSetting([])).toBeNull();
  });
});

describe("a margin on the false alerts (bench --sweep-margin)", () => {
  // 60 s of calm audio (no passage): the scream model scores 0.1, except 0.7 for 2 s at 20 s and
  // 0.95 for 1 s at 40 s — one burst an enter threshold of 0.85 ignores and 0.65 does not.
  const timeline = streamTimeline(60);
  const points = Array.from({ length: 120 }, (_, i) => {
    const t = i * 500;
    return { tMs: t, danger: 0, scream: t >= 20_000 && t < 22_000 ? 0.7 : t >= 40_000 && t < 41_000 ? 0.95 : 0.1 };
  });
  const traces = [{ timeline, points }];
  const base = detectParamsFromConfig(configWith(BASE).detect);
  const speech: SweepSetting = { ...BASE, enterThreshold: 0.99, exitThreshold: 0.9, cooldownMs: 10_000 };
  const scream = (enter: number, k = 2, n = 3): SweepSetting => ({ ...speech, smoothing: { method: "none" }, enterThreshold: enter, exitThreshold: round(enter - 0.2), k, n, minDurationMs: 0 });
  const round = (x: number): number => Math.round(x * 100) / 100;

  it("replays the swept branch with both thresholds lowered, as if every window scored that much higher", () => {
    expect(loosened(scream(0.85), 0.2)).toMatchObject({ enterThreshold: 0.65, exitThreshold: 0.45 });
    expect(loosened(scream(0.15), 0.2)).toMatchObject({ enterThreshold: 0.01, exitThreshold: 0 });
    const raised = [{ timeline, points: points.map((p) => ({ ...p, scream: p.scream + 0.2 })) }];
    for (const smoothing of [{ method: "none" }, { method: "ema", windows: 3 }, { method: "mean", windows: 4 }] as const) {
      const s = { ...scream(0.85), smoothing };
      expect(evaluateSetting(traces, base, speech, 4, loosened(s, 0.2)).false_alerts, smoothing.method).toBe(evaluateSetting(raised, base, speech, 4, s).false_alerts);
    }
    const [plain] = runScreamSweep(traces, base, speech, [scream(0.85)], 4);
    expect(plain!.summary.false_alerts).toBe(1);
    const [held] = withMargin(traces, base, [plain!], 4, 0.2, "screams", { speech, scream: null });
    expect(held!.summary).toEqual(plain!.summary);
    expect(held!.margin?.by).toBe(0.2);
    expect(held!.margin!.false_alerts_per_h).toBeCloseTo(2 * 60, 6);
    expect(withMargin(traces, base, [plain!], 4, 0, "screams", { speech, scream: null })[0]).not.toHaveProperty("margin");
  });

  it("holds the loosened figure to the target, and of settings that catch alike takes the one with most room", () => {
    const tight = { ...result(0.9, 0, 0.3), margin: { by: 0.2, false_alerts_per_h: 0 } };
    const edge = { ...result(0.85, 0, 0.4), margin: { by: 0.2, false_alerts_per_h: 3 } };
    const c = chooseSetting([edge, tight]);
    expect(c?.result.setting.enterThreshold).toBe(0.9);
    expect(c?.rule).toMatch(/thresholds 0\.2 lower/);
    // Equal catches and equal own figures: the smaller loosened false-alert rate wins over the earlier alert.
    const early = { ...result(0.8, 0, 0.3, 1), margin: { by: 0.2, false_alerts_per_h: 0.4 } };
    expect(chooseSetting([early, tight])?.result.setting.enterThreshold).toBe(0.9);
    // Nothing within the target with room: the fewest loosened false alerts, not the fewest own.
    const c3 = chooseSetting([{ ...result(0.7, 0, 0.5), margin: { by: 0.2, false_alerts_per_h: 4 } }, { ...result(0.6, 1, 0.6), margin: { by: 0.2, false_alerts_per_h: 2 } }]);
    expect(c3?.result.setting.enterThreshold).toBe(0.6);
  });

  it("keeps only settings under which each acceptance recording raises exactly the alerts asked for", () => {
    const recording = { name: "demo.wav", points, alerts: 1 };
    const row = (enter: number): SweepResult => ({ setting: scream(enter), summary: summary(0, 0) });
    // 0.85 hears the 0.95 burst only; 0.65 both bursts; 0.99 neither.
    expect(passesAcceptance(base, row(0.85), [recording], "screams", { speech, scream: null })).toBe(true);
    expect(passesAcceptance(base, row(0.65), [recording], "screams", { speech, scream: null })).toBe(false);
    expect(passesAcceptance(base, row(0.99), [recording], "screams", { speech, scream: null })).toBe(false);
    expect(passesAcceptance(base, row(0.99), [{ ...recording, alerts: 0 }], "screams", { speech, scream: null })).toBe(true);
    // Every recording must pass; a speech sweep replays its setting beside the configured scream branch.
    expect(passesAcceptance(base, row(0.85), [recording, { ...recording, alerts: 0 }], "screams", { speech, scream: null })).toBe(false);
    expect(passesAcceptance(base, { setting: speech, summary: summary(0, 0) }, [recording], "speech", { speech, scream: scream(0.85) })).toBe(true);
    expect(passesAcceptance(base, { setting: speech, scream: scream(0.65), summary: summary(0, 0) }, [recording], "pair", { speech, scream: scream(0.85) })).toBe(false);
  });

  it("loosens the scream branch of a pair and the speech setting of a speech sweep, not the fixed one", () => {
    const [pairRow] = withMargin(traces, base, [{ setting: speech, scream: scream(0.85), summary: evaluateSetting(traces, base, speech, 4, scream(0.85)) }], 4, 0.2, "pair", { speech, scream: null });
    expect(pairRow!.margin!.false_alerts_per_h).toBeGreaterThan(0);
    // A speech sweep beside a fixed scream branch at 0.85: loosening the (silent) speech branch adds nothing.
    const [speechRow] = withMargin(traces, base, runSweep(traces, base, [speech], 4, scream(0.85)), 4, 0.2, "speech", { speech, scream: scream(0.85) });
    expect(speechRow!.margin!.false_alerts_per_h).toBeCloseTo(speechRow!.summary.false_alerts_per_h, 6);
  });
});

describe("sweepSettings", () => {
  it("spans the grid and never proposes an exit threshold below zero", () => {
    const s = sweepSettings({
      smoothing: [{ method: "none" }],
      enter: [0.1, 0.5],
      exitGap: [0.2],
      kn: [
        [2, 3],
        [3, 5],
      ],
      minDurationMs: [0],
      holdMs: [2000],
      cooldownMs: [10_000, 30_000],
    });
    expect(s).toHaveLength(4);
    expect(s.every((x) => x.exitThreshold >= 0 && x.exitThreshold < x.enterThreshold)).toBe(true);
  });
});
