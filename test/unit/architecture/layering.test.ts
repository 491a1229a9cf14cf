/**
 * The house rules of issue 14, held by a test so they stay true: the tools (doctor, calibrate,
 * bench) and the model room import the assembly, never the CLI or the daemon; the daemon stays
 * split by concern, no file of it much over 450 lines.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(SRC, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
  );
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), "utf8");
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)|import\s+"([^"]+)"/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

describe("layering", () => {
  for (const room of ["doctor", "calibrate", "bench", "model"]) {
    it(`src/${room}/ imports neither cli/ nor daemon/`, () => {
      const bad = tsFiles(room).flatMap((f) =>
        specifiers(f)
          .filter((s) => s.startsWith("."))
          .map((s) => path.relative(SRC, path.resolve(path.join(SRC, path.dirname(f)), s)))
          .filter((target) => target.startsWith("cli/") || target.startsWith("daemon/"))
          .map((target) => `${f} → ${target}`),
      );
      expect(bad).toEqual([]);
    });
  }

  it("no file in src/daemon/ is over 460 lines", () => {
    const long = tsFiles("daemon")
      .map((f) => ({ f, lines: readFileSync(path.join(SRC, f), "utf8").split("\n").length }))
      .filter((x) => x.lines > 460);
    expect(long).toEqual([]);
  });

  it("finds the imports it checks (the scan is not vacuous)", () => {
    expect(specifiers("bench/pipeline-process.ts")).toContain("../assemble/node-flags.js");
    expect(tsFiles("bench").length).toBeGreaterThan(3);
  });
});
