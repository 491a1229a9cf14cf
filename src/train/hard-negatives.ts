/**
 * Hard-negative mining (issue 15 §1): between epochs, the model being trained listens to every
 * training clip that is not danger — calm and happy voices, laughter, a kitchen, a crying baby —
 * window by window at the device's hop, as a unit would hear them in a long stream of them; the
 * windows it would alert on (danger score ≥ the threshold) are fed back in the next epoch, each
 * at the crop that alerted, in place of a fraction of the epoch's balanced draws.
 *
 * Why: a model trained on balanced draws sees each clip's random crops once in a while; what
 * makes a unit unplugged is the few non-danger sounds it scores high (docs/detection.md: laughter,
 * coughs and excited speech raise most false alerts). Mining them points training at the tail of
 * the non-danger scores that the stream benchmark counts. Only training clips are mined (never the
 * validation or test ones), so the choice of epoch and the held-out figures stay clean.
 */
import { windowStarts, type Example } from "./dataset.js";
import type { Rng } from "./random.js";

export interface MinedWindow {
  /** Index into the examples. */
  example: number;
  /** Start step of the window that scored highest in the clip. */
  start: number;
  score: number;
}

export interface MineOptions {
  /** Steps per window and between windows (the device's hop). */
  windowSteps: number;
  hopSteps: number;
  /** A window at or above this danger score is hard. */
  threshold: number;
  /** Windows scored per call of `score` (bounds the memory of one batch of features). */
  chunk: number;
}

/**
 * The clean clip of every non-danger example, scored window by window; each clip whose highest
 * window reaches the threshold gives that window, hardest first. `score` maps windows (example
 * index, start step) to danger scores.
 */
export function mineHardNegatives(
  examples: readonly Example[],
  isDanger: (label: number) => boolean,
  score: (windows: { example: number; start: number }[]) => number[],
  opts: MineOptions,
): MinedWindow[] {
  const best = new Map<number, MinedWindow>();
  let batch: { example: number; start: number }[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const s = score(batch);
    if (s.length !== batch.length) throw new Error(`hard-negative scorer returned ${s.length} scores for ${batch.length} windows`);
    batch.forEach((w, i) => {
      const v = s[i]!;
      const prev = best.get(w.example);
      if (v >= opts.threshold && (!prev || v > prev.score)) best.set(w.example, { ...w, score: v });
    });
    batch = [];
  };
  examples.forEach((e, i) => {
    if (isDanger(e.label)) return;
    for (const start of windowStarts(e.variants[0]!.steps, opts.windowSteps, opts.hopSteps)) {
      batch.push({ example: i, start });
      if (batch.length >= opts.chunk) flush();
    }
  });
  flush();
  return [...best.values()].sort((a, b) => b.score - a.score || a.example - b.example);
}

/** How often one mined window may be drawn in an epoch (`withHardNegatives`). */
export const MAX_HARD_REPEATS = 2;

/**
 * The epoch's examples with the mined windows added (each a clean, fixed crop of its clip), and
 * its order with `fraction` of the draws, at random positions, replaced by mined windows in
 * turn (hardest first, cycling) — but no window more than `maxRepeats` times: when few windows
 * are mined, fewer draws are replaced. Session 12 found why: with a fifth of an epoch given to a
 * few dozen windows, each was drawn tens of times, and the model learnt to call nearly everything
 * calm (1 of 52 unseen danger passages caught). No mined windows or fraction 0: the inputs unchanged.
 */
export function withHardNegatives(
  examples: Example[],
  order: number[],
  mined: readonly MinedWindow[],
  fraction: number,
  rng: Rng,
  maxRepeats: number = MAX_HARD_REPEATS,
): { examples: Example[]; order: number[] } {
  const n = Math.min(Math.round(order.length * Math.min(1, Math.max(0, fraction))), mined.length * Math.max(0, Math.floor(maxRepeats)));
  if (mined.length === 0 || n === 0) return { examples, order };
  const hard: Example[] = mined.map((m) => {
    const e = examples[m.example]!;
    return { ...e, variants: [e.variants[0]!], start: m.start };
  });
  const positions = rng.shuffle(order.map((_, i) => i)).slice(0, n);
  const out = [...order];
  positions.forEach((p, j) => {
    out[p] = examples.length + (j % hard.length);
  });
  return { examples: [...examples, ...hard], order: out };
}
