/**
 * loadBundle / verifyBundleFiles refuse every way a bundle on an SD card goes wrong, each with its
 * own BundleError code and a message naming the bundle directory: a missing or truncated file, a
 * wrong sha256, a model that disagrees with its labels, an edited bundle.json (meta_sha256), and
 * a bundle.json with a missing or malformed field. Bundles are real (tiny-bundle.ts), in a temp dir.
 */
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleError } from "../../../src/errors.js";
import { selectBackend } from "../../../src/model/backend.js";
import {
  BUNDLE_FILE,
  bundleMetaSha256,
  CARD_FILE,
  canonicalJson,
  loadBundle,
  META_HASH_FIELD,
  rehashBundle,
  saveBundle,
  verifyBundleFiles,
  WEIGHTS_FILE,
} from "../../../src/model/bundle.js";
import { editBundleJson, makeTinyBundle } from "../../fixtures/tiny-bundle.js";

let root: string;
let base: string;
let n = 0;

/** A fresh copy of the base bundle. */
async function copy(name: string): Promise<string> {
  const dir = path.join(root, `${name}-${++n}`);
  await cp(base, dir, { recursive: true });
  return dir;
}

async function refusal(p: Promise<unknown>): Promise<BundleError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "expected a BundleError").toBeInstanceOf(BundleError);
  return err as BundleError;
}

/** loadBundle must refuse `dir` with `code`, naming the directory; returns the error. */
async function refusedLoad(dir: string, code: string): Promise<BundleError> {
  const err = await refusal(loadBundle(dir));
  expect(err.code, err.message).toBe(code);
  expect(err.message).toContain(dir);
  return err;
}

const readMeta = async (dir: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(path.join(dir, BUNDLE_FILE), "utf8")) as Record<string, unknown>;

/** Rebuilds every object of `v` with its keys in reverse order (what some JSON tools do). */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reverseKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

beforeAll(async () => {
  await selectBackend("cpu");
  root = await mkdtemp(path.join(tmpdir(), "earwitness-bundle-verify-test-"));
  base = path.join(root, "base");
  await makeTinyBundle(base);
}, 60_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe("canonicalJson", () => {
  it("ignores key order and whitespace, and sees every value change", () => {
    const a = { b: [1, { y: 2, x: "s" }], a: { d: null, c: true }, e: 1.5 };
    const same = JSON.parse(JSON.stringify(reverseKeys(a), null, 4).replace("1.5", "1.50")) as unknown;
    expect(canonicalJson(same)).toBe(canonicalJson(a));
    expect(canonicalJson(a)).toBe('{"a":{"c":true,"d":null},"b":[1,{"x":"s","y":2}],"e":1.5}');
    for (const changed of [
      { ...a, e: 1.5000000000000002 }, // one bit of a double
      { ...a, b: [{ y: 2, x: "s" }, 1] }, // array order
      { ...a, a: { c: true } }, // a key removed
      { ...a, a: { c: true, d: null, f: 0 } }, // a key added
      { ...a, a: { c: "true", d: null } }, // a type changed
    ]) {
      expect(canonicalJson(changed)).not.toBe(canonicalJson(a));
    }
  });

  it("keeps a key named __proto__ as a key", () => {
    const withProto = JSON.parse('{"__proto__":{"x":1},"a":2}') as unknown;
    expect(canonicalJson(withProto)).toBe('{"__proto__":{"x":1},"a":2}');
  });
});

describe("loadBundle", () => {
  it("loads a freshly saved bundle, whose bundle.json carries its own hash", async () => {
    const meta = await readMeta(base);
    expect(meta[META_HASH_FIELD]).toMatch(/^[0-9a-f]{64}$/);
    expect(meta[META_HASH_FIELD]).toBe(bundleMetaSha256(meta));
    const loaded = await loadBundle(base);
    expect(loaded.meta.labels).toEqual(["angry", "fear", "neutral"]);
    loaded.model.dispose();
  });

  it("refuses a bundle whose weights.bin was deleted (MISSING_FILE)", async () => {
    const dir = await copy("deleted-weights");
    await unlink(path.join(dir, WEIGHTS_FILE));
    const err = await refusedLoad(dir, "MISSING_FILE");
    expect(err.message).toContain(WEIGHTS_FILE);
  });

  it("refuses a truncated weights.bin (CHECKSUM_MISMATCH)", async () => {
    const dir = await copy("truncated-weights");
    const weights = await readFile(path.join(dir, WEIGHTS_FILE));
    await writeFile(path.join(dir, WEIGHTS_FILE), weights.subarray(0, weights.length - 4));
    const err = await refusedLoad(dir, "CHECKSUM_MISMATCH");
    expect(err.message).toContain(WEIGHTS_FILE);
  });

  it("refuses a wrong sha256 in bundle.json's files (CHECKSUM_MISMATCH; META_MODIFIED when not re-stamped)", async () => {
    const wrong = "0".repeat(64);
    const restamped = await copy("wrong-sha-restamped");
    await editBundleJson(restamped, (m) => {
      (m.files as Record<string, string>)[WEIGHTS_FILE] = wrong;
    });
    const err = await refusedLoad(restamped, "CHECKSUM_MISMATCH");
    expect(err.message).toContain(WEIGHTS_FILE);

    const edited = await copy("wrong-sha-edited");
    await editBundleJson(
      edited,
      (m) => {
        (m.files as Record<string, string>)[WEIGHTS_FILE] = wrong;
      },
      { restamp: false },
    );
    await refusedLoad(edited, "META_MODIFIED");
  });

  it("refuses a model whose output count does not match its labels (SHAPE_MISMATCH)", async () => {
    const dir = await copy("four-labels");
    await editBundleJson(dir, (m) => {
      m.labels = ["angry", "fear", "neutral", "sad"];
    });
    const err = await refusedLoad(dir, "SHAPE_MISMATCH");
    expect(err.message).toContain("3 outputs for 4 labels");
  });

  it("refuses an edited bundle.json value (META_MODIFIED) and says to reinstall", async () => {
    const edits: [string, (m: Record<string, unknown>) => void][] = [
      ["labels reordered", (m) => void (m.labels as string[]).reverse()],
      ["danger classes changed", (m) => void (m.danger = ["angry"])],
      [
        "one normalisation number's lowest bit flipped",
        (m) => {
          const norm = m.normalisation as { mean: number[] };
          const bits = new Float64Array([norm.mean[3]! + 0.25]);
          new BigUint64Array(bits.buffer)[0]! ^= 1n;
          norm.mean[3] = bits[0]!;
        },
      ],
      ["a metrics field added", (m) => void ((m.metrics as Record<string, unknown>).accuracy = 0.99)],
    ];
    for (const [what, edit] of edits) {
      const dir = await copy("edited");
      await editBundleJson(dir, edit, { restamp: false });
      const err = await refusedLoad(dir, "META_MODIFIED");
      expect(err.message, what).toMatch(/bundle\.json was changed.*reinstall the bundle/);
      // verifyBundleFiles (used by install, selftest, doctor and signing) refuses it as well.
      expect((await refusal(verifyBundleFiles(dir))).code, what).toBe("META_MODIFIED");
    }
  });

  it("still loads bundle.json rewritten with other key order and whitespace", async () => {
    for (const indent of [0, 4]) {
      const dir = await copy("reformatted");
      const before = await readFile(path.join(dir, BUNDLE_FILE));
      await editBundleJson(dir, (m) => reverseKeys(m) as Record<string, unknown>, { restamp: false, indent });
      expect(await readFile(path.join(dir, BUNDLE_FILE))).not.toEqual(before);
      const loaded = await loadBundle(dir);
      expect(loaded.meta.labels).toEqual(["angry", "fear", "neutral"]);
      loaded.model.dispose();
    }
  });

  it("loads a bundle written before meta_sha256 existed", async () => {
    const dir = await copy("legacy");
    await editBundleJson(
      dir,
      (m) => {
        delete m[META_HASH_FIELD];
      },
      { restamp: false },
    );
    const loaded = await loadBundle(dir);
    expect(loaded.meta[META_HASH_FIELD]).toBeUndefined();
    loaded.model.dispose();
  });

  it("refuses a meta_sha256 that is not a sha256 (BAD_METADATA)", async () => {
    const dir = await copy("bad-meta-hash");
    await editBundleJson(dir, (m) => void (m[META_HASH_FIELD] = 42), { restamp: false });
    const err = await refusedLoad(dir, "BAD_METADATA");
    expect(err.message).toContain(META_HASH_FIELD);
  });
});

describe("bundle.json fields: a missing or malformed field is a BAD_METADATA naming it, never a TypeError", () => {
  const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ["window missing", (m) => void delete m.window, /window must be an object/],
    ["window.seconds a string", (m) => void ((m.window as Record<string, unknown>).seconds = "0.25"), /window\.seconds must be a positive number/],
    ["window.steps missing", (m) => void delete (m.window as Record<string, unknown>).steps, /window\.steps must be a positive integer/],
    ["normalisation missing", (m) => void delete m.normalisation, /normalisation must be an object/],
    ["normalisation null", (m) => void (m.normalisation = null), /normalisation must be an object/],
    ["training missing", (m) => void delete m.training, /training must be an object/],
    ["training.corpora missing", (m) => void (m.training = {}), /training\.corpora must be a list/],
    ["training.corpora entry malformed", (m) => void (m.training = { corpora: [{ name: "x" }] }), /training\.corpora\[0\]/],
    ["architecture missing", (m) => void delete m.architecture, /architecture must be an object/],
    ["architecture.arch unknown", (m) => void (m.architecture = { arch: "transformer" }), /architecture\.arch must be one of/],
    ["features missing", (m) => void delete m.features, /features must be an object/],
    ["labels duplicated", (m) => void (m.labels = ["angry", "angry", "fear"]), /labels must list at least two distinct/],
    ["danger not a list", (m) => void (m.danger = "angry"), /danger classes/],
    ["selftest missing", (m) => void delete m.selftest, /selftest must be an object, or null/],
    ["quantization unknown", (m) => void (m.quantization = "int4"), /quantization must be/],
    ["metrics missing", (m) => void delete m.metrics, /metrics must be an object/],
    ["name missing", (m) => void delete m.name, /name must be a non-empty string/],
    ["files missing", (m) => void delete m.files, /files must map/],
    ["files with a path", (m) => void ((m.files as Record<string, string>)["../etc/passwd"] = "0".repeat(64)), /plain file name/],
    ["files with a malformed hash", (m) => void ((m.files as Record<string, unknown>)[WEIGHTS_FILE] = 7), /files\.weights\.bin must be a sha256/],
  ];
  it.each(cases)("%s", async (_what, edit, message) => {
    const dir = await copy("field");
    await editBundleJson(dir, edit); // re-stamped: the field check, not META_MODIFIED, must speak
    const err = await refusedLoad(dir, "BAD_METADATA");
    expect(err.message).toMatch(message);
  });

  it("reports every problem at once", async () => {
    const dir = await copy("many");
    await editBundleJson(dir, (m) => {
      delete m.window;
      delete m.normalisation;
      m.training = {};
    });
    const err = await refusedLoad(dir, "BAD_METADATA");
    for (const field of ["window must", "normalisation must", "training.corpora must"]) expect(err.message).toContain(field);
  });

  it("refuses a bundle.json that is not an object, or a newer format", async () => {
    for (const text of ["null", "[1,2]", '"bundle"']) {
      const dir = await copy("not-object");
      await writeFile(path.join(dir, BUNDLE_FILE), text);
      expect((await refusedLoad(dir, "BAD_METADATA")).message).toContain("must hold a JSON object");
    }
    const newer = await copy("format-2");
    await editBundleJson(newer, (m) => void (m.format = 2), { restamp: false });
    expect((await refusedLoad(newer, "BAD_METADATA")).message).toContain("format 2");
  });

  it("refuses normalisation numbers of the wrong count (UNSUPPORTED_FEATURES)", async () => {
    const dir = await copy("short-norm");
    await editBundleJson(dir, (m) => void (m.normalisation as { mean: number[] }).mean.pop());
    expect((await refusedLoad(dir, "UNSUPPORTED_FEATURES")).message).toContain("normalisation.mean");
  });
});

describe("saveBundle and rehashBundle stamp meta_sha256", () => {
  it("rehashBundle adds the card's hash and re-stamps; the bundle then loads and the card is checked", async () => {
    const dir = await copy("card");
    await writeFile(path.join(dir, CARD_FILE), "# tiny\n");
    await rehashBundle(dir, [CARD_FILE]);
    const meta = await readMeta(dir);
    expect(Object.keys(meta.files as object)).toContain(CARD_FILE);
    expect(meta[META_HASH_FIELD]).toBe(bundleMetaSha256(meta));
    (await loadBundle(dir)).model.dispose();
    await writeFile(path.join(dir, CARD_FILE), "# tiny, edited\n");
    expect((await refusedLoad(dir, "CHECKSUM_MISMATCH")).message).toContain(CARD_FILE);
  });

  it("rehashBundle stamps a bundle written before meta_sha256, and refuses to re-stamp an edited one", async () => {
    const legacy = await copy("legacy-rehash");
    await editBundleJson(legacy, (m) => void delete m[META_HASH_FIELD], { restamp: false });
    await rehashBundle(legacy, []);
    expect((await readMeta(legacy))[META_HASH_FIELD]).toBe(bundleMetaSha256(await readMeta(legacy)));

    const edited = await copy("edited-rehash");
    await editBundleJson(edited, (m) => void (m.danger = ["angry"]), { restamp: false });
    const before = await readFile(path.join(edited, BUNDLE_FILE));
    const err = await refusal(rehashBundle(edited, []));
    expect(err.code).toBe("META_MODIFIED");
    expect(await readFile(path.join(edited, BUNDLE_FILE))).toEqual(before);
  });

  it("saveBundle recomputes a stale meta_sha256 passed in (re-saving a loaded bundle)", async () => {
    const loaded = await loadBundle(base);
    const { files: _f, quantization: _q, format: _fmt, ...meta } = loaded.meta;
    const dir = path.join(root, "resaved");
    try {
      const saved = await saveBundle(dir, loaded.model, { ...meta, version: "2.0.0", [META_HASH_FIELD]: "f".repeat(64) } as typeof meta, { quantize: true });
      expect(saved[META_HASH_FIELD]).toBe(bundleMetaSha256(saved));
      expect(saved.quantization).toBe("uint8");
      const again = await loadBundle(dir);
      expect(again.meta.version).toBe("2.0.0");
      again.model.dispose();
    } finally {
      loaded.model.dispose();
    }
  });
});
