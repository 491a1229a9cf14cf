/**
 * Logs for people (issue #13): under systemd (JOURNAL_STREAM set, output not a terminal) the real
 * daemon writes text lines with journald priorities, not pino JSON, and tfjs's banners never
 * reach the console; `earwitness --version` answers.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { killAll, REPO_ROOT, runCli, startDaemon } from "./harness.js";

describe("logs for people", () => {
  let root = "";
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "ew-logs-"));
  });
  afterAll(async () => {
    await killAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function config(name: string, extra: string, model = "{ backend: cpu }"): Promise<string> {
    const dir = path.join(root, name);
    await mkdir(path.join(dir, "tmp"), { recursive: true });
    const file = path.join(dir, "config.yaml");
    await writeFile(
      file,
      [`device_id: ${name}`, `state_dir: ${path.join(dir, "state")}`, `model: ${model}`, "gpio: { driver: console }", "http: { enabled: false }", extra, ""].join("\n"),
    );
    return file;
  }

  it("under journald: text lines with priorities; the tfjs banner only as a debug line", async () => {
    // tfjs greets only when it loads, which the daemon does only for a bundle the lean engine
    // cannot read (the shipped models it can): the constant test bundle, on the cpu backend.
    const bundle = path.join(root, "constant");
    await writeConstantBundle(bundle);
    const file = await config("journal", "log_level: debug", `{ backend: cpu, dir: ${bundle} }`);
    const d = startDaemon(file, { JOURNAL_STREAM: "8:4242" }, path.join(root, "journal", "tmp"));
    await d.waitLog((l) => l.msg.startsWith("<6>INFO daemon: daemon started: listening"), "the text start line");
    await d.waitLog((l) => l.msg.startsWith("<6>INFO daemon: ready: model loaded and audio flowing"), "ready");
    await d.kill();
    const raw = d.lines.map((l) => l.msg);
    // Not one JSON line: every line was text (the harness keeps non-JSON lines as msg).
    expect(d.lines.every((l) => l.level === 0)).toBe(true);
    expect(raw.every((l) => /^<\d>(TRACE|DEBUG|INFO|WARN|ERROR|FATAL) /.test(l))).toBe(true);
    expect(raw.some((l) => /^<6>INFO daemon: model loaded model=\{"name":/.test(l))).toBe(true);
    // The cpu backend greeted us, but only into the log at debug, never onto the console.
    expect(raw.some((l) => l.startsWith("<7>DEBUG tfjs: Hi, looks like you are running TensorFlow.js"))).toBe(true);
    expect(d.stderr()).not.toMatch(/looks like you are running TensorFlow\.js|Orthogonal initializer/);
  }, 60_000);

  it("log_format: json keeps JSON lines under journald", async () => {
    const file = await config("json", "log_format: json");
    const d = startDaemon(file, { JOURNAL_STREAM: "8:4242" }, path.join(root, "json", "tmp"));
    await d.waitLog((l) => l.msg === "daemon started: listening", "the JSON start line");
    await d.kill();
    expect(d.lines.filter((l) => l.level === 0)).toEqual([]);
    expect(d.stderr()).not.toMatch(/looks like you are running TensorFlow\.js/);
  }, 60_000);

  it("earwitness --version prints the package's version", async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    const r = await runCli(["--version"], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`earwitness ${pkg.version}\n`);
  });
});
