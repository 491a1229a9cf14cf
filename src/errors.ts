/**
 * Every error earwitness raises on purpose carries a machine-readable code, a message that says
 * what to do, and the cause it wraps (STYLE.md §8). Subclasses name the component to blame.
 */
export class EarwitnessError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Audio input: decoding files, the microphone process, resampling. */
export class AudioError extends EarwitnessError {}
/** Feature extraction and feature specs. */
export class FeatureError extends EarwitnessError {}
/** Model bundles: loading, verifying, saving. */
export class BundleError extends EarwitnessError {}
/** Configuration files, environment and flags. `issues` lists every problem found, each with its path. */
export class ConfigError extends EarwitnessError {
  readonly issues: readonly string[];

  constructor(code: string, message: string, options?: { cause?: unknown; issues?: readonly string[] }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.issues = options?.issues ?? [];
  }
}
/** Outputs: GPIO lines, MQTT, the outbox. */
export class OutputError extends EarwitnessError {}
/** `calibrate`: too little audio to judge a room, or a setting it will not write without --force. */
export class CalibrationError extends EarwitnessError {}

/** A short, single-line description of any thrown value, for logs and published problems. */
export function describeError(err: unknown): string {
  if (err instanceof EarwitnessError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
