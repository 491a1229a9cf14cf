/**
 * A WAV (RIFF/WAVE) decoder written by hand: corpora and replayed recordings arrive in many WAV
 * dialects, and every failure must say which file and what to do about it.
 *
 * Reference for the format tags, WAVE_FORMAT_EXTENSIBLE and the sub-format GUIDs:
 * https://learn.microsoft.com/en-us/windows/win32/api/mmreg/ns-mmreg-waveformatextensible
 * and http://www-mmsp.ece.mcgill.ca/Documents/AudioFormats/WAVE/WAVE.html
 */
import { readFile } from "node:fs/promises";
import { AudioError } from "../errors.js";

export interface DecodedAudio {
  sampleRateHz: number;
  /** Channels in the file; `samples` is already mixed down to mono. */
  channels: number;
  /** Mono mix (average of the channels), each sample in [-1, 1]. */
  samples: Float32Array;
  durationS: number;
  /** Sample encoding in the file: "pcm8", "pcm16", "pcm24", "pcm32", "float32" or "float64". */
  format: string;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Names for the tags we refuse, so the message tells the user what the file actually holds. */
const KNOWN_UNSUPPORTED_TAGS: Record<number, string> = {
  0x0002: "Microsoft ADPCM",
  0x0006: "A-law",
  0x0007: "mu-law",
  0x0011: "IMA ADPCM",
  0x0031: "GSM 6.10",
  0x0050: "MPEG",
  0x0055: "MP3",
  0x0161: "WMA",
};

/**
 * Every KSDATAFORMAT_SUBTYPE_* GUID for a WAVE format tag is that tag followed by these 14 bytes
 * (xxxxxxxx-0000-0010-8000-00aa00389b71, stored little-endian in the first three fields).
 */
const KSDATAFORMAT_SUFFIX = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** The streaming writers' "size unknown" markers for the data chunk (e.g. `arecord` to a pipe). */
const STREAMING_SIZES = new Set([0, 0xffffffff]);

const CONVERT_HINT = "convert it with `sox in.wav -e signed-integer -b 16 out.wav`";

/** Reads and decodes a WAV file; read failures become AudioError("READ_FAILED"). */
export async function readWavFile(path: string): Promise<DecodedAudio> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new AudioError("READ_FAILED", `cannot read ${path} (${reason}); check the path and its permissions`, {
      cause,
    });
  }
  return decodeWav(bytes, path);
}

interface FmtInfo {
  formatTag: number;
  /** PCM or IEEE float after resolving WAVE_FORMAT_EXTENSIBLE. */
  encoding: "pcm" | "float";
  channels: number;
  sampleRateHz: number;
  blockAlign: number;
  /** Container bytes per sample (the spec pads samples to whole bytes, left-justified). */
  bytesPerSample: number;
}

/**
 * Decodes a whole WAV file held in memory. `name` is used only in error messages (pass the path).
 */
export function decodeWav(bytes: Uint8Array, name: string): DecodedAudio {
  if (bytes.length === 0) {
    throw new AudioError("EMPTY_FILE", `${name} is empty (0 bytes); re-record or re-copy it`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkRiffHeader(bytes, name);

  let fmt: FmtInfo | undefined;
  let dataStart = -1;
  let dataBytes = 0;
  let offset = 12;
  // Walk the chunks until both fmt and data are found; chunks we do not need (LIST, fact, cue,
  // bext, JUNK, ...) are skipped. The RIFF size field is ignored: many writers get it wrong.
  while (fmt === undefined || dataStart < 0) {
    const remaining = bytes.length - offset;
    if (remaining < 8) {
      if (remaining > 0) {
        throw new AudioError(
          "TRUNCATED",
          `${name} ends inside a chunk header at byte ${offset} (${remaining} of 8 header bytes present); ` +
            `the file was cut short: re-copy or re-record it`,
        );
      }
      if (fmt === undefined) {
        throw new AudioError("NO_FMT", `${name} has no "fmt " chunk, so its sample format is unknown; ${CONVERT_HINT}`);
      }
      throw new AudioError("NO_DATA", `${name} has no "data" chunk (no audio); re-record or re-export it`);
    }
    const id = chunkId(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const bodyStart = offset + 8;
    const available = bytes.length - bodyStart;

    if (id === "data") {
      if (STREAMING_SIZES.has(size)) {
        // Size unknown when the header was written: the audio is the rest of the file.
        dataStart = bodyStart;
        dataBytes = available;
        break;
      }
      if (size > available) {
        throw new AudioError(
          "TRUNCATED",
          `${name}: the data chunk declares ${size} bytes but only ${available} are in the file; ` +
            `the file was cut short: re-copy or re-record it`,
        );
      }
      dataStart = bodyStart;
      dataBytes = size;
    } else {
      if (size > available) {
        throw new AudioError(
          "TRUNCATED",
          `${name} ends inside the "${printable(id)}" chunk at byte ${offset}: it declares ${size} bytes ` +
            `but only ${available} are in the file; the file was cut short: re-copy or re-record it`,
        );
      }
      if (id === "fmt ") fmt = parseFmt(view, bytes, bodyStart, size, name);
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    offset = bodyStart + size + (size % 2);
  }
  if (fmt === undefined) {
    // Only reachable when a streaming data chunk (size unknown) came before any "fmt " chunk.
    throw new AudioError("NO_FMT", `${name} has no "fmt " chunk before its audio, so its sample format is unknown; ${CONVERT_HINT}`);
  }

  const frames = Math.floor(dataBytes / fmt.blockAlign);
  const samples = decodeFrames(view, dataStart, frames, fmt);
  return {
    sampleRateHz: fmt.sampleRateHz,
    channels: fmt.channels,
    samples,
    durationS: frames / fmt.sampleRateHz,
    format: `${fmt.encoding}${fmt.bytesPerSample * 8}`,
  };
}

function checkRiffHeader(bytes: Uint8Array, name: string): void {
  const magic = bytes.length >= 4 ? chunkId(bytes, 0) : "";
  const form = bytes.length >= 12 ? chunkId(bytes, 8) : "";
  if ((magic === "RIFF" || magic === "RF64") && form === "WAVE") return;
  if (magic === "FORM" && (form === "AIFF" || form === "AIFC")) {
    throw new AudioError(
      "AIFF_FILE",
      `${name} is an ${form} file (Apple audio), not a WAV file, whatever its name says; ` +
        `convert it with \`sox in.wav out.wav\` (sox reads the real format from the header)`,
    );
  }
  if (magic === "RIFX") {
    throw new AudioError("UNSUPPORTED_FORMAT", `${name} is a big-endian RIFX file; ${CONVERT_HINT}`);
  }
  if ((magic === "RIFF" || magic === "RF64") && bytes.length < 12) {
    throw new AudioError(
      "TRUNCATED",
      `${name} ends inside the RIFF header (${bytes.length} of 12 bytes); the file was cut short: re-copy it`,
    );
  }
  const guess = guessOtherFormat(bytes);
  throw new AudioError(
    "NOT_RIFF",
    `${name} is not a WAV file (no RIFF/WAVE header${guess ? `; it looks like ${guess}` : ""}); ` +
      `convert it with \`sox in.ext -e signed-integer -b 16 out.wav\` or \`ffmpeg -i in.ext out.wav\``,
  );
}

/** A hint for the most common non-WAV files people feed in under a .wav name. */
function guessOtherFormat(bytes: Uint8Array): string | undefined {
  if (bytes.length < 4) return undefined;
  const magic = chunkId(bytes, 0);
  if (magic === "fLaC") return "FLAC";
  if (magic === "OggS") return "Ogg (Vorbis/Opus)";
  if (magic.startsWith("ID3") || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0)) return "MP3";
  if (bytes.length >= 8 && chunkId(bytes, 4) === "ftyp") return "MP4/M4A";
  return undefined;
}

function parseFmt(view: DataView, bytes: Uint8Array, start: number, size: number, name: string): FmtInfo {
  if (size < 16) {
    throw new AudioError("BAD_FORMAT", `${name}: the "fmt " chunk is ${size} bytes, at least 16 are needed; ${CONVERT_HINT}`);
  }
  const formatTag = view.getUint16(start, true);
  const channels = view.getUint16(start + 2, true);
  const sampleRateHz = view.getUint32(start + 4, true);
  const blockAlign = view.getUint16(start + 12, true);
  const bitsPerSample = view.getUint16(start + 14, true);

  let encoding: "pcm" | "float";
  let tagName: string;
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16) follow the 16 basic bytes.
    if (size < 40) {
      throw new AudioError(
        "BAD_FORMAT",
        `${name}: WAVE_FORMAT_EXTENSIBLE needs a 40-byte "fmt " chunk, this one has ${size}; ${CONVERT_HINT}`,
      );
    }
    const guidStart = start + 24;
    const subTag = view.getUint16(guidStart, true);
    const isKsFormat = KSDATAFORMAT_SUFFIX.every((b, i) => bytes[guidStart + 2 + i] === b);
    if (!isKsFormat || (subTag !== WAVE_FORMAT_PCM && subTag !== WAVE_FORMAT_IEEE_FLOAT)) {
      const desc = isKsFormat ? formatTagName(subTag) : `sub-format GUID ${guidString(bytes, guidStart)}`;
      throw new AudioError(
        "UNSUPPORTED_FORMAT",
        `${name} holds ${desc} audio (WAVE_FORMAT_EXTENSIBLE); only PCM and IEEE float are read; ${CONVERT_HINT}`,
      );
    }
    encoding = subTag === WAVE_FORMAT_PCM ? "pcm" : "float";
    tagName = `extensible ${encoding}`;
  } else if (formatTag === WAVE_FORMAT_PCM || formatTag === WAVE_FORMAT_IEEE_FLOAT) {
    encoding = formatTag === WAVE_FORMAT_PCM ? "pcm" : "float";
    tagName = encoding;
  } else {
    throw new AudioError(
      "UNSUPPORTED_FORMAT",
      `${name} holds ${formatTagName(formatTag)} audio; only PCM and IEEE float are read; ${CONVERT_HINT}`,
    );
  }

  if (channels === 0) throw new AudioError("BAD_FORMAT", `${name} declares 0 channels; the header is corrupt: ${CONVERT_HINT}`);
  if (sampleRateHz === 0) {
    throw new AudioError("BAD_FORMAT", `${name} declares a sample rate of 0 Hz; the header is corrupt: ${CONVERT_HINT}`);
  }
  const bytesPerSample = Math.ceil(bitsPerSample / 8);
  const validBits = encoding === "pcm" ? bytesPerSample >= 1 && bytesPerSample <= 4 : bitsPerSample === 32 || bitsPerSample === 64;
  if (!validBits) {
    throw new AudioError(
      "UNSUPPORTED_FORMAT",
      `${name} holds ${bitsPerSample}-bit ${tagName} samples; 8/16/24/32-bit PCM and 32/64-bit float are read; ${CONVERT_HINT}`,
    );
  }
  if (blockAlign !== channels * bytesPerSample) {
    throw new AudioError(
      "BAD_FORMAT",
      `${name} declares a block align of ${blockAlign} bytes, but ${channels} channel(s) of ${bitsPerSample}-bit ` +
        `samples need ${channels * bytesPerSample}; the header is corrupt: ${CONVERT_HINT}`,
    );
  }
  return { formatTag, encoding, channels, sampleRateHz, blockAlign, bytesPerSample };
}

/** Reads `frames` whole frames from `start` and mixes them to mono by averaging the channels. */
function decodeFrames(view: DataView, start: number, frames: number, fmt: FmtInfo): Float32Array {
  const out = new Float32Array(frames);
  const { channels, bytesPerSample } = fmt;
  const read = sampleReader(view, fmt);
  const scale = 1 / channels;
  let pos = start;
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      sum += read(pos);
      pos += bytesPerSample;
    }
    out[f] = sum * scale;
  }
  return out;
}

/**
 * Integer PCM maps the most negative code to -1 (x / 2^(bits-1)), as INT16_FULL_SCALE does for the
 * microphone. Float samples are clamped to [-1, 1] and NaN/Infinity become 0, so one corrupt
 * sample cannot poison a whole feature window downstream.
 */
function sampleReader(view: DataView, fmt: FmtInfo): (pos: number) => number {
  if (fmt.encoding === "float") {
    const get = fmt.bytesPerSample === 4 ? (p: number) => view.getFloat32(p, true) : (p: number) => view.getFloat64(p, true);
    return (p) => {
      const x = get(p);
      if (!Number.isFinite(x)) return 0;
      return x > 1 ? 1 : x < -1 ? -1 : x;
    };
  }
  switch (fmt.bytesPerSample) {
    case 1:
      return (p) => (view.getUint8(p) - 128) / 128;
    case 2:
      return (p) => view.getInt16(p, true) / 32768;
    case 3:
      return (p) => {
        const u = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getUint8(p + 2) << 16);
        return ((u << 8) >> 8) / 8388608;
      };
    default:
      return (p) => view.getInt32(p, true) / 2147483648;
  }
}

function chunkId(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset] ?? 0, bytes[offset + 1] ?? 0, bytes[offset + 2] ?? 0, bytes[offset + 3] ?? 0);
}

function printable(id: string): string {
  return id.replace(/[^\x20-\x7e]/g, "?");
}

function formatTagName(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, "0")}`;
  const known = KNOWN_UNSUPPORTED_TAGS[tag];
  return known ? `${known} (format tag ${hex})` : `format tag ${hex}`;
}

function guidString(bytes: Uint8Array, start: number): string {
  const hex = (from: number, len: number, reverse: boolean): string => {
    const parts: string[] = [];
    for (let i = 0; i < len; i++) parts.push((bytes[start + from + i] ?? 0).toString(16).padStart(2, "0"));
    return (reverse ? parts.reverse() : parts).join("");
  };
  return `${hex(0, 4, true)}-${hex(4, 2, true)}-${hex(6, 2, true)}-${hex(8, 2, false)}-${hex(10, 6, false)}`;
}
