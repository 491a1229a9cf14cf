/**
 * Issue #11 §6: `config check` and `run` give the same verdict (one validation), exit 78 naming
 * the key, for what used to pass the check and then fail at start or mid-stream; hostile YAML and
 * huge files are refused without a stack trace. The built CLI as a child process, real files.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { pathWithFakeBin } from "../../fakes/fake-bin.js";
import { runCli } from "./harness.js";

let root: string;
let bundleDir: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-verdicts-"));
  bundleDir = path.join(root, "bundle");
  await writeConstantBundle(bundleDir);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function configFile(name: string, text: string): Promise<{ file: string; env: Record<string, string> }> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, "state"), { recursive: true });
  const file = path.join(dir, "config.yaml");
  await writeFile(file, text);
  return { file, env: { PATH: pathWithFakeBin(), HOME: dir, TMPDIR: dir } };
}

// The console indicator is an output: a configuration without one is refused for that alone
// (issue #12), which would hide the problem each case is about from `run`.
const base = (name: string, extra: string, modelDir = bundleDir, gpio = "gpio: { driver: console }"): string =>
  [`device_id: ${name}`, `state_dir: ${path.join(root, name, "state")}`, `model: { dir: ${modelDir}, backend: cpu }`, gpio, extra, ""].join("\n");

const CASES: { name: string; text: () => string; key: RegExp }[] = [
  { name: "missing-model-dir", text: () => base("missing-model-dir", "", path.join(root, "nope")), key: /model\.dir/ },
  { name: "unknown-danger-label", text: () => base("unknown-danger-label", "detect: { danger: { labels: [angry, disgust] } }"), key: /detect\.danger\.labels.*disgust/ },
  { name: "outbox-too-small", text: () => base("outbox-too-small", 'mqtt: { outbox: { max_bytes: 2000 } }'), key: /mqtt\.outbox\.max_bytes/ },
  { name: "hop-off-grid", text: () => base("hop-off-grid", "detect: { hop_s: 0.125 }"), key: /detect\.hop_s/ },
  {
    name: "billion-laughs",
    text: () =>
      [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...["b", "c", "d", "e", "f", "g", "h", "i"].map((k, i) => `${k}: &${k} [${new Array(9).fill(`*${"abcdefgh"[i]}`).join(",")}]`),
        "",
      ].join("\n"),
    key: /alias/i,
  },
  { name: "huge", text: () => base("huge", `device_name_note: "${"x".repeat(400_000)}"`), key: /at most \d+ bytes/ },
];

describe("config check and run agree (issue #11 §6)", () => {
  for (const c of CASES) {
    it(`${c.name}: check and run both exit 78 naming it, without a stack trace`, async () => {
      const { file, env } = await configFile(c.name, c.text());
      const check = await runCli(["config", "check", file], env);
      expect({ code: check.code, out: check.stderr + check.stdout }).toMatchObject({ code: 78, out: expect.stringMatching(c.key) });
      const run = await runCli(["run", "--config", file], env);
      expect(run.code).toBe(78);
      expect(run.stderr).toMatch(c.key);
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    });
  }

  it("no output and a missing model.dir: config check lists both, run refuses (78) for the missing output first", async () => {
    const name = "no-output-missing-model-dir";
    const { file, env } = await configFile(name, base(name, "", path.join(root, "nope"), "gpio: { driver: none }"));
    const check = await runCli(["config", "check", file], env);
    expect(check.code).toBe(78);
    expect(check.stderr).toMatch(/2 problem\(s\)/);
    expect(check.stderr).toMatch(/no output configured/);
    expect(check.stderr).toMatch(/model\.dir/);
    const run = await runCli(["run", "--config", file], env);
    expect(run.code).toBe(78);
    expect(run.stderr).toMatch(/no output configured/);
  });
});
