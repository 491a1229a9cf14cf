/**
 * What a SIGHUP reload does not apply, derived from the schema (STYLE.md §16): the settings marked
 * restart-only there (schema.ts RESTART_ONLY) keep their old value until a restart, and a reload
 * that changes one says which and why — never from a list kept here by hand. Pure.
 */
import { ConfigFileSchema, RESTART_ONLY, type Config } from "./schema.js";
import { registeredPaths } from "./schema-walk.js";

export interface RestartOnlySetting {
  /** Dotted path of the marked setting or section ("audio", "device_id"). */
  path: string;
  /** Why it waits for a restart: what keeps the old value. */
  reason: string;
}

export interface RestartOnlyChange {
  /** The setting that changed, as deep as it differs ("audio.device", "gpio.led.pin"). */
  path: string;
  /** The reason of the mark it falls under. */
  reason: string;
}

/** Every restart-only setting, in the schema's order. */
export const RESTART_ONLY_SETTINGS: readonly RestartOnlySetting[] = registeredPaths(ConfigFileSchema, RESTART_ONLY).map(({ path, entry }) => ({
  path,
  reason: entry.reason,
}));

/** The restart-only settings whose value differs between the running configuration and `next`. */
export function restartOnlyChanges(running: Config, next: Config): RestartOnlyChange[] {
  return RESTART_ONLY_SETTINGS.flatMap(({ path, reason }) =>
    changedPaths(valueAt(running, path), valueAt(next, path), path).map((changed) => ({ path: changed, reason })),
  );
}

/** The reload's warning for these changes; null when there are none. */
export function restartWarning(changes: readonly RestartOnlyChange[]): string | null {
  if (changes.length === 0) return null;
  const reasons = [...new Set(changes.map((c) => c.reason))];
  return `changes to ${changes.map((c) => c.path).join(", ")} apply only after a restart (systemctl restart earwitness): ${reasons.join("; ")}`;
}

function valueAt(config: unknown, path: string): unknown {
  let node = config;
  for (const key of path.split(".")) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** The paths under `path` where `a` and `b` differ: mappings key by key, anything else whole. */
function changedPaths(a: unknown, b: unknown, path: string): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedPaths(a[k], b[k], `${path}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
