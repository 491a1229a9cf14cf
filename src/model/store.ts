/**
 * The model store of an installed unit: verified bundles under the state directory, one of them
 * current.
 *
 *     <stateDir>/models/<name>@<version>/   a bundle, exactly the files bundle.json lists, plus
 *                                           bundle.json and signature.ed25519 (if signed)
 *     <stateDir>/models/current  → <name>@<version>    (relative symlink: what the daemon loads)
 *     <stateDir>/models/previous → <name>@<version>    (what `rollback` switches back to)
 *
 * A bundle is staged and checked in a private temp directory — schema, every sha256, feature spec,
 * signature, the configured danger labels, then the self-test — and only when every check passed is
 * it copied into the store (temp name + rename) and `current` switched (symlink to a temp name +
 * rename over `current`, which is atomic: a reader sees the old link or the new one, never none).
 * A bundle that fails a check leaves the state directory exactly as it was.
 *
 * Install order is the directory's mtime, set at install (and when an installed version is made
 * current again); pruning keeps the newest `keep` versions and never removes current or previous.
 */
import { spawn } from "node:child_process";
import { constants as fsConstants, createReadStream } from "node:fs";
import { cp, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, stat, symlink, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { BundleError } from "../errors.js";
import { staticDims } from "../features/spec.js";
// bundle.js and classifier.js (tfjs) are imported where a check builds the model, so that the
// daemon, which imports this file for the current/previous links, does not load tfjs.
import { BUNDLE_FILE, verifyBundleFiles, type BundleMeta, type VerifiedBundle } from "./bundle-files.js";
import { loadTrustedKeys, SIGNATURE_FILE, verifyBundleSignature, type SignatureCheck } from "./signing.js";

export const MODELS_DIR = "models";
export const CURRENT_LINK = "current";
export const PREVIOUS_LINK = "previous";
export const DEFAULT_KEEP = 3;
/**
 * What a bundle archive may unpack to (issue #11 §11b: a 2.1 MB tar.gz unpacked to 2 GB in the
 * staging directory). The shipped bundle is ~120 kB and a float32 CNN a few MB, so 64 MiB of tar
 * stream (data and headers) leaves a wide margin while a bomb stops long before it fills an SD card.
 */
export const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;
/** Members an archive may hold: a bundle has five files; a bomb of empty files has millions. */
export const MAX_ARCHIVE_ENTRIES = 256;

/** `<name>@<version>` becomes a directory name: no separators, no dot-files, no surprises. */
const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const LOCK_FILE = ".lock";

export interface CheckOptions {
  /** Danger labels of the running config (`detect.danger.labels`): the bundle must have them all. */
  dangerLabels: readonly string[];
  /** Directory of trusted `*.pub` keys; null or a directory without keys = signatures not checked. */
  trustedKeysDir: string | null;
  /**
   * Accept a bundle that carries no self-test. A bundle that carries one is always tested: a
   * self-test that exists and fails means the model does not compute what its author measured.
   */
  allowNoSelftest?: boolean;
}

export interface StoreOptions extends CheckOptions {
  stateDir: string;
  /** Versions kept after an install (current and previous always are). Default DEFAULT_KEEP. */
  keep?: number;
  /** Where bundles are staged and checked; os.tmpdir() by default. */
  tmpDir?: string;
  /** Install time recorded on the version's directory; Date.now by default. */
  nowMs?: () => number;
}

export type SelftestCheck =
  /** byLabel false: an older bundle's self-test, stored in label order, which cannot catch reordered labels. */
  | { status: "passed"; maxAbsDiff: number; tolerance: number; byLabel: boolean }
  | { status: "skipped"; reason: string };

export interface BundleCheck {
  id: string;
  meta: BundleMeta;
  /** sha256 of bundle.json: names the exact bundle. */
  sha256: string;
  signature: SignatureCheck;
  selftest: SelftestCheck;
}

export interface InstallResult extends BundleCheck {
  dir: string;
  /** The version that was current before (now `previous`), if any other. */
  previous: string | null;
  /** The same bytes were already installed: only `current` moved (if it had to). */
  alreadyInstalled: boolean;
  pruned: string[];
}

export interface InstalledModel {
  id: string;
  dir: string;
  current: boolean;
  previous: boolean;
  installedAtMs: number;
  /** From bundle.json; null with `problem` set when it cannot be read. */
  name: string | null;
  version: string | null;
  problem: string | null;
}

/** `<name>@<version>` of a bundle; refuses names that cannot be a directory. */
export function modelId(meta: Pick<BundleMeta, "name" | "version">): string {
  for (const [field, v] of [["name", meta.name], ["version", meta.version]] as const) {
    if (typeof v !== "string" || !SAFE_PART.test(v)) {
      throw new BundleError(
        "BAD_METADATA",
        `bundle.json ${field} ${JSON.stringify(v)} cannot name a directory (letters, digits, '.', '_', '+', '-'; starting with a letter or digit); re-export the bundle`,
      );
    }
  }
  return `${meta.name}@${meta.version}`;
}

export function modelsDir(stateDir: string): string {
  return path.join(stateDir, MODELS_DIR);
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

// ─── checks ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Runs the bundle's self-test (bundle.json `selftest`; `earwitness selftest` is another thing, a
 * test alert through the outputs) on a loaded model: its stored input must give its stored output
 * within tolerance. Throws BundleError SELFTEST_FAILED / BAD_SELFTEST, or, for a self-test stored
 * by label name, LABELS_MODIFIED (bundle.json names other labels than the self-test was recorded
 * for) / LABELS_REORDERED (the outputs match the record under another label order: bundle.json's
 * labels were reordered after export, issue #11 §5). `classifier` runs the bundle's model
 * (checkBundle gives it tfjs's EmotionClassifier). The daemon can call this on a hot swap before
 * the new model replaces the old one.
 */
export function runBundleSelftest(
  bundle: VerifiedBundle,
  classifier: { predict(steps: Float32Array[]): Float32Array[] },
): SelftestCheck & { status: "passed" } {
  const { meta, dir } = bundle;
  const st = meta.selftest;
  if (st === null) throw new BundleError("NO_SELFTEST", `model bundle ${dir} carries no self-test`);
  const labels = meta.labels;
  const stepsLen = meta.features.windowSteps * staticDims(meta.features);
  const problems: string[] = [];
  const finite = (x: unknown): boolean => typeof x === "number" && Number.isFinite(x);
  if (!Array.isArray(st.steps) || st.steps.length !== stepsLen || st.steps.some((x) => !finite(x)))
    problems.push(`steps must hold ${stepsLen} finite numbers (windowSteps × static features)`);
  const byLabel = typeof st.expected === "object" && st.expected !== null && !Array.isArray(st.expected);
  if (byLabel) {
    if (Object.values(st.expected).some((x) => !finite(x))) problems.push(`expected must map each label to a finite number`);
  } else if (!Array.isArray(st.expected) || st.expected.length !== labels.length || st.expected.some((x) => !finite(x))) {
    problems.push(`expected must hold ${labels.length} finite numbers (one per label)`);
  }
  if (typeof st.tolerance !== "number" || !(st.tolerance >= 0) || st.tolerance > 0.5) problems.push(`tolerance must be a number in [0, 0.5]`);
  if (problems.length > 0) {
    throw new BundleError("BAD_SELFTEST", `model bundle ${dir}: selftest is malformed: ${problems.join("; ")}; re-export the bundle`);
  }
  let expected: number[];
  if (byLabel) {
    const record = st.expected as Record<string, number>;
    const recorded = Object.keys(record);
    if (recorded.length !== labels.length || labels.some((l) => !Object.hasOwn(record, l))) {
      const lost = recorded.filter((l) => !labels.includes(l));
      const gained = labels.filter((l) => !Object.hasOwn(record, l));
      throw new BundleError(
        "LABELS_MODIFIED",
        `model bundle ${dir}: bundle.json's labels (${labels.join(", ")}) are not those its self-test was recorded for (${recorded.join(", ")}: ` +
          `${[...lost.map((l) => `"${l}" is gone`), ...gained.map((l) => `"${l}" is new`)].join(", ")}); the label list was edited after the bundle was made, ` +
          `so alerts would name the wrong classes — do not use it, reinstall the original bundle`,
      );
    }
    expected = labels.map((l) => record[l]!);
  } else {
    expected = st.expected as number[];
  }
  const got = classifier.predict([Float32Array.from(st.steps)])[0]!;
  let maxAbsDiff = 0;
  let worst = 0;
  for (let k = 0; k < expected.length; k++) {
    const d = Math.abs((got[k] ?? Number.NaN) - expected[k]!);
    // NaN compares false: count it as the worst possible difference.
    if (!(d <= maxAbsDiff)) {
      maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      worst = k;
    }
  }
  if (!(maxAbsDiff <= st.tolerance)) {
    if (byLabel) throwIfReordered(dir, labels, Array.from(got), expected, st.tolerance);
    throw new BundleError(
      "SELFTEST_FAILED",
      `model bundle ${dir}: self-test failed: ${labels[worst]} is ${String(got[worst])}, expected ${expected[worst]} ± ${st.tolerance} ` +
        `(max difference ${maxAbsDiff.toPrecision(3)}); the weights or this earwitness/tfjs backend compute something else than when the bundle was made — do not use it`,
    );
  }
  return { status: "passed", maxAbsDiff, tolerance: st.tolerance, byLabel };
}

/**
 * LABELS_REORDERED when every output matches the self-test's record of exactly one label, and
 * some output matches another label's record than the one bundle.json gives it.
 */
function throwIfReordered(dir: string, labels: readonly string[], got: number[], expected: readonly number[], tolerance: number): void {
  const owner: number[] = [];
  for (let k = 0; k < got.length; k++) {
    const matches = expected.flatMap((e, j) => (Math.abs(got[k]! - e) <= tolerance ? [j] : []));
    if (matches.length !== 1 || owner.includes(matches[0]!)) return;
    owner.push(matches[0]!);
  }
  const moved = owner.flatMap((j, k) => (j === k ? [] : [`output ${k} computes what the self-test recorded for "${labels[j]}" but is labelled "${labels[k]}"`]));
  if (moved.length === 0) return;
  throw new BundleError(
    "LABELS_REORDERED",
    `model bundle ${dir}: bundle.json's label order does not match the model's outputs (${moved.join("; ")}): the labels were reordered after the bundle was made, ` +
      `so one class would be reported as another — do not use it, reinstall the original bundle`,
  );
}

/**
 * Every check short of copying, on a bundle directory: schema, hashes and feature spec
 * (verifyBundleFiles), signature, the configured danger labels, the model's shapes, and the
 * self-test. Needs a tfjs backend selected. Throws a BundleError naming the first failed check.
 */
export async function checkBundle(dir: string, opts: CheckOptions): Promise<BundleCheck> {
  const { meta, sha256 } = await verifyBundleFiles(dir);
  const id = modelId(meta);
  const keys = opts.trustedKeysDir === null ? [] : await loadTrustedKeys(opts.trustedKeysDir);
  const signature = await verifyBundleSignature(dir, keys);
  const missing = opts.dangerLabels.filter((l) => !meta.labels.includes(l));
  if (missing.length > 0) {
    throw new BundleError(
      "LABELS_MISMATCH",
      `model bundle ${dir} (${id}) has no class ${missing.map((l) => `"${l}"`).join(", ")}, which the config counts as danger (detect.danger.labels); ` +
        `its labels are ${meta.labels.join(", ")}. Use a bundle trained with those classes, or change detect.danger.labels`,
    );
  }
  let selftest: SelftestCheck;
  const [{ loadBundle }, { EmotionClassifier }] = await Promise.all([import("./bundle.js"), import("./classifier.js")]);
  if (meta.selftest === null) {
    if (!opts.allowNoSelftest) {
      throw new BundleError(
        "NO_SELFTEST",
        `model bundle ${dir} (${id}) carries no self-test, so nothing shows it computes on this unit what it computed when it was made; ` +
          `re-export it with a self-test (earwitness train does, with quantisation on), or pass --no-selftest to accept it anyway`,
      );
    }
    // Still build the model: shapes are checked by loadBundle.
    const loaded = await loadBundle(dir);
    loaded.model.dispose();
    selftest = { status: "skipped", reason: "the bundle carries no self-test (accepted with --no-selftest)" };
  } else {
    const loaded = await loadBundle(dir);
    try {
      selftest = runBundleSelftest(loaded, new EmotionClassifier(loaded));
    } finally {
      loaded.model.dispose();
    }
  }
  return { id, meta, sha256, signature, selftest };
}

// ─── staging ────────────────────────────────────────────────────────────────────────────────────

/**
 * Unpacks the .tar.gz `source` into `dir`, refusing (ARCHIVE_TOO_LARGE / ARCHIVE_TOO_MANY_FILES)
 * as soon as the decompressed stream passes MAX_ARCHIVE_BYTES or tar has named more than
 * MAX_ARCHIVE_ENTRIES members: we decompress and count, tar only unpacks what it is fed, so at
 * most about the cap is ever written. The caller removes `dir`.
 */
async function unpackArchive(source: string, dir: string): Promise<void> {
  // --no-same-owner/permissions: the archive's uids and modes are not trusted. GNU tar refuses
  // members outside the target (absolute names, "..") by default. -v names each member on stdout.
  const child = spawn("tar", ["-x", "-v", "-f", "-", "-C", dir, "--no-same-owner", "--no-same-permissions"], { stdio: ["pipe", "pipe", "pipe"] });
  let refusal: BundleError | null = null;
  let stderr = "";
  let entries = 0;
  const closed = new Promise<{ code: number | null; spawnError: Error | null }>((resolve) => {
    child.on("error", (spawnError) => resolve({ code: null, spawnError }));
    child.on("close", (code) => resolve({ code, spawnError: null }));
  });
  const refuse = (err: BundleError): void => {
    refusal ??= err;
    child.kill("SIGKILL");
  };
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    for (const c of d) if (c === "\n") entries++;
    if (entries > MAX_ARCHIVE_ENTRIES) {
      refuse(new BundleError("ARCHIVE_TOO_MANY_FILES", `${source} holds more than ${MAX_ARCHIVE_ENTRIES} files; a model bundle has a handful — this is not a bundle archive, nothing was installed`));
    }
  });
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > MAX_ARCHIVE_BYTES) {
        const err = new BundleError(
          "ARCHIVE_TOO_LARGE",
          `${source} unpacks to more than ${MAX_ARCHIVE_BYTES / (1024 * 1024)} MiB (a model bundle is a few MB at most); it is not a bundle archive, or a decompression bomb — nothing was installed`,
        );
        refuse(err);
        done(err);
        return;
      }
      done(null, chunk);
    },
  });
  let streamError: unknown = null;
  try {
    await pipeline(createReadStream(source), createGunzip(), counter, child.stdin);
  } catch (err) {
    streamError = err;
    child.kill("SIGKILL");
  }
  const { code, spawnError } = await closed;
  if (refusal) throw refusal;
  if (spawnError) {
    throw new BundleError("TAR_FAILED", `cannot run tar (${spawnError.message}); install tar or unpack the bundle and pass its directory`, { cause: spawnError });
  }
  // A broken pipe only means tar stopped reading (it failed, or the archive ended early).
  const brokenPipe = ["EPIPE", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED"].includes((streamError as NodeJS.ErrnoException | null)?.code ?? "");
  if (streamError && !brokenPipe) {
    throw new BundleError("TAR_FAILED", `${source} is not a readable gzip archive (${(streamError as Error).message}); check the archive`, { cause: streamError });
  }
  if (code !== 0) {
    throw new BundleError("TAR_FAILED", `tar could not unpack the bundle (exit ${String(code)}): ${stderr.trim() || "no message"}; check the archive`);
  }
}

/** The bundle's directory inside an unpacked archive: its top level, or its only subdirectory. */
async function findBundleRoot(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.some((e) => e.name === BUNDLE_FILE)) return dir;
  const subdirs = entries.filter((e) => e.isDirectory());
  if (subdirs.length === 1 && entries.length === 1) {
    const inner = path.join(dir, subdirs[0]!.name);
    if ((await readdir(inner)).includes(BUNDLE_FILE)) return inner;
  }
  throw new BundleError("MISSING_FILE", `the archive holds no ${BUNDLE_FILE} at its top level or in a single top-level directory; it is not a model bundle`);
}

/**
 * Copies bundle.json, the signature and exactly the files bundle.json lists from `from` to `to`.
 * Only regular files: a symlink in a bundle could make the store copy any file on this machine.
 */
async function stageFiles(from: string, to: string, maxBytes: number | null = null): Promise<void> {
  await mkdir(to, { recursive: true });
  let listed: string[] = [];
  try {
    const meta = JSON.parse(await readFile(path.join(from, BUNDLE_FILE), "utf8")) as { files?: unknown };
    if (typeof meta.files === "object" && meta.files !== null) listed = Object.keys(meta.files);
  } catch {
    // Unreadable or invalid bundle.json: copy what is there and let verifyBundleFiles say what is wrong.
  }
  let total = 0;
  for (const name of [BUNDLE_FILE, SIGNATURE_FILE, ...listed]) {
    if (name.includes("/") || name.includes("\\") || name === "." || name === "..") continue; // verifyBundleFiles refuses it
    const src = path.join(from, name);
    let st;
    try {
      st = await lstat(src);
    } catch (err) {
      if (isErrno(err, "ENOENT")) continue; // verifyBundleFiles reports a missing listed file
      throw err;
    }
    if (!st.isFile()) {
      throw new BundleError("BAD_BUNDLE", `model bundle ${from}: ${name} is not a regular file (a symlink or directory); a bundle holds plain files only`);
    }
    // A sparse member unpacks small but would be copied (and hashed) at its full size.
    total += st.size;
    if (maxBytes !== null && total > maxBytes) {
      throw new BundleError("ARCHIVE_TOO_LARGE", `model bundle ${from}: its files come to more than ${maxBytes / (1024 * 1024)} MiB (a model bundle is a few MB at most); nothing was installed`);
    }
    await cp(src, path.join(to, name), { mode: fsConstants.COPYFILE_EXCL });
  }
}

/** Stages `source` (a bundle directory or a .tar.gz/.tgz) in a fresh directory under `tmp`. */
async function stage(source: string, tmp: string): Promise<string> {
  let st;
  try {
    st = await stat(source);
  } catch (cause) {
    throw new BundleError("BAD_SOURCE", `model bundle ${source} does not exist or cannot be read (${(cause as Error).message})`, { cause });
  }
  const staged = path.join(tmp, "bundle");
  if (st.isDirectory()) {
    await stageFiles(source, staged);
    return staged;
  }
  if (!/\.(tar\.gz|tgz)$/.test(source)) {
    throw new BundleError("BAD_SOURCE", `${source} is neither a bundle directory nor a .tar.gz / .tgz archive`);
  }
  const unpacked = path.join(tmp, "unpacked");
  await mkdir(unpacked);
  await unpackArchive(source, unpacked);
  await stageFiles(await findBundleRoot(unpacked), staged, MAX_ARCHIVE_BYTES);
  return staged;
}

// ─── links and lock ─────────────────────────────────────────────────────────────────────────────

async function readLink(models: string, name: string): Promise<string | null> {
  try {
    const target = await readlink(path.join(models, name));
    return path.basename(target);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    if (isErrno(err, "EINVAL")) throw new BundleError("STORE_DAMAGED", `${path.join(models, name)} is not a symlink; remove it and run \`earwitness model install\` again`);
    throw err;
  }
}

/** Points `models/<name>` at `id`: symlink to a temp name, then rename over the link (atomic). */
async function setLink(models: string, name: string, id: string): Promise<void> {
  const tmp = path.join(models, `.${name}.tmp-${process.pid}`);
  await rm(tmp, { force: true });
  await symlink(id, tmp);
  await rename(tmp, path.join(models, name));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, "ESRCH");
  }
}

/** One store writer at a time (two maintainers over SSH). A lock left by a dead process is taken over. */
async function withLock<T>(models: string, fn: () => Promise<T>): Promise<T> {
  const file = path.join(models, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if (!isErrno(err, "EEXIST") || attempt > 0) throw err;
      const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) {
        throw new BundleError("STORE_BUSY", `another earwitness model command (pid ${holder}) is changing ${models}; wait for it to finish`);
      }
      await rm(file, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}

// ─── store operations ───────────────────────────────────────────────────────────────────────────

async function entryIds(models: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(models, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".") && e.name.includes("@")).map((e) => e.name);
}

/** Installed versions, newest install first. */
export async function listModels(stateDir: string): Promise<InstalledModel[]> {
  const models = modelsDir(stateDir);
  const current = await readLink(models, CURRENT_LINK);
  const previous = await readLink(models, PREVIOUS_LINK);
  const out: InstalledModel[] = [];
  for (const id of await entryIds(models)) {
    const dir = path.join(models, id);
    const installedAtMs = (await stat(dir)).mtimeMs;
    let name: string | null = null;
    let version: string | null = null;
    let problem: string | null = null;
    try {
      const meta = JSON.parse(await readFile(path.join(dir, BUNDLE_FILE), "utf8")) as Partial<BundleMeta>;
      name = typeof meta.name === "string" ? meta.name : null;
      version = typeof meta.version === "string" ? meta.version : null;
    } catch (err) {
      problem = `bundle.json unreadable: ${(err as Error).message}`;
    }
    out.push({ id, dir, current: id === current, previous: id === previous, installedAtMs, name, version, problem });
  }
  return out.sort((a, b) => b.installedAtMs - a.installedAtMs || a.id.localeCompare(b.id));
}

/** The current version's id and directory, or null when none is installed. For the daemon. */
export async function currentModel(stateDir: string): Promise<{ id: string; dir: string } | null> {
  const models = modelsDir(stateDir);
  const id = await readLink(models, CURRENT_LINK);
  return id === null ? null : { id, dir: path.join(models, id) };
}

/** The previous version's id and directory (what `rollback` would switch to), or null. For the daemon's fallback. */
export async function previousModel(stateDir: string): Promise<{ id: string; dir: string } | null> {
  const models = modelsDir(stateDir);
  const id = await readLink(models, PREVIOUS_LINK);
  return id === null ? null : { id, dir: path.join(models, id) };
}

async function prune(models: string, keep: number): Promise<string[]> {
  const current = await readLink(models, CURRENT_LINK);
  const previous = await readLink(models, PREVIOUS_LINK);
  const withTimes = await Promise.all((await entryIds(models)).map(async (id) => ({ id, t: (await stat(path.join(models, id))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t || a.id.localeCompare(b.id));
  const pruned: string[] = [];
  for (const { id } of withTimes.slice(keep)) {
    if (id === current || id === previous) continue;
    await rm(path.join(models, id), { recursive: true, force: true });
    pruned.push(id);
  }
  return pruned;
}

function validateKeep(keep: number): number {
  if (!Number.isInteger(keep) || keep < 1) throw new BundleError("BAD_OPTION", `keep must be a whole number ≥ 1 (got ${keep})`);
  return keep;
}

/**
 * Checks `source` (bundle directory or .tar.gz) and, only if every check passes, installs it as
 * `<stateDir>/models/<name>@<version>` and makes it current; the version that was current becomes
 * `previous`. Re-installing identical bytes only switches `current`; different bytes under an
 * installed name@version are refused (VERSION_CONFLICT): a version names one exact bundle.
 * Needs a tfjs backend selected (for the self-test). Call notifyDaemon afterwards.
 */
export async function installModel(source: string, opts: StoreOptions): Promise<InstallResult> {
  const keep = validateKeep(opts.keep ?? DEFAULT_KEEP);
  const now = opts.nowMs ?? Date.now;
  const tmp = await mkdtemp(path.join(opts.tmpDir ?? tmpdir(), "earwitness-model-"));
  try {
    const staged = await stage(source, tmp);
    const check = await checkBundle(staged, opts);
    const models = modelsDir(opts.stateDir);
    const finalDir = path.join(models, check.id);
    await installedCopyState(finalDir, check); // refuse a conflict before touching the state dir
    await mkdir(models, { recursive: true });
    return await withLock(models, async () => {
      const existing = await installedCopyState(finalDir, check);
      if (existing !== "same") {
        const incoming = path.join(models, `.incoming-${check.id}-${process.pid}`);
        await rm(incoming, { recursive: true, force: true });
        await cp(staged, incoming, { recursive: true });
        // The copy is what the daemon will load: check its bytes once more.
        const copied = await verifyBundleFiles(incoming);
        if (copied.sha256 !== check.sha256) throw new BundleError("COPY_FAILED", `copying ${check.id} into ${models} changed bundle.json; check the disk`);
        if (existing === "damaged") {
          // A damaged copy (e.g. SD-card corruption) is replaced; `current` follows the name.
          const trash = path.join(models, `.trash-${check.id}-${process.pid}`);
          await rename(finalDir, trash);
          await rename(incoming, finalDir);
          await rm(trash, { recursive: true, force: true });
        } else {
          await rename(incoming, finalDir);
        }
      }
      const t = new Date(now());
      await utimes(finalDir, t, t);
      const oldCurrent = await readLink(models, CURRENT_LINK);
      let previous: string | null = null;
      if (oldCurrent !== check.id) {
        // previous first: if we stop between the two renames, previous = current, which is harmless.
        if (oldCurrent !== null) {
          await setLink(models, PREVIOUS_LINK, oldCurrent);
          previous = oldCurrent;
        }
        await setLink(models, CURRENT_LINK, check.id);
      }
      const pruned = await prune(models, keep);
      return { ...check, dir: finalDir, previous, alreadyInstalled: existing === "same", pruned };
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Whether `dir` already holds this bundle: absent, the same bytes, damaged, or (refused) other bytes. */
async function installedCopyState(dir: string, check: BundleCheck): Promise<"absent" | "same" | "damaged"> {
  try {
    await lstat(dir);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return "absent";
    throw err;
  }
  let installedSha: string;
  try {
    installedSha = (await verifyBundleFiles(dir)).sha256;
  } catch (err) {
    if (err instanceof BundleError) return "damaged";
    throw err;
  }
  if (installedSha !== check.sha256) {
    throw new BundleError(
      "VERSION_CONFLICT",
      `${check.id} is already installed with different contents (bundle.json sha256 ${installedSha.slice(0, 12)}…, this bundle ${check.sha256.slice(0, 12)}…); ` +
        `give the new bundle a new version`,
    );
  }
  return "same";
}

/**
 * Checks an installed version (default: current) as install would: hashes, signature, labels,
 * self-test. Throws BundleError on the first failure (NOT_INSTALLED when there is no such version).
 */
export async function verifyInstalled(id: string | null, opts: CheckOptions & { stateDir: string }): Promise<BundleCheck & { dir: string }> {
  const models = modelsDir(opts.stateDir);
  const target = id ?? (await readLink(models, CURRENT_LINK));
  if (target === null) throw new BundleError("NOT_INSTALLED", `no model is installed in ${models}; install one with \`earwitness model install BUNDLE\``);
  const dir = path.join(models, target);
  if (target.includes("/") || !(await entryIds(models)).includes(target)) {
    throw new BundleError("NOT_INSTALLED", `${target} is not installed in ${models}; see \`earwitness model list\``);
  }
  const check = await checkBundle(dir, opts);
  if (check.id !== target) {
    throw new BundleError("STORE_DAMAGED", `${dir} holds ${check.id}, not ${target}; reinstall the bundle`);
  }
  return { ...check, dir };
}

/**
 * Switches `current` back to `previous` (and `previous` to the old current, so a second rollback
 * undoes the first). The previous version is checked first (hashes, signature, labels, self-test);
 * a failing one is refused and nothing changes.
 */
export async function rollback(opts: CheckOptions & { stateDir: string }): Promise<{ from: string; to: string }> {
  const models = modelsDir(opts.stateDir);
  const previous = await readLink(models, PREVIOUS_LINK);
  if (previous === null) throw new BundleError("NO_PREVIOUS", `there is no previous model to roll back to in ${models}`);
  const current = await readLink(models, CURRENT_LINK);
  await verifyInstalled(previous, opts);
  return withLock(models, async () => {
    if ((await readLink(models, PREVIOUS_LINK)) !== previous || (await readLink(models, CURRENT_LINK)) !== current) {
      throw new BundleError("STORE_BUSY", `${models} changed while rolling back; run the command again`);
    }
    if (current !== null) await setLink(models, PREVIOUS_LINK, current);
    await setLink(models, CURRENT_LINK, previous);
    return { from: current ?? "(none)", to: previous };
  });
}
