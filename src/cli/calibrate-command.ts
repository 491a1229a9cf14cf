import { hostname } from "node:os";
import path from "node:path";
import { loadAudioFile } from "../audio/load.js";
import { applyToConfigFile, detectUpdate } from "../calibrate/apply.js";
import type { MixedTrace } from "../calibrate/catches.js";
import { DEFAULT_MIX_SEED, loadBundledPassages, PassageMixer, syntheticRoom } from "../calibrate/danger-mix.js";
import { medianDbfs, traceFromDaemon } from "../calibrate/from-daemon.js";
import { calibrationPictures } from "../calibrate/pictures.js";
import { calibrationReport, formatCalibration, type CalibrationReport, type CatchSource } from "../calibrate/report.js";
import { assertEnoughAudio, MIN_CALIBRATION_MS, sameSetting, ScoreTraceRecorder, type ScoreTrace } from "../calibrate/simulate.js";
import { systemClock } from "../clock.js";
import { findConfigPath, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { DEFAULT_CONFIG_PATH, SAMPLE_RATE_HZ } from "../constants.js";
import { int16ToFloat } from "../audio/source.js";
import { buildPipeline, loadModelHandle, newRunningAdaptation, type OpenModel } from "../assemble/model.js";
import { createMicrophone } from "../assemble/parts.js";
import { SCORE_RING_HOURS } from "../daemon/score-ring.js";
import { connectStatusSocket } from "../status/client.js";
import { AudioError, describeError, OutputError } from "../errors.js";
import type { Logger } from "../log.js";
import { notifyDaemon } from "../status/pid-file.js";
import type { Progress, ProgressStarter } from "../report/progress.js";
import { num, parse, UsageError } from "./args.js";
import { packageRoot } from "../assemble/paths.js";
import { writePictures } from "./pictures.js";

/** --from-daemon: minutes of synthetic room noise the danger passages are mixed into (about ten passages). */
const SYNTHETIC_ROOM_S = 15 * 60;

export const CALIBRATE_HELP = `earwitness calibrate — tune the alert thresholds to this room: false alerts beside misses

  --from-daemon          use the window scores the running daemon remembers (up to ${SCORE_RING_HOURS} h; it
                         keeps protecting, and keeps numbers only, never audio)
  --hours H              with --from-daemon: only the last H hours (default: all it remembers)
  --minutes N            listen this long (microphone; the daemon must be stopped), or use at most
                         N minutes of the files
  --input FILE           replay a recording instead (repeat for several files)
  --config FILE          configuration (default: ${DEFAULT_CONFIG_PATH} if present, else defaults)
  --seed N               where and how loud the danger passages are mixed in (default ${DEFAULT_MIX_SEED})
  --apply                write the recommended settings into the config file (a .bak copy is kept)
                         and ask a running daemon to reload
  --force                calibrate on less than ${MIN_CALIBRATION_MS / 60_000} min of audio, and consider (and --apply)
                         settings more sensitive than the defaults
  --json                 print the report as JSON
  --plots DIR            also draw the candidates into DIR (SVG, open them in a browser; off by
                         default: calibrate writes no file unless asked): calibration.svg, false
                         alerts per hour and share of danger caught against the threshold at the
                         recommended k of n; calibration-k-of-n.svg, the same by k of n at its threshold

For enter_threshold 0.40-0.90 (exit = enter - 0.2) and k/n 2/3, 3/5, 4/6, 6/8, 8/10, 10/12 the
report shows the false alerts per hour the setting would have raised on the room's audio, and
the share of danger passages it caught: the bundled angry sentences (demo/demo.wav) mixed into the
room's audio at speech level every 45-90 s. It recommends the setting with the fewest false
alerts that catches at least as many passages as the defaults; without --force never one more
sensitive than the defaults. With --from-daemon the room's audio was never kept, so the passages
are mixed into steady noise at the room's measured level instead (the report says so).
Calibrate over ordinary life (TV, cooking, visitors): every alert heard counts as a false one.
`;

export async function calibrateCommand(argv: string[], log: Logger, progress: Progress): Promise<number> {
  const { values: v } = parse(argv, {
    "from-daemon": { type: "boolean", default: false },
    hours: { type: "string" },
    minutes: { type: "string" },
    input: { type: "string", multiple: true },
    config: { type: "string" },
    seed: { type: "string" },
    apply: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    plots: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(CALIBRATE_HELP);
    return 0;
  }
  const force = v.force as boolean;
  const fromDaemon = v["from-daemon"] as boolean;
  const files = (v.input as string[] | undefined) ?? [];
  const minutes = v.minutes === undefined ? null : num(v.minutes, "minutes", { min: 0.1, max: 7 * 24 * 60 });
  const hours = v.hours === undefined ? null : num(v.hours, "hours", { min: 0.01, max: SCORE_RING_HOURS });
  const seed = v.seed === undefined ? DEFAULT_MIX_SEED : num(v.seed, "seed", { min: 0, integer: true });
  if ([fromDaemon, files.length > 0, minutes !== null && files.length === 0].filter(Boolean).length !== 1) {
    throw new UsageError("give one of --from-daemon (the running daemon's scores), --minutes N (listen) or --input FILE (a recording)");
  }
  if (hours !== null && !fromDaemon) throw new UsageError("--hours goes with --from-daemon");
  if (files.length === 0 && minutes !== null && minutes * 60_000 < MIN_CALIBRATION_MS && !force) {
    throw new UsageError(`--minutes ${minutes} is under the ${MIN_CALIBRATION_MS / 60_000}-minute minimum; listen longer, or add --force`);
  }
  const configPath = await findConfigPath(v.config as string | undefined);
  const config = await loadConfig({ path: configPath ?? undefined, env: process.env, hostname: hostname() });
  if (v.apply && configPath === null && v.config === undefined) {
    log.warn(`no config file at ${DEFAULT_CONFIG_PATH}: --apply will create it with only the detect settings`);
  }

  const passages = await loadBundledPassages(packageRoot());
  // The daemon's engine and model (src/assemble/model.ts): the scores calibrated are the daemon's.
  // Calibration tunes the speech branch (detect.*); the scream branch keeps its own settings.
  const model = await loadModelHandle(config, undefined, (m) => progress.say(`warning: ${m}`));
  let report: CalibrationReport;
  try {
    if (fromDaemon) {
      const scores = await readDaemonScores(config, hours);
      const trace = traceFromDaemon(scores);
      assertEnoughAudio(trace.audioMs, force);
      const roomDbfs = medianDbfs(scores.dbfs);
      const mixed = scoreMixed(config, model, [syntheticRoom(SYNTHETIC_ROOM_S, roomDbfs, seed)], passages, seed, progress);
      report = reportFor("daemon", trace, mixed, { kind: "synthetic", roomDbfs, seconds: SYNTHETIC_ROOM_S });
    } else {
      const clean = new ScoreTraceRecorder();
      const mixed = new MixedRecorder(passages, seed);
      const maxMs = minutes === null ? Infinity : minutes * 60_000;
      if (files.length > 0) await replayFiles(files, config, model, clean, mixed, maxMs, progress);
      else await listen(config, model, clean, mixed, maxMs, log, progress);
      const trace = clean.trace();
      if (trace.audioMs === 0) throw new AudioError("NO_AUDIO", "no audio was heard; nothing to calibrate");
      assertEnoughAudio(trace.audioMs, force);
      report = reportFor(files.length > 0 ? "recording" : "microphone", trace, mixed.trace(), { kind: "room" });
    }
  } finally {
    model.dispose();
  }
  function reportFor(source: CalibrationReport["source"], trace: ScoreTrace, mixed: MixedTrace, catchSource: CatchSource): CalibrationReport {
    return calibrationReport({ source, trace, mixed, catchSource, seed, detect: config.detect, force });
  }
  const text = v.json ? JSON.stringify(report, null, 2) + "\n" : formatCalibration(report);
  progress.interject(() => void process.stdout.write(text));
  if (v.plots !== undefined) {
    const where = `${config.device_id}, ${model.bundle.meta.name} ${model.bundle.meta.version}`;
    const written = await writePictures(String(v.plots), calibrationPictures(report, where));
    progress.say(`pictures: ${written.join(", ")}`);
  }

  if (!v.apply) return 0;
  if (!report.recommended) {
    progress.say("earwitness calibrate: nothing applied: nothing is known about what a setting would miss");
    return 1;
  }
  if (sameSetting(report.recommended, report.current)) {
    progress.say("earwitness calibrate: nothing applied: the config already has the recommended setting");
    return 0;
  }
  const configFile = configPath ?? (v.config as string | undefined) ?? DEFAULT_CONFIG_PATH;
  const backup = await applyToConfigFile(configFile, detectUpdate(report.recommended), hostname(), { force });
  progress.say(`applied to ${configFile}${backup ? ` (previous file kept as ${backup})` : ""}`);
  const notified = await notifyDaemon(config.state_dir);
  progress.say(
    notified.status === "notified"
      ? `the running daemon (pid ${notified.pid}) reloads its configuration now`
      : `no running daemon was told (${notified.reason}); the settings apply at its next start or reload (systemctl reload earwitness)`,
  );
  return 0;
}

/** The running daemon's remembered window scores, over its status socket (the daemon goes on listening). */
async function readDaemonScores(config: Config, hours: number | null): Promise<{ hopMs: number; tMs: number[]; score: number[]; dbfs: number[] }> {
  let client;
  try {
    client = await connectStatusSocket(config.status_socket);
  } catch (err) {
    throw new OutputError(
      "NO_DAEMON",
      `no daemon answers on ${config.status_socket} (${describeError(err)}): start it (systemctl start earwitness) and let it listen for a while, or calibrate from a recording (--input); run as root or a member of the earwitness group`,
      { cause: err },
    );
  }
  try {
    return await client.scores(hours === null ? -Infinity : systemClock.nowMs() - hours * 3_600_000);
  } finally {
    client.close();
  }
}

/**
 * The same audio as the clean recorder, with the danger passages added (danger-mix.ts), through
 * a pipeline of its own; one mixer per stream. Times start at 0 in each stream.
 */
class MixedRecorder {
  private readonly recorder = new ScoreTraceRecorder();
  private readonly mixers: PassageMixer[] = [];

  constructor(
    private readonly passages: Float32Array[],
    private readonly seed: number,
  ) {}

  startSegment(config: Config, model: OpenModel): void {
    this.recorder.startSegment(buildPipeline(config, model, 0, newRunningAdaptation(config, model.bundle)));
    this.mixers.push(new PassageMixer(this.passages, this.seed + this.mixers.length));
  }

  push(samples: Float32Array): void {
    this.recorder.push(this.mixers[this.mixers.length - 1]!.mix(samples));
  }

  trace(): MixedTrace {
    return { segments: this.recorder.trace().segments, timelines: this.mixers.map((m) => m.timeline()) };
  }
}

/** Scores the danger passages mixed into `rooms` (--from-daemon: the synthetic room). */
function scoreMixed(config: Config, model: OpenModel, rooms: Float32Array[], passages: Float32Array[], seed: number, progress: ProgressStarter): MixedTrace {
  const mixed = new MixedRecorder(passages, seed);
  const chunk = SAMPLE_RATE_HZ / 2;
  const totalS = Math.round(rooms.reduce((n, r) => n + r.length, 0) / SAMPLE_RATE_HZ);
  const task = progress.start("calibrate: danger mixed into noise at the room's level", totalS, "s of audio");
  let doneSamples = 0;
  for (const room of rooms) {
    mixed.startSegment(config, model);
    for (let i = 0; i < room.length; i += chunk) {
      const part = room.subarray(i, i + chunk);
      mixed.push(part);
      doneSamples += part.length;
      task.update(Math.round(doneSamples / SAMPLE_RATE_HZ));
    }
  }
  task.finish();
  return mixed.trace();
}

/**
 * Scores the recordings, each plain and with the danger mixed in. Progress in seconds of audio:
 * files not yet read are assumed as long as those read so far (as `replay` does).
 */
async function replayFiles(files: string[], config: Config, model: OpenModel, recorder: ScoreTraceRecorder, mixed: MixedRecorder, maxMs: number, progress: ProgressStarter): Promise<void> {
  const chunk = SAMPLE_RATE_HZ / 2;
  const task = progress.start("calibrate", 0, "s of audio");
  let knownS = 0;
  for (const [n, file] of files.entries()) {
    if (recorder.audioMs >= maxMs) break;
    const audio = await loadAudioFile(file);
    knownS += audio.length / SAMPLE_RATE_HZ;
    const totalS = Math.min(maxMs / 1000, knownS + (files.length - n - 1) * (knownS / (n + 1)));
    recorder.startSegment(buildPipeline(config, model, 0, newRunningAdaptation(config, model.bundle)));
    mixed.startSegment(config, model);
    for (let i = 0; i < audio.length && recorder.audioMs < maxMs; i += chunk) {
      const left = Math.floor(((maxMs - recorder.audioMs) * SAMPLE_RATE_HZ) / 1000);
      const part = audio.subarray(i, Math.min(i + chunk, i + left, audio.length));
      recorder.push(part);
      mixed.push(part);
      task.update(Math.round(recorder.audioMs / 1000), `file ${n + 1}/${files.length} ${path.basename(file)}`, Math.round(totalS));
    }
  }
  task.finish();
}

/** Listens through the configured source until `maxMs` of audio were heard, or Ctrl-C. */
async function listen(config: Config, model: OpenModel, recorder: ScoreTraceRecorder, mixed: MixedRecorder, maxMs: number, log: Logger, progress: ProgressStarter): Promise<void> {
  const mic = createMicrophone({ ...config, audio: { ...config.audio, wait_for_device_s: 0 } }, systemClock, log);
  const task = progress.start("calibrate: listening", Math.round(maxMs / 1000), "s of audio");
  recorder.startSegment(buildPipeline(config, model, systemClock.nowMs(), newRunningAdaptation(config, model.bundle)));
  mixed.startSegment(config, model);
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
      const part = int16ToFloat(samples.subarray(0, Math.max(0, left)));
      recorder.push(part);
      mixed.push(part);
      task.update(Math.round(recorder.audioMs / 1000));
      if (recorder.audioMs >= maxMs) done();
    });
    mic.onProblem((p) => {
      if (!p.active) return;
      if (!sawAudio && p.code !== "mic_silent" && p.code !== "clipping") {
        done(new AudioError(p.code.toUpperCase(), `${p.message}${p.message.includes("busy") ? "; the daemon has the microphone: calibrate from it instead (earwitness calibrate --from-daemon)" : ""}`));
      } else {
        log.warn({ problem: p.code }, p.message);
      }
    });
    mic.start().catch((err: unknown) => done(err instanceof Error ? err : new Error(describeError(err))));
  }).finally(async () => {
    task.finish();
    await mic.stop();
  });
}
