import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { modelCandidates } from "../assemble/model.js";
import { BUNDLE_FILE } from "../model/bundle.js";
import { DEFAULT_CONFIG_PATH, DEFAULT_STATE_DIR } from "../constants.js";
import type { Logger } from "../log.js";
import { selectBackend } from "../model/backend.js";
import { DEFAULT_TRUSTED_KEYS_DIR, generateSigningKey, signBundle, SIGNATURE_FILE, type SignatureCheck } from "../model/signing.js";
import {
  DEFAULT_KEEP,
  installModel,
  listModels,
  modelsDir,
  rollback,
  verifyInstalled,
  type CheckOptions,
  type SelftestCheck,
} from "../model/store.js";
import { notifyDaemon, type NotifyResult } from "../status/pid-file.js";
import { num, parse, UsageError } from "./args.js";
import { shippedModelDir } from "../assemble/paths.js";
import { softwareVersion } from "./version.js";

export const MODEL_HELP = `earwitness model — install, check and roll back model bundles

  earwitness model install BUNDLE       check a bundle (directory or .tar.gz) and make it current
  earwitness model list                 installed versions (* current, < previous), the shipped
                                        model, and which one the daemon runs
  earwitness model verify [NAME@VERSION] check an installed version again (default: current)
  earwitness model rollback             switch back to the previous version
  earwitness model sign --key FILE BUNDLE   write ${SIGNATURE_FILE} into a bundle directory
  earwitness model keygen --out PREFIX  write PREFIX.key (private, 0600) and PREFIX.pub

options:
  --state-dir DIR      where models are kept (default: the config's state_dir, ${DEFAULT_STATE_DIR})
  --config FILE        configuration (default ${DEFAULT_CONFIG_PATH} if it exists): its danger
                       labels must be in the bundle; its model.backend runs the self-test
  --trusted-keys DIR   public keys (*.pub); when any is there, bundles must be signed by one
                       (default ${DEFAULT_TRUSTED_KEYS_DIR})
  --keep N             versions kept after an install (default ${DEFAULT_KEEP}; current and
                       previous are always kept)
  --no-selftest        accept a bundle that carries no self-test (one that carries a self-test
                       is always tested)

A bundle is refused — and nothing on disk changes — when bundle.json is invalid, a file's sha256
differs, its feature spec is not one this earwitness computes, it lacks a configured danger
label, its signature is missing or wrong (with trusted keys), or its self-test fails. After a
switch the running daemon gets SIGHUP (pid in <state-dir>/earwitness.pid).
Exit code 0 on success, 1 when refused, 64 on a usage error.
`;

const OPTIONS = {
  help: { type: "boolean", short: "h", default: false },
  "state-dir": { type: "string" },
  config: { type: "string" },
  "trusted-keys": { type: "string" },
  keep: { type: "string" },
  "no-selftest": { type: "boolean", default: false },
  key: { type: "string" },
  out: { type: "string" },
} as const;

const SUBCOMMANDS = ["install", "list", "verify", "rollback", "sign", "keygen"] as const;

function describeSignature(s: SignatureCheck, keysDir: string): string {
  return s.status === "verified" ? `signature verified with ${s.keyFile}` : `signature not checked (no *.pub in ${keysDir})`;
}

function describeSelftest(s: SelftestCheck): string {
  if (s.status !== "passed") return `self-test skipped: ${s.reason}`;
  const passed = `self-test passed (max difference ${s.maxAbsDiff.toExponential(2)} ≤ ${s.tolerance})`;
  // An older bundle's self-test is stored in label order, so it cannot tell reordered labels.
  return s.byLabel ? passed : `${passed}; it is stored by index (an older bundle), so a reordered label list would pass it — re-export the bundle to store it by label`;
}

function describeNotify(n: NotifyResult): string {
  switch (n.status) {
    case "notified":
      return `the daemon (pid ${n.pid}) was told to load it (SIGHUP)`;
    case "not-running":
      return `the daemon is not running (${n.reason}); it loads the current model when it starts`;
    case "failed":
      return `WARNING: could not tell the daemon (${n.reason}); run \`systemctl reload earwitness\``;
  }
}

export async function modelCommand(argv: string[], _log: Logger, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const parsed = parse(argv, OPTIONS, true);
  const v = parsed.values as {
    help: boolean;
    "state-dir"?: string;
    config?: string;
    "trusted-keys"?: string;
    keep?: string;
    "no-selftest": boolean;
    key?: string;
    out?: string;
  };
  const positionals = parsed.positionals;
  const say = (line: string): void => void out.write(line + "\n");
  if (v.help || positionals.length === 0) {
    out.write(MODEL_HELP);
    return v.help ? 0 : 64;
  }
  const [sub, ...args] = positionals as [string, ...string[]];
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(`unknown subcommand "model ${sub}"; known: ${SUBCOMMANDS.join(", ")}`);
  }
  const maxArgs = sub === "install" || sub === "sign" || sub === "verify" ? 1 : 0;
  if (args.length > maxArgs) throw new UsageError(`model ${sub}: unexpected argument ${JSON.stringify(args[maxArgs])}`);

  if (sub === "keygen") {
    if (!v.out) throw new UsageError("model keygen needs --out PREFIX");
    const { keyFile, pubFile } = await generateSigningKey(v.out);
    say(`wrote ${keyFile} (private: keep it off the units, mode 0600)`);
    say(`wrote ${pubFile} (copy it to ${DEFAULT_TRUSTED_KEYS_DIR}/ on each unit)`);
    return 0;
  }
  if (sub === "sign") {
    if (!v.key) throw new UsageError("model sign needs --key FILE");
    const bundle = args[0];
    if (!bundle) throw new UsageError("model sign needs a bundle directory");
    await signBundle(bundle, v.key);
    say(`signed ${bundle} (${SIGNATURE_FILE})`);
    return 0;
  }

  const config = await loadConfig({ ...(v.config === undefined ? {} : { path: v.config }), env: process.env, hostname: hostname() });
  const stateDir = v["state-dir"] ?? config.state_dir;
  const keysDir = v["trusted-keys"] ?? DEFAULT_TRUSTED_KEYS_DIR;
  const check: CheckOptions & { stateDir: string } = {
    stateDir,
    dangerLabels: config.detect.danger.labels,
    trustedKeysDir: keysDir,
    allowNoSelftest: v["no-selftest"],
  };

  if (sub === "list") {
    await listCommand({ ...config, state_dir: stateDir }, say);
    return 0;
  }

  // The self-test runs the model: the backend the daemon would use.
  await selectBackend(config.model.backend);

  if (sub === "install") {
    const source = args[0];
    if (!source) throw new UsageError("model install needs a bundle directory or .tar.gz");
    const keep = v.keep === undefined ? DEFAULT_KEEP : num(v.keep, "keep", { min: 1, integer: true });
    const r = await installModel(source, { ...check, keep });
    say(r.alreadyInstalled ? `${r.id} was already installed (identical); it is current` : `installed ${r.id} in ${r.dir}; it is current`);
    say(`  ${describeSignature(r.signature, keysDir)}`);
    say(`  ${describeSelftest(r.selftest)}`);
    if (r.previous) say(`  previous: ${r.previous} (\`earwitness model rollback\` switches back)`);
    if (r.pruned.length > 0) say(`  removed old versions: ${r.pruned.join(", ")}`);
    say(`  ${describeNotify(await notifyDaemon(stateDir))}`);
    return 0;
  }
  if (sub === "verify") {
    const r = await verifyInstalled(args[0] ?? null, check);
    say(`${r.id}: OK (${r.dir})`);
    say(`  every file matches bundle.json (sha256 ${r.sha256.slice(0, 12)}…)`);
    say(`  ${describeSignature(r.signature, keysDir)}`);
    say(`  ${describeSelftest(r.selftest)}`);
    return 0;
  }
  // rollback
  const r = await rollback(check);
  say(`rolled back: ${r.to} is current (was ${r.from}; run rollback again to undo)`);
  say(`  ${describeNotify(await notifyDaemon(stateDir))}`);
  return 0;
}

/**
 * Installed versions (* current, < previous), the model shipped with earwitness, and which one the
 * daemon runs: the first of model.dir, installed current, installed previous, shipped that loads
 * (assemble/model.ts modelCandidates; the same order the daemon tries).
 */
async function listCommand(config: Config, say: (line: string) => void): Promise<void> {
  const models = await listModels(config.state_dir);
  if (models.length === 0) {
    say(`no models installed in ${modelsDir(config.state_dir)}`);
  } else {
    say(`installed in ${modelsDir(config.state_dir)}:`);
    for (const m of models) {
      const mark = m.current ? "*" : m.previous ? "<" : " ";
      const when = new Date(m.installedAtMs).toISOString().replace(/\.\d+Z$/, "Z");
      say(`${mark} ${m.id.padEnd(40)} installed ${when}${m.current ? "  current" : m.previous ? "  previous" : ""}${m.problem ? `  PROBLEM: ${m.problem}` : ""}`);
    }
  }
  const shipped = shippedModelDir();
  const shippedId = await bundleId(shipped);
  say(`shipped with earwitness ${softwareVersion()}: ${shippedId ?? "(unreadable)"} in ${shipped}`);
  const [first] = await modelCandidates(config);
  if (!first) return;
  const runs = first.dir === shipped ? (shippedId ?? first.dir) : ((await bundleId(first.dir)) ?? first.dir);
  const why =
    first.what === "shipped"
      ? "no model is installed and model.dir is null"
      : first.what === "configured (model.dir)"
        ? `model.dir is ${first.dir}`
        : "the installed current version";
  say(`the daemon runs: ${runs} (${first.what}: ${why}; if it does not load, the next in the order model.dir, installed current, installed previous, shipped)`);
}

/** A bundle's name@version from its bundle.json; null when unreadable. */
async function bundleId(dir: string): Promise<string | null> {
  try {
    const meta = JSON.parse(await readFile(path.join(dir, BUNDLE_FILE), "utf8")) as { name?: unknown; version?: unknown };
    return typeof meta.name === "string" && typeof meta.version === "string" ? `${meta.name}@${meta.version}` : null;
  } catch {
    return null;
  }
}
