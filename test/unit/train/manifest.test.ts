/**
 * The multi-corpus loader: manifests with labels of every kind, and audio in any format sox
 * reads (an Ogg Vorbis file written by sox here), decoded to 16 kHz mono like a WAV.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAudioFile } from "../../../src/audio/load.js";
import { AudioError } from "../../../src/errors.js";
import { readCorpusDir, ManifestError } from "../../../src/train/manifest.js";
import { encodeWav, sineSeconds } from "../../fixtures/wav-writer.js";

let dir: string;
const haveSox = spawnSync("sox", ["--version"]).status === 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-manifest-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readCorpusDir", () => {
  it("reads emotions, arousal, screams and sounds; skips `none`; names the corpus by its folder", async () => {
    const c = path.join(dir, "mixed");
    await mkdir(c, { recursive: true });
    await writeFile(
      path.join(c, "manifest.csv"),
      "path,sha256,label,speaker\na.wav,x,angry,s1\nb.wav,x,arousal_high,s2\nc.wav,x,scream,\nd.ogg,x,laughter,\ne.wav,x,none,s3\n",
    );
    const rows = await readCorpusDir(c);
    expect(rows.map((r) => r.label)).toEqual(["angry", "arousal_high", "scream", "laughter"]);
    expect(rows.every((r) => r.corpus === "mixed")).toBe(true);
    expect(rows[2]!.speaker).toBeNull();
  });

  it("refuses a label no corpus uses, naming the line", async () => {
    const c = path.join(dir, "typo");
    await mkdir(c, { recursive: true });
    await writeFile(path.join(c, "manifest.csv"), "path,label\na.wav,angry\nb.wav,angy\n");
    await expect(readCorpusDir(c)).rejects.toThrow(ManifestError);
    await expect(readCorpusDir(c)).rejects.toThrow(/line 3: label "angy"/);
  });
});

describe("loadAudioFile: formats beyond WAV through sox", () => {
  it.skipIf(!haveSox)("decodes Ogg Vorbis at 44.1 kHz stereo to 16 kHz mono with the tone where it was", async () => {
    const wav = path.join(dir, "tone.wav");
    const ogg = path.join(dir, "tone.ogg");
    const left = sineSeconds(440, 44_100, 1.5, 0.4);
    await writeFile(wav, encodeWav([left, left], 44_100, "pcm16"));
    const r = spawnSync("sox", [wav, ogg]);
    expect(r.status, r.stderr.toString()).toBe(0);
    const samples = await loadAudioFile(ogg);
    expect(Math.abs(samples.length - 1.5 * 16_000)).toBeLessThan(200);
    // A 440 Hz tone: zero crossings ≈ 2 × 440 per second, and the level is kept (Vorbis is lossy).
    let zc = 0;
    for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) zc++;
    expect(zc / 1.5).toBeGreaterThan(840);
    expect(zc / 1.5).toBeLessThan(920);
    const rms = Math.sqrt(samples.reduce((a, x) => a + x * x, 0) / samples.length);
    expect(rms).toBeGreaterThan(0.25);
    expect(rms).toBeLessThan(0.31);
  });

  it.skipIf(!haveSox)("a file sox cannot decode is a DECODE_FAILED naming it", async () => {
    const bad = path.join(dir, "bad.ogg");
    await writeFile(bad, "not audio at all");
    const err = await loadAudioFile(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioError);
    expect((err as AudioError).code).toBe("DECODE_FAILED");
    expect((err as Error).message).toContain(bad);
  });

  it("without sox, a non-WAV file is SOX_MISSING with what to install", async () => {
    const ogg = path.join(dir, "any.ogg");
    await writeFile(ogg, "x");
    const before = process.env["EARWITNESS_SOX"];
    process.env["EARWITNESS_SOX"] = path.join(dir, "no-such-sox");
    try {
      const err = await loadAudioFile(ogg).catch((e: unknown) => e);
      expect((err as AudioError).code).toBe("SOX_MISSING");
      expect((err as Error).message).toMatch(/apt-get install sox/);
    } finally {
      if (before === undefined) delete process.env["EARWITNESS_SOX"];
      else process.env["EARWITNESS_SOX"] = before;
    }
  });
});

if (!haveSox) console.warn("SKIPPED: sox is not installed; the Ogg decoding tests did not run (apt-get install sox)");
