import { describe, expect, it } from "vitest";
import { balancedOrder, type Example } from "../../../src/train/dataset.js";
import type { ManifestRow } from "../../../src/train/manifest.js";
import { Rng } from "../../../src/train/random.js";
import { corpusSplit, heldOutSelector, recordedSpeakers, speakerGroup, speakerMatch, speakerSplit } from "../../../src/train/splits.js";

const row = (corpus: string, speaker: string | null, label: string, i: number): ManifestRow => ({
  file: `/c/${corpus}/${i}.wav`,
  relPath: `${i}.wav`,
  label,
  speaker,
  corpus,
});

function corpusRows(): ManifestRow[] {
  const rows: ManifestRow[] = [];
  let i = 0;
  for (const corpus of ["a", "b", "c"]) for (let s = 0; s < 12; s++) for (let k = 0; k < 3; k++) rows.push(row(corpus, `s${s}`, "angry", i++));
  for (let k = 0; k < 30; k++) rows.push(row("sounds", null, "cough", i++));
  // One big group (emospeech's "unknown"): never validation.
  for (let k = 0; k < 40; k++) rows.push(row("b", "unknown", "fear", i++));
  return rows;
}

describe("corpusSplit (leave-corpora-out)", () => {
  it("tests on exactly the named corpora; validation and training share no speaker and never see them", () => {
    const rows = corpusRows();
    const split = corpusSplit(rows, ["c"], 1);
    expect(split.test.map((i) => rows[i]!.corpus).every((c) => c === "c")).toBe(true);
    expect(split.test.length).toBe(36);
    const key = (i: number): string => `${rows[i]!.corpus}/${rows[i]!.speaker ?? rows[i]!.relPath}`;
    const train = new Set(split.train.map(key));
    for (const i of split.val) expect(train.has(key(i))).toBe(false);
    for (const i of [...split.train, ...split.val]) expect(rows[i]!.corpus).not.toBe("c");
    expect(split.train.length + split.val.length + split.test.length).toBe(rows.length);
    // About a tenth validates, and the 40-clip group stays in training.
    expect(split.val.length).toBeGreaterThan(5);
    expect(split.val.length).toBeLessThan(30);
    expect(split.val.some((i) => rows[i]!.speaker === "unknown")).toBe(false);
    expect(split.describe).toMatch(/test corpora c/);
  });

  it("with another split's validation groups: those present validate, the rest train, whatever the corpora", () => {
    // A speech-only model that takes the validation speakers of a pooled one (which also had sounds).
    const speech = corpusRows().filter((r) => r.corpus !== "sounds");
    const given = ["a/s1", "b/s2", "b/s7", "sounds/file:3.wav"];
    const split = corpusSplit(speech, ["c"], 7, given);
    expect([...new Set(split.val.map((i) => speakerGroup(speech[i]!)))].sort()).toEqual(["a/s1", "b/s2", "b/s7"]);
    expect(split.val).toHaveLength(9);
    for (const i of split.train) expect(given).not.toContain(speakerGroup(speech[i]!));
    expect(split.test.every((i) => speech[i]!.corpus === "c")).toBe(true);
    expect(split.train.length + split.val.length + split.test.length).toBe(speech.length);
    expect(split.describe).toMatch(/validation: 3 of 4 groups given \(a, b\)/);
    expect(() => corpusSplit(speech, ["c"], 1, ["z/nobody"])).toThrow(/none of the 1 validation groups/);
  });

  it("is seeded", () => {
    const rows = corpusRows();
    expect(corpusSplit(rows, ["a"], 3)).toEqual(corpusSplit(rows, ["a"], 3));
    expect(corpusSplit(rows, ["a"], 3).val).not.toEqual(corpusSplit(rows, ["a"], 4).val);
  });

  it("name:fraction holds out that share of a corpus's groups, the same ones for the same seed", () => {
    const rows = corpusRows();
    const split = corpusSplit(rows, ["a", "sounds:0.5"], 2);
    const testSounds = split.test.filter((i) => rows[i]!.corpus === "sounds");
    expect(testSounds.length).toBe(15);
    const trainSounds = [...split.train, ...split.val].filter((i) => rows[i]!.corpus === "sounds");
    expect(trainSounds.length).toBe(15);
    expect(new Set(testSounds).size + new Set(trainSounds).size).toBe(30);
    const again = heldOutSelector(rows, ["a", "sounds:0.5"], 2);
    expect(rows.filter((r) => again.isTest(r)).length).toBe(split.test.length);
    expect(split.test.every((i) => again.isTest(rows[i]!))).toBe(true);
  });

  it("name:from-to holds out a later slice of the same seeded order, and entries for one corpus add up (folds of the training half)", () => {
    const rows = corpusRows();
    const groups = (list: string[]): Set<string> => new Set(rows.filter((r) => r.corpus === "sounds" && heldOutSelector(rows, list, 2).isTest(r)).map(speakerGroup));
    const half = groups(["sounds:0.5"]);
    const next = groups(["sounds:0.5-0.75"]);
    const last = groups(["sounds:0.75-1"]);
    expect([half.size, next.size, last.size]).toEqual([15, 8, 7]);
    // The slices do not overlap and together are the whole corpus.
    expect(new Set([...half, ...next, ...last]).size).toBe(30);
    // 0-0.75 is the first half plus the next quarter, and so is the list of both.
    expect(groups(["sounds:0-0.75"])).toEqual(new Set([...half, ...next]));
    expect(groups(["sounds:0.5", "sounds:0.5-0.75"])).toEqual(new Set([...half, ...next]));
    const split = corpusSplit(rows, ["a", "sounds:0.5", "sounds:0.75-1"], 2);
    expect(split.test.filter((i) => rows[i]!.corpus === "sounds").length).toBe(22);
    expect(() => heldOutSelector(rows, ["sounds:0.75-0.5"], 2)).toThrow(/start 0.75 is after its end 0.5/);
  });

  it("names a test corpus that has no rows", () => {
    expect(() => corpusSplit(corpusRows(), ["zz"], 1)).toThrow(/test corpus zz has no usable rows/);
  });
});

describe("speakerSplit with sound corpora", () => {
  it("a row without a speaker is its own group (sound clips are independent recordings)", () => {
    const rows = corpusRows();
    const split = speakerSplit(rows, 5, 0, 1);
    expect(split.train.length + split.val.length + split.test.length).toBe(rows.length);
    const sounds = (ix: number[]): number => ix.filter((i) => rows[i]!.corpus === "sounds").length;
    expect(sounds(split.train) + sounds(split.val) + sounds(split.test)).toBe(30);
    expect(sounds(split.test)).toBeGreaterThan(0);
  });
});

describe("balancedOrder", () => {
  const ex = (label: number, corpus: string): Example => ({ variants: [], label, corpus, speakerKey: corpus });

  it("draws classes equally, and within a class each corpus equally, however unequal their sizes", () => {
    const examples = [
      ...Array.from({ length: 900 }, () => ex(0, "big")),
      ...Array.from({ length: 100 }, () => ex(0, "small")),
      ...Array.from({ length: 200 }, () => ex(1, "big")),
    ];
    const order = balancedOrder(examples, 2, new Rng(5));
    expect(order.length).toBe(examples.length);
    const count = (f: (e: Example) => boolean): number => order.filter((i) => f(examples[i]!)).length;
    expect(count((e) => e.label === 0)).toBe(600);
    expect(count((e) => e.label === 1)).toBe(600);
    // Class 0 is half "small" although "small" is a tenth of it.
    expect(count((e) => e.label === 0 && e.corpus === "small")).toBeGreaterThan(240);
    expect(count((e) => e.label === 0 && e.corpus === "small")).toBeLessThan(360);
  });
});

describe("the speakers a bundle records", () => {
  it("are data in new bundles, the same groups the split tested and validated on", () => {
    const rows = Array.from({ length: 120 }, (_, i) => row("c", `s${i % 12}`, i % 2 ? "angry" : "sad", i));
    const split = speakerSplit(rows, 4, 1, 7);
    const training = { split: split.describe, test_speakers: split.speakers!.test, validation_speakers: split.speakers!.validation };
    const test = recordedSpeakers(training, "test")!;
    expect(new Set(test)).toEqual(new Set(split.test.map((i) => `c/${rows[i]!.speaker}`)));
    expect(new Set(recordedSpeakers(training, "validation"))).toEqual(new Set(split.val.map((i) => `c/${rows[i]!.speaker}`)));
  });

  it("are read from the split's sentence in bundles written before (the shipped one), and matched bare or qualified", () => {
    const training = { split: "speaker-independent, fold 1/5: test speakers crema-d/1083 crema-d/1007; validation crema-d/1066" };
    expect(recordedSpeakers(training, "test")).toEqual(["crema-d/1083", "crema-d/1007"]);
    expect(recordedSpeakers(training, "validation")).toEqual(["crema-d/1066"]);
    expect(recordedSpeakers({ split: "random stratified (speakers shared): 20 % test" }, "test")).toBeNull();
    expect(recordedSpeakers({}, "validation")).toBeNull();
    const wanted = new Set(["crema-d/1083", "1007"]);
    expect(speakerMatch(wanted, { corpus: "crema-d", speaker: "1083" })).toBe("crema-d/1083");
    expect(speakerMatch(wanted, { corpus: "crema-d", speaker: "1007" })).toBe("1007");
    expect(speakerMatch(wanted, { corpus: "crema-d", speaker: "1001" })).toBeNull();
    expect(speakerMatch(wanted, { corpus: "esc10", speaker: null })).toBeNull();
  });
});
