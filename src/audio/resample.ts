/**
 * Band-limited resampling to the pipeline rate with libsamplerate (Erik de Castro Lopo's SRC),
 * through @alexanderolsen/libsamplerate-js.
 *
 * Three facts about that package shape this file (read from its dist/ and its C wrapper,
 * https://github.com/aolsenjazz/libsamplerate-js/blob/main/src/libsamplerate-wrapper.cpp):
 *  - It is compiled with WASM=0 (asm.js-style JS) and every `create()` instantiates a fresh
 *    module with its own ~26 MB heap, which V8 must also re-optimise: about 13 ms plus a slower
 *    first pass. A `Resampler` therefore keeps one converter across files; `resample()` is the
 *    one-shot form that frees it at once.
 *  - Its `simple()` sets the C-side `end_of_input` flag and never clears it, so a later chunked
 *    call on the same instance would zero-pad every chunk. We never call `simple()`: we always
 *    feed `full()` ourselves in chunks, with `end_of_input` left at 0.
 *  - With `end_of_input` at 0 the converter withholds its last half-filter of output. We append
 *    zeros to the input (what `end_of_input` would have done) and trim to round(n·to/from).
 *
 * Quality: SRC_SINC_MEDIUM_QUALITY. Measured on the project's 2-core dev box (Node 20), 60 s of
 * 48 kHz mono (a 1 kHz sine) to 16 kHz: SINC_BEST 5.6 s (real-time factor 0.093), SINC_MEDIUM
 * 2.1 s (0.034; 1.6 s through this file's chunked path), SINC_FASTEST 1.1 s. On 3 s clips with a
 * reused converter: BEST 267 ms, MEDIUM 77 ms. Measured response at 48→16 kHz (sine gain):
 * MEDIUM is flat to 6 kHz, -0.3 dB at 7 kHz, -2.1 dB at 7.2 kHz, -13 dB at 7.5 kHz, and aliases
 * from 8.5-10 kHz are below -119 dB; BEST is flat to 7.5 kHz with aliases below -147 dB.
 * The band MEDIUM gives up (7-8 kHz) carries little emotional cue in speech (pitch, energy and
 * formants sit below 5 kHz); 2.7x the throughput over whole corpora on 2 cores is worth it.
 * Reproduce: time `resample(sine(1000, 48000, 2_880_000), 48000)` (test/fixtures/wav-writer.ts)
 * and compare `libsamplerate.create(..., {converterType})` with types 0 and 1.
 */
import libsamplerate from "@alexanderolsen/libsamplerate-js";
import { SAMPLE_RATE_HZ } from "../constants.js";
import { AudioError } from "../errors.js";

type Src = Awaited<ReturnType<typeof libsamplerate.create>>;

/** SRC_SINC_MEDIUM_QUALITY; see the file comment for the measurement behind this choice. */
const CONVERTER_TYPE = libsamplerate.ConverterType.SRC_SINC_MEDIUM_QUALITY;
/** The package's C wrapper refuses rates outside this range. */
const MAX_RATE_HZ = 192_000;
/** Input frames per `full()` call; the wrapper's transfer buffers hold 1,008,000 floats. */
const MAX_CHUNK_FRAMES = 65_536;
const TRANSFER_BUFFER_FLOATS = 1_008_000;
/**
 * Zeros appended per unit of max(1, from/to) so the withheld tail comes out. The filter half-length
 * is ~46 output-rate samples for SINC_MEDIUM (143 for SINC_BEST): measured as the shortfall of a
 * 60 s 48 kHz→16 kHz chunked run (46 and 143 samples short of 960,000), times from/to.
 */
const FLUSH_ZEROS_PER_RATIO = 256;

/** The number of samples `resample` returns for `inputLength` samples. */
export function resampledLength(inputLength: number, fromRateHz: number, toRateHz = SAMPLE_RATE_HZ): number {
  return Math.round((inputLength * toRateHz) / fromRateHz);
}

/**
 * Resamples mono audio once and frees the converter. Deterministic; returns a copy when the rates
 * match. Output length is exactly round(n·to/from). For many files, use one `Resampler`.
 */
export async function resample(samples: Float32Array, fromRateHz: number, toRateHz = SAMPLE_RATE_HZ): Promise<Float32Array> {
  const resampler = new Resampler();
  try {
    return await resampler.resample(samples, fromRateHz, toRateHz);
  } finally {
    resampler.close();
  }
}

/**
 * A reusable converter for batch work (corpus runs): it keeps one libsamplerate instance while
 * the rate pair stays the same and resets its state before every signal, so each call gives the
 * same result as a fresh `resample()`. Call `close()` when done to free the converter.
 */
export class Resampler {
  private src: Src | undefined;
  private fromRateHz = 0;
  private toRateHz = 0;

  async resample(samples: Float32Array, fromRateHz: number, toRateHz = SAMPLE_RATE_HZ): Promise<Float32Array> {
    checkRate(fromRateHz, "input");
    checkRate(toRateHz, "output");
    if (fromRateHz === toRateHz) return samples.slice();
    const expected = resampledLength(samples.length, fromRateHz, toRateHz);
    if (samples.length === 0) return new Float32Array(0);

    const src = await this.converterFor(fromRateHz, toRateHz);
    const ratio = toRateHz / fromRateHz;
    const flushZeros = Math.ceil(FLUSH_ZEROS_PER_RATIO * Math.max(1, 1 / ratio));
    // Keep each call's output well inside the wrapper's transfer buffer.
    const chunkFrames = Math.max(1, Math.min(MAX_CHUNK_FRAMES, Math.floor(TRANSFER_BUFFER_FLOATS / 2 / Math.max(1, ratio))));
    const out = new Float32Array(expected);
    let written = 0;
    const emit = (produced: Float32Array): void => {
      const take = Math.min(produced.length, expected - written);
      if (take > 0) out.set(produced.subarray(0, take), written);
      written += take;
    };
    try {
      for (let start = 0; start < samples.length && written < expected; start += chunkFrames) {
        emit(src.full(samples.subarray(start, Math.min(samples.length, start + chunkFrames))));
      }
      for (let left = flushZeros; left > 0 && written < expected; left -= chunkFrames) {
        emit(src.full(new Float32Array(Math.min(left, chunkFrames))));
      }
    } catch (cause) {
      // A failed converter may hold half a signal in its state: drop it.
      this.close();
      throw new AudioError("RESAMPLE_FAILED", `libsamplerate failed resampling ${fromRateHz} Hz to ${toRateHz} Hz: ${String(cause)}`, {
        cause,
      });
    }
    // The wrapper returns an error code as if it were a frame count, so a short result is how a
    // libsamplerate error shows up. A rounding difference of a sample or two is padded with zeros.
    if (written < expected - 2) {
      this.close();
      throw new AudioError(
        "RESAMPLE_FAILED",
        `libsamplerate produced ${written} of ${expected} samples resampling ${fromRateHz} Hz to ${toRateHz} Hz; ` +
          `this is a bug in earwitness or the resampler: report it with the input file`,
      );
    }
    return out;
  }

  /** Frees the converter. Idempotent; the next `resample()` creates a new one. */
  close(): void {
    const src = this.src;
    this.src = undefined;
    if (src !== undefined && !src.isDestroyed) src.destroy();
  }

  private async converterFor(fromRateHz: number, toRateHz: number): Promise<Src> {
    if (this.src !== undefined && this.fromRateHz === fromRateHz && this.toRateHz === toRateHz) {
      // The setter runs src_delete + src_new in the wrapper: a fresh filter state, no history.
      this.src.converterType = CONVERTER_TYPE;
      return this.src;
    }
    this.close();
    let src: Src;
    try {
      src = await libsamplerate.create(1, fromRateHz, toRateHz, { converterType: CONVERTER_TYPE });
    } catch (cause) {
      throw new AudioError("RESAMPLE_FAILED", `cannot create a ${fromRateHz} Hz to ${toRateHz} Hz converter: ${String(cause)}`, {
        cause,
      });
    }
    this.src = src;
    this.fromRateHz = fromRateHz;
    this.toRateHz = toRateHz;
    return src;
  }
}

function checkRate(rateHz: number, which: string): void {
  if (!Number.isInteger(rateHz) || rateHz < 1 || rateHz > MAX_RATE_HZ) {
    throw new AudioError(
      "UNSUPPORTED_RATE",
      `the ${which} sample rate ${rateHz} Hz is not an integer in 1..${MAX_RATE_HZ}; ` +
        `convert the file first, e.g. \`sox in.wav -r 16000 out.wav\``,
    );
  }
}
