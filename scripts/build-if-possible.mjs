// `prepare` runs on every `npm install`/`npm ci`. A development install has TypeScript and
// builds dist/; a production install (`npm ci --omit=dev`, as scripts/install.sh does) ships a
// prebuilt dist/ and has no compiler, so there is nothing to do.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  console.log("earwitness: TypeScript not installed (production install); using the prebuilt dist/");
  process.exit(0);
}
const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
process.exit(r.status ?? 1);
