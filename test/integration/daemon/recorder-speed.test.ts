import { describe, expect, it } from "vitest";
import { RATE_MAX_RATIO, RATE_MIN_RATIO } from "../../../src/audio/microphone.js";
import { FAKE_RECORDER_SPEED } from "./harness.js";

describe("the fake recorder's speed in the daemon tests", () => {
  it("is inside the microphone's plausible-rate bounds, so no test daemon raises mic_rate for it", () => {
    expect(FAKE_RECORDER_SPEED).toBeGreaterThan(RATE_MIN_RATIO);
    // With a margin: the measured rate wanders with scheduling on a loaded CI machine.
    expect(FAKE_RECORDER_SPEED * 1.05).toBeLessThan(RATE_MAX_RATIO);
  });
});
