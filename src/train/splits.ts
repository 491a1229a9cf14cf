import type { ManifestRow } from "./manifest.js";
import { Rng } from "./random.js";

export type Protocol = "speaker" | "random";

export interface Split {
  train: number[];
  val: number[];
  test: number[];
  /** Human-readable description for reports. */
  describe: string;
}

/**
 * Speaker-independent split: speakers are dealt into `folds` groups of about equal clip count;
 * fold `fold` is the test set, and about one tenth of the remaining speakers (at least one)
 * validate. No speaker is in two sets. Rows without a speaker are an error for this protocol.
 */
export function speakerSplit(rows: ManifestRow[], folds: number, fold: number, seed: number): Split {
  const speakers = new Map<string, number[]>();
  rows.forEach((r, i) => {
    if (!r.speaker) throw new Error(`row ${r.relPath} has no speaker; the speaker protocol needs one for every row`);
    const key = `${r.corpus}/${r.speaker}`;
    speakers.set(key, [...(speakers.get(key) ?? []), i]);
  });
  if (speakers.size < folds + 1) throw new Error(`only ${speakers.size} speakers: too few for ${folds} folds plus validation`);
  const rng = new Rng(seed);
  const order = rng.shuffle([...speakers.keys()].sort());
  // Greedy balance: each speaker goes to the fold with the fewest clips so far.
  const foldOf = new Map<string, number>();
  const sizes = new Array<number>(folds).fill(0);
  for (const s of order) {
    let f = 0;
    for (let k = 1; k < folds; k++) if (sizes[k]! < sizes[f]!) f = k;
    foldOf.set(s, f);
    sizes[f]! += speakers.get(s)!.length;
  }
  const testSpeakers = order.filter((s) => foldOf.get(s) === fold);
  const rest = order.filter((s) => foldOf.get(s) !== fold);
  const nVal = Math.max(1, Math.round(rest.length / 10));
  const valSpeakers = rest.slice(0, nVal);
  const trainSpeakers = rest.slice(nVal);
  const pick = (ss: string[]): number[] => ss.flatMap((s) => speakers.get(s)!).sort((a, b) => a - b);
  return {
    train: pick(trainSpeakers),
    val: pick(valSpeakers),
    test: pick(testSpeakers),
    describe: `speaker-independent, fold ${fold + 1}/${folds}: test speakers ${testSpeakers.join(" ")}; validation ${valSpeakers.join(" ")}`,
  };
}

/** Random stratified split (the papers' protocol): 20 % test, then 10 % of the rest validate. */
export function randomSplit(rows: ManifestRow[], seed: number, testShare = 0.2, valShare = 0.1): Split {
  const rng = new Rng(seed);
  const byLabel = new Map<string, number[]>();
  rows.forEach((r, i) => byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), i]));
  const split: Split = { train: [], val: [], test: [], describe: `random stratified (speakers shared): ${testShare * 100} % test` };
  for (const label of [...byLabel.keys()].sort()) {
    const idx = rng.shuffle(byLabel.get(label)!);
    const nTest = Math.round(idx.length * testShare);
    const nVal = Math.round((idx.length - nTest) * valShare);
    split.test.push(...idx.slice(0, nTest));
    split.val.push(...idx.slice(nTest, nTest + nVal));
    split.train.push(...idx.slice(nTest + nVal));
  }
  for (const k of ["train", "val", "test"] as const) split[k].sort((a, b) => a - b);
  return split;
}

export function makeSplit(rows: ManifestRow[], protocol: Protocol, seed: number, folds = 5, fold = 0): Split {
  return protocol === "speaker" ? speakerSplit(rows, folds, fold, seed) : randomSplit(rows, seed);
}
