import { describe, expect, it } from "vitest";
import { MicLevelWatch, type LevelEvent } from "../../../src/audio/microphone.js";

describe("MicLevelWatch", () => {
  const opts = { silenceDbfs: -80, silentForMs: 500, clipForMs: 300 };

  function feed(watch: MicLevelWatch, samples: Int16Array, chunk: number): LevelEvent[] {
    const events: LevelEvent[] = [];
    for (let i = 0; i < samples.length; i += chunk) events.push(...watch.push(samples.subarray(i, i + chunk)));
    return events;
  }

  function tone(n: number, amplitude: number): Int16Array {
    return Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin(i / 5)));
  }

  it("raises silence after silentForMs and clears after a second of sound, whatever the chunk size", () => {
    const audio = new Int16Array([...new Int16Array(16_000), ...tone(32_000, 1000)]);
    const results = [1, 160, 1600, 4097].map((chunk) => feed(new MicLevelWatch(opts), audio, chunk));
    for (const events of results) {
      expect(events.map((e) => [e.code, e.active])).toEqual([
        ["mic_silent", true],
        ["mic_silent", false],
      ]);
    }
  });

  it("does not call quiet room noise silent", () => {
    // ±5 LSB noise is −76 dBFS peak: a live microphone in a quiet room.
    const noise = Int16Array.from({ length: 48_000 }, (_, i) => (i % 11) - 5);
    expect(feed(new MicLevelWatch(opts), noise, 1024)).toEqual([]);
  });

  it("raises clipping only when it lasts clipForMs", () => {
    const watch = new MicLevelWatch(opts);
    // A 100 ms block driven 20 % past full scale: about 40 % of its samples sit at the rails.
    const clipped = Int16Array.from({ length: 1600 }, (_, i) =>
      Math.max(-32768, Math.min(32767, Math.round(40_000 * Math.sin(i / 5)))),
    );
    const burst = new Int16Array([...clipped, ...clipped, ...tone(1600, 1000)]); // 200 ms, then clean
    expect(feed(watch, burst, 512)).toEqual([]);
    const events = feed(watch, new Int16Array([...clipped, ...clipped, ...clipped, ...tone(16_000, 1000)]), 512);
    expect(events.map((e) => [e.code, e.active])).toEqual([
      ["clipping", true],
      ["clipping", false],
    ]);
  });
});
