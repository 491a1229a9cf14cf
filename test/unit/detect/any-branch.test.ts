import { describe, expect, it } from "vitest";
import { AnyBranchDetector, type BranchInput, type BranchSpec, type UnionParams } from "../../../src/detect/any-branch.js";
import { createSmoother } from "../../../src/detect/danger.js";
import type { AlertParams } from "../../../src/detect/params.js";
import {
  AlertStateMachine,
  type AlertEndEvent,
  type AlertStartEvent,
  type DetectEvent,
  type DetectorStateName,
} from "../../../src/detect/state-machine.js";

const HOP_MS = 500;
const UNION: UnionParams = { cooldownMs: 10_000, maxAlertMs: 30_000 };

const SPEECH_ALERT: AlertParams = {
  enterThreshold: 0.6,
  exitThreshold: 0.4,
  k: 3,
  n: 5,
  minDurationMs: 1000,
  holdMs: 2000,
  cooldownMs: 99_999, // ignored by the union: its own cooldown applies
  maxAlertMs: 99_999,
  dangerWeights: { angry: 1, fear: 1 },
};
const SCREAM_ALERT: AlertParams = {
  enterThreshold: 0.8,
  exitThreshold: 0.5,
  k: 2,
  n: 3,
  minDurationMs: 0,
  holdMs: 1000,
  cooldownMs: 99_999,
  maxAlertMs: 99_999,
  dangerWeights: { scream: 1 },
};
const SPECS: BranchSpec[] = [
  { name: "speech", alert: SPEECH_ALERT, smoothing: { method: "none" } },
  { name: "screams", alert: SCREAM_ALERT, smoothing: { method: "none" } },
];

const speechProbs = (s: number): Record<string, number> => ({ angry: s, fear: 0, neutral: 1 - s });
const screamProbs = (s: number): Record<string, number> => ({ scream: s, speech: 1 - s });

interface Replay {
  events: DetectEvent[];
  starts: AlertStartEvent[];
  ends: AlertEndEvent[];
  states: DetectorStateName[];
}

/** One window per hop from t0Ms: speech[i] and scream[i] are the two branches' raw danger scores. */
function replay(det: AnyBranchDetector, speech: readonly number[], scream: readonly number[], t0Ms = 0): Replay {
  const out: Replay = { events: [], starts: [], ends: [], states: [] };
  const len = Math.max(speech.length, scream.length);
  for (let i = 0; i < len; i++) {
    const sp = speech[i] ?? 0;
    const sc = scream[i] ?? 0;
    const inputs: BranchInput[] = [
      { danger: sp, probs: speechProbs(sp) },
      { danger: sc, probs: screamProbs(sc) },
    ];
    const r = det.step(t0Ms + i * HOP_MS, inputs);
    expect(r.ignored).toBeNull();
    collect(out, r.events);
    out.states.push(r.state);
  }
  return out;
}

function collect(out: Replay, events: readonly DetectEvent[]): void {
  for (const e of events) {
    out.events.push(e);
    if (e.type === "alert_start") out.starts.push(e);
    else out.ends.push(e);
  }
}

/** What one machine alone says for the same scores (the reference a quiet second branch must not change). */
function alone(params: AlertParams, scores: readonly number[], probs: (s: number) => Record<string, number>): DetectEvent[] {
  const m = new AlertStateMachine({ ...params, cooldownMs: UNION.cooldownMs, maxAlertMs: UNION.maxAlertMs });
  return scores.flatMap((s, i) => m.step({ tMs: i * HOP_MS, score: s, probs: probs(s) }).events);
}

const repeat = (v: number, n: number): number[] => new Array<number>(n).fill(v);

describe("AnyBranchDetector", () => {
  it("speech only: the same alert as the speech machine alone", () => {
    const speech = [...repeat(0.9, 10), ...repeat(0, 10)];
    const r = replay(new AnyBranchDetector(SPECS, UNION), speech, []);
    expect(r.events).toEqual(alone(SPEECH_ALERT, speech, speechProbs));
    expect(r.starts).toHaveLength(1);
    expect(r.starts[0]).toMatchObject({ startMs: 1000, emotion: "angry" });
    expect(r.ends[0]).toMatchObject({ startMs: 1000, reason: "score_dropped", emotion: "angry" });
  });

  it("screams only: the same alert as the scream machine alone", () => {
    const scream = [0, 0, ...repeat(0.95, 6), ...repeat(0, 6)];
    const r = replay(new AnyBranchDetector(SPECS, UNION), [], scream);
    expect(r.events).toEqual(alone(SCREAM_ALERT, scream, screamProbs));
    expect(r.starts).toHaveLength(1);
    expect(r.starts[0]).toMatchObject({ startMs: 1500, emotion: "scream" });
    expect(r.ends[0]).toMatchObject({ emotion: "scream", peak: 0.95 });
  });

  it("overlapping branches make one alert, from the first start to the last end, described by the strongest branch", () => {
    // speech high in windows 0–15, screams (stronger) in 5–25
    const speech = [...repeat(0.9, 16), ...repeat(0, 20)];
    const scream = [...repeat(0, 5), ...repeat(0.97, 21), ...repeat(0, 10)];
    const r = replay(new AnyBranchDetector(SPECS, UNION), speech, scream);
    expect(r.starts).toHaveLength(1);
    expect(r.ends).toHaveLength(1);
    // speech starts it (3 of 5 after 1 s), with its own evidence
    expect(r.starts[0]).toMatchObject({ startMs: 1000, emotion: "angry", peak: 0.9 });
    // screams drop at window 26 and hold 1 s: the union ends at window 28, long after speech ended at 20
    expect(r.ends[0]).toMatchObject({ startMs: 1000, endMs: 28 * HOP_MS, reason: "score_dropped", emotion: "scream", peak: 0.97 });
    expect(r.ends[0]!.peak).toBeGreaterThanOrEqual(r.starts[0]!.peak);
    // while speech holds and screams alert, the union is alerting, not holding
    expect(r.states[17]).toBe("ALERT");
    expect(r.states[27]).toBe("HOLD");
    expect(r.states[28]).toBe("COOLDOWN");
  });

  it("two branches starting in the same window give one start, the higher score's", () => {
    const speech = repeat(0.7, 8);
    const scream = repeat(0.9, 8);
    const r = replay(new AnyBranchDetector(SPECS, UNION), speech, scream);
    // screams reach 2 of 3 at window 1, speech 3 of 5 at window 2: screams start it alone
    expect(r.starts).toHaveLength(1);
    expect(r.starts[0]).toMatchObject({ startMs: 500, emotion: "scream" });

    // with the scream branch as slow as speech both start at 1000; the screams outlast speech
    const slowScreams: BranchSpec = { ...SPECS[1]!, alert: { ...SCREAM_ALERT, k: 3, n: 5, minDurationMs: 1000 } };
    const both = replay(new AnyBranchDetector([SPECS[0]!, slowScreams], UNION), [...repeat(0.7, 8), ...repeat(0, 20)], [...repeat(0.9, 20), ...repeat(0, 8)]);
    expect(both.starts).toHaveLength(1);
    expect(both.starts[0]).toMatchObject({ startMs: 1000, score: 0.9, emotion: "scream" });
    // speech ends at 6000 (drop at 4000, 2 s hold), screams at 11000 (drop at 10000, 1 s hold): the union lasts till the screams end
    expect(both.ends).toHaveLength(1);
    expect(both.ends[0]).toMatchObject({ startMs: 1000, endMs: 11_000, peak: 0.9, emotion: "scream" });
  });

  it("a branch that would start during the union's cooldown starts nothing; after it, a fresh k of n does", () => {
    const det = new AnyBranchDetector(SPECS, UNION);
    // speech alert: starts 1000, drops at window 8 (4000 ms), holds 2 s, ends at window 12 (6000 ms)
    const first = replay(det, [...repeat(0.9, 8), ...repeat(0, 5)], []);
    expect(first.ends).toHaveLength(1);
    expect(first.ends[0]!.endMs).toBe(6000);
    // screams from 6500 to 20000: inside the cooldown (until 16000) nothing starts
    const t0 = 6500;
    const during = replay(det, [], repeat(0.95, 28), t0);
    const startTimes = during.starts.map((s) => s.startMs);
    expect(startTimes.every((t) => t >= 6000 + UNION.cooldownMs)).toBe(true);
    // the cooldown ends at 16000: that window begins SUSPECT, the next (16500) is 2 of 3
    expect(startTimes).toEqual([16_500]);
    expect(during.states[(15_500 - t0) / HOP_MS]).toBe("COOLDOWN");
    expect(during.states[(16_000 - t0) / HOP_MS]).toBe("SUSPECT");
  });

  it("reset mid-alert ends it with reason reset and drops the cooldown", () => {
    const det = new AnyBranchDetector(SPECS, UNION);
    const before = replay(det, repeat(0.9, 6), repeat(0.95, 6));
    expect(before.starts).toHaveLength(1);
    const r = det.reset(3000);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: "alert_end", reason: "reset", endMs: 3000, startMs: before.starts[0]!.startMs });
    expect(r.state).toBe("IDLE");
    // re-armed: listening afresh, no cooldown, the smoothers and k of n start from nothing
    const after = replay(det, [], repeat(0.95, 3), 3500);
    expect(after.starts.map((s) => s.startMs)).toEqual([4000]);
    // reset when idle says nothing
    expect(new AnyBranchDetector(SPECS, UNION).reset(0).events).toEqual([]);
  });

  it("the union's max duration ends the alert even when a later branch keeps it up", () => {
    const det = new AnyBranchDetector(SPECS, UNION);
    // speech from 0 s to 20 s, screams from 10 s on and never stop
    const speech = [...repeat(0.9, 40), ...repeat(0, 60)];
    const scream = [...repeat(0, 20), ...repeat(0.95, 80)];
    const r = replay(det, speech, scream);
    expect(r.starts[0]!.startMs).toBe(1000);
    expect(r.ends[0]).toMatchObject({ startMs: 1000, endMs: 31_000, reason: "max_duration" });
    // after the cooldown the still-screaming branch starts a new alert on fresh evidence
    expect(r.starts[1]!.startMs).toBe(41_500);
    expect(r.starts).toHaveLength(2);
  });

  it("never emits two starts without an end, whatever the scores (seeded random traces with resets)", () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 20; trial++) {
      const det = new AnyBranchDetector(
        [
          { ...SPECS[0]!, smoothing: { method: "ema", windows: 3 } },
          { ...SPECS[1]!, smoothing: { method: "mean", windows: 2 } },
        ],
        { cooldownMs: 3000, maxAlertMs: 8000 },
      );
      let open: AlertStartEvent | null = null;
      let lastEndMs = -Infinity;
      let resetSinceEnd = false;
      let bursty = { sp: 0, sc: 0 };
      for (let i = 0; i < 600; i++) {
        const tMs = i * HOP_MS;
        if (rand() < 0.1) bursty = { sp: rand() < 0.5 ? rand() : 0, sc: rand() < 0.4 ? rand() : 0 };
        const events =
          rand() < 0.005
            ? det.reset(tMs).events
            : det.step(tMs, [{ danger: bursty.sp + 0.2 * rand() }, { danger: bursty.sc + 0.1 * rand() }]).events;
        if (events.length > 0 && events.every((e) => e.type === "alert_end" && e.reason === "reset")) resetSinceEnd = true;
        for (const e of events) {
          if (e.type === "alert_start") {
            expect(open).toBeNull();
            if (!resetSinceEnd) expect(e.startMs - lastEndMs).toBeGreaterThanOrEqual(3000);
            open = e;
          } else {
            expect(open).not.toBeNull();
            expect(e.startMs).toBe(open!.startMs);
            expect(e.endMs).toBeGreaterThanOrEqual(e.startMs);
            expect(e.endMs - e.startMs).toBeLessThanOrEqual(8000);
            expect(e.peak).toBeGreaterThanOrEqual(open!.peak);
            open = null;
            lastEndMs = e.endMs;
            resetSinceEnd = e.reason === "reset";
          }
        }
      }
    }
  });

  it("with one branch, says exactly what its smoother and state machine alone say (events, states, times)", () => {
    let seed = 777;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const alert of [SPEECH_ALERT, { ...SCREAM_ALERT, holdMs: 0, minDurationMs: 0 }]) {
      const union = { cooldownMs: 4000, maxAlertMs: 9000 };
      const smoothing = { method: "ema", windows: 3 } as const;
      const det = new AnyBranchDetector([{ name: "only", alert, smoothing }], union);
      const machine = new AlertStateMachine({ ...alert, ...union });
      const smoother = createSmoother(smoothing);
      let level = 0;
      const reasons = new Set<string>();
      for (let i = 0; i < 2000; i++) {
        const tMs = i * HOP_MS;
        if (rand() < 0.08) level = rand() < 0.5 ? rand() : 0;
        if (rand() < 0.003) {
          smoother.reset();
          const a = machine.reset(tMs);
          const b = det.reset(tMs);
          expect([b.events, b.state, b.sinceMs]).toEqual([a.events, a.state, a.sinceMs]);
          continue;
        }
        const danger = level + 0.15 * rand();
        const probs = speechProbs(danger);
        const a = machine.step({ tMs, score: smoother.push(danger), probs });
        const b = det.step(tMs, [{ danger, probs }]);
        expect([b.events, b.state, b.previousState, b.sinceMs]).toEqual([a.events, a.state, a.previousState, a.sinceMs]);
        for (const e of a.events) if (e.type === "alert_end") reasons.add(e.reason);
      }
      // the traces did exercise the ends that matter
      expect([...reasons].sort()).toEqual(["max_duration", "score_dropped"]);
    }
  });

  it("ignores a window whose time went backwards, and refuses the wrong number of branch inputs", () => {
    const det = new AnyBranchDetector(SPECS, UNION);
    det.step(1000, [{ danger: 0 }, { danger: 0 }]);
    expect(det.step(500, [{ danger: 1 }, { danger: 1 }]).ignored).toBe("time_went_backwards");
    expect(det.step(Number.NaN, [{ danger: 1 }, { danger: 1 }]).ignored).toBe("invalid_time");
    expect(() => det.step(1500, [{ danger: 1 }])).toThrow(/2 branch inputs/);
  });

  it("refuses unusable parameters with a config error", () => {
    expect(() => new AnyBranchDetector([], UNION)).toThrow(/at least one branch/);
    expect(() => new AnyBranchDetector([{ ...SPECS[1]!, alert: { ...SCREAM_ALERT, exitThreshold: 0.9 } }], UNION)).toThrow(/greater than exitThreshold/);
    expect(() => new AnyBranchDetector(SPECS, { cooldownMs: 0, maxAlertMs: 0 })).toThrow(/maxAlertMs/);
  });
});
