import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CalibrationReport } from "../../../src/calibrate/report.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { noise, runCli, writeWav, type CliResult } from "../daemon/harness.js";

let dir: string;

const run = (args: string[]): Promise<CliResult> => runCli(args, { HOME: dir, TMPDIR: dir });

const CONFIG = (modelDir: string, stateDir: string) => `# the kitchen unit
state_dir: ${stateDir}
model: { dir: ${modelDir}, backend: cpu }
# A unit's config has an output, or config check fails it (calibrate itself drives no GPIO).
gpio: { led: 17 }
detect:
  # provisional
  enter_threshold: 0.6
  cooldown_s: 10
`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ew-calibrate-"));
  await writeConstantBundle(path.join(dir, "model"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("earwitness calibrate on a recording", () => {
  it("counts the loud passage as an alert for every candidate, recommends and applies with a backup", async () => {
    // 50 s of quiet room noise (below the -60 dBFS energy gate: score 0) with one 4 s loud
    // passage: the constant model calls every loud window "angry" (p ≈ 0.96).
    const wav = await writeWav(path.join(dir, "room.wav"), noise(20, 0.0005, 1), noise(4, 0.3, 2), noise(26, 0.0005, 3));
    const cfg = path.join(dir, "config.yaml");
    const original = CONFIG(path.join(dir, "model"), path.join(dir, "state"));
    await writeFile(cfg, original);

    const json = await run(["calibrate", "--input", wav, "--config", cfg, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as CalibrationReport;
    expect(report.audioHours * 3600).toBeCloseTo(50, 3);
    expect(report.maxScore).toBeGreaterThan(0.9);
    // One incident in 50 s = 72 alerts/h, whatever the thresholds (the score is 0 or ~0.96).
    for (const c of report.candidates) expect(c.alerts, JSON.stringify(c)).toBe(1);
    expect(report.recommended).toBeNull();

    // A generous target accepts them all: the most sensitive is recommended and applied.
    const applied = await run(["calibrate", "--input", wav, "--config", cfg, "--target-per-hour", "100", "--apply"]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/recommended: enter_threshold 0.4, exit_threshold 0.2, k 2, n 3/);
    expect(applied.stderr).toMatch(/previous file kept as .*config.yaml.bak/);
    expect(await readFile(`${cfg}.bak`, "utf8")).toBe(original);
    const now = await readFile(cfg, "utf8");
    expect(now).toContain("# the kitchen unit");
    expect(now).toContain("# provisional");
    expect(now).toMatch(/enter_threshold: 0.4/);
    expect(now).toMatch(/exit_threshold: 0.2/);
    expect(now).toMatch(/cooldown_s: 10/);
    // The result is a valid config.
    const check = await run(["config", "check", cfg]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it("asks for --minutes or --input", async () => {
    const r = await run(["calibrate"]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--minutes N to listen, or --input FILE/);
  });
});
