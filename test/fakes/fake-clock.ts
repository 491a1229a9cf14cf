/**
 * A Clock (src/clock.ts) that only moves when a test says so.
 *
 * `advance(ms)` fires every timer due within the window in order of due time (ties in the
 * order they were set), with the clock reading each timer's due time while it runs; timers set
 * by a callback fire in the same call if they fall within the window. Wall time (`nowMs`) and
 * monotonic time move together, except through `jumpWallClock`, which models the NTP step a Pi
 * without a real-time clock takes after boot.
 */
import type { Clock, TimerHandle } from "../../src/clock.js";

interface FakeTimer {
  id: number;
  dueMs: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private monoMs: number;
  private wallOffsetMs: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  /** @param startWallMs epoch ms at creation; monotonic time starts at `startMonoMs`. */
  constructor(startWallMs = Date.UTC(2025, 0, 1), startMonoMs = 1000) {
    this.monoMs = startMonoMs;
    this.wallOffsetMs = startWallMs - startMonoMs;
  }

  nowMs(): number {
    return this.monoMs + this.wallOffsetMs;
  }

  monotonicMs(): number {
    return this.monoMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: FakeTimer = { id: this.nextId++, dueMs: this.monoMs + delay, fn };
    this.timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle.id);
  }

  /** Move time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`FakeClock.advance: ms must be >= 0 (got ${ms})`);
    const endMs = this.monoMs + ms;
    for (let t = this.takeNextDue(endMs); t; t = this.takeNextDue(endMs)) {
      this.monoMs = t.dueMs;
      t.fn();
    }
    this.monoMs = endMs;
  }

  /**
   * As `advance`, but lets promises settle after each timer and at the end, for code that
   * awaits between timers (a fake IO call resolving, then the next timer being set).
   */
  async advanceAsync(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`FakeClock.advanceAsync: ms must be >= 0 (got ${ms})`);
    const endMs = this.monoMs + ms;
    await flushPromises();
    for (let t = this.takeNextDue(endMs); t; t = this.takeNextDue(endMs)) {
      this.monoMs = t.dueMs;
      t.fn();
      await flushPromises();
    }
    this.monoMs = endMs;
    await flushPromises();
  }

  /** Step wall time only (an NTP correction); monotonic time and timers are unaffected. */
  jumpWallClock(ms: number): void {
    this.wallOffsetMs += ms;
  }

  /** How many timers are waiting. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Monotonic due time of the next timer, or null if none. */
  nextTimerDueMs(): number | null {
    const t = this.peek();
    return t ? t.dueMs : null;
  }

  private peek(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) {
      // `timers` is in insertion order, so a strict < keeps ties in the order they were set.
      if (!best || t.dueMs < best.dueMs) best = t;
    }
    return best;
  }

  private takeNextDue(endMs: number): FakeTimer | undefined {
    const t = this.peek();
    if (!t || t.dueMs > endMs) return undefined;
    this.timers = this.timers.filter((x) => x !== t);
    return t;
  }
}

/** Let queued promise callbacks run (a macrotask turn drains the microtask queue). */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
