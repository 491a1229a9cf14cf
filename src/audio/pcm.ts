/**
 * Signed 16-bit little-endian PCM (the microphone's byte stream) to float samples in [-1, 1).
 */
import { INT16_FULL_SCALE } from "../constants.js";

/**
 * Converts whole 16-bit samples; a trailing odd byte is ignored (use `Pcm16Decoder` for streams).
 */
export function int16ToFloat32(buf: Uint8Array): Float32Array {
  const n = buf.length >> 1;
  const out = new Float32Array(n);
  const view = new DataView(buf.buffer, buf.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true) / INT16_FULL_SCALE;
  return out;
}

/**
 * Streaming decoder: a read from the microphone process can end in the middle of a sample, so an
 * odd trailing byte is kept and joined to the next chunk. The output is identical whatever the
 * chunk sizes (STYLE.md §5).
 */
export class Pcm16Decoder {
  /** The low byte of a sample whose high byte has not arrived yet, or -1. */
  private carry = -1;

  push(chunk: Uint8Array): Float32Array {
    if (chunk.length === 0) return new Float32Array(0);
    if (this.carry < 0) {
      if (chunk.length % 2 === 1) this.carry = chunk[chunk.length - 1] ?? 0;
      return int16ToFloat32(chunk);
    }
    // Finish the split sample, then decode the rest (which starts one byte in).
    const first = (((chunk[0] ?? 0) << 8) | this.carry) << 16 >> 16;
    const rest = chunk.subarray(1);
    this.carry = rest.length % 2 === 1 ? (rest[rest.length - 1] ?? 0) : -1;
    const tail = int16ToFloat32(rest);
    const out = new Float32Array(tail.length + 1);
    out[0] = first / INT16_FULL_SCALE;
    out.set(tail, 1);
    return out;
  }

  /** True when half a sample is waiting for its other byte. */
  get pendingByte(): boolean {
    return this.carry >= 0;
  }

  /** Drops a pending half sample, e.g. when the microphone restarts. */
  reset(): void {
    this.carry = -1;
  }
}
