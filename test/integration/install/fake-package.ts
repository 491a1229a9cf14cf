/**
 * A small earwitness package for the installer tests: the real install.sh, example config and unit
 * file, and a dist/ whose main.js logs its call to $FAKE_LOG and runs the real CLI built by
 * test/global-setup.ts (so `config check` is the real one). `release` makes it a release package
 * as scripts/package.mjs lays it out (manifest, node_modules) and tars it, so `--from` has
 * something to install without running the minute-long real build.
 */
import { spawnSync } from "node:child_process";
import { cp, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export async function makePackage(dir: string, opts: { dist: boolean }): Promise<void> {
  await mkdir(path.join(dir, "scripts"), { recursive: true });
  await cp(path.join(repo, "scripts/install.sh"), path.join(dir, "scripts/install.sh"));
  await cp(path.join(repo, "config/earwitness.example.yaml"), path.join(dir, "config/earwitness.example.yaml"));
  await cp(path.join(repo, "systemd/earwitness.service"), path.join(dir, "systemd/earwitness.service"));
  await writeFile(path.join(dir, "package.json"), '{"name":"earwitness","version":"0.0.0-test","type":"module"}\n');
  await writeFile(path.join(dir, "package-lock.json"), '{"lockfileVersion":3}\n');
  await writeFile(path.join(dir, "LICENSE"), "Apache-2.0\n");
  await mkdir(path.join(dir, "models/shipped"), { recursive: true });
  await writeFile(path.join(dir, "models/shipped/bundle.json"), "{}\n");
  if (opts.dist) {
    await mkdir(path.join(dir, "dist/src/cli"), { recursive: true });
    await writeFile(
      path.join(dir, "dist/src/cli/main.js"),
      `// stand-in: logs the call, then runs the real CLI (built by test/global-setup.ts)\n` +
        `import { appendFileSync } from "node:fs";\n` +
        `appendFileSync(process.env.FAKE_LOG, "earwitness\\t" + process.cwd() + "\\t" + process.argv.slice(2).join(" ") + "\\n");\n` +
        `await import(${JSON.stringify(path.join(repo, "dist/src/cli/main.js"))});\n`,
    );
  }
}

export interface FakeAddon {
  package: string;
  included: boolean;
}

/** The machine's arch as install.sh names it from `uname -m`. */
export const MACHINE_ARCH = process.arch === "arm64" ? "arm64" : "x64";
export const OTHER_ARCH = MACHINE_ARCH === "arm64" ? "x64" : "arm64";

/**
 * `dir/earwitness-9.9.9-linux-ARCH.tar.gz` (and its .sha256 unless `sha256: false`): the fake
 * package with a manifest and a node_modules that marks where it came from. Returns the tarball.
 */
export async function makeRelease(dir: string, opts: { arch?: string; addons?: FakeAddon[]; abi?: string; sha256?: boolean } = {}): Promise<string> {
  const arch = opts.arch ?? MACHINE_ARCH;
  const base = `earwitness-9.9.9-linux-${arch}`;
  const top = path.join(dir, "build", base);
  await makePackage(top, { dist: true });
  await mkdir(path.join(top, "node_modules/from-the-package"), { recursive: true });
  await writeFile(path.join(top, "node_modules/from-the-package/package.json"), '{"name":"from-the-package","version":"1.0.0"}\n');
  const addons = (opts.addons ?? [{ package: "epoll", included: true }]).map((a) => ({
    package: a.package,
    version: "4.0.2",
    role: "GPIO through onoff: the LED, buzzer and acknowledge button",
    path: `node_modules/${a.package}`,
    ...(a.included ? { included: true, files: [`node_modules/${a.package}/build/Release/${a.package}.node`], built: `node-gyp rebuild --arch=${arch} (fake)` } : { included: false, reason: "no cross compiler (fake)" }),
  }));
  const manifest = { name: "earwitness", version: "9.9.9", platform: "linux", arch, node: { engines: ">=20", built_with: "20.0.0", abi: opts.abi ?? process.versions.modules }, git: { commit: null, dirty: null }, built_at: "2026-01-01T00:00:00.000Z", native_addons: addons };
  await writeFile(path.join(top, "earwitness-package.json"), JSON.stringify(manifest, null, 2) + "\n");
  const tarball = path.join(dir, `${base}.tar.gz`);
  const tar = spawnSync("tar", ["-czf", tarball, "-C", path.dirname(top), base], { encoding: "utf8" });
  if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
  if (opts.sha256 !== false) {
    const sum = spawnSync("sha256sum", [tarball], { encoding: "utf8" }).stdout.split(" ")[0];
    await writeFile(`${tarball}.sha256`, `${sum}  ${base}.tar.gz\n`);
  }
  return tarball;
}
