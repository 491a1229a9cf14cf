import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** Writes SVG files (name → content) into `dir`, creating it; returns the paths written. */
export async function writePictures(dir: string, files: Record<string, string>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, svg] of Object.entries(files)) {
    const file = path.join(dir, name);
    await writeFile(file, svg);
    written.push(file);
  }
  return written;
}
