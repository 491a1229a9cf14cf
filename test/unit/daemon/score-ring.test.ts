import { describe, expect, it } from "vitest";
import { ScoreRing } from "../../../src/daemon/score-ring.js";

function readAll(ring: ScoreRing, sinceMs = -Infinity, pageSize = 3): { tMs: number[]; score: number[]; pages: number } {
  const out = { tMs: [] as number[], score: [] as number[], pages: 0 };
  let after = -1;
  for (;;) {
    const page = ring.read(after, sinceMs, pageSize);
    out.pages++;
    out.tMs.push(...page.tMs);
    out.score.push(...page.score);
    after = page.lastSeq;
    if (!page.more) return out;
  }
}

describe("ScoreRing", () => {
  it("holds 24 h of windows at the hop, allocated once", () => {
    expect(ScoreRing.forHop(500).capacity).toBe(172_800);
    expect(ScoreRing.forHop(250, 1).capacity).toBe(14_400);
  });

  it("returns the windows oldest first, page by page, with scores and levels as pushed", () => {
    const ring = new ScoreRing(10);
    for (let i = 0; i < 7; i++) ring.push(1_700_000_000_000 + i * 500, i / 10, -40 - i);
    const first = ring.read(-1, -Infinity, 3);
    expect(first).toMatchObject({ tMs: [1_700_000_000_000, 1_700_000_000_500, 1_700_000_001_000], score: [0, 0.1, 0.2], dbfs: [-40, -41, -42], lastSeq: 2, more: true });
    const all = readAll(ring);
    expect(all.score).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    expect(all.pages).toBe(3);
  });

  it("overwrites the oldest when full: memory stays bounded", () => {
    const ring = new ScoreRing(4);
    for (let i = 0; i < 10; i++) ring.push(i * 500, i / 10, -50);
    expect(ring.size).toBe(4);
    expect(readAll(ring).tMs).toEqual([3000, 3500, 4000, 4500]);
    // A reader that fell behind the ring resumes at the oldest window still held.
    expect(ring.read(1, -Infinity, 10).tMs).toEqual([3000, 3500, 4000, 4500]);
  });

  it("reads only windows at or after sinceMs, and pages by number so a clock step back repeats nothing", () => {
    const ring = new ScoreRing(100);
    for (let i = 0; i < 6; i++) ring.push(10_000 + i * 500, 0.5, -30);
    // NTP steps the clock back a minute: later windows have earlier times.
    for (let i = 0; i < 3; i++) ring.push(-50_000 + i * 500, 0.7, -30);
    expect(readAll(ring, 11_000).tMs).toEqual([11_000, 11_500, 12_000, 12_500]);
    const all = readAll(ring, -Infinity, 2);
    expect(all.tMs.length).toBe(9);
    expect(new Set(all.tMs).size).toBe(9);
  });
});
