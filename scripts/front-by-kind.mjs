#!/usr/bin/env node
// The Pareto front of a `bench --streams … --sweep --out FILE` result, split by what was caught:
// at each false-alert budget, how many speech passages (angry/fear) and how many screams.
//   node scripts/front-by-kind.mjs runs/NAME.home.json… [--max 6]
import { readFileSync } from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const maxAt = args.indexOf("--max");
const max = maxAt >= 0 ? Number(args.splice(maxAt, 2)[1]) : 6;
const budgets = [0, 0.5, 1, 2, 5].filter((b) => b <= max);
console.log(["run", ...budgets.map((b) => `≤ ${b}/h speech+screams`)].join(" | "));
for (const file of args) {
  let j;
  try {
    j = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    console.error(`skipping ${file}: ${err.message}`);
    continue;
  }
  const front = j.sweep?.front;
  if (!front) {
    console.error(`skipping ${file}: no sweep (run bench with --sweep)`);
    continue;
  }
  const cells = budgets.map((b) => {
    // The front is ordered by false alerts; the best catch within the budget is the last inside it.
    const inside = front.filter((r) => r.summary.false_alerts_per_h <= b + 1e-9);
    const best = inside[inside.length - 1];
    if (!best) return "–";
    const k = best.summary.by_kind;
    return `${best.summary.caught}/${best.summary.passages} (${k.speech.caught}+${k.scream.caught})`;
  });
  console.log([path.basename(file, ".json"), ...cells].join(" | "));
}
