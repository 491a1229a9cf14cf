/**
 * `earwitness bench --streams DIR --sweep --write-config FILE` from the command line: streams built
 * from a small corpus, the sweep's Pareto front and choice in the results file, and the chosen
 * setting written as a config file that `config check` accepts and `bench --config` then runs.
 * The model is the constant-angry bundle, so the figures themselves are not the point here
 * (test/unit/bench/sweep.test.ts checks that a replayed setting raises the pipeline's alerts).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepSettings } from "../../../src/bench/sweep.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { noise, runCli, silence, writeWav, type CliResult } from "../daemon/harness.js";

let dir: string;

const run = (args: string[]): Promise<CliResult> => runCli(args, { HOME: dir, TMPDIR: dir });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-sweep-"));
  await writeConstantBundle(path.join(dir, "model"));
  const corpus = path.join(dir, "corpus");
  await mkdir(corpus);
  const lines = ["path,label,speaker"];
  let seed = 1;
  for (const speaker of ["a", "b"]) {
    for (const label of ["angry", "neutral", "sad"]) {
      for (let k = 0; k < 3; k++) {
        const file = `${speaker}-${label}-${k}.wav`;
        await writeWav(path.join(corpus, file), silence(0.2), noise(2, 0.2, seed++), silence(0.2));
        lines.push(`${file},${label},${speaker}`);
      }
    }
  }
  await writeFile(path.join(corpus, "manifest.csv"), lines.join("\n") + "\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const STREAMS = (): string[] => ["bench", "--no-pin", "--streams", path.join(dir, "corpus"), "--stream-minutes", "3", "--per-dir", "1", "--model", path.join(dir, "model")];

describe("earwitness bench --sweep", () => {
  it("writes the Pareto front, the choice, and a config file that checks and runs", { timeout: 120_000 }, async () => {
    const out = path.join(dir, "results.json");
    const chosen = path.join(dir, "chosen.yaml");
    const r = await run([...STREAMS(), "--sweep", "--write-config", chosen, "--out", out]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Pareto front/);
    expect(r.stdout).toMatch(/chosen \(/);
    const results = JSON.parse(await readFile(out, "utf8")) as {
      sweep: { settings: number; front: unknown[]; kind_front: unknown[]; choice: { config: Record<string, unknown>; rule: string } };
      quality: { traces?: unknown };
    };
    expect(results.sweep.settings).toBeGreaterThan(1000);
    expect(results.sweep.front.length).toBeGreaterThan(0);
    // Every point of the totals' front is on the front by kind too.
    expect(results.sweep.kind_front.length).toBeGreaterThanOrEqual(results.sweep.front.length);
    // Per-window traces are for the sweep only; the results file stays small.
    expect(results.quality.traces).toBeUndefined();

    const yaml = await readFile(chosen, "utf8");
    expect(yaml).toMatch(/^# Detector settings chosen by earwitness bench --sweep/);
    for (const key of ["enter_threshold", "exit_threshold", "k", "n", "min_duration_s", "hold_s", "cooldown_s", "smoothing"]) {
      expect(yaml).toContain(`${key}:`);
    }
    // The file is a detect section to put into a unit's config; a unit's config also needs an
    // output, or `config check` fails it (issue 12), so check it as part of one.
    const unit = path.join(dir, "unit.yaml");
    await writeFile(unit, `${yaml}gpio: { led: 17 }\n`);
    const check = await run(["config", "check", unit]);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    const alone = await run(["config", "check", chosen]);
    expect(alone.stderr).toMatch(/no output configured/);
    const again = await run([...STREAMS(), "--config", chosen, "--out", path.join(dir, "again.json")]);
    expect(again.code, again.stderr).toBe(0);
  });

  it("--sweep-cooldown holds the cooldown: every setting on the front, and the choice, use it", { timeout: 120_000 }, async () => {
    const out = path.join(dir, "held.json");
    const chosen = path.join(dir, "held.yaml");
    const r = await run([...STREAMS(), "--sweep", "--sweep-cooldown", "10", "--write-config", chosen, "--out", out]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const results = JSON.parse(await readFile(out, "utf8")) as { sweep: { settings: number; front: { setting: { cooldownMs: number } }[] } };
    // One cooldown of the default three: a third of the settings.
    expect(results.sweep.settings).toBe(sweepSettings().length / 3);
    expect(results.sweep.front.length).toBeGreaterThan(0);
    for (const f of results.sweep.front) expect(f.setting.cooldownMs).toBe(10_000);
    expect(await readFile(chosen, "utf8")).toMatch(/cooldown_s: 10\n/);
  });

  it("--sweep-margin holds each setting's loosened false alerts to the target and says so", { timeout: 120_000 }, async () => {
    const out = path.join(dir, "margin.json");
    const chosen = path.join(dir, "margin.yaml");
    const r = await run([...STREAMS(), "--sweep", "--sweep-cooldown", "10", "--sweep-margin", "0.2", "--write-config", chosen, "--out", out]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const results = JSON.parse(await readFile(out, "utf8")) as { sweep: { choice: { rule: string; margin: { by: number; false_alerts_per_h: number }; summary: { false_alerts_per_h: number } } } };
    const { choice } = results.sweep;
    expect(choice.margin.by).toBe(0.2);
    // Lowering the thresholds never removes a false alert of the constant-angry model.
    expect(choice.margin.false_alerts_per_h).toBeGreaterThanOrEqual(choice.summary.false_alerts_per_h);
    expect(choice.rule).toMatch(/thresholds 0\.2 lower/);
    expect(r.stdout).toMatch(/with thresholds 0\.2 lower it raises [\d.]+ false alerts\/h there/);
    expect(await readFile(chosen, "utf8")).toMatch(/false alerts\/h with thresholds 0\.2 lower\)/);
    const tooWide = await run([...STREAMS(), "--sweep", "--sweep-margin", "0.9"]);
    expect(tooWide.code).toBe(64);
    expect(tooWide.stderr).toMatch(/sweep-margin/);
    const alone = await run([...STREAMS(), "--sweep-margin", "0.2"]);
    expect(alone.code).toBe(64);
    expect(alone.stderr).toMatch(/--sweep-margin needs --sweep/);
  });

  it("--sweep-acceptance chooses only among settings that raise the asked alerts on a recording", { timeout: 120_000 }, async () => {
    // The constant-angry model alerts on any audible recording: once on 6 s of speech-level noise.
    const loud = await writeWav(path.join(dir, "loud.wav"), silence(1), noise(6, 0.2, 99), silence(1));
    const out = path.join(dir, "accept.json");
    const r = await run([...STREAMS(), "--sweep", "--sweep-cooldown", "10", "--sweep-acceptance", `${loud}=1`, "--out", out]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const results = JSON.parse(await readFile(out, "utf8")) as { sweep: { settings: number; acceptance: { eligible: number; recordings: unknown[] }; choice: { rule: string } } };
    expect(results.sweep.acceptance.recordings).toEqual([{ file: loud, alerts: 1 }]);
    expect(results.sweep.acceptance.eligible).toBeGreaterThan(0);
    expect(results.sweep.acceptance.eligible).toBeLessThanOrEqual(results.sweep.settings);
    expect(results.sweep.choice.rule).toMatch(/among the \d+ settings that pass the acceptance recordings/);
    expect(r.stdout).toMatch(/acceptance: \d+ of \d+ settings raise exactly 1 alert\(s\) on .*loud\.wav; the choice is among them/);
    // Asked for one alert and for none on the same recording, no setting passes: nothing is chosen, and it says why.
    const none = await run([...STREAMS(), "--sweep", "--sweep-cooldown", "10", "--sweep-acceptance", `${loud}=1`, "--sweep-acceptance", `${loud}=0`, "--write-config", path.join(dir, "never.yaml"), "--out", path.join(dir, "never.json")]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no swept setting raises exactly 1 alert\(s\) on .*loud\.wav and 0 alert\(s\) on .*loud\.wav; nothing chosen/);
    await expect(readFile(path.join(dir, "never.yaml"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    const bad = await run([...STREAMS(), "--sweep", "--sweep-acceptance", loud]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/is not FILE=N/);
    const alone = await run([...STREAMS(), "--sweep-acceptance", `${loud}=1`]);
    expect(alone.code).toBe(64);
    expect(alone.stderr).toMatch(/--sweep-acceptance needs --sweep/);
  });

  it("refuses a --sweep-cooldown that is not seconds, or without --sweep", async () => {
    const bad = await run([...STREAMS(), "--sweep", "--sweep-cooldown", "10,soon"]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--sweep-cooldown: "soon" is not a cooldown in seconds/);
    const alone = await run([...STREAMS(), "--sweep-cooldown", "10"]);
    expect(alone.code).toBe(64);
    expect(alone.stderr).toMatch(/--sweep-cooldown needs --sweep/);
  });

  it("refuses --speakers validation for a bundle that records no split, and --sweep without streams", async () => {
    const r = await run([...STREAMS(), "--speakers", "validation", "--sweep"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/lists no validation speakers/);
    const s = await run(["bench", "--no-pin", "--sweep"]);
    expect(s.code).not.toBe(0);
    expect(s.stderr + s.stdout).toMatch(/--sweep needs --streams/);
  });
});
