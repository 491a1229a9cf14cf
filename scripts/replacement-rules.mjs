#!/usr/bin/env node
// Rules 2 and 3 of docs/detection.md ("The rule for replacing the shipped model") on one draw of
// held-out streams, with session 15's condition beside rule 3: each pair at its own setting (the
// shipped pair at the shipped defaults, the candidate at its chosen setting).
//   2. among non-verbal sounds: fewer false alerts an hour, and at least as many screams;
//   3. at home: no more false alerts an hour (and, session 15: at least as many passages caught).
// Rule 1 reads the home fronts: node scripts/rule1-by-kind.mjs SHIPPED.home.json CANDIDATE.home.json
//   node scripts/replacement-rules.mjs SHIPPED.home.json SHIPPED.sounds.json CANDIDATE.home.json CANDIDATE.sounds.json
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
if (files.length !== 4) {
  console.error("usage: node scripts/replacement-rules.mjs SHIPPED.home.json SHIPPED.sounds.json CANDIDATE.home.json CANDIDATE.sounds.json");
  process.exit(64);
}
const summary = (f) => {
  const s = JSON.parse(readFileSync(f, "utf8")).quality?.summary;
  if (!s) throw new Error(`${f}: no quality summary (a bench --streams result)`);
  return s;
};
const [shipHome, shipSounds, candHome, candSounds] = files.map(summary);
const fa = (s) => s.false_alerts_per_h.toFixed(2);
const rule2 = candSounds.false_alerts_per_h < shipSounds.false_alerts_per_h && candSounds.by_kind.scream.caught >= shipSounds.by_kind.scream.caught;
const rule3 = candHome.false_alerts_per_h <= shipHome.false_alerts_per_h;
const catches = candHome.caught >= shipHome.caught;
const verdict = (ok) => (ok ? "passes" : "fails");
console.log(`rule 2 (sounds): candidate ${fa(candSounds)} / h, ${candSounds.by_kind.scream.caught} screams; shipped ${fa(shipSounds)} / h, ${shipSounds.by_kind.scream.caught} — ${verdict(rule2)}`);
console.log(`rule 3 (home): candidate ${fa(candHome)} / h; shipped ${fa(shipHome)} / h — ${verdict(rule3)}`);
console.log(`catches at home: candidate ${candHome.caught} of ${candHome.passages}; shipped ${shipHome.caught} — ${verdict(catches)}`);
console.log(`rules 2, 3 and catches: ${verdict(rule2 && rule3 && catches)}`);
process.exit(rule2 && rule3 && catches ? 0 : 1);
