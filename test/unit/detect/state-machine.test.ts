import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import type { AlertParams } from "../../../src/detect/params.js";
import {
  AlertStateMachine,
  type AlertEndEvent,
  type AlertStartEvent,
  type DetectEvent,
  type DetectorStateName,
} from "../../../src/detect/state-machine.js";

const HOP_MS = 500;

const PARAMS: AlertParams = {
  enterThreshold: 0.6,
  exitThreshold: 0.4,
  k: 3,
  n: 5,
  minDurationMs: 1000,
  holdMs: 2000,
  cooldownMs: 10_000,
  maxAlertMs: 30_000,
  dangerWeights: { angry: 1, fear: 1 },
};

interface Replay {
  events: DetectEvent[];
  starts: AlertStartEvent[];
  ends: AlertEndEvent[];
  states: DetectorStateName[];
}

/** Feeds one score per hop, from t0Ms, and collects everything the machine said. */
function replay(machine: AlertStateMachine, scores: readonly number[], t0Ms = 0): Replay {
  const events: DetectEvent[] = [];
  const states: DetectorStateName[] = [];
  scores.forEach((score, i) => {
    const r = machine.step({ tMs: t0Ms + i * HOP_MS, score });
    expect(r.ignored).toBeNull();
    events.push(...r.events);
    states.push(r.state);
  });
  return {
    events,
    starts: events.filter((e): e is AlertStartEvent => e.type === "alert_start"),
    ends: events.filter((e): e is AlertEndEvent => e.type === "alert_end"),
    states,
  };
}

const repeat = (value: number, count: number): number[] => new Array<number>(count).fill(value);

describe("AlertStateMachine", () => {
  it("turns a clean burst into exactly one alert with the right start and end", () => {
    const m = new AlertStateMachine(PARAMS);
    // 0 .. 4.5 s silence, 5 .. 9.5 s shouting, then silence.
    const r = replay(m, [...repeat(0, 10), ...repeat(0.9, 10), ...repeat(0, 20)]);
    expect(r.starts).toHaveLength(1);
    expect(r.ends).toHaveLength(1);
    // SUSPECT at 5.0 s; the third hit at 6.0 s meets k=3 and minDuration=1 s.
    expect(r.starts[0]).toMatchObject({ startMs: 6000, score: 0.9, peak: 0.9 });
    // Score drops at 10.0 s (HOLD); HOLD lasts 2 s → end at 12.0 s.
    expect(r.ends[0]).toMatchObject({ startMs: 6000, endMs: 12_000, reason: "score_dropped" });
    expect(r.ends[0]?.peak).toBeCloseTo(0.9);
    expect(r.ends[0]?.mean).toBeCloseTo(0.9);
    expect(r.states[10]).toBe("SUSPECT");
    expect(r.states[12]).toBe("ALERT");
    expect(r.states[20]).toBe("HOLD");
    expect(r.states[24]).toBe("COOLDOWN");
    expect(m.state).toBe("COOLDOWN");
    expect(m.sinceMs).toBe(12_000);
  });

  it("never alerts on a single spike, nor on k-1 spikes within n windows", () => {
    const single = replay(new AlertStateMachine(PARAMS), [...repeat(0, 4), 1, ...repeat(0, 20)]);
    expect(single.events).toEqual([]);
    expect(single.states[4]).toBe("SUSPECT");
    // The spike leaves the last n=5 windows at index 9: back to IDLE there.
    expect(single.states[8]).toBe("SUSPECT");
    expect(single.states[9]).toBe("IDLE");

    const two = replay(new AlertStateMachine(PARAMS), [0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(two.events).toEqual([]);
  });

  it("alerts on k hits that are not consecutive, at the k-th hit", () => {
    const r = replay(new AlertStateMachine(PARAMS), [0.7, 0.1, 0.7, 0.1, 0.7, 0, 0, 0, 0, 0, 0, 0]);
    expect(r.starts.map((s) => s.startMs)).toEqual([2000]);
    // Evidence: the five SUSPECT windows.
    expect(r.starts[0]?.peak).toBeCloseTo(0.7);
    expect(r.starts[0]?.mean).toBeCloseTo((0.7 * 3 + 0.1 * 2) / 5);
  });

  it("waits for minDurationMs even when k hits came sooner", () => {
    const m = new AlertStateMachine({ ...PARAMS, k: 1, n: 1, minDurationMs: 2000 });
    const r = replay(m, repeat(0.8, 10), 1000);
    expect(r.starts.map((s) => s.startMs)).toEqual([3000]);
  });

  it("alerts on the first window when k=1 and minDurationMs=0", () => {
    const m = new AlertStateMachine({ ...PARAMS, k: 1, n: 1, minDurationMs: 0 });
    const r = m.step({ tMs: 0, score: 0.61 });
    expect(r.state).toBe("ALERT");
    expect(r.previousState).toBe("IDLE");
    expect(r.events.map((e) => e.type)).toEqual(["alert_start"]);
  });

  it("gives one alert, not many, when the score flickers around both thresholds", () => {
    const flickerEnter = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 0.65 : 0.55));
    const flickerExit = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 0.42 : 0.38));
    const r = replay(new AlertStateMachine(PARAMS), [...repeat(0, 4), ...flickerEnter, ...flickerExit, ...repeat(0, 30)]);
    expect(r.starts).toHaveLength(1);
    expect(r.ends).toHaveLength(1);
    expect(r.ends[0]?.reason).toBe("score_dropped");
    // Flicker around exit makes it dip into HOLD and come back, always as the same alert.
    expect(r.states.filter((s, i) => s === "HOLD" && r.states[i + 1] === "ALERT").length).toBeGreaterThan(5);
  });

  it("keeps the same alert when the score comes back during HOLD", () => {
    const m = new AlertStateMachine(PARAMS);
    // Burst, 1.5 s pause (< holdMs), burst, silence.
    const r = replay(m, [...repeat(0.9, 6), ...repeat(0.1, 3), ...repeat(0.5, 6), ...repeat(0, 10)]);
    expect(r.starts).toHaveLength(1);
    expect(r.ends).toHaveLength(1);
    expect(r.states.slice(6, 9)).toEqual(["HOLD", "HOLD", "HOLD"]);
    expect(r.states[9]).toBe("ALERT");
    // Start at 1.0 s; second burst ends at index 15 (7.5 s) → HOLD until 9.5 s.
    expect(r.ends[0]).toMatchObject({ startMs: 1000, endMs: 9500, reason: "score_dropped" });
    // Mean over every window of the alert: the lead-up and ALERT windows, six at 0.9 (indices
    // 0..5) and six at 0.5; the HOLD windows (all below exit) are left out.
    expect(r.ends[0]?.mean).toBeCloseTo((6 * 0.9 + 6 * 0.5) / 12);
  });

  it("defines peak and mean the same way at start and end: the alert so far, so the end's peak is never lower", () => {
    const m = new AlertStateMachine(PARAMS);
    // A loud lead-up, then a quieter alert: before, the end reported only the quieter part
    // (start peak 0.95, end peak 0.7 for the same alert).
    const r = replay(m, [0.95, 0.95, 0.95, ...repeat(0.7, 8), ...repeat(0, 12)]);
    expect(r.starts).toHaveLength(1);
    expect(r.ends).toHaveLength(1);
    const start = r.starts[0]!;
    const end = r.ends[0]!;
    expect(start.peak).toBeCloseTo(0.95);
    expect(start.mean).toBeCloseTo(0.95);
    expect(end.peak).toBeCloseTo(0.95);
    expect(end.peak).toBeGreaterThanOrEqual(start.peak);
    expect(end.mean).toBeCloseTo((3 * 0.95 + 8 * 0.7) / 11);
  });

  it("ends a score that stays high at maxAlertMs and starts nothing during the cooldown", () => {
    const m = new AlertStateMachine(PARAMS);
    const r = replay(m, repeat(0.95, 200)); // 100 s of shouting
    // First alert: start 1.0 s, end when it has lasted 30 s.
    expect(r.starts[0]?.startMs).toBe(1000);
    expect(r.ends[0]).toMatchObject({ startMs: 1000, endMs: 31_000, reason: "max_duration" });
    // Cooldown 10 s, then IDLE → SUSPECT at 41 s, alert at 42 s.
    expect(r.starts[1]?.startMs).toBe(42_000);
    for (const s of r.starts.slice(1)) {
      const prevEnd = r.ends.find((e) => e.endMs <= s.startMs && e.startMs < s.startMs);
      expect(prevEnd).toBeDefined();
      expect(s.startMs - (prevEnd?.endMs ?? 0)).toBeGreaterThanOrEqual(PARAMS.cooldownMs);
    }
    expect(r.states[70]).toBe("COOLDOWN");
    expect(r.states[81]).toBe("COOLDOWN");
    expect(r.states[82]).toBe("SUSPECT");
  });

  it("ends a HOLD that would outlast maxAlertMs", () => {
    const m = new AlertStateMachine({ ...PARAMS, maxAlertMs: 3000, holdMs: 10_000 });
    const r = replay(m, [...repeat(0.9, 5), ...repeat(0, 20)]);
    expect(r.ends).toEqual([expect.objectContaining({ startMs: 1000, endMs: 4000, reason: "max_duration" })]);
  });

  it("ends at once when holdMs is 0", () => {
    const m = new AlertStateMachine({ ...PARAMS, holdMs: 0 });
    const r = replay(m, [...repeat(0.9, 5), 0, 0]);
    expect(r.ends).toEqual([expect.objectContaining({ endMs: 2500, reason: "score_dropped" })]);
    expect(r.states[5]).toBe("COOLDOWN");
  });

  it("reset() ends an open alert, drops the cooldown and returns to IDLE", () => {
    const m = new AlertStateMachine(PARAMS);
    replay(m, repeat(0.9, 6));
    expect(m.state).toBe("ALERT");
    expect(m.activeAlert).toEqual({ startMs: 1000, peak: 0.9 });
    const r = m.reset(3000);
    expect(r.events).toEqual([expect.objectContaining({ type: "alert_end", startMs: 1000, endMs: 3000, reason: "reset" })]);
    expect(r.state).toBe("IDLE");
    expect(m.sinceMs).toBe(3000);
    expect(m.activeAlert).toBeNull();
    // No cooldown after a reset: a new burst alerts at once.
    const again = replay(m, repeat(0.9, 4), 3500);
    expect(again.starts.map((s) => s.startMs)).toEqual([4500]);
    // A reset in IDLE says nothing.
    expect(new AlertStateMachine(PARAMS).reset(0).events).toEqual([]);
  });

  it("treats NaN as 0 and ignores steps that go back in time", () => {
    const m = new AlertStateMachine(PARAMS);
    expect(m.step({ tMs: 0, score: Number.NaN }).score).toBe(0);
    expect(m.step({ tMs: 500, score: 0.9 }).state).toBe("SUSPECT");
    const back = m.step({ tMs: 100, score: 0.9 });
    expect(back).toMatchObject({ ignored: "time_went_backwards", state: "SUSPECT", events: [] });
    expect(m.step({ tMs: Number.NaN, score: 0.9 }).ignored).toBe("invalid_time");
    // The ignored windows did not count as hits: only 2 hits so far at 1.0 s.
    expect(m.step({ tMs: 1000, score: 0.9 }).state).toBe("SUSPECT");
    const r = m.step({ tMs: 1500, score: 0.9 });
    expect(r.state).toBe("ALERT");
    // A NaN during ALERT counts as 0 → HOLD, not a crash and not a stuck alert.
    expect(m.step({ tMs: 2000, score: Number.NaN }).state).toBe("HOLD");
    // reset() with an earlier time ends at the last known time.
    expect(m.reset(0).events[0]).toMatchObject({ endMs: 2000 });
    // Same time twice is allowed (not backwards).
    expect(m.step({ tMs: 2000, score: 0 }).ignored).toBeNull();
  });

  it("names the dominant danger emotion and averages probabilities over the alert", () => {
    const m = new AlertStateMachine({ ...PARAMS, k: 1, n: 1, minDurationMs: 0 });
    const start = m.step({ tMs: 0, score: 0.8, probs: { angry: 0.1, fear: 0.7, neutral: 0.2 } });
    expect(start.events[0]).toMatchObject({ type: "alert_start", emotion: "fear" });
    m.step({ tMs: 500, score: 0.9, probs: { angry: 0.5, fear: 0.4, neutral: 0.1 } });
    m.step({ tMs: 1000, score: 0.7 }); // skipped by the energy gate: no probs
    const end = m.reset(1500).events[0] as AlertEndEvent;
    expect(end.emotion).toBe("fear");
    expect(end.probs.fear).toBeCloseTo(0.55);
    expect(end.probs.angry).toBeCloseTo(0.3);
    expect(end.peak).toBeCloseTo(0.9);
    expect(end.mean).toBeCloseTo(0.8);
    // Without any probabilities the emotion is "unknown".
    const bare = new AlertStateMachine({ ...PARAMS, k: 1, n: 1, minDurationMs: 0 });
    expect(bare.step({ tMs: 0, score: 0.9 }).events[0]).toMatchObject({ emotion: "unknown", probs: {} });
  });

  it("refuses parameters without hysteresis or with k > n, listing every problem", () => {
    expect(() => new AlertStateMachine({ ...PARAMS, enterThreshold: 0.4, exitThreshold: 0.4 })).toThrow(ConfigError);
    try {
      new AlertStateMachine({ ...PARAMS, enterThreshold: 0.3, k: 6, holdMs: -1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.code).toBe("INVALID_CONFIG");
      expect(e.issues).toHaveLength(3);
      expect(e.issues.join("\n")).toMatch(/enterThreshold must be greater than exitThreshold.*0\.3 <= 0\.4/);
      expect(e.issues.join("\n")).toMatch(/k must be/);
      expect(e.issues.join("\n")).toMatch(/holdMs must be >= 0/);
    }
  });
});

/** mulberry32: a tiny seeded PRNG, so a failing trace can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("AlertStateMachine over random traces", () => {
  it("keeps its invariants on 300 seeded random traces", () => {
    // Plain checks (not expect) in the hot loop: 450k steps must stay fast on a busy machine.
    const check = (ok: boolean, msg: string): void => {
      if (!ok) expect.fail(msg);
    };
    let totalAlerts = 0;
    let totalEnds = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed);
      const hopMs = [100, 250, 500, 1000][Math.floor(rnd() * 4)] ?? 500;
      const exit = 0.1 + rnd() * 0.5;
      const n = 1 + Math.floor(rnd() * 8);
      const params: AlertParams = {
        enterThreshold: Math.min(1, exit + 0.05 + rnd() * 0.4),
        exitThreshold: exit,
        n,
        k: 1 + Math.floor(rnd() * n),
        minDurationMs: Math.floor(rnd() * 4) * hopMs,
        holdMs: Math.floor(rnd() * 6) * hopMs,
        cooldownMs: Math.floor(rnd() * 20) * hopMs,
        maxAlertMs: (1 + Math.floor(rnd() * 40)) * hopMs,
        dangerWeights: { angry: 1, fear: 1 },
      };
      const m = new AlertStateMachine(params);
      const ctx = `seed ${seed} ${JSON.stringify(params)}`;

      let open: AlertStartEvent | null = null;
      let lastEnd: AlertEndEvent | null = null;
      let resetSinceLastEnd = false;
      let t = 0;
      let level = 0;
      for (let i = 0; i < 1500; i++) {
        // Piecewise trace: quiet noise, bursts, flicker, with NaNs, clock hiccups and disarms.
        if (rnd() < 0.05) level = [0, 0.2, 0.5, 0.7, 0.95][Math.floor(rnd() * 5)] ?? 0;
        let score = Math.min(1, Math.max(0, level + (rnd() - 0.5) * 0.4));
        if (rnd() < 0.01) score = Number.NaN;
        let events: DetectEvent[];
        let wasReset = false;
        if (rnd() < 0.002) {
          events = m.reset(t).events;
          wasReset = true;
        } else if (i > 0 && rnd() < 0.01) {
          const r = m.step({ tMs: t - hopMs * 3, score });
          check(r.ignored === "time_went_backwards" && r.events.length === 0, `${ctx}: backwards step not ignored`);
          events = r.events;
        } else {
          events = m.step({ tMs: t, score }).events;
          t += hopMs;
        }
        for (const e of events) {
          if (e.type === "alert_start") {
            check(open === null, `${ctx}: alerts overlap at ${e.startMs}`);
            if (lastEnd !== null && !resetSinceLastEnd) {
              check(e.startMs - lastEnd.endMs >= params.cooldownMs, `${ctx}: start ${e.startMs} within cooldown of ${lastEnd.endMs}`);
            }
            check(e.score >= params.enterThreshold, `${ctx}: start below enter`);
            open = e;
            totalAlerts += 1;
          } else {
            check(open !== null && e.startMs === open.startMs, `${ctx}: end at ${e.endMs} without its start`);
            check(e.endMs >= e.startMs, `${ctx}: end before start`);
            check(e.endMs - e.startMs <= params.maxAlertMs + hopMs, `${ctx}: alert of ${e.endMs - e.startMs} ms too long`);
            check(e.peak >= params.enterThreshold && e.mean <= e.peak + 1e-12, `${ctx}: bad peak/mean`);
            open = null;
            lastEnd = e;
            resetSinceLastEnd = false;
            totalEnds += 1;
          }
        }
        // A reset (disarm) drops the cooldown on purpose.
        if (wasReset) resetSinceLastEnd = true;
        const alerting = m.state === "ALERT" || m.state === "HOLD";
        check(alerting === (open !== null), `${ctx}: state ${m.state} disagrees with the open alert at step ${i}`);
      }
      // Close whatever is open: every start gets exactly one end.
      const tail = m.reset(t).events;
      check(tail.length === (open === null ? 0 : 1), `${ctx}: open alert not closed by reset`);
      totalEnds += tail.length;
    }
    expect(totalEnds).toBe(totalAlerts);
    // The traces must actually exercise alerts, or the invariants prove nothing.
    expect(totalAlerts).toBeGreaterThan(300);
  });
});
