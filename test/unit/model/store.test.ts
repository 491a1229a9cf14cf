import { cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { modelCommand } from "../../../src/cli/model-command.js";
import { BundleError } from "../../../src/errors.js";
import { silentLogger } from "../../../src/log.js";
import { selectBackend } from "../../../src/model/backend.js";
import { WEIGHTS_FILE } from "../../../src/model/bundle.js";
import { generateSigningKey, signBundle } from "../../../src/model/signing.js";
import {
  currentModel,
  installModel,
  listModels,
  MAX_ARCHIVE_BYTES,
  MAX_ARCHIVE_ENTRIES,
  rollback,
  verifyInstalled,
  type StoreOptions,
} from "../../../src/model/store.js";
import { editBundleJson, makeTinyBundle, tarGz, TINY_SPEC } from "../../fixtures/tiny-bundle.js";
import { writeCountBomb, writeSizeBomb } from "../../fixtures/tar-bomb.js";
import { snapshotTree } from "../../fixtures/tree-snapshot.js";

let root: string;
let bundles: string;
const b = (name: string): string => path.join(bundles, name);

beforeAll(async () => {
  await selectBackend("cpu");
  root = await mkdtemp(path.join(tmpdir(), "earwitness-store-test-"));
  bundles = path.join(root, "bundles");
  for (const v of [1, 2, 3, 4]) await makeTinyBundle(b(`v${v}`), { version: `${v}.0.0`, seed: v });
  await makeTinyBundle(b("same-version-other-bytes"), { version: "1.0.0", seed: 99 });
  await makeTinyBundle(b("wrong-spec"), { version: "9.0.0", features: { ...TINY_SPEC, sampleRateHz: 8000 } });
  await makeTinyBundle(b("failing-selftest"), { version: "9.0.1", selftest: (st) => ({ ...st, expected: st.expected.map((p, i) => (i === 0 ? p + 0.05 : p)) }) });
  await makeTinyBundle(b("no-fear"), { version: "9.0.2", labels: ["angry", "neutral", "happy"], danger: ["angry"] });
  await makeTinyBundle(b("no-selftest"), { version: "9.0.3", selftest: "none" });
  // Issue #11 §5: angry and neutral swapped in bundle.json and meta_sha256 re-stamped, as a hand
  // edit or a broken export tool would leave it; every "angry" would be reported as "neutral".
  await cp(b("v2"), b("labels-swapped"), { recursive: true });
  await editBundleJson(b("labels-swapped"), (m) => {
    m.labels = ["neutral", "fear", "angry"];
    m.version = "2.0.1";
  });
  await cp(b("v2"), b("label-renamed"), { recursive: true });
  await editBundleJson(b("label-renamed"), (m) => {
    m.labels = ["angry", "fear", "calm"];
    m.version = "2.0.2";
  });
  // A bundle from before the self-test was stored by label name: expected in label order.
  await cp(b("v3"), b("selftest-by-index"), { recursive: true });
  await editBundleJson(b("selftest-by-index"), (m) => {
    const st = m.selftest as { expected: Record<string, number> };
    m.selftest = { ...st, expected: (m.labels as string[]).map((l) => st.expected[l]) };
  });
  await cp(b("v2"), b("tampered"), { recursive: true });
  const weights = await readFile(path.join(b("tampered"), WEIGHTS_FILE));
  const last = weights.length - 1;
  weights[last] = weights[last]! ^ 0x01; // one bit of one weight
  await writeFile(path.join(b("tampered"), WEIGHTS_FILE), weights);
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let stateDir: string;
let tmpDir: string;
let keysDir: string;
let clockMs: number;
let opts: StoreOptions;

beforeEach(async () => {
  const t = await mkdtemp(path.join(root, "case-"));
  stateDir = path.join(t, "state");
  tmpDir = path.join(t, "tmp");
  keysDir = path.join(t, "trusted-keys");
  await mkdir(stateDir);
  await mkdir(tmpDir);
  clockMs = Date.UTC(2025, 0, 1);
  opts = { stateDir, tmpDir, dangerLabels: ["angry", "fear"], trustedKeysDir: keysDir, keep: 3, nowMs: () => (clockMs += 60_000) };
});

const models = () => path.join(stateDir, "models");
const link = async (name: string) => readlink(path.join(models(), name)).catch(() => null);
const installedIds = async () => (await readdir(models())).filter((n) => n.includes("@")).sort();

async function expectRefused(source: string, code: string, o: StoreOptions = opts): Promise<BundleError> {
  const before = await snapshotTree(stateDir);
  const err = await installModel(source, o).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  expect((err as BundleError).code).toBe(code);
  expect(await snapshotTree(stateDir)).toEqual(before);
  expect(await readdir(tmpDir)).toEqual([]); // staging cleaned up
  return err as BundleError;
}

describe("installModel", () => {
  it("installs a good bundle, makes it current, and the next one makes it previous", async () => {
    const r1 = await installModel(b("v1"), opts);
    expect(r1.id).toBe("tiny@1.0.0");
    expect(r1.selftest.status).toBe("passed");
    expect(r1.signature.status).toBe("unchecked");
    expect(r1.previous).toBeNull();
    expect(await link("current")).toBe("tiny@1.0.0");
    expect(await currentModel(stateDir)).toEqual({ id: "tiny@1.0.0", dir: path.join(models(), "tiny@1.0.0") });
    // Exactly the bundle's files, nothing else (no reports, no temp names).
    expect((await readdir(r1.dir)).sort()).toEqual(["bundle.json", "model.json", "weights.bin"]);

    const r2 = await installModel(b("v2"), opts);
    expect(r2.previous).toBe("tiny@1.0.0");
    expect(await link("current")).toBe("tiny@2.0.0");
    expect(await link("previous")).toBe("tiny@1.0.0");
    expect((await readdir(models())).filter((n) => n.startsWith("."))).toEqual([]);
    const listed = await listModels(stateDir);
    expect(listed.map((m) => [m.id, m.current, m.previous])).toEqual([
      ["tiny@2.0.0", true, false],
      ["tiny@1.0.0", false, true],
    ]);
    expect((await verifyInstalled(null, opts)).id).toBe("tiny@2.0.0");
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it("installs from a .tar.gz", async () => {
    const archive = tarGz(b("v1"), path.join(root, `v1-${Date.now()}.tar.gz`));
    const r = await installModel(archive, opts);
    expect(r.id).toBe("tiny@1.0.0");
    expect(await link("current")).toBe("tiny@1.0.0");
    await verifyInstalled("tiny@1.0.0", opts);
    expect(await readdir(tmpDir)).toEqual([]);
    await rm(archive);
  });

  it("refuses a tampered weight file and changes nothing", async () => {
    await installModel(b("v1"), opts);
    const err = await expectRefused(b("tampered"), "CHECKSUM_MISMATCH");
    expect(err.message).toContain("weights.bin");
  });

  it("refuses a feature spec this build cannot compute", async () => {
    await installModel(b("v1"), opts);
    const err = await expectRefused(b("wrong-spec"), "UNSUPPORTED_FEATURES");
    expect(err.message).toContain("sampleRateHz 8000");
  });

  it("refuses a failing self-test", async () => {
    await installModel(b("v1"), opts);
    const err = await expectRefused(b("failing-selftest"), "SELFTEST_FAILED");
    expect(err.message).toContain("angry");
  });

  it("stores the self-test by label name, and refuses a bundle whose labels were reordered or renamed after it was made (issue #11 §5)", async () => {
    const meta = JSON.parse(await readFile(path.join(b("v2"), "bundle.json"), "utf8")) as { selftest: { expected: unknown } };
    expect(Object.keys(meta.selftest.expected as object).sort()).toEqual(["angry", "fear", "neutral"]);
    await installModel(b("v1"), opts);
    const swapped = await expectRefused(b("labels-swapped"), "LABELS_REORDERED");
    expect(swapped.message).toMatch(/"neutral".*"angry"|"angry".*"neutral"/);
    expect(swapped.message).toMatch(/reordered/);
    const renamed = await expectRefused(b("label-renamed"), "LABELS_MODIFIED");
    expect(renamed.message).toContain('"neutral"');
    expect(renamed.message).toContain('"calm"');
  });

  it("still installs an older bundle whose self-test is stored by index", async () => {
    const r = await installModel(b("selftest-by-index"), opts);
    expect(r.selftest).toMatchObject({ status: "passed", byLabel: false });
    expect((await installModel(b("v1"), opts)).selftest).toMatchObject({ status: "passed", byLabel: true });
  });

  it("refuses a bundle without a configured danger label", async () => {
    await installModel(b("v1"), opts);
    const err = await expectRefused(b("no-fear"), "LABELS_MISMATCH");
    expect(err.message).toContain('"fear"');
  });

  it("refuses a bundle without a self-test unless allowed", async () => {
    await expectRefused(b("no-selftest"), "NO_SELFTEST");
    const r = await installModel(b("no-selftest"), { ...opts, allowNoSelftest: true });
    expect(r.selftest.status).toBe("skipped");
  });

  it("refuses an archive that is not a bundle, and a missing source", async () => {
    const junkDir = path.join(root, `junk-${Date.now()}`);
    await mkdir(junkDir);
    await writeFile(path.join(junkDir, "hello.txt"), "hi");
    const archive = tarGz(junkDir, path.join(root, `junk-${Date.now()}.tar.gz`));
    await expectRefused(archive, "MISSING_FILE");
    await expectRefused(path.join(root, "nope"), "BAD_SOURCE");
  });

  it("refuses a decompression bomb while unpacking it, having written at most about the cap, and leaves nothing (issue #11 §11b)", async () => {
    const bomb = path.join(root, `size-bomb-${Date.now()}.tar.gz`);
    const compressed = await writeSizeBomb(bomb, 2048 * 1024 * 1024);
    expect(compressed).toBeLessThan(4 * 1024 * 1024); // 2 GiB in ~2 MB
    // Watch the staging directory while the install runs: the bomb must be stopped near the cap.
    const bytesUnder = async (dir: string): Promise<number> => {
      let total = 0;
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const st = await lstat(path.join(dir, name)).catch(() => null);
        if (st?.isDirectory()) total += await bytesUnder(path.join(dir, name));
        else total += st?.size ?? 0;
      }
      return total;
    };
    let watching = true;
    let maxStagedBytes = 0;
    const watcher = (async () => {
      while (watching) {
        maxStagedBytes = Math.max(maxStagedBytes, await bytesUnder(tmpDir));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const err = await expectRefused(bomb, "ARCHIVE_TOO_LARGE").finally(() => (watching = false));
    await watcher;
    expect(err.message).toContain(`more than ${MAX_ARCHIVE_BYTES / (1024 * 1024)} MiB`);
    expect(maxStagedBytes).toBeLessThanOrEqual(MAX_ARCHIVE_BYTES);

    const many = path.join(root, `count-bomb-${Date.now()}.tar.gz`);
    await writeCountBomb(many, 20_000);
    const err2 = await expectRefused(many, "ARCHIVE_TOO_MANY_FILES");
    expect(err2.message).toContain(`more than ${MAX_ARCHIVE_ENTRIES} files`);
    const notGzip = path.join(root, `not-gzip-${Date.now()}.tar.gz`);
    await writeFile(notGzip, "this is not gzip");
    expect((await expectRefused(notGzip, "TAR_FAILED")).message).toMatch(/not a readable gzip archive/);
    await rm(bomb);
    await rm(many);
    await rm(notGzip);
  });

  it("with trusted keys: accepts a bundle signed by one, refuses unsigned and wrongly signed bundles", async () => {
    const signer = await generateSigningKey(path.join(root, `signer-${Date.now()}`));
    const other = await generateSigningKey(path.join(root, `other-${Date.now()}`));
    await mkdir(keysDir);
    await cp(signer.pubFile, path.join(keysDir, "maintainer.pub"));
    const signed = path.join(root, `signed-${Date.now()}`);
    const wrong = path.join(root, `wrong-${Date.now()}`);
    await cp(b("v1"), signed, { recursive: true });
    await cp(b("v2"), wrong, { recursive: true });
    await signBundle(signed, signer.keyFile);
    await signBundle(wrong, other.keyFile);

    const r = await installModel(signed, opts);
    expect(r.signature).toEqual({ status: "verified", keyFile: path.join(keysDir, "maintainer.pub") });
    expect((await readdir(r.dir)).sort()).toEqual(["bundle.json", "model.json", "signature.ed25519", "weights.bin"]);
    await expectRefused(wrong, "SIGNATURE_MISMATCH");
    await expectRefused(b("v2"), "UNSIGNED");
    // The signature covers bundle.json's bytes, labels included: a signed bundle whose labels were
    // swapped and meta_sha256 re-stamped no longer verifies.
    const relabelled = path.join(root, `relabelled-${Date.now()}`);
    await cp(signed, relabelled, { recursive: true });
    await editBundleJson(relabelled, (m) => {
      m.labels = ["neutral", "fear", "angry"];
    });
    await expectRefused(relabelled, "SIGNATURE_MISMATCH");
  });

  it("re-installing identical bytes only switches current; other bytes under the same version are refused", async () => {
    await installModel(b("v1"), opts);
    await installModel(b("v2"), opts);
    const again = await installModel(b("v1"), opts);
    expect(again.alreadyInstalled).toBe(true);
    expect(await link("current")).toBe("tiny@1.0.0");
    expect(await link("previous")).toBe("tiny@2.0.0");
    await expectRefused(b("same-version-other-bytes"), "VERSION_CONFLICT");
  });

  it("replaces a damaged installed copy of the same version", async () => {
    const r = await installModel(b("v1"), opts);
    await writeFile(path.join(r.dir, WEIGHTS_FILE), "garbage");
    await expect(verifyInstalled(null, opts)).rejects.toMatchObject({ code: "CHECKSUM_MISMATCH" });
    const again = await installModel(b("v1"), opts);
    expect(again.alreadyInstalled).toBe(false);
    await verifyInstalled(null, opts);
  });
});

describe("rollback and pruning", () => {
  it("rollback switches to previous; a second rollback undoes it", async () => {
    await expect(rollback(opts)).rejects.toMatchObject({ code: "NO_PREVIOUS" });
    await installModel(b("v1"), opts);
    await installModel(b("v2"), opts);
    expect(await rollback(opts)).toEqual({ from: "tiny@2.0.0", to: "tiny@1.0.0" });
    expect(await link("current")).toBe("tiny@1.0.0");
    expect(await link("previous")).toBe("tiny@2.0.0");
    await rollback(opts);
    expect(await link("current")).toBe("tiny@2.0.0");
  });

  it("refuses to roll back to a damaged version, changing nothing", async () => {
    const r1 = await installModel(b("v1"), opts);
    await installModel(b("v2"), opts);
    await writeFile(path.join(r1.dir, WEIGHTS_FILE), "garbage");
    const before = await snapshotTree(stateDir);
    await expect(rollback(opts)).rejects.toMatchObject({ code: "CHECKSUM_MISMATCH" });
    expect(await snapshotTree(stateDir)).toEqual(before);
  });

  it("keeps the newest N versions and never prunes current or previous", async () => {
    const keep2 = { ...opts, keep: 2 };
    await installModel(b("v1"), keep2);
    await installModel(b("v2"), keep2);
    const r3 = await installModel(b("v3"), keep2);
    expect(r3.pruned).toEqual(["tiny@1.0.0"]);
    expect(await installedIds()).toEqual(["tiny@2.0.0", "tiny@3.0.0"]);

    // keep 1: the newest is current, previous is still kept.
    const keep1 = { ...opts, keep: 1 };
    await rollback(keep1); // current 2, previous 3
    const r4 = await installModel(b("v4"), keep1); // current 4, previous 2: 3 goes
    expect(r4.previous).toBe("tiny@2.0.0");
    expect(r4.pruned).toEqual(["tiny@3.0.0"]);
    expect(await installedIds()).toEqual(["tiny@2.0.0", "tiny@4.0.0"]);
  });
});

describe("earwitness model (command)", () => {
  function capture(): { stream: Writable; text: () => string } {
    let text = "";
    return {
      stream: new Writable({
        write(chunk: Buffer, _enc, cb) {
          text += chunk.toString();
          cb();
        },
      }),
      text: () => text,
    };
  }

  it("install, list, verify, rollback through the command line; a refused bundle is an error", async () => {
    const config = path.join(stateDir, "..", "config.yaml");
    await writeFile(config, "model:\n  backend: cpu\n");
    const common = ["--state-dir", stateDir, "--config", config, "--trusted-keys", keysDir];
    const run = async (...args: string[]) => {
      const c = capture();
      const code = await modelCommand([...args, ...common], silentLogger(), c.stream);
      return { code, out: c.text() };
    };
    let r = await run("install", b("v1"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("installed tiny@1.0.0");
    expect(r.out).toContain("self-test passed");
    expect(r.out).toContain("daemon is not running");
    await run("install", b("v2"));
    r = await run("list");
    expect(r.out).toMatch(/^\* tiny@2\.0\.0 .*current$/m);
    expect(r.out).toMatch(/^< tiny@1\.0\.0 .*previous$/m);
    r = await run("verify", "tiny@1.0.0");
    expect(r.out).toContain("tiny@1.0.0: OK");
    r = await run("rollback");
    expect(r.out).toContain("tiny@1.0.0 is current");
    await expect(run("install", b("tampered"))).rejects.toMatchObject({ code: "CHECKSUM_MISMATCH" });
    await expect(run("install", b("labels-swapped"))).rejects.toMatchObject({ code: "LABELS_REORDERED", message: expect.stringMatching(/label order/) });
    r = await run("list");
    expect(r.out).toMatch(/^\* tiny@1\.0\.0 .*current$/m);
    await expect(run("frobnicate")).rejects.toMatchObject({ code: "USAGE" });
  });
});
