import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { doctorVersions, formatVersions } from "../../../src/cli/doctor-command.js";
import { parseConfig } from "../../../src/config/load.js";
import { REPO_ROOT } from "../../integration/daemon/harness.js";

describe("doctor versions", () => {
  it("names earwitness, Node.js and the model that would run (the shipped one on a fresh unit)", async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), "ew-dv-"));
    try {
      const r = parseConfig(`state_dir: ${stateDir}\n`, { env: {}, hostname: "h" });
      if (!r.ok) throw new Error(r.issues.join("\n"));
      const v = await doctorVersions(r.config);
      const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
      expect(v.earwitness).toBe(pkg.version);
      expect(v.node).toBe(process.version);
      expect(v.model?.dir.startsWith(path.join(REPO_ROOT, "models"))).toBe(true);
      expect(v.model?.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(formatVersions(v)).toMatch(new RegExp(`^earwitness ${pkg.version} · Node\\.js v\\d+\\.\\d+\\.\\d+ · model \\S+ \\S+ \\(sha256 [0-9a-f]{12}…\\)$`));
      expect(formatVersions({ ...v, model: null })).toContain("model: none readable");
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
