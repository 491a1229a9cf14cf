import { readFile } from "node:fs/promises";
import path from "node:path";
import { EarwitnessError } from "../errors.js";
import { labelKind } from "../label-map.js";

/** One labelled recording of a corpus. */
export interface ManifestRow {
  /** Absolute path of the audio file. */
  file: string;
  /** Path as written in the manifest. */
  relPath: string;
  label: string;
  speaker: string | null;
  /** The corpus it came from (its directory name), for reports and cross-corpus protocols. */
  corpus: string;
}

export class ManifestError extends EarwitnessError {}

/** Minimal RFC 4180 line splitter: quoted fields with doubled quotes. */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Reads a manifest CSV with at least the columns `path,label` (and optionally `speaker`; extra
 * columns such as sha256 or duration_s are ignored). Paths are relative to `root` when given,
 * otherwise to the manifest's own folder. Labels must come from the shared vocabulary
 * (../shared/data/README.md).
 */
export async function readManifest(csvPath: string, root?: string): Promise<ManifestRow[]> {
  let text: string;
  try {
    text = await readFile(csvPath, "utf8");
  } catch (cause) {
    throw new ManifestError("MANIFEST_UNREADABLE", `cannot read manifest ${csvPath}: ${(cause as Error).message}`, { cause });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new ManifestError("MANIFEST_EMPTY", `manifest ${csvPath} is empty; it needs a header path,label[,speaker]`);
  const header = splitCsvLine(lines[0]!).map((h) => h.trim().toLowerCase());
  const iPath = header.indexOf("path");
  const iLabel = header.indexOf("label");
  const iSpeaker = header.indexOf("speaker");
  if (iPath < 0 || iLabel < 0) {
    throw new ManifestError(
      "MANIFEST_COLUMNS",
      `manifest ${csvPath} must have columns path and label (found: ${header.join(", ")})`,
    );
  }
  const base = root ?? path.dirname(csvPath);
  const corpus = path.basename(root ?? path.dirname(path.resolve(csvPath)));
  const rows: ManifestRow[] = [];
  const problems: string[] = [];
  lines.slice(1).forEach((line, i) => {
    const cells = splitCsvLine(line);
    const rel = cells[iPath]?.trim() ?? "";
    const label = cells[iLabel]?.trim().toLowerCase() ?? "";
    if (!rel) return problems.push(`line ${i + 2}: empty path`);
    const kind = labelKind(label);
    if (kind === null) return problems.push(`line ${i + 2}: label "${label}" is not an emotion, arousal level, scream or known sound (src/label-map.ts)`);
    if (kind === "unlabelled") return;
    const speaker = iSpeaker >= 0 ? cells[iSpeaker]?.trim() || null : null;
    rows.push({ file: path.resolve(base, rel), relPath: rel, label, speaker, corpus });
  });
  if (problems.length > 0) {
    throw new ManifestError(
      "MANIFEST_ROWS",
      `manifest ${csvPath} has ${problems.length} bad row(s): ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? "; …" : ""}`,
    );
  }
  return rows;
}

/** A corpus directory holds manifest.csv (../shared/data layout); returns its rows. */
export async function readCorpusDir(dir: string): Promise<ManifestRow[]> {
  return readManifest(path.join(dir, "manifest.csv"), dir);
}
