/**
 * `earwitness doctor`: independent checks of one unit, each pass / warn / fail with the fix.
 * Every check is a function of a `DoctorContext` whose seams (commands run, clock, capture,
 * backend, sysfs root) the CLI fills with real IO and the tests with fakes.
 *
 * Nothing here changes the unit: GPIO outputs are never toggled (the files are only checked for
 * write access; `earwitness selftest` is the way to see and hear them), MQTT uses a private test
 * topic and a client id of its own, and the model is loaded and released.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { Levels } from "../audio/level-meter.js";
import { checkModelFitsConfig, loadScreamModel, resolveModelDir } from "../assemble/model.js";
import type { TelemetryMessage, StatusMessage } from "../status/protocol.js";
import { configuredOutputs, NO_OUTPUT_MESSAGE } from "../config/outputs.js";
import { describeError } from "../errors.js";
import { loadBundle, verifyBundleFiles, type BundleMeta } from "../model/bundle.js";
import { resolveSysfsGpio } from "../outputs/gpio/sysfs.js";
import { connectConfigured, endQuietly } from "./mqtt.js";

export type CheckStatus = "pass" | "warn" | "fail";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do; null when nothing needs doing. */
  fix: string | null;
}

export interface CommandResult {
  /** Exit code; null when killed (timeout) or never started. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The program does not exist (ENOENT). */
  missing: boolean;
}

export type RunCommand = (command: string, args: string[], options?: { timeoutMs?: number }) => Promise<CommandResult>;

export interface DoctorContext {
  /** null when the configuration is invalid (then `configIssues` says why). */
  config: Config | null;
  /** The file read; null when none exists and the defaults apply. */
  configPath: string | null;
  configIssues: readonly string[];
  run: RunCommand;
  clock: Clock;
  nodeVersion: string;
  /** Selects the configured tfjs backend and returns its name. */
  selectBackend(config: Config): Promise<string>;
  /** Listens through the configured source for `ms` and returns the levels. */
  captureLevels(config: Config, ms: number): Promise<Levels>;
  /** Checks that the optional onoff module loads; throws its OutputError otherwise. */
  loadGpioDriver(): Promise<void>;
  sysfsRoot: string;
  /** What the running daemon reports over its status socket; null when it does not answer. */
  daemon: { status: StatusMessage; telemetry: TelemetryMessage } | null;
  /** The systemd unit name. */
  unit: string;
  /** This machine's hash as published in the state's `unit.machine` (config/machine.ts); absent when unknown. */
  machine?: string;
}

export type Check = (ctx: DoctorContext) => Promise<CheckResult | CheckResult[]>;

const pass = (name: string, detail: string): CheckResult => ({ name, status: "pass", detail, fix: null });
const warn = (name: string, detail: string, fix: string | null): CheckResult => ({ name, status: "warn", detail, fix });
const fail = (name: string, detail: string, fix: string | null): CheckResult => ({ name, status: "fail", detail, fix });

function skippedForConfig(name: string): CheckResult {
  return warn(name, "not checked: the configuration is invalid", "fix the configuration first (see the config check)");
}

export const MIN_NODE_MAJOR = 20;

export const checkNode: Check = async (ctx) => {
  const major = Number(/^v?(\d+)/.exec(ctx.nodeVersion)?.[1] ?? NaN);
  if (major >= MIN_NODE_MAJOR) return pass("node", `Node.js ${ctx.nodeVersion}`);
  return fail("node", `Node.js ${ctx.nodeVersion} is older than ${MIN_NODE_MAJOR}`, `install Node.js ${MIN_NODE_MAJOR} or newer (https://nodejs.org, or NodeSource's Debian packages), then rerun scripts/install.sh`);
};

export const checkConfig: Check = async (ctx) => {
  if (ctx.config === null) {
    return fail("config", `${ctx.configPath ?? "configuration"}: ${ctx.configIssues.join("; ")}`, `edit ${ctx.configPath ?? "the config file"}, then run \`earwitness config check\``);
  }
  if (configuredOutputs(ctx.config).length === 0) {
    return fail(
      "config",
      `${ctx.configPath ?? "no config file, built-in defaults"}: ${NO_OUTPUT_MESSAGE}; the daemon refuses to start`,
      `set mqtt.enabled: true and mqtt.url, or gpio.led / gpio.buzzer, in ${ctx.configPath ?? "/etc/earwitness/config.yaml"} (or rerun scripts/install.sh --mqtt-url … / --gpio-led …)`,
    );
  }
  if (ctx.configPath === null) {
    return warn("config", "no config file: running on built-in defaults and overrides from the environment", "copy config/earwitness.example.yaml to /etc/earwitness/config.yaml and edit it");
  }
  return pass("config", `${ctx.configPath} is valid (device ${ctx.config.device_id})`);
};

export const checkBackend: Check = async (ctx) => {
  if (!ctx.config) return skippedForConfig("tfjs backend");
  try {
    const name = await ctx.selectBackend(ctx.config);
    if (name === "cpu") {
      return warn("tfjs backend", "cpu (pure JavaScript): slow, inference may not keep up on a Pi", "use model.backend: wasm (or auto), and reinstall dependencies with npm install if wasm fails");
    }
    return pass("tfjs backend", `${name} (model.backend: ${ctx.config.model.backend})`);
  } catch (err) {
    return fail("tfjs backend", describeError(err), "set model.backend: auto, or reinstall dependencies (cd /opt/earwitness && npm install --omit=dev)");
  }
};

export const checkMicrophone: Check = async (ctx) => {
  const r = await ctx.run("arecord", ["-l"], { timeoutMs: 5_000 });
  if (r.missing) return fail("microphone", "arecord not found", "sudo apt-get install alsa-utils");
  if (r.code !== 0) return fail("microphone", `arecord -l failed: ${firstLine(r.stderr) || `exit ${String(r.code)}`}`, "check that the earwitness user is in the audio group (sudo usermod -aG audio earwitness)");
  const cards = [...r.stdout.matchAll(/^card (\d+): (\S+) \[([^\]]*)\], device (\d+): ([^\n]*)$/gm)].map((m) => ({ card: m[1]!, id: m[2]!, name: m[3]!, device: m[4]! }));
  if (cards.length === 0) return fail("microphone", "no capture device (arecord -l lists none)", "plug in the USB microphone (or enable the I2S overlay), then check `arecord -l`");
  const list = cards.map((c) => `card ${c.card} "${c.name}" device ${c.device}`).join(", ");
  const device = ctx.config?.audio.device ?? "default";
  const wanted = /(?:hw|plughw):(?:CARD=)?([^,]+)/.exec(device)?.[1];
  if (wanted !== undefined && !cards.some((c) => c.card === wanted || c.id === wanted)) {
    return fail("microphone", `audio.device ${device} names card ${wanted}, which is not present (found ${list})`, `set audio.device to one of the cards found, e.g. plughw:${cards[0]!.card},${cards[0]!.device}`);
  }
  return pass("microphone", list);
};

/** Thresholds of the level check. Why: a live microphone's noise floor is well above -85 dBFS. */
export const LEVEL_CHECK_MS = 2_000;
const QUIET_DBFS = -70;
const CLIP_FRACTION_WARN = 0.001;
const DC_WARN = 0.05;

export const checkLevels: Check = async (ctx) => {
  const name = "input level";
  if (!ctx.config) return skippedForConfig(name);
  let lv: Levels;
  try {
    lv = await ctx.captureLevels(ctx.config, LEVEL_CHECK_MS);
  } catch (err) {
    if (ctx.daemon) {
      // The running daemon may hold the device exclusively (a hw: device): its own level will do.
      return warn(name, `cannot open the microphone (${describeError(err)}); the running daemon hears ${ctx.daemon.telemetry.dbfs.toFixed(1)} dBFS`, "stop the daemon for a full level check (sudo systemctl stop earwitness), or watch `earwitness monitor`");
    }
    return fail(name, `no audio from ${ctx.config.audio.source} ${ctx.config.audio.device}: ${describeError(err)}`, "check audio.device against `arecord -l`, and that the microphone is plugged in");
  }
  const detail = `${(lv.samples / 16_000).toFixed(1)} s: RMS ${lv.rmsDbfs.toFixed(1)} dBFS, peak ${lv.peakDbfs.toFixed(1)} dBFS, clipped ${(lv.clippedFraction * 100).toFixed(2)} %, DC offset ${lv.dcOffset >= 0 ? "+" : ""}${lv.dcOffset.toFixed(4)}`;
  if (lv.samples === 0) return fail(name, "the source delivered no samples", "check audio.device against `arecord -l`");
  if (lv.rmsDbfs <= ctx.config.audio.silence_dbfs || lv.peakAbs === 0) {
    return fail(name, `digital silence (${detail})`, "the capture channel is muted or dead: unmute and raise the capture gain in `alsamixer -c <card>` (F4), or try another microphone");
  }
  if (lv.clippedFraction > CLIP_FRACTION_WARN) return warn(name, `clipping (${detail})`, "lower the capture gain in `alsamixer -c <card>` (F4) until nothing clips when someone shouts nearby");
  if (Math.abs(lv.dcOffset) > DC_WARN) return warn(name, `large DC offset (${detail})`, "a faulty or badly biased microphone; try another one");
  if (lv.rmsDbfs < QUIET_DBFS) return warn(name, `very quiet (${detail})`, "raise the capture gain in `alsamixer -c <card>` (F4); speech near the unit should reach about -30 dBFS");
  return pass(name, detail);
};

export const checkGpio: Check = async (ctx) => {
  if (!ctx.config) return skippedForConfig("gpio");
  const g = ctx.config.gpio;
  if (g.driver !== "onoff") return pass("gpio", `gpio.driver is ${g.driver}: no GPIO lines used`);
  const lines = (["led", "buzzer", "button"] as const).filter((n) => g[n].pin !== null);
  if (lines.length === 0) return warn("gpio", "no LED, buzzer or button configured: alerts are only published over MQTT", "wire an LED and a buzzer and set gpio.led and gpio.buzzer");
  try {
    await ctx.loadGpioDriver();
  } catch (err) {
    return fail("gpio", describeError(err), "sudo apt-get install build-essential python3 && (cd /opt/earwitness && npm install onoff)");
  }
  const results: CheckResult[] = [];
  for (const line of lines) {
    const pin = g[line].pin!;
    const name = `gpio ${line}`;
    const pinText = typeof pin === "number" ? `GPIO${pin}` : `${pin.chip} line ${pin.line}`;
    let n: number;
    try {
      n = await resolveSysfsGpio(pin, ctx.sysfsRoot);
    } catch (err) {
      results.push(fail(name, `${pinText}: ${describeError(err)}`, "check the pin in gpio." + line));
      continue;
    }
    const dir = join(ctx.sysfsRoot, `gpio${n}`);
    const exported = await exists(dir);
    const target = exported ? join(dir, "value") : join(ctx.sysfsRoot, "export");
    try {
      await access(target, fsConstants.W_OK);
    } catch (err) {
      results.push(fail(name, `${pinText} (sysfs gpio${n}): ${target} is not writable (${(err as NodeJS.ErrnoException).code ?? describeError(err)})`, "add the earwitness user to the gpio group (sudo usermod -aG gpio earwitness) and restart the service"));
      continue;
    }
    results.push(pass(name, `${pinText} is sysfs gpio${n}${exported ? " (exported, e.g. by the running daemon)" : ""}, writable; not toggled — run \`earwitness selftest\` to see and hear it`));
  }
  return results;
};

const ROUND_TRIP_TIMEOUT_MS = 5_000;

export const checkMqtt: Check = async (ctx) => {
  const name = "mqtt";
  if (!ctx.config) return skippedForConfig(name);
  const m = ctx.config.mqtt;
  if (!m.enabled || m.url === null) return warn(name, "MQTT is off: alerts reach only the LED and buzzer", "set mqtt.enabled: true and mqtt.url to reach a home-automation hub");
  const t0 = ctx.clock.monotonicMs();
  let client;
  try {
    client = await connectConfigured(ctx.config, "doctor", ROUND_TRIP_TIMEOUT_MS);
  } catch (err) {
    return fail(name, describeError(err), "check mqtt.url, mqtt.username and the password (mqtt.password_file or EARWITNESS_MQTT_PASSWORD) against the broker");
  }
  const topic = `${ctx.config.mqtt.topic_root}/doctor/${randomBytes(4).toString("hex")}`;
  const token = randomBytes(8).toString("hex");
  try {
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) {
      return fail(name, `the broker refused the subscription to ${topic}`, `allow the MQTT user ${m.username ?? "(anonymous)"} to read and write ${ctx.config.mqtt.topic_root}/# in the broker's ACL`);
    }
    const received = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ROUND_TRIP_TIMEOUT_MS);
      client.on("message", (t, payload) => {
        if (t === topic && payload.toString() === token) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    // QoS 1: publishAsync resolves on the broker's PUBACK.
    await client.publishAsync(topic, token, { qos: 1, retain: false });
    if (!(await received)) {
      return fail(name, `published on ${topic} (acknowledged) but the message never came back`, `allow the MQTT user ${m.username ?? "(anonymous)"} to read and write ${ctx.config.mqtt.topic_root}/# in the broker's ACL`);
    }
    const ms = Math.round(ctx.clock.monotonicMs() - t0);
    return pass(name, `${m.url}${m.username ? ` as ${m.username}` : ""}: connect, subscribe, publish and receive on a private test topic in ${ms} ms`);
  } catch (err) {
    return fail(name, `round trip on ${topic} failed: ${describeError(err)}`, "check the broker's log and ACLs");
  } finally {
    await endQuietly(client);
  }
};

const IDENTITY_WAIT_MS = 1_500;

/**
 * Is another unit publishing under this device id? Units installed from one image all said
 * `raspberrypi` and took each other's MQTT connection for ever. The retained state names the
 * machine that wrote it (`unit.machine`); retained `online` while no daemon runs here is a hint.
 */
export const checkMqttIdentity: Check = async (ctx) => {
  const name = "mqtt device id";
  if (!ctx.config) return skippedForConfig(name);
  const m = ctx.config.mqtt;
  if (!m.enabled || m.url === null) return pass(name, "MQTT is off");
  let client;
  try {
    client = await connectConfigured(ctx.config, "doctor", ROUND_TRIP_TIMEOUT_MS);
  } catch (err) {
    return warn(name, `not checked: ${describeError(err)}`, "see the mqtt check");
  }
  const root = ctx.config.mqtt.topic_root;
  const seen = new Map<string, string>();
  try {
    client.on("message", (t, payload, packet) => {
      if (packet.retain) seen.set(t, payload.toString("utf8"));
    });
    await client.subscribeAsync([`${root}/state`, `${root}/availability`], { qos: 1 });
    await new Promise((r) => setTimeout(r, IDENTITY_WAIT_MS));
  } catch (err) {
    return warn(name, `not checked: ${describeError(err)}`, "see the mqtt check");
  } finally {
    await endQuietly(client);
  }
  const id = ctx.config.device_id;
  const fix = `give each unit its own device_id in /etc/earwitness/config.yaml (the default, the hostname and a hash of /etc/machine-id, differs per machine), restart it, and remove the old id's entities with \`earwitness mqtt forget --device-id OLD_ID\``;
  let unit: { host?: unknown; machine?: unknown } | null = null;
  try {
    const state = seen.get(`${root}/state`);
    if (state) unit = (JSON.parse(state) as { unit?: { host?: unknown; machine?: unknown } }).unit ?? null;
  } catch {
    unit = null;
  }
  if (unit && typeof unit.machine === "string" && unit.machine !== "" && ctx.machine && unit.machine !== ctx.machine) {
    return fail(name, `another unit (host ${String(unit.host)}, machine ${unit.machine}) publishes under device id "${id}"; this machine is ${ctx.machine}: the two take each other's MQTT connection`, fix);
  }
  const online = seen.get(`${root}/availability`) === "online";
  if (online && !ctx.daemon) {
    return warn(name, `device id "${id}" is retained as online on the broker, but no daemon runs here: another unit with this id, or this daemon stopped less than a keepalive ago`, fix);
  }
  return pass(name, `no other unit publishes under device id "${id}"`);
};

export const checkModel: Check = async (ctx) => {
  const name = "model";
  if (!ctx.config) return skippedForConfig(name);
  let dir: string;
  try {
    dir = await resolveModelDir(ctx.config);
    await verifyBundleFiles(dir);
  } catch (err) {
    return fail(name, describeError(err), "reinstall the model: earwitness model rollback, or earwitness model install BUNDLE");
  }
  let speech: string;
  let meta: BundleMeta;
  try {
    const bundle = await loadBundle(dir);
    try {
      checkModelFitsConfig(ctx.config, bundle);
    } finally {
      bundle.model.dispose();
    }
    meta = bundle.meta;
    speech = `${bundle.meta.name}@${bundle.meta.version} (sha256 ${bundle.sha256.slice(0, 12)}…) from ${dir}: checksums verified, loads`;
  } catch (err) {
    return fail(name, describeError(err), "install a model that fits the configuration (earwitness model install BUNDLE), or fix detect.danger.labels");
  }
  // The scream branch's model, as the daemon loads it (src/assemble/model.ts loadScreamModel).
  let screams: Awaited<ReturnType<typeof loadScreamModel>>;
  try {
    screams = await loadScreamModel(ctx.config, meta);
  } catch (err) {
    return fail(name, `${speech}; but ${describeError(err)}`, "point detect.screams.model_dir at a home model with a scream class trained on the speech model's features, or set it to null (the shipped one)");
  }
  if (screams.problem) {
    return warn(name, `${speech}; ${screams.problem}: the unit hears danger in speech only`, "reinstall the package (the shipped scream model), or set detect.screams.enabled: false to silence this");
  }
  if (screams.model) {
    const m = screams.model;
    m.dispose();
    return pass(name, `${speech}; scream branch ${m.info.name}@${m.info.version} from ${m.dir}: loads`);
  }
  return pass(name, speech);
};

/** systemd's timespan text (as `systemctl show` prints WatchdogUSec) → ms; null if unparsable. */
export function parseTimespanMs(text: string): number | null {
  const t = text.trim();
  if (t === "" || t === "infinity") return null;
  if (/^\d+$/.test(t)) return Number(t) / 1000; // raw microseconds
  const units: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  for (const part of t.split(/\s+/)) {
    const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|h|d)$/.exec(part);
    if (!m) return null;
    total += Number(m[1]) * units[m[2]!]!;
  }
  return total;
}

function parseShow(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** `@1715673600` (--timestamp=unix) or systemd's default text; null when never set. */
function parseTimestampMs(text: string | undefined): number | null {
  if (!text || text === "n/a" || text === "0") return null;
  if (text.startsWith("@")) return Number(text.slice(1)) * 1000;
  const ms = Date.parse(text.replace(/^[A-Z][a-z]{2} /, "").replace(/ [A-Z]{2,5}$/, ""));
  return Number.isFinite(ms) ? ms : null;
}

export const checkSystemd: Check = async (ctx) => {
  const unit = ctx.unit;
  const r = await ctx.run("systemctl", ["is-active", unit], { timeoutMs: 5_000 });
  const noSystemd = r.missing || /not been booted with systemd|Failed to connect to bus|System has not been booted/i.test(r.stderr);
  if (noSystemd) {
    return [
      warn("systemd", "systemd is not available here: the service is not checked", "on the unit itself, run doctor again; elsewhere start the daemon with `earwitness run`"),
    ];
  }
  const state = r.stdout.trim() || firstLine(r.stderr) || "unknown";
  if (state !== "active") {
    return [
      fail("systemd", `unit ${unit} is ${state}`, `sudo systemctl enable --now ${unit}; if it keeps failing: journalctl -u ${unit} -n 50`),
    ];
  }
  const results: CheckResult[] = [pass("systemd", `unit ${unit} is active`)];
  let show = await ctx.run("systemctl", ["show", "-p", "WatchdogUSec", "-p", "WatchdogTimestamp", "--timestamp=unix", unit], { timeoutMs: 5_000 });
  // systemd before 248 does not know --timestamp=unix.
  if (show.code !== 0) show = await ctx.run("systemctl", ["show", "-p", "WatchdogUSec", "-p", "WatchdogTimestamp", unit], { timeoutMs: 5_000 });
  const props = parseShow(show.stdout);
  const intervalMs = parseTimespanMs(props["WatchdogUSec"] ?? "");
  if (intervalMs === null || intervalMs === 0) {
    results.push(warn("watchdog", `unit ${unit} has no watchdog (WatchdogUSec=${props["WatchdogUSec"] ?? "?"}): a hung daemon would not be restarted`, "reinstall the unit file from systemd/earwitness.service (it sets WatchdogSec=)"));
    return results;
  }
  const lastMs = parseTimestampMs(props["WatchdogTimestamp"]);
  if (lastMs === null) {
    results.push(fail("watchdog", `the daemon never fed the watchdog (WatchdogSec ${intervalMs / 1000} s): no audio has been processed yet`, `journalctl -u ${unit} -n 50 (look for microphone or model problems)`));
    return results;
  }
  const ageMs = ctx.clock.nowMs() - lastMs;
  // WatchdogTimestamp has 1 s resolution with --timestamp=unix: allow that much.
  if (ageMs > intervalMs + 1_000) {
    results.push(fail("watchdog", `last fed ${Math.round(ageMs / 1000)} s ago, longer than WatchdogSec ${intervalMs / 1000} s`, `journalctl -u ${unit} -n 50 (audio stalled or inference hung)`));
  } else {
    results.push(pass("watchdog", `fed ${Math.max(0, Math.round(ageMs / 1000))} s ago (WatchdogSec ${intervalMs / 1000} s)`));
  }
  return results;
};

export const checkDaemon: Check = async (ctx) => {
  if (!ctx.config) return skippedForConfig("daemon");
  if (!ctx.daemon) {
    return warn("daemon", `no daemon answers on ${ctx.config.status_socket}`, "start it (sudo systemctl start earwitness); `earwitness monitor` needs it");
  }
  const s = ctx.daemon.status;
  const problems = Object.entries(s.problems);
  const arming = `${s.armed ? "armed" : "DISARMED"}${s.muted_until ? `, muted until ${s.muted_until}` : ""}`;
  if (problems.length > 0) {
    return warn("daemon", `${s.state}, ${arming}; problems: ${problems.map(([c, msg]) => `${c} (${msg})`).join("; ")}`, "fix what each problem says; `earwitness monitor` shows them live");
  }
  if (!s.armed) return warn("daemon", `${s.state}, ${arming}: no alerts are raised`, 'arm it: publish {"command":"arm"} on the set topic, or hold the button');
  if (s.muted_until) return warn("daemon", `${s.state}, ${arming}: no alerts until then`, 'unmute it: publish {"command":"unmute"} on the set topic, or 0 on set/mute');
  return pass("daemon", `${s.state}, ${arming}, no problems, rtf ${ctx.daemon.telemetry.rtf.toFixed(3)}`);
};

/** Every check, in the order they are shown. */
export const ALL_CHECKS: readonly Check[] = [checkNode, checkConfig, checkBackend, checkModel, checkMicrophone, checkLevels, checkGpio, checkMqtt, checkMqttIdentity, checkSystemd, checkDaemon];

/** Runs the checks one after another; a check that throws is a failure of that check only. */
export async function runDoctor(ctx: DoctorContext, checks: readonly Check[] = ALL_CHECKS, onResult?: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    let out: CheckResult[];
    try {
      const r = await check(ctx);
      out = Array.isArray(r) ? r : [r];
    } catch (err) {
      out = [fail(check.name.replace(/^check/, "").toLowerCase() || "check", `the check itself failed: ${describeError(err)}`, "report this as a bug, with the output of `earwitness doctor --json`")];
    }
    for (const r of out) {
      results.push(r);
      onResult?.(r);
    }
  }
  return results;
}

/** The doctor's exit code: 1 when anything failed. */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

/** The table, plain text. */
export function formatDoctorTable(results: readonly CheckResult[]): string {
  const nameW = Math.max(5, ...results.map((r) => r.name.length));
  const lines = [`${"CHECK".padEnd(nameW)}  STATUS  DETAIL`];
  for (const r of results) {
    lines.push(`${r.name.padEnd(nameW)}  ${r.status.toUpperCase().padEnd(6)}  ${r.detail}`);
    if (r.fix && r.status !== "pass") lines.push(`${" ".repeat(nameW)}          fix: ${r.fix}`);
  }
  const n = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  lines.push("", `${n("pass")} passed, ${n("warn")} warning(s), ${n("fail")} failed`);
  return lines.join("\n") + "\n";
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
