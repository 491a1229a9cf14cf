#!/usr/bin/env node
// Makes a shippable bundle of a training run: copies RUN's bundle (bundle.json, model.json,
// weights.bin) to OUT under a release name and version, with its model card, and re-stamps the
// hashes. The run is verified first (hashes, feature spec), so a damaged run never ships.
//
//   node scripts/release-bundle.mjs RUN OUT --name NAME --version V --card CARD.md
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { bundleJsonBytes, CARD_FILE, rehashBundle, verifyBundleFiles } from "../dist/src/model/bundle.js";

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" }, version: { type: "string" }, card: { type: "string" } },
});
const [run, out] = positionals;
if (!run || !out || !v.name || !v.version || !v.card) {
  process.stderr.write("usage: node scripts/release-bundle.mjs RUN OUT --name NAME --version V --card CARD.md\n");
  process.exit(64);
}
const { meta } = await verifyBundleFiles(run);
await mkdir(out, { recursive: true });
for (const f of Object.keys(meta.files).filter((f) => f !== CARD_FILE)) await copyFile(path.join(run, f), path.join(out, f));
await copyFile(v.card, path.join(out, CARD_FILE));
// bundleJsonBytes re-stamps meta_sha256 for the new name and version.
const renamed = { ...meta, name: v.name, version: v.version, files: Object.fromEntries(Object.entries(meta.files).filter(([f]) => f !== CARD_FILE)) };
await writeFile(path.join(out, "bundle.json"), bundleJsonBytes(renamed));
await rehashBundle(out, [CARD_FILE]);
const check = await verifyBundleFiles(out);
process.stdout.write(`released ${check.meta.name} ${check.meta.version} in ${out} (bundle.json sha256 ${check.sha256.slice(0, 12)}…)\n`);
