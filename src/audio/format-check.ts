/**
 * Does the audio look like a microphone in a room? Issue #11 §7: random bytes read as S16_LE at the
 * right byte rate passed every other check (rate, silence, clipping) and the model called them
 * "angry" for 52 s. Pure: feed samples, get raise/clear events for `mic_format`.
 *
 * What wrong-format audio looks like, and why a microphone never does:
 *  - Bytes that are not S16_LE mono (random data, big-endian or 24/32-bit samples, a byte offset)
 *    put unrelated bits in each sample's high byte: the samples are near-uniform over full scale,
 *    so the level is high (random bytes: −4.8 dBFS), and independent of each other, so the spectrum
 *    is flat from 0 to 8 kHz and neighbouring samples are uncorrelated.
 *  - A real microphone hears speech, rooms and appliances, whose energy falls with frequency
 *    (speech is harmonic below 4 kHz; room noise is pink or brown), so at 16 kHz neighbouring
 *    samples are strongly correlated and the spectrum is far from flat. The one microphone signal
 *    that is white — the preamp's own hiss — is quiet (−60 dBFS or below).
 *
 *  - Byte-swapped *quiet* audio (a room at −60 dBFS, under 256 LSB) is the exception: its high
 *    bytes, now the low bytes, are only 0x00 (positive samples) and 0xFF (negative ones), while the
 *    signal itself is loud and smooth. A real 16-bit microphone's low byte is near uniform (each
 *    value ~0.4 %); an 8-bit one upscaled has only 0x00, never both.
 *
 * So a 0.5 s block is suspect when either
 *  (a) white and loud: RMS level ≥ SUSPECT_MIN_DBFS, spectral flatness (geometric over arithmetic
 *      mean of the Welch-averaged power spectrum, 1 for white noise) ≥ SUSPECT_MIN_FLATNESS, and
 *      |lag-1 autocorrelation| ≤ SUSPECT_MAX_LAG1; or
 *  (b) swapped: RMS level ≥ SWAPPED_MIN_DBFS and the low bytes 0x00 and 0xFF each make up at
 *      least SWAPPED_MIN_SHARE of the samples.
 * The problem is
 * raised after RAISE_MS of suspect blocks without a break, so a hiss or a crash of a second does not
 * pause detection, and cleared after CLEAR_MS of blocks that are not suspect. Judging whole blocks
 * of samples makes the verdict independent of how the audio was chunked.
 */
import { INT16_FULL_SCALE, SAMPLE_RATE_HZ } from "../constants.js";

/** Samples per judged block: 0.5 s. */
export const FORMAT_BLOCK_SAMPLES = SAMPLE_RATE_HZ / 2;
const BLOCK_MS = 500;
/** FFT frame for the spectrum (16 ms), Hann-windowed, frames not overlapping. */
const FRAME = 256;
const LOG2_FRAME = 8;

/**
 * Below this a flat spectrum may be a microphone's own hiss or a hiss in the room, not
 * wrong-format data (random bytes: −4.8 dBFS). Kept high on purpose: a false `mic_format` pauses
 * detection, so only noise no room gives counts (white noise at −12 dBFS RMS would be deafening).
 */
export const SUSPECT_MIN_DBFS = -12;
/** White noise gives ≈ 0.95 over a 0.5 s block; speech and room noise stay well under 0.5. */
export const SUSPECT_MIN_FLATNESS = 0.7;
/** White noise gives ≈ 0 (±0.02 over 8000 samples); speech and room noise 0.5 and more. */
export const SUSPECT_MAX_LAG1 = 0.25;
/** (b): loud enough that a real microphone's low byte is spread over all values. */
export const SWAPPED_MIN_DBFS = -30;
/** (b): genuine audio gives ~0.004 for each; byte-swapped quiet audio ~0.5. */
export const SWAPPED_MIN_SHARE = 0.1;
/** Suspect this long without a break: raise `mic_format`. */
export const FORMAT_RAISE_MS = 2_000;
/** Not suspect this long: clear it. */
export const FORMAT_CLEAR_MS = 2_000;

export interface FormatStats {
  /** 20·log10(RMS), full-scale square = 0 dBFS (as src/audio/level-meter.ts). */
  rmsDbfs: number;
  /** Spectral flatness of the block's average power spectrum, 0 (a tone) to 1 (white). */
  flatness: number;
  /** Correlation of each sample with the next. */
  lag1: number;
  /** Share of samples whose low byte is 0x00, and 0xFF. */
  lowByte00: number;
  lowByteFF: number;
  suspect: boolean;
}

export interface FormatEvent {
  code: "mic_format";
  active: boolean;
  message: string;
  stats: FormatStats;
}

const HANN = Float64Array.from({ length: FRAME }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / FRAME));
const COS = Float64Array.from({ length: FRAME / 2 }, (_, i) => Math.cos((2 * Math.PI * i) / FRAME));
const SIN = Float64Array.from({ length: FRAME / 2 }, (_, i) => -Math.sin((2 * Math.PI * i) / FRAME));
const BITREV = Uint16Array.from({ length: FRAME }, (_, i) => {
  let r = 0;
  for (let b = 0; b < LOG2_FRAME; b++) r |= ((i >> b) & 1) << (LOG2_FRAME - 1 - b);
  return r;
});

/** In-place radix-2 FFT of one FRAME (re, im). */
function fft(re: Float64Array, im: Float64Array): void {
  for (let i = 0; i < FRAME; i++) {
    const j = BITREV[i]!;
    if (j > i) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let size = 2; size <= FRAME; size *= 2) {
    const half = size / 2;
    const step = FRAME / size;
    for (let start = 0; start < FRAME; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = COS[k * step]!;
        const wi = SIN[k * step]!;
        const a = start + k;
        const b = a + half;
        const tr = re[b]! * wr - im[b]! * wi;
        const ti = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
}

/** Level, flatness and lag-1 correlation of one block of samples (full scale = 1), and the verdict. */
export function formatStats(samples: Float32Array): FormatStats {
  const n = samples.length;
  let sum = 0;
  let sumSq = 0;
  let low00 = 0;
  let lowFF = 0;
  for (let i = 0; i < n; i++) {
    sum += samples[i]!;
    sumSq += samples[i]! * samples[i]!;
    const low = Math.round(samples[i]! * INT16_FULL_SCALE) & 0xff;
    if (low === 0) low00++;
    else if (low === 0xff) lowFF++;
  }
  const rms = n > 0 ? Math.sqrt(sumSq / n) : 0;
  const rmsDbfs = rms > 0 ? Math.max(-120, 20 * Math.log10(rms)) : -120;
  // lag-1 autocorrelation about the mean (a DC offset must not look like correlation)
  const mean = n > 0 ? sum / n : 0;
  let c0 = 0;
  let c1 = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]! - mean;
    c0 += x * x;
    if (i + 1 < n) c1 += x * (samples[i + 1]! - mean);
  }
  const lag1 = c0 > 0 ? c1 / c0 : 0;
  // Welch: the power spectra of non-overlapping Hann frames, averaged; DC and Nyquist left out.
  // Only for a block loud enough to be judged white: this runs on every block the microphone
  // sends, forever, and an ordinary room is far below the level (flatness is then reported 0).
  const power = new Float64Array(FRAME / 2 - 1);
  const re = new Float64Array(FRAME);
  const im = new Float64Array(FRAME);
  let frames = 0;
  for (let off = 0; rmsDbfs >= SUSPECT_MIN_DBFS && off + FRAME <= n; off += FRAME) {
    for (let i = 0; i < FRAME; i++) {
      re[i] = (samples[off + i]! - mean) * HANN[i]!;
      im[i] = 0;
    }
    fft(re, im);
    for (let k = 1; k < FRAME / 2; k++) power[k - 1]! += re[k]! * re[k]! + im[k]! * im[k]!;
    frames++;
  }
  let flatness = 0;
  if (frames > 0) {
    let arith = 0;
    let logSum = 0;
    for (const p of power) {
      arith += p;
      logSum += Math.log(p + 1e-30);
    }
    arith /= power.length;
    flatness = arith > 0 ? Math.min(1, Math.exp(logSum / power.length) / arith) : 0;
  }
  const lowByte00 = n > 0 ? low00 / n : 0;
  const lowByteFF = n > 0 ? lowFF / n : 0;
  const white = rmsDbfs >= SUSPECT_MIN_DBFS && flatness >= SUSPECT_MIN_FLATNESS && Math.abs(lag1) <= SUSPECT_MAX_LAG1;
  const swapped = rmsDbfs >= SWAPPED_MIN_DBFS && lowByte00 >= SWAPPED_MIN_SHARE && lowByteFF >= SWAPPED_MIN_SHARE;
  return { rmsDbfs, flatness, lag1, lowByte00, lowByteFF, suspect: white || swapped };
}

/** Judges 0.5 s blocks of 16-bit samples and raises / clears `mic_format` (see the header). */
export class MicFormatWatch {
  private readonly block = new Float32Array(FORMAT_BLOCK_SAMPLES);
  private filled = 0;
  private suspectRun = 0;
  private cleanRun = 0;
  private active = false;
  private readonly raiseBlocks = Math.ceil(FORMAT_RAISE_MS / BLOCK_MS);
  private readonly clearBlocks = Math.ceil(FORMAT_CLEAR_MS / BLOCK_MS);

  get raised(): boolean {
    return this.active;
  }

  /** Forget a partial block and the running counts (a new recorder); a raised problem stays raised. */
  reset(): void {
    this.filled = 0;
    this.suspectRun = this.cleanRun = 0;
  }

  push(samples: Int16Array): FormatEvent[] {
    const events: FormatEvent[] = [];
    for (let i = 0; i < samples.length; i++) {
      this.block[this.filled++] = samples[i]! / INT16_FULL_SCALE;
      if (this.filled === FORMAT_BLOCK_SAMPLES) {
        this.filled = 0;
        this.judge(formatStats(this.block), events);
      }
    }
    return events;
  }

  private judge(stats: FormatStats, events: FormatEvent[]): void {
    this.suspectRun = stats.suspect ? this.suspectRun + 1 : 0;
    this.cleanRun = stats.suspect ? 0 : this.cleanRun + 1;
    if (!this.active && this.suspectRun >= this.raiseBlocks) {
      this.active = true;
      events.push({
        code: "mic_format",
        active: true,
        stats,
        message:
          `the audio does not look like a microphone: for ${FORMAT_RAISE_MS / 1000} s it has been loud (${stats.rmsDbfs.toFixed(1)} dBFS) ` +
          (stats.lowByte00 >= SWAPPED_MIN_SHARE && stats.lowByteFF >= SWAPPED_MIN_SHARE
            ? `with low bytes only 0x00/0xFF (${Math.round(100 * (stats.lowByte00 + stats.lowByteFF))} % of samples: byte-swapped samples)`
            : `white noise (spectral flatness ${stats.flatness.toFixed(2)}, sample-to-sample correlation ${stats.lag1.toFixed(2)})`) +
          `, which is what bytes in the wrong format give ` +
          `(big-endian or 24/32-bit samples, or a device that is not a microphone); check that the recorder delivers S16_LE 16 kHz mono ` +
          `(arecord -D <device> -f S16_LE -r 16000 -c 1 -d 5 test.wav, then listen to it) and that audio.device is the microphone; ` +
          `detection is paused while this lasts`,
      });
    } else if (this.active && this.cleanRun >= this.clearBlocks) {
      this.active = false;
      events.push({ code: "mic_format", active: false, stats, message: "the audio looks like a microphone again" });
    }
  }
}
