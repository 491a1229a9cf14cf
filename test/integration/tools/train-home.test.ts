/**
 * The danger output end to end on synthetic corpora: `train --classes home` over two speech
 * corpora (one held out), a corpus of household sounds and one of screams (half held out); the
 * bundle's danger classes are angry + fear + scream; `eval --data --held-out` scores the held-out
 * rows with sounds as negatives and screams as positives; and a replayed recording with a scream
 * in calm speech raises an alert whose emotion is "scream" under the default configuration, which
 * lists only angry and fear (a scream is danger for every model that hears screams).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainedRows, validationRows } from "../../../src/train/corpus-report.js";
import { readCorpusDir } from "../../../src/train/manifest.js";
import { heldOutSelector } from "../../../src/train/splits.js";
import { lcg, scream, sound, utterance, type VoiceClass } from "../../fixtures/synthetic-voice.js";
import { encodeWav } from "../../fixtures/wav-writer.js";
import { runCli, type CliResult } from "../daemon/harness.js";

let dir: string;
const run = (args: string[]): Promise<CliResult> => runCli(args, { HOME: dir, TMPDIR: dir, EARWITNESS_BACKEND: "cpu" });

async function corpus(name: string, clips: { rel: string; label: string; speaker: string; audio: Float32Array }[]): Promise<string> {
  const root = path.join(dir, name);
  const lines = ["path,label,speaker"];
  for (const c of clips) {
    await mkdir(path.dirname(path.join(root, c.rel)), { recursive: true });
    await writeFile(path.join(root, c.rel), encodeWav([c.audio], 16_000, "pcm16"));
    lines.push(`${c.rel},${c.label},${c.speaker}`);
  }
  await writeFile(path.join(root, "manifest.csv"), lines.join("\n") + "\n");
  return root;
}

function speech(first: number, speakers: number, rnd: () => number): { rel: string; label: string; speaker: string; audio: Float32Array }[] {
  const out = [];
  for (let s = first; s < first + speakers; s++) {
    for (const label of ["angry", "neutral", "sad"] as VoiceClass[]) {
      for (let k = 0; k < 4; k++) out.push({ rel: `s${s}/${label}-${k}.wav`, label, speaker: `s${s}`, audio: utterance(label, 0.8 + 0.05 * s, 0.6 + 0.1 * s, rnd) });
    }
  }
  return out;
}

let data: string[];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-home-"));
  const rnd = lcg(11);
  data = [
    await corpus("talk-a", speech(0, 6, rnd)),
    await corpus("talk-b", speech(6, 3, rnd)),
    await corpus(
      "house",
      Array.from({ length: 24 }, (_, i) => {
        const kind = i % 2 === 0 ? "rain" : "dog_bark";
        // Recordings without a speaker, as in the sound corpora.
        return { rel: `${kind}-${i}.wav`, label: kind, speaker: "", audio: sound(kind, rnd) };
      }),
    ),
    await corpus("yells", Array.from({ length: 16 }, (_, i) => ({ rel: `scream-${i}.wav`, label: "scream", speaker: `p${i}`, audio: scream(rnd) }))),
  ];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * The bundle in `out` separates the held-out danger clips (AUC > 0.85), and replayed as the daemon
 * runs it, 8 s of screaming between calm speech raises one alert, as a scream.
 */
async function expectHeldOutAucAndScreamAlert(out: string, dataArgs: string[], seed: number): Promise<void> {
  const ev = await run(["eval", "--model", out, ...dataArgs, "--held-out", "--json"]);
  expect(ev.code, ev.stderr).toBe(0);
  const report = JSON.parse(ev.stdout) as { unadapted: { pooled: { danger: { auc: number | null } } } };
  expect(report.unadapted.pooled.danger.auc).toBeGreaterThan(0.85);
  const rnd = lcg(seed);
  const calm = (): Float32Array => utterance("neutral", 1.15, 1.2, rnd, 6);
  const wav = path.join(dir, `scream-in-speech-${seed}.wav`);
  await writeFile(wav, encodeWav([Float32Array.from([...calm(), ...scream(rnd, 8), ...calm()])], 16_000, "pcm16"));
  const rep = await run(["replay", "--model", out, "--json", wav]);
  expect(rep.code, rep.stderr).toBe(0);
  const alerts = rep.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; emotion: string }).filter((e) => e.type === "alert");
  expect(alerts).toHaveLength(1);
  expect(alerts[0]!.emotion).toBe("scream");
}

describe("the danger output of a home model (synthetic corpora)", () => {
  it("trains on speech, sounds and screams, counts screams as danger, and holds the test corpora out", { timeout: 240_000 }, async () => {
    const out = path.join(dir, "run");
    const dataArgs = data.flatMap((d) => ["--data", d]);
    const r = await run([
      "train", "--arch", "lr", "--classes", "home", ...dataArgs, "--test-corpus", "talk-b", "--test-corpus", "yells:0.5",
      "--epochs", "12", "--batch", "16", "--lr", "0.05", "--augment", "0", "--seed", "3", "--cache", path.join(dir, "cache"), "--out", out,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const meta = JSON.parse(await readFile(path.join(out, "bundle.json"), "utf8")) as {
      labels: string[];
      danger: string[];
      training: { test_corpora: string[]; validation_groups: string[] };
    };
    expect(meta.labels).toEqual(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprised", "scream", "sound"]);
    expect(meta.danger).toEqual(["angry", "fear", "scream"]);
    expect(meta.training.test_corpora).toEqual(["talk-b", "yells:0.5"]);

    // Held-out rows only: the unseen speakers of talk-b and half of the screams.
    const ev = await run(["eval", "--model", out, ...dataArgs, "--held-out", "--json"]);
    expect(ev.code, ev.stderr).toBe(0);
    type Metrics = { files: number; danger_files: number; danger: { auc: number | null } };
    const report = JSON.parse(ev.stdout) as { held_out: string[]; unadapted: { pooled: Metrics; per_corpus: Record<string, Metrics> } };
    expect(report.held_out).toEqual(["talk-b", "yells:0.5"]);
    const per = report.unadapted.per_corpus;
    expect(Object.keys(per)).toEqual(["talk-b", "yells"]);
    expect(per["talk-b"]!.files).toBe(36);
    expect(per["yells"]!.files).toBe(8);
    // Angry speech of unseen speakers and unseen screams against calm and sad speech.
    expect(report.unadapted.pooled.danger_files).toBe(12 + 8);
    expect(report.unadapted.pooled.danger.auc).toBeGreaterThan(0.85);

    // Calm speech, 8 s of screaming, calm speech: the default configuration alerts on the scream.
    const rnd = lcg(99);
    const calm = (): Float32Array => utterance("neutral", 1.15, 1.2, rnd, 6);
    const recording = Float32Array.from([...calm(), ...scream(rnd, 8), ...calm()]);
    const wav = path.join(dir, "scream-in-speech.wav");
    await writeFile(wav, encodeWav([recording], 16_000, "pcm16"));
    const rep = await run(["replay", "--model", out, "--json", wav]);
    expect(rep.code, rep.stderr).toBe(0);
    const alerts = rep.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; start_s: number; end_s: number; emotion: string }).filter((e) => e.type === "alert");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.emotion).toBe("scream");
    expect(alerts[0]!.start_s).toBeGreaterThan(6);
    expect(alerts[0]!.start_s).toBeLessThan(14);
    expect(alerts[0]!.end_s).toBeLessThan(20);

    // A second model for a pair, on other corpora (no screams), split on this one's validation
    // groups (train --validation-of): it never trains on them, so the pair can be tuned there.
    const secondOut = path.join(dir, "run-second");
    const sp = await run([
      "train", "--arch", "lr", "--classes", "home", "--data", data[0]!, "--data", data[1]!, "--data", data[2]!, "--test-corpus", "talk-b", "--validation-of", out,
      "--epochs", "2", "--batch", "16", "--augment", "0", "--seed", "5", "--cache", path.join(dir, "cache"), "--out", secondOut,
    ]);
    expect(sp.code, sp.stderr + sp.stdout).toBe(0);
    const secondMeta = JSON.parse(await readFile(path.join(secondOut, "bundle.json"), "utf8")) as { training: { validation_groups: string[] } };
    const present = meta.training.validation_groups.filter((g) => !g.startsWith("yells/"));
    expect(present.length).toBeGreaterThan(0);
    expect(secondMeta.training.validation_groups).toEqual(present);
    const refused = await run(["train", "--arch", "lr", "--data", data[0]!, "--validation-of", out, "--out", path.join(dir, "no")]);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/--validation-of needs --test-corpus/);
  });

  it("with a danger head, hard-negative mining and prosody features: the head is the danger score end to end", { timeout: 240_000 }, async () => {
    const out = path.join(dir, "run-dh");
    const dataArgs = data.flatMap((d) => ["--data", d]);
    const r = await run([
      "train", "--arch", "lr", "--classes", "home", ...dataArgs, "--test-corpus", "talk-b", "--test-corpus", "yells:0.5",
      "--danger-head", "--hard-negatives", "0.25", "--pitch",
      "--epochs", "12", "--batch", "16", "--lr", "0.05", "--augment", "0", "--seed", "3", "--cache", path.join(dir, "cache"), "--out", out,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const meta = JSON.parse(await readFile(path.join(out, "bundle.json"), "utf8")) as { architecture: Record<string, unknown>; training: Record<string, unknown>; features: Record<string, unknown> };
    expect(meta.architecture).toMatchObject({ arch: "lr", danger_head: true });
    expect(meta.features["pitch"]).toBe(true);
    expect(meta.training["hard_negatives"]).toBe(0.25);
    const runJson = JSON.parse(await readFile(path.join(out, "run.json"), "utf8")) as { danger_head: boolean; hard_negatives: number };
    expect(runJson).toMatchObject({ danger_head: true, hard_negatives: 0.25 });
    // Mining runs before every epoch but the first, and records what it found.
    const history = JSON.parse(await readFile(path.join(out, "history.json"), "utf8")) as { epoch: number; hard_negatives?: number }[];
    expect(history[0]!.hard_negatives).toBeUndefined();
    expect(history.slice(1).every((h) => typeof h.hard_negatives === "number")).toBe(true);

    // The daemon's engine runs the head on the bundle's features.
    await expectHeldOutAucAndScreamAlert(out, dataArgs, 98);
  });

  it("cnnp, the small CNN with statistics pooling: trains with a danger head, and the daemon's pipeline runs it", { timeout: 240_000 }, async () => {
    const out = path.join(dir, "run-cnnp");
    const dataArgs = data.flatMap((d) => ["--data", d]);
    const r = await run([
      "train", "--arch", "cnnp", "--units", "16", "--classes", "home", ...dataArgs, "--test-corpus", "talk-b", "--test-corpus", "yells:0.5",
      "--danger-head", "--epochs", "12", "--batch", "16", "--lr", "0.01", "--augment", "0", "--seed", "3", "--cache", path.join(dir, "cache"), "--out", out,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const meta = JSON.parse(await readFile(path.join(out, "bundle.json"), "utf8")) as { architecture: Record<string, unknown>; quantization: string };
    expect(meta.architecture).toMatchObject({ arch: "cnnp", units: 16, danger_head: true });
    expect(meta.quantization).toBe("uint8");
    await expectHeldOutAucAndScreamAlert(out, dataArgs, 97);
  });

  it("bench --fold tunes a pair on folds (home and sound streams): each fold's streams only from the corpora its model left out, never the final check's, swept together; --validation-of leaves out what the speech model trained on", { timeout: 300_000 }, async () => {
    const rnd = lcg(21);
    const houseClips = (prefix: string): { rel: string; label: string; speaker: string; audio: Float32Array }[] =>
      Array.from({ length: 12 }, (_, i) => {
        const kind = i % 2 === 0 ? "rain" : "dog_bark";
        return { rel: `${prefix}-${kind}-${i}.wav`, label: kind, speaker: "", audio: sound(kind, rnd) };
      });
    const talkC = await corpus("talk-c", speech(20, 3, rnd));
    const talkD = await corpus("talk-d", speech(30, 3, rnd));
    const houseC = await corpus("house-c", houseClips("c"));
    const houseD = await corpus("house-d", houseClips("d"));
    const all = [...data, talkC, talkD, houseC, houseD].flatMap((d) => ["--data", d]);
    const train = async (name: string, args: string[]): Promise<string> => {
      const out = path.join(dir, name);
      const r = await run(["train", "--arch", "lr", "--classes", "home", ...args, "--epochs", "2", "--batch", "16", "--augment", "0", "--seed", "1", "--cache", path.join(dir, "cache"), "--out", out]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      return out;
    };
    const final = ["--test-corpus", "talk-b", "--test-corpus", "yells:0.5"];
    // The speech branch never heard the folds' corpora; the final split holds out talk-b and half the screams.
    const speechModel = await train("fold-speech", ["--data", data[0]!, "--data", data[2]!]);
    const finalModel = await train("fold-final", [...all, ...final]);
    const fold1 = await train("fold-1", [...all, ...final, "--test-corpus", "talk-c", "--test-corpus", "house-c", "--test-corpus", "yells:0.5-0.75"]);
    const fold2 = await train("fold-2", [...all, ...final, "--test-corpus", "talk-d", "--test-corpus", "house-d", "--test-corpus", "yells:0.75-1"]);
    const cfg = path.join(dir, "fold-pair.yaml");
    await writeFile(cfg, `detect:\n  screams:\n    enabled: true\n    gate_speech: true\n    model_dir: ${finalModel}\n`);
    const work = path.join(dir, "fold-work");
    const out = path.join(dir, "fold-tune.json");
    const chosen = path.join(dir, "fold-chosen.yaml");
    const streams = [...data, talkC, talkD, houseC, houseD].flatMap((d) => ["--streams", d]);
    const args = ["bench", "--no-pin", "--model", speechModel, "--config", cfg, ...streams, "--mix", "home+sounds", "--stream-minutes", "8", "--per-dir", "1", "--work", work];
    const r = await run([...args, "--fold", fold1, "--fold", fold2, "--except-held-out-of", finalModel, "--sweep", "--sweep-branch", "pair", "--sweep-cooldown", "10", "--write-config", chosen, "--out", out]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const results = JSON.parse(await readFile(out, "utf8")) as { folds: string[]; quality: { summary: { streams: number }; per_corpus: Record<string, unknown> }; sweep: { choice: { config: { screams: unknown } } } };
    expect(results.folds).toEqual([fold1, fold2]);
    // Per fold one home stream and (half of one, rounded up) one sound stream.
    expect(results.quality.summary.streams).toBe(4);
    expect(Object.keys(results.quality.per_corpus).sort()).toEqual(["fold1/home", "fold1/sounds", "fold2/home", "fold2/sounds"]);
    expect(results.sweep.choice.config.screams).toBeDefined();
    expect(await readFile(chosen, "utf8")).toMatch(/Tuning streams: folds /);

    // Each fold's stream holds only its own corpora, and only screams of its own slice.
    const screamRows = await readCorpusDir(data[3]!);
    const slice = (list: string[]): Set<string> => new Set(screamRows.filter((row) => heldOutSelector(screamRows, list, 1).isTest(row)).map((row) => row.file));
    const own = { fold1: { dirs: [talkC, houseC], screams: slice(["yells:0.5-0.75"]) }, fold2: { dirs: [talkD, houseD], screams: slice(["yells:0.75-1"]) } };
    for (const [fold, want] of Object.entries(own)) {
      const files = (await readdir(path.join(work, fold))).filter((f) => f.endsWith(".json")).sort();
      expect(files).toEqual([`${fold}-home-stream-1000.json`, `${fold}-sounds-stream-1000.json`]);
      for (const file of files) {
        const timeline = JSON.parse(await readFile(path.join(work, fold, file), "utf8")) as { mix: string; segments: { kind: string; file: string }[] };
        const segs = timeline.segments;
        expect(file).toContain(timeline.mix);
        expect(segs.some((sg) => sg.kind === "scream")).toBe(true);
        // A sound stream holds no speech.
        if (timeline.mix === "sounds") expect(segs.every((sg) => sg.kind !== "clip")).toBe(true);
        for (const sg of segs) {
          if (sg.kind === "scream") expect(want.screams.has(sg.file), sg.file).toBe(true);
          else expect(want.dirs.some((d) => sg.file.startsWith(d + path.sep)), sg.file).toBe(true);
        }
      }
    }

    // A speech model that heard a fold's corpus is refused: a fold must be new to every model scoring it.
    const heard = await train("fold-speech-heard", ["--data", data[0]!, "--data", talkC, "--data", data[2]!]);
    const refused = await run(["bench", "--no-pin", "--model", heard, "--config", cfg, ...streams, "--mix", "home", "--stream-minutes", "1", "--per-dir", "1", "--fold", fold1, "--out", path.join(dir, "refused.json")]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/fold1\/talk-c: \d+ of these clips trained/);
    // Tuning on the scream model's validation clips (--validation-of) leaves out those the speech
    // model trained on: it knows them, and would look quieter there than before any stranger.
    const heardMeta = JSON.parse(await readFile(path.join(heard, "bundle.json"), "utf8")) as Parameters<typeof trainedRows>[0];
    const finalMeta = JSON.parse(await readFile(path.join(finalModel, "bundle.json"), "utf8")) as Parameters<typeof validationRows>[0];
    // The final model validates on some of the house sounds, which that speech model trained on.
    const houseRows = await readCorpusDir(data[2]!);
    const isTrained = trainedRows(heardMeta, houseRows);
    const overlap = houseRows.filter((row) => validationRows(finalMeta)!(row) && isTrained(row));
    expect(overlap.length, "the fixture needs validation clips the speech model trained on").toBeGreaterThan(0);
    const valWork = path.join(dir, "val-work");
    const tuned = await run(["bench", "--no-pin", "--model", heard, "--config", cfg, ...streams, "--mix", "sounds", "--stream-minutes", "6", "--per-dir", "2", "--validation-of", finalModel, "--work", valWork, "--out", path.join(dir, "val.json")]);
    expect(tuned.code, tuned.stderr + tuned.stdout).toBe(0);
    expect(tuned.stderr).toMatch(new RegExp(`house: ${overlap.length} of its validation clips trained the speech model`));
    const heardFiles = new Set(overlap.map((row) => row.file));
    const stillThere = new Set(houseRows.filter((row) => validationRows(finalMeta)!(row) && !isTrained(row)).map((row) => row.file));
    const used = new Set<string>();
    for (const file of (await readdir(valWork)).filter((f) => f.endsWith(".json"))) {
      const timeline = JSON.parse(await readFile(path.join(valWork, file), "utf8")) as { segments: { file: string }[] };
      for (const sg of timeline.segments) used.add(sg.file);
    }
    expect([...heardFiles].filter((f) => used.has(f))).toEqual([]);
    expect([...stillThere].some((f) => used.has(f)), "the house's other validation clips still make the streams").toBe(true);
    // --fold chooses the streams itself.
    const clash = await run([...args, "--fold", fold1, "--held-out-of", finalModel]);
    expect(clash.code).toBe(64);
    expect(clash.stderr).toMatch(/drop --held-out-of/);
  });
});
