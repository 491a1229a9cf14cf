import { loadAudioFile } from "../audio/load.js";
import { Resampler } from "../audio/resample.js";
import { describeError } from "../errors.js";
import { extractSteps } from "../features/extract.js";
import { statsOfSteps, type AdaptedStats } from "../features/normalise.js";
import { CLIP_HOP_MS, staticDims, stepsPer } from "../features/spec.js";
import type { Logger } from "../log.js";
import { selectBackend } from "../model/backend.js";
import { loadBundle } from "../model/bundle.js";
import { meanProbs } from "../model/classifier.js";
import { createClassifier } from "../daemon/build.js";
import { padTo, } from "../train/augment.js";
import { sliceWindow, windowStarts } from "../train/dataset.js";
import { windowSamples, type ClipFeatures } from "../train/feature-cache.js";
import { readManifest } from "../train/manifest.js";
import { evaluatePredictions, formatClassificationReport, formatConfusion, recallAtPrecision, type EvalReport } from "../train/metrics.js";
import { Rng } from "../train/random.js";
import { parse, progressBar, UsageError } from "./args.js";
import { shippedModelDir } from "./paths.js";

export const EVAL_HELP = `earwitness eval — measure a model bundle on labelled recordings

  --model DIR        model bundle (default: the shipped model)
  --manifest CSV     columns path,label[,speaker]; labels from the shared vocabulary
  --root DIR         base for relative paths (default: the manifest's folder)
  --adapt speaker    also report with per-speaker adaptation: each clip normalised with the
                     statistics of its speaker's other clips (labels unused), as a unit adapts
                     to its wearer over hours
  --json             one JSON object on stdout
`;

interface Scored {
  truth: number;
  probs: Float32Array;
}

export async function evalCommand(argv: string[], log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: "string" },
    manifest: { type: "string" },
    root: { type: "string" },
    adapt: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  if (!v.manifest) throw new UsageError("--manifest CSV is required");
  if (v.adapt !== undefined && v.adapt !== "speaker") throw new UsageError(`--adapt takes only "speaker" (got ${String(v.adapt)})`);
  await selectBackend();
  const bundle = await loadBundle((v.model as string | undefined) ?? shippedModelDir());
  // The lean engine for recurrent bundles (same outputs within 1e-4, ~7x faster), tfjs otherwise.
  const { classifier: clf, dispose } = createClassifier(bundle);
  const { meta } = bundle;
  const spec = meta.features;
  const rows = await readManifest(String(v.manifest), v.root as string | undefined);
  const labelIndex = new Map(meta.labels.map((l, i) => [l, i]));
  const usable = rows.filter((r) => labelIndex.has(r.label));
  let skipped = rows.length - usable.length;
  const unreadable: string[] = [];
  const clips: ClipFeatures[] = [];
  const bar = progressBar();
  const t0 = performance.now();
  const resampler = new Resampler();
  for (const [i, row] of usable.entries()) {
    try {
      // Seeded padding noise, as in training: the same file always gives the same features.
      const audio = padTo(await loadAudioFile(row.file, resampler), windowSamples(spec), new Rng(i + 1));
      const { steps, data } = extractSteps(spec, audio);
      clips.push({ row, variant: 0, steps, data });
    } catch (err) {
      skipped++;
      unreadable.push(`${row.file}: ${describeError(err)}`);
    }
    bar(`features ${i + 1}/${usable.length}`, (i + 1) / usable.length);
  }
  bar.done();
  resampler.close();
  for (const u of unreadable.slice(0, 10)) log.warn(`skipped ${u}`);
  if (unreadable.length > 10) log.warn(`… and ${unreadable.length - 10} more unreadable files`);

  const hop = stepsPer(spec, CLIP_HOP_MS);
  const score = (adaptedOf: (c: ClipFeatures, i: number) => AdaptedStats | null): Scored[] =>
    clips.map((c, i) => {
      const wins = windowStarts(c.steps, spec.windowSteps, hop).map((s) => sliceWindow(spec, c, s));
      return { truth: labelIndex.get(c.row.label)!, probs: meanProbs(clf.predict(wins, adaptedOf(c, i))) };
    });
  const plain = score(() => null);
  const report = (scored: Scored[]): EvalReport & { danger: EvalReport["danger"] & { recall_at_precision_0_8: number } } => {
    const r = evaluatePredictions(meta.labels, scored, meta.danger, 0.5, skipped);
    const dIdx = meta.danger.map((d) => labelIndex.get(d)!);
    const scores = scored.map((s) => dIdx.reduce((a, k) => a + s.probs[k]!, 0));
    const pos = scored.map((s) => dIdx.includes(s.truth));
    return { ...r, danger: { ...r.danger, recall_at_precision_0_8: recallAtPrecision(scores, pos, 0.8).recall } };
  };
  const base = report(plain);
  let adapted: ReturnType<typeof report> | null = null;
  if (v.adapt === "speaker") {
    // Leave-one-out speaker statistics: a clip never informs its own normalisation.
    const S = staticDims(spec);
    const bySpeaker = new Map<string, number[]>();
    clips.forEach((c, i) => {
      const k = c.row.speaker ?? `file:${c.row.file}`;
      bySpeaker.set(k, [...(bySpeaker.get(k) ?? []), i]);
    });
    adapted = report(
      score((c, i) => {
        const others = (bySpeaker.get(c.row.speaker ?? `file:${c.row.file}`) ?? []).filter((j) => j !== i);
        return others.length > 0 ? statsOfSteps(S, others.map((j) => clips[j]!.data)) : null;
      }),
    );
    if (spec.norm !== "speaker") log.warn(`this bundle normalises per ${spec.norm}, so speaker adaptation does not change its input`);
  }
  const seconds = (performance.now() - t0) / 1000;
  dispose();
  if (v.json) {
    process.stdout.write(JSON.stringify(adapted ? { ...base, adapted } : base) + "\n");
    return 0;
  }
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
  const lines = [
    `model ${meta.name} ${meta.version} (${meta.architecture.arch}), ${base.files} files scored, ${base.skipped} skipped, ${seconds.toFixed(1)} s`,
    "",
    formatClassificationReport(base),
    "",
    formatConfusion(base),
    "",
    `accuracy ${pct(base.accuracy)}   macro recall (UAR) ${pct(base.macro_recall)}`,
    `danger (${meta.danger.join("+")}) vs rest: recall ${base.danger.recall.toFixed(3)} precision ${base.danger.precision.toFixed(3)} at score ≥ 0.5; AUC ${base.danger.auc.toFixed(3)}; recall at precision ≥ 0.8: ${base.danger.recall_at_precision_0_8.toFixed(3)}`,
  ];
  if (adapted) {
    lines.push(
      `with speaker adaptation: accuracy ${pct(adapted.accuracy)}   macro recall ${pct(adapted.macro_recall)}   danger recall ${adapted.danger.recall.toFixed(3)} precision ${adapted.danger.precision.toFixed(3)} AUC ${adapted.danger.auc.toFixed(3)}`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
