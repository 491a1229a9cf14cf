import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CalibrationReport } from "../../../src/calibrate/report.js";
import { packageRoot } from "../../../src/assemble/paths.js";
import { runCli, type CliResult } from "../daemon/harness.js";

let dir: string;
const run = (args: string[]): Promise<CliResult> => runCli(args, { HOME: dir, TMPDIR: dir });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-agree-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("what is measured is what runs (issue 14, point 2)", () => {
  it("calibrate --input X and replay X score the same windows the same way, with the shipped pair of models", async () => {
    const wav = path.join(packageRoot(), "demo", "demo.wav");
    const cfg = path.join(dir, "config.yaml");
    // The defaults (both branches) without the speech branch's smoothing, so the score calibrate
    // sweeps is each window's danger as replay reports it; an output so the config is a unit's.
    await writeFile(cfg, `state_dir: ${path.join(dir, "state")}\ngpio: { led: 17 }\ndetect:\n  smoothing: { method: none }\n`);
    const calibrated = await run(["calibrate", "--input", wav, "--config", cfg, "--json", "--force"]);
    expect(calibrated.code, calibrated.stderr).toBe(0);
    const report = JSON.parse(calibrated.stdout) as CalibrationReport;
    const replayed = await run(["replay", "--config", cfg, "--json", "--windows", wav]);
    expect(replayed.code, replayed.stderr).toBe(0);
    const windows = replayed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; danger?: number; scream?: number })
      .filter((l) => l.type === "window");
    // The scream branch runs in both (replay shows its score on every window).
    expect(windows.every((w) => typeof w.scream === "number")).toBe(true);
    expect(report.windows).toBe(windows.length);
    const max = Math.max(...windows.map((w) => w.danger!));
    expect(max).toBeGreaterThan(0.5);
    expect(report.maxScore).toBeCloseTo(max, 3);
  }, 120_000);
});
