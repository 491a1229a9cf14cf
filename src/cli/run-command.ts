import { hostname } from "node:os";
import { systemClock } from "../clock.js";
import { loadConfig } from "../config/load.js";
import { configuredOutputs, NO_OUTPUT_MESSAGE } from "../config/outputs.js";
import { DEFAULT_CONFIG_PATH } from "../constants.js";
import { createDaemonDeps, Daemon } from "../daemon/daemon.js";
import { ConfigError } from "../errors.js";
import { createLogger, quietTfjsConsole, resolveLogFormat, type Logger } from "../log.js";
import { pidFilePath, removePidFileSync, writePidFile } from "../status/pid-file.js";
import { parse } from "./args.js";
import { softwareVersion } from "./version.js";

export const RUN_HELP = `earwitness run — listen to the microphone and raise alerts (the systemd service runs this)

  --config FILE   configuration (default: ${DEFAULT_CONFIG_PATH} if present, else built-in defaults)

Signals: SIGHUP reloads the configuration and the model (a bad one is refused and the old one
keeps running); SIGTERM or SIGINT stop cleanly (outbox flushed, "offline" published, outputs off).
Exit codes: 0 stopped by a signal, 1 could not start, 70 internal error, 78 invalid configuration
(including one with no output: neither a GPIO LED or buzzer nor MQTT).
`;

/** EX_CONFIG (sysexits.h): systemd's RestartPreventExitStatus can name it. */
export const EXIT_CONFIG = 78;
/** EX_SOFTWARE: an internal error ended the daemon. */
export const EXIT_SOFTWARE = 70;
/** A clean stop that takes longer than this gives up and switches the outputs off at once. */
const STOP_DEADLINE_MS = 15_000;

export { softwareVersion };

export async function runCommand(argv: string[], rootLog: Logger): Promise<number> {
  let log = rootLog;
  const { values: v } = parse(argv, { config: { type: "string" }, help: { type: "boolean", short: "h", default: false } });
  if (v.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const configPath = v.config as string | undefined;
  let config;
  try {
    config = await loadConfig({ path: configPath, env: process.env, hostname: hostname() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`earwitness run: invalid configuration, ${err.issues.length} problem(s):\n`);
    process.stderr.write(err.issues.map((i) => `  - ${i}\n`).join("") || `  - ${err.message}\n`);
    return EXIT_CONFIG;
  }
  if (configuredOutputs(config).length === 0) {
    // Listening without telling anyone is worse than not starting: systemd shows the failure.
    process.stderr.write(`earwitness run: ${NO_OUTPUT_MESSAGE}; see earwitness config check\n`);
    log.error(NO_OUTPUT_MESSAGE);
    return EXIT_CONFIG;
  }
  if (config.log_format !== null) {
    // A configured format wins over the rule main chose by (log.ts resolveLogFormat).
    log = createLogger(config.log_level, resolveLogFormat(config.log_format, process.env, process.stderr.isTTY === true)).child({ command: "run" });
    quietTfjsConsole(log);
  }
  log.level = config.log_level;
  // `earwitness model install` finds the running daemon through this pid file and checks the
  // process name before sending SIGHUP, so a stale file never signals another program.
  process.title = "earwitness";
  const pidFile = pidFilePath(config.state_dir);
  try {
    await writePidFile(config.state_dir);
  } catch (err) {
    log.warn({ pidFile, err: (err as Error).message }, "cannot write the pid file; `earwitness model install` will not reload this daemon by itself (send SIGHUP)");
  }
  process.once("exit", () => removePidFileSync(pidFile));
  const daemon = new Daemon(
    config,
    createDaemonDeps({ clock: systemClock, log, env: process.env, configPath, stateDir: config.state_dir, softwareVersion: softwareVersion() }),
  );

  return new Promise<number>((resolve, reject) => {
    let finished = false;
    const listeners: [string, (...args: never[]) => void][] = [];
    const on = (event: string, fn: (...args: never[]) => void): void => {
      process.on(event as NodeJS.Signals, fn as () => void);
      listeners.push([event, fn]);
    };
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      for (const [event, fn] of listeners) process.removeListener(event, fn as () => void);
      // Whatever happened, nothing stays lit or sounding.
      daemon.offNow();
      resolve(code);
    };
    const shutdown = (code: number, why: string): void => {
      log.info({ why }, "stopping");
      const deadline = setTimeout(() => {
        log.error({ afterMs: STOP_DEADLINE_MS }, "clean stop took too long; outputs off, exiting");
        finish(code === 0 ? 1 : code);
      }, STOP_DEADLINE_MS);
      daemon
        .stop()
        .catch((err: unknown) => log.error({ err }, "stop failed"))
        .finally(() => {
          clearTimeout(deadline);
          finish(code);
        });
    };
    let stopRequested = false;
    const onStopSignal = (signal: string) => (): void => {
      if (stopRequested) {
        // A second signal: the user insists. Outputs off and out.
        log.warn({ signal }, "second stop signal: exiting now");
        finish(1);
        return;
      }
      stopRequested = true;
      shutdown(0, signal);
    };
    on("SIGTERM", onStopSignal("SIGTERM"));
    on("SIGINT", onStopSignal("SIGINT"));
    on("SIGHUP", () => {
      log.info("SIGHUP: reloading configuration and model");
      void daemon.reload();
    });
    // The process may end in ways no promise sees; the lines go off synchronously then.
    on("exit", () => daemon.offNow());
    const fatal = (err: unknown): void => {
      log.fatal({ err }, "internal error; switching outputs off and stopping");
      daemon.offNow();
      if (!stopRequested) {
        stopRequested = true;
        shutdown(EXIT_SOFTWARE, "internal error");
      }
    };
    on("uncaughtException", fatal);
    on("unhandledRejection", fatal);

    daemon.start().then(
      () => {
        if (stopRequested) return;
        log.info({ device: config.device_id }, "earwitness is listening");
      },
      (err: unknown) => {
        for (const [event, fn] of listeners) process.removeListener(event, fn as () => void);
        finished = true;
        daemon.offNow();
        reject(err);
      },
    );
  });
}
