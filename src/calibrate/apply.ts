/**
 * `calibrate --apply`: writes the recommended detection settings into the config file, keeping
 * its comments and layout (yaml's Document API), validating the result with the same schema the
 * daemon uses before anything is written, and keeping the previous file as `<file>.bak`.
 *
 * Never, without `force`, a setting more sensitive than the shipped defaults (a lower enter
 * threshold, or fewer windows needed): `--apply` once wrote 0.40 and 2 of 3 into a live config
 * from 17.5 s of calm speech (issue #12.5), and a unit that alarms every night gets unplugged.
 */
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import YAML from "yaml";
import { parseConfig } from "../config/load.js";
import { CalibrationError, ConfigError } from "../errors.js";
import { defaultSetting, moreSensitiveThan, type Candidate } from "./simulate.js";

export interface DetectUpdate {
  enter_threshold: number;
  exit_threshold: number;
  k: number;
  n: number;
}

export function detectUpdate(c: Candidate): DetectUpdate {
  return { enter_threshold: c.enterThreshold, exit_threshold: c.exitThreshold, k: c.k, n: c.n };
}

export interface ApplyOptions {
  /** Write a setting more sensitive than the defaults too (`--force`). */
  force: boolean;
}

/**
 * Pure: the config text with `detect.*` set to `update`, comments and other keys untouched.
 * Throws CalibrationError (MORE_SENSITIVE_THAN_DEFAULTS) for a setting more sensitive than the
 * defaults without `force`, ConfigError (INVALID_CONFIG) when the file does not parse or the
 * result is invalid.
 */
export function applyDetectUpdate(text: string, update: DetectUpdate, hostname: string, options: ApplyOptions): string {
  const defaults = defaultSetting();
  if (!options.force && moreSensitiveThan({ enterThreshold: update.enter_threshold, k: update.k }, defaults)) {
    throw new CalibrationError(
      "MORE_SENSITIVE_THAN_DEFAULTS",
      `enter_threshold ${update.enter_threshold} with k ${update.k} is more sensitive than the defaults (enter_threshold ${defaults.enterThreshold}, k ${defaults.k}) and would raise more false alerts; nothing was written — pass --force to write it anyway`,
    );
  }
  const doc: YAML.Document = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError("INVALID_CONFIG", `the config file does not parse as YAML (${doc.errors[0]!.message.split("\n")[0]}); fix it before calibrating`);
  }
  if (doc.contents === null || (YAML.isScalar(doc.contents) && doc.contents.value === null)) doc.contents = doc.createNode({});
  if (!YAML.isMap(doc.contents)) throw new ConfigError("INVALID_CONFIG", "the config file must hold a mapping of settings at the top level");
  const detect = doc.get("detect", true);
  // `detect:` with every key commented out is an empty (null) value: make it a mapping.
  if (detect === undefined || detect === null || (YAML.isScalar(detect) && detect.value === null)) {
    const node = doc.createNode({});
    if (YAML.isScalar(detect) && detect.comment) node.comment = detect.comment;
    doc.set("detect", node);
  }
  // k before n changes is validated together below; the order in the file does not matter.
  for (const [key, value] of Object.entries(update)) doc.setIn(["detect", key], value);
  const out = doc.toString();
  const result = parseConfig(out, { env: {}, hostname, sourceName: "the calibrated config" });
  if (!result.ok) {
    throw new ConfigError("INVALID_CONFIG", `the calibrated settings would make the config invalid: ${result.issues.join("; ")}; nothing was written`, { issues: result.issues });
  }
  return out;
}

/**
 * Applies the update to `path`: backup to `<path>.bak`, then an atomic replace (temp file,
 * fsync, rename) that keeps the file's mode, owner and group — `sudo earwitness calibrate
 * --apply` on a root:earwitness 0640 config must leave it readable by the daemon — and gives the
 * backup the same, since the config may hold secrets. A missing file is created holding only the
 * detect section. Returns the backup path (null when there was no file to back up).
 */
export async function applyToConfigFile(path: string, update: DetectUpdate, hostname: string, options: ApplyOptions): Promise<string | null> {
  let text: string | null;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new ConfigError("CONFIG_UNREADABLE", `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    text = null;
  }
  const out = applyDetectUpdate(text ?? "", update, hostname, options);
  let backup: string | null = null;
  let like: { mode: number; uid: number; gid: number } | null = null;
  if (text !== null) {
    const st = await stat(path);
    like = { mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
    backup = `${path}.bak`;
    await writeLike(backup, text, like);
  }
  await writeLike(path, out, like ?? { mode: 0o644, uid: -1, gid: -1 });
  return backup;
}

/** Atomically replaces `file` with `text`, with the given mode and (where we may) owner and group. */
async function writeLike(file: string, text: string, like: { mode: number; uid: number; gid: number }): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const handle = await open(tmp, "w", like.mode);
    try {
      await handle.writeFile(text);
      await handle.chmod(like.mode);
      if (like.uid >= 0 && (like.uid !== process.getuid?.() || like.gid !== process.getgid?.())) {
        try {
          await handle.chown(like.uid, like.gid);
        } catch (err) {
          // Not root and not ours to give away: refuse rather than leave a file the daemon may not read.
          throw new ConfigError(
            "CONFIG_OWNER",
            `cannot give ${file} back its owner ${like.uid}:${like.gid} (${(err as Error).message}); run calibrate --apply as root (sudo) or as the file's owner`,
            { cause: err },
          );
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
