/**
 * `earwitness demo` end to end: the real CLI with its in-process broker and console outputs, on
 * generated recordings and the always-"angry" test bundle (so loudness decides), sped up.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { MAIN_JS, noise, REPO_ROOT, writeWav } from "./harness.js";

let root: string;
let bundle: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-demo-it-"));
  bundle = path.join(root, "bundle");
  await writeConstantBundle(bundle);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

function demo(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, "demo", ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", TMPDIR: root } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

describe("earwitness demo", () => {
  it("prints the LED, the buzzer and the alert as an MQTT subscriber receives it, and exits 0", async () => {
    const wav = await writeWav(path.join(root, "loud.wav"), noise(3, 0.0005, 1), noise(6, 0.3, 2), noise(6, 0.0005, 3));
    const r = await demo(["--speed", "4", "--file", wav, "--model", bundle]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/LED on/);
    expect(r.out).toMatch(/BUZZER on/);
    expect(r.out).toMatch(/received: ALERT START {2}angry/);
    expect(r.out).toMatch(/received: ALERT END/);
    expect(r.out).toMatch(/done: 1 alert received/);
    // Concise: the header, the LED blinking while the detector suspects (the smoothed score rises
    // for a second or two before it alerts), the alert and its end — never a line per window
    // (15 s of audio is 30 windows).
    expect(r.out.split("\n").length, r.out).toBeLessThan(26);
    expect(r.out.split("\n").filter((l) => !/LED|BUZZER|MQTT|alert_id|earwitness demo|daemon listens|console LED|done:|^$/.test(l)), r.out).toEqual([]);
  });

  it("exits 1 when no alert arrived", async () => {
    const wav = await writeWav(path.join(root, "quiet.wav"), noise(5, 0.0005, 4));
    const r = await demo(["--speed", "4", "--file", wav, "--model", bundle]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no alert/);
  });
});
