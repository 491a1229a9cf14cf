import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadAudioFile } from "../audio/load.js";
import { Resampler } from "../audio/resample.js";
import { describeError } from "../errors.js";
import { extractSteps } from "../features/extract.js";
import { staticDims, type FeatureSpec } from "../features/spec.js";
import type { Logger } from "../log.js";
import { augment, padTo, type AugmentOptions } from "./augment.js";
import type { ManifestRow } from "./manifest.js";
import { Rng } from "./random.js";

/** Static feature steps of one clip (variant 0 is the clean recording, 1.. augmented copies). */
export interface ClipFeatures {
  row: ManifestRow;
  variant: number;
  steps: number;
  data: Float32Array;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ExtractOptions {
  cacheDir: string | null;
  /** Augmented copies per clip, besides the clean one. */
  augmentedCopies: number;
  augment: AugmentOptions;
  seed: number;
  log: Logger;
  onProgress?: (done: number, total: number) => void;
}

/** Samples needed for one full window of steps. */
export function windowSamples(spec: FeatureSpec): number {
  return (spec.windowSteps * spec.poolFrames - 1) * spec.hopSamples + spec.frameSamples;
}

// Bump when extraction or augmentation changes, so stale caches are never reused.
const CACHE_VERSION = 3;

function hashOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 20);
}

/** The seed `train` extracts features with; `eval` uses it too, so a clip is padded as in training. */
export const FEATURE_SEED = 1;

/**
 * The seed of one clip's augmentation and padding noise: a function of the file (as the manifest
 * names it), never of its position, so reordering or filtering a manifest changes no features.
 */
function clipSeed(seed: number, relPath: string, variant: number): number {
  const h = createHash("sha256").update(`${seed}/${variant}/${relPath}`).digest();
  return h.readUInt32LE(0);
}

interface CacheIndex {
  dims: number;
  entries: Record<string, { size: number; mtimeMs: number; steps: number; offset: number }>;
}

/** Only the fields that change extracted values key the cache (norm and window length do not). */
function extractionKey(spec: FeatureSpec, variant: number, opts: ExtractOptions): unknown {
  const { sampleRateHz, frameSamples, hopSamples, window, melBands, poolFrames, energy, windowSteps } = spec;
  return {
    CACHE_VERSION,
    // pitch only when on, so the caches of every spec before it keep their keys.
    spec: { sampleRateHz, frameSamples, hopSamples, window, melBands, poolFrames, energy, windowSteps, ...(spec.pitch ? { pitch: true } : {}) },
    variant,
    augment: variant === 0 ? null : { ...opts.augment, noises: opts.augment.noises.map((n) => n.length), seed: opts.seed },
  };
}

/** One clip's static steps: variant 0 is the clean clip, others augmented; short clips padded. */
export async function computeClip(
  row: ManifestRow,
  spec: FeatureSpec,
  variant: number,
  opts: Pick<ExtractOptions, "seed" | "augment">,
  resampler: Resampler,
): Promise<Float32Array> {
  const rng = new Rng(clipSeed(opts.seed, row.relPath, variant));
  let audio = await loadAudioFile(row.file, resampler);
  if (variant > 0) audio = augment(audio, opts.augment, rng);
  audio = padTo(audio, windowSamples(spec), rng);
  return extractSteps(spec, audio).data;
}

/**
 * Extracts (or loads from the cache) the static steps of every row, clean and augmented.
 * Unreadable files are skipped, counted and named; the run carries on.
 */
export async function extractCorpus(
  rows: ManifestRow[],
  spec: FeatureSpec,
  opts: ExtractOptions,
): Promise<{ clips: ClipFeatures[]; skipped: SkippedFile[] }> {
  const dims = staticDims(spec);
  // One converter for the whole run: creating one per clip doubles the cost of short clips.
  const resampler = new Resampler();
  try {
    return await extractWith(rows, spec, opts, resampler, dims);
  } finally {
    resampler.close();
  }
}

async function extractWith(
  rows: ManifestRow[],
  spec: FeatureSpec,
  opts: ExtractOptions,
  resampler: Resampler,
  dims: number,
): Promise<{ clips: ClipFeatures[]; skipped: SkippedFile[] }> {
  const clips: ClipFeatures[] = [];
  const skipped = new Map<string, SkippedFile>();
  const total = rows.length * (1 + opts.augmentedCopies);
  let done = 0;
  // Each corpus has its own cache file per variant.
  const groups = new Map<string, ManifestRow[]>();
  for (const r of rows) {
    const g = groups.get(r.corpus) ?? [];
    g.push(r);
    groups.set(r.corpus, g);
  }
  for (const [corpus, group] of groups) {
    for (let variant = 0; variant <= opts.augmentedCopies; variant++) {
      const key = hashOf(extractionKey(spec, variant, opts));
      const base = opts.cacheDir ? path.join(opts.cacheDir, `${corpus}-${key}`) : null;
      let index: CacheIndex = { dims, entries: {} };
      let blob: Float32Array = new Float32Array(0);
      if (base) {
        try {
          index = JSON.parse(await readFile(base + ".json", "utf8")) as CacheIndex;
          const buf = await readFile(base + ".bin");
          blob = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
          if (index.dims !== dims) index = { dims, entries: {} };
        } catch {
          index = { dims, entries: {} };
        }
      }
      const fresh: { rel: string; data: Float32Array; size: number; mtimeMs: number }[] = [];
      for (const row of group) {
        let st: { size: number; mtimeMs: number };
        try {
          st = await stat(row.file);
        } catch (err) {
          skipped.set(row.file, { file: row.file, reason: describeError(err) });
          done++;
          continue;
        }
        const e = index.entries[row.relPath];
        if (e && e.size === st.size && Math.abs(e.mtimeMs - st.mtimeMs) < 1 && e.offset + e.steps * dims <= blob.length) {
          clips.push({ row, variant, steps: e.steps, data: blob.slice(e.offset, e.offset + e.steps * dims) });
        } else {
          try {
            const data = await computeClip(row, spec, variant, opts, resampler);
            clips.push({ row, variant, steps: data.length / dims, data });
            fresh.push({ rel: row.relPath, data, size: st.size, mtimeMs: st.mtimeMs });
          } catch (err) {
            skipped.set(row.file, { file: row.file, reason: describeError(err) });
          }
        }
        opts.onProgress?.(++done, total);
      }
      if (base && fresh.length > 0) {
        // Rewrite index and blob together (write to temporaries, then rename).
        const keep = Object.entries(index.entries).filter(([rel]) => !fresh.some((f) => f.rel === rel));
        const parts: Float32Array[] = [];
        const entries: CacheIndex["entries"] = {};
        let offset = 0;
        for (const [rel, e] of keep) {
          if (e.offset + e.steps * dims > blob.length) continue;
          parts.push(blob.subarray(e.offset, e.offset + e.steps * dims));
          entries[rel] = { ...e, offset };
          offset += e.steps * dims;
        }
        for (const f of fresh) {
          parts.push(f.data);
          entries[f.rel] = { size: f.size, mtimeMs: f.mtimeMs, steps: f.data.length / dims, offset };
          offset += f.data.length;
        }
        const out = new Float32Array(offset);
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.length;
        }
        await mkdir(path.dirname(base), { recursive: true });
        await writeFile(base + ".bin.tmp", Buffer.from(out.buffer, out.byteOffset, out.byteLength));
        await writeFile(base + ".json.tmp", JSON.stringify({ dims, entries }));
        await rename(base + ".bin.tmp", base + ".bin");
        await rename(base + ".json.tmp", base + ".json");
        opts.log.debug({ corpus, variant, computed: fresh.length }, "feature cache updated");
      }
    }
  }
  if (skipped.size > 0) opts.log.warn({ skipped: skipped.size, example: [...skipped.values()][0] }, "skipped unreadable files");
  return { clips, skipped: [...skipped.values()] };
}
