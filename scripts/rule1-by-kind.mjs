#!/usr/bin/env node
// Rule 1 of docs/detection.md ("The rule for replacing the shipped model"), read on each kind's
// own front as session 13 wrote it down before the next measurement: at each budget of 0, 0.5, 1
// and 2 false alerts an hour on the held-out home streams, the candidate must have *a* setting
// within the budget that catches at least as many screams as the shipped model's best point there
// and at most 2 fewer speech passages; and its best total must be higher at two or more budgets.
// Both files are `bench --streams … --mix home --held-out-of … --sweep --out FILE` results written
// by a bench that records `sweep.kind_front` (session 13 on).
//   node scripts/rule1-by-kind.mjs runs/SHIPPED.home.json runs/CANDIDATE.home.json
import { readFileSync } from "node:fs";

const [shippedFile, candidateFile] = process.argv.slice(2);
if (!shippedFile || !candidateFile) {
  console.error("usage: node scripts/rule1-by-kind.mjs SHIPPED.home.json CANDIDATE.home.json");
  process.exit(64);
}
const load = (f) => {
  const j = JSON.parse(readFileSync(f, "utf8"));
  if (!j.sweep?.front) throw new Error(`${f}: no sweep (run bench with --sweep)`);
  return j.sweep;
};
const shipped = load(shippedFile);
const candidate = load(candidateFile);
if (!candidate.kind_front) {
  console.error(`${candidateFile}: no kind_front (rerun its held-out home bench with a bench from session 13 on)`);
  process.exit(2);
}
const within = (front, b) => front.filter((r) => r.summary.false_alerts_per_h <= b + 1e-9);
const best = (front, b) => within(front, b).at(-1) ?? null;
const kinds = (r) => (r ? { speech: r.summary.by_kind.speech.caught, screams: r.summary.by_kind.scream.caught, all: r.summary.caught } : { speech: 0, screams: 0, all: 0 });
let ok = true;
let moreInAll = 0;
for (const b of [0, 0.5, 1, 2]) {
  const s = kinds(best(shipped.front, b));
  const c = kinds(best(candidate.front, b));
  const fit = within(candidate.kind_front, b).filter((r) => kinds(r).screams >= s.screams && kinds(r).speech >= s.speech - 2);
  const pick = fit.sort((x, y) => kinds(y).all - kinds(x).all)[0];
  if (c.all > s.all) moreInAll++;
  const pass = pick !== undefined;
  ok &&= pass;
  console.log(
    `≤ ${b}/h: shipped ${s.all} (${s.speech} speech + ${s.screams} screams); candidate's best ${c.all} (${c.speech} + ${c.screams}); ` +
      (pass ? `a setting with ${kinds(pick).speech} + ${kinds(pick).screams} keeps both kinds — passes` : `no setting keeps ≥ ${s.screams} screams and ≥ ${s.speech - 2} speech — fails`),
  );
}
console.log(`more passages in all at ${moreInAll} of 4 budgets (needs 2)`);
ok &&= moreInAll >= 2;
console.log(ok ? "rule 1 (by kind): passes" : "rule 1 (by kind): fails");
process.exit(ok ? 0 : 1);
