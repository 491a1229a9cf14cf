import { describe, expect, it } from "vitest";
import {
  HEARTBEAT_ON_MS,
  HEARTBEAT_PERIOD_MS,
  indicatorOutputs,
  PROBLEM_BLINK_HALF_PERIOD_MS,
  type AlarmContext,
  type PatternOptions,
} from "../../../../src/outputs/gpio/patterns.js";
import type { DeviceStatus } from "../../../../src/outputs/sink.js";

const WALL0 = Date.UTC(2025, 0, 1);
const opts: PatternOptions = { heartbeat: true, buzzerMaxOnMs: 10_000, buzzerPatternMs: [500, 300], testAlertMs: 3000 };

function status(over: Partial<DeviceStatus> = {}): DeviceStatus {
  return {
    state: "IDLE",
    danger: 0,
    emotion: null,
    dangerEmotion: null,
    sinceMs: WALL0,
    armed: true,
    mutedUntilMs: null,
    muteMinutes: 0,
    problems: [],
    problemMessages: {},
    acknowledged: false,
    ...over,
  };
}

/** Sample the pattern every 10 ms over [fromMs, toMs) of monotonic time (wall = WALL0 + mono). */
function sample(
  s: DeviceStatus | null,
  alarm: AlarmContext | null,
  fromMs: number,
  toMs: number,
  o: PatternOptions = opts,
): { t: number; led: boolean; buzzer: boolean; mode: string }[] {
  const out = [];
  for (let t = fromMs; t < toMs; t += 10) {
    out.push({ t, ...indicatorOutputs({ status: s, alarm, nowMs: WALL0 + t, monoMs: t }, o) });
  }
  return out;
}
const onTimes = (xs: { t: number; led: boolean }[]) => xs.filter((x) => x.led).map((x) => x.t);
const buzzTimes = (xs: { t: number; buzzer: boolean }[]) => xs.filter((x) => x.buzzer).map((x) => x.t);

describe("indicatorOutputs", () => {
  it("is dark until the first status arrives", () => {
    const xs = sample(null, null, 0, 10_000);
    expect(onTimes(xs)).toEqual([]);
    expect(buzzTimes(xs)).toEqual([]);
  });

  it("idle: a short heartbeat blink every period, never the buzzer", () => {
    const xs = sample(status(), null, 0, 3 * HEARTBEAT_PERIOD_MS);
    const on = onTimes(xs);
    expect(on.length).toBe(3 * (HEARTBEAT_ON_MS / 10));
    expect(on.filter((t) => t % HEARTBEAT_PERIOD_MS >= HEARTBEAT_ON_MS)).toEqual([]);
    expect(buzzTimes(xs)).toEqual([]);
    expect(xs[0]?.mode).toBe("heartbeat");
  });

  it("idle without heartbeat: dark", () => {
    expect(onTimes(sample(status(), null, 0, 10_000, { ...opts, heartbeat: false }))).toEqual([]);
  });

  it("SUSPECT and COOLDOWN look exactly like idle", () => {
    const idle = sample(status(), null, 0, 8000);
    expect(sample(status({ state: "SUSPECT", danger: 0.6 }), null, 0, 8000)).toEqual(idle);
    expect(sample(status({ state: "COOLDOWN" }), null, 0, 8000)).toEqual(idle);
  });

  it("disarmed: dark, no heartbeat", () => {
    const xs = sample(status({ armed: false }), null, 0, 10_000);
    expect(onTimes(xs)).toEqual([]);
    expect(xs[0]?.mode).toBe("disarmed");
  });

  it("muted (the Armed switch still on): dark like disarmed, heartbeat again when the mute is over", () => {
    const muted = status({ armed: true, mutedUntilMs: WALL0 + 5_000, muteMinutes: 1 });
    const during = sample(muted, null, 0, 5_000);
    expect(onTimes(during)).toEqual([]);
    expect(during[0]?.mode).toBe("disarmed");
    const after = sample(muted, null, 5_000, 12_000);
    expect(after.at(-1)?.mode).toBe("heartbeat");
    expect(onTimes(after).length).toBeGreaterThan(0);
  });

  it("problem: fast even blink, even when disarmed, and no buzzer", () => {
    for (const armed of [true, false]) {
      const xs = sample(status({ armed, problems: ["microphone silent"] }), null, 0, 2000);
      expect(onTimes(xs).length).toBe(xs.length / 2);
      expect(indicatorOutputs({ status: status({ problems: ["x"] }), alarm: null, nowMs: 0, monoMs: 0 }, opts).led).toBe(true);
      expect(
        indicatorOutputs(
          { status: status({ problems: ["x"] }), alarm: null, nowMs: 0, monoMs: PROBLEM_BLINK_HALF_PERIOD_MS },
          opts,
        ).led,
      ).toBe(false);
      expect(buzzTimes(xs)).toEqual([]);
      expect(xs[0]?.mode).toBe("problem");
    }
  });

  it("alert: solid LED, buzzer beeps on/off from the alert's start", () => {
    const alarm: AlarmContext = { startedMonoMs: 1000, test: false, acknowledged: false };
    const xs = sample(status({ state: "ALERT" }), alarm, 1000, 2600);
    expect(xs.every((x) => x.led && x.mode === "alert")).toBe(true);
    const buzz = buzzTimes(xs);
    // [500 on, 300 off] twice: on 1000-1490, off 1500-1790, on 1800-2290, off 2300-2590.
    expect(buzz[0]).toBe(1000);
    expect(buzz).toContain(1490);
    expect(buzz).not.toContain(1500);
    expect(buzz).not.toContain(1790);
    expect(buzz).toContain(1800);
    expect(buzz).not.toContain(2300);
    expect(buzz.length).toBe(100);
  });

  it("alert: problems and disarming do not hide it", () => {
    const alarm: AlarmContext = { startedMonoMs: 0, test: false, acknowledged: false };
    const xs = sample(status({ state: "HOLD", armed: false, problems: ["mqtt down"] }), alarm, 0, 400);
    expect(xs.every((x) => x.led && x.buzzer)).toBe(true);
  });

  it("alert: the buzzer stops buzzerMaxOnMs after the alert began, the LED stays", () => {
    const o: PatternOptions = { ...opts, buzzerPatternMs: [1000, 0], buzzerMaxOnMs: 5000 };
    const alarm: AlarmContext = { startedMonoMs: 2000, test: false, acknowledged: false };
    const xs = sample(status({ state: "HOLD" }), alarm, 2000, 20_000, o);
    expect(buzzTimes(xs)).toEqual(xs.filter((x) => x.t < 7000).map((x) => x.t));
    expect(xs.every((x) => x.led)).toBe(true);
  });

  it("alert acknowledged (by the button or by the daemon): LED stays, buzzer silent", () => {
    const acked: AlarmContext = { startedMonoMs: 0, test: false, acknowledged: true };
    let xs = sample(status({ state: "ALERT" }), acked, 0, 3000);
    expect(xs.every((x) => x.led && !x.buzzer)).toBe(true);
    const alarm: AlarmContext = { ...acked, acknowledged: false };
    xs = sample(status({ state: "ALERT", acknowledged: true }), alarm, 0, 3000);
    expect(xs.every((x) => x.led && !x.buzzer)).toBe(true);
  });

  it("muted: LED but no buzzer until the mute ends", () => {
    const alarm: AlarmContext = { startedMonoMs: 0, test: false, acknowledged: false };
    const xs = sample(status({ state: "ALERT", mutedUntilMs: WALL0 + 2000 }), alarm, 0, 3000);
    expect(xs.every((x) => x.led)).toBe(true);
    expect(buzzTimes(xs).every((t) => t >= 2000)).toBe(true);
    expect(buzzTimes(xs)[0]).toBe(2000);
  });

  it("test alert: alert pattern for testAlertMs only, then back to idle", () => {
    const alarm: AlarmContext = { startedMonoMs: 500, test: true, acknowledged: false };
    const xs = sample(status(), alarm, 500, 4000, { ...opts, heartbeat: false });
    expect(onTimes(xs)).toEqual(xs.filter((x) => x.t < 3500).map((x) => x.t));
    expect(buzzTimes(xs).every((t) => t < 3500)).toBe(true);
    expect(buzzTimes(xs)[0]).toBe(500);
    expect(xs[0]?.mode).toBe("test");
    expect(xs.at(-1)?.mode).toBe("off");
  });

  it("test alert: the buzzer limit is the shorter of buzzerMaxOnMs and testAlertMs", () => {
    const alarm: AlarmContext = { startedMonoMs: 0, test: true, acknowledged: false };
    const xs = sample(status(), alarm, 0, 3000, { ...opts, buzzerPatternMs: [100, 0], buzzerMaxOnMs: 1000 });
    expect(buzzTimes(xs).at(-1)).toBe(990);
    expect(onTimes(xs).at(-1)).toBe(2990);
  });
});
