import { hostname } from "node:os";
import { checkConfigFile, findConfigPath } from "../config/load.js";
import { checkConfigForStart } from "../daemon/build.js";
import { DEFAULT_CONFIG_PATH } from "../constants.js";
import type { Logger } from "../log.js";
import { parse, UsageError } from "./args.js";

export const CONFIG_HELP = `earwitness config check [FILE] — validate a configuration file

  FILE   default ${DEFAULT_CONFIG_PATH}
Exit code 0 when valid, 78 (EX_CONFIG) with every problem listed when not.
`;

export async function configCommand(argv: string[], _log: Logger): Promise<number> {
  const { values: v, positionals } = parse(argv, { help: { type: "boolean", short: "h", default: false } }, true);
  if (v.help || positionals.length === 0) {
    process.stdout.write(CONFIG_HELP);
    return v.help ? 0 : 64;
  }
  const [sub, file] = positionals;
  if (sub !== "check") throw new UsageError(`unknown subcommand "config ${String(sub)}"; known: check`);
  const path = file ?? (await findConfigPath(undefined));
  if (!path) {
    process.stdout.write(`no config file at ${DEFAULT_CONFIG_PATH}: the built-in defaults apply\n`);
    return 0;
  }
  const checked = await checkConfigFile(path, { env: process.env, hostname: hostname() });
  // Everything `run` and SIGHUP would refuse (model.dir, the model's labels and feature steps).
  const startIssues = checked.ok ? await checkConfigForStart(checked.config) : [];
  const r = startIssues.length > 0 ? { ok: false as const, issues: startIssues } : checked;
  if (r.ok) {
    process.stdout.write(`${path}: valid (device ${r.config.device_id})\n`);
    return 0;
  }
  process.stderr.write(`${path}: ${r.issues.length} problem(s)\n${r.issues.map((i) => `  - ${i}`).join("\n")}\n`);
  return 78;
}
