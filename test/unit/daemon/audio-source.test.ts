import { describe, expect, it } from "vitest";
import { FileAudioSource } from "../../../src/audio/source.js";
import { silentLogger } from "../../../src/log.js";
import { FakeClock } from "../../fakes/fake-clock.js";

describe("FileAudioSource", () => {
  it("streams the whole recording at real time x speed, with the recording's own times, then ends", async () => {
    const clock = new FakeClock();
    const samples = Float32Array.from({ length: 16_000 * 2 + 123 }, (_, i) => Math.sin(i / 10) * 0.5);
    const src = new FileAudioSource({ samples, speed: 4 }, { clock, log: silentLogger() });
    const chunks: { n: number; tMs: number; atMonoMs: number }[] = [];
    let ended = 0;
    src.onData((s, tMs) => chunks.push({ n: s.length, tMs, atMonoMs: clock.monotonicMs() }));
    src.onEnd(() => ended++);
    await src.start();
    const t0 = src.startedAtMs;
    clock.advance(260); // 1 s of audio at 4x, on the 20 ms pacing tick after it is due
    const sent = chunks.reduce((a, c) => a + c.n, 0);
    expect(sent).toBe(16_000);
    clock.advance(1000);
    expect(ended).toBe(1);
    expect(chunks.reduce((a, c) => a + c.n, 0)).toBe(samples.length);
    expect(chunks.at(-1)!.tMs - t0).toBeCloseTo((samples.length / 16_000) * 1000, 6);
    expect(chunks[0]!.tMs - t0).toBe(100);
    // Pacing: the 1 s mark arrived 250 ms after start.
    expect(chunks.find((c) => c.tMs - t0 === 1000)!.atMonoMs - 1000).toBeLessThanOrEqual(270);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("stops streaming on stop()", async () => {
    const clock = new FakeClock();
    const src = new FileAudioSource({ samples: new Float32Array(16_000 * 5), speed: 1 }, { clock, log: silentLogger() });
    let n = 0;
    src.onData((s) => (n += s.length));
    await src.start();
    clock.advance(1000);
    await src.stop();
    clock.advance(10_000);
    expect(n).toBe(16_000);
  });
});
