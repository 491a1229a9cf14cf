/**
 * Reading the config schema's shape: the keys valid at a path (for "did you mean" hints), every
 * leaf key (so a test can prove the example file documents them all) and the paths a registry
 * marks (the restart-only settings). Uses zod's public classes, not its internals.
 */
import * as z from "zod";

/** Strips defaults, optionality, nullability and transforms down to the schema that checks input. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let inner = unwrapOnce(s); inner !== null; inner = unwrapOnce(s)) s = inner;
  return s;
}

/** The object schemas a value at this schema may be (one for an object, the object options of a union). */
function objectOptions(schema: z.ZodType): z.ZodObject[] {
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodObject) return [s];
  if (s instanceof z.ZodUnion) return (s.options as z.ZodType[]).flatMap((o) => objectOptions(o));
  return [];
}

/** The keys valid in the mapping at `path` (object keys only; array indices are skipped), or []. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType[] = [schema];
  for (const seg of path) {
    if (typeof seg !== "string") continue;
    current = current.flatMap((s) => objectOptions(s)).flatMap((o) => (seg in o.shape ? [o.shape[seg] as z.ZodType] : []));
  }
  return [...new Set(current.flatMap((s) => objectOptions(s)).flatMap((o) => Object.keys(o.shape)))];
}

export interface LeafPath {
  /** Dotted path, e.g. "detect.danger.labels". */
  path: string;
  /**
   * True when the key only exists in one alternative form of a value (e.g. `{ chip, line }` for a
   * GPIO pin that may also be a plain number): documentation shows it, the file need not use it.
   */
  alternative: boolean;
}

/** Every leaf key of the schema, depth first, in declaration order. */
export function leafPaths(schema: z.ZodType, prefix = "", alternative = false): LeafPath[] {
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
      leafPaths(child, prefix === "" ? key : `${prefix}.${key}`, alternative),
    );
  }
  if (s instanceof z.ZodUnion) {
    const options = s.options as z.ZodType[];
    const objects = options.filter((o) => unwrapSchema(o) instanceof z.ZodObject);
    const scalarToo = objects.length < options.length;
    const self: LeafPath[] = scalarToo ? [{ path: prefix, alternative }] : [];
    return [...self, ...objects.flatMap((o) => leafPaths(o, prefix, alternative || scalarToo))];
  }
  return [{ path: prefix, alternative }];
}

/**
 * Every path whose schema carries an entry of `registry` (on the field or on any wrapper of it:
 * default, nullable, …), with that entry, in declaration order. Nothing below a registered path
 * is looked at: a mark on a section covers its fields.
 */
export function registeredPaths<M extends object>(schema: z.ZodType, registry: z.core.$ZodRegistry<M>, prefix = ""): { path: string; entry: M }[] {
  for (let s: z.ZodType | null = schema; s !== null; s = unwrapOnce(s)) {
    const entry = registry.get(s);
    if (entry !== undefined && prefix !== "") return [{ path: prefix, entry: entry as M }];
  }
  const s = unwrapSchema(schema);
  if (!(s instanceof z.ZodObject)) return [];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
    registeredPaths(child, registry, prefix === "" ? key : `${prefix}.${key}`),
  );
}

/** One wrapper less (see unwrapSchema), or null when there is none. */
function unwrapOnce(s: z.ZodType): z.ZodType | null {
  if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) return s.unwrap() as z.ZodType;
  if (s instanceof z.ZodPipe) return s.in as z.ZodType;
  return null;
}
