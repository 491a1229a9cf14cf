/**
 * The daemon's memory of what it decided: for each analysed window its time, its smoothed danger
 * score (what the alert state machine saw) and its level, for `earwitness calibrate
 * --from-daemon` to read over the status socket while the daemon goes on protecting (issue #12.5).
 *
 * Privacy and bounds: three numbers per window, never a sample. A fixed ring allocated once —
 * Float64Array times (epoch ms do not fit a float32), Float32Array scores and levels, 16 bytes a
 * window: 24 h at the default 0.5 s hop is 172 800 windows, 2.8 MB — the oldest window is
 * overwritten when full. Nothing is written to disk: a restart starts the ring afresh.
 *
 * Windows are numbered in push order (`seq`), so a reader pages through the ring by number and
 * a wall-clock step (NTP) cannot make it skip or repeat windows.
 */

/** How much the daemon remembers, hours. */
export const SCORE_RING_HOURS = 24;

export interface ScorePage {
  /** Window times (epoch ms), smoothed danger scores, levels (dBFS): one entry per window, oldest first. */
  tMs: number[];
  score: number[];
  dbfs: number[];
  /** Pass this as `afterSeq` to read on. */
  lastSeq: number;
  /** More windows follow in the ring. */
  more: boolean;
}

export class ScoreRing {
  private readonly times: Float64Array;
  private readonly scores: Float32Array;
  private readonly levels: Float32Array;
  /** Windows pushed so far; window number `seq` lives at `seq % capacity` while `seq >= pushed - capacity`. */
  private pushed = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`score ring capacity must be a whole number >= 1 (got ${capacity})`);
    this.times = new Float64Array(capacity);
    this.scores = new Float32Array(capacity);
    this.levels = new Float32Array(capacity);
  }

  /** A ring holding `hours` of windows at one every `hopMs`. */
  static forHop(hopMs: number, hours = SCORE_RING_HOURS): ScoreRing {
    return new ScoreRing(Math.ceil((hours * 3_600_000) / hopMs));
  }

  push(tMs: number, score: number, dbfs: number): void {
    const i = this.pushed % this.capacity;
    this.times[i] = tMs;
    this.scores[i] = score;
    this.levels[i] = dbfs;
    this.pushed++;
  }

  /** Windows held now. */
  get size(): number {
    return Math.min(this.pushed, this.capacity);
  }

  /**
   * Up to `max` windows numbered after `afterSeq` (−1: from the oldest held) whose time is at or
   * after `sinceMs`, oldest first. Scores are rounded to 4 decimals and levels to 0.1 dB (what a
   * float32 holds, without JSON's long tails).
   */
  read(afterSeq: number, sinceMs: number, max: number): ScorePage {
    const page: ScorePage = { tMs: [], score: [], dbfs: [], lastSeq: afterSeq, more: false };
    let seq = Math.max(afterSeq + 1, this.pushed - this.capacity, 0);
    for (; seq < this.pushed; seq++) {
      if (page.tMs.length >= max) break;
      const i = seq % this.capacity;
      page.lastSeq = seq;
      if (this.times[i]! < sinceMs) continue;
      page.tMs.push(this.times[i]!);
      page.score.push(Math.round(this.scores[i]! * 10_000) / 10_000);
      page.dbfs.push(Math.round(this.levels[i]! * 10) / 10);
    }
    page.more = seq < this.pushed;
    return page;
  }
}
