import { readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../assemble/paths.js";

/** earwitness's version, from its package.json ("unknown" when that cannot be read). */
export function softwareVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
