import { mkdtemp, readFile, rm, stat, writeFile, chmod, chown } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyDetectUpdate, applyToConfigFile } from "../../../src/calibrate/apply.js";
import { parseConfig } from "../../../src/config/load.js";

// More cautious than the shipped defaults (0.85, 2 of 3): the safety rule lets it through.
const UPDATE = { enter_threshold: 0.9, exit_threshold: 0.7, k: 10, n: 12 };
const SAFE = { force: false };

const CONFIG = `# earwitness on the kitchen unit
device_id: kitchen   # shown in Home Assistant

detect:
  # tuned by hand in May
  enter_threshold: 0.6
  cooldown_s: 45 # neighbours are loud
mqtt:
  enabled: false
`;

function detectOf(text: string) {
  const r = parseConfig(text, { env: {}, hostname: "h" });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config.detect;
}

describe("applyDetectUpdate", () => {
  it("sets the four settings and keeps every comment and other key", () => {
    const out = applyDetectUpdate(CONFIG, UPDATE, "h", SAFE);
    for (const comment of ["# earwitness on the kitchen unit", "# shown in Home Assistant", "# tuned by hand in May", "# neighbours are loud"]) {
      expect(out).toContain(comment);
    }
    expect(detectOf(out)).toMatchObject({ enter_threshold: 0.9, exit_threshold: 0.7, k: 10, n: 12, cooldown_s: 45 });
  });

  it("fills an empty or missing detect section, and an empty file", () => {
    expect(detectOf(applyDetectUpdate("detect:\n  # all defaults\nlog_level: info\n", UPDATE, "h", SAFE))).toMatchObject({ k: 10, n: 12 });
    expect(detectOf(applyDetectUpdate("log_level: debug\n", UPDATE, "h", SAFE))).toMatchObject({ enter_threshold: 0.9 });
    expect(detectOf(applyDetectUpdate("", UPDATE, "h", SAFE))).toMatchObject({ exit_threshold: 0.7 });
  });

  it("validates the result with the schema and refuses an invalid one", () => {
    // Exit ≥ enter: the schema's own cross-field rule.
    expect(() => applyDetectUpdate(CONFIG, { ...UPDATE, exit_threshold: 0.95 }, "h", SAFE)).toThrow(/enter_threshold.*must be greater than detect.exit_threshold[\s\S]*nothing was written/);
    expect(() => applyDetectUpdate("detect: [1, 2\n", UPDATE, "h", SAFE)).toThrow(/does not parse/);
  });
});

describe("the safety rule of --apply", () => {
  it("refuses a setting more sensitive than the defaults (0.75, 2 of 3) without --force, and writes it with", () => {
    // What issue #12.5 saw written into a live config from 17.5 s of calm speech.
    const trigger = { enter_threshold: 0.4, exit_threshold: 0.2, k: 2, n: 3 };
    expect(() => applyDetectUpdate(CONFIG, trigger, "h", SAFE)).toThrow(/more sensitive than the defaults \(enter_threshold 0.75, k 2\)[\s\S]*nothing was written — pass --force/);
    // Each half of the rule alone: a lower enter threshold, or fewer windows needed.
    expect(() => applyDetectUpdate(CONFIG, { enter_threshold: 0.5, exit_threshold: 0.3, k: 10, n: 12 }, "h", SAFE)).toThrow(/MORE_SENSITIVE|more sensitive/);
    expect(() => applyDetectUpdate(CONFIG, { enter_threshold: 0.9, exit_threshold: 0.7, k: 1, n: 2 }, "h", SAFE)).toThrow(/more sensitive/);
    // The defaults themselves and anything more cautious pass.
    expect(detectOf(applyDetectUpdate(CONFIG, { enter_threshold: 0.75, exit_threshold: 0.55, k: 2, n: 3 }, "h", SAFE))).toMatchObject({ k: 2 });
    expect(detectOf(applyDetectUpdate(CONFIG, trigger, "h", { force: true }))).toMatchObject({ enter_threshold: 0.4, k: 2, n: 3 });
  });

  it("leaves the file untouched when it refuses", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ew-apply-"));
    try {
      const file = path.join(dir, "config.yaml");
      await writeFile(file, CONFIG);
      await expect(applyToConfigFile(file, { enter_threshold: 0.4, exit_threshold: 0.2, k: 2, n: 3 }, "h", SAFE)).rejects.toMatchObject({ code: "MORE_SENSITIVE_THAN_DEFAULTS" });
      expect(await readFile(file, "utf8")).toBe(CONFIG);
      await expect(stat(`${file}.bak`)).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("applyToConfigFile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "ew-apply-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the previous file as .bak and the file's mode", async () => {
    const file = path.join(dir, "config.yaml");
    await writeFile(file, CONFIG);
    await chmod(file, 0o640);
    const backup = await applyToConfigFile(file, UPDATE, "h", SAFE);
    expect(backup).toBe(`${file}.bak`);
    expect(await readFile(backup!, "utf8")).toBe(CONFIG);
    expect(detectOf(await readFile(file, "utf8"))).toMatchObject(UPDATE);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it("keeps the owner and group of the file and of its .bak (sudo calibrate --apply must not lock the daemon out)", async (ctx) => {
    if (process.getuid?.() !== 0) {
      console.warn("SKIPPED: needs root to give the config a foreign owner");
      return ctx.skip();
    }
    const file = path.join(dir, "config.yaml");
    await writeFile(file, CONFIG);
    // As the installer leaves it: root-owned, group earwitness, 0640 (it may hold a password).
    await chown(file, 0, 4343);
    await chmod(file, 0o640);
    await applyToConfigFile(file, UPDATE, "h", SAFE);
    const after = await stat(file);
    expect([after.uid, after.gid, after.mode & 0o777]).toEqual([0, 4343, 0o640]);
    const bak = await stat(`${file}.bak`);
    expect([bak.uid, bak.gid, bak.mode & 0o777]).toEqual([0, 4343, 0o640]);
    await chown(file, 4242, 4343);
    await chmod(file, 0o600);
    await applyToConfigFile(file, UPDATE, "h", SAFE);
    const again = await stat(file);
    expect([again.uid, again.gid, again.mode & 0o777]).toEqual([4242, 4343, 0o600]);
  });

  it("changes nothing on disk when the result would be invalid", async () => {
    const file = path.join(dir, "config.yaml");
    await writeFile(file, CONFIG);
    await expect(applyToConfigFile(file, { ...UPDATE, k: 13 }, "h", SAFE)).rejects.toThrow(/detect.k/);
    expect(await readFile(file, "utf8")).toBe(CONFIG);
    await expect(stat(`${file}.bak`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("creates a missing file with only the detect section", async () => {
    const file = path.join(dir, "new.yaml");
    expect(await applyToConfigFile(file, UPDATE, "h", SAFE)).toBeNull();
    expect(detectOf(await readFile(file, "utf8"))).toMatchObject(UPDATE);
  });
});
