/**
 * Streams that sound like a home (issue #10): what a unit in a living room hears for hours, built
 * from corpora a model was not trained on. Beside calm speech of several languages and speakers
 * there are the sounds people and homes make — laughter, coughs, infant cries, kitchen, street,
 * TV news, snoring — as foreground events at speech-like levels, a household noise bed under
 * everything, danger passages of 3 to 30 s (consecutive angry/fear clips of one speaker) and
 * screams. Two recipes:
 *
 *  - `home`: speech and sounds interleaved (a share `soundShare` of the events are sounds),
 *    a speech danger passage every ~2 min and a scream every ~4 min;
 *  - `sounds`: non-verbal sounds only, with screams among them (~one every 1.5 min) — what the
 *    detector issue measured the shipped model on (79 false alerts an hour).
 *
 * Every event's level is drawn around one reference (−24 dBFS active RMS, ± a few dB), so a loud
 * corpus does not become "danger" by its recording level alone, and sounds are as loud as
 * speech. Everything is drawn from one seeded Rng: the same seed and the same clips give the
 * same stream, byte for byte (docs/detection.md has the recipe and the commands).
 *
 * The timeline marks each segment's kind (speech clip, sound, scream) so that false alerts can be
 * counted separately on speech, on sounds and on noise (stream-score.ts).
 */
import { SAMPLE_RATE_HZ } from "../constants.js";
import { isDangerLabel, labelKind } from "../label-map.js";
import { activeRms } from "../train/augment.js";
import { Rng } from "../train/random.js";
import { addNoiseBed, StreamSelectionError, type BuiltStream, type DangerPassage, type StreamClip, type StreamSegment } from "./stream-builder.js";

export type HomeMix = "home" | "sounds";

const missing = (what: string): StreamSelectionError => new StreamSelectionError("STREAM_SELECTION", `the selection has ${what}`);

export interface HomeStreamOptions {
  seed: number;
  mix: HomeMix;
  durationS: number;
  /** Emotions that are danger (screams always are). */
  dangerLabels: string[];
  /** Share of non-danger events that are sounds rather than speech (home mix). */
  soundShare: number;
  /** Mean seconds between speech danger passages (±50 %); null: none. */
  passageEveryS: number | null;
  /** Length of a speech danger passage, seconds [min, max] (log-uniform). */
  passageS: [number, number];
  /** Mean seconds between screams (±50 %); null: none. */
  screamEveryS: number | null;
  /** Gap between events, seconds [min, max]. */
  gapS: [number, number];
  /** Pause between the clips of one passage, seconds [min, max]. */
  passageGapS: [number, number];
  /** Active RMS every event is scaled to, dBFS, and the jitter around it, dB [min, max]. */
  levelDbfs: number;
  levelJitterDb: [number, number];
  /** Screams relative to the reference, dB [min, max]. */
  screamJitterDb: [number, number];
  /** Event level over the noise bed, dB [min, max] (one draw per stream). */
  snrDbRange: [number, number];
}

/** What both recipes share: levels, gaps, passage lengths and the noise bed. */
const COMMON = {
  passageS: [3, 30] as [number, number],
  gapS: [0.5, 6] as [number, number],
  passageGapS: [0.05, 0.3] as [number, number],
  levelDbfs: -24,
  levelJitterDb: [-6, 4] as [number, number],
  screamJitterDb: [-3, 6] as [number, number],
  snrDbRange: [10, 25] as [number, number],
};

export const HOME_STREAM_DEFAULTS: Record<HomeMix, Omit<HomeStreamOptions, "seed" | "dangerLabels" | "durationS">> = {
  home: { ...COMMON, mix: "home", soundShare: 0.35, passageEveryS: 120, screamEveryS: 240 },
  sounds: { ...COMMON, mix: "sounds", soundShare: 1, passageEveryS: null, screamEveryS: 90 },
};

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The gain that brings `x`'s active RMS to `levelDbfs` plus a jitter drawn from `jitterDb`: how
 * every event of a home stream gets its level (and how `calibrate` mixes danger into a room).
 */
export function levelGain(x: Float32Array, levelDbfs: number, jitterDb: readonly [number, number], rng: Rng): number {
  return (Math.pow(10, levelDbfs / 20) * Math.pow(10, rng.uniform(jitterDb[0], jitterDb[1]) / 20)) / Math.max(1e-6, activeRms(x));
}

/** The pools a home stream draws from; clips of other kinds (arousal levels) are not used. */
export function homePools(clips: StreamClip[], dangerLabels: string[]): {
  calm: StreamClip[];
  dangerBySpeaker: Map<string, StreamClip[]>;
  sounds: StreamClip[];
  screams: StreamClip[];
} {
  const calm: StreamClip[] = [];
  const sounds: StreamClip[] = [];
  const screams: StreamClip[] = [];
  const dangerBySpeaker = new Map<string, StreamClip[]>();
  for (const c of clips) {
    const kind = labelKind(c.label);
    if (kind === "sound") sounds.push(c);
    else if (kind === "scream") screams.push(c);
    else if (kind === "emotion") {
      if (isDangerLabel(c.label, dangerLabels)) {
        const key = c.speaker ?? c.file;
        dangerBySpeaker.set(key, [...(dangerBySpeaker.get(key) ?? []), c]);
      } else calm.push(c);
    }
  }
  return { calm, dangerBySpeaker, sounds, screams };
}

/**
 * Builds one home stream. `load` returns a clip's samples at SAMPLE_RATE_HZ. Throws a StreamSelectionError
 * naming what is missing when the pools cannot make the recipe (no calm speech for `home`, no
 * sounds for `sounds`, no danger clips or screams when passages or screams are asked for).
 */
export async function buildHomeStream(
  clips: StreamClip[],
  load: (clip: StreamClip) => Promise<Float32Array>,
  noises: { name: string; samples: Float32Array }[],
  o: HomeStreamOptions,
): Promise<BuiltStream> {
  const rng = new Rng(o.seed);
  const { calm, dangerBySpeaker, sounds, screams } = homePools(clips, o.dangerLabels);
  const speakers = [...dangerBySpeaker.keys()].sort();
  const useSounds = o.soundShare > 0;
  if (o.soundShare < 1 && calm.length === 0) throw missing("no calm speech (non-danger emotions) for a home stream; give a speech corpus to --streams");
  if (useSounds && sounds.length === 0) throw missing("no non-speech sounds; give a sound corpus to --streams (with --held-out, one the model did not train on)");
  const wantPassages = o.passageEveryS !== null && speakers.length > 0;
  const wantScreams = o.screamEveryS !== null && screams.length > 0;
  if (o.passageEveryS !== null && speakers.length === 0 && !wantScreams) {
    throw missing(`no ${o.dangerLabels.join("/")} clips and no screams to build danger from`);
  }

  const total = Math.round(o.durationS * SAMPLE_RATE_HZ);
  const audio = new Float32Array(total);
  const segments: StreamSegment[] = [];
  const passages: DangerPassage[] = [];
  const ref = Math.pow(10, o.levelDbfs / 20);
  const gainFor = (x: Float32Array, jitter: [number, number]): number => levelGain(x, o.levelDbfs, jitter, rng);
  let cursor = Math.round(rng.uniform(o.gapS[0], o.gapS[1]) * SAMPLE_RATE_HZ);
  const jitter = (mean: number): number => mean * rng.uniform(0.5, 1.5);
  let nextPassage = wantPassages ? jitter(o.passageEveryS!) : Infinity;
  let nextScream = wantScreams ? jitter(o.screamEveryS!) : Infinity;
  const nowS = (): number => cursor / SAMPLE_RATE_HZ;

  const place = (x: Float32Array, gain: number, clip: StreamClip, kind: StreamSegment["kind"], passage: number | null): boolean => {
    if (cursor + x.length > total) return false;
    for (let i = 0; i < x.length; i++) audio[cursor + i] = gain * x[i]!;
    const start = nowS();
    cursor += x.length;
    segments.push({
      kind,
      start_s: r3(start),
      end_s: r3(nowS()),
      file: clip.file,
      label: clip.label,
      speaker: clip.speaker,
      danger: kind === "scream" || (kind === "clip" && isDangerLabel(clip.label, o.dangerLabels)),
      passage,
    });
    return true;
  };
  const dropPassage = (id: number): void => {
    while (segments.length > 0 && segments[segments.length - 1]!.passage === id) {
      const s = segments.pop()!;
      audio.fill(0, Math.round(s.start_s * SAMPLE_RATE_HZ), Math.round(s.end_s * SAMPLE_RATE_HZ));
    }
  };

  while (cursor < total) {
    if (nowS() >= nextScream && nowS() >= nextPassage) nextPassage = nowS() + 5; // one at a time
    if (nowS() >= nextScream) {
      const clip = screams[rng.int(screams.length)]!;
      const x = await load(clip);
      const id = passages.length;
      const start = nowS();
      if (!place(x, gainFor(x, o.screamJitterDb), clip, "scream", id)) break;
      passages.push({ start_s: r3(start), end_s: r3(nowS()), speaker: null, labels: [clip.label], clips: 1, kind: "scream" });
      nextScream = nowS() + jitter(o.screamEveryS!);
    } else if (nowS() >= nextPassage) {
      const speaker = speakers[rng.int(speakers.length)]!;
      const pool = rng.shuffle([...dangerBySpeaker.get(speaker)!]);
      // Log-uniform length: as many short incidents as long ones per octave.
      const wantS = Math.exp(rng.uniform(Math.log(o.passageS[0]), Math.log(o.passageS[1])));
      const id = passages.length;
      const start = nowS();
      const labels = new Set<string>();
      let used = 0;
      let placed = true;
      let gain = 0;
      while (nowS() - start < wantS) {
        const clip = pool[used++ % pool.length]!;
        const x = await load(clip);
        if (used === 1) gain = gainFor(x, o.levelJitterDb); // one voice, one level
        if (used > 1) cursor += Math.round(rng.uniform(o.passageGapS[0], o.passageGapS[1]) * SAMPLE_RATE_HZ);
        if (!place(x, gain, clip, "clip", id)) {
          placed = false;
          break;
        }
        labels.add(clip.label);
      }
      if (!placed) {
        dropPassage(id);
        break;
      }
      passages.push({ start_s: r3(start), end_s: r3(nowS()), speaker: speaker || null, labels: [...labels].sort(), clips: used, kind: "speech" });
      nextPassage = nowS() + jitter(o.passageEveryS!);
    } else {
      const sound = useSounds && (o.soundShare >= 1 || rng.next() < o.soundShare);
      const clip = sound ? sounds[rng.int(sounds.length)]! : calm[rng.int(calm.length)]!;
      const x = await load(clip);
      if (!place(x, gainFor(x, o.levelJitterDb), clip, sound ? "sound" : "clip", null)) break;
    }
    cursor += Math.round(rng.uniform(o.gapS[0], o.gapS[1]) * SAMPLE_RATE_HZ);
  }

  // The noise bed, at one SNR below the reference level.
  const snrDb = rng.uniform(o.snrDbRange[0], o.snrDbRange[1]);
  const noise = noises.length > 0 ? noises[rng.int(noises.length)]! : null;
  addNoiseBed(audio, noise, ref / Math.pow(10, snrDb / 20), rng);

  return {
    samples: audio,
    timeline: {
      format: 1,
      seed: o.seed,
      mix: o.mix,
      sample_rate_hz: SAMPLE_RATE_HZ,
      duration_s: r3(total / SAMPLE_RATE_HZ),
      noise: { source: noise?.name ?? "white", snr_db: r3(snrDb) },
      danger_labels: [...o.dangerLabels, "scream"],
      segments,
      passages,
    },
  };
}
