#!/usr/bin/env node
// How many held-out clips of a corpus split by share (`--test-corpus NAME:0.5`) are cut from a
// recording that also has a clip in training: clips named RECORDING_N.wav are chunks of one
// recording, yet a row without a speaker is its own group (splits.ts speakerGroup).
//   node scripts/split-leak.mjs ~/corpora/screams [screams:0.5] [seed 1]
import { readCorpusDir } from "../dist/src/train/manifest.js";
import { heldOutSelector } from "../dist/src/train/splits.js";

const [dir, entry = "screams:0.5", seed = "1"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node scripts/split-leak.mjs CORPUS_DIR [NAME:SHARE] [SEED]");
  process.exit(64);
}
const rows = await readCorpusDir(dir);
const sel = heldOutSelector(rows, [entry], Number(seed));
const recording = (r) => r.relPath.replace(/_\d+\.wav$/i, "");
const trained = new Set(rows.filter((r) => !sel.isTest(r)).map(recording));
const test = rows.filter((r) => sel.isTest(r));
const shared = test.filter((r) => trained.has(recording(r)));
console.log(`${rows.length} clips from ${new Set(rows.map(recording)).size} recordings; ${test.length} held out (${entry}, seed ${seed}); ${shared.length} of them cut from a recording with a clip in training`);
