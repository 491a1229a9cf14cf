/**
 * zod issues turned into one line each a person can act on, path first:
 *   detect.enter_threshold must be < 1 (got 1.4)
 *   unknown key "detect.treshold" (did you mean "enter_threshold" or "exit_threshold"?)
 * (zigbee2mqtt lists every error with its path; we do the same, in words.)
 */
import type * as z from "zod";
import { keysAt } from "./schema-walk.js";

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** "detect.danger.labels[1]" */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function valueAt(input: unknown, path: Path): unknown {
  let v: unknown = input;
  for (const seg of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** A short rendering of a value for "(got …)". */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") {
    const safe = redactUserinfo(v);
    return JSON.stringify(safe.length > 60 ? `${safe.slice(0, 57)}...` : safe);
  }
  return String(v);
}

/** `scheme://user:secret@host` → `scheme://***@host`: an error message must never repeat a password. */
export function redactUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1***@");
}

const TYPE_WORDS: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  tuple: "a list",
  record: "a mapping",
  null: "null",
};

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/**
 * Known keys close to an unknown one: by edit distance to the whole key or to one of its
 * underscore-separated tails ("treshold" is close to the "threshold" of "enter_threshold").
 */
export function suggestKeys(unknown: string, known: readonly string[]): string[] {
  const u = unknown.toLowerCase();
  const limit = Math.max(1, Math.floor(u.length / 3));
  let best = Infinity;
  let found: string[] = [];
  for (const k of known) {
    const parts = k.split("_");
    const tails = parts.map((_, i) => parts.slice(i).join("_"));
    const d = Math.min(...tails.map((t) => levenshtein(u, t.toLowerCase())));
    if (d > limit) continue;
    if (d < best) {
      best = d;
      found = [k];
    } else if (d === best) {
      found.push(k);
    }
  }
  return found.slice(0, 3);
}

function orList(words: readonly string[]): string {
  const quoted = words.map((w) => `"${w}"`);
  return quoted.length <= 1 ? (quoted[0] ?? "") : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}

export interface FormatContext {
  /** The schema, for the keys valid at a path. */
  schema: z.ZodType;
  /** The input that was validated, for "(got …)". */
  input: unknown;
  /** Dotted path → where its value came from, e.g. "EARWITNESS_MQTT_URL". */
  sources: ReadonlyMap<string, string>;
}

/** Every issue as one line; a union's issues are unfolded into the branch that fits the input. */
export function formatIssues(issues: readonly Issue[], ctx: FormatContext): string[] {
  return issues.flatMap((issue) => formatIssue(issue, [], ctx));
}

function formatIssue(issue: Issue, base: Path, ctx: FormatContext): string[] {
  const path = [...base, ...issue.path];
  const where = formatPath(path);
  const value = valueAt(ctx.input, path);
  const from = sourceOf(where, ctx.sources);
  const got = ` (got ${describeValue(value)}${from === null ? "" : `, from ${from}`})`;
  const source = from === null ? "" : ` (from ${from})`;
  const subject = where === "" ? "the config" : where;

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = keysAt(ctx.schema, path);
      return issue.keys.map((key) => {
        const full = where === "" ? key : `${where}.${key}`;
        const hints = suggestKeys(key, known);
        const hint = hints.length > 0 ? ` (did you mean ${orList(hints)}?)` : known.length > 0 ? ` (valid here: ${known.join(", ")})` : "";
        return `unknown key "${full}"${hint}`;
      });
    }
    case "invalid_type":
      if (value === undefined) return [`${subject} is required${source}`];
      return [`${subject} must be ${TYPE_WORDS[issue.expected] ?? issue.expected}${got}`];
    case "too_big":
    case "too_small": {
      const big = issue.code === "too_big";
      const bound = big ? issue.maximum : issue.minimum;
      const inclusive = issue.inclusive !== false;
      if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
        const op = big ? (inclusive ? "<=" : "<") : inclusive ? ">=" : ">";
        return [`${subject} must be ${op} ${String(bound)}${got}`];
      }
      if (issue.origin === "string") {
        if (!big && Number(bound) === 1) return [`${subject} must not be empty${source}`];
        return [`${subject} must have ${big ? "at most" : "at least"} ${String(bound)} characters${got}`];
      }
      const n = Array.isArray(value) ? ` (got ${value.length})` : got;
      return [`${subject} must have ${big ? "at most" : "at least"} ${String(bound)} item${Number(bound) === 1 ? "" : "s"}${n}`];
    }
    case "invalid_value":
      return [`${subject} must be one of ${issue.values.map((v) => String(v)).join(", ")}${got}`];
    case "invalid_union": {
      // Keep only branches that got past the type check; if exactly one did, its issues say more.
      const fitting = issue.errors.filter((errs) => !(errs.length === 1 && errs[0]?.code === "invalid_type" && errs[0].path.length === 0));
      if (fitting.length === 1 && fitting[0] !== undefined) return fitting[0].flatMap((i) => formatIssue(i, path, ctx));
      return [`${subject} ${issue.message}${got}`];
    }
    case "custom": {
      const params = (issue as { params?: { cross?: boolean } }).params;
      if (params?.cross === true) return [`${issue.message}${source}`];
      return [`${subject} ${issue.message}${got}`];
    }
    case "invalid_format":
      return [`${subject} ${issue.message}${got}`];
    default:
      return [`${subject}: ${issue.message}${got}`];
  }
}

function sourceOf(where: string, sources: ReadonlyMap<string, string>): string | null {
  for (const [path, source] of sources) {
    if (where === path || where.startsWith(`${path}.`)) return source;
  }
  return null;
}
