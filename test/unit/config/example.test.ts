import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseConfig } from "../../../src/config/load.js";
import { ConfigFileSchema } from "../../../src/config/schema.js";
import { keysAt, leafPaths } from "../../../src/config/schema-walk.js";

const EXAMPLE = fileURLToPath(new URL("../../../config/earwitness.example.yaml", import.meta.url));

/** Every key path in a parsed YAML value, intermediate mappings included. */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const path = prefix === "" ? k : `${prefix}.${k}`;
    return [path, ...keyPaths(v, path)];
  });
}

describe("config/earwitness.example.yaml", () => {
  it("parses and equals the defaults", async () => {
    const text = await readFile(EXAMPLE, "utf8");
    const fromExample = parseConfig(text, { env: {}, hostname: "host", sourceName: EXAMPLE });
    const defaults = parseConfig(null, { env: {}, hostname: "host" });
    if (!fromExample.ok) throw new Error(fromExample.issues.join("\n"));
    // The example overrides nothing: every value in it is the default, so the docs cannot lie.
    expect(fromExample).toEqual(defaults);
  });

  it("documents every key of the schema", async () => {
    const text = await readFile(EXAMPLE, "utf8");
    const present = new Set(keyPaths(YAML.parse(text)));
    const comments = text
      .split("\n")
      .filter((l) => l.trimStart().startsWith("#"))
      .join("\n");
    const leaves = leafPaths(ConfigFileSchema);
    expect(leaves.length).toBeGreaterThan(50);
    const missing = leaves.filter((l) => !l.alternative && !present.has(l.path)).map((l) => l.path);
    expect(missing).toEqual([]);
    // Keys that only exist in an alternative form (a GPIO pin as { chip, line }) must at least
    // be shown in a comment.
    const undocumented = leaves
      .filter((l) => l.alternative && !present.has(l.path))
      .map((l) => l.path.split(".").pop() ?? "")
      .filter((key) => !new RegExp(`\\b${key}:`).test(comments));
    expect(undocumented).toEqual([]);
  });
});

describe("schema walking", () => {
  it("lists leaf paths, marking keys of alternative forms", () => {
    const leaves = leafPaths(ConfigFileSchema);
    const byPath = new Map(leaves.map((l) => [l.path, l.alternative]));
    expect(byPath.get("detect.enter_threshold")).toBe(false);
    expect(byPath.get("detect.danger.weights")).toBe(false);
    expect(byPath.get("gpio.led")).toBe(false);
    expect(byPath.get("gpio.led.pin")).toBe(true);
    expect(byPath.get("gpio.led.pin.chip")).toBe(true);
    expect(byPath.has("detect")).toBe(false);
  });

  it("knows the keys valid at a path", () => {
    expect(keysAt(ConfigFileSchema, ["mqtt", "discovery"])).toEqual(["enabled", "prefix"]);
    expect(keysAt(ConfigFileSchema, ["gpio", "led"])).toEqual(["pin", "active_low"]);
    expect(keysAt(ConfigFileSchema, ["gpio", "led", "pin"])).toEqual(["chip", "line"]);
    expect(keysAt(ConfigFileSchema, ["nope"])).toEqual([]);
  });
});
