/**
 * Audio files to pipeline input: decode (WAV by hand, any other format through sox), mix to mono,
 * resample to SAMPLE_RATE_HZ.
 */
import { SAMPLE_RATE_HZ } from "../constants.js";
import { AudioError } from "../errors.js";
import { resample, type Resampler } from "./resample.js";
import { readWithSox } from "./sox-decode.js";
import { readWavFile } from "./wav.js";

/** WAV files are decoded here; anything else (.ogg, .flac, .mp3, …) by sox. */
const isWav = (path: string): boolean => /\.(wav|wave)$/i.test(path);

/**
 * Loads an audio file as mono float samples at SAMPLE_RATE_HZ. Throws AudioError (READ_FAILED, the
 * decoder's codes, SOX_MISSING/DECODE_FAILED for non-WAV files, UNSUPPORTED_RATE,
 * RESAMPLE_FAILED), each naming the file or rate at fault.
 * Pass a `Resampler` when loading many files to reuse one converter (and close it afterwards).
 */
export async function loadAudioFile(path: string, resampler?: Resampler): Promise<Float32Array> {
  const audio = isWav(path) ? await readWavFile(path) : await readWithSox(path);
  if (audio.sampleRateHz === SAMPLE_RATE_HZ) return audio.samples;
  try {
    return resampler
      ? await resampler.resample(audio.samples, audio.sampleRateHz, SAMPLE_RATE_HZ)
      : await resample(audio.samples, audio.sampleRateHz, SAMPLE_RATE_HZ);
  } catch (cause) {
    // The resampler knows the rates, not the file: name the file for the user, keep the code.
    if (cause instanceof AudioError) throw new AudioError(cause.code, `${path}: ${cause.message}`, { cause });
    throw cause;
  }
}
