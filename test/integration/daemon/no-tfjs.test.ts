/**
 * The running daemon loads no tfjs for a bundle the lean engine runs (issue 14, point 7): the
 * real `earwitness demo` (the daemon's Daemon and model loading, on a recording) under a module
 * resolve hook that records every @tensorflow/* module resolved, static or dynamic. The constant
 * test bundle, which only tfjs can run, shows that the hook does see tfjs when it loads.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { MAIN_JS, noise, REPO_ROOT, writeWav } from "./harness.js";

const HOOK = path.join(REPO_ROOT, "test", "fixtures", "record-tfjs-imports.mjs");

let root: string;
let constant: string;
let loud: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-no-tfjs-"));
  constant = path.join(root, "constant");
  await writeConstantBundle(constant);
  loud = await writeWav(path.join(root, "loud.wav"), noise(2, 0.0005, 1), noise(5, 0.3, 2), noise(5, 0.0005, 3));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Runs the demo under the hook; returns its exit code, output and the tfjs modules it resolved. */
async function demo(name: string, args: string[]): Promise<{ code: number | null; out: string; err: string; tfjs: string[] }> {
  const log = path.join(root, `${name}.imports`);
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", HOOK, MAIN_JS, "demo", ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", TMPDIR: root, EARWITNESS_TFJS_IMPORT_LOG: log },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
  const tfjs = (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return { ...r, tfjs };
}

describe("the daemon's process and tfjs", () => {
  it("runs the shipped model to an alert without resolving any @tensorflow module", async () => {
    const r = await demo("shipped", ["--speed", "20"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/done: 1 alert received/);
    expect(r.tfjs).toEqual([]);
  });

  it("loads tfjs when the bundle needs it (and the hook sees it)", async () => {
    const r = await demo("constant", ["--speed", "4", "--file", loud, "--model", constant]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/received: ALERT START {2}angry/);
    expect(r.out).toMatch(/model constant-angry 0.0.1/);
    expect(r.tfjs).toContain("@tensorflow/tfjs");
  });
});
