import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeWav, readWavFile } from "../../../src/audio/wav.js";
import { AudioError } from "../../../src/errors.js";
import {
  chunk,
  concatBytes,
  encodeSamples,
  encodeWav,
  fmtBody,
  riff,
  sine,
  type WavSampleFormat,
} from "../../fixtures/wav-writer.js";

const NAME = "clips/test-file.wav";

/** One quantisation step of each format (float64 is read into a Float32Array). */
const STEP: Record<WavSampleFormat, number> = {
  pcm8: 1 / 128,
  pcm16: 1 / 32768,
  pcm24: 1 / 8388608,
  pcm32: 1e-7,
  float32: 0,
  float64: 1e-7,
};

/** A test signal that visits both ends of the range and zero. */
function testSignal(): Float32Array {
  const s = sine(440, 16000, 400, 0.8, 0.3);
  s.set([-1, 1, 0, -0.5, 0.5, 1e-6], 100);
  return s;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

function catchAudioError(fn: () => unknown): AudioError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AudioError);
    return err as AudioError;
  }
  throw new Error("expected an AudioError, nothing was thrown");
}

function expectCode(bytes: Uint8Array, code: string): AudioError {
  const err = catchAudioError(() => decodeWav(bytes, NAME));
  expect(err.code).toBe(code);
  expect(err.message).toContain(NAME);
  return err;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** A chunk whose size field is `declared` whatever the body length. */
function rawChunk(id: string, declared: number, body: Uint8Array): Uint8Array {
  return concatBytes(new TextEncoder().encode(id), u32(declared), body);
}

describe("decodeWav round trips", () => {
  const formats: WavSampleFormat[] = ["pcm8", "pcm16", "pcm24", "pcm32", "float32", "float64"];
  for (const format of formats) {
    for (const extensible of [false, true]) {
      it(`${format}${extensible ? " (WAVE_FORMAT_EXTENSIBLE)" : ""} within one quantisation step`, () => {
        const signal = testSignal();
        const decoded = decodeWav(encodeWav([signal], 22050, format, { extensible }), NAME);
        expect(decoded.format).toBe(format);
        expect(decoded.sampleRateHz).toBe(22050);
        expect(decoded.channels).toBe(1);
        expect(decoded.samples.length).toBe(signal.length);
        expect(decoded.durationS).toBeCloseTo(signal.length / 22050, 12);
        expect(maxAbsDiff(decoded.samples, signal)).toBeLessThanOrEqual(STEP[format] + 1e-9);
      });
    }
  }

  it("maps the integer extremes to -1 and just under +1", () => {
    const body = new Uint8Array(4);
    new DataView(body.buffer).setInt16(0, -32768, true);
    new DataView(body.buffer).setInt16(2, 32767, true);
    const decoded = decodeWav(riff(chunk("fmt ", fmtBody(1, 1, 16000, 16)), chunk("data", body)), NAME);
    expect(Array.from(decoded.samples)).toEqual([-1, 32767 / 32768]);
  });

  it("reads 8-bit PCM as unsigned with 128 as zero", () => {
    const decoded = decodeWav(riff(chunk("fmt ", fmtBody(1, 1, 8000, 8)), chunk("data", new Uint8Array([0, 128, 255]))), NAME);
    expect(Array.from(decoded.samples)).toEqual([-1, 0, 127 / 128]);
  });

  it("clamps float samples to [-1, 1] and turns NaN/Infinity into 0", () => {
    const body = new Uint8Array(16);
    const v = new DataView(body.buffer);
    [1.5, -2, Number.NaN, Number.POSITIVE_INFINITY].forEach((x, i) => v.setFloat32(i * 4, x, true));
    const decoded = decodeWav(riff(chunk("fmt ", fmtBody(3, 1, 16000, 32)), chunk("data", body)), NAME);
    expect(Array.from(decoded.samples)).toEqual([1, -1, 0, 0]);
  });

  it("handles an empty data chunk as zero samples", () => {
    const decoded = decodeWav(encodeWav([new Float32Array(0)], 16000, "pcm16"), NAME);
    expect(decoded.samples.length).toBe(0);
    expect(decoded.durationS).toBe(0);
  });
});

describe("decodeWav channel mixdown", () => {
  it("averages stereo channels", () => {
    const left = sine(300, 16000, 200, 0.6);
    const right = sine(700, 16000, 200, 0.3);
    const decoded = decodeWav(encodeWav([left, right], 16000, "float32"), NAME);
    expect(decoded.channels).toBe(2);
    const expected = left.map((l, i) => (l + (right[i] ?? 0)) / 2);
    expect(maxAbsDiff(decoded.samples, expected)).toBeLessThan(1e-7);
  });

  it("averages 6 channels (5.1, extensible, 24-bit)", () => {
    const channels = [0, 1, 2, 3, 4, 5].map((c) => new Float32Array(50).fill((c - 2) / 10));
    const decoded = decodeWav(encodeWav(channels, 48000, "pcm24", { extensible: true }), NAME);
    expect(decoded.channels).toBe(6);
    expect(decoded.samples.length).toBe(50);
    // mean of -0.2, -0.1, 0, 0.1, 0.2, 0.3
    for (const x of decoded.samples) expect(x).toBeCloseTo(0.05, 6);
  });

  it("cancels channels in antiphase", () => {
    const s = sine(1000, 16000, 100, 0.5);
    const decoded = decodeWav(encodeWav([s, s.map((x) => -x)], 16000, "pcm16"), NAME);
    for (const x of decoded.samples) expect(Math.abs(x)).toBeLessThanOrEqual(1 / 32768);
  });
});

describe("decodeWav chunk walking", () => {
  it("skips an odd-sized LIST chunk before fmt and a fact chunk after it", () => {
    const signal = testSignal();
    const bytes = encodeWav([signal], 16000, "pcm16", { extraChunks: true });
    // The fixture really does put LIST first with an odd size (so a pad byte follows).
    expect(new TextDecoder().decode(bytes.subarray(12, 16))).toBe("LIST");
    expect(new DataView(bytes.buffer).getUint32(16, true) % 2).toBe(1);
    const decoded = decodeWav(bytes, NAME);
    expect(maxAbsDiff(decoded.samples, signal)).toBeLessThanOrEqual(1 / 32768);
  });

  it("honours the pad byte after an odd-sized data chunk followed by fmt", () => {
    const data = new Uint8Array([0, 64, 128, 192, 255]); // 5 bytes of 8-bit mono
    const bytes = riff(chunk("data", data), chunk("fmt ", fmtBody(1, 1, 8000, 8)));
    const decoded = decodeWav(bytes, NAME);
    expect(Array.from(decoded.samples)).toEqual([-1, -0.5, 0, 0.5, 127 / 128]);
  });

  it("reads a fmt chunk longer than 16 bytes (cbSize = 0) and data before fmt", () => {
    const fmt = concatBytes(fmtBody(3, 1, 16000, 32), new Uint8Array([0, 0]));
    const data = encodeSamples([new Float32Array([0.25, -0.75])], "float32");
    const decoded = decodeWav(riff(chunk("data", data), chunk("fmt ", fmt)), NAME);
    expect(Array.from(decoded.samples)).toEqual([0.25, -0.75]);
  });

  it("ignores a wrong RIFF size field", () => {
    const bytes = encodeWav([testSignal()], 16000, "pcm16");
    new DataView(bytes.buffer).setUint32(4, 12, true);
    expect(decodeWav(bytes, NAME).samples.length).toBe(400);
  });

  for (const declared of [0, 0xffffffff]) {
    it(`takes the rest of the file, whole frames only, when the data size is 0x${declared.toString(16)}`, () => {
      const frames = encodeSamples([new Float32Array([0.5, -0.5, 0.25]), new Float32Array([0.5, -0.5, 0.25])], "pcm16");
      const partialFrame = new Uint8Array([1, 2, 3]); // 3 of the 4 bytes of a stereo frame
      const bytes = riff(chunk("fmt ", fmtBody(1, 2, 16000, 16)), rawChunk("data", declared, concatBytes(frames, partialFrame)));
      const decoded = decodeWav(bytes, NAME);
      expect(Array.from(decoded.samples)).toEqual([0.5, -0.5, 0.25]);
    });
  }

  it("accepts a subarray view that does not start at byte 0 of its buffer", () => {
    const wav = encodeWav([testSignal()], 16000, "pcm16");
    const padded = new Uint8Array(wav.length + 3);
    padded.set(wav, 3);
    expect(decodeWav(padded.subarray(3), NAME).samples.length).toBe(400);
  });
});

describe("decodeWav errors name the file and say what to do", () => {
  const fmt16 = chunk("fmt ", fmtBody(1, 1, 16000, 16));

  it("EMPTY_FILE for 0 bytes", () => {
    expectCode(new Uint8Array(0), "EMPTY_FILE");
  });

  it("NOT_RIFF for other bytes, with a guess for FLAC", () => {
    expect(expectCode(new TextEncoder().encode("hello, this is not audio"), "NOT_RIFF").message).toMatch(/convert/);
    expect(expectCode(new TextEncoder().encode("fLaC\0\0\0\x22 and more"), "NOT_RIFF").message).toContain("FLAC");
    expectCode(new TextEncoder().encode("RIFF\x10\0\0\0AVI LIST"), "NOT_RIFF");
  });

  for (const form of ["AIFF", "AIFC"]) {
    it(`AIFF_FILE for a FORM/${form} file named .wav, suggesting sox`, () => {
      const bytes = new TextEncoder().encode(`FORM\0\0\0\x20${form}COMM\0\0\0\x12` + "\0".repeat(18));
      const err = expectCode(bytes, "AIFF_FILE");
      expect(err.message).toContain("sox in.wav out.wav");
      expect(err.message).toContain(form);
    });
  }

  it("TRUNCATED when the data chunk declares more bytes than the file has, with both counts", () => {
    const bytes = riff(fmt16, rawChunk("data", 1000, new Uint8Array(10)));
    const err = expectCode(bytes, "TRUNCATED");
    expect(err.message).toContain("1000");
    expect(err.message).toContain("10 ");
  });

  it("TRUNCATED when the file ends inside the fmt chunk", () => {
    const whole = riff(fmt16, chunk("data", new Uint8Array(4)));
    const err = expectCode(whole.subarray(0, 12 + 8 + 10), "TRUNCATED");
    expect(err.message).toContain("fmt ");
    expect(err.message).toContain("16");
  });

  it("TRUNCATED when the file ends inside a chunk header or the RIFF header", () => {
    expectCode(concatBytes(riff(fmt16), new Uint8Array([0x64, 0x61, 0x74])), "TRUNCATED");
    expectCode(new TextEncoder().encode("RIFF\0\0"), "TRUNCATED");
  });

  it("NO_FMT without a fmt chunk", () => {
    expectCode(riff(chunk("data", new Uint8Array(4))), "NO_FMT");
    expectCode(riff(rawChunk("data", 0, new Uint8Array(4))), "NO_FMT");
  });

  it("NO_DATA without a data chunk", () => {
    expectCode(riff(fmt16, chunk("LIST", new Uint8Array(4))), "NO_DATA");
  });

  it("UNSUPPORTED_FORMAT names the format tag (mu-law, ADPCM, unknown, extensible sub-format)", () => {
    const mulaw = expectCode(riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("data", new Uint8Array(4))), "UNSUPPORTED_FORMAT");
    expect(mulaw.message).toContain("mu-law");
    expect(mulaw.message).toContain("0x0007");
    expect(mulaw.message).toContain("sox");
    const adpcm = expectCode(riff(chunk("fmt ", fmtBody(2, 1, 8000, 4)), chunk("data", new Uint8Array(4))), "UNSUPPORTED_FORMAT");
    expect(adpcm.message).toContain("ADPCM");
    const unknown = expectCode(riff(chunk("fmt ", fmtBody(0x1234, 1, 8000, 16)), chunk("data", new Uint8Array(4))), "UNSUPPORTED_FORMAT");
    expect(unknown.message).toContain("0x1234");
    const extAdpcm = riff(chunk("fmt ", fmtBody(0, 1, 8000, 16, { extensibleSubTag: 0x11 })), chunk("data", new Uint8Array(4)));
    expect(expectCode(extAdpcm, "UNSUPPORTED_FORMAT").message).toContain("IMA ADPCM");
  });

  it("UNSUPPORTED_FORMAT for an unknown extensible GUID and odd float widths", () => {
    const fmt = fmtBody(0, 1, 8000, 16, { extensibleSubTag: 1 });
    fmt[39] = 0x00; // break the KSDATAFORMAT GUID suffix
    expect(expectCode(riff(chunk("fmt ", fmt), chunk("data", new Uint8Array(4))), "UNSUPPORTED_FORMAT").message).toContain("GUID");
    expectCode(riff(chunk("fmt ", fmtBody(3, 1, 8000, 16)), chunk("data", new Uint8Array(4))), "UNSUPPORTED_FORMAT");
  });

  it("BAD_FORMAT for zero channels, zero rate, a block-align mismatch or a short fmt", () => {
    const data = chunk("data", new Uint8Array(4));
    expectCode(riff(chunk("fmt ", fmtBody(1, 0, 16000, 16, { blockAlign: 0 })), data), "BAD_FORMAT");
    expectCode(riff(chunk("fmt ", fmtBody(1, 1, 0, 16)), data), "BAD_FORMAT");
    const mismatch = expectCode(riff(chunk("fmt ", fmtBody(1, 2, 16000, 16, { blockAlign: 2 })), data), "BAD_FORMAT");
    expect(mismatch.message).toMatch(/block align of 2 .* need 4/);
    expectCode(riff(chunk("fmt ", fmtBody(1, 1, 16000, 16).subarray(0, 14)), data), "BAD_FORMAT");
    expectCode(riff(chunk("fmt ", fmtBody(0, 1, 16000, 16, { extensibleSubTag: 1 }).subarray(0, 24)), data), "BAD_FORMAT");
  });
});

describe("readWavFile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "earwitness-wav-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a WAV file from disk", async () => {
    const path = join(dir, "tone.wav");
    const signal = testSignal();
    await writeFile(path, encodeWav([signal, signal], 44100, "pcm24"));
    const decoded = await readWavFile(path);
    expect(decoded).toMatchObject({ sampleRateHz: 44100, channels: 2, format: "pcm24" });
    expect(maxAbsDiff(decoded.samples, signal)).toBeLessThanOrEqual(1 / 8388608 + 1e-9);
  });

  it("names the path in decoding errors", async () => {
    const path = join(dir, "empty.wav");
    await writeFile(path, new Uint8Array(0));
    await expect(readWavFile(path)).rejects.toMatchObject({ code: "EMPTY_FILE", message: expect.stringContaining(path) });
  });

  it("READ_FAILED with the path and the cause for a missing file", async () => {
    const path = join(dir, "missing.wav");
    const err = await readWavFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioError);
    expect(err).toMatchObject({ code: "READ_FAILED", message: expect.stringContaining(path) });
    expect((err as AudioError).message).toContain("ENOENT");
    expect((err as AudioError).cause).toBeDefined();
  });
});
