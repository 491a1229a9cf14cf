import { hostname } from "node:os";
import { checkConfigFile, findConfigPath } from "../config/load.js";
import { NO_OUTPUT_MESSAGE } from "../config/outputs.js";
import { checkConfigForStart } from "../assemble/model.js";
import { DEFAULT_CONFIG_PATH } from "../constants.js";
import type { Logger } from "../log.js";
import { parse, UsageError } from "./args.js";

export const CONFIG_HELP = `earwitness config check [FILE] — validate a configuration file

  FILE   default ${DEFAULT_CONFIG_PATH}
Exit code 0 when valid, 78 (EX_CONFIG) with every problem listed when not — including a
configuration with no output (no GPIO LED or buzzer, MQTT off), on which the daemon refuses to run.
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
    // The built-in defaults have no output: a daemon on them would tell no one.
    process.stderr.write(`no config file at ${DEFAULT_CONFIG_PATH}: the built-in defaults apply, and they have ${NO_OUTPUT_MESSAGE}\n`);
    return 78;
  }
  // With everything `run` and SIGHUP would refuse (model.dir, the model's labels and feature
  // steps), listed with the rest (no output, unreadable files).
  const r = await checkConfigFile(path, { env: process.env, hostname: hostname(), startChecks: checkConfigForStart });
  if (r.ok) {
    process.stdout.write(`${path}: valid (device ${r.config.device_id})\n`);
    return 0;
  }
  process.stderr.write(`${path}: ${r.issues.length} problem(s)\n${r.issues.map((i) => `  - ${i}`).join("\n")}\n`);
  return 78;
}
