/**
 * `doctor`'s level measurement through the fake `arecord` (test/fakes/fake-recorder.mjs): a real
 * child process, so it lives with the integration tests.
 */
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Microphone } from "../../../src/audio/microphone.js";
import { systemClock } from "../../../src/clock.js";
import { measureLevels } from "../../../src/doctor/measure-levels.js";
import { silentLogger } from "../../../src/log.js";
import { fakeBinDir } from "../../fakes/fake-bin.js";

describe("measureLevels through the fake arecord", () => {
  const mic = (mode: string) => {
    process.env.FAKE_ARECORD_MODE = mode;
    process.env.FAKE_ARECORD_SPEED = "4";
    return new Microphone({ command: path.join(fakeBinDir(), "arecord"), device: "default", waitForDeviceMs: 0 }, { clock: systemClock, log: silentLogger() });
  };
  afterAll(() => {
    delete process.env.FAKE_ARECORD_MODE;
    delete process.env.FAKE_ARECORD_SPEED;
  });

  it("measures the tone, clipping, and reports a missing device", async () => {
    const tone = await measureLevels(mic("normal"), 500, systemClock);
    expect(tone.samples).toBe(8000);
    // 3000/32768 sine: RMS 20·log10(0.0916/√2) ≈ -23.8 dBFS
    expect(tone.rmsDbfs).toBeCloseTo(-23.8, 0);
    const clip = await measureLevels(mic("clip"), 500, systemClock);
    expect(clip.clippedFraction).toBeGreaterThan(0.9);
    await expect(measureLevels(mic("missing-device"), 500, systemClock)).rejects.toThrow(/audio open error|No such file/);
  });
});
