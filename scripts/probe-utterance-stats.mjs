#!/usr/bin/env node
// Probe (issue 15): where does the reference regression get its 60 % on unseen corpora?
// Leave-one-corpus-out, six emotions and danger AUC, from the cached static features (log-mel +
// energy per 50 ms step) of every speech corpus: utterance statistics (means, spreads, delta
// spreads) and a softmax regression, with three normalisations —
//   none:     raw statistics, standardised globally;
//   frames:   each speaker's frames z-scored by the speaker's own frame statistics first (what the
//             trainer's norm "speaker" does today);
//   stats:    the utterance-statistics vectors z-scored per speaker (the reference's recipe).
//
//   node scripts/probe-utterance-stats.mjs ~/corpora [norm…]
import path from "node:path";
import { readCorpusDir } from "../dist/src/train/manifest.js";
import { extractCorpus } from "../dist/src/train/feature-cache.js";
import { DEFAULT_FEATURE_SPEC, staticDims } from "../dist/src/features/spec.js";
import { defaultCacheDir } from "../dist/src/cli/corpus-options.js";
import { labelKind } from "../dist/src/label-map.js";
import { DEFAULT_AUGMENT } from "../dist/src/train/augment.js";
import { rocAuc } from "../dist/src/train/metrics.js";
import { silentLogger } from "../dist/src/log.js";

const SIX = ["angry", "disgust", "fear", "happy", "neutral", "sad"];
const SPEECH = ["crema-d", "ravdess", "emodb", "nemo", "ased", "casia", "emospeech"];
const root = process.argv[2];
const norms = process.argv.slice(3).length ? process.argv.slice(3) : ["none", "frames", "stats"];
const spec = DEFAULT_FEATURE_SPEC;
const S = staticDims(spec);
const log = silentLogger();

async function load(corpus) {
  const rows = (await readCorpusDir(path.join(root, corpus))).filter((r) => SIX.includes(r.label) && labelKind(r.label) === "emotion");
  const { clips } = await extractCorpus(rows, spec, {
    cacheDir: defaultCacheDir(), augmentedCopies: 0, augment: { ...DEFAULT_AUGMENT, noises: [] }, seed: 1, log,
  });
  return clips;
}

function frameStats(clips) { // per-dimension mean/std over all frames of the clips
  const sum = new Float64Array(S), sq = new Float64Array(S); let n = 0;
  for (const c of clips) for (let t = 0; t < c.steps; t++) { n++; for (let d = 0; d < S; d++) { const v = c.data[t * S + d]; sum[d] += v; sq[d] += v * v; } }
  const mu = sum.map((s) => s / n); const sd = sq.map((q, d) => Math.sqrt(Math.max(q / n - mu[d] ** 2, 1e-6)));
  return { mu, sd };
}

function utterance(c, norm) { // means, stds, delta stds
  const T = c.steps; const x = new Float64Array(T * S);
  for (let t = 0; t < T; t++) for (let d = 0; d < S; d++) x[t * S + d] = norm ? (c.data[t * S + d] - norm.mu[d]) / norm.sd[d] : c.data[t * S + d];
  const out = new Float64Array(3 * S);
  for (let d = 0; d < S; d++) {
    let s = 0, q = 0, ds = 0, dq = 0;
    for (let t = 0; t < T; t++) { const v = x[t * S + d]; s += v; q += v * v; }
    for (let t = 1; t < T; t++) { const v = x[t * S + d] - x[(t - 1) * S + d]; ds += v; dq += v * v; }
    const m = s / T; out[d] = m; out[S + d] = Math.sqrt(Math.max(q / T - m * m, 1e-8));
    const dm = ds / (T - 1); out[2 * S + d] = Math.sqrt(Math.max(dq / (T - 1) - dm * dm, 1e-8));
  }
  return out;
}

function zscoreGroups(X, groups) {
  const by = new Map();
  groups.forEach((g, i) => by.set(g, [...(by.get(g) ?? []), i]));
  const D = X[0].length; const out = X.map((x) => Float64Array.from(x));
  for (const idx of by.values()) {
    for (let d = 0; d < D; d++) {
      let s = 0, q = 0; for (const i of idx) { s += X[i][d]; q += X[i][d] ** 2; }
      const m = s / idx.length; const sd = Math.sqrt(Math.max(q / idx.length - m * m, 1e-6));
      for (const i of idx) out[i][d] = idx.length > 1 ? (X[i][d] - m) / sd : 0;
    }
  }
  return out;
}

function train(X, y, K, { epochs = 300, lr = 0.05, l2 = 1e-3 } = {}) {
  const D = X[0].length; const N = X.length;
  const mu = new Float64Array(D), sd = new Float64Array(D);
  for (const x of X) for (let d = 0; d < D; d++) { mu[d] += x[d] / N; }
  for (const x of X) for (let d = 0; d < D; d++) { sd[d] += (x[d] - mu[d]) ** 2 / N; }
  for (let d = 0; d < D; d++) sd[d] = Math.sqrt(sd[d] + 1e-8);
  const Z = X.map((x) => x.map((v, d) => (v - mu[d]) / sd[d]));
  const counts = new Array(K).fill(0); for (const k of y) counts[k]++;
  const w = y.map((k) => N / (K * counts[k]));
  const W = Array.from({ length: K }, () => new Float64Array(D + 1));
  const m = W.map(() => new Float64Array(D + 1)), v = W.map(() => new Float64Array(D + 1));
  for (let ep = 1; ep <= epochs; ep++) {
    const G = W.map(() => new Float64Array(D + 1));
    for (let i = 0; i < N; i++) {
      const z = Z[i]; const logits = W.map((Wk) => { let s = Wk[D]; for (let d = 0; d < D; d++) s += Wk[d] * z[d]; return s; });
      const mx = Math.max(...logits); const e = logits.map((l) => Math.exp(l - mx)); const se = e.reduce((a, b) => a + b, 0);
      for (let k = 0; k < K; k++) { const g = (e[k] / se - (k === y[i] ? 1 : 0)) * w[i] / N; for (let d = 0; d < D; d++) G[k][d] += g * z[d]; G[k][D] += g; }
    }
    for (let k = 0; k < K; k++) for (let d = 0; d <= D; d++) {
      const g = G[k][d] + (d < D ? l2 * W[k][d] : 0);
      m[k][d] = 0.9 * m[k][d] + 0.1 * g; v[k][d] = 0.999 * v[k][d] + 0.001 * g * g;
      W[k][d] -= lr * (m[k][d] / (1 - 0.9 ** ep)) / (Math.sqrt(v[k][d] / (1 - 0.999 ** ep)) + 1e-8);
    }
  }
  return (x) => { const z = x.map((val, d) => (val - mu[d]) / sd[d]); const l = W.map((Wk) => { let s = Wk[D]; for (let d = 0; d < D; d++) s += Wk[d] * z[d]; return s; }); const mx = Math.max(...l); const e = l.map((q) => Math.exp(q - mx)); const se = e.reduce((a, b) => a + b, 0); return e.map((q) => q / se); };
}


const data = {};
for (const c of SPEECH) data[c] = await load(c);
const spk = (c) => `${c.row.corpus}/${c.row.speaker ?? c.row.relPath}`;
for (const norm of norms) {
  const feats = {};
  for (const c of SPEECH) {
    const clips = data[c];
    let X;
    if (norm === "frames") {
      const by = new Map(); for (const cl of clips) by.set(spk(cl), [...(by.get(spk(cl)) ?? []), cl]);
      const st = new Map([...by].map(([k, v]) => [k, frameStats(v)]));
      X = clips.map((cl) => utterance(cl, st.get(spk(cl))));
    } else {
      X = clips.map((cl) => utterance(cl, null));
      if (norm === "stats") X = zscoreGroups(X, clips.map(spk));
    }
    feats[c] = { X, y: clips.map((cl) => SIX.indexOf(cl.row.label)) };
  }
  const rowsOut = [];
  for (const held of SPEECH) {
    const Xtr = [], ytr = [];
    for (const c of SPEECH) if (c !== held) { Xtr.push(...feats[c].X); ytr.push(...feats[c].y); }
    const f = train(Xtr, ytr, 6);
    const P = feats[held].X.map(f);
    const y = feats[held].y;
    const acc = P.filter((p, i) => p.indexOf(Math.max(...p)) === y[i]).length / y.length;
    const present = [...new Set(y)];
    const uar = present.map((k) => { const ii = y.map((v, i) => i).filter((i) => y[i] === k); return ii.filter((i) => P[i].indexOf(Math.max(...P[i])) === k).length / ii.length; }).reduce((a, b) => a + b, 0) / present.length;
    const danger = P.map((p) => p[0] + p[2]);
    const a = rocAuc(danger, y.map((k) => k === 0 || k === 2));
    rowsOut.push({ held, n: y.length, acc, uar, auc: a });
    console.log(`${norm.padEnd(6)} ${held.padEnd(10)} n=${String(y.length).padStart(5)} acc6=${(acc * 100).toFixed(1)} uar=${(uar * 100).toFixed(1)} auc=${a.toFixed(3)}`);
  }
  const mean = (k) => rowsOut.reduce((s, r) => s + r[k], 0) / rowsOut.length;
  console.log(`${norm.padEnd(6)} MEAN acc6=${(mean("acc") * 100).toFixed(1)} uar=${(mean("uar") * 100).toFixed(1)} auc=${mean("auc").toFixed(3)}`);
}
