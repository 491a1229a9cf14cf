import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadAudioFile } from "../../../src/audio/load.js";
import { Resampler } from "../../../src/audio/resample.js";
import { AudioError } from "../../../src/errors.js";
import { encodeWav, sine } from "../../fixtures/wav-writer.js";

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

describe("loadAudioFile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "earwitness-load-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("decodes, mixes to mono and resamples a 44.1 kHz stereo file to 16 kHz", async () => {
    const path = join(dir, "stereo.wav");
    const tone = sine(1000, 44100, 44100, 0.5);
    await writeFile(path, encodeWav([tone, tone], 44100, "pcm16"));
    const samples = await loadAudioFile(path);
    expect(samples.length).toBe(16000);
    const steady = samples.subarray(1600, 14400);
    expect(Math.abs(20 * Math.log10(rms(steady) / (0.5 / Math.SQRT2)))).toBeLessThan(0.1);
  });

  it("passes 16 kHz files through unchanged, and uses a given Resampler for other rates", async () => {
    const at16k = join(dir, "16k.wav");
    const at48k = join(dir, "48k.wav");
    const tone16 = sine(440, 16000, 1600, 0.5);
    await writeFile(at16k, encodeWav([tone16], 16000, "float32"));
    await writeFile(at48k, encodeWav([sine(440, 48000, 4800, 0.5)], 48000, "float32"));
    expect(await loadAudioFile(at16k)).toEqual(tone16);
    const resampler = new Resampler();
    try {
      expect(await loadAudioFile(at48k, resampler)).toEqual(await loadAudioFile(at48k));
    } finally {
      resampler.close();
    }
  });

  it("names the file when its rate cannot be resampled", async () => {
    const path = join(dir, "ultrasonic.wav");
    await writeFile(path, encodeWav([new Float32Array(100)], 384000, "pcm16"));
    const err = await loadAudioFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioError);
    expect(err).toMatchObject({ code: "UNSUPPORTED_RATE", message: expect.stringContaining(path) });
  });

  it("passes decoder errors through with their code", async () => {
    const path = join(dir, "notes.wav");
    await writeFile(path, "not audio at all");
    await expect(loadAudioFile(path)).rejects.toMatchObject({ code: "NOT_RIFF", message: expect.stringContaining(path) });
  });
});
