/**
 * What a setting would miss in this room (issue #12.5): the bundled danger recording mixed into
 * the room's own sound, so that each candidate setting's catches can be counted beside its false
 * alerts.
 *
 * The danger is the angry stretch of `demo/demo.wav`: its 3rd to 5th sentences, three angry
 * sentences of CREMA-D actor 1038, a test speaker of the shipped model (scripts/make-demo.sh
 * joins two calm, three angry and two calm sentences, each followed by 0.3 s of silence;
 * demo/README.md). A passage is one, two or
 * all three consecutive sentences (about 3 to 8.7 s: a shout, or a short argument), placed every
 * 45–90 s (apart enough for the alert, its hold and the cooldown to be over before the next one),
 * at the level the benchmark's home streams give speech — −24 dBFS active RMS, −6…+4 dB
 * (`levelGain`, src/bench/home-stream.ts) — *added* to the room's sound, which goes on under it
 * as it would in a real incident. A passage counts as caught as the benchmark counts it
 * (`scoreStream`, src/bench/stream-score.ts): an alert starts during it or within CATCH_GRACE_S
 * after it, or one is already on at its onset.
 *
 * The mixer works on the stream as it goes (a chunk in, the mixed chunk out), so listening to a
 * microphone keeps no audio: the room's samples are mixed, scored and dropped. One seed gives the
 * same passages at the same places at the same levels.
 */
import path from "node:path";
import { loadAudioFile } from "../audio/load.js";
import { levelGain, HOME_STREAM_DEFAULTS } from "../bench/home-stream.js";
import { addNoiseBed, type DangerPassage, type StreamTimeline } from "../bench/stream-builder.js";
import { SAMPLE_RATE_HZ } from "../constants.js";
import { AudioError } from "../errors.js";
import { Rng } from "../train/random.js";

/** Where the danger passages come from: sentences [from, to) of demo/demo.wav (scripts/make-demo.sh). */
export const BUNDLED_DANGER = { file: path.join("demo", "demo.wav"), sentences: 7, from: 2, to: 5, label: "angry" } as const;
/** The benchmark's default `--grace`: an alert this long after a passage ends still catches it. */
export const CATCH_GRACE_S = 4;
/** Seconds between passages (the first comes after one such gap). */
export const PASSAGE_GAP_S: readonly [number, number] = [45, 90];
export const DEFAULT_MIX_SEED = 12;
const LEVEL = HOME_STREAM_DEFAULTS.home;

/** A pause at least this long and this quiet separates two sentences (make-demo.sh pads each with 0.3 s of silence). */
const PAUSE_S = 0.2;
const PAUSE_ABS = 1e-3;

/**
 * The sentences of a recording: [start, end) sample ranges between pauses of at least PAUSE_S
 * below PAUSE_ABS. Pure.
 */
export function sentenceSpans(x: Float32Array, rateHz = SAMPLE_RATE_HZ): [number, number][] {
  const minPause = Math.round(PAUSE_S * rateHz);
  const spans: [number, number][] = [];
  let start = -1;
  let quiet = 0;
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]!) < PAUSE_ABS) {
      quiet++;
      if (start >= 0 && quiet === minPause) {
        spans.push([start, i - minPause + 1]);
        start = -1;
      }
    } else {
      if (start < 0) start = i;
      quiet = 0;
    }
  }
  if (start >= 0) spans.push([start, x.length]);
  return spans;
}

/** The passages the mixer draws from: every run of consecutive sentences in `spans`, as one clip each. */
export function passagesOf(x: Float32Array, spans: readonly [number, number][]): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < spans.length; i++) for (let j = i; j < spans.length; j++) out.push(x.slice(spans[i]![0], spans[j]![1]));
  return out;
}

/** The bundled danger passages, from the package's demo recording. */
export async function loadBundledPassages(packageRoot: string): Promise<Float32Array[]> {
  const file = path.join(packageRoot, BUNDLED_DANGER.file);
  const audio = await loadAudioFile(file);
  const spans = sentenceSpans(audio);
  if (spans.length !== BUNDLED_DANGER.sentences) {
    throw new AudioError("DANGER_CLIPS", `${file} should hold ${BUNDLED_DANGER.sentences} sentences (scripts/make-demo.sh) but ${spans.length} were found; reinstall earwitness or rebuild the demo`);
  }
  return passagesOf(audio, spans.slice(BUNDLED_DANGER.from, BUNDLED_DANGER.to));
}

interface Placed {
  startSample: number;
  samples: Float32Array;
  gain: number;
}

/**
 * Adds danger passages to one continuous stream as it goes. `mix` returns a new chunk (the
 * input is not changed); `timeline` gives the ground truth for `scoreStream`, holding only the
 * passages that ended, with their grace, within the audio heard (a stream cut short does not
 * count a passage the detector had no time to catch).
 */
export class PassageMixer {
  private readonly rng: Rng;
  private position = 0;
  private next: Placed;
  private readonly placed: Placed[] = [];

  constructor(
    private readonly passages: readonly Float32Array[],
    private readonly seed: number,
  ) {
    if (passages.length === 0) throw new RangeError("PassageMixer needs at least one passage");
    this.rng = new Rng(seed);
    this.next = this.draw(0);
  }

  private draw(after: number): Placed {
    const samples = this.passages[this.rng.int(this.passages.length)]!;
    const gain = levelGain(samples, LEVEL.levelDbfs, LEVEL.levelJitterDb, this.rng);
    const startSample = after + Math.round(this.rng.uniform(PASSAGE_GAP_S[0], PASSAGE_GAP_S[1]) * SAMPLE_RATE_HZ);
    return { startSample, samples, gain };
  }

  mix(chunk: Float32Array): Float32Array {
    const out = Float32Array.from(chunk);
    const from = this.position;
    const to = from + chunk.length;
    for (;;) {
      const p = this.next;
      if (p.startSample >= to) break;
      const a = Math.max(from, p.startSample);
      const b = Math.min(to, p.startSample + p.samples.length);
      for (let i = a; i < b; i++) out[i - from] = Math.max(-1, Math.min(1, out[i - from]! + p.gain * p.samples[i - p.startSample]!));
      if (p.startSample + p.samples.length > to) break;
      this.placed.push(p);
      this.next = this.draw(p.startSample + p.samples.length);
    }
    this.position = to;
    return out;
  }

  /** The ground truth of the audio mixed so far. */
  timeline(): StreamTimeline {
    const durationS = this.position / SAMPLE_RATE_HZ;
    const passages: DangerPassage[] = this.placed
      .map((p) => ({ start_s: p.startSample / SAMPLE_RATE_HZ, end_s: (p.startSample + p.samples.length) / SAMPLE_RATE_HZ }))
      .filter((p) => p.end_s + CATCH_GRACE_S <= durationS)
      .map((p) => ({ ...p, speaker: "1038", labels: [BUNDLED_DANGER.label], clips: 1, kind: "speech" as const }));
    return {
      format: 1,
      seed: this.seed,
      sample_rate_hz: SAMPLE_RATE_HZ,
      duration_s: durationS,
      noise: { source: "the room", snr_db: Number.NaN },
      danger_labels: [BUNDLED_DANGER.label],
      segments: [],
      passages,
    };
  }
}

/**
 * For `calibrate --from-daemon`, where the room's audio was never kept: `seconds` of white noise
 * at the room's measured level (`roomDbfs`, the median window level the daemon heard) to mix the
 * passages into. It is not the room — no TV, no voices — so the catches it gives are an estimate
 * in a steady room of that loudness, and the report says so.
 */
export function syntheticRoom(seconds: number, roomDbfs: number, seed: number): Float32Array {
  const x = new Float32Array(Math.round(seconds * SAMPLE_RATE_HZ));
  // The pipeline's window level is full-scale-square referenced (0 dBFS = RMS 1): RMS = 10^(dB/20).
  addNoiseBed(x, null, Math.pow(10, roomDbfs / 20), new Rng(seed ^ 0x5eed));
  return x;
}
