/**
 * Any format sox reads (Ogg Vorbis, FLAC, MP3, AIFF, …) decoded by the `sox` program: mono,
 * 32-bit float, at the file's own rate, so that resampling stays with the one resampler every
 * other file goes through (src/audio/resample.ts). WAV files never come here: the hand-written
 * decoder (wav.ts) reads them without a child process and with more precise errors.
 */
import { spawn } from "node:child_process";
import { AudioError } from "../errors.js";
import type { DecodedAudio } from "./wav.js";

/** Programs are found on PATH; `EARWITNESS_SOX` names another (tests point it at a missing one). */
function soxProgram(): string {
  return process.env["EARWITNESS_SOX"] ?? "sox";
}

function run(args: string[], file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(soxProgram(), args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (cause) {
      reject(new AudioError("SOX_MISSING", `cannot run sox to read ${file}: ${(cause as Error).message}; install it (apt-get install sox)`, { cause }));
      return;
    }
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", (cause: NodeJS.ErrnoException) => {
      reject(
        cause.code === "ENOENT"
          ? new AudioError("SOX_MISSING", `${file} is not a WAV file, and reading other formats needs sox, which is not installed (apt-get install sox)`, { cause })
          : new AudioError("DECODE_FAILED", `cannot run sox to read ${file}: ${cause.message}`, { cause }),
      );
    });
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new AudioError("DECODE_FAILED", `sox could not decode ${file} (exit ${code}): ${err.trim().split("\n").pop() ?? ""}`));
    });
  });
}

/** Decodes `file` with sox: the channels mixed to mono (`-c 1`), float samples at the file's rate. */
export async function readWithSox(file: string): Promise<DecodedAudio> {
  // `--i -r` prints the sample rate; the data then comes as raw little-endian float32, mono.
  const rateText = (await run(["--i", "-r", file], file)).toString().trim();
  const sampleRateHz = Number(rateText);
  if (!Number.isFinite(sampleRateHz) || sampleRateHz <= 0) {
    throw new AudioError("DECODE_FAILED", `sox reports no sample rate for ${file} (got "${rateText}")`);
  }
  const channels = Number((await run(["--i", "-c", file], file)).toString().trim()) || 1;
  const raw = await run(["-V1", file, "-t", "raw", "-e", "floating-point", "-b", "32", "-L", "-c", "1", "-"], file);
  const samples = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.byteLength - (raw.byteLength % 4))));
  if (samples.length === 0) throw new AudioError("EMPTY_AUDIO", `${file} holds no samples`);
  return { sampleRateHz, channels, samples, durationS: samples.length / sampleRateHz, format: "sox" };
}
