/**
 * Runs once before the test files: compiles src/ to dist/ so the integration tests that start
 * the real CLI as a child process (`node dist/src/cli/main.js run`) test the current code.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
  const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) {
    // tsc still emits on type errors; the integration tests fail loudly if what they run is broken.
    console.warn(`[global-setup] tsc -p tsconfig.build.json reported errors:\n${(r.stdout + r.stderr).slice(0, 4000)}`);
  }
  if (!existsSync(`${root}/dist/src/cli/main.js`)) throw new Error("[global-setup] dist/src/cli/main.js was not built");
}
