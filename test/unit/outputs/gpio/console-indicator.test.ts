import { describe, expect, it } from "vitest";
import { createConsoleIndicator } from "../../../../src/outputs/gpio/console-indicator.js";
import { silentLogger } from "../../../../src/log.js";
import { FakeClock } from "../../../fakes/fake-clock.js";

describe("console indicator", () => {
  it("prints LED and buzzer transitions of the real patterns, and acknowledges on press", async () => {
    const clock = new FakeClock();
    const printed: string[] = [];
    const acks: number[] = [];
    const { indicator, driver } = createConsoleIndicator({
      clock,
      log: silentLogger(),
      write: (line) => printed.push(line),
      options: { buzzerPatternMs: [500, 500] },
      button: true,
    });
    indicator.onButton(() => acks.push(1));
    await indicator.start();
    await indicator.alert({
      phase: "start",
      alertId: "a1",
      startedAtMs: clock.nowMs(),
      peak: 0.9,
      mean: 0.8,
      emotion: "anger",
      probs: {},
      dbfs: -20,
      test: false,
      thresholds: {},
    });
    clock.advance(1200);
    driver.press();
    clock.advance(1000);
    await indicator.stop();
    expect(printed).toEqual([
      "LED off",
      "BUZZER off",
      "LED on",
      "BUZZER on",
      "BUZZER off",
      "BUZZER on",
      "BUZZER off",
      "LED off",
    ]);
    expect(acks).toEqual([1]);
  });
});
