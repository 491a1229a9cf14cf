import { describe, expect, it } from "vitest";
import { int16ToFloat32, Pcm16Decoder } from "../../../src/audio/pcm.js";

/** Deterministic pseudo-random bytes (a 32-bit LCG), so every run sees the same stream. */
function pseudoRandomBytes(n: number, seed = 12345): Uint8Array {
  const out = new Uint8Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

function decodeInChunks(bytes: Uint8Array, chunkSize: number): Float32Array {
  const decoder = new Pcm16Decoder();
  const parts: Float32Array[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) parts.push(decoder.push(Buffer.from(bytes.subarray(i, i + chunkSize))));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

describe("int16ToFloat32", () => {
  it("decodes little-endian signed 16-bit with -32768 as -1", () => {
    const bytes = new Uint8Array([0x00, 0x80, 0xff, 0x7f, 0x00, 0x00, 0xff, 0xff, 0x00, 0x40]);
    expect(Array.from(int16ToFloat32(bytes))).toEqual([-1, 32767 / 32768, 0, -1 / 32768, 0.5]);
  });

  it("ignores a trailing odd byte and honours a subarray's offset", () => {
    const backing = new Uint8Array([9, 0x00, 0x40, 0x01]);
    expect(Array.from(int16ToFloat32(backing.subarray(1)))).toEqual([0.5]);
  });
});

describe("Pcm16Decoder", () => {
  const bytes = pseudoRandomBytes(20_001); // odd: the last byte stays pending
  const whole = int16ToFloat32(bytes);

  for (const chunkSize of [1, 2, 3, 7, 4096, bytes.length]) {
    it(`gives identical output for chunks of ${chunkSize} byte(s)`, () => {
      expect(decodeInChunks(bytes, chunkSize)).toEqual(whole);
    });
  }

  it("carries a split sample over to the next chunk", () => {
    const decoder = new Pcm16Decoder();
    expect(decoder.push(Buffer.from([0x00, 0x40, 0x00]))).toEqual(new Float32Array([0.5]));
    expect(decoder.pendingByte).toBe(true);
    expect(decoder.push(Buffer.from([0xc0]))).toEqual(new Float32Array([-0.5]));
    expect(decoder.pendingByte).toBe(false);
    expect(decoder.push(Buffer.alloc(0)).length).toBe(0);
  });

  it("drops a pending byte on reset", () => {
    const decoder = new Pcm16Decoder();
    decoder.push(Buffer.from([0x12]));
    decoder.reset();
    expect(decoder.pendingByte).toBe(false);
    expect(decoder.push(Buffer.from([0x00, 0x40]))).toEqual(new Float32Array([0.5]));
  });
});
