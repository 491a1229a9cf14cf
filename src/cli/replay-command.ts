import { hostname } from "node:os";
import path from "node:path";
import { loadAudioFile } from "../audio/load.js";
import { loadConfig } from "../config/load.js";
import { buildPipeline, loadModelHandle, newRunningAdaptation } from "../assemble/model.js";
import type { AlertEndEvent } from "../detect/state-machine.js";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { WindowResult } from "../pipeline.js";
import { SAMPLE_RATE_HZ } from "../constants.js";
import type { Progress } from "../report/progress.js";
import { parse, UsageError } from "./args.js";

export const REPLAY_HELP = `earwitness replay FILE... — run recordings through the daemon's pipeline, as fast as the CPU allows

  --config FILE   configuration (default: /etc/earwitness/config.yaml if present, else built-in defaults)
  --model DIR     model bundle (default: the configured or shipped model)
  --json          JSON lines: {"type":"alert","file","start_s","end_s","peak","mean","emotion","probs"}
  --windows       with --json, also one {"type":"window","file","t_s","probs","danger","state"} per window
`;

/** Seconds with millisecond precision. */
const s = (ms: number): number => Math.round(ms) / 1000;

export interface ReplayAlert {
  type: "alert";
  file: string;
  start_s: number;
  end_s: number;
  peak: number;
  mean: number;
  emotion: string;
  probs: Record<string, number>;
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
const roundProbs = (p: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v)]));

export async function replayCommand(argv: string[], log: Logger, progress: Progress): Promise<number> {
  const { values: v, positionals: files } = parse(
    argv,
    {
      config: { type: "string" },
      model: { type: "string" },
      json: { type: "boolean", default: false },
      windows: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
  );
  if (v.help) {
    process.stdout.write(REPLAY_HELP);
    return 0;
  }
  if (files.length === 0) throw new UsageError("give at least one WAV file");
  const config = await loadConfig({ path: v.config as string | undefined, env: process.env, hostname: hostname() });
  // The daemon's engine, scream branch and (fresh) adaptation (src/assemble/model.ts): what replay
  // reports is what a unit that has just started would decide.
  const model = await loadModelHandle(config, v.model as string | undefined, (m) => progress.say(`warning: ${m}`));
  // stdout carries the report; the bar (stderr) steps aside for each line of it.
  const print = (text: string): void => progress.interject(() => void process.stdout.write(text));
  const out = (obj: unknown): void => print(JSON.stringify(obj) + "\n");
  let failed = 0;
  let alerts = 0;
  // Progress in seconds of audio; files not yet read are assumed as long as those read so far.
  const task = progress.start("replay", 0, "s of audio");
  let doneS = 0, knownS = 0, read = 0;
  for (const [n, file] of files.entries()) {
    let audio: Float32Array;
    try {
      audio = await loadAudioFile(file);
    } catch (err) {
      failed++;
      log.error(`cannot replay ${file}: ${describeError(err)}`);
      continue;
    }
    const seconds = audio.length / SAMPLE_RATE_HZ;
    knownS += seconds;
    read++;
    const totalS = knownS + (files.length - n - 1) * (knownS / read);
    const pipeline = buildPipeline(config, model, 0, newRunningAdaptation(config, model.bundle));
    const ends: AlertEndEvent[] = [];
    const onResult = (r: WindowResult): void => {
      for (const e of r.events) if (e.type === "alert_end") ends.push(e);
      if (v.json && v.windows) {
        out({ type: "window", file, t_s: s(r.tMs), probs: r.probs ? roundProbs(r.probs) : null, danger: round(r.danger), ...(r.screams ? { scream: round(r.screams.danger) } : {}), state: r.state });
      }
    };
    // Feed in 0.5 s chunks, as capture would, though the result does not depend on it.
    const chunk = 8000;
    let lastT = 0;
    for (let i = 0; i < audio.length; i += chunk) {
      for (const r of pipeline.process(audio.subarray(i, i + chunk))) {
        onResult(r);
        lastT = r.tMs;
      }
      task.update(Math.round(doneS + Math.min(audio.length, i + chunk) / SAMPLE_RATE_HZ), `file ${n + 1}/${files.length} ${path.basename(file)}`, Math.round(totalS));
    }
    doneS += seconds;
    // An alert still open when the recording ends closes at its last window.
    for (const e of pipeline.reset(lastT)) if (e.type === "alert_end") ends.push(e);
    for (const e of ends) {
      alerts++;
      const a: ReplayAlert = { type: "alert", file, start_s: s(e.startMs), end_s: s(e.endMs), peak: round(e.peak), mean: round(e.mean), emotion: e.emotion, probs: roundProbs(e.probs) };
      if (v.json) out(a);
      else print(`${path.basename(file)}: ALERT ${a.start_s.toFixed(1)}–${a.end_s.toFixed(1)} s  ${a.emotion}  peak ${a.peak.toFixed(2)} mean ${a.mean.toFixed(2)}\n`);
    }
    if (!v.json && ends.length === 0) print(`${path.basename(file)}: no alert (${seconds.toFixed(1)} s)\n`);
  }
  task.finish();
  model.dispose();
  if (!v.json) process.stdout.write(`${files.length - failed} file(s), ${alerts} alert(s)${failed ? `, ${failed} unreadable` : ""}\n`);
  return failed > 0 ? 1 : 0;
}
