/**
 * The one label map: what every label of every corpus in ../shared/data means to earwitness.
 *
 * Corpus manifests name what a recording is (`angry`, `arousal_high`, `scream`, `cough`, …);
 * a model is trained on *classes*. Four kinds of label exist:
 *
 *  - **emotion**: the shared speech-emotion vocabulary (LABEL_VOCABULARY);
 *  - **arousal**: BAVED's levels of expressed emotion (`arousal_low`, `arousal_high`): speech whose
 *    emotion is not named, so neither an emotion class nor danger;
 *  - **scream**: danger, always;
 *  - **sound**: anything a home hears that is not speech emotion (infant cries, laughter, coughs,
 *    kitchen, street, TV news, snoring, …): never danger.
 *
 * `none` (emospeech keywords said without an emotion) is known and carries no class: such rows are
 * skipped, counted, never an error. Any other label is an error naming the row, so a typo in an
 * emotion manifest (`angy`) cannot silently become a harmless "sound".
 *
 * A *class set* maps labels to a model's classes:
 *  - `emotions` (the papers' tables): the labels given (default the six emotions), as they are;
 *  - `home` (the detector): the six emotions plus `surprised` (a high-arousal negative),
 *    `scream` and `sound`; `calm` and `boredom` count as `neutral` (both are low-arousal,
 *    non-danger speech, and `calm` is most of emospeech), every sound label as `sound`.
 *    Danger: angry, fear, scream.
 *  - `danger` (a danger-vs-rest detector, e.g. the logistic-regression floor): two classes,
 *    `danger` (angry, fear, scream) and `safe` (every other emotion and every sound); arousal
 *    levels are left out (an aroused Arabic word is neither).
 */
import { LABEL_VOCABULARY } from "./constants.js";

export const AROUSAL_LABELS = ["arousal_low", "arousal_high"] as const;
export const SCREAM_LABEL = "scream";
/** The class every non-speech sound maps to in the `home` class set. */
export const SOUND_CLASS = "sound";
/** Known labels that carry no class (skipped, counted). */
export const UNLABELLED = ["none"] as const;

/** Every sound label of the corpora in ../shared/data (README there), each not danger. */
export const SOUND_LABELS = [
  // donateacry
  "infant_cry",
  // kitchen20
  "blender", "boiling_water", "book", "chopping", "clean_dishes", "cupboard", "cutlery", "dishwasher", "eat",
  "fridge", "frying_pan", "juicer", "microwave", "peel", "plates", "pour", "stove_burner", "stove_fan",
  "sweep", "water_flowing",
  // sased (DCASE 2016 office); `speech` there is unlabelled conversation, not an emotion
  "throat_clearing", "cough", "laughter", "speech", "door_slam", "drawer", "keyboard", "knock", "pageturn", "phone",
  "keys_drop",
  // esc10
  "dog_bark", "rain", "sea_waves", "baby_cry", "clock_tick", "person_sneeze", "helicopter", "chainsaw",
  "rooster", "fire_crackling",
  // urbansound
  "air_conditioner", "car_horn", "children_playing", "drilling", "engine_idling", "gun_shot", "jackhammer",
  "siren", "street_music",
  // snoring
  "snoring", "household",
] as const;

export type LabelKind = "emotion" | "arousal" | "scream" | "sound" | "unlabelled";

const KIND = new Map<string, LabelKind>([
  ...LABEL_VOCABULARY.map((l) => [l, "emotion"] as const),
  ...AROUSAL_LABELS.map((l) => [l, "arousal"] as const),
  [SCREAM_LABEL, "scream"] as const,
  ...SOUND_LABELS.map((l) => [l, "sound"] as const),
  ...UNLABELLED.map((l) => [l, "unlabelled"] as const),
]);

/** The kind of a manifest label, or null for a label no corpus here uses. */
export function labelKind(label: string): LabelKind | null {
  return KIND.get(label) ?? null;
}

export const DANGER_CLASS = "danger";
export const SAFE_CLASS = "safe";

/** Every label a model may output and a config may call danger. */
export const OUTPUT_LABELS = [...LABEL_VOCABULARY, SCREAM_LABEL, SOUND_CLASS, DANGER_CLASS, SAFE_CLASS] as const;

export type ClassSetName = "emotions" | "home" | "danger";
export const CLASS_SETS: readonly ClassSetName[] = ["emotions", "home", "danger"];

export const HOME_CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprised", SCREAM_LABEL, SOUND_CLASS] as const;
export const HOME_DANGER = ["angry", "fear", SCREAM_LABEL] as const;

/** Labels of the home class set that stand for another class. */
const HOME_ALIASES: Record<string, string> = { calm: "neutral", boredom: "neutral" };

/** A model's classes and how each manifest label maps onto them. */
export interface ClassSet {
  name: ClassSetName;
  classes: string[];
  danger: string[];
  /** The class of a manifest label, or null when the set has no place for it (the row is left out). */
  classOf(label: string): string | null;
}

/**
 * `emotions`: `labels` as given (default: the six emotions), each its own class; `home`: see the
 * header. `danger` defaults to angry+fear (emotions) or angry+fear+scream (home).
 */
export function classSet(name: ClassSetName, labels?: string[], danger?: string[]): ClassSet {
  if (name === "danger") {
    return {
      name,
      classes: [DANGER_CLASS, SAFE_CLASS],
      danger: [DANGER_CLASS],
      classOf(label) {
        const kind = labelKind(label);
        if (kind === "scream") return DANGER_CLASS;
        if (kind === "sound") return SAFE_CLASS;
        if (kind !== "emotion") return null;
        return (HOME_DANGER as readonly string[]).includes(label) ? DANGER_CLASS : SAFE_CLASS;
      },
    };
  }
  if (name === "home") {
    const classes = [...HOME_CLASSES];
    return {
      name,
      classes,
      danger: danger ?? [...HOME_DANGER],
      classOf(label) {
        const kind = labelKind(label);
        if (kind === "sound") return SOUND_CLASS;
        if (kind === "scream") return SCREAM_LABEL;
        if (kind !== "emotion") return null;
        const c = HOME_ALIASES[label] ?? label;
        return classes.includes(c as (typeof HOME_CLASSES)[number]) ? c : null;
      },
    };
  }
  const classes = labels ?? ["angry", "disgust", "fear", "happy", "neutral", "sad"];
  const set = new Set(classes);
  return {
    name,
    classes,
    danger: danger ?? ["angry", "fear"],
    classOf: (label) => (set.has(label) ? label : null),
  };
}

/**
 * The emotions a model's danger classes stand for, for building and scoring streams: the
 * emotions among them as they are, and angry and fear for the `danger` class of a danger-vs-rest
 * model. (Screams are danger whatever a model outputs: isDangerLabel.)
 */
export function dangerEmotionsOf(dangerClasses: readonly string[]): string[] {
  const out = new Set<string>();
  for (const c of dangerClasses) {
    if (c === DANGER_CLASS) HOME_DANGER.filter((l) => l !== SCREAM_LABEL).forEach((l) => out.add(l));
    else if (labelKind(c) === "emotion") out.add(c);
  }
  return [...out];
}

/** Is a manifest label danger for streams and reports? Emotions by the given danger classes, screams always. */
export function isDangerLabel(label: string, dangerClasses: readonly string[]): boolean {
  const kind = labelKind(label);
  if (kind === "scream") return true;
  if (kind === "emotion") return dangerClasses.includes(label);
  return false;
}
