/**
 * `earwitness demo`: the whole daemon on a recording, on any machine. The same `Daemon` the
 * service runs, with three stand-ins chosen explicitly (never as fallbacks, STYLE.md §2): the
 * recording instead of the microphone, an in-process MQTT broker (aedes) instead of the home's,
 * and the console instead of the LED and buzzer. A plain MQTT subscriber prints the alert as a
 * home-automation hub would receive it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { loadAudioFile } from "../audio/load.js";
import { systemClock } from "../clock.js";
import { parseConfig } from "../config/load.js";
import { SAMPLE_RATE_HZ } from "../constants.js";
import { FileAudioSource } from "../audio/source.js";
import { createDaemonDeps, Daemon, TEST_ALERT_MS } from "../daemon/daemon.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { createConsoleIndicator } from "../outputs/gpio/console-indicator.js";
import type { AlertPayload } from "../outputs/mqtt/contract.js";
import { startLocalBroker } from "../outputs/mqtt/local-broker.js";
import { num, parse } from "./args.js";
import { packageRoot } from "../assemble/paths.js";
import { softwareVersion } from "./run-command.js";

export const DEMO_HELP = `earwitness demo — the full pipeline on a short recording, no hardware needed

  --speed X    play the recording X times faster than real time (default 1)
  --file WAV   another recording (default: demo/demo.wav)
  --model DIR  another model bundle (default: the shipped model)

Prints the LED and buzzer as they switch, and each alert as an MQTT subscriber receives it.
Exit code 0 when an alert arrived, 1 when none did.
`;

const DEVICE_ID = "demo";

export async function demoCommand(argv: string[], log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    speed: { type: "string" },
    file: { type: "string" },
    model: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  const speed = v.speed === undefined ? 1 : num(v.speed, "speed", { min: 0.1, max: 100 });
  const file = path.resolve((v.file as string | undefined) ?? path.join(packageRoot(), "demo", "demo.wav"));
  const say = (line: string): boolean => process.stdout.write(`${line}\n`);
  // The daemon's own logs would bury the story; only errors get through.
  log.level = "error";

  const samples = await loadAudioFile(file);
  const stateDir = await mkdtemp(path.join(tmpdir(), "earwitness-demo-"));
  const broker = await startLocalBroker();
  let subscriber: MqttClient | null = null;
  let daemon: Daemon | null = null;
  try {
    const parsed = parseConfig(null, {
      env: {},
      hostname: DEVICE_ID,
      overrides: {
        device_id: DEVICE_ID,
        state_dir: stateDir,
        log_level: "error",
        gpio: { driver: "console" },
        mqtt: { enabled: true, url: broker.url, telemetry_interval_s: 0, discovery: { enabled: false } },
        ...(v.model ? { model: { dir: path.resolve(v.model as string) } } : {}),
      },
    });
    if (!parsed.ok) throw new ConfigError("INVALID_CONFIG", `demo configuration: ${parsed.issues.join("; ")}`, { issues: parsed.issues });
    const config = parsed.config;

    const source = new FileAudioSource({ samples, speed }, { clock: systemClock, log });
    const at = (ms: number): string => `[${(Math.max(0, ms) / 1000).toFixed(1).padStart(5)} s]`;
    /** Where in the recording we are now. */
    const recordingNowMs = (): number => (systemClock.nowMs() - source.startedAtMs) * speed;

    const alertTopic = `earwitness/${DEVICE_ID}/alert`;
    subscriber = await connectAsync(broker.url, { clientId: "demo-subscriber", protocolVersion: 4, reconnectPeriod: 500 });
    await subscriber.subscribeAsync(alertTopic, { qos: 1 });
    let alerts = 0;
    let ended = 0;
    subscriber.on("message", (_topic, payload) => {
      let a: AlertPayload;
      try {
        a = JSON.parse(payload.toString("utf8")) as AlertPayload;
      } catch {
        return;
      }
      if (a.test) return;
      const startRec = Date.parse(a.started_at) - source.startedAtMs;
      if (a.event === "start") {
        alerts++;
        say(`${at(recordingNowMs())} MQTT ${alertTopic} received: ALERT START  ${a.emotion}  peak ${a.peak.toFixed(2)}  (danger heard from ${(startRec / 1000).toFixed(1)} s)`);
        say(`${" ".repeat(10)}alert_id ${a.alert_id}, model ${a.model.name} ${a.model.version}`);
      } else {
        ended++;
        say(`${at(recordingNowMs())} MQTT ${alertTopic} received: ALERT END    after ${a.duration_s.toFixed(1)} s`);
      }
    });

    const deps = createDaemonDeps({
      clock: systemClock,
      log,
      env: {},
      softwareVersion: softwareVersion(),
      statusPage: false,
      source: () => source,
      indicator: async () =>
        createConsoleIndicator({
          clock: systemClock,
          log,
          // The lines are switched off once when the daemon starts, before the recording plays: not news.
          write: (line) => source.startedAtMs > 0 && say(`${at(recordingNowMs())} ${line}`),
          // One steady tone instead of a printed line every half second.
          options: { buzzerPatternMs: [1000, 0], heartbeat: false, testAlertMs: TEST_ALERT_MS },
        }).indicator,
    });
    const d = new Daemon(config, deps);
    daemon = d;
    const done = new Promise<void>((resolve) => source.onEnd(resolve));

    say(`earwitness demo: ${path.basename(file)}, ${(samples.length / SAMPLE_RATE_HZ).toFixed(1)} s, played at ${speed}x`);
    await d.start();
    const model = d.snapshot();
    say(`  the daemon listens (model loaded, ${model.armed ? "armed" : "disarmed"}); an MQTT subscriber waits on ${alertTopic}`);
    say(`  (a console LED and buzzer stand in for the GPIO lines)`);
    await done;
    // The recording is over: stop ends an alert still open and delivers what is in the outbox.
    await d.stop();
    daemon = null;
    const deadline = Date.now() + 3_000;
    while (ended < alerts && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    say(alerts > 0 ? `done: ${alerts} alert${alerts === 1 ? "" : "s"} received over MQTT.` : "done: no alert was received.");
    return alerts > 0 ? 0 : 1;
  } finally {
    await daemon?.stop().catch(() => undefined);
    await subscriber?.endAsync(true).catch(() => undefined);
    await broker.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
