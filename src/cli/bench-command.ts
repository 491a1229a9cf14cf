import * as tf from "@tensorflow/tfjs";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { runPerformance, roundDeep, type PerformanceResults } from "../bench/performance.js";
import { mergeQuality, runQuality, testSpeakersOf, validationSpeakersOf, type QualityOptions, type QualityResults } from "../bench/quality.js";
import { verifyBundleFiles } from "../model/bundle.js";
import { measurePublishLatency, type PublishLatencyResults } from "../bench/publish-latency.js";
import { chooseSetting, DEFAULT_SWEEP_GRID, DEFAULT_TARGETS, describeResult, describeSetting, kindFront, paretoFront, runPairSweep, runScreamSweep, runSweep, screamSettingAsConfig, screamSweepSettings, settingAsConfig, sweepSettings, withMargin, passesAcceptance, type Acceptance, type SweepGrid, type SweepResult, type Targets } from "../bench/sweep.js";
import { formatPerformance, formatPublishLatency, formatQuality, formatSweep, loadAverage, machineInfo, type MachineInfo, type SweepReport } from "../bench/report.js";
import { detectParamsFromConfig, screamBranchFromConfig } from "../config/detect-params.js";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { checkModelFitsConfig, loadBundleForEngine, resolveModelDir } from "../assemble/model.js";
import type { Logger } from "../log.js";
import type { Progress } from "../report/progress.js";
import { streamTimelines, sweepParetoSvg } from "../report/run-plots.js";
import { writePictures } from "./pictures.js";
import { num, parse, UsageError } from "./args.js";
import { loadNoises } from "./corpus-options.js";
import { loadAudioFile } from "../audio/load.js";
import { packageRoot, shippedModelDir } from "../assemble/paths.js";
import YAML from "yaml";

export const BENCH_HELP = `earwitness bench — speed, latency, memory and detection quality on this machine

Performance (default): the shipped model as the daemon runs it, fed an hour of synthetic speech as
fast as the CPU allows, and beside it the float and uint8 bundles, the stock tfjs GRU layer, and
tfjs on every backend that loads vs the lean engine. Pinned to one core with taskset when present.

  --json            print the results as JSON instead of tables
  --out FILE        results file (default: bench/results.json in the package)
  --model DIR       bundle to measure (default: models/earwitness-gru, or a stand-in of its shape)
  --config FILE     configuration (detect parameters; default as for run)
  --hours N         audio through the shipped configuration (default 1)
  --cpu N           core to pin to (default 0); --no-pin to run unpinned
  --broker URL      measure alert publishing against this broker (default: aedes in-process)
  --state-dir DIR   where the outbox fsyncs during that measurement (default: a temp dir; on a
                    device, its real state directory's storage)
  --alerts N        alerts published for the measurement (default 50)

Detection quality: --streams DIR... builds seeded streams from corpus directories (manifest.csv),
runs them through the replay pipeline and scores the alerts.

  --streams DIR     corpus directory (speech or sound corpus); repeat for several
  --mix RECIPE      per-corpus (default): speech streams, one set per directory;
                    home: streams mixing every directory's calm speech, non-speech sounds,
                    danger passages of 3–30 s and screams; sounds: non-verbal sounds with
                    screams among them (docs/detection.md has both recipes); home+sounds:
                    --per-dir home streams and half as many sound streams (the held-out checks'
                    6 and 3), to tune on both
  --held-out        only the corpora the model left out of training (training.test_corpora):
                    streams a model was never trained on
  --held-out-of DIR the same with the split another bundle records (e.g. to score the shipped
                    model on a leave-corpora-out run's streams)
  --validation-of DIR  only the validation speakers and recordings a leave-corpora-out bundle
                    records (training.validation_groups): where detector settings are tuned
                    (--sweep --write-config) before the check on the held-out streams
  --fold DIR        tune on folds (repeat, one per fold; needs the scream branch on): DIR is the
                    scream branch's model trained without some of the corpora (train
                    --test-corpus); its streams are built from those corpora only and scored by
                    the speech model beside DIR, and every fold's streams are swept together — so
                    settings are chosen on corpora the models never heard, as a unit meets a
                    home. A clip the speech model trained on is refused. Replaces --held-out,
                    --held-out-of, --validation-of and --speakers
  --except-held-out-of DIR  never a clip the bundle in DIR holds out (with --fold: keep the
                    final check's recordings out of the tuning streams)
  --noise DIR       background noise WAVs (default: white noise)
  --work DIR        where streams and their timelines go (default: a temp dir, removed afterwards)
  --speakers LIST   only these speakers (comma-separated), or "test" / "validation" for the
                    bundle's test or validation speakers (neither was trained on)
  --stream-minutes N  length of each stream (default 20)
  --per-dir N       streams per corpus directory, or per mix (default 3)
  --seed N          stream seed (default 1)
  --grace S         an alert up to S seconds after a passage ends still catches it (default 4)
  --perf            with --streams, also run the performance part
  --sweep           also replay the streams' danger scores through every detector setting of a
                    grid (smoothing, thresholds, k of n, minimum duration, cooldown), print the
                    Pareto front and the setting the rule in docs/detection.md picks
  --sweep-branch B  speech (default): vary the detect settings; screams: keep them and vary the
                    scream branch's (detect.screams, which must be on), each replayed as the pair;
                    pair: every pair of settings on the two branches' own fronts, replayed together
  --sweep-cooldown LIST  the cooldowns (seconds, comma-separated) the sweep may choose from
                    (default 10,30,120); --sweep-cooldown 10 holds it at the shipped default, so a
                    setting cannot buy fewer false alerts by staying deaf for minutes after each
  --sweep-margin D  hold each setting to the false-alert target with its thresholds D lower (as
                    if every window scored D higher; 0–0.5, default 0): for tuning streams the
                    model heard the like of, which score lower than a home's strangers; of
                    settings that catch alike, the one with most room is taken
  --sweep-acceptance FILE=N  (repeat) only settings under which the recording FILE raises exactly
                    N alerts may be chosen, replayed with the same models — e.g.
                    demo/demo.wav=1 demo/calm.wav=0, what the shipped defaults must do there
  --target-fa X --target-caught Y   the targets that rule uses (default 0.5 per hour, 0.9)
  --write-config FILE  with --sweep, write the chosen setting as a config file (a detect section),
                    to check it on other speakers: bench --streams … --config FILE
  --plots DIR       where the pictures of --streams go (SVG, open them in a browser; default:
                    plots/ beside the results file, e.g. bench/plots/):
                      timeline-<stream>.svg  per stream: raw and smoothed danger score, the
                                             enter/exit thresholds, true danger passages (caught
                                             or missed) and the alerts raised
                      sweep-pareto.svg       with --sweep: every setting's false alerts per hour
                                             against danger caught, the Pareto front, the chosen
                                             setting and the targets
`;

const PIN_ENV = "EARWITNESS_BENCH_PINNED";

/** The sweep's grid, its cooldowns replaced by --sweep-cooldown's (seconds) when given. */
function sweepGridOf(cooldowns: string | undefined): SweepGrid {
  if (cooldowns === undefined) return DEFAULT_SWEEP_GRID;
  const seconds = cooldowns.split(",").map((x) => x.trim());
  const ms = seconds.map((x) => {
    const n = Number(x);
    if (x === "" || !Number.isFinite(n) || n < 0 || n > 3600) throw new UsageError(`--sweep-cooldown: "${x}" is not a cooldown in seconds (0–3600); give e.g. 10 or 10,30,120`);
    return Math.round(n * 1000);
  });
  return { ...DEFAULT_SWEEP_GRID, cooldownMs: [...new Set(ms)] };
}

/** Re-runs this command under `taskset -c CPU`; null when taskset is not there. */
async function reexecPinned(cpu: number): Promise<number | null> {
  if (spawnSync("taskset", ["-V"], { stdio: "ignore" }).status !== 0) return null;
  const script = process.argv[1]!;
  const child = spawn("taskset", ["-c", String(cpu), process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, [PIN_ENV]: String(cpu) },
  });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

export async function benchCommand(argv: string[], log: Logger, progress: Progress): Promise<number> {
  const { values: v } = parse(argv, {
    json: { type: "boolean", default: false },
    out: { type: "string" },
    model: { type: "string" },
    config: { type: "string" },
    hours: { type: "string", default: "1" },
    cpu: { type: "string", default: "0" },
    broker: { type: "string" },
    "state-dir": { type: "string" },
    alerts: { type: "string", default: "50" },
    "no-pin": { type: "boolean", default: false },
    streams: { type: "string", multiple: true },
    noise: { type: "string" },
    work: { type: "string" },
    speakers: { type: "string" },
    mix: { type: "string", default: "per-corpus" },
    "held-out": { type: "boolean", default: false },
    "held-out-of": { type: "string" },
    "validation-of": { type: "string" },
    fold: { type: "string", multiple: true },
    "except-held-out-of": { type: "string" },
    "stream-minutes": { type: "string", default: "20" },
    "per-dir": { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
    grace: { type: "string", default: "4" },
    perf: { type: "boolean", default: false },
    sweep: { type: "boolean", default: false },
    "sweep-branch": { type: "string", default: "speech" },
    "sweep-cooldown": { type: "string" },
    "sweep-margin": { type: "string" },
    "sweep-acceptance": { type: "string", multiple: true },
    "write-config": { type: "string" },
    plots: { type: "string" },
    "target-fa": { type: "string", default: String(DEFAULT_TARGETS.maxFalsePerHour) },
    "target-caught": { type: "string", default: String(DEFAULT_TARGETS.minCaught) },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  const hours = num(v.hours, "hours", { min: 0.01, max: 24 });
  const cpu = num(v.cpu, "cpu", { min: 0, integer: true });
  const streamDirs = (v.streams as string[] | undefined) ?? [];
  const streamMinutes = num(v["stream-minutes"], "stream-minutes", { min: 0.5, max: 600 });
  const perDir = num(v["per-dir"], "per-dir", { min: 1, max: 100, integer: true });
  const seed = num(v.seed, "seed", { min: 0, integer: true });
  const grace = num(v.grace, "grace", { min: 0, max: 60 });
  for (const d of streamDirs) if (!existsSync(path.join(d, "manifest.csv"))) throw new UsageError(`--streams ${d}: no manifest.csv there`);
  if ((v.sweep || v["write-config"]) && streamDirs.length === 0) throw new UsageError("--sweep needs --streams DIR");
  if (v["write-config"] && !v.sweep) throw new UsageError("--write-config needs --sweep");
  if (v["sweep-cooldown"] !== undefined && !v.sweep) throw new UsageError("--sweep-cooldown needs --sweep");
  if (v["sweep-margin"] !== undefined && !v.sweep) throw new UsageError("--sweep-margin needs --sweep");
  const margin = v["sweep-margin"] === undefined ? 0 : num(v["sweep-margin"], "sweep-margin", { min: 0, max: 0.5 });
  const acceptanceSpecs = ((v["sweep-acceptance"] as string[] | undefined) ?? []).map((x) => {
    const m = /^(.+)=(\d+)$/.exec(x);
    if (!m || Number(m[2]) > 100) throw new UsageError(`--sweep-acceptance: "${x}" is not FILE=N (a recording and the alerts it must raise, e.g. demo/demo.wav=1)`);
    if (!existsSync(m[1]!)) throw new UsageError(`--sweep-acceptance: no file ${m[1]}`);
    return { file: m[1]!, alerts: Number(m[2]) };
  });
  if (acceptanceSpecs.length > 0 && !v.sweep) throw new UsageError("--sweep-acceptance needs --sweep");
  if (acceptanceSpecs.length > 0 && (v.fold as string[] | undefined)?.length) throw new UsageError("--sweep-acceptance checks the models that will run; --fold scores streams with other scream models: tune on folds, then check the choice on its own");
  const sweepBranch = String(v["sweep-branch"]) as "speech" | "screams" | "pair";
  if (sweepBranch !== "speech" && sweepBranch !== "screams" && sweepBranch !== "pair") throw new UsageError(`--sweep-branch must be speech, screams or pair (got ${sweepBranch})`);
  const grid = sweepGridOf(v["sweep-cooldown"] as string | undefined);
  const folds = (v.fold as string[] | undefined) ?? [];
  if (folds.length > 0) {
    if (streamDirs.length === 0) throw new UsageError("--fold needs --streams DIR (the corpora the folds left out)");
    const clash = (["held-out", "held-out-of", "validation-of", "speakers"] as const).filter((k) => v[k]);
    if (clash.length > 0) throw new UsageError(`--fold builds each fold's streams from the corpora its model left out: drop ${clash.map((k) => `--${k}`).join(", ")}`);
  }
  const mix = String(v.mix);
  if (mix !== "per-corpus" && mix !== "home" && mix !== "sounds" && mix !== "home+sounds") throw new UsageError(`--mix must be per-corpus, home, sounds or home+sounds (got ${mix})`);

  if (!v["no-pin"] && process.env[PIN_ENV] === undefined) {
    const code = await reexecPinned(cpu);
    if (code !== null) return code;
    log.warn("taskset not found: running unpinned (figures then depend on how the OS spreads the work)");
  }

  const machine: MachineInfo = machineInfo(tf.version.tfjs);
  const started = Date.now();
  const say = (msg: string): void => {
    if (v.json) log.info(msg);
    else progress.say(msg);
  };
  const config = await loadConfig({ path: v.config as string | undefined, env: process.env, hostname: hostname() });
  const detect = detectParamsFromConfig(config.detect);
  const outFile = (v.out as string | undefined) ?? path.join(packageRoot(), "bench", "results.json");
  const scratch = await mkdtemp(path.join(tmpdir(), "earwitness-bench-"));
  let perf: PerformanceResults | null = null;
  let publish: PublishLatencyResults | null = null;
  let quality: QualityResults | null = null;
  let sweep: SweepReport | null = null;
  let sweepResults: SweepResult[] = [];
  const targets: Targets = {
    maxFalsePerHour: num(v["target-fa"], "target-fa", { min: 0 }),
    minCaught: num(v["target-caught"], "target-caught", { min: 0, max: 1 }),
  };
  try {
    if (streamDirs.length === 0 || v.perf) {
      const modelDir = (v.model as string | undefined) ?? shippedModelDir();
      perf = await runPerformance({
        shippedDir: existsSync(modelDir) ? modelDir : null,
        workDir: scratch,
        detect,
        config,
        longSeconds: Math.round(hours * 3600),
        variantSeconds: { lean: 120, wasm: 60, node: 60, cpu: 10 },
        chunkSamples: 1600,
        log: say,
        progress,
      });
      say("publish latency: alerts through the MQTT sink's outbox to a subscriber…");
      publish = await measurePublishLatency({
        brokerUrl: (v.broker as string | undefined) ?? null,
        alerts: num(v.alerts, "alerts", { min: 1, max: 10_000, integer: true }),
        stateDir: (v["state-dir"] as string | undefined) ?? null,
        log,
      });
    }
    if (streamDirs.length > 0) {
      if (folds.length > 0 && !config.detect.screams.enabled) throw new UsageError("--fold puts each fold's model in the scream branch: turn it on (detect.screams.enabled: true in --config)");
      // As the daemon loads it (runQuality runs it and disposes it).
      const speechDir = await resolveModelDir(config, v.model as string | undefined);
      const bundle = await loadBundleForEngine(speechDir, config.model.backend);
      checkModelFitsConfig(config, bundle);
      let speakers: Set<string> | null = null;
      const sp = v.speakers as string | undefined;
      if (sp === "test" || sp === "validation") {
        const list = sp === "test" ? testSpeakersOf(bundle) : validationSpeakersOf(bundle);
        if (!list) throw new UsageError(`--speakers ${sp}: bundle ${bundle.meta.name} lists no ${sp} speakers in training.split`);
        speakers = new Set(list);
      } else if (sp) speakers = new Set(sp.split(",").map((s) => s.trim()).filter(Boolean));
      let heldOutOf: QualityOptions["heldOutOf"] = null;
      if (v["held-out"] || v["held-out-of"]) {
        const of = v["held-out-of"] ? (await verifyBundleFiles(String(v["held-out-of"]))).meta : bundle.meta;
        const left = of.training["test_corpora"];
        if (!Array.isArray(left) || left.length === 0) {
          throw new UsageError(`--held-out: bundle ${of.name} ${of.version} left no corpus out of training (training.test_corpora)`);
        }
        heldOutOf = of;
      }
      let validationOf: QualityOptions["validationOf"] = null;
      if (v["validation-of"]) {
        const of = (await verifyBundleFiles(String(v["validation-of"]))).meta;
        if (!Array.isArray(of.training["validation_groups"])) {
          throw new UsageError(`--validation-of: bundle ${of.name} ${of.version} records no validation groups (a leave-corpora-out run does)`);
        }
        validationOf = of;
      }
      const exceptHeldOutOf = v["except-held-out-of"] ? (await verifyBundleFiles(String(v["except-held-out-of"]))).meta : null;
      const workDir = (v.work as string | undefined) ?? path.join(scratch, "streams");
      const common = {
        corpusDirs: streamDirs,
        noises: (await loadNoises(v.noise as string | undefined)).map((samples, i) => ({ name: `noise-${i}`, samples })),
        streamsPerDir: perDir,
        streamSeconds: streamMinutes * 60,
        seed,
        mix,
        graceS: grace,
        exceptHeldOutOf,
        log: say,
        progress,
      } as const;
      const acceptanceAudio = [];
      for (const a of acceptanceSpecs) acceptanceAudio.push({ name: a.file, samples: await loadAudioFile(a.file) });
      if (folds.length === 0) quality = await runQuality({ ...common, workDir, config, bundle, speakers, heldOutOf, validationOf, acceptance: acceptanceAudio });
      else {
        // runQuality disposes the speech model it runs: each fold loads its own.
        bundle.dispose();
        const parts: QualityResults[] = [];
        for (const [i, dir] of folds.entries()) {
          const of = (await verifyBundleFiles(dir)).meta;
          const left = of.training["test_corpora"];
          if (!Array.isArray(left) || left.length === 0) throw new UsageError(`--fold ${dir}: bundle ${of.name} left no corpus out of training (train it with --test-corpus)`);
          say(`fold ${i + 1} of ${folds.length}: ${dir} (left out: ${left.join(" ")})`);
          const foldConfig: Config = { ...config, detect: { ...config.detect, screams: { ...config.detect.screams, model_dir: path.resolve(dir) } } };
          const speech = await loadBundleForEngine(speechDir, config.model.backend);
          parts.push(
            await runQuality({
              ...common,
              workDir: path.join(workDir, `fold${i + 1}`),
              config: foldConfig,
              bundle: speech,
              speakers: null,
              heldOutOf: of,
              validationOf: null,
              refuseHeardBySpeech: true,
              label: `fold${i + 1}`,
              requireScreams: true,
            }),
          );
        }
        quality = mergeQuality(parts);
      }
      if (v.sweep) {
        const screams = sweepBranch === "screams";
        const pair = sweepBranch === "pair";
        if ((screams || pair) && !config.detect.screams.enabled) throw new UsageError(`--sweep-branch ${sweepBranch} needs the scream branch on (detect.screams.enabled: true in --config)`);
        const speech = { ...detect, smoothing: detect.smoothing };
        const settings = screams ? screamSweepSettings(speech, grid) : sweepSettings(grid);
        say(`sweep: replaying ${settings.length} ${screams ? "scream-branch" : "detector"} settings over ${quality.traces.length} stream(s)${pair ? ", then every pair on the two branches' fronts" : ""}…`);
        // The speech sweep keeps a configured scream branch beside every setting (the pair is what runs).
        const screamBranch = screamBranchFromConfig(config.detect);
        const configuredScream = screamBranch && quality.traces.some((t) => t.points.some((p) => p.scream !== undefined)) ? { ...screamBranch.alert, smoothing: screamBranch.smoothing } : null;
        const swept = pair
          ? runPairSweep(quality.traces, detect, settings, grid, grace)
          : screams
            ? runScreamSweep(quality.traces, detect, speech, settings, grace)
            : runSweep(quality.traces, detect, settings, grace, configuredScream);
        if (margin > 0) say(`sweep: replaying each setting again with its thresholds ${margin} lower (--sweep-margin)…`);
        const results = withMargin(quality.traces, detect, swept, grace, margin, sweepBranch, { speech, scream: configuredScream });
        sweepResults = results;
        let eligible: SweepResult[] = results;
        let acceptance: SweepReport["acceptance"];
        if (acceptanceSpecs.length > 0) {
          const recordings: Acceptance[] = acceptanceSpecs.map((a, i) => ({ name: a.file, alerts: a.alerts, points: quality!.acceptance?.[i]?.points ?? [] }));
          eligible = results.filter((r) => passesAcceptance(detect, r, recordings, sweepBranch, { speech, scream: configuredScream }));
          acceptance = { recordings: acceptanceSpecs.map((a) => ({ file: a.file, alerts: a.alerts })), eligible: eligible.length };
          say(`sweep: ${eligible.length} of ${results.length} settings raise the alerts the acceptance recordings ask for`);
          if (eligible.length === 0) {
            throw new Error(`no swept setting raises exactly ${acceptanceSpecs.map((a) => `${a.alerts} alert(s) on ${a.file}`).join(" and ")}; nothing chosen`);
          }
        }
        const choice = chooseSetting(eligible, targets);
        const current = config.detect.screams.enabled ? `${describeSetting(detect)}; screams: ${describeScreamBranch(config)}` : describeSetting(detect);
        sweep = {
          branch: sweepBranch,
          pair: pair || screams || configuredScream !== null,
          settings: results.length,
          targets,
          current: { setting: current, summary: quality.summary },
          front: paretoFront(results),
          kind_front: kindFront(results),
          ...(acceptance ? { acceptance } : {}),
          choice: choice
            ? {
                setting: choice.result.setting,
                ...(choice.result.scream ? { scream: choice.result.scream } : {}),
                summary: choice.result.summary,
                ...(choice.result.margin ? { margin: choice.result.margin } : {}),
                rule: acceptance ? `${choice.rule}; among the ${acceptance.eligible} settings that pass the acceptance recordings` : choice.rule,
                meets_targets: choice.meetsTargets,
                config: pair
                  ? { ...settingAsConfig(choice.result.setting), screams: screamSettingAsConfig(choice.result.scream!) }
                  : screams
                    ? screamSettingAsConfig(choice.result.setting)
                    : settingAsConfig(choice.result.setting),
              }
            : null,
        };
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  machine.loadavg_end = loadAverage();

  // Keep the other part's figures when only one part ran.
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(await readFile(outFile, "utf8")) as Record<string, unknown>;
  } catch {
    // first run
  }
  const results = {
    ...previous,
    ...(perf ? { ...roundDeep(perf), performance_machine: machine } : {}),
    ...(publish ? { publish_latency: roundDeep(publish) } : {}),
    ...(quality ? { quality: roundDeep({ ...quality, traces: undefined, scores: undefined }), folds: folds.length > 0 ? folds : undefined, quality_machine: machine } : {}),
    ...(sweep ? { sweep: roundDeep(sweep) } : {}),
    machine,
    finished: new Date().toISOString(),
    duration_s: Math.round((Date.now() - started) / 1000),
  };
  const writeConfig = v["write-config"] as string | undefined;
  if (writeConfig && sweep?.choice) {
    const header =
      `# Detector settings chosen by earwitness bench --sweep (${sweep.choice.rule}).\n` +
      `# Tuning streams: ${folds.length > 0 ? `folds ${folds.join(" ")}` : quality?.speakers ? `speakers ${quality.speakers.join(" ")}` : "all speakers"}; ` +
      `${sweep.choice.summary.false_alerts_per_h.toFixed(2)} false alerts/h, ${(sweep.choice.summary.caught_share * 100).toFixed(1)} % caught there` +
      `${sweep.choice.margin ? ` (${sweep.choice.margin.false_alerts_per_h.toFixed(2)} false alerts/h with thresholds ${sweep.choice.margin.by} lower)` : ""}.\n`;
    // A scream-branch choice keeps the speech branch it was chosen beside.
    const section = sweep.branch === "screams" ? { ...settingAsConfig(detect), screams: sweep.choice.config } : sweep.choice.config;
    await writeFile(writeConfig, header + YAML.stringify({ detect: section }));
  }
  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, JSON.stringify(results, null, 2) + "\n");
  let pictures: string[] = [];
  if (quality) {
    const plotsDir = (v.plots as string | undefined) ?? path.join(path.dirname(outFile), "plots");
    const streams = quality.streams.map((s, i) => ({ name: path.basename(s.wav, ".wav"), trace: quality!.traces[i]!, alerts: s.alerts }));
    const files = streamTimelines(streams, detect, grace);
    if (sweep) files["sweep-pareto.svg"] = sweepParetoSvg(sweepResults, sweep, (r) => describeResult(r));
    pictures = await writePictures(plotsDir, files);
  }
  if (v.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  else {
    if (perf) process.stdout.write(formatPerformance(perf, machine));
    if (publish) process.stdout.write("\n" + formatPublishLatency(publish));
    if (quality) process.stdout.write("\n" + formatQuality(quality));
    if (sweep) process.stdout.write("\n" + formatSweep(sweep));
    if (writeConfig) process.stdout.write(`\nchosen setting written to ${writeConfig}\n`);
    if (pictures.length > 0) process.stdout.write(`\npictures: ${pictures.length} SVG file(s) in ${path.dirname(pictures[0]!)}\n`);
    process.stdout.write(`\nresults: ${outFile} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  }
  return 0;
}

/** The configured scream branch in a sweep's words. */
function describeScreamBranch(config: Config): string {
  const b = screamBranchFromConfig(config.detect);
  if (!b) return "off";
  return describeSetting({ ...b.alert, smoothing: b.smoothing }).replace(/, hold .*$/, "");
}
