#!/usr/bin/env node
// Probe (issue 15, session 10): would a two-branch decision beat one model? The held-out home
// streams of a leave-corpora-out split are run through two models — a speech branch (danger =
// angry + fear, e.g. the shipped CREMA-D GRU) and a scream branch (danger = the scream class only,
// e.g. a home model trained with the sounds of a home) — and an alert of either counts (overlapping
// alerts merged into one). For every pair of settings on the two branches' own Pareto fronts the
// union is scored like `bench --sweep` scores one setting; the union's front is printed beside
// each branch's, split into speech passages and screams. Hindsight on the same streams, as the
// fronts in docs/detection.md: it says whether the design is worth building, not its tuned figure.
//
//   node scripts/two-branch-probe.mjs SPEECH_MODEL SCREAM_MODEL SPLIT_BUNDLE CORPORA_DIR [NOISE_DIR]
//   (env MIX=sounds SEED=3 PER_DIR=3 for the sound streams; default home, 2, 6 as detector-runs.sh)
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { runQuality } from "../dist/src/bench/quality.js";
import { paretoFront, replayAlerts, runSweep, sweepSettings } from "../dist/src/bench/sweep.js";
import { scoreStream, summariseScores } from "../dist/src/bench/stream-score.js";
import { loadNoises } from "../dist/src/cli/corpus-options.js";
import { detectParamsFromConfig } from "../dist/src/config/detect-params.js";
import { loadConfig } from "../dist/src/config/load.js";
import { loadBundleForEngine } from "../dist/src/assemble/model.js";
import { verifyBundleFiles } from "../dist/src/model/bundle.js";

const [speechModel, screamModel, splitBundle, corpora, noiseDir = path.resolve("../shared/data/noise")] = process.argv.slice(2);
if (!speechModel || !screamModel || !splitBundle || !corpora) {
  process.stderr.write("usage: node scripts/two-branch-probe.mjs SPEECH_MODEL SCREAM_MODEL SPLIT_BUNDLE CORPORA_DIR [NOISE_DIR]\n");
  process.exit(64);
}
const GRACE = 4;
const dirs = ["ravdess", "casia", "emodb", "sased", "esc10", "screams"].map((c) => path.join(corpora, c));
const scratch = await mkdtemp(path.join(tmpdir(), "ew-two-branch-"));
const noises = (await loadNoises(noiseDir)).map((samples, i) => ({ name: `noise-${i}`, samples }));
const split = (await verifyBundleFiles(splitBundle)).meta;

async function branch(model, yaml, name) {
  const file = path.join(scratch, `${name}.yaml`);
  await writeFile(file, yaml);
  const config = await loadConfig({ path: file, env: {}, hostname: "probe" });
  const bundle = await loadBundleForEngine(model, config.model.backend);
  const q = await runQuality({
    corpusDirs: dirs, noises, workDir: path.join(scratch, name), config, bundle, streamsPerDir: Number(process.env.PER_DIR ?? 6),
    streamSeconds: 20 * 60, seed: Number(process.env.SEED ?? 2), speakers: null, heldOutOf: split, validationOf: null,
    mix: process.env.MIX ?? "home", graceS: GRACE, log: () => {},
  });
  const base = detectParamsFromConfig(config.detect);
  const front = paretoFront(runSweep(q.traces, base, sweepSettings(), GRACE));
  return { q, base, front };
}

// Both configs list angry and fear (so both build the same streams); the scream branch weighs
// only the scream class. Each model runs alone (the product's own scream branch off): the probe
// merges their alerts itself. `bench --sweep-branch pair` is the product's way, through
// AnyBranchDetector.
const speech = await branch(speechModel, "detect:\n  danger:\n    labels: [angry, fear]\n    weights: { scream: 0 }\n  screams: { enabled: false }\n", "speech");
const scream = await branch(screamModel, "detect:\n  danger:\n    labels: [angry, fear]\n    weights: { angry: 0, fear: 0 }\n  screams: { enabled: false }\n", "scream");
await rm(scratch, { recursive: true, force: true });
const sameStreams = speech.q.traces.every((t, i) => JSON.stringify(t.timeline) === JSON.stringify(scream.q.traces[i]?.timeline));
if (!sameStreams) throw new Error("the two branches heard different streams");

function merge(a, b) {
  const all = [...a, ...b].sort((x, y) => x.start_s - y.start_s);
  const out = [];
  for (const al of all) {
    const last = out[out.length - 1];
    if (last && al.start_s <= last.end_s) last.end_s = Math.max(last.end_s, al.end_s);
    else out.push({ ...al });
  }
  return out;
}

const traces = speech.q.traces;
const audioS = traces.reduce((a, t) => a + t.timeline.duration_s, 0);
const alertsOf = (br, setting) => br.q.traces.map((t) => replayAlerts(t.points, br.base, setting));
const speechAlerts = speech.front.map((r) => ({ r, alerts: alertsOf(speech, r.setting) }));
const screamAlerts = scream.front.map((r) => ({ r, alerts: alertsOf(scream, r.setting) }));
const union = [];
for (const s of speechAlerts) {
  for (const c of screamAlerts) {
    const scores = traces.map((t, i) => scoreStream(t.timeline, merge(s.alerts[i], c.alerts[i]), GRACE));
    union.push({ summary: summariseScores(scores, audioS), speech: s.r.setting, scream: c.r.setting });
  }
}
const row = (name, results) => {
  const cells = [0, 0.5, 1, 2, 5].map((b) => {
    const inside = results.filter((r) => r.summary.false_alerts_per_h <= b + 1e-9);
    if (inside.length === 0) return "–";
    const best = inside.reduce((a, r) => (r.summary.caught > a.summary.caught ? r : a));
    const k = best.summary.by_kind;
    return `${best.summary.caught}/${best.summary.passages} (${k.speech.caught}+${k.scream.caught})`;
  });
  console.log([name, ...cells].join(" | "));
};
console.log("front | ≤ 0/h | ≤ 0.5/h | ≤ 1/h | ≤ 2/h | ≤ 5/h   (caught: speech + screams)");
row(`speech branch ${path.basename(speechModel)}`, speech.front);
row(`scream branch ${path.basename(screamModel)} (scream class only)`, scream.front);
row("either branch alerts", union);
