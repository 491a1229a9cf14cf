/**
 * `earwitness eval` through the built CLI on a tiny untrained bundle and WAVs written here: the
 * JSON report's shape, what is skipped, --root, --speakers (lists and the bundle's recorded
 * split), padding noise that depends on the file and not its manifest position, and the warning
 * when --adapt speaker has no speakers to adapt to. Scores of an untrained model mean nothing;
 * the tests check structure, counts and equalities that hold for any weights.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../../src/model/backend.js";
import { editBundleJson, makeTinyBundle } from "../../fixtures/tiny-bundle.js";
import { encodeWav, hissOrMurmur, sineSeconds } from "../../fixtures/wav-writer.js";
import { runCli, type CliResult } from "../daemon/harness.js";

const LABELS = ["angry", "fear", "neutral"];
const SPEAKERS = ["s0", "s1", "s2", "s3"];

let dir: string;
let corpus: string;
let splitBundle: string;
let plainBundle: string;

const run = (args: string[]): Promise<CliResult> => runCli(["eval", ...args], { HOME: dir, TMPDIR: dir, EARWITNESS_BACKEND: "cpu" });

interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}
interface Report {
  accuracy: number;
  macro_recall: number;
  per_class: Record<string, ClassMetrics>;
  confusion: { labels: string[]; matrix: number[][] };
  danger: { recall: number; precision: number; auc: number | null; threshold: number; recall_at_precision_0_8: number };
  skipped: number;
  files: number;
  speakers: { selection: string; ids: string[]; rows_kept: number } | null;
  adapted?: Omit<Report, "speakers" | "adapted">;
}

/** Runs eval with --json, expects success, and parses stdout (which must hold nothing else). */
async function evalJson(args: string[]): Promise<{ report: Report; stderr: string }> {
  const r = await run([...args, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const manifest = async (name: string, lines: string[]): Promise<string> => {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, lines.join("\n") + "\n");
  return file;
};

/** One row per speaker and model label, plus a "sad" row (in the vocabulary, not the model's). */
const ROWS = [...SPEAKERS.flatMap((s) => LABELS.map((l) => `${s}/${l}.wav,${l},${s}`)), "s0/sad.wav,sad,s0"];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-eval-"));
  await selectBackend("cpu");
  splitBundle = path.join(dir, "split-bundle");
  plainBundle = path.join(dir, "plain-bundle");
  await makeTinyBundle(splitBundle, { labels: LABELS });
  await makeTinyBundle(plainBundle, { labels: LABELS });
  // The sentence trainer.ts records (splits.ts describe), re-stamped as a re-export would be.
  await editBundleJson(splitBundle, (meta) => {
    (meta.training as Record<string, unknown>).split = "speaker-independent, fold 1/3: test speakers synth/s1 synth/s3; validation synth/s2";
  });

  corpus = path.join(dir, "synth");
  let k = 0;
  for (const s of SPEAKERS) {
    await mkdir(path.join(corpus, s), { recursive: true });
    for (const l of [...LABELS, "sad"]) {
      k++;
      // Half the clips are shorter than the tiny bundle's 0.27 s window, so they are padded.
      const seconds = k % 2 === 0 ? 0.15 : 0.8;
      const x = l === "neutral" ? hissOrMurmur(Math.round(seconds * 16_000), 0.02, true, k) : sineSeconds(150 + 40 * k, 16_000, seconds, 0.05 + 0.02 * k);
      await writeFile(path.join(corpus, s, `${l}.wav`), encodeWav([x], 16_000, "pcm16"));
    }
  }
  await manifest("synth/manifest.csv", ["path,label,speaker", ...ROWS]);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("earwitness eval --json", () => {
  it("reports every required key with its type, one class per model label, a labels×labels matrix", { timeout: 120_000 }, async () => {
    const { report } = await evalJson(["--model", splitBundle, "--manifest", path.join(corpus, "manifest.csv")]);
    expect(report.files).toBe(12);
    // The "sad" row: a vocabulary label the model does not have.
    expect(report.skipped).toBe(1);
    expect(report.speakers).toBeNull();
    for (const k of ["accuracy", "macro_recall"] as const) {
      expect(typeof report[k]).toBe("number");
      expect(report[k]).toBeGreaterThanOrEqual(0);
      expect(report[k]).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(report.per_class).sort()).toEqual([...LABELS].sort());
    for (const m of Object.values(report.per_class)) {
      expect(Object.keys(m).sort()).toEqual(["f1", "precision", "recall", "support"]);
      for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
      expect(m.support).toBe(4);
    }
    expect(report.confusion.labels).toEqual(LABELS);
    expect(report.confusion.matrix).toHaveLength(LABELS.length);
    for (const row of report.confusion.matrix) {
      expect(row).toHaveLength(LABELS.length);
      for (const n of row) expect(Number.isInteger(n)).toBe(true);
    }
    expect(report.confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(report.files);
    const diagonal = report.confusion.matrix.reduce((a, row, i) => a + row[i]!, 0);
    expect(report.accuracy).toBeCloseTo(diagonal / report.files, 12);
    for (const k of ["recall", "precision", "auc", "threshold", "recall_at_precision_0_8"] as const) expect(typeof report.danger[k]).toBe("number");
    expect(report.adapted).toBeUndefined();
  });

  it("resolves relative paths against --root, else against the manifest's folder", { timeout: 120_000 }, async () => {
    const elsewhere = await manifest("elsewhere/manifest.csv", ["path,label,speaker", ...ROWS]);
    const withRoot = await evalJson(["--model", splitBundle, "--manifest", elsewhere, "--root", corpus]);
    expect(withRoot.report.files).toBe(12);
    expect(withRoot.report.skipped).toBe(1);
    // Without --root the files are looked for beside the manifest: none is there. The warnings go
    // to stderr, so stdout is still one JSON object.
    const without = await evalJson(["--model", splitBundle, "--manifest", elsewhere]);
    expect(without.report.files).toBe(0);
    expect(without.report.skipped).toBe(13);
    expect(without.stderr).toMatch(/warning: skipped .*elsewhere[/\\]s0[/\\]angry\.wav/);
  });

  it("--help documents --speakers and the JSON keys", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const word of ["--speakers", "validation", "macro_recall", "per_class", "confusion", "danger", "skipped", "files", "recall_at_precision_0_8", "adapted"]) {
      expect(r.stdout).toContain(word);
    }
  });
});

describe("earwitness eval --speakers", () => {
  it("keeps only the listed speakers' rows, bare or corpus-qualified, and says how many", { timeout: 120_000 }, async () => {
    const m = path.join(corpus, "manifest.csv");
    const listed = await evalJson(["--model", plainBundle, "--manifest", m, "--speakers", "s1,s3"]);
    expect(listed.report.files).toBe(6);
    expect(listed.report.skipped).toBe(0);
    expect(listed.report.speakers).toEqual({ selection: "list", ids: ["s1", "s3"], rows_kept: 6 });
    expect(listed.stderr).toMatch(/kept 6 of 13 rows/);
    for (const m2 of Object.values(listed.report.per_class)) expect(m2.support).toBe(2);
    const text = await run(["--model", plainBundle, "--manifest", m, "--speakers", "s1,s3"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/6 files scored, 0 skipped.*listed speakers only \(2\)/);
    expect(text.stdout).toMatch(/accuracy .* macro recall/);

    // s0 has the "sad" row: kept by the speaker filter, then skipped for its label.
    const qualified = await evalJson(["--model", plainBundle, "--manifest", m, "--speakers", "synth/s0, ghost"]);
    expect(qualified.report.files).toBe(3);
    expect(qualified.report.skipped).toBe(1);
    expect(qualified.stderr).toMatch(/kept 4 of 13 rows/);
    expect(qualified.stderr).toMatch(/1 of 2 selected speakers have no rows in this manifest: ghost/);
  });

  it("test and validation select the bundle's recorded split, matched as corpus/speaker", { timeout: 120_000 }, async () => {
    const m = path.join(corpus, "manifest.csv");
    const test = await evalJson(["--model", splitBundle, "--manifest", m, "--speakers", "test"]);
    expect(test.report.speakers).toEqual({ selection: "test", ids: ["synth/s1", "synth/s3"], rows_kept: 6 });
    expect(test.stderr).toMatch(/kept 6 of 13 rows/);
    // The same rows by their bare ids give the same figures.
    const listed = await evalJson(["--model", splitBundle, "--manifest", m, "--speakers", "s1,s3"]);
    const { speakers: _a, ...testFigures } = test.report;
    const { speakers: _b, ...listedFigures } = listed.report;
    expect(testFigures).toEqual(listedFigures);

    const validation = await evalJson(["--model", splitBundle, "--manifest", m, "--speakers", "validation"]);
    expect(validation.report.speakers).toEqual({ selection: "validation", ids: ["synth/s2"], rows_kept: 3 });
    expect(validation.report.files).toBe(3);
  });

  it("refuses a bundle without a recorded split, and a selection that matches no row", { timeout: 120_000 }, async () => {
    const m = path.join(corpus, "manifest.csv");
    const noSplit = await run(["--model", plainBundle, "--manifest", m, "--speakers", "test", "--json"]);
    expect(noSplit.code).toBe(64);
    expect(noSplit.stderr).toMatch(/records no test speakers in training\.split/);
    expect(noSplit.stdout).toBe("");

    const nobody = await run(["--model", plainBundle, "--manifest", m, "--speakers", "s9,s8"]);
    expect(nobody.code).toBe(64);
    expect(nobody.stderr).toMatch(/none of s9 s8 is in the manifest/);

    // A manifest outside a folder named as in training: its rows' corpus is "renamed", so the
    // recorded synth/… ids match nothing, and the error says why.
    const abs = await manifest("renamed/manifest.csv", ["path,label,speaker", ...ROWS.map((r) => path.join(corpus, r))]);
    const renamed = await run(["--model", splitBundle, "--manifest", abs, "--speakers", "test"]);
    expect(renamed.code).toBe(64);
    expect(renamed.stderr).toMatch(/in corpus renamed/);
  });
});

describe("earwitness eval padding and adaptation", () => {
  it("gives a file the same features wherever it is in the manifest", { timeout: 120_000 }, async () => {
    // The same short (padded) clip as a danger row and as a calm row: identical scores tie, so
    // the danger AUC is exactly 0.5. Noise seeded by row position would break the tie (0 or 1).
    const twice = await manifest("twice/manifest.csv", ["path,label", `${corpus}/s0/fear.wav,angry`, `${corpus}/s0/fear.wav,neutral`]);
    const { report } = await evalJson(["--model", plainBundle, "--manifest", twice]);
    expect(report.files).toBe(2);
    expect(report.danger.auc).toBe(0.5);

    // Reversing the manifest changes nothing in the report.
    const forward = await evalJson(["--model", plainBundle, "--manifest", path.join(corpus, "manifest.csv")]);
    const reversed = await manifest("synth/reversed.csv", ["path,label,speaker", ...[...ROWS].reverse()]);
    const backward = await evalJson(["--model", plainBundle, "--manifest", reversed]);
    expect(backward.report).toEqual(forward.report);
  });

  it("--adapt speaker warns when the manifest has no speakers to adapt to", { timeout: 120_000 }, async () => {
    const noSpeakers = await manifest("synth/no-speakers.csv", ["path,label", ...ROWS.map((r) => r.split(",").slice(0, 2).join(","))]);
    const { report, stderr } = await evalJson(["--model", plainBundle, "--manifest", noSpeakers, "--adapt", "speaker"]);
    expect(stderr).toMatch(/--adapt speaker: the manifest has no speaker column/);
    expect(report.adapted).toBeDefined();
    expect(report.adapted!.accuracy).toBe(report.accuracy);
    expect(report.adapted!.confusion).toEqual(report.confusion);

    const withSpeakers = await evalJson(["--model", plainBundle, "--manifest", path.join(corpus, "manifest.csv"), "--adapt", "speaker"]);
    expect(withSpeakers.stderr).not.toMatch(/no speaker column/);
    expect(withSpeakers.report.adapted?.files).toBe(12);
  });
});

describe("earwitness eval --data (per corpus, pooled, held-out)", () => {
  interface Metrics {
    files: number;
    danger_files: number;
    danger: { auc: number | null; recall_at_precision_0_8: number };
    emotions6: unknown;
  }
  interface CorporaReport {
    held_out: string[] | null;
    unadapted: { pooled: Metrics; per_corpus: Record<string, Metrics> };
    adapted: { pooled: Metrics; per_corpus: Record<string, Metrics> };
  }
  let sounds: string;

  beforeAll(async () => {
    sounds = path.join(dir, "sounds");
    await mkdir(sounds, { recursive: true });
    const lines = ["path,label,speaker"];
    ["laughter", "cough", "scream", "infant_cry", "scream"].forEach((label, i) => lines.push(`${label}-${i}.wav,${label},`));
    for (const [i, label] of ["laughter", "cough", "scream", "infant_cry", "scream"].entries()) {
      await writeFile(path.join(sounds, `${label}-${i}.wav`), encodeWav([hissOrMurmur(12_000, 0.1 + 0.05 * i, i % 2 === 0, 40 + i)], 16_000, "pcm16"));
    }
    await writeFile(path.join(sounds, "manifest.csv"), lines.join("\n") + "\n");
  });

  it("scores speech and sound corpora together: every clip counts for danger, sounds as negatives and screams as positives", { timeout: 120_000 }, async () => {
    const r = await run(["--model", plainBundle, "--data", corpus, "--data", sounds, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CorporaReport;
    expect(Object.keys(report.unadapted.per_corpus).sort()).toEqual(["sounds", "synth"]);
    // synth: 13 clips (the "sad" row counts: danger is judged on every clip), 8 of them angry/fear.
    expect(report.unadapted.per_corpus["synth"]).toMatchObject({ files: 13, danger_files: 8 });
    expect(report.unadapted.per_corpus["sounds"]).toMatchObject({ files: 5, danger_files: 2 });
    expect(report.unadapted.pooled).toMatchObject({ files: 18, danger_files: 10 });
    const auc = report.unadapted.pooled.danger.auc!;
    expect(auc).toBeGreaterThanOrEqual(0);
    expect(auc).toBeLessThanOrEqual(1);
    // A model without the six emotions has no six-emotion figures.
    expect(report.unadapted.pooled.emotions6).toBeNull();
    expect(report.adapted.pooled.files).toBe(18);
    expect(report.held_out).toBeNull();
  });

  it("--held-out scores only what the bundle left out, and refuses a bundle that left nothing out", { timeout: 120_000 }, async () => {
    const loco = path.join(dir, "loco-bundle");
    await makeTinyBundle(loco, { labels: LABELS });
    await editBundleJson(loco, (meta) => {
      const t = meta.training as Record<string, unknown>;
      t.corpora = [
        { name: "synth", licence: "test", clips: 16 },
        { name: "sounds", licence: "test", clips: 5 },
      ];
      t.test_corpora = ["sounds"];
      t.seed = 1;
    });
    const r = await run(["--model", loco, "--data", corpus, "--data", sounds, "--held-out", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CorporaReport;
    expect(Object.keys(report.unadapted.per_corpus)).toEqual(["sounds"]);
    expect(report.held_out).toEqual(["sounds"]);
    // The same rows when another model is scored on this bundle's split.
    const other = await run(["--model", plainBundle, "--data", corpus, "--data", sounds, "--held-out-of", loco, "--json"]);
    expect(other.code, other.stderr).toBe(0);
    expect(Object.keys((JSON.parse(other.stdout) as CorporaReport).unadapted.per_corpus)).toEqual(["sounds"]);

    const refused = await run(["--model", plainBundle, "--data", corpus, "--held-out"]);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/left no corpus out of training/);
  });
});
