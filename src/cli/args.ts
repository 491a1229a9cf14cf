import { parseArgs, type ParseArgsConfig } from "node:util";
import { EarwitnessError } from "../errors.js";

/** A usage error: printed with the command's help, exit code 64 (EX_USAGE). */
export class UsageError extends EarwitnessError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse(argv: string[], options: Options, allowPositionals = false): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function num(value: unknown, name: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got ${String(value)})`);
  if (opts.integer && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number (got ${n})`);
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name} must be ≥ ${opts.min} (got ${n})`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name} must be ≤ ${opts.max} (got ${n})`);
  return n;
}
