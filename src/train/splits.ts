import type { ManifestRow } from "./manifest.js";
import { Rng } from "./random.js";

export type Protocol = "speaker" | "random";

export interface Split {
  train: number[];
  val: number[];
  test: number[];
  /** Human-readable description for reports. */
  describe: string;
  /** The speaker groups tested and validated on, as data (speaker-independent splits only). */
  speakers?: { test: string[]; validation: string[] };
}

/**
 * The unit a speaker-independent split keeps together: `<corpus>/<speaker>`, or, for a recording
 * without a speaker (a sound corpus's clip), the recording itself.
 */
export function speakerGroup(r: ManifestRow): string {
  return r.speaker ? `${r.corpus}/${r.speaker}` : `${r.corpus}/file:${r.relPath}`;
}

/**
 * Speaker-independent split: speakers are dealt into `folds` groups of about equal clip count;
 * fold `fold` is the test set, and about one tenth of the remaining speakers (at least one)
 * validate. No speaker is in two sets. A row without a speaker (sound corpora) is its own group.
 */
export function speakerSplit(rows: ManifestRow[], folds: number, fold: number, seed: number): Split {
  const speakers = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = speakerGroup(r);
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
    speakers: { test: testSpeakers, validation: valSpeakers },
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

/**
 * Which rows a leave-corpora-out list holds out. An entry is a corpus name (all its rows),
 * `name:fraction` (that share of its speaker groups, drawn with `seed`) or `name:from-to` (the
 * groups from share `from` to share `to` of the same seeded order): a corpus too small to leave out
 * whole — 71 screams, the only ones there are — gives half to training and half to the test, and
 * the training half can be cut again for folds (`screams:0.5` plus `screams:0.5-0.75`: the same
 * first half and the next quarter). Entries naming one corpus add up. The same rows, seed and list
 * always select the same groups, so `bench --held-out` rebuilds exactly the trainer's test set
 * from the bundle's record.
 */
export function heldOutSelector(rows: ManifestRow[], testCorpora: string[], seed: number): { names: Set<string>; isTest(r: ManifestRow): boolean } {
  const whole = new Set<string>();
  const partial = new Map<string, Set<string>>();
  const share = "(0(?:\\.\\d+)?|1(?:\\.0+)?)";
  const pattern = new RegExp(`^(.+):${share}(?:-${share})?$`);
  for (const entry of testCorpora) {
    const m = pattern.exec(entry);
    if (!m) {
      whole.add(entry);
      continue;
    }
    const name = m[1]!;
    const [from, to] = m[3] === undefined ? [0, Number(m[2])] : [Number(m[2]), Number(m[3])];
    if (from > to) throw new Error(`test corpus ${entry}: the share's start ${from} is after its end ${to}`);
    const keys = [...new Set(rows.filter((r) => r.corpus === name).map(speakerGroup))].sort();
    const picked = new Rng(seed).shuffle(keys).slice(Math.round(from * keys.length), Math.round(to * keys.length));
    const set = partial.get(name) ?? new Set<string>();
    for (const k of picked) set.add(k);
    partial.set(name, set);
  }
  return {
    names: new Set([...whole, ...partial.keys()]),
    isTest: (r) => whole.has(r.corpus) || (partial.get(r.corpus)?.has(speakerGroup(r)) ?? false),
  };
}

/**
 * Leave-corpora-out: every row of `testCorpora` is test (or a share of a corpus's groups, see heldOutSelector); of the other corpora's speakers (groups,
 * see speakerGroup) one in ten validates, the rest train. Throws when a named corpus has no rows
 * or nothing is left to train on.
 */
export function corpusSplit(rows: ManifestRow[], testCorpora: string[], seed: number, validationGroups?: readonly string[]): Split {
  const present = new Set(rows.map((r) => r.corpus));
  const held = heldOutSelector(rows, testCorpora, seed);
  const missing = [...held.names].filter((c) => !present.has(c));
  if (missing.length > 0) throw new Error(`test corpus ${missing.join(", ")} has no usable rows (corpora here: ${[...present].sort().join(", ")})`);
  const test: number[] = [];
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    if (held.isTest(r)) test.push(i);
    else {
      const k = speakerGroup(r);
      groups.set(k, [...(groups.get(k) ?? []), i]);
    }
  });
  if (groups.size < 2) throw new Error(`leaving out ${testCorpora.join(", ")} leaves ${groups.size} speaker(s) to train and validate on`);
  if (validationGroups) return givenValidation(groups, test, testCorpora, validationGroups);
  const rng = new Rng(seed);
  const order = rng.shuffle([...groups.keys()].sort());
  // About a tenth of the rows validate; a group holding more than 2 % of them (emospeech's 5 709
  // clips under one id "unknown") always trains, so one draw cannot take a corpus out of training.
  const trainRows = rows.length - test.length;
  const valGroups: string[] = [];
  let valRows = 0;
  for (const g of order) {
    const n = groups.get(g)!.length;
    if (valRows >= trainRows / 10) break;
    if (n > 0.02 * trainRows) continue;
    valGroups.push(g);
    valRows += n;
  }
  if (valGroups.length === 0) valGroups.push(order[0]!);
  const isVal = new Set(valGroups);
  const pick = (ss: string[]): number[] => ss.flatMap((s) => groups.get(s)!).sort((a, b) => a - b);
  const valSpeakers = valGroups.filter((g) => !g.includes("/file:"));
  return {
    train: pick(order.filter((g) => !isVal.has(g))),
    val: pick(valGroups),
    test,
    describe:
      `leave-corpora-out: test corpora ${testCorpora.join(" ")}; ` +
      `validation ${valSpeakers.join(" ")}${valGroups.length > valSpeakers.length ? ` and ${valGroups.length - valSpeakers.length} recordings without a speaker` : ""}`,
  };
}

/**
 * corpusSplit with the validation groups given (another bundle's, `train --validation-of`): those
 * of them present validate, every other group trains. Two models so split never train on each
 * other's validation speakers, so the pair can be tuned on them (bench --validation-of).
 */
function givenValidation(groups: Map<string, number[]>, test: number[], testCorpora: string[], given: readonly string[]): Split {
  const isVal = new Set(given.filter((g) => groups.has(g)));
  if (isVal.size === 0) throw new Error(`none of the ${given.length} validation groups given is among these corpora's speakers (e.g. ${given.slice(0, 3).join(", ")})`);
  if (isVal.size === groups.size) throw new Error("the validation groups given take every speaker: nothing is left to train on");
  const keys = [...groups.keys()].sort();
  const pick = (ks: string[]): number[] => ks.flatMap((k) => groups.get(k)!).sort((a, b) => a - b);
  const valKeys = keys.filter((k) => isVal.has(k));
  return {
    train: pick(keys.filter((k) => !isVal.has(k))),
    val: pick(valKeys),
    test,
    // A group key is "corpus/speaker" (speakerGroup), and a corpus is a directory name.
    describe: `leave-corpora-out: test corpora ${testCorpora.join(" ")}; validation: ${valKeys.length} of ${given.length} groups given (${[...new Set(valKeys.map((k) => k.slice(0, k.indexOf("/"))))].sort().join(", ")})`,
  };
}

/**
 * The test or validation speakers a bundle's training record names, or null. Bundles record them
 * as data (`training.test_speakers`, `training.validation_speakers`); bundles written before that
 * (the shipped earwitness-gru 0.1.0 among them) only in the sentence of `training.split`
 * ("speaker-independent, fold 1/5: test speakers crema-d/1083 …; validation …"), which is read
 * as a fallback. Speakers may be qualified by corpus ("crema-d/1083"); speakerMatch matches both.
 */
export function recordedSpeakers(training: Readonly<Record<string, unknown>>, which: "test" | "validation"): string[] | null {
  const listed = training[which === "test" ? "test_speakers" : "validation_speakers"];
  if (Array.isArray(listed) && listed.every((s) => typeof s === "string")) return listed.length > 0 ? listed : null;
  const split = training["split"];
  if (typeof split !== "string") return null;
  const m = (which === "test" ? /test speakers\s+([^;]+)/i : /validation(?: speakers)?\s+([^;]+)/i).exec(split);
  const list = m?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  return list.length > 0 ? list : null;
}

/**
 * Which entry of `speakers` a manifest row belongs to, or null. Bundles record speakers qualified
 * by corpus ("crema-d/1083", the row's corpus being its manifest's folder name, as speakerGroup
 * keys them); a hand-written list may give bare ids ("1083"). Both forms match.
 */
export function speakerMatch(speakers: ReadonlySet<string>, row: Pick<ManifestRow, "speaker" | "corpus">): string | null {
  if (row.speaker === null) return null;
  if (speakers.has(row.speaker)) return row.speaker;
  const qualified = `${row.corpus}/${row.speaker}`;
  return speakers.has(qualified) ? qualified : null;
}
