import type { DetectParams } from "../detect/params.js";
import { Pipeline, type PipelineOptions, type WindowClassifier } from "../pipeline.js";
import { MB, nowMs, summarise, type Summary } from "./stats.js";
import { SyntheticSpeech } from "./synthetic.js";

export interface MemorySample {
  audio_s: number;
  rss_mb: number;
  heap_mb: number;
}

export interface PipelineRunOptions {
  classifier: WindowClassifier;
  detect: DetectParams;
  /** The scream branch and the speaker adaptation, as the daemon's pipeline has them (pipelineOptions); none by default. */
  screams?: PipelineOptions["screams"];
  adaptation?: PipelineOptions["adaptation"];
  /** Audio fed, seconds (fed as fast as the CPU allows). */
  audioSeconds: number;
  /** Capture chunk, samples: the daemon's audio arrives in ~100 ms chunks. */
  chunkSamples: number;
  seed: number;
  /** Audio at the start whose timings are dropped (JIT and caches warm up), seconds. */
  warmupSeconds: number;
  /** Take a memory sample every this many seconds of audio (0: only after warm-up and at the end). */
  memoryEverySec?: number;
  /** Called now and then with the fraction done (progress display). */
  progress?: (fraction: number) => void;
}

export interface PipelineRun {
  audio_s: number;
  /** Windows after warm-up, and how many of them passed the energy gate (were inferred). */
  windows: number;
  inferred: number;
  /** Front end (framing, FFT, mel, windowing, level), ms of CPU per second of audio. */
  features_ms_per_audio_s: number;
  /** classify() of one window (normalisation + network). */
  infer_ms_per_window: Summary;
  infer_ms_per_audio_s: number;
  /** decide() of one window (score, smoother, state machine). */
  decide_ms_per_window: number;
  /** Processing time / audio time, front end + inference + decision. */
  rtf: number;
  /**
   * From handing the pipeline the capture chunk that completes a window to that window's decision:
   * the chunk's front end, the inference of any earlier window of the same chunk, this window's
   * inference and decision. Capture buffering (up to one chunk) comes on top on a device.
   */
  decision_latency_ms: Summary;
  memory: MemorySample[];
  /** Wall time of the run, seconds (includes generating the synthetic audio). */
  wall_s: number;
}

function memorySample(audioS: number): MemorySample {
  const m = process.memoryUsage();
  return { audio_s: Math.round(audioS), rss_mb: m.rss / MB, heap_mb: m.heapUsed / MB };
}

/** Feeds synthetic speech through one Pipeline, chunk by chunk, timing each stage. */
export function runPipeline(o: PipelineRunOptions): PipelineRun {
  const started = nowMs();
  const pipeline = new Pipeline({ classifier: o.classifier, detect: o.detect, startMs: 0, screams: o.screams ?? null, adaptation: o.adaptation ?? null });
  const audio = new SyntheticSpeech(o.seed, o.chunkSamples);
  const chunkS = o.chunkSamples / 16000;
  const totalChunks = Math.ceil(o.audioSeconds / chunkS);
  const warmChunks = Math.ceil(o.warmupSeconds / chunkS);
  const memEvery = o.memoryEverySec && o.memoryEverySec > 0 ? Math.max(1, Math.round(o.memoryEverySec / chunkS)) : 0;
  const infer: number[] = [];
  const latency: number[] = [];
  let featureMs = 0;
  let decideMs = 0;
  let inferMs = 0;
  let windows = 0;
  const memory: MemorySample[] = [];
  for (let c = 0; c < totalChunks; c++) {
    const samples = audio.next();
    const measured = c >= warmChunks;
    const t0 = nowMs();
    const jobs = pipeline.pushAudio(samples);
    const t1 = nowMs();
    let t = t1;
    for (const job of jobs) {
      const probs = pipeline.classify([job]);
      const tc = nowMs();
      pipeline.decide(job, probs[0]!);
      const td = nowMs();
      if (measured) {
        windows++;
        if (!job.gated) infer.push(tc - t);
        inferMs += tc - t;
        decideMs += td - tc;
        latency.push(td - t0);
      }
      t = td;
    }
    if (measured) featureMs += t1 - t0;
    if (c + 1 === warmChunks) memory.push(memorySample((c + 1) * chunkS));
    else if (memEvery > 0 && measured && (c + 1 - warmChunks) % memEvery === 0) memory.push(memorySample((c + 1) * chunkS));
    if (o.progress && c % 200 === 0) o.progress(c / totalChunks);
  }
  if (memory[memory.length - 1]?.audio_s !== Math.round(totalChunks * chunkS)) memory.push(memorySample(totalChunks * chunkS));
  const audioS = (totalChunks - warmChunks) * chunkS;
  return {
    audio_s: audioS,
    windows,
    inferred: infer.length,
    features_ms_per_audio_s: featureMs / audioS,
    infer_ms_per_window: summarise(infer),
    infer_ms_per_audio_s: inferMs / audioS,
    decide_ms_per_window: windows ? decideMs / windows : Number.NaN,
    rtf: (featureMs + inferMs + decideMs) / 1000 / audioS,
    decision_latency_ms: summarise(latency),
    memory,
    wall_s: (nowMs() - started) / 1000,
  };
}
