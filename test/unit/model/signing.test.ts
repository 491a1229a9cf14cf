import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BundleError } from "../../../src/errors.js";
import { DEFAULT_FEATURE_SPEC, staticDims, windowSeconds } from "../../../src/features/spec.js";
import { bundleMetaSha256, META_HASH_FIELD, rehashBundle, verifyBundleFiles } from "../../../src/model/bundle.js";
import { generateSigningKey, loadTrustedKeys, signBundle, SIGNATURE_FILE, verifyBundleSignature } from "../../../src/model/signing.js";
import { editBundleJson } from "../../fixtures/tiny-bundle.js";

let root: string;
let n = 0;
const fresh = async (name: string): Promise<string> => {
  const d = path.join(root, `${name}-${++n}`);
  await mkdir(d, { recursive: true });
  return d;
};

/** A bundle verifyBundleFiles accepts (no model is loaded by signing, so its content is a stand-in). */
async function handMadeBundle(dir: string, version = "1.0.0"): Promise<void> {
  const spec = { ...DEFAULT_FEATURE_SPEC, melBands: 8, energy: false, deltas: false, windowSteps: 5 };
  const S = staticDims(spec);
  const model = Buffer.from('{"format":"layers-model"}');
  const weights = Buffer.from([1, 2, 3, 4]);
  await writeFile(path.join(dir, "model.json"), model);
  await writeFile(path.join(dir, "weights.bin"), weights);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const meta = {
    format: 1,
    name: "hand",
    version,
    created: "2025-01-01T00:00:00.000Z",
    architecture: { arch: "gru" },
    labels: ["angry", "fear", "neutral"],
    danger: ["angry", "fear"],
    features: spec,
    normalisation: { mean: new Array(S).fill(0), std: new Array(S).fill(1), deltaStd: new Array(S).fill(1) },
    window: { steps: spec.windowSteps, seconds: windowSeconds(spec) },
    training: { corpora: [] },
    metrics: {},
    quantization: "float32",
    selftest: null,
    files: { "model.json": sha(model), "weights.bin": sha(weights) },
  };
  await writeFile(path.join(dir, "bundle.json"), JSON.stringify(meta, null, 2) + "\n");
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "earwitness-signing-test-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let keys: { keyFile: string; pubFile: string };
let trusted: string;
beforeEach(async () => {
  keys = await generateSigningKey(path.join(await fresh("keys"), "maintainer"));
  trusted = await fresh("trusted");
  await writeFile(path.join(trusted, "maintainer.pub"), await readFile(keys.pubFile));
});

async function refusal(p: Promise<unknown>): Promise<BundleError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  return err as BundleError;
}

describe("keygen", () => {
  it("writes a PKCS8 private key (0600) and an SPKI public key, and never overwrites", async () => {
    expect((await stat(keys.keyFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(keys.keyFile, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(await readFile(keys.pubFile, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const before = await readFile(keys.keyFile);
    const err = await refusal(generateSigningKey(keys.keyFile.replace(/\.key$/, "")));
    expect(err.code).toBe("KEY_EXISTS");
    expect(await readFile(keys.keyFile)).toEqual(before);
  });
});

describe("sign and verify", () => {
  it("round trip: a signed bundle verifies against the trusted key", async () => {
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    const sig = await signBundle(dir, keys.keyFile);
    expect((await readFile(path.join(dir, SIGNATURE_FILE), "utf8")).trim()).toBe(sig);
    expect(Buffer.from(sig, "base64")).toHaveLength(64);
    expect(await verifyBundleSignature(dir, await loadTrustedKeys(trusted))).toEqual({
      status: "verified",
      keyFile: path.join(trusted, "maintainer.pub"),
    });
  });

  it("any one of several trusted keys suffices", async () => {
    const other = await generateSigningKey(path.join(await fresh("keys"), "other"));
    await writeFile(path.join(trusted, "a-other.pub"), await readFile(other.pubFile));
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    await signBundle(dir, keys.keyFile);
    expect((await verifyBundleSignature(dir, await loadTrustedKeys(trusted))).status).toBe("verified");
  });

  it("without trusted keys the signature is not checked (missing or empty directory)", async () => {
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    expect(await loadTrustedKeys(path.join(root, "does-not-exist"))).toEqual([]);
    expect((await verifyBundleSignature(dir, await loadTrustedKeys(await fresh("empty")))).status).toBe("unchecked");
  });

  it("refuses an unsigned bundle, a bundle signed by another key, and one changed after signing", async () => {
    const trustedKeys = await loadTrustedKeys(trusted);
    const unsigned = await fresh("bundle");
    await handMadeBundle(unsigned);
    expect((await refusal(verifyBundleSignature(unsigned, trustedKeys))).code).toBe("UNSIGNED");

    const stranger = await generateSigningKey(path.join(await fresh("keys"), "stranger"));
    const foreign = await fresh("bundle");
    await handMadeBundle(foreign);
    await signBundle(foreign, stranger.keyFile);
    expect((await refusal(verifyBundleSignature(foreign, trustedKeys))).code).toBe("SIGNATURE_MISMATCH");

    const changed = await fresh("bundle");
    await handMadeBundle(changed);
    await signBundle(changed, keys.keyFile);
    await handMadeBundle(changed, "1.0.1"); // bundle.json rewritten, old signature kept
    expect((await refusal(verifyBundleSignature(changed, trustedKeys))).code).toBe("SIGNATURE_MISMATCH");

    await writeFile(path.join(changed, SIGNATURE_FILE), "not a signature\n");
    expect((await refusal(verifyBundleSignature(changed, trustedKeys))).code).toBe("BAD_SIGNATURE");
  });

  it("signs bundle.json with its meta_sha256; an edit that recomputes the hash is still refused by the signature", async () => {
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    await rehashBundle(dir, []); // stamps meta_sha256 before signing, as saveBundle does
    await signBundle(dir, keys.keyFile);
    const trustedKeys = await loadTrustedKeys(trusted);
    expect((await verifyBundleSignature(dir, trustedKeys)).status).toBe("verified");
    // Someone deliberately changes the danger classes and recomputes meta_sha256: the files check
    // passes (that hash guards against corruption), the signature does not.
    await editBundleJson(dir, (m) => void (m.danger = ["angry"]));
    const { meta } = await verifyBundleFiles(dir);
    expect(meta[META_HASH_FIELD]).toBe(bundleMetaSha256(meta));
    expect((await refusal(verifyBundleSignature(dir, trustedKeys))).code).toBe("SIGNATURE_MISMATCH");
  });

  it("refuses to sign a bundle whose bundle.json was edited after it was written (META_MODIFIED)", async () => {
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    await rehashBundle(dir, []);
    await editBundleJson(dir, (m) => void (m.labels as string[]).reverse(), { restamp: false });
    expect((await refusal(signBundle(dir, keys.keyFile))).code).toBe("META_MODIFIED");
  });

  it("refuses to sign a bundle whose files do not match bundle.json", async () => {
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    await writeFile(path.join(dir, "weights.bin"), Buffer.from([9, 9, 9, 9]));
    expect((await refusal(signBundle(dir, keys.keyFile))).code).toBe("CHECKSUM_MISMATCH");
  });

  it("refuses a trusted key that is not ed25519, and a signing key that is not ed25519", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    await writeFile(path.join(trusted, "ec.pub"), publicKey.export({ type: "spki", format: "pem" }));
    expect((await refusal(loadTrustedKeys(trusted))).code).toBe("BAD_TRUSTED_KEY");
    await writeFile(path.join(trusted, "ec.pub"), "garbage");
    expect((await refusal(loadTrustedKeys(trusted))).code).toBe("BAD_TRUSTED_KEY");

    const ecKey = path.join(await fresh("keys"), "ec.key");
    await writeFile(ecKey, privateKey.export({ type: "pkcs8", format: "pem" }));
    const dir = await fresh("bundle");
    await handMadeBundle(dir);
    expect((await refusal(signBundle(dir, ecKey))).code).toBe("BAD_SIGNING_KEY");
  });
});
