/**
 * Issue #11 §6, the reload side: SIGHUP gives `config check`'s verdict (config-verdicts.test.ts is
 * the start-up side). A running daemon handed a config with a missing model.dir, a danger label
 * the model lacks, a too-small outbox or a hop off the feature grid refuses it naming the key,
 * raises `reload_failed`, and keeps listening with the config it runs. The built CLI as a child
 * process, the fake `arecord`, real files.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { noise, startDaemon, writeWav, type LogLine } from "./harness.js";
import { daemonWorld } from "../world.js";

const world = daemonWorld("earwitness-reload-verdicts", { broker: false, bundle: true });
let quietWav: string;

beforeAll(async () => {
  quietWav = await writeWav(path.join(world.root, "quiet.wav"), noise(10, 0.0005, 4));
});

const CASES: { name: string; extra: (stateDir: string) => string; key: RegExp }[] = [
  { name: "missing model.dir", extra: () => `model: { dir: ${path.join(world.root, "nope")}, backend: cpu }`, key: /model\.dir/ },
  { name: "a danger label the model lacks", extra: () => "detect: { danger: { labels: [angry, disgust] } }", key: /detect\.danger\.labels.*disgust/ },
  { name: "a too-small outbox", extra: () => "mqtt: { outbox: { max_bytes: 2000 } }", key: /mqtt\.outbox\.max_bytes/ },
  { name: "a hop off the feature grid", extra: () => "detect: { hop_s: 0.125 }", key: /detect\.hop_s/ },
];

describe("SIGHUP gives config check's verdict (issue #11 §6)", () => {
  it("refuses each bad config naming the key, raises reload_failed, keeps running the old config, then accepts a good one", async () => {
    const dir = path.join(world.root, "reload");
    const stateDir = path.join(dir, "state");
    const tmp = path.join(dir, "tmp");
    await mkdir(stateDir, { recursive: true });
    await mkdir(tmp, { recursive: true });
    const configPath = path.join(dir, "config.yaml");
    const config = (...extra: string[]): string =>
      // The console indicator is an output: a configuration without one is refused for that alone.
      ["device_id: reload", `state_dir: ${stateDir}`, "log_level: info", "gpio: { driver: console }", "http: { enabled: false }", ...extra, ""].join("\n");
    const good = config(`model: { dir: ${world.bundleDir}, backend: cpu }`);
    await writeFile(configPath, good);
    const d = startDaemon(configPath, { FAKE_ARECORD_WAV: quietWav }, tmp);
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready", 30_000);

    for (const c of CASES) {
      const extra = c.extra(stateDir);
      // The bad key replaces the good model line only when it is about the model.
      await writeFile(configPath, extra.startsWith("model:") ? config(extra) : config(`model: { dir: ${world.bundleDir}, backend: cpu }`, extra));
      const before = d.lines.length;
      d.child.kill("SIGHUP");
      const refused = await d.waitLog(
        (l: LogLine) => d.lines.indexOf(l) >= before && typeof l.msg === "string" && l.msg.startsWith("reload refused"),
        `the refusal of ${c.name}`,
      );
      expect(refused.msg, c.name).toMatch(c.key);
      expect(refused.msg).toMatch(/keeps running/);
      const problem = await d.waitLog((l) => d.lines.indexOf(l) >= before && l.problem === "reload_failed", `reload_failed for ${c.name}`);
      expect(problem.msg, c.name).toMatch(c.key);
      expect(d.lines.slice(before).some((l) => l.msg === "configuration and model reloaded; they apply from the next window")).toBe(false);
      expect(d.alive()).toBe(true);
    }

    // Still the old config, still listening: a good config is taken and the problem clears.
    await writeFile(configPath, good);
    const before = d.lines.length;
    d.child.kill("SIGHUP");
    await d.waitLog((l) => d.lines.indexOf(l) >= before && l.msg === "configuration and model reloaded; they apply from the next window", "the good reload");
    await d.waitLog((l) => d.lines.indexOf(l) >= before && l.problem === "reload_failed" && l.msg === "problem cleared", "reload_failed cleared");
    expect(d.alive()).toBe(true);
  }, 90_000);
});
