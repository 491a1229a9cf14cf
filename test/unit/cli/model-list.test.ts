import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { modelCommand } from "../../../src/cli/model-command.js";
import { shippedModelDir } from "../../../src/assemble/paths.js";
import { silentLogger } from "../../../src/log.js";

let root = "";
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "ew-mlist-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function list(configText: string): Promise<string> {
  const config = path.join(root, "config.yaml");
  await writeFile(config, `state_dir: ${path.join(root, "state")}\n${configText}`);
  let text = "";
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  expect(await modelCommand(["list", "--config", config], silentLogger(), out)).toBe(0);
  return text;
}

async function shippedId(): Promise<string> {
  const meta = JSON.parse(await readFile(path.join(shippedModelDir(), "bundle.json"), "utf8")) as { name: string; version: string };
  return `${meta.name}@${meta.version}`;
}

describe("earwitness model list", () => {
  it("on a fresh unit shows the shipped model and that it is the one running", async () => {
    const id = await shippedId();
    const out = await list("");
    expect(out).toContain(`no models installed in ${path.join(root, "state", "models")}`);
    expect(out).toContain(`shipped with earwitness `);
    expect(out).toContain(`: ${id} in ${shippedModelDir()}`);
    expect(out).toMatch(new RegExp(`^the daemon runs: ${id.replace(/[.@]/g, "\\$&")} \\(shipped: no model is installed and model\\.dir is null;`, "m"));
  });

  it("names the installed current version, or model.dir, when that wins", async () => {
    const models = path.join(root, "state", "models");
    await mkdir(path.join(models, "mine@2.0.0"), { recursive: true });
    await writeFile(path.join(models, "mine@2.0.0", "bundle.json"), JSON.stringify({ name: "mine", version: "2.0.0" }));
    await symlink("mine@2.0.0", path.join(models, "current"));
    let out = await list("");
    expect(out).toMatch(/^\* mine@2\.0\.0 .*current$/m);
    expect(out).toMatch(/^the daemon runs: mine@2\.0\.0 \(installed current: /m);

    const own = path.join(root, "own-bundle");
    await mkdir(own);
    await writeFile(path.join(own, "bundle.json"), JSON.stringify({ name: "own", version: "0.9" }));
    out = await list(`model: { dir: ${own} }\n`);
    expect(out).toMatch(new RegExp(`^the daemon runs: own@0\\.9 \\(configured \\(model\\.dir\\): model\\.dir is ${own.replace(/[.]/g, "\\.")};`, "m"));
  });
});
