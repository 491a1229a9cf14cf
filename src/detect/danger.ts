/**
 * From the model's emotion probabilities to one danger score per analysis window, and an
 * optional smoother over those scores. Pure: no time, no IO.
 */
import type { SmoothingSpec } from "./params.js";

/** The emotion reported when no window of an alert carried probabilities. */
export const UNKNOWN_EMOTION = "unknown";

/**
 * A scream is danger by definition, whichever emotions the configuration counts: it weighs in
 * for every model that has the class (home models), and a model without it scores 0 there.
 */
export const ALWAYS_DANGER = "scream";

/**
 * The weight of each danger label: `weights[label]` when given, else 1. Labels not listed are
 * not danger, whatever their probability — except a scream (ALWAYS_DANGER), which counts with
 * `weights.scream` (default 1; 0 turns it off) even when `labels` leaves it out.
 */
export function buildDangerWeights(labels: readonly string[], weights: Readonly<Record<string, number>> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const label of labels) out[label] = weights[label] ?? 1;
  if (!(ALWAYS_DANGER in out)) out[ALWAYS_DANGER] = weights[ALWAYS_DANGER] ?? 1;
  return out;
}

/** A probability made safe: NaN, missing or out-of-range values must not poison a sum. */
function safeProb(p: number | undefined): number {
  if (p === undefined || Number.isNaN(p)) return 0;
  return Math.min(1, Math.max(0, p));
}

/**
 * Sum over the danger labels of weight × probability, clamped to [0, 1]. A label missing from
 * `probs` (or NaN) counts as 0, so a model with fewer labels lowers the score rather than
 * breaking it; the daemon checks the model's labels against the config at start-up.
 */
export function dangerScore(probs: Readonly<Record<string, number>>, weights: Readonly<Record<string, number>>): number {
  let sum = 0;
  for (const [label, w] of Object.entries(weights)) {
    if (!Number.isFinite(w) || w <= 0) continue;
    sum += w * safeProb(probs[label]);
  }
  return Math.min(1, Math.max(0, sum));
}

/**
 * The danger label with the largest weighted probability, or null when none is above zero.
 * Ties go to the label listed first in `weights`.
 */
export function dominantDangerEmotion(probs: Readonly<Record<string, number>>, weights: Readonly<Record<string, number>>): string | null {
  let best: string | null = null;
  let bestValue = 0;
  for (const [label, w] of Object.entries(weights)) {
    if (!Number.isFinite(w) || w <= 0) continue;
    const v = w * safeProb(probs[label]);
    if (v > bestValue) {
      best = label;
      bestValue = v;
    }
  }
  return best;
}

/**
 * The emotion with the highest probability, danger or not, or null when `probs` is empty. This
 * is what a person hears ("sad"), where dominantDangerEmotion says which danger label drives
 * the score; during calm speech they differ. Ties go to the label listed first.
 */
export function strongestEmotion(probs: Readonly<Record<string, number>> | null | undefined): string | null {
  if (!probs) return null;
  let best: string | null = null;
  let bestValue = -Infinity;
  for (const [label, p] of Object.entries(probs)) {
    const v = safeProb(p);
    if (v > bestValue) {
      best = label;
      bestValue = v;
    }
  }
  return best;
}

/**
 * Smooths the danger score over consecutive analysis windows. Call `push` exactly once per
 * window, in time order, including windows skipped by the energy gate (push 0): the smoother
 * counts windows, not milliseconds, so skipping a push would stretch its memory. Its output
 * depends only on the sequence of pushed scores, never on how the pipeline batches audio into
 * chunks. Before the first push the score is taken as 0 (silence), so a lone first window is
 * damped like any other spike. NaN counts as 0. `reset()` on disarm, with the state machine.
 */
export interface ScoreSmoother {
  push(score: number): number;
  reset(): void;
}

function clean(score: number): number {
  return Number.isNaN(score) ? 0 : Math.min(1, Math.max(0, score));
}

class PassThrough implements ScoreSmoother {
  push(score: number): number {
    return clean(score);
  }
  reset(): void {}
}

/** Exponential moving average with span m: alpha = 2 / (m + 1), the usual span convention. */
class Ema implements ScoreSmoother {
  private value = 0;
  private readonly alpha: number;

  constructor(windows: number) {
    this.alpha = 2 / (windows + 1);
  }

  push(score: number): number {
    this.value += this.alpha * (clean(score) - this.value);
    return this.value;
  }

  reset(): void {
    this.value = 0;
  }
}

/** Mean of the last m scores (zeros before the first push). Summed afresh each push, so no drift. */
class MovingMean implements ScoreSmoother {
  private readonly ring: number[];
  private next = 0;

  constructor(windows: number) {
    this.ring = new Array<number>(windows).fill(0);
  }

  push(score: number): number {
    this.ring[this.next] = clean(score);
    this.next = (this.next + 1) % this.ring.length;
    let sum = 0;
    for (const v of this.ring) sum += v;
    return sum / this.ring.length;
  }

  reset(): void {
    this.ring.fill(0);
    this.next = 0;
  }
}

/** A smoother for the spec; `windows` below 1 is treated as 1 (no smoothing). */
export function createSmoother(spec: SmoothingSpec): ScoreSmoother {
  if (spec.method === "none") return new PassThrough();
  const windows = Math.max(1, Math.floor(spec.windows));
  return spec.method === "ema" ? new Ema(windows) : new MovingMean(windows);
}
