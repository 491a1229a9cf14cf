import { describe, expect, it } from "vitest";
import { FakeClock } from "../../fakes/fake-clock.js";

describe("FakeClock", () => {
  it("fires due timers in order, ties in the order set, reading each timer's due time", () => {
    const clock = new FakeClock(Date.UTC(2025, 0, 1), 0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.monotonicMs()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.monotonicMs()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.monotonicMs()}`), 20);
    const late = clock.setTimeout(() => fired.push("never"), 25);
    clock.clearTimeout(late);
    clock.advance(15);
    expect(fired).toEqual(["a@10"]);
    clock.advance(100);
    expect(fired).toEqual(["a@10", "b@20", "c@20"]);
    expect(clock.monotonicMs()).toBe(115);
    expect(clock.nowMs()).toBe(Date.UTC(2025, 0, 1) + 115);
  });

  it("fires timers set by callbacks within the same advance, and not beyond it", () => {
    const clock = new FakeClock();
    let ticks = 0;
    const tick = () => {
      ticks++;
      clock.setTimeout(tick, 50);
    };
    clock.setTimeout(tick, 50);
    clock.advance(1000);
    expect(ticks).toBe(20);
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerDueMs()).toBe(clock.monotonicMs() + 50);
  });

  it("steps wall time alone with jumpWallClock", () => {
    const clock = new FakeClock(1_000_000, 0);
    clock.jumpWallClock(-500);
    expect([clock.nowMs(), clock.monotonicMs()]).toEqual([999_500, 0]);
  });

  it("advanceAsync lets promises settle between timers", async () => {
    const clock = new FakeClock(0, 0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => clock.setTimeout(() => seen.push(clock.monotonicMs()), 10));
    }, 10);
    await clock.advanceAsync(30);
    expect(seen).toEqual([20]);
  });
});
