import path from "node:path";
import { DEFAULT_FEATURE_SPEC, type FeatureSpec } from "../features/spec.js";
import type { Logger } from "../log.js";
import { DEFAULT_AUGMENT } from "../train/augment.js";
import { extractCorpus } from "../train/feature-cache.js";
import { readCorpusDir } from "../train/manifest.js";
import type { Progress } from "../report/progress.js";
import { num, parse, UsageError } from "./args.js";
import { defaultCacheDir, loadNoises } from "./corpus-options.js";

export const FEATURES_HELP = `earwitness features — extract and cache features of corpora before training

  --data DIR      corpus directory with manifest.csv (repeatable)
  --augment N     augmented copies per clip as train will use them (default 2)
  --noise DIR     noise recordings for augmentation (as given to train)
  --images        the CNNs' features (mel bands only) instead of the GRUs'
  --pitch         with the prosody features (periodicity and log F0), as train --pitch
  --cache DIR     feature cache (default ~/.cache/earwitness/features)
`;

export async function featuresCommand(argv: string[], log: Logger, progress: Progress): Promise<number> {
  const { values: v } = parse(argv, {
    data: { type: "string", multiple: true },
    augment: { type: "string", default: "2" },
    noise: { type: "string" },
    images: { type: "boolean", default: false },
    pitch: { type: "boolean", default: false },
    cache: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(FEATURES_HELP);
    return 0;
  }
  const dirs = (v.data as string[] | undefined) ?? [];
  if (dirs.length === 0) throw new UsageError("--data DIR is required");
  if (v.images && v.pitch) throw new UsageError("--pitch applies to the GRUs' features, not --images");
  const spec: FeatureSpec = v.images ? { ...DEFAULT_FEATURE_SPEC, deltas: false, energy: false } : { ...DEFAULT_FEATURE_SPEC, ...(v.pitch ? { pitch: true } : {}) };
  for (const dir of dirs) {
    const rows = await readCorpusDir(dir);
    const task = progress.start(`features ${path.basename(dir)}`, rows.length, "clips");
    const t0 = performance.now();
    const { clips, skipped } = await extractCorpus(rows, spec, {
      cacheDir: (v.cache as string | undefined) ?? defaultCacheDir(),
      augmentedCopies: num(v.augment, "augment", { integer: true, min: 0 }),
      augment: { ...DEFAULT_AUGMENT, noises: await loadNoises(v.noise as string | undefined) },
      seed: 1,
      log,
      onProgress: (d, t) => task.update(d, undefined, t),
    });
    task.finish();
    log.info({ corpus: dir, clips: clips.length, skipped: skipped.length, seconds: Math.round((performance.now() - t0) / 1000) }, "features cached");
  }
  return 0;
}
