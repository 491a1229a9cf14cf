#!/usr/bin/env node
// Leave-one-corpus-out table from `eval --held-out --json` files (scripts/detector-runs.sh loco-*):
// for each run, the row of the corpus it left out (unadapted and adapted), then the mean over
// corpora. Usage: node scripts/loco-table.mjs RUNS/loco-pgru-*.json
import { readFileSync } from "node:fs";
import path from "node:path";

const files = process.argv.slice(2).filter((f) => f.endsWith(".json"));
if (files.length === 0) {
  console.error("usage: node scripts/loco-table.mjs RUNS/loco-ARCH-*.json");
  process.exit(64);
}
const fmt = (x, pct = true) => (x === null || x === undefined ? "–" : pct ? (100 * x).toFixed(1) : x.toFixed(3));
const rows = [];
for (const f of files.sort()) {
  let r;
  try {
    r = JSON.parse(readFileSync(f, "utf8"));
  } catch (err) {
    console.error(`skipped ${f}: not a finished eval --json report (${err.message})`);
    continue;
  }
  const left = (r.held_out ?? []).filter((c) => !c.includes(":"));
  for (const corpus of left) {
    const u = r.unadapted.per_corpus[corpus];
    const a = r.adapted.per_corpus[corpus];
    if (!u) continue;
    rows.push({ run: path.basename(f, ".json"), corpus, u, a });
  }
}
const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(i === 0 ? 24 : 10) : String(c).padStart(8))).join(" ");
console.log(line(["run", "corpus", "files", "AUC", "R@P.8", "acc6", "UAR6", "AUC ad.", "acc6 ad.", "UAR6 ad."]));
for (const { run, corpus, u, a } of rows) {
  console.log(line([run, corpus, u.files, fmt(u.danger.auc, false), fmt(u.danger.recall_at_precision_0_8, false), fmt(u.emotions6?.accuracy), fmt(u.emotions6?.uar), fmt(a.danger.auc, false), fmt(a.emotions6?.accuracy), fmt(a.emotions6?.uar)]));
}
const mean = (xs) => {
  const v = xs.filter((x) => typeof x === "number");
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
};
console.log(
  line([
    "mean over corpora",
    `${rows.length}`,
    "",
    fmt(mean(rows.map((r) => r.u.danger.auc)), false),
    fmt(mean(rows.map((r) => r.u.danger.recall_at_precision_0_8)), false),
    fmt(mean(rows.map((r) => r.u.emotions6?.accuracy))),
    fmt(mean(rows.map((r) => r.u.emotions6?.uar))),
    fmt(mean(rows.map((r) => r.a.danger.auc)), false),
    fmt(mean(rows.map((r) => r.a.emotions6?.accuracy))),
    fmt(mean(rows.map((r) => r.a.emotions6?.uar))),
  ]),
);
