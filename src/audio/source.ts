/**
 * Where the daemon's audio comes from. The microphone (src/audio/microphone.ts) satisfies
 * `AudioSource` as it is; `FileAudioSource` streams a recording at real time × speed, so the demo
 * (and tests) run the exact same daemon without a microphone.
 *
 * Privacy: a source hands samples to the pipeline in memory and nowhere else.
 */
import type { Clock, TimerHandle } from "../clock.js";
import { INT16_FULL_SCALE, SAMPLE_RATE_HZ } from "../constants.js";
import type { Logger } from "../log.js";

/** A problem raised (`active: true`) or cleared by a source; the microphone's MicProblem fits. */
export interface SourceProblem {
  code: string;
  message: string;
  active: boolean;
}

export interface AudioSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** 16-bit mono samples at SAMPLE_RATE_HZ; `tMs` is the epoch time of the chunk's last sample. */
  onData(cb: (samples: Int16Array, tMs: number) => void): () => void;
  onProblem(cb: (problem: SourceProblem) => void): () => void;
}

export interface FileAudioSourceOptions {
  /** Samples at SAMPLE_RATE_HZ, already loaded (see `loadAudioFile`). */
  samples: Float32Array;
  /** 1 = real time; 4 = four times as fast. */
  speed: number;
  /** Samples per emitted chunk; default 100 ms. */
  chunkSamples?: number;
}

const DEFAULT_CHUNK_SAMPLES = SAMPLE_RATE_HZ / 10;
/** How often the pacing timer looks whether another chunk is due. */
const PACE_TICK_MS = 20;

/**
 * Streams a recording as if it were a microphone. Chunk times are the recording's own time
 * (epoch at start() + position), so alerts say "8.5 s into the recording" whatever the speed.
 */
export class FileAudioSource implements AudioSource {
  private readonly dataListeners = new Set<(samples: Int16Array, tMs: number) => void>();
  private readonly endListeners = new Set<() => void>();
  private pcm: Int16Array | null = null;
  private pos = 0;
  private startMonoMs = 0;
  private startEpochMs = 0;
  private timer: TimerHandle | null = null;
  private running = false;
  private ended = false;

  constructor(
    private readonly options: FileAudioSourceOptions,
    private readonly deps: { clock: Clock; log: Logger },
  ) {}

  onData(cb: (samples: Int16Array, tMs: number) => void): () => void {
    this.dataListeners.add(cb);
    return () => this.dataListeners.delete(cb);
  }

  /** A file never fails once loaded; the interface asks for this anyway. */
  onProblem(_cb: (problem: SourceProblem) => void): () => void {
    return () => undefined;
  }

  /** Called once, after the last chunk. */
  onEnd(cb: () => void): () => void {
    this.endListeners.add(cb);
    return () => this.endListeners.delete(cb);
  }

  /** Epoch ms of the recording's first sample (valid after start()). */
  get startedAtMs(): number {
    return this.startEpochMs;
  }

  get durationMs(): number {
    return (this.options.samples.length / SAMPLE_RATE_HZ) * 1000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (!(this.options.speed > 0)) throw new RangeError(`speed must be > 0 (got ${this.options.speed})`);
    this.pcm ??= toInt16(this.options.samples);
    this.running = true;
    this.pos = 0;
    this.ended = false;
    this.startMonoMs = this.deps.clock.monotonicMs();
    this.startEpochMs = this.deps.clock.nowMs();
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private tick = (): void => {
    this.timer = null;
    if (!this.running || !this.pcm) return;
    const pcm = this.pcm;
    const chunk = this.options.chunkSamples ?? DEFAULT_CHUNK_SAMPLES;
    const elapsedMs = this.deps.clock.monotonicMs() - this.startMonoMs;
    const due = Math.min(pcm.length, Math.floor((elapsedMs * this.options.speed * SAMPLE_RATE_HZ) / 1000));
    while (this.running && (due - this.pos >= chunk || (due === pcm.length && this.pos < pcm.length))) {
      const end = Math.min(pcm.length, this.pos + chunk);
      const samples = pcm.slice(this.pos, end);
      this.pos = end;
      const tMs = this.startEpochMs + (end / SAMPLE_RATE_HZ) * 1000;
      for (const cb of this.dataListeners) {
        try {
          cb(samples, tMs);
        } catch (err) {
          this.deps.log.error({ err }, "audio consumer threw");
        }
      }
    }
    if (this.pos >= pcm.length) {
      if (!this.ended) {
        this.ended = true;
        this.running = false;
        for (const cb of this.endListeners) cb();
      }
      return;
    }
    this.timer = this.deps.clock.setTimeout(this.tick, PACE_TICK_MS);
  };
}

/**
 * Float samples to 16-bit, as a microphone would have given them. The round trip through int16
 * and back (int16ToFloat, in the detection loop) is deliberate: a file is fed through the
 * daemon's one input path, the `AudioSource` contract of 16-bit samples the microphone gives, so
 * the demo and the tests run what the unit runs. For a 16-bit file at 16 kHz (demo/*.wav) the
 * round trip is exact (x/32768 → x → x/32768); a resampled, 24-bit or float file is quantised as
 * a microphone would have quantised it. Handing the floats on instead would give the daemon a
 * second input path to keep equal to the first, for no change in what the demo shows.
 */
function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    out[i] = Math.max(-INT16_FULL_SCALE, Math.min(INT16_FULL_SCALE - 1, Math.round(samples[i]! * INT16_FULL_SCALE)));
  }
  return out;
}

/**
 * 16-bit samples to the pipeline's float scale (full scale = 1): the one int16 → float conversion,
 * for every `AudioSource` (the microphone's bytes become int16 in microphone.ts; WAV files are read
 * straight to floats by wav.ts, for every sample format they may hold).
 */
export function int16ToFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / INT16_FULL_SCALE;
  return out;
}
