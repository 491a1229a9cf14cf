/**
 * The real dependencies: the only place that constructs the daemon's IO (STYLE.md §1) —
 * microphone, GPIO, MQTT client, model loading with its fallbacks, the alert journal, the status
 * socket and page — from the configuration. Owns how each is built from config; must not own what
 * the daemon does with them (daemon.ts and its parts, which receive all of it through `DaemonDeps`
 * and are tested with fakes).
 */
import { access } from "node:fs/promises";
import { hostname } from "node:os";
import type { Clock } from "../clock.js";
import { loadConfig, mqttPassword } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { machineSuffix, readBoardModel, readMachineId } from "../config/machine.js";
import { ConfigError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import { MqttSink } from "../outputs/mqtt/mqtt-sink.js";
import { StatusHttpServer } from "../http/status-server.js";
import type { AudioSource } from "../audio/source.js";
import { fileAlertJournal } from "./alert-journal.js";
import { checkModelFitsConfig, createAdaptation, isBackendError, loadBundleForEngine, modelCandidates, openModel, type RunnableBundle } from "../assemble/model.js";
import { createNotifier, type Notifier } from "./sd-notify.js";
import type { DaemonDeps, IndicatorOutput } from "./seams.js";
import { StatusSocketServer } from "./status-socket.js";
import { createIndicator, createMicrophone } from "../assemble/parts.js";

export interface RealDepsOptions {
  clock: Clock;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** The config file SIGHUP re-reads (undefined: the default path, or defaults). */
  configPath?: string;
  /** Instead of the configured microphone (the demo streams a file). */
  source?: (config: Config) => AudioSource;
  /** Instead of the configured GPIO (the demo prints to the terminal). */
  indicator?: (config: Config) => Promise<IndicatorOutput | null>;
  /** The package version, for Home Assistant's device info. */
  softwareVersion: string;
  /** Where the open alert is remembered (config.state_dir), read at start; none when absent (the demo). */
  stateDir?: string;
  /** MQTT connect wait at start (default the sink's 5 s). */
  mqttConnectWaitMs?: number;
  notifier?: Notifier;
  /** Serve the status page when config.http.enabled (default true; the demo opens none). */
  statusPage?: boolean;
}

/** Builds the real microphone, GPIO, MQTT and model loaders from the config. */
export function createDaemonDeps(options: RealDepsOptions): DaemonDeps {
  const { clock, log } = options;
  return {
    clock,
    log,
    notifier: options.notifier ?? createNotifier(options.env, log),
    createSource: options.source ?? ((config) => createMicrophone(config, clock, log)),
    loadModel: async (config) => {
      // The configured/installed model, else previous, else shipped: a damaged install must not
      // make the unit deaf while an intact model sits next to it.
      if (config.model.dir) {
        // A configured directory that is not there is a configuration error (78), not a damaged model.
        try {
          await access(config.model.dir);
        } catch (err) {
          const issue = `model.dir ${config.model.dir} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
          throw new ConfigError("INVALID_CONFIG", issue, { issues: [issue], cause: err });
        }
      }
      const failures: string[] = [];
      let bundle: RunnableBundle | null = null;
      let firstError: unknown = null;
      for (const candidate of await modelCandidates(config)) {
        try {
          // The lean engine straight from the bundle's files where it can (no tfjs in this
          // process, identical outputs); tfjs on model.backend for the rest.
          const loaded = await loadBundleForEngine(candidate.dir, config.model.backend, log);
          try {
            checkModelFitsConfig(config, loaded);
          } catch (err) {
            loaded.dispose();
            throw err;
          }
          bundle = loaded;
          break;
        } catch (err) {
          // A configuration that does not fit (labels, hop) is the config's fault: 78, as `config check` says.
          if (err instanceof ConfigError) throw err;
          // So is a model.backend that cannot load (when a bundle needs tfjs): never a silent fallback.
          if (isBackendError(err)) throw err;
          firstError ??= err;
          failures.push(`${candidate.what} model (${candidate.dir}): ${describeError(err)}`);
          log.error({ err, model: candidate.dir }, `the ${candidate.what} model cannot be used; trying the next one`);
        }
      }
      if (bundle === null) throw firstError;
      // The scream branch's model, when on (loaded the same way): one that cannot be used leaves
      // the speech branch running and is said like a fallback.
      const { classifier, screams, screamProblem, dispose } = await openModel(config, bundle, log);
      const problems = [
        ...(failures.length === 0 ? [] : [`running ${bundle.meta.name} ${bundle.meta.version} (${bundle.dir}) instead: ${failures.join("; ")}`]),
        ...(screamProblem ? [screamProblem] : []),
      ];
      const fallback = problems.length === 0 ? null : problems.join("; ");
      const adaptation = await createAdaptation(config, bundle, log);
      return {
        classifier,
        screams,
        adaptation,
        labels: bundle.meta.labels,
        fallback,
        info: { name: bundle.meta.name, version: bundle.meta.version, sha256: bundle.sha256 },
        dispose: () => {
          adaptation?.save().catch((err: unknown) => log.warn({ err: (err as Error).message }, "cannot save adaptation statistics"));
          dispose();
        },
      };
    },
    createIndicator: options.indicator ?? ((config) => createIndicator(config, clock, log)),
    createMqtt: async (settings, model) => {
      if (!settings.mqtt.enabled || settings.mqtt.url === null) return null;
      const password = await mqttPassword(settings.mqtt);
      const m = settings.mqtt;
      const tls = {
        ...(m.tls.ca ? { caPath: m.tls.ca } : {}),
        ...(m.tls.cert ? { certPath: m.tls.cert } : {}),
        ...(m.tls.key ? { keyPath: m.tls.key } : {}),
        rejectUnauthorized: m.tls.reject_unauthorized,
      };
      // Which machine this is (in the state, so two units with one id can be told apart), and the board for HA.
      const machineId = await readMachineId();
      const hwVersion = await readBoardModel();
      return new MqttSink(
        {
          url: m.url!,
          clientId: m.client_id,
          ...(m.username ? { username: m.username } : {}),
          ...(password ? { password } : {}),
          ...(m.url!.startsWith("mqtts:") ? { tls } : {}),
          topicRoot: m.topic_root,
          deviceId: settings.device_id,
          discovery: { enabled: m.discovery.enabled, prefix: m.discovery.prefix },
          telemetry: { enabled: m.telemetry_interval_s > 0 },
          model,
          stateDir: settings.state_dir,
          outbox: { maxEvents: m.outbox.max_events, maxBytes: m.outbox.max_bytes },
          keepaliveS: m.keepalive_s,
          softwareVersion: options.softwareVersion,
          unit: { host: hostname(), machine: machineId === null ? "" : machineSuffix(machineId) },
          ...(hwVersion ? { hwVersion } : {}),
          ...(options.mqttConnectWaitMs !== undefined ? { connectWaitMs: options.mqttConnectWaitMs } : {}),
        },
        { clock, log },
      );
    },
    reloadConfig: () => loadConfig({ path: options.configPath, env: options.env, hostname: hostname() }),
    ...(options.stateDir === undefined ? {} : { alertJournal: fileAlertJournal(options.stateDir, log) }),
    createStatusSocket: (config, provider) =>
      new StatusSocketServer({ path: config.status_socket, deviceId: config.device_id, version: options.softwareVersion }, { provider, clock, log }),
    createStatusPage: (config, provider) =>
      options.statusPage === false || !config.http.enabled
        ? null
        : new StatusHttpServer({ http: config.http, deviceId: config.device_id, version: options.softwareVersion }, { provider, clock, log }),
  };
}
