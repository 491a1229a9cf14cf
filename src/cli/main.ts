#!/usr/bin/env node
import { ConfigError, describeError, EarwitnessError } from "../errors.js";
import { systemClock } from "../clock.js";
import { createLogger, quietTfjsConsole, resolveLogFormat } from "../log.js";
import { Progress, progressMode } from "../report/progress.js";
import { UsageError } from "./args.js";
import { softwareVersion } from "./version.js";

const HELP = `earwitness — hears danger in a voice

usage: earwitness <command> [options]   (earwitness <command> --help for its options)
       earwitness --version

  demo      the full pipeline on a short recording: no microphone, GPIO or broker needed
  run       listen to the microphone and raise alerts (what the systemd service runs)
  train     train an emotion model on corpus directories
  eval      measure a model bundle on labelled recordings
  features  extract and cache corpus features before training
  replay    run recordings through the daemon's pipeline and report alerts
  config    check a configuration file
  mqtt      JSON Schemas of the payloads; forget a device's retained messages on the broker
  model     install, verify, roll back and sign model bundles
  doctor    check this unit: microphone, level, GPIO, MQTT, model, config, systemd
  selftest  a test alert through the LED, the buzzer and MQTT
  calibrate tune the alert thresholds to this room's false-alert rate
  monitor   live view of the running daemon (level, emotions, danger, alerts)
  bench     speed, latency, memory and detection quality on this machine
`;

/** A command: its arguments, the logger, and the one progress renderer (src/report/progress.ts). */
type Command = (argv: string[], log: ReturnType<typeof createLogger>, progress: Progress) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  demo: async () => (await import("./demo-command.js")).demoCommand,
  run: async () => (await import("./run-command.js")).runCommand,
  train: async () => (await import("./train-command.js")).trainCommand,
  eval: async () => (await import("./eval-command.js")).evalCommand,
  features: async () => (await import("./features-command.js")).featuresCommand,
  replay: async () => (await import("./replay-command.js")).replayCommand,
  config: async () => (await import("./config-command.js")).configCommand,
  mqtt: async () => (await import("./mqtt-command.js")).mqttCommand,
  // modelCommand's third parameter is its output stream (tests pass one), not the progress.
  model: async () => {
    const { modelCommand } = await import("./model-command.js");
    return (argv, log) => modelCommand(argv, log);
  },
  doctor: async () => (await import("./doctor-command.js")).doctorCommand,
  selftest: async () => (await import("./selftest-command.js")).selftestCommand,
  calibrate: async () => (await import("./calibrate-command.js")).calibrateCommand,
  monitor: async () => (await import("./monitor-command.js")).monitorCommand,
  bench: async () => (await import("./bench-command.js")).benchCommand,
};

/** The only place that calls process.exit (STYLE.md). */
async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(`earwitness ${softwareVersion()}\n`);
    process.exit(0);
  }
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    process.exit(name ? 0 : 64);
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`earwitness: unknown command "${name}"\n\n${HELP}`);
    process.exit(64);
  }
  // The format by the rule of resolveLogFormat; `run` switches to a configured log_format.
  const format = resolveLogFormat(null, process.env, process.stderr.isTTY === true);
  // One progress renderer on stderr; the logger clears its bar before each line and redraws it after.
  const progress = new Progress({ stream: process.stderr, clock: systemClock, mode: progressMode(process.stderr.isTTY === true, process.env, format) });
  const log = createLogger((process.env.EARWITNESS_LOG_LEVEL as "info" | undefined) ?? "info", format, process.env, { hook: progress }).child({ command: name });
  quietTfjsConsole(log);
  try {
    const code = await (await load())(rest, log, progress);
    process.exit(code);
  } catch (err) {
    progress.beforeLine();
    if (err instanceof UsageError) {
      process.stderr.write(`earwitness ${name}: ${err.message}\n(see earwitness ${name} --help)\n`);
      process.exit(64);
    }
    const code = err instanceof EarwitnessError ? err.code : "UNEXPECTED";
    process.stderr.write(`earwitness ${name}: ${describeError(err)}\n`);
    if (err instanceof ConfigError && err.issues.length > 0) process.stderr.write(err.issues.map((i) => `  - ${i}\n`).join(""));
    if (!(err instanceof EarwitnessError) && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
    process.exit(code === "INVALID_CONFIG" ? 78 : 1);
  }
}

await main(process.argv.slice(2));
