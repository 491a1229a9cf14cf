import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { configuredOutputs } from "../../../src/config/outputs.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function outputs(yaml: string | null): string[] {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return configuredOutputs(r.config);
}

describe("configured outputs", () => {
  it("finds none in the defaults and in the shipped example config", async () => {
    expect(outputs(null)).toEqual([]);
    expect(outputs(await readFile(path.join(repo, "config/earwitness.example.yaml"), "utf8"))).toEqual([]);
  });

  it("counts a LED, a buzzer, MQTT with a URL, and the console; not a button alone", () => {
    expect(outputs("gpio: { led: 17 }\n")).toEqual(["gpio led GPIO17"]);
    expect(outputs("gpio: { buzzer: { pin: { chip: tegra234-gpio, line: 43 } } }\n")).toEqual(["gpio buzzer tegra234-gpio line 43"]);
    expect(outputs("gpio: { button: 22 }\n")).toEqual([]);
    expect(outputs("mqtt: { enabled: true, url: mqtt://hub:1883 }\n")).toEqual(["mqtt mqtt://hub:1883"]);
    expect(outputs("mqtt: { enabled: false, url: mqtt://hub:1883 }\n")).toEqual([]);
    expect(outputs("gpio: { driver: console }\n")).toHaveLength(1);
  });
});
