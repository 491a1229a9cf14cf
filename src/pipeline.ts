import { AnyBranchDetector, type BranchInput, type BranchSpec } from "./detect/any-branch.js";
import { dangerScore, dominantDangerEmotion } from "./detect/danger.js";
import type { DetectParams } from "./detect/params.js";
import type { DetectEvent } from "./detect/state-machine.js";
import { ConfigError } from "./errors.js";
import { StepExtractor } from "./features/extract.js";
import type { AdaptedStats } from "./features/normalise.js";
import { staticDims, stepMs, stepSamples, type FeatureSpec } from "./features/spec.js";
import type { DetectorStateName } from "./outputs/sink.js";
import { SCREAM_LABEL, SOUND_CLASS } from "./label-map.js";

/**
 * The one streaming object from audio to decisions (STYLE.md: the daemon, the demo, replay, eval
 * and the benchmark all use it). Two halves, so the daemon can put a bounded queue between them:
 *
 * - front end, `pushAudio`: samples → feature steps → a window every hop, with its level; cheap,
 *   runs on the capture path;
 * - back end, `classify` + `decide`: the network (skipped for windows below the energy gate) →
 *   danger score → smoother → alert state machine. With a scream branch configured, a second
 *   network runs on the same windows and its scream class is a second danger score with its own
 *   smoother and state machine; an alert of either is the one alert (src/detect/any-branch.ts).
 *
 * Results depend only on the samples, never on how they were chunked (tested).
 */
export interface WindowClassifier {
  readonly labels: string[];
  readonly spec: FeatureSpec;
  predict(stepsWindows: Float32Array[], adapted?: AdaptedStats | null): Float32Array[];
}

export interface WindowJob {
  /** 0, 1, 2 … in stream order. */
  index: number;
  /** Time of the window's end, in ms on the pipeline's clock (startMs + audio time). */
  tMs: number;
  /** T × staticDims static steps (a copy: safe to queue). */
  steps: Float32Array;
  /** Level of the window's audio, dBFS (full-scale square wave = 0). */
  dbfs: number;
  /** Below the energy gate: no inference, score 0. */
  gated: boolean;
}

/** What `classify` hands to `decide` for one window: null when the window was gated. */
export type WindowProbs = {
  probs: Float32Array;
  /** The scream branch's model's probabilities (its labels' order); null without a scream branch. */
  screamProbs: Float32Array | null;
} | null;

/** The scream branch's view of one window. */
export interface ScreamBranchResult {
  probs: Record<string, number> | null;
  /** Its raw danger: the scream probability (0 when gated). */
  danger: number;
  /** After its smoother: what its state machine saw. */
  smoothed: number;
}

export interface WindowResult {
  index: number;
  tMs: number;
  dbfs: number;
  probs: Record<string, number> | null;
  /** Raw danger score of this window (0 when gated; weighed by the scream model's "not a sound" with detect.screams.gate_speech). */
  danger: number;
  /** After smoothing: what the state machine saw (the speech branch's, with a scream branch). */
  smoothed: number;
  emotion: string | null;
  /** The scream branch's scores; null without one. */
  screams: ScreamBranchResult | null;
  /** The decision of all branches together. */
  state: DetectorStateName;
  sinceMs: number;
  events: DetectEvent[];
}

export interface PipelineOptions {
  classifier: WindowClassifier;
  detect: DetectParams;
  /** Time of the first sample, ms (epoch ms in the daemon, 0 in replay). */
  startMs: number;
  /** Statistics of what this unit has heard, for bundles normalised per speaker. */
  adaptation?: { current(): AdaptedStats | null; observe(step: Float32Array): void } | null;
  /**
   * A second model heard on the same windows, whose `scream` class is the danger of a branch of
   * its own (config detect.screams; config/detect-params.ts screamBranchFromConfig). It must read
   * the same features. It runs unadapted: the wearer's statistics are the speech model's.
   */
  screams?: {
    classifier: WindowClassifier;
    branch: BranchSpec;
    /** Weigh the speech branch's danger by 1 − the scream model's `sound` probability (detect.screams.gate_speech). */
    gateSpeech?: boolean;
  } | null;
}

const LEVEL_FLOOR_DBFS = -120;

function asRecord(labels: readonly string[], probs: Float32Array): Record<string, number> {
  return Object.fromEntries(labels.map((l, i) => [l, probs[i]!]));
}

export class Pipeline {
  readonly spec: FeatureSpec;
  readonly hopSteps: number;
  private readonly opts: PipelineOptions;
  // Front-end state: moved, not copied, to a successor (see successor()).
  private extractor: StepExtractor;
  private readonly S: number;
  private readonly T: number;
  private ring: Float32Array;
  private energyRing: Float64Array;
  private stepsSeen = 0;
  private stepsSinceWindow = 0;
  private windowIndex = 0;
  private readonly detector: AnyBranchDetector;

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.spec = opts.classifier.spec;
    this.S = staticDims(this.spec);
    this.T = this.spec.windowSteps;
    const hop = opts.detect.hopMs / stepMs(this.spec);
    if (!Number.isInteger(Math.round(hop * 1e6) / 1e6) || hop < 1) {
      const step = stepMs(this.spec);
      throw new ConfigError("HOP_OFF_GRID", `detect hop ${opts.detect.hopMs} ms must be a whole number of ${step} ms feature steps of this model; set detect.hop_s to a multiple of ${step / 1000} s`);
    }
    this.hopSteps = Math.round(hop);
    this.extractor = new StepExtractor(this.spec);
    this.ring = new Float32Array(this.T * this.S);
    this.energyRing = new Float64Array(this.T);
    const branches: BranchSpec[] = [{ name: "speech", alert: opts.detect, smoothing: opts.detect.smoothing }];
    if (opts.screams) {
      const other = opts.screams.classifier;
      if (JSON.stringify(other.spec) !== JSON.stringify(this.spec)) {
        throw new ConfigError("SCREAM_MODEL_MISMATCH", "the scream branch's model reads other features than the speech model; both must analyse the same windows: use a scream model trained on the speech model's feature spec");
      }
      if (!other.labels.includes(SCREAM_LABEL)) {
        throw new ConfigError("SCREAM_MODEL_MISMATCH", `the scream branch's model has no "${SCREAM_LABEL}" class (its labels: ${other.labels.join(", ")}); point detect.screams.model_dir at a home model`);
      }
      branches.push(opts.screams.branch);
    }
    // Cooldown and max duration are the alert's, whichever branch raised it (any-branch.ts).
    this.detector = new AnyBranchDetector(branches, { cooldownMs: opts.detect.cooldownMs, maxAlertMs: opts.detect.maxAlertMs }, opts.startMs);
  }

  get state(): DetectorStateName {
    return this.detector.state;
  }

  /**
   * A pipeline with another model or other detection settings that continues this one's audio:
   * the feature history (extractor state, the last window's steps and levels, window numbering)
   * moves over, so after a reload the next window is decided at the next hop instead of after a
   * fresh 3 s fill — no blind gap. Only when the new model reads the same features; otherwise
   * null (the caller starts afresh). The decision half (smoother, state machine) is new. This
   * pipeline must not be used afterwards.
   */
  successor(opts: Omit<PipelineOptions, "startMs">): Pipeline | null {
    if (JSON.stringify(opts.classifier.spec) !== JSON.stringify(this.spec)) return null;
    const next = new Pipeline({ ...opts, startMs: this.opts.startMs });
    next.extractor = this.extractor;
    next.ring = this.ring;
    next.energyRing = this.energyRing;
    next.stepsSeen = this.stepsSeen;
    next.stepsSinceWindow = this.stepsSinceWindow;
    next.windowIndex = this.windowIndex;
    return next;
  }

  /** Front end: returns the windows these samples completed. */
  pushAudio(samples: Float32Array): WindowJob[] {
    const jobs: WindowJob[] = [];
    for (const { step, power } of this.extractor.pushWithPower(samples)) {
      this.energyRing[this.stepsSeen % this.T] = power;
      // Shift the ring left by one step and append (T is small: 60 × 41 floats).
      this.ring.copyWithin(0, this.S);
      this.ring.set(step, (this.T - 1) * this.S);
      this.stepsSeen++;
      this.stepsSinceWindow++;
      if (this.stepsSeen >= this.T && (this.stepsSeen === this.T || this.stepsSinceWindow >= this.hopSteps)) {
        this.stepsSinceWindow = 0;
        const dbfs = this.windowDbfs();
        const gated = dbfs < this.opts.detect.energyGateDbfs;
        jobs.push({
          index: this.windowIndex++,
          tMs: this.opts.startMs + (this.stepsSeen * stepSamples(this.spec) * 1000) / this.spec.sampleRateHz,
          steps: this.ring.slice(),
          dbfs,
          gated,
        });
      }
      if (this.opts.adaptation) this.maybeObserve(step);
    }
    return jobs;
  }

  /** Back end, inference: probabilities for the jobs that passed the gate (null for gated ones). */
  classify(jobs: WindowJob[]): WindowProbs[] {
    const live = jobs.filter((j) => !j.gated);
    if (live.length === 0) return jobs.map(() => null);
    const steps = live.map((j) => j.steps);
    const probs = this.opts.classifier.predict(steps, this.opts.adaptation?.current() ?? null);
    const screamProbs = this.opts.screams ? this.opts.screams.classifier.predict(steps, null) : null;
    let k = 0;
    return jobs.map((j) => {
      if (j.gated) return null;
      const i = k++;
      return { probs: probs[i]!, screamProbs: screamProbs ? screamProbs[i]! : null };
    });
  }

  /** Back end, decision: one call per window, in order. */
  decide(job: WindowJob, classified: WindowProbs): WindowResult {
    const p = classified ? asRecord(this.opts.classifier.labels, classified.probs) : null;
    const weights = this.opts.detect.dangerWeights;
    let sp: Record<string, number> | null = null;
    let screamDanger = 0;
    if (this.opts.screams) {
      sp = classified?.screamProbs ? asRecord(this.opts.screams.classifier.labels, classified.screamProbs) : null;
      screamDanger = sp ? dangerScore(sp, this.opts.screams.branch.alert.dangerWeights) : 0;
    }
    // With gateSpeech, the speech branch counts a window only as far as the home model hears no
    // other sound in it: a crying baby or a clattering kitchen is not an angry voice.
    const gate = this.opts.screams?.gateSpeech && sp ? 1 - Math.min(1, Math.max(0, sp[SOUND_CLASS] ?? 0)) : 1;
    const danger = p ? dangerScore(p, weights) * gate : 0;
    const inputs: BranchInput[] = [p ? { danger, probs: p } : { danger }];
    if (this.opts.screams) inputs.push(sp ? { danger: screamDanger, probs: sp } : { danger: screamDanger });
    const r = this.detector.step(job.tMs, inputs);
    const smoothed = r.branches[0]!.smoothed;
    return {
      index: job.index,
      tMs: job.tMs,
      dbfs: job.dbfs,
      probs: p,
      danger,
      smoothed,
      emotion: p ? dominantDangerEmotion(p, weights) : null,
      screams: this.opts.screams ? { probs: sp, danger: screamDanger, smoothed: r.branches[1]!.smoothed } : null,
      state: r.state,
      sinceMs: r.sinceMs,
      events: r.events,
    };
  }

  /** Everything at once (replay, eval, benchmarks): samples in, one result per window out. */
  process(samples: Float32Array): WindowResult[] {
    const jobs = this.pushAudio(samples);
    const probs = this.classify(jobs);
    return jobs.map((j, i) => this.decide(j, probs[i]!));
  }

  /** Disarm: back to IDLE, ending an open alert. */
  reset(tMs: number): DetectEvent[] {
    return this.detector.reset(tMs).events;
  }

  /** Mean power of the last T steps (the window's audio), in dBFS. */
  private windowDbfs(): number {
    const n = Math.min(this.T, this.stepsSeen);
    if (n === 0) return LEVEL_FLOOR_DBFS;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.energyRing[i]!;
    const db = 10 * Math.log10(sum / n);
    return Number.isFinite(db) ? Math.max(LEVEL_FLOOR_DBFS, db) : LEVEL_FLOOR_DBFS;
  }

  /** Adaptation hears only voiced, non-silent steps: the last step's block above the gate. */
  private maybeObserve(step: Float32Array): void {
    const last = this.energyRing[(this.stepsSeen - 1) % this.T] ?? 0;
    if (10 * Math.log10(last + 1e-20) >= this.opts.detect.energyGateDbfs) this.opts.adaptation!.observe(step);
  }
}
