import { SAMPLE_RATE_HZ } from "../constants.js";
import { Rng } from "../train/random.js";

/**
 * Seeded, speech-like synthetic audio for throughput and memory runs: voiced "syllables" (a few
 * harmonics of a gliding 90–300 Hz fundamental, 120–400 ms, with an attack/decay envelope) between
 * short pauses, over a little noise, at about −20 dBFS while voiced. Its only job is to exercise
 * the same code a microphone does: almost every window passes the default energy gate, so the
 * network runs on every hop (the worst case for CPU). It is generated chunk by chunk into one
 * reused buffer, so an hour of it costs no memory.
 */
export class SyntheticSpeech {
  private readonly rng: Rng;
  private readonly buf: Float32Array;
  private phase = 0;
  private f0 = 150;
  private f0Slope = 0;
  /** Samples left in the current syllable (> 0) or pause (< 0). */
  private left = 0;
  private voiced = false;
  private length = 0;
  private pos = 0;

  constructor(seed: number, chunkSamples: number) {
    this.rng = new Rng(seed);
    this.buf = new Float32Array(chunkSamples);
  }

  /** The next chunk (the same buffer each time: consume it before the next call). */
  next(): Float32Array {
    const rng = this.rng;
    const buf = this.buf;
    for (let i = 0; i < buf.length; i++) {
      if (this.left <= 0) {
        this.voiced = !this.voiced;
        this.length = Math.round((this.voiced ? rng.uniform(0.12, 0.4) : rng.uniform(0.03, 0.15)) * SAMPLE_RATE_HZ);
        this.left = this.length;
        this.pos = 0;
        this.f0 = rng.uniform(90, 300);
        this.f0Slope = rng.uniform(-60, 60) / SAMPLE_RATE_HZ;
      }
      let v = 0.003 * rng.normal();
      if (this.voiced) {
        const x = this.pos / this.length;
        const env = Math.min(1, x * 10) * Math.min(1, (1 - x) * 5);
        this.phase += (2 * Math.PI * (this.f0 + this.f0Slope * this.pos)) / SAMPLE_RATE_HZ;
        v += 0.1 * env * (Math.sin(this.phase) + 0.5 * Math.sin(2 * this.phase) + 0.3 * Math.sin(3 * this.phase) + 0.2 * Math.sin(5 * this.phase));
      }
      buf[i] = v;
      this.left--;
      this.pos++;
    }
    if (this.phase > 1e6) this.phase %= 2 * Math.PI;
    return buf;
  }
}
