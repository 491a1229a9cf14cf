import { delimiter } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory holding the fake `arecord` and `sox` executables (see fake-recorder.mjs). Tests
 * prepend it to PATH so the code under test spawns the fakes by their real names.
 */
export function fakeBinDir(): string {
  return fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
}

/** `PATH` with the fakes first. */
export function pathWithFakeBin(path: string | undefined = process.env.PATH): string {
  return path ? `${fakeBinDir()}${delimiter}${path}` : fakeBinDir();
}
