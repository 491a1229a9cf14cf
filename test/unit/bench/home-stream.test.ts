import { describe, expect, it } from "vitest";
import { buildHomeStream, HOME_STREAM_DEFAULTS, type HomeStreamOptions } from "../../../src/bench/home-stream.js";
import type { StreamClip, StreamTimeline } from "../../../src/bench/stream-builder.js";
import { scoreStream } from "../../../src/bench/stream-score.js";
import { activeRms } from "../../../src/train/augment.js";

/** Calm and danger speech of 4 speakers, 3 kinds of sound, 2 screams, each a tone at its own level. */
function pool(): { clips: StreamClip[]; audio: Map<string, Float32Array> } {
  const clips: StreamClip[] = [];
  const audio = new Map<string, Float32Array>();
  const add = (file: string, label: string, speaker: string | null, seconds: number, amp: number): void => {
    clips.push({ file, label, speaker });
    audio.set(file, Float32Array.from({ length: Math.round(seconds * 16000) }, (_, k) => amp * Math.sin(0.07 * k)));
  };
  for (let i = 0; i < 24; i++) add(`calm-${i}`, ["neutral", "happy", "sad", "calm"][i % 4]!, `c/s${i % 4}`, 1.5 + (i % 3) * 0.5, 0.02 + 0.01 * (i % 5));
  for (let i = 0; i < 16; i++) add(`danger-${i}`, i % 2 ? "angry" : "fear", `c/s${i % 4}`, 2 + (i % 3) * 0.4, 0.4);
  for (let i = 0; i < 9; i++) add(`sound-${i}`, ["laughter", "cough", "infant_cry"][i % 3]!, null, 1 + (i % 4), 0.8);
  add("scream-0", "scream", null, 2.5, 0.9);
  add("scream-1", "scream", null, 3, 0.05);
  add("arousal-0", "arousal_high", "b/1", 1.5, 0.3);
  return { clips, audio };
}

const opts = (mix: "home" | "sounds", seed: number, over: Partial<HomeStreamOptions> = {}): HomeStreamOptions => ({
  ...HOME_STREAM_DEFAULTS[mix],
  durationS: 900,
  seed,
  dangerLabels: ["angry", "fear"],
  ...over,
});

describe("buildHomeStream", () => {
  it("home: calm speech, sounds at speech-like levels, danger passages of 3–30 s and screams, as the timeline says", async () => {
    const { clips, audio } = pool();
    const { samples, timeline } = await buildHomeStream(clips, async (c) => audio.get(c.file)!, [], opts("home", 3));
    expect(samples.length).toBe(900 * 16000);
    expect(timeline.mix).toBe("home");
    const kinds = new Set(timeline.segments.map((s) => s.kind));
    expect(kinds).toEqual(new Set(["clip", "sound", "scream"]));
    // Arousal levels are neither danger nor calm: never used.
    expect(timeline.segments.some((s) => s.label === "arousal_high")).toBe(false);
    const speech = timeline.passages.filter((p) => p.kind === "speech");
    const screams = timeline.passages.filter((p) => p.kind === "scream");
    expect(speech.length).toBeGreaterThanOrEqual(4);
    expect(screams.length).toBeGreaterThanOrEqual(2);
    for (const p of speech) {
      expect(p.end_s - p.start_s).toBeGreaterThanOrEqual(3);
      expect(p.end_s - p.start_s).toBeLessThan(30 + 3.5);
      expect(p.labels.every((l) => l === "angry" || l === "fear")).toBe(true);
    }
    // About a third of the non-danger events are sounds.
    const calmEvents = timeline.segments.filter((s) => s.passage === null);
    const share = calmEvents.filter((s) => s.kind === "sound").length / calmEvents.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.5);
    // Every event is brought to the reference level (−24 dBFS) within its jitter, whatever its
    // recording level (the calm clips were recorded 20–30 dB quieter than the sounds).
    const ref = 10 ** (-24 / 20);
    for (const s of timeline.segments.filter((x) => x.kind !== "scream").slice(0, 30)) {
      const x = samples.subarray(Math.round(s.start_s * 16000), Math.round(s.end_s * 16000));
      const db = 20 * Math.log10(activeRms(x) / ref);
      expect(db).toBeGreaterThan(-7);
      expect(db).toBeLessThan(5);
    }
  });

  it("sounds: only non-verbal sounds and screams, no speech", async () => {
    const { clips, audio } = pool();
    const { timeline } = await buildHomeStream(clips, async (c) => audio.get(c.file)!, [], opts("sounds", 4));
    expect(timeline.segments.every((s) => s.kind === "sound" || s.kind === "scream")).toBe(true);
    expect(timeline.passages.every((p) => p.kind === "scream")).toBe(true);
    expect(timeline.passages.length).toBeGreaterThanOrEqual(5);
  });

  it("is seeded: the same seed gives the same samples; another seed another stream", async () => {
    const { clips, audio } = pool();
    const load = async (c: StreamClip): Promise<Float32Array> => audio.get(c.file)!;
    const a = await buildHomeStream(clips, load, [], opts("home", 9, { durationS: 200 }));
    const b = await buildHomeStream(clips, load, [], opts("home", 9, { durationS: 200 }));
    const c = await buildHomeStream(clips, load, [], opts("home", 10, { durationS: 200 }));
    expect(a.timeline).toEqual(b.timeline);
    expect(Buffer.from(a.samples.buffer).equals(Buffer.from(b.samples.buffer))).toBe(true);
    expect(c.timeline.segments).not.toEqual(a.timeline.segments);
  });

  it("says what is missing from the selection", async () => {
    const { clips, audio } = pool();
    const load = async (c: StreamClip): Promise<Float32Array> => audio.get(c.file)!;
    const speechOnly = clips.filter((c) => !["laughter", "cough", "infant_cry"].includes(c.label));
    await expect(buildHomeStream(speechOnly, load, [], opts("home", 1))).rejects.toThrow(/no non-speech sounds/);
    const soundsOnly = clips.filter((c) => ["laughter", "cough"].includes(c.label));
    await expect(buildHomeStream(soundsOnly, load, [], opts("home", 1))).rejects.toThrow(/no calm speech/);
  });
});

describe("scoreStream on a home stream", () => {
  it("counts false alerts by what was sounding, and screams apart from speech passages", async () => {
    const { clips, audio } = pool();
    const { timeline } = await buildHomeStream(clips, async (c) => audio.get(c.file)!, [], opts("home", 3));
    const sound = timeline.segments.find((s) => s.kind === "sound" && s.end_s - s.start_s >= 2.5 && s.passage === null)!;
    const speech = timeline.segments.find((s) => s.kind === "clip" && s.passage === null && s.end_s - s.start_s >= 2 && s.start_s > 60)!;
    const scream = timeline.passages.find((p) => p.kind === "scream")!;
    const alerts = [
      { start_s: sound.end_s - 0.2, end_s: sound.end_s + 3 },
      { start_s: speech.end_s - 0.1, end_s: speech.end_s + 3 },
      { start_s: scream.start_s + 1, end_s: scream.end_s + 2 },
    ];
    const score = scoreStream(timeline, alerts, 4);
    expect(score.false_alerts).toBe(2);
    expect(score.by_source.sounds.false_alerts).toBe(1);
    expect(score.by_source.speech.false_alerts).toBe(1);
    expect(score.by_source.noise.false_alerts).toBe(0);
    expect(score.by_source.sounds.hours).toBeGreaterThan(0);
    expect(score.detail.filter((d) => d.kind === "scream" && d.caught).length).toBe(1);
  });

  it("an alert after 8 s of nothing but the noise bed is a false alert on noise; one a few seconds after a sound is the sound's", () => {
    const seg = (start_s: number, end_s: number, kind: "clip" | "sound"): StreamTimeline["segments"][number] => ({
      kind, start_s, end_s, file: "x", label: kind === "sound" ? "cough" : "neutral", speaker: null, danger: false, passage: null,
    });
    const timeline: StreamTimeline = {
      format: 1, seed: 1, mix: "home", sample_rate_hz: 16000, duration_s: 100,
      noise: { source: "white", snr_db: 20 }, danger_labels: ["angry", "fear", "scream"],
      segments: [seg(10, 12, "sound"), seg(30, 33, "clip"), seg(34, 35, "sound")],
      passages: [],
    };
    const score = scoreStream(timeline, [{ start_s: 15, end_s: 16 }, { start_s: 36, end_s: 37 }, { start_s: 60, end_s: 61 }], 4);
    expect(score.by_source.sounds.false_alerts).toBe(1);
    expect(score.by_source.speech.false_alerts).toBe(1);
    expect(score.by_source.noise.false_alerts).toBe(1);
  });
});
