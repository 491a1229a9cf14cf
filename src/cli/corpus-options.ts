import { readdir } from "node:fs/promises";
import path from "node:path";
import { loadAudioFile } from "../audio/load.js";

/** Every WAV in a folder, at 16 kHz, in name order (augmentation noise). */
export async function loadNoises(dir: string | undefined): Promise<Float32Array[]> {
  if (!dir) return [];
  const files = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith(".wav")).sort();
  return Promise.all(files.map((f) => loadAudioFile(path.join(dir, f))));
}

/** Where extracted features are cached between runs. */
export function defaultCacheDir(): string {
  return path.join(process.env.HOME ?? ".", ".cache", "earwitness", "features");
}

