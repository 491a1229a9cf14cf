#!/usr/bin/env node
// Summarises training runs (directories written by `earwitness train --out DIR`) as Markdown
// tables: runs that differ only in --seed are grouped and reported as mean ± std. The numbers
// in docs/experiments.md are printed by this script; each group lists the command of one run.
//
//   node scripts/summarize-runs.mjs ~/runs/crema-*        (any number of run directories)
//   node scripts/summarize-runs.mjs --pool-folds ~/runs/emodb-cnn-f*   (mean ± std over speaker folds too)
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";

const poolFolds = process.argv.includes("--pool-folds");
const dirs = process.argv.slice(2).filter((d) => d !== "--pool-folds" && existsSync(path.join(d, "run.json")));
if (dirs.length === 0) {
  console.error("usage: summarize-runs.mjs RUN_DIR...   (directories containing run.json)");
  process.exit(64);
}
const runs = dirs.map((d) => ({ dir: d, ...JSON.parse(readFileSync(path.join(d, "run.json"), "utf8")) }));
const groups = new Map();
for (const r of runs) {
  const key = JSON.stringify([
    r.corpora.map((c) => c.name).join("+"),
    r.arch,
    r.protocol,
    r.dropout,
    r.batchNorm,
    r.glorot,
    r.norm,
    r.epochs,
    r.augmentedCopies,
    poolFolds ? "all folds" : r.fold,
  ]);
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
const stat = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : null;
  return { m, sd };
};
const pct = (xs) => {
  const { m, sd } = stat(xs.map((x) => x * 100));
  return sd === null ? `${m.toFixed(2)}` : `${m.toFixed(2)} ± ${sd.toFixed(2)}`;
};
const num = (xs, d = 3) => {
  const { m, sd } = stat(xs);
  return sd === null ? m.toFixed(d) : `${m.toFixed(d)} ± ${sd.toFixed(d)}`;
};
console.log("| corpus | arch | protocol | dropout | BN | Glorot | norm | seeds | accuracy % | UAR % | danger AUC | danger recall@0.5 | danger precision@0.5 | train−val acc gap | quantized acc % |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const rs of groups.values()) {
  const r0 = rs[0];
  const arch = r0.arch === "gru" ? "gru" : r0.arch;
  const q = rs.filter((r) => r.quantized).map((r) => r.quantized.accuracy);
  console.log(
    `| ${r0.corpora.map((c) => c.name).join("+")} | ${arch} | ${r0.protocol}${r0.protocol === "speaker" ? ` (fold${rs.length > 1 && poolFolds ? "s" : ""} ${[...new Set(rs.map((r) => r.fold + 1))].join(",")}/${r0.folds})` : ""} | ${r0.arch === "gru" ? "–" : r0.dropout} | ${r0.arch === "egru" ? (r0.batchNorm ? "yes" : "no") : "–"} | ${r0.arch === "egru" ? (r0.glorot ? "yes" : "no") : "–"} | ${r0.norm} | ${[...new Set(rs.map((r) => r.seed))].join(",")} | ${pct(rs.map((r) => r.test.accuracy))} | ${pct(rs.map((r) => r.test.macro_recall))} | ${num(rs.map((r) => r.test.danger.auc))} | ${num(rs.map((r) => r.test.danger.recall), 2)} | ${num(rs.map((r) => r.test.danger.precision), 2)} | ${rs.every((r) => r.last_epoch_gap) ? pct(rs.map((r) => r.last_epoch_gap.acc)) : "–"} | ${q.length ? pct(q) : "–"} |`,
  );
}
console.log("\nCommands (one per group):\n");
for (const rs of groups.values()) console.log(`    ${rs[0].command}`);
