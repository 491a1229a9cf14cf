/**
 * Ed25519 signatures on model bundles (node:crypto, no dependency).
 *
 * What is signed: the exact bytes of bundle.json. bundle.json pins the sha256 of every other file
 * (model.json, weights.bin, the model card), and verifyBundleFiles checks those, so one signature
 * over bundle.json covers the whole bundle — its labels, their order and the danger classes
 * included: a signed bundle whose labels were swapped and meta_sha256 re-stamped no longer verifies
 * (tested in test/unit/model/store.test.ts). The signature lives next to it in `signature.ed25519`
 * (base64, one line); it cannot be listed in bundle.json's hashes, since it signs that file.
 *
 * Trust: every `*.pub` (SPKI PEM) in the trusted-keys directory. When the directory holds no key,
 * signatures are not checked (a hobbyist's unit); when it holds one or more, an unsigned bundle or
 * one no trusted key verifies is refused. A key file that cannot be read or is not Ed25519 is an
 * error, never skipped: a broken trust store must not quietly accept everything.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { BundleError } from "../errors.js";
import { BUNDLE_FILE, verifyBundleFiles } from "./bundle-files.js";

export const SIGNATURE_FILE = "signature.ed25519";
/** Where an installed unit keeps the maintainers' public keys. */
export const DEFAULT_TRUSTED_KEYS_DIR = "/etc/earwitness/trusted-keys";

/** An Ed25519 signature is always 64 bytes. */
const SIGNATURE_BYTES = 64;

export interface TrustedKey {
  /** The .pub file it came from (named in messages, so a maintainer knows which key signed). */
  file: string;
  key: KeyObject;
}

/** The outcome of a signature check that did not refuse the bundle. */
export type SignatureCheck =
  | { status: "unchecked"; reason: string }
  | { status: "verified"; keyFile: string };

function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

/**
 * Reads every `*.pub` in `dir`, sorted by name. A missing directory means no keys (signatures are
 * not required); an unreadable directory or key file is a BundleError (TRUSTED_KEYS_UNREADABLE /
 * BAD_TRUSTED_KEY).
 */
export async function loadTrustedKeys(dir: string): Promise<TrustedKey[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    if (isEnoent(cause)) return [];
    throw new BundleError(
      "TRUSTED_KEYS_UNREADABLE",
      `cannot read the trusted-keys directory ${dir} (${(cause as Error).message}); fix its permissions or pass --trusted-keys`,
      { cause },
    );
  }
  const keys: TrustedKey[] = [];
  for (const name of names.filter((n) => n.endsWith(".pub")).sort()) {
    const file = path.join(dir, name);
    let key: KeyObject;
    try {
      key = createPublicKey(await readFile(file));
    } catch (cause) {
      throw new BundleError(
        "BAD_TRUSTED_KEY",
        `trusted key ${file} cannot be read as a public key (${(cause as Error).message}); replace it with the .pub file \`earwitness model keygen\` wrote, or remove it`,
        { cause },
      );
    }
    if (key.asymmetricKeyType !== "ed25519") {
      throw new BundleError(
        "BAD_TRUSTED_KEY",
        `trusted key ${file} is a ${String(key.asymmetricKeyType)} key, not ed25519; replace it with a key from \`earwitness model keygen\``,
      );
    }
    keys.push({ file, key });
  }
  return keys;
}

/**
 * Checks `dir`'s signature against `keys`. With no keys: "unchecked". Otherwise refuses with
 * BundleError UNSIGNED (no signature file), BAD_SIGNATURE (not a base64 Ed25519 signature) or
 * SIGNATURE_MISMATCH (no trusted key verifies it: signed by someone else, or bundle.json changed
 * after signing).
 */
export async function verifyBundleSignature(dir: string, keys: readonly TrustedKey[]): Promise<SignatureCheck> {
  if (keys.length === 0) return { status: "unchecked", reason: "no trusted keys configured" };
  let sigText: string;
  try {
    sigText = await readFile(path.join(dir, SIGNATURE_FILE), "utf8");
  } catch (cause) {
    if (isEnoent(cause)) {
      throw new BundleError(
        "UNSIGNED",
        `model bundle ${dir} has no ${SIGNATURE_FILE}, and trusted keys are configured (${keys.map((k) => path.basename(k.file)).join(", ")}); sign it with \`earwitness model sign --key FILE ${dir}\``,
        { cause },
      );
    }
    throw new BundleError("BAD_SIGNATURE", `model bundle ${dir}: cannot read ${SIGNATURE_FILE} (${(cause as Error).message})`, { cause });
  }
  const trimmed = sigText.trim();
  const signature = Buffer.from(trimmed, "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || signature.length !== SIGNATURE_BYTES) {
    throw new BundleError(
      "BAD_SIGNATURE",
      `model bundle ${dir}: ${SIGNATURE_FILE} is not a base64 Ed25519 signature (${signature.length} bytes, expected ${SIGNATURE_BYTES}); sign the bundle again`,
    );
  }
  let signed: Buffer;
  try {
    signed = await readFile(path.join(dir, BUNDLE_FILE));
  } catch (cause) {
    throw new BundleError("MISSING_FILE", `model bundle ${dir}: cannot read ${BUNDLE_FILE} (${(cause as Error).message})`, { cause });
  }
  for (const { file, key } of keys) {
    if (verify(null, signed, key, signature)) return { status: "verified", keyFile: file };
  }
  throw new BundleError(
    "SIGNATURE_MISMATCH",
    `model bundle ${dir}: its signature is not valid for any trusted key (${keys.map((k) => path.basename(k.file)).join(", ")}): it was signed with another key, or bundle.json changed after signing; get a bundle signed by a trusted maintainer`,
  );
}

async function readPrivateKey(keyFile: string): Promise<KeyObject> {
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(keyFile));
  } catch (cause) {
    throw new BundleError(
      "BAD_SIGNING_KEY",
      `cannot read private key ${keyFile} (${(cause as Error).message}); use the .key file \`earwitness model keygen\` wrote`,
      { cause },
    );
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new BundleError("BAD_SIGNING_KEY", `${keyFile} is a ${String(key.asymmetricKeyType)} key; model bundles are signed with ed25519 (\`earwitness model keygen\`)`);
  }
  return key;
}

/**
 * Signs the bundle in `dir` with the Ed25519 private key in `keyFile` (PKCS8 PEM) and writes
 * `signature.ed25519` (temp file + rename). The bundle is verified first: signing a bundle whose
 * files do not match bundle.json would only produce a signature every unit refuses later.
 * Returns the base64 signature.
 */
export async function signBundle(dir: string, keyFile: string): Promise<string> {
  const key = await readPrivateKey(keyFile);
  await verifyBundleFiles(dir);
  const bytes = await readFile(path.join(dir, BUNDLE_FILE));
  const signature = sign(null, bytes, key).toString("base64");
  const target = path.join(dir, SIGNATURE_FILE);
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, signature + "\n");
  await rename(tmp, target);
  return signature;
}

/**
 * Writes a new key pair: `<prefix>.key` (PKCS8 PEM, mode 0600) and `<prefix>.pub` (SPKI PEM).
 * Refuses to overwrite either file (KEY_EXISTS): losing a signing key locks out every unit that
 * trusts it.
 */
export async function generateSigningKey(prefix: string): Promise<{ keyFile: string; pubFile: string }> {
  const keyFile = `${prefix}.key`;
  const pubFile = `${prefix}.pub`;
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const priv = privateKey.export({ type: "pkcs8", format: "pem" });
  const pub = publicKey.export({ type: "spki", format: "pem" });
  try {
    // "wx": fail if the file exists; mode applies at creation, before any byte is written.
    await writeFile(keyFile, priv, { flag: "wx", mode: 0o600 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === "EEXIST" ? "KEY_EXISTS" : "KEY_WRITE_FAILED";
    throw new BundleError(code, `cannot write ${keyFile} (${(cause as Error).message}); choose another --out prefix`, { cause });
  }
  try {
    await writeFile(pubFile, pub, { flag: "wx", mode: 0o644 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === "EEXIST" ? "KEY_EXISTS" : "KEY_WRITE_FAILED";
    throw new BundleError(code, `cannot write ${pubFile} (${(cause as Error).message}); ${keyFile} was written — remove it and choose another --out prefix`, { cause });
  }
  return { keyFile, pubFile };
}
