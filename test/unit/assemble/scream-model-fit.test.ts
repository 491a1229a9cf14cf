import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { shippedModelDir } from "../../../src/assemble/paths.js";
import { parseConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { checkScreamModelFitsConfig } from "../../../src/assemble/model.js";
import { ConfigError } from "../../../src/errors.js";
import type { BundleMeta } from "../../../src/model/bundle.js";

function config(yaml: string): Config {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

const shippedMeta = async (): Promise<BundleMeta> => JSON.parse(await readFile(path.join(shippedModelDir(), "bundle.json"), "utf8")) as BundleMeta;

describe("checkScreamModelFitsConfig", () => {
  const cfg = config("detect:\n  screams:\n    model_dir: /opt/home\n");

  it("accepts a scream model with a scream class reading the speech model's features", async () => {
    const speech = await shippedMeta();
    const home = { name: "home", labels: [...speech.labels, "scream", "sound"], features: speech.features };
    expect(() => checkScreamModelFitsConfig(cfg, home, speech)).not.toThrow();
  });

  it("refuses a bundle without a scream class, naming the setting and the model's labels", async () => {
    const speech = await shippedMeta();
    // the shipped speech model itself has no scream class
    let err: unknown;
    try {
      checkScreamModelFitsConfig(cfg, speech, speech);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^detect\.screams\.model_dir \(\/opt\/home\): model .* has no "scream" class \(its labels: angry, /);
  });

  it("names the shipped scream model when no model_dir is configured", async () => {
    const speech = await shippedMeta();
    expect(() => checkScreamModelFitsConfig(config("detect:\n  screams:\n    enabled: true\n"), speech, speech)).toThrow(/^the shipped scream model \(detect\.screams\): model .* has no "scream" class/);
  });

  it("refuses a scream model that reads other features", async () => {
    const speech = await shippedMeta();
    const home = { name: "home", labels: ["scream", "sound"], features: { ...speech.features, windowSteps: speech.features.windowSteps + 1 } };
    expect(() => checkScreamModelFitsConfig(cfg, home, speech)).toThrow(/reads other features than model/);
  });
});
