import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CalibrationReport } from "../../../src/calibrate/report.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { parseSvg, pointsOf, withAttr } from "../../fixtures/svg-check.js";
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
  exit_threshold: 0.4
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
  it("refuses 50 s of audio, naming it and --force; with --force it shows the figures but knows nothing of misses and applies nothing", async () => {
    // 50 s of quiet room noise (below the -60 dBFS energy gate: score 0) with one 8 s loud
    // passage: the constant model calls every loud window "angry" (p ≈ 0.96), long enough for
    // the default smoothing (ema 6) to rise past every threshold for 10 of 12 windows.
    const wav = await writeWav(path.join(dir, "short.wav"), noise(20, 0.0005, 1), noise(8, 0.3, 2), noise(22, 0.0005, 3));
    const cfg = path.join(dir, "short.yaml");
    const original = CONFIG(path.join(dir, "model"), path.join(dir, "state"));
    await writeFile(cfg, original);
    const refused = await run(["calibrate", "--input", wav, "--config", cfg, "--apply"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/TOO_LITTLE_AUDIO: only 50.0 s of audio was scored; calibration needs at least 10 min[\s\S]*--force/);
    const forced = await run(["calibrate", "--input", wav, "--config", cfg, "--json", "--force", "--apply"]);
    expect(forced.code, forced.stderr).toBe(1);
    const report = JSON.parse(forced.stdout) as CalibrationReport;
    expect(report.audioHours * 3600).toBeCloseTo(50, 3);
    for (const c of report.candidates) expect(c.alerts, JSON.stringify(c)).toBe(1);
    expect(report.passages).toBe(0);
    expect(report.recommended).toBeNull();
    expect(forced.stderr).toMatch(/nothing applied/);
    expect(await readFile(cfg, "utf8")).toBe(original);
  });

  it("on 11 minutes: false alerts beside catches of the mixed danger, recommends the defaults when nothing beats them, and applies them with a backup", async () => {
    // The loud 4 s raises one false alert under every setting; the mixed passages (speech level,
    // far above the gate) score ~0.96 too, so every setting catches them all: nothing beats the
    // defaults, and the config's provisional 0.6 goes back to them.
    const wav = await writeWav(path.join(dir, "room.wav"), noise(200, 0.0005, 1), noise(4, 0.3, 2), noise(456, 0.0005, 3));
    const cfg = path.join(dir, "config.yaml");
    const original = CONFIG(path.join(dir, "model"), path.join(dir, "state"));
    await writeFile(cfg, original);
    const plots = path.join(dir, "plots");
    const applied = await run(["calibrate", "--input", wav, "--config", cfg, "--apply", "--plots", plots]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/false alerts {2}per hour {2}caught/);
    expect(applied.stdout).toMatch(/caught: of \d+ danger passages \(the bundled angry sentences/);
    expect(applied.stdout).toMatch(/recommended: the defaults/);
    const passages = Number(/caught: of (\d+) danger passages/.exec(applied.stdout)![1]);
    expect(passages).toBeGreaterThanOrEqual(5);
    expect(applied.stdout).toMatch(new RegExp(`0\\.75 {3}0\\.55 {2}2/3 +1 +5\\.45 {2}${passages}/${passages} 100%`));
    expect(applied.stderr).toMatch(/previous file kept as .*config.yaml.bak/);
    // Progress on stderr as plain lines (not a terminal), done once the audio was scored.
    expect(applied.stderr).toMatch(/^calibrate: done, 660\/660 s of audio/m);
    expect(applied.stderr).not.toContain("\r");

    // The chart: false alerts per hour (1 in 11 min: 5.45/h) and catches, against the threshold at
    // the recommended 2 of 3 (the defaults).
    expect(applied.stderr).toContain(`pictures: ${path.join(plots, "calibration.svg")}`);
    expect((await readdir(plots)).sort()).toEqual(["calibration-k-of-n.svg", "calibration.svg"]);
    const svg = parseSvg(await readFile(path.join(plots, "calibration.svg"), "utf8"));
    expect(withAttr(svg, "data-role", "title")[0]!.text).toMatch(/^False alerts per hour against the threshold — .*constant-angry .*k of n 2\/3 \(recommended\)$/);
    expect(pointsOf(withAttr(svg, "data-series", "false-alerts-per-hour")[0]!)).toHaveLength(11);
    expect(withAttr(svg, "data-y").map((e) => Number(e.attrs["data-y"]).toFixed(2))).toEqual(Array(11).fill("5.45"));
    expect(pointsOf(withAttr(svg, "data-series", "caught")[0]!)).toHaveLength(11);
    // The same catches as the report's table rows at 2 of 3 (the higher thresholds miss some).
    const tableCatches = [...applied.stdout.matchAll(/^\d\.\d\d {3}\d\.\d\d {2}2\/3 +\d+ +[\d.]+ {2}(\d+\/\d+) /gm)].map((m) => m[1]);
    expect(tableCatches).toHaveLength(11);
    expect(withAttr(svg, "data-caught").map((e) => `${e.attrs["data-caught"]}/${e.attrs["data-total"]}`)).toEqual(tableCatches);
    expect(tableCatches.every((c) => c!.endsWith(`/${passages}`))).toBe(true);
    expect(await readFile(`${cfg}.bak`, "utf8")).toBe(original);
    const now = await readFile(cfg, "utf8");
    expect(now).toContain("# the kitchen unit");
    expect(now).toContain("# provisional");
    expect(now).toMatch(/enter_threshold: 0.75/);
    expect(now).toMatch(/exit_threshold: 0.55/);
    expect(now).toMatch(/cooldown_s: 10/);
    const check = await run(["config", "check", cfg]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 300_000);

  it("asks for one source of scores, and refuses --minutes under the minimum", async () => {
    const r = await run(["calibrate"]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/one of --from-daemon .* --minutes N .* --input FILE/);
    const short = await run(["calibrate", "--minutes", "5"]);
    expect(short.code).toBe(64);
    expect(short.stderr).toMatch(/--minutes 5 is under the 10-minute minimum; listen longer, or add --force/);
  });
});
