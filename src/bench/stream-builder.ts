/**
 * Long test streams for detection quality: what a unit in a home hears for hours, with danger
 * passages at known times. Corpus clips that are not danger follow each other with background
 * noise between them; now and then a danger passage — several consecutive danger clips of one
 * speaker, at least `minPassageS` long — is inserted. A noise bed runs under the whole stream.
 * Everything is drawn from one seeded Rng, so a seed and the same corpus give the same stream.
 *
 * Planning (which clip where) is separate from loading audio: `buildStream` takes a loader, so
 * tests run it on synthetic clips, and only the clips chosen are ever read from disk.
 */
import { SAMPLE_RATE_HZ } from "../constants.js";
import { EarwitnessError } from "../errors.js";
import { activeRms } from "../train/augment.js";
import { Rng } from "../train/random.js";

/** The clips given cannot make the stream asked for (code STREAM_SELECTION): a user's corpus selection, not a bug. */
export class StreamSelectionError extends EarwitnessError {}

export interface StreamClip {
  /** Path (or any id the loader understands). */
  file: string;
  label: string;
  speaker: string | null;
}

export interface StreamSegment {
  /** A speech clip, a non-speech sound event, or a scream (home streams, home-stream.ts). */
  kind: "clip" | "sound" | "scream";
  start_s: number;
  end_s: number;
  file: string;
  label: string;
  speaker: string | null;
  danger: boolean;
  /** Index into `passages` for the clips of a danger passage. */
  passage: number | null;
}

export interface DangerPassage {
  start_s: number;
  end_s: number;
  speaker: string | null;
  labels: string[];
  clips: number;
  /** Home streams: a speech passage or a scream (absent: speech). */
  kind?: "speech" | "scream";
}

/** The ground truth written beside each stream (`<stream>.json`). */
export interface StreamTimeline {
  format: 1;
  seed: number;
  /** Home streams: the recipe (home-stream.ts); absent for per-corpus speech streams. */
  mix?: "home" | "sounds";
  sample_rate_hz: number;
  duration_s: number;
  noise: { source: string; snr_db: number };
  danger_labels: string[];
  segments: StreamSegment[];
  passages: DangerPassage[];
}

export interface StreamOptions {
  seed: number;
  /** Length of the stream, seconds (the last clip may end a little earlier). */
  durationS: number;
  dangerLabels: string[];
  /** A danger passage is at least this long (several clips of one speaker). */
  minPassageS: number;
  /** Mean time between danger passages, seconds (jittered ±50 %). */
  passageEveryS: number;
  /** Noise-only gap between non-danger clips, seconds [min, max]. */
  gapS: [number, number];
  /** Pause between the clips of one danger passage, seconds [min, max]. */
  passageGapS: [number, number];
  /** Speech-to-noise ratio of the noise bed, dB [min, max] (one draw per stream). */
  snrDbRange: [number, number];
}

export const DEFAULT_STREAM_OPTIONS: Omit<StreamOptions, "seed" | "dangerLabels"> = {
  durationS: 600,
  minPassageS: 3,
  passageEveryS: 120,
  gapS: [0.5, 6],
  passageGapS: [0.05, 0.3],
  snrDbRange: [10, 25],
};

export interface BuiltStream {
  samples: Float32Array;
  timeline: StreamTimeline;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Builds one stream. `clips` is the pool (danger and non-danger); `load` returns a clip's samples
 * at SAMPLE_RATE_HZ; `noises` are background recordings (empty: white noise) with their names.
 * Throws when the pool has no non-danger clip, or no speaker with danger clips.
 */
export async function buildStream(
  clips: StreamClip[],
  load: (clip: StreamClip) => Promise<Float32Array>,
  noises: { name: string; samples: Float32Array }[],
  o: StreamOptions,
): Promise<BuiltStream> {
  const rng = new Rng(o.seed);
  const danger = new Set(o.dangerLabels);
  const calm = clips.filter((c) => !danger.has(c.label));
  const bySpeaker = new Map<string, StreamClip[]>();
  for (const c of clips) {
    if (!danger.has(c.label)) continue;
    const key = c.speaker ?? "";
    bySpeaker.set(key, [...(bySpeaker.get(key) ?? []), c]);
  }
  const speakers = [...bySpeaker.keys()].sort();
  if (calm.length === 0) throw new StreamSelectionError("STREAM_SELECTION", "the corpus selection has no non-danger clips to build a stream from; add a corpus with calm speech");
  if (speakers.length === 0) {
    throw new StreamSelectionError("STREAM_SELECTION", `the corpus selection has no ${o.dangerLabels.join("/")} clips to build danger passages from; add a corpus that has them`);
  }

  const total = Math.round(o.durationS * SAMPLE_RATE_HZ);
  const speech = new Float32Array(total);
  const segments: StreamSegment[] = [];
  const passages: DangerPassage[] = [];
  const levels: number[] = [];
  let cursor = Math.round(rng.uniform(o.gapS[0], o.gapS[1]) * SAMPLE_RATE_HZ);
  let nextPassage = o.passageEveryS * rng.uniform(0.5, 1.5);

  const place = (samples: Float32Array, clip: StreamClip, passage: number | null): boolean => {
    if (cursor + samples.length > total) return false;
    speech.set(samples, cursor);
    const start = cursor / SAMPLE_RATE_HZ;
    cursor += samples.length;
    segments.push({
      kind: "clip",
      start_s: r3(start),
      end_s: r3(cursor / SAMPLE_RATE_HZ),
      file: clip.file,
      label: clip.label,
      speaker: clip.speaker,
      danger: danger.has(clip.label),
      passage,
    });
    levels.push(activeRms(samples));
    return true;
  };

  while (cursor < total) {
    if (cursor / SAMPLE_RATE_HZ >= nextPassage) {
      const speaker = speakers[rng.int(speakers.length)]!;
      const pool = rng.shuffle([...bySpeaker.get(speaker)!]);
      const id = passages.length;
      const startS = cursor / SAMPLE_RATE_HZ;
      const labels = new Set<string>();
      let used = 0;
      let placed = true;
      // Consecutive clips of the one speaker until the passage is long enough (clips reused if
      // the speaker has few).
      while (cursor / SAMPLE_RATE_HZ - startS < o.minPassageS) {
        const clip = pool[used++ % pool.length]!;
        if (used > 1) cursor += Math.round(rng.uniform(o.passageGapS[0], o.passageGapS[1]) * SAMPLE_RATE_HZ);
        if (!place(await load(clip), clip, id)) {
          placed = false;
          break;
        }
        labels.add(clip.label);
      }
      if (!placed) {
        // Ran off the end: drop the incomplete passage's clips from the truth and the audio.
        while (segments.length > 0 && segments[segments.length - 1]!.passage === id) {
          const s = segments.pop()!;
          speech.fill(0, Math.round(s.start_s * SAMPLE_RATE_HZ), Math.round(s.end_s * SAMPLE_RATE_HZ));
        }
        break;
      }
      passages.push({ start_s: r3(startS), end_s: r3(cursor / SAMPLE_RATE_HZ), speaker: speaker || null, labels: [...labels].sort(), clips: used });
      nextPassage = cursor / SAMPLE_RATE_HZ + o.passageEveryS * rng.uniform(0.5, 1.5);
    } else {
      const clip = calm[rng.int(calm.length)]!;
      if (!place(await load(clip), clip, null)) break;
    }
    cursor += Math.round(rng.uniform(o.gapS[0], o.gapS[1]) * SAMPLE_RATE_HZ);
  }

  // Noise bed under everything, at one SNR against the median speech level of the stream.
  const snrDb = rng.uniform(o.snrDbRange[0], o.snrDbRange[1]);
  const noise = noises.length > 0 ? noises[rng.int(noises.length)]! : null;
  const sorted = [...levels].sort((a, b) => a - b);
  const speechRms = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)]! : 0.05;
  const target = speechRms / Math.pow(10, snrDb / 20);
  const samples = speech;
  addNoiseBed(samples, noise, target, rng);

  return {
    samples,
    timeline: {
      format: 1,
      seed: o.seed,
      sample_rate_hz: SAMPLE_RATE_HZ,
      duration_s: r3(total / SAMPLE_RATE_HZ),
      noise: { source: noise?.name ?? "white", snr_db: r3(snrDb) },
      danger_labels: [...o.dangerLabels],
      segments,
      passages,
    },
  };
}

/**
 * Adds a noise bed at RMS `targetRms` under `samples` (in place, then clipped to [−1, 1]): the
 * recording looped from a random offset, or white noise when there is none.
 */
export function addNoiseBed(samples: Float32Array, noise: { samples: Float32Array } | null, targetRms: number, rng: Rng): void {
  const total = samples.length;
  if (noise && noise.samples.length > 0) {
    let sq = 0;
    for (let i = 0; i < noise.samples.length; i++) sq += noise.samples[i]! ** 2;
    const g = targetRms / Math.max(1e-9, Math.sqrt(sq / noise.samples.length));
    let pos = rng.int(noise.samples.length);
    for (let i = 0; i < total; i++) {
      samples[i]! += g * noise.samples[pos]!;
      if (++pos >= noise.samples.length) pos = 0;
    }
  } else {
    for (let i = 0; i < total; i++) samples[i]! += targetRms * rng.normal();
  }
  for (let i = 0; i < total; i++) samples[i] = Math.max(-1, Math.min(1, samples[i]!));
}

/** 16-bit PCM mono WAV bytes (so a stream can be replayed with `earwitness replay`). */
export function encodeWav16(samples: Float32Array, rateHz = SAMPLE_RATE_HZ): Uint8Array {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const v = new DataView(bytes.buffer);
  const ascii = (o: number, s: string): void => {
    for (let i = 0; i < s.length; i++) bytes[o + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  v.setUint32(4, 36 + samples.length * 2, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rateHz, true);
  v.setUint32(28, rateHz * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, "data");
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const x = Math.max(-1, Math.min(1, samples[i]!));
    v.setInt16(44 + 2 * i, Math.round(x < 0 ? x * 32768 : x * 32767), true);
  }
  return bytes;
}
