/**
 * Loading the configuration: a YAML file (or the defaults), then environment overrides, then
 * command-line overrides, validated once by the schema. Every problem is collected and reported
 * together, each with its path, so one `earwitness config check` shows them all.
 */
import { constants as fsConstants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import YAML from "yaml";
import * as z from "zod";
import { CONFIG_MAX_BYTES, DEFAULT_CONFIG_PATH } from "../constants.js";
import { ConfigError } from "../errors.js";
import { formatIssues, formatPath } from "./issues.js";
import { readMachineId } from "./machine.js";
import { configuredOutputs, NO_OUTPUT_MESSAGE } from "./outputs.js";
import { ConfigFileSchema, resolveConfig, type Config, type ConfigInput, type MqttConfig } from "./schema.js";
import { unwrapSchema } from "./schema-walk.js";

/** Environment variable → the dotted config path it overrides. */
export const ENV_OVERRIDES = {
  EARWITNESS_DEVICE_ID: "device_id",
  EARWITNESS_MQTT_URL: "mqtt.url",
  EARWITNESS_MQTT_USERNAME: "mqtt.username",
  EARWITNESS_LOG_LEVEL: "log_level",
} as const;

/**
 * What a person running `earwitness config check` or `doctor` without sudo is told when the
 * installed files (root:earwitness, 0640) are closed to them. The installer adds the installing
 * user to the group; group membership applies from the next login.
 */
export const PERMISSION_HINT = "run with sudo or join group earwitness (sudo usermod -aG earwitness $USER, then log out and in again)";

/** The MQTT password, kept out of files: it lands in `config.mqtt.password`. */
export const ENV_MQTT_PASSWORD = "EARWITNESS_MQTT_PASSWORD";

export interface LoadConfigOptions {
  /** An explicit file: it must exist. Without it, `defaultPath` is used if it exists, else the defaults. */
  path?: string;
  env: NodeJS.ProcessEnv;
  /** Default for `device_id`. */
  hostname: string;
  /** The file tried when `path` is not given; DEFAULT_CONFIG_PATH unless a test says otherwise. */
  defaultPath?: string;
  /** Command-line overrides, applied last. */
  overrides?: ConfigInput;
  /** For the default device_id; read from /etc/machine-id when absent (null: hostname only). */
  machineId?: string | null;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; issues: string[] };

export interface ParseConfigOptions {
  env: NodeJS.ProcessEnv;
  hostname: string;
  /** Names the file in YAML error messages. */
  sourceName?: string;
  overrides?: ConfigInput;
  /** For the default device_id (hostname + hash); null or absent: the hostname alone. */
  machineId?: string | null;
}

/** Loads, merges and validates; throws one ConfigError (INVALID_CONFIG) listing every problem. */
export async function loadConfig(options: LoadConfigOptions): Promise<Config> {
  const path = await findConfigPath(options.path, options.defaultPath);
  const text = path === null ? null : await readConfigText(path);
  const result = parseConfig(text, {
    env: options.env,
    hostname: options.hostname,
    sourceName: path ?? "defaults",
    machineId: options.machineId !== undefined ? options.machineId : await readMachineId(),
    ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
  });
  if (!result.ok) throw invalidConfig(path ?? "the default configuration", result.issues);
  return result.config;
}

/**
 * The file to read: the explicit path (whether or not it exists: reading it will say), else
 * the default path if it exists, else null (run on defaults). A default file that exists but
 * cannot be read is an error, never a silent fall-back to defaults.
 */
export async function findConfigPath(path: string | undefined, defaultPath: string = DEFAULT_CONFIG_PATH): Promise<string | null> {
  if (path !== undefined) return path;
  try {
    await access(defaultPath, fsConstants.F_OK);
    return defaultPath;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw invalidConfig(defaultPath, [`cannot check config file ${defaultPath}: ${(err as Error).message}`], err);
  }
}

async function readConfigText(path: string): Promise<string> {
  try {
    // Bounded before reading: a huge file (a pasted log, a 50 MB value) must not take the memory
    // of a Pi Zero on every SIGHUP.
    const { size } = await stat(path);
    if (size > CONFIG_MAX_BYTES) {
      throw invalidConfig(path, [`config file ${path} is ${size} bytes; a configuration is at most ${CONFIG_MAX_BYTES} bytes`]);
    }
    return await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw invalidConfig(path, [configReadIssue(path, err)], err);
  }
}

/** Why a config file could not be read, and what to do (exported for tests: root reads anything). */
export function configReadIssue(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT"
    ? `config file ${path} does not exist; create it from config/earwitness.example.yaml or omit --config`
    : code === "EACCES"
      ? `config file ${path} is not readable by this user (permission denied): ${PERMISSION_HINT}`
      : code === "EISDIR"
        ? `config file ${path} is a directory, not a file`
        : `cannot read config file ${path}: ${(err as Error).message}`;
}

function invalidConfig(where: string, issues: string[], cause?: unknown): ConfigError {
  const n = issues.length;
  // One line (describeError's contract); the CLI prints `issues` one per line.
  const message = `invalid configuration (${where}), ${n} problem${n === 1 ? "" : "s"}: ${issues.join("; ")}; fix ${n === 1 ? "it" : "them"}, then run \`earwitness config check\``;
  return new ConfigError("INVALID_CONFIG", message, cause === undefined ? { issues } : { issues, cause });
}

/**
 * Pure: YAML text (null = no file) + environment + overrides → a validated Config or every issue.
 */
export function parseConfig(text: string | null, options: ParseConfigOptions): ConfigResult {
  const sourceName = options.sourceName ?? "config";
  let raw: unknown = {};
  if (text !== null) {
    const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return { ok: false, issues: doc.errors.map((e) => yamlIssue(sourceName, e)) };
    }
    try {
      // maxAliasCount bounds alias expansion: a "billion laughs" document is an issue, not a crash.
      raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      return { ok: false, issues: [`${sourceName}: YAML error: ${(err as Error).message} (too many or too deeply nested aliases)`] };
    }
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const what = Array.isArray(raw) ? "a list" : `${JSON.stringify(raw)}`;
    return { ok: false, issues: [`${sourceName} must hold a mapping of settings at the top level (got ${what})`] };
  }
  const input = structuredClone(raw) as Record<string, unknown>;
  emptySectionsToDefaults(input, ConfigFileSchema);

  const sources = new Map<string, string>();
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = options.env[name];
    if (value === undefined || value === "") continue;
    setPath(input, path.split("."), value);
    sources.set(path, name);
  }
  if (options.overrides !== undefined) {
    mergeInto(input, options.overrides as Record<string, unknown>, [], sources);
  }

  const parsed = ConfigFileSchema.safeParse(input);
  const issues = parsed.success ? [] : formatIssues(parsed.error.issues, { schema: ConfigFileSchema, input, sources });

  const envPassword = options.env[ENV_MQTT_PASSWORD];
  const password = envPassword === undefined || envPassword === "" ? null : envPassword;
  if (parsed.success && password !== null && parsed.data.mqtt.username === null) {
    issues.push(`${ENV_MQTT_PASSWORD} is set but mqtt.username is not; set mqtt.username or EARWITNESS_MQTT_USERNAME`);
  }
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  return { ok: true, config: resolveConfig(parsed.data, { hostname: options.hostname, mqttPassword: password, machineId: options.machineId ?? null }) };
}

function yamlIssue(sourceName: string, err: YAML.YAMLError): string {
  const firstLine = err.message.split("\n")[0] ?? err.message;
  const text = firstLine.replace(/ at line \d+, column \d+:?$/, "");
  const pos = err.linePos?.[0];
  return pos === undefined ? `${sourceName}: YAML error: ${text}` : `${sourceName} line ${pos.line}, column ${pos.col}: ${text}`;
}

/**
 * `detect:` with every sub-key commented out is null in YAML; treat such an empty section as
 * "all defaults" rather than as an error. Only for sections (objects), never for nullable values.
 */
function emptySectionsToDefaults(input: Record<string, unknown>, schema: z.ZodType): void {
  const s = unwrapSchema(schema);
  if (!(s instanceof z.ZodObject)) return;
  for (const [key, child] of Object.entries(s.shape as Record<string, z.ZodType>)) {
    if (!(unwrapSchema(child) instanceof z.ZodObject)) continue;
    if (input[key] === null && !acceptsNull(child)) input[key] = {};
    const v = input[key];
    if (typeof v === "object" && v !== null && !Array.isArray(v)) emptySectionsToDefaults(v as Record<string, unknown>, child);
  }
}

function acceptsNull(schema: z.ZodType): boolean {
  return schema.safeParse(null).success;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (next === undefined || next === null) {
      node[seg] = {};
    } else if (typeof next !== "object" || Array.isArray(next)) {
      // The file has a non-mapping here: leave it, the schema will report it.
      return;
    }
    node = node[seg] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

/** Deep-merges plain objects; anything else (lists included) replaces. Records each leaf's source. */
function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>, at: string[], sources: Map<string, string>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const path = [...at, key];
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) {
      mergeInto(existing, value, path, sources);
    } else {
      target[key] = structuredClone(value);
      sources.set(formatPath(path), "the command line");
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads an MQTT password file: the whole file, less one trailing newline (editors add one;
 * a password may legitimately end in spaces).
 */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const denied = (err as NodeJS.ErrnoException).code === "EACCES";
    throw new ConfigError(
      "PASSWORD_FILE_UNREADABLE",
      denied
        ? `cannot read mqtt.password_file ${path} (permission denied): ${PERMISSION_HINT}`
        : `cannot read mqtt.password_file ${path}: ${(err as Error).message}; create it (mode 0640, owned by root, group earwitness) or unset mqtt.password_file`,
      { cause: err },
    );
  }
  const password = text.replace(/\r?\n$/, "");
  if (password === "") {
    throw new ConfigError("PASSWORD_FILE_EMPTY", `mqtt.password_file ${path} is empty; write the password into it`);
  }
  return password;
}

/** The MQTT password: from the environment if given, else from `password_file`, else none. */
export async function mqttPassword(mqtt: Pick<MqttConfig, "password" | "password_file">): Promise<string | null> {
  if (mqtt.password !== null) return mqtt.password;
  if (mqtt.password_file !== null) return readPasswordFile(mqtt.password_file);
  return null;
}

export interface CheckConfigOptions {
  /** Environment to apply, as the daemon would; none by default (checks the file as written). */
  env?: NodeJS.ProcessEnv;
  /** Default for device_id; the machine's hostname by default. */
  hostname?: string;
  /** With the hostname, the default device_id; /etc/machine-id when absent. */
  machineId?: string | null;
  /**
   * Further checks of a configuration that loaded (what `run` would refuse at start: model.dir,
   * the model's labels and steps); their issues are listed with the others, so one check shows
   * every problem at once.
   */
  startChecks?: (config: Config) => Promise<string[]>;
}

/**
 * For `earwitness config check`: validates the file and also that the files it names (MQTT
 * password file, TLS files) can be read, so problems show now and not at the first alert.
 */
export async function checkConfigFile(path: string, options: CheckConfigOptions = {}): Promise<ConfigResult> {
  let config: Config;
  try {
    config = await loadConfig({
      path,
      env: options.env ?? {},
      hostname: options.hostname ?? osHostname(),
      ...(options.machineId !== undefined ? { machineId: options.machineId } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, issues: [...err.issues] };
    throw err;
  }
  const issues: string[] = [];
  if (configuredOutputs(config).length === 0) issues.push(NO_OUTPUT_MESSAGE);
  // EARWITNESS_MQTT_PASSWORD wins over the file, which is then not read.
  if (config.mqtt.password_file !== null && config.mqtt.password === null) {
    try {
      await readPasswordFile(config.mqtt.password_file);
    } catch (err) {
      issues.push((err as Error).message);
    }
  }
  const tlsFiles: [string, string | null][] = [
    ["mqtt.tls.ca", config.mqtt.tls.ca],
    ["mqtt.tls.cert", config.mqtt.tls.cert],
    ["mqtt.tls.key", config.mqtt.tls.key],
  ];
  for (const [name, file] of tlsFiles) {
    if (file === null) continue;
    try {
      await access(file, fsConstants.R_OK);
    } catch (err) {
      issues.push(`${name} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (options.startChecks) issues.push(...(await options.startChecks(config)));
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config };
}
