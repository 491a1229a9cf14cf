import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { shippedModelDir } from "../../../src/assemble/paths.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { resolveModelDir } from "../../../src/assemble/model.js";

let dir = "";
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function config(yaml: string): Config {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

describe("which model runs", () => {
  it("prefers a flag, then model.dir, then the installed current model, then the shipped one", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "ew-modeldir-"));
    const base = config(`state_dir: ${dir}\n`);
    expect(await resolveModelDir(base)).toBe(shippedModelDir());
    await mkdir(path.join(dir, "models", "m@2"), { recursive: true });
    await symlink("m@2", path.join(dir, "models", "current"));
    expect(await resolveModelDir(base)).toBe(path.join(dir, "models", "m@2"));
    expect(await resolveModelDir(config(`state_dir: ${dir}\nmodel:\n  dir: /opt/x\n`))).toBe("/opt/x");
    expect(await resolveModelDir(base, "/flag")).toBe("/flag");
  });
});
