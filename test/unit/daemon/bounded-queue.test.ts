import { describe, expect, it } from "vitest";
import { BoundedQueue } from "../../../src/daemon/bounded-queue.js";

describe("BoundedQueue", () => {
  it("drops the oldest items when full and counts them", () => {
    const q = new BoundedQueue<number>(3);
    expect([1, 2, 3].map((n) => q.push(n))).toEqual([0, 0, 0]);
    expect(q.full).toBe(true);
    expect(q.push(4)).toBe(1);
    expect(q.push(5)).toBe(1);
    expect(q.dropped).toBe(2);
    expect(q.takeAll()).toEqual([3, 4, 5]);
    expect(q.length).toBe(0);
    expect(q.dropped).toBe(2);
  });

  it("refuses a size below one", () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
  });
});
