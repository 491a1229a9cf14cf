import { describe, expect, it } from "vitest";
import { buildStream, DEFAULT_STREAM_OPTIONS, encodeWav16, type StreamClip, type StreamOptions } from "../../../src/bench/stream-builder.js";
import { decodeWav } from "../../../src/audio/wav.js";

/** Synthetic corpus: each clip is a tone whose amplitude encodes its index, 1–2 s long. */
function corpus(): { clips: StreamClip[]; audio: Map<string, Float32Array> } {
  const clips: StreamClip[] = [];
  const audio = new Map<string, Float32Array>();
  const labels = ["neutral", "happy", "sad", "angry", "fear"];
  for (let i = 0; i < 40; i++) {
    const label = labels[i % labels.length]!;
    const file = `clip-${i}.wav`;
    clips.push({ file, label, speaker: `s${i % 4}` });
    const n = 16000 + ((i * 1777) % 16000);
    audio.set(file, Float32Array.from({ length: n }, (_, k) => 0.3 * Math.sin(0.05 * k)));
  }
  return { clips, audio };
}

const opts = (seed: number, over: Partial<StreamOptions> = {}): StreamOptions => ({
  ...DEFAULT_STREAM_OPTIONS,
  durationS: 300,
  passageEveryS: 40,
  seed,
  dangerLabels: ["angry", "fear"],
  ...over,
});

describe("buildStream", () => {
  it("places danger passages of one speaker, at least minPassageS long, where the timeline says", async () => {
    const { clips, audio } = corpus();
    const loads: string[] = [];
    const load = async (c: StreamClip): Promise<Float32Array> => {
      loads.push(c.file);
      return audio.get(c.file)!;
    };
    const noise = { name: "hum", samples: Float32Array.from({ length: 8000 }, (_, k) => Math.sin(0.3 * k)) };
    const { samples, timeline } = await buildStream(clips, load, [noise], opts(5));
    expect(samples.length).toBe(300 * 16000);
    expect(timeline.passages.length).toBeGreaterThanOrEqual(4);
    for (const [id, p] of timeline.passages.entries()) {
      expect(p.end_s - p.start_s).toBeGreaterThanOrEqual(3);
      const segs = timeline.segments.filter((s) => s.passage === id);
      expect(segs.length).toBe(p.clips);
      expect(new Set(segs.map((s) => s.speaker))).toEqual(new Set([p.speaker]));
      expect(segs.every((s) => s.danger && (s.label === "angry" || s.label === "fear"))).toBe(true);
      expect(segs[0]!.start_s).toBe(p.start_s);
      expect(segs[segs.length - 1]!.end_s).toBe(p.end_s);
    }
    // Non-danger segments are never danger labels, segments never overlap and lie in the stream.
    const sorted = [...timeline.segments].sort((a, b) => a.start_s - b.start_s);
    sorted.forEach((s, i) => {
      if (s.passage === null) expect(s.danger).toBe(false);
      if (i > 0) expect(s.start_s).toBeGreaterThanOrEqual(sorted[i - 1]!.end_s);
      expect(s.end_s).toBeLessThanOrEqual(300);
    });
    // Audio is where the timeline puts it: a clip's samples (plus noise) at its start.
    const seg = sorted[3]!;
    const clip = audio.get(seg.file)!;
    const at = Math.round(seg.start_s * 16000);
    expect(Math.abs(samples[at + 100]! - clip[100]!)).toBeLessThan(0.2);
    expect(timeline.noise.source).toBe("hum");
    // Only the clips used are read (plus at most the one that no longer fitted at the end).
    expect(loads.length - timeline.segments.length).toBeGreaterThanOrEqual(0);
    expect(loads.length - timeline.segments.length).toBeLessThanOrEqual(1);
  });

  it("is reproducible from its seed, and another seed gives another stream", async () => {
    const { clips, audio } = corpus();
    const load = async (c: StreamClip): Promise<Float32Array> => audio.get(c.file)!;
    const a = await buildStream(clips, load, [], opts(9, { durationS: 120 }));
    const b = await buildStream(clips, load, [], opts(9, { durationS: 120 }));
    const c = await buildStream(clips, load, [], opts(10, { durationS: 120 }));
    expect(b.timeline).toEqual(a.timeline);
    expect(Buffer.from(b.samples.buffer).equals(Buffer.from(a.samples.buffer))).toBe(true);
    expect(c.timeline.segments).not.toEqual(a.timeline.segments);
  });

  it("refuses a pool without danger clips or without calm clips", async () => {
    const { clips, audio } = corpus();
    const load = async (c: StreamClip): Promise<Float32Array> => audio.get(c.file)!;
    await expect(buildStream(clips.filter((c) => c.label === "neutral"), load, [], opts(1))).rejects.toThrow(/angry\/fear clips/);
    await expect(buildStream(clips.filter((c) => c.label === "angry"), load, [], opts(1))).rejects.toThrow(/non-danger/);
  });

  it("writes a 16-bit WAV that the project's decoder reads back", () => {
    const x = Float32Array.from({ length: 1000 }, (_, k) => 0.5 * Math.sin(0.01 * k));
    const back = decodeWav(encodeWav16(x), "t.wav");
    expect(back.sampleRateHz).toBe(16000);
    expect(back.samples.length).toBe(1000);
    back.samples.forEach((v, i) => expect(Math.abs(v - x[i]!)).toBeLessThan(1e-4));
  });
});
