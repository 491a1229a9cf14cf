/**
 * The daemon's process does not import tfjs for a bundle the lean engine runs (issue 14, point 7:
 * tfjs and its wasm were about 20 MB of its resident memory): no module that `earwitness run` or
 * `earwitness demo` loads imports @tensorflow/* statically. tfjs is loaded with `await import()`
 * only for bundles that need it (assemble/model.ts loadBundleForEngine);
 * test/integration/daemon/no-tfjs.test.ts checks the running daemon itself.
 *
 * Each file is compiled as tsc compiles it (ts.transpileModule: imports used only as types are
 * erased), and its remaining static import and export-from declarations are followed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

const compiled = new Map<string, string[]>();

/** Specifiers of the static imports and re-exports that survive compilation (no `import()`). */
function staticImports(file: string): string[] {
  const known = compiled.get(file);
  if (known) return known;
  const js = ts.transpileModule(readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  }).outputText;
  const out: string[] = [];
  const src = ts.createSourceFile(file.replace(/\.ts$/, ".js"), js, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
  for (const stmt of src.statements) {
    if ((ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) && stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier)) {
      out.push(stmt.moduleSpecifier.text);
    }
  }
  compiled.set(file, out);
  return out;
}

/** Every module reachable from `entry` by static imports, with the chain that reaches it. */
function reachable(entry: string): { files: Map<string, string[]>; packages: Map<string, string[]> } {
  const files = new Map<string, string[]>([[entry, [entry]]]);
  const packages = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const chain = files.get(file)!;
    for (const spec of staticImports(file)) {
      if (!spec.startsWith(".")) {
        if (!packages.has(spec)) packages.set(spec, [...chain, spec]);
        continue;
      }
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts"));
      if (!files.has(target)) {
        files.set(target, [...chain, target]);
        queue.push(target);
      }
    }
  }
  return { files, packages };
}

const rel = (chain: string[]): string => chain.map((f) => (f.startsWith(ROOT) ? path.relative(ROOT, f) : f)).join(" → ");

describe("the daemon's static imports", () => {
  for (const entry of ["src/cli/run-command.ts", "src/cli/demo-command.ts", "src/cli/main.ts"]) {
    it(`${entry} reaches no @tensorflow package`, () => {
      const { files, packages } = reachable(path.join(ROOT, entry));
      const tf = [...packages].filter(([p]) => p.startsWith("@tensorflow/")).map(([, chain]) => rel(chain));
      expect(tf).toEqual([]);
      if (entry !== "src/cli/main.ts") {
        // Not vacuous: the walk reaches the model loading and the packages the daemon does use.
        expect([...files.keys()].map((f) => path.relative(ROOT, f))).toEqual(
          expect.arrayContaining(["src/assemble/model.ts", "src/model/lean-artifacts.ts", "src/model/bundle-files.ts", "src/pipeline.ts"]),
        );
        expect([...packages.keys()]).toEqual(expect.arrayContaining(["mqtt", "meyda"]));
      }
    });
  }

  it("would see a tfjs import: the tools' model modules import it", () => {
    const { packages } = reachable(path.join(ROOT, "src/model/bundle.ts"));
    expect([...packages.keys()]).toContain("@tensorflow/tfjs");
  });
});
