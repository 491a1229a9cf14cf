/**
 * `earwitness train` end to end on a synthetic corpus written by the test: three "emotions" that
 * differ in pitch, loudness and brightness, spoken by eight "speakers" with their own voice (pitch
 * and gain). The speaker-independent test speakers are never seen in training, so beating chance
 * (1/3) by a clear margin means the whole path — WAV reading, features, per-speaker
 * normalisation, training, quantized bundle, eval — works; then the same seed gives the same run.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lcg, utterance, VOICE_CLASSES as CLASSES } from "../../fixtures/synthetic-voice.js";
import { encodeWav } from "../../fixtures/wav-writer.js";
import { runCli, type CliResult } from "../daemon/harness.js";

let dir: string;

const run = (args: string[]): Promise<CliResult> => runCli(args, { HOME: dir, TMPDIR: dir, EARWITNESS_BACKEND: "cpu" });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-train-"));
  const corpus = path.join(dir, "synth");
  await mkdir(corpus, { recursive: true });
  const rnd = lcg(7);
  const lines = ["path,label,speaker"];
  for (let s = 0; s < 8; s++) {
    const voice = 0.8 + 0.05 * s;
    const gain = 0.6 + 0.1 * s;
    for (const label of Object.keys(CLASSES) as (keyof typeof CLASSES)[]) {
      for (let k = 0; k < 5; k++) {
        const rel = `s${s}/${label}-${k}.wav`;
        await mkdir(path.join(corpus, `s${s}`), { recursive: true });
        await writeFile(path.join(corpus, rel), encodeWav([utterance(label, voice, gain, rnd)], 16_000, "pcm16"));
        lines.push(`${rel},${label},s${s}`);
      }
    }
  }
  await writeFile(path.join(corpus, "manifest.csv"), lines.join("\n") + "\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TRAIN = (out: string): string[] => [
  "train",
  "--arch",
  "gru",
  "--data",
  path.join(dir, "synth"),
  "--labels",
  "angry,neutral,sad",
  "--danger",
  "angry",
  "--folds",
  "4",
  "--epochs",
  "6",
  "--batch",
  "16",
  "--units",
  "8",
  "--augment",
  "0",
  "--seed",
  "5",
  "--cache",
  path.join(dir, "cache"),
  "--out",
  out,
];

interface RunJson {
  test: { accuracy: number; danger: { auc: number } };
  test_quantized?: { accuracy: number };
}

describe("earwitness train on a synthetic corpus", () => {
  it("beats chance on unseen speakers, writes every artefact, and eval agrees", { timeout: 240_000 }, async () => {
    const out = path.join(dir, "run-a");
    const r = await run(TRAIN(out));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/test: accuracy/);

    for (const f of ["model.json", "bundle.json", "history.json", "run.json", "report.txt", "accuracy.svg", "loss.svg", "confusion.svg", "test-metrics.json"]) {
      expect((await stat(path.join(out, f))).size, f).toBeGreaterThan(0);
    }
    const history = JSON.parse(await readFile(path.join(out, "history.json"), "utf8")) as unknown[];
    expect(history).toHaveLength(6);

    const runJson = JSON.parse(await readFile(path.join(out, "run.json"), "utf8")) as RunJson;
    // Chance is 1/3; two unseen speakers, 15 clips each.
    expect(runJson.test.accuracy).toBeGreaterThanOrEqual(0.7);
    expect(runJson.test.danger.auc).toBeGreaterThan(0.8);

    // The shipped-style bundle loads and scores the whole corpus (training speakers included).
    const ev = await run(["eval", "--model", out, "--manifest", path.join(dir, "synth", "manifest.csv"), "--json"]);
    expect(ev.code, ev.stderr).toBe(0);
    const report = JSON.parse(ev.stdout) as { accuracy: number; files: number; skipped: number };
    expect(report.files).toBe(120);
    expect(report.skipped).toBe(0);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.7);
  });

  it("the same seed gives the same run (features from the cache)", { timeout: 240_000 }, async () => {
    const out = path.join(dir, "run-b");
    const r = await run(TRAIN(out));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const a = JSON.parse(await readFile(path.join(dir, "run-a", "history.json"), "utf8")) as { loss: number; val_acc: number }[];
    const b = JSON.parse(await readFile(path.join(out, "history.json"), "utf8")) as { loss: number; val_acc: number }[];
    expect(b.map((e) => [e.loss, e.val_acc])).toEqual(a.map((e) => [e.loss, e.val_acc]));
  });
});
