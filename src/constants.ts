/** Constants shared by several stages; units in names (STYLE.md §4). */

/** Every stage after decoding works at this rate. */
export const SAMPLE_RATE_HZ = 16_000;

/** Full scale of signed 16-bit PCM, the microphone's format. */
export const INT16_FULL_SCALE = 32_768;

/** Default danger classes (../shared/data/README.md: danger means angry or fear). */
export const DEFAULT_DANGER_LABELS = ["angry", "fear"] as const;

/** The one label vocabulary every corpus manifest uses (../shared/data/README.md). */
export const LABEL_VOCABULARY = [
  "angry",
  "disgust",
  "fear",
  "happy",
  "neutral",
  "sad",
  "boredom",
  "calm",
  "surprised",
] as const;
export type Label = (typeof LABEL_VOCABULARY)[number];

/**
 * ε under the square root of statistics pooling (src/model/stats-pooling.ts), so that a constant
 * feature has a finite gradient; the lean engine (src/model/lean-gru.ts) pools with the same one.
 * Here rather than in stats-pooling.ts because that file imports tfjs and the lean engine must not.
 */
export const STATS_POOLING_EPSILON = 1e-5;

/** Default state directory of an installed unit. */
/** The outbox's smallest byte bound (one alert payload with room to spare); the schema enforces it. */
export const OUTBOX_MIN_BYTES = 4096;
/** A config file larger than this is refused before parsing (a 50 MB value once took 1.9 GB on SIGHUP). */
export const CONFIG_MAX_BYTES = 256 * 1024;

export const DEFAULT_STATE_DIR = "/var/lib/earwitness";
/** Default config file of an installed unit. */
export const DEFAULT_CONFIG_PATH = "/etc/earwitness/config.yaml";
