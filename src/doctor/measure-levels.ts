/**
 * The doctor's level check: listen through a source for a short while and measure, without
 * keeping a sample (only the running sums of LevelMeter).
 */
import type { Clock } from "../clock.js";
import { LevelMeter, type Levels } from "../audio/level-meter.js";
import { int16ToFloat, type AudioSource } from "../audio/source.js";
import { AudioError } from "../errors.js";

/** How long to wait beyond `ms` for the first audio (a recorder starts in well under a second). */
const START_GRACE_MS = 3_000;

/**
 * Measures `ms` of audio from `source` (started and stopped here). Rejects with the source's own
 * problem message when it reports one before any audio arrives, or when nothing arrives in time.
 */
export async function measureLevels(source: AudioSource, ms: number, clock: Clock, sampleRateHz = 16_000): Promise<Levels> {
  const meter = new LevelMeter();
  const wanted = Math.round((ms * sampleRateHz) / 1000);
  let got = 0;
  const unsubs: (() => void)[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        if (got > 0) resolve();
        else reject(new AudioError("NO_AUDIO", `no audio within ${(ms + START_GRACE_MS) / 1000} s`));
      }, ms + START_GRACE_MS);
      unsubs.push(
        source.onData((samples) => {
          if (got >= wanted) return;
          const take = samples.subarray(0, Math.min(samples.length, wanted - got));
          meter.push(int16ToFloat(take));
          got += take.length;
          if (got >= wanted) {
            clock.clearTimeout(timer);
            resolve();
          }
        }),
      );
      unsubs.push(
        source.onProblem((p) => {
          // Level problems (silence, clipping) are what we measure; process problems mean no audio.
          if (!p.active || got > 0 || p.code === "mic_silent" || p.code === "clipping") return;
          clock.clearTimeout(timer);
          reject(new AudioError(p.code.toUpperCase(), p.message));
        }),
      );
      source.start().catch((err: unknown) => {
        clock.clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  } finally {
    for (const u of unsubs) u();
    await source.stop().catch(() => undefined);
  }
  return meter.read();
}
