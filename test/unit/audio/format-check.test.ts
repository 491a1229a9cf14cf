/**
 * Issue #11 §7: wrong-format audio (random bytes, byte-swapped PCM, full-scale white noise) raises
 * `mic_format`; what a microphone in a room hears (speech-like harmonic bursts, shouting, room and
 * appliance noise, the preamp's hiss, silence) never does. Synthetic, seeded signals.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/train/random.js";
import { FORMAT_BLOCK_SAMPLES, FORMAT_RAISE_MS, formatStats, MicFormatWatch, type FormatEvent } from "../../../src/audio/format-check.js";

const RATE = 16_000;

/** A seeded uniform generator in [0, 1) (the project's mulberry32). */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

function white(seconds: number, rms: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: seconds * RATE }, () => Math.max(-1, Math.min(1, rms * gaussian(r))));
}

/** Brown-ish room noise (white through a one-pole low-pass), scaled to `rms`. */
function roomNoise(seconds: number, rms: number, seed: number, pole = 0.97): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(seconds * RATE);
  let y = 0;
  for (let i = 0; i < out.length; i++) out[i] = y = pole * y + gaussian(r);
  return scaleTo(out, rms);
}

/**
 * Speech-like: voiced syllables (4 per second, f0 gliding 110–260 Hz, 20 harmonics falling 6 dB per
 * octave up to 4 kHz) with short gaps, plus quiet room noise.
 */
function speechLike(seconds: number, rms: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(seconds * RATE);
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    const syllable = Math.floor(t * 4);
    const within = t * 4 - syllable;
    const envelope = within < 0.75 ? Math.sin((Math.PI * within) / 0.75) ** 2 : 0;
    const f0 = 110 + 150 * (0.5 + 0.5 * Math.sin(0.9 * t + syllable));
    phase += (2 * Math.PI * f0) / RATE;
    let s = 0;
    for (let h = 1; h <= 20 && h * f0 < 4000; h++) s += Math.sin(h * phase) / h;
    out[i] = envelope * s + 0.01 * gaussian(r);
  }
  return scaleTo(out, rms);
}

function scaleTo(x: Float32Array, rms: number): Float32Array {
  let sq = 0;
  for (const v of x) sq += v * v;
  const k = rms / Math.sqrt(sq / x.length);
  return x.map((v) => Math.max(-1, Math.min(1, v * k)));
}

function toInt16(x: Float32Array): Int16Array {
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
}

/** S16_LE bytes read with their two bytes swapped (a big-endian stream, or the wrong -f). */
function byteSwapped(x: Int16Array): Int16Array {
  const le = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = le.readInt16BE(i * 2);
  return out;
}

function randomBytes(seconds: number, seed: number): Int16Array {
  const r = rng(seed);
  const bytes = Buffer.from(Uint8Array.from({ length: seconds * RATE * 2 }, () => Math.floor(r() * 256)));
  return Int16Array.from({ length: seconds * RATE }, (_, i) => bytes.readInt16LE(i * 2));
}

/** Events of a watch fed `x` in chunks of `chunk` samples, each with the second it came at. */
function run(x: Int16Array, chunk = 320, watch = new MicFormatWatch()): { at: number; e: FormatEvent }[] {
  const out: { at: number; e: FormatEvent }[] = [];
  for (let off = 0; off < x.length; off += chunk) {
    for (const e of watch.push(x.subarray(off, off + chunk))) out.push({ at: Math.min(x.length, off + chunk) / RATE, e });
  }
  return out;
}

const db = (dbfs: number): number => 10 ** (dbfs / 20);

describe("formatStats", () => {
  it("measures white noise as flat and uncorrelated, speech and room noise as neither", () => {
    const w = formatStats(white(0.5, 0.3, 1));
    expect(w.flatness).toBeGreaterThan(0.9);
    expect(Math.abs(w.lag1)).toBeLessThan(0.05);
    expect(w.suspect).toBe(true);
    const s = formatStats(speechLike(0.5, db(-12), 2));
    expect(s.flatness).toBeLessThan(0.3);
    expect(s.lag1).toBeGreaterThan(0.5);
    expect(s.suspect).toBe(false);
    const room = formatStats(roomNoise(0.5, db(-15), 3));
    expect(room.flatness).toBeLessThan(0.3);
    expect(room.suspect).toBe(false);
  });
});

describe("MicFormatWatch", () => {
  const MUST_NOT: [string, () => Int16Array][] = [
    ["loud speech-like harmonic bursts (−12 dBFS)", () => toInt16(speechLike(20, db(-12), 4))],
    ["shouting close to the microphone (−4 dBFS, clipping a little)", () => toInt16(speechLike(20, db(-4), 5))],
    ["quiet room noise (−45 dBFS)", () => toInt16(roomNoise(20, db(-45), 6))],
    ["a fan or vacuum cleaner next to it (−15 dBFS, broadband but falling)", () => toInt16(roomNoise(20, db(-15), 7, 0.6))],
    ["the preamp's own white hiss (−62 dBFS)", () => toInt16(white(20, db(-62), 8))],
    ["a loud hiss in the room (white, −16 dBFS: steam, a spray can)", () => toInt16(white(20, db(-16), 23))],
    ["digital silence", () => new Int16Array(20 * RATE)],
    ["an 8-bit microphone upscaled to 16 bits (low bytes all 0x00)", () => toInt16(speechLike(20, db(-15), 21)).map((v) => v & ~0xff)],
  ];
  for (const [name, signal] of MUST_NOT) {
    it(`never raises for ${name}`, () => {
      expect(run(signal())).toEqual([]);
    });
  }

  const MUST: [string, () => Int16Array][] = [
    ["random bytes read as S16_LE", () => randomBytes(6, 9)],
    ["white noise at full scale", () => toInt16(white(6, 0.5, 10))],
    ["byte-swapped speech", () => byteSwapped(toInt16(speechLike(6, db(-20), 11)))],
    ["byte-swapped quiet room noise (−50 dBFS)", () => byteSwapped(toInt16(roomNoise(6, db(-50), 12)))],
    ["byte-swapped very quiet room noise (−65 dBFS: loud, smooth, low bytes 0x00/0xFF)", () => byteSwapped(toInt16(roomNoise(6, db(-65), 22)))],
  ];
  for (const [name, signal] of MUST) {
    it(`raises mic_format for ${name} after ${FORMAT_RAISE_MS / 1000} s, saying what to check`, () => {
      const events = run(signal());
      expect(events.map((x) => [x.e.code, x.e.active])).toEqual([["mic_format", true]]);
      expect(events[0]!.at).toBeCloseTo(FORMAT_RAISE_MS / 1000, 1);
      expect(events[0]!.e.message).toMatch(/S16_LE/);
      expect(events[0]!.e.message).toMatch(/audio\.device/);
    });
  }

  it("clears once microphone-like audio is back, and a short burst of noise raises nothing", () => {
    const watch = new MicFormatWatch();
    const bad = randomBytes(3, 13);
    const good = toInt16(speechLike(4, db(-20), 14));
    const events = [...run(bad, 320, watch), ...run(good, 320, watch)];
    expect(events.map((x) => x.e.active)).toEqual([true, false]);
    expect(watch.raised).toBe(false);
    // 1.5 s of noise (a hiss, a crash) between speech: below the raise time.
    const mixed = new Int16Array(7 * RATE);
    mixed.set(toInt16(speechLike(3, db(-20), 15)), 0);
    mixed.set(toInt16(white(1.5, 0.5, 16)), 3 * RATE);
    mixed.set(toInt16(speechLike(2.5, db(-20), 17)), 4.5 * RATE);
    expect(run(mixed)).toEqual([]);
  });

  it("gives the same events whatever the chunk size", () => {
    const x = new Int16Array(12 * RATE);
    x.set(toInt16(speechLike(3, db(-20), 18)), 0);
    x.set(randomBytes(5, 19), 3 * RATE);
    x.set(toInt16(speechLike(4, db(-20), 20)), 8 * RATE);
    const a = run(x, FORMAT_BLOCK_SAMPLES);
    expect(a.map((e) => e.e.active)).toEqual([true, false]);
    for (const chunk of [1, 333, 1601]) expect(run(x, chunk).map((e) => [e.e.active, e.e.message])).toEqual(a.map((e) => [e.e.active, e.e.message]));
  });
});
