import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { activeRms } from "../../../src/train/augment.js";
import { medianDbfs, traceFromDaemon } from "../../../src/calibrate/from-daemon.js";
import { CATCH_GRACE_S, loadBundledPassages, PassageMixer, PASSAGE_GAP_S, syntheticRoom } from "../../../src/calibrate/danger-mix.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const dbfs = (rms: number): number => 20 * Math.log10(rms);
/** Byte-equal (toEqual on millions of samples takes minutes). */
const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("danger passages mixed into a room", () => {
  it("cuts the three angry sentences of demo.wav into passages of one to three sentences (3-9 s)", async () => {
    const passages = await loadBundledPassages(ROOT);
    expect(passages.length).toBe(6); // 3 single, 2 pairs, 1 triple
    const seconds = passages.map((p) => p.length / 16000).sort((a, b) => a - b);
    expect(seconds[0]).toBeGreaterThan(2);
    expect(seconds[5]).toBeGreaterThan(8.5);
    expect(seconds[5]).toBeLessThan(9.5);
  });

  it("adds passages to the room at speech level, seeded, the same whatever the chunk size, and gives their truth", async () => {
    const passages = await loadBundledPassages(ROOT);
    const room = syntheticRoom(600, -50, 3);
    const run = (chunk: number, seed: number): { mixed: Float32Array; mixer: PassageMixer } => {
      const mixer = new PassageMixer(passages, seed);
      const mixed = new Float32Array(room.length);
      for (let i = 0; i < room.length; i += chunk) mixed.set(mixer.mix(room.subarray(i, i + chunk)), i);
      return { mixed, mixer };
    };
    const a = run(8000, 7);
    const b = run(1234, 7);
    expect(same(b.mixed, a.mixed)).toBe(true);
    expect(b.mixer.timeline()).toEqual(a.mixer.timeline());
    expect(run(8000, 8).mixer.timeline().passages).not.toEqual(a.mixer.timeline().passages);
    const t = a.mixer.timeline();
    // 10 min with a passage every 45-90 s after the last one.
    expect(t.passages.length).toBeGreaterThanOrEqual(5);
    expect(t.passages.length).toBeLessThanOrEqual(Math.floor(600 / PASSAGE_GAP_S[0]));
    for (const p of t.passages) {
      expect(p.end_s + CATCH_GRACE_S).toBeLessThanOrEqual(600);
      const seg = a.mixed.subarray(Math.round(p.start_s * 16000), Math.round(p.end_s * 16000));
      const level = dbfs(activeRms(seg));
      // The home streams' speech level: −24 dBFS, −6…+4 dB.
      expect(level).toBeGreaterThan(-31);
      expect(level).toBeLessThan(-19);
    }
    // Outside the passages the room is untouched, and the input chunk was not changed.
    const before = t.passages[0]!.start_s;
    expect(same(a.mixed.subarray(0, Math.floor(before * 16000)), room.subarray(0, Math.floor(before * 16000)))).toBe(true);
    expect(same(a.mixed, room)).toBe(false);
    expect(dbfs(activeRms(room))).toBeCloseTo(-50, 0);
  });

  it("does not count a passage the stream was cut before the detector could catch", async () => {
    const passages = await loadBundledPassages(ROOT);
    const mixer = new PassageMixer(passages, 7);
    const full = new PassageMixer(passages, 7);
    full.mix(new Float32Array(600 * 16000));
    const first = full.timeline().passages[0]!;
    // Stop one second after the first passage ends: within its grace.
    mixer.mix(new Float32Array(Math.round((first.end_s + 1) * 16000)));
    expect(mixer.timeline().passages).toEqual([]);
  });
});

describe("the daemon's window scores as a trace", () => {
  it("splits at gaps and clock steps back, and counts only the time listened", () => {
    const tMs = [1000, 1500, 2000, /* muted 10 min */ 602_000, 602_500, /* clock stepped back */ 500_000, 500_500];
    const trace = traceFromDaemon({ hopMs: 500, tMs, score: tMs.map(() => 0.1), dbfs: tMs.map(() => -50) });
    expect(trace.segments.map((s) => s.length)).toEqual([3, 2, 2]);
    expect(trace.audioMs).toBe(3500);
    expect(medianDbfs([-60, -40, -50])).toBe(-50);
  });
});
