import { hostname } from "node:os";
import { loadAudioFile } from "../audio/load.js";
import { applyToConfigFile, detectUpdate } from "../calibrate/apply.js";
import { calibrationReport, formatCalibration } from "../calibrate/report.js";
import { DEFAULT_TARGET_PER_HOUR, ScoreTraceRecorder } from "../calibrate/simulate.js";
import { systemClock } from "../clock.js";
import { findConfigPath, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { DEFAULT_CONFIG_PATH, SAMPLE_RATE_HZ } from "../constants.js";
import { int16ToFloat } from "../daemon/audio-source.js";
import { buildPipeline, checkModelFitsConfig, loadConfiguredModel } from "../daemon/build.js";
import { createMicrophone } from "../daemon/daemon.js";
import { AudioError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import { EmotionClassifier } from "../model/classifier.js";
import { notifyDaemon } from "../model/store.js";
import { num, parse, progressBar, UsageError } from "./args.js";

export const CALIBRATE_HELP = `earwitness calibrate — tune the alert thresholds to this room's false-alert rate

  --minutes N            listen this long (microphone), or use at most N minutes of the files
  --input FILE           replay a recording instead of listening (repeat for several files)
  --config FILE          configuration (default: ${DEFAULT_CONFIG_PATH} if present, else defaults)
  --target-per-hour X    the false-alert rate to stay within (default ${DEFAULT_TARGET_PER_HOUR})
  --apply                write the recommended settings into the config file (a .bak copy is kept)
                         and ask a running daemon to reload
  --json                 print the report as JSON

Records the danger score of every window through the daemon's own pipeline (no audio is kept),
then replays the alert state machine over it for enter_threshold 0.40-0.90 (exit = enter - 0.2)
and k/n 2/3, 3/5, 4/6, 6/8, 8/10, 10/12, and recommends the most sensitive setting at or below the target.
Calibrate at ordinary times (TV, cooking, visitors): every alert heard counts as a false one.
Listening needs the microphone: stop the daemon first (sudo systemctl stop earwitness), and know
that the unit does not protect anyone while it is stopped.
`;

export async function calibrateCommand(argv: string[], log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    minutes: { type: "string" },
    input: { type: "string", multiple: true },
    config: { type: "string" },
    "target-per-hour": { type: "string" },
    apply: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(CALIBRATE_HELP);
    return 0;
  }
  const files = (v.input as string[] | undefined) ?? [];
  const minutes = v.minutes === undefined ? null : num(v.minutes, "minutes", { min: 0.1, max: 7 * 24 * 60 });
  if (files.length === 0 && minutes === null) throw new UsageError("give --minutes N to listen, or --input FILE to replay a recording");
  const target = v["target-per-hour"] === undefined ? DEFAULT_TARGET_PER_HOUR : num(v["target-per-hour"], "target-per-hour", { min: 0 });
  const configPath = await findConfigPath(v.config as string | undefined);
  const config = await loadConfig({ path: configPath ?? undefined, env: process.env, hostname: hostname() });
  if (v.apply && configPath === null && v.config === undefined) {
    log.warn(`no config file at ${DEFAULT_CONFIG_PATH}: --apply will create it with only the detect settings`);
  }

  const bundle = await loadConfiguredModel(config);
  checkModelFitsConfig(config, bundle);
  const classifier = new EmotionClassifier(bundle);
  const recorder = new ScoreTraceRecorder();
  const maxMs = minutes === null ? Infinity : minutes * 60_000;
  try {
    if (files.length > 0) await replayFiles(files, config, classifier, recorder, maxMs);
    else await listen(config, classifier, recorder, maxMs, log);
  } finally {
    classifier.dispose();
  }
  const trace = recorder.trace();
  if (trace.audioMs === 0) throw new AudioError("NO_AUDIO", "no audio was heard; nothing to calibrate");
  const report = calibrationReport(trace, config.detect, target);
  if (v.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(formatCalibration(report));

  if (!v.apply) return 0;
  if (!report.recommended) {
    process.stderr.write("earwitness calibrate: nothing applied: no setting meets the target\n");
    return 1;
  }
  const path = configPath ?? (v.config as string | undefined) ?? DEFAULT_CONFIG_PATH;
  const backup = await applyToConfigFile(path, detectUpdate(report.recommended), hostname());
  process.stderr.write(`applied to ${path}${backup ? ` (previous file kept as ${backup})` : ""}\n`);
  const notified = await notifyDaemon(config.state_dir);
  process.stderr.write(
    notified.status === "notified"
      ? `the running daemon (pid ${notified.pid}) reloads its configuration now\n`
      : `no running daemon was told (${notified.reason}); the settings apply at its next start or reload (systemctl reload earwitness)\n`,
  );
  return 0;
}

async function replayFiles(files: string[], config: Config, classifier: EmotionClassifier, recorder: ScoreTraceRecorder, maxMs: number): Promise<void> {
  const chunk = SAMPLE_RATE_HZ / 2;
  for (const file of files) {
    if (recorder.audioMs >= maxMs) break;
    const audio = await loadAudioFile(file);
    recorder.startSegment(buildPipeline(config, classifier, 0));
    for (let i = 0; i < audio.length && recorder.audioMs < maxMs; i += chunk) {
      const left = Math.floor(((maxMs - recorder.audioMs) * SAMPLE_RATE_HZ) / 1000);
      recorder.push(audio.subarray(i, Math.min(i + chunk, i + left, audio.length)));
    }
  }
}

/** Listens through the configured source until `maxMs` of audio were heard, or Ctrl-C. */
async function listen(config: Config, classifier: EmotionClassifier, recorder: ScoreTraceRecorder, maxMs: number, log: Logger): Promise<void> {
  const mic = createMicrophone({ ...config, audio: { ...config.audio, wait_for_device_s: 0 } }, systemClock, log);
  const bar = progressBar();
  recorder.startSegment(buildPipeline(config, classifier, systemClock.nowMs()));
  let sawAudio = false;
  await new Promise<void>((resolve, reject) => {
    const onSigint = (): void => {
      log.warn("interrupted: calibrating from what was heard so far");
      resolve();
    };
    process.once("SIGINT", onSigint);
    const done = (err?: Error): void => {
      process.removeListener("SIGINT", onSigint);
      if (err) reject(err);
      else resolve();
    };
    mic.onData((samples) => {
      sawAudio = true;
      const left = Math.floor(((maxMs - recorder.audioMs) * SAMPLE_RATE_HZ) / 1000);
      recorder.push(int16ToFloat(samples.subarray(0, Math.max(0, left))));
      bar(`${(recorder.audioMs / 60_000).toFixed(1)} of ${(maxMs / 60_000).toFixed(1)} min`, recorder.audioMs / maxMs);
      if (recorder.audioMs >= maxMs) done();
    });
    mic.onProblem((p) => {
      if (!p.active) return;
      if (!sawAudio && p.code !== "mic_silent" && p.code !== "clipping") {
        done(new AudioError(p.code.toUpperCase(), `${p.message}${p.message.includes("busy") ? "; stop the daemon first (sudo systemctl stop earwitness)" : ""}`));
      } else {
        log.warn({ problem: p.code }, p.message);
      }
    });
    mic.start().catch((err: unknown) => done(err instanceof Error ? err : new Error(describeError(err))));
  }).finally(async () => {
    bar.done();
    await mic.stop();
  });
}
