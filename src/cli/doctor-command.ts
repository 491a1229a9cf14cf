import { hostname } from "node:os";
import { systemClock } from "../clock.js";
import { findConfigPath, loadConfig, checkConfigFile } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { createMicrophone } from "../assemble/parts.js";
import { runDoctor, doctorExitCode, formatDoctorTable, type DoctorContext } from "../doctor/checks.js";
import { readDaemonStatus, runCommand } from "../doctor/context.js";
import { measureLevels } from "../doctor/measure-levels.js";
import { machineSuffix, readMachineId } from "../config/machine.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { selectBackend } from "../model/backend.js";
import { verifyBundleFiles } from "../model/bundle.js";
import { resolveModelDir } from "../assemble/model.js";
import { softwareVersion } from "./version.js";
import { loadOnoffDriver } from "../outputs/gpio/line.js";
import { DEFAULT_SYSFS_GPIO_ROOT } from "../outputs/gpio/sysfs.js";
import { parse } from "./args.js";

export const DOCTOR_HELP = `earwitness doctor — check this unit: each check passes, warns or fails, with the fix

  --config FILE   configuration (default: /etc/earwitness/config.yaml if present, else built-in defaults)
  --json          print {"checks":[{"name","status","detail","fix"}]}
  --unit NAME     systemd unit (default earwitness)

Checks: Node.js version, tfjs backend, model bundle, microphone (arecord -l), a 2 s input level
(dBFS, clipping, DC offset), each GPIO line (sysfs files writable; outputs are never toggled —
run \`earwitness selftest\` to see and hear them), an MQTT connect/subscribe/publish round trip
on a private test topic, systemd unit and watchdog, and the running daemon's problems.
Exit code 1 when any check fails.
`;

export async function doctorCommand(argv: string[], log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    config: { type: "string" },
    json: { type: "boolean", default: false },
    unit: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(DOCTOR_HELP);
    return 0;
  }
  // The checks report; the daemon's components must not log over the table.
  log.level = "silent";
  const explicit = v.config as string | undefined;
  let configPath: string | null = null;
  let config: Config | null = null;
  let configIssues: readonly string[] = [];
  try {
    configPath = await findConfigPath(explicit);
    if (configPath !== null) {
      const r = await checkConfigFile(configPath, { env: process.env, hostname: hostname() });
      if (r.ok) config = r.config;
      else configIssues = r.issues;
    } else {
      config = await loadConfig({ env: process.env, hostname: hostname() });
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configIssues = err.issues.length > 0 ? err.issues : [err.message];
  }
  const clock = systemClock;
  const machineId = await readMachineId();
  const ctx: DoctorContext = {
    config,
    configPath,
    configIssues,
    run: runCommand,
    clock,
    nodeVersion: process.version,
    selectBackend: (c) => selectBackend(c.model.backend),
    captureLevels: (c, ms) => {
      // No waiting for a late USB device: the doctor reports what is there now.
      const mic = createMicrophone({ ...c, audio: { ...c.audio, wait_for_device_s: 0 } }, clock, log);
      return measureLevels(mic, ms, clock);
    },
    loadGpioDriver: async () => {
      await loadOnoffDriver();
    },
    sysfsRoot: DEFAULT_SYSFS_GPIO_ROOT,
    daemon: config ? await readDaemonStatus(config.status_socket) : null,
    unit: (v.unit as string | undefined) ?? "earwitness",
    ...(machineId === null ? {} : { machine: machineSuffix(machineId) }),
  };
  const tty = !v.json && process.stdout.isTTY === true;
  const results = await runDoctor(ctx, undefined, (r) => {
    if (tty) process.stderr.write(`\r\x1b[Kchecked ${r.name}…`);
  });
  if (tty) process.stderr.write("\r\x1b[K");
  const versions = await doctorVersions(config);
  if (v.json) process.stdout.write(JSON.stringify({ versions, checks: results }, null, 2) + "\n");
  else process.stdout.write(`${formatVersions(versions)}\n\n${formatDoctorTable(results)}`);
  return doctorExitCode(results);
}

export interface DoctorVersions {
  earwitness: string;
  node: string;
  /** The model the configuration runs (installed, else shipped); null when none can be read. */
  model: { name: string; version: string; sha256: string; dir: string } | null;
}

/** What a bug report needs first: the versions of earwitness, Node.js and the model. */
export async function doctorVersions(config: Config | null): Promise<DoctorVersions> {
  let model: DoctorVersions["model"] = null;
  if (config) {
    try {
      const dir = await resolveModelDir(config);
      const { meta, sha256 } = await verifyBundleFiles(dir);
      model = { name: meta.name, version: meta.version, sha256, dir };
    } catch {
      // The model check below says why.
    }
  }
  return { earwitness: softwareVersion(), node: process.version, model };
}

export function formatVersions(v: DoctorVersions): string {
  const model = v.model ? `model ${v.model.name} ${v.model.version} (sha256 ${v.model.sha256.slice(0, 12)}…)` : "model: none readable (see the model check)";
  return `earwitness ${v.earwitness} · Node.js ${v.node} · ${model}`;
}
