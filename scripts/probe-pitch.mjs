#!/usr/bin/env node
// How many 32 ms frames YIN calls voiced, and their median F0, per clip, for a few thresholds and
// decimations (src/features/pitch.ts DEFAULT_PITCH was chosen with it). After `npm run build`:
//   node scripts/probe-pitch.mjs ~/corpora/crema-d/AudioWAV/1001_DFA_{ANG,NEU}_XX.wav ~/corpora/crema-d/AudioWAV/1002_DFA_{ANG,NEU}_XX.wav
import { readWavFile } from "../dist/src/audio/wav.js";
import { DEFAULT_PITCH, pitchScratch, yinPitch } from "../dist/src/features/pitch.js";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/probe-pitch.mjs FILE.wav...");
  process.exit(64);
}
for (const [decimate, threshold] of [[2, 0.15], [1, 0.15], [2, 0.25], [2, 0.3], [2, 0.35]]) {
  const o = { ...DEFAULT_PITCH, decimate, threshold };
  const scratch = pitchScratch(512, o);
  const out = [];
  for (const f of files) {
    const x = (await readWavFile(f)).samples;
    let frames = 0;
    const f0s = [];
    for (let p = 0; p + 512 <= x.length; p += 160) {
      const r = yinPitch(x.subarray(p, p + 512), scratch, o);
      frames++;
      if (r.f0 > 0) f0s.push(r.f0);
    }
    f0s.sort((a, b) => a - b);
    out.push(`${f.split("/").pop()} ${f0s.length}/${frames} voiced, median ${Math.round(f0s[Math.floor(f0s.length / 2)] ?? 0)} Hz`);
  }
  console.log(`decimate ${decimate} threshold ${threshold}: ${out.join(" | ")}`);
}
